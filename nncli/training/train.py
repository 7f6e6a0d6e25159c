"""Train from a config file and publish the run directory: the library behind `nncli train`
and ``nncli.train``.

:func:`train_experiment` trains a prepared experiment either in memory (nothing is written) or
straight into a new run directory (history streamed to history.csv, checkpoints, pictures);
:func:`publish` writes a run trained in memory (a :class:`RunRecord`) as the same directory,
through the same :class:`~nncli.runs.directory.RunWriter` transaction and file writers.
"""

from __future__ import annotations

import functools
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Union

import numpy as np

from ..config import Config, load_config
from ..errors import InputError, NncliWarning, OutputFailed, TrainingFailed
from ..files import finite_or_none, os_errors
from ..runs.directory import (RUN_DATA, RUN_FILES, RunWriter, discard_partial, is_inside,
                              is_partial, lock_dir, unlock_dir)
from ..runs.formats import (LAYER_COLUMNS, LAYER_DIGITS, HistoryFile, Thinned, config_yaml,
                            iter_history, iter_layers, model_description, number_line)
from ..runs.snapshots import MAX_PARAMETERS, SNAPSHOTS, Snapshots
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
    run_dir: Path | None  # None: trained in memory
    experiment: Experiment
    result: FitResult
    metrics: dict  # the content of metrics.json
    plot_problems: list[str] = field(default_factory=list)  # pictures that could not be drawn
    # the history as the pictures and the terminal chart draw it: every epoch of a run of up
    # to a few thousand, evenly spaced ones of a longer run (runs.formats.Thinned); the whole
    # history is the run's history.csv
    history: list[dict] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)  # layers.csv, thinned the same way


# What writes report.html into a run being assembled (nncli.insight.report.draft_report: the
# command line passes it in, since the report sits above the trainer); it gets the run as a
# TrainOutcome whose run_dir is the hidden directory, and returns its problems.
Reporter = Callable[[TrainOutcome], list[str]]


def train_from_config(config_path: str | Path, overrides: list[str] = (),
                      out: str | Path = "runs", hooks: TrainHooks | None = None,
                      plots: bool = False, report: Reporter | None = None) -> TrainOutcome:
    """Validate, train, and write a new run directory under ``out``.

    Bad input raises InputError before anything is written. A diverged or interrupted run is
    still written, with its status and the last finite weights, so nothing good is lost; an
    interrupted one also gets the checkpoint that ``resume_run`` continues from.
    ``plots=True`` adds the pictures (nncli.plots) to a finished or diverged run, and
    ``report`` (with them) its report.html.
    """
    config_path = Path(config_path)
    experiment = prepare(load_config(config_path, overrides), config_path)
    return train_experiment(experiment, out, hooks, plots=plots, report=report)


# data.csv's content: bytes, or a function that writes them to a binary file
DataFile = Union[bytes, Callable[[BinaryIO], None]]


def train_experiment(experiment: Experiment, out: str | Path | None = None,
                     hooks: TrainHooks | None = None, plots: bool = False,
                     data_file: DataFile | None = None,
                     report: Reporter | None = None) -> TrainOutcome:
    """Train a prepared experiment. With ``out``, as a new run directory under it (the run
    ``nncli train`` makes; ``plots``: with its pictures; ``data_file``: the run's data.csv, for
    a run made from arrays). Without, in memory: nothing is written, and the result keeps the
    whole history (``publish`` writes the run later)."""
    hooks = hooks or TrainHooks()
    if out is not None:
        return _train_and_publish(experiment, Path(out), hooks, plots=plots,
                                  data_file=data_file, report=report)
    hooks.started(experiment, 0)
    result = run_fit(experiment, hooks)
    metrics = final_metrics(experiment, result)
    return TrainOutcome(None, experiment, result, metrics, history=result.history)


def copy_of(path: Path) -> DataFile:
    """data.csv's content as a copy of the file ``path``, streamed when it is written."""
    def copy(out: BinaryIO) -> None:
        with open(path, "rb") as f:
            shutil.copyfileobj(f, out)
    return copy


def carry_data(experiment: Experiment) -> None:
    """The config of a run that carries its data as data.csv beside its config.yaml (a run
    made from arrays) names the file relative to itself, so the run can be moved."""
    data = experiment.config.data
    experiment.config = experiment.config.model_copy(
        update={"data": data.model_copy(update={"path": RUN_DATA})})


# What --set may change when resuming: neither changes the weights of the epochs in common.
RESUME_OVERRIDES = ("training.epochs", "training.checkpoint_every")


def resume_run(run_dir: str | Path, overrides: list[str] = (), out: str | Path | None = None,
               hooks: TrainHooks | None = None, plots: bool = False,
               report: Reporter | None = None) -> TrainOutcome:
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
        data_file = None
        data = experiment.config.data
        if data.source == "csv" and Path(data.path) == (run_dir / RUN_DATA).resolve():
            data_file = copy_of(run_dir / RUN_DATA)  # a run made from arrays: its data go
            carry_data(experiment)                    # with it
        outcome = _train_and_publish(experiment, out, hooks or TrainHooks(), start=start,
                                     resumed_from=run_dir, plots=plots, data_file=data_file,
                                     carried=checkpoint.state, report=report)
        if partial and not discard_partial(run_dir, RUN_FILES + (CHECKPOINT, RUN_DATA)):
            warnings.warn(NncliWarning(f"{run_dir} was kept: it holds files nncli did not write "
                                       f"there; the resumed run is {outcome.run_dir}"))
    finally:
        unlock_dir(lock)
    return outcome


class _Recording(Hooks):
    """The caller's hooks, plus what the trainer records as training goes: each epoch's row
    appended to history.csv (and to the thinned copy the pictures draw), the layer statistics
    to layers.csv, the weights of the snapshot epochs, and a checkpoint every
    ``training.checkpoint_every`` epochs."""

    def __init__(self, hooks: TrainHooks, experiment: Experiment, writer: RunWriter):
        self.hooks, self.experiment, self.writer = hooks, experiment, writer
        self.fingerprint = functools.cache(lambda: experiment_fingerprint(experiment))
        self.saved_epoch = 0  # the epoch of the checkpoint on disk (0: none yet)
        self.history: HistoryFile | None = None
        self.history_path = writer.tmp / "history.csv"
        self.thinned = Thinned()
        self.layers: HistoryFile | None = None
        self.layers_path = writer.tmp / "layers.csv"
        self.layers_thinned = Thinned()
        self.layers_last: list[dict] = []  # the rows of the last epoch written
        t, net = experiment.config.training, experiment.network
        self.snapshots = (Snapshots(t.epochs, list(net.parameters()))
                          if net.theta.size <= MAX_PARAMETERS else None)
        # with early stopping the weights training ends with may be the best epoch's: the last
        # snapshot needs the last epoch's
        self.last_theta = net.theta.copy() if self.snapshots and t.early_stopping else None

    def open_history(self, earlier, earlier_layers) -> None:
        """history.csv and layers.csv in the run's hidden directory, starting with the rows of
        the epochs a resumed run already has (``earlier``, ``earlier_layers``: iterables)."""
        columns = history_columns(self.experiment)
        with os_errors(self.history_path):
            self.history = HistoryFile(self.history_path, columns)
            for record in earlier:
                if list(record) != columns:
                    raise InputError(f"history rows must be {', '.join(columns)}, got "
                                     f"{', '.join(record)}")
                self.record(record)
        if self.experiment.config.training.layer_stats:
            with os_errors(self.layers_path):
                self.layers = HistoryFile(self.layers_path, LAYER_COLUMNS, digits=LAYER_DIGITS)
                self.record_layers(earlier_layers)

    def record(self, record: dict) -> None:
        self.history.append(record)
        self.thinned.add(record)

    def record_layers(self, rows) -> None:
        """Records (a resumed run's earlier rows, read back) one at a time."""
        with os_errors(self.layers_path):
            for row in rows:
                self.layers.append(row)
                self.layers_thinned.add(row)
                if self.layers_last and self.layers_last[0]["epoch"] != row["epoch"]:
                    self.layers_last = []
                self.layers_last.append(row)

    def record_layer_block(self, block) -> None:
        """Rows as training computes them (a block of numbers): written in one piece; only the
        rows the thinned copy keeps, and the last epoch's, become records."""
        if not len(block):
            return
        with os_errors(self.layers_path):
            self.layers.append_block(block)
        self.layers_thinned.add_block(block, len(self.experiment.network.layers))
        self.layers_last = list(self.layers_thinned.last)

    def sync(self) -> None:
        with os_errors(self.history_path):
            self.history.sync()
        if self.layers is not None:
            with os_errors(self.layers_path):
                self.layers.sync()

    def take_layers(self, result: FitResult, flush: bool = False) -> None:
        """The layer statistics computed so far into layers.csv (``flush``: all of them)."""
        if result.layer_stats is not None and self.layers is not None:
            if flush:
                result.layer_stats.flush()
            self.record_layer_block(result.layer_stats.take())

    def save_snapshots(self) -> None:
        if self.snapshots is not None and self.snapshots.epochs:
            self.writer.write_bytes(SNAPSHOTS, self.snapshots.npz())

    def save(self, result: FitResult) -> None:
        self.take_layers(result, flush=True)
        self.sync()  # the checkpoint's epochs are all in history.csv and layers.csv first
        self.save_snapshots()
        data = checkpoint_bytes(self.experiment.network.parameters(), result, self.fingerprint(),
                                layers_last=self.layers_last if self.layers else None,
                                snapshots=self.snapshots.epochs if self.snapshots else None)
        self.writer.write_bytes(CHECKPOINT, data)
        self.saved_epoch = result.epochs_run

    def epoch_end(self, record: dict, result: FitResult) -> None:
        with os_errors(self.history_path):
            self.record(record)
        self.take_layers(result)
        if self.snapshots is not None:
            net = self.experiment.network
            self.snapshots.epoch_end(record["epoch"], record["loss"], net.parameters)
            if self.last_theta is not None:
                np.copyto(self.last_theta, net.theta)
        self.hooks.epoch_end(record, result)
        t = self.experiment.config.training
        done = result.epochs_run
        if t.checkpoint_every and done % t.checkpoint_every == 0 and done < t.epochs:
            self.save(result)
            self.hooks.checkpoint_written(self.writer.tmp, done)

    def finish(self, result: FitResult) -> None:
        """After training: the last statistics, and the last epoch's weights as a snapshot
        when the run ended before training.epochs (not when interrupted: the resumed run goes
        on where it stopped)."""
        self.take_layers(result, flush=True)
        if self.snapshots is not None and result.status != "interrupted" and result.epochs_run:
            net = self.experiment.network
            theta = net.theta if self.last_theta is None else self.last_theta
            self.snapshots.add(result.epochs_run, result.last_record["loss"], net.named(theta))

    def stop_requested(self) -> bool:
        return self.hooks.stop_requested()


def _train_and_publish(experiment: Experiment, out: Path, hooks: TrainHooks,
                       start: FitResult | None = None, resumed_from: Path | None = None,
                       plots: bool = False, data_file: DataFile | None = None,
                       carried=None, report: Reporter | None = None) -> TrainOutcome:
    writer = RunWriter(out, experiment.config.name)
    recording = _Recording(hooks, experiment, writer)
    try:
        # With these (and data.csv for a run made from arrays) and history.csv, the temporary
        # directory is resumable from its first checkpoint on.
        description = model_description(experiment)
        _write_description(writer, experiment.config, description, data_file)
        recording.open_history(_earlier_rows(start, resumed_from),
                               _earlier_layers(recording, start, resumed_from, carried))
        hooks.started(experiment, start.epochs_run if start else 0)
        result = run_fit(experiment, recording, start, keep_history=False)  # rows: history.csv
        recording.finish(result)
        metrics = final_metrics(experiment, result)
        if resumed_from is not None:
            metrics["resumed_from"] = str(resumed_from)
        write_run(writer, experiment.network.parameters(), metrics)
        recording.save_snapshots()
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
        layers = recording.layers_thinned.history() if recording.layers_thinned.last else []
        if plots and result.status != "interrupted":
            plot_problems = _draw(writer.tmp, experiment, history, description, metrics,
                                  hooks.stop_requested, layers, recording.snapshots)
            if report is not None and not hooks.stop_requested():
                plot_problems += report(TrainOutcome(writer.tmp, experiment, result, metrics,
                                                     plot_problems, history, layers))
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
        for file in (recording.history, recording.layers):
            if file is not None:
                file.close()
    return TrainOutcome(run_dir, experiment, result, metrics, plot_problems, history, layers)


def _earlier_rows(start: FitResult | None, resumed_from: Path | None):
    """The history rows a resumed run starts with: a checkpoint of format 3 covers the first
    ``epochs_done`` rows of its run's history.csv (rows written after it, or a line cut short
    by a crash, are left out); older formats held them themselves."""
    if start is None:
        return []
    if start.history is not None:
        return start.history
    return _checked_rows(resumed_from / "history.csv", start)


def _earlier_layers(recording: _Recording, start: FitResult | None,
                    resumed_from: Path | None, carried):
    """The layers.csv rows and snapshots a resumed run starts with: those of the epochs its
    checkpoint covers, checked against what the checkpoint recorded. A checkpoint of format 3
    or older recorded neither: the resumed run's layers.csv and snapshots then start at its
    first new epoch (with a warning)."""
    if start is None:
        return []
    done = start.epochs_run
    snapshots = recording.snapshots
    if snapshots is not None and carried.snapshots is not None and carried.snapshots:
        shapes = {k: (v.shape, v.dtype)
                  for k, v in recording.experiment.network.parameters().items()}
        snapshots.load(resumed_from / SNAPSHOTS, done, carried.snapshots, shapes)
    if not recording.experiment.config.training.layer_stats:
        return []
    if carried.layers_last is None:
        if done:
            warnings.warn(NncliWarning(f"{resumed_from}: its checkpoint (format "
                                       f"{carried.format_version}) has no layer statistics; "
                                       f"layers.csv starts at epoch {done + 1}"))
        return []
    return _checked_layers(resumed_from / "layers.csv", done, carried.layers_last)


def _checked_layers(path: Path, done: int, last_rows: list[dict]):
    """The rows of layers.csv up to epoch ``done``; those of that epoch must be the
    checkpoint's."""
    count = done * len(last_rows)
    tail = []
    for row in iter_layers(path, rows=count):
        tail.append(row)
        if len(tail) > len(last_rows):
            tail.pop(0)
        yield row
    def text(rows):  # as layers.csv holds them (to LAYER_DIGITS digits)
        return [number_line(r, LAYER_COLUMNS, LAYER_DIGITS) for r in rows]

    if text(tail) != text(last_rows):
        raise InputError(f"{path}: the rows of epoch {done} are not the ones the checkpoint "
                         f"recorded (was the file changed?)")


def _checked_rows(path: Path, start: FitResult):
    """The first ``start.epochs_run`` rows of ``path``; the last must be the checkpoint's."""
    last = None
    for last in iter_history(path, rows=start.epochs_run):
        yield last
    if last != start.last_record:
        raise InputError(f"{path}: the row of epoch {start.epochs_run} is not the one the "
                         f"checkpoint recorded (was the file changed?)")


def _draw(path: Path, experiment: Experiment, history: list[dict], description: dict,
          metrics: dict, stop, layers: list[dict], snapshots: Snapshots | None) -> list[str]:
    """The run's pictures, drawn from what is in memory (nothing is read back from ``path``);
    returns the problems (a picture that cannot be drawn never costs the run). ``stop()``
    (a signal) ends the drawing."""
    from .. import plots
    from ..runs.load import trained_model
    from ..runs.model_file import ModelFile

    model = trained_model(path, ModelFile.model_validate(description), description,
                          experiment.network, metrics["status"])
    kept = plots.Snapshots(*snapshots.arrays()) if snapshots and snapshots.epochs else None
    return draw_pictures(path, experiment.config.name, model, history,
                         plots.points_of(experiment), stop, kept, layers)


def draw_pictures(path: Path, name: str, model, history: list[dict], points,
                  stop: Callable[[], bool] = lambda: False, snapshots=None,
                  layers: list[dict] = ()) -> list[str]:
    """Write the pictures of a trained ``model`` (a ``runs.load.TrainedModel``) into ``path``,
    from its ``history`` rows (as :class:`~nncli.runs.formats.Thinned` keeps them), its data
    ``points`` (``plots.Points``, or None), its ``snapshots`` (``plots.Snapshots``) and layer
    statistics rows; returns the problems."""
    from .. import plots

    run = plots.Run(path, name, plots.history_arrays(history), model, snapshots, list(layers))
    return plots.write_run_plots(run, points, stop)


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


def write_run(writer: RunWriter, parameters: dict[str, np.ndarray], metrics: dict) -> None:
    """The files training ends with (config.yaml and model.json were written at the start,
    history.csv as it went)."""
    writer.write_weights(parameters)
    writer.write_json("metrics.json", metrics)


def _write_description(writer: RunWriter, config: Config, description: dict,
                       data_file: DataFile | None) -> None:
    """The files that describe a run before it trains: config.yaml, model.json, and the
    data.csv that the config of a run made from arrays reads."""
    writer.write_text("config.yaml", config_yaml(config))
    writer.write_json("model.json", description)
    if data_file is not None:
        writer.write_bytes(RUN_DATA, data_file)


@dataclass
class RunRecord:
    """A run trained in memory, as the files of its directory will hold it."""

    config: Config  # resolved (config.yaml)
    description: dict  # model.json
    parameters: dict[str, np.ndarray]  # weights.npz
    metrics: dict  # metrics.json
    columns: list[str]  # history.csv's header
    history: Iterable[dict]  # its rows
    data_file: DataFile | None = None  # data.csv, for a run made from arrays


def publish(record: RunRecord, out: str | Path,
            pictures: Callable[[Path], list[str]] | None = None) -> tuple[Path, list[str]]:
    """Write ``record`` as a new run directory under ``out``, whole or not at all (the same
    transaction and files as a run trained into its directory); ``pictures(path)`` draws
    into the directory before it is published and returns its problems. Returns the run
    directory and those problems."""
    writer = RunWriter(Path(out), record.config.name)
    history = None
    try:
        _write_description(writer, record.config, record.description, record.data_file)
        path = writer.tmp / "history.csv"
        with os_errors(path):
            history = HistoryFile(path, record.columns)
            for row in record.history:
                history.append(row)
            history.sync()
            history.close()
        write_run(writer, record.parameters, record.metrics)
        writer.assembled = True  # from here on, whatever fails, the run is kept
        problems = pictures(writer.tmp) if pictures is not None else []
        return writer.commit(), problems
    except BaseException as e:
        kept = writer.abort()
        if kept is not None and isinstance(e, (InputError, TrainingFailed)):
            raise type(e)(f"{e}; the whole run is kept in {kept}") from None
        raise
    finally:
        if history is not None:
            history.close()
