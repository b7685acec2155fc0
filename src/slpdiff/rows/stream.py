"""Many points through the one engine: a chunk of rows per pass, numpy arrays as values.

Each chunk is one call of :func:`slpdiff.evaluate`, the same code as a single point: every
input is an array of the chunk's length (a value given once, with ``--at``, is repeated on every
row), so each row's partial derivatives are its own. Chunks are sized so that all of a pass's
values and adjoints fit in a memory budget (1/32 of the machine's), whatever the program's size,
and are handed on as soon as they are evaluated: memory stays bounded however many rows stream
through.

A program that reduces over the rows (``sum``, ``mean``) describes the whole set of points, not
each point on its own, so its rows are gathered and evaluated in one pass; a value given once is
then one number shared by the rows (``sum(a)`` is ``a``, as in the API and ``optimize``), and the
derivatives at a row are still that row's own (:mod:`slpdiff.core.rows`): ``d m_i / d x_i`` for a
column, ``d m_i / d a`` for a number given once.

Beyond first derivatives (:class:`Asked`), a pass also gives each row's directional derivative,
Hessian and Hessian-vector product, with the same meaning, as ``eval`` does at a point.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..core import rows as row_math
from ..core.engine import Evaluation, NonFinite, as_value
from ..core.kinks import KinkHit
from ..core.kinks import find as find_kinks
from ..core.schedule import bind_inputs, select
from ..evaluation import evaluate, evaluate_inputs
from ..language.program import Program
from .points import Chunk, concatenate

MAX_ROWS = 16384  # rows per pass: more gain nothing once numpy's loops dominate (measured: 65,536
# took 10-20% more CPU on small programs, the page faults of larger buffers made anew each pass)


def _pass_bytes() -> int:
    """The memory a pass may hold in values and adjoints (the reference engine's arrays, the
    worst case: the fast paths hold less): 1/32 of the machine's memory, between 64 MiB and
    1 GiB. Passes over big programs then still hold hundreds of rows, so that each numpy call
    works on enough numbers to pay for itself (41 rows at 100,000 nodes with 64 MiB)."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: assume a small machine
        memory = 0
    return min(1 << 30, max(1 << 26, memory // 32))


VALUE_BUDGET = _pass_bytes() // 16  # numbers (float64) held per pass, per kind: values, adjoints


@dataclass(frozen=True)
class Asked:
    """What a run over rows computes at each row beyond values: the first derivatives by
    ``mode`` ("reverse" or "forward"), and, as ``eval`` does at a point, the derivative along
    ``direction``, the ``hessian`` and the Hessian-vector product with ``hvp`` (input name ->
    component; inputs not named are 0)."""

    mode: str = "reverse"
    direction: Mapping[str, float] | None = None
    hessian: bool = False
    hvp: Mapping[str, float] | None = None



FIRST = Asked()


@dataclass
class RowEvaluation(Evaluation):
    """An :class:`Evaluation` of rows with the results beyond first derivatives, keyed as in
    ``eval``'s single-point JSON: "direction" and "directional", "hessian", "hvp_direction" and
    "hvp" (each result per row, or one number where it is the same on every row)."""

    extra: dict = field(default_factory=dict)


def rows_per_pass(program: Program, asked: Asked = FIRST, wrt: Sequence[str] | None = None) -> int:
    """How many rows to evaluate at once so that a pass holds at most ``VALUE_BUDGET`` values
    (second derivatives sweep the adjoint program with one tangent per input)."""
    per_row = len(program)
    if asked.mode == "forward" or asked.direction is not None:
        inputs = len(program.input_names if wrt is None else wrt)
        per_row = max(per_row, len(program) * (1 + inputs))
    if asked.hessian or asked.hvp is not None:
        from ..core.hessian import cached_adjoint

        inputs = len(program.input_names if wrt is None else wrt)
        per_row = max(per_row, len(cached_adjoint(program, wrt).program) * (1 + inputs))
    return max(1, min(MAX_ROWS, VALUE_BUDGET // max(1, per_row)))


def reduces(program: Program) -> bool:
    """True when some operation of the program combines all rows into one (the table says so)."""
    return any(op is not None and op.reduces for op in program.ops)


def evaluate_rows(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
                  outputs: Sequence[str] | None = None) -> Evaluation:
    """Like :func:`slpdiff.evaluate` on rows (``at``: columns, and numbers given once), with each
    row's own derivatives in a number given once too: ``d m_i / d a`` on each row where
    ``evaluate`` sums it over the rows. What ``eval --points`` writes."""
    inputs = [as_value(x) for x in bind_inputs(program, at)]
    chosen = select(program, wrt, outputs)
    rows = row_math.meeting(program, inputs, chosen.wrt_nodes, chosen.output_nodes, "row",
                            always=True)
    if rows is None:  # no reduction: a number repeated on every row changes no value
        return evaluate(program, row_math.spread(program, at, chosen.wrt), wrt, outputs)
    return row_math.row_gradient(program, inputs, chosen, rows, evaluate_inputs, "row")


def evaluate_chunk(program: Program, chunk: Chunk, constants: Mapping[str, float],
                   wrt: Sequence[str] | None = None, asked: Asked = FIRST) -> RowEvaluation:
    """Values and partial derivatives at each row of ``chunk``, one vectorized pass (and what
    else ``asked`` names).

    Inputs come from the chunk's columns, or from ``constants`` (the same on every row).
    """
    whole = reduces(program)
    at = {name: chunk.columns[name] if name in chunk.columns
          else constants[name] if whole else np.full(chunk.rows, constants[name], dtype=np.float64)
          for name in program.input_names if name in chunk.columns or name in constants}
    at.update({name: v for name, v in constants.items() if name not in at})  # unknown: an error
    if asked.mode == "forward":
        ev = row_math.evaluate_forward(program, at, wrt, shared="row")
    else:
        ev = evaluate_rows(program, at, wrt) if whole else evaluate(program, at, wrt)
    return RowEvaluation(ev.program, ev.at, ev.values, ev.gradient, ev.warnings, ev.node_values,
                         _beyond_first(program, at, wrt, asked))


def _beyond_first(program, at, wrt, asked: Asked) -> dict:
    """The directional derivatives, Hessians and Hessian-vector products ``asked`` names."""
    extra = {}
    if asked.direction is not None:
        extra["direction"] = dict(asked.direction)
        extra["directional"] = row_math.jvp(program, at, asked.direction)[1]
    if asked.hessian:
        extra["hessian"] = row_math.hessian(program, at, wrt, shared="row")
    if asked.hvp is not None:
        extra["hvp_direction"] = dict(asked.hvp)
        extra["hvp"] = row_math.hvp(program, at, asked.hvp, wrt, shared="row")
    return extra


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
    # results beyond first derivatives that are not finite: key ("hessian"...) -> (rows, first)
    beyond: dict[str, tuple[int, str]] = field(default_factory=dict)

    def beyond_messages(self) -> list[str]:
        """One line per kind of result beyond first derivatives that is not finite somewhere."""
        return [f"non-finite values in the {key} results at {rows:,} point"
                f"{'s' if rows > 1 else ''}; first at {where}"
                for key, (rows, where) in self.beyond.items()]


def evaluate_stream(program: Program, chunks: Iterable[Chunk], constants: Mapping[str, float],
                    wrt: Sequence[str] | None,
                    write: Callable[[Chunk, Evaluation], None],
                    stop_at_nonfinite: bool = False, asked: Asked = FIRST,
                    evaluate_one: Callable[[Chunk], Evaluation] | None = None) -> BatchResult:
    """Evaluate every chunk (and what else ``asked`` names) and ``write(chunk, evaluation)`` it,
    in order. With ``stop_at_nonfinite``, rows from the first with a non-finite value,
    derivative or second-order result on are not written, and the result says ``stopped``.
    ``evaluate_one(chunk)``: how a chunk is evaluated when the reductions' values are known
    already (a partition of rows on a cluster); by default, one chunk of all rows for a program
    with reductions."""
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
        ev = (evaluate_one(chunk) if evaluate_one else
              evaluate_chunk(program, chunk, constants, wrt, asked))
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
        extra = getattr(ev, "extra", {})  # a plain Evaluation: a partition on a cluster
        for key in ("directional", "hessian", "hvp"):
            if key not in extra:
                continue
            bad = np.flatnonzero(_nonfinite_rows(extra[key], chunk.rows))
            if bad.size:
                first_bad = int(bad[0]) if first_bad is None else min(first_bad, int(bad[0]))
                rows, where = result.beyond.get(key, (0, chunk.where(int(bad[0]))))
                result.beyond[key] = (rows + bad.size, where)
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
    def cut_all(obj):
        return {k: cut_all(v) for k, v in obj.items()} if isinstance(obj, dict) else cut(obj)

    fields = {"at": cut_all(ev.at), "values": cut_all(ev.values), "gradient": cut_all(ev.gradient)}
    if isinstance(ev, RowEvaluation):
        fields["extra"] = cut_all(ev.extra)
    return part, replace(ev, **fields)


def _nonfinite_rows(results, rows: int) -> np.ndarray:
    """Per row: is some number of ``results`` (nested dicts of numbers or columns) not finite?"""
    if isinstance(results, dict):
        bad = np.zeros(rows, dtype=bool)
        for value in results.values():
            bad |= _nonfinite_rows(value, rows)
        return bad
    return np.broadcast_to(~np.isfinite(results), (rows,))


def _first_bad_row(value) -> int:
    bad = np.flatnonzero(~np.isfinite(np.atleast_1d(value)))
    return int(bad[0]) if np.ndim(value) and bad.size else 0
