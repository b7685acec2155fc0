"""The method made visible: the evaluation trace (Wengert list), the reverse sweep's adjoint updates
and the forward (tangent) sweep, as rows of numbers.

Every number is the engine's own: values are :func:`slpdiff.evaluate`'s ``node_values``,
adjoint updates are reported by the one reverse sweep as it makes them (its ``record`` hook), and
tangents by forward mode's sweep (:func:`slpdiff.core.tangent.sweep`, the same hook). Nothing here
evaluates a rule itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.engine import Evaluation, adjoints
from ..core.tangent import column, evaluate_forward, sweep
from ..evaluation import evaluate
from ..language.program import Program
from .labels import Labels

MODES = ("reverse", "forward")


@dataclass
class ValueRow:
    """One node of the forward sweep: ``name = operation`` and its value."""

    position: int
    name: str
    kind: str  # "input", "constant" or "operation"
    operation: str  # "x * w", "sin(v1)", "input", or the constant's number
    value: object
    line: int  # where the node comes from in the program's text (0: not from text)
    generated: bool  # an intermediate the program does not name (%1, %2, ...)


@dataclass
class AdjointRow:
    """One step of the reverse sweep: ``update`` adds ``contribution`` to an adjoint.

    Step 0 is the seed (the output's adjoint set to 1), with no source, rule or partial.
    """

    step: int
    node: str  # whose adjoint changes (an argument of ``source``)
    update: str  # "w_bar += v6_bar * v4"
    source: str | None  # the node whose adjoint is passed down
    argument: int | None  # which argument of ``source`` (0-based)
    rule: str | None  # the local partial derivative as text, "v4"
    partial: object  # its value (None for the seed)
    contribution: object  # adjoint(source) * partial
    adjoint: object  # the adjoint of ``node`` after the update
    line: int  # the line of ``source`` (of the output, for the seed)


@dataclass
class Term:
    """One term ``argument_dot * rule`` of a tangent."""

    argument: str
    rule: str
    partial: object
    value: object


@dataclass
class TangentRow:
    """One node of the tangent sweep: ``update`` and the tangent's value."""

    step: int
    node: str
    update: str  # "v6_dot = v4_dot * w + w_dot * v4"
    terms: list[Term]
    value: object
    line: int


@dataclass
class SweepTable:
    """The derivative sweep for one output (reverse mode) or one input (forward mode)."""

    kind: str  # "reverse" or "tangent"
    of: str  # the output (reverse) or input (tangent) it is for
    node: str  # that output's or input's node name (an output may be an alias)
    rows: list
    # reverse: input -> d of/d input; tangent: output -> d output/d of
    derivatives: dict[str, object]


@dataclass
class Trace:
    """The forward sweep and one derivative sweep per output (reverse) or per input (forward)."""

    program: Program
    labels: Labels
    mode: str
    at: dict[str, object]
    forward: list[ValueRow]
    sweeps: list[SweepTable]
    evaluation: Evaluation = field(repr=False)

    @property
    def has_generated_names(self) -> bool:
        """True if some row names an intermediate the program does not name."""
        return any(row.generated for row in self.forward)

    def _repr_html_(self) -> str:
        """The trace's tables, as a notebook shows a Trace."""
        from .html import trace_html

        return trace_html(self)

    def _repr_svg_(self) -> str | None:
        """The graph at the end of the sweeps (None when too large to draw)."""
        from .lesson_model import LIMIT_NODES, Model
        from .lesson_svg import end_svg

        return end_svg(Model(self)) if len(self.forward) <= LIMIT_NODES else None


def trace(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
          outputs: Sequence[str] | None = None, mode: str = "reverse") -> Trace:
    """Trace ``program`` at ``at``: every node's value, then every adjoint update (``mode``
    "reverse", one sweep per output) or every tangent (``mode`` "forward", one sweep per input),
    for the inputs in ``wrt`` and the outputs in ``outputs`` (default: all)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    # The values and derivatives eval prints (with --mode forward in forward mode), bit for bit.
    ev = (evaluate if mode == "reverse" else evaluate_forward)(program, at, wrt, outputs)
    labels = Labels(program)
    values = ev.node_values
    forward = [_value_row(program, labels, values, i) for i in range(len(program))
               if labels.shows_as_row(i)]
    # evaluate() has checked the names; keep the program's order, as eval does.
    chosen = None if wrt is None else set(wrt)
    wrt_names = [name for name in program.input_names if chosen is None or name in chosen]
    out_names = list(ev.values)
    input_node = dict(zip(program.input_names, program.input_index, strict=True))
    output_node = dict(zip(program.output_names, program.output_index, strict=True))
    if mode == "reverse":
        wrt_pos = [input_node[n] for n in wrt_names]
        sweeps = [_reverse(program, labels, values, name, output_node[name], wrt_pos,
                           ev.gradient[name]) for name in out_names]
    else:
        inputs = list(ev.at.values())  # in input order
        number = {name: k for k, name in enumerate(program.input_names)}
        sweeps = [_tangent(program, labels, inputs, name, number[name],
                           {out: ev.gradient[out][name] for out in out_names})
                  for name in wrt_names]
    return Trace(program, labels, mode, ev.at, forward, sweeps, ev)


def _value_row(program: Program, labels: Labels, values: list, i: int) -> ValueRow:
    kind = ("operation" if program.ops[i] is not None else
            "constant" if program.is_const(i) else "input")
    return ValueRow(i, labels.name(i), kind, labels.operation(i), values[i], program.lines[i],
                    labels.is_generated(i))


def _reverse(program: Program, labels: Labels, values: list, output: str, o: int,
             wrt: list[int], gradient: dict) -> SweepTable:
    lines = program.lines
    rows = [AdjointRow(0, labels.name(o), f"{labels.adjoint(o)} = 1", None, None, None, None,
                       None, np.ones_like(values[o])[()], lines[o])]

    def record(i, k, partial, contribution, after):
        c = program.args[i][k]
        sign, product = labels.term(labels.adjoint(i), i, k)
        rows.append(AdjointRow(len(rows), labels.name(c), f"{labels.adjoint(c)} {sign}= {product}",
                               labels.name(i), k, labels.rule(i, k), partial, contribution, after,
                               lines[i]))

    adjoints(program, values, o, wrt, record=record)
    return SweepTable("reverse", output, labels.name(o), rows, dict(gradient))


def _tangent(program: Program, labels: Labels, inputs: list, input_name: str, k: int,
             derivatives: dict) -> SweepTable:
    """The forward sweep seeded with input number ``k`` alone (one direction: tangents have a
    last axis of length 1), recorded term by term."""
    x = program.input_index[k]
    terms: dict[int, list[tuple[str, str, Term]]] = {}

    def record(i, k, partial, term, total):
        c = program.args[i][k]
        sign, product = labels.term(labels.tangent(c), i, k)
        terms.setdefault(i, []).append((sign, product, Term(labels.name(c), labels.rule(i, k),
                                                            partial, _first(term))))

    result = sweep(program, inputs, {x: np.ones(np.shape(inputs[k]) + (1,))}, 1, record=record)
    tangent, values = result.tangents, result.values
    rows = [TangentRow(0, labels.name(x), f"{labels.tangent(x)} = 1", [],
                       column(tangent[x], 0, values[x]), program.lines[x])]
    for i, node_terms in terms.items():  # in node order: the sweep records in that order
        if tangent[i] is None:
            continue
        rows.append(TangentRow(len(rows), labels.name(i),
                               f"{labels.tangent(i)} = {_sum_text(node_terms)}",
                               [t for _, _, t in node_terms], column(tangent[i], 0, values[i]),
                               program.lines[i]))
    return SweepTable("tangent", input_name, labels.name(x), rows, derivatives)


def _first(t):
    """Direction 0 of a tangent (its last axis)."""
    return np.asarray(t)[..., 0][()]


def _sum_text(terms: list) -> str:
    text = ""
    for sign, product, _ in terms:
        if not text:
            text = product if sign == "+" else f"-{product}"
        else:
            text += f" {sign} {product}"
    return text
