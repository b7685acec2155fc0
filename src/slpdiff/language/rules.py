"""Derivative rules: the primitive table's SLP text turned into steps, and into numpy functions.

Each partial derivative in the table (``"1 - tanh(a)^2"``) is read once, on first use, into
*steps*: one per node of the expression, in the order the parser would build them, with every part
that does not depend on the arguments computed here once (:func:`fold`). Every evaluator of rules
renders these steps, through :func:`render`: the reference engine's compiled ``Rule.fn`` (below),
the fast paths' generated code, and the adjoint program's statements. A rule that does not depend on
the arguments at all (``"1"``, ``"-1"``) is a number, ``Rule.const``, so the sweeps can skip
multiplying by 1.

Rules are read by :func:`read_expression`, a small reader of the expressions rules are written
in, not by the program parser: this module sits below the program layer, and a run that never
parses a program (a cached one, or the ``Var`` API) then never imports lark. A test checks that it
reads every rule of the table into exactly the steps the program parser gives.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from .primitives import CONSTANTS, PRIMITIVES, Primitive

# A step of a rule (see :func:`fold`): ("param", k) | ("const", x) | ("own",) | ("op", prim, args)
Step = tuple


@dataclass(frozen=True)
class Rule:
    """One partial derivative of a primitive with respect to one of its parameters."""

    primitive: Primitive
    param: str
    text: str  # as written in the table
    fn: Callable  # fn(*args, out) -> the partial's value (numpy scalars or arrays)
    const: float | None  # the value when the rule does not depend on the arguments
    steps: tuple[Step, ...] = ()  # the rule's expression, folded (empty for custom rules)
    result: int = -1  # the step whose value is the rule's
    used: tuple[bool, ...] = ()  # per step: does the result depend on it? (parameters may not)

    def __call__(self, *args):
        """The partial at ``args`` (computing the primitive's result when the rule needs it)."""
        return self.fn(*args, self.primitive.impl(*args))


def render(rule: Rule, param: Callable[[int], object], const: Callable[[float], object],
           own: Callable[[], object], apply: Callable[[Primitive, list, int], object],
           numeric: bool = False):
    """The one interpreter of a rule's steps: its result, built bottom-up from ``param(k)`` (the
    primitive's argument number k), ``const(x)``, ``own()`` (the node's own value) and
    ``apply(prim, operands, j)`` for step ``j``. Steps the result does not use are skipped.

    ``numeric``: for evaluators that compute (not write out) the rule, ``x ^ 2`` is applied as
    ``square(x)``, which gives numpy's power's bits (its own fast path for the exponent 2; a test
    checks every kind of float) in half the time."""
    found: list = []
    steps = rule.steps
    for j, step in enumerate(steps):
        kind = step[0]
        if not rule.used[j]:
            found.append(None)
        elif kind == "param":
            found.append(param(step[1]))
        elif kind == "const":
            found.append(const(step[1]))
        elif kind == "own":
            found.append(own())
        elif numeric and step[1] is _POW and steps[step[2][1]] == ("const", 2.0):
            found.append(apply(_SQUARE, [found[step[2][0]]], j))
        else:
            found.append(apply(step[1], [found[a] for a in step[2]], j))
    return found[rule.result]


_POW, _SQUARE = PRIMITIVES["pow"], PRIMITIVES["square"]


@cache
def rules_for(prim: Primitive) -> tuple[Rule, ...]:
    """The compiled rules of ``prim``, one per parameter, in parameter order."""
    if prim.kind == "custom":  # a seed-style Var(op=..., pds=[...]): the rules are callables
        return tuple(Rule(prim, p, getattr(pd, "__name__", "custom"), _ignore_out(pd), None)
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


# --- reading a rule's text ----------------------------------------------------------------------

# A node of an expression as the program parser builds it: ("param", k), ("const", x) or
# ("op", prim, argument node numbers); parameters come first, one node each, used or not.
Node = tuple

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
                    r"|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|[-+*/^(),]))")
_INFIX = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}


def read_expression(text: str, params: tuple[str, ...]) -> tuple[list[Node], int]:
    """The nodes of the expression ``text`` over ``params`` and the number of its result node,
    exactly as :func:`slpdiff.language.parser.parse` builds them for the program
    ``input <params>; partial = <text>`` (binding, folded signed literals and node order alike;
    a test checks it for the whole table). Only the table's own text is ever read here."""
    tokens = []
    pos = 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"rule {text!r}: cannot read {text[pos:]!r}")
        tokens.append(m.group(1) and ("num", m.group(1)) or m.group(2) and ("name", m.group(2))
                      or ("op", "^" if m.group(3) == "**" else m.group(3)))
        pos = m.end()
    tokens.append(("end", ""))
    nodes: list[Node] = [("param", k) for k in range(len(params))]
    where = {p: k for k, p in enumerate(params)}
    at = 0

    def peek(*ops: str) -> bool:
        return tokens[at][0] == "op" and tokens[at][1] in ops

    def take(op: str) -> None:
        nonlocal at
        if not peek(op):
            raise ValueError(f"rule {text!r}: expected {op!r}")
        at += 1

    def new(node: Node) -> int:
        nodes.append(node)
        return len(nodes) - 1

    def apply(name: str, *args: int) -> int:
        return new(("op", PRIMITIVES[name], args))

    def chain(operand: Callable[[], int], ops: tuple[str, ...]) -> int:  # left-associative
        nonlocal at
        left = operand()
        while peek(*ops):
            name = _INFIX[tokens[at][1]]
            at += 1
            left = apply(name, left, operand())
        return left

    def expr() -> int:  # expr: term (("+" | "-") term)*
        return chain(term, ("+", "-"))

    def term() -> int:  # term: factor (("*" | "/") factor)*
        return chain(factor, ("*", "/"))

    def signed(operand: Callable[[], int]) -> int:  # "-" x | "+" x, folding -literal as the parser
        nonlocal at
        if peek("-"):
            at += 1
            a = operand()
            if nodes[a][0] == "const" and a == len(nodes) - 1:
                nodes[a] = ("const", -nodes[a][1])
                return a
            return apply("negative", a)
        if peek("+"):
            at += 1
            return operand()
        return power()

    def factor() -> int:
        return signed(factor)

    def exponent() -> int:
        return signed(exponent)

    def power() -> int:  # power: atom ("^" exponent)?
        nonlocal at
        base = atom()
        if peek("^"):
            at += 1
            return apply("pow", base, exponent())
        return base

    def atom() -> int:
        nonlocal at
        kind, value = tokens[at]
        at += 1
        if kind == "num":
            return new(("const", float(value)))
        if kind == "name" and peek("("):
            at += 1
            args = [expr()]
            while peek(","):
                at += 1
                args.append(expr())
            take(")")
            return apply(value, *args)
        if kind == "name":
            if value in where:
                return where[value]
            return new(("const", CONSTANTS[value]))
        if kind == "op" and value == "(":
            inner = expr()
            take(")")
            return inner
        raise ValueError(f"rule {text!r}: unexpected {value!r}")

    result = expr()
    if tokens[at][0] != "end":
        raise ValueError(f"rule {text!r}: unexpected {tokens[at][1]!r}")
    return nodes, result


def fold(prim: Primitive, nodes: list[Node]) -> tuple[Step, ...]:
    """The steps of a rule's expression (over ``prim``'s parameters), one per node:

    - ``("param", k)``: the primitive's argument number k;
    - ``("const", x)``: the float x (a number, or a part that does not depend on the arguments,
      computed here once with the table's own function);
    - ``("own",)``: the primitive applied to its own parameters, i.e. the node's computed value;
    - ``("op", primitive, positions)``: a primitive applied to earlier steps.
    """
    own_args = tuple(range(prim.arity))
    steps: list[Step] = []
    for node in nodes:
        if node[0] != "op":
            steps.append(node)
            continue
        op, args = node[1], node[2]
        if op is prim and args == own_args:
            steps.append(("own",))
        elif all(steps[a][0] == "const" for a in args):
            steps.append(("const", float(op.impl(*(steps[a][1] for a in args)))))
        else:
            steps.append(("op", op, args))
    return tuple(steps)


def _used(steps: tuple[Step, ...], result: int) -> tuple[bool, ...]:
    used = [False] * len(steps)
    used[result] = True
    for j in range(result, -1, -1):
        if used[j] and steps[j][0] == "op":
            for a in steps[j][2]:
                used[a] = True
    return tuple(used)


def _compile(prim: Primitive, param: str, text: str) -> Rule:
    nodes, result = read_expression(text, prim.params)
    return _build(prim, param, text, fold(prim, nodes), result)


# --- rules at arguments that are constants of the program -----------------------------------------

# (primitive, parameter position, its value) at which the primitive gives back its other argument
# bit for bit, for every float64 (NaN giving a NaN): x * 1, 1 * x, x / 1 and x ^ 1 (numpy's power
# copies its operand for a single exponent 1; a test checks every kind of float), x - 0.0 (only
# +0.0: -0.0 - -0.0 is +0.0), x + -0.0 and -0.0 + x (only -0.0: -0.0 + 0.0 is +0.0). Not 0 * x
# (nan, inf and the sign of a zero) and not x + 0.0.
EXACT_IDENTITIES: dict[str, tuple[tuple[int, float], ...]] = {
    "multiply": ((0, 1.0), (1, 1.0)), "divide": ((1, 1.0),), "pow": ((1, 1.0),),
    "subtract": ((1, 0.0),), "add": ((0, -0.0), (1, -0.0)),
}

_SPECIAL: dict[tuple, Rule] = {}


def specialise(rule: Rule, known: tuple[float | None, ...]) -> Rule:
    """``rule`` at a node whose arguments ``known[k]`` are constants of the program (None: not a
    constant): those parameters become numbers, the parts computed from numbers alone are computed
    here once (as :func:`fold` does), and the primitives of ``EXACT_IDENTITIES`` at their identity
    value give back their other operand (``b * a^(b - 1)`` at ``b = 2`` is ``2 * a``). Every fold
    gives the unfolded rule's bits, so the rule at the node computes exactly what ``rule`` does
    with fewer operations. ``rule`` itself when that saves no operation (:func:`cost`); made once
    per (rule, constants)."""
    if not rule.steps or all(x is None for x in known):
        return rule
    key = (id(rule), tuple(None if x is None else struct.pack("<d", x) for x in known))
    found = _SPECIAL.get(key)
    if found is None:
        steps, result = _specialised_steps(rule, known)
        found = _build(rule.primitive, rule.param, rule.text, steps, result)
        # Kept as it is: a rule that is the constant 0 (to the sweeps, "no term"), and one
        # with a number that is not finite (the evaluators check such numbers as they make them)
        if cost(found) >= cost(rule) or found.const == 0.0 or not all(
                math.isfinite(step[1]) for step, used in zip(steps, found.used, strict=True)
                if used and step[0] == "const"):
            found = rule
        if len(_SPECIAL) > 4096:  # one per constant value: a program may have many
            _SPECIAL.clear()
        _SPECIAL[key] = found
    return found


def cost(rule: Rule) -> int:
    """The operations one term of the reverse sweep makes with ``rule``: the rule's own, and the
    multiplication by the adjoint (none for the constant 1)."""
    if rule.const is not None:
        return 0 if rule.const == 1.0 else 1
    return 1 + sum(1 for used, step in zip(rule.used, rule.steps, strict=True)
                   if used and step[0] == "op")


def _specialised_steps(rule: Rule, known: tuple[float | None, ...]) -> tuple[tuple, int]:
    steps: list[Step] = []
    same = list(range(len(rule.steps)))  # step j's value is step same[j]'s (identities)
    for j, step in enumerate(rule.steps):
        if step[0] == "param" and known[step[1]] is not None:
            steps.append(("const", float(known[step[1]])))
            continue
        if step[0] != "op":
            steps.append(step)
            continue
        op, args = step[1], tuple(same[a] for a in step[2])
        operands = [steps[a] for a in args]
        if not op.reduces and all(x[0] == "const" for x in operands):
            with np.errstate(all="ignore"):
                steps.append(("const", float(op.impl(*(x[1] for x in operands)))))
            continue
        steps.append(("op", op, args))  # read by no step when an identity folds it below
        for k, value in EXACT_IDENTITIES.get(op.name, ()):
            x = operands[k]
            if x[0] == "const" and x[1] == value and _sign(x[1]) == _sign(value):
                same[j] = args[1 - k]
                break
    return tuple(steps), same[rule.result]


def _sign(x: float) -> float:
    return math.copysign(1.0, x)


def _shared(steps: tuple[Step, ...], result: int) -> tuple[tuple[Step, ...], int]:
    """``steps`` with a repeated sub-expression computed once: a step that applies the same
    function to the same steps as an earlier one (``equal(a, maxrows(a))`` twice in maxrows'
    rule) is read from that one, so no step uses it and every evaluator skips it. The table's
    functions are functions of their arguments alone: the same bits either way."""
    first: dict[tuple, int] = {}  # (kind, function, arguments) -> the step that computes it
    same = list(range(len(steps)))  # step j's value is step same[j]'s
    shared: list[Step] = []
    for j, step in enumerate(steps):
        if step[0] == "op":
            step = ("op", step[1], tuple(same[a] for a in step[2]))
            same[j] = first.setdefault(("op", id(step[1]), step[2]), j)
        elif step[0] == "own":
            same[j] = first.setdefault(("own",), j)
        shared.append(step)
    return tuple(shared), same[result]


def _build(prim: Primitive, param: str, text: str, steps: tuple[Step, ...],
           result: int) -> Rule:
    steps, result = _shared(steps, result)
    used = _used(steps, result)
    if steps[result][0] == "const":
        value = steps[result][1]
        return Rule(prim, param, text, lambda *args: value, value, steps, result, used)
    env: dict[str, object] = {}
    body: list[str] = []

    def call(op: Primitive, operands: list[str], j: int) -> str:
        env[f"_{op.name}"] = op.impl
        body.append(f"    t{j} = _{op.name}({', '.join(operands)})")
        return f"t{j}"

    def number(x: float) -> str:
        if math.isfinite(x):
            return repr(x)
        env[f"_c{len(env)}"] = x  # inf and nan (a program's constant) have no literal
        return f"_c{len(env) - 1}"

    rule = Rule(prim, param, text, None, None, steps, result, used)
    # "out": the primitive applied to its own parameters
    expression = render(rule, param=lambda k: prim.params[k], const=number, own=lambda: "out",
                        apply=call, numeric=True)
    source = "\n".join([f"def partial({', '.join(prim.params)}, out):", *body,
                        f"    return {expression}"])
    exec(compile(source, f"<rule d{prim.name}/d{param}>", "exec"), env)  # noqa: S102 - table text
    return Rule(prim, param, text, env["partial"], None, steps, result, used)
