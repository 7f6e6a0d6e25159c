"""`nncli evaluate`: the validation split reproduced exactly, labelled files, bad input."""

import csv
import json
import shutil

import numpy as np
import pytest
import yaml

import nncli
from nncli.training.train import train_from_config

from conftest import CONFIGS, PENGUINS, assert_input_error, read_json, write_config


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return train_from_config(CONFIGS / "digits.yaml", ["training.epochs=3"],
                             tmp_path_factory.mktemp("runs")).run_dir


def evaluate_json(cli, *args):
    r = cli("evaluate", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_digits_validation_split_matches_the_training_summary(cli, digits):
    report = evaluate_json(cli, digits)
    summary = read_json(digits / "metrics.json")["validation"]
    assert report["accuracy"] == summary["accuracy"]  # exactly, not approximately
    assert report["loss"] == summary["loss"]
    assert report["data"] == "validation" and report["task"] == "classification"
    assert report["rows"] == 359  # 20% of each digit's rows, rounded half up
    assert report["classes"] == list(range(10))
    matrix = np.array(report["confusion_matrix"])
    assert matrix.sum() == 359
    assert np.trace(matrix) / 359 == report["accuracy"]
    assert [c["support"] for c in report["per_class"]] == list(matrix.sum(axis=1))
    recall = [c["recall"] for c in report["per_class"]]
    assert recall == list(np.diag(matrix) / matrix.sum(axis=1))


def test_table_for_people(cli, digits):
    r = cli("evaluate", digits)
    assert r.exit_code == 0, r.output
    summary = read_json(digits / "metrics.json")["validation"]
    lines = r.stdout.splitlines()
    assert lines[0] == f"{digits} on its validation split: 359 rows"
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines]
    assert ["accuracy", f"{summary['accuracy']:.6g}"] in cells, r.stdout
    assert ["loss (cross_entropy)", f"{summary['loss']:.6g}"] in cells
    assert any("true \\ predicted" in line for line in lines)


def test_labelled_file(cli, penguins):
    report = evaluate_json(cli, penguins.run_dir, "--data", PENGUINS)
    with PENGUINS.open() as f:
        rows = list(csv.DictReader(f))
    model = nncli.load_run(penguins.run_dir)
    X = np.array([[float(r[k]) for k in model.feature_names] for r in rows])
    predicted = model.predict(X)
    truth = np.array([r["species"] for r in rows], dtype=object)
    assert report["data"] == str(PENGUINS) and report["rows"] == 150
    assert report["accuracy"] == np.mean(predicted == truth)
    assert report["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    expected = [[int(np.sum((truth == t) & (predicted == p))) for p in report["classes"]]
                for t in report["classes"]]
    assert report["confusion_matrix"] == expected
    for c, row in zip(report["per_class"], expected):
        k = report["classes"].index(c["class"])
        column = sum(r[k] for r in expected)
        assert c["precision"] == row[k] / column and c["recall"] == row[k] / sum(row)


def test_a_class_never_predicted_has_no_precision(cli, tmp_path):
    config = write_config(tmp_path, """
data:
  source: inline
  task: classification
  x: [[0], [1], [2], [3]]
  y: [a, a, a, b]
network:
  layers: [{units: 2, activation: softmax, weights: [[0, 0]], biases: [1, 0]}]
training: {batch: full, learning_rate: 0.001, epochs: 1}
""")
    run = train_from_config(config, [], tmp_path / "runs").run_dir
    data = tmp_path / "labelled.csv"
    data.write_text("x1,target\n0,a\n3,b\n")
    report = evaluate_json(cli, run, "--data", data)
    assert report["accuracy"] == 0.5
    assert report["per_class"][1] == {"class": "b", "precision": None, "recall": 0.0, "f1": 0.0,
                                      "support": 1}
    r = cli("evaluate", run, "--data", data)
    assert "- : undefined (a class that is never predicted has no precision)" in r.stdout


def test_regression(cli, tmp_path):
    run = train_from_config(CONFIGS / "regression.yaml", ["training.epochs=3"],
                            tmp_path / "runs").run_dir
    report = evaluate_json(cli, run)
    summary = read_json(run / "metrics.json")["validation"]
    assert report["loss"] == summary["loss"]
    assert [report[k] for k in ("r2", "rmse", "mae")] == [summary[k] for k in ("r2", "rmse", "mae")]
    assert report["loss_function"] == "mse" and report["target_scale"] == "standard"
    # The loss is in the units the network trained in (the target standardized); the errors
    # are in the target's own units: MSE = loss * scale² (to rounding).
    scale = read_json(run / "model.json")["target_scaler"]["scale"][0]
    assert scale > 2 and report["mse"] == pytest.approx(report["loss"] * scale ** 2, rel=1e-9)
    assert report["rmse"] == pytest.approx(report["mse"] ** 0.5, rel=1e-12)
    assert report["per_target"] == [{"target": "target", "r2": report["r2"],
                                     "mse": report["mse"], "rmse": report["rmse"],
                                     "mae": report["mae"]}]
    assert 0 < report["mae"] < report["rmse"] * 1.5


# --- bad input -------------------------------------------------------------------------------

def test_missing_target_column(cli, penguins, tmp_path):
    data = tmp_path / "x.csv"
    data.write_text("bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g\n1,2,3,4\n")
    assert_input_error(cli("evaluate", penguins.run_dir, "--data", data),
                       f"{data}: missing target column(s) 'species'; the run needs 'species'")


def test_unknown_label(cli, penguins, tmp_path):
    data = tmp_path / "x.csv"
    data.write_text("species,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g\n"
                    "Adelie,1,2,3,4\nEmperor,1,2,3,4\n")
    assert_input_error(cli("evaluate", penguins.run_dir, "--data", data),
                       f"{data}: row 3, column 'species': label 'Emperor' is not one of the "
                       "run's classes ('Adelie', 'Chinstrap', 'Gentoo')")


def test_no_validation_split(cli, tmp_path):
    config = write_config(tmp_path, """
data: {source: xor}
network:
  layers: [{units: 4, activation: tanh}, {units: 2, activation: softmax}]
training: {batch: full, epochs: 2}
""")
    run = train_from_config(config, [], tmp_path / "runs").run_dir
    assert_input_error(cli("evaluate", run),
                       f"{run / 'config.yaml'}: data.validation is 0, so the run has no "
                       "validation split; evaluate on a labelled file with --data FILE")


def test_missing_config(cli, penguins, tmp_path):
    run = shutil.copytree(penguins.run_dir, tmp_path / "run")
    (run / "config.yaml").unlink()
    assert_input_error(cli("evaluate", run),
                       f"{run}: no config.yaml to reproduce the validation split from; "
                       "evaluate on a labelled file with --data FILE")


def test_data_changed_since_training(cli, penguins, tmp_path):
    data = tmp_path / "penguins.csv"
    shutil.copy(PENGUINS, data)
    run = shutil.copytree(penguins.run_dir, tmp_path / "run")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["path"] = str(data)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert evaluate_json(cli, run)["rows"] == 30  # the same data: fine
    data.write_text(PENGUINS.read_text().replace("51.1,", "52.1,", 1))
    assert_input_error(cli("evaluate", run),
                       f"{run / 'config.yaml'}: its data no longer match the run's model.json "
                       "(the data changed since training?); evaluate on a labelled file with "
                       "--data FILE")
