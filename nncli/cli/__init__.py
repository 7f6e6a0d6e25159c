"""nncli's command line. Each command lives in its own module and registers itself on ``app``.

Importing the command line takes a tenth of a second or more (typer, rich): Ctrl-C meanwhile
ends it as Ctrl-C does later (``error: interrupted``, exit 130), not with a traceback of the
import. A SIGINT that the shell ignores (``nohup``) stays ignored.
"""

import signal as _signal
import sys as _sys


def _interrupted_while_importing(signum, frame):
    if _sys.stderr is not None:
        _sys.stderr.write("error: interrupted\n")
    raise SystemExit(130)


def _quiet_interrupts() -> bool:
    try:
        if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
            _signal.signal(_signal.SIGINT, _interrupted_while_importing)
            return True
    except ValueError:  # not the main thread: signals are not ours to handle
        pass
    return False


_quiet = _quiet_interrupts()
try:
    from .app import app, main
    from . import train  # noqa: F401  (registers the command)
    from . import predict, evaluate  # noqa: F401
    from . import sweep, runs  # noqa: F401
    from . import gradcheck, trace  # noqa: F401
    from . import plot, show  # noqa: F401
    from . import config  # noqa: F401
    from . import check, explain, export  # noqa: F401
    from . import doctor, report  # noqa: F401
finally:
    if _quiet:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)

__all__ = ["app", "main"]
