"""The language's rules, applied statement by statement as the parser reduces them: each rule of the
grammar appends nodes to the program's tape and checks what the grammar cannot (single
assignment, define before use, declared inputs, function names and arity).

:class:`Statements` has one method per rule and alias of ``grammar/slp.lark``. A token reaches it
as three arguments, its text, line and column (no token objects: the parser's fast reader,
:mod:`slpdiff.language.replay`, calls these methods straight from the text); values passed between
methods are node positions. Errors are collected, so that one run reports several of them;
:meth:`Statements.finish` raises them all, or returns the program.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import Diagnostic, ProgramError, Source
from .primitives import CONSTANTS, KEYWORDS, OVER_ROWS, PRIMITIVES, other_name_hint
from .program import NO_ARG, Assignment, Program, ProgramBuilder

MAX_ERRORS = 20  # a run reports at most this many errors in one program

class Statements:
    """The state of one program being read, from :meth:`begin` to :meth:`finish`. Inputs are
    leaves made where they are first declared or used; ``finish`` moves them to the front of the
    program (in one pass, skipped when they are there already). ``did_you_mean(name, known)``
    gives the hint added to a message about an unknown name (or "")."""

    def __init__(self, did_you_mean: Callable[[str, object], str]):
        self.did_you_mean = did_you_mean

    def begin(self, source: Source) -> None:
        self.source = source
        self.tape = ProgramBuilder()
        self.assigned: dict[str, int] = {}  # name -> its node
        # name -> line of its assignment, when that is not its node's line (`y = x`)
        self.assigned_on: dict[str, int] = {}
        self.unassigned: dict[str, int] = {}  # names used or declared, not (yet) assigned -> leaf
        self.declared: dict[str, int] = {}  # input name -> line of its declaration
        self.outputs: dict[str, tuple[int, int]] = {}  # output name -> (line, column)
        # The assignments the tape's names do not show: aliases (`y = x`), `+=` and `-=`.
        self.assignments: list[Assignment] = []
        self.errors: list[Diagnostic] = []
        self.suggest: dict[int, tuple[str, str]] = {}  # id(diagnostic) -> (name, kind): see finish
        self.stopped_at: int | None = None  # the line where reading stopped (too many errors)
        # Each primitive's code in the tape (given on first use), so that an operation is a
        # quick append.
        self._codes = _Codes(self.tape)

    def end(self) -> None:
        """Drop the state of the program read (it holds a dictionary entry per name)."""
        self.begin(Source(self.source.name, ""))

    def settle_bad_statement(self, start: int, end: int, line: int) -> None:
        """After a syntax error in the statement at ``start``: the name it assigns (or the inputs
        it declares) count as known, so that later uses do not add errors of their own."""
        text = self.source.text[start:end]
        assigned = _ASSIGNED.match(text)
        if assigned:
            name = assigned[1]
            if name not in KEYWORDS and not self._known(name):
                self.assigned[name] = self.tape.const(0.0)
                self.assigned_on[name] = line
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

    def error(self, message: str, line: int, column: int) -> None:
        self.errors.append(Diagnostic(message, self.source, line, column))

    def _placeholder(self) -> int:
        return self.tape.const(0.0)  # stands for a bad expression: the program is not built

    def _line_of(self, name: str) -> int:
        """The line where ``name`` was assigned."""
        line = self.assigned_on.get(name)
        return line if line is not None else self.tape.lines[self.assigned[name]]

    # --- expressions ----------------------------------------------------------------------

    def number(self, text: str, line: int, column: int) -> int:
        # float() of a literal never builds a big integer: 1e999999 is inf at once.
        return self.tape.const(float(text), None, line, column)

    def name(self, name: str, line: int, column: int) -> int:
        node = self.assigned.get(name)
        if node is not None:
            return node
        if name in CONSTANTS:
            return self.tape.const(CONSTANTS[name], None, line, column)
        if name in PRIMITIVES:
            self.error(f"'{name}' is a function: call it as {PRIMITIVES[name].signature}", line,
                       column)
            return self._placeholder()
        leaf = self.unassigned.get(name)
        if leaf is None:  # first use: an input, unless assigned later (an error) or undeclared
            leaf = self.unassigned[name] = self.tape.leaf(name, line, column)
        return leaf

    def call(self, name: str, line: int, column: int, *args: int) -> int:
        prim = PRIMITIVES.get(name)
        if prim is None:
            if name in self.assigned or name in self.unassigned:
                self.error(f"'{name}' is a variable, not a function", line, column)
            else:
                self._error_about(name, "function", Diagnostic(
                    f"unknown function '{name}'{{}}", self.source, line, column))
        elif len(args) != prim.arity:
            over_rows = OVER_ROWS.get(name) if len(args) == 1 else None
            hint = f": over all rows, write {over_rows}(a)" if over_rows else ""
            self.error(f"{name} takes {_count(prim.arity, 'argument')} ({prim.signature}), "
                       f"got {len(args)}{hint}", line, column)
        elif len(args) <= 2:
            code = self._codes[name]
            return self.tape.op(code, *args, line, column) if len(args) == 2 else \
                self.tape.op(code, args[0] if args else NO_ARG, NO_ARG, line, column)
        else:
            return self.tape.apply(prim, args, None, line, column)
        return self._placeholder()

    def add(self, a: int, _op: str, line: int, column: int, b: int) -> int:
        return self.tape.op(self._codes["add"], a, b, line, column)

    def subtract(self, a: int, _op: str, line: int, column: int, b: int) -> int:
        return self.tape.op(self._codes["subtract"], a, b, line, column)

    def multiply(self, a: int, _op: str, line: int, column: int, b: int) -> int:
        return self.tape.op(self._codes["multiply"], a, b, line, column)

    def divide(self, a: int, _op: str, line: int, column: int, b: int) -> int:
        return self.tape.op(self._codes["divide"], a, b, line, column)

    def pow(self, a: int, _op: str, line: int, column: int, b: int) -> int:
        return self.tape.op(self._codes["pow"], a, b, line, column)

    def negative(self, _op: str, line: int, column: int, a: int) -> int:
        tape = self.tape
        if a == len(tape) - 1 and tape.consts[a] is not None and tape.names[a] is None:
            # a literal like -3 is one constant, not negative(3)
            tape.set_const(a, -tape.consts[a], line, column)
            return a
        return tape.op(self._codes["negative"], a, NO_ARG, line, column)

    def positive(self, _op: str, _line: int, _column: int, a: int) -> int:
        return a

    # --- statements ---------------------------------------------------------------------------

    def assign(self, name: str, line: int, column: int, node: int) -> None:
        if (name in self.assigned or name in self.declared or name in self.unassigned
                or name in PRIMITIVES or name in CONSTANTS) \
                and not self._may_assign(name, line, column):
            return
        if not self._bind(name, node, line):  # an alias: the tape's names do not show it
            self.assignments.append(Assignment(name, node, line, column, "=", node))

    def _bind(self, name: str, node: int, line: int) -> bool:
        """Let ``name``, assigned on ``line``, mean ``node``; True if the node takes the name
        (it has no other)."""
        tape = self.tape
        self.assigned[name] = node
        if tape.lines[node] != line:
            self.assigned_on[name] = line
        elif name in self.assigned_on:  # a `+=` after an alias: its own line now
            del self.assigned_on[name]
        if (tape.codes[node] or tape.arg0[node] >= 0) and tape.unnamed(node):
            tape.set_name(node, name)  # the node the expression built is the one this name means
            return True
        # else: an alias such as `y = x`; outputs and later uses find x's node under the name y.
        return False

    def accumulate(self, name: str, line: int, column: int, op: str, op_line: int,
                   op_column: int, node: int) -> None:
        """``name += expr`` (``-=``): a new node ``name + expr`` under the name; a name not
        assigned before starts at 0, so its first ``+=`` assigns ``expr`` (``-=``: ``-expr``)."""
        if self._reserved(name, line, column, "assigned"):
            return
        if name in self.declared:
            self.error(f"'{name}' is an input (declared on line {self.declared[name]}): '{op}' "
                       "adds to a name the program assigns, and inputs are not assigned",
                       line, column)
            return
        if name in self.unassigned:
            use = self.unassigned[name]
            self.errors.append(Diagnostic(
                f"'{name}' is used before the '{op}' on line {line} that starts it (a name "
                "that '+=' starts is 0 before it)", self.source, self.tape.lines[use],
                self.tape.columns[use]))
            return
        before = self.assigned.get(name)
        if before is None:
            value = node if op == "+=" else self.tape.op(self._codes["negative"], node, NO_ARG,
                                                         op_line, op_column)
        else:
            value = self.tape.op(self._codes["add" if op == "+=" else "subtract"], before, node,
                                 op_line, op_column)
        self._bind(name, value, line)
        self.assignments.append(Assignment(name, value, line, column, op, node))

    def _may_assign(self, name: str, line: int, column: int) -> bool:
        """Can ``name``, already known, be assigned (the errors if not)?"""
        if self._reserved(name, line, column, "assigned"):
            return False
        if name in self.assigned:
            self.error(f"'{name}' is already assigned on line {self._line_of(name)}: "
                       f"each name is assigned once (to add to it: {name} += ...)", line, column)
            return False
        if name in self.declared:
            self.error(f"'{name}' is an input (declared on line {self.declared[name]}) and "
                       "cannot be assigned", line, column)
            return False
        use = self.unassigned[name]
        self.errors.append(Diagnostic(f"'{name}' is used before its assignment on line {line}",
                                      self.source, self.tape.lines[use], self.tape.columns[use]))
        return True

    def input_decl(self, *tokens) -> None:
        for name, line, column in _triples(tokens):
            if self._reserved(name, line, column, "declared as an input"):
                continue
            if name in self.declared:
                self.error(f"'{name}' is already declared as an input on line "
                           f"{self.declared[name]}", line, column)
            elif name in self.assigned:
                self.error(f"'{name}' is assigned on line {self._line_of(name)} and cannot "
                           "also be an input", line, column)
            else:
                self.declared[name] = line
                if name not in self.unassigned:
                    self.unassigned[name] = self.tape.leaf(name, line, column)

    def output_decl(self, *tokens) -> None:
        for name, line, column in _triples(tokens):
            if name in self.outputs:
                self.error(f"'{name}' is already an output (line {self.outputs[name][0]})",
                           line, column)
            else:
                self.outputs[name] = (line, column)

    def start(self, *_statements) -> None:
        pass

    def _reserved(self, name: str, line: int, column: int, what: str) -> bool:
        if name in PRIMITIVES:
            self.error(f"'{name}' is a function and cannot be {what}", line, column)
        elif name in CONSTANTS:
            self.error(f"'{name}' is a constant and cannot be {what}", line, column)
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
                outputs, output_names = [self.assigned[name]], [name]
            elif not self.errors:
                self.errors.append(Diagnostic("the program assigns no name, so it has no output",
                                              self.source, 1, 1))
        if self.errors:
            errors = sorted(self.errors, key=lambda d: (d.line, d.column))
            shown = [self._suggested(d, inputs) for d in errors[:MAX_ERRORS]]
            stopped_at = self.stopped_at
            self.end()
            raise ProgramError(_limit(shown, len(errors), stopped_at))
        tape = self.tape
        input_names = [tape.names[i] for i in inputs]
        moved = _move_inputs_first(tape, inputs)
        assignments = self.assignments
        if moved is not None:
            outputs = [moved[o] for o in outputs]
            assignments = [Assignment(a.name, moved[a.node], a.line, a.column, a.op, moved[a.term])
                           for a in assignments]
        program = tape.build(range(len(inputs)), outputs, input_names, output_names, self.source)
        program.assignments = assignments
        self.end()
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
        if kind == "function" and other_name_hint(name) is not None:  # ln: log
            return Diagnostic(d.message.format(other_name_hint(name)), d.source, d.line,
                              d.column)
        if kind == "function":
            known = PRIMITIVES
        elif kind == "undefined":
            known = [*self.assigned, *self.declared]
        else:
            known = [*self.assigned, *(self.tape.names[i] for i in inputs)]
        return Diagnostic(d.message.format(self.did_you_mean(name, known)), d.source, d.line,
                          d.column)

    def _resolve_output(self, name: str, line: int, column: int,
                        inputs: list[int]) -> int | None:
        if name in self.assigned:
            return self.assigned[name]
        for leaf in inputs:
            if self.tape.names[leaf] == name:
                return leaf
        self._error_about(name, "output", Diagnostic(f"output '{name}' is never assigned{{}}",
                                                      self.source, line, column))
        return None


class _Codes(dict):
    """Primitive name -> its code in ``tape`` (:meth:`ProgramBuilder.code`, given on first use)."""

    def __init__(self, tape: ProgramBuilder):
        super().__init__()
        self.tape = tape

    def __missing__(self, name: str) -> int:
        code = self[name] = self.tape.code(PRIMITIVES[name])
        return code


def _triples(flat: tuple) -> list[tuple]:
    return [flat[k:k + 3] for k in range(0, len(flat), 3)]


def _move_inputs_first(tape: ProgramBuilder, inputs: list[int]) -> list[int] | None:
    """Reorder ``tape`` so that the ``inputs`` come first, in that order (a program lists its
    inputs first): the new position of each old node, or None when they are first already."""
    if all(leaf == k for k, leaf in enumerate(inputs)):
        return None
    is_input = bytearray(len(tape))
    for leaf in inputs:
        is_input[leaf] = 1
    return tape.reorder(list(inputs) + [i for i in range(len(tape)) if not is_input[i]])


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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
