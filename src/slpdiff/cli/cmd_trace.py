"""``slpdiff trace``: the evaluation trace and the reverse (or tangent) sweep, row by row."""

from __future__ import annotations

import click

from ..formats import json_line
from .options import (
    NamesType,
    PointType,
    at_option,
    load_program,
    merge_names,
    one_point,
    program_argument,
    report_kinks,
    report_nonfinite,
    wrt_option,
)


def digits_option(f):
    """``--digits N``: display rounding of the numbers shown (JSON keeps every digit)."""
    return click.option("--digits", type=click.IntRange(1, 17), metavar="N",
                        help="Show numbers rounded to N significant digits (for slides); the "
                             "default shows every digit, and JSON always does.")(f)


def notation_option(f):
    return click.option("--notation", type=click.Choice(["program", "book"]), default="program",
                        show_default=True,
                        help="program: the program's names (v1_bar); book: Griewank and "
                             "Walther's v_{-1}, v_0, v_1, ... with adjoints \\bar v_i and "
                             "tangents \\dot v_i (LaTeX math in latex and markdown), the "
                             "program's names in a column.")(f)


@click.command("trace")
@program_argument
@at_option
@wrt_option("Differentiate with respect to these inputs only (default: all).")
@click.option("--of", "of", type=NamesType(), multiple=True, metavar="NAME,...",
              help="Trace the derivatives of these outputs only (default: all).")
@click.option("--mode", type=click.Choice(["reverse", "forward", "second"]), default="reverse",
              show_default=True,
              help="reverse: the adjoint updates, one sweep per output; forward: the tangents, "
                   "one sweep per input (or along --direction); second: forward over reverse, "
                   "each adjoint update with its tangent, ending with a Hessian-vector product.")
@click.option("--direction", type=PointType(), metavar="NAME=VALUE,...",
              help="With --mode forward or second: one sweep along this vector (inputs not "
                   "named are 0), as eval --direction and --hvp compute it.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex", "json", "html"]),
              default="text", show_default=True,
              help="text: aligned columns; markdown: GitHub tables; latex: tabulars; json: a "
                   "list of row objects; html: tables to put in a web page (or a notebook).")
@digits_option
@notation_option
def trace_command(program, at, wrt, of, mode, direction, fmt, digits, notation):
    """Show the method: every node's value (the forward sweep), then every adjoint update of the
    reverse sweep in the order it makes them, ending with the gradient.

    With --mode forward, the tangent sweep for each input (or along --direction) instead; with
    --mode second, forward over reverse: the tangent sweep, then each adjoint update with its
    tangent, ending with the Hessian-vector product. The numbers are the ones `slpdiff eval`
    computes. Intermediates of nested expressions are named %1, %2, ...

    \b
    Examples:
      slpdiff trace examples/seed.slp --at x=1,w=4
      slpdiff trace examples/seed.slp --at x=1,w=4 --mode forward --wrt x
      slpdiff trace examples/seed.slp --at x=1,w=4 --format latex > seed-trace.tex
      echo 'y = sin(x*w) + x' | slpdiff trace - --at x=1,w=4 --format markdown
      slpdiff trace examples/griewank.slp --at x1=1.5,x2=0.5 --notation book --digits 5
      slpdiff trace examples/seed.slp --at x=1,w=4 --mode second --direction x=1
    """
    from ..teach.tables import render, trace_json, trace_tables
    from ..teach.trace import trace

    prog = load_program(program)
    vector = None
    if direction is not None:
        if mode == "reverse":
            raise click.UsageError("--direction is for --mode forward or --mode second")
        vector = one_point([direction], "--direction")
    result = trace(prog, one_point(at), merge_names(wrt), merge_names(of), mode, vector)
    report_nonfinite(result.evaluation, strict=False)
    report_kinks(result.evaluation)
    if fmt == "json":
        rows = trace_json(result)
        click.echo("[\n" + ",\n".join(json_line(r) for r in rows) + "\n]")
    elif fmt == "html":
        from ..teach.html import trace_html

        click.echo(trace_html(result))
    else:
        click.echo(render(trace_tables(result, digits, notation), fmt), nl=False)
