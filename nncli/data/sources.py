"""Load the dataset a ``data:`` config describes; one loader per source, keyed by its YAML name.

Training never imports scikit-learn: the generated sources are scikit-learn's numbers, made by
``data.generators`` and ``data.blobs``, and the bundled data sets are read from scikit-learn's
files by ``data.bundled``.
Generated data come in the training dtype (a float32 run never holds a float64 copy of a
million generated rows); data people bring (CSV, inline, bundled sets) come in float64, so a
float32 run scales the exact values and rounds once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from nncli.data import bundled, generators, schema
from nncli.data.blobs import make_blobs
from nncli.data.features import Column
from nncli.errors import InputError, NncliWarning

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass
class Dataset:
    """Samples are rows. ``y`` is (n,) labels for classification, (n, n_targets) for regression.

    Numeric data come as the matrix ``X``; a CSV file's feature columns come raw in ``columns``
    (numbers with missing cells, text), to be filled and encoded once the training rows are
    known (``features.fit_encodings``), and ``X`` is None.
    """

    X: np.ndarray | None  # (n, n_features): float64, or the training dtype for generated data
    y: np.ndarray  # classification: (n,) int64 or object (str) labels; regression: (n, t) float64
    task: str  # "classification" | "regression"
    feature_names: list[str]
    target_names: list[str]  # one per target column; ["target"] when the data has no name
    classes: list  # sorted unique labels as plain Python ints/strs; [] for regression
    columns: list[Column] | None = None  # raw feature columns (CSV), in feature_names order
    categorical: list[str] = field(default_factory=list)  # columns encoded as categories
    sample_weight: np.ndarray | None = None  # (n,) float64 per-row weights (data.sample_weight)

    @property
    def n_samples(self) -> int:
        return len(self.y)


def load_source(cfg, base_dir: Path, seed: int, dtype=np.float64) -> Dataset:
    """Load the data of one ``data:`` config (any model of ``schema.DataConfig``).

    ``base_dir`` is the config file's folder (CSV paths are relative to it); ``seed`` drives
    every generator, so the same seed gives the same data; generated features come in
    ``dtype``.
    """
    return _LOADERS[cfg.source](cfg, Path(base_dir), seed, np.dtype(dtype))


# --- labels and targets --------------------------------------------------------------------

def _task(cfg, natural: str) -> str:
    return cfg.task or natural


def parse_labels(values: np.ndarray, where: Callable[[int], str]) -> np.ndarray:
    """Class labels as int64 (numbers must be whole) or object str; ``where(i)`` names row i."""
    if values.dtype == object:
        kinds = {type(v) for v in values}
        if kinds <= {str}:
            return values
        if str in kinds:
            i = next(i for i, v in enumerate(values) if not isinstance(v, str))
            raise InputError(f"{where(i)}: labels mix numbers and strings ({values[i]!r})")
        values = values.astype(np.float64)
    values = np.asarray(values, dtype=np.float64)
    bad = values != np.round(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"{where(i)}: class label {values[i]:g} is not a whole number; "
            "classification needs integer or text labels (or use task: regression)"
        )
    return values.astype(np.int64)


def column_labels(column: Column, where: Callable[[int], str]) -> np.ndarray:
    """The class labels of a complete target column (numbers or text), by parse_labels."""
    values = column.labels()
    return parse_labels(values.astype(np.float64) if column.is_numeric else values, where)


def _classification(X, labels, feature_names, what: str, target_name="target") -> Dataset:
    # return_counts: np.unique's other path imports numpy.ma (12 ms) to look for a mask
    classes = sorted(np.unique(labels, return_counts=True)[0].tolist())
    if len(classes) < 2:
        raise InputError(
            f"{what}: the classification target has a single class ({classes[0]!r}); "
            "need at least 2"
        )
    return Dataset(X, labels, CLASSIFICATION, feature_names, [target_name], classes)


def _regression(X, y, feature_names, target_names=None) -> Dataset:
    y = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
    return Dataset(X, y, REGRESSION, feature_names,
                   target_names or _default_target_names(y.shape[1]), [])


def _finish(cfg, X, y, natural: str, feature_names=None, dtype=np.float64) -> Dataset:
    """Generated or bundled data: numeric y, task from the source unless ``task`` overrides."""
    X = np.asarray(X, dtype=dtype)
    names = feature_names or [f"x{j + 1}" for j in range(X.shape[1])]
    if _task(cfg, natural) == REGRESSION:
        return _regression(X, y, names)
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[1] > 1:
        raise InputError("data.task: classification takes one target; this data has "
                         f"{y.shape[1]} (use task: regression)")
    labels = parse_labels(y.reshape(-1), lambda i: f"data ({cfg.source}): sample {i + 1}")
    return _classification(X, labels, names, f"data ({cfg.source})")


# --- generated and bundled data (scikit-learn's numbers, without scikit-learn) -------------

def _random_state(seed: int) -> int:
    if not 0 <= seed < 2**32:
        raise InputError(f"seed: must be between 0 and 2**32 - 1 for generated data, got {seed}")
    return seed


def _generated(make: Callable, natural: str, params: tuple[str, ...]):
    """The loader of a ``generators`` function, called with the config's ``params``."""
    def load(cfg, base_dir: Path, seed: int, dtype) -> Dataset:
        kwargs = {p: getattr(cfg, p) for p in params}
        try:
            X, y = make(**kwargs, random_state=_random_state(seed))
        except ValueError as exc:  # a parameter combination the schema did not catch
            raise InputError(f"data ({cfg.source}): {exc}") from None
        return _finish(cfg, X, y, natural, dtype=dtype)

    return load


def _blobs(cfg: schema.BlobsData, base_dir: Path, seed: int, dtype) -> Dataset:
    X, y = make_blobs(cfg.n_samples, cfg.n_features, cfg.centers, cfg.cluster_std,
                      _random_state(seed), dtype)
    return _finish(cfg, X, y, CLASSIFICATION, dtype=dtype)


def _xor(cfg: schema.XorData, base_dir: Path, seed: int, dtype) -> Dataset:
    X, y = generators.make_xor(cfg.n_samples, cfg.noise, seed)
    return _finish(cfg, X, y, CLASSIFICATION, dtype=dtype)


def _bundled(name: str, natural: str):
    def load(cfg, base_dir: Path, seed: int, dtype) -> Dataset:
        X, y, names = bundled.load(name)
        return _finish(cfg, X, y, natural, names)

    return load


# --- csv -----------------------------------------------------------------------------------

def _csv(cfg: schema.CsvData, base_dir: Path, seed: int, dtype) -> Dataset:
    from nncli.data.csvfile import read_csv

    path = Path(cfg.path)
    if not path.is_absolute():
        path = base_dir / path
    dialect = csv_dialect(cfg)
    return table_dataset(cfg, read_csv(path, dialect, source_name=str(path)))


def table_dataset(cfg: schema.CsvData, table) -> Dataset:
    """The dataset of a table of named columns (``csvfile.Table``: a CSV file as read, or
    ``arrays.ArrayTable``: arrays from Python), as the ``data:`` keys of a CSV source say:
    the target, features, categories, missing values and row weights. The numeric feature
    columns of ``table`` are released once converted."""
    path = table.source_name
    targets = cfg.target if isinstance(cfg.target, list) else [
        -1 if cfg.target is None else cfg.target]
    t_idx = _distinct(table, targets, "data.target")
    x_idx = _distinct(table, cfg.exclude, "data.exclude")
    for j in x_idx:
        if j in t_idx:
            raise InputError(f"data.exclude: column {table.names[j]!r} is the target")
    w_idx = _weight_column(table, cfg.sample_weight, t_idx, cfg.features)
    if cfg.features is None:
        f_idx = [j for j in range(len(table.names))
                 if j not in t_idx and j not in x_idx and j not in w_idx]
        if not f_idx:
            raise InputError(f"data.features: {path} has no columns left besides the target"
                             + (" and data.exclude" if x_idx else ""))
    else:
        f_idx = _distinct(table, cfg.features, "data.features")
        for j in f_idx:
            if j in t_idx:
                raise InputError(f"data.features: column {table.names[j]!r} is also the target")
            if j in x_idx:
                raise InputError(f"data.features: column {table.names[j]!r} is also in "
                                 "data.exclude")
    c_idx = _distinct(table, cfg.categorical, "data.categorical")
    for j in c_idx:
        if j not in f_idx:
            raise InputError(f"data.categorical: column {table.names[j]!r} is not a feature")
    categorical = [table.names[j] for j in c_idx]
    feature_names = [table.names[j] for j in f_idx]
    target_names = [table.names[j] for j in t_idx] if cfg.header else None

    target_columns = [table.column(j, "auto", "data.target") for j in t_idx]
    task = _task(cfg, REGRESSION if all(c.is_numeric for c in target_columns)
                 else CLASSIFICATION)
    if task == CLASSIFICATION and len(t_idx) > 1:
        raise InputError(
            f"data.target: classification takes one target column, got {len(t_idx)} "
            "(several targets need task: regression)"
        )
    if task == REGRESSION and not all(c.is_numeric for c in target_columns):
        target_columns = [table.column(j, "numeric", "data.target") for j in t_idx]
    columns = [_feature_column(table, j, j in c_idx) for j in f_idx]

    # A missing target is never a label: those rows are left out, with one warning.
    keep = ~np.any([c.missing for c in target_columns], axis=0)
    if not keep.all():
        names = ", ".join(table.names[j] for j in t_idx)
        if not keep.any():
            raise InputError(f"data.target: every row of {path} misses its target ({names})")
        warnings.warn(NncliWarning(f"data.target: left out {np.count_nonzero(~keep)} rows "
                                   f"whose target ({names}) is missing"), stacklevel=2)
    keep &= _rows_with_features(table, columns, keep, cfg.missing, path)
    rows = np.flatnonzero(keep)
    if len(rows) < table.n_rows:
        columns = [c.take(rows) for c in columns]
        target_columns = [c.take(rows) for c in target_columns]

    weights = _row_weights(table, w_idx, rows)
    if task == REGRESSION:
        y = np.column_stack([c.numbers for c in target_columns])
        return Dataset(None, y, REGRESSION, feature_names,
                       target_names or _default_target_names(y.shape[1]), [], columns,
                       categorical, weights)
    j = t_idx[0]
    labels = column_labels(target_columns[0], lambda i: table.cell(int(rows[i]), j))
    name = target_names[0] if target_names else "target"
    where = f"data.target: {table.source_name}, column {table.names[j]!r}"
    dataset = _classification(None, labels, feature_names, where, name)
    dataset.columns, dataset.categorical = columns, categorical
    dataset.sample_weight = weights
    return dataset


def _weight_column(table, key, t_idx: list[int], features) -> list[int]:
    """The sample_weight column's index ([] without one): neither a target nor a feature."""
    if key is None:
        return []
    j = table.column_index(key, "data.sample_weight")
    named = [table.column_index(k, "data.features") for k in features or []]
    if j in t_idx or j in named:
        role = "the target" if j in t_idx else "a feature"
        raise InputError(f"data.sample_weight: column {table.names[j]!r} is also {role}")
    return [j]


def _row_weights(table, w_idx: list[int], rows: np.ndarray) -> np.ndarray | None:
    """The kept rows' weights: finite numbers > 0 (each is its row's share of the loss, and a
    batch's weights are divided by their sum); None without a sample_weight column."""
    if not w_idx:
        return None
    j = w_idx[0]
    w = table.column(j, "numeric", "data.sample_weight").numbers[rows]
    bad = ~(w > 0)  # a missing weight (NaN) too
    if bad.any():
        i = int(rows[np.argmax(bad)])
        got = "an empty cell" if np.isnan(w[np.argmax(bad)]) else f"{w[np.argmax(bad)]:g}"
        raise InputError(f"data.sample_weight: {table.cell(i, j)}: a weight must be a number "
                         f"> 0 (got {got})")
    return w


def csv_dialect(cfg: schema.CsvData):
    """The reader's dialect of a ``source: csv`` config."""
    from nncli.data.csvfile import Dialect

    return Dialect(delimiter=cfg.delimiter, header=cfg.header, na_values=tuple(cfg.na_values),
                   skip_rows=cfg.skip_rows, comment=cfg.comment,
                   quote_char=cfg.quote_char or None)


def _feature_column(table, j: int, categorical: bool) -> Column:
    """Feature column ``j``: numbers or text (numbers listed in ``data.categorical`` stay
    numbers here: their categories are encoded, and sorted, by value)."""
    column = table.column(j, "auto", "data.features")
    if column.is_numeric:
        table.release(j)
    elif not categorical:
        stray = table.non_number(j)
        if stray is not None:  # numbers with a stray marker: a typo or an unlisted NA value
            i, text = stray
            raise InputError(
                f"{table.cell(i, j)}: {text!r} is not a number, but most of the column are; "
                f"if it marks a missing value add it to data.na_values, or list the column "
                f"in data.categorical to treat its values as categories")
    return column


def _rows_with_features(table, columns: list[Column], keep: np.ndarray, policy: str,
                        path: Path) -> np.ndarray:
    """The rows to train on under ``data.missing``: every row for the filling policies, the
    complete ones for ``drop``; for ``error``, the first missing cell is an error."""
    missing = np.zeros(table.n_rows, dtype=bool)
    cells, first = 0, None
    for col in columns:
        gaps = col.missing & keep
        if gaps.any():
            cells += int(np.count_nonzero(gaps))
            i = int(np.argmax(gaps))
            if first is None or i < first[0]:  # columns in order: a tie keeps the first
                first = (i, col.name)
            missing |= gaps
    if cells == 0 or policy not in ("error", "drop"):
        return np.ones(table.n_rows, dtype=bool)
    if policy == "error":
        i, name = first
        raise InputError(
            f"data.missing: {cells} feature value{'s are' if cells != 1 else ' is'} missing, "
            f"the first at {table.cell(i, table.names.index(name))}; choose what to do with "
            f"them: data.missing: drop, mean, median or most_frequent")
    rows = int(np.count_nonzero(missing))
    if rows == int(np.count_nonzero(keep)):
        raise InputError(f"data.missing: drop leaves no rows: every row of {path} misses a "
                         "feature value")
    warnings.warn(NncliWarning(f"data.missing: drop: left out {rows} rows with a missing "
                               f"feature value ({cells} cells)"), stacklevel=3)
    return ~missing


def _default_target_names(t: int) -> list[str]:
    return ["target"] if t == 1 else [f"target{k + 1}" for k in range(t)]


def _distinct(table, keys, what: str) -> list[int]:
    idx = [table.column_index(k, what) for k in keys]
    for a in range(len(idx)):
        if idx[a] in idx[:a]:
            raise InputError(f"{what}: column {table.names[idx[a]]!r} is listed twice")
    return idx


# --- inline --------------------------------------------------------------------------------

def _inline(cfg: schema.InlineData, base_dir: Path, seed: int, dtype) -> Dataset:
    width = len(cfg.x[0])
    for i, row in enumerate(cfg.x):
        if len(row) != width:
            raise InputError(f"data.x: row {i + 1} has {len(row)} values, row 1 has {width}")
    if len(cfg.y) != len(cfg.x):
        raise InputError(f"data.y: has {len(cfg.y)} rows but data.x has {len(cfg.x)}")
    X = np.array(cfg.x, dtype=np.float64)
    rows = [v if isinstance(v, list) else [v] for v in cfg.y]
    t = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != t:
            raise InputError(f"data.y: row {i + 1} has {len(row)} values, row 1 has {t}")
    names = [f"x{j + 1}" for j in range(width)]
    if _task(cfg, REGRESSION) == REGRESSION:
        for i, row in enumerate(rows):
            for v in row:
                if isinstance(v, str):
                    raise InputError(
                        f"data.y: row {i + 1}: {v!r} is not a number (task is regression)"
                    )
        return _regression(X, rows, names)
    if t > 1:
        raise InputError(f"data.y: classification takes one label per row, row 1 has {t}")
    values = np.empty(len(rows), dtype=object)
    values[:] = [row[0] for row in rows]
    if not any(isinstance(v, str) for v in values):
        values = values.astype(np.float64)
    labels = parse_labels(values, lambda i: f"data.y: row {i + 1}")
    return _classification(X, labels, names, "data.y")


_LOADERS: dict[str, Callable[..., Dataset]] = {
    "blobs": _blobs,
    "moons": _generated(generators.make_moons, CLASSIFICATION, ("n_samples", "noise")),
    "circles": _generated(generators.make_circles, CLASSIFICATION,
                          ("n_samples", "noise", "factor")),
    "classification": _generated(
        generators.make_classification,
        CLASSIFICATION,
        ("n_samples", "n_features", "n_informative", "n_redundant", "n_classes",
         "n_clusters_per_class", "class_sep", "flip_y"),
    ),
    "regression": _generated(
        generators.make_regression, REGRESSION,
        ("n_samples", "n_features", "n_informative", "n_targets", "noise", "bias"),
    ),
    "friedman1": _generated(generators.make_friedman1, REGRESSION,
                            ("n_samples", "n_features", "noise")),
    "xor": _xor,
    "iris": _bundled("iris", CLASSIFICATION),
    "digits": _bundled("digits", CLASSIFICATION),
    "wine": _bundled("wine", CLASSIFICATION),
    "breast_cancer": _bundled("breast_cancer", CLASSIFICATION),
    "diabetes": _bundled("diabetes", REGRESSION),
    "csv": _csv,
    "inline": _inline,
}
assert set(_LOADERS) == set(schema.SOURCES)
