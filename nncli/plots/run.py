"""What a picture is drawn from: a run directory's files, and the data points of its config.

Everything comes from the run directory alone: history.csv (the curves), model.json and
weights.npz (through :func:`nncli.load_run`), and config.yaml, whose data source is loaded
again to get the training and validation points (the config reproduces them exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.prepare import decode_outputs
from ..errors import InputError
from ..metrics import HIGHER_IS_BETTER
from ..runs.load import TrainedModel, load_run
from ..runs.formats import read_history


@dataclass
class Run:
    path: Path
    name: str  # the config's name (model.json), not the directory's: stable before publishing
    history: dict[str, np.ndarray]  # column -> values per epoch, NaN for an empty cell
    model: TrainedModel

    @property
    def task(self) -> str:
        return self.model.task

    @property
    def n_features(self) -> int:
        return self.model.network.n_inputs

    @property
    def epochs(self) -> int:
        return len(self.history["epoch"])

    @property
    def metric(self) -> str | None:
        """accuracy or r2: the metric the run logged beside its loss, if any."""
        return next((c for c in HIGHER_IS_BETTER if c in self.history), None)


@dataclass
class Points:
    """The data a run was trained on: unscaled features, labels or targets, and the split."""

    X: np.ndarray  # (n, features)
    y: np.ndarray  # (n,) class labels, or (n, targets) regression values
    train_idx: np.ndarray
    val_idx: np.ndarray


def load(path: str | Path) -> Run:
    path = Path(path)
    model = load_run(path)  # raises InputError naming what is missing
    history = read_history(path / "history.csv", thin=True)  # as training drew it
    return Run(path, str(model.description.get("name", path.name)), history_arrays(history), model)


def history_arrays(history: list[dict]) -> dict[str, np.ndarray]:
    """History rows as float columns (an empty cell, an undefined value, is NaN)."""
    names = list(history[0]) if history else ["epoch", "loss"]
    return {name: np.array([math.nan if r[name] is None else r[name] for r in history],
                           dtype=np.float64) for name in names}


def points_of(experiment) -> Points | None:
    """The data points of a prepared :class:`nncli.training.experiment.Experiment`, in its row
    order (training rows first): the features as they were read (``experiment.raw``, kept for
    one- and two-feature data, the only ones drawn), labels or targets in their own units.
    None when the experiment kept no features to draw."""
    if experiment.raw is None:
        return None
    Y, dataset = experiment.Y, experiment.dataset
    # regression targets in their own units (the network's Y may be scaled)
    y = decode_outputs(Y, dataset.classes) if dataset.task == "classification" else experiment.T
    n, n_train = len(Y), experiment.n_train
    return Points(experiment.raw, y, np.arange(n_train), np.arange(n_train, n))
