"""Program text -> ``Program``: the grammar (``grammar/slp.lark``) plus the language's rules.

This is the only module that imports lark. The LALR parser runs with an inline transformer, so no
parse tree is built: each rule's callback builds ``Var`` nodes as soon as the parser reduces it, and
the checks of the language (single assignment, define before use, declared inputs, function
names and arity) are made along the way. Errors from those checks are collected, so that one run
reports several of them; Lark's syntax errors are translated into plain words here, at one place.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import os
import tempfile
import threading

from lark import Lark, Transformer, v_args
from lark.exceptions import UnexpectedInput

from .errors import Diagnostic, ProgramError, Source
from .graph import Program, Var
from .limits import check_program
from .primitives import CONSTANTS, KEYWORDS, PRIMITIVES

MAX_ERRORS = 20  # a run reports at most this many errors in one program

_lark = None
_builder = None
_lock = threading.Lock()  # one builder holds the state of one parse at a time


def parse(text: str | bytes, name: str = "<string>") -> Program:
    """Parse a program from its text (``str``, or UTF-8 ``bytes``); ``name`` is used in messages.

    Raises :class:`ProgramError` with every problem found (up to ``MAX_ERRORS``).
    """
    source = Source(name, decode(text, name) if isinstance(text, bytes) else text)
    if source.text.startswith("\ufeff"):
        source = Source(name, source.text[1:])
    nul = source.text.find("\0")
    if nul >= 0:
        raise ProgramError(_at_offset(source, nul, "NUL byte in the program"))
    check_program(source)  # too big to parse in reasonable time and memory: say so at once
    with _lock, _no_collections():
        lark, builder = _get_parser()
        builder.begin(source)
        try:
            lark.parse(source.text)
        except UnexpectedInput as e:
            # Checks already made on the statements before the syntax error still hold.
            found = syntax_error(e, source)
            earlier = [d for d in builder.errors if (d.line, d.column) < (found.line, found.column)]
            builder.begin(source)
            raise ProgramError(_limit([*earlier, found])) from None
        return builder.finish()


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


def parse_file(path: str) -> Program:
    """Parse the program in the file at ``path``."""
    with open(path, "rb") as f:
        return parse(f.read(), name=str(path))


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
        raise ProgramError(_at_offset(Source(name, text), offset,
                                      f"invalid UTF-8 byte 0x{data[e.start]:02x}")) from None


def _get_parser():
    # Built on first use, not at import: `slpdiff --help` does not pay for the LALR tables.
    global _lark, _builder
    if _lark is None:
        _builder = _Builder()
        _lark = _load_parser(_builder)
    return _lark, _builder


_OPTIONS = {"parser": "lalr", "lexer": "basic"}


def _load_parser(builder) -> Lark:
    """The LALR parser, from the user's cache when a previous run saved its tables there.

    Lark's tables take longer to build than a whole small run, so the first run saves them
    (``Lark.save`` format, written to a temporary file and renamed: readers never see half a
    file) in ``$SLPDIFF_CACHE_DIR``, else ``$XDG_CACHE_HOME/slpdiff`` or ``~/.cache/slpdiff``
    (never beside the installed package, which may be read-only). The file's name carries a
    hash of the grammar and of the lark and Python versions, so a stale file is never read; a
    damaged one is ignored by lark, which builds the tables again. ``SLPDIFF_CACHE_DIR=""``
    turns the cache off; a directory that cannot be written just means no cache.
    """
    from importlib.resources import files

    grammar = files("slpdiff.grammar").joinpath("slp.lark").read_text(encoding="utf-8")
    path = _cache_path(grammar)
    if path is not None and os.path.exists(path):
        return Lark(grammar, transformer=builder, cache=path, **_OPTIONS)
    if path is None:
        return Lark(grammar, transformer=builder, **_OPTIONS)
    fd, temporary = tempfile.mkstemp(prefix=".parser-", dir=os.path.dirname(path))
    os.close(fd)
    os.unlink(temporary)  # lark writes it
    try:
        parser = Lark(grammar, transformer=builder, cache=temporary, **_OPTIONS)
        os.replace(temporary, path)
    except OSError:
        parser = Lark(grammar, transformer=builder, **_OPTIONS)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    return parser


def _cache_path(grammar: str) -> str | None:
    """Where the parser's tables are cached, or None when there is no usable directory."""
    import hashlib
    import sys

    import lark

    directory = os.environ.get("SLPDIFF_CACHE_DIR")
    if directory is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        directory = os.path.join(base, "slpdiff")
    if not directory:
        return None
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if os.stat(directory).st_uid != os.getuid() or not os.access(directory, os.W_OK):
            return None  # pickles are read from it: only a directory of our own
    except (OSError, AttributeError):
        return None
    key = f"{grammar}{_OPTIONS}{lark.__version__}{sys.version_info[:2]}"
    return os.path.join(directory, f"parser-{hashlib.sha256(key.encode()).hexdigest()[:20]}")


def _at_offset(source: Source, offset: int, message: str) -> Diagnostic:
    line = source.text.count("\n", 0, offset) + 1
    column = offset - (source.text.rfind("\n", 0, offset) + 1) + 1
    return Diagnostic(message, source, line, column)


@v_args(inline=True)
class _Builder(Transformer):
    """The inline transformer: builds nodes while the parser reduces, and checks the rules.

    Method names are the grammar's rule names and aliases. State lives from ``begin`` to ``finish``.
    """

    def begin(self, source: Source) -> None:
        self.source = source
        self.nodes: list[Var] = []  # every node but the inputs, in the order built
        self.assigned: dict[str, tuple[Var, int]] = {}  # name -> (node, line of assignment)
        self.unassigned: dict[str, Var] = {}  # names used or declared, not (yet) assigned
        self.declared: dict[str, int] = {}  # input name -> line of its declaration
        self.outputs: dict[str, tuple[int, int]] = {}  # output name -> (line, column)
        self.errors: list[Diagnostic] = []

    def error(self, message: str, token) -> None:
        self.errors.append(Diagnostic(message, self.source, token.line, token.column))

    def _node(self, var: Var) -> Var:
        self.nodes.append(var)
        return var

    def _apply(self, name: str, token, *children: Var) -> Var:
        return self._node(Var(op=PRIMITIVES[name], children=children,
                              line=token.line, column=token.column))

    # --- expressions ----------------------------------------------------------------------

    def number(self, token) -> Var:
        # float() of a literal never builds a big integer: 1e999999 is inf at once.
        return self._node(Var(value=float(token), is_const=True, line=token.line,
                              column=token.column))

    def name(self, token) -> Var:
        name = str(token)
        if name in self.assigned:
            return self.assigned[name][0]
        if name in CONSTANTS:
            return self._node(Var(value=CONSTANTS[name], is_const=True, name=None,
                                  line=token.line, column=token.column))
        if name in PRIMITIVES:
            self.error(f"'{name}' is a function: call it as {PRIMITIVES[name].signature}", token)
            return self._node(Var(value=0.0, is_const=True))
        var = self.unassigned.get(name)
        if var is None:  # first use: an input, unless assigned later (an error) or undeclared
            var = self.unassigned[name] = Var(name=name, line=token.line, column=token.column)
        return var

    def call(self, token, *args: Var) -> Var:
        name = str(token)
        prim = PRIMITIVES.get(name)
        if prim is None:
            if name in self.assigned or name in self.unassigned:
                self.error(f"'{name}' is a variable, not a function", token)
            else:
                self.error(f"unknown function '{name}'{_did_you_mean(name, PRIMITIVES)}", token)
        elif len(args) != prim.arity:
            self.error(f"{name} takes {_count(prim.arity, 'argument')} ({prim.signature}), "
                       f"got {len(args)}", token)
        else:
            return self._apply(name, token, *args)
        return self._node(Var(value=0.0, is_const=True))

    def add(self, a, token, b):
        return self._apply("add", token, a, b)

    def subtract(self, a, token, b):
        return self._apply("subtract", token, a, b)

    def multiply(self, a, token, b):
        return self._apply("multiply", token, a, b)

    def divide(self, a, token, b):
        return self._apply("divide", token, a, b)

    def pow(self, a, token, b):
        return self._apply("pow", token, a, b)

    def negative(self, token, a):
        if a.is_const and a.name is None and a is self.nodes[-1]:
            a.value = -a.value  # a literal like -3 is one constant, not negative(3)
            a.line, a.column = token.line, token.column
            return a
        return self._apply("negative", token, a)

    def positive(self, token, a):
        return a

    # --- statements ---------------------------------------------------------------------------

    def assign(self, token, var: Var) -> None:
        name = str(token)
        if self._reserved(name, token, "assigned"):
            return
        if name in self.assigned:
            self.error(f"'{name}' is already assigned on line {self.assigned[name][1]}: "
                       "each name is assigned once", token)
            return
        if name in self.declared:
            self.error(f"'{name}' is an input (declared on line {self.declared[name]}) and "
                       "cannot be assigned", token)
            return
        if name in self.unassigned:
            use = self.unassigned[name]
            self.errors.append(Diagnostic(
                f"'{name}' is used before its assignment on line {token.line}",
                self.source, use.line, use.column))
        if var.name is None and not var.is_input:
            var.name = name  # the node the expression built is the one this name stands for
        # else: an alias such as `y = x`; outputs and later uses find x's node under the name y.
        self.assigned[name] = (var, token.line)

    def input_decl(self, *tokens) -> None:
        for token in tokens:
            name = str(token)
            if self._reserved(name, token, "declared as an input"):
                continue
            if name in self.declared:
                self.error(f"'{name}' is already declared as an input on line "
                           f"{self.declared[name]}", token)
            elif name in self.assigned:
                self.error(f"'{name}' is assigned on line {self.assigned[name][1]} and cannot "
                           "also be an input", token)
            else:
                self.declared[name] = token.line
                if name not in self.unassigned:
                    self.unassigned[name] = Var(name=name, line=token.line, column=token.column)

    def output_decl(self, *tokens) -> None:
        for token in tokens:
            name = str(token)
            if name in self.outputs:
                self.error(f"'{name}' is already an output (line {self.outputs[name][0]})", token)
            else:
                self.outputs[name] = (token.line, token.column)

    def start(self, *_statements) -> None:
        pass

    def _reserved(self, name: str, token, what: str) -> bool:
        if name in PRIMITIVES:
            self.error(f"'{name}' is a function and cannot be {what}", token)
        elif name in CONSTANTS:
            self.error(f"'{name}' is a constant and cannot be {what}", token)
        else:
            return False
        return True

    # --- the whole program --------------------------------------------------------------------

    def finish(self) -> Program:
        """Resolve inputs and outputs; raise every error found, or return the program."""
        explicit = bool(self.declared)
        inputs: list[Var] = []
        for name, var in self.unassigned.items():
            if name in self.assigned:
                continue  # used before its assignment: reported already
            if explicit and name not in self.declared:
                known = [*self.assigned, *self.declared]
                self.errors.append(Diagnostic(f"undefined name '{name}'{_did_you_mean(name, known)}"
                                              " (the program declares its inputs with 'input')",
                                              self.source, var.line, var.column))
            elif not explicit:
                inputs.append(var)
        if explicit:
            inputs = [self.unassigned[name] for name in self.declared]

        outputs, output_names = [], []
        for name, (line, column) in self.outputs.items():
            var = self._resolve_output(name, line, column, inputs)
            if var is not None:
                outputs.append(var)
                output_names.append(name)
        if not self.outputs:
            if self.assigned:
                name = next(reversed(self.assigned))
                outputs, output_names = [self.assigned[name][0]], [name]
            elif not self.errors:
                self.errors.append(Diagnostic("the program assigns no name, so it has no output",
                                              self.source, 1, 1))
        if self.errors:
            errors = sorted(self.errors, key=lambda d: (d.line, d.column))
            self.begin(self.source)  # drop the half-built graph
            raise ProgramError(_limit(errors))
        return Program(inputs + self.nodes, inputs, outputs, output_names, self.source)

    def _resolve_output(self, name: str, line: int, column: int, inputs: list[Var]) -> Var | None:
        if name in self.assigned:
            return self.assigned[name][0]
        for var in inputs:
            if var.name == name:
                return var
        known = [*self.assigned, *(v.name for v in inputs)]
        self.errors.append(Diagnostic(f"output '{name}' is never assigned"
                                      f"{_did_you_mean(name, known)}", self.source, line, column))
        return None


def _limit(errors: list[Diagnostic]) -> list[Diagnostic]:
    if len(errors) <= MAX_ERRORS:
        return errors
    more = len(errors) - MAX_ERRORS
    return [*errors[:MAX_ERRORS], Diagnostic(f"{more} more error(s) not shown", errors[0].source)]


def _did_you_mean(name: str, candidates) -> str:
    candidates = list(candidates)
    same_but_case = [c for c in candidates if c.lower() == name.lower()]
    close = same_but_case or difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- syntax errors in plain words -------------------------------------------------------------

_EXPRESSION_START = {"NAME", "NUMBER", "LPAR", "MINUS", "PLUS"}
_TOKEN_WORDS = {"_SEP": "the end of the line", "$END": "the end of the program", "EQUAL": "'='",
                "LPAR": "'('", "RPAR": "')'", "COMMA": "','", "PLUS": "'+'", "MINUS": "'-'",
                "STAR": "'*'", "SLASH": "'/'", "POW": "'^'", "INPUT": "'input'",
                "OUTPUT": "'output'"}


def syntax_error(error, source: Source) -> Diagnostic:
    """A plain-words :class:`Diagnostic` for one of lark's ``UnexpectedInput`` errors."""
    text = source.text
    token = getattr(error, "token", None)
    if token is None:  # UnexpectedCharacters
        char = text[error.pos_in_stream]
        if ord(char) > 127:
            message = (f"character '{char}' (U+{ord(char):04X}) is not allowed here: names are "
                       "ASCII letters, digits and '_'; other characters only in comments")
        else:
            message = f"unexpected character '{char}'"
        return _at_offset(source, error.pos_in_stream, message)

    at_end = token.type == "$END"
    # At a line end or the end of the text, point just past the last code character (not at the
    # end of a trailing comment, nor on the blank lines after the program).
    offset = _end_of_code(text, len(text) if at_end else token.start_pos) \
        if at_end or token.type == "_SEP" and token.value != ";" else token.start_pos
    found = _describe(token)
    expected = set(error.expected)
    before = _previous_token(text, offset)
    ends = expected & {"_SEP", "$END"}
    unclosed = _unclosed_paren(text, offset)

    if token.type == "RPAR" and unclosed is None:
        message = "unmatched ')'"
    elif token.type in ("_SEP", "$END") and "RPAR" in expected and unclosed is not None:
        where = _at_offset(source, unclosed, "")
        message = f"unclosed '(' opened at {where.line}:{where.column}"
    elif token.type == "EQUAL" and before in KEYWORDS:
        message = f"'{before}' is a reserved word and cannot be assigned"
        offset = text.rindex(before, 0, offset)
    elif "INPUT" in expected:  # at the start of a statement
        if token.type == "EQUAL" or "=" in _rest_of_statement(text, offset):
            message = "'=' needs a name on its left"
        else:
            message = (f"expected a statement, found {found}: a statement is NAME = expression, "
                       "input NAMES or output NAMES")
    elif expected == {"NAME"}:
        message = f"expected a name after '{before}', found {found}"
    elif expected == {"EQUAL"}:
        message = f"expected '=' after '{before}', found {found}: a statement is NAME = expression"
    elif expected & _EXPRESSION_START and not ends:
        what = "an argument" if before == "," else "an expression"
        operators = {"+", "-", "*", "/", "^", "**", "=", ",", "("}
        after = f" after '{before}'" if before in operators else ""
        message = f"expected {what}{after}, found {found}"
    elif token.type == "EQUAL":
        message = "unexpected '=': a statement assigns one name (NAME = expression)"
    elif token.type == "COMMA":
        message = "unexpected ',': commas separate a function's arguments and declared names"
    elif expected <= {"COMMA", "_SEP", "$END"}:
        message = f"expected ',' or the end of the statement, found {found}"
    elif ends:
        message = f"expected an operator or the end of the statement, found {found}"
    else:
        message = f"unexpected {found}"
    return _at_offset(source, offset, message)


def _describe(token) -> str:
    if token.type == "NAME":
        return f"name '{token}'"
    if token.type == "NUMBER":
        return f"number {token}"
    if token.type == "_SEP" and token.value == ";":
        return "';'"
    return _TOKEN_WORDS.get(token.type, f"'{token}'")


def _previous_token(text: str, offset: int) -> str:
    """The token just before ``offset`` on its line (an operator, a word, or '')."""
    i = offset
    while i > 0 and text[i - 1] in " \t\f":
        i -= 1
    if i == 0 or text[i - 1] in "\n;":
        return ""
    if text[i - 2: i] == "**":
        return "**"
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


def _statement_start(text: str, offset: int) -> int:
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
    i = _statement_start(text, offset)
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
