"""Shell completion: the callbacks (what <TAB> offers for a prefix), once through the real
completion protocol in a fresh process, and the shared options they hang on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from conftest import CONFIGS, write_config
from nncli.cli import app, complete
from nncli.config import load_config
from nncli.data.schema import SOURCES
from nncli.engine.optim import UPDATES
from nncli.runs.formats import config_yaml


class Ctx:
    """What a completion callback reads of click's context: the parsed options, and the
    positional arguments click leaves unparsed while completing."""

    def __init__(self, args=(), **params):
        self.params = params
        self.args = list(args)


def keys(*args, incomplete="", **params):
    got = complete.config_keys(Ctx(args, **params), incomplete)
    return [k for k in got if k.startswith(incomplete)]  # as typer filters them


# --- config keys ---------------------------------------------------------------------------

def flat_keys(node, prefix=""):
    """The dotted leaf paths of a resolved config (list items by index, as --set takes them)."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        items = enumerate(node)
    else:
        return [prefix[:-1]]
    return [k for key, value in items for k in flat_keys(value, f"{prefix}{key}.")]


def resolve(config, key):
    """The value of a dotted key in a validated config; None under an optional section the
    config leaves out (training.early_stopping.patience); AttributeError for no such key."""
    node = config
    for part in key.split("."):
        if node is None:
            return None
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node


def test_keys_of_a_config_are_its_resolved_keys_and_its_unset_optional_ones(tmp_path):
    """Every key of the resolved config.yaml is offered, and every key offered is a key of
    the config (moons: its data source's keys, an index for each of its three layers)."""
    moons = CONFIGS / "moons.yaml"
    offered = keys(config=moons)
    config = load_config(moons)
    resolved = flat_keys(yaml.safe_load(config_yaml(config)))
    assert set(resolved) <= set(offered)
    schedules = [k for k in offered if k.startswith("training.schedule.")]
    assert {"training.schedule.kind", "training.schedule.every"} <= set(schedules)
    for key in set(offered) - set(schedules):  # (a schedule's keys: those of every kind)
        resolve(config, key)  # raises for a key the config does not have
    sections = [k for k in offered if any(o.startswith(k + ".") for o in offered)]
    assert {"data", "network", "network.layers", "network.layers.0", "training"} <= set(sections)
    unset = [k for k in offered if k not in resolved + sections + schedules]
    assert all(resolve(config, k) is None for k in unset)
    assert "network.layers.2.units" in offered and "network.layers.3.units" not in offered
    assert "data.noise" in offered and "data.centers" not in offered


def test_keys_without_a_config_cover_every_source_and_one_layer():
    offered = keys()
    assert {"training.learning_rate", "data.n_samples", "data.centers", "data.path",
            "network.layers.0.units", "seed", "dtype"} <= set(offered)
    assert not any(k.startswith("network.layers.1.") for k in offered)
    assert len(offered) == len(set(offered))


def test_keys_by_prefix_and_the_config_found_among_unparsed_arguments():
    assert keys(incomplete="training.le") == ["training.learning_rate"]
    # while completing, click leaves CONFIG in ctx.args: the moons config's layers count
    assert "network.layers.2.activation" in keys(CONFIGS / "moons.yaml", incomplete="network.")


def test_values_after_the_equals_sign_for_keys_with_few_values():
    assert keys(incomplete="dtype=") == ["dtype=float64", "dtype=float32"]
    assert keys(incomplete="dtype=float3") == ["dtype=float32"]
    assert keys(incomplete="data.source=") == [f"data.source={s}" for s in SOURCES]
    assert keys(incomplete="training.update=") == [f"training.update={u}" for u in UPDATES]
    assert keys(incomplete="training.shuffle=") == ["training.shuffle=true",
                                                    "training.shuffle=false"]
    assert keys(incomplete="training.learning_rate=") == []  # any number: nothing to offer


def test_with_resume_only_the_keys_a_resumed_run_may_change():
    from nncli.training.train import RESUME_OVERRIDES

    assert keys(resume=Path("runs/x")) == list(RESUME_OVERRIDES)


def test_an_unreadable_or_broken_config_gives_every_key_never_an_error(tmp_path):
    every = keys()
    assert keys(config=tmp_path / "missing.yaml") == every
    bad = write_config(tmp_path, "data: [unclosed\n")
    assert keys(config=bad) == every
    odd = write_config(tmp_path, "- a list, not a mapping\n", "odd.yaml")
    assert keys(config=odd) == every


# --- files and run directories ---------------------------------------------------------------

@pytest.fixture
def tree(tmp_path, monkeypatch):
    """runs/ with two runs and a hidden partial one, a sweep with one run, and other things."""
    for run in ("runs/blobs-1", "runs/moons-1", "runs/.moons.x1.partial",
                "runs/blobs-sweep-ab/blobs-lr0.1"):
        (tmp_path / run).mkdir(parents=True)
        (tmp_path / run / "config.yaml").write_text("name: x\n")
    (tmp_path / "runs" / "blobs-sweep-ab" / "sweep.json").write_text("{}")
    (tmp_path / "runs" / "notes").mkdir()
    (tmp_path / "configs").mkdir()
    for name in ("a.yaml", "b.yml", "c.txt"):
        (tmp_path / "configs" / name).write_text("")
    (tmp_path / "top.yaml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_dirs_opens_the_lone_folder_of_runs(tree):
    # from the project folder: runs/ is the only folder holding runs, so its runs are shown
    assert complete.run_dirs("") == ["runs/blobs-1", "runs/moons-1", "runs/blobs-sweep-ab/"]


def test_run_dirs_by_prefix_and_hidden_partial_ones_after_a_dot(tree):
    assert complete.run_dirs("runs/b") == ["runs/blobs-1", "runs/blobs-sweep-ab/"]
    assert complete.run_dirs("runs/.") == ["runs/.moons.x1.partial"]
    assert complete.run_dirs("runs/blobs-sweep-ab/") == ["runs/blobs-sweep-ab/blobs-lr0.1"]
    assert complete.run_dirs(f"{tree}/runs/m") == [f"{tree}/runs/moons-1"]


def test_run_dirs_offers_any_folder_when_none_holds_runs(tree):
    assert complete.run_dirs("runs/n") == ["runs/notes/"]
    assert complete.run_dirs("nowhere/") == []


def test_config_files_offers_yaml_files_and_folders(tree):
    assert complete.config_files("") == ["configs/", "runs/", "top.yaml"]
    assert complete.config_files("configs/") == ["configs/a.yaml", "configs/b.yml"]


# --- the real protocol, and the shared declarations -----------------------------------------

def complete_in_shell(words: str, cword: int, cwd: Path) -> list[str]:
    """What bash would be offered: nncli run as the installed completion script runs it."""
    env = {**os.environ, "_NNCLI_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    proc = subprocess.run([sys.executable, "-m", "nncli"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout.splitlines()


def test_completion_through_the_shell_protocol(tree):
    config = write_config(tree, (CONFIGS / "moons.yaml").read_text(), "moons.yaml")
    assert complete_in_shell("nncli tr", 1, tree) == ["train", "trace"]
    assert complete_in_shell(f"nncli train {config.name} --set training.le", 4, tree) == [
        "training.learning_rate"]
    assert complete_in_shell("nncli show runs/m", 2, tree) == ["runs/moons-1"]
    assert "--no-plots" in complete_in_shell("nncli train --", 2, tree)


def commands():
    group = typer.main.get_command(app)
    return {name: group.commands[name] for name in group.commands}


def params(command, name):
    return [p for p in command.params if p.name == name]


def test_shared_options_are_one_declaration(tree):
    """RUN_DIR, --set and --json read and complete the same in every command that has them."""
    seen = {"run_dir": [], "set_": [], "json_": []}
    for name, command in commands().items():
        for param in seen:
            seen[param] += [(name, p) for p in params(command, param)]
    assert {n for n, _ in seen["run_dir"]} == {"predict", "evaluate", "show"}
    assert {n for n, _ in seen["set_"]} == {"train", "gradcheck", "trace", "sweep", "config",
                                            "check", "explain", "export"}
    assert {n for n, _ in seen["json_"]} == {"train", "predict", "evaluate", "gradcheck",
                                             "sweep", "runs", "show", "config", "check",
                                             "explain"}
    for param, found in seen.items():
        helps = {p.help for _, p in found}
        assert len(helps) == 1, (param, helps)
    offered = {"run_dir": ("runs/m", ["runs/moons-1"]),
               "set_": ("training.le", ["training.learning_rate"])}
    for param, (incomplete, expected) in offered.items():
        for name, p in seen[param]:
            ctx = typer.Context(commands()[name])
            assert [item.value for item in p.shell_complete(ctx, incomplete)] == expected


def test_help_offers_completion_install():
    result = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


def test_completion_callbacks_are_declared_without_importing_their_needs():
    code = ("import sys\n"
            "import nncli.cli\n"
            "heavy = [m for m in ('numpy', 'pydantic', 'yaml', 'nncli.config') if m in sys.modules]\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out == "[]\n"
