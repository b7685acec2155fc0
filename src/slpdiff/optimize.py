"""Gradient descent on one output of a program, the seed's method, as a library function."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .engine import Evaluation, evaluate
from .errors import InputError
from .graph import Program


@dataclass
class Step:
    """One iterate: the point (every input), the objective's value and gradient there."""

    index: int
    evaluation: Evaluation
    objective: str

    @property
    def at(self) -> dict[str, object]:
        return self.evaluation.at

    @property
    def value(self):
        return self.evaluation.values[self.objective]

    @property
    def gradient(self) -> dict[str, object]:
        return self.evaluation.gradient[self.objective]

    def is_finite(self) -> bool:
        """True when the value and every gradient component are finite numbers."""
        return all(math.isfinite(float(x)) for x in (self.value, *self.gradient.values()))

    def gradient_norm(self) -> float:
        """The 2-norm of the gradient."""
        return math.sqrt(sum(float(g) ** 2 for g in self.gradient.values()))


@dataclass
class OptimizeResult:
    """How a run ended: ``status`` is "converged", "max_steps" or "diverged"; ``steps`` counts the
    updates made to reach ``final``; ``diverged_at`` is the first non-finite step, if any."""

    status: str
    steps: int
    final: Step
    diverged_at: Step | None = None


def choose_objective(program: Program, objective: str | None) -> str:
    """The output to minimize: ``objective``, or the only output; else :class:`InputError`."""
    outputs = program.output_names
    if objective is None:
        if len(outputs) > 1:
            raise InputError(f"the program has {len(outputs)} outputs ({', '.join(outputs)}); "
                             "choose the one to minimize with --objective NAME")
        return outputs[0]
    if objective not in outputs:
        raise InputError(f"'{objective}' is not an output; the program's outputs are: "
                         f"{', '.join(outputs)}")
    return objective


def gradient_descent(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
                     objective: str | None = None, lr: float = 0.1, steps: int = 100,
                     tol: float = 1e-10,
                     callback: Callable[[Step], None] | None = None) -> OptimizeResult:
    """Minimize ``objective`` over the inputs in ``wrt`` (default: all), the others held fixed.

    Step k evaluates the value and gradient at the current point, reports it to ``callback``,
    and updates ``x <- x - lr * g`` (the seed's order of operations). Stops after ``steps``
    updates, when the gradient's 2-norm is ``<= tol`` (converged), or at a non-finite value or
    gradient (diverged; ``final`` is then the last finite point).
    """
    objective = choose_objective(program, objective)
    wrt = list(program.input_names if wrt is None else wrt)
    point = dict(at)

    def step_at(k: int) -> Step:
        return Step(k, evaluate(program, point, wrt, outputs=[objective]), objective)

    previous = None
    for k in range(steps + 1):
        current = step_at(k)
        if k == 0:
            _check_one_number(current)
        if not current.is_finite():
            return OptimizeResult("diverged", max(k - 1, 0), previous or current, current)
        if current.gradient_norm() <= tol:
            return OptimizeResult("converged", k, current)
        if k == steps:
            return OptimizeResult("max_steps", k, current)
        if callback is not None:
            callback(current)
        for name in wrt:
            point[name] = current.at[name] - lr * current.gradient[name]
        previous = current
    raise AssertionError("unreachable")


def _check_one_number(step: Step) -> None:
    """The objective and the gradient must be single numbers, not one per row of data."""
    rows = np.size(step.value)
    if np.ndim(step.value):
        raise InputError(f"the objective '{step.objective}' has {rows} values (one per row), "
                         "not one number to minimize: reduce it over the rows, e.g. with "
                         f"mean(...) or sum(...)")
    arrays = [name for name, g in step.gradient.items() if np.ndim(g)]
    if arrays:
        raise InputError(f"'{arrays[0]}' holds many values (a column of data), not one "
                         "parameter: leave it out of --wrt")


def as_float(x) -> float:
    """A Python float from a numpy scalar or 0-d array."""
    return float(np.asarray(x))
