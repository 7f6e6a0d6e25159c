"""loss.png: training and validation loss per epoch, the metric on a second panel."""

from __future__ import annotations

import numpy as np

from .. import metrics
from .run import Run
from .scale import spans_decades
from .style import TRAIN_COLOR, VALIDATION_COLOR, house_style, new_figure, set_margins

MARKERS_UP_TO = 30  # epochs; with fewer, each epoch gets a dot so that short runs show


def loss_figure(runs: list[Run], labels: list[str] | None = None):
    """One run: train and validation curves. Several: each run in its own colour, training
    solid and validation dashed, labelled by ``labels`` (default: :func:`run_labels`, what
    differs between their configs), with one legend outside the panels, on the right."""
    metric = _shared_metric(runs)
    several = len(runs) > 1
    if several:
        labels = labels or run_labels(runs)
    # the legend's width: its handles and the longest label ("validation" at least)
    legend_room = 0.8 + 0.07 * max([len(label) for label in labels or []] + [10])
    with house_style():
        fig = new_figure(5.0 * (2 if metric else 1) + 0.5 + (legend_room if several else 0),
                         3.8)
        axes = fig.subplots(1, 2 if metric else 1, squeeze=False)[0]
        set_margins(fig, wspace=0.25, right=0.25 + (legend_room if several else 0))
        for i, run in enumerate(runs):
            if not several:
                styles = {"train": {"color": TRAIN_COLOR, "label": "train"},
                          "val": {"color": VALIDATION_COLOR, "label": "validation"}}
            else:
                styles = {"train": {"color": f"C{i % 10}", "label": f"{labels[i]} train"},
                          "val": {"color": f"C{i % 10}", "linestyle": "--",
                                  "label": f"{labels[i]} validation"}}
            _curves(axes[0], run, "loss", styles)
            if metric:
                _curves(axes[1], run, metric, styles)
        _decorate_loss(axes[0], runs, legend=not several)
        if metric:
            _decorate_metric(axes[1], metric, legend=not several)
        if several:
            _outside_legend(fig, labels)
            fig.suptitle(f"loss of {len(runs)} runs")
        else:
            fig.suptitle(f"{runs[0].name}: {runs[0].epochs} epochs")
    return fig


def _outside_legend(fig, labels: list[str]) -> None:
    """One legend for all panels, right of them: a colour per run, and the line styles."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=f"C{i % 10}", linewidth=2, label=label)
               for i, label in enumerate(labels)]
    handles += [Line2D([], [], color="grey", label="train"),
                Line2D([], [], color="grey", linestyle="--", label="validation")]
    fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.995, 0.88),
               frameon=False)


def run_labels(runs: list[Run]) -> list[str]:
    """What tells the runs apart: the config keys whose values differ between them
    (``lr=0.01 batch_size=8``; at most three), else their directory names."""
    flat = [_flatten(run.config or {}) for run in runs]
    keys = sorted({k for f in flat for k in f} - {"name"})
    differ = [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1]
    if not differ:
        return [run.path.name for run in runs]
    shown = differ[:3]
    more = " …" if len(differ) > 3 else ""
    return [" ".join(f"{_short(k)}={_value(f.get(k))}" for k in shown) + more for f in flat]


SHORT_KEYS = {"training.learning_rate": "lr"}


def _short(key: str) -> str:
    return SHORT_KEYS.get(key, key.split(".", 1)[-1])


def _value(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, (dict, list)):
        text = str(v)
        return text if len(text) <= 24 else text[:23] + "…"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _flatten(tree, prefix: str = "") -> dict:
    out = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    elif isinstance(tree, list) and any(isinstance(v, (dict, list)) for v in tree):
        for i, v in enumerate(tree):
            out.update(_flatten(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = tree
    return out


def _curves(ax, run: Run, column: str, styles: dict) -> None:
    epochs = run.history["epoch"]
    marker = "o" if len(epochs) <= MARKERS_UP_TO else None
    for split, name in (("train", column), ("val", f"val_{column}")):
        values = run.history.get(name)
        if values is None or np.all(np.isnan(values)):
            continue
        ax.plot(epochs, values, marker=marker, markersize=3, linewidth=1.5, gid=name,
                **styles[split])


def _decorate_loss(ax, runs: list[Run], legend: bool = True) -> None:
    from matplotlib.ticker import MaxNLocator

    plotted = np.concatenate([line.get_ydata() for line in ax.get_lines()])
    log = spans_decades(plotted.tolist())
    if log:
        ax.set_yscale("log")
        # explicit limits: autoscaling pads by decades and overflows on a diverging loss
        finite = plotted[np.isfinite(plotted)]
        ax.set_ylim(finite.min() / 1.5, finite.max() * 1.5)
        _plain_log_labels(ax)
    names = {str(run.model.description.get("loss", "")) for run in runs}
    loss_name = f" ({names.pop()})" if len(names) == 1 else ""
    ax.set_title(f"loss{loss_name}{', log scale' if log else ''}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if legend:
        ax.legend()


def _plain_log_labels(ax) -> None:
    """0.05 rather than 5×10⁻²: the labels of a log axis as plain numbers, the minor ticks
    labelled too while the axis spans less than two decades (matplotlib's own rule)."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def __call__(self, x, pos=None):
            # a diverging loss can put the tick after the last one beyond float64: no label
            return super().__call__(x, pos) if np.isfinite(x) else ""

        def _num_to_string(self, x, vmin, vmax):
            return f"{x:g}"

    ax.yaxis.set_major_formatter(Plain(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _decorate_metric(ax, metric: str, legend: bool = True) -> None:
    from matplotlib.ticker import MaxNLocator

    if metric == "r2":
        # R² starts far below 0 for an untrained network; below -1 it says nothing more
        values = np.concatenate([line.get_ydata() for line in ax.get_lines()])
        if np.nanmin(values) < -1 < np.nanmax(values):
            ax.set_ylim(bottom=-1.0)
    label = metrics.label(metric)
    ax.set_title(label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if legend:
        ax.legend()


def _shared_metric(runs: list[Run]) -> str | None:
    """The metric column all runs logged with at least one defined value, if they share one."""
    metrics = {run.metric for run in runs}
    if len(metrics) != 1 or None in metrics:
        return None
    metric = metrics.pop()
    if not any(np.any(~np.isnan(run.history[c]))
               for run in runs for c in (metric, f"val_{metric}") if c in run.history):
        return None
    return metric
