"""slpdiff against its peers and against the floor Python sets: the one benchmark entry point.

Run from the repository's root (peers: ``pip install '.[bench]'``; a peer that is missing is
skipped with a note):

    python benchmarks/run.py            # everything (jax.jit's compile makes this long)
    python benchmarks/run.py --quick    # smaller sizes
    python benchmarks/run.py --only W2  # one workload
    python benchmarks/run.py --only W4 --before /tmp/main/src  # W4 beside the code in that tree

Every figure is a median over repeats, printed with its RATIO to the baseline measured in the same
run (the machine may be shared and noisy: compare ratios, not times across runs).

- W1 latency: whole-process wall time of ``slpdiff eval examples/seed.slp --at x=1,w=4``, next to
  ``python -c 'import numpy'`` (the baseline), the seed's own script and the same job written for
  autograd, torch and jax.
- W2 scalar programs: a random DAG and a pure chain of N statements (sin, cos, +, -, *): parse time
  and evaluation + gradient time per node; the floor is the same program as straight-line Python
  (``math``; forward alone, and forward + hand-written adjoint statements), exec'd once and timed
  without its compile time; peers: the seed's ``Var``, micrograd, autograd, torch on 0-d tensors,
  jax (eager, and jit with its compile time apart).
- W3 batch: the seed program and a 2-4-1 tanh network written out (29 operations) at 1e4 to 1e6
  points, value and full gradient; floors: numpy forward only, hand-written numpy forward +
  adjoint; peers: torch, jax ``jit(vmap(grad))``, autograd; peak memory of one evaluation at the
  largest size, in a fresh process.
- W4 fitting: least squares of ``a*exp(-b*t)+c`` on 1e5 rows by gradient descent, time per step
  and numpy passes over the rows per step; floor: a hand-written numpy gradient; peers: torch, jax
  jit, autograd; with ``--before SRC``, the slpdiff package in SRC too (``git archive main src``
  unpacked, say), timed in turns with this one.
- W5 large programs: W2 programs of 10,000 to 1,000,000 statements (10,000,000 with ``--huge``):
  the whole ``slpdiff eval`` (parsing, then from the cache of parsed programs) with its wall time,
  CPU time and peak RSS; parse throughput; bytes a parsed program holds per statement.
- W6 at a point: one evaluation and 100 (an optimizer's steps) by the engine, the interpreter and
  the compiled code (compile included), and what ``evaluate`` chose.
- W7 on rows (``eval --points``): compiled slices against all rows at once, and what
  ``evaluate`` chose.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# One thread each (numpy's BLAS, torch, XLA): the machine's cores are shared, and threads that
# spin waiting for each other make every figure noise. Set before any of them is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed.slp"
SLPDIFF = Path(sys.executable).parent / "slpdiff"
NOTES: list[str] = []


def note(text: str) -> None:
    NOTES.append(text)
    print(f"  note: {text}")


def median_time(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: list, repeat: int) -> list[float]:
    """The median time of each function, run in turns ``repeat`` times."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for f, found in zip(fns, times, strict=True):
            start = time.perf_counter()
            f()
            found.append(time.perf_counter() - start)
    return [statistics.median(found) for found in times]


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    sys.stdout.flush()


def have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        note(f"{module} is not installed: skipped (pip install '.[bench]')")
        return False


# --- W1: latency ---------------------------------------------------------------------------------

W1_SCRIPTS = {
    "autograd": """
import autograd.numpy as np
from autograd import grad
def f(x, w):
    v1 = x * w; v2 = np.sin(v1); return np.exp(v1 + v2) + np.square(v2) * w
print(f(1.0, 4.0), grad(f, 0)(1.0, 4.0), grad(f, 1)(1.0, 4.0))
""",
    "torch": """
import torch
x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
w = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
v1 = x * w; v2 = torch.sin(v1); v7 = torch.exp(v1 + v2) + v2 ** 2 * w
v7.backward(); print(v7.item(), x.grad.item(), w.grad.item())
""",
    "jax": """
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
def f(x, w):
    v1 = x * w; v2 = jnp.sin(v1); return jnp.exp(v1 + v2) + v2 ** 2 * w
print(jax.value_and_grad(f, (0, 1))(1.0, 4.0))
""",
}


def w1(repeat: int) -> None:
    print(f"\nW1 latency: whole-process wall time (median of {repeat} runs, interleaved)")
    py = sys.executable
    seed_script = ROOT / "benchmarks" / "peers" / "seed_script.py"
    commands = {"python -c 'import numpy' (baseline)": [py, "-c", "import numpy"],
                "python -c 'pass'": [py, "-c", "pass"],
                "the seed's own script (seed program, 30 steps)": [py, str(seed_script)],
                "slpdiff eval examples/seed.slp --at x=1,w=4": [str(SLPDIFF), "eval", str(SEED),
                                                              "--at", "x=1,w=4"]}
    tmp = Path(tempfile.mkdtemp())
    for name, script in W1_SCRIPTS.items():
        if have(name):
            path = tmp / f"{name}_peer.py"  # not {name}.py: it would import itself
            path.write_text(script)
            commands[f"{name} script (value and gradient)"] = [py, str(path)]
    # Start-up is timed as a user's installed copy runs: with bytecode caches (pip writes them at
    # install time; an editable install writes them on the first run unless the environment says
    # not to, as PYTHONDONTWRITEBYTECODE=1 does on some machines: compiling every module from
    # source at each start would add tens of milliseconds to slpdiff and to every peer).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for cmd in commands.values():  # one unmeasured run writes the caches
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                       env=env)
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                           env=env)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c 'import numpy' (baseline)"])
    rows = [[name, f"{statistics.median(t) * 1e3:.0f} ms", f"{statistics.median(t) / base:.2f}"]
            for name, t in times.items()]
    table("W1", ["command", "wall time", "ratio"], rows)


# --- W2: scalar programs -------------------------------------------------------------------------

def w2_program(n: int, kind: str, seed: int = 7) -> list[tuple]:
    """(op, a, b) statements over inputs 0 (x) and 1 (w); statement k is value k + 2. Binary and
    unary statements alternate, so values stay bounded (sin, cos) and derivatives finite."""
    rng = random.Random(seed)
    stmts = []
    for k in range(n):
        prev = k + 1
        if k % 2 == 0:
            other = rng.randrange(prev + 1) if kind == "dag" else rng.randrange(2)
            stmts.append((rng.choice("+-*"), prev, other))
        else:
            stmts.append((rng.choice(["sin", "cos"]), prev, None))
    return stmts


def w2_text(stmts) -> str:
    lines = ["input x, w"]
    name = ["x", "w"] + [f"v{k}" for k in range(len(stmts))]
    for k, (op, a, b) in enumerate(stmts):
        expr = f"{name[a]} {op} {name[b]}" if b is not None else f"{op}({name[a]})"
        lines.append(f"v{k} = {expr}")
    return "\n".join(lines) + "\n"


def w2_floor(stmts, with_adjoint: bool):
    """The program as straight-line Python on floats (math), with hand-written adjoint
    statements; compiled in functions of 500 statements (CPython runs huge ones slowly)."""
    n = len(stmts)
    src, names = [], []
    for start in range(0, n, 500):
        body = [f"def f{start}(V):"]
        for k in range(start, min(n, start + 500)):
            op, a, b = stmts[k]
            expr = f"V[{a}] {op} V[{b}]" if b is not None else f"_{op}(V[{a}])"
            body.append(f"    V[{k + 2}] = {expr}")
        src.append("\n".join(body))
        names.append(f"f{start}")
    rnames = []
    if with_adjoint:
        for end in range(n, 0, -500):
            body = [f"def r{end}(V, G):"]
            for k in range(end - 1, max(-1, end - 501), -1):
                op, a, b = stmts[k]
                i = k + 2
                if op == "+":
                    body += [f"    G[{a}] += G[{i}]", f"    G[{b}] += G[{i}]"]
                elif op == "-":
                    body += [f"    G[{a}] += G[{i}]", f"    G[{b}] -= G[{i}]"]
                elif op == "*":
                    body += [f"    G[{a}] += G[{i}] * V[{b}]", f"    G[{b}] += G[{i}] * V[{a}]"]
                elif op == "sin":
                    body.append(f"    G[{a}] += G[{i}] * _cos(V[{a}])")
                else:
                    body.append(f"    G[{a}] -= G[{i}] * _sin(V[{a}])")
            src.append("\n".join(body))
            rnames.append(f"r{end}")
    env = {"_sin": math.sin, "_cos": math.cos}
    exec(compile("\n\n".join(src), "<floor>", "exec"), env)
    fs, rs = [env[f] for f in names], [env[r] for r in rnames]

    def run(x, w):
        V = [0.0] * (n + 2)
        V[0], V[1] = x, w
        for f in fs:
            f(V)
        if with_adjoint:
            G = [0.0] * (n + 2)
            G[-1] = 1.0
            for r in rs:
                r(V, G)
            return V[-1], G[0], G[1]
        return V[-1]
    return run


def w2_build(stmts, x, w, ops):
    """Run the statements with a peer's values and operations (``ops``: "sin", "cos", and
    "+", "-", "*" unless the peer's values have Python operators); returns the last value."""
    arith = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
    ops = {**arith, **ops}
    vals = [x, w]
    for op, a, b in stmts:
        vals.append(ops[op](vals[a]) if b is None else ops[op](vals[a], vals[b]))
    return vals[-1]


def in_big_stack(f):
    """Run f in a thread with a large stack (recursive peers), returning its result or error."""
    result = {}

    def target():
        try:
            result["value"] = f()
        except BaseException as e:  # noqa: BLE001 - reported as the peer's failure
            result["error"] = e
    old = threading.stack_size(1 << 29)
    try:
        t = threading.Thread(target=target)
        t.start()
        t.join()
    finally:
        threading.stack_size(old)
    if "error" in result:
        raise result["error"]
    return result["value"]


def w2_peers(stmts, x0, w0, repeat, jit_max: int):
    """name -> (seconds per forward+backward, note); seconds None when skipped."""
    n = len(stmts)
    out = {}
    sys.path.insert(0, str(ROOT / "benchmarks" / "peers"))
    import seed_var

    def seed_run():
        x, w = seed_var.Var(value=x0), seed_var.Var(value=w0)
        y = w2_build(stmts, x, w, seed_var.OPS)
        y.forward()  # builds its order once (recursively)

        def fb():
            y.forward()
            y.backward()
        return median_time(fb, repeat)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10 * n + 1000))
    try:
        out["the seed's Var (recursion limit raised)"] = (in_big_stack(seed_run), "")
    except RecursionError:
        out["the seed's Var"] = (None, "dies on recursion")
    finally:
        sys.setrecursionlimit(old)
    if have("micrograd"):
        import micrograd_ext

        def mg():
            x, w = micrograd_ext.Value(x0), micrograd_ext.Value(w0)
            y = w2_build(stmts, x, w, {"sin": micrograd_ext.sin, "cos": micrograd_ext.cos})
            y.backward()
        sys.setrecursionlimit(max(old, 10 * n + 1000))
        try:
            out["micrograd (+ sin, cos in its style)"] = (
                in_big_stack(lambda: median_time(mg, repeat)), "")
        except RecursionError:
            out["micrograd"] = (None, "dies on recursion")
        finally:
            sys.setrecursionlimit(old)
    if have("autograd"):
        import autograd.numpy as anp
        from autograd import grad

        g = grad(lambda x, w: w2_build(stmts, x, w, {"sin": anp.sin, "cos": anp.cos}), (0, 1))
        out["autograd"] = (median_time(lambda: g(x0, w0), max(1, repeat // 2)), "")
    if have("torch"):
        import torch

        def th():
            x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
            y = w2_build(stmts, x, w, {"sin": torch.sin, "cos": torch.cos})
            y.backward()
        out["torch eager, 0-d tensors"] = (median_time(th, repeat), "")
    if have("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        def f(x, w):
            return w2_build(stmts, x, w, {"sin": jnp.sin, "cos": jnp.cos})
        vg = jax.value_and_grad(f, (0, 1))
        if n <= 10_000:
            out["jax eager"] = (median_time(lambda: vg(x0, w0), 1), "")
        else:
            out["jax eager"] = (None, "skipped above 10,000 statements (minutes per call)")
        m = min(n, jit_max)  # jit's compile time grows faster than N^2: a prefix beyond that
        part = stmts[:m]
        jf = jax.jit(jax.value_and_grad(
            lambda x, w: w2_build(part, x, w, {"sin": jnp.sin, "cos": jnp.cos}), (0, 1)))
        start = time.perf_counter()
        jax.block_until_ready(jf(x0, w0))
        compile_s = time.perf_counter() - start
        t = median_time(lambda: jax.block_until_ready(jf(x0, w0)), repeat) * n / m
        label = "jax.jit" if m == n else f"jax.jit (its first {m:,} statements)"
        out[label] = (t, f"compile {compile_s:.1f} s")
    return out


def w2(sizes: list[int], repeat: int, jit_max: int) -> None:
    import slpdiff
    from slpdiff.evaluation import force_compile

    x0, w0 = 0.7, 0.3
    for kind in ("dag", "chain"):
        for n in sizes:
            stmts = w2_program(n, kind)
            text = w2_text(stmts)
            gc.collect()
            parse_s = median_time(lambda text=text: slpdiff.parse(text), max(1, repeat // 2))
            program = slpdiff.parse(text)
            point = {"x": x0, "w": w0}
            start = time.perf_counter()
            reference = slpdiff.evaluate(program, point)  # not compiled yet (see W6)
            ref_s = time.perf_counter() - start
            force_compile(program)  # compile on the next call
            start = time.perf_counter()
            slpdiff.evaluate(program, point)
            compile_s = time.perf_counter() - start
            fast_s = median_time(lambda program=program, point=point:
                                 slpdiff.evaluate(program, point), repeat)
            result = slpdiff.evaluate(program, point)
            assert result.gradient == reference.gradient  # the same bits either way
            floor = w2_floor(stmts, True)
            floor_fwd = w2_floor(stmts, False)
            value, gx, gw = floor(x0, w0)
            out = program.output_names[0]
            assert math.isclose(value, result.values[out], rel_tol=1e-9)
            assert math.isclose(gx, result.gradient[out]["x"], rel_tol=1e-6, abs_tol=1e-9)
            base = median_time(lambda floor=floor: floor(x0, w0), repeat)
            rows = [["floor: straight-line Python, forward + adjoint (baseline)", ns(base, n),
                     "1.00", ""],
                    ["floor: straight-line Python, forward only",
                     ns(median_time(lambda f=floor_fwd: f(x0, w0), repeat), n),
                     ratio(median_time(lambda f=floor_fwd: f(x0, w0), repeat), base), ""],
                    ["slpdiff.evaluate (fast path, compiled)", ns(fast_s, n), ratio(fast_s, base),
                     f"compile {compile_s:.2f} s once"],
                    ["slpdiff.evaluate (first call: not compiled)", ns(ref_s, n),
                     ratio(ref_s, base), ""]]
            for name, (t, comment) in w2_peers(stmts, x0, w0, max(1, repeat // 2),
                                                jit_max).items():
                rows.append([name, ns(t, n) if t else "-", ratio(t, base) if t else "-",
                             comment])
            table(f"W2 {kind}, N = {n:,}: parse {parse_s / n * 1e6:.1f} us/statement "
                  f"({len(text) / parse_s / 1e6:.2f} MB/s); forward + gradient per node",
                  ["", "per node", "ratio", ""], rows)


def ns(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e9:,.0f} ns"


def ratio(t: float, base: float) -> str:
    return f"{t / base:.2f}"


# --- W3: batch -----------------------------------------------------------------------------------

W3_WEIGHTS = [(0.5, -0.3, 0.1), (-0.8, 0.6, -0.2), (0.3, 0.9, 0.05), (-0.4, -0.7, 0.3)]
W3_OUT = [(1.2,), (-0.9,), (0.7,), (0.4,)]


def w3_tanh_text() -> str:
    lines = ["input x1, x2"]
    for j, (a, b, c) in enumerate(W3_WEIGHTS):
        lines.append(f"h{j} = tanh({a} * x1 + {b} * x2 + {c})")
    lines.append("y = " + " + ".join(f"{W3_OUT[j][0]} * h{j}" for j in range(4)) + " + 0.1")
    return "\n".join(lines) + "\n"


def w3_tanh(xp, x1, x2):
    hs = [xp.tanh(a * x1 + b * x2 + c) for a, b, c in W3_WEIGHTS]
    y = W3_OUT[0][0] * hs[0]
    for j in range(1, 4):
        y = y + W3_OUT[j][0] * hs[j]
    return y + 0.1


def w3_seed(xp, x, w):
    v1 = x * w
    v2 = xp.sin(v1)
    return xp.exp(v1 + v2) + v2 * v2 * w


def w3_hand(name, a, b):
    """Hand-written numpy forward + adjoint: (value, d/da, d/db)."""
    if name == "seed":
        v1 = a * b
        s, c = np.sin(v1), np.cos(v1)
        v5 = np.exp(v1 + s)
        dv1 = v5 * (1 + c) + 2 * s * c * b
        return v5 + s * s * b, dv1 * b, dv1 * a + s * s
    y, g1, g2 = 0.1, 0.0, 0.0
    for (wa, wb, wc), (o,) in zip(W3_WEIGHTS, W3_OUT, strict=True):
        h = np.tanh(wa * a + wb * b + wc)
        y = y + o * h
        d = o * (1 - h * h)
        g1 = g1 + d * wa
        g2 = g2 + d * wb
    return y, g1, g2


def w3_memory(name: str, n: int, who: str) -> float | None:
    """Peak RSS (MiB) of a fresh process that makes the inputs and evaluates once."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT / 'benchmarks')!r})
import numpy as np
import run
rng = np.random.default_rng(0)
a, b = rng.uniform(-1, 1, {n}), rng.uniform(-1, 1, {n})
run.w3_once({name!r}, {who!r}, a, b)
# VmHWM, not ru_maxrss: the latter keeps the size of the (large) parent at the fork
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        note(f"memory of {who} on {name}: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    return int(proc.stdout.split()[-1]) / 1024


def w3_once(name, who, a, b):
    """One value + gradient evaluation of program ``name`` by ``who`` (for w3_memory)."""
    import slpdiff

    if who == "slpdiff":
        text = SEED.read_text() if name == "seed" else w3_tanh_text()
        program = slpdiff.parse(text)
        names = program.input_names
        return slpdiff.evaluate(program, {names[0]: a, names[1]: b})
    if who == "numpy, hand-written":
        return w3_hand(name, a, b)
    return w3_peer_functions(name, only=who)[who](a, b)


def w3_peer_functions(name: str, only: str | None = None) -> dict:
    """Peer name -> function(a, b) giving value and gradient at every point (``only``: just
    that peer, so that a memory measurement imports nothing else)."""
    f = w3_seed if name == "seed" else w3_tanh
    peers = {}
    if only in (None, "torch") and have_quietly("torch"):
        import torch

        def th(a, b):
            x = torch.from_numpy(a).requires_grad_()
            w = torch.from_numpy(b).requires_grad_()
            y = f(torch, x, w)
            y.backward(torch.ones_like(y))
            return y.detach().numpy(), x.grad.numpy(), w.grad.numpy()
        peers["torch"] = th
    if only in (None, "jax jit(vmap(grad))") and have_quietly("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        vg = jax.jit(jax.vmap(jax.value_and_grad(lambda x, w: f(jnp, x, w), (0, 1))))
        peers["jax jit(vmap(grad))"] = lambda a, b: jax.block_until_ready(vg(a, b))
    if only in (None, "autograd") and have_quietly("autograd"):
        import autograd.numpy as anp
        from autograd import elementwise_grad

        ga = elementwise_grad(lambda x, w: f(anp, x, w), (0, 1))
        peers["autograd"] = lambda a, b: (f(anp, a, b), ga(a, b))
    return peers


def have_quietly(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def w3(sizes: list[int], repeat: int) -> None:
    import slpdiff

    for name in ("seed", "tanh network"):
        text = SEED.read_text() if name == "seed" else w3_tanh_text()
        program = slpdiff.parse(text)
        ops = sum(1 for op in program.ops if op is not None)
        peers = w3_peer_functions(name)
        for n in sizes:
            rng = np.random.default_rng(0)
            a, b = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
            x, w = program.input_names
            f = w3_seed if name == "seed" else w3_tanh
            fwd = median_time(lambda a=a, b=b, f=f: f(np, a, b), repeat)
            hand = median_time(lambda a=a, b=b, name=name: w3_hand(name, a, b), repeat)
            ours = median_time(lambda a=a, b=b, p=program, x=x, w=w: slpdiff.evaluate(
                p, {x: a, w: b}), repeat)
            check = slpdiff.evaluate(program, {x: a, w: b})
            out = program.output_names[0]
            want = w3_hand(name, a, b)
            assert np.allclose(check.gradient[out][x], want[1], rtol=1e-9, atol=1e-12)
            rows = [["numpy, hand-written forward + adjoint (baseline)", ns(hand, n), "1.00", ""],
                    ["numpy, forward only", ns(fwd, n), ratio(fwd, hand), ""],
                    ["slpdiff.evaluate", ns(ours, n), ratio(ours, hand),
                     f"gradient / forward only {ours / fwd:.2f}"]]
            for peer, g in peers.items():
                g(a, b)  # compile (jax) and warm up
                t = median_time(lambda g=g, a=a, b=b: g(a, b), repeat)
                rows.append([peer, ns(t, n), ratio(t, hand), ""])
            if n == max(sizes):
                for row in rows:
                    who = row[0].split(" (")[0].removesuffix(" forward + adjoint")
                    who = {"slpdiff.evaluate": "slpdiff"}.get(who, who)
                    if who in ("slpdiff", "numpy, hand-written", *peers):
                        mem = w3_memory(name, n, who)
                        row[3] = (row[3] + "; " if row[3] else "") + \
                            (f"peak {mem:.0f} MiB" if mem else "")
            table(f"W3 {name} ({ops} operations), {n:,} points: value + full gradient per point",
                  ["", "per point", "ratio", ""], rows)


# --- W4: fitting ---------------------------------------------------------------------------------

W4_TEXT = """# least squares fit of a*exp(-b*t)+c
input a, b, c, t, y
r = a * exp(-b * t) + c - y
loss = mean(r^2)
output loss
"""


def w4(rows_n: int, steps: int, repeat: int, before_tree: str | None = None) -> None:
    import slpdiff

    rng = np.random.default_rng(1)
    t = np.linspace(0.0, 4.0, rows_n)
    y = 2.0 * np.exp(-1.3 * t) + 0.5 + rng.normal(0, 0.01, rows_n)
    lr = 0.5
    start = {"a": 1.0, "b": 1.0, "c": 0.0}
    program = slpdiff.parse(W4_TEXT)

    def ours():
        return slpdiff.gradient_descent(program, {**start, "t": t, "y": y}, wrt=["a", "b", "c"],
                                        lr=lr, steps=steps, tol=0.0)

    def hand():
        a, b, c = start["a"], start["b"], start["c"]
        n = len(t)
        for _ in range(steps):
            e = np.exp(-b * t)
            r = a * e + c - y
            d = (2.0 / n) * r
            ga, gb, gc_ = np.dot(d, e), -a * np.dot(d * e, t), d.sum()
            a, b, c = a - lr * ga, b - lr * gb, c - lr * gc_
        return a, b, c
    fns = [hand, ours]
    if before_tree:  # the code before a change, in turns with this one
        old = load_tree(before_tree)
        old_program = old.parse(W4_TEXT)

        def theirs():
            return old.gradient_descent(old_program, {**start, "t": t, "y": y},
                                        wrt=["a", "b", "c"], lr=lr, steps=steps, tol=0.0)
        fns.append(theirs)
    # in turns, so that a change in the machine's load falls on each alike
    base, mine, *before = (x / steps for x in interleaved(fns, repeat))
    result = ours()
    fa, fb, fc = hand()
    assert math.isclose(float(result.final.at["a"]), fa, rel_tol=1e-6)
    rows = [["numpy, hand-written gradient (baseline)", us(base), "1.00", W4_HAND_PASSES],
            ["slpdiff.gradient_descent", us(mine), ratio(mine, base), w4_passes(program)]]
    if before_tree:
        same = theirs().final.at
        assert all(float(same[k]) == float(result.final.at[k]) for k in "abc")  # bit for bit
        rows.append([f"slpdiff.gradient_descent of {before_tree}", us(before[0]),
                     ratio(before[0], base), w4_passes(old_program, "slpdiff_before")])
    if have("torch"):
        import torch

        def th():
            tt, yy = torch.from_numpy(t), torch.from_numpy(y)
            p = torch.tensor([start["a"], start["b"], start["c"]], dtype=torch.float64,
                             requires_grad=True)
            for _ in range(steps):
                loss = ((p[0] * torch.exp(-p[1] * tt) + p[2] - yy) ** 2).mean()
                loss.backward()
                with torch.no_grad():
                    p -= lr * p.grad
                p.grad = None
        tt_ = median_time(th, repeat) / steps
        rows.append(["torch", us(tt_), ratio(tt_, base)])
    if have("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        @jax.jit
        def step(p, tt, yy):
            g = jax.grad(lambda p: jnp.mean((p[0] * jnp.exp(-p[1] * tt) + p[2] - yy) ** 2))(p)
            return p - lr * g

        def jx():
            p = jnp.array([start["a"], start["b"], start["c"]])
            tt, yy = jnp.asarray(t), jnp.asarray(y)
            for _ in range(steps):
                p = step(p, tt, yy)
            return jax.block_until_ready(p)
        jx()
        tj = median_time(jx, repeat) / steps
        rows.append(["jax.jit (one jitted step)", us(tj), ratio(tj, base)])
    if have("autograd"):
        import autograd.numpy as anp
        from autograd import grad

        g = grad(lambda p: anp.mean((p[0] * anp.exp(-p[1] * t) + p[2] - y) ** 2))

        def ag():
            p = np.array([start["a"], start["b"], start["c"]])
            for _ in range(steps):
                p = p - lr * g(p)
        ta = median_time(ag, repeat) / steps
        rows.append(["autograd", us(ta), ratio(ta, base)])
    table(f"W4 fit of a*exp(-b*t)+c to {rows_n:,} rows, {steps} steps: time per step",
          ["", "per step", "ratio", "passes over the rows"], [r + [""] * (4 - len(r))
                                                               for r in rows])


# exp(-b * t): 2; a * e + c - y: 3; (2 / n) * r: 1; dot(d, e), d * e, dot(., t), d.sum(): 4
W4_HAND_PASSES = "10"


def w4_passes(program, package: str = "slpdiff") -> str:
    """The numpy calls over a slice of rows per W4 step, counted in the compiled slices: the
    forward values, the reverse sweep's terms (sums over the rows included), and the check that
    each input column is finite (a sum each)."""
    SLICE_CODE = importlib.import_module(f"{package}.evaluation").SLICE_CODE  # noqa: N806

    (code,) = [c for c in program.facts(SLICE_CODE).values() if c]
    sweep = len(code.ins) - code.forward_count
    return (f"{len(code.ins) + len(code.checked)} ({code.forward_count} forward, {sweep} "
            f"sweep, {len(code.checked)} input checks)")


def load_tree(src: str):
    """The ``slpdiff`` package of another source tree (``src/`` of a checkout of the code before a
    change, say), imported beside this one as ``slpdiff_before``: its modules import each other
    relatively, so the two do not mix."""
    import importlib.util

    root = Path(src) / "slpdiff"
    spec = importlib.util.spec_from_file_location(
        "slpdiff_before", root / "__init__.py", submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["slpdiff_before"] = module
    spec.loader.exec_module(module)
    return module


# --- W5: programs of millions of statements -----------------------------------------------------

W5_CHILD = r"""
import gc, json, sys, time, tracemalloc
import slpdiff
path, memory = sys.argv[1], sys.argv[2] == "1"
text = open(path).read()
slpdiff.parse("y = x")  # the parser's tables, outside the measurement
gc.collect()
wall, cpu = time.perf_counter(), time.process_time()
program = slpdiff.parse(text)
out = {"parse_wall": time.perf_counter() - wall, "parse_cpu": time.process_time() - cpu,
       "chars": len(text), "nodes": len(program)}
if memory:
    del program
    gc.collect()
    tracemalloc.start()
    program = slpdiff.parse(text)
    gc.collect()
    out["held"], out["parse_peak"] = tracemalloc.get_traced_memory()
    tracemalloc.stop()
print(json.dumps(out))
"""


def run_child(cmd: list[str], env: dict | None = None) -> dict:
    """Wall time, CPU time and peak RSS of one child process (os.wait4), and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stdout = proc.stdout.read()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))} failed: {stderr.decode()[-400:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": usage.ru_maxrss / 1024, "stdout": stdout.decode()}


def w5_files(sizes: list[int], tmp: Path) -> dict:
    files = {}
    for kind in ("dag", "chain"):
        for n in sizes:
            path = tmp / f"w2_{kind}_{n}.slp"
            with open(path, "w") as f:
                f.write(w2_text(w2_program(n, kind)))
            files[kind, n] = path
    return files


def w5(sizes: list[int], memory_max: int) -> None:
    """Whole ``slpdiff eval`` of W2 programs of N statements (parse included, then from the
    cache of parsed programs), parse throughput and the memory a parsed program holds."""
    tmp = Path(tempfile.mkdtemp())
    files = w5_files(sizes, tmp)
    rows = []
    for (kind, n), path in files.items():
        child = run_child([sys.executable, "-c", W5_CHILD, str(path),
                           "1" if n <= memory_max else "0"])
        got = json.loads(child["stdout"])
        cache = tmp / f"cache_{kind}_{n}"
        env = {**os.environ, "SLPDIFF_CACHE_DIR": str(cache)}
        cmd = [str(SLPDIFF), "eval", str(path), "--at", "x=0.7,w=0.3"]
        first = run_child(cmd, env)
        cached = run_child(cmd, env)
        held = f"{got['held'] / n:.0f} B" if "held" in got else "-"
        rows.append([f"{kind}, {n:,}", f"{got['chars'] / got['parse_wall'] / 1e6:.2f} MB/s "
                     f"({got['chars'] / got['parse_cpu'] / 1e6:.2f} CPU)", held,
                     f"{first['wall']:.1f} s ({first['cpu']:.1f} CPU)", f"{first['rss']:.0f} MiB",
                     f"{cached['wall']:.1f} s", f"{cached['rss']:.0f} MiB"])
    table("W5 whole `slpdiff eval FILE --at x=0.7,w=0.3` of W2 programs (parse MB/s: wall, and "
          "per CPU second; memory: held by the parsed program per statement, tracemalloc, "
          "source text not counted)",
          ["program, statements", "parse", "memory", "eval (parsing)", "peak RSS",
           "eval (cached)", "peak RSS"], rows)


W6_CHILD = r"""
import json, math, sys, time
import slpdiff
from slpdiff import evaluation
from slpdiff.core.engine import as_value, evaluate_reference
from slpdiff.core.schedule import depends, select
path, steps = sys.argv[1], int(sys.argv[2])
program = slpdiff.parse(open(path).read())
chosen = select(program)
point = {"x": 0.7, "w": 0.3}
T = time.process_time  # CPU seconds: the machine is shared, wall time is noise
out = {"nodes": len(program)}
start = T(); evaluate_reference(program, [as_value(0.7), as_value(0.3)], chosen)
out["engine"] = T() - start
try:
    from slpdiff.fast.point import PointRun
    needs, outs = depends(program, chosen.wrt_nodes), chosen.output_nodes
    start = T(); run = PointRun(program, needs, outs); run.run([0.7, 0.3], outs, chosen.wrt_nodes)
    out["interp_first"] = T() - start
    start = T(); run.run([0.7, 0.3], outs, chosen.wrt_nodes); out["interp"] = T() - start
    del run
except ImportError:
    pass
from slpdiff.fast.point import PointCode
needs, outs = depends(program, chosen.wrt_nodes), chosen.output_nodes
start = T(); code = PointCode(program, needs, outs); out["compile"] = T() - start
start = T(); code.run([0.7, 0.3], outs, chosen.wrt_nodes); out["compiled"] = T() - start
del code
program.forget()
if steps:  # what evaluate() does, step after step, on a fresh program
    fresh = slpdiff.parse(open(path).read())
    start = T()
    for _ in range(steps):
        slpdiff.evaluate(fresh, point)
    out["policy"] = T() - start
    out["chosen"] = sorted(k.name for k in fresh._memos if "code" in k.name)
print(json.dumps(out))
"""


def w6(sizes: list[int], measured_max: int) -> None:
    """One evaluation at a point and 100 (an optimizer's steps): each path's cost, and what
    ``evaluate`` chose. Up to ``measured_max`` statements the 100 steps are run; above, the
    alternatives are computed from the measured cost of one evaluation of each."""
    tmp = Path(tempfile.mkdtemp())
    files = w5_files(sizes, tmp)
    rows = []
    for (kind, n), path in files.items():
        if kind != "dag":
            continue
        steps = 100 if n <= measured_max else 0
        got = json.loads(run_child([sys.executable, "-c", W6_CHILD, str(path), str(steps)])
                         ["stdout"])
        e, c, p = got["engine"], got["compile"], got["compiled"]
        i1, i = got.get("interp_first", math.nan), got.get("interp", math.nan)
        one = {"engine": e, "interpreted": i1, "compiled": c + p}
        hundred = {"engine": 100 * e, "interpreted": i1 + 99 * i, "compiled": c + 100 * p}
        best1 = min(one, key=one.get)
        best100 = min(hundred, key=hundred.get)
        policy = f"{got['policy']:.2f} s ({', '.join(got['chosen'])})" \
            if "policy" in got else "-"
        rows.append([f"{n:,}", f"{e:.3f} / {i1:.3f} / {c + p:.3f} s -> {best1}",
                     f"{100 * e:.1f} / {i1 + 99 * i:.1f} / {c + 100 * p:.1f} s -> {best100}",
                     policy, f"compile {c / got['nodes'] * 1e6:.0f} us/node"])
    table("W6 at a point, W2 random DAGs, CPU seconds: engine / interpreted / compiled (compile "
          "included), for 1 evaluation and for 100 (an optimizer's steps, computed from the "
          "costs of one), and 100 steps of what evaluate() does, measured",
          ["statements", "1 evaluation", "100 evaluations", "evaluate() x 100", ""], rows)


W7_CHILD = r"""
import json, sys, time
import numpy as np
import slpdiff
from slpdiff.evaluation import force as force_path
from slpdiff.fast import slices
path, rows, force = sys.argv[1], int(sys.argv[2]), sys.argv[3]
program = slpdiff.parse(open(path).read())
if force == "slices":
    slices.MAX_NODES = 10**9
    force_path(program, "slices")
elif force == "all":
    force_path(program, "all rows")
rng = np.random.default_rng(0)
point = {"x": rng.uniform(0, 1, rows), "w": rng.uniform(0, 1, rows)}
start = time.process_time()
slpdiff.evaluate(program, point)
print(json.dumps({"seconds": time.process_time() - start}))
"""


def w7(sizes: list[int], rows_n: int) -> None:
    """``eval --points``: one evaluation on rows, by compiled slices or all rows at once
    (interpreted), and what ``evaluate`` chose (``fast.costs``; slices up to ``slices.MAX_NODES``
    nodes); ``benchmarks/policy.py`` compares the choice with each path in passes of rows."""
    tmp = Path(tempfile.mkdtemp())
    files = w5_files(sizes, tmp)
    out = []
    for (kind, n), path in files.items():
        if kind != "dag":
            continue
        t = {force: json.loads(run_child([sys.executable, "-c", W7_CHILD, str(path),
                                           str(rows_n), force])["stdout"])["seconds"]
             for force in ("slices", "all", "policy")}
        faster = "slices" if t["slices"] < t["all"] else "all rows"
        out.append([f"{n:,}", f"{t['slices']:.2f} s", f"{t['all']:.2f} s", faster,
                    f"{t['policy']:.2f} s"])
    table(f"W7 on {rows_n:,} rows (eval --points), W2 random DAGs, CPU seconds: compiled slices, "
          "all rows at once, and what evaluate() did",
          ["statements", "slices", "all rows", "faster", "evaluate()"], out)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", action="append",
                        choices=["W1", "W2", "W3", "W4", "W5", "W6", "W7"],
                        help="run only this workload (repeatable)")
    parser.add_argument("--before", metavar="SRC",
                        help="W4 also times the slpdiff package in SRC (the src/ folder of a "
                             "checkout of the code before a change) in turns with this one")
    parser.add_argument("--huge", action="store_true",
                        help="W5 also at 10,000,000 statements (minutes, a few GB)")
    args = parser.parse_args()
    only = set(args.only or ["W1", "W2", "W3", "W4", "W5", "W6", "W7"])
    quick = args.quick
    print(f"slpdiff benchmarks, {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores "
          f"({platform.machine()}), Python {platform.python_version()}, numpy {np.__version__}")
    if "W1" in only:
        w1(7 if quick else 21)
    if "W2" in only:
        w2([1_000, 10_000] if quick else [1_000, 10_000, 100_000], 3 if quick else 5,
           jit_max=100 if quick else 1_000)
    if "W3" in only:
        w3([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000], 3 if quick else 7)
    if "W4" in only:
        w4(100_000, 100 if quick else 500, 1 if quick else 3, args.before)
    if "W5" in only:
        w5([10_000, 100_000] if quick else
           [10_000, 100_000, 1_000_000] + ([10_000_000] if args.huge else []),
           memory_max=1_000_000)
    if "W6" in only:
        w6([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000], measured_max=100_000)
    if "W7" in only:
        w7([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000], 1_000)
    if NOTES:
        print("\nNotes:\n" + "\n".join(f"- {n}" for n in dict.fromkeys(NOTES)))


if __name__ == "__main__":
    main()
