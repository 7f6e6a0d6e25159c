"""`nncli check CONFIG ANSWERS`: grade a filled-in worksheet, cell by cell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import TrainingFailed
from . import console
from .app import command
from .options import ConfigFile, Json, Set

if TYPE_CHECKING:
    from rich.table import Table

    from ..insight.check import CheckReport


@command(epilog="Example: nncli trace configs/example-b-two-layers.yaml --worksheet --format "
                "csv > sheet.csv; (fill in the value column) nncli check "
                "configs/example-b-two-layers.yaml sheet.csv")
def check(
    config: ConfigFile,
    answers: Path = typer.Argument(
        ..., help="The filled-in worksheet: its Markdown or CSV, or a name,value CSV."),
    set_: Set = None,
    json_: Json = False,
):
    """Grade a hand calculation: each filled-in cell against nncli's number, or against what
    its formula gives from your own earlier cells; names the first wrong cell and the mistake
    that reproduces it. Exit 1 when a cell is wrong.

    With --json, the grading of every cell as one JSON object."""
    from ..insight.check import check_config, summary

    report = check_config(config, answers, set_ or [])
    if json_:
        console.emit_json(report.to_dict())
    else:
        console.show(report_table(report))
        console.emit("".join(line + "\n" for line in summary(report)))
    if not report.passed:
        wrong = report.wrong
        raise TrainingFailed(f"{len(wrong)} of {len(report.graded)} cells wrong; the first is "
                             f"{wrong[0].cell.label}")


def report_table(report: CheckReport) -> Table:
    from rich.table import Table
    from rich.text import Text

    from ..insight.check import shown

    table = Table(title=f"check {report.exercise.name}: "
                        f"{'all right' if report.passed else 'some wrong'}")
    for name, justify in [("cell", "left"), ("yours", "right"), ("expected", "right"),
                          ("result", "left"), ("note", "left")]:
        table.add_column(name, justify=justify)
    for g in report.graded:
        if g.right:
            result = Text("right", style="green")
            note = f"from yours (nncli {shown(g.nncli, g.answer)})" if g.carried else ""
            if g.mistakes:
                note = "exactly " + ", ".join(m.name for m in g.mistakes)
        else:
            result = Text("wrong", style="bold red")
            note = ", ".join(m.name for m in g.mistakes) or "?"
        table.add_row(g.cell.label, g.answer.text, shown(g.expected, g.answer), result, note)
    return table
