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

from .engine import _depends, _reaches, resolve_names
from .errors import Diagnostic
from .formats import number
from .graph import Program, Var
from .rules import kink_for, rules_for


def candidates(program: Program, wrt: Sequence[int], outputs: Sequence[int]) -> list[int]:
    """Positions of the nodes whose function has a kink, that reach one of the nodes ``outputs``
    and depend on one of the input nodes ``wrt`` (node positions, not input numbers)."""
    key = ("kink candidates", tuple(sorted(wrt)), tuple(outputs))
    found = program._cache.get(key)
    if found is None:
        kinked = program._cache.get("kinked")
        if kinked is None:
            kinked = program._cache["kinked"] = [
                i for i, node in enumerate(program.nodes)
                if node.op is not None and node.op.kind != "custom" and node.op.kink is not None]
        found = []
        if kinked:
            reach = _reaches(program, list(outputs))
            needs = _depends(program, list(wrt))
            found = [i for i in kinked if reach[i] and needs[i]]
        program._cache[key] = found
    return found


@dataclass
class KinkHit:
    """A node evaluated exactly on its function's kink, at ``count`` of ``rows`` points."""

    node: Var
    position: int
    count: int  # the points (rows) where the kink expression is exactly 0
    rows: int  # the points evaluated (1 at a single point)
    first: int  # the first such row
    conventions: tuple[tuple[str, float], ...]  # (parameter, derivative used) at the first row

    def describe(self) -> str:
        """``abs(a) is not differentiable at a = 0; the derivative uses the convention d/da
        abs(a) = 0 there``, with ``at 3 of 10 rows`` when several rows were evaluated."""
        return convention_message(self.node.op, self.conventions) + (
            f" (at {self.count:,} of {self.rows:,} rows)" if self.rows > 1 else "")

    def diagnostic(self, program: Program, where: str | None = None) -> Diagnostic:
        """The message located at the call in the program's text; ``where`` names the first row
        (``points.csv:5``)."""
        message = self.describe()
        if where:
            message = message[:-1] + f"; first at {where})" if self.rows > 1 else \
                f"{message} (at {where})"
        source = program.source
        return Diagnostic(message, source, self.node.line if source is not None else 0,
                          self.node.column)


def convention_message(op, conventions: Sequence[tuple[str, float]]) -> str:
    """What the derivative of ``op`` is taken to be on its kink: ``conventions`` gives, for each
    parameter differentiated, the value its rule gave there."""
    rules = ", ".join(f"d/d{p} {op.signature} = {number(v)}" for p, v in conventions)
    what = "the derivative uses" if len(conventions) == 1 else "the derivatives use"
    return f"{op.signature} is not differentiable at {op.kink} = 0; {what} the convention " \
           f"{rules} there"


def find(program: Program, node_values: Sequence, wrt: Sequence[str] | None = None,
         outputs: Sequence[str] | None = None, rows: int = 1) -> list[KinkHit]:
    """The kinks that the derivatives of ``outputs`` (default all) with respect to ``wrt``
    (default all inputs) were taken on, given every node's value (scalars, or arrays of
    ``rows`` rows). One :class:`KinkHit` per node, in program order."""
    wrt_k = resolve_names(program.input_names if wrt is None else wrt, program.input_names,
                          "input")
    out_k = resolve_names(program.output_names if outputs is None else outputs,
                          program.output_names, "output")
    wrt_nodes = [program.input_index[k] for k in wrt_k]
    positions = candidates(program, wrt_nodes, [program.output_index[k] for k in out_k])
    if not positions:
        return []  # the usual case: node_values is not even looked at
    needs = _depends(program, wrt_nodes)
    hits = []
    with np.errstate(all="ignore"):
        for i in positions:
            node = program.nodes[i]
            args = [node_values[a] for a in program.args[i]]
            value = node_values[i]
            zero = np.asarray(kink_for(node.op).fn(*args, value)) == 0.0
            if not zero.any():
                continue
            count = int(np.count_nonzero(zero)) if zero.ndim else rows
            first = int(np.flatnonzero(zero.ravel())[0]) if zero.ndim else 0
            at = [_row(a, first) for a in args]
            conventions = tuple(
                (rule.param, float(rule.const) if rule.const is not None
                 else _row(rule.fn(*at, _row(value, first)), 0))
                for rule, c in zip(rules_for(node.op), program.args[i], strict=True) if needs[c])
            hits.append(KinkHit(node, i, count, rows, first, conventions))
    return hits


def _row(x, k: int) -> float:
    return float(np.ravel(x)[k]) if np.ndim(x) else float(x)
