"""Your network: write these four functions in plain NumPy (see CONVENTIONS.md), then run
`pytest` in this folder. Shapes: x (n, features), y (n, outputs), params["W1"] (inputs, units),
params["b1"] (units,); z and a of a layer and its δ are (n, units). Layer 1 comes first in
every list."""

import numpy as np  # noqa: F401


def forward(params, x):
    """The forward pass: ([z1, z2, ...], [a1, a2, ...]) with z = a_prev @ W + b, a = f(z)."""
    raise NotImplementedError("forward is not written yet")


def loss(output, y):
    """The loss of the batch (a float), from the last layer's a and the targets. Optional:
    without it, the test does not check L."""
    raise NotImplementedError("loss is not written yet")


def backward(params, x, y, zs, activations):
    """The backward pass of the batch-mean loss: ([δ1, δ2, ...], {"W1": dL/dW1, "b1": dL/db1,
    ...}), δ = dL/dz of each layer. ``zs`` and ``activations`` are the forward pass's, as
    nncli computes them."""
    raise NotImplementedError("backward is not written yet")


def update(params, grads, lr, state):
    """One step of the update rule: the new parameters as a new dict. ``state`` is a dict,
    empty at the first step and handed back at every later step: keep in it what your rule
    remembers between steps (a velocity, moments); plain gradient descent ignores it."""
    raise NotImplementedError("update is not written yet")
