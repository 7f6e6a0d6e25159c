"""`nncli runs [DIR]`: list the runs under a directory to compare them afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import console
from . import complete
from .app import command
from .options import Json

SORT_HELP = "date (the default, oldest first), name, or a metric, best first: " \
            "val_accuracy, accuracy, val_r2, r2, val_loss, loss, wall_time."


@command(epilog="Example: nncli runs runs --sort val_accuracy")
def runs(
    directory: Path = typer.Argument(Path("runs"), help="Where the runs are: a parent of run "
                                     "and sweep directories, a sweep directory, or one run.",
                                     autocompletion=complete.run_dirs),
    sort: Optional[str] = typer.Option(None, "--sort", metavar="METRIC", help=SORT_HELP),
    json_: Json = False,
):
    """List runs with their date, status, key config values and final metrics (on stdout).

    With --json, one object: {dir, runs: [...]}, each run as `nncli show --json` gives it
    without its history.
    """
    from ..runs.index import find_runs, sort_runs

    found = sort_runs(find_runs(directory), sort)
    for label, info in found:
        if info.status == "damaged":  # listed as such; here is why
            console.warning(f"{label} is damaged: {info.error}")
    if json_:
        console.emit_json({"dir": str(directory),
                           "runs": [info.to_json(label) for label, info in found]})
        return
    if not found:
        console.info(f"no runs in {directory}")
        return
    console.emit(plain_table(found))


def plain_table(found) -> str:
    """Aligned columns without borders or colour (scripts use --json)."""
    from ..metrics import metric_columns

    order = metric_columns()
    present = {key for _, info in found for key in info.flat_metrics()}
    metrics = [m for m in order if m in present] + sorted(present - set(order))
    header = ["run", "date", "status", "batch", "lr", "epochs", "layers", *metrics]
    rows = [header]
    for label, info in found:
        kv = info.key_values()
        flat = info.flat_metrics()
        batch = kv["batch"] or "-"
        if kv["batch_size"] is not None:
            batch += f"/{kv['batch_size']}"
        rows.append([
            label,
            info.date.strftime("%Y-%m-%d %H:%M") if info.date else "-",
            info.status, batch, console.number(kv["learning_rate"], 4),
            "-" if kv["epochs"] is None else str(kv["epochs"]),
            "-".join(map(str, kv["layers"])) if kv["layers"] else "-",
            *(console.number(flat.get(m), 4) for m in metrics),
        ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    left = 7  # text columns up to layers; numbers to the right
    lines = ["  ".join(cell.ljust(w) if i < left else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    return "\n".join(lines) + "\n"
