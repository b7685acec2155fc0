"""``evaluate``: values and partial derivatives of a program, and the one place that decides which
evaluator computes them.

Every evaluator gives the reference engine's numbers bit for bit (they add the same terms in the
same order: :func:`~slpdiff.core.schedule.sweep_terms`), so the choice is about speed only:

==========================================  ======================================================
situation                                   evaluator
==========================================  ======================================================
every input a number: the path of least     the reference engine: ``core.engine.evaluate_reference``
estimated cost for the evaluations to come  (a program of a few dozen nodes, evaluated a few times);
(:mod:`.fast.costs`: each path's cost per   the engine's computation interpreted on Python floats,
node, measured; the evaluations to come:    nothing compiled: ``fast.point.PointRun`` (larger
those a caller expects, :func:`expect`,     programs, the first evaluations: ``slpdiff eval --at``
else as many as were done, this one         at every size); compiled Python on floats:
included)                                   ``fast.point.PointCode`` (once the evaluations pay for
                                            compiling: an optimizer's 100 steps from about 30,000
                                            nodes, a loop of calls after 90 to 130 of them)
arrays of rows (``--points``, grids,        compiled numpy calls on cache-sized slices of rows:
``optimize --data``), the same choice in    ``fast.slices.SliceCode`` (rows that pay for compiling:
rows (one evaluation, or as many rows as    about 8,000 in one evaluation at 10,000 nodes, fewer as
were done, or the evaluations expected)     programs grow and all rows' chunks shrink; fewer with
                                            more evaluations); otherwise all rows at once,
                                            as below
arrays, when one pass over slices cannot    ``fast.all_rows.AllRowsRun``; where rows meet (a
(a column computed from a reduction), or    reduction) in a program of at most
more than ``slices.MAX_NODES`` nodes        ``all_rows.COMPILE_MAX_NODES`` nodes evaluated again
(memory: the slices' buffers)               (or expected to be), compiled straight-line code:
                                            ``fast.all_rows.AllRowsCode``
anything not finite, a fast path's Python   the reference engine, which locates the warnings
error (``1/0``), seed-style ``Var`` ops
with Python rules
==========================================  ======================================================

Not through here: ``trace``, ``graph`` and ``explain`` run the reference engine with its
``record`` hook (they show its own numbers); forward mode and Hessians have their own sweep
(:mod:`slpdiff.core.tangent`, over the adjoint program for Hessians), except Hessian-vector
products on rows in numbers given once (:func:`hvp`: reverse mode here over ``v . grad y``);
``grad`` writes the sweep out as a program (:mod:`slpdiff.core.adjoint`).

What a call fixes is kept with the program (:func:`selection`, the columns for the inputs'
shapes, a path once it is prepared and cheapest whatever comes, the all-rows run), so the same
program evaluated again pays only for its arithmetic.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache

import numpy as np

from .core.engine import Evaluation, NodeValues, as_value, evaluate_reference, forward
from .core.schedule import Selection, bind_inputs, depends, per_row, select, supported
from .fast.all_rows import AllRowsRun, chunk_rows, compile_all_rows
from .fast.costs import cheapest, point_costs, rows_costs
from .language.program import Memo, Program
from .limits import check_reverse

__all__ = ["Evaluation", "evaluate", "evaluate_inputs", "expect", "fast_path", "force",
           "force_compile", "hvp", "selection"]

WORK = Memo("evaluations done and expected")
POINT_RUN = Memo("interpreted code at a point")
POINT_CODE = Memo("compiled code at a point")
SLICE_CODE = Memo("compiled slices (False: the program needs all rows at once)")
ALL_ROWS = Memo("all-rows layout", keep=1)  # one layout at a time: its buffers are large
ALL_ROWS_CODE = Memo("all-rows code (None: interpreted)", keep=8)
SELECTIONS = Memo("the inputs and outputs of a call, by the names given", keep=64)
CHOSEN = Memo("nodes, names and masks of a selection", keep=64)
COLUMNS = Memo("which nodes are columns, for the shapes of the inputs", keep=4)
POINT_PATHS = ("engine", "interpreted", "compiled")
POINT_KINDS = {"interpreted": POINT_RUN, "compiled": POINT_CODE}
ROW_PATHS = ("slices", "all rows")


class _Work:
    """The evaluations done on a program and how many are expected (see :mod:`.fast.costs`)."""

    points = 0  # evaluations at a point
    rows = 0  # rows evaluated, over every evaluation on rows
    calls = 0  # evaluations of either kind
    until = 0  # ``calls`` once the evaluations a caller expects are done (0: none expected)
    forced_point: str | None = None  # the path chosen by :func:`force` at points
    forced_rows: str | None = None  # and on rows

    def __init__(self) -> None:
        self.settled: dict = {}  # key -> a path prepared and cheapest whatever comes (_settled)

    def remaining(self, otherwise: float) -> float:
        """The evaluations still expected, this one included; ``otherwise`` if none are."""
        return self.until - self.calls if self.until > self.calls else otherwise


def evaluate(program: Program, at: Mapping[str, object], wrt: Sequence[str] | None = None,
             outputs: Sequence[str] | None = None, derivatives: bool = True) -> Evaluation:
    """Evaluate ``program`` at the point ``at`` (input name -> number or array).

    Returns values and, unless ``derivatives`` is false, the partial derivatives of each output
    (or of the ``outputs`` named) with respect to each input (or those in ``wrt``), by one reverse
    sweep per output. Non-finite values and partials that reach an output are reported in
    ``warnings`` (the first of each kind).

    On arrays of rows, each row's own derivatives (:mod:`slpdiff.core.rows`, also where rows
    meet through a reduction); a number given with arrays is one parameter shared by the rows, and
    its derivative is summed over them (the derivative of the rows' total).

    What a call fixes (the names chosen, the plan for the inputs' shapes, compiled code) is kept
    with the program, so the same program evaluated again pays only for its arithmetic.
    """
    inputs = bind_inputs(program, at)  # its errors first, then those of the names
    chosen = selection(program, wrt, outputs, derivatives)
    inputs = [as_value(x) for x in inputs]
    if derivatives and any(x.ndim for x in inputs):
        over_rows = _module(".core.rows")
        facts = _chosen(program, chosen)
        rows = over_rows.meeting(program, inputs, facts.wrt, facts.outputs)
        if rows is not None:  # rows that meet through a reduction: each row's own derivatives
            return over_rows.row_gradient(program, inputs, chosen, rows, evaluate_inputs)
    return evaluate_inputs(program, inputs, chosen, derivatives)


def selection(program: Program, wrt: Sequence[str] | None = None,
              outputs: Sequence[str] | None = None, derivatives: bool = True) -> Selection:
    """The inputs and outputs a call of :func:`evaluate` is about (:func:`.core.schedule.select`;
    no inputs when ``derivatives`` is false), checked against the limits, kept with the program
    for the names given."""
    wrt = None if wrt is None else tuple(wrt)  # read once: any iterable of names will do
    outputs = None if outputs is None else tuple(outputs)

    def make() -> Selection:
        chosen = select(program, wrt, outputs)
        if not derivatives:
            chosen = replace(chosen, wrt=())  # values only: no sweep at all
        if chosen.wrt and len(chosen.outputs) > 1:
            check_reverse(len(chosen.outputs), len(program))
        return chosen

    key = (wrt, outputs, bool(derivatives))
    try:
        hash(key)
    except TypeError:  # names that cannot be a key: the errors select() gives
        return make()
    return program.memo(SELECTIONS, key, make)


def evaluate_inputs(program: Program, inputs: list, chosen: Selection,
                    derivatives: bool = True) -> Evaluation:
    """:func:`evaluate` of inputs already bound (float64 values in program order) by the
    evaluator the module's table chooses, rows taken as independent: on arrays, the reverse sweep
    seeded with ones over the rows (:mod:`slpdiff.core.rows` builds each row's own derivatives
    on it where rows meet through a reduction)."""
    done = fast_path(program, inputs, chosen)
    if done is None:
        return evaluate_reference(program, inputs, chosen, derivatives)
    out_values, rows, node_values = done
    facts = _chosen(program, chosen)
    gradient = {name: dict(zip(facts.wrt_names, row, strict=True))
                for name, row in zip(facts.output_names, rows, strict=True)} if derivatives else {}
    return Evaluation(program, dict(zip(program.input_names, inputs, strict=True)),
                      dict(zip(facts.output_names, out_values, strict=True)), gradient,
                      node_values=node_values)


def expect(program: Program, evaluations: float) -> None:
    """Tell the choice of evaluator that about ``evaluations`` more evaluations of ``program``
    are coming (an optimizer's step limit), so that a path worth compiling for them is compiled
    at once rather than once the work done would have paid for it."""
    work = program.memo(WORK, None, _Work)
    work.until = work.calls + max(0, math.ceil(evaluations))


def force(program: Program, path: str | None) -> None:
    """Run ``path`` (one of :data:`POINT_PATHS` at points, of :data:`ROW_PATHS` on rows) whenever
    it can run, whatever it costs; None: choose again (tests and benchmarks compare the paths)."""
    work = program.memo(WORK, None, _Work)
    if path is None:
        work.forced_point = work.forced_rows = None
    elif path in POINT_PATHS:
        work.forced_point = path
    elif path in ROW_PATHS:
        work.forced_rows = path
    else:
        raise ValueError(f"no evaluator path {path!r}")


def force_compile(program: Program) -> None:
    """Compile ``program`` at its next evaluation (at a point, or on rows: slices) whatever it
    costs (tests and benchmarks use it to reach the compiled code at once)."""
    force(program, "compiled")
    force(program, "slices")


class _Chosen:
    """What follows from a selection, computed once: nodes, names, the mask of nodes that depend
    on the chosen inputs."""

    def __init__(self, program: Program, chosen: Selection):
        self.outputs, self.wrt = chosen.output_nodes, chosen.wrt_nodes
        self.output_names, self.wrt_names = chosen.output_names, chosen.wrt_names
        self.needs = depends(program, self.wrt) if supported(program) else None
        self.key = (self.needs, tuple(self.outputs))


def _chosen(program: Program, chosen: Selection) -> _Chosen:
    return program.memo(CHOSEN, (chosen.wrt, chosen.outputs), lambda: _Chosen(program, chosen))


def fast_path(program: Program, inputs: list, chosen: Selection):
    """(output values, gradient rows, node values) from a fast path, or None when the reference
    engine must run (see the module's table). ``inputs`` are float64 values in program order."""
    facts = _chosen(program, chosen)
    if facts.needs is None:
        return None
    if not any(x.ndim for x in inputs):
        return _at_point(program, inputs, facts)
    return _on_rows(program, inputs, facts)


def _at_point(program, inputs, facts: _Chosen):
    needs, outputs, key = facts.needs, facts.outputs, facts.key
    work = program.memo(WORK, None, _Work)
    path = work.forced_point or point_path(program, key, work)
    work.points += 1
    work.calls += 1
    if path == "engine":
        return None  # preparing a faster path would cost more than it saves
    if path == "interpreted":
        code = program.memo(POINT_RUN, key, lambda: _module(".fast.point").PointRun(
            program, needs, outputs))
    else:
        program.forget(POINT_RUN)
        code = program.memo(POINT_CODE, key, lambda: _module(".fast.point").PointCode(
            program, needs, outputs))
    try:
        with np.errstate(all="ignore"):  # numpy's own results (inf, nan), as the engine's
            return code.run([float(x) for x in inputs], outputs, facts.wrt)
    except (ArithmeticError, ValueError):
        return None


def point_path(program: Program, key, work: _Work) -> str:
    """The cheapest path at a point for the evaluations to come (:func:`.fast.costs.point_costs`):
    those expected, else as many as have been done, this one included."""
    settled = work.settled.get(key)
    if settled is not None and key in program.facts(POINT_KINDS[settled]):
        return settled
    built = [name for name, kind in (("interpreted", POINT_RUN), ("compiled", POINT_CODE))
             if key in program.facts(kind)]
    path = cheapest(point_costs(len(program), work.remaining(work.points + 1), built))
    if path in built and _settled(point_costs(len(program), 1.0, POINT_PATHS), path):
        work.settled[key] = path
    return path


def _settled(per_evaluation: dict[str, float], path: str) -> bool:
    """Is ``path``, prepared, the cheapest for any number of evaluations to come (it costs least
    per evaluation, and nothing more to prepare)? Then the choice need not be made again."""
    return all(per_evaluation[path] <= cost for cost in per_evaluation.values())


def rows_path(program: Program, keys: tuple, n: int, work: _Work) -> str:
    """The cheapest path on ``n`` rows for the evaluations to come (as :func:`point_path`, in
    rows: each evaluation to come is taken to be of ``n`` rows); ``keys``: the memos' keys."""
    slices = program.facts(SLICE_CODE).get(keys[0])
    if slices is False:
        return "all rows"  # a single pass over slices cannot give the results
    settled = work.settled.get(keys[1])
    if settled == "slices" and slices is not None or settled == "all rows" and keys[1] in \
            program.facts(ALL_ROWS):
        return settled
    built = ["slices"] * (slices is not None) + ["all rows"] * (keys[1] in program.facts(ALL_ROWS))
    remaining = work.remaining((work.rows + n) / n)
    chunk = chunk_rows(len(program))
    path = cheapest(rows_costs(len(program), n, remaining, chunk, built))
    if path in built and _settled(rows_costs(len(program), n, 1.0, chunk, ROW_PATHS), path):
        work.settled[keys[1]] = path
    return path


def _on_rows(program, inputs, facts: _Chosen):
    """Inputs that are numbers or 1-D arrays of one length; None otherwise."""
    shapes = tuple(x.ndim for x in inputs)  # numpy values (as_value): all have ndim
    lengths = {len(x) for x in inputs if x.ndim}
    if len(lengths) != 1 or max(shapes) > 1 or 0 in lengths:
        return None
    n = lengths.pop()
    needs, outputs, wrt = facts.needs, facts.outputs, facts.wrt
    row = program.memo(COLUMNS, shapes, lambda: per_row(program, [s == 1 for s in shapes]))
    keys = ((*facts.key, shapes), (*facts.key, shapes, n))

    slices = _module(".fast.slices")

    def compile_slices():
        try:
            return slices.SliceCode(program, row, needs, outputs)
        except slices.Unsupported:
            return False  # all rows at once, below

    work = program.memo(WORK, None, _Work)
    path = work.forced_rows or rows_path(program, keys, n, work)
    work.rows += n
    work.calls += 1
    code = program.memo(SLICE_CODE, keys[0], compile_slices) if path == "slices" else False
    if code is not False:
        done = slices.run(code, inputs, outputs, wrt, n)
    else:
        done = _all_rows(program, keys, row, facts, n, work).run(inputs, outputs, wrt, n)
    if done is None:
        return None
    return (*done, NodeValues(compute=lambda: forward(program, inputs)))


def _all_rows(program: Program, keys: tuple, row, facts: _Chosen, n: int, work: _Work):
    """All rows at once: compiled for every number of rows (a small program whose rows meet)
    once it is evaluated again or more evaluations are expected (compiling costs about 0.5 ms a
    node, a first evaluation interpreted much less), else the interpreter's layout for ``n``
    rows."""
    needs, outputs = facts.needs, facts.outputs
    if work.calls > 1 or work.until > work.calls:  # evaluated before, or more to come
        code = program.memo(ALL_ROWS_CODE, keys[0],
                            lambda: compile_all_rows(program, row, needs, outputs))
        if code is not None:
            return code
    return program.memo(ALL_ROWS, keys[1], lambda: AllRowsRun(program, row, needs, outputs, n))


@cache
def _module(name: str):
    """The module ``name`` of this package (``".fast.slices"``), imported on its first use, not
    at start-up, and looked up once: the evaluators of a call are found at the cost of a dict."""
    return importlib.import_module(name, __package__)


def hvp(program: Program, at: Mapping[str, object], direction: Mapping[str, object],
        wrt: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
        shared: str = "sum") -> dict[str, dict[str, object]]:
    """The Hessian-vector product ``H v`` of each output (:func:`slpdiff.core.rows.hvp`: its
    meaning on rows, ``shared``, the errors), by the evaluator that suits the call.

    On arrays of rows, where every input differentiated is a number given once that enters the
    program only through columns (:func:`slpdiff.core.hessian.through_rows_only`: the
    parameters of a sum over data points, as kmeans' centroids) and its entries are summed over
    the rows (``shared="sum"``, what a fit's Newton step needs): the gradient of
    ``v . grad y`` (:func:`slpdiff.core.hessian.dot_program`) by :func:`evaluate`, so on the
    compiled slices or all rows at once, in the time of a few gradients (reverse over reverse:
    the same mathematics as forward over reverse, equal to it to rounding). Otherwise (at a
    point, or each row's own entries) forward mode over the adjoint program."""
    from .core.hessian import check_vector, dot_program, through_rows_only

    rows = _module(".core.rows")

    inputs = [as_value(x) for x in bind_inputs(program, at)]
    chosen = select(program, wrt, outputs)
    shapes = {x.ndim for x in inputs}
    if shared != "sum" or shapes != {0, 1} or any(inputs[k].ndim for k in chosen.wrt) or any(
            np.ndim(v) for v in direction.values()) or not through_rows_only(
            program, [x.ndim == 1 for x in inputs], chosen.wrt_nodes):
        return rows.hvp(program, at, direction, wrt, outputs, shared)

    check_vector(direction, program, chosen.wrt_names)
    dot = dot_program(program, chosen.wrt_names, chosen.output_names)
    work = program.memo(WORK, None, _Work)
    if work.until > work.calls:  # the evaluations expected of the program: of its products too
        expect(dot.program, work.until - work.calls)
    moved = dict(at) | {dot.vector[x]: direction.get(x, 0.0) for x in dot.wrt}
    found = evaluate(dot.program, moved, wrt=dot.wrt, outputs=list(dot.dots.values())).gradient
    return {y: {x: found[name][x] for x in dot.wrt} for y, name in dot.dots.items()}
