"""Second derivatives by forward over reverse: forward mode run through the adjoint program.

The adjoint program (:mod:`slpdiff.adjoint`) computes the gradient with ordinary statements, so
one forward-mode sweep through it, with one tangent per input, differentiates every gradient entry
in every direction at once: the Hessian. With a single tangent it gives a Hessian-vector product
without forming the matrix, at the cost of about two evaluations of the adjoint program. The
adjoint program is built once per program (and choice of inputs and outputs) and cached on it, so
repeated calls (an optimizer's Newton-CG iterations) only sweep.

A Hessian-vector product is also the gradient of one number, ``v . grad y``: the adjoint program
with the dot product written after it (:func:`dot_program`) is an ordinary program, so reverse
mode over it gives ``H v`` through every fast path of ``slpdiff.evaluate`` (reverse over reverse:
the same mathematics as forward over reverse, equal to rounding). ``slpdiff.hessian.hvp`` takes
that way where rows share numbers given once (:func:`slpdiff.evaluation.hvp`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..language.primitives import PRIMITIVES
from ..language.program import Memo, Program, ProgramBuilder
from ..limits import check_hessian
from .adjoint import AdjointProgram, adjoint_program
from .engine import as_value, fit
from .schedule import bind_inputs, per_row, resolve_names, select
from .tangent import column, refuse_rows_through_reductions, seeds_for, sweep

ADJOINT = Memo("adjoint program")
DOT = Memo("the adjoint program with v . grad y", keep=8)
ROWS_ONLY = Memo("numbers given once reach the outputs only through rows", keep=8)


def cached_adjoint(program: Program, wrt: Sequence[str] | None = None,
                   outputs: Sequence[str] | None = None) -> AdjointProgram:
    """The adjoint program of ``program`` for these inputs and outputs, built once."""
    chosen = select(program, wrt, outputs)
    return program.memo(ADJOINT, (chosen.wrt, chosen.outputs), lambda: adjoint_program(
        program, chosen.wrt_names, chosen.output_names))


def hessian(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
            outputs: Sequence[str] | None = None) -> dict[str, dict[str, dict[str, object]]]:
    """The Hessian of each output (or of those in ``outputs``) with respect to the inputs (or
    those in ``wrt``): ``result[out][x][w]`` is the second derivative in ``x`` and ``w``.

    Symmetric to rounding. At array points each entry is an array, one Hessian per row; an entry
    in two scalar inputs given with array inputs is summed over the rows, as gradients are.
    """
    check_hessian(len(program.output_names if outputs is None else outputs),
                  len(program.input_names if wrt is None else wrt))
    adj = cached_adjoint(program, wrt, outputs)
    inputs = [as_value(x) for x in bind_inputs(program, at)]
    wrt_k = resolve_names(adj.wrt, program.input_names, "input")
    result = sweep(adj.program, inputs, seeds_for(adj.program, inputs, wrt_k), len(wrt_k))
    refuse_rows_through_reductions(program, result, inputs, wrt_k)
    position = {name: i for i, name in zip(adj.program.output_index, adj.program.output_names,
                                           strict=True)}
    out = {}
    for name in adj.outputs:
        rows = out[name] = {}
        for x, k in zip(adj.wrt, wrt_k, strict=True):
            t = result.tangents[position[adj.derivatives[name][x]]]
            rows[x] = {w: _fit_pair(column(t, j, result.values[position[name]]), inputs[k],
                                    inputs[m])
                       for j, (w, m) in enumerate(zip(adj.wrt, wrt_k, strict=True))}
    return out


def hvp(program: Program, at: Mapping[str, object], direction: Mapping[str, object],
        wrt: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None) -> dict[str, dict[str, object]]:
    """The Hessian-vector product ``H v`` of each output, ``v`` given by ``direction`` (input
    name -> component; inputs not named are 0): ``result[out][x] = sum over w of H[x][w] v[w]``,
    in one forward sweep through the adjoint program."""
    adj = cached_adjoint(program, wrt, outputs)
    inputs = [as_value(x) for x in bind_inputs(program, at)]
    check_vector(direction, program, adj.wrt)
    input_node = dict(zip(program.input_names, program.input_index, strict=True))
    seeds = {input_node[name]: np.asarray(as_value(v))[..., None]
             for name, v in direction.items()}
    result = sweep(adj.program, inputs, seeds, 1)
    wrt_k = resolve_names(adj.wrt, program.input_names, "input")
    refuse_rows_through_reductions(program, result, inputs, wrt_k)
    position = {name: i for i, name in zip(adj.program.output_index, adj.program.output_names,
                                           strict=True)}
    # Each entry has its input's shape, as the gradient does: a scalar input's is summed over rows.
    return {name: {x: fit(column(result.tangents[position[adj.derivatives[name][x]]], 0,
                                 result.values[position[name]]), inputs[k])[()]
                   for x, k in zip(adj.wrt, wrt_k, strict=True)}
            for name in adj.outputs}


def check_vector(direction: Mapping[str, object], program: Program,
                 differentiated: Sequence[str]) -> None:
    """Raise :class:`InputError` unless every name of ``direction`` (the vector of a
    Hessian-vector product) is one of the inputs ``differentiated``."""
    resolve_names(list(direction), program.input_names, "input")
    known = set(differentiated)
    outside = [name for name in direction if name not in known]
    if outside:
        raise InputError(f"'{outside[0]}' is not among the inputs differentiated "
                         f"({', '.join(differentiated) or 'none'}): the vector of a "
                         "Hessian-vector product has a component for each of those only")


def _fit_pair(h, a, b):
    """An entry summed down to the shape of its two inputs together (scalar with scalar: one
    number, even at array points, as the gradient of a scalar input is)."""
    if not (np.ndim(h) or np.ndim(a) or np.ndim(b)):
        return h
    return fit(h, np.zeros(np.broadcast_shapes(np.shape(a), np.shape(b))))[()]


@dataclass(frozen=True)
class DotProgram:
    """:func:`dot_program`'s result: ``program`` has the inputs of the original, then one input
    per input differentiated (``vector[x]``, the component of ``v`` along ``x``), and one output
    per output ``y`` of the original (``dots[y]``: ``v . grad y``)."""

    program: Program
    wrt: list[str]  # the inputs differentiated, in program order
    vector: dict[str, str]  # input differentiated -> the name of its component's input
    dots: dict[str, str]  # output of the original -> the name of its dot product


def dot_name(kind: str, name: str) -> str:
    """The name of a component of ``v`` or of a dot product in a :func:`dot_program` (``%``
    keeps it apart from every name a program can have)."""
    return f"%{kind}:{name}"


def dot_program(program: Program, wrt: Sequence[str] | None = None,
                outputs: Sequence[str] | None = None) -> DotProgram:
    """The adjoint program of ``program`` (for the inputs ``wrt`` and the outputs ``outputs``),
    followed by ``v . grad y = v_1 * d_y_d_x1 + v_2 * d_y_d_x2 + ...`` for each output ``y``,
    the components of ``v`` inputs of their own: its gradient in the inputs differentiated is
    ``H v``. Built once per program and choice of inputs and outputs."""
    adj = cached_adjoint(program, wrt, outputs)

    def make() -> DotProgram:
        a = adj.program
        tape = ProgramBuilder()
        tape.copy(a)
        vector = {x: dot_name("v", x) for x in adj.wrt}
        components = {x: tape.leaf(vector[x]) for x in adj.wrt}
        node = dict(zip(a.output_names, a.output_index, strict=True))
        dots, ends = {}, []
        for y in adj.outputs:
            total = None
            for x in adj.wrt:
                term = tape.apply(_MULTIPLY, (components[x], node[adj.derivatives[y][x]]))
                total = term if total is None else tape.apply(_ADD, (total, term))
            if total is None:  # no input differentiated: the dot product is 0
                total = tape.const(0.0)
            dots[y] = dot_name("dot", y)
            ends.append(total)
        original = len(program.input_names)
        built = tape.build([*a.input_index[:original], *components.values()], ends,
                           [*a.input_names[:original], *vector.values()], list(dots.values()),
                           a.source)
        return DotProgram(built, list(adj.wrt), vector, dots)

    return program.memo(DOT, (tuple(adj.wrt), tuple(adj.outputs)), make)


_MULTIPLY, _ADD = PRIMITIVES["multiply"], PRIMITIVES["add"]


def through_rows_only(program: Program, columns: Sequence[bool], wrt: Sequence[int]) -> bool:
    """Do the inputs at node positions ``wrt`` (numbers given once, with the inputs that are
    columns where ``columns`` says so) enter the program only through columns: is every operation
    computed from them without a reduction between (``sum``, ``mean``, ...) one value per row?

    Then the adjoint program's derivative in such an input, evaluated on the rows, is a column
    whose sum over the rows is the derivative, and so is the dot product's of
    :func:`dot_program`; not where an input also reaches an output through a number computed from
    it directly (``a^2 * b`` beside a sum over the rows: that term would be added on every row)."""
    def make() -> bool:
        row = per_row(program, columns)
        direct = bytearray(len(program))
        for i in wrt:
            direct[i] = 1
        ops, args = program.ops, program.args
        for i in program.operations():
            if not ops[i].reduces and any(direct[a] for a in args[i]):
                if not row[i]:
                    return False
                direct[i] = 1
        return True

    return program.memo(ROWS_ONLY, (tuple(columns), tuple(wrt)), make)
