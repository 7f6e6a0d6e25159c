"""A compact loss chart for the terminal, in braille dots: the curve is seen over ssh too.

Each character cell holds 2 x 4 dots, so a 60-column, 5-row chart has 120 x 20 dots. Several
series share the canvas; on a colour terminal each cell takes the colour of the series that
drew in it, and without colour (NO_COLOR, a pipe, a log file) the validation curve still looks
different: it is dotted (every other dot of its line). The y axis is logarithmic when the values span a decade or more (the rule the
PNG pictures use too). Pure Python; :func:`loss_chart` is what ``train``, ``runs`` and
``show`` print.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from rich.text import Text

from ..plots.scale import spans_decades

WIDTH, HEIGHT = 60, 5  # character cells of the plotting area
# bit of the braille dot at (column dx in 0..1, row dy in 0..3 from the top) of a cell
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
BRAILLE_BLANK = 0x2800  # U+2800 with no dot raised; an empty cell is printed as a space
MIXED = -1  # a cell in which several series drew
SERIES_STYLES = ("cyan", "magenta", "green", "yellow")
LEGEND_GLYPHS = ("⣀⣀ ", "⡀⡀ ")  # loss solid, val_loss dotted


@dataclass
class Canvas:
    rows: list[str]  # HEIGHT strings of WIDTH braille characters, top row first
    owners: list[list[int | None]]  # per cell: the series that drew there, MIXED, or None
    low: float  # the values at the bottom and top dot rows
    high: float
    log: bool


def _half_up(x: float) -> int:
    return math.floor(x + 0.5)


def draw(series: Sequence[Sequence[float | None]], width: int = WIDTH, height: int = HEIGHT,
         log: bool | None = None, dotted: Sequence[int] = ()) -> Canvas:
    """Plot each series (one value per epoch; None or NaN leaves a gap) as a line of dots.

    Epoch i of n sits at dot column round(i * (2 * width - 1) / (n - 1)); consecutive points
    are joined by a straight line of dots. ``log`` defaults to :func:`spans_decades`. The
    series numbered in ``dotted`` get every other dot of their line only.
    """
    values = [v for s in series for v in s if v is not None and math.isfinite(v)]
    if log is None:
        log = spans_decades(values)
    if log:
        values = [v for v in values if v > 0]

    def y_of(v):
        return math.log10(v) if log else v

    ts = [y_of(v) for v in values]
    lo, hi = (min(ts), max(ts)) if ts else (0.0, 0.0)
    dots_x, dots_y = 2 * width, 4 * height
    bits = [[0] * width for _ in range(height)]
    owners: list[list[int | None]] = [[None] * width for _ in range(height)]

    def dot(x: int, y: int, owner: int) -> None:  # y counts dot rows from the bottom
        row, dy = divmod(dots_y - 1 - y, 4)
        cell, dx = divmod(x, 2)
        bits[row][cell] |= DOT_BITS[dx][dy]
        current = owners[row][cell]
        owners[row][cell] = owner if current in (None, owner) else MIXED

    for k, s in enumerate(series):
        n = len(s)
        previous = None
        every = 2 if k in dotted else 1
        placed = [0]  # dots of this series so far (a dotted one sets every other)

        def put(x: int, y: int, k=k, every=every, placed=placed) -> None:
            if placed[0] % every == 0:
                dot(x, y, k)
            placed[0] += 1

        for i, v in enumerate(s):
            if v is None or not math.isfinite(v) or (log and v <= 0):
                previous = None
                continue
            x = _half_up(i * (dots_x - 1) / (n - 1)) if n > 1 else 0
            y = (_half_up((y_of(v) - lo) / (hi - lo) * (dots_y - 1)) if hi > lo
                 else dots_y // 2)
            if previous is None:
                put(x, y)
            else:
                px, py = previous
                steps = max(abs(x - px), abs(y - py))
                for t in range(1, steps + 1):
                    put(_half_up(px + (x - px) * t / steps), _half_up(py + (y - py) * t / steps))
            previous = (x, y)
    rows = ["".join(chr(BRAILLE_BLANK + b) if b else " " for b in row) for row in bits]
    low, high = (10 ** lo, 10 ** hi) if log else (lo, hi)
    return Canvas(rows, owners, low, high, log)


def loss_chart(history: Mapping[str, Sequence[float | None]], width: int = WIDTH,
               height: int = HEIGHT) -> Text | None:
    """The loss (and val_loss) per epoch with its range, epochs and legend; None if empty.

    ``history`` maps column names to values per epoch, as :func:`history_columns` makes them.
    """
    names = [name for name in ("loss", "val_loss")
             if any(v is not None and math.isfinite(v) for v in history.get(name, ()))]
    if not names:
        return None
    canvas = draw([history[name] for name in names], width, height, dotted=[1])
    top, bottom = f"{canvas.high:.4g}", f"{canvas.low:.4g}"
    gutter = max(len(top), len(bottom))
    text = Text()
    for r, row in enumerate(canvas.rows):
        label = top if r == 0 else bottom if r == height - 1 else ""
        tick = "┤" if label else "│"
        text.append(f"{label:>{gutter}} {tick}")
        for cell, owner in zip(row, canvas.owners[r]):
            style = SERIES_STYLES[owner % len(SERIES_STYLES)] if owner not in (None, MIXED) else ""
            text.append(cell, style=style)
        text.append("\n")
    epochs = len(history[names[0]])
    text.append(" " * gutter + " └" + "─" * width + "\n")
    first, last = "1", str(epochs)
    axis = first + "epoch".center(width - len(first) - len(last)) + last if width > 10 else ""
    text.append(" " * (gutter + 2) + axis + "\n")
    text.append(" " * (gutter + 2))
    for k, name in enumerate(names):
        text.append(LEGEND_GLYPHS[k], style=SERIES_STYLES[k])
        text.append(f"{name}  ")
    if canvas.log:
        text.append("(log scale)")
    text.rstrip()
    return text


def history_columns(records: Sequence[Mapping[str, float | None]]) -> dict[str, list]:
    """Training's history (one dict per epoch) as columns: {"loss": [...], ...}."""
    columns: dict[str, list] = {}
    for record in records:
        for key, value in record.items():
            columns.setdefault(key, []).append(value)
    return columns
