"""A straight-line program held as a tape: the one representation every layer above reads.

Node ``i`` of a program is an input, a constant, or a primitive of the table applied to earlier
nodes. The nodes are kept in evaluation order (every node after its arguments), so every walk over a
program is a loop over positions, forwards to evaluate and backwards to differentiate, never a
recursion: programs may have a million statements.

The tape is a few parallel sequences indexed by position (``ops``, ``args``, ``consts``); names,
lines and columns sit in side tables that only messages, printers and traces read. The seed's
``Var`` graph is built on top of this, in :mod:`slpdiff.var`, only when that API is used.

Facts derived from a program (its evaluation plan, dependence masks, compiled fast paths) are kept
with it through one mechanism, :meth:`Program.memo`, under kinds declared as :class:`Memo`
constants by the modules that own them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .primitives import Primitive

T = TypeVar("T")
SHOWN_NODES = 500  # the nodes a notebook shows of a program


@dataclass(frozen=True, eq=False)
class Memo:
    """A kind of fact kept with a program by :meth:`Program.memo`: declared once, as a module
    constant, by the module that computes it. ``keep`` bounds how many facts of the kind one
    program holds (the oldest is dropped first); None: no bound."""

    name: str
    keep: int | None = None

    def __repr__(self) -> str:
        return f"<memo {self.name}>"


class Program:
    """A straight-line program: its nodes in evaluation order, its inputs and its outputs.

    Per node ``i``: ``ops[i]`` is its :class:`Primitive` (None for an input or a constant),
    ``args[i]`` the positions of its arguments (``()`` for a leaf), ``consts[i]`` a constant's
    value (None otherwise); ``names[i]`` the name the program gives it (None for an unnamed part
    of an expression), ``lines[i]`` and ``columns[i]`` where it comes from in ``source`` (0: not
    from text). ``input_index`` and ``output_index`` are node positions; ``input_names`` and
    ``output_names`` label results (an output may be an alias such as ``y = x``, so its name is
    kept apart from its node's).
    """

    def __init__(self, ops: Sequence[Primitive | None], args: Sequence[tuple[int, ...]],
                 consts: Sequence[float | None], input_index: Sequence[int],
                 output_index: Sequence[int], input_names: Sequence[str] | None = None,
                 output_names: Sequence[str] | None = None,
                 names: Sequence[str | None] | None = None, lines: Sequence[int] | None = None,
                 columns: Sequence[int] | None = None, source=None):
        n = len(ops)
        self.ops = ops
        self.args = args
        self.consts = consts
        self.names = names if names is not None else [None] * n
        self.lines = lines if lines is not None else [0] * n
        self.columns = columns if columns is not None else [0] * n
        self.input_index = list(input_index)
        self.output_index = list(output_index)
        self.input_names = list(input_names) if input_names is not None else [
            self.names[i] or f"x{k}" for k, i in enumerate(self.input_index)]
        self.output_names = list(output_names) if output_names is not None else [
            self.names[i] or f"y{k}" for k, i in enumerate(self.output_index)]
        self.source = source
        self._inputs = frozenset(self.input_index)
        self._memos: dict[Memo, dict] = {}

    def __len__(self) -> int:
        return len(self.ops)

    def __repr__(self) -> str:
        where = f" from {self.source.name}" if self.source is not None else ""
        return (f"<Program{where}: {len(self)} nodes, inputs {self.input_names}, "
                f"outputs {self.output_names}>")

    def _repr_html_(self) -> str:
        """The tape as a table (the first ``SHOWN_NODES`` nodes), as a notebook shows a Program."""
        from ..formats import number
        from ..htmlformat import block, table

        def atom(c: int) -> str:
            if self.names[c] is not None:
                return self.names[c]
            return number(self.consts[c]) if self.consts[c] is not None else f"#{c}"

        rows = []
        for i in range(min(len(self), SHOWN_NODES)):
            op = self.ops[i]
            operation = ("input" if self.is_input(i) else number(self.consts[i])
                         if op is None else f"{op.name}({', '.join(map(atom, self.args[i]))})")
            rows.append([f"#{i}", self.names[i] or "", operation, str(self.lines[i] or "")])
        more = [f"... and {len(self) - SHOWN_NODES:,} more nodes"] if len(self) > SHOWN_NODES \
            else []
        where = f" from {self.source.name}" if self.source is not None else ""
        caption = (f"Program{where}: {len(self):,} nodes; inputs {', '.join(self.input_names)};"
                   f" outputs {', '.join(self.output_names)}")
        return block(table(caption, ["#", "name", "operation", "line"], rows, align="lllr",
                           code=[False, True, True, False], footer=more))

    @classmethod
    def from_outputs(cls, outputs: Iterable, inputs: Sequence | None = None) -> Program:
        """A program from a graph of node objects built in Python (the seed's ``Var`` graphs:
        each node has ``op``, ``children``, ``value``, ``is_const``, ``name``, ``line`` and
        ``column``). The inputs are the leaves that are not constants, in the order the walk
        meets them, unless given."""
        return program_and_nodes(outputs, inputs)[0]

    def is_input(self, i: int) -> bool:
        """Is node ``i`` an input (a leaf derivatives are taken with respect to)?"""
        return i in self._inputs

    def is_const(self, i: int) -> bool:
        """Is node ``i`` a constant (a leaf that is not an input)?"""
        return self.ops[i] is None and i not in self._inputs

    def memo(self, kind: Memo, key: Hashable, make: Callable[[], T]) -> T:
        """The fact of ``kind`` for ``key`` (e.g. a choice of inputs and outputs), made by
        ``make()`` on first use and kept with the program."""
        facts = self._memos.get(kind)
        if facts is None:
            facts = self._memos[kind] = {}
        try:
            return facts[key]
        except KeyError:
            pass
        value = facts[key] = make()
        if kind.keep is not None and len(facts) > kind.keep:
            del facts[next(iter(facts))]
        return value

    def facts(self, kind: Memo) -> dict:
        """The facts of ``kind`` kept so far, by key (what tests look at to see what ran)."""
        return dict(self._memos.get(kind, {}))

    def forget(self, kind: Memo | None = None) -> None:
        """Drop the facts of ``kind`` (of every kind if None), e.g. to rebuild compiled code."""
        if kind is None:
            self._memos.clear()
        else:
            self._memos.pop(kind, None)


class ProgramBuilder:
    """Appends nodes to a tape and makes a :class:`Program` of them (used by the parser, the
    adjoint program's builder and the ``Var`` API)."""

    def __init__(self):
        self.ops: list[Primitive | None] = []
        self.args: list[tuple[int, ...]] = []
        self.consts: list[float | None] = []
        self.names: list[str | None] = []
        self.lines: list[int] = []
        self.columns: list[int] = []

    def __len__(self) -> int:
        return len(self.ops)

    def _append(self, op, args, const, name, line, column) -> int:
        self.ops.append(op)
        self.args.append(args)
        self.consts.append(const)
        self.names.append(name)
        self.lines.append(line)
        self.columns.append(column)
        return len(self.ops) - 1

    def leaf(self, name: str | None = None, line: int = 0, column: int = 0) -> int:
        """A new input node (an input once it is listed in :meth:`build`'s ``inputs``)."""
        return self._append(None, (), None, name, line, column)

    def const(self, value: float, name: str | None = None, line: int = 0, column: int = 0) -> int:
        """A new constant node."""
        return self._append(None, (), float(value), name, line, column)

    def apply(self, op: Primitive, args: Sequence[int], name: str | None = None, line: int = 0,
              column: int = 0) -> int:
        """A new node applying ``op`` to the nodes at ``args``."""
        if len(args) != op.arity:
            raise TypeError(f"{op.name} takes {op.arity} argument(s), got {len(args)}")
        return self._append(op, tuple(args), None, name, line, column)

    def build(self, inputs: Sequence[int], outputs: Sequence[int],
              input_names: Sequence[str] | None = None,
              output_names: Sequence[str] | None = None, source=None) -> Program:
        """The program of every node appended so far."""
        return Program(self.ops, self.args, self.consts, inputs, outputs, input_names,
                       output_names, self.names, self.lines, self.columns, source)


def program_and_nodes(outputs: Iterable, inputs: Sequence | None = None) -> tuple[Program, list]:
    """:meth:`Program.from_outputs`, and the graph's nodes in the program's order (node ``i`` of
    the program is ``nodes[i]``)."""
    outputs = list(outputs)
    nodes = topological_order(outputs)
    tape = ProgramBuilder()
    position: dict[int, int] = {}
    for node in nodes:
        if node.op is not None:
            i = tape.apply(node.op, [position[id(c)] for c in node.children], node.name,
                           node.line, node.column)
        elif node.is_const:
            i = tape.const(node.value, node.name, node.line, node.column)
        else:
            i = tape.leaf(node.name, node.line, node.column)
        position[id(node)] = i
    if inputs is None:
        inputs = [node for node in nodes if node.op is None and not node.is_const]
    program = tape.build([position[id(v)] for v in inputs], [position[id(v)] for v in outputs])
    return program, nodes


def topological_order(outputs: Iterable) -> list:
    """Every node below ``outputs``, each after its children; an explicit stack, no recursion."""
    order: list = []
    done: set[int] = set()
    for root in outputs:
        if id(root) in done:
            continue
        stack = [(root, 0)]
        on_stack = {id(root)}
        while stack:
            node, next_child = stack[-1]
            children = node.children or ()
            if next_child < len(children):
                stack[-1] = (node, next_child + 1)
                child = children[next_child]
                if id(child) not in done:
                    if id(child) in on_stack:
                        raise ValueError("the graph has a cycle")
                    on_stack.add(id(child))
                    stack.append((child, 0))
            else:
                stack.pop()
                on_stack.discard(id(node))
                done.add(id(node))
                order.append(node)
    return order
