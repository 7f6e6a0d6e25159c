"""`nncli trace CONFIG`: the first training updates, every number in textbook order."""

from __future__ import annotations

import typer

from ..errors import InputError, TrainingFailed
from . import console
from .app import command
from .options import ConfigFile, Set

# The library (numpy, pydantic, the data layer) and rich's Markdown are imported inside the
# command, so `nncli --help` does not pay for them (docs/performance.md).

FORMATS = ("text", "markdown", "json")
WORKSHEET_FORMATS = ("text", "markdown", "csv")


@command(epilog="Example: nncli trace configs/example-b-two-layers.yaml --steps 1 "
                "--format markdown > step.md; a worksheet to fill in: nncli trace "
                "configs/example-b-two-layers.yaml --worksheet --format csv > sheet.csv")
def trace(
    config: ConfigFile,
    steps: int = typer.Option(1, "--steps", help="Number of training updates to trace."),
    format_: str = typer.Option("text", "--format",
                                help="text (rendered tables), markdown, or json (one object); "
                                     "a worksheet: text, markdown or csv."),
    digits: int = typer.Option(6, "--digits",
                               help="Significant digits in text and markdown (json is exact)."),
    set_: Set = None,
    worksheet: bool = typer.Option(
        False, "--worksheet",
        help="Print the trace with blanks to fill in, each a named cell (grade it with nncli "
             "check)."),
):
    """Show the first training updates step by step: z, a, loss, deltas, gradients, new weights."""
    formats = WORKSHEET_FORMATS if worksheet else FORMATS
    if format_ not in formats:
        raise InputError(f"--format: expected one of {', '.join(formats)}"
                         + (" with --worksheet" if worksheet else "") + f" (got {format_!r})")
    if steps < 1:
        raise InputError(f"--steps: expected an integer >= 1 (got {steps})")
    if not 1 <= digits <= 17:
        raise InputError(f"--digits: expected an integer from 1 to 17 (got {digits})")
    if worksheet:
        return _worksheet(config, set_ or [], steps, format_)
    from ..insight.trace import to_markdown, trace_config

    result = trace_config(config, set_ or [], steps)
    if format_ == "json":
        console.emit_json(result.to_dict())
    elif format_ == "markdown":
        console.emit(to_markdown(result, digits))
    else:
        from rich.markdown import Markdown

        console.show(Markdown(to_markdown(result, digits)))
    if result.stopped:
        raise TrainingFailed(result.stopped)


def _worksheet(config: Path, overrides: list[str], steps: int, format_: str) -> None:
    from ..insight.cells import exercise_config
    from ..insight.worksheet import to_csv, to_markdown

    sheet = exercise_config(config, overrides, steps)
    if sheet.steps:
        if format_ == "csv":
            console.emit(to_csv(sheet))
        elif format_ == "markdown":
            console.emit(to_markdown(sheet))
        else:
            from rich.markdown import Markdown

            console.show(Markdown(to_markdown(sheet)))
    if sheet.ended:
        console.warning(f"early stopping ends training after {len(sheet.steps)} steps: "
                        f"{sheet.ended}")
    if sheet.stopped:
        raise TrainingFailed(sheet.stopped + f"; the worksheet has the "
                             f"{len(sheet.steps)} steps before it")
