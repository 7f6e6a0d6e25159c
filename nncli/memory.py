"""How much memory a request needs, estimated before any of it is allocated: one estimate per
kind of request, one limit, one message.

A size written in a config or on the command line (``units: 1000000000``, ``n_samples:
10**12``, ``--seeds 100000000``) can ask for more memory than the machine has; allocating it
would end in a MemoryError, the kernel's out-of-memory killer, hours of swapping, or (for
generators that draw before they allocate) hours of work first. Every such request is
estimated here, from plain numbers, and refused before the work starts when the estimate
exceeds the limit: the memory available now (``MemAvailable``, or what the cgroup still
allows), or the environment variable ``NNCLI_MAX_MEMORY`` when it is set (``64G``, ``512M``,
a number of bytes), which may raise or lower the limit.

The estimates count the large arrays (data, parameters, gradients, update state, activations
of a batch), not Python's small objects: they are lower bounds, good to a factor of two, and
that is all a refusal needs.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from .errors import InputError

ENV = "NNCLI_MAX_MEMORY"
EVAL_ROWS = 4096  # rows per forward pass of an evaluation (engine.network.CHUNK_ROWS)
UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def limit() -> tuple[int, str]:
    """(bytes a request may use, what that number is, for messages)."""
    text = os.environ.get(ENV, "").strip()
    if text:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)B?", text.upper())
        if not m:
            raise InputError(f"{ENV}={text}: expected a size such as 64G, 512M or a number of "
                             f"bytes")
        return int(float(m[1]) * UNITS[m[2]]), f"the limit is {ENV}={text}"
    free = available()
    return free, f"this machine has {human(free)} available"


def available() -> int:
    """The memory this process could still allocate: MemAvailable, capped by the cgroup's
    limit (a container, a batch job); a large number when neither can be read."""
    free = _meminfo_available()
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            cap = int(Path(limit_file).read_text().strip())
            used = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):  # no cgroup there, or "max"
            continue
        free = min(free, max(cap - used, 0))
    return free


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: refuse nothing


def require(what: str, need: int) -> None:
    """Refuse (InputError naming ``what``, the estimate and the limit) a request estimated to
    need ``need`` bytes, when that is more than :func:`limit` allows."""
    cap, source = limit()
    if need > cap:
        raise InputError(f"{what}: too large: needs about {human(need)} of memory, and "
                         f"{source} ({ENV} sets the limit)")


def human(n: int | float) -> str:
    """1234567 -> '1.2 MB' (decimal units, like disk sizes); huge numbers in powers of ten."""
    if n >= 1e16:
        return f"1e{int(math.log10(n))} bytes"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


# --- the estimates --------------------------------------------------------------------------

def network(units: list[int], n_inputs: int, itemsize: int, batch: int, n_rows: int) -> int:
    """A network of layers ``units`` (output layer last) on ``n_inputs`` features, trained on
    batches of ``batch`` rows of ``n_rows``: parameters, their gradients and two arrays of
    update state per parameter (the most any update rule keeps), and per layer the net input,
    activation and delta of a batch and of an evaluation chunk."""
    params = parameters(units, n_inputs)
    rows = batch + min(n_rows, EVAL_ROWS)
    return itemsize * (4 * params + 3 * rows * (n_inputs + sum(units)))


def model(units: list[int], n_inputs: int, itemsize: int) -> int:
    """A trained network used for prediction: its parameters and the activations of a
    chunk of rows."""
    return itemsize * (parameters(units, n_inputs) + 2 * EVAL_ROWS * (n_inputs + sum(units)))


def parameters(units: list[int], n_inputs: int) -> int:
    """Weights and biases of layers ``units`` on ``n_inputs`` features."""
    fan_in, total = n_inputs, 0
    for u in units:
        total += (fan_in + 1) * u
        fan_in = u
    return total


def dataset(n_rows: int, n_features: int, n_outputs: int, itemsize: int) -> int:
    """The data of a run: the features as read (float64) and scaled (the run's dtype), the
    targets, labels and the split's row numbers."""
    return n_rows * (n_features * (8 + itemsize) + n_outputs * itemsize + 3 * 8)


def arrays(shapes: list[tuple[int, ...]], itemsize: int) -> int:
    """Arrays of these shapes (e.g. the members of a .npz file, before reading them)."""
    return sum(math.prod(shape) for shape in shapes) * itemsize


# A sweep keeps per point its overrides and name (measured: 0.5 kB), its outcome with the
# run's metrics and its summary row (about 2 kB), and its lines of sweep.json and summary.csv.
SWEEP_POINT = 3000


def sweep(points: int) -> int:
    return points * SWEEP_POINT


# A local sweep worker: a fresh Python with NumPy, pydantic and nncli imported (measured:
# about 57 MB each), before the run it trains.
WORKER = 60_000_000


def workers(n: int) -> int:
    return n * WORKER


def trace(steps: int, batch: int, units: list[int], n_inputs: int, itemsize: int = 8) -> int:
    """A trace keeps every step: the batch's inputs, targets, net inputs, activations and
    deltas, the gradients and the parameters after the update (all as float64 text later)."""
    per_step = batch * (n_inputs + units[-1] + 3 * sum(units)) + 2 * parameters(units, n_inputs)
    return steps * per_step * itemsize
