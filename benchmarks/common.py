"""What every benchmark script shares: the machine's description, worker subprocesses, timing.

Each measured system runs in its own fresh Python process (so that one system's imports,
allocations and warm caches never help or hurt another); the worker prints one JSON object
as the last line of its stdout and the parent reads it back.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent


def run_worker(args: list[str], threads: int | None = None, timeout: float = 900) -> dict:
    """Run ``python <args>`` in a fresh process; its last stdout line is a JSON object.

    ``threads`` limits the BLAS and OpenMP thread pools of the worker (None: library default).
    """
    env = dict(os.environ)
    if threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(obj: dict) -> None:
    """A worker's result: one JSON line on stdout."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def median(values) -> float:
    return statistics.median(values)


def time_commands(commands: list[list[str]], runs: int,
                  env: dict | None = None) -> list[list[float]]:
    """Wall time of each command, ``runs`` times, interleaved so drift hits all alike."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for k, cmd in enumerate(commands):
            started = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True, cwd=ROOT, env=env)
            times[k].append(time.perf_counter() - started)
    return times


def bytecode_env(cache: Path, commands: list[list[str]]) -> dict:
    """An environment in which Python reads compiled bytecode from ``cache``, filled by running
    each command once. An installed package has its bytecode compiled at install time; a
    source checkout run with PYTHONDONTWRITEBYTECODE would compile every module at every
    start, which is not what users pay. The checkout itself is left as it is."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for cmd in commands:
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True, cwd=ROOT, env=env)
    return env


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    Linux's VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's resident size at
    fork time (kept across exec), so a parent holding data would inflate every worker's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:.0f} MB"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_description() -> str:
    """The BLAS numpy calls, from threadpoolctl (or numpy's build config without it)."""
    import numpy as np
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
                return (f"{pool['internal_api']} {pool.get('version')} "
                        f"({pool.get('architecture')}, {pool['num_threads']} threads)")
    except ImportError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # show_config's layout differs between numpy versions
        return "unknown"


def machine_description() -> list[str]:
    """Markdown bullet lines describing this machine and the libraries measured."""
    import numpy as np
    lines = [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores "
        f"({len(os.sched_getaffinity(0))} available to this process)",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, "
        f"BLAS: {blas_description()}",
    ]
    try:
        import sklearn
        lines.append(f"- scikit-learn {sklearn.__version__}")
    except ImportError:
        pass
    try:
        load = os.getloadavg()
        lines.append(f"- load average when the run started: {load[0]:.2f} (1 min)")
    except OSError:
        pass
    return lines
