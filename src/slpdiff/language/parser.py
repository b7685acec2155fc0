"""Program text -> ``Program``: the grammar (``grammar/slp.lark``) plus the language's rules.

This is the only module that imports lark. The LALR parser runs with an inline transformer, so no
parse tree is built: each rule's callback (a method of
:class:`~slpdiff.language.statements.Statements`) appends nodes to the program's tape as soon as
the parser reduces it, and makes the checks of the language (single assignment, define before
use, declared inputs, function names and arity). Errors from those checks are collected, so that
one run reports several of them; Lark's syntax errors are translated into plain words at one
place (``syntax_errors.py``, which reads Lark's error objects without importing lark).

A program is read first by :class:`~slpdiff.language.replay.Replay`: Lark's lexer over the whole
text at once, and for each statement the callbacks Lark made for the first statement of the same
shape (the same kinds of tokens), which is several times faster on programs of many statements.
When that reader meets anything but valid statements it gives up, and Lark reads the text from the
start, as below: errors are always Lark's.

After a syntax error the parser recovers at the next statement (Lark's ``on_error`` hook: skip to
the end of the bad statement, reset the LALR stack to a program's start), so one run also reports
several syntax errors, together with the checks' errors, in the order of their positions. None of
this runs before the first error: a valid program is parsed exactly as without it.

A program read from a file is kept in the cache (:mod:`slpdiff.language.cache`), so that reading
the same file again imports neither this module nor Lark.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading

from ..errors import ProgramError, Source
from ..limits import check_program
from . import cache as _cache
from .program import Program
from .statements import MAX_ERRORS, Statements

__all__ = ["MAX_ERRORS", "decode", "parse", "parse_file"]

# Did-you-mean compares a name with every known one; beyond this many names only a difference in
# case is suggested, so that reporting stays linear in the program's size.
MAX_SUGGESTION_NAMES = 10_000

# The grammar's rules and aliases that reach Statements (the others are inlined by the grammar).
RULES = ("number", "name", "call", "add", "subtract", "multiply", "divide", "pow", "negative",
         "positive", "assign", "accumulate", "input_decl", "output_decl", "start")

_built = None
_lock = threading.Lock()  # one parse at a time: the parser's callbacks hold one program's state


def parse(text: str | bytes, name: str = "<string>", *, fast: bool = True,
          cache: bool = False) -> Program:
    """Parse a program from its text (``str``, or UTF-8 ``bytes``); ``name`` is used in messages.

    Raises :class:`ProgramError` with every problem found (up to ``MAX_ERRORS``). With
    ``cache`` (for a file's bytes: what the commands and :func:`parse_file` do), a program parsed
    from the same bytes before is taken from the cache, and a new one is saved there.
    ``fast=False`` reads every statement with Lark (the result is the same; tests compare them).
    """
    if cache and isinstance(text, bytes):
        data = text
        text = decode(data, name)
        found = _cache.load(data, Source(name, text.removeprefix("\ufeff")))
        if found is not None:
            return found
        program = parse(text, name, fast=fast)
        _cache.store(data, program)
        return program
    source = Source(name, decode(text, name) if isinstance(text, bytes) else text)
    if source.text.startswith("\ufeff"):
        source = Source(name, source.text[1:])
    nul = source.text.find("\0")
    if nul >= 0:
        raise ProgramError(at_offset(source, nul, "NUL byte in the program"))
    check_program(source)  # too big to parse in reasonable time and memory: say so at once
    statements = Statements(_suggestion)
    with _lock, _no_collections():
        parser = _parser()
        parser.adapter.target = statements
        statements.begin(source)
        if fast and parser.replay is not None and parser.replay.read(source.text, statements):
            return statements.finish()
        statements.begin(source)  # Lark reads it all again, reporting its errors
        recover = _Recovery(statements)
        try:
            parser.lark.parse(source.text, on_error=recover)
        except parser.unexpected_input as e:  # too many syntax errors: stop reading
            if e is not recover.last:
                recover(e)
        return statements.finish()


def parse_file(path: str) -> Program:
    """Parse the program in the file at ``path`` (taken from the cache when the file has not
    changed since it was last parsed)."""
    with open(path, "rb") as f:
        return parse(f.read(), name=str(path), cache=True)


# Messages in plain words (syntax_errors.py), imported only when there is something to say: a
# valid program, or one from the cache, does without.

def syntax_error_at(error, source: Source):
    """:func:`slpdiff.language.syntax_errors.syntax_error_at`."""
    from . import syntax_errors

    return syntax_errors.syntax_error_at(error, source)


def at_offset(source: Source, offset: int, message: str):
    """:func:`slpdiff.language.syntax_errors.at_offset`."""
    from . import syntax_errors

    return syntax_errors.at_offset(source, offset, message)


def statement_start(text: str, offset: int) -> int:
    """:func:`slpdiff.language.syntax_errors.statement_start`."""
    from . import syntax_errors

    return syntax_errors.statement_start(text, offset)


def _suggestion(name: str, known) -> str:
    return _did_you_mean(name, known)  # looked up at each call (tests count the calls)


def _did_you_mean(name: str, candidates) -> str:
    """`` (did you mean 'x'?)`` for the candidate closest to ``name``, or nothing."""
    import difflib

    candidates = list(candidates)
    same_but_case = [c for c in candidates if c.lower() == name.lower()]
    close = same_but_case
    if not close and len(candidates) <= MAX_SUGGESTION_NAMES:
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Recovery:
    """Lark's ``on_error`` hook: record a syntax error in plain words, then resume the parse at
    the next statement, until ``MAX_ERRORS`` syntax errors have been found.

    A statement never spans lines, so the rest of the bad statement (up to the next newline or
    ``;``) is skipped, and the LALR stack is reset to the start of a program: the statements
    after it are parsed and checked as usual. Each error costs work proportional to its statement
    only, so many errors stay linear in the program's size.
    """

    def __init__(self, statements: Statements):
        self.statements = statements
        self.count = 0
        self.last = None

    def __call__(self, error) -> bool:
        self.last = error
        self.count += 1
        statements = self.statements
        diagnostic, offset = syntax_error_at(error, statements.source)
        statements.errors.append(diagnostic)
        statements.settle_bad_statement(statement_start(statements.source.text, offset), offset,
                                        diagnostic.line)
        parser = getattr(error, "interactive_parser", None)
        if self.count >= MAX_ERRORS or parser is None:
            statements.stopped_at = diagnostic.line
            return False
        token = getattr(error, "token", None)
        if token is None or token.type not in ("_SEP", "$END"):
            _skip_statement(parser)
        state = parser.parser_state
        del state.state_stack[1:]  # the bottom of the stack is the start of a program
        del state.value_stack[:]
        return True


def _skip_statement(parser) -> None:
    """Advance the lexer past the end of the current statement (its ``_SEP``, or the end)."""
    from lark.exceptions import UnexpectedCharacters

    lexer = parser.lexer_thread
    while True:
        try:
            for token in lexer.lex(parser.parser_state):
                if token.type == "_SEP":
                    return
            return
        except UnexpectedCharacters as e:  # skip it too: one error per statement is enough
            lexer.state.line_ctr.feed(e.char)


@contextlib.contextmanager
def _no_collections():
    """No garbage collections while a parse builds its nodes: each would walk every node built
    so far, and a program of a million statements would pay for that again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decode(data: bytes, name: str) -> str:
    """The UTF-8 text of ``data`` (without a byte-order mark); invalid UTF-8 is a
    :class:`ProgramError` whose position counts characters, as every position does."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        # Everything before the first bad byte is valid UTF-8: its length in characters is the
        # offset of the error in the text as shown (with the bad bytes replaced).
        offset = len(data[: e.start].decode("utf-8"))
        text = data.decode("utf-8", errors="replace")
        message = (f"invalid UTF-8 byte 0x{data[e.start]:02x}: a program is UTF-8 text (is "
                   "this a binary file?)")
        raise ProgramError(at_offset(Source(name, text), offset, message)) from None


# --- Lark, built once -----------------------------------------------------------------------------


class _Parser:
    """Lark's LALR parser with the callbacks of :class:`Statements`, and the fast reader made of
    its lexer and of what it records (:class:`~slpdiff.language.replay.Replay`)."""

    def __init__(self):
        from lark.exceptions import UnexpectedInput

        self.unexpected_input = UnexpectedInput
        self.adapter = _adapter_class()()
        self.lark = _load_parser(self.adapter)
        self.replay = _replay(self)

    def record(self, text: str):
        """The callbacks Lark makes for the one statement ``text``, as a
        :data:`~slpdiff.language.replay.Record` (None if it is not a valid statement)."""
        recorder = _Recorder()
        target, self.adapter.target = self.adapter.target, recorder
        try:
            self.lark.parse(text)
        except self.unexpected_input:
            return None
        finally:
            self.adapter.target = target
        return recorder.calls


def _parser() -> _Parser:
    # Built on first use, not at import: `slpdiff --help` does not pay for the LALR tables.
    global _built
    if _built is None:
        _built = _Parser()
    return _built


def _get_parser():
    """(Lark's parser, the transformer passing its callbacks on)."""
    parser = _parser()
    return parser.lark, parser.adapter


def _adapter_class():
    """A Lark transformer that passes each callback on to its ``target`` (the program's
    :class:`Statements`, or a recorder) with each token as three arguments: text, line, column."""
    from lark import Token, Transformer, v_args

    def passing(rule: str):
        def method(self, *children):
            flat = []
            for child in children:
                if isinstance(child, Token):
                    flat += (child.value, child.line, child.column)
                else:
                    flat.append(child)
            return getattr(self.target, rule)(*flat)

        method.__name__ = rule
        return method

    methods = {rule: passing(rule) for rule in RULES}
    return v_args(inline=True)(type("_Callbacks", (Transformer,), {"target": None, **methods}))


class _Recorder:
    """Stands for :class:`Statements` while Lark parses one statement: records each call."""

    def __init__(self):
        self.calls: list = []

    def __getattr__(self, rule: str):
        def record(*flat):
            args, k = [], 0
            while k < len(flat):
                if isinstance(flat[k], str):  # a token: (text, line, column)
                    args.append(("token", flat[k + 2]))
                    k += 3
                else:
                    args.append(flat[k])
                    k += 1
            if rule != "start":
                self.calls.append((rule, args))
            return ("result", len(self.calls) - 1)

        return record


def _replay(parser: _Parser):
    """The fast reader of the grammar's statements, made of Lark's own lexer; None if the lexer
    is not of the simple kind it knows (one regular expression, keywords as exact strings)."""
    from lark.lexer import BasicLexer, PatternStr, UnlessCallback

    from .replay import Replay

    lexer = getattr(parser.lark.parser, "lexer", None)
    if type(lexer) is not BasicLexer or lexer.user_callbacks:
        return None
    scanner = lexer.scanner
    if len(scanner._mres) != 1:
        return None
    keywords = {}
    for kind, check in lexer.callback.items():
        if type(check) is not UnlessCallback:
            return None
        words = {}
        for terminal in check.scanner.terminals:
            if not isinstance(terminal.pattern, PatternStr) or terminal.pattern.flags:
                return None
            words[terminal.pattern.value] = terminal.name
        keywords[kind] = words
    kinds = [t.name for t in lexer.terminals]
    if "_SEP" not in kinds:
        return None
    return Replay(scanner._mres[0], kinds, set(lexer.ignore_types), "_SEP", keywords,
                  parser.record)


_OPTIONS = {"parser": "lalr", "lexer": "basic"}


def _load_parser(transformer):
    """The LALR parser, from the user's cache when a previous run saved its tables there.

    Lark's tables take longer to build than a whole small run, so the first run saves them
    (``Lark.save`` format, written to a temporary file and renamed: readers never see half a
    file) in slpdiff's cache directory (:func:`slpdiff.language.cache.directory`). The file's name
    carries a hash of the grammar and of the lark and Python versions, so a stale file is never
    read; a damaged one is ignored by lark, which builds the tables again. Without a cache
    directory the tables are built each time.
    """
    from importlib.resources import files

    from lark import Lark

    grammar = files("slpdiff.language.grammar").joinpath("slp.lark").read_text(encoding="utf-8")
    path = _cache_path(grammar)
    if path is not None and os.path.exists(path):
        return Lark(grammar, transformer=transformer, cache=path, **_OPTIONS)
    if path is None:
        return Lark(grammar, transformer=transformer, **_OPTIONS)
    import tempfile

    fd, temporary = tempfile.mkstemp(prefix=".parser-", dir=os.path.dirname(path))
    os.close(fd)
    os.unlink(temporary)  # lark writes it
    try:
        parser = Lark(grammar, transformer=transformer, cache=temporary, **_OPTIONS)
        os.replace(temporary, path)
    except OSError:
        parser = Lark(grammar, transformer=transformer, **_OPTIONS)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return parser


def _cache_path(grammar: str) -> str | None:
    """Where the parser's tables are cached, or None when there is no usable directory."""
    import hashlib
    import sys

    import lark

    directory = _cache.directory()
    if directory is None:
        return None  # pickles are read from it: only a directory of our own
    key = f"{grammar}{_OPTIONS}{lark.__version__}{sys.version_info[:2]}"
    return os.path.join(directory, f"parser-{hashlib.sha256(key.encode()).hexdigest()[:20]}")
