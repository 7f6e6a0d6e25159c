"""Long runs in bounded memory: history.csv is written as training goes, checkpoints hold no
history, and pictures of a long run are drawn from evenly spaced epochs."""

import json

import numpy as np

from nncli.runs.formats import Thinned, read_history
from nncli.training.checkpoint import CHECKPOINT
from nncli.training.train import resume_run, train_from_config

from conftest import CONFIGS, hooks, start_long_run, tiny_xor, weights, write_config


def tiny(tmp_path, epochs, every=0):
    return write_config(tmp_path, tiny_xor("tiny", epochs, every))


def test_memory_stays_flat_over_200000_epochs():
    """The process started at collection (conftest.LONG_RUN) trained 200,000 epochs of a tiny
    network with checkpoints; its memory grew by at most a few MB after epoch 1,000 (history
    in memory would be about 70 MB, and every checkpoint would repeat it)."""
    proc = start_long_run()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["epochs_run"] == 200000
    after_1000, after_all = report["rss"]["1000"], report["rss"]["200000"]
    assert after_all - after_1000 < 4 * 2**20, report
    rows = read_history(f"{report['run_dir']}/history.csv", thin=True)
    assert len(rows) <= 4097 and rows[-1]["epoch"] == 200000  # drawn from evenly spaced rows


def test_thinning_keeps_the_same_rows_while_training_and_when_reading(tmp_path):
    rows = [{"epoch": e, "loss": 1.0 / e} for e in range(1, 10001)]
    thinned = Thinned(cap=1000)
    for r in rows:
        thinned.add(r)
    kept = thinned.history()
    assert [r["epoch"] for r in kept[:3]] == [1, 17, 33] and kept[-1]["epoch"] == 10000
    assert len(kept) == 1 + 9999 // 16 + 1  # epochs 1, 17, 33, ... (every 16th), and the last
    short = Thinned(cap=1000)
    for r in rows[:1000]:
        short.add(r)
    assert short.history() == rows[:1000]  # up to the cap: every row


def test_a_long_runs_pictures_are_the_same_drawn_again(cli, tmp_path):
    """Training draws loss.png from the thinned history it kept; `nncli plot` reads history.csv
    thinning it the same way: the same bytes."""
    path = tiny(tmp_path, 9000)
    r = cli.train(path, plots=True)
    assert r.exit_code == 0, r.output
    (run,) = cli.run_dirs()
    drawn = (run / "loss.png").read_bytes()
    assert len(read_history(run / "history.csv")) == 9000
    r = cli("plot", run, "--what", "loss", "--out", tmp_path / "again.png")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "again.png").read_bytes() == drawn


def test_checkpoints_do_not_grow_with_the_epochs(tmp_path):
    sizes = {}

    def on_checkpoint(path, epoch):
        sizes[epoch] = (path / CHECKPOINT).stat().st_size

    train_from_config(tiny(tmp_path, 3001, every=10), [], tmp_path / "runs",
                      hooks(on_checkpoint=on_checkpoint))
    # a few digits of counters, times and statistics, and the epochs of the snapshots so far
    # (at most 40: runs.snapshots; the state is text of 4 bytes a character): bounded,
    # whatever the number of epochs
    assert abs(sizes[3000] - sizes[10]) < 40 * 7 * 4
    assert abs(sizes[3000] - sizes[2500]) < 160


def test_a_resumed_partial_run_takes_the_history_its_checkpoint_covers(tmp_path):
    """A killed run's hidden directory may hold history rows written after its last checkpoint,
    and a last line cut short: the resumed run takes the checkpoint's rows only, and its
    history equals an uninterrupted run's."""
    path = tiny(tmp_path, 30, every=10)
    whole = train_from_config(path, [], tmp_path / "whole").run_dir
    calls = []
    cut = train_from_config(path, [], tmp_path / "cut",
                            hooks(stop=lambda: calls.append(1) or len(calls) > 25)).run_dir
    partial = tmp_path / "cut" / ".tiny.killed.partial"
    partial.mkdir()
    for name in ("config.yaml", "model.json", CHECKPOINT, "snapshots.npz"):
        (partial / name).write_bytes((cut / name).read_bytes())
    lines = (cut / "history.csv").read_text().splitlines(keepends=True)
    assert len(lines) == 26  # the header and epochs 1..25; the checkpoint covers epoch 25
    (partial / "history.csv").write_text("".join(lines) + "26,0.123")  # a torn line
    layers = (cut / "layers.csv").read_text().splitlines(keepends=True)
    assert len(layers) == 1 + 25 * 2  # two layers
    (partial / "layers.csv").write_text("".join(layers) + "26,1,0.5")
    resumed = resume_run(partial, out=tmp_path / "resumed").run_dir
    for name in ("history.csv", "layers.csv", "snapshots.npz"):
        assert (resumed / name).read_bytes() == (whole / name).read_bytes(), name
    a, b = weights(resumed), weights(whole)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_a_history_shorter_than_its_checkpoint_is_refused(tmp_path, cli):
    path = tiny(tmp_path, 30, every=10)
    calls = []
    cut = train_from_config(path, [], tmp_path / "cut",
                            hooks(stop=lambda: calls.append(1) or len(calls) > 15)).run_dir
    lines = (cut / "history.csv").read_text().splitlines(keepends=True)
    (cut / "history.csv").write_text("".join(lines[:10]))
    r = cli("train", "--resume", cut, "--out", tmp_path / "out")
    assert r.exit_code == 2
    assert r.stderr == f"error: {cut}/history.csv: 9 rows, but 15 epochs were run\n"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_the_shipped_configs_still_train_with_their_whole_history(cli):
    r = cli.train(CONFIGS / "xor-mlp.yaml", "--set", "training.epochs=30")
    assert r.exit_code == 0
    (run,) = cli.run_dirs()
    assert [row["epoch"] for row in read_history(run / "history.csv")] == list(range(1, 31))


def test_a_checkpoint_and_its_history_must_agree(tmp_path, cli):
    """The checkpoint records the row of its last epoch: a changed epochs_done, or a
    history.csv whose row of that epoch was edited, is refused before anything is trained."""
    import io

    path = tiny(tmp_path, 30, every=10)
    calls = []
    cut = train_from_config(path, [], tmp_path / "cut",
                            hooks(stop=lambda: calls.append(1) or len(calls) > 15)).run_dir
    lines = (cut / "history.csv").read_text().splitlines(keepends=True)
    (cut / "history.csv").write_text("".join(lines[:-1]) + lines[-1].replace("15,", "15,9"))
    r = cli("train", "--resume", cut, "--out", tmp_path / "out")
    assert r.exit_code == 2
    assert r.stderr == (f"error: {cut}/history.csv: the row of epoch 15 is not the one the "
                        f"checkpoint recorded (was the file changed?)\n")
    with np.load(cut / CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    state = json.loads(str(arrays["state"]))
    state["epochs_done"] = 10
    arrays["state"] = np.array(json.dumps(state))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (cut / CHECKPOINT).write_bytes(buf.getvalue())
    r = cli("train", "--resume", cut, "--out", tmp_path / "out")
    assert r.exit_code == 2
    assert r.stderr == (f"error: {cut}/{CHECKPOINT}: state: last_epoch: must be the history "
                        f"row of epoch 10 (epochs_done)\n")
