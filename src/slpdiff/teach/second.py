"""The second-order sweep made visible: forward over reverse, update by update.

Forward mode run through the adjoint program differentiates every adjoint along a direction ``d``
of the inputs: the tangent of ``d y/d x`` is ``(H d)_x``, a Hessian-vector product
(``slpdiff eval --hvp``). To show it update by update the adjoint program is the unfolded one
(:mod:`slpdiff.core.unfolded`), whose statements are the reverse sweep's updates in
``slpdiff trace``'s order and whose values are the engine's adjoints bit for bit; forward mode's
sweep (:func:`slpdiff.core.tangent.sweep`) through it gives each update's tangent. The rows are
those numbers as the sweep computed them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..core.tangent import column, sweep
from ..core.unfolded import unfolded_adjoint_program
from ..language.program import Program
from .labels import Labels
from .sweeps import SecondRow, SweepTable, direction_seeds, unit_seed


def second_order_sweeps(program: Program, labels: Labels, inputs: list, wrt: Sequence[str],
                        outputs: Sequence[str], direction: Mapping[str, object] | None,
                        tangent_table: Callable) -> list:
    """For the direction (or each input in ``wrt`` alone): the tangent sweep, then for each
    output the adjoint updates with their tangents, ending with ``H d``."""
    unfolded = unfolded_adjoint_program(program, wrt, outputs)
    adjoint_program = unfolded.program
    output_node = dict(zip(adjoint_program.output_names, adjoint_program.output_index,
                           strict=True))
    original_output = dict(zip(program.output_names, program.output_index, strict=True))
    directions = [("direction", direction_seeds(program, direction), dict(direction))] \
        if direction is not None else \
        [(name, unit_seed(program, inputs, name), None) for name in wrt]
    tables = []
    for of, seeds, given in directions:
        tables.append(tangent_table(program, labels, inputs, of, seeds, list(outputs), given))
        result = sweep(adjoint_program, inputs, seeds, 1)
        values, tangents = result.values, result.tangents
        pair = _pair(values, tangents)

        for out in outputs:
            seed = unfolded.seeds[out]
            o = original_output[out]
            rows = [SecondRow(0, labels.name(o), f"{labels.adjoint(o)} = 1", None, None,
                              *pair(seed), program.lines[o], o)]
            for u in unfolded.updates:
                if u.output != out:
                    continue
                sign, product = labels.term(labels.adjoint(u.i), u.i, u.k)
                rows.append(SecondRow(len(rows), labels.name(u.c),
                                      f"{labels.adjoint(u.c)} {sign}= {product}",
                                      *pair(u.partial), *pair(u.after), program.lines[u.i],
                                      u.c, u.i, u.k))
            hvp = {x: column(tangents[output_node[name]], 0, values[output_node[name]])
                   for x, name in unfolded.derivatives[out].items()}
            tables.append(SweepTable("second", out, labels.name(o), rows, hvp,
                                     given if given is not None else {of: 1.0}))
    return tables


def _pair(values: list, tangents: list) -> Callable:
    """(value, tangent) of a node of the swept program, or of a constant (tangent 0)."""
    def pair(node):
        if isinstance(node, float):
            return np.float64(node), np.float64(0.0)
        return values[node], column(tangents[node], 0, values[node])
    return pair
