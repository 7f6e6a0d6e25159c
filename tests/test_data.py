"""The data: section schema and every source's loader."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from nncli.data.schema import SOURCES, DataConfig
from nncli.data.sources import load_source
from nncli.errors import InputError, NncliWarning

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = TypeAdapter(DataConfig)


def cfg(**kw):
    return ADAPTER.validate_python(kw)


def load(tmp_path=Path("."), seed=0, **kw):
    return load_source(cfg(**kw), tmp_path, seed)


def numbers(dataset):
    """A CSV dataset's raw feature columns, all numeric here, as one (n, features) matrix."""
    return np.column_stack([c.numbers for c in dataset.columns])


# --- schema --------------------------------------------------------------------------------

def test_sources_cover_the_union():
    assert set(SOURCES) == {
        "blobs", "moons", "circles", "classification", "regression", "friedman1", "xor",
        "iris", "digits", "wine", "breast_cancer", "diabetes", "csv", "inline",
    }


@pytest.mark.parametrize("bad", [
    {"source": "blobs", "n_samples": 1.5},
    {"source": "blobs", "n_samples": "abc"},
    {"source": "blobs", "n_samples": True},
    {"source": "blobs", "n_samples": 0},
    {"source": "xor", "n_samples": -1},
    {"source": "moons", "noise": "0.1"},
    {"source": "moons", "noise": -0.1},
    {"source": "moons", "noise": float("nan")},
    {"source": "blobs", "validation": 1},
    {"source": "blobs", "scale": "robust"},
    {"source": "blobs", "centres": 3},
    {"source": "iris", "n_samples": 10},
    {"source": "circles", "factor": 1.0},
    {"source": "classification", "n_informative": 1, "n_classes": 3},
    {"source": "classification", "n_features": 3, "n_informative": 2, "n_redundant": 2},
    {"source": "friedman1", "n_features": 4},
    {"source": "csv"},
    {"source": "csv", "path": "a.csv", "delimiter": ";;"},
    {"source": "csv", "path": "a.csv", "target": []},
    {"source": "inline", "x": [[1, True]], "y": [1]},
    {"source": "inline", "x": [], "y": []},
    {"source": "mnist"},
])
def test_schema_refuses(bad):
    with pytest.raises(ValidationError):
        cfg(**bad)


def test_schema_defaults_and_ints_for_floats():
    c = cfg(source="blobs", validation=0, cluster_std=2)
    assert (c.n_samples, c.n_features, c.centers, c.cluster_std) == (300, 2, 3, 2.0)
    assert c.validation == 0.0 and c.scale is None and c.task is None
    c = cfg(source="csv", path="a.csv", target=[0, "b"])
    assert c.target == [0, "b"] and c.features is None and c.header is True


def test_every_model_has_a_docstring():
    for model in DataConfig.__origin__.__args__:
        assert model.__doc__ and model.__doc__.strip()


# --- generated and bundled sources ---------------------------------------------------------

@pytest.mark.parametrize("source, shape, task, classes", [
    ({"source": "blobs"}, (300, 2), "classification", [0, 1, 2]),
    ({"source": "blobs", "n_samples": 50, "n_features": 5, "centers": 4}, (50, 5),
     "classification", [0, 1, 2, 3]),
    ({"source": "moons"}, (300, 2), "classification", [0, 1]),
    ({"source": "circles"}, (300, 2), "classification", [0, 1]),
    ({"source": "classification", "n_classes": 3, "n_informative": 3}, (300, 20),
     "classification", [0, 1, 2]),
    ({"source": "regression"}, (300, 10), "regression", []),
    ({"source": "friedman1", "n_samples": 40}, (40, 10), "regression", []),
    ({"source": "xor"}, (4, 2), "classification", [0, 1]),
    ({"source": "xor", "n_samples": 100, "noise": 0.1}, (100, 2), "classification", [0, 1]),
    ({"source": "iris"}, (150, 4), "classification", [0, 1, 2]),
    ({"source": "digits"}, (1797, 64), "classification", list(range(10))),
    ({"source": "wine"}, (178, 13), "classification", [0, 1, 2]),
    ({"source": "breast_cancer"}, (569, 30), "classification", [0, 1]),
    ({"source": "diabetes"}, (442, 10), "regression", []),
])
def test_sources_load(source, shape, task, classes):
    d = load(**source)
    assert d.X.shape == shape and d.X.dtype == np.float64
    assert d.task == task and d.classes == classes
    assert len(d.feature_names) == shape[1]
    assert d.target_names == ["target"]
    if task == "classification":
        assert d.y.shape == (shape[0],) and d.y.dtype == np.int64
        assert all(type(c) is int for c in d.classes)
    else:
        assert d.y.shape == (shape[0], 1) and d.y.dtype == np.float64


def test_feature_names():
    assert load(source="blobs", n_features=3).feature_names == ["x1", "x2", "x3"]
    assert load(source="iris").feature_names[0] == "sepal length (cm)"
    assert load(source="diabetes").feature_names[:3] == ["age", "sex", "bmi"]


def test_xor_truth_table():
    d = load(source="xor")
    assert d.X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert d.y.tolist() == [0, 1, 1, 0]


def test_xor_noisy_draws_keep_the_corner_labels():
    d = load(source="xor", n_samples=200, noise=0.05, seed=3)
    corner = np.round(d.X).astype(int)
    assert np.array_equal(d.y, corner[:, 0] ^ corner[:, 1])
    assert np.abs(d.X - corner).max() < 0.5


def test_regression_several_targets():
    d = load(source="regression", n_samples=20, n_targets=3)
    assert d.y.shape == (20, 3) and d.target_names == ["target1", "target2", "target3"]


@pytest.mark.parametrize("source", ["blobs", "moons", "classification", "regression", "friedman1"])
def test_same_seed_same_data_other_seed_other_data(source):
    a, b, c = (load(source=source, n_samples=30, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_xor_reproducible():
    a, b = (load(source="xor", n_samples=20, noise=0.1, seed=1) for _ in range(2))
    assert np.array_equal(a.X, b.X)


def test_task_override():
    d = load(source="blobs", n_samples=30, task="regression")
    assert d.task == "regression" and d.y.shape == (30, 1) and d.classes == []
    d = load(source="diabetes", task="classification")
    assert d.task == "classification" and d.y.dtype == np.int64 and len(d.classes) > 2


def test_single_class_is_an_error():
    with pytest.raises(InputError, match=r"single class \(0\); need at least 2"):
        load(source="blobs", n_samples=20, centers=1)


def test_several_targets_for_classification_is_an_error():
    with pytest.raises(InputError, match=r"classification takes one target"):
        load(source="regression", n_samples=20, n_targets=2, task="classification")


# --- csv -----------------------------------------------------------------------------------

CSV = "a,b,c,kind\n1,2,10.5,cat\n3,4,11.5,dog\n5,6,12.5,cat\n7,8,13.5,bird\n"


def csv_file(tmp_path, text=CSV, name="data.csv"):
    (tmp_path / name).write_text(text)
    return name


def test_csv_default_target_is_last_column_text_means_classification(tmp_path):
    d = load(tmp_path, source="csv", path=csv_file(tmp_path))
    assert d.task == "classification"
    assert d.feature_names == ["a", "b", "c"] and d.target_names == ["kind"]
    assert d.classes == ["bird", "cat", "dog"]
    assert d.y.tolist() == ["cat", "dog", "cat", "bird"]
    assert numbers(d).tolist() == [[1, 2, 10.5], [3, 4, 11.5], [5, 6, 12.5], [7, 8, 13.5]]


def test_csv_target_by_name_and_index_and_list(tmp_path):
    path = csv_file(tmp_path)
    d = load(tmp_path, source="csv", path=path, target="c", features=["a", "b"])
    assert d.task == "regression" and d.target_names == ["c"]
    assert d.y.tolist() == [[10.5], [11.5], [12.5], [13.5]]
    d = load(tmp_path, source="csv", path=path, target=2, features=[0])
    assert d.target_names == ["c"] and d.feature_names == ["a"]
    d = load(tmp_path, source="csv", path=path, target=["b", "c"], features=["a"])
    assert d.y.shape == (4, 2) and d.target_names == ["b", "c"] and d.task == "regression"


def test_csv_numeric_target_with_task_classification_keeps_int_labels(tmp_path):
    path = csv_file(tmp_path, "x,y\n0.5,1\n0.1,3\n0.7,1\n")
    d = load(tmp_path, source="csv", path=path, task="classification")
    assert d.classes == [1, 3] and d.y.dtype == np.int64 and d.y.tolist() == [1, 3, 1]
    path = csv_file(tmp_path, "x,y\n0.5,1\n0.1,2.5\n")
    with pytest.raises(InputError, match=r"row 3, column 'y': class label 2.5 is not a whole"):
        load(tmp_path, source="csv", path=path, task="classification")


def test_csv_no_header_delimiter_and_features_default(tmp_path):
    path = csv_file(tmp_path, "1;2;a\n3;4;b\n5;6;a\n")
    d = load(tmp_path, source="csv", path=path, header=False, delimiter=";")
    assert d.feature_names == ["x1", "x2"] and d.target_names == ["target"]
    assert d.classes == ["a", "b"]
    d = load(tmp_path, source="csv", path=path, header=False, delimiter=";", target=0, features=[1])
    assert d.task == "regression" and d.y.ravel().tolist() == [1, 3, 5]
    assert d.feature_names == ["x2"]


def test_csv_relative_to_base_dir(tmp_path):
    sub = tmp_path / "data"
    sub.mkdir()
    csv_file(sub)
    d = load(tmp_path, source="csv", path="data/data.csv")
    assert numbers(d).shape == (4, 3)
    with pytest.raises(InputError, match=r"missing\.csv: file not found"):
        load(tmp_path, source="csv", path="missing.csv")


@pytest.mark.parametrize("kw, message", [
    ({"target": "nope"}, r"data.target: no column named 'nope'"),
    ({"target": 9}, r"data.target: column index 9 is out of range"),
    ({"features": ["a", "a"]}, r"data.features: column 'a' is listed twice"),
    ({"features": ["a", "kind"]}, r"data.features: column 'kind' is also the target"),
    ({"target": "knd"}, r"data.target: no column named 'knd' in .*; did you mean 'kind'\?"),
    ({"exclude": ["kind"]}, r"data.exclude: column 'kind' is the target"),
    ({"features": ["a"], "exclude": ["a"]}, r"data.features: column 'a' is also in data.exclude"),
    ({"categorical": ["A"]}, r"data.categorical: no column named 'A' .*; did you mean 'a'\?"),
    ({"categorical": ["c"], "features": ["a"]}, r"data.categorical: column 'c' is not a feature"),
    ({"target": ["c", "kind"]}, r"classification takes one target column"),
    ({"target": "kind", "task": "regression"}, r"row 2, column 'kind': 'cat' is not a number"),
])
def test_csv_bad_selection(tmp_path, kw, message):
    with pytest.raises(InputError, match=message):
        load(tmp_path, source="csv", path=csv_file(tmp_path), **kw)


def test_csv_single_class_and_empty_label(tmp_path):
    path = csv_file(tmp_path, "x,y\n1,a\n2,a\n")
    with pytest.raises(InputError, match=r"column 'y'.*single class \('a'\)"):
        load(tmp_path, source="csv", path=path)
    # A missing label is never a class: its row is left out (so one class is left here).
    path = csv_file(tmp_path, "x,y\n1,a\n2,\n3,NA\n")
    with pytest.warns(NncliWarning, match=r"data.target: left out 2 rows whose target \(y\) is "
                                          r"missing"), \
            pytest.raises(InputError, match=r"single class \('a'\)"):
        load(tmp_path, source="csv", path=path)


def test_csv_duplicate_columns(tmp_path):
    with pytest.raises(InputError, match=r"duplicate column name 'a'"):
        load(tmp_path, source="csv", path=csv_file(tmp_path, "a,a,y\n1,2,x\n"))


def test_shipped_penguins_dataset_is_learnable():
    d = load(ROOT, source="csv", path="datasets/penguins-synthetic.csv")
    X = numbers(d)
    assert X.shape == (150, 4) and d.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert [int((d.y == c).sum()) for c in d.classes] == [50, 50, 50]
    # nearest class mean on standardized features already separates the classes well
    Z = (X - X.mean(0)) / X.std(0)
    means = np.stack([Z[d.y == c].mean(0) for c in d.classes])
    guess = np.array(d.classes)[np.argmin(((Z[:, None, :] - means) ** 2).sum(-1), axis=1)]
    assert (guess == d.y).mean() > 0.9


def test_loading_csv_never_imports_sklearn(tmp_path):
    csv_file(tmp_path)
    code = (
        "import sys; from pathlib import Path\n"
        "from pydantic import TypeAdapter\n"
        "from nncli.data.schema import DataConfig\n"
        "from nncli.data.sources import load_source\n"
        "from nncli.data.prepare import Scaler, split_indices, encode_targets\n"
        "from nncli.data.features import Preprocessing, fit_encodings\n"
        "import numpy as np\n"
        f"c = TypeAdapter(DataConfig).validate_python({{'source': 'csv', 'path': 'data.csv'}})\n"
        f"d = load_source(c, Path({str(tmp_path)!r}), 0)\n"
        "tr, va = split_indices(d.y, d.task, 0.25, np.random.default_rng(0))\n"
        "X = Preprocessing(fit_encodings(d.columns, tr, 'error', set()), Scaler()).encode("
        "d.columns).X\n"
        "Scaler.fit(X[tr], 'standard').transform(X)\n"
        "encode_targets(d.y, d.classes, len(d.classes))\n"
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


# --- inline --------------------------------------------------------------------------------

def test_inline_regression_default():
    d = load(source="inline", x=[[1, 2], [3, 4]], y=[5, 6.5])
    assert d.task == "regression" and d.y.tolist() == [[5.0], [6.5]] and d.X.shape == (2, 2)
    d = load(source="inline", x=[[3, 5]], y=[[1, 0]])
    assert d.y.shape == (1, 2) and d.target_names == ["target1", "target2"]


def test_inline_classification_labels():
    d = load(source="inline", x=[[0], [1], [2]], y=["no", "yes", "no"], task="classification")
    assert d.classes == ["no", "yes"] and d.y.tolist() == ["no", "yes", "no"]
    d = load(source="inline", x=[[0], [1]], y=[[1.0], [0]], task="classification")
    assert d.classes == [0, 1] and d.y.dtype == np.int64


@pytest.mark.parametrize("kw, message", [
    ({"x": [[1, 2], [3]], "y": [1, 2]}, r"data.x: row 2 has 1 values, row 1 has 2"),
    ({"x": [[1], [2]], "y": [1]}, r"data.y: has 1 rows but data.x has 2"),
    ({"x": [[1], [2]], "y": [[1, 2], [3]]}, r"data.y: row 2 has 1 values, row 1 has 2"),
    ({"x": [[1], [2]], "y": [1, "a"]}, r"data.y: row 2: 'a' is not a number"),
    ({"x": [[1], [2]], "y": [1, "a"], "task": "classification"},
     r"data.y: row 1: labels mix numbers and strings"),
    ({"x": [[1], [2]], "y": [1, 1], "task": "classification"},
     r"data.y: the classification target has a single class"),
    ({"x": [[1], [2]], "y": [[1, 0], [0, 1]], "task": "classification"}, r"one label per row"),
])
def test_inline_errors(kw, message):
    with pytest.raises(InputError, match=message):
        load(source="inline", **kw)
