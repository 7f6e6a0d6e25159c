"""The files of a run directory: what each holds and how it is written and read back.

| file | written by | read back by |
|---|---|---|
| config.yaml | :func:`config_yaml` | ``config.load_config`` |
| history.csv | :func:`history_csv` | :func:`read_history` |
| weights.npz | :func:`weights_npz` | ``runs.load.read_weights`` |
| model.json | ``runs.model_file.model_description`` | ``runs.model_file.read_model_file`` |
| metrics.json | the trainer (``training.train.final_metrics``) | :func:`read_metrics` |
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError, TrainingFailed
from ..files import read_json, read_text, validated
from .model_file import FORMAT_VERSION, model_description  # noqa: F401 - model.json's home


def check_finite(params: dict[str, np.ndarray]) -> None:
    """The last guard before weights reach a file: never save NaN or inf."""
    bad = [k for k, v in params.items() if not np.all(np.isfinite(v))]
    if bad:
        raise TrainingFailed(f"refusing to save non-finite weights ({', '.join(bad)})")


def weights_npz(params: dict[str, np.ndarray]) -> bytes:
    """weights.npz: the parameter arrays by name (W1, b1, ...), plain arrays, no pickle."""
    check_finite(params)
    buf = io.BytesIO()
    np.savez(buf, **params)
    return buf.getvalue()


def history_csv(history: list[dict]) -> str:
    """One row per epoch; an undefined value (None) is an empty cell."""
    if not history:
        return "epoch,loss\n"
    columns = list(history[0])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for record in history:
        writer.writerow(["" if record[c] is None else repr(record[c]) for c in columns])
    return buf.getvalue()


def read_history(path: str | Path) -> list[dict]:
    """A history.csv back as :func:`history_csv` was given it: one dict per epoch, the epoch
    an int, the other values floats, None for an empty cell (an undefined value)."""
    path = Path(path)
    text = read_text(path, "history file", in_run="not a finished nncli run")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise InputError(f"{path}: unreadable: {e}") from None
    if not rows or rows[0][:2] != ["epoch", "loss"]:
        raise InputError(f"{path}: expected a header starting with epoch,loss")
    header, history = rows[0], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{path}: line {line}: {len(row)} cells, expected {len(header)}")
        record = {}
        for name, cell in zip(header, row):
            try:
                record[name] = None if cell == "" else (int(cell) if name == "epoch"
                                                        else float(cell))
            except ValueError:
                raise InputError(f"{path}: line {line}: {name} is not a number: {cell!r}") from None
        history.append(record)
    return history


class _ConfigDumper(yaml.SafeDumper):
    """Block style for mappings; short lists (rows of weights, features) on one line."""


def _represent_list(dumper, values):
    flat = all(not isinstance(v, (dict, list)) or
               (isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v))
               for v in values)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", values, flow_style=flat)


_ConfigDumper.add_representer(list, _represent_list)


def config_yaml(config) -> str:
    """The resolved config as YAML, ``data.source`` first as people write it."""
    data = config.model_dump(mode="json", exclude_none=True)
    data["data"] = {"source": data["data"].pop("source"), **data["data"]}
    return yaml.dump(data, Dumper=_ConfigDumper, sort_keys=False, default_flow_style=False)


class Metrics(BaseModel):
    """metrics.json as nncli reads it back: every key it uses, by type. Keys it does not know
    are let through unread (a newer nncli may add some)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    status: Literal["finished", "diverged", "interrupted"]
    reason: str
    epochs: Annotated[int, Field(ge=1, lt=2**63)]
    epochs_run: Annotated[int, Field(ge=0, lt=2**63)]
    wall_time: Annotated[float, Field(ge=0)]
    train: dict[str, float | None] | None
    validation: dict[str, float | None] | None
    resumed_from: str | None = None


def read_metrics(path: str | Path) -> dict:
    """A run's metrics.json, checked by type (:class:`Metrics`); InputError naming the file."""
    data = read_json(path, "metrics file", in_run="not a finished nncli run")
    validated(data, Metrics, str(path))
    return data
