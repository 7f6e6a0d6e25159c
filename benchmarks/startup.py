"""Start-up cost of the CLI, and what each command imports (see docs/performance.md).

    python benchmarks/startup.py [--runs N]

1. Wall time of ``nncli --help`` against ``python -c "import numpy"`` (medians of N fresh
   processes, interleaved); issue 5's target: at most 2x.
2. The top-level packages that ``nncli --help``, ``nncli train <csv config>`` (with and
   without ``--no-plots``) and ``nncli predict`` leave in ``sys.modules``; scikit-learn and
   matplotlib must not be among them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine_description, median, time_commands  # noqa: E402

TARGET = 2.0
FORBIDDEN = ("sklearn", "matplotlib")
WATCHED = ("numpy", "pydantic", "yaml", "pyarrow", "rich", "typer", "scipy", "sklearn",
           "matplotlib", "pandas", "distributed", "dask")

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


def command_imports(folder: Path) -> dict[str, tuple[int, set[str]]]:
    config = write_csv_example(folder)
    runs = folder / "runs"
    result = {
        "nncli --help": imported(["--help"], folder),
        "nncli train <csv config>": imported(["train", str(config), "--out", str(runs),
                                              "--quiet"], folder),
        # the run's pictures (docs/plots.md) are drawn with matplotlib unless --no-plots
        "nncli train <csv config> --no-plots": imported(
            ["train", str(config), "--out", str(runs), "--quiet", "--no-plots"], folder),
    }
    if (ROOT / "nncli" / "cli" / "predict.py").exists():
        run_dirs = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.exists() else []
        if run_dirs:
            result["nncli predict"] = imported(["predict", str(run_dirs[-1]), "--input",
                                                str(folder / "new.csv")], folder)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10, help="fresh processes per command (median)")
    args = p.parse_args(argv)

    print("\n".join(machine_description()))
    help_times, numpy_times = time_commands(
        [[*nncli_command(), "--help"], [sys.executable, "-c", "import numpy"]], args.runs)
    t_help, t_numpy = median(help_times), median(numpy_times)
    ratio = t_help / t_numpy
    print(f"\nnncli --help: {t_help * 1e3:.0f} ms; python -c 'import numpy': "
          f"{t_numpy * 1e3:.0f} ms; ratio {ratio:.2f} (target at most {TARGET:g}): "
          f"{'met' if ratio <= TARGET else 'MISSED'}  (medians of {args.runs} runs)")

    failed = ratio > TARGET
    with tempfile.TemporaryDirectory(prefix="nncli-startup-") as tmp:
        for what, (code, packages) in command_imports(Path(tmp)).items():
            heavy = [m for m in WATCHED if m in packages]
            bad = [m for m in FORBIDDEN if m in packages]
            failed |= bool(bad) or code != 0
            verdict = f"FORBIDDEN: {', '.join(bad)}" if bad else "ok"
            print(f"{what}: exit {code}; imports {', '.join(heavy) or 'none of those watched'}"
                  f" -> {verdict}")
    print("\nwhy: python -X importtime -c \"import sys; sys.argv=['nncli','--help']; "
          "from nncli.cli import main; main()\" 2>&1 | sort -t'|' -k2 -n | tail")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
