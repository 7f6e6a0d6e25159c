"""nncli from Python: nncli.train (a dict, a config file, arrays, overrides), the Run it
returns and that nncli.load_run reads back, and that both give what the command line gives."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

import nncli
from nncli.api import Run, TrainHooks, train as train_with_hooks
from nncli.data.generators import make_moons
from nncli.errors import InputError, NncliWarning, TrainingFailed

from conftest import PENGUINS, noisy_xor, read_json, weights, write_config

LAYERS = {"layers": [{"units": 6, "activation": "tanh"}, {"units": 2, "activation": "softmax"}]}
TRAINING = {"batch_size": 16, "learning_rate": 0.2, "epochs": 15}


def moons(n=120):
    return make_moons(n, noise=0.2, random_state=3)


def same_weights(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)


def write_csv(path, header, rows):
    """Rows as a CSV file, floats in their shortest exact form (repr)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[repr(v) if isinstance(v, float) else v for v in row]
                          for row in rows])


# --- the same weights as the command line ------------------------------------------------

def test_a_dict_a_path_and_overrides_give_the_cli_weights(cli, tmp_path):
    path = write_config(tmp_path, noisy_xor(12), "xor.yaml")
    assert cli.train(path, "--set", "training.learning_rate=0.3").exit_code == 0
    [expected] = cli.run_dirs()
    expected = weights(expected)
    overrides = ["training.learning_rate=0.3"]
    from_path = nncli.train(path, overrides=overrides, out=tmp_path / "py")
    assert from_path.run_dir.parent == tmp_path / "py" and from_path.run_dir.name.startswith("xor-")
    assert same_weights(weights(from_path.run_dir), expected)
    raw = yaml.safe_load(path.read_text())
    in_memory = nncli.train(raw, overrides=overrides)
    assert in_memory.run_dir is None and in_memory.name == "run"  # a dict's default name
    assert same_weights(in_memory.network.parameters(), expected)
    # the dict itself was not changed by the overrides
    assert raw["training"]["learning_rate"] == 0.5


def test_arrays_give_the_cli_weights_on_the_same_data_as_a_csv_file(cli, tmp_path):
    X, y = moons()
    labels = np.array(["left", "right"], dtype=object)[y]
    config = {"seed": 4, "data": {"validation": 0.25}, "network": LAYERS, "training": TRAINING}
    run = nncli.train(config, X, labels)
    write_csv(tmp_path / "moons.csv", ["x1", "x2", "target"],
              [[float(a), float(b), c] for (a, b), c in zip(X, labels)])
    file_config = {**config, "data": {"source": "csv", "path": "moons.csv", "validation": 0.25}}
    path = write_config(tmp_path, yaml.safe_dump(file_config))
    assert cli.train(path).exit_code == 0
    [cli_run] = cli.run_dirs()
    assert same_weights(run.network.parameters(), weights(cli_run))
    assert run.metrics["validation"] == read_json(cli_run / "metrics.json")["validation"]
    assert run.classes == ["left", "right"]


def test_a_run_made_from_arrays_carries_its_data_and_trains_again_to_the_same_weights(
        cli, tmp_path):
    X, y = moons()
    X = X.astype(object)
    X[5, 1] = None  # a missing value, filled with the training rows' mean
    X[7, 0] = np.nan
    config = {"data": {"missing": "mean"}, "network": LAYERS, "training": TRAINING}
    run = nncli.train(config, X, y, out=tmp_path / "py")
    files = sorted(p.name for p in run.run_dir.iterdir())
    assert files == ["config.yaml", "data.csv", "history.csv", "layers.csv", "metrics.json",
                     "model.json", "snapshots.npz", "weights.npz"]
    data = yaml.safe_load((run.run_dir / "config.yaml").read_text())["data"]
    assert {k: data[k] for k in ("source", "path", "target", "na_values", "missing", "task")} \
        == {"source": "csv", "path": "data.csv", "target": "target", "na_values": [""],
            "missing": "mean", "task": "classification"}
    lines = (run.run_dir / "data.csv").read_text().splitlines()
    assert lines[0] == '"x1","x2","target"' and len(lines) == 121
    assert lines[6].split(",")[1] == "" and lines[8].split(",")[0] == ""  # missing: empty
    assert cli.train(run.run_dir / "config.yaml").exit_code == 0
    [again] = cli.run_dirs()
    assert same_weights(weights(run.run_dir), weights(again))
    for name in ("history.csv", "model.json"):
        assert (run.run_dir / name).read_text() == (again / name).read_text()


@pytest.mark.parametrize("labels", ["integers", "floats"])
def test_numeric_labels_are_classes_when_the_output_is_a_classifier(labels):
    X, y = moons(60)
    y = y.astype(float) if labels == "floats" else y
    run = nncli.train({"network": LAYERS, "training": {"epochs": 2}}, X, y)
    assert run.task == "classification" and run.classes == [0, 1]
    assert run.predict(X[:4]).dtype == np.int64
    regression = nncli.train({"network": {"layers": [{"units": 1, "activation": "linear"}]},
                              "training": {"epochs": 2}}, X, y)
    assert regression.task == "regression" and regression.target_names == ["target"]


def test_dataframes_name_the_columns_and_give_the_cli_weights(cli, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(PENGUINS)
    features = ["bill_length_mm", "flipper_length_mm", "body_mass_g"]
    config = {"network": {"layers": [{"units": 8, "activation": "relu"},
                                     {"units": 3, "activation": "softmax"}]},
              "training": {"epochs": 10, "batch_size": 16, "learning_rate": 0.05}}
    run = nncli.train(config, frame[features], frame["species"])
    assert run.feature_names == features and run.target_names == ["species"]
    file_config = {**config, "data": {"source": "csv", "path": str(PENGUINS),
                                      "target": "species", "features": features}}
    assert cli.train(write_config(tmp_path, yaml.safe_dump(file_config))).exit_code == 0
    [cli_run] = cli.run_dirs()
    assert same_weights(run.network.parameters(), weights(cli_run))
    assert list(run.predict(frame[features].head(3))) == \
        list(nncli.load_run(cli_run).predict(frame[features].head(3)))


def test_sample_weights_weigh_rows_as_a_csv_column_does(cli, tmp_path):
    X, y = moons(80)
    w = np.where(y == 1, 3.0, 1.0)
    config = {"data": {"validation": 0}, "network": LAYERS, "training": TRAINING}
    run = nncli.train(config, X, y, sample_weight=w)
    write_csv(tmp_path / "w.csv", ["x1", "x2", "target", "w"],
              [[float(a), float(b), int(c), float(d)] for (a, b), c, d in zip(X, y, w)])
    file_config = {**config, "data": {"source": "csv", "path": "w.csv", "validation": 0,
                                      "target": "target", "task": "classification",
                                      "sample_weight": "w"}}
    assert cli.train(write_config(tmp_path, yaml.safe_dump(file_config))).exit_code == 0
    [cli_run] = cli.run_dirs()
    assert same_weights(run.network.parameters(), weights(cli_run))
    unweighted = nncli.train(config, X, y)
    assert not same_weights(unweighted.network.parameters(), run.network.parameters())


# --- the Run --------------------------------------------------------------------------------

def test_a_run_in_memory_saves_the_files_of_a_run_trained_into_its_directory(tmp_path):
    X, y = moons()
    config = {"name": "m", "network": LAYERS, "training": TRAINING}
    direct = nncli.train(config, X, y, out=tmp_path / "direct")
    run = nncli.train(config, X, y)
    assert run.run_dir is None and repr(run) == "Run('m', classification, status='finished', " \
                                                "in memory)"
    saved = run.save(tmp_path / "saved")
    assert run.run_dir == saved and saved.parent == tmp_path / "saved"
    assert saved.name.startswith("m-")
    for name in ("config.yaml", "history.csv", "model.json", "data.csv"):
        assert (saved / name).read_bytes() == (direct.run_dir / name).read_bytes(), name
    assert same_weights(weights(saved), weights(direct.run_dir))
    ours, theirs = read_json(saved / "metrics.json"), read_json(direct.run_dir / "metrics.json")
    assert {**ours, "wall_time": 0} == {**theirs, "wall_time": 0}


def test_a_run_round_trips_through_save_and_load_run(tmp_path):
    X, y = moons()
    run = nncli.train({"network": LAYERS, "training": TRAINING}, X, y)
    loaded = nncli.load_run(run.save(tmp_path))
    assert isinstance(loaded, Run) and type(loaded) is type(run)
    assert np.array_equal(loaded.predict_proba(X), run.predict_proba(X))
    assert np.array_equal(loaded.predict(X), run.predict(X))
    assert list(loaded.history) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    for column, values in run.history.items():
        assert np.array_equal(loaded.history[column], values), column
    assert len(run.history["loss"]) == 15
    assert loaded.metrics == run.metrics and loaded.config == run.config
    # a loaded run saves again, data.csv with it
    again = loaded.save(tmp_path / "again")
    assert loaded.run_dir == again
    for name in ("config.yaml", "history.csv", "model.json", "metrics.json", "data.csv"):
        assert (again / name).read_bytes() == (run.run_dir / name).read_bytes(), name
    assert same_weights(weights(again), weights(run.run_dir))


def test_run_evaluate_equals_nncli_evaluate(cli, tmp_path, penguins):
    run = nncli.load_run(penguins.run_dir)
    with open(PENGUINS, newline="") as f:
        rows = list(csv.DictReader(f))
    # columns of text as a CSV file holds them: the same reading rules turn them into numbers
    X = {name: [r[name] for r in rows] for name in run.feature_names}
    y = [r["species"] for r in rows]
    result = cli("evaluate", penguins.run_dir, "--data", PENGUINS, "--json")
    expected = json.loads(result.stdout)
    got = run.evaluate(X, y)
    assert got["data"] == "X, y" and got["run_dir"] == str(penguins.run_dir)
    assert {**got, "data": None} == {**expected, "data": None}
    assert got["rows"] == 150 and got["accuracy"] == expected["accuracy"]


def test_run_evaluate_of_a_regression_run_in_memory():
    X = np.linspace(-1, 1, 40).reshape(-1, 1)
    y = 3 * X[:, 0] + 1
    run = nncli.train({"network": {"layers": [{"units": 1, "activation": "linear"}]},
                       "data": {"validation": 0},
                       "training": {"batch": "full", "learning_rate": 0.5, "epochs": 200}},
                      X, y)
    report = run.evaluate(X, y)
    assert report["run_dir"] is None and report["rows"] == 40
    assert report["r2"] == pytest.approx(1.0, abs=1e-9)
    assert report["loss"] == pytest.approx(run.metrics["train"]["loss"], rel=1e-12)
    np.testing.assert_allclose(run.predict(X)[:, 0], y, atol=1e-5)


def test_run_plot_draws_figures_from_memory_and_from_disk(tmp_path):
    X, y = moons()
    run = nncli.train({"network": LAYERS, "training": TRAINING}, X, y)
    figure = run.plot("loss")
    lines = {line.get_gid(): line for line in figure.axes[0].get_lines()}
    assert np.array_equal(lines["loss"].get_ydata(), run.history["loss"])
    assert np.array_equal(lines["val_loss"].get_ydata(), run.history["val_loss"])
    boundary = run.plot("boundary")
    loaded = nncli.load_run(run.save(tmp_path))
    again = loaded.plot("boundary")  # its points come from the run's own data.csv
    offsets = [c.get_offsets() for c in boundary.axes[0].collections if len(c.get_offsets())]
    offsets_again = [c.get_offsets() for c in again.axes[0].collections
                     if len(c.get_offsets())]
    assert len(offsets) >= 2 and all(np.array_equal(a, b)
                                     for a, b in zip(offsets, offsets_again))
    with pytest.raises(InputError, match="no fitted curve: it needs a regression run"):
        run.plot("fit")
    with pytest.raises(InputError, match="unknown picture 'curve'; choose one of loss, "):
        run.plot("curve")


def test_plots_go_into_the_run_directory(tmp_path):
    X, y = moons(60)
    run = nncli.train({"network": LAYERS, "training": {"epochs": 3}}, X, y,
                      out=tmp_path, plots=True)
    assert {"loss.png", "decision_boundary.png", "network.png"} <= \
        {p.name for p in run.run_dir.iterdir()}
    with pytest.raises(InputError, match="^plots: pictures are files of a run directory: "
                                         "give out="):
        nncli.train({"network": LAYERS}, X, y, plots=True)


def test_progress_shows_the_cli_progress_lines(capsys):
    X, y = moons(60)
    nncli.train({"network": LAYERS, "training": {"epochs": 20}}, X, y, progress=True)
    err = capsys.readouterr().err
    epochs = [line.split()[1] for line in err.splitlines() if line.startswith("epoch ")]
    assert epochs == ["1/20"] + [f"{e}/20" for e in range(2, 21, 2)]
    nncli.train({"network": LAYERS, "training": {"epochs": 20}}, X, y)
    assert capsys.readouterr().err == ""


# --- errors and warnings ----------------------------------------------------------------------

def test_config_errors_are_the_cli_messages(cli, tmp_path):
    path = write_config(tmp_path, noisy_xor(5).replace("learning_rate: 0.5", "learning_rate: -1")
                        .replace("epochs: 5", "epoch: 5"))
    result = cli.train(path)
    assert result.exit_code == 2
    with pytest.raises(InputError) as caught:
        nncli.train(path)
    assert [f"error: {p}" for p in caught.value.problems] == result.stderr.splitlines()
    assert len(caught.value.problems) == 2
    with pytest.raises(InputError) as caught:
        nncli.train(yaml.safe_load(path.read_text()))
    assert caught.value.problems[0].startswith("config: training.epoch: unknown key (did you "
                                               "mean epochs?)")


@pytest.mark.parametrize("call, message", [
    (lambda X, y: nncli.train({"network": LAYERS}, X), "X, y: give both (the data), or neither"),
    (lambda X, y: nncli.train({"network": LAYERS, "data": {"source": "moons"}}, X, y),
     "config: data.source: X and y are the data; leave out the config's data source"),
    (lambda X, y: nncli.train({"network": LAYERS, "data": {"n_samples": 5}}, X, y),
     "config: data.n_samples: does not apply when X and y are the data; data may hold "
     "validation, scale, scale_target, task, missing, categorical"),
    (lambda X, y: nncli.train({"network": LAYERS}, X[:, 0], y),
     "X: expected a 2-D array (one row per sample), got shape (60,); a single feature is "
     "X.reshape(-1, 1)"),
    (lambda X, y: nncli.train({"network": LAYERS}, X, y[:50]), "y: 50 rows, but X has 60"),
    (lambda X, y: nncli.train({"network": LAYERS}, X, y, sample_weight=np.ones(3)),
     "sample_weight: expected one weight per row of X (60), got an array of shape (3,)"),
    (lambda X, y: nncli.train({"network": LAYERS}, np.where(np.arange(60)[:, None] == 5,
                                                            np.inf, X), y),
     "X row 5, column 'x1': inf is not a finite number (data.features)"),
    (lambda X, y: nncli.train({"network": LAYERS}, X, y, sample_weight=np.zeros(60)),
     "data.sample_weight: sample_weight row 0: a weight must be a number > 0 (got 0)"),
    (lambda X, y: nncli.train({"network": LAYERS, "data": {"categorical": ["x9"]}}, X, y),
     "data.categorical: no column named 'x9' in X; columns: 'x1', 'x2'"),
    (lambda X, y: nncli.train(3, X, y),
     "config: expected a dict or the path of a YAML config file, got int"),
])
def test_bad_input_is_one_clear_input_error(call, message):
    X, y = moons(60)
    with pytest.raises(InputError) as caught:
        call(X, y)
    assert str(caught.value).startswith(message), str(caught.value)


def test_missing_values_follow_data_missing_as_in_a_csv_file():
    X, y = moons(60)
    X[4, 1] = np.nan
    with pytest.raises(InputError, match=r"^data.missing: 1 feature value is missing, the first "
                                         r"at X row 4, column 'x2'; choose what to do"):
        nncli.train({"network": LAYERS}, X, y)
    with pytest.warns(NncliWarning, match="data.missing: drop: left out 1 rows with a missing "
                                          "feature value"):
        run = nncli.train({"network": LAYERS, "data": {"missing": "drop"},
                           "training": {"epochs": 1}}, X, y)
    assert run.metrics["train"] is not None


# (tests/test_divergence.py: the loss overflows in epoch 22)
DIVERGES = """\
data: {source: inline, x: [[1.0], [2.0], [3.0], [4.0]], y: [2, 4, 6, 8]}
network: {layers: [{units: 1, activation: linear, weights: [[0.5]], biases: [0.0]}]}
training: {batch: minibatch, batch_size: 1, shuffle: false, learning_rate: 5.0, epochs: 50}
"""


def test_divergence_raises_training_failed_with_the_cli_message_and_the_run(cli, tmp_path):
    path = write_config(tmp_path, DIVERGES)
    result = cli.train(path)
    assert result.exit_code == 1
    with pytest.raises(TrainingFailed) as caught:
        nncli.train(path, out=tmp_path / "py")
    run = caught.value.run
    assert run.status == "diverged" and run.run_dir is not None
    assert run.metrics["reason"].startswith("loss became inf at epoch")
    cli_message = result.stderr.removeprefix("error: ").strip()
    assert str(caught.value) == cli_message.replace(str(cli.run_dirs()[0]), str(run.run_dir))
    with pytest.raises(TrainingFailed, match=r"^training diverged: loss became inf at epoch "
                                             r"22, batch 4; kept the weights of epoch 21 "
                                             r"\(lower training.learning_rate"):
        nncli.train(yaml.safe_load(DIVERGES))


def test_warnings_are_nncli_warnings():
    X, y = moons(40)
    with pytest.warns(NncliWarning, match=r"training.batch_size: 64 is larger than the training "
                                          r"set \(32 rows\)"):
        nncli.train({"network": LAYERS, "training": {"batch_size": 64, "epochs": 1}}, X, y)
    with pytest.warns(NncliWarning, match="training.checkpoint_every: a run trained in memory"):
        nncli.train({"network": LAYERS, "training": {"checkpoint_every": 1, "epochs": 1}}, X, y)


def test_numpy_values_in_a_dict_config_are_read_as_yaml_values():
    X, y = moons(40)
    config = {"network": {"layers": (dict(units=np.int64(4), activation="tanh"),
                                     dict(units=2, activation="softmax"))},
              "training": {"learning_rate": np.float32(0.5), "epochs": np.int64(2)}}
    run = nncli.train(config, X, y)
    assert run.config.training.epochs == 2 and run.metrics["epochs_run"] == 2


def test_a_saved_run_of_arrays_resumes_from_its_checkpoint_with_its_data(cli, tmp_path):
    X, y = moons()
    stop_after = []

    class Stop(TrainHooks):
        def epoch_end(self, record, result):
            stop_after.append(record["epoch"])

        def stop_requested(self):
            return len(stop_after) >= 5

    config = {"network": LAYERS, "training": {**TRAINING, "checkpoint_every": 2}}
    interrupted = train_with_hooks(config, X, y, out=tmp_path / "runs", hooks=Stop())
    assert interrupted.status == "interrupted"
    assert cli("train", "--resume", interrupted.run_dir, "--quiet", "--no-plots").exit_code == 0
    resumed = max(p for p in (tmp_path / "runs").iterdir() if p != interrupted.run_dir)
    assert (resumed / "data.csv").read_bytes() == (interrupted.run_dir / "data.csv").read_bytes()
    assert yaml.safe_load((resumed / "config.yaml").read_text())["data"]["path"] == "data.csv"
    with pytest.warns(NncliWarning, match="checkpoint_every: a run trained in memory"):
        whole = nncli.train(config, X, y)
    assert same_weights(weights(resumed), whole.network.parameters())


def test_importing_and_training_import_neither_sklearn_nor_matplotlib(tmp_path):
    code = """
import sys, numpy as np, nncli
config = {"network": {"layers": [{"units": 1, "activation": "sigmoid"}]}, "training": {"epochs": 2}}
nncli.train({**config, "data": {"source": "moons", "n_samples": 40}}).predict(np.zeros((3, 2)))
print(sorted(m for m in ("sklearn", "matplotlib", "rich", "typer", "pyarrow") if m in sys.modules))
X = np.random.default_rng(0).normal(size=(30, 2)); y = (X[:, 0] > 0).astype(int)
run = nncli.train(config, X, y, out=sys.argv[1])
run.predict(X); nncli.load_run(run.run_dir).predict_proba(X); run.save(sys.argv[1])
print(sorted(m for m in ("sklearn", "matplotlib", "rich", "typer") if m in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # pyarrow (the CSV reader) only for arrays and CSV files
    assert result.stdout == "[]\n[]\n"


def test_columns_are_named_by_x_and_y_and_categories_by_index():
    X, y = moons(60)
    columns = {"target": X[:, 0], "colour": np.array(["red", "blue", "green"] * 20)}
    run = nncli.train({"network": LAYERS, "training": {"epochs": 1}}, columns, y)
    assert run.feature_names == ["target", "colour"]
    assert run.target_names == ["target_2"]  # nncli's default name, taken by X: a suffix
    assert run.model_file.input_names == ["target", "colour=blue", "colour=green", "colour=red"]
    bins = np.column_stack([X[:, 0], np.arange(60) % 3])
    run = nncli.train({"network": LAYERS, "data": {"categorical": [-1]},
                       "training": {"epochs": 1}}, bins, y)
    assert run.config.data.categorical == ["x2"]
    assert run.model_file.input_names == ["x1", "x2=0", "x2=1", "x2=2"]
    with pytest.raises(InputError, match="^y: its name 'colour' is also a column of X$"):
        nncli.train({"network": LAYERS}, columns, {"colour": y})
