"""Size and cost of the adjoint program, forward mode, Hessians and the emitted Python.

Run: python benchmarks/adjoint_size.py [--large N]

Prints, for the examples and for random programs over every function of the table (each statement
using the one before, so that all of it reaches the output):

- the adjoint program's size as a multiple of the original's, in operations and in lines, next to
  the proven bound ``1 + m * size_bound()`` (m outputs);
- the time to build and print the adjoint program, as a multiple of parsing the original (the
  baseline, in the same process);
- forward mode, a Hessian-vector product and a full Hessian, as multiples of one reverse-mode
  gradient (``slpdiff.evaluate``) of the same program at the same point;
- the emitted Python module against ``slpdiff.evaluate`` on 100,000 points at once.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import types
from pathlib import Path

import numpy as np

import slpdiff
from slpdiff.core.adjoint import adjoint_program, size_bound
from slpdiff.core.emit_python import to_python
from slpdiff.core.hessian import hessian, hvp
from slpdiff.core.tangent import evaluate_forward

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT / "tests"))
from helpers import random_program  # noqa: E402 - the tests' generator, one definition


def smooth_program(n: int, seed: int = 2) -> str:
    """A random program that stays finite: each statement is bounded through tanh."""
    rng = random.Random(seed)
    names, lines = ["x", "y", "z"], ["input x, y, z"]
    ops = ["sin({a}) * {b}", "tanh({a} + {b})", "{a} * {b} - {b}", "exp(tanh({a})) + {b}",
           "sigmoid({a}) * cos({b})", "atan({a} * {b})"]
    for i in range(n):
        a, b = names[-1], rng.choice(names[-30:])
        lines.append(f"v{i} = tanh({rng.choice(ops).format(a=a, b=b)})")
        names.append(f"v{i}")
    return "\n".join(lines) + "\n"


def operations(program) -> int:
    return sum(1 for op in program.ops if op is not None)


def best(f, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def size_row(label: str, text: str) -> None:
    start = time.perf_counter()
    program = slpdiff.parse(text)
    parse_time = time.perf_counter() - start
    start = time.perf_counter()
    adj = adjoint_program(program)
    build_time = time.perf_counter() - start
    start = time.perf_counter()
    printed = adj.text()
    print_time = time.perf_counter() - start
    m = len(adj.outputs)
    ops = operations(adj.program) / operations(program)
    lines = printed.count("\n") / text.count("\n")
    print(f"{label:<34} {operations(program):>8} {ops:>7.2f} {lines:>7.2f} "
          f"{1 + m * size_bound():>7} {build_time / parse_time:>8.2f} "
          f"{print_time / parse_time:>8.2f}")


def cost_row(label: str, program, point: dict) -> None:
    base = best(lambda: slpdiff.evaluate(program, point))
    direction = {name: 1.0 for name in program.input_names}
    hvp(program, point, direction)  # builds and caches the adjoint program
    fwd = best(lambda: evaluate_forward(program, point))
    hv = best(lambda: hvp(program, point, direction))
    hess = best(lambda: hessian(program, point))
    print(f"{label:<34} {base * 1e3:>10.3f} {fwd / base:>8.2f} {hv / base:>8.2f} "
          f"{hess / base:>8.2f}")


def python_row(label: str, program, n: int = 100_000) -> None:
    module = types.ModuleType("emitted")
    exec(compile(to_python(adjoint_program(program)), "<emitted>", "exec"), module.__dict__)
    rng = np.random.default_rng(0)
    point = {name: rng.uniform(-1, 1, n) for name in program.input_names}
    args = [point[name] for name in program.input_names]
    engine = best(lambda: slpdiff.evaluate(program, point), 3)
    emitted = best(lambda: module.value_and_gradient(*args), 3)
    print(f"{label:<34} {n:>8} {engine * 1e3:>10.1f} {emitted * 1e3:>10.1f} "
          f"{emitted / engine:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=100_000,
                        help="statements in the largest random program (default 100000)")
    large = parser.parse_args().large
    print(f"size_bound() = {size_bound()}: at most n * (1 + {size_bound()} m) operations")
    print()
    print(f"{'program':<34} {'ops':>8} {'x ops':>7} {'x lines':>7} {'bound':>7} "
          f"{'build/p':>8} {'print/p':>8}")
    for name in ("seed", "rosenbrock", "neuron", "speelpenning"):
        size_row(f"examples/{name}.slp", (EXAMPLES / f"{name}.slp").read_text())
    for n in (1_000, 10_000, large):
        size_row(f"random, {n} statements", random_program(n))
    size_row("random, 10000 statements, 3 outputs", random_program(10_000, 3))
    size_row("smooth, 10000 statements", smooth_program(10_000))
    print("(x ops, x lines: adjoint program / original; build/p, print/p: time to build and to "
          "print it / time to parse the original)")
    print()
    print(f"{'program at one point':<34} {'rev [ms]':>10} {'fwd/rev':>8} {'hvp/rev':>8} "
          f"{'hess/rev':>8}")
    for name in ("seed", "rosenbrock", "neuron", "speelpenning"):
        program = slpdiff.parse_file(str(EXAMPLES / f"{name}.slp"))
        point = {x: 0.5 + 0.1 * k for k, x in enumerate(program.input_names)}
        cost_row(f"examples/{name}.slp", program, point)
    program = slpdiff.parse(smooth_program(2_000))
    cost_row("smooth, 2000 statements", program, {"x": 0.3, "y": -0.2, "z": 0.9})
    print()
    print(f"{'emitted Python vs evaluate':<34} {'points':>8} {'eng [ms]':>10} {'py [ms]':>10} "
          f"{'py/eng':>8}")
    for name in ("seed", "neuron"):
        python_row(f"examples/{name}.slp", slpdiff.parse_file(str(EXAMPLES / f"{name}.slp")))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
