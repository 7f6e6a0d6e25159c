"""`nncli sweep`: real sweeps in worker processes (and on a local Dask cluster), the summary,
seed aggregation, failures, --fail-fast, resume, and the plan (grid parsing, run names)."""

import csv
import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import noisy_xor, read_json, weights, write_config

from nncli.errors import InputError
from nncli.sweep import make_points, parse_grid, plan_sweep
from nncli.training.train import train_from_config

# 40 noisy XOR points (32 train, 8 validation), one small hidden layer: each run takes ~0.1 s.
XOR = noisy_xor(20, name="xor")
# A point that fails once its data are loaded (the config itself is valid).
TOO_BIG = "network.input: 3 but the data has 2 features"
RUN_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"  # the contract's run name
STAMP = re.compile(r"-\d{8}-\d{6}(-\d+)?$")


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path, XOR, "xor.yaml")


def sweep(cli, config, *args):
    r = cli("sweep", config, "--out", cli.out, "--json", *args)
    lines = r.stdout.splitlines()
    obj = json.loads(lines[0]) if len(lines) == 1 else None
    return r, obj


def point_dirs(sweep_dir):
    """{point name: [run directories]} of a sweep directory."""
    found = {}
    for d in sorted(p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found.setdefault(STAMP.sub("", d.name), []).append(d)
    return found


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_sweep_with_two_jobs_seeds_and_a_failing_point(cli, config, tmp_path):
    r, obj = sweep(cli, config, "--grid", "training.learning_rate=0.5,2.0",
                   "--grid", "network.input=2,3", "--seeds", "2", "--jobs", "2")
    assert r.exit_code == 1  # some runs failed; the others ran all the same
    assert r.stderr.splitlines()[-1] == \
        f"error: 4 of 8 runs failed or diverged; see {obj['sweep_dir']}/summary.csv"
    sweep_dir = Path(obj["sweep_dir"])
    assert sweep_dir.parent == cli.out and sweep_dir.name.startswith("xor-sweep-")
    assert (obj["total"], obj["finished"], obj["failed"], obj["pending"]) == (8, 4, 4, 0)

    # One normal run directory per good point, named by its overrides.
    good = [f"learning_rate-{lr}__input-2__seed-{s}" for lr in ("0.5", "2.0") for s in (0, 1)]
    dirs = point_dirs(sweep_dir)
    assert sorted(dirs) == sorted(good) and all(len(v) == 1 for v in dirs.values())
    for name in good:
        run = dirs[name][0]
        resolved = yaml.safe_load((run / "config.yaml").read_text())
        lr, seed = float(name.split("-")[1].split("__")[0]), int(name[-1])
        assert (resolved["name"], resolved["seed"]) == (name, seed)
        assert resolved["training"]["learning_rate"] == lr
        assert read_json(run / "metrics.json")["status"] == "finished"
        # Bit for bit what training the same overrides in this process gives.
        alone = train_from_config(config, [f"training.learning_rate={lr}", "network.input=2",
                                           f"seed={seed}"], tmp_path / "alone")
        assert same_weights(run, alone.run_dir)

    # summary.csv: every point, best validation accuracy first, failures last with their error.
    rows = read_csv(sweep_dir / "summary.csv")
    assert list(rows[0]) == ["name", "status", "training.learning_rate", "network.input",
                             "seed", "epochs_run", "wall_time", "loss", "accuracy", "val_loss",
                             "val_accuracy", "run_dir", "error"]
    assert [r["status"] for r in rows] == ["finished"] * 4 + ["failed"] * 4
    finished = rows[:4]
    keys = [(-float(r["val_accuracy"]), float(r["val_loss"])) for r in finished]
    assert keys == sorted(keys)
    for row in finished:
        m = read_json(dirs[row["name"]][0] / "metrics.json")
        assert float(row["val_loss"]) == m["validation"]["loss"]  # full precision
        assert float(row["accuracy"]) == m["train"]["accuracy"]
        assert row["run_dir"] == dirs[row["name"]][0].name and row["error"] == ""
    assert all(r["error"] == TOO_BIG and r["run_dir"] == "" and r["network.input"] == "3"
               for r in rows[4:])
    assert [r["name"] for r in obj["runs"]] == [r["name"] for r in rows]

    # aggregate.csv: mean and sample standard deviation over the two seeds, per grid point.
    agg = read_csv(sweep_dir / "aggregate.csv")
    assert [(a["network.input"], a["seeds"], a["finished"]) for a in agg] == \
        [("2", "2", "2"), ("2", "2", "2"), ("3", "2", "0"), ("3", "2", "0")]
    for a in agg[:2]:
        runs = [read_json(dirs[f"learning_rate-{a['training.learning_rate']}__input-2__seed-{s}"][0]
                          / "metrics.json") for s in (0, 1)]
        val_loss = [m["validation"]["loss"] for m in runs]
        assert float(a["val_loss_mean"]) == statistics.fmean(val_loss)
        assert float(a["val_loss_std"]) == statistics.stdev(val_loss)
    assert float(agg[0]["val_accuracy_mean"]) >= float(agg[1]["val_accuracy_mean"])
    assert agg[2]["val_loss_mean"] == "" and agg[3]["val_loss_std"] == ""
    assert obj["aggregate"][0]["val_loss_mean"] == float(agg[0]["val_loss_mean"])

    # sweep.json describes the grid and every point's overrides.
    described = read_json(sweep_dir / "sweep.json")
    assert described["grid"] == {"training.learning_rate": [0.5, 2.0],
                                 "network.input": [2, 3], "seed": [0, 1]}
    assert described["points"][0] == {
        "name": "learning_rate-0.5__input-2__seed-0",
        "overrides": ["training.learning_rate=0.5", "network.input=2", "seed=0",
                      "name=learning_rate-0.5__input-2__seed-0"]}
    # Progress off a terminal: one plain line per run, no escape sequences.
    assert "[8/8] " in r.stderr and "\x1b" not in r.stderr
    assert f"failed learning_rate-0.5__input-3__seed-0: {TOO_BIG}" in r.stderr


def test_fail_fast_starts_nothing_after_a_failure(cli, config):
    r, obj = sweep(cli, config, "--grid", "network.input=3,2", "--jobs", "1",
                   "--fail-fast")
    assert r.exit_code == 1
    assert "1 of 2 runs failed or diverged; stopped early (--fail-fast), 1 not run" in r.stderr
    sweep_dir = Path(obj["sweep_dir"])
    rows = read_csv(sweep_dir / "summary.csv")
    assert [(r["name"], r["status"]) for r in rows] == \
        [("input-3", "failed"), ("input-2", "pending")]
    assert point_dirs(sweep_dir) == {}


def test_diverged_point_is_recorded_with_its_reason(cli, tmp_path):
    path = write_config(tmp_path, "data: {source: inline, x: [[1.0e30], [2.0]], y: [1, 2]}\n"
                                  "network: {layers: [{units: 1, activation: linear}]}\n"
                                  "training: {batch: full, epochs: 50}\n", "big.yaml")
    r, obj = sweep(cli, path, "--grid", "training.learning_rate=0.01,1e-80", "--jobs", "1")
    assert r.exit_code == 1
    by_name = {row["name"]: row for row in obj["runs"]}
    assert by_name["learning_rate-0.01"]["status"] == "diverged"
    assert by_name["learning_rate-0.01"]["error"].startswith(
        "loss became inf at epoch 4, batch 1; kept the weights of epoch 3")
    assert by_name["learning_rate-1e-80"]["status"] == "finished"
    assert [row["name"] for row in obj["runs"]] == ["learning_rate-1e-80", "learning_rate-0.01"]


def test_interrupted_sweep_resumes_and_skips_finished_runs(cli, config, monkeypatch):
    from nncli.cli import progress

    original = progress.SweepProgress.finished

    def interrupt_after_first(self, point, outcome):
        original(self, point, outcome)
        raise KeyboardInterrupt  # as Ctrl-C would, once the first run is in

    grid = ("--grid", "training.learning_rate=0.5,1.0,2.0", "--jobs", "1")
    monkeypatch.setattr(progress.SweepProgress, "finished", interrupt_after_first)
    r = cli("sweep", config, "--out", cli.out, *grid)
    assert r.exit_code == 130
    assert "interrupted after 1 of 3 runs; run the same command again to resume" in r.stderr
    (sweep_dir,) = cli.out.iterdir()
    rows = read_csv(sweep_dir / "summary.csv")
    assert [row["status"] for row in rows] == ["finished", "pending", "pending"]
    assert list(point_dirs(sweep_dir)) == ["learning_rate-0.5"]
    first = point_dirs(sweep_dir)["learning_rate-0.5"][0]
    first_mtime = (first / "metrics.json").stat().st_mtime_ns

    monkeypatch.setattr(progress.SweepProgress, "finished", original)
    r, obj = sweep(cli, config, *grid)  # the same command
    assert r.exit_code == 0, r.output
    assert obj["sweep_dir"] == str(sweep_dir)
    assert (obj["done_before"], obj["finished"]) == (1, 3)
    assert "3 runs, 1 done before" in r.stderr
    dirs = point_dirs(sweep_dir)
    assert dirs["learning_rate-0.5"] == [first]  # not repeated, not touched
    assert (first / "metrics.json").stat().st_mtime_ns == first_mtime

    # A run that vanished, a run that was interrupted, a dead temporary run: all run again.
    deleted, interrupted = dirs["learning_rate-1.0"][0], dirs["learning_rate-2.0"][0]
    deleted_weights = weights(deleted)
    for f in deleted.iterdir():
        f.unlink()
    deleted.rmdir()
    m = read_json(interrupted / "metrics.json")
    (interrupted / "metrics.json").write_text(json.dumps({**m, "status": "interrupted"}))
    (sweep_dir / ".learning_rate-1.0.x1y2.partial").mkdir()
    r, obj = sweep(cli, config, *grid)
    assert r.exit_code == 0, r.output
    assert (obj["done_before"], obj["finished"]) == (1, 3)
    dirs = point_dirs(sweep_dir)
    assert dirs["learning_rate-0.5"] == [first]
    (again,) = dirs["learning_rate-1.0"]
    assert all(np.array_equal(deleted_weights[k], weights(again)[k]) for k in deleted_weights)
    assert len(dirs["learning_rate-2.0"]) == 2 and interrupted in dirs["learning_rate-2.0"]
    rows = {row["name"]: row for row in read_csv(sweep_dir / "summary.csv")}
    assert rows["learning_rate-2.0"]["run_dir"] != interrupted.name
    assert all(row["status"] == "finished" for row in rows.values())


BAD_GRIDS = {
    "unknown key": (["--grid", "training.lerning_rate=0.1"],
                    "grid point training.lerning_rate=0.1: "),
    "bad value": (["--grid", "training.learning_rate=0.1,-1"],
                  "grid point training.learning_rate=-1: "),
    "no values": (["--grid", "training.learning_rate="], "expected at least one value"),
    "no equals": (["--grid", "training.learning_rate"], "expected KEY=V1,V2,..."),
    "repeated value": (["--grid", "seed=1,1"], "the value 1 is given twice"),
    "repeated key": (["--grid", "seed=1", "--grid", "seed=2"], "given twice"),
    "name": (["--grid", "name=a,b"], "--grid name: the runs of a sweep are named"),
    "seeds twice": (["--grid", "seed=1,2", "--seeds", "2"], "--seeds and --grid seed=..."),
    "jobs and scheduler": (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:8786"],
                           "--jobs applies to local runs"),
    "bad scheduler": (["--scheduler", "tcp://127.0.0.1"], "--scheduler tcp://127.0.0.1: "
                                                          "expected tcp://HOST:PORT"),
    "bad yaml": (["--grid", "seed=[1"], "--grid seed: invalid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD_GRIDS))
def test_bad_grid_exits_2_and_writes_nothing(cli, config, case):
    args, expected = BAD_GRIDS[case]
    r = cli("sweep", config, "--out", cli.out, *args)
    assert r.exit_code == 2
    assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    assert expected in r.stderr
    assert r.stdout == "" and not cli.out.exists()


def test_scheduler_without_the_dask_extra_names_the_extra_to_install(cli, config, monkeypatch):
    """distributed is the optional extra nncli[dask]: its absence is one error line, exit 2."""
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    r = cli("sweep", config, "--out", cli.out, "--grid", "seed=1,2",
            "--scheduler", "tcp://127.0.0.1:8786")
    assert r.exit_code == 2
    assert r.stderr == ("error: --scheduler tcp://127.0.0.1:8786: the Dask client is not "
                        "installed; install it with: pip install 'nncli[dask]'\n")
    assert r.stdout == "" and not cli.out.exists()


def test_unknown_key_error_names_the_key(config):
    with pytest.raises(InputError, match=r"training\.lerning_rate: unknown key "
                                         r"\(did you mean learning_rate\?\)"):
        plan_sweep(config, ["training.lerning_rate=0.1"])


def test_grid_values_are_yaml():
    assert parse_grid(["training.learning_rate=0.1, 1e-3", "network.layers.0.units=[8],[16, 8]",
                       "training.shuffle=true,false", "training.batch=sgd,full"]) == [
        ("training.learning_rate", [0.1, 0.001]), ("network.layers.0.units", [[8], [16, 8]]),
        ("training.shuffle", [True, False]), ("training.batch", ["sgd", "full"])]


def test_run_names():
    names = lambda axes: [p.name for p in make_points(axes, "cfg")]  # noqa: E731
    assert names([]) == ["cfg"]
    assert names([("training.learning_rate", [0.1, 1e-05]), ("seed", [0])]) == \
        ["learning_rate-0.1__seed-0", "learning_rate-1e-05__seed-0"]
    # Two keys ending alike are told apart; a list index is never a label on its own.
    assert names([("network.layers.0.units", [4]), ("network.layers.1.units", [2])]) == \
        ["layers.0.units-4__layers.1.units-2"]
    assert names([("data.features", [["a", "b"], ["c d"]])]) == ["features-a-b", "features-c-d"]
    # Values that read the same once sanitised, and very long ones, get a short hash.
    clash = names([("data.target", ["a b", "a/b"])])
    assert len(set(clash)) == 2 and all(re.fullmatch(r"target-a-b-[0-9a-f]{8}", n) for n in clash)
    long = names([("data.target", ["x" * 300])])[0]
    assert len(long) <= 90 and re.fullmatch(RUN_NAME, long)
    overrides = make_points([("training.batch", ["sgd"])], "cfg")[0].overrides()
    assert overrides == ['training.batch="sgd"', "name=batch-sgd"]


def test_the_same_command_names_the_same_sweep_directory(config):
    grid = ["training.learning_rate=0.1,0.5"]
    a = plan_sweep(config, grid, seeds=2)
    assert plan_sweep(config, grid, seeds=2).directory("runs") == a.directory("runs")
    assert str(a.directory("runs")) == f"runs/xor-sweep-{a.id}"
    others = [plan_sweep(config, grid, seeds=3), plan_sweep(config, grid + ["seed=1,2"]),
              plan_sweep(config, ["training.learning_rate=0.5,0.1"], seeds=2),
              plan_sweep(config, grid, seeds=2, overrides=["training.epochs=5"])]
    assert len({a.id, *(o.id for o in others)}) == 5
    # A sweep is identified by what it trains: --seeds 2 is --grid seed=0,1, and a --set
    # that restates the config changes nothing.
    assert plan_sweep(config, grid + ["seed=0,1"]).id == a.id
    assert plan_sweep(config, grid, seeds=2, overrides=["training.epochs=20"]).id == a.id


@pytest.mark.slow
def test_dask_cluster_gives_the_local_results_bit_for_bit(cli, config, tmp_path):
    from distributed import LocalCluster

    args = ("--grid", "training.learning_rate=0.5,2.0", "--grid", "network.input=2,3",
            "--seeds", "2")
    local_out, dask_out = tmp_path / "local", tmp_path / "dask"
    cli.out = local_out
    r, local = sweep(cli, config, *args, "--jobs", "2")
    assert r.exit_code == 1 and local["finished"] == 4
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        cli.out = dask_out
        r, remote = sweep(cli, config, *args, "--scheduler", address)
        assert r.exit_code == 1, r.output
        assert f"on Dask scheduler {address} (1 worker, 1 thread)" in r.stderr
        r, again = sweep(cli, config, *args, "--scheduler", address)  # resume: nothing to redo
        assert (again["done_before"], again["finished"], again["failed"]) == (4, 4, 4)

    name = local["sweep_dir"].split("/")[-1]
    assert remote["sweep_dir"].split("/")[-1] == name
    ignore = {"wall_time", "run_dir"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ignore} for r in rows]  # noqa
    assert strip(remote["runs"]) == strip(local["runs"])  # same metrics, order, failures
    local_dirs, dask_dirs = point_dirs(local_out / name), point_dirs(dask_out / name)
    assert sorted(local_dirs) == sorted(dask_dirs) and len(local_dirs) == 4
    for point, (run,) in local_dirs.items():
        (other,) = dask_dirs[point]
        assert same_weights(run, other)
        assert (run / "history.csv").read_text() == (other / "history.csv").read_text()
