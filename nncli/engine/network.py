"""The multilayer perceptron: dense layers, one forward pass, one backward pass.

Convention, everywhere in nncli: samples are rows. ``X`` is (n, features), a layer's ``W`` is
(fan_in, units) and ``b`` is (units,), so ``z = a_prev @ W + b`` and ``a = f(z)``; targets are
always 2-D (n, outputs). Parameters are named like the textbooks and the run directory:
W1, b1, W2, b2, ... (1-indexed).

Buffers live in a :class:`Workspace`, allocated once for a batch capacity and reused for every
batch, so the training loop allocates nothing per step. All parameters live in one flat vector
``Network.theta`` (each W and b is a view into it) and all gradients in one flat ``Workspace.grad``
laid out the same way, so an update, a finiteness check or a snapshot is one NumPy call however
many layers there are. Training, prediction, gradcheck and
trace all call the same :meth:`Network.forward` and :meth:`Network.backward`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .activations import Activation
from .losses import Loss

CHUNK_ROWS = 4096  # rows per forward pass when a whole data set is evaluated or predicted


@dataclass
class Layer:
    W: np.ndarray  # (fan_in, units)
    b: np.ndarray | None  # (units,), None for a layer without bias
    activation: Activation
    frozen: frozenset[str] = field(default_factory=frozenset)  # subset of {"weights", "biases"}

    @property
    def units(self) -> int:
        return self.W.shape[1]


class Network:
    def __init__(self, layers: list[Layer]):
        self.layers = layers
        self.dtype = layers[0].W.dtype
        self.theta = np.empty(sum(_size(l) for l in layers), self.dtype)
        for layer, (W, b) in zip(layers, _views(self.theta, layers)):
            W[...] = layer.W
            layer.W = W
            if b is not None:
                b[...] = layer.b
                layer.b = b

    @property
    def n_inputs(self) -> int:
        return self.layers[0].W.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].units

    def parameters(self) -> dict[str, np.ndarray]:
        """The parameter arrays by run-directory name (W1, b1, W2, ...), in layer order."""
        params = {}
        for i, layer in enumerate(self.layers, start=1):
            params[f"W{i}"] = layer.W
            if layer.b is not None:
                params[f"b{i}"] = layer.b
        return params

    def trainable(self) -> dict[str, bool]:
        """Whether each parameter array (by name) is updated by training (not frozen)."""
        out = {}
        for i, layer in enumerate(self.layers, start=1):
            out[f"W{i}"] = "weights" not in layer.frozen
            if layer.b is not None:
                out[f"b{i}"] = "biases" not in layer.frozen
        return out

    def workspace(self, capacity: int, keep_z: bool = False) -> "Workspace":
        return Workspace(self, capacity, keep_z)

    def forward(self, X: np.ndarray, ws: "Workspace") -> np.ndarray:
        """Output activations for the rows of X (n <= ws.capacity); a view into ``ws``."""
        n = X.shape[0]
        a = X
        for layer, z_buf, a_buf in zip(self.layers, ws.z, ws.a):
            z = z_buf[:n]
            np.matmul(a, layer.W, out=z)
            if layer.b is not None:
                z += layer.b
            a = layer.activation.forward(z, a_buf[:n])
        return a

    def forward_chunks(self, X: np.ndarray, ws: "Workspace | None" = None
                       ) -> Iterator[tuple[slice, np.ndarray]]:
        """(rows, their outputs) for all rows of X, ``ws.capacity`` rows at a time (default:
        a workspace of CHUNK_ROWS): evaluation and prediction in bounded memory. Each chunk's
        outputs are a view into ``ws``, valid until the next chunk."""
        ws = ws or self.workspace(max(1, min(len(X), CHUNK_ROWS)))
        for start in range(0, len(X), ws.capacity):
            rows = slice(start, min(start + ws.capacity, len(X)))
            yield rows, self.forward(X[rows], ws)

    def loss(self, loss: Loss, Y: np.ndarray, ws: "Workspace") -> float:
        """Batch-mean loss of the last forward pass (of len(Y) rows) against targets Y."""
        n = Y.shape[0]
        return loss.value(ws.a[-1][:n], Y, ws.z[-1][:n])

    def backward(self, X: np.ndarray, Y: np.ndarray, loss: Loss, ws: "Workspace") -> None:
        """Gradients of the batch-mean loss after ``forward(X, ws)``, into ws.dW / ws.db.

        Afterwards ws.delta[i] holds dL/dz of layer i+1 for the batch.
        """
        n = X.shape[0]
        last = len(self.layers) - 1
        delta = output_delta(loss, self.layers[last].activation, ws.a[last][:n], Y,
                             ws.delta[last][:n])
        for i in range(last, -1, -1):
            layer = self.layers[i]
            a_prev = X if i == 0 else ws.a[i - 1][:n]
            np.matmul(a_prev.T, delta, out=ws.dW[i])
            if layer.b is not None:  # sum over the batch, as a BLAS product: 2x an add.reduce
                np.matmul(ws.ones[:n], delta, out=ws.db[i])
            if i > 0:
                prev = ws.delta[i - 1][:n]
                np.matmul(delta, layer.W.T, out=prev)
                self.layers[i - 1].activation.backprop(ws.a[i - 1][:n], prev)
                delta = prev

    def gradients(self, ws: "Workspace") -> dict[str, np.ndarray]:
        """The gradient buffers of ``ws`` by parameter name (same keys as :meth:`parameters`)."""
        grads = {}
        for i, layer in enumerate(self.layers):
            grads[f"W{i + 1}"] = ws.dW[i]
            if layer.b is not None:
                grads[f"b{i + 1}"] = ws.db[i]
        return grads

    def astype(self, dtype) -> "Network":
        """A copy of this network with parameters in ``dtype`` (gradcheck works in float64)."""
        return Network([
            Layer(l.W.astype(dtype), None if l.b is None else l.b.astype(dtype), l.activation, l.frozen)
            for l in self.layers
        ])


def output_delta(loss: Loss, activation: Activation, a: np.ndarray, Y: np.ndarray,
                 out: np.ndarray) -> np.ndarray:
    """dL/dz of the output layer (``a`` its activations, n rows) into ``out``: the fused
    (a - y) / n where the loss is fused with this output (see losses.py), else dL/da through
    the activation's derivative. The backward pass and the learner's step calculator
    (insight/stepcalc.py) both start here."""
    if loss.fused_with == activation.name:
        np.subtract(a, Y, out=out)  # the fused gradient: dL/dz = (a - y) / n
        out /= a.shape[0]
        return out
    loss.grad(a, Y, out=out)
    return activation.backprop(a, out)


# A non-finite loss is reported by the caller (as divergence); NumPy's warnings add nothing.
@np.errstate(over="ignore", invalid="ignore")
def evaluate(net: Network, loss: Loss, X: np.ndarray, Y: np.ndarray, metric,
             ws: "Workspace | None" = None) -> tuple[float, float | None, np.ndarray]:
    """Loss, ``metric(outputs, Y)`` and the outputs of the current weights on (X, Y), in
    chunks of ``ws.capacity`` rows (the batch-size-weighted mean of the chunks' losses)."""
    ws = ws or net.workspace(max(1, min(len(X), CHUNK_ROWS)))
    outputs = np.empty((len(X), net.n_outputs), dtype=net.dtype)
    total = 0.0
    for rows, out in net.forward_chunks(X, ws):
        outputs[rows] = out
        total += net.loss(loss, Y[rows], ws) * (rows.stop - rows.start)
    return total / len(X), metric(outputs, Y), outputs



class Workspace:
    """Per-layer buffers for batches of up to ``capacity`` rows.

    Hidden layers compute the activation in place over z (z and a share a buffer) unless
    ``keep_z`` is set, as trace and gradcheck need; the output layer always keeps z apart
    because the stable losses are computed from it.
    """

    def __init__(self, net: Network, capacity: int, keep_z: bool = False):
        self.capacity = capacity
        dtype = net.dtype
        last = len(net.layers) - 1
        self.a = [np.empty((capacity, l.units), dtype) for l in net.layers]
        self.z = [
            np.empty((capacity, l.units), dtype) if (keep_z or i == last) else self.a[i]
            for i, l in enumerate(net.layers)
        ]
        self.delta = [np.empty((capacity, l.units), dtype) for l in net.layers]
        self.ones = np.ones(capacity, dtype)
        self.grad = np.zeros_like(net.theta)  # dW and db are views into it, like W and b
        views = _views(self.grad, net.layers)
        self.dW = [W for W, _ in views]
        self.db = [b for _, b in views]


def _size(layer: Layer) -> int:
    return layer.W.size + (0 if layer.b is None else layer.b.size)


def _views(flat: np.ndarray, layers: list[Layer]) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(W, b) views into ``flat`` for each layer, in the order W1, b1, W2, b2, ..."""
    views, start = [], 0
    for layer in layers:
        fan_in, units = layer.W.shape
        W = flat[start:start + fan_in * units].reshape(fan_in, units)
        start += fan_in * units
        b = None
        if layer.b is not None:
            b = flat[start:start + units]
            start += units
        views.append((W, b))
    return views
