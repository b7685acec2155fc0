"""Forward (tangent) mode: derivatives carried forwards with the values, in one sweep.

Each node's tangent is the sum over its arguments of the table's partial derivative (the same
compiled rules the reverse sweep uses) times the argument's tangent. Tangents carry a last axis of
length ``p``, one column per direction, so one sweep gives the derivatives along ``p`` directions
at once: with one direction per input it is the whole Jacobian, with one direction it is a
Jacobian-vector product. A node's tangent has the node's shape plus that axis (a scalar node's is
``(p,)``); a node whose value is smaller than its arguments' (a reduction) sums its tangent down.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..language.program import Program
from ..limits import check_sweep
from .engine import Evaluation, all_finite, as_value, fit, warnings_for
from .schedule import bind_inputs, plan, reaches, resolve_names, select


@dataclass
class TangentSweep:
    """Values and tangents of every node (a tangent is None where no direction reaches)."""

    values: list
    tangents: list
    reduced: bool  # did some node sum its arguments' rows (so rows were not independent)?
    first_bad: tuple | None = None  # (position, argument, partial): first non-finite partial


def sweep(program: Program, inputs: Sequence, seeds: Mapping[int, object], p: int,
          check: Sequence[bool] | None = None, record: Callable | None = None) -> TangentSweep:
    """Evaluate ``program`` and propagate tangents forwards.

    ``inputs`` are the inputs' values in program order; ``seeds`` maps an input's position in
    the program to its tangent (shape: the input's shape plus ``(p,)``, or broadcastable).
    With ``check`` (a per-node mask), also finds the first non-finite partial derivative among the
    masked nodes. With ``record``, each term added to a tangent is reported as it happens:
    ``record(i, k, partial, term, tangent_so_far)`` for argument ``k`` of node ``i`` (traces read
    the sweep's own numbers this way; without a recorder the sweep pays one test per term).
    """
    check_sweep(len(program), p, "forward mode carries one tangent per input")
    layout = plan(program)
    values = list(layout.constants)
    tangents: list = [None] * len(values)
    for i, x in zip(program.input_index, inputs, strict=True):
        values[i] = as_value(x)
    for i, seed in seeds.items():
        tangents[i] = np.asarray(seed, dtype=np.float64)
    result = TangentSweep(values, tangents, False)
    # Only arrays can be reduced to something smaller; at a point, skip the shape check.
    arrays = any(np.ndim(values[i]) for i in program.input_index)
    with np.errstate(all="ignore"):
        for i, impl, args in layout.steps:
            local = [values[a] for a in args]
            out = values[i] = impl(*local)
            t = None
            rules = layout.rules_at(i, args)
            for k, (rule, c) in enumerate(zip(rules, args, strict=True)):
                tc = tangents[c]
                if tc is None:
                    continue
                if rule.const is not None:
                    if rule.const == 0.0:
                        continue
                    g = tc if rule.const == 1.0 else tc * rule.const
                else:
                    partial = rule.fn(*local, out)
                    if check is not None and check[i] and result.first_bad is None \
                            and not all_finite(partial):
                        result.first_bad = (i, k, partial)
                    g = tc * (partial[..., None] if np.ndim(partial) else partial)
                t = g if t is None else t + g
                if record is not None:
                    record(i, k, partial if rule.const is None else rule.const, g, t)
            if arrays and t is not None and np.ndim(out) < max(np.ndim(v) for v in local):
                t = _sum_rows(t, np.shape(out), local, tangents, args, rules, out, p)
                result.reduced = True
            tangents[i] = t
    return result


def _sum_rows(t, shape, local, tangents, args, rules, out, p):
    """The tangent of a reduction: the arguments' tangents taken at full size, summed down."""
    total = None
    for rule, c, value in zip(rules, args, local, strict=True):
        tc = tangents[c]
        if tc is None or rule.const == 0.0:
            continue
        tc = np.broadcast_to(tc, np.broadcast_shapes(np.shape(value) + (p,), np.shape(tc)))
        partial = rule.const if rule.const is not None else rule.fn(*local, out)
        g = tc * (partial[..., None] if np.ndim(partial) else partial)
        total = g if total is None else total + g
    extra = np.ndim(total) - 1 - len(shape)
    return np.sum(total, axis=tuple(range(extra))).reshape(shape + (p,)) if extra > 0 else total


def seeds_for(program: Program, inputs: list, positions: Sequence[int]) -> dict[int, np.ndarray]:
    """One direction per chosen input (``positions``: input numbers): column j of the tangent is 1
    for the j-th input."""
    p = len(positions)
    check_sweep(len(program), p, "forward mode carries one tangent per input")  # p x p
    seeds = {}
    for j, k in enumerate(positions):
        seed = np.zeros(np.shape(inputs[k]) + (p,))
        seed[..., j] = 1.0
        seeds[program.input_index[k]] = seed
    return seeds


def column(t, j: int, like):
    """Column ``j`` of a tangent, as a float64 scalar or array shaped like ``like``."""
    if t is None:
        return np.zeros_like(like)[()]
    col = np.asarray(t)[..., j]
    if col.ndim == 0 and np.ndim(like) == 0:
        return col[()]  # at a point: a float64 scalar
    return np.broadcast_to(col, np.broadcast_shapes(np.shape(col), np.shape(like))).copy()[()]


def evaluate_forward(program: Program, at: Mapping[str, object],
                     wrt: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
                     derivatives: bool = True) -> Evaluation:
    """Like :func:`slpdiff.evaluate`, with the partial derivatives by forward mode: one sweep
    carrying one tangent per input in ``wrt``. The results equal reverse mode's to rounding
    (for a scalar input given with array inputs, summed over the rows as reverse mode does)."""
    inputs = [as_value(x) for x in bind_inputs(program, at)]
    chosen = select(program, wrt, outputs)
    wrt_k = chosen.wrt
    seeds = seeds_for(program, inputs, wrt_k) if derivatives else {}
    result = sweep(program, inputs, seeds, len(wrt_k))
    out_index, out_names = chosen.output_nodes, chosen.output_names
    values = result.values
    refuse_rows_through_reductions(program, result, inputs, wrt_k)
    ev = Evaluation(program, {name: values[i] for name, i in
                              zip(program.input_names, program.input_index, strict=True)},
                    {name: values[o] for name, o in zip(out_names, out_index, strict=True)}, {},
                    node_values=values)
    if derivatives:
        for name, o in zip(out_names, out_index, strict=True):
            ev.gradient[name] = {
                program.input_names[k]: fit(column(result.tangents[o], j, values[o]),
                                            inputs[k])[()]
                for j, k in enumerate(wrt_k)}
    bad = None
    if any(not all_finite(g) for row in ev.gradient.values() for g in row.values()):
        bad = sweep(program, inputs, seeds, len(wrt_k), reaches(program, out_index)).first_bad
    ev.warnings = warnings_for(program, values, out_index, bad)
    return ev


def refuse_rows_through_reductions(program: Program, result: TangentSweep, inputs: list,
                                   wrt_k: Sequence[int]) -> None:
    """Raise :class:`InputError` if a sweep moved all rows of an array input at once through an
    operation that combines rows: the tangents after it are summed over the rows, not each row's
    own. The table's reductions are handled per row above this layer (:mod:`slpdiff.core.rows`,
    behind ``slpdiff.evaluate_forward``, ``slpdiff.jvp`` and ``slpdiff.hessian``); an operation
    with Python rules that combines rows is not."""
    if not (result.reduced and any(np.size(inputs[k]) > 1 for k in wrt_k)):
        return
    if any(op is not None and op.reduces for op in program.ops):
        raise InputError("this program combines rows (sum, mean, maxrows, ...): each row's own "
                         "derivatives come from slpdiff.evaluate_forward, slpdiff.jvp and "
                         "slpdiff.hessian, not from slpdiff.core.tangent or slpdiff.core.hessian "
                         "directly")
    raise InputError("an operation with Python rules combines the rows of an array input: "
                     "each row's own derivatives through it are not defined (give one point at "
                     "a time)")


def jvp(program: Program, at: Mapping[str, object], direction: Mapping[str, object],
        outputs: Sequence[str] | None = None) -> tuple[dict, dict]:
    """Values and directional derivatives (a Jacobian-vector product) in one forward sweep.

    ``direction`` maps input names to their component (missing inputs: 0). Returns
    ``(values, derivatives)``, both dicts by output name.
    """
    inputs = [as_value(x) for x in bind_inputs(program, at)]
    positions = resolve_names(list(direction), program.input_names, "input")
    seeds = {program.input_index[k]: np.asarray(as_value(direction[name]))[..., None]
             for k, name in zip(positions, direction, strict=True)}
    result = sweep(program, inputs, seeds, 1)
    chosen = select(program, (), outputs)
    values, derivs = {}, {}
    for name, o in zip(chosen.output_names, chosen.output_nodes, strict=True):
        values[name] = result.values[o]
        derivs[name] = column(result.tangents[o], 0, result.values[o])
    return values, derivs
