import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nncli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
PENGUINS = ROOT / "datasets" / "penguins-synthetic.csv"


class Cli:
    """Runs nncli in-process, with the run directories under a temporary folder."""

    def __init__(self, out: Path):
        self.out = out
        self.runner = CliRunner()

    def __call__(self, *args, input=None):
        return self.runner.invoke(app, [str(a) for a in args], input=input,
                                  catch_exceptions=False)

    def train(self, config, *extra, plots=False):
        """`nncli train CONFIG --out OUT --quiet`; without pictures unless ``plots`` (they cost
        time, and only the tests about pictures look at them)."""
        no_plots = [] if plots or "--no-plots" in extra else ["--no-plots"]
        return self("train", config, "--out", self.out, "--quiet", *no_plots, *extra)

    def run_dirs(self):
        return sorted(p for p in self.out.iterdir() if p.is_dir()) if self.out.exists() else []


@pytest.fixture
def cli(tmp_path):
    return Cli(tmp_path / "runs")


@pytest.fixture
def configs():
    return CONFIGS


@pytest.fixture(scope="session")
def penguins(tmp_path_factory):
    """configs/penguins-csv.yaml trained for 20 epochs (a TrainOutcome), once per session: the
    run that predict and evaluate are tested on."""
    from nncli.training.train import train_from_config

    return train_from_config(CONFIGS / "penguins-csv.yaml", ["training.epochs=20"],
                             tmp_path_factory.mktemp("penguins"))


def assert_input_error(result, message):
    """Bad input: exit 2, exactly one ``error:`` line, nothing on stdout."""
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {message}\n"
    assert result.stdout == ""


def weights(run_dir):
    with np.load(Path(run_dir) / "weights.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def read_json(path):
    return json.loads(Path(path).read_text())


def write_config(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def noisy_xor(epochs: int, name: str | None = None) -> str:
    """A small config for tests of the CLI around training: 40 noisy XOR points (32 train,
    8 validation), one hidden layer; a run takes about 0.1 s."""
    head = f"name: {name}\n" if name else ""
    return head + f"""data: {{source: xor, n_samples: 40, noise: 0.2}}
network:
  layers:
    - {{units: 4, activation: tanh}}
    - {{units: 1, activation: sigmoid}}
training: {{batch: minibatch, batch_size: 8, learning_rate: 0.5, epochs: {epochs}}}
"""


def hooks(on_epoch=None, stop=None, on_checkpoint=None):
    """Training hooks (nncli.training.train.TrainHooks) made of plain functions: ``on_epoch(record)``
    after every epoch, ``stop()`` after every batch, ``on_checkpoint(path, epoch)``."""
    from nncli.training.train import TrainHooks

    class FunctionHooks(TrainHooks):
        def epoch_end(self, record, result):
            if on_epoch:
                on_epoch(record)

        def stop_requested(self):
            return bool(stop and stop())

        def checkpoint_written(self, path, epoch):
            if on_checkpoint:
                on_checkpoint(path, epoch)

    return FunctionHooks()


# --- the long run --------------------------------------------------------------------------
# tests/test_long_runs.py trains 200,000 epochs to show that memory stays flat. That takes
# about half a minute: in a serial test run it starts in its own process as soon as the test is
# collected and runs beside the rest of the suite (on the machine's second core), and the test
# collects it; with pytest-xdist (-n), the worker that runs the test starts it then.

LONG_RUN = """
import json, sys
from nncli.training.train import TrainHooks, train_from_config

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

class Measure(TrainHooks):
    def __init__(self):
        self.rss = {}
    def epoch_end(self, record, result):
        if record["epoch"] in (1000, 200000):
            self.rss[record["epoch"]] = rss()

hooks = Measure()
outcome = train_from_config(sys.argv[1], [], sys.argv[2], hooks)
print(json.dumps({"rss": hooks.rss, "after": rss(), "run_dir": str(outcome.run_dir),
                  "epochs_run": outcome.result.epochs_run}))
"""
def tiny_xor(name: str, epochs: int, every: int = 0) -> str:
    """The smallest run there is (a 2-2-1 network on XOR's four rows, one full batch): for
    tests of many epochs."""
    return (f"name: {name}\ndata: {{source: xor}}\nnetwork:\n  layers:\n"
            f"    - {{units: 2, activation: tanh}}\n    - {{units: 1, activation: sigmoid}}\n"
            f"training: {{batch: full, learning_rate: 0.5, epochs: {epochs}, "
            f"checkpoint_every: {every}}}\n")


LONG_CONFIG = tiny_xor("long", 200000, 50000)
long_run_process = {}


def start_long_run():
    """The long run's process (started now if it is not running yet)."""
    import subprocess
    import sys
    import tempfile

    if "proc" not in long_run_process:
        folder = Path(tempfile.mkdtemp(prefix="nncli-long-"))
        (folder / "long.yaml").write_text(LONG_CONFIG)
        long_run_process["folder"] = folder
        long_run_process["proc"] = subprocess.Popen(
            [sys.executable, "-c", LONG_RUN, str(folder / "long.yaml"), str(folder / "runs")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return long_run_process["proc"]


def pytest_collection_finish(session):
    import os

    in_worker = "PYTEST_XDIST_WORKER" in os.environ  # every worker collects every test
    if not in_worker and any("test_memory_stays_flat" in item.nodeid for item in session.items):
        start_long_run()


def pytest_sessionfinish(session, exitstatus):
    proc = long_run_process.get("proc")
    if proc is not None and proc.poll() is None:
        proc.kill()
    if "folder" in long_run_process:
        shutil.rmtree(long_run_process["folder"], ignore_errors=True)
