"""`nncli trace`: the worked examples step by step, the batches training uses, and the formats."""

import json

import numpy as np
import pytest

from conftest import weights, write_config

from nncli.training.train import train_from_config


def trace_json(cli, path, *extra):
    r = cli("trace", path, "--format", "json", *extra)
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 1  # one JSON object on one line
    return json.loads(r.stdout)


def test_worked_example_b(cli, configs):
    t = trace_json(cli, configs / "example-b-two-layers.yaml", "--steps", "1")
    (step,) = t["steps"]
    assert step["x"] == [[3, 5]] and step["y"] == [[1, 0]]
    hidden, output = step["forward"]
    # h = x W1 + b1 = [1.5+5+1, 3+10+1, 21+5+1, 9+2.5+1]; linear, so a = z
    assert hidden["z"] == hidden["a"] == [[7.5, 14, 27, 12.5]]
    # o = h W2 + b2 = [7.5+7+81+25+1, 15+7+27+12.5+1]
    assert output["z"] == output["a"] == [[121.5, 62.5]]
    assert step["loss"] == 9213.25  # (120.5^2 + 62.5^2) / 2
    # backwards, last layer first: delta2 = dL/do = 2 (o - y) / 2
    assert [b["layer"] for b in step["backward"]] == [2, 1]
    back2, back1 = step["backward"]
    assert back2["delta"] == [[120.5, 62.5]]
    assert back2["dW"] == [[903.75, 468.75], [1687, 875], [3253.5, 1687.5], [1506.25, 781.25]]
    assert back2["db"] == [120.5, 62.5]
    # delta1 = delta2 W2^T = [120.5+125, 60.25+31.25, 361.5+62.5, 241+62.5]; dL/dW1 = x^T delta1
    assert back1["delta"] == [[245.5, 91.5, 424, 303.5]]
    assert back1["db"] == [245.5, 91.5, 424, 303.5]
    assert back1["dW"] == [[736.5, 274.5, 1272, 910.5], [1227.5, 457.5, 2120, 1517.5]]
    # the update: W <- W - 0.001 dL/dW
    initial, after = t["initial"], step["updated"]
    for name in ["W1", "b1", "W2", "b2"]:
        grad = {"W1": back1["dW"], "b1": back1["db"], "W2": back2["dW"], "b2": back2["db"]}[name]
        np.testing.assert_allclose(after[name], np.array(initial[name]) - 0.001 * np.array(grad),
                                   rtol=0, atol=1e-15)
    np.testing.assert_allclose(after["W2"][0], [0.09625, 1.53125])
    np.testing.assert_allclose(after["b1"], [0.7545, 0.9085, 0.576, 0.6965])
    assert t["stopped"] is None and t["learning_rate"] == 0.001 and t["loss"] == "mse"


def test_worked_example_a(cli, configs):
    # y = 2 w; dJ/dw = (2w - 1) * 2 = 1.8 at w = 0.95; w <- 0.95 - 0.1 * 1.8 = 0.77
    t = trace_json(cli, configs / "example-a-one-weight.yaml")
    (step,) = t["steps"]
    assert t["initial"] == {"W1": [[0.95]]}  # no bias
    assert step["forward"][0]["a"] == [[1.9]]
    assert step["loss"] == pytest.approx(0.405)  # 1/2 (1.9 - 1)^2
    assert step["backward"][0]["dW"] == [[pytest.approx(1.8)]]
    assert step["backward"][0]["db"] is None
    assert step["updated"]["W1"][0][0] == pytest.approx(0.77)
    # each step is w <- 0.6 w + 0.2: 0.5027 after 10
    t = trace_json(cli, configs / "example-a-one-weight.yaml", "--steps", "10")
    assert [s["epoch"] for s in t["steps"]] == list(range(1, 11))
    assert round(t["steps"][-1]["updated"]["W1"][0][0], 4) == 0.5027


def test_a_batch_shows_the_averaged_gradient(cli, tmp_path):
    # Two samples, w = 0.95, half_sse: per sample dJ/dw = (x w - y) x:
    # (1.9 - 1) * 2 = 1.8 and (0.95 - 0) * 1 = 0.95; the mean 1.375 is the gradient used,
    # so w <- 0.95 - 0.1 * 1.375 = 0.8125. Each delta row carries the 1/n: [0.9/2, 0.95/2].
    path = write_config(tmp_path, """
data: {source: inline, x: [[2], [1]], y: [1, 0]}
network: {bias: false, layers: [{units: 1, activation: linear, weights: [[0.95]]}]}
training: {loss: half_sse, batch: full, learning_rate: 0.1}
""")
    (step,) = trace_json(cli, path)["steps"]
    assert step["rows"] == [0, 1]
    np.testing.assert_allclose(step["backward"][0]["delta"], [[0.45], [0.475]])
    np.testing.assert_allclose(step["backward"][0]["dW"], [[1.375]])
    np.testing.assert_allclose(step["updated"]["W1"], [[0.8125]])


SHUFFLED = """
seed: 4
data: {source: inline, x: [[0.1], [0.5], [0.9], [1.3], [1.7], [2.1], [2.5], [2.9], [3.3], [3.7]],
       y: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
network: {layers: [{units: 3, activation: tanh}, {units: 1, activation: linear}]}
training: {loss: mse, batch: minibatch, batch_size: 4, shuffle: true, learning_rate: 0.05,
           epochs: 2}
"""


def test_traced_updates_are_the_updates_training_makes(cli, tmp_path):
    # 10 rows in batches of 4: 3 updates per epoch (4, 4, 2 rows), reshuffled every epoch.
    path = write_config(tmp_path, SHUFFLED)
    t = trace_json(cli, path, "--steps", "6")
    assert [(s["epoch"], s["batch"], len(s["rows"])) for s in t["steps"]] == \
        [(1, 1, 4), (1, 2, 4), (1, 3, 2), (2, 1, 4), (2, 2, 4), (2, 3, 2)]
    for epoch in (t["steps"][:3], t["steps"][3:]):
        assert sorted(r for s in epoch for r in s["rows"]) == list(range(10))
    assert [s["rows"] for s in t["steps"][:3]] != [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    trained = weights(train_from_config(path, [], tmp_path / "runs").run_dir)  # 2 epochs
    for name, value in t["steps"][-1]["updated"].items():
        np.testing.assert_array_equal(np.array(value), trained[name])  # bit for bit


def test_markdown_is_in_textbook_order(cli, configs):
    r = cli("trace", configs / "example-b-two-layers.yaml", "--format", "markdown")
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert md.startswith("# Trace of example-b\n")
    order = ["## Initial weights", "## Step 1: epoch 1, batch 1 of 1", "**x**: the inputs",
             "**z1** = x · W1 + b1", "**a1** = linear(z1)", "**z2** = a1 · W2 + b2",
             "L = mse, mean over the 1 sample = **9213.25**", "**δ2** = dL/dz2",
             "**dL/dW2** = a1ᵀ · δ2", "**dL/db2**", "**δ1** = dL/dz1 = (δ2 · W2ᵀ) ⊙ linear′(z1)",
             "**dL/dW1** = xᵀ · δ1", "### After the update", "**W1** ← W1 − lr · dL/dW1"]
    positions = [md.index(s) for s in order]
    assert positions == sorted(positions)
    assert "| 1 | 7.5 | 14 | 27 | 12.5 |" in md
    assert "| 2 | 1227.5 | 457.5 | 2120 | 1517.5 |" in md  # dL/dW1, second row
    assert "| 1 | -0.2365 | 0.7255 | 5.728 | 2.0895 |" in md  # W1 after the update


def test_text_format_and_digits(cli, configs):
    r = cli("trace", configs / "example-b-two-layers.yaml")
    assert r.exit_code == 0, r.output
    assert "Step 1: epoch 1, batch 1 of 1" in r.stdout and "9213.25" in r.stdout
    assert "**" not in r.stdout  # rendered, not raw Markdown
    r = cli("trace", configs / "example-b-two-layers.yaml", "--format", "markdown",
            "--digits", "2")
    assert "**9.2e+03**" in r.stdout


def test_frozen_parameters_stay_and_are_marked(cli, configs):
    args = (configs / "example-b-two-layers.yaml", "--set", "network.layers.0.freeze=[biases]")
    t = trace_json(cli, *args)
    assert t["layers"][0]["frozen"] == ["biases"]
    step = t["steps"][0]
    assert step["updated"]["b1"] == t["initial"]["b1"] == [1, 1, 1, 1]
    assert step["backward"][1]["db"] == [245.5, 91.5, 424, 303.5]  # still computed and shown
    md = cli("trace", *args, "--format", "markdown").stdout
    assert "**b1** (frozen: unchanged)" in md


def test_normalized_update_shows_the_gradient_norm(cli, configs):
    t = trace_json(cli, configs / "example-b-two-layers.yaml", "--set", "training.update=normalized")
    step = t["steps"][0]
    grads = [np.array(b[k], dtype=float) for b in step["backward"] for k in ("dW", "db")]
    assert step["grad_norm"] == pytest.approx(np.sqrt(sum((g ** 2).sum() for g in grads)))
    moved = np.sqrt(sum(((np.array(step["updated"][k]) - np.array(t["initial"][k])) ** 2).sum()
                        for k in t["initial"]))
    assert moved == pytest.approx(0.001)  # a step of length lr


def test_a_non_finite_loss_stops_the_trace_with_exit_1(cli, tmp_path):
    path = write_config(tmp_path, """
data: {source: inline, x: [[1.0e+200]], y: [1]}
network: {layers: [{units: 1, activation: linear, weights: [[1.0e+200]]}]}
training: {loss: mse, batch: full}
""")
    r = cli("trace", path, "--format", "json", "--steps", "3")
    assert r.exit_code == 1
    t = json.loads(r.stdout)
    (step,) = t["steps"]
    assert step["forward"][0]["z"] == [[None]] and step["loss"] is None  # inf: JSON null
    assert step["backward"] == [] and step["updated"] is None
    assert t["stopped"].startswith("the loss became inf at step 1")
    assert r.stderr.startswith("error: the loss became inf at step 1")


@pytest.mark.parametrize("args,expected", [
    (["--steps", "0"], "--steps: expected an integer >= 1 (got 0)"),
    (["--format", "html"], "--format: expected one of text, markdown, json (got 'html')"),
    (["--digits", "0"], "--digits: expected an integer from 1 to 17 (got 0)"),
])
def test_bad_arguments_exit_2(cli, configs, args, expected):
    r = cli("trace", configs / "example-a-one-weight.yaml", *args)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == f"error: {expected}\n"


def test_a_bad_config_exits_2(cli, tmp_path):
    r = cli("trace", tmp_path / "missing.yaml")
    assert r.exit_code == 2 and "config file not found" in r.stderr
