"""`nncli runs`: every kind of run directory listed with its status, config values and metrics."""

import json
import os
import shutil
import time

import pytest

from conftest import noisy_xor, read_json, write_config

from nncli.training.train import train_from_config

XOR = noisy_xor(10)
DIVERGES = ("data: {source: inline, x: [[1.0e30], [2.0]], y: [1, 2]}\n"
            "network: {layers: [{units: 1, activation: linear}]}\n"
            "training: {batch: full, epochs: 50}\n")


def only(cli, name):
    (run,) = [d for d in cli.out.iterdir() if d.name.startswith(name + "-")]
    return run


def age(path, seconds_ago):
    """Date a run (its metrics.json) in the past, so that date order is known."""
    t = time.time() - seconds_ago
    for p in (path / "metrics.json", path):
        if p.exists():
            os.utime(p, (t, t))


@pytest.fixture
def runs_dir(cli, tmp_path):
    """Runs of every kind: finished (two), diverged, interrupted, incomplete (no metrics.json,
    and a dead .partial), and a sweep holding one run and one failed point."""
    xor = write_config(tmp_path, XOR, "xor.yaml")
    out = cli.out
    train_from_config(xor, ["name=slow"], out)
    train_from_config(xor, ["name=fast", "training.learning_rate=2.0", "training.batch=full"], out)
    big = train_from_config(write_config(tmp_path, DIVERGES, "big.yaml"), ["name=big"], out)
    assert big.metrics["status"] == "diverged"
    stopped = train_from_config(xor, ["name=stopped"], out).run_dir
    m = read_json(stopped / "metrics.json")
    (stopped / "metrics.json").write_text(json.dumps({**m, "status": "interrupted",
                                                      "reason": "interrupted during epoch 4"}))
    broken = out / "broken-20260101-000000"
    shutil.copytree(only(cli, "slow"), broken)
    (broken / "metrics.json").unlink()
    partial = out / ".dead.abc123.partial"
    partial.mkdir()
    shutil.copy(only(cli, "slow") / "config.yaml", partial / "config.yaml")
    sweep = out / "xor-sweep-0123456789"
    sweep.mkdir()
    (sweep / "sweep.json").write_text("{}\n")
    inside = train_from_config(xor, ["name=lr-0.5"], sweep).run_dir
    (sweep / "summary.csv").write_text(
        "name,status,training.learning_rate,run_dir,error\n"
        f"lr-0.5,finished,0.5,{inside.name},\n"
        "lr-9,failed,9,,training.learning_rate: too big\n")
    (out / "notes").mkdir()  # neither a run nor a sweep: not listed
    (out / "README.txt").write_text("not a run\n")
    for i, run in enumerate(["slow", "fast", "big", "stopped"]):
        age(only(cli, run), 100 - i)
    age(broken, 50)
    age(partial, 40)
    return out


def runs_json(cli, *args):
    r = cli("runs", *args, "--json")
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 1 and r.stderr == ""
    return json.loads(r.stdout)


def test_lists_every_kind_of_run(cli, runs_dir):
    obj = runs_json(cli, runs_dir)
    assert obj["dir"] == str(runs_dir)
    by_name = {r["name"]: r for r in obj["runs"]}
    statuses = {r["name"]: r["status"] for r in obj["runs"]}
    assert sorted(statuses.values()) == sorted(
        ["finished", "finished", "diverged", "interrupted", "incomplete", "incomplete",
         "finished", "failed"])
    assert statuses[".dead.abc123.partial"] == "incomplete"
    assert statuses["broken-20260101-000000"] == "incomplete"
    assert statuses["xor-sweep-0123456789/lr-9"] == "failed"
    assert not any(name.startswith("notes") for name in statuses)

    slow = next(r for r in obj["runs"] if r["name"].startswith("slow-"))
    m = read_json(runs_dir / slow["name"] / "metrics.json")
    assert (slow["seed"], slow["batch"], slow["batch_size"], slow["learning_rate"],
            slow["epochs"], slow["layers"]) == (0, "minibatch", 8, 0.5, 10, [2, 4, 1])
    assert (slow["train"], slow["validation"]) == (m["train"], m["validation"])
    assert slow["epochs_run"] == 10 and slow["reason"] == "reached training.epochs (10)"
    fast = next(r for r in obj["runs"] if r["name"].startswith("fast-"))
    assert (fast["batch"], fast["batch_size"], fast["learning_rate"]) == ("full", None, 2.0)
    big = next(r for r in obj["runs"] if r["name"].startswith("big-"))
    assert big["status"] == "diverged" and big["reason"].startswith("loss became inf at epoch 4")
    failed = by_name["xor-sweep-0123456789/lr-9"]
    assert failed["reason"] == "training.learning_rate: too big" and failed["train"] is None
    inside = next(r for r in obj["runs"] if r["name"].startswith("xor-sweep-0123456789/lr-0.5-"))
    assert inside["status"] == "finished" and inside["learning_rate"] == 0.5
    partial = by_name[".dead.abc123.partial"]
    assert partial["learning_rate"] == 0.5 and partial["train"] is None  # its config was written


def test_default_order_is_by_date_and_sort_by_metric(cli, runs_dir):
    names = [r["name"].split("-")[0] for r in runs_json(cli, runs_dir)["runs"]]
    assert names[:6] == ["slow", "fast", "big", "stopped", "broken", ".dead.abc123.partial"]

    ranked = runs_json(cli, runs_dir, "--sort", "val_loss")["runs"]
    values = [r["validation"]["loss"] for r in ranked if r["validation"]]
    assert values == sorted(values) and len(values) == 4  # slow, fast, stopped, lr-0.5
    assert all(not r["validation"] for r in ranked[len(values):])  # without the value: last
    ranked = runs_json(cli, runs_dir, "--sort", "accuracy")["runs"]
    keys = [(-r["train"]["accuracy"], r["train"]["loss"]) for r in ranked
            if r["train"] and "accuracy" in r["train"]]
    assert keys == sorted(keys) and len(keys) == 4  # equal accuracy: lower loss first


def test_table_on_stdout(cli, runs_dir):
    r = cli("runs", runs_dir, "--sort", "name")
    assert r.exit_code == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    # (regression runs add RMSE and MAE in the target's units, after the usual metrics)
    assert lines[0].split() == ["run", "date", "status", "batch", "lr", "epochs", "layers",
                                "loss", "accuracy", "r2", "val_loss", "val_accuracy", "mae",
                                "rmse"]
    assert [line.split()[0] for line in lines[1:]] == sorted(line.split()[0] for line in lines[1:])
    fast = next(line for line in lines if line.startswith("fast-")).split()  # date: 2 words
    m = read_json(only(cli, "fast") / "metrics.json")
    assert fast[3:8] == ["finished", "full", "2", "10", "2-4-1"]
    assert fast[8:] == [f"{m['train']['loss']:.4g}", f"{m['train']['accuracy']:.4g}", "-",
                        f"{m['validation']['loss']:.4g}", f"{m['validation']['accuracy']:.4g}", "-", "-"]
    big = next(line for line in lines if line.startswith("big-")).split()
    assert big[3] == "diverged" and big[8:13] == ["-"] * 5  # its loss became inf; no validation
    # (its MAE in the target's units is a finite, huge number; its RMSE overflowed)
    mae = read_json(only(cli, "big") / "metrics.json")["train"]["mae"]
    assert big[13:] == [f"{mae:.4g}", "-"]
    failed = next(line for line in lines if line.startswith("xor-sweep-0123456789/lr-9")).split()
    assert failed[3] == "failed" and failed[4:] == ["-"] * 11
    assert "\x1b" not in r.stdout


def test_a_sweep_or_a_single_run_can_be_listed(cli, runs_dir):
    inside = runs_json(cli, runs_dir / "xor-sweep-0123456789")["runs"]
    assert sorted(r["status"] for r in inside) == ["failed", "finished"]
    slow = only(cli, "slow")
    (one,) = runs_json(cli, slow)["runs"]
    assert one["name"] == slow.name and one["status"] == "finished"


def test_bad_arguments_exit_2(cli, runs_dir, tmp_path):
    r = cli("runs", runs_dir, "--sort", "speed")
    assert r.exit_code == 2
    assert r.stderr == ("error: --sort speed: unknown; expected one of: date, name, accuracy, "
                        "val_accuracy, r2, val_r2, loss, val_loss, wall_time\n")
    r = cli("runs", tmp_path / "nowhere")
    assert r.exit_code == 2 and r.stderr == f"error: {tmp_path / 'nowhere'}: directory not found\n"
    r = cli("runs", runs_dir / "README.txt")
    assert r.exit_code == 2 and "not a directory" in r.stderr


def test_empty_directory(cli, tmp_path):
    r = cli("runs", tmp_path)
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == f"no runs in {tmp_path}\n"
    assert runs_json(cli, tmp_path)["runs"] == []
