"""The training loop: batches, updates, per-epoch history, divergence, early stopping.

It knows nothing of files or terminals: it reports each epoch to a :class:`Hooks` object (which
also says when to stop) and returns a :class:`FitResult`. History follows the contract: ``loss`` is the mean of the epoch's
batch losses weighted by batch size (= the mean per-sample loss over the epoch), each taken
before its update, as Keras and scikit-learn log it; the train metric comes from the same
pre-update outputs; validation columns use the weights at the end of the epoch.

With row weights (class_weight, sample_weight) each batch loss is the weighted mean and the
epoch's loss weights each batch by its total weight (= the weighted mean per-sample loss).
``penalty`` (with l1 or l2) is the weight penalty averaged the same way, at the same pre-update
weights, so loss + penalty is the epoch's objective; ``lr`` (with a schedule) is the rate the
epoch used. The update rule, the penalty and the weights come from ``objective.py``, the
schedule and early stopping from ``control.py``.
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
from ..metrics import Metric
from ..runs.formats import layer_records
from .control import EpochControl
from .layerstats import LayerStats
from .objective import optimizer_for, penalty_for


@dataclass
class FitResult:
    # One dict per finished epoch; None when the caller keeps the history itself (the trainer
    # streams it to history.csv through its hooks, so memory stays flat).
    history: list[dict] | None = field(default_factory=list)
    epochs_run: int = 0
    last_record: dict | None = None  # the history row of the last finished epoch
    status: str = "finished"  # finished | diverged | interrupted
    reason: str = ""
    wall_time: float = 0.0
    # Where the last finished epoch left the shuffling; with the weights, all a resume needs:
    # the row order of that epoch (the next shuffle permutes it further) and the rng's state.
    order: np.ndarray | None = None
    rng_state: dict | None = None
    # The rest of that boundary: the update rule's state ({"t": steps, "arrays": {name: flat
    # array}}), the schedule's and early stopping's state (EpochControl.state), early
    # stopping's best weights (flat, with restore_best) and the dropout generator's state.
    optimizer: dict | None = None
    control: dict | None = None
    best_theta: np.ndarray | None = None
    dropout_rng_state: dict | None = None
    # With early stopping: the best epoch (and its monitored value), and the epoch whose
    # weights training ended with.
    best_epoch: int | None = None
    best_value: float | None = None
    weights_epoch: int | None = None
    # With training.layer_stats (layerstats.py): the statistics as they are computed (the
    # trainer takes their rows as they come, into layers.csv); with keep_history, all the rows.
    layer_stats: LayerStats | None = None
    layers: list[dict] | None = None

    def __post_init__(self):
        if self.history and not self.epochs_run:
            self.epochs_run = len(self.history)
        if self.history and self.last_record is None:
            self.last_record = self.history[-1]


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


def history_columns(metric_name: str, has_validation: bool,
                    training: TrainingConfig) -> list[str]:
    """The keys of one history row, in order."""
    columns = ["epoch", "loss"]
    if training.l2 or training.l1:
        columns.append("penalty")
    columns.append(metric_name)
    if has_validation:
        columns += ["val_loss", f"val_{metric_name}"]
    if training.schedule.kind != "constant":
        columns.append("lr")
    return columns


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
        hooks: Hooks | None = None, resume: FitResult | None = None,
        weights: np.ndarray | None = None, val_weights: np.ndarray | None = None,
        dropout_rng: np.random.Generator | None = None, keep_history: bool = True
        ) -> FitResult:
    """Train ``net`` in place on (X, Y) as ``training`` says (batches, update rule, learning
    rate and schedule, penalties, early stopping) up to epoch ``training.epochs``; ``rng``
    shuffles; ``metric`` is the task metric; ``weights`` (and ``val_weights``) weigh each
    row's loss; ``dropout_rng`` draws the dropout masks (needed when ``net`` has dropout).

    On a non-finite loss the parameters are restored to the end of the last finished epoch
    (the last finite weights) and the result says ``diverged`` with where it happened.
    ``hooks.stop_requested()`` is asked after every batch; when it says yes, the weights go
    back to the end of the last finished epoch too and the result says ``interrupted``. Either
    way the result describes that epoch boundary (history, order, rng states, optimizer,
    schedule and early-stopping state), so ``resume=`` with it and those weights in ``net``
    continues exactly as if training had never stopped. Early stopping ends training as
    ``finished``, with its reason and (with restore_best) the best epoch's weights.
    ``hooks.epoch_end`` sees every finished epoch (for progress and checkpoints); with
    ``keep_history=False`` the result keeps no history rows (the hooks have seen them).
    """
    hooks = hooks or Hooks()
    n = len(X)
    bs = batch_rows(training, n)
    shuffle = training.shuffle
    dropout = net.has_dropout
    if dropout and dropout_rng is None:
        raise ValueError("fit: a network with dropout needs dropout_rng")
    if not dropout:
        dropout_rng = None  # never drawn from: no state to keep
    ws = net.workspace(bs, dropout=dropout)
    val_ws = net.workspace(min(len(validation[0]), CHUNK_ROWS)) if validation else None
    # A step output (the perceptron) flips its outputs with every update: its accuracy is
    # taken with the weights at the end of the epoch, the weights the summary reports on.
    end_metric = (net.workspace(min(n, CHUNK_ROWS))
                  if not net.layers[-1].activation.differentiable else None)
    optimizer = optimizer_for(net, training)
    penalty = penalty_for(net, training)
    control = EpochControl(training, validation is not None, net.theta)
    columns = history_columns(metric.name, validation is not None, training)
    good = net.theta.copy()  # the last weights known to be finite
    stats = LayerStats(net, ws) if training.layer_stats else None

    order = np.arange(n)
    # Batches are gathered by index into reused buffers. Two cases need no gather: one full
    # batch trains on X itself, and a batch of one row is already a contiguous view X[i:i+1].
    gather = bs < n and bs > 1
    xb = np.empty((bs, X.shape[1]), X.dtype) if gather else X
    yb = np.empty((bs, Y.shape[1]), Y.dtype) if gather else Y
    wb = np.empty(bs, weights.dtype) if gather and weights is not None else weights
    # The epoch's pre-update outputs for the train metric, put back in row order batch by
    # batch, so the metric compares them with Y itself (no epoch-sized copy of the targets).
    outputs = np.empty((n, net.n_outputs), net.dtype)

    result = FitResult(history=None, epochs_run=resume.epochs_run if resume else 0,
                       last_record=resume.last_record if resume else None, layer_stats=stats)
    if keep_history:
        result.history = list(resume.history or []) if resume else []
        if stats is not None:
            result.layers = list(resume.layers or []) if resume else []
    result.optimizer = {"rule": training.update, "t": 0,
                        "arrays": {k: a.copy() for k, a in optimizer.state.items()}}
    if resume is not None:
        np.copyto(order, resume.order)
        rng.bit_generator.state = resume.rng_state
        if resume.optimizer is not None:
            optimizer.load_state(resume.optimizer["t"], resume.optimizer["arrays"])
        if resume.control is not None:
            control.load(resume.control, resume.best_theta)
        if dropout and resume.dropout_rng_state is not None:
            dropout_rng.bit_generator.state = resume.dropout_rng_state
    _boundary(result, order, rng, optimizer, control, dropout_rng)
    started = time.perf_counter() - (resume.wall_time if resume else 0.0)
    reason = None
    for epoch in range(result.epochs_run + 1, training.epochs + 1):
        lr = optimizer.learning_rate = control.rate(epoch)
        total = penalty_total = size = 0.0
        for batch, rows in enumerate(epoch_batches(order, bs, shuffle, rng), start=1):
            w = None
            if bs == 1:
                x, y = X[rows[0]:rows[0] + 1], Y[rows[0]:rows[0] + 1]
                if weights is not None:
                    w = weights[rows[0]:rows[0] + 1]
            else:
                m = len(rows)
                if gather:
                    np.take(X, rows, axis=0, out=xb[:m])
                    np.take(Y, rows, axis=0, out=yb[:m])
                    if weights is not None:
                        np.take(weights, rows, out=wb[:m])
                x, y = xb[:m], yb[:m]
                if weights is not None:
                    w = wb[:m]
            m = len(x)
            if dropout:
                ws.draw_masks(dropout_rng, m)
            out = net.forward(x, ws)
            value = net.loss(loss, y, ws, w)
            if not math.isfinite(value):
                return _stopped(result, net, good, started, "diverged",
                                f"loss became {value} at epoch {epoch}, batch {batch}")
            share = m if w is None else float(w.sum())
            total += value * share
            size += share
            outputs[rows] = out
            penalty_total += net.backward(x, y, loss, ws, weights=w, penalty=penalty) * share
            if stats is not None and stats.sampling:  # before the update uses grad as scratch
                stats.batch(m)
            optimizer.update(net.theta, ws.grad)
            if hooks.stop_requested():
                return _stopped(result, net, good, started, "interrupted",
                                f"interrupted during epoch {epoch}")

        if weights is None:
            size = n  # the plain mean, divided exactly as it always was
        if end_metric is not None:
            evaluated = evaluate(net, loss, X, Y, metric.fn, end_metric)[2]
            np.copyto(outputs, evaluated)
        record = epoch_record(columns, epoch, (total, penalty_total, size), outputs, Y, metric,
                              lr, net, loss, validation, val_ws, val_weights)
        if validation is not None and not math.isfinite(record["val_loss"]):
            return _stopped(result, net, good, started, "diverged",
                            f"validation loss became {record['val_loss']} at the end of "
                            f"epoch {epoch}")
        if not np.isfinite(net.theta).all():
            return _stopped(result, net, good, started, "diverged",
                            f"weights became non-finite in epoch {epoch}")
        if stats is not None:
            stats.epoch(epoch, net.theta, good)
        reason = control.epoch_end(record, net.theta)
        np.copyto(good, net.theta)
        _boundary(result, order, rng, optimizer, control, dropout_rng)
        result.epochs_run += 1
        result.last_record = record
        if result.history is not None:
            result.history.append(record)
        result.wall_time = time.perf_counter() - started
        hooks.epoch_end(record, result)
        if reason:
            break
    if control.stopping is not None and result.epochs_run:
        last = result.epochs_run
        result.best_epoch = control.best_epoch
        result.best_value = control.stopping.best.value
        result.weights_epoch = control.finish(net.theta, last)
        kept = f"kept the weights of epoch {result.weights_epoch}"
        if reason:
            result.reason = f"{reason}; {kept}"
        elif result.weights_epoch != last:
            result.reason = (f"reached training.epochs ({training.epochs}); {kept}, the best "
                             f"{control.stopping.config.monitor}")
    result.wall_time = time.perf_counter() - started
    return _layer_rows(result)


def _layer_rows(result: FitResult) -> FitResult:
    """The statistics of every finished epoch computed (and kept, with keep_history)."""
    if result.layer_stats is not None:
        result.layer_stats.flush()
        if result.layers is not None:
            result.layers += layer_records(result.layer_stats.take())
    return result


def epoch_record(columns: list[str], epoch: int, sums: tuple[float, float, float],
                 outputs: np.ndarray, Y: np.ndarray, metric: Metric, lr: float, net: Network,
                 loss: Loss, validation, val_ws, val_weights) -> dict:
    """The history row of an epoch: ``sums`` = (batch losses, batch penalties, batch sizes or
    weights) accumulated over it; ``outputs`` its pre-update outputs; validation at the
    current weights."""
    total, penalty_total, size = sums
    values = {"epoch": epoch, "loss": total / size, "penalty": penalty_total / size,
              metric.name: metric.fn(outputs, Y), "lr": lr}
    if validation is not None:
        val_loss, val_metric, _ = evaluate(net, loss, *validation, metric.fn, val_ws,
                                           weights=val_weights)
        values["val_loss"], values[f"val_{metric.name}"] = val_loss, val_metric
    return {c: values[c] for c in columns}


def _boundary(result: FitResult, order: np.ndarray, rng: np.random.Generator, optimizer,
              control: EpochControl, dropout_rng: np.random.Generator | None) -> None:
    """Record in ``result`` where training stands at the end of an epoch (into buffers
    allocated once): what a resume needs besides the weights."""
    if result.order is None:
        result.order = order.copy()
    else:
        np.copyto(result.order, order)
    result.rng_state = rng.bit_generator.state
    result.optimizer["t"] = optimizer.t
    for k, a in optimizer.state.items():
        np.copyto(result.optimizer["arrays"][k], a)
    result.control = control.state()
    if control.best_theta is not None:
        if result.best_theta is None:
            result.best_theta = control.best_theta.copy()
        else:
            np.copyto(result.best_theta, control.best_theta)
    if dropout_rng is not None:
        result.dropout_rng_state = dropout_rng.bit_generator.state


def _stopped(result: FitResult, net: Network, good: np.ndarray, started: float, status: str,
             where: str) -> FitResult:
    """Back to the last finished epoch's weights; the result says why training stopped."""
    np.copyto(net.theta, good)
    result.status = status
    result.reason = f"{where}; kept the weights of epoch {result.epochs_run}"
    if status == "diverged":
        result.reason += " (lower training.learning_rate, or scale the inputs)"
    result.wall_time = time.perf_counter() - started
    return _layer_rows(result)
