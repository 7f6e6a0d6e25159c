"""Config validation: every mistake is one InputError naming the key path and what was expected."""

import pytest

from nncli.config import apply_override, load_config, validate_config
from nncli.errors import InputError

BASE = {
    "data": {"source": "blobs"},
    "network": {"layers": [{"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
}


def config_with(**changes):
    raw = {"data": dict(BASE["data"]),
           "network": {"layers": [dict(l) for l in BASE["network"]["layers"]]}}
    for path, value in changes.items():
        apply_override(raw, f"{path.replace('__', '.')}={value}")
    return raw


def error_of(raw):
    with pytest.raises(InputError) as e:
        validate_config(raw, "exp.yaml")
    return str(e.value)


def test_defaults_are_filled():
    cfg = validate_config(config_with(), "exp.yaml")
    assert cfg.seed == 0 and cfg.dtype == "float64"
    t = cfg.training
    assert (t.batch, t.batch_size, t.learning_rate, t.epochs, t.shuffle, t.update) == \
        ("minibatch", 32, 0.01, 100, True, "gradient")
    assert cfg.loss_name == "cross_entropy"


@pytest.mark.parametrize("change,expected", [
    ({"training__epochs": 0}, "exp.yaml: training.epochs: Input should be greater than or equal to 1 (got 0)"),
    ({"seed": -1}, "exp.yaml: seed: Input should be greater than or equal to 0 (got -1)"),
    ({"training__learning_rate": "'fast'"}, "training.learning_rate: Input should be a valid number"),
    ({"training__learning_rate": ".nan"}, "training.learning_rate: Input should be a finite number"),
    ({"training__batch": "stochastic"}, "training.batch: Input should be 'full', 'sgd' or 'minibatch'"),
    ({"training__epoch": 3}, "training.epoch: unknown key (did you mean epochs?); allowed keys: loss, batch, batch_size, learning_rate, epochs, shuffle, update"),
    ({"network__layers__0__units": 0}, "network.layers[0] (layer 1).units: Input should be greater than or equal to 1"),
    ({"network__layers__0__activation": "relux"}, "network.layers[0] (layer 1).activation: Input should be 'linear', 'sigmoid'"),
    ({"network__layers__1__units": 1}, "softmax needs at least 2 units"),
    ({"training__loss": "perceptron"}, "training.loss perceptron needs a step output layer, not softmax"),
    ({"network__layers__0__activation": "step"}, "step is allowed only on the output layer"),
    ({"dtype": "float16"}, "dtype: Input should be 'float64' or 'float32'"),
    ({"data__centres": 3}, "data.centres: unknown key (did you mean centers?)"),
    ({"data__source": "mnist"}, "data.source: unknown source 'mnist'; expected one of: blobs"),
    ({"network__layers__0__units": "'8'"}, "network.layers[0] (layer 1).units: Input should be a valid integer"),
    ({"network__layers__0__alpha": 0.1}, "alpha applies to leaky_relu layers only"),
])
def test_bad_values_name_the_key(change, expected):
    assert expected in error_of(config_with(**change))


def test_step_output_needs_perceptron_loss():
    raw = config_with()
    raw["network"]["layers"] = [{"units": 1, "activation": "step"}]
    raw["training"] = {"loss": "mse"}
    assert "a step output layer is trained with loss perceptron only, not mse" in error_of(raw)


def test_missing_sections():
    assert "exp.yaml: network: required key is missing" in error_of({"data": {"source": "iris"}})
    assert "data: required key is missing" in error_of({"network": BASE["network"]})


def test_explicit_weights_wrong_shape():
    raw = config_with()
    raw["network"]["layers"][1]["weights"] = [[1.0, 2.0, 3.0]] * 5  # layer 1 has 8 units
    assert "layers[1] (layer 2): weights must have shape (8, 3), got 5 rows" in error_of(raw)
    raw["network"]["layers"][1]["weights"] = [[1.0, 2.0]] * 8
    assert "weights must have shape (fan_in, 3)" in error_of(raw)


def test_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {source: blobs\nnetwork: [\n")
    with pytest.raises(InputError, match=r"bad.yaml: invalid YAML \(line \d+, column \d+\)"):
        load_config(bad)
    dup = tmp_path / "dup.yaml"
    dup.write_text("seed: 1\nseed: 2\n")
    with pytest.raises(InputError, match=r"dup.yaml: invalid YAML \(line 2, column 1\): duplicate key 'seed'"):
        load_config(dup)
    tag = tmp_path / "tag.yaml"
    tag.write_text("seed: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(InputError, match="invalid YAML"):
        load_config(tag)
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="must be a mapping"):
        load_config(tmp_path / "list.yaml")


def test_overrides():
    raw = {"training": {"epochs": 5}, "network": {"layers": [{"units": 2}]}}
    apply_override(raw, "training.learning_rate=0.05")
    apply_override(raw, "network.layers.0.units=7")
    apply_override(raw, "data.source=iris")
    assert raw["training"] == {"epochs": 5, "learning_rate": 0.05}
    assert raw["network"]["layers"][0]["units"] == 7
    assert raw["data"] == {"source": "iris"}
    with pytest.raises(InputError, match="expected KEY=VALUE"):
        apply_override(raw, "training.epochs")
    with pytest.raises(InputError, match=r"network.layers.3 is not an index of the list \(0..0\)"):
        apply_override(raw, "network.layers.3.units=1")


def test_exponent_floats_without_a_dot_are_numbers():
    raw = config_with(training__learning_rate="1e-3")
    assert validate_config(raw, "exp.yaml").training.learning_rate == 0.001


def test_union_branches_are_not_shown_as_keys():
    raw = {"data": {"source": "csv", "path": "x.csv", "target": 1.5},
           "network": BASE["network"]}
    message = error_of(raw)
    assert "exp.yaml: data.target: " in message and ".str" not in message


def test_a_misspelt_required_key_is_named_as_the_typo():
    raw = config_with()
    raw["network"]["layers"][0] = {"units": 8, "activaton": "relu"}
    assert error_of(raw) == ("exp.yaml: network.layers[0] (layer 1).activaton: unknown key (did you "
                             "mean activation?); allowed keys: units, activation, bias, init, alpha, "
                             "weights, biases, freeze, dropout")


def test_an_unknown_key_named_like_a_type_is_still_named():
    raw = config_with()
    raw["str"] = 1  # found by the hypothesis test: "str" is also a union branch name
    assert error_of(raw).startswith("exp.yaml: str: unknown key; allowed keys: name, seed")


@pytest.mark.parametrize("key, shown", [("\n", "'\\n'"), ("", "''"), ("learning rate", "'learning rate'"),
                                        ("a.b", "'a.b'")])
def test_odd_keys_are_quoted_in_messages(key, shown):
    message = error_of({**config_with(), "training": {key: 1}})
    assert message.startswith(f"exp.yaml: training.{shown}: unknown key")
    assert "\n" not in message


def test_cli_errors_stay_on_one_line(cli, tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text('"\\n": 1\n')
    r = cli.train(config)
    assert r.exit_code == 2
    # every problem is reported, each on one line, the odd key escaped
    assert r.stderr == (f"error: {config}:1:1: '\\n': unknown key; allowed keys: name, seed, "
                        f"dtype, data, network, training\n"
                        f"error: {config}: data: required key is missing\n"
                        f"error: {config}: network: required key is missing\n")
    r = cli.train(tmp_path / "two\nlines.yaml")  # a line break in a file name is escaped
    assert r.exit_code == 2
    assert r.stderr == f"error: {tmp_path}/two\\nlines.yaml: config file not found\n"
