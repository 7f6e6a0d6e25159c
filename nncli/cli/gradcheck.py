"""`nncli gradcheck CONFIG`: backprop's gradients against central finite differences."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

import typer

from ..errors import InputError, TrainingFailed
from . import console
from .app import command
from .options import ConfigFile, Json, Set

if TYPE_CHECKING:
    from rich.table import Table

    from ..insight.gradcheck import GradcheckReport

# The library (numpy, pydantic, the data layer) and rich's tables are imported inside the
# command, so `nncli --help` does not pay for them (docs/performance.md). Hence the defaults are
# spelled out here; tests/test_gradcheck.py checks that they are nncli.insight.gradcheck's.
DEFAULT_EPS = 1e-6
DEFAULT_TOL = {"float64": 1e-5, "float32": 1e-3}
DEFAULT_SAMPLES = 16
DEFAULT_MAX_PARAMS = 2000


@command(epilog="Example: nncli gradcheck configs/moons.yaml --samples 8 --json")
def gradcheck(
    config: ConfigFile,
    eps: float = typer.Option(DEFAULT_EPS, "--eps", help="Finite-difference step, in float64."),
    tol: Optional[float] = typer.Option(
        None, "--tol", show_default=False,
        help=f"Relative tolerance (default {DEFAULT_TOL['float64']:g} for float64 configs, "
             f"{DEFAULT_TOL['float32']:g} for float32)."),
    samples: int = typer.Option(DEFAULT_SAMPLES, "--samples",
                                help="Check on the first N training rows."),
    max_params: int = typer.Option(
        DEFAULT_MAX_PARAMS, "--max-params",
        help="Check at most N entries per array (a seeded random sample of larger arrays); "
             "0 checks every entry."),
    set_: Set = None,
    json_: Json = False,
):
    """Compare backprop's gradient of every parameter array with central finite differences
    (float64); exit 1 when any array exceeds the tolerance.

    With --json, the report (every array, its errors and result) as one JSON object.
    """
    from rich.text import Text

    from ..insight.gradcheck import gradcheck_config

    _require(samples >= 1, "--samples", "an integer >= 1", samples)
    _require(max_params >= 0, "--max-params", "an integer >= 0 (0 = every entry)", max_params)
    _require(math.isfinite(eps) and eps > 0, "--eps", "a number > 0", eps)
    _require(tol is None or (math.isfinite(tol) and tol > 0), "--tol", "a number > 0", tol)
    report = gradcheck_config(config, set_ or [], samples=samples, eps=eps, tol=tol,
                              max_params=max_params)
    if json_:
        console.emit_json(report.to_dict())
    else:
        console.show(report_table(report))
        for line in kink_notes(report):
            console.show(Text(line))
    if not report.passed:
        worst = ", ".join(f"{a.name} (max relative error {a.max_rel:.3g} at {list(a.worst)})"
                          for a in report.arrays if a.status == "fail")
        raise TrainingFailed(f"gradient check failed for {worst}; tolerance {report.tol:g}")


def report_table(report: GradcheckReport) -> Table:
    from rich.table import Table
    from rich.text import Text

    samples = f"{report.samples} sample" + ("" if report.samples == 1 else "s")
    table = Table(
        title=f"gradcheck {report.name}: {'passed' if report.passed else 'FAILED'}",
        caption=f"loss {report.loss:.6g} on {samples}, eps {report.eps:g}, "
                f"tol {report.tol:g}, floor {report.floor:.3g}")
    for name, justify in [("array", "left"), ("shape", "left"), ("checked", "right"),
                          ("max abs error", "right"), ("max rel error", "right"),
                          ("result", "left")]:
        table.add_column(name, justify=justify)
    for a in report.arrays:
        checked = str(a.checked) if a.checked == a.size else f"{a.checked} of {a.size}"
        style = {"pass": "green", "fail": "bold red", "skipped": "yellow"}[a.status]
        result = Text("FAIL" if a.status == "fail" else a.status, style=style)
        notes = []
        if a.skipped:
            notes.append("kink" if a.status == "skipped" else f"{a.skipped} at a kink")
        if not a.trainable:
            notes.append("frozen")
        if notes:
            result.append(f" ({', '.join(notes)})")
        errors = [f"{a.max_abs:.3g}", f"{a.max_rel:.3g}"] if a.checked else ["-", "-"]
        table.add_row(a.name, "x".join(map(str, a.shape)), checked, *errors, result)
    return table


def kink_notes(report: GradcheckReport) -> list[str]:
    """Where units sit on a kink, why entries were skipped (the derivative is undefined), and
    what the checked objective holds besides the plain loss (penalty, weights, dropout)."""
    notes = [f"layer {k.layer} ({k.activation}): {k.count} of {k.total} unit values sit "
             f"exactly on the kink z = 0" for k in report.kinks if k.count]
    skipped = sum(a.skipped for a in report.arrays) - report.l1_kinks
    if skipped:
        notes.append(f"skipped {skipped} entries whose finite difference crosses a kink "
                     f"(no derivative there); they are not failures")
    if report.l1_kinks:
        notes.append(f"skipped {report.l1_kinks} weights within eps of the l1 kink at w = 0 "
                     f"(no derivative there); they are not failures")
    if report.penalty is not None:
        notes.append(f"the loss includes the weight penalty ({report.penalty:.6g}): the "
                     f"gradient checked is the penalised one training uses")
    if report.weighted:
        notes.append("the loss is the weighted mean of the rows' losses (class or sample "
                     "weights)")
    if report.dropout:
        layers = ", ".join(f"layer {k}: {d} of {t} unit values dropped"
                           for k, (d, t) in report.dropout.items())
        notes.append(f"dropout: one fixed mask is used for every evaluation ({layers})")
    return notes


def _require(ok: bool, option: str, expected: str, got) -> None:
    if not ok:
        raise InputError(f"{option}: expected {expected} (got {got})")
