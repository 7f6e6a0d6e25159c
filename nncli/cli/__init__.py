"""nncli's command line. Each command lives in its own module and registers itself on ``app``."""

from .app import app, main
from . import train  # noqa: F401  (registers the command)
from . import predict, evaluate  # noqa: F401
from . import sweep, runs  # noqa: F401
from . import gradcheck, trace  # noqa: F401
from . import plot, show  # noqa: F401
from . import config  # noqa: F401
from . import check, explain, export  # noqa: F401

__all__ = ["app", "main"]
