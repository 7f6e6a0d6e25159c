"""The learner's tools (issue 18): the step calculator against trace, worksheets, `nncli check`
(follow-through, precision, every catalogued mistake), `nncli explain` and `nncli export`."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import CONFIGS, ROOT, assert_input_error, write_config

from nncli.insight.answers import parse_number, read_answers
from nncli.insight.cells import exercise_config
from nncli.insight.check import check_config, grade
from nncli.insight.stepcalc import UPDATE_FORMS
from nncli.insight.trace import trace_config
from nncli.insight.worksheet import fill, to_csv, to_markdown

EXAMPLE_A = CONFIGS / "example-a-one-weight.yaml"
EXAMPLE_B = CONFIGS / "example-b-two-layers.yaml"

# Three samples, one weight, half_sse: a = 0.95 x = [1.9, 0.95, 0.95], a − y = [0.9, 0.95, −0.05],
# L = ½ (0.81 + 0.9025 + 0.0025) / 3 = 0.2858333, δ = (a − y) / 3 = [0.3, 0.3166667, −0.0166667],
# dW = Σ x δ = 0.6 + 0.3166667 − 0.0166667 = 0.9, W′ = 0.95 − 0.1 · 0.9 = 0.86.
THREE = """
data: {source: inline, x: [[2], [1], [1]], y: [1, 0, 1]}
network: {bias: false, layers: [{units: 1, activation: linear, weights: [[0.95]]}]}
training: {loss: half_sse, batch: full, learning_rate: 0.1}
"""

# One sigmoid hidden unit: z1 = 0.5, a1 = σ(0.5) = 0.6224593, z2 = a2 = 2 a1 = 1.2449187,
# δ2 = a2 − 1 = 0.2449187, δ1 = δ2 · 2 · a1 (1 − a1).
SIGMOID = """
data: {source: inline, x: [[1]], y: [1]}
network:
  layers:
    - {units: 1, activation: sigmoid, weights: [[0.5]], biases: [0]}
    - {units: 1, activation: linear, weights: [[2]], biases: [0]}
training: {loss: half_sse, batch: full, learning_rate: 0.1}
"""

# A sigmoid output with binary cross-entropy: a = [σ(0.5), σ(−0.5)] = [0.6224593, 0.3775407].
SIGMOID_OUT = """
data: {source: inline, x: [[1], [-1]], y: [1, 0], task: classification}
network: {layers: [{units: 1, activation: sigmoid, weights: [[0.5]], biases: [0]}]}
training: {batch: full, learning_rate: 0.1}
"""

SHUFFLED = """
seed: 4
data: {source: inline, x: [[0.1], [0.5], [0.9], [1.3], [1.7], [2.1], [2.5], [2.9], [3.3], [3.7]],
       y: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
network: {layers: [{units: 3, activation: tanh}, {units: 1, activation: linear}]}
training: {loss: mse, batch: minibatch, batch_size: 4, learning_rate: 0.05}
"""


def sigma(z):
    return 1 / (1 + np.exp(-z))


def answers(tmp_path, cells: dict, name="answers.csv"):
    """A name,value CSV without a header, as a learner writes one."""
    path = tmp_path / name
    path.write_text("".join(f"{k},{v}\n" for k, v in cells.items()))
    return path


def rounded_by_hand(ex, decimals: int) -> dict:
    """What a learner writes who rounds every number to ``decimals`` and goes on with the
    rounded one: each cell as the exercise rerun that way gives it."""
    def rounding(number, q, value, step):
        return np.round(value, decimals)

    steps = ex.rerun(rounding)
    return {c.label: f"{float(steps[c.step - 1].values[c.key][c.index]):.{decimals}f}"
            for c in ex.all_cells() if c.stage != "given"}


# --- the step calculator ---------------------------------------------------------------------

# Every feature of issue 15 at once: two hidden layers with dropout, l2 and l1, a step
# schedule (the rate halves every epoch), class weights, minibatches of 3 of 7 rows (a short
# last batch, reshuffled); each rule is set with --set.
EVERYTHING = """
seed: 5
data:
  source: inline
  x: [[0.1, 1.0], [0.5, -0.3], [0.9, 0.2], [1.3, -1.1], [1.7, 0.4], [-0.4, 0.8], [2.1, -0.6]]
  y: [0, 1, 1, 0, 2, 2, 1]
  task: classification
  validation: 0
network:
  layers:
    - {units: 3, activation: tanh, dropout: 0.4}
    - {units: 3, activation: sigmoid, dropout: 0.3}
    - {units: 3, activation: softmax}
training:
  batch: minibatch
  batch_size: 3
  learning_rate: 0.1
  l2: 0.05
  l1: 0.01
  schedule: {kind: step, every: 1, factor: 0.5}
  class_weight: {0: 2.0, 2: 0.5}
"""

# Regression with a sample_weight column: rows (x, y, w) = (1, 0, 1), (2, 0, 3).
WEIGHTED_CSV = "x,y,w\n1,0,1\n2,0,3\n"
WEIGHTED = """
data: {source: csv, path: weighted.csv, target: y, sample_weight: w, validation: 0,
       scale: none, scale_target: none}
network: {bias: false, layers: [{units: 1, activation: linear, weights: [[0.5]]}]}
training: {loss: half_sse, batch: full, learning_rate: 0.1}
"""


def rule(update, form=None):
    return [f"training.update={update}"] + (
        [f"training.momentum_form={form}", "training.momentum=0.8"] if form else [])


@pytest.mark.parametrize("config, overrides, steps", [
    (EXAMPLE_B, [], 3),
    (CONFIGS / "xor-mlp.yaml", [], 3),
    (CONFIGS / "xor-perceptron.yaml", [], 5),
    (CONFIGS / "moons.yaml", ["dtype=float32"], 2),
    (CONFIGS / "blobs.yaml", ["training.update=normalized", "network.layers.0.freeze=[weights]"],
     3),
    ("shuffled", [], 6),
    *[("everything", rule(*r), 7) for r in [
        ("gradient",), ("normalized",), ("momentum", "classic"), ("momentum", "pytorch"),
        ("momentum", "hagan"), ("nesterov", "classic"), ("nesterov", "pytorch"), ("adam",),
        ("rmsprop",), ("adagrad",)]],
    ("everything", rule("adam") + ["dtype=float32", "network.layers.1.freeze=[biases]"], 4),
    ("everything", rule("nesterov", "pytorch") + [
        "data.validation=0.3", "training.schedule={kind: plateau, factor: 0.5, patience: 1, "
        "min_delta: 0.01, monitor: loss}"], 9),
    ("weighted", rule("rmsprop") + ["training.schedule={kind: exponential, factor: 0.9}"], 3),
    (CONFIGS / "moons-adam.yaml", [], 2),
])
def test_the_calculator_gives_trace_numbers_bit_for_bit(tmp_path, config, overrides, steps):
    """Every quantity, the rule's state and the rate of every step, for every update rule with
    penalties, weights, schedules (one that watches the loss) and dropout."""
    if config == "shuffled":  # minibatches of 4, 4, 2 rows, reshuffled each epoch
        config = write_config(tmp_path, SHUFFLED)
    elif config == "everything":
        config = write_config(tmp_path, EVERYTHING)
    elif config == "weighted":
        (tmp_path / "weighted.csv").write_text(WEIGHTED_CSV)
        config = write_config(tmp_path, WEIGHTED)
    ex = exercise_config(config, overrides, steps)
    tr = trace_config(config, overrides, steps)
    net = tr.experiment.network
    assert len(ex.steps) == len(tr.steps) == steps
    state_cells = 0
    for b, step, t in zip(ex.batches, ex.steps, tr.steps):
        v = step.values
        assert list(b.rows) == list(t.rows)
        assert b.lr == t.lr and float(v["lr"]) == t.lr
        assert float(v["L"]) == t.loss
        assert (t.weights is None) == ("w" not in v)
        if t.weights is not None:
            np.testing.assert_array_equal(v["w"], t.weights)
        assert ("penalty" in v) == (t.penalty is not None)
        if t.penalty is not None:
            assert float(v["penalty"]) == t.penalty
        for layer, mask in (tr.masks or {}).items():
            np.testing.assert_array_equal(v[f"mask{layer}"], mask[:len(b.rows)])
        for i, layer in enumerate(t.layers, start=1):
            for key, want in [("z", layer.z), ("a", layer.a), ("delta", layer.delta),
                              ("dW", layer.dW), ("db", layer.db)]:
                if want is not None:
                    np.testing.assert_array_equal(v[f"{key}{i}"], want, err_msg=f"{key}{i}")
        for name, want in t.updated.items():
            np.testing.assert_array_equal(v[f"{name}'"], want, err_msg=f"{name}'")
        if t.grad_norm is not None:
            assert float(v["norm"]) == t.grad_norm
        for k, flat in t.optimizer.items():  # v; m, v, m_hat, v_hat; s
            for name, want in net.named(flat).items():
                key = f"{k.replace('_', '')}{name}'"
                if ex.model.trainable[name]:
                    np.testing.assert_array_equal(v[key], want, err_msg=key)
                    state_cells += 1
                else:  # a frozen array has no state cells: its state stays zero
                    assert key not in v and not want.any()
    assert state_cells == sum(len(t.optimizer) for t in tr.steps) * sum(
        ex.model.trainable.values())
    assert [b.lr for b in ex.batches] == [t.lr for t in tr.steps]


def test_every_rule_and_feature_is_modelled(tmp_path):
    """Nothing of issue 15 is refused any more: every rule has its update form, and a config
    with every feature at once gives a worksheet."""
    from nncli.engine.optim import UPDATES

    assert set(UPDATE_FORMS) == set(UPDATES)
    ex = exercise_config(write_config(tmp_path, EVERYTHING), rule("adam"), 2)
    assert ex.givens(1) == ["x", "y", "w", "mask1", "mask2", "W1", "b1", "W2", "b2", "W3",
                            "b3", "mW1", "mb1", "mW2", "mb2", "mW3", "mb3", "vW1", "vb1",
                            "vW2", "vb2", "vW3", "vb3"]
    assert ex.givens(2) == ["x", "y", "w", "mask1", "mask2"]
    assert [b.lr for b in ex.batches] == [0.1, 0.1]
    assert [q.key for q in ex.quantities if q.stage == "update"][:3] == ["mW1'", "mb1'", "mW2'"]


def test_a_step_made_with_a_mistake(tmp_path):
    # Example B with δ1 computed from the updated W2′ = W2 − 0.001 dW2, by hand:
    # W2′ rows [0.09625, 1.53125], [-1.187, -0.375], [-0.2535, -0.6875], [0.49375, 0.21875];
    # δ1 = δ2 W2′ᵀ with δ2 = [120.5, 62.5]
    ex = exercise_config(EXAMPLE_B, [], 1)
    (step,) = ex.rerun(slips={"delta1": "updated_weight"})
    np.testing.assert_allclose(step.values["delta1"], [[107.30125, -166.471, -73.5155, 73.16875]],
                               rtol=1e-12)
    np.testing.assert_allclose(step.values["dW1"][0], 3 * step.values["delta1"][0], rtol=1e-12)


# --- worksheets ------------------------------------------------------------------------------

def test_worksheet_markdown_of_example_b(cli):
    r = cli("trace", EXAMPLE_B, "--worksheet")  # text: the Markdown, rendered
    assert r.exit_code == 0, r.output
    assert "Worksheet: example-b, 1 step" in r.stdout and "Step 1: epoch 1" in r.stdout
    assert "**" not in r.stdout and "|--:|" not in r.stdout
    r = cli("trace", EXAMPLE_B, "--worksheet", "--format", "markdown")
    assert r.exit_code == 0, r.output
    md = r.stdout
    order = ["# Worksheet: example-b, 1 step", "## Step 1: epoch 1, batch 1 of 1", "### Given",
             "| x | 1 | 2 |", "|  | 3 | 5 |", "| W1 | 1 | 2 | 3 | 4 |", "| 1 | 0.5 | 1 | 7 | 3 |",
             "### Forward", "z1 = x · W1 + b1", "| z1 | 1 | 2 | 3 | 4 |", "|  |  |  |  |  |",
             "### Loss", "| L |  |", "### Backward", "δ2 = dL/dz2 = dL/da2 ⊙ linear′(z2)",
             "| delta2 | 1 | 2 |", "| dW2 | 1 | 2 |", "| 4 |  |  |", "### After the update",
             "W1′ = W1 − lr · dW1", "| W1' | 1 | 2 | 3 | 4 |", "| b2' | 1 | 2 |"]
    positions = [md.index(s) for s in order]
    assert positions == sorted(positions)
    assert "Loss `mse`: per sample, mean over outputs of (a - y)^2" in md
    assert "W′ = W − lr · dW with lr = 0.001" in md


def test_worksheet_csv_names_every_cell(cli, tmp_path):
    import csv

    r = cli("trace", write_config(tmp_path, THREE), "--worksheet", "--format", "csv",
            "--steps", "2")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(r.stdout.splitlines()))
    assert rows[0] == ["step", "stage", "cell", "formula", "value"]
    # a batch of three samples: per-sample cells are [s,j]; weights [i,j]
    step1 = [(stage, cell, value) for step, stage, cell, _, value in rows[1:] if step == "1"]
    samples = [f"[{s},1]" for s in (1, 2, 3)]
    assert [(stage, cell) for stage, cell, _ in step1] == (
        [("given", f"{k}{i}") for k in "xy" for i in samples] + [("given", "W1[1,1]")]
        + [("forward", f"{k}{i}") for k in ("z1", "a1") for i in samples] + [("loss", "L")]
        + [("backward", f"delta1{i}") for i in samples] + [("backward", "dW1[1,1]"),
                                                           ("update", "W1'[1,1]")])
    assert [value for stage, _, value in step1 if stage == "given"] == \
        ["2", "1", "1", "1", "0", "1", "0.95"]
    assert all(value == "" for stage, _, value in step1 if stage != "given")
    assert rows[10] == ["1", "forward", "z1[3,1]", "z1 = x · W1", ""]
    assert rows[19] == ["1", "update", "W1'[1,1]", "W1′ = W1 − lr · dW1", ""]
    # step 2: only its batch is given; its weights are W1′ of step 1
    step2 = [(stage, cell) for step, stage, cell, _, _ in rows[1:] if step == "2"]
    assert [cell for stage, cell in step2 if stage == "given"] == \
        [f"{k}{i}" for k in "xy" for i in samples]
    assert len(step2) == 18


def test_worksheet_bad_format_and_divergence(cli, tmp_path):
    r = cli("trace", EXAMPLE_B, "--worksheet", "--format", "json")
    assert_input_error(r, "--format: expected one of text, markdown, csv with --worksheet "
                          "(got 'json')")
    r = cli("trace", EXAMPLE_B, "--format", "csv")
    assert_input_error(r, "--format: expected one of text, markdown, json (got 'csv')")
    # learning rate 30 on example B: the loss is 3e21 at step 2, 6e231 at step 4, then inf
    r = cli("trace", EXAMPLE_B, "--worksheet", "--format", "markdown", "--steps", "6",
            "--set", "training.learning_rate=30")
    assert r.exit_code == 1
    assert "# Worksheet: example-b, 4 steps" in r.stdout and "## Step 5:" not in r.stdout
    assert r.stderr == ("error: the loss became inf at step 5 (epoch 5, batch 1); training "
                        "diverges here; the worksheet has the 4 steps before it\n")


# --- check: right sheets, precision, follow-through ------------------------------------------

def test_check_a_correct_sheet_in_every_format(cli, tmp_path):
    ex = exercise_config(EXAMPLE_B, [], 2)
    right = fill(ex, ex.steps)
    (tmp_path / "sheet.md").write_text(to_markdown(ex, right))
    (tmp_path / "sheet.csv").write_text(to_csv(ex, right))
    answers(tmp_path, {k: v for k, v in right.items()}, "plain.csv")
    for name in ["sheet.md", "sheet.csv", "plain.csv"]:
        r = cli("check", EXAMPLE_B, tmp_path / name)
        assert r.exit_code == 0, r.output
        assert "126 of 126 cells right." in r.stdout and r.stderr == ""
    report = json.loads(cli("check", EXAMPLE_B, tmp_path / "sheet.md", "--json").stdout)
    assert report["passed"] and report["right"] == 126 and report["wrong"] == 0
    cells = {c["cell"]: c for c in report["cells"]}
    assert cells["L"]["yours"] == "9213.25" and cells["L"]["expected"] == 9213.25
    assert cells["W1'[1,2]@2"]["step"] == 2


@pytest.mark.parametrize("written, right", [
    ("0.77", True), ("0.7700", True), ("0.770", True), ("7.7e-1", True), ("7.70E-01", True),
    ("0.8", True),  # ±0.05
    ("0.78", False), ("0.7701", False), ("0.77004", False), ("0.76", False),
    ("+0.77", True), ("−0.77", False),
])
def test_a_cell_is_judged_at_the_precision_written(tmp_path, written, right):
    # example A: W1′ = 0.95 − 0.1 · 1.8 = 0.77 (the float 0.7699999999999999)
    report = check_config(EXAMPLE_A, answers(tmp_path, {"W1'[1,1]": written}))
    assert report.passed is right


def test_mixed_precisions_and_notations_in_one_sheet(tmp_path):
    # example A: z = 1.9, L = ½ 0.9² = 0.405, dW = 0.9 · 2 = 1.8, W′ = 0.77
    report = check_config(EXAMPLE_A, answers(tmp_path, {
        "z1[1]": "1.9", "a1[1]": "1.90000", "L": "0.41", "delta1[1]": "9e-1",
        "dW1[1,1]": "1.800", "W1'[1,1]": "0.7700", "W1'[1,1]@2": "0.662"}))
    assert report.passed and len(report.graded) == 7 and report.blank == 5  # of 12
    report = check_config(EXAMPLE_A, answers(tmp_path, {"L": "0.4", "z1[1]": "2"}))
    assert report.passed  # at ±0.05 and ±0.5
    report = check_config(EXAMPLE_A, answers(tmp_path, {"L": "0.400", "z1[1]": "1.8"}))
    assert [g.cell.label for g in report.wrong] == ["z1[1]", "L"]


def test_parse_number_precision():
    from decimal import Decimal as D

    assert parse_number("0.77", "x") == (D("0.77"), D("0.005"))
    assert parse_number("0.7700", "x") == (D("0.7700"), D("0.00005"))
    assert parse_number("12", "x") == (D("12"), D("0.5"))
    assert parse_number("1.20e3", "x") == (D("1.20e3"), D("5"))
    assert parse_number(" −3.5 ", "x") == (D("-3.5"), D("0.05"))


def test_follow_through_one_slip_costs_one_cell(tmp_path):
    # The learner writes z1[2] = 16 instead of 14 and computes everything after from it:
    # a1[2] = 16, z2 = [121.5 + 2 · 0.5, 62.5 + 2 · 0.5] = [122.5, 63.5], ... Only z1[2] is
    # wrong.
    ex = exercise_config(EXAMPLE_B, [], 2)

    def slip(number, q, value, step):
        if number == 1 and q.key == "z1":
            value = value.copy()
            value[0, 1] = 16
        return value

    theirs = fill(ex, ex.rerun(slip))
    assert theirs["z2[1]"] == "122.5" and theirs["a1[2]"] == "16"
    report = grade(ex, read_answers(answers(tmp_path, theirs)))
    assert [g.cell.label for g in report.wrong] == ["z1[2]"]
    assert report.wrong[0].mistakes == []
    carried = [g.cell.label for g in report.graded if g.carried]
    assert "a1[2]" in carried and "z2[1]" in carried and "W2'[2,1]@2" in carried
    assert len(report.graded) == 126 and len(carried) > 100


def test_follow_through_from_rounded_numbers(tmp_path):
    # A learner by hand rounds every number to 3 decimals and goes on with the rounded one;
    # another carries every digit and writes 4 significant ones. Both are all right.
    ex = exercise_config(CONFIGS / "xor-mlp.yaml", [], 1)

    report = grade(ex, read_answers(answers(tmp_path, rounded_by_hand(ex, 3))))
    assert report.passed and any(g.carried for g in report.graded)
    report = grade(ex, read_answers(answers(tmp_path, fill(ex, ex.steps, 4))))
    assert report.passed and not any(g.carried for g in report.graded)


# --- check: the catalogued mistakes -----------------------------------------------------------

A1 = sigma(0.5)
D2 = 2 * A1 - 1  # δ2 of the sigmoid config
MISTAKES = [
    # (config, overrides, the learner's cells, the first wrong cell, the mistake)
    (EXAMPLE_B, [], {"L": "4606.625", "delta2[1]": "60.25", "delta2[2]": "31.25"},
     "L", "half_added"),  # mse with a ½: (120.5² + 62.5²) / 4
    (EXAMPLE_B, [], {"delta2[1]": "241", "delta2[2]": "125"}, "delta2[1]", "outputs_summed"),
    (EXAMPLE_B, ["training.loss=half_sse"], {"L": "4606.625"}, "L", "outputs_averaged"),
    (THREE, [], {"L": "0.571667", "delta1[1,1]": "0.6"}, "L", "half_dropped"),
    (THREE, [], {"L": "0.8575", "delta1[2,1]": "0.95"}, "L", "batch_summed"),
    (THREE, [], {"dW1[1,1]": "0.3"}, "dW1[1,1]", "batch_mean_twice"),
    (THREE, [], {"W1'[1,1]": "1.04"}, "W1'[1,1]", "sign_flipped"),
    (THREE, [], {"W1'[1,1]": "0.05"}, "W1'[1,1]", "lr_not_applied"),
    (EXAMPLE_B, [], {"delta1[1]": "107.30125", "delta1[2]": "-166.471"}, "delta1[1]",
     "updated_weight"),
    (EXAMPLE_B, [], {"z1[1]": "6.5"}, "z1[1]", "bias_left_out"),
    (EXAMPLE_B, [], {"b1'[1]": "1.0000"}, "b1'[1]", "bias_not_updated"),
    (EXAMPLE_B, ["training.update=normalized"], {"W1'[1,1]": "-0.2365"}, "W1'[1,1]",
     "norm_not_applied"),
    (SIGMOID, [], {"delta2[1]": f"{-D2:.6f}"}, "delta2[1]", "delta_sign"),
    (SIGMOID, [], {"delta1[1]": f"{D2 * 2 * sigma(A1) * (1 - sigma(A1)):.6f}"}, "delta1[1]",
     "fprime_at_a"),
    (SIGMOID, [], {"delta1[1]": f"{D2 * 2 * 0.5 * (1 - 0.5):.6f}"}, "delta1[1]",
     "output_form_at_z"),
    (SIGMOID, [], {"delta1[1]": f"{D2 * 2:.6f}"}, "delta1[1]", "no_fprime"),
    (SIGMOID, [], {"z2[1]": "1.000"}, "z2[1]", "activation_skipped"),  # z1 · W2 = 0.5 · 2
    (SIGMOID, [], {"dW2[1,1]": f"{0.5 * D2:.6f}"}, "dW2[1,1]", "activation_skipped"),
    # δ = (a − y) / 2 = ±0.1887703, times σ′ = a (1 − a) = 0.2350037 as well
    (SIGMOID_OUT, [], {"delta1[1,1]": "-0.0443617", "delta1[2,1]": "0.0443617"}, "delta1[1,1]",
     "fused_times_fprime"),
]


@pytest.mark.parametrize("config, overrides, cells, first, mistake", MISTAKES,
                         ids=[m[-1] for m in MISTAKES])
def test_check_names_each_catalogued_mistake(cli, tmp_path, config, overrides, cells, first,
                                             mistake):
    if isinstance(config, str):
        config = write_config(tmp_path, config)
    assert_check_names(cli, tmp_path, config, overrides, cells, first, mistake)


def assert_check_names(cli, tmp_path, config, overrides, cells, first, mistake):
    """`nncli check` of the learner's cells, each made with ``mistake``: every one is wrong,
    ``first`` first, and the mistake is named for each."""
    args = [a for o in overrides for a in ("--set", o)]
    r = cli("check", config, answers(tmp_path, cells), *args, "--json")
    assert r.exit_code == 1, r.output
    report = json.loads(r.stdout)
    assert report["first_wrong"] == first
    wrong = [c for c in report["cells"] if c["result"] == "wrong"]
    assert len(wrong) == len(cells)  # every cell written was made with the mistake
    for c in wrong:
        assert mistake in [m["name"] for m in c["mistakes"]], c
    assert r.stderr == f"error: {len(cells)} of {len(cells)} cells wrong; the first is {first}\n"


def test_every_catalogued_mistake_is_tested():
    tested = {m[-1] for m in MISTAKES}
    catalogue = set()
    for config, overrides in [(EXAMPLE_B, []), (EXAMPLE_B, ["training.update=normalized",
                                                             "training.loss=half_sse"]),
                              (CONFIGS / "xor-mlp.yaml", [])]:
        ex = exercise_config(config, overrides, 1)
        catalogue |= {m.name for q in ex.quantities for m in q.mistakes}
    assert catalogue - {"mae"} <= tested


def test_the_report_in_words(cli, tmp_path):
    # δ1 with the updated W2′ (a classic), then everything after it from the learner's δ1
    ex = exercise_config(EXAMPLE_B, [], 1)
    path = tmp_path / "sheet.md"
    path.write_text(to_markdown(ex, fill(ex, ex.rerun(slips={"delta1": "updated_weight"}))))
    r = cli("check", EXAMPLE_B, path)
    assert r.exit_code == 1
    out = r.stdout
    assert "59 of 63 cells right." in out
    assert ("First wrong cell: delta1[1] (step 1, " in out
            and "): yours 107.301, expected 245.5, from δ1 = dL/dz1 = (δ2 · W2ᵀ) ⊙ "
                "linear′(z1)." in out)
    assert ("It is what you get with the updated weights W2′ used in δ1: every δ of a step "
            "uses the weights before the update (W2) [updated_weight].") in out
    assert "The same mistake reproduces 3 more wrong cells: delta1[2], delta1[3], delta1[4]." in out
    assert "24 cells are right from yours though nncli's number differs." in out
    assert "│ dW1[1,1]  │  321.904 │  321.9038 │ right  │ from yours (nncli 736.5)" in out


def test_a_number_right_only_at_its_precision_is_flagged(tmp_path):
    # b1′ = b1 − 0.001 · 245.5 = 0.7545; "1" is judged to ±0.5, so it is right, but it is
    # exactly the bias not updated.
    report = check_config(EXAMPLE_B, answers(tmp_path, {"b1'[1]": "1"}))
    (g,) = report.graded
    assert g.right and [m.name for m in g.mistakes] == ["bias_not_updated"]
    from nncli.insight.check import summary
    assert summary(report)[-1] == ("Right only at the precision you wrote, but exactly what a "
                                   "mistake gives (write the decimals you computed): b1'[1] "
                                   "(bias_not_updated).")


# --- check: bad input ------------------------------------------------------------------------

def test_check_bad_answers(cli, tmp_path):
    def run(text, name="a.csv"):
        (tmp_path / name).write_text(text)
        return cli("check", EXAMPLE_B, tmp_path / name)

    p = tmp_path / "a.csv"
    assert_input_error(run("z1[9],3\n"), f"{p}:1: 'z1[9]' is not a cell of step 1; did you "
                                         f"mean z1[4]?")
    assert_input_error(run("zz,3\n"), f"{p}:1: 'zz' is not a cell of step 1")
    assert_input_error(run("z1[1],7.5\nz1[1],7.5\n"),
                       f"{p}:2: z1[1] is written twice (also at {p}:1)")
    assert_input_error(run("z1[1],seven\n"), f"{p}:1: 'seven' is not a number")
    assert_input_error(run("z1[1],nan\n"), f"{p}:1: 'nan' is not a number")
    assert_input_error(run("z1[1],1,2\n"), f"{p}:1: expected two columns, name,value (or a "
                                           f"header row with cell and value columns)")
    assert_input_error(run("z1[1],\n"), f"{p}: no filled-in cells to check (fill in the "
                                        f"blanks of a worksheet: nncli trace CONFIG --worksheet)")
    assert_input_error(run("step,cell,value\n2,z1[1]@3,7.5\n"),
                       f"{p}:2: z1[1]@3 is written under step 2")
    assert_input_error(run("W1[1,1]@2,0.5\n"),
                       f"{p}:1: 'W1[1,1]@2' is not a cell of step 2; did you mean "
                       f"W1'[1,1]@1 (step 2 starts from the weights after step 1)?")
    md = tmp_path / "a.md"
    assert_input_error(run("| z1 | 1 | 2 |\n|--:|--:|--:|\n| | 7.5 |\n", "a.md"),
                       f"{md}:3: 2 cells in a row of a table with 3 columns")
    assert_input_error(run("| z1 | a | b |\n|--:|--:|--:|\n| | 7.5 | 3 |\n", "a.md"),
                       f"{md}:1: table 'z1': the columns must be numbered 1, 2, ...")
    r = cli("check", EXAMPLE_B, tmp_path / "missing.csv")
    assert_input_error(r, f"{tmp_path / 'missing.csv'}: answers file not found")
    (tmp_path / "ok.csv").write_text("z1[1],7.5\n")
    r = cli("check", EXAMPLE_B, tmp_path / "ok.csv", "--set", "training.learning_rate=-1")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.count("error:") == 1 and "training.learning_rate" in r.stderr


def test_check_names_cells_leniently(tmp_path):
    report = check_config(EXAMPLE_B, answers(tmp_path, {
        "δ2[1]": "120.5", "dL/dz2[2]": "62.5", "dL/dW2[1, 1]": "903.75", "W2′[1,1]": "0.09625",
        "z1[1]@1": "7.5"}))
    assert report.passed and sorted(g.cell.label for g in report.graded) == [
        "W2'[1,1]", "dW2[1,1]", "delta2[1]", "delta2[2]", "z1[1]"]


def test_a_batch_names_samples_and_steps(tmp_path):
    # THREE by hand: δ = [0.3, 0.3166667, −0.0166667]; step 2 starts from W = 0.86:
    # a = [1.72, 0.86, 0.86], δ = ([0.72, 0.86, −0.14]) / 3
    report = check_config(write_config(tmp_path, THREE), answers(tmp_path, {
        "delta1[2,1]": "0.316667", "delta1[3,1]": "-0.0166667", "W1'[1,1]": "0.86",
        "a1[1,1]@2": "1.72", "delta1[3,1]@2": "-0.0466667"}))
    assert report.passed and len(report.graded) == 5


# --- explain ---------------------------------------------------------------------------------

@pytest.mark.parametrize("notation", ["mazur", "hagan", "mitchell"])
@pytest.mark.parametrize("config, param, step", [
    (EXAMPLE_B, "W1[1,2]", 1), (EXAMPLE_B, "b2[1]", 2), (EXAMPLE_B, "W2[3,2]", 1),
    (CONFIGS / "xor-mlp.yaml", "W1[2,3]", 2), (CONFIGS / "xor-mlp.yaml", "b2[1]", 1),
])
def test_explain_numbers_are_trace_numbers(cli, config, param, step, notation):
    r = cli("explain", config, param, "--step", step, "--notation", notation, "--json")
    assert r.exit_code == 0, r.output
    e = json.loads(r.stdout)
    t = json.loads(cli("trace", config, "--steps", step, "--format", "json").stdout)
    trace_cells = trace_as_cells(t)
    assert e["factors"] and e["step"] == step and e["notation"] == notation
    for label, value in e["factors"].items():
        assert trace_cells[label] == value, label  # bit for bit
    name, index = param.split("[")
    assert e["before"] == trace_cells[_at(f"{name}[{index}" if step == 1
                                          else f"{name}'[{index}", step - 1 or 1)]
    assert e["after"] == trace_cells[_at(f"{name}'[{index}", step)]
    assert e["gradient"] == trace_cells[_at(f"d{name}[{index}", step)]


def _at(label, step):
    return label if step == 1 else f"{label}@{step}"


def trace_as_cells(t: dict) -> dict:
    """Every number of a trace's JSON by its cell name (the naming of insight/cells.py,
    written here from the JSON alone)."""
    cells = {}

    def put(key, array, step, form):
        a = np.array(array, dtype=float)
        for index in np.ndindex(a.shape):
            shown = index[1:] if form == "samples" and a.shape[0] == 1 else index
            name = f"{key}[{','.join(str(i + 1) for i in shown)}]" if shown else key
            cells[_at(name, step)] = float(a[index])

    for k, v in t["initial"].items():
        put(k, v, 1, "weights")
    for s in t["steps"]:
        n = s["step"]
        put("x", s["x"], n, "samples")
        put("y", s["y"], n, "samples")
        if s["weights"] is not None:
            put("w", s["weights"], n, "weights")
        for layer, mask in ((t["dropout"] or {}).get("masks") or {}).items():
            put(f"mask{layer}", mask[:len(s["rows"])], n, "samples")
        for f in s["forward"]:
            put(f"z{f['layer']}", f["z"], n, "samples")
            put(f"a{f['layer']}", f["a"], n, "samples")
        put("L", s["loss"], n, "scalar")
        for b in s["backward"]:
            put(f"delta{b['layer']}", b["delta"], n, "samples")
            put(f"dW{b['layer']}", b["dW"], n, "weights")
            if b["db"] is not None:
                put(f"db{b['layer']}", b["db"], n, "weights")
        for k, v in s["updated"].items():
            put(f"{k}'", v, n, "weights")
        for k, arrays in (s["optimizer"] or {}).get("state", {}).items():  # v; m, v, m_hat, ...
            for name, v in arrays.items():
                put(f"{k.replace('_', '')}{name}'", v, n, "weights")
                if n == 1 and "_" not in k:  # the state before the first step: zero
                    put(f"{k}{name}", np.zeros_like(np.array(v)), 1, "weights")
        if s["grad_norm"] is not None:
            put("norm", s["grad_norm"], n, "scalar")
    return cells


def test_explain_example_b_in_each_notation(cli):
    r = cli("explain", EXAMPLE_B, "W1[1,2]")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("W1[1,2] at step 1: the weight from input 1 to unit 2 of layer "
                               "1; nncli's W1 is (inputs, units) = 2x4. Mazur writes it "
                               "w(i1→h2).\n")
    for line in ["∂E/∂w(i1→h2) = ∂E/∂out_h2 · ∂out_h2/∂net_h2 · ∂net_h2/∂w(i1→h2)",
                 "∂E/∂out_h2 = Σ_k ∂E/∂net_ok · w(h2→ok), over the units k of layer 2, with "
                 "the weights W2 as they were before this step's update",
                 "∂E/∂net_ok, k = 1..2: [120.5, 62.5]",
                 "W2[2,k], k = 1..2, the weights before this step's update: [0.5, 0.5]",
                 "∂E/∂net_h2 = linear′(14) · (120.5 · 0.5 + 62.5 · 0.5 = 91.5) = 1 · 91.5 = 91.5",
                 "∂E/∂w(i1→h2) = 91.5 · 3 = 274.5",
                 "w(i1→h2)′ = 1 − 0.001 · 274.5 = 0.7255"]:
        assert line in r.stdout, line
    r = cli("explain", EXAMPLE_B, "W1[1,2]", "--notation", "hagan")
    for line in ["Hagan writes it w^1(2,1).", "∂F/∂w^1(2,1) = s^1(2) · a^0(1)",
                 "s^2(k), k = 1..2: [120.5, 62.5]", "w^1(2,1)′ = 1 − 0.001 · 274.5 = 0.7255"]:
        assert line in r.stdout, line
    r = cli("explain", EXAMPLE_B, "W1[1,2]", "--notation", "mitchell")
    for line in ["δ_j = −∂E/∂net_j (the negative of nncli's δ = dL/dz)",
                 "δ_ok, k = 1..2: [-120.5, -62.5]",
                 "δ_h2 = linear′(14) · (-120.5 · 0.5 + -62.5 · 0.5 = -91.5) = 1 · -91.5 = -91.5",
                 "Σ over the samples of δ_h2 · x_h2,i1 = -91.5 · 3 = -274.5",
                 "Δw_h2,i1 = −η · ∂E/∂w = −0.001 · 274.5 = -0.2745;  w_h2,i1 ← 1 + (-0.2745) "
                 "= 0.7255"]:
        assert line in r.stdout, line


def test_explain_bad_arguments(cli):
    assert_input_error(cli("explain", EXAMPLE_A, "z1[1]"),
                       "PARAM: expected a weight W<layer>[i,j] or a bias b<layer>[j] (got 'z1[1]')")
    assert_input_error(cli("explain", EXAMPLE_A, "b1[1]"),
                       "PARAM: b1[1]: the network has no b1 (it has W1)")
    assert_input_error(cli("explain", EXAMPLE_A, "W1[2,1]"),
                       "PARAM: W1[2,1]: W1 is 1x1; write W1[i,j] with i ≤ 1 and j ≤ 1")
    assert_input_error(cli("explain", EXAMPLE_A, "W1[1,1]", "--notation", "bishop"),
                       "--notation: expected one of mazur, hagan, mitchell (got 'bishop')")
    assert_input_error(cli("explain", EXAMPLE_A, "W1[1,1]", "--step", "0"),
                       "--step: expected an integer >= 1 (got 0)")
    from nncli.cli.explain import NOTATIONS
    from nncli.insight import explain as library

    assert NOTATIONS == library.NOTATIONS


def test_explain_a_frozen_and_a_normalized_weight(cli):
    r = cli("explain", EXAMPLE_B, "b1[2]", "--set", "network.layers.0.freeze=[biases]")
    assert "b(h2) is frozen: b1'[2] = 1." in r.stdout
    r = cli("explain", EXAMPLE_B, "W2[1,1]", "--set", "training.update=normalized", "--json")
    e = json.loads(r.stdout)
    t = json.loads(cli("trace", EXAMPLE_B, "--set", "training.update=normalized",
                       "--format", "json").stdout)
    assert e["factors"]["norm"] == t["steps"][0]["grad_norm"]
    assert e["after"] == t["steps"][0]["updated"]["W2"][0][0]


# --- export ----------------------------------------------------------------------------------

KIT_CONFIG = """
seed: 3
data: {source: xor}
network:
  layers:
    - {units: 3, activation: tanh, freeze: [biases]}
    - {units: 1, activation: sigmoid}
training: {batch: minibatch, batch_size: 3, learning_rate: 0.5, update: normalized}
"""


# Runs several kits' generated tests in one process (one interpreter start for all), each
# against tests/kit_reference.py on its own config: prints [exit code, output] per kit.
RUN_KITS = """
import contextlib, io, json, os, sys
import pytest
results = []
for kit, config, settings, bug in json.loads(sys.argv[1]):
    os.environ.update(NNCLI_KIT_MODULE=sys.argv[2], NNCLI_REFERENCE_CONFIG=config,
                      NNCLI_REFERENCE_SET=settings, NNCLI_REFERENCE_BUG=bug)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = pytest.main(["-q", "-p", "no:cacheprovider", "--import-mode=importlib", kit])
    results.append([int(code), out.getvalue()])
    for name in [m for m in sys.modules if "my_network" in m]:  # each kit's own test module
        del sys.modules[name]
print(json.dumps(results))
"""


def run_kits(kits: list[tuple[Path, Path, list[str], str]]) -> list[tuple[int, str]]:
    runs = [[str(kit), str(config), ";".join(settings), bug]
            for kit, config, settings, bug in kits]
    done = subprocess.run([sys.executable, "-c", RUN_KITS, json.dumps(runs),
                           str(ROOT / "tests" / "kit_reference.py")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [tuple(r) for r in json.loads(done.stdout.splitlines()[-1])]


RULES = [["training.update=gradient"], ["training.update=normalized"],
         ["training.update=momentum", "training.momentum_form=classic"],
         ["training.update=momentum", "training.momentum_form=pytorch"],
         ["training.update=momentum", "training.momentum_form=hagan"],
         ["training.update=nesterov", "training.momentum_form=classic"],
         ["training.update=nesterov", "training.momentum_form=pytorch"],
         ["training.update=adam"], ["training.update=rmsprop"], ["training.update=adagrad"]]


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    """Every kit the tests below check, exported by the CLI, and their generated tests run
    against the reference in one process: the XOR kit (KIT_CONFIG), example B's with two
    planted bugs, EVERYTHING's with each rule and with momentum planted in the pytorch form.
    Returns {name: (kit directory, config, exit code, output)}."""
    from conftest import Cli

    tmp = tmp_path_factory.mktemp("kits")
    cli = Cli(tmp / "runs")
    xor, everything = write_config(tmp, KIT_CONFIG, "xor.yaml"), write_config(
        tmp, EVERYTHING, "everything.yaml")
    plan = {"xor": (xor, [], 3, ""), "half": (EXAMPLE_B, [], 2, "half"),
            "bias": (EXAMPLE_B, [], 2, "bias")}
    plan |= {" ".join(r): (everything, r, 4, "") for r in RULES}
    plan["pytorch"] = (everything, RULES[2], 4, "pytorch")
    runs = []
    for name, (config, settings, steps, bug) in plan.items():
        kit = tmp / name.replace(" ", "_").replace("=", "-")
        r = cli("export", config, "--kit", kit, "--steps", steps,
                *[a for s in settings for a in ("--set", s)])
        assert r.exit_code == 0, r.output
        runs.append((kit, config, settings, bug))
    results = run_kits(runs)
    return {name: (kit, config, *result) for name, (kit, config, _, _), result in
            zip(plan, runs, results)}


def test_export_a_kit_that_passes_on_the_reference(cli, kits):
    # minibatches of 3 of the 4 XOR rows (a short last batch, reshuffled), a frozen array and
    # the normalized update: the kit's own test passes on a module built on nncli's engine
    kit, config, code, out = kits["xor"]
    assert sorted(p.name for p in kit.iterdir()) == [
        "CONVENTIONS.md", "data.csv", "expected.csv", "initial.csv", "kit.json",
        "my_network.py", "test_my_network.py"]
    k = json.loads((kit / "kit.json").read_text())
    t = json.loads(cli("trace", config, "--steps", "3", "--format", "json").stdout)
    assert [s["rows"] for s in k["steps"]] == [s["rows"] for s in t["steps"]]
    assert [len(s["rows"]) for s in k["steps"]] == [3, 1, 3]
    assert k["frozen"] == ["b1"] and k["update"] == "normalized"
    assert k["initial"] == t["initial"]
    assert k["steps"][2]["expected"]["W2'"] == t["steps"][2]["updated"]["W2"]
    assert k["steps"][1]["expected"]["L"] == t["steps"][1]["loss"]
    assert "Update `normalized`: W′ = W − lr · dW / ‖g‖ with lr = 0.5, for every weight and " \
           "bias except the frozen b1 (W′ = W)." in (kit / "CONVENTIONS.md").read_text()
    assert (kit / "data.csv").read_text().splitlines()[0] == "x1,x2,y1"
    assert code == 0 and "3 passed" in out, out


def test_the_kit_names_the_first_quantity_that_disagrees(kits):
    kit, _, code, out = kits["half"]
    assert code == 1
    assert ("step 1: delta2 is the first quantity that disagrees: delta2[1] is 60.25, nncli "
            "has 120.5 (2 of 2 entries differ); δ2 = dL/dz2 = dL/da2 ⊙ linear′(z2)" in out)
    _, _, code, out = kits["bias"]
    assert code == 1
    assert ("step 1: b1' is the first quantity that disagrees: b1'[1] is 1.0, nncli has 0.7545 "
            "(4 of 4 entries differ); b1′ = b1 − lr · db1" in out)
    # the template the learner starts from has the signature the test calls
    import importlib.util
    import inspect

    spec = importlib.util.spec_from_file_location("template", kit / "my_network.py")
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    assert {name: list(inspect.signature(getattr(template, name)).parameters)
            for name in ("forward", "loss", "backward", "update")} == {
        "forward": ["params", "x", "masks"], "loss": ["output", "y", "weights"],
        "backward": ["params", "x", "y", "zs", "activations", "weights", "masks"],
        "update": ["params", "grads", "lr", "state"]}
    with pytest.raises(NotImplementedError, match="forward is not written yet"):
        template.forward({}, np.zeros((1, 2)))


def test_the_kit_of_every_rule_passes_on_the_reference_and_names_a_planted_form(kits):
    # EVERYTHING (dropout, class weights, l2 and l1, a halving rate, minibatches), four steps
    # over two epochs, with each rule; and momentum in the classic form with a reference that
    # computes it in the pytorch form
    for settings in RULES:
        _, _, code, out = kits[" ".join(settings)]
        assert code == 0 and "4 passed" in out, (settings, out)
    _, config, code, out = kits["pytorch"]
    assert code == 1
    assert "step 1: vW1' is the first quantity that disagrees: vW1'[1,1] is " in out
    assert "vW1′ = μ · vW1 − lr · dW1" in out
    # what the kit holds for a rule with state
    kit = kits["training.update=adam"][0]
    k = json.loads((kit / "kit.json").read_text())
    assert k["state"] == ["mW1", "mb1", "mW2", "mb2", "mW3", "mb3",
                          "vW1", "vb1", "vW2", "vb2", "vW3", "vb3"]
    assert k["rule"] == {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-08}
    assert [s["lr"] for s in k["steps"]] == [0.1, 0.1, 0.1, 0.05]
    t = trace_config(config, ["training.update=adam"], 4).to_dict()
    assert k["steps"][3]["expected"]["mW2'"] == t["steps"][3]["optimizer"]["state"]["m"]["W2"]
    assert k["steps"][0]["weights"] == t["steps"][0]["weights"]
    assert k["steps"][0]["masks"][0] == t["dropout"]["masks"]["1"][:3]
    assert k["steps"][0]["masks"][2] is None
    conventions = (kit / "CONVENTIONS.md").read_text()
    assert ("**The update's state.** `state` holds the rule's arrays by cell name without the "
            "prime: `mW1`, `mb1`, `mW2`, `mb2`, ... (m, v of each trained array") in conventions


def test_export_writes_only_to_a_new_or_empty_directory(cli, tmp_path):
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "mine.py").write_text("# my work\n")
    r = cli("export", EXAMPLE_B, "--kit", kit)
    assert_input_error(r, f"{kit}: already exists and is not empty; the test kit is written "
                          f"only to a new or empty directory")
    assert [p.name for p in kit.iterdir()] == ["mine.py"]
    assert [p.name for p in tmp_path.iterdir()] == ["kit"]  # no temporary left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("export", EXAMPLE_B, "--kit", empty).exit_code == 0
    assert (empty / "kit.json").exists()
    # a config that diverges before the steps asked for: nothing is written
    r = cli("export", EXAMPLE_B, "--kit", tmp_path / "new", "--steps", "5",
            "--set", "training.learning_rate=30")
    assert r.exit_code == 1 and r.stderr.startswith("error: the loss became inf at step 5")
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "kit"]


# --- the README's example --------------------------------------------------------------------

def test_the_readme_example_is_what_nncli_says(cli, tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    ex = exercise_config(EXAMPLE_B, [], 1)
    sheet = to_markdown(ex, fill(ex, ex.rerun(slips={"delta1": "updated_weight"})))
    assert f"```markdown\n{sheet}```" in readme
    (tmp_path / "sheet.md").write_text(sheet)
    monkeypatch.chdir(tmp_path)
    r = cli("check", EXAMPLE_B, "sheet.md")
    assert r.exit_code == 1
    assert (f"```console\n$ nncli check configs/example-b-two-layers.yaml sheet.md\n{r.stdout}"
            f"{r.stderr}```") in readme
