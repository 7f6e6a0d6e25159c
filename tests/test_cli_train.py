"""`nncli train` end to end through real files: the run directory, options, exit codes."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import read_json, weights, write_config

import nncli


def only_run(cli):
    dirs = cli.run_dirs()
    assert len(dirs) == 1, dirs
    return dirs[0]


@pytest.mark.parametrize("steps,expected", [(1, 0.77), (10, 0.5027), (15, 0.5002), (20, 0.5000)])
def test_worked_example_a(cli, configs, steps, expected):
    # w <- w - 0.1 * (2 w - 1) * 2 = 0.6 w + 0.2, so w_k = 0.5 + 0.45 * 0.6^k
    r = cli.train(configs / "example-a-one-weight.yaml", "--set", f"training.epochs={steps}")
    assert r.exit_code == 0, r.output
    w = weights(only_run(cli))
    assert set(w) == {"W1"}  # no bias
    assert round(float(w["W1"][0, 0]), 4) == expected


def test_worked_example_b(cli, configs):
    r = cli.train(configs / "example-b-two-layers.yaml", "--json")
    assert r.exit_code == 0, r.output
    run = only_run(cli)
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert rows == [{"epoch": "1", "loss": "9213.25", "r2": ""}]  # R² of one sample: undefined
    m = read_json(run / "metrics.json")
    assert round(m["train"]["loss"], 2) == 196.56  # after one step with learning rate 0.001
    assert m["train"]["r2"] is None and m["validation"] is None
    w = weights(run)
    # W2 - 0.001 * dL/dW2, with dL/dW2 = [[903.75, 468.75], [1687, 875], ...]
    np.testing.assert_allclose(w["W2"][0], [1 - 0.90375, 2 - 0.46875])
    np.testing.assert_allclose(w["b2"], [1 - 0.1205, 1 - 0.0625])
    np.testing.assert_allclose(w["W1"][0], [0.5 - 0.7365, 1 - 0.2745, 7 - 1.272, 3 - 0.9105])


def test_run_directory_contents(cli, configs):
    r = cli.train(configs / "blobs.yaml", "--set", "training.epochs=7", plots=True)
    assert r.exit_code == 0, r.output
    run = only_run(cli)
    assert run.name.startswith("blobs-")
    assert sorted(p.name for p in run.iterdir()) == \
        ["boundary.gif", "config.yaml", "decision_boundary.png", "history.csv", "layers.csv",
         "layers.png", "loss.png", "metrics.json", "model.json", "network.png", "report.html",
         "snapshots.npz", "units.png", "weights.npz"]  # pictures: docs/plots.md
    rows = list(csv.reader((run / "history.csv").open()))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(1, 8)]
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["training"]["epochs"] == 7
    assert resolved["data"]["validation"] == 0.2 and resolved["network"]["input"] == 2
    assert resolved["network"]["layers"][0]["init"] == "he"  # default for relu
    assert resolved["network"]["layers"][1]["init"] == "xavier"
    model = read_json(run / "model.json")
    assert model["classes"] == [0, 1, 2] and model["feature_names"] == ["x1", "x2"]
    assert [l["units"] for l in model["layers"]] == [16, 3]
    assert model["nncli_version"] == nncli.__version__
    m = read_json(run / "metrics.json")
    assert m["status"] == "finished" and m["epochs_run"] == 7
    assert set(m["validation"]) == {"loss", "accuracy"}
    with np.load(run / "weights.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["W1", "W2", "b1", "b2"]
        assert z["W1"].shape == (2, 16) and z["b2"].shape == (3,)


def test_same_seed_same_weights_and_resolved_config_reproduces(cli, configs, tmp_path):
    for _ in range(2):
        assert cli.train(configs / "moons.yaml", "--set", "training.epochs=5").exit_code == 0
    first, second = cli.run_dirs()
    a, b = weights(first), weights(second)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # Training again from the resolved config gives the same weights bit for bit.
    cli.out = tmp_path / "again"
    assert cli.train(first / "config.yaml").exit_code == 0
    c = weights(only_run(cli))
    assert all(np.array_equal(a[k], c[k]) for k in a)
    # Another seed, other weights.
    cli.out = tmp_path / "seed1"
    assert cli.train(configs / "moons.yaml", "--set", "training.epochs=5", "--set", "seed=1").exit_code == 0
    d = weights(only_run(cli))
    assert not np.array_equal(a["W1"], d["W1"])


def test_json_is_the_last_stdout_line(cli, configs):
    r = cli("train", configs / "xor-mlp.yaml", "--out", cli.out, "--json")
    assert r.exit_code == 0
    last = r.stdout.strip().splitlines()[-1]
    obj = json.loads(last)
    assert obj["run_dir"] == str(only_run(cli))
    assert obj["train"]["accuracy"] == 1.0  # XOR is solved
    assert obj["status"] == "finished"


def test_xor_perceptron_cannot_learn_xor(cli, configs):
    r = cli.train(configs / "xor-perceptron.yaml", "--json")
    obj = json.loads(r.stdout.strip().splitlines()[-1])
    history = list(csv.DictReader((only_run(cli) / "history.csv").open()))
    assert obj["train"]["accuracy"] < 1.0
    assert max(float(row["accuracy"]) for row in history) <= 0.75
    # a step output's accuracy is taken with the epoch's end weights: the last row is the
    # summary's (it once said 0 while the summary said 0.5)
    assert float(history[-1]["accuracy"]) == obj["train"]["accuracy"] == 0.5


@pytest.mark.slow
def test_digits_reaches_95_percent(cli, configs):
    r = cli.train(configs / "digits.yaml", "--json")
    obj = json.loads(r.stdout.strip().splitlines()[-1])
    assert obj["validation"]["accuracy"] >= 0.95


def test_float32_run(cli, configs):
    r = cli.train(configs / "blobs.yaml", "--set", "dtype=float32", "--set", "training.epochs=3")
    assert r.exit_code == 0, r.output
    w = weights(only_run(cli))
    assert all(v.dtype == np.float32 for v in w.values())


def test_no_run_is_overwritten(cli, configs):
    for _ in range(3):  # all three start within the same second or two
        assert cli.train(configs / "xor-perceptron.yaml").exit_code == 0
    dirs = cli.run_dirs()
    assert len(dirs) == 3 and len({d.name for d in dirs}) == 3
    assert not [p for p in cli.out.iterdir() if p.name.startswith(".")]  # no temporary left


BAD_CONFIGS = {
    "bad yaml": ("data: {source: blobs\n", "invalid YAML (line 2, column 1)"),
    "unknown key": ("data: {source: blobs}\nnetwork: {layers: [{units: 3, activation: softmax}]}\n"
                    "trainig: {epochs: 3}\n", "trainig: unknown key (did you mean training?)"),
    "wrong type": ("data: {source: blobs}\nnetwork: {layers: [{units: three, activation: softmax}]}\n",
                   "network.layers[0] (layer 1).units: Input should be a valid integer"),
    "missing csv": ("data: {source: csv, path: nope.csv}\nnetwork: {layers: [{units: 1, activation: linear}]}\n",
                    "nope.csv"),
    "output units": ("data: {source: blobs, centers: 3}\nnetwork: {layers: [{units: 4, activation: softmax}]}\n",
                     "the output layer has 4 units but the data has 3 classes"),
    "ce on regression": ("data: {source: regression}\nnetwork: {layers: [{units: 2, activation: softmax}]}\n",
                         "training.loss: cross_entropy needs a classification target"),
    "input mismatch": ("data: {source: iris}\nnetwork: {input: 3, layers: [{units: 3, activation: softmax}]}\n",
                       "network.input: 3 but the data has 4 features"),
    "first layer weights": ("data: {source: iris}\nnetwork: {layers: [{units: 3, activation: softmax, "
                            "weights: [[1, 2, 3]]}]}\n", "weights: expected shape (4, 3) (fan_in, units), got (1, 3)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_input_exits_2_with_one_message_and_no_run(cli, tmp_path, case):
    text, expected = BAD_CONFIGS[case]
    path = write_config(tmp_path, text)
    r = cli.train(path)
    assert r.exit_code == 2
    assert expected in r.stderr
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.output
    assert not cli.out.exists() or not any(cli.out.iterdir())


CSV_BAD = {
    "non-numeric cell": ("a,b,label\n1,2,x\n3,oops,y\n" + "4,5,x\n" * 10, "oops"),
    "missing cell": ("a,b,label\n1,2,x\n3,,y\n" + "4,5,x\n" * 10, "row 3"),
    "unknown target": ("a,b,label\n1,2,x\n" + "4,5,y\n" * 10, "species"),
}


@pytest.mark.parametrize("case", sorted(CSV_BAD))
def test_bad_csv_exits_2(cli, tmp_path, case):
    body, expected = CSV_BAD[case]
    (tmp_path / "d.csv").write_text(body)
    target = "species" if case == "unknown target" else "label"
    path = write_config(tmp_path, f"data: {{source: csv, path: d.csv, target: {target}}}\n"
                                  "network: {layers: [{units: 2, activation: softmax}]}\n")
    r = cli.train(path)
    assert r.exit_code == 2, r.output
    assert expected in r.stderr and "d.csv" in r.stderr
    assert "Traceback" not in r.output
    assert not cli.out.exists() or not any(cli.out.iterdir())


def test_csv_config_trains_with_string_labels(cli, configs):
    r = cli.train(configs / "penguins-csv.yaml", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout.strip().splitlines()[-1])
    assert obj["validation"]["accuracy"] >= 0.9
    model = read_json(only_run(cli) / "model.json")
    assert all(isinstance(c, str) for c in model["classes"]) and len(model["classes"]) == 3


def test_bad_arguments_exit_2(cli, configs):
    assert cli("train").exit_code == 2
    r = cli("train", configs / "blobs.yaml", "--set", "epochs")
    assert r.exit_code == 2 and "expected KEY=VALUE" in r.stderr
    r = cli("train", configs / "blobs.yaml", "--bogus")
    assert r.exit_code == 2


def test_version_and_help(cli):
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout == f"nncli {nncli.__version__}\n"
    from nncli.cli import app
    commands = sorted(c.name or c.callback.__name__ for c in app.registered_commands)
    assert commands == ["check", "config", "doctor", "evaluate", "explain", "export",
                        "gradcheck", "plot", "predict", "report", "runs", "schema", "show",
                        "sweep", "trace", "train"]
    for command in commands:  # every command explains itself with an example
        r = cli(command, "--help")
        assert r.exit_code == 0
        assert "Example" in r.stdout and f"nncli {command} " in r.stdout, command


def test_python_dash_m_and_console_script(tmp_path, configs):
    r = subprocess.run([sys.executable, "-m", "nncli", "train", str(configs / "xor-mlp.yaml"),
                        "--out", str(tmp_path), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["train"]["accuracy"] == 1.0
    # stderr is not a terminal: plain progress lines, no escape sequences
    assert "epoch 500/500" in r.stderr and "\x1b[" not in r.stderr


def test_data_too_large_for_float32_is_refused(cli, tmp_path):
    path = write_config(tmp_path, "dtype: float32\ndata: {source: inline, x: [[1.0e39], [2.0]], y: [1, 2]}\n"
                                  "network: {layers: [{units: 1, activation: linear}]}\n"
                                  "training: {batch: full}\n")
    r = cli.train(path)
    assert r.exit_code == 2
    assert "data: some feature values are not finite in float32" in r.stderr
    assert cli.train(path, "--set", "dtype=float64", "--set", "data.scale=standard").exit_code == 0


def test_divergence_exits_1_and_keeps_the_last_finite_weights(cli, tmp_path):
    path = write_config(tmp_path, "data: {source: inline, x: [[1.0e30], [2.0]], y: [1, 2]}\n"
                                  "network: {layers: [{units: 1, activation: linear}]}\n"
                                  "training: {batch: full, epochs: 50}\n")
    r = cli.train(path)
    assert r.exit_code == 1
    assert "training diverged: loss became inf at epoch 4, batch 1; kept the weights of epoch 3" in r.stderr
    assert "lower training.learning_rate" in r.stderr
    run = only_run(cli)
    m = read_json(run / "metrics.json")
    assert m["status"] == "diverged" and m["epochs_run"] == 3
    assert all(np.all(np.isfinite(v)) for v in weights(run).values())
    assert len((run / "history.csv").read_text().splitlines()) == 4  # header + epochs 1-3
    assert "RuntimeWarning" not in r.stderr
