"""The computational graph: ``Var`` nodes (the seed's model) and ``Program`` (nodes in order).

A ``Var`` is an input, a constant, or a primitive applied to child ``Var``s. A ``Program`` keeps the
nodes in a list whose order is already topological, so every walk over the graph is a loop over that
list (forwards to evaluate, backwards to differentiate), never a recursion: programs may have a
million statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from numbers import Real

from .primitives import PRIMITIVES, Primitive


class Var:
    """A node of the graph, with the seed's public fields and methods.

    ``value`` and ``deriv`` (the adjoint) are filled in by ``forward()`` and ``backward()``;
    ``op`` is a :class:`Primitive` (None for inputs and constants) and ``children`` its arguments.
    Python operators build new nodes, so ``x * w + 3`` works with Vars and plain numbers.
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
        self._program = None  # the Program that forward()/backward() run, built on first use

    @property
    def pds(self) -> list:
        """The partial-derivative rules of this node's op, one per child (the seed's ``pds``)."""
        from .rules import rules_for

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
        from . import engine

        program = self._get_program()
        values = engine.forward(program, [node.value for node in program.inputs])
        for node, value in zip(program.nodes, values, strict=True):
            if node.op is not None:  # inputs keep the value the user gave, as in the seed
                node.value = value
            node.deriv = 0.0
        return self.value

    def backward(self):
        """Propagate adjoints from this node (seeded with 1) to every node below it.

        Uses the values left by the last ``forward()``; sets ``deriv`` on every node.
        """
        from . import engine

        program = self._get_program()
        # Leaves keep the user's own values (maybe ints); the rules need float64 (2 ** -1).
        values = [engine.as_value(node.value) if node.op is None else node.value
                  for node in program.nodes]
        adjoints = engine.adjoints(program, values, len(program.nodes) - 1)
        for node, adjoint in zip(program.nodes, adjoints, strict=True):
            node.deriv = 0.0 if adjoint is None else adjoint

    def _get_program(self) -> Program:
        if self._program is None:
            self._program = Program.from_outputs([self])
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

    Its rules are Python callables, not SLP text, so only numeric differentiation uses them.
    """
    if pds is None:
        raise TypeError("a Var with a custom op needs pds: one derivative function per child")
    params = tuple(f"a{i}" for i in range(len(pds)))
    name = getattr(op, "__name__", "custom")
    return Primitive(name, params, op, tuple(pds), doc="custom operation", kind="custom")


class Program:
    """A straight-line program: its nodes in evaluation order, its inputs and its outputs.

    ``nodes`` lists every node once, each after its children. ``inputs`` and ``outputs`` are
    nodes; ``input_names`` and ``output_names`` are how results are labelled (an output may be an
    alias such as ``y = x``, so its name is kept apart from its node). ``args[i]`` holds the
    positions in ``nodes`` of node ``i``'s children.
    """

    def __init__(self, nodes: list[Var], inputs: list[Var], outputs: list[Var],
                 output_names: list[str] | None = None, source=None):
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.input_names = [v.name or f"x{i}" for i, v in enumerate(inputs)]
        self.output_names = output_names or [v.name or f"y{i}" for i, v in enumerate(outputs)]
        self.source = source
        position = {id(node): i for i, node in enumerate(nodes)}
        self.args = [tuple(position[id(c)] for c in node.children) if node.children else ()
                     for node in nodes]
        self.input_index = [position[id(v)] for v in inputs]
        self.output_index = [position[id(v)] for v in outputs]
        self._cache: dict = {}  # derived tables the engine computes once per program

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        where = f" from {self.source.name}" if self.source is not None else ""
        return (f"<Program{where}: {len(self.nodes)} nodes, inputs {self.input_names}, "
                f"outputs {self.output_names}>")

    @classmethod
    def from_outputs(cls, outputs: Iterable[Var], inputs: Sequence[Var] | None = None) -> Program:
        """A program from Var graphs built in Python (the seed's style).

        The inputs are the non-constant leaves in the order the walk meets them, unless given.
        """
        outputs = list(outputs)
        nodes = topological_order(outputs)
        if inputs is None:
            inputs = [node for node in nodes if node.is_input]
        return cls(nodes, list(inputs), outputs)


def topological_order(outputs: Iterable[Var]) -> list[Var]:
    """Every node below ``outputs``, each after its children; an explicit stack, no recursion."""
    order: list[Var] = []
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
