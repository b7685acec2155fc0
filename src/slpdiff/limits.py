"""slpdiff's limits on the size of what it is given, each a named constant that says why.

Nothing in slpdiff recurses over a program, so depth alone never crashes it: an expression nested
100,000 deep (``((((x))))``, ``-(-(-x))``, ``sin(sin(...))``) parses, evaluates, differentiates and
prints. What is limited is size, because time and memory grow with it: every statement of a
program costs about 10 us to parse (2 MB of text a second, on one core of the machine of
docs/performance.md) and every node about 36 bytes to hold, 250 bytes while the program is read
and about 100 more while it is evaluated and differentiated (measured: docs/performance.md). The
limits are checked on the text before it is parsed (one pass of C-speed counting over the text),
so a program beyond them fails at once with a message naming the limit, instead of after minutes
of parsing or when memory runs out. Values are set at about twice the size of the largest case
slpdiff is meant to handle (a program of 10,000,000 statements, such as the unrolled simulations
and recurrences other tools generate), so that such programs always pass.
"""

from __future__ import annotations

import re

import numpy as np

from .errors import Diagnostic, InputError, ProgramError, Source

MAX_PROGRAM_CHARS = 640_000_000
"""Characters in one program. A program of 10,000,000 statements such as ``v7 = sin(v6) + x`` is
about 280,000,000 characters; 640,000,000 leaves room for longer names and comments while keeping
the text (held twice while it is read: its bytes and its characters) within about 1.3 GB."""

MAX_LINE_CHARS = 1_000_000
"""Characters in one line. Generated programs write one statement per line; a line this long is
one expression of hundreds of thousands of operations (``sin(`` nested 100,000 deep is 500,000
characters), and a longer one is nearly always a generator's mistake. Keeping lines bounded also
keeps every message's quoted source line bounded. Split a longer expression into statements."""

MAX_STATEMENTS = 20_000_000
"""Statements (lines and ``;``-separated statements) in one program: twice the 10,000,000
statements slpdiff is meant to handle. Parsing takes about 10 us per statement, so this bounds
the time before any result to a few minutes; the names of the statements, held in a dictionary
while the program is read (about 150 bytes each), stay within 3 GB."""

MAX_OPERATIONS = 40_000_000
"""Operations in one program, counted on its text as operators (``+ - * / ^``), calls and
argument commas, outside comments (a sign in a number's exponent counts too, so the count errs
high). Each operation becomes a node of the tape, about 36 bytes held, and about 140 bytes while
it is evaluated and differentiated (its value, its adjoint, its terms of the reverse sweep):
40,000,000 of them take about 6 GB. A program of 10,000,000 statements of two operations each
uses half of it."""

MAX_HESSIAN_ENTRIES = 10_000_000
"""Entries of the Hessians that ``eval --hessian`` and ``check --hessian`` compute (outputs times
inputs squared). Forward over reverse carries one tangent per input through the adjoint program,
so time and memory grow with the number of entries; 10,000,000 (an output and about 3,000 inputs)
still fits in memory for programs of thousands of statements. ``--hvp`` needs no matrix."""

MAX_SWEEP_NUMBERS = 100_000_000
"""Numbers one vectorized sweep holds: nodes times columns, where forward mode (``eval --mode
forward``, Hessians) carries a column per input and ``check`` evaluates 6 points per step, at one
or two steps per input.
100,000,000 float64 numbers are 800 MB; a program of 100,000 inputs needs reverse mode (one
column per output) or a choice of inputs (``--wrt``)."""

MAX_REVERSE_WORK = 200_000_000
"""Outputs times nodes for reverse mode, which makes one sweep over the program per output: at
about 0.3 us per node and sweep, 200,000,000 is about a minute (20 outputs of a program of
10,000,000 nodes). A program with 100,000 outputs and 100,000 inputs would need hours (and print
10,000,000,000 derivatives): choose outputs, or inputs in forward mode."""

_COMMENT = re.compile(r"#[^\n]*")


def check_program(source: Source) -> None:
    """Raise :class:`ProgramError` if the program's text is beyond one of the limits above.

    Runs before parsing, in time linear in the text at C speed (a few counts over the string).
    """
    text = source.text
    if len(text) > MAX_PROGRAM_CHARS:
        _fail(source, f"the program has {len(text):,} characters, more than the limit of "
                      f"{MAX_PROGRAM_CHARS:,} (slpdiff.limits.MAX_PROGRAM_CHARS)")
    if len(text) > MAX_LINE_CHARS:
        _check_lines(source)
    code = _COMMENT.sub("", text) if "#" in text else text
    statements = code.count("\n") + code.count(";") + 1
    if statements > MAX_STATEMENTS:
        _fail(source, f"the program has about {statements:,} statements (lines and ';'), more "
                      f"than the limit of {MAX_STATEMENTS:,} (slpdiff.limits.MAX_STATEMENTS)")
    operations = sum(code.count(c) for c in "+-*/^(,")
    if operations > MAX_OPERATIONS:
        _fail(source, f"the program has about {operations:,} operations (operators, calls and "
                      f"arguments), more than the limit of {MAX_OPERATIONS:,} "
                      "(slpdiff.limits.MAX_OPERATIONS); split it into smaller programs")


_LINES_CHUNK = 1 << 22  # bytes looked at at once: the newlines' positions of a chunk, 32 MB at most


def _check_lines(source: Source) -> None:
    """The first line longer than ``MAX_LINE_CHARS``, found with numpy over the UTF-8 bytes, a
    chunk at a time (a text of ten million short lines would need 80 MB per array otherwise)."""
    data = np.frombuffer(source.text.encode("utf-8", errors="surrogatepass"), dtype=np.uint8)
    previous, lines_before = -1, 0  # the last newline's offset, and lines that ended before it
    for start in range(0, data.size + 1, _LINES_CHUNK):
        ends = np.flatnonzero(data[start:start + _LINES_CHUNK] == 10) + start
        if start + _LINES_CHUNK >= data.size:
            ends = np.append(ends, data.size)  # the last line, ended by the end of the text
        lengths = np.diff(ends, prepend=previous) - 1  # in bytes: at least as many characters
        for k in np.flatnonzero(lengths > MAX_LINE_CHARS):
            begin = previous if k == 0 else int(ends[k - 1])
            line = bytes(data[begin + 1: ends[k]]).decode("utf-8", errors="surrogatepass")
            chars = len(line.rstrip("\r"))
            if chars > MAX_LINE_CHARS:
                number = lines_before + int(k) + 1
                _fail(source, f"line {number} has {chars:,} characters, more than the limit of "
                              f"{MAX_LINE_CHARS:,} (slpdiff.limits.MAX_LINE_CHARS); split its "
                              "expression into several statements", line=number)
        if ends.size:
            previous, lines_before = int(ends[-1]), lines_before + ends.size


def _fail(source: Source, message: str, line: int = 0) -> None:
    # No source line and caret: the line is the problem, and may be megabytes long.
    where = f"{source.name}:{line}" if line else source.name
    raise ProgramError(Diagnostic(f"{where}: {message}"))


def check_hessian(outputs: int, inputs: int) -> None:
    """Raise :class:`~slpdiff.errors.InputError` when Hessians of ``outputs`` outputs in
    ``inputs`` inputs would have more than ``MAX_HESSIAN_ENTRIES`` entries."""
    entries = outputs * inputs * inputs
    if entries > MAX_HESSIAN_ENTRIES:
        raise InputError(f"the Hessian would have {entries:,} entries ({outputs:,} output(s), "
                         f"{inputs:,} inputs), more than the limit of {MAX_HESSIAN_ENTRIES:,} "
                         "(slpdiff.limits.MAX_HESSIAN_ENTRIES); choose inputs with --wrt, or "
                         "use --hvp for a Hessian-vector product")


def check_sweep(nodes: int, columns: int, why: str) -> None:
    """Raise :class:`~slpdiff.errors.InputError` when a sweep of ``columns`` columns through
    ``nodes`` nodes would hold more than ``MAX_SWEEP_NUMBERS`` numbers (``why`` says what the
    columns are)."""
    if nodes * columns > MAX_SWEEP_NUMBERS:
        raise InputError(f"{why}: {columns:,} columns through {nodes:,} nodes would hold "
                         f"{nodes * columns:,} numbers, more than the limit of "
                         f"{MAX_SWEEP_NUMBERS:,} (slpdiff.limits.MAX_SWEEP_NUMBERS); choose "
                         "fewer inputs with --wrt, or use reverse mode")


def check_reverse(outputs: int, nodes: int) -> None:
    """Raise :class:`~slpdiff.errors.InputError` when ``outputs`` reverse sweeps over ``nodes``
    nodes would be more than ``MAX_REVERSE_WORK``."""
    if outputs * nodes > MAX_REVERSE_WORK:
        raise InputError(f"reverse mode makes one sweep per output: {outputs:,} outputs over "
                         f"{nodes:,} nodes is {outputs * nodes:,} steps, more than the limit of "
                         f"{MAX_REVERSE_WORK:,} (slpdiff.limits.MAX_REVERSE_WORK); choose "
                         "fewer outputs, or use forward mode with fewer inputs (--wrt)")
