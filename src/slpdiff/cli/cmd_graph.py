"""``slpdiff graph``: the computational graph in Graphviz DOT, or rendered by Graphviz."""

from __future__ import annotations

import click

from .cmd_trace import digits_option
from .options import (
    NamesType,
    at_option,
    load_program,
    merge_names,
    one_point,
    program_argument,
)


@click.command("graph")
@program_argument
@at_option
@click.option("--of", "of", type=NamesType(), multiple=True, metavar="NAME,...",
              help="With --at: show the adjoints of these outputs only (default: all).")
@click.option("-o", "--output", "output", metavar="FILE",
              help="Write to FILE instead of stdout: .svg, .png or .pdf are rendered with "
                   "Graphviz's dot program; .dot or .gv is the DOT text.")
@click.option("--rankdir", type=click.Choice(["auto", "TB", "LR"]), default="auto",
              show_default=True,
              help="Lay the graph out top to bottom (TB) or left to right (LR); auto picks the "
                   "one closer to a slide's shape.")
@click.option("--fontsize", type=click.IntRange(4, 72), default=14, show_default=True,
              metavar="PT", help="Text size in points (14 reads on a projector).")
@digits_option
def graph_command(program, at, of, output, rankdir, fontsize, digits):
    """Draw the computational graph: inputs, operations and outputs, each edge a -> b labelled
    with the local partial derivative ∂b/∂a (the rule from the table of functions).

    With --at, each node also shows its value and its adjoint v_bar = d OUT/d v (named as
    slpdiff trace names it), and each edge the value of its local partial. Without -o the DOT
    text goes to stdout.

    \b
    Examples:
      slpdiff graph examples/seed.slp
      slpdiff graph examples/seed.slp --at x=1,w=4 -o seed.svg
      slpdiff graph examples/seed.slp | dot -Tpng -o seed.png
      slpdiff graph examples/seed.slp --at x=1,w=4 --digits 4 --rankdir LR -o seed.pdf
    """
    from ..teach.dot import numbers_at, output_format, to_dot, write_graph

    if output is not None and output != "-":
        output_format(output)  # a bad suffix is an error before any work
    prog = load_program(program)
    point = one_point(at)
    numbers = None
    if point or of:
        from .options import report_kinks, report_nonfinite

        numbers = numbers_at(prog, point, merge_names(of))
        report_nonfinite(numbers.evaluation, strict=False)
        report_kinks(numbers.evaluation)
    text = to_dot(prog, numbers, rankdir=rankdir, fontsize=fontsize, digits=digits)
    if output is None or output == "-":
        click.echo(text, nl=False)
    else:
        write_graph(text, output)
