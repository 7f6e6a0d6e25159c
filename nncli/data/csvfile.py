"""Read CSV files into named NumPy columns (pyarrow), with errors that point at the cell.

Rows are numbered the way a text editor numbers lines: with a header, the first data row is
row 2. Numeric columns come back as float64 (NaN where a cell is empty), other columns as
object arrays of ``str`` (``None`` where empty); ``Table.missing`` marks the empty cells, so
only the columns actually used are required to be complete. Only ``""`` counts as empty:
``NA`` or ``nan`` are kept as text (or as NaN in a numeric column) and reported as not numeric
or not finite where a number is needed. This module never imports scikit-learn.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from nncli.errors import InputError

CsvSource = Union[str, Path, BinaryIO]
ColumnKey = Union[str, int]


@dataclass
class Table:
    """Named columns of one CSV file (or one chunk of it); samples are rows."""

    names: list[str]
    columns: list[np.ndarray]
    missing: list[np.ndarray | None]
    source_name: str = "<csv>"
    header: bool = True
    first_record: int = 0  # index of this table's first data row among the file's data rows
    _lines: Callable[[], list[int]] | None = field(default=None, repr=False)

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def row_number(self, i: int) -> int:
        """The editor line where data row ``i`` (0-based, within this table) starts."""
        k = self.first_record + i + (1 if self.header else 0)
        lines = self._lines() if self._lines is not None else []
        return lines[k] if k < len(lines) else k + 1

    def is_numeric(self, j: int) -> bool:
        return self.columns[j].dtype == np.float64

    def column_index(self, key: ColumnKey, what: str) -> int:
        """Column name or 0-based index (negative from the end) -> index; ``what``: key path."""
        n = len(self.names)
        if isinstance(key, int):
            if -n <= key < n:
                return key % n
            raise InputError(
                f"{what}: column index {key} is out of range; {self.source_name} has {n} "
                f"columns (indexes 0..{n - 1}, or -{n}..-1)"
            )
        if key in self.names:
            return self.names.index(key)
        raise InputError(
            f"{what}: no column named {key!r} in {self.source_name}; columns: "
            + ", ".join(repr(s) for s in self.names)
        )

    def cell(self, i: int, j: int) -> str:
        """Where cell (row i, column j) is, for messages."""
        return f"{self.source_name}: row {self.row_number(i)}, column {self.names[j]!r}"

    def require_complete(self, j: int) -> None:
        """Raise for the first empty cell of column ``j``."""
        mask = self.missing[j]
        if mask is not None and mask.any():
            raise InputError(f"{self.cell(int(np.argmax(mask)), j)}: empty cell")


def read_csv(
    source: CsvSource,
    *,
    delimiter: str = ",",
    header: bool = True,
    source_name: str | None = None,
) -> Table:
    """Read a whole CSV file, ``"-"`` for stdin, or a binary file object into a ``Table``.

    Without a header the columns are named ``x1..xk``.
    """
    name, data = _open(source, source_name)
    _check_delimiter(delimiter, name)
    try:
        arrow = pacsv.read_csv(
            _stream(data),
            read_options=_read_options(header),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=_CONVERT,
        )
    except pa.ArrowInvalid as exc:
        raise _parse_error(name, data, delimiter, header, exc) from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc}") from None
    table = _to_table(arrow, name, header, _line_map(data, delimiter))
    if table.n_rows == 0:
        raise InputError(f"{name}: no data rows" + (" after the header" if header else ""))
    return table


def iter_csv_chunks(
    source: CsvSource,
    *,
    delimiter: str = ",",
    header: bool = True,
    source_name: str | None = None,
    block_size: int = 1 << 20,
) -> Iterator[Table]:
    """Stream a CSV file as ``Table`` chunks of about ``block_size`` bytes each.

    Column types are inferred from the first chunk; a later cell that does not fit that type
    is reported as an error. Row numbers in messages count from the start of the file.
    """
    name, data = _open(source, source_name)
    _check_delimiter(delimiter, name)
    lines = _line_map(data, delimiter)
    read_options = _read_options(header)
    read_options.block_size = block_size
    done = 0
    try:
        reader = pacsv.open_csv(
            _stream(data),
            read_options=read_options,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=_CONVERT,
        )
        for batch in reader:
            table = _to_table(pa.Table.from_batches([batch]), name, header, lines, done)
            done += table.n_rows
            yield table
    except pa.ArrowInvalid as exc:
        raise _parse_error(name, data, delimiter, header, exc) from None
    if done == 0:
        raise InputError(f"{name}: no data rows" + (" after the header" if header else ""))


def numeric_matrix(table: Table, columns: Sequence[ColumnKey], what: str) -> np.ndarray:
    """The chosen columns as one float64 array (n, k); the first bad cell is reported.

    ``what`` is the config key the columns come from (e.g. ``data.features``).
    """
    out = np.empty((table.n_rows, len(columns)), dtype=np.float64)
    for k, key in enumerate(columns):
        j = table.column_index(key, what)
        table.require_complete(j)
        col = table.columns[j]
        if not table.is_numeric(j):
            col = _parse_numbers(table, j)
        bad = ~np.isfinite(col)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"{table.cell(i, j)}: {col[i]} is not a finite number ({what})")
        out[:, k] = col
    return out


# --- internals ---------------------------------------------------------------------------

# Only a truly empty cell is missing; no boolean or date guessing, so text stays text.
_CONVERT = pacsv.ConvertOptions(
    null_values=[""],
    strings_can_be_null=True,
    quoted_strings_can_be_null=True,
    true_values=[],
    false_values=[],
    timestamp_parsers=[],
)


def _read_options(header: bool) -> pacsv.ReadOptions:
    return pacsv.ReadOptions(autogenerate_column_names=not header)


def _open(source: CsvSource, source_name: str | None) -> tuple[str, Path | bytes]:
    """(name for messages, path or the bytes read from a file object / stdin)."""
    if isinstance(source, (str, Path)) and str(source) == "-":
        return source_name or "<stdin>", sys.stdin.buffer.read()
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = source_name or str(source)
        if not path.exists():
            raise InputError(f"{name}: file not found")
        if not path.is_file():
            raise InputError(f"{name}: not a file")
        if path.stat().st_size == 0:
            raise InputError(f"{name}: file is empty")
        return name, path
    data = source.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return source_name or getattr(source, "name", None) or "<input>", data


def _stream(data: Path | bytes):
    return str(data) if isinstance(data, Path) else pa.BufferReader(data)


def _check_delimiter(delimiter: str, name: str) -> None:
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
        raise InputError(
            f"{name}: delimiter must be one character (not a quote or newline), got {delimiter!r}"
        )


def _text_lines(data: Path | bytes) -> io.TextIOBase:
    if isinstance(data, Path):
        return open(data, encoding="utf-8-sig", errors="replace", newline="")
    return io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")


def _records(data: Path | bytes, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(start line, fields) of every non-blank record, the way the csv module parses them."""
    with _text_lines(data) as f:
        reader = csv.reader(f, delimiter=delimiter)
        start = 1
        for fields in reader:
            if fields:
                yield start, fields
            start = reader.line_num + 1


def _line_map(data: Path | bytes, delimiter: str) -> Callable[[], list[int]]:
    """A lazy, cached list of the start line of every record (needed only for messages)."""
    cache: list[list[int]] = []

    def lines() -> list[int]:
        if not cache:
            try:
                cache.append([line for line, _ in _records(data, delimiter)])
            except (csv.Error, OSError):
                cache.append([])  # fall back to counting one line per row
        return cache[0]

    return lines


def _parse_error(
    name: str, data: Path | bytes, delimiter: str, header: bool, exc: Exception
) -> InputError:
    text = str(exc)
    if "Empty CSV file" in text:
        return InputError(f"{name}: file is empty")
    if "Expected" in text and "columns" in text:
        try:
            width = None
            for line, fields in _records(data, delimiter):
                if width is None:
                    width = len(fields)
                elif len(fields) != width:
                    what = "the header" if header else "row 1"
                    return InputError(
                        f"{name}: row {line} has {len(fields)} fields, but {what} has {width}"
                    )
        except (csv.Error, OSError):
            pass
    m = re.search(r"In CSV column #(\d+): (.*)", text)
    if m:  # a later chunk did not fit the type inferred from the first one
        return InputError(f"{name}: column {int(m.group(1)) + 1}: {m.group(2)}")
    return InputError(f"{name}: cannot parse CSV: {text}")


def _to_table(
    arrow: pa.Table, name: str, header: bool, lines: Callable[[], list[int]], first: int = 0
) -> Table:
    try:
        names = list(arrow.column_names)
    except UnicodeDecodeError:
        raise InputError(f"{name}: header: not valid UTF-8 text") from None
    if header:
        _check_names(names, name)
    else:
        names = [f"x{j + 1}" for j in range(len(names))]
    columns: list[np.ndarray] = []
    missing: list[np.ndarray | None] = []
    for j, col in enumerate(arrow.columns):
        mask = col.is_null().to_numpy(zero_copy_only=False) if col.null_count else None
        missing.append(mask)
        kind = col.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind):
            columns.append(col.cast(pa.float64()).to_numpy().astype(np.float64, copy=False))
        elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            raise InputError(f"{name}: column {names[j]!r} is not valid UTF-8 text")
        else:
            columns.append(col.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object))
    return Table(names, columns, missing, name, header, first, lines)


def _check_names(names: list[str], name: str) -> None:
    seen: dict[str, int] = {}
    for j, col in enumerate(names):
        if col.strip() == "":
            raise InputError(f"{name}: header: column {j + 1} has no name")
        if col in seen:
            raise InputError(
                f"{name}: header: duplicate column name {col!r} "
                f"(columns {seen[col] + 1} and {j + 1})"
            )
        seen[col] = j


def _parse_numbers(table: Table, j: int) -> np.ndarray:
    """Convert a text column to float64, reporting the first cell that is not a number."""
    col = table.columns[j]
    out = np.empty(len(col), dtype=np.float64)
    for i, text in enumerate(col):
        try:
            out[i] = float(text)
        except (TypeError, ValueError):
            raise InputError(f"{table.cell(i, j)}: {text!r} is not a number") from None
    return out
