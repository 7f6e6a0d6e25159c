"""Pictures of a run: loss curves, decision boundary, fitted curve, network diagram.

Each picture is drawn from the run directory alone (see :mod:`nncli.plots.run`). The drawing
functions return a matplotlib Figure, so that tests can read the plotted data back;
:func:`nncli.plots.style.save` writes one. matplotlib is imported only when a picture is
drawn: importing this package costs nothing.

| what | file | drawn for |
|---|---|---|
| loss | loss.png | every run with at least one epoch |
| boundary | decision_boundary.png | classification with two input features |
| fit | fit.png | regression with one input feature |
| network | network.png | every run |
"""

from __future__ import annotations

import warnings
from typing import Callable

from ..errors import InputError, OutputFailed
from .run import Points, Run, history_arrays, load, points_of
from .style import save

FILES = {"loss": "loss.png", "boundary": "decision_boundary.png", "fit": "fit.png",
         "network": "network.png"}
NEEDS_POINTS = ("boundary", "fit")

__all__ = ["FILES", "NEEDS_POINTS", "Points", "Run", "applicable", "draw", "draw_comparison",
           "history_arrays", "load", "points_of", "save", "why_not", "write_run_plots"]


def why_not(run: Run, what: str) -> str | None:
    """Why picture ``what`` does not apply to ``run``; None when it does."""
    if what == "loss" and run.epochs == 0:
        return "no loss curve: the run has no finished epoch"
    if what in NEEDS_POINTS and run.model.preprocessing.categorical:
        return f"no {what} picture: the run has categorical features (drawn for numbers only)"
    if what == "boundary" and (run.task != "classification" or run.n_features != 2):
        return (f"no decision boundary: it needs a classification run with 2 input features "
                f"(this run: {run.task}, {run.n_features} features)")
    if what == "fit" and (run.task != "regression" or run.n_features != 1):
        return (f"no fitted curve: it needs a regression run with 1 input feature "
                f"(this run: {run.task}, {run.n_features} features)")
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
    from .network import network_figure
    return network_figure(run)


def draw_comparison(runs: list[Run]):
    """Several runs' loss curves overlaid in one Figure."""
    from .loss import loss_figure

    for run in runs:
        if run.epochs == 0:
            raise InputError(f"{run.path}: {why_not(run, 'loss')}")
    return loss_figure(runs)


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
                save(draw(run, what, points), run.path / FILES[what])
            except OutputFailed:
                raise
            except Exception as e:  # noqa: BLE001
                problems.append(f"{FILES[what]} not written: {type(e).__name__}: {e}")
    return problems
