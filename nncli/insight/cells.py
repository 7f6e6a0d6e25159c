"""Cells: the named numbers of a learner's worksheet, and the exercise they come from.

An :class:`Exercise` is the first K training updates of a config, computed by the step
calculator (the same numbers as `nncli trace`), with every number named as a cell. Worksheets,
`nncli check`, `nncli explain` and `nncli export` all name numbers this way:

- per-sample quantities (x, y, z, a, delta) of a one-sample batch: ``z1[j]``, unit j;
  of a batch of several samples: ``z1[s,j]``, sample s of the batch (in batch order), unit j;
- weights and their gradients: ``W1[i,j]``, ``dW1[i,j]``, ``W1'[i,j]`` (after the update),
  the weight from input i (unit i of the layer below) to unit j: nncli's W is (fan_in, units),
  so ``W1[i,j]`` is Hagan's w^1_(j,i) and Mitchell's w_ji;
- biases: ``b1[j]``, ``db1[j]``, ``b1'[j]``; the loss ``L``; the gradient norm ``norm``
  (update ``normalized``);
- every index is 1-based; a cell of step k > 1 carries ``@k`` (``z1[2]@2``); without it a name
  means step 1. Step k starts from the weights after step k − 1 (``W1'`` of step k − 1), so
  only the first step has weight cells as givens.

Names are read leniently: spaces are ignored, ``δ`` and ``dL/dz`` mean ``delta``, ``dL/dW``
and ``dL/db`` mean ``dW`` and ``db``, and ``′`` or ``’`` mean ``'``.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import load_config
from ..errors import InputError, TrainingFailed
from ..training.experiment import Experiment, prepare
from ..training.loop import batch_rows
from .stepcalc import (SETTINGS, Quantity, Step, StepModel, Substitute, Values, finished,
                       quantities, run_steps, stepping)
from .trace import Epochs, fixed_masks, training_batches


@dataclass(frozen=True)
class Cell:
    step: int  # 1-based
    key: str  # the array it belongs to: "x", "W1", "z1", "L", "W1'", ...
    index: tuple  # 0-based index into that array
    name: str  # "z1[2]", without the step
    stage: str  # "given", "forward", "loss", "backward" or "update"

    @property
    def label(self) -> str:
        """The full name: ``z1[2]`` in step 1, ``z1[2]@3`` in step 3."""
        return self.name if self.step == 1 else f"{self.name}@{self.step}"


def form_of(key: str) -> str:
    """How the cells of an input array are indexed (quantities say it themselves): the
    batch's x, y and dropout masks by sample, its row weights w as a vector, a parameter and
    its state (``vW1``) as the parameter."""
    if key in ("x", "y") or key.startswith("mask"):
        return "samples"
    parameter = re.search(r"([Wb])\d+$", key)
    return "weights" if parameter and parameter.group(1) == "W" else "vector"


def cell_names(key: str, form: str, shape: tuple) -> list[tuple[tuple, str]]:
    """(0-based index, name) of every cell of an array, in row-major order."""
    if form == "scalar":
        return [((), key)]
    if form == "vector":
        return [((j,), f"{key}[{j + 1}]") for j in range(shape[0])]
    rows, cols = shape
    if form == "samples" and rows == 1:
        return [((0, j), f"{key}[{j + 1}]") for j in range(cols)]
    return [((r, c), f"{key}[{r + 1},{c + 1}]") for r in range(rows) for c in range(cols)]


_ALIASES = [(re.compile(r"^(δ|dl/dz)", re.I), "delta"), (re.compile(r"^dl/d(?=[wb])", re.I), "d"),
            (re.compile(r"^([mv])\u0302"), r"\1hat"), (re.compile(r"^([mv])_?hat"), r"\1hat")]


def normalise(name: str) -> str:
    """A cell name as written by a learner, in its canonical spelling."""
    name = re.sub(r"\s+", "", name).replace("′", "'").replace("’", "'")
    for pattern, canonical in _ALIASES:
        name = pattern.sub(canonical, name)
    return name


@dataclass
class Batch:
    epoch: int
    batch: int  # 1-based within the epoch
    rows: np.ndarray  # the training-set rows, in batch order (0-based)
    x: np.ndarray
    y: np.ndarray
    lr: float  # the rate of the epoch (the schedule's)
    w: np.ndarray | None = None  # the rows' loss weights (class and sample weights)
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # layer (1-based) -> its mask

    def inputs(self) -> Values:
        """The batch's inputs of a step (insight/stepmodel.py names them)."""
        out = {"x": self.x, "y": self.y, "lr": np.asarray(self.lr)}
        if self.w is not None:
            out["w"] = self.w
        return out | {f"mask{layer}": mask for layer, mask in self.masks.items()}


@dataclass
class Exercise:
    """The first updates of a config with nncli's numbers (``steps``) and their cells."""

    experiment: Experiment
    model: StepModel
    quantities: list[Quantity]
    initial: Values  # the parameters before the first step
    batches: list[Batch]  # one per step
    steps: list[Step]  # nncli's numbers: the finished steps
    batch_size: int
    batches_per_epoch: int
    stopped: str | None = None  # why fewer steps than asked were finished (divergence)
    ended: str | None = None  # early stopping ended training within the steps asked for
    _tables: dict[int, dict[str, Cell]] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.experiment.config.name

    def givens(self, number: int) -> list[str]:
        """The input arrays of a step a learner is given: the batch (x, y, and the rows'
        weights w and the dropout masks where the config has them), and at step 1 the initial
        parameters and the update rule's initial state."""
        batch = [k for k in self.batches[number - 1].inputs() if k not in SETTINGS]
        if number > 1:
            return batch
        return batch + [k for k in self.steps[0].values
                        if k not in self._quantity_keys and k not in SETTINGS and k not in batch]

    def cells(self, number: int) -> list[Cell]:
        """Every cell of a step, givens first, then the quantities in worksheet order."""
        values = self.steps[number - 1].values
        out = [Cell(number, key, index, name, "given")
               for key in self.givens(number)
               for index, name in cell_names(key, form_of(key), values[key].shape)]
        for q in self.quantities:
            out += [Cell(number, q.key, index, name, q.stage)
                    for index, name in cell_names(q.key, q.form, values[q.key].shape)]
        return out

    def all_cells(self) -> list[Cell]:
        return [c for number in range(1, len(self.steps) + 1) for c in self.cells(number)]

    def value(self, cell: Cell) -> float:
        """nncli's number in a cell."""
        return float(self.steps[cell.step - 1].values[cell.key][cell.index])

    def quantity(self, key: str) -> Quantity:
        return next(q for q in self.quantities if q.key == key)

    def rerun(self, substitute: Substitute | None = None,
              slips: dict[str, str] | None = None) -> list[Step]:
        """The steps again, with a learner's numbers substituted as they come, or with the
        named mistakes made (``slips``)."""
        return run_steps(self.model, [b.inputs() for b in self.batches], self.initial,
                         substitute, slips)

    def find(self, written: str, where: str) -> Cell:
        """The cell a learner's name means (``where`` says where it was written)."""
        name, step = split_step(normalise(written), where)
        if step > len(self.steps):
            raise InputError(f"{where}: {written}: this exercise has "
                             f"{_plural(len(self.steps), 'step')} (asked for step {step})")
        table = self._table(step)
        if name in table:
            return table[name]
        hint = difflib.get_close_matches(name, list(table), n=1)
        later = re.match(r"^([a-z]*[Wb]\d+)\[", name)
        if step > 1 and later and f"{later.group(1)}'" in self._quantity_keys:
            hint = [f"{later.group(1)}'{name[len(later.group(1)):]}@{step - 1} (step {step} "
                    f"starts from the weights after step {step - 1})"]
        raise InputError(f"{where}: {written!r} is not a cell of step {step}"
                         + (f"; did you mean {hint[0]}?" if hint else ""))

    @property
    def _quantity_keys(self) -> set[str]:
        return {q.key for q in self.quantities}

    def _table(self, step: int) -> dict[str, Cell]:
        if step not in self._tables:
            self._tables[step] = {c.name: c for c in self.cells(step)}
        return self._tables[step]


def split_step(name: str, where: str) -> tuple[str, int]:
    """``z1[2]@3`` -> (``z1[2]``, 3); no suffix means step 1."""
    base, at, step = name.partition("@")
    if not at:
        return name, 1
    if not step.isdigit() or int(step) < 1:
        raise InputError(f"{where}: {name!r}: the step after @ must be a whole number >= 1")
    return base, int(step)


def exercise_config(config_path: str | Path, overrides: list[str] = (), steps: int = 1
                    ) -> Exercise:
    """The first ``steps`` training updates of a config, as training would make them."""
    config_path = Path(config_path)
    return exercise(prepare(load_config(config_path, overrides), config_path), steps)


def exercise(experiment: Experiment, steps: int) -> Exercise:
    """The first ``steps`` updates of the experiment by the step calculator, on the batches
    training would use, with the rate the schedule gives each epoch (fed the calculator's own
    numbers at each epoch's end, as trace feeds it the engine's), the one fixed dropout mask
    trace uses, and ending where early stopping would end training."""
    t = experiment.config.training
    net = experiment.network
    model = StepModel.of(net, experiment.loss, t, weighted=experiment.weights is not None)
    X, Y, W = experiment.X_train, experiment.Y_train, experiment.w_train
    n = len(X)
    bs = batch_rows(t, n)
    masks = fixed_masks(experiment, bs) if net.has_dropout else {}
    initial = {k: v.copy() for k, v in net.parameters().items()}
    qs = quantities(model)
    epochs = Epochs(experiment, net.astype(net.dtype), t)  # a copy: its weights are set below
    batches: list[Batch] = []
    done: list[Step] = []
    ended = None

    def inputs():
        nonlocal ended
        for epoch, batch, rows in training_batches(n, bs, t.shuffle, experiment.shuffle_rng):
            if len(batches) == steps:
                return
            if batch == 1 and epoch > 1:
                epochs.net.theta[...] = model.flat(done[-1].values, "'")
                ended = epochs.end(epoch - 1)
                if ended:
                    return
            b = Batch(epoch, batch, rows, X[rows], Y[rows], epochs.rate(epoch),
                      None if W is None else W[rows],
                      {i + 1: mask[:len(rows)].copy() for i, mask in masks.items()})
            batches.append(b)
            yield b.inputs()

    for step in stepping(model, inputs(), initial):
        done.append(step)
        if finished(step, qs):
            b, v = batches[len(done) - 1], step.values
            epochs.add(b.rows, v[f"a{model.depth}"], float(v["L"]),
                       float(v.get("penalty", 0.0)),
                       len(b.rows) if b.w is None else float(b.w.sum()))
    stopped = None
    if done and not finished(done[-1], qs):
        k, b = len(done), batches[len(done) - 1]
        stopped = (f"the loss became {float(done[-1].values['L'])} at step {k} (epoch "
                   f"{b.epoch}, batch {b.batch}); training diverges here")
        done = done[:-1]
    return Exercise(experiment, model, qs, initial, batches[:len(done)], done, bs,
                    math.ceil(n / bs), stopped, ended)


def require_steps(ex: Exercise, steps: int) -> None:
    """TrainingFailed when the exercise could not finish ``steps`` steps (divergence); an
    InputError when early stopping ends training before."""
    if len(ex.steps) >= steps:
        return
    if ex.stopped:
        raise TrainingFailed(ex.stopped)
    raise InputError(f"early stopping ends training after {_plural(len(ex.steps), 'step')} "
                     f"({ex.ended}); asked for step {steps}")


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")
