"""How the teaching views write numbers and names: display rounding (``--digits``) and the book's
notation (``--notation book``).

Rounding is for display only: a rounded number is shown, never computed with, and JSON output
keeps every number whole. The book's notation is Griewank and Walther's (*Evaluating
Derivatives*, 2008): the ``n`` inputs are ``v_{1-n}, ..., v_0`` in the program's input order and
every other node of the trace is ``v_1, v_2, ...`` in evaluation order; an adjoint is ``\\bar v_i``
and a tangent ``\\dot v_i``. The program keeps its own names (a table maps them). Each name and
expression has two spellings: ASCII for text tables (``v[-1]``, ``vbar[3]``, ``vdot[3]``) and
LaTeX math for LaTeX and markdown (``v_{-1}``, ``\\bar v_{3}``, ``\\dot v_{3}``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..formats import number
from .labels import Labels

NOTATIONS = ("program", "book")


def shown(x, digits: int | None = None) -> str:
    """``x`` for display: every digit (the shortest text that reads back to the same float64) or,
    with ``digits``, rounded to that many significant digits (``1.5000`` for 1.5 with 5)."""
    if digits is None:
        return number(x)
    x = float(x)
    if not math.isfinite(x):
        return number(x)
    mantissa, e, exponent = f"{x:#.{digits}g}".partition("e")
    return mantissa.rstrip(".") + (e + exponent if e else "")


@dataclass(frozen=True)
class Math:
    """A cell in mathematical notation: ``text`` for text tables, ``tex`` (LaTeX math, without
    the dollars) for LaTeX and markdown."""

    text: str
    tex: str

    def __str__(self) -> str:
        return self.text


# Names the book's ASCII spelling uses: v[i], vbar[i], vdot[i] and the second order's vbardot[i].
_BOOK_NAME = re.compile(r"(vbardot|vbar|vdot|v)\[(-?\d+)\]")
_TEX_TOKEN = re.compile(r"(vbardot|vbar|vdot|v)\[(-?\d+)\]|(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)"
                        r"|([A-Za-z_][A-Za-z0-9_]*)|([+-]=)|(\s+)|(.)")
_FUNCTIONS = {"sin", "cos", "tan", "exp", "log", "sinh", "cosh", "tanh"}
_ARC = {"asin": r"\arcsin", "acos": r"\arccos", "atan": r"\arctan"}
_DECORATION = {"v": "v_{%s}", "vbar": r"\bar v_{%s}", "vdot": r"\dot v_{%s}",
               "vbardot": r"\dot{\bar v}_{%s}"}


def to_tex(text: str) -> str:
    """An expression in the book's ASCII spelling (``vbar[0] -= vbar[1] * v[1] / v[0]``) as LaTeX
    math (``\\bar v_{0} \\mathrel{-}= \\bar v_{1} \\cdot v_{1} / v_{0}``): functions as
    operators, ``^`` as a superscript, ``sqrt(x)`` as a root. Needs no LaTeX package."""
    tokens = [m for m in _TEX_TOKEN.finditer(text)]
    out: list[str] = []
    closers: list[str] = []  # what each open parenthesis closes with
    k = 0
    while k < len(tokens):
        m = tokens[k]
        k += 1
        if m.group(1):
            out.append(_DECORATION[m.group(1)] % m.group(2))
        elif m.group(3):
            out.append(m.group(3))
        elif m.group(4):
            name = m.group(4)
            if k < len(tokens) and tokens[k].group(7) == "(":
                k += 1
                opening, closing = _call(name)
                out.append(opening)
                closers.append(closing)
            else:
                out.append(rf"\mathrm{{{_escape(name)}}}" if len(name) > 1 else name)
        elif m.group(5):
            out.append(rf"\mathrel{{{m.group(5)[0]}}}=")
        elif m.group(6):
            out.append(" ")
        else:
            ch = m.group(7)
            if ch == "(":
                out.append("(")
                closers.append(")")
            elif ch == ")":
                out.append(closers.pop() if closers else ")")
            elif ch == "*":
                out.append(r"\cdot")
            elif ch == "^":
                k = _exponent(tokens, k, out, closers)
            elif ch == ",":
                out.append(r",\allowbreak")  # a long call may break after a comma
            else:
                out.append(_escape(ch))
    return re.sub(r" +", " ", "".join(out)).strip()


def _call(name: str) -> tuple[str, str]:
    if name == "sqrt":
        return r"\sqrt{", "}"
    if name == "abs":
        return r"\left\vert ", r"\right\vert "
    if name in _FUNCTIONS:
        return rf"\{name}(", ")"
    if name in _ARC:
        return _ARC[name] + "(", ")"
    return rf"\mathrm{{{_escape(name)}}}(", ")"


def _exponent(tokens, k: int, out: list[str], closers: list[str]) -> int:
    """Write ``^`` and its operand as ``^{...}``; return the next token's index."""
    while k < len(tokens) and tokens[k].group(6):
        k += 1  # "a ^ b": the spaces around the operator
    if k < len(tokens) and tokens[k].group(7) == "(":
        out.append("^{")
        closers.append("}")  # the parentheses of an exponent are its braces
        return k + 1
    operand = []
    if k < len(tokens) and tokens[k].group(7) == "-":
        operand.append("-")
        k += 1
    if k < len(tokens):
        m = tokens[k]
        operand.append(_DECORATION[m.group(1)] % m.group(2) if m.group(1) else
                       _escape(m.group(0)))
        k += 1
    out.append("^{" + "".join(operand) + "}")
    return k


def _escape(text: str) -> str:
    return text.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&").replace("#", r"\#")


class BookLabels(Labels):
    """:class:`Labels` in the book's names: ``v[-1]``, ``v[0]`` for two inputs, then ``v[1]``,
    ``v[2]``, ... for the rows of the trace; adjoints ``vbar[i]`` and tangents ``vdot[i]``."""

    def __init__(self, program):
        super().__init__(program)
        self.program_names = list(self.names)
        self.index: dict[int, int] = {}
        n = len(program.input_index)
        for k, i in enumerate(program.input_index):
            self.index[i] = k + 1 - n
        count = 0
        for i in range(len(program)):
            if i not in self.index and self.shows_as_row(i):
                count += 1
                self.index[i] = count
        self.names = [f"v[{self.index[i]}]" if i in self.index else name
                      for i, name in enumerate(self.names)]

    def is_generated(self, i: int) -> bool:
        return self.program_names[i].startswith("%")

    def adjoint(self, i: int) -> str:
        return f"vbar[{self.index[i]}]"

    def tangent(self, i: int) -> str:
        return f"vdot[{self.index[i]}]"

    def second(self, i: int) -> str:
        """The tangent of an adjoint, in the second-order sweep: ``vbardot[i]``."""
        return f"vbardot[{self.index[i]}]"

    def math(self, text: str) -> Math:
        """``text`` in the book's ASCII spelling, with its LaTeX."""
        return Math(text, to_tex(text))

    def operation(self, i: int) -> str:
        if self.program.is_input(i):
            return self.program_names[i]
        return super().operation(i)


def book_name_tex(text: str) -> str:
    """One ASCII book name (``vbar[3]``) as LaTeX (``\\bar v_{3}``)."""
    m = _BOOK_NAME.fullmatch(text)
    return _DECORATION[m.group(1)] % m.group(2) if m else to_tex(text)
