"""GradBench's lse through ``slpdiff.evaluate``, against numpy written by hand and JAX (issue 15).

lse is ``log(sum(exp(x - A))) + A`` with ``A = maxrows(x)``, the program
``slpdiff.gradbench.lse`` writes; its gradient is slpdiff's reverse mode through ``evaluate``,
as ``slpdiff gradbench`` calls it. For each number of rows this prints the microseconds per call
of slpdiff's primal and gradient next to the same function written by hand in numpy (the primal:
max, subtract, exp, sum, log; the gradient: the softmax ``e / s`` on top, the fewest passes over
the rows numpy can make) and, where JAX is installed, next to ``jax.jit`` of the primal and of
``jax.grad`` (``block_until_ready``: the work itself, not its dispatch). All in one process,
interleaved, each the fastest of 30 short loops, in wall time on one core (JAX's work may run on
its own threads; pin the process with ``taskset -c 0``); the ratios are slpdiff's time over the
other's.

    taskset -c 0 python benchmarks/lse.py                      # GradBench's ten sizes
    taskset -c 0 python benchmarks/lse.py --rows 2500 1280000  # fewer
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import slpdiff
from slpdiff.gradbench.lse import _write

sys.path.insert(0, str(Path(__file__).parent))
from call_overhead import per_call  # noqa: E402 - a sibling script, not a package

SIZES = [2500 * 2**k for k in range(10)]  # GradBench's defaults: 2,500 ... 1,280,000


def numpy_primal(x: np.ndarray) -> float:
    a = np.max(x)
    return np.log(np.sum(np.exp(x - a))) + a


def numpy_gradient(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def jax_functions():
    """JAX's primal and gradient, jitted, in float64 (None if JAX is not installed)."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def lse(x):
        a = jnp.max(x)
        return jnp.log(jnp.sum(jnp.exp(x - a))) + a

    primal, gradient = jax.jit(lse), jax.jit(jax.grad(lse))
    return (lambda x: primal(x).block_until_ready(),
            lambda x: gradient(x).block_until_ready(), jnp.asarray)


def calls(program, x: np.ndarray, gradient: int, jax_fns) -> list[Callable[[], object]]:
    """slpdiff's call, numpy's and JAX's (if installed) for the primal or the gradient."""
    at = {"x": x}
    if gradient:
        fns = [lambda: slpdiff.evaluate(program, at).gradient["y"]["x"],
               lambda: numpy_gradient(x)]
    else:
        fns = [lambda: slpdiff.evaluate(program, at, derivatives=False).values["y"],
               lambda: numpy_primal(x)]
    if jax_fns:
        f, xj = jax_fns[gradient], jax_fns[2](x)
        fns.append(lambda: f(xj))
    return fns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=SIZES)
    parser.add_argument("--budget", type=float, default=1.0,
                        help="seconds for each function's timed loops")
    args = parser.parse_args()
    text, _ = _write()
    program = slpdiff.parse(text.text())
    jax_fns = jax_functions()
    print(f"{'rows':>10} {'function':>8} {'slpdiff us':>11} {'numpy us':>9} {'ratio':>6}"
          + (f" {'jax us':>9} {'ratio':>6}" if jax_fns else ""))
    rng = np.random.default_rng(31337)
    totals = {"slpdiff": 0.0, "numpy": 0.0, "jax": 0.0}
    for n in args.rows:
        x = rng.standard_normal(n)
        for function, which in (("primal", 0), ("gradient", 1)):
            fns = calls(program, x, which, jax_fns)
            times = per_call(fns, args.budget, time.perf_counter)
            for name, t in zip(totals, times, strict=False):
                totals[name] += t
            line = (f"{n:10,} {function:>8} {times[0] * 1e6:11.1f} {times[1] * 1e6:9.1f} "
                    f"{times[0] / times[1]:6.2f}")
            if jax_fns:
                line += f" {times[2] * 1e6:9.1f} {times[0] / times[2]:6.2f}"
            print(line, flush=True)
    scores = "  ".join(f"{name} {1 / t:.4g}" for name, t in totals.items() if t)
    print(f"score (1 / sum of the fastest times, GradBench's formula on them): {scores}")


if __name__ == "__main__":
    main()
