"""Activation functions, each beside its derivative.

Convention: ``forward(z, out)`` writes f(z) into ``out`` (which may be ``z`` itself, so that
hidden layers compute in place), and ``backprop(a, grad)`` turns dL/da into dL/dz *in place*
using only the forward output ``a`` — as scikit-learn does, so only activations are cached.
``kink(z)`` marks inputs where the derivative is not defined (used by gradcheck).
"""

from __future__ import annotations

import numpy as np


class Activation:
    name = ""
    default_init = "xavier"  # the init scheme of a layer that names none
    params: dict[str, float] = {}  # the activation's own parameters, with their defaults
    differentiable = True  # False: trained only through the loss fused with it (step)
    # What training's layer statistics watch for (training/layerstats.py): ``dies``, a unit
    # that outputs 0 for every row has no gradient (relu); ``saturates``, (low, high): an
    # output below low or above high lies where the derivative has all but vanished.
    dies = False
    saturates: tuple[float, float] | None = None

    def __init__(self, **params: float | None):
        for key, default in self.params.items():
            value = params.get(key)
            setattr(self, key, default if value is None else value)

    def forward(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backprop(self, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def kink(self, z: np.ndarray) -> np.ndarray:
        return np.zeros(z.shape, dtype=bool)


class Linear(Activation):
    name = "linear"

    def forward(self, z, out):
        if out is not z:
            out[...] = z
        return out

    def backprop(self, a, grad):
        return grad  # f'(z) = 1


class Sigmoid(Activation):
    name = "sigmoid"
    saturates = (0.01, 0.99)

    def forward(self, z, out):
        # For z < -709, exp(-z) overflows to inf and 1 / (1 + inf) = 0: exact, so only the
        # warning is silenced (a clip would cost a full extra pass over the array).
        np.negative(z, out=out)
        with np.errstate(over="ignore"):
            np.exp(out, out=out)
        out += 1
        return np.reciprocal(out, out=out)

    def backprop(self, a, grad):
        grad *= a
        grad *= 1 - a  # f'(z) = a (1 - a)
        return grad


class Tanh(Activation):
    name = "tanh"
    saturates = (-0.99, 0.99)

    def forward(self, z, out):
        return np.tanh(z, out=out)

    def backprop(self, a, grad):
        grad *= 1 - a * a  # f'(z) = 1 - a^2
        return grad


class Relu(Activation):
    name = "relu"
    default_init = "he"
    dies = True

    def forward(self, z, out):
        return np.maximum(z, 0, out=out)

    def backprop(self, a, grad):
        # f'(z) = 1 where z > 0, else 0 (multiplying by the mask is ~6x faster than indexing)
        return np.multiply(grad, a > 0, out=grad)

    def kink(self, z):
        return z == 0


class LeakyRelu(Activation):
    name = "leaky_relu"
    default_init = "he"
    params = {"alpha": 0.01}  # the slope for z < 0, in [0, 1)

    def forward(self, z, out):
        # a = z for z > 0, alpha * z otherwise; alpha in [0, 1) keeps the sign of z.
        return np.maximum(z, self.alpha * z, out=out)

    def backprop(self, a, grad):
        # f'(z) = 1 where z > 0, else alpha
        return np.multiply(grad, np.where(a > 0, 1.0, self.alpha).astype(grad.dtype, copy=False),
                           out=grad)

    def kink(self, z):
        return z == 0


class Softmax(Activation):
    name = "softmax"

    def forward(self, z, out):
        # Shift by the row maximum so exp never overflows.
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def backprop(self, a, grad):
        # Jacobian-vector product: dL/dz_i = a_i (g_i - sum_j g_j a_j).
        dot = np.einsum("ij,ij->i", grad, a)[:, None]
        grad -= dot
        grad *= a
        return grad


class Step(Activation):
    """Heaviside unit of the classic perceptron: 1 where z >= 0, else 0.

    It has no useful derivative; it is trained only through the perceptron loss, whose fused
    delta (y_hat - y) is the perceptron rule (see losses.py).
    """

    name = "step"
    differentiable = False

    def forward(self, z, out):
        return np.greater_equal(z, 0, out=out, casting="unsafe")

    def backprop(self, a, grad):
        raise RuntimeError("step has no derivative; it is trained with the perceptron loss only")

    def kink(self, z):
        return z == 0


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Linear, Sigmoid, Tanh, Relu, LeakyRelu, Softmax, Step)
}


def make_activation(name: str, **params: float | None) -> Activation:
    """The activation ``name`` with its parameters: a missing or None one takes its default,
    and those the activation does not have are ignored (a layer's fields can be passed as
    they are)."""
    return ACTIVATIONS[name](**params)
