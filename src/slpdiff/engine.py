"""Evaluation and reverse-mode differentiation of a ``Program`` (Linnainmaa's method).

The engine is generic: it walks ``program.nodes`` in order to evaluate and in reverse order to
propagate adjoints, calling the primitive table's numpy functions and compiled derivative rules. It
never names an operation. Values and adjoints live in lists indexed like ``program.nodes``, outside
the nodes, so one parsed program can be evaluated at many points; a value is a float64 numpy scalar
or array, and every primitive broadcasts, so a whole array of points goes through in one pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .graph import Program, Var
from .rules import rules_for


def as_value(x):
    """``x`` as a float64 numpy scalar, or a float64 array if it has a shape."""
    if isinstance(x, np.ndarray) and x.ndim:
        return x.astype(np.float64, copy=False)
    if isinstance(x, (list, tuple)):
        return np.asarray(x, dtype=np.float64)
    return np.float64(x)


def forward(program: Program, inputs: Sequence) -> list:
    """The value of every node, given the inputs' values in ``program.inputs`` order."""
    values = list(_plan(program).constants)
    for i, x in zip(program.input_index, inputs, strict=True):
        values[i] = as_value(x)
    # Domain errors and overflow give IEEE nan/inf; the caller reports them (see find_nonfinite).
    with np.errstate(all="ignore"):
        for i, impl, args in _plan(program).steps:
            values[i] = impl(*[values[a] for a in args])
    return values


def adjoints(program: Program, values: list, output: int, wrt: Sequence[int] | None = None,
             record: Callable | None = None) -> list:
    """The adjoint of every node for the output at position ``output`` (None: no path to it).

    Only nodes that depend on an input in ``wrt`` (positions; default all inputs) get derivative
    work, so constants such as the exponent in ``x^2`` never have a rule evaluated. ``record``, if
    given, is called for every adjoint update the sweep makes, in order (see :func:`_sweep`).
    """
    return _sweep(program, values, output, _depends(program, wrt), record=record)[0]


def _sweep(program: Program, values: list, output: int, needs: list[bool], check: bool = False,
           record: Callable | None = None):
    """The reverse sweep; with ``check``, also the first node (lowest position) whose local
    partial derivative is not finite, as (position, argument number, partial) or None.

    With ``record``, each update ``adjoint[c] += adjoint[i] * partial`` is reported as it happens:
    ``record(i, k, partial, contribution, adjoint_after)`` for argument ``k`` of node ``i`` (traces
    read the sweep's own numbers this way; without a recorder the sweep pays one test per update).
    """
    plan = _plan(program)
    args_of = program.args
    adjoint: list = [None] * len(values)
    adjoint[output] = np.ones_like(values[output])[()]
    first_bad = None
    with np.errstate(all="ignore"):
        for i in range(output, -1, -1):
            a = adjoint[i]
            args = args_of[i]
            if a is None or not args:
                continue
            local = None
            for k, (rule, c) in enumerate(zip(plan.rules[i], args, strict=True)):
                if not needs[c]:
                    continue
                if rule.const is not None:
                    if rule.const == 0.0:
                        continue
                    g = a if rule.const == 1.0 else a * rule.const
                else:
                    if local is None:
                        local = [values[j] for j in args]
                    partial = rule.fn(*local, values[i])
                    if check and not _all_finite(partial) and (first_bad is None
                                                               or first_bad[0] != i):
                        first_bad = (i, k, partial)  # the lowest node; its first argument
                    g = a * partial
                g = _fit(g, values[c])
                adjoint[c] = g if adjoint[c] is None else adjoint[c] + g
                if record is not None:
                    record(i, k, partial if rule.const is None else rule.const, g, adjoint[c])
    return adjoint, first_bad


def _fit(g, like):
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


def _all_finite(x) -> bool:
    if isinstance(x, float):
        return math.isfinite(x)
    return bool(np.isfinite(x).all())


@dataclass
class _Plan:
    constants: list  # per node: its value if it is a constant, else None
    steps: list  # (position, numpy function, argument positions) for each operation
    rules: list  # per node: its compiled derivative rules (empty for leaves)


def _plan(program: Program) -> _Plan:
    plan = program._cache.get("plan")
    if plan is None:
        constants, steps, rules = [], [], []
        for i, node in enumerate(program.nodes):
            constants.append(np.float64(node.value) if node.is_const else None)
            if node.op is not None:
                steps.append((i, node.op.impl, program.args[i]))
                rules.append(rules_for(node.op))
            else:
                rules.append(())
        plan = program._cache["plan"] = _Plan(constants, steps, rules)
    return plan


def _depends(program: Program, wrt: Sequence[int] | None) -> list[bool]:
    """Per node: does it depend on one of the inputs at positions ``wrt``?"""
    key = ("depends", None if wrt is None else tuple(sorted(wrt)))
    needs = program._cache.get(key)
    if needs is None:
        needs = [False] * len(program.nodes)
        for i in (program.input_index if wrt is None else wrt):
            needs[i] = True
        for i, args in enumerate(program.args):
            if args and any(needs[a] for a in args):
                needs[i] = True
        program._cache[key] = needs
    return needs


def _reaches(program: Program, outputs: Sequence[int]) -> list[bool]:
    """Per node: is some output in ``outputs`` computed from it?"""
    key = ("reaches", tuple(outputs))
    reach = program._cache.get(key)
    if reach is None:
        reach = [False] * len(program.nodes)
        for i in outputs:
            reach[i] = True
        for i in range(len(reach) - 1, -1, -1):
            if reach[i]:
                for a in program.args[i]:
                    reach[a] = True
        program._cache[key] = reach
    return reach


# --- the library's evaluation API -------------------------------------------------------------


@dataclass
class NonFinite:
    """The first place where a value (``kind="value"``) or a local partial derivative
    (``kind="derivative"``, of argument number ``argument``) stopped being finite, among the
    nodes that reach an output."""

    kind: str
    node: Var
    value: object  # the offending value (scalar or array)
    argument: int = 0
    count: int = 1  # how many points (rows) are affected, for array evaluation

    def describe(self) -> str:
        """A one-line message, without the location."""
        shown = _first_nonfinite(self.value)
        rows = f" at {self.count} points" if self.count > 1 else ""
        op = self.node.op
        if self.kind == "derivative":
            rule = rules_for(op)[self.argument]
            return (f"non-finite derivative {shown}{rows} from the rule d/d{rule.param} "
                    f"{op.signature} = {rule.text} (the first that reaches an output)")
        if self.node.is_input:
            source = f"input {self.node.name}"
        elif op is None:
            source = "a number"
        else:
            source = op.name
        return f"non-finite value {shown}{rows} from {source} (the first that reaches an output)"


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: values and partial derivatives, labelled by name."""

    program: Program
    at: dict[str, object]  # every input's value, in input order
    values: dict[str, object]  # every (chosen) output's value, in output order
    gradient: dict[str, dict[str, object]]  # output -> input -> partial derivative
    warnings: list[NonFinite] = field(default_factory=list)
    node_values: list = field(default_factory=list, repr=False)  # every node's value


def bind_inputs(program: Program, at: Mapping[str, object]) -> list:
    """The inputs' values in program order, from a name -> value mapping.

    A missing input or a name that is not an input raises :class:`InputError` listing the inputs.
    """
    names = program.input_names
    known = set(names)  # a set: a program may have 100,000 inputs
    unknown = [name for name in at if name not in known]
    if unknown:
        verb = "is not an input" if len(unknown) == 1 else "are not inputs"
        raise InputError(f"{_quote(unknown)} {verb} of the program; its inputs are: "
                         f"{_inputs_list(program)}")
    missing = [name for name in names if name not in at]
    if missing:
        raise InputError(f"no value for input {_quote(missing)}; the program's inputs are: "
                         f"{_inputs_list(program)} (give them with --at NAME=VALUE)")
    return [at[name] for name in names]


def resolve_names(names: Sequence[str], known: Sequence[str], what: str) -> list[int]:
    """Positions in ``known`` of ``names``; an unknown name raises :class:`InputError`."""
    position: dict[str, int] = {}
    for k, name in enumerate(known):  # a dict, not list.index: linear in the number of names
        position.setdefault(name, k)
    positions = []
    for name in names:
        if name not in position:
            raise InputError(f"'{name}' is not {what}; the program's {what}s are: "
                             f"{', '.join(known) or '(none)'}")
        positions.append(position[name])
    return positions


def evaluate(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
             outputs: Sequence[str] | None = None, derivatives: bool = True) -> Evaluation:
    """Evaluate ``program`` at the point ``at`` (input name -> number or array).

    Returns values and, unless ``derivatives`` is false, the partial derivatives of each output
    (or of the ``outputs`` named) with respect to each input (or those in ``wrt``), by one reverse
    sweep per output. Non-finite values and partials that reach an output are reported in
    ``warnings`` (the first of each kind).
    """
    inputs = bind_inputs(program, at)
    wrt_pos = sorted(resolve_names(wrt if wrt is not None else program.input_names,
                                   program.input_names, "input"))  # results in program order
    out_pos = resolve_names(outputs if outputs is not None else program.output_names,
                            program.output_names, "output")
    out_index = [program.output_index[k] for k in out_pos]
    if derivatives and len(out_index) > 1:
        from .limits import check_reverse

        check_reverse(len(out_index), len(program.nodes))
    out_names = [program.output_names[k] for k in out_pos]
    wrt_index = [program.input_index[k] for k in wrt_pos]
    wrt_names = [program.input_names[k] for k in wrt_pos]
    needs = _depends(program, wrt_index)
    inputs = [as_value(x) for x in inputs]
    at_values = dict(zip(program.input_names, inputs, strict=True))

    from .lowered import evaluate as fast  # the same results, computed with less overhead

    done = fast(program, inputs, needs, out_index, wrt_index)
    if done is not None:
        out_values, rows, node_values = done
        gradient = {name: dict(zip(wrt_names, row, strict=True))
                    for name, row in zip(out_names, rows, strict=True)} if derivatives else {}
        return Evaluation(program, at_values, dict(zip(out_names, out_values, strict=True)),
                          gradient, node_values=node_values)

    values = forward(program, inputs)
    result = Evaluation(program, at_values,
                        {name: values[i] for name, i in zip(out_names, out_index, strict=True)},
                        {},
                        node_values=values)
    bad_partial = None
    for name, o in zip(out_names, out_index, strict=True):
        adjoint, _ = _sweep(program, values, o, needs)
        row = {}
        for name_x, i in zip(wrt_names, wrt_index, strict=True):
            a = adjoint[i]
            row[name_x] = np.zeros_like(values[i])[()] if a is None else a
        result.gradient[name] = row
        if bad_partial is None and not all(_all_finite(g) for g in row.values()):
            _, bad_partial = _sweep(program, values, o, needs, check=True)
    if not derivatives:
        result.gradient = {}
    result.warnings = _warnings(program, values, out_index, bad_partial)
    return result


def _warnings(program: Program, values: list, outputs: list[int], bad_partial) -> list[NonFinite]:
    found = []
    reach = _reaches(program, outputs)
    for i, value in enumerate(values):
        if reach[i] and not _all_finite(value):
            found.append(NonFinite("value", program.nodes[i], value, count=_count_bad(value)))
            break
    if bad_partial is not None:
        i, k, partial = bad_partial
        found.append(NonFinite("derivative", program.nodes[i], partial, k,
                               count=_count_bad(partial)))
    return found


def _count_bad(x) -> int:
    return int(np.size(x) - np.count_nonzero(np.isfinite(x)))


def _first_nonfinite(x) -> str:
    flat = np.ravel(x)
    bad = flat[~np.isfinite(flat)]
    return repr(float(bad[0])) if bad.size else repr(float(flat[0]))


def _quote(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _inputs_list(program: Program) -> str:
    return ", ".join(program.input_names) or "(none)"
