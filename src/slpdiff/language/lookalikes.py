"""Warnings about the constants ``e`` and ``pi`` where a program seems to mean a variable.

``e`` and ``pi`` are always the language's constants. A program written with its variables named
by letters (``y = a*x^4 + b*x^3 + c*x^2 + d*x + e``) or by letter and index (``xi``, ``yi``, ``pi``
for "p sub i") may have meant a variable: it gets a number instead, silently, and ``--at e=5`` is
refused. The rule, kept narrow so that ``a * e^(b*x)`` or ``2*pi*r`` say nothing:

- ``e`` is named when the program's one-letter names (inputs or assigned), with ``e``, hold a run
  of at least three consecutive letters through ``e`` (``c, d, e``, ``d, e, f`` or ``e, f, g``);
- ``pi`` is named when the program has at least two other names made of one letter and ``i``
  (``xi``, ``yi``).

One warning per constant, at its first use.
"""

from __future__ import annotations

import re

from ..errors import Diagnostic, quoted_names
from .primitives import CONSTANTS
from .program import Program

RUN = 3  # consecutive letters through e that make a sequence of variables
INDEXED = 2  # other "letter + i" names that make pi read as p sub i
_WRITTEN = re.compile(r"(?<![\w.])(e|pi)(?!\w)")  # e or pi as a name, not in 1e5 or x.e


def lookalike_warnings(program: Program) -> list[Diagnostic]:
    """The uses of ``e`` and ``pi`` that look like variables, by the module's rule."""
    if program.source is None or not _WRITTEN.search(program.source.text):
        return []  # a search in C: the usual case costs nothing on a million statements
    names = set(program.input_names) | {n for n in program.names if n is not None}
    reasons = {}
    run = _letter_run(names)
    if len(run) >= RUN:
        reasons["e"] = quoted_names(sorted(run - {"e"}))
    indexed = sorted(n for n in names if len(n) == 2 and n[1] == "i" and n[0].isalpha())
    if len(indexed) >= INDEXED:
        reasons["pi"] = quoted_names(indexed)
    found = []
    for constant, beside in reasons.items():
        place = _first_use(program, constant)
        if place is not None:
            found.append(Diagnostic(
                f"'{constant}' is the constant {constant} = {CONSTANTS[constant]!r}, not an "
                f"input: beside the names {beside} it reads like a variable; if one was meant, "
                f"rename it ({constant}_ or {constant}1, say)", program.source, *place))
    return found


def _letter_run(names: set[str]) -> set[str]:
    """The consecutive one-letter names through ``e`` (``e`` included), e.g. {c, d, e}."""
    letters = {n for n in names if len(n) == 1 and n.isalpha()} | {"e"}
    run = {"e"}
    for step in (-1, 1):
        letter = chr(ord("e") + step)
        while letter in letters:
            run.add(letter)
            letter = chr(ord(letter) + step)
    return run


def _first_use(program: Program, constant: str) -> tuple[int, int] | None:
    """Line and column of the first use of ``constant`` in the program's text (outside comments;
    the program parsed, so every such word is the constant)."""
    for number, line in enumerate(program.source.text.split("\n"), start=1):
        code = line.split("#", 1)[0]
        for match in _WRITTEN.finditer(code):
            if match.group(1) == constant:
                return number, match.start() + 1
    return None
