"""The adjoint program unfolded: one statement per adjoint update, in the reverse sweep's order.

``slpdiff grad`` writes the reverse sweep folded (:mod:`slpdiff.core.adjoint`): each adjoint is
gathered into one statement, products by 1 and sums with 0 vanish. The unfolded form is the
incremental adjoint of the lecture (Griewank and Walther's Table 3.5): the output's adjoint is
seeded with ``y_bar = 1``, and every term of the sweep (:func:`~slpdiff.core.schedule.sweep_terms`,
the one order every evaluator and ``slpdiff trace`` share) is its own statement ``v_bar += a_bar *
partial`` (or ``-=`` for a rule that is -1), written with the language's ``+=``. Every adjoint
starts at 0, so the first ``+=`` to a name assigns it.

Each statement computes what the engine's sweep computes for that term, with the same numpy
functions on the same operands (the rule rendered by :func:`~slpdiff.language.rules.render`, the
node's own value for the function applied to its own parameters): the derivatives equal the
engine's bit for bit, the sign of a zero included (nothing is folded).

Besides the text, the program is a tape (``UnfoldedAdjoint.program``, single assignment, each
update a node named ``v_bar``, ``v_bar_2``, ...) with a record of each update
(``UnfoldedAdjoint.updates``): the second-order trace runs forward mode through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import printable
from ..language.primitives import PRIMITIVES
from ..language.printer import Layout, Names, SlpWriter, source_comments
from ..language.program import Program, ProgramBuilder
from ..language.rules import render
from .schedule import Selection, depends, per_row, select, sweep_terms

_ADD, _SUBTRACT, _MULTIPLY, _NEGATIVE, _SUM, _COUNT = (
    PRIMITIVES[name] for name in ("add", "subtract", "multiply", "negative", "sum", "count"))


@dataclass
class Update:
    """One statement of the unfolded sweep: ``c``'s adjoint ``+=`` (or ``-=``) the term from
    argument ``k`` of node ``i`` (positions in the original program)."""

    output: str  # whose sweep
    i: int
    k: int
    c: int
    sign: str  # "+" or "-"
    term: int  # the term added (or subtracted), a node of the adjoint program
    partial: int | float  # the local partial: a node of the adjoint program, or a constant
    after: int  # c's adjoint after the update, a node of the adjoint program
    line: int  # the line of the statement in text()


@dataclass
class UnfoldedAdjoint:
    """The result of :func:`unfolded_adjoint_program` (attributes as
    :class:`~slpdiff.core.adjoint.AdjointProgram`'s, so that the Python emitter takes it)."""

    program: Program  # the original nodes first (same positions), then each sweep
    original: Program
    outputs: list[str]
    wrt: list[str]
    derivatives: dict[str, dict[str, str]]  # output -> input -> name of its derivative output
    adjoint_names: dict[str, dict[int, str]]  # output -> original node -> its adjoint's name
    forward_names: list[str]  # every original node's name in the text
    seeds: dict[str, int] = field(default_factory=dict)  # output -> its seed node (y_bar = 1)
    pattern: dict[str, str] = field(default_factory=dict)  # output -> "v_bar": how names read
    updates: list[Update] = field(default_factory=list)
    comments: object = None  # for the Python emitter: the original program's comments
    _lines: list[str] = field(default_factory=list, repr=False)

    def text(self) -> str:
        """The unfolded adjoint program as SLP text, with ``+=`` and ``-=``."""
        return "\n".join(self._lines) + "\n"


def unfolded_adjoint_program(program: Program, wrt: Sequence[str] | None = None,
                             outputs: Sequence[str] | None = None) -> UnfoldedAdjoint:
    """The unfolded adjoint program of ``program`` (see the module docstring): its outputs (or
    ``outputs``), then ``d_y_d_x`` for each output ``y`` and input ``x`` (or each in ``wrt``).

    Raises :class:`~slpdiff.errors.InputError` for a name that is not an input or output, and
    TypeError for a custom operation (a ``Var`` rule written in Python).
    """
    return _Unfolder(program, select(program, wrt, outputs)).build()


class _Unfolder:
    def __init__(self, program: Program, chosen: Selection):
        self.src = program
        self.chosen = chosen
        self.tape = ProgramBuilder()
        self.needs = depends(program, chosen.wrt_nodes)
        self.row_free = [not r for r in per_row(program, [True] * len(program.input_index))]
        self.names = Names([n for n in program.names if n] + program.input_names
                           + program.output_names)

    def forward_names(self) -> list[str]:
        """A name for every original node: its own, or (an unnamed part of a statement, shown
        as a row of the trace) the statement's name numbered, ``y_1``; constants as numbers."""
        src = self.src
        names: list[str | None] = [None] * len(src)
        input_name = dict(zip(src.input_index, src.input_names, strict=True))
        for i in range(len(src)):
            names[i] = input_name.get(i, src.names[i])
        following = "t"
        statement_of = [following] * len(src)
        for i in range(len(src) - 1, -1, -1):
            if src.names[i] is not None and not src.is_input(i):
                following = src.names[i]
            statement_of[i] = following
        for i in range(len(src)):
            if names[i] is None and src.ops[i] is not None:
                names[i] = self.names.fresh(statement_of[i], numbered=True)
        return names

    def copy_forward(self, names: list[str | None]) -> None:
        src, tape = self.src, self.tape
        for i, op in enumerate(src.ops):
            if op is not None:
                tape.apply(op, src.args[i], names[i], src.lines[i], src.columns[i])
            elif src.consts[i] is not None:
                tape.const(src.consts[i], src.names[i], src.lines[i], src.columns[i])
            else:
                tape.leaf(names[i], src.lines[i], src.columns[i])

    def build(self) -> UnfoldedAdjoint:
        src, chosen, tape = self.src, self.chosen, self.tape
        forward = self.forward_names()
        self.copy_forward(forward)
        self.row = [not free for free in self.row_free]  # per node of the tape: one per row?
        several = len(chosen.outputs) > 1
        suffix = _free_suffix("_bar", {n for n in forward if n} | set(src.output_names))
        result = UnfoldedAdjoint(Program([], [], [], [], []), src, list(chosen.output_names),
                                 list(chosen.wrt_names), {}, {}, forward,
                                 comments=source_comments(src))
        outputs = list(chosen.output_nodes)
        output_names = list(chosen.output_names)
        self.display: dict[int, str] = {}  # adjoint node -> the name text() gives it
        for k in chosen.outputs:
            out_name = src.output_names[k]
            o = src.output_index[k]
            self.bar: dict[int, str] = {}  # original node -> its adjoint's name in text()
            self.adjoint: dict[int, int] = {}  # original node -> its adjoint's node, so far
            self.adjoint_name = lambda c, out=out_name: _adjoint_name(forward[c], suffix, out,
                                                                     several)
            result.pattern[out_name] = _adjoint_name("v", suffix, out_name, several)
            seed = self._node(tape.const(1.0), o)
            result.seeds[out_name] = seed
            for e in sweep_terms(src, self.needs, o):
                result.updates.append(self._update(out_name, e))
            row = result.derivatives[out_name] = {}
            for w in chosen.wrt:
                x = src.input_index[w]
                name = self.names.fresh(f"d_{out_name}_d_{src.input_names[w]}")
                outputs.append(self.adjoint[x] if x in self.adjoint else self._const(0.0))
                output_names.append(name)
                row[src.input_names[w]] = name
            result.adjoint_names[out_name] = self.bar
        result.program = tape.build(src.input_index, outputs, src.input_names, output_names)
        result._lines = _text(result, forward, self.display)
        return result

    def _apply(self, op, args: list[int]) -> int:
        node = self.tape.apply(op, args)
        self.row.append(not op.reduces and any(self.row[a] for a in args))
        return node

    def _const(self, value: float) -> int:
        self.row.append(False)
        return self.tape.const(value)

    def _node(self, after: int, c: int) -> int:
        """Name ``after`` as the latest adjoint of original node ``c``."""
        if c not in self.bar:
            self.bar[c] = self.names.fresh(self.adjoint_name(c))
            unique = self.bar[c]
        else:
            unique = self.names.fresh(self.bar[c], numbered=True)
        if len(self.row) < len(self.tape):
            self.row.append(False)  # the seed, a constant
        self.tape.names[after] = unique
        self.display[after] = self.bar[c]
        self.adjoint[c] = after
        return after

    def _update(self, out_name: str, e) -> Update:
        src = self.src
        i, k, c, rule = e.i, e.k, e.c, e.rule
        a = self.adjoint[i]
        sign = "+"
        if rule.const is not None:
            partial: int | float = rule.const
            if rule.const in (1.0, -1.0):
                sign, term = ("+" if rule.const == 1.0 else "-"), a
            else:
                term = self._apply(_MULTIPLY, [a, self._const(rule.const)])
        else:
            partial = render(rule, param=lambda p: src.args[i][p], const=self._const,
                             own=lambda: i,
                             apply=lambda op, operands, _j: self._apply(op, operands))
            term = self._apply(_MULTIPLY, [a, partial])
        if self.row_free[c] and not self.row_free[i]:
            # The engine sums a row-wise use's terms over the rows (engine.fit). A term that is
            # one number for every row sums to itself times the number of rows.
            term = self._apply(_SUM, [term]) if self.row[term] else \
                self._apply(_MULTIPLY, [term, self._apply(_COUNT, [i])])
        if c not in self.adjoint:
            after = term if sign == "+" else self._apply(_NEGATIVE, [term])
            if after in self.display or after < len(src):
                # `v5_bar += v7_bar`: a node of its own (times 1, exact), so that each update is
                # a statement of its own.
                after = self._apply(_MULTIPLY, [term, self._const(1.0)])
        else:
            after = self._apply(_ADD if sign == "+" else _SUBTRACT, [self.adjoint[c], term])
        self._node(after, c)
        return Update(out_name, i, k, c, sign, term, partial, after, 0)


def _adjoint_name(name: str, suffix: str, output: str, several: bool) -> str:
    return f"{name}{suffix}_{output}" if several else f"{name}{suffix}"


def _free_suffix(suffix: str, taken: set[str]) -> str:
    while any(n + suffix in taken for n in taken):
        suffix += "_"
    return suffix


def _text(result: UnfoldedAdjoint, forward: list, display: dict[int, str]) -> list[str]:
    """The program as SLP text: the forward statements, then each sweep with ``+=``."""
    program, src = result.program, result.original
    names: list[str | None] = list(forward) + [None] * (len(program) - len(forward))
    for node, name in display.items():
        names[node] = name  # references to an adjoint are to its latest value, by its name
    writer = SlpWriter(Layout(program, names, list(src.input_names),
                              list(program.output_names), [None] * len(program)))
    where = f" of {printable(src.source.name)}" if src.source is not None else ""
    lines = [f"# The adjoint program{where}, unfolded by slpdiff grad --unfolded: the original",
             "# statements, then each reverse sweep with one statement per adjoint update, in the",
             "# order slpdiff trace shows them. Every adjoint starts at 0.", "#"]
    comments = result.comments
    lines += [line for line in comments.header if isinstance(line, str)]
    if src.input_names:
        lines.append(f"input {', '.join(src.input_names)}")
    for i in range(len(src)):
        if src.is_input(i) or (src.ops[i] is None and src.names[i] is None):
            continue
        for line in comments.above.get(i, []):
            if isinstance(line, str):
                lines.append(line)
        lines.append(writer.statement(i))
    output_node = dict(zip(program.output_names, program.output_index, strict=True))
    by_output: dict[str, list[Update]] = {}
    for u in result.updates:
        by_output.setdefault(u.output, []).append(u)
    for out in result.outputs:
        seed = result.seeds[out]
        lines += ["", f"# The reverse sweep for {out}: {result.pattern[out]} is d {out}/d v."]
        lines.append(f"{program.names[seed]} = 1")
        for u in by_output.get(out, []):
            u.line = len(lines) + 1
            term = writer.expression(u.term) if u.term == u.after else writer.reference(u.term)
            lines.append(f"{display[u.after]} {u.sign}= {term}")
        for name in result.derivatives[out].values():
            lines.append(f"{name} = {writer.reference(output_node[name])}")
    outputs = [*result.outputs, *(n for row in result.derivatives.values() for n in row.values())]
    lines.append(f"output {', '.join(outputs)}")
    return lines
