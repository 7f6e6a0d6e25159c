"""The update rule's part of a step: one :class:`UpdateForm` per rule of the engine's registry
(``engine/optim.py``), keyed by the config's ``training.update``, in ``UPDATE_FORMS``.

A form gives the quantities after the gradients (the rule's state after the step, then every
parameter after it), the state a step starts from (zero at step 1), what one step hands to the
next, and the rule's mistakes. Each step uses its own rate ``lr`` (the rate of its epoch, as
the schedule gives it); adam counts the steps ``t``.

State cells are named by the state's letter, the parameter and a prime (after the step), as the
rule's docstring names the state:

| update | state cells (per trained array, e.g. of W1) |
|---|---|
| momentum, nesterov | ``vW1'`` the velocity (Hagan's ΔW) |
| adam | ``mW1'``, ``vW1'`` the moments; ``mhatW1'``, ``vhatW1'`` their bias-corrected values |
| rmsprop, adagrad | ``sW1'`` the running (rmsprop) or summed (adagrad) squared gradient |

The state before a step is ``vW1`` (without the prime): zero at step 1 (a given of the
worksheet), ``vW1'`` of the step before after that. A frozen array has no state cells (its
gradient is zeroed before the step, so its state stays zero and it does not move).

How the numbers are made: the new state is the engine's own rule (``optim.RULES``) stepped on
one array from the state before; the parameter after the step is the rule's last line applied
to the new state as it stands in the step's values (so a learner's own state goes on into
their parameter: follow-through), with the same NumPy operations in the same order as the
engine's rule, so the calculator equals ``nncli trace`` bit for bit (tests/test_learners.py
holds this for every rule). Mistaken variants reuse the engine's rules too: momentum "in
another named form" is the engine's momentum in that form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..engine.optim import RULES, Momentum, Nesterov, _adaptive_step
from .stepmodel import Mistake, Quantity, StepModel, Values


def rate(v: Values) -> float:
    """The step's learning rate (the schedule's rate of its epoch)."""
    return float(v["lr"])


def rate_under(model: StepModel, v: Values, mistake: str | None) -> float | None:
    """The rate a step uses under ``mistake`` (None: that mistake changes nothing here)."""
    lr = rate(v)
    if mistake == "lr_not_applied":
        return 1.0 if lr != 1.0 else None
    if mistake == "base_rate":
        return model.learning_rate if model.learning_rate != lr else None
    return lr


def rate_mistakes(model: StepModel, how: str) -> list[Mistake]:
    """The slips of the rate: not applied; and with a schedule, the base rate kept."""
    out = [Mistake("lr_not_applied", f"the learning rate not applied ({how} with lr = 1)")]
    if model.scheduled:
        out.append(Mistake("base_rate", f"the base rate lr = {model.learning_rate:g} used "
                           f"instead of the rate of the step's epoch (the schedule's)"))
    return out


class UpdateForm:
    """The update rule's part of a step. ``quantities`` are the cells after the gradients
    (state and norm first, then every parameter after the step); ``carry`` is what one step
    hands to the next (the parameters after it, and any state)."""

    rule = ""
    formula = ""  # the step of a parameter {p}, for worksheets and kits

    def quantities(self, model: StepModel) -> list[Quantity]:
        return [self._parameter(model, name) for name in model.names]

    def state_keys(self, model: StepModel) -> list[str]:
        """The rule's state arrays carried from step to step, by cell key without the prime
        (``vW1``, ...); none for a rule without state."""
        return []

    def initial(self, model: StepModel) -> Values:
        """The state before the first step: zero."""
        dtype = model.dtype
        return {k: np.zeros(model.shape(k), dtype) for k in self.state_keys(model)}

    def carry(self, model: StepModel, values: Values) -> Values:
        """The inputs of the next step taken from this step's values."""
        return {k: values[f"{k}'"] for k in model.names + self.state_keys(model)}

    def param_formula(self, model: StepModel) -> str:
        """The step of a parameter ``{p}``: its value after the step."""
        return self.formula

    def describe(self, model: StepModel) -> str:
        """The rule in words and symbols, for worksheets and kits."""
        return f"W′ = {self.param_formula(model).format(p='W')}"

    def updated(self, model: StepModel, v: Values, name: str, mistake: str | None
                ) -> np.ndarray | None:
        raise NotImplementedError

    def mistakes(self, model: StepModel, name: str) -> list[Mistake]:
        out = [Mistake("sign_flipped", f"the step taken uphill: {name} + lr · d{name} instead "
                       f"of {name} − lr · d{name}")]
        out += rate_mistakes(model, f"{name} − d{name} instead of {name} − lr · d{name}")
        if name.startswith("b"):
            out.append(Mistake("bias_not_updated", f"the bias not updated: {name}′ = {name}"))
        return out

    def _parameter(self, model: StepModel, name: str) -> Quantity:
        layer = int(name[1:])
        if model.trainable[name]:
            formula = f"{name}′ = " + self.param_formula(model).format(p=name)
        else:
            formula = f"{name}′ = {name} (frozen: not trained)"
        return Quantity(f"{name}'", "update", _form(name), formula,
                        lambda v, m: self.updated(model, v, name, m),
                        tuple(self.mistakes(model, name)), layer)


def _form(name: str) -> str:
    return "weights" if name[0] == "W" else "vector"


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
        if mistake == "sign_flipped":
            return stepped(model, v, name, -rate(v))
        scale = rate_under(model, v, mistake)
        return None if scale is None else stepped(model, v, name, scale)


class NormalizedForm(UpdateForm):
    """W′ = W − lr · dW / ‖g‖ with ‖g‖ the norm over every trainable gradient: the engine's
    step with rate lr / ‖g‖ (as ``optim.Normalized`` computes it: ``scale = lr; scale /= norm``).
    The norm is a cell of its own, so a learner's slip in it costs that cell only."""

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
        lr = rate(v)
        if mistake == "norm_not_applied":
            return stepped(model, v, name, lr)
        norm = float(v["norm"])
        if norm == 0.0:  # the engine takes no step on a zero gradient
            return None if mistake else v[name].copy()
        scale = -lr if mistake == "sign_flipped" else rate_under(model, v, mistake)
        return None if scale is None else stepped(model, v, name, scale / norm)

    def mistakes(self, model, name):
        return super().mistakes(model, name) + [
            Mistake("norm_not_applied", f"d{name} not divided by the norm ‖g‖ (a plain "
                    "gradient step)")]


# --- rules with state -------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """An update rule as the engine's registry makes it: the rule, its settings, and the rate
    (None: the step's own)."""

    rule: str
    hyper: dict = field(default_factory=dict)
    lr: float | None = None


@dataclass(frozen=True)
class Slip:
    """A mistake of a rule with state and the cells it changes: a variant of the rule (the
    engine's rule with other settings, or another rule); or, without one, the rule's own with
    another rate (``rate_under``) or a formula of its own (``StatefulForm.custom``)."""

    mistake: Mistake
    cells: frozenset  # {"state", "param"}, and adam's shown cells {"shown"}
    variant: Variant | None = None


class StatefulForm(UpdateForm):
    """A rule with state (momentum, nesterov, adam, rmsprop, adagrad)."""

    shown: tuple[str, ...] = ()  # arrays derived from the state, shown as cells (adam's m̂, v̂)
    state_formulas: dict[str, str] = {}  # by state letter, with {p} for the parameter

    def state_formula(self, model: StepModel, k: str) -> str:
        return self.state_formulas[k]

    @property
    def arrays(self) -> tuple[str, ...]:
        return RULES[self.rule].arrays

    def state_keys(self, model):
        return [f"{k}{name}" for k in self.arrays for name in model.names
                if model.trainable[name]]

    def quantities(self, model):
        qs = []
        for k in self.arrays + self.shown:
            for name in model.names:
                if model.trainable[name]:
                    qs.append(self._state(model, k, name))
        return qs + super().quantities(model)

    def describe(self, model):
        rule = RULES[self.rule](1, np.float64, model.learning_rate, **model.hyper)
        state = ", ".join(f"{k}{self.state_letter_text(k)}" for k in self.arrays)
        return (f"{rule.formula()} (g: the gradient dW; the state, {state}, of each trained "
                f"array starts at 0 and carries from step to step)")

    def state_letter_text(self, k: str) -> str:
        return ""

    def slips(self, model: StepModel) -> list[Slip]:
        """The rule's own mistakes (the rate's are added by :meth:`all_slips`)."""
        return []

    def lr_cells(self, model: StepModel) -> frozenset:
        """Where the rate enters: the state (classic momentum), the parameter's step, or
        both."""
        return frozenset({"param"})

    def all_slips(self, model: StepModel) -> list[Slip]:
        where = self.lr_cells(model)
        return self.slips(model) + [Slip(m, where)
                                    for m in rate_mistakes(model, "the step")]

    # the numbers ------------------------------------------------------------------------------

    def variant(self, model: StepModel, v: Values, slip: Slip | None) -> Variant | None:
        """The engine rule a step is made with, under ``slip`` (None: correctly)."""
        if slip is None or slip.variant is None:
            lr = rate_under(model, v, slip.mistake.name if slip else None)
            return None if lr is None else Variant(self.rule, model.hyper, lr)
        return Variant(slip.variant.rule, slip.variant.hyper, rate(v))

    def advanced(self, model: StepModel, v: Values, name: str, variant: Variant
                 ) -> dict[str, np.ndarray]:
        """The state after the step of ``name``: the engine's rule stepped on a copy of the
        array from the state before."""
        p = v[name].copy()
        rule = RULES[variant.rule](p.size, p.dtype, variant.lr, **variant.hyper)
        rule.load_state(int(v["t"]) - 1, {k: v[f"{k}{name}"].reshape(-1) for k in rule.arrays})
        rule.step(p.reshape(-1), v[f"d{name}"].copy().reshape(-1))
        return {k: a.reshape(p.shape) for k, a in rule.state.items()}

    def new_state(self, model: StepModel, v: Values, name: str, variant: Variant
                  ) -> dict[str, np.ndarray]:
        """The state after the step as the step's values have it (a learner's own, once
        written), else as ``variant`` makes it (in a hidden δ, before the state cells)."""
        keys = {k: f"{k}{name}'" for k in self.arrays}
        if all(key in v for key in keys.values()):
            return {k: v[key] for k, key in keys.items()}
        return self.advanced(model, v, name, variant)

    def apply(self, variant: Variant, v: Values, name: str, state: dict[str, np.ndarray]
              ) -> np.ndarray:
        """The parameter after the step from the new ``state``: the rule's last line, with
        the engine's operations in the engine's order."""
        raise NotImplementedError

    def updated(self, model, v, name, mistake):
        if not model.trainable[name]:
            return None if mistake else v[name].copy()
        if mistake == "bias_not_updated":
            return v[name].copy()
        if mistake == "sign_flipped":
            after = self.updated(model, v, name, None)
            return v[name] - (after - v[name])
        slip = self._slip(model, mistake)
        if mistake is not None and (slip is None or "param" not in slip.cells):
            return None
        custom = self.custom(model, v, name, mistake)
        if custom is not None:
            return custom
        variant = self.variant(model, v, slip)
        if variant is None:
            return None
        return self.apply(variant, v, name, self.new_state(model, v, name, variant))

    def custom(self, model: StepModel, v: Values, name: str, mistake: str | None
               ) -> np.ndarray | None:
        """A parameter's step under a mistake that is a formula of its own (adam's ε)."""
        return None

    def _slip(self, model: StepModel, mistake: str | None) -> Slip | None:
        return next((s for s in self.all_slips(model) if s.mistake.name == mistake), None)

    def mistakes(self, model, name):
        out = [Mistake("sign_flipped", f"the step taken uphill: {name} − ({name}′ − {name}), "
                       f"the step of the rule subtracted instead of added")]
        out += [s.mistake for s in self.all_slips(model) if "param" in s.cells]
        if name.startswith("b"):
            out.append(Mistake("bias_not_updated", f"the bias not updated: {name}′ = {name}"))
        return out

    def _state(self, model: StepModel, k: str, name: str) -> Quantity:
        key = f"{k}{name}'"

        def compute(v: Values, mistake: str | None) -> np.ndarray | None:
            if k in self.shown:
                return self.derived(model, v, name, k, mistake)
            slip = self._slip(model, mistake)
            if mistake is not None and (slip is None or "state" not in slip.cells):
                return None
            variant = self.variant(model, v, slip)
            return None if variant is None else self.advanced(model, v, name, variant)[k]

        kind = "state" if k not in self.shown else "shown"
        mistakes = tuple(s.mistake for s in self.all_slips(model) if kind in s.cells)
        return Quantity(key, "update", _form(name),
                        f"{key[:-1]}′ = " + self.state_formula(model, k).format(p=name), compute,
                        mistakes, int(name[1:]))

    def derived(self, model, v, name, k, mistake):
        raise NotImplementedError


class MomentumForm(StatefulForm):
    """Momentum in its named forms (``training.momentum_form``), and Nesterov's."""

    VELOCITY = {"classic": "μ · v{p} − lr · d{p}", "pytorch": "μ · v{p} + d{p}",
                "hagan": "μ · v{p} − (1 − μ) · lr · d{p}"}
    STEP = {("momentum", "classic"): "{p} + v{p}′", ("momentum", "hagan"): "{p} + v{p}′",
            ("momentum", "pytorch"): "{p} − lr · v{p}′",
            ("nesterov", "classic"): "{p} + μ · v{p}′ − lr · d{p}",
            ("nesterov", "pytorch"): "{p} − lr · (d{p} + μ · v{p}′)"}

    def __init__(self, rule: str):
        self.rule = rule

    def state_letter_text(self, k):
        return " the velocity"

    def _form_of(self, model: StepModel) -> str:
        return model.hyper["momentum_form"]

    def state_formula(self, model, k):
        return self.VELOCITY[self._form_of(model)]

    def param_formula(self, model):
        return self.STEP[self.rule, self._form_of(model)]

    def lr_cells(self, model):
        form = self._form_of(model)
        cells = {"state"} if form in ("classic", "hagan") else set()
        if self.rule == "nesterov" or form == "pytorch":
            cells.add("param")
        return frozenset(cells)

    def slips(self, model):
        form, mu = self._form_of(model), model.hyper["momentum"]
        out = []
        for other, text in Momentum.FORMS.items():
            if other == form:
                continue
            rule = self.rule if other in RULES[self.rule].FORMS else "momentum"
            note = " (Hagan's form has no Nesterov step)" if rule != self.rule else ""
            out.append(Slip(Mistake(f"momentum_form_{other}", f"momentum in the {other} form "
                                    f"({text}){note} instead of the {form} form the config "
                                    f"names"),
                            frozenset({"state", "param"}),
                            Variant(rule, {"momentum": mu, "momentum_form": other})))
        if self.rule == "momentum" and form in Nesterov.FORMS:
            out.append(Slip(Mistake("nesterov_step", f"Nesterov's look-ahead step "
                                    f"({Nesterov.FORMS[form]}) where plain momentum's "
                                    f"({Momentum.FORMS[form]}) belongs"), frozenset({"param"}),
                            Variant("nesterov", {"momentum": mu, "momentum_form": form})))
        if self.rule == "nesterov":
            out.append(Slip(Mistake("plain_momentum_step", f"a plain momentum step "
                                    f"({Momentum.FORMS[form]}) where Nesterov's look-ahead "
                                    f"({Nesterov.FORMS[form]}) belongs"), frozenset({"param"}),
                            Variant("momentum", {"momentum": mu, "momentum_form": form})))
        return out

    def apply(self, variant, v, name, state):
        form, mu, lr = variant.hyper["momentum_form"], variant.hyper["momentum"], variant.lr
        p = v[name].copy()
        velocity = state["v"]
        if variant.rule == "momentum":
            if form == "pytorch":  # np.multiply(v, lr, out=grad); theta -= grad
                p -= velocity * lr
            else:  # theta += v
                p += velocity
            return p
        ahead = velocity * mu  # np.multiply(v, mu, out=ahead)
        if form == "classic":  # grad *= lr; ahead -= grad; theta += ahead
            ahead -= v[f"d{name}"] * lr
            p += ahead
        else:  # ahead += grad; ahead *= lr; theta -= ahead
            ahead += v[f"d{name}"]
            ahead *= lr
            p -= ahead
        return p


class AdamForm(StatefulForm):
    rule = "adam"
    shown = ("mhat", "vhat")
    formula = "{p} − lr · mhat{p}′ / (√vhat{p}′ + ε)"
    state_formulas = {"m": "β1 · m{p} + (1 − β1) · d{p}", "v": "β2 · v{p} + (1 − β2) · d{p}²",
                      "mhat": "m{p}′ / (1 − β1ᵗ)", "vhat": "v{p}′ / (1 − β2ᵗ)"}

    def state_letter_text(self, k):
        return {"m": " the first moment", "v": " the second moment"}[k]

    def describe(self, model):
        return super().describe(model)[:-1] + "; t counts the steps, 1 at the first)"

    def slips(self, model):
        return [
            Slip(Mistake("no_bias_correction", "adam without its bias correction: m and v "
                         "used where m̂ = m / (1 − β1ᵗ) and v̂ = v / (1 − β2ᵗ) belong"),
                 frozenset({"shown", "param"})),
            Slip(Mistake("epsilon_efficient_form", "adam's \"efficient\" form (scikit-learn, "
                         "Keras): w − lr · √(1 − β2ᵗ) / (1 − β1ᵗ) · m / (√v + ε), ε added to "
                         "√v instead of to √v̂"), frozenset({"param"})),
            Slip(Mistake("epsilon_inside_root", "ε inside the square root: √(v̂ + ε) instead "
                         "of √v̂ + ε"), frozenset({"param"})),
        ]

    def _engine(self, v: Values, settings: dict, state: dict):
        """The engine's adam holding ``state`` after step t (to derive m̂ and v̂ as it does)."""
        rule = RULES["adam"](state["m"].size, state["m"].dtype, rate(v), **settings)
        rule.load_state(int(v["t"]), {k: a.reshape(-1) for k, a in state.items()})
        return rule

    def derived(self, model, v, name, k, mistake):
        state = {s: v[f"{s}{name}'"] for s in self.arrays}
        if mistake == "no_bias_correction":
            return state[k[0]].copy()
        if mistake is not None:
            return None
        shown = self._engine(v, model.hyper, state).shown()
        return shown[f"{k[0]}_hat"].reshape(state["m"].shape)

    def custom(self, model, v, name, mistake):
        if mistake not in ("no_bias_correction", "epsilon_efficient_form",
                           "epsilon_inside_root"):
            return None
        h, t, lr = model.hyper, int(v["t"]), rate(v)
        state = self.new_state(model, v, name, self.variant(model, v, None))
        m, s = state["m"], state["v"]
        m_hat, v_hat = m / (1 - h["beta1"] ** t), s / (1 - h["beta2"] ** t)
        if mistake == "no_bias_correction":
            step = lr * m / (np.sqrt(s) + h["epsilon"])
        elif mistake == "epsilon_efficient_form":
            step = lr * math.sqrt(1 - h["beta2"] ** t) / (1 - h["beta1"] ** t) * m \
                / (np.sqrt(s) + h["epsilon"])
        else:
            step = lr * m_hat / np.sqrt(v_hat + h["epsilon"])
        return v[name] - step

    def apply(self, variant, v, name, state):
        h, t = variant.hyper, int(v["t"])
        # as optim.Adam.step: √v·(1/√(1−β2ᵗ)) + ε, then m·(lr/(1−β1ᵗ)) divided by it
        denominator = np.sqrt(state["v"])
        denominator *= 1 / math.sqrt(1 - h["beta2"] ** t)
        denominator += h["epsilon"]
        step = state["m"] * (variant.lr / (1 - h["beta1"] ** t))
        step /= denominator
        p = v[name].copy()
        p -= step
        return p


class SquaresForm(StatefulForm):
    """rmsprop and adagrad: w ← w − lr·g / (√s + ε), s the squared gradients kept."""

    formula = "{p} − lr · d{p} / (√s{p}′ + ε)"

    def __init__(self, rule: str, state_formula: str, what: str):
        self.rule, self.state_formulas, self.what = rule, {"s": state_formula}, what

    def state_letter_text(self, k):
        return f" the {self.what} squared gradient"

    def slips(self, model):
        return [Slip(Mistake("epsilon_inside_root", "ε inside the square root: √(s + ε) (as "
                             "Keras) instead of √s + ε"), frozenset({"param"}))]

    def custom(self, model, v, name, mistake):
        if mistake != "epsilon_inside_root":
            return None
        s = self.new_state(model, v, name, self.variant(model, v, None))["s"]
        return v[name] - rate(v) * v[f"d{name}"] / np.sqrt(s + model.hyper["epsilon"])

    def apply(self, variant, v, name, state):
        p = v[name].copy()
        _adaptive_step(p.reshape(-1), v[f"d{name}"].copy().reshape(-1),
                       state["s"].reshape(-1), np.empty(p.size, p.dtype), variant.lr,
                       variant.hyper["epsilon"])
        return p


UPDATE_FORMS: dict[str, UpdateForm] = {f.rule: f for f in (
    GradientForm(), NormalizedForm(), MomentumForm("momentum"), MomentumForm("nesterov"),
    AdamForm(), SquaresForm("rmsprop", "ρ · s{p} + (1 − ρ) · d{p}²", "running mean of the"),
    SquaresForm("adagrad", "s{p} + d{p}²", "summed"))}
