"""SLP text written statement by statement, and the programs parsed from it, kept per size.

Every eval writes its function as SLP text with :class:`Text` and has it parsed by
``slpdiff.parse``, the same parser a user's file goes through; derivatives then come from
slpdiff's own modes, never from a formula written here. :class:`Programs` keeps each parsed
program for the rest of the run (GradBench asks for the primal and the derivative of the same
input one after the other, and llsq, ba, ht and gmm reuse one program for many inputs), and
measures what preparing it cost: writing the text, parsing it, and the first evaluation of each
function, which compiles slpdiff's fast path (GradBench reports all of it apart from the scored
``evaluate`` timings).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import limits
from ..evaluation import expect, force_compile
from ..formats import number
from ..language.parser import parse

__all__ = ["Declined", "Job", "Prepared", "Programs", "Text", "check_size", "literal", "row_chunks"]

# Names per `input`/`output` line: a generated program may have 200,000 inputs (gmm), and
# slpdiff bounds a line's length (limits.MAX_LINE_CHARS).
NAMES_PER_LINE = 500

# Scalar programs up to this many nodes have their fast path compiled while they are prepared
# (one evaluation, reported as preparation); bigger ones run on the reference engine, because
# compiling them costs more time and memory than the few evaluations GradBench asks for.
COMPILE_MAX_NODES = 300_000


# Runs of a function on rows that its preparation tells slpdiff to expect (evaluation.expect):
# GradBench repeats a function for a second at least, a thousand runs of a millisecond. Without
# it slpdiff's choice of evaluator counts the runs done, and compiles the slices in a timed run
# once they would have paid (measured: kmeans' dir at k = 100, the third run took 1.4 s).
EXPECTED_RUNS = 1000


# float64 numbers one evaluation on rows may hold. slpdiff runs a program of more than 20,000
# nodes with a reduction on all rows at once, holding every node's value (and more for
# derivatives) for every row: 5 GB for kmeans' gradient at k = 1000, d = 16, n = 10,000. Where the
# function is a sum over rows, the evals split the rows into chunks within this budget (2 GiB)
# and add the chunks' results.
ROW_NUMBERS = 1 << 28


def row_chunks(rows: int, numbers_per_row: int) -> list[slice]:
    """Slices of ``range(rows)``, each holding at most ``ROW_NUMBERS`` numbers, of one length
    where a divisor of ``rows`` allows it (slpdiff lays all rows out once per length)."""
    step = max(1, ROW_NUMBERS // max(1, numbers_per_row))
    count = -(-rows // step)
    even = next((c for c in range(count, 2 * count + 1) if rows % c == 0), None)
    if even is not None:
        step = rows // even
    return [slice(lo, min(lo + step, rows)) for lo in range(0, rows, step)]


class Declined(Exception):
    """slpdiff does not compute this (an eval, a function or a size); the message says why."""


def literal(x: float) -> str:
    """``x`` as an SLP number that reads back to the same float64, negative ones in parentheses
    (so that ``a - (-1.5)`` and ``2 * (-0.5)`` stay what they say)."""
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        raise Declined(f"the input holds {x!r}, which an SLP program cannot hold as a constant")
    text = number(x)
    return f"({text})" if text.startswith("-") else text


class Text:
    """The statements of one program, in order: ``input`` lines, assignments, ``output`` lines."""

    def __init__(self) -> None:
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.lines: list[str] = []

    def input(self, *names: str) -> None:
        self.inputs.extend(names)

    def let(self, name: str, expr: str) -> str:
        """Append ``name = expr``; returns ``name``."""
        self.lines.append(f"{name} = {expr}")
        return name

    def output(self, *names: str) -> None:
        self.outputs.extend(names)

    @property
    def statements(self) -> int:
        return len(self.lines)

    def text(self) -> str:
        def declare(keyword: str, names: list[str]) -> list[str]:
            return [f"{keyword} " + ", ".join(names[i:i + NAMES_PER_LINE])
                    for i in range(0, len(names), NAMES_PER_LINE)]

        return "\n".join(declare("input", self.inputs) + self.lines +
                         declare("output", self.outputs)) + "\n"


# What a GradBench run can prepare in time: parsing and compiling cost about 35-110 us a node on
# the 2-core machine measured (docs/gradbench.md), so 5,000,000 operations are minutes of
# preparation, near GradBench's usual timeouts. slpdiff's own limits (slpdiff.limits) are higher:
# a user may wait; a benchmark run declines and goes on.
MAX_STATEMENTS = min(2_000_000, limits.MAX_STATEMENTS)
MAX_OPERATIONS = min(5_000_000, limits.MAX_OPERATIONS)


def check_size(what: str, statements: int, operations: int) -> None:
    """Decline a program too big to prepare within a GradBench run before writing any of it (an
    unrolled program of tens of millions of statements would take gigabytes just as text)."""
    for count, limit, name in ((statements, MAX_STATEMENTS, "MAX_STATEMENTS"),
                               (operations, MAX_OPERATIONS, "MAX_OPERATIONS")):
        if count > limit:
            raise Declined(
                f"{what} is a straight-line program of {statements:,} statements and about "
                f"{operations:,} operations, over the limit of {limit:,} that slpdiff gradbench "
                f"prepares within a benchmark run (slpdiff.gradbench.programs.{name}); GradBench's "
                "larger sizes of this eval are declined")


@dataclass
class Job:
    """One evaluate message, ready to time: ``run()`` is the function (what GradBench scores),
    ``post`` turns its result into the reference's JSON structure, ``prepare_ns`` is what
    preparing it cost in this message (0 when the program was ready)."""

    run: Callable[[], object]
    post: Callable[[object], object] = field(default=lambda result: result)
    prepare_ns: int = 0


@dataclass
class Prepared:
    """A parsed program, what its eval needs to bind inputs and read results, and its cost."""

    key: tuple
    program: object
    info: dict
    statements: int
    chars: int
    pending_ns: int = 0  # preparation not yet reported in a response
    warmed: set = field(default_factory=set)  # functions already evaluated once


class Programs:
    """The programs of one run, by key (``(eval, size...)``), each written and parsed once.

    ``keep`` programs per eval stay cached: GradBench's evals go through their sizes in order
    and never come back, and an unrolled program of a million statements holds gigabytes.
    ``on_record`` receives one dict per program made and per function compiled (the statistics
    that ``slpdiff gradbench --stats FILE`` writes).
    """

    def __init__(self, keep: int = 2, on_record: Callable[[dict], None] | None = None):
        self.keep = keep
        self.on_record = on_record or (lambda record: None)
        self.cache: dict[tuple, Prepared] = {}

    def get(self, key: tuple, make: Callable[[], tuple[Text, dict]]) -> Prepared:
        """The program for ``key``; ``make()`` returns its :class:`Text` and an info dict."""
        found = self.cache.get(key)
        if found is not None:
            return found
        same = [k for k in self.cache if k[0] == key[0]]
        for old in same[:max(0, len(same) - self.keep + 1)]:
            del self.cache[old]  # before parsing the new one: both may not fit in memory
        t0 = time.perf_counter_ns()
        text, info = make()
        source = text.text()
        t1 = time.perf_counter_ns()
        program = parse(source, name="-".join(map(str, key)))
        t2 = time.perf_counter_ns()
        prepared = self.cache[key] = Prepared(key, program, info, text.statements, len(source),
                                              pending_ns=t2 - t0)
        self.on_record({"eval": key[0], "size": _size(key), "statements": text.statements,
                        "nodes": len(program), "inputs": len(text.inputs),
                        "outputs": len(text.outputs), "characters": len(source),
                        "generate_seconds": (t1 - t0) / 1e9, "parse_seconds": (t2 - t1) / 1e9})
        return prepared

    def job(self, prepared: Prepared, function: str, run: Callable[[], object],
            post: Callable[[object], object] | None = None, *, rows: bool = False) -> Job:
        """The :class:`Job` for ``function`` on ``prepared``. The first time a function runs on
        a program it runs once here, untimed by GradBench's score: that evaluation compiles
        slpdiff's fast path for it (on points: ``force_compile`` first, for programs up to
        ``COMPILE_MAX_NODES`` nodes; on rows: slpdiff is told to expect ``EXPECTED_RUNS`` runs,
        so that it compiles the slices in this run where they pay, not in a timed one)."""
        if function not in prepared.warmed:
            if rows:
                expect(prepared.program, EXPECTED_RUNS)  # compiled here where that pays
            elif len(prepared.program) <= COMPILE_MAX_NODES:
                force_compile(prepared.program)
            t0 = time.perf_counter_ns()
            if rows or len(prepared.program) <= COMPILE_MAX_NODES:
                run()
            spent = time.perf_counter_ns() - t0
            prepared.warmed.add(function)
            prepared.pending_ns += spent
            self.on_record({"eval": prepared.key[0], "size": _size(prepared.key),
                            "function": function, "compile_seconds": spent / 1e9})
        spent, prepared.pending_ns = prepared.pending_ns, 0
        return Job(run, post or (lambda result: result), spent)


def _size(key: tuple) -> str:
    return " ".join(map(str, key[1:]))
