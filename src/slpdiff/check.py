"""Checking derivatives against central finite differences, and saying where they cannot agree.

Every partial derivative (reverse mode) and, on request, every second derivative (forward over
reverse) is compared with a central difference ``(f(x + h) - f(x - h)) / 2h``, with a step ``h``
per input of ``eps * max(1, |x|)`` (``eps`` defaults to the cube root of the float64 epsilon, the
step that balances truncation and rounding for central differences). Second derivatives are
differences of the AD gradient. All perturbed points go through the engine in one vectorized pass.

An entry passes when ``|AD - FD| <= rtol * max(|AD|, |FD|) + noise``, where ``noise`` bounds the
rounding error of the difference itself (``4 eps64 (|f(x+h)| + |f(x-h)|) / 2h``), so a derivative
that is 0 is not failed for a difference of 1e-12.

Where a function of the program is not differentiable (the table's ``kink`` expression is 0: ``abs``
at 0, a tie in ``max``, ``sqrt`` at 0, ...) at the point, the entries it affects are marked ``kink``
(their AD values are conventions); where it lies between the points a difference uses, entries that
disagree are marked ``kink`` instead of failed. Each such place is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .core import kinks
from .core.engine import as_value, forward
from .core.kinks import convention_message
from .core.schedule import bind_inputs, depends, reaches, select
from .errors import Diagnostic, InputError
from .evaluation import evaluate
from .formats import number
from .language.program import Program
from .language.rules import kink_for
from .limits import check_sweep

DEFAULT_EPS = float(np.finfo(np.float64).eps ** (1 / 3))
DEFAULT_RTOL = 1e-6
_NOISE = 4 * float(np.finfo(np.float64).eps)


@dataclass
class Entry:
    """One derivative compared: ``d output/d x`` (``wrt = (x,)``) or ``d2 output/d x d w``."""

    output: str
    wrt: tuple[str, ...]
    ad: float
    fd: float
    error: float  # |AD - FD| / max(|AD|, |FD|); 0 when equal, inf or nan when not finite
    noise: float  # the rounding-noise allowance of the finite difference
    status: str  # "ok", "FAIL" or "kink"


@dataclass
class Kink:
    """A function of the program at or near a point where it is not differentiable."""

    program: Program
    position: int  # the node's position in the program
    args: tuple[float, ...]
    at_point: bool  # the point itself is on the kink
    crossed_by: list[str]  # inputs whose finite differences step across it
    # At the point: (parameter, the derivative its rule gives there), as eval reports them
    conventions: tuple[tuple[str, float], ...] = ()

    def describe(self) -> str:
        op = self.program.ops[self.position]
        if self.at_point:
            return convention_message(op, self.conventions)
        values = ", ".join(f"{p} = {number(v)}" for p, v in zip(op.params, self.args,
                                                                   strict=True))
        head = f"{op.signature} is not differentiable where {op.kink} = 0"
        steps = ", ".join(self.crossed_by)
        return (f"{head}, and the finite differences in {steps} step across such a point "
                f"(here {values})")

    def diagnostic(self, program: Program) -> Diagnostic:
        source = program.source
        i = self.position
        return Diagnostic(self.describe(), source, program.lines[i] if source else 0,
                          program.columns[i])


@dataclass
class CheckResult:
    """The result of :func:`check`."""

    program: Program
    at: dict[str, float]
    steps: dict[str, float]  # input -> the finite-difference step used
    rtol: float
    entries: list[Entry] = field(default_factory=list)
    kinks: list[Kink] = field(default_factory=list)
    # the first non-finite value and derivative at the point itself, as eval reports them
    warnings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no entry failed (entries at kinks are reported, not failed)."""
        return all(e.status != "FAIL" for e in self.entries)


def check(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
          outputs: Sequence[str] | None = None, rtol: float = DEFAULT_RTOL,
          eps: float | None = None, hessian: bool = False) -> CheckResult:
    """Compare AD derivatives with central finite differences at the point ``at`` (scalars).

    ``eps`` is the relative step (default :data:`DEFAULT_EPS`); with ``hessian``, second
    derivatives are compared too.
    """
    point = [_scalar(name, v) for name, v in zip(program.input_names,
                                                bind_inputs(program, at), strict=True)]
    chosen = select(program, wrt, outputs)
    wrt_k, out_k = chosen.wrt, chosen.outputs
    names, outs = chosen.wrt_names, chosen.output_names
    steps = [_step(point[k], DEFAULT_EPS if eps is None else eps, program.input_names[k])
             for k in wrt_k]
    result = CheckResult(program, dict(zip(program.input_names, point, strict=True)),
                         dict(zip(names, steps, strict=True)), rtol)
    center = evaluate(program, result.at, names, outs)
    result.warnings = center.warnings
    check_sweep(len(program), 2 * len(wrt_k),
                "finite differences evaluate two points per input")
    shifted = _shifted(program, point, wrt_k, steps)  # 2 points per input: x + h, x - h
    values = _at_points(program, shifted, lambda at: forward(program, at))
    result.kinks = _kinks(program, center.node_values, values, chosen)

    def compare(output: str, wrt_names: tuple[str, ...], ad: float, plus, minus, h) -> None:
        fd = (plus - minus) / (2 * h)
        noise = _NOISE * (abs(plus) + abs(minus)) / (2 * h)
        affected = _affected(program, result.kinks, output, wrt_names)
        result.entries.append(_entry(output, wrt_names, float(ad), float(fd), float(noise),
                                     rtol, affected))

    for o, out in zip(out_k, outs, strict=True):
        f = values[program.output_index[o]]
        for j, x in enumerate(names):
            compare(out, (x,), center.gradient[out][x], _at(f, 2 * j), _at(f, 2 * j + 1),
                    steps[j])
    if hessian:
        from .core.hessian import hessian as ad_hessian

        h_ad = ad_hessian(program, result.at, names, outs)
        grads = _at_points(program, shifted, lambda at: evaluate(
            program, dict(zip(program.input_names, at, strict=True)), names, outs).gradient)
        for out in outs:
            for x in names:
                for j, w in enumerate(names):
                    g = grads[out][x]
                    compare(out, (x, w), h_ad[out][x][w], _at(g, 2 * j), _at(g, 2 * j + 1),
                            steps[j])
    return result


def _scalar(name: str, value) -> float:
    if np.ndim(value):
        raise InputError(f"check compares derivatives at one point: '{name}' must be a number")
    return float(as_value(value))


def _step(x: float, eps: float, name: str) -> float:
    if not math.isfinite(x):
        raise InputError(f"cannot take finite differences at {name} = {number(x)}")
    h = eps * max(1.0, abs(x))
    h = (x + h) - x  # a step the float64 grid can represent exactly
    if not math.isfinite(h):  # x + h overflows: only a smaller step can help
        raise InputError(f"the step for {name} overflows at {name} = {number(x)}: "
                         "choose a smaller --eps")
    if not h > 0:
        raise InputError(f"the step for {name} is {number(h)}: choose a larger --eps")
    return h


def _shifted(program: Program, point: list[float], wrt_k: list[int], steps: list[float]):
    p = len(wrt_k)
    shifted = [np.full(2 * p, x) for x in point]
    for j, (k, h) in enumerate(zip(wrt_k, steps, strict=True)):
        shifted[k][2 * j] = point[k] + h
        shifted[k][2 * j + 1] = point[k] - h
    return shifted


def _at_points(program: Program, shifted: list, run):
    """``run(inputs)`` at the shifted points, as rows of one array: a single pass. A program
    that reduces over rows (``sum``, ``mean``) would combine the points, so there each point is
    its own run, and the results are stacked (nested dicts and lists of values alike)."""
    if not any(op is not None and op.reduces for op in program.ops):
        return run(shifted)
    count = len(shifted[0]) if shifted else 0
    return _stacked([run([x[j] for x in shifted]) for j in range(count)])


def _stacked(results: list):
    first = results[0]
    if isinstance(first, dict):
        return {k: _stacked([r[k] for r in results]) for k in first}
    if isinstance(first, list):
        return [_stacked([r[i] for r in results]) for i in range(len(first))]
    return np.array(results)


def _at(values, row: int) -> float:
    return float(values[row]) if np.ndim(values) else float(values)


def _entry(output, wrt, ad, fd, noise, rtol, affected) -> Entry:
    if ad == fd:
        error = 0.0
    elif math.isfinite(ad) and math.isfinite(fd):
        error = abs(ad - fd) / max(abs(ad), abs(fd))
    else:
        error = math.nan if math.isnan(ad) or math.isnan(fd) else math.inf
    passed = ad == fd or (math.isfinite(error) and math.isfinite(noise)
                          and abs(ad - fd) <= rtol * max(abs(ad), abs(fd)) + noise)
    # At a kink the AD value is a convention, whether or not the difference happens to agree;
    # a kink between the shifted points only explains a disagreement.
    if affected == "at" or (affected == "across" and not passed):
        status = "kink"
    else:
        status = "ok" if passed else "FAIL"
    return Entry(output, wrt, ad, fd, error, noise, status)


def _kinks(program: Program, center: list, shifted: list, chosen) -> list[Kink]:
    """The nodes reaching an output and depending on a chosen input that sit on, or between the
    shifted points straddle, a zero of their primitive's kink expression."""
    wrt_k = chosen.wrt
    on_kink = {hit.position: hit.conventions
               for hit in kinks.find(program, center, chosen.wrt_names, chosen.output_names)}
    found = []
    with np.errstate(all="ignore"):
        for i in kinks.candidates(program, chosen.wrt_nodes, chosen.output_nodes):
            rule = kink_for(program.ops[i])
            args = [center[a] for a in program.args[i]]
            here = float(rule.fn(*args, center[i]))
            moved = np.broadcast_to(rule.fn(*[shifted[a] for a in program.args[i]], shifted[i]),
                                    (2 * len(wrt_k),))
            crossed = [program.input_names[k] for j, k in enumerate(wrt_k)
                       if _crosses(float(moved[2 * j]), float(moved[2 * j + 1]))]
            if here == 0.0 or crossed:
                found.append(Kink(program, i, tuple(float(a) for a in args), here == 0.0,
                                  crossed, on_kink.get(i, ())))
    return found


def _crosses(plus: float, minus: float) -> bool:
    return plus == 0.0 or minus == 0.0 or (plus > 0) != (minus > 0)


def _affected(program: Program, kinks: list[Kink], output: str,
              wrt: tuple[str, ...]) -> str | None:
    """"at" if a kink at the point lies on the way to ``output`` and moves with the entry's
    inputs, "across" if the entry's differences step across one, else None."""
    if not kinks:
        return None
    o = program.output_index[program.output_names.index(output)]
    reach = reaches(program, [o])
    found = None
    for kink in kinks:
        if not reach[kink.position]:
            continue
        if kink.at_point and any(depends(program, [program.input_index[
                program.input_names.index(x)]])[kink.position] for x in wrt):
            return "at"
        if wrt[-1] in kink.crossed_by:  # the last name is the direction of the difference
            found = "across"
    return found
