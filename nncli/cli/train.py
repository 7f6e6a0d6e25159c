"""`nncli train CONFIG`: train from a YAML config and write a new run directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from ..errors import TrainingFailed
from . import console
from .app import command

if TYPE_CHECKING:
    from rich.table import Table

    from ..trainer import TrainOutcome

# The trainer (numpy, pydantic, the data layer) and rich's progress and tables are imported
# inside the command: `nncli --help` must not pay for them (docs/performance.md).


@command(epilog="Example: nncli train configs/blobs.yaml --set training.learning_rate=0.05 --json")
def train(
    config: Path = typer.Argument(..., help="The experiment's YAML config file."),
    set_: Optional[List[str]] = typer.Option(
        None, "--set", metavar="KEY=VALUE",
        help="Override a config key by its dotted path (value parsed as YAML); repeatable."),
    out: Path = typer.Option(Path("runs"), "--out", help="Parent directory of the new run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary."),
    json_: bool = typer.Option(False, "--json",
                               help="Print one JSON object (run_dir, final metrics) on stdout."),
):
    """Train the network a config describes and write its run directory."""
    from ..trainer import train_from_config
    from .progress import TrainingProgress

    progress = None

    def on_start(experiment):
        nonlocal progress
        progress = TrainingProgress(experiment.config.training.epochs, quiet=quiet,
                                    label=experiment.config.name)
        progress.__enter__()

    try:
        outcome = train_from_config(config, set_ or [], out, on_start=on_start,
                                    on_epoch=lambda r: progress.on_epoch(r))
    finally:
        if progress is not None:
            progress.__exit__(None, None, None)
    if not quiet:
        console.err.print(summary_table(outcome))
    if json_:
        console.emit_json({"run_dir": str(outcome.run_dir), **outcome.metrics})
    status = outcome.metrics["status"]
    if status == "diverged":
        raise TrainingFailed(f"training diverged: {outcome.result.reason}; "
                             f"the run is in {outcome.run_dir}")
    if status == "interrupted":
        console.info(f"interrupted; the run so far is in {outcome.run_dir}")
        raise typer.Exit(130)


def summary_table(outcome: TrainOutcome) -> Table:
    from rich.table import Table

    m = outcome.metrics
    table = Table(title=f"{outcome.experiment.config.name}: {m['status']} after "
                        f"{m['epochs_run']}/{m['epochs']} epochs in {m['wall_time']:.2f} s",
                  caption=f"run directory: {outcome.run_dir}")
    table.add_column("metric")
    table.add_column("train", justify="right")
    if m["validation"] is not None:
        table.add_column("validation", justify="right")
    for key in m["train"]:
        row = [key, _fmt(m["train"][key])]
        if m["validation"] is not None:
            row.append(_fmt(m["validation"][key]))
        table.add_row(*row)
    return table


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.6g}"
