"""Reverse mode as a source transformation: a ``Program`` -> a new ``Program`` (its adjoint program)
that computes the original outputs and then, by a reverse sweep written out statement by statement,
every partial derivative of every output with respect to the chosen inputs.

The sweep is the engine's, written down instead of run: the builder reads the same terms in the same
order (:func:`~slpdiff.core.schedule.sweep_terms`). For each output ``y`` each statement ``v`` that
reaches ``y`` and depends on a chosen input gets its adjoint ``d_y_d_v`` (the derivative of ``y``
with respect to ``v``): the sum, over the uses of ``v``, of the use's adjoint times the partial
derivative of the use in ``v``. The partial derivatives are the primitive table's rules
(``Rule.steps``, rendered by :func:`~slpdiff.language.rules.render`) instantiated on the program's
own nodes; a rule's "own value" (``tanh(a)`` in the rule for ``tanh``) is the forward statement
itself. What the builder adds to the engine's sweep is only algebra on each term (below); the
adjoint program evaluates to the engine's derivatives bit for bit, except for the sign of a zero
(the identities folded, such as ``x + 0`` for ``x``, hold up to it: ``-0.0 + 0`` is ``0.0``).

Nothing is written that the result does not need: no adjoint for a statement that does not reach the
output or does not depend on a chosen input, no ``* 1``, ``+ 0`` or ``* -1`` (constant rules and
constant adjoints are folded, negations become subtractions), a rule's constant parts are folded
(``x^2`` gives ``2 * x``, using the identities declared in the table), and a rule shared by several
outputs is written once. The size bound this gives is :func:`size_bound`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import printable
from ..language.primitives import PRIMITIVES, Primitive
from ..language.printer import Comments, Names, Stmt, source_comments, to_slp
from ..language.program import Program, ProgramBuilder
from ..language.rules import Rule, render, rules_for
from .schedule import Selection, depends, per_row, select, sweep_terms

# A value while building is a node of the adjoint program (its position, an int) or a constant
# not yet written (a float). An adjoint or a term is kept unmaterialized: (negated, value).
Value = int | float
_Term = tuple[bool, Value]

# The sweep's own arithmetic (what the engine writes as `a * partial` and `adjoint + g`): the
# rules themselves are only ever instantiated from the table.
_ADD, _SUBTRACT, _MULTIPLY, _NEGATIVE = (PRIMITIVES[name] for name in
                                         ("add", "subtract", "multiply", "negative"))
# What the engine's un-broadcast (``engine.fit``) does when a row-wise use meets a value that is
# the same for every row (a reduction such as mean): the use's terms are summed over the rows.
_SUM, _COUNT = PRIMITIVES["sum"], PRIMITIVES["count"]
SHOWN_IN_HEADER = 8  # derivative names listed in the header; a program may have thousands


def _is_node(x: Value) -> bool:
    return type(x) is int


@dataclass
class AdjointProgram:
    """The result of :func:`adjoint_program`."""

    program: Program  # the original outputs first, then the derivatives
    original: Program
    outputs: list[str]  # the original outputs' names, in order
    wrt: list[str]  # the inputs differentiated, in program order
    derivatives: dict[str, dict[str, str]]  # output -> input -> name of its derivative output
    comments: Comments  # the original comments and one line above each adjoint statement

    def text(self) -> str:
        """The adjoint program as SLP text."""
        return to_slp(self.program, self.comments)

    @property
    def forward_size(self) -> int:
        """How many nodes of ``program`` are the original program's (they come first)."""
        return len(self.original)


def adjoint_program(program: Program, wrt: Sequence[str] | None = None,
                    outputs: Sequence[str] | None = None) -> AdjointProgram:
    """The adjoint program of ``program``: its outputs (or ``outputs``), then ``d_y_d_x`` for each
    output ``y`` and each input ``x`` (or each in ``wrt``), in program order.

    Raises :class:`~slpdiff.errors.InputError` for a name that is not an input or output.
    """
    return _AdjointBuilder(program, select(program, wrt, outputs)).build()


def size_bound(primitives: Sequence[Primitive] | None = None) -> int:
    """The most operations the reverse sweep of one output adds per operation of the program.

    Each argument of a statement costs at most its rule's operations (folded constants and the
    statement's own value cost nothing), one multiplication by the adjoint and one addition to the
    sum, so an adjoint program has at most ``n * (1 + m * size_bound())`` operations for a program
    of ``n`` operations and ``m`` outputs.
    """
    prims = PRIMITIVES.values() if primitives is None else primitives
    return max(sum(_rule_ops(rule) + 2 for rule in rules_for(p) if rule.const is None)
               for p in prims)


def _rule_ops(rule: Rule) -> int:
    return sum(1 for used, step in zip(rule.used, rule.steps, strict=True)
               if used and step[0] == "op")


class _AdjointBuilder:
    """Builds the adjoint program's tape: the forward statements copied (at the same positions),
    then one reverse sweep per output."""

    def __init__(self, program: Program, chosen: Selection):
        self.src = program
        self.chosen = chosen
        self.tape = ProgramBuilder()
        self.fresh = Names([n for n in program.names if n]
                           + program.input_names + program.output_names)
        self.partials: dict[tuple[int, int], Value] = {}  # (node, argument) -> rule value
        self.needs = depends(program, chosen.wrt_nodes)
        self.row_free = [not r for r in per_row(program, [True] * len(program.input_index))]
        self.comments = Comments()
        self.temps: list[tuple[int, str]] = []  # (node, base): parts named base_1, base_2, ...
        self.derived: list[tuple[int, str, int]] = []  # (adjoint, output, node) d_y_d_<node>

    # --- building nodes ---------------------------------------------------------------------

    def const(self, value: float) -> int:
        return self.tape.const(value)

    def apply(self, op: Primitive, args: list[Value]) -> Value:
        """``op`` applied to nodes and constants, folding constants and declared identities."""
        if not any(_is_node(a) for a in args):
            with np.errstate(all="ignore"):
                return float(op.impl(*(np.float64(a) for a in args)))
        if len(args) == 2:
            for k, value in op.identity:
                position = op.params.index(k)
                if not _is_node(args[position]) and args[position] == value:
                    return args[1 - position]
        return self.tape.apply(op, [a if _is_node(a) else self.const(a) for a in args])

    # --- the forward part -----------------------------------------------------------------

    def copy_forward(self) -> None:
        src = self.src
        self.tape.copy(src)
        # The statement each unnamed part belongs to (the next named node), to name parts after.
        self.statement_of: list[str | None] = [None] * len(src)
        following = None
        for i in range(len(src) - 1, -1, -1):
            if src.names[i] is not None and not src.is_input(i):
                following = src.names[i]
            self.statement_of[i] = following

    def _slots(self, i: int) -> int:
        """How many of node ``i``'s arguments take a (non-zero) term from its adjoint."""
        rules = rules_for(self.src.ops[i])
        return sum(1 for rule, c in zip(rules, self.src.args[i], strict=True)
                   if self.needs[c] and rule.const != 0.0)

    def partial(self, i: int, k: int, rule: Rule) -> Value:
        """The partial derivative ``rule`` of node ``i`` in its argument ``k``, as nodes (built
        once per sweep)."""
        key = (i, k)
        found = self.partials.get(key)
        if found is None:
            if rule.const is not None:
                found = rule.const
            elif not rule.steps:
                raise TypeError(f"cannot write the adjoint of the custom operation "
                                f"'{rule.primitive.name}': its derivative rules are Python "
                                "functions, not SLP text")
            else:
                tape = self.tape
                args = [tape.consts[a] if tape.consts[a] is not None else a
                        for a in self.src.args[i]]
                found = render(rule, param=args.__getitem__, const=float,
                               own=lambda: i,  # the statement's own value
                               apply=lambda op, operands, _j: self.apply(op, operands))
            self.partials[key] = found
        return found

    # --- the reverse sweep ------------------------------------------------------------------

    def scale(self, adjoint: _Term, partial: Value) -> _Term | None:
        """The term ``adjoint * partial``, without multiplying by 1 or -1."""
        neg, a = adjoint
        if not _is_node(partial):
            if partial == 0.0:
                return None
            if not _is_node(a):
                return (False, a * partial)
            if abs(partial) == 1.0:
                return (neg != (partial < 0), a)
            return (neg, self.apply(_MULTIPLY, [a, partial]))
        if not _is_node(a):
            if abs(a) == 1.0:
                return (a < 0, partial)
            return (False, self.apply(_MULTIPLY, [a, partial]))
        return (neg, self.apply(_MULTIPLY, [a, partial]))

    def sum_over_rows(self, term: _Term, i: int) -> _Term:
        """``term``, a use by the row-wise node ``i``, summed over the rows (for a value that is
        the same for every row); a constant term sums to itself times the number of rows."""
        neg, value = term
        if _is_node(value):
            return (neg, self.apply(_SUM, [value]))
        return self.scale((False, -value if neg else value), self.apply(_COUNT, [i]))

    def total(self, terms: list[_Term]) -> _Term | None:
        """The sum of ``terms`` in order (the engine's order), subtracting negated terms."""
        acc: _Term | None = None
        for term in terms:
            if not _is_node(term[1]) and term[1] == 0.0:
                continue
            if acc is None:
                acc = term
                continue
            (na, a), (nt, t) = acc, term
            if not _is_node(a) and not _is_node(t):
                acc = (False, a + t)
            elif na == nt:  # a + t, or -a + -t = -(a + t)
                acc = (na, self.apply(_ADD, [a, t]))
            else:  # a - t, or -a + t = t - a
                acc = (False, self.apply(_SUBTRACT, [t, a] if na else [a, t]))
        return acc

    def materialize(self, term: _Term) -> int:
        neg, value = term
        if not _is_node(value):
            return self.const(value)
        return self.apply(_NEGATIVE, [value]) if neg else value

    def sweep(self, k: int) -> dict[int, int]:
        """The reverse sweep for output number ``k``, term by term in the engine's order; returns
        the adjoints of the chosen inputs (by node position)."""
        src = self.src
        o = src.output_index[k]
        out_name = src.output_names[k]
        terms: dict[int, list[_Term]] = {}
        self.partials = {}  # each sweep writes its own rules, so it reads on its own
        node, adjoint = -1, None
        for e in sweep_terms(src, self.needs, o):
            if e.i != node:  # the first term from node i: its adjoint is complete
                node = e.i
                adjoint = (False, 1.0) if e.i == o else self.total(terms.pop(e.i, []))
                if adjoint is not None:
                    adjoint = self._name_adjoint(adjoint, out_name, e.i)
            if adjoint is None:
                continue
            term = self.scale(adjoint, self.partial(e.i, e.k, e.rule))
            if term is not None and self.row_free[e.c] and not self.row_free[e.i]:
                term = self.sum_over_rows(term, e.i)
            if term is not None:
                terms.setdefault(e.c, []).append(term)
        inputs: dict[int, int] = {}
        for x in self.chosen.wrt_nodes:  # in input order: the derivatives are written so
            adjoint = (False, 1.0) if x == o else self.total(terms.pop(x, []))
            if adjoint is not None:
                inputs[x] = self.materialize(adjoint)
        return inputs

    def _name_adjoint(self, adjoint: _Term, out_name: str, i: int) -> _Term:
        """A named statement's adjoint gets its own statement ``d_y_d_v`` when it is an
        expression of its own (not a constant, a forward value or another statement)."""
        neg, value = adjoint
        names = self.tape.names
        if not _is_node(value) or names[value] is not None or self._is_forward(value):
            return adjoint
        if names[i] is None:
            # An unnamed part of a statement: its adjoint is written inside the one term that
            # uses it, unless several arguments use it; then the part is named (v3_1, ...).
            if self._slots(i) < 2:
                return adjoint
            self._name_part(i)
        var = self.materialize(adjoint)
        names[var] = self.fresh.fresh(derivative_name(out_name, names[i]))
        self.derived.append((var, out_name, i))
        self.comments.above.setdefault(var, []).append(("for ", Stmt(i)))
        return (False, var)

    def _name_part(self, i: int) -> None:
        """Name the unnamed part ``i`` of a statement after it (``v3_1``); numbered in program
        order at the end (:meth:`_number_parts`), since the sweep meets them in reverse."""
        base = self.statement_of[i] or "t"
        self.tape.names[i] = self.fresh.fresh(base, numbered=True)
        self.temps.append((i, base))

    def _number_parts(self) -> None:
        """Give the parts named after one statement their numbers in program order (``p_1``
        before ``p_2``), and the adjoints named after them their new names."""
        names, groups = self.tape.names, {}
        for i, base in self.temps:
            groups.setdefault(base, []).append(i)
        renamed = {}
        for nodes in groups.values():
            given = sorted((names[i] for i in nodes), key=lambda n: int(n.rsplit("_", 1)[1]))
            renamed.update({names[i]: new for i, new in zip(sorted(nodes), given, strict=True)
                            if names[i] != new})
        if not renamed:
            return
        changes = {i: renamed[names[i]] for i, _ in self.temps if names[i] in renamed}
        for var, out_name, i in self.derived:
            if i in changes and names[var] == derivative_name(out_name, names[i]):  # not _2
                changes[var] = derivative_name(out_name, changes[i])
        freed, given = {names[i] for i in changes}, list(changes.values())
        taken = self.fresh.taken
        if len(set(given)) == len(given) and all(n in freed or n not in taken for n in given):
            for i, name in changes.items():
                names[i] = name
            taken -= freed
            taken.update(given)

    def _is_forward(self, node: int) -> bool:
        return node < len(self.src)

    def _sweep_header(self, start: int, out_name: str) -> None:
        names = self.tape.names
        for j in range(start, len(self.tape)):
            if names[j] is not None:
                self.comments.above.setdefault(j, [])[:0] = [
                    "", f"# The reverse sweep for {out_name}: {derivative_name(out_name, 'v')} "
                        f"is the derivative of {out_name} with respect to v."]
                return

    # --- a program that already has its derivatives (grad | grad) ---------------------------

    def _state(self) -> tuple:
        tape = self.tape
        return (len(tape), set(self.fresh.taken), dict(self.fresh._next), len(self.temps),
                len(self.derived), set(self.comments.above), dict(self.partials))

    def _restore(self, state: tuple) -> None:
        """Forget a sweep: the nodes, names and comments written since ``state``."""
        size, taken, next_numbers, temps, derived, commented, partials = state
        tape = self.tape
        tape.truncate(size)
        self.fresh.taken, self.fresh._next = taken, next_numbers
        for i, _ in self.temps[temps:]:  # parts of forward statements named by the sweep
            if i < size:
                tape.names[i] = None
        del self.temps[temps:], self.derived[derived:]
        for key in set(self.comments.above) - commented:
            del self.comments.above[key]
        self.partials = partials

    def _known_derivatives(self, out_name: str, adjoints: dict[int, int]) -> dict | None:
        """When the program's outputs already hold ``out_name``'s derivatives under the names
        grad gives them (``d_y_d_x``: the program is an adjoint program) and they compute the
        same as this sweep's (the same operations on the same values, node for node), those
        outputs' names by input; else None."""
        src, chosen = self.src, self.chosen
        outputs = dict(zip(src.output_names, src.output_index, strict=True))
        known = {}
        for w in chosen.wrt:
            x = src.input_index[w]
            name = derivative_name(out_name, src.input_names[w])
            if name not in outputs or x not in adjoints:
                return None
            known[src.input_names[w]] = (name, outputs[name], adjoints[x])
        numbers = _value_numbers(self.tape)
        if all(numbers[old] == numbers[new] for _, old, new in known.values()):
            return {x: name for x, (name, _, _) in known.items()}
        return None

    # --- the whole program --------------------------------------------------------------------

    def build(self) -> AdjointProgram:
        src, chosen, names = self.src, self.chosen, self.tape.names
        self.copy_forward()
        original = source_comments(src)
        self.comments.header = list(original.header)
        self.comments.above.update({i: list(lines) for i, lines in original.above.items()})
        self.comments.trailing = dict(original.trailing)
        self.comments.input_trailing = original.input_trailing
        outputs = list(chosen.output_nodes)
        output_names = list(chosen.output_names)
        derivatives: dict[str, dict[str, str]] = {}
        by_node: dict[int, dict[int, int]] = {}  # outputs that are one node share their sweep
        for k in chosen.outputs:
            o = src.output_index[k]
            out_name = src.output_names[k]
            start = len(self.tape)
            if o not in by_node:
                state = self._state()
                by_node[o] = self.sweep(k)
                known = self._known_derivatives(out_name, by_node[o])
                if known is not None:  # the program's own outputs already are these
                    self._restore(state)
                    derivatives[out_name] = known
                    continue
            row = derivatives[out_name] = {}
            for w in chosen.wrt:
                x = src.input_index[w]
                var = by_node[o].get(x)
                name = self.fresh.fresh(derivative_name(out_name, src.input_names[w]))
                if var is None:
                    var = self.const(0.0)
                if names[var] is None and not self._is_forward(var):
                    names[var] = name
                    self.comments.above.setdefault(var, []).append(("for ", Stmt(x)))
                else:  # written as an alias, `d_y_d_x = v`: its comment goes above it
                    if names[var] is None and src.ops[var] is not None:  # a part of a statement
                        self._name_part(var)
                    self.comments.alias_above[len(outputs)] = [("for ", Stmt(x))]
                outputs.append(var)
                output_names.append(name)
                row[src.input_names[w]] = name
            self._sweep_header(start, out_name)
        self._number_parts()
        self.comments.footer = list(original.footer)
        self.comments.header[:0] = _header(src, derivatives)
        new = self.tape.build(src.input_index, outputs, src.input_names, output_names)
        return AdjointProgram(new, src, chosen.output_names, chosen.wrt_names, derivatives,
                              self.comments)


def derivative_name(of: str, wrt: str) -> str:
    """The name grad gives the derivative of ``of`` with respect to ``wrt``: ``d_y_d_x``; of a
    derivative, the next order (``d_y_d_x`` in ``w``: ``d2_y_d_x_d_w``, then ``d3_...``)."""
    match = _DERIVATIVE.fullmatch(of)
    if match is None:
        return f"d_{of}_d_{wrt}"
    return f"d{int(match.group(1) or 1) + 1}_{match.group(2)}_d_{wrt}"


_DERIVATIVE = re.compile(r"d(\d*)_(\w+?_d_\w+)")


def _value_numbers(tape) -> list[int]:
    """A number per node, equal for nodes that compute the same thing: the same operation on
    nodes of equal numbers, or the same constant (linear; no recursion)."""
    table: dict[tuple, int] = {}
    numbers = []
    for i, op in enumerate(tape.ops):
        if op is not None:
            key = (op.name, *(numbers[a] for a in tape.args[i]))
        elif tape.consts[i] is not None:
            key = ("const", np.float64(tape.consts[i]).tobytes())
        else:
            key = ("input", i)
        numbers.append(table.setdefault(key, len(table)))
    return numbers


def _header(program: Program, derivatives: dict[str, dict[str, str]]) -> list[str]:
    where = f" of {printable(program.source.name)}" if program.source is not None else ""
    own = set(program.output_names)
    names = list(dict.fromkeys(name for row in derivatives.values() for name in row.values()
                               if name not in own))
    known = [y for y, row in derivatives.items() if row and all(n in own for n in row.values())]
    outputs = ", ".join(program.output_names)
    if not names:
        last = "nothing more: there is no input to differentiate with respect to."
    else:
        shown = ", ".join(names[:SHOWN_IN_HEADER])
        if len(names) > SHOWN_IN_HEADER:
            shown += f" and {len(names) - SHOWN_IN_HEADER:,} more"
        count = "its derivative" if len(names) == 1 else f"its {len(names):,} derivatives"
        last = f"{count}: {shown}."
    if known:  # grad | grad: the first derivatives are there already
        last += (f" The derivatives of {', '.join(known)} are outputs already, computing what "
                 "a sweep would, so they are not swept again.")
    text = (f"The adjoint program{where}, written by slpdiff grad: the original statements, then "
            f"one reverse sweep per output. Its outputs are the original outputs ({outputs}), "
            f"then {last}")
    return [f"# {line}" for line in textwrap.wrap(text, 96, break_on_hyphens=False)] + ["#"]
