"""How the teaching views scale: trace rows, DOT text and chain-rule paths against plain eval.

Prints, for random programs of n statements (long edges everywhere, as in real programs), the time
of each view as a ratio to ``evaluate`` on the same program in the same process, and how each time
grows when n doubles (2.0 means linear). With ``--render``, also the time Graphviz's ``dot`` takes
to draw the graph (an external program: its layout is superlinear, slpdiff's part is not).

    python benchmarks/show_the_method.py [--render]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import slpdiff
from slpdiff.teach.dot import numbers_at, to_dot
from slpdiff.teach.explain import explain
from slpdiff.teach.tables import render, trace_json, trace_tables
from slpdiff.teach.trace import trace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import random_forms_program  # noqa: E402  (the same programs the tests use)


def best_of(f, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    at = {"x": 0.5, "w": 0.25}
    sizes = [2000, 4000, 8000]
    views = {
        "eval": lambda p: slpdiff.evaluate(p, at),
        "trace text": lambda p: render(trace_tables(trace(p, at)), "text"),
        "trace json": lambda p: trace_json(trace(p, at)),
        "trace forward": lambda p: render(trace_tables(trace(p, at, mode="forward")), "text"),
        "graph DOT": lambda p: to_dot(p),
        "graph DOT --at": lambda p: to_dot(p, numbers_at(p, at)),
        "explain (20 largest)": lambda p: explain(p, at, p.output_names[0], "x"),
    }
    times: dict[str, list[float]] = {name: [] for name in views}
    for n in sizes:
        program = slpdiff.parse(random_forms_program(n))
        for name, view in views.items():
            times[name].append(best_of(lambda view=view, program=program: view(program)))
    print(f"{'view':<22}" + "".join(f"{f'n={n}':>12}" for n in sizes)
          + f"{'x eval':>9}{'growth/2x':>11}")
    for name, ts in times.items():
        ratio = ts[-1] / times["eval"][-1]
        growth = (ts[-1] / ts[0]) ** (1 / (len(sizes) - 1))
        print(f"{name:<22}" + "".join(f"{t * 1e3:>10.1f}ms" for t in ts)
              + f"{ratio:>9.2f}{growth:>11.2f}")
    if "--render" in sys.argv and shutil.which("dot"):
        for n in (1000, 3000):
            dot_text = to_dot(slpdiff.parse(random_forms_program(n)))
            t = time.perf_counter()
            subprocess.run(["dot", "-Tsvg", "-o", "/dev/null"], input=dot_text.encode(), check=True)
            print(f"dot -Tsvg, {n} statements: {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
