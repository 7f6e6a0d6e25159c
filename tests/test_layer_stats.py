"""Per-layer statistics (layers.csv) on networks whose values are known, and snapshots."""

import csv

import numpy as np
import pytest

from conftest import write_config

from nncli.runs.formats import LAYER_COLUMNS, LAYER_DIGITS, read_layers
from nncli.runs.snapshots import COUNT, snapshot_epochs
from nncli.training.layerstats import SAMPLE_ROWS
from nncli.training.train import train_from_config

# Eight rows of two positive features; three hidden layers whose state is forced by their
# frozen initial weights: a relu layer that is dead (every z < 0), a sigmoid layer whose two
# units are saturated (|z| >= 20) and not (z = 0.01 x), and a linear layer that copies the
# inputs (identity weights), so its activations are the features themselves.
X = [[1, 2], [2, 1], [3, 5], [4, 3], [5, 8], [6, 2], [7, 7], [8, 4]]
KNOWN = f"""
name: known
data: {{source: inline, x: {X}, y: [0, 1, 0, 1, 0, 1, 0, 1], task: classification}}
network:
  layers:
    - {{units: 2, activation: linear, weights: [[1, 0], [0, 1]], biases: [0, 0], freeze: [weights, biases]}}
    - {{units: 3, activation: relu, weights: [[-1, -2, -1], [-1, -1, -3]], biases: [-1, -1, -1], freeze: [weights, biases]}}
    - {{units: 2, activation: sigmoid, weights: [[50, 0.01], [50, 0.01], [50, 0.01]], biases: [0, 0], freeze: [weights, biases]}}
    - {{units: 1, activation: sigmoid}}
training: {{batch: full, learning_rate: 0.5, epochs: 3}}
"""


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    folder = tmp_path_factory.mktemp("known")
    return train_from_config(write_config(folder, KNOWN), [], folder / "runs")


def written(x):
    """A statistic as layers.csv holds it: to LAYER_DIGITS significant digits."""
    return float(f"%.{LAYER_DIGITS}g" % x)


def rows_of(run_dir, epoch):
    return [r for r in read_layers(run_dir / "layers.csv") if r["epoch"] == epoch]


def test_layers_csv_has_a_row_per_epoch_and_layer(known):
    with (known.run_dir / "layers.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == LAYER_COLUMNS
    assert [(int(r[0]), int(r[1])) for r in rows[1:]] == \
        [(e, l) for e in (1, 2, 3) for l in (1, 2, 3, 4)]


def test_statistics_of_known_layers(known):
    x = np.array(X, dtype=float)
    for epoch in (1, 3):
        copy, dead, sigmoid, out = rows_of(known.run_dir, epoch)
        # the identity layer: its outputs are the features; W = I has RMS sqrt(2/4)
        assert copy["act_mean"] == pytest.approx(x.mean(), rel=1e-6)
        assert copy["act_std"] == pytest.approx(x.std(), rel=1e-6)
        assert copy["weight_rms"] == written(np.sqrt(0.5))
        assert copy["update_ratio"] == 0.0  # frozen
        assert copy["dead"] is None and copy["saturated"] is None  # linear: neither
        # the relu layer outputs 0 on every row: all three units dead, mean and std 0
        assert dead["dead"] == 1.0 and dead["act_mean"] == 0.0 and dead["act_std"] == 0.0
        assert dead["grad_rms"] == 0.0  # no gradient reaches a dead layer
        assert dead["saturated"] is None
        # the sigmoid layer reads only zeros (the dead layer): z = 0, a = 0.5, not saturated
        assert sigmoid["saturated"] == 0.0 and sigmoid["act_mean"] == 0.5
        assert out["dead"] is None and out["saturated"] is None  # the output layer: neither
        assert out["update_ratio"] > 0  # the output layer trains


def test_saturation_counts_the_outputs_in_the_flat_part(tmp_path):
    """Without the dead layer the sigmoid layer sees the features: unit 1 (z = 50 (x1 + x2),
    at least 150) is saturated on every row, unit 2 (z = 0.01 (x1 + x2) <= 0.12) on none:
    half of the outputs."""
    config = KNOWN.replace(
        "    - {units: 3, activation: relu, weights: [[-1, -2, -1], [-1, -1, -3]], "
        "biases: [-1, -1, -1], freeze: [weights, biases]}\n", "").replace(
        "[[50, 0.01], [50, 0.01], [50, 0.01]]", "[[50, 0.01], [50, 0.01]]")
    run = train_from_config(write_config(tmp_path, config), [], tmp_path / "runs").run_dir
    copy, sigmoid, out = rows_of(run, 2)
    assert sigmoid["saturated"] == 0.5
    z2 = 0.01 * np.array(X, dtype=float).sum(axis=1)
    a = np.concatenate([np.ones(8), 1 / (1 + np.exp(-z2))])
    assert sigmoid["act_mean"] == pytest.approx(a.mean(), rel=1e-6)
    assert sigmoid["act_std"] == pytest.approx(a.std(), rel=1e-6)


def test_gradient_rms_is_that_of_the_backward_pass(known, tmp_path):
    """Epoch 1 of one full batch: grad_rms of the output layer is the RMS of dL/dW4 the
    engine computes for the initial weights."""
    from nncli.config import load_config
    from nncli.training.experiment import prepare

    path = write_config(tmp_path, KNOWN)
    e = prepare(load_config(path), path)
    net, ws = e.network, e.network.workspace(8)
    net.forward(e.X_train, ws)
    net.backward(e.X_train, e.Y_train, e.loss, ws)
    g = net.gradients(ws)["W4"]
    out = rows_of(known.run_dir, 1)[3]
    assert out["grad_rms"] == written(np.sqrt(np.mean(g * g)))


def test_a_run_without_statistics(tmp_path):
    path = write_config(tmp_path, KNOWN)
    run = train_from_config(path, ["training.layer_stats=false"], tmp_path / "runs").run_dir
    assert not (run / "layers.csv").exists()
    assert (run / "snapshots.npz").exists()  # the snapshots do not depend on it


def test_the_sample_is_the_first_rows_of_the_epoch(tmp_path):
    """With more rows than SAMPLE_ROWS in one full batch, the identity layer's act_mean is the
    mean of the first SAMPLE_ROWS rows' features, not of all rows (the rows are ordered so
    that the two differ)."""
    rows = [[i, 2 * i] for i in range(SAMPLE_ROWS + 40)]
    config = KNOWN.replace(f"x: {X}", f"x: {rows}").replace(
        "y: [0, 1, 0, 1, 0, 1, 0, 1]", f"y: {[i % 2 for i in range(len(rows))]}")
    run = train_from_config(write_config(tmp_path, config), [], tmp_path / "runs").run_dir
    sample = np.array(rows[:SAMPLE_ROWS], dtype=float)
    for epoch in (1, 3):
        copy = rows_of(run, epoch)[0]
        assert copy["act_mean"] == pytest.approx(sample.mean(), rel=1e-6)
        assert copy["act_std"] == pytest.approx(sample.std(), rel=1e-6)
        assert copy["act_mean"] != pytest.approx(np.mean(rows), rel=1e-3)


def test_snapshot_epochs_are_spread_denser_early():
    assert snapshot_epochs(10) == list(range(1, 11))
    for epochs in (150, 5000, 200_000):
        kept = snapshot_epochs(epochs)
        assert kept[0] == 1 and kept[-1] == epochs and len(kept) <= COUNT
        gaps = np.diff(kept)
        quarter = len(gaps) // 4
        assert np.all(gaps > 0) and gaps[:quarter].mean() < gaps[-quarter:].mean()
    assert len(snapshot_epochs(200_000)) == COUNT
    assert snapshot_epochs(150)[:5] == [1, 2, 3, 5, 6]


def test_snapshots_hold_the_weights_of_their_epochs(known):
    with np.load(known.run_dir / "snapshots.npz", allow_pickle=False) as z:
        assert list(z["epochs"]) == [1, 2, 3]
        final = np.load(known.run_dir / "weights.npz")
        np.testing.assert_array_equal(z["W4"][-1], final["W4"])
        assert z["W1"].shape == (3, 2, 2)
    history = list(csv.DictReader((known.run_dir / "history.csv").open()))
    with np.load(known.run_dir / "snapshots.npz") as z:
        assert [float(h["loss"]) for h in history] == list(z["loss"])


def test_an_early_stopped_run_keeps_its_last_epoch(tmp_path):
    from conftest import noisy_xor

    path = write_config(tmp_path, noisy_xor(epochs=400))
    outcome = train_from_config(path, ["training.early_stopping={patience: 3}",
                                       "training.learning_rate=2"], tmp_path / "runs")
    last = outcome.metrics["epochs_run"]
    assert last < 400
    with np.load(outcome.run_dir / "snapshots.npz") as z:
        assert z["epochs"][-1] == last  # the last epoch run, though not a scheduled one
        assert set(z["epochs"][:-1]) <= set(snapshot_epochs(400))
