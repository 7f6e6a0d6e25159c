"""Safe loading of a run directory: every file is checked before use, nothing can run code."""

import json
import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest

import nncli
from nncli.errors import InputError
from nncli.runs.load import load_run
from nncli.runs.formats import FORMAT_VERSION
from nncli.training.train import train_from_config

from conftest import CONFIGS, weights


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A blobs run (2 features, relu 16, softmax 3) and the experiment that trained it."""
    out = tmp_path_factory.mktemp("runs")
    outcome = train_from_config(CONFIGS / "blobs.yaml", ["training.epochs=3"], out)
    return outcome


@pytest.fixture
def run(trained, tmp_path):
    """A private copy of the run, free to tamper with."""
    return shutil.copytree(trained.run_dir, tmp_path / "run")


def load_error(path) -> str:
    with pytest.raises(InputError) as e:
        load_run(path)
    return str(e.value)


def edit_model_json(run, change):
    d = json.loads((run / "model.json").read_text())
    change(d)
    (run / "model.json").write_text(json.dumps(d))


def write_npz(run, **arrays):
    np.savez(run / "weights.npz", **arrays)


# --- a good run ------------------------------------------------------------------------------

def test_loads_the_trained_network_bit_for_bit(trained):
    model = nncli.load_run(trained.run_dir)
    assert model.task == "classification" and model.classes == [0, 1, 2]
    assert model.feature_names == ["x1", "x2"] and model.target_names == ["target"]
    assert model.status == "finished"
    for name, array in trained.experiment.network.parameters().items():
        assert np.array_equal(model.network.parameters()[name], array), name


def test_predict_and_predict_proba_on_raw_rows(trained):
    model = nncli.load_run(trained.run_dir)
    exp = trained.experiment
    X = exp.scaler.inverse(exp.X_val)  # the validation rows in the units of the data
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=0, atol=1e-12)
    labels = model.predict(X)
    assert labels.dtype == np.int64
    assert np.array_equal(labels, np.argmax(proba, axis=1))  # classes are 0, 1, 2


def test_predict_rejects_wrong_shapes_and_non_finite_rows(trained):
    model = nncli.load_run(trained.run_dir)
    with pytest.raises(InputError, match=r"expected rows of 2 features \(x1, x2\), got an "
                                         r"array of shape \(3,\)"):
        model.predict([1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r"X row 1: 'x2' is inf, not a finite number"):
        model.predict([[0.0, 0.0], [0.0, np.inf]])
    with pytest.raises(InputError, match=r"X row 1: 'x2' is missing, and the run fills no "
                                         r"missing values \(data.missing: error\)"):
        model.predict([[0.0, 0.0], [0.0, np.nan]])


def test_a_float32_run_loads_as_float32(tmp_path):
    outcome = train_from_config(CONFIGS / "blobs.yaml", ["training.epochs=2", "dtype=float32"],
                                tmp_path)
    model = load_run(outcome.run_dir)
    assert model.network.dtype == np.float32
    assert model.predict_proba(np.zeros((2, 2))).dtype == np.float32


# --- missing files ---------------------------------------------------------------------------

def test_missing_directory(tmp_path):
    assert load_error(tmp_path / "nope") == f"{tmp_path / 'nope'}: no such run directory"


@pytest.mark.parametrize("name", ["model.json", "weights.npz"])
def test_missing_file(run, name):
    (run / name).unlink()
    assert load_error(run) == f"{run}: no {name} (not a finished nncli run)"


# --- weights.npz -----------------------------------------------------------------------------

class _Payload:
    """Unpickling this creates a directory: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickled_object_array_is_refused_without_running_it(run, tmp_path):
    marker = tmp_path / "pwned"
    W1 = np.empty((2, 16), dtype=object)
    W1[0, 0] = _Payload(marker)
    w = weights(run)
    write_npz(run, **{**w, "W1": W1})
    # The payload is live: loading with pickle allowed would run it.
    with np.load(run / "weights.npz", allow_pickle=True) as z:
        z["W1"]
    assert marker.is_dir()
    marker.rmdir()
    message = load_error(run)
    assert message == (f"{run / 'weights.npz'}: W1: dtype object (expected float64, as "
                       "model.json says)")
    assert not marker.exists()


def test_a_pickle_instead_of_an_npz_is_refused(run, tmp_path):
    marker = tmp_path / "pwned"
    (run / "weights.npz").write_bytes(pickle.dumps(_Payload(marker)))
    assert load_error(run) == f"{run / 'weights.npz'}: not an .npz archive"
    assert not marker.exists()


@pytest.mark.parametrize("change,message", [
    (lambda w: w.update(extra=np.zeros(3)),
     "unexpected member 'extra.npy'; model.json's layers give W1, b1, W2, b2"),
    (lambda w: w.pop("b2"), "missing b2; model.json's layers give W1, b1, W2, b2"),
    (lambda w: w.update(W2=np.zeros((16, 4))),
     "W2: shape (16, 4) (expected (16, 3) from model.json's layers)"),
    (lambda w: w.update(W2=w["W2"].T.copy()),
     "W2: shape (3, 16) (expected (16, 3) from model.json's layers)"),
    (lambda w: w.update(b1=w["b1"].astype(np.float32)),
     "b1: dtype float32 (expected float64, as model.json says)"),
    (lambda w: w.update(b1=w["b1"].astype(np.int64)),
     "b1: dtype int64 (expected float64, as model.json says)"),
    (lambda w: w["W1"].__setitem__((1, 3), np.inf), "W1: holds values that are not finite"),
    (lambda w: w["b2"].__setitem__(0, np.nan), "b2: holds values that are not finite"),
])
def test_weights_checked_against_model_json(run, change, message):
    w = weights(run)
    change(w)
    write_npz(run, **w)
    assert load_error(run) == f"{run / 'weights.npz'}: {message}"


def test_a_member_that_is_not_an_npy_array(run):
    with zipfile.ZipFile(run / "weights.npz", "a") as zf:
        zf.writestr("notes.txt", "hello")
    assert load_error(run).endswith("unexpected member 'notes.txt'; model.json's layers give "
                                    "W1, b1, W2, b2")


def test_a_corrupt_npy_member(run):
    w = weights(run)
    with zipfile.ZipFile(run / "weights.npz", "w") as zf:
        for name, array in w.items():
            zf.writestr(f"{name}.npy", b"garbage" if name == "W2" else _npy(array))
    assert load_error(run).startswith(f"{run / 'weights.npz'}: W2: not a NumPy array")


def _npy(array) -> bytes:
    import io
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


# --- model.json ------------------------------------------------------------------------------

@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(format_version=FORMAT_VERSION + 1),
     f"written in run format {FORMAT_VERSION + 1} by a newer nncli (nncli 0.1.0); this nncli "
     f"reads format {FORMAT_VERSION} and older: upgrade nncli to use this run"),
    (lambda d: d.pop("format_version"), "missing key 'format_version'"),
    (lambda d: d.update(format_version="1"),
     'format_version: Input should be a valid integer (got "1")'),
    (lambda d: d.update(format_version=0),
     "format_version: Input should be greater than or equal to 1 (got 0)"),
    (lambda d: d["layers"][0].update(activation="exec"),
     "layers[0].activation: Input should be 'linear', 'sigmoid', 'tanh', 'relu', 'leaky_relu', "
     "'softmax' or 'step' (got \"exec\")"),
    (lambda d: d["layers"][0].update(units="16"),
     'layers[0].units: Input should be a valid integer (got "16")'),
    (lambda d: d["layers"][1].update(units=True),
     "layers[1].units: Input should be a valid integer (got true)"),
    (lambda d: d["layers"][1].pop("bias"), "missing key 'layers[1].bias'"),
    (lambda d: d["layers"][1].update(extra=1), "layers[1].extra: unknown key"),
    (lambda d: d.update(layers=[]),
     "layers: List should have at least 1 item after validation, not 0 (got [])"),
    (lambda d: d.update(dtype="float16"),
     "dtype: Input should be 'float32' or 'float64' (got \"float16\")"),
    (lambda d: d.update(task="clustering"),
     "task: Input should be 'classification' or 'regression' (got \"clustering\")"),
    (lambda d: d.update(loss="rm -rf"), "loss: Input should be 'mse', 'half_sse', 'mae', "
     "'binary_cross_entropy', 'cross_entropy' or 'perceptron' (got \"rm -rf\")"),
    (lambda d: d.update(feature_names=["x1"]),
     'feature_names: expected the names of the columns (x1, x2), got ["x1"]'),
    (lambda d: d.update(input=3), "the 2 inputs of input_names (from columns) do not match "
                                  "input (3)"),
    (lambda d: d.update(classes=[0, 1, "2"]),
     'classes[2]: Input should be a valid integer (got "2")'),
    (lambda d: d.update(classes=[0, 1]),
     "classes: 2 classes do not fit an output layer of 3 units"),
    (lambda d: d.update(classes=[0, 1, 1]), "classes: expected at least 2 distinct labels"),
    (lambda d: d["scaler"].update(kind="magic"),
     "scaler.kind: Input should be 'standard', 'minmax' or 'none' (got \"magic\")"),
    (lambda d: d["scaler"].update(offset=[0.0]),
     "scaler: offset and scale must have one value per column each"),
    (lambda d: d["scaler"].update(offset=[0.0, 10**400], scale=[1.0, 1.0]),
     f"scaler.offset[1]: Input should be a valid number (got 1{'0' * 79})"),  # shown cut
    (lambda d: d["scaler"].update(scale=[1.0, 0]),
     "scaler: a scale of 0 would divide by zero"),
    (lambda d: d.update(scaler="standard"), 'scaler: expected an object (got "standard")'),
    (lambda d: d["columns"][0].update(kind="categorical"),
     "columns[0]: a categorical column needs a list of distinct categories"),
    (lambda d: d["columns"][1].update(fill="a"),
     "columns[1]: a numeric column is filled with a number"),
    (lambda d: d.update(missing="guess"), "missing: Input should be 'error', 'drop', 'mean', "
     "'median' or 'most_frequent' (got \"guess\")"),
    (lambda d: d["csv"].update(na_values="NA"),
     'csv.na_values: Input should be a valid list (got "NA")'),
])
def test_tampered_model_json(run, change, message):
    edit_model_json(run, change)
    assert load_error(run) == f"{run / 'model.json'}: {message}"


def test_model_json_with_a_non_json_number(run):
    text = (run / "model.json").read_text()
    (run / "model.json").write_text(text.replace('"offset": [', '"offset": [NaN, ', 1))
    assert load_error(run).startswith(f"{run / 'model.json'}: not valid JSON: NaN is not a "
                                      "JSON number")


def test_model_json_not_an_object(run):
    (run / "model.json").write_text("[1, 2]")
    assert load_error(run) == f"{run / 'model.json'}: expected a JSON object"


def test_model_json_not_json(run):
    (run / "model.json").write_text("{'layers': ")
    assert load_error(run).startswith(f"{run / 'model.json'}: not valid JSON: ")


def test_model_json_shapes_must_match_the_weights(run):
    # Consistent in itself (a 4-unit hidden layer) but not with weights.npz.
    edit_model_json(run, lambda d: d["layers"][0].update(units=4))
    assert load_error(run) == (f"{run / 'weights.npz'}: W1: shape (2, 16) (expected (2, 4) "
                               "from model.json's layers)")
