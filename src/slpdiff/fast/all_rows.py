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
from ..language.rules import render

CHUNK = 16384  # rows per slice: slices of every value of a small program stay in the L2 cache
BUDGET = 1 << 23  # most numbers (float64) held in the buffers of one program


def chunk_rows(columns: int) -> int:
    """Rows per chunk for a program of ``columns`` nodes computed per row."""
    return max(1, min(CHUNK, BUDGET // max(1, columns)))


class AllRowsRun:
    """A program's forward values and reverse sweeps laid out for arrays of ``n`` rows."""

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
        self.steps = [(i, op.impl, args_of[i], isinstance(op.impl, np.ufunc))
                      for i, op in enumerate(ops) if op is not None]
        self.base = [None if c is None else np.float64(c) for c in program.consts]
        self._arena: np.ndarray | None = None

    def arena(self, rows: int) -> np.ndarray:
        if self._arena is None or self._arena.shape[1] < rows:
            self._arena = np.empty((max(1, len(self.row_nodes)), rows))
        return self._arena

    def run(self, inputs: list, outputs: Sequence[int], wrt: Sequence[int]):
        """(output values, gradient rows) or None when something is not finite."""
        program = self.program
        n = max(len(x) for x in inputs if np.ndim(x))
        values = list(self.base)
        for i, x in zip(program.input_index, inputs, strict=True):
            values[i] = x
            if not (np.isfinite(x).all() if np.ndim(x) else math.isfinite(x)):
                return None
        out_values = {o: np.empty(n) if self.row[o] else None for o in outputs}
        grads = {(o, i): (np.empty(n) if self.row[i] else None) for o in outputs for i in wrt}
        step = self.chunk if self.chunk < n else n
        arena = self.arena(step)
        ones = np.ones(step) if any(self.row[o] for o in outputs) else None  # seeds of columns
        scalars_done = False
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            m = hi - lo
            local = list(values)
            for i in program.input_index:
                if self.row[i]:
                    local[i] = values[i][lo:hi]
            if not self._forward(local, arena[:, :m], scalars_done, values):
                return None
            scalars_done = True
            for o in outputs:
                if self.row[o]:
                    out_values[o][lo:hi] = local[o]
                else:
                    out_values[o] = local[o]
                adjoint = self._sweep(local, o, ones[:m] if self.row[o] else np.float64(1.0), m)
                for i in wrt:
                    a = adjoint[i]
                    if self.row[i]:
                        grads[(o, i)][lo:hi] = 0.0 if a is None else a
                    else:
                        grads[(o, i)] = np.float64(0.0) if a is None else a
        rows = [[grads[(o, i)] for i in wrt] for o in outputs]
        if not all(math.isfinite(np.sum(g)) or np.isfinite(g).all() for row in rows for g in row):
            return None
        return [out_values[o] for o in outputs], rows

    def _forward(self, local: list, arena: np.ndarray, scalars_done: bool, shared: list) -> bool:
        row, slot = self.row, self.slot
        with np.errstate(all="ignore"):
            for i, impl, args, ufunc in self.steps:
                if not row[i]:
                    if not scalars_done:
                        shared[i] = impl(*[local[a] for a in args])
                        if not math.isfinite(shared[i]):
                            return False
                    local[i] = shared[i]
                elif ufunc:
                    local[i] = impl(*[local[a] for a in args], out=arena[slot[i]])
                else:
                    local[i] = impl(*[local[a] for a in args])
                    if local[i].shape != arena[slot[i]].shape:
                        local[i] = np.broadcast_to(local[i], arena[slot[i]].shape)
                    arena[slot[i]] = local[i]
                    local[i] = arena[slot[i]]
            total = np.add.reduce(arena, axis=None) if arena.size else 0.0
        return math.isfinite(total) or bool(np.isfinite(arena).all())

    def _sweep(self, values: list, output: int, seed, m: int) -> list:
        """The engine's reverse sweep on this slice: the same terms in the same order."""
        row, args_of = self.row, self.program.args
        adjoint: list = [None] * len(values)
        adjoint[output] = seed
        shape = (m,)
        with np.errstate(all="ignore"):
            for e in self.edges[output]:
                a = adjoint[e.i]
                rule = e.rule
                if rule.const == -1.0 and not e.first and row[e.c] and np.ndim(a):
                    adjoint[e.c] = adjoint[e.c] - a  # x + a * -1 in one pass (IEEE: x - a)
                    continue
                if rule.const is not None:
                    g = a if rule.const == 1.0 else a * rule.const
                else:
                    g = a * _partial(rule, [values[j] for j in args_of[e.i]], values[e.i])
                if row[e.c]:
                    if np.ndim(g) == 0:
                        g = np.broadcast_to(g, shape)
                elif np.ndim(g):
                    g = np.sum(g)
                adjoint[e.c] = g if e.first else adjoint[e.c] + g
        return adjoint


def _partial(rule, args: list, out):
    """The rule's folded steps on numpy values (what ``rule.fn`` computes)."""
    return render(rule, param=args.__getitem__, const=_same, own=lambda: out, apply=_call,
                  numeric=True)


def _same(x):
    return x


def _call(prim, operands: list, _j: int):
    return prim.impl(*operands)
