"""How fast is ``slpdiff eval --points``, and how much memory does it take?

Evaluates the seed program's value and gradient at N rows (default 1,000,000) of a CSV file,
through the installed command line, next to the same job written by hand with numpy, run the same
way in the same session:

- by hand, whole job: a Python script that reads the CSV with ``np.loadtxt``, computes v7 and its
  two partial derivatives with hand-derived numpy formulas, and writes them with ``np.savetxt``
  (``%.17g``: numpy's own writer, round-tripping floats);
- by hand, arithmetic only: the same formulas on arrays already in memory (no I/O);
- slpdiff, whole job: ``slpdiff eval examples/seed.slp --points in.csv -o out.csv`` (the shortest
  round-tripping floats, streamed in chunks);
- slpdiff, engine only: ``slpdiff.evaluate`` on the same arrays in memory.

Each is timed as the best of ``--repeat`` runs; a subprocess's peak RSS comes from ``wait4``. The
two outputs are checked against each other. Run from the repository root:

    python benchmarks/points.py                 # 1,000,000 rows
    python benchmarks/points.py --rows 10000000 --repeat 1 --no-hand   # memory at 10M rows
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed.slp"
SLPDIFF = Path(sys.executable).parent / "slpdiff"

HAND_WRITTEN = '''
import sys
import numpy as np

def seed(x, w):
    # v7 = exp(x w + sin(x w)) + sin(x w)^2 w, and its partial derivatives, by hand
    v1 = x * w
    s, c = np.sin(v1), np.cos(v1)
    v5 = np.exp(v1 + s)
    v7 = v5 + s * s * w
    dv1 = v5 * (1 + c) + 2 * s * c * w
    return v7, dv1 * w, dv1 * x + s * s

data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
x, w = data[:, 0], data[:, 1]
v7, dx, dw = seed(x, w)
np.savetxt(sys.argv[2], np.column_stack([x, w, v7, dx, dw]), fmt="%.17g", delimiter=",",
           header="x,w,v7,d v7/d x,d v7/d w", comments="")
'''


def run(command: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (bytes) of a subprocess; fails loudly if it fails. (The peak
    includes this process's own size at the fork, which is kept small: see write_points.)"""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def best(times: list[tuple[float, int]]) -> tuple[float, int]:
    return min(t for t, _ in times), max(m for _, m in times)


WRITE_POINTS = """
import sys
import numpy as np
rng = np.random.default_rng(0)
rows = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    f.write("x,w\\n")
    for lo in range(0, rows, 1 << 20):
        n = min(1 << 20, rows - lo)
        f.write(("%r,%r\\n" * n) % tuple(rng.uniform(-1, 1, size=(n, 2)).ravel().tolist()))
"""


def write_points(path: Path, rows: int) -> None:
    # In a child process: a child's peak RSS counts the parent's memory at the fork, so this
    # process stays small until every subprocess has been measured.
    subprocess.run([sys.executable, "-c", WRITE_POINTS, str(path), str(rows)], check=True)


def in_memory(rows: int, repeat: int) -> tuple[float, float]:
    """Best times of the hand-written formulas and of slpdiff.evaluate, arrays in memory."""
    import slpdiff

    namespace: dict = {}
    exec(HAND_WRITTEN.split("data = ")[0], namespace)  # just the function
    rng = np.random.default_rng(0)
    x, w = rng.uniform(-1, 1, rows), rng.uniform(-1, 1, rows)
    program = slpdiff.parse_file(str(SEED))
    hand, engine = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        v7, dx, dw = namespace["seed"](x, w)
        hand.append(time.perf_counter() - t)
        t = time.perf_counter()
        ev = slpdiff.evaluate(program, {"x": x, "w": w})
        engine.append(time.perf_counter() - t)
    assert np.allclose(ev.values["v7"], v7, rtol=1e-13)
    assert np.allclose(ev.gradient["v7"]["x"], dx, rtol=1e-12, atol=1e-13)
    return min(hand), min(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-hand", action="store_true",
                        help="only slpdiff (for a memory measurement at many rows)")
    args = parser.parse_args()

    print(f"slpdiff eval --points: {args.rows:,} rows of the seed program (value and gradient)")
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
          f"{platform.python_version()}, numpy {np.__version__}, "
          f"{time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        points, script = tmp / "points.csv", tmp / "by_hand.py"
        write_points(points, args.rows)
        script.write_text(HAND_WRITTEN)
        print(f"input: {points.stat().st_size / 2 ** 20:.1f} MiB of CSV")
        cli = best([run([str(SLPDIFF), "eval", str(SEED), "--points", str(points),
                         "-o", str(tmp / "slpdiff.csv")]) for _ in range(args.repeat)])
        print(f"slpdiff, whole job:      {cli[0]:7.2f} s  {args.rows / cli[0]:12,.0f} rows/s  "
              f"peak RSS {cli[1] / 2 ** 20:6.0f} MiB")
        if args.no_hand:
            return
        hand = best([run([sys.executable, str(script), str(points), str(tmp / "hand.csv")])
                     for _ in range(args.repeat)])
        print(f"by hand, whole job:      {hand[0]:7.2f} s  {args.rows / hand[0]:12,.0f} rows/s  "
              f"peak RSS {hand[1] / 2 ** 20:6.0f} MiB")
        ours = np.loadtxt(tmp / "slpdiff.csv", delimiter=",", skiprows=1)
        theirs = np.loadtxt(tmp / "hand.csv", delimiter=",", skiprows=1)
        assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-13), "the outputs differ"
    arithmetic, engine = in_memory(args.rows, args.repeat)
    print(f"by hand, arithmetic:     {arithmetic:7.3f} s")
    print(f"slpdiff engine, arrays:  {engine:7.3f} s")
    print(f"ratio, whole job (slpdiff / by hand):    {cli[0] / hand[0]:5.2f}  (target: <= 3)")
    print(f"ratio, arithmetic (engine / by hand):    {engine / arithmetic:5.2f}")
    print(f"slpdiff's whole job / hand arithmetic:   {cli[0] / arithmetic:5.1f}  (the rest is "
          "reading and printing text)")


if __name__ == "__main__":
    main()
