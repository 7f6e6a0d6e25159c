"""`nncli check`: grade a learner's hand calculation, cell by cell, with follow-through.

A cell is right when the learner's number agrees, to half a unit in its last written decimal,
with nncli's number, or with what the cell's formula gives from the learner's *own* earlier
cells ("follow-through": a slip costs the cell where it happens, not every cell computed from
it; the step calculator recomputes each quantity from the learner's values). A wrong cell is
diagnosed: its formula is recomputed, from the learner's earlier values, under each catalogued
mistake of that formula (insight/stepcalc.py), and the mistakes that reproduce the learner's
number are named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from ..config import load_config
from ..errors import InputError
from ..training.experiment import prepare
from .answers import Answer, read_answers
from .cells import Cell, Exercise, exercise, require_steps, split_step
from .stepcalc import Mistake, Quantity, Step

SLACK_ULPS = 8  # the float rounding of nncli's own number, in units of the dtype's epsilon


@dataclass
class Graded:
    cell: Cell
    answer: Answer
    expected: float  # the cell's formula on the learner's earlier values (as meant or written)
    nncli: float  # nncli's number
    right: bool
    on_nncli: bool  # agrees with nncli's number
    # The number the step goes on with: the learner's as they meant it, unrounded where it
    # can be known (so rounding a number does not make the next one wrong): the formula's
    # value for a right cell, a reproducing mistake's value for a diagnosed wrong one, else
    # the number as written.
    went_on_with: float = 0.0
    # The mistakes reproducing a wrong number, or giving exactly a number that is right only
    # at the precision written (``1`` for 0.7545, judged to ±0.5, is what an unchanged bias
    # gives).
    mistakes: list[Mistake] = field(default_factory=list)

    @property
    def carried(self) -> bool:
        """Right from the learner's own earlier values, though not nncli's number."""
        return self.right and not self.on_nncli


@dataclass
class CheckReport:
    exercise: Exercise
    graded: list[Graded]  # in worksheet order
    blank: int  # cells of the checked steps left blank (givens not counted)
    givens: int  # given cells in the answers (not graded)

    @property
    def wrong(self) -> list[Graded]:
        return [g for g in self.graded if not g.right]

    @property
    def passed(self) -> bool:
        return not self.wrong

    def to_dict(self) -> dict:
        first = self.wrong[0].cell.label if self.wrong else None
        return {
            "name": self.exercise.name,
            "passed": self.passed,
            "right": len(self.graded) - len(self.wrong),
            "wrong": len(self.wrong),
            "blank": self.blank,
            "first_wrong": first,
            "cells": [{
                "cell": g.cell.label, "step": g.cell.step, "yours": g.answer.text,
                "expected": g.expected, "nncli": g.nncli,
                "result": "right" if g.right else "wrong", "carried": g.carried,
                "mistakes": [{"name": m.name, "text": m.text} for m in g.mistakes],
                "where": g.answer.where,
            } for g in self.graded],
        }


def check_config(config_path: str | Path, answers_path: str | Path, overrides: list[str] = ()
                 ) -> CheckReport:
    """Grade the answers file against the config's first steps."""
    answers = read_answers(answers_path)
    steps = max(split_step(a.label, a.where)[1] for a in answers)
    config_path = Path(config_path)
    ex = exercise(prepare(load_config(config_path, overrides), config_path), steps)
    require_steps(ex, steps)
    return grade(ex, answers)


def grade(ex: Exercise, answers: list[Answer]) -> CheckReport:
    """Grade each written cell as the steps are recomputed from the learner's numbers.

    A learner by hand goes on either with the numbers as written (rounded) or with what their
    calculator still holds (unrounded), so the steps are recomputed both ways: "as written"
    substitutes every written number; "as meant" goes on with the unrounded number behind
    each (see :attr:`Graded.went_on_with`) and grades as it goes. A cell is right when it
    agrees with nncli's number or with its formula on either.
    """
    found: dict[Cell, Answer] = {}
    for a in answers:
        cell = ex.find(a.label, a.where)
        if cell in found:
            raise InputError(f"{a.where}: {cell.label} is written twice (also at "
                             f"{found[cell].where})")
        found[cell] = a
    written: dict[tuple[int, str], list[Cell]] = {}
    for cell in found:
        if cell.stage != "given":
            written.setdefault((cell.step, cell.key), []).append(cell)

    def as_written(number: int, q: Quantity, value: np.ndarray, step: Step) -> np.ndarray:
        value = value.copy()
        for cell in written.get((number, q.key), ()):
            value[cell.index] = float(found[cell].value)
        return value

    rounded = ex.rerun(as_written)
    eps = float(np.finfo(ex.model.dtype).eps)
    graded: dict[Cell, Graded] = {}

    def as_meant(number: int, q: Quantity, value: np.ndarray, step: Step) -> np.ndarray:
        cells = written.get((number, q.key))
        if not cells:
            return value
        value = value.copy()
        variants: dict = {}  # the quantity under each mistake, computed once for its cells
        for cell in cells:
            g = _grade(ex, cell, found[cell], q, (step, rounded[number - 1]), eps, variants)
            graded[cell] = g
            value[cell.index] = g.went_on_with
        return value

    ex.rerun(as_meant)
    cells = [c for c in ex.all_cells() if c.stage != "given"]
    return CheckReport(ex, [graded[c] for c in cells if c in graded],
                       blank=sum(c not in found for c in cells),
                       givens=sum(c.stage == "given" for c in found))


def _grade(ex: Exercise, cell: Cell, answer: Answer, q: Quantity, steps: tuple[Step, Step],
           eps: float, variants: dict) -> Graded:
    """``steps``: the step as meant (so far) and as written; ``variants`` caches the quantity
    under each mistake."""
    nncli = ex.value(cell)
    on_nncli = agrees(answer, nncli, eps)
    theirs = [float(s.expected[q.key][cell.index]) for s in steps]
    matching = [v for v in theirs if agrees(answer, v, eps)]
    # shown as expected: what the learner's number agrees with (their own values' formula, or
    # nncli's number), else the formula on their values
    expected = matching[0] if matching else nncli if on_nncli else theirs[0]
    g = Graded(cell, answer, expected, nncli, on_nncli or bool(matching), on_nncli)
    if g.right:
        g.went_on_with = matching[0] if matching else nncli
        if any(agrees(answer, v, eps, exactly=True) for v in [nncli, *theirs]):
            return g
        # Right only at the precision written ("1" is judged to ±0.5): if a mistake gives
        # exactly this number, say so, and go on with it as the learner did.
        return _diagnose(g, q, steps, eps, variants, exactly=True)
    g.went_on_with = float(answer.value)
    return _diagnose(g, q, steps, eps, variants)


def _diagnose(g: Graded, q: Quantity, steps: tuple[Step, Step], eps: float, variants: dict,
              exactly: bool = False) -> Graded:
    """The mistakes that reproduce the learner's number; the step goes on with the first one's
    value (what the learner computed before rounding it)."""
    cell = g.cell
    for m in q.mistakes:
        for k, s in enumerate(steps):
            if (k, m.name) not in variants:
                variants[k, m.name] = s.under(q, m.name)
        values = [variants[k, m.name] for k in range(len(steps))]
        values = [float(v[cell.index]) for v in values if v is not None]
        matching = [v for v in values if agrees(g.answer, v, eps, exactly)]
        if matching:
            if not g.mistakes:
                g.went_on_with = matching[0]
            g.mistakes.append(m)
    return g


def agrees(answer: Answer, value: float, eps: float, exactly: bool = False) -> bool:
    """Whether ``value`` rounds to the learner's number at the learner's precision (half a
    unit in the last written decimal, plus the float rounding of ``value`` itself, so that a
    value on an exact half may be rounded either way); ``exactly``: whether it is the
    learner's number up to that float rounding alone."""
    if not np.isfinite(value):
        return False
    exact = Decimal(value)
    slack = Decimal(SLACK_ULPS * eps) * abs(exact)
    return abs(exact - answer.value) <= (0 if exactly else answer.half) + slack


def shown(value: float, answer: Answer) -> str:
    """``value`` to at least 6 significant digits, and one more than the learner wrote."""
    digits = max(6, answer.significant + 1)
    return f"{value:.{digits}g}"


def summary(report: CheckReport) -> list[str]:
    """What the grader says after its table, line by line."""
    ex, graded, wrong = report.exercise, report.graded, report.wrong
    out = [f"{len(graded) - len(wrong)} of {len(graded)} cells right"
           + (f", {report.blank} left blank" if report.blank else "") + "."]
    if wrong:
        first = wrong[0]
        q = ex.quantity(first.cell.key)
        out += [f"First wrong cell: {first.cell.label} (step {first.cell.step}, "
                f"{first.answer.where}): yours {first.answer.text}, expected "
                f"{shown(first.expected, first.answer)}, from {q.formula}."]
        if first.mistakes:
            out += [f"It is what you get with {m.text} [{m.name}]." for m in first.mistakes]
        else:
            out += ["No catalogued mistake reproduces it: an arithmetic slip?"]
        same = [g.cell.label for g in wrong[1:]
                if {m.name for m in g.mistakes} & {m.name for m in first.mistakes}]
        if same:
            out += [f"The same mistake reproduces {_plural(len(same), 'more wrong cell')}: "
                    f"{_listing(same)}."]
        other = [_named(g) for g in wrong[1:] if g.cell.label not in same]
        if other:
            out += [f"Also wrong: {_listing(other)}."]
    loose = [_named(g) for g in graded if g.right and g.mistakes]
    if loose:
        out += [f"Right only at the precision you wrote, but exactly what a mistake gives "
                f"(write the decimals you computed): {_listing(loose)}."]
    carried = [g for g in graded if g.carried]
    if carried:
        out += [f"Follow-through: each cell is judged against what its formula gives from your "
                f"own earlier cells, so one slip costs one cell; "
                f"{_plural(len(carried), 'cell')} "
                f"{'is' if len(carried) == 1 else 'are'} right from yours though nncli's "
                f"number differs."]
    return out


def _named(g: Graded) -> str:
    names = ", ".join(m.name for m in g.mistakes)
    return g.cell.label + (f" ({names})" if names else "")


def _listing(labels: list[str], most: int = 8) -> str:
    return ", ".join(labels[:most]) + (f" and {len(labels) - most} more"
                                       if len(labels) > most else "")


def _plural(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")
