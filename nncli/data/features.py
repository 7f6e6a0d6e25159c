"""Raw feature columns -> network inputs: fill missing cells, one-hot encode, scale (NumPy only).

A raw column is numeric (float64, NaN where a cell is missing) or text (integer codes into its
``levels``, -1 where a cell is missing). How each column becomes inputs is an
:class:`Encoding`, fitted on the training rows only; a :class:`Preprocessing` holds one per
feature column, the input scaler and the target scaler. Its :meth:`Preprocessing.encode` is the
one place that turns raw columns into network inputs, for training, ``predict`` and
``evaluate`` alike: a numeric column is one input; a categorical column is one input per
category learned in training (``island=Biscoe``), all zero for a category never seen there.
A missing cell is filled (``mean``, ``median``, ``most_frequent``) or makes its row one that
cannot be predicted (``error``, ``drop``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .prepare import Scaler

MISSING = ("error", "drop", "mean", "median", "most_frequent")
# The cells read as missing unless data.na_values says otherwise.
NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "?")
# A text column with more distinct values than this share of the training rows (and more than
# MIN_CATEGORIES) is an ID or free text: one-hot encoding it would learn nothing and cost a
# column per row.
MAX_CATEGORY_SHARE = 0.5
MIN_CATEGORIES = 20


@dataclass
class Column:
    """One raw column: numeric (``numbers``) or text (``codes`` into ``levels``)."""

    name: str
    numbers: np.ndarray | None = None  # float64 (n,), NaN where missing
    codes: np.ndarray | None = None  # int (n,), -1 where missing
    levels: list | None = None  # the distinct values the codes point at (str or float)

    @property
    def is_numeric(self) -> bool:
        return self.numbers is not None

    def __len__(self) -> int:
        return len(self.numbers if self.is_numeric else self.codes)

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.numbers) if self.is_numeric else self.codes < 0

    def take(self, rows: np.ndarray) -> "Column":
        if self.is_numeric:
            return Column(self.name, numbers=self.numbers[rows])
        return Column(self.name, codes=self.codes[rows], levels=self.levels)

    def as_categorical(self) -> "Column":
        """The column with its values as categories (numeric codes keep their numbers)."""
        if not self.is_numeric:
            return self
        present = ~np.isnan(self.numbers)
        levels, inverse = np.unique(self.numbers[present], return_inverse=True)
        codes = np.full(len(self.numbers), -1, dtype=np.int64)
        codes[present] = inverse
        return Column(self.name, codes=codes, levels=[float(v) for v in levels])

    def labels(self) -> np.ndarray:
        """The values as an object array (text or floats), None where missing."""
        if self.is_numeric:
            out = self.numbers.astype(object)
        else:
            table = np.empty(len(self.levels) + 1, dtype=object)
            table[:-1] = self.levels
            out = table[self.codes]  # code -1 picks the last entry: None
        out[self.missing] = None
        return out

    @classmethod
    def from_values(cls, name: str, values) -> "Column":
        """A column from Python/NumPy values: numbers when every present value is a number
        (``None`` and NaN are missing), else text (``None`` is missing)."""
        values = np.asarray(values, dtype=object if _has_text(values) else np.float64)
        if values.dtype != object:
            return cls(name, numbers=values.astype(np.float64))
        present = np.array([v is not None and not (isinstance(v, float) and np.isnan(v))
                            for v in values], dtype=bool)
        text = np.array([str(v) for v in values[present]], dtype=object)
        levels, inverse = np.unique(text, return_inverse=True) if len(text) else ([], [])
        codes = np.full(len(values), -1, dtype=np.int64)
        codes[present] = inverse
        return cls(name, codes=codes, levels=list(levels))


def _has_text(values) -> bool:
    return any(isinstance(v, str) for v in np.asarray(values, dtype=object).ravel())


def category_name(value) -> str:
    """A category as it appears in an input's name: ``island=Biscoe``, ``rank=2``."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


@dataclass
class Encoding:
    """How one raw feature column becomes network inputs (fitted on the training rows)."""

    name: str
    kind: str = "numeric"  # numeric | categorical
    fill: float | str | None = None  # the value a missing cell gets; None: the row is unusable
    categories: list | None = None  # categorical: sorted (text, or numbers for codes)

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.categories)

    @property
    def input_names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={category_name(c)}" for c in self.categories]


@dataclass
class Encoded:
    """Network inputs of n raw rows, and what happened to each row."""

    X: np.ndarray  # (n, inputs); rows that are not ``usable`` hold zeros
    usable: np.ndarray  # (n,) bool: every feature present or filled
    unseen: np.ndarray  # (n,) bool: some category was not seen in training (encoded as zeros)
    first_missing: tuple[int, str] | None = None  # (row, column) of the first unusable cell


@dataclass
class Preprocessing:
    """Everything between raw columns and the network, as recorded in model.json."""

    columns: list[Encoding]
    scaler: Scaler  # per network input; identity on one-hot inputs
    target_scaler: Scaler = field(default_factory=Scaler)  # regression targets; none otherwise
    missing: str = "error"

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def input_names(self) -> list[str]:
        return [name for c in self.columns for name in c.input_names]

    @property
    def n_inputs(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def categorical(self) -> bool:
        return any(c.kind == "categorical" for c in self.columns)

    def encode(self, columns: list[Column], out: np.ndarray | None = None) -> Encoded:
        """Raw columns (in the order of ``feature_names``) -> unscaled inputs, float64."""
        n = len(columns[0]) if columns else 0
        X = np.empty((n, self.n_inputs)) if out is None else out
        usable = np.ones(n, dtype=bool)
        unseen = np.zeros(n, dtype=bool)
        first: tuple[int, str] | None = None
        start = 0
        for enc, col in zip(self.columns, columns):
            missing = col.missing
            if enc.kind == "numeric":
                X[:, start] = col.numbers
                if missing.any():
                    X[missing, start] = 0.0 if enc.fill is None else enc.fill
            else:
                index = self._category_index(enc, col)
                if enc.fill is not None:
                    index[missing] = enc.categories.index(enc.fill)
                unseen |= (index == -1) & ~missing
                block = X[:, start:start + enc.width]
                block[...] = 0.0
                hit = np.flatnonzero(index >= 0)
                block[hit, index[hit]] = 1.0
            if enc.fill is None and missing.any():
                usable &= ~missing
                i = int(np.argmax(missing))
                if first is None or i < first[0]:
                    first = (i, enc.name)
            start += enc.width
        if not usable.all():
            X[~usable] = 0.0
        return Encoded(X, usable, unseen & usable, first)

    @staticmethod
    def _category_index(enc: Encoding, col: Column) -> np.ndarray:
        """Each row's position in ``enc.categories``; -1 for missing or unseen."""
        if col.is_numeric:
            col = col.as_categorical()
        position = {_key(c): k for k, c in enumerate(enc.categories)}
        lookup = np.array([position.get(_key(v), -1) for v in col.levels] + [-1],
                          dtype=np.int64)
        return lookup[col.codes]  # code -1 picks the appended -1

    def inputs(self, columns: list[Column], dtype) -> Encoded:
        """Raw columns -> the network's inputs in ``dtype``: :meth:`encode`, then the scaler."""
        encoded = self.encode(columns)
        encoded.X = self.scaler.transform(encoded.X, dtype, out=encoded.X
                                          if np.dtype(dtype) == np.float64 else None)
        if not encoded.usable.all():
            encoded.X[~encoded.usable] = 0
        return encoded


def _key(value):
    """Categories match by value: the number 2 and the text "2.0" of a code column agree."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return float(value)


# --- fitting on the training rows --------------------------------------------------------

def fit_encodings(columns: list[Column], train: np.ndarray, missing: str,
                  categorical: set[str], what: str = "data") -> list[Encoding]:
    """One :class:`Encoding` per column, learned from the rows ``train`` only."""
    return [_fit_one(col, train, missing, col.name in categorical, what) for col in columns]


def _fit_one(col: Column, train: np.ndarray, missing: str, categorical: bool,
             what: str) -> Encoding:
    fills = missing in ("mean", "median", "most_frequent")
    if col.is_numeric and not categorical:
        fill = None
        if fills:
            values = col.numbers[train]
            values = values[~np.isnan(values)]
            if len(values) == 0:
                raise InputError(f"{what}: column {col.name!r} has no value in the training "
                                 f"rows to compute its {missing} from")
            fill = float({"mean": np.mean, "median": np.median,
                          "most_frequent": _most_frequent}[missing](values))
        return Encoding(col.name, "numeric", fill)
    col = col.as_categorical()
    codes = col.codes[train]
    codes = codes[codes >= 0]
    counts = np.bincount(codes, minlength=len(col.levels))
    present = np.flatnonzero(counts)
    if len(present) == 0:
        raise InputError(f"{what}: column {col.name!r} has no value in the training rows")
    if not categorical and len(present) > max(MIN_CATEGORIES, MAX_CATEGORY_SHARE * len(train)):
        raise InputError(
            f"data.features: column {col.name!r} holds {len(present)} different texts in "
            f"{len(train)} training rows (an ID or free text?); leave it out with data.exclude")
    order = sorted(present, key=lambda k: _sort_key(col.levels[k]))
    categories = [col.levels[k] for k in order]
    fill = None
    if fills:  # text has no mean or median: the most frequent category (ties: the first)
        fill = categories[int(np.argmax(counts[order]))]
    return Encoding(col.name, "categorical", fill, categories)


def _sort_key(value):
    return (0, value, "") if not isinstance(value, str) else (1, 0.0, value)


def _most_frequent(values: np.ndarray) -> float:
    """The most frequent value; ties go to the smallest (as scikit-learn's SimpleImputer)."""
    uniq, counts = np.unique(values, return_counts=True)
    return uniq[int(np.argmax(counts))]
