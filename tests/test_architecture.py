"""The layering of the package, read from the imports of every module (nothing is run).

Imports go one way, from the engine up to the command line:

    base (errors, files, memory, metrics) -> engine -> data, config -> runs -> plots -> training
    -> insight, sweep -> api (nncli.train, the Run, the scikit-learn estimators) -> cli

A module may import its own layer and the layers below it, never one above. The engine
imports NumPy only (besides the standard library); only ``cli/`` imports typer and rich.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nncli"

# Layers, lowest first: module prefixes (dotted, relative to nncli).
LAYERS = [
    ("base", ["errors", "files", "memory", "metrics"]),
    ("engine", ["engine"]),
    ("data and config", ["data", "config"]),
    ("runs", ["runs"]),
    ("plots", ["plots"]),
    ("training", ["training"]),
    ("insight and sweep", ["insight", "sweep"]),
    ("api", ["api", "sklearn"]),
    ("cli", ["cli", "__main__", "__init__"]),
]
THIRD_PARTY_ONLY_IN = {"typer": "cli", "rich": "cli", "click": "cli"}
ENGINE_MAY_IMPORT = {"numpy", "__future__", "dataclasses", "typing", "math"}


def layer_of(module: str) -> int:
    """The layer index of an nncli module given as a dotted path below nncli."""
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return index
    raise AssertionError(f"nncli.{module} belongs to no layer: add it to LAYERS")


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file: nncli modules as dotted paths
    below nncli (relative imports resolved), others by their top-level package."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    if module == "__init__":
        package = []
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                found.append((name.removeprefix("nncli.") if name.startswith("nncli.")
                              else OTHER + name.split(".")[0], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if not node.module:  # from . import x: x may be a module
                    found += [(".".join(base + [a.name]) if base else a.name, node.lineno)
                              for a in node.names if a.name != "__version__"]
                    continue
                found.append((target or "__init__", node.lineno))
            elif node.module == "nncli" or node.module.startswith("nncli."):
                target = node.module.removeprefix("nncli").lstrip(".")
                if not target:
                    found += [(a.name, node.lineno) for a in node.names if a.name != "__version__"]
                else:
                    found.append((target, node.lineno))
            else:
                found.append((OTHER + node.module.split(".")[0], node.lineno))
    return found


OTHER = "!"  # marks another package's name (scikit-learn's sklearn is not nncli.sklearn)


def is_nncli(name: str, all_modules: set[str]) -> bool:
    return not name.startswith(OTHER) and any(
        name == m or name.startswith(m + ".") or m.startswith(name + ".") for m in all_modules)


def violations() -> list[str]:
    all_modules = {m for m, _ in modules()}
    found = []
    for module, path in modules():
        mine = layer_of(module)
        for name, line in imports(module, path):
            where = f"nncli/{path.relative_to(PACKAGE)}:{line}"
            if is_nncli(name, all_modules):
                if layer_of(name) > mine:
                    found.append(f"{where}: {LAYERS[mine][0]} imports upward from "
                                 f"{LAYERS[layer_of(name)][0]} (nncli.{name})")
                continue
            name = name.removeprefix(OTHER)
            if name in THIRD_PARTY_ONLY_IN and not module.startswith("cli"):
                found.append(f"{where}: only cli/ may import {name}")
            elif module.startswith("engine") and name not in ENGINE_MAY_IMPORT:
                found.append(f"{where}: the engine imports NumPy only, not {name}")
    return found


def test_imports_go_one_way():
    assert violations() == []


def test_the_check_sees_a_forbidden_import(tmp_path, monkeypatch):
    """The check itself can fail: an engine module that imports typer, and a data module that
    imports the trainer, are both reported."""
    fake = tmp_path / "nncli"
    for module, path in modules():
        target = fake / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (fake / "engine" / "losses.py").write_text("import typer\n" + (fake / "engine" / "losses.py").read_text())
    (fake / "data" / "prepare.py").write_text("from ..training import train\n"
                                               + (fake / "data" / "prepare.py").read_text())
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    found = violations()
    assert "nncli/engine/losses.py:1: only cli/ may import typer" in found
    assert ("nncli/data/prepare.py:1: data and config imports upward from training "
            "(nncli.training)") in found
