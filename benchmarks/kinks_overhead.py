"""What kink detection costs ``eval --points``: the same batch run with and without it.

Runs :func:`slpdiff.rows.stream.evaluate_stream` over 1,000,000 rows in memory (no reading or
so the ratio is of the arithmetic alone, the worst case) for a program without kinked functions
and for one whose calls have kinks (none hit), with the detection switched off (the baseline) and
on, in the same process, and prints the best of five runs and their ratio.

    python benchmarks/kinks_overhead.py [--rows N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import slpdiff
from slpdiff.rows import stream as batch
from slpdiff.rows.points import Chunk

PROGRAMS = {
    "seed program (no kinked function)":
        (Path(__file__).resolve().parent.parent / "examples" / "seed.slp").read_text(),
    "relu/abs/max network (kinks, none hit)":
        "h1 = relu(x*0.5 + w*0.3 + 0.1)\nh2 = relu(x*-0.2 + w*0.7 - 0.2)\n"
        "h3 = abs(h1 - h2)\ny = max(h1, h3) + h2*w\n",
}


def chunks(columns: dict, rows: int, step: int):
    for lo in range(0, rows, step):
        hi = min(rows, lo + step)
        yield Chunk({k: v[lo:hi] for k, v in columns.items()}, hi - lo, lo + 2, "bench.csv")


def run(program, columns: dict, rows: int) -> float:
    start = time.perf_counter()
    batch.evaluate_stream(program, chunks(columns, rows, batch.MAX_ROWS), {}, None,
                          lambda chunk, ev: None)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    columns = {"x": rng.normal(size=args.rows), "w": rng.normal(size=args.rows)}
    detect = batch.find_kinks
    for name, text in PROGRAMS.items():
        program = slpdiff.parse(text)
        best = {}
        for _ in range(5):
            for mode in ("off", "on"):
                batch.find_kinks = detect if mode == "on" else (lambda *a, **k: [])
                best[mode] = min(best.get(mode, float("inf")), run(program, columns, args.rows))
        batch.find_kinks = detect
        print(f"{name}: without detection {best['off']:.3f} s, with {best['on']:.3f} s, "
              f"ratio {best['on'] / best['off']:.2f}")


if __name__ == "__main__":
    main()
