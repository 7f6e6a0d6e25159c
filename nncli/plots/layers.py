"""The layer statistics of a run (layers.csv) per epoch: what the report shows beside the
loss. One panel each for the weights' and gradients' RMS, the update / weight ratio, the
activations' mean (with ± one standard deviation shaded), and the dead or saturated share."""

from __future__ import annotations

import numpy as np

from .run import Run
from .style import house_style, new_figure, set_margins


def layer_columns(rows: list[dict]) -> dict[int, dict[str, np.ndarray]]:
    """layers.csv rows as columns per layer: {layer: {column: values per epoch}} (None as
    NaN)."""
    out: dict[int, dict[str, list]] = {}
    for row in rows:
        cols = out.setdefault(row["layer"], {})
        for key, value in row.items():
            cols.setdefault(key, []).append(np.nan if value is None else value)
    return {layer: {k: np.array(v, dtype=np.float64) for k, v in cols.items()}
            for layer, cols in out.items()}


def layers_figure(run: Run):
    from matplotlib.ticker import MaxNLocator

    columns = layer_columns(run.layers)
    panels = [("weight_rms", "weight RMS", True), ("grad_rms", "gradient RMS", True),
              ("update_ratio", "update / weight ratio", True),
              ("act_mean", "activation mean ± std", False),
              ("flat", "dead (relu) or saturated share", False)]
    with house_style():
        fig = new_figure(11.5, 6.2)
        axes = fig.subplots(2, 3).ravel()
        set_margins(fig, left=0.7, right=1.6, top=0.6, bottom=0.5, wspace=0.3)
        fig.subplots_adjust(hspace=0.45)
        for ax, (key, title, log) in zip(axes, panels):
            for layer, cols in columns.items():
                color = f"C{(layer - 1) % 10}"
                epochs = cols["epoch"]
                label = f"layer {layer}"
                if key == "flat":
                    values = np.where(np.isnan(cols["dead"]), cols["saturated"], cols["dead"])
                    if np.all(np.isnan(values)):
                        continue
                elif key == "act_mean":
                    values = cols["act_mean"]
                    ax.fill_between(epochs, values - cols["act_std"], values + cols["act_std"],
                                    color=color, alpha=0.15, linewidth=0)
                else:
                    values = cols[key]
                    if log:
                        values = np.where(values > 0, values, np.nan)
                ax.plot(epochs, values, color=color, linewidth=1.4, label=label,
                        gid=f"{key}:{layer}")
            if log and any(line.get_ydata().size and np.any(np.isfinite(line.get_ydata()))
                           for line in ax.get_lines()):
                ax.set_yscale("log")
            if key == "flat":
                ax.set_ylim(-0.03, 1.03)
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[-1].set_axis_off()
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper right", bbox_to_anchor=(0.995, 0.93))
        fig.suptitle(f"{run.name}: layer statistics (layers.csv)")
    return fig
