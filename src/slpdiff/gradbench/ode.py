"""ode: s steps of the classic Runge-Kutta method on ``y_0' = x_0``, ``y_i' = x_i y_(i-1)`` over
``[0, 2]``, written out.

Operation for operation as the reference (cmpad's ``runge_kutta``): ``h = 2 / s``; per step
``k1 = f(y)``, ``y + h k1 / 2``, ``k2``, ``y + h k2 / 2``, ``k3``, ``y + h k3``, ``k4``,
``y += h (k1 + 2 k2 + 2 k3 + k4) / 6``. Each ``y_i`` needs ``y_(i-1)``, another row, which a
program per row cannot refer to, so everything is unrolled: 8 statements per element and step,
8 n s in all. The initial state y(0) = 0 is kept as n inputs (given 0, not differentiated) so that
nothing is folded away: with it folded, the gradient at GradBench's sizes is a constant 0.
``primal`` outputs every ``y_i(2)``; ``gradient`` is reverse mode of the last one with respect to
x. n s = 100,000 is 800,000 statements; n s >= 1,000,000 is over slpdiff's limits, so declined.
"""

from __future__ import annotations

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text, check_size, literal


def size(n: int, s: int) -> tuple[int, int]:
    """(statements, operations as slpdiff.limits counts them) of the program."""
    # per element and step: 4 products x_i * y, 3 + 3 + 2 for the intermediate states, 9 for
    # the update (its parentheses included)
    return 8 * n * s - 4 * s, 21 * n * s


def _write(n: int, s: int) -> tuple[Text, dict]:
    text = Text()
    xs = [f"x{i}" for i in range(n)]
    y0 = [f"y{i}" for i in range(n)]
    text.input(*xs, *y0)
    h = literal(2.0 / s)
    y = y0
    def stage(state: list[str], tag: str) -> list[str]:  # f(state) = (x_0, x_i state_(i-1))
        return [xs[0]] + [text.let(f"{tag}_{i}", f"{xs[i]} * {state[i - 1]}")
                          for i in range(1, n)]

    for step in range(s):

        k1 = stage(y, f"ka{step}")
        t1 = [text.let(f"ta{step}_{i}", f"{y[i]} + {h} * {k1[i]} / 2") for i in range(n)]
        k2 = stage(t1, f"kb{step}")
        t2 = [text.let(f"tb{step}_{i}", f"{y[i]} + {h} * {k2[i]} / 2") for i in range(n)]
        k3 = stage(t2, f"kc{step}")
        t3 = [text.let(f"tc{step}_{i}", f"{y[i]} + {h} * {k3[i]}") for i in range(n)]
        k4 = stage(t3, f"kd{step}")
        y = [text.let(f"y{step}_{i}",
                      f"{y[i]} + {h} * ({k1[i]} + 2 * {k2[i]} + 2 * {k3[i]} + {k4[i]}) / 6")
             for i in range(n)]
    text.output(*y)
    return text, {"xs": xs, "y0": y0, "ys": y}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``primal`` or ``gradient`` at ``{"x": [...], "s": s}``."""
    x = [float(v) for v in input["x"]]
    n, s = len(x), int(input["s"])
    if n < 1 or s < 1:
        raise Declined(f"ode needs n >= 1 and s >= 1 (n = {n}, s = {s})")
    check_size(f"ode with n = {n:,}, s = {s}", *size(n, s))
    prepared = programs.get(("ode", n, s), lambda: _write(n, s))
    info = prepared.info
    program = prepared.program
    at = dict(zip(info["xs"], x, strict=True)) | dict.fromkeys(info["y0"], 0.0)
    if function == "primal":
        def primal():
            values = evaluate(program, at, derivatives=False).values
            return [values[name] for name in info["ys"]]

        return programs.job(prepared, function, primal)
    if function == "gradient":
        last = info["ys"][-1]

        def gradient():
            g = evaluate(program, at, wrt=info["xs"], outputs=[last]).gradient[last]
            return [g[name] for name in info["xs"]]

        return programs.job(prepared, function, gradient)
    raise Declined(f"ode has no function {function!r} (only primal and gradient)")
