"""The reference engine: evaluation and reverse-mode differentiation (Linnainmaa's method).

This is the whole method, in the form every other evaluator must reproduce bit for bit. It is
generic: :func:`forward` walks the program's nodes in order, calling the primitive table's numpy
functions, and :func:`reverse_sweep` walks the terms of the reverse sweep
(:func:`~slpdiff.core.schedule.sweep_terms`, the one order every evaluator shares), calling the
table's compiled derivative rules. It never names an operation. Values and adjoints live in lists
indexed by node position, outside the program, so one parsed program can be evaluated at many
points; a value is a float64 numpy scalar or array, and every primitive broadcasts, so a whole
array of points goes through in one pass.

Faster evaluators exist (:mod:`slpdiff.fast`) and :func:`slpdiff.evaluation.evaluate` decides
which one runs; a reader can skip them: they compute exactly what this module computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..language.program import Program
from ..language.rules import rules_for
from .schedule import Selection, depends, plan, reaches, sweep_terms


def as_value(x):
    """``x`` as a float64 numpy scalar, or a float64 array if it has a shape."""
    if isinstance(x, np.ndarray) and x.ndim:
        return x.astype(np.float64, copy=False)
    if isinstance(x, (list, tuple)):
        return np.asarray(x, dtype=np.float64)
    return np.float64(x)


def forward(program: Program, inputs: Sequence) -> list:
    """The value of every node, given the inputs' values in ``program.input_index`` order."""
    layout = plan(program)
    values = list(layout.constants)
    for i, x in zip(program.input_index, inputs, strict=True):
        values[i] = as_value(x)
    # Domain errors and overflow give IEEE nan/inf; the caller reports them (see warnings_for).
    with np.errstate(all="ignore"):
        for i, impl, args in layout.steps:
            values[i] = impl(*[values[a] for a in args])
    return values


def adjoints(program: Program, values: list, output: int, wrt: Sequence[int] | None = None,
             record: Callable | None = None) -> list:
    """The adjoint of every node for the output at position ``output`` (None: no path to it).

    Only nodes that depend on an input in ``wrt`` (positions; default all inputs) get derivative
    work, so constants such as the exponent in ``x^2`` never have a rule evaluated. ``record``, if
    given, is called for every adjoint update the sweep makes, in order (see
    :func:`reverse_sweep`).
    """
    return reverse_sweep(program, values, output, depends(program, wrt), record=record)[0]


def reverse_sweep(program: Program, values: list, output: int, needs: Sequence[bool],
                  check: bool = False, record: Callable | None = None):
    """The reverse sweep: (every node's adjoint, None where no term reached it; with ``check``,
    the first node (lowest position) whose local partial derivative is not finite, as
    (position, argument number, partial), else None).

    Each term ``adjoint[c] += adjoint[i] * partial`` comes from
    :func:`~slpdiff.core.schedule.sweep_terms`. With ``record``, each is reported as it happens:
    ``record(i, k, partial, contribution, adjoint_after)`` for argument ``k`` of node ``i``
    (traces read the sweep's own numbers this way; without a recorder the sweep pays one test
    per term).
    """
    args_of = program.args
    adjoint: list = [None] * len(values)
    adjoint[output] = np.ones_like(values[output])[()]
    first_bad = None
    node = -1
    local: list | None = None
    with np.errstate(all="ignore"):
        for i, k, c, rule, first in sweep_terms(program, needs, output):
            if i != node:
                node, local = i, None
            a = adjoint[i]
            if rule.const is not None:
                partial = rule.const
                g = a if rule.const == 1.0 else a * rule.const
            else:
                if local is None:
                    local = [values[j] for j in args_of[i]]
                partial = rule.fn(*local, values[i])
                if check and not all_finite(partial) and (first_bad is None
                                                          or first_bad[0] != i):
                    first_bad = (i, k, partial)  # the lowest node; its first argument
                g = a * partial
            g = fit(g, values[c])
            adjoint[c] = g if first else adjoint[c] + g
            if record is not None:
                record(i, k, partial, g, adjoint[c])
    return adjoint, first_bad


def fit(g, like):
    """``g`` summed or broadcast to the shape of ``like`` (a parameter's adjoint sums over rows)."""
    shape = np.shape(like)
    if np.shape(g) == shape:
        return g
    if not shape:
        return np.sum(g)
    if not np.shape(g):
        return np.broadcast_to(g, shape)
    extra = np.ndim(g) - len(shape)
    axes = tuple(range(extra)) + tuple(extra + k for k, n in enumerate(shape) if n == 1)
    return np.sum(g, axis=axes, keepdims=True).reshape(shape)


def all_finite(x) -> bool:
    """Is every number of ``x`` (a float, numpy scalar or array) finite?"""
    if isinstance(x, float):
        return math.isfinite(x)
    return bool(np.isfinite(x).all())


# --- results -----------------------------------------------------------------------------------


@dataclass
class NonFinite:
    """The first place where a value (``kind="value"``) or a local partial derivative
    (``kind="derivative"``, of argument number ``argument``) stopped being finite, among the
    nodes that reach an output."""

    kind: str
    program: Program
    position: int  # the node's position in the program
    value: object  # the offending value (scalar or array)
    argument: int = 0
    count: int = 1  # how many points (rows) are affected, for array evaluation

    @property
    def line(self) -> int:
        return self.program.lines[self.position]

    @property
    def column(self) -> int:
        return self.program.columns[self.position]

    def describe(self) -> str:
        """A one-line message, without the location."""
        shown = _first_nonfinite(self.value)
        rows = f" at {self.count} points" if self.count > 1 else ""
        i = self.position
        op = self.program.ops[i]
        if self.kind == "derivative":
            rule = rules_for(op)[self.argument]
            return (f"non-finite derivative {shown}{rows} from the rule d/d{rule.param} "
                    f"{op.signature} = {rule.text} (the first that reaches an output)")
        if self.program.is_input(i):
            source = f"input {self.program.names[i]}"
        elif op is None:
            source = "a number"
        else:
            source = op.name
        return f"non-finite value {shown}{rows} from {source} (the first that reaches an output)"


@dataclass
class Evaluation:
    """The result of :func:`slpdiff.evaluate`: values and partial derivatives, labelled by name."""

    program: Program
    at: dict[str, object]  # every input's value, in input order
    values: dict[str, object]  # every (chosen) output's value, in output order
    gradient: dict[str, dict[str, object]]  # output -> input -> partial derivative
    warnings: list[NonFinite] = field(default_factory=list)
    node_values: Sequence = field(default_factory=list, repr=False)  # every node's value

    def _repr_html_(self) -> str | None:
        """The values and partial derivatives as a table, as a notebook shows an Evaluation
        (None, for the plain text, when they are arrays: evaluated at many points)."""
        from ..formats import evaluation_json
        from ..htmlformat import block, evaluation_html, warning_html

        if any(np.ndim(v) for v in self.at.values()):
            return None
        return block(*(warning_html(w.describe()) for w in self.warnings),
                     evaluation_html(evaluation_json(self)))


class NodeValues(Sequence):
    """Every node's value as :func:`forward` gives it (float64 numpy scalars), made on access from
    a fast path's floats, or computed by ``compute()`` on first access."""

    def __init__(self, floats: list | None = None, compute: Callable[[], list] | None = None):
        self._floats = floats
        self._compute = compute
        self._values: list | None = None

    def _get(self) -> list:
        if self._values is None:
            self._values = (list(map(np.float64, self._floats)) if self._compute is None
                            else self._compute())
        return self._values

    def __getitem__(self, i):
        return self._get()[i]

    def __len__(self) -> int:
        return len(self._floats) if self._floats is not None else len(self._get())


def evaluate_reference(program: Program, inputs: list, chosen: Selection,
                       derivatives: bool = True) -> Evaluation:
    """Values and partial derivatives by this engine: one :func:`forward`, then one
    :func:`reverse_sweep` per chosen output. ``inputs`` are float64 values (:func:`as_value`) in
    program order. Non-finite values and partials that reach an output are reported in
    ``warnings`` (the first of each kind)."""
    out_index = chosen.output_nodes
    out_names = chosen.output_names
    wrt_index, wrt_names = chosen.wrt_nodes, chosen.wrt_names
    needs = depends(program, wrt_index)
    values = forward(program, inputs)
    result = Evaluation(program, dict(zip(program.input_names, inputs, strict=True)),
                        {name: values[i] for name, i in zip(out_names, out_index, strict=True)},
                        {}, node_values=values)
    bad_partial = None
    for name, o in zip(out_names, out_index, strict=True):
        if not wrt_index:  # nothing to differentiate with respect to: no sweep
            result.gradient[name] = {}
            continue
        adjoint, _ = reverse_sweep(program, values, o, needs)
        row = {}
        for name_x, i in zip(wrt_names, wrt_index, strict=True):
            a = adjoint[i]
            row[name_x] = np.zeros_like(values[i])[()] if a is None else a
        result.gradient[name] = row
        if bad_partial is None and not all(all_finite(g) for g in row.values()):
            _, bad_partial = reverse_sweep(program, values, o, needs, check=True)
    if not derivatives:
        result.gradient = {}
    result.warnings = warnings_for(program, values, out_index, bad_partial)
    return result


def warnings_for(program: Program, values: Sequence, outputs: list[int],
                 bad_partial) -> list[NonFinite]:
    """The first non-finite value among the nodes reaching ``outputs``, and the non-finite partial
    ``bad_partial`` (from :func:`reverse_sweep`'s check), as :class:`NonFinite` warnings."""
    found = []
    reach = reaches(program, outputs)
    for i, value in enumerate(values):
        if reach[i] and not all_finite(value):
            found.append(NonFinite("value", program, i, value, count=_count_bad(value)))
            break
    if bad_partial is not None:
        i, k, partial = bad_partial
        found.append(NonFinite("derivative", program, i, partial, k, count=_count_bad(partial)))
    return found


def _count_bad(x) -> int:
    return int(np.size(x) - np.count_nonzero(np.isfinite(x)))


def _first_nonfinite(x) -> str:
    flat = np.ravel(x)
    bad = flat[~np.isfinite(flat)]
    return repr(float(bad[0])) if bad.size else repr(float(flat[0]))
