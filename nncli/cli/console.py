"""The one owner of terminal output: data goes to stdout, everything else to stderr.

Commands never print directly; they call these. rich honours NO_COLOR and drops colour and
animation when the stream is not a terminal.

``err`` and ``out``, the rich consoles, are made on first use: importing rich costs about
30 ms, which a quiet run (``nncli train --quiet --json`` in a shell loop) never needs.
"""

from __future__ import annotations

import functools
import json
import sys


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
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def emit(text: str) -> None:
    sys.stdout.write(text)


def show(renderable) -> None:
    """A rich table or document that is the data the user asked for (gradcheck's table, a
    trace) on stdout: coloured on a terminal, plain text in a pipe or file."""
    _console(False).print(renderable)
