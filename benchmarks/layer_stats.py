"""What the layer statistics and the snapshots cost per epoch, on the scenarios of compare.py.

    python benchmarks/layer_stats.py [SCENARIO ...] [--repeats N] [--threads T]
                                     [--write-results]

Each scenario runs in ``--repeats`` fresh processes; each process trains it three ways, ROUNDS
times, interleaved so that load from elsewhere falls on all alike: ``off`` (``training.layer_stats: false``, no recording),
``stats`` (the statistics on, their rows written to a layers.csv as the trainer writes them)
and ``all`` (the same, and the weights of the snapshot epochs kept as the trainer keeps them).
The ratios stats / off and all / off are of the fastest of each mode's per-epoch times within
a process (the reference run is in the same process; load from elsewhere only ever adds time,
so the fastest run is the least disturbed one), then the median over processes; CPU time of the
process (``time.process_time``), which load from other processes disturbs less than wall time,
is shown beside wall time. The network, data, initial weights, batch size, rate and epochs are
compare.py's (plain SGD).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import BENCHMARKS, machine_description, report, run_worker  # noqa: E402
from compare import nncli_network, write_section  # noqa: E402
from scenarios import SCENARIOS, load, save, weights_of  # noqa: E402

MODES = ("off", "stats", "all")
DEFAULT = ("digits", "blobs-large", "wide", "sgd-tiny", "fullbatch", "regress")
TARGET = 1.05


ROUNDS = 3  # each worker trains every mode this many times, interleaved


def train_once(mode: str, name: str, arrays: dict, out: Path) -> dict:
    """Per-epoch wall and CPU time of one training in ``mode``."""
    from nncli.config import TrainingConfig
    from nncli.engine.losses import LOSSES
    from nncli.metrics import METRICS
    from nncli.runs.formats import LAYER_COLUMNS, LAYER_DIGITS, HistoryFile
    from nncli.runs.snapshots import MAX_PARAMETERS, Snapshots
    from nncli.training.loop import Hooks, fit

    s = SCENARIOS[name]
    net = nncli_network(s, weights_of(arrays), "float64")
    training = TrainingConfig(batch="minibatch", batch_size=s.batch_size(len(arrays["X"])),
                              epochs=s.epochs, learning_rate=s.learning_rate,
                              layer_stats=mode != "off")

    class Recording(Hooks):
        """What the trainer does with the statistics and snapshots, nothing else."""

        def __init__(self):
            self.layers = (HistoryFile(out, LAYER_COLUMNS, digits=LAYER_DIGITS)
                           if mode != "off" else None)
            keep = mode == "all" and net.theta.size <= MAX_PARAMETERS
            self.snapshots = Snapshots(s.epochs, list(net.parameters())) if keep else None

        def epoch_end(self, record, result):
            if self.layers is not None:
                self.layers.append_block(result.layer_stats.take())
            if self.snapshots is not None:
                self.snapshots.epoch_end(record["epoch"], record["loss"], net.parameters)

    hooks = Recording()
    wall, cpu = time.perf_counter(), time.process_time()
    fit(net, LOSSES[s.loss], arrays["X"], arrays["Y"], training,
        rng=np.random.default_rng(0), metric=METRICS[s.task], hooks=hooks, keep_history=False)
    if hooks.layers is not None:
        hooks.layers.close()
    return {"wall": (time.perf_counter() - wall) / s.epochs,
            "cpu": (time.process_time() - cpu) / s.epochs}


def worker(name: str, data: Path, out: Path) -> None:
    """Every mode ROUNDS times, interleaved, in this one process: each mode's fastest, so the
    ratios compare runs of the same process (memory layout and CPU state alike)."""
    arrays = load(data, "float64")
    times = {m: {"wall": [], "cpu": []} for m in MODES}
    for _ in range(ROUNDS):
        for m in MODES:
            got = train_once(m, name, arrays, out)
            for k in ("wall", "cpu"):
                times[m][k].append(got[k])
    report({f"{m}_{k}": min(times[m][k]) for m in MODES for k in ("wall", "cpu")})


def measure(names: list[str], repeats: int, threads: int | None, work: Path) -> list[dict]:
    """Each scenario in ``repeats`` fresh worker processes: per process the ratios of the
    modes' fastest runs, then the median ratio over the processes."""
    data = {n: save(SCENARIOS[n], work) for n in names}
    got = {n: [] for n in names}
    for _ in range(repeats):
        for n in names:
            print(f"  {n} ...", file=sys.stderr, flush=True)
            got[n].append(run_worker([__file__, "--worker", n, "--data", str(data[n]),
                                      "--out", str(work / f"{n}.csv")], threads=threads))
    rows = []
    for n in names:
        row = {"scenario": n, "off_cpu": statistics.median(g["off_cpu"] for g in got[n])}
        for m in ("stats", "all"):
            for k in ("wall", "cpu"):
                row[f"{m}_{k}"] = statistics.median(g[f"{m}_{k}"] / g[f"off_{k}"]
                                                    for g in got[n])
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    head = ("| scenario | off s/epoch (CPU) | stats / off, CPU | all / off, CPU "
            "| stats / off, wall | all / off, wall |")
    out = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['scenario']} | {r['off_cpu'] * 1e3:.3g} ms | {r['stats_cpu']:.3f} "
                   f"| {r['all_cpu']:.3f} | {r['stats_wall']:.3f} | {r['all_wall']:.3f} |")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int)
    p.add_argument("--write-results", action="store_true",
                   help="write the table as its own section of benchmarks/RESULTS.md")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.out)
        return 0
    names = args.scenarios or list(DEFAULT)
    with tempfile.TemporaryDirectory(prefix="nncli-stats-") as tmp:
        rows = measure(names, args.repeats, args.threads, Path(tmp))
    text = table(rows)
    missed = [f"{r['scenario']} ({max(r['stats_cpu'], r['all_cpu']):.3f})" for r in rows
              if max(r["stats_cpu"], r["all_cpu"]) > TARGET]
    verdict = (f"Missed on {', '.join(missed)}: see docs/performance.md." if missed
               else "Met on every scenario.")
    print(text)
    print(f"\nTarget: at most {TARGET:.2f} (CPU time). {verdict}")
    if args.write_results:
        marker = ["layer-stats"]
        command = "python benchmarks/layer_stats.py " + " ".join(sys.argv[1:])
        when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        section = "\n".join([
            f"<!-- compare.py section: {' '.join(marker)} -->",
            "## The cost of layer statistics and snapshots (issue 16)", "",
            f"Measured {when} with `{command}`: each scenario in {args.repeats} fresh processes, "
            f"each training every mode {ROUNDS} times interleaved; the ratio of the modes' "
            f"fastest runs within a process, then the median over the processes. `off`: "
            f"training.layer_stats false; `stats`: the statistics, their rows written to "
            f"layers.csv; `all`: and the snapshots. On:", "",
            *machine_description(),
            f"- BLAS threads of the measured processes: {args.threads or 'library default'}",
            "", text, "", f"Target: at most {TARGET:.2f} (5% more time per epoch). {verdict}",
            "",
            "<!-- end of section -->"])
        write_section(BENCHMARKS / "RESULTS.md", section, marker)
        print(f"\nwrote {BENCHMARKS / 'RESULTS.md'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
