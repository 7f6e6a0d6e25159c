"""Losses: per-sample value, then the mean over the samples of a batch (one reduction, always).

``value(a, y, z)`` is the batch mean of the per-sample loss, from the output activations ``a``,
the targets ``y`` (both (n, outputs)) and the output net input ``z``.
``per_sample(a, y, z)`` is the per-sample loss itself, (n,); ``weighted(a, y, z, w)`` is the
weighted mean sum(w_i L_i) / sum(w_i) built from it (class and sample weights). ``value`` stays
its own one-call reduction: it is the hot path, and its numbers are the unweighted run's.
``grad(a, y, out)`` writes dL/da of the *batch mean* (so it includes the 1/n) into ``out``.

Fused pairs: for softmax + cross_entropy, sigmoid + binary_cross_entropy and step + perceptron
the derivative with respect to the output net input z is exactly (a - y) / n. Only these three
pairs may use it; ``fused_with`` names the output activation that makes it valid (and that the
loss needs). Their values are computed from z (log-sum-exp, softplus), so there is no log(0)
and no overflow.

Each loss class owns its facts: its task (``classification`` losses need class labels), the
output it needs (``fused_with``), and the text of its derivative for ``nncli trace``
(``gradient_text``). :func:`default_loss` derives the default loss of an output from them.
"""

from __future__ import annotations

import numpy as np


class Loss:
    name = ""
    task = "regression"  # "classification": the loss needs class labels as targets
    fused_with: str | None = None  # the output activation it needs and fuses with
    gradient_text = "(a − y) / n"  # dL/da of the batch mean, as trace prints it (not fused)

    def value(self, a: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
        raise NotImplementedError

    def per_sample(self, a: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def weighted(self, a: np.ndarray, y: np.ndarray, z: np.ndarray, w: np.ndarray) -> float:
        """sum(w_i L_i) / sum(w_i) over the rows."""
        return float(np.vdot(w, self.per_sample(a, y, z))) / float(w.sum())

    def grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
        """dL/da into ``out``. This default, (a - y) / n, is half_sse's; fused losses never
        ask (their delta (a - y) / n is taken directly); the others override it."""
        np.subtract(a, y, out=out)
        out /= a.shape[0]
        return out


class MSE(Loss):
    """mean over outputs of (a - y)^2."""

    name = "mse"
    gradient_text = "2 (a − y) / (n · outputs)"

    def value(self, a, y, z):
        d = a - y
        return float(np.vdot(d, d)) / d.size

    def per_sample(self, a, y, z):
        d = a - y
        return np.einsum("ij,ij->i", d, d) / d.shape[1]

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

    def per_sample(self, a, y, z):
        d = a - y
        return 0.5 * np.einsum("ij,ij->i", d, d)


class MAE(Loss):
    """mean over outputs of |a - y| (derivative sign(a - y); undefined where a == y)."""

    name = "mae"
    gradient_text = "sign(a − y) / (n · outputs)"

    def value(self, a, y, z):
        return float(np.abs(a - y).sum()) / a.size

    def per_sample(self, a, y, z):
        return np.abs(a - y).sum(axis=1) / a.shape[1]

    def grad(self, a, y, out):
        np.subtract(a, y, out=out)
        np.sign(out, out=out)
        out /= a.size
        return out


class BinaryCrossEntropy(Loss):
    """-(y log a + (1 - y) log(1 - a)) summed over the sigmoid outputs; = softplus(z) - y z."""

    name = "binary_cross_entropy"
    task = "classification"
    fused_with = "sigmoid"

    def value(self, a, y, z):
        return float(np.logaddexp(0.0, z).sum() - np.vdot(y, z)) / z.shape[0]

    def per_sample(self, a, y, z):
        return (np.logaddexp(0.0, z) - y * z).sum(axis=1)


class CrossEntropy(Loss):
    """-sum over classes of y log a for one-hot y; = logsumexp(z) - sum(y z)."""

    name = "cross_entropy"
    task = "classification"
    fused_with = "softmax"

    def value(self, a, y, z):
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        lse = np.log(e.sum(axis=1)).sum() + m.sum()
        return float(lse - np.vdot(y, z)) / z.shape[0]

    def per_sample(self, a, y, z):
        m = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
        return lse - np.einsum("ij,ij->i", y, z)


class Perceptron(Loss):
    """The perceptron criterion: sum over outputs of (a - y) z, which is max(0, -t z) for t = ±1.

    Its derivative with respect to z is (a - y): the perceptron rule w += lr (y - a) x.
    """

    name = "perceptron"
    task = "classification"
    fused_with = "step"

    def value(self, a, y, z):
        return float(((a - y) * z).sum()) / z.shape[0]

    def per_sample(self, a, y, z):
        return ((a - y) * z).sum(axis=1)


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (MSE(), HalfSSE(), MAE(), BinaryCrossEntropy(), CrossEntropy(), Perceptron())
}


def default_loss(output_activation: str) -> str:
    """The loss fused with this output (cross_entropy for softmax, binary_cross_entropy for
    sigmoid, perceptron for step); mse for any other output."""
    return next((l.name for l in LOSSES.values() if l.fused_with == output_activation), "mse")


def loss_pairing_error(loss: str, output_activation: str) -> str | None:
    """Why ``loss`` cannot train an ``output_activation`` output layer; None when it can.

    A loss fused with an output needs that output; an output without a derivative (step) can
    only be trained by the loss fused with it.
    """
    from .activations import ACTIVATIONS

    needs = LOSSES[loss].fused_with
    if needs is not None and needs != output_activation:
        return f"training.loss {loss} needs a {needs} output layer, not {output_activation}"
    if not ACTIVATIONS[output_activation].differentiable and loss != default_loss(output_activation):
        return (f"a {output_activation} output layer is trained with loss "
                f"{default_loss(output_activation)} only, not {loss}")
    return None
