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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import InputError, quoted_names
from ..language.primitives import CONSTANTS
from ..language.program import Memo, Program
from ..language.rules import Rule, rules_for

PLAN = Memo("plan")
DEPENDS = Memo("depends on inputs")
REACHES = Memo("reaches outputs")
SCHEDULE = Memo("reverse-sweep schedule")
SUPPORTED = Memo("every rule has steps")


@dataclass
class Plan:
    """A program laid out for the engine's loops."""

    constants: list  # per node: its value (float64) if it is a constant, else None
    steps: list  # (position, numpy function, argument positions) for each operation, in order
    rules: list  # per node: its compiled derivative rules (empty for leaves)


def plan(program: Program) -> Plan:
    """The program's evaluation plan (made once)."""
    def make() -> Plan:
        ops, args = program.ops, program.args
        constants = [None if c is None else np.float64(c) for c in program.consts]
        steps, rules = [], []
        for i, op in enumerate(ops):
            if op is not None:
                steps.append((i, op.impl, args[i]))
                rules.append(rules_for(op))
            else:
                rules.append(())
        return Plan(constants, steps, rules)

    return program.memo(PLAN, None, make)


def depends(program: Program, wrt: Sequence[int] | None) -> list[bool]:
    """Per node: does it depend on one of the input nodes at positions ``wrt`` (all if None)?"""
    def make() -> list[bool]:
        needs = [False] * len(program)
        for i in (program.input_index if wrt is None else wrt):
            needs[i] = True
        for i, args in enumerate(program.args):
            if args and any(needs[a] for a in args):
                needs[i] = True
        return needs

    return program.memo(DEPENDS, None if wrt is None else tuple(sorted(wrt)), make)


def reaches(program: Program, outputs: Sequence[int]) -> list[bool]:
    """Per node: is some node in ``outputs`` (positions) computed from it?"""
    def make() -> list[bool]:
        reach = [False] * len(program)
        for i in outputs:
            reach[i] = True
        args = program.args
        for i in range(len(reach) - 1, -1, -1):
            if reach[i]:
                for a in args[i]:
                    reach[a] = True
        return reach

    return program.memo(REACHES, tuple(outputs), make)


def per_row(program: Program, columns: Sequence[bool]) -> list[bool]:
    """Per node: is its value a column (one number per row)? ``columns`` says, per input (in
    ``program.input_index`` order), whether it is given as a column. A reduction (``sum``,
    ``mean``) is one number; anything computed from a column without a reduction is a column."""
    row = [False] * len(program)
    for i, is_column in zip(program.input_index, columns, strict=True):
        row[i] = bool(is_column)
    ops, args = program.ops, program.args
    for i, op in enumerate(ops):
        if op is not None:
            row[i] = not op.reduces and any(row[a] for a in args[i])
    return row


def supported(program: Program) -> bool:
    """Can the fast paths and the adjoint program handle this program? (Not seed-style Vars whose
    rules are Python callables, which have no steps to render.)"""
    return program.memo(SUPPORTED, None, lambda: all(
        op is None or op.kind != "custom" for op in program.ops))


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
    has = bytearray(output + 1)
    has[output] = 1
    args_of = program.args
    rules = plan(program).rules
    for i in range(output, -1, -1):
        args = args_of[i]
        if not has[i] or not args:
            continue
        for k, c in enumerate(args):
            if not needs[c]:
                continue
            rule = rules[i][k]
            if rule.const == 0.0:
                continue
            yield Edge(i, k, c, rule, not has[c])
            has[c] = 1


def sweep_schedule(program: Program, needs: Sequence[bool], output: int) -> list[Edge]:
    """:func:`sweep_terms` as a list, made once per program, choice of inputs and output."""
    return program.memo(SCHEDULE, (tuple(needs), output),
                        lambda: list(sweep_terms(program, needs, output)))


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
