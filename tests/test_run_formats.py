"""Run directories written by earlier nncli versions still load and predict the same numbers.

tests/fixtures/run-v1-* were written by nncli before issue 13 (model.json format 1), with the
predictions that nncli made from them (tests/fixtures/README.md says how).
"""

import json

import numpy as np
import pytest

import nncli
from nncli.runs.model_file import FORMAT_VERSION

from conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.mark.parametrize("run,source,extra", [
    ("run-v1-penguins", "penguins-input.csv", ["--proba"]),
    ("run-v1-regression", "regression-input.csv", []),
])
def test_a_format_1_run_predicts_what_it_predicted_before(cli, run, source, extra):
    assert json.loads((FIXTURES / run / "model.json").read_text())["format_version"] == 1
    r = cli("predict", FIXTURES / run, FIXTURES / source, *extra)
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    assert r.stdout == (FIXTURES / run / "expected-predictions.csv").read_text()  # every digit


def test_a_format_1_run_reads_as_numeric_features_without_filling_or_target_scaling():
    model = nncli.load_run(FIXTURES / "run-v1-regression")
    assert FORMAT_VERSION == 2
    assert model.input_names == model.feature_names == ["x1", "x2", "x3"]
    assert [c.kind for c in model.preprocessing.columns] == ["numeric"] * 3
    assert model.preprocessing.missing == "error"
    assert model.preprocessing.target_scaler.kind == "none"
    X = np.array([[0.5, -1.0, 2.0]])
    assert np.array_equal(model.predict(X), model.outputs(X).astype(np.float64))


def test_a_format_1_run_evaluates_its_validation_split_as_at_training(cli):
    run = FIXTURES / "run-v1-penguins"
    r = cli("evaluate", run, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    summary = json.loads((run / "metrics.json").read_text())["validation"]
    assert (report["loss"], report["accuracy"]) == (summary["loss"], summary["accuracy"])
