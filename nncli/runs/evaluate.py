"""Metrics of a trained run on labelled rows: the library behind `nncli evaluate`.

The rows are a labelled CSV file (streamed chunk by chunk, through the same reader and
preprocessing as ``predict``), or by default the run's own validation split, reproduced from
its config.yaml by ``training.reproduce`` (the split is seeded, so the same rows come back). Loss and the task metric
come from the same ``training.evaluate`` that wrote metrics.json, so on the validation split
they equal the training summary exactly. The loss is in the units the network trained in
(scaled targets for a regression run with ``scale_target``); R², RMSE, MAE and MSE are in the
target's own units. Classification adds scikit-learn's precision/recall/F1 and confusion
matrix, imported only here. Rows of a labelled file that cannot be scored (a missing target,
or a missing feature the run does not fill) are left out, counted in one warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..data.csvfile import CsvSource, Table
from ..data.features import Encoded
from ..data.prepare import encode_targets
from ..data.sources import column_labels  # the training reader's label rules
from ..errors import InputError, NncliWarning
from ..files import finite_or_none
from ..engine.network import evaluate
from ..metrics import class_index, regression_errors
from .load import TrainedModel
from .predict import RowCounts, feature_columns, input_chunks

# (network inputs in the run's dtype, 2-D network targets, regression targets in the data's
# units or None)
Batch = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


def evaluate_run(model: TrainedModel, data: CsvSource | None = None, *, delimiter: str = ",",
                 source_name: str | None = None, validation: Batch | None = None) -> dict:
    """The metrics of ``model`` on a labelled CSV, or, when ``data`` is None, on its
    ``validation`` split (``training.reproduce.validation_batch``). Undefined values are None."""
    if data is None:
        if validation is None:
            raise ValueError("evaluate_run needs data or the validation batch")
        batches: Iterable[Batch] = [validation]
    else:
        batches = labelled_csv(model, data, delimiter=delimiter, source_name=source_name)
    return {
        "run_dir": str(model.path),
        "data": "validation" if data is None else (source_name or str(data)),
        "task": model.task,
        "loss_function": model.loss.name,
        **score(model, batches),
    }


def evaluate_table(model: TrainedModel, table: Table) -> dict:
    """The metrics of ``model`` on a labelled table held in memory (``data.arrays``: X and
    y from Python), read as the rows of a labelled CSV file are; its ``data`` is the
    table's name."""
    absent = [name for name in model.feature_names + model.target_names
              if name not in table.names]
    if absent:
        raise InputError(f"{table.source_name}: missing column(s) {', '.join(map(repr, absent))}")
    encoded = model.inputs(feature_columns(model, table), lambda i: f"X row {i}")
    return {
        "run_dir": str(model.path),
        "data": table.source_name,
        "task": model.task,
        "loss_function": model.loss.name,
        **score(model, labelled_tables(model, [(table, encoded)], table.source_name)),
    }


def labelled_csv(model: TrainedModel, source: CsvSource, *, delimiter: str = ",",
                 source_name: str | None = None) -> Iterator[Batch]:
    """Network inputs and targets from each chunk of a labelled CSV file; rows without a
    target or with a feature the run cannot fill are left out (one warning at the end)."""
    chunks = input_chunks(model, source, delimiter=delimiter, source_name=source_name,
                          targets=True)
    return labelled_tables(model, chunks, source_name or str(source))


def labelled_tables(model: TrainedModel, chunks: Iterable[tuple[Table, Encoded]],
                    name: str) -> Iterator[Batch]:
    """Network inputs and targets of labelled tables, each with its encoded features."""
    dtype = model.network.dtype
    counts, no_target = RowCounts(model), 0
    for table, encoded in chunks:
        counts.add(table, encoded)
        name = table.source_name
        index = [table.names.index(t) for t in model.target_names]
        if model.task == "regression":
            T = np.column_stack([table.column(j, "numeric").numbers for j in index])
            present = ~np.isnan(T).any(axis=1)
        else:
            column = table.column(index[0], "auto")
            present = ~column.missing
        no_target += int(np.count_nonzero(~present))
        keep = encoded.usable & present
        rows = np.flatnonzero(keep)
        if model.task == "regression":
            T = T[rows]
            with np.errstate(over="ignore"):
                Y = model.preprocessing.target_scaler.transform(T, dtype)
            bad = ~np.isfinite(Y)
            if bad.any():
                i = int(rows[np.argwhere(bad)[0][0]])
                raise InputError(f"{table.source_name}: row {table.row_number(i)}: a target "
                                 f"value is too large for {dtype}")
        else:
            T = None
            Y = encode_targets(_labels(model, table, column, index[0], rows), model.classes,
                               model.network.n_outputs, dtype)
        yield encoded.X[rows], Y, T
    if no_target:
        warnings.warn(NncliWarning(f"{name}: left out {no_target} rows whose target "
                                   f"({', '.join(model.target_names)}) is missing"),
                      stacklevel=2)
    counts.report(name, doing="scored")


def _labels(model: TrainedModel, table, column, j: int, rows: np.ndarray) -> np.ndarray:
    """The target column's labels, read as training read them; each must be a known class."""
    labels = column_labels(column.take(rows), lambda i: table.cell(int(rows[i]), j))
    known = set(model.classes)
    for i, label in enumerate(labels.tolist()):
        if label not in known:
            raise InputError(f"{table.cell(int(rows[i]), j)}: label {label!r} is not one of "
                             f"the run's classes ({', '.join(map(repr, model.classes))})")
    return labels


def score(model: TrainedModel, batches: Iterable[Batch]) -> dict:
    name, metric = model.metric.name, model.metric.fn
    losses, counts, outputs, targets, originals = [], [], [], [], []
    for X, Y, T in batches:
        if len(X) == 0:
            continue
        loss, _, out = evaluate(model.network, model.loss, X, Y, metric)
        losses.append(loss)
        counts.append(len(X))
        outputs.append(out)
        targets.append(Y)
        originals.append(T)
    n = sum(counts)
    if n == 0:
        raise InputError("no row to evaluate: every row misses its target or a feature value")
    # One batch (the validation split): its loss as is, bit for bit the training summary's.
    loss = losses[0] if len(losses) == 1 else sum(l * c for l, c in zip(losses, counts)) / n
    outputs, targets = np.concatenate(outputs), np.concatenate(targets)
    result = {"rows": n, "loss": finite_or_none(loss)}
    if model.task == "classification":
        result[name] = finite_or_none(metric(outputs, targets))
        result.update(_classification(model, outputs, targets))
    else:
        result.update(_regression(model, model.decode(outputs), np.concatenate(originals)))
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


def _regression(model: TrainedModel, predictions: np.ndarray, targets: np.ndarray) -> dict:
    """R², MSE, RMSE and MAE in the target's units, overall (averaged over the targets) and
    per target."""
    def errors(P, T):
        e = regression_errors(P, T)
        mse = None if e["rmse"] is None else float(np.mean((P - T) ** 2))
        return {k: finite_or_none(v) for k, v in (("r2", e["r2"]), ("mse", mse),
                                                  ("rmse", e["rmse"]), ("mae", e["mae"]))}

    with np.errstate(over="ignore", invalid="ignore"):
        per_target = [{"target": name, **errors(predictions[:, [j]], targets[:, [j]])}
                      for j, name in enumerate(model.target_names)]
        return {**errors(predictions, targets),
                "target_scale": model.preprocessing.target_scaler.kind,
                "per_target": per_target}
