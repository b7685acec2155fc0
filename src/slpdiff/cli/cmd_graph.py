"""``slpdiff graph``: the computational graph in Graphviz DOT, or rendered by Graphviz."""

from __future__ import annotations

import click

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
def graph_command(program, at, of, output):
    """Draw the computational graph: inputs, operations and outputs, each edge a -> b labelled
    with the local partial derivative d b/d a (the rule from the table of functions).

    With --at, each node also shows its value and its adjoint d OUT/d node, and each edge the
    value of its local partial. Without -o the DOT text goes to stdout.

    \b
    Examples:
      slpdiff graph examples/seed.slp
      slpdiff graph examples/seed.slp --at x=1,w=4 -o seed.svg
      slpdiff graph examples/seed.slp | dot -Tpng -o seed.png
    """
    from ..teach.dot import numbers_at, output_format, to_dot, write_graph

    if output is not None and output != "-":
        output_format(output)  # a bad suffix is an error before any work
    prog = load_program(program)
    point = one_point(at)
    numbers = None
    if point or of:
        from .options import report_nonfinite

        numbers = numbers_at(prog, point, merge_names(of))
        report_nonfinite(numbers.evaluation, strict=False)
    text = to_dot(prog, numbers)
    if output is None or output == "-":
        click.echo(text, nl=False)
    else:
        write_graph(text, output)
