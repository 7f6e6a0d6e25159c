"""Progress on stderr, for training and for sweeps: live (a bar, a table) when stderr is a
terminal, plain lines when it is not (a pipe, a log file, CI, a cluster job), nothing with
``--quiet``. Colour follows rich, which honours ``NO_COLOR``; rich's live displays are
imported only when shown (a quiet or piped run never needs them)."""

from __future__ import annotations

import time

from ..training.train import TrainHooks
from . import console


def describe(record: dict) -> str:
    """'loss 0.1234  accuracy 0.9500  val_loss 0.2000 ...' for one history row."""
    parts = []
    for key, value in record.items():
        if key != "epoch":
            parts.append(f"{key} {console.number(value, 4)}")
    return "  ".join(parts)


class TrainingProgress:
    """Training's progress, as a context manager: :meth:`start` once the run's epochs are known,
    then :meth:`on_epoch` for every finished epoch; leaving the context closes the live bar."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.live = not quiet and console.err.is_terminal
        self.total = 0
        self.every = 1
        self._last_draw = 0.0
        self._bar = None
        self._task = None
        self._first = 1  # the first epoch this process runs (a resumed run starts later)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
        return False

    def start(self, total_epochs: int, label: str, done: int = 0) -> None:
        """The run has ``total_epochs``; ``done`` of them were run before (a resumed run)."""
        self.total = total_epochs
        self.every = max(1, total_epochs // 10)  # plain mode: about ten lines per run
        self._first = done + 1
        if self.live:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)

            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(), console=console.err, transient=False)
            self._bar.start()
            self._task = self._bar.add_task(label, total=total_epochs, completed=done,
                                            stats="", rate="")
            self._started = time.perf_counter()

    def on_epoch(self, record: dict) -> None:
        epoch = record["epoch"]
        if self.quiet:
            return
        if self.live:
            now = time.perf_counter()
            if now - self._last_draw > 0.1 or epoch == self.total:
                self._last_draw = now
                # the epochs run by this process only: a resumed run did the others before
                rate = (epoch - self._first + 1) / max(now - self._started, 1e-9)
                self._bar.update(self._task, completed=epoch, stats=describe(record),
                                 rate=f"{rate:.1f} ep/s")
            return
        if epoch == 1 or epoch % self.every == 0 or epoch == self.total:
            console.info(f"epoch {epoch}/{self.total}  {describe(record)}")


class ProgressHooks(TrainHooks):
    """Progress on stderr and where the first checkpoint is: the hooks of
    ``nncli.train(progress=True)``, where Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self, progress: TrainingProgress, quiet: bool = False):
        self.progress, self.quiet = progress, quiet
        self.checkpoint_shown = False

    def started(self, experiment, epochs_done: int) -> None:
        cfg = experiment.config
        self.progress.start(cfg.training.epochs, cfg.name, epochs_done)

    def epoch_end(self, record: dict, result) -> None:
        self.progress.on_epoch(record)

    def checkpoint_written(self, path, epoch: int) -> None:
        if not (self.quiet or self.checkpoint_shown):
            console.info(f"checkpoint after epoch {epoch} in {path}; should this process die, "
                         f"continue with: nncli train --resume {path}")
        self.checkpoint_shown = True


class CliHooks(ProgressHooks):
    """`nncli train`'s hooks: progress, and Ctrl-C or SIGTERM (``stop``, a
    :class:`nncli.cli.signals.StopOnSignal`) as a request to stop."""

    def __init__(self, progress: TrainingProgress, stop, quiet: bool):
        super().__init__(progress, quiet)
        self.stop = stop

    def started(self, experiment, epochs_done: int) -> None:
        super().started(experiment, epochs_done)
        self.stop.training = True  # from now on a signal stops after the batch

    def stop_requested(self) -> bool:
        return self.stop()


class SweepProgress:
    """A sweep's progress on stderr: a live table of running and finished runs on a terminal,
    one plain line per finished run elsewhere. Used as the sweep's ``progress`` callback."""

    RECENT = 8  # finished runs kept in the live table

    def __init__(self, total: int, where: str, quiet: bool = False):
        self.total = total
        self.where = where
        self.done = 0
        self.quiet = quiet
        self.live = not quiet and console.err.is_terminal
        self.running: dict[str, float] = {}  # point name -> start time
        self.recent: list[tuple[str, str, str]] = []  # (name, status, detail), newest first
        self.failed = 0
        self._live = None

    def __enter__(self):
        if self.live:
            from rich.live import Live

            self._live = Live(get_renderable=self._table, console=console.err,
                              refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        if self._live is not None:
            self._live.__exit__(*exc)
        return False

    def begin(self, done_before: int) -> None:
        self.done = done_before
        if not self.quiet:
            console.info(f"sweep {self.where}: {self.total} runs, {done_before} done before")

    def started(self, point) -> None:
        self.running[point.name] = time.perf_counter()

    def finished(self, point, outcome) -> None:
        self.running.pop(point.name, None)
        self.done += 1
        if outcome.status != "finished":
            self.failed += 1
        detail = outcome.error or ""
        if outcome.metrics:
            detail = f"{sweep_metrics(outcome.metrics)}  ({outcome.metrics['wall_time']:.2f} s)"
        self.recent.insert(0, (point.name, outcome.status, detail))
        del self.recent[self.RECENT:]
        if not self.quiet and not self.live:
            console.info(f"[{self.done}/{self.total}] {point.name}: {outcome.status}  {detail}")

    def _table(self):
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"{self.done}/{self.total} done, {len(self.running)} running, "
                            f"{self.failed} failed or diverged", title_justify="left")
        table.add_column("run")
        table.add_column("status")
        table.add_column("")
        now = time.perf_counter()
        for name, started in self.running.items():
            table.add_row(name, "running", f"{now - started:.0f} s")
        styles = {"finished": "green", "diverged": "yellow", "failed": "red"}
        for name, status, detail in self.recent:
            table.add_row(name, Text(status, style=styles.get(status, "")), detail)
        return table


def sweep_metrics(metrics: dict) -> str:
    """'val_loss 0.2  val_accuracy 0.95' (or the training ones without validation)."""
    part = metrics.get("validation") or metrics.get("train") or {}
    prefix = "val_" if metrics.get("validation") else ""
    return "  ".join(f"{prefix}{k} {console.number(v, 4)}"
                     for k, v in part.items())
