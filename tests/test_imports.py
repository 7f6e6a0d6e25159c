"""Start-up discipline: `nncli --help`, training on CSV, generated or bundled data (with
--no-plots) and `nncli predict` never import scikit-learn or matplotlib (issues 5 and 17; they
cost seconds in shell loops); `--help` does not even import numpy or pydantic.

Each command runs in a fresh interpreter, which then reports what is in ``sys.modules``.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("sklearn", "matplotlib")

PROBE = """
import json, sys
out, sys.argv = sys.argv[1], ["nncli", *sys.argv[2:]]
from nncli.cli import main
try:
    main()
    code = 0
except SystemExit as e:
    code = e.code or 0
json.dump({"code": code, "modules": sorted(sys.modules)}, open(out, "w"))
"""

CONFIG = """\
data: {source: csv, path: data.csv, target: label}
network:
  layers: [{units: 4, activation: relu}, {units: 2, activation: softmax}]
training: {epochs: 2, batch_size: 4}
"""


def run_probe(tmp_path, *args):
    """(exit code, top-level package names imported, stdout) of ``nncli args``."""
    out = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", PROBE, str(out), *map(str, args)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    got = json.loads(out.read_text())
    return got["code"], {m.split(".")[0] for m in got["modules"]}, set(got["modules"]), proc


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """One CSV training run in a probe: (its result, the folder with data, config and runs)."""
    folder = tmp_path_factory.mktemp("csv")
    rows = ["x1,x2,label"] + [f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{'ab'[i % 2]}" for i in range(40)]
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    (folder / "exp.yaml").write_text(CONFIG)
    # --no-plots: the pictures of a run are drawn with matplotlib (docs/plots.md); the fast
    # path for shell loops leaves them out
    result = run_probe(folder, "train", "exp.yaml", "--out", "runs", "--quiet", "--no-plots")
    return result, folder


def test_help_imports_neither_sklearn_nor_matplotlib(tmp_path):
    code, packages, _, proc = run_probe(tmp_path, "--help")
    assert code == 0
    assert "train" in proc.stdout and "--install-completion" in proc.stdout
    assert [m for m in FORBIDDEN if m in packages] == []
    # nor what the commands need: completion callbacks and commands import it inside
    assert [m for m in ("numpy", "pydantic", "yaml", "pyarrow") if m in packages] == []


def test_csv_training_imports_neither_sklearn_nor_matplotlib(csv_run):
    (code, packages, modules, proc), folder = csv_run
    assert code == 0, proc.stderr
    assert len(list((folder / "runs").iterdir())) == 1  # it really trained and wrote a run
    assert "nncli.training.train" in modules and "numpy" in packages  # the probe sees what was used
    assert [m for m in FORBIDDEN if m in packages] == []
    assert "rich" not in packages  # a quiet run prints nothing: rich is imported on first use


def test_predict_imports_neither_sklearn_nor_matplotlib(csv_run):
    (code, *_), folder = csv_run
    assert code == 0
    (run_dir,) = (folder / "runs").iterdir()
    (folder / "new.csv").write_text("x1,x2\n0.1,0.2\n0.5,0.5\n")
    code, packages, _, proc = run_probe(folder, "predict", run_dir, "--input", "new.csv")
    assert code == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 3  # a header and one line per row
    assert [m for m in FORBIDDEN if m in packages] == []


# Every source but csv and inline, with its default parameters; the output layer fits it.
SOURCE_OUTPUTS = {"blobs": 3, "moons": 2, "circles": 2, "classification": 2, "xor": 2,
                  "regression": 1, "friedman1": 1, "iris": 3, "digits": 10, "wine": 3,
                  "breast_cancer": 2, "diabetes": 1}

# Runs `nncli` once per argument list in this one process (SystemExit caught), then writes
# the exit codes and sys.modules to the file argv[1].
PROBE_MANY = """
import json, sys
out, commands = sys.argv[1], json.loads(sys.argv[2])
from nncli.cli import main
codes = []
for args in commands:
    sys.argv = ["nncli", *args]
    try:
        main()
        codes.append(0)
    except SystemExit as e:
        codes.append(e.code or 0)
json.dump({"codes": codes, "modules": sorted(sys.modules)}, open(out, "w"))
"""


def test_training_on_every_generated_and_bundled_source_imports_neither(tmp_path):
    """The generators and bundled data sets are scikit-learn's numbers, without scikit-learn
    (nncli.data.generators, nncli.data.bundled); the moons config is the shell-loop example."""
    from nncli.data.schema import SOURCES

    assert set(SOURCE_OUTPUTS) == set(SOURCES) - {"csv", "inline"}
    commands = [["train", str(ROOT / "configs" / "moons.yaml"), "--out", "runs", "--quiet",
                 "--no-plots", "--set", "training.epochs=1"]]
    for source, outputs in SOURCE_OUTPUTS.items():
        activation = "linear" if outputs == 1 else "softmax"
        (tmp_path / f"{source}.yaml").write_text(
            f"data: {{source: {source}}}\n"
            f"network:\n  layers: [{{units: 3, activation: tanh}}, "
            f"{{units: {outputs}, activation: {activation}}}]\n"
            f"training: {{epochs: 1, batch: full}}\n")
        commands.append(["train", f"{source}.yaml", "--out", "runs", "--quiet", "--no-plots"])
    out = tmp_path / "modules.json"
    proc = subprocess.run([sys.executable, "-c", PROBE_MANY, str(out), json.dumps(commands)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    got = json.loads(out.read_text())
    assert got["codes"] == [0] * len(commands), proc.stderr
    assert len(list((tmp_path / "runs").iterdir())) == len(commands)  # every one trained
    packages = {m.split(".")[0] for m in got["modules"]}
    assert {"nncli.data.generators", "nncli.data.bundled"} <= set(got["modules"])
    assert [m for m in FORBIDDEN if m in packages] == []
    assert "rich" not in packages and "numpy.ma" not in got["modules"]
