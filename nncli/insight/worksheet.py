"""Worksheets: the trace of the first K updates with blanks to fill in, every blank a named cell.

Two renderings of the same cells (insight/cells.py names them): Markdown, one table per array
as `nncli trace` prints them (rows are samples, or inputs for weights; columns are units),
ready to print or to fill in with an editor; and CSV, one cell per line
(``step,stage,cell,formula,value``), ready for a spreadsheet. The givens (the batch, and at the
first step the initial weights) are filled in with nncli's exact values; every other cell is
blank. ``nncli check`` reads either back.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np

from ..engine.losses import LOSSES
from .cells import Cell, Exercise, cell_names, form_of
from .stepcalc import UPDATE_FORMS, Quantity, Step

Filled = dict[str, str]  # cell label -> text written in it


def exact(value: float, dtype) -> str:
    """The shortest text that reads back as this value in ``dtype`` (``3``, ``0.95``)."""
    text = str(np.dtype(dtype).type(value))
    return text[:-2] if text.endswith(".0") else text


def conventions(ex: Exercise) -> list[str]:
    """The conventions of the exercise, one bullet each (worksheets and kits)."""
    cfg = ex.experiment.config
    t = cfg.training
    net = ex.experiment.network
    layers = " → ".join([str(net.n_inputs)] + [f"{l.units} ({l.activation.name})"
                                                for l in net.layers])
    biases = [i for i, l in enumerate(net.layers, start=1) if l.b is None]
    frozen = [k for k, on in net.trainable().items() if not on]
    loss = LOSSES[t.loss]
    out = [
        f"Network: {layers}" + (f"; no bias in layer {', '.join(map(str, biases))}"
                                if biases else "; every layer has a bias") + ".",
        f"Loss `{t.loss}`: per sample, {_first_line(loss)}; then the mean over the samples "
        f"of a batch, so " + (f"δ = dL/dz = (a − y) / n at the {loss.fused_with} output"
                              if loss.fused_with else f"dL/da = {loss.gradient_text}") + ".",
        f"Update `{t.update}`: {UPDATE_FORMS[t.update].describe(ex.model)} with "
        f"lr = {exact(t.learning_rate, np.float64)}"
        + (f" at epoch 1, then as schedule `{t.schedule.kind}` gives (each step says its "
           f"rate)" if ex.model.scheduled else "")
        + ", for every weight and bias"
        + (f" except the frozen {', '.join(frozen)} (W′ = W)" if frozen else "") + ".",
        f"Batches: `{t.batch}`, {_plural(ex.batch_size, 'sample')} per update, "
        f"{_plural(ex.batches_per_epoch, 'update')} per epoch"
        + (", reshuffled every epoch" if t.shuffle and ex.batches_per_epoch > 1 else "")
        + f"; numbers in {cfg.dtype}.",
        "Every δ and gradient of a step is computed with the weights before that step's "
        "update; step k + 1 starts from the weights after step k.",
    ]
    if ex.model.penalty is not None:
        out.append(f"Penalty: {ex.quantity('penalty').formula.removeprefix('penalty = ')}; "
                   f"its gradient is part of dW (the update uses the gradient of L + penalty).")
    if ex.model.weighted:
        out.append("Class and sample weights: each row i of a batch has a weight wᵢ (given "
                   "as w), the loss is the weighted mean Σ wᵢ·Lᵢ / Σ wᵢ, so row i of the "
                   "output δ carries wᵢ / Σ wᵢ where the plain mean has 1/n.")
    if ex.model.dropout:
        layers = ", ".join(f"layer {l} (p = {p:g})" for l, p in ex.model.dropout.items())
        masks = ", ".join(f"mask{l}" for l in ex.model.dropout)
        out.append(f"Dropout on {layers}: one fixed mask per layer (given as {masks}: 0 for "
                   f"a dropped unit, 1 / (1 − p) for a kept one), drawn once from the run's "
                   f"dropout stream as training's first batch draws it, and used for every "
                   f"step (training draws a new one per batch); the next layer reads "
                   f"a ⊙ mask, and δ of the layer is multiplied by it.")
    return out


NAMING = ("Cells are named by their table and position, counted from 1: row s, column j of "
          "table `z1` is `z1[s,j]`, or `z1[j]` when the batch has one sample (an unnumbered "
          "row); `W1[i,j]` is the weight from input i to unit j (nncli's W is (inputs, "
          "units): Hagan's w¹ⱼ,ᵢ); `delta2[j]` is δ2 of unit j; `L` is the loss. A cell of step k > 1 is written "
          "`z1[j]@k`.")


def to_markdown(ex: Exercise, filled: Filled | None = None) -> str:
    """The worksheet in Markdown: givens filled in, every other cell blank (or as ``filled``
    has it)."""
    filled = filled or {}
    out = [f"# Worksheet: {ex.name}, {_plural(len(ex.steps), 'step')}", ""]
    out += [f"- {line}" for line in conventions(ex)]
    out += [f"- {NAMING}", ""]
    for number, step in enumerate(ex.steps, start=1):
        b = ex.batches[number - 1]
        rows = ", ".join(str(int(r)) for r in b.rows)
        rate = (f" The rate of epoch {b.epoch}: lr = {exact(b.lr, np.float64)}."
                if ex.model.scheduled else "")
        out += [f"## Step {number}: epoch {b.epoch}, batch {b.batch} of {ex.batches_per_epoch}",
                "", f"Training rows {rows} (0-based; n = {len(b.rows)}).{rate}", "",
                "### Given", ""]
        if number > 1:
            state = " and the update's state" if UPDATE_FORMS[ex.model.update].state_keys(
                ex.model) else ""
            out += [f"The weights{state} are those after step {number - 1} (W′ there).", ""]
        for key in ex.givens(number):
            out += _grid(f"**{key}**: {_given_text(key)}", key, form_of(key),
                         step.values[key], lambda c: exact(ex.value(c), ex.model.dtype), number)
        stage = None
        for q in ex.quantities:
            if q.stage != stage:
                stage = q.stage
                out += [f"### {_STAGES[stage]}", ""]
            out += _quantity(q, step.values[q.key], filled, number)
    if ex.ended:
        out += [f"**Early stopping:** {ex.ended}.", ""]
    return "\n".join(out) + "\n"


_STAGES = {"forward": "Forward", "loss": "Loss", "backward": "Backward",
           "update": "After the update"}


def _given_text(key: str) -> str:
    if key == "x":
        return "the inputs (rows: samples, columns: features)"
    if key == "y":
        return "the targets (rows: samples, columns: outputs)"
    if key == "w":
        return "the rows' loss weights (class and sample weights), in batch order"
    if key.startswith("mask"):
        return (f"the dropout mask of layer {key[4:]} (rows: samples, columns: units; 0: "
                f"dropped, 1 / (1 − p): kept)")
    if key[0] == "W":
        return f"the weights into layer {key[1:]} (rows: inputs i, columns: units j)"
    if key[0] == "b":
        return f"the biases of layer {key[1:]}"
    state, name = re.match(r"^([a-z]+)([Wb]\d+)$", key).groups()
    return f"the update's state {state} of {name} before the first step (zero)"


def _quantity(q: Quantity, values: np.ndarray, filled: Filled, number: int) -> list[str]:
    def text(c: Cell) -> str:
        return filled.get(c.label, "")

    if q.form == "scalar":
        cell = Cell(number, q.key, (), q.key, q.stage)
        return [q.formula, "", "| cell | value |", "|---|--:|",
                f"| {q.key} | {text(cell)} |", ""]
    return _grid(q.formula, q.key, q.form, values, text, number, q.stage)


def _grid(heading: str, key: str, form: str, values: np.ndarray, text, number: int,
          stage: str = "given") -> list[str]:
    """A heading and a pipe table of an array's cells: rows numbered (samples of a batch of
    several, inputs of weights) or unnumbered (one sample, a bias row); columns numbered."""
    grid = values if values.ndim == 2 else values[None, :]
    rows, cols = grid.shape
    numbered = form == "weights" or (form == "samples" and rows > 1)
    names = dict(cell_names(key, form, values.shape))
    lines = [heading, "", "| " + " | ".join([key] + [str(c + 1) for c in range(cols)]) + " |",
             "|" + "--:|" * (cols + 1)]
    for r in range(rows):
        row = [str(r + 1) if numbered else ""]
        for c in range(cols):
            index = (r, c) if values.ndim == 2 else (c,)
            row.append(text(Cell(number, key, index, names[index], stage)))
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def fill(ex: Exercise, steps: list[Step], digits: int = 6) -> Filled:
    """Every non-given cell filled in with ``steps``' numbers to ``digits`` significant digits,
    as a learner would write them (``steps`` from ``Exercise.rerun``: with a mistake, say)."""
    return {c.label: f"{float(steps[c.step - 1].values[c.key][c.index]):.{digits}g}"
            for c in ex.all_cells() if c.stage != "given"}


def to_csv(ex: Exercise, filled: Filled | None = None) -> str:
    """The worksheet as CSV, one cell per line: ``step,stage,cell,formula,value``."""
    filled = filled or {}
    formulas = {q.key: q.formula for q in ex.quantities}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["step", "stage", "cell", "formula", "value"])
    for c in ex.all_cells():
        if c.stage == "given":
            w.writerow([c.step, c.stage, c.name, _given_text(c.key),
                        exact(ex.value(c), ex.model.dtype)])
        else:
            w.writerow([c.step, c.stage, c.name, formulas[c.key], filled.get(c.label, "")])
    return buf.getvalue()


def _first_line(loss) -> str:
    """A loss's definition: the first line of its class's docstring, as the registry has it."""
    text = (type(loss).__doc__ or loss.name).strip().splitlines()[0].rstrip(".")
    return text[0].lower() + text[1:] if text[1:2].islower() else text


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")
