"""Throughput and peak memory of `nncli predict` on a large CSV file.

    .venv/bin/python benchmarks/predict_throughput.py            # 1,000,000 rows
    .venv/bin/python benchmarks/predict_throughput.py --rows 200000

Trains the penguins example (20 epochs: 4 features, 16 relu, 3 softmax), writes a CSV of
``--rows`` rows (the four features plus an id column predict must ignore), then runs
``nncli predict RUN big.csv --proba -o out.csv`` in a fresh process and reports rows/s, CPU
time and that process's peak resident memory. The same is done on a file a tenth the size:
if memory is bounded, the peak does not grow tenfold with the file. The floor (start-up time
and memory with nncli's predict modules imported, nothing read) is shown for comparison;
the seconds and rows/s include start-up. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, help="folder for the run and CSV files "
                        "(default: a temporary folder, removed afterwards)")
    args = parser.parse_args()
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        report(args.work, args.rows)
    else:
        with tempfile.TemporaryDirectory(prefix="nncli-bench-") as work:
            report(Path(work), args.rows)


def report(work: Path, rows: int) -> None:
    run_dir = train(work)
    results = []
    for n in (rows // 10, rows):
        csv_path = make_csv(work / f"rows-{n}.csv", n)
        seconds, cpu, peak = measure([sys.executable, "-m", "nncli", "predict", str(run_dir),
                                 str(csv_path), "--proba", "-o", str(work / "out.csv")])
        lines = sum(1 for _ in open(work / "out.csv", "rb")) - 1
        assert lines == n, (lines, n)
        results.append({"rows": n, "csv_mb": csv_path.stat().st_size / 1e6,
                        "seconds": seconds, "cpu_seconds": cpu, "rows_per_s": n / seconds,
                        "peak_rss_mb": peak / 1e6})
        csv_path.unlink()
    floor_cmd = [sys.executable, "-c", "import nncli.runs.predict, nncli.cli"]
    start_s, start_cpu, floor = measure(floor_cmd)
    print(f"{'rows':>10} {'csv MB':>8} {'seconds':>8} {'CPU s':>7} {'rows/s':>10} "
          f"{'peak RSS MB':>12}")
    for r in results:
        print(f"{r['rows']:>10,} {r['csv_mb']:>8.1f} {r['seconds']:>8.2f} {r['cpu_seconds']:>7.2f} "
              f"{r['rows_per_s']:>10,.0f} {r['peak_rss_mb']:>12.0f}")
    print(f"floor (start-up and imports only): {start_s:.2f} s, {start_cpu:.2f} CPU s, "
          f"{floor / 1e6:.0f} MB peak RSS")
    print(json.dumps({"results": results, "floor_seconds": start_s, "floor_cpu_seconds": start_cpu,
                      "floor_rss_mb": floor / 1e6, "load_average": os.getloadavg()[0],
                      "cpus": os.cpu_count(),
                      "python": sys.version.split()[0]}))


def train(work: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "nncli", "train", str(ROOT / "configs" / "penguins-csv.yaml"),
         "--set", "training.epochs=20", "--out", str(work / "runs"), "--quiet", "--json"],
        capture_output=True, text=True, check=True)
    return Path(json.loads(proc.stdout.splitlines()[-1])["run_dir"])


def make_csv(path: Path, rows: int, chunk: int = 100_000) -> Path:
    """Penguin-like measurements (around the three species' means), written chunk by chunk."""
    rng = np.random.default_rng(0)
    centres = np.array([[38.8, 18.3, 190, 3700], [48.8, 18.4, 196, 3730],
                        [47.5, 15.0, 217, 5076]])
    spread = np.array([2.7, 1.2, 6.5, 460])
    with open(path, "w") as f:
        f.write("id," + ",".join(FEATURES) + "\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            X = centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 4)) * spread
            ids = np.arange(start, start + n).reshape(-1, 1)
            np.savetxt(f, np.hstack([ids, X.round(2)]), delimiter=",",
                       fmt=["%d", "%.2f", "%.2f", "%.1f", "%.1f"])
    return path


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system) and peak resident memory (bytes) of one fresh
    process running ``cmd``. CPU time is what the work costs even when other processes
    share the machine; wall time is what a user waits."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024  # Linux: KiB


if __name__ == "__main__":
    main()
