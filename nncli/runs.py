"""The run directory: written whole or not at all, and self-describing.

A run is assembled in a hidden temporary directory next to its final place and renamed into
place when every file is complete, so no reader ever sees half a run. The final name is
``<name>-<YYYYmmdd-HHMMSS>``; if that exists (another run in the same second), ``-2``, ``-3``,
... is appended: an existing directory is never written into or replaced.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from . import __version__
from .errors import InputError

FORMAT_VERSION = 1
RUN_FILES = ("config.yaml", "history.csv", "weights.npz", "model.json", "metrics.json")


class RunWriter:
    """Collects a run's files in a temporary directory; :meth:`commit` publishes them."""

    def __init__(self, parent: Path, name: str):
        self.parent = Path(parent)
        self.name = name
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InputError(f"--out {self.parent}: not a directory") from None
        except OSError as e:
            raise InputError(f"--out {self.parent}: cannot create: {e.strerror}") from None
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=self.parent))

    def write_text(self, filename: str, text: str) -> None:
        (self.tmp / filename).write_text(text, encoding="utf-8")

    def write_json(self, filename: str, obj) -> None:
        self.write_text(filename, json.dumps(obj, indent=2, allow_nan=False) + "\n")

    def write_weights(self, params: dict[str, np.ndarray]) -> None:
        with open(self.tmp / "weights.npz", "wb") as f:
            np.savez(f, **params)

    def commit(self) -> Path:
        """Rename the finished directory into place under a name no other run has."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{self.name}-{stamp}"
        for attempt in range(1, 10_000):
            final = self.parent / (base if attempt == 1 else f"{base}-{attempt}")
            if final.exists():
                continue
            try:
                os.rename(self.tmp, final)  # fails if another run took the name meanwhile
            except OSError:
                continue
            return final
        raise InputError(f"{self.parent}: no free run directory name for {base}")

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


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
