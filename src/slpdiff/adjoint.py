"""Reverse mode as a source transformation: a ``Program`` -> a new ``Program`` (its adjoint program)
that computes the original outputs and then, by a reverse sweep written out statement by statement,
every partial derivative of every output with respect to the chosen inputs.

The sweep is the engine's, written down instead of run. For each output ``y`` it walks the
statements backwards and gives each statement ``v`` that reaches ``y`` and depends on a chosen input
its adjoint ``d_y_d_v`` (the derivative of ``y`` with respect to ``v``): the sum, over the uses of
``v``, of the user's adjoint times the partial derivative of the use in ``v``. The partial
derivatives are the primitive table's rules (``Rule.program``, small graphs over the parameters)
instantiated on the program's own nodes; a rule's "own value" (``tanh(a)`` in the rule for
``tanh``) is the forward statement itself. Terms are added in the engine's order, so the adjoint
program evaluates to the engine's derivatives bit for bit.

Nothing is written that the result does not need: no adjoint for a statement that does not reach the
output or does not depend on a chosen input, no ``* 1``, ``+ 0`` or ``* -1`` (constant rules and
constant adjoints are folded, negations become subtractions), a rule's constant parts are folded
(``x^2`` gives ``2 * x``, using the identities declared in the table), and a rule shared by several
outputs is written once. The size bound this gives is :func:`size_bound`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from .engine import _depends, resolve_names
from .graph import Program, Var
from .primitives import PRIMITIVES, Primitive
from .printer import Comments, Names, Stmt, comment_safe, source_comments, to_slp
from .rules import Rule, rules_for

# An adjoint or a term, kept unmaterialized: (negated, value), value a Var or a float constant.
_Term = tuple[bool, "Var | float"]

# The sweep's own arithmetic (what the engine writes as `a * partial` and `adjoint + g`): the
# rules themselves are only ever instantiated from the table.
_ADD, _SUBTRACT, _MULTIPLY, _NEGATIVE = (PRIMITIVES[name] for name in
                                         ("add", "subtract", "multiply", "negative"))
# What the engine's un-broadcast (``engine._fit``) does when a row-wise use meets a value that is
# the same for every row (a reduction such as mean): the use's terms are summed over the rows.
_SUM, _COUNT = PRIMITIVES["sum"], PRIMITIVES["count"]


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
        return len(self.original.nodes)


def adjoint_program(program: Program, wrt: Sequence[str] | None = None,
                    outputs: Sequence[str] | None = None) -> AdjointProgram:
    """The adjoint program of ``program``: its outputs (or ``outputs``), then ``d_y_d_x`` for each
    output ``y`` and each input ``x`` (or each in ``wrt``), in program order.

    Raises :class:`~slpdiff.errors.InputError` for a name that is not an input or output.
    """
    wrt_k = sorted(resolve_names(program.input_names if wrt is None else wrt,
                                 program.input_names, "input"))
    out_k = resolve_names(program.output_names if outputs is None else outputs,
                          program.output_names, "output")
    return _Builder(program, wrt_k, out_k).build()


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
    rp = rule.program
    return sum(1 for j, node in enumerate(rp.nodes)
               if node.op is not None and not _is_own_value(rule, j))


def _is_own_value(rule: Rule, j: int) -> bool:
    """Is node ``j`` of the rule's graph the primitive applied to its own parameters?"""
    rp = rule.program
    return rp.nodes[j].op is rule.primitive and rp.args[j] == tuple(rp.input_index)


class _Builder:
    """Builds the adjoint program's nodes: the forward statements copied, then one reverse sweep
    per output."""

    def __init__(self, program: Program, wrt_k: list[int], out_k: list[int]):
        self.src = program
        self.wrt_k = wrt_k
        self.out_k = out_k
        self.nodes: list[Var] = []
        self.position: dict[int, int] = {}  # id of a node -> its position in self.nodes
        self.fresh = Names([n.name for n in program.nodes if n.name]
                           + program.input_names + program.output_names)
        self.partials: dict[tuple[int, int], Var | float] = {}  # (node, argument) -> rule value
        self.needs = _depends(program, [program.input_index[k] for k in wrt_k])
        self.row_free = _row_free(program)
        self.comments = Comments()

    # --- building nodes ---------------------------------------------------------------------

    def _add(self, var: Var) -> Var:
        self.position[id(var)] = len(self.nodes)
        self.nodes.append(var)
        return var

    def const(self, value: float) -> Var:
        return self._add(Var(value=float(value), is_const=True))

    def apply(self, op: Primitive, args: list) -> Var | float:
        """``op`` applied to Vars and floats, folding constants and declared identities."""
        if all(not isinstance(a, Var) for a in args):
            with np.errstate(all="ignore"):
                return float(op.impl(*(np.float64(a) for a in args)))
        if len(args) == 2:
            for k, value in op.identity:
                position = op.params.index(k)
                if not isinstance(args[position], Var) and args[position] == value:
                    return args[1 - position]
        return self._add(Var(op=op, children=[a if isinstance(a, Var) else self.const(a)
                                              for a in args]))

    # --- the forward part -----------------------------------------------------------------

    def copy_forward(self) -> None:
        for i, node in enumerate(self.src.nodes):
            if node.op is None:
                copy = Var(value=node.value, name=node.name, line=node.line,
                           column=node.column, is_const=node.is_const)
            else:
                copy = Var(op=node.op, children=[self.nodes[a] for a in self.src.args[i]],
                           name=node.name, line=node.line, column=node.column)
            self._add(copy)
        # The statement each unnamed part belongs to (the next named node), to name parts after.
        self.statement_of: list[str | None] = [None] * len(self.src.nodes)
        following = None
        for i in range(len(self.src.nodes) - 1, -1, -1):
            node = self.src.nodes[i]
            if node.name is not None and not node.is_input:
                following = node.name
            self.statement_of[i] = following

    def _slots(self, i: int) -> int:
        """How many of node ``i``'s arguments take a (non-zero) term from its adjoint."""
        rules = rules_for(self.src.nodes[i].op)
        return sum(1 for rule, c in zip(rules, self.src.args[i], strict=True)
                   if self.needs[c] and rule.const != 0.0)

    def partial(self, i: int, k: int) -> Var | float:
        """The partial derivative of node ``i`` in its argument ``k``, as nodes (built once)."""
        key = (i, k)
        found = self.partials.get(key)
        if found is None:
            op = self.src.nodes[i].op
            rule = rules_for(op)[k]
            if rule.program is None:
                raise TypeError(f"cannot write the adjoint of the custom operation '{op.name}': "
                                "its derivative rules are Python functions, not SLP text")
            args = [self.nodes[a].value if self.nodes[a].is_const else self.nodes[a]
                    for a in self.src.args[i]]
            found = rule.const if rule.const is not None else self._instantiate(rule, i, args)
            self.partials[key] = found
        return found

    def _instantiate(self, rule: Rule, i: int, args: list) -> Var | float:
        values: list = []
        for kind, what, where in _recipe(rule):
            if kind == "arg":
                values.append(args[what])
            elif kind == "const":
                values.append(what)
            elif kind == "own":
                values.append(self.nodes[i])  # the statement's own value
            else:
                values.append(self.apply(what, [values[a] for a in where]))
        return values[-1]

    # --- the reverse sweep ------------------------------------------------------------------

    def scale(self, adjoint: _Term, partial: Var | float) -> _Term | None:
        """The term ``adjoint * partial``, without multiplying by 1 or -1."""
        neg, a = adjoint
        if not isinstance(partial, Var):
            if partial == 0.0:
                return None
            if not isinstance(a, Var):
                return (False, a * partial)
            if abs(partial) == 1.0:
                return (neg != (partial < 0), a)
            return (neg, self.apply(_MULTIPLY, [a, partial]))
        if not isinstance(a, Var):
            if abs(a) == 1.0:
                return (a < 0, partial)
            return (False, self.apply(_MULTIPLY, [a, partial]))
        return (neg, self.apply(_MULTIPLY, [a, partial]))

    def sum_over_rows(self, term: _Term, i: int) -> _Term:
        """``term``, a use by the row-wise node ``i``, summed over the rows (for a value that is
        the same for every row); a constant term sums to itself times the number of rows."""
        neg, value = term
        if isinstance(value, Var):
            return (neg, self.apply(_SUM, [value]))
        return self.scale((False, -value if neg else value), self.apply(_COUNT, [self.nodes[i]]))

    def total(self, terms: list[_Term]) -> _Term | None:
        """The sum of ``terms`` in order (the engine's order), subtracting negated terms."""
        acc: _Term | None = None
        for term in terms:
            if not isinstance(term[1], Var) and term[1] == 0.0:
                continue
            if acc is None:
                acc = term
                continue
            (na, a), (nt, t) = acc, term
            if not isinstance(a, Var) and not isinstance(t, Var):
                acc = (False, a + t)
            elif na == nt:  # a + t, or -a + -t = -(a + t)
                acc = (na, self.apply(_ADD, [a, t]))
            else:  # a - t, or -a + t = t - a
                acc = (False, self.apply(_SUBTRACT, [t, a] if na else [a, t]))
        return acc

    def materialize(self, term: _Term) -> Var:
        neg, value = term
        if not isinstance(value, Var):
            return self.const(value)
        return self.apply(_NEGATIVE, [value]) if neg else value

    def sweep(self, k: int) -> dict[int, Var]:
        """The reverse sweep for output number ``k``; returns the adjoints of the chosen inputs."""
        src = self.src
        o = src.output_index[k]
        out_name = src.output_names[k]
        reach = _reaches_one(src, o)
        terms: dict[int, list[_Term]] = {}
        self.partials = {}  # each sweep writes its own rules, so it reads on its own
        for i in range(o, -1, -1):
            if not (reach[i] and self.needs[i]) or self.nodes[i].is_input:
                continue
            adjoint = (False, 1.0) if i == o else self.total(terms.pop(i, []))
            if adjoint is None:
                continue
            adjoint = self._name_adjoint(adjoint, out_name, i)
            for slot, c in enumerate(src.args[i]):
                if self.needs[c]:
                    term = self.scale(adjoint, self.partial(i, slot))
                    if term is not None and self.row_free[c] and not self.row_free[i]:
                        term = self.sum_over_rows(term, i)
                    if term is not None:
                        terms.setdefault(c, []).append(term)
        inputs: dict[int, Var] = {}
        for w in self.wrt_k:  # in input order, so the derivatives are written in that order
            x = src.input_index[w]
            adjoint = (False, 1.0) if x == o else self.total(terms.pop(x, []))
            if adjoint is not None:
                inputs[x] = self.materialize(adjoint)
        return inputs

    def _name_adjoint(self, adjoint: _Term, out_name: str, i: int) -> _Term:
        """A named statement's adjoint gets its own statement ``d_y_d_v`` when it is an
        expression of its own (not a constant, a forward value or another statement)."""
        neg, value = adjoint
        if not isinstance(value, Var) or value.name is not None:
            return adjoint
        if self._is_forward(value):
            return adjoint
        node = self.nodes[i]
        if node.name is None:
            # An unnamed part of a statement: its adjoint is written inside the one term that
            # uses it, unless several arguments use it; then the part is named (v3_1, ...).
            if self._slots(i) < 2:
                return adjoint
            node.name = self.fresh.fresh(self.statement_of[i] or "t", numbered=True)
        var = self.materialize(adjoint)
        var.name = self.fresh.fresh(f"d_{out_name}_d_{self.nodes[i].name}")
        self.comments.above.setdefault(self.position[id(var)], []).append(("for ", Stmt(i)))
        return (False, var)

    def _is_forward(self, var: Var) -> bool:
        return self.position[id(var)] < len(self.src.nodes)

    def _sweep_header(self, start: int, out_name: str) -> None:
        for j in range(start, len(self.nodes)):
            if self.nodes[j].name is not None:
                self.comments.above.setdefault(j, [])[:0] = [
                    "", f"# The reverse sweep for {out_name}: d_{out_name}_d_v is the derivative "
                        f"of {out_name} with respect to v."]
                return

    # --- the whole program --------------------------------------------------------------------

    def build(self) -> AdjointProgram:
        src = self.src
        self.copy_forward()
        original = source_comments(src)
        self.comments.header = list(original.header)
        self.comments.above.update({i: list(lines) for i, lines in original.above.items()})
        self.comments.trailing = dict(original.trailing)
        self.comments.input_trailing = original.input_trailing
        outputs = [self.nodes[src.output_index[k]] for k in self.out_k]
        output_names = [src.output_names[k] for k in self.out_k]
        derivatives: dict[str, dict[str, str]] = {}
        by_node: dict[int, dict[int, Var]] = {}  # outputs that are one node share their sweep
        for k in self.out_k:
            o = src.output_index[k]
            start = len(self.nodes)
            if o not in by_node:
                by_node[o] = self.sweep(k)
            out_name = src.output_names[k]
            row = derivatives[out_name] = {}
            for w in self.wrt_k:
                x = src.input_index[w]
                var = by_node[o].get(x)
                name = self.fresh.fresh(f"d_{out_name}_d_{src.input_names[w]}")
                if var is None:
                    var = self.const(0.0)
                if var.name is None and not self._is_forward(var):
                    var.name = name
                    self.comments.above.setdefault(self.position[id(var)], []).append(
                        ("for ", Stmt(x)))
                elif var.name is None and var.op is not None:  # an unnamed part of a statement
                    var.name = self.fresh.fresh(self.statement_of[self.position[id(var)]] or "t",
                                                numbered=True)
                outputs.append(var)
                output_names.append(name)
                row[src.input_names[w]] = name
            self._sweep_header(start, out_name)
        self.comments.footer = list(original.footer)
        self.comments.header[:0] = _header(src, derivatives)
        new = Program(self.nodes, [self.nodes[i] for i in src.input_index], outputs,
                      output_names)
        return AdjointProgram(new, src, [src.output_names[k] for k in self.out_k],
                              [src.input_names[w] for w in self.wrt_k], derivatives,
                              self.comments)


@cache
def _recipe(rule: Rule) -> tuple:
    """The rule's graph as steps ("arg", k, ()), ("const", value, ()), ("own", None, ()) or
    ("op", primitive, argument positions), one per node in order, the result last."""
    rp = rule.program
    steps = []
    for j, node in enumerate(rp.nodes):
        if node.is_input:
            steps.append(("arg", rp.input_index.index(j), ()))
        elif node.is_const:
            steps.append(("const", float(node.value), ()))
        elif _is_own_value(rule, j):
            steps.append(("own", None, ()))
        else:
            steps.append(("op", node.op, rp.args[j]))
    result = rp.output_index[0]
    if result != len(steps) - 1:  # a rule that is one of its parameters or a number
        steps.append(steps[result])
    return tuple(steps)


def _row_free(program: Program) -> list[bool]:
    """Per node: is its value the same for every row whatever the inputs are (a constant, a
    reduction, or computed from those only)? Inputs may be arrays of rows, so they are not."""
    free = []
    for node, args in zip(program.nodes, program.args, strict=True):
        if node.op is None:
            free.append(node.is_const)
        else:
            free.append(node.op.reduces or all(free[a] for a in args))
    return free


def _reaches_one(program: Program, output: int) -> bytearray:
    reach = bytearray(output + 1)
    reach[output] = 1
    args = program.args
    for i in range(output, -1, -1):
        if reach[i]:
            for a in args[i]:
                reach[a] = 1
    return reach


def _header(program: Program, derivatives: dict[str, dict[str, str]]) -> list[str]:
    where = f" of {comment_safe(program.source.name)}" if program.source is not None else ""
    names = [name for row in derivatives.values() for name in row.values()]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    last = (f"# {shown}." if names else
            "# nothing more: there is no input to differentiate with respect to.")
    return [f"# The adjoint program{where}, written by slpdiff grad: the original statements,",
            "# then one reverse sweep per output. Its outputs are the original outputs, then",
            last, "#"]
