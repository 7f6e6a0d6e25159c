"""The step calculator: every quantity of one training update, each from its direct inputs.

`nncli trace` runs the network's passes. A learner's worksheet needs more: each quantity
recomputed from *the learner's own* earlier values (so that a slip costs one cell, not every
cell after it: "follow-through"), and under each catalogued mistake (so that `nncli check` can
say which slip reproduces a wrong number). This module is that calculator. Each quantity is
one formula of the textbook step, evaluated with the engine's own pieces on small arrays:

    z_l = ã_(l-1) W_l + b_l          a_l = f_l(z_l)                  Activation.forward
    L = loss(a_L, y)                                                  Loss.value, .weighted
    penalty = (l2/2)·ΣW² + l1·Σ|W|                                    Penalty (engine/penalty.py)
    δ_L = dL/dz_L                                                     network.output_delta
    δ_l = ((δ_(l+1) W_(l+1)ᵀ) ⊙ m_l) ⊙ f_l′(z_l)                      Activation.backprop
    dW_l = ã_(l-1)ᵀ δ_l + l2·W_l + l1·sign(W_l)                       Penalty.add_gradient
    db_l = δ_l summed over the samples
    the state after the step, W_l′, b_l′: the update rule            insight/updates.py

with ã_0 = x, ã_l = a_l ⊙ m_l for a layer with dropout (m_l its one fixed mask, the
network's own: ``Workspace.draw_masks``) and a_l otherwise; the loss is the mean over the batch,
or with class or sample weights the weighted mean Σ wᵢ·Lᵢ / Σ wᵢ. With nothing substituted and no
mistake it gives trace's numbers bit for bit (tests/test_learners.py holds this for every update
rule, with penalties, weights, schedules and dropout): the same NumPy operations, in the same
order, as ``Network.forward`` and ``Network.backward``, and the engine's own update rules.

A mistake is a named variant of one formula (:class:`Mistake`); each :class:`Quantity` lists
the variants that apply to it and computes itself under any of them.

The update rule's part of a step (the quantities after the gradients, the mistakes of the
update, and what one step hands to the next) is an ``UpdateForm`` in ``UPDATE_FORMS``
(insight/updates.py), keyed by the config's ``training.update``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np

from ..engine.activations import Activation
from ..engine.network import output_delta
from .stepmodel import SETTINGS, Mistake, Quantity, StepModel, Values  # noqa: F401 (re-exported)
from .updates import UPDATE_FORMS, UpdateForm  # noqa: F401 (re-exported)


def quantities(model: StepModel) -> list[Quantity]:
    """Every quantity of a step, in worksheet order: forward (z, a per layer), the loss (and
    the penalty), backward (δ, dW, db per layer, last layer first), then the update."""
    qs = []
    for l in range(1, model.depth + 1):
        qs += [_z(model, l), _a(model, l)]
    qs.append(_loss(model))
    if model.penalty is not None:
        qs.append(_penalty(model))
    for l in range(model.depth, 0, -1):
        qs += [_delta(model, l), _dW(model, l)]
        if model.bias[l - 1]:
            qs.append(_db(model, l))
    return qs + UPDATE_FORMS[model.update].quantities(model)


# --- forward ----------------------------------------------------------------------------------

def _prev(model: StepModel, l: int) -> str:
    """What layer l reads, as its formulas write it: x, a_(l−1), or a_(l−1) ⊙ mask_(l−1)."""
    if l == 1:
        return "x"
    return f"(a{l - 1} ⊙ mask{l - 1})" if l - 1 in model.dropout else f"a{l - 1}"


DROPOUT_SLIPS = ("dropout_ignored", "dropout_unscaled")


def _input(model: StepModel, v: Values, l: int, mistake: str | None) -> np.ndarray:
    """What layer l reads (as ``Network.forward`` makes it: a ⊙ m for a layer below with
    dropout), or what a named slip reads instead."""
    if l == 1:
        return v["x"]
    a = v[f"z{l - 1}"] if mistake == "activation_skipped" else v[f"a{l - 1}"]
    if l - 1 not in model.dropout or mistake == "dropout_ignored":
        return a
    mask = v[f"mask{l - 1}"]
    if mistake == "dropout_unscaled":
        mask = (mask != 0).astype(a.dtype)
    return np.multiply(a, mask)


def _input_mistakes(model: StepModel, l: int) -> list[Mistake]:
    """The slips of what layer l reads: z of the layer below for its a, the dropout mask."""
    if l == 1:
        return []
    out = [_activation_skipped(l)]
    if l - 1 in model.dropout:
        out += [Mistake("dropout_ignored", f"a{l - 1} used where a{l - 1} ⊙ mask{l - 1} "
                        f"belongs: the dropout mask of layer {l - 1} left out"),
                Mistake("dropout_unscaled", f"a 0/1 mask: the kept units of layer {l - 1} not "
                        f"scaled by 1 / (1 − p) (inverted dropout)")]
    return out


def _z(model: StepModel, l: int) -> Quantity:
    bias = model.bias[l - 1]

    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        z = np.matmul(_input(model, v, l, mistake), v[f"W{l}"])
        if bias and mistake != "bias_left_out":
            z += v[f"b{l}"]
        return z

    mistakes = []
    if bias:
        mistakes.append(Mistake("bias_left_out", f"the bias b{l} left out of z{l}"))
    mistakes += _input_mistakes(model, l)
    return Quantity(f"z{l}", "forward", "samples", f"z{l} = {_prev(model, l)} · W{l}"
                    + (f" + b{l}" if bias else ""), compute, tuple(mistakes), l)


def _activation_skipped(l: int) -> Mistake:
    return Mistake("activation_skipped", f"z{l - 1} used where a{l - 1} = f(z{l - 1}) belongs")


def _a(model: StepModel, l: int) -> Quantity:
    act = model.activations[l - 1]

    def compute(v: Values, mistake: str | None) -> np.ndarray:
        z = v[f"z{l}"]
        return act.forward(z, np.empty_like(z))

    return Quantity(f"a{l}", "forward", "samples", f"a{l} = {act.name}(z{l})", compute, (), l)


# --- the loss and its conventions -------------------------------------------------------------

def loss_mistakes(loss: str, n: float, outputs: int, weighted: bool = False
                  ) -> list[tuple[Mistake, float]]:
    """The convention slips of a loss, each as the factor it puts on the loss and on dL/da:
    the ½ (dropped from half_sse, added to mse), the mean or sum over the outputs, and the
    mean or sum over the samples of the batch (``n``: their number, or with ``weighted``
    rows the sum of their weights)."""
    slips = {
        "half_sse": [(Mistake("half_dropped", "the ½ of half_sse dropped: Σ (a − y)² instead of "
                              "½ Σ (a − y)², so dE/da = 2 (a − y) instead of (a − y)"), 2.0),
                     (Mistake("outputs_averaged", "the mean over the outputs instead of "
                              "half_sse's sum over the outputs"), 1.0 / outputs)],
        "mse": [(Mistake("half_added", "a ½ added to mse: the mean of ½ (a − y)² instead of "
                         "(a − y)², so dL/da = (a − y) / (n · outputs) instead of "
                         "2 (a − y) / (n · outputs)"), 0.5),
                (Mistake("outputs_summed", "the sum over the outputs instead of mse's mean "
                         "over the outputs"), float(outputs))],
        "mae": [(Mistake("outputs_summed", "the sum over the outputs instead of mae's mean over "
                         "the outputs"), float(outputs))],
    }.get(loss, [])
    summed = (Mistake("batch_summed", "the weighted sum Σ wᵢ·Lᵢ over the samples of the batch "
                      "instead of the weighted mean (no 1/Σ wᵢ)") if weighted else
              Mistake("batch_summed", "the sum over the samples of the batch instead of the "
                      "mean (no 1/n)"))
    return slips + [(summed, float(n))]


def _loss_factor(model: StepModel, v: Values, mistake: str) -> float | None:
    a = v[f"a{model.depth}"]
    n = float(v["w"].sum()) if model.weighted else a.shape[0]
    if model.weighted and mistake == "weights_over_n":
        return n / a.shape[0]
    for m, factor in loss_mistakes(model.loss.name, n, a.shape[1], model.weighted):
        if m.name == mistake:
            return factor
    return None


def _weight_mistakes(model: StepModel) -> list[Mistake]:
    if not model.weighted:
        return []
    return [Mistake("weights_ignored", "the plain mean over the batch: the rows' class or "
                    "sample weights w left out"),
            Mistake("weights_over_n", "Σ wᵢ·Lᵢ divided by the number of samples n instead of "
                    "by Σ wᵢ")]


def _loss_slips(model: StepModel) -> list[Mistake]:
    # The batch size and outputs only change the factors, not which slips exist.
    return ([m for m, _ in loss_mistakes(model.loss.name, 2, 2, model.weighted)]
            + _weight_mistakes(model))


def _loss(model: StepModel) -> Quantity:
    last = model.depth

    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        a, y, z = v[f"a{last}"], v["y"], v[f"z{last}"]
        if model.weighted and mistake != "weights_ignored":
            value = model.loss.weighted(a, y, z, v["w"])
        else:
            value = model.loss.value(a, y, z)
        if mistake == "weights_ignored":
            return np.asarray(value)
        factor = 1.0 if mistake is None else _loss_factor(model, v, mistake)
        return None if factor is None else np.asarray(value * factor)

    mean = ("the weighted mean Σ wᵢ·Lᵢ / Σ wᵢ over the samples of the batch" if model.weighted
            else "the mean over the samples of the batch")
    return Quantity("L", "loss", "scalar", f"L = {model.loss.name}(a{last}, y), {mean}",
                    compute, tuple(_loss_slips(model)))


def _penalty(model: StepModel) -> Quantity:
    """The weight penalty at the step's weights (the engine's ``Penalty``); the objective
    training minimises is L + penalty."""
    terms = ([f"(l2/2)·ΣW² (l2 = {model.l2:g})"] if model.l2 else []) + \
        ([f"l1·Σ|W| (l1 = {model.l1:g})"] if model.l1 else [])

    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        theta = model.flat(v)
        value = model.penalty.value(theta)
        if mistake == "penalty_half_dropped":
            return np.asarray(2 * value - _l1_sum(model, v)) if model.l2 else None
        if mistake == "penalty_on_biases":
            return np.asarray(model.l2 / 2 * float(np.vdot(theta, theta))
                              + model.l1 * float(np.abs(theta).sum()))
        return np.asarray(value)

    return Quantity("penalty", "loss", "scalar", f"penalty = {' + '.join(terms)}, over every "
                    f"weight matrix (not the biases)", compute, tuple(_penalty_slips(model)))


def _l1_sum(model: StepModel, v: Values) -> float:
    return model.l1 * sum(float(np.abs(v[k]).sum()) for k in model.names if k[0] == "W")


def _penalty_slips(model: StepModel) -> list[Mistake]:
    out = []
    if model.l2:
        out.append(Mistake("penalty_half_dropped", "the ½ of (l2/2)·ΣW² dropped: l2·ΣW², "
                           "so its gradient 2·l2·W instead of l2·W"))
    return out + [Mistake("penalty_on_biases", "the penalty taken over the biases too (it is "
                          "over the weights only)")]


# --- backward ---------------------------------------------------------------------------------

def _delta(model: StepModel, l: int) -> Quantity:
    act = model.activations[l - 1]
    last = l == model.depth
    slope = _slope_mistakes(act, l) if act.differentiable else []
    if last:
        compute = _output_delta(model, act)
        mistakes = _loss_slips(model)
        mistakes.append(Mistake("delta_sign", "δ with the opposite sign: (y − a) instead of "
                                "(a − y) (Mitchell's δ = −∂E/∂net is the negative of nncli's "
                                "δ = dL/dz)"))
        if model.fused and act.differentiable:
            mistakes.append(Mistake("fused_times_fprime", f"(a − y) / n multiplied by "
                                    f"{act.name}′(z) as well: with {model.loss.name} the fused "
                                    f"δ = (a − y) / n already includes the output's derivative"))
        elif not model.fused:
            mistakes += slope
        n = "Σ w" if model.weighted else "n"
        how = (f"(a{l} − y) / {n}" + (" (row i times wᵢ)" if model.weighted else "")
               + f", fused with {model.loss.name}" if model.fused
               else f"dL/da{l} ⊙ {act.name}′(z{l})")
    else:
        compute = _hidden_delta(model, l, act)
        mistakes = [Mistake("updated_weight", f"the updated weights W{l + 1}′ used in δ{l}: every "
                            f"δ of a step uses the weights before the update (W{l + 1})"), *slope]
        upstream = f"δ{l + 1} · W{l + 1}ᵀ"
        if l in model.dropout:
            upstream = f"({upstream}) ⊙ mask{l}"
            mistakes.append(Mistake("dropout_ignored", f"mask{l} left out of δ{l}: the units "
                                    f"dropped in the forward pass pass no gradient back"))
        how = f"({upstream}) ⊙ {act.name}′(z{l})"
    return Quantity(f"delta{l}", "backward", "samples", f"δ{l} = dL/dz{l} = {how}", compute,
                    tuple(mistakes), l)


def _slope_mistakes(act: Activation, l: int) -> list[Mistake]:
    return [Mistake("fprime_at_a", f"{act.name}′ evaluated at a{l} instead of at z{l}"),
            Mistake("output_form_at_z", f"{act.name}′ written from the output (as a{l} would "
                    f"give it) but fed z{l}, e.g. z (1 − z) instead of a (1 − a)"),
            Mistake("no_fprime", f"{act.name}′(z{l}) left out of δ{l}")]


def _through_slope(act: Activation, a: np.ndarray, z: np.ndarray, grad: np.ndarray,
                   mistake: str | None) -> np.ndarray:
    """dL/dz from dL/da (``grad``, consumed) through f′, or through a named slip of f′. The
    engine's backprop takes f′ from the output a, so f′ at a point p is backprop at f(p)."""
    if mistake == "no_fprime":
        return grad
    if mistake == "fprime_at_a":
        return act.backprop(act.forward(a, np.empty_like(a)), grad)
    if mistake == "output_form_at_z":
        return act.backprop(z, grad)
    return act.backprop(a, grad)


SLOPE_SLIPS = ("fprime_at_a", "output_form_at_z", "no_fprime")


def _output_delta(model: StepModel, act: Activation):
    last = model.depth

    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        a, z, y = v[f"a{last}"], v[f"z{last}"], v["y"]
        w = v["w"] if model.weighted and mistake != "weights_ignored" else None
        if mistake in SLOPE_SLIPS:  # listed only where the output is not fused
            grad = model.loss.grad(a, y, np.empty_like(a))
            if w is not None:
                grad *= (w * (len(w) / w.sum()))[:, None]
            return _through_slope(act, a, z, grad, mistake)
        delta = output_delta(model.loss, act, a, y, np.empty_like(a), w)
        if mistake is None or mistake == "weights_ignored":
            return delta
        if mistake == "delta_sign":
            return -delta
        if mistake == "fused_times_fprime":
            return act.backprop(a, delta)
        factor = _loss_factor(model, v, mistake)
        return None if factor is None else delta * factor

    return compute


def _hidden_delta(model: StepModel, l: int, act: Activation):
    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        W = v[f"W{l + 1}"]
        if mistake == "updated_weight":
            W = _updated_weight(model, v, l + 1)
            if W is None:
                return None
        grad = np.matmul(v[f"delta{l + 1}"], W.T)
        if l in model.dropout and mistake != "dropout_ignored":  # as Network.backward
            grad *= v[f"mask{l}"]
        return _through_slope(act, v[f"a{l}"], v[f"z{l}"], grad, mistake)

    return compute


def _updated_weight(model: StepModel, v: Values, l: int) -> np.ndarray | None:
    """W_l′ as the learner has it (theirs, or computed from their values), for the slip of
    using it in a hidden delta; None when it cannot be known yet."""
    key = f"W{l}'"
    if key in v:
        return v[key]
    try:
        return UPDATE_FORMS[model.update].updated(model, v, f"W{l}", None)
    except KeyError:  # a rule that needs what comes later (normalized: the norm)
        return None


def _penalised(model: StepModel, v: Values, name: str, g: np.ndarray) -> np.ndarray:
    """``g`` (the data gradient of ``name``) plus the penalty's gradient at the step's
    parameters, by the engine's ``Penalty.add_gradient`` on the flat vectors."""
    theta = model.flat(v)
    grad = np.zeros_like(theta)
    where = model.layout[name]
    grad[where] = g.ravel()
    model.penalty.add_gradient(theta, grad)
    return grad[where].reshape(g.shape)


def _dW(model: StepModel, l: int) -> Quantity:
    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        a_prev = _input(model, v, l, mistake)
        dW = np.matmul(a_prev.T, v[f"delta{l}"])
        if mistake == "batch_mean_twice":
            dW = dW / len(a_prev)
        if model.penalty is None or mistake == "penalty_left_out":
            return dW
        if mistake == "penalty_half_dropped":
            return _penalised(model, v, f"W{l}", dW) + model.l2 * v[f"W{l}"]
        return _penalised(model, v, f"W{l}", dW)

    mistakes = [_mean_twice(l)] + _input_mistakes(model, l)
    penalty = ""
    if model.penalty is not None:
        penalty = (f" + l2 · W{l}" if model.l2 else "") + (f" + l1 · sign(W{l})"
                                                           if model.l1 else "")
        mistakes.append(Mistake("penalty_left_out", f"the penalty's gradient left out of "
                                f"dW{l}: the update uses the gradient of L + penalty"))
        mistakes += [m for m in _penalty_slips(model) if m.name == "penalty_half_dropped"]
    of = "d(L + penalty)" if penalty else "dL"
    return Quantity(f"dW{l}", "backward", "weights", f"dW{l} = {of}/dW{l} = "
                    f"{_prev(model, l)}ᵀ · δ{l}{penalty}", compute, tuple(mistakes), l)


def _db(model: StepModel, l: int) -> Quantity:
    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        delta = v[f"delta{l}"]
        # the backward pass's own sum over the batch: a BLAS product with a row of ones
        db = np.matmul(np.ones(len(delta), delta.dtype), delta)
        if mistake == "penalty_on_biases":
            b = v[f"b{l}"]
            return db + model.l2 * b + model.l1 * np.sign(b)
        return db / len(delta) if mistake == "batch_mean_twice" else db

    mistakes = [_mean_twice(l)]
    if model.penalty is not None:
        mistakes += [m for m in _penalty_slips(model) if m.name == "penalty_on_biases"]
    return Quantity(f"db{l}", "backward", "vector", f"db{l} = dL/db{l} = δ{l} summed over the "
                    "samples",
                    compute, tuple(mistakes), l)


def _mean_twice(l: int) -> Mistake:
    return Mistake("batch_mean_twice", f"the mean over the batch taken twice: δ{l} already "
                   "carries the 1/n, so the gradient is the plain sum over the samples")


# --- running steps ----------------------------------------------------------------------------

# (step number, quantity, its value from the values before it, the step so far) -> the value
# to go on with: how a grader puts a learner's own numbers into the step as it is computed.
Substitute = Callable[[int, "Quantity", np.ndarray, "Step"], np.ndarray]


@dataclass
class Step:
    """One step's numbers. ``values`` holds the inputs and every quantity as the step went on
    with them (a learner's own numbers, where a grader substituted them); ``expected`` holds
    each quantity as its formula gives it from the values before it. Without substitutions
    both are nncli's numbers."""

    values: Values
    expected: Values = field(default_factory=dict)

    def under(self, q: Quantity, mistake: str) -> np.ndarray | None:
        """``q`` recomputed from this step's values under ``mistake``."""
        with np.errstate(all="ignore"):
            return q.compute(self.values, mistake)


def run_step(qs: list[Quantity], inputs: Values, substitute: Substitute | None = None,
             slips: Mapping[str, str] | None = None, number: int = 1) -> Step:
    """One step from ``inputs`` (x, y, the parameters, any state). Each quantity is computed
    from the values before it (under the mistake ``slips`` names for it, if any), then
    ``substitute`` may replace it. Stops after a non-finite loss when nothing is substituted
    (training would stop there); the step then has no backward quantities."""
    step = Step(dict(inputs))
    slips = slips or {}
    for q in qs:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            value = q.compute(step.values, slips.get(q.key))
        if value is None:
            raise ValueError(f"mistake {slips[q.key]} does not apply to {q.key}")
        step.expected[q.key] = value
        if substitute is not None:
            value = substitute(number, q, value, step)
        step.values[q.key] = value
        if q.key == "L" and substitute is None and not math.isfinite(float(value)):
            break
    return step


def run_steps(model: StepModel, batches: Iterable[Values], initial: Values,
              substitute: Substitute | None = None, slips: Mapping[str, str] | None = None
              ) -> list[Step]:
    """Consecutive steps on ``batches`` from the ``initial`` parameters (see :func:`stepping`)."""
    return list(stepping(model, batches, initial, substitute, slips))


def stepping(model: StepModel, batches: Iterable[Values], initial: Values,
             substitute: Substitute | None = None, slips: Mapping[str, str] | None = None
             ) -> Iterator[Step]:
    """Consecutive steps, one per batch as it comes (each batch: its inputs ``x``, ``y``,
    ``lr``, and ``w`` and ``mask<l>`` where the config has them), from the ``initial``
    parameters and the rule's initial state, each step starting from the values the previous
    one went on with; ``slips`` (quantity key -> mistake) makes every step with those
    mistakes, as a learner would. Ends after a step that did not finish (a non-finite
    loss)."""
    qs = quantities(model)
    form = UPDATE_FORMS[model.update]
    state = {**initial, **form.initial(model)}
    for number, inputs in enumerate(batches, start=1):
        step = run_step(qs, {**inputs, "t": np.asarray(number), **state}, substitute, slips,
                        number)
        yield step
        if not finished(step, qs):
            return
        state = form.carry(model, step.values)


def finished(step: Step, qs: list[Quantity]) -> bool:
    """Whether every quantity of the step was computed (not stopped at a non-finite loss)."""
    return all(q.key in step.values for q in qs)
