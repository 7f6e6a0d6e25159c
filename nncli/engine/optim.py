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
    def __init__(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                 trainable: dict[str, bool], rule: str, learning_rate: float):
        self.pairs = [(params[k], grads[k]) for k in params if trainable[k]]
        self.rule = rule
        self.learning_rate = learning_rate

    def step(self) -> None:
        """Apply one update. The gradient buffers are consumed: they hold the step afterwards."""
        scale = self.learning_rate
        if self.rule == "normalized":
            norm = math.sqrt(sum(float(np.vdot(g, g)) for _, g in self.pairs))
            if norm == 0.0:
                return
            scale /= norm
        for p, g in self.pairs:
            g *= scale
            p -= g
