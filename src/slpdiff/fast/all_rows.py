"""The fast path for arrays of points that the compiled slices cannot take: all rows at once.

Most programs run compiled (:mod:`slpdiff.fast.slices`): generated numpy calls into a small pool
of buffers, a cache-sized slice of rows at a time, sums over the rows split where numpy's own
pairwise summation splits them. A program that one pass over the slices cannot evaluate (a column
computed from a sum over the rows, a derivative rule that needs such a sum before the slices, or a
program too large to compile) runs here over all rows at once, as in the engine, interpreting the
same schedule, still on buffers made once per program (``out=``) rather than fresh arrays.

Each value is computed by the table's own numpy function with the same operands as in the engine:
a number stays a number (so numpy's scalar fast paths, such as an exact square for a single
exponent 2, are taken exactly when the engine takes them) and a column is an array. The results
are the engine's, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..core.schedule import sweep_schedule
from ..language.program import Program

CHUNK = 16384  # rows per slice: slices of every value of a small program stay in the L2 cache
BUDGET = 1 << 23  # most numbers (float64) held in the buffers of one program


def chunk_rows(columns: int) -> int:
    """Rows per chunk for a program of ``columns`` nodes computed per row."""
    return max(1, min(CHUNK, BUDGET // max(1, columns)))


class AllRowsRun:
    """A program's forward values and reverse sweeps laid out for arrays of ``n`` rows.

    Made once per program, choice of inputs and outputs, and number of rows, and kept with the
    program: the schedule's terms are read into plain tuples here (what each term multiplies by,
    and where it adds), so that a call only runs the numpy operations."""

    def __init__(self, program: Program, row: Sequence[bool], needs: Sequence[bool],
                 outputs: Sequence[int], n: int):
        self.program = program
        ops, args_of = program.ops, program.args
        self.row = row  # per node: a column (one number per row)?
        self.edges = {o: sweep_schedule(program, needs, o) for o in dict.fromkeys(outputs)}
        combines = any(op is not None and op.reduces for op in ops) or any(
            row[e.i] and not row[e.c] for edges in self.edges.values() for e in edges)
        self.row_nodes = [i for i, op in enumerate(ops) if row[i] and op is not None]
        self.slot = {i: k for k, i in enumerate(self.row_nodes)}
        self.chunk = n if combines else chunk_rows(len(self.row_nodes))
        # Per operation: position, numpy function, arguments, a ufunc (writes into ``out=``)?,
        # a column?, its buffer's number among the columns.
        self.steps = [(i, op.impl, args_of[i], isinstance(op.impl, np.ufunc), row[i],
                       self.slot.get(i)) for i, op in enumerate(ops) if op is not None]
        self.terms = {o: _terms(edges, row, args_of) for o, edges in self.edges.items()}
        self.base = [None if c is None else np.float64(c) for c in program.consts]
        self.inputs = list(zip(program.input_index, (row[i] for i in program.input_index),
                               strict=True))
        self._arena: np.ndarray | None = None

    def arena(self, rows: int) -> np.ndarray:
        if self._arena is None or self._arena.shape[1] < rows:
            self._arena = np.empty((max(1, len(self.row_nodes)), rows))
        return self._arena

    def run(self, inputs: list, outputs: Sequence[int], wrt: Sequence[int], n: int | None = None):
        """(output values, gradient rows) or None when something is not finite. ``n``: the
        number of rows (found from ``inputs`` if not given)."""
        if n is None:
            n = max(len(x) for x in inputs if np.ndim(x))
        values = list(self.base)
        for (i, _), x in zip(self.inputs, inputs, strict=True):
            values[i] = x
            if not (np.isfinite(x).all() if x.ndim else math.isfinite(x)):
                return None
        if self.chunk >= n:
            return self._whole(values, outputs, wrt, n)
        row = self.row
        out_values = {o: np.empty(n) if row[o] else None for o in outputs}
        grads = {(o, i): (np.empty(n) if row[i] else None) for o in outputs for i in wrt}
        step = self.chunk if self.chunk < n else n
        arena = self.arena(step)
        ones = np.ones(step) if any(row[o] for o in outputs) else None  # seeds of columns
        scalars_done = False
        with np.errstate(all="ignore"):
            for lo in range(0, n, step):
                hi = min(lo + step, n)
                m = hi - lo
                local = values if step == n else list(values)
                if step < n:
                    for i, column in self.inputs:
                        if column:
                            local[i] = values[i][lo:hi]
                if not self._forward(local, arena if m == arena.shape[1] else arena[:, :m],
                                     scalars_done, values):
                    return None
                scalars_done = True
                for o in outputs:
                    if row[o]:
                        out_values[o][lo:hi] = local[o]
                    else:
                        out_values[o] = local[o]
                    if not wrt:
                        continue
                    adjoint = self._sweep(local, o, ones[:m] if row[o] else np.float64(1.0), m)
                    for i in wrt:
                        a = adjoint[i]
                        if row[i]:
                            grads[(o, i)][lo:hi] = 0.0 if a is None else a
                        else:
                            grads[(o, i)] = np.float64(0.0) if a is None else a
        rows = [[grads[(o, i)] for i in wrt] for o in outputs]
        if not all(_finite(g) for row in rows for g in row):
            return None
        return [out_values[o] for o in outputs], rows

    def _whole(self, values: list, outputs: Sequence[int], wrt: Sequence[int], n: int):
        """:meth:`run` in one chunk of all ``n`` rows (what it does in each chunk, without the
        bookkeeping of chunks): results copied out of the buffers, which the next call reuses."""
        row = self.row
        arena = self.arena(n)
        with np.errstate(all="ignore"):
            if not self._forward(values, arena if n == arena.shape[1] else arena[:, :n], False,
                                 values):
                return None
            out_values = [values[o].copy() if row[o] else values[o] for o in outputs]
            rows = []
            for o in outputs:
                if not wrt:
                    rows.append([])
                    continue
                adjoint = self._sweep(values, o, np.ones(n) if row[o] else np.float64(1.0), n)
                rows.append([(np.zeros(n) if a is None else np.array(a, np.float64)) if row[i]
                             else np.float64(0.0) if a is None else a
                             for i, a in zip(wrt, map(adjoint.__getitem__, wrt), strict=True)])
        if not all(_finite(g) for found in rows for g in found):
            return None
        return out_values, rows

    def _forward(self, local: list, arena: np.ndarray, scalars_done: bool, shared: list) -> bool:
        for i, impl, args, ufunc, column, slot in self.steps:
            if not column:
                if not scalars_done:
                    shared[i] = impl(*[local[a] for a in args])
                    if not math.isfinite(shared[i]):
                        return False
                local[i] = shared[i]
            elif ufunc:
                local[i] = impl(*[local[a] for a in args], out=arena[slot])
            else:
                local[i] = impl(*[local[a] for a in args])
                if local[i].shape != arena[slot].shape:
                    local[i] = np.broadcast_to(local[i], arena[slot].shape)
                arena[slot] = local[i]
                local[i] = arena[slot]
        total = np.add.reduce(arena, axis=None) if arena.size else 0.0
        return math.isfinite(total) or bool(np.isfinite(arena).all())

    def _sweep(self, values: list, output: int, seed, m: int) -> list:
        """The engine's reverse sweep on this slice: the same terms in the same order."""
        adjoint: list = [None] * len(values)
        adjoint[output] = seed
        for how, i, c, first, column, x, args in self.terms[output]:
            a = adjoint[i]
            if how is _MINUS and isinstance(a, np.ndarray) and a.ndim:
                adjoint[c] = adjoint[c] - a  # x + a * -1 in one pass (IEEE: x - a)
                continue
            if how is _RULE:
                g = a * x(*[values[j] for j in args], values[i])
            else:
                g = a if x == 1.0 else a * x
            if column:
                if not (isinstance(g, np.ndarray) and g.ndim):
                    g = _spread(g, m)
            elif isinstance(g, np.ndarray) and g.ndim:
                g = _add(g, None)  # np.sum(g), without its wrapper
            adjoint[c] = g if first else adjoint[c] + g
        return adjoint


_RULE, _CONST, _MINUS = "rule", "const", "minus"
_add = np.add.reduce  # what np.sum(array) calls, axis None


def _terms(edges, row: Sequence[bool], args_of) -> list[tuple]:
    """The schedule's terms as tuples (how, node, child, first?, child a column?, the rule's
    function or constant, the node's arguments): a term of the constant -1 added to a column's
    adjoint is a subtraction; otherwise the adjoint times the constant, or times the rule's
    partial (``Rule.fn``: the rule's steps rendered by :func:`~slpdiff.language.rules.render`,
    ``x ^ 2`` as ``square``, the same numpy calls on the same operands)."""
    terms = []
    for e in edges:
        rule = e.rule
        if rule.const is None:
            how, x = _RULE, rule.fn
        else:
            how = _MINUS if rule.const == -1.0 and not e.first and row[e.c] else _CONST
            x = rule.const
        terms.append((how, e.i, e.c, e.first, bool(row[e.c]), x, args_of[e.i]))
    return terms


def _spread(g, m: int) -> np.ndarray:
    """The number ``g`` as a column of ``m`` rows: ``np.broadcast_to(g, (m,))`` (a read-only
    view, every row the one number), made directly (a tenth of the time, for small ``m``)."""
    spread = np.ndarray((m,), np.float64, np.asarray(g, np.float64), 0, (0,))
    spread.flags.writeable = False
    return spread


def _finite(g) -> bool:
    if isinstance(g, np.ndarray) and g.ndim:
        return math.isfinite(_add(g, None)) or bool(np.isfinite(g).all())
    return math.isfinite(g)
