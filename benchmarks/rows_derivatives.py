"""What do each row's own derivatives cost where rows meet through a reduction?

Times, in one process, on the same N rows (default 200,000), per-row derivatives of:

- ``plain``: a model of about 40 statements with no reduction (the baseline: one reverse sweep
  per output, compiled slices; the path every program without a reduction takes, unchanged);
- ``one mean``: the same model minus the mean of another expression of the rows (one
  reduction that every row uses);
- ``nested``: the same model through three reductions, each of an expression that uses the one
  before;

each by reverse mode (``slpdiff.evaluate``), and for comparison the old meaning, the gradient of
the rows' total (``evaluate_inputs``: one sweep seeded with ones over the rows), which is not
each row's own where rows meet. Then forward mode and Hessians per row, without and with the
reduction. Each time is the best of ``--repeat`` runs; rows/s and the time per row over the
baseline's are printed (the machine is shared: ratios within a run are what to read). Run from
the repository root:

    python benchmarks/rows_derivatives.py
    python benchmarks/rows_derivatives.py --rows 20000 --repeat 5
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import slpdiff
from slpdiff.core import rows
from slpdiff.core.schedule import select
from slpdiff.evaluation import evaluate_inputs

MODEL = """input x, w, a
u0 = a * x + w
""" + "".join(f"u{i} = tanh(u{i - 1}) * {1 + i / 40} + sin(w * u{i - 1}) * 0.25\n"
              for i in range(1, 20))

PROGRAMS = {
    "plain": MODEL + "m = u19 * x\n",
    "one mean": MODEL + "c = mean(u10 * w)\nm = u19 * x - c\n",
    "nested": MODEL + ("r1 = mean(u5 * x)\nr2 = sum(tanh(u10 - r1))\n"
                       "r3 = mean(u15 * r2)\nm = u19 * x - r3 * r1\n"),
}


def best(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.rows
    rng = np.random.default_rng(0)
    at = {"x": rng.uniform(-1, 1, n), "w": rng.uniform(-1, 1, n), "a": 0.75}
    print(f"{platform.processor() or platform.machine()}, {n:,} rows, best of {args.repeat}")
    print(f"  {'':<52} {'':>10}         time per row / the baseline's")
    baseline = None

    def measure(label: str, run, rows_done: int = n) -> None:
        nonlocal baseline
        run()  # compile once, outside the timing
        per_row = best(run, args.repeat) / rows_done
        baseline = baseline or per_row
        print(f"  {label:<52} {1 / per_row:>10,.0f} rows/s  {per_row / baseline:6.2f}x")

    for name, text in PROGRAMS.items():
        program = slpdiff.parse(text)
        measure(f"reverse, {name} (evaluate)", lambda p=program: slpdiff.evaluate(p, at))
        if name != "plain":
            inputs = [np.asarray(at[k], dtype=np.float64) for k in program.input_names]
            chosen = select(program)
            measure(f"  the old meaning: gradient of the total, {name}",
                    lambda p=program, i=inputs, c=chosen: evaluate_inputs(p, i, c))
    small = max(1, n // 10)  # second order costs more per row: fewer rows
    some = {k: v[:small] if np.ndim(v) else v for k, v in at.items()}
    for name in ("plain", "one mean"):
        program = slpdiff.parse(PROGRAMS[name])
        measure(f"forward, {name}", lambda p=program: rows.evaluate_forward(p, at, shared="row"))
        measure(f"Hessian, {name} ({small:,} rows)",
                lambda p=program: rows.hessian(p, some, shared="row"), small)


if __name__ == "__main__":
    main()
