"""A trained run, loaded back from its directory: ``nncli.load_run(path).predict(X)``.

The run directory describes itself: model.json gives the layers, preprocessing and labels
(its format is declared once, in :mod:`nncli.runs.model_file`), weights.npz the parameters.
Nothing in a run directory is trusted: model.json is checked against its schema before use,
and weights.npz is read member by member with ``allow_pickle=False``, each member's header
(name, dtype, shape) checked against model.json before its data is read, then its values
checked finite. Any problem is an InputError naming the file and what is wrong; nothing in the
files can run code. Raw rows become network inputs through the run's one
:class:`~nncli.data.features.Preprocessing` (fill, encode, scale), and predictions come from
the engine's one forward pass, in chunks, exactly as training evaluated the validation split.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .. import memory
from ..data.features import Column, Encoded, Preprocessing
from ..data.prepare import Scaler, decode_outputs
from ..engine.activations import make_activation
from ..engine.losses import LOSSES, Loss
from ..engine.network import Layer, Network
from ..errors import InputError, NncliWarning
from ..metrics import METRICS
from .formats import read_metrics
from .model_file import ModelFile, read_model_file
from .npz import read_npz


@dataclass
class TrainedModel:
    """A run's network with its preprocessing and labels. Samples are rows: X (n, features)."""

    path: Path
    network: Network
    preprocessing: Preprocessing
    task: str  # classification | regression
    loss: Loss
    feature_names: list[str]  # the raw feature columns, in order
    input_names: list[str]  # the network's inputs (``island=Biscoe`` for a one-hot input)
    target_names: list[str]
    classes: list  # original labels (ints or strs), sorted; [] for regression
    status: str | None  # metrics.json status (finished, diverged, interrupted); None if unknown
    description: dict  # model.json as loaded (and checked against model_file)
    model_file: ModelFile  # model.json, typed

    @property
    def metric(self):
        """The task metric training reported: accuracy or r2 (:class:`nncli.metrics.Metric`)."""
        return METRICS[self.task]

    @property
    def scaler(self) -> Scaler:
        return self.preprocessing.scaler

    def dialect(self, delimiter: str = ","):
        """How to read new CSV rows for this run (see ``ModelFile.dialect``)."""
        return self.model_file.dialect(delimiter)

    def columns(self, X) -> list[Column]:
        """Raw feature columns from ``X``: an array-like (n, features), columns in the order of
        ``feature_names`` (text allowed in categorical columns; None or NaN is missing), or a
        mapping of feature name to values (a dict, or a pandas DataFrame)."""
        if isinstance(X, Mapping) or hasattr(X, "columns"):
            absent = [name for name in self.feature_names if name not in X]
            if absent:
                raise InputError(f"X: missing feature column(s) {', '.join(map(repr, absent))}")
            return [Column.from_values(name, np.asarray(X[name], dtype=object)
                                       if self._categorical(k) else _numbers(X[name], name))
                    for k, name in enumerate(self.feature_names)]
        X = _rows(X)
        k = len(self.feature_names)
        if X.ndim != 2 or X.shape[1] != k:
            raise InputError(f"X: expected rows of {k} features ({', '.join(self.feature_names)}),"
                             f" got an array of shape {X.shape}")
        return [Column.from_values(name, X[:, j] if self._categorical(j)
                                   else _numbers(X[:, j], name))
                for j, name in enumerate(self.feature_names)]

    def _categorical(self, j: int) -> bool:
        return self.preprocessing.columns[j].kind == "categorical"

    def inputs(self, columns: list[Column], row_name: Callable[[int], str] | None = None
               ) -> Encoded:
        """Raw columns -> the network's inputs, in the run's dtype: the run's filling,
        encoding and scaling. Rows that cannot be predicted (a missing value the run does not
        fill) are marked in ``usable``; ``unseen`` marks rows with a category training never
        saw (encoded as all zeros)."""
        name = row_name or (lambda i: f"X row {i}")
        for col in columns:
            if col.is_numeric:
                bad = np.isinf(col.numbers)
                if bad.any():
                    i = int(np.argmax(bad))
                    raise InputError(f"{name(i)}: {col.name!r} is {col.numbers[i]}, not a finite "
                                     "number")
        encoded = self.preprocessing.inputs(columns, self.network.dtype)
        bad = ~np.isfinite(encoded.X)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"{name(int(i))}: {self.input_names[j]!r} is too large for "
                             f"{self.network.dtype} after scaling")
        return encoded

    def forward(self, inputs: np.ndarray) -> np.ndarray:
        """Raw network outputs (n, outputs) of network inputs, chunk by chunk."""
        out = np.empty((len(inputs), self.network.n_outputs), dtype=self.network.dtype)
        for rows, chunk in self.network.forward_chunks(inputs):
            out[rows] = chunk
        return out

    def outputs(self, X, row_name: Callable[[int], str] | None = None) -> np.ndarray:
        """Raw network outputs (n, outputs) for feature rows X (see :meth:`columns`); a row
        that cannot be predicted is an error, an unseen category a warning."""
        name = row_name or (lambda i: f"X row {i}")
        encoded = self.inputs(self.columns(X), name)
        if not encoded.usable.all():
            i, column = encoded.first_missing
            raise InputError(f"{name(i)}: {column!r} is missing, and the run fills no missing "
                             f"values (data.missing: {self.preprocessing.missing})")
        warn_unseen(int(np.count_nonzero(encoded.unseen)))
        return self.forward(encoded.X)

    def predict(self, X) -> np.ndarray:
        """Class labels (the original values, (n,)) for classification; (n, targets) values
        in the target's units for regression."""
        return self.decode(self.outputs(X))

    def predict_proba(self, X) -> np.ndarray:
        """(n, classes) class probabilities, columns in the order of ``classes``."""
        if self.task != "classification":
            raise InputError(f"{self.path}: probabilities need a classification run, "
                             "this one is regression")
        return self.probabilities(self.outputs(X))

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs -> predictions: labels for classification, values in the
        target's units (the target scaling undone) for regression."""
        if self.task == "classification":
            return decode_outputs(outputs, self.classes)
        return self.preprocessing.target_scaler.inverse(outputs)

    @staticmethod
    def probabilities(outputs: np.ndarray) -> np.ndarray:
        """Class probabilities from classification outputs: one sigmoid/step unit gives
        P(larger class), so the smaller class gets 1 - p."""
        if outputs.shape[1] == 1:
            return np.hstack([1 - outputs, outputs])
        return outputs


def warn_unseen(rows: int) -> None:
    """One warning for the rows with a category that training never saw."""
    if rows:
        warnings.warn(NncliWarning(
            f"{rows} row{'s hold' if rows != 1 else ' holds'} a category not seen in training "
            "(encoded as all zeros)"), stacklevel=3)


def _rows(X) -> np.ndarray:
    """X as an array: numbers as they are (no copy), anything else as objects."""
    try:
        array = np.asarray(X)
    except (ValueError, TypeError):  # ragged rows: an object array, which the shape check names
        array = None
    if array is None or array.dtype.kind not in "fiub":
        array = np.asarray(X, dtype=object)
    return array


def _numbers(values, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"X: column {name!r} is not numeric: {e}") from None


def load_run(path: str | Path) -> TrainedModel:
    """Load and check a run directory written by ``nncli train``."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: " + ("not a directory" if path.exists()
                                        else "no such run directory"))
    raw: dict = {}
    description = read_model_file(path / "model.json", raw)
    memory.require(f"{path / 'model.json'}: layers", memory.model(
        [layer.units for layer in description.layers], description.input,
        np.dtype(description.dtype).itemsize))
    arrays = read_weights(path / "weights.npz", description.shapes,
                          np.dtype(description.dtype))
    layers = []
    for i, layer in enumerate(description.layers, start=1):
        activation = make_activation(layer.activation, alpha=layer.alpha)
        layers.append(Layer(arrays[f"W{i}"], arrays.get(f"b{i}"), activation))
    return trained_model(path, description, raw, Network(layers), _status(path / "metrics.json"))


def trained_model(path: Path, description: ModelFile, raw: dict, network: Network,
                  status: str | None) -> TrainedModel:
    """The model a checked model.json and its network describe: what :func:`load_run` reads
    from a run directory, and what the trainer holds in memory for the pictures."""
    return TrainedModel(
        path=path, network=network, preprocessing=description.preprocessing(),
        task=description.task, loss=LOSSES[description.loss],
        feature_names=list(description.feature_names),
        input_names=list(description.input_names),
        target_names=list(description.target_names), classes=list(description.classes),
        status=status, description=raw, model_file=description)


def _status(file: Path) -> str | None:
    """metrics.json's status, only to warn about a run that did not finish; None if unknown
    (predict needs no metrics.json: a damaged one does not stop it)."""
    try:
        return read_metrics(file)["status"]
    except InputError:
        return None


# --- weights.npz ---------------------------------------------------------------------------

def read_weights(file: Path, shapes: dict[str, tuple[int, ...]], dtype: np.dtype
                 ) -> dict[str, np.ndarray]:
    """The arrays of weights.npz, each checked against ``shapes`` and ``dtype``.

    Each member's .npy header is read first (nncli.runs.npz), so a wrong name, dtype (an
    object array needing pickle included) or shape is refused before any of its data is read.
    """
    if not file.is_file():
        raise InputError(f"{file.parent}: no {file.name} (not a finished nncli run)")

    def check(name: str, got_shape: tuple, got_dtype: np.dtype) -> None:
        if got_dtype != dtype:
            raise InputError(f"{file}: {name}: dtype {got_dtype} (expected {dtype}, as "
                             "model.json says)")
        if got_shape != shapes[name]:
            raise InputError(f"{file}: {name}: shape {got_shape} (expected {shapes[name]} "
                             "from model.json's layers)")

    arrays = read_npz(file, lambda name: name in shapes,
                      f"model.json's layers give {', '.join(shapes)}", check)
    absent = [name for name in shapes if name not in arrays]
    if absent:
        raise InputError(f"{file}: missing {', '.join(absent)}; model.json's layers give "
                         f"{', '.join(shapes)}")
    for name, array in arrays.items():
        if not np.all(np.isfinite(array)):
            raise InputError(f"{file}: {name}: holds values that are not finite")
    return {name: np.ascontiguousarray(arrays[name]) for name in shapes}
