"""`nncli show RUN_DIR`: one run at a glance: status, key settings, metrics, loss curve."""

from __future__ import annotations

from ..errors import InputError
from . import console
from .app import command
from .options import Json, RunDir


@command(epilog="Example: nncli show runs/blobs-20261122-112029")
def show(
    run_dir: RunDir,
    json_: Json = False,
):
    """Show one run: status, key config values, final metrics and the loss per epoch.

    With --json, the run as `nncli runs --json` lists it, plus its history.
    """
    from rich.table import Table

    from ..runs.formats import read_history
    from ..runs.index import is_run_dir, read_run
    from .sparkline import history_columns, loss_chart

    if not run_dir.is_dir() or not is_run_dir(run_dir):
        raise InputError(f"{run_dir}: not a run directory (no config.yaml, metrics.json, ...)")
    info = read_run(run_dir)
    if info.status == "damaged":
        raise InputError(info.error)
    history_file = run_dir / "history.csv"  # an incomplete run may have none yet
    history = read_history(history_file) if history_file.exists() else []
    if json_:
        console.emit_json({**info.to_json(info.name or run_dir.name), "history": history})
        return
    kv = info.key_values()
    layers = "-".join(map(str, kv["layers"])) if kv["layers"] else "-"
    batch = f"{kv['batch']}" + (f" {kv['batch_size']}" if kv["batch_size"] else "")
    reason = (info.metrics or {}).get("reason") or ""
    console.emit(f"{run_dir}\n  status {info.status}{': ' + reason if reason else ''}\n"
                 f"  layers {layers}  batch {batch}  learning rate {kv['learning_rate']}  "
                 f"epochs {kv['epochs']}  seed {kv['seed']}\n")
    m = info.metrics or {}
    if m.get("train"):
        table = Table(show_edge=False)
        table.add_column("metric")
        table.add_column("train", justify="right")
        if m.get("validation"):
            table.add_column("validation", justify="right")
        for key, value in m["train"].items():
            cells = [key, console.number(value)]
            if m.get("validation"):
                cells.append(console.number(m["validation"].get(key)))
            table.add_row(*cells)
        console.show(table)
    chart = loss_chart(history_columns(history))
    if chart is not None:
        console.show(chart)

