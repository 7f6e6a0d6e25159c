"""Checkpoints: all that ``nncli train --resume`` needs to continue a run bit for bit.

A checkpoint is one file, ``checkpoint.npz``, so writing it with a temporary name and a rename
(:func:`nncli.files.write_atomic`) replaces the previous checkpoint whole: a crash leaves the old
one or the new one, never a mix. It holds plain arrays only, read back with
``allow_pickle=False``:

- the parameters by run-directory name (``W1``, ``b1``, ...) at the end of an epoch;
- ``order``: the row order of that epoch (shuffling permutes it further each epoch);
- ``state``: one JSON text: the number of epochs done, the shuffle generator's state, the
  wall time so far and a SHA-256 of the training and validation arrays, so that a run is never
  resumed on data that changed (an edited CSV file) and silently stops being reproducible;
  the update rule's step count, the plateau schedule's and early stopping's counters, and the
  dropout generator's state;
- ``opt_<name>``: the update rule's state arrays (flat, like the parameters: ``opt_v``,
  ``opt_m``, ...), and ``best_theta``: early stopping's best weights (with restore_best).

The history of those epochs is not in the checkpoint: it is the run's history.csv, written as
training goes, whose first ``epochs_done`` rows a resumed run starts from (so a checkpoint stays
small however long the run). Formats 1 and 2 (which held the history in ``state``) are read
too; format 1 holds no optimizer, schedule, early-stopping or dropout state, which only runs
that need none can resume from.

Training resumes at the start of the epoch after the checkpoint; an interrupted epoch is run
again from its start, which gives the same weights as a run that never stopped.
Nothing in a checkpoint is trusted: every value is checked against the run's config before use.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import __version__
from ..errors import InputError
from ..files import parse_json
from ..runs.formats import check_finite
from ..engine.optim import RULES
from ..runs.npz import read_npz
from .loop import FitResult, history_columns as loop_history_columns

CHECKPOINT = "checkpoint.npz"
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)
_RESERVED = ("order", "state")  # the array names beside the parameters
_PARAMETER = re.compile(r"[Wb][1-9][0-9]{0,3}")
OPTIMIZER_PREFIX = "opt_"
BEST = "best_theta"

_StateModel = ConfigDict(extra="forbid", strict=True)
_Finite = Annotated[float, Field(allow_inf_nan=False)]
_Count = Annotated[int, Field(ge=0)]


class _Optimizer(BaseModel):
    model_config = _StateModel
    rule: str
    t: _Count  # steps taken
    arrays: list[str]  # saved as opt_<name>


class _Plateau(BaseModel):
    model_config = _StateModel
    rate: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    best: _Finite | None
    wait: _Count
    cooldown: _Count


class _EarlyStopping(BaseModel):
    model_config = _StateModel
    best: _Finite | None
    best_epoch: _Count
    wait: _Count


class _State(BaseModel):
    """The JSON part of a checkpoint, checked strictly before any of it is used."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format_version: int
    nncli_version: str
    epochs_done: int = Field(ge=0, lt=2**63)
    wall_time: float = Field(ge=0, allow_inf_nan=False)
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rng_state: dict
    # an integer too large for a float would break every finiteness check: int64 at most
    # formats 1 and 2 only (format 3 keeps the history in history.csv, and the row of its last
    # epoch here, to check that file against)
    history: list[dict[str, Annotated[int, Field(ge=-2**63, lt=2**63)] | float | None]] | None = None
    last_epoch: dict[str, Annotated[int, Field(ge=-2**63, lt=2**63)] | float | None] | None = None
    # Format 2:
    optimizer: _Optimizer | None = None
    schedule: _Plateau | None = None
    early_stopping: _EarlyStopping | None = None
    dropout_rng_state: dict | None = None


@dataclass
class Checkpoint:
    path: Path
    params: dict[str, np.ndarray]
    order: np.ndarray
    state: _State
    optimizer: dict[str, np.ndarray]  # the rule's state arrays by name (v, m, s, ...)
    best_theta: np.ndarray | None


def data_fingerprint(*arrays: np.ndarray) -> str:
    """SHA-256 over the arrays' dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).data)  # the buffer itself: no copy of the bytes
    return h.hexdigest()


def checkpoint_bytes(params: dict[str, np.ndarray], result: FitResult, data_sha256: str) -> bytes:
    """The checkpoint file of ``result``'s epoch boundary, with those epochs' ``params``."""
    check_finite(params)
    optimizer = result.optimizer
    arrays = {f"{OPTIMIZER_PREFIX}{k}": a for k, a in optimizer["arrays"].items()}
    if result.best_theta is not None:
        arrays[BEST] = result.best_theta
    check_finite(arrays)
    state = {
        "format_version": FORMAT_VERSION,
        "nncli_version": __version__,
        "epochs_done": result.epochs_run,
        "wall_time": result.wall_time,
        "data_sha256": data_sha256,
        "rng_state": result.rng_state,
        "last_epoch": result.last_record,
        "optimizer": {"rule": optimizer["rule"], "t": optimizer["t"],
                      "arrays": list(optimizer["arrays"])},
        "schedule": result.control["schedule"],
        "early_stopping": result.control["early_stopping"],
        "dropout_rng_state": result.dropout_rng_state,
    }
    buf = io.BytesIO()
    np.savez(buf, **params, **arrays, order=result.order,
             state=np.array(json.dumps(state, allow_nan=False)))
    return buf.getvalue()


def load_checkpoint(run_dir: Path) -> Checkpoint:
    """Read ``run_dir/checkpoint.npz``; any problem is an InputError naming the file."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise InputError(f"{run_dir}: no {CHECKPOINT}, so nothing to resume (only an interrupted "
                         f"run, or the hidden .partial directory of a checkpointed one, has it)")
    arrays = read_npz(path, _expected_member,
                      "a checkpoint holds W1, b1, W2, ..., order, state, the update rule's "
                      f"state ({OPTIMIZER_PREFIX}...) and {BEST}",
                      lambda name, shape, dtype: None)  # checked against the config in restore
    missing = [k for k in _RESERVED if k not in arrays]
    if missing:
        raise InputError(f"{path}: no {missing[0]!r} array (not an nncli checkpoint)")
    text = arrays.pop("state")
    if text.dtype.kind != "U" or text.shape != ():
        raise InputError(f"{path}: 'state' is not a text")
    try:
        state = _State.model_validate(parse_json(str(text[()]), f"{path}: state"))
    except ValidationError as e:
        raise InputError(f"{path}: state: {_first_error(e)}") from None
    if state.format_version not in READABLE_FORMATS:
        raise InputError(f"{path}: checkpoint format {state.format_version}; this nncli reads "
                         f"formats {' and '.join(map(str, READABLE_FORMATS))}")
    later = [k for k in ("optimizer", "schedule", "early_stopping", "dropout_rng_state")
             if getattr(state, k) is not None]
    if state.format_version == 1 and later:
        raise InputError(f"{path}: state: {later[0]}: not part of checkpoint format 1")
    if state.format_version >= 2 and state.optimizer is None:
        raise InputError(f"{path}: state: optimizer: required key is missing")
    if (state.history is None) != (state.format_version >= 3):
        raise InputError(f"{path}: state: history: " + (
            "required key is missing" if state.history is None
            else f"not part of checkpoint format {state.format_version}"))
    if state.history is not None and len(state.history) != state.epochs_done:
        raise InputError(f"{path}: state: {len(state.history)} history rows for "
                         f"{state.epochs_done} epochs")
    if state.format_version >= 3:
        last = state.last_epoch
        if (last is None) != (state.epochs_done == 0) or (last and last.get("epoch") != state.epochs_done):
            raise InputError(f"{path}: state: last_epoch: must be the history row of epoch "
                             f"{state.epochs_done} (epochs_done)")
    elif state.last_epoch is not None:
        raise InputError(f"{path}: state: last_epoch: not part of checkpoint format "
                         f"{state.format_version}")
    order = arrays.pop("order")
    names = state.optimizer.arrays if state.optimizer else []
    missing = [f"{OPTIMIZER_PREFIX}{k}" for k in names if f"{OPTIMIZER_PREFIX}{k}" not in arrays]
    if missing:
        raise InputError(f"{path}: no {missing[0]!r} array (the update rule's state)")
    optimizer = {k: arrays.pop(f"{OPTIMIZER_PREFIX}{k}") for k in names}
    best = arrays.pop(BEST, None)
    return Checkpoint(path, arrays, order, state, optimizer, best)


def _expected_member(name: str) -> bool:
    """The arrays a checkpoint may hold: anything else is refused unread."""
    state_arrays = {f"{OPTIMIZER_PREFIX}{a}" for rule in RULES.values() for a in rule.arrays}
    return (name in _RESERVED or name == BEST or name in state_arrays
            or bool(_PARAMETER.fullmatch(name)))


def restore(checkpoint: Checkpoint, experiment) -> FitResult:
    """Check the checkpoint against the experiment (rebuilt from the run's config), put its
    weights into the experiment's network, and return the position for ``fit(resume=...)``."""
    path, state = checkpoint.path, checkpoint.state
    net = experiment.network
    params = net.parameters()
    if sorted(checkpoint.params) != sorted(params):
        raise InputError(f"{path}: parameter arrays {', '.join(sorted(checkpoint.params))}; "
                         f"the config has {', '.join(params)}")
    for name, target in params.items():
        got = checkpoint.params[name]
        if got.shape != target.shape or got.dtype != target.dtype:
            raise InputError(f"{path}: {name} is {got.dtype} {got.shape}; the config needs "
                             f"{target.dtype} {target.shape}")
        if not np.all(np.isfinite(got)):
            raise InputError(f"{path}: {name} holds values that are not finite")
    n = len(experiment.X_train)
    order = checkpoint.order
    if order.shape != (n,) or order.dtype.kind not in "iu" or \
            not np.array_equal(np.sort(order), np.arange(n)):
        raise InputError(f"{path}: 'order' is not an ordering of the {n} training rows")
    epochs = experiment.config.training.epochs
    if state.epochs_done > epochs:
        raise InputError(f"{path}: {state.epochs_done} epochs done, more than training.epochs "
                         f"({epochs})")
    if state.data_sha256 != experiment_fingerprint(experiment):
        raise InputError(f"{path}: the training data differ from the data this run was trained "
                         f"on (was a data file changed?); resuming would not reproduce the run")
    expected = history_columns(experiment)
    for row in (state.history or []) + ([state.last_epoch] if state.last_epoch else []):
        if list(row) != expected or any(v is not None and not math.isfinite(v)
                                        for v in row.values()):
            raise InputError(f"{path}: state: history rows must be {', '.join(expected)} "
                             f"with finite values")
    _check_rng(path, "rng_state", state.rng_state)
    training = experiment.config.training
    optimizer = _restored_optimizer(checkpoint, training.update, net)
    control = _restored_control(checkpoint, training)
    best_theta = _restored_best(checkpoint, training, net)
    dropout = state.dropout_rng_state
    if net.has_dropout:
        if dropout is None:
            raise InputError(f"{path}: state: dropout_rng_state: missing; the config has dropout")
        _check_rng(path, "dropout_rng_state", dropout)
    elif dropout is not None:
        raise InputError(f"{path}: state: dropout_rng_state: the config has no dropout")
    for name, target in params.items():
        target[...] = checkpoint.params[name]  # in place: the network's arrays may be views
    history = None if state.history is None else [dict(r) for r in state.history]
    return FitResult(history=history, epochs_run=state.epochs_done,
                     last_record=state.last_epoch, wall_time=state.wall_time,
                     order=order.astype(np.intp), rng_state=state.rng_state,
                     optimizer=optimizer, control=control, best_theta=best_theta,
                     dropout_rng_state=dropout)


def _check_rng(path: Path, key: str, value: dict) -> None:
    try:
        np.random.default_rng(0).bit_generator.state = value
    except (TypeError, ValueError, KeyError) as e:
        raise InputError(f"{path}: state: {key}: {e}") from None


def _flat(path: Path, name: str, array: np.ndarray, net) -> np.ndarray:
    """A saved flat vector (optimizer state, best weights): theta's shape and dtype, finite."""
    if array.shape != net.theta.shape or array.dtype != net.dtype:
        raise InputError(f"{path}: {name} is {array.dtype} {array.shape}; the config needs "
                         f"{net.dtype} {net.theta.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{path}: {name} holds values that are not finite")
    return array


def _restored_optimizer(checkpoint: Checkpoint, update: str, net) -> dict:
    path, saved = checkpoint.path, checkpoint.state.optimizer
    rule = RULES[update]
    if saved is None:  # format 1: only rules without state ran then
        if rule.arrays:
            raise InputError(f"{path}: no optimizer state; update {update} needs it")
        return {"rule": update, "t": 0, "arrays": {}}
    if saved.rule != update:
        raise InputError(f"{path}: state: optimizer: made by update {saved.rule}; the config "
                         f"says {update}")
    if sorted(saved.arrays) != sorted(rule.arrays):
        raise InputError(f"{path}: state: optimizer: arrays {', '.join(saved.arrays) or 'none'}"
                         f"; update {update} keeps {', '.join(rule.arrays) or 'none'}")
    if saved.t > 0 and saved.t > _max_steps(checkpoint):
        raise InputError(f"{path}: state: optimizer: {saved.t} steps in "
                         f"{checkpoint.state.epochs_done} epochs of {len(checkpoint.order)} rows")
    arrays = {k: _flat(path, f"{OPTIMIZER_PREFIX}{k}", a, net)
              for k, a in checkpoint.optimizer.items()}
    return {"rule": update, "t": saved.t, "arrays": arrays}


def _max_steps(checkpoint: Checkpoint) -> int:
    return checkpoint.state.epochs_done * len(checkpoint.order)  # sgd: one step per row


def _restored_control(checkpoint: Checkpoint, training) -> dict:
    path, state = checkpoint.path, checkpoint.state
    plateau = training.schedule.kind == "plateau"
    if plateau != (state.schedule is not None):
        raise InputError(f"{path}: state: schedule: " + (
            "missing; the config's schedule is plateau" if plateau
            else "the config's schedule is not plateau"))
    stopping = training.early_stopping
    if (stopping is not None) != (state.early_stopping is not None):
        raise InputError(f"{path}: state: early_stopping: " + (
            "missing; the config has early stopping" if stopping is not None
            else "the config has no early stopping"))
    if state.early_stopping is not None:
        s = state.early_stopping
        if s.best_epoch > state.epochs_done or s.wait > state.epochs_done:
            raise InputError(f"{path}: state: early_stopping: counts beyond the "
                             f"{state.epochs_done} epochs done")
    return {"schedule": None if state.schedule is None else state.schedule.model_dump(),
            "early_stopping": None if state.early_stopping is None
            else state.early_stopping.model_dump()}


def _restored_best(checkpoint: Checkpoint, training, net) -> np.ndarray | None:
    stopping = training.early_stopping
    wanted = stopping is not None and stopping.restore_best
    if not wanted:
        if checkpoint.best_theta is not None:
            raise InputError(f"{checkpoint.path}: {BEST}: the config keeps no best weights")
        return None
    if checkpoint.best_theta is None:
        raise InputError(f"{checkpoint.path}: no {BEST!r} array (early stopping's best weights)")
    return _flat(checkpoint.path, BEST, checkpoint.best_theta, net)


def experiment_fingerprint(experiment) -> str:
    e = experiment
    return data_fingerprint(e.X_train, e.Y_train, e.X_val, e.Y_val)


def history_columns(experiment) -> list[str]:
    """The keys of one history row, in order, as fit writes them."""
    return loop_history_columns(experiment.metric.name, experiment.has_validation,
                                experiment.config.training)


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]
