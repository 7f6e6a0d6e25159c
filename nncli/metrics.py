"""Task metrics on network outputs: accuracy for classification, R² for regression.

Targets are 2-D like the outputs: one-hot rows, or one 0/1 column for a single sigmoid or
step output. :func:`class_index` is the one place that turns outputs into class positions.

The registry at the end owns each metric's facts (name, label, task, and whether higher is
better); the run index, sweeps, plots and the CLI derive theirs from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def class_index(outputs: np.ndarray) -> np.ndarray:
    """Position of the predicted class: argmax, or output >= 0.5 for a single output column."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] >= 0.5).astype(np.intp)
    return outputs.argmax(axis=1)


BLOCK_ROWS = 65536  # the class indices of a block at a time: no row-sized temporaries


def accuracy(outputs: np.ndarray, targets: np.ndarray) -> float | None:
    if len(outputs) == 0:
        return None
    correct = sum(
        np.count_nonzero(class_index(outputs[i:i + BLOCK_ROWS])
                         == class_index(targets[i:i + BLOCK_ROWS]))
        for i in range(0, len(outputs), BLOCK_ROWS))
    return float(correct / len(outputs))


def r2(outputs: np.ndarray, targets: np.ndarray) -> float | None:
    """Coefficient of determination, averaged over outputs; None where it is undefined
    (fewer than two samples, or a target that does not vary)."""
    if len(outputs) < 2:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        ss_res = ((targets - outputs) ** 2).sum(axis=0)
        ss_tot = ((targets - targets.mean(axis=0)) ** 2).sum(axis=0)
    if np.any(ss_tot == 0):
        return None
    return float(np.mean(1.0 - ss_res / ss_tot))


@dataclass(frozen=True)
class Metric:
    name: str  # the history.csv / metrics.json column
    fn: Callable[[np.ndarray, np.ndarray], float | None]  # (outputs, targets) -> value or None
    higher_is_better: bool
    label: str  # for pictures and tables


ACCURACY = Metric("accuracy", accuracy, True, "accuracy")
R2 = Metric("r2", r2, True, "R²")
METRICS = {"classification": ACCURACY, "regression": R2}  # the task metric training logs
# Every column a run reports, with its direction; a validation column is "val_" + one of these.
LOWER_IS_BETTER = ("loss",)
HIGHER_IS_BETTER = tuple(m.name for m in METRICS.values())


def base_column(column: str) -> str:
    """accuracy for val_accuracy: the metric a (validation) column reports."""
    return column.removeprefix("val_")


def is_metric_column(column: str) -> bool:
    return base_column(column) in LOWER_IS_BETTER + HIGHER_IS_BETTER


def higher_is_better(column: str) -> bool:
    return base_column(column) in HIGHER_IS_BETTER


def metric_columns() -> list[str]:
    """loss, accuracy, r2, val_loss, val_accuracy, val_r2: every column, train first."""
    names = list(LOWER_IS_BETTER + HIGHER_IS_BETTER)
    return names + [f"val_{n}" for n in names]


def label(column: str) -> str:
    """R² for r2 and val_r2 (with "validation" for the latter); the name otherwise."""
    base = base_column(column)
    text = next((m.label for m in METRICS.values() if m.name == base), base)
    return text if base == column else f"validation {text}"


def regression_errors(predictions: np.ndarray, targets: np.ndarray) -> dict:
    """R², RMSE and MAE (each averaged over the target columns) of (n, t) predictions in the
    targets' own units, as float64; None where undefined (R² of a constant target, no rows)."""
    P = np.asarray(predictions, dtype=np.float64)
    T = np.asarray(targets, dtype=np.float64)
    if len(T) == 0:
        return {"r2": None, "rmse": None, "mae": None}
    with np.errstate(over="ignore", invalid="ignore"):
        err = P - T
        rmse = float(np.mean(np.sqrt(np.mean(err ** 2, axis=0))))
        mae = float(np.mean(np.mean(np.abs(err), axis=0)))
    return {"r2": r2(P, T), "rmse": rmse, "mae": mae}
