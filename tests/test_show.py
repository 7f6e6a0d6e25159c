"""`nncli show RUN_DIR`: one run's status, settings, metrics and loss curve."""

import csv
import json

from conftest import read_json


def test_show_a_run(cli, configs):
    assert cli.train(configs / "xor-mlp.yaml", "--no-plots", "--set", "training.epochs=40").exit_code == 0
    run = cli.run_dirs()[0]
    r = cli("show", run)
    assert r.exit_code == 0, r.output
    assert "status finished: reached training.epochs (40)" in r.stdout
    assert "layers 2-4-1  batch full  learning rate 1.0  epochs 40  seed 0" in r.stdout
    m = read_json(run / "metrics.json")
    assert f"{m['train']['loss']:.6g}" in r.stdout  # the final training loss in the table
    assert "⣀⣀ loss" in r.stdout and "epoch" in r.stdout  # the chart and its legend
    history = list(csv.DictReader((run / "history.csv").open()))
    top = max(float(row["loss"]) for row in history)
    assert f"{top:.4g} ┤" in r.stdout  # the chart's top label is the largest loss


def test_show_json_holds_the_history(cli, configs):
    assert cli.train(configs / "blobs.yaml", "--no-plots", "--set", "training.epochs=3").exit_code == 0
    run = cli.run_dirs()[0]
    r = cli("show", run, "--json")
    obj = json.loads(r.stdout)
    history = list(csv.DictReader((run / "history.csv").open()))
    assert [h["epoch"] for h in obj["history"]] == [1, 2, 3]
    assert [h["val_loss"] for h in obj["history"]] == [float(h["val_loss"]) for h in history]
    assert obj["status"] == "finished" and obj["layers"] == [2, 16, 3]


def test_show_refuses_what_is_not_a_run(cli, tmp_path):
    r = cli("show", tmp_path)
    assert r.exit_code == 2
    assert r.stderr == f"error: {tmp_path}: not a run directory (no config.yaml, metrics.json, ...)\n"


def test_history_file_reads_back_what_was_written(tmp_path):
    import pytest

    from nncli.errors import InputError
    from nncli.runs.formats import history_csv, read_history

    history = [{"epoch": 1, "loss": 0.1 + 0.2, "r2": None, "val_loss": 1e-300, "val_r2": -2.5},
               {"epoch": 2, "loss": 0.25, "r2": 0.9, "val_loss": float("inf"), "val_r2": None}]
    path = tmp_path / "history.csv"
    path.write_text(history_csv(history))
    assert read_history(path) == history  # every float bit for bit, None for the empty cells
    path.write_text(history_csv([]))
    assert read_history(path) == []
    path.write_text("epoch,loss\n1,0.5\n2,abc\n")
    with pytest.raises(InputError, match=r"history.csv: line 3: loss is not a number: 'abc'"):
        read_history(path)
    path.write_text("epoch,loss\n1\n")
    with pytest.raises(InputError, match=r"line 2: 1 cells, expected 2"):
        read_history(path)
    with pytest.raises(InputError, match=r"no nothing.csv \(not a finished nncli run\)"):
        read_history(tmp_path / "nothing.csv")
