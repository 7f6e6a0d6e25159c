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


@pytest.mark.parametrize("name", ["digits-momentum", "digits-adam"])
def test_momentum_and_adam_do_the_same_arithmetic_as_scikit_learn(tmp_path, name):
    """Momentum: scikit-learn's is nncli's classic form. Adam: with a negligible epsilon the
    'efficient' form and Algorithm 1 agree to rounding; with epsilon 1e-8 they part a little."""
    s = SCENARIOS[name]
    arrays = load(save(s, tmp_path), "float64")
    assert compare.check_same_work(s, arrays, "float64") < 1e-9
    if s.update == "adam":
        assert 1e-9 < compare.loss_difference(s, arrays, "float64") < 1e-4


def test_a_subset_of_results_is_a_section_replaced_in_place(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\nthe six rows\n")
    for text in ("first", "second"):
        section = f"{compare.section_marker(['a', 'b'])}\n{text}\n{compare.SECTION_END}"
        compare.write_section(path, section, ["a", "b"])
    assert path.read_text() == ("# Benchmark results\n\nthe six rows\n\n"
                                "<!-- compare.py section: a b -->\nsecond\n"
                                "<!-- end of section -->\n")
