"""Predictions for a CSV file, chunk by chunk: the library behind `nncli predict`.

The input is streamed (pyarrow reads about 1 MB of CSV at a time); each chunk's feature
columns are matched by name, turned into network inputs by the run's preprocessing (fill,
encode, scale) and passed through the run's network, and its predictions written before the
next chunk is read, so memory stays bounded whatever the file's size. Rows keep their order
and count: a row that cannot be predicted (a missing value the run does not fill) gets empty
output cells, and such rows are counted in one warning, as are rows holding a category that
training never saw (predicted with that feature's inputs all zero).
Output columns: the target name(s) of training; ``--proba`` adds ``p_<label>`` per class.
Floats are written in their shortest form that reads back to the same value.
"""

from __future__ import annotations

import csv
import io
import warnings
from typing import BinaryIO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..data.csvfile import CsvSource, Table, iter_csv_chunks
from ..data.features import Column, Encoded
from ..errors import InputError, NncliWarning
from .load import TrainedModel, warn_unseen

_STRUCTURAL = set(',"\r\n')  # characters that force a CSV value into quotes


def feature_columns(model: TrainedModel, table: Table) -> list[Column]:
    """The run's feature columns of one chunk: numbers, or text for categorical columns."""
    return [table.column(table.names.index(enc.name),
                         "text" if enc.kind == "categorical" else "numeric")
            for enc in model.preprocessing.columns]


def input_chunks(model: TrainedModel, source: CsvSource, *, delimiter: str = ",",
                 source_name: str | None = None, targets: bool = False
                 ) -> Iterator[tuple[Table, Encoded]]:
    """(chunk, its network inputs) for each chunk of a CSV file, read with the run's dialect
    (its missing-value cells, comment and quote characters); ``targets``: the chunk also
    holds the target columns, which must exist."""
    wanted = {name: "feature" for name in model.feature_names}
    if targets:
        wanted.update({name: "target" for name in model.target_names})
    for table in iter_csv_chunks(source, model.dialect(delimiter),
                                 source_name=source_name, columns=wanted):
        yield table, model.inputs(feature_columns(model, table),
                                  lambda i, t=table: f"{t.source_name}: row {t.row_number(i)}")


class RowCounts:
    """Rows that could not be predicted and rows with an unseen category, over all chunks,
    reported once at the end."""

    def __init__(self, model: TrainedModel):
        self.model, self.rows, self.unusable, self.unseen = model, 0, 0, 0
        self.first: str | None = None

    def add(self, table: Table, encoded: Encoded) -> None:
        self.rows += len(encoded.usable)
        bad = int(np.count_nonzero(~encoded.usable))
        if bad and self.first is None:
            i, column = encoded.first_missing
            self.first = f"row {table.row_number(i)}, column {column!r}"
        self.unusable += bad
        self.unseen += int(np.count_nonzero(encoded.unseen))

    def report(self, source: str, doing: str = "predicted") -> None:
        policy = self.model.preprocessing.missing
        why = (f"a missing feature value, which the run does not fill (data.missing: {policy});"
               f" the first at {self.first}")
        if self.rows and self.unusable == self.rows:
            raise InputError(f"{source}: no row could be {doing}: every row has {why}")
        if self.unusable:
            warnings.warn(NncliWarning(
                f"{source}: {self.unusable} of {self.rows} rows could not be {doing} "
                f"({why}){'; their output cells are empty' if doing == 'predicted' else ''}"),
                stacklevel=3)
        warn_unseen(self.unseen)


def output_columns(model: TrainedModel, proba: bool) -> list[str]:
    if model.task == "regression":
        return list(model.target_names)
    return [model.target_names[0]] + ([f"p_{c}" for c in model.classes] if proba else [])


def prediction_columns(model: TrainedModel, outputs: np.ndarray, proba: bool,
                       usable: np.ndarray | None = None) -> list:
    """The output columns (see :func:`output_columns`) for a chunk: ``outputs`` are the
    network outputs of its ``usable`` rows; the other rows get empty (null) cells."""
    n = len(outputs) if usable is None else len(usable)
    empty = None if usable is None or usable.all() else ~usable

    def full(values: np.ndarray, **kw) -> pa.Array:
        if empty is None:
            return pa.array(values, **kw)
        out = np.zeros(n, dtype=values.dtype) if values.dtype != object else \
            np.full(n, "", dtype=object)
        out[usable] = values
        return pa.array(out, mask=empty, **kw)

    if model.task == "regression":
        values = model.decode(outputs)
        return [full(values[:, j]) for j in range(values.shape[1])]
    labels = model.decode(outputs)
    columns = [full(labels, type=pa.int64() if labels.dtype != object else pa.string())]
    if proba:
        p = model.probabilities(outputs)
        columns += [full(np.ascontiguousarray(p[:, k])) for k in range(p.shape[1])]
    return columns


def predict_csv(model: TrainedModel, source: CsvSource, out: BinaryIO, *, proba: bool = False,
                delimiter: str = ",", source_name: str | None = None) -> int:
    """Write predictions for every row of a CSV file to ``out`` (CSV), one output row per
    input row in order; returns the row count. Rows that cannot be predicted get empty cells
    and one warning; when no row can be predicted, that is an InputError."""
    if proba and model.task != "classification":
        raise InputError("--proba: probabilities need a classification run; "
                         f"{model.path} is a regression run")
    names = output_columns(model, proba)
    out.write(_header(names))
    # Quote nothing (fast, and plain to read) unless a class label needs quotes.
    needs_quotes = any(_STRUCTURAL & set(str(c)) for c in model.classes)
    options = pacsv.WriteOptions(include_header=False,
                                 quoting_style="needed" if needs_quotes else "none")
    counts, name = RowCounts(model), source_name or str(source)
    for table, encoded in input_chunks(model, source, delimiter=delimiter,
                                       source_name=source_name):
        usable = encoded.usable
        X = encoded.X if usable.all() else encoded.X[usable]
        columns = prediction_columns(model, model.forward(X), proba, usable)
        table_out = pa.table(columns, names=[f"c{j}" for j in range(len(names))])
        if len(names) == 1 and not usable.all():
            out.write(_quote_empty_lines(table_out, options))
        else:
            pacsv.write_csv(table_out, out, options)
        counts.add(table, encoded)
        name = table.source_name
    counts.report(name)
    return counts.rows


def _quote_empty_lines(table: pa.Table, options) -> bytes:
    """One output column with empty cells: each as ``""``, since a blank line is no row to
    most CSV readers (Python's csv, pandas) and the rows must stay aligned with the input."""
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, options)
    lines = buf.getvalue().split(b"\n")[:-1]
    return b"".join((line or b'""') + b"\n" for line in lines)


def _header(names: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(names)
    return buf.getvalue().encode("utf-8")
