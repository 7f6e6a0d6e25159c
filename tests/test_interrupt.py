"""Interruption and resume: Ctrl-C / SIGTERM keep the run, `--resume` finishes it bit for bit,
and checkpoints make a SIGKILL cost at most `training.checkpoint_every` epochs."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import hooks, read_json, weights, write_config

from nncli.training import train as trainer
from nncli.training.checkpoint import CHECKPOINT
from nncli.cli import progress

# Shuffled minibatches with a validation split: everything resume must restore is in play.
CONFIG = """\
name: xr
seed: 3
data: {source: xor, n_samples: 120, noise: 0.2}
network:
  layers:
    - {units: 6, activation: tanh}
    - {units: 2, activation: softmax}
training: {epochs: 12, learning_rate: 0.2, batch_size: 16}
"""
RUN_FILES = ["config.yaml", "history.csv", "metrics.json", "model.json", "weights.npz"]


@pytest.fixture(autouse=True)
def sigint_delivered():
    """A test run started in the background (``cmd &``) inherits an ignored SIGINT, which nncli
    rightly leaves ignored; these tests need it delivered, here and in the processes they start
    (a handled signal is reset to the default in a child, an ignored one stays ignored)."""
    before = signal.getsignal(signal.SIGINT)
    if before is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def files(run_dir):
    return sorted(p.name for p in Path(run_dir).iterdir())


def snapshot(run_dir):
    return {p.name: p.read_bytes() for p in Path(run_dir).iterdir()}


def assert_same_run(a, b):
    """Same weights bit for bit, same history to the last digit."""
    wa, wb = weights(a), weights(b)
    assert sorted(wa) == sorted(wb)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert (Path(a) / "history.csv").read_text() == (Path(b) / "history.csv").read_text()


def signal_at_epoch(monkeypatch, epoch, sig):
    """Send ``sig`` to this process when the progress callback sees ``epoch``: a real signal,
    delivered at a known point of training."""
    def on_epoch(self, record):
        if record["epoch"] == epoch:
            os.kill(os.getpid(), sig)
    monkeypatch.setattr(progress.TrainingProgress, "on_epoch", on_epoch)


def uninterrupted(path, tmp_path, *extra):
    """The same config trained in one go (through the library: the CLI is tested elsewhere)."""
    sets = [v for v in extra if v != "--set"]
    return trainer.train_from_config(path, sets, tmp_path / "uninterrupted").run_dir


def resume(run, *sets):
    outcome = trainer.resume_run(run, list(sets))
    assert outcome.metrics["status"] == "finished"
    return outcome.run_dir


@pytest.mark.parametrize("extra", [
    (),
    ("--set", "dtype=float32", "--set", "training.batch=sgd"),
    ("--set", "training.update=normalized", "--set", "data.validation=0"),
    ("--set", "training.batch=full", "--set", "training.learning_rate=1"),
], ids=["minibatch", "sgd-float32", "normalized-no-validation", "full-batch"])
def test_sigterm_keeps_the_run_and_resume_matches_an_uninterrupted_run(cli, tmp_path, monkeypatch,
                                                                       extra):
    path = write_config(tmp_path, CONFIG)
    signal_at_epoch(monkeypatch, 3, signal.SIGTERM)
    r = cli.train(path, *extra)
    assert r.exit_code == 130
    (run,) = cli.run_dirs()
    # The signal came after epoch 3; the batch running then finished, and epoch 4 was dropped.
    assert f"SIGTERM: interrupted during epoch 4; kept the weights of epoch 3; the run so far " \
           f"is in {run}" in r.stderr
    assert f"continue it with: nncli train --resume {run}\n" in r.stderr
    assert set(RUN_FILES + [CHECKPOINT]) <= set(files(run))
    m = read_json(run / "metrics.json")
    assert (m["status"], m["epochs_run"], m["epochs"]) == ("interrupted", 3, 12)
    assert [row["epoch"] for row in csv.DictReader((run / "history.csv").open())] == ["1", "2", "3"]
    assert checkpoint_epochs(run) == 3
    monkeypatch.undo()
    assert_same_run(resume(run), uninterrupted(path, tmp_path, *extra))


def test_resume_through_the_cli_publishes_a_new_run_and_leaves_the_old_one(cli, tmp_path,
                                                                          monkeypatch):
    path = write_config(tmp_path, CONFIG)
    signal_at_epoch(monkeypatch, 5, signal.SIGINT)
    assert cli.train(path).exit_code == 130
    monkeypatch.undo()
    (run,) = cli.run_dirs()
    before = snapshot(run)
    r = cli("train", "--resume", run, "--quiet", "--json")
    assert r.exit_code == 0, r.output
    resumed = Path(json.loads(r.stdout.splitlines()[-1])["run_dir"])
    assert resumed.parent == run.parent and resumed != run  # a new run, beside the old one
    assert snapshot(run) == before  # the interrupted run is left exactly as it was
    assert set(RUN_FILES) <= set(files(resumed))
    assert CHECKPOINT not in files(resumed)  # a finished run carries no checkpoint
    m = read_json(resumed / "metrics.json")
    assert (m["status"], m["epochs_run"], m["resumed_from"]) == ("finished", 12, str(run))
    assert len(list(csv.DictReader((resumed / "history.csv").open()))) == 12
    assert_same_run(resumed, uninterrupted(path, tmp_path))
    elsewhere = trainer.resume_run(run, [], tmp_path / "elsewhere").run_dir
    assert elsewhere.parent == tmp_path / "elsewhere"


def test_interrupt_in_the_first_epoch_resumes_from_the_initial_weights(cli, tmp_path, monkeypatch):
    path = write_config(tmp_path, CONFIG)
    calls = []

    def stop_in_first_epoch(self):  # asked after every batch: say yes after the second
        calls.append(1)
        return len(calls) >= 2
    monkeypatch.setattr("nncli.cli.signals.StopOnSignal.__call__", stop_in_first_epoch)
    r = cli.train(path)
    assert r.exit_code == 130
    (run,) = cli.run_dirs()
    assert "interrupted during epoch 1; kept the weights of epoch 0" in r.stderr
    # no epoch finished: the history names its columns and holds no row
    assert (run / "history.csv").read_text() == "epoch,loss,accuracy,val_loss,val_accuracy\n"
    assert checkpoint_epochs(run) == 0
    monkeypatch.undo()
    assert_same_run(resume(run), uninterrupted(path, tmp_path))


def test_resume_can_change_epochs_but_nothing_else(cli, tmp_path, monkeypatch):
    path = write_config(tmp_path, CONFIG)
    signal_at_epoch(monkeypatch, 2, signal.SIGINT)
    assert cli.train(path).exit_code == 130
    monkeypatch.undo()
    (run,) = cli.run_dirs()

    r = cli("train", "--resume", run, "--set", "training.learning_rate=0.5")
    assert r.exit_code == 2
    assert r.stderr == ("error: --set training.learning_rate: a resumed run keeps its config; "
                        "with --resume only training.epochs and training.checkpoint_every may be "
                        "set\n")
    r = cli("train", "--resume", run, "--set", "training.epochs=1")
    assert r.exit_code == 2
    assert f"{run}/checkpoint.npz: 2 epochs done, more than training.epochs (1)" in r.stderr

    resumed = resume(run, "training.epochs=20")
    assert read_json(resumed / "metrics.json")["epochs_run"] == 20
    assert_same_run(resumed, uninterrupted(path, tmp_path, "--set", "training.epochs=20"))


def test_resume_refuses_what_it_cannot_continue(cli, tmp_path, configs):
    finished = trainer.train_from_config(configs / "xor-perceptron.yaml", [], cli.out).run_dir
    r = cli("train", "--resume", finished)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {finished}: no checkpoint.npz, so nothing to resume")
    r = cli("train", "--resume", tmp_path / "nope")
    assert (r.exit_code, r.stderr) == (2, f"error: {tmp_path / 'nope'}: no such run directory\n")
    r = cli("train", configs / "xor-mlp.yaml", "--resume", finished)
    assert (r.exit_code, r.stderr) == (2, "error: give a CONFIG file or --resume RUN_DIR, "
                                          "not both\n")
    r = cli("train")
    assert (r.exit_code, r.stderr) == (2, "error: give a CONFIG file or --resume RUN_DIR\n")


def test_resume_refuses_changed_data(cli, tmp_path, monkeypatch):
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(40))
    (tmp_path / "d.csv").write_text("a,b,y\n" + rows + "\n")
    path = write_config(tmp_path, "data: {source: csv, path: d.csv, task: classification}\n"
                                  "network: {layers: [{units: 2, activation: softmax}]}\n"
                                  "training: {epochs: 5, batch_size: 8}\n")
    signal_at_epoch(monkeypatch, 2, signal.SIGINT)
    assert cli.train(path).exit_code == 130
    monkeypatch.undo()
    (run,) = cli.run_dirs()
    (tmp_path / "d.csv").write_text("a,b,y\n" + rows.replace("6,", "5,") + "\n")
    r = cli("train", "--resume", run)
    assert r.exit_code == 2
    assert r.stderr == (f"error: {run}/checkpoint.npz: the training data differ from the data "
                        f"this run was trained on (was a data file changed?); resuming would "
                        f"not reproduce the run\n")
    assert cli.run_dirs() == [run]


def test_checkpoint_every_k_epochs_in_the_partial_directory(cli, tmp_path):
    """While training, the hidden directory holds config, model, the history so far and the
    latest checkpoint, never metrics.json; a finished run keeps no checkpoint."""
    path = write_config(tmp_path, CONFIG.replace("epochs: 12", "epochs: 12, checkpoint_every: 5"))
    seen, shown = {}, []

    def on_epoch(record):
        (partial,) = list(cli.out.iterdir())
        assert partial.name.startswith(".xr.") and partial.name.endswith(".partial")
        seen[record["epoch"]] = (files(partial), checkpoint_epochs(partial))
    outcome = trainer.train_from_config(path, [], cli.out, hooks(
        on_epoch=on_epoch, on_checkpoint=lambda *a: shown.append(a)))
    assert outcome.metrics["status"] == "finished"
    assert [epoch for _, epoch in shown] == [5, 10]
    assert seen[4] == (["config.yaml", "history.csv", "model.json"], None)
    # on_epoch runs before the checkpoint of its epoch is written
    assert seen[5] == (["config.yaml", "history.csv", "model.json"], None)
    assert seen[6] == ([CHECKPOINT, "config.yaml", "history.csv", "model.json"], 5)
    assert seen[11] == ([CHECKPOINT, "config.yaml", "history.csv", "model.json"], 10)
    assert seen[12] == ([CHECKPOINT, "config.yaml", "history.csv", "model.json"], 10)
    (run,) = cli.run_dirs()
    assert set(RUN_FILES) <= set(files(run)) and CHECKPOINT not in files(run)


def checkpoint_epochs(run_dir):
    """Epochs done according to run_dir's checkpoint, None without one."""
    if not (Path(run_dir) / CHECKPOINT).exists():
        return None
    with np.load(Path(run_dir) / CHECKPOINT, allow_pickle=False) as z:
        return json.loads(str(z["state"]))["epochs_done"]


def test_checkpoint_every_is_validated(cli, tmp_path):
    path = write_config(tmp_path, CONFIG)
    r = cli.train(path, "--set", "training.checkpoint_every=-1")
    assert r.exit_code == 2
    assert "training.checkpoint_every: Input should be greater than or equal to 0" in r.stderr


# --- real signals to a real process -----------------------------------------------------------

LONG = CONFIG.replace("epochs: 12", "epochs: 100000")  # far more than any test waits for


def start(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "nncli", "train", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(proc, text, timeout=60):
    """Read stderr lines until one contains ``text`` (progress is line by line off a tty)."""
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        if text in line:
            return line
        assert time.monotonic() < deadline, f"no {text!r} on stderr"
    pytest.fail(f"the process ended (exit {proc.wait()}) before printing {text!r}")


def test_sigint_to_a_training_process_then_resume(cli, tmp_path):
    """Acceptance: Ctrl-C mid-training -> exit 130 and an interrupted run; --resume finishes
    it with the weights of a run that was never interrupted."""
    path = write_config(tmp_path, LONG)
    proc = start([path, "--out", tmp_path / "runs"], tmp_path)
    wait_for_line(proc, "epoch 1/100000")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    (run,) = cli.run_dirs()
    m = read_json(run / "metrics.json")
    assert m["status"] == "interrupted" and m["epochs_run"] >= 1
    assert f"SIGINT: interrupted during epoch {m['epochs_run'] + 1}; kept the weights of epoch " \
           f"{m['epochs_run']}" in err
    assert f"continue it with: nncli train --resume {run}" in err

    target = f"training.epochs={m['epochs_run'] + 25}"
    assert_same_run(resume(run, target), uninterrupted(path, tmp_path, "--set", target))


def test_sigkill_after_a_checkpoint_loses_at_most_k_epochs(cli, tmp_path):
    path = write_config(tmp_path, LONG.replace("batch_size: 16", "batch_size: 16, checkpoint_every: 4"))
    proc = start([path, "--out", tmp_path / "runs"], tmp_path)
    line = wait_for_line(proc, "checkpoint after epoch 4 in ")
    proc.kill()
    proc.communicate(timeout=60)
    # Nothing looks finished: no visible run, and the hidden one has no metrics.json.
    (partial,) = list((tmp_path / "runs").iterdir())
    assert partial.name.startswith(".xr.") and partial.name.endswith(".partial")
    assert f"in {partial}; should this process die, continue with: nncli train --resume " \
           f"{partial}" in line
    assert "metrics.json" not in files(partial)
    assert {"config.yaml", "model.json", CHECKPOINT} <= set(files(partial))
    done = checkpoint_epochs(partial)
    assert done % 4 == 0 and done >= 4

    target = f"training.epochs={done + 6}"
    resumed = resume(partial, target)
    assert resumed.parent == partial.parent
    assert not partial.exists()  # the hidden directory only ever held this run
    assert read_json(resumed / "metrics.json")["resumed_from"] == str(partial)
    assert_same_run(resumed, uninterrupted(path, tmp_path, "--set", target))


def test_a_running_training_cannot_be_resumed_under_it(cli, tmp_path):
    path = write_config(tmp_path, LONG.replace("batch_size: 16", "batch_size: 16, checkpoint_every: 2"))
    proc = start([path, "--out", tmp_path / "runs"], tmp_path)
    try:
        wait_for_line(proc, "checkpoint after epoch 2 in ")
        (partial,) = list((tmp_path / "runs").iterdir())
        r = cli("train", "--resume", partial)
        assert (r.exit_code, r.stderr) == (2, f"error: {partial}: in use by a running nncli train\n")
        assert partial.exists()
    finally:
        proc.kill()
        proc.communicate()
