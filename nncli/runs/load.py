"""A trained run, loaded back from its directory: ``nncli.load_run(path).predict(X)``.

The run directory describes itself: model.json gives the layers, preprocessing and labels,
weights.npz the parameters. Nothing in a run directory is trusted: model.json is checked key by
key before use, and weights.npz is read member by member with ``allow_pickle=False``, each
member's header (name, dtype, shape) checked against model.json before its data is read, then
its values checked finite. Any problem is an InputError naming the file and what is wrong;
nothing in the files can run code. Prediction uses the engine's one forward pass, in chunks,
exactly as training evaluated the validation split.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.prepare import Scaler, decode_outputs
from ..engine.activations import ACTIVATIONS, make_activation
from ..engine.losses import LOSSES, Loss
from ..engine.network import Layer, Network
from ..errors import InputError
from ..metrics import METRICS
from .formats import FORMAT_VERSION


@dataclass
class TrainedModel:
    """A run's network with its preprocessing and labels. Samples are rows: X (n, features)."""

    path: Path
    network: Network
    scaler: Scaler
    task: str  # classification | regression
    loss: Loss
    feature_names: list[str]
    target_names: list[str]
    classes: list  # original labels (ints or strs), sorted; [] for regression
    status: str | None  # metrics.json status (finished, diverged, interrupted); None if unknown
    description: dict  # model.json as loaded (and checked)

    @property
    def metric(self):
        """The task metric training reported: accuracy or r2 (:class:`nncli.metrics.Metric`)."""
        return METRICS[self.task]

    def scale(self, X, row_name: Callable[[int], str] | None = None) -> np.ndarray:
        """Feature rows -> the network's inputs: the run's fitted scaling, in the run's dtype.

        ``X`` is (n, features), columns in the order of ``feature_names``.
        ``row_name(i)`` names row i in messages (default: "X row i", 0-based).
        """
        X = self._feature_matrix(X)
        name = row_name or (lambda i: f"X row {i}")
        bad = ~np.isfinite(X)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"{name(int(i))}: {self.feature_names[j]!r} is {X[i, j]}, "
                             "not a finite number")
        scaled = self.scaler.transform(X, self.network.dtype)
        bad = ~np.isfinite(scaled)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"{name(int(i))}: {self.feature_names[j]!r} = {X[i, j]} is too "
                             f"large for {self.network.dtype} after scaling")
        return scaled

    def outputs(self, X, row_name: Callable[[int], str] | None = None) -> np.ndarray:
        """Raw network outputs (n, outputs) for unscaled feature rows X (see :meth:`scale`)."""
        scaled = self.scale(X, row_name)
        out = np.empty((len(scaled), self.network.n_outputs), dtype=self.network.dtype)
        for rows, chunk in self.network.forward_chunks(scaled):
            out[rows] = chunk
        return out

    def predict(self, X) -> np.ndarray:
        """Class labels (the original values, (n,)) for classification; (n, targets) values
        for regression."""
        return self.decode(self.outputs(X))

    def predict_proba(self, X) -> np.ndarray:
        """(n, classes) class probabilities, columns in the order of ``classes``."""
        if self.task != "classification":
            raise InputError(f"{self.path}: probabilities need a classification run, "
                             "this one is regression")
        return self.probabilities(self.outputs(X))

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs -> predictions: labels for classification, the outputs otherwise."""
        if self.task == "classification":
            return decode_outputs(outputs, self.classes)
        return outputs

    @staticmethod
    def probabilities(outputs: np.ndarray) -> np.ndarray:
        """Class probabilities from classification outputs: one sigmoid/step unit gives
        P(larger class), so the smaller class gets 1 - p."""
        if outputs.shape[1] == 1:
            return np.hstack([1 - outputs, outputs])
        return outputs

    def _feature_matrix(self, X) -> np.ndarray:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InputError(f"X: not numeric: {e}") from None
        k = self.network.n_inputs
        if X.ndim != 2 or X.shape[1] != k:
            raise InputError(f"X: expected rows of {k} features ({', '.join(self.feature_names)}),"
                             f" got an array of shape {X.shape}")
        return X


def load_run(path: str | Path) -> TrainedModel:
    """Load and check a run directory written by ``nncli train``."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: " + ("not a directory" if path.exists()
                                        else "no such run directory"))
    description = _read_json(path / "model.json")
    spec = check_description(description, path / "model.json")
    arrays = read_weights(path / "weights.npz", spec.shapes, spec.dtype)
    layers = []
    for i, layer in enumerate(spec.layers, start=1):
        activation = make_activation(layer["activation"], alpha=layer.get("alpha"))
        layers.append(Layer(arrays[f"W{i}"], arrays.get(f"b{i}"), activation))
    return TrainedModel(
        path=path, network=Network(layers), scaler=spec.scaler, task=description["task"],
        loss=LOSSES[description["loss"]], feature_names=description["feature_names"],
        target_names=description["target_names"], classes=description["classes"],
        status=_status(path / "metrics.json"), description=description)


# --- model.json ----------------------------------------------------------------------------

@dataclass
class _Spec:
    dtype: np.dtype
    layers: list[dict]
    shapes: dict[str, tuple[int, ...]]  # weights.npz member -> shape, in order W1, b1, W2, ...
    scaler: Scaler


def _read_json(file: Path) -> dict:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{file.parent}: no {file.name} (not a finished nncli run)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{file}: cannot read: {e}") from None
    try:
        # JSON has no NaN or Infinity; Python's parser accepts them, so refuse them here.
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as e:
        raise InputError(f"{file}: not valid JSON: {e}") from None
    except RecursionError:
        raise InputError(f"{file}: not a model description (nested too deeply)") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def check_description(d, file: Path) -> _Spec:
    """Check every key predict and evaluate use; returns what loading the weights needs."""
    def bad(key: str, expected: str, got=None):
        shown = "" if got is None else f", got {json.dumps(got)[:80]}"
        return InputError(f"{file}: {key}: expected {expected}{shown}")

    def get(key: str, expected: str, ok: Callable[[object], bool], obj=None, where=None):
        obj = d if obj is None else obj
        where = where or key
        if key not in obj:
            raise InputError(f"{file}: missing key {where!r}")
        value = obj[key]
        if not ok(value):
            raise bad(where, expected, value)
        return value

    if not isinstance(d, dict):
        raise InputError(f"{file}: expected a JSON object")
    version = get("format_version", "a whole number >= 1", lambda v: _is_int(v) and v >= 1)
    if version > FORMAT_VERSION:
        raise InputError(f"{file}: written in run format {version} by a newer nncli "
                         f"(nncli {d.get('nncli_version', '?')}); this nncli reads format "
                         f"{FORMAT_VERSION} and older: upgrade nncli to use this run")
    dtype = get("dtype", "float32 or float64", lambda v: v in ("float32", "float64"))
    task = get("task", "classification or regression",
               lambda v: v in ("classification", "regression"))
    get("loss", "one of " + ", ".join(LOSSES), lambda v: isinstance(v, str) and v in LOSSES)
    n_inputs = get("input", "a whole number >= 1", lambda v: _is_int(v) and v >= 1)
    layers = get("layers", "a non-empty list of layers",
                 lambda v: isinstance(v, list) and len(v) > 0)
    shapes: dict[str, tuple[int, ...]] = {}
    fan_in = n_inputs
    for i, layer in enumerate(layers):
        where = f"layers[{i}]"
        if not isinstance(layer, dict):
            raise bad(where, "an object with units, activation and bias", layer)
        units = get("units", "a whole number >= 1", lambda v: _is_int(v) and v >= 1,
                    layer, f"{where}.units")
        get("activation", "one of " + ", ".join(ACTIVATIONS),
            lambda v: isinstance(v, str) and v in ACTIVATIONS, layer, f"{where}.activation")
        has_bias = get("bias", "true or false", lambda v: isinstance(v, bool), layer,
                       f"{where}.bias")
        if "alpha" in layer:
            get("alpha", "a number in [0, 1)", lambda v: _is_number(v) and 0 <= v < 1,
                layer, f"{where}.alpha")
        shapes[f"W{i + 1}"] = (fan_in, units)
        if has_bias:
            shapes[f"b{i + 1}"] = (units,)
        fan_in = units
    n_outputs = fan_in

    def names(v, n):
        return (isinstance(v, list) and len(v) == n and all(isinstance(s, str) for s in v)
                and len(set(v)) == n)

    get("feature_names", f"a list of {n_inputs} distinct column names (input)",
        lambda v: names(v, n_inputs))
    if task == "classification":
        get("target_names", "a list of one column name", lambda v: names(v, 1))
        classes = get("classes", "a list of at least 2 distinct labels, all integers or all "
                      "strings", _classes_ok)
        if not (n_outputs == len(classes) or (n_outputs == 1 and len(classes) == 2)):
            raise InputError(f"{file}: classes: {len(classes)} classes do not fit an output "
                             f"layer of {n_outputs} units")
    else:
        get("target_names", f"a list of {n_outputs} distinct column names (one per output)",
            lambda v: names(v, n_outputs))
        get("classes", "an empty list (regression)", lambda v: v == [])
    scaler = _check_scaler(get("scaler", "an object with kind, offset and scale",
                               lambda v: isinstance(v, dict)), n_inputs, file)
    return _Spec(np.dtype(dtype), layers, shapes, scaler)


def _check_scaler(s: dict, n_inputs: int, file: Path) -> Scaler:
    if s.get("kind") not in ("standard", "minmax", "none"):
        raise InputError(f"{file}: scaler.kind: expected standard, minmax or none, "
                         f"got {json.dumps(s.get('kind'))}")
    for key in ("offset", "scale"):
        v = s.get(key)
        if not (isinstance(v, list) and len(v) == n_inputs and all(map(_is_number, v))):
            raise InputError(f"{file}: scaler.{key}: expected a list of {n_inputs} finite "
                             "numbers (one per feature)")
    if any(v == 0 for v in s["scale"]):
        raise InputError(f"{file}: scaler.scale: a scale of 0 would divide by zero")
    return Scaler.from_dict(s)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _classes_ok(v) -> bool:
    if not isinstance(v, list) or len(v) < 2:
        return False
    same_kind = all(_is_int(c) for c in v) or all(isinstance(c, str) for c in v)
    return same_kind and len(set(v)) == len(v)


def _status(file: Path) -> str | None:
    """metrics.json's status, only to warn about a run that did not finish; None if unknown."""
    try:
        status = json.loads(file.read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None
    return status if isinstance(status, str) else None


# --- weights.npz ---------------------------------------------------------------------------

def read_weights(file: Path, shapes: dict[str, tuple[int, ...]], dtype: np.dtype
                 ) -> dict[str, np.ndarray]:
    """The arrays of weights.npz, each checked against ``shapes`` and ``dtype``.

    Each member's .npy header is read first, so a wrong name, dtype (an object array needing
    pickle included) or shape is refused before any of its data is read.
    """
    if not file.is_file():
        raise InputError(f"{file.parent}: no {file.name} (not a finished nncli run)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(file) as zf:
            members = [info.filename for info in zf.infolist()]
            for member in members:
                name = member[:-4] if member.endswith(".npy") else member
                if name not in shapes or not member.endswith(".npy"):
                    raise InputError(f"{file}: unexpected member {member!r}; model.json's "
                                     f"layers give {', '.join(shapes)}")
                if name in arrays:
                    raise InputError(f"{file}: member {member!r} appears twice")
                with zf.open(member) as f:
                    arrays[name] = _read_array(f, name, shapes[name], dtype, file)
    except zipfile.BadZipFile:
        raise InputError(f"{file}: not an .npz archive") from None
    except (OSError, EOFError, zipfile.LargeZipFile) as e:
        raise InputError(f"{file}: cannot read: {e}") from None
    absent = [name for name in shapes if name not in arrays]
    if absent:
        raise InputError(f"{file}: missing {', '.join(absent)}; model.json's layers give "
                         f"{', '.join(shapes)}")
    return arrays


def _read_array(f, name: str, shape: tuple[int, ...], dtype: np.dtype, file: Path) -> np.ndarray:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        got_shape, _, got_dtype = read_header(f)
    except ValueError as e:
        raise InputError(f"{file}: {name}: not a NumPy array: {e}") from None
    if got_dtype != dtype:
        raise InputError(f"{file}: {name}: dtype {got_dtype} (expected {dtype}, as model.json "
                         "says)")
    if got_shape != shape:
        raise InputError(f"{file}: {name}: shape {got_shape} (expected {shape} from model.json's "
                         "layers)")
    f.seek(0)
    try:
        array = fmt.read_array(f, allow_pickle=False)
    except ValueError as e:
        raise InputError(f"{file}: {name}: unreadable: {e}") from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"{file}: {name}: holds values that are not finite")
    return np.ascontiguousarray(array)
