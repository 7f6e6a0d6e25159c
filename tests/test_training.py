"""The training loop itself (nncli.training.loop.fit): batch modes, the last short batch, seeds,
hooks, and that trace's updates are training's updates.

Every expectation is computed independently here, step by step with the engine's forward and
backward passes and a plain ``w -= lr * g``, not by calling fit again.
"""

import numpy as np
import pytest

from nncli.config import TrainingConfig, load_config
from nncli.engine.activations import make_activation
from nncli.engine.losses import LOSSES
from nncli.engine.network import Layer, Network
from nncli.insight.trace import trace
from nncli.metrics import ACCURACY, R2
from nncli.training.experiment import prepare
from nncli.training.loop import FitResult, Hooks, batch_rows, fit

from conftest import noisy_xor, write_config

MSE = LOSSES["mse"]


def small_net(seed=0) -> Network:
    rng = np.random.default_rng(seed)
    return Network([Layer(rng.normal(0, 0.5, (2, 3)), rng.normal(0, 0.1, 3),
                          make_activation("tanh")),
                    Layer(rng.normal(0, 0.5, (3, 1)), np.zeros(1), make_activation("linear"))])


def data(n=10, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, :1] * 0.5 - X[:, 1:] ** 2)


def training(**kw) -> TrainingConfig:
    return TrainingConfig(**{"learning_rate": 0.1, "epochs": 3, **kw})


def by_hand(net: Network, X, Y, batches, lr=0.1):
    """Plain gradient descent over the given row batches; returns the batch losses."""
    ws = net.workspace(len(X))
    losses = []
    for rows in batches:
        x, y = X[rows], Y[rows]
        net.forward(x, ws)
        losses.append(net.loss(MSE, y, ws))
        net.backward(x, y, MSE, ws)
        net.theta -= lr * ws.grad
    return losses


def test_batch_rows_follow_the_batch_mode_and_never_exceed_the_data():
    assert batch_rows(training(batch="full"), 10) == 10
    assert batch_rows(training(batch="sgd"), 10) == 1
    assert batch_rows(training(batch="minibatch", batch_size=4), 10) == 4
    assert batch_rows(training(batch="minibatch", batch_size=32), 10) == 10


def test_full_batch_is_one_update_per_epoch_in_row_order_whatever_shuffle_says():
    X, Y = data()
    net, expected = small_net(), small_net()
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    result = fit(net, MSE, X, Y, training(batch="full", shuffle=True), rng=rng, metric=R2)
    losses = by_hand(expected, X, Y, [np.arange(10)] * 3)
    assert np.array_equal(net.theta, expected.theta)
    assert [r["loss"] for r in result.history] == losses  # one batch: its loss is the epoch's
    assert rng.bit_generator.state == state  # one full batch never draws a shuffle


def test_minibatches_end_with_a_short_batch_and_the_loss_weights_each_by_its_rows():
    X, Y = data(n=10)
    net, expected = small_net(), small_net()
    result = fit(net, MSE, X, Y, training(batch="minibatch", batch_size=4, shuffle=False,
                                          epochs=1), rng=np.random.default_rng(0), metric=R2)
    batches = [np.arange(0, 4), np.arange(4, 8), np.arange(8, 10)]
    losses = by_hand(expected, X, Y, batches)
    assert np.array_equal(net.theta, expected.theta)
    # the epoch's loss is the mean per-sample loss: batches weighted 4, 4 and 2
    assert result.history[0]["loss"] == pytest.approx((4 * losses[0] + 4 * losses[1]
                                                       + 2 * losses[2]) / 10, rel=1e-15)


def test_sgd_takes_one_row_per_update_in_the_shuffled_order():
    X, Y = data(n=6)
    net, expected = small_net(), small_net()
    fit(net, MSE, X, Y, training(batch="sgd", shuffle=True, epochs=2),
        rng=np.random.default_rng(9), metric=R2)
    # the loop keeps one order and shuffles it in place at the start of every epoch
    rng, order, batches = np.random.default_rng(9), np.arange(6), []
    for _ in range(2):
        rng.shuffle(order)
        batches += [order[i:i + 1].copy() for i in range(6)]
    by_hand(expected, X, Y, batches)
    assert np.array_equal(net.theta, expected.theta)


def test_the_same_seed_gives_the_same_weights_and_another_seed_other_weights():
    X, Y = data(n=20)
    runs = []
    for seed in (3, 3, 4):
        net = small_net()
        fit(net, MSE, X, Y, training(batch="minibatch", batch_size=3),
            rng=np.random.default_rng(seed), metric=R2)
        runs.append(net.theta.copy())
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_hooks_see_every_epoch_and_a_stop_request_rewinds_to_the_last_epoch():
    X, Y = data(n=8)
    seen = []

    class Stop(Hooks):
        batches = 0

        def epoch_end(self, record, result):
            seen.append((record["epoch"], result.epochs_run, result.history[-1] is record))

        def stop_requested(self):
            self.batches += 1
            return self.batches == 6  # in the middle of epoch 3 (two batches per epoch)

    net, expected = small_net(), small_net()
    result = fit(net, MSE, X, Y, training(batch="minibatch", batch_size=4, shuffle=False,
                                          epochs=5), rng=np.random.default_rng(0), metric=R2,
                 hooks=Stop())
    assert seen == [(1, 1, True), (2, 2, True)]
    assert result.status == "interrupted" and result.epochs_run == 2
    assert result.reason == "interrupted during epoch 3; kept the weights of epoch 2"
    by_hand(expected, X, Y, [np.arange(0, 4), np.arange(4, 8)] * 2)
    assert np.array_equal(net.theta, expected.theta)  # the weights at the end of epoch 2


def test_a_resumed_fit_continues_exactly():
    X, Y = data(n=9)
    t = training(batch="minibatch", batch_size=2, shuffle=True, epochs=4)
    whole = small_net()
    fit(whole, MSE, X, Y, t, rng=np.random.default_rng(2), metric=R2)

    class StopAfterTwo(Hooks):
        def __init__(self):
            self.epochs = 0

        def epoch_end(self, record, result):
            self.epochs = result.epochs_run

        def stop_requested(self):
            return self.epochs == 2

    part = small_net()
    first = fit(part, MSE, X, Y, t, rng=np.random.default_rng(2), metric=R2,
                hooks=StopAfterTwo())
    assert first.epochs_run == 2
    resumed = fit(part, MSE, X, Y, t, rng=np.random.default_rng(12345), metric=R2,
                  resume=FitResult(history=first.history, order=first.order,
                                   rng_state=first.rng_state))
    assert resumed.epochs_run == 4 and np.array_equal(part.theta, whole.theta)


def test_the_train_metric_is_the_epochs_pre_update_outputs():
    """With a learning rate of 0 no update changes anything, so the epoch's accuracy must be
    the initial network's accuracy however the batches fell."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    net = Network([Layer(rng.normal(size=(2, 2)), np.zeros(2), make_activation("softmax"))])
    ws = net.workspace(30)
    expected = ACCURACY.fn(net.forward(X, ws).copy(), Y)
    t = training(batch="minibatch", batch_size=7).model_copy(update={"learning_rate": 0.0})
    result = fit(net, LOSSES["cross_entropy"], X, Y, t, rng=np.random.default_rng(1),
                 metric=ACCURACY)
    assert [r["accuracy"] for r in result.history] == [expected] * 3


@pytest.mark.parametrize("batch", ["full", "sgd", "minibatch"])
def test_trace_makes_the_updates_training_makes(tmp_path, batch):
    """K traced updates end on the weights of K training updates (one epoch here)."""
    path = write_config(tmp_path, noisy_xor(epochs=1) + f"  # {batch}\n")
    overrides = [f"training.batch={batch}"]

    def experiment():
        return prepare(load_config(path, overrides), path)

    trained = experiment()
    fit(trained.network, trained.loss, trained.X_train, trained.Y_train,
        trained.config.training, rng=trained.shuffle_rng, metric=trained.metric)
    traced = experiment()
    steps = -(-trained.n_train // batch_rows(traced.config.training, traced.n_train))
    result = trace(traced, steps)
    assert len(result.steps) == steps and result.steps[-1].epoch == 1
    assert np.array_equal(traced.network.theta, trained.network.theta)
