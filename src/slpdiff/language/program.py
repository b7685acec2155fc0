"""A straight-line program held as a tape: the one representation every layer above reads.

Node ``i`` of a program is an input, a constant, or a primitive of the table applied to earlier
nodes. The nodes are kept in evaluation order (every node after its arguments), so every walk over a
program is a loop over positions, forwards to evaluate and backwards to differentiate, never a
recursion: programs may have ten million statements.

The tape is a few parallel arrays indexed by position, about 32 bytes per node in all (a Python
object per node would be ten times that):

- ``codes``: a small number per node, its primitive in ``prims`` (0: a leaf, input or constant);
- ``arg0``, ``arg1``: the positions of a node's first two arguments (-1: none); a constant's
  ``arg0`` is its value's place in ``pool`` (the constants' values); the few nodes with more than
  two arguments (``Var`` operations of the seed's API) keep them in a small dictionary;
- ``lines``, ``columns``: where a node comes from in ``source`` (0: not from text);
- names in one string with the nodes that have them: :class:`Names`.

``ops[i]``, ``args[i]`` and ``consts[i]`` read these as a :class:`Primitive`, a tuple and a float
(or None): the way most code should read a program. Loops over every node of a large program read
``codes``, ``arg0`` and ``arg1`` themselves (the engine, the schedule, the fast paths). The seed's
``Var`` graph is built from the tape, in :mod:`slpdiff.var`, only when that API is used.

Facts derived from a program (its evaluation plan, dependence masks, compiled fast paths) are kept
with it through one mechanism, :meth:`Program.memo`, under kinds declared as :class:`Memo`
constants by the modules that own them.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress
from typing import TypeVar

from .primitives import Primitive

T = TypeVar("T")
SHOWN_NODES = 500  # the nodes a notebook shows of a program


@dataclass(frozen=True)
class Assignment:
    """An assignment statement of a program's text, as written: ``name op expr`` at ``line``,
    ``column``. ``node`` holds the name's value after it; ``term`` the expression's value (the
    same node for ``=``; for ``+=`` and ``-=``, what is added or subtracted). An alias
    (``vm1 = x1``) has the node of the name it repeats."""

    name: str
    node: int
    line: int
    column: int
    op: str = "="  # "=", "+=" or "-="
    term: int = -1


NO_ARG = -1  # an unused argument slot (and the arg0 of an input)
_POSITIONS = "i"  # int32 positions: 2,147,483,647 nodes, far beyond limits.MAX_OPERATIONS


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

    Made by :class:`ProgramBuilder` (the parser, the adjoint program's builder, the ``Var`` API);
    this constructor also takes plain sequences, one entry per node.
    """

    def __init__(self, ops: Sequence[Primitive | None], args: Sequence[tuple[int, ...]],
                 consts: Sequence[float | None], input_index: Sequence[int],
                 output_index: Sequence[int], input_names: Sequence[str] | None = None,
                 output_names: Sequence[str] | None = None,
                 names: Sequence[str | None] | None = None, lines: Sequence[int] | None = None,
                 columns: Sequence[int] | None = None, source=None):
        tape = ProgramBuilder()
        n = len(ops)
        names = names if names is not None else [None] * n
        lines = lines if lines is not None else [0] * n
        columns = columns if columns is not None else [0] * n
        for i in range(n):
            if ops[i] is not None:
                tape.apply(ops[i], args[i], names[i], lines[i], columns[i])
            elif consts[i] is not None:
                tape.const(consts[i], names[i], lines[i], columns[i])
            else:
                tape.leaf(names[i], lines[i], columns[i])
        tape._fill(self)
        self._finish(input_index, output_index, input_names, output_names, source)

    @classmethod
    def _from_tape(cls, tape: ProgramBuilder, input_index, output_index, input_names,
                   output_names, source) -> Program:
        program = cls.__new__(cls)
        tape._fill(program)
        program._finish(input_index, output_index, input_names, output_names, source)
        return program

    def _finish(self, input_index, output_index, input_names, output_names, source) -> None:
        self.input_index = list(input_index)
        self.output_index = list(output_index)
        self.input_names = list(input_names) if input_names is not None else [
            self.names[i] or f"x{k}" for k, i in enumerate(self.input_index)]
        self.output_names = list(output_names) if output_names is not None else [
            self.names[i] or f"y{k}" for k, i in enumerate(self.output_index)]
        self.source = source
        # The assignments of the text that the names above do not show, in text order: aliases
        # (`vm1 = x1`: no node of their own), `+=` and `-=` (a name on several nodes). The
        # parser records them (None for a program built otherwise); traces show the aliases.
        self.assignments: list[Assignment] | None = None
        self._inputs = frozenset(self.input_index)
        self._memos: dict[Memo, dict] = {}
        self.ops = Ops(self)
        self.args = Args(self)
        self.consts = Consts(self)

    def __len__(self) -> int:
        return len(self.codes)

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
        return self.codes[i] == 0 and self.arg0[i] != NO_ARG

    def operations(self) -> Iterator[int]:
        """The positions of the nodes that apply a primitive, in order."""
        return compress(range(len(self.codes)), self.codes)

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


# --- reading the tape node by node ------------------------------------------------------------


def _equal_as_sequences(self, other) -> bool:
    """A column of the tape equals any sequence (not a string) of the same items, as a list
    would: tests and callers compare ``program.names == [...]``."""
    if not isinstance(other, Sequence) or isinstance(other, str):
        return NotImplemented
    return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))


class _Column(Sequence):
    """A read-only view of one column of a tape, a value per node (compares equal to a list of
    the same values)."""

    def __init__(self, tape):
        self._tape = tape

    def __len__(self) -> int:
        return len(self._tape.codes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("node position out of range")
        return self._at(i)

    def _at(self, i: int):
        raise NotImplementedError

    __eq__ = _equal_as_sequences
    __hash__ = None

    def __repr__(self) -> str:
        head = list(self[:8])
        return f"<{type(self).__name__} of {len(self)}: {head}{'...' if len(self) > 8 else ''}>"


class Ops(_Column):
    """``ops[i]``: node ``i``'s :class:`Primitive`, None for a leaf."""

    def _at(self, i: int):
        return self._tape.prims[self._tape.codes[i]]

    def __iter__(self) -> Iterator[Primitive | None]:
        return map(self._tape.prims.__getitem__, self._tape.codes)


class Args(_Column):
    """``args[i]``: the positions of node ``i``'s arguments, a tuple (``()`` for a leaf)."""

    def _at(self, i: int) -> tuple[int, ...]:
        tape = self._tape
        n = tape.arity[tape.codes[i]]
        if n == 2:
            return (tape.arg0[i], tape.arg1[i])
        if n == 1:
            return (tape.arg0[i],)
        return () if n == 0 else tape.more[i]

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        tape = self._tape
        arity, more = tape.arity, tape.more
        for i, (code, a, b) in enumerate(zip(tape.codes, tape.arg0, tape.arg1, strict=True)):
            n = arity[code]
            yield (a, b) if n == 2 else (a,) if n == 1 else () if n == 0 else more[i]


class Consts(_Column):
    """``consts[i]``: node ``i``'s value if it is a constant (a float), else None."""

    def _at(self, i: int) -> float | None:
        tape = self._tape
        k = tape.arg0[i]
        return tape.pool[k] if tape.codes[i] == 0 and k != NO_ARG else None

    def __iter__(self) -> Iterator[float | None]:
        pool = self._tape.pool
        for code, k in zip(self._tape.codes, self._tape.arg0, strict=True):
            yield pool[k] if code == 0 and k != NO_ARG else None


class Names(Sequence):
    """The names of the nodes: ``names[i]`` is node ``i``'s name or None.

    Held as the named nodes' positions (increasing) and their names joined in one string, with
    where each ends: a dozen bytes a name, where a list of strings costs five times that."""

    def __init__(self, size: int, nodes: array, text: str, ends: array):
        self._size = size
        self._nodes = nodes
        self._text = text
        self._ends = ends

    @classmethod
    def of(cls, names: Sequence[str | None]) -> Names:
        """The table of a list of names (None: unnamed)."""
        nodes = array(_POSITIONS, (i for i, name in enumerate(names) if name is not None))
        named = [names[i] for i in nodes]
        return cls(len(names), nodes, "".join(named), array("q", accumulate(map(len, named))))

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._size))]
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError("node position out of range")
        k = bisect_left(self._nodes, i)
        if k == len(self._nodes) or self._nodes[k] != i:
            return None
        return self._text[self._ends[k - 1] if k else 0: self._ends[k]]

    def __iter__(self) -> Iterator[str | None]:
        text, ends = self._text, self._ends
        start = 0
        i = 0
        for node, end in zip(self._nodes, ends, strict=True):
            while i < node:
                yield None
                i += 1
            yield text[start:end]
            start = end
            i += 1
        while i < self._size:
            yield None
            i += 1

    def named(self) -> Iterator[tuple[int, str]]:
        """(position, name) of every named node, in order."""
        text, start = self._text, 0
        for node, end in zip(self._nodes, self._ends, strict=True):
            yield node, text[start:end]
            start = end

    __eq__ = _equal_as_sequences
    __hash__ = None

    def __repr__(self) -> str:
        return f"<Names of {self._size}: {self[:8]}{'...' if self._size > 8 else ''}>"


# --- building a tape ----------------------------------------------------------------------------


class ProgramBuilder:
    """Appends nodes to a tape and makes a :class:`Program` of them (used by the parser, the
    adjoint program's builder and the ``Var`` API). While it builds, ``ops``, ``args``,
    ``consts``, ``names``, ``lines`` and ``columns`` read the nodes appended so far."""

    def __init__(self):
        self.prims: list[Primitive | None] = [None]
        self.arity: list[int] = [0]
        self._code_of: dict[int, int] = {}  # id(primitive) -> its code
        self.codes = array("B")  # widened to "H", then "I", past 255 and 65,535 primitives
        self.arg0 = array(_POSITIONS)
        self.arg1 = array(_POSITIONS)
        self.more: dict[int, tuple[int, ...]] = {}  # arguments of nodes with more than two
        self.pool = array("d")
        self.lines = array("I")
        self.columns = array("I")
        # Names given in the order of their nodes (the parser's case): positions and names;
        # given in any other order (the adjoint program's builder): a dictionary.
        self._name_nodes = array(_POSITIONS)
        self._name_list: list[str] = []
        self._name_dict: dict[int, str] | None = None
        self.names_done: Names | None = None  # the names as a table already (a cache entry)
        self.ops = Ops(self)
        self.args = Args(self)
        self.consts = Consts(self)
        self.names = _BuilderNames(self)

    def __len__(self) -> int:
        return len(self.codes)

    def code(self, op: Primitive) -> int:
        """``op``'s number in this tape's ``prims`` (given on first use)."""
        code = self._code_of.get(id(op))
        if code is None:
            code = self._code_of[id(op)] = len(self.prims)
            self.prims.append(op)
            self.arity.append(op.arity)
            limit = {"B": 0xFF, "H": 0xFFFF}.get(self.codes.typecode)
            if limit is not None and code > limit:
                self.codes = array("H" if code <= 0xFFFF else "I", self.codes)
        return code

    def leaf(self, name: str | None = None, line: int = 0, column: int = 0) -> int:
        """A new input node (an input once it is listed in :meth:`build`'s ``inputs``)."""
        return self._append(0, NO_ARG, NO_ARG, name, line, column)

    def const(self, value: float, name: str | None = None, line: int = 0, column: int = 0) -> int:
        """A new constant node."""
        self.pool.append(float(value))
        return self._append(0, len(self.pool) - 1, NO_ARG, name, line, column)

    def apply(self, op: Primitive, args: Sequence[int], name: str | None = None, line: int = 0,
              column: int = 0) -> int:
        """A new node applying ``op`` to the nodes at ``args``."""
        if len(args) != op.arity:
            raise TypeError(f"{op.name} takes {op.arity} argument(s), got {len(args)}")
        code = self.code(op)
        n = len(args)
        if n > 2:
            self.more[len(self.codes)] = tuple(args)
        return self._append(code, args[0] if n else NO_ARG, args[1] if n > 1 else NO_ARG, name,
                            line, column)

    def copy(self, program: Program, leaves: Collection[int] = ()) -> None:
        """Append every node of ``program`` in order, with its name and place, so that a node
        keeps its position when this tape starts empty; the nodes at ``leaves`` become inputs."""
        for i, op in enumerate(program.ops):
            where = (program.names[i], program.lines[i], program.columns[i])
            if op is None and program.is_const(i):
                self.const(program.consts[i], *where)
            elif op is None or i in leaves:
                self.leaf(*where)
            else:
                self.apply(op, program.args[i], *where)

    def op(self, code: int, a: int, b: int, line: int, column: int) -> int:
        """A new node applying the primitive numbered ``code`` (:meth:`code`) to the nodes at
        ``a`` and ``b`` (``NO_ARG`` for a primitive of one argument): the parser's quick
        append, which checks nothing."""
        i = len(self.codes)
        self.codes.append(code)
        self.arg0.append(a)
        self.arg1.append(b)
        self.lines.append(line)
        self.columns.append(column)
        return i

    def _append(self, code, a, b, name, line, column) -> int:
        i = self.op(code, a, b, line, column)
        if name is not None:
            self.set_name(i, name)
        return i

    def unnamed(self, i: int) -> bool:
        """Has node ``i`` no name yet?"""
        if self._name_dict is not None:
            return i not in self._name_dict
        nodes = self._name_nodes
        return not nodes or nodes[-1] < i or self.name_of(i) is None

    def name_of(self, i: int) -> str | None:
        """Node ``i``'s name so far, or None."""
        if self._name_dict is not None:
            return self._name_dict.get(i)
        nodes = self._name_nodes
        k = bisect_left(nodes, i)
        return self._name_list[k] if k < len(nodes) and nodes[k] == i else None

    def set_name(self, i: int, name: str | None) -> None:
        """Give node ``i`` the name ``name`` (None: no name)."""
        if self._name_dict is None:
            nodes = self._name_nodes
            if name is not None and (not nodes or nodes[-1] < i):
                nodes.append(i)
                self._name_list.append(name)
                return
            self._name_dict = dict(zip(nodes, self._name_list, strict=True))
            self._name_nodes, self._name_list = array(_POSITIONS), []
        if name is None:
            self._name_dict.pop(i, None)
        else:
            self._name_dict[i] = name

    def truncate(self, size: int) -> None:
        """Forget the nodes from position ``size`` on (the adjoint program's builder undoes a
        sweep it does not need); their constants' values stay in ``pool``, unread."""
        for column in (self.codes, self.arg0, self.arg1, self.lines, self.columns):
            del column[size:]
        self.more = {i: args for i, args in self.more.items() if i < size}
        if self._name_dict is not None:
            self._name_dict = {i: n for i, n in self._name_dict.items() if i < size}
        else:
            k = bisect_left(self._name_nodes, size)
            del self._name_nodes[k:], self._name_list[k:]

    def set_const(self, i: int, value: float, line: int, column: int) -> None:
        """Change constant node ``i``'s value and position (a literal ``-3`` is one constant)."""
        self.pool[self.arg0[i]] = value
        self.lines[i], self.columns[i] = line, column

    def reorder(self, order: Sequence[int]) -> list[int]:
        """Put the nodes in ``order`` (old positions, every node once, each after its
        arguments): the new position of each old node."""
        moved = array(_POSITIONS, bytes(4 * len(order)))
        for new, old in enumerate(order):
            moved[old] = new
        arity = self.arity
        codes, arg0, arg1 = self.codes, self.arg0, self.arg1

        def move(slot: array) -> array:
            return array(_POSITIONS, (moved[slot[i]] if arity[codes[i]] and slot[i] != NO_ARG
                                      else slot[i] for i in order))

        self.arg0, self.arg1 = move(arg0), move(arg1)
        self.more = {moved[i]: tuple(moved[a] for a in args) for i, args in self.more.items()}
        self.codes = array(codes.typecode, (codes[i] for i in order))
        self.lines = array("I", (self.lines[i] for i in order))
        self.columns = array("I", (self.columns[i] for i in order))
        named = self._name_dict if self._name_dict is not None else dict(
            zip(self._name_nodes, self._name_list, strict=True))
        self._name_dict = {moved[i]: name for i, name in named.items()}
        self._name_nodes, self._name_list = array(_POSITIONS), []
        return list(moved)

    def build(self, inputs: Sequence[int], outputs: Sequence[int],
              input_names: Sequence[str] | None = None,
              output_names: Sequence[str] | None = None, source=None) -> Program:
        """The program of every node appended so far (the builder is then spent)."""
        return Program._from_tape(self, inputs, outputs, input_names, output_names, source)

    def _names_table(self) -> Names:
        nodes, named = self._name_nodes, self._name_list
        if self._name_dict is not None:
            items = sorted(self._name_dict.items())
            nodes = array(_POSITIONS, (i for i, _ in items))
            named = [name for _, name in items]
        return Names(len(self.codes), nodes, "".join(named),
                     array("q", accumulate(map(len, named))))

    def _fill(self, program: Program) -> None:
        """Hand the tape's arrays to ``program``."""
        program.prims, program.arity, program.codes = self.prims, self.arity, self.codes
        program.arg0, program.arg1, program.more = self.arg0, self.arg1, self.more
        program.pool, program.lines, program.columns = self.pool, self.lines, self.columns
        program.names = self._names_table() if self.names_done is None else self.names_done


class _BuilderNames(Sequence):
    """The names given so far, read and written during building: ``names[i] = "d_y_d_x"``."""

    def __init__(self, tape: ProgramBuilder):
        self._tape = tape

    def __len__(self) -> int:
        return len(self._tape.codes)

    def __getitem__(self, i: int) -> str | None:
        if not 0 <= i < len(self._tape.codes):
            raise IndexError("node position out of range")
        return self._tape.name_of(i)

    def __setitem__(self, i: int, name: str | None) -> None:
        if not 0 <= i < len(self._tape.codes):
            raise IndexError("node position out of range")
        self._tape.set_name(i, name)


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
