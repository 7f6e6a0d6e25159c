"""Ctrl-C and SIGTERM during training: finish the batch, keep the run, exit 130.

While :class:`StopOnSignal` is active, the first SIGINT or SIGTERM after training has started
only sets a flag, which the training loop reads after every batch (it is the loop's
``stop_requested``); the run is then written with status ``interrupted`` and a checkpoint.
A signal before training starts, or a second one, raises KeyboardInterrupt as usual: nothing
is written and the command exits 130.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    def __init__(self):
        self.signal_name: str | None = None  # the signal that asked to stop
        self.training = False
        self._previous: dict = {}

    def __call__(self) -> bool:
        return self.signal_name is not None

    def _handle(self, signum, frame) -> None:
        if self.training and self.signal_name is None:
            self.signal_name = signal.Signals(signum).name
            return
        raise KeyboardInterrupt

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():  # signals reach it only
            for sig in SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # as for `nohup` or `cmd &`
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> bool:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
