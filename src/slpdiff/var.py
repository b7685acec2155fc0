"""The seed's ``Var`` API: a graph of ``Var`` nodes built in Python, with ``forward()`` and
``backward()``.

A ``Var`` is an input, a constant, or a primitive applied to child ``Var``s; Python operators build
new nodes, so ``x * w + 3`` works with Vars and plain numbers. ``forward()`` and ``backward()`` turn
the graph below a node into a :class:`~slpdiff.language.program.Program` (once) and run the
reference engine on it, then write the results back into the nodes' ``value`` and ``deriv``, as the
seed's own engine did. :func:`vars_of` goes the other way: the ``Var`` graph of a parsed program.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real

from .core.engine import adjoints, as_value, forward
from .language.primitives import PRIMITIVES, Primitive
from .language.program import Program, program_and_nodes
from .language.rules import rules_for


class Var:
    """A node of the graph, with the seed's public fields and methods.

    ``value`` and ``deriv`` (the adjoint) are filled in by ``forward()`` and ``backward()``;
    ``op`` is a :class:`Primitive` (None for inputs and constants) and ``children`` its arguments.
    """

    __slots__ = ("value", "deriv", "op", "children", "name", "line", "column", "is_const",
                 "_program")

    def __init__(self, value=None, deriv=None, op=None, children=None, pds=None, *,
                 name: str | None = None, line: int = 0, column: int = 0, is_const: bool = False):
        self.value = value
        self.deriv = deriv
        if isinstance(op, str):
            op = PRIMITIVES[op]
        elif op is not None and not isinstance(op, Primitive):
            op = custom_primitive(op, pds)
        self.op = op
        self.children = list(children) if children is not None else None
        if op is not None and len(self.children or ()) != op.arity:
            got = len(self.children or ())
            raise TypeError(f"{op.name} takes {op.arity} argument(s), got {got}")
        self.name = name
        self.line = line  # where the node comes from in a program's text (0: not from text)
        self.column = column
        self.is_const = is_const
        self._program = None  # (Program, its nodes) that forward()/backward() run, made once

    @property
    def pds(self) -> list:
        """The partial-derivative rules of this node's op, one per child (the seed's ``pds``)."""
        return list(rules_for(self.op)) if self.op is not None else []

    @property
    def is_input(self) -> bool:
        """True for a leaf that is not a constant: what derivatives are taken with respect to."""
        return self.op is None and not self.is_const

    def __repr__(self) -> str:
        label = f"{self.name}=" if self.name else ""
        return f"Var({label}{self.value})"

    # --- the seed's API ---------------------------------------------------------------------

    def forward(self):
        """Evaluate the graph below this node from the inputs' current ``value``s.

        Sets ``value`` on every node and resets every ``deriv`` to 0, as the seed does.
        """
        program, nodes = self._get_program()
        values = forward(program, [nodes[i].value for i in program.input_index])
        for node, value in zip(nodes, values, strict=True):
            if node.op is not None:  # inputs keep the value the user gave, as in the seed
                node.value = value
            node.deriv = 0.0
        return self.value

    def backward(self):
        """Propagate adjoints from this node (seeded with 1) to every node below it.

        Uses the values left by the last ``forward()``; sets ``deriv`` on every node.
        """
        program, nodes = self._get_program()
        # Leaves keep the user's own values (maybe ints); the rules need float64 (2 ** -1).
        values = [as_value(node.value) if node.op is None else node.value for node in nodes]
        for node, adjoint in zip(nodes, adjoints(program, values, len(nodes) - 1), strict=True):
            node.deriv = 0.0 if adjoint is None else adjoint

    def _get_program(self) -> tuple[Program, list[Var]]:
        if self._program is None:
            self._program = program_and_nodes([self])
        return self._program

    # --- Python operators ---------------------------------------------------------------------

    def __add__(self, other):
        return apply("add", self, other)

    def __radd__(self, other):
        return apply("add", other, self)

    def __sub__(self, other):
        return apply("subtract", self, other)

    def __rsub__(self, other):
        return apply("subtract", other, self)

    def __mul__(self, other):
        return apply("multiply", self, other)

    def __rmul__(self, other):
        return apply("multiply", other, self)

    def __truediv__(self, other):
        return apply("divide", self, other)

    def __rtruediv__(self, other):
        return apply("divide", other, self)

    def __pow__(self, other):
        return apply("pow", self, other)

    def __rpow__(self, other):
        return apply("pow", other, self)

    def __neg__(self):
        return apply("negative", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return apply("abs", self)


def as_var(x) -> Var:
    """``x`` itself if it is a Var, else a constant node holding the number ``x``."""
    if isinstance(x, Var):
        return x
    if isinstance(x, Real):
        return Var(value=float(x), is_const=True)
    raise TypeError(f"expected a Var or a number, got {type(x).__name__}")


def apply(name: str, *args) -> Var:
    """A new node applying primitive ``name`` to ``args`` (Vars or numbers)."""
    return Var(op=PRIMITIVES[name], children=[as_var(a) for a in args])


def _make_function(prim: Primitive) -> Callable[..., Var]:
    def function(*args):
        if len(args) != prim.arity:
            raise TypeError(f"{prim.signature} takes {prim.arity} argument(s), got {len(args)}")
        return apply(prim.name, *args)

    function.__name__ = function.__qualname__ = prim.name
    function.__doc__ = f"{prim.signature}: {prim.doc}. Builds a new Var node."
    return function


# One Python function per primitive (slpdiff.sin, slpdiff.add, ...), built from the table.
FUNCTIONS: dict[str, Callable[..., Var]] = {name: _make_function(p)
                                            for name, p in PRIMITIVES.items()}


def custom_primitive(op: Callable, pds: Sequence[Callable] | None) -> Primitive:
    """A primitive for a seed-style node ``Var(op=f, children=..., pds=[...])`` with its own rules.

    Its rules are Python callables, not SLP text: the reference engine uses them; the fast paths
    and the adjoint program, which need a rule's steps, do not take such a program.
    """
    if pds is None:
        raise TypeError("a Var with a custom op needs pds: one derivative function per child")
    params = tuple(f"a{i}" for i in range(len(pds)))
    name = getattr(op, "__name__", "custom")
    return Primitive(name, params, op, tuple(pds), doc="custom operation", kind="custom")


def vars_of(program: Program) -> list[Var]:
    """The ``Var`` graph of ``program``: one node per position (constants and leaves with their
    values, operations with their children), names, lines and columns copied."""
    nodes: list[Var] = []
    for i, op in enumerate(program.ops):
        const = program.consts[i]
        nodes.append(Var(value=const, op=op,
                         children=[nodes[a] for a in program.args[i]] if op is not None else None,
                         name=program.names[i], line=program.lines[i],
                         column=program.columns[i], is_const=const is not None))
    return nodes
