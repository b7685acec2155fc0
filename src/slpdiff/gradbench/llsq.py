"""llsq: ``y(x) = 1/2 sum_i (s_i - sum_j x_j t_i^j)^2`` over the points
``t_i = -1 + 2 i / (n - 1)``, ``s_i = sign(t_i)``, as a program per row: the rows are the n points.

The row index ``i`` is an array input and ``n`` a number; the program computes ``t`` and ``s`` from
them as the reference does, the powers of ``t`` as a chain of products (the reference's
``mul *= t``) and the residual as one chain of subtractions, then ``sum`` over the rows. The
parameters ``x_j`` are scalar inputs, so their derivatives are reverse mode's summed over the rows.
The program depends on m only: one parse serves every n.
"""

from __future__ import annotations

import numpy as np

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text


def _write(m: int) -> tuple[Text, dict]:
    text = Text()
    xs = [f"x{j}" for j in range(m)]
    text.input("i", "n", *xs)
    text.let("t", "-1 + i * 2 / (n - 1)")
    text.let("s", "sign(t)")
    terms, power = [], None
    for j in range(m):
        if j == 0:
            terms.append(xs[0])
            continue
        power = text.let(f"p{j}", "t" if j == 1 else f"{power} * t")
        terms.append(f"{xs[j]} * {power}")
    text.let("r", " - ".join(["s", *terms]))
    text.let("y", "sum(r * r) / 2")
    text.output("y")
    return text, {"xs": xs}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``primal`` or ``gradient`` at ``{"x": [...], "n": N}``."""
    x = [float(v) for v in input["x"]]
    n, m = int(input["n"]), len(x)
    if n < 2 or m < 1:
        raise Declined(f"llsq needs n >= 2 points and m >= 1 parameters (n = {n}, m = {m})")
    prepared = programs.get(("llsq", m), lambda: _write(m))
    xs = prepared.info["xs"]
    at = {"i": np.arange(n, dtype=np.float64), "n": float(n)} | dict(zip(xs, x, strict=True))
    program = prepared.program
    if function == "primal":
        return programs.job(prepared, function,
                            lambda: evaluate(program, at, derivatives=False).values["y"],
                            rows=True)
    if function == "gradient":
        def gradient():
            g = evaluate(program, at, wrt=xs).gradient["y"]
            return [g[name] for name in xs]

        return programs.job(prepared, function, gradient, rows=True)
    raise Declined(f"llsq has no function {function!r} (only primal and gradient)")
