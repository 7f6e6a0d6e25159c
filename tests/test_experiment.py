"""How the data are held for training: generated once in the training dtype, scaled in place,
ordered by split so that each split is a view; and the train metric that reads them."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs as sklearn_make_blobs

from nncli import metrics
from nncli.config import TrainingConfig, load_config
from nncli.data import blobs, prepare as prep
from nncli.data.prepare import Scaler, split_indices, training_matrix
from nncli.data.schema import BlobsData
from nncli.data.sources import load_source
from nncli.engine.losses import LOSSES
from nncli.training.experiment import prepare, seed_streams
from nncli.plots import points_of
from nncli.engine.network import evaluate
from nncli.training.loop import fit

ROOT = Path(__file__).resolve().parent.parent


# --- blobs: scikit-learn's numbers, made in chunks -----------------------------------------

@pytest.mark.parametrize("n, features, centers, std, seed", [
    (300, 2, 3, 1.0, 0), (1001, 5, 4, 2.5, 7), (10, 3, 3, 0.0, 123), (5, 2, 5, 1.0, 1),
    (3, 2, 5, 0.5, 9),  # fewer rows than centers: some centers get none
])
def test_blobs_are_sklearn_make_blobs_bit_for_bit(monkeypatch, n, features, centers, std, seed):
    monkeypatch.setattr(blobs, "CHUNK_ROWS", 7)  # chunks that split and straddle the centers
    X, y = sklearn_make_blobs(n, features, centers=centers, cluster_std=std, random_state=seed)
    X64, y64 = blobs.make_blobs(n, features, centers, std, seed)
    assert X64.dtype == np.float64 and np.array_equal(X64, X) and np.array_equal(y64, y)
    X32, y32 = blobs.make_blobs(n, features, centers, std, seed, np.float32)
    assert X32.dtype == np.float32 and np.array_equal(X32, X.astype(np.float32))
    assert np.array_equal(y32, y)


def test_generated_data_come_in_the_training_dtype_user_data_in_float64(tmp_path):
    blob = BlobsData(source="blobs", n_samples=50)
    assert load_source(blob, tmp_path, 3, np.float32).X.dtype == np.float32
    assert load_source(blob, tmp_path, 3).X.dtype == np.float64
    (tmp_path / "d.csv").write_text("a,b,y\n1.5,2,x\n3,4,z\n")
    from nncli.data.schema import CsvData
    csv = CsvData(source="csv", path="d.csv")
    assert load_source(csv, tmp_path, 0, np.float32).columns[0].numbers.dtype == np.float64


def test_blobs_never_import_sklearn():
    code = ("import sys\n"
            "import numpy as np\n"
            "from pathlib import Path\n"
            "from nncli.data.schema import BlobsData\n"
            "from nncli.data.sources import load_source\n"
            "d = load_source(BlobsData(source='blobs', n_samples=40, centers=4), Path('.'), 0)\n"
            "assert d.classes == [0, 1, 2, 3], d.classes\n"
            "assert 'sklearn' not in sys.modules, 'sklearn was imported'\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


# --- the training matrix -------------------------------------------------------------------

def _split_data(n=23, features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(5.0, 3.0, size=(n, features))
    train, val = split_indices(np.zeros(n), "regression", 0.3, rng)
    return X, train, val


def test_training_matrix_in_place_puts_training_rows_first(monkeypatch):
    monkeypatch.setattr(prep, "BLOCK_ROWS", 4)  # the in-place move crosses several blocks
    X, train, val = _split_data()
    scaler = Scaler.fit(X, "standard", rows=train)
    expected = np.concatenate([scaler.transform(X, rows=train), scaler.transform(X, rows=val)])
    work = X.copy()
    out = training_matrix(work, scaler, np.float64, train, val)
    assert out is work  # same dtype: done in the data's own memory
    assert np.array_equal(out, expected)


def test_training_matrix_into_another_dtype_leaves_the_data_alone():
    X, train, val = _split_data()
    scaler = Scaler.fit(X, "minmax", rows=train)
    before = X.copy()
    out = training_matrix(X, scaler, np.float32, train, val)
    assert out.dtype == np.float32 and not np.shares_memory(out, X)
    assert np.array_equal(X, before)
    # scaled in float64 from the exact values, then rounded once
    expected = ((X[np.concatenate([train, val])] - scaler.offset) / scaler.scale)
    assert np.array_equal(out, expected.astype(np.float32))


def test_training_matrix_without_validation_rows():
    X, _, _ = _split_data()
    scaler = Scaler.fit(X, "none")
    out = training_matrix(X.copy(), scaler, np.float64, np.arange(len(X)), np.empty(0, int))
    assert np.array_equal(out, X)


def _blobs_config(tmp_path, dtype="float32", validation=0.25, scale="standard"):
    path = tmp_path / "b.yaml"
    path.write_text(f"""\
seed: 4
dtype: {dtype}
data: {{source: blobs, n_samples: 203, centers: 3, n_features: 3, validation: {validation},
        scale: {scale}}}
network:
  layers: [{{units: 8, activation: relu}}, {{units: 3, activation: softmax}}]
training: {{batch: minibatch, batch_size: 16, learning_rate: 0.1, epochs: 3}}
""")
    return path


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_experiment_holds_the_data_once_with_the_splits_as_views(tmp_path, dtype):
    path = _blobs_config(tmp_path, dtype)
    e = prepare(load_config(path), path)
    assert e.X.dtype == dtype and e.X.shape == (203, 3)
    for split in (e.X_train, e.X_val, e.Y_train, e.Y_val):
        assert split.base is not None and split.flags.c_contiguous  # views, no copies
    assert e.dataset.X is None and e.dataset.y is None  # the raw arrays are not kept twice
    # The same numbers as scaling the loaded data split by split
    seed = int(seed_streams(4)["data"].generate_state(1)[0])
    raw = load_source(e.config.data, tmp_path, seed, dtype)
    scaler = Scaler.fit(raw.X, "standard", rows=e.train_idx)
    assert np.array_equal(e.X_train, scaler.transform(raw.X, dtype, rows=e.train_idx))
    assert np.array_equal(e.X_val, scaler.transform(raw.X, dtype, rows=e.val_idx))
    assert np.array_equal(e.Y_val.argmax(axis=1), raw.y[e.val_idx])
    assert len(e.X_train) == len(e.train_idx) and len(e.X_val) == len(e.val_idx) == 51


def test_plot_points_are_the_data_in_its_units_and_labels(tmp_path):
    """Pictures draw one- or two-feature data: their points are the features as generated,
    exactly (kept before scaling, not unscaled again), with the labels, in split order."""
    path = _blobs_config(tmp_path, "float32")
    assert points_of(prepare(load_config(path), path)) is None  # 3 features: nothing drawn
    path.write_text(path.read_text().replace("n_features: 3", "n_features: 2"))
    e = prepare(load_config(path), path)
    points = points_of(e)
    seed = int(seed_streams(4)["data"].generate_state(1)[0])
    raw = load_source(e.config.data, tmp_path, seed, "float32")
    rows = np.concatenate([e.train_idx, e.val_idx])
    assert points.X.dtype == np.float64 and np.array_equal(points.X, raw.X[rows])
    assert np.array_equal(points.y, raw.y[rows])
    assert points.train_idx.tolist() == list(range(152))
    assert points.val_idx.tolist() == list(range(152, 203))


# --- the train metric ----------------------------------------------------------------------

def test_shuffled_epochs_score_each_output_against_its_own_row(tmp_path):
    """With learning rate 0 every pre-update output is the initial network's output for that
    row, so the epoch's train accuracy must equal the accuracy of the initial network, however
    the rows were shuffled into batches."""
    path = _blobs_config(tmp_path, "float64", validation=0, scale="none")
    e = prepare(load_config(path), path)
    net, loss = e.network, LOSSES["cross_entropy"]
    expected = evaluate(net, loss, e.X_train, e.Y_train, metrics.accuracy)
    for batch in (1, 16):
        training = TrainingConfig(batch="minibatch", batch_size=batch, epochs=2, shuffle=True,
                                  update="gradient").model_copy(update={"learning_rate": 0.0})
        result = fit(net, loss, e.X_train, e.Y_train, training, rng=np.random.default_rng(1),
                     metric=metrics.ACCURACY)
        assert not np.array_equal(result.order, np.arange(len(e.X_train)))  # it did shuffle
        for record in result.history:
            assert record["accuracy"] == expected[1]
            assert record["loss"] == pytest.approx(expected[0], rel=1e-12)
    assert 0.2 < expected[1] < 0.9  # an untrained network: a score that can come out wrong


def test_accuracy_counts_block_by_block(monkeypatch):
    rng = np.random.default_rng(2)
    outputs, targets = rng.random((1000, 4)), np.eye(4)[rng.integers(0, 4, 1000)]
    whole = float(np.mean(outputs.argmax(1) == targets.argmax(1)))
    monkeypatch.setattr(metrics, "BLOCK_ROWS", 64)
    assert metrics.accuracy(outputs, targets) == whole
    one = rng.random((10, 1))
    assert metrics.accuracy(one, (one >= 0.5).astype(float)) == 1.0
