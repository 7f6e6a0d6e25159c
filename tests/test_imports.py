"""Start-up discipline: `nncli --help`, training on CSV data and `nncli predict` never import
scikit-learn or matplotlib (issue 5; they cost seconds in shell loops).

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
    assert "train" in proc.stdout
    assert [m for m in FORBIDDEN if m in packages] == []


def test_csv_training_imports_neither_sklearn_nor_matplotlib(csv_run):
    (code, packages, modules, proc), folder = csv_run
    assert code == 0, proc.stderr
    assert len(list((folder / "runs").iterdir())) == 1  # it really trained and wrote a run
    assert "nncli.training.train" in modules and "numpy" in packages  # the probe sees what was used
    assert [m for m in FORBIDDEN if m in packages] == []


def test_predict_imports_neither_sklearn_nor_matplotlib(csv_run):
    (code, *_), folder = csv_run
    assert code == 0
    (run_dir,) = (folder / "runs").iterdir()
    (folder / "new.csv").write_text("x1,x2\n0.1,0.2\n0.5,0.5\n")
    code, packages, _, proc = run_probe(folder, "predict", run_dir, "--input", "new.csv")
    assert code == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 3  # a header and one line per row
    assert [m for m in FORBIDDEN if m in packages] == []
