"""What training minimises: weight penalties (l1, l2), class and sample weights, dropout. Each
lives inside the engine's one forward and one backward pass; gradcheck checks them."""

import csv
import json
import warnings

import numpy as np
import pytest
import yaml

from conftest import assert_input_error, weights, write_config

from nncli import load_run
from nncli.config import load_config
from nncli.engine.activations import make_activation
from nncli.engine.losses import LOSSES
from nncli.engine.network import Layer, Network, evaluate
from nncli.engine.penalty import Penalty
from nncli.errors import NncliWarning
from nncli.insight.gradcheck import gradcheck_config
from nncli.metrics import ACCURACY
from nncli.training.experiment import prepare
from nncli.training.train import train_from_config


def experiment(path, *overrides):
    return prepare(load_config(path, list(overrides)), path)


# --- penalties ----------------------------------------------------------------------------------

def test_penalty_by_hand_weights_only():
    net = Network([Layer(np.array([[1.0, -2.0]]), np.array([3.0, 0.0]),
                         make_activation("linear"))])
    grad = np.zeros_like(net.theta)
    # l2 = 0.1: (0.1/2) * (1 + 4) = 0.25, gradient 0.1 * W = [0.1, -0.2]; the bias 3 is free
    assert Penalty(net, l2=0.1).add_gradient(net.theta, grad) == pytest.approx(0.25)
    np.testing.assert_allclose(net.named(grad)["W1"], [[0.1, -0.2]])
    assert not net.named(grad)["b1"].any()
    # l1 = 0.5: 0.5 * (1 + 2) = 1.5, gradient 0.5 * sign(W) = [0.5, -0.5]; both: the sum
    grad[:] = 0
    assert Penalty(net, l2=0.1, l1=0.5).add_gradient(net.theta, grad) == pytest.approx(1.75)
    np.testing.assert_allclose(net.named(grad)["W1"], [[0.6, -0.7]])


PENALISED = """seed: 2
data: {source: moons, n_samples: 60, noise: 0.2}
network:
  layers:
    - {units: 5, activation: tanh}
    - {units: 2, activation: softmax}
training: {epochs: 4, batch_size: 16, learning_rate: 0.2, l2: 0.05, l1: 0.01}
"""


def test_history_keeps_the_data_loss_and_adds_the_penalty(tmp_path):
    path = write_config(tmp_path, PENALISED)
    run = train_from_config(path, [], tmp_path / "runs").run_dir
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert list(rows[0]) == ["epoch", "loss", "penalty", "accuracy", "val_loss",
                             "val_accuracy"]
    plain = train_from_config(path, ["training.l2=0", "training.l1=0",
                                     "training.epochs=1"], tmp_path / "plain").run_dir
    # epoch 1 starts from the same weights: its first batch loss is the same data loss, and
    # the penalty is positive; without penalties there is no penalty column
    assert float(rows[0]["penalty"]) > 0
    assert "penalty" not in (plain / "history.csv").read_text().splitlines()[0]
    # the penalty column is the penalty of the weights averaged over the epoch's batches:
    # after training it is of the order of the final weights' penalty
    e = experiment(path)
    final = Penalty(e.network, l2=0.05, l1=0.01).value(
        np.concatenate([weights(run)[k].ravel() for k in e.network.parameters()]))
    assert float(rows[-1]["penalty"]) == pytest.approx(final, rel=0.05)


def test_l2_shrinks_the_weights(tmp_path):
    path = write_config(tmp_path, PENALISED)
    runs = {l2: weights(train_from_config(path, [f"training.l2={l2}", "training.l1=0",
                                                 "training.epochs=30"],
                                          tmp_path / str(l2)).run_dir)
            for l2 in (0, 0.1)}
    norm = {l2: sum(float((w[k] ** 2).sum()) for k in ("W1", "W2")) for l2, w in runs.items()}
    assert norm[0.1] < 0.6 * norm[0]
    assert np.array_equal(runs[0]["b1"] != 0, np.ones(5, bool))  # biases still move


def test_gradcheck_checks_the_penalised_gradient_and_skips_the_l1_kink(tmp_path):
    path = write_config(tmp_path, PENALISED.replace(
        "- {units: 2, activation: softmax}",
        "- {units: 2, activation: softmax, weights: [[0, 1], [1, 0], [0, 0], [0.5, 1], [2, 0]]}"))
    report = gradcheck_config(path)
    assert report.passed
    assert report.l1_kinks == 5  # the five zero weights of W2: |w| has no derivative at 0
    assert next(a for a in report.arrays if a.name == "W2").skipped == 5
    assert report.penalty == pytest.approx(0.05 / 2 * float(np.sum(np.square(
        experiment(path).network.parameters()["W1"]))) + 0.05 / 2 * 7.25
        + 0.01 * (float(np.abs(experiment(path).network.parameters()["W1"]).sum()) + 5.5))


def test_gradcheck_would_fail_without_the_penalty_in_backward(tmp_path, monkeypatch):
    """The check is real: with the penalty's gradient left out, the penalised loss disagrees."""
    path = write_config(tmp_path, PENALISED)
    monkeypatch.setattr(Penalty, "add_gradient",
                        lambda self, theta, grad: Penalty.value(self, theta) if grad is None
                        else 0.0)
    monkeypatch.setattr(Penalty, "value", lambda self, theta: 0.05 / 2 * float(
        np.vdot(theta, theta)))
    assert not gradcheck_config(path).passed


# --- class and sample weights -------------------------------------------------------------------

def test_every_loss_per_sample_averages_to_its_value():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 3))
    y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    for name, loss in LOSSES.items():
        if name == "cross_entropy":
            a = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        elif name == "binary_cross_entropy":
            a = 1 / (1 + np.exp(-z))
        elif name == "perceptron":
            a = (z >= 0).astype(float)
        else:
            a = z
        assert loss.per_sample(a, y, z).mean() == pytest.approx(loss.value(a, y, z), rel=1e-14)


def test_a_weight_of_two_is_a_row_seen_twice():
    """sum(w L)/sum(w) with w = [2, 1, 1] is the mean over [x0, x0, x1, x2]: same loss, same
    gradient."""
    rng = np.random.default_rng(1)
    net = Network([Layer(rng.normal(size=(2, 3)), rng.normal(size=3), make_activation("relu")),
                   Layer(rng.normal(size=(3, 2)), rng.normal(size=2), make_activation("softmax"))])
    X, Y = rng.normal(size=(3, 2)), np.eye(2)[[0, 1, 1]]
    for loss in (LOSSES["cross_entropy"], LOSSES["mse"]):
        ws = net.workspace(4)
        net.forward(X, ws)
        weighted = net.loss(loss, Y, ws, np.array([2.0, 1.0, 1.0]))
        net.backward(X, Y, loss, ws, weights=np.array([2.0, 1.0, 1.0]))
        g_weighted = ws.grad.copy()
        X2, Y2 = X[[0, 0, 1, 2]], Y[[0, 0, 1, 2]]
        net.forward(X2, ws)
        assert weighted == pytest.approx(net.loss(loss, Y2, ws), rel=1e-14)
        net.backward(X2, Y2, loss, ws)
        np.testing.assert_allclose(g_weighted, ws.grad, rtol=1e-13, atol=1e-16)


def imbalanced_csv(tmp_path, weight_column=False):
    """Two overlapping classes, 180 rows of 'a' and 20 of 'b' (10%)."""
    rng = np.random.default_rng(7)
    path = tmp_path / "imbalanced.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["x1", "x2"] + (["w"] if weight_column else []) + ["label"])
        for i in range(200):
            label = "b" if i % 10 == 0 else "a"
            centre = 1.0 if label == "b" else -0.3
            extra = [1.0 + (i % 3)] if weight_column else []
            out.writerow([f"{rng.normal(centre, 1):.6f}", f"{rng.normal(centre, 1):.6f}",
                          *extra, label])
    return path


IMBALANCED = """seed: 0
data: {source: csv, path: imbalanced.csv, target: label, validation: 0}
network:
  layers:
    - {units: 8, activation: tanh}
    - {units: 2, activation: softmax}
training: {epochs: 40, batch_size: 20, learning_rate: 0.1}
"""


def minority_recall(outcome):
    e = outcome.experiment
    _, _, out = evaluate(e.network, e.loss, e.X_train, e.Y_train, ACCURACY.fn)
    b = e.Y_train[:, 1] == 1
    return float(np.mean(out[b].argmax(axis=1) == 1))


def test_balanced_class_weights_raise_minority_recall(tmp_path):
    imbalanced_csv(tmp_path)
    path = write_config(tmp_path, IMBALANCED)
    plain = train_from_config(path, [], tmp_path / "plain")
    balanced = train_from_config(path, ["training.class_weight=balanced"], tmp_path / "bal")
    # balanced: n / (k * count_c) = 200 / (2 * 180) = 0.5556 for a, 200 / (2 * 20) = 5 for b
    w = balanced.experiment.weights
    labels = balanced.experiment.Y_train[:, 1]
    assert set(np.round(w[labels == 0], 4)) == {0.5556} and set(w[labels == 1]) == {5.0}
    # Unweighted, the network leans to "a": 9 of the 20 b rows are found (recall 0.45);
    # balanced, 19 of 20 (0.95), at the price of accuracy on the whole (0.92 -> 0.875).
    assert minority_recall(plain) == 0.45
    assert minority_recall(balanced) == 0.95
    assert (plain.metrics["train"]["accuracy"], balanced.metrics["train"]["accuracy"]) == \
        (0.92, 0.875)


def test_class_weights_of_one_and_a_constant_sample_weight_change_nothing(tmp_path):
    imbalanced_csv(tmp_path)
    path = write_config(tmp_path, IMBALANCED.replace("epochs: 40", "epochs: 3"))
    plain = train_from_config(path, [], tmp_path / "plain").run_dir
    ones = train_from_config(path, ["training.class_weight={a: 1, b: 1.0}"],
                             tmp_path / "ones").run_dir
    for name in ("weights.npz", "history.csv"):
        assert (plain / name).read_bytes() == (ones / name).read_bytes()


def test_sample_weight_column_weighs_rows_and_is_not_a_feature(tmp_path):
    imbalanced_csv(tmp_path, weight_column=True)
    path = write_config(tmp_path, IMBALANCED.replace("target: label", "target: label, "
                                                     "sample_weight: w"))
    e = experiment(path, "training.class_weight={b: 4}")
    assert e.dataset.feature_names == ["x1", "x2"]
    # row i has weight 1 + i % 3, times 4 for class b (row 0: b, weight 1 * 4)
    rows = e.train_idx
    expected = (1.0 + rows % 3) * np.where(rows % 10 == 0, 4.0, 1.0)
    np.testing.assert_array_equal(e.weights, expected)
    run = train_from_config(path, ["training.epochs=2", "training.class_weight={b: 4}"],
                            tmp_path / "runs")
    m = run.metrics
    value, _, _ = evaluate(run.experiment.network, run.experiment.loss, run.experiment.X_train,
                           run.experiment.Y_train, ACCURACY.fn, weights=e.weights)
    assert m["train"]["loss"] == value  # metrics.json reports the weighted loss


@pytest.mark.parametrize("change,message", [
    ("sample_weight: label", "data.sample_weight: column 'label' is also the target"),
    ("sample_weight: nope", "data.sample_weight: no column named 'nope' in {csv}; columns: "
                            "'x1', 'x2', 'w', 'label'"),
    ("sample_weight: w, features: [x1, w]", "data.sample_weight: column 'w' is also a feature"),
])
def test_bad_sample_weight_columns(tmp_path, cli, change, message):
    csv_path = imbalanced_csv(tmp_path, weight_column=True)
    path = write_config(tmp_path, IMBALANCED.replace("target: label", f"target: label, {change}"))
    assert_input_error(cli.train(path), f"{message.format(csv=csv_path)}")


@pytest.mark.parametrize("cell,got", [("0", "0"), ("", "an empty cell")])
def test_a_weight_that_is_not_positive_names_its_cell(tmp_path, cli, cell, got):
    csv_path = imbalanced_csv(tmp_path, weight_column=True)
    lines = csv_path.read_text().splitlines()
    x1, x2, _, label = lines[5].split(",")
    lines[5] = ",".join([x1, x2, cell, label])
    csv_path.write_text("\n".join(lines) + "\n")
    path = write_config(tmp_path, IMBALANCED.replace("target: label", "target: label, "
                                                     "sample_weight: w"))
    assert_input_error(cli.train(path), f"data.sample_weight: {csv_path}: row 6, column 'w': "
                                        f"a weight must be a number > 0 (got {got})")


def test_class_weight_names_classes_of_the_data(tmp_path, cli):
    imbalanced_csv(tmp_path)
    path = write_config(tmp_path, IMBALANCED)
    assert_input_error(cli.train(path, "--set", "training.class_weight={c: 2}"),
                       "training.class_weight: 'c' is not a class of the data; classes: "
                       "'a', 'b'")


def test_class_weight_is_for_classification_only(cli, configs):
    r = cli.train(configs / "regression.yaml", "--set", "training.class_weight=balanced")
    assert_input_error(r, "training.class_weight: applies to classification only; this data "
                          "is a regression target")


# --- dropout ------------------------------------------------------------------------------------

DROPOUT = """seed: 5
data: {source: moons, n_samples: 80, noise: 0.2}
network:
  layers:
    - {units: 16, activation: relu, dropout: 0.5}
    - {units: 8, activation: tanh, dropout: 0.25}
    - {units: 2, activation: softmax}
training: {epochs: 3, batch_size: 16, learning_rate: 0.1}
"""


def test_dropout_masks_keep_one_minus_p_scaled_up(tmp_path):
    e = experiment(write_config(tmp_path, DROPOUT))
    ws = e.network.workspace(4000, dropout=True)
    ws.draw_masks(np.random.default_rng(0), 4000)
    m1, m2 = ws.masks[0], ws.masks[1]
    assert set(np.unique(m1)) == {0.0, 2.0} and set(np.unique(m2)) == {0.0, 1 / 0.75}
    assert np.mean(m1 == 0) == pytest.approx(0.5, abs=0.01)
    assert np.mean(m2 == 0) == pytest.approx(0.25, abs=0.01)
    assert 2 not in ws.masks  # never on the output layer


def test_dropout_trains_with_masks_and_evaluates_without(tmp_path):
    path = write_config(tmp_path, DROPOUT)
    run = train_from_config(path, [], tmp_path / "runs")
    e = run.experiment
    # metrics.json's validation loss is the plain forward pass of the final weights
    _, _, out = evaluate(e.network, e.loss, e.X_val, e.Y_val, ACCURACY.fn)
    ws = e.network.workspace(len(e.X_val))
    np.testing.assert_array_equal(out, e.network.forward(e.X_val, ws))
    # and predict (the run loaded back) gives those outputs too
    X_raw = e.scaler.inverse(e.X_val)
    np.testing.assert_allclose(load_run(run.run_dir).predict_proba(X_raw), out, rtol=1e-12)
    # a run with dropout 0 has the same initial weights but other final weights
    other = experiment(path, "network.layers.0.dropout=0", "network.layers.1.dropout=0")
    assert np.array_equal(other.network.theta, experiment(path).network.theta)
    no_dropout = train_from_config(path, ["network.layers.0.dropout=0",
                                          "network.layers.1.dropout=0"], tmp_path / "plain")
    assert not np.array_equal(no_dropout.experiment.network.theta, e.network.theta)
    again = train_from_config(path, [], tmp_path / "again")  # and the masks are seeded
    assert np.array_equal(again.experiment.network.theta, e.network.theta)


def test_dropout_backward_matches_finite_differences_through_the_mask(tmp_path):
    report = gradcheck_config(write_config(tmp_path, DROPOUT), samples=8)
    assert report.passed
    dropped, total = report.dropout[1]
    assert total == 8 * 16 and 40 <= dropped <= 88


def test_dropout_on_the_output_layer_is_an_error(tmp_path, cli):
    path = write_config(tmp_path, DROPOUT.replace("- {units: 2, activation: softmax}",
                                                  "- {units: 2, activation: softmax, "
                                                  "dropout: 0.1}"))
    assert_input_error(cli.train(path), f"{path}:3:1: network: layers[2] (layer 3).dropout: "
                                        "dropout applies to hidden layers only, not to the "
                                        "output layer")


# --- settings of the update rule in the resolved config -----------------------------------------

def test_the_resolved_config_holds_the_rules_settings_only(tmp_path, cli):
    path = write_config(tmp_path, DROPOUT.replace("learning_rate: 0.1}",
                                                  "learning_rate: 0.1, momentum: 0.5}"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = experiment(path, "training.update=adam")
    assert [str(w.message) for w in caught if w.category is NncliWarning] == [
        "training.momentum has no effect with update adam (it applies to momentum, nesterov); "
        "ignored"]
    t = e.config.training
    assert (t.beta1, t.beta2, t.epsilon, t.momentum, t.rho) == (0.9, 0.999, 1e-8, None, None)
    r = cli.train(path, "--set", "training.update=nesterov")
    assert r.exit_code == 0 and "warning" not in r.stderr
    resolved = yaml.safe_load((cli.run_dirs()[0] / "config.yaml").read_text())["training"]
    assert resolved["momentum"] == 0.5 and resolved["momentum_form"] == "classic"
    assert "beta1" not in resolved and resolved["schedule"] == "constant"


def test_hagan_has_no_nesterov_form(tmp_path, cli):
    path = write_config(tmp_path, DROPOUT.replace("learning_rate: 0.1}", "learning_rate: 0.1, "
                                                  "momentum_form: hagan}"))
    assert_input_error(cli.train(path, "--set", "training.update=nesterov"),
                       f"{path}:8:59: training.momentum_form: hagan has no Nesterov form; use "
                       f"classic or pytorch with update nesterov (or update momentum)")


def test_gradcheck_says_what_the_objective_holds(tmp_path, cli):
    path = write_config(tmp_path, DROPOUT.replace("learning_rate: 0.1}",
                                                  "learning_rate: 0.1, l2: 0.1}"))
    r = cli("gradcheck", path, "--samples", "4")
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "the loss includes the weight penalty" in text
    assert "dropout: one fixed mask is used for every evaluation (layer 1:" in text
    report = json.loads(cli("gradcheck", path, "--samples", "4", "--json").stdout)
    assert report["dropout"]["layers"][0]["total"] == 64 and report["penalty"] > 0


def test_class_weights_by_integer_label_survive_the_resolved_config(tmp_path):
    """config.yaml writes {0: 2} as {'0': 2.0} (YAML from JSON keys); it trains the same."""
    path = write_config(tmp_path, PENALISED.replace("l1: 0.01}", "l1: 0.01, "
                                                    "class_weight: {0: 2}}"))
    first = train_from_config(path, [], tmp_path / "a")
    assert set(first.experiment.weights) == {1.0, 2.0}
    again = train_from_config(first.run_dir / "config.yaml", [], tmp_path / "b").run_dir
    assert (first.run_dir / "weights.npz").read_bytes() == (again / "weights.npz").read_bytes()
