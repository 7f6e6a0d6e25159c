"""The pieces of the step calculator (insight/stepcalc.py, insight/updates.py): a named mistake,
a quantity with its formula, and what a step needs to know about the network and its training.

A step's values (:data:`Values`) hold its inputs and, as the step goes on, its quantities:

- the batch: ``x``, ``y``; with class or sample weights ``w`` (n,), each row's loss weight;
  with dropout ``mask<l>`` (n, units), the one fixed mask of hidden layer l (0 for a dropped
  unit, 1 / (1 − p) for a kept one);
- the settings of the step: ``lr`` (the rate of the step's epoch, from the schedule) and ``t``
  (the step's number: adam's bias correction counts it); these are not cells;
- the parameters the step starts from (``W1``, ``b1``, ...) and the update rule's state before
  it (``vW1``, ``mW1``, ``sW1``, ...);
- the quantities: ``z1``, ``a1``, ``L``, ``penalty``, ``delta1``, ``dW1``, ``db1``, the state
  after the step (``vW1'``, ...) and the parameters after it (``W1'``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..engine.activations import Activation
from ..engine.losses import Loss
from ..engine.network import Network
from ..engine.optim import RULES
from ..engine.penalty import Penalty

Values = dict[str, np.ndarray]  # inputs (x, y, W1, b1, ...) and quantities (z1, a1, L, ...)
SETTINGS = ("lr", "t")  # inputs of a step that are not cells
_PARAMETER = re.compile(r"([Wb]\d+)'?$")  # the parameter a cell key belongs to


@dataclass(frozen=True)
class Mistake:
    name: str  # stable id, e.g. "updated_weight"
    text: str  # what the learner did, in words


@dataclass
class Quantity:
    """One quantity of a step: ``compute(values, mistake)`` evaluates its formula from the
    quantities and inputs in ``values`` (under the named mistake, or correctly for None). A
    mistake that cannot apply to these values gives None."""

    key: str  # "z1", "a1", "L", "delta2", "dW2", "db2", "norm", "vW1'", "W1'", "b1'"
    stage: str  # "forward", "loss", "backward" or "update"
    form: str  # how its cells are indexed: "samples", "weights", "vector" or "scalar"
    formula: str  # e.g. "z1 = x · W1 + b1"
    compute: Callable[[Values, str | None], np.ndarray | None]
    mistakes: tuple[Mistake, ...] = ()
    layer: int = 0  # 1-based; 0 for the loss, the penalty and the gradient norm


@dataclass
class StepModel:
    """What a step needs to know about the network and its training: each layer's activation,
    bias and dropout, which arrays are trained, the loss (weighted or not), the weight penalty,
    the update rule with its settings and base learning rate."""

    activations: list[Activation]
    bias: list[bool]
    trainable: dict[str, bool]  # by parameter name, in parameter order (W1, b1, W2, ...)
    loss: Loss
    update: str
    learning_rate: float  # the base rate (epoch 1); each step's own is its input ``lr``
    dtype: np.dtype
    hyper: dict = None  # the rule's settings by config key (momentum, beta1, ...)
    penalty: Penalty | None = None  # the engine's, built as training builds it
    l2: float = 0.0
    l1: float = 0.0
    layout: dict[str, slice] = None  # where each parameter lies in the flat vector
    dropout: dict[int, float] = None  # layer (1-based) -> p, for the layers that drop units
    weighted: bool = False  # the loss is the weighted mean (class or sample weights)
    scheduled: bool = False  # the rate changes from epoch to epoch (training.schedule)
    shapes: dict[str, tuple] = None  # each parameter's shape, by name

    @classmethod
    def of(cls, net: Network, loss: Loss, training, weighted: bool = False) -> "StepModel":
        """The model of ``net`` trained by ``training`` (a resolved training section)."""
        from ..training.objective import penalty_for

        hyper = {key: getattr(training, key) for key in RULES[training.update].hyper}
        return cls([l.activation for l in net.layers], [l.b is not None for l in net.layers],
                   net.trainable(), loss, training.update, training.learning_rate, net.dtype,
                   hyper, penalty_for(net, training), training.l2, training.l1, net.layout(),
                   {i: l.dropout for i, l in enumerate(net.layers, start=1) if l.dropout > 0},
                   weighted, training.schedule.kind != "constant",
                   {k: p.shape for k, p in net.parameters().items()})

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

    def shape(self, key: str) -> tuple:
        """The shape of a parameter (``W1``) or of a state array of it (``vW1``, ``mhatW1'``)."""
        return self.shapes[_PARAMETER.search(key).group(1)]

    def flat(self, v: Values, suffix: str = "") -> np.ndarray:
        """The parameters in ``v`` (``W1``, ... or with ``suffix`` ``'``) as one flat vector
        laid out like the network's ``theta``."""
        return np.concatenate([v[name + suffix].ravel() for name in self.layout])
