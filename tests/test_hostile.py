"""Hostile and broken input: random configs, random CSV bytes, files that try to run code.

The only outcomes allowed are success or a clean error: InputError in the library, exit 2 with
one `error:` message and no traceback on the command line (exit 1 is the clean outcome of a
random learning rate that diverges). Property-based, with hypothesis.
"""

import io
import json
import math
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Cli, hooks, write_config

from nncli.training import train as trainer
from nncli.training.checkpoint import CHECKPOINT, load_checkpoint, restore
from nncli.config import Config, load_config, validate_config
from nncli.engine.activations import ACTIVATIONS
from nncli.engine.losses import LOSSES, loss_pairing_error
from nncli.errors import InputError, NncliWarning
from nncli.training.experiment import prepare
from nncli.runs.load import load_run

# Names that validation knows, so random configs often get past the first check.
KEYS = ["name", "seed", "dtype", "data", "network", "training", "source", "layers", "units",
        "activation", "loss", "batch", "batch_size", "learning_rate", "epochs", "shuffle",
        "update", "checkpoint_every", "x", "y", "path", "target", "features", "n_samples",
        "noise", "validation", "scale", "task", "input", "bias", "init", "weights", "biases",
        "freeze", "alpha", "centers", "header", "delimiter"]
WORDS = [*ACTIVATIONS, *LOSSES, "xor", "inline", "blobs", "csv", "moons", "full", "sgd",
         "minibatch", "float32", "float64", "gradient", "normalized", "xavier", "he", "zeros",
         "standard", "minmax", "none", "classification", "regression", "weights", "biases"]

leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40), st.integers(),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), st.sampled_from(WORDS))
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=4), st.integers()),
                        inner, max_size=5)),
    max_leaves=12)
random_configs = st.dictionaries(st.sampled_from(KEYS[:6]) | st.text(max_size=4), trees,
                                 max_size=6)

# Valid configs with one to three values replaced: these reach the deeper checks. Data and
# sizes stay small, so the ones that do validate train in milliseconds.
BASE = {
    "data": {"source": "xor", "n_samples": 24, "noise": 0.1},
    "network": {"layers": [{"units": 3, "activation": "tanh"},
                           {"units": 2, "activation": "softmax"}]},
    "training": {"epochs": 3, "batch_size": 4, "learning_rate": 0.1},
}
PATHS = [("name",), ("seed",), ("dtype",), ("data",), ("data", "source"), ("data", "n_samples"),
         ("data", "noise"), ("data", "validation"), ("data", "scale"), ("data", "task"),
         ("data", "x"), ("data", "y"), ("network", "input"), ("network", "bias"),
         ("network", "init"), ("network", "layers"), ("network", "layers", 0, "units"),
         ("network", "layers", 0, "activation"), ("network", "layers", 1, "units"),
         ("network", "layers", 1, "activation"), ("network", "layers", 0, "weights"),
         ("network", "layers", 0, "biases"), ("network", "layers", 1, "freeze"),
         ("network", "layers", 0, "alpha"), ("training", "loss"), ("training", "batch"),
         ("training", "batch_size"), ("training", "learning_rate"), ("training", "epochs"),
         ("training", "update"), ("training", "checkpoint_every"), ("training", "typo")]
small_values = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 30), st.sampled_from(WORDS),
    st.floats(allow_nan=True, allow_infinity=True, min_value=None),
    st.sampled_from([1e-300, 1e300, 1e39, -0.0, 0.5, 2.5]), st.text(max_size=5),
    st.lists(st.one_of(st.integers(-2, 3), st.floats(-3, 3)), max_size=4),
    st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=3),
             max_size=4),
    st.dictionaries(st.sampled_from(KEYS), st.integers(0, 5), max_size=2))


@st.composite
def mutated_configs(draw):
    config = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        node = config
        for key in path[:-1]:
            child = node[key] if isinstance(node, list) and key < len(node) else \
                node.get(key) if isinstance(node, dict) else None
            if not isinstance(child, (dict, list)):
                break
            node = child
        else:
            if isinstance(node, dict):
                node[path[-1]] = draw(small_values)
            elif isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
                node[path[-1]] = draw(small_values)
    return config


def assert_clean(error: InputError, where: str) -> None:
    message = str(error)
    assert message.startswith(where) and len(message) > len(where) + 2, message


def validate_or_error(raw):
    try:
        return validate_config(raw, "cfg.yaml")
    except InputError as e:
        assert_clean(e, "cfg.yaml: ")
        return None


def assert_keeps_its_promises(config: Config) -> None:
    """What a validated config guarantees the rest of nncli, checked independently."""
    t = config.training
    assert math.isfinite(t.learning_rate) and t.learning_rate > 0
    assert t.epochs >= 1 and t.batch_size >= 1 and config.seed >= 0
    assert config.network.layers and all(layer.units >= 1 for layer in config.network.layers)
    assert loss_pairing_error(config.loss_name, config.output_activation) is None
    # what the run directory records reads back as the same config
    assert validate_config(config.model_dump(mode="json"), "again") == config


@settings(max_examples=150, deadline=None)
@given(random_configs)
def test_validation_of_random_configs_never_crashes(raw):
    config = validate_or_error(raw)
    if config is not None:
        assert_keeps_its_promises(config)


@settings(max_examples=300, deadline=None)
@given(mutated_configs())
def test_validation_of_mutated_configs_never_crashes(raw):
    config = validate_or_error(raw)
    if config is not None:
        assert_keeps_its_promises(config)


def run_cli(text: str, *args, csv_bytes: bytes | None = None):
    """`nncli train` on a config holding ``text``, in a fresh folder; the result and the runs."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if csv_bytes is not None:
            (tmp / "d.csv").write_bytes(csv_bytes)
        (tmp / "cfg.yaml").write_text(text, encoding="utf-8")
        cli = Cli(tmp / "runs")
        result = cli.train(tmp / "cfg.yaml", *args)
        return result, [p.name for p in cli.run_dirs()], str(tmp)


def assert_clean_exit(result, runs, tmp):
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        # what the data were found to hold may come first, as warnings (rows left out for a
        # missing target: it explains the classes an error counts); then each problem one line
        # (a config reports all of its problems, up to 20 and a count)
        errors = [line for line in lines if not line.startswith("warning: ")]
        assert lines[len(lines) - len(errors):] == errors, result.stderr  # warnings first
        assert result.stderr.endswith("\n") and 1 <= len(errors) <= 21, result.stderr
        assert all(line.startswith("error: ") for line in errors), result.stderr
        assert runs == []  # bad input: nothing written
    else:
        assert result.exit_code in (0, 1), result.output
        assert len(runs) == 1
        if result.exit_code == 1:
            assert "training diverged: loss became" in result.stderr or \
                   "training diverged: validation loss became" in result.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_configs(), random_configs))
def test_cli_on_random_configs_succeeds_or_fails_cleanly(raw):
    assert_clean_exit(*run_cli(yaml.safe_dump(raw, allow_unicode=True)))


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_cli_on_random_yaml_text_fails_cleanly(text):
    assert_clean_exit(*run_cli(text))


# --- CSV ----------------------------------------------------------------------------------------

cells = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-inf", "1e39", "-1e39", "1e309", "3.4e38", "NA", "a",
                     "b", '"', '""', '"x,y"', "é", "\x00", " 1", "1 ", "0x10", "1_0", "\r"]),
    st.text(max_size=3))
csv_texts = st.lists(st.lists(cells, min_size=1, max_size=4), max_size=14).map(
    lambda rows: "\n".join(",".join(row) for row in rows))
csv_bytes = st.one_of(st.binary(max_size=120), csv_texts.map(lambda t: t.encode("utf-8")),
                      csv_texts.map(lambda t: t.encode("utf-16")))
csv_options = st.fixed_dictionaries({}, optional={
    "header": st.booleans(), "delimiter": st.sampled_from([",", ";", "\t"]),
    "target": st.sampled_from([0, -1, 2, "a", "b", [0, 1]]),
    "task": st.sampled_from(["classification", "regression"]),
    "validation": st.sampled_from([0, 0.5]), "scale": st.sampled_from(["none", "minmax"])})
outputs = st.sampled_from([{"units": 1, "activation": "linear"},
                           {"units": 2, "activation": "softmax"},
                           {"units": 1, "activation": "sigmoid"}])


def csv_config(options, output, dtype):
    return {"dtype": dtype, "data": {"source": "csv", "path": "d.csv", **options},
            "network": {"layers": [output]}, "training": {"epochs": 2, "batch": "full"}}


@settings(max_examples=300, deadline=None)
@given(csv_bytes, csv_options, outputs, st.sampled_from(["float64", "float32"]))
def test_loading_random_csv_bytes_succeeds_or_fails_cleanly(tmp_path_factory, data, options,
                                                           output, dtype):
    tmp = tmp_path_factory.mktemp("csv")
    (tmp / "d.csv").write_bytes(data)
    config = validate_config(csv_config(options, output, dtype), "cfg.yaml")
    try:
        with warnings.catch_warnings():  # what the data hold (rows left out): said, not wrong
            warnings.simplefilter("ignore", NncliWarning)
            experiment = prepare(config, tmp / "cfg.yaml")
    except InputError as e:
        assert len(str(e)) > 10
        return
    # Loaded: everything training sees is finite in the run's dtype.
    for a in (experiment.X_train, experiment.Y_train, experiment.X_val, experiment.Y_val):
        assert a.dtype == np.dtype(dtype) and np.all(np.isfinite(a))


@settings(max_examples=40, deadline=None)
@given(csv_bytes, csv_options, outputs, st.sampled_from(["float64", "float32"]))
def test_training_on_random_csv_bytes_through_the_cli(data, options, output, dtype):
    text = yaml.safe_dump(csv_config(options, output, dtype))
    assert_clean_exit(*run_cli(text, csv_bytes=data))


@pytest.mark.parametrize("value,dtype,message", [
    ("1e39", "float32", "data: some feature values are not finite in float32"),
    ("1e309", "float64", "d.csv: row 3, column 'a': inf is not a finite number (data.features)"),
    ("-1e400", "float32", "d.csv: row 3, column 'a': -inf is not a finite number (data.features)"),
    ("nan", "float64", "1 feature value is missing, the first at "),  # nan is a missing value
])
def test_csv_values_too_large_for_the_dtype_are_reported(cli, tmp_path, value, dtype, message):
    (tmp_path / "d.csv").write_text("a,y\n1,0\n" + f"{value},1\n" + "2,0\n3,1\n" * 6)
    path = write_config(tmp_path, f"dtype: {dtype}\ndata: {{source: csv, path: d.csv}}\n"
                                  "network: {layers: [{units: 1, activation: linear}]}\n")
    r = cli.train(path)
    assert r.exit_code == 2
    assert message in r.stderr and r.stderr.startswith("error: ")


# --- values that are not numbers, and files that try to run code ----------------------------

@pytest.mark.parametrize("override,where", [
    ("training.learning_rate=.nan", "training.learning_rate"),
    ("training.learning_rate=.inf", "training.learning_rate"),
    ("network.layers.0.weights=[[.nan, 1]]", "network.layers[0] (layer 1).weights[0][0]"),
    ("network.layers.0.biases=[-.inf, 0]", "network.layers[0] (layer 1).biases[0]"),
    ("data.noise=.nan", "data.noise"),
    ("data.validation=.nan", "data.validation"),
    ("data={source: inline, x: [[1.0], [.inf]], y: [0, 1]}", "data.x[1][0]"),
    ("data={source: inline, x: [[1.0], [2.0]], y: [0, .nan]}", "data.y[1]"),
])
def test_nan_and_inf_in_configs_are_rejected(tmp_path, override, where):
    path = write_config(tmp_path, yaml.safe_dump(BASE))
    with pytest.raises(InputError) as e:
        load_config(path, [override])
    assert str(e.value).startswith(f"{path}: {where}")


@pytest.mark.parametrize("tag", [
    '!!python/object/apply:os.system ["touch PWNED"]',
    '!!python/object/new:os.system ["touch PWNED"]',
    '!!python/name:os.system',
    '!!python/object/apply:subprocess.check_output [["touch", "PWNED"]]',
])
def test_yaml_tags_never_construct_objects(cli, tmp_path, monkeypatch, tag):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, f"name: {tag}\n" + yaml.safe_dump(BASE))
    r = cli.train(path)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {path}: invalid YAML (line 1, column 7): could not "
                               f"determine a constructor for the tag")
    assert not (tmp_path / "PWNED").exists()


def test_deeply_nested_yaml_and_alias_bombs_are_refused(cli, tmp_path):
    path = write_config(tmp_path, "data: " + "[" * 1000 + "]" * 1000 + "\n")
    r = cli.train(path)
    assert (r.exit_code, r.stderr) == (2, f"error: {path}: invalid YAML: nested too deeply\n")
    bomb = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                   for p, c in zip("abcdefg", "bcdefgh")).replace("*a", "1")
    path = write_config(tmp_path, "a: 1\n" + bomb + "data: {source: inline, x: *h, y: [1]}\n"
                                  "network: {layers: [{units: 1, activation: linear}]}\n")
    r = cli.train(path)  # 9**7 values behind one alias: refused at the first wrong one
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {path}:")


def test_duplicate_keys_are_an_error(cli, tmp_path):
    path = write_config(tmp_path, "training: {epochs: 2}\ndata: {source: xor}\n"
                                  "training: {epochs: 1}\n")
    r = cli.train(path)
    assert (r.exit_code, r.stderr) == (2, f"error: {path}: invalid YAML (line 3, column 1): "
                                          f"duplicate key 'training'\n")


@pytest.mark.parametrize("text", [
    '{"format_version": NaN}', "null", '{"layers": "x"}',
    "[" * 100000,
])
def test_a_broken_model_json_is_an_input_error(interrupted_run, text):
    (interrupted_run / "model.json").write_text(text)
    with pytest.raises(InputError, match="model.json: "):
        load_run(interrupted_run)


@pytest.mark.parametrize("old,new", [('"softmax"', '"__import__(\'os\').system(\'touch PWNED\')"'),
                                     ('"float64"', '"object"')])
def test_model_json_values_are_checked_never_evaluated(interrupted_run, tmp_path, monkeypatch,
                                                        old, new):
    monkeypatch.chdir(tmp_path)
    model = interrupted_run / "model.json"
    assert old in model.read_text()
    model.write_text(model.read_text().replace(old, new))
    with pytest.raises(InputError, match="model.json: "):
        load_run(interrupted_run)
    assert not (tmp_path / "PWNED").exists()


class Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def npz_with_pickle(marker, **arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, evil=np.array([Payload(marker)], dtype=object), **arrays)
    return buf.getvalue()


@pytest.fixture
def interrupted_run(tmp_path):
    """An interrupted run with its checkpoint (stopped after the first batch)."""
    path = write_config(tmp_path, yaml.safe_dump({**BASE, "name": "xr"}))
    calls = []
    outcome = trainer.train_from_config(path, [], tmp_path / "runs",
                                        hooks(stop=lambda: calls.append(1) or len(calls) > 7))
    assert outcome.metrics["status"] == "interrupted" and outcome.result.epochs_run == 1
    return outcome.run_dir


def test_a_pickle_in_a_checkpoint_is_refused_and_never_run(interrupted_run, tmp_path):
    marker = tmp_path / "PWNED"
    with np.load(interrupted_run / CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    (interrupted_run / CHECKPOINT).write_bytes(npz_with_pickle(marker, **arrays))
    with pytest.raises(InputError, match=f"{CHECKPOINT}: unreadable: .*allow_pickle=False"):
        load_checkpoint(interrupted_run)
    assert not marker.exists()


def test_a_pickle_in_weights_npz_is_refused_and_never_run(interrupted_run, tmp_path):
    marker = tmp_path / "PWNED"
    with np.load(interrupted_run / "weights.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["W1"] = np.array([Payload(marker)], dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (interrupted_run / "weights.npz").write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="weights.npz"):
        load_run(interrupted_run)
    assert not marker.exists()


@pytest.mark.parametrize("text", ['{"format_version": 1', '[]', '{"format_version": 1}',
                                  "[" * 100000, '{"format_version": NaN}'])
def test_a_broken_checkpoint_state_is_an_input_error(interrupted_run, text):
    with np.load(interrupted_run / CHECKPOINT, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["state"] = np.array(text)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (interrupted_run / CHECKPOINT).write_bytes(buf.getvalue())
    with pytest.raises(InputError, match=f"{CHECKPOINT}: state: "):
        load_checkpoint(interrupted_run)


def _state(run):
    with np.load(run / CHECKPOINT, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}, json.loads(str(z["state"]))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=5),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                               c, max_size=3),
                           max_leaves=8)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["epochs_done", "wall_time", "data_sha256", "rng_state", "history",
                        "format_version", "nncli_version", "order", "W1", "b2"]),
       json_values, st.booleans())
def test_tampered_checkpoints_are_refused_cleanly(interrupted_run, field, value, as_text):
    """Whatever one field of a checkpoint is replaced by (an array member by an array, or by
    JSON text; a state value by a value, or by its JSON text), resuming either says why it
    cannot, or works; and then the field did not decide anything the resumed run does."""
    arrays, state = _state(interrupted_run)
    original = {k: v.copy() for k, v in arrays.items()}, json.loads(json.dumps(state))
    if field in arrays:
        try:
            arrays[field] = np.array(json.dumps(value)) if as_text else np.asarray(value)
        except (ValueError, TypeError):
            return
        if arrays[field].dtype == object:
            return  # np.savez could only pickle it: not a file nncli could be handed
    else:
        state[field] = json.dumps(value) if as_text else value
    arrays["state"] = np.array(json.dumps(state))
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        for f in interrupted_run.iterdir():
            (run / f.name).write_bytes(f.read_bytes())
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        (run / CHECKPOINT).write_bytes(buf.getvalue())
        try:
            checkpoint = load_checkpoint(run)
            experiment = prepare(load_config(run / "config.yaml"), run / "config.yaml")
            start = restore(checkpoint, experiment)
        except InputError as e:
            assert str(e).startswith(f"{run}/{CHECKPOINT}: ")
            return
    # Accepted. The run goes on from exactly what the file holds (a replaced weight array of
    # the right shape and dtype, or another ordering of the rows, is a valid checkpoint: a
    # file cannot show that it was edited) ...
    old_arrays, old_state = original
    params = experiment.network.parameters()
    assert all(np.array_equal(params[k], arrays[k]) for k in params)
    assert np.array_equal(start.order, arrays["order"])
    assert start.rng_state == state["rng_state"]
    assert start.epochs_run == state["epochs_done"]
    # ... and only the record-keeping fields (wall_time, nncli_version, history) may hold
    # another value than before.
    if field in ("epochs_done", "data_sha256", "rng_state", "format_version"):
        assert state[field] == old_state[field]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_bytes_as_a_checkpoint_are_refused_cleanly(tmp_path, data):
    (tmp_path / CHECKPOINT).write_bytes(data)
    with pytest.raises(InputError, match=f"{CHECKPOINT}: "):
        load_checkpoint(tmp_path)


def test_npz_member_names_cannot_escape(tmp_path):
    """npz members are read by name into memory only; a member named ../x is just a name."""
    with zipfile.ZipFile(tmp_path / CHECKPOINT, "w") as z:
        z.writestr("../evil.npy", b"not an array")
    with pytest.raises(InputError):
        load_checkpoint(tmp_path)
    assert not (tmp_path.parent / "evil.npy").exists()
