"""Trace: the first K training updates of a config, every number in textbook order.

For each update: the inputs and targets; for each layer the net input z = a_prev W + b and
the activation a; the loss; then backwards for each layer the delta (dL/dz), dL/dW and dL/db;
and the weights and biases after the update. The numbers come from the engine's own forward,
backward and update (``Network.forward``, ``Network.backward``, ``Updater``), on the batches
training would use, so K traced updates end on the same weights as K updates of ``nncli train``.

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
from ..engine.network import Network
from ..engine.optim import Updater
from ..files import finite_or_none
from ..training.experiment import Experiment, prepare
from ..training.loop import batch_rows, epoch_batches


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
    grad_norm: float | None = None  # the global gradient norm (update: normalized only)
    updated: dict[str, np.ndarray] | None = None  # the parameters after the update


@dataclass
class Trace:
    experiment: Experiment
    initial: dict[str, np.ndarray]  # the parameters before the first update
    steps: list[TraceStep]
    batch_size: int
    batches_per_epoch: int
    stopped: str | None = None  # why the trace ended early (a non-finite loss)

    def to_dict(self) -> dict:
        cfg = self.experiment.config
        t = cfg.training
        return {
            "name": cfg.name,
            "dtype": cfg.dtype,
            "loss": t.loss,
            "update": t.update,
            "learning_rate": t.learning_rate,
            "batch": t.batch,
            "batch_size": self.batch_size,
            "batches_per_epoch": self.batches_per_epoch,
            "layers": [layer_info(self.experiment.network, i)
                       for i in range(len(self.experiment.network.layers))],
            "initial": _lists(self.initial),
            "steps": [_step_dict(u) for u in self.steps],
            "stopped": self.stopped,
        }


def trace_config(config_path: str | Path, overrides: list[str] = (), steps: int = 1) -> Trace:
    """Run the first ``steps`` training updates of a config and record every number."""
    config_path = Path(config_path)
    experiment = prepare(load_config(config_path, overrides), config_path)
    return trace(experiment, steps)


def trace(experiment: Experiment, steps: int) -> Trace:
    """``steps`` updates of ``experiment.network`` (trained in place), as training does them."""
    net, loss, t = experiment.network, experiment.loss, experiment.config.training
    X, Y = experiment.X_train, experiment.Y_train
    n = len(X)
    bs = batch_rows(t, n)
    memory.require(f"--steps {steps}", memory.trace(  # every step is kept: check before
        steps, bs, [layer.units for layer in net.layers], net.n_inputs))
    ws = net.workspace(bs, keep_z=True)  # keep z apart from a: the trace shows both
    trainable = net.trainable()
    updater = Updater(net.parameters(), net.gradients(ws), trainable, t.update, t.learning_rate)
    result = Trace(experiment, _copies(net.parameters()), [], bs, math.ceil(n / bs))

    batches = training_batches(n, bs, t.shuffle, experiment.shuffle_rng)
    for number, (epoch, batch, rows) in enumerate(itertools.islice(batches, steps), start=1):
        x, y = X[rows], Y[rows]
        m = len(rows)
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported
            net.forward(x, ws)
            value = net.loss(loss, y, ws)
        layers = [LayerStep(ws.z[i][:m].copy(), ws.a[i][:m].copy()) for i in range(len(net.layers))]
        step = TraceStep(number, epoch, batch, rows, x, y, layers, value)
        result.steps.append(step)
        if not math.isfinite(value):
            result.stopped = (f"the loss became {value} at step {number} (epoch {epoch}, "
                              f"batch {batch}); training diverges here")
            break
        with np.errstate(over="ignore", invalid="ignore"):
            net.backward(x, y, loss, ws)
        grads = net.gradients(ws)
        for i, layer in enumerate(layers):
            layer.delta = ws.delta[i][:m].copy()
            layer.dW = grads[f"W{i + 1}"].copy()  # copied: the update consumes the buffers
            layer.db = None if f"b{i + 1}" not in grads else grads[f"b{i + 1}"].copy()
        if t.update == "normalized":
            step.grad_norm = math.sqrt(sum(float(np.vdot(g, g))
                                           for k, g in grads.items() if trainable[k]))
        updater.step()
        step.updated = _copies(net.parameters())
    return result


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


def _step_dict(u: TraceStep) -> dict:
    return {
        "step": u.number, "epoch": u.epoch, "batch": u.batch,
        "rows": [int(r) for r in u.rows],
        "x": _list(u.x), "y": _list(u.y),
        "forward": [{"layer": i + 1, "z": _list(l.z), "a": _list(l.a)}
                    for i, l in enumerate(u.layers)],
        "loss": finite_or_none(u.loss),
        "backward": [] if u.updated is None else [
            {"layer": i + 1, "delta": _list(l.delta), "dW": _list(l.dW),
             "db": None if l.db is None else _list(l.db)}
            for i, l in reversed(list(enumerate(u.layers)))],
        "grad_norm": None if u.grad_norm is None else finite_or_none(u.grad_norm),
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
    rule = ("w ← w − lr · dL/dw" if t.update == "gradient"
            else "w ← w − lr · dL/dw / ‖dL/dw‖ (the norm over all trainable gradients)")
    out = [
        f"# Trace of {cfg.name}",
        "",
        f"Loss `{t.loss}` (mean over the samples of a batch), update `{t.update}`: {rule} "
        f"with learning rate lr = {fmt(t.learning_rate)}. Batch `{t.batch}`: "
        f"{_plural(trace.batch_size, 'sample')} per update, "
        f"{_plural(trace.batches_per_epoch, 'update')} per epoch. dtype {cfg.dtype}.",
        "",
        "| layer | inputs | units | activation | bias | frozen |",
        "|--:|--:|--:|---|---|---|",
    ]
    for i in range(len(net.layers)):
        info = layer_info(net, i)
        out.append(f"| {info['layer']} | {info['inputs']} | {info['units']} | "
                   f"{info['activation']} | {'yes' if info['bias'] else 'no'} | "
                   f"{', '.join(info['frozen']) or '-'} |")
    out += ["", "## Initial weights", ""]
    out += _parameters(trace.initial, fmt)
    for u in trace.steps:
        out += _step_markdown(trace, u, fmt)
    if trace.stopped:
        out += ["", f"**Stopped:** {trace.stopped}."]
    return "\n".join(out) + "\n"


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
    out += ["### Loss", "",
            f"L = {t.loss}, mean over the {_plural(len(u.rows), 'sample')} = "
            f"**{fmt(u.loss)}**", ""]
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
        out += _matrix(f"**dL/dW{i}** = {prev}ᵀ · δ{i}", f"dL/dW{i}", layer.dW, fmt,
                       samples=False)
        if layer.db is not None:
            out += _matrix(f"**dL/db{i}** = δ{i} summed over the samples", f"dL/db{i}",
                           layer.db[None, :], fmt, samples=False)
    if u.grad_norm is not None:
        out += [f"Gradient norm ‖dL/dw‖ = {fmt(u.grad_norm)}", ""]
    out += ["### After the update", ""]
    out += _parameters(u.updated, fmt, net.trainable(), rule=True)
    return out


def _delta_formula(i: int, last: int, act: str, fused: bool, loss: str) -> str:
    if i == last and fused:
        return f"(a{i} − y) / n, the fused gradient of {act} with {loss}"
    upstream = f"dL/da{i}" if i == last else f"δ{i + 1} · W{i + 1}ᵀ"
    how = (f"({upstream}) through the softmax Jacobian" if act == "softmax"
           else f"({upstream}) ⊙ {act}′(z{i})")
    return how + (f", with dL/da{i} = {LOSSES[loss].gradient_text}" if i == last else "")


def _parameters(params: dict[str, np.ndarray], fmt, trainable: dict | None = None,
                rule: bool = False) -> list[str]:
    """Weight tables (rows: inputs, columns: units) and bias rows, by name."""
    out = []
    for name, p in params.items():
        if not rule:
            heading = f"**{name}**"
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
