"""Train from a config file and publish the run directory: the library behind `nncli train`."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..config import load_config
from ..errors import InputError, NncliWarning, OutputFailed, TrainingFailed
from ..files import finite_or_none, os_errors
from ..runs.directory import (RUN_FILES, RunWriter, discard_partial, is_inside, is_partial,
                              lock_dir, unlock_dir)
from ..runs.formats import HistoryFile, Thinned, config_yaml, iter_history, model_description
from .checkpoint import (CHECKPOINT, checkpoint_bytes, experiment_fingerprint, history_columns,
                         load_checkpoint, restore)
from .experiment import Experiment, divergence_hint, prepare
from ..engine.network import evaluate
from .loop import FitResult, Hooks, fit


class TrainHooks(Hooks):
    """What a caller of :func:`train_from_config` hears (progress, checkpoints) and how it
    stops training (:meth:`stop_requested`, asked after every batch). Override what you need."""

    def started(self, experiment: Experiment, epochs_done: int) -> None:
        """Training is about to start (the data are prepared, the run directory is open);
        ``epochs_done`` epochs were run before (a resumed run), else 0."""

    def checkpoint_written(self, path: Path, epoch: int) -> None:
        """A checkpoint after ``epoch`` is in ``path``, the run's hidden directory."""


@dataclass
class TrainOutcome:
    run_dir: Path
    experiment: Experiment
    result: FitResult
    metrics: dict  # the content of metrics.json
    plot_problems: list[str] = field(default_factory=list)  # pictures that could not be drawn
    # the history as the pictures and the terminal chart draw it: every epoch of a run of up
    # to a few thousand, evenly spaced ones of a longer run (runs.formats.Thinned); the whole
    # history is the run's history.csv
    history: list[dict] = field(default_factory=list)


def train_from_config(config_path: str | Path, overrides: list[str] = (),
                      out: str | Path = "runs", hooks: TrainHooks | None = None,
                      plots: bool = False) -> TrainOutcome:
    """Validate, train, and write a new run directory under ``out``.

    Bad input raises InputError before anything is written. A diverged or interrupted run is
    still written, with its status and the last finite weights, so nothing good is lost; an
    interrupted one also gets the checkpoint that ``resume_run`` continues from.
    ``plots=True`` adds the pictures (nncli.plots) to a finished or diverged run.
    """
    config_path = Path(config_path)
    experiment = prepare(load_config(config_path, overrides), config_path)
    return _train_and_publish(experiment, Path(out), hooks or TrainHooks(), plots=plots)


# What --set may change when resuming: neither changes the weights of the epochs in common.
RESUME_OVERRIDES = ("training.epochs", "training.checkpoint_every")


def resume_run(run_dir: str | Path, overrides: list[str] = (), out: str | Path | None = None,
               hooks: TrainHooks | None = None, plots: bool = False) -> TrainOutcome:
    """Continue an interrupted run (or the hidden ``.partial`` directory of a checkpointed run
    that was killed) to its configured epochs; the final weights are those of a run that never
    stopped, bit for bit.

    ``overrides`` may set training.epochs (to stop earlier or train further) and
    training.checkpoint_every; nothing else, since the run must go on as it started.
    The result is published as a new run directory under ``out`` (default: beside ``run_dir``)
    with the whole history. A published ``run_dir`` is left exactly as it was (nncli never
    changes a run directory once it is published); of a ``.partial`` one, which only ever held
    this run in progress, the files nncli wrote are removed once the run it held is published
    (anything else in it stays). ``out`` may not lie inside ``run_dir``.
    """
    for assignment in overrides:
        key = assignment.partition("=")[0].strip()
        if key not in RESUME_OVERRIDES:
            raise InputError(f"--set {key}: a resumed run keeps its config; with --resume only "
                             f"{' and '.join(RESUME_OVERRIDES)} may be set")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: " + ("not a directory" if run_dir.exists()
                                           else "no such run directory"))
    out = Path(out) if out is not None else run_dir.parent
    if is_inside(out, run_dir):
        raise InputError(f"--out {out}: inside the run being resumed ({run_dir}); the new run "
                         f"goes beside it or elsewhere")
    checkpoint = load_checkpoint(run_dir)
    partial = is_partial(run_dir)
    lock = lock_dir(run_dir) if partial else None  # refused while its training still runs
    try:
        config_path = run_dir / "config.yaml"
        experiment = prepare(load_config(config_path, overrides), config_path)
        start = restore(checkpoint, experiment)
        outcome = _train_and_publish(experiment, out, hooks or TrainHooks(), start=start,
                                     resumed_from=run_dir, plots=plots)
        if partial and not discard_partial(run_dir, RUN_FILES + (CHECKPOINT,)):
            warnings.warn(NncliWarning(f"{run_dir} was kept: it holds files nncli did not write "
                                       f"there; the resumed run is {outcome.run_dir}"))
    finally:
        unlock_dir(lock)
    return outcome


class _Recording(Hooks):
    """The caller's hooks, plus what the trainer records as training goes: each epoch's row
    appended to history.csv (and to the thinned copy the pictures draw), and a checkpoint
    every ``training.checkpoint_every`` epochs."""

    def __init__(self, hooks: TrainHooks, experiment: Experiment, writer: RunWriter):
        self.hooks, self.experiment, self.writer = hooks, experiment, writer
        self.fingerprint = functools.cache(lambda: experiment_fingerprint(experiment))
        self.saved_epoch = 0  # the epoch of the checkpoint on disk (0: none yet)
        self.history: HistoryFile | None = None
        self.history_path = writer.tmp / "history.csv"
        self.thinned = Thinned()

    def open_history(self, earlier) -> None:
        """history.csv in the run's hidden directory, starting with the rows of the epochs a
        resumed run already has (``earlier``, an iterable of rows)."""
        columns = history_columns(self.experiment)
        with os_errors(self.history_path):
            self.history = HistoryFile(self.history_path, columns)
            for record in earlier:
                if list(record) != columns:
                    raise InputError(f"history rows must be {', '.join(columns)}, got "
                                     f"{', '.join(record)}")
                self.record(record)

    def record(self, record: dict) -> None:
        self.history.append(record)
        self.thinned.add(record)

    def sync(self) -> None:
        with os_errors(self.history_path):
            self.history.sync()

    def save(self, result: FitResult) -> None:
        self.sync()  # the checkpoint's epochs are all in history.csv first
        data = checkpoint_bytes(self.experiment.network.parameters(), result, self.fingerprint())
        self.writer.write_bytes(CHECKPOINT, data)
        self.saved_epoch = result.epochs_run

    def epoch_end(self, record: dict, result: FitResult) -> None:
        with os_errors(self.history_path):
            self.record(record)
        self.hooks.epoch_end(record, result)
        t = self.experiment.config.training
        done = result.epochs_run
        if t.checkpoint_every and done % t.checkpoint_every == 0 and done < t.epochs:
            self.save(result)
            self.hooks.checkpoint_written(self.writer.tmp, done)

    def stop_requested(self) -> bool:
        return self.hooks.stop_requested()


def _train_and_publish(experiment: Experiment, out: Path, hooks: TrainHooks,
                       start: FitResult | None = None, resumed_from: Path | None = None,
                       plots: bool = False) -> TrainOutcome:
    writer = RunWriter(out, experiment.config.name)
    recording = _Recording(hooks, experiment, writer)
    try:
        # With these two and history.csv, the temporary directory is resumable from its first
        # checkpoint on.
        description = model_description(experiment)
        writer.write_text("config.yaml", config_yaml(experiment.config))
        writer.write_json("model.json", description)
        recording.open_history(_earlier_rows(start, resumed_from))
        hooks.started(experiment, start.epochs_run if start else 0)
        result = run_fit(experiment, recording, start, keep_history=False)  # rows: history.csv
        metrics = final_metrics(experiment, result)
        if resumed_from is not None:
            metrics["resumed_from"] = str(resumed_from)
        write_run(writer, experiment, metrics)
        if result.status == "interrupted":
            recording.save(result)
        else:  # a finished run needs no checkpoint; a diverged one would only diverge again
            recording.sync()
            writer.remove(CHECKPOINT)
            recording.saved_epoch = 0
        writer.assembled = True  # from here on, whatever fails, the run is kept
        plot_problems = []
        # Pictures go in before publishing, so a run never appears without them; an interrupted
        # run gets none (a second Ctrl-C while drawing would cost the run).
        history = recording.thinned.history() if recording.thinned.last else []
        if plots and result.status != "interrupted":
            plot_problems = _draw(writer.tmp, experiment, history, description, metrics,
                                  hooks.stop_requested)
        run_dir = writer.commit()
    except BaseException as e:
        # Kept under its hidden name: an assembled run, and the last checkpoint when the
        # machine failed (a full disk must not cost the epochs already saved).
        checkpoint = recording.saved_epoch if isinstance(e, OutputFailed) else 0
        kept = writer.abort(keep=bool(checkpoint))
        if kept is not None and isinstance(e, (InputError, TrainingFailed)):
            if writer.assembled:
                raise type(e)(f"{e}; the whole run is kept in {kept}") from None
            raise type(e)(f"{e}; the checkpoint after epoch {checkpoint} is kept in {kept}: "
                          f"continue with nncli train --resume {kept}") from None
        raise
    finally:
        if recording.history is not None:
            recording.history.close()
    return TrainOutcome(run_dir, experiment, result, metrics, plot_problems, history)


def _earlier_rows(start: FitResult | None, resumed_from: Path | None):
    """The history rows a resumed run starts with: a checkpoint of format 3 covers the first
    ``epochs_done`` rows of its run's history.csv (rows written after it, or a line cut short
    by a crash, are left out); older formats held them themselves."""
    if start is None:
        return []
    if start.history is not None:
        return start.history
    return _checked_rows(resumed_from / "history.csv", start)


def _checked_rows(path: Path, start: FitResult):
    """The first ``start.epochs_run`` rows of ``path``; the last must be the checkpoint's."""
    last = None
    for last in iter_history(path, rows=start.epochs_run):
        yield last
    if last != start.last_record:
        raise InputError(f"{path}: the row of epoch {start.epochs_run} is not the one the "
                         f"checkpoint recorded (was the file changed?)")


def _draw(path: Path, experiment: Experiment, history: list[dict], description: dict,
          metrics: dict, stop) -> list[str]:
    """The run's pictures, drawn from what is in memory (nothing is read back from ``path``);
    returns the problems (a picture that cannot be drawn never costs the run). ``stop()``
    (a signal) ends the drawing."""
    from .. import plots
    from ..runs.load import trained_model
    from ..runs.model_file import ModelFile

    model = trained_model(path, ModelFile.model_validate(description), description,
                          experiment.network, metrics["status"])
    run = plots.Run(path, experiment.config.name, plots.history_arrays(history), model)
    return plots.write_run_plots(run, plots.points_of(experiment), stop)


def run_fit(experiment: Experiment, hooks: Hooks | None = None,
            resume: FitResult | None = None, keep_history: bool = True) -> FitResult:
    """``fit`` on the experiment's training split, validated on its validation split."""
    validation = (experiment.X_val, experiment.Y_val) if experiment.has_validation else None
    result = fit(experiment.network, experiment.loss, experiment.X_train, experiment.Y_train,
                 experiment.config.training, rng=experiment.shuffle_rng,
                 metric=experiment.metric, validation=validation, hooks=hooks, resume=resume,
                 weights=experiment.w_train, val_weights=experiment.w_val,
                 dropout_rng=experiment.dropout_rng, keep_history=keep_history)
    if result.status == "diverged":
        result.reason += divergence_hint(experiment)
    return result


def final_metrics(experiment: Experiment, result: FitResult) -> dict:
    """metrics.json: train/validation metrics of the final weights, and how training ended."""
    name, fn = experiment.metric.name, experiment.metric.fn
    net, loss = experiment.network, experiment.loss

    def split(X, Y, w, part):
        if len(X) == 0:
            return None
        value, metric, outputs = evaluate(net, loss, X, Y, fn, weights=w)
        # loss in training units; regression adds R², RMSE and MAE in the target's units
        in_units = {k: finite_or_none(v)
                    for k, v in experiment.in_data_units(outputs, part).items()}
        return {"loss": finite_or_none(value), name: finite_or_none(metric), **in_units}

    epochs = experiment.config.training.epochs
    reason = result.reason or f"reached training.epochs ({epochs})"
    metrics = {
        "status": result.status,
        "reason": reason,
        "epochs": epochs,
        "epochs_run": result.epochs_run,
        "wall_time": round(result.wall_time, 6),
        "train": split(experiment.X_train, experiment.Y_train, experiment.w_train, "train"),
        "validation": split(experiment.X_val, experiment.Y_val, experiment.w_val,
                            "validation"),
    }
    if result.best_epoch is not None:  # early stopping: which weights the run kept
        stopping = experiment.config.training.early_stopping
        metrics["best_epoch"] = result.best_epoch or None
        if result.weights_epoch == result.best_epoch:
            why = "the best epoch"
        elif not stopping.restore_best:
            why = "the last epoch (restore_best is false)"
        else:
            why = f"the last epoch (no epoch improved {stopping.monitor})"
        metrics["weights"] = {
            "epoch": result.weights_epoch,
            "why": why,
            "monitor": stopping.monitor,
            "best": finite_or_none(result.best_value) if result.best_epoch else None,
        }
    return metrics


def write_run(writer: RunWriter, experiment: Experiment, metrics: dict) -> None:
    """The files training ends with (config.yaml and model.json were written at the start,
    history.csv as it went)."""
    writer.write_weights(experiment.network.parameters())
    writer.write_json("metrics.json", metrics)
