"""The benchmark compares equal work: nncli and scikit-learn, from the same weights on the same
unshuffled rows, log the same per-epoch losses (up to rounding).

Not in the default suite (it imports scikit-learn's MLP): ``python -m pytest benchmarks -q``.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402
from scenarios import SCENARIOS, load, save  # noqa: E402


@pytest.mark.parametrize("name", ["fullbatch", "regress", "digits"])
def test_nncli_and_sklearn_do_the_same_arithmetic(tmp_path, name):
    s = SCENARIOS[name]
    arrays = load(save(s, tmp_path), "float64")
    assert compare.check_same_work(s, arrays, "float64") < 1e-9


def test_floor_runs_the_needed_products_only(monkeypatch):
    """digits, one epoch of 1,797 rows in batches of 32: 57 batches (the last of 5 rows),
    2 layers: 2 forward products, 2 weight gradients, 1 input gradient (layer 2 only)."""
    shapes = []
    real = np.matmul

    def counting(a, b, out=None):
        shapes.append((a.shape, b.shape))
        return real(a, b, out=out)

    monkeypatch.setattr(np, "matmul", counting)
    compare.floor_epochs(SCENARIOS["digits"], 1797, "float64", 1)
    assert len(shapes) == 57 * 5
    assert shapes[:5] == [((32, 64), (64, 128)), ((32, 128), (128, 10)),  # forward
                          ((128, 32), (32, 10)), ((32, 10), (10, 128)),  # layer 2: dW, delta
                          ((64, 32), (32, 128))]  # layer 1: dW only
    assert shapes[-5] == ((5, 64), (64, 128))  # the last batch has the 5 remaining rows
