"""`nncli explain`: the derivation of one weight's (or bias's) gradient and its update.

First symbolically by the chain rule, then with the numbers of the step plugged in, in one of
three textbooks' notations:

- ``mazur``: ∂E/∂w = ∂E/∂out · ∂out/∂net · ∂net/∂w, units named i1, h1, o1 (Matt Mazur,
  "A Step by Step Backpropagation Example");
- ``hagan``: sensitivities s^m = ∂F/∂n^m; Hagan's W^m is (units, inputs), so nncli's
  ``W1[i,j]`` is w^1(j,i) (Hagan, Demuth, Beale, De Jesús: Neural Network Design, ch. 11);
- ``mitchell``: δ = −∂E/∂net (the negative of nncli's δ = dL/dz), Δw_ji = η δ_j x_ji added
  to w_ji, w_ji the weight from unit i into unit j (Mitchell: Machine Learning, ch. 4).

Every number comes from the exercise's steps (the step calculator, equal to `nncli trace`);
dL/da and f′(z) are the engine's own (``Loss.grad``; ``Activation.backprop`` applied to ones).
:attr:`Explanation.factors` lists the cells used, by name, so a test can hold them against
trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..engine.losses import LOSSES
from ..errors import InputError
from .cells import Exercise, normalise
from .updates import UPDATE_FORMS

NOTATIONS = ("mazur", "hagan", "mitchell")
MAX_SAMPLES = 4  # samples of a batch worked out in full; the rest are summed
MAX_UNITS = 8  # entries of a vector shown


@dataclass
class Explanation:
    param: str  # "W1[1,2]"
    step: int
    notation: str
    lines: list[str]
    factors: dict[str, float] = field(default_factory=dict)  # cell label -> value used
    gradient: float = 0.0
    before: float = 0.0
    after: float = 0.0

    def to_dict(self) -> dict:
        return {"param": self.param, "step": self.step, "notation": self.notation,
                "gradient": self.gradient, "before": self.before, "after": self.after,
                "factors": self.factors, "text": "\n".join(self.lines)}


_PARAM = re.compile(r"^([Wb])(\d+)'?\[(\d+)(?:,(\d+))?\]$")


def parse_param(ex: Exercise, written: str) -> tuple[str, tuple]:
    """(array name, 0-based index) of ``W1[1,2]`` or ``b2[1]``."""
    m = _PARAM.match(normalise(written))
    if not m:
        raise InputError(f"PARAM: expected a weight W<layer>[i,j] or a bias b<layer>[j] "
                         f"(got {written!r})")
    name = f"{m.group(1)}{m.group(2)}"
    if name not in ex.initial:
        raise InputError(f"PARAM: {written}: the network has no {name} (it has "
                         f"{', '.join(ex.initial)})")
    shape = ex.initial[name].shape
    index = tuple(int(g) - 1 for g in m.groups()[2:] if g is not None)
    if len(index) != len(shape) or not all(0 <= k < n for k, n in zip(index, shape)):
        form = (f"{name}[i,j] with i ≤ {shape[0]} and j ≤ {shape[1]}" if len(shape) == 2
                else f"{name}[j] with j ≤ {shape[0]}")
        raise InputError(f"PARAM: {written}: {name} is {'x'.join(map(str, shape))}; write "
                         f"{form}")
    return name, index


def explain(ex: Exercise, written: str, step: int = 1, notation: str = "mazur",
            digits: int = 6) -> Explanation:
    """The derivation of ``written`` (``W1[1,2]``, ``b2[1]``) at ``step`` of the exercise."""
    if not 1 <= step <= len(ex.steps):
        raise InputError(f"--step: expected 1 to {len(ex.steps)} (got {step})")
    name, index = parse_param(ex, written)
    return _Derivation(ex, step, NOTATION_CLASSES[notation](ex.model.depth), digits
                       ).run(name, index)


# --- notations --------------------------------------------------------------------------------

class Notation:
    """How a textbook writes the pieces; units i1.. (inputs), h.. (hidden), o.. (outputs)."""

    name = ""
    sign = 1  # Mitchell's δ is −dL/dz
    rate = "η"

    def __init__(self, depth: int):
        self.depth = depth

    def unit(self, layer: int, k) -> str:
        if layer == 0:
            return f"i{k}"
        if layer == self.depth:
            return f"o{k}"
        return f"h{k}" if self.depth == 2 else f"h{layer}.{k}"

    def delta(self, layer: int, k) -> str:
        raise NotImplementedError

    def weight(self, layer: int, i, j) -> str:
        raise NotImplementedError

    def bias(self, layer: int, j) -> str:
        raise NotImplementedError

    def gradient(self, param: str) -> str:
        return f"∂E/∂{param}"


class Mazur(Notation):
    name = "mazur"
    intro = ("Notation (Mazur): net and out of each unit (inputs i, hidden h, outputs o); "
             "E is nncli's loss L ({loss}); η the learning rate.")

    def delta(self, layer, k):
        return f"∂E/∂net_{self.unit(layer, k)}"

    def weight(self, layer, i, j):
        return f"w({self.unit(layer - 1, i)}→{self.unit(layer, j)})"

    def bias(self, layer, j):
        return f"b({self.unit(layer, j)})"

    def chain(self, layer, j, param, source, act, upstream):
        u = self.unit(layer, j)
        return [f"{self.gradient(param)} = ∂E/∂out_{u} · ∂out_{u}/∂net_{u} · ∂net_{u}/∂{param}"
                f" = {self.delta(layer, j)} · ∂net_{u}/∂{param}",
                f"∂net_{u}/∂{param} = {source}",
                f"{self.delta(layer, j)} = ∂E/∂out_{u} · {act}′(net_{u})",
                f"∂E/∂out_{u} = {upstream}"]


class Hagan(Notation):
    name = "hagan"
    rate = "α"
    intro = ("Notation (Hagan): n^m = W^m a^(m−1) + b^m, a^m = f^m(n^m), a^0 = p; W^m is (units, "
             "inputs), so nncli's W<m>[i,j] is w^m(j,i); sensitivities s^m = ∂F/∂n^m with F "
             "nncli's loss L ({loss}); α the learning rate.")

    def delta(self, layer, k):
        return f"s^{layer}({k})"

    def weight(self, layer, i, j):
        return f"w^{layer}({j},{i})"

    def bias(self, layer, j):
        return f"b^{layer}({j})"

    def gradient(self, param):
        return f"∂F/∂{param}"

    def chain(self, layer, j, param, source, act, upstream):
        return [f"{self.gradient(param)} = {self.delta(layer, j)} · {source}",
                f"{self.delta(layer, j)} = {act}′(n^{layer}({j})) · {upstream}"]


class Mitchell(Notation):
    name = "mitchell"
    sign = -1
    intro = ("Notation (Mitchell): net_j = Σ_i w_ji x_ji, o_j = f(net_j), δ_j = −∂E/∂net_j (the "
             "negative of nncli's δ = dL/dz) with E nncli's loss L ({loss}); w_ji is the weight "
             "from unit i into unit j (nncli's W<l>[i,j]); the update adds "
             "Δw_ji = η δ_j x_ji.")

    def delta(self, layer, k):
        return f"δ_{self.unit(layer, k)}"

    def weight(self, layer, i, j):
        return f"w_{self.unit(layer, j)},{self.unit(layer - 1, i)}"

    def bias(self, layer, j):
        return f"w_{self.unit(layer, j)},0"

    def chain(self, layer, j, param, source, act, upstream):
        u = self.unit(layer, j)
        return [f"Δ{param} = η · {self.delta(layer, j)} · {source}, and {param} ← {param} + "
                f"Δ{param}  (as −η ∂E/∂{param}: {self.gradient(param)} = −δ_{u} · {source})",
                f"{self.delta(layer, j)} = {act}′(net_{u}) · {upstream}"]


NOTATION_CLASSES = {c.name: c for c in (Mazur, Hagan, Mitchell)}


# --- the derivation ---------------------------------------------------------------------------

class _Derivation:
    def __init__(self, ex: Exercise, step: int, nt: Notation, digits: int):
        self.ex, self.step, self.nt, self.digits = ex, step, nt, digits
        self.model = ex.model
        self.v = ex.steps[step - 1].values
        self.n = len(self.v["x"])
        self.factors: dict[str, float] = {}
        self.labels = {(c.key, c.index): c.label for c in ex.cells(step)}
        if step > 1:  # the weights a step starts from are W′ of the step before
            self.labels.update({(c.key[:-1], c.index): c.label for c in ex.cells(step - 1)
                                if c.key.endswith("'")})

    def num(self, value: float) -> str:
        text = f"{float(value):.{self.digits}g}"
        return "0" if text == "-0" else text

    def use(self, key: str, index: tuple) -> float:
        """A cell's number, recorded as a factor of the explanation."""
        value = float(self.v[key][index])
        self.factors[self.labels[key, index]] = value
        return value

    def run(self, name: str, index: tuple) -> Explanation:
        layer, bias = int(name[1:]), name[0] == "b"
        i, j = (None, index[0]) if bias else index
        nt, model = self.nt, self.model
        before, grad = self.use(name, index), self.use(f"d{name}", index)
        after = self.use(f"{name}'", index)
        written = (f"{name}[{j + 1}]" if bias else f"{name}[{i + 1},{j + 1}]")
        param = nt.bias(layer, j + 1) if bias else nt.weight(layer, i + 1, j + 1)
        shape = "x".join(map(str, self.ex.initial[name].shape))
        what = (f"the bias of unit {j + 1} of layer {layer}" if bias else
                f"the weight from {'input' if layer == 1 else f'unit'} {i + 1}"
                f"{'' if layer == 1 else f' of layer {layer - 1}'} to unit {j + 1} of layer "
                f"{layer}; nncli's W{layer} is (inputs, units) = {shape}")
        at = "" if self.step == 1 else f" (the weights after step {self.step - 1})"
        lines = [f"{written} at step {self.step}{at}: {what}. {nt.name.capitalize()} writes "
                 f"it {param}.",
                 nt.intro.format(loss=model.loss.name), "", "The chain rule:"]
        lines += ["  " + line for line in self.symbolic(layer, i, j, bias, param)]
        mean = ("weighted mean, so the δ of sample i carries wᵢ / Σ w" if model.weighted
                else "mean, so each δ carries the 1/n")
        lines += ["", "With the numbers" + (f" (the {self.n} samples of the batch; the loss is "
                                             f"their {mean})" if self.n > 1 else "") + ":"]
        lines += ["  " + line for line in self.numeric(layer, i, j, bias, param, grad)]
        lines += ["  " + line for line in self.update(name, index, param, before, grad, after)]
        return Explanation(written, self.step, nt.name, lines, self.factors, grad, before, after)

    # symbolic ---------------------------------------------------------------------------------

    def _source(self, layer: int, i, j: int, bias: bool) -> str:
        """The input the weight multiplies, in the notation."""
        nt = self.nt
        if bias:
            return "1"
        if nt.name == "hagan":
            return f"a^{layer - 1}({i + 1})" + (" (a^0 = p, the input)" if layer == 1 else
                                                self._dropped(layer - 1, i))
        if nt.name == "mitchell":
            return (f"x_{nt.unit(layer, j + 1)},{nt.unit(layer - 1, i + 1)}"
                    + self._dropped(layer - 1, i))
        source = (f"out_{nt.unit(layer - 1, i + 1)}" if layer > 1
                  else f"{nt.unit(0, i + 1)}, the input")
        return source + self._dropped(layer - 1, i)

    def _per_row(self) -> str:
        """How the fused output δ of a row is scaled: 1/n, or wᵢ / Σ w with row weights."""
        return " · wᵢ / Σ w" if self.model.weighted else " / n"

    def _dropped(self, layer: int, i: int) -> str:
        """" · m" where the output of unit i of ``layer`` goes through a dropout mask."""
        return f" · m_{self.nt.unit(layer, i + 1)} (its dropout mask)" \
            if layer in self.model.dropout else ""

    def _upstream(self, layer: int, j: int) -> str:
        """What comes into a unit's delta from above (or from the loss), in the notation."""
        nt, model = self.nt, self.model
        if layer < model.depth:
            k = nt.delta(layer + 1, "k")
            w = {"mazur": f"w({nt.unit(layer, j)}→{nt.unit(layer + 1, 'k')})",
                 "hagan": f"w^{layer + 1}(k,{j})",
                 "mitchell": f"w_{nt.unit(layer + 1, 'k')},{nt.unit(layer, j)}"}[nt.name]
            mask = (f", times this unit's dropout mask m_{nt.unit(layer, j)} (0, or 1 / (1 − p))"
                    if layer in model.dropout else "")
            return (f"Σ_k {k} · {w}, over the units k of layer {layer + 1}, with the weights "
                    f"W{layer + 1} as they were before this step's update{mask}")
        grad = f"{LOSSES[model.loss.name].gradient_text} (dL/da of {model.loss.name})"
        if model.weighted:
            grad += ", row i times n · wᵢ / Σ w (the weighted mean)"
        return {"mazur": grad, "hagan": f"∂F/∂a = {grad}; Hagan's F = eᵀe gives −2 (t − a)",
                "mitchell": f"(−∂E/∂o), with ∂E/∂o = {grad}"}[nt.name]

    def symbolic(self, layer, i, j, bias, param) -> list[str]:
        nt, model = self.nt, self.model
        act = model.activations[layer - 1].name
        source = self._source(layer, i, j, bias)
        if layer == model.depth and model.fused:
            d = nt.delta(layer, j + 1)
            y, a = ("t", "o") if nt.name != "hagan" else ("t", "a")
            diff = f"({y} − {a})" if nt.sign < 0 else f"({a} − {y})"
            lines = nt.chain(layer, j + 1, param, source, act, "")[:1]
            why = (f"its {act}′ cancels against the loss's derivative"
                   if model.activations[-1].differentiable
                   else f"the perceptron rule: {act} has no derivative")
            lines.append(f"{d} = {diff}{self._per_row()}: {model.loss.name} with a {act} "
                         f"output ({why})")
        else:
            lines = nt.chain(layer, j + 1, param, source, act, self._upstream(layer, j + 1))
        for l in range(layer + 1, model.depth + 1):  # how the deltas above arise
            above = model.activations[l - 1].name
            if l == model.depth and model.fused:
                how = f"(a{l} − y){self._per_row()}, fused with the loss"
            elif l == model.depth:
                how = f"dL/da{l} ⊙ {above}′(z{l})"
            else:
                how = f"(δ{l + 1} · W{l + 1}ᵀ) ⊙ {above}′(z{l})"
            sign = "−" if nt.sign < 0 else ""
            lines.append(f"{nt.delta(l, 'k')} = {sign}δ{l}[k] of nncli, δ{l} = {how}")
        if self._rule():
            lines += self.rule_symbolic(param)
            return lines
        rule = f"{param} − {nt.rate} · {nt.gradient(param)}"
        if model.update == "normalized":
            rule += " / ‖g‖ (update normalized: ‖g‖ the norm of the whole gradient)"
        if nt.name != "mitchell":
            lines.append(f"{param}′ = {rule}")
        return lines

    def _rule(self) -> tuple[str, list[tuple[str, str, str]]] | None:
        """A rule with state: its name with its form, and its worked lines (None for the
        plain rules)."""
        model = self.model
        form = model.hyper.get("momentum_form")
        lines = WORKED.get((model.update, form))
        return lines and (f"{model.update}" + (f" in the {form} form" if form else ""), lines)

    def rule_symbolic(self, param: str) -> list[str]:
        """The update rule in the named form, symbolically (g: this parameter's gradient)."""
        nt = self.nt
        name, lines = self._rule()
        state = ", ".join(dict.fromkeys(f"{k}" for _, _, k in lines if k != "p"))
        return [f"{param}′ by {name}, with g = {nt.gradient(param)}"
                + (" (Mitchell's Δw is −η · g)" if nt.name == "mitchell" else "")
                + f" and this parameter's state {state} (0 before the first step, then as the "
                f"step before left it):"] + [
            "  " + symbolic.format(p=param, r=nt.rate) for symbolic, _, _ in lines]

    # numeric ----------------------------------------------------------------------------------

    def numeric(self, layer, i, j, bias, param, grad) -> list[str]:
        nt, num, model = self.nt, self.num, self.model
        shown = range(min(self.n, MAX_SAMPLES))
        lines = []
        for l in range(model.depth, layer, -1):  # the deltas above, as vectors, top first
            units = self.v[f"delta{l}"].shape[1]
            for s in shown:
                values = [nt.sign * self.use(f"delta{l}", (s, k)) for k in range(units)]
                lines.append(f"{nt.delta(l, 'k')}, k = 1..{units}{self._sample(s)}: "
                             f"{self._vector(values)}")
        if layer < model.depth:
            W = f"W{layer + 1}"
            weights = [self.use(W, (j, k)) for k in range(self.v[W].shape[1])]
            name = self.labels[W, (j, 0)].split("[")[0]
            lines.append(f"{name}[{j + 1},k], k = 1..{len(weights)}, the weights before this "
                         f"step's update: {self._vector(weights)}")
        terms = []
        for s in range(self.n):
            delta = float(self.v[f"delta{layer}"][s, j])
            if s in shown:
                self.use(f"delta{layer}", (s, j))
                lines.append(self._unit_delta(layer, s, j, delta))
            inp = 1.0 if bias else self._input(layer, s, i, s in shown)
            terms.append((inp, nt.sign * delta))
        if self.n > len(shown):
            lines.append(f"… and so on for samples {len(shown) + 1} to {self.n}")
        products = " + ".join(f"{num(d)}" if bias else f"{num(d)} · {num(inp)}"
                              for inp, d in terms[:MAX_SAMPLES])
        if self.n > MAX_SAMPLES:
            products += f" + … ({self.n} terms)"
        penalty = self._penalty(layer, i, j, bias)
        if penalty:
            products += penalty
        total = nt.sign * grad
        if nt.name == "mitchell":
            less = ", less the penalty's l2 · w + l1 · sign(w)" if penalty else ""
            lines.append(f"Σ over the samples of {nt.delta(layer, j + 1)} · "
                         f"{self._source(layer, i, j, bias)}{less} = {products} = {num(total)}")
        elif self.n > 1 or not bias or penalty:
            lines.append(f"{nt.gradient(param)} = {products} = {num(grad)}")
        else:
            lines.append(f"{nt.gradient(param)} = {num(grad)}")
        return lines

    def _input(self, layer: int, s: int, i: int, shown: bool) -> float:
        """What weight W<layer>[i, ·] multiplies for sample s: x, a of the layer below, or
        a ⊙ mask where that layer drops units (its cells recorded when shown)."""
        key = "x" if layer == 1 else f"a{layer - 1}"
        value = self.use(key, (s, i)) if shown else float(self.v[key][s, i])
        if layer - 1 in self.model.dropout:
            mask = f"mask{layer - 1}"
            value *= self.use(mask, (s, i)) if shown else float(self.v[mask][s, i])
        return value

    def _penalty(self, layer: int, i, j: int, bias: bool) -> str:
        """The penalty's terms of a weight's gradient, l2 · w + l1 · sign(w), with their numbers
        ("" for a bias or without l1 and l2)."""
        model = self.model
        if bias or model.penalty is None:
            return ""
        w = float(self.v[f"W{layer}"][i, j])
        plus = " − " if self.nt.sign < 0 else " + "  # Mitchell sums −∂E/∂w
        out = f"{plus}{self.num(model.l2)} · {self.num(w)}" if model.l2 else ""
        return out + (f"{plus}{self.num(model.l1)} · sign({self.num(w)})" if model.l1 else "")

    def _vector(self, values: list[float]) -> str:
        shown = ", ".join(self.num(x) for x in values[:MAX_UNITS])
        return f"[{shown}{', …' if len(values) > MAX_UNITS else ''}]"

    def _sample(self, s: int) -> str:
        return f", sample {s + 1}" if self.n > 1 else ""

    def _unit_delta(self, layer: int, s: int, j: int, delta: float) -> str:
        """One unit's delta for one sample: its factors and their product."""
        nt, num, model, v = self.nt, self.num, self.model, self.v
        sym = nt.delta(layer, j + 1) + (f" (sample {s + 1})" if self.n > 1 else "")
        act = model.activations[layer - 1]
        a, z = v[f"a{layer}"], v[f"z{layer}"]
        if layer == model.depth and model.fused:
            out, y = self.use(f"a{layer}", (s, j)), self.use("y", (s, j))
            pair = (y, out) if nt.sign < 0 else (out, y)
            share = (f" · {num(self.use('w', (s,)))} / {num(float(v['w'].sum()))}"
                     if model.weighted else f" / {len(a)}")
            return f"{sym} = ({num(pair[0])} − {num(pair[1])}){share} = {num(nt.sign * delta)}"
        if act.name == "softmax":
            return (f"{sym} = {num(nt.sign * delta)}  (dL/da through the softmax Jacobian, "
                    f"a_j (g_j − Σ_k g_k a_k))")
        slope = float(act.backprop(a.copy(), np.ones_like(a))[s, j])  # f′(z), the engine's
        zv = self.use(f"z{layer}", (s, j))
        mask = ""
        if layer == model.depth:
            upstream = float(model.loss.grad(a, v["y"], np.empty_like(a))[s, j])
            if model.weighted:  # the weighted mean: row s carries n · w_s / Σ w
                upstream *= float(v["w"][s]) * len(a) / float(v["w"].sum())
            how = f"dL/da = {num(upstream)}"
        else:
            W, above = v[f"W{layer + 1}"], v[f"delta{layer + 1}"]
            parts = [f"{num(nt.sign * above[s, k])} · {num(W[j, k])}"
                     for k in range(min(W.shape[1], MAX_UNITS))]
            upstream = float(np.matmul(above[s], W[j]))
            more = " + …" if W.shape[1] > MAX_UNITS else ""
            how = f"{' + '.join(parts)}{more} = {num(nt.sign * upstream)}"
            if layer in model.dropout:
                m = self.use(f"mask{layer}", (s, j))
                how += f") · (m = {num(m)}"
                mask = f" · {num(m)}"
        return (f"{sym} = {act.name}′({num(zv)}) · ({how}) = {num(slope)} · "
                f"{num(nt.sign * upstream)}{mask} = {num(nt.sign * delta)}")

    def update(self, name, index, param, before, grad, after) -> list[str]:
        nt, num, model = self.nt, self.num, self.model
        label = self.labels[f"{name}'", index]
        if not model.trainable[name]:
            return [f"{param} is frozen: {label} = {num(before)}."]
        if self._rule():
            return self.rule_numeric(name, index, param, before, grad, after)
        step = f"{num(float(self.v['lr']))} · {num(grad)}"
        if model.update == "normalized":
            norm = self.use("norm", ())
            step += f" / {num(norm)}"
        if nt.name == "mitchell":
            how = "−η · ∂E/∂w" + (" / ‖g‖" if model.update == "normalized" else "")
            return [f"Δ{param} = {how} = −{step} = {num(after - before)};  {param} ← {num(before)} + "
                    f"({num(after - before)}) = {num(after)}  ({label})"]
        return [f"{param}′ = {num(before)} − {step} = {num(after)}  ({label}; the weight "
                f"changes only after every δ of the step is computed)"]

    def rule_numeric(self, name, index, param, before, grad, after) -> list[str]:
        """The rule's lines with the step's numbers: the state before (a cell of the step
        before, or the zero given at step 1), the new state, the parameter after."""
        num, model, h = self.num, self.model, self.model.hyper
        _, lines = self._rule()
        numbers = {"w": before, "g": grad, "lr": float(self.v["lr"]), "t": int(self.v["t"]),
                   "mu": h.get("momentum"), "b1": h.get("beta1"), "b2": h.get("beta2"),
                   "rho": h.get("rho"), "eps": h.get("epsilon"), "p1": after}
        for k in UPDATE_FORMS[model.update].arrays:
            numbers[k] = self.use(f"{k}{name}", index)
        out = [f"lr = {num(numbers['lr'])} (the rate of epoch {self._epoch()})"
               + (f", t = {numbers['t']}" if model.update == "adam" else "") + ":"]
        for symbolic, numeric, result in lines:
            key = f"{name}'" if result == "p" else f"{result}{name}'"
            value = after if result == "p" else self.use(key, index)
            numbers[f"{result}1"] = value
            text = {k: (f"({num(v)})" if isinstance(v, float) and v < 0 else
                        num(v) if isinstance(v, float) else str(v)) for k, v in numbers.items()}
            left = symbolic.format(p=param, r=self.nt.rate).split(" = ")[0]
            out.append(f"{left} = {numeric.format(**text)} = {num(value)}  "
                       f"({self.labels[key, index]})")
        return out

    def _epoch(self) -> int:
        return self.ex.batches[self.step - 1].epoch


# The update rules with state, by (update, momentum_form): each line is (the formula, with the
# parameter {p} and the notation's rate {r}; the formula with the numbers; what it gives: a
# state array's letter, or p for the parameter after the step), as the rule's docstring in
# engine/optim.py writes it.
WORKED: dict[tuple[str, str | None], list[tuple[str, str, str]]] = {
    ("momentum", "classic"): [("v′ = μ · v − {r} · g", "{mu} · {v} − {lr} · {g}", "v"),
                              ("{p}′ = {p} + v′", "{w} + {v1}", "p")],
    ("momentum", "pytorch"): [("v′ = μ · v + g", "{mu} · {v} + {g}", "v"),
                              ("{p}′ = {p} − {r} · v′", "{w} − {lr} · {v1}", "p")],
    ("momentum", "hagan"): [("v′ = μ · v − (1 − μ) · {r} · g  (Hagan's ΔW)",
                             "{mu} · {v} − (1 − {mu}) · {lr} · {g}", "v"),
                            ("{p}′ = {p} + v′", "{w} + {v1}", "p")],
    ("nesterov", "classic"): [("v′ = μ · v − {r} · g", "{mu} · {v} − {lr} · {g}", "v"),
                              ("{p}′ = {p} + μ · v′ − {r} · g", "{w} + {mu} · {v1} − {lr} · {g}",
                               "p")],
    ("nesterov", "pytorch"): [("v′ = μ · v + g", "{mu} · {v} + {g}", "v"),
                              ("{p}′ = {p} − {r} · (g + μ · v′)",
                               "{w} − {lr} · ({g} + {mu} · {v1})", "p")],
    ("adam", None): [("m′ = β1 · m + (1 − β1) · g", "{b1} · {m} + (1 − {b1}) · {g}", "m"),
                     ("v′ = β2 · v + (1 − β2) · g²", "{b2} · {v} + (1 − {b2}) · {g}²", "v"),
                     ("m̂ = m′ / (1 − β1ᵗ)", "{m1} / (1 − {b1}^{t})", "mhat"),
                     ("v̂ = v′ / (1 − β2ᵗ)", "{v1} / (1 − {b2}^{t})", "vhat"),
                     ("{p}′ = {p} − {r} · m̂ / (√v̂ + ε)",
                      "{w} − {lr} · {mhat1} / (√{vhat1} + {eps})", "p")],
    ("rmsprop", None): [("s′ = ρ · s + (1 − ρ) · g²", "{rho} · {s} + (1 − {rho}) · {g}²", "s"),
                        ("{p}′ = {p} − {r} · g / (√s′ + ε)", "{w} − {lr} · {g} / (√{s1} + {eps})",
                         "p")],
    ("adagrad", None): [("s′ = s + g²", "{s} + {g}²", "s"),
                        ("{p}′ = {p} − {r} · g / (√s′ + ε)", "{w} − {lr} · {g} / (√{s1} + {eps})",
                         "p")],
}
