"""`nncli explain CONFIG PARAM`: the derivation of one weight's gradient and its update."""

from __future__ import annotations

import typer

from ..errors import InputError
from . import console
from .app import command
from .options import ConfigFile, Json, Set

NOTATIONS = ("mazur", "hagan", "mitchell")  # nncli.insight.explain.NOTATIONS (checked by a test)


@command(epilog="Example: nncli explain configs/example-b-two-layers.yaml 'W1[1,2]' "
                "--notation hagan")
def explain(
    config: ConfigFile,
    param: str = typer.Argument(..., help="A weight W<layer>[i,j] (from input i to unit j) or "
                                          "a bias b<layer>[j], counted from 1."),
    step: int = typer.Option(1, "--step", help="Which training update (1 = the first)."),
    notation: str = typer.Option("mazur", "--notation",
                                 help="mazur (dE/dout · dout/dnet · dnet/dw), hagan "
                                      "(sensitivities s) or mitchell (δ = −∂E/∂net)."),
    digits: int = typer.Option(6, "--digits", help="Significant digits of the numbers."),
    set_: Set = None,
    json_: Json = False,
):
    """Derive one gradient by the chain rule, symbolically and then with the step's numbers,
    in a textbook's notation, and its update.

    With --json, the derivation's terms and numbers as one JSON object."""
    if notation not in NOTATIONS:
        raise InputError(f"--notation: expected one of {', '.join(NOTATIONS)} "
                         f"(got {notation!r})")
    if step < 1:
        raise InputError(f"--step: expected an integer >= 1 (got {step})")
    if not 1 <= digits <= 17:
        raise InputError(f"--digits: expected an integer from 1 to 17 (got {digits})")
    from ..insight.cells import exercise_config, require_steps
    from ..insight.explain import explain as derive

    sheet = exercise_config(config, set_ or [], step)
    require_steps(sheet, step)
    result = derive(sheet, param, step, notation, digits)
    if json_:
        console.emit_json(result.to_dict())
    else:
        console.emit("\n".join(result.lines) + "\n")
