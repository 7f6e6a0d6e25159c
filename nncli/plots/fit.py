"""fit.png: a one-feature regression, its data points and the curve the network learned."""

from __future__ import annotations

import numpy as np

from .boundary import grid_axes
from .run import Points, Run
from .style import TRAIN_COLOR, VALIDATION_COLOR, house_style, new_figure, set_margins

CURVE_POINTS = 400


def fit_figure(run: Run, points: Points):
    model = run.model
    (gx,) = grid_axes(points.X, CURVE_POINTS)
    with np.errstate(all="ignore"):
        curve = model.predict(gx[:, None])
    Y = np.asarray(points.y, dtype=np.float64).reshape(len(points.X), -1)
    targets = model.target_names
    with house_style():
        fig = new_figure(6.4, 4.6)
        ax = fig.add_subplot()
        set_margins(fig, top=0.4)
        for j, target in enumerate(targets):
            suffix = f" ({target})" if len(targets) > 1 else ""
            for split, idx, marker, color in (
                    ("train", points.train_idx, "o", TRAIN_COLOR),
                    ("validation", points.val_idx, "^", VALIDATION_COLOR)):
                if len(idx):
                    ax.scatter(points.X[idx, 0], Y[idx, j], s=14, marker=marker, alpha=0.6,
                               color=color if len(targets) == 1 else f"C{j % 10}",
                               label=f"{split}{suffix}", gid=f"{split}:{j}")
            values = np.where(np.isfinite(curve[:, j]), curve[:, j], np.nan)
            ax.plot(gx, values, color="black" if len(targets) == 1 else f"C{j % 10}",
                    linewidth=2, label=f"network{suffix}", gid=f"curve:{j}")
        ax.set_xlabel(model.feature_names[0])
        ax.set_ylabel(targets[0] if len(targets) == 1 else "target")
        ax.set_title(f"{run.name}: fitted curve")
        ax.legend()
    return fig
