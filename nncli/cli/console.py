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


def error(message: str) -> None:
    """One clear line; the message is printed as text, never parsed as rich markup."""
    err.print(Text("error: ", style="bold red") + Text(message))


def info(message: str) -> None:
    err.print(Text(message))


def emit_json(obj) -> None:
    """One JSON object on one line of stdout (for scripts and jq)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def emit(text: str) -> None:
    sys.stdout.write(text)
