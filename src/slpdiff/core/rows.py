"""Derivatives over rows: each row's own derivatives, also where rows meet through a reduction.

On arrays of rows (``--points``, grids, arrays given to the API) every input is a column, one number
per row, or a number given once and shared by every row. The derivatives at row ``i`` are those of
row ``i``'s outputs, the other rows held fixed:

- with respect to a column ``x``: ``d m_i / d x_i``, the diagonal entry of the Jacobian over rows;
- with respect to a number ``a`` given once: ``d m_i / d a`` (``shared="row"``), or its sum over
  the rows (``shared="sum"``: the derivative of the rows' total, what a fit needs; the API's
  ``evaluate``, ``evaluate_forward`` and ``hessian`` report numbers given once this way);
- for an output that is one number for all rows (a reduction, or computed from reductions only):
  its gradient, ``d m / d x_i`` on each row and ``d m / d a``;
- second derivatives likewise: the Hessian of row ``i``'s output in row ``i``'s inputs and the
  numbers given once.

Where no reduction (``sum``, ``mean``, ``count`` of a column) carries a chosen input's change to a
chosen output, rows are independent and the ordinary evaluators already give exactly this (the
reverse sweep seeded with ones over the rows), so nothing here runs. Otherwise each reduction ``r``
(one number that depends on every row) is *frozen*: in the program ``F`` with every reduction
replaced by an input, every node is row-local, so ``F``'s ordinary per-row derivatives are partial
derivatives with the reductions held, and the chain rule over the few reductions adds the paths
through them::

    d m_i / d x_i = dF_m/dx (i) + sum over r of dF_m/dr (i) * d r / d x_i

``d r / d x_i`` is the gradient of the one number ``r``: the ordinary reverse sweep from ``r``,
exact through nested reductions. Reverse mode thus costs one sweep per output and one per reduction
(rows x program size x (outputs + reductions)), all linear in the rows.

Forward mode and second derivatives carry a tangent per chosen input and one per reduction through
``F`` (``dF/dr`` for every node); a reduction's change as row ``i`` sees it follows in program order
from the tangents of its argument (row ``i``'s own for a column, all rows' for a number given once,
plus the changes of the reductions its argument uses). Second derivatives add the per-row Hessians
of ``F`` (forward over reverse, :mod:`slpdiff.core.hessian`) in the chosen inputs and the
reductions, through the second-order chain rule; reductions are linear in their argument (the
table's ``sum``, ``mean``, ``count``), so they add no curvature of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from ..language.program import Memo, Program, ProgramBuilder
from ..language.rules import rules_for
from ..limits import check_hessian, check_reverse, check_sweep
from . import hessian as second
from . import tangent
from .engine import Evaluation, NodeValues, NonFinite, all_finite, as_value, forward, warnings_for
from .schedule import (
    Selection,
    bind_inputs,
    depends,
    per_row,
    plan,
    reaches,
    resolve_names,
    select,
)

__all__ = ["Meeting", "evaluate_forward", "frozen_program", "hessian", "hvp", "jvp", "meeting",
           "row_gradient"]

SHARED = ("sum", "row")  # how a derivative with respect to a number given once is reported
MEETINGS = Memo("how rows meet through reductions")
ROW_PROGRAMS = Memo("programs for derivatives over rows", keep=16)


@dataclass(frozen=True)
class Meeting:
    """How the rows of one evaluation meet: ``n`` rows; ``frozen``, every reduction of the
    program (positions, in program order); ``carrying``, those that depend on a chosen input and
    reach a chosen output; ``row``, per node, whether it has one value per row."""

    n: int
    frozen: tuple[int, ...]
    carrying: tuple[int, ...]
    row: tuple[bool, ...]


def meeting(program: Program, inputs: Sequence, wrt_nodes: Sequence[int],
            output_nodes: Sequence[int], shared: str = "sum",
            always: bool = False) -> Meeting | None:
    """How the rows of ``inputs`` (float64 values in program order: 1-D arrays of one length,
    and numbers) meet through reductions for derivatives of the outputs at ``output_nodes`` with
    respect to the inputs at ``wrt_nodes``; None when they do not, and the ordinary evaluators
    give each row's own derivatives.

    They meet where a reduction of a column carries the change of a chosen input to a chosen
    output: with ``shared="sum"``, a column's change to an output with a value per row (a number
    given once is summed over the rows, as the ordinary sweep does); with ``"row"``, any chosen
    input's change to any chosen output. With ``always``, wherever the program has a reduction:
    the ordinary evaluators are then left only programs without one, where repeating a number
    on every row (:func:`spread`) changes no value.
    """
    n = _row_count(inputs)
    if n is None:
        return None
    columns = tuple(np.ndim(x) == 1 for x in inputs)
    key = (columns, tuple(wrt_nodes), tuple(output_nodes), shared, always)
    found = program.memo(MEETINGS, key, lambda: _meeting(program, columns, wrt_nodes,
                                                          output_nodes, shared, always))
    return None if found is None else replace(found, n=n)


def _row_count(inputs: Sequence) -> int | None:
    lengths = set()
    for x in inputs:
        if np.ndim(x) > 1:
            return None  # not rows: arrays of several dimensions broadcast as numpy's do
        if np.ndim(x):
            lengths.add(len(x))
    return lengths.pop() if len(lengths) == 1 and 0 not in lengths else None


def _meeting(program, columns, wrt_nodes, output_nodes, shared, always) -> Meeting | None:
    ops, args = program.ops, program.args
    frozen = tuple(i for i, op in enumerate(ops) if op is not None and op.reduces)
    if not frozen:
        return None
    row = per_row(program, columns)
    if not always:
        column_nodes = {i for i, c in zip(program.input_index, columns, strict=True) if c}
        moving = [i for i in wrt_nodes if shared == "row" or i in column_nodes]
        targets = [o for o in output_nodes if shared == "row" or row[o]]
        moved, reach = depends(program, moving), reaches(program, targets)
        if not (moving and targets and any(moved[i] and reach[i] and any(row[a] for a in args[i])
                                           for i in frozen)):
            return None  # no reduction of a column carries a change to an output
    chosen, reach = depends(program, wrt_nodes), reaches(program, output_nodes)
    carrying = tuple(i for i in frozen if chosen[i] and reach[i])
    return Meeting(0, frozen, carrying, tuple(row))


# --- the programs -----------------------------------------------------------------------------


def frozen_name(position: int) -> str:
    """The name of the input that stands for the reduction at ``position`` in a frozen program
    (``%`` keeps it apart from every name a program can have)."""
    return f"%r{position}"


def frozen_program(program: Program, frozen: Sequence[int], outputs: Sequence[int],
                   names: Sequence[str]) -> Program:
    """``program`` with each node at ``frozen`` (its reductions) replaced by an input named by
    :func:`frozen_name`, after the program's own inputs; its outputs are the nodes at
    ``outputs``, named ``names``. Positions are kept, so a node is at the same place in both."""
    def make() -> Program:
        tape = ProgramBuilder()
        tape.copy(program, leaves=set(frozen))
        return tape.build([*program.input_index, *frozen], outputs,
                          [*program.input_names, *map(frozen_name, frozen)], names,
                          program.source)

    key = ("frozen", tuple(frozen), tuple(outputs), tuple(names))
    return program.memo(ROW_PROGRAMS, key, make)


def _with_outputs(program: Program, outputs: Sequence[int], names: Sequence[str]) -> Program:
    """The same tape with other outputs (the reductions, to sweep from each)."""
    return program.memo(ROW_PROGRAMS, ("outputs", tuple(outputs), tuple(names)), lambda: Program(
        program.ops, program.args, program.consts, program.input_index, outputs,
        program.input_names, names, program.names, program.lines, program.columns,
        program.source))


# --- reverse mode -----------------------------------------------------------------------------

EvaluateInputs = Callable[[Program, list, Selection], Evaluation]


def row_gradient(program: Program, inputs: list, chosen: Selection, rows: Meeting,
                 evaluate_inputs: EvaluateInputs, shared: str = "sum") -> Evaluation:
    """Values and each row's own first derivatives by reverse mode (see the module's text).

    ``evaluate_inputs(program, inputs, selection)`` is the ordinary evaluation of bound inputs
    (:func:`slpdiff.evaluation.evaluate_inputs`, which picks the fast path): it is run once on the
    program with its reductions (and outputs that are one number) as outputs, and once on the
    frozen program for the outputs with a value per row.
    """
    check_reverse(len(chosen.outputs) + len(rows.frozen), len(program))
    row, frozen, carrying = rows.row, rows.frozen, rows.carrying
    outs = list(zip(chosen.output_nodes, chosen.output_names, strict=True))
    whole = [(o, name) for o, name in outs if not row[o]]
    each = [(o, name) for o, name in outs if row[o]]
    # Each reduction's gradient (d r / d x_i on each row of a column x, d r / d a for a number),
    # and the whole gradient of each output that is one number, by the ordinary sweep.
    reduced = _with_outputs(program, [*frozen, *(o for o, _ in whole)],
                            [*map(frozen_name, frozen), *(name for _, name in whole)])
    first = evaluate_inputs(reduced, inputs, Selection(reduced, chosen.wrt,
                                                       tuple(range(len(reduced.output_names)))))
    local = None
    if each:
        local = _frozen_sweep(program, inputs, chosen, rows, [o for o, _ in each],
                              [name for _, name in each], first.values, evaluate_inputs)
    warnings = _merged(program, first.warnings, [] if local is None else local.warnings, frozen,
                       reaches(program, chosen.output_nodes))
    values, gradient = {}, {}
    columns = [np.ndim(inputs[k]) == 1 for k in chosen.wrt]
    for o, name in outs:
        if not row[o]:
            values[name], gradient[name] = first.values[name], first.gradient[name]
            continue
        values[name] = local.values[name]
        partial = local.gradient[name]
        through = [r for r in carrying if reaches(program, [o])[r]]
        gradient[name] = {}
        for x, column in zip(chosen.wrt_names, columns, strict=True):
            total = partial[x]
            for r in through:  # program order: the same sum on every call
                total = total + partial[frozen_name(r)] * first.gradient[frozen_name(r)][x]
            gradient[name][x] = total if column or shared == "row" else np.sum(total)
    return Evaluation(program, dict(zip(program.input_names, inputs, strict=True)), values,
                      gradient, warnings, NodeValues(compute=lambda: forward(program, inputs)))


def _frozen_sweep(program, inputs, chosen, rows, outputs, names, reduced_values,
                  evaluate_inputs) -> Evaluation:
    """The frozen program's per-row partial derivatives of ``outputs`` in the chosen inputs and
    the carrying reductions: each of those is given as a column (a number repeated), so that its
    adjoint stays one number per row instead of being summed over the rows."""
    n, carry = rows.n, set(rows.carrying)
    frozen = frozen_program(program, rows.frozen, outputs, names)
    chosen_k = set(chosen.wrt)
    values = [np.full(n, x) if k in chosen_k and not np.ndim(x) else x
              for k, x in enumerate(inputs)]
    for r in rows.frozen:
        value = reduced_values[frozen_name(r)]
        values.append(np.full(n, value) if r in carry else value)
    base = len(program.input_names)
    wrt = (*chosen.wrt, *(base + j for j, r in enumerate(rows.frozen) if r in carry))
    return evaluate_inputs(frozen, values, Selection(frozen, wrt, tuple(range(len(outputs)))))


def _merged(program: Program, first: list[NonFinite], local: list[NonFinite],
            frozen: Sequence[int], reach: Sequence[bool]) -> list[NonFinite]:
    """The earliest warning of each kind from both sweeps, about ``program``, among the nodes
    that ``reach`` a chosen output (the first sweep starts from every reduction). A frozen
    input's non-finite value is the reduction's, which the first sweep reports where it began."""
    cut = set(frozen)
    found: dict[str, NonFinite] = {}
    for w in [*first, *(replace(w, program=program) for w in local
                        if not (w.kind == "value" and w.position in cut))]:
        if not reach[w.position]:
            continue
        known = found.get(w.kind)
        if known is None or w.position < known.position:
            found[w.kind] = w
    return [found[kind] for kind in ("value", "derivative") if kind in found]


# --- forward mode: tangents through the frozen program -----------------------------------------


@dataclass
class _Tangents:
    """A forward sweep through the frozen program with one tangent per chosen input (``p``) and
    one per carrying reduction, and what follows from it."""

    values: list  # the original program's values (a reduction is one number)
    frozen: Program
    sweep: tangent.TangentSweep
    p: int
    again: Callable[[Sequence[bool]], tuple | None]  # the sweep again: first bad partial
    changes: list  # per carrying reduction: (n, p), its change per unit of each input, row i's view
    coupling: list  # per carrying reduction: (R,), sum over rows of weight * dF_arg/dr'
    weights: list  # per carrying reduction: d r / d (argument's row), a number or per row


def _tangents(program: Program, inputs: list, wrt_k: Sequence[int], outputs: Sequence[int],
              rows: Meeting) -> _Tangents:
    """One forward sweep through the frozen program (outputs: ``outputs`` and the carrying
    reductions' arguments) with a tangent per chosen input (``wrt_k``) and per carrying
    reduction, and each reduction's change as each row sees it."""
    carrying = rows.carrying
    p = len(wrt_k)
    q = p + len(carrying)
    check_sweep(len(program), q, "forward mode over rows carries one tangent per input and per "
                "reduction")
    values = forward(program, inputs)
    args = [program.args[r][0] for r in carrying]
    frozen = frozen_program(program, rows.frozen, [*outputs, *args],
                            [*(f"%o{j}" for j in range(len(outputs))),
                             *(f"%a{r}" for r in carrying)])
    seeds = {}
    for j, k in enumerate(wrt_k):
        seed = np.zeros(np.shape(inputs[k]) + (q,))
        seed[..., j] = 1.0
        seeds[program.input_index[k]] = seed
    for j, r in enumerate(carrying, p):
        seeds[r] = np.eye(q)[j]
    # Frozen reductions and numbers given once stay numbers: a tangent is then per row only where
    # the node is, and nothing in the frozen program sums over rows.
    frozen_inputs = [*inputs, *(values[r] for r in rows.frozen)]
    result = tangent.sweep(frozen, frozen_inputs, seeds, q)

    def again(check: Sequence[bool]):
        return tangent.sweep(frozen, frozen_inputs, seeds, q, check).first_bad

    columns = np.array([np.ndim(inputs[k]) == 1 for k in wrt_k], dtype=bool)
    changes, coupling, weights = _changes(program, values, result, columns, rows)
    return _Tangents(values, frozen, result, p, again, changes, coupling, weights)


def _changes(program: Program, values: list, result: tangent.TangentSweep, columns: np.ndarray,
             rows: Meeting) -> tuple[list, list, list]:
    """Per carrying reduction, in program order: its change per unit of each chosen input as row
    i sees it ((n, p): row i's own contribution for a column, every row's for a number, plus the
    earlier reductions' changes through its argument), its coupling to the earlier reductions
    (the sum over rows of weight * d argument / d r'), and its weight."""
    n, p = rows.n, len(columns)
    q = p + len(rows.carrying)
    changes, coupling, weights = [], [], []
    for r in rows.carrying:
        e = program.args[r][0]
        w = _weight(program, values, r)
        t = _tangent_of(result, e, q)
        if rows.row[e]:  # a column's reduction: row i moves alone, or all rows move with a number
            t = np.broadcast_to(t, (n, q))
            weighted = t * (w[:, None] if np.ndim(w) else w)
            total = weighted.sum(axis=0)
            change = np.where(columns, weighted[:, :p], total[:p])
        else:  # a reduction of one number is that number (times its weight)
            total = t * w
            change = np.broadcast_to(total[:p], (n, p)).copy()
        for before, c in enumerate(total[p:p + len(changes)]):
            if c != 0.0:
                change = change + c * changes[before]
        changes.append(change)
        coupling.append(total[p:])
        weights.append(w)
    return changes, coupling, weights


def _weight(program: Program, values: list, r: int):
    """The reduction's partial derivative in its argument (1 for sum, 1/n for mean, 0 for
    count), from the table's rule at the program's values."""
    rule = plan(program).rules[r][0]
    if rule.const is not None:
        return np.float64(rule.const)
    with np.errstate(all="ignore"):
        return rule.fn(*[values[a] for a in program.args[r]], values[r])


def _tangent_of(result: tangent.TangentSweep, i: int, q: int):
    t = result.tangents[i]
    return np.zeros(q) if t is None else np.asarray(t)


def _totals(tangents: _Tangents, o: int, n: int) -> np.ndarray:
    """(n, p): each row's own derivatives of node ``o`` in each chosen input."""
    p = tangents.p
    t = np.broadcast_to(_tangent_of(tangents.sweep, o, p + len(tangents.changes)),
                        (n, p + len(tangents.changes)))
    total = t[:, :p]
    for k, change in enumerate(tangents.changes):
        total = total + t[:, p + k, None] * change
    return total


def _report(values, row_output: bool, shared_only: bool, shared: str):
    """A result on each row, as reported: an output that is one number gives one number where
    only numbers given once are involved; an output per row, the sum over rows or each row's."""
    if not shared_only:
        return values
    if not row_output:
        return values[0]  # every row holds the same number
    return np.sum(values) if shared == "sum" else values


def row_forward(program: Program, inputs: list, chosen: Selection, rows: Meeting,
                shared: str = "sum") -> Evaluation:
    """Values and each row's own first derivatives by forward mode (see the module's text)."""
    outs = chosen.output_nodes
    tangents = _tangents(program, inputs, chosen.wrt, outs, rows)
    values = tangents.values
    gradient = {}
    for o, name in zip(outs, chosen.output_names, strict=True):
        totals = _totals(tangents, o, rows.n)
        gradient[name] = {x: _report(totals[:, j], rows.row[o], np.ndim(inputs[k]) == 0, shared)
                          for j, (x, k) in enumerate(zip(chosen.wrt_names, chosen.wrt,
                                                         strict=True))}
    bad = None
    if not all(all_finite(g) for row in gradient.values() for g in row.values()):
        bad = tangents.again(reaches(program, outs))  # the same positions in both programs
    return Evaluation(program, dict(zip(program.input_names, inputs, strict=True)),
                      {name: values[o] for o, name in zip(outs, chosen.output_names,
                                                          strict=True)},
                      gradient, warnings_for(program, values, list(outs), bad), values)


# --- second derivatives ------------------------------------------------------------------------


def _hessian_rows(program: Program, inputs: list, wrt_k: Sequence[int], outputs: Sequence[int],
                  rows: Meeting) -> dict[int, np.ndarray]:
    """Per output node: (n, p, p), the Hessian of each row's output in the chosen inputs (row
    i's own for a column, the shared number for a number given once)."""
    for r in rows.carrying:
        if not _linear(program, r):
            raise InputError(f"second derivatives over rows through {program.ops[r].name} are "
                             "not defined: it is not linear in its argument")
    n, p = rows.n, len(wrt_k)
    q = p + len(rows.carrying)
    tangents = _tangents(program, inputs, wrt_k, outputs, rows)
    check_hessian(len(outputs) + len(rows.carrying), q)
    curvature = _frozen_hessians(tangents, inputs, wrt_k, outputs, rows)
    own, away = _moves(tangents, [np.ndim(inputs[k]) == 1 for k in wrt_k], n)
    second_changes = _second_changes(program, rows, tangents, curvature, own, away)
    result = {}
    for j, o in enumerate(outputs):  # the second-order chain rule through F_o
        t = np.broadcast_to(_tangent_of(tangents.sweep, o, q), (n, q))
        h = _quadratic(own, curvature[f"%o{j}"], own)
        for k, change in enumerate(second_changes):
            h = h + t[:, p + k, None, None] * change
        result[o] = h
    return result


def _moves(tangents: _Tangents, columns: Sequence[bool], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, p, q) twice: per unit of chosen input u, the change of the frozen program's variables
    (the chosen inputs, then the carrying reductions) on row i itself, and on any other row (a
    column moves on row i only; a number and the reductions move everywhere)."""
    p = tangents.p
    own = np.zeros((n, p, p + len(tangents.changes)))
    own[:, range(p), range(p)] = 1.0
    for k, change in enumerate(tangents.changes):
        own[:, :, p + k] = change
    away = own.copy()
    for u, column in enumerate(columns):
        if column:
            away[:, u, u] = 0.0
    return own, away


def _second_changes(program: Program, rows: Meeting, tangents: _Tangents, curvature: dict,
                    own: np.ndarray, away: np.ndarray) -> list[np.ndarray]:
    """Per carrying reduction, in program order: (n, p, p), its second derivative in each pair
    of chosen inputs as row i sees it. A reduction is linear, so this is the sum over rows of
    its weight times its argument's curvature along each row's move (row i's own move on row i,
    ``away`` elsewhere), plus the earlier reductions' second changes through the argument."""
    changes: list[np.ndarray] = []
    for k, r in enumerate(rows.carrying):
        h, w = curvature[f"%a{r}"], tangents.weights[k]
        if rows.row[program.args[r][0]]:
            w_rows = w[:, None, None] if np.ndim(w) else w
            total = _quadratic(away, np.sum(w_rows * h, axis=0), away) + w_rows * (
                _quadratic(own, h, own) - _quadratic(away, h, away))
        else:  # the argument is one number: one row's worth
            total = _quadratic(away, w * h[0], away)
        for before, c in enumerate(tangents.coupling[k][:k]):
            if c != 0.0:
                total = total + c * changes[before]
        changes.append(total)
    return changes


def _frozen_hessians(tangents: _Tangents, inputs, wrt_k, outputs, rows) -> dict[str, np.ndarray]:
    """Per output of the frozen program: (n, q, q), its per-row Hessian in the chosen inputs and
    the carrying reductions, each given as a column so that every entry is per row."""
    frozen, values, n = tangents.frozen, tangents.values, rows.n
    chosen_k, carry = set(wrt_k), set(rows.carrying)
    at = {}
    for k, (name, x) in enumerate(zip(frozen.input_names, [*inputs, *(values[r] for r in
                                                                       rows.frozen)],
                                      strict=True)):
        spread = k in chosen_k or (k >= len(inputs) and rows.frozen[k - len(inputs)] in carry)
        at[name] = np.full(n, x) if spread and not np.ndim(x) else x
    names = [frozen.input_names[k] for k in wrt_k] + list(map(frozen_name, rows.carrying))
    entries = second.hessian(frozen, at, names, frozen.output_names)
    q = len(names)
    found = {}
    for out, matrix in entries.items():
        h = np.empty((n, q, q))
        for a, x in enumerate(names):
            for b, y in enumerate(names):
                h[:, a, b] = matrix[x][y]
        found[out] = h
    return found


def _quadratic(left: np.ndarray, h: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(n, p, p): left[i, u] . h[i] . right[i, v] for every row i (``h`` may be one matrix)."""
    return np.matmul(np.matmul(left, h), np.swapaxes(right, -1, -2))


def _linear(program: Program, r: int) -> bool:
    """Is the reduction at ``r`` linear in its argument, near the point: does its rule (its
    weight per row) use the argument's rows only through other reductions (``count``) or
    through functions whose derivatives are all 0 (``equal``: ``maxrows`` picks its rows, and
    the pick does not move with them)?"""
    rule = plan(program).rules[r][0]
    if rule.const is not None:
        return True
    moves = [False] * len(rule.steps)  # does the step's value move with the rows' values?
    for j, step in enumerate(rule.steps):
        if step[0] in ("param", "own"):
            moves[j] = True
        elif step[0] == "op" and not (step[1].reduces or _flat(step[1])):
            moves[j] = any(moves[a] for a in step[2])
    return not moves[rule.result]


def _flat(prim) -> bool:
    """Is every partial derivative of ``prim`` the constant 0 (``sign``, ``step``, ``equal``)?"""
    return prim.kind != "custom" and all(rule.const == 0.0 for rule in rules_for(prim))


# --- the API: routed here when rows meet through a reduction -------------------------------------


def _bound(program: Program, at: Mapping[str, object]) -> list:
    return [as_value(x) for x in bind_inputs(program, at)]


def _check_shared(shared: str) -> None:
    if shared not in SHARED:
        raise ValueError(f"shared must be one of {SHARED}, not {shared!r}")


def spread(program: Program, at: Mapping[str, object], wrt_k: Sequence[int]) -> dict:
    """``at`` with each chosen number (``wrt_k``: input numbers) repeated on every row, where
    some input is a column: where rows do not meet, the ordinary evaluators then give each row's
    own derivative in it instead of the sum over the rows."""
    inputs = _bound(program, at)
    n = _row_count(inputs)
    if n is None:
        return dict(at)
    spread_at = dict(at)
    for k in wrt_k:
        if not np.ndim(inputs[k]):
            spread_at[program.input_names[k]] = np.full(n, inputs[k])
    return spread_at


def evaluate_forward(program: Program, at: Mapping[str, object],
                     wrt: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
                     derivatives: bool = True, shared: str = "sum") -> Evaluation:
    """Like :func:`slpdiff.evaluate`, with the partial derivatives by forward mode: one sweep
    carrying one tangent per input in ``wrt`` (and, where rows meet through a reduction, one per
    reduction). The results equal reverse mode's to rounding. On arrays of rows each row's own
    derivatives; a number given with arrays is summed over the rows (``shared="sum"``, as
    reverse mode does) or given per row (``"row"``)."""
    _check_shared(shared)
    inputs = _bound(program, at)
    chosen = select(program, wrt, outputs)
    rows = meeting(program, inputs, chosen.wrt_nodes, chosen.output_nodes, shared,
                   always=True) if derivatives else None
    if rows is None:
        if shared == "row":
            at = spread(program, at, chosen.wrt)
        return tangent.evaluate_forward(program, at, wrt, outputs, derivatives)
    return row_forward(program, inputs, chosen, rows, shared)


def jvp(program: Program, at: Mapping[str, object], direction: Mapping[str, object],
        outputs: Sequence[str] | None = None) -> tuple[dict, dict]:
    """Values and directional derivatives (a Jacobian-vector product) by forward mode.

    ``direction`` maps input names to their component (missing inputs: 0; on rows, a component
    may be a column). Returns ``(values, derivatives)``, both dicts by output name; on arrays of
    rows, each row's own derivative along the direction.
    """
    inputs = _bound(program, at)
    positions = resolve_names(list(direction), program.input_names, "input")
    chosen = select(program, None, outputs)
    wrt_k = sorted(set(positions))
    rows = meeting(program, inputs, [program.input_index[k] for k in wrt_k], chosen.output_nodes,
                   "row", always=True)
    if rows is None:
        return tangent.jvp(program, at, direction, outputs)
    tangents = _tangents(program, inputs, wrt_k, chosen.output_nodes, rows)
    component = {k: as_value(direction[program.input_names[k]]) for k in positions}
    values, derivatives = {}, {}
    only_shared = all(np.ndim(inputs[k]) == 0 for k in wrt_k)
    for o, name in zip(chosen.output_nodes, chosen.output_names, strict=True):
        totals = _totals(tangents, o, rows.n)
        along = np.zeros(rows.n)
        for j, k in enumerate(wrt_k):
            along = along + totals[:, j] * component[k]
        values[name] = tangents.values[o]
        derivatives[name] = _report(along, rows.row[o], only_shared, "row")
    return values, derivatives


def hessian(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
            outputs: Sequence[str] | None = None,
            shared: str = "sum") -> dict[str, dict[str, dict[str, object]]]:
    """The Hessian of each output (or of those in ``outputs``) with respect to the inputs (or
    those in ``wrt``): ``result[out][x][w]`` is the second derivative in ``x`` and ``w``, by
    forward mode over the adjoint program (:func:`slpdiff.core.hessian.hessian`).

    Symmetric to rounding. On arrays of rows each entry is per row: the Hessian of each row's
    output in that row's inputs, through reductions too; an entry in two numbers given with
    arrays is summed over the rows (``shared="sum"``, as gradients are) or given per row
    (``"row"``).
    """
    _check_shared(shared)
    inputs = _bound(program, at)
    chosen = select(program, wrt, outputs)
    rows = meeting(program, inputs, chosen.wrt_nodes, chosen.output_nodes, shared, always=True)
    if rows is None:
        if shared == "row":
            at = spread(program, at, chosen.wrt)
        return second.hessian(program, at, wrt, outputs)
    found = _hessian_rows(program, inputs, chosen.wrt, chosen.output_nodes, rows)
    numbers = [np.ndim(inputs[k]) == 0 for k in chosen.wrt]
    names = chosen.wrt_names
    return {name: {x: {y: _report(found[o][:, a, b], rows.row[o], numbers[a] and numbers[b],
                                  shared)
                       for b, y in enumerate(names)} for a, x in enumerate(names)}
            for o, name in zip(chosen.output_nodes, chosen.output_names, strict=True)}


def hvp(program: Program, at: Mapping[str, object], direction: Mapping[str, object],
        wrt: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
        shared: str = "sum") -> dict[str, dict[str, object]]:
    """The Hessian-vector product ``H v`` of each output, ``v`` given by ``direction`` (input
    name -> component; inputs not named are 0): ``result[out][x] = sum over w of H[x][w] v[w]``,
    in one forward sweep through the adjoint program (where rows meet through a reduction, from
    each row's Hessian). On arrays of rows each row's own; an entry for a number given with
    arrays is summed over the rows (``shared="sum"``, as gradients are) or given per row
    (``"row"``)."""
    _check_shared(shared)
    inputs = _bound(program, at)
    chosen = select(program, wrt, outputs)
    second.check_vector(direction, program, chosen.wrt_names)
    rows = meeting(program, inputs, chosen.wrt_nodes, chosen.output_nodes, shared, always=True)
    if rows is None:
        if shared == "row":
            at = spread(program, at, chosen.wrt)
        return second.hvp(program, at, direction, wrt, outputs)
    found = _hessian_rows(program, inputs, chosen.wrt, chosen.output_nodes, rows)
    names = chosen.wrt_names
    numbers = [np.ndim(inputs[k]) == 0 for k in chosen.wrt]
    component = [as_value(direction.get(x, 0.0)) for x in names]
    result = {}
    for o, name in zip(chosen.output_nodes, chosen.output_names, strict=True):
        h, entries = found[o], {}
        for a, x in enumerate(names):
            by_columns = sum((h[:, a, b] * v for b, v in enumerate(component) if not numbers[b]),
                             np.zeros(rows.n))
            by_numbers = sum((h[:, a, b] * v for b, v in enumerate(component) if numbers[b]),
                             np.zeros(rows.n))
            if not numbers[a] or shared == "row":
                entries[x] = by_columns + by_numbers
            elif rows.row[o]:  # the sum over the rows of each row's own
                entries[x] = np.sum(by_columns + by_numbers)
            else:  # one number's: every row's columns move, the numbers once
                entries[x] = np.sum(by_columns) + by_numbers[0]
        result[name] = entries
    return result
