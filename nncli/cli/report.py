"""`nncli report RUN_DIR...`: a run, or several, on one self-contained page for the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from ..files import free_name
from . import console
from .app import command
from .options import Labels, RunDirs, check_labels

REPORT_FILE = "report.html"


@command(epilog="Examples: nncli report runs/moons-20260101-120000"
                "\n\nnncli report runs/a runs/b --label 'lr 0.1' --label 'lr 0.01' "
                "--out compare.html\n\nnncli report sweeps/lr (every run of a sweep)")
def report(
    run_dirs: RunDirs,
    out: Optional[Path] = typer.Option(
        None, "--out", metavar="FILE", help="Write the page here (replaced if it exists). "
        "Default: report.html in the run directory for one run; for several, report.html in "
        "the current folder, or report-2.html, ... if that exists."),
    label: Labels = None,
):
    """Write report.html: config, metrics, doctor's findings, loss curves, the animation, the
    hidden units, the network and the layer statistics, images and data inline (no network
    needed to view it). Several runs, or a folder of runs (a sweep's), give one page that
    compares them. Prints the file written."""
    from ..insight.report import expand, write_comparison, write_run_report

    runs = expand(run_dirs)
    check_labels(label, len(runs))
    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--out {out}: a report is an .html file")
    if out is not None and not out.parent.is_dir():
        raise InputError(f"--out {out}: folder {out.parent} does not exist")
    if len(runs) == 1 and not label:
        path = write_run_report(runs[0], out)
    else:
        path = write_comparison(runs, out or free_name(Path.cwd() / REPORT_FILE), label)
    console.emit(f"{path}\n")
