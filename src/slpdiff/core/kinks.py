"""Derivatives taken exactly where a function is not differentiable, and the convention they use.

The table of primitives gives, per function, a ``kink`` expression that is 0 exactly where the
function is not differentiable (``a`` for ``abs``, ``a - b`` for ``max``, ``1 - a^2`` for
``asin``). At such a point the derivative slpdiff reports is a convention (``abs'(0) = 0``, each
argument of a tied ``max`` gets 1/2, ``sqrt'(0) = inf``), and other tools choose differently, so
``eval``, ``check`` and ``trace`` say so: which call, and the value its derivative rule gave there.

Only kinks that affect a requested derivative count: nodes that reach a requested output and
depend on an input differentiated with respect to. The positions of such nodes are found once
per program (and choice of inputs and outputs) and cached, so a program without them pays one
dictionary lookup per evaluation; with them, one evaluation of each kink expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import Diagnostic
from ..formats import number
from ..language.program import Memo, Program
from ..language.rules import kink_for, rules_for
from .schedule import depends, reaches, select

KINKED = Memo("nodes whose function has a kink")
CANDIDATES = Memo("kinks that can affect chosen derivatives")


def candidates(program: Program, wrt: Sequence[int], outputs: Sequence[int]) -> list[int]:
    """Positions of the nodes whose function has a kink, that reach one of the nodes ``outputs``
    and depend on one of the input nodes ``wrt`` (node positions, not input numbers)."""
    def make() -> list[int]:
        kinked = program.memo(KINKED, None, lambda: [
            i for i, op in enumerate(program.ops)
            if op is not None and op.kind != "custom" and op.kink is not None])
        if not kinked:
            return []
        reach = reaches(program, list(outputs))
        needs = depends(program, list(wrt))
        return [i for i in kinked if reach[i] and needs[i]]

    return program.memo(CANDIDATES, (tuple(sorted(wrt)), tuple(outputs)), make)


@dataclass
class KinkHit:
    """A node evaluated exactly on its function's kink, at ``count`` of ``rows`` points."""

    program: Program
    position: int
    count: int  # the points (rows) where the kink expression is exactly 0
    rows: int  # the points evaluated (1 at a single point)
    first: int  # the first such row
    conventions: tuple[tuple[str, float], ...]  # (parameter, derivative used) at the first row

    def describe(self) -> str:
        """``abs(a) is not differentiable at a = 0; the derivative uses the convention d/da
        abs(a) = 0 there``, with ``at 3 of 10 rows`` when several rows were evaluated."""
        return convention_message(self.program.ops[self.position], self.conventions) + (
            f" (at {self.count:,} of {self.rows:,} rows)" if self.rows > 1 else "")

    def diagnostic(self, program: Program, where: str | None = None) -> Diagnostic:
        """The message located at the call in the program's text; ``where`` names the first row
        (``points.csv:5``)."""
        message = self.describe()
        if where:
            message = message[:-1] + f"; first at {where})" if self.rows > 1 else \
                f"{message} (at {where})"
        source = program.source
        i = self.position
        return Diagnostic(message, source, program.lines[i] if source is not None else 0,
                          program.columns[i])


def convention_message(op, conventions: Sequence[tuple[str, float]]) -> str:
    """What the derivative of ``op`` is taken to be on its kink: ``conventions`` gives, for each
    parameter differentiated, the value its rule gave there."""
    rules = ", ".join(f"d/d{p} {op.signature} = {number(v)}" for p, v in conventions)
    what = "the derivative uses" if len(conventions) == 1 else "the derivatives use"
    place = op.kink_where if op.kink_words else f"at {op.kink} = 0"
    return f"{op.signature} is not differentiable {place}; {what} the convention " \
           f"{rules} there"


def find(program: Program, node_values: Sequence, wrt: Sequence[str] | None = None,
         outputs: Sequence[str] | None = None, rows: int = 1) -> list[KinkHit]:
    """The kinks that the derivatives of ``outputs`` (default all) with respect to ``wrt``
    (default all inputs) were taken on, given every node's value (scalars, or arrays of
    ``rows`` rows). One :class:`KinkHit` per node, in program order."""
    chosen = select(program, wrt, outputs)
    wrt_nodes = chosen.wrt_nodes
    positions = candidates(program, wrt_nodes, chosen.output_nodes)
    if not positions:
        return []  # the usual case: node_values is not even looked at
    needs = depends(program, wrt_nodes)
    hits = []
    with np.errstate(all="ignore"):
        for i in positions:
            op = program.ops[i]
            args = [node_values[a] for a in program.args[i]]
            value = node_values[i]
            zero = np.asarray(kink_for(op).fn(*args, value)) == 0.0
            if not zero.any():
                continue
            count = int(np.count_nonzero(zero)) if zero.ndim else rows
            first = int(np.flatnonzero(zero.ravel())[0]) if zero.ndim else 0
            at = [_row(a, first) for a in args]
            conventions = tuple(
                (rule.param, float(rule.const) if rule.const is not None
                 # a reduction's rule needs every row (a tied row's share)
                 else _row(rule.fn(*args, value), first) if op.reduces
                 else _row(rule.fn(*at, _row(value, first)), 0))
                for rule, c in zip(rules_for(op), program.args[i], strict=True) if needs[c])
            hits.append(KinkHit(program, i, count, rows, first, conventions))
    return hits


def _row(x, k: int) -> float:
    return float(np.ravel(x)[k]) if np.ndim(x) else float(x)
