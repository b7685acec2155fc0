"""Forward-mode (tangent) propagation: one sweep forwards over the nodes, the same rules as reverse.

Seeding input ``x`` with tangent 1 (and every other input with 0) gives every node's derivative
with respect to ``x``: ``tangent[i] = sum over arguments c of partial(i, c) * tangent[c]``. The
local partials are the compiled rules of the primitive table, evaluated exactly as the reverse
sweep evaluates them. Only nodes that depend on a seeded input get any work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .engine import as_value
from .graph import Program
from .rules import rules_for


def tangent_sweep(program: Program, values: list, seed: Mapping[int, object],
                  record: Callable | None = None) -> list:
    """The tangent of every node (None: it does not depend on a seeded node).

    ``values`` is :func:`slpdiff.engine.forward`'s list; ``seed`` maps node positions (usually
    inputs) to their tangents. With ``record``, each term added is reported as it happens:
    ``record(i, k, partial, term, tangent_so_far)`` for argument ``k`` of node ``i``.
    """
    tangent: list = [None] * len(values)
    for i, t in seed.items():
        tangent[i] = as_value(t)
    args_of = program.args
    with np.errstate(all="ignore"):
        for i, node in enumerate(program.nodes):
            args = args_of[i]
            if not args or tangent[i] is not None:
                continue
            local = None
            total = None
            for k, (rule, c) in enumerate(zip(rules_for(node.op), args, strict=True)):
                t = tangent[c]
                if t is None or rule.const == 0.0:
                    continue
                if rule.const is not None:
                    partial = rule.const
                    term = t if partial == 1.0 else t * partial
                else:
                    if local is None:
                        local = [values[j] for j in args]
                    partial = rule.fn(*local, values[i])
                    term = t * partial
                total = term if total is None else total + term
                if record is not None:
                    record(i, k, partial, term, total)
            tangent[i] = total
    return tangent
