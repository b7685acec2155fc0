"""Rows on a Dask cluster: the embedded path against ``--scheduler local:N``, and both against the
same jobs written by hand with Dask (the yardstick).

On generated Parquet data (``--rows``: 1e7 by default, 1e8 for the full run, a few GB on disk):

- eval: the seed program's value and gradient at every row (x, w), Parquet in, Parquet parts out
  (``-o DIR/``): rows per second; by hand, ``dd.read_parquet(...).map_partitions(formulas)
  .to_parquet(...)``;
- a fit of ``a*exp(-b*t)+c`` to (t, y) by L-BFGS and by gd: the time per gradient step (two runs
  of different lengths, their difference over the extra steps, so that start-up and loading the
  data do not count); by hand, the data persisted once and each step a ``map_partitions`` of
  partial sums with a hand-derived gradient, summed on the client;
- peak RSS of the slpdiff process (``wait4``) and of the largest worker process.

The embedded path and slpdiff run through the installed command. The clusters (``LocalCluster``,
one thread per worker process) are started by this script, once for slpdiff (``--scheduler
ADDRESS``) and once for the hand-written jobs, so that starting one is not timed.
Run from the repository root, with ``pip install '.[dask]'``:

    python benchmarks/scale_out.py --rows 10000000
    python benchmarks/scale_out.py --rows 100000000 --workers 1,2
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
DECAY = ROOT / "examples" / "decay.slp"
SLPDIFF = Path(sys.executable).parent / "slpdiff"
ROW_GROUP = 1 << 20
FILE_ROWS = 10_000_000

MAKE_DATA = f"""
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
folder, rows, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
for k, lo in enumerate(range(0, rows, {FILE_ROWS})):
    n = min({FILE_ROWS}, rows - lo)
    with pq.ParquetWriter(f"{{folder}}/part{{k:03d}}.parquet",
                          pa.schema([("a1", pa.float64()), ("a2", pa.float64())])) as out:
        for g in range(0, n, {ROW_GROUP}):
            m = min({ROW_GROUP}, n - g)
            if kind == "eval":
                a1, a2 = rng.uniform(-1, 1, m), rng.uniform(-1, 1, m)
            else:
                a1 = rng.uniform(0, 3, m)
                a2 = 2.5 * np.exp(-1.3 * a1) + 0.5 + rng.normal(0, 0.01, m)
            out.write_table(pa.table({{"a1": a1, "a2": a2}}))
"""


def make_data(folder: Path, rows: int, kind: str) -> None:
    """Parquet files of ``rows`` rows: x, w in [-1, 1] (eval) or t, y of the decay (fit)."""
    folder.mkdir()
    script = MAKE_DATA
    names = ("x", "w") if kind == "eval" else ("t", "y")
    script = script.replace('"a1"', repr(names[0])).replace('"a2"', repr(names[1]))
    subprocess.run([sys.executable, "-c", script, str(folder), str(rows), kind], check=True)


def run(command: list[str]) -> tuple[float, int]:
    """Wall time and the peak RSS of the largest of a command's processes."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss * 1024


def slpdiff_eval(data: Path, out: Path, scheduler: str | None) -> tuple[float, int]:
    command = [str(SLPDIFF), "eval", str(SEED), "--points", str(data), "-o"]
    if scheduler:
        return run([*command, f"{out}/", "--format", "parquet", "--scheduler", scheduler])
    return run([*command, str(out / "all.parquet")])


def slpdiff_fit(data: Path, method: str, steps: int, scheduler: str | None):
    command = [str(SLPDIFF), "optimize", str(DECAY), "--data", str(data), "--at", "a=1,b=1,c=0",
               "--method", method, "--steps", str(steps), "--tol", "0", "--every", "1000000"]
    if method == "gd":
        command += ["--lr", "0.05"]
    if scheduler:
        command += ["--scheduler", scheduler]
    return run(command)


def per_step(measure, short: int, long: int) -> float:
    """Seconds per step: the difference of two runs over their difference in steps."""
    return (measure(long)[0] - measure(short)[0]) / (long - short)


# --- the hand-written Dask jobs (the yardstick) ---------------------------------------------

def seed_formulas(frame):
    x, w = frame["x"].to_numpy(), frame["w"].to_numpy()
    v1 = x * w
    s, c = np.sin(v1), np.cos(v1)
    v5 = np.exp(v1 + s)
    dv1 = v5 * (1 + c) + 2 * s * c * w
    out = frame.copy()
    out["v7"] = v5 + s * s * w
    out["d v7/d x"] = dv1 * w
    out["d v7/d w"] = dv1 * x + s * s
    return out


def decay_partial(frame, a, b, c):
    """Sum of squared residuals, its gradient, and the row count, by hand."""
    t, y = frame["t"].to_numpy(), frame["y"].to_numpy()
    e = np.exp(-b * t)
    r = a * e + c - y
    return np.array([np.sum(r * r), np.sum(2 * r * e), np.sum(-2 * r * a * t * e),
                     np.sum(2 * r), len(t)])


def by_hand(client, eval_data: Path, fit_data: Path, out: Path, short: int, long: int):
    """(eval seconds, L-BFGS seconds per step, gd seconds per step) by hand on ``client``'s
    cluster."""
    import dask
    import dask.dataframe as dd
    from dask.distributed import wait
    from scipy.optimize import minimize

    start = time.perf_counter()
    dd.read_parquet(str(eval_data)).map_partitions(seed_formulas).to_parquet(str(out))
    evaluation = time.perf_counter() - start
    data = dd.read_parquet(str(fit_data)).persist()
    wait(data)
    parts = data.to_delayed()

    def value_and_gradient(p):
        sums = sum(client.compute([dask.delayed(decay_partial)(part, *p) for part in parts],
                                  sync=True))
        return sums[0] / sums[4], sums[1:4] / sums[4]

    def lbfgs(steps):
        t = time.perf_counter()
        minimize(value_and_gradient, [1.0, 1.0, 0.0], jac=True, method="L-BFGS-B",
                 options={"maxiter": steps, "ftol": 0, "gtol": 0})
        return time.perf_counter() - t, 0

    def gd(steps):
        t, p = time.perf_counter(), np.array([1.0, 1.0, 0.0])
        for _ in range(steps):
            p = p - 0.05 * value_and_gradient(p)[1]
        return time.perf_counter() - t, 0

    result = evaluation, per_step(lbfgs, short, long), per_step(gd, short, long)
    del data
    return result


def worker_peak(client) -> int:
    """The largest peak RSS of the cluster's worker processes so far."""
    import resource

    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return max(peaks.values()) * 1024


def measure(name, scheduler, eval_data, fit_data, out, rows, short, long):
    out.mkdir()
    seconds, rss = slpdiff_eval(eval_data, out, scheduler)
    lbfgs = per_step(lambda n: slpdiff_fit(fit_data, "lbfgs", n, scheduler), short, long)
    gd = per_step(lambda n: slpdiff_fit(fit_data, "gd", n, scheduler), short, long)
    return rows / seconds, lbfgs, gd, rss


def _show(name, figures, workers: int | None = None) -> None:
    rate, lbfgs, gd, rss = figures
    memory = f"{rss / 2 ** 20:6.0f} MiB" if rss else " " * 10
    if workers is not None:
        memory += f"; {workers / 2 ** 20:6.0f} MiB"
    print(f"{name:22s}{rate:11,.0f}  {lbfgs:13.3f}  {gd:9.3f}  {memory}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", default="1,2", help="cluster sizes to measure")
    parser.add_argument("--steps", default="3,13", help="the two run lengths of a fit")
    args = parser.parse_args()
    short, long = map(int, args.steps.split(","))
    sizes = [int(n) for n in args.workers.split(",")]
    print(f"rows on a Dask cluster: {args.rows:,} rows; machine: {os.cpu_count()} CPUs, "
          f"{platform.machine()}, Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        eval_data, fit_data = tmp / "eval", tmp / "fit"
        make_data(eval_data, args.rows, "eval")
        make_data(fit_data, args.rows, "fit")
        size = sum(p.stat().st_size for p in eval_data.iterdir()) / 2 ** 20
        print(f"data: {size:,.0f} MiB of Parquet for eval (and as much for the fit)")
        rows = {}
        print("where".ljust(22) + "eval rows/s  L-BFGS s/step  gd s/step  peak RSS "
              "(slpdiff process; workers)")
        embedded = measure("embedded", None, eval_data, fit_data, tmp / "out-here",
                           args.rows, short, long)
        _show("embedded", embedded)
        rows["embedded"] = embedded
        for where in sizes:
            from dask.distributed import Client, LocalCluster

            with LocalCluster(n_workers=where, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                ours = measure(f"slpdiff local:{where}", cluster.scheduler_address, eval_data,
                               fit_data, tmp / f"out-{where}", args.rows, short, long)
                rows[f"slpdiff local:{where}"] = ours
                _show(f"slpdiff local:{where}", ours, worker_peak(client))
            with LocalCluster(n_workers=where, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                seconds, lbfgs, gd = by_hand(client, eval_data, fit_data,
                                             tmp / f"hand-{where}", short, long)
                theirs = (args.rows / seconds, lbfgs, gd, 0)
                rows[f"by hand local:{where}"] = theirs
                _show(f"by hand local:{where}", theirs, worker_peak(client))
        for where in sizes:
            ours, theirs = rows[f"slpdiff local:{where}"], rows[f"by hand local:{where}"]
            print(f"local:{where}: slpdiff / by hand: eval time {theirs[0] / ours[0]:.2f}x, "
                  f"L-BFGS step {ours[1] / theirs[1]:.2f}x, gd step {ours[2] / theirs[2]:.2f}x "
                  "(goal: at most 1.3x)")
        if 1 in sizes and 2 in sizes:
            one, two = rows["slpdiff local:1"], rows["slpdiff local:2"]
            print(f"scaling, 2 workers / 1 worker, eval rows/s: {two[0] / one[0]:.2f}x "
                  "(goal: at least 1.6x)")


if __name__ == "__main__":
    main()
