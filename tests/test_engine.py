"""The engine's math: every activation and loss against central finite differences, and the
worked examples' arithmetic through the engine alone."""

import numpy as np
import pytest

from nncli.engine.activations import ACTIVATIONS, make_activation
from nncli.engine.losses import LOSSES
from nncli.engine.network import Layer, Network
from nncli.engine import optim

# (output activation, loss) pairs the config allows, and targets that suit them.
PAIRS = [
    ("linear", "mse"), ("linear", "half_sse"), ("linear", "mae"),
    ("tanh", "mse"), ("sigmoid", "mse"), ("sigmoid", "binary_cross_entropy"),
    ("softmax", "cross_entropy"), ("softmax", "mse"), ("relu", "half_sse"),
    ("leaky_relu", "mse"),
]
HIDDEN = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]


def make_net(rng, sizes, hidden, output, dtype=np.float64, bias=True):
    layers = []
    for i, (fan_in, units) in enumerate(zip(sizes, sizes[1:])):
        act = output if i == len(sizes) - 2 else hidden
        layers.append(Layer(rng.normal(0, 0.8, (fan_in, units)).astype(dtype),
                            rng.normal(0, 0.3, units).astype(dtype) if bias else None,
                            make_activation(act, alpha=0.1)))
    return Network(layers)


def targets_for(output, rng, n, k):
    if output == "softmax":
        return np.eye(k)[rng.integers(0, k, n)]
    if output == "sigmoid":
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.normal(size=(n, k))


def loss_at(net, loss, X, Y):
    ws = net.workspace(len(X))
    net.forward(X, ws)
    return net.loss(loss, Y, ws)


def numeric_gradients(net, loss, X, Y, eps=1e-6):
    grads = {}
    for name, p in net.parameters().items():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = loss_at(net, loss, X, Y)
            p[i] = old - eps
            down = loss_at(net, loss, X, Y)
            p[i] = old
            g[i] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output,loss_name", PAIRS)
def test_backprop_matches_finite_differences(hidden, output, loss_name):
    rng = np.random.default_rng(7)
    k = 3
    net = make_net(rng, [4, 5, k], hidden, output)
    X = rng.normal(size=(6, 4))
    Y = targets_for(output, rng, 6, k)
    loss = LOSSES[loss_name]
    ws = net.workspace(len(X))
    net.forward(X, ws)
    net.backward(X, Y, loss, ws)
    analytic = {k_: v.copy() for k_, v in net.gradients(ws).items()}
    numeric = numeric_gradients(net, loss, X, Y)
    for name in analytic:
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=1e-5, atol=1e-7,
                                   err_msg=f"{hidden}/{output}/{loss_name}: {name}")


def test_fused_losses_are_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0]])
    y = np.array([[0.0, 1.0, 0.0]])
    a = np.empty_like(z)
    make_activation("softmax").forward(z, a)
    assert np.all(np.isfinite(a))
    assert LOSSES["cross_entropy"].value(a, y, z) == pytest.approx(2000.0)
    zb = np.array([[800.0], [-800.0]])
    ab = np.empty_like(zb)
    make_activation("sigmoid").forward(zb, ab)
    yb = np.array([[0.0], [0.0]])
    # softplus(800) - 0 = 800 for the first sample, softplus(-800) ~ 0 for the second
    assert LOSSES["binary_cross_entropy"].value(ab, yb, zb) == pytest.approx(400.0)


def test_perceptron_delta_is_the_perceptron_rule():
    # One step unit, w = [1, -1], b = 0; x = [0, 1] gives z = -1, a = 0, but y = 1:
    # the rule adds lr * (y - a) * x = [0, 1] to w and lr * 1 to b.
    net = Network([Layer(np.array([[1.0], [-1.0]]), np.zeros(1), make_activation("step"))])
    X, Y = np.array([[0.0, 1.0]]), np.array([[1.0]])
    ws = net.workspace(1)
    assert net.forward(X, ws)[0, 0] == 0.0
    assert net.loss(LOSSES["perceptron"], Y, ws) == 1.0  # max(0, -t z) = 1
    net.backward(X, Y, LOSSES["perceptron"], ws)
    optim.for_network("gradient", net, 1.0).update(net.theta, ws.grad)
    np.testing.assert_array_equal(net.layers[0].W, [[1.0], [0.0]])
    np.testing.assert_array_equal(net.layers[0].b, [1.0])


def test_worked_example_b_by_engine():
    # x = [3, 5]; h = x W1 + b1 = [1.5+5+1, 3+10+1, 21+5+1, 9+2.5+1] = [7.5, 14, 27, 12.5]
    # o = h W2 + b2 = [7.5+7+81+25+1, 15+7+27+12.5+1] = [121.5, 62.5]
    # mse = ((120.5)^2 + 62.5^2) / 2 = 9213.25; dL/do = 2 (o - y) / 2 = [120.5, 62.5]
    W1 = np.array([[0.5, 1, 7, 3], [1, 2, 1, 0.5]])
    W2 = np.array([[1, 2], [0.5, 0.5], [3, 1], [2, 1]], dtype=float)
    net = Network([Layer(W1.copy(), np.ones(4), make_activation("linear")),
                   Layer(W2.copy(), np.ones(2), make_activation("linear"))])
    X, Y = np.array([[3.0, 5.0]]), np.array([[1.0, 0.0]])
    ws = net.workspace(1, keep_z=True)
    out = net.forward(X, ws)
    np.testing.assert_array_equal(ws.a[0][0], [7.5, 14, 27, 12.5])
    np.testing.assert_array_equal(out[0], [121.5, 62.5])
    assert net.loss(LOSSES["mse"], Y, ws) == 9213.25
    net.backward(X, Y, LOSSES["mse"], ws)
    g = net.gradients(ws)
    # dL/dW2 = h^T dL/do: row i is h_i * [120.5, 62.5]
    np.testing.assert_allclose(g["W2"], [[903.75, 468.75], [1687, 875], [3253.5, 1687.5],
                                         [1506.25, 781.25]])
    np.testing.assert_allclose(g["b2"], [120.5, 62.5])
    # dL/dh = dL/do W2^T = [120.5+125, 60.25+31.25, 361.5+62.5, 241+62.5] = [245.5, 91.5, 424, 303.5]
    # dL/dW1 = x^T dL/dh
    np.testing.assert_allclose(g["W1"], [[736.5, 274.5, 1272, 910.5],
                                         [1227.5, 457.5, 2120, 1517.5]])
    optim.for_network("gradient", net, 0.001).update(net.theta, ws.grad)
    net.forward(X, ws)
    assert round(net.loss(LOSSES["mse"], Y, ws), 2) == 196.56


def test_frozen_parameters_are_not_updated_but_have_gradients():
    rng = np.random.default_rng(0)
    net = make_net(rng, [2, 3, 1], "tanh", "linear")
    net.layers[0].frozen = frozenset({"biases"})
    b1 = net.layers[0].b.copy()
    W1 = net.layers[0].W.copy()
    X, Y = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    ws = net.workspace(4)
    net.forward(X, ws)
    net.backward(X, Y, LOSSES["mse"], ws)
    assert np.any(ws.db[0] != 0)
    optim.for_network("gradient", net, 0.1).update(net.theta, ws.grad)
    np.testing.assert_array_equal(net.layers[0].b, b1)
    assert np.any(net.layers[0].W != W1)


def test_normalized_update_takes_a_step_of_length_lr():
    rng = np.random.default_rng(1)
    net = make_net(rng, [3, 4, 2], "relu", "linear")
    before = np.concatenate([p.ravel() for p in net.parameters().values()])
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    ws = net.workspace(5)
    net.forward(X, ws)
    net.backward(X, Y, LOSSES["mse"], ws)
    optim.for_network("normalized", net, 0.05).update(net.theta, ws.grad)
    after = np.concatenate([p.ravel() for p in net.parameters().values()])
    assert np.linalg.norm(after - before) == pytest.approx(0.05, rel=1e-12)


def test_float32_end_to_end():
    rng = np.random.default_rng(2)
    net = make_net(rng, [3, 4, 2], "relu", "softmax", dtype=np.float32)
    X = rng.normal(size=(5, 3)).astype(np.float32)
    Y = np.eye(2, dtype=np.float32)[[0, 1, 0, 1, 1]]
    ws = net.workspace(5)
    assert net.forward(X, ws).dtype == np.float32
    net.backward(X, Y, LOSSES["cross_entropy"], ws)
    assert all(g.dtype == np.float32 for g in net.gradients(ws).values())
