"""Checking a student's own adjoint: a reverse sweep written by hand, statement by statement.

The student's file (MINE) is SLP. It is either the reverse sweep alone, reading the forward
statements' names of PROGRAM (``v4_bar += v6_bar * v5``), or a whole adjoint program that declares
PROGRAM's inputs and recomputes the forward statements first. Either way the names MINE reads
without assigning them are PROGRAM's inputs and statements, given the engine's values. A statement
that assigns ``NAME_bar`` (or ``d_OUT_d_NAME``, as ``slpdiff grad`` names them) computes the
adjoint of PROGRAM's ``NAME``: ``d OUT/d NAME``.

An adjoint is a sum of terms, one per use of ``NAME``: ``i_bar * d i/d NAME`` for each statement
``i`` that reads it. Each statement of MINE that changes ``NAME_bar`` must add one of those terms
not added yet, or several of them at once (a folded sum), whatever the order; at the end every
term must be there. The first statement, in MINE's order, that adds something else is reported
with its line, the value it added and the term it should have added (the one from the statement
whose adjoint it reads), at the first point where it goes wrong. The points are ``--at`` and
random points near it (reproducible with a seed), so that a right value by coincidence at one point
does not pass.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.engine import adjoints
from ..errors import InputError
from ..evaluation import evaluate
from ..formats import number
from ..language.program import Program
from .labels import Labels

RTOL = 1e-9  # two ways of adding the same terms differ by rounding only
SUBSET_LIMIT = 12  # beyond this many terms left, a folded sum is matched only as all of them


@dataclass
class Statement:
    """One assignment of MINE: ``name op= ...`` at ``line``, its value ``node``, and the node of
    the expression on its right (the same node, for ``=``)."""

    name: str
    node: int
    line: int
    column: int
    op: str = "="
    term: int | None = None


@dataclass
class Problem:
    """The first statement of MINE that is wrong, and why."""

    line: int
    column: int
    statement: str  # its text, from MINE
    adjoint: str  # the adjoint it assigns (v4_bar)
    at: dict[str, float]
    added: float | None  # what the statement added to the adjoint (None: it is missing)
    expected: float | None  # what it should have added
    message: str  # the explanation, in words


@dataclass
class AdjointCheck:
    """The result of :func:`check_adjoint`."""

    output: str
    points: list[dict[str, float]]
    statements: int  # adjoint statements checked
    adjoints: list[str] = field(default_factory=list)  # the adjoint names MINE computes
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def statements_of(program: Program) -> list[Statement]:
    """The assignments of ``program`` in text order: each named statement, and the aliases,
    ``+=`` and ``-=`` the parser recorded (``Program.assignments``)."""
    recorded = program.assignments or []
    updated = {a.node for a in recorded if a.op != "="}
    found = [Statement(a.name, a.node, a.line, a.column, a.op, a.term) for a in recorded]
    found += [Statement(name, i, program.lines[i], 0, "=", i)
              for i, name in enumerate(program.names)
              if name is not None and not program.is_input(i) and i not in updated]
    return sorted(found, key=lambda s: (s.line, s.column))


def random_points(program: Program, at: Mapping[str, float], count: int,
                  seed: int) -> list[dict[str, float]]:
    """``count`` points near ``at`` (each input moved by up to a quarter of itself and 0.1), or
    in [0.5, 2] where ``at`` gives none: away from the usual kinks and domain edges at 0."""
    rng = random.Random(seed)
    points = []
    for _ in range(count):
        point = {}
        for name in program.input_names:
            base = at.get(name)
            if base is None or not math.isfinite(base):
                point[name] = round(rng.uniform(0.5, 2.0), 6)
            else:
                point[name] = round(base * (1 + rng.uniform(-0.25, 0.25))
                                    + rng.uniform(-0.1, 0.1), 6)
        points.append(point)
    return points


def check_adjoint(program: Program, mine: Program, at: Mapping[str, float] | None = None,
                  output: str | None = None, random_count: int = 3, seed: int = 0,
                  rtol: float = RTOL) -> AdjointCheck:
    """Check every adjoint MINE computes against the engine's, at ``at`` (if given) and at
    ``random_count`` random points (see the module docstring)."""
    output = _the_output(program, output)
    o = program.output_index[program.output_names.index(output)]
    labels = Labels(program)
    node_of = {labels.name(i): i for i in range(len(program)) if labels.shows_as_row(i)}
    for name, i in zip(program.input_names, program.input_index, strict=True):
        node_of[name] = i
    unknown = [n for n in mine.input_names if n not in node_of]
    if unknown:
        raise InputError(f"MINE reads '{unknown[0]}', which is neither an input nor a statement "
                         f"of PROGRAM (MINE may read: {', '.join(node_of)}); an adjoint must be "
                         "assigned before it is read")
    statements = statements_of(mine)
    adjoint_of = _adjoint_statements(statements, node_of, output)
    given = dict(at or {})
    points = ([given] if given else []) + random_points(program, given, random_count, seed)
    result = AdjointCheck(output, points, len(adjoint_of),
                          list(dict.fromkeys(s.name for s, _ in adjoint_of)))
    if not adjoint_of:
        raise InputError(f"MINE computes no adjoint: name them NAME_bar (x_bar += ...) or "
                         f"d_{output}_d_NAME, for the names of PROGRAM")
    for point in points:
        problem = _check_at(program, mine, labels, o, output, point, statements, adjoint_of,
                            node_of, rtol)
        if problem is not None:
            result.problem = problem
            break
    return result


def _the_output(program: Program, output: str | None) -> str:
    if output is not None:
        if output not in program.output_names:
            raise InputError(f"'{output}' is not an output; the program's outputs are: "
                             f"{', '.join(program.output_names)}")
        return output
    if len(program.output_names) != 1:
        raise InputError(f"the program has {len(program.output_names)} outputs "
                         f"({', '.join(program.output_names)}); choose one with --of NAME")
    return program.output_names[0]


def _adjoint_statements(statements: list[Statement], node_of: dict[str, int],
                        output: str) -> list[tuple[Statement, int]]:
    """The statements that assign an adjoint, with the PROGRAM node whose adjoint it is."""
    found = []
    prefix = f"d_{output}_d_"  # as slpdiff grad names them
    for s in statements:
        target = None
        m = re.fullmatch(r"(.+?)_bar_*", s.name)
        if m and m.group(1) in node_of:
            target = node_of[m.group(1)]
        elif s.name.startswith(prefix) and s.name[len(prefix):] in node_of:
            target = node_of[s.name[len(prefix):]]
        if target is not None:
            found.append((s, target))
    return found


def _terms(program: Program, values: list, o: int) -> tuple[list, dict[int, list]]:
    """The engine's reverse sweep from node ``o``: every node's adjoint, and per node c the
    terms of its adjoint as the sweep adds them, (user i, argument k, the term)."""
    terms: dict[int, list] = {}

    def record(i, k, partial, contribution, after):
        terms.setdefault(program.args[i][k], []).append((i, k, float(contribution)))

    return adjoints(program, values, o, record=record), terms


def _check_at(program, mine, labels, o, output, point, statements, adjoint_of, node_of,
              rtol) -> Problem | None:
    with np.errstate(all="ignore"):
        ev = evaluate(program, point, wrt=[])
        values = ev.node_values
        if not all(np.isfinite(values[i]) for i in range(len(program))):
            return None  # outside the program's domain: nothing to compare here
        adjoint, terms = _terms(program, values, o)
        given = {name: values[node_of[name]] for name in mine.input_names}
        got = evaluate(mine, given, wrt=[]).node_values
    remaining = {c: list(ts) for c, ts in terms.items()}
    so_far: dict[int, float] = {}
    last_statement: dict[int, Statement] = {}
    source_text = mine.source.text.splitlines() if mine.source is not None else []
    seed_done = False
    history: list[tuple[Statement, float]] = []  # each adjoint statement and its value so far
    for s, c in adjoint_of:
        value = float(got[s.node])
        history.append((s, value))
        before = so_far.get(c, 0.0)
        if s.op == "=" and c in so_far and abs(value - before) <= rtol * max(abs(value), 1e-300):
            continue  # the adjoint again under another name (d_y_d_x = x_bar): nothing added
        added = value - before if s.op != "-=" else before - value
        sign = -1.0 if s.op == "-=" else 1.0
        so_far[c] = value
        last_statement[c] = s
        text = source_text[s.line - 1].strip() if 0 < s.line <= len(source_text) else s.name
        if c == o and not seed_done and c not in terms:
            seed_done = True
            if abs(value - 1.0) > rtol:
                return Problem(s.line, s.column, text, s.name, point, value, 1.0,
                               f"the output's adjoint {labels.adjoint(o)} is seeded with 1 "
                               f"(d {output}/d {output}), not {number(value)}")
            continue
        matched = _match(sign * added, remaining.get(c, []), rtol, abs(before) + abs(value))
        if matched is None:
            return _wrong(program, labels, s, c, text, point, sign * added, remaining, terms,
                          history, adjoint, output)
        for term in matched:
            remaining[c].remove(term)
    for c, left in remaining.items():
        if not left or c not in last_statement and not program.is_input(c):
            continue
        if all(abs(t[2]) <= 0.0 for t in left):
            continue  # terms that are exactly 0 need no statement
        return _missing(program, labels, c, left, last_statement.get(c), source_text, point,
                        output, so_far.get(c, 0.0), adjoint)
    return None


def _match(added: float, left: list, rtol: float, size: float = 0.0) -> list | None:
    """The terms among ``left`` that ``added`` is: one of them, or the sum of several (to
    ``rtol`` of the largest number involved, ``size`` being the adjoint's own)."""
    scale = max([abs(added), size, *(abs(t[2]) for t in left), 1e-300])
    close = lambda a, b: abs(a - b) <= rtol * scale + 1e-300  # noqa: E731
    for t in left:
        if close(added, t[2]):
            return [t]
    if left and close(added, math.fsum(t[2] for t in left)):
        return list(left)
    if len(left) <= SUBSET_LIMIT:
        for mask in range(3, 1 << len(left)):
            chosen = [t for b, t in enumerate(left) if mask >> b & 1]
            if len(chosen) > 1 and close(added, math.fsum(t[2] for t in chosen)):
                return chosen
    return None


def _wrong(program, labels, s, c, text, point, added, remaining, terms, history, adjoint,
           output) -> Problem:
    name_c, bar_c = labels.name(c), labels.adjoint(c)
    verb = "gets" if s.op == "=" else "adds"
    users = terms.get(c, [])
    if not users:
        return Problem(s.line, s.column, text, s.name, point, added, 0.0,
                       f"{s.name} {verb} {number(added)}; expected 0: {name_c} reaches {output} "
                       "through no statement, so no term is added to its adjoint")
    left = remaining.get(c, [])
    read = [n for n in _adjoints_read(text) if n != name_c]
    chosen = [t for t in users if labels.name(t[0]) in read]
    lines = []
    if chosen:  # the terms from the statements whose adjoints it reads
        expected = math.fsum(t[2] for t in chosen)
        lines.append(f"{s.name} {verb} {number(added)}; expected {number(expected)}")
        for i, k, value in chosen:
            product = _signed_term(labels, i, k)
            lines.append(f"the term from {labels.name(i)} = {labels.operation(i)} is "
                         f"{labels.adjoint(i)} times the local partial d {labels.name(i)}/d "
                         f"{name_c} = {labels.rule(i, k)}: {product} = {number(value)}")
            student = _student_value(history, labels.name(i))
            if student is not None and adjoint[i] is not None and \
                    abs(student - float(adjoint[i])) > RTOL * max(1.0, abs(float(adjoint[i]))):
                lines.append(f"{labels.name(i)}_bar is {number(student)} here but "
                             f"{number(adjoint[i])} when complete: a term is added to it after "
                             "this line, and the sweep uses an adjoint only once it is complete")
            elif (i, k, value) not in left:
                lines.append("that term was added already")
    else:
        expected = math.fsum(t[2] for t in left) if left else 0.0
        lines.append(f"{s.name} {verb} {number(added)}, which is no sum of the terms of {bar_c} "
                     "not added yet" + (f" (all of them: {number(expected)})" if left else ""))
        for name in read:
            lines.append(f"it reads {name}_bar, but {name} does not read {name_c}")
    if left and sorted(left) != sorted(chosen):
        lines.append(f"the terms of {bar_c} not added yet: " + ", ".join(
            f"{_signed_term(labels, i, k)} = {number(v)} (from {labels.name(i)} "
            f"= {labels.operation(i)})" for i, k, v in left))
    return Problem(s.line, s.column, text, s.name, point, added, expected, "; ".join(lines))


def _signed_term(labels: Labels, i: int, k: int) -> str:
    """``v1_bar * cos(v1)``, or ``-v1_bar * v1 / x2`` for a term subtracted."""
    sign, product = labels.term(labels.adjoint(i), i, k)
    return product if sign == "+" else f"-{product}"


def _adjoints_read(text: str) -> list[str]:
    """The names whose adjoints (``NAME_bar``) a statement's right-hand side reads."""
    right = re.split(r"[-+]?=", text, maxsplit=1)[-1]
    return list(dict.fromkeys(m.group(1) for m in re.finditer(r"\b(\w+?)_bar_*\b", right)))


def _student_value(history: list[tuple[Statement, float]], name: str) -> float | None:
    """The value MINE's ``NAME_bar`` has so far (its latest statement before this one)."""
    pattern = re.compile(rf"{re.escape(name)}_bar_*")
    for statement, value in reversed(history[:-1]):
        if pattern.fullmatch(statement.name):
            return value
    return None


def _missing(program, labels, c, left, statement, source_text, point, output, value,
             adjoint) -> Problem:
    options = ", ".join(f"{_signed_term(labels, i, k)} = {number(v)} "
                        f"(from {labels.name(i)} = {labels.operation(i)})" for i, k, v in left)
    total = float(adjoint[c]) if adjoint[c] is not None else 0.0
    if statement is None:
        message = (f"MINE never computes {labels.adjoint(c)} = d {output}/d {labels.name(c)} = "
                   f"{number(total)}; its terms: {options}")
        return Problem(0, 0, "", labels.adjoint(c), point, None, total, message)
    text = source_text[statement.line - 1].strip() if source_text else statement.name
    message = (f"{statement.name} ends at {number(value)} but d {output}/d {labels.name(c)} is "
               f"{number(total)}: missing {options}")
    return Problem(statement.line, statement.column, text, statement.name, point, value, total,
                   message)


def point_words(point: Mapping[str, float], names: Sequence[str]) -> str:
    """``x1 = 1.5, x2 = 0.5``."""
    return ", ".join(f"{n} = {number(point[n])}" for n in names)
