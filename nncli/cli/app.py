"""The typer application: shared options, error handling and exit codes.

Every command is registered through :func:`command`, which turns nncli's errors into one
message on stderr and the contract's exit code (2 bad input, 1 failed work), never a traceback.
"""

from __future__ import annotations

import functools
import sys
import warnings

import typer

from .. import __version__
from ..errors import InputError, NncliWarning, TrainingFailed
from . import console

app = typer.Typer(
    name="nncli",
    help="Train multilayer perceptrons from YAML config files, on a plain NumPy engine.\n\n"
         "Example: nncli train configs/blobs.yaml",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        console.emit(f"nncli {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    """Train multilayer perceptrons from YAML config files, on a plain NumPy engine."""


def command(*args, **kwargs):
    """``app.command`` whose errors become one message and the contract's exit code."""
    def register(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("always", NncliWarning)
                    warnings.showwarning = _show_warning
                    return fn(*a, **k)
            except InputError as e:
                for problem in e.problems:
                    console.error(problem)
                raise typer.Exit(e.exit_code) from None
            except TrainingFailed as e:
                console.error(str(e))
                raise typer.Exit(e.exit_code) from None
            except console.ReaderGone:  # `nncli ... | head`: the reader has what it wanted
                raise typer.Exit(0) from None
        return app.command(*args, **kwargs)(wrapper)
    return register


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """The library's warnings as one line each; other libraries' warnings stay Python's."""
    if issubclass(category, NncliWarning):
        console.warning(str(message))
    else:
        warnings._showwarning_orig(message, category, filename, lineno, file, line)


def main() -> None:
    console.never_fail_to_encode()
    try:
        app(prog_name="nncli")
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(130)
