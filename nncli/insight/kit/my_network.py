"""Your network: write these four functions in plain NumPy (see CONVENTIONS.md), then run
`pytest` in this folder. Shapes: x (n, features), y (n, outputs), params["W1"] (inputs, units),
params["b1"] (units,); z and a of a layer and its δ are (n, units). Layer 1 comes first in
every list."""

import numpy as np  # noqa: F401


def forward(params, x, masks=None):
    """The forward pass: ([z1, z2, ...], [a1, a2, ...]) with z = a_prev @ W + b, a = f(z).
    With dropout, ``masks`` has one array (n, units) per layer (None where a layer does not
    drop): the next layer reads a * mask; return the undropped a."""
    raise NotImplementedError("forward is not written yet")


def loss(output, y, weights=None):
    """The loss of the batch (a float), from the last layer's a and the targets; with row
    ``weights`` the weighted mean sum(w_i L_i) / sum(w_i). Optional: without it, the test does
    not check L."""
    raise NotImplementedError("loss is not written yet")


def backward(params, x, y, zs, activations, weights=None, masks=None):
    """The backward pass of the batch-mean loss: ([δ1, δ2, ...], {"W1": dL/dW1, "b1": dL/db1,
    ...}), δ = dL/dz of each layer. ``zs`` and ``activations`` are the forward pass's, as
    nncli computes them; ``weights`` and ``masks`` as for loss and forward. With l2 or l1
    (kit.json), the weights' gradients include the penalty's."""
    raise NotImplementedError("backward is not written yet")


def update(params, grads, lr, state):
    """One step of the update rule: the new parameters as a new dict. ``state`` holds what the
    rule remembers between steps, by name (``vW1``: the velocity of W1, ...; see
    CONVENTIONS.md), and ``t``, the steps taken before this one: update it in place. Plain
    gradient descent ignores it."""
    raise NotImplementedError("update is not written yet")
