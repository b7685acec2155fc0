"""``slpdiff trace``: the evaluation trace and the reverse (or tangent) sweep, row by row."""

from __future__ import annotations

import click

from ..formats import json_line
from .options import (
    NamesType,
    at_option,
    load_program,
    merge_names,
    one_point,
    program_argument,
    report_kinks,
    report_nonfinite,
    wrt_option,
)


@click.command("trace")
@program_argument
@at_option
@wrt_option("Differentiate with respect to these inputs only (default: all).")
@click.option("--of", "of", type=NamesType(), multiple=True, metavar="NAME,...",
              help="Trace the derivatives of these outputs only (default: all).")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse",
              show_default=True,
              help="reverse: the adjoint updates, one sweep per output; forward: the tangents, "
                   "one sweep per input.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex", "json", "html"]),
              default="text", show_default=True,
              help="text: aligned columns; markdown: GitHub tables; latex: tabulars; json: a "
                   "list of row objects; html: tables to put in a web page (or a notebook).")
def trace_command(program, at, wrt, of, mode, fmt):
    """Show the method: every node's value (the forward sweep), then every adjoint update of the
    reverse sweep in the order it makes them, ending with the gradient.

    With --mode forward, the tangent sweep for each input instead. The numbers are the ones
    `slpdiff eval` computes. Intermediates of nested expressions are named %1, %2, ...

    \b
    Examples:
      slpdiff trace examples/seed.slp --at x=1,w=4
      slpdiff trace examples/seed.slp --at x=1,w=4 --mode forward --wrt x
      slpdiff trace examples/seed.slp --at x=1,w=4 --format latex > seed-trace.tex
      echo 'y = sin(x*w) + x' | slpdiff trace - --at x=1,w=4 --format markdown
    """
    from ..teach.tables import render, trace_json, trace_tables
    from ..teach.trace import trace

    prog = load_program(program)
    result = trace(prog, one_point(at), merge_names(wrt), merge_names(of), mode)
    report_nonfinite(result.evaluation, strict=False)
    report_kinks(result.evaluation)
    if fmt == "json":
        rows = trace_json(result)
        click.echo("[\n" + ",\n".join(json_line(r) for r in rows) + "\n]")
    elif fmt == "html":
        from ..teach.html import trace_html

        click.echo(trace_html(result))
    else:
        click.echo(render(trace_tables(result), fmt), nl=False)
