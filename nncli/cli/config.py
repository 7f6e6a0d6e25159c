"""`nncli config CONFIG` and `nncli schema`: the resolved config without training, and the
config's JSON Schema for editors."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import console
from .app import command


@command(epilog="Example: nncli config configs/moons.yaml --set training.learning_rate=0.05")
def config(
    config_file: Path = typer.Argument(..., metavar="CONFIG",
                                       help="The experiment's YAML config file."),
    set_: Optional[List[str]] = typer.Option(
        None, "--set", metavar="KEY=VALUE",
        help="Override a config key by its dotted path (value parsed as YAML); repeatable."),
    json_: bool = typer.Option(False, "--json", help="Print it as one JSON object instead."),
):
    """Print the resolved config (every default filled in) without training.

    It is the config.yaml the run directory would hold; nothing is trained or written. The
    data are loaded, since some defaults depend on them (input size, task, validation)."""
    from ..config import load_config
    from ..runs.formats import config_yaml
    from ..training.experiment import prepare

    experiment = prepare(load_config(config_file, set_ or []), config_file)
    if json_:
        console.emit_json(experiment.config.model_dump(mode="json", exclude_none=True))
    else:
        console.emit(config_yaml(experiment.config))


@command(epilog="Example: nncli schema > nncli.schema.json")
def schema():
    """Print the JSON Schema of nncli config files (for an editor's YAML support)."""
    import json

    from ..config import json_schema

    console.emit(json.dumps(json_schema(), indent=2) + "\n")
