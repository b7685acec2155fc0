"""Does ``slpdiff.evaluate`` pick the faster evaluator? (issue 14: the compile policy)

For W2 random DAGs (``benchmarks/run.py``) of 10,000, 100,000 and 1,000,000 statements, three
jobs, each run with the path ``evaluate`` chooses (``fast.costs``) and with each alternative
forced (``evaluation.force``), every run in a fresh child process (the program parsed before the
clock starts, CPU seconds: the machine is shared); printed: each run's time and the ratio of the
chosen run's time to it (at most about 1 when the choice was right):

- one evaluation at a point (``slpdiff eval --at``): engine, interpreted, compiled;
- ``eval --points`` on ROWS rows: the rows in passes of ``rows.stream.rows_per_pass`` rows, as
  the command does, each pass one ``evaluate``: compiled slices or all rows at once;
- 100 steps of ``slpdiff.optimize.optimize`` (gradient descent, ``steps=100``; the optimizer
  tells the policy its step limit): engine, interpreted, compiled.

Then the measured per-node costs, to compare with ``fast/costs.py``'s constants.

    python benchmarks/policy.py                       # 1e4 and 1e5 statements
    python benchmarks/policy.py --sizes 1000000       # and a million (about 10 minutes)
    python benchmarks/policy.py --skip-slow 200       # skip runs estimated over 200 s
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import table, w2_program, w2_text  # noqa: E402

CHILD = r"""
import json, sys, time
import numpy as np
import slpdiff
from slpdiff import evaluation
from slpdiff.evaluation import ALL_ROWS, POINT_CODE, POINT_RUN, SLICE_CODE, force
path, job, path_forced = sys.argv[1], sys.argv[2], sys.argv[3]
program = slpdiff.parse(open(path).read())
if path_forced != "chosen":
    force(program, path_forced)
point = {"x": 0.7, "w": 0.3}
T = time.process_time
start = T()
if job == "point":
    slpdiff.evaluate(program, point)
elif job.startswith("rows"):
    from slpdiff.rows.stream import rows_per_pass
    n = int(job[4:])
    rng = np.random.default_rng(0)
    x, w = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    start = T()
    step = rows_per_pass(program)
    for lo in range(0, n, step):
        slpdiff.evaluate(program, {"x": x[lo:lo + step], "w": w[lo:lo + step]})
else:
    from slpdiff.optimize import optimize
    result = optimize(program, point, "gd", wrt=["x", "w"], lr=1e-9, steps=int(job[5:]), tol=0.0)
    assert result.status != "diverged", result.message
seconds = T() - start
ran = [name for name, kind in [("interpreted", POINT_RUN), ("compiled", POINT_CODE),
                               ("all rows", ALL_ROWS)] if program.facts(kind)]
ran += ["slices" for code in program.facts(SLICE_CODE).values() if code is not False]
print(json.dumps({"seconds": seconds, "ran": ran or ["engine"]}))
"""

POINT = ["engine", "interpreted", "compiled"]
ROWS = ["slices", "all rows"]
# CPU seconds per node, roughly (fast/costs.py), to skip runs that would take too long.
ROUGH = {"engine": 9e-6, "interpreted": 1.5e-6, "compiled": 0.8e-6}
ROUGH_COMPILE = {"compiled": 56e-6, "slices": 99e-6}


def child(path: Path, job: str, path_forced: str, repeat: int) -> dict:
    """The fastest of ``repeat`` runs (each in a fresh process)."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), job, path_forced],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{job} {path_forced} failed:\n{done.stderr}")
        runs.append(json.loads(done.stdout))
    return min(runs, key=lambda run: run["seconds"])


def rough(nodes: int, job: str, path_forced: str) -> float:
    """About how many CPU seconds a forced run takes (to skip the hopeless ones)."""
    if job.startswith("steps"):
        return nodes * (ROUGH_COMPILE.get(path_forced, 0) + 101 * ROUGH[path_forced])
    return nodes * (ROUGH_COMPILE.get(path_forced, 0) + ROUGH.get(path_forced, 0))


def compare(path: Path, nodes: int, job: str, paths: list[str], skip: float) -> list:
    repeat = 3 if nodes <= 10_002 else 1  # the small runs: the fastest of three
    chosen = child(path, job, "chosen", repeat)
    row = [f"{nodes:,}", f"{chosen['seconds']:.2f} s ({', '.join(chosen['ran'])})"]
    for p in paths:
        if rough(nodes, job, p) > skip:
            row.append(f"skipped (about {rough(nodes, job, p):.0f} s)")
            continue
        forced = child(path, job, p, repeat)
        row.append(f"{forced['seconds']:.2f} s: {chosen['seconds'] / forced['seconds']:.2f}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--skip-slow", type=float, default=300.0,
                        help="skip forced runs estimated over this many CPU seconds")
    args = parser.parse_args()
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"slpdiff policy benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cores, load {' '.join(load)}; CPU seconds, chosen / forced")
    tmp = Path(tempfile.mkdtemp())
    files = {}
    for n in args.sizes:
        files[n] = tmp / f"dag_{n}.slp"
        files[n].write_text(w2_text(w2_program(n, "dag")))
    jobs = [("point", POINT, "one evaluation at a point (eval --at)")]
    jobs += [(f"rows{r}", ROWS, f"eval --points, {r:,} rows") for r in args.rows]
    jobs += [(f"steps{args.steps}", POINT, f"optimize, {args.steps} steps of gd")]
    for job, paths, title in jobs:
        rows = [compare(files[n], n + 2, job, paths, args.skip_slow) for n in args.sizes]
        table(f"{title}: chosen path, and each path forced with chosen/forced",
              ["nodes", "chosen (what ran)", *paths], rows)


if __name__ == "__main__":
    main()
