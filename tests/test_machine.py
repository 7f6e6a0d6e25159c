"""When the machine fails: full disks, killed sweeps, closed or narrow streams, signals at the
edges (docs/reliability.md, "The machine fails"). Real processes and a real small file system
where the class is about them."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CONFIGS, noisy_xor, read_json, write_config

from nncli import files
from nncli.errors import InputError, OutputFailed
from nncli.training import train as trainer

RUN_FILES = ["config.yaml", "history.csv", "metrics.json", "model.json", "weights.npz"]


def nncli(*args, env=None, text=True, **kwargs):
    return subprocess.run([sys.executable, "-m", "nncli", *map(str, args)], capture_output=True,
                          text=text, env={**os.environ, **(env or {})}, timeout=120, **kwargs)


@pytest.fixture
def tiny_fs(tmp_path):
    """mount(size) -> a fresh tmpfs of that size (skips where mounting is not permitted)."""
    mounted = []

    def mount(size: str) -> Path:
        if shutil.which("mount") is None or os.geteuid() != 0:
            pytest.skip("mounting a small file system needs root and mount(8)")
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(where)
        return where
    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(fs: Path) -> None:
    """Fill the file system to its last byte."""
    with open(fs / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC


def everything(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# --- full disks -----------------------------------------------------------------------------------

def test_a_full_disk_while_writing_the_run_is_one_error_and_leaves_nothing(tmp_path, tiny_fs):
    fs = tiny_fs("12k")  # three pages: the run's five files do not fit
    config = write_config(tmp_path, noisy_xor(3, "xr"))
    r = nncli("train", config, "--out", fs / "runs", "--quiet", "--no-plots")
    assert r.returncode == 1
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"error: {fs}/runs/.xr.") and ".partial/" in line
    assert line.endswith(": cannot write: no space left on device")
    assert everything(fs) == ["runs"]  # nothing under a final name, no hidden leftover


def test_a_full_disk_while_drawing_keeps_the_assembled_run(cli, tmp_path, tiny_fs):
    fs = tiny_fs("32k")  # eight pages: the run's files (five), not its pictures
    config = write_config(tmp_path, noisy_xor(3, "xr"))
    r = cli("train", config, "--out", fs / "runs", "--quiet")
    assert r.exit_code == 1
    (kept,) = (fs / "runs").iterdir()
    assert kept.name.startswith(".xr.") and kept.name.endswith(".partial")
    assert r.stderr == (f"error: {kept}/loss.png: cannot write: no space left on device; the "
                        f"whole run is kept in {kept}\n")
    assert sorted(os.listdir(kept)) == RUN_FILES
    assert read_json(kept / "metrics.json")["status"] == "finished"


def test_a_full_disk_for_pictures_predictions_and_sweeps(cli, tmp_path, tiny_fs, penguins):
    fs = tiny_fs("64k")
    fill(fs)
    run = penguins.run_dir
    r = cli("plot", run, "--what", "loss", "--out", fs / "loss.png")
    assert (r.exit_code, r.stderr) == (
        1, f"error: {fs}/loss.png: cannot write: no space left on device\n")
    rows = tmp_path / "rows.csv"
    rows.write_text("bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g\n"
                    "42.3,17.1,192,4025\n")
    r = cli("predict", run, rows, "--output", fs / "out.csv")
    assert (r.exit_code, r.stderr) == (
        1, f"error: --output {fs}/out.csv: cannot write: no space left on device\n")
    config = write_config(tmp_path, noisy_xor(1, "sw"))
    r = cli("sweep", config, "--grid", "seed=1,2", "--out", fs / "sweeps", "--quiet")
    assert r.exit_code == 1
    (sweep_dir,) = (fs / "sweeps").iterdir()
    assert r.stderr == f"error: {sweep_dir}/sweep.json: cannot write: no space left on device\n"
    assert everything(fs) == ["filler", "sweeps", f"sweeps/{sweep_dir.name}"]


def test_a_full_temporary_directory_for_predict(tmp_path, tiny_fs, penguins):
    fs = tiny_fs("8k")  # room for the probe tempfile makes, not for the copy of stdin
    rows = ("bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g\n"
            + "42.3,17.1,192,4025\n" * 2000)
    r = nncli("predict", penguins.run_dir, "-", input=rows, env={"TMPDIR": str(fs)})
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (f"error: {fs}: cannot write the temporary copy of standard input: no "
                        f"space left on device\n")
    assert everything(fs) == []


@pytest.mark.parametrize("err, code, reason", [
    (errno.ENOSPC, 1, "no space left on device"),
    (errno.EDQUOT, 1, "disk quota exceeded"),
    (errno.EROFS, 2, "read-only file system"),
    (errno.EACCES, 2, "permission denied"),
    (errno.ENAMETOOLONG, 2, "file name too long"),
])
def test_os_errors_are_put_into_words_in_one_place(cli, tmp_path, monkeypatch, err, code,
                                                   reason):
    """The same failure, raised where every file is written (files.write_atomic), reads the
    same from training, predict and pictures."""
    def fails(fd):
        raise OSError(err, os.strerror(err))
    monkeypatch.setattr(files.os, "fsync", fails)
    config = write_config(tmp_path, noisy_xor(2, "xr"))
    r = cli.train(config)
    assert r.exit_code == code
    assert r.stderr.startswith(f"error: {cli.out}/.xr.")
    assert r.stderr.endswith(f"/config.yaml: cannot write: {reason}\n")
    assert list(cli.out.iterdir()) == []
    assert str(files.os_failure(OSError(err, "x"), "p")) == f"p: cannot write: {reason}"
    assert isinstance(files.os_failure(OSError(err, "x"), "p"),
                      InputError if code == 2 else OutputFailed)


# --- killed sweeps --------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_workers_of_a_killed_sweep_exit(tmp_path):
    """Acceptance: SIGKILL to `nncli sweep`; its worker processes and the resource tracker
    are gone within seconds instead of waiting on their queue forever."""
    config = write_config(tmp_path, noisy_xor(100_000, "sw"))
    proc = subprocess.Popen([sys.executable, "-m", "nncli", "sweep", config, "--grid",
                             "seed=1,2,3,4", "--jobs", "2", "--out", tmp_path / "runs",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(children(proc.pid)) < 3:  # two workers and the resource tracker
            assert time.monotonic() < deadline, "the sweep started no workers"
            time.sleep(0.1)
        time.sleep(1)  # the workers are training by now
        helpers = children(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in helpers if alive(pid)] == []


# --- closed and narrow streams ----------------------------------------------------------------------

def sh(command, **kwargs):
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120,
                          **kwargs)


PY = f"{sys.executable} -m nncli"


def test_data_asked_for_on_a_closed_stdout_is_one_error(penguins):
    out = penguins.run_dir.parent
    r = sh(f"{PY} runs {out} >&-")
    assert (r.returncode, r.stderr) == (1, "error: standard output is closed: the output asked "
                                           "for cannot be written (redirect it to a file "
                                           "instead)\n")


def test_nothing_asked_for_on_a_closed_stream_is_silence(tmp_path):
    config = write_config(tmp_path, noisy_xor(2, "xr"))
    r = sh(f"{PY} train {config} --out {tmp_path / 'runs'} --quiet --no-plots >&-")
    assert (r.returncode, r.stderr) == (0, "")
    (run,) = (tmp_path / "runs").iterdir()
    assert sorted(os.listdir(run)) == RUN_FILES
    bad = write_config(tmp_path, "name: [", "bad.yaml")
    r = sh(f"{PY} train {bad} 2>&-")  # the error has nowhere to go; the exit code says it
    assert (r.returncode, r.stdout) == (2, "")


def test_a_closed_stdin_for_predict_is_one_error(penguins):
    r = sh(f"{PY} predict {penguins.run_dir} - <&-")
    assert (r.returncode, r.stdout, r.stderr) == (
        2, "", "error: standard input is closed: nothing to predict (give --input FILE)\n")


def test_a_reader_that_stops_early_ends_the_output_quietly(penguins):
    r = sh(f"{PY} runs {penguins.run_dir.parent} --json 2>{penguins.run_dir.parent}/err "
           f"| head -c 1; cat {penguins.run_dir.parent}/err; rm {penguins.run_dir.parent}/err")
    assert (r.returncode, r.stdout) == (0, "{")


def test_labels_the_terminal_cannot_show_never_crash(tmp_path):
    data = tmp_path / "birds.csv"
    data.write_text("x1,x2,species\n" + "".join(f"{i % 7},{i % 3},{['Adélie', 'Gentoo'][i % 2]}\n"
                                                 for i in range(40)))
    config = write_config(tmp_path, """name: birds
data: {source: csv, path: birds.csv, target: species}
network: {layers: [{units: 3, activation: tanh}, {units: 2, activation: softmax}]}
training: {epochs: 2}
""")
    run = trainer.train_from_config(config, [], tmp_path / "runs").run_dir
    ascii_env = {"PYTHONIOENCODING": "ascii"}
    r = nncli("predict", run, data, "--proba", env=ascii_env, text=False)
    assert r.returncode == 0, r.stderr
    # the predictions are the CSV file --output would hold: UTF-8, whatever the terminal
    assert r.stdout.splitlines()[0] == "species,p_Adélie,p_Gentoo".encode("utf-8")
    r = nncli("evaluate", run, "--data", data, env=ascii_env)
    assert r.returncode == 0, r.stderr
    assert "Ad\\xe9lie" in r.stdout  # escaped where the terminal cannot show it


# --- signals at the edges -------------------------------------------------------------------------

SIGNAL_AT_IMPORT = """
import os, signal, sys
class SignalWhenImported:
    def __init__(self, module, sig):
        self.module, self.sig = module, getattr(signal, sig)

    def find_spec(self, name, path, target=None):
        if name == self.module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), self.sig)
        return None
sys.meta_path.insert(0, SignalWhenImported(sys.argv[1], sys.argv[2]))
sys.argv = ["nncli", *sys.argv[3:]]
from nncli.cli import main
main()
"""


def signal_at_import(module, sig, *args, cwd=None):
    """nncli run for real, sent a real ``sig`` the moment it first imports ``module``."""
    return subprocess.run([sys.executable, "-c", SIGNAL_AT_IMPORT, module, sig, *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(autouse=True)
def sigint_delivered():
    """A test run in the background inherits an ignored SIGINT; these tests need it."""
    before = signal.getsignal(signal.SIGINT)
    if before is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


# (rich is not among them: it is imported on first use, inside a command, where Ctrl-C is
# typer's exit 130 like anywhere else in a command.)
@pytest.mark.parametrize("module", ["typer", "nncli.cli.options", "nncli.cli.sweep"])
def test_ctrl_c_while_the_command_line_imports_is_exit_130_without_a_traceback(module,
                                                                                tmp_path):
    r = signal_at_import(module, "SIGINT", "runs", tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (130, "", "error: interrupted\n")


def test_sigterm_while_the_pictures_are_drawn_keeps_the_run_and_exits_130(tmp_path):
    """A scheduler's SIGTERM is never ignored. matplotlib is imported when the first picture
    is drawn: the signal arrives then."""
    config = write_config(tmp_path, noisy_xor(3, "xr"))
    r = signal_at_import("matplotlib", "SIGTERM", "train", config, "--out", tmp_path / "runs",
                         "--quiet")
    assert r.returncode == 130, r.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert r.stderr == (f"SIGTERM: stopped after training; the whole run is in {run} (draw any "
                        f"missing picture with: nncli plot {run})\n")
    assert read_json(run / "metrics.json")["status"] == "finished"
    assert set(RUN_FILES) <= set(os.listdir(run))
    assert "network.png" not in os.listdir(run)  # drawing stopped after the picture under way


def test_ctrl_c_while_the_pictures_are_drawn_keeps_the_run_and_exits_130(cli, tmp_path,
                                                                        monkeypatch):
    import nncli.plots

    real_save = nncli.plots.save

    def save_then_ctrl_c(fig, path):
        os.kill(os.getpid(), signal.SIGINT)  # a real signal, while the first picture is saved
        return real_save(fig, path)
    monkeypatch.setattr(nncli.plots, "save", save_then_ctrl_c)
    config = write_config(tmp_path, noisy_xor(3, "xr"))
    r = cli.train(config, plots=True)
    assert r.exit_code == 130
    (run,) = cli.run_dirs()
    assert r.stderr == (f"SIGINT: stopped after training; the whole run is in {run} (draw any "
                        f"missing picture with: nncli plot {run})\n")
    assert sorted(os.listdir(run)) == sorted(RUN_FILES + ["loss.png"])
