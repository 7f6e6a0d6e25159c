"""Checkpoints: all that ``nncli train --resume`` needs to continue a run bit for bit.

A checkpoint is one file, ``checkpoint.npz``, so writing it with a temporary name and a rename
(:func:`nncli.files.write_atomic`) replaces the previous checkpoint whole: a crash leaves the old
one or the new one, never a mix. It holds plain arrays only, read back with
``allow_pickle=False``:

- the parameters by run-directory name (``W1``, ``b1``, ...) at the end of an epoch;
- ``order``: the row order of that epoch (shuffling permutes it further each epoch);
- ``state``: one JSON text: the history up to that epoch, the shuffle generator's state, the
  wall time so far and a SHA-256 of the training and validation arrays, so that a run is never
  resumed on data that changed (an edited CSV file) and silently stops being reproducible.

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
from ..runs.npz import read_npz
from .loop import FitResult

CHECKPOINT = "checkpoint.npz"
FORMAT_VERSION = 1
_RESERVED = ("order", "state")  # the array names beside the parameters
_PARAMETER = re.compile(r"[Wb][1-9][0-9]{0,3}")


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
    history: list[dict[str, Annotated[int, Field(ge=-2**63, lt=2**63)] | float | None]]


@dataclass
class Checkpoint:
    path: Path
    params: dict[str, np.ndarray]
    order: np.ndarray
    state: _State


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
    state = {
        "format_version": FORMAT_VERSION,
        "nncli_version": __version__,
        "epochs_done": result.epochs_run,
        "wall_time": result.wall_time,
        "data_sha256": data_sha256,
        "rng_state": result.rng_state,
        "history": result.history,
    }
    buf = io.BytesIO()
    np.savez(buf, **params, order=result.order,
             state=np.array(json.dumps(state, allow_nan=False)))
    return buf.getvalue()


def load_checkpoint(run_dir: Path) -> Checkpoint:
    """Read ``run_dir/checkpoint.npz``; any problem is an InputError naming the file."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise InputError(f"{run_dir}: no {CHECKPOINT}, so nothing to resume (only an interrupted "
                         f"run, or the hidden .partial directory of a checkpointed one, has it)")
    arrays = read_npz(path, lambda name: name in _RESERVED or _PARAMETER.fullmatch(name),
                      "a checkpoint holds W1, b1, W2, ..., order and state",
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
    if state.format_version != FORMAT_VERSION:
        raise InputError(f"{path}: checkpoint format {state.format_version}; this nncli reads "
                         f"format {FORMAT_VERSION}")
    if len(state.history) != state.epochs_done:
        raise InputError(f"{path}: state: {len(state.history)} history rows for "
                         f"{state.epochs_done} epochs")
    order = arrays.pop("order")
    return Checkpoint(path, arrays, order, state)


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
    for row in state.history:
        if list(row) != expected or any(v is not None and not math.isfinite(v)
                                        for v in row.values()):
            raise InputError(f"{path}: state: history rows must be {', '.join(expected)} "
                             f"with finite values")
    rng = np.random.default_rng(0)
    try:
        rng.bit_generator.state = state.rng_state
    except (TypeError, ValueError, KeyError) as e:
        raise InputError(f"{path}: state: rng_state: {e}") from None
    for name, target in params.items():
        target[...] = checkpoint.params[name]  # in place: the network's arrays may be views
    return FitResult(history=[dict(r) for r in state.history], wall_time=state.wall_time,
                     order=order.astype(np.intp), rng_state=state.rng_state)


def experiment_fingerprint(experiment) -> str:
    e = experiment
    return data_fingerprint(e.X_train, e.Y_train, e.X_val, e.Y_val)


def history_columns(experiment) -> list[str]:
    """The keys of one history row, in order, as fit writes them."""
    metric = experiment.metric.name
    columns = ["epoch", "loss", metric]
    if experiment.has_validation:
        columns += ["val_loss", f"val_{metric}"]
    return columns


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]
