"""What optimizing costs beyond evaluating: prints ratios against a bare loop of evaluate() calls
run in the same process, and the effect of OpenBLAS threads on SciPy's L-BFGS-B.

    python benchmarks/optimize_overhead.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import slpdiff
from slpdiff.optimize import optimize

ROOT = Path(__file__).resolve().parent.parent
ROSENBROCK = slpdiff.parse_file(str(ROOT / "examples" / "rosenbrock.slp"))
EXTENDED = ROOT / "examples" / "optimization" / "21-extended-rosenbrock-100.slp"


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_gd(program, at: dict, steps: int, lr: float) -> None:
    """The baseline: evaluate, then x <- x - lr * g, with nothing else."""
    point = dict(at)
    for _ in range(steps + 1):
        ev = slpdiff.evaluate(program, point, outputs=["f"])
        for name, g in ev.gradient["f"].items():
            point[name] = ev.at[name] - lr * g


def first_order(steps: int = 5000) -> None:
    start = {"x": -1.2, "y": 1.0}
    base = best_of(3, lambda: bare_gd(ROSENBROCK, start, steps, 1e-3))
    print(f"bare evaluate() loop, {steps} gd steps on Rosenbrock: {base * 1e6 / steps:.1f} us/step")
    for method in ("gd", "momentum", "adam"):
        t = best_of(3, lambda m=method: optimize(ROSENBROCK, start, m, lr=1e-3, steps=steps))
        print(f"  optimize(method={method!r}): {t * 1e6 / steps:.1f} us/step, "
              f"{t / base:.2f} x the bare loop")


def scipy_methods() -> None:
    program = slpdiff.parse_file(str(EXTENDED))
    start = {name: (-1.2 if k % 2 == 0 else 1.0) for k, name in enumerate(program.input_names)}
    for method in ("lbfgs", "bfgs"):
        run = optimize(program, start, method, steps=2000)
        t = best_of(3, lambda m=method: optimize(program, start, m, steps=2000))
        points = [dict(start)] * run.nfev
        base = best_of(3, lambda p=points: [slpdiff.evaluate(program, q) for q in p])
        print(f"{method} on extended Rosenbrock (n = 100): {run.steps} steps, {run.nfev} "
              f"evaluations, {t * 1e3:.1f} ms; {t / base:.2f} x the time of its evaluations alone")


def whole_hessian_or_products() -> None:
    """The Newton methods with the whole Hessian (one sweep with n tangents) against one
    Hessian-vector product per request, on the Moré-Garbow-Hillstrom problems and on extended
    Rosenbrock with n = 10 and 20 (where slpdiff switches from one to the other)."""
    import slpdiff.optimize.scipy_methods as scipy_methods

    sys.path.insert(0, str(ROOT / "examples" / "optimization"))
    from make_extended_rosenbrock import extended_rosenbrock
    from problems import load_problems

    cases = [(p.name, slpdiff.parse_file(str(p.path)), p.start) for p in load_problems()]
    for n in (10, 20):
        program = slpdiff.parse(extended_rosenbrock(n))
        start = {f"x{j}": -1.2 if j % 2 else 1.0 for j in range(1, n + 1)}
        cases.append((f"extended Rosenbrock, n = {n}", program, start))
    print("the Newton methods, time with whole Hessians / time with Hessian-vector products:")
    for name, program, start in cases:
        ratios = []
        for method in ("newton-cg", "trust-ncg"):
            times = []
            for limit in (10**6, 0):  # whole Hessians, then products
                scipy_methods.FULL_HESSIAN_MAX = limit
                times.append(best_of(3, lambda m=method, p=program, s=start:
                                     optimize(p, s, m, steps=2000)))
            ratios.append(f"{method} {times[0] / times[1]:.2f}")
        print(f"  {name} (n = {len(start)}): " + ", ".join(ratios))
    scipy_methods.FULL_HESSIAN_MAX = 10


def openblas_threads() -> None:
    powell = str(ROOT / "examples" / "optimization" / "13-powell-singular.slp")
    code = ("import time, slpdiff; from slpdiff.optimize import optimize\n"
            f"p = slpdiff.parse_file({powell!r})\n"
            "s = {'x1': 3.0, 'x2': -1.0, 'x3': 0.0, 'x4': 1.0}\n"
            "optimize(p, s, 'lbfgs'); t = time.perf_counter()\n"
            "for _ in range(5): optimize(p, s, 'lbfgs')\n"
            "print((time.perf_counter() - t) / 5)")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    ours = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True).stdout)
    threads = os.cpu_count() or 1
    many = float(subprocess.run([sys.executable, "-c", code],
                                env={**env, "OPENBLAS_NUM_THREADS": str(threads)},
                                capture_output=True, text=True, check=True).stdout)
    print(f"lbfgs on Powell singular (n = 4): {ours * 1e3:.1f} ms with SciPy's OpenBLAS on one "
          f"thread (slpdiff's default), {many * 1e3:.1f} ms with {threads} threads "
          f"({many / ours:.1f} x)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    first_order()
    scipy_methods()
    whole_hessian_or_products()
    openblas_threads()
