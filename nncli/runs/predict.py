"""Predictions for a CSV file, chunk by chunk: the library behind `nncli predict`.

The input is streamed (pyarrow reads about 1 MB of CSV at a time), each chunk's feature
columns are matched by name, scaled and passed through the run's network, and its predictions
written before the next chunk is read, so memory stays bounded whatever the file's size.
Output columns: the target name(s) of training; ``--proba`` adds ``p_<label>`` per class.
Floats are written in their shortest form that reads back to the same value.
"""

from __future__ import annotations

import csv
import io
from typing import BinaryIO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..data.csvfile import CsvSource, Table, iter_csv_chunks, numeric_matrix
from ..errors import InputError
from .load import TrainedModel

_STRUCTURAL = set(',"\r\n')  # characters that force a CSV value into quotes


def feature_chunks(model: TrainedModel, source: CsvSource, *, delimiter: str = ",",
                   source_name: str | None = None) -> Iterator[tuple[Table, np.ndarray]]:
    """(chunk, its feature rows (n, features) as float64) for each chunk of a CSV file."""
    for table in iter_csv_chunks(source, delimiter=delimiter, source_name=source_name):
        require_columns(table, model.feature_names, "feature")
        yield table, numeric_matrix(table, model.feature_names, "input")


def require_columns(table: Table, names: list[str], what: str) -> None:
    """Every name must be a column of ``table``; extra columns are fine."""
    absent = [name for name in names if name not in table.names]
    if absent:
        raise InputError(
            f"{table.source_name}: missing {what} column(s) " + ", ".join(map(repr, absent))
            + f"; the run needs {', '.join(map(repr, names))}")


def output_columns(model: TrainedModel, proba: bool) -> list[str]:
    if model.task == "regression":
        return list(model.target_names)
    return [model.target_names[0]] + ([f"p_{c}" for c in model.classes] if proba else [])


def prediction_columns(model: TrainedModel, outputs: np.ndarray, proba: bool) -> list:
    """The output columns (see :func:`output_columns`) for a chunk's network outputs."""
    if model.task == "regression":
        return [outputs[:, j] for j in range(outputs.shape[1])]
    labels = model.decode(outputs)
    columns = [pa.array(labels, type=pa.int64() if labels.dtype != object else pa.string())]
    if proba:
        p = model.probabilities(outputs)
        columns += [p[:, k] for k in range(p.shape[1])]
    return columns


def predict_csv(model: TrainedModel, source: CsvSource, out: BinaryIO, *, proba: bool = False,
                delimiter: str = ",", source_name: str | None = None) -> int:
    """Write predictions for every row of a CSV file to ``out`` (CSV); returns the row count."""
    if proba and model.task != "classification":
        raise InputError("--proba: probabilities need a classification run; "
                         f"{model.path} is a regression run")
    names = output_columns(model, proba)
    out.write(_header(names))
    # Quote nothing (fast, and plain to read) unless a class label needs quotes.
    needs_quotes = any(_STRUCTURAL & set(str(c)) for c in model.classes)
    options = pacsv.WriteOptions(include_header=False,
                                 quoting_style="needed" if needs_quotes else "none")
    rows = 0
    for table, X in feature_chunks(model, source, delimiter=delimiter, source_name=source_name):
        outputs = model.outputs(X, row_name=lambda i: f"{table.source_name}: row "
                                                      f"{table.row_number(i)}")
        columns = prediction_columns(model, outputs, proba)
        pacsv.write_csv(pa.table(columns, names=[f"c{j}" for j in range(len(names))]), out,
                        options)
        rows += table.n_rows
    return rows


def _header(names: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(names)
    return buf.getvalue().encode("utf-8")
