"""Sweeps: one config trained over the cartesian product of a grid of overrides.

A sweep point is a list of ``--set`` overrides. Every point is trained by
:func:`run_point`, which calls ``trainer.train_from_config``: the same function in a local
worker process and on a Dask cluster, so both give the same weights bit for bit.

The sweep directory is ``<out>/<name>-sweep-<id>/``. ``id`` hashes what decides the results
(the validated config with its ``--set`` overrides, the config's folder, the grid and the
seeds) and nothing else (not ``--jobs``, not ``--scheduler``), so the same command run again
finds the same directory and resumes it::

    sweep.json        what was asked: config, --set, the grid, every point and its overrides
    summary.csv       one row per point, best first; rewritten after every point
    aggregate.csv     with a seed axis: mean and standard deviation over the seeds
    <point>-<stamp>/  a normal run directory per point, its name made of the overrides

On resume a point whose run says finished or diverged is done (training it again would only
repeat it bit for bit); interrupted, incomplete, failed and missing points are run again.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import csv
import hashlib
import io
import itertools
import json
import math
import os
import re
import reprlib
import signal
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from . import memory
from .config import RUN_NAME, load_raw, parse_yaml, set_value, validate_config
from .errors import InputError, TrainingFailed
from .files import os_errors, os_failure, read_json, validated, write_atomic
from .metrics import HIGHER_IS_BETTER, is_metric_column
from .runs.index import (FINAL_STATUSES, SUMMARY_FILE, SWEEP_FILE, find_runs, flat_metrics)

FORMAT_VERSION = 1
AGGREGATE_FILE = "aggregate.csv"
SEED = "seed"
MAX_NAME = 90  # run names may have 100 characters; keep room for a disambiguating hash
STATUS_ORDER = {"finished": 0, "diverged": 1, "interrupted": 2, "failed": 3, "pending": 4}


# ---------------------------------------------------------------------------------------------
# The plan: axes, points, names


@dataclass
class Point:
    name: str  # the run's name, made of its overrides
    values: list[tuple[str, Any]]  # (dotted key, value) per axis, in axis order

    def overrides(self) -> list[str]:
        return [f"{key}={json.dumps(value)}" for key, value in self.values] + [f"name={self.name}"]


@dataclass
class Sweep:
    config_path: Path  # absolute: workers may run elsewhere
    overrides: list[str]  # --set, applied to every point before the point's own overrides
    axes: list[tuple[str, list]]  # (dotted key, values), in command-line order; seed last
    points: list[Point]
    name: str  # the config's run name: the sweep directory's prefix
    id: str

    @property
    def seeded(self) -> bool:
        return any(key == SEED for key, _ in self.axes)

    def labels(self) -> dict[str, str]:
        """Each axis key's short label, as in the run names: ``learning_rate``."""
        return _labels([key for key, _ in self.axes])

    def run_overrides(self, point: Point) -> list[str]:
        return list(self.overrides) + point.overrides()

    def directory(self, out: str | Path) -> Path:
        return Path(out) / f"{self.name}-sweep-{self.id}"

    def describe(self) -> dict:
        """The content of sweep.json."""
        return {
            "format_version": FORMAT_VERSION, "id": self.id, "name": self.name,
            "config": str(self.config_path), "set": list(self.overrides),
            "grid": {key: values for key, values in self.axes},
            "points": [{"name": p.name, "overrides": self.run_overrides(p)} for p in self.points],
        }


def parse_grid(items: list[str]) -> list[tuple[str, list]]:
    """``KEY=V1,V2,...`` options to (key, values); values are parsed as one YAML flow list,
    so ``network.layers.0.units=8,16`` and ``data.features=[a,b],[c]`` both work."""
    axes: list[tuple[str, list]] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--grid {item!r}: expected KEY=V1,V2,..., "
                             "e.g. training.learning_rate=0.01,0.1")
        values = parse_yaml(f"[{text}]", f"--grid {key}")
        if not values:
            raise InputError(f"--grid {key}: expected at least one value")
        if key == "name":
            raise InputError("--grid name: the runs of a sweep are named by their grid values; "
                             "use --set name=... to name the sweep")
        if any(key == k for k, _ in axes):
            raise InputError(f"--grid {key}: given twice; list all its values in one --grid")
        axes.append((key, values))
    return axes


def plan_sweep(config_path: str | Path, grid: list[str] = (), seeds: int | None = None,
               overrides: list[str] = ()) -> Sweep:
    """Validate the config and every point of the grid; nothing is written or run."""
    config_path = Path(config_path)
    axes = parse_grid(list(grid))
    if seeds is not None:
        if seeds < 1:
            raise InputError(f"--seeds {seeds}: expected a number of seeds >= 1")
        if any(key == SEED for key, _ in axes):
            raise InputError("--seeds and --grid seed=... both give the seeds; use one of them")
    check_size(axes, seeds)
    raw, positions, overridden = load_raw(config_path, list(overrides))
    base = validate_config(copy.deepcopy(raw), str(config_path), positions, overridden)
    # --seeds gives seeds 0..N-1, all valid: the other axes are checked with the first only.
    validate_points(axes + ([(SEED, [0])] if seeds is not None else []), raw, config_path)
    if seeds is not None:
        axes.append((SEED, list(range(seeds))))
    for key, values in axes:
        texts = [json.dumps(v, sort_keys=True) for v in values]
        duplicate = next((t for t in texts if texts.count(t) > 1), None)
        if duplicate:
            raise InputError(f"--grid {key}: the value {duplicate} is given twice")
    name = base.name or _sanitise(config_path.stem) or "sweep"
    points = make_points(axes, name)
    bad = next((p for p in points if not re.fullmatch(RUN_NAME, p.name)), None)
    if bad:
        raise InputError(f"grid point {_shown(bad.values)}: {bad.name!r} is not a valid run "
                         f"name; give the grid keys names that start with a letter or digit")
    folder = config_path.resolve().parent
    identity = {"format": FORMAT_VERSION, "config": base.model_dump(mode="json"),
                "folder": str(folder), "axes": [[k, v] for k, v in axes]}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    return Sweep(config_path.resolve(), list(overrides), axes, points, name, digest)


def check_size(axes: list[tuple[str, list]], seeds: int | None) -> None:
    """Refuse a sweep of more points than memory holds (nncli.memory), before making them."""
    sizes = [(f"--grid {key}", len(values)) for key, values in axes]
    if seeds is not None:
        sizes.append((f"--seeds {seeds}", seeds))
    if sizes:
        runs = math.prod(n for _, n in sizes)
        largest = max(sizes, key=lambda s: s[1])[0]
        memory.require(f"{largest} (a sweep of {runs} runs)", memory.sweep(runs))


def validate_points(axes: list[tuple[str, list]], raw: dict, config_path: Path) -> None:
    """Validate every point's config from the values as parsed: nothing is serialised before
    it is validated, so an alias bomb or a self-referencing alias in a grid value is refused
    as it is in a config or a --set (at the first wrong value), never expanded."""
    keys = [key for key, _ in axes]
    for values in itertools.product(*(vals for _, vals in axes)):
        point = copy.deepcopy(raw)
        try:
            for key, value in zip(keys, values):
                set_value(point, key, value, f"--grid {key}")
            validate_config(point, str(config_path))
        except InputError as e:
            raise InputError(f"grid point {_shown(list(zip(keys, values)))}: {e}") from None


def _shown(values: list[tuple[str, Any]]) -> str:
    """``key=value ...`` for messages; a value is shown bounded (it may not be valid yet)."""
    brief = reprlib.Repr()
    brief.maxlevel, brief.maxlist, brief.maxdict, brief.maxstring = 3, 6, 6, 40
    scalar = (int, float, str, type(None))
    return " ".join(f"{key}={json.dumps(v) if isinstance(v, scalar) else brief.repr(v)}"
                    for key, v in values)


def make_points(axes: list[tuple[str, list]], name: str) -> list[Point]:
    """The cartesian product of the axes (the last axis varies fastest), each point named
    ``label-value__label-value...``, e.g. ``learning_rate-0.1__seed-0``."""
    if not axes:
        return [Point(name, [])]
    keys = [key for key, _ in axes]
    labels = _labels(keys)
    points = []
    for values in itertools.product(*(vals for _, vals in axes)):
        text = "__".join(f"{labels[k]}-{_name_part(v)}" for k, v in zip(keys, values))
        points.append(Point(text, list(zip(keys, values))))
    names = [p.name for p in points]
    for p in points:  # too long, or two values that read the same once sanitised
        if len(p.name) > MAX_NAME or names.count(p.name) > 1:
            digest = hashlib.sha256(json.dumps(p.values).encode()).hexdigest()[:8]
            p.name = f"{p.name[:MAX_NAME - 9]}-{digest}"
    return points


def _labels(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix naming each key uniquely (``learning_rate`` for
    ``training.learning_rate``), extended past a list index: ``layers.0.units``."""
    labels = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            label = ".".join(parts[-n:])
            if parts[-n].isdigit():
                continue
            if not any(o != key and (o == label or o.endswith("." + label)) for o in keys):
                break
        labels[key] = _sanitise(label)
    return labels


def _name_part(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if isinstance(value, (list, dict)):
        text = re.sub(r'[\[\]{}"]', "", text).strip(",")
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text) or "empty"


def _sanitise(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).lstrip("._-")


# ---------------------------------------------------------------------------------------------
# The sweep directory


class _SweepPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    overrides: list[str]


class SweepFile(BaseModel):
    """sweep.json as a resumed sweep reads it back (see :meth:`Sweep.describe`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format_version: int
    id: str
    name: str
    config: str
    set: list[str]
    grid: dict[str, list[Any]]
    points: list[_SweepPoint]


def open_sweep(sweep: Sweep, out: str | Path) -> Path:
    """The sweep's directory under ``out``, created with its sweep.json, or found again."""
    directory = sweep.directory(out)
    described = directory / SWEEP_FILE
    if described.exists():
        recorded = validated(read_json(described, "sweep file"), SweepFile, str(described))
        if recorded.id != sweep.id:
            raise InputError(f"{described}: describes another sweep (id {recorded.id}, "
                             f"this one is {sweep.id})")
        return directory
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"--out {out}: not a directory") from None
    except OSError as e:
        raise os_failure(e, directory, "create") from None
    with os_errors(described):
        write_atomic(described, (json.dumps(sweep.describe(), indent=2) + "\n").encode())
    return directory


@dataclass
class Outcome:
    status: str  # finished | diverged | interrupted | failed | pending
    run_dir: Path | None = None
    metrics: dict | None = None
    error: str | None = None
    earlier: bool = False  # done by an earlier invocation (resumed, not run now)


def earlier_outcomes(sweep: Sweep, directory: Path) -> dict[str, Outcome]:
    """The points already done in ``directory``: their latest finished or diverged run."""
    names = {p.name for p in sweep.points}
    done: dict[str, Outcome] = {}
    found = [info for _, info in find_runs(directory)]
    # A damaged run: whether its point is done cannot be told, so say so rather than guess.
    # (A damaged summary.csv blocks nothing: it is written again from the runs.)
    damaged = next((info for info in found
                    if info.status == "damaged" and info.path.name != SUMMARY_FILE), None)
    if damaged:
        raise InputError(damaged.error)
    runs = [info for info in found if info.status in FINAL_STATUSES and info.name in names]
    for info in sorted(runs, key=lambda i: (i.date is None, i.date, i.path.name)):
        error = info.metrics.get("reason") if info.status != "finished" else None
        done[info.name] = Outcome(info.status, info.path, info.metrics, error, earlier=True)
    return done


# ---------------------------------------------------------------------------------------------
# Running


_in_run = False  # set while a local worker trains: Ctrl-C then aborts the run


def _worker_init(sweep_pid: int) -> None:
    """Local workers: Ctrl-C (sent to the whole process group) aborts the run in progress
    cleanly, and is ignored by an idle worker, which would otherwise print a traceback. And a
    worker exits when the sweep process is gone, however it ended."""
    signal.signal(signal.SIGINT, _on_sigint)
    threading.Thread(target=_exit_with_the_sweep, args=(sweep_pid,), daemon=True,
                     name="nncli-sweep-watch").start()


def _exit_with_the_sweep(sweep_pid: int, every: float = 0.5) -> None:
    """A killed sweep (SIGKILL, out of memory) cannot tell its workers; an orphaned worker
    would wait on its task queue forever. The kernel gives an orphan a new parent, so a
    parent that changed means the sweep is gone (checked twice a second)."""
    while os.getppid() == sweep_pid:
        time.sleep(every)
    os._exit(1)  # a run in progress is left as a killed one is: resumable from a checkpoint


def _on_sigint(signum, frame):
    if _in_run:
        raise KeyboardInterrupt


def run_point(config_path: str, overrides: list[str], out: str) -> dict:
    """Train one point into ``out`` (in a worker) and report the outcome as plain data."""
    global _in_run
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    from .training.train import train_from_config

    _in_run = True
    try:
        # One BLAS thread per run: the runs themselves are the parallelism.
        with threadpool_limits(limits=1):
            outcome = train_from_config(config_path, overrides, out)
    except (InputError, TrainingFailed) as e:
        return {"status": "failed", "error": str(e)}
    except Exception as e:  # one broken point must not stop the sweep
        return {"status": "failed", "error": f"{type(e).__name__}: {e}"}
    finally:
        _in_run = False
    return {"status": outcome.metrics["status"], "run_dir": str(outcome.run_dir),
            "metrics": outcome.metrics}


class LocalPool:
    """``jobs`` worker processes on this machine, started fresh (spawn) when first needed.

    Not forked from a server that has NumPy loaded: in such workers OpenBLAS made every run
    about ten times slower (measured), and a spawned worker holds no state of this process.
    """

    def __init__(self, jobs: int):
        import multiprocessing

        self.jobs = jobs
        self.executor = cf.ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
            initargs=(os.getpid(),))

    def describe(self) -> str:
        return f"{self.jobs} local process{'es' if self.jobs > 1 else ''}"

    def capacity(self) -> int:
        return self.jobs

    def submit(self, *args) -> cf.Future:
        return self.executor.submit(run_point, *args)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.executor.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """The workers of a running Dask scheduler; they must see the same paths (a shared
    filesystem) and have the same nncli installed."""

    def __init__(self, address: str, timeout: float = 10):
        try:
            from distributed import Client
            from distributed.comm.addressing import parse_address, parse_host_port
        except ImportError:
            raise InputError(f"--scheduler {address}: the Dask client is not installed; "
                             f"install it with: pip install 'nncli[dask]'") from None

        self.address = address
        try:  # checked first: a Client given a malformed address hangs on exit
            scheme, location = parse_address(address)
            if scheme in ("tcp", "tls") and not 0 < parse_host_port(location)[1] < 65536:
                raise ValueError("the port must be between 1 and 65535")
        except ValueError as e:
            raise InputError(f"--scheduler {address}: expected tcp://HOST:PORT ({e})") from None
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise InputError(f"--scheduler {address}: cannot connect ({e})") from None
        self.executor = self.client.get_executor(pure=False)

    def describe(self) -> str:
        workers = self.client.nthreads()
        n, threads = len(workers), sum(workers.values())
        return f"Dask scheduler {self.address} ({n} worker{'s' * (n != 1)}, " \
               f"{threads} thread{'s' * (threads != 1)})"

    def capacity(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, *args) -> cf.Future:
        return self.executor.submit(run_point, *args)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.executor.shutdown(wait=False)  # cancels what has not run
        self.client.close()


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Silent:
    def begin(self, done_before): pass

    def started(self, point): pass

    def finished(self, point, outcome): pass


def run_sweep(sweep: Sweep, directory: Path, pool, fail_fast: bool = False,
              progress=None) -> dict[str, Outcome]:
    """Run every point not done yet, at most ``pool.capacity()`` at a time, recording each
    outcome in summary.csv as it arrives. Returns the outcome of every point that has one.

    A failed or diverged point does not stop the others unless ``fail_fast``: then nothing
    new starts and the runs under way finish. On Ctrl-C the summary is written and the
    interruption propagates; the same call later resumes.
    """
    progress = progress or _Silent()
    results = earlier_outcomes(sweep, directory)
    progress.begin(len(results))
    pending = [p for p in sweep.points if p.name not in results]
    running: dict[cf.Future, Point] = {}
    out = str(directory.resolve())
    stop = False
    try:
        while pending or running:
            room = pool.capacity() - len(running) if pending and not stop else 0
            for point in pending[:max(room, 0)]:
                running[pool.submit(str(sweep.config_path), sweep.run_overrides(point), out)] = point
                progress.started(point)
            pending = pending[max(room, 0):]
            if not running:
                break
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                point = running.pop(future)
                outcome = _outcome(future)
                results[point.name] = outcome
                stop = stop or (fail_fast and outcome.status != "finished")
                write_summary(sweep, directory, results)
                progress.finished(point, outcome)
    finally:
        for future in running:
            future.cancel()
        write_summary(sweep, directory, results)
    return results


def _outcome(future: cf.Future) -> Outcome:
    try:
        r = future.result()
    except Exception as e:  # the worker itself was lost (killed, out of memory, ...)
        return Outcome("failed", error=f"{type(e).__name__}: {e}")
    if r["status"] == "failed":
        return Outcome("failed", error=r["error"])
    metrics = r["metrics"]
    error = metrics.get("reason") if r["status"] != "finished" else None
    return Outcome(r["status"], Path(r["run_dir"]), metrics, error)


# ---------------------------------------------------------------------------------------------
# Summaries


def summary_rows(sweep: Sweep, results: dict[str, Outcome]) -> list[dict]:
    """One row per point (points not run yet are ``pending``), best first."""
    rows = []
    for point in sweep.points:
        o = results.get(point.name, Outcome("pending"))
        m = o.metrics or {}
        rows.append({"name": point.name, "status": o.status, **dict(point.values),
                     "epochs_run": m.get("epochs_run"), "wall_time": m.get("wall_time"),
                     **flat_metrics(o.metrics),
                     "run_dir": o.run_dir.name if o.run_dir else None, "error": o.error})
    return rank(rows, lambda r: STATUS_ORDER.get(r["status"], 9))


def aggregate_rows(sweep: Sweep, rows: list[dict]) -> list[dict]:
    """Per grid point: how many seeds finished, and the mean and sample standard deviation
    (n - 1) of each metric over the finished ones (std is empty for a single seed)."""
    keys = [key for key, _ in sweep.axes if key != SEED]
    metrics = metric_columns(rows)
    groups: dict[str, list[dict]] = {}
    for point in sweep.points:  # grid order
        values = dict(point.values)
        groups.setdefault(json.dumps([values[k] for k in keys]), [])
    for row in rows:
        groups[json.dumps([row[k] for k in keys])].append(row)
    out = []
    for members in groups.values():
        finished = [r for r in members if r["status"] == "finished"]
        agg = {k: members[0][k] for k in keys}
        agg.update(seeds=len(members), finished=len(finished))
        for col in metrics:
            values = [r[col] for r in finished if r.get(col) is not None]
            agg[f"{col}_mean"] = statistics.fmean(values) if values else None
            agg[f"{col}_std"] = statistics.stdev(values) if len(values) > 1 else None
        out.append(agg)
    return rank(out, lambda r: 0 if r["finished"] else 1, suffix="_mean")


def ranking_metric(rows: list[dict], suffix: str = "") -> tuple[str | None, str | None]:
    """The column rows are ranked by, best first: the validation metric (accuracy or R²,
    higher is better) if there is one, else the training metric; and the matching loss
    (lower is better) as the tie-break."""
    for prefix in ("val_", ""):
        for metric in HIGHER_IS_BETTER:
            if any(r.get(prefix + metric + suffix) is not None for r in rows):
                return prefix + metric + suffix, prefix + "loss" + suffix
    for loss in ("val_loss", "loss"):
        if any(r.get(loss + suffix) is not None for r in rows):
            return None, loss + suffix
    return None, None


def rank(rows: list[dict], group, suffix: str = "") -> list[dict]:
    metric, loss = ranking_metric(rows, suffix)

    def key(r):
        m = r.get(metric) if metric else None
        l = r.get(loss) if loss else None
        return (group(r), m is None, -(m or 0), l is None, l or 0)

    return sorted(rows, key=key)  # stable: ties keep the grid order


def metric_columns(rows: list[dict]) -> list[str]:
    """loss, accuracy|r2, val_loss, val_... in the order metrics.json gives them."""
    columns: list[str] = []
    fixed = {"name", "status", "epochs_run", "wall_time", "run_dir", "error"}
    for r in rows:
        for col in r:
            if col not in fixed and col not in columns and is_metric_column(col):
                columns.append(col)
    return columns


def write_summary(sweep: Sweep, directory: Path, results: dict[str, Outcome]) -> list[dict]:
    rows = summary_rows(sweep, results)
    columns = (["name", "status"] + [k for k, _ in sweep.axes] + ["epochs_run", "wall_time"]
               + metric_columns(rows) + ["run_dir", "error"])
    with os_errors(directory / SUMMARY_FILE):
        write_atomic(directory / SUMMARY_FILE, _csv(rows, columns).encode())
    if sweep.seeded:
        agg = aggregate_rows(sweep, rows)
        with os_errors(directory / AGGREGATE_FILE):
            write_atomic(directory / AGGREGATE_FILE,
                         _csv(agg, list(agg[0]) if agg else []).encode())
    return rows


def _csv(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)  # ints, booleans (true/false), lists, mappings

