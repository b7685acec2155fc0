"""Exercises: a trace table with cells left blank for the student, and its answer key.

The tables are ``slpdiff trace``'s (forward, tangent or reverse sweep, in either notation), so
every answer is the engine's own number, rounded for display. A fraction of the number cells is
blanked (never an input's value, which the student is given): values of the forward sweep, local
partials and adjoints, tangents; the derivatives that end each sweep are always blank. The key is
the same tables with the blanked cells marked.

A student's seed (``--seed alice``, or a number) moves the point: each input of ``--at`` (or of
[0.5, 2] without one) shifted by up to 30 % and rounded to two decimals, so every student gets a
point of their own, and the same seed gives the same point and the same blanks again.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..language.program import Program
from .tables import Table, trace_tables
from .trace import trace

BLANK_WIDTH = 8  # characters of a blank in text tables: room to write a number by hand


@dataclass(frozen=True)
class Blank:
    """A cell to fill in."""

    def __str__(self) -> str:
        return "_" * BLANK_WIDTH

    def rendered(self, fmt: str) -> str:
        return r"\_" * BLANK_WIDTH if fmt == "markdown" else r"\rule{4em}{0.4pt}"


@dataclass(frozen=True)
class Answer:
    """A cell of the key that the exercise left blank: its value, marked."""

    text: str

    def __str__(self) -> str:
        return f"[{self.text}]"

    def rendered(self, fmt: str) -> str:
        return f"**{self.text}**" if fmt == "markdown" else rf"\textbf{{\texttt{{{self.text}}}}}"


@dataclass
class Exercise:
    """The tables with blanks, the key, and the point they are at."""

    at: dict[str, float]
    tables: list[Table]
    key: list[Table]
    blanks: int


def student_point(program: Program, at: Mapping[str, float], seed: str | None) -> dict:
    """The point of the student with ``seed``: ``at`` itself without a seed, else each input
    moved by up to 30 % of itself (0.5 to 2 where ``at`` gives none), to two decimals."""
    if seed is None:
        return dict(at)
    rng = random.Random(f"slpdiff exercise point {seed}")
    point = {}
    for name in program.input_names:
        base = at.get(name)
        value = rng.uniform(0.5, 2.0) if base is None else base * (1 + rng.uniform(-0.3, 0.3))
        value = round(value, 2)
        point[name] = value if value != 0 or base in (None, 0) else round(base, 2)
    return point


def exercise(program: Program, at: Mapping[str, float], mode: str = "reverse",
             seed: str | None = None, blank: float = 0.4, digits: int | None = 4,
             notation: str = "program") -> Exercise:
    """An exercise on ``program``: the trace in ``mode`` ("reverse" or "forward") at the student's
    point (:func:`student_point`), a fraction ``blank`` of its number cells blanked."""
    if not 0.0 <= blank <= 1.0:
        raise ValueError("blank must be between 0 and 1")
    point = student_point(program, at, seed)
    tr = trace(program, point, mode=mode)
    tables = trace_tables(tr, digits, notation)
    key = trace_tables(tr, digits, notation)
    rng = random.Random(f"slpdiff exercise blanks {seed}")
    cells = _number_cells(tables, tr, notation)
    chosen = set(rng.sample(cells, round(blank * len(cells)))) if cells else set()
    for t, r, j in chosen:
        key[t].rows[r][j] = Answer(str(key[t].rows[r][j]))
        tables[t].rows[r][j] = Blank()
    count = len(chosen)
    for table in tables:
        blanked = [_blank_footer(line) for line in table.footer]
        count += sum(line != old for line, old in zip(blanked, table.footer, strict=True))
        table.footer = blanked
    return Exercise(tr.at, tables, key, count)


def _number_cells(tables: list[Table], tr, notation: str) -> list[tuple[int, int, int]]:
    """(table, row, column) of every cell that holds a number to compute: not a step number, a
    line number, an input's given value or an empty cell."""
    shown = [row for row in tr.forward if notation == "program" or row.kind != "alias"]
    cells = []
    for t, table in enumerate(tables):
        columns = [j for j, h in enumerate(table.headers)
                   if table.align[j] == "r" and h not in ("#", "line")]
        # Tables with a row per node (the forward sweep; the book's tangent sweep beside it)
        # give the inputs' values and tangents: they are the question, not the answer.
        per_node = table.headers[0] in ("node", "v")
        for r, row in enumerate(table.rows):
            given = per_node and shown[r].kind in ("input", "alias")
            given = given or (table.headers[0] == "#" and row[0] == "0")  # a sweep's seed
            for j in columns:
                if row[j] and not given:
                    cells.append((t, r, j))
    return cells


def _blank_footer(line: str) -> str:
    """A derivative line with its number blanked: ``d v7/d x = ________``."""
    return re.sub(r"= \S+$", "= " + "_" * BLANK_WIDTH, line) if line.startswith("d") else line
