"""decision_boundary.png: what a two-feature classifier does to the plane.

The plane is coloured by the predicted class; with two classes by the probability of the
second class instead, with the 0.5 line drawn. Training points are circles and validation
points triangles, coloured by their true class. Everything is in the original (unscaled)
feature units: the model applies its own scaler.
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

    with house_style():
        fig = new_figure(6.4, 5.2)
        ax = fig.add_subplot()
        set_margins(fig, top=0.4, right=0.9 if len(classes) == 2 else 0.25)
        ax.grid(False)
        if len(classes) == 2:
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
        handles = [Line2D([], [], marker="s", linestyle="", color=colors[c], markersize=7,
                          label=str(label)) for c, label in enumerate(classes)]
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
        what = "probability and decision boundary" if len(classes) == 2 else "predicted classes"
        ax.set_title(f"{run.name}: {what}")
    return fig
