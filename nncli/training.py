"""The training loop: batches, updates, per-epoch history, divergence.

It knows nothing of configs, files or terminals: it reports each epoch through a callback and
returns a :class:`FitResult`. History follows the contract: ``loss`` is the mean of the epoch's
batch losses weighted by batch size (= the mean per-sample loss over the epoch), each taken
before its update, as Keras and scikit-learn log it; the train metric comes from the same
pre-update outputs; validation columns use the weights at the end of the epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .engine.losses import Loss
from .engine.network import Network
from .engine.optim import Updater


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)  # one dict per finished epoch
    status: str = "finished"  # finished | diverged | interrupted
    reason: str = ""
    wall_time: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.history)


@dataclass
class Batching:
    size: int  # rows per update; the last batch of an epoch may be smaller
    shuffle: bool


# Divergence is detected and reported; NumPy's overflow warnings would only add noise.
@np.errstate(over="ignore", invalid="ignore")
def evaluate(net: Network, loss: Loss, X: np.ndarray, Y: np.ndarray, metric: Callable,
             ws=None) -> tuple[float, float | None, np.ndarray]:
    """Loss, metric and outputs of the current weights on (X, Y), in chunks of ws.capacity."""
    ws = ws or net.workspace(min(len(X), 4096))
    outputs = np.empty((len(X), net.n_outputs), dtype=net.dtype)
    total = 0.0
    for start in range(0, len(X), ws.capacity):
        stop = min(start + ws.capacity, len(X))
        outputs[start:stop] = net.forward(X[start:stop], ws)
        total += net.loss(loss, Y[start:stop], ws) * (stop - start)
    return total / len(X), metric(outputs, Y), outputs


@np.errstate(over="ignore", invalid="ignore")
def fit(net: Network, loss: Loss, X: np.ndarray, Y: np.ndarray, *,
        batching: Batching, epochs: int, learning_rate: float, update: str,
        rng: np.random.Generator, metric: tuple[str, Callable],
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        on_epoch: Callable[[dict], None] | None = None,
        stop_requested: Callable[[], bool] = lambda: False) -> FitResult:
    """Train ``net`` in place on (X, Y) for ``epochs`` epochs.

    On a non-finite loss the parameters are restored to the end of the last finished epoch
    (the last finite weights) and the result says ``diverged`` with where it happened.
    """
    n = len(X)
    bs = min(batching.size, n)
    metric_name, metric_fn = metric
    ws = net.workspace(bs)
    val_ws = net.workspace(min(len(validation[0]), 4096)) if validation else None
    params = net.parameters()
    updater = Updater(params, net.gradients(ws), net.trainable(), update, learning_rate)
    good = {k: v.copy() for k, v in params.items()}  # the last weights known to be finite

    order = np.arange(n)
    gather = bs < n or batching.shuffle  # full batch in order trains on X itself, no copy
    shuffle = batching.shuffle and bs < n  # one full batch: the order cannot matter
    xb = np.empty((bs, X.shape[1]), X.dtype) if gather else X
    yb = np.empty((bs, Y.shape[1]), Y.dtype) if gather else Y
    outputs = np.empty((n, net.n_outputs), net.dtype)

    result = FitResult()
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        if shuffle:
            rng.shuffle(order)
        total = 0.0
        for batch, start in enumerate(range(0, n, bs), start=1):
            idx = order[start:start + bs]
            m = len(idx)
            if gather:
                np.take(X, idx, axis=0, out=xb[:m])
                np.take(Y, idx, axis=0, out=yb[:m])
            x, y = xb[:m], yb[:m]
            out = net.forward(x, ws)
            value = net.loss(loss, y, ws)
            if not math.isfinite(value):
                return _diverged(result, params, good, started,
                                 f"loss became {value} at epoch {epoch}, batch {batch}")
            total += value * m
            outputs[idx] = out
            net.backward(x, y, loss, ws)
            updater.step()
            if stop_requested():
                _restore(params, good)
                result.status, result.reason = "interrupted", f"interrupted during epoch {epoch}"
                result.wall_time = time.perf_counter() - started
                return result

        record = {"epoch": epoch, "loss": total / n, metric_name: metric_fn(outputs, Y)}
        if validation is not None:
            val_loss, val_metric, _ = evaluate(net, loss, *validation, metric_fn, val_ws)
            record["val_loss"] = val_loss
            record[f"val_{metric_name}"] = val_metric
            if not math.isfinite(val_loss):
                return _diverged(result, params, good, started,
                                 f"validation loss became {val_loss} at the end of epoch {epoch}")
        if not all(np.all(np.isfinite(p)) for p in params.values()):
            return _diverged(result, params, good, started,
                             f"weights became non-finite in epoch {epoch}")
        for k, p in params.items():
            np.copyto(good[k], p)
        result.history.append(record)
        if on_epoch:
            on_epoch(record)
    result.wall_time = time.perf_counter() - started
    return result


def _restore(params: dict, good: dict) -> None:
    for k, p in params.items():
        np.copyto(p, good[k])


def _diverged(result: FitResult, params: dict, good: dict, started: float, where: str) -> FitResult:
    _restore(params, good)
    result.status = "diverged"
    result.reason = (f"{where}; kept the weights of epoch {result.epochs_run} "
                     f"(lower training.learning_rate, or scale the inputs)")
    result.wall_time = time.perf_counter() - started
    return result
