"""The update rules (nncli.engine.optim): each by hand over two steps, each against
scikit-learn's own optimizer classes where the forms coincide, frozen parameters, and that a
step allocates nothing."""

import tracemalloc

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from nncli.engine import optim
from nncli.engine.activations import make_activation
from nncli.engine.losses import LOSSES
from nncli.engine.network import Layer, Network


def two_steps(name, lrs=(0.1, 0.1), grads=(1.0, 0.5), **hyper):
    """One weight w = 1, gradients 1 then 0.5; the weight after each step."""
    rule = optim.RULES[name](1, np.float64, lrs[0], **hyper)
    theta, seen = np.array([1.0]), []
    for lr, g in zip(lrs, grads):
        rule.learning_rate = lr
        rule.step(theta, np.array([g]))
        seen.append(float(theta[0]))
    return seen, rule


# The momentum forms, with mu = 0.9, g = 1 then 0.5, and the rate halved for the second step
# (lr 0.1 then 0.05): with a constant rate classic and pytorch are the same method (v_classic
# = -lr v_pytorch), so only a changing rate shows them apart.
@pytest.mark.parametrize("name,form,expected", [
    # classic: v = 0.9*0 - 0.1*1 = -0.1, w = 1 - 0.1 = 0.9
    #          v = 0.9*(-0.1) - 0.05*0.5 = -0.09 - 0.025 = -0.115, w = 0.9 - 0.115 = 0.785
    ("momentum", "classic", [0.9, 0.785]),
    # pytorch: v = 0.9*0 + 1 = 1, w = 1 - 0.1*1 = 0.9
    #          v = 0.9*1 + 0.5 = 1.4, w = 0.9 - 0.05*1.4 = 0.83
    ("momentum", "pytorch", [0.9, 0.83]),
    # hagan:   v = 0.9*0 - (1-0.9)*0.1*1 = -0.01, w = 0.99
    #          v = 0.9*(-0.01) - 0.1*0.05*0.5 = -0.009 - 0.0025 = -0.0115, w = 0.9785
    ("momentum", "hagan", [0.99, 0.9785]),
    # nesterov classic: v = -0.1, w = 1 + 0.9*(-0.1) - 0.1*1 = 0.81
    #          v = -0.09 - 0.025 = -0.115, w = 0.81 + 0.9*(-0.115) - 0.05*0.5 = 0.81 - 0.1035
    #          - 0.025 = 0.6815
    ("nesterov", "classic", [0.81, 0.6815]),
    # nesterov pytorch: v = 1, w = 1 - 0.1*(1 + 0.9*1) = 0.81
    #          v = 0.9 + 0.5 = 1.4, w = 0.81 - 0.05*(0.5 + 0.9*1.4) = 0.81 - 0.088 = 0.722
    ("nesterov", "pytorch", [0.81, 0.722]),
])
def test_momentum_forms_by_hand(name, form, expected):
    seen, _ = two_steps(name, lrs=(0.1, 0.05), momentum=0.9, momentum_form=form)
    assert seen == pytest.approx(expected, rel=1e-15, abs=1e-15)


def test_adam_by_hand():
    # lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8; g = 1 then 0.5.
    # t = 1: m = 0.1*1 = 0.1; v = 0.001*1 = 0.001; m_hat = 0.1/0.1 = 1; v_hat = 0.001/0.001 = 1
    #        w = 1 - 0.1*1/(1 + 1e-8) = 0.90000000099999999
    # t = 2: m = 0.9*0.1 + 0.1*0.5 = 0.14; v = 0.999*0.001 + 0.001*0.25 = 0.001249
    #        m_hat = 0.14/(1 - 0.81) = 0.73684210526; v_hat = 0.001249/(1 - 0.998001)
    #        = 0.62481240620; w = 0.900000001 - 0.1*0.73684210526/(0.79045075 + 1e-8)
    #        = 0.80678203830
    seen, rule = two_steps("adam")
    assert seen == pytest.approx([0.90000000099999999, 0.80678203829816041], rel=1e-14)
    shown = rule.shown()
    assert shown["m"][0] == pytest.approx(0.14) and shown["v"][0] == pytest.approx(0.001249)
    assert shown["m_hat"][0] == pytest.approx(0.73684210526315789, rel=1e-14)
    assert shown["v_hat"][0] == pytest.approx(0.62481240620310155, rel=1e-12)
    assert rule.t == 2


def test_rmsprop_by_hand():
    # rho 0.9, lr 0.1, eps 1e-8; g = 1 then 0.5.
    # s = 0.1*1 = 0.1; w = 1 - 0.1*1/(sqrt(0.1) + 1e-8) = 1 - 0.1/0.31622777 = 0.68377224398
    # s = 0.9*0.1 + 0.1*0.25 = 0.115; w = 0.68377224398 - 0.05/(0.33911649 + 1e-8) = 0.53633029
    seen, rule = two_steps("rmsprop")
    assert seen == pytest.approx([0.68377224398316175, 0.53633029217609058], rel=1e-14)
    assert rule.state["s"][0] == pytest.approx(0.115, rel=1e-15)


def test_adagrad_by_hand():
    # eps 1e-8, lr 0.1; g = 1 then 0.5.
    # s = 1; w = 1 - 0.1*1/(1 + 1e-8) = 0.900000001
    # s = 1 + 0.25 = 1.25; w = 0.900000001 - 0.05/(1.11803399 + 1e-8) = 0.85527864185
    seen, rule = two_steps("adagrad")
    assert seen == pytest.approx([0.90000000099999999, 0.85527864185000419], rel=1e-14)
    assert rule.state["s"][0] == 1.25


def test_gradient_and_normalized_by_hand():
    # gradient: w = 1 - 0.1*1 = 0.9, then 0.9 - 0.1*0.5 = 0.85
    assert two_steps("gradient")[0] == pytest.approx([0.9, 0.85], rel=1e-15)
    # normalized (one weight: g/|g| = 1): w = 1 - 0.1 = 0.9, then 0.8
    assert two_steps("normalized")[0] == pytest.approx([0.9, 0.8], rel=1e-15)


# --- against scikit-learn's own optimizers ----------------------------------------------------

def sklearn_params(seed=0):
    """Three parameter arrays (as scikit-learn keeps them) and the same values flat."""
    rng = np.random.default_rng(seed)
    arrays = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2))]
    return arrays, np.concatenate([a.ravel() for a in arrays])


def grads_for(step, arrays):
    rng = np.random.default_rng(100 + step)
    return [rng.normal(size=a.shape) for a in arrays]


def run_both(ours: optim.Rule, theirs, steps=6):
    arrays, theta = sklearn_params()
    for k in range(steps):
        grads = grads_for(k, arrays)
        theirs.update_params(arrays, grads)
        ours.step(theta, np.concatenate([g.ravel() for g in grads]))
    return theta, np.concatenate([a.ravel() for a in arrays])


@pytest.mark.parametrize("nesterov", [False, True])
def test_classic_momentum_is_scikit_learns_sgd_bit_for_bit(nesterov):
    arrays, theta = sklearn_params()
    theirs = SGDOptimizer(arrays, learning_rate_init=0.05, momentum=0.8, nesterov=nesterov)
    ours = optim.RULES["nesterov" if nesterov else "momentum"](
        theta.size, np.float64, 0.05, momentum=0.8, momentum_form="classic")
    got, expected = run_both(ours, theirs)
    assert np.array_equal(got, expected)


def test_gradient_is_scikit_learns_sgd_without_momentum_bit_for_bit():
    arrays, theta = sklearn_params()
    theirs = SGDOptimizer(arrays, learning_rate_init=0.05, momentum=0.0, nesterov=False)
    got, expected = run_both(optim.RULES["gradient"](theta.size, np.float64, 0.05), theirs)
    assert np.array_equal(got, expected)


def test_adam_is_scikit_learns_where_the_forms_coincide():
    """With epsilon negligible both forms are the same arithmetic (up to rounding);
    scikit-learn's "efficient" form puts epsilon where ours puts eps * sqrt(1 - beta2^t)."""
    arrays, theta = sklearn_params()
    theirs = AdamOptimizer(arrays, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99,
                           epsilon=1e-300)
    ours = optim.RULES["adam"](theta.size, np.float64, 0.01, beta1=0.8, beta2=0.99,
                               epsilon=1e-300)
    got, expected = run_both(ours, theirs)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    # One step with a real epsilon: ours with eps equals theirs with eps * sqrt(1 - beta2).
    arrays, theta = sklearn_params()
    theirs = AdamOptimizer(arrays, learning_rate_init=0.01, epsilon=0.1 * np.sqrt(1 - 0.999))
    ours = optim.RULES["adam"](theta.size, np.float64, 0.01, epsilon=0.1)
    got, expected = run_both(ours, theirs, steps=1)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    arrays, theta = sklearn_params()  # ... and not with the same epsilon: the forms differ
    got, expected = run_both(optim.RULES["adam"](theta.size, np.float64, 0.01, epsilon=0.1),
                             AdamOptimizer(arrays, learning_rate_init=0.01, epsilon=0.1), 1)
    assert np.max(np.abs(got - expected)) > 1e-4


# --- frozen parameters, construction, allocation ----------------------------------------------

def small_net():
    rng = np.random.default_rng(3)
    return Network([Layer(rng.normal(size=(2, 3)), rng.normal(size=3), make_activation("tanh"),
                          frozenset({"biases"})),
                    Layer(rng.normal(size=(3, 1)), np.zeros(1), make_activation("linear"))])


@pytest.mark.parametrize("name", optim.UPDATES)
def test_frozen_parameters_take_no_step_and_gain_no_state(name):
    net = small_net()
    b1 = net.layers[0].b.copy()
    rule = optim.for_network(name, net, 0.1)
    X, Y = np.random.default_rng(4).normal(size=(5, 2)), np.ones((5, 1))
    ws = net.workspace(5)
    for _ in range(3):
        net.forward(X, ws)
        net.backward(X, Y, LOSSES["mse"], ws)
        rule.update(net.theta, ws.grad)
    assert np.array_equal(net.layers[0].b, b1)
    frozen = net.layout()["b1"]
    for array in rule.state.values():
        assert not array[frozen].any() and array.any()  # zero where frozen, moved elsewhere


@pytest.mark.parametrize("name", optim.UPDATES)
def test_a_step_allocates_nothing(name):
    """A step on a million parameters with a temporary would cost 8 MB; it costs nothing."""
    size = 1_000_000
    rule = optim.RULES[name](size, np.float64, 0.01)
    theta, grad = np.ones(size), np.full(size, 0.5)
    rule.step(theta, grad.copy())  # warm up
    tracemalloc.start()
    for _ in range(3):
        grad.fill(0.5)
        rule.step(theta, grad)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100_000


def test_every_rule_names_its_settings_and_a_formula():
    assert optim.UPDATES == ("gradient", "normalized", "momentum", "nesterov", "adam",
                             "rmsprop", "adagrad")
    assert optim.HYPERPARAMETERS == ("momentum", "momentum_form", "beta1", "beta2", "epsilon",
                                     "rho")
    rule = optim.RULES["momentum"](1, np.float64, 0.1, momentum=0.5, momentum_form="hagan")
    assert rule.formula() == "v ← μ·v − (1−μ)·lr·g ;  w ← w + v  (μ = 0.5)"
    assert rule.effective_lr() == 0.05
    with pytest.raises(ValueError, match="nesterov has no hagan form"):
        optim.RULES["nesterov"](1, np.float64, 0.1, momentum_form="hagan")
