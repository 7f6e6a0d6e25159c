"""From a validated config to everything training needs, with every default resolved.

``prepare`` loads the data, fills the defaults that depend on it (validation fraction, scaling,
input size, task), checks the config against the data (output units, loss and task, batch
size, explicit weight shapes, values finite in the dtype), splits, scales and encodes, and
builds the initial network. Any problem is an InputError raised before training starts, so no
run directory is ever made for a config that cannot run.

Randomness: one ``np.random.SeedSequence(seed)`` is split into independent streams for data
generation, the validation split, initial weights, shuffling and dropout masks, so that
changing one (say the initial weights) leaves the others as they were.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .build import build_network, resolve_network
from .loop import batch_rows
from .. import memory
from .objective import resolve_training, row_weights
from ..config import Config
from ..data.features import Encoding, Preprocessing, fit_encodings
from ..data.prepare import Scaler, split_indices, target_matrix, training_matrix
from ..data.sources import Dataset, load_source
from ..engine.losses import LOSSES, Loss
from ..engine.network import Network
from ..errors import InputError, NncliWarning
from ..metrics import METRICS, regression_errors

LARGE_TARGET = 100.0  # an unscaled regression target this large makes divergence likely
RAW_KEPT_UP_TO = 2  # inputs: data this narrow keep their unscaled features for the pictures


@dataclass
class Experiment:
    """Everything training needs. The data are held once, in split order: ``X`` and ``Y``
    have the training rows first (as ``train_idx`` lists them), then the validation rows, so
    ``X_train`` and ``X_val`` are views, not copies."""

    config: Config  # resolved: every default filled in
    dataset: Dataset  # names, classes and task; its X, y and columns are dropped (they are X, Y)
    network: Network  # the initial network
    loss: Loss
    preprocessing: Preprocessing  # raw columns -> inputs, and the target scaling (model.json)
    X: np.ndarray  # (n, inputs) scaled, in the config's dtype
    Y: np.ndarray  # (n, outputs) network targets (scaled for regression), in the config's dtype
    train_idx: np.ndarray  # the dataset's row numbers of each split
    val_idx: np.ndarray
    shuffle_rng: np.random.Generator
    T: np.ndarray | None = None  # regression: (n, targets) in the data's units, split order
    # (n, inputs) float64 features as read, split order, for one- or two-input data only: the
    # points the pictures draw, without undoing the scaling
    raw: np.ndarray | None = None
    dropout_rng: np.random.Generator | None = None  # dropout masks (their own stream)
    weights: np.ndarray | None = None  # (n,) each row's loss weight, split order; None: all 1

    @property
    def scaler(self) -> Scaler:
        """The input scaler (identity on one-hot inputs)."""
        return self.preprocessing.scaler

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
    def w_train(self) -> np.ndarray | None:
        return None if self.weights is None else self.weights[:self.n_train]

    @property
    def w_val(self) -> np.ndarray | None:
        return None if self.weights is None else self.weights[self.n_train:]

    @property
    def metric(self):
        return METRICS[self.dataset.task]

    @property
    def has_validation(self) -> bool:
        return len(self.val_idx) > 0

    def in_data_units(self, outputs: np.ndarray, part: str) -> dict:
        """Regression: R², RMSE and MAE of ``outputs`` (network outputs of the ``part``
        "train" or "validation" rows) in the target's own units; {} for classification."""
        if self.T is None:
            return {}
        T = self.T[:self.n_train] if part == "train" else self.T[self.n_train:]
        return regression_errors(self.preprocessing.target_scaler.inverse(outputs), T)


def seed_streams(seed: int) -> dict[str, np.random.SeedSequence]:
    names = ("data", "split", "init", "shuffle", "dropout")
    return dict(zip(names, np.random.SeedSequence(seed).spawn(len(names))))


def prepare(config: Config, config_path: Path, dataset: Dataset | None = None) -> Experiment:
    """The experiment of ``config``; its data are loaded from the config's source (relative
    to ``config_path``), unless ``dataset`` gives them (arrays from Python, as loaded by
    ``sources.table_dataset`` with the config's data keys)."""
    streams = seed_streams(config.seed)
    data_seed = int(streams["data"].generate_state(1)[0])
    planned = generated_shape(config.data) if dataset is None else None
    if planned:  # before a generator spends hours or gigabytes on it
        check_memory(config, *planned)
    if dataset is None:
        dataset = load_source(config.data, config_path.parent, data_seed, config.dtype)
    train_idx, val_idx = split_indices(dataset.y, dataset.task,
                                       validation_fraction(config, dataset.n_samples),
                                       np.random.default_rng(streams["split"]))
    X, encodings = features(dataset, config, train_idx, val_idx)
    if not planned:
        check_memory(config, *X.shape)
    config = resolve(config, config_path, dataset, X.shape[1])
    dtype = config.dtype
    check_finite(X, dtype)

    order = np.concatenate([train_idx, val_idx])
    raw = X[order].astype(np.float64) if X.shape[1] <= RAW_KEPT_UP_TO else None
    numeric = np.array([e.kind == "numeric" for e in encodings for _ in range(e.width)])
    scaler = Scaler.fit(X, config.data.scale, rows=train_idx, numeric=numeric)
    X = training_matrix(X, scaler, dtype, train_idx, val_idx)
    if not np.isfinite(X).all():
        raise InputError(f"data: some values are not finite in {dtype} after scaling "
                         f"(too large for {dtype}?)")
    target_scaler, T = Scaler(), None
    if dataset.task == "regression":
        target_scaler = Scaler.fit(dataset.y, config.data.scale_target, rows=train_idx,
                                   what="data.scale_target")
        T = dataset.y[order]
    Y = targets(dataset, dataset.y[order], config, target_scaler)
    weights = row_weights(config.training, dataset, order, len(train_idx))
    preprocessing = Preprocessing(encodings, scaler, target_scaler,
                                  getattr(config.data, "missing", "error"))
    # X may now be scaled in place, and the raw columns are encoded: neither is the data.
    dataset = replace(dataset, X=None, y=None, columns=None)

    warn_large_batch(config, len(train_idx))
    network = build_network(config.network, dtype, np.random.default_rng(streams["init"]))
    return Experiment(
        config=config, dataset=dataset, network=network, loss=LOSSES[config.training.loss],
        preprocessing=preprocessing, X=X, Y=Y, train_idx=train_idx, val_idx=val_idx,
        shuffle_rng=np.random.default_rng(streams["shuffle"]), T=T, raw=raw,
        dropout_rng=np.random.default_rng(streams["dropout"]), weights=weights,
    )


def generated_shape(data) -> tuple[int, int] | None:
    """(rows, features) of generated data, known from its config before it is made; None for
    data that are read (their size is known once read)."""
    n = getattr(data, "n_samples", None)
    if n is None or data.source == "csv":
        return None
    return max(n, 4), getattr(data, "n_features", 2)  # xor: 4 points without n_samples


def check_memory(config: Config, n_rows: int, n_features: int) -> None:
    """Refuse a config whose data and network would not fit in memory (nncli.memory), naming
    what asks for the most: the number of samples, another size of generated data (blob
    centres, ...), or the widest layer."""
    itemsize = np.dtype(config.dtype).itemsize
    units = [layer.units for layer in config.network.layers]
    batch = batch_rows(config.training, n_rows)
    generated = generated_shape(config.data) is not None
    rows = "data.n_samples" if generated else "data"
    parts = {f"{rows} ({n_rows} rows of {n_features} features)":
             memory.dataset(n_rows, n_features, units[-1], itemsize)}
    if generated:  # a generator's tables: per centre, class, ... a row of features and more
        for key, value in config.data.model_dump().items():
            if key not in ("n_samples", "n_features") and type(value) is int:
                parts[f"data.{key} ({value})"] = memory.arrays([(value, n_features + 3)], 8)
    fan_ins = [n_features] + units[:-1]
    i = max(range(len(units)), key=lambda k: (fan_ins[k] + 1) * units[k])
    parts[f"network.layers[{i}] (layer {i + 1}).units ({units[i]})"] = memory.network(
        units, n_features, itemsize, batch, n_rows)
    memory.require(max(parts, key=parts.get), sum(parts.values()))


def features(dataset: Dataset, config: Config, train_idx: np.ndarray, val_idx: np.ndarray
             ) -> tuple[np.ndarray, list[Encoding]]:
    """The unscaled input matrix (n, inputs) and how each feature column gave its inputs.

    Numeric data are used as they are (no copy); raw CSV columns are filled and encoded with
    what the training rows alone show (``data.missing``, categories in sorted order).
    """
    if dataset.columns is None:
        return dataset.X, [Encoding(name) for name in dataset.feature_names]
    encodings = fit_encodings(dataset.columns, train_idx, config.data.missing,
                              set(dataset.categorical))
    encoded = Preprocessing(encodings, Scaler()).encode(dataset.columns)
    unseen = int(np.count_nonzero(encoded.unseen[val_idx]))
    if unseen:
        warnings.warn(NncliWarning(
            f"data: {unseen} validation row{'s hold' if unseen != 1 else ' holds'} a category that "
            "no training row has; encoded as all zeros"), stacklevel=2)
    return encoded.X, encodings


def check_finite(X: np.ndarray, dtype: str) -> None:
    """Every value finite and representable in ``dtype``: checked on the extremes, no copy."""
    if X.size == 0:
        return
    lo, hi = X.min(), X.max()  # a NaN anywhere makes both NaN
    limit = np.finfo(dtype).max
    if not (np.isfinite(lo) and np.isfinite(hi) and -limit <= lo and hi <= limit):
        raise InputError(f"data: some feature values are not finite in {dtype} "
                         f"(infinite, missing, or too large for {dtype})")


def validation_fraction(config: Config, n_rows: int) -> float:
    data = config.data
    if data.validation is not None:
        return data.validation
    return 0.0 if data.source == "inline" or n_rows < 10 else 0.2


def resolve(config: Config, config_path: Path, dataset: Dataset, n_inputs: int) -> Config:
    """The config with every default filled in, checked against the data (``n_inputs``: the
    network inputs the features give, one-hot columns included)."""
    data = config.data
    data_update = {"task": dataset.task,
                   "validation": validation_fraction(config, dataset.n_samples)}
    if data.scale is None:
        data_update["scale"] = "none" if data.source == "inline" else "standard"
    if dataset.task == "regression":
        if data.scale_target is None:
            data_update["scale_target"] = "none" if data.source == "inline" else "standard"
    elif data.scale_target not in (None, "none"):
        raise InputError(f"data.scale_target: {data.scale_target} scales regression targets; "
                         "this target holds classes (leave scale_target out)")
    if data.source == "csv":
        data_update["path"] = str((config_path.parent / data.path).resolve())
        if data.target is None or data.target == -1:  # record which column the default chose
            data_update["target"] = dataset.target_names[0] if data.header else -1
    if config.network.input is not None and config.network.input != n_inputs:
        encoded = (f" ({len(dataset.feature_names)} feature columns, categories one-hot "
                   "encoded)" if n_inputs != len(dataset.feature_names) else "")
        raise InputError(f"network.input: {config.network.input} but the data has "
                         f"{n_inputs} {'inputs' if encoded else 'features'}{encoded}")
    loss = config.loss_name
    if dataset.task == "regression" and LOSSES[loss].task == "classification":
        raise InputError(f"training.loss: {loss} needs a classification target, but the data "
                         f"is a regression target (set data.task: classification if the "
                         f"target holds class labels)")
    check_output_units(config, dataset)
    return config.model_copy(update={
        "name": config.name or config_path.stem,
        "data": data.model_copy(update=data_update),
        "network": resolve_network(config.network, n_inputs),
        "training": resolve_training(config.training, loss, dataset,
                                     METRICS[dataset.task].name, data_update["validation"] > 0),
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


def targets(dataset: Dataset, labels: np.ndarray, config: Config,
            target_scaler: Scaler) -> np.ndarray:
    """2-D network targets in the config's dtype: encoded classes, or the regression values
    scaled by ``target_scaler``."""
    Y = target_matrix(dataset, labels, config.network.layers[-1].units, config.dtype)
    if dataset.task == "regression":
        with np.errstate(over="ignore"):
            Y = target_scaler.transform(labels, config.dtype)
    if not np.all(np.isfinite(Y)):
        raise InputError(f"data: target values are not finite in {config.dtype}")
    return Y


def warn_large_batch(config: Config, n_train: int) -> None:
    """A minibatch larger than the training set is the whole set (``loop.batch_rows``), with a
    warning (as scikit-learn does)."""
    t = config.training
    if t.batch == "minibatch" and t.batch_size > n_train:
        warnings.warn(NncliWarning(
            f"training.batch_size: {t.batch_size} is larger than the training set "
            f"({n_train} rows); training on one batch of all {n_train} rows"), stacklevel=2)


def divergence_hint(experiment: Experiment) -> str:
    """What to try when training diverged, beyond the learning rate: the target, when it is
    a large regression target left unscaled."""
    data = experiment.config.data
    if experiment.T is None or data.scale_target != "none" or experiment.n_train == 0:
        return ""
    train = experiment.T[:experiment.n_train]
    largest = float(np.abs(train).max())
    if largest < LARGE_TARGET:
        return ""
    names = ", ".join(repr(n) for n in experiment.dataset.target_names)
    return (f"; the target {names} reaches {largest:.3g} and is not scaled "
            "(data.scale_target: none): set data.scale_target: standard")
