"""Generated and bundled data without scikit-learn: the same numbers as scikit-learn's own
generators and ``load_*`` functions, bit for bit, and the same data nncli trained on before."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter
from sklearn import datasets

from nncli.data import bundled, generators
from nncli.data.schema import DataConfig
from nncli.data.sources import load_source

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 7, 2**32 - 1)  # random_state is a data-stream seed in [0, 2**32)


def assert_identical(ours, theirs):
    """Same arrays, dtypes and shapes, every bit (NaN-free data: array_equal is exact)."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
        assert a.tobytes() == b.tobytes()  # also tells -0.0 from 0.0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n, noise", [(300, 0.1), (501, 0.15), (1, None), (2, 0.0), (7, None)])
def test_moons_are_sklearns(n, noise, seed):
    assert_identical(generators.make_moons(n, noise, seed),
                     datasets.make_moons(n, noise=noise, random_state=seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n, noise, factor", [(300, 0.05, 0.5), (99, 0.2, 0.0), (1, None, 0.8),
                                              (4, 0.0, 0.99)])
def test_circles_are_sklearns(n, noise, factor, seed):
    assert_identical(generators.make_circles(n, noise, factor, seed),
                     datasets.make_circles(n, noise=noise, factor=factor, random_state=seed))


# Each of sample_without_replacement's algorithms, which pick the hypercube's vertices:
CLASSIFICATION = [
    # n_samples, n_features, n_informative, n_redundant, n_classes, n_clusters, class_sep, flip_y
    (300, 20, 2, 2, 2, 2, 1.0, 0.01),  # nncli's defaults: all 4 vertices (reservoir, no draws)
    (100, 5, 3, 1, 3, 2, 0.5, 0.0),  # 6 of 8 vertices: a permutation
    (300, 8, 7, 0, 127, 1, 1.0, 0.05),  # 127 of 128: reservoir sampling with draws
    (1000, 10, 10, 0, 10, 1, 1.0, 1.0),  # 10 of 1024: tracking selection; every label flipped
    (50, 40, 35, 2, 4, 3, 2.0, 0.3),  # more than 30 informative features: two draws
    (7, 3, 1, 0, 2, 1, 3.0, 0.5),  # fewer rows than the clusters want
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("params", CLASSIFICATION)
def test_classification_is_sklearns(params, seed):
    names = ("n_samples", "n_features", "n_informative", "n_redundant", "n_classes",
             "n_clusters_per_class", "class_sep", "flip_y")
    assert_identical(generators.make_classification(*params, seed),
                     datasets.make_classification(**dict(zip(names, params)), random_state=seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("params", [
    # n_samples, n_features, n_informative, n_targets, noise, bias
    (300, 10, 10, 1, 0.0, 0.0), (50, 5, 2, 3, 1.5, -2.0), (20, 3, 8, 2, 0.5, 1.0),
    (1, 4, 0, 1, 1.0, 0.0),
])
def test_regression_is_sklearns(params, seed):
    names = ("n_samples", "n_features", "n_informative", "n_targets", "noise", "bias")
    assert_identical(generators.make_regression(*params, seed),
                     datasets.make_regression(**dict(zip(names, params)), random_state=seed))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n, features, noise", [(300, 10, 0.0), (50, 5, 1.0), (1, 7, 0.3)])
def test_friedman1_is_sklearns(n, features, noise, seed):
    assert_identical(generators.make_friedman1(n, features, noise, seed),
                     datasets.make_friedman1(n, features, noise=noise, random_state=seed))


def test_classification_refuses_what_sklearn_refuses():
    with pytest.raises(ValueError, match="must sum to less than the number of total features"):
        generators.make_classification(10, 3, 2, 2, 2, 1, 1.0, 0.0, 0)
    with pytest.raises(ValueError, match=r"n_classes\(3\) \* n_clusters_per_class\(2\) must "
                                         r"be smaller or equal 2\*\*n_informative\(2\)=4"):
        generators.make_classification(10, 3, 2, 0, 3, 2, 1.0, 0.0, 0)


def test_xor_keeps_its_numbers():
    """xor is nncli's own: the numbers every xor run so far was trained on."""
    X, y = generators.make_xor(5, 0.1, 3)
    rng = np.random.default_rng(3)
    pick = rng.integers(0, 4, size=5)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert np.array_equal(X, corners[pick] + rng.normal(0.0, 0.1, size=(5, 2)))
    assert y.tolist() == [[0, 1, 1, 0][p] for p in pick]
    X, y = generators.make_xor(0, 0.0, 3)  # the truth table
    assert X.tolist() == corners.tolist() and y.tolist() == [0, 1, 1, 0]


# --- through the loaders: what a config gets -----------------------------------------------

ADAPTER = TypeAdapter(DataConfig)


@pytest.mark.parametrize("config, make", [
    ({"source": "moons", "n_samples": 500, "noise": 0.15},
     lambda s: datasets.make_moons(500, noise=0.15, random_state=s)),
    ({"source": "circles"},
     lambda s: datasets.make_circles(300, noise=0.05, factor=0.5, random_state=s)),
    ({"source": "classification", "n_classes": 3, "n_informative": 3},
     lambda s: datasets.make_classification(300, 20, n_informative=3, n_redundant=2,
                                            n_classes=3, random_state=s)),
    ({"source": "regression", "n_targets": 2, "noise": 0.5},
     lambda s: datasets.make_regression(300, 10, n_informative=10, n_targets=2, noise=0.5,
                                        random_state=s)),
    ({"source": "friedman1", "noise": 1.0},
     lambda s: datasets.make_friedman1(300, 10, noise=1.0, random_state=s)),
])
def test_sources_give_what_sklearn_gave(config, make):
    """load_source called scikit-learn with random_state=seed; it still gets those numbers,
    in float64 and rounded once into float32."""
    X, y = make(1234)
    d64 = load_source(ADAPTER.validate_python(config), Path("."), 1234)
    d32 = load_source(ADAPTER.validate_python(config), Path("."), 1234, np.float32)
    assert np.array_equal(d64.X, X) and d32.X.dtype == np.float32
    assert np.array_equal(d32.X, X.astype(np.float32))
    assert np.array_equal(d64.y.reshape(y.shape), y)


def test_class_sep_must_be_positive_as_in_sklearn():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="class_sep"):
        ADAPTER.validate_python({"source": "classification", "class_sep": 0})


# --- bundled data sets -----------------------------------------------------------------------

@pytest.mark.parametrize("name", bundled.NAMES)
def test_bundled_sets_are_sklearns(name):
    bunch = getattr(datasets, f"load_{name}")()
    X, y, names = bundled.load(name)
    assert_identical((X, y), (bunch.data, bunch.target))
    assert names == [str(f) for f in bunch.feature_names]


def test_bundled_sets_are_read_from_sklearns_files():
    folder = bundled.data_folder()
    assert folder is not None and folder.parent.parent == Path(datasets.__file__).parent.parent


def test_bundled_falls_back_to_sklearn_when_its_files_moved(monkeypatch):
    monkeypatch.setattr(bundled, "CSV_FILES", {**bundled.CSV_FILES, "iris": "moved.csv"})
    assert bundled.data_folder() is None
    X, y, names = bundled.load("iris")
    iris = datasets.load_iris()
    assert_identical((X, y), (iris.data, iris.target))
    assert names[0] == "sepal length (cm)"


def test_bundled_without_sklearn_at_all_is_one_clear_error(monkeypatch):
    from nncli.errors import InputError

    monkeypatch.setattr(bundled, "data_folder", lambda: None)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed
    with pytest.raises(InputError, match=r"^data \(wine\): the bundled data sets are "
                                         r"scikit-learn's, and scikit-learn is not installed"):
        bundled.load("wine")


def test_diabetes_scaling_is_load_diabetes_default():
    raw = datasets.load_diabetes(scaled=False).data
    X, y, _ = bundled.load("diabetes")
    assert not np.array_equal(X, raw)
    np.testing.assert_allclose(X.std(axis=0) * np.sqrt(len(X)), 1.0, rtol=1e-12)


# --- none of it imports scikit-learn -------------------------------------------------------

def test_generated_and_bundled_sources_never_import_sklearn():
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from pydantic import TypeAdapter\n"
            "from nncli.data.schema import DataConfig, SOURCES\n"
            "from nncli.data.sources import load_source\n"
            "adapter = TypeAdapter(DataConfig)\n"
            "for source in SOURCES:\n"
            "    if source in ('csv', 'inline'):\n"
            "        continue\n"
            "    d = load_source(adapter.validate_python({'source': source}), Path('.'), 1)\n"
            "    assert len(d.X) > 0 and len(d.feature_names) == d.X.shape[1], source\n"
            "    assert 'sklearn' not in sys.modules, source\n"
            "print('ok')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"
