"""What training minimises and how it steps: the training settings resolved against the data,
and turned into the engine's objects.

This is the one construction path of training (``loop.fit``), ``nncli trace`` and
``nncli gradcheck``: the update rule (:func:`optimizer_for`), the weight penalty
(:func:`penalty_for`) and the rows' loss weights (:func:`row_weights`) are built here and
nowhere else, so the three see the same objective and take the same steps.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..config import TrainingConfig
from ..engine import optim
from ..engine.penalty import Penalty
from ..errors import InputError, NncliWarning
from .control import default_monitor, monitor_columns


def resolve_training(training: TrainingConfig, loss: str, dataset, metric_name: str,
                     has_validation: bool) -> TrainingConfig:
    """The training section with every default filled in and checked against the data: the
    loss, the settings of the update rule in use (the others are dropped, with a warning when
    they were given: they would change nothing), the monitored columns, the class weights."""
    update: dict = {"loss": loss}
    rule = optim.RULES[training.update]
    for key in optim.HYPERPARAMETERS:
        given = getattr(training, key)
        if key in rule.hyper:
            update[key] = rule.hyper[key] if given is None else given
        elif given is not None:
            users = [name for name, r in optim.RULES.items() if key in r.hyper]
            warnings.warn(NncliWarning(
                f"training.{key} has no effect with update {training.update} (it applies to "
                f"{', '.join(users)}); ignored"))
            update[key] = None
    columns = monitor_columns(metric_name, has_validation)
    for key in ("schedule", "early_stopping"):
        section = getattr(training, key)
        if section is None or not hasattr(section, "monitor"):
            continue
        monitor = section.monitor or default_monitor(has_validation)
        if monitor not in columns:
            why = (" needs a validation split (data.validation is 0)"
                   if monitor.removeprefix("val_") in columns else " is not a history column")
            raise InputError(f"training.{key}.monitor: {monitor!r}{why}; choose one of "
                             f"{', '.join(columns)}")
        update[key] = section.model_copy(update={"monitor": monitor})
    check_class_weight(training, dataset)
    return training.model_copy(update=update)


def check_class_weight(training: TrainingConfig, dataset) -> None:
    cw = training.class_weight
    if cw is None:
        return
    if dataset.task != "classification":
        raise InputError("training.class_weight: applies to classification only; this data "
                         "is a regression target")
    if isinstance(cw, dict):
        known = {str(c) for c in dataset.classes}
        unknown = [label for label in cw if str(label) not in known]
        if unknown:
            raise InputError(f"training.class_weight: {unknown[0]!r} is not a class of the "
                             f"data; classes: {', '.join(map(repr, dataset.classes))}")


def row_weights(training: TrainingConfig, dataset, order: np.ndarray,
                n_train: int) -> np.ndarray | None:
    """Each row's weight in the loss, in split order (``order``: the dataset's rows, training
    rows first): its class weight times its sample weight. None when every row weighs the
    same: then the loss is the plain mean, exactly as without weights.

    ``balanced`` gives class c the weight n / (k * count_c), counted on the training rows
    (n rows, k classes); a class missing from a ``{label: weight}`` mapping weighs 1.
    """
    w = None
    if dataset.sample_weight is not None:
        w = dataset.sample_weight[order]
    cw = training.class_weight
    if cw is not None:
        classes = dataset.classes
        position = {str(c): i for i, c in enumerate(classes)}
        labels = dataset.y[order]
        index = np.searchsorted(classes, labels) if not isinstance(labels[0], str) else \
            np.array([position[str(v)] for v in labels])
        if cw == "balanced":
            counts = np.bincount(index[:n_train], minlength=len(classes))
            per_class = n_train / (len(classes) * np.maximum(counts, 1))
        else:
            given = {str(k): v for k, v in cw.items()}
            per_class = np.array([given.get(str(c), 1.0) for c in classes])
        w = per_class[index] if w is None else w * per_class[index]
    if w is None or np.all(w == w[0]):
        return None
    return w


def optimizer_for(net, training: TrainingConfig) -> optim.Rule:
    """The update rule ``training.update`` with its settings, for ``net``'s flat vectors."""
    hyper = {key: getattr(training, key) for key in optim.RULES[training.update].hyper}
    return optim.for_network(training.update, net, training.learning_rate, **hyper)


def penalty_for(net, training: TrainingConfig) -> Penalty | None:
    """The weight penalty of ``training.l2`` and ``training.l1``; None when both are 0."""
    if not (training.l2 or training.l1):
        return None
    return Penalty(net, l2=training.l2, l1=training.l1)
