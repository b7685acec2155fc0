"""The fixed cost of one ``slpdiff.evaluate`` call, against numpy written by hand (issue 15).

GradBench times each call of a tool's function; for small inputs what a call costs besides the
arithmetic decides the score. For a few programs, at a point and on 10, 2,500 and 1,000,000 rows,
this prints the microseconds per call of ``slpdiff.evaluate`` (values only, and values with the
gradient) on the same program again and again (as a benchmark loop calls it: the fast path is
prepared by the first call, untimed), next to the same function written by hand in numpy, run in
the same process, interleaved (the machine is shared and noisy): the ratio is slpdiff's time over
numpy's. Each figure is the fastest of 30 timed loops, in CPU time.

    python benchmarks/call_overhead.py                  # every program, every size
    python benchmarks/call_overhead.py --rows 10 2500   # fewer sizes
    python benchmarks/call_overhead.py --only lse       # programs whose name contains "lse"
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import slpdiff

HELLO = "input x\ny = x * x\noutput y\n"
ROSENBROCK = "input x, y\nf = 100 * (y - x^2)^2 + (1 - x)^2\noutput f\n"
# GradBench's lse, as slpdiff.gradbench.lse writes it: the rows' maximum feeds every row.
LSE = "input x\nA = maxrows(x)\ny = log(sum(exp(x - A))) + A\noutput y\n"
# A least-squares fit's cost: two parameters, two columns of data, a sum over the rows.
FIT = "input a, b, x, t\nr = a * x + b - t\nf = sum(r^2)\noutput f\n"
# Rows that do not meet: each row's own value and derivatives.
WAVE = "input x, w\ny = sin(x) * w\noutput y\n"


def numpy_hello(at, grad):
    x = at["x"]
    return (x * x, 2.0 * x) if grad else x * x


def numpy_rosenbrock(at, grad):
    x, y = at["x"], at["y"]
    f = 100.0 * (y - x * x) ** 2 + (1.0 - x) ** 2
    if not grad:
        return f
    return f, -400.0 * x * (y - x * x) - 2.0 * (1.0 - x), 200.0 * (y - x * x)


def numpy_lse(at, grad):
    x = at["x"]
    a = np.max(x)
    e = np.exp(x - a)
    s = np.sum(e)
    return (np.log(s) + a, e / s) if grad else np.log(s) + a


def numpy_fit(at, grad):
    r = at["a"] * at["x"] + at["b"] - at["t"]
    f = np.sum(r * r)
    return (f, np.sum(2.0 * r * at["x"]), np.sum(2.0 * r)) if grad else f


def numpy_wave(at, grad):
    x, w = at["x"], at["w"]
    s = np.sin(x)
    return (s * w, np.cos(x) * w, s) if grad else s * w


def points(rng, n):
    return {"x": rng.uniform(-1, 1, n), "w": rng.uniform(-1, 1, n), "t": rng.uniform(-1, 1, n),
            "a": 0.7, "b": -0.2}


# name, program text, inputs wanted, numpy function, on rows (False: at a point)
CASES = [
    ("hello", HELLO, {"x": 3.0}, numpy_hello, False),
    ("rosenbrock", ROSENBROCK, {"x": -1.2, "y": 1.0}, numpy_rosenbrock, False),
    ("lse", LSE, ("x",), numpy_lse, True),
    ("fit (sum over rows)", FIT, ("a", "b", "x", "t"), numpy_fit, True),
    ("wave (rows apart)", WAVE, ("x", "w"), numpy_wave, True),
]


def per_call(fns: list[Callable[[], object]], budget: float,
             clock: Callable[[], float] = time.process_time) -> list[float]:
    """Seconds per call of each of ``fns``: the fastest of 30 short loops of each, the
    functions' loops interleaved (so that a busy moment of the machine hits them alike). CPU
    time by default, not wall time: a shared machine takes the core away now and then."""
    loops = []
    for fn in fns:
        fn()  # prepares the fast path (compiles), untimed
        calls, spent = 1, 0.0
        while spent < budget / 30:  # how many calls make a loop of about budget / 30 seconds
            calls *= 2
            start = clock()
            for _ in range(calls):
                fn()
            spent = clock() - start
        loops.append(calls)
    best = [float("inf")] * len(fns)
    for _ in range(30):
        for k, (fn, calls) in enumerate(zip(fns, loops, strict=True)):
            start = clock()
            for _ in range(calls):
                fn()
            best[k] = min(best[k], (clock() - start) / calls)
    return best


def calls(program, at: dict, by_hand, grad: bool) -> list[Callable[[], object]]:
    """slpdiff's call and numpy's, for values only or with the gradient."""
    def ours():
        return slpdiff.evaluate(program, at, derivatives=grad)

    def theirs():
        return by_hand(at, grad)

    return [ours, theirs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10, 2500, 1_000_000])
    parser.add_argument("--only", default="")
    parser.add_argument("--budget", type=float, default=1.0,
                        help="CPU seconds for each function's timed loops")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'program':22} {'where':>14} {'function':>8} {'slpdiff us':>11} {'numpy us':>9} "
          f"{'ratio':>7}")
    for name, text, wanted, by_hand, on_rows in CASES:
        if args.only not in name:
            continue
        program = slpdiff.parse(text)
        for n in args.rows if on_rows else [None]:
            at = {k: v for k, v in points(rng, n).items() if k in wanted} if on_rows else \
                dict(wanted)
            for grad in (False, True):
                ours, theirs = per_call(calls(program, at, by_hand, grad), args.budget)
                where = f"{n:,} rows" if on_rows else "a point"
                print(f"{name:22} {where:>14} {'gradient' if grad else 'values':>8} "
                      f"{ours * 1e6:11.1f} {theirs * 1e6:9.1f} {ours / theirs:7.1f}", flush=True)


if __name__ == "__main__":
    main()
