"""A program over rows split into partitions that are evaluated apart (on a cluster's workers),
with the meaning rows have in one process.

Without a reduction of a column, rows are independent: each partition is evaluated as a chunk is,
by the same engine and fast path (:func:`evaluate_piece`). With reductions, a reduction is one
number over ALL rows of all partitions, so a run takes passes:

1. **Reduction values**, level by level (a level's arguments use only reductions of earlier
   levels): each partition returns the sum of each argument over its rows and its row count
   (:meth:`Partitioned.partial_sums`); the totals are added in partition order and the table's
   ``combine`` makes the value (``mean`` is the total over the total count, never a mean of means).
2. **Sums of partial derivatives**: with every reduction frozen to its value (the program with
   reductions as inputs, every node row-local), each partition returns the sums over its rows of
   each reduction argument's partial derivatives in the other reductions and the numbers given
   once (:meth:`Partitioned.derivative_sums`).
3. **Rows**: each partition evaluates the frozen program and adds the paths through the
   reductions by the chain rule (:meth:`Partitioned.evaluate`): row ``i``'s own
   ``d m_i / d x_i = dF_m/dx (i) + sum_r dF_m/dr (i) d r / d x_i``, where
   ``d r / d x_i = c_r (dF_g_r/dx (i) + sum_r' S_r,r' d r' / d x_i)``, ``g_r`` the reduction's
   argument, ``c_r`` its factor (1 for ``sum``, ``1/n`` for ``mean``, 0 for ``count``) and
   ``S_r,r'`` the sum over all rows of ``dF_g_r/dr'`` from pass 2. A number ``a`` given once
   gets ``d m_i / d a`` likewise, with ``d r / d a = c_r (sum_j dF_g_r/da (j) + ...)``.

This is the meaning of :mod:`slpdiff.core.rows` (each row's own derivatives, numbers given once
shared), computed from sums instead of one sweep over all rows: the sums are added in another
order, so results may differ from the single-process path in the last bits (docs/scale-out.md
states the bound; same partitions, same bits, run after run).

A fit's objective (``optimize --data``) is an output that is one number: the same passes with
every parameter given once give its value and gradient (:meth:`Partitioned.objective`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.engine import Evaluation
from ..core.rows import frozen_name, frozen_program
from ..core.schedule import depends, per_row
from ..evaluation import evaluate
from ..language.program import Program
from .points import Chunk


def argument_name(position: int) -> str:
    """The output that is the argument of the reduction at ``position``."""
    return f"%g{position}"


@dataclass(frozen=True)
class Reduction:
    """A reduction of a column: its node, its argument's node, its primitive, its level, and the
    earlier reductions its argument depends on."""

    position: int
    argument: int
    level: int
    inner: tuple[int, ...]

    @property
    def name(self) -> str:
        return frozen_name(self.position)


class Partitioned:
    """How ``program`` is evaluated on partitions of rows whose columns are ``columns`` (input
    names), the other inputs being numbers given once (``shared``)."""

    def __init__(self, program: Program, columns: Sequence[str]):
        self.program = program
        given_columns = set(columns)
        self.columns = [name for name in program.input_names if name in given_columns]
        is_column = [name in set(columns) for name in program.input_names]
        row = per_row(program, is_column)
        self.reductions = _reductions(program, row)
        self.frozen = _frozen(program, self.reductions)
        self.levels = sorted({r.level for r in self.reductions})

    def at_level(self, level: int) -> list[Reduction]:
        return [r for r in self.reductions if r.level == level]

    # --- pass 1 -------------------------------------------------------------------------------

    def partial_sums(self, chunk: Chunk, constants: Mapping[str, float],
                     known: Mapping[int, float], level: int) -> list[tuple[float, int]]:
        """For each reduction of ``level``: the sum of its argument over the rows of ``chunk`` and
        their number; ``known``: the values of the reductions of earlier levels."""
        these = self.at_level(level)
        names = [argument_name(r.position) for r in these]
        ev = evaluate(self.frozen, self._at(chunk, constants, known), outputs=names,
                      derivatives=False)
        return [(float(np.sum(np.broadcast_to(ev.values[name], (chunk.rows,)))), chunk.rows)
                for name in names]

    def combine(self, level: int, partials: Sequence[Sequence[tuple[float, int]]]) -> dict:
        """The values of the reductions of ``level`` (by position) from every partition's partial
        sums (in partition order: the same order gives the same bits)."""
        values = {}
        for k, r in enumerate(self.at_level(level)):
            total, rows = 0.0, 0
            for part in partials:
                total += part[k][0]
                rows += part[k][1]
            op = self.program.ops[r.position]
            values[r.position] = float(op.combine(np.float64(total) if op.combine_total else None,
                                                  rows))
        return values

    # --- pass 2 -------------------------------------------------------------------------------

    def derivative_sums(self, chunk: Chunk, constants: Mapping[str, float],
                        reductions: Mapping[int, float], shared: Sequence[str]) -> np.ndarray:
        """Over the rows of ``chunk``: the sum of each reduction argument's partial derivative in
        each reduction and each number given once in ``shared``; a matrix (reduction, that)."""
        ev, names, out = self._arguments(chunk, constants, reductions, shared)
        return self._sums(ev, names, out, chunk.rows)

    def first_pass(self, chunk: Chunk, constants: Mapping[str, float],
                   shared: Sequence[str]) -> tuple[list[tuple[float, int]], np.ndarray]:
        """Passes 1 and 2 at once, for a program whose reductions are all of level 0 (no
        argument uses a reduction): one evaluation of the arguments and their derivatives, one
        map-reduce per evaluation of a fit."""
        ev, names, out = self._arguments(chunk, constants, {}, shared)
        partials = [(float(np.sum(np.broadcast_to(ev.values[g], (chunk.rows,)))), chunk.rows)
                    for g in out]
        return partials, self._sums(ev, names, out, chunk.rows)

    def _arguments(self, chunk, constants, reductions, shared):
        # The reductions and the numbers given once are numbers here, not repeated on every
        # row: the reverse sweep then sums their adjoints over the rows itself (numpy's sum).
        names = [r.name for r in self.reductions] + list(shared)
        out = [argument_name(r.position) for r in self.reductions]
        ev = evaluate(self.frozen, self._at(chunk, constants, reductions), wrt=names,
                      outputs=out)
        return ev, names, out

    @staticmethod
    def _sums(ev: Evaluation, names, out, rows: int) -> np.ndarray:
        sums = np.zeros((len(out), len(names)))
        for i, g in enumerate(out):
            for j, name in enumerate(names):
                total = ev.gradient[g][name]
                sums[i, j] = total if not np.ndim(total) else np.sum(total)
        return sums

    # --- pass 3 -------------------------------------------------------------------------------

    def evaluate(self, chunk: Chunk, constants: Mapping[str, float],
                 reductions: Mapping[int, float], sums: np.ndarray | None, rows: int,
                 wrt: Sequence[str]) -> Evaluation:
        """Values and each row's own derivatives in ``wrt`` at the rows of ``chunk``; ``rows``
        is the number of rows of all partitions, ``sums`` the total of
        :meth:`derivative_sums` over all partitions (with ``shared`` the inputs of ``wrt`` given
        once)."""
        program = self.program
        if not self.reductions:
            return evaluate_piece(program, chunk, constants, wrt)
        shared = [name for name in wrt if name not in chunk.columns]
        frozen_names = [r.name for r in self.reductions]
        out = [*program.output_names, *(argument_name(r.position) for r in self.reductions)]
        ev = evaluate(self.frozen, self._at(chunk, constants, reductions,
                                            spread=[*frozen_names, *shared]),
                      wrt=[*wrt, *frozen_names], outputs=out)
        through = self._through(ev, sums, rows, wrt, shared)
        gradient = {}
        for m in program.output_names:
            gradient[m] = {x: _add(ev.gradient[m][x], [(ev.gradient[m][r.name], through[r][x])
                                                       for r in self.reductions])
                           for x in wrt}
        at = {name: ev.at[name] for name in program.input_names}
        values = {m: ev.values[m] for m in program.output_names}
        warnings = [w for w in ev.warnings if w.position not in self._frozen_positions]
        return Evaluation(program, at, values, gradient, warnings, ev.node_values)

    @property
    def _frozen_positions(self) -> set[int]:
        return {r.position for r in self.reductions}

    def _through(self, ev: Evaluation, sums, rows: int, wrt, shared) -> dict:
        """``d r / d x`` for each reduction ``r`` and input ``x`` of ``wrt``: per row for a
        column, one number for an input given once (inner reductions first)."""
        index = {r.position: k for k, r in enumerate(self.reductions)}
        through: dict[Reduction, dict] = {}
        for k, r in enumerate(self.reductions):
            factor = _factor(self.program, r.position, rows)
            g = argument_name(r.position)
            through[r] = {}
            for x in wrt:
                direct = sums[k, len(self.reductions) + shared.index(x)] if x in shared \
                    else ev.gradient[g][x]
                inner = [(sums[k, index[q]], through[self._reduction(q)][x]) for q in r.inner]
                through[r][x] = factor * _add(direct, inner)
        return through

    def _reduction(self, position: int) -> Reduction:
        return next(r for r in self.reductions if r.position == position)

    # --- fits ---------------------------------------------------------------------------------

    def objective(self, totals: tuple[Mapping[int, float], np.ndarray, int],
                  point: Mapping[str, float], objective: str,
                  wrt: Sequence[str]) -> Evaluation:
        """The value and gradient of ``objective`` (an output that is one number) at ``point``
        (the parameters, every one given once), from the reductions' values, the derivative sums
        and the number of rows of all partitions (``totals``)."""
        reductions, sums, rows = totals
        frozen_names = [r.name for r in self.reductions]
        columns = set(self.columns)
        at = {name: np.float64(point[name]) if name not in columns else np.float64(np.nan)
              for name in self.program.input_names}
        at.update({r.name: np.float64(reductions[r.position]) for r in self.reductions})
        ev = evaluate(self.frozen, at, wrt=[*wrt, *frozen_names], outputs=[objective])
        through = self._through(ev, sums, rows, wrt, list(wrt))
        gradient = {x: _add(ev.gradient[objective][x],
                            [(ev.gradient[objective][r.name], through[r][x])
                             for r in self.reductions]) for x in wrt}
        values = {objective: ev.values[objective]}
        return Evaluation(self.program, dict(point), values, {objective: gradient},
                          [w for w in ev.warnings if w.position not in self._frozen_positions])

    # --- helpers ------------------------------------------------------------------------------

    def _at(self, chunk: Chunk, constants: Mapping[str, float],
            reductions: Mapping[int, float], spread: Sequence[str] = ()) -> dict:
        """The frozen program's inputs: the chunk's columns, the numbers given once, and the
        reductions known (0 for those not yet: no argument asked for uses them). Those in
        ``spread`` are repeated on every row, so that their adjoints stay one per row."""
        n = chunk.rows
        at = {name: chunk.columns[name] for name in self.columns}
        for name in self.program.input_names:
            if name not in at and name in constants:
                at[name] = np.float64(constants[name])
        for r in self.reductions:
            # A reduction not known yet is not used by any value asked for; 0 rather than NaN,
            # since a NaN input sends the evaluation to the reference engine (which reports it).
            at[r.name] = np.float64(reductions.get(r.position, 0.0))
        for name in spread:
            at[name] = np.full(n, at[name], dtype=np.float64)
        return at


def partition_sum_bound(rows: int, partitions: int, chunks: int) -> float:
    """A bound on ``|computed - exact| / sum(|x|)`` for a sum (or mean) of ``rows`` numbers
    added as a cluster adds them: numpy's pairwise sum within each chunk, the chunk sums of a
    partition one after the other (at most ``chunks`` per partition), then the partition sums one
    after the other (``partitions``).

    Each number's path to the total has at most ``d`` additions: numpy's blocks of 128 add 8
    running sums of 16 terms (15), combine them (3) and add up to 7 more (7), its pairwise
    recursion adds ``ceil(log2(rows / 128))`` levels, then ``chunks`` and ``partitions``
    additions, and a mean divides once. The classic bound for any order of addition is then
    ``gamma_d = d u / (1 - d u)``, ``u = 2**-53`` (Higham, Accuracy and Stability of Numerical
    Algorithms, 4.2). Relative to the sum itself it is ``gamma_d * sum(|x|) / |sum(x)|``."""
    u = 2.0 ** -53
    depth = 25 + max(0, math.ceil(math.log2(max(rows, 1) / 128))) + chunks + partitions + 1
    return depth * u / (1 - depth * u)


def totals(part: Partitioned, each,
           shared: Sequence[str]) -> tuple[dict, np.ndarray | None, int | None]:
    """Passes 1 and 2 over every partition: the reductions' values, the sums of partial
    derivatives (None without reductions) and the number of rows. ``each(name, *args)`` runs
    ``part.name(chunk, constants, *args)`` on every partition (with the numbers given once) and
    returns the results in partition order (in this process, or on a cluster)."""
    known: dict[int, float] = {}
    rows = None
    if part.levels == [0]:
        pieces = each("first_pass", list(shared))
        partials = [p for p, _ in pieces]
        sums = None
        for _, piece in pieces:
            sums = piece if sums is None else sums + piece  # partition order: the same bits
        return part.combine(0, partials), sums, sum(p[0][1] for p in partials)
    for level in part.levels:
        partials = each("partial_sums", dict(known), level)
        known.update(part.combine(level, partials))
        rows = sum(p[0][1] for p in partials)
    if not part.reductions:
        return known, None, rows
    sums = None
    for piece in each("derivative_sums", known, list(shared)):
        sums = piece if sums is None else sums + piece  # partition order: the same bits
    return known, sums, rows


def evaluate_piece(program: Program, chunk: Chunk, constants: Mapping[str, float],
                   wrt: Sequence[str] | None) -> Evaluation:
    """A program without reductions of columns at the rows of ``chunk``, as ``eval --points``
    evaluates a chunk (numbers given once repeated on every row)."""
    from .stream import evaluate_chunk

    return evaluate_chunk(program, chunk, constants, wrt)


def _reductions(program: Program, row: Sequence[bool]) -> list[Reduction]:
    """The program's reductions of a value that has one number per row, in program order, with
    their levels."""
    positions = [i for i, op in enumerate(program.ops)
                 if op is not None and op.reduces and row[program.args[i][0]]]
    found: list[Reduction] = []
    for i in positions:
        argument = program.args[i][0]
        inner = tuple(r.position for r in found if depends(program, [r.position])[argument])
        level = 1 + max((r.level for r in found if r.position in inner), default=-1)
        found.append(Reduction(i, argument, level, inner))
    return found


def _frozen(program: Program, reductions: Sequence[Reduction]) -> Program:
    """``program`` with each reduction of ``reductions`` an input named by :func:`frozen_name`,
    and the reductions' arguments outputs too (named by :func:`argument_name`): the frozen
    program of :mod:`slpdiff.core.rows`, positions kept."""
    positions = [r.position for r in reductions]
    outputs = [*program.output_index, *(r.argument for r in reductions)]
    names = [*program.output_names, *(argument_name(p) for p in positions)]
    return frozen_program(program, positions, outputs, names)


def _factor(program: Program, position: int, rows: int) -> float:
    """``d r / d (sum of its argument)``: 1 for a sum, 1/n for a mean, 0 for a count."""
    name = program.ops[position].name
    return {"sum": 1.0, "mean": 1.0 / rows}.get(name, 0.0)


def _add(first, terms: Sequence[tuple[object, object]]):
    """``first + sum of a * b`` over ``terms``, in order."""
    total = first
    for a, b in terms:
        total = total + a * b
    return total
