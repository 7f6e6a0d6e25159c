"""Size bombs: a request that would not fit in memory is refused before anything is allocated,
with one line naming the key, the estimate and the limit (nncli.memory); a config too large
to read is refused before or while it is parsed (docs/reliability.md, "Size bombs")."""

import io
import json
import zipfile

import numpy as np
import pytest

from conftest import noisy_xor, write_config

from nncli import memory
from nncli.errors import InputError
from nncli.runs.load import load_run
from nncli.training import train as trainer
from nncli.training.checkpoint import CHECKPOINT, load_checkpoint


def assert_too_large(r, message):
    assert (r.exit_code, r.stdout) == (2, ""), r.output
    assert r.stderr == f"error: {message}\n"


@pytest.fixture
def limit_1g(monkeypatch):
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "1G")


def test_a_huge_layer_is_refused_naming_the_key_the_estimate_and_the_limit(cli, tmp_path,
                                                                           limit_1g):
    config = write_config(tmp_path, noisy_xor(2, "xr"))
    r = cli.train(config, "--set", "network.layers.0.units=1000000000")
    # 40 rows of 2 features, batches of 8; layer 1: (2 + 1) x 1e9 weights, layer 2: 1e9 + 1.
    # parameters, gradients, two update states: 4 x 4e9 x 8 bytes = 128 GB; net input,
    # activation and delta of a batch and of an evaluation chunk (8 + 40 rows) over
    # 2 + 1e9 + 1 columns: 3 x 48 x 1e9 x 8 bytes = 1152 GB; together 1.28 TB.
    assert_too_large(r, "network.layers[0] (layer 1).units (1000000000): too large: needs about "
                        "1.3 TB of memory, and the limit is NNCLI_MAX_MEMORY=1G "
                        "(NNCLI_MAX_MEMORY sets the limit)")
    assert not cli.out.exists()


def test_the_limit_is_the_machines_available_memory_by_default(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("NNCLI_MAX_MEMORY", raising=False)
    monkeypatch.setattr(memory, "available", lambda: 3_210_000_000)
    config = write_config(tmp_path, noisy_xor(2, "xr"))
    r = cli.train(config, "--set", f"network.layers.1.units={10**30}",
                  "--set", "network.layers.1.activation=softmax")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: network.layers[1] (layer 2).units "
                               "(1000000000000000000000000000000): too large: needs about 1e")
    assert r.stderr.endswith(" bytes of memory, and this machine has 3.2 GB available "
                             "(NNCLI_MAX_MEMORY sets the limit)\n")


def test_the_limit_can_be_raised_or_lowered(cli, tmp_path, monkeypatch):
    config = write_config(tmp_path, noisy_xor(1, "xr"))
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "100k")
    r = cli.train(config, "--set", "network.layers.0.units=2000")
    assert r.exit_code == 2 and "the limit is NNCLI_MAX_MEMORY=100k" in r.stderr
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "3M")  # it needs 2.6 MB
    assert cli.train(config, "--set", "network.layers.0.units=2000").exit_code == 0
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "lots")
    assert_too_large(cli.train(config), "NNCLI_MAX_MEMORY=lots: expected a size such as 64G, "
                                        "512M or a number of bytes")


@pytest.mark.parametrize("source", ["blobs", "moons", "regression"])
def test_too_many_samples_are_refused_before_any_generator_runs(cli, tmp_path, monkeypatch,
                                                                 limit_1g, source):
    from nncli.training import experiment

    def never(*args, **kwargs):
        raise AssertionError("the data were generated")
    monkeypatch.setattr(experiment, "load_source", never)
    output = "{units: 3, activation: softmax}" if source == "blobs" else \
        "{units: 1, activation: linear}" if source == "regression" else \
        "{units: 2, activation: softmax}"
    config = write_config(tmp_path, f"""name: big
data: {{source: {source}, n_samples: {10**12}}}
network: {{layers: [{{units: 4, activation: tanh}}, {output}]}}
""")
    r = cli.train(config)
    assert r.exit_code == 2
    features = {"blobs": 2, "moons": 2, "regression": 10}[source]  # their default n_features
    assert r.stderr.startswith(f"error: data.n_samples (1000000000000 rows of {features} "
                               f"features): too large: needs about ")
    assert r.stderr.endswith(" TB of memory, and the limit is NNCLI_MAX_MEMORY=1G "
                             "(NNCLI_MAX_MEMORY sets the limit)\n")


def test_a_sweep_of_too_many_runs_is_refused_before_it_is_planned(cli, tmp_path, monkeypatch,
                                                                  limit_1g):
    config = write_config(tmp_path, noisy_xor(1, "xr"))
    r = cli("sweep", config, "--seeds", "100000000", "--out", cli.out)
    # about 3 kB per point (memory.SWEEP_POINT): 3e11 bytes
    assert_too_large(r, "--seeds 100000000 (a sweep of 100000000 runs): too large: needs about "
                        "300.0 GB of memory, and the limit is NNCLI_MAX_MEMORY=1G "
                        "(NNCLI_MAX_MEMORY sets the limit)")
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "100k")  # the largest axis is named
    epochs = ",".join(map(str, range(1, 21)))
    r = cli("sweep", config, "--grid", f"training.epochs={epochs}", "--seeds", "2",
            "--out", cli.out)
    assert_too_large(r, "--grid training.epochs (a sweep of 40 runs): too large: needs about "
                        "120.0 kB of memory, and the limit is NNCLI_MAX_MEMORY=100k "
                        "(NNCLI_MAX_MEMORY sets the limit)")
    assert not cli.out.exists()


def test_a_trace_of_too_many_steps_is_refused_before_it_starts(cli, tmp_path, limit_1g):
    config = write_config(tmp_path, noisy_xor(1, "xr"))
    r = cli("trace", config, "--steps", "1000000000")
    # per step: a batch of 8 rows x (2 inputs + 1 output + 3 x 5 units) values, and twice the
    # 17 parameters: 178 values of 8 bytes; 1e9 steps: 1.4 TB
    assert_too_large(r, "--steps 1000000000: too large: needs about 1.4 TB of memory, and the "
                        "limit is NNCLI_MAX_MEMORY=1G (NNCLI_MAX_MEMORY sets the limit)")


# --- configs too large to read ------------------------------------------------------------------

def test_a_config_file_too_large_is_refused_before_it_is_read(cli, tmp_path, monkeypatch):
    from nncli import config as config_module

    def never(*args):
        raise AssertionError("the file was parsed")
    monkeypatch.setattr(config_module, "parse_yaml", never)
    path = tmp_path / "big.yaml"
    path.write_text("x: [" + "0.5, " * 500_000 + "]\n")  # 2.5 MB, like millions of weights
    assert_too_large(cli.train(path), f"{path}: too large: 2500006 bytes; a config file holds at "
                                      f"most 2000000 (put large data in a CSV file)")


def test_a_config_with_too_many_values_is_refused_while_it_is_parsed(cli, tmp_path,
                                                                     monkeypatch):
    from nncli import config as config_module

    monkeypatch.setattr(config_module, "MAX_CONFIG_VALUES", 1000)
    rows = "\n".join("        - [" + ", ".join(["0.5"] * 10) + "]" for _ in range(200))
    path = write_config(tmp_path, f"""data: {{source: xor}}
network:
  layers:
    - units: 10
      activation: tanh
      weights:
{rows}
    - {{units: 1, activation: sigmoid}}
""")
    assert_too_large(cli.train(path), f"{path}: too large: more than 1000 values (a config holds "
                                      f"at most that many; put large data in a CSV file)")
    r = cli.train(write_config(tmp_path, noisy_xor(1), "ok.yaml"),
                  "--set", "data.x=[" + ", ".join(["[0, 1]"] * 600) + "]")
    assert r.exit_code == 2 and "--set data.x: too large: more than 1000 values" in r.stderr


# --- files in a run directory -------------------------------------------------------------------

@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """An interrupted run with a checkpoint."""
    from conftest import hooks

    tmp = tmp_path_factory.mktemp("run")
    config = write_config(tmp, noisy_xor(5, "xr"))
    calls = []
    return trainer.train_from_config(config, [], tmp / "runs",
                                     hooks(stop=lambda: calls.append(1) or len(calls) > 5)).run_dir


@pytest.fixture
def run(interrupted, tmp_path):
    copy = tmp_path / interrupted.name
    copy.mkdir()
    for f in interrupted.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    return copy


@pytest.fixture
def reads(monkeypatch):
    """The arrays whose data were read (np.lib.format.read_array calls)."""
    seen = []
    real = np.lib.format.read_array

    def read_array(f, *args, **kwargs):
        array = real(f, *args, **kwargs)
        seen.append(array.shape)
        return array
    monkeypatch.setattr(np.lib.format, "read_array", read_array)
    return seen


def test_model_json_declaring_a_giant_layer_is_refused_before_weights_are_read(run, reads,
                                                                               limit_1g):
    model = json.loads((run / "model.json").read_text())
    model["layers"][0]["units"] = 10**9
    (run / "model.json").write_text(json.dumps(model))
    with pytest.raises(InputError) as e:
        load_run(run)
    # (2 + 1) x 1e9 + (1e9 + 1) x 1 parameters, and the activations of 4096 rows over
    # 2 + 1e9 + 1 columns twice: 8.196e12 values of 8 bytes
    assert str(e.value) == (f"{run}/model.json: layers: too large: needs about 65.6 TB of "
                            f"memory, and the limit is NNCLI_MAX_MEMORY=1G (NNCLI_MAX_MEMORY "
                            f"sets the limit)")
    assert reads == []


def _add_member(npz, name, data, compress=False):
    with zipfile.ZipFile(npz, "a", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        z.writestr(name, data)


def _npy(array_header_shape, dtype="<f8", data=b""):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": array_header_shape})
    return buf.getvalue() + data


def test_an_extra_member_that_inflates_to_gigabytes_is_never_read(run, reads):
    _add_member(run / CHECKPOINT, "junk.npy", _npy((10**8,)) + bytes(8 * 10**6), compress=True)
    with pytest.raises(InputError) as e:
        load_checkpoint(run)
    assert str(e.value) == (f"{run}/{CHECKPOINT}: unexpected member 'junk.npy'; a checkpoint "
                            f"holds W1, b1, W2, ..., order, state, the update rule's state "
                            f"(opt_...) and best_theta")
    assert reads == []


def test_a_member_declaring_a_giant_array_is_refused_before_it_is_read(run, reads, limit_1g):
    _add_member(run / CHECKPOINT, "W3.npy", _npy((10**6, 10**6)), compress=True)
    with pytest.raises(InputError) as e:
        load_checkpoint(run)
    assert str(e.value) == (f"{run}/{CHECKPOINT}: W3: the archive says 128 bytes, its header "
                            f"8000000000128")
    assert reads == []


def test_all_members_together_are_checked_against_memory_before_any_is_read(run, reads,
                                                                            monkeypatch):
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "200")  # bytes: less than this checkpoint holds
    with pytest.raises(InputError) as e:
        load_checkpoint(run)
    assert str(e.value).startswith(f"{run}/{CHECKPOINT}: too large: needs about ")
    assert reads == []
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "1M")
    assert load_checkpoint(run).state.epochs_done == 1
    assert len(reads) == 6  # W1, b1, W2, b2, order, state


def test_other_sizes_of_generated_data_are_estimated_too(cli, tmp_path, monkeypatch, limit_1g):
    """make_blobs keeps a row per centre (its mean, count and spread) before drawing."""
    from nncli.training import experiment

    monkeypatch.setattr(experiment, "load_source", lambda *a: pytest.fail("data generated"))
    config = write_config(tmp_path, """name: b
data: {source: blobs, n_samples: 100, centers: 1000000000}
network: {layers: [{units: 2, activation: softmax}]}
""")
    # 1e9 centres x (2 features + 3) x 8 bytes
    assert_too_large(cli.train(config), "data.centers (1000000000): too large: needs about 40.0 "
                                        "GB of memory, and the limit is NNCLI_MAX_MEMORY=1G "
                                        "(NNCLI_MAX_MEMORY sets the limit)")


def test_too_many_sweep_workers_are_refused_before_any_starts(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("NNCLI_MAX_MEMORY", "500M")
    config = write_config(tmp_path, noisy_xor(1, "xr"))
    r = cli("sweep", config, "--seeds", "100", "--jobs", "10000", "--out", cli.out)
    # as many workers as runs at most (100), about 60 MB each (memory.WORKER)
    assert_too_large(r, "--jobs 10000 (100 worker processes): too large: needs about 6.0 GB of "
                        "memory, and the limit is NNCLI_MAX_MEMORY=500M (NNCLI_MAX_MEMORY sets "
                        "the limit)")
    assert not cli.out.exists()


def test_only_the_update_rules_own_state_arrays_are_read_from_a_checkpoint(run, reads):
    """opt_<name> members are read only for names some update rule keeps (v, m, s)."""
    _add_member(run / CHECKPOINT, "opt_junk.npy", _npy((10**8,)) + bytes(8 * 10**6), compress=True)
    with pytest.raises(InputError, match=r"unexpected member 'opt_junk.npy'"):
        load_checkpoint(run)
    assert reads == []
