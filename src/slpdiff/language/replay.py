"""Reading a large program fast: each statement's shape parsed once by Lark, then replayed.

An LALR parser's actions depend on the kinds of the tokens only, never on their text: every
statement made of the same kinds of tokens (``NAME = NAME * NAME``: a *shape*) is reduced by the
same rules in the same order, whatever its names and numbers. So the parser
(:mod:`slpdiff.language.parser`) lets Lark parse a statement of each new shape, alone, recording
the grammar's callbacks it makes; the record becomes a small Python function that makes the same
calls on :class:`~slpdiff.language.statements.Statements` with the next statement's tokens. A
generated program of a million statements has a few dozen shapes.

Nothing here defines the language: the tokens come from Lark's own lexer (its one regular
expression of the grammar's terminals, run over the text by ``finditer``, at C speed), their
kinds are Lark's, and the calls are those Lark made. Whatever is not a plain run of statements
(a character no terminal matches, a statement Lark rejects, a newline inside a token) makes
:meth:`Replay.read` give up, and the parser then reads the whole text with Lark, which reports
the errors in its own words: a valid program gives the same tape either way, an invalid one the
same messages (``tests/test_tape.py`` compares them on the error tables and random programs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import accumulate, compress

BLOCK_CHARS = 1 << 18  # the text is tokenized this many characters (whole lines) at a time
KEEP_SHAPES = 4096  # shapes kept between programs (each a small compiled function)
# When this many shapes are new, and more than a quarter of the statements have a shape of their
# own (a hand-written program), replaying saves nothing: Lark reads the whole program instead.
FEW_SHAPES = 256

# The record of one statement: (method name, arguments), an argument ("token", k) for the
# statement's k-th token or ("result", j) for what call j returned.
Record = list[tuple[str, list[tuple[str, int]]]]


class Replay:
    """The fast reader of one grammar. ``pattern`` is Lark's regular expression of the terminals
    (one named group each, in Lark's order); ``ignore``: the kinds Lark skips; ``separator``: the
    kind that ends a statement (never inside one); ``keywords``: kind -> {text: kind} for Lark's
    keyword check (``input`` is a NAME by the pattern and an INPUT by that check);
    ``record(text)`` parses one statement with Lark and returns its :data:`Record` (None on a
    syntax error)."""

    def __init__(self, pattern: re.Pattern, kinds: list[str], ignore: set[str], separator: str,
                 keywords: dict[str, dict[str, str]], record: Callable[[str], Record | None]):
        self.pattern = pattern
        # The same alternatives in the same order, captured as one group: ``findall`` then
        # gives the tokens' texts, in C, with no match objects.
        self.tokens = re.compile(f"({without_groups(pattern.pattern)})", pattern.flags)
        # One character per kind, so that a block's kinds are one string, split by statement;
        # an ignored kind has none.
        self.char = {kind: "" if kind in ignore else chr(0x100 + k)
                     for k, kind in enumerate(kinds)}
        self.separator = self.char[separator]
        self.keywords = keywords
        self.record = record
        self.shapes: dict[str, Callable] = {}

    def read(self, text: str, statements) -> bool:
        """Make ``statements``' calls for every statement of ``text``; False when Lark must read
        the text instead (the calls made so far are then to be thrown away)."""
        if len(self.shapes) > KEEP_SHAPES:
            self.shapes.clear()
        self.new_shapes = self.statements_read = 0
        line, pos = 1, 0
        while pos < len(text):
            end = text.find("\n", pos + BLOCK_CHARS)
            end = len(text) if end < 0 else end + 1
            block = text[pos:end]
            if not self._read_block(block, statements, line):
                return False
            line += block.count("\n")
            pos = end
        return True

    def _kind(self, text: str) -> str:
        """The character of the kind Lark gives the token ``text``."""
        kind = self.pattern.fullmatch(text).lastgroup
        words = self.keywords.get(kind)
        if words is not None:
            kind = words.get(text, kind)
        return self.char[kind]

    def _read_block(self, block: str, statements, line: int) -> bool:
        texts = self.tokens.findall(block)
        if sum(map(len, texts)) != len(block):
            return False  # a character that no terminal matches: Lark says which
        starts = list(accumulate(map(len, texts), initial=0))
        kinds = _Kinds(self._kind)  # per block: the texts of names rarely repeat further
        chars = list(map(kinds.__getitem__, texts))
        if not all(chars):
            keep = list(map(bool, chars))
            texts = list(compress(texts, keep))
            starts = list(compress(starts, keep))
        return self._replay(block, "".join(chars).split(self.separator), texts, starts,
                            statements, line)
    def _replay(self, block, shapes, texts, starts, statements, line) -> bool:
        known = self.shapes
        count = len(texts)
        first_line = line
        before = -1  # the offset where the current line starts, minus one
        k = 0
        for shape in shapes:
            if shape:
                replay = known.get(shape)
                if replay is None:
                    replay = self._learn(block, shape, texts, starts, k)
                    if replay is None:
                        return False
                replay(statements, texts, starts, k, line, before)
            k += len(shape)
            if k < count:  # the separator
                separator = texts[k]
                if "\n" in separator:
                    line += 1
                    before = starts[k] + len(separator) - 1
                k += 1
        self.statements_read += len(shapes)
        # Each newline is a separator of its own (no token holds one): else line numbers differ.
        return line - first_line == block.count("\n")

    def _learn(self, block: str, shape: str, texts: list[str], starts: list[int], k: int):
        """The replay function of ``shape``, from Lark's parse of the statement at token ``k``;
        None when Lark rejects it, or when shapes are too many to be worth it."""
        self.new_shapes += 1
        if self.new_shapes > FEW_SHAPES and 4 * self.new_shapes > self.statements_read:
            return None
        last = k + len(shape) - 1
        origin = starts[k]
        # The statement's text as written (spaces included), from its first token to its last.
        record = self.record(block[origin:starts[last] + len(texts[last])])
        if record is None:
            return None
        token_at = {starts[k + t] - origin + 1: t for t in range(len(shape))}  # column -> token
        replay = _compile(record, token_at)
        self.shapes[shape] = replay
        return replay


def _compile(record: Record, token_at: dict[int, int]) -> Callable:
    """A function ``(statements, texts, starts, k, line, before)`` that makes the recorded calls
    with the tokens of the statement whose first token is number ``k``."""
    lines = ["def replay(S, v, s, k, L, B):"]
    for j, (method, args) in enumerate(record):
        parts = []
        for kind, x in args:
            if kind == "result":
                parts.append(f"r{x}")
            else:
                t = token_at[x]
                parts.append(f"v[k + {t}], L, s[k + {t}] - B")
        lines.append(f"    r{j} = S.{method}({', '.join(parts)})")
    namespace: dict = {}
    exec(compile("\n".join(lines), "<slpdiff statement shape>", "exec"), namespace)  # noqa: S102
    return namespace["replay"]


class _Kinds(dict):
    """Token text -> the character of its kind, each text worked out once."""

    def __init__(self, kind_of: Callable[[str], str]):
        super().__init__()
        self.kind_of = kind_of

    def __missing__(self, text: str) -> str:
        char = self[text] = self.kind_of(text)
        return char


def without_groups(pattern: str) -> str:
    """``pattern`` with every group made non-capturing (``(x)`` and ``(?P<n>x)`` become
    ``(?:x)``). Raises ValueError on a back reference, which would then mean something else."""
    out = []
    k, n = 0, len(pattern)
    in_class = False
    while k < n:
        c = pattern[k]
        if c == "\\":
            if k + 1 < n and pattern[k + 1].isdigit() and not in_class:
                raise ValueError("a back reference")
            out.append(pattern[k:k + 2])
            k += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            # a "]" first in a class (or after "^") is a character of the class
            start = k + 1 + (pattern[k + 1:k + 2] == "^")
            if pattern[start:start + 1] == "]":
                out.append(pattern[k:start + 1])
                k = start + 1
                continue
        elif c == "(":
            if pattern.startswith("(?P<", k):
                k = pattern.index(">", k) + 1
                out.append("(?:")
                continue
            if pattern.startswith("(?P=", k):
                raise ValueError("a back reference")
            if not pattern.startswith("(?", k):
                out.append("(?:")
                k += 1
                continue
        out.append(c)
        k += 1
    result = "".join(out)
    if re.compile(result).groups:
        raise ValueError("a group is left")
    return result
