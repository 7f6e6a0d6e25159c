"""A finished run is never lost: publishing takes a free name whatever sits under the taken
ones, a failure while publishing keeps the assembled run, and `--resume` deletes nothing it
did not write (docs/reliability.md, "Losing a finished run")."""

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import hooks, noisy_xor, read_json, weights, write_config

from nncli.errors import InputError, OutputFailed
from nncli.runs import directory
from nncli.training import train as trainer
from nncli.training.checkpoint import CHECKPOINT

RUN_FILES = ["config.yaml", "history.csv", "layers.csv", "metrics.json", "model.json",
             "snapshots.npz", "weights.npz"]


class Killed(BaseException):
    """Stands for a SIGKILL: nothing of nncli runs after it."""


@pytest.fixture
def killed_partial(tmp_path, monkeypatch):
    """The hidden directory of a checkpointed run whose process died after epoch 4 (as a
    SIGKILL leaves it: nothing cleaned up, the lock dropped by the kernel)."""
    config = write_config(tmp_path, noisy_xor(10, "xr").replace(
        "epochs: 10}", "epochs: 10, checkpoint_every: 2}"))

    def die(record):
        if record["epoch"] == 5:
            raise Killed
    with monkeypatch.context() as m:
        m.setattr(directory.RunWriter, "abort", lambda self, keep=False: self._unlock())
        with pytest.raises(Killed):
            trainer.train_from_config(config, [], tmp_path / "runs", hooks(on_epoch=die))
    (partial,) = (tmp_path / "runs").iterdir()
    assert directory.is_partial(partial) and (partial / CHECKPOINT).is_file()
    return partial


def snapshot(path):
    return {p.name: p.read_bytes() for p in Path(path).iterdir()}


@pytest.mark.parametrize("inside", [".", "sub", "sub/deeper"])
def test_resume_into_the_run_being_resumed_is_refused_and_deletes_nothing(
        cli, killed_partial, inside):
    before = snapshot(killed_partial)
    out = killed_partial / inside
    r = cli("train", "--resume", killed_partial, "--out", out, "--quiet", "--no-plots")
    assert r.exit_code == 2, r.output
    assert r.stderr == (f"error: --out {out}: inside the run being resumed ({killed_partial}); "
                        f"the new run goes beside it or elsewhere\n")
    assert snapshot(killed_partial) == before  # the checkpoint is still there to resume


def test_resume_into_a_symlink_to_the_run_is_refused(cli, killed_partial, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(killed_partial)
    r = cli("train", "--resume", killed_partial, "--out", link, "--quiet", "--no-plots")
    assert r.exit_code == 2 and "inside the run being resumed" in r.stderr
    assert CHECKPOINT in os.listdir(killed_partial)


def test_a_published_run_is_never_written_into_by_resume(cli, tmp_path):
    config = write_config(tmp_path, noisy_xor(10, "xr"))
    stop_at = {"n": 0}

    def stop():
        stop_at["n"] += 1
        return stop_at["n"] > 9  # after a few batches
    run = trainer.train_from_config(config, [], tmp_path / "runs", hooks(stop=stop)).run_dir
    before = snapshot(run)
    r = cli("train", "--resume", run, "--out", run / "more", "--quiet", "--no-plots")
    assert r.exit_code == 2 and "inside the run being resumed" in r.stderr
    assert snapshot(run) == before


def test_resume_removes_only_the_files_nncli_wrote_in_the_partial_directory(
        cli, killed_partial):
    (killed_partial / "notes.txt").write_text("mine")
    r = cli("train", "--resume", killed_partial, "--quiet", "--no-plots")
    assert r.exit_code == 0, r.output
    (published,) = [p for p in killed_partial.parent.iterdir() if not directory.is_partial(p)]
    assert r.stderr == (f"warning: {killed_partial} was kept: it holds files nncli did not "
                        f"write there; the resumed run is {published}\n")
    assert os.listdir(killed_partial) == ["notes.txt"]  # the user's file, nothing of nncli's
    assert read_json(published / "metrics.json")["epochs_run"] == 10


def test_resume_of_a_partial_directory_removes_it_when_it_only_held_the_run(cli, killed_partial):
    (killed_partial / ".weights.npz.abc123.tmp").write_bytes(b"half")  # a write cut short
    r = cli("train", "--resume", killed_partial, "--quiet", "--no-plots")
    assert (r.exit_code, r.stderr) == (0, "")
    assert not killed_partial.exists()
    (published,) = killed_partial.parent.iterdir()
    assert sorted(os.listdir(published)) == RUN_FILES


# --- publishing -------------------------------------------------------------------------------

def _writer(tmp_path, monkeypatch, stamp="20250101-120000"):
    monkeypatch.setattr(directory.time, "strftime", lambda fmt: stamp)
    writer = directory.RunWriter(tmp_path, "xr")
    writer.write_text("config.yaml", "name: xr\n")
    return writer


@pytest.mark.parametrize("kind", ["dangling symlink", "symlink to a directory", "file", "fifo"])
def test_publishing_skips_a_name_taken_by_anything(tmp_path, monkeypatch, kind):
    taken = tmp_path / "xr-20250101-120000"
    elsewhere = tmp_path / "elsewhere"
    if kind == "dangling symlink":
        taken.symlink_to(tmp_path / "nowhere")
    elif kind == "symlink to a directory":
        elsewhere.mkdir()
        taken.symlink_to(elsewhere)
    elif kind == "file":
        taken.write_text("someone's")
    else:
        os.mkfifo(taken)
    writer = _writer(tmp_path, monkeypatch)
    assert writer.commit().name == "xr-20250101-120000-2"
    assert os.path.lexists(taken)
    assert not elsewhere.exists() or list(elsewhere.iterdir()) == []


def test_a_name_taken_between_the_check_and_the_rename_is_skipped(tmp_path, monkeypatch):
    """The race: the name is free when checked, a symlink appears, rename fails (ENOTDIR)."""
    writer = _writer(tmp_path, monkeypatch)
    real_lexists = os.path.lexists

    def appears_after_the_check(path):
        if Path(path).name == "xr-20250101-120000":
            Path(path).symlink_to("/nonexistent")
            return False
        return real_lexists(path)
    monkeypatch.setattr(directory.os.path, "lexists", appears_after_the_check)
    assert writer.commit().name == "xr-20250101-120000-2"


@pytest.mark.parametrize("err, kind, reason", [
    (errno.EACCES, InputError, "permission denied"),
    (errno.EROFS, InputError, "read-only file system"),
    (errno.ENOSPC, OutputFailed, "no space left on device"),
    (errno.EIO, OutputFailed, "input/output error"),
])
def test_an_error_while_publishing_keeps_the_assembled_run(cli, tmp_path, monkeypatch, err,
                                                           kind, reason):
    config = write_config(tmp_path, noisy_xor(3, "xr"))

    def refused(src, dst):
        raise OSError(err, os.strerror(err))
    monkeypatch.setattr(directory.os, "rename", refused)
    r = cli.train(config)
    (kept,) = cli.out.iterdir()
    assert directory.is_partial(kept)
    assert sorted(os.listdir(kept)) == RUN_FILES
    assert read_json(kept / "metrics.json")["status"] == "finished"
    code = 2 if kind is InputError else 1
    assert r.exit_code == code
    stamp = r.stderr.split(": cannot publish")[0].rsplit("xr-", 1)[1]
    assert r.stderr == (f"error: {cli.out}/xr-{stamp}: cannot publish the run: {reason}; "
                        f"the whole run is kept in {kept}\n")
    assert "Traceback" not in r.output


def test_a_failure_after_the_run_is_assembled_keeps_it(tmp_path, monkeypatch):
    """Pictures are drawn after every file is written: if they fail on a full disk, the run
    stays whole under its hidden name."""
    config = write_config(tmp_path, noisy_xor(3, "xr"))

    def full(*args, **kwargs):
        raise OutputFailed("runs/.xr/loss.png: cannot write: no space left on device")
    monkeypatch.setattr("nncli.plots.write_run_plots", full)
    with pytest.raises(OutputFailed) as e:
        trainer.train_from_config(config, [], tmp_path / "runs", plots=True)
    (kept,) = (tmp_path / "runs").iterdir()
    assert str(e.value) == ("runs/.xr/loss.png: cannot write: no space left on device; "
                            f"the whole run is kept in {kept}")
    assert sorted(os.listdir(kept)) == RUN_FILES


def test_a_full_disk_during_training_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    config = write_config(tmp_path, noisy_xor(10, "xr").replace(
        "epochs: 10}", "epochs: 10, checkpoint_every: 2}"))
    real = directory.write_atomic
    writes = {"n": 0}

    def fills_up(path, data):
        if Path(path).name == CHECKPOINT:
            writes["n"] += 1
            if writes["n"] == 3:  # the checkpoint after epoch 6
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)
    monkeypatch.setattr(directory, "write_atomic", fills_up)
    with pytest.raises(OutputFailed) as e:
        trainer.train_from_config(config, [], tmp_path / "runs")
    (kept,) = (tmp_path / "runs").iterdir()
    assert str(e.value) == (f"{kept}/{CHECKPOINT}: cannot write: no space left on device; the "
                            f"checkpoint after epoch 4 is kept in {kept}: continue with nncli "
                            f"train --resume {kept}")
    monkeypatch.undo()
    resumed = trainer.resume_run(kept).run_dir
    whole = trainer.train_from_config(config, [], tmp_path / "whole").run_dir
    w1, w2 = weights(resumed), weights(whole)
    assert all((w1[k] == w2[k]).all() for k in w1)


def test_a_real_process_publishes_beside_a_dangling_symlink_at_its_name(tmp_path):
    """Acceptance, in a real process: dangling symlinks sit at the run's final name for every
    second the test may take; the run goes under the next suffix and the links stay."""
    config = write_config(tmp_path, noisy_xor(2, "xr"))
    out = tmp_path / "runs"
    out.mkdir()
    now = time.time()
    links = []
    for s in range(-2, 120):
        link = out / f"xr-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now + s))}"
        link.symlink_to(tmp_path / "gone")
        links.append(link)
    r = subprocess.run([sys.executable, "-m", "nncli", "train", str(config), "--out", str(out),
                        "--quiet", "--no-plots", "--json"], capture_output=True, text=True,
                       timeout=120)
    assert (r.returncode, r.stderr) == (0, "")
    run = Path(read_json_line(r.stdout)["run_dir"])
    assert run.name.endswith("-2") and run.with_name(run.name[:-2]) in links
    assert sorted(os.listdir(run)) == RUN_FILES
    assert all(link.is_symlink() for link in links)


def read_json_line(text):
    import json
    return json.loads(text.strip().splitlines()[-1])
