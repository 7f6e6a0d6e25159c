"""The training loop: batches, updates, per-epoch history, divergence.

It knows nothing of files or terminals: it reports each epoch to a :class:`Hooks` object (which
also says when to stop) and returns a :class:`FitResult`. History follows the contract: ``loss`` is the mean of the epoch's
batch losses weighted by batch size (= the mean per-sample loss over the epoch), each taken
before its update, as Keras and scikit-learn log it; the train metric comes from the same
pre-update outputs; validation columns use the weights at the end of the epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..config import TrainingConfig
from ..engine.losses import Loss
from ..engine.network import CHUNK_ROWS, Network, evaluate
from ..engine.optim import Updater
from ..metrics import Metric


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)  # one dict per finished epoch
    status: str = "finished"  # finished | diverged | interrupted
    reason: str = ""
    wall_time: float = 0.0
    # Where the last finished epoch left the shuffling; with the weights, all a resume needs:
    # the row order of that epoch (the next shuffle permutes it further) and the rng's state.
    order: np.ndarray | None = None
    rng_state: dict | None = None

    @property
    def epochs_run(self) -> int:
        return len(self.history)


class Hooks:
    """How the loop reports and is stopped; the defaults do nothing. Override what you need."""

    def epoch_end(self, record: dict, result: FitResult) -> None:
        """After each finished epoch: its history row, and the result so far (the epoch
        boundary a resume would start from)."""

    def stop_requested(self) -> bool:
        """Asked after every batch: True stops training there, as ``interrupted``."""
        return False


def batch_rows(training: TrainingConfig, n_train: int) -> int:
    """Rows per update: all of them (full), one (sgd), or batch_size (minibatch), at most
    ``n_train``; the last batch of an epoch may be smaller."""
    size = {"full": n_train, "sgd": 1, "minibatch": training.batch_size}[training.batch]
    return min(size, n_train)


def epoch_batches(order: np.ndarray, size: int, shuffle: bool,
                  rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One epoch's batches, as views of ``order`` (the training rows' order, kept across
    epochs): reshuffled in place first, unless one batch holds every row (then the order
    cannot matter, which keeps one-full-batch textbook examples exact), then cut into
    consecutive batches of ``size`` rows, the last possibly smaller."""
    if shuffle and size < len(order):
        rng.shuffle(order)
    for start in range(0, len(order), size):
        yield order[start:start + size]


@np.errstate(over="ignore", invalid="ignore")
def fit(net: Network, loss: Loss, X: np.ndarray, Y: np.ndarray, training: TrainingConfig, *,
        rng: np.random.Generator, metric: Metric,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        hooks: Hooks | None = None, resume: FitResult | None = None) -> FitResult:
    """Train ``net`` in place on (X, Y) as ``training`` says (batches, update rule, learning
    rate) up to epoch ``training.epochs``; ``rng`` shuffles; ``metric`` is the task metric.

    On a non-finite loss the parameters are restored to the end of the last finished epoch
    (the last finite weights) and the result says ``diverged`` with where it happened.
    ``hooks.stop_requested()`` is asked after every batch; when it says yes, the weights go
    back to the end of the last finished epoch too and the result says ``interrupted``. Either
    way the result describes that epoch boundary (history, order, rng state), so ``resume=``
    with it and those weights in ``net`` continues exactly as if training had never stopped.
    ``hooks.epoch_end`` sees every finished epoch (for progress and checkpoints).
    """
    hooks = hooks or Hooks()
    n = len(X)
    bs = batch_rows(training, n)
    shuffle = training.shuffle
    metric_name, metric_fn = metric.name, metric.fn
    ws = net.workspace(bs)
    val_ws = net.workspace(min(len(validation[0]), CHUNK_ROWS)) if validation else None
    updater = Updater.for_network(net, ws, training.update, training.learning_rate)
    good = net.theta.copy()  # the last weights known to be finite

    order = np.arange(n)
    # Batches are gathered by index into reused buffers. Two cases need no gather: one full
    # batch trains on X itself, and a batch of one row is already a contiguous view X[i:i+1].
    gather = bs < n and bs > 1
    xb = np.empty((bs, X.shape[1]), X.dtype) if gather else X
    yb = np.empty((bs, Y.shape[1]), Y.dtype) if gather else Y
    # The epoch's pre-update outputs for the train metric, put back in row order batch by
    # batch, so the metric compares them with Y itself (no epoch-sized copy of the targets).
    outputs = np.empty((n, net.n_outputs), net.dtype)

    result = FitResult(history=list(resume.history) if resume else [])
    if resume is not None:
        np.copyto(order, resume.order)
        rng.bit_generator.state = resume.rng_state
    result.order, result.rng_state = order.copy(), rng.bit_generator.state
    started = time.perf_counter() - (resume.wall_time if resume else 0.0)
    for epoch in range(result.epochs_run + 1, training.epochs + 1):
        total = 0.0
        for batch, rows in enumerate(epoch_batches(order, bs, shuffle, rng), start=1):
            if bs == 1:
                x, y = X[rows[0]:rows[0] + 1], Y[rows[0]:rows[0] + 1]
            else:
                m = len(rows)
                if gather:
                    np.take(X, rows, axis=0, out=xb[:m])
                    np.take(Y, rows, axis=0, out=yb[:m])
                x, y = xb[:m], yb[:m]
            m = len(x)
            out = net.forward(x, ws)
            value = net.loss(loss, y, ws)
            if not math.isfinite(value):
                return _stopped(result, net, good, started, "diverged",
                                f"loss became {value} at epoch {epoch}, batch {batch}")
            total += value * m
            outputs[rows] = out
            net.backward(x, y, loss, ws)
            updater.step()
            if hooks.stop_requested():
                return _stopped(result, net, good, started, "interrupted",
                                f"interrupted during epoch {epoch}")

        record = {"epoch": epoch, "loss": total / n, metric_name: metric_fn(outputs, Y)}
        if validation is not None:
            val_loss, val_metric, _ = evaluate(net, loss, *validation, metric_fn, val_ws)
            record["val_loss"] = val_loss
            record[f"val_{metric_name}"] = val_metric
            if not math.isfinite(val_loss):
                return _stopped(result, net, good, started, "diverged",
                                f"validation loss became {val_loss} at the end of epoch {epoch}")
        if not np.isfinite(net.theta).all():
            return _stopped(result, net, good, started, "diverged",
                            f"weights became non-finite in epoch {epoch}")
        np.copyto(good, net.theta)
        np.copyto(result.order, order)
        result.rng_state = rng.bit_generator.state
        result.history.append(record)
        result.wall_time = time.perf_counter() - started
        hooks.epoch_end(record, result)
    result.wall_time = time.perf_counter() - started
    return result


def _stopped(result: FitResult, net: Network, good: np.ndarray, started: float, status: str,
             where: str) -> FitResult:
    """Back to the last finished epoch's weights; the result says why training stopped."""
    np.copyto(net.theta, good)
    result.status = status
    result.reason = f"{where}; kept the weights of epoch {result.epochs_run}"
    if status == "diverged":
        result.reason += " (lower training.learning_rate, or scale the inputs)"
    result.wall_time = time.perf_counter() - started
    return result
