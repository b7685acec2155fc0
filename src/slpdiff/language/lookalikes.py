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

import numpy as np

from ..errors import Diagnostic, quoted_names
from .primitives import CONSTANTS
from .program import Program

RUN = 3  # consecutive letters through e that make a sequence of variables
INDEXED = 2  # other "letter + i" names that make pi read as p sub i


def lookalike_warnings(program: Program) -> list[Diagnostic]:
    """The uses of ``e`` and ``pi`` that look like variables, by the module's rule."""
    if program.source is None:
        return []
    used = _constants_used(program)
    if not used:  # the usual case, found in C: a million statements cost nothing to speak of
        return []
    names = set(program.input_names) | {n for n in program.names if n is not None}
    reasons = {}
    run = _letter_run(names)
    if "e" in used and len(run) >= RUN:
        reasons["e"] = quoted_names(sorted(run - {"e"}))
    indexed = sorted(n for n in names if len(n) == 2 and n[1] == "i" and n[0].isalpha())
    if "pi" in used and len(indexed) >= INDEXED:
        reasons["pi"] = quoted_names(indexed)
    found = []
    for constant, beside in reasons.items():
        line, column = used[constant]
        found.append(Diagnostic(
            f"'{constant}' is the constant {constant} = {CONSTANTS[constant]!r}, not an "
            f"input: beside the names {beside} it reads like a variable; if one was meant, "
            f"rename it ({constant}_ or {constant}1, say)", program.source, line, column))
    return found


def _constants_used(program: Program) -> dict[str, tuple[int, int]]:
    """Line and column of the first constant node written as ``e`` or ``pi`` in the source (a
    literal 2.718281828459045 has the same value but another spelling): the constants' values
    are compared in numpy, and only a node holding one of those values is read as text."""
    pool = np.asarray(program.pool, dtype=np.float64)
    values = np.abs(pool)  # -e is one constant, at the minus sign
    slots = np.flatnonzero((values == CONSTANTS["e"]) | (values == CONSTANTS["pi"]))
    if slots.size == 0:
        return {}
    codes, arg0 = np.asarray(program.codes), np.asarray(program.arg0)
    used: dict[str, tuple[int, int]] = {}
    for i in np.flatnonzero((codes == 0) & np.isin(arg0, slots)).tolist():
        line, column = program.lines[i], program.columns[i]
        text = program.source.line_text(line)[column - 1:] if line else ""
        if text.startswith("-"):
            stripped = text[1:].lstrip()
            column += len(text) - len(stripped)
            text = stripped
        for constant in CONSTANTS:
            after = text[len(constant):len(constant) + 1]
            if text.startswith(constant) and not (after.isalnum() or after == "_"):
                used.setdefault(constant, (line, column))
    return used


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
