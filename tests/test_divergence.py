"""Divergence: a non-finite loss stops training in the batch it appears, exit 1, and nothing
non-finite reaches a file; large but finite values are not divergence."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import read_json, weights, write_config

from nncli.training import train as trainer
from nncli.training.checkpoint import CHECKPOINT

# w <- w - lr * dL/dw on one row at a time, in order: with lr = 5 every step overshoots more,
# and the loss of the 4th row (x = 4) is the first to overflow, in epoch 22.
BLOW_UP = """\
data: {source: inline, x: [[1.0], [2.0], [3.0], [4.0]], y: [2, 4, 6, 8]}
network: {layers: [{units: 1, activation: linear, weights: [[0.5]], biases: [0.0]}]}
training: {batch: minibatch, batch_size: 1, shuffle: false, learning_rate: 5.0, epochs: 50,
           checkpoint_every: 5}
"""


def numbers(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    return [value] if isinstance(value, float) else []


def assert_nothing_non_finite(run_dir: Path) -> None:
    """Every number in every file of the run is finite."""
    for f in run_dir.iterdir():
        if f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                assert all(np.all(np.isfinite(z[k])) for k in z.files if z[k].dtype.kind == "f")
        elif f.suffix == ".csv":
            rows = list(csv.reader(f.open()))[1:]
            assert all(math.isfinite(float(c)) for row in rows for c in row if c), f
        elif f.suffix == ".json":  # NaN and Infinity are not JSON: refuse them when parsing
            assert all(map(math.isfinite, numbers(json.loads(f.read_text(), parse_constant=bad))))
        elif f.suffix == ".yaml":
            assert all(map(math.isfinite, numbers(yaml.safe_load(f.read_text()))))


def bad(token):
    raise AssertionError(f"{token} in a JSON file")


def test_a_blow_up_exits_1_in_its_batch_and_keeps_the_last_finite_epoch(cli, tmp_path):
    path = write_config(tmp_path, BLOW_UP)
    r = cli.train(path)
    assert r.exit_code == 1
    (run,) = cli.run_dirs()
    assert r.stderr == (f"error: training diverged: loss became inf at epoch 22, batch 4; kept "
                        f"the weights of epoch 21 (lower training.learning_rate, or scale the "
                        f"inputs); the run is in {run}\n")
    m = read_json(run / "metrics.json")
    assert (m["status"], m["epochs_run"]) == ("diverged", 21)
    assert m["reason"].startswith("loss became inf at epoch 22, batch 4")
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 21
    assert not (run / CHECKPOINT).exists()  # resuming would only diverge again
    assert_nothing_non_finite(run)
    # The weights kept are exactly those after 21 epochs.
    after_21 = trainer.train_from_config(path, ["training.epochs=21"], tmp_path / "21").run_dir
    a, b = weights(run), weights(after_21)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_a_late_batch_is_caught_in_that_batch(tmp_path):
    # Rows 1 and 2 train normally; the loss of row 3, (w * 1e200 - 6)^2, overflows.
    path = write_config(tmp_path, BLOW_UP.replace("[3.0]", "[1.0e200]")
                        .replace("learning_rate: 5.0", "learning_rate: 0.01"))
    outcome = trainer.train_from_config(path, [], tmp_path / "runs")
    assert outcome.metrics["status"] == "diverged"
    assert outcome.result.reason.startswith("loss became inf at epoch 1, batch 3; kept the "
                                            "weights of epoch 0")
    # Epoch 0: the initial weights, untouched by the two updates of the unfinished epoch.
    w = weights(outcome.run_dir)
    assert (w["W1"].tolist(), w["b1"].tolist()) == ([[0.5]], [0.0])
    # inf on row 3: no loss, R² or RMSE; the MAE in the target's units is finite:
    # outputs 0.5 * [1, 2, 1e200, 4] against [2, 4, 6, 8]: (1.5 + 3 + 5e199 + 6) / 4
    assert outcome.metrics["train"] == {"loss": None, "r2": None, "rmse": None, "mae": 1.25e199}
    assert_nothing_non_finite(outcome.run_dir)


def test_large_but_finite_values_are_not_divergence(tmp_path):
    # float32 holds up to 3.4e38: a loss of 1e36 is large, and finite.
    path = write_config(tmp_path, "dtype: float32\n"
                                  "data: {source: inline, x: [[1.0e18], [1.0e18]], y: [0, 0]}\n"
                                  "network: {layers: [{units: 1, activation: linear, bias: false,"
                                  " weights: [[1.0]]}]}\n"
                                  "training: {batch: full, learning_rate: 1.0e-37, epochs: 3}\n")
    outcome = trainer.train_from_config(path, [], tmp_path / "runs")
    assert outcome.metrics["status"] == "finished"
    first = outcome.history[0]["loss"]
    assert first == pytest.approx(1e36, rel=1e-6)
    assert all(np.isfinite(r["loss"]) for r in outcome.history)
