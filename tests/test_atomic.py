"""Atomic files: whatever kills nncli, no directory looks finished unless it is; runs started
together never share a directory; a run name cannot leave the output directory."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import read_json, weights, write_config

from nncli import files
from nncli.runs import directory as runs
from nncli.training import train as trainer
from nncli.training.checkpoint import CHECKPOINT
from nncli.errors import TrainingFailed

CONFIG = """\
name: xr
data: {source: xor, n_samples: 80, noise: 0.2}
network:
  layers:
    - {units: 4, activation: tanh}
    - {units: 2, activation: softmax}
training: {epochs: 5, batch_size: 16, checkpoint_every: 2}
"""
RUN_FILES = {"config.yaml", "history.csv", "metrics.json", "model.json", "weights.npz"}

# Trains CONFIG in a fresh process that SIGKILLs itself just before its n-th rename into the
# output directory: as if the machine died while nncli was writing.
KILL_AT_RENAME = """
import os, signal, sys
from nncli.training import train as trainer
n, config, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
renames = [0]
def dying(real):
    def call(src, dst, *args, **kwargs):
        if str(dst).startswith(out):
            renames[0] += 1
            if renames[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, *args, **kwargs)
    return call
os.replace, os.rename = dying(os.replace), dying(os.rename)
print(trainer.train_from_config(config, [], out).run_dir)
"""
# The renames of one run of CONFIG: config.yaml and model.json at the start, the checkpoints
# after epochs 2 and 4, the two files training ends with, then the directory itself
# (history.csv is written row by row as training goes, inside the hidden directory).
RENAMES = ["config.yaml", "model.json", "checkpoint 2", "checkpoint 4",
           "weights.npz", "metrics.json", "publish"]


def looks_finished(path: Path) -> bool:
    return not path.name.startswith(".") and (path / "metrics.json").exists()


def assert_whole(path: Path) -> None:
    """Every file under its final name is complete (a torn one would not parse)."""
    for f in path.iterdir():
        if f.name.startswith("."):
            assert f.name.endswith(".tmp"), f  # the write that was cut short, under a temp name
        elif f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                assert all(z[k].size for k in z.files)
        elif f.suffix == ".json":
            json.loads(f.read_text())
        elif f.suffix == ".yaml":
            assert yaml.safe_load(f.read_text())["name"] == "xr"


def test_sigkill_while_writing_leaves_nothing_that_looks_finished(tmp_path):
    config = write_config(tmp_path, CONFIG)
    kill_points = {1: "config.yaml", 4: "checkpoint 4", 5: "weights.npz", 7: "publish"}
    assert all(RENAMES[n - 1] == what for n, what in kill_points.items())
    procs = {}
    for n in kill_points:  # all at once: the machine has two cores
        out = tmp_path / f"kill{n}"
        out.mkdir()
        procs[n] = subprocess.Popen([sys.executable, "-c", KILL_AT_RENAME, str(n), str(config),
                                     str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for n, proc in procs.items():
        out_, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, err.decode()
        entries = list((tmp_path / f"kill{n}").iterdir())
        assert not [p for p in entries if looks_finished(p)]
        (partial,) = entries
        assert partial.name.startswith(".xr.") and partial.name.endswith(".partial")
        assert_whole(partial)
        names = {p.name for p in partial.iterdir() if not p.name.startswith(".")}
        if n == 1:
            assert names == set()
        if n == 4:  # killed while replacing the checkpoint of epoch 2: that one is intact
            assert names == {"config.yaml", "model.json", "history.csv", CHECKPOINT}
            with np.load(partial / CHECKPOINT, allow_pickle=False) as z:
                assert json.loads(str(z["state"]))["epochs_done"] == 2
            resumed = trainer.resume_run(partial).run_dir
            again = trainer.train_from_config(config, [], tmp_path / "again").run_dir
            a, b = weights(resumed), weights(again)
            assert all(np.array_equal(a[k], b[k]) for k in a)
            # the history of epochs 3 and 4, written after the checkpoint, was not taken over
            assert (resumed / "history.csv").read_text() == (again / "history.csv").read_text()
        if n == 7:  # everything written, killed just before publishing
            assert names == RUN_FILES


def test_two_processes_with_the_same_name_never_share_a_directory(tmp_path):
    config = write_config(tmp_path, CONFIG.replace("epochs: 5, ", ""))
    out = tmp_path / "runs"
    out.mkdir()
    # Someone's directories already hold the names of the coming minutes: both processes
    # must move on to suffixes, and they race for the same ones.
    now = time.time()
    mine = [out / time.strftime(f"xr-%Y%m%d-%H%M%S", time.localtime(now + s)) for s in range(180)]
    for d in mine[::2]:
        d.mkdir()
        (d / "mine.txt").write_text("do not touch")
    for d in mine[1::2]:
        d.mkdir()  # empty: still not nncli's to take
    code = ("import sys; from nncli.training import train as trainer; "
            "print(trainer.train_from_config(sys.argv[1], [], sys.argv[2]).run_dir)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(config), str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    made = [Path(stdout.strip()) for stdout, _ in results]
    assert made[0] != made[1]
    for run in made:
        assert run.parent == out and run not in mine
        assert RUN_FILES <= {p.name for p in run.iterdir()}
        assert read_json(run / "metrics.json")["status"] == "finished"
    for d in mine[::2]:
        assert [p.name for p in d.iterdir()] == ["mine.txt"]
    for d in mine[1::2]:
        assert list(d.iterdir()) == []
    assert sorted(out.iterdir()) == sorted(mine + made)  # no temporary left behind


def test_commit_takes_the_next_free_suffix_and_never_an_existing_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20250101-120000")
    (tmp_path / "xr-20250101-120000").mkdir()
    (tmp_path / "xr-20250101-120000" / "keep").write_text("x")
    (tmp_path / "xr-20250101-120000-2").mkdir()  # empty, but someone else's
    writers = [runs.RunWriter(tmp_path, "xr") for _ in range(2)]
    for w in writers:
        w.write_text("config.yaml", "name: xr\n")
    assert [w.commit().name for w in writers] == ["xr-20250101-120000-3", "xr-20250101-120000-4"]
    assert list((tmp_path / "xr-20250101-120000-2").iterdir()) == []


@pytest.mark.parametrize("name", ["../evil", "a/b", "/tmp/evil", "..", ".hidden", "-x",
                                  "x" * 101, "ok\n", "tab\there"])
def test_a_run_name_cannot_leave_the_output_directory(cli, tmp_path, name):
    config = write_config(tmp_path, CONFIG)
    r = cli.train(config, "--set", f"name={json.dumps(name)}")
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {config}: name: String should")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.yaml"]  # nothing made anywhere


@pytest.mark.parametrize("filename", ["...yaml", "my run.yaml", "-x.yaml"])
def test_a_config_file_stem_that_is_no_valid_name_is_refused(cli, tmp_path, filename):
    config = write_config(tmp_path, CONFIG.replace("name: xr\n", ""), name=filename)
    r = cli.train(config)
    stem = Path(filename).stem
    assert (r.exit_code, r.stderr) == (2, f"error: name: {stem!r} is not a valid run name "
                                          f"(letters, digits, '.', '_' and '-', starting with a "
                                          f"letter or digit); set name: in the config\n")
    assert not cli.out.exists() or list(cli.out.iterdir()) == []


def test_write_atomic_keeps_the_old_file_when_a_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    files.write_atomic(target, b"old")

    def full_disk(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


def test_files_and_run_directories_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        writer = runs.RunWriter(tmp_path, "xr")
        writer.write_text("config.yaml", "name: xr\n")
        run = writer.commit()
    finally:
        os.umask(old)
    assert run.stat().st_mode & 0o777 == 0o777 & ~files.UMASK
    assert (run / "config.yaml").stat().st_mode & 0o777 == 0o666 & ~files.UMASK


def test_non_finite_weights_are_never_saved(tmp_path):
    writer = runs.RunWriter(tmp_path, "xr")
    with pytest.raises(TrainingFailed, match=r"refusing to save non-finite weights \(b1\)"):
        writer.write_weights({"W1": np.ones((2, 2)), "b1": np.array([0.0, np.nan])})
    assert list(writer.tmp.iterdir()) == []
    writer.abort()
    assert list(tmp_path.iterdir()) == []
