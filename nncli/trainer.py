"""Train from a config file and publish the run directory: the library behind `nncli train`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .config import load_config
from .experiment import Experiment, batch_size, prepare
from .runs import RunWriter, config_yaml, history_csv, model_description
from .training import Batching, FitResult, evaluate, fit


@dataclass
class TrainOutcome:
    run_dir: Path
    experiment: Experiment
    result: FitResult
    metrics: dict  # the content of metrics.json


def train_from_config(config_path: str | Path, overrides: list[str] = (),
                      out: str | Path = "runs",
                      on_start: Callable[[Experiment], None] | None = None,
                      on_epoch: Callable[[dict], None] | None = None,
                      stop_requested: Callable[[], bool] = lambda: False) -> TrainOutcome:
    """Validate, train, and write a new run directory under ``out``.

    Bad input raises InputError before anything is written. A diverged or interrupted run is
    still written, with its status and the last finite weights, so nothing good is lost.
    """
    config_path = Path(config_path)
    experiment = prepare(load_config(config_path, overrides), config_path)
    writer = RunWriter(Path(out), experiment.config.name)
    try:
        if on_start:
            on_start(experiment)
        result = run_fit(experiment, on_epoch, stop_requested)
        metrics = final_metrics(experiment, result)
        write_run(writer, experiment, result, metrics)
        run_dir = writer.commit()
    except BaseException:
        writer.abort()
        raise
    return TrainOutcome(run_dir, experiment, result, metrics)


def run_fit(experiment: Experiment, on_epoch=None, stop_requested=lambda: False) -> FitResult:
    cfg = experiment.config
    t = cfg.training
    validation = (experiment.X_val, experiment.Y_val) if experiment.has_validation else None
    return fit(
        experiment.network, experiment.loss, experiment.X_train, experiment.Y_train,
        batching=Batching(batch_size(cfg, len(experiment.X_train)), t.shuffle),
        epochs=t.epochs, learning_rate=t.learning_rate, update=t.update,
        rng=experiment.shuffle_rng, metric=experiment.metric, validation=validation,
        on_epoch=on_epoch, stop_requested=stop_requested)


def final_metrics(experiment: Experiment, result: FitResult) -> dict:
    """metrics.json: train/validation metrics of the final weights, and how training ended."""
    name, fn = experiment.metric
    net, loss = experiment.network, experiment.loss

    def split(X, Y):
        if len(X) == 0:
            return None
        value, metric, _ = evaluate(net, loss, X, Y, fn)
        return {"loss": finite_or_none(value), name: finite_or_none(metric)}

    epochs = experiment.config.training.epochs
    reason = result.reason or f"reached training.epochs ({epochs})"
    return {
        "status": result.status,
        "reason": reason,
        "epochs": epochs,
        "epochs_run": result.epochs_run,
        "wall_time": round(result.wall_time, 6),
        "train": split(experiment.X_train, experiment.Y_train),
        "validation": split(experiment.X_val, experiment.Y_val),
    }


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN: an undefined or non-finite value is recorded as null."""
    return value if value is not None and math.isfinite(value) else None


def write_run(writer: RunWriter, experiment: Experiment, result: FitResult, metrics: dict) -> None:
    writer.write_text("config.yaml", config_yaml(experiment.config))
    writer.write_text("history.csv", history_csv(result.history))
    writer.write_weights(experiment.network.parameters())
    writer.write_json("model.json", model_description(experiment))
    writer.write_json("metrics.json", metrics)
