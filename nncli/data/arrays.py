"""Arrays from Python (``nncli.train(config, X, y)``) as one table of named columns, read
exactly as a CSV file is read.

X's columns, y's column(s) and the sample weights become the columns of an
:class:`ArrayTable`, the same kind of :class:`~nncli.data.csvfile.Table` the CSV reader
makes: pyarrow arrays of numbers or text, null where a value is missing. The CSV source's own
code (``sources.table_dataset``) then picks the target, types each column, fills or drops
missing values and encodes categories, so arrays and CSV files follow one set of rules. A run
made from arrays records them as its ``data.csv`` (:func:`write_table`), which reads back to
the very same columns: training that run's config.yaml again gives the same weights.

X may be anything 2-D that NumPy can read, or have named columns (a pandas or polars
DataFrame, a dict of columns): pandas is recognised by what it has (``columns``), never
imported. y may be 1-D (one target), 2-D (several regression targets), a named Series or a
DataFrame. Values are read as follows:

- floats: NaN is missing; integers as they are; booleans as the text ``true``/``false``
  (as pyarrow writes them);
- anything else (text, objects): None, NaN, pandas' NA and the empty string are missing,
  every other value is its text (``str``), which is a number when it reads as one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import InputError
from .csvfile import Dialect, Table

# How a run made from arrays reads its data.csv (``runs.directory.RUN_DATA``): only empty
# cells are missing, so the text "NA" of a category stays a category.
NA_VALUES = [""]
TARGET = "target"
WEIGHT = "sample_weight"


@dataclass
class ArrayTable(Table):
    """Named columns of X, y and the sample weights; messages name them as Python does
    (``X row 3, column 'bill'``: rows counted from 0)."""

    owners: list[str] = field(default_factory=list)  # per column: X, y or sample_weight

    def row_number(self, i: int) -> int:
        return i

    def cell(self, i: int, j: int) -> str:
        owner = self.owners[j]
        named = owner == "X" or (owner == "y" and self.owners.count("y") > 1)
        return f"{owner} row {i}" + (f", column {self.names[j]!r}" if named else "")

    @property
    def feature_names(self) -> list[str]:
        return [n for n, o in zip(self.names, self.owners) if o == "X"]

    @property
    def target_names(self) -> list[str]:
        return [n for n, o in zip(self.names, self.owners) if o == "y"]

    @property
    def weight_name(self) -> str | None:
        return next((n for n, o in zip(self.names, self.owners) if o == WEIGHT), None)


def array_table(X, y=None, sample_weight=None, *, feature_names: Sequence[str] | None = None,
                target_names: Sequence[str] | None = None) -> ArrayTable:
    """X, y and the sample weights as one table: X's columns, then y's, then the weights.

    Columns are named as X and y name them (a DataFrame's columns, a Series' name), else
    ``feature_names`` (positionally) or x1..xk, and ``target_names`` or target (target1..t
    for several).
    """
    columns = _named(X, "X", feature_names or None, "x")
    n = len(columns[0][1])
    if n == 0:
        raise InputError("X: no rows")
    owners = ["X"] * len(columns)
    if y is not None:
        targets = _named(y, "y", target_names or None, TARGET, one_dimensional=True)
        if len(targets[0][1]) != n:
            raise InputError(f"y: {len(targets[0][1])} rows, but X has {n}")
        if target_names is None:
            targets = _free_names(targets, [name for name, _ in columns], "y", _has_names(y))
        columns += targets
        owners += ["y"] * len(targets)
    if sample_weight is not None:
        w = np.asarray(sample_weight)
        if w.ndim != 1 or len(w) != n:
            raise InputError(f"sample_weight: expected one weight per row of X ({n}), got an "
                             f"array of shape {w.shape}")
        columns += _free_names([(WEIGHT, w)], [name for name, _ in columns], "sample_weight",
                               given=False)
        owners.append(WEIGHT)
    names = [name for name, _ in columns]
    _check_names(names, owners)
    arrays = [_arrow(values, owner, name) for (name, values), owner in zip(columns, owners)]
    return ArrayTable(names, arrays, source_name="X, y" if y is not None else "X",
                      header=True, owners=owners)


def _named(data, what: str, names: Sequence[str] | None, default: str,
           one_dimensional: bool = False) -> list[tuple[str, np.ndarray]]:
    """(name, 1-D values) for each column of ``data``."""
    if isinstance(data, Mapping) or (hasattr(data, "columns") and hasattr(data, "__getitem__")):
        keys = list(data.keys() if isinstance(data, Mapping) else data.columns)
        if not keys:
            raise InputError(f"{what}: no columns")
        out = [(str(k), _column(data[k], what, str(k))) for k in keys]
        lengths = {len(v) for _, v in out}
        if len(lengths) > 1:
            raise InputError(f"{what}: its columns have different lengths ({sorted(lengths)})")
        return out
    try:
        values = np.asarray(data)
    except (ValueError, TypeError) as e:  # ragged rows
        raise InputError(f"{what}: not an array of rows: {e}") from None
    if one_dimensional and values.ndim == 1:
        name = getattr(data, "name", None)  # a pandas or polars Series
        name = names[0] if names else (str(name) if name is not None and name != "" else default)
        return [(name, values)]
    if values.ndim != 2:
        shape = "a single value" if values.ndim == 0 else f"shape {values.shape}"
        hint = "; a single feature is X.reshape(-1, 1)" if what == "X" and values.ndim == 1 else ""
        raise InputError(f"{what}: expected a 2-D array (one row per sample), got {shape}{hint}")
    if values.shape[1] == 0:
        raise InputError(f"{what}: no columns (shape {values.shape})")
    k = values.shape[1]
    if names is not None and len(names) != k:
        raise InputError(f"{what}: {k} columns, expected {len(names)} "
                         f"({', '.join(map(str, names))})")
    if names is None:
        names = ([default] if k == 1 and default == TARGET
                 else [f"{default}{j + 1}" for j in range(k)])
    return [(str(names[j]), values[:, j]) for j in range(k)]


def _column(values, what: str, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InputError(f"{what}: column {name!r} is not one value per row (shape "
                         f"{array.shape})")
    return array


def _has_names(data) -> bool:
    """Whether ``data`` names its own columns (a DataFrame, a dict, a named Series)."""
    return (isinstance(data, Mapping) or hasattr(data, "columns")
            or getattr(data, "name", None) not in (None, ""))


def _free_names(columns, taken: list[str], what: str, given: bool):
    """Names not in ``taken``: a name of nncli's choosing (target, sample_weight) that X
    already has gets a suffix (target_2, ...); a name the caller gave must be free."""
    out = []
    for name, values in columns:
        if name in taken:
            if given:
                raise InputError(f"{what}: its name {name!r} is also a column of X")
            base, k = name, 2
            while f"{base}_{k}" in taken:
                k += 1
            name = f"{base}_{k}"
        taken = taken + [name]
        out.append((name, values))
    return out


def _check_names(names: list[str], owners: list[str]) -> None:
    """As a CSV header must be: every column named, no name twice."""
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if name.strip() == "":
            raise InputError(f"{owners[j]}: column {j + 1} has no name")
        if name in seen:
            raise InputError(f"{owners[j]}: column name {name!r} is used twice")
        seen[name] = j


def _arrow(values: np.ndarray, owner: str, name: str) -> pa.Array:
    """One column as the CSV reader would hold it: numbers, or text with nulls."""
    kind = values.dtype.kind
    where = f"{owner}, column {name!r}" if owner == "X" else owner
    if kind == "f":
        return pa.array(values.astype(np.float64, copy=False), from_pandas=True)  # NaN: null
    if kind in "iu":
        return pa.array(values)
    if kind == "b":
        return pa.array(values).cast(pa.string())  # "true" / "false", as written to data.csv
    if kind == "c":
        raise InputError(f"{where}: complex numbers are not supported")
    return pa.array([None if _missing(v) else v if isinstance(v, str) else str(v)
                     for v in values.tolist()], type=pa.string())


def _missing(value: Any) -> bool:
    """None, NaN, pandas' NA or NaT, and the empty string (a CSV file's empty cell)."""
    if value is None or (isinstance(value, str) and value == ""):
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(value != value)  # NaN-like values are not equal to themselves
    except (TypeError, ValueError):  # pandas.NA: its comparisons are NA, which has no truth
        return True


def write_table(table: ArrayTable, out: BinaryIO) -> None:
    """The table as CSV (``data.csv``): a header, numbers in their shortest exact form, text
    quoted, an empty cell where a value is missing; read back with :data:`DIALECT` it gives
    the same columns."""
    arrays = list(table.arrays)
    pacsv.write_csv(pa.table(arrays, names=table.names), out,
                    pacsv.WriteOptions(include_header=True))


DIALECT = Dialect(na_values=tuple(NA_VALUES))
