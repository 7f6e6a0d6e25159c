"""Scripting conventions, checked on the real program in a subprocess: data on stdout, progress
and errors on stderr, plain lines when stderr is not a terminal, NO_COLOR, --quiet, exit codes."""

import json
import os
import pty
import re
import subprocess
import sys

import pytest

from conftest import noisy_xor, write_config

XOR = noisy_xor(30)


def environment(**extra):
    """The environment of a plain script: whatever forces colour or a terminal is removed."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS")}
    return {**env, "TERM": "xterm-256color", **extra}


def nncli(*args, stderr, env=None):
    return subprocess.run([sys.executable, "-m", "nncli", *map(str, args)], stdout=subprocess.PIPE,
                          stderr=stderr, env=env or environment(), text=True, timeout=120)


def test_train_with_stderr_in_a_file(tmp_path):
    config = write_config(tmp_path, XOR, "xor.yaml")
    log = tmp_path / "train.log"
    with open(log, "w") as f:
        r = nncli("train", config, "--out", tmp_path / "runs", "--json", stderr=f)
    assert r.returncode == 0
    # stdout: exactly the JSON object, on one line.
    assert r.stdout.count("\n") == 1
    obj = json.loads(r.stdout)
    assert obj["status"] == "finished" and obj["epochs_run"] == 30
    assert obj["run_dir"].startswith(str(tmp_path / "runs" / "xor-"))
    # stderr: plain progress lines (epoch 1, then every 3rd of 30), no control sequences.
    text = log.read_text()
    assert "\x1b" not in text and "\r" not in text
    epochs = [line.split()[1] for line in text.splitlines() if line.startswith("epoch ")]
    assert epochs == ["1/30"] + [f"{e}/30" for e in range(3, 31, 3)]
    assert f"run directory: {obj['run_dir']}" in text


def test_quiet_leaves_stderr_empty(cli, tmp_path):
    config = write_config(tmp_path, XOR, "xor.yaml")
    r = cli("train", config, "--out", cli.out, "--json", "--quiet")
    assert r.exit_code == 0 and r.stderr == ""
    assert r.stdout.count("\n") == 1 and json.loads(r.stdout)["status"] == "finished"


def test_bad_input_is_one_error_line_and_exit_2(cli, tmp_path):
    r = cli("train", tmp_path / "missing.yaml", "--json")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == f"error: {tmp_path / 'missing.yaml'}: config file not found\n"


def stderr_on_a_terminal(args, env):
    """Run nncli with stderr on a pseudo-terminal; return (exit code, stdout, stderr)."""
    controller, terminal = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "nncli", *map(str, args)],
                         stdout=subprocess.PIPE, stderr=terminal, env=env)
    os.close(terminal)
    chunks = []
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:  # the terminal is closed once the process is gone
            break
        if not data:
            break
        chunks.append(data)
    out = p.stdout.read()
    p.wait(timeout=60)
    os.close(controller)
    return p.returncode, out.decode(), b"".join(chunks).decode()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_no_color_is_honoured_on_a_terminal(tmp_path):
    missing = tmp_path / "missing.yaml"
    code, out, err = stderr_on_a_terminal(["train", missing], environment())
    assert code == 2 and out == ""
    assert colours(err) == ["31"] and "error: " in err  # a terminal gets a red "error:" ...
    code, out, err = stderr_on_a_terminal(["train", missing], environment(NO_COLOR="1"))
    assert code == 2 and out == ""
    assert colours(err) == [] and f"error: {missing}: config file not found" in err  # ... unless


def colours(text):
    """The colour parameters (foreground, background) of the SGR escape sequences in text."""
    found = []
    for params in re.findall(r"\x1b\[([0-9;]*)m", text):
        found += [p for p in params.split(";") if re.fullmatch(r"3[0-8]|4[0-8]|9[0-7]|10[0-7]", p)]
    return found


def test_sweep_and_runs_print_only_json_on_stdout(tmp_path):
    config = write_config(tmp_path, noisy_xor(5), "xor.yaml")
    log = tmp_path / "sweep.log"
    with open(log, "w") as f:
        r = nncli("sweep", config, "--grid", "training.learning_rate=0.5,1.0", "--jobs", "1",
                  "--out", tmp_path / "runs", "--json", stderr=f)
    assert r.returncode == 0, log.read_text()
    assert r.stdout.count("\n") == 1 and json.loads(r.stdout)["finished"] == 2
    text = log.read_text()
    assert "\x1b" not in text and "[2/2] learning_rate-" in text
    r = nncli("runs", tmp_path / "runs", "--json", stderr=subprocess.PIPE)
    assert r.returncode == 0 and r.stderr == "" and r.stdout.count("\n") == 1
    assert [run["status"] for run in json.loads(r.stdout)["runs"]] == ["finished", "finished"]


def test_the_cli_does_not_import_the_sweep_machinery_up_front():
    code = ("import sys, nncli.cli; print(sorted(m for m in ('nncli.sweep', 'nncli.runs.index', "
            "'distributed', 'threadpoolctl') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "[]\n", r.stderr
