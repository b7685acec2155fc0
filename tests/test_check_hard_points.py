"""``check`` at a few hundred hard points: it reports no correct derivative as FAIL, and still
fails a planted wrong rule.

The points are where finite differences go wrong: next to the edge of a function's domain
(``log`` at 1e-300, ``acos`` at 1 - 1e-15), next to poles (``1/x`` at 1e-8, ``tan`` near pi/2),
at very large and very small magnitudes (1e300, 1e-300, ``sin`` at 1e22, where no step can follow
the function), where rounding swamps the differences (``1e8 + 0.001*x``), and at every function
of the table, first and second derivatives. Every derivative slpdiff computes is right, so no
entry may say FAIL; enough of them must say ok (an honest check that gives up everywhere would
pass the first test). Then each function's rules are made 1e-4 too large, in-process (the table
is not edited), and every first derivative that was ok with a tolerance below that must now FAIL.

Not timed. Run it as a script for the counts of each verdict (``python
tests/test_check_hard_points.py``; with ``PYTHONPATH=path/to/other/src`` against another copy).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections import Counter
from contextlib import contextmanager

import mpmath as mp
import pytest

import slpdiff
from slpdiff.check import check
from slpdiff.language import primitives

PLANTED = 1e-4  # how much too large a planted rule is: relative (absolute for a rule of 0)

# A few magnitudes every function of one argument is tried at, with both signs.
MAGNITUDES = [0.0, 1e-300, 1e-30, 1e-8, 1e-3, 0.5, 1.0, 2.5, 1e3, 1e8, 1e15, 1e30, 1e300]
ONE = 1.0 - 2.0 ** -52  # the float just below 1 (where asin, acos end)
HALF_PI = math.pi / 2

# Points where the function is at its hardest: edges of its domain, poles, overflow.
EDGES: dict[str, list[tuple[float, ...]]] = {
    "log": [(1e-300,), (5e-324,), (1e-12,), (1 + 1e-12,)],
    "log1p": [(-1 + 1e-12,), (-1 + 2.0 ** -52,), (1e-17,), (709.0,)],
    "sqrt": [(1e-300,), (5e-324,), (1e-16,)],
    "exp": [(709.0,), (709.7,), (-745.0,), (-700.0,)],
    "expm1": [(709.0,), (1e-17,), (-40.0,)],
    "sin": [(1e22,), (math.pi,), (1e16,)],
    "cos": [(1e22,), (HALF_PI,), (1e16,)],
    "tan": [(HALF_PI - 1e-8,), (HALF_PI + 1e-8,), (HALF_PI - 1e-12,), (1e22,)],
    "asin": [(ONE,), (-ONE,), (1 - 1e-12,), (1 - 1e-6,)],
    "acos": [(ONE,), (-ONE,), (1 - 1e-15,), (-1 + 1e-9,)],
    "atan": [(1e154,), (1e-154,)],
    "sinh": [(710.0,), (-710.0,)],
    "cosh": [(710.0,), (-710.0,)],
    "tanh": [(20.0,), (-19.0,)],
    "sigmoid": [(-745.0,), (40.0,), (-40.0,), (800.0,)],
    "softplus": [(800.0,), (-800.0,), (40.0,), (-40.0,)],
    "square": [(1e154,), (1e-160,)],
    "negative": [(1e308,)],
    "abs": [(1e-12,), (-1e-300,)],
    "sign": [(1e-300,), (-1e-12,)],
    "relu": [(1e-300,), (-1e-12,)],
    "step": [(1e-12,), (-1e-300,)],
    "divide": [(1.0, 1e-8), (1.0, -1e-300), (1e300, 1e-8), (1e-300, 1e300), (1.0, 1e-154)],
    "pow": [(1e-8, 0.5), (1e-8, -1.5), (0.0, 2.0), (2.0, 1000.0), (-2.0, 3.0),
            (1e-300, 0.5), (10.0, 300.0), (1e-8, 1e-8)],
    "powlog": [(1e-8, 0.5), (0.5, 2.0), (1e-300, 2.0), (3.0, 1e-8)],
    "atan2": [(1e-300, 1e-300), (1e-8, -1e-8), (1e300, 1e300), (-1e-12, -1.0), (0.0, -1.0)],
    "hypot": [(1e-300, 1e-300), (1e300, 1e300), (3.0, 4e-300), (1e-8, 0.0)],
    "max": [(1.0, 1.0 + 1e-12), (1e8, 1e8 + 1.0), (0.0, 1e-300), (-2.0, -2.0 - 2.0 ** -51)],
    "min": [(1.0, 1.0 + 1e-12), (1e8, 1e8 + 1.0), (0.0, 1e-300), (-2.0, -2.0 - 2.0 ** -51)],
    "add": [(1e308, 1e300), (1e8, 1e-8)],
    "subtract": [(1e8, 1e8 - 1.0), (1.0, 1.0 - 1e-15)],
    "multiply": [(1e200, 1e200), (1e-200, 1e-200), (1e300, 1e-300)],
    # a tie (where equal steps: a kink), -0.0 equal to 0.0, and one ulp apart
    "equal": [(1.0, 1.0), (0.0, -0.0), (1.0, 1.0 + 2.0 ** -52), (1e300, 1e300)],
}
# Pairs for the functions of two arguments (besides their edges).
PAIRS = [(0.5, -1.25), (1e-8, 3.0), (1e8, -1e-8), (1e300, 1e-300), (-1e30, 2.0)]

# Programs that combine functions: the cases of issue 13 and cancellations.
PROGRAMS: list[tuple[str, dict[str, float]]] = [
    ("y = log(x)", {"x": 1e-8}),
    ("y = x^0.5", {"x": 1e-8}),
    ("y = sqrt(x)", {"x": 1e-8}),
    ("y = 1/x", {"x": 1e-8}),
    ("input x, y\nz = log(x/y)", {"x": 1.0, "y": 1e-9}),
    ("y = 1e8 + 0.001*x", {"x": 1.0}),
    ("y = (x + 1e8) - 1e8", {"x": 0.3}),
    ("y = abs(x)*3", {"x": 0.0}),
    ("y = abs(x) + relu(x) * 2", {"x": 1e-9}),
    ("y = 1/(x - 1)", {"x": 1 + 1e-9}),
    ("y = 1/(x - 1)^2", {"x": 1 - 1e-7}),
    ("y = sin(1e6 * x)", {"x": 1.0}),
    ("y = exp(-x^2 * 1e12)", {"x": 1e-7}),
    ("y = x * sqrt(x)", {"x": 1e-300}),
    ("y = log(x + 1e-30)", {"x": 0.0}),
    ("y = 1/(x^2 - 2)", {"x": math.sqrt(2) + 1e-12}),
    ("y = tan(x) * cos(x)", {"x": HALF_PI - 1e-9}),
    ("input a, b\ny = log(a) - log(b)", {"a": 1e-300, "b": 1e300}),
    ("input a, b\ny = (a - b) / (a + b)", {"a": 1.0, "b": -1.0 + 1e-9}),
    ("input x, w\nv = x * w\ny = sin(v) + exp(-v)", {"x": 1e3, "w": 1e3}),
    ("input x\ny = x^3 - 3*x\nz = exp(y / 1e3)", {"x": 1.0}),
    ("y = acos(x)", {"x": 1 - 1e-15}),
    ("y = x^2", {"x": 1e-200}),
    ("y = (1 + x)^(1/x)", {"x": 1e-9}),
    ("y = sum(x) * mean(x)", {"x": 1e-8}),
    ("y = softplus(x) - relu(x)", {"x": 30.0}),
]


# --- an independent oracle: the program in mpmath, derivatives to many digits ------------------


def _real(v):
    if isinstance(v, mp.mpc):
        if v.imag != 0:
            raise ValueError("outside the real domain")
        return v.real
    return v


MPMATH = {
    "add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b, "negative": lambda a: -a,
    "pow": lambda a, b: _real(mp.power(a, b)), "square": lambda a: a * a,
    "sqrt": lambda a: _real(mp.sqrt(a)), "exp": mp.exp, "log": lambda a: _real(mp.log(a)),
    "log1p": lambda a: _real(mp.log1p(a)), "expm1": mp.expm1, "sin": mp.sin, "cos": mp.cos,
    "tan": mp.tan, "asin": lambda a: _real(mp.asin(a)), "acos": lambda a: _real(mp.acos(a)),
    "atan": mp.atan, "atan2": mp.atan2, "sinh": mp.sinh, "cosh": mp.cosh, "tanh": mp.tanh,
    "abs": abs, "sign": mp.sign, "relu": lambda a: max(a, 0),
    "sigmoid": lambda a: 1 / (1 + mp.exp(-a)), "softplus": lambda a: mp.log1p(mp.exp(a)),
    "hypot": mp.hypot, "max": max, "min": min, "sum": lambda a: a, "mean": lambda a: a,
    "step": lambda a: mp.mpf(1 if a > 0 else 0),
    "powlog": lambda a, b: mp.mpf(0) if a == 0 else _real(mp.power(a, b) * mp.log(a)),
    "count": lambda a: mp.mpf(1),
    "equal": lambda a, b: mp.mpf(1 if a == b else 0),
}


def _in_mpmath(program):
    """The program's first output as a function of its inputs, in mpmath."""
    def value(*xs):
        v = [None] * len(program)
        for k, i in enumerate(program.input_index):
            v[i] = mp.mpf(xs[k])
        for i, op in enumerate(program.ops):
            if v[i] is None:
                v[i] = mp.mpf(program.consts[i]) if op is None else \
                    MPMATH[op.name](*[v[a] for a in program.args[i]])
        return v[program.output_index[0]]
    return value


def truth(program, point: dict, wrt: tuple[str, ...]):
    """(the derivative in ``wrt`` to far more digits than float64 has, the size below which it is
    indistinguishable from 0), or None where mpmath finds the function undefined nearby."""
    names = program.input_names
    orders = [wrt.count(name) for name in names]
    x = [point[name] for name in names]
    scale = min(min(abs(point[w]) for w in wrt) or 1.0, 1.0)
    # enough digits that x +- step is exact and the difference's rounding is far below the
    # derivative, for each order
    digits = 80 + len(wrt) * int(30 + math.log10(max(max(map(abs, x)), 1.0))
                                 - math.log10(scale))
    with mp.workdps(digits):
        step = mp.mpf(scale) * mp.mpf(10) ** -30
        try:
            value = _in_mpmath(program)
            found = mp.diff(value, [mp.mpf(v) for v in x], orders, h=step)
            size = abs(value(*x))
        except (ValueError, ZeroDivisionError):
            return None
        # mpmath's own rounding, through the difference it takes
        zero = size * mp.mpf(10) ** (10 - digits) / step ** len(wrt)
    return float(found), float(zero)


def correct(ad: float, known) -> bool:
    """Is the AD value the derivative (to 1e-6, or both indistinguishable from 0)?"""
    if known is None:
        return False
    value, zero = known
    if ad == value:
        return True
    if not (math.isfinite(ad) and math.isfinite(value)):
        return False
    return abs(ad - value) <= 1e-6 * abs(value) or (abs(ad) <= zero and abs(value) <= zero)


# --- the points -------------------------------------------------------------------------------


def unary_points(name: str) -> list[tuple[float, ...]]:
    signed = sorted({s * m for m in MAGNITUDES for s in (1.0, -1.0)})
    return [(x,) for x in signed] + EDGES.get(name, [])


def cases():
    """(program text, point) for every function of the table and every program above."""
    found = []
    for name, prim in primitives.PRIMITIVES.items():
        params = prim.params
        call = f"{name}({', '.join(params)})"
        text = f"input {', '.join(params)}\nf = {call}"
        points = unary_points(name) if len(params) == 1 else PAIRS + EDGES.get(name, [])
        found += [(text, dict(zip(params, p, strict=True))) for p in points]
    return found + PROGRAMS


def run(selected, hessian: bool = True) -> list:
    """(program text, point, entry) for every entry of every check."""
    rows = []
    for text, point in selected:
        program = slpdiff.parse(text)
        try:
            result = check(program, point, hessian=hessian and _second_order(program))
        except slpdiff.InputError:  # a point where no step can be represented
            continue
        rows += [(text, point, entry) for entry in result.entries]
    return rows


def judged(rows) -> list:
    """(text, point, entry, "correct", "wrong" or "unknown": what the oracle says of the AD
    value) for every row."""
    found = []
    for text, point, entry in rows:
        known = truth(slpdiff.parse(text), point, entry.wrt)
        verdict = "unknown" if known is None else "correct" if correct(entry.ad, known) else \
            "wrong"
        found.append((text, point, entry, verdict))
    return found


def _second_order(program) -> bool:
    # reductions over one row and count have nothing to add at second order
    return all(op is None or not op.reduces for op in program.ops)


@contextmanager
def planted(name: str):
    """The function ``name``'s rules made 1e-4 too large (and 1e-4 where they are 0), in the
    table as this process sees it; the table's file is untouched."""
    table = primitives.PRIMITIVES
    prim = table[name]
    wrong = tuple(f"({rule}) * {1 + PLANTED!r}" if rule != "0" else repr(PLANTED)
                  for rule in prim.partials)
    table[name] = dataclasses.replace(prim, partials=wrong)
    try:
        yield
    finally:
        table[name] = prim


def counts(rows) -> Counter:
    return Counter(row[2].status for row in rows)


@pytest.fixture(scope="module")
def rows():
    return run(cases())


def test_there_are_a_few_hundred_hard_points_from_every_function():
    selected = cases()
    assert len(selected) >= 300
    called = {text.split("f = ")[1].split("(")[0] for text, _ in selected if "f = " in text}
    assert set(primitives.PRIMITIVES) <= called


def test_no_correct_derivative_is_reported_as_fail(rows):
    # Every FAIL must be an AD value that the oracle finds wrong (a rule that overflows where
    # the derivative does not, nan from 0 * inf in a second derivative, a program whose AD
    # cancels catastrophically): those the check must report.
    failed = [(text, point, entry) for text, point, entry in rows if entry.status == "FAIL"]
    right = [(text.replace("\n", "; "), point, entry.label, entry.ad, entry.fd)
             for text, point, entry in failed
             if correct(entry.ad, truth(slpdiff.parse(text), point, entry.wrt))]
    assert right == []
    assert len(failed) < 0.02 * len(rows)


def test_most_derivatives_are_ok(rows):
    # An honest check that gave up everywhere would pass the test above: away from kinks, most
    # finite AD values at points where the output is finite must be judged ok (the rest: trig
    # functions at 1e15 and beyond, where no step can follow them, overflows, domain edges).
    judged = [entry for _, _, entry in rows if math.isfinite(entry.ad) and entry.status != "kink"
              and not (entry.reason or "").endswith("at the point")]
    share = sum(entry.status == "ok" for entry in judged) / len(judged)
    assert share >= 0.9, counts(rows)


def test_the_issue_cases_are_ok_without_eps(rows):
    issue = [(text, point) for text, point in PROGRAMS[:5]]
    found = [entry for text, point, entry in rows if (text, point) in issue]
    assert len(found) == 4 * 2 + (2 + 4)  # first and second derivatives
    assert [entry.status for entry in found] == ["ok"] * len(found)


@pytest.mark.parametrize("name", sorted(primitives.PRIMITIVES))
def test_a_planted_wrong_rule_fails(name, rows):
    mine = [(t, p, e) for t, p, e in rows if f"\nf = {name}(" in t and len(e.wrt) == 1]
    # every first derivative that was ok with room to see the error must now fail (a rule of 0
    # becomes 1e-4, any other 1e-4 larger, so that a derivative of 0 stays 0)
    zero = all(rule == "0" for rule in primitives.PRIMITIVES[name].partials)
    sharp = {(t, tuple(p.items()), e.label) for t, p, e in mine if e.status == "ok" and (
        e.error + e.tolerance < 0.5 * PLANTED if e.ad != 0 else zero and e.allowance < 0.5e-4)}
    points = dict.fromkeys((t, tuple(p.items())) for t, p, _ in mine)
    with planted(name):
        again = run([(t, dict(p)) for t, p in points], hessian=False)
    caught = {(t, tuple(p.items()), e.label) for t, p, e in again if e.status == "FAIL"}
    assert sharp, f"{name}: no point where a 1e-4 error could be seen"
    assert sharp <= caught, sorted(sharp - caught)[:5]


def main() -> None:
    selected = cases()
    rows = judged(run(selected))
    print(f"{len(selected)} hard points, {len(rows)} derivatives "
          f"({sum(len(r[2].wrt) == 1 for r in rows)} first, "
          f"{sum(len(r[2].wrt) == 2 for r in rows)} second)")
    for verdict in ("correct", "wrong", "unknown"):
        part = [r for r in rows if r[3] == verdict]
        print(f"  AD {verdict} ({len(part)}): " +
              ", ".join(f"{k} {v}" for k, v in sorted(counts(part).items())))
    for text, point, entry, verdict in rows:
        if entry.status == "FAIL":
            print(f"FAIL (AD {verdict})", text.replace("\n", "; "), point,
                  "d/d " + " d ".join(entry.wrt), entry.ad, entry.fd, file=sys.stderr)


if __name__ == "__main__":
    main()
