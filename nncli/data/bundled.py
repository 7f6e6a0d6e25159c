"""scikit-learn's bundled data sets (iris, digits, wine, breast_cancer, diabetes), read from
scikit-learn's own files without importing scikit-learn.

``sklearn.datasets.load_iris()`` first imports scikit-learn (about a second and a half) to
read a 150-row CSV file. The files ship inside the installed scikit-learn package; its folder
is found with ``importlib.util.find_spec``, which locates a package without running it, and the
files are read the way ``load_*`` reads them (same parser, same scaling of diabetes), so the
values are ``load_*``'s bit for bit (tests compare). Reading scikit-learn's copies rather than
shipping our own keeps one copy of each file, always the one ``load_*`` returns.

Should a future scikit-learn move its files, ``load`` falls back to ``sklearn.datasets``
itself: slower, never wrong.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from nncli.errors import InputError

CANCER_MEASURES = ("radius", "texture", "perimeter", "area", "smoothness", "compactness",
                   "concavity", "concave points", "symmetry", "fractal dimension")

# The files and column names of sklearn/datasets/_base.py (scikit-learn 1.9).
FEATURE_NAMES = {
    "iris": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
    "wine": ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
             "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
             "od280/od315_of_diluted_wines", "proline"],
    "breast_cancer": ([f"mean {m}" for m in CANCER_MEASURES]
                      + [f"{m} error" for m in CANCER_MEASURES]
                      + [f"worst {m}" for m in CANCER_MEASURES]),
    "digits": [f"pixel_{row}_{col}" for row in range(8) for col in range(8)],
    "diabetes": ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"],
}
CSV_FILES = {"iris": "iris.csv", "wine": "wine_data.csv", "breast_cancer": "breast_cancer.csv"}
NAMES = tuple(FEATURE_NAMES)


def load(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X float64, y, feature names) of bundled data set ``name``, as ``load_<name>()`` gives:
    y int64 class labels, or float64 values for diabetes (whose X is scaled, as by default)."""
    folder = data_folder()
    if folder is None:
        return _from_sklearn(name)
    if name in CSV_FILES:
        X, y = _read_csv(folder / CSV_FILES[name])
    elif name == "digits":
        table = _read_gzip(folder / "digits.csv.gz", delimiter=",")
        X, y = table[:, :-1], table[:, -1].astype(int, copy=False)
    else:
        X = _scale(_read_gzip(folder / "diabetes_data_raw.csv.gz"))
        y = _read_gzip(folder / "diabetes_target.csv.gz")
    return X, y, list(FEATURE_NAMES[name])


def data_folder() -> Path | None:
    """scikit-learn's ``datasets/data`` folder, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    expected = [*CSV_FILES.values(), "digits.csv.gz", "diabetes_data_raw.csv.gz",
                "diabetes_target.csv.gz"]
    return folder if all((folder / f).is_file() for f in expected) else None


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``load_csv_data``: a first row ``n_samples,n_features,class names...``,
    then one row per sample, its class index last."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        head = next(rows)
        n_samples, n_features = int(head[0]), int(head[1])
        X = np.empty((n_samples, n_features))
        y = np.empty((n_samples,), dtype=int)
        for i, row in enumerate(rows):
            X[i] = np.asarray(row[:-1], dtype=np.float64)
            y[i] = np.asarray(row[-1], dtype=int)
    return X, y


def _read_gzip(path: Path, **loadtxt) -> np.ndarray:
    with gzip.open(path, mode="rt", encoding="utf-8") as f:
        return np.loadtxt(f, **loadtxt)


def _scale(X: np.ndarray) -> np.ndarray:
    """``sklearn.preprocessing.scale(X, copy=False) / sqrt(n_samples)``, as ``load_diabetes``
    scales its features: centred, unit variance, then divided by the root of the row count,
    with scikit-learn's second centring passes where rounding left a mean away from zero."""
    mean = np.nanmean(X, axis=0)
    std = np.nanstd(X, axis=0)
    X -= mean
    residual = np.nanmean(X, axis=0)
    if not np.allclose(residual, 0):
        X -= residual
    std[std < 10 * np.finfo(std.dtype).eps] = 1.0  # a constant column is left as it is
    X /= std
    residual = np.nanmean(X, axis=0)
    if not np.allclose(residual, 0):
        X -= residual
    X /= X.shape[0] ** 0.5
    return X


def _from_sklearn(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    try:
        from sklearn import datasets
    except ImportError:
        raise InputError(f"data ({name}): the bundled data sets are scikit-learn's, and "
                         f"scikit-learn is not installed (pip install scikit-learn)") from None
    bunch = getattr(datasets, f"load_{name}")()
    return bunch.data, bunch.target, [str(f) for f in bunch.feature_names]
