"""Run SciPy's methods through slpdiff on every problem here and print docs/optimization.md's table
of steps and evaluations: ``python examples/optimization/table.py [--update docs/optimization.md]``.

With ``--update FILE`` the table between the markers ``<!-- mgh-table -->`` and
``<!-- /mgh-table -->`` in FILE is replaced; otherwise it is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from problems import load_problems  # noqa: E402

import slpdiff  # noqa: E402
from slpdiff.optimize import optimize  # noqa: E402

METHODS = ("lbfgs", "bfgs", "newton-cg", "trust-ncg")
STEPS = 2000
BEGIN, END = "<!-- mgh-table -->", "<!-- /mgh-table -->"


def cell(problem, method) -> str:
    """``steps / evaluations`` (``/ Hessian-vector products`` for the Newton methods), or why
    the published minimum was not reached."""
    program = slpdiff.parse_file(str(problem.path))
    run = optimize(program, problem.start, method, steps=STEPS)
    counts = f"{run.steps} / {run.nfev}" + (f" / {run.nhev}" if run.nhev else "")
    value = float(run.value)
    if problem.reached(value):
        return counts
    return f"not reached: {run.status} at f = {value:.3g} ({counts})"


def table() -> str:
    lines = [
        "| problem | n | published minimum | " + " | ".join(METHODS) + " |",
        "|---|---|---|" + "---|" * len(METHODS),
    ]
    for problem in load_problems():
        link = f"[{problem.name}](../examples/optimization/{problem.path.name})"
        minima = " or ".join(m.text for m in problem.minima)
        cells = [cell(problem, method) for method in METHODS]
        lines.append(f"| {link} | {len(problem.start)} | {minima} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", metavar="FILE", help="replace the table in FILE")
    args = parser.parse_args()
    text = table()
    if args.update is None:
        print(text)
        return
    path = Path(args.update)
    document = path.read_text()
    head, found, rest = document.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        sys.exit(f"{path}: no {BEGIN} ... {END} markers")
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()
