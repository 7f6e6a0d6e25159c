"""The step calculator: every quantity of one training update, each from its direct inputs.

`nncli trace` runs the network's passes. A learner's worksheet needs more: each quantity
recomputed from *the learner's own* earlier values (so that a slip costs one cell, not every
cell after it: "follow-through"), and under each catalogued mistake (so that `nncli check` can
say which slip reproduces a wrong number). This module is that calculator. Each quantity is
one formula of the textbook step, evaluated with the engine's own pieces on small arrays:

    z_l = a_(l-1) W_l + b_l          a_l = f_l(z_l)                  Activation.forward
    L = loss(a_L, y)                                                  Loss.value
    δ_L = dL/dz_L                                                     network.output_delta
    δ_l = (δ_(l+1) W_(l+1)ᵀ) ⊙ f_l′(z_l)                              Activation.backprop
    dW_l = a_(l-1)ᵀ δ_l               db_l = δ_l summed over the samples
    W_l′, b_l′ = the update rule applied to W_l, b_l                  optim.RULES

with a_0 = x. With nothing substituted and no mistake it gives trace's numbers bit for bit
(tests/test_learners.py holds this): the same NumPy operations, in the same order, as
``Network.forward`` and ``Network.backward``, and the engine's own update rule.

A mistake is a named variant of one formula (:class:`Mistake`); each :class:`Quantity` lists
the variants that apply to it and computes itself under any of them.

The update rule's part of a step (the quantities after the gradients, the mistakes of the
update, and what one step hands to the next) is an :class:`UpdateForm` in ``UPDATE_FORMS``,
keyed by the config's ``training.update``: an update rule with state (momentum's velocity,
adam's moments) adds its state quantities, its "other named form" mistakes and its carried
state there, in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np

from ..engine.activations import Activation
from ..engine.losses import Loss
from ..engine.network import Network, output_delta
from ..engine.optim import RULES

Values = dict[str, np.ndarray]  # inputs (x, y, W1, b1, ...) and quantities (z1, a1, L, ...)


@dataclass(frozen=True)
class Mistake:
    name: str  # stable id, e.g. "updated_weight"
    text: str  # what the learner did, in words


@dataclass
class Quantity:
    """One quantity of a step: ``compute(values, mistake)`` evaluates its formula from the
    quantities and inputs in ``values`` (under the named mistake, or correctly for None). A
    mistake that cannot apply to these values gives None."""

    key: str  # "z1", "a1", "L", "delta2", "dW2", "db2", "norm", "W1'", "b1'"
    stage: str  # "forward", "loss", "backward" or "update"
    form: str  # how its cells are indexed: "samples", "weights", "vector" or "scalar"
    formula: str  # e.g. "z1 = x · W1 + b1"
    compute: Callable[[Values, str | None], np.ndarray | None]
    mistakes: tuple[Mistake, ...] = ()
    layer: int = 0  # 1-based; 0 for the loss and the gradient norm


@dataclass
class StepModel:
    """What a step needs to know about the network and its training: each layer's activation
    and bias, which arrays are trained, the loss, the update rule and its learning rate."""

    activations: list[Activation]
    bias: list[bool]
    trainable: dict[str, bool]  # by parameter name, in parameter order (W1, b1, W2, ...)
    loss: Loss
    update: str
    learning_rate: float
    dtype: np.dtype

    @classmethod
    def of(cls, net: Network, loss: Loss, update: str, learning_rate: float) -> "StepModel":
        return cls([l.activation for l in net.layers], [l.b is not None for l in net.layers],
                   net.trainable(), loss, update, learning_rate, net.dtype)

    @property
    def depth(self) -> int:
        return len(self.activations)

    @property
    def names(self) -> list[str]:
        return list(self.trainable)

    @property
    def fused(self) -> bool:
        """Whether the output delta is the fused (a − y) / n (see engine/losses.py)."""
        return self.loss.fused_with == self.activations[-1].name


def quantities(model: StepModel) -> list[Quantity]:
    """Every quantity of a step, in worksheet order: forward (z, a per layer), the loss,
    backward (δ, dW, db per layer, last layer first), then the update."""
    qs = []
    for l in range(1, model.depth + 1):
        qs += [_z(model, l), _a(model, l)]
    qs.append(_loss(model))
    for l in range(model.depth, 0, -1):
        qs += [_delta(model, l), _dW(model, l)]
        if model.bias[l - 1]:
            qs.append(_db(model, l))
    return qs + UPDATE_FORMS[model.update].quantities(model)


# --- forward ----------------------------------------------------------------------------------

def _prev(l: int) -> str:
    return "x" if l == 1 else f"a{l - 1}"


def _z(model: StepModel, l: int) -> Quantity:
    bias = model.bias[l - 1]

    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        a_prev = v[_prev(l)] if mistake != "activation_skipped" else v[f"z{l - 1}"]
        z = np.matmul(a_prev, v[f"W{l}"])
        if bias and mistake != "bias_left_out":
            z += v[f"b{l}"]
        return z

    mistakes = []
    if bias:
        mistakes.append(Mistake("bias_left_out", f"the bias b{l} left out of z{l}"))
    if l > 1:
        mistakes.append(_activation_skipped(l))
    return Quantity(f"z{l}", "forward", "samples", f"z{l} = {_prev(l)} · W{l}"
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

def loss_mistakes(loss: str, n: int, outputs: int) -> list[tuple[Mistake, float]]:
    """The convention slips of a loss, each as the factor it puts on the loss and on dL/da:
    the ½ (dropped from half_sse, added to mse), the mean or sum over the outputs, and the
    mean or sum over the samples of the batch."""
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
    return slips + [(Mistake("batch_summed", "the sum over the samples of the batch instead "
                             "of the mean (no 1/n)"), float(n))]


def _loss_factor(model: StepModel, v: Values, mistake: str) -> float | None:
    a = v[f"a{model.depth}"]
    for m, factor in loss_mistakes(model.loss.name, a.shape[0], a.shape[1]):
        if m.name == mistake:
            return factor
    return None


def _loss(model: StepModel) -> Quantity:
    last = model.depth

    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        value = model.loss.value(v[f"a{last}"], v["y"], v[f"z{last}"])
        factor = 1.0 if mistake is None else _loss_factor(model, v, mistake)
        return None if factor is None else np.asarray(value * factor)

    # The batch size and outputs only change the factors, not which slips exist.
    mistakes = tuple(m for m, _ in loss_mistakes(model.loss.name, 2, 2))
    return Quantity("L", "loss", "scalar", f"L = {model.loss.name}(a{last}, y), the mean over "
                    "the samples of the batch", compute, mistakes)


# --- backward ---------------------------------------------------------------------------------

def _delta(model: StepModel, l: int) -> Quantity:
    act = model.activations[l - 1]
    last = l == model.depth
    slope = _slope_mistakes(act, l) if act.differentiable else []
    if last:
        compute = _output_delta(model, act)
        mistakes = [m for m, _ in loss_mistakes(model.loss.name, 2, 2)]
        mistakes.append(Mistake("delta_sign", "δ with the opposite sign: (y − a) instead of "
                                "(a − y) (Mitchell's δ = −∂E/∂net is the negative of nncli's "
                                "δ = dL/dz)"))
        if model.fused and act.differentiable:
            mistakes.append(Mistake("fused_times_fprime", f"(a − y) / n multiplied by "
                                    f"{act.name}′(z) as well: with {model.loss.name} the fused "
                                    f"δ = (a − y) / n already includes the output's derivative"))
        elif not model.fused:
            mistakes += slope
        how = (f"(a{l} − y) / n, fused with {model.loss.name}" if model.fused
               else f"dL/da{l} ⊙ {act.name}′(z{l})")
    else:
        compute = _hidden_delta(model, l, act)
        mistakes = [Mistake("updated_weight", f"the updated weights W{l + 1}′ used in δ{l}: every "
                            f"δ of a step uses the weights before the update (W{l + 1})"), *slope]
        how = f"(δ{l + 1} · W{l + 1}ᵀ) ⊙ {act.name}′(z{l})"
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
        if mistake in SLOPE_SLIPS:  # listed only where the output is not fused
            return _through_slope(act, a, z, model.loss.grad(a, y, np.empty_like(a)), mistake)
        delta = output_delta(model.loss, act, a, y, np.empty_like(a))
        if mistake is None:
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


def _dW(model: StepModel, l: int) -> Quantity:
    def compute(v: Values, mistake: str | None) -> np.ndarray | None:
        a_prev = v[f"z{l - 1}"] if mistake == "activation_skipped" else v[_prev(l)]
        dW = np.matmul(a_prev.T, v[f"delta{l}"])
        return dW / len(a_prev) if mistake == "batch_mean_twice" else dW

    mistakes = [_mean_twice(l)] + ([_activation_skipped(l)] if l > 1 else [])
    return Quantity(f"dW{l}", "backward", "weights", f"dW{l} = dL/dW{l} = {_prev(l)}ᵀ · δ{l}",
                    compute, tuple(mistakes), l)


def _db(model: StepModel, l: int) -> Quantity:
    def compute(v: Values, mistake: str | None) -> np.ndarray:
        delta = v[f"delta{l}"]
        # the backward pass's own sum over the batch: a BLAS product with a row of ones
        db = np.matmul(np.ones(len(delta), delta.dtype), delta)
        return db / len(delta) if mistake == "batch_mean_twice" else db

    return Quantity(f"db{l}", "backward", "vector", f"db{l} = dL/db{l} = δ{l} summed over the "
                    "samples", compute, (_mean_twice(l),), l)


def _mean_twice(l: int) -> Mistake:
    return Mistake("batch_mean_twice", f"the mean over the batch taken twice: δ{l} already "
                   "carries the 1/n, so the gradient is the plain sum over the samples")


# --- the update -------------------------------------------------------------------------------

class UpdateForm:
    """The update rule's part of a step. ``quantities`` are the cells after the gradients
    (state and norm first, then every parameter after the step); ``carry`` is what one step
    hands to the next (the parameters after it, and any state). A rule with state adds its
    state quantities (e.g. ``vW1'``), their initial values in :meth:`initial`, and its
    "other named form" mistakes here."""

    rule = ""
    formula = ""  # the step of a parameter {p}, for worksheets and kits

    def quantities(self, model: StepModel) -> list[Quantity]:
        return [self._parameter(model, name) for name in model.names]

    def initial(self, model: StepModel) -> Values:
        """The state before the first step (none for a rule without state)."""
        return {}

    def carry(self, model: StepModel, values: Values) -> Values:
        """The inputs of the next step taken from this step's values."""
        return {name: values[f"{name}'"] for name in model.names}

    def updated(self, model: StepModel, v: Values, name: str, mistake: str | None
                ) -> np.ndarray | None:
        raise NotImplementedError

    def mistakes(self, model: StepModel, name: str) -> list[Mistake]:
        out = [Mistake("sign_flipped", f"the step taken uphill: {name} + lr · d{name} instead "
                       f"of {name} − lr · d{name}"),
               Mistake("lr_not_applied", f"the learning rate not applied: {name} − d{name} "
                       f"instead of {name} − lr · d{name}")]
        if name.startswith("b"):
            out.append(Mistake("bias_not_updated", f"the bias not updated: {name}′ = {name}"))
        return out

    def _parameter(self, model: StepModel, name: str) -> Quantity:
        layer = int(name[1:])
        if model.trainable[name]:
            formula = f"{name}′ = " + self.formula.format(p=name)
        else:
            formula = f"{name}′ = {name} (frozen: not trained)"
        return Quantity(f"{name}'", "update", "weights" if name[0] == "W" else "vector",
                        formula, lambda v, m: self.updated(model, v, name, m),
                        tuple(self.mistakes(model, name)), layer)


def stepped(model: StepModel, v: Values, name: str, scale: float) -> np.ndarray:
    """``name`` after the engine's plain step with rate ``scale``: p − scale · dp (a frozen
    array is returned unchanged)."""
    p = v[name].copy()
    if model.trainable[name]:
        g = v[f"d{name}"].copy()
        RULES["gradient"](p.size, p.dtype, scale).step(p.reshape(-1), g.reshape(-1))
    return p


class GradientForm(UpdateForm):
    rule = "gradient"
    formula = "{p} − lr · d{p}"

    def updated(self, model, v, name, mistake):
        if mistake == "bias_not_updated":
            return v[name].copy()
        scale = {None: model.learning_rate, "sign_flipped": -model.learning_rate,
                 "lr_not_applied": 1.0}.get(mistake)
        return None if scale is None else stepped(model, v, name, scale)


class NormalizedForm(UpdateForm):
    """W′ = W − lr · dW / ‖g‖ with ‖g‖ the norm over every trainable gradient: the engine's
    step with rate lr / ‖g‖ (as ``optim.Normalized`` computes it: ``scale = lr; scale /= norm``). The
    norm is a cell of its own, so a learner's slip in it costs that cell only."""

    rule = "normalized"
    formula = "{p} − lr · d{p} / ‖g‖"

    def quantities(self, model):
        def norm(v: Values, mistake: str | None) -> np.ndarray:
            # as the engine takes it: one dot product over the flat gradient in layout order
            # (W1, b1, W2, ...), a frozen array's part zero
            g = np.concatenate([v[f"d{k}"].ravel() if on else np.zeros(v[f"d{k}"].size)
                                for k, on in model.trainable.items()])
            return np.asarray(math.sqrt(float(np.vdot(g, g))))

        return [Quantity("norm", "update", "scalar", "‖g‖ = √(the sum of the squares of every "
                         "trainable dW and db)", norm)] + super().quantities(model)

    def updated(self, model, v, name, mistake):
        if mistake == "bias_not_updated":
            return v[name].copy()
        if mistake == "norm_not_applied":
            return stepped(model, v, name, model.learning_rate)
        norm = float(v["norm"])
        if norm == 0.0:  # the engine takes no step on a zero gradient
            return None if mistake else v[name].copy()
        scale = {None: model.learning_rate, "sign_flipped": -model.learning_rate,
                 "lr_not_applied": 1.0}.get(mistake)
        return None if scale is None else stepped(model, v, name, scale / norm)

    def mistakes(self, model, name):
        return super().mistakes(model, name) + [
            Mistake("norm_not_applied", f"d{name} not divided by the norm ‖g‖ (a plain "
                    "gradient step)")]


UPDATE_FORMS: dict[str, UpdateForm] = {f.rule: f for f in (GradientForm(), NormalizedForm())}


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


def run_steps(model: StepModel, batches: Iterable[tuple[np.ndarray, np.ndarray]],
              initial: Values, substitute: Substitute | None = None,
              slips: Mapping[str, str] | None = None) -> list[Step]:
    """Consecutive steps on ``batches`` ((x, y) each) from the ``initial`` parameters, each
    step starting from the values the previous one went on with; ``slips`` (quantity key ->
    mistake) makes every step with those mistakes, as a learner would."""
    qs = quantities(model)
    form = UPDATE_FORMS[model.update]
    state = {**initial, **form.initial(model)}
    steps = []
    for number, (x, y) in enumerate(batches, start=1):
        step = run_step(qs, {"x": x, "y": y, **state}, substitute, slips, number)
        steps.append(step)
        if not finished(step, qs):
            break
        state = form.carry(model, step.values)
    return steps


def finished(step: Step, qs: list[Quantity]) -> bool:
    """Whether every quantity of the step was computed (not stopped at a non-finite loss)."""
    return all(q.key in step.values for q in qs)
