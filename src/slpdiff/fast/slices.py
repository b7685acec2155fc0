"""The fast path for arrays of points, compiled: a program's forward values and reverse sweeps as
generated Python that calls the table's numpy functions on cache-sized slices of rows, every
result written into a buffer made once (``out=``), giving the engine's results bit for bit.

It renders the same work as the reference engine's ``forward`` and ``reverse_sweep`` (the terms of
:func:`~slpdiff.core.schedule.sweep_schedule`, each rule by its folded steps): the same functions
on the same operands in the same order, a number staying a number and a column a column. What it
adds:

- register allocation: every value of a slice is a virtual register; a buffer is handed to the
  next value once the last reader of its value has run, so the working set of a slice is the
  largest number of values alive at once, and a sum of adjoint terms accumulates in place
  (``np.add(a, g, a)``) exactly when the old value dies there;
- slices sized by that working set, so that they stay in the cache;
- reductions over the rows (``sum``, ``mean``, and a number's adjoint summed over the rows) split
  at the blocks of numpy's own pairwise summation: each slice is one block, summed by numpy, and
  the blocks' sums are added as numpy adds them (:func:`leaves`, :func:`total`), which is numpy's
  sum bit for bit (the table's ``combine`` gives each reduction's result from it); a reduction
  that is not a sum (``maxrows``) reduces each slice by the table's ``block`` and ``combine``
  gets the slices' results in order (a maximum is exact in any order);
- work on numbers (a rule's constant parts, a weight's partial) done once per evaluation, not per
  slice; multiplications by the seed's 1 skipped (``1 * x`` is ``x``; the result is used only
  when it is finite).

A program is compiled only when a single pass over the slices can give the engine's results: no
column computed from a reduction, and no adjoint before the slices that needs a value only known
after them. Otherwise :class:`SliceCode` raises :class:`Unsupported` and
:mod:`slpdiff.fast.all_rows` runs all rows at once.
Non-finite values are left to the engine, which reports where they start: inputs are checked,
and everything runs with numpy's floating-point errors raised: an IEEE operation that makes inf or
nan from finite numbers signals overflow, division by zero or invalid (a test checks the table's
ufuncs do), and the few results that no flag guards (a function that is not a ufunc, a number
computed once) are checked as they are made. Arrays the caller has let go of are reused for the
next evaluation's results (:meth:`SliceCode.results`).
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import wait

import numpy as np

from ..core.schedule import Edge, reaches, sweep_schedule
from ..language.program import Program
from ..language.rules import render
from .all_rows import all_finite, raised_errors
from .point import global_name, literal
from .threads import get_threads
from .threads import pool as pool_of_threads

PAIRWISE_BLOCK = 128  # numpy sums at most this many numbers without splitting them in two
CACHE_BYTES = 1 << 20  # the working set of one slice (every buffer's slice): fits the L2 cache
MAX_ROWS = 32768  # rows per slice at most (more gains nothing once numpy's loops dominate)
MIN_ROWS = 1024  # and at least (fewer: Python's overhead per call dominates)
KEEP_BYTES = 1 << 26  # results kept for reuse by the next evaluation (see SliceCode.results)
# Larger programs run over all rows at once (``all_rows``) for memory: a slice's buffers, one per
# value alive at once, take about 6 KiB per node of a random DAG (1.8 GiB peak at 100,000 nodes).
# Below it, time decides (``fast.costs``: compiling pays from a few thousand rows evaluated).
MAX_NODES = 100_000


def leaves(n: int, size: int) -> list[tuple[int, int]]:
    """The blocks ``(lo, hi)`` that numpy's pairwise summation of ``n`` numbers splits them into,
    in order, stopping at blocks of at most ``size`` (>= 128) numbers."""
    found, todo = [], [(0, n)]
    while todo:
        lo, k = todo.pop()
        if k <= size:
            found.append((lo, lo + k))
            continue
        half = k // 2 - (k // 2) % 8  # numpy's split: half, rounded down to a multiple of 8
        todo.append((lo + half, k - half))
        todo.append((lo, half))
    return found


def total(parts: list, n: int, size: int):
    """The sums of the blocks of :func:`leaves` added up as numpy's pairwise summation adds
    them: numpy's sum of all ``n`` numbers, bit for bit."""
    return _adder(n, size)(parts)


_ADDERS: dict = {}


def _adder(n: int, size: int):
    """A function adding the block sums ``p[0], p[1], ...`` in the order of numpy's halvings of
    ``n`` (compiled once per ``n``: an expression such as ``(p[0] + p[1]) + p[2]``)."""
    found = _ADDERS.get((n, size))
    if found is None:
        # Post-order over the halvings, without recursion: each block becomes its expression.
        count = 0
        done: list[str] = []
        todo: list = [(n, False)]
        while todo:
            k, split = todo.pop()
            if k <= size:
                done.append(f"p[{count}]")
                count += 1
            elif split:
                right, left = done.pop(), done.pop()
                done.append(f"({left} + {right})")
            else:
                half = k // 2 - (k // 2) % 8
                todo += [(k, True), (k - half, False), (half, False)]
        if len(_ADDERS) > 64:
            _ADDERS.clear()
        found = _ADDERS[(n, size)] = eval(f"lambda p: {done[0]}")  # noqa: S307 - indices only
    return found


class Unsupported(Exception):
    """The program needs something a single pass over the slices cannot give."""


class _Reg:
    """A virtual register: a column of one slice. ``ext``: the name of a view given to the slice
    (an input, an output's or a gradient's slice), else it gets a buffer from the pool."""

    __slots__ = ("ext", "buf", "last")

    def __init__(self, ext: str | None = None):
        self.ext, self.buf, self.last = ext, None, -1


class SliceCode:
    """One program compiled for arrays of rows (inputs: numbers and columns of one length).

    Building it emits code in three parts, each a list of Python lines: ``pro`` (numbers computed
    once per evaluation, before the slices), ``ins`` (the instructions run on every slice: the
    forward values, then the sweeps' terms), and ``epi`` (numbers computed after the slices: the
    reductions and what depends on them). Then the per-slice registers get buffers
    (:meth:`_allocate`) and the source is compiled (:meth:`_generate`).
    """

    def __init__(self, program: Program, row: Sequence[bool], needs: Sequence[bool],
                 outputs: Sequence[int]):
        n = len(program)
        if n > MAX_NODES:
            raise Unsupported("a large program")
        self.program = program
        self.row = row  # per node: a column (one number per row)?
        self.outputs = list(dict.fromkeys(outputs))
        self.post = _after_reductions(program, row)
        if not all(math.isfinite(c) for c in program.consts if c is not None):
            raise Unsupported("a constant is not finite")
        # The generated code's globals: numpy functions and helpers, by generated names.
        self.env: dict[str, object] = {"_copyto": np.copyto, "_sum": np.add.reduce,
                                       "_fin": math.isfinite, "_total": total}
        self.names: dict[int, str] = {}  # id(function) -> its name in env
        self.nz = n  # Z[j] holds node j's value when it is a number; more slots follow
        self.pro: list[str] = []  # numbers, once per evaluation before the slices
        self.epi: list[str] = []  # numbers, once after the slices
        self.ins: list[tuple] = []  # per slice: (template, registers read, register written)
        self.sums = 0  # lists of per-slice block sums (P[j])
        self.ext: list[str] = []  # per slice views: inputs, outputs, gradients
        self.ext_kind: list[tuple] = []  # what each view is: ("input"|"output", node) or grad
        self.value: dict[int, object] = {}  # node -> _Reg or str (a number's expression)
        self.reductions: list[tuple] = []  # (node, sums list or None), after the slices
        # per output: (output, edges, the terms recorded for numbers' adjoints, adjoints)
        self.epi_sweeps: list[tuple] = []
        self.grads_scalar: dict[tuple[int, int], int] = {}  # (output, input) -> Z slot
        for i, op in enumerate(program.ops):
            if op is None or not row[i]:
                self.value[i] = f"Z[{i}]"
        for i in program.input_index:
            if row[i]:
                self.value[i] = self._external(("input", i))
        self._forward(reaches(program, self.outputs))
        self.forward_count = len(self.ins)
        for o in self.outputs:
            self._sweep(o, needs)
        self._epilogue()
        # Set by _allocate and _generate:
        self.buffers = 0  # buffers in the pool, one per register alive at once
        self.working = 0  # columns of one slice: buffers and views
        self.source = ""
        self.pro_fn = self.fwd_fn = self.bwd_fn = self.epi_fn = None
        self._allocate()
        self._generate()
        # Run-time state (see run):
        self._pools: list[list] = []
        self._pool_rows = 0
        self._blocks: dict = {}
        self._last: list | None = None
        self.lock = threading.Lock()
        self.z0 = [None] * self.nz
        for i, c in enumerate(program.consts):
            if c is not None:
                self.z0[i] = np.float64(c)
        self.scalar_inputs = [(k, i) for k, i in enumerate(program.input_index) if not row[i]]
        self.ext_inputs = [program.input_index.index(kind[1]) if kind[0] == "input" else None
                           for kind in self.ext_kind]
        self.where = {kind: k for k, kind in enumerate(self.ext_kind)}
        self.checked = [k for k, kind in enumerate(self.ext_kind) if kind[0] == "input"]

    # --- emitting ---------------------------------------------------------------------------

    def _fn(self, fn) -> str:
        return global_name(self.env, self.names, fn)

    def _external(self, kind: tuple) -> _Reg:
        reg = _Reg(f"e{len(self.ext)}")
        self.ext.append(reg.ext)
        self.ext_kind.append(kind)
        return reg

    def _slot(self) -> str:
        self.nz += 1
        return f"Z[{self.nz - 1}]"

    def _scalar(self, lines: list[str], expr: str) -> str:
        """A number computed once per evaluation (checked: a non-finite number, even a Python
        float's, leaves the evaluation to the engine)."""
        z = self._slot()
        lines.append(f"    {z} = {expr}")
        lines.append(f"    if not _fin({z}): return False")
        return z

    def _emit(self, template: str, reads: list, out: _Reg | None = None) -> _Reg:
        """A per-slice instruction; ``{0}``... in ``template`` are ``reads``, ``{out}`` the
        register written (a new one unless given)."""
        if "{out}" not in template:
            out = None
        elif out is None:
            out = _Reg()
        self.ins.append((template, reads, out))
        return out

    def _call(self, prim_impl, operands: list, lines: list[str], out: _Reg | None = None):
        """``prim_impl(*operands)``: a number (a statement in ``lines``) if every operand is a
        number, else a column written into a register."""
        f = self._fn(prim_impl)
        regs = [x for x in operands if isinstance(x, _Reg)]
        if not regs:
            return self._scalar(lines, f"{f}({', '.join(operands)})")
        slots, k = [], 0
        for x in operands:
            if isinstance(x, _Reg):
                slots.append(f"{{{k}}}")
                k += 1
            else:
                slots.append(x)
        call = f"{f}({', '.join(slots)}"
        if isinstance(prim_impl, np.ufunc):
            return self._emit(call + ", out={out})", regs, out)
        # not a ufunc: its result is copied into the buffer, and checked (no flag may be raised)
        self.env["_check"] = _check
        return self._emit(f"_t = {call}); _check(_t); _copyto({{out}}, _t)", regs, out)

    # --- the forward pass ---------------------------------------------------------------------

    def _forward(self, reach: list[bool]) -> None:
        program, row = self.program, self.row
        ops, args_of = program.ops, program.args
        outs = {o: self._external(("output", o)) for o in self.outputs if row[o]
                and ops[o] is not None}
        for i, op in enumerate(ops):
            if op is None or not reach[i]:
                continue
            operands = [self.value[a] for a in args_of[i]]
            if row[i] and op.impl is np.power and program.consts[args_of[i][1]] == 2.0:
                # x^2 as numpy's square: power's bits (its fast path for the exponent 2), faster
                self.value[i] = self._call(np.square, operands[:1], [], outs.get(i))
            elif row[i]:
                self.value[i] = self._call(op.impl, operands, [], outs.get(i))
            elif self.post[i] and op.reduces and isinstance(operands[0], _Reg):
                if op.combine is None:
                    raise Unsupported(f"{op.name} over rows has no combine")
                j = None
                if op.combine_total or op.block is not None:
                    j = self.sums
                    self.sums += 1
                    part = "_sum" if op.block is None else self._fn(op.block)
                    self._emit(f"P[{j}].append({part}({{0}}))", [operands[0]])
                self.reductions.append((i, j))
                self.value[i] = f"Z[{i}]"
            elif self.post[i]:
                self.reductions.append((i, None))
            else:
                self._scalar_node(self.pro, i)

    def _scalar_node(self, lines: list[str], i: int) -> None:
        args = ", ".join(self.value[a] for a in self.program.args[i])
        lines.append(f"    Z[{i}] = {self._fn(self.program.ops[i].impl)}({args})")
        lines.append(f"    if not _fin(Z[{i}]): return False")

    # --- the reverse sweep ----------------------------------------------------------------------

    def _partial(self, e: Edge, lines: list[str]):
        """The rule's folded steps: a number (statements in ``lines``, or the prologue's when
        they only need numbers known before the slices) or a column."""
        args = self.program.args[e.i]
        early = lines is self.pro  # before the slices: no value known only after them

        def value(c: int):
            if self.post[c] and early:
                raise Unsupported("a rule needs a value known after the slices")
            return self.value[c]

        def apply(prim, operands: list, _j: int):
            if prim.reduces and any(isinstance(x, _Reg) for x in operands):
                if prim.combine is None or prim.combine_total:
                    raise Unsupported("a rule reduces a column")
                return self._scalar(self.pro, f"{self._fn(prim.combine)}(None, n)")
            return self._call(prim.impl, operands, self.epi if lines is self.epi else self.pro)

        return render(e.rule, param=lambda k: value(args[k]), const=literal,
                      own=lambda: value(e.i), apply=apply, numeric=True)

    def _term(self, e: Edge, a, lines: list[str]):
        """The engine's ``g``: ``a * rule.const`` or ``a * partial`` (``a`` is 1.0: the seed)."""
        rule = e.rule
        if rule.const is not None:
            if rule.const == 1.0:
                return a
            p = literal(rule.const)
        else:
            p = self._partial(e, lines)
        if a == "1.0":
            return p
        return self._call(np.multiply, [a, p], lines)

    def _sweep(self, output: int, needs: Sequence[bool]) -> None:
        row, post = self.row, self.post
        edges = sweep_schedule(self.program, needs, output)
        adj: dict[int, object] = {output: "1.0"}  # np.float64(1.0) or ones: the seed
        recorded: dict[int, object] = {}  # edge number -> its term for a number's adjoint
        # 1. before the slices: adjoints of numbers computed from reductions
        for k, e in enumerate(edges):
            if not post[e.i] or row[e.c]:
                continue
            g = self._term(e, adj[e.i], self.pro)
            if post[e.c]:
                adj[e.c] = g if e.first else self._scalar(self.pro, f"{adj[e.c]} + {g}")
            else:
                recorded[k] = g
        # 2. per slice: adjoints of columns, and columns' terms for numbers summed over the rows
        for k, e in enumerate(edges):
            if not (row[e.i] or (post[e.i] and row[e.c])):
                continue
            if row[e.c] and not e.first and e.rule.const == -1.0 and isinstance(adj[e.i], _Reg):
                # the engine's adj + a * -1 in one call: x + -a is x - a (IEEE 754 defines it so)
                adj[e.c] = self._call(np.subtract, [adj[e.c], adj[e.i]], self.pro)
                continue
            g = self._term(e, adj[e.i], self.pro)
            if row[e.c]:
                if e.first:
                    adj[e.c] = g
                elif isinstance(adj[e.c], str) and isinstance(g, str):
                    adj[e.c] = self._scalar(self.pro, f"{adj[e.c]} + {g}")
                else:
                    adj[e.c] = self._call(np.add, [adj[e.c], g], self.pro)
            else:
                if isinstance(g, str):  # a number on every row: summed as a column
                    g = self._emit("_copyto({out}, " + g.replace("{", "{{") + ")", [])
                j = self.sums
                self.sums += 1
                self._emit(f"P[{j}].append(_sum({{0}}))", [g])
                recorded[k] = ("sum", j)
        # 3. after the slices: adjoints of numbers that columns are computed from
        self.epi_sweeps.append((output, edges, recorded, adj))
        for i in self.program.input_index:
            if needs[i] and row[i] and i in adj:
                self._grad_row(output, i, adj[i])

    def _grad_row(self, output: int, i: int, a) -> None:
        dest = self._external(("grad", output, i))
        if isinstance(a, _Reg) and a.ext is None:
            a.ext = dest.ext  # the instruction that computes it writes the gradient's slice
            return
        if isinstance(a, _Reg):
            self._emit("_copyto({out}, {0})", [a], dest)
        else:
            self._emit("_copyto({out}, " + a + ")", [], dest)

    def _epilogue(self) -> None:
        """After the slices: reductions' values, numbers computed from them, and the adjoints of
        numbers that columns are computed from (every term in the engine's order)."""
        ops = self.program.ops
        for i, j in self.reductions:
            op = ops[i]
            if op.reduces and any(self.row[a] for a in self.program.args[i]):
                tot = "None" if j is None else f"P[{j}]" if op.block is not None \
                    else f"_total(P[{j}], n, L)"
                self.epi.append(f"    Z[{i}] = {self._fn(op.combine)}({tot}, n)")
                self.epi.append(f"    if not _fin(Z[{i}]): return False")
            else:
                self._scalar_node(self.epi, i)
        for output, edges, recorded, adj in self.epi_sweeps:
            for k, e in enumerate(edges):
                if self.row[e.c] or self.post[e.c]:
                    continue
                if k in recorded:
                    g = recorded[k]
                    if isinstance(g, tuple):
                        g = self._scalar(self.epi, f"_total(P[{g[1]}], n, L)")
                else:
                    g = self._term(e, adj[e.i], self.epi)
                adj[e.c] = g if e.first else self._scalar(self.epi, f"{adj[e.c]} + {g}")
            for i in self.program.input_index:
                if not self.row[i] and i in adj:
                    self._scalar(self.epi, adj[i])
                    self.grads_scalar[(output, i)] = self.nz - 1  # the slot just taken

    # --- allocation and code ------------------------------------------------------------------

    def _allocate(self) -> None:
        """Give every register without a view of its own a buffer: a buffer is handed on once the
        last reader of its value has run (liveness over the per-slice instructions)."""
        ins = self.ins
        for k, (_, reads, _) in enumerate(ins):
            for r in reads:
                r.last = k
        free: list[int] = []
        count = 0
        live = set()
        for k, (_, reads, out) in enumerate(ins):
            for r in reads:
                if r.last == k and r.ext is None and r in live:
                    live.discard(r)
                    free.append(r.buf)
            if out is not None and out.ext is None and out.buf is None:
                if free:
                    out.buf = free.pop()
                else:
                    out.buf = count
                    count += 1
                live.add(out)
                if out.last < k:  # never read: its buffer is free again at once
                    live.discard(out)
                    free.append(out.buf)
        self.buffers = count
        self.working = count + len(self.ext)

    def _generate(self) -> None:
        """The source of the four functions (prologue, forward and backward per slice,
        epilogue), compiled."""
        count = self.buffers

        def name(r: _Reg) -> str:
            return r.ext if r.ext is not None else f"w{r.buf}"

        def body(part: list, fname: str) -> str:
            lines = [f"def {fname}(X, W, Z, P):"]
            if self.ext:
                lines.append(f"    {', '.join(self.ext)}, = X")
            if count:
                lines.append(f"    {', '.join(f'w{k}' for k in range(count))}, = W")
            text = []
            for template, reads, out in part:
                text.append("    " + template.format(*map(name, reads),
                                                         out=name(out) if out else ""))
            return "\n".join(lines + (text or ["    pass"]) + ["    return True"])

        k = self.forward_count
        self.source = "\n\n".join([
            "def _pro(Z, n):\n" + "\n".join(self.pro or ["    pass"]) + "\n    return True",
            body(self.ins[:k], "_fwd"), body(self.ins[k:], "_bwd"),
            "def _epi(Z, P, n, L):\n" + "\n".join(self.epi or ["    pass"]) + "\n    return True"])
        exec(compile(self.source, "<slpdiff slices>", "exec"), self.env)  # noqa: S102 - no names
        self.pro_fn, self.fwd_fn = self.env["_pro"], self.env["_fwd"]
        self.bwd_fn, self.epi_fn = self.env["_bwd"], self.env["_epi"]

    def pools(self, rows: int, count: int) -> list[list]:
        """``count`` sets of the buffers (one per thread), ``rows`` long (made once, kept for
        the next evaluation)."""
        if self._pool_rows < rows:
            self._pools, self._pool_rows = [], rows
        while len(self._pools) < count:
            self._pools.append([np.empty(self._pool_rows) for _ in range(self.buffers)])
        return self._pools[:count]

    def results(self, inputs: list, n: int) -> list:
        """The columns of one evaluation: the inputs, and new arrays for the outputs and the
        gradients. An array of the previous evaluation that nobody else holds any more (its
        caller has let go of the result, as a loop over evaluations does) is taken again: the
        same as freeing it and allocating anew, without the page faults of fresh memory."""
        last, self._last = self._last, None
        arrays = []
        for k, position in enumerate(self.ext_inputs):
            if position is not None:
                arrays.append(inputs[position])
                continue
            old = last[k] if last is not None else None
            # references to old: the list ``last``, the name ``old`` and getrefcount's argument
            if old is not None and len(old) == n and sys.getrefcount(old) == 3:
                arrays.append(old)
            else:
                arrays.append(np.empty(n))
            del old
        if 8 * n * (len(arrays) - len(self.checked)) <= KEEP_BYTES:
            self._last = [None if p is not None else a
                          for p, a in zip(self.ext_inputs, arrays, strict=True)]
        return arrays

    def blocks(self, n: int) -> tuple[list, int, int]:
        """The slices ``(lo, hi)`` of ``n`` rows, the block size of the sums over rows, and the
        longest slice."""
        found = self._blocks.get(n)
        if found is None:
            rows = self.rows_per_slice()
            size = max(PAIRWISE_BLOCK, rows)
            if self.sums:  # the blocks of numpy's pairwise sum, so that each is summed whole
                blocks = leaves(n, size)  # in order: their sums are added in that order
            else:
                blocks = [(lo, min(n, lo + rows)) for lo in range(0, n, rows)]
            if len(self._blocks) > 8:
                self._blocks.clear()
            found = self._blocks[n] = (blocks, size, max(hi - lo for lo, hi in blocks))
        return found

    def rows_per_slice(self) -> int:
        """Rows per slice: every buffer's slice together about ``CACHE_BYTES``, a multiple of
        64 rows (slices then start on the vector units' alignment)."""
        rows = CACHE_BYTES // (8 * max(1, self.working)) // 64 * 64
        return max(MIN_ROWS, min(MAX_ROWS, rows))


def _after_reductions(program: Program, row: Sequence[bool]) -> list[bool]:
    """Per node: a number computed from a reduction of a column (known only after every slice).
    Raises :class:`Unsupported` when a column is computed from one (no single pass can)."""
    args_of = program.args
    post = [False] * len(program)
    for i, op in enumerate(program.ops):
        if row[i] or op is None:
            continue
        post[i] = (op.reduces and any(row[a] for a in args_of[i])) or \
            any(post[a] for a in args_of[i])
    if any(row[i] and any(post[a] for a in args_of[i]) for i in range(len(post))):
        raise Unsupported("a column is computed from a reduction")
    return post


def _check(x) -> None:
    if not (math.isfinite(np.add.reduce(x, axis=None)) or np.isfinite(x).all()):
        raise FloatingPointError("not finite")


def run(code: SliceCode, inputs: list, outputs: Sequence[int], wrt: Sequence[int], n: int):
    """``code`` at ``inputs`` (numbers and columns of ``n`` rows): (output values, gradient rows),
    or None when something is not finite (the engine then says where). The slices run on
    :func:`~slpdiff.fast.threads.get_threads` threads."""
    Z = list(code.z0)
    for k, i in code.scalar_inputs:
        x = inputs[k]
        if not math.isfinite(x):
            return None
        Z[i] = x
    blocks, size, longest = code.blocks(n)
    workers = min(get_threads(), len(blocks))
    # The buffers are the program's own; an evaluation running meanwhile in another thread
    # (numpy lets go of the GIL in its loops) gets buffers of its own.
    mine = code.lock.acquire(blocking=False)
    try:
        if mine:
            arrays, pools = code.results(inputs, n), code.pools(longest, workers)
        else:
            arrays = [inputs[k] if k is not None else np.empty(n) for k in code.ext_inputs]
            pools = [[np.empty(longest) for _ in range(code.buffers)] for _ in range(workers)]
        if not _slices(code, Z, blocks, size, arrays, pools, n):
            return None
    finally:
        if mine:
            code.lock.release()
    row = code.row
    values = []
    for o in outputs:
        k = code.where.get(("output", o))
        if k is not None:
            values.append(arrays[k])
        elif row[o]:
            values.append(inputs[code.program.input_index.index(o)])
        else:
            values.append(np.float64(Z[o]))
    grads = []
    for o in outputs:
        found = []
        for i in wrt:
            if row[i]:
                k = code.where.get(("grad", o, i))
                found.append(np.zeros(n) if k is None else arrays[k])
            else:
                slot = code.grads_scalar.get((o, i))
                g = np.float64(0.0 if slot is None else Z[slot])
                if not math.isfinite(g):
                    return None
                found.append(g)
        grads.append(found)
    return values, grads


def _slices(code: SliceCode, Z: list, blocks: list, size: int, arrays: list, pools: list,
            n: int) -> bool:
    """Every slice, on one thread per set of buffers in ``pools``, and the numbers before and
    after them; False if something is not finite."""
    try:
        with raised_errors():
            if not code.pro_fn(Z, n):
                return False
            if len(pools) == 1:
                P: list[list] = [[] for _ in range(code.sums)]
                for lo, hi in blocks:
                    if not _slice(code, Z, arrays, pools[0], lo, hi, P):
                        return False
            else:
                P = _on_threads(code, Z, blocks, arrays, pools)
                if P is None:
                    return False
            return code.epi_fn(Z, P, n, size)
    except FloatingPointError:
        return False


# Called with the first row of each slice, in the thread that runs it (tests: which threads
# ran slices).
observe_slice = None


def _slice(code: SliceCode, Z: list, arrays: list, pool: list, lo: int, hi: int,
           P: list) -> bool:
    """The rows ``lo:hi``: their values and adjoints, each sum over them appended to ``P``."""
    if observe_slice is not None:
        observe_slice(lo)
    X = [a[lo:hi] for a in arrays]
    for k in code.checked:
        if not all_finite(X[k]):
            return False
    W = [w[:hi - lo] for w in pool]
    if not code.fwd_fn(X, W, Z, P):
        return False
    code.bwd_fn(X, W, Z, P)
    return True




class _Shared:
    """One evaluation's slices as its threads share them: the next slice to take, whether to
    stop, and each slice's sums over its rows."""

    def __init__(self, count: int, sums: int):
        self.next = itertools.count()  # next() of a C iterator: one slice per taker
        self.count = count
        self.stop = False  # a slice was not finite, failed, or the caller was interrupted
        self.failed: BaseException | None = None
        self.parts: list = [None] * count  # per slice: its P (a list per sum over rows)
        self.sums = sums


def _on_threads(code: SliceCode, Z: list, blocks: list, arrays: list, pools: list):
    """The slices on ``len(pools)`` threads, this one among them, each taking the next slice
    not taken: their sums over rows gathered in the slices' order (the order of one thread,
    whatever thread ran which slice), or None if something is not finite."""
    shared = _Shared(len(blocks), code.sums)

    def work(pool: list) -> None:
        try:
            with raised_errors():  # numpy's error state is each thread's own
                while not shared.stop:
                    s = next(shared.next)
                    if s >= shared.count:
                        return
                    P: list[list] = [[] for _ in range(shared.sums)]
                    lo, hi = blocks[s]
                    if not _slice(code, Z, arrays, pool, lo, hi, P):
                        shared.stop = True
                        return
                    shared.parts[s] = P
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            shared.failed = shared.failed or e
            shared.stop = True

    helpers = [pool_of_threads(len(pools) - 1).submit(work, p) for p in pools[1:]]
    try:
        work(pools[0])
        for helper in helpers:
            helper.cancel()  # not started yet (the pool busy elsewhere): not needed any more
        wait(helpers)
    finally:
        # Leaving early (Ctrl-C): the other threads stop after their slice, and are done with
        # the buffers before anyone may use them again.
        shared.stop = True
        wait(helpers)
    if isinstance(shared.failed, FloatingPointError):
        return None
    if shared.failed is not None:
        raise shared.failed
    if shared.stop and any(part is None for part in shared.parts):
        return None
    return [[x for part in shared.parts for x in part[j]] for j in range(code.sums)]


