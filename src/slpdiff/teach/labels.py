"""What nodes, operations and local partial derivatives are called in traces and pictures.

A node that a program names keeps its name (a name that ``+=`` gives to several nodes is
``a``, then ``a@2``, ``a@3``, ...). An intermediate of a nested expression (the ``x*w``
in ``sin(x*w) + x``) gets a generated name ``%1``, ``%2``, ...: ``%`` cannot appear in a program's
names, so a generated name never collides with one and is visibly not from the program. A
constant that the program does not name is written as its number. Adjoints are written ``v7_bar``
and tangents ``v7_dot``; should a program use such a name itself, a longer suffix is chosen
(``_bar_``, ...).

Derivative rules are the primitive table's text with the node's arguments substituted for the
rule's parameters (``cos(a)`` for ``v2 = sin(v1)`` becomes ``cos(v1)``), and the node's own name
for the function applied to its own parameters, which the engine does not compute again (``exp(a)``
for ``v5 = exp(v3)`` becomes ``v5``; ``-(a / b) / b`` for ``v1 = x / y`` becomes ``-v1 / y``).
"""

from __future__ import annotations

import re
from functools import cache

from ..formats import number
from ..language.program import Program
from ..language.rules import rules_for

INTERMEDIATE = "%"  # generated names are INTERMEDIATE + a number; no program name contains it
VERSION = "@"  # a name's later values (after `+=`) are name@2, name@3, ...; no name contains it

# Numbers first, so that the "e5" of "1e5" is not taken for a name.
_TOKEN = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|([A-Za-z_][A-Za-z0-9_]*)")


class Labels:
    """The display names of one program's nodes, and the text of its operations and rules."""

    def __init__(self, program: Program):
        self.program = program
        names: list[str] = []
        count = 0
        input_name = dict(zip(program.input_index, program.input_names, strict=True))
        seen: dict[str, int] = {}
        for i, own in enumerate(program.names):
            if i in input_name:
                names.append(input_name[i])
            elif own is not None:
                # `a += x` gives the name a to a second node: it is shown as a@2, a@3, ...
                seen[own] = seen.get(own, 0) + 1
                names.append(own if seen[own] == 1 else f"{own}{VERSION}{seen[own]}")
            elif program.consts[i] is not None:
                names.append(number(program.consts[i]))
            else:
                count += 1
                names.append(f"{INTERMEDIATE}{count}")
        self.names = names
        taken = {n for n in names if not _is_literal(n)} | set(program.output_names)
        self.bar = _free_suffix("_bar", taken)
        self.dot = _free_suffix("_dot", taken)

    def name(self, i: int) -> str:
        """The name of node ``i`` (its number, for an unnamed constant)."""
        return self.names[i]

    def is_generated(self, i: int) -> bool:
        """True for an intermediate that the program does not name."""
        return self.names[i].startswith(INTERMEDIATE)

    def shows_as_row(self, i: int) -> bool:
        """True unless node ``i`` is an unnamed constant (written inline as its number)."""
        program = self.program
        return not (program.consts[i] is not None and program.names[i] is None)

    def adjoint(self, i: int) -> str:
        """``v7_bar``: the adjoint of node ``i``."""
        return self.names[i] + self.bar

    def tangent(self, i: int) -> str:
        """``v7_dot``: the tangent of node ``i``."""
        return self.names[i] + self.dot

    def operation(self, i: int) -> str:
        """What node ``i`` computes, in its arguments' names: ``x * w``, ``sin(v1)``, ``input``."""
        program = self.program
        op = program.ops[i]
        if op is None:
            return number(program.consts[i]) if program.consts[i] is not None else "input"
        args = [self._atom(a) for a in program.args[i]]
        if op.infix is not None and len(args) == 2:
            return f"{args[0]} {op.infix} {args[1]}"
        if op.infix is not None and len(args) == 1:
            return f"{op.infix}{args[0]}"
        return f"{op.name}({', '.join(args)})"

    def rule(self, i: int, k: int) -> str:
        """The local partial derivative of node ``i`` in its argument ``k``, as text in the
        arguments' names and the node's own: ``cos(v1)`` for ``v2 = sin(v1)``, ``v5`` for
        ``v5 = exp(v3)``."""
        op = self.program.ops[i]
        args = {p: self._atom(a) for p, a in zip(op.params, self.program.args[i], strict=True)}
        args[OWN] = self._atom(i)
        return "".join(args.get(text, text) if kind == "name" else text
                       for text, kind in rule_tokens(op, k))

    def term(self, factor: str, i: int, k: int) -> tuple[str, str]:
        """``factor`` times the rule of (node ``i``, argument ``k``) as a sign and a product:
        ``("+", "v2_bar * cos(v1)")``, ``("-", "v2_bar * sin(v1)")`` for the rule ``-sin(v1)``;
        a rule 1 or -1 is not written as a factor."""
        rule = rules_for(self.program.ops[i])[k]
        if rule.const == 1.0:
            return "+", factor
        if rule.const == -1.0:
            return "-", factor
        sign, text = split_sign(self.rule(i, k))
        if text.startswith("1 / ") and _atom_text(text[4:]):
            return sign, f"{factor} / {text[4:]}"  # the book's a_bar / b, not a_bar * 1 / b
        return sign, f"{factor} * {grouped(text)}"

    def _atom(self, i: int) -> str:
        name = self.names[i]
        return f"({name})" if name.startswith("-") else name


def _is_literal(name: str) -> bool:
    return not (name[:1].isalpha() or name[:1] == "_" or name.startswith(INTERMEDIATE))


def _free_suffix(suffix: str, taken: set[str]) -> str:
    """``suffix``, lengthened with "_" until no taken name plus it is another taken name."""
    while any(n + suffix in taken for n in taken):
        suffix += "_"
    return suffix


OWN = "__own__"  # in a rule's tokens: the node's own value (no parameter or function has the name)


@cache
def rule_tokens(op, k: int) -> tuple[tuple[str, str], ...]:
    """The tokens of ``op``'s rule for parameter ``k`` (see :func:`tokens`), with the function
    applied to its own parameters (``tanh(a)`` in tanh's rule, ``(a / b)`` in divide's) as the
    one name ``OWN``: the value the node already computed, which the engine reuses."""
    text = rules_for(op)[k].text
    own = f"{op.name}({', '.join(op.params)})"
    if op.infix is not None and op.arity == 2:
        own = f"({op.params[0]} {op.infix} {op.params[1]})"
    return tokens(text.replace(own, OWN))


def split_sign(text: str) -> tuple[str, str]:
    """``("-", "sin(v1)")`` for ``-sin(v1)``; ``("+", text)`` unless ``text`` is a negated
    product (a leading minus and no other + or - outside parentheses)."""
    if text.startswith("-") and len(text) > 1:
        rest = text[1:]
        if grouped(rest) == rest:
            return "-", rest
    return "+", text


@cache
def tokens(text: str) -> tuple[tuple[str, str], ...]:
    """``text`` cut into pieces, each with its kind: "name", "number" or "other"."""
    pieces: list[tuple[str, str]] = []
    end = 0
    for m in _TOKEN.finditer(text):
        if m.start() > end:
            pieces.append((text[end:m.start()], "other"))
        pieces.append((m.group(), "name" if m.group(1) is not None else "number"))
        end = m.end()
    if end < len(text):
        pieces.append((text[end:], "other"))
    return tuple(pieces)


def _atom_text(text: str) -> bool:
    """Is ``text`` an atom: a name, a number, a call or a parenthesized expression (no operator
    or space outside parentheses and brackets)?"""
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "+-*/^ ":
            return False
    return bool(text)


def grouped(text: str) -> str:
    """``text`` in parentheses if it has a + or - outside parentheses or brackets (so that a
    product reads right)."""
    depth = 0
    for piece, kind in tokens(text):
        if kind != "other":
            continue
        for ch in piece:
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif ch in "+-" and depth == 0:
                return f"({text})"
    return text
