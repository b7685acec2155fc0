"""Program text -> ``Program``: the grammar (``grammar/slp.lark``) plus the language's rules.

This is the only module that imports lark. The LALR parser runs with an inline transformer, so no
parse tree is built: each rule's callback appends nodes to the program's tape as soon as the
parser reduces it, and the checks of the language (single assignment, define before use, declared
inputs, function names and arity) are made along the way. Errors from those checks are collected,
so that one run reports several of them; Lark's syntax errors are translated into plain words at
one place (``syntax_errors.py``, which reads Lark's error objects without importing lark).

After a syntax error the parser recovers at the next statement (Lark's ``on_error`` hook: skip to
the end of the bad statement, reset the LALR stack to a program's start), so one run also reports
several syntax errors, together with the checks' errors, in the order of their positions. None of
this runs before the first error: a valid program is parsed exactly as without it.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import os
import re
import tempfile
import threading

from lark import Lark, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput

from ..errors import Diagnostic, ProgramError, Source
from ..limits import check_program
from .primitives import CONSTANTS, KEYWORDS, PRIMITIVES
from .program import Assignment, Program, ProgramBuilder
from .syntax_errors import at_offset, statement_start, syntax_error_at

MAX_ERRORS = 20  # a run reports at most this many errors in one program
# Did-you-mean compares a name with every known one; beyond this many names only a difference in
# case is suggested, so that reporting stays linear in the program's size.
MAX_SUGGESTION_NAMES = 10_000

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
        raise ProgramError(at_offset(source, nul, "NUL byte in the program"))
    check_program(source)  # too big to parse in reasonable time and memory: say so at once
    with _lock, _no_collections():
        lark, builder = _get_parser()
        builder.begin(source)
        recover = _Recovery(builder)
        try:
            lark.parse(source.text, on_error=recover)
        except UnexpectedInput as e:  # too many syntax errors: stop reading
            if e is not recover.last:
                recover(e)
        return builder.finish()


class _Recovery:
    """Lark's ``on_error`` hook: record a syntax error in plain words, then resume the parse at
    the next statement, until ``MAX_ERRORS`` syntax errors have been found.

    A statement never spans lines, so the rest of the bad statement (up to the next newline or
    ``;``) is skipped, and the LALR stack is reset to the start of a program: the statements
    after it are parsed and checked as usual. Each error costs work proportional to its statement
    only, so many errors stay linear in the program's size.
    """

    def __init__(self, builder: _ProgramTransformer):
        self.builder = builder
        self.count = 0
        self.last = None

    def __call__(self, error: UnexpectedInput) -> bool:
        self.last = error
        self.count += 1
        builder = self.builder
        diagnostic, offset = syntax_error_at(error, builder.source)
        builder.errors.append(diagnostic)
        builder.settle_bad_statement(statement_start(builder.source.text, offset), offset,
                                     diagnostic.line)
        parser = getattr(error, "interactive_parser", None)
        if self.count >= MAX_ERRORS or parser is None:
            builder.stopped_at = diagnostic.line
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
        message = (f"invalid UTF-8 byte 0x{data[e.start]:02x}: a program is UTF-8 text (is "
                   "this a binary file?)")
        raise ProgramError(at_offset(Source(name, text), offset, message)) from None


def _get_parser():
    # Built on first use, not at import: `slpdiff --help` does not pay for the LALR tables.
    global _lark, _builder
    if _lark is None:
        _builder = _ProgramTransformer()
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

    grammar = files("slpdiff.language.grammar").joinpath("slp.lark").read_text(encoding="utf-8")
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


@v_args(inline=True)
class _ProgramTransformer(Transformer):
    """The inline transformer: appends nodes to the tape while the parser reduces, and checks the
    language's rules. Values passed between callbacks are node positions.

    Method names are the grammar's rule names and aliases. State lives from ``begin`` to
    ``finish``. Inputs are leaves made where they are first declared or used; ``finish`` moves
    them to the front of the program (in one pass, skipped when they are there already).
    """

    def begin(self, source: Source) -> None:
        self.source = source
        self.tape = ProgramBuilder()
        self.assigned: dict[str, tuple[int, int]] = {}  # name -> (node, line of assignment)
        self.unassigned: dict[str, int] = {}  # names used or declared, not (yet) assigned -> leaf
        self.declared: dict[str, int] = {}  # input name -> line of its declaration
        self.outputs: dict[str, tuple[int, int]] = {}  # output name -> (line, column)
        # The assignments the tape's names do not show: aliases (`y = x`), `+=` and `-=`.
        self.assignments: list[Assignment] = []
        self.errors: list[Diagnostic] = []
        self.suggest: dict[int, tuple[str, str]] = {}  # id(diagnostic) -> (name, kind): see finish
        self.stopped_at: int | None = None  # the line where reading stopped (too many errors)

    def settle_bad_statement(self, start: int, end: int, line: int) -> None:
        """After a syntax error in the statement at ``start``: the name it assigns (or the inputs
        it declares) count as known, so that later uses do not add errors of their own."""
        text = self.source.text[start:end]
        assigned = _ASSIGNED.match(text)
        if assigned:
            name = assigned[1]
            if name not in KEYWORDS and not self._known(name):
                self.assigned[name] = (self.tape.const(0.0), line)
            return
        declared = _DECLARED.match(text)
        if declared:
            for name in _NAME.findall(declared[1]):
                if name not in KEYWORDS and not self._known(name):
                    self.declared[name] = line
                    self.unassigned[name] = self.tape.leaf(name, line, 1)

    def _known(self, name: str) -> bool:
        return (name in self.assigned or name in self.declared or name in self.unassigned
                or name in PRIMITIVES or name in CONSTANTS)

    def error(self, message: str, token) -> None:
        self.errors.append(Diagnostic(message, self.source, token.line, token.column))

    def _apply(self, name: str, token, *args: int) -> int:
        return self.tape.apply(PRIMITIVES[name], args, None, token.line, token.column)

    def _placeholder(self) -> int:
        return self.tape.const(0.0)  # stands for a bad expression: the program is not built

    # --- expressions ----------------------------------------------------------------------

    def number(self, token) -> int:
        # float() of a literal never builds a big integer: 1e999999 is inf at once.
        return self.tape.const(float(token), None, token.line, token.column)

    def name(self, token) -> int:
        name = str(token)
        if name in self.assigned:
            return self.assigned[name][0]
        if name in CONSTANTS:
            return self.tape.const(CONSTANTS[name], None, token.line, token.column)
        if name in PRIMITIVES:
            self.error(f"'{name}' is a function: call it as {PRIMITIVES[name].signature}", token)
            return self._placeholder()
        leaf = self.unassigned.get(name)
        if leaf is None:  # first use: an input, unless assigned later (an error) or undeclared
            leaf = self.unassigned[name] = self.tape.leaf(name, token.line, token.column)
        return leaf

    def call(self, token, *args: int) -> int:
        name = str(token)
        prim = PRIMITIVES.get(name)
        if prim is None:
            if name in self.assigned or name in self.unassigned:
                self.error(f"'{name}' is a variable, not a function", token)
            else:
                self._error_about(name, "function", Diagnostic(
                    f"unknown function '{name}'{{}}", self.source, token.line, token.column))
        elif len(args) != prim.arity:
            self.error(f"{name} takes {_count(prim.arity, 'argument')} ({prim.signature}), "
                       f"got {len(args)}", token)
        else:
            return self._apply(name, token, *args)
        return self._placeholder()

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
        tape = self.tape
        if a == len(tape) - 1 and tape.consts[a] is not None and tape.names[a] is None:
            tape.consts[a] = -tape.consts[a]  # a literal like -3 is one constant, not negative(3)
            tape.lines[a], tape.columns[a] = token.line, token.column
            return a
        return self._apply("negative", token, a)

    def positive(self, token, a):
        return a

    # --- statements ---------------------------------------------------------------------------

    def assign(self, token, node: int) -> None:
        name = str(token)
        if self._reserved(name, token, "assigned"):
            return
        if name in self.assigned:
            self.error(f"'{name}' is already assigned on line {self.assigned[name][1]}: "
                       f"each name is assigned once (to add to it: {name} += ...)", token)
            return
        if name in self.declared:
            self.error(f"'{name}' is an input (declared on line {self.declared[name]}) and "
                       "cannot be assigned", token)
            return
        if name in self.unassigned:
            use = self.unassigned[name]
            self.errors.append(Diagnostic(
                f"'{name}' is used before its assignment on line {token.line}",
                self.source, self.tape.lines[use], self.tape.columns[use]))
        if not self._bind(name, node, token):  # an alias: the tape's names do not show it
            self.assignments.append(Assignment(name, node, token.line, token.column, "=", node))

    def _bind(self, name: str, node: int, token) -> bool:
        """Let ``name`` mean ``node``; True if the node takes the name (it has no other)."""
        tape = self.tape
        self.assigned[name] = (node, token.line)
        if tape.names[node] is None and (tape.ops[node] is not None
                                         or tape.consts[node] is not None):
            tape.names[node] = name  # the node the expression built is the one this name means
            return True
        # else: an alias such as `y = x`; outputs and later uses find x's node under the name y.
        return False

    def accumulate(self, token, op, node: int) -> None:
        """``name += expr`` (``-=``): a new node ``name + expr`` under the name; a name not
        assigned before starts at 0, so its first ``+=`` assigns ``expr`` (``-=``: ``-expr``)."""
        name = str(token)
        if self._reserved(name, token, "assigned"):
            return
        if name in self.declared:
            self.error(f"'{name}' is an input (declared on line {self.declared[name]}): '{op}' "
                       "adds to a name the program assigns, and inputs are not assigned", token)
            return
        if name in self.unassigned:
            use = self.unassigned[name]
            self.errors.append(Diagnostic(
                f"'{name}' is used before the '{op}' on line {token.line} that starts it (a name "
                "that '+=' starts is 0 before it)", self.source, self.tape.lines[use],
                self.tape.columns[use]))
            return
        before = self.assigned.get(name)
        if before is None:
            value = node if op.value == "+=" else self._apply("negative", op, node)
        else:
            value = self._apply("add" if op.value == "+=" else "subtract", op, before[0], node)
            self.tape.names[value] = name
        self._bind(name, value, token)
        self.assignments.append(Assignment(name, value, token.line, token.column, str(op), node))

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
                    self.unassigned[name] = self.tape.leaf(name, token.line, token.column)

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
        inputs: list[int] = []
        for name, leaf in self.unassigned.items():
            if name in self.assigned:
                continue  # used before its assignment: reported already
            if explicit and name not in self.declared:
                self._error_about(name, "undefined", Diagnostic(
                    f"undefined name '{name}'{{}} (the program declares its inputs with 'input')",
                    self.source, self.tape.lines[leaf], self.tape.columns[leaf]))
            elif not explicit:
                inputs.append(leaf)
        if explicit:
            inputs = [self.unassigned[name] for name in self.declared]

        outputs, output_names = [], []
        for name, (line, column) in self.outputs.items():
            node = self._resolve_output(name, line, column, inputs)
            if node is not None:
                outputs.append(node)
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
            shown = [self._suggested(d, inputs) for d in errors[:MAX_ERRORS]]
            stopped_at = self.stopped_at
            self.begin(self.source)  # drop the half-built tape
            raise ProgramError(_limit(shown, len(errors), stopped_at))
        input_names = [self.tape.names[i] for i in inputs]
        moved = _move_inputs_first(self.tape, inputs)
        assignments = self.assignments
        if moved is not None:
            outputs = [moved[o] for o in outputs]
            assignments = [Assignment(a.name, moved[a.node], a.line, a.column, a.op, moved[a.term])
                           for a in assignments]
        program = self.tape.build(range(len(inputs)), outputs, input_names, output_names,
                                  self.source)
        program.assignments = assignments
        return program

    def _error_about(self, name: str, kind: str, diagnostic: Diagnostic) -> None:
        # The did-you-mean part ("{}" in the message) is filled in only for the errors shown:
        # it compares the name with every known one.
        self.suggest[id(diagnostic)] = (name, kind)
        self.errors.append(diagnostic)

    def _suggested(self, d: Diagnostic, inputs: list[int]) -> Diagnostic:
        if id(d) not in self.suggest:
            return d
        name, kind = self.suggest[id(d)]
        if kind == "function":
            known = PRIMITIVES
        elif kind == "undefined":
            known = [*self.assigned, *self.declared]
        else:
            known = [*self.assigned, *(self.tape.names[i] for i in inputs)]
        return Diagnostic(d.message.format(_did_you_mean(name, known)), d.source, d.line,
                          d.column)

    def _resolve_output(self, name: str, line: int, column: int,
                        inputs: list[int]) -> int | None:
        if name in self.assigned:
            return self.assigned[name][0]
        for leaf in inputs:
            if self.tape.names[leaf] == name:
                return leaf
        self._error_about(name, "output", Diagnostic(f"output '{name}' is never assigned{{}}",
                                                      self.source, line, column))
        return None


def _move_inputs_first(tape: ProgramBuilder, inputs: list[int]) -> list[int] | None:
    """Reorder ``tape`` so that the ``inputs`` come first, in that order (a program lists its
    inputs first): the new position of each old node, or None when they are first already."""
    if all(leaf == k for k, leaf in enumerate(inputs)):
        return None
    n = len(tape)
    is_input = bytearray(n)
    for leaf in inputs:
        is_input[leaf] = 1
    order = list(inputs) + [i for i in range(n) if not is_input[i]]
    moved = [0] * n
    for new, old in enumerate(order):
        moved[old] = new
    args = tape.args
    tape.args = [tuple(moved[a] for a in args[i]) if args[i] else () for i in order]
    for column in ("ops", "consts", "names", "lines", "columns"):
        old = getattr(tape, column)
        setattr(tape, column, [old[i] for i in order])
    return moved


_ASSIGNED = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
_DECLARED = re.compile(r"\s*input\b(.*)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _limit(shown: list[Diagnostic], total: int, stopped_at: int | None) -> list[Diagnostic]:
    """The errors shown, then a line that says how many more there are (and where reading
    stopped, after ``MAX_ERRORS`` syntax errors)."""
    more = total - len(shown)
    if not more and stopped_at is None:
        return shown
    parts = [f"... and {_count(more, 'more error')}"] if more else []
    if stopped_at is not None:
        parts.append(f"slpdiff stopped reading the program at line {stopped_at}, after "
                     f"{MAX_ERRORS} syntax errors")
    tail = "; ".join(parts)
    return [*shown, Diagnostic(tail, Source(shown[0].source.name, ""))]


def _did_you_mean(name: str, candidates) -> str:
    candidates = list(candidates)
    same_but_case = [c for c in candidates if c.lower() == name.lower()]
    close = same_but_case
    if not close and len(candidates) <= MAX_SUGGESTION_NAMES:
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
