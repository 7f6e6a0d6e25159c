"""network.png: the layers as columns of neurons, the connections coloured by the sign of
their trained weight (red positive, blue negative) and drawn thicker the larger its magnitude,
from a width that stays visible for a weight of 0; neurons filled by their bias. A small
network (up to :data:`LABELLED_EDGES` connections) has each weight written on its connection
and each bias on its neuron, so a textbook 2-2-2 network can be read off the slide.

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
WIDTH_RANGE = (0.8, 4.0)  # line widths for weight 0 and for the largest |weight|
POSITIVE, NEGATIVE = "#c0392b", "#2e6fba"  # edge colours by the weight's sign
LABELLED_EDGES = 40  # networks with at most this many connections get their values written


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

    segments, values, targets = [], [], []
    for l, layer in enumerate(layers, start=1):
        for i in columns[l - 1][0]:
            for j in columns[l][0]:
                segments.append(((l - 1, ys[l - 1][i]), (l, ys[l][j])))
                values.append(float(layer.W[i, j]))
                targets.append(j)
    values = np.array(values)
    scale = float(np.max(np.abs(values))) if len(values) and np.any(values) else 1.0
    norm = Normalize(-scale, scale)
    order = np.argsort(np.abs(values), kind="stable")  # the strongest drawn on top
    lo, hi = WIDTH_RANGE
    cmap = matplotlib.colormaps[CMAP].resampled(CMAP_STEPS)
    max_slots = max(len(slots) for _, slots in columns)
    labelled = len(values) <= LABELLED_EDGES

    with house_style():
        fig = new_figure(2.2 * len(sizes) + (1.4 if labelled else 0.6),
                         max(3.0, 0.5 * max_slots + 1.4))
        ax = fig.add_subplot()
        set_margins(fig, left=0.1, right=0.1, top=0.45, bottom=0.1)
        ax.set_axis_off()
        colors = [POSITIVE if v >= 0 else NEGATIVE for v in values[order]]
        edges = LineCollection([segments[k] for k in order], colors=colors,
                               linewidths=lo + (hi - lo) * np.abs(values[order]) / scale,
                               alpha=0.8, zorder=1, gid="weights")
        edges.set_array(values[order])  # the weights, for reading back (colours are set)
        edges.set_cmap(cmap)
        edges.set_norm(norm)
        edges.set_color(colors)
        ax.add_collection(edges)
        if labelled:
            _write_weights(ax, segments, values, targets)

        for l, (shown, slots) in enumerate(columns):
            xs = np.full(len(shown), float(l))
            yv = np.array([ys[l][n] for n in shown])
            if l == 0:
                ax.scatter(xs, yv, s=420, color="0.9", edgecolors="black", zorder=2,
                           gid="neurons:0")
            else:
                b = layers[l - 1].b
                kw = ({"c": b[shown], "cmap": cmap, "norm": norm} if b is not None
                      else {"color": "white"})
                ax.scatter(xs, yv, s=420, edgecolors="black", zorder=2, gid=f"neurons:{l}",
                           **kw)
                if labelled and b is not None:
                    for n, y in zip(shown, yv):
                        ax.text(l, y, f"{b[n]:.3g}", ha="center", va="center", fontsize=7,
                                zorder=4, gid=f"bias:{l}:{n + 1}",
                                bbox={"boxstyle": "round,pad=0.1", "fc": "white",
                                      "ec": "none", "alpha": 0.8})
            if None in slots:
                gap = _slot_y(len(slots))[slots.index(None)]
                ax.text(l, gap, f"… {sizes[l] - len(shown)} more", ha="center", va="center",
                        fontsize=8, zorder=3)
            top = _slot_y(len(slots))[0]
            role = "input" if l == 0 else ("output" if l == len(sizes) - 1 else f"hidden {l}")
            detail = (f"{sizes[l]} features" if l == 0
                      else f"{sizes[l]} {specs[l - 1]['activation']}")
            ax.text(l, top + 0.55, f"{role}\n{detail}", ha="center", va="bottom", fontsize=9)

        _name_neurons(ax, 0, ys[0], model.feature_names, ha="right")
        _name_neurons(ax, len(sizes) - 1, ys[-1], _output_names(model), ha="left")
        ax.set_xlim(-0.75, len(sizes) - 1 + 0.75)
        half = (max_slots - 1) / 2
        ax.set_ylim(-half - 0.5, half + 1.3)
        shape = "-".join(str(n) for n in sizes)
        note = "red +, blue −, thicker = larger |w|"
        if labelled:
            note += "; weights on the connections, biases in the neurons"
        ax.set_title(f"{run.name}: {shape} network, trained weights\n{note}", fontsize=9)
    return fig


def _write_weights(ax, segments, values, targets) -> None:
    """Each weight on its connection, near its source neuron (where the connections of one
    neuron are still apart), at staggered distances so that neighbours do not cover each
    other."""
    for ((x0, y0), (x1, y1)), v, j in zip(segments, values, targets):
        t = 0.22 + 0.14 * (j % 3)
        ax.text(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, f"{v:.3g}", ha="center",
                va="center", fontsize=7, zorder=3, color=POSITIVE if v >= 0 else NEGATIVE,
                gid="weight-label",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})


def _output_names(model) -> list[str]:
    if model.task == "classification":
        if model.network.n_outputs == 1:
            return [f"P({model.classes[1]})"]
        return [str(c) for c in model.classes]
    return list(model.target_names)


def _name_neurons(ax, column: int, ys: dict, names: list[str], ha: str) -> None:
    dx = -0.16 if ha == "right" else 0.16
    for n, y in ys.items():
        if n < len(names):
            name = names[n] if len(names[n]) <= 14 else names[n][:13] + "…"
            ax.text(column + dx, y, name, ha=ha, va="center", fontsize=8)
