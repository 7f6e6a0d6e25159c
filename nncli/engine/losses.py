"""Losses: per-sample value, then the mean over the samples of a batch (one reduction, always).

``value(a, y, z)`` is the batch mean of the per-sample loss, from the output activations ``a``,
the targets ``y`` (both (n, outputs)) and the output net input ``z``.
``grad(a, y, out)`` writes dL/da of the *batch mean* (so it includes the 1/n) into ``out``.

Fused pairs: for softmax + cross_entropy, sigmoid + binary_cross_entropy and step + perceptron
the derivative with respect to the output net input z is exactly (a - y) / n. Only these three
pairs may use it; ``fused_with`` names the output activation that makes it valid. Their values
are computed from z (log-sum-exp, softplus), so there is no log(0) and no overflow.
"""

from __future__ import annotations

import numpy as np


class Loss:
    name = ""
    fused_with: str | None = None

    def value(self, a: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
        raise NotImplementedError

    def grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
        """dL/da into ``out``. This default, (a - y) / n, is half_sse's; fused losses never
        ask (their delta (a - y) / n is taken directly); the others override it."""
        np.subtract(a, y, out=out)
        out /= a.shape[0]
        return out


class MSE(Loss):
    """mean over outputs of (a - y)^2."""

    name = "mse"

    def value(self, a, y, z):
        d = a - y
        return float(np.vdot(d, d)) / d.size

    def grad(self, a, y, out):
        np.subtract(a, y, out=out)
        out *= 2.0 / a.size
        return out


class HalfSSE(Loss):
    """1/2 * sum over outputs of (a - y)^2: the textbook E = 1/2 (target - out)^2."""

    name = "half_sse"

    def value(self, a, y, z):
        d = a - y
        return 0.5 * float(np.vdot(d, d)) / d.shape[0]


class MAE(Loss):
    """mean over outputs of |a - y| (derivative sign(a - y); undefined where a == y)."""

    name = "mae"

    def value(self, a, y, z):
        return float(np.abs(a - y).sum()) / a.size

    def grad(self, a, y, out):
        np.subtract(a, y, out=out)
        np.sign(out, out=out)
        out /= a.size
        return out


class BinaryCrossEntropy(Loss):
    """-(y log a + (1 - y) log(1 - a)) summed over the sigmoid outputs; = softplus(z) - y z."""

    name = "binary_cross_entropy"
    fused_with = "sigmoid"

    def value(self, a, y, z):
        return float(np.logaddexp(0.0, z).sum() - np.vdot(y, z)) / z.shape[0]


class CrossEntropy(Loss):
    """-sum over classes of y log a for one-hot y; = logsumexp(z) - sum(y z)."""

    name = "cross_entropy"
    fused_with = "softmax"

    def value(self, a, y, z):
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        lse = np.log(e.sum(axis=1)).sum() + m.sum()
        return float(lse - np.vdot(y, z)) / z.shape[0]


class Perceptron(Loss):
    """The perceptron criterion: sum over outputs of (a - y) z, which is max(0, -t z) for t = ±1.

    Its derivative with respect to z is (a - y): the perceptron rule w += lr (y - a) x.
    """

    name = "perceptron"
    fused_with = "step"

    def value(self, a, y, z):
        return float(((a - y) * z).sum()) / z.shape[0]


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (MSE(), HalfSSE(), MAE(), BinaryCrossEntropy(), CrossEntropy(), Perceptron())
}
