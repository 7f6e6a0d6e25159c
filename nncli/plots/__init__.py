"""Pictures of a run: loss curves, decision boundary, fitted curve, network diagram, the model
as it learns, hidden units, layer statistics.

Each picture is drawn from the run directory alone (see :mod:`nncli.plots.run`). The drawing
functions return a matplotlib Figure, so that tests can read the plotted data back;
:func:`nncli.plots.style.save` writes one (the animation is written frame by frame instead).
matplotlib is imported only when a picture is drawn: importing this package costs nothing.

| what | file | drawn for |
|---|---|---|
| loss | loss.png | every run with at least one epoch |
| boundary | decision_boundary.png | classification with two input features |
| fit | fit.png | regression with one input feature |
| network | network.png | every run |
| animation | boundary.gif / fit.gif | as boundary / fit, for a run with snapshots.npz |
| units | units.png | two input features and at least one hidden layer |
| layers | layers.png | a run with layers.csv |
"""

from __future__ import annotations

import warnings
from typing import Callable

from pathlib import Path

from ..errors import InputError, OutputFailed
from ..files import os_errors, write_atomic
from .run import Points, Run, Snapshots, history_arrays, load, points_of
from .style import save

FILES = {"loss": "loss.png", "boundary": "decision_boundary.png", "fit": "fit.png",
         "network": "network.png", "animation": "boundary.gif", "units": "units.png",
         "layers": "layers.png"}
NEEDS_POINTS = ("boundary", "fit", "animation", "units")

__all__ = ["FILES", "NEEDS_POINTS", "Points", "Run", "Snapshots", "applicable", "draw",
           "draw_comparison", "filename", "history_arrays", "load", "points_of", "save",
           "save_picture", "why_not", "write_run_plots"]


def filename(run: Run, what: str) -> str:
    """The file of picture ``what`` in a run directory (the animation: boundary.gif for
    classification, fit.gif for regression)."""
    if what == "animation" and run.task == "regression":
        return "fit.gif"
    return FILES[what]


def why_not(run: Run, what: str) -> str | None:
    """Why picture ``what`` does not apply to ``run``; None when it does."""
    if what == "loss" and run.epochs == 0:
        return "no loss curve: the run has no finished epoch"
    if what in NEEDS_POINTS and run.model.preprocessing.categorical:
        return f"no {what} picture: the run has categorical features (drawn for numbers only)"
    if what in ("boundary", "animation") and run.task == "classification" \
            and run.n_features != 2 or what == "boundary" and run.task != "classification":
        return (f"no {'decision boundary' if what == 'boundary' else 'animation'}: it needs a "
                f"classification run with 2 input features (this run: {run.task}, "
                f"{run.n_features} features)")
    if what in ("fit", "animation") and run.task == "regression" and run.n_features != 1 \
            or what == "fit" and run.task != "regression":
        return (f"no {'fitted curve' if what == 'fit' else 'animation'}: it needs a regression "
                f"run with 1 input feature (this run: {run.task}, {run.n_features} features)")
    if what == "animation" and (run.snapshots is None or not len(run.snapshots.epochs)):
        return "no animation: the run has no snapshots.npz"
    if what == "units" and (run.n_features != 2 or len(run.model.network.layers) < 2):
        return (f"no unit maps: they need 2 input features and a hidden layer (this run: "
                f"{run.n_features} features, {len(run.model.network.layers) - 1} hidden "
                f"layers)")
    if what == "layers" and not run.layers:
        return "no layer statistics: the run has no layers.csv (training.layer_stats: false)"
    return None


def applicable(run: Run) -> list[str]:
    return [what for what in FILES if why_not(run, what) is None]


def draw(run: Run, what: str, points: Points | None = None):
    """The Figure of one picture; boundary and fit need the run's data ``points``."""
    reason = why_not(run, what)
    if reason:
        raise InputError(f"{run.path}: {reason}")
    if what in NEEDS_POINTS and points is None:
        raise ValueError(f"the {what} picture needs the run's data points")
    if what == "loss":
        from .loss import loss_figure
        return loss_figure([run])
    if what == "boundary":
        from .boundary import boundary_figure
        return boundary_figure(run, points)
    if what == "fit":
        from .fit import fit_figure
        return fit_figure(run, points)
    if what == "units":
        from .learning import units_figure
        return units_figure(run, points)
    if what == "layers":
        from .layers import layers_figure
        return layers_figure(run)
    if what == "animation":
        raise ValueError("the animation is written frame by frame: save_picture")
    from .network import network_figure
    return network_figure(run)


def save_picture(run: Run, what: str, points: Points | None, path: str | Path) -> Path:
    """Draw picture ``what`` and write it to ``path`` (whole or not at all)."""
    path = Path(path)
    if what != "animation":
        return save(draw(run, what, points), path)
    if path.suffix.lower() != ".gif":
        raise InputError(f"--out {path}: the animation is a GIF; name the file .gif")
    if not path.parent.is_dir():
        raise InputError(f"--out {path}: folder {path.parent} does not exist")
    reason = why_not(run, what)
    if reason:
        raise InputError(f"{run.path}: {reason}")
    from .learning import animation
    with os_errors(path):
        return write_atomic(path, lambda f: animation(run, points, f))


def draw_comparison(runs: list[Run], labels: list[str] | None = None):
    """Several runs' loss curves overlaid in one Figure, labelled by ``labels`` (default:
    what differs between their configs)."""
    from .loss import loss_figure

    for run in runs:
        if run.epochs == 0:
            raise InputError(f"{run.path}: {why_not(run, 'loss')}")
    return loss_figure(runs, labels)


def write_run_plots(run: Run, points: Points | None,
                    stop: Callable[[], bool] = lambda: False) -> list[str]:
    """Write every picture that applies into ``run.path``; return the problems.

    Called by the trainer on a run it holds in memory, before publishing it: a picture that
    cannot be drawn must not cost the run, so any error becomes a message; only a machine that
    cannot store it (a full disk: OutputFailed) stops the work. ``stop()`` is asked before each
    picture: a signal (Ctrl-C, SIGTERM) stops the drawing, and the caller says so.
    """
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. overflow in a diverged run: the run says so
        for what in applicable(run):
            if stop():
                break
            try:
                save_picture(run, what, points, run.path / filename(run, what))
            except OutputFailed:
                raise
            except Exception as e:  # noqa: BLE001
                problems.append(f"{FILES[what]} not written: {type(e).__name__}: {e}")
    return problems
