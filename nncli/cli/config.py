"""`nncli config CONFIG` and `nncli schema`: the resolved config without training, and the
config's JSON Schema for editors."""

from __future__ import annotations

from . import console
from .app import command
from .options import ConfigFile, Json, Set


@command(epilog="Example: nncli config configs/moons.yaml --set training.learning_rate=0.05")
def config(
    config_file: ConfigFile,
    set_: Set = None,
    json_: Json = False,
):
    """Print the resolved config (every default filled in) without training.

    It is the config.yaml the run directory would hold; nothing is trained or written. The
    data are loaded, since some defaults depend on them (input size, task, validation).
    With --json, the same as one JSON object instead of YAML."""
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
