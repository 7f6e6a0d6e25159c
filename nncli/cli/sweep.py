"""`nncli sweep CONFIG --grid KEY=V1,V2`: train every point of a grid, locally or on Dask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import InputError, TrainingFailed
from . import console
from . import complete
from .app import command
from .options import ConfigFile, Json, Set

# nncli.sweep (numpy, pydantic), the progress table and distributed are imported inside the
# command: `nncli --help` must not pay for them.


@command(epilog="Example: nncli sweep configs/blobs.yaml --grid training.learning_rate=0.01,0.1 "
                "--grid training.batch=sgd,minibatch --seeds 3 --jobs 2")
def sweep(
    config: ConfigFile,
    grid: Optional[List[str]] = typer.Option(
        None, "--grid", metavar="KEY=V1,V2,...", autocompletion=complete.config_keys,
        help="A config key by its dotted path and the values to try (parsed as YAML; "
             "lists allowed: KEY=[8],[16,8]); repeatable: the sweep is the cartesian product."),
    seeds: Optional[int] = typer.Option(
        None, "--seeds", min=1, metavar="N",
        help="Train every grid point with seeds 0..N-1 and report mean and standard deviation."),
    set_: Set = None,
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", min=1, help="Runs in parallel on this machine (default: the "
                                          "number of cores)."),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", metavar="tcp://HOST:PORT",
        help="Run on the workers of this Dask scheduler instead of local processes (needs "
             "the Dask client: pip install 'nncli[dask]')."),
    out: Path = typer.Option(Path("runs"), "--out", help="Parent directory of the sweep directory."),
    fail_fast: bool = typer.Option(False, "--fail-fast",
                                   help="Start no new run after one fails or diverges."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary."),
    json_: Json = False,
):
    """Train a config over a grid of overrides (and seeds); re-run the same command to resume.

    Every run is a normal run directory inside runs/<name>-sweep-<id>/, next to summary.csv
    (best first); --set applies to every run. Exit code 1 when some run failed or diverged.
    With --json, one object: sweep_dir, the counts of each status and every run.
    """
    if jobs is not None and scheduler:
        raise InputError("--jobs applies to local runs; with --scheduler the cluster's "
                         "worker threads set the parallelism")
    from ..sweep import (DaskPool, LocalPool, SUMMARY_FILE, aggregate_rows, default_jobs,
                         open_sweep, plan_sweep, run_sweep, summary_rows)
    from .progress import SweepProgress

    plan = plan_sweep(config, grid or [], seeds, set_ or [])
    if not scheduler:  # each local worker is a process of its own
        from .. import memory
        started = min(jobs or default_jobs(), len(plan.points))
        memory.require(f"--jobs {jobs or default_jobs()} ({started} worker processes)",
                       memory.workers(started))
    pool = DaskPool(scheduler) if scheduler else LocalPool(jobs or default_jobs())
    with pool:
        directory = open_sweep(plan, out)
        progress = SweepProgress(len(plan.points), f"{directory} on {pool.describe()}", quiet)
        try:
            with progress:
                results = run_sweep(plan, directory, pool, fail_fast, progress)
        except KeyboardInterrupt:
            console.info(f"interrupted after {progress.done} of {len(plan.points)} runs; "
                         f"run the same command again to resume {directory}")
            raise typer.Exit(130) from None

    rows = summary_rows(plan, results)
    aggregate = aggregate_rows(plan, rows) if plan.seeded else None
    if not quiet:
        show_summary(plan, rows, aggregate, directory)
    if json_:
        done_before = sum(o.earlier for o in results.values())
        console.emit_json(sweep_json(directory, rows, aggregate, done_before))
    bad = [r for r in rows if r["status"] in ("failed", "diverged")]
    pending = sum(r["status"] == "pending" for r in rows)
    if bad:
        stopped = f"; stopped early (--fail-fast), {pending} not run" if pending else ""
        raise TrainingFailed(f"{len(bad)} of {len(rows)} runs failed or diverged{stopped}; "
                             f"see {directory / SUMMARY_FILE}")


def sweep_json(directory: Path, rows: list[dict], aggregate, done_before: int) -> dict:
    from ..sweep import SUMMARY_FILE

    counts = {s: sum(r["status"] == s for r in rows)
              for s in ("finished", "diverged", "failed", "pending")}
    runs = [{**r, "run_dir": str(directory / r["run_dir"]) if r["run_dir"] else None}
            for r in rows]
    obj = {"sweep_dir": str(directory), "summary": str(directory / SUMMARY_FILE),
           "total": len(rows), **counts, "done_before": done_before, "runs": runs}
    if aggregate is not None:
        obj["aggregate"] = aggregate
    return obj


def show_summary(plan, rows: list[dict], aggregate, directory: Path) -> None:
    """The summary table on stderr, then why each failed or diverged run did. Off a terminal
    (a log file) the table takes the width it needs instead of wrapping at 80 columns."""
    table = summary_table(plan, rows, aggregate, directory)
    err = console.err
    if err.is_terminal:
        err.print(table)
    else:  # rich caps print(width=) at the console's width, so widen the console itself
        needed = err.measure(table, options=err.options.update_width(1000)).maximum
        saved = err._width
        err.width = max(err.width, needed)
        try:
            err.print(table)
        finally:
            err._width = saved
    for r in rows:
        if r["error"]:
            console.info(f"{r['status']} {r['name']}: {r['error']}")


def summary_table(plan, rows: list[dict], aggregate, directory: Path):
    """Best first: one row per run, or with seeds one row per grid point (mean ± std)."""
    from rich import box
    from rich.table import Table

    from ..sweep import AGGREGATE_FILE, SUMMARY_FILE, metric_columns

    metrics = metric_columns(rows)
    if aggregate is None:
        table = Table(title=f"sweep {directory}", caption=str(directory / SUMMARY_FILE),
                      box=box.SIMPLE_HEAD)
        table.add_column("run", no_wrap=True)
        table.add_column("status")
        for col in [*metrics, "time"]:
            table.add_column(col, justify="right")
        for r in rows:
            table.add_row(r["name"], r["status"], *(console.number(r.get(m), 4) for m in metrics),
                          "-" if r["wall_time"] is None else f"{r['wall_time']:.2f}s")
        return table
    keys = [k for k, _ in plan.axes if k != "seed"]
    labels = plan.labels()
    table = Table(title=f"sweep {directory}: mean ± std over seeds",
                  caption=f"{directory / AGGREGATE_FILE}; every run: {directory / SUMMARY_FILE}",
                  box=box.SIMPLE_HEAD)
    for key in keys:
        table.add_column(labels[key], no_wrap=True)
    for col in ["seeds", *metrics]:
        table.add_column(col, justify="right")
    for a in aggregate:
        cells = [_value(a[k]) for k in keys] + [f"{a['finished']}/{a['seeds']}"]
        for m in metrics:
            mean, std = a[f"{m}_mean"], a[f"{m}_std"]
            cells.append(console.number(mean, 4) + ("" if std is None else f" ± {std:.2g}"))
        table.add_row(*cells)
    return table



def _value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)
