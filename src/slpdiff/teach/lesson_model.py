"""What a lesson page shows, step by step: the nodes and edges of a trace's graph, and the movie of
its sweeps (one step per row of the trace), every number the engine's own.

The model is read from a :class:`~slpdiff.teach.trace.Trace` (the records ``slpdiff trace`` prints)
and the program's tape: a node's arguments are ``program.args``, a reverse row names the argument
it differentiates, kinks and non-finite values carry the position of their node. Nothing is parsed
back out of text. Numbers are written once, here, with :func:`slpdiff.formats.number` (so each
reads back to the same float64); the page's script only swaps texts.

A step is a list of changes ``[element id, new text, old text]``: stepping forwards applies the new
texts, stepping back the old ones, so a step costs only its own changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.kinks import find as find_kinks
from ..core.schedule import reaches
from ..formats import number
from ..htmlformat import is_number
from ..language.rules import rules_for

UNKNOWN = "?"  # shown for a value, adjoint or tangent not computed yet
LIMIT_NODES = 1500  # beyond these a lesson is a message, not a movie: its page must stay quick
LIMIT_STEPS = 6000


@dataclass
class Node:
    """A node of the lesson's graph: a row of the trace's forward sweep."""

    index: int  # among the lesson's nodes (the page's element ids are n0, n1, ...)
    position: int  # in the program
    name: str
    kind: str  # "input", "constant" or "operation"
    operation: str
    value: str
    line: int
    generated: bool
    outputs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    shown: dict[str, set[str]] = field(default_factory=dict)  # slot -> every text it will show


@dataclass
class Edge:
    """Argument ``k`` of node ``dst`` is node ``src``; a sweep that uses it states its rule."""

    index: int
    src: int
    dst: int
    k: int
    rule: str | None = None  # the local partial derivative d dst/d src, as text
    partial: str | None = None  # its value, once a sweep has computed it


@dataclass
class Step:
    """One frame of the movie."""

    kind: str  # "start", "value", "seed", "adjoint" or "tangent"
    phase: str
    lines: list[str]  # the explanation, first line the update as the trace writes it
    changes: list[list[str]]  # [element id, new text, old text]
    line: int  # the program line to highlight (0: none)
    target: int | None  # the node that changes
    sources: list[int] = field(default_factory=list)  # the nodes it is computed from
    edges: list[int] = field(default_factory=list)  # the edges it uses
    changed: str | None = None  # the element whose text changes
    warnings: list[str] = field(default_factory=list)

    def compact(self) -> dict:
        """The step as the page's script reads it (short keys: hundreds of steps per page)."""
        return {"k": self.kind, "p": self.phase, "t": self.lines, "s": self.changes,
                "l": self.line or None, "n": self.target, "src": self.sources, "e": self.edges,
                "c": self.changed, "w": self.warnings}


@dataclass
class Sweep:
    """A derivative sweep of the trace, restricted to the lesson's nodes."""

    kind: str  # "reverse" or "tangent"
    of: str
    rows: list
    derivatives: dict


class Model:
    """The lesson of ``trace``: its nodes (the forward rows of nodes that reach one of
    ``outputs``, or all of them), edges, sweeps, warnings at their nodes, and steps."""

    def __init__(self, trace, outputs: Sequence[str] | None = None):
        self.trace = trace
        program, labels = trace.program, trace.labels
        self.program, self.labels = program, labels
        self.bar, self.dot = labels.bar, labels.dot
        keep = self._view(outputs)
        rows = [r for r in trace.forward if keep[r.position]]
        self.nodes = [Node(i, r.position, r.name, r.kind, r.operation, number(r.value), r.line,
                           r.generated) for i, r in enumerate(rows)]
        self.at_position = {n.position: n.index for n in self.nodes}
        self.by_name = {n.name: n.index for n in self.nodes}
        self.edges: list[Edge] = []
        self.edge_at: dict[tuple[int, int], Edge] = {}
        self.edges_into: list[list[int]] = []  # per node, the edges from its arguments
        for node in self.nodes:
            self.edges_into.append([])
            for k, c in enumerate(program.args[node.position]):
                if c in self.at_position:
                    edge = Edge(len(self.edges), self.at_position[c], node.index, k)
                    self.edges.append(edge)
                    self.edge_at[(node.index, k)] = edge
                    self.edges_into[-1].append(edge.index)
        self.sweeps = [Sweep(s.kind, s.of, [r for r in s.rows if r.node in self.by_name],
                             s.derivatives) for s in trace.sweeps]
        for sweep in self.sweeps:
            if sweep.kind == "reverse" and sweep.rows:
                self.nodes[self.by_name[sweep.rows[0].node]].outputs.append(sweep.of)
        self._edge_rules()
        self.general_warnings: list[str] = []
        self._warnings()
        self.steps = _Movie(self).steps()

    def _view(self, outputs: Sequence[str] | None) -> list[bool]:
        program = self.program
        if not outputs:
            return [True] * len(program)
        node_of = dict(zip(program.output_names, program.output_index, strict=True))
        return reaches(program, [node_of[name] for name in outputs])

    def _edge_rules(self) -> None:
        """Give each edge a sweep uses its rule and its partial's value (the same at every use)."""
        for sweep in self.sweeps:
            has_tangent: set[int] = set()
            for row in sweep.rows:
                if sweep.kind == "tangent":
                    for edge, term in self.tangent_edges(row, has_tangent):
                        if edge is not None:
                            edge.rule, edge.partial = term.rule, number(term.partial)
                    has_tangent.add(self.nodes[self.by_name[row.node]].position)
                elif row.source is not None:
                    edge = self.edge_at.get((self.by_name[row.source], row.argument))
                    if edge is not None:
                        edge.rule, edge.partial = row.rule, number(row.partial)

    def _warnings(self) -> None:
        """The engine's non-finite values and partials, and the kinks derivatives were taken on,
        each at the node where it happened."""
        ev = self.trace.evaluation
        found = [(w.position, w.describe()) for w in ev.warnings]
        if ev.gradient:
            outputs = list(ev.gradient)
            wrt = list(next(iter(ev.gradient.values())))
            found += [(hit.position, hit.describe())
                      for hit in find_kinks(self.program, ev.node_values, wrt, outputs)]
        for position, message in found:
            i = self.at_position.get(position)
            if i is None:
                self.general_warnings.append(message)
            else:
                self.nodes[i].warnings.append(message)

    def tangent_edges(self, row, has_tangent: set[int]) -> list[tuple[Edge | None, object]]:
        """The edge of each term of a tangent row, in order. The sweep records a term for each
        argument that has a tangent, in argument order, except where the rule is the constant 0."""
        if not row.terms:  # the seed
            return []
        node = self.by_name[row.node]
        position = self.nodes[node].position
        rules = rules_for(self.program.ops[position])
        ks = [k for k, c in enumerate(self.program.args[position])
              if c in has_tangent and rules[k].const != 0.0]
        return [(self.edge_at.get((node, k)), term)
                for k, term in zip(ks, row.terms, strict=True)]

    def final_texts(self) -> dict[str, str]:
        """What every number shows at the end of the movie (element id -> text)."""
        texts: dict[str, str] = {}
        for step in self.steps:
            for element, text, _ in step.changes:
                texts[element] = text
        return texts


class _Movie:
    """Builds the steps: the forward sweep's values, then each derivative sweep's rows."""

    def __init__(self, model: Model):
        self.model = model
        self.shown: dict[str, str] = {}  # element id -> the text it shows after the last step
        self.filled: dict[str, set[str]] = {"b": set(), "d": set()}  # slot -> elements not "?"

    def change(self, pairs) -> list[list[str]]:
        out = []
        for element, text in pairs:
            old = self.shown.get(element, UNKNOWN)
            if old != text:
                out.append([element, text, old])
                self.shown[element] = text
                slot = self.filled.get(element[-1])
                if slot is not None and element[0] == "n":
                    (slot.discard if text == UNKNOWN else slot.add)(element)
        return out

    def steps(self) -> list[Step]:
        m = self.model
        steps = [Step("start", "Before the forward sweep",
                      ["Nothing is computed yet. Step forward (→) to start the forward sweep: "
                       "each node's value, in evaluation order."], [], 0, None)]
        steps += [self.value(node) for node in m.nodes]
        for sweep in m.sweeps:
            slot = "b" if sweep.kind == "reverse" else "d"
            # Each sweep starts afresh: clear what the previous sweep of its kind showed.
            clear = [(element, UNKNOWN) for element in sorted(self.filled[slot])]
            state: dict[int, str] = {}  # node -> its adjoint (tangent) so far in this sweep
            for j, row in enumerate(sweep.rows):
                make = self.adjoint if slot == "b" else self.tangent
                steps.append(make(sweep, row, state, clear if j == 0 else []))
        return steps

    def value(self, node: Node) -> Step:
        m = self.model
        node.shown.setdefault("v", set()).add(node.value)
        program = m.program
        args = program.args[node.position]
        if node.kind == "operation":
            values = [number(m.trace.evaluation.node_values[c]) for c in args]
            lines = [f"{node.name} = {node.operation}",
                     f"= {_written(program.ops[node.position], values)}", f"= {node.value}"]
        else:
            lines = [f"{node.name} = {node.value}   ({node.kind})"]
        sources = sorted({m.at_position[c] for c in args if c in m.at_position})
        return Step("value", "Forward sweep: the values", lines,
                    self.change([(f"n{node.index}-v", node.value)]), node.line, node.index,
                    sources, m.edges_into[node.index],
                    f"n{node.index}-v", node.warnings)

    def adjoint(self, sweep: Sweep, row, state: dict, clear: list) -> Step:
        m = self.model
        target = m.by_name[row.node]
        adjoint = number(row.adjoint)
        m.nodes[target].shown.setdefault("b", set()).add(adjoint)
        phase = f"Reverse sweep for {sweep.of}: v{m.bar} = d {sweep.of}/d v, each starting at 0"
        name = row.update.split(" ", 1)[0]
        state_before = state.get(target, "0.0")
        state[target] = adjoint
        element = f"n{target}-b"
        if row.source is None:  # the seed
            lines = [row.update, f"the seed: d {sweep.of}/d {row.node} = 1, so {name} = "
                                 f"{adjoint}; every other adjoint starts at 0"]
            return Step("seed", phase, lines, self.change(clear + [(element, adjoint)]),
                        row.line, target, changed=element)
        source = m.by_name[row.source]
        partial, contribution = number(row.partial), number(row.contribution)
        from_adjoint = state.get(source, UNKNOWN)
        if row.rule in ("1", "-1"):
            lines = [f"{row.update} = {from_adjoint}"]
        else:
            lines = [f"{row.update} = {_paren(from_adjoint)} * {_paren(partial)} = "
                     f"{contribution}"]
        if " -= " in row.update:
            lines.append(f"{name} = {state_before} - {_paren(from_adjoint)} = {adjoint}")
        else:
            lines.append(f"{name} = {state_before} + {_paren(contribution)} = {adjoint}")
        lines.append(f"edge {row.node} → {row.source}: local partial d {row.source}/d {row.node}"
                     f" = {row.rule}" + ("" if is_number(row.rule) else f" = {partial}"))
        edge = m.edge_at.get((source, row.argument))
        pairs = clear + [(element, adjoint)]
        if edge is not None:
            pairs.append((f"e{edge.index}-p", partial))
        return Step("adjoint", phase, lines, self.change(pairs), row.line, target, [source],
                    [] if edge is None else [edge.index], element, m.nodes[source].warnings)

    def tangent(self, sweep: Sweep, row, state: dict, clear: list) -> Step:
        m = self.model
        target = m.by_name[row.node]
        value = number(row.value)
        m.nodes[target].shown.setdefault("d", set()).add(value)
        phase = (f"Tangent (forward-mode) sweep for {sweep.of}: v{m.dot} = d v/d {sweep.of}, "
                 "other inputs' tangents 0")
        name = row.update.split(" ", 1)[0]
        used = m.tangent_edges(row, {m.nodes[i].position for i in state})
        state[target] = value
        element = f"n{target}-d"
        if not row.terms:
            lines = [row.update, f"the seed: d {sweep.of}/d {sweep.of} = 1, so {name} = "
                                 f"{value}; the other inputs' tangents are 0"]
        else:
            parts, terms = [], []
            for _, term in used:
                tangent = _paren(state.get(m.by_name[term.argument], UNKNOWN))
                if term.rule == "1":
                    parts.append(tangent)
                elif term.rule == "-1":
                    parts.append(f"-{tangent}")
                else:
                    parts.append(f"{tangent} * {_paren(number(term.partial))}")
                terms.append(_paren(number(term.value)))
            lines = [row.update, f"= {' + '.join(parts)}"]
            if len(terms) > 1 and terms != parts:
                lines.append(f"= {' + '.join(terms)}")
            lines.append(f"= {value}")
            for edge, term in used:
                source = m.nodes[edge.src].name if edge is not None else term.argument
                lines.append(f"edge {source} → {row.node}: local partial d {row.node}/d {source}"
                             f" = {term.rule}" + ("" if is_number(term.rule)
                                                  else f" = {number(term.partial)}"))
        edges = [edge for edge, _ in used if edge is not None]
        pairs = clear + [(element, value)] + [(f"e{edge.index}-p", number(term.partial))
                                              for edge, term in used if edge is not None]
        return Step("tangent", phase, lines, self.change(pairs), row.line, target,
                    sorted({edge.src for edge in edges}), [edge.index for edge in edges],
                    element, m.nodes[target].warnings)


def _written(op, values: list[str]) -> str:
    """An operation with its arguments' values: ``sin(4.0)``, ``4.0 + (-0.75)``, ``-(2.0)``."""
    values = [_paren(v) for v in values]
    if op.infix is not None and len(values) == 2:
        return f"{values[0]} {op.infix} {values[1]}"
    if op.infix is not None and len(values) == 1:
        return f"{op.infix}{values[0]}"
    return f"{op.name}({', '.join(values)})"


def _paren(text: str) -> str:
    """A negative number in parentheses, so that ``0.0 + (-1.5)`` reads right."""
    return f"({text})" if text.startswith("-") else text
