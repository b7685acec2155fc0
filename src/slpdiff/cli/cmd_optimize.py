"""``slpdiff optimize``: gradient descent on one output."""

from __future__ import annotations

import math
from dataclasses import replace

import click

from ..errors import RunError
from ..formats import derivative_label, evaluation_json, json_line, number, point_text
from .batch import read_data
from .options import (
    at_option,
    format_option,
    load_program,
    merge_names,
    merge_points,
    program_argument,
    split_grid,
    wrt_option,
)


@click.command("optimize")
@program_argument
@at_option
@wrt_option("Inputs to optimize over (default: all); the others are held fixed.")
@click.option("--objective", metavar="NAME", help="The output to minimize (needed when there are "
                                                  "several).")
@click.option("--lr", type=float, default=0.1, show_default=True, help="Learning rate (step size).")
@click.option("--steps", type=click.IntRange(min=0), default=100, show_default=True,
              help="Maximum number of updates.")
@click.option("--tol", type=click.FloatRange(min=0), default=1e-10, show_default=True,
              help="Stop when the gradient's 2-norm is at most this.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Print every K-th step (and always the last).")
@format_option
@click.option("--data", metavar="FILE|-",
              help="Fit to a data set (CSV, TSV or JSON Lines; - for standard input): its "
                   "columns bind the inputs of the same name as whole columns; the other "
                   "inputs are the parameters.")
@click.option("--data-format", type=click.Choice(["csv", "tsv", "jsonl"]),
              help="Format of --data (default: from its extension; needed for -).")
def optimize_command(program, at, wrt, objective, lr, steps, tol, every, fmt, data, data_format):
    """Minimize an output by gradient descent: x <- x - lr * gradient.

    Prints one line (or JSON object) per step with the point, the value and the gradient there,
    before the update; then why it stopped and the final point with its value and gradient.
    With --data, the objective must reduce over the rows (sum, mean) to one number.

    \b
    Examples:
      slpdiff optimize examples/seed.slp --at x=1,w=4 --wrt w --lr 0.1 --steps 30
      slpdiff optimize examples/rosenbrock.slp --at x=-1.2,y=1 --lr 0.001 --steps 5000 \\
          --every 500 --format json
      slpdiff optimize examples/decay.slp --data examples/decay.csv --at a=1,b=1,c=0 \\
          --lr 0.5 --steps 3000 --every 500
    """
    from ..optimize import choose_objective, gradient_descent

    prog = load_program(program)
    point, ranges = split_grid(merge_points(at))
    if ranges:
        raise click.UsageError("a grid (NAME=start:stop:step) is for eval; optimize starts "
                               "from one point")
    wrt = merge_names(wrt)
    columns = {}
    if data is not None:
        columns = read_data(prog, data, data_format, point)
        in_data = [name for name in wrt or () if name in columns]
        if in_data:
            raise click.UsageError(f"'{in_data[0]}' is a column of the data, not a parameter "
                                   "that --wrt can optimize")
        if wrt is None:
            wrt = [name for name in prog.input_names if name not in columns]
        point.update(columns)
    shown = [name for name in prog.input_names if wrt is None or name in wrt]
    objective = choose_objective(prog, objective)
    last_unprinted = []

    def as_json(evaluation):
        # The data's columns are inputs too, but not part of the point: leave them out.
        at = {name: v for name, v in evaluation.at.items() if name not in columns}
        return evaluation_json(replace(evaluation, at=at))

    def show(step):
        if fmt == "json":
            click.echo(json_line({"step": step.index, **as_json(step.evaluation)}))
        else:
            click.echo(f"step {step.index}: {_step_text(step, shown)}")

    def on_step(step):
        last_unprinted.clear()
        if step.index % every == 0:
            show(step)
        else:
            last_unprinted.append(step)

    result = gradient_descent(prog, point, wrt, objective, lr=lr, steps=steps, tol=tol,
                              callback=on_step)
    for step in last_unprinted:  # --every: the last step is always shown
        show(step)
    final = result.final
    if fmt == "json":
        click.echo(json_line({"status": result.status, "steps": result.steps,
                              **as_json(final.evaluation)}))
    else:
        click.echo(f"stopped: {result.status} after {result.steps} steps")
        click.echo(f"final: {_step_text(final, shown)}")
    if result.status == "diverged":
        bad = result.diverged_at
        raise RunError(f"diverged at step {bad.index}: {_nonfinite_part(bad)} is not finite; "
                       f"the final point shown is the last finite one. A smaller --lr may help.")


def _step_text(step, names) -> str:
    parts = [point_text(step.at, names), f"{step.objective} = {number(step.value)}"]
    parts += [f"{derivative_label(step.objective, n)} = {number(g)}"
              for n, g in step.gradient.items()]
    return ", ".join(parts)


def _nonfinite_part(step) -> str:
    if not math.isfinite(float(step.value)):
        return f"the value {step.objective} = {number(step.value)}"
    for name, g in step.gradient.items():
        if not math.isfinite(float(g)):
            return f"the derivative {derivative_label(step.objective, name)} = {number(g)}"
    return "a value"


