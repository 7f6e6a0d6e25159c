"""CSV loading: nncli's reader against np.loadtxt on a 1,000,000-row x 21-column numeric file.

    python benchmarks/csv_load.py [--rows N] [--repeats N] [--skip-loadtxt]

nncli is measured through the path training takes (``nncli.data.sources.load_source`` on a
``source: csv`` config: pyarrow's reader, every column read as text and cast to float64, the
missing-value check, then the float64 input matrix as ``prepare`` encodes it, and the target
column); np.loadtxt reads the same file into one float64 array, once (it is slow). Each
measurement runs in a fresh process; peak memory is that process's ru_maxrss, reported both
raw and as the growth over the process's peak after its imports (the interpreter, NumPy and
pyarrow themselves are not the loader's doing). Targets (issue 5): at most 1/4 of loadtxt's
time, and peak memory growth at most 3x the size of the resulting arrays.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from common import machine_description, mb, median, peak_rss_bytes, report, run_worker  # noqa

COLUMNS = 21  # 20 features and a numeric target
TIME_TARGET, MEMORY_TARGET = 0.25, 3.0


def write_csv(path: Path, rows: int) -> None:
    """Random values with 4 decimals (about 8 characters a cell), header x1..x20,y."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(0)
    names = [f"x{j + 1}" for j in range(COLUMNS - 1)] + ["y"]
    values = np.round(rng.standard_normal((rows, COLUMNS)), 4)
    table = pa.table({name: values[:, j] for j, name in enumerate(names)})
    pacsv.write_csv(table, path)


def load_with_nncli(path: Path) -> int:
    """Load as training does; returns the bytes of the arrays training receives."""
    from nncli.data.schema import CsvData
    from nncli.data.sources import load_source

    import numpy as np
    from nncli.data.features import Preprocessing, fit_encodings
    from nncli.data.prepare import Scaler

    cfg = CsvData(source="csv", path=path.name, target="y")
    data = load_source(cfg, path.parent, seed=0)
    train = np.arange(data.n_samples)
    X = Preprocessing(fit_encodings(data.columns, train, "error", set()), Scaler()).encode(
        data.columns).X
    return X.nbytes + data.y.nbytes


def load_with_loadtxt(path: Path) -> int:
    import numpy as np

    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64).nbytes


def worker(reader: str, path: Path) -> None:
    import numpy  # noqa: F401  (imports count in the baseline, not in the loader's memory)
    if reader == "nncli":
        import nncli.data.sources  # noqa: F401
        import nncli.data.schema  # noqa: F401
        import pyarrow.csv  # noqa: F401
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    nbytes = (load_with_nncli if reader == "nncli" else load_with_loadtxt)(path)
    seconds = time.perf_counter() - started
    report({"seconds": seconds, "peak": peak_rss_bytes(), "baseline": baseline,
            "nbytes": nbytes})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3, help="nncli loads (median); loadtxt runs once")
    p.add_argument("--skip-loadtxt", action="store_true", help="time nncli only")
    p.add_argument("--worker", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return 0

    print("\n".join(machine_description()))
    with tempfile.TemporaryDirectory(prefix="nncli-csv-") as tmp:
        path = Path(tmp) / "data.csv"
        write_csv(path, args.rows)
        print(f"\n{path.name}: {args.rows:,} rows x {COLUMNS} columns, {mb(path.stat().st_size)}")
        ours = [run_worker([__file__, "--worker", "nncli", str(path)])
                for _ in range(args.repeats)]
        theirs = None if args.skip_loadtxt else run_worker([__file__, "--worker", "loadtxt",
                                                            str(path)])
    t_ours = median(r["seconds"] for r in ours)
    best = min(ours, key=lambda r: r["peak"])
    growth = best["peak"] - best["baseline"]
    ok = growth <= MEMORY_TARGET * best["nbytes"]
    print(f"nncli: {t_ours:.2f} s (median of {len(ours)}); arrays {mb(best['nbytes'])}; "
          f"peak RSS {mb(best['peak'])}, {mb(growth)} over its {mb(best['baseline'])} after "
          f"imports = {growth / best['nbytes']:.2f} x the arrays (target at most "
          f"{MEMORY_TARGET:g}): {'met' if ok else 'MISSED'}")
    if theirs is not None:
        ratio = t_ours / theirs["seconds"]
        growth_t = theirs["peak"] - theirs["baseline"]
        ok &= ratio <= TIME_TARGET
        print(f"np.loadtxt: {theirs['seconds']:.2f} s (one run); peak RSS {mb(theirs['peak'])}, "
              f"{mb(growth_t)} over its baseline = {growth_t / theirs['nbytes']:.2f} x")
        print(f"time nncli / loadtxt: {ratio:.3f} (target at most {TIME_TARGET:g}): "
              f"{'met' if ratio <= TIME_TARGET else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
