"""Parameter updates: the plain step a learner does on paper.

gradient:   p -= lr * g
normalized: p -= lr * g / ||g||, with ||g|| the global norm over all trainable gradients
            (no step when the norm is zero).
"""

from __future__ import annotations

import math

import numpy as np

UPDATES = ("gradient", "normalized")


class Updater:
    """Applies the update rule to parameter arrays from their gradient arrays.

    Built from dicts by name (any arrays), or with :meth:`for_network` from the network's flat
    parameter vector and the workspace's flat gradient: then a step is two NumPy calls.
    """

    def __init__(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                 trainable: dict[str, bool], rule: str, learning_rate: float):
        self.pairs = [(params[k], grads[k]) for k in params if trainable[k]]
        self.frozen: list[np.ndarray] = []
        self.rule = rule
        self.learning_rate = learning_rate

    @classmethod
    def for_network(cls, net, ws, rule: str, learning_rate: float) -> "Updater":
        updater = cls({}, {}, {}, rule, learning_rate)
        updater.pairs = [(net.theta, ws.grad)]
        grads = net.gradients(ws)
        # A frozen array's gradient is zeroed before each step, so it takes no step.
        updater.frozen = [grads[k] for k, trainable in net.trainable().items() if not trainable]
        return updater

    def step(self) -> None:
        """Apply one update. The gradient buffers are consumed: they hold the step afterwards."""
        for g in self.frozen:
            g[...] = 0
        scale = self.learning_rate
        if self.rule == "normalized":
            norm = math.sqrt(sum(float(np.vdot(g, g)) for _, g in self.pairs))
            if norm == 0.0:
                return
            scale /= norm
        for p, g in self.pairs:
            g *= scale
            p -= g
