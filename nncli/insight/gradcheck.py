"""Gradient check: backprop's gradients against central finite differences in float64.

The analytic gradient is the engine's backward pass, in the network's own dtype. The numeric
one perturbs one entry p of a float64 copy of the network at a time and runs the engine's
forward pass and loss (the same ``Network.forward`` / ``Network.loss`` that training uses;
there is no second forward pass here)::

    numeric = (L(p + eps) - L(p - eps)) / ((p + eps) - (p - eps))

Tolerance: relative, with an absolute floor scaled to the loss. An entry passes when

    |analytic - numeric| <= tol * max(|analytic|, |numeric|, floor),   floor = FLOOR * max(|L|, 1)

so gradients far below the loss's own rounding noise cannot fail on noise alone. The reported
relative error uses the same denominator, so an array passes exactly when its max relative
error is at most ``tol``.

Kinks: relu and leaky_relu at z = 0 and step at z = 0 have no derivative. A unit sitting
exactly on a kink is counted and reported; an entry whose finite difference moves any such
unit across its kink (z > 0 differs from the unperturbed forward pass at p + eps or p - eps)
is skipped and reported, not counted as a failure.

What is checked is the gradient training uses: of the (weighted, with class or sample weights)
loss plus the weight penalty (l1, l2), built by ``training.objective`` as training builds it.
The l1 term has a kink at w = 0: a penalised weight within eps of 0 is skipped like a relu
kink. With dropout, one mask is drawn (from the run's dropout stream) and held fixed for every
evaluation, so the loss is a function of the weights alone; the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import load_config
from ..engine.activations import Activation
from ..engine.losses import Loss
from ..engine.network import Network
from ..engine.penalty import Penalty
from ..files import finite_or_none
from ..training.experiment import prepare
from ..training.objective import penalty_for

DEFAULT_EPS = 1e-6
#: The analytic gradient is computed in the config's dtype; float32 rounding needs more slack.
DEFAULT_TOL = {"float64": 1e-5, "float32": 1e-3}
FLOOR = 1e-3  # the denominator floor, as a fraction of max(|loss|, 1)
DEFAULT_SAMPLES = 16
DEFAULT_MAX_PARAMS = 2000  # entries checked per array; larger arrays are sampled


@dataclass
class ArrayCheck:
    """The check of one parameter array (W1, b1, ...)."""

    name: str
    shape: tuple[int, ...]
    checked: int  # entries compared
    skipped: int  # entries whose finite difference crosses a kink
    max_abs: float  # over the compared entries
    max_rel: float
    worst: tuple[int, ...] | None  # index of the entry with the largest relative error
    trainable: bool  # False: frozen (its gradient is still checked, but training ignores it)
    tol: float

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def status(self) -> str:
        if self.checked == 0:
            return "skipped"
        return "pass" if self.max_rel <= self.tol else "fail"  # NaN fails


@dataclass
class KinkCount:
    """Unit values (sample x unit) of one layer that sit exactly on their activation's kink."""

    layer: int  # 1-indexed
    activation: str
    count: int
    total: int


@dataclass
class GradcheckReport:
    arrays: list[ArrayCheck]
    kinks: list[KinkCount]  # layers with a kinked activation only
    loss: float  # float64 loss at the checked weights
    samples: int
    dtype: str  # the dtype of the analytic gradient
    eps: float
    tol: float
    floor: float  # the absolute denominator floor FLOOR * max(|loss|, 1)
    name: str = ""  # the config's run name, when checked from a config
    penalty: float | None = None  # the weight penalty's part of ``loss`` (with l1/l2)
    l1_kinks: int = 0  # entries skipped because they sit within eps of the l1 kink at 0
    weighted: bool = False  # the loss is weighted (class or sample weights)
    dropout: dict[int, tuple[int, int]] | None = None  # layer: (units dropped, unit values)

    @property
    def failed(self) -> list[str]:
        return [a.name for a in self.arrays if a.status == "fail"]

    @property
    def passed(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "passed": self.passed,
            "failed": self.failed,
            "loss": finite_or_none(self.loss),
            "samples": self.samples,
            "dtype": self.dtype,
            "eps": self.eps,
            "tol": self.tol,
            "floor": finite_or_none(self.floor),
            "penalty": None if self.penalty is None else finite_or_none(self.penalty),
            "l1_kinks": self.l1_kinks,
            "weighted": self.weighted,
            "dropout": None if self.dropout is None else {
                "note": "one fixed dropout mask for every evaluation",
                "layers": [{"layer": k, "dropped": d, "total": t}
                           for k, (d, t) in self.dropout.items()]},
            "arrays": [{
                "name": a.name, "shape": list(a.shape), "size": a.size, "checked": a.checked,
                "skipped": a.skipped, "max_abs_error": finite_or_none(a.max_abs),
                "max_rel_error": finite_or_none(a.max_rel),
                "worst": None if a.worst is None else list(a.worst),
                "trainable": a.trainable, "status": a.status,
            } for a in self.arrays],
            "kinks": [vars(k) for k in self.kinks],
        }


def gradcheck_config(config_path: str | Path, overrides: list[str] = (), *,
                     samples: int = DEFAULT_SAMPLES, eps: float = DEFAULT_EPS,
                     tol: float | None = None,
                     max_params: int | None = DEFAULT_MAX_PARAMS) -> GradcheckReport:
    """Check the initial network of a config on its first ``samples`` training rows.

    ``tol`` defaults to DEFAULT_TOL of the config's dtype; ``max_params`` None or 0 checks
    every entry. Bad input raises InputError, as for training.
    """
    config_path = Path(config_path)
    experiment = prepare(load_config(config_path, overrides), config_path)
    n = min(samples, len(experiment.X_train))
    config = experiment.config
    net = experiment.network
    weights = experiment.w_train
    report = check_gradients(
        net, experiment.loss, experiment.X_train[:n], experiment.Y_train[:n],
        eps=eps, tol=DEFAULT_TOL[config.dtype] if tol is None else tol,
        max_params=max_params, rng=np.random.default_rng(config.seed),
        weights=None if weights is None else weights[:n],
        penalty=lambda network: penalty_for(network, config.training),
        dropout_rng=experiment.dropout_rng if net.has_dropout else None)
    report.name = config.name
    return report


def check_gradients(net: Network, loss: Loss, X: np.ndarray, Y: np.ndarray, *,
                    eps: float = DEFAULT_EPS, tol: float = DEFAULT_TOL["float64"],
                    max_params: int | None = None,
                    rng: np.random.Generator | None = None,
                    weights: np.ndarray | None = None,
                    penalty: Callable[[Network], Penalty | None] | None = None,
                    dropout_rng: np.random.Generator | None = None) -> GradcheckReport:
    """Compare the backprop gradient of every parameter array of ``net`` on (X, Y) with
    central finite differences in float64. ``weights`` weigh the rows' losses; ``penalty``
    builds the weight penalty of a network (called for ``net`` and its float64 copy);
    ``dropout_rng`` draws the one dropout mask held for every evaluation (a network with
    dropout needs it). ``net`` is not modified."""
    n = len(X)
    if net.has_dropout and dropout_rng is None:
        raise ValueError("check_gradients: a network with dropout needs dropout_rng")
    ws = net.workspace(n, dropout=net.has_dropout)
    if net.has_dropout:
        ws.draw_masks(dropout_rng, n)
    net.forward(X, ws)
    net.backward(X, Y, loss, ws, weights=weights, penalty=penalty and penalty(net))
    analytic = {k: g.astype(np.float64) for k, g in net.gradients(ws).items()}  # copies

    probe = _Probe(net.astype(np.float64), loss, X.astype(np.float64), Y.astype(np.float64),
                   None if weights is None else weights.astype(np.float64), penalty, ws.masks)
    base_loss, base_sides = probe.evaluate()
    floor = FLOOR * max(abs(base_loss), 1.0)
    rng = rng or np.random.default_rng(0)
    trainable = net.trainable()
    on_l1_kink = probe.net.named(probe.on_l1_kink(eps))

    arrays, l1_kinks = [], 0
    for name, p in probe.net.parameters().items():
        entries = _entries(p.shape, max_params, rng)
        numeric = np.empty(len(entries))
        crossed = np.zeros(len(entries), dtype=bool)
        for j, i in enumerate(entries):
            if on_l1_kink[name][i]:  # |l1 · w| has no derivative at 0
                numeric[j], crossed[j] = np.nan, True
                l1_kinks += 1
                continue
            old = p[i]
            p[i] = up = old + eps
            loss_up, sides_up = probe.evaluate()
            p[i] = down = old - eps
            loss_down, sides_down = probe.evaluate()
            p[i] = old
            numeric[j] = (loss_up - loss_down) / (up - down)
            crossed[j] = not (_same(sides_up, base_sides) and _same(sides_down, base_sides))
        a = np.array([analytic[name][i] for i in entries])
        arrays.append(_compare(name, p.shape, entries, a, numeric, crossed, floor, tol,
                               trainable[name]))
    dropout = None
    if net.has_dropout:
        dropout = {i + 1: (int(np.count_nonzero(m[:n] == 0)), m[:n].size)
                   for i, m in ws.masks.items()}
    return GradcheckReport(arrays=arrays, kinks=probe.kink_counts(), loss=base_loss,
                           samples=n, dtype=str(net.dtype), eps=eps, tol=tol, floor=floor,
                           penalty=probe.penalty_value(), l1_kinks=l1_kinks,
                           weighted=weights is not None, dropout=dropout)


class _Probe:
    """The float64 network evaluated through the engine (the objective: weighted loss plus
    penalty, through the fixed dropout masks), with the kink side of its units."""

    def __init__(self, net: Network, loss: Loss, X: np.ndarray, Y: np.ndarray,
                 weights: np.ndarray | None, penalty, masks: dict[int, np.ndarray]):
        self.net, self.loss, self.X, self.Y, self.weights = net, loss, X, Y, weights
        self.penalty = penalty and penalty(net)
        # keep z: the kink test needs it; the masks are the analytic pass's, held fixed
        self.ws = net.workspace(len(X), keep_z=True, dropout=bool(masks))
        for i, mask in masks.items():
            self.ws.masks[i][...] = mask[:len(X)]
        self.kinked = [i for i, layer in enumerate(net.layers) if has_kink(layer.activation)]

    def penalty_value(self) -> float | None:
        return None if self.penalty is None else self.penalty.value(self.net.theta)

    def on_l1_kink(self, eps: float) -> np.ndarray:
        if self.penalty is None:
            return np.zeros(self.net.theta.shape, dtype=bool)
        return self.penalty.on_kink(self.net.theta, eps)

    def evaluate(self) -> tuple[float, list[np.ndarray]]:
        """The objective, and for each kinked layer which unit values lie past the kink."""
        with np.errstate(over="ignore", invalid="ignore"):
            self.net.forward(self.X, self.ws)
        value = self.net.loss(self.loss, self.Y, self.ws, self.weights)
        if self.penalty is not None:
            value += self.penalty.value(self.net.theta)
        return value, [self.ws.z[i] > 0 for i in self.kinked]

    def kink_counts(self) -> list[KinkCount]:
        """Unit values on a kink at the unperturbed weights (call right after evaluate())."""
        self.evaluate()
        return [KinkCount(i + 1, self.net.layers[i].activation.name,
                          int(self.net.layers[i].activation.kink(self.ws.z[i]).sum()),
                          self.ws.z[i].size)
                for i in self.kinked]


def has_kink(activation: Activation) -> bool:
    """Whether the activation has points without a derivative (it overrides ``kink``)."""
    return type(activation).kink is not Activation.kink


def _same(sides: list[np.ndarray], base: list[np.ndarray]) -> bool:
    return all(np.array_equal(s, b) for s, b in zip(sides, base))


def _entries(shape: tuple[int, ...], max_params: int | None,
             rng: np.random.Generator) -> list[tuple[int, ...]]:
    """All indices of an array, or a sorted random sample of ``max_params`` of them."""
    size = math.prod(shape)
    if not max_params or size <= max_params:
        return list(np.ndindex(shape))
    flat = np.sort(rng.choice(size, size=max_params, replace=False))
    return [tuple(int(k) for k in np.unravel_index(f, shape)) for f in flat]


def _compare(name, shape, entries, analytic, numeric, crossed, floor, tol, trainable) -> ArrayCheck:
    keep = ~crossed
    a, num = analytic[keep], numeric[keep]
    err = np.abs(a - num)
    rel = err / np.maximum(np.maximum(np.abs(a), np.abs(num)), floor)
    worst = None
    max_abs = max_rel = 0.0
    if rel.size:
        # NaN (a non-finite loss or gradient) must surface as the worst entry, not vanish.
        k = int(np.argmax(np.where(np.isnan(rel), np.inf, rel)))
        worst = [e for e, c in zip(entries, crossed) if not c][k]
        max_abs, max_rel = float(np.max(err)), float(rel[k])
    return ArrayCheck(name=name, shape=tuple(shape), checked=int(keep.sum()),
                      skipped=int(crossed.sum()), max_abs=max_abs, max_rel=max_rel,
                      worst=worst, trainable=trainable, tol=tol)

