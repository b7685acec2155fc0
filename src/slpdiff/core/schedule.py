"""Facts about a program that every evaluator shares, and the ONE order of the reverse sweep.

Nothing here computes a value of the program. What is here:

- :func:`plan`: the program laid out for evaluation (each operation's numpy function, arguments
  and compiled derivative rules);
- :func:`depends`, :func:`reaches`, :func:`per_row`: per-node masks (does it depend on a chosen
  input, does it reach a chosen output, is it a column of rows);
- :func:`sweep_terms`: the terms of the reverse sweep, in order. The reference engine
  (:mod:`slpdiff.core.engine`) runs them as it goes; the fast paths and the adjoint program's
  builder read the same terms from :func:`sweep_schedule`. So every evaluator adds the same terms
  in the same order, by construction: that is what makes their results equal bit for bit;
- :func:`select`, :func:`bind_inputs`, :func:`resolve_names`: which inputs and outputs a call is
  about, by name, with the errors a user sees for a wrong name.

Each fact is computed once per program (and choice of inputs or outputs) and kept with it
(:meth:`~slpdiff.language.program.Program.memo`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import NamedTuple

import numpy as np

from ..errors import InputError, quoted_names
from ..language.primitives import CONSTANTS
from ..language.program import Memo, Program
from ..language.rules import Rule, rules_for, specialise

PLAN = Memo("plan")
DEPENDS = Memo("depends on inputs")
REACHES = Memo("reaches outputs")
SCHEDULE = Memo("reverse-sweep schedule")
SUPPORTED = Memo("every rule has steps")
DISTINCT = Memo("no input named twice")


@dataclass
class Plan:
    """A program laid out for the engine's loops: what the engine needs per primitive, looked up
    by the tape's codes (no object per node but the constants' values)."""

    program: Program
    constants: list  # per node: its value (float64) if it is a constant, else None
    impls: list  # per code of the tape: the primitive's numpy function (None for leaves)
    code_rules: list  # per code: the primitive's compiled derivative rules (() for leaves)

    @property
    def steps(self) -> Iterator[tuple]:
        """(position, numpy function, argument positions) for each operation, in order."""
        program, impls = self.program, self.impls
        codes, arity, arg0, arg1 = program.codes, program.arity, program.arg0, program.arg1
        for i in program.operations():
            code = codes[i]
            n = arity[code]
            yield i, impls[code], ((arg0[i], arg1[i]) if n == 2 else (arg0[i],) if n == 1
                                   else program.more[i])

    def rules_at(self, i: int, args: Sequence[int]) -> tuple[Rule, ...]:
        """Node ``i``'s rules, specialised at those of its arguments (positions ``args``) that are
        constants of the program (:func:`~slpdiff.language.rules.specialise`: the same numbers
        with fewer operations), as the reverse sweep's terms carry them."""
        rules = self.code_rules[self.program.codes[i]]
        known = constant_arguments(self.constants, args)
        return rules if known is None else tuple(specialise(rule, known) for rule in rules)

    @property
    def rules(self) -> _NodeRules:
        """``rules[i]``: node ``i``'s compiled derivative rules, one per argument."""
        return _NodeRules(self.program.codes, self.code_rules)


class _NodeRules:
    def __init__(self, codes, code_rules):
        self._codes, self._code_rules = codes, code_rules

    def __getitem__(self, i: int) -> tuple[Rule, ...]:
        return self._code_rules[self._codes[i]]

    def __len__(self) -> int:
        return len(self._codes)


def plan(program: Program) -> Plan:
    """The program's evaluation plan (made once)."""
    def make() -> Plan:
        pool = program.pool
        constants = [None] * len(program)
        for i in compress(range(len(program)), map(_is_const_slot, program.codes,
                                                    program.arg0)):
            constants[i] = np.float64(pool[program.arg0[i]])
        prims = program.prims
        return Plan(program, constants, [None if op is None else op.impl for op in prims],
                    [() if op is None else rules_for(op) for op in prims])

    return program.memo(PLAN, None, make)


def constant_arguments(constants: list, args: Sequence[int]) -> tuple[float | None, ...] | None:
    """Per argument (positions ``args``), its value if it is a constant of the program (from
    :attr:`Plan.constants`), else None; None when none is, or there is one argument (a function
    of a constant alone gets no term)."""
    if len(args) < 2 or constants[args[0]] is None and constants[args[1]] is None and all(
            constants[c] is None for c in args[2:]):
        return None
    return tuple(None if constants[c] is None else float(constants[c]) for c in args)


def _is_const_slot(code: int, arg0: int) -> bool:
    return code == 0 and arg0 >= 0


def depends(program: Program, wrt: Sequence[int] | None) -> bytes:
    """Per node: does it depend on one of the input nodes at positions ``wrt`` (all if None)?
    (1 or 0 per node: bytes are small, and hash once as a key.)"""
    def make() -> bytes:
        needs = bytearray(len(program))
        for i in (program.input_index if wrt is None else wrt):
            needs[i] = 1
        arity, more = program.arity, program.more
        for i, code, a, b in zip(range(len(needs)), program.codes, program.arg0, program.arg1,
                                 strict=True):
            if code:
                n = arity[code]
                if needs[a] or n > 1 and needs[b] or n > 2 and any(needs[c] for c in more[i]):
                    needs[i] = 1
        return bytes(needs)

    return program.memo(DEPENDS, None if wrt is None else tuple(sorted(wrt)), make)


def reaches(program: Program, outputs: Sequence[int]) -> bytes:
    """Per node: is some node in ``outputs`` (positions) computed from it? (1 or 0 per node.)"""
    def make() -> bytes:
        reach = bytearray(len(program))
        for i in outputs:
            reach[i] = 1
        codes, arg0, arg1, arity = program.codes, program.arg0, program.arg1, program.arity
        for i in range(len(reach) - 1, -1, -1):
            if reach[i] and codes[i]:
                n = arity[codes[i]]
                reach[arg0[i]] = 1
                if n == 2:
                    reach[arg1[i]] = 1
                elif n > 2:
                    for a in program.more[i]:
                        reach[a] = 1
        return bytes(reach)

    return program.memo(REACHES, tuple(outputs), make)


def per_row(program: Program, columns: Sequence[bool]) -> list[bool]:
    """Per node: is its value a column (one number per row)? ``columns`` says, per input (in
    ``program.input_index`` order), whether it is given as a column. A reduction (``sum``,
    ``mean``) is one number; anything computed from a column without a reduction is a column."""
    row = [False] * len(program)
    for i, is_column in zip(program.input_index, columns, strict=True):
        row[i] = bool(is_column)
    ops, args = program.ops, program.args
    for i in program.operations():
        row[i] = not ops[i].reduces and any(row[a] for a in args[i])
    return row


def supported(program: Program) -> bool:
    """Can the fast paths and the adjoint program handle this program? (Not seed-style Vars whose
    rules are Python callables, which have no steps to render.)"""
    return program.memo(SUPPORTED, None, lambda: all(
        op is None or op.kind != "custom" for op in program.prims))


# --- the reverse sweep's order ---------------------------------------------------------------


class Edge(NamedTuple):
    """One term of the reverse sweep: node ``i``'s adjoint times the partial derivative of ``i``
    in its argument number ``k`` (the child at position ``c``), added to ``c``'s adjoint."""

    i: int
    k: int
    c: int
    rule: Rule
    first: bool  # the first term added to c's adjoint (it is assigned, not added)


def sweep_terms(program: Program, needs: Sequence[bool], output: int) -> Iterator[Edge]:
    """The terms of the reverse sweep from the node at position ``output``, in the one order
    every evaluator uses: nodes from ``output`` down, each node's arguments in order; a node that
    no term has reached yet has no adjoint and passes nothing down; an argument that does not
    depend on a chosen input (``needs``) or whose rule is the constant 0 gets no term."""
    return iter(Schedule(program, needs, output))


class Schedule(Sequence):
    """The terms of the reverse sweep (:func:`sweep_terms`), as arrays: term ``t`` adds node
    ``i[t]``'s adjoint times the partial derivative in its argument number ``k[t]`` to the adjoint
    of node ``c[t]`` (``first[t]``: the first term to reach it). 14 bytes a term; reading a term
    makes an :class:`Edge`."""

    def __init__(self, program: Program, needs: Sequence[bool], output: int):
        self._codes = codes = program.codes
        self._code_rules = code_rules = plan(program).code_rules
        # Which arguments of each primitive get terms: not those whose rule is the constant 0.
        live = [tuple(rule.const != 0.0 for rule in rules) for rules in code_rules]
        arity, arg0, arg1 = program.arity, program.arg0, program.arg1
        constants = plan(program).constants
        self.i, self.k, self.c = array("i"), array("i"), array("i")
        self.first = bytearray()
        # Per term: 0, or the number in ``variants`` of its rule specialised at the node's
        # constant arguments (rules.specialise): the one place where evaluators learn of it.
        self.variant = bytearray()
        self.variants: list[Rule | None] = [None]
        memo: dict[tuple, tuple[int, ...]] = {}  # (code, constants) -> numbers per argument
        self._numbered: dict[int, int] = {}  # id(specialised rule) -> its number in variants
        no_variants = (0,) * max([3, *map(len, code_rules)])
        add_i, add_k, add_c, add_first, add_variant = (
            self.i.append, self.k.append, self.c.append, self.first.append, self.variant.append)
        has = bytearray(output + 1)
        has[output] = 1
        for i in range(output, -1, -1):
            if not has[i] or not codes[i]:
                continue
            code = codes[i]
            n = arity[code]
            args = (arg0[i], arg1[i]) if n == 2 else (arg0[i],) if n == 1 else program.more[i]
            if n == 2:
                x, y = constants[args[0]], constants[args[1]]
                numbers = no_variants if x is None and y is None else self._numbers(
                    code, (x, y), memo)
            else:
                numbers = no_variants if n == 1 else self._numbers(
                    code, tuple(constants[c] for c in args), memo)
            for k, c in enumerate(args):
                if needs[c] and live[code][k]:
                    add_i(i)
                    add_k(k)
                    add_c(c)
                    add_first(not has[c])
                    has[c] = 1
                    add_variant(numbers[k])

    def _numbers(self, code: int, values: tuple, memo: dict) -> tuple[int, ...]:
        """Per argument, the number in ``variants`` of the rule specialised at the constants
        ``values`` (None: not a constant; 0: the primitive's own rule). Looked up once per
        (code, constants), unless a constant is a zero or NaN (as a key, 0.0 equals -0.0 and NaN
        equals nothing)."""
        key = (code, values)
        found = memo.get(key)
        if found is None:
            known = tuple(None if x is None else float(x) for x in values)
            found = tuple(self._number(specialise(rule, known), rule)
                          for rule in self._code_rules[code])
            if all(x is None or x == x and x != 0.0 for x in known):
                memo[key] = found
        return found

    def _number(self, rule: Rule, generic: Rule) -> int:
        """``rule``'s number in ``variants`` (0: the primitive's own rule, or too many)."""
        if rule is generic:
            return 0
        found = self._numbered.get(id(rule))
        if found is None:
            if len(self.variants) > 255:  # a byte a term: beyond, the unspecialised rule
                return 0          # (the same numbers, with more operations)
            found = self._numbered[id(rule)] = len(self.variants)
            self.variants.append(rule)
        return found

    def __len__(self) -> int:
        return len(self.i)

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[u] for u in range(*t.indices(len(self)))]
        i, k, v = self.i[t], self.k[t], self.variant[t]
        rule = self.variants[v] if v else self._code_rules[self._codes[i]][k]
        return Edge(i, k, self.c[t], rule, bool(self.first[t]))

    def __iter__(self) -> Iterator[Edge]:
        codes, code_rules, variants = self._codes, self._code_rules, self.variants
        for i, k, c, first, v in zip(self.i, self.k, self.c, self.first, self.variant,
                                     strict=True):
            yield Edge(i, k, c, variants[v] if v else code_rules[codes[i]][k], bool(first))


def sweep_schedule(program: Program, needs: Sequence[bool], output: int) -> Schedule:
    """:func:`sweep_terms` kept as a :class:`Schedule`, made once per program, choice of inputs
    and output."""
    return program.memo(SCHEDULE, (bytes(needs), output),
                        lambda: Schedule(program, needs, output))


# --- which inputs and outputs ----------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The inputs a call differentiates with respect to and the outputs it is about: numbers into
    ``program.input_names``/``output_names`` (inputs in program order, outputs as asked)."""

    program: Program
    wrt: tuple[int, ...]
    outputs: tuple[int, ...]

    @property
    def wrt_nodes(self) -> list[int]:
        """The chosen inputs' node positions."""
        return [self.program.input_index[k] for k in self.wrt]

    @property
    def wrt_names(self) -> list[str]:
        return [self.program.input_names[k] for k in self.wrt]

    @property
    def output_nodes(self) -> list[int]:
        """The chosen outputs' node positions."""
        return [self.program.output_index[k] for k in self.outputs]

    @property
    def output_names(self) -> list[str]:
        return [self.program.output_names[k] for k in self.outputs]


def select(program: Program, wrt: Sequence[str] | None = None,
           outputs: Sequence[str] | None = None) -> Selection:
    """The inputs named in ``wrt`` (default all; results come in program order) and the outputs
    named in ``outputs`` (default all). A name that is not an input or output raises
    :class:`InputError` listing the right ones."""
    wrt_k = sorted(resolve_names(program.input_names if wrt is None else wrt,
                                 program.input_names, "input"))
    out_k = resolve_names(program.output_names if outputs is None else outputs,
                          program.output_names, "output")
    return Selection(program, tuple(wrt_k), tuple(out_k))


def resolve_names(names: Sequence[str], known: Sequence[str], what: str) -> list[int]:
    """Positions in ``known`` of ``names``; unknown names raise :class:`InputError`."""
    position: dict[str, int] = {}
    for k, name in enumerate(known):  # a dict, not list.index: linear in the number of names
        position.setdefault(name, k)
    unknown = [name for name in names if name not in position]
    if unknown:
        raise InputError(not_known_message(unknown, known, what))
    return [position[name] for name in names]


def not_known_message(unknown: Sequence[str], known: Sequence[str], what: str = "input") -> str:
    """``'z' is not an input ...``, ``'y' and 'z' are not inputs ...``; ``e`` and ``pi`` are
    said to be the language's constants, with their values (a user may take them for inputs)."""
    others = [n for n in unknown if n not in CONSTANTS]
    parts = []
    if others:
        verb = f"is not an {what}" if len(others) == 1 else f"are not {what}s"
        parts.append(f"{quoted_names(others)} {verb} of the program")
    parts += [f"'{n}' is a constant of the language ({n} = {CONSTANTS[n]!r}), not an {what}"
              for n in dict.fromkeys(unknown) if n in CONSTANTS]
    return f"{'; '.join(parts)}; the program's {what}s are: {_names_list(known)}"


def bind_inputs(program: Program, at: Mapping[str, object]) -> list:
    """The inputs' values in program order, from a name -> value mapping.

    A missing input or a name that is not an input raises :class:`InputError` listing the inputs.
    """
    names = program.input_names
    if len(at) == len(names):  # the usual call: every input once, nothing else
        try:
            values = [at[name] for name in names]
        except KeyError:
            pass
        else:
            if program.memo(DISTINCT, None, lambda: len(set(names)) == len(names)):
                return values
    known = set(names)  # a set: a program may have 100,000 inputs
    unknown = [name for name in at if name not in known]
    if unknown:
        raise InputError(not_known_message(unknown, names))
    missing = [name for name in names if name not in at]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"no value{plural} for input{plural} {quoted_names(missing)}; the "
                         f"program's inputs are: {_names_list(names)} (give them with --at "
                         "NAME=VALUE)")
    return [at[name] for name in names]


def _names_list(names: Sequence[str], shown: int = 50) -> str:
    if len(names) > shown:
        return f"{', '.join(names[:shown])} and {len(names) - shown:,} more"
    return ", ".join(names) or "(none)"
