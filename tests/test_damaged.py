"""A damaged file blocks nothing else: every file read back from a run or sweep directory is
checked by type; `nncli runs` lists a damaged run as `damaged` and says which file, `show` and a
sweep resume give one error naming the file; hostile YAML keys and JSON numbers are input
errors (docs/reliability.md, "A damaged file must not block anything else")."""

import json
import os

import numpy as np
import pytest
import yaml

from conftest import Cli, hooks, noisy_xor, write_config

from nncli.errors import InputError
from nncli.runs.load import load_run
from nncli.training import train as trainer
from nncli.training.checkpoint import CHECKPOINT, load_checkpoint

BIG = "1" + "0" * 400  # an integer too large for a float

DAMAGED_METRICS = {
    "wrong type": ('{"status": 5, "reason": "x", "epochs": 3, "epochs_run": 3, '
                   '"wall_time": 0.1, "train": null, "validation": null}',
                   "metrics.json: status: Input should be 'finished', 'diverged' or "
                   "'interrupted'"),
    "metric not a number": ('{"status": "finished", "reason": "x", "epochs": 3, "epochs_run": 3, '
                            '"wall_time": 0.1, "train": {"loss": "low"}, "validation": null}',
                            "metrics.json: train.loss: Input should be a valid number"),
    "not an object": ("[1, 2]", "metrics.json: Input should be a valid dictionary or instance "
                                "of Metrics"),
    "deeply nested": ("[" * 100_000 + "]" * 100_000,
                      "metrics.json: not valid JSON: nested too deeply"),
    "huge integer": ('{"status": "finished", "reason": "x", "epochs": 3, "epochs_run": 3, '
                     f'"wall_time": 0.1, "train": {{"loss": {BIG}}}, "validation": null}}',
                     "metrics.json: train.loss: Input should be a valid number"),
    "NaN": ('{"status": "finished", "wall_time": NaN}',
            "metrics.json: not valid JSON: NaN is not a JSON number"),
}
DAMAGED_CONFIGS = {
    "training: abc": (None, "config.yaml:{line}:1: training: Input should be a valid "
                            "dictionary or instance of TrainingConfig (got 'abc')"),
    "list as key": ("? [1, 2] : 3\n", "config.yaml: invalid YAML (line 1, column 3): a key "
                                      "must be a plain name, not a list or mapping"),
    "mapping as key": ("{? {a: 1} : 3}\n", "config.yaml: invalid YAML (line 1, column 4): a key "
                                           "must be a plain name, not a list or mapping"),
    "python tag": ("name: !!python/object/apply:os.system [echo]\n",
                   "config.yaml: invalid YAML (line 1, column 7): could not determine a "
                   "constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
}


@pytest.fixture
def two_runs(tmp_path):
    """Two finished runs, `good` and `bad`, in one folder."""
    out = tmp_path / "runs"
    runs = {}
    for name in ("good", "bad"):
        config = write_config(tmp_path, noisy_xor(3, name), f"{name}.yaml")
        runs[name] = trainer.train_from_config(config, [], out).run_dir
    return out, runs


def damage(run, filename, text):
    (run / filename).write_text(text)


def assert_listed_as_damaged(cli, out, runs, expected):
    bad = runs["bad"]
    r = cli("runs", out)
    assert r.exit_code == 0, r.output
    assert r.stderr == f"warning: {bad.name} is damaged: {bad}/{expected}\n"
    status = {line.split()[0]: line.split()[3] for line in r.stdout.splitlines()[1:]}
    assert status == {runs["good"].name: "finished", bad.name: "damaged"}
    r = cli("runs", out, "--json")
    listed = {run["name"]: run for run in json.loads(r.stdout)["runs"]}
    assert listed[runs["good"].name]["status"] == "finished"
    assert (listed[bad.name]["status"], listed[bad.name]["reason"]) == \
        ("damaged", f"{bad}/{expected}")


@pytest.mark.parametrize("case", sorted(DAMAGED_METRICS))
def test_a_damaged_metrics_json_is_listed_and_named(cli, two_runs, case):
    text, expected = DAMAGED_METRICS[case]
    out, runs = two_runs
    damage(runs["bad"], "metrics.json", text)
    assert_listed_as_damaged(cli, out, runs, expected)
    r = cli("show", runs["bad"])
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", f"error: {runs['bad']}/{expected}\n")


@pytest.mark.parametrize("case", sorted(DAMAGED_CONFIGS))
def test_a_damaged_config_yaml_is_listed_and_named(cli, two_runs, case):
    text, expected = DAMAGED_CONFIGS[case]
    out, runs = two_runs
    if text is None:  # the run's own config, with one section edited
        config = yaml.safe_load((runs["bad"] / "config.yaml").read_text())
        text = yaml.safe_dump({**config, "training": "abc"})
        line = text.splitlines().index("training: abc") + 1
        expected = expected.format(line=line)
    damage(runs["bad"], "config.yaml", text)
    assert_listed_as_damaged(cli, out, runs, expected)
    r = cli("show", runs["bad"])
    assert (r.exit_code, r.stderr) == (2, f"error: {runs['bad']}/{expected}\n")


def test_a_config_yaml_that_is_not_text_is_listed_as_damaged(cli, two_runs):
    out, runs = two_runs
    (runs["bad"] / "config.yaml").write_bytes(b"\xff\xfe\x00garbage")
    assert_listed_as_damaged(cli, out, runs, "config.yaml: not UTF-8 text (is it a config "
                                             "file?)")


def test_predict_is_not_blocked_by_a_damaged_metrics_json(cli, two_runs, tmp_path):
    """predict needs model.json and weights.npz only: a damaged metrics.json costs nothing."""
    out, runs = two_runs
    damage(runs["bad"], "metrics.json", "[" * 100_000)
    assert load_run(runs["bad"]).status is None
    rows = tmp_path / "x.csv"
    rows.write_text("x1,x2\n0,1\n1,1\n")
    r = cli("predict", runs["bad"], rows)
    assert r.exit_code == 0 and r.stdout.splitlines()[0] == "target"


# --- sweeps -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def swept_once(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    cli = Cli(tmp / "runs")
    config = write_config(tmp, noisy_xor(2, "sw"))
    args = ("sweep", config, "--grid", "training.learning_rate=0.1,0.5", "--jobs", "1",
            "--out", cli.out, "--quiet")
    r = cli(*args)
    assert r.exit_code == 0, r.output
    (sweep_dir,) = cli.out.iterdir()
    return args, sweep_dir


@pytest.fixture
def swept(swept_once):
    """The sweep (made once: its workers take seconds to start), as it was after each test."""
    _, sweep_dir = swept_once
    before = {p: p.read_bytes() for p in sweep_dir.rglob("*") if p.is_file()}
    yield swept_once
    for p, data in before.items():
        p.write_bytes(data)


def test_a_sweep_with_a_damaged_run_is_not_resumed_on_a_guess(cli, swept):
    args, sweep_dir = swept
    run = next(p for p in sweep_dir.iterdir() if p.name.startswith("learning_rate-0.1"))
    damage(run, "metrics.json", '{"status": "finished", "epochs": "many"}')
    r = cli(*args)
    assert r.exit_code == 2
    assert r.stderr == (f"error: {run}/metrics.json: reason: Field required\n")


@pytest.mark.parametrize("text, expected", [
    ('{"id": [1]}', "format_version: Field required"),
    ("[" * 100_000, "not valid JSON: nested too deeply"),
    ('{"format_version": 1, "id": 5, "name": "sw", "config": "c", "set": [], "grid": {}, '
     '"points": []}', "id: Input should be a valid string"),
])
def test_a_damaged_sweep_json_is_one_error(cli, swept, text, expected):
    args, sweep_dir = swept
    (sweep_dir / "sweep.json").write_text(text)
    r = cli(*args)
    assert (r.exit_code, r.stderr) == (2, f"error: {sweep_dir}/sweep.json: {expected}\n")


def test_a_damaged_summary_csv_is_listed_not_fatal(cli, swept):
    args, sweep_dir = swept
    (sweep_dir / "summary.csv").write_text("name,status,error\n../../etc,failed,boom\n")
    r = cli("runs", sweep_dir.parent, "--json")
    assert r.exit_code == 0
    listed = {run["name"]: run for run in json.loads(r.stdout)["runs"]}
    summary = listed[f"{sweep_dir.name}/summary.csv"]
    assert summary["status"] == "damaged"
    assert summary["reason"].startswith(f"{sweep_dir}/summary.csv: line 2: name: String should "
                                        f"match pattern")
    assert sum(run["status"] == "finished" for run in listed.values()) == 2
    r = cli(*args)  # the sweep resumes (both points done) and writes its summary again
    assert r.exit_code == 0, r.output
    assert (sweep_dir / "summary.csv").read_text().startswith("name,status,training.learning_rate,")


@pytest.mark.parametrize("value", [
    "&a [*a]",  # refers to itself: serialising it never ends
    # a billion laughs: 9**8 values behind the last alias
    ", ".join(["&a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
              + [f"&{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefg", "bcdefgh")]),
])
def test_grid_values_are_validated_before_they_are_serialised(cli, tmp_path, value):
    config = write_config(tmp_path, noisy_xor(2, "sw"))
    r = cli("sweep", config, "--grid", f"training.epochs={value}", "--out", cli.out)
    assert r.exit_code == 2
    assert r.stderr.startswith("error: grid point training.epochs=[")
    assert r.stderr.endswith(f": {config}: training.epochs: Input should be a valid integer\n")
    assert not cli.out.exists()


# --- JSON numbers and YAML keys ------------------------------------------------------------------

def test_an_integer_too_large_for_a_float_in_model_json_is_an_input_error(two_runs,
                                                                         monkeypatch):
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "1G")
    _, runs = two_runs
    model = runs["bad"] / "model.json"
    model.write_text(model.read_text().replace('"units": 4', f'"units": {BIG}'))
    with pytest.raises(InputError) as e:
        load_run(runs["bad"])
    assert str(e.value) == (f"{model}: layers: too large: needs about 1e404 bytes of memory, "
                            f"and the limit is NNCLI_MAX_MEMORY=1G (NNCLI_MAX_MEMORY sets the "
                            f"limit)")


@pytest.mark.parametrize("field, expected", [
    ("wall_time", "wall_time: Input should be a valid number"),
    ("epochs_done", "epochs_done: Input should be less than 9223372036854775808"),
    ("history", "history.0.loss.constrained-int: Input should be less than "
                "9223372036854775808"),
])
def test_an_integer_too_large_for_a_float_in_a_checkpoint_is_an_input_error(tmp_path, field,
                                                                            expected):
    config = write_config(tmp_path, noisy_xor(5, "xr"))
    calls = []
    run = trainer.train_from_config(config, [], tmp_path / "runs",
                                    hooks(stop=lambda: calls.append(1) or len(calls) > 5)).run_dir
    with np.load(run / CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    state = json.loads(str(arrays["state"]))
    state[field] = [{"epoch": 1, "loss": 1}] if field == "history" else 1
    text = json.dumps(state).replace('"loss": 1}' if field == "history" else f'"{field}": 1',
                                     '"loss": ' + BIG + "}" if field == "history"
                                     else f'"{field}": {BIG}')
    arrays["state"] = np.array(text)
    np.savez(run / CHECKPOINT, **arrays)
    with pytest.raises(InputError) as e:
        load_checkpoint(run)
    assert str(e.value) == f"{run}/{CHECKPOINT}: state: {expected}"


@pytest.mark.parametrize("text", ["? [1, 2] : 3\n", "data: {? [x] : 1}\n",
                                  "training: {? {a: 1} : 2}\n"])
def test_a_yaml_key_that_is_a_list_or_mapping_is_an_input_error(cli, tmp_path, text):
    config = write_config(tmp_path, text)
    r = cli.train(config)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {config}: invalid YAML (line 1, column ")
    assert r.stderr.endswith("): a key must be a plain name, not a list or mapping\n")
    r = cli.train(write_config(tmp_path, noisy_xor(2)), "--set", f"data.x={text.strip()}")
    assert r.exit_code == 2 and "a key must be a plain name" in r.stderr


def test_the_same_damage_in_a_partial_directory_is_listed(cli, tmp_path):
    out = tmp_path / "runs"
    partial = out / ".xr.abc123.partial"
    partial.mkdir(parents=True)
    (partial / "config.yaml").write_text("data: {source: xor}\n")  # no network:
    r = cli("runs", out, "--json")
    (run,) = json.loads(r.stdout)["runs"]
    assert (run["status"], run["reason"]) == (
        "damaged", f"{partial}/config.yaml: network: required key is missing")
    assert os.listdir(partial) == ["config.yaml"]


@pytest.mark.parametrize("value, expected", [
    ("&a [*a]", ":2:1: data: Input should be a valid dictionary"),
    ("&a {x: *a}", ": invalid YAML (line 2, column 7): found unconstructable recursive node"),
])
def test_a_self_referencing_alias_in_a_config_or_set_is_refused(cli, tmp_path, value,
                                                                expected):
    """Where each key is written is found by walking the document: a node reached again
    through an alias is not walked again, or this walk would never end."""
    config = write_config(tmp_path, noisy_xor(1, "xr").replace(
        "data: {source: xor, n_samples: 40, noise: 0.2}", f"data: {value}"))
    r = cli.train(config)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {config}{expected}")
    r = cli.train(write_config(tmp_path, noisy_xor(1, "xr"), "ok.yaml"),
                  "--set", f"training={value}")
    assert r.exit_code == 2 and r.stderr.startswith("error: ")
    assert len(r.stderr.splitlines()) == 1
