"""Many points through the one engine: a chunk of rows per pass, numpy arrays as values.

Each chunk is one call of :func:`engine.evaluate`, the same graph code as a single point: every
input is an array of the chunk's length (a value given once, with ``--at``, is repeated on every
row), so each row's partial derivatives are its own. Chunks are sized so that all of a pass's
values and adjoints fit in a fixed memory budget, whatever the program's size, and are handed on as
soon as they are evaluated: memory stays bounded however many rows stream through.

A program that reduces over the rows (``sum``, ``mean``) describes the whole set of points, not
each point on its own, so its rows are gathered and evaluated in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .engine import Evaluation, NonFinite, evaluate
from .graph import Program
from .kinks import KinkHit
from .kinks import find as find_kinks
from .points import Chunk, concatenate

MAX_ROWS = 65536  # rows per pass: larger passes gain nothing once numpy's loops dominate
VALUE_BUDGET = 1 << 22  # numbers (float64) held per pass, per kind: values, adjoints


def rows_per_pass(program: Program) -> int:
    """How many rows to evaluate at once so that a pass holds about ``VALUE_BUDGET`` values."""
    return max(1, min(MAX_ROWS, VALUE_BUDGET // max(1, len(program.nodes))))


def reduces(program: Program) -> bool:
    """True when some operation of the program combines all rows into one (the table says so)."""
    return any(node.op is not None and node.op.reduces for node in program.nodes)


def evaluate_chunk(program: Program, chunk: Chunk, constants: Mapping[str, float],
                   wrt: Sequence[str] | None = None) -> Evaluation:
    """Values and partial derivatives at each row of ``chunk``, one vectorized pass.

    Inputs come from the chunk's columns, or from ``constants`` (repeated on every row).
    """
    at = {name: chunk.columns[name] if name in chunk.columns
          else np.full(chunk.rows, constants[name], dtype=np.float64)
          for name in program.input_names if name in chunk.columns or name in constants}
    at.update({name: v for name, v in constants.items() if name not in at})  # unknown: an error
    return evaluate(program, at, wrt)


@dataclass
class BatchResult:
    """How a run over many points went: rows written, the first non-finite value and derivative
    (``count`` totalled over all rows, ``where`` their first row), and whether it stopped there."""

    rows: int = 0
    warnings: list[NonFinite] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    stopped: bool = False
    # derivatives taken on a kink: one per node, ``count`` totalled and ``rows`` all rows
    # evaluated, ``kink_where`` their first row
    kinks: list[KinkHit] = field(default_factory=list)
    kink_where: list[str] = field(default_factory=list)


def evaluate_stream(program: Program, chunks: Iterable[Chunk], constants: Mapping[str, float],
                    wrt: Sequence[str] | None,
                    write: Callable[[Chunk, Evaluation], None],
                    stop_at_nonfinite: bool = False) -> BatchResult:
    """Evaluate every chunk and ``write(chunk, evaluation)`` it, in order. With
    ``stop_at_nonfinite``, rows from the first with a non-finite value or derivative on are not
    written, and the result says ``stopped``."""
    whole = reduces(program)
    if whole:
        chunks = [concatenate(chunks)]
    result = BatchResult()
    found: dict[str, tuple[NonFinite, int, str]] = {}
    on_kinks: dict[int, tuple[KinkHit, int, str]] = {}
    evaluated = 0
    for chunk in chunks:
        if not chunk.rows:
            continue
        ev = evaluate_chunk(program, chunk, constants, wrt)
        evaluated += chunk.rows
        for hit in find_kinks(program, ev.node_values, wrt, rows=chunk.rows):
            known = on_kinks.get(hit.position)
            on_kinks[hit.position] = (known[0], known[1] + hit.count, known[2]) if known else \
                (hit, hit.count, chunk.where(hit.first))
        first_bad = None
        for w in ev.warnings:
            row = _first_bad_row(w.value)
            first_bad = row if first_bad is None else min(first_bad, row)
            known = found.get(w.kind)
            if known is None or _earlier(program, w.node, known[0].node):
                found[w.kind] = (w, w.count, chunk.where(row))
            elif w.node is known[0].node:  # counted per node: the one named in the warning
                found[w.kind] = (known[0], known[1] + w.count, known[2])
            # else: the rows of this chunk went bad at a later line; the warning names the first
        stop = first_bad if stop_at_nonfinite else None
        rows = chunk.rows if stop is None else stop
        # All rows at once (a reduction) are still written a slice at a time, to bound the text.
        step = MAX_ROWS if whole else chunk.rows
        for lo in range(0, rows, step):
            hi = min(lo + step, rows)
            write(*((chunk, ev) if (lo, hi) == (0, chunk.rows) else _rows(chunk, ev, lo, hi)))
        result.rows += rows
        if stop is not None:
            result.stopped = True
            break
    result.warnings = [replace(w, count=count) for w, count, _ in found.values()]
    result.where = [where for _, _, where in found.values()]
    result.kinks = [replace(hit, count=count, rows=evaluated)
                    for hit, count, _ in sorted(on_kinks.values(), key=lambda k: k[0].position)]
    result.kink_where = [where for _, _, where in sorted(on_kinks.values(),
                                                         key=lambda k: k[0].position)]
    return result


def _rows(chunk: Chunk, ev: Evaluation, lo: int, hi: int) -> tuple[Chunk, Evaluation]:
    """Rows ``[lo, hi)`` of an evaluated chunk (views; a value shared by all rows stays)."""
    def cut(x):
        return x[lo:hi] if np.ndim(x) else x

    part = Chunk({name: cut(c) for name, c in chunk.columns.items()}, hi - lo, chunk.line(lo),
                 chunk.source, None if chunk.numbers is None else chunk.numbers[lo:hi],
                 {name: v[lo:hi] for name, v in chunk.kept.items()})
    return part, replace(ev, at={k: cut(v) for k, v in ev.at.items()},
                         values={k: cut(v) for k, v in ev.values.items()},
                         gradient={out: {k: cut(v) for k, v in row.items()}
                                   for out, row in ev.gradient.items()})


def _first_bad_row(value) -> int:
    bad = np.flatnonzero(~np.isfinite(np.atleast_1d(value)))
    return int(bad[0]) if np.ndim(value) and bad.size else 0


def _earlier(program: Program, node, than) -> bool:
    """Does ``node`` come before ``than`` in the program? (A later chunk may go non-finite at an
    earlier line than the first chunk did: the warning names the earliest line.)"""
    if node is than:
        return False
    position = program._cache.get("node positions")
    if position is None:  # built once, and only when a run meets non-finite numbers
        position = program._cache["node positions"] = {id(n): i for i, n in
                                                      enumerate(program.nodes)}
    return position[id(node)] < position[id(than)]
