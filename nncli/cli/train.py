"""`nncli train CONFIG`: train from a YAML config and write a new run directory.

`nncli train --resume RUN_DIR` continues an interrupted run (docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..errors import InputError, TrainingFailed
from . import complete, console
from .app import command
from .options import CONFIG_HELP, Json, Set
from .signals import StopOnSignal

if TYPE_CHECKING:
    from rich.table import Table

    from ..training.train import TrainOutcome

# The trainer (numpy, pydantic, the data layer) and rich's progress and tables are imported
# inside the command: `nncli --help` must not pay for them (docs/performance.md).


@command(epilog="Example: nncli train configs/blobs.yaml --set training.learning_rate=0.05 --json"
                "\n\nAfter Ctrl-C (exit 130): nncli train --resume runs/blobs-20250101-120000")
def train(
    config: Annotated[Optional[Path], typer.Argument(
        metavar="CONFIG", help=CONFIG_HELP, autocompletion=complete.config_files)] = None,
    set_: Set = None,
    out: Optional[Path] = typer.Option(
        None, "--out", help="Parent directory of the new run (default: runs; with --resume, "
                            "the resumed run's parent)."),
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", metavar="RUN_DIR", autocompletion=complete.run_dirs,
        help="Continue an interrupted run (or the .partial directory of a checkpointed run "
             "that was killed) to its configured epochs, as a new run directory; --set may "
             "change training.epochs and training.checkpoint_every only.")] = None,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary."),
    no_plots: bool = typer.Option(False, "--no-plots",
                                  help="Write no pictures (loss.png, ...) into the run."),
    json_: Json = False,
):
    """Train the network a config describes and write its run directory.

    With --json, the last line of stdout is one JSON object: run_dir and metrics.json.
    """
    if (config is None) == (resume is None):
        raise InputError("give a CONFIG file or --resume RUN_DIR" if config is None else
                         "give a CONFIG file or --resume RUN_DIR, not both")
    from ..training.train import resume_run, train_from_config
    from .progress import CliHooks, TrainingProgress

    stop = StopOnSignal()  # Ctrl-C / SIGTERM: stop after the batch, keep the run
    with stop, TrainingProgress(quiet) as progress:
        hooks = CliHooks(progress, stop, quiet)
        if resume is not None:
            outcome = resume_run(resume, set_ or [], out, hooks, plots=not no_plots)
        else:
            outcome = train_from_config(config, set_ or [], out or Path("runs"), hooks,
                                        plots=not no_plots)
    for problem in outcome.plot_problems:
        console.warning(problem)
    if not quiet:
        console.err.print(summary_table(outcome))
        if "best_epoch" in outcome.metrics:  # early stopping: say which weights were kept
            console.info(outcome.metrics["reason"])
        from .sparkline import history_columns, loss_chart
        chart = loss_chart(history_columns(outcome.history))
        if chart is not None:
            console.err.print(chart)
    if json_:
        console.emit_json({"run_dir": str(outcome.run_dir), **outcome.metrics})
    status = outcome.metrics["status"]
    if status == "diverged":
        raise TrainingFailed(f"training diverged: {outcome.result.reason}; "
                             f"the run is in {outcome.run_dir}")
    if status == "interrupted":
        console.info(f"{stop.signal_name}: {outcome.result.reason}; the run so far is in "
                     f"{outcome.run_dir}")
        console.info(f"continue it with: nncli train --resume {outcome.run_dir}")
        raise typer.Exit(130)
    if stop():  # a signal after the last epoch (while writing or drawing): never ignored
        pictures = "" if no_plots else (f" (draw any missing picture with: nncli plot "
                                        f"{outcome.run_dir})")
        console.info(f"{stop.signal_name}: stopped after training; the whole run is in "
                     f"{outcome.run_dir}{pictures}")
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
        row = [key, console.number(m["train"][key])]
        if m["validation"] is not None:
            row.append(console.number(m["validation"][key]))
        table.add_row(*row)
    return table

