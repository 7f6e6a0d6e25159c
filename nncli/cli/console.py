"""The one owner of terminal output: data goes to stdout, everything else to stderr.

Commands never print directly; they call these. rich honours NO_COLOR and drops colour and
animation when the stream is not a terminal.
"""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.text import Text

err = Console(stderr=True, soft_wrap=True, highlight=False)
out = Console(highlight=False)  # for rich renderables that are the data asked for: see show()


def number(value, digits: int = 6) -> str:
    """A number for the console: ``digits`` significant digits; ``-`` for an undefined one."""
    return "-" if value is None else f"{value:.{digits}g}"


def error(message: str) -> None:
    """One clear line; the message is printed as text, never parsed as rich markup. A line
    break inside it (from a file or key name) is shown escaped, so it stays one line."""
    message = message.replace("\r", "\\r").replace("\n", "\\n")
    err.print(Text("error: ", style="bold red") + Text(message))


def warning(message: str) -> None:
    """One ``warning: ...`` line (escaped like :func:`error`)."""
    message = message.replace("\r", "\\r").replace("\n", "\\n")
    err.print(Text("warning: ", style="bold yellow") + Text(message))


def info(message: str) -> None:
    err.print(Text(message))


def emit_json(obj) -> None:
    """One JSON object on one line of stdout (for scripts and jq)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def emit(text: str) -> None:
    sys.stdout.write(text)


def show(renderable) -> None:
    """A rich table or document that is the data the user asked for (gradcheck's table, a
    trace) on stdout: coloured on a terminal, plain text in a pipe or file."""
    out.print(renderable)
