"""`nncli gradcheck`: backprop against finite differences on every allowed pairing, on every
shipped config, and proof that the check can fail (a broken derivative, a kink not skipped)."""

import json

import numpy as np
import pytest

from conftest import CONFIGS, write_config

import nncli.insight.gradcheck
from nncli.engine.activations import Tanh, make_activation
from nncli.engine.losses import LOSSES
from nncli.engine.network import Layer, Network
from nncli.insight.gradcheck import DEFAULT_TOL, FLOOR, check_gradients, gradcheck_config

HIDDEN = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
# Every (output activation, loss) pair the config accepts: the regression losses with any
# output but step, and the three losses that need their own output.
OUTPUT_LOSS = [(out, loss) for out in ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
               for loss in ["mse", "half_sse", "mae"]] + [
    ("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy"), ("step", "perceptron")]


def random_config(hidden, output, loss, dtype, seed=3):
    """A small random network on 6 inline rows, as one compact (fast to parse) YAML text."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(6, 3)).round(4).tolist()
    if loss == "cross_entropy":
        units, y, task = 3, [0, 1, 2, 0, 1, 2], "classification"
    elif loss in ("binary_cross_entropy", "perceptron"):
        units, y, task = 1, [0, 1, 1, 0, 1, 0], "classification"
    else:
        units, y, task = 2, rng.normal(size=(6, 2)).round(4).tolist(), "regression"
    # Nonzero biases: with zero ones, a sample whose relu units are all 0 would put the next
    # layer exactly on a kink (z = b = 0), and those entries would rightly be skipped.
    b1, b2 = rng.uniform(0.1, 0.5, 4).round(3).tolist(), rng.uniform(0.1, 0.5, units).round(3).tolist()
    return (f"{{seed: {seed}, dtype: {dtype}, data: {{source: inline, task: {task}, x: {x}, y: {y}}}, "
            f"network: {{layers: [{{units: 4, activation: {hidden}, biases: {b1}}}, "
            f"{{units: {units}, activation: {output}, biases: {b2}}}]}}, "
            f"training: {{loss: {loss}, batch: full}}}}")


def run_json(cli, path, *extra):
    r = cli("gradcheck", path, "--json", *extra)
    return r, json.loads(r.stdout)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_every_pairing_passes(tmp_path, hidden, output, loss, dtype):
    # Through the library that `nncli gradcheck` runs (exit 0 exactly when report.passed):
    # 252 cases, so the CLI's per-call set-up is left to the tests below.
    path = write_config(tmp_path, random_config(hidden, output, loss, dtype))
    report = gradcheck_config(path).to_dict()
    assert report["passed"] and report["dtype"] == dtype and report["tol"] == DEFAULT_TOL[dtype]
    assert [a["name"] for a in report["arrays"]] == ["W1", "b1", "W2", "b2"]
    for a in report["arrays"]:
        assert a["status"] == "pass" and a["checked"] == a["size"] and a["skipped"] == 0
        assert a["max_rel_error"] <= report["tol"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("tanh", "mae")])
def test_pairings_pass_through_the_command(cli, tmp_path, output, loss, dtype):
    path = write_config(tmp_path, random_config("leaky_relu", output, loss, dtype))
    r = cli("gradcheck", path)
    assert r.exit_code == 0, r.output
    assert "gradcheck exp: passed" in r.stdout and r.stdout.count(" pass ") == 4


@pytest.mark.parametrize("config", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_config_passes(cli, config):
    r, report = run_json(cli, CONFIGS / config, "--samples", "8", "--max-params", "200")
    assert r.exit_code == 0, r.output
    assert report["passed"] and report["failed"] == []
    for a in report["arrays"]:
        assert a["checked"] + a["skipped"] == min(a["size"], 200)
    if config == "xor-perceptron.yaml":
        # zero initial weights put every step unit exactly on its kink: nothing to compare
        assert {a["status"] for a in report["arrays"]} == {"skipped"}
        assert report["kinks"] == [{"layer": 1, "activation": "step", "count": 4, "total": 4}]
    else:
        assert {a["status"] for a in report["arrays"]} == {"pass"}


def test_a_broken_derivative_fails_and_names_the_arrays(cli, tmp_path, monkeypatch):
    def wrong_backprop(self, a, grad):
        grad *= 1 - a  # should be 1 - a**2
        return grad

    monkeypatch.setattr(Tanh, "backprop", wrong_backprop)
    path = write_config(tmp_path, random_config("tanh", "linear", "mse", "float64"))
    r = cli("gradcheck", path)
    assert r.exit_code == 1
    # The hidden layer's gradients go through tanh's derivative; the output layer's do not.
    assert "FAIL" in r.stdout and "FAILED" in r.stdout
    assert r.stderr.startswith("error: gradient check failed for W1 (max relative error")
    assert "b1 (max relative error" in r.stderr and "W2" not in r.stderr
    r, report = run_json(cli, path)
    assert r.exit_code == 1
    assert report["failed"] == ["W1", "b1"]
    assert [a["status"] for a in report["arrays"]] == ["fail", "fail", "pass", "pass"]


KINK = """
data: {source: inline, x: [[1, 2], [0.5, -1]], y: [1, -1]}
network:
  layers:
    # sample 1, unit 1: z = 1*1 + 2*(-0.5) + 0 = 0, exactly on relu's kink
    - {units: 2, activation: relu, weights: [[1, 0.5], [-0.5, 0.25]], biases: [0, 0.1]}
    - {units: 1, activation: linear, weights: [[1], [2]]}
training: {loss: mse, batch: full}
"""


def test_relu_exactly_on_its_kink_is_skipped_and_reported(cli, tmp_path, monkeypatch):
    path = write_config(tmp_path, KINK)
    r, report = run_json(cli, path)
    assert r.exit_code == 0, r.output
    assert report["kinks"] == [{"layer": 1, "activation": "relu", "count": 1, "total": 4}]
    by_name = {a["name"]: a for a in report["arrays"]}
    # W1[:, 0] and b1[0] move the kinked unit across z = 0; W2 and b2 do not.
    assert [by_name[k]["skipped"] for k in ["W1", "b1", "W2", "b2"]] == [2, 1, 0, 0]
    assert [by_name[k]["checked"] for k in ["W1", "b1", "W2", "b2"]] == [2, 1, 2, 1]
    r = cli("gradcheck", path)
    assert "1 of 4 unit values sit exactly on the kink z = 0" in r.stdout
    assert "skipped 3 entries whose finite difference crosses a kink" in r.stdout
    # Without the kink test the one-sided derivative (0) meets the finite difference (1/2):
    monkeypatch.setattr(nncli.insight.gradcheck, "has_kink", lambda activation: False)
    r = cli("gradcheck", path)
    assert r.exit_code == 1 and "gradient check failed for W1" in r.stderr


def test_frozen_arrays_are_checked_and_reported(cli, tmp_path):
    text = random_config("tanh", "linear", "mse", "float64").replace(
        "activation: tanh,", "activation: tanh, freeze: [biases],")
    path = write_config(tmp_path, text)
    r, report = run_json(cli, path)
    assert r.exit_code == 0, r.output
    assert [a["trainable"] for a in report["arrays"]] == [True, False, True, True]
    assert report["arrays"][1]["status"] == "pass"
    r = cli("gradcheck", path)
    assert "pass (frozen)" in r.stdout


def test_table_sampling_and_tolerance(cli, configs):
    r, report = run_json(cli, configs / "example-b-two-layers.yaml", "--max-params", "3")
    assert r.exit_code == 0
    assert [a["checked"] for a in report["arrays"]] == [3, 3, 3, 2]  # b2 has only 2 entries
    # The floor is 0.001 * max(|loss|, 1) with loss 9213.25.
    assert report["loss"] == 9213.25 and report["floor"] == pytest.approx(FLOOR * 9213.25)
    # Rounding in the finite differences is ~1e-9 relative here: a 1e-14 tolerance must fail.
    r = cli("gradcheck", configs / "example-b-two-layers.yaml", "--tol", "1e-14")
    assert r.exit_code == 1 and "tolerance 1e-14" in r.stderr
    r = cli("gradcheck", configs / "example-b-two-layers.yaml")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert "gradcheck example-b: passed" in lines[0]
    assert any(line.split("│")[1:4] == [" W1    ", " 2x4   ", "       8 "] for line in lines)


@pytest.mark.parametrize("args,expected", [
    (["--samples", "0"], "--samples: expected an integer >= 1 (got 0)"),
    (["--eps", "0"], "--eps: expected a number > 0"),
    (["--tol", "-1"], "--tol: expected a number > 0"),
    (["--max-params", "-1"], "--max-params: expected an integer >= 0"),
    (["--set", "training.loss=huber"], "training.loss"),
])
def test_bad_arguments_exit_2(cli, configs, args, expected):
    r = cli("gradcheck", configs / "example-a-one-weight.yaml", *args)
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and expected in r.stderr and r.stdout == ""


def test_library_checks_a_network_without_a_config():
    # Example A by hand: L = 1/2 (2w - 1)^2, dL/dw = 2 (2w - 1) = 1.8 at w = 0.95.
    net = Network([Layer(np.array([[0.95]]), None, make_activation("linear"))])
    X, Y = np.array([[2.0]]), np.array([[1.0]])
    report = check_gradients(net, LOSSES["half_sse"], X, Y)
    (w,) = report.arrays
    assert report.passed and w.name == "W1" and w.checked == 1
    assert report.loss == pytest.approx(0.405)  # 1/2 (1.9 - 1)^2
    assert w.max_abs < 1e-8
    assert net.layers[0].W[0, 0] == 0.95  # the network is left as it was


def test_the_command_modules_stay_light_and_share_the_library_defaults():
    # `nncli --help` must not import the library (numpy, pydantic, the data layer), so the
    # command spells out the defaults it shows; they must be the library's.
    import subprocess
    import sys

    import nncli.cli.gradcheck as command

    code = "import sys, nncli.cli; print(sorted(m for m in sys.modules if m in " \
           "('nncli.insight.gradcheck', 'nncli.insight.trace')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert (command.DEFAULT_EPS, command.DEFAULT_TOL, command.DEFAULT_SAMPLES,
            command.DEFAULT_MAX_PARAMS) == (nncli.insight.gradcheck.DEFAULT_EPS, DEFAULT_TOL,
                                            nncli.insight.gradcheck.DEFAULT_SAMPLES,
                                            nncli.insight.gradcheck.DEFAULT_MAX_PARAMS)
