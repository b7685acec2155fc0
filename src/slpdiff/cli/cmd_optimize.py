"""``slpdiff optimize``: minimize or maximize one output, by gradient descent and its relatives or
by SciPy's quasi-Newton and Newton methods."""

from __future__ import annotations

import json
import math
import os
import re
from contextlib import contextmanager
from dataclasses import replace

import click

from ..errors import RunError, SlpError
from ..formats import (
    derivative_label,
    evaluation_json,
    json_line,
    json_number,
    number,
    point_text,
)
from ..optimize.methods import FIRST_ORDER, METHODS
from .batch import chosen_scheduler, read_data, scheduler_option
from .main import EXIT_INTERRUPTED, warning
from .options import (
    at_option,
    format_option,
    load_program,
    merge_names,
    merge_points,
    nonfinite_diagnostics,
    parse_value,
    program_argument,
    report_kinks,
    split_grid,
    threads_option,
    wrt_option,
)
from .progress import StepProgress


class BoundsType(click.ParamType):
    """``NAME=LOW:HIGH`` pairs separated by commas; an empty side is unbounded: ``w=0:10,b=0:``."""

    name = "NAME=LOW:HIGH,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        bounds = []
        for item in value.split(","):
            name, eq, interval = item.partition("=")
            name = name.strip()
            low, colon, high = interval.partition(":")
            if not eq or not colon or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.fail(f"'{item.strip()}' is not NAME=LOW:HIGH (e.g. --bounds w=0:10; "
                          "leave a side empty for no bound: w=0:)", param, ctx)
            try:
                bounds.append((name, _bound(low, -math.inf), _bound(high, math.inf)))
            except ValueError as e:
                self.fail(f"{name}: {e}", param, ctx)
        return bounds


def _bound(text: str, empty: float) -> float:
    return empty if not text.strip() else parse_value(text)


def _merge_bounds(lists) -> dict[str, tuple[float, float]]:
    bounds: dict[str, tuple[float, float]] = {}
    for items in lists:
        for name, low, high in items:
            if name in bounds:
                raise click.BadParameter(f"'{name}' is given twice", param_hint="'--bounds'")
            bounds[name] = (low, high)
    return bounds


@click.command("optimize")
@program_argument
@at_option
@wrt_option("Inputs to optimize over (default: all); the others are held fixed.")
@click.option("--objective", metavar="NAME", help="The output to minimize or maximize (needed "
                                                  "when there are several).")
@click.option("--method", type=click.Choice(METHODS), default="gd", show_default=True,
              help="gd, momentum, nesterov and adam are first-order methods with a learning "
                   "rate; lbfgs (L-BFGS-B), bfgs, newton-cg and trust-ncg are SciPy's.")
@click.option("--maximize", is_flag=True, help="Maximize the output instead of minimizing it.")
@click.option("--bounds", type=BoundsType(), multiple=True, metavar="NAME=LOW:HIGH,...",
              help="Box bounds, e.g. w=0:10 or b=0: (repeatable): projected steps for the "
                   "first-order methods, L-BFGS-B for lbfgs.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), metavar="FLOAT",
              help="Learning rate (step size) of gd, momentum, nesterov and adam  "
                   "[default: 0.1 for gd, 0.01 for momentum and nesterov, 0.001 for adam]")
@click.option("--momentum", type=click.FloatRange(0, 1, max_open=True), metavar="FLOAT",
              help="Momentum of momentum and nesterov  [default: 0.9]")
@click.option("--beta1", type=click.FloatRange(0, 1, max_open=True), metavar="FLOAT",
              help="Adam's decay rate of the mean of gradients  [default: 0.9]")
@click.option("--beta2", type=click.FloatRange(0, 1, max_open=True), metavar="FLOAT",
              help="Adam's decay rate of the mean of squared gradients  [default: 0.999]")
@click.option("--eps", type=click.FloatRange(min=0, min_open=True), metavar="FLOAT",
              help="Adam's epsilon  [default: 1e-08]")
@click.option("--steps", type=click.IntRange(min=0), default=100, show_default=True,
              help="Maximum number of steps (iterations).")
@click.option("--tol", type=click.FloatRange(min=0), default=1e-10, show_default=True,
              help="Stop when the gradient's 2-norm is at most this (with --bounds, of the "
                   "projected gradient).")
@click.option("--ftol", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Stop when the value's relative change in one step is at most this (0: never).")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Print every K-th step (and always the last).")
@click.option("--save", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=False),
              help="Also write the final point, every input, to FILE as a JSON object.")
@format_option
@click.option("--data", metavar="FILE|-",
              help="Fit to a data set (CSV, TSV, JSON Lines or Parquet; a directory or a quoted "
                   "glob of such files; - for standard input): its columns bind the inputs of "
                   "the same name as whole columns; the other inputs are the parameters.")
@click.option("--data-format", type=click.Choice(["csv", "tsv", "jsonl", "parquet"]),
              help="Format of --data (default: from its extension; for - from its first line: "
                   "'{' is JSON Lines, a tab TSV, else CSV).")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N",
              help="Minibatch stochastic gradient (gd, momentum, nesterov, adam): each step "
                   "evaluates N rows of --data drawn afresh, seeded by --seed.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the minibatches' draws (--batch-size): the same seed, the same run.")
@threads_option
@scheduler_option
def optimize_command(program, at, wrt, objective, method, maximize, bounds, lr, momentum, beta1,
                     beta2, eps, steps, tol, ftol, every, save, fmt, data, data_format, batch_size,
                     seed, scheduler):
    """Minimize (or maximize) an output: gradient descent x <- x - lr * gradient by default.

    Prints one line (or JSON object) per step with the point, the value and the gradient there,
    before the update; then why it stopped, the final point with its value and gradient, the
    method and its numbers of evaluations. Ctrl-C stops a run cleanly: the best point so far is
    printed as the final result (exit status 130). With --data, the objective must reduce over
    the rows (sum, mean) to one number.

    \b
    Examples:
      slpdiff optimize examples/seed.slp --at x=1,w=4 --wrt w --lr 0.1 --steps 30
      slpdiff optimize examples/rosenbrock.slp --at x=-1.2,y=1 --method lbfgs
      slpdiff optimize examples/rosenbrock.slp --at x=-1.2,y=1 --method adam --lr 0.01 \\
          --steps 5000 --every 500 --format json
      slpdiff optimize examples/seed.slp --at x=1,w=4 --wrt w --bounds w=2:10 --save w.json
      slpdiff optimize examples/decay.slp --data examples/decay.csv --at a=1,b=1,c=0 \\
          --method lbfgs
    """
    from ..optimize.descent import choose_objective, optimize

    prog = load_program(program)
    point, ranges = split_grid(merge_points(at))
    if ranges:
        raise click.UsageError("a grid (NAME=start:stop:step) is for eval; optimize starts "
                               "from one point")
    wrt = merge_names(wrt)
    bounds = _merge_bounds(bounds)
    if save is not None:
        _check_writable(save)
    if data is None and (batch_size or scheduler):
        raise click.UsageError(f"{'--batch-size' if batch_size else '--scheduler'} takes the "
                               "rows of --data; there is no --data here")
    if scheduler is not None or data not in (None, "-"):  # $SLPDIFF_SCHEDULER: files only
        scheduler = chosen_scheduler(scheduler)
    if batch_size and method not in FIRST_ORDER:
        raise click.UsageError(f"--batch-size is for {', '.join(FIRST_ORDER)}: {method} needs "
                               "the whole objective at every step")
    with _data(prog, data, data_format, point, batch_size, seed, scheduler) as (columns,
                                                                                evaluator):
        in_data = [name for name in wrt or () if name in columns]
        if in_data:
            raise click.UsageError(f"'{in_data[0]}' is a column of the data, not a parameter "
                                   "that --wrt can optimize")
        if data is not None and wrt is None:
            wrt = [name for name in prog.input_names if name not in columns]
        point.update(columns)
        shown = [name for name in prog.input_names if wrt is None or name in wrt]
        objective = choose_objective(prog, objective)
        _warn_outside_bounds(point, bounds, shown)
        printer = _Printer(fmt, every, shown, columns, StepProgress(steps, "slpdiff optimize"))
        result = optimize(prog, point, method, wrt=wrt, objective=objective, maximize=maximize,
                          bounds=bounds, steps=steps, tol=tol, ftol=ftol, lr=lr,
                          momentum=momentum, beta1=beta1, beta2=beta2, eps=eps,
                          callback=printer.step, evaluator=evaluator)
    printer.finish(result)
    if result.final.evaluation is not None:  # the final point's derivative may be a convention
        report_kinks(result.final.evaluation, lambda hit: "the final point" if hit.rows == 1
                     else f"the final point, data row {hit.first + 1:,}")
    if save is not None:
        _save_point(save, printer.point(result.final))
    _fail_unless_done(result)


@contextmanager
def _data(program, data, data_format, point, batch_size, seed, scheduler):
    """The data's columns (name -> values; on a cluster, a placeholder each: the values stay
    on the workers) and the evaluator of the objective (None: the whole data, here)."""
    if data is None:
        yield {}, None
        return
    if scheduler is not None:
        import numpy as np

        from .scale_out import fit_on_cluster

        with fit_on_cluster(scheduler, program, data, data_format, point, batch_size,
                            seed) as (names, evaluator):
            yield {name: np.full(1, np.nan) for name in names}, evaluator
        return
    columns = read_data(program, data, data_format, point)
    evaluator = None
    if batch_size:
        from ..optimize.descent import minibatches

        evaluator = minibatches(program, columns, batch_size, seed)
    yield columns, evaluator


class _Printer:
    """Prints the trace (every K-th step, and always the last) and the final result."""

    def __init__(self, fmt: str, every: int, shown: list[str], columns, progress: StepProgress):
        self.fmt, self.every, self.shown, self.progress = fmt, every, shown, progress
        self.columns = columns  # --data: inputs bound to columns, not part of the point
        self.unprinted = None

    def point(self, step) -> dict:
        return {name: v for name, v in step.at.items() if name not in self.columns}

    def _json(self, step) -> dict:
        return evaluation_json(replace(step.evaluation, at=self.point(step)))

    def step(self, step) -> None:
        self.progress.update(step.index, float(step.value), step.gradient_norm())
        self.unprinted = step
        if step.index % self.every == 0:
            self._print_step(step)

    def _print_step(self, step) -> None:
        self.unprinted = None
        self.progress.clear()
        if self.fmt == "json":
            click.echo(json_line({"step": step.index, **self._json(step)}))
        else:
            click.echo(f"step {step.index}: {_step_text(step, self.shown)}")

    def finish(self, result) -> None:
        if self.unprinted is not None:  # --every: the last step is always shown
            self._print_step(self.unprinted)
        self.progress.clear()
        if self.fmt == "json":
            click.echo(json_line({"status": result.status, "steps": result.steps,
                                  "method": result.method, "message": result.message,
                                  "nfev": result.nfev, "ngev": result.ngev, "nhev": result.nhev,
                                  **self._json(result.final)}))
            return
        counts = f"{result.nfev} value and {result.ngev} gradient evaluations"
        if result.nhev:
            counts += f", {result.nhev} Hessian-vector products"
        if result.status == "diverged":  # the step that failed, as the error names it
            click.echo(f"stopped: diverged at step {result.diverged_at.index}")
        else:
            click.echo(f"stopped: {result.status} after {result.steps} steps")
        click.echo(f"final: {_step_text(result.final, self.shown)}")
        click.echo(f"{result.method}: {result.message} ({counts})")


def _step_text(step, names) -> str:
    parts = [point_text(step.at, names), f"{step.objective} = {number(step.value)}"]
    parts += [f"{derivative_label(step.objective, n)} = {number(g)}"
              for n, g in step.gradient.items()]
    return ", ".join(parts)


def _fail_unless_done(result) -> None:
    """Exit 1 for a divergence, 130 for Ctrl-C, with a message on stderr."""
    if result.status == "diverged":
        bad = result.diverged_at
        # where in the program the numbers stopped being finite, as eval says it
        for d in nonfinite_diagnostics(bad.evaluation.program, bad.evaluation.warnings):
            warning(d.format())
        hint = " A smaller --lr may help." if result.method in FIRST_ORDER else ""
        raise RunError(f"diverged at step {bad.index}: {_nonfinite_part(bad)} is not finite; "
                       f"the final point shown is the last finite one.{hint}")
    if result.status == "interrupted":
        raise SlpError(f"interrupted after {result.steps} steps; the final point shown is the "
                       "best one evaluated", exit_code=EXIT_INTERRUPTED)


def _nonfinite_part(step) -> str:
    if not math.isfinite(float(step.value)):
        return f"the value {step.objective} = {number(step.value)}"
    for name, g in step.gradient.items():
        if not math.isfinite(float(g)):
            return f"the derivative {derivative_label(step.objective, name)} = {number(g)}"
    return "a value"


def _warn_outside_bounds(point: dict, bounds: dict, optimized: list[str]) -> None:
    for name, (low, high) in bounds.items():
        value = point.get(name) if name in optimized else None  # else optimize() says why
        if isinstance(value, float) and not low <= value <= high:
            moved = min(max(value, low), high)
            warning(f"the starting value {name} = {number(value)} is outside --bounds "
                    f"{number(low)}:{number(high)}; starting from {name} = {number(moved)}")


def _check_writable(path: str) -> None:
    """Fail before a long run, not after it, when --save cannot be written."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise click.BadParameter(f"{path}: no such directory", param_hint="'--save'")
    if not os.access(directory, os.W_OK):
        raise click.BadParameter(f"{path}: the directory is not writable", param_hint="'--save'")


def _save_point(path: str, at: dict) -> None:
    """The point as ``{"name": value, ...}``, every input (but --data's columns): what
    ``--at @FILE`` reads."""
    from ..rows.atomic import atomic_output

    try:
        with atomic_output(path) as f:
            f.write(json.dumps({name: json_number(v) for name, v in at.items()}) + "\n")
    except OSError as e:
        raise RunError(f"{path}: cannot write: {e.strerror}") from None
