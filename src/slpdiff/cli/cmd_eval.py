"""``slpdiff eval``: values and partial derivatives at a point."""

from __future__ import annotations

import click

from ..formats import evaluation_json, evaluation_text, json_line
from .options import (
    at_option,
    format_option,
    load_program,
    merge_names,
    merge_points,
    program_argument,
    report_nonfinite,
    wrt_option,
)


@click.command("eval")
@program_argument
@at_option
@wrt_option("Differentiate with respect to these inputs only (default: all).")
@format_option
@click.option("--strict", is_flag=True,
              help="Fail (exit 1) if a value or derivative is not finite.")
def eval_command(program, at, wrt, fmt, strict):
    """Print each output's value and its partial derivatives by reverse mode.

    \b
    Examples:
      slpdiff eval examples/seed.slp --at x=1,w=4
      slpdiff eval examples/seed.slp --at x=1 --at w=4 --wrt w --format json
      echo 'y = sin(x)^2' | slpdiff eval - --at x=pi
    """
    from ..engine import evaluate

    prog = load_program(program)
    evaluation = evaluate(prog, merge_points(at), merge_names(wrt))
    report_nonfinite(evaluation, strict)
    if fmt == "json":
        click.echo(json_line(evaluation_json(evaluation)))
    else:
        click.echo("\n".join(evaluation_text(evaluation)))


