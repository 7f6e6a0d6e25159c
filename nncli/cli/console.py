"""The one owner of terminal output: data goes to stdout, everything else to stderr.

Commands never print directly; they call these. rich honours NO_COLOR and drops colour and
animation when the stream is not a terminal.

Streams that cannot take the output: data asked for on a closed stdout (``nncli runs >&-``) is
one error (exit 1); messages to a closed stderr are dropped (nothing else could show them); a
reader that stops early (``| head``) ends the output quietly. Text that the stream's encoding
cannot show (``PYTHONIOENCODING=ascii`` and a label ``Adélie``) is escaped (``Ad\\xe9lie``):
:func:`never_fail_to_encode` sets that up once, for both streams.

``err`` and ``out``, the rich consoles, are made on first use: importing rich costs about
30 ms, which a quiet run (``nncli train --quiet --json`` in a shell loop) never needs.
"""

from __future__ import annotations

import functools
import json
import os
import sys

from ..errors import OutputFailed
from ..files import os_failure


@functools.cache
def _console(stderr: bool):
    from rich.console import Console

    if stderr:
        return Console(stderr=True, soft_wrap=True, highlight=False)
    return Console(highlight=False)  # for rich renderables that are the data asked for: show()


def __getattr__(name: str):
    """``console.err`` (stderr) and ``console.out`` (stdout), made on first use."""
    if name in ("err", "out"):
        return _console(name == "err")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def number(value, digits: int = 6) -> str:
    """A number for the console: ``digits`` significant digits; ``-`` for an undefined one."""
    return "-" if value is None else f"{value:.{digits}g}"


def error(message: str) -> None:
    """One clear line; the message is printed as text, never parsed as rich markup. A line
    break inside it (from a file or key name) is shown escaped, so it stays one line."""
    _line("error: ", "bold red", message)


def warning(message: str) -> None:
    """One ``warning: ...`` line (escaped like :func:`error`)."""
    _line("warning: ", "bold yellow", message)


def _line(label: str, style: str, message: str) -> None:
    from rich.text import Text

    message = message.replace("\r", "\\r").replace("\n", "\\n")
    _console(True).print(Text(label, style=style) + Text(message))


def info(message: str) -> None:
    from rich.text import Text

    _console(True).print(Text(message))


def emit_json(obj) -> None:
    """One JSON object on one line of stdout (for scripts and jq)."""
    emit(json.dumps(obj, separators=(",", ":")) + "\n")


def emit(text: str) -> None:
    """Data on stdout, written now (flushed: a failure is reported here, not at exit)."""
    stream = stdout()
    with _writing():
        stream.write(text)
        stream.flush()


def emit_bytes(data: bytes) -> None:
    """Bytes on stdout as they are (a CSV file's UTF-8, whatever the terminal's encoding)."""
    stream = stdout()
    with _writing():
        stream.flush()
        stream.buffer.write(data)
        stream.buffer.flush()


def show(renderable) -> None:
    """A rich table or document that is the data the user asked for (gradcheck's table, a
    trace) on stdout: coloured on a terminal, plain text in a pipe or file."""
    stdout()
    out = _console(False)
    with _writing():
        out.print(renderable)
        out.file.flush()


def stdout():
    """sys.stdout; OutputFailed when it is closed (Python sets it to None then)."""
    if sys.stdout is None:
        raise OutputFailed("standard output is closed: the output asked for cannot be "
                           "written (redirect it to a file instead)")
    return sys.stdout


class _writing:
    """Around a write to stdout: a reader that stopped early (``| head``) ends the output
    quietly; any other failure is one error naming standard output."""

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb) -> bool:
        if kind is BrokenPipeError:
            # Nothing is wrong; keep Python from reporting the closed pipe again when it
            # flushes stdout at exit.
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            raise ReaderGone from None
        if kind is not None and issubclass(kind, OSError):
            raise os_failure(e, "standard output") from None
        return False


class ReaderGone(Exception):
    """The reader of stdout went away: the command stops without an error (see app.py)."""


def never_fail_to_encode() -> None:
    """Escape (never refuse) characters the terminal's encoding cannot show, on stdout and
    stderr alike. Called once, as the command line starts."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a stream that cannot change: leave it
                pass
