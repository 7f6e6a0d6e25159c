"""The arguments and options several commands share, declared once (with their completion).

A command takes them as annotations::

    def show(run_dir: RunDir, json_: Json = False): ...

so that ``RUN_DIR``, ``--set`` and ``--json`` read and complete the same way everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from . import complete

RUN_DIR_HELP = "A run directory written by nncli train."

RunDir = Annotated[Path, typer.Argument(metavar="RUN_DIR", help=RUN_DIR_HELP,
                                        autocompletion=complete.run_dirs)]
RunDirs = Annotated[List[Path], typer.Argument(
    metavar="RUN_DIR", help="Run directories written by nncli train.",
    autocompletion=complete.run_dirs)]

CONFIG_HELP = "The experiment's YAML config file."
ConfigFile = Annotated[Path, typer.Argument(metavar="CONFIG", help=CONFIG_HELP,
                                            autocompletion=complete.config_files)]

Set = Annotated[Optional[List[str]], typer.Option(
    "--set", metavar="KEY=VALUE", autocompletion=complete.config_keys,
    help="Override a config key by its dotted path (value parsed as YAML, list items by "
         "index: network.layers.0.units=32); repeatable.")]

Json = Annotated[bool, typer.Option(
    "--json", help="Print the result as one JSON object on one line of stdout (for scripts; "
                   "what it holds is said above).")]

Labels = Annotated[Optional[List[str]], typer.Option(
    "--label", help="Several runs: their names, one per run, in order (default: what differs "
                    "between their configs, as lr=0.01).")]


def check_labels(labels: Optional[List[str]], runs: int) -> None:
    """--label, when given, names every run: one label per run."""
    if labels and len(labels) != runs:
        from ..errors import InputError

        raise InputError(f"--label: {len(labels)} labels for {runs} runs; give one per run")
