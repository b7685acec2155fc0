"""Many points through the one engine: a chunk of rows per pass, numpy arrays as values.

Each chunk is one call of :func:`slpdiff.evaluate`, the same code as a single point: every
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

from ..core.engine import Evaluation, NonFinite
from ..core.kinks import KinkHit
from ..core.kinks import find as find_kinks
from ..evaluation import evaluate
from ..language.program import Program
from .points import Chunk, concatenate

MAX_ROWS = 65536  # rows per pass: larger passes gain nothing once numpy's loops dominate
VALUE_BUDGET = 1 << 22  # numbers (float64) held per pass, per kind: values, adjoints


def rows_per_pass(program: Program) -> int:
    """How many rows to evaluate at once so that a pass holds about ``VALUE_BUDGET`` values."""
    return max(1, min(MAX_ROWS, VALUE_BUDGET // max(1, len(program))))


def reduces(program: Program) -> bool:
    """True when some operation of the program combines all rows into one (the table says so)."""
    return any(op is not None and op.reduces for op in program.ops)


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
                    stop_at_nonfinite: bool = False,
                    evaluate_one: Callable[[Chunk], Evaluation] | None = None) -> BatchResult:
    """Evaluate every chunk and ``write(chunk, evaluation)`` it, in order. With
    ``stop_at_nonfinite``, rows from the first with a non-finite value or derivative on are not
    written, and the result says ``stopped``. ``evaluate_one(chunk)``: how a chunk is evaluated
    when the reductions' values are known already (a partition of rows on a cluster); by
    default, one chunk of all rows for a program with reductions."""
    whole = reduces(program) and evaluate_one is None
    if whole:
        chunks = [concatenate(chunks)]
    result = BatchResult()
    found: dict[str, _Tally] = {}  # by kind ("value", "derivative"): the earliest node's
    on_kinks: dict[int, _Tally] = {}  # by node position
    evaluated = 0
    for chunk in chunks:
        if not chunk.rows:
            continue
        ev = evaluate_one(chunk) if evaluate_one else evaluate_chunk(program, chunk, constants, wrt)
        evaluated += chunk.rows
        for hit in find_kinks(program, ev.node_values, wrt, rows=chunk.rows):
            known = on_kinks.get(hit.position)
            if known is None:
                on_kinks[hit.position] = _Tally(hit, hit.count, chunk.where(hit.first))
            else:
                known.count += hit.count
        first_bad = None
        for w in ev.warnings:
            row = _first_bad_row(w.value)
            first_bad = row if first_bad is None else min(first_bad, row)
            known = found.get(w.kind)
            if known is None or w.position < known.first.position:
                # A later chunk may go non-finite at an earlier line than the first chunk did:
                # the warning names the earliest line.
                found[w.kind] = _Tally(w, w.count, chunk.where(row))
            elif w.position == known.first.position:  # counted per node: the one it names
                known.count += w.count
            # else: the rows of this chunk went bad at a later line; the warning names the first
        stop = first_bad if stop_at_nonfinite else None
        rows = chunk.rows if stop is None else stop
        # All rows at once (a reduction) are still written a slice at a time, to bound the text.
        step = MAX_ROWS if whole else chunk.rows
        for lo in range(0, rows, step):
            hi = min(lo + step, rows)
            write(*((chunk, ev) if (lo, hi) == (0, chunk.rows) else _slice(chunk, ev, lo, hi)))
        result.rows += rows
        if stop is not None:
            result.stopped = True
            break
    result.warnings = [replace(t.first, count=t.count) for t in found.values()]
    result.where = [t.where for t in found.values()]
    hits = [on_kinks[i] for i in sorted(on_kinks)]
    result.kinks = [replace(t.first, count=t.count, rows=evaluated) for t in hits]
    result.kink_where = [t.where for t in hits]
    return result


@dataclass
class _Tally:
    """A warning (or kink) as first met, how many rows it has reached in all chunks so far, and
    where it was first met (``points.csv:5``)."""

    first: NonFinite | KinkHit
    count: int
    where: str


def _slice(chunk: Chunk, ev: Evaluation, lo: int, hi: int) -> tuple[Chunk, Evaluation]:
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
