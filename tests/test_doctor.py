"""`nncli doctor`: a run that shows each condition gets the finding that names it, with
evidence and a runnable fix; the healthy shipped configs get none; --verify trains the fix."""

import json
import warnings

import pytest

from conftest import CONFIGS, Cli, write_config

from nncli.insight.doctor import diagnose, facts_of_run
from nncli.training.train import train_from_config

MOONS = "data: {source: moons, n_samples: 200, noise: 0.2}\n"
CONDITIONS = {
    "diverged": ("data: {source: regression, n_samples: 40, n_features: 2}\n"
                 "network: {layers: [{units: 1, activation: linear}]}\n"
                 "training: {batch: full, learning_rate: 50, epochs: 300}\n"),
    "oscillating": (MOONS + "network: {layers: [{units: 8, activation: tanh}, "
                    "{units: 2, activation: softmax}]}\n"
                    "training: {batch: full, learning_rate: 40, epochs: 40}\n"),
    "flat": (MOONS + "network: {layers: [{units: 8, activation: tanh}, "
             "{units: 2, activation: softmax}]}\n"
             "training: {batch: full, learning_rate: 0.00001, epochs: 20}\n"),
    "vanishing": (MOONS + "network: {layers: ["
                  + "{units: 6, activation: sigmoid}, " * 8 + "{units: 2, activation: softmax}]}\n"
                  "training: {batch: full, learning_rate: 0.01, epochs: 20}\n"),
    "dead_relu": (MOONS + "network: {layers: [{units: 4, activation: relu, "
                  "biases: [-50, -50, -50, -50]}, {units: 2, activation: softmax}]}\n"
                  "training: {batch: full, learning_rate: 0.1, epochs: 12}\n"),
    "saturated": (MOONS + "network: {layers: [{units: 2, activation: tanh, "
                  "weights: [[40, -40], [40, 40]]}, {units: 2, activation: softmax}]}\n"
                  "training: {batch: full, learning_rate: 0.01, epochs: 12}\n"),
    "underfitting": None,  # configs/xor-perceptron.yaml
    "overfitting": None,  # configs/moons-overfit.yaml
    "unscaled_inputs": ("data: {source: blobs, n_samples: 60, centers: 2, cluster_std: 30, "
                        "scale: none}\n"
                        "network: {layers: [{units: 8, activation: relu}, "
                        "{units: 2, activation: softmax}]}\n"
                        "training: {batch: full, learning_rate: 0.001, epochs: 12}\n"),
    "unscaled_target": ("data: {source: regression, n_samples: 60, n_features: 2, noise: 1, "
                        "scale_target: none}\n"
                        "network: {layers: [{units: 8, activation: tanh}, "
                        "{units: 1, activation: linear}]}\n"
                        "training: {batch: full, learning_rate: 0.0001, epochs: 12}\n"),
    "class_imbalance": ("data: {source: inline, task: classification, x: [[0, 0], [0, 1], "
                        "[1, 0], [1, 1], [2, 0], [2, 1], [0, 2], [1, 2], [2, 2], [3, 3], "
                        "[3, 0], [3, 1]], y: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]}\n"
                        "network: {layers: [{units: 4, activation: tanh}, "
                        "{units: 1, activation: sigmoid}]}\n"
                        "training: {batch: full, learning_rate: 0.5, epochs: 12}\n"),
}
SHIPPED = {"underfitting": "xor-perceptron.yaml", "overfitting": "moons-overfit.yaml"}
EVIDENCE = {
    "diverged": "validation loss became inf at the end of epoch",
    "oscillating": "the loss rose by more than 5%",
    "flat": "the loss went from 0.9203 to 0.9201 in 20 epochs",
    "vanishing": "layer 1's gradient RMS is",
    "dead_relu": "4 of the 4 relu units of layer 1 output 0 on every training row with the "
                 "final weights; on every sampled row in each of the last 5 epochs",
    "saturated": "of layer 1's tanh outputs lie in the flat part",
    "underfitting": "train accuracy 0.5 after 25 epochs; always answering the most common "
                    "class gives 0.5",
    "overfitting": "val_loss was lowest at epoch 20 (0.2703) and rose to 0.8828 by epoch 300",
    "unscaled_inputs": "data.scale is none and input 'x1' has a standard deviation of",
    "unscaled_target": "the target's standard deviation is",
    "class_imbalance": "class 1: 1 of 12 training rows, class 0: 11",
}
FIX = {
    "diverged": ["training.learning_rate=5"],
    "oscillating": ["training.learning_rate=13"],
    "flat": ["training.learning_rate=0.0001"],
    "dead_relu": ["network.layers.0.activation=leaky_relu"],
    "overfitting": ["training.early_stopping={patience: 20}"],
    "unscaled_inputs": ["data.scale=standard"],
    "unscaled_target": ["data.scale_target=standard"],
    "class_imbalance": ["training.class_weight=balanced"],
    "underfitting": ["network.layers=[{units: 8, activation: tanh}, "
                     "{units: 1, activation: sigmoid}]", "training.loss=binary_cross_entropy"],
}


@pytest.fixture(scope="module")
def sick(tmp_path_factory):
    """One run per condition (each a fraction of a second)."""
    folder = tmp_path_factory.mktemp("sick")
    runs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for code, text in CONDITIONS.items():
            config = CONFIGS / SHIPPED[code] if text is None else \
                write_config(folder, text, f"{code}.yaml")
            runs[code] = train_from_config(config, [], folder / "runs").run_dir
    return runs


@pytest.mark.parametrize("code", list(CONDITIONS))
def test_each_condition_is_named_with_its_evidence_and_fix(sick, code):
    findings = {f.code: f for f in diagnose(facts_of_run(sick[code]))}
    name = "flat" if code == "vanishing" else code
    assert name in findings, findings
    finding = findings[name]
    assert EVIDENCE[code] in finding.evidence
    if code in FIX:
        assert finding.fix == FIX[code]
    if code == "vanishing":  # the fix: relu in every sigmoid hidden layer
        assert finding.fix == [f"network.layers.{i}.activation=relu" for i in range(8)]
        assert "gradient vanishes" in finding.title


def test_dead_units_are_counted_over_every_row_with_the_final_weights():
    """layers.csv's dead column is a sample (the first rows of each epoch); doctor counts the
    units that output 0 on every training row exactly, in chunks, and names only those."""
    import numpy as np

    from nncli.engine.activations import make_activation
    from nncli.engine.network import Layer, Network
    from nncli.insight.doctor import Facts, _dead, dead_units
    from nncli.config import Config

    relu, soft = make_activation("relu"), make_activation("softmax")
    # unit 1 fires for x > 0, unit 2 for x > 9000 only (the last row), unit 3 never
    net = Network([Layer(np.array([[1.0, 1.0, -1.0]]), np.array([0.0, -9000.0, -1.0]), relu),
                   Layer(np.ones((3, 2)), np.zeros(2), soft)])
    X = np.concatenate([np.linspace(-1, 1, 9000), [9500.0]])[:, None]
    assert dead_units(net, X) == [1, None]
    assert dead_units(net, X[:-1]) == [2, None]  # without the last row, unit 2 never fires
    config = Config.model_validate({"data": {"source": "moons"}, "network": {"layers": [
        {"units": 3, "activation": "relu"}, {"units": 2, "activation": "softmax"}]}})
    sampled = [{"epoch": e, "layer": 1, "dead": 2 / 3} for e in range(1, 6)]
    facts = Facts(config, {}, [], sampled, "classification", dead_units=[1, None])
    assert _dead(facts) is None  # the sample saw 2 of 3 dead, every row shows only 1
    facts.dead_units = [2, None]
    assert _dead(facts).evidence.startswith("2 of the 3 relu units of layer 1 output 0 on "
                                            "every training row with the final weights")


def test_the_fixes_are_runnable_as_printed(sick, tmp_path):
    """Every fix is a --set nncli train accepts: config validation passes (one epoch)."""
    from nncli.config import load_config

    for code, run in sick.items():
        for finding in diagnose(facts_of_run(run)):
            load_config(run / "config.yaml", finding.fix)  # raises InputError if not


def test_healthy_shipped_configs_get_no_finding(tmp_path):
    shipped = {"blobs.yaml": [], "moons.yaml": [], "moons-adam.yaml": [], "xor-mlp.yaml": [],
               "penguins-csv.yaml": [], "penguins-messy.yaml": [],
               "example-a-one-weight.yaml": [], "example-b-two-layers.yaml": [],
               "digits.yaml": ["training.epochs=5"], "regression.yaml": ["training.epochs=10"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, sets in shipped.items():
            run = train_from_config(CONFIGS / name, sets, tmp_path).run_dir
            assert diagnose(facts_of_run(run)) == [], name


def test_doctor_command_prints_findings_and_no_problems(sick, tmp_path):
    cli = Cli(tmp_path / "runs")
    r = cli("doctor", sick["class_imbalance"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.startswith(f"{sick['class_imbalance']}: ")
    assert "Imbalanced classes [class_imbalance]" in out
    assert f"try: nncli train {sick['class_imbalance']}/config.yaml --set " \
           f"training.class_weight=balanced" in out
    r = cli("doctor", sick["overfitting"], "--json")
    data = json.loads(r.stdout)
    (finding,) = data["findings"]
    assert finding["code"] == "overfitting"
    assert finding["command"] == (f"nncli train {sick['overfitting']}/config.yaml --set "
                                  f"\"training.early_stopping={{patience: 20}}\"")
    healthy = train_from_config(CONFIGS / "xor-mlp.yaml", [], tmp_path / "h").run_dir
    r = cli("doctor", healthy)
    assert r.stdout == f"{healthy}: no problems found\n"
    r = cli("doctor", tmp_path / "missing")
    assert r.exit_code == 2 and r.stderr == f"error: {tmp_path / 'missing'}: no such run directory\n"


def test_verify_trains_the_fix_beside_the_run_and_says_which_did_better(sick, tmp_path):
    run = sick["overfitting"]
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    cli = Cli(tmp_path)
    r = cli("doctor", run, "--verify", "--out", tmp_path / "fixed", "--json")
    assert r.exit_code == 0, r.output
    (finding,) = json.loads(r.stdout)["findings"]
    verdict = finding["verify"]
    assert verdict["better"] is True and verdict["measure"] == "val_loss"
    assert verdict["original"] == pytest.approx(0.8828, abs=1e-4)
    assert verdict["fixed"] == pytest.approx(0.2703, abs=1e-4)  # early stopping's best epoch
    assert len(list((tmp_path / "fixed").iterdir())) == 1
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # the run is untouched


@pytest.mark.parametrize("damage,message", [
    (lambda run: (run / "weights.npz").unlink(),
     "{run}: no weights.npz (not a finished nncli run)"),
    (lambda run: (run / "weights.npz").write_text("junk"),
     "{run}/weights.npz: not an .npz archive"),
    (lambda run: (run / "metrics.json").write_text("{"), "{run}/metrics.json: not valid JSON"),
    (lambda run: (run / "layers.csv").write_text("junk\n"),
     "{run}/layers.csv: expected a header starting with epoch,layer,"),
])
def test_a_damaged_run_is_one_error_line_for_doctor_and_report(sick, tmp_path, damage, message):
    import shutil

    run = tmp_path / "damaged"
    shutil.copytree(sick["class_imbalance"], run)
    damage(run)
    cli = Cli(tmp_path)
    for command in ("doctor", "report"):
        r = cli(command, run)
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("error: " + message.format(run=run)), r.stderr
        assert len(r.stderr.splitlines()) == 1 and not (run / "report.html").exists()


def test_verify_never_writes_into_the_run_it_diagnoses(sick, tmp_path):
    run = sick["flat"]
    before = sorted(p.name for p in run.iterdir())
    cli = Cli(tmp_path)
    for out in (run, run / "sub"):
        r = cli("doctor", run, "--verify", "--out", out)
        assert r.exit_code == 2, r.output
        assert r.stderr == (f"error: --out {out}: inside the run being diagnosed ({run}); the "
                            f"run is never changed, so keep the fixed runs elsewhere\n")
    r = cli("doctor", run, "--out", tmp_path / "kept")
    assert r.exit_code == 2
    assert r.stderr == "error: --out: where --verify keeps the fixed runs; give --verify too\n"
    assert sorted(p.name for p in run.iterdir()) == before and not (tmp_path / "kept").exists()


def test_a_verdict_shows_enough_digits_to_tell_the_two_numbers_apart():
    from nncli.cli.doctor import _shown

    assert _shown(0.8828, 0.2703) == ("0.8828", "0.2703")
    assert _shown(0.718512, 0.718461) == ("0.71851", "0.71846")
    assert _shown(0.5, 0.5) == ("0.5", "0.5")
    assert _shown("diverged", "finished") == ("diverged", "finished")
