"""report.html: a run (or several) on one self-contained page, for the browser.

Everything is inline: the pictures as data: URIs (PNG and the GIF animation), the config as
text, the history and layer statistics as CSV download links, no script, no style sheet or
font from elsewhere, so the page opens the same offline, mailed, or years later. One run's page:
status and metrics, doctor's findings, the loss curves, the animation, the decision boundary or
fitted curve, the hidden units, the network, the layer statistics (picture and the last
epoch's table), and the config. Several runs (``nncli report RUN_DIR...``, or a sweep's
folder): their loss curves in one picture labelled by what differs, a table of their settings
and metrics, then each run's pictures and findings.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ..errors import InputError
from ..files import os_errors, read_text, write_atomic
from ..runs.formats import LAYER_COLUMNS, history_csv, read_history, read_layers, read_metrics
from ..runs.index import is_run_dir
from .doctor import Facts, Finding, data_facts, diagnose, facts_of_run

REPORT = "report.html"
PICTURES = [("loss.png", "loss and metric per epoch"),
            ("boundary.gif", "the decision boundary as it learns"),
            ("fit.gif", "the fitted curve as it learns"),
            ("decision_boundary.png", "decision boundary"), ("fit.png", "fitted curve"),
            ("units.png", "hidden units over the input plane"),
            ("network.png", "the trained network"),
            ("layers.png", "layer statistics per epoch")]
MIME = {".png": "image/png", ".gif": "image/gif"}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
img { max-width: 100%; display: block; margin: 0.6em 0; }
figure { margin: 0.8em 0; } figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
.finding { border-left: 4px solid #d9822b; padding: 0.2em 0.8em; margin: 0.6em 0;
           background: #fff8f0; }
.healthy { border-left: 4px solid #3a9a4a; padding: 0.2em 0.8em; background: #f2fbf3; }
code { background: #f0f0f0; padding: 0 0.2em; }
.status-finished { color: #2a7a3a; } .status-diverged, .status-interrupted { color: #b03a2e; }
"""


def run_page(run_dir: Path, facts: Facts, history: list[dict], layers: list[dict]) -> str:
    """The report of one run (its pictures read from ``run_dir``)."""
    name = facts.config.name
    metrics = facts.metrics
    body = [f"<h1>{_e(name)}</h1>", _status(metrics), _metrics_table(metrics),
            "<h2>Doctor</h2>", _findings(diagnose(facts)),
            "<h2>Pictures</h2>", _pictures(run_dir),
            "<h2>Layer statistics</h2>", _layers_table(layers),
            _downloads(history, layers),
            "<h2>Config</h2>", f"<pre>{_e(_config_text(run_dir))}</pre>"]
    return _page(f"nncli report: {name}", body)


def write_run_report(run_dir: Path, path: Path | None = None) -> Path:
    """report.html of a run directory (``path`` default: in the run directory)."""
    run_dir = Path(run_dir)
    facts = facts_of_run(run_dir)
    history = read_history(run_dir / "history.csv", thin=True)
    layers = _layers(run_dir)
    page = run_page(run_dir, facts, history, layers)
    return _write(Path(path) if path else run_dir / REPORT, page)


def draft_report(draft) -> list[str]:
    """report.html of a run being assembled (a :class:`nncli.training.train.TrainOutcome`
    whose ``run_dir`` is its hidden directory), from what is in memory: what the trainer
    calls after drawing the pictures. Returns the problems (a report that cannot be made never
    costs the run)."""
    try:
        facts = Facts(draft.experiment.config, draft.metrics, draft.history, draft.layers,
                      **data_facts(draft.experiment))
        _write(draft.run_dir / REPORT, run_page(draft.run_dir, facts, draft.history,
                                                 draft.layers))
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001
        return [f"{REPORT} not written: {type(e).__name__}: {e}"]
    return []


def compare_page(run_dirs: list[Path], labels: list[str] | None = None) -> str:
    """One page for several runs."""
    from .. import plots

    runs = [plots.load(d) for d in run_dirs]
    usable = [r for r in runs if r.epochs]
    comparison = ""
    if len(usable) > 1:
        fig = plots.draw_comparison(usable, labels if labels and len(usable) == len(runs)
                                    else None)
        comparison = _img(_png(fig), "loss curves of the runs", "comparison")
    from ..plots.loss import run_labels

    names = labels or run_labels(runs)
    rows = []
    for run, label in zip(runs, names):
        m = read_metrics(run.path / "metrics.json")
        val, train = m.get("validation") or {}, m.get("train") or {}
        rows.append("<tr>" + "".join([
            f"<td class='text'><a href='#run-{_e(run.path.name)}'>{_e(run.path.name)}</a></td>",
            f"<td class='text'>{_e(label)}</td>",
            f"<td class='text status-{_e(m['status'])}'>{_e(m['status'])}</td>",
            f"<td>{m['epochs_run']}</td>",
            *(f"<td>{_num(part.get(k))}</td>" for part in (train, val)
              for k in ("loss", run.metric or "")),
        ]) + "</tr>")
    metric = runs[0].metric or "metric"
    table = ("<table><tr><th class='text'>run</th><th class='text'>differs by</th>"
             "<th class='text'>status</th><th>epochs</th>"
             f"<th>loss</th><th>{_e(metric)}</th><th>val_loss</th><th>val_{_e(metric)}</th>"
             "</tr>" + "".join(rows) + "</table>")
    sections = []
    for run in runs:
        facts = facts_of_run(run.path)
        sections += [f"<h2 id='run-{_e(run.path.name)}'>{_e(run.path.name)}</h2>",
                     _status(facts.metrics), _metrics_table(facts.metrics),
                     _findings(diagnose(facts)),
                     _pictures(run.path),
                     f"<details><summary>config</summary><pre>{_e(_config_text(run.path))}"
                     f"</pre></details>"]
    body = [f"<h1>{len(runs)} runs</h1>", comparison, table, *sections]
    return _page(f"nncli report: {len(runs)} runs", body)


def write_comparison(run_dirs: list[Path], path: Path, labels: list[str] | None = None) -> Path:
    return _write(path, compare_page(run_dirs, labels))


def expand(paths: list[Path]) -> list[Path]:
    """Run directories: each path given, or the runs inside a folder that is not one itself
    (a sweep's folder), in name order."""
    out = []
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            raise InputError(f"{path}: " + ("not a directory" if path.exists()
                                             else "no such run directory"))
        if is_run_dir(path):
            out.append(path)
            continue
        inside = sorted(p for p in path.iterdir()
                        if p.is_dir() and not p.name.startswith(".") and is_run_dir(p))
        if not inside:
            raise InputError(f"{path}: not a run directory, and no run directories inside")
        out += inside
    return out


# --- pieces ----------------------------------------------------------------------------------

def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(part for part in body if part) + "\n</body></html>\n")


def _status(metrics: dict) -> str:
    status = metrics["status"]
    return (f"<p>status <b class='status-{_e(status)}'>{_e(status)}</b>: "
            f"{_e(metrics.get('reason', ''))}; {metrics['epochs_run']} of {metrics['epochs']} "
            f"epochs in {metrics['wall_time']:.2f} s</p>")


def _metrics_table(metrics: dict) -> str:
    train, val = metrics.get("train") or {}, metrics.get("validation")
    if not train:
        return ""
    head = "<tr><th class='text'>metric</th><th>train</th>" + \
        ("<th>validation</th>" if val else "") + "</tr>"
    rows = "".join(f"<tr><td class='text'>{_e(k)}</td><td>{_num(v)}</td>"
                   + (f"<td>{_num(val.get(k))}</td>" if val else "") + "</tr>"
                   for k, v in train.items())
    return f"<table>{head}{rows}</table>"


def _findings(findings: list[Finding]) -> str:
    """Doctor's findings; each fix as a command to run in the run's directory (the page does
    not know where the run will be: it is written before the run is published)."""
    if not findings:
        return "<p class='healthy'>no problems found</p>"
    out = []
    for f in findings:
        out.append(f"<div class='finding'><p><b>{_e(f.title)}</b> <code>{_e(f.code)}</code></p>"
                   f"<p>{_e(f.evidence)}</p><p>try, in the run directory: "
                   f"<code>{_e(f.command('config.yaml'))}</code>"
                   + (f" ({_e(f.why)})" if f.why else "") + "</p></div>")
    return "\n".join(out)


def _pictures(run_dir: Path) -> str:
    out = []
    for name, caption in PICTURES:
        path = Path(run_dir) / name
        if path.is_file():
            with os_errors(path):
                data = path.read_bytes()
            out.append(_img(data, caption, name, MIME[path.suffix]))
    return "\n".join(out) or "<p>no pictures (trained with --no-plots: draw them with " \
                            "<code>nncli plot</code>)</p>"


def _img(data: bytes, caption: str, name: str, mime: str = "image/png") -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return (f"<figure><img src='data:{mime};base64,{encoded}' alt='{_e(caption)}' "
            f"data-name='{_e(name)}'><figcaption>{_e(name)}: {_e(caption)}</figcaption>"
            f"</figure>")


def _png(fig) -> bytes:
    from ..plots.style import png_bytes

    return png_bytes(fig)


def _layers_table(layers: list[dict]) -> str:
    if not layers:
        return "<p>no layer statistics (training.layer_stats: false)</p>"
    last = layers[-1]["epoch"]
    rows = [r for r in layers if r["epoch"] == last]
    head = "".join(f"<th>{_e(c)}</th>" for c in LAYER_COLUMNS[1:])
    body = "".join("<tr>" + "".join(f"<td>{_num(r[c])}</td>" for c in LAYER_COLUMNS[1:])
                   + "</tr>" for r in rows)
    return (f"<p>epoch {last} (the sampled rows and batches: see the README's layers.csv)</p>"
            f"<table><tr>{head}</tr>{body}</table>")


def _downloads(history: list[dict], layers: list[dict]) -> str:
    links = [_csv_link("history.csv", history_csv(history))]
    if layers:
        links.append(_csv_link("layers.csv", history_csv(layers)))
    return ("<p>data (as drawn: every epoch of a run of up to a few thousand): "
            + " ".join(links) + "</p>")


def _csv_link(name: str, text: str) -> str:
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"<a download='{name}' href='data:text/csv;base64,{encoded}'>{name}</a>"


def _config_text(run_dir: Path) -> str:
    return read_text(Path(run_dir) / "config.yaml", "config file")


def _layers(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "layers.csv"
    return read_layers(path, thin=True) if path.exists() else []


def _write(path: Path, page: str) -> Path:
    with os_errors(path):
        return write_atomic(path, page.encode("utf-8"))


def _num(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


def _e(text) -> str:
    return html.escape(str(text), quote=True)
