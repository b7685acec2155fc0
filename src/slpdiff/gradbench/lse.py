"""lse: ``log(sum_i exp(x_i - A)) + A`` with ``A = max_i x_i``, as a program per row.

The n numbers are the rows of one array input ``x``; ``A`` is ``maxrows(x)``, the largest value
over the rows (part of the function the reference differentiates, so it is in the program, not
taken outside), then ``log(sum(exp(x - A))) + A``. One program of four statements serves every n.
The gradient is each row's derivative of the one-number output: the softmax, plus the path
through ``A``, which adds up to 0 (1 from ``+ A``, minus the sum of the softmax) and reaches only
the row that holds the maximum (tied rows share it equally).
"""

from __future__ import annotations

import numpy as np

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text


def _write() -> tuple[Text, dict]:
    text = Text()
    text.input("x")
    text.let("A", "maxrows(x)")
    text.let("y", "log(sum(exp(x - A))) + A")
    text.output("y")
    return text, {}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``primal`` or ``gradient`` at ``{"x": [...]}``."""
    x = np.asarray(input["x"], dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise Declined("lse of no numbers is not defined")
    prepared = programs.get(("lse",), _write)
    program = prepared.program
    at = {"x": x}
    if function == "primal":
        return programs.job(prepared, function,
                            lambda: evaluate(program, at, derivatives=False).values["y"],
                            rows=True)
    if function == "gradient":
        return programs.job(prepared, function,
                            lambda: evaluate(program, at).gradient["y"]["x"],
                            post=lambda g: np.asarray(g).tolist(), rows=True)
    raise Declined(f"lse has no function {function!r} (only primal and gradient)")
