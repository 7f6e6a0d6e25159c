"""Between epochs: the learning rate of each epoch (``training.schedule``) and whether to stop
early (``training.early_stopping``).

    constant      lr_e = lr
    step          lr_e = lr * factor^floor((e-1)/every)
    exponential   lr_e = lr * factor^(e-1)
    plateau       Keras' ReduceLROnPlateau: after ``patience`` epochs in a row in which the
                  monitored value did not improve by more than ``min_delta``, the rate is
                  multiplied by ``factor`` (never below ``min_lr``), then ``cooldown`` epochs
                  pass before epochs without improvement are counted again.
    early stopping  Keras' EarlyStopping: stop after ``patience`` epochs in a row without an
                  improvement by more than ``min_delta``; ``restore_best`` puts back the weights
                  of the best epoch (when training stops early, and when it reaches its last
                  epoch after a better one).

"Improves" means lower for losses and higher for metrics (``metrics.higher_is_better``); an
undefined value (an R² of one sample) never improves. Everything here changes only at the end of
an epoch, so its state at an epoch boundary (:meth:`EpochControl.state`) is all a resume needs,
with the best weights.
"""

from __future__ import annotations

import math

import numpy as np

from ..metrics import higher_is_better


def default_monitor(has_validation: bool) -> str:
    return "val_loss" if has_validation else "loss"


def monitor_columns(metric_name: str, has_validation: bool) -> list[str]:
    """The history columns a schedule or early stopping may watch."""
    columns = ["loss", metric_name]
    return columns + (["val_loss", f"val_{metric_name}"] if has_validation else [])


class Best:
    """The best value of one history column so far, Keras' way: ``value`` improves on it when
    it is below best - min_delta (or above best + min_delta for a metric)."""

    def __init__(self, monitor: str, min_delta: float):
        self.monitor, self.min_delta = monitor, min_delta
        self.higher = higher_is_better(monitor)
        self.value: float | None = None  # None: nothing seen yet

    def improves(self, value: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.value is None:
            return True
        if self.higher:
            return value > self.value + self.min_delta
        return value < self.value - self.min_delta


class Schedule:
    """constant: lr_e = lr"""

    def __init__(self, config, learning_rate: float):
        self.config, self.learning_rate = config, learning_rate

    def rate(self, epoch: int) -> float:
        return self.learning_rate

    def epoch_end(self, record: dict) -> None:
        """Plateau watches the history; the others depend on the epoch number alone."""

    def state(self) -> dict | None:
        return None  # the rate depends on the epoch number alone

    def load(self, state: dict | None) -> None:
        pass


class StepSchedule(Schedule):
    """lr_e = lr * factor^floor((e-1)/every)"""

    def rate(self, epoch):
        return self.learning_rate * self.config.factor ** ((epoch - 1) // self.config.every)


class ExponentialSchedule(Schedule):
    """lr_e = lr * factor^(e-1)"""

    def rate(self, epoch):
        return self.learning_rate * self.config.factor ** (epoch - 1)


class PlateauSchedule(Schedule):
    """Keras' ReduceLROnPlateau (mode min for losses, max for metrics)."""

    def __init__(self, config, learning_rate):
        super().__init__(config, learning_rate)
        self.current = learning_rate
        self.best = Best(config.monitor, config.min_delta)
        self.wait = 0
        self.cooldown = 0  # epochs of cooldown left

    def rate(self, epoch):
        return self.current

    def epoch_end(self, record):
        c = self.config
        if self.cooldown > 0:
            self.cooldown -= 1
            self.wait = 0
        value = record[c.monitor]
        if self.best.improves(value):
            self.best.value, self.wait = value, 0
        elif self.cooldown == 0:
            self.wait += 1
            if self.wait >= c.patience and self.current > c.min_lr:
                self.current = max(self.current * c.factor, c.min_lr)
                self.cooldown, self.wait = c.cooldown, 0

    def state(self):
        return {"rate": self.current, "best": self.best.value, "wait": self.wait,
                "cooldown": self.cooldown}

    def load(self, state):
        self.current, self.best.value = state["rate"], state["best"]
        self.wait, self.cooldown = state["wait"], state["cooldown"]


SCHEDULES = {"constant": Schedule, "step": StepSchedule, "exponential": ExponentialSchedule,
             "plateau": PlateauSchedule}


class EarlyStopping:
    """Keras' EarlyStopping, with the best weights kept in a buffer allocated once."""

    def __init__(self, config, theta: np.ndarray):
        self.config = config
        self.best = Best(config.monitor, config.min_delta)
        self.best_epoch = 0
        self.wait = 0
        self.best_theta = theta.copy() if config.restore_best else None

    def epoch_end(self, record: dict, theta: np.ndarray) -> str | None:
        """A reason to stop after this epoch, or None."""
        c = self.config
        value = record[c.monitor]
        self.wait += 1
        if self.best.improves(value):
            self.best.value, self.best_epoch, self.wait = value, record["epoch"], 0
            if self.best_theta is not None:
                np.copyto(self.best_theta, theta)
            return None
        if self.wait >= c.patience:
            return f"{c.monitor} did not improve for {_epochs(c.patience)}"
        return None

    def state(self) -> dict:
        return {"best": self.best.value, "best_epoch": self.best_epoch, "wait": self.wait}

    def load(self, state: dict, best_theta: np.ndarray | None) -> None:
        self.best.value, self.best_epoch = state["best"], state["best_epoch"]
        self.wait = state["wait"]
        if self.best_theta is not None and best_theta is not None:
            np.copyto(self.best_theta, best_theta)


class EpochControl:
    """The schedule and early stopping of one training run."""

    def __init__(self, training, has_validation: bool, theta: np.ndarray):
        monitor = default_monitor(has_validation)
        schedule = training.schedule
        if getattr(schedule, "monitor", "") is None:
            schedule = schedule.model_copy(update={"monitor": monitor})
        self.schedule = SCHEDULES[schedule.kind](schedule, training.learning_rate)
        stopping = training.early_stopping
        if stopping is not None and stopping.monitor is None:
            stopping = stopping.model_copy(update={"monitor": monitor})
        self.stopping = None if stopping is None else EarlyStopping(stopping, theta)

    def rate(self, epoch: int) -> float:
        return self.schedule.rate(epoch)

    @property
    def plateau(self) -> bool:
        return isinstance(self.schedule, PlateauSchedule)

    def epoch_end(self, record: dict, theta: np.ndarray) -> str | None:
        """Update the schedule and early stopping with the epoch's history row; a reason to
        stop training, or None."""
        self.schedule.epoch_end(record)
        return None if self.stopping is None else self.stopping.epoch_end(record, theta)

    @property
    def best_epoch(self) -> int | None:
        return None if self.stopping is None else self.stopping.best_epoch

    @property
    def best_theta(self) -> np.ndarray | None:
        return None if self.stopping is None else self.stopping.best_theta

    def finish(self, theta: np.ndarray, last_epoch: int) -> int:
        """At the end of training: with ``restore_best``, the best epoch's weights go back into
        ``theta``. Returns the epoch whose weights ``theta`` holds."""
        s = self.stopping
        if s is None or s.best_theta is None or s.best_epoch in (0, last_epoch):
            return last_epoch
        np.copyto(theta, s.best_theta)
        return s.best_epoch

    def state(self) -> dict:
        return {"schedule": self.schedule.state(),
                "early_stopping": None if self.stopping is None else self.stopping.state()}

    def load(self, state: dict, best_theta: np.ndarray | None) -> None:
        self.schedule.load(state["schedule"])
        if self.stopping is not None:
            self.stopping.load(state["early_stopping"], best_theta)


def _epochs(k: int) -> str:
    return f"{k} epoch" + ("" if k == 1 else "s")
