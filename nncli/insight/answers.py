"""A learner's filled-in worksheet, read back: each written number with its cell name, its
step, where it was written, and the precision it was written to.

Three formats, told apart by their content: the Markdown worksheet (`nncli trace --worksheet
--format markdown`, tables under ``## Step k`` headings), the CSV worksheet (a header with
``cell`` and ``value`` columns, and ``step`` if there are several steps), or a plain two-column
``name,value`` CSV without a header (a name's comma needs no quotes: ``dW1[1,2],274.5``). Blank cells are left out. Anything else that cannot be
read is an InputError naming the file and line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..errors import InputError
from ..files import read_text
from .cells import normalise


@dataclass(frozen=True)
class Answer:
    label: str  # the cell's name with its step, as the learner wrote it: "z1[2]", "z1[2]@2"
    text: str  # the number as written
    value: Decimal
    half: Decimal  # half a unit in the last written decimal: 0.005 for "0.77"
    where: str  # "answers.md:12"

    @property
    def significant(self) -> int:
        return len(self.value.as_tuple().digits)


def parse_number(text: str, where: str) -> tuple[Decimal, Decimal]:
    """The number as written and half a unit in its last written decimal: ``0.77`` is judged
    to ±0.005, ``0.7700`` to ±0.00005, ``12`` to ±0.5, ``1.20e3`` to ±5."""
    cleaned = text.strip().replace("−", "-").replace("\u2009", "").replace(" ", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise InputError(f"{where}: {text.strip()!r} is not a number")
    exponent = value.as_tuple().exponent
    return value, Decimal(5) * Decimal(10) ** (exponent - 1)


def read_answers(path: str | Path) -> list[Answer]:
    path = Path(path)
    text = read_text(path, "answers file")
    lines = text.splitlines()
    if any(line.lstrip().startswith("|") for line in lines):
        answers = _markdown(lines, str(path))
    else:
        answers = _csv(lines, str(path))
    if not answers:
        raise InputError(f"{path}: no filled-in cells to check (fill in the blanks of a "
                         f"worksheet: nncli trace CONFIG --worksheet)")
    return answers


def _answer(name: str, step: int | None, text: str, where: str) -> Answer:
    """``step`` comes from the file's layout (a heading, a column); a name may carry its own
    (``@k``), and the two must agree."""
    label = normalise(name)
    if not label:
        raise InputError(f"{where}: a value without a cell name")
    own = re.search(r"@(\d+)$", label)
    if step is not None and own and int(own.group(1)) != step:
        raise InputError(f"{where}: {name.strip()} is written under step {step}")
    if step is not None and step > 1 and not own:
        label = f"{label}@{step}"
    value, half = parse_number(text, where)
    return Answer(label, text.strip(), value, half, where)


_STEP = re.compile(r"^#{1,6}\s*step\s+(\d+)\b", re.I)
_RULE = re.compile(r"^\s*:?-+:?\s*$")


def _markdown(lines: list[str], path: str) -> list[Answer]:
    """Tables under ``## Step k`` headings: a grid (its corner names the array, columns are
    numbered, rows numbered or not) or a ``cell | value`` table."""
    answers, step, i = [], 1, 0
    while i < len(lines):
        heading = _STEP.match(lines[i].strip())
        if heading:
            step = int(heading.group(1))
        if not lines[i].lstrip().startswith("|"):
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            i += 1
        answers += _table([_cells(line) for line in lines[start:i]], start + 1, step, path)
    return answers


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") else line
    return [c.strip() for c in line.split("|")]


def _table(rows: list[list[str]], first: int, step: int, path: str) -> list[Answer]:
    header = rows[0]
    if len(rows) < 2 or not all(_RULE.match(c) for c in rows[1]):
        raise InputError(f"{path}:{first}: a table without its |---| line under the header")
    out = []
    named = [h.lower() for h in header[:2]] == ["cell", "value"]
    if not named:
        key = normalise(header[0])
        columns = header[1:]
        if not all(c.isdigit() for c in columns):
            raise InputError(f"{path}:{first}: table {header[0]!r}: the columns must be "
                             f"numbered 1, 2, ...")
    for offset, row in enumerate(rows[2:], start=2):
        where = f"{path}:{first + offset}"
        if len(row) != len(header):
            raise InputError(f"{where}: {len(row)} cells in a row of a table with "
                             f"{len(header)} columns")
        if named:
            if row[1]:
                out.append(_answer(row[0], step, row[1], where))
            continue
        label = row[0]
        if label and not label.isdigit():
            raise InputError(f"{where}: row label {label!r} must be a number (or empty)")
        for column, text in zip(columns, row[1:]):
            if text:
                name = f"{key}[{label},{column}]" if label else f"{key}[{column}]"
                out.append(_answer(name, step, text, where))
    return out


def _csv(lines: list[str], path: str) -> list[Answer]:
    """A header with ``cell`` (or ``name``) and ``value`` columns (``step`` optional; other
    columns ignored), or two columns ``name,value`` without a header."""
    rows = [(n, _rejoin(row)) for n, row in enumerate(csv.reader(lines), start=1)
            if row and any(f.strip() for f in row) and not row[0].lstrip().startswith("#")]
    if not rows:
        return []
    head = [f.strip().lower() for f in rows[0][1]]
    if "value" in head and ("cell" in head or "name" in head):
        name_at = head.index("cell") if "cell" in head else head.index("name")
        value_at, step_at = head.index("value"), head.index("step") if "step" in head else None
        body = rows[1:]
    else:
        name_at, value_at, step_at, body = 0, 1, None, rows
    out = []
    for n, row in body:
        where = f"{path}:{n}"
        if step_at is None and len(row) != 2 and body is rows:
            raise InputError(f"{where}: expected two columns, name,value (or a header row "
                             f"with cell and value columns)")
        if len(row) <= max(name_at, value_at, step_at or 0):
            raise InputError(f"{where}: {len(row)} fields; the header has {len(head)}")
        if not row[value_at].strip():
            continue
        step = None
        if step_at is not None:
            field = row[step_at].strip()
            if not field.isdigit() or int(field) < 1:
                raise InputError(f"{where}: step {field!r} is not a whole number >= 1")
            step = int(field)
        out.append(_answer(row[name_at], step, row[value_at], where))
    return out


def _rejoin(row: list[str]) -> list[str]:
    """Fields split at the comma inside a cell name's brackets, joined again: a learner
    writes ``dW1[1,2],274.5`` without quotes."""
    out: list[str] = []
    for field in row:
        if out and out[-1].count("[") > out[-1].count("]"):
            out[-1] += "," + field
        else:
            out.append(field)
    return out
