"""Metrics of a trained run on labelled rows: the library behind `nncli evaluate`.

The rows are a labelled CSV file (streamed chunk by chunk), or by default the run's own
validation split, reproduced from its config.yaml (the split is seeded, so the same rows come
back). Loss and the task metric (accuracy or R²) come from the same ``training.evaluate`` that
wrote metrics.json, so on the validation split they equal the training summary exactly; the
detailed metrics (precision/recall/F1, confusion matrix, MSE, MAE) are scikit-learn's,
imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..data.csvfile import CsvSource, iter_csv_chunks, numeric_matrix
from ..data.prepare import encode_targets
from ..data.sources import parse_labels  # the training reader's label rules
from ..errors import InputError
from ..files import finite_or_none
from ..engine.network import evaluate
from ..metrics import class_index, r2
from .load import TrainedModel
from .predict import require_columns

# (network inputs: scaled feature rows in the run's dtype, 2-D network targets)
Batch = tuple[np.ndarray, np.ndarray]


def evaluate_run(model: TrainedModel, data: CsvSource | None = None, *, delimiter: str = ",",
                 source_name: str | None = None) -> dict:
    """The metrics of ``model`` on a labelled CSV, or on its validation split when ``data`` is
    None. Undefined values are None."""
    if data is None:
        batches: Iterable[Batch] = [validation_split(model)]
    else:
        batches = labelled_csv(model, data, delimiter=delimiter, source_name=source_name)
    return {
        "run_dir": str(model.path),
        "data": "validation" if data is None else (source_name or str(data)),
        "task": model.task,
        "loss_function": model.loss.name,
        **score(model, batches),
    }


def validation_split(model: TrainedModel) -> Batch:
    """The run's validation rows, reproduced from its config.yaml and seed."""
    from ..config import load_config
    from ..training.experiment import prepare

    config_file = model.path / "config.yaml"
    if not config_file.is_file():
        raise InputError(f"{model.path}: no config.yaml to reproduce the validation split "
                         "from; evaluate on a labelled file with --data FILE")
    experiment = prepare(load_config(config_file), config_file)
    if not experiment.has_validation:
        raise InputError(f"{config_file}: data.validation is 0, so the run has no validation "
                         "split; evaluate on a labelled file with --data FILE")
    _check_reproduced(model, experiment, config_file)
    # The very arrays training evaluated, so the numbers are metrics.json's, bit for bit.
    return experiment.X_val, experiment.Y_val


def _check_reproduced(model: TrainedModel, experiment, config_file: Path) -> None:
    """The reproduced data must be the data the run was trained on (same columns, classes,
    and the same fitted scaler, which a change in the data would almost surely alter)."""
    ds, scaler = experiment.dataset, experiment.scaler
    same = (list(ds.feature_names) == model.feature_names
            and list(ds.target_names) == model.target_names
            and list(ds.classes) == model.classes
            and scaler.kind == model.scaler.kind
            and np.array_equal(scaler.offset, model.scaler.offset)
            and np.array_equal(scaler.scale, model.scaler.scale))
    if not same:
        raise InputError(f"{config_file}: its data no longer match the run's model.json "
                         "(the data changed since training?); evaluate on a labelled file "
                         "with --data FILE")


def labelled_csv(model: TrainedModel, source: CsvSource, *, delimiter: str = ",",
                 source_name: str | None = None) -> Iterator[Batch]:
    """Feature rows and network targets from each chunk of a labelled CSV file."""
    dtype = model.network.dtype
    for table in iter_csv_chunks(source, delimiter=delimiter, source_name=source_name):
        require_columns(table, model.feature_names, "feature")
        require_columns(table, model.target_names, "target")
        X = numeric_matrix(table, model.feature_names, "input")

        def row_name(i, table=table):
            return f"{table.source_name}: row {table.row_number(i)}"

        if model.task == "regression":
            Y = numeric_matrix(table, model.target_names, "target").astype(dtype)
            bad = ~np.isfinite(Y)
            if bad.any():
                raise InputError(f"{row_name(int(np.argwhere(bad)[0][0]))}: a target value is "
                                 f"too large for {dtype}")
        else:
            Y = encode_targets(_labels(model, table), model.classes, model.network.n_outputs,
                               dtype)
        yield model.scale(X, row_name), Y


def _labels(model: TrainedModel, table) -> np.ndarray:
    """The target column's labels, read as training read them; each must be a known class."""

    j = table.names.index(model.target_names[0])
    table.require_complete(j)
    labels = parse_labels(table.columns[j], lambda i: table.cell(i, j))
    known = set(model.classes)
    for i, label in enumerate(labels.tolist()):
        if label not in known:
            raise InputError(f"{table.cell(i, j)}: label {label!r} is not one of the run's "
                             f"classes ({', '.join(map(repr, model.classes))})")
    return labels


def score(model: TrainedModel, batches: Iterable[Batch]) -> dict:
    name, metric = model.metric.name, model.metric.fn
    losses, counts, outputs, targets = [], [], [], []
    for X, Y in batches:
        loss, _, out = evaluate(model.network, model.loss, X, Y, metric)
        losses.append(loss)
        counts.append(len(X))
        outputs.append(out)
        targets.append(Y)
    n = sum(counts)
    # One batch (the validation split): its loss as is, bit for bit the training summary's.
    loss = losses[0] if len(losses) == 1 else sum(l * c for l, c in zip(losses, counts)) / n
    outputs, targets = np.concatenate(outputs), np.concatenate(targets)
    result = {"rows": n, "loss": finite_or_none(loss),
              name: finite_or_none(metric(outputs, targets))}
    if model.task == "classification":
        result.update(_classification(model, outputs, targets))
    else:
        result.update(_regression(model, outputs, targets))
    return result


def _classification(model: TrainedModel, outputs: np.ndarray, targets: np.ndarray) -> dict:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    true, pred = class_index(targets), class_index(outputs)
    k = range(len(model.classes))
    # A class never predicted has no precision (0/0): reported as null, not as 0.
    precision, recall, f1, support = precision_recall_fscore_support(
        true, pred, labels=k, zero_division=np.nan)
    per_class = [
        {"class": c, "precision": finite_or_none(p), "recall": finite_or_none(r), "f1": finite_or_none(f),
         "support": int(s)}
        for c, p, r, f, s in zip(model.classes, precision, recall, f1, support)
    ]
    matrix = confusion_matrix(true, pred, labels=k)
    return {"classes": list(model.classes), "per_class": per_class,
            "confusion_matrix": matrix.tolist()}


def _regression(model: TrainedModel, outputs: np.ndarray, targets: np.ndarray) -> dict:
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    per_target = [
        {"target": name,
         "mse": finite_or_none(mean_squared_error(targets[:, j], outputs[:, j])),
         "mae": finite_or_none(mean_absolute_error(targets[:, j], outputs[:, j])),
         "r2": finite_or_none(r2(outputs[:, [j]], targets[:, [j]]))}
        for j, name in enumerate(model.target_names)
    ]
    return {"mse": finite_or_none(mean_squared_error(targets, outputs)),
            "mae": finite_or_none(mean_absolute_error(targets, outputs)),
            "per_target": per_target}

