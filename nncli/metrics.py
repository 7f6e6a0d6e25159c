"""Task metrics on network outputs: accuracy for classification, R² for regression.

Targets are 2-D like the outputs: one-hot rows, or one 0/1 column for a single sigmoid or
step output. :func:`class_index` is the one place that turns outputs into class positions.
"""

from __future__ import annotations

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


METRICS = {"classification": ("accuracy", accuracy), "regression": ("r2", r2)}


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
