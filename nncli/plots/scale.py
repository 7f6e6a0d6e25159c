"""When a loss axis should be logarithmic: shared by the PNG pictures and the terminal chart."""

from __future__ import annotations

import math
from typing import Iterable


def spans_decades(values: Iterable[float | None]) -> bool:
    """True when the finite values are all positive and the largest is at least 10 times the
    smallest: then a log axis shows the whole descent instead of a cliff and a flat line."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite or min(finite) <= 0:
        return False
    return max(finite) >= 10 * min(finite)
