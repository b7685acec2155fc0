"""``evaluate``: values and partial derivatives of a program, and the one place that decides which
evaluator computes them.

Every evaluator gives the reference engine's numbers bit for bit (they add the same terms in the
same order: :func:`~slpdiff.core.schedule.sweep_terms`), so the choice is about speed only:

==========================================  ======================================================
situation                                   evaluator
==========================================  ======================================================
every input a number, a program of fewer    the reference engine: ``core.engine.evaluate_reference``
than ``INTERPRET_FROM`` nodes, the first
few calls (``slpdiff eval --at``: one call)
every input a number, a larger program,     the engine's computation interpreted on Python floats
the first calls                             (nothing compiled): ``fast.point.PointRun``
every input a number, once about            compiled Python on floats: ``fast.point.PointCode``
``COMPILE_AFTER`` engine evaluations' worth
of work has been done on the program
(optimizing: compiling costs about that)
arrays of rows (``--points``, grids,        compiled numpy calls on cache-sized slices of rows:
``optimize --data``), compiled at once      ``fast.slices.SliceCode``
arrays, when one pass over slices cannot    all rows at once, interpreted:
(a column computed from a reduction), or    ``fast.all_rows.AllRowsRun``
more than ``slices.MAX_NODES`` nodes
anything not finite, a fast path's Python   the reference engine, which locates the warnings
error (``1/0``), seed-style ``Var`` ops
with Python rules
==========================================  ======================================================

Not through here: ``trace``, ``graph`` and ``explain`` run the reference engine with its
``record`` hook (they show its own numbers); forward mode and Hessians have their own sweep
(:mod:`slpdiff.core.tangent`, over the adjoint program for Hessians); ``grad`` writes the sweep
out as a program (:mod:`slpdiff.core.adjoint`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from .core.engine import Evaluation, NodeValues, as_value, evaluate_reference, forward
from .core.schedule import Selection, bind_inputs, depends, per_row, select, supported
from .language.program import Memo, Program
from .limits import check_reverse

__all__ = ["Evaluation", "evaluate", "evaluate_inputs", "fast_path", "force_compile"]

# The costs that decide, measured with benchmarks/run.py (W5) on W2 programs of 10,000 to 1,000,000
# statements. Per node: the engine takes about 6.5 us, the interpreter 0.8 us, the compiled code
# 0.4 us, and compiling takes about 40 us, which is 6 engine evaluations or 50 interpreted ones.
# Each path runs until the time already spent on the program would pay for the next one (a
# strategy that never costs more than twice the best choice made knowing the future).
COMPILE_AFTER = 6.0  # compile once this many engine evaluations' worth of work has been done
INTERPRETED_WORK = 0.125  # an interpreted evaluation, in engine evaluations
# The interpreter's preparation (a function per primitive and rule used) costs about 200 engine
# node evaluations: below this many nodes the engine itself runs first.
INTERPRET_FROM = 200

WORK = Memo("evaluations' worth of work done by the engine")
POINT_RUN = Memo("interpreted code at a point")
POINT_CODE = Memo("compiled code at a point")
SLICE_CODE = Memo("compiled slices (False: the program needs all rows at once)")
ALL_ROWS = Memo("all-rows layout", keep=1)  # one layout at a time: its buffers are large


class _Work:
    """Evaluations' worth of work the engine has done on a program at points."""

    done = 0.0


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
    """
    inputs = bind_inputs(program, at)
    chosen = select(program, wrt, outputs)
    if not derivatives:
        chosen = replace(chosen, wrt=())  # values only: no sweep at all
    if chosen.wrt and len(chosen.outputs) > 1:
        check_reverse(len(chosen.outputs), len(program))
    inputs = [as_value(x) for x in inputs]
    if derivatives and any(x.ndim for x in inputs):
        from .core.rows import meeting, row_gradient

        rows = meeting(program, inputs, chosen.wrt_nodes, chosen.output_nodes)
        if rows is not None:  # rows that meet through a reduction: each row's own derivatives
            return row_gradient(program, inputs, chosen, rows, evaluate_inputs)
    return evaluate_inputs(program, inputs, chosen, derivatives)


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
    out_names, wrt_names = chosen.output_names, chosen.wrt_names
    gradient = {name: dict(zip(wrt_names, row, strict=True))
                for name, row in zip(out_names, rows, strict=True)} if derivatives else {}
    return Evaluation(program, dict(zip(program.input_names, inputs, strict=True)),
                      dict(zip(out_names, out_values, strict=True)), gradient,
                      node_values=node_values)


def force_compile(program: Program) -> None:
    """Count enough work on ``program`` that its next evaluation at a point compiles (tests and
    benchmarks use it to reach the compiled code at once)."""
    program.memo(WORK, None, _Work).done = COMPILE_AFTER


def fast_path(program: Program, inputs: list, chosen: Selection):
    """(output values, gradient rows, node values) from a fast path, or None when the reference
    engine must run (see the module's table). ``inputs`` are float64 values in program order."""
    if not supported(program):
        return None
    needs = depends(program, chosen.wrt_nodes)
    outputs, wrt = chosen.output_nodes, chosen.wrt_nodes
    if not any(x.ndim for x in inputs):
        return _at_point(program, inputs, needs, outputs, wrt)
    return _on_rows(program, inputs, needs, outputs, wrt)


def _at_point(program, inputs, needs, outputs, wrt):
    key = (needs, tuple(outputs))
    work = program.memo(WORK, None, _Work)
    if work.done < COMPILE_AFTER and len(program) < INTERPRET_FROM:
        work.done += 1.0
        return None  # the engine: preparing a faster path would cost more than it saves
    from .fast.point import PointCode, PointRun

    if work.done < COMPILE_AFTER:
        work.done += INTERPRETED_WORK
        code = program.memo(POINT_RUN, key, lambda: PointRun(program, needs, outputs))
    else:
        program.forget(POINT_RUN)
        code = program.memo(POINT_CODE, key, lambda: PointCode(program, needs, outputs))
    try:
        with np.errstate(all="ignore"):  # numpy's own results (inf, nan), as the engine's
            return code.run([float(x) for x in inputs], outputs, wrt)
    except (ArithmeticError, ValueError):
        return None


def _on_rows(program, inputs, needs, outputs, wrt):
    """Inputs that are numbers or 1-D arrays of one length; None otherwise."""
    from .fast.all_rows import AllRowsRun
    from .fast.slices import SliceCode, Unsupported
    from .fast.slices import run as run_slices

    shapes = tuple(x.ndim for x in inputs)  # numpy values (as_value): all have ndim
    lengths = {len(x) for x in inputs if x.ndim}
    if len(lengths) != 1 or max(shapes) > 1 or 0 in lengths:
        return None
    n = lengths.pop()
    row = per_row(program, [s == 1 for s in shapes])

    def compile_slices():
        try:
            return SliceCode(program, row, needs, outputs)
        except Unsupported:
            return False  # all rows at once, below

    code = program.memo(SLICE_CODE, (bytes(needs), tuple(outputs), shapes), compile_slices)
    if code is not False:
        done = run_slices(code, inputs, outputs, wrt, n)
    else:
        run = program.memo(ALL_ROWS, (bytes(needs), tuple(outputs), shapes, n),
                           lambda: AllRowsRun(program, row, needs, outputs, n))
        done = run.run(inputs, outputs, wrt)
    if done is None:
        return None
    return (*done, NodeValues(compute=lambda: forward(program, inputs)))
