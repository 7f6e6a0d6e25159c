"""Config tooling: every config error at once with file:line:column, `nncli config` (the
resolved config without training) and `nncli schema` (the JSON Schema for editors)."""

import json

import jsonschema
import pytest
import yaml

from nncli.config import load_config
from nncli.errors import InputError

from conftest import CONFIGS, write_config

THREE_MISTAKES = """\
name: demo
data:
  source: blobs
  n_samples: 300
  centres: 3
network:
  layers:
    - {units: 0, activation: relu}
    - {units: 3, activation: softmax}
training:
  learning_rate: -1
"""


def test_every_mistake_is_reported_with_its_line_and_column(cli, tmp_path):
    path = write_config(tmp_path, THREE_MISTAKES)
    r = cli.train(path)
    assert r.exit_code == 2 and r.stdout == ""
    typo, units, rate = r.stderr.splitlines()
    assert typo.startswith(f"error: {path}:5:3: data.centres: unknown key (did you mean "
                           "centers?); allowed keys: ") and "n_samples, " in typo
    assert units == (f"error: {path}:8:8: network.layers[0] (layer 1).units: Input should be "
                     "greater than or equal to 1 (got 0)")
    assert rate == f"error: {path}:11:3: training.learning_rate: Input should be greater than 0 (got -1)"
    assert cli.run_dirs() == []


def test_the_library_raises_one_error_holding_every_problem(tmp_path):
    path = write_config(tmp_path, THREE_MISTAKES)
    with pytest.raises(InputError) as e:
        load_config(path)
    assert [p.split(": ")[0] for p in e.value.problems] == [f"{path}:5:3", f"{path}:8:8",
                                                            f"{path}:11:3"]
    assert str(e.value) == "\n".join(e.value.problems)


def test_a_mistake_made_by_set_names_the_option(tmp_path):
    path = write_config(tmp_path, THREE_MISTAKES.replace("  centres: 3\n", "")
                        .replace("units: 0", "units: 4").replace("-1", "0.1"))
    with pytest.raises(InputError) as e:
        load_config(path, ["training.epochs=0"])
    assert e.value.problems == [f"{path}: training.epochs: Input should be greater than or "
                                "equal to 1 (got 0) (from --set training.epochs=0)"]


def test_problems_beyond_twenty_are_counted(tmp_path):
    path = write_config(tmp_path, "".join(f"k{i}: 1\n" for i in range(25)))
    with pytest.raises(InputError) as e:
        load_config(path)
    assert len(e.value.problems) == 21
    assert e.value.problems[0].startswith(f"{path}:1:1: k0: unknown key")
    assert e.value.problems[-1] == f"{path}: ... and 7 more problems"  # 25 keys + data, network


def test_config_prints_what_the_run_directory_would_hold(cli, tmp_path):
    r = cli("config", CONFIGS / "blobs.yaml", "--set", "training.epochs=7")
    assert r.exit_code == 0, r.output
    resolved = yaml.safe_load(r.stdout)
    assert resolved["training"]["epochs"] == 7
    assert resolved["network"]["input"] == 2 and resolved["data"]["validation"] == 0.2
    assert resolved["network"]["layers"][0]["init"] == "he"  # relu's default, filled in
    t = cli.train(CONFIGS / "blobs.yaml", "--set", "training.epochs=7")
    (run,) = cli.run_dirs()
    assert (run / "config.yaml").read_text() == r.stdout
    j = cli("config", CONFIGS / "blobs.yaml", "--json")
    assert json.loads(j.stdout)["training"]["loss"] == "cross_entropy"
    assert t.exit_code == 0
    bad = cli("config", tmp_path / "missing.yaml")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: ")


def test_the_schema_accepts_the_shipped_configs_and_refuses_mistakes(cli):
    r = cli("schema")
    assert r.exit_code == 0
    schema = json.loads(r.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(schema)
    shipped = sorted(CONFIGS.glob("*.yaml"))
    assert len(shipped) >= 9
    for config in shipped:
        assert list(validator.iter_errors(yaml.safe_load(config.read_text()))) == [], config
    wrong = yaml.safe_load(THREE_MISTAKES)
    messages = sorted(e.message for e in validator.iter_errors(wrong))
    assert len(messages) == 3, messages
