"""Trace: the first K training updates of a config, every number in textbook order.

For each update: the inputs and targets; for each layer the net input z = a_prev W + b and
the activation a; the loss; then backwards for each layer the delta (dL/dz), dL/dW and dL/db;
the update rule's state after the step (v; m, v, m̂, v̂; s) and its effective learning rate;
and the weights and biases after the update. The numbers come from the engine's own forward,
backward and update rule, built by ``training.objective`` exactly as training builds them, on
the batches training would use, with the rate the schedule gives each epoch (and, across
epochs, the same end-of-epoch schedule and early stopping), so K traced updates end on the
same weights as K updates of ``nncli train``, bit for bit.

Dropout is the one exception: the trace draws one mask (from the run's dropout stream, as
training's first batch does) and uses it for every step, so that the numbers of different
steps can be compared; training draws a new mask for every batch. The trace says so.

The loss is the mean over the batch, so dL/dW and dL/db are already the batch-averaged
gradient that the update uses, and each row of a delta carries the 1/n of that mean.

Renderings: :meth:`Trace.to_dict` (JSON) and :func:`to_markdown` (course notes; the CLI's text
format is the same document rendered by rich).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import memory
from ..config import load_config
from ..engine.losses import LOSSES
from ..engine.network import CHUNK_ROWS, Network
from ..files import finite_or_none
from ..training.control import EpochControl
from ..training.experiment import Experiment, prepare
from ..training.loop import batch_rows, epoch_batches, epoch_record, history_columns
from ..training.objective import optimizer_for, penalty_for


@dataclass
class LayerStep:
    """One layer in one update. Per-sample arrays are (n, units)."""

    z: np.ndarray  # net input a_prev @ W + b
    a: np.ndarray  # activation f(z)
    delta: np.ndarray | None = None  # dL/dz of the batch-mean loss (None if the trace stopped)
    dW: np.ndarray | None = None  # dL/dW, (fan_in, units)
    db: np.ndarray | None = None  # dL/db, (units,); None for a layer without bias


@dataclass
class TraceStep:
    number: int  # 1-based, counted over the whole trace
    epoch: int
    batch: int  # 1-based within the epoch
    rows: np.ndarray  # the training-set rows of this batch, in batch order
    x: np.ndarray  # (n, features): the network's inputs (after scaling)
    y: np.ndarray  # (n, outputs): the network's targets (classes one-hot encoded)
    layers: list[LayerStep]
    loss: float
    weights: np.ndarray | None = None  # (n,) the rows' loss weights (class/sample weights)
    lr: float | None = None  # the rate of this step's epoch (the schedule's)
    penalty: float | None = None  # the weight penalty before the update (with l1/l2)
    grad_norm: float | None = None  # the global gradient norm (update: normalized only)
    optimizer: dict[str, np.ndarray] | None = None  # the rule's state after the step (flat)
    effective_lr: float | np.ndarray | None = None  # a number, or per parameter (adaptive)
    updated: dict[str, np.ndarray] | None = None  # the parameters after the update


@dataclass
class Trace:
    experiment: Experiment
    initial: dict[str, np.ndarray]  # the parameters before the first update
    steps: list[TraceStep]
    batch_size: int
    batches_per_epoch: int
    stopped: str | None = None  # why the trace ended early (a non-finite loss)
    formula: str = ""  # the update rule, in the form the config names
    settings: dict | None = None  # the rule's settings (momentum, beta1, ...)
    masks: dict[str, np.ndarray] | None = None  # the one dropout mask per layer ("1", ...)
    ended: str | None = None  # early stopping ended training within the traced steps

    def to_dict(self) -> dict:
        cfg = self.experiment.config
        t = cfg.training
        net = self.experiment.network
        return {
            "name": cfg.name,
            "dtype": cfg.dtype,
            "loss": t.loss,
            "update": t.update,
            "rule": {"formula": self.formula, **(self.settings or {})},
            "learning_rate": t.learning_rate,
            "schedule": t.model_dump(mode="json")["schedule"],
            "l2": t.l2,
            "l1": t.l1,
            "batch": t.batch,
            "batch_size": self.batch_size,
            "batches_per_epoch": self.batches_per_epoch,
            "layers": [layer_info(net, i) for i in range(len(net.layers))],
            "dropout": None if self.masks is None else {
                "note": DROPOUT_NOTE, "masks": {k: _list(m) for k, m in self.masks.items()}},
            "initial": _lists(self.initial),
            "steps": [_step_dict(net, u) for u in self.steps],
            "stopped": self.stopped,
            "ended": self.ended,
        }


DROPOUT_NOTE = ("one fixed dropout mask (drawn once from the run's dropout stream, as "
                "training's first batch draws it) is used for every traced step; training "
                "draws a new mask for every batch, so traced steps after the first differ "
                "from training's")


def trace_config(config_path: str | Path, overrides: list[str] = (), steps: int = 1) -> Trace:
    """Run the first ``steps`` training updates of a config and record every number."""
    config_path = Path(config_path)
    experiment = prepare(load_config(config_path, overrides), config_path)
    return trace(experiment, steps)


def trace(experiment: Experiment, steps: int) -> Trace:
    """``steps`` updates of ``experiment.network`` (trained in place), as training does them."""
    net, loss, t = experiment.network, experiment.loss, experiment.config.training
    X, Y, W = experiment.X_train, experiment.Y_train, experiment.w_train
    n = len(X)
    bs = batch_rows(t, n)
    memory.require(f"--steps {steps}", memory.trace(  # every step is kept: check before
        steps, bs, [layer.units for layer in net.layers], net.n_inputs))
    # keep z apart from a: the trace shows both; dropout: one mask, drawn once
    ws = net.workspace(bs, keep_z=True, dropout=net.has_dropout)
    optimizer, penalty = optimizer_for(net, t), penalty_for(net, t)
    result = Trace(experiment, _copies(net.parameters()), [], bs, math.ceil(n / bs),
                   formula=optimizer.formula(),
                   settings={k: getattr(optimizer, k) for k in optimizer.hyper})
    if net.has_dropout:
        for i, mask in fixed_masks(experiment, bs).items():
            ws.masks[i][...] = mask
        result.masks = {str(i + 1): ws.masks[i].copy() for i in ws.masks}
    epochs = Epochs(experiment, net, t)

    batches = training_batches(n, bs, t.shuffle, experiment.shuffle_rng)
    for number, (epoch, batch, rows) in enumerate(itertools.islice(batches, steps), start=1):
        if batch == 1 and epoch > 1:
            result.ended = epochs.end(epoch - 1)
            if result.ended:
                break
        optimizer.learning_rate = epochs.rate(epoch)
        x, y = X[rows], Y[rows]
        w = None if W is None else W[rows]
        m = len(rows)
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported
            out = net.forward(x, ws)
            value = net.loss(loss, y, ws, w)
        layers = [LayerStep(ws.z[i][:m].copy(), ws.a[i][:m].copy()) for i in range(len(net.layers))]
        step = TraceStep(number, epoch, batch, rows, x, y, layers, value, weights=w,
                         lr=optimizer.learning_rate)
        result.steps.append(step)
        if not math.isfinite(value):
            result.stopped = (f"the loss became {value} at step {number} (epoch {epoch}, "
                              f"batch {batch}); training diverges here")
            break
        with np.errstate(over="ignore", invalid="ignore"):
            pen = net.backward(x, y, loss, ws, weights=w, penalty=penalty)
        step.penalty = pen if penalty is not None else None
        epochs.add(rows, out, value, pen, m if w is None else float(w.sum()))
        grads = net.gradients(ws)
        for i, layer in enumerate(layers):
            layer.delta = ws.delta[i][:m].copy()
            layer.dW = grads[f"W{i + 1}"].copy()  # copied: the update consumes the buffers
            layer.db = None if f"b{i + 1}" not in grads else grads[f"b{i + 1}"].copy()
        optimizer.update(net.theta, ws.grad)
        if t.update == "normalized":
            step.grad_norm = optimizer.norm
        step.optimizer = {k: a.copy() for k, a in optimizer.shown().items()}
        effective = optimizer.effective_lr()
        step.effective_lr = effective.copy() if isinstance(effective, np.ndarray) else effective
        step.updated = _copies(net.parameters())
    return result


def fixed_masks(experiment: Experiment, bs: int) -> dict[int, np.ndarray]:
    """The one dropout mask of each dropout layer (by 0-based layer) that trace and the
    learner's tools use for every step: drawn once from the run's dropout stream for a batch of
    ``bs`` rows, by the network's own ``Workspace.draw_masks``, as training's first batch draws
    it."""
    ws = experiment.network.workspace(bs, dropout=True)
    ws.draw_masks(experiment.dropout_rng, bs)
    return ws.masks


class Epochs:
    """What happens between training's epochs, for a trace that spans several: the epoch's
    history row (the same ``epoch_record`` as training) fed to the same schedule and early
    stopping, so the rate of each epoch is training's. The learner's tools (insight/cells.py)
    feed it the step calculator's numbers, with ``net`` holding the weights after the last
    step at each epoch's end."""

    def __init__(self, experiment: Experiment, net: Network, training):
        self.e, self.net, self.training = experiment, net, training
        self.control = EpochControl(training, experiment.has_validation, net.theta)
        self.columns = history_columns(experiment.metric.name, experiment.has_validation,
                                       training)
        self.outputs = np.empty((experiment.n_train, net.n_outputs), net.dtype)
        self.sums = [0.0, 0.0, 0.0]

    def rate(self, epoch: int) -> float:
        return self.control.rate(epoch)

    def add(self, rows, outputs, value: float, penalty: float, share: float) -> None:
        self.outputs[rows] = outputs
        self.sums = [self.sums[0] + value * share, self.sums[1] + penalty * share,
                     self.sums[2] + share]

    def end(self, epoch: int) -> str | None:
        """The end of ``epoch``: a reason early stopping gives to stop there, or None."""
        e = self.e
        sums = self.sums if e.w_train is not None else (*self.sums[:2], e.n_train)
        validation = (e.X_val, e.Y_val) if e.has_validation else None
        val_ws = self.net.workspace(min(len(e.X_val), CHUNK_ROWS)) if validation else None
        with np.errstate(over="ignore", invalid="ignore"):
            record = epoch_record(self.columns, epoch, tuple(sums), self.outputs, e.Y_train,
                                  e.metric, self.control.rate(epoch), self.net, e.loss,
                                  validation, val_ws, e.w_val)
        self.sums = [0.0, 0.0, 0.0]
        reason = self.control.epoch_end(record, self.net.theta)
        if reason:
            kept = self.control.finish(self.net.theta.copy(), epoch)
            return f"{reason}: training stops after epoch {epoch} and keeps the weights of " \
                   f"epoch {kept}"
        return None


def training_batches(n: int, bs: int, shuffle: bool,
                     rng: np.random.Generator) -> Iterator[tuple[int, int, np.ndarray]]:
    """(epoch, batch, rows) of every update, in the order ``training.fit`` trains on them
    (both cut epochs with ``training.epoch_batches``)."""
    order = np.arange(n)
    for epoch in itertools.count(1):
        for batch, rows in enumerate(epoch_batches(order, bs, shuffle, rng), start=1):
            yield epoch, batch, rows.copy()


def layer_info(net: Network, i: int) -> dict:
    layer = net.layers[i]
    return {"layer": i + 1, "inputs": layer.W.shape[0], "units": layer.units,
            "activation": layer.activation.name, "bias": layer.b is not None,
            "frozen": sorted(layer.frozen)}


def _step_dict(net: Network, u: TraceStep) -> dict:
    return {
        "step": u.number, "epoch": u.epoch, "batch": u.batch,
        "rows": [int(r) for r in u.rows],
        "x": _list(u.x), "y": _list(u.y),
        "weights": None if u.weights is None else [float(v) for v in u.weights],
        "forward": [{"layer": i + 1, "z": _list(l.z), "a": _list(l.a)}
                    for i, l in enumerate(u.layers)],
        "loss": finite_or_none(u.loss),
        "penalty": None if u.penalty is None else finite_or_none(u.penalty),
        "backward": [] if u.updated is None else [
            {"layer": i + 1, "delta": _list(l.delta), "dW": _list(l.dW),
             "db": None if l.db is None else _list(l.db)}
            for i, l in reversed(list(enumerate(u.layers)))],
        "grad_norm": None if u.grad_norm is None else finite_or_none(u.grad_norm),
        "lr": u.lr,
        "optimizer": None if u.optimizer is None else {
            "state": {k: _lists(net.named(a)) for k, a in u.optimizer.items()},
            "effective_lr": (_lists(net.named(u.effective_lr))
                             if isinstance(u.effective_lr, np.ndarray)
                             else finite_or_none(u.effective_lr))},
        "updated": None if u.updated is None else _lists(u.updated),
    }


# --- Markdown ---------------------------------------------------------------------------------

def to_markdown(trace: Trace, digits: int = 6) -> str:
    """The trace as a Markdown document (pipe tables), numbers to ``digits`` significant
    digits."""
    fmt = _formatter(digits)
    cfg = trace.experiment.config
    t = cfg.training
    net = trace.experiment.network
    rule = ("w ← w − lr · dL/dw" if t.update == "gradient" else
            "w ← w − lr · dL/dw / ‖dL/dw‖ (the norm over all trainable gradients)"
            if t.update == "normalized" else f"{trace.formula}, where g = dL/dw,")
    form = f" (form `{t.momentum_form}`)" if t.momentum_form else ""
    mean = ("weighted mean Σ wᵢ·Lᵢ / Σ wᵢ over the samples of a batch, w from class and "
            "sample weights" if trace.experiment.weights is not None
            else "mean over the samples of a batch")
    out = [
        f"# Trace of {cfg.name}",
        "",
        f"Loss `{t.loss}` ({mean}), update `{t.update}`{form}: {rule} "
        f"with learning rate lr = {fmt(t.learning_rate)}"
        + ("" if t.schedule.kind == "constant" else
           f" at epoch 1, then as schedule `{t.schedule.kind}` gives") + ". "
        f"Batch `{t.batch}`: "
        f"{_plural(trace.batch_size, 'sample')} per update, "
        f"{_plural(trace.batches_per_epoch, 'update')} per epoch. dtype {cfg.dtype}.",
        "",
    ]
    if t.l2 or t.l1:
        out += [f"Penalty (added to the loss; its gradient joins dL/dW before the update): "
                f"{_penalty_text(t)}, over the weights, not the biases.", ""]
    out += [
        "| layer | inputs | units | activation | bias | frozen |",
        "|--:|--:|--:|---|---|---|",
    ]
    for i in range(len(net.layers)):
        info = layer_info(net, i)
        out.append(f"| {info['layer']} | {info['inputs']} | {info['units']} | "
                   f"{info['activation']} | {'yes' if info['bias'] else 'no'} | "
                   f"{', '.join(info['frozen']) or '-'} |")
    if trace.masks:
        out += ["", f"**Dropout:** {DROPOUT_NOTE}. A mask holds 0 for a dropped unit and "
                    "1 / (1 − p) for a kept one; the next layer reads a ⊙ m.", ""]
        for layer, mask in trace.masks.items():
            out += _matrix(f"**m{layer}**: the dropout mask of layer {layer}", f"m{layer}",
                           mask, fmt)
    out += ["", "## Initial weights", ""]
    out += _parameters(trace.initial, fmt)
    for u in trace.steps:
        out += _step_markdown(trace, u, fmt)
    if trace.stopped:
        out += ["", f"**Stopped:** {trace.stopped}."]
    if trace.ended:
        out += ["", f"**Early stopping:** {trace.ended}."]
    return "\n".join(out) + "\n"


def _penalty_text(t) -> str:
    terms = []
    if t.l2:
        terms.append(f"(l2/2)·ΣW² with l2 = {t.l2:g}")
    if t.l1:
        terms.append(f"l1·Σ|W| with l1 = {t.l1:g}")
    return " + ".join(terms)


def _penalty_gradient(t, name: str) -> str:
    terms = ([f" + l2 · {name}"] if t.l2 else []) + ([f" + l1 · sign({name})"] if t.l1 else [])
    return "".join(terms)


def _step_markdown(trace: Trace, u: TraceStep, fmt) -> list[str]:
    t = trace.experiment.config.training
    net = trace.experiment.network
    fused = trace.experiment.loss.fused_with == net.layers[-1].activation.name
    last = len(net.layers)
    rows = ", ".join(str(int(r)) for r in u.rows)
    out = ["", f"## Step {u.number}: epoch {u.epoch}, batch {u.batch} of "
               f"{trace.batches_per_epoch}", "",
           f"Training rows {rows} (0-based; n = {len(u.rows)}). Rows of x, y, z, a and δ are "
           "samples; rows of W are inputs; columns are features or units.", "",
           "### Forward", ""]
    out += _matrix("**x**: the inputs", "x", u.x, fmt)
    out += _matrix("**y**: the targets", "y", u.y, fmt)
    for i, layer in enumerate(u.layers, start=1):
        prev = "x" if i == 1 else f"a{i - 1}"
        bias = f" + b{i}" if net.layers[i - 1].b is not None else ""
        name = net.layers[i - 1].activation.name
        out += _matrix(f"**z{i}** = {prev} · W{i}{bias}", f"z{i}", layer.z, fmt)
        out += _matrix(f"**a{i}** = {name}(z{i})" + (", the output" if i == last else ""),
                       f"a{i}", layer.a, fmt)
    if u.weights is not None:
        out += _matrix("**w**: the rows' loss weights", "w", u.weights[:, None], fmt)
    mean = "weighted mean" if u.weights is not None else "mean"
    out += ["### Loss", "",
            f"L = {t.loss}, {mean} over the {_plural(len(u.rows), 'sample')} = "
            f"**{fmt(u.loss)}**", ""]
    if u.penalty is not None:
        out += [f"Penalty {_penalty_text(t)} = **{fmt(u.penalty)}** (objective L + penalty "
                f"= {fmt(u.loss + u.penalty)})", ""]
    if u.updated is None:
        return out
    out += ["### Backward", "",
            "δ = dL/dz for each layer; dL/dW and dL/db are the batch-averaged gradient the "
            "update uses.", ""]
    for i in range(last, 0, -1):
        layer = u.layers[i - 1]
        how = _delta_formula(i, last, net.layers[i - 1].activation.name, fused, t.loss)
        out += _matrix(f"**δ{i}** = dL/dz{i} = {how}", f"δ{i}", layer.delta, fmt)
        prev = "x" if i == 1 else f"a{i - 1}"
        out += _matrix(f"**dL/dW{i}** = {prev}ᵀ · δ{i}{_penalty_gradient(t, f'W{i}')}",
                       f"dL/dW{i}", layer.dW, fmt, samples=False)
        if layer.db is not None:
            out += _matrix(f"**dL/db{i}** = δ{i} summed over the samples", f"dL/db{i}",
                           layer.db[None, :], fmt, samples=False)
    if u.grad_norm is not None:
        out += [f"Gradient norm ‖dL/dw‖ = {fmt(u.grad_norm)}", ""]
    if t.update != "gradient" or t.schedule.kind != "constant":
        out += _update_markdown(trace, u, fmt)
    out += ["### After the update", ""]
    out += _parameters(u.updated, fmt, net.trainable(),
                       rule="w − lr · dL/dw" if t.update == "gradient" else "the step")
    return out


def _update_markdown(trace: Trace, u: TraceStep, fmt) -> list[str]:
    """The rule's state after the step (v; m, v, m̂, v̂; s) and its effective rate."""
    net = trace.experiment.network
    out = ["### Update", "", f"{trace.formula}; lr = {fmt(u.lr)} (epoch {u.epoch}).", ""]
    if isinstance(u.effective_lr, np.ndarray):
        out += ["Effective learning rate per weight (what multiplies the gradient, or m̂):", ""]
        for name, values in net.named(u.effective_lr).items():
            out += _matrix(f"**lr_eff** of {name}", name, _rows(values), fmt, samples=False)
    else:
        out += [f"Effective learning rate: **{fmt(u.effective_lr)}**", ""]
    for key, flat in u.optimizer.items():
        for name, values in net.named(flat).items():
            out += _matrix(f"**{_STATE_NAMES.get(key, key)}** of {name}", name, _rows(values),
                           fmt, samples=False)
    return out


_STATE_NAMES = {"m_hat": "m̂", "v_hat": "v̂"}


def _rows(values: np.ndarray) -> np.ndarray:
    return values if values.ndim == 2 else values[None, :]


def _delta_formula(i: int, last: int, act: str, fused: bool, loss: str) -> str:
    if i == last and fused:
        return f"(a{i} − y) / n, the fused gradient of {act} with {loss}"
    upstream = f"dL/da{i}" if i == last else f"δ{i + 1} · W{i + 1}ᵀ"
    how = (f"({upstream}) through the softmax Jacobian" if act == "softmax"
           else f"({upstream}) ⊙ {act}′(z{i})")
    return how + (f", with dL/da{i} = {LOSSES[loss].gradient_text}" if i == last else "")


def _parameters(params: dict[str, np.ndarray], fmt, trainable: dict | None = None,
                rule: str | None = None) -> list[str]:
    """Weight tables (rows: inputs, columns: units) and bias rows, by name."""
    out = []
    for name, p in params.items():
        if not rule:
            heading = f"**{name}**"
        elif trainable[name] and rule == "the step":
            heading = f"**{name}** after the step"
        elif trainable[name]:
            heading = f"**{name}** ← {name} − lr · dL/d{name}"
        else:
            heading = f"**{name}** (frozen: unchanged)"
        out += _matrix(heading, name, p if p.ndim == 2 else p[None, :], fmt, samples=False)
    return out


def _matrix(heading: str, corner: str, values: np.ndarray, fmt, samples: bool = True) -> list[str]:
    """A heading line and a pipe table. Rows are samples or, for weights, inputs (numbered
    from 1; a single parameter row is unnumbered); columns are features or units."""
    rows, cols = values.shape
    label = (lambda r: str(r + 1)) if samples or rows > 1 else (lambda r: "")
    lines = [heading, "",
             "| " + " | ".join([corner] + [str(c + 1) for c in range(cols)]) + " |",
             "|" + "--:|" * (cols + 1)]
    for r in range(rows):
        lines.append("| " + " | ".join([label(r)] + [fmt(v) for v in values[r]]) + " |")
    return lines + [""]


def _formatter(digits: int):
    def fmt(v) -> str:
        text = f"{float(v):.{digits}g}"
        return "0" if text == "-0" else text
    return fmt


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _copies(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in params.items()}


def _list(a: np.ndarray) -> list:
    values = a.astype(np.float64).astype(object)  # Python floats
    values[~np.isfinite(a)] = None
    return values.tolist()


def _lists(params: dict[str, np.ndarray]) -> dict[str, list]:
    return {k: _list(v) for k, v in params.items()}
