"""``slpdiff lesson``: one HTML page that steps through the forward and reverse sweeps."""

from __future__ import annotations

from pathlib import Path

import click

from .main import warning
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


@click.command("lesson")
@program_argument
@at_option
@wrt_option("Differentiate with respect to these inputs only (default: all).")
@click.option("--of", "of", type=NamesType(), multiple=True, metavar="NAME,...",
              help="Show these outputs' sweeps, and only the nodes they depend on (default: all "
                   "outputs, all nodes).")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse",
              show_default=True,
              help="reverse: the adjoint updates, one sweep per output; forward: the tangents, "
                   "one sweep per input.")
@click.option("--layout", "layout", type=click.Choice(["auto", "own"]), default="auto",
              show_default=True,
              help="Who lays the graph out: Graphviz's dot when it is installed, else slpdiff "
                   "(auto); always slpdiff's own layered layout (own).")
@click.option("-o", "--output", "output", metavar="FILE",
              help="Write the page to FILE (written whole or not at all) instead of stdout.")
def lesson_command(program, at, wrt, of, mode, layout, output):
    """Write a lesson page: one self-contained HTML file that steps through the method like a
    movie. The forward sweep fills in each node's value; the reverse sweep starts from the
    output's adjoint 1 and pushes adjoints back along the edges, each step showing the update as
    `slpdiff trace` writes it. With --mode forward, the tangent sweep instead.

    The page shows the program, the graph and the trace tables, with buttons and keys (arrows,
    Home, End, Space) to step, play and jump. It needs no network or server: open it in a
    browser, from a USB stick or an e-mail. Its numbers are the ones `slpdiff trace` prints.

    \b
    Examples:
      slpdiff lesson examples/seed.slp --at x=1,w=4 -o seed-lesson.html
      slpdiff lesson examples/seed.slp --at x=1,w=4 --mode forward --wrt x -o tangents.html
      slpdiff lesson big.slp --at @point.json --of loss -o loss.html
    """
    from ..teach.lesson import build

    prog = load_program(program)
    title = "standard input" if program == "-" else Path(program).name
    result = build(prog, one_point(at), merge_names(wrt), merge_names(of), mode,
                   use_dot=layout != "own", title=title)
    if result.too_large:
        warning(f"the page shows the program, not the sweeps: {result.too_large}")
    else:
        report_nonfinite(result.evaluation, strict=False)
        report_kinks(result.evaluation)
    if output is None or output == "-":
        click.echo(result.html, nl=False)
    else:
        from ..rows.atomic import atomic_output

        with atomic_output(output) as stream:
            stream.write(result.html)
