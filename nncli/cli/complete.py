"""Shell completion: what <TAB> offers for config files, run directories and config keys.

Installed with ``nncli --install-completion`` (typer's mechanism: the shell runs ``nncli`` with
``_NNCLI_COMPLETE`` set at every <TAB>, and click calls these functions with the word being
completed; typer keeps the candidates that start with it). Commands and options complete
through click itself. These functions import what they need inside (the config models, the
run index), so declaring them costs ``nncli --help`` nothing; and a completion must never print
a traceback into the user's shell, so a config that cannot be read just gives fewer keys.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path

import typer

YAML_SUFFIXES = (".yaml", ".yml")


# --- files and directories -------------------------------------------------------------------

def config_files(incomplete: str) -> list[str]:
    """YAML files, and folders to look into, whose path starts with ``incomplete``."""
    return [_shown(typed, entry) for typed, entry in _entries(incomplete)
            if entry.is_dir() or entry.suffix.lower() in YAML_SUFFIXES]


def run_dirs(incomplete: str) -> list[str]:
    """Run directories whose path starts with ``incomplete``, and the folders that hold runs
    (``runs/``, a sweep directory); any folder when none of those match, to find runs
    elsewhere. A lone folder of runs is opened at once: ``nncli show <TAB>`` lists the runs
    in ``runs/``. Hidden ``.partial`` directories (for ``--resume``) show after a typed ``.``.
    """
    from ..runs.index import is_run_dir

    found = _run_candidates(incomplete, is_run_dir)
    if len(found) == 1 and found[0].endswith("/"):  # one folder of runs: show what is inside
        inside = _run_candidates(found[0], is_run_dir)
        found = inside or found
    return found


def _run_candidates(incomplete: str, is_run_dir) -> list[str]:
    folders = [(typed, e) for typed, e in _entries(incomplete) if e.is_dir()]
    runs = [_shown(typed, e, slash=False) for typed, e in folders if is_run_dir(e)]
    holders = [_shown(typed, e) for typed, e in folders
               if not is_run_dir(e) and _holds_runs(e, is_run_dir)]
    return runs + holders or [_shown(typed, e) for typed, e in folders]


def _holds_runs(folder: Path, is_run_dir) -> bool:
    try:
        return any(is_run_dir(p) for p in folder.iterdir() if p.is_dir())
    except OSError:
        return False


def _entries(incomplete: str) -> list[tuple[str, Path]]:
    """(the folder part as typed, entry) for each entry of the typed folder whose name starts
    with the typed name; hidden entries only when the typed name starts with a dot."""
    typed_folder, _, name = incomplete.rpartition("/")
    typed_folder = typed_folder + "/" if "/" in incomplete else ""
    folder = Path(os.path.expanduser(typed_folder or "."))
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [(typed_folder, e) for e in entries
            if e.name.startswith(name) and (name.startswith(".") or not e.name.startswith("."))]


def _shown(typed_folder: str, entry: Path, slash: bool | None = None) -> str:
    """The candidate as the user would type it; folders end with / to go on typing."""
    if slash is None:
        slash = entry.is_dir()
    return typed_folder + entry.name + ("/" if slash else "")


# --- config keys -------------------------------------------------------------------------------

def config_keys(ctx: typer.Context, incomplete: str) -> list[str]:
    """Dotted config keys for ``--set`` and ``--grid``, from the config models: every key of
    the CONFIG already on the command line (its data source's keys, an index per layer of its
    network), or of any config; sections too, whose value can be given whole as YAML. After ``KEY=``, the values a key allows when they are few
    (``dtype=float32``). With ``--resume``, the two keys a resumed run may change."""
    try:
        if ctx.params.get("resume") is not None:
            from ..training.train import RESUME_OVERRIDES
            keys = {key: [] for key in RESUME_OVERRIDES}
        else:
            keys = _key_choices(*_config_shape(_config_argument(ctx)))
        if "=" in incomplete:
            key = incomplete.partition("=")[0]
            return [f"{key}={value}" for value in keys.get(key, [])]
        return list(keys)
    except Exception:  # noqa: BLE001 - see the module docstring
        return []


def _config_argument(ctx: typer.Context):
    """The CONFIG on the command line so far: while completing, click leaves positional
    arguments unparsed in ``ctx.args`` (CONFIG is the only one of the commands with --set)."""
    if ctx.params.get("config") is not None:
        return ctx.params["config"]
    return ctx.args[0] if ctx.args else None


def _config_shape(path) -> tuple[str | None, int]:
    """(data source, number of layers) of the config file at ``path``, as far as it says."""
    if path is None:
        return None, 1
    try:
        from ..config import parse_yaml

        raw = parse_yaml(Path(path).read_text(encoding="utf-8"), str(path))
        data, network = raw.get("data") or {}, raw.get("network") or {}
        return data.get("source"), max(1, len(network.get("layers") or []))
    except Exception:  # noqa: BLE001 - an unreadable config: keys of any config
        return None, 1


def _key_choices(source: str | None, layers: int) -> dict[str, list[str]]:
    """Every leaf key of the config models -> the values it allows when they are few."""
    from ..config import Config

    keys: dict[str, list[str]] = {}
    _walk(Config, "", keys, source, layers)
    return keys


def _walk(model, prefix: str, keys: dict, source: str | None, layers: int) -> None:
    for name, field in model.model_fields.items():
        path = prefix + name
        annotation = _unwrap(field.annotation)
        members = [m for m in _union_members(annotation) if _is_model(m)]
        if members:  # a section, or a union of them (the data sources): their keys side by side
            keys.setdefault(path, [])  # the whole section as one YAML value (schedule: constant)
            chosen = [m for m in members if source in _choices(m.model_fields.get("source"))]
            for member in chosen or members:
                _walk(member, path + ".", keys, source, layers)
        elif typing.get_origin(annotation) is list and _is_model(typing.get_args(annotation)[0]):
            keys.setdefault(path, [])  # the whole list, as in network.layers=[...]
            for i in range(layers):
                keys.setdefault(f"{path}.{i}", [])
                _walk(typing.get_args(annotation)[0], f"{path}.{i}.", keys, source, layers)
        else:  # a leaf; data.source gathers its value from every source's model
            values = keys.setdefault(path, [])
            values += [v for v in _choices(field) if v not in values]


def _choices(field) -> list[str]:
    """The values of a Literal (or bool) field, as YAML; [] for others."""
    if field is None:
        return []
    values = []
    for member in _union_members(_unwrap(field.annotation)):
        if typing.get_origin(member) is typing.Literal:
            values += [str(v) for v in typing.get_args(member)]
        elif member is bool:
            values += ["true", "false"]
    return values


def _unwrap(annotation):
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation) -> list:
    import types

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [_unwrap(a) for a in typing.get_args(annotation)]
    return [annotation]


def _is_model(annotation) -> bool:
    from pydantic import BaseModel

    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
