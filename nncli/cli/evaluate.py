"""`nncli evaluate RUN_DIR [--data FILE] [--json]`: metrics of a trained run.

The report is the command's result, so it goes to stdout: tables for people, or one JSON
object on one line with ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from . import console
from .app import command
from .options import Json, RunDir


@command(epilog="Examples: nncli evaluate runs/digits-20260101-120000\n\n"
                "nncli evaluate runs/penguins-20260101-120000 --data labelled.csv --json")
def evaluate(
    run_dir: RunDir,
    data: Optional[Path] = typer.Option(
        None, "--data", help="A labelled CSV file (feature and target columns by name). "
        "Default: the run's own validation split, reproduced from its config.yaml."),
    delimiter: str = typer.Option(",", "--delimiter", help="The --data file's field delimiter."),
    json_: Json = False,
):
    """Evaluate a trained run: loss, accuracy, per-class precision/recall/F1 and confusion
    matrix for classification; MSE, RMSE, MAE and R² (in the target's units) for regression.

    With --json, the same report as one JSON object instead of tables.
    """
    from ..runs.evaluate import evaluate_run  # numpy, pyarrow: not needed by `nncli --help`
    from ..runs.load import load_run

    if data is not None and str(data) == "-":
        raise InputError("--data: give a file (stdin is not supported here)")
    model = load_run(run_dir)
    if data is None:
        from ..training.reproduce import validation_batch

        report = evaluate_run(model, validation=validation_batch(model))
    else:
        report = evaluate_run(model, data, delimiter=delimiter)
    if json_:
        console.emit_json(report)
    else:
        where = "its validation split" if report["data"] == "validation" else report["data"]
        # A plain line, so that a long path is never wrapped or cut.
        console.emit(f"{report['run_dir']} on {where}: {report['rows']} rows\n")
        console.show(report_tables(report))


def report_tables(r: dict):
    from rich.console import Group
    from rich.text import Text

    parts = []
    summary = _table("metric", "value")
    scaled = r.get("target_scale", "none") != "none"  # the loss is in the scaled target's units
    summary.add_row(f"loss ({r['loss_function']}{', scaled target' if scaled else ''})",
                    console.number(r["loss"]))
    if r["task"] == "regression":
        for key in ("mse", "rmse", "mae", "r2"):
            summary.add_row(key, console.number(r[key]))
        parts.append(summary)
        if len(r["per_target"]) > 1:
            per = _table("target", "mse", "rmse", "mae", "r2")
            for t in r["per_target"]:
                per.add_row(t["target"], *(console.number(t[k])
                                           for k in ("mse", "rmse", "mae", "r2")))
            parts.append(per)
        return Group(*parts)
    summary.add_row("accuracy", console.number(r["accuracy"]))
    per = _table("class", "precision", "recall", "f1", "support")
    for c in r["per_class"]:
        per.add_row(str(c["class"]), *(console.number(c[k]) for k in ("precision", "recall", "f1")),
                    str(c["support"]))
    matrix = _table("true \\ predicted", *map(str, r["classes"]))
    for label, row in zip(r["classes"], r["confusion_matrix"]):
        matrix.add_row(str(label), *map(str, row))
    undefined = any(c["precision"] is None for c in r["per_class"])
    parts += [summary, per, matrix]
    if undefined:
        parts.append(Text("- : undefined (a class that is never predicted has no precision)"))
    return Group(*parts)


def _table(first: str, *numeric: str):
    """A table whose first column names the row and the others hold numbers."""
    from rich.table import Table

    table = Table()
    table.add_column(first)
    for name in numeric:
        table.add_column(name, justify="right")
    return table

