"""nncli's command line. Each command lives in its own module and registers itself on ``app``."""

from .app import app, main
from . import train  # noqa: F401  (registers the command)

__all__ = ["app", "main"]
