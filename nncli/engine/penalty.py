"""Weight penalties (regularisation), coupled: their gradient joins the loss gradient before
the update rule sees it, as torch's ``weight_decay`` does (here for weights only).

    penalty = (l2 / 2) * sum(W^2) + l1 * sum(|W|)     over every weight matrix, never biases
    gradient += l2 * W + l1 * sign(W)                  (sign(0) = 0: the l1 kink)

The objective training minimises is the data loss plus the penalty. The weight entries are
marked once by a mask over the flat parameter vector, so the gradient and the value are a few
NumPy calls into a preallocated buffer whatever the number of layers.
"""

from __future__ import annotations

import numpy as np


class Penalty:
    def __init__(self, net, l2: float = 0.0, l1: float = 0.0):
        self.l2, self.l1 = l2, l1
        weights = np.zeros(net.theta.shape, net.dtype)  # 1 on weight entries, 0 on biases
        for name, where in net.layout().items():
            if name.startswith("W"):
                weights[where] = 1
        self.l2_mask = weights * net.dtype.type(l2) if l2 else None
        self.l1_mask = weights * net.dtype.type(l1) if l1 else None
        self.scratch = np.empty_like(net.theta)

    def add_gradient(self, theta: np.ndarray, grad: np.ndarray | None) -> float:
        """Add the penalty's gradient at ``theta`` to ``grad`` (None: only the value);
        returns the penalty's value."""
        value, s = 0.0, self.scratch
        if self.l2_mask is not None:
            np.multiply(theta, self.l2_mask, out=s)  # l2 * W
            value += 0.5 * float(np.vdot(s, theta))
            if grad is not None:
                grad += s
        if self.l1_mask is not None:
            np.sign(theta, out=s)
            s *= self.l1_mask  # l1 * sign(W)
            value += float(np.vdot(s, theta))  # l1 * sign(w) * w = l1 * |w|
            if grad is not None:
                grad += s
        return value

    def value(self, theta: np.ndarray) -> float:
        return self.add_gradient(theta, None)

    def on_kink(self, theta: np.ndarray, eps: float) -> np.ndarray:
        """Entries of ``theta`` whose l1 term has no derivative within ``eps`` (|w| <= eps on
        a penalised weight): a finite difference there straddles the kink at 0."""
        if self.l1_mask is None:
            return np.zeros(theta.shape, dtype=bool)
        return (self.l1_mask != 0) & (np.abs(theta) <= eps)
