"""Read CSV files into named raw columns (pyarrow), with errors that point at the cell.

One reader for training, ``predict`` and ``evaluate``: pyarrow reads every column it is asked
for as text, with the dialect's missing-value cells (``na_values``) as nulls, its quote
character, the lines it skips before the header and, when a comment character is set, the
comment lines taken out by a streaming byte filter (pyarrow's reader has no comment option).
Each column is then turned into numbers by pyarrow's cast or into categories by its dictionary
encoding (:meth:`Table.column`), so a cell that is not a number is found wherever it is and
named by row and column, in the first megabyte or the last.

Rows are numbered the way a text editor numbers lines: with a header on line 1, the first data
row is row 2; skipped, blank, comment and continuation lines all count. Blocks are sized from
the header, and a longer line further down makes the reader start again with blocks large
enough for it, so a long line is read, never mistaken for an empty file.
This module never imports scikit-learn.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Mapping, Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputError
from .features import NA_VALUES, Column

CsvSource = Union[str, Path, BinaryIO]
ColumnKey = Union[str, int]

BLOCK_SIZE = 1 << 20  # the reader's block; larger when the header or a line needs it
MAX_BLOCK = 1 << 30
SNIFF_BYTES = 1 << 16  # read to tell a text CSV from a binary file


@dataclass(frozen=True)
class Dialect:
    """How a CSV file is written. ``quote_char`` None: no quoting at all."""

    delimiter: str = ","
    header: bool = True
    na_values: tuple[str, ...] = NA_VALUES
    skip_rows: int = 0  # lines before the header (or the data), after comment lines are removed
    comment: str | None = None  # a line starting with it (outside quotes) is not read
    quote_char: str | None = '"'


@dataclass
class Table:
    """Named text columns of one CSV file (or one chunk of it); samples are rows."""

    names: list[str]
    arrays: list[pa.ChunkedArray | pa.Array]  # as read: text, null where a cell is missing
    source_name: str = "<csv>"
    header: bool = True
    first_record: int = 0  # index of this table's first data row among the file's data rows
    _lines: Callable[[], list[int]] | None = field(default=None, repr=False)
    data: Path | bytes | None = field(default=None, repr=False)  # the file, for messages

    def __post_init__(self):
        self.n_rows = len(self.arrays[0]) if self.arrays else 0

    def row_number(self, i: int) -> int:
        """The editor line where data row ``i`` (0-based, within this table) starts."""
        k = self.first_record + i + (1 if self.header else 0)
        lines = self._lines() if self._lines is not None else []
        return lines[k] if k < len(lines) else k + 1

    def cell(self, i: int, j: int) -> str:
        """Where cell (row i, column j) is, for messages."""
        return f"{self.source_name}: row {self.row_number(i)}, column {self.names[j]!r}"

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
        raise InputError(f"{what}: no column named {key!r} in {self.source_name}"
                         + did_you_mean(key, self.names))

    def release(self, j: int) -> None:
        """Let go of column ``j``'s text once it is converted (the table is no longer needed
        whole: this keeps one copy of the data, not two)."""
        self.arrays[j] = None

    def column(self, j: int, kind: str = "auto", what: str | None = None) -> Column:
        """Column ``j`` as numbers (``kind`` "numeric": a cell that is not a number or not
        finite is an error naming it), as categories ("text"), or numbers when every present
        cell is one and categories otherwise ("auto"). ``what``: the config key the column
        comes from, added to messages."""
        key = f" ({what})" if what else ""
        array = self.arrays[j]
        kind_of = array.type
        parsed = (pa.types.is_integer(kind_of) or pa.types.is_floating(kind_of)
                  or pa.types.is_null(kind_of))
        if pa.types.is_binary(kind_of) or pa.types.is_large_binary(kind_of):
            raise self.not_utf8()
        if not parsed and not pa.types.is_string(kind_of):
            array = array.cast(pa.string())  # an ISO date pyarrow parsed: its text again
        elif parsed and kind == "text":
            array = array.cast(pa.string())  # numbers listed as categories: their text
        elif kind != "text":
            numbers = _numbers(array)
            if numbers is not None:
                bad = np.isinf(numbers)
                if bad.any():
                    i = int(np.argmax(bad))
                    raise InputError(f"{self.cell(i, j)}: {numbers[i]} is not a finite number"
                                     f"{key}")
                return Column(self.names[j], numbers=numbers)
            if kind == "numeric":
                i, text = _first_non_number(array)
                raise InputError(f"{self.cell(i, j)}: {text!r} is not a number{key}")
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        encoded = pc.dictionary_encode(array)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return Column(self.names[j], codes=codes, levels=encoded.dictionary.to_pylist())

    def not_utf8(self) -> InputError:
        line = _first_undecodable_line(self.data) if self.data is not None else None
        where = f"line {line}" if line else "a cell"
        return InputError(f"{self.source_name}: {where} is not valid UTF-8 text (save the file "
                          "as UTF-8)")

    def non_number(self, j: int) -> tuple[int, str] | None:
        """(row, text) of the first present cell of column ``j`` that is not a number, when
        most of its present cells are numbers (a column of numbers with a stray marker);
        None otherwise."""
        array = self.arrays[j]
        present = array.drop_null()
        trimmed = pc.utf8_trim_whitespace(present)
        numeric = pc.match_substring_regex(trimmed, _NUMBER)
        count = pc.sum(numeric.cast(pa.int64())).as_py() or 0
        if count * 2 <= len(present):
            return None
        return _first_non_number(array)


def close_match(name: str, names: Sequence[str]) -> str | None:
    """The column a misspelt ``name`` most likely means (or None)."""
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {n.lower(): n for n in names}
    return lowered.get(name.lower())


def did_you_mean(name: str, names: Sequence[str]) -> str:
    """'; did you mean 'x'? columns: ...' for an unknown column name."""
    close = close_match(name, names)
    hint = f"; did you mean {close!r}?" if close else ""
    shown = ", ".join(repr(s) for s in names[:30]) + (", ..." if len(names) > 30 else "")
    return f"{hint} columns: {shown}" if hint else f"; columns: {shown}"


def read_csv(source: CsvSource, dialect: Dialect = Dialect(), *,
             source_name: str | None = None) -> Table:
    """Read a whole CSV file, ``"-"`` for stdin, or a binary file object into a ``Table``.

    Without a header the columns are named ``x1..xk``.
    """
    src = _Source(source, dialect, source_name)
    block, infer = src.block_size, True
    while True:
        try:
            arrow = pacsv.read_csv(src.stream(), **src.options(block, infer=infer))
            break
        except pa.ArrowInvalid as exc:
            if infer and "conversion error" in str(exc):
                # A cell that does not fit the type pyarrow inferred from the first block:
                # read every column as text, so that the cell is found and named.
                infer = False
            elif _straddles(exc) and block < MAX_BLOCK:
                block *= 4  # a line longer than the block: read again with larger blocks
            else:
                raise src.error(exc) from None
        except OSError as exc:
            raise InputError(f"{src.name}: cannot read: {exc}") from None
    table = src.table(arrow)
    if table.n_rows == 0:
        raise InputError(f"{src.name}: no data rows" + (" after the header" if dialect.header
                                                        else ""))
    return table


def iter_csv_chunks(source: CsvSource, dialect: Dialect = Dialect(), *,
                    source_name: str | None = None, columns: Mapping[str, str] | None = None,
                    block_size: int = BLOCK_SIZE) -> Iterator[Table]:
    """Stream a CSV file as ``Table`` chunks of about ``block_size`` bytes each.

    ``columns``: the names to read, each with its role for messages ({"bill": "feature"});
    every one must exist, and the other columns are not converted.
    Row numbers in messages count from the start of the file.
    """
    src = _Source(source, dialect, source_name, block_size)
    if columns is not None:
        src.require(columns)
    block, done = src.block_size, 0
    while True:
        skip, seen = done, 0  # after a restart, the rows already given are read again: skip
        try:
            reader = pacsv.open_csv(src.stream(), **src.options(block, columns))
            for batch in reader:
                table = src.table(pa.Table.from_batches([batch]), seen)
                seen += table.n_rows
                if seen <= skip:
                    continue
                if seen - table.n_rows < skip:
                    table = src.table(pa.Table.from_batches([batch]).slice(
                        skip - (seen - table.n_rows)), skip)
                done = seen
                yield table
            break
        except pa.ArrowInvalid as exc:
            if not _straddles(exc) or block >= MAX_BLOCK:
                raise src.error(exc) from None
            block *= 4
    if done == 0:
        raise InputError(f"{src.name}: no data rows" + (" after the header" if dialect.header
                                                        else ""))


# --- internals ---------------------------------------------------------------------------

# What counts as a number: pyarrow's float parser accepts exactly these (after trimming).
_NUMBER = r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|Inf|INF|infinity|Infinity|nan|NaN)$"


def _numbers(array) -> np.ndarray | None:
    """float64 (NaN where null) when every present cell is a number (spaces around it
    allowed), else None."""
    try:  # (integers parsed by pyarrow: beyond 2**53 they round, as float64 must)
        numbers = array.cast(pa.float64(), safe=not pa.types.is_integer(array.type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        try:  # trimming copies every cell: only when a cell needs it
            numbers = pc.cast(pc.utf8_trim_whitespace(array), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    if isinstance(numbers, pa.ChunkedArray):
        numbers = numbers.combine_chunks() if numbers.num_chunks != 1 else numbers.chunk(0)
    if numbers.null_count:
        numbers = numbers.fill_null(np.nan)
    return numbers.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _first_non_number(array) -> tuple[int, str]:
    """(row, text) of the first present cell that pyarrow cannot read as a number."""
    trimmed = pc.utf8_trim_whitespace(array)
    numeric = pc.match_substring_regex(trimmed, _NUMBER)
    bad = pc.and_(pc.is_valid(array), pc.invert(numeric.fill_null(True)))
    i = int(pc.index(bad, True).as_py())
    return i, array[i].as_py() if isinstance(array, pa.Array) else array[i].as_py()


def _straddles(exc: Exception) -> bool:
    return "straddl" in str(exc)


class _Source:
    """One CSV input: its name, bytes or path, dialect, header, and the pyarrow options."""

    def __init__(self, source: CsvSource, dialect: Dialect, source_name: str | None,
                 block_size: int = BLOCK_SIZE):
        self.name, self.data = _open(source, source_name)
        self.dialect = dialect
        _check_dialect(dialect, self.name)
        _sniff(self.data, self.name)
        first = next(_records(self.data, dialect), None)
        if first is None:
            skipped = f" after skipping {dialect.skip_rows} lines" if dialect.skip_rows else ""
            raise InputError(f"{self.name}: no header or data rows{skipped}")
        _, fields, through = first
        self.width = len(fields)
        if dialect.header:
            _check_names(fields, self.name)
            self.file_names = fields
        else:
            self.file_names = [f"f{j}" for j in range(self.width)]  # pyarrow's own names
        self.names = fields if dialect.header else [f"x{j + 1}" for j in range(self.width)]
        # Blocks hold the skipped lines and the header whole (pyarrow needs both in its first
        # block), with room to spare.
        self.block_size = max(block_size, 1 << (4 * through).bit_length())
        self.lines = _line_map(self.data, dialect)

    def require(self, columns: Mapping[str, str]) -> None:
        """Every column named must exist; ``columns`` maps each name to its role (feature,
        target), which the message uses."""
        for role in dict.fromkeys(columns.values()):
            names = [name for name, r in columns.items() if r == role]
            absent = [name for name in names if name not in self.names]
            if absent:
                close = close_match(absent[0], [n for n in self.names if n not in columns])
                raise InputError(
                    f"{self.name}: missing {role} column(s) " + ", ".join(map(repr, absent))
                    + f"; the run needs {', '.join(map(repr, names))}"
                    + (f" (did you mean {close!r} for {absent[0]!r}?)" if close else ""))

    def stream(self):
        if self.dialect.comment is None:  # pyarrow's own file reading: fastest
            return str(self.data) if isinstance(self.data, Path) else pa.BufferReader(self.data)
        raw = open(self.data, "rb") if isinstance(self.data, Path) else io.BytesIO(self.data)
        quote = self.dialect.quote_char
        return io.BufferedReader(_WithoutComments(raw, self.dialect.comment.encode(),
                                                  quote.encode() if quote else None))

    def options(self, block: int, columns: Sequence[str] | None = None,
                infer: bool = False) -> dict:
        """pyarrow's options: every column read as text, or (``infer``, the fast path of a
        whole file) numbers parsed by pyarrow where the first block shows a numeric column."""
        d = self.dialect
        wanted = self.names if columns is None else list(columns)
        file_names = [self.file_names[self.names.index(n)] for n in wanted]
        return {
            "read_options": pacsv.ReadOptions(
                skip_rows=d.skip_rows, autogenerate_column_names=not d.header,
                block_size=block, use_threads=True),
            "parse_options": pacsv.ParseOptions(
                delimiter=d.delimiter, quote_char=d.quote_char or False,
                double_quote=d.quote_char is not None, newlines_in_values=True),
            "convert_options": pacsv.ConvertOptions(
                column_types={} if infer else {n: pa.string() for n in file_names},
                include_columns=file_names if columns is not None else None,
                null_values=list(d.na_values), strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                # numbers or text only: no booleans, dates or times
                true_values=[], false_values=[], timestamp_parsers=[]),
        }

    def table(self, arrow: pa.Table, first: int = 0) -> Table:
        lookup = dict(zip(self.file_names, self.names))
        names = [lookup[n] for n in arrow.column_names]
        return Table(names, list(arrow.columns), self.name, self.dialect.header, first,
                     self.lines, self.data)

    def error(self, exc: Exception) -> InputError:
        text = str(exc)
        if "Expected" in text and "columns" in text:
            try:
                for k, (line, fields, _) in enumerate(_records(self.data, self.dialect)):
                    if len(fields) != self.width:
                        what = "the header" if self.dialect.header else "row 1"
                        # Wider rows from the first on: a title line before the header?
                        hint = ("; if the lines before the header are a title or description,"
                                " skip them with data.skip_rows"
                                if k == 1 and len(fields) > self.width else "")
                        return InputError(f"{self.name}: row {line} has {len(fields)} fields, "
                                          f"but {what} has {self.width}{hint}")
            except (csv.Error, OSError):
                pass
        if "UTF8" in text or "UTF-8" in text:
            return Table([], [], self.name, data=self.data).not_utf8()
        if _straddles(exc):
            return InputError(f"{self.name}: a line is longer than {MAX_BLOCK >> 20} MB")
        return InputError(f"{self.name}: cannot parse CSV: {text}")


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
    name = source_name or getattr(source, "name", None) or "<input>"
    if not data:
        raise InputError(f"{name}: file is empty")
    return name, data


def _check_dialect(d: Dialect, name: str) -> None:
    def one_char(value, key):
        if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
            raise InputError(f"{name}: {key} must be one character (not a newline), "
                             f"got {value!r}")

    one_char(d.delimiter, "delimiter")
    if d.quote_char is not None:
        one_char(d.quote_char, "quote_char")
    if d.comment is not None:
        one_char(d.comment, "comment")
    chosen = [c for c in (d.delimiter, d.quote_char, d.comment) if c is not None]
    if len(set(chosen)) != len(chosen):
        raise InputError(f"{name}: delimiter, quote_char and comment must be different "
                         f"characters, got {d.delimiter!r}, {d.quote_char!r}, {d.comment!r}")


def _sniff(data: Path | bytes, name: str) -> None:
    """Refuse a file that is not text: NUL bytes, or no UTF-8 in its first bytes."""
    if isinstance(data, Path):
        with open(data, "rb") as f:
            head = f.read(SNIFF_BYTES)
    else:
        head = data[:SNIFF_BYTES]
    if b"\0" in head:
        raise InputError(f"{name}: not a text CSV file (it holds NUL bytes: a spreadsheet, "
                         "an archive or another binary file?)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a text CSV file: not UTF-8 text (save it as UTF-8 "
                         "CSV)") from None


def _text_lines(data: Path | bytes) -> io.TextIOBase:
    if isinstance(data, Path):
        return open(data, encoding="utf-8-sig", errors="replace", newline="")
    return io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")


def _kept_lines(lines, d: Dialect) -> Iterator[tuple[int, str, int]]:
    """(line number, text, characters read so far) of the lines pyarrow reads: comment lines
    (outside quotes) removed first, then the first ``skip_rows`` lines."""
    in_quote, skipped, read = False, 0, 0
    for number, line in enumerate(lines, start=1):
        read += len(line)
        if d.comment is not None and not in_quote and line.startswith(d.comment):
            continue
        if d.quote_char is not None:
            in_quote ^= line.count(d.quote_char) & 1
        if skipped < d.skip_rows:
            skipped += 1
            continue
        yield number, line, read


def _records(data: Path | bytes, d: Dialect) -> Iterator[tuple[int, list[str], int]]:
    """(start line, fields, characters read) of every non-blank record, parsed the way
    pyarrow reads them (the csv module on the lines :func:`_kept_lines` keeps)."""
    state = {"first": None, "read": 0}

    def feed(lines):
        for number, line, read in lines:
            if state["first"] is None:
                state["first"] = number
            state["read"] = read
            yield line

    fmt = {"delimiter": d.delimiter}
    if d.quote_char is None:
        fmt["quoting"] = csv.QUOTE_NONE
    else:
        fmt["quotechar"] = d.quote_char
    with _text_lines(data) as f:
        reader = csv.reader(feed(_kept_lines(f, d)), **fmt)
        for fields in reader:
            start, state["first"] = state["first"], None
            if fields:
                yield start, fields, state["read"]


def _line_map(data: Path | bytes, d: Dialect) -> Callable[[], list[int]]:
    """A lazy, cached list of the start line of every record (needed only for messages)."""
    cache: list[list[int]] = []

    def lines() -> list[int]:
        if not cache:
            try:
                cache.append([line for line, _, _ in _records(data, d)])
            except (csv.Error, OSError):
                cache.append([])  # fall back to counting one line per row
        return cache[0]

    return lines


def _first_undecodable_line(data: Path | bytes) -> int | None:
    stream = open(data, "rb") if isinstance(data, Path) else io.BytesIO(data)
    with stream:
        for number, line in enumerate(stream, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


class _WithoutComments(io.RawIOBase):
    """A byte stream without its comment lines (a line starting with ``comment`` outside a
    quoted value), read a block at a time: the streaming filter in front of pyarrow."""

    def __init__(self, raw: BinaryIO, comment: bytes, quote: bytes | None):
        self.raw, self.comment, self.quote = raw, comment, quote
        self.pending, self.out, self.in_quote, self.eof = b"", bytearray(), False, False
        self.line_start = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.out and not self.eof:
            self._fill()
        n = min(len(buffer), len(self.out))
        buffer[:n] = self.out[:n]
        del self.out[:n]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()

    def _fill(self) -> None:
        block = self.raw.read(BLOCK_SIZE)
        if not block:
            self.eof = True
            text, self.pending = self.pending, b""
        else:
            text = self.pending + block
            cut = max(text.rfind(b"\n"), text.rfind(b"\r")) + 1  # whole lines only
            text, self.pending = text[:cut], text[cut:]
        self.out += self._filter(text)

    def _filter(self, text: bytes) -> bytes:
        c = self.comment
        if not text.startswith(c) and b"\n" + c not in text and b"\r" + c not in text:
            if self.quote:
                self.in_quote ^= bool(text.count(self.quote) & 1)
            return text  # no line starts with the comment character: nothing to take out
        kept = []
        for line in text.splitlines(keepends=True):
            if not self.in_quote and line.startswith(c):
                continue
            kept.append(line)
            if self.quote:
                self.in_quote ^= bool(line.count(self.quote) & 1)
        return b"".join(kept)


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
