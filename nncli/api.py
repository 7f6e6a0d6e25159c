"""nncli from Python: :func:`train` from a config (a dict or a YAML file) and, if given,
arrays; the :class:`Run` it returns is also what :func:`load_run` reads back from a run
directory.

One training path: the config is validated as ``nncli train`` validates it, the experiment is
prepared by ``training.experiment.prepare`` and trained by ``training.train.train_experiment``,
in memory (``out=None``: nothing is written until :meth:`Run.save`) or straight into a run
directory. Arrays are the data of a CSV source whose file is the run's ``data.csv``
(``data.arrays``): the config a run made from arrays records reads that file, so its directory
describes itself and ``nncli train RUN_DIR/config.yaml`` gives the same weights.

Nothing here imports scikit-learn or matplotlib: ``Run.evaluate`` (scikit-learn's
precision/recall) and ``Run.plot`` (matplotlib) import them when called.
"""

from __future__ import annotations

import copy
import csv
import functools
import os
import warnings
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .config import Config, apply_override, load_config, load_raw, validate_config
from .data.sources import table_dataset
from .engine.losses import LOSSES
from .errors import InputError, NncliWarning, TrainingFailed
from .plots.run import history_arrays, points_of
from .runs.directory import RUN_DATA
from .runs.formats import Thinned, read_history, read_metrics
from .runs.load import TrainedModel, load_run as load_model, trained_model
from .runs.model_file import ModelFile, model_description
from .training.checkpoint import history_columns
from .training.experiment import prepare
from .training.train import (DataFile, RunRecord, TrainHooks, TrainOutcome, carry_data,
                             copy_of, draw_pictures, publish, train_experiment)

# The name of a run whose config is a dict without ``name`` (a file's runs take its stem).
DEFAULT_NAME = "run"
# What a config's ``data:`` may say when X and y are the data.
ARRAY_DATA_KEYS = ("validation", "scale", "scale_target", "task", "missing", "categorical")


def train(config, X=None, y=None, *, overrides=(), out=None, plots: bool = False,
          sample_weight=None, hooks: TrainHooks | None = None) -> "Run":
    """Train the network ``config`` describes (a dict, or the path of a YAML config file)
    and return the :class:`Run`. See ``nncli.train`` for the arguments; ``hooks`` hear each
    epoch (``training.train.TrainHooks``)."""
    if (X is None) != (y is None):
        raise InputError("X, y: give both (the data), or neither (the config's data)")
    if sample_weight is not None and X is None:
        raise InputError("sample_weight: weighs the rows of X and y; give them too (a config's "
                         "CSV data take data.sample_weight)")
    if plots and out is None:
        raise InputError("plots: pictures are files of a run directory: give out= (or draw "
                         "one with run.plot(what))")
    if isinstance(overrides, str):
        overrides = [overrides]
    raw, where, positions, overridden, config_path = _raw_config(config, list(overrides))
    table = None
    if X is not None:
        from .data import arrays  # pyarrow: for arrays only

        table = arrays.array_table(X, y, sample_weight)
        raw["data"] = _array_data(raw.get("data"), table, where)
    cfg = validate_config(raw, where, positions, overridden)
    if out is None and cfg.training.checkpoint_every:
        warnings.warn(NncliWarning("training.checkpoint_every: a run trained in memory "
                                   "(out=None) writes no checkpoints"), stacklevel=3)
    data_file = None
    if table is None:
        experiment = prepare(cfg, config_path)
    else:
        cfg = _array_task(cfg)
        kept = replace(table, arrays=list(table.arrays))  # reading the table releases columns
        experiment = prepare(cfg, config_path, table_dataset(cfg.data, table))
        carry_data(experiment)
        data_file = functools.partial(arrays.write_table, kept)
    outcome = train_experiment(experiment, out, hooks, plots=plots, data_file=data_file)
    for problem in outcome.plot_problems:
        warnings.warn(NncliWarning(problem), stacklevel=3)
    run = Run.trained(outcome, data_file)
    if outcome.metrics["status"] == "diverged":
        written = f"; the run is in {outcome.run_dir}" if outcome.run_dir is not None else ""
        error = TrainingFailed(f"training diverged: {outcome.result.reason}{written}")
        error.run = run  # what training kept (the last finite weights), for a look at it
        raise error
    return run


def load_run(path) -> "Run":
    """The run in directory ``path`` (written by ``nncli train``, ``nncli.train(out=...)`` or
    :meth:`Run.save`), checked as ``nncli predict`` checks it."""
    path = Path(path)
    return Run(**_model_fields(load_model(path)), run_dir=path)


def _raw_config(config, overrides: list[str]):
    """(raw mapping with the overrides applied, name in messages, positions of its keys,
    the keys overridden, the path its relative paths and default name come from)."""
    if isinstance(config, (str, os.PathLike)):
        raw, positions, overridden = load_raw(config, overrides)
        return raw, str(config), positions, overridden, Path(config)
    if not isinstance(config, Mapping):
        raise InputError(f"config: expected a dict or the path of a YAML config file, got "
                         f"{type(config).__name__}")
    raw = plain(copy.deepcopy(dict(config)))
    overridden = {apply_override(raw, assignment): assignment for assignment in overrides}
    # A dict's CSV paths are relative to the working directory; its default name is "run".
    return raw, "config", None, overridden, Path.cwd() / DEFAULT_NAME


def plain(value):
    """A config as YAML would give it: NumPy numbers and arrays as Python's, tuples as lists
    (the config's types are strict: ``np.int64(5)`` is not an int to them)."""
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _array_data(data, table, where: str) -> dict:
    """The ``data:`` section of a run made from arrays: a CSV source reading the run's
    data.csv (X's columns, then y's, then the weights), with the keys the config gave."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise InputError(f"{where}: data: with X and y, data may hold only "
                         f"{', '.join(ARRAY_DATA_KEYS)} (got {data!r})")
    for key in data:
        if key == "source":
            raise InputError(f"{where}: data.source: X and y are the data; leave out the "
                             f"config's data source, or give no X and y")
        if key not in ARRAY_DATA_KEYS:
            raise InputError(f"{where}: data.{key}: does not apply when X and y are the data; "
                             f"data may hold {', '.join(ARRAY_DATA_KEYS)}")
    from .data.arrays import NA_VALUES

    targets = table.target_names
    record = {"source": "csv", "path": RUN_DATA,
              "target": targets[0] if len(targets) == 1 else targets,
              "na_values": list(NA_VALUES), **data}
    if table.weight_name is not None:
        record["sample_weight"] = table.weight_name
    if isinstance(data.get("categorical"), list):
        record["categorical"] = [_feature_name(key, table.feature_names)
                                 for key in data["categorical"]]
    return record


def _feature_name(key, names: list[str]):
    """data.categorical's keys name X's columns, by name or index (negative from the end)."""
    if isinstance(key, bool) or not isinstance(key, (int, str)):
        return key  # the config's own check says what is wrong
    if isinstance(key, int):
        if -len(names) <= key < len(names):
            return names[key]
        raise InputError(f"data.categorical: column index {key} is out of range; X has "
                         f"{len(names)} columns")
    if key not in names:
        raise InputError(f"data.categorical: no column named {key!r} in X; columns: "
                         f"{', '.join(map(repr, names))}")
    return key


def _array_task(config: Config) -> Config:
    """Arrays whose config trains a classifier (a softmax, sigmoid or step output, or a
    classification loss) hold class labels, even when the labels are numbers; otherwise the
    CSV rule holds (numbers: regression, text: classification)."""
    if config.data.task is not None or LOSSES[config.loss_name].task != "classification":
        return config
    data = config.data.model_copy(update={"task": "classification"})
    return config.model_copy(update={"data": data})


def _model_fields(model: TrainedModel) -> dict:
    return {f.name: getattr(model, f.name) for f in fields(TrainedModel)}


@dataclass(eq=False, repr=False)
class Run(TrainedModel):
    """A trained run: ``predict``, ``predict_proba``, ``evaluate``, ``plot``, ``history``,
    ``metrics``, ``config``, and ``save``. ``run_dir`` is its directory once it has one (a run
    trained in memory has none until :meth:`save`). Samples are rows: X (n, features)."""

    run_dir: Path | None = None
    _config: Config | None = None
    _metrics: dict | None = None
    _rows: list | None = None  # in memory: the history rows
    _columns: list | None = None  # in memory: history.csv's columns
    _points: Any = None  # in memory: the data points of the pictures (plots.Points)
    _data_file: DataFile | None = None  # a run made from arrays: its data.csv
    _history: dict | None = None  # history as arrays, once asked for

    @classmethod
    def trained(cls, outcome: TrainOutcome, data_file: DataFile | None = None) -> "Run":
        """The run of a training outcome (``training.train.train_experiment``)."""
        e = outcome.experiment
        description = model_description(e)
        path = outcome.run_dir if outcome.run_dir is not None else Path(e.config.name)
        model = trained_model(path, ModelFile.model_validate(description), description,
                              e.network, outcome.metrics["status"])
        return cls(**_model_fields(model), run_dir=outcome.run_dir, _config=e.config,
                   _metrics=outcome.metrics, _rows=outcome.result.history,
                   _columns=history_columns(e), _points=points_of(e), _data_file=data_file)

    def __repr__(self) -> str:
        where = f"run_dir={str(self.run_dir)!r}" if self.run_dir else "in memory"
        return f"Run({self.name!r}, {self.task}, status={self.status!r}, {where})"

    @property
    def name(self) -> str:
        return str(self.description.get("name") or self.path.name)

    @property
    def config(self) -> Config:
        """The resolved config (config.yaml: every default filled in)."""
        if self._config is None:
            self._config = load_config(self._file("config.yaml"), fast=True)
        return self._config

    @property
    def metrics(self) -> dict:
        """metrics.json: final train and validation metrics, epochs, status and reason."""
        if self._metrics is None:
            self._metrics = read_metrics(self._file("metrics.json"))
        return self._metrics

    @property
    def history(self) -> dict[str, np.ndarray]:
        """history.csv as columns: name -> one value per epoch (NaN where undefined)."""
        if self._history is None:
            rows = self._history_rows()
            arrays_ = history_arrays(rows) if rows else {c: np.empty(0) for c in
                                                         self._history_columns()}
            self._history = arrays_
        return self._history

    def evaluate(self, X, y) -> dict:
        """The metrics of the run on labelled rows, as ``nncli evaluate RUN_DIR --data FILE
        --json`` reports them for a CSV file of these rows (``data`` is ``"X, y"``). X as
        ``predict`` takes it; y the labels or target values (named by the run's targets, or
        plain)."""
        from .data.arrays import array_table
        from .runs.evaluate import evaluate_table

        if isinstance(X, Mapping) or hasattr(X, "columns"):  # only the run's feature columns
            absent = [name for name in self.feature_names if name not in X]
            if absent:
                raise InputError(f"X: missing feature column(s) {', '.join(map(repr, absent))}")
            X = {name: X[name] for name in self.feature_names}
        table = array_table(X, y, feature_names=self.feature_names,
                                   target_names=self.target_names)
        report = evaluate_table(self, table)
        report["run_dir"] = None if self.run_dir is None else str(self.run_dir)
        return report

    def plot(self, what: str = "loss"):
        """A picture of the run as a matplotlib Figure: ``loss``, ``boundary`` (classification
        with two features), ``fit`` (regression with one feature) or ``network``."""
        from . import plots

        if what not in plots.FILES:
            raise InputError(f"plot: unknown picture {what!r}; choose one of "
                             f"{', '.join(plots.FILES)}")
        points = self._data_points() if what in plots.NEEDS_POINTS else None
        run = plots.Run(self.path, self.name, history_arrays(self._thinned()), self)
        reason = plots.why_not(run, what)
        if reason is None and what in plots.NEEDS_POINTS and points is None:
            raise InputError(f"{self.name}: no {what} picture: the run keeps no data points")
        return plots.draw(run, what, points)

    def save(self, out="runs", plots: bool = False) -> Path:
        """Write the run as a new directory under ``out`` (``<name>-<YYYYmmdd-HHMMSS>``, as
        ``nncli train --out`` does), whole or not at all; ``plots``: with its pictures.
        Returns the directory, which ``run_dir`` names from then on."""
        record = RunRecord(config=self.config, description=self.description,
                           parameters=self.network.parameters(), metrics=self.metrics,
                           columns=self._history_columns(), history=self._history_rows(),
                           data_file=self._data())
        pictures = None
        if plots:
            thinned, points = self._thinned(), self._data_points()
            pictures = functools.partial(self._draw, thinned, points)
        run_dir, problems = publish(record, out, pictures)
        for problem in problems:
            warnings.warn(NncliWarning(problem), stacklevel=2)
        self.run_dir = self.path = run_dir
        return run_dir

    # --- internals ------------------------------------------------------------------------

    def _file(self, name: str) -> Path:
        if self.run_dir is None:
            raise InputError(f"{self.name}: has no run directory (trained in memory)")
        return self.run_dir / name

    def _history_rows(self) -> list[dict]:
        if self._rows is not None:
            return self._rows
        return read_history(self._file("history.csv"))

    def _history_columns(self) -> list[str]:
        if self._columns is not None:
            return self._columns
        path = self._file("history.csv")
        try:
            with open(path, encoding="utf-8", newline="") as f:
                return next(csv.reader(f), ["epoch", "loss"])
        except OSError:
            read_history(path)  # says what is wrong with it
            raise

    def _thinned(self) -> list[dict]:
        """The history rows the pictures draw (evenly spaced ones of a long run)."""
        thinned = Thinned()
        for row in self._history_rows():
            thinned.add(row)
        return thinned.history() if thinned.last else []

    def _data_points(self):
        if self._points is not None or self.run_dir is None:
            return self._points
        if self.network.n_inputs > 2:
            return None
        from .training.reproduce import run_points

        return run_points(self.run_dir)

    def _data(self) -> DataFile | None:
        """data.csv, for a run that carries its data (made from arrays)."""
        data = self.config.data
        if data.source != "csv" or data.path != RUN_DATA:
            return None
        if self._data_file is not None:
            return self._data_file
        if self.run_dir is None:
            raise InputError(f"{self.name}: the run keeps no training data (a scikit-learn "
                             f"estimator's run), so it cannot be saved as a run directory; "
                             f"train it with nncli.train to save it")
        source = self.run_dir / RUN_DATA
        if not source.is_file():
            raise InputError(f"{self.run_dir}: no {RUN_DATA}, which its config.yaml "
                             f"reads")
        return copy_of(source)

    def _draw(self, thinned: list[dict], points, path: Path) -> list[str]:
        model = replace(self, path=path)
        return draw_pictures(path, self.name, model, thinned, points)

    def _without_data(self) -> "Run":
        """The run without its training data (data.csv's columns, the pictures' points):
        what a scikit-learn estimator keeps, so that it pickles small."""
        return replace(self, _data_file=None, _points=None)
