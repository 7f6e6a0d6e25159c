"""nncli.sklearn: the estimators pass scikit-learn's own estimator checks (with the one
documented exemption), work in Pipeline, GridSearchCV and cross_val_score, and train what
nncli.train and the command line train on the same config."""

import pickle
import warnings

import numpy as np
import pytest
import yaml
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (check_sample_weight_equivalence_on_dense_data,
                                            parametrize_with_checks)

from nncli.errors import InputError
from nncli.sklearn import MLPClassifier, MLPRegressor

from conftest import weights, write_config

# Why each check that an estimator is expected to fail fails: docs/python.md says the same.
SAMPLE_WEIGHTS = ("a row of weight 2 is one row in one minibatch, its two copies fall in two "
                  "batches, and the input scaler counts rows, not weights; with batch='full' "
                  "and scale='none' (scale_target='none') the check passes "
                  "(test_sample_weights_equal_repeated_rows_in_full_batches)")
EXPECTED_FAILURES = {"check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHTS}


@parametrize_with_checks([MLPClassifier(), MLPRegressor()],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILURES)
def test_scikit_learns_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # batch sizes larger than the checks' tiny data sets
        check(estimator)


@pytest.mark.parametrize("estimator", [
    MLPClassifier(batch="full", scale="none", learning_rate=0.1),
    MLPRegressor(batch="full", scale="none", scale_target="none", learning_rate=0.1),
])
def test_sample_weights_equal_repeated_rows_in_full_batches(estimator):
    """The exemption's reason: without minibatches and scaling, a weight of k is k copies."""
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)


def iris():
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]


def test_string_labels_probabilities_and_the_loss_curve():
    X, y = iris()
    clf = MLPClassifier(hidden_layers=(8,), learning_rate=0.1, epochs=40).fit(X, y)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4 and clf.n_iter_ == 40
    assert clf.score(X, y) > 0.9
    p = clf.predict_proba(X)
    assert p.shape == (150, 3) and np.allclose(p.sum(axis=1), 1)
    assert list(clf.predict(X[:5])) == list(clf.classes_[p[:5].argmax(axis=1)])
    assert clf.loss_curve_ == clf.run_.history["loss"].tolist() and len(clf.loss_curve_) == 40
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_two_classes_train_one_sigmoid_unit():
    X, y = iris()
    keep = y != "setosa"
    clf = MLPClassifier(epochs=5).fit(X[keep], y[keep])
    assert [layer["units"] for layer in clf.run_.description["layers"]] == [16, 1]
    assert clf.run_.loss.name == "binary_cross_entropy"
    assert clf.predict_proba(X[keep]).shape == (100, 2)


def test_the_estimator_trains_what_the_command_line_trains_on_the_same_config(cli, tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layers=(5,), activation="tanh", update="momentum", momentum=0.8,
                        learning_rate=0.02, batch_size=10, epochs=12, l2=1e-3, seed=7,
                        validation=0.2).fit(X, y)
    rows = ["a,b,c,d,target"] + [",".join([*map(repr, map(float, x)), str(int(t))])
                                 for x, t in zip(X, y)]
    (tmp_path / "iris.csv").write_text("\n".join(rows) + "\n")
    config = {"seed": 7, "data": {"source": "csv", "path": "iris.csv", "target": "target",
                                  "task": "classification", "validation": 0.2},
              "network": {"layers": [{"units": 5, "activation": "tanh"},
                                     {"units": 3, "activation": "softmax"}]},
              "training": {"update": "momentum", "momentum": 0.8, "learning_rate": 0.02,
                           "batch_size": 10, "epochs": 12, "l2": 1e-3}}
    assert cli.train(write_config(tmp_path, yaml.safe_dump(config))).exit_code == 0
    [run] = cli.run_dirs()
    expected = weights(run)
    got = clf.run_.network.parameters()
    assert list(got) == list(expected) and all(np.array_equal(got[k], expected[k])
                                               for k in got)


def test_regression_with_several_targets():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    Y = np.column_stack([X @ [1.0, -2.0, 0.5], X[:, 0] * 3 + 1])
    reg = MLPRegressor(hidden_layers=(), update="adam", learning_rate=0.05, epochs=60).fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (120, 2)
    assert reg.score(X, Y) > 0.99
    one = MLPRegressor(epochs=5).fit(X, Y[:, 0])
    assert one.predict(X).shape == (120,)


def test_pipeline_with_a_scaler():
    X, y = iris()
    X = X * [1, 100, 0.01, 1000]  # features on very different scales
    pipe = make_pipeline(StandardScaler(), MLPClassifier(scale="none", learning_rate=0.05,
                                                         epochs=30)).fit(X, y)
    scaled = StandardScaler().fit_transform(X)
    alone = MLPClassifier(scale="none", learning_rate=0.05, epochs=30).fit(scaled, y)
    assert np.array_equal(pipe.predict_proba(X), alone.predict_proba(scaled))
    assert pipe.score(X, y) > 0.9


def test_grid_search_over_the_learning_rate():
    X, y = iris()
    grid = GridSearchCV(MLPClassifier(epochs=15), {"learning_rate": [0.001, 0.2]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_ == {"learning_rate": 0.2}
    cv = StratifiedKFold(3)
    for lr, score in zip([0.001, 0.2], grid.cv_results_["mean_test_score"]):
        folds = [MLPClassifier(epochs=15, learning_rate=lr).fit(X[a], y[a]).score(X[b], y[b])
                 for a, b in cv.split(X, y)]
        assert score == pytest.approx(np.mean(folds), abs=1e-15)
    assert grid.best_estimator_.learning_rate == 0.2 and grid.score(X, y) > 0.9


def test_cross_val_score_equals_fitting_each_fold():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(90, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    reg = MLPRegressor(update="adam", learning_rate=0.02, epochs=30)
    scores = cross_val_score(reg, X, y, cv=KFold(3))
    folds = [clone(reg).fit(X[a], y[a]).score(X[b], y[b]) for a, b in KFold(3).split(X)]
    assert np.array_equal(scores, folds) and min(scores) > 0.5


def test_rows_of_weight_zero_are_left_out():
    X, y = iris()
    w = np.ones(150)
    w[::7] = 0
    weighted = MLPClassifier(epochs=5).fit(X, y, sample_weight=w)
    without = MLPClassifier(epochs=5).fit(X[w > 0], y[w > 0])
    assert np.array_equal(weighted.predict_proba(X), without.predict_proba(X))


def test_class_weights_are_given_by_label():
    X, y = iris()
    favoured = MLPClassifier(epochs=10, class_weight={"virginica": 50.0}).fit(X, y)
    plain = MLPClassifier(epochs=10).fit(X, y)
    assert np.mean(favoured.predict(X) == "virginica") > np.mean(plain.predict(X) ==
                                                                 "virginica")
    with pytest.raises(ValueError, match=r"class_weight: 'rose' is not a class of y"):
        MLPClassifier(class_weight={"rose": 2.0}).fit(X, y)


def test_bad_parameters_are_input_errors_and_value_errors_with_nncli_messages():
    X, y = iris()
    with pytest.raises(InputError) as caught:
        MLPClassifier(learning_rate=-1.0, update="sideways").fit(X, y)
    assert isinstance(caught.value, ValueError)
    assert caught.value.problems == [
        "config: training.learning_rate: Input should be greater than 0 (got -1.0)",
        "config: training.update: Input should be 'gradient', 'normalized', 'momentum', "
        "'nesterov', 'adam', 'rmsprop' or 'adagrad' (got 'sideways')"]
    with pytest.raises(ValueError, match=r"dropout: 2 values for 1 hidden layers"):
        MLPClassifier(dropout=(0.1, 0.2)).fit(X, y)
    with pytest.raises(ValueError, match=r"the classifier needs at least 2 classes; the data has "
                                         r"1 class \('setosa'\)"):
        MLPClassifier().fit(X[:10], y[:10])


def test_dataframes_keep_their_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = iris()
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    clf = MLPClassifier(epochs=3).fit(frame, pd.Series(y, name="species"))
    assert list(clf.feature_names_in_) == ["sl", "sw", "pl", "pw"]
    with pytest.warns(UserWarning, match="X does not have valid feature names, but "
                                         "MLPClassifier was fitted with feature names"):
        plain = clf.predict(X)
    assert np.array_equal(clf.predict(frame), plain)
    with pytest.raises(ValueError, match="The feature names should match those that were "
                                         "passed during fit"):
        clf.predict(frame.rename(columns={"sl": "sepal"}))


def test_a_fitted_estimator_pickles_without_its_data():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    clf = MLPClassifier(epochs=2).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert np.array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert len(pickle.dumps(clf)) < X.nbytes / 4  # the 2000 rows are not in it
    with pytest.raises(InputError, match="the run keeps no training data"):
        clf.run_.save("runs")
    assert clf.run_.plot("loss").axes[0].get_lines()[0].get_gid() == "loss"
    with pytest.raises(InputError, match="no boundary picture: the run keeps no data points"):
        clf.run_.plot("boundary")
