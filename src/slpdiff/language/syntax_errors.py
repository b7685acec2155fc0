"""Lark's syntax errors in plain words: what was expected where, never the grammar's token names.

The parser (the only module that imports lark) hands over Lark's ``UnexpectedToken`` or
``UnexpectedCharacters``; this module reads what the parser state would have accepted (Lark's
interactive parser, ``accepts()``) and the program text around the error, and says what is wrong
the way a person would: "expected an expression after '*'", "unclosed '(' opened at 3:9", "'='
needs a name on its left", "number 2 is followed by name 'x': write '2 * x' to multiply". Every
helper looks only at the statement around the error, so each error costs time proportional to
its statement.
"""

from __future__ import annotations

import re

from ..errors import Diagnostic, Source
from .primitives import KEYWORDS, PRIMITIVES


def at_offset(source: Source, offset: int, message: str) -> Diagnostic:
    """A diagnostic at character ``offset`` of the source (line and column counted from 1)."""
    line = source.text.count("\n", 0, offset) + 1
    column = offset - (source.text.rfind("\n", 0, offset) + 1) + 1
    return Diagnostic(message, source, line, column)


_EXPRESSION_START = {"NAME", "NUMBER", "LPAR", "MINUS", "PLUS"}
_OPERATOR_TEXTS = {"+", "-", "*", "/", "^", "**", "=", "+=", "-=", ",", "("}
_NUMBER_TEXT = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TOKEN_WORDS = {"_SEP": "the end of the line", "$END": "the end of the program"}


def syntax_error_at(error, source: Source) -> tuple[Diagnostic, int]:
    """A plain-words :class:`Diagnostic` for one of lark's ``UnexpectedInput`` errors, and the
    offset in the text it points at."""
    text = source.text
    token = getattr(error, "token", None)
    if token is None:  # UnexpectedCharacters
        offset = error.pos_in_stream
        char = text[offset]
        if ord(char) > 127:
            message = (f"character '{char}' (U+{ord(char):04X}) is not allowed here: names are "
                       "ASCII letters, digits and '_'; other characters only in comments")
        elif not char.isprintable():
            message = f"unexpected control character U+{ord(char):04X}"
        else:
            message = f"unexpected character '{char}'"
        return at_offset(source, offset, message), offset

    at_end = token.type == "$END"
    # At a line end or the end of the text, point just past the last code character (not at the
    # end of a trailing comment, nor on the blank lines after the program).
    offset = _end_of_code(text, len(text) if at_end else token.start_pos) \
        if at_end or token.type == "_SEP" and token.value != ";" else token.start_pos
    message = _message(token, _expected(error), _previous_token(text, offset), text, offset)
    if isinstance(message, tuple):  # the message points somewhere else
        message, offset = message
    return at_offset(source, offset, message), offset


def _expected(error) -> set[str]:
    """The terminals the parser could take instead of the bad token.

    Lark's ``error.expected`` is what the LALR state has an action for, which (with LALR's merged
    lookaheads) can include terminals that a reduction would then refuse; the interactive
    parser's ``accepts()`` tries each one. It runs on a copy of the state stack without its
    values (older Lark versions deep-copy the values, which here are the whole graph so far).
    """
    parser = getattr(error, "interactive_parser", None)
    if parser is None:
        return set(error.expected)
    state = parser.parser_state
    probe = type(state)(state.parse_conf, state.lexer, list(state.state_stack),
                        [None] * len(state.value_stack))
    try:
        return set(type(parser)(parser.parser, probe, parser.lexer_thread).accepts())
    except Exception:  # a Lark whose internals differ: its own guess is still a message
        return set(error.expected)


def _message(token, expected: set[str], before: str, text: str, offset: int):
    """The plain-words message for an unexpected ``token`` after ``before`` (the previous token's
    text), when the parser could take ``expected``; or (message, offset) to point elsewhere."""
    found = _describe(token)
    ends = expected & {"_SEP", "$END"}
    # Where only an operand (or a call's ')') can come: after an operator, '(' or ','.
    wants_operand = bool(expected) and expected <= _EXPRESSION_START | {"RPAR"}

    if token.type == "RPAR" and _unclosed_paren(text, offset) is None:
        return "unmatched ')': there is no '(' before it in this statement"
    if token.type in ("_SEP", "$END") and "RPAR" in expected:
        unclosed = _unclosed_paren(text, offset)
        if unclosed is not None:
            line = text.count("\n", 0, unclosed) + 1
            column = unclosed - (text.rfind("\n", 0, unclosed) + 1) + 1
            return f"unclosed '(' opened at {line}:{column}"
    if token.type in ("EQUAL", "ACCUMULATE") and before in KEYWORDS:
        return (f"'{before}' is a reserved word and cannot be assigned",
                text.rindex(before, 0, offset))
    if "INPUT" in expected:  # at the start of a statement
        if token.type == "ACCUMULATE":
            return f"'{token}' needs a name on its left"
        if token.type == "EQUAL" or "=" in _rest_of_statement(text, offset):
            return "'=' needs a name on its left"
        return (f"expected a statement, found {found}: a statement is name = expression, "
                "input names or output names")
    if token.type == "EQUAL" and before == "=":
        return "'==' is not an operator: a statement assigns with one '=', and there are no " \
               "comparisons"
    if expected == {"NAME"}:
        return f"expected a name after '{before}', found {found}"
    if token.type in ("INPUT", "OUTPUT"):
        if wants_operand:
            return (f"'{token}' is a reserved word: it starts a statement ({token} names) and "
                    "cannot be used in an expression")
        return (f"'{token}' starts a statement of its own: put it on a new line or after ';'")
    if "EQUAL" in expected and expected <= {"EQUAL", "ACCUMULATE"}:
        return f"expected '=' after '{before}', found {found}: a statement is name = expression"
    if token.type == "ACCUMULATE":
        return (f"unexpected '{token}': it adds to a name, at the start of a statement "
                f"(name {token} expression)")
    if wants_operand:
        what = "an argument" if before == "," else "an expression"
        after = f" after '{before}'" if before in _OPERATOR_TEXTS else ""
        return f"expected {what}{after}, found {found}"
    if token.type in ("NAME", "NUMBER") and _NUMBER_TEXT.fullmatch(before):
        adjacent = text[offset - len(before): offset] == before
        if token.type == "NAME" and adjacent and token.value[0] in "eE":
            return (f"'{before}{token}' is not a number: an exponent needs digits, as in "
                    f"{before}e3 (and a product needs '*', as in {before} * {token})")
        if token.type == "NUMBER" and adjacent:
            return f"'{before}{token}' is not a number"
        if token.type == "NUMBER":
            return f"expected an operator between number {before} and {found}"
        return f"number {before} is followed by {found}: write '{before} * {token}' to multiply"
    if token.type in ("NAME", "NUMBER", "LPAR") and before in PRIMITIVES and "LPAR" in expected:
        return (f"'{before}' is a function: its arguments go in parentheses, "
                f"as in {PRIMITIVES[before].signature}")
    if token.type == "EQUAL":
        return "unexpected '=': a statement assigns one name (name = expression)"
    if token.type == "COMMA" and "COMMA" not in expected:
        return "unexpected ',': commas separate a function's arguments and declared names"
    if expected <= {"COMMA", "_SEP", "$END"}:
        return f"expected ',' or the end of the statement, found {found}"
    if "RPAR" in expected:
        more = "an operator, ',' or ')'" if "COMMA" in expected else "an operator or ')'"
        return f"expected {more} after '{before}', found {found}"
    if ends:
        return f"expected an operator or the end of the statement, found {found}"
    return f"unexpected {found}"


def _describe(token) -> str:
    """What a user calls ``token``: never one of the grammar's terminal names."""
    if token.type == "NAME":
        return f"name '{token}'"
    if token.type == "NUMBER":
        return f"number {token}"
    if token.type == "_SEP" and token.value == ";":
        return "';'"
    if token.type in ("_SEP", "$END"):
        return _TOKEN_WORDS[token.type]
    return f"'{token}'"  # operators, parentheses, keywords: as written (** stays **)


def _previous_token(text: str, offset: int) -> str:
    """The token just before ``offset`` on its line (an operator, a word, or '')."""
    i = offset
    while i > 0 and text[i - 1] in " \t\f":
        i -= 1
    if i == 0 or text[i - 1] in "\n;":
        return ""
    if text[i - 2: i] in ("**", "+=", "-="):
        return text[i - 2: i]
    if text[i - 1] in "+-*/^=,(":
        return text[i - 1]
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] in "_."):
        j -= 1
    return text[j:i]


def _comment_start(text: str, line_start: int, end: int) -> int:
    """Where a comment starts on the line beginning at ``line_start`` (``end`` if none before)."""
    found = text.find("#", line_start, end)
    return end if found < 0 else found


def _end_of_code(text: str, offset: int) -> int:
    """Just past the last code character at or before ``offset``: trailing blanks, comments and
    empty lines are skipped, so an error at a line's end points where the code stops."""
    while True:
        line_start = text.rfind("\n", 0, offset) + 1
        code = text[line_start: _comment_start(text, line_start, offset)].rstrip(" \t\f\r;")
        if code.strip() or line_start == 0:
            return line_start + len(code)
        offset = line_start - 1


def statement_start(text: str, offset: int) -> int:
    """Where the statement holding ``offset`` starts: after the last newline or ``;`` (not one in a
    comment) before it."""
    line_start = text.rfind("\n", 0, offset) + 1
    code_end = _comment_start(text, line_start, offset)  # a ';' in a comment separates nothing
    return max(line_start, text.rfind(";", line_start, code_end) + 1)


def _rest_of_statement(text: str, offset: int) -> str:
    end = len(text)
    for stop in ("\n", ";", "#"):
        found = text.find(stop, offset)
        if found >= 0:
            end = min(end, found)
    return text[offset:end]


def _unclosed_paren(text: str, offset: int) -> int | None:
    opened: list[int] = []
    i = statement_start(text, offset)
    while i < offset:
        c = text[i]
        if c == "#":
            break
        if c == "(":
            opened.append(i)
        elif c == ")" and opened:
            opened.pop()
        i += 1
    return opened[0] if opened else None
