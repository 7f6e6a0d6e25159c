"""decision_boundary.png: what a two-feature classifier does to the plane.

The plane is coloured by the predicted class; with two classes by the probability of the
second class instead, with the 0.5 line drawn. A step output (the perceptron) has no
probability: the plane is coloured by its class, and a single-layer perceptron's boundary is
drawn as the exact line w·x + b = 0 (taken from its weights, in feature units), with the class
of each side in the legend (a point on the line belongs to the larger class, since the unit
fires at z >= 0). Training points are circles and validation points triangles, coloured by
their true class. Everything is in the original (unscaled) feature units: the model applies
its own scaler.
"""

from __future__ import annotations

import numpy as np

from .run import Points, Run
from .style import class_colors, house_style, new_figure, set_margins

RESOLUTION = 200  # grid points per axis
MARGIN = 0.08  # of the data's range on each side


def grid_axes(X: np.ndarray, resolution: int = RESOLUTION) -> list[np.ndarray]:
    """For each feature, evenly spaced values covering the data with a margin."""
    axes = []
    for lo, hi in zip(X.min(axis=0), X.max(axis=0)):
        pad = (hi - lo) * MARGIN if hi > lo else 0.5
        axes.append(np.linspace(lo - pad, hi + pad, resolution))
    return axes


def boundary_figure(run: Run, points: Points):
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap
    from matplotlib.lines import Line2D

    model = run.model
    classes = model.classes
    colors = class_colors(len(classes))
    gx, gy = grid_axes(points.X)
    xx, yy = np.meshgrid(gx, gy)
    with np.errstate(all="ignore"):
        proba = model.predict_proba(np.column_stack([xx.ravel(), yy.ravel()]))
    extent = (gx[0], gx[-1], gy[0], gy[-1])

    step = model.network.layers[-1].activation.name == "step"
    line = perceptron_line(model) if step else None
    with house_style():
        fig = new_figure(6.4, 5.2)
        ax = fig.add_subplot()
        set_margins(fig, top=0.4, right=0.9 if len(classes) == 2 and not step else 0.25)
        ax.grid(False)
        if step:
            region = np.argmax(proba, axis=1).reshape(xx.shape)
            ax.imshow(region, origin="lower", extent=extent, aspect="auto",
                      cmap=ListedColormap(colors), vmin=-0.5, vmax=len(classes) - 0.5,
                      alpha=0.3, interpolation="nearest", gid="regions")
            if line is not None:
                _draw_line(ax, line, gx, gy)
        elif len(classes) == 2:
            p = proba[:, 1].reshape(xx.shape)
            cmap = LinearSegmentedColormap.from_list("nncli-2", [colors[0], "white", colors[1]])
            image = ax.imshow(p, origin="lower", extent=extent, aspect="auto", cmap=cmap,
                              vmin=0.0, vmax=1.0, alpha=0.55, interpolation="bilinear",
                              gid="probability")
            if np.nanmin(p) < 0.5 < np.nanmax(p):
                ax.contour(xx, yy, p, levels=[0.5], colors="black", linewidths=1.0)
            fig.colorbar(image, ax=ax, label=f"P({classes[1]})", fraction=0.05, pad=0.03)
        else:
            region = np.argmax(proba, axis=1).reshape(xx.shape)
            ax.imshow(region, origin="lower", extent=extent, aspect="auto",
                      cmap=ListedColormap(colors), vmin=-0.5, vmax=len(classes) - 0.5,
                      alpha=0.3, interpolation="nearest", gid="regions")
        labels = np.asarray(points.y)
        size = float(np.clip(6000 / len(points.X), 18, 80))  # a few points: bigger markers
        for split, idx, marker, edge in (("train", points.train_idx, "o", 0.4),
                                         ("validation", points.val_idx, "^", 1.0)):
            for c, label in enumerate(classes):
                rows = idx[labels[idx] == label]
                if len(rows):
                    ax.scatter(points.X[rows, 0], points.X[rows, 1], s=size, marker=marker,
                               color=colors[c], edgecolors="black", linewidths=edge,
                               gid=f"{split}:{c}")
        sides = {0: " (w·x + b < 0)", 1: " (w·x + b ≥ 0)"} if line is not None else {}
        handles = [Line2D([], [], marker="s", linestyle="", color=colors[c], markersize=7,
                          label=str(label) + sides.get(c, ""))
                   for c, label in enumerate(classes)]
        if line is not None:
            handles.append(Line2D([], [], color="black", label="w·x + b = 0"))
        handles += [Line2D([], [], marker="o", linestyle="", color="grey",
                           markeredgecolor="black", markeredgewidth=0.4, label="train"),
                    Line2D([], [], marker="^", linestyle="", color="grey",
                           markeredgecolor="black", label="validation")]
        if len(points.val_idx) == 0:
            handles.pop()
        ax.legend(handles=handles, loc="best", framealpha=0.85)
        ax.set_xlim(gx[0], gx[-1])
        ax.set_ylim(gy[0], gy[-1])
        ax.set_xlabel(model.feature_names[0])
        ax.set_ylabel(model.feature_names[1])
        if step:
            what = "perceptron's line and classes" if line is not None else "predicted classes"
        else:
            what = ("probability and decision boundary" if len(classes) == 2
                    else "predicted classes")
        ax.set_title(f"{run.name}: {what}")
    return fig


def perceptron_line(model) -> tuple[float, float, float] | None:
    """(a1, a2, c) of the line a1·x1 + a2·x2 + c = 0 in feature units where a single-layer
    step unit's z = w·x_scaled + b is 0; None for a network with hidden layers."""
    layers = model.network.layers
    if len(layers) != 1:
        return None
    w = layers[0].W[:, 0].astype(np.float64)
    b = 0.0 if layers[0].b is None else float(layers[0].b[0])
    scaler = model.scaler  # x_scaled = (x - offset) / scale
    a = w / scaler.scale
    return float(a[0]), float(a[1]), float(b - np.sum(a * scaler.offset))


def _draw_line(ax, line: tuple[float, float, float], gx: np.ndarray, gy: np.ndarray) -> None:
    """The line across the plotted area (none when every weight is 0)."""
    a1, a2, c = line
    if abs(a2) >= abs(a1) and a2 != 0:
        xs = np.array([gx[0], gx[-1]])
        ys = -(a1 * xs + c) / a2
    elif a1 != 0:
        ys = np.array([gy[0], gy[-1]])
        xs = -(a2 * ys + c) / a1
    else:
        return
    ax.plot(xs, ys, color="black", linewidth=1.5, gid="perceptron-line")
