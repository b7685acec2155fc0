"""Checking derivatives against finite differences, and saying where they cannot agree.

Every partial derivative (reverse mode) and, on request, every second derivative (forward over
reverse) is compared with a finite difference: of the outputs for first derivatives, of the
gradient (the adjoint program's derivative outputs) for second ones. How the differences are taken
(steps from each input's own scale, Richardson extrapolation, stencils that leave the domain or
cross a pole replaced by smaller or one-sided ones) is :mod:`slpdiff.differences`.

An entry is ``ok`` when ``|AD - FD| <= rtol * max(|AD|, |FD|) + allowance``, where the allowance is
what the finite difference itself may be off by (its estimated truncation error plus the bound on
its rounding error), ``FAIL`` when not. It is ``unchecked`` (not a failure) when no finite
difference could be taken: the output is not finite at the point, every stencil left the domain,
or the differences do not settle as the step shrinks; the entry says why.

Where a function of the program is not differentiable (the table's ``kink`` expression is 0: ``abs``
at 0, a tie in ``max``, ``sqrt`` at 0, ...) at the point, the entries it affects are marked ``kink``
(their AD values are conventions). Stencils that step across such a place are not used while
others can be; where only they could, entries that disagree are marked ``kink`` instead of failed.
Each such place is reported.
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
from .differences import DEFAULT_EPS, Differences, check_size, first_steps
from .errors import Diagnostic, InputError
from .evaluation import evaluate
from .formats import number
from .language.program import Program
from .stencils import Estimator, Target

__all__ = ["DEFAULT_EPS", "DEFAULT_RTOL", "CheckResult", "Entry", "Kink", "check"]

DEFAULT_RTOL = 1e-6
WHY_COLUMNS = ("finite differences evaluate 6 points (x +- h, h/2, h/4) at one or two steps "
               "per input")


@dataclass
class Entry:
    """One derivative compared: ``d output/d x`` (``wrt = (x,)``) or ``d2 output/d x d w``."""

    output: str
    wrt: tuple[str, ...]
    ad: float
    fd: float = math.nan  # the extrapolated finite difference (nan when none could be taken)
    error: float = math.nan  # |AD - FD| / max(|AD|, |FD|); 0 when equal, inf or nan if not finite
    # what the two numbers' own errors can explain: the difference's truncation and rounding,
    # and the AD value's rounding
    allowance: float = math.nan
    tolerance: float = math.nan  # the relative error accepted: rtol + allowance / max(|AD|, |FD|)
    step: float = math.nan  # the largest of the steps h, h/2, h/4 whose differences decided
    side: str | None = None  # "central", "forward" or "backward" (None: no difference)
    status: str = ""  # "ok", "FAIL", "kink" or "unchecked"
    reason: str | None = None  # why "unchecked"
    # Stencils not used, (step, why): they left the domain, crossed a pole or a kink
    rejected: list[tuple[float, str]] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        """Are AD and FD within the tolerance (whatever the status says)?"""
        return self.ad == self.fd or self.error <= self.tolerance

    @property
    def label(self) -> str:
        """``d y/d x`` or ``d2 y/d x d w``."""
        if len(self.wrt) == 1:
            return f"d {self.output}/d {self.wrt[0]}"
        return f"d2 {self.output}/d {self.wrt[0]} d {self.wrt[1]}"


@dataclass
class Kink:
    """A function of the program at or near a point where it is not differentiable."""

    program: Program
    position: int  # the node's position in the program
    args: tuple[float, ...]
    at_point: bool  # the point itself is on the kink
    crossed_by: list[str]  # inputs whose deciding finite differences step across it
    # At the point: (parameter, the derivative its rule gives there), as eval reports them
    conventions: tuple[tuple[str, float], ...] = ()

    def describe(self) -> str:
        op = self.program.ops[self.position]
        if self.at_point:
            return convention_message(op, self.conventions)
        values = ", ".join(f"{p} = {number(v)}" for p, v in zip(op.params, self.args,
                                                                   strict=True))
        head = f"{op.signature} is not differentiable {op.kink_where}"
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
    rtol: float
    entries: list[Entry] = field(default_factory=list)
    kinks: list[Kink] = field(default_factory=list)
    # the first non-finite value and derivative at the point itself, as eval reports them
    warnings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no entry failed (entries at kinks and unchecked ones are not failures)."""
        return all(e.status != "FAIL" for e in self.entries)


def check(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
          outputs: Sequence[str] | None = None, rtol: float = DEFAULT_RTOL,
          eps: float | None = None, hessian: bool = False) -> CheckResult:
    """Compare AD derivatives with finite differences at the point ``at`` (scalars).

    ``eps`` is the relative step (default :data:`DEFAULT_EPS`); with ``hessian``, second
    derivatives are compared too.
    """
    point = [_scalar(name, v) for name, v in zip(program.input_names,
                                                bind_inputs(program, at), strict=True)]
    chosen = select(program, wrt, outputs)
    names, outs = chosen.wrt_names, chosen.output_names
    steps = [first_steps(point[k], DEFAULT_EPS if eps is None else eps, program.input_names[k])
             for k in chosen.wrt]
    result = CheckResult(program, dict(zip(program.input_names, point, strict=True)), rtol)
    center = evaluate(program, result.at, names, outs)
    result.warnings = center.warnings
    judge = _Judge(program, result, center.node_values, chosen)
    targets = [Target(program.output_index[o], out, program.output_index[o])
               for o, out in zip(chosen.outputs, outs, strict=True)]
    judge.judge(program, center.node_values, point, steps, [
        (Entry(out, (x,), float(center.gradient[out][x])), targets[t], t, j)
        for t, out in enumerate(outs) for j, x in enumerate(names)])
    if hessian:
        _check_hessian(program, judge, point, steps, chosen)
    return result


def _check_hessian(program: Program, judge: _Judge, point: list[float], steps, chosen) -> None:
    """Second derivatives (forward over reverse) against differences of the adjoint program's
    derivative outputs."""
    from .core.hessian import cached_adjoint
    from .core.hessian import hessian as ad_hessian

    names, outs = chosen.wrt_names, chosen.output_names
    try:
        adj = cached_adjoint(program, names, outs)
    except TypeError as exc:  # a custom operation's rules are Python functions
        raise InputError(f"--hessian needs derivative rules written as SLP text: {exc}") from None
    h_ad = ad_hessian(program, judge.result.at, names, outs)
    gradient = adj.program
    position = dict(zip(gradient.output_names, gradient.output_index, strict=True))
    items = []
    pairs = [(o, out, x) for o, out in zip(chosen.outputs, outs, strict=True) for x in names]
    for t, (o, out, x) in enumerate(pairs):  # a target per gradient entry: d out/d x
        target = Target(position[adj.derivatives[out][x]], f"d {out}/d {x}",
                        program.output_index[o])
        items += [(Entry(out, (x, w), float(h_ad[out][x][w])), target, t, j)
                  for j, w in enumerate(names)]
    judge.judge(gradient, forward(gradient, point), point, steps, items)


def _scalar(name: str, value) -> float:
    if np.ndim(value):
        raise InputError(f"check compares derivatives at one point: '{name}' must be a number")
    return float(as_value(value))


def describe_node(program: Program, i: int) -> str:
    """``log(a) at 1:5``: a node's function and where it is in the program's text."""
    op = program.ops[i]
    where = f" at {program.lines[i]}:{program.columns[i]}" if program.lines[i] else ""
    return f"{op.signature if op is not None else program.names[i]}{where}"


class _Judge:
    """Turns finite differences into verdicts, and collects the kinks that explain them."""

    def __init__(self, program: Program, result: CheckResult, center, chosen):
        self.program, self.result, self.chosen = program, result, chosen
        self.kink_nodes = kinks.candidates(program, chosen.wrt_nodes, chosen.output_nodes)
        self.kinks: dict[int, Kink] = {}
        for hit in kinks.find(program, center, chosen.wrt_names, chosen.output_names):
            i = hit.position
            self.kinks[i] = Kink(program, i, tuple(float(center[a]) for a in program.args[i]),
                                 True, [], hit.conventions)
        result.kinks = list(self.kinks.values())
        self.center = center

    def judge(self, evaluated: Program, center, point, steps, items) -> None:
        """Finite differences of ``evaluated`` (the program, or its adjoint program) for
        ``items``, (entry with its AD value, target, target number, input number), and each
        entry's verdict; a disagreement seen at one step only is looked at again at another."""
        targets = list(dict.fromkeys((t, target) for _, target, t, _ in items))
        check_size(evaluated, steps, WHY_COLUMNS)  # before any sweep: fail at once
        estimator = Estimator(evaluated, point, self.chosen.wrt_nodes,
                              [target for _, target in targets], center, self.kink_nodes,
                              self._reach, self.describe)
        estimator.run(steps, WHY_COLUMNS)
        again = [(t, j) for entry, target, t, j in items
                 if self._verdict(entry, estimator.found[t, j], target, final=False)]
        if again:
            estimator.confirm(again)
        for entry, target, t, j in items:
            found = estimator.found[t, j]
            self._verdict(entry, found, target, final=True)
            entry.rejected = found.rejected(found.choose(), self.describe)
            if entry.status in ("ok", "kink") and entry.side == "central":
                crossed = found.choose().crossed
                if crossed:
                    self._crossed(crossed, self.chosen.wrt_names[j])
            self.result.entries.append(entry)
        self.result.kinks = [self.kinks[i] for i in sorted(self.kinks)]

    def describe(self, i: int) -> str:
        return describe_node(self.program, i)

    def _reach(self, target: Target) -> list[bool]:
        return reaches(self.program, [target.source_output])

    def _verdict(self, entry: Entry, found: Differences, target: Target, final: bool) -> bool:
        """Set the entry's numbers and status from ``found``; True when, not ``final``, it
        disagrees at one step only and needs a second."""
        rtol = self.result.rtol
        ad = entry.ad
        estimate = found.choose()
        if estimate is not None:
            fd = entry.fd = estimate.value
            entry.step, entry.side = estimate.step, estimate.side
            # what the two numbers' own errors can explain
            entry.allowance = estimate.allowance + found.ad_noise
            entry.error = _relative_error(ad, fd)
            size = max(abs(ad), abs(fd))
            # relative to the larger number, as the error is (both 0: equal, any tolerance)
            entry.tolerance = rtol + entry.allowance / size if size > 0 else rtol
        entry.reason = None
        if not math.isfinite(found.center):
            entry.status = "unchecked"
            entry.reason = f"{target.label} is {number(found.center)} at the point"
        elif self._at_kink(target, entry.wrt):
            entry.status = "kink"
        elif estimate is None:
            entry.status = "unchecked"
            reasons = list(dict.fromkeys(why for _, why in found.rejected(None, self.describe)))
            entry.reason = "no finite difference could be taken: " + (
                reasons[0] if len(reasons) == 1 else "no step was usable")
        elif estimate.crossed:  # only stencils across a kink: it explains a disagreement
            entry.status = "ok" if entry.agrees and math.isfinite(ad) else "kink"
        elif not estimate.settled:
            entry.status = "unchecked"
            entry.reason = "the finite differences do not settle as the step shrinks" + (
                "; the derivative may be infinite here" if not math.isfinite(ad) else "")
        elif entry.agrees and math.isfinite(ad):
            entry.status = "ok"
        else:
            return self._disagreement(entry, found, estimate, final)
        return False

    def _disagreement(self, entry: Entry, found: Differences, estimate, final: bool) -> bool:
        """AD and a settled finite difference disagree: FAIL if a difference at another step
        says the same, unchecked if one says otherwise (the steps cannot follow the function)."""
        others = found.others(estimate)
        conflict = next((o for o in others if not estimate.agrees(o)), None)
        if conflict is not None:
            entry.status = "unchecked"
            entry.reason = (f"the finite differences at steps {number(estimate.step)} and "
                            f"{number(conflict.step)} disagree ({number(estimate.value)} and "
                            f"{number(conflict.value)}): the function varies faster than the "
                            "steps can follow")
        elif others:
            entry.status = "FAIL"
        elif not final:
            return True
        else:
            entry.status = "unchecked"
            entry.reason = ("the finite difference disagrees with AD at one step, and no other "
                            "step could confirm it")
        return False

    def _at_kink(self, target: Target, wrt: tuple[str, ...]) -> bool:
        """Does a kink at the point lie on the way to the target's output and move with the
        entry's inputs?"""
        if not self.kinks:
            return False
        program = self.program
        reach = reaches(program, [target.source_output])
        moved = [depends(program, [program.input_index[program.input_names.index(x)]])
                 for x in wrt]
        return any(kink.at_point and reach[i] and any(m[i] for m in moved)
                   for i, kink in self.kinks.items())

    def _crossed(self, positions: Sequence[int], name: str) -> None:
        for i in positions:
            kink = self.kinks.get(i)
            if kink is None:
                args = tuple(float(self.center[a]) for a in self.program.args[i])
                kink = self.kinks[i] = Kink(self.program, i, args, False, [])
            if name not in kink.crossed_by:
                kink.crossed_by.append(name)


def _relative_error(ad: float, fd: float) -> float:
    if ad == fd:
        return 0.0
    if math.isfinite(ad) and math.isfinite(fd):
        return abs(ad - fd) / max(abs(ad), abs(fd))
    return math.nan if math.isnan(ad) or math.isnan(fd) else math.inf
