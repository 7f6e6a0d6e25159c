"""For every update rule: a resumed run equals the uninterrupted run bit for bit, and trace
makes the updates training makes, bit for bit; trace shows the rule's state."""

import io
import json

import numpy as np
import pytest

from conftest import CONFIGS, hooks, noisy_xor, weights, write_config

from nncli.config import load_config
from nncli.errors import NncliWarning
from nncli.insight.trace import DROPOUT_NOTE, trace
from nncli.runs.formats import read_history
from nncli.training.checkpoint import CHECKPOINT
from nncli.training.experiment import prepare
from nncli.training.loop import batch_rows
from nncli.training.train import resume_run, run_fit, train_from_config

RULES = [
    ["training.update=gradient"],
    ["training.update=normalized"],
    ["training.update=momentum", "training.momentum_form=classic"],
    ["training.update=momentum", "training.momentum_form=pytorch"],
    ["training.update=momentum", "training.momentum_form=hagan"],
    ["training.update=nesterov", "training.momentum_form=classic"],
    ["training.update=nesterov", "training.momentum_form=pytorch"],
    ["training.update=adam", "training.learning_rate=0.05"],
    ["training.update=rmsprop", "training.learning_rate=0.02"],
    ["training.update=adagrad"],
]
IDS = ["gradient", "normalized", "momentum-classic", "momentum-pytorch", "momentum-hagan",
       "nesterov-classic", "nesterov-pytorch", "adam", "rmsprop", "adagrad"]


class StopAfter:
    """Stop training one batch into the epoch after ``epochs`` finished epochs."""

    def __init__(self, epochs):
        self.epochs, self.done = epochs, 0

    def hooks(self):
        return hooks(on_epoch=self.on_epoch, stop=lambda: self.done >= self.epochs)

    def on_epoch(self, record):
        self.done = record["epoch"]


def same_run(a, b):
    wa, wb = weights(a), weights(b)
    return sorted(wa) == sorted(wb) and all(np.array_equal(wa[k], wb[k]) for k in wa) and \
        (a / "history.csv").read_text() == (b / "history.csv").read_text()


@pytest.mark.parametrize("sets", RULES, ids=IDS)
def test_resume_is_bit_for_bit_for_every_rule(tmp_path, sets):
    path = write_config(tmp_path, noisy_xor(epochs=5))
    whole = train_from_config(path, sets, tmp_path / "whole").run_dir
    cut = train_from_config(path, sets, tmp_path / "cut", hooks=StopAfter(2).hooks())
    assert cut.result.status == "interrupted" and cut.result.epochs_run == 2
    resumed = resume_run(cut.run_dir, out=tmp_path / "resumed").run_dir
    assert same_run(resumed, whole)


ALL_TOGETHER = """seed: 4
data: {source: moons, n_samples: 80, noise: 0.35, validation: 0.5}
network:
  layers:
    - {units: 32, activation: relu, dropout: 0.2}
    - {units: 2, activation: softmax}
training:
  update: adam
  learning_rate: 0.02
  batch_size: 8
  epochs: 80
  l2: 0.001
  schedule: {kind: plateau, patience: 2, factor: 0.5}
  early_stopping: {patience: 6}
"""


def test_adam_plateau_early_stopping_and_dropout_resume_bit_for_bit(tmp_path):
    path = write_config(tmp_path, ALL_TOGETHER)
    whole = train_from_config(path, [], tmp_path / "whole")
    # the uninterrupted run stops early, after its rate was cut at least once
    assert whole.metrics["best_epoch"] is not None
    stop_at = whole.result.epochs_run - 4  # interrupted while early stopping is counting
    rates = [r["lr"] for r in whole.history]
    assert rates[stop_at - 1] < 0.02 and whole.result.epochs_run < 80
    cut = train_from_config(path, [], tmp_path / "cut", hooks=StopAfter(stop_at).hooks())
    assert cut.result.status == "interrupted" and cut.result.epochs_run == stop_at
    with np.load(cut.run_dir / CHECKPOINT, allow_pickle=False) as z:
        state = json.loads(str(z["state"]))
        assert {"opt_m", "opt_v", "best_theta"} <= set(z.files)
    assert state["optimizer"]["rule"] == "adam" and state["optimizer"]["t"] == stop_at * 5
    assert state["schedule"]["rate"] == rates[stop_at]  # the rate of the next epoch
    assert state["early_stopping"]["wait"] > 0 and state["dropout_rng_state"] is not None
    resumed = resume_run(cut.run_dir, out=tmp_path / "resumed")
    assert same_run(resumed.run_dir, whole.run_dir)
    assert resumed.metrics["reason"] == whole.metrics["reason"]
    assert resumed.metrics["best_epoch"] == whole.metrics["best_epoch"]


@pytest.mark.parametrize("sets", RULES, ids=IDS)
def test_trace_makes_trainings_updates_for_every_rule(tmp_path, sets):
    """Three epochs of updates, with an l2 penalty and a plateau schedule that halves the rate
    after epoch 2 (a min_delta of 10 makes every epoch after the first "no improvement")."""
    path = write_config(tmp_path, noisy_xor(epochs=3))
    sets = sets + ["training.l2=0.01", "training.schedule={kind: plateau, monitor: loss, "
                                       "patience: 1, factor: 0.5, min_delta: 10}"]

    def experiment():
        return prepare(load_config(path, sets), path)

    trained = experiment()
    result = run_fit(trained)
    lr = trained.config.training.learning_rate
    assert [r["lr"] for r in result.history] == [lr, lr, lr / 2]
    traced = experiment()
    steps = 3 * -(-traced.n_train // batch_rows(traced.config.training, traced.n_train))
    t = trace(traced, steps)
    assert t.steps[-1].epoch == 3 and t.steps[-1].lr == lr / 2
    assert np.array_equal(traced.network.theta, trained.network.theta)


def trace_json(cli, path, *extra):
    r = cli("trace", path, "--format", "json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_trace_shows_adams_state_and_effective_rate(cli):
    t = trace_json(cli, CONFIGS / "example-b-two-layers.yaml", "--set", "training.update=adam")
    assert t["rule"]["beta1"] == 0.9 and t["rule"]["formula"].startswith("m ← β1·m")
    (step,) = t["steps"]
    g = np.array(step["backward"][0]["dW"])  # dL/dW2: every entry is positive
    state = step["optimizer"]["state"]
    # t = 1: m = 0.1 g, v = 0.001 g², m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) = 0.001
    np.testing.assert_allclose(state["m"]["W2"], 0.1 * g, rtol=1e-15)
    np.testing.assert_allclose(state["v"]["W2"], 0.001 * g ** 2, rtol=1e-14)
    np.testing.assert_allclose(state["m_hat"]["W2"], g, rtol=1e-14)
    np.testing.assert_allclose(state["v_hat"]["W2"], g ** 2, rtol=1e-13)
    np.testing.assert_allclose(step["optimizer"]["effective_lr"]["W2"], 0.001 / g, rtol=1e-7)
    np.testing.assert_allclose(step["updated"]["W2"],
                               np.array(t["initial"]["W2"]) - 0.001, rtol=0, atol=1e-11)
    md = cli("trace", CONFIGS / "example-b-two-layers.yaml", "--format", "markdown", "--set",
             "training.update=adam").stdout
    order = ["### Backward", "### Update", "w ← w − lr·m̂ / (√v̂ + ε)", "lr = 0.001 (epoch 1)",
             "Effective learning rate per weight", "**m** of W1", "**v̂** of W2",
             "### After the update", "**W1** after the step"]
    at = 0
    for text in order:  # each after the one before
        at = md.index(text, at)


def test_trace_shows_the_velocity_and_the_named_form(cli):
    args = (CONFIGS / "example-a-one-weight.yaml", "--steps", "2", "--set",
            "training.update=momentum", "--set", "training.momentum_form=hagan")
    t = trace_json(cli, *args)
    # hagan: v = -(1-0.9)*0.1*1.8 = -0.018, then 0.9*(-0.018) - 0.01*1.728 = -0.03348
    assert [s["optimizer"]["state"]["v"]["W1"][0][0] for s in t["steps"]] == \
        pytest.approx([-0.018, -0.03348], rel=1e-14)
    assert t["steps"][0]["optimizer"]["effective_lr"] == pytest.approx(0.01)  # (1-0.9)*0.1
    md = cli("trace", *args, "--format", "markdown").stdout
    assert "update `momentum` (form `hagan`): v ← μ·v − (1−μ)·lr·g ;  w ← w + v  (μ = 0.9)" in md
    assert "Effective learning rate: **0.01**" in md and "**v** of W1" in md


def test_trace_with_dropout_uses_one_mask_and_says_so(cli, tmp_path):
    path = write_config(tmp_path, noisy_xor(epochs=1).replace(
        "{units: 4, activation: tanh}", "{units: 4, activation: tanh, dropout: 0.5}")
        .replace("batch: minibatch, batch_size: 8", "batch: full"))
    t = trace_json(cli, path, "--steps", "2")
    assert t["dropout"]["note"] == DROPOUT_NOTE
    mask = np.array(t["dropout"]["masks"]["1"])
    assert mask.shape == (32, 4) and set(np.unique(mask)) <= {0.0, 2.0}
    md = cli("trace", path, "--format", "markdown").stdout
    assert "**Dropout:** one fixed dropout mask" in md and "**m1**: the dropout mask" in md
    # the first traced step is training's first update (one full batch, one epoch)
    run = train_from_config(path, [], tmp_path / "runs").run_dir
    trained = weights(run)
    assert all(np.array_equal(np.array(t["steps"][0]["updated"][k]), trained[k])
               for k in trained)


def test_trace_shows_weights_and_the_penalty(cli, tmp_path):
    path = write_config(tmp_path, """
data: {source: inline, x: [[2], [1]], y: [1, 0]}
network: {bias: false, layers: [{units: 1, activation: linear, weights: [[0.95]]}]}
training: {loss: half_sse, batch: full, learning_rate: 0.1, l2: 0.5}
""")
    (step,) = trace_json(cli, path)["steps"]
    # penalty (0.5/2) * 0.95² = 0.225625; dL/dw = 1.375 (the mean gradient) + 0.5 * 0.95
    assert step["penalty"] == pytest.approx(0.225625)
    np.testing.assert_allclose(step["backward"][0]["dW"], [[1.85]])
    np.testing.assert_allclose(step["updated"]["W1"], [[0.95 - 0.185]])
    md = cli("trace", path, "--format", "markdown").stdout
    assert "**dL/dW1** = xᵀ · δ1 + l2 · W1" in md and "Penalty (l2/2)·ΣW² with l2 = 0.5" in md


# --- the checkpoint's new state is checked like the rest -----------------------------------------

@pytest.fixture
def adam_checkpoint(tmp_path):
    path = write_config(tmp_path, ALL_TOGETHER)
    cut = train_from_config(path, [], tmp_path / "cut", hooks=StopAfter(3).hooks())
    return cut.run_dir


def rewrite(run, change):
    with np.load(run / CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    state = json.loads(str(arrays["state"]))
    change(arrays, state)
    arrays["state"] = np.array(json.dumps(state))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (run / CHECKPOINT).write_bytes(buf.getvalue())


@pytest.mark.parametrize("change,message", [
    (lambda a, s: a.update(opt_m=a["opt_m"][:-1]), "opt_m is float64 (161,); the config needs "
                                                   "float64 (162,)"),
    (lambda a, s: a["opt_v"].__setitem__(0, np.nan), "opt_v holds values that are not finite"),
    (lambda a, s: a.pop("opt_v"), "no 'opt_v' array (the update rule's state)"),
    (lambda a, s: a.pop("best_theta"), "no 'best_theta' array (early stopping's best weights)"),
    (lambda a, s: s["optimizer"].update(rule="rmsprop"),
     "state: optimizer: made by update rmsprop; the config says adam"),
    (lambda a, s: s["optimizer"].update(t=10 ** 6), "state: optimizer: 1000000 steps in 3 "
                                                    "epochs of 40 rows"),
    (lambda a, s: s["optimizer"].update(extra=1), "state: optimizer.extra: Extra inputs are "
                                                  "not permitted"),
    (lambda a, s: s["schedule"].update(rate=-1.0), "state: schedule.rate: Input should be "
                                                   "greater than 0"),
    (lambda a, s: s.update(schedule=None), "state: schedule: missing; the config's schedule "
                                           "is plateau"),
    (lambda a, s: s["early_stopping"].update(best_epoch=9), "state: early_stopping: counts "
                                                            "beyond the 3 epochs done"),
    (lambda a, s: s.update(dropout_rng_state=None), "state: dropout_rng_state: missing; the "
                                                    "config has dropout"),
    (lambda a, s: s.update(format_version=1), "state: optimizer: not part of checkpoint "
                                              "format 1"),
])
def test_a_tampered_optimizer_state_is_refused(adam_checkpoint, change, message):
    rewrite(adam_checkpoint, change)
    with pytest.raises(Exception) as info:
        resume_run(adam_checkpoint)
    assert type(info.value).__name__ == "InputError"
    assert str(info.value) == f"{adam_checkpoint / CHECKPOINT}: {message}"


def test_a_format_1_checkpoint_of_a_plain_run_still_resumes(tmp_path):
    """Checkpoints written before update rules had state hold none; plain gradient descent
    needs none, so they resume exactly as they did."""
    path = write_config(tmp_path, noisy_xor(epochs=4))
    whole = train_from_config(path, [], tmp_path / "whole").run_dir
    cut = train_from_config(path, [], tmp_path / "cut", hooks=StopAfter(2).hooks()).run_dir

    def as_format_1(arrays, state):
        for key in ("optimizer", "schedule", "early_stopping", "dropout_rng_state",
                    "layers_last", "snapshots"):
            del state[key]
        state["format_version"] = 1
        state["history"] = read_history(cut / "history.csv")  # format 1 held the history
        del state["last_epoch"]

    rewrite(cut, as_format_1)
    (cut / "history.csv").write_text("epoch,loss\n")  # not read: the checkpoint has the rows
    with pytest.warns(NncliWarning, match=r"its checkpoint \(format 1\) has no layer "
                                          r"statistics; layers.csv starts at epoch 3"):
        resumed = resume_run(cut, out=tmp_path / "resumed").run_dir
    assert same_run(resumed, whole)
