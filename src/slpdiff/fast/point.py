"""The fast path at a point: a program's forward statements and reverse sweeps as compiled Python on
floats, giving the reference engine's results bit for bit.

The reference engine (:mod:`slpdiff.core.engine`) calls the table's numpy functions on numpy
scalars, one call and one list lookup at a time. At a point (every input a number) the same
computation runs faster written out once: :class:`PointCode` renders the forward statements and
the reverse sweep's terms (:func:`~slpdiff.core.schedule.sweep_schedule`, the engine's own order)
as Python source, in blocks of a few hundred statements, compiled once: floats in local variables,
each primitive by the table's ``scalar`` spelling (``"{a} * {b}"``: bit-for-bit the numpy result,
a test checks every row) or by its numpy function; rules by their folded steps (``Rule.steps``).

Names from the program never reach generated code: every value is ``v<position>``, every adjoint
``a<position>``, every function a generated global. Whatever this code cannot reproduce exactly it
leaves to the engine: a division by zero or a square root of a negative number (Python raises
where numpy gives inf or nan), and any non-finite value or derivative, whose warnings the engine
locates. :func:`slpdiff.evaluation.evaluate` then runs the engine, which gives the same numbers.
"""

from __future__ import annotations

import ast
import gc
import math
import re
from array import array
from collections.abc import Sequence

import numpy as np

from ..core.engine import NodeValues
from ..core.schedule import Edge, sweep_schedule
from ..language.program import Program
from ..language.rules import Rule, render, rules_for

BLOCK = 400  # statements of the program per generated function (CPython runs small ones faster)


# --- at a point: generated Python ----------------------------------------------------------------

def literal(x: float) -> str:
    """``x`` as Python source for a float (non-finite values by name, negatives in parentheses)."""
    if x != x:
        return "_nan"
    if x in (math.inf, -math.inf):
        return "_inf" if x > 0 else "(-_inf)"
    return f"({x!r})" if math.copysign(1.0, x) < 0 else repr(x)


def global_name(env: dict, names: dict, fn, prefix: str = "_f") -> str:
    """The name under which generated code reads the function ``fn``: made on its first use
    (``_f0``, ``_f1``, ...; never a name from a program) and put in the code's globals ``env``;
    ``names`` remembers the names given, by the function's identity."""
    name = names.get(id(fn))
    if name is None:
        name = names[id(fn)] = f"{prefix}{len(names)}"
        env[name] = fn
    return name


class _Functions:
    """Generated global names for the table's functions (never a name from a program), and each
    primitive's call rendered as Python."""

    def __init__(self):
        self.env: dict[str, object] = {"_f": float, "_nan": math.nan, "_inf": math.inf,
                                       "sqrt": math.sqrt}
        self.names: dict[int, str] = {}

    def call(self, prim, args: list[str]) -> str:
        name = global_name(self.env, self.names, prim.impl, "_p")
        if prim.scalar is None:
            return f"_f({name}({', '.join(args)}))"
        fixed = tuple(a if _is_literal(a) else None for a in args)
        template = _specialize(prim.scalar, prim.params, fixed) if any(fixed) else prim.scalar
        return "(" + template.format(impl=name, **dict(zip(prim.params, args, strict=True))) + ")"


# What :func:`literal` writes for a finite number: ``2.0``, ``1e-05``, ``(-0.5)`` (and no other
# expression: ``(-0.0 - V[3])`` is not a literal).
_LITERAL = re.compile(r"\d[\d.e+-]*|\(-\d[\d.e+-]*\)")


def _is_literal(expr: str) -> bool:
    return _LITERAL.fullmatch(expr) is not None


_SPECIALIZED: dict = {}


def _specialize(template: str, params: tuple, fixed: tuple) -> str:
    """``template`` with the literal arguments in ``fixed`` put in and its conditions decided
    where they depend on those alone (``"{a} * {a} if {b} == 2.0 else ..."`` with b = 2.0 gives
    ``"{a} * {a}"``), so the generated code neither tests nor compiles them."""
    key = (template, fixed)
    found = _SPECIALIZED.get(key)
    if found is None:
        names = {p: f"_arg_{p}" for p in params}
        text = template.format(impl="_impl", **{p: f if f is not None else names[p]
                                                 for p, f in zip(params, fixed, strict=True)})
        tree = _Fold().visit(ast.parse(text, mode="eval"))
        found = ast.unparse(tree)
        for p, name in names.items():
            found = found.replace(name, "{" + p + "}")
        found = _SPECIALIZED[key] = found.replace("_impl", "{impl}")
    return found


def _fold_compare(node):
    if isinstance(node, ast.Compare) and all(isinstance(x, ast.Constant)
                                             for x in (node.left, *node.comparators)):
        try:
            expr = ast.fix_missing_locations(ast.Expression(node))
            return ast.Constant(bool(eval(compile(expr, "<fold>", "eval"))))  # noqa: S307
        except Exception:  # noqa: BLE001 - left as it is
            return node
    return node


class _Fold:
    """Decides ``x if C else y`` where C compares numbers only."""

    def visit(self, tree):
        class Folder(ast.NodeTransformer):
            def visit_UnaryOp(self, node):
                self.generic_visit(node)
                if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
                    return ast.Constant(-node.operand.value)
                return node

            def visit_Compare(self, node):
                self.generic_visit(node)
                return _fold_compare(node)

            def visit_IfExp(self, node):
                self.generic_visit(node)
                if isinstance(node.test, ast.Constant):
                    return node.body if node.test.value else node.orelse
                return node

        return Folder().visit(tree)


class _Block:
    """One generated function: statements, with values loaded from the list ``V``: a value used
    once is read where it is used (``V[12]``), one used more often into a local first."""

    def __init__(self, name: str, params: str):
        self.head = f"def {name}({params}):"
        self.loads: list[str] = []
        self.body: list[str] = []
        self.defined: set[int] = set()  # values computed in this block (locals v<j>)
        self.temps = 0

    def source(self, tail: list[str]) -> str:
        body = "\n".join(self.body + tail)
        uses: dict[str, int] = {}
        for ref in _REF.findall(body):
            uses[ref] = uses.get(ref, 0) + 1
        loads = [f"    v{ref} = V[{ref}]" for ref, count in uses.items() if count > 1]
        body = _REF.sub(lambda m: f"v{m[1]}" if uses[m[1]] > 1 else f"V[{m[1]}]", body)
        return _local_names("\n".join([self.head, *self.loads, *loads, body or "    pass"]))


_REF = re.compile("\x01([0-9]+)\x02")
_LOCAL = re.compile(r"\b([va])([0-9]+)\b")


def _local_names(source: str) -> str:
    """``source`` with its locals (``v<position>``, ``a<position>``) numbered from 0 in each
    block: every block then names its locals with the same (interned, shared) strings, instead of
    a string of its own per node of the program."""
    renamed: dict[str, str] = {}

    def local(m) -> str:
        name = m[0]
        found = renamed.get(name)
        if found is None:
            found = renamed[name] = f"{m[1]}{len(renamed)}"
        return found

    return _LOCAL.sub(local, source)


class PointRun:
    """The engine's computation on Python floats, interpreted node by node: nothing to compile,
    so it pays from the first evaluation (several times quicker than the engine's numpy
    scalars), and it holds nothing per node beyond the program's own tape.

    Each primitive is the lambda of its ``scalar`` spelling (the same expression
    :class:`PointCode` writes out, so the same bits), each rule the lambda of its rendered steps;
    the reverse sweep reads :func:`~slpdiff.core.schedule.sweep_schedule`. ``run`` is
    :meth:`PointCode.run`, and raises what it raises.
    """

    def __init__(self, program: Program, needs: Sequence[bool], outputs: Sequence[int]):
        self.program = program
        self.needs = needs
        self.fns = _Functions()
        fns, prims = self.fns, program.prims
        used = set(program.codes)  # a program may hold codes of primitives it does not use
        self.forward_fns = [None if code not in used or op is None else _lambda(
            fns, ("a", "b"), fns.call(op, list("ab"[:op.arity]))) for code, op in enumerate(prims)]
        self.rule_fns = [() if code not in used or op is None else tuple(
            self._rule(op, rule) for rule in rules_for(op)) for code, op in enumerate(prims)]
        self.base = [0.0 if c is None else float(c) for c in program.consts]
        self.operations = array("i", program.operations())
        self._variant_fns: dict[int, tuple] = {}  # id(schedule) -> (schedule, its variants)

    def _rule(self, op, rule: Rule):
        """A rule's partial: its constant (a float), or a function of (a, b, own)."""
        if rule.const is not None:
            return float(rule.const)
        params = ("a", "b")[:op.arity]
        expr = render(rule, param=params.__getitem__, const=literal, own=lambda: "own",
                      apply=lambda prim, operands, _j: self.fns.call(prim, operands))
        return _lambda(self.fns, ("a", "b", "own"), expr)

    def _variants(self, schedule) -> list:
        """The schedule's rules specialised at constant arguments, as :meth:`_rule` makes them
        (made once per schedule)."""
        found = self._variant_fns.get(id(schedule))
        if found is None or found[0] is not schedule:
            fns = [None] + [self._rule(rule.primitive, rule) for rule in schedule.variants[1:]]
            found = self._variant_fns[id(schedule)] = (schedule, fns)
        return found[1]

    def forward(self, inputs: Sequence[float]) -> list[float]:
        program = self.program
        V = list(self.base)
        for i, x in zip(program.input_index, inputs, strict=True):
            V[i] = x
        fns, codes, arg0, arg1 = self.forward_fns, program.codes, program.arg0, program.arg1
        for i in self.operations:
            V[i] = fns[codes[i]](V[arg0[i]], V[arg1[i]])  # arg1 is -1 for one argument: unused
        return V

    def gradient(self, V: list, output: int) -> list:
        program = self.program
        codes, arg0, arg1, rule_fns = program.codes, program.arg0, program.arg1, self.rule_fns
        schedule = sweep_schedule(program, self.needs, output)
        variant_fns = self._variants(schedule)
        G: list = [None] * len(V)
        G[output] = 1.0
        for i, k, c, first, v in zip(schedule.i, schedule.k, schedule.c, schedule.first,
                                     schedule.variant, strict=True):
            partial = variant_fns[v] if v else rule_fns[codes[i]][k]
            a = G[i]
            if partial.__class__ is float:
                term = a if partial == 1.0 else a * partial
            else:
                term = a * partial(V[arg0[i]], V[arg1[i]], V[i])
            G[c] = term if first else G[c] + term
        return G

    run = None  # set below: PointCode.run


def _lambda(fns: _Functions, params: tuple[str, ...], expr: str):
    """``lambda params: expr``, compiled in the generated functions' namespace."""
    return eval(f"lambda {', '.join(params)}: {expr}", fns.env)  # noqa: S307 - from the table


class PointCode:
    """A program's forward statements and reverse sweeps as compiled Python on floats.

    ``forward(inputs)`` returns the list of every node's value; ``gradient(V, o)`` the list of
    adjoints of the sweep from output position ``o`` (None where the sweep gives none); ``run``
    both, as :func:`slpdiff.evaluation.evaluate` wants them. May raise ``ArithmeticError`` or
    ``ValueError`` (division by zero, square root of a negative number): the engine then
    evaluates instead.
    """

    def __init__(self, program: Program, needs: Sequence[bool], outputs: Sequence[int]):
        self.program = program
        self.fns = _Functions()
        self.inputs = set(program.input_index)
        self.base = [None if c is None else float(c) for c in program.consts]
        self._uses: dict[int, list[int]] = {}  # id(rule) -> how often each step is read
        self.consts = program.consts
        was = gc.isenabled()
        gc.disable()  # compiling makes many objects: no collections meanwhile
        try:
            self.forward_blocks = self._forward()
            self.sweep_blocks = {o: self._sweep(needs, o) for o in dict.fromkeys(outputs)}
        finally:
            if was:
                gc.enable()

    def _define(self, name: str, source: str):
        """The function ``name`` of ``source``, compiled alone: a block's source and syntax tree
        are dropped as soon as it is compiled, so compiling holds one block at a time."""
        exec(compile(source, "<slpdiff fast path>", "exec"), self.fns.env)  # noqa: S102 - source
        return self.fns.env.pop(name)  # generated from the table, with no names from programs

    def value(self, block: _Block, j: int) -> str:
        const = self.consts[j]
        if const is not None:
            return literal(const)
        return f"v{j}" if j in block.defined else f"\x01{j}\x02"

    def _forward(self) -> list:
        blocks = []
        program = self.program
        ops = array("i", program.operations())
        codes, prims, args = program.codes, program.prims, program.args
        for start in range(0, len(ops), BLOCK):
            part = ops[start:start + BLOCK]
            name = f"_forward{len(blocks)}"
            block = _Block(name, "V")
            for i in part:
                call_args = [self.value(block, a) for a in args[i]]
                block.body.append(f"    v{i} = {self.fns.call(prims[codes[i]], call_args)}")
                block.defined.add(i)
            lo, hi = part[0], part[-1] + 1
            items = [f"v{j}" if codes[j] else self.value(block, j) for j in range(lo, hi)]
            tail = [f"    V[{lo}:{hi}] = ({', '.join(items)},)"]
            blocks.append(self._define(name, block.source(tail)))
        return blocks

    def _sweep(self, needs: Sequence[bool], output: int) -> list:
        schedule = sweep_schedule(self.program, needs, output)
        nodes_of = schedule.i
        blocks: list = []
        later = set(nodes_of)  # nodes whose terms are not written yet
        start = 0
        while start < len(nodes_of):
            # A block ends at a node boundary after about BLOCK nodes.
            end, nodes = start, 0
            while end < len(nodes_of) and (nodes < BLOCK or nodes_of[end] == nodes_of[end - 1]):
                if end == start or nodes_of[end] != nodes_of[end - 1]:
                    nodes += 1
                end += 1
            later.difference_update(nodes_of[start:end])
            name = f"_sweep{output}_{len(blocks)}"
            blocks.append(self._define(name, self._sweep_block(name, schedule[start:end], later)))
            start = end
        return blocks

    def _sweep_block(self, name: str, edges: list[Edge], later: set[int]) -> str:
        """The terms ``edges`` as statements. An adjoint lives in a local variable in the block;
        it is read from ``G`` if an earlier block began it, and written back to ``G`` only if a
        later block still needs it (``later``: nodes whose own terms come later) or it is an
        input's. A term equal to the parent's adjoint (a rule "1") is no statement: the child's
        adjoint is the parent's variable until something is added to it."""
        block = _Block(name, "V, G")
        inputs = self.inputs
        held: dict[int, str] = {}  # node -> the local variable holding its adjoint now

        def adjoint(j: int) -> str:
            if j not in held:
                held[j] = f"a{j}"
                block.loads.append(f"    a{j} = G[{j}]")
            return held[j]

        for e in edges:
            a = adjoint(e.i)
            rule = e.rule
            if rule.const is not None:
                term = a if rule.const == 1.0 else f"{a} * {literal(rule.const)}"
            else:
                term = f"{a} * {self._partial(block, e)}"
            if e.first and term == a:
                held[e.c] = a
            elif e.first:
                held[e.c] = f"a{e.c}"
                block.body.append(f"    a{e.c} = {term}")
            else:
                block.body.append(f"    a{e.c} = {adjoint(e.c)} + {term}")
                held[e.c] = f"a{e.c}"
        tail = [f"    G[{j}] = {held[j]}" for j in sorted(held) if j in later or j in inputs]
        return block.source(tail)

    def _partial(self, block: _Block, e: Edge) -> str:
        """The expression of the rule's result; a part read more than once is a statement."""
        args = self.program.args[e.i]
        uses = self._step_uses(e.rule)

        def apply(prim, operands: list[str], j: int) -> str:
            expr = self.fns.call(prim, operands)
            if uses[j] > 1:
                block.temps += 1
                block.body.append(f"    t{block.temps} = {expr}")
                expr = f"t{block.temps}"
            return expr

        return render(e.rule, param=lambda k: self.value(block, args[k]), const=literal,
                      own=lambda: self.value(block, e.i), apply=apply)

    def _step_uses(self, rule: Rule) -> list[int]:
        uses = self._uses.get(id(rule))
        if uses is None:
            uses = [0] * len(rule.steps)
            uses[rule.result] = 1
            for step in rule.steps:
                if step[0] == "op":
                    for a in step[2]:
                        uses[a] += 1
            self._uses[id(rule)] = uses
        return uses

    def forward(self, inputs: Sequence[float]) -> list[float]:
        V = list(self.base)
        for i, x in zip(self.program.input_index, inputs, strict=True):
            V[i] = x
        for f in self.forward_blocks:
            f(V)
        return V

    def gradient(self, V: list, output: int) -> list:
        G: list = [None] * len(V)
        G[output] = 1.0
        for f in self.sweep_blocks[output]:
            f(V, G)
        return G

    def run(self, inputs: list[float], outputs: Sequence[int], wrt: Sequence[int]):
        """(output values, one list of adjoints of the inputs ``wrt`` per output, node values)
        as float64 numbers, or None when something is not finite (the engine then says where).
        May raise ``ArithmeticError`` or ``ValueError`` (see the class)."""
        V = self.forward(inputs)
        if not floats_finite(V):
            return None
        rows = []
        for o in outputs if wrt else ():  # nothing to differentiate: no sweep
            G = self.gradient(V, o)
            row = [G[i] for i in wrt]
            if not floats_finite([0.0 if g is None else g for g in row]):
                return None
            rows.append(row)
        rows = rows or [[] for _ in outputs]
        return ([np.float64(V[o]) for o in outputs],
                [[np.float64(0.0 if g is None else g) for g in row] for row in rows],
                NodeValues(V))


def floats_finite(values) -> bool:
    """True when every float in ``values`` is finite (a sum first, one pass in C; only when it
    overflows are the values looked at one by one)."""
    return math.isfinite(sum(values)) or all(map(math.isfinite, values))


PointRun.run = PointCode.run
