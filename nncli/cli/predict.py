"""`nncli predict RUN_DIR --input FILE`: apply a trained run to new rows of CSV.

Nothing is ever half-written: predictions go to a temporary file first, which then either
replaces ``--output`` (renamed into place, so the file is whole or untouched) or is copied to
stdout. Standard input is spooled to a temporary file too, so that both ends stream from disk
and memory stays bounded for inputs of any size.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from ..files import os_errors, os_reason
from . import console
from .app import command
from .options import Json, RunDir

COPY_BYTES = 1 << 20


@command(epilog="Examples: nncli predict runs/penguins-20260101-120000 --input new.csv --proba\n\n"
                "cat new.csv | nncli predict runs/x - > predictions.csv")
def predict(
    run_dir: RunDir,
    input_arg: Optional[str] = typer.Argument(
        None, metavar="INPUT", help="The CSV file to predict (- for stdin); same as --input."),
    input_: Optional[str] = typer.Option(
        None, "--input", "-i", help="The CSV file to predict (- for stdin). It needs a header "
        "row; feature columns are matched by name and other columns ignored."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the predictions to this file (replaced if it "
        "exists) instead of stdout."),
    proba: bool = typer.Option(False, "--proba",
                               help="Add a probability column p_<label> for each class."),
    delimiter: str = typer.Option(",", "--delimiter", help="The input's field delimiter."),
    json_: Json = False,
):
    """Predict with a trained run: CSV rows in, one prediction per row out (CSV).

    With --json, stdout holds a one-line summary (run_dir, input, output, rows, columns)
    instead of the predictions, so it needs --output FILE for them.
    """
    from ..runs.load import load_run  # numpy and pyarrow: not needed by `nncli --help`
    from ..runs.predict import predict_csv

    source = _one_input(input_arg, input_)
    if json_ and output is None:
        raise InputError("--json prints its summary on stdout, so the predictions need "
                         "--output FILE")
    model = load_run(run_dir)
    if model.status not in (None, "finished"):
        console.warning(f"{run_dir} did not finish training (status {model.status}); "
                        "predicting with its last saved weights")
    if output is not None:
        _check_output(output)
    with _input_path(source) as (path, name), _spool() as spool:
        with os_errors(tempfile.gettempdir(), "write the predictions' temporary file"):
            rows = predict_csv(model, path, spool, proba=proba, delimiter=delimiter,
                               source_name=name)
            spool.flush()
        if output is None:
            _copy_to_stdout(spool)
        else:
            _publish(spool, output)
            console.info(f"wrote {rows} predictions to {output}")
    if json_:
        from ..runs.predict import output_columns
        console.emit_json({"run_dir": str(run_dir), "input": name, "output": str(output),
                           "rows": rows, "columns": output_columns(model, proba)})


def _one_input(positional: str | None, option: str | None) -> str:
    if positional is not None and option is not None and positional != option:
        raise InputError(f"two inputs given ({positional} and --input {option}); give one")
    source = option if option is not None else positional
    if source is None:
        raise InputError("no input: give --input FILE (or - to read stdin)")
    return source


def _check_output(output: Path) -> None:
    if output.is_dir():
        raise InputError(f"--output {output}: is a directory")
    if not output.parent.is_dir():
        raise InputError(f"--output {output}: directory {output.parent} does not exist")


@contextmanager
def _input_path(source: str):
    """(path to read, name for messages); stdin is first copied to a temporary file."""
    if source != "-":
        yield source, source
        return
    if sys.stdin is None:  # `<&-`: Python sets it to None
        raise InputError("standard input is closed: nothing to predict (give --input FILE)")
    with _spooling_stdin() as tmp:
        yield tmp.name, "<stdin>"


@contextmanager
def _spooling_stdin():
    """A temporary file holding all of stdin."""
    where, doing = tempfile.gettempdir(), "write the temporary copy of standard input"
    with os_errors(where, doing):
        tmp = tempfile.NamedTemporaryFile(prefix="nncli-stdin-", suffix=".csv")
    with tmp:
        with os_errors(where, doing):
            for chunk in _chunks(sys.stdin.buffer):
                tmp.write(chunk)
            tmp.flush()
        yield tmp


def _chunks(stream):
    """The bytes of ``stream`` in blocks; a failure to read it is an input error."""
    while True:
        try:
            chunk = stream.read(COPY_BYTES)
        except OSError as e:
            raise InputError(f"standard input: cannot read: {os_reason(e)}") from None
        if not chunk:
            return
        yield chunk


@contextmanager
def _spool():
    with os_errors(tempfile.gettempdir(), "write the predictions' temporary file"):
        f = tempfile.TemporaryFile(prefix="nncli-predictions-")
    with f:
        yield f


def _copy_to_stdout(spool) -> None:
    """The spool's bytes (UTF-8 CSV, as --output would hold them) on stdout."""
    spool.seek(0)
    while chunk := spool.read(COPY_BYTES):
        console.emit_bytes(chunk)


def _publish(spool, output: Path) -> None:
    """Copy the spool to ``output`` atomically: the file is whole or untouched."""
    from ..files import write_atomic

    spool.seek(0)
    with os_errors(f"--output {output}"):
        write_atomic(output, lambda f: shutil.copyfileobj(spool, f, COPY_BYTES))
