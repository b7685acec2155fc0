"""What each evaluator costs, and the choice of the cheapest for the evaluations still to come.

Every evaluator gives the same numbers (:mod:`slpdiff.evaluation`), so the choice is about time
only. Each path has a cost paid once per program (compiling it, or preparing the interpreter's
functions and lists) and a cost per evaluation; both are estimated from the program's size and
the number of rows with the constants below, measured by ``benchmarks/policy.py`` (which prints
them again on the machine it runs on, and checks that the choice is the faster path).

How many evaluations are still to come is known when a caller says so (an optimizer's step
limit: :func:`slpdiff.evaluation.expect`); otherwise as many as have been done already, this
one included: a path that costs more to prepare is taken once the work done on the program would
have paid for it, which never costs more than about twice the best choice made knowing the
future.
"""

from __future__ import annotations

import math
from collections.abc import Collection

# Programs' sizes (nodes) at which the per-node costs below were measured (W2 random DAGs, a
# quiet machine, 2026-12-03); between them a cost is interpolated in log(size), outside them the
# nearest is used. The interpreter and the compiled code slow down per node as their lists and
# functions leave the caches.
SIZES = (1e3, 1e4, 1e5, 1e6)
# Seconds per node at a point: one evaluation by the reference engine, by the interpreter
# (``fast.point.PointRun``) and by compiled code (``fast.point.PointCode``); what the interpreter's
# first evaluation adds (building its lists) and what compiling costs.
ENGINE = (6.9e-6, 6.8e-6, 7.2e-6, 8.9e-6)
INTERPRETED = (0.79e-6, 0.80e-6, 1.19e-6, 1.43e-6)
INTERPRETER_SETUP = (1.06e-6, 0.95e-6, 1.11e-6, 1.16e-6)
COMPILED = (0.43e-6, 0.47e-6, 0.48e-6, 0.80e-6)
COMPILE = (42e-6, 44.5e-6, 51.9e-6, 55.8e-6)
ENGINE_CALL = 90e-6  # seconds per engine evaluation whatever the size (its set-up)
INTERPRETER_START = 300e-6  # seconds, once per program (a function per primitive and rule)

# On rows, seconds per node: per pass of the compiled slices over one slice of rows and per row,
# and compiling them (``fast.slices``); per chunk of rows of the all-rows path and per row, and
# its first evaluation's extra (``fast.all_rows``, whose chunks hold fewer rows as programs grow).
SLICE_PASS = 1.8e-6
SLICE_ROW = 13e-9
SLICE_ROWS = 1024  # rows per slice assumed (the fewest the slices take: a large working set)
SLICES_COMPILE = (93e-6, 89e-6, 99e-6, 99e-6)
CHUNK_PASS = 9e-6
CHUNK_ROW = 15e-9
ALL_ROWS_SETUP = 2.5e-6


def per_node(costs: tuple[float, ...], nodes: int) -> float:
    """The cost per node of a program of ``nodes`` nodes, from costs measured at :data:`SIZES`."""
    size = math.log10(max(nodes, 1))
    points = [math.log10(s) for s in SIZES]
    if size <= points[0]:
        return costs[0]
    for k in range(1, len(points)):
        if size <= points[k]:
            t = (size - points[k - 1]) / (points[k] - points[k - 1])
            return costs[k - 1] + t * (costs[k] - costs[k - 1])
    return costs[-1]


def point_costs(nodes: int, remaining: float, built: Collection[str] = ()) -> dict[str, float]:
    """Seconds that ``remaining`` more evaluations at a point would take on each path
    (``engine``, ``interpreted``, ``compiled``); a path in ``built`` is already prepared."""
    interpreted = per_node(INTERPRETED, nodes) * nodes
    return {
        "engine": remaining * (ENGINE_CALL + per_node(ENGINE, nodes) * nodes),
        "interpreted": (0.0 if "interpreted" in built else
                        INTERPRETER_START + per_node(INTERPRETER_SETUP, nodes) * nodes)
        + remaining * interpreted,
        "compiled": (0.0 if "compiled" in built else per_node(COMPILE, nodes) * nodes)
        + remaining * per_node(COMPILED, nodes) * nodes,
    }


def rows_costs(nodes: int, rows: int, remaining: float, chunk: int,
               built: Collection[str] = ()) -> dict[str, float]:
    """Seconds that ``remaining`` more evaluations on ``rows`` rows would take on each path
    (``slices``, ``all rows`` in chunks of ``chunk`` rows); a path in ``built`` is prepared."""
    slices = math.ceil(rows / SLICE_ROWS) * SLICE_PASS + rows * SLICE_ROW
    all_rows = math.ceil(rows / max(1, chunk)) * CHUNK_PASS + rows * CHUNK_ROW
    return {
        "slices": nodes * ((0.0 if "slices" in built else per_node(SLICES_COMPILE, nodes))
                           + remaining * slices),
        "all rows": nodes * ((0.0 if "all rows" in built else ALL_ROWS_SETUP)
                             + remaining * all_rows),
    }


def cheapest(costs: dict[str, float]) -> str:
    """The path of least cost (the first listed on a tie: the one that prepares least)."""
    return min(costs, key=costs.__getitem__)
