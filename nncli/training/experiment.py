"""From a validated config to everything training needs, with every default resolved.

``prepare`` loads the data, fills the defaults that depend on it (validation fraction, scaling,
input size, task), checks the config against the data (output units, loss and task, batch
size, explicit weight shapes, values finite in the dtype), splits, scales and encodes, and
builds the initial network. Any problem is an InputError raised before training starts, so no
run directory is ever made for a config that cannot run.

Randomness: one ``np.random.SeedSequence(seed)`` is split into independent streams for data
generation, the validation split, initial weights and shuffling, so that changing one (say
the initial weights) leaves the others as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .build import build_network, resolve_network
from ..config import Config
from ..data.prepare import Scaler, split_indices, target_matrix, training_matrix
from ..data.sources import Dataset, load_source
from ..engine.losses import LOSSES, Loss
from ..engine.network import Network
from ..errors import InputError
from ..metrics import METRICS

@dataclass
class Experiment:
    """Everything training needs. The data are held once, in split order: ``X`` and ``Y``
    have the training rows first (as ``train_idx`` lists them), then the validation rows, so
    ``X_train`` and ``X_val`` are views, not copies."""

    config: Config  # resolved: every default filled in
    dataset: Dataset  # names, classes and task; its X and y are dropped (they are X and Y)
    network: Network  # the initial network
    loss: Loss
    scaler: Scaler
    X: np.ndarray  # (n, features) scaled, in the config's dtype
    Y: np.ndarray  # (n, outputs) network targets, in the config's dtype
    train_idx: np.ndarray  # the dataset's row numbers of each split
    val_idx: np.ndarray
    shuffle_rng: np.random.Generator

    @property
    def n_train(self) -> int:
        return len(self.train_idx)

    @property
    def X_train(self) -> np.ndarray:
        return self.X[:self.n_train]

    @property
    def Y_train(self) -> np.ndarray:
        return self.Y[:self.n_train]

    @property
    def X_val(self) -> np.ndarray:  # (0, features) when there is no validation split
        return self.X[self.n_train:]

    @property
    def Y_val(self) -> np.ndarray:
        return self.Y[self.n_train:]

    @property
    def metric(self):
        return METRICS[self.dataset.task]

    @property
    def has_validation(self) -> bool:
        return len(self.val_idx) > 0


def seed_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    names = ("data", "split", "init", "shuffle")
    return dict(zip(names, np.random.SeedSequence(seed).spawn(len(names))))


def prepare(config: Config, config_path: Path) -> Experiment:
    streams = seed_streams(config.seed)
    data_seed = int(streams["data"].generate_state(1)[0])
    dataset = load_source(config.data, config_path.parent, data_seed, config.dtype)
    config = resolve(config, config_path, dataset)
    dtype = config.dtype
    check_finite(dataset.X, dtype)

    train_idx, val_idx = split_indices(dataset.y, dataset.task, config.data.validation,
                                       np.random.default_rng(streams["split"]))
    scaler = Scaler.fit(dataset.X, config.data.scale, rows=train_idx)
    X = training_matrix(dataset.X, scaler, dtype, train_idx, val_idx)
    if not np.isfinite(X).all():
        raise InputError(f"data: some values are not finite in {dtype} after scaling "
                         f"(too large for {dtype}?)")
    Y = targets(dataset, dataset.y[np.concatenate([train_idx, val_idx])], config)
    dataset = replace(dataset, X=None, y=None)  # X may now be scaled in place: not the data
    check_fits(config, len(train_idx))

    network = build_network(config.network, dtype, np.random.default_rng(streams["init"]))
    return Experiment(
        config=config, dataset=dataset, network=network, loss=LOSSES[config.training.loss],
        scaler=scaler, X=X, Y=Y, train_idx=train_idx, val_idx=val_idx,
        shuffle_rng=np.random.default_rng(streams["shuffle"]),
    )


def check_finite(X: np.ndarray, dtype: str) -> None:
    """Every value finite and representable in ``dtype``: checked on the extremes, no copy."""
    lo, hi = X.min(), X.max()  # a NaN anywhere makes both NaN
    limit = np.finfo(dtype).max
    if not (np.isfinite(lo) and np.isfinite(hi) and -limit <= lo and hi <= limit):
        raise InputError(f"data: some feature values are not finite in {dtype} "
                         f"(infinite, missing, or too large for {dtype})")


def resolve(config: Config, config_path: Path, dataset: Dataset) -> Config:
    """The config with every default filled in, checked against the data."""
    n_rows, n_features = dataset.X.shape
    data = config.data
    data_update = {"task": dataset.task}
    if data.validation is None:
        data_update["validation"] = 0.0 if data.source == "inline" or n_rows < 10 else 0.2
    if data.scale is None:
        data_update["scale"] = "none" if data.source == "inline" else "standard"
    if data.source == "csv":
        data_update["path"] = str((config_path.parent / data.path).resolve())
        if data.target is None or data.target == -1:  # record which column the default chose
            data_update["target"] = dataset.target_names[0] if data.header else -1
    if config.network.input is not None and config.network.input != n_features:
        raise InputError(f"network.input: {config.network.input} but the data has "
                         f"{n_features} features")
    loss = config.loss_name
    if dataset.task == "regression" and LOSSES[loss].task == "classification":
        raise InputError(f"training.loss: {loss} needs a classification target, but the data "
                         f"is a regression target (set data.task: classification if the "
                         f"target holds class labels)")
    check_output_units(config, dataset)
    return config.model_copy(update={
        "name": config.name or config_path.stem,
        "data": data.model_copy(update=data_update),
        "network": resolve_network(config.network, n_features),
        "training": config.training.model_copy(update={"loss": loss}),
    })


def check_output_units(config: Config, dataset: Dataset) -> None:
    i = len(config.network.layers) - 1
    units = config.network.layers[i].units
    where = f"network.layers[{i}] (layer {i + 1}).units"
    if dataset.task == "classification":
        k = len(dataset.classes)
        if units != k and not (units == 1 and k == 2):
            binary = " (or 1 with a sigmoid or step output)" if k == 2 else ""
            raise InputError(f"{where}: the output layer has {units} units but the data has "
                             f"{k} classes; use {k}{binary}")
        if units == 1 and config.output_activation == "softmax":
            raise InputError(f"{where}: softmax needs one unit per class ({k})")
    elif units != len(dataset.target_names):
        raise InputError(f"{where}: the output layer has {units} units but the data has "
                         f"{len(dataset.target_names)} target column(s)")


def check_fits(config: Config, n_train: int) -> None:
    t = config.training
    if t.batch == "minibatch" and t.batch_size > n_train:
        raise InputError(f"training.batch_size: {t.batch_size} is larger than the training "
                         f"set ({n_train} rows); lower it or use batch: full")


def targets(dataset: Dataset, labels: np.ndarray, config: Config) -> np.ndarray:
    """2-D network targets in the config's dtype: encoded classes, or the regression values."""
    Y = target_matrix(dataset, labels, config.network.layers[-1].units, config.dtype)
    if not np.all(np.isfinite(Y)):
        raise InputError(f"data: target values are not finite in {config.dtype}")
    return Y
