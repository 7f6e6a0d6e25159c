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

What training adds to the plain passes lives inside them, never in a second pass:
- dropout: a workspace made with ``dropout=True`` holds one mask per dropout layer (drawn by
  :meth:`Workspace.draw_masks`); forward multiplies the layer's output by it and backward
  multiplies dL/da by it. Other workspaces (evaluation, prediction) never drop.
- row weights: ``weights`` (n,) make the batch loss sum(w_i L_i) / sum(w_i); backward scales
  each row of the output delta to match.
- a penalty (engine/penalty.py) adds its gradient to ``grad`` at the end of backward.
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
    dropout: float = 0.0  # probability of dropping each unit of this (hidden) layer's output

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
        return self.named(self.theta)

    def layout(self) -> dict[str, slice]:
        """Where each parameter array (by name) lies in ``theta`` (and in any flat vector laid
        out like it: the gradient, an optimizer's state)."""
        out, start = {}, 0
        for i, layer in enumerate(self.layers, start=1):
            out[f"W{i}"] = slice(start, start + layer.W.size)
            start += layer.W.size
            if layer.b is not None:
                out[f"b{i}"] = slice(start, start + layer.b.size)
                start += layer.b.size
        return out

    def named(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Views of a flat vector laid out like ``theta``, by parameter name and shape."""
        return {name: flat[where].reshape(self._shape(name))
                for name, where in self.layout().items()}

    def _shape(self, name: str) -> tuple[int, ...]:
        layer = self.layers[int(name[1:]) - 1]
        return layer.W.shape if name[0] == "W" else layer.b.shape

    def trainable(self) -> dict[str, bool]:
        """Whether each parameter array (by name) is updated by training (not frozen)."""
        out = {}
        for i, layer in enumerate(self.layers, start=1):
            out[f"W{i}"] = "weights" not in layer.frozen
            if layer.b is not None:
                out[f"b{i}"] = "biases" not in layer.frozen
        return out

    def workspace(self, capacity: int, keep_z: bool = False, dropout: bool = False
                  ) -> "Workspace":
        return Workspace(self, capacity, keep_z, dropout)

    @property
    def has_dropout(self) -> bool:
        return any(layer.dropout > 0 for layer in self.layers)

    def forward(self, X: np.ndarray, ws: "Workspace") -> np.ndarray:
        """Output activations for the rows of X (n <= ws.capacity); a view into ``ws``.

        In a workspace with dropout masks, a dropout layer's output is multiplied by its mask
        (into ``ws.out``, what the next layer reads); ``ws.a`` keeps the undropped output."""
        n = X.shape[0]
        a = X
        for i, (layer, z_buf, a_buf) in enumerate(zip(self.layers, ws.z, ws.a)):
            z = z_buf[:n]
            np.matmul(a, layer.W, out=z)
            if layer.b is not None:
                z += layer.b
            a = layer.activation.forward(z, a_buf[:n])
            if i in ws.masks:
                a = np.multiply(a, ws.masks[i][:n], out=ws.out[i][:n])
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

    def loss(self, loss: Loss, Y: np.ndarray, ws: "Workspace",
             weights: np.ndarray | None = None) -> float:
        """Batch-mean loss of the last forward pass (of len(Y) rows) against targets Y; with
        row ``weights``, the weighted mean sum(w_i L_i) / sum(w_i)."""
        n = Y.shape[0]
        a, z = ws.a[-1][:n], ws.z[-1][:n]
        return loss.value(a, Y, z) if weights is None else loss.weighted(a, Y, z, weights)

    def backward(self, X: np.ndarray, Y: np.ndarray, loss: Loss, ws: "Workspace", *,
                 weights: np.ndarray | None = None, penalty=None) -> float:
        """Gradients of the batch loss after ``forward(X, ws)``, into ws.dW / ws.db (ws.grad):
        of the mean loss, or with row ``weights`` of the weighted mean, plus the gradient of
        ``penalty`` (a :class:`~nncli.engine.penalty.Penalty`) if given. Returns the penalty's
        value at the current weights (0.0 without one).

        Afterwards ws.delta[i] holds dL/dz of layer i+1 for the batch.
        """
        n = X.shape[0]
        last = len(self.layers) - 1
        delta = output_delta(loss, self.layers[last].activation, ws.a[last][:n], Y,
                             ws.delta[last][:n], weights, ws.row_scale[:n])
        for i in range(last, -1, -1):
            layer = self.layers[i]
            a_prev = X if i == 0 else ws.out[i - 1][:n]
            np.matmul(a_prev.T, delta, out=ws.dW[i])
            if layer.b is not None:  # sum over the batch, as a BLAS product: 2x an add.reduce
                np.matmul(ws.ones[:n], delta, out=ws.db[i])
            if i > 0:
                prev = ws.delta[i - 1][:n]
                np.matmul(delta, layer.W.T, out=prev)
                if i - 1 in ws.masks:  # through the dropout: dL/da = dL/d(a m) * m
                    prev *= ws.masks[i - 1][:n]
                self.layers[i - 1].activation.backprop(ws.a[i - 1][:n], prev)
                delta = prev
        return 0.0 if penalty is None else penalty.add_gradient(self.theta, ws.grad)

    def gradients(self, ws: "Workspace") -> dict[str, np.ndarray]:
        """The gradient buffers of ``ws`` by parameter name (same keys as :meth:`parameters`)."""
        return self.named(ws.grad)

    def astype(self, dtype) -> "Network":
        """A copy of this network with parameters in ``dtype`` (gradcheck works in float64)."""
        return Network([
            Layer(l.W.astype(dtype), None if l.b is None else l.b.astype(dtype), l.activation,
                  l.frozen, l.dropout)
            for l in self.layers
        ])


def output_delta(loss: Loss, activation: Activation, a: np.ndarray, Y: np.ndarray,
                 out: np.ndarray, weights: np.ndarray | None = None,
                 scale: np.ndarray | None = None) -> np.ndarray:
    """dL/dz of the output layer (``a`` its activations, n rows) into ``out``: the fused
    (a - y) / n where the loss is fused with this output (see losses.py), else dL/da through
    the activation's derivative. With row ``weights`` (the weighted mean loss) each row carries
    w_i / sum(w) in place of 1/n (``scale``: an (n,) buffer for it). The backward pass and the
    learner's step calculator (insight/stepcalc.py) both start here."""
    n = a.shape[0]
    if weights is not None and scale is None:
        scale = np.empty(n, out.dtype)
    if loss.fused_with == activation.name:
        np.subtract(a, Y, out=out)  # the fused gradient: dL/dz = (a - y) / n
        if weights is None:
            out /= n
        else:  # weighted: dL/dz_i = (a_i - y_i) w_i / sum(w)
            out *= np.divide(weights, weights.sum(), out=scale)[:, None]
        return out
    loss.grad(a, Y, out=out)
    if weights is not None:  # the 1/n of the mean becomes w_i / sum(w)
        out *= np.multiply(weights, n / weights.sum(), out=scale)[:, None]
    return activation.backprop(a, out)


# A non-finite loss is reported by the caller (as divergence); NumPy's warnings add nothing.
@np.errstate(over="ignore", invalid="ignore")
def evaluate(net: Network, loss: Loss, X: np.ndarray, Y: np.ndarray, metric,
             ws: "Workspace | None" = None, weights: np.ndarray | None = None
             ) -> tuple[float, float | None, np.ndarray]:
    """Loss, ``metric(outputs, Y)`` and the outputs of the current weights on (X, Y), in
    chunks of ``ws.capacity`` rows (the batch-size-weighted mean of the chunks' losses; with
    row ``weights``, the weighted mean of the rows' losses). Never drops units."""
    ws = ws or net.workspace(max(1, min(len(X), CHUNK_ROWS)))
    outputs = np.empty((len(X), net.n_outputs), dtype=net.dtype)
    total = 0.0
    for rows, out in net.forward_chunks(X, ws):
        outputs[rows] = out
        if weights is None:
            total += net.loss(loss, Y[rows], ws) * (rows.stop - rows.start)
        else:
            w = weights[rows]
            total += net.loss(loss, Y[rows], ws, w) * float(w.sum())
    size = len(X) if weights is None else float(weights.sum())
    return total / size, metric(outputs, Y), outputs



class Workspace:
    """Per-layer buffers for batches of up to ``capacity`` rows.

    Hidden layers compute the activation in place over z (z and a share a buffer) unless
    ``keep_z`` is set, as trace and gradcheck need; the output layer always keeps z apart
    because the stable losses are computed from it.
    """

    def __init__(self, net: Network, capacity: int, keep_z: bool = False,
                 dropout: bool = False):
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
        self.row_scale = np.empty(capacity, dtype)  # w_i / sum(w) of a weighted batch
        self.grad = np.zeros_like(net.theta)  # dW and db are views into it, like W and b
        views = _views(self.grad, net.layers)
        self.dW = [W for W, _ in views]
        self.db = [b for _, b in views]
        # Dropout (training only): a mask per dropout layer, 0 for a dropped unit and
        # 1 / (1 - p) for a kept one (inverted dropout: the expected output is unchanged).
        self.dropout = {i: l.dropout for i, l in enumerate(net.layers)
                        if dropout and l.dropout > 0}
        self.masks = {i: np.ones((capacity, net.layers[i].units), dtype) for i in self.dropout}
        # What layer i+1 reads: the dropped output of a dropout layer, else a itself.
        self.out = [np.empty_like(self.a[i]) if i in self.masks else self.a[i]
                    for i in range(len(net.layers))]

    def draw_masks(self, rng: np.random.Generator, n: int) -> None:
        """New dropout masks for a batch of ``n`` rows: each unit kept with probability
        1 - p (a uniform draw u >= p), then scaled by 1 / (1 - p)."""
        for i, p in self.dropout.items():
            m = self.masks[i][:n]
            rng.random(out=m, dtype=m.dtype)
            np.greater_equal(m, p, out=m, casting="unsafe")
            m *= m.dtype.type(1.0 / (1.0 - p))


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
