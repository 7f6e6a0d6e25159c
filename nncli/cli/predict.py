"""`nncli predict RUN_DIR --input FILE`: apply a trained run to new rows of CSV.

Nothing is ever half-written: predictions go to a temporary file first, which then either
replaces ``--output`` (renamed into place, so the file is whole or untouched) or is copied to
stdout. Standard input is spooled to a temporary file too, so that both ends stream from disk
and memory stays bounded for inputs of any size.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
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
    with tempfile.NamedTemporaryFile(prefix="nncli-stdin-", suffix=".csv") as tmp:
        shutil.copyfileobj(sys.stdin.buffer, tmp, COPY_BYTES)
        tmp.flush()
        yield tmp.name, "<stdin>"


@contextmanager
def _spool():
    with tempfile.TemporaryFile(prefix="nncli-predictions-") as f:
        yield f


def _copy_to_stdout(spool) -> None:
    spool.seek(0)
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    try:
        while chunk := text.read(COPY_BYTES):
            console.emit(chunk)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`| head`): nothing is wrong; keep Python from
        # reporting the closed pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        text.detach()


def _publish(spool, output: Path) -> None:
    """Copy the spool to ``output`` atomically: the file is whole or untouched."""
    from ..files import write_atomic

    spool.seek(0)
    try:
        write_atomic(output, lambda f: shutil.copyfileobj(spool, f, COPY_BYTES))
    except OSError as e:
        raise InputError(f"--output {output}: cannot write: {e.strerror}") from None
