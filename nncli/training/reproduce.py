"""A run's data, reproduced from its resolved config.yaml (the seed makes it exact): the
validation split that `nncli evaluate` scores by default, and the points `nncli plot` draws."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..config import load_config
from ..errors import InputError, NncliWarning
from ..plots.run import Points, points_of
from ..runs.evaluate import Batch
from ..runs.load import TrainedModel
from .experiment import Experiment, prepare


def reproduce(run_dir: Path, why: str) -> Experiment:
    """The experiment of a run directory, prepared again from its config.yaml. ``why`` says
    what it is for, in the message when the run has no config."""
    config_file = Path(run_dir) / "config.yaml"
    if not config_file.is_file():
        raise InputError(f"{run_dir}: no config.yaml to reproduce {why} from")
    with warnings.catch_warnings():  # training told about dropped rows and batch sizes
        warnings.simplefilter("ignore", NncliWarning)
        return prepare(load_config(config_file), config_file)


def validation_batch(model: TrainedModel) -> Batch:
    """The run's validation rows, reproduced from its config.yaml and seed: the very arrays
    training evaluated, so the numbers are metrics.json's, bit for bit."""
    hint = "; evaluate on a labelled file with --data FILE"
    try:
        experiment = reproduce(model.path, "the validation split")
    except InputError as e:
        raise InputError(f"{e}{hint}") from None
    config_file = model.path / "config.yaml"
    if not experiment.has_validation:
        raise InputError(f"{config_file}: data.validation is 0, so the run has no validation "
                         f"split{hint}")
    if not same_data(model, experiment):
        raise InputError(f"{config_file}: its data no longer match the run's model.json "
                         f"(the data changed since training?){hint}")
    T = None if experiment.T is None else experiment.T[experiment.n_train:]
    return experiment.X_val, experiment.Y_val, T


def same_data(model: TrainedModel, experiment: Experiment) -> bool:
    """Whether the reproduced data are the data the run was trained on: same columns and
    classes, and the same fitted preprocessing, which a change in the data would almost surely
    alter."""
    ds, ours, theirs = experiment.dataset, experiment.preprocessing, model.preprocessing
    return (list(ds.feature_names) == model.feature_names
            and list(ds.target_names) == model.target_names
            and list(ds.classes) == model.classes
            and ours.columns == theirs.columns
            and _same_scaler(ours.scaler, theirs.scaler)
            and (ds.task != "regression"
                 or _same_scaler(ours.target_scaler, theirs.target_scaler)))


def _same_scaler(a, b) -> bool:
    return (a.kind == b.kind and np.array_equal(a.offset, b.offset)
            and np.array_equal(a.scale, b.scale))


def run_points(run_dir: Path) -> Points:
    """The data points of a run, for its boundary or fit picture."""
    try:
        points = points_of(reproduce(run_dir, "the data points"))
    except InputError as e:
        raise InputError(f"cannot load the data points of {run_dir}: {e}") from None
    if points is None:
        raise InputError(f"{run_dir}: its data have more than two inputs: no points to draw")
    return points
