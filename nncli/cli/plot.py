"""`nncli plot RUN_DIR...`: draw a run's pictures again, or compare runs' loss curves.

The drawing is nncli.plots (the same code `nncli train` uses, so a redrawn picture has the
same bytes as the one written at training time); this module only picks the pictures and
where they go.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from . import console
from .app import command
from .options import RunDirs

COMPARISON_FILE = "loss-comparison.png"


class What(str, Enum):
    loss = "loss"
    boundary = "boundary"
    fit = "fit"
    network = "network"
    all = "all"


@command(epilog="Examples: nncli plot runs/moons-20260101-120000 --what boundary --out moons.png"
                "\n\nnncli plot runs/a runs/b --what loss --out compare.png")
def plot(
    run_dirs: RunDirs,
    what: Optional[What] = typer.Option(
        None, "--what", help="loss, boundary (2-feature classification), fit (1-feature "
        "regression), network, or all that apply. Default: all for one run; for several "
        "runs, loss (their curves in one picture)."),
    out: Optional[Path] = typer.Option(
        None, "--out", metavar="FILE|DIR",
        help="Write to this file (.png, .svg or .pdf) or into this existing folder. Default: "
             f"the run directory; for several runs, {COMPARISON_FILE} in the current folder."),
):
    """Draw a run's pictures (loss curves, decision boundary, fitted curve, network) again."""
    from .. import plots  # matplotlib itself is imported only when a picture is drawn

    runs = [plots.load(path) for path in run_dirs]
    if len(runs) > 1:
        if what not in (None, What.loss):
            raise InputError(f"--what {what.value}: several runs are compared by their loss "
                             f"curves only (--what loss); give one run directory for the "
                             f"other pictures")
        target = _destination(out, Path.cwd() / COMPARISON_FILE, COMPARISON_FILE, 1)
        _emit(plots.save(plots.draw_comparison(runs), target))
        return

    run = runs[0]
    if what in (None, What.all):
        wanted = plots.applicable(run)
    else:
        reason = plots.why_not(run, what.value)
        if reason:
            raise InputError(f"{run.path}: {reason}")
        wanted = [what.value]
    targets = {w: _destination(out, run.path / plots.FILES[w], plots.FILES[w], len(wanted))
               for w in wanted}
    points = None
    if any(w in plots.NEEDS_POINTS for w in wanted):
        from ..training.reproduce import run_points

        points = run_points(run.path)
    for w in wanted:
        _emit(plots.save(plots.draw(run, w, points), targets[w]))


def _destination(out: Path | None, default: Path, filename: str, count: int) -> Path:
    """Where one of ``count`` pictures goes; checked before anything is drawn."""
    from ..plots.style import check_out

    if out is None:
        target = default
    elif out.is_dir():
        target = out / filename
    elif count > 1:
        raise InputError(f"--out {out}: {count} pictures do not fit in one file; choose one "
                         f"with --what, or give an existing folder")
    else:
        target = out
    check_out(target)
    return target


def _emit(path: Path) -> None:
    console.emit(f"{path}\n")
