"""network.png: the layers as columns of neurons, the connections coloured by the sign of
their trained weight and drawn thicker the larger its magnitude; neurons filled by their bias.

Wide layers are shortened: the first and last few neurons are drawn with a "… n more" gap
between them (and only their connections), so a 64-128-10 network stays readable.
"""

from __future__ import annotations

import numpy as np

from .run import Run
from .style import house_style, new_figure, set_margins

SHOWN = 16  # neuron slots per layer; a wider layer shows its first 8 and last 7
HEAD, TAIL = 8, 7
# negative blue, positive red; in 21 even steps (white = 0), which survive the 256-colour
# PNG palette as they are, where the full colour ramp would come out in uneven bands
CMAP, CMAP_STEPS = "RdBu_r", 21
WIDTH_RANGE = (0.3, 3.0)  # line widths for weight 0 and for the largest |weight|


def shown_neurons(units: int) -> tuple[list[int], list[int | None]]:
    """(shown neuron indices, slot contents): a slot holds a neuron index or None for the gap."""
    if units <= SHOWN:
        return list(range(units)), list(range(units))
    shown = list(range(HEAD)) + list(range(units - TAIL, units))
    return shown, shown[:HEAD] + [None] + shown[HEAD:]


def _slot_y(n_slots: int) -> np.ndarray:
    return (n_slots - 1) / 2 - np.arange(n_slots, dtype=np.float64)


def network_figure(run: Run):
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    model = run.model
    layers = model.network.layers
    specs = model.description["layers"]
    sizes = [model.network.n_inputs] + [layer.units for layer in layers]
    columns = [shown_neurons(n) for n in sizes]
    ys = []  # per column: neuron index -> y
    for shown, slots in columns:
        y = _slot_y(len(slots))
        ys.append({n: y[s] for s, n in enumerate(slots) if n is not None})

    segments, values = [], []
    for l, layer in enumerate(layers, start=1):
        for i in columns[l - 1][0]:
            for j in columns[l][0]:
                segments.append(((l - 1, ys[l - 1][i]), (l, ys[l][j])))
                values.append(float(layer.W[i, j]))
    values = np.array(values)
    scale = float(np.max(np.abs(values))) if len(values) and np.any(values) else 1.0
    norm = Normalize(-scale, scale)
    order = np.argsort(np.abs(values), kind="stable")  # the strongest drawn on top
    lo, hi = WIDTH_RANGE
    cmap = matplotlib.colormaps[CMAP].resampled(CMAP_STEPS)
    max_slots = max(len(slots) for _, slots in columns)

    with house_style():
        fig = new_figure(1.6 * len(sizes) + 2.2, max(3.6, 0.38 * max_slots + 1.8))
        ax = fig.add_subplot()
        set_margins(fig, left=0.1, right=0.9, top=0.4, bottom=0.1)
        ax.set_axis_off()
        edges = LineCollection([segments[k] for k in order], cmap=cmap, norm=norm,
                               linewidths=lo + (hi - lo) * np.abs(values[order]) / scale,
                               alpha=0.85, zorder=1, gid="weights")
        edges.set_array(values[order])
        ax.add_collection(edges)
        fig.colorbar(edges, ax=ax, label="weight (neuron fill: bias)", shrink=0.7, fraction=0.04)

        for l, (shown, slots) in enumerate(columns):
            xs = np.full(len(shown), float(l))
            yv = np.array([ys[l][n] for n in shown])
            if l == 0:
                ax.scatter(xs, yv, s=170, color="0.85", edgecolors="black", zorder=2,
                           gid="neurons:0")
            else:
                b = layers[l - 1].b
                kw = ({"c": b[shown], "cmap": cmap, "norm": norm} if b is not None
                      else {"color": "white"})
                ax.scatter(xs, yv, s=170, edgecolors="black", zorder=2, gid=f"neurons:{l}", **kw)
            if None in slots:
                gap = _slot_y(len(slots))[slots.index(None)]
                ax.text(l, gap, f"… {sizes[l] - len(shown)} more", ha="center", va="center",
                        fontsize=8, zorder=3)
            top = _slot_y(len(slots))[0]
            role = "input" if l == 0 else ("output" if l == len(sizes) - 1 else f"hidden {l}")
            detail = (f"{sizes[l]} features" if l == 0
                      else f"{sizes[l]} {specs[l - 1]['activation']}")
            ax.text(l, top + 0.9, f"{role}\n{detail}", ha="center", va="bottom", fontsize=9)

        _name_neurons(ax, 0, ys[0], model.feature_names, ha="right")
        _name_neurons(ax, len(sizes) - 1, ys[-1], _output_names(model), ha="left")
        ax.set_xlim(-1.0, len(sizes) - 1 + 1.0)
        half = (max_slots - 1) / 2
        ax.set_ylim(-half - 0.8, half + 2.0)
        shape = "-".join(str(n) for n in sizes)
        ax.set_title(f"{run.name}: {shape} network, trained weights")
    return fig


def _output_names(model) -> list[str]:
    if model.task == "classification":
        if model.network.n_outputs == 1:
            return [f"P({model.classes[1]})"]
        return [str(c) for c in model.classes]
    return list(model.target_names)


def _name_neurons(ax, column: int, ys: dict, names: list[str], ha: str) -> None:
    dx = -0.12 if ha == "right" else 0.12
    for n, y in ys.items():
        if n < len(names):
            name = names[n] if len(names[n]) <= 14 else names[n][:13] + "…"
            ax.text(column + dx, y, name, ha=ha, va="center", fontsize=8)
