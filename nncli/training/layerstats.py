"""Per-layer statistics of training, one row per epoch and layer (layers.csv).

| column | meaning |
|---|---|
| ``weight_rms`` | root mean square of the layer's weights W at the end of the epoch |
| ``grad_rms`` | root mean square of dL/dW over the epoch's sampled batches: sqrt(sum of g² / (batches · size of W)) |
| ``update_ratio`` | RMS of the epoch's change of W / RMS of W at the start of the epoch (0 when W was 0) |
| ``act_mean``, ``act_std`` | mean and standard deviation of the layer's outputs over the sampled rows (all its units) |
| ``dead`` | hidden relu layers: the fraction of units that output 0 on every sampled row |
| ``saturated`` | hidden sigmoid and tanh layers: the fraction of the sampled outputs that lie in the flat part (sigmoid below 0.01 or above 0.99, tanh beyond ±0.99): the share of units saturated, averaged over the rows |

**The sample.** The rows of the epoch's first batches, :data:`SAMPLE_ROWS` of them (all the
training rows when there are fewer): with minibatches reshuffled every epoch, a fresh random
sample of the training rows each time; with one full batch, its first rows. The activations are
those of each sampled batch's forward pass (before its update, without dropout), the gradient
that of its backward pass (the loss's and the penalty's, before the update rule sees it; frozen
weights included). A sample, because statistics over every row and batch cost 20-28% of an
epoch on the benchmark scenarios: a NumPy pass over a small batch's activations costs about as
much as the layer's share of the training step itself. Weights and updates are exact.

**Cost.** Per sampled batch: two NumPy calls for the gradient and one copy per layer; per
epoch: one copy of the parameters. The reductions run every :attr:`LayerStats.capacity` epochs
over all of them at once (a few MB of buffers at most), so that a tiny network's fast epochs
(half a millisecond) do not pay a dozen NumPy calls each. The numbers do not depend on when the
reductions run (each epoch is reduced over the same shapes in the same order), so a resumed
run's layers.csv is the uninterrupted run's. The sampled outputs are kept in float32 whatever
the run's dtype (statistics need no more; half the bytes, half the time). Which units die or
saturate is the activation's own attribute (``dies``, ``saturates``: engine/activations.py).
"""

from __future__ import annotations

import numpy as np

from ..engine.network import Network, Workspace
from ..runs.formats import LAYER_COLUMNS

COLUMNS = len(LAYER_COLUMNS)
NO_ROWS = np.empty((0, COLUMNS))
NO_ROWS.flags.writeable = False
SAMPLE_ROWS = 32
BUFFER_BYTES = 4 * 2**20  # the epochs kept before reducing: as many as fit, 1 to MAX_EPOCHS
MAX_EPOCHS = 64


class _Layer:
    """One layer's sampled outputs of the kept epochs, and how to read them."""

    def __init__(self, activation, units: int, hidden: bool, epochs: int):
        self.units = units
        self.dies = hidden and activation.dies
        bounds = activation.saturates if hidden else None
        self.saturates = bounds is not None
        # a sampled output a is saturated when (a - centre)² > reach², i.e. outside bounds
        self.centre = (bounds[0] + bounds[1]) / 2 if bounds else 0.0
        self.reach = ((bounds[1] - bounds[0]) / 2) ** 2 if bounds else 0.0
        self.samples = np.empty((epochs, SAMPLE_ROWS, units), np.float32)

    def columns(self, k: int, rows: int) -> np.ndarray:
        """(k, 4): act_mean, act_std, dead and saturated of the first ``k`` kept epochs (NaN
        where a column does not apply)."""
        X = self.samples[:k, :rows]
        out = np.full((k, 4), np.nan)
        if self.dies:  # per unit: did it output anything but 0 on a sampled row?
            alive = np.count_nonzero(np.logical_or.reduce(X > 0, axis=1), axis=1)
            out[:, 2] = 1.0 - alive / self.units
        # each epoch's outputs in one row, shifted by the centre, then squared in place (the
        # samples are read for the last time)
        D = X.reshape(k, -1)
        if self.centre:
            D = np.subtract(D, np.float32(self.centre))
        count = D.shape[1]
        shifted = np.add.reduce(D, axis=1).astype(np.float64) / count
        np.multiply(D, D, out=D)
        squares = np.add.reduce(D, axis=1).astype(np.float64) / count
        if self.saturates:
            out[:, 3] = np.count_nonzero(D > np.float32(self.reach), axis=1) / count
        out[:, 0] = shifted + self.centre
        out[:, 1] = np.sqrt(np.maximum(squares - shifted * shifted, 0.0))
        return out


class LayerStats:
    """An epoch's statistics from the training loop's buffers.

    The loop calls :meth:`batch` after the backward pass of each batch while :attr:`sampling`
    (before the update rule uses the gradient as scratch) and :meth:`epoch` at the end of each
    finished epoch. Rows come out in bulk: :meth:`take` returns those computed so far,
    :meth:`flush` computes the rest first (before a checkpoint, at the end of training). Rows
    are a block of numbers, one row per epoch and layer in LAYER_COLUMNS order, NaN for an
    empty cell (not applicable, or a value that overflowed): layers.csv is written from it in
    one piece (``runs.formats.number_lines``), and ``runs.formats.layer_records`` turns it into
    records where records are wanted."""

    def __init__(self, net: Network, ws: Workspace):
        self.ws = ws
        layout = net.layout()
        self.starts = np.array([where.start for where in layout.values()])
        self.is_w = np.array([name[0] == "W" for name in layout])
        self.w_size = np.array([w.stop - w.start for name, w in layout.items() if name[0] == "W"],
                               dtype=np.float64)
        p, units = net.theta.size, sum(layer.units for layer in net.layers)
        per_epoch = 2 * p * net.dtype.itemsize + SAMPLE_ROWS * units * 4
        self.capacity = k = int(np.clip(BUFFER_BYTES // per_epoch, 1, MAX_EPOCHS))
        last = len(net.layers) - 1
        self.layers = [_Layer(l.activation, l.units, i < last, k)
                       for i, l in enumerate(net.layers)]
        self.grad = ws.grad
        self.copies = [(layer.samples, a) for layer, a in zip(self.layers, ws.a)]
        self.thetas = np.empty((k + 1, p), net.dtype)  # [0]: the start of the first kept epoch
        self.grads = np.zeros((k, p), net.dtype)  # per epoch: sum of the sampled batches' g²
        self.buffer = np.empty(p, net.dtype)
        self.epochs: list[tuple[int, int]] = []  # (epoch, sampled batches) per kept slot
        self.ready: list[np.ndarray] = []
        self.started = False  # thetas[0] holds the start of the first kept epoch
        self._next()

    def _next(self) -> None:
        """Start sampling the next epoch, into the next slot."""
        self.slot = len(self.epochs)
        self.rows = self.batches = 0
        self.sampling = True

    def batch(self, m: int) -> None:
        """Take the batch of ``m`` rows just passed forward and backward into the sample."""
        slot, rows = self.slot, self.rows
        if self.batches == 0:
            np.multiply(self.grad, self.grad, out=self.grads[slot])
        else:
            self.grads[slot] += np.multiply(self.grad, self.grad, out=self.buffer)
        self.batches += 1
        k = min(m, SAMPLE_ROWS - rows)
        for samples, a in self.copies:  # each layer's outputs of the batch's first rows
            samples[slot, rows:rows + k] = a[:k]
        self.rows = rows + k
        self.sampling = self.rows < SAMPLE_ROWS

    def epoch(self, epoch: int, theta: np.ndarray, previous: np.ndarray) -> None:
        """A finished epoch: ``theta`` its weights at the end, ``previous`` at the start."""
        if not self.started:
            self.thetas[0] = previous
            self.started = True
        self.thetas[self.slot + 1] = theta
        self.epochs.append((epoch, self.batches))
        self.sample_rows = self.rows  # the same every epoch
        if len(self.epochs) == self.capacity:
            self.flush()
        else:
            self._next()

    def flush(self) -> None:
        """Compute the rows of the epochs kept so far; their slots are free again."""
        k = len(self.epochs)
        if k:
            self.ready.append(self._rows(k))
            self.thetas[0] = self.thetas[k]
        self.epochs = []
        self._next()

    def take(self) -> np.ndarray:
        """The rows computed so far (in epoch order), handed over once."""
        if not self.ready:  # most epochs: the reductions run every `capacity` epochs
            return NO_ROWS
        block = self.ready[0] if len(self.ready) == 1 else np.concatenate(self.ready)
        self.ready = []
        return block

    @np.errstate(over="ignore", invalid="ignore")
    def _rows(self, k: int) -> np.ndarray:
        thetas = self.thetas[:k + 1]
        w_squares = self._w_sums(thetas * thetas)  # (k + 1, layers): the ends of 0..k
        step = thetas[1:] - thetas[:-1]
        updates = self._w_sums(np.multiply(step, step, out=step))
        before = w_squares[:-1]
        n = len(self.layers)
        block = np.empty((k, n, COLUMNS))  # epoch, layer, then a column per statistic
        block[:, :, 0] = np.array([e for e, _ in self.epochs], dtype=np.float64)[:, None]
        block[:, :, 1] = np.arange(1, n + 1)
        block[:, :, 2] = np.sqrt(w_squares[1:] / self.w_size)
        batches = np.array([max(b, 1) for _, b in self.epochs], dtype=np.float64)[:, None]
        block[:, :, 3] = np.sqrt(self._w_sums(self.grads[:k]) / (batches * self.w_size))
        block[:, :, 4] = np.sqrt(np.divide(updates, before, out=np.zeros_like(updates),
                                           where=before > 0))
        for i, layer in enumerate(self.layers):
            block[:, i, 5:] = layer.columns(k, self.sample_rows)
        block = block.reshape(k * n, COLUMNS)
        block[~np.isfinite(block)] = np.nan  # overflowed: an empty cell
        return block

    def _w_sums(self, values: np.ndarray) -> np.ndarray:
        """Per row and layer, the sum over W of rows laid out like theta (float64)."""
        return np.add.reduceat(values, self.starts, axis=1)[:, self.is_w].astype(np.float64)
