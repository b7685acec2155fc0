"""The method made visible, as rows of numbers: the evaluation trace (Wengert list), the reverse
sweep's adjoint updates, the forward (tangent) sweep, and the second-order sweep (forward over
reverse).

Every number is the engine's own: values are :func:`slpdiff.evaluate`'s ``node_values``,
adjoint updates are reported by the one reverse sweep as it makes them (its ``record`` hook), and
tangents by forward mode's sweep (:func:`slpdiff.core.tangent.sweep`, the same hook). The
second-order sweep is forward mode run through the unfolded adjoint program
(:mod:`slpdiff.core.unfolded`), each of whose statements is one adjoint update. Nothing here
evaluates a rule itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.engine import Evaluation, adjoints, as_value
from ..core.schedule import bind_inputs
from ..core.tangent import column, evaluate_forward, sweep
from ..errors import InputError
from ..evaluation import evaluate
from ..formats import number
from ..language.program import Program
from .labels import Labels
from .sweeps import (
    AdjointRow,
    SecondRow,
    SweepTable,
    TangentRow,
    Term,
    ValueRow,
    direction_seeds,
    unit_seed,
)

__all__ = ["AdjointRow", "SecondRow", "SweepTable", "TangentRow", "Term", "Trace", "ValueRow",
           "direction_seeds", "trace"]

MODES = ("reverse", "forward", "second")


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
          outputs: Sequence[str] | None = None, mode: str = "reverse",
          direction: Mapping[str, object] | None = None) -> Trace:
    """Trace ``program`` at ``at``: every node's value, then every adjoint update (``mode``
    "reverse", one sweep per output), every tangent (``mode`` "forward", one sweep per input, or
    one along ``direction``), or forward over reverse (``mode`` "second": the tangent sweep and,
    for each output, every adjoint update with its tangent, along ``direction`` or along each
    input), for the inputs in ``wrt`` and the outputs in ``outputs`` (default: all)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    _refuse_rows_that_meet(program, at)
    if direction is not None and mode == "reverse":
        raise InputError("a direction is for forward mode and the second-order sweep "
                         "(--mode forward or --mode second)")
    # The values and derivatives eval prints (with --mode forward in forward mode), bit for bit.
    ev = (evaluate if mode != "forward" else evaluate_forward)(program, at, wrt, outputs)
    labels = Labels(program)
    values = ev.node_values
    forward = _with_aliases(program, labels, values,
                            [_value_row(program, labels, values, i) for i in range(len(program))
                             if labels.shows_as_row(i)])
    # evaluate() has checked the names; keep the program's order, as eval does.
    chosen = None if wrt is None else set(wrt)
    wrt_names = [name for name in program.input_names if chosen is None or name in chosen]
    out_names = list(ev.values)
    input_node = dict(zip(program.input_names, program.input_index, strict=True))
    output_node = dict(zip(program.output_names, program.output_index, strict=True))
    inputs = list(ev.at.values())  # in input order
    if mode == "reverse":
        wrt_pos = [input_node[n] for n in wrt_names]
        sweeps = [_reverse(program, labels, values, name, output_node[name], wrt_pos,
                           ev.gradient[name]) for name in out_names]
    elif mode == "forward" and direction is not None:
        seeds = direction_seeds(program, direction)
        sweeps = [_tangent(program, labels, inputs, "direction", seeds, out_names, direction)]
    elif mode == "forward":
        sweeps = [_tangent(program, labels, inputs, name, unit_seed(program, inputs, name),
                           {out: ev.gradient[out][name] for out in out_names})
                  for name in wrt_names]
    else:
        from .second import second_order_sweeps

        sweeps = second_order_sweeps(program, labels, inputs, wrt_names, out_names, direction,
                                     _tangent)
    return Trace(program, labels, mode, ev.at, forward, sweeps, ev)


def _with_aliases(program: Program, labels: Labels, values: list,
                  rows: list[ValueRow]) -> list[ValueRow]:
    """``rows`` with a row for each alias statement (``vm1 = x1``: a name for a node that has
    one already), placed at its line: the same value, under the name the program gives it."""
    aliases = [a for a in (program.assignments or ()) if a.op == "="]
    if not aliases:
        return rows
    keyed = [((0, 0, 0) if row.kind == "input" else (row.line, 0, row.position), row)
             for row in rows]
    keyed += [((a.line, 1, a.column), ValueRow(a.node, a.name, "alias", labels.name(a.node),
                                                 values[a.node], a.line, False))
              for a in aliases]
    keyed.sort(key=lambda pair: pair[0])
    return [row for _, row in keyed]


def _value_row(program: Program, labels: Labels, values: list, i: int) -> ValueRow:
    kind = ("operation" if program.ops[i] is not None else
            "constant" if program.is_const(i) else "input")
    return ValueRow(i, labels.name(i), kind, labels.operation(i), values[i], program.lines[i],
                    labels.is_generated(i))


def _reverse(program: Program, labels: Labels, values: list, output: str, o: int,
             wrt: list[int], gradient: dict) -> SweepTable:
    lines = program.lines
    rows = [AdjointRow(0, labels.name(o), f"{labels.adjoint(o)} = 1", None, None, None, None,
                       None, np.ones_like(values[o])[()], lines[o], o)]

    def record(i, k, partial, contribution, after):
        c = program.args[i][k]
        sign, product = labels.term(labels.adjoint(i), i, k)
        rows.append(AdjointRow(len(rows), labels.name(c), f"{labels.adjoint(c)} {sign}= {product}",
                               labels.name(i), k, labels.rule(i, k), partial, contribution, after,
                               lines[i], c, i))

    adjoints(program, values, o, wrt, record=record)
    return SweepTable("reverse", output, labels.name(o), rows, dict(gradient))


def _tangent(program: Program, labels: Labels, inputs: list, of: str, seeds: dict,
             outputs: list[str] | dict, direction: Mapping[str, object] | None = None
             ) -> SweepTable:
    """The forward sweep seeded with ``seeds`` (one direction: tangents have a last axis of
    length 1), recorded term by term; ``of`` names the input seeded, or is "direction".
    ``outputs``: the outputs whose derivatives end the table, or those derivatives by output
    (as ``eval --mode forward`` computes them)."""
    terms: dict[int, list[tuple[str, str, Term]]] = {}

    def record(i, k, partial, term, total):
        c = program.args[i][k]
        sign, product = labels.term(labels.tangent(c), i, k)
        terms.setdefault(i, []).append((sign, product, Term(labels.name(c), labels.rule(i, k),
                                                            partial, _first(term), c, sign,
                                                            k)))

    result = sweep(program, inputs, seeds, 1, record=record)
    tangent, values = result.tangents, result.values
    rows = []
    for x in program.input_index:
        if x in seeds:
            seed = _first(seeds[x])
            text = "1" if direction is None else number(seed)
            rows.append(TangentRow(len(rows), labels.name(x), f"{labels.tangent(x)} = {text}", [],
                                   column(tangent[x], 0, values[x]), program.lines[x], x))
    for i, node_terms in terms.items():  # in node order: the sweep records in that order
        if tangent[i] is None:
            continue
        rows.append(TangentRow(len(rows), labels.name(i),
                               f"{labels.tangent(i)} = {_sum_text(node_terms)}",
                               [t for _, _, t in node_terms], column(tangent[i], 0, values[i]),
                               program.lines[i], i))
    output_node = dict(zip(program.output_names, program.output_index, strict=True))
    derivatives = outputs if isinstance(outputs, dict) else {
        out: column(tangent[output_node[out]], 0, values[output_node[out]]) for out in outputs}
    node = of if direction is not None else labels.name(program.input_index[
        program.input_names.index(of)])
    return SweepTable("tangent", of, node, rows, derivatives,
                      None if direction is None else dict(direction))


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


def _refuse_rows_that_meet(program: Program, at: Mapping[str, object]) -> None:
    """A trace shows one sweep's own numbers. Rows (arrays) that meet through a reduction have
    each row's own derivatives from several sweeps (:mod:`slpdiff.core.rows`), not one: say so
    rather than show a sweep whose sums are not the derivatives reported."""
    from ..core.rows import meeting

    if not any(op is not None and op.reduces for op in program.ops):
        return
    inputs = [as_value(x) for x in bind_inputs(program, at)]
    if meeting(program, inputs, program.input_index, program.output_index, "row") is not None:
        raise InputError("trace shows the sweeps at one point; these rows meet through a "
                         "reduction (sum, mean), where each row's own derivatives are not one "
                         "sweep's: trace one point, or see docs/rows.md")
