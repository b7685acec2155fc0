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
import sys
import threading
from collections.abc import Sequence

import numpy as np

from ..core.schedule import reaches, sweep_schedule
from ..language.program import Program
from ..language.rules import render
from .point import global_name, literal

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
        combines = rows_meet(program, row, self.edges.values())
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


def rows_meet(program: Program, row: Sequence[bool], sweeps) -> bool:
    """Does the program (or one of the reverse sweeps ``sweeps``, lists of terms) combine its
    rows: a reduction, or a column's adjoint summed into a number's? Then every row is needed at
    once (no chunks)."""
    return any(op is not None and op.reduces for op in program.ops) or any(
        row[e.i] and not row[e.c] for edges in sweeps for e in edges)


# --- compiled: the same work as straight-line Python ------------------------------------------

COMPILE_MAX_NODES = 200  # larger programs are interpreted: compiling them costs more than it saves


class Unsupported(Exception):
    """The program is not compiled for all rows (too large, not finite constants, rows apart)."""


def compile_all_rows(program: Program, row: Sequence[bool], needs: Sequence[bool],
                     outputs: Sequence[int]) -> AllRowsCode | None:
    """The program compiled for all rows at once, or None where it is interpreted."""
    try:
        return AllRowsCode(program, row, needs, outputs)
    except Unsupported:
        return None


class _Val:
    """A value of the generated code: its Python expression; a number, a column, or a number
    standing for a column of that number on every row (``spread``: an adjoint broadcast to a
    column, which elementwise operations read as the number); ``fresh``: an array made by this
    evaluation that nothing else holds (it can be handed to the caller as it is); ``seed``: the
    sweep's seed 1."""

    __slots__ = ("expr", "kind", "fresh", "seed")

    def __init__(self, expr: str, kind: str, fresh: bool = False, seed: bool = False):
        self.expr, self.kind, self.fresh, self.seed = expr, kind, fresh, seed


class AllRowsCode:
    """A small program's evaluation over all rows at once (rows that meet: a reduction, or an
    adjoint summed over the rows) as one generated Python function: the interpreter's numpy calls
    (:class:`AllRowsRun`, the engine's functions on the same operands, terms in the schedule's
    order) without the interpreter's loop, and with fewer passes over the rows and no fresh
    memory, each giving the same bits:

    - non-finite results are found as the compiled slices find them (:mod:`slpdiff.fast.slices`):
      numpy's floating-point errors raised (a ufunc making inf or nan from finite numbers signals
      it), inputs, numbers and the results of functions that are not ufuncs checked, instead of
      a pass over every column's values and every gradient;
    - an adjoint that is one number on every row stays that number (``a * p`` on a column is
      ``a`` times each row either way); the seed 1 multiplies nothing (``1 * x`` is ``x``);
    - a term ``-1`` summed into a number's adjoint is ``0.0 - sum(a)``, not ``sum(a * -1)``:
      negating every addend of numpy's sum negates each of its roundings, and a zero total is
      ``+0.0`` both ways (numpy's sum adds to ``+0.0``);
    - every column a ufunc computes is written into a buffer made once (``out=``), handed on
      once the last reader of its value has run, as the slices' registers are; the results go
      into arrays of their own, which are taken again by the next evaluation when the caller has
      let go of them (:meth:`results`): fresh memory costs a page fault per 4 KiB, more than the
      arithmetic on it.
    """

    def __init__(self, program: Program, row: Sequence[bool], needs: Sequence[bool],
                 outputs: Sequence[int]):
        if len(program) > COMPILE_MAX_NODES:
            raise Unsupported("a large program")
        if not all(math.isfinite(c) for c in program.consts if c is not None):
            raise Unsupported("a constant is not finite")
        self.program, self.row = program, row
        self.outputs = list(dict.fromkeys(outputs))
        sweeps = {o: sweep_schedule(program, needs, o) for o in self.outputs}
        if not rows_meet(program, row, sweeps.values()):
            raise Unsupported("rows apart: the interpreter's chunks keep them in the cache")
        self.wrt = [i for i in program.input_index if needs[i]]
        self.at = {o: k for k, o in enumerate(self.outputs)}  # the generated function's order
        self.where = {i: k for k, i in enumerate(self.wrt)}
        self.env: dict[str, object] = {"_fin": math.isfinite, "_add": _add, "_spread": _spread,
                                       "_shaped": _shaped, "_copy": _copy, "_full": np.full,
                                       "_zeros": np.zeros, "_zero": np.float64(0.0),
                                       "_one": np.float64(1.0), "_nan": math.nan,
                                       "_inf": math.inf}
        self._names: dict[int, str] = {}
        self.ins: list[tuple[str, list[str], str | None]] = []  # (line, columns read, written)
        self.temps = 0
        self.value: dict[int, _Val] = {}
        self.sums: dict[str, _Val] = {}  # a column's name -> its sum over the rows
        reach = reaches(program, self.outputs)
        self.checked = [(k, row[i]) for k, i in enumerate(program.input_index) if reach[i]]
        self._forward(reach)
        adjoints = {o: self._sweep(sweeps[o], o) for o in self.outputs} if self.wrt else {}
        handed = self._results(adjoints)
        self.buffers = self._allocate(handed)
        self.handed = len(handed)
        params = "".join(f"v{i}, " for i in program.input_index)
        self.source = "\n".join([f"def _run({params}n, W, R):", *self.lines])
        exec(compile(self.source, "<slpdiff all rows>", "exec"), self.env)  # noqa: S102 - no names
        self.fn = self.env["_run"]
        self.lock = threading.Lock()
        self._pool: list[np.ndarray] = []
        self._kept: list[list[np.ndarray]] = []  # the results of the last two evaluations

    # --- emitting ---------------------------------------------------------------------------

    def _fn(self, fn) -> str:
        return global_name(self.env, self._names, fn)

    def _temp(self, column: bool = False) -> str:
        self.temps += 1
        return f"{'c' if column else 't'}{self.temps}"

    def _emit(self, line: str, reads: Sequence[_Val], out: str | None = None) -> None:
        self.ins.append((line, [x.expr for x in reads if x.kind == "col"], out))

    def _number(self, expr: str, reads: Sequence[_Val] = ()) -> _Val:
        """A number computed once, checked (a non-finite number leaves the evaluation to the
        engine)."""
        name = self._temp()
        self._emit(f"    {name} = {expr}", reads)
        self._emit(f"    if not _fin({name}): return None", ())
        return _Val(name, "num")

    def _call(self, impl, operands: list[_Val], column: bool, reduces: bool = False,
              shaped: bool = False) -> _Val:
        """``impl(*operands)``: a number, or a column (a ufunc's, written into a buffer; another
        function's result checked, and with ``shaped`` given the column's shape as the
        interpreter's buffers give it)."""
        args = ", ".join(x.expr for x in operands)
        if reduces and impl is np.sum and operands[0].kind == "col":
            return self._sum(operands[0])
        call = f"{self._fn(impl)}({args}"
        if not column or reduces:
            return self._number(call + ")", operands)
        if isinstance(impl, np.ufunc):
            name = self._temp(column=True)
            self._emit(f"    {name} = {call}, out={_OUT})", operands, name)
            return _Val(name, "col", fresh=True)
        name = self._temp()
        self._emit(f"    {name} = {f'_shaped({call}), n)' if shaped else call + ')'}", operands)
        found = _Val(name, "col")
        self._sum(found)  # finite only if every row is (inf and nan stay in a sum)
        return found

    def _sum(self, column: _Val) -> _Val:
        """numpy's sum of a column over the rows (``np.sum`` of an array calls it), computed
        once per column: the check of a function's result, and a rule's ``sum`` of it."""
        found = self.sums.get(column.expr)
        if found is None:
            found = self.sums[column.expr] = self._number(f"_add({column.expr}, None)", [column])
        return found

    def _binary(self, ufunc, x: _Val, y: _Val) -> _Val:
        """``ufunc(x, y)`` on adjoints: a number when both are (a number standing for a column
        stays one), else a column."""
        if x.kind != "col" and y.kind != "col":
            found = self._number(f"{self._fn(ufunc)}({x.expr}, {y.expr})")
            found.kind = "spread" if "spread" in (x.kind, y.kind) else "num"
            return found
        return self._call(ufunc, [x, y], True)

    # --- the forward values ---------------------------------------------------------------------

    def _forward(self, reach: Sequence[bool]) -> None:
        program, row = self.program, self.row
        for i in program.input_index:
            self.value[i] = _Val(f"v{i}", "col" if row[i] else "num")
        for i, c in enumerate(program.consts):
            if c is not None:
                self.env[f"_k{i}"] = np.float64(c)
                self.value[i] = _Val(f"_k{i}", "num")
        for i, op in enumerate(program.ops):
            if op is None or not reach[i]:
                continue
            operands = [self.value[a] for a in program.args[i]]
            self.value[i] = self._call(op.impl, operands, row[i], op.reduces, shaped=True)

    # --- the reverse sweep ----------------------------------------------------------------------

    def _partial(self, e) -> _Val:
        """The rule's folded steps, rendered as calls (the engine's ``Rule.fn``, step by step)."""
        args = self.program.args[e.i]

        def apply(prim, operands: list, _j: int) -> _Val:
            column = any(x.kind == "col" for x in operands)
            return self._call(prim.impl, operands, column, prim.reduces)

        return render(e.rule, param=lambda k: self.value[args[k]],
                      const=lambda x: _Val(literal(x), "num"), own=lambda: self.value[e.i],
                      apply=apply, numeric=True)

    def _sweep(self, edges, output: int) -> dict[int, _Val]:
        row = self.row
        adj = {output: _Val("_one", "spread" if row[output] else "num", seed=True)}
        for e in edges:
            a, rule, into_column = adj[e.i], e.rule, row[e.c]
            if rule.const == -1.0 and not e.first and into_column and a.kind == "col":
                adj[e.c] = self._call(np.subtract, [adj[e.c], a], True)  # x + a * -1 is x - a
                continue
            if rule.const == -1.0 and not into_column and a.kind == "col":
                g = self._number(f"0.0 - _add({a.expr}, None)", [a])  # sum(a * -1): the class
            else:
                if rule.const is None:
                    p = self._partial(e)
                    g = p if a.seed else self._binary(np.multiply, a, p)
                    if a.seed and a.kind == "spread" and p.kind == "num":
                        g = _Val(p.expr, "spread")  # the seed's column of ones times p
                elif rule.const == 1.0:
                    g = a
                else:
                    g = self._binary(np.multiply, a, _Val(literal(rule.const), "num"))
                if into_column and g.kind == "num":
                    g = _Val(g.expr, "spread", seed=g.seed)
                elif not into_column and g.kind != "num":  # summed over the rows
                    g = self._sum(g) if g.kind == "col" else \
                        self._number(f"_add(_spread({g.expr}, n), None)")
            adj[e.c] = g if e.first else self._binary(np.add, adj[e.c], g)
        return adj

    # --- the results, buffers and code -----------------------------------------------------------

    def _results(self, adjoints: dict[int, dict[int, _Val]]) -> list[str]:
        """The return statement; the columns handed over as they are (each into an array of
        the results, :meth:`results`)."""
        handed: list[str] = []

        def hand(x: _Val) -> str:
            if x.kind == "spread":
                return f"_full(n, {x.expr})"
            if x.kind == "num":
                return x.expr
            if x.fresh and x.expr not in handed:
                handed.append(x.expr)
                return x.expr
            return f"_copy({x.expr})"  # an input's, a view, or handed over already

        values = [hand(self.value[o]) for o in self.outputs]
        grads = []
        for o in self.outputs:
            for i in self.wrt:
                a = adjoints[o].get(i)
                grads.append(hand(a) if a is not None else
                             "_zeros(n)" if self.row[i] else "_zero")
        self._emit(f"    return [{', '.join(values)}], [{', '.join(grads)}]",
                   [_Val(x, "col") for x in handed])
        return handed

    def _allocate(self, handed: list[str]) -> int:
        """Buffers for the columns the ufuncs write (the results: arrays of their own): a
        buffer is handed on once the last reader of its value has run, so the buffers are as
        many as columns alive at once. Returns their number; sets :attr:`lines`."""
        last: dict[str, int] = {}
        for k, (_, reads, _) in enumerate(self.ins):
            for r in reads:
                last[r] = k
        result = {name: j for j, name in enumerate(handed)}
        held: dict[str, int] = {}  # column -> its buffer
        free: list[int] = []
        count = 0
        self.lines = []
        for k, (line, reads, out) in enumerate(self.ins):
            for r in dict.fromkeys(reads):
                if last[r] == k and r in held:
                    free.append(held.pop(r))
            if out is not None:
                if out in result:
                    line = line.replace(_OUT, f"R[{result[out]}]")
                else:
                    if not free:
                        free.append(count)
                        count += 1
                    held[out] = free.pop()
                    line = line.replace(_OUT, f"W[{held[out]}]")
                    if last.get(out, -1) < k:  # never read: its buffer serves again at once
                        free.append(held.pop(out))
            self.lines.append(line)
        return count

    def pool(self, n: int) -> list[np.ndarray]:
        """The buffers for ``n`` rows (made once, kept for the next evaluations: of fewer rows
        their first ``n``, as the interpreter's arena)."""
        if not self._pool or len(self._pool[0]) < n:
            self._pool = [np.empty(n) for _ in range(self.buffers)]
        if not self._pool or len(self._pool[0]) == n:
            return self._pool
        return [b[:n] for b in self._pool]

    def results(self, n: int) -> list[np.ndarray]:
        """Arrays for the results: those of one of the last two evaluations again where nobody
        else holds them any more, else new ones. Two, because a loop such as
        ``result = evaluate(...)`` still holds the last results while the next are computed
        (:meth:`slpdiff.fast.slices.SliceCode.results` keeps one)."""
        for k, kept in enumerate(self._kept):
            # references to each array: the list ``kept``, the name ``a`` and getrefcount's
            if all(len(a) == n and sys.getrefcount(a) == 3 for a in kept):
                self._kept.append(self._kept.pop(k))  # the newest now
                return kept
        arrays = [np.empty(n) for _ in range(self.handed)]
        if 8 * n * self.handed <= KEEP_BYTES:
            self._kept = [*self._kept[-1:], arrays]
        return arrays

    def run(self, inputs: list, outputs: Sequence[int], wrt: Sequence[int], n: int | None = None):
        """(output values, gradient rows) as :meth:`AllRowsRun.run` gives them, or None when
        something is not finite (the engine then says where)."""
        if n is None:
            n = max(len(x) for x in inputs if np.ndim(x))
        # The buffers are the program's own; an evaluation running meanwhile in another thread
        # (numpy lets go of the GIL in its loops) gets buffers of its own.
        mine = self.lock.acquire(blocking=False)
        try:
            with raised_errors():
                for k, column in self.checked:
                    x = inputs[k]
                    if not (all_finite(x) if column else math.isfinite(x)):
                        return None
                if mine:
                    pool, arrays = self.pool(n), self.results(n)
                else:
                    pool = [np.empty(n) for _ in range(self.buffers)]
                    arrays = [np.empty(n) for _ in range(self.handed)]
                done = self.fn(*inputs, n, pool, arrays)
        except FloatingPointError:
            return None
        finally:
            if mine:
                self.lock.release()
        if done is None:
            return None
        return self._gathered(done, outputs, wrt, n)

    def _gathered(self, done: tuple, outputs: Sequence[int], wrt: Sequence[int], n: int):
        """The generated function's results for the outputs and inputs asked (an output asked
        for twice gets arrays of its own)."""
        values, flat = done
        at, where, width = self.at, self.where, len(self.wrt)
        seen: set[int] = set()
        out_values, rows = [], []
        for o in outputs:
            k = at[o]
            again = k in seen
            seen.add(k)
            out_values.append(_copy(values[k]) if again else values[k])
            found = []
            for i in wrt:
                j = where.get(i)
                g = flat[k * width + j] if j is not None else (
                    np.zeros(n) if self.row[i] else np.float64(0.0))
                found.append(_copy(g) if again else g)
            rows.append(found)
        return out_values, rows


_OUT = "@out@"  # where a column's buffer goes in a generated line
KEEP_BYTES = 1 << 26  # results kept for reuse by the next evaluation (see AllRowsCode.results)


def raised_errors():
    """numpy's floating-point errors raised: a ufunc that makes inf or nan from finite numbers
    signals it, and the compiled code gives the values to the engine (which says where). Per
    thread: each thread that runs compiled code enters it."""
    return np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")


def _copy(x):
    """A column of the caller's own (a number as it is)."""
    return np.array(x, np.float64) if isinstance(x, np.ndarray) and x.ndim else x


def _shaped(x, n: int):
    """A node's column as the interpreter's buffers hold it: ``n`` rows."""
    return x if np.shape(x) == (n,) else np.broadcast_to(x, (n,))


def all_finite(x) -> bool:
    """Are all numbers of the column ``x`` finite? (A sum first: one pass, no temporary; within
    :func:`raised_errors`, a sum of finite numbers that overflows is looked at again.)"""
    try:
        if math.isfinite(_add(x, None)):
            return True
    except FloatingPointError:  # a sum of finite numbers may overflow
        pass
    return bool(np.isfinite(x).all())
