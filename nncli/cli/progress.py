"""Training progress on stderr: a live rich bar on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from . import console


def describe(record: dict) -> str:
    """'loss 0.1234  accuracy 0.9500  val_loss 0.2000 ...' for one history row."""
    parts = []
    for key, value in record.items():
        if key != "epoch":
            parts.append(f"{key} {'-' if value is None else format(value, '.4g')}")
    return "  ".join(parts)


class TrainingProgress:
    """A context manager whose :meth:`on_epoch` is the training loop's callback."""

    def __init__(self, total_epochs: int, quiet: bool = False, label: str = "train"):
        self.total = total_epochs
        self.quiet = quiet
        self.label = label
        self.live = console.err.is_terminal and not quiet
        self.every = max(1, total_epochs // 10)  # plain mode: about ten lines per run
        self._last_draw = 0.0
        self._bar = None
        self._task = None

    def __enter__(self):
        if self.live:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(), console=console.err, transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, stats="", rate="")
            self._started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False

    def on_epoch(self, record: dict) -> None:
        epoch = record["epoch"]
        if self.quiet:
            return
        if self.live:
            now = time.perf_counter()
            if now - self._last_draw > 0.1 or epoch == self.total:
                self._last_draw = now
                rate = epoch / max(now - self._started, 1e-9)
                self._bar.update(self._task, completed=epoch, stats=describe(record),
                                 rate=f"{rate:.1f} ep/s")
            return
        if epoch == 1 or epoch % self.every == 0 or epoch == self.total:
            console.info(f"epoch {epoch}/{self.total}  {describe(record)}")
