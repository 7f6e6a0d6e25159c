"""The learner's tools on everything issue 15 added (the update rules with state in their named
forms, penalties, class and sample weights, dropout, schedules, early stopping): each mistake of
the catalogue on hand-computed numbers, follow-through through the rule's state, worksheets,
explain's update line and the kit's check of the state. (The calculator equals trace bit for bit
for every rule: tests/test_learners.py.)"""

import numpy as np
import pytest

from conftest import CONFIGS, ROOT, assert_input_error, write_config

from nncli.insight.answers import read_answers
from nncli.insight.cells import exercise_config
from nncli.insight.check import check_config, grade
from nncli.insight.explain import explain
from nncli.insight.trace import trace_config
from nncli.insight.worksheet import fill, to_markdown
from test_learners import (EVERYTHING, MISTAKES, WEIGHTED, WEIGHTED_CSV, answers,
                           assert_check_names, rounded_by_hand, trace_as_cells)

EXAMPLE_A = CONFIGS / "example-a-one-weight.yaml"
EXAMPLE_B = CONFIGS / "example-b-two-layers.yaml"

# Example A (x = 2, y = 1, W = 0.95, half_sse, lr = 0.1): a = 1.9, δ = 0.9, g = dW = 1.8 at
# step 1; W′ = 0.77 by a plain step, and at step 2 from W = 0.77: a = 1.54, δ = 0.54, g = 1.08.
MOMENTUM = ["training.update=momentum", "training.momentum=0.5"]
PYTORCH = MOMENTUM + ["training.momentum_form=pytorch"]
NESTEROV = ["training.update=nesterov", "training.momentum=0.5"]
ADAM = ["training.update=adam", "training.beta1=0.5", "training.beta2=0.96",
        "training.epsilon=0.1"]
RMSPROP = ["training.update=rmsprop", "training.rho=0.75", "training.epsilon=0.1"]
ADAGRAD = ["training.update=adagrad", "training.epsilon=0.1"]
HALVING = ["training.schedule={kind: step, every: 1, factor: 0.5}"]

# Hidden layer 1: two linear units with dropout 0.5; seed 0 draws the mask [2, 0] (unit 1 kept
# and scaled by 1 / (1 − 0.5), unit 2 dropped). x = 1, y = 1: a1 = [1, 2], a1 ⊙ mask1 = [2, 0],
# z2 = 2 · 1 + 0 · 1 = 2, δ2 = z2 − y = 1, δ1 = (δ2 · W2ᵀ) ⊙ mask1 = [1, 1] ⊙ [2, 0] = [2, 0],
# dW2 = (a1 ⊙ mask1)ᵀ · δ2 = [[2], [0]].
DROPOUT = """
seed: 0
data: {source: inline, x: [[1]], y: [1]}
network:
  layers:
    - {units: 2, activation: linear, weights: [[1, 2]], biases: [0, 0], dropout: 0.5}
    - {units: 1, activation: linear, weights: [[1], [1]], biases: [0]}
training: {loss: half_sse, batch: full, learning_rate: 0.1}
"""

RULE_MISTAKES = [
    # (config, overrides, the learner's cells, the first wrong cell, the mistake)
    # momentum, classic form (μ = 0.5): v′ = 0.5 · 0 − 0.1 · 1.8 = −0.18, W′ = 0.95 + v′ = 0.77
    (EXAMPLE_A, MOMENTUM, {"vW1'[1,1]": "1.8"}, "vW1'[1,1]",
     "momentum_form_pytorch"),  # v′ = μ · v + g = 0 + 1.8
    (EXAMPLE_A, MOMENTUM, {"vW1'[1,1]": "-0.09"}, "vW1'[1,1]",
     "momentum_form_hagan"),  # v′ = μ · v − (1 − μ) · lr · g = −0.5 · 0.1 · 1.8
    (EXAMPLE_A, MOMENTUM, {"vW1'[1,1]": "-1.8"}, "vW1'[1,1]",
     "lr_not_applied"),  # v′ = μ · v − g
    (EXAMPLE_A, MOMENTUM, {"W1'[1,1]": "0.68"}, "W1'[1,1]",
     "nesterov_step"),  # W + μ · v′ − lr · g = 0.95 − 0.09 − 0.18
    (EXAMPLE_A, MOMENTUM, {"W1'[1,1]": "1.13"}, "W1'[1,1]",
     "sign_flipped"),  # W − v′ = 0.95 + 0.18
    # the pytorch form: v′ = 0 + 1.8 = 1.8, W′ = 0.95 − 0.1 · 1.8 = 0.77
    (EXAMPLE_A, PYTORCH, {"vW1'[1,1]": "-0.18"}, "vW1'[1,1]",
     "momentum_form_classic"),  # v′ = μ · v − lr · g
    (EXAMPLE_A, PYTORCH, {"W1'[1,1]": "2.75"}, "W1'[1,1]",
     "momentum_form_classic"),  # the classic step W + v′ on pytorch's v′ = 1.8
    # nesterov, classic: v′ = −0.18, W′ = 0.95 + 0.5 · (−0.18) − 0.1 · 1.8 = 0.68
    (EXAMPLE_A, NESTEROV, {"W1'[1,1]": "0.77"}, "W1'[1,1]",
     "plain_momentum_step"),  # W + v′
    # adam (β1 = 0.5, β2 = 0.96, ε = 0.1): m′ = 0.5 · 1.8 = 0.9, v′ = 0.04 · 3.24 = 0.1296,
    # m̂ = 0.9 / 0.5 = 1.8, v̂ = 0.1296 / 0.04 = 3.24, W′ = 0.95 − 0.1 · 1.8 / (1.8 + 0.1)
    # = 0.855263
    (EXAMPLE_A, ADAM, {"mhatW1'[1,1]": "0.9", "W1'[1,1]": "0.754348"}, "mhatW1'[1,1]",
     "no_bias_correction"),  # m̂ = m; W′ = 0.95 − 0.1 · 0.9 / (√0.1296 + 0.1) = 0.95 − 0.09/0.46
    (EXAMPLE_A, ADAM, {"W1'[1,1]": "0.871739"}, "W1'[1,1]",
     "epsilon_efficient_form"),  # 0.95 − 0.1 · √0.04 / 0.5 · 0.9 / (0.36 + 0.1) = 0.95 − 0.036/0.46
    (EXAMPLE_A, ADAM, {"W1'[1,1]": "0.851508"}, "W1'[1,1]",
     "epsilon_inside_root"),  # 0.95 − 0.1 · 1.8 / √(3.24 + 0.1) = 0.95 − 0.18 / 1.827567
    # rmsprop (ρ = 0.75, ε = 0.1): s′ = 0.25 · 3.24 = 0.81, W′ = 0.95 − 0.18 / (0.9 + 0.1) = 0.77
    (EXAMPLE_A, RMSPROP, {"W1'[1,1]": "0.761309"}, "W1'[1,1]",
     "epsilon_inside_root"),  # 0.95 − 0.18 / √0.91 = 0.95 − 0.18 / 0.953939
    # adagrad (ε = 0.1): s′ = 3.24, W′ = 0.95 − 0.18 / (1.8 + 0.1) = 0.855263
    (EXAMPLE_A, ADAGRAD, {"W1'[1,1]": "0.851508"}, "W1'[1,1]",
     "epsilon_inside_root"),  # 0.95 − 0.18 / √3.34
    # the rate halves every epoch: step 2 (epoch 2) W′ = 0.77 − 0.05 · 1.08 = 0.716
    (EXAMPLE_A, HALVING, {"W1'[1,1]@2": "0.662"}, "W1'[1,1]@2",
     "base_rate"),  # 0.77 − 0.1 · 1.08
    # l2 = 0.1: penalty = 0.05 · 0.95² = 0.045125, dW = 1.8 + 0.1 · 0.95 = 1.895
    (EXAMPLE_A, ["training.l2=0.1"], {"penalty": "0.09025"}, "penalty",
     "penalty_half_dropped"),  # 0.1 · 0.95²
    (EXAMPLE_A, ["training.l2=0.1"], {"dW1[1,1]": "1.8"}, "dW1[1,1]", "penalty_left_out"),
    (EXAMPLE_A, ["training.l2=0.1"], {"dW1[1,1]": "1.99"}, "dW1[1,1]",
     "penalty_half_dropped"),  # 1.8 + 2 · 0.1 · 0.95
    # example B, l2 = 0.01: ΣW² = 65.5 + 20.5 = 86, penalty = 0.005 · 86 = 0.43; the six biases
    # are 1; db2 = δ2 = [120.5, 62.5]
    (EXAMPLE_B, ["training.l2=0.01"], {"penalty": "0.46"}, "penalty",
     "penalty_on_biases"),  # 0.005 · (86 + 6)
    (EXAMPLE_B, ["training.l2=0.01"], {"db2[1]": "120.51", "db2[2]": "62.51"}, "db2[1]",
     "penalty_on_biases"),  # + 0.01 · 1
    # sample weights w = [1, 3]: a = [0.5, 1], a − y = [0.5, 1], Lᵢ = [0.125, 0.5],
    # L = (0.125 + 3 · 0.5) / 4 = 0.40625, δ = (a − y) · w / Σw = [0.125, 0.75]
    ("weighted", [], {"L": "0.3125"}, "L", "weights_ignored"),  # (0.125 + 0.5) / 2
    ("weighted", [], {"L": "0.8125"}, "L", "weights_over_n"),  # 1.625 / 2
    ("weighted", [], {"delta1[1,1]": "0.25", "delta1[2,1]": "0.5"}, "delta1[1,1]",
     "weights_ignored"),  # (a − y) / 2
    ("weighted", [], {"delta1[1,1]": "0.25", "delta1[2,1]": "1.5"}, "delta1[1,1]",
     "weights_over_n"),  # (a − y) · w / 2
    # dropout (see DROPOUT): z2 = 2, δ1 = [2, 0], dW2 = [[2], [0]]
    ("dropout", [], {"z2[1]": "3"}, "z2[1]", "dropout_ignored"),  # a1 · W2 = 1 + 2
    ("dropout", [], {"z2[1]": "1"}, "z2[1]", "dropout_unscaled"),  # [1, 0] · W2
    ("dropout", [], {"delta1[1]": "1", "delta1[2]": "1"}, "delta1[1]",
     "dropout_ignored"),  # δ2 · W2ᵀ = [1, 1]
    ("dropout", [], {"dW2[2,1]": "2"}, "dW2[2,1]", "dropout_ignored"),  # a1[2] · δ2 = 2 · 1
]


def config_path(tmp_path, config):
    if config == "weighted":
        (tmp_path / "weighted.csv").write_text(WEIGHTED_CSV)
        return write_config(tmp_path, WEIGHTED)
    if config == "dropout":
        return write_config(tmp_path, DROPOUT)
    return config


@pytest.mark.parametrize("config, overrides, cells, first, mistake", RULE_MISTAKES,
                         ids=[f"{m[-1]}-{i}" for i, m in enumerate(RULE_MISTAKES)])
def test_check_names_each_mistake_of_the_rules(cli, tmp_path, config, overrides, cells, first,
                                               mistake):
    assert_check_names(cli, tmp_path, config_path(tmp_path, config), overrides, cells, first,
                       mistake)


def test_every_mistake_of_every_rule_and_feature_is_tested(tmp_path):
    tested = {m[-1] for m in MISTAKES + RULE_MISTAKES}
    catalogue = set()
    for config, overrides in [
            (EXAMPLE_A, MOMENTUM), (EXAMPLE_A, PYTORCH), (EXAMPLE_A, NESTEROV),
            (EXAMPLE_A, NESTEROV + ["training.momentum_form=pytorch"]),
            (EXAMPLE_A, MOMENTUM + ["training.momentum_form=hagan"]), (EXAMPLE_A, ADAM),
            (EXAMPLE_A, RMSPROP), (EXAMPLE_A, ADAGRAD), (EXAMPLE_A, HALVING),
            (EXAMPLE_B, ["training.l2=0.01", "training.l1=0.01"]), ("weighted", []),
            ("dropout", []), (write_config(tmp_path, EVERYTHING, "every.yaml"), [])]:
        ex = exercise_config(config_path(tmp_path, config), overrides, 1)
        catalogue |= {m.name for q in ex.quantities for m in q.mistakes}
    assert catalogue <= tested, catalogue - tested


def test_a_form_mistake_is_carried_from_step_to_step(tmp_path):
    # The classic form asked, the learner works in the pytorch form for two steps: v′ = 1.8,
    # W′ = 0.95 − 0.1 · 1.8 = 0.77 (right: the two forms agree on W); at step 2 from their own
    # v = 1.8 with g = 1.08: v′ = 0.5 · 1.8 + 1.08 = 1.98 (the classic form on their v gives
    # 0.5 · 1.8 − 0.108 = 0.792), W′ = 0.77 − 0.1 · 1.98 = 0.572 (right again).
    report = check_config(EXAMPLE_A, answers(tmp_path, {
        "vW1'[1,1]": "1.8", "W1'[1,1]": "0.77", "vW1'[1,1]@2": "1.98", "W1'[1,1]@2": "0.572"}),
        MOMENTUM)
    assert [g.cell.label for g in report.wrong] == ["vW1'[1,1]", "vW1'[1,1]@2"]
    assert [[m.name for m in g.mistakes] for g in report.wrong] == \
        [["momentum_form_pytorch"], ["momentum_form_pytorch"]]
    assert report.wrong[1].expected == pytest.approx(0.792)
    right = report.graded[1]  # W1'[1,1]: nncli's number, shown as expected
    assert right.right and right.on_nncli and right.expected == right.nncli == 0.77


@pytest.mark.parametrize("update", ["gradient", "normalized", "momentum", "nesterov", "adam",
                                    "rmsprop", "adagrad"])
def test_a_right_sheet_of_every_rule_is_right(tmp_path, update):
    # EVERYTHING's first four steps (two epochs: the rate halves) filled in by nncli to 6
    # significant digits, and by a learner who rounds every number to 4 decimals and goes on
    # with the rounded one: every cell right, the state cells included
    config = write_config(tmp_path, EVERYTHING)
    ex = exercise_config(config, [f"training.update={update}"], 4)
    (tmp_path / "sheet.md").write_text(to_markdown(ex, fill(ex, ex.steps)))
    report = grade(ex, read_answers(tmp_path / "sheet.md"))
    assert report.passed and report.blank == 0
    keys = [q.key for q in ex.quantities if q.stage == "update" and q.key != "norm"
            and q.key[:-1] not in ex.model.names]  # the rule's state cells
    graded = [g for g in report.graded if g.cell.key in keys]
    assert len(graded) == 4 * sum(ex.steps[0].values[k].size for k in keys)
    assert (len(graded) > 0) == (update not in ("gradient", "normalized"))

    report = grade(ex, read_answers(answers(tmp_path, rounded_by_hand(ex, 4))))
    assert report.passed and any(g.carried for g in report.graded)


def test_follow_through_carries_the_learners_own_state(tmp_path):
    # Momentum (classic, μ = 0.5) on example A, two steps. The learner writes v′ = −0.25 at
    # step 1 (nncli: −0.18) and goes on with it: W′ = 0.95 − 0.25 = 0.7; step 2: a = 1.4,
    # δ = 0.4, g = 0.8, v′ = 0.5 · (−0.25) − 0.1 · 0.8 = −0.205, W′ = 0.495. Only vW1'[1,1] is
    # wrong.
    ex = exercise_config(EXAMPLE_A, MOMENTUM, 2)

    def slip(number, q, value, step):
        return np.full_like(value, -0.25) if (number, q.key) == (1, "vW1'") else value

    theirs = fill(ex, ex.rerun(slip))
    assert (theirs["W1'[1,1]"], theirs["vW1'[1,1]@2"], theirs["W1'[1,1]@2"]) == \
        ("0.7", "-0.205", "0.495")
    report = grade(ex, read_answers(answers(tmp_path, theirs)))
    assert [g.cell.label for g in report.wrong] == ["vW1'[1,1]"]
    assert report.wrong[0].mistakes == []
    carried = {g.cell.label for g in report.graded if g.carried}
    assert {"W1'[1,1]", "vW1'[1,1]@2", "W1'[1,1]@2", "dW1[1,1]@2"} <= carried


# --- worksheets ------------------------------------------------------------------------------

def test_a_momentum_worksheet_has_the_state_cells(cli, tmp_path):
    import csv

    r = cli("trace", EXAMPLE_A, "--worksheet", "--format", "csv", "--steps", "2",
            *[a for o in MOMENTUM for a in ("--set", o)])
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(r.stdout.splitlines()))[1:]
    assert [(s, stage, cell, value) for s, stage, cell, _, value in rows if stage == "given"] == [
        ("1", "given", "x[1]", "2"), ("1", "given", "y[1]", "1"),
        ("1", "given", "W1[1,1]", "0.95"), ("1", "given", "vW1[1,1]", "0"),
        ("2", "given", "x[1]", "2"), ("2", "given", "y[1]", "1")]
    assert [row[1:4] for row in rows if row[1] == "update" and row[0] == "1"] == [
        ["update", "vW1'[1,1]", "vW1′ = μ · vW1 − lr · dW1"],
        ["update", "W1'[1,1]", "W1′ = W1 + vW1′"]]
    # the state a step starts from is the state after the step before
    path = answers(tmp_path, {"vW1[1,1]@2": "-0.18"})
    assert_input_error(cli("check", EXAMPLE_A, path, *[a for o in MOMENTUM for a in ("--set", o)]),
                       f"{path}:1: 'vW1[1,1]@2' is not a cell of step 2; did you mean "
                       f"vW1'[1,1]@1 (step 2 starts from the weights after step 1)?")
    r = cli("trace", EXAMPLE_A, "--worksheet", "--format", "markdown",
            *[a for o in PYTORCH for a in ("--set", o)])
    assert ("Update `momentum`: v ← μ·v + g ;  w ← w − lr·v  (μ = 0.5) (g: the gradient dW; "
            "the state, v the velocity, of each trained array starts at 0 and carries from step "
            "to step) with lr = 0.1, for every weight and bias.") in r.stdout


def test_a_worksheet_with_dropout_weights_a_penalty_and_a_schedule(cli, tmp_path):
    config = write_config(tmp_path, EVERYTHING)
    r = cli("trace", config, "--worksheet", "--format", "markdown", "--steps", "4")
    assert r.exit_code == 0, r.output
    md = r.stdout
    ex = exercise_config(config, [], 4)
    mask = ex.steps[0].values["mask1"]
    assert set(np.unique(mask)) <= {0.0, 1 / 0.6}
    for line in [
            "- Dropout on layer 1 (p = 0.4), layer 2 (p = 0.3): one fixed mask per layer",
            "**mask1**: the dropout mask of layer 1 (rows: samples, columns: units; 0: dropped, "
            "1 / (1 − p): kept)",
            "| 1 | " + " | ".join(f"{v:g}" if v == 0 else str(v) for v in mask[0]) + " |",
            "**w**: the rows' loss weights (class and sample weights), in batch order",
            "z2 = (a1 ⊙ mask1) · W2 + b2",
            "δ1 = dL/dz1 = ((δ2 · W2ᵀ) ⊙ mask1) ⊙ tanh′(z1)",
            "L = cross_entropy(a3, y), the weighted mean Σ wᵢ·Lᵢ / Σ wᵢ over the samples of "
            "the batch",
            "penalty = (l2/2)·ΣW² (l2 = 0.05) + l1·Σ|W| (l1 = 0.01), over every weight matrix "
            "(not the biases)",
            "dW1 = d(L + penalty)/dW1 = xᵀ · δ1 + l2 · W1 + l1 · sign(W1)",
            f"Training rows {', '.join(map(str, ex.batches[0].rows))} (0-based; n = 3). The "
            f"rate of epoch 1: lr = 0.1.",
            "## Step 4: epoch 2, batch 1 of 3",
            "The rate of epoch 2: lr = 0.05."]:
        assert line in md, line


def test_early_stopping_within_the_steps(cli, tmp_path):
    # full batch, one step per epoch; min_delta 1000 means no epoch after the first improves,
    # so with patience 1 training stops after epoch 2 and keeps the weights of epoch 1
    stop = ["--set", "training.early_stopping={monitor: loss, patience: 1, min_delta: 1000}",
            "--set", "training.epochs=10"]
    r = cli("trace", EXAMPLE_A, "--worksheet", "--format", "markdown", "--steps", "3", *stop)
    assert r.exit_code == 0, r.output
    assert "# Worksheet: example-a, 2 steps" in r.stdout and "## Step 3" not in r.stdout
    ended = ("loss did not improve for 1 epoch: training stops after epoch 2 and keeps the "
             "weights of epoch 1")
    assert f"**Early stopping:** {ended}." in r.stdout
    assert r.stderr == f"warning: early stopping ends training after 2 steps: {ended}\n"
    assert_input_error(cli("explain", EXAMPLE_A, "W1[1,1]", "--step", "3", *stop),
                       f"early stopping ends training after 2 steps ({ended}); asked for "
                       f"step 3")
    r = cli("check", EXAMPLE_A, answers(tmp_path, {"z1[1]@3": "1"}), *stop)
    assert_input_error(r, f"early stopping ends training after 2 steps ({ended}); asked for "
                          f"step 3")


# --- explain ---------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides", [
    MOMENTUM, PYTORCH, MOMENTUM + ["training.momentum_form=hagan"], NESTEROV,
    NESTEROV + ["training.momentum_form=pytorch"], ADAM, RMSPROP, ADAGRAD,
    ["training.update=normalized"] + HALVING])
def test_explain_numbers_of_every_rule_are_trace_numbers(overrides):
    # example B, three steps: explain W1[1,2] and b2[1] at step 3 (the state of step 2 used)
    ex = exercise_config(EXAMPLE_B, overrides, 3)
    t = trace_config(EXAMPLE_B, overrides, 3).to_dict()
    cells = trace_as_cells(t)
    for notation in ("mazur", "hagan", "mitchell"):
        for param in ("W1[1,2]", "b2[1]"):
            e = explain(ex, param, 3, notation)
            assert e.factors
            for label, value in e.factors.items():
                assert cells[label] == value, (notation, param, label)  # bit for bit
            name, index = param.split("[")
            assert e.after == cells[f"{name}'[{index}@3"]


# Two samples, a tanh hidden layer with dropout 0.5 (seed 0 draws the masks [2, 0] and [0, 2]),
# a sigmoid output with binary cross-entropy, class 0 weighing 3 (w = [3, 1], Σ w = 4), l2 and l1.
SMALL = """
seed: 0
data: {source: inline, x: [[1, 2], [0.5, -1]], y: [0, 1], task: classification, validation: 0}
network:
  layers:
    - {units: 2, activation: tanh, dropout: 0.5, weights: [[0.5, -0.3], [0.2, 0.4]],
       biases: [0.1, 0]}
    - {units: 2, activation: sigmoid, weights: [[1, -1], [0.5, 0.5]], biases: [0, 0]}
training: {loss: binary_cross_entropy, batch: full, learning_rate: 0.1, l2: 0.1, l1: 0.01,
           class_weight: {0: 3}}
"""


def test_explain_with_dropout_row_weights_and_a_penalty(cli, tmp_path):
    config = write_config(tmp_path, SMALL)
    ex = exercise_config(config, [], 1)
    assert ex.steps[0].values["mask1"].tolist() == [[2, 0], [0, 2]]
    cells = trace_as_cells(trace_config(config, [], 1).to_dict())
    for notation in ("mazur", "hagan", "mitchell"):
        for param in ("W1[2,1]", "W2[1,2]", "b1[2]"):
            e = explain(ex, param, 1, notation)
            for label, value in e.factors.items():
                assert cells[label] == value, (notation, param, label)
    assert {"mask1[1,1]", "w[1]"} <= set(explain(ex, "W2[1,2]", 1).factors)
    r = cli("explain", config, "W1[2,1]")
    # sample 1 (class 0, y = [1, 0], w = 3): z1 = [0.5 + 0.4 + 0.1, −0.3 + 0.8] = [1, 0.5],
    # a1 ⊙ m1 = [2 tanh(1), 0] = [1.52319, 0], z2 = [1.52319, −1.52319], a2 = [0.821007,
    # 0.178993], δ2 = (a2 − y) · 3 / 4 = [−0.134244, 0.134244]; unit 1 of layer 1:
    # (δ2 · W2[1,:]) = −0.134244 − 0.134244 = −0.268489, times tanh′(1) = 1 − tanh(1)² =
    # 0.419974 and its mask 2: δ1 = −0.225517
    for line in [
            "  ∂E/∂out_h1 = Σ_k ∂E/∂net_ok · w(h1→ok), over the units k of layer 2, with the "
            "weights W2 as they were before this step's update, times this unit's dropout mask "
            "m_h1 (0, or 1 / (1 − p))",
            "  ∂E/∂net_h1 (sample 1) = tanh′(1) · (-0.134244 · 1 + 0.134244 · -1 = -0.268489) "
            "· (m = 2) = 0.419974 · -0.268489 · 2 = -0.225517",
            "  ∂E/∂net_h1 (sample 2) = tanh′(0.15) · (0.0943546 · 1 + -0.155645 · -1 = 0.25) "
            "· (m = 0) = 0.977833 · 0.25 · 0 = 0",
            # Σ δ · x + l2 · w + l1 · sign(w) = −0.451034 + 0 + 0.02 + 0.01
            "  ∂E/∂w(i2→h1) = -0.225517 · 2 + 0 · -1 + 0.1 · 0.2 + 0.01 · sign(0.2) = -0.421034"]:
        assert line + "\n" in r.stdout, line
    r = cli("explain", config, "W2[1,2]", "--notation", "mitchell")
    for line in [
            # the fused δ of a weighted row: (t − o) · wᵢ / Σ w
            "  δ_o2 (sample 1) = (0 − 0.178993) · 3 / 4 = -0.134244",
            "  δ_o2 (sample 2) = (1 − 0.377418) · 1 / 4 = 0.155645",
            # −∂E/∂w: Σ δ · (a ⊙ m) − l2 · w − l1 · sign(w) = −0.204478 + 0 + 0.1 + 0.01
            "  Σ over the samples of δ_o2 · x_o2,h1 · m_h1 (its dropout mask), less the "
            "penalty's l2 · w + l1 · sign(w) = -0.134244 · 1.52319 + 0.155645 · 0 − 0.1 · -1 − "
            "0.01 · sign(-1) = -0.0944795"]:
        assert line + "\n" in r.stdout, line


def test_explain_a_momentum_update_in_each_notation(cli):
    args = ["explain", EXAMPLE_A, "W1[1,1]", "--step", "2",
            *[a for o in MOMENTUM for a in ("--set", o)]]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    for line in ["  w(i1→o1)′ by momentum in the classic form, with g = ∂E/∂w(i1→o1) and this "
                 "parameter's state v (0 before the first step, then as the step before left "
                 "it):",
                 "    v′ = μ · v − η · g",
                 "    w(i1→o1)′ = w(i1→o1) + v′",
                 "  lr = 0.1 (the rate of epoch 2):",
                 "  v′ = 0.5 · (-0.18) − 0.1 · 1.08 = -0.198  (vW1'[1,1]@2)",
                 "  w(i1→o1)′ = 0.77 + (-0.198) = 0.572  (W1'[1,1]@2)"]:
        assert line + "\n" in r.stdout, line
    r = cli(*args, "--notation", "hagan")
    assert "    v′ = μ · v − α · g\n" in r.stdout
    assert "  w^1(1,1)′ = 0.77 + (-0.198) = 0.572  (W1'[1,1]@2)\n" in r.stdout
    r = cli(*args, "--notation", "mitchell")
    assert "(Mitchell's Δw is −η · g)" in r.stdout
    r = cli("explain", EXAMPLE_A, "W1[1,1]", *[a for o in ADAM for a in ("--set", o)])
    for line in ["  lr = 0.1 (the rate of epoch 1), t = 1:",
                 "  m′ = 0.5 · 0 + (1 − 0.5) · 1.8 = 0.9  (mW1'[1,1])",
                 "  v′ = 0.96 · 0 + (1 − 0.96) · 1.8² = 0.1296  (vW1'[1,1])",
                 "  m̂ = 0.9 / (1 − 0.5^1) = 1.8  (mhatW1'[1,1])",
                 "  v̂ = 0.1296 / (1 − 0.96^1) = 3.24  (vhatW1'[1,1])",
                 "  w(i1→o1)′ = 0.95 − 0.1 · 1.8 / (√3.24 + 0.1) = 0.855263  (W1'[1,1])"]:
        assert line + "\n" in r.stdout, line


def test_the_readme_momentum_example_is_what_nncli_says(cli, tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    cells = "vW1'[1,1],1.8\nW1'[1,1],0.77\nvW1'[1,1]@2,1.98\nW1'[1,1]@2,0.572\n"
    (tmp_path / "momentum.csv").write_text(cells)
    monkeypatch.chdir(tmp_path)
    r = cli("check", EXAMPLE_A, "momentum.csv", *[a for o in MOMENTUM for a in ("--set", o)])
    assert r.exit_code == 1
    assert (f"```console\n$ cat momentum.csv\n{cells}$ nncli check "
            f"configs/example-a-one-weight.yaml momentum.csv --set training.update=momentum "
            f"--set training.momentum=0.5\n{r.stdout}{r.stderr}```") in readme
