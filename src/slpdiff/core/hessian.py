"""Second derivatives by forward over reverse: forward mode run through the adjoint program.

The adjoint program (:mod:`slpdiff.adjoint`) computes the gradient with ordinary statements, so
one forward-mode sweep through it, with one tangent per input, differentiates every gradient entry
in every direction at once: the Hessian. With a single tangent it gives a Hessian-vector product
without forming the matrix, at the cost of about two evaluations of the adjoint program. The
adjoint program is built once per program (and choice of inputs and outputs) and cached on it, so
repeated calls (an optimizer's Newton-CG iterations) only sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..language.program import Memo, Program
from ..limits import check_hessian
from .adjoint import AdjointProgram, adjoint_program
from .engine import as_value, fit
from .schedule import bind_inputs, resolve_names, select
from .tangent import column, refuse_rows_through_reductions, seeds_for, sweep

ADJOINT = Memo("adjoint program")


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
