"""Peak memory of training on 1,000,000 x 20 float32 blobs, and where it goes.

    python benchmarks/memory.py [--rows N] [--epochs E]

1. A fresh process trains through the library behind `nncli train`
   (``nncli.training.train.train_from_config``) on a config written to a temporary folder
   (dtype float32, blobs with 5 centers, 20-64-5 relu/softmax, batch 256, validation 0.2,
   no pictures) and reports its peak resident set size. Issue 5's target: at most
   1.5 x the data's size + 100 MB, the data being the float32 feature matrix (n x 20 x 4 bytes).
2. Another fresh process runs the same steps one by one under tracemalloc (NumPy reports its
   buffers to it) and prints, per step, the peak of traced memory and what stays allocated,
   then the arrays the prepared experiment keeps alive during training.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import machine_description, mb, peak_rss_bytes, report, run_worker  # noqa: E402

CONFIG = """\
name: memory
seed: 0
dtype: float32
data: {{source: blobs, n_samples: {rows}, n_features: 20, centers: 5}}
network:
  layers: [{{units: 64, activation: relu}}, {{units: 5, activation: softmax}}]
training: {{batch: minibatch, batch_size: 256, learning_rate: 0.05, epochs: {epochs}}}
"""
FEATURES = 20


def write_config(folder: Path, rows: int, epochs: int) -> Path:
    path = folder / "memory.yaml"
    path.write_text(CONFIG.format(rows=rows, epochs=epochs))
    return path


def train_worker(config: Path) -> None:
    import nncli.training.train

    baseline = peak_rss_bytes()
    started = time.perf_counter()
    outcome = nncli.training.train.train_from_config(config, out=config.parent / "runs")
    report({"peak": peak_rss_bytes(), "baseline": baseline, "status": outcome.result.status,
            "seconds": time.perf_counter() - started})


def phases_worker(config_path: Path) -> None:
    """Each step's traced peak and what it leaves allocated (bytes), then what is kept alive."""
    import tracemalloc

    from nncli.config import load_config
    from nncli.data.sources import load_source
    from nncli.training.experiment import prepare, seed_streams
    from nncli.training.train import final_metrics, run_fit

    tracemalloc.start()
    steps = []

    def step(name, fn):
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        value = fn()
        current, peak = tracemalloc.get_traced_memory()
        steps.append({"step": name, "peak_over_start": peak - before, "kept": current - before,
                      "traced_peak": peak})
        return value

    config = load_config(config_path)
    seed = int(seed_streams(config.seed)["data"].generate_state(1)[0])
    dataset = step("generate the data alone (load_source)",
                   lambda: load_source(config.data, config_path.parent, seed, config.dtype))
    del dataset
    experiment = step("prepare: generate, check, split, scale in place, order by split",
                      lambda: prepare(config, config_path))
    result = step("fit", lambda: run_fit(experiment))
    step("final metrics", lambda: final_metrics(experiment, result))
    kept = {"X": experiment.X, "Y": experiment.Y,
            "train_idx": experiment.train_idx, "val_idx": experiment.val_idx}
    report({"steps": steps,
            "kept": {k: [v.nbytes, str(v.dtype), list(v.shape)] for k, v in kept.items()}})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--worker", nargs=2, metavar=("KIND", "CONFIG"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        kind, config = args.worker
        (train_worker if kind == "train" else phases_worker)(Path(config))
        return 0

    print("\n".join(machine_description()))
    data = args.rows * FEATURES * 4
    target = 1.5 * data + 100e6
    with tempfile.TemporaryDirectory(prefix="nncli-memory-") as tmp:
        config = write_config(Path(tmp), args.rows, args.epochs)
        run = run_worker([__file__, "--worker", "train", str(config)])
        phases = run_worker([__file__, "--worker", "phases", str(config)])
    ok = run["peak"] <= target
    print(f"\ntraining {args.rows:,} x {FEATURES} float32 blobs, {args.epochs} epochs "
          f"({run['status']}, {run['seconds']:.1f} s): peak RSS {mb(run['peak'])} "
          f"({mb(run['peak'] - run['baseline'])} over the {mb(run['baseline'])} after imports); "
          f"data {mb(data)}; target 1.5 x data + 100 MB = {mb(target)}: "
          f"{'met' if ok else 'MISSED'} ({run['peak'] / data:.1f} x the data)")
    print("\nstep by step (tracemalloc: NumPy buffers and Python objects):")
    for s in phases["steps"]:
        print(f"  {s['step']}: peak {mb(s['peak_over_start'])} above the step's start, "
              f"keeps {mb(s['kept'])}")
    print("\narrays the experiment keeps alive while training:")
    for name, (nbytes, dtype, shape) in phases["kept"].items():
        print(f"  {name}: {dtype} {tuple(shape)} {mb(nbytes)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
