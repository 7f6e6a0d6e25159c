"""Turn a loaded dataset into training arrays: split, scale, encode targets (NumPy only).

Samples are rows: ``X (n, features)``; targets handed to the network are always 2-D
``(n, outputs)``. ``decode_outputs`` is the one place that maps network outputs back to labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..metrics import class_index

from nncli.errors import InputError


def _half_up(x: float) -> int:
    """Round half up (0.5 -> 1, 2.5 -> 3), unlike Python's round-half-to-even."""
    return int(np.floor(x + 0.5 + 1e-9))


def split_indices(
    y: np.ndarray, task: str, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx), each sorted ascending; ``fraction`` of the rows go to validation.

    Classification is stratified: each class gives ``round(fraction * count)`` rows (half up),
    keeping at least one training row; if that gives no validation row at all while
    ``fraction > 0``, one row of the largest class is taken. Regression takes
    ``round(fraction * n)`` rows, at least one when ``fraction > 0``. The rows taken are chosen
    by ``rng`` (classes in sorted order, one permutation each).
    """
    n = len(y)
    if not 0 <= fraction < 1:
        raise InputError(f"data.validation: must be in [0, 1), got {fraction}")
    if fraction == 0:
        return np.arange(n), np.empty(0, dtype=np.int64)
    if task == "classification":
        val = _stratified(np.asarray(y), fraction, rng)
    else:
        k = max(_half_up(fraction * n), 1)
        if k >= n:
            raise InputError(
                f"data.validation: {fraction} of {n} rows leaves no rows for training"
            )
        val = rng.permutation(n)[:k]
    val = np.sort(val)
    train = np.setdiff1d(np.arange(n), val, assume_unique=True)
    if len(train) == 0:
        raise InputError(f"data.validation: {fraction} of {n} rows leaves no rows for training")
    return train, val


def _stratified(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    members = [rng.permutation(np.flatnonzero(inverse == c)) for c in range(len(classes))]
    take = [min(_half_up(fraction * int(m)), int(m) - 1) for m in counts]
    if sum(take) == 0:
        largest = int(np.argmax(counts))  # first of the largest, in sorted class order
        if counts[largest] < 2:
            raise InputError(
                f"data.validation: {len(y)} rows with one row per class leave none for validation; "
                "use validation: 0"
            )
        take[largest] = 1
    return np.concatenate([m[:k] for m, k in zip(members, take)]).astype(np.int64)


@dataclass
class Scaler:
    """Per-feature affine scaling ``(X - offset) / scale``, fitted on the training rows only.

    standard: offset mean, scale std; minmax: offset min, scale max - min; none: identity.
    A constant feature gets scale 1.
    """

    kind: str = "none"
    offset: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.ones(0))

    @classmethod
    def fit(cls, X: np.ndarray, kind: str, rows: np.ndarray | None = None,
            numeric: np.ndarray | None = None, what: str = "data.scale") -> "Scaler":
        """Fit on the rows ``rows`` of ``X (n, features)`` (all rows if None); columns where
        ``numeric`` is False (one-hot inputs) keep offset 0 and scale 1.

        Statistics are accumulated over blocks of rows, so no copy of the training rows is made.
        """
        k = X.shape[1]
        with np.errstate(over="ignore", invalid="ignore"):
            if kind == "standard":
                n = len(X) if rows is None else len(rows)
                offset = sum(block.sum(axis=0) for block in _blocks(X, rows)) / n
                scale = np.sqrt(sum(((block - offset) ** 2).sum(axis=0)
                                    for block in _blocks(X, rows)) / n)
            elif kind == "minmax":
                offset = np.min([block.min(axis=0) for block in _blocks(X, rows)], axis=0)
                scale = np.max([block.max(axis=0) for block in _blocks(X, rows)], axis=0) - offset
            elif kind == "none":
                offset, scale = np.zeros(k), np.ones(k)
            else:
                raise InputError(f"{what}: expected standard, minmax or none, got {kind!r}")
        if numeric is not None:
            offset, scale = np.where(numeric, offset, 0.0), np.where(numeric, scale, 1.0)
        bad = ~(np.isfinite(offset) & np.isfinite(scale))
        if bad.any():
            j = int(np.argmax(bad))
            raise InputError(f"{what}: column {j + 1} has values too large to scale ({kind})")
        scale = np.where(scale == 0, 1.0, scale)
        return cls(kind, offset, scale)

    def transform(self, X: np.ndarray, out_dtype=np.float64,
                  rows: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Scaled rows ``rows`` of ``X (n, features)`` (all if None), in ``out_dtype``.

        Computed in float64 block by block, so the only full-size array made is the result:
        ``out`` if given (it may be ``X`` itself, with ``rows`` None: scaling in place), else a
        new array. Values too large for ``out_dtype`` become inf; checking finiteness is the
        caller's job.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.offset):
            got = X.shape[1] if X.ndim == 2 else f"shape {X.shape}"
            raise InputError(f"expected {len(self.offset)} feature columns, got {got}")
        if out is None:
            out = np.empty((len(X) if rows is None else len(rows), X.shape[1]), out_dtype)
        start = 0
        with np.errstate(over="ignore"):
            for block in _blocks(X, rows):
                out[start:start + len(block)] = (block - self.offset) / self.scale
                start += len(block)
        return out

    def inverse(self, X: np.ndarray) -> np.ndarray:
        """Scaled rows back in the data's units (float64; up to the rounding of ``X``)."""
        return np.asarray(X, dtype=np.float64) * self.scale + self.offset

    def to_dict(self) -> dict:
        """Plain JSON-ready form for model.json."""
        return {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist()}


BLOCK_ROWS = 65536


def training_matrix(X: np.ndarray, scaler: Scaler, dtype, train_idx: np.ndarray,
                    val_idx: np.ndarray) -> np.ndarray:
    """The scaled features in ``dtype``: the training rows (in order), then the validation rows.

    So each split is a contiguous slice, and training reads its rows without a copy per split.
    When ``X`` already has ``dtype`` (generated data) everything happens in X's own memory,
    which then holds the result: the features exist once. Otherwise X is left untouched.
    """
    if X.dtype != np.dtype(dtype):
        return scaler.transform(X, dtype, rows=np.concatenate([train_idx, val_idx]))
    scaler.transform(X, out=X)
    if len(val_idx):
        validation = X[val_idx]
        # Sorted distinct rows only move up (train_idx[k] >= k), and each block is gathered
        # before it is written, so no row is overwritten before it is read.
        for start in range(0, len(train_idx), BLOCK_ROWS):
            rows = train_idx[start:start + BLOCK_ROWS]
            X[start:start + len(rows)] = X[rows]
        X[len(train_idx):] = validation
    return X


def _blocks(X: np.ndarray, rows: np.ndarray | None):
    """Consecutive blocks of the rows ``rows`` of X (all rows if None), as float64."""
    n = len(X) if rows is None else len(rows)
    for start in range(0, n, BLOCK_ROWS):
        block = X[start:start + BLOCK_ROWS] if rows is None else X[rows[start:start + BLOCK_ROWS]]
        yield np.asarray(block, dtype=np.float64)


def encode_targets(
    labels: np.ndarray, classes: list, n_outputs: int, dtype=np.float64
) -> np.ndarray:
    """Class labels -> network targets (n, n_outputs).

    ``n_outputs == len(classes)``: one-hot in the order of ``classes`` (sorted).
    ``n_outputs == 1`` with two classes: one 0/1 column, 1 for the larger label (``classes[1]``).
    """
    k = len(classes)
    if n_outputs != k and not (n_outputs == 1 and k == 2):
        need = f"1 unit (binary, sigmoid) or {k} units" if k == 2 else f"{k} units"
        raise InputError(
            f"network.layers: the output layer has {n_outputs} units, but the target has "
            f"{k} classes, so it must have {need}"
        )
    index = _class_index(labels, classes)
    if n_outputs == 1:
        return index.astype(dtype).reshape(-1, 1)
    out = np.zeros((len(index), k), dtype=dtype)
    out[np.arange(len(index)), index] = 1
    return out


def decode_outputs(outputs: np.ndarray, classes: list) -> np.ndarray:
    """Network outputs (n, k) -> labels: argmax over k columns, or ``>= 0.5`` for one column.

    Returns an int64 array for integer classes, an object array of str otherwise.
    """
    outputs = np.asarray(outputs)
    k = outputs.shape[1]
    if not (k == len(classes) or (k == 1 and len(classes) == 2)):
        raise InputError(f"the model has {k} outputs for {len(classes)} classes")
    return _label_array(classes)[class_index(outputs)]


def target_matrix(dataset, labels: np.ndarray, n_outputs: int, dtype=np.float64) -> np.ndarray:
    """The 2-D targets of ``labels`` (rows of a ``sources.Dataset``'s y) for a network with
    ``n_outputs`` units."""
    if dataset.task == "classification":
        return encode_targets(labels, dataset.classes, n_outputs, dtype)
    t = labels.shape[1]
    if n_outputs != t:
        raise InputError(
            f"network.layers: the output layer has {n_outputs} units, but the data has "
            f"{t} target column{'s' if t != 1 else ''}"
        )
    return labels.astype(dtype)


def _label_array(classes: list) -> np.ndarray:
    if all(isinstance(c, (int, np.integer)) for c in classes):
        return np.asarray(classes, dtype=np.int64)
    out = np.empty(len(classes), dtype=object)
    out[:] = list(classes)
    return out


def _class_index(labels: np.ndarray, classes: list) -> np.ndarray:
    """Position of each label in ``classes``; an unknown label is an error."""
    labels = np.asarray(labels)
    lookup = {c: i for i, c in enumerate(classes)}
    uniq, inverse = np.unique(labels, return_inverse=True)
    pos = np.empty(len(uniq), dtype=np.int64)
    for u, value in enumerate(uniq.tolist()):
        if value not in lookup:
            raise InputError(f"label {value!r} is not one of the classes {classes}")
        pos[u] = lookup[value]
    return pos[inverse.reshape(-1)]
