"""The files of a run directory: what each holds and how it is written and read back.

| file | written by | read back by |
|---|---|---|
| config.yaml | :func:`config_yaml` | ``config.load_config`` |
| history.csv | :func:`history_csv` | :func:`read_history` |
| layers.csv | :class:`HistoryFile` (columns :data:`LAYER_COLUMNS`) | :func:`read_layers` |
| snapshots.npz | ``training.snapshots`` | ``training.snapshots.read_snapshots`` |
| weights.npz | :func:`weights_npz` | ``runs.load.read_weights`` |
| model.json | ``runs.model_file.model_description`` | ``runs.model_file.read_model_file`` |
| metrics.json | the trainer (``training.train.final_metrics``) | :func:`read_metrics` |
| data.csv (a run made from arrays) | ``data.arrays.write_table`` | the ``csv`` source |
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError, TrainingFailed
from ..files import os_reason, read_json, validated
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
    return history_line(columns) + "".join(history_line(history_cells(r, columns))
                                           for r in history)


def history_cells(record: dict, columns: list[str]) -> list[str]:
    """A history row's cells: floats in their shortest exact form, None as an empty cell."""
    return ["" if record[c] is None else repr(record[c]) for c in columns]


def number_line(record: dict, columns: list[str], digits: int) -> str:
    """A row of numbers (and empty cells) as a CSV line, each to ``digits`` significant digits
    (numbers need no quoting, so csv.writer's work is skipped). A value read back and written
    again keeps its text, so a resumed run's rows are the uninterrupted run's."""
    form = f"%.{digits}g"
    return ",".join(["" if record[c] is None else form % record[c] for c in columns]) + "\n"


def number_lines(block, digits: int) -> str:
    """Rows of numbers (a 2-D array, NaN for an empty cell) as CSV lines, as
    :func:`number_line` writes each: one formatting pass for the whole block."""
    if not len(block):
        return ""
    lines = (",".join([f"%.{digits}g"] * len(block[0])) + "\n") * len(block)
    return (lines % tuple(block.ravel().tolist())).replace("nan", "")  # one call formats all


def layer_records(block) -> list[dict]:
    """layers.csv rows as records (:func:`read_layers` reads the same): the epoch and layer
    ints, NaN (an empty cell) None."""
    return [{"epoch": int(row[0]), "layer": int(row[1]),
             **{c: (None if v != v else v) for c, v in zip(LAYER_COLUMNS[2:], row[2:])}}
            for row in block.tolist()]


def history_line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


# layers.csv: per-layer statistics, one row per epoch and layer (training/layerstats.py)
LAYER_DIGITS = 10  # layers.csv's statistics: significant digits
LAYER_COLUMNS = ["epoch", "layer", "weight_rms", "grad_rms", "update_ratio", "act_mean",
                 "act_std", "dead", "saturated"]


class HistoryFile:
    """history.csv (or layers.csv) written as training goes, a row per finished epoch (and
    layer), so that memory stays flat however many epochs run. It lives in the run's hidden
    directory: :meth:`sync` makes what is written durable (before each checkpoint, and before
    the run is published), and a resumed run starts its file with the rows of the epochs its
    checkpoint covers."""

    def __init__(self, path: Path, columns: list[str], digits: int | None = None):
        self.path, self.columns = Path(path), columns
        self.file = open(self.path, "w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.file, lineterminator="\n")
        self.writer.writerow(columns)
        # digits: every cell a number (or empty), written to that many significant digits
        # (layers.csv: statistics, several rows an epoch; shortest exact repr costs 3 times as
        # much); None: history.csv's exact repr of every value
        self.digits = digits

    def append(self, record: dict) -> None:
        if self.digits is not None:
            self.file.write(number_line(record, self.columns, self.digits))
        else:
            self.writer.writerow(history_cells(record, self.columns))

    def append_block(self, block) -> None:
        """Rows of numbers at once (a 2-D array in column order, NaN for an empty cell)."""
        self.file.write(number_lines(block, self.digits))

    def sync(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


class Thinned:
    """At most about ``cap`` history rows, evenly spaced, from a history of any length: the
    rows of every ``stride``-th epoch (the stride doubles whenever more than ``cap`` rows are
    kept) and of the last one. The pictures and the terminal chart draw these: a run of ten
    million epochs is drawn from a few thousand rows, and one of up to ``cap`` epochs from
    every row. Fed row by row, while training or while reading history.csv, it keeps the same
    rows either way. An epoch may have several rows (layers.csv: one per layer)."""

    def __init__(self, cap: int = 4096):
        self.cap, self.stride, self.rows = cap, 1, []
        self.last: list[dict] = []  # the rows of the last epoch seen

    def add(self, record: dict) -> None:
        epoch = record["epoch"]
        if not self.last or self.last[0]["epoch"] != epoch:
            self.last = []
        self.last.append(record)
        if (epoch - 1) % self.stride == 0:
            self.rows.append(record)
            if len(self.rows) > self.cap:
                self.stride *= 2
                self.rows = [r for r in self.rows if (r["epoch"] - 1) % self.stride == 0]

    def add_block(self, block, per_epoch: int) -> None:
        """Rows of numbers (layers.csv's, ``per_epoch`` rows an epoch) as :meth:`add` keeps
        them, turning into records only the rows kept and the last epoch's."""
        if not len(block):
            return
        for record in layer_records(block[(block[:, 0] - 1) % self.stride == 0]):
            self.add(record)  # the stride may double on the way: add() decides again
        self.last = layer_records(block[-per_epoch:])

    def history(self) -> list[dict]:
        if self.last and self.rows and self.last[0]["epoch"] == self.rows[-1]["epoch"]:
            return list(self.rows)
        return self.rows + self.last


def read_history(path: str | Path, thin: bool = False, rows: int | None = None) -> list[dict]:
    """A history.csv back as :func:`history_csv` was given it: one dict per epoch, the epoch
    an int, the other values floats, None for an empty cell (an undefined value). Read row by
    row: ``thin`` keeps the rows :class:`Thinned` keeps (for pictures of long runs); ``rows``
    reads the first so many only (what a checkpoint covers; a line cut short by a crash after
    them is never reached)."""
    return _collect(iter_history(path, rows), thin)


def _collect(records, thin: bool) -> list[dict]:
    thinned = Thinned() if thin else None
    history = []
    for record in records:
        if thinned is not None:
            thinned.add(record)
        else:
            history.append(record)
    return thinned.history() if thinned is not None and thinned.last else history


def iter_history(path: str | Path, rows: int | None = None):
    """The rows of a history.csv one at a time (see :func:`read_history`)."""
    return _iter_rows(path, ["epoch", "loss"], "history file", rows, "epochs were run")


def read_layers(path: str | Path, thin: bool = False, rows: int | None = None) -> list[dict]:
    """A layers.csv back: one dict per epoch and layer (epoch and layer ints, the statistics
    floats, None for an empty cell); ``thin`` and ``rows`` as :func:`read_history`."""
    return _collect(iter_layers(path, rows), thin)


def iter_layers(path: str | Path, rows: int | None = None):
    """The rows of a layers.csv one at a time; its header must be :data:`LAYER_COLUMNS`."""
    return _iter_rows(path, LAYER_COLUMNS, "layer statistics", rows,
                      "are covered by the checkpoint")


def _iter_rows(path: str | Path, head: list[str], what: str, rows: int | None, expected: str):
    path = Path(path)
    try:
        f = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise InputError(f"{path.parent}: no {path.name} (not a finished nncli run)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read {what}: {os_reason(e)}") from None
    count = 0
    with f:
        try:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or header[:len(head)] != head:
                raise InputError(f"{path}: expected a header starting with {','.join(head)}")
            for row in reader:
                if count == rows:
                    return
                count += 1
                yield _history_record(path, count + 1, header, row)
        except (csv.Error, UnicodeDecodeError) as e:
            raise InputError(f"{path}: unreadable: {e}") from None
    if rows is not None and count < rows:
        raise InputError(f"{path}: {count} rows, but {rows} {expected}")


_INTEGERS = ("epoch", "layer")


def _history_record(path: Path, line: int, header: list[str], row: list[str]) -> dict:
    if len(row) != len(header):
        raise InputError(f"{path}: line {line}: {len(row)} cells, expected {len(header)}")
    record = {}
    for name, cell in zip(header, row):
        try:
            record[name] = None if cell == "" else (int(cell) if name in _INTEGERS
                                                    else float(cell))
        except ValueError:
            raise InputError(f"{path}: line {line}: {name} is not a number: {cell!r}") from None
    return record


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
