"""Derivative rules compiled from the primitive table's SLP text into numpy functions.

Each partial derivative in the table (``"1 - tanh(a)^2"``) is parsed once, on first use, with the
same parser as programs, and turned into a small Python function of the primitive's arguments and
its already-computed result ``out``. A rule that does not depend on the arguments (``"1"``,
``"-1"``) is folded to a number, so the engine can skip multiplying by 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from .graph import Program
from .primitives import Primitive


@dataclass(frozen=True)
class Rule:
    """One partial derivative of a primitive with respect to one of its parameters."""

    primitive: Primitive
    param: str
    text: str  # as written in the table
    fn: Callable  # fn(*args, out) -> the partial's value (numpy scalars or arrays)
    const: float | None  # the value when the rule does not depend on the arguments
    program: Program | None  # the rule as a graph over the parameters (None for custom ops)
    # The rule's graph with its constant parts folded: one step per node of ``program``, see
    # :func:`fold`. Every evaluator of rules (``fn`` here, the fast path) renders these steps.
    steps: tuple = ()

    def __call__(self, *args):
        """The partial at ``args`` (computing the primitive's result when the rule needs it)."""
        return self.fn(*args, self.primitive.impl(*args))


@cache
def rules_for(prim: Primitive) -> tuple[Rule, ...]:
    """The compiled rules of ``prim``, one per parameter, in parameter order."""
    if prim.kind == "custom":  # a seed-style Var(op=..., pds=[...]): the rules are callables
        return tuple(Rule(prim, p, getattr(pd, "__name__", "custom"), _ignore_out(pd), None, None)
                     for p, pd in zip(prim.params, prim.partials, strict=True))
    pairs = zip(prim.params, prim.partials, strict=True)
    return tuple(_compile(prim, param, text) for param, text in pairs)


@cache
def kink_for(prim: Primitive) -> Rule | None:
    """The table's ``kink`` expression of ``prim`` compiled like a rule (zero exactly where
    ``prim`` is not differentiable), or None if it has none."""
    return None if prim.kink is None else _compile(prim, "kink", prim.kink)


def _ignore_out(pd: Callable) -> Callable:
    return lambda *args: pd(*args[:-1])


def fold(prim: Primitive, program: Program) -> tuple:
    """The steps of a rule's graph ``program`` (over ``prim``'s parameters), one per node:

    - ``("param", k)``: the primitive's argument number k;
    - ``("const", x)``: the float x (a number, or a part that does not depend on the arguments,
      computed here once with the table's own function);
    - ``("own",)``: the primitive applied to its own parameters, i.e. the node's computed value;
    - ``("op", primitive, positions)``: a primitive applied to earlier steps.
    """
    inputs = [id(v) for v in program.inputs]
    params = {id(v): k for k, v in enumerate(program.inputs)}
    steps: list[tuple] = []
    for i, node in enumerate(program.nodes):
        args = program.args[i]
        if node.is_input:
            steps.append(("param", params[id(node)]))
        elif node.is_const:
            steps.append(("const", float(node.value)))
        elif node.op is prim and [id(c) for c in node.children] == inputs:
            steps.append(("own",))
        elif all(steps[a][0] == "const" for a in args):
            steps.append(("const", float(node.op.impl(*(steps[a][1] for a in args)))))
        else:
            steps.append(("op", node.op, args))
    return tuple(steps)


def _compile(prim: Primitive, param: str, text: str) -> Rule:
    from .parser import parse

    program = parse(f"input {', '.join(prim.params)}\npartial = {text}",
                    name=f"<rule d{prim.name}/d{param}>")
    steps = fold(prim, program)
    result = program.output_index[0]
    if steps[result][0] == "const":
        value = steps[result][1]
        return Rule(prim, param, text, lambda *args: value, value, program, steps)
    env: dict[str, object] = {}
    names: list[str] = []  # the Python expression for each node
    body: list[str] = []
    for i, step in enumerate(steps):
        if step[0] == "param":
            names.append(prim.params[step[1]])
        elif step[0] == "const":
            names.append(repr(step[1]))
        elif step[0] == "own":
            names.append("out")  # the primitive applied to its own parameters: its result
        else:
            op = step[1]
            env[f"_{op.name}"] = op.impl
            body.append(f"    t{i} = _{op.name}({', '.join(names[a] for a in step[2])})")
            names.append(f"t{i}")
    source = "\n".join([f"def partial({', '.join(prim.params)}, out):", *body,
                        f"    return {names[result]}"])
    exec(compile(source, f"<rule d{prim.name}/d{param}>", "exec"), env)  # noqa: S102 - table text
    return Rule(prim, param, text, env["partial"], None, program, steps)
