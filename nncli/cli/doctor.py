"""`nncli doctor RUN_DIR`: what went wrong in a run, the evidence, and a fix to try."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from . import console
from .app import command
from .options import Json, RunDir


@command(epilog="Example: nncli doctor runs/moons-overfit-20260101-120000 --verify")
def doctor(
    run_dir: RunDir,
    verify: bool = typer.Option(
        False, "--verify", help="Train each suggested fix from the run's config (into a "
        "temporary folder; the run is left as it is) and say which did better."),
    out: Optional[Path] = typer.Option(
        None, "--out", metavar="DIR", help="With --verify: keep the fixed runs under DIR."),
    json_: Json = False,
):
    """Diagnose a run: divergence, an oscillating or flat loss, vanishing gradients, dead or
    saturated units, overfitting, underfitting, unscaled inputs or target, imbalanced classes.
    Each finding comes with its evidence and a fix as --set overrides.

    With --json, one object: run_dir and the findings (code, title, evidence, fix, command;
    with --verify, each one's verdict)."""
    from ..insight import doctor as rules

    rules.check_run(run_dir)
    if out is not None and not verify:
        raise InputError("--out: where --verify keeps the fixed runs; give --verify too")
    rules.check_verify_out(run_dir, out)
    findings = rules.diagnose(rules.facts_of_run(run_dir))
    config = rules.config_arg(run_dir)
    verdicts = rules.verify(run_dir, findings, out) if verify and findings else []
    if json_:
        found = rules.findings_json(findings, config)
        for item, verdict in zip(found, verdicts):
            item["verify"] = {"better": verdict.better, "measure": verdict.measure,
                              "original": _measure(verdict.original, verdict.measure),
                              "fixed": _measure(verdict.fixed, verdict.measure),
                              "fixed_status": verdict.fixed["status"],
                              "run_dir": verdict.run_dir}
        console.emit_json({"run_dir": str(run_dir), "findings": found})
        return
    if not findings:
        console.emit(f"{run_dir}: no problems found\n")
        return
    lines = [f"{run_dir}: {len(findings)} finding{'s' if len(findings) > 1 else ''}\n"]
    for k, finding in enumerate(findings):
        lines.append(f"\n{k + 1}. {finding.title} [{finding.code}]\n")
        lines.append(f"   evidence: {finding.evidence}\n")
        lines.append(f"   try: {finding.command(config)}\n")
        if finding.why:
            lines.append(f"   ({finding.why})\n")
        if k < len(verdicts):
            v = verdicts[k]
            before, after = _measure(v.original, v.measure), _measure(v.fixed, v.measure)
            verdict = "better" if v.better else "not better"
            shown = _shown(before, after)
            lines.append(f"   verified: {verdict}: {v.measure} {shown[0]} -> "
                         f"{shown[1]} (fixed run {v.fixed['status']})"
                         + (f", kept in {v.run_dir}" if v.run_dir else "") + "\n")
    console.emit("".join(lines))


def _measure(metrics: dict, measure: str):
    if measure == "status":
        return metrics["status"]
    part = metrics.get("validation" if measure == "val_loss" else "train") or {}
    return part.get("loss")


def _shown(before, after) -> tuple[str, str]:
    """The two measures, to 4 significant digits, or as many more as it takes to tell two
    different numbers apart (a "better" must not read 0.7185 -> 0.7185)."""
    if isinstance(before, str) or isinstance(after, str) or None in (before, after):
        return tuple(v if isinstance(v, str) else console.number(v, 4) for v in (before, after))
    digits = 4
    while digits < 17 and before != after and \
            console.number(before, digits) == console.number(after, digits):
        digits += 1
    return console.number(before, digits), console.number(after, digits)
