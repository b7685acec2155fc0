"""lse: ``log(sum_i exp(x_i - A)) + A`` with ``A = max_i x_i``, written out for each n.

slpdiff's reductions over rows are ``sum`` and ``mean``; it has no maximum over rows. So the whole
function is unrolled, the maximum included (it is part of the function the reference
differentiates): every ``x_i`` is a scalar input, ``A`` a chain of ``max(a, b)`` in the
reference's order, then the sum of ``exp(x_i - A)`` in order and ``log(s) + A``. Several terms
share a statement (``BLOCK``), which keeps lines short and the statement count low. The gradient is
one reverse sweep over the whole program. About 5 n operations: the largest default size
(n = 1,280,000) is over slpdiff's limit on operations and is declined.
"""

from __future__ import annotations

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text, check_size

BLOCK = 64  # terms per statement


def operations(n: int) -> tuple[int, int]:
    """(statements, operations as slpdiff.limits counts them) of the program for n."""
    blocks = -(-max(n - 1, 1) // BLOCK) + -(-n // BLOCK)
    # max(a, b): "(" and ","; + exp(x - A): "+", "(", "-"; the last line: log( ) and +
    return blocks + 1, 2 * (n - 1) + 3 * n + 3


def _write(n: int) -> tuple[Text, dict]:
    text = Text()
    xs = [f"x{i}" for i in range(n)]
    text.input(*xs)
    top = xs[0]
    for start in range(1, n, BLOCK):
        expr = top
        for name in xs[start:start + BLOCK]:
            expr = f"max({expr}, {name})"
        top = text.let(f"A{start}", expr)
    if n == 1:
        top = text.let("A1", xs[0])
    total = None
    for start in range(0, n, BLOCK):
        terms = [f"exp({name} - {top})" for name in xs[start:start + BLOCK]]
        total = text.let(f"s{start}", " + ".join(([total] if total else []) + terms))
    text.let("y", f"log({total}) + {top}")
    text.output("y")
    return text, {"xs": xs}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``primal`` or ``gradient`` at ``{"x": [...]}``."""
    x = [float(v) for v in input["x"]]
    n = len(x)
    if n == 0:
        raise Declined("lse of no numbers is not defined")
    check_size(f"lse with n = {n:,}", *operations(n))
    prepared = programs.get(("lse", n), lambda: _write(n))
    xs = prepared.info["xs"]
    program, at = prepared.program, dict(zip(xs, x, strict=True))
    if function == "primal":
        return programs.job(prepared, function,
                            lambda: evaluate(program, at, derivatives=False).values["y"])
    if function == "gradient":
        def gradient():
            g = evaluate(program, at).gradient["y"]
            return [g[name] for name in xs]

        return programs.job(prepared, function, gradient)
    raise Declined(f"lse has no function {function!r} (only primal and gradient)")
