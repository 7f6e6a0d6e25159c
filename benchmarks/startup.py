"""Start-up cost of the CLI, the time pictures add to a run, and what each command imports
(see docs/performance.md).

    python benchmarks/startup.py [--runs N]

1. Wall time against ``python -c "import numpy"`` (medians of N fresh processes, interleaved,
   with compiled bytecode as an installed package has it):
   ``nncli --help`` (target: at most 2 x) and ``nncli train configs/moons.yaml --no-plots
   --quiet`` (target: at most 3 x; issue 17), with the part of it that is the training loop
   itself (metrics.json's wall_time) shown apart.
2. The time the pictures add to a run: the same training without ``--no-plots``, measured,
   not judged (drawing needs matplotlib).
3. The top-level packages that ``nncli --help``, ``nncli train`` (CSV and moons, with
   ``--no-plots``) and ``nncli predict`` leave in ``sys.modules``: scikit-learn and matplotlib
   must not be among them. A run with pictures imports matplotlib, which is what drawing takes
   (listed, not flagged); scikit-learn never.

Exit code 1 when a target is missed, a command fails or a forbidden package is imported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (ROOT, bytecode_env, machine_description, median,  # noqa: E402
                    time_commands)

MOONS = ROOT / "configs" / "moons.yaml"
FORBIDDEN = ("sklearn", "matplotlib")
PICTURES_NEED = ("matplotlib",)  # imported by a run that draws its pictures
WATCHED = ("numpy", "pydantic", "yaml", "pyarrow", "rich", "typer", "scipy", "sklearn",
           "matplotlib", "PIL", "pandas", "distributed", "dask")

# Runs the CLI in this process, then writes the names in sys.modules to the file argv[1].
PROBE = """
import json, sys
out, sys.argv = sys.argv[1], ["nncli", *sys.argv[2:]]
from nncli.cli import main
try:
    main()
except SystemExit as e:
    code = e.code
else:
    code = 0
json.dump({"code": code, "modules": sorted(sys.modules)}, open(out, "w"))
"""

CSV_CONFIG = """\
name: startup-csv
data: {source: csv, path: data.csv, target: label}
network:
  layers: [{units: 4, activation: relu}, {units: 2, activation: softmax}]
training: {epochs: 2, batch_size: 4}
"""


def nncli_command() -> list[str]:
    script = Path(sys.executable).with_name("nncli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nncli"]


# --- 1 and 2: wall times -----------------------------------------------------------------------

def loop_times(runs_dir: Path) -> list[float]:
    """The training loop's own time (metrics.json's wall_time) of every run under runs_dir."""
    return [json.loads((d / "metrics.json").read_text())["wall_time"]
            for d in sorted(runs_dir.iterdir()) if (d / "metrics.json").is_file()]


def measure(runs: int) -> tuple[list[str], bool]:
    nncli = nncli_command()
    with tempfile.TemporaryDirectory(prefix="nncli-startup-") as tmp:
        tmp = Path(tmp)
        commands = {
            "numpy": [sys.executable, "-c", "import numpy"],
            "help": [*nncli, "--help"],
            # --out: each in a folder of its own, so that loop_times reads these runs only
            "train": [*nncli, "train", str(MOONS), "--no-plots", "--quiet",
                      "--out", str(tmp / "quiet")],
            "pictures": [*nncli, "train", str(MOONS), "--quiet", "--out", str(tmp / "pictures")],
        }
        env = bytecode_env(tmp / "bytecode", list(commands.values()))
        times = dict(zip(commands, time_commands(list(commands.values()), runs, env)))
        t = {name: median(values) for name, values in times.items()}
        loop = median(loop_times(tmp / "quiet"))
    numpy = t["numpy"]
    lines, failed = [f"python -c 'import numpy': {ms(numpy)} (medians of {runs} runs)"], False
    for name, label, target in (("help", "nncli --help", 2.0),
                                ("train", "nncli train configs/moons.yaml --no-plots --quiet",
                                 3.0)):
        ratio = t[name] / numpy
        failed |= ratio > target
        lines.append(f"{label}: {ms(t[name])} = {ratio:.2f} x numpy (target at most "
                     f"{target:g}): {'met' if ratio <= target else 'MISSED'}")
    lines.append(f"  of which the training loop (metrics.json wall_time): {ms(loop)} = "
                 f"{loop / numpy:.2f} x numpy; the rest (interpreter, imports, config, data, "
                 f"run directory): {ms(t['train'] - loop)} = {(t['train'] - loop) / numpy:.2f} x")
    extra = t["pictures"] - t["train"]
    lines.append(f"pictures: nncli train configs/moons.yaml --quiet: {ms(t['pictures'])}, "
                 f"{ms(extra)} more than with --no-plots ({extra / numpy:.1f} x numpy)")
    return lines, failed


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


# --- 3: imports ------------------------------------------------------------------------------

def imported(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    """(exit code, top-level packages imported) of ``nncli args`` run in a fresh process."""
    out = cwd / "modules.json"
    subprocess.run([sys.executable, "-c", PROBE, str(out), *args], cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    got = json.loads(out.read_text())
    return got["code"], {name.split(".")[0] for name in got["modules"]}


def write_csv_example(folder: Path) -> Path:
    """A 40-row CSV with two features and a text label, and a config that trains on it."""
    lines = ["x1,x2,label"]
    for i in range(40):
        lines.append(f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{'ab'[i % 2]}")
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    (folder / "new.csv").write_text("x1,x2\n0.1,0.2\n0.5,0.5\n")
    config = folder / "csv.yaml"
    config.write_text(CSV_CONFIG)
    return config


def command_imports(folder: Path) -> list[tuple[str, int, set[str], tuple[str, ...]]]:
    """(what, exit code, packages, packages it may import beyond the rule) per command."""
    config = write_csv_example(folder)
    runs = folder / "runs"
    checks = [
        ("nncli --help", ["--help"], ()),
        ("nncli train <csv config> --no-plots",
         ["train", str(config), "--out", str(runs), "--quiet", "--no-plots"], ()),
        ("nncli train configs/moons.yaml --no-plots",
         ["train", str(MOONS), "--out", str(folder / "moons"), "--quiet", "--no-plots"], ()),
        ("nncli train configs/moons.yaml (pictures)",
         ["train", str(MOONS), "--out", str(folder / "moons"), "--quiet"], PICTURES_NEED),
    ]
    result = [(what, *imported(args, folder), allowed) for what, args, allowed in checks]
    run_dirs = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.exists() else []
    if run_dirs:
        code, packages = imported(["predict", str(run_dirs[-1]), "--input",
                                   str(folder / "new.csv")], folder)
        result.append(("nncli predict", code, packages, ()))
    return result


def check_imports() -> tuple[list[str], bool]:
    lines, failed = [], False
    with tempfile.TemporaryDirectory(prefix="nncli-startup-") as tmp:
        for what, code, packages, allowed in command_imports(Path(tmp)):
            heavy = [m for m in WATCHED if m in packages]
            bad = [m for m in FORBIDDEN if m in packages and m not in allowed]
            failed |= bool(bad) or code != 0
            verdict = f"FORBIDDEN: {', '.join(bad)}" if bad else "ok"
            if allowed and not bad:
                verdict += f" ({', '.join(allowed)}: drawing)"
            lines.append(f"{what}: exit {code}; imports "
                         f"{', '.join(heavy) or 'none of those watched'} -> {verdict}")
    return lines, failed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10, help="fresh processes per command (median)")
    args = p.parse_args(argv)

    print("\n".join(machine_description()))
    print()
    timing, missed = measure(args.runs)
    print("\n".join(timing))
    print()
    imports, bad = check_imports()
    print("\n".join(imports))
    print("\nwhy: python -X importtime -c \"import sys; sys.argv=['nncli','--help']; "
          "from nncli.cli import main; main()\" 2>&1 | sort -t'|' -k2 -n | tail")
    return 1 if missed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
