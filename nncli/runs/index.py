"""Run directories read back: what `nncli runs` lists and what a resumed sweep skips.

A run directory is recognised by its files (``runs.RUN_FILES``); its status comes from its
``metrics.json`` (finished, diverged, interrupted). A directory without ``metrics.json``, or a
hidden ``.<name>.*.partial`` directory left behind by a process that died while training, is
``incomplete``. A run whose ``config.yaml`` or ``metrics.json`` is there but cannot be read or
fails its schema (a hand edit, a bad disk) is ``damaged``, with the file and the problem in
``error``: one bad run never hides the others. A sweep directory (one holding ``sweep.json``) is
listed run by run, together with the grid points its ``summary.csv`` records as ``failed``
(a failed point has no run directory).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config import RUN_NAME, load_config
from ..errors import InputError
from ..files import validated
from ..metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER, higher_is_better
from .directory import RUN_FILES, is_partial
from .formats import read_metrics

SWEEP_FILE = "sweep.json"
SUMMARY_FILE = "summary.csv"
FINAL_STATUSES = ("finished", "diverged")  # results that training again would only repeat


@dataclass
class RunInfo:
    path: Path
    status: str  # finished | diverged | interrupted | incomplete | failed | damaged
    name: str = ""  # the run's name in its config ("" when unknown)
    date: datetime | None = None
    config: dict | None = None  # the resolved config.yaml
    metrics: dict | None = None  # metrics.json
    error: str | None = None  # why a sweep point failed; for a damaged run, the file and why

    def flat_metrics(self) -> dict:
        return flat_metrics(self.metrics)

    def key_values(self) -> dict:
        """The config values people compare runs by."""
        cfg = self.config or {}
        training = cfg.get("training") or {}
        network = cfg.get("network") or {}
        layers = [network.get("input")] + [l.get("units") for l in network.get("layers") or []]
        return {
            "seed": cfg.get("seed"),
            "batch": training.get("batch"),
            "batch_size": training.get("batch_size") if training.get("batch") == "minibatch" else None,
            "learning_rate": training.get("learning_rate"),
            "epochs": training.get("epochs"),
            "layers": layers if network and None not in layers else None,
        }

    def to_json(self, label: str) -> dict:
        m = self.metrics or {}
        return {
            "name": label, "path": str(self.path), "status": self.status,
            "date": self.date.isoformat(timespec="seconds") if self.date else None,
            **self.key_values(),
            "epochs_run": m.get("epochs_run"), "wall_time": m.get("wall_time"),
            "reason": self.error or m.get("reason"),  # a damaged run: what is wrong
            "train": m.get("train"), "validation": m.get("validation"),
        }


def flat_metrics(metrics: dict | None) -> dict:
    """metrics.json's train/validation sections as one level: loss, accuracy, val_loss, ..."""
    out = {}
    for prefix, part in (("", "train"), ("val_", "validation")):
        for key, value in ((metrics or {}).get(part) or {}).items():
            out[prefix + key] = value
    return out


def is_run_dir(path: Path) -> bool:
    return any((path / f).is_file() for f in RUN_FILES)


def read_run(path: Path) -> RunInfo:
    """What a run directory says about itself; never raises: a file that is there but wrong
    makes the run ``damaged`` (the first such problem is its ``error``)."""
    path = Path(path)
    info = RunInfo(path, "incomplete")
    problems = []
    config_file = path / "config.yaml"
    if config_file.exists():
        try:
            config = load_config(config_file, fast=True)  # the config's own schema
            info.config = config.model_dump(mode="json")
            info.name = config.name or ""
        except InputError as e:
            problems.append(str(e))
    metrics_file = path / "metrics.json"
    if metrics_file.exists():
        try:
            info.metrics = read_metrics(metrics_file)
            info.status = info.metrics["status"]
            info.date = _mtime(metrics_file)
        except InputError as e:
            problems.append(str(e))
    info.date = info.date or _mtime(path)
    if problems:
        info.status, info.error = "damaged", problems[0]
    return info


def find_runs(root: str | Path) -> list[tuple[str, RunInfo]]:
    """Every run under ``root`` (and inside its sweep directories) as (label, info) pairs;
    the label is the run's path relative to ``root``. ``root`` may itself be a run or a sweep.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: directory not found")
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    if is_run_dir(root):
        return [(root.name, read_run(root))]
    if (root / SWEEP_FILE).is_file():
        return _sweep_runs(root, "")
    found = []
    for child in sorted(root.iterdir()):
        if not child.is_dir():
            continue
        if is_partial(child):
            found.append((child.name, _read_partial(child)))
        elif child.name.startswith("."):
            continue
        elif is_run_dir(child):
            found.append((child.name, read_run(child)))
        elif (child / SWEEP_FILE).is_file():
            found.extend(_sweep_runs(child, child.name + "/"))
    return found


def _sweep_runs(sweep_dir: Path, prefix: str) -> list[tuple[str, RunInfo]]:
    found = []
    for child in sorted(sweep_dir.iterdir()):
        if child.is_dir() and is_partial(child):
            found.append((prefix + child.name, _read_partial(child)))
        elif child.is_dir() and not child.name.startswith(".") and is_run_dir(child):
            found.append((prefix + child.name, read_run(child)))
    summary = sweep_dir / SUMMARY_FILE
    try:
        failed = failed_points(summary)
    except InputError as e:
        return found + [(prefix + SUMMARY_FILE, RunInfo(summary, "damaged", date=_mtime(summary),
                                                        error=str(e)))]
    for name, error in failed:
        found.append((prefix + name, RunInfo(sweep_dir / name, "failed", name=name,
                                             date=_mtime(summary), error=error)))
    return found


class _SummaryRow(BaseModel):
    """A row of a sweep's summary.csv, as `nncli runs` reads it back (the failed points)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    name: Annotated[str, Field(pattern=f"^{RUN_NAME}$")]
    status: Literal["finished", "diverged", "interrupted", "failed", "pending"]
    error: str


def failed_points(summary: Path) -> list[tuple[str, str]]:
    """(name, error) of every point summary.csv records as failed (none without the file);
    InputError naming the file and line when a row is not what the sweep writes."""
    try:
        with summary.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{summary}: unreadable: {e}") from None
    failed = []
    for line, row in enumerate(rows, start=2):
        checked = validated(row, _SummaryRow, f"{summary}: line {line}")
        if checked.status == "failed":
            failed.append((checked.name, checked.error))
    return failed


def _read_partial(path: Path) -> RunInfo:
    """A run still being assembled, or left behind by a process that died: its config is
    known (written first), its status is ``incomplete`` whatever its files say (unless one
    of them is damaged)."""
    info = read_run(path)
    if info.status != "damaged":
        info.status, info.metrics = "incomplete", None
    return info


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return None


# metrics best first (higher-is-better ones first), each beside its validation column
SORT_KEYS = ("date", "name",
             *(c for m in HIGHER_IS_BETTER + LOWER_IS_BETTER for c in (m, f"val_{m}")),
             "wall_time")


def sort_runs(runs: list[tuple[str, RunInfo]], key: str | None = None) -> list[tuple[str, RunInfo]]:
    """By date (oldest first) by default; by a metric best first (highest accuracy or R²,
    lowest loss or wall time), runs without that value last, equal ones by date."""
    by_date = sorted(runs, key=lambda r: (r[1].date is None, r[1].date or datetime.min, r[0]))
    if key is None or key == "date":
        return by_date
    if key == "name":
        return sorted(runs, key=lambda r: r[0])
    if key not in SORT_KEYS:
        raise InputError(f"--sort {key}: unknown; expected one of: {', '.join(SORT_KEYS)}")
    # Ties on a metric (accuracy 1.0 is common) are broken by the matching loss, lower first.
    higher = higher_is_better(key)
    tie = ("val_loss" if key.startswith("val_") else "loss") if higher else None

    def value(run):
        info = run[1]
        flat = {**info.flat_metrics(), "wall_time": (info.metrics or {}).get("wall_time")}
        v, t = flat.get(key), flat.get(tie) if tie else None
        return (v is None, (-v if higher else v) if v is not None else 0, t is None, t or 0)

    return sorted(by_date, key=value)
