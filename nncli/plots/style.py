"""Figures and files: one look for every picture, and the same bytes for the same run.

matplotlib is imported here, inside the functions, never at module level: the rest of nncli
(``--help``, predict, CSV training) must not pay for it. Figures use the object-oriented API
(Figure + the Agg canvas), never pyplot, so no global figure state is involved. Pictures are
drawn and saved under matplotlib's default style, whatever the user's matplotlibrc says, and
without the "Software"/date metadata, so a run always gives the same bytes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..files import os_errors, write_atomic

DPI = 100
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
# Metadata matplotlib would otherwise fill with its version or the current time (PNG: see
# _write_png).
NO_STAMPS = {"svg": {"Date": None, "Creator": None},
             "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None}}
STYLE = {"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 9, "axes.titlesize": 10,
         "figure.titlesize": 11, "legend.fontsize": 8, "svg.hashsalt": "nncli",
         "axes.grid": True, "grid.alpha": 0.3}
TRAIN_COLOR, VALIDATION_COLOR = "C0", "C1"


@contextlib.contextmanager
def house_style():
    """matplotlib's defaults plus a few of ours, ignoring any matplotlibrc."""
    import matplotlib
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with house_style():
        fig = Figure(figsize=(width, height), dpi=DPI)
        FigureCanvasAgg(fig)
    return fig


def set_margins(fig, left=0.8, right=0.25, top=0.6, bottom=0.55, wspace=None) -> None:
    """Fixed margins in inches. (Constrained layout would fit them to the labels, but it
    costs about twice the drawing itself, and every run pays for its pictures.)"""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h, bottom=bottom / h,
                        wspace=wspace)


def class_colors(k: int) -> list:
    """One colour per class: tab10 (up to 10 classes), then tab20, then repeating."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def check_out(path: Path) -> str:
    """The format for ``--out path``; InputError for an unknown suffix or a missing folder."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"--out {path}: unknown picture format {path.suffix or '(none)'!r}; "
                         f"use {', '.join(FORMATS)}")
    if not path.parent.is_dir():
        raise InputError(f"--out {path}: folder {path.parent} does not exist")
    return fmt


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` atomically (temporary file renamed over it), format by suffix."""
    path = Path(path)
    fmt = check_out(path)

    def render(f) -> None:
        # np.errstate: matplotlib's tick arithmetic overflows on a diverged run's loss
        with house_style(), np.errstate(all="ignore"):
            if fmt == "png":
                _write_png(fig, f)
            else:
                fig.savefig(f, format=fmt, dpi=DPI, metadata=NO_STAMPS[fmt])

    with os_errors(path):
        return write_atomic(path, render)


def png_bytes(fig) -> bytes:
    """``fig`` as the PNG bytes :func:`save` would write (for pages that inline it)."""
    import io

    buf = io.BytesIO()
    with house_style(), np.errstate(all="ignore"):
        _write_png(fig, buf)
    return buf.getvalue()


def _write_png(fig, f) -> None:
    """The rendered pixels reduced to a 256-colour palette: a third of the bytes of matplotlib's
    own PNG and indistinguishable at this size (no dithering, so still deterministic), which
    matters for pictures written into every run and committed to the docs. Pillow comes with
    matplotlib; it writes no date or software chunk."""
    from PIL import Image

    fig.canvas.draw()
    pixels = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    palette = pixels.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(f, format="PNG")  # optimize=True: 5% smaller, 5 times slower
