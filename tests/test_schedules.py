"""Between epochs: learning-rate schedules, early stopping, and the momentum forms on a config."""

import csv

import numpy as np
import pytest

from conftest import CONFIGS, assert_input_error, read_json, weights, write_config

from nncli.config import PlateauSchedule as PlateauConfig
from nncli.training.control import PlateauSchedule
from nncli.training.train import train_from_config

EXAMPLE_A = CONFIGS / "example-a-one-weight.yaml"  # y = 2w, target 1, w = 0.95, lr 0.1


def history(run_dir):
    return list(csv.DictReader((run_dir / "history.csv").open()))


def w_after(tmp_path, *sets):
    run = train_from_config(EXAMPLE_A, list(sets), tmp_path / "runs").run_dir
    return float(weights(run)["W1"][0, 0]), history(run)


def test_step_and_exponential_schedules_give_the_rate_of_each_epoch(tmp_path):
    w, rows = w_after(tmp_path, "training.epochs=5",
                      "training.schedule={kind: step, every: 2, factor: 0.5}")
    # lr_e = 0.1 * 0.5^floor((e-1)/2)
    assert [float(r["lr"]) for r in rows] == [0.1, 0.1, 0.05, 0.05, 0.025]
    # dJ/dw = (2w - 1) * 2: w = 0.95 - 0.1*1.8 = 0.77; 0.77 - 0.1*1.08 = 0.662;
    # 0.662 - 0.05*0.648 = 0.6296; 0.6296 - 0.05*0.5184 = 0.60368;
    # 0.60368 - 0.025*0.41472 = 0.593312
    assert w == pytest.approx(0.593312, rel=1e-14)
    _, rows = w_after(tmp_path, "training.epochs=4",
                      "training.schedule={kind: exponential, factor: 0.5}")
    assert [float(r["lr"]) for r in rows] == [0.1, 0.05, 0.025, 0.0125]  # 0.1 * 0.5^(e-1)


def test_a_constant_rate_has_no_lr_column_and_todays_numbers(tmp_path):
    w, rows = w_after(tmp_path, "training.epochs=10")
    assert list(rows[0]) == ["epoch", "loss", "r2"] and round(w, 4) == 0.5027


def plateau(**kw):
    config = PlateauConfig(kind="plateau", monitor="val_loss", **kw)
    return PlateauSchedule(config, 0.1)


def test_plateau_follows_keras_reduce_lr_on_plateau():
    s = plateau(patience=2, factor=0.5, min_lr=0.03, cooldown=1, min_delta=0.0)
    rates = []
    for epoch, value in enumerate([1.0, 0.9, 0.95, 0.92, 0.91, 0.95, 0.99, 0.85, 0.9, 0.9],
                                  start=1):
        rates.append(s.rate(epoch))
        s.epoch_end({"val_loss": value})
    rates.append(s.rate(11))
    # e1, e2 improve; e3, e4 do not: after 2 epochs the rate halves (0.05), one epoch of
    # cooldown (e5 counts nothing more than "no improvement": wait 1); e6 does not improve:
    # wait 2, halve to max(0.025, min_lr 0.03) = 0.03; e7 cooldown, e8 improves (0.85);
    # e9, e10 do not, but the rate is at min_lr already.
    assert rates == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03, 0.03, 0.03, 0.03]


def test_plateau_min_delta_and_a_metric_to_maximise():
    s = PlateauSchedule(PlateauConfig(kind="plateau", monitor="val_accuracy", patience=1,
                                      factor=0.1, min_delta=0.05), 1.0)
    for value in (0.5, 0.54, 0.6):  # 0.54 is not 0.05 better than 0.5: one epoch without
        s.epoch_end({"val_accuracy": value})
    assert s.rate(4) == pytest.approx(0.1)  # reduced after 0.54; 0.6 improves, no more


def test_plateau_on_a_run_reduces_the_rate_when_the_loss_stalls(tmp_path):
    path = write_config(tmp_path, (CONFIGS / "moons-overfit.yaml").read_text())
    run = train_from_config(path, ["training.epochs=60", "training.schedule={kind: plateau, "
                                   "patience: 5, factor: 0.5, min_delta: 0}"], tmp_path / "runs").run_dir
    rows = history(run)
    rates = [float(r["lr"]) for r in rows]
    assert rates[0] == 0.002 and rates[-1] < 0.002
    first = next(i for i, r in enumerate(rates) if r < 0.002)  # the epoch of the first cut
    losses = [float(r["val_loss"]) for r in rows[:first]]
    best = losses.index(min(losses))
    assert first - 1 - best == 5  # five epochs after the best one, the rate was halved
    assert rates[first] == 0.001


# --- early stopping ---------------------------------------------------------------------------

OVERFIT = CONFIGS / "moons-overfit.yaml"


def test_early_stopping_stops_keeps_the_best_epoch_and_says_so(tmp_path, cli):
    r = cli("train", OVERFIT, "--out", tmp_path / "runs", "--no-plots", "--set",
            "training.early_stopping={patience: 20}")
    assert r.exit_code == 0, r.output
    (run,) = (tmp_path / "runs").iterdir()
    m = read_json(run / "metrics.json")
    # val_loss is lowest at epoch 20 (0.2703), then climbs; 20 epochs later training stops
    assert m["status"] == "finished" and m["epochs_run"] == 40 and m["best_epoch"] == 20
    assert m["reason"] == "val_loss did not improve for 20 epochs; kept the weights of epoch 20"
    assert m["weights"] == {"epoch": 20, "why": "the best epoch", "monitor": "val_loss",
                            "best": m["validation"]["loss"]}
    assert round(m["validation"]["loss"], 4) == 0.2703
    assert "val_loss did not improve for 20 epochs; kept the weights of epoch 20" in r.stderr
    assert len(history(run)) == 40  # the history keeps every epoch run
    # the weights are those of a run of 20 epochs, bit for bit
    twenty = train_from_config(OVERFIT, ["training.epochs=20"], tmp_path / "twenty").run_dir
    w, w20 = weights(run), weights(twenty)
    assert all(np.array_equal(w[k], w20[k]) for k in w)
    # the plain run of 300 epochs ends far worse on validation
    plain = read_json(train_from_config(OVERFIT, [], tmp_path / "plain").run_dir /
                      "metrics.json")
    assert round(plain["validation"]["loss"], 4) == 0.8828


def test_restore_best_false_keeps_the_last_epoch(tmp_path):
    run = train_from_config(OVERFIT, ["training.early_stopping={patience: 20, restore_best: "
                                      "false}"], tmp_path / "runs").run_dir
    m = read_json(run / "metrics.json")
    assert m["reason"] == "val_loss did not improve for 20 epochs; kept the weights of epoch 40"
    assert m["weights"]["epoch"] == 40 and m["best_epoch"] == 20
    forty = train_from_config(OVERFIT, ["training.epochs=40"], tmp_path / "forty").run_dir
    assert all(np.array_equal(weights(run)[k], weights(forty)[k]) for k in weights(run))


def test_reaching_the_last_epoch_after_a_better_one_restores_the_best(tmp_path):
    run = train_from_config(OVERFIT, ["training.epochs=30", "training.early_stopping="
                                      "{patience: 20}"], tmp_path / "runs").run_dir
    m = read_json(run / "metrics.json")
    assert m["epochs_run"] == 30 and m["best_epoch"] == 20
    assert m["reason"] == ("reached training.epochs (30); kept the weights of epoch 20, the "
                           "best val_loss")


def test_monitor_defaults_to_loss_without_validation_and_is_checked(tmp_path, cli):
    run = train_from_config(OVERFIT, ["data.validation=0", "training.epochs=5",
                                      "training.early_stopping={patience: 2}"],
                            tmp_path / "runs").run_dir
    assert read_json(run / "metrics.json")["weights"]["monitor"] == "loss"
    r = cli.train(OVERFIT, "--set", "data.validation=0", "--set",
                  "training.early_stopping={monitor: val_loss}")
    assert_input_error(r, "training.early_stopping.monitor: 'val_loss' needs a validation split "
                          "(data.validation is 0); choose one of loss, accuracy")
    r = cli.train(OVERFIT, "--set", "training.schedule={kind: plateau, monitor: r2}")
    assert_input_error(r, "training.schedule.monitor: 'r2' is not a history column; choose one "
                          "of loss, accuracy, val_loss, val_accuracy")


def test_early_stopping_on_accuracy_waits_for_a_higher_value(tmp_path):
    run = train_from_config(OVERFIT, ["training.early_stopping={monitor: val_accuracy, "
                                      "patience: 10}"], tmp_path / "runs").run_dir
    rows, m = history(run), read_json(run / "metrics.json")
    acc = [float(r["val_accuracy"]) for r in rows]
    best = m["best_epoch"]
    assert acc[best - 1] == max(acc) and acc.index(max(acc)) == best - 1  # the first maximum
    assert len(rows) == best + 10


# --- the momentum forms on one config ---------------------------------------------------------

@pytest.mark.parametrize("form,expected", [
    # dJ/dw = (2w - 1) * 2 = 1.8 at w = 0.95; lr 0.1 then 0.05 (step schedule); mu = 0.9
    # classic: v = -0.1*1.8 = -0.18, w = 0.77; g = 1.08, v = 0.9*(-0.18) - 0.05*1.08
    #          = -0.216, w = 0.554
    ("classic", 0.554),
    # pytorch: v = 1.8, w = 0.95 - 0.1*1.8 = 0.77; v = 0.9*1.8 + 1.08 = 2.7,
    #          w = 0.77 - 0.05*2.7 = 0.635
    ("pytorch", 0.635),
    # hagan:   v = -(1-0.9)*0.1*1.8 = -0.018, w = 0.932; g = 4*0.932 - 2 = 1.728,
    #          v = 0.9*(-0.018) - 0.1*0.05*1.728 = -0.02484, w = 0.90716
    ("hagan", 0.90716),
])
def test_the_three_momentum_forms_give_their_documented_numbers(tmp_path, form, expected):
    w, rows = w_after(tmp_path, "training.epochs=2", "training.update=momentum",
                      f"training.momentum_form={form}",
                      "training.schedule={kind: step, every: 1, factor: 0.5}")
    assert w == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("value,message", [
    ("constnt", "training.schedule: expected constant, or a mapping with kind: step, "
                "exponential, plateau (got 'constnt')"),
    ("{kind: cosine}", "training.schedule.kind: unknown kind 'cosine'; expected one of: step, "
                       "exponential, plateau"),
    ("{every: 3}", "training.schedule.kind: required key is missing; expected one of: step, "
                   "exponential, plateau"),
    ("{kind: step, evry: 3}", "training.schedule.evry: unknown key (did you mean every?); "
                              "allowed keys: kind, every, factor"),
    ("{kind: plateau, factor: 1}", "training.schedule.factor: Input should be less than 1 "
                                   "(got 1)"),
])
def test_schedule_errors_name_the_key(cli, value, message):
    r = cli.train(EXAMPLE_A, "--set", f"training.schedule={value}")
    assert_input_error(r, f"{EXAMPLE_A}: {message} (from --set training.schedule={value})")


def test_the_json_schema_knows_both_ways_to_write_a_schedule():
    import jsonschema

    from nncli.config import json_schema

    validator = jsonschema.Draft202012Validator(json_schema())
    base = {"data": {"source": "xor"},
            "network": {"layers": [{"units": 1, "activation": "sigmoid"}]}}
    valid = ["constant", {"kind": "step", "every": 3}, {"kind": "plateau", "patience": 2}]
    invalid = ["constnt", {"kind": "cosine"}, {"kind": "step", "evry": 2}]
    for schedule in valid + invalid:
        errors = list(validator.iter_errors({**base, "training": {"schedule": schedule}}))
        assert (errors == []) == (schedule in valid), schedule
