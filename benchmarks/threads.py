"""The arithmetic on every core: W3 (value + gradient at 1,000,000 points) and W4 (a gradient
step of the fit on 100,000 rows) with slpdiff on 1 and on 2 threads, beside jax.jit on one thread
and on its own threads (if jax is installed), in the same run.

Run from the repository's root:

    python benchmarks/threads.py                 # W3 at 1e6 points and W4 at 1e5 rows
    python benchmarks/threads.py --points 100000 --repeat 5

Every figure is a median over repeats; the runs on 1 and on 2 threads alternate, so that a change
of the machine's load touches both. RATIOS are printed against slpdiff on one thread. The load
average is printed before and after: on a shared machine, the speed-up from a second thread can
only be judged against it (two threads need two idle cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402 - the workloads of benchmarks/run.py (and its one-thread settings)

np = run.np
THREADS = [1, 2]


CPU: dict = {}  # (workload, who) -> median CPU seconds of this process (every thread's)


def alternating(functions: dict, repeat: int, workload: str = "") -> dict:
    """Median wall time of each function, the functions run in turn ``repeat`` times (the median
    CPU time goes to ``CPU``)."""
    times: dict = {name: [] for name in functions}
    cpu: dict = {name: [] for name in functions}
    for _ in range(repeat):
        for name, f in functions.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            f()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    for name, c in cpu.items():
        CPU[(workload, name)] = statistics.median(c)
    return {name: statistics.median(t) for name, t in times.items()}


def yardstick(name: str, n: int, repeat: int) -> dict:
    """What two threads gain on this machine now: the hand-written numpy forward + adjoint of
    benchmarks/run.py over slices of 32,768 rows, on 1 and on 2 threads (no slpdiff)."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    cuts = [(lo, min(n, lo + 32768)) for lo in range(0, n, 32768)]
    pool = ThreadPoolExecutor(2)

    def one():
        for lo, hi in cuts:
            run.w3_hand(name, a[lo:hi], b[lo:hi])

    def two():
        list(pool.map(lambda cut: run.w3_hand(name, a[cut[0]:cut[1]], b[cut[0]:cut[1]]), cuts))
    one(), two()
    found = alternating({1: one, 2: two}, repeat, f"yardstick {name}")
    pool.shutdown()
    return found


def on_threads(count: int, f):
    import slpdiff

    def timed():
        previous = slpdiff.set_threads(count)
        try:
            f()
        finally:
            slpdiff.set_threads(previous)
    return timed


def w3_slpdiff(name: str, n: int, repeat: int) -> dict:
    import slpdiff

    program = slpdiff.parse(run.SEED.read_text() if name == "seed" else run.w3_tanh_text())
    x, w = program.input_names
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    results = [on_threads(t, lambda: slpdiff.evaluate(program, {x: a, w: b}))() for t in THREADS]
    del results  # warm: compiled, buffers made
    return alternating({t: on_threads(t, lambda: slpdiff.evaluate(program, {x: a, w: b}))
                        for t in THREADS}, repeat, name)


def w4_slpdiff(rows: int, steps: int, repeat: int) -> dict:
    import slpdiff

    t, y = w4_data(rows)
    program = slpdiff.parse(run.W4_TEXT)

    def fit():
        slpdiff.gradient_descent(program, {"a": 1.0, "b": 1.0, "c": 0.0, "t": t, "y": y},
                                 wrt=["a", "b", "c"], lr=0.5, steps=steps, tol=0.0)
    for count in THREADS:
        on_threads(count, fit)()
    found = alternating({count: on_threads(count, fit) for count in THREADS}, repeat, "w4")
    return {count: seconds / steps for count, seconds in found.items()}


def w4_data(rows: int):
    rng = np.random.default_rng(1)
    t = np.linspace(0.0, 4.0, rows)
    return t, 2.0 * np.exp(-1.3 * t) + 0.5 + rng.normal(0, 0.01, rows)


def jax_worker(kind: str, size: int, repeat: int) -> None:
    """In a process of its own (XLA's threads are chosen before jax is imported): print the
    median seconds of jax.jit on W3 program ``kind`` at ``size`` points, or per W4 step."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    if kind == "w4":
        t, y = w4_data(size)

        @jax.jit
        def step(p, tt, yy):
            g = jax.grad(lambda p: jnp.mean((p[0] * jnp.exp(-p[1] * tt) + p[2] - yy) ** 2))(p)
            return p - 0.5 * g
        tt, yy, steps = jnp.asarray(t), jnp.asarray(y), 100

        def job():
            p = jnp.array([1.0, 1.0, 0.0])
            for _ in range(steps):
                p = step(p, tt, yy)
            jax.block_until_ready(p)
        job()
        print(run.median_time(job, repeat) / steps)
        return
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, size), rng.uniform(-1, 1, size)
    f = run.w3_peer_functions(kind, only="jax jit(vmap(grad))")["jax jit(vmap(grad))"]
    f(a, b)
    print(run.median_time(lambda: f(a, b), repeat))


def jax_time(kind: str, size: int, repeat: int, own_threads: bool) -> float | None:
    env = dict(os.environ)
    if own_threads:
        env["XLA_FLAGS"] = ""  # set (run.py keeps a set value): XLA's default, every core
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(var, None)
    done = subprocess.run([sys.executable, __file__, "--jax-worker", kind, str(size),
                           str(repeat)], capture_output=True, text=True, env=env)
    if done.returncode:
        run.note(f"jax on {kind}: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return float(done.stdout.split()[-1])


def report(title: str, unit, workload: str, ours: dict, peers: dict, floor: dict) -> None:
    base = ours[1]

    def threads(t):
        return f"{t} thread{'s' if t > 1 else ''}"

    def cpu(key, t):
        return f"CPU {CPU[(key, t)] / ours_cpu:.2f}" if (key, t) in CPU else ""
    ours_cpu = CPU[(workload, 1)]
    rows = [[f"slpdiff, {threads(t)}", unit(s), f"{base / s:.2f}x", cpu(workload, t)]
            for t, s in ours.items()]
    rows += [[who, unit(s), f"{base / s:.2f}x", ""] for who, s in peers.items() if s is not None]
    if floor:
        rows += [[f"yardstick: numpy by hand over slices, {threads(t)}", unit(s),
                  f"{base / s:.2f}x (2 vs 1 thread: {floor[1] / floor[2]:.2f}x)" if t == 2
                  else f"{base / s:.2f}x", cpu(f"yardstick {workload}", t)]
                 for t, s in floor.items()]
    run.table(title, ["", "time", "speed vs slpdiff on 1 thread", "CPU time vs it"], rows)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="W3 points")
    parser.add_argument("--rows", type=int, default=100_000, help="W4 rows")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--jax-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jax_worker:
        kind, size, repeat = args.jax_worker
        jax_worker(kind, int(size), int(repeat))
        return
    import slpdiff.fast.threads as threads

    print(f"slpdiff on threads, {time.strftime('%Y-%m-%d %H:%M')}: {threads.cores()} cores "
          f"for this process, numpy {np.__version__}; {load()}")
    have_jax = run.have_quietly("jax")
    if not have_jax:
        run.note("jax is not installed: no jax.jit figures (pip install '.[bench]')")
    for name in ("seed", "tanh network"):
        ours = w3_slpdiff(name, args.points, args.repeat)
        floor = yardstick(name, args.points, args.repeat)
        peers = {}
        if have_jax:
            peers = {"jax.jit, 1 thread": jax_time(name, args.points, args.repeat, False),
                     "jax.jit, its own threads": jax_time(name, args.points, args.repeat, True)}
        report(f"W3 {name}, {args.points:,} points, value + gradient ({load()})",
               lambda s: run.ns(s, args.points) + " per point", name, ours, peers, floor)
    ours = w4_slpdiff(args.rows, 100, max(3, args.repeat // 3))
    peers = {}
    if have_jax:
        peers = {"jax.jit, 1 thread": jax_time("w4", args.rows, 3, False),
                 "jax.jit, its own threads": jax_time("w4", args.rows, 3, True)}
    report(f"W4 fit, {args.rows:,} rows, per gradient step ({load()})", run.us, "w4", ours,
           peers, {})
    if run.NOTES:
        print("\nNotes:\n" + "\n".join(f"- {n}" for n in dict.fromkeys(run.NOTES)))


if __name__ == "__main__":
    main()
