"""`nncli export CONFIG --kit DIR`: a test kit for one's own implementation of the network."""

from __future__ import annotations

from pathlib import Path
import typer

from ..errors import InputError
from . import console
from .app import command
from .options import ConfigFile, Set


@command(epilog="Example: nncli export configs/example-b-two-layers.yaml --kit my-kit "
                "--steps 2; then write my-kit/my_network.py and run pytest in my-kit")
def export(
    config: ConfigFile,
    kit: Path = typer.Option(..., "--kit", help="The kit's directory: new, or empty."),
    steps: int = typer.Option(1, "--steps", help="Number of training updates in the kit."),
    set_: Set = None,
):
    """Write a test kit: the data, the initial weights, every quantity of the first updates
    (CSV and JSON), CONVENTIONS.md, and a pytest file that checks your own forward, backward
    and update step by step."""
    if steps < 1:
        raise InputError(f"--steps: expected an integer >= 1 (got {steps})")
    from ..insight.export import export_config

    out = export_config(config, kit, set_ or [], steps)
    console.info(f"test kit written to {out}: write {out / 'my_network.py'}, then run pytest "
                 f"in {out}")
