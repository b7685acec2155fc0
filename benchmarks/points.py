"""How fast is ``slpdiff eval --points``, and how much memory does it take?

Evaluates the seed program's value and gradient at N rows (default 1,000,000; the target of issue
18 is 10,000,000 at 2,000,000 rows/s) of a CSV file, CSV in and CSV out, through the installed
command line, next to the same job done by the tools people use for rows, run the same way in the
same session:

- pyarrow + numpy by hand (the yardstick): a script that reads the CSV with pyarrow's
  multithreaded reader, computes v7 and its two partial derivatives with hand-derived numpy
  formulas, and writes them with pyarrow's CSV writer (shortest round-trip digits, its own layout);
- Miller (``mlr``, if installed: ``apt-get install miller``): the same formulas in its DSL;
- numpy by hand: ``np.loadtxt``, the formulas, ``np.savetxt`` (``%.17g``) - the yardstick before;
- slpdiff three ways: ``-o FILE`` (atomic: the file is synced before its rename), standard output
  redirected to a file (as a shell pipeline writes it; the same bytes), and ``--threads 1`` (no
  thread-pool for the slices);
- slpdiff, engine only: ``slpdiff.evaluate`` on the arrays in memory;
- slpdiff stage by stage, in this process, one stage after the other (no overlap): CPU time per
  row of reading, evaluating, formatting and writing, to show where the time goes.

Each is timed as the best of ``--repeat`` runs: wall time, CPU time (user + system, from
``wait4``: the fairer figure on a shared, loaded machine) and peak RSS. The outputs are checked
against each other. Run from the repository root:

    python benchmarks/points.py                          # 1,000,000 rows
    python benchmarks/points.py --rows 10000000 --repeat 1 --only slpdiff,pyarrow
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed.slp"
SLPDIFF = Path(sys.executable).parent / "slpdiff"

FORMULAS = '''
import numpy as np

def seed(x, w):
    # v7 = exp(x w + sin(x w)) + sin(x w)^2 w, and its partial derivatives, by hand
    v1 = x * w
    s, c = np.sin(v1), np.cos(v1)
    v5 = np.exp(v1 + s)
    v7 = v5 + s * s * w
    dv1 = v5 * (1 + c) + 2 * s * c * w
    return v7, dv1 * w, dv1 * x + s * s
'''

BY_HAND_NUMPY = FORMULAS + '''
import sys
data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
x, w = data[:, 0], data[:, 1]
v7, dx, dw = seed(x, w)
np.savetxt(sys.argv[2], np.column_stack([x, w, v7, dx, dw]), fmt="%.17g", delimiter=",",
           header="x,w,v7,d v7/d x,d v7/d w", comments="")
'''

BY_HAND_PYARROW = FORMULAS + '''
import sys
import pyarrow as pa
import pyarrow.csv as pcsv

table = pcsv.read_csv(sys.argv[1])
x, w = table.column("x").to_numpy(), table.column("w").to_numpy()
v7, dx, dw = seed(x, w)
out = pa.table({"x": x, "w": w, "v7": v7, "d v7/d x": dx, "d v7/d w": dw})
pcsv.write_csv(out, sys.argv[2])
'''

MILLER = ("$v1 = $x * $w; $s = sin($v1); $c = cos($v1); $v5 = exp($v1 + $s); "
          "$v7 = $v5 + $s * $s * $w; $dv1 = $v5 * (1 + $c) + 2 * $s * $c * $w; "
          "${d v7/d x} = $dv1 * $w; ${d v7/d w} = $dv1 * $x + $s * $s; "
          "unset $v1, $s, $c, $v5, $dv1")


def run(command: list[str], stdout=None) -> tuple[float, float, int]:
    """Wall time (s), CPU time (s) and peak RSS (bytes) of a subprocess; fails loudly if it
    fails. (The peak includes this process's own size at the fork, which is kept small: see
    write_points.)"""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=stdout or subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}")
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return elapsed, usage.ru_utime + usage.ru_stime, rss


def best(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


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
    exec(FORMULAS, namespace)
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


STAGES = """
import sys, time
import pyarrow.csv, pyarrow.compute  # imported before the clocks: start-up is not a stage
import slpdiff
from slpdiff.rows.points import PointReader
from slpdiff.rows.records import writer_for
from slpdiff.rows.stream import evaluate_chunk, rows_per_pass

program = slpdiff.parse_file(sys.argv[3])
cpu = dict.fromkeys(("read", "evaluate", "format", "write"), 0.0)
rows = 0
with open(sys.argv[1], "rb") as points, open(sys.argv[2], "wb") as out:
    reader = PointReader(points, sys.argv[1], "csv", program.input_names)
    writer = writer_for("csv", program, program.input_names)
    out.write(writer.header().encode())
    chunks = reader.chunks(rows_per_pass(program))
    while True:
        t = time.process_time()
        chunk = next(chunks, None)
        cpu["read"] += time.process_time() - t
        if chunk is None:
            break
        t = time.process_time()
        ev = evaluate_chunk(program, chunk, {})
        cpu["evaluate"] += time.process_time() - t
        t = time.process_time()
        text = writer.record_bytes(chunk, ev)
        cpu["format"] += time.process_time() - t
        t = time.process_time()
        out.write(text)
        cpu["write"] += time.process_time() - t
        rows += chunk.rows
print("  ".join(f"{k} {v / rows * 1e9:.0f}" for k, v in cpu.items()),
      f" total {sum(cpu.values()) / rows * 1e9:.0f}")
"""


def stages(points: Path, out: Path) -> None:
    """slpdiff's stages one after the other in a fresh process: CPU ns per row of each (start-up
    and imports left out)."""
    script = out.with_suffix(".py")
    script.write_text(STAGES)
    result = subprocess.run([sys.executable, str(script), str(points), str(out), str(SEED)],
                            check=True, capture_output=True, text=True)
    print(f"{'slpdiff, stage by stage:':24s} CPU ns/row: {result.stdout.strip()}")


def _columns(path: Path) -> np.ndarray:
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(path)
    return np.column_stack([c.to_numpy() for c in table.columns])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="slpdiff,slpdiff-stdout,slpdiff-1thread,pyarrow,"
                                          "miller,numpy,stages",
                        help="which whole jobs to run (comma-separated)")
    args = parser.parse_args()
    only = set(args.only.split(","))

    print(f"slpdiff eval --points: {args.rows:,} rows of the seed program (value and gradient), "
          "CSV in, CSV out")
    print(f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
          f"{platform.python_version()}, numpy {np.__version__}, load average "
          f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d')}")
    jobs = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        points = tmp / "points.csv"
        write_points(points, args.rows)
        print(f"input: {points.stat().st_size / 2 ** 20:.1f} MiB of CSV")
        slpdiff = [str(SLPDIFF), "eval", str(SEED), "--points", str(points)]
        commands = {"slpdiff": [*slpdiff, "-o", str(tmp / "slpdiff.csv")],
                    # the same bytes to standard output, redirected to a file as a shell does:
                    # no fsync (-o's atomic file is synced before its rename), as the others
                    "slpdiff-stdout": slpdiff,
                    # the slices on one thread
                    "slpdiff-1thread": [*slpdiff, "--threads", "1", "-o",
                                        str(tmp / "slpdiff-1thread.csv")]}
        for name, script in (("pyarrow", BY_HAND_PYARROW), ("numpy", BY_HAND_NUMPY)):
            script_path = tmp / f"by_hand_{name}.py"  # not numpy.py: it would import itself
            script_path.write_text(script)
            commands[name] = [sys.executable, str(script_path), str(points),
                              str(tmp / f"{name}.csv")]
        if shutil.which("mlr"):
            commands["miller"] = ["bash", "-c", f"mlr --icsv --ocsv put '{MILLER}' {points} > "
                                                f"{tmp / 'miller.csv'}"]
        elif "miller" in only:
            print("Miller (mlr) is not installed: apt-get install miller")
        for name, command in commands.items():
            if name not in only:
                continue
            runs = []
            for _ in range(args.repeat):
                with open(tmp / f"{name}.csv" if name == "slpdiff-stdout" else os.devnull,
                          "wb") as stdout:
                    runs.append(run(command, stdout))
            jobs[name] = best(runs)
            wall, cpu, rss = jobs[name]
            print(f"{name + ', whole job:':24s} {wall:7.2f} s  {args.rows / wall:12,.0f} rows/s"
                  f"  CPU {cpu:7.2f} s  {cpu / args.rows * 1e9:5.0f} ns/row  peak RSS "
                  f"{rss / 2 ** 20:6.0f} MiB")
        if "stages" in only:
            stages(points, tmp / "stages.csv")
        ours = _columns(tmp / "slpdiff.csv") if "slpdiff" in jobs else None
        for name in jobs:
            if name.startswith("slpdiff-") and ours is not None:
                same = (tmp / f"{name}.csv").read_bytes() == (tmp / "slpdiff.csv").read_bytes()
                assert same, f"{name} wrote other bytes"
            elif name != "slpdiff" and ours is not None:
                theirs = _columns(tmp / f"{name}.csv")
                assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-13), f"{name} differs"
    if "slpdiff" in jobs:
        for name in jobs:
            if name != "slpdiff":
                print(f"ratio slpdiff / {name}: wall {jobs['slpdiff'][0] / jobs[name][0]:5.2f}"
                      f"  CPU {jobs['slpdiff'][1] / jobs[name][1]:5.2f}")
    arithmetic, engine = in_memory(min(args.rows, 1_000_000), args.repeat)
    print(f"arithmetic on {min(args.rows, 1_000_000):,} rows in memory: by hand "
          f"{arithmetic:.3f} s, slpdiff.evaluate {engine:.3f} s")


if __name__ == "__main__":
    main()
