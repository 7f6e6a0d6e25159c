"""The model as it learns, and what each hidden unit computes.

- ``boundary.gif`` (two-feature classification) or ``fit.gif`` (one-feature regression): one
  frame per snapshot epoch (runs/snapshots.py: about 40, denser early), each with its epoch
  and loss, drawn through matplotlib's Pillow writer.
- ``units.png`` (two-feature inputs): every hidden unit's activation over the input plane,
  one row of small maps per hidden layer, as the browser playgrounds show them.

Both work in the original feature units (the run's own scaling is applied to the grid).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..engine.network import Layer, Network
from .boundary import grid_axes
from .run import Points, Run
from .style import class_colors, house_style, new_figure, set_margins

FRAME_GRID = 100  # grid points per axis of an animation frame (the still picture has 200)
BANDS = 10  # the probability drawn in bands of 0.1: flat areas, a small GIF
PALETTE = 48  # colours of the GIF
FRAME_MS = 250  # per frame; the last frame stays longer
UNITS_GRID = 60
UNITS_SHOWN = 16  # per layer; a wider layer shows its first 16 units
UNITS_PER_ROW = 8


def snapshot_model(run: Run, k: int):
    """The run's model with the weights of snapshot ``k``."""
    snaps = run.snapshots
    layers = []
    for i, layer in enumerate(run.model.network.layers, start=1):
        b = snaps.params.get(f"b{i}")
        layers.append(Layer(snaps.params[f"W{i}"][k], None if b is None else b[k],
                            layer.activation, layer.frozen, layer.dropout))
    return dataclasses.replace(run.model, network=Network(layers))


def grid_inputs(run: Run, X: np.ndarray, resolution: int):
    """(axes, the grid's raw feature rows, the network's inputs for them)."""
    axes = grid_axes(X, resolution)
    if len(axes) == 1:
        raw = axes[0][:, None]
    else:
        xx, yy = np.meshgrid(*axes)
        raw = np.column_stack([xx.ravel(), yy.ravel()])
    model = run.model
    return axes, raw, model.inputs(model.columns(raw)).X


def animation(run: Run, points: Points, out) -> None:
    """Write the animated GIF of ``run`` (boundary or fitted curve) to the binary file
    ``out``."""
    from matplotlib.animation import PillowWriter

    from PIL import Image

    class Gif(PillowWriter):
        """The Pillow writer, saving into an open file (the run's files are written under a
        temporary name and renamed into place), taking each frame from the canvas as the
        frame function blitted it, in one palette (the first frame's: smaller, and no
        quantising per frame)."""

        def setup(self, fig, outfile, dpi=None):  # an open file, not a path to check
            self.fig, self.outfile, self.dpi, self._frames = fig, outfile, dpi or fig.dpi, []

        def grab_frame(self, **savefig_kwargs):
            pixels = np.asarray(self.fig.canvas.buffer_rgba())[..., :3]
            self._frames.append(Image.fromarray(pixels.copy()))

        def finish(self):
            first = self._frames[-1].quantize(PALETTE, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
            frames = [f.quantize(palette=first, dither=Image.Dither.NONE)
                      for f in self._frames]
            durations = [FRAME_MS] * (len(frames) - 1) + [FRAME_MS * 8]
            frames[0].save(self.outfile, format="GIF", save_all=True, optimize=False,
                           append_images=frames[1:], duration=durations, loop=0)

    with house_style(), np.errstate(all="ignore"):
        fig, moving, update = (_boundary_frames(run, points) if run.task == "classification"
                               else _fit_frames(run, points))
        for artist in moving:
            artist.set_animated(True)
        fig.canvas.draw()  # everything that stays: axes, ticks, labels, legend
        background = fig.canvas.copy_from_bbox(fig.bbox)
        writer = Gif(fps=1000 / FRAME_MS)
        writer.setup(fig, out)
        for k in range(len(run.snapshots.epochs)):
            fig.canvas.restore_region(background)
            for artist in update(k):
                artist.set_animated(True)
                artist.axes.draw_artist(artist)
            writer.grab_frame()
        writer.finish()


def _title(run: Run, k: int) -> str:
    snaps = run.snapshots
    return f"{run.name}: epoch {int(snaps.epochs[k])}, loss {snaps.loss[k]:.4g}"


def _boundary_frames(run: Run, points: Points):
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap
    from matplotlib.lines import Line2D

    model = run.model
    classes = model.classes
    colors = class_colors(len(classes))
    (gx, gy), _, inputs = grid_inputs(run, points.X, FRAME_GRID)
    extent = (gx[0], gx[-1], gy[0], gy[-1])
    fig = new_figure(5.2, 3.8)
    ax = fig.add_subplot()
    set_margins(fig, top=0.35, right=1.1, left=0.6, bottom=0.5)  # the legend goes right
    ax.grid(False)
    two = len(classes) == 2
    if two:
        cmap = LinearSegmentedColormap.from_list("nncli-2", [colors[0], "white", colors[1]])
        image = ax.imshow(np.zeros((len(gy), len(gx))), origin="lower", extent=extent,
                          aspect="auto", cmap=cmap.resampled(BANDS), vmin=0, vmax=1,
                          alpha=0.55, interpolation="nearest", gid="probability")
    else:
        image = ax.imshow(np.zeros((len(gy), len(gx))), origin="lower", extent=extent,
                          aspect="auto", cmap=ListedColormap(colors), vmin=-0.5,
                          vmax=len(classes) - 0.5, alpha=0.3, interpolation="nearest",
                          gid="regions")
    labels = np.asarray(points.y)
    size = float(np.clip(3000 / len(points.X), 8, 60))
    dots = []
    for c, label in enumerate(classes):
        rows = points.train_idx[labels[points.train_idx] == label]
        dots.append(ax.scatter(points.X[rows, 0], points.X[rows, 1], s=size, color=colors[c],
                               edgecolors="black", linewidths=0.3))
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[c], markersize=6,
                      markeredgecolor="black", markeredgewidth=0.4, label=str(label))
               for c, label in enumerate(classes)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), framealpha=0.9)
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_xlabel(model.feature_names[0])
    ax.set_ylabel(model.feature_names[1])
    title = ax.set_title("")
    contour = []

    def update(k: int) -> list:
        outputs = snapshot_model(run, k).forward(inputs)
        proba = model.probabilities(outputs)
        if two:
            p = proba[:, 1].reshape(len(gy), len(gx))
            image.set_data(p)
            for c in contour:
                c.remove()
            contour.clear()
            if np.nanmin(p) < 0.5 < np.nanmax(p):
                contour.append(ax.contour(gx, gy, p, levels=[0.5], colors="black",
                                          linewidths=1.0))
        else:
            image.set_data(np.argmax(proba, axis=1).reshape(len(gy), len(gx)))
        title.set_text(_title(run, k))
        return [image, *contour, *dots, title]

    return fig, [image, *dots, title], update


def _fit_frames(run: Run, points: Points):
    model = run.model
    (gx,), _, inputs = grid_inputs(run, points.X, 400)
    Y = np.asarray(points.y, dtype=np.float64).reshape(len(points.X), -1)
    fig = new_figure(5.2, 3.8)
    ax = fig.add_subplot()
    set_margins(fig, top=0.35, right=0.2, left=0.7, bottom=0.5)
    idx = points.train_idx
    ax.scatter(points.X[idx, 0], Y[idx, 0], s=12, alpha=0.6, color="C0", label="train")
    (line,) = ax.plot(gx, np.zeros_like(gx), color="black", linewidth=2, label="network")
    lo, hi = float(np.nanmin(Y[:, 0])), float(np.nanmax(Y[:, 0]))
    pad = (hi - lo) * 0.15 or 1.0
    ax.set_ylim(lo - pad, hi + pad)  # fixed: the early curves may be far off
    ax.set_xlim(gx[0], gx[-1])
    ax.set_xlabel(model.feature_names[0])
    ax.set_ylabel(model.target_names[0])
    ax.legend(loc="upper left")
    title = ax.set_title("")

    def update(k: int) -> list:
        curve = model.decode(snapshot_model(run, k).forward(inputs))[:, 0]
        line.set_ydata(np.where(np.isfinite(curve), curve, np.nan))
        title.set_text(_title(run, k))
        return [line, title]

    return fig, [line, title], update


def units_figure(run: Run, points: Points):
    """Each hidden unit's activation over the plane of the two input features."""
    from matplotlib.colors import TwoSlopeNorm

    model = run.model
    net = model.network
    hidden = net.layers[:-1]
    (gx, gy), _, inputs = grid_inputs(run, points.X, UNITS_GRID)
    ws = net.workspace(len(inputs))
    net.forward(inputs, ws)
    shown = [min(layer.units, UNITS_SHOWN) for layer in hidden]
    cols = min(max(shown), UNITS_PER_ROW)
    lines = [-(-count // cols) for count in shown]  # rows of maps per layer
    first = np.cumsum([0] + lines)
    cell = 1.25
    with house_style():
        fig = new_figure(cell * cols + 1.2, cell * sum(lines) + 0.9)
        set_margins(fig, left=0.9, right=0.3, top=0.6, bottom=0.3)
        grid = fig.add_gridspec(sum(lines), cols, wspace=0.08, hspace=0.35)
        extent = (gx[0], gx[-1], gy[0], gy[-1])
        for i, (layer, count) in enumerate(zip(hidden, shown)):
            a = ws.a[i][:len(inputs)]
            lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
            if lo < 0 < hi:
                norm, cmap = TwoSlopeNorm(0.0, lo, hi), "RdBu_r"
            else:
                norm, cmap = None, "viridis"
            for j in range(count):
                ax = fig.add_subplot(grid[first[i] + j // cols, j % cols])
                ax.imshow(a[:, j].reshape(len(gy), len(gx)), origin="lower", extent=extent,
                          aspect="auto", cmap=cmap, norm=norm, vmin=None if norm else lo,
                          vmax=None if norm else hi, interpolation="bilinear",
                          gid=f"unit:{i + 1}:{j + 1}")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{j + 1}", fontsize=7, pad=2)
                if j == 0:
                    more = f"\n(first {count} of {layer.units})" if count < layer.units else ""
                    ax.set_ylabel(f"layer {i + 1}\n{layer.activation.name}{more}",
                                  fontsize=8)
        fig.suptitle(f"{run.name}: hidden units over the input plane "
                     f"({model.feature_names[0]} across, {model.feature_names[1]} up)")
    return fig
