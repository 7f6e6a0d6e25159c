"""The run directory: written whole or not at all, and self-describing.

A run is assembled in a hidden temporary directory next to its final place and renamed into
place when every file is complete, so no reader ever sees half a run. The final name is
``<name>-<YYYYmmdd-HHMMSS>``; if that exists (another run in the same second), ``-2``, ``-3``,
... is appended: an existing directory is never written into or replaced.

Every file, in the temporary directory too, is written under a temporary name, flushed to disk
and renamed into place (:func:`write_atomic`): a checkpoint replaced during training is always
whole, and a crash never leaves a published run with a file that is shorter than it should be.
A run name is a plain file name (no ``/``, not ``.`` or ``..``), so a run cannot be written
outside its parent directory.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from . import __version__
from .errors import InputError, TrainingFailed

FORMAT_VERSION = 1
# A run name is a plain file name: no "/", never "." or "..", so a run stays inside --out.
RUN_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
_UMASK = os.umask(0o22)  # read it (the only way) and put it back at once
os.umask(_UMASK)
RUN_FILES = ("config.yaml", "history.csv", "weights.npz", "model.json", "metrics.json")


class RunWriter:
    """Collects a run's files in a temporary directory; :meth:`commit` publishes them."""

    def __init__(self, parent: Path, name: str):
        self.parent = Path(parent)
        self.name = name
        if not re.fullmatch(RUN_NAME, name):
            raise InputError(f"name: {name!r} is not a valid run name (letters, digits, '.', "
                             f"'_' and '-', starting with a letter or digit); set name: in "
                             f"the config")
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InputError(f"--out {self.parent}: not a directory") from None
        except OSError as e:
            raise InputError(f"--out {self.parent}: cannot create: {e.strerror}") from None
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial",
                                             dir=self.parent))
        except OSError as e:
            raise InputError(f"--out {self.parent}: cannot write: {e.strerror}") from None
        self._lock = lock_dir(self.tmp)  # tells `--resume` that this run is still going

    def write_text(self, filename: str, text: str) -> None:
        self.write_bytes(filename, text.encode("utf-8"))

    def write_json(self, filename: str, obj) -> None:
        self.write_text(filename, json.dumps(obj, indent=2, allow_nan=False) + "\n")

    def write_weights(self, params: dict[str, np.ndarray]) -> None:
        check_finite(params)
        buf = io.BytesIO()
        np.savez(buf, **params)
        self.write_bytes("weights.npz", buf.getvalue())

    def write_bytes(self, filename: str, data: bytes) -> None:
        write_atomic(self.tmp / filename, data)

    def remove(self, filename: str) -> None:
        (self.tmp / filename).unlink(missing_ok=True)

    def commit(self) -> Path:
        """Rename the finished directory into place under a name no other run has."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{self.name}-{stamp}"
        for attempt in range(1, 10_000):
            final = self.parent / (base if attempt == 1 else f"{base}-{attempt}")
            if final.exists():
                continue
            try:
                os.chmod(self.tmp, 0o777 & ~_UMASK)  # as mkdir would make it
                # Refused if another run took the name meanwhile (a non-empty directory).
                os.rename(self.tmp, final)
            except OSError as e:
                if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    continue
                raise
            _fsync_dir(self.parent)
            self._unlock()
            return final
        raise InputError(f"{self.parent}: no free run directory name for {base}")

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._unlock()

    def _unlock(self) -> None:
        unlock_dir(self._lock)
        self._lock = None


def is_partial(path: Path) -> bool:
    """Whether ``path`` is the hidden directory of a run still being assembled (or killed)."""
    return path.name.startswith(".") and path.name.endswith(".partial")


def lock_dir(path: Path) -> int | None:
    """Hold an exclusive lock on directory ``path`` until :func:`unlock_dir` or the end of the
    process (however it ends: the kernel drops the lock of a killed process). InputError if
    another process holds it. None where there is no ``fcntl`` (no locking there)."""
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise InputError(f"{path}: in use by a running nncli train") from None
    return fd


def unlock_dir(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, flushed to disk,
    and a rename: a reader, or whatever survives a crash, sees the old file or the new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # as open() would make it; mkstemp makes it private
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_finite(params: dict[str, np.ndarray]) -> None:
    """The last guard before weights reach a file: never save NaN or inf."""
    bad = [k for k, v in params.items() if not np.all(np.isfinite(v))]
    if bad:
        raise TrainingFailed(f"refusing to save non-finite weights ({', '.join(bad)})")


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
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise InputError(f"{path.parent}: no {path.name} (not a finished nncli run)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
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


def model_description(experiment) -> dict:
    """What predict needs to rebuild the network and its preprocessing (model.json)."""
    cfg = experiment.config
    ds = experiment.dataset
    return {
        "format_version": FORMAT_VERSION,
        "nncli_version": __version__,
        "name": cfg.name,
        "dtype": cfg.dtype,
        "task": ds.task,
        "loss": cfg.training.loss,
        "input": cfg.network.input,
        "layers": [
            {"units": l.units, "activation": l.activation, "bias": l.bias,
             **({"alpha": l.alpha} if l.alpha is not None else {})}
            for l in cfg.network.layers
        ],
        "feature_names": list(ds.feature_names),
        "target_names": list(ds.target_names),
        "classes": [_plain(c) for c in ds.classes],
        "scaler": experiment.scaler.to_dict(),
    }


def _plain(value):
    """numpy scalars to the Python values JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value
