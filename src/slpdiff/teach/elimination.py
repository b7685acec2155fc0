"""Vertex elimination (cross-country elimination) on the linearized computational graph.

The graph's vertices are the inputs, the intermediate statements and the outputs; the edge
``c -> i`` carries the local partial ``d i/d c`` (the engine's own value, recorded from its reverse
sweep). Eliminating an intermediate vertex ``j`` connects each predecessor ``p`` to each successor
``s`` directly: ``c_sp += c_sj * c_jp``, one multiplication per pair (and one addition where the
edge ``p -> s`` existed already), then removes ``j``. Once every intermediate is eliminated, the
edges from the inputs to the outputs are the Jacobian (Griewank and Walther, *Evaluating
Derivatives*, chapters 9 and 10).

Forward mode and reverse mode are two orders: the intermediates in evaluation order, and the
reverse of it. Greedy Markowitz picks, at each step, the vertex whose elimination costs the fewest
multiplications (``|predecessors| * |successors|``; ties to the earliest). Any other order can be
given. An output that is used further on, or that is an input, is first given a copy of its own
(an edge of partial 1), so that outputs are never eliminated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.engine import adjoints
from ..core.schedule import depends, reaches
from ..errors import InputError
from ..evaluation import evaluate
from ..language.program import Program
from ..language.rules import rules_for
from .labels import Labels

ORDERS = ("forward", "reverse", "markowitz")


@dataclass
class Graph:
    """The linearized graph: ``edges[s][p]`` is the partial of vertex s in vertex p (None without
    a point: the structure alone)."""

    labels: Labels
    inputs: list[int]
    outputs: dict[int, str]  # the vertex that holds each output (a copy where needed) -> name
    intermediates: list[int]  # in evaluation order
    edges: dict[int, dict[int, object]]
    names: dict[int, str] = field(default_factory=dict)


@dataclass
class Elimination:
    """One order's result: the vertices in the order eliminated, the work, the Jacobian."""

    name: str
    order: list[str]
    multiplications: int
    additions: int
    fill_in: int  # edges that did not exist before
    steps: list[tuple[str, int, int]]  # (vertex, predecessors, successors) when eliminated
    jacobian: dict[str, dict[str, object]] | None  # output -> input -> value (with a point)


def linearized_graph(program: Program, at: Mapping[str, object] | None = None) -> Graph:
    """The graph of the nodes that depend on an input and reach an output, with the engine's
    local partials on its edges when ``at`` is given."""
    labels = Labels(program)
    needs = depends(program, None)
    reach = reaches(program, program.output_index)
    partials: dict[tuple[int, int], object] = {}
    if at is not None:
        ev = evaluate(program, at, wrt=[])

        def record(i, k, partial, *_):
            partials[(i, k)] = partial

        for o in dict.fromkeys(program.output_index):
            adjoints(program, ev.node_values, o, record=record)
    keep = [needs[i] and reach[i] for i in range(len(program))]
    edges: dict[int, dict[int, object]] = {}
    for i, args in enumerate(program.args):
        if not keep[i] or not args:
            continue
        rules = rules_for(program.ops[i])
        for k, c in enumerate(args):
            if keep[c] and rules[k].const != 0.0:
                rule_value = partials.get((i, k))
                if at is not None and rule_value is None:
                    continue  # the sweep skipped it: the rule is the constant 0
                row = edges.setdefault(i, {})
                old = row.get(c)
                # An argument used twice (x * x) is one edge carrying the sum of both partials.
                row[c] = rule_value if old is None else old + rule_value
    names = {i: labels.name(i) for i in range(len(program)) if keep[i]}
    inputs = [i for i in program.input_index if keep[i]]
    used = {c for row in edges.values() for c in row}
    outputs: dict[int, str] = {}
    next_vertex = len(program)
    for name, o in zip(program.output_names, program.output_index, strict=True):
        if not keep[o]:
            continue
        if o in used or program.is_input(o) or o in outputs:
            copy = next_vertex
            next_vertex += 1
            edges[copy] = {o: np.float64(1.0) if at is not None else None}
            names[copy] = f"{name}'"
            outputs[copy] = name
        else:
            outputs[o] = name
    intermediates = [i for i in range(len(program))
                     if keep[i] and not program.is_input(i) and i not in outputs]
    return Graph(labels, inputs, outputs, intermediates, edges, names)


def eliminate(graph: Graph, order: Sequence[int] | str, with_values: bool = True) -> Elimination:
    """Eliminate the intermediates of ``graph`` in ``order`` ("forward", "reverse",
    "markowitz", or vertices), counting the work; the Jacobian when the edges have values."""
    into = {s: dict(row) for s, row in graph.edges.items()}
    out: dict[int, set[int]] = {}
    for s, row in into.items():
        for p in row:
            out.setdefault(p, set()).add(s)
    name = order if isinstance(order, str) else "given"
    left = set(graph.intermediates)
    if order == "forward":
        sequence = list(graph.intermediates)
    elif order == "reverse":
        sequence = list(reversed(graph.intermediates))
    elif order == "markowitz":
        sequence = None
    else:
        sequence = list(order)
    result = Elimination(name, [], 0, 0, 0, [], None)
    values = with_values and all(v is not None for row in into.values() for v in row.values())
    while left:
        j = _markowitz(left, into, out) if sequence is None else sequence[len(result.order)]
        left.discard(j)
        preds, succs = list(into.get(j, {})), sorted(out.get(j, ()))
        result.steps.append((graph.names[j], len(preds), len(succs)))
        result.order.append(graph.names[j])
        for s in succs:
            c_sj = into[s].pop(j)
            for p in preds:
                result.multiplications += 1
                product = c_sj * into[j][p] if values else None
                if p in into[s]:
                    result.additions += 1
                    into[s][p] = into[s][p] + product if values else None
                else:
                    result.fill_in += 1
                    into[s][p] = product
                    out.setdefault(p, set()).add(s)
        for p in preds:
            out[p].discard(j)
        into.pop(j, None)
        out.pop(j, None)
    if values:
        result.jacobian = {name_o: {graph.names[x]: into.get(o, {}).get(x, np.float64(0.0))
                                    for x in graph.inputs}
                           for o, name_o in graph.outputs.items()}
    return result


def _markowitz(left: set[int], into: dict, out: dict) -> int:
    return min(left, key=lambda j: (len(into.get(j, ())) * len(out.get(j, ())), j))


def order_from_names(graph: Graph, names: Sequence[str]) -> list[int]:
    """The intermediates named, each once, covering all of them; else InputError."""
    position = {graph.names[j]: j for j in graph.intermediates}
    unknown = [n for n in names if n not in position]
    if unknown:
        raise InputError(f"'{unknown[0]}' is not an intermediate vertex; they are: "
                         f"{', '.join(position)}")
    chosen = [position[n] for n in names]
    missing = [n for n in position if position[n] not in chosen]
    if len(set(chosen)) != len(chosen) or missing:
        raise InputError("an order names every intermediate vertex once; "
                         + (f"missing: {', '.join(missing)}" if missing else "one is repeated"))
    return chosen


def elimination_table(graph: Graph, results: list[Elimination]):
    """The orders side by side: multiplications, additions, fill-in, and the order itself."""
    from .counts import _count
    from .tables import Table

    table = Table(f"Vertex elimination: {_count(len(graph.intermediates), 'intermediate vertex')}"
                  f", {_count(len(graph.inputs), 'input')}, "
                  f"{_count(len(graph.outputs), 'output')}",
                  ["order", "multiplications", "additions", "fill-in", "vertices eliminated"],
                  "lrrrl", [False, False, False, False, True])
    for r in results:
        table.rows.append([r.name, str(r.multiplications), str(r.additions), str(r.fill_in),
                           ", ".join(r.order)])
    table.footer = ["eliminating j costs |predecessors(j)| x |successors(j)| multiplications; "
                    "forward and reverse mode are the orders forward and reverse"]
    return table
