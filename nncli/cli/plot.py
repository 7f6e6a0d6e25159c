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
from ..files import free_name
from . import console
from .app import command
from .options import Labels, RunDirs, check_labels

COMPARISON_FILE = "loss-comparison.png"


class What(str, Enum):
    loss = "loss"
    boundary = "boundary"
    fit = "fit"
    network = "network"
    animation = "animation"
    units = "units"
    layers = "layers"
    all = "all"


@command(epilog="Examples: nncli plot runs/moons-20260101-120000 --what boundary --out moons.png"
                "\n\nnncli plot runs/moons-20260101-120000 --what animation --out moons.gif"
                "\n\nnncli plot runs/a runs/b --what loss --label 'lr 0.1' --label 'lr 0.01'")
def plot(
    run_dirs: RunDirs,
    what: Optional[What] = typer.Option(
        None, "--what", help="loss, boundary (2-feature classification), fit (1-feature "
        "regression), network, animation (boundary.gif or fit.gif: the model as it learns), "
        "units (each hidden unit over a 2-feature input plane), layers (layer statistics), "
        "or all that apply. Default: all for one run; for several runs, loss (their curves "
        "in one picture)."),
    label: Labels = None,
    out: Optional[Path] = typer.Option(
        None, "--out", metavar="FILE|DIR",
        help="Write to this file (.png, .svg or .pdf; replaced if it exists) or into this "
             f"existing folder. Default: the run directory; for several runs, "
             f"{COMPARISON_FILE} in the current folder (loss-comparison-2.png, ... if that "
             f"exists)."),
):
    """Draw a run's pictures (loss curves, decision boundary, fitted curve, network, the
    animation, hidden units, layer statistics) again."""
    from .. import plots  # matplotlib itself is imported only when a picture is drawn

    runs = [plots.load(path) for path in run_dirs]
    if len(runs) > 1:
        if what not in (None, What.loss):
            raise InputError(f"--what {what.value}: several runs are compared by their loss "
                             f"curves only (--what loss); give one run directory for the "
                             f"other pictures")
        check_labels(label, len(runs))
        target = _destination(out, free_name(Path.cwd() / COMPARISON_FILE), COMPARISON_FILE, 1)
        _emit(plots.save(plots.draw_comparison(runs, label), target))
        return

    run = runs[0]
    if what in (None, What.all):
        wanted = plots.applicable(run)
    else:
        reason = plots.why_not(run, what.value)
        if reason:
            raise InputError(f"{run.path}: {reason}")
        wanted = [what.value]
    names = {w: plots.filename(run, w) for w in wanted}
    targets = {w: _destination(out, run.path / names[w], names[w], len(wanted), w)
               for w in wanted}
    points = None
    if any(w in plots.NEEDS_POINTS for w in wanted):
        from ..training.reproduce import run_points

        points = run_points(run.path)
    for w in wanted:
        _emit(plots.save_picture(run, w, points, targets[w]))


def _destination(out: Path | None, default: Path, filename: str, count: int,
                 what: str = "") -> Path:
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
    if what == "animation":
        if target.suffix.lower() != ".gif":
            raise InputError(f"--out {target}: the animation is a GIF; name the file .gif")
        return target
    check_out(target)
    return target


def _emit(path: Path) -> None:
    console.emit(f"{path}\n")
