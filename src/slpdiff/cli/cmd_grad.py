"""``slpdiff grad``: the adjoint program, as SLP or as a Python module."""

from __future__ import annotations

import click

from .options import load_program, merge_names, program_argument, wrt_option


@click.command("grad")
@program_argument
@wrt_option("Differentiate with respect to these inputs only (default: all).")
@click.option("--emit", type=click.Choice(["slp", "python"]), default="slp", show_default=True,
              help="Write the adjoint program as SLP (slpdiff's own language) or as a "
                   "standalone Python module that needs only numpy.")
@click.option("--unfolded", is_flag=True,
              help="One statement per adjoint update (v_bar += ...), in the order slpdiff trace "
                   "shows them, instead of one statement per adjoint (the default).")
def grad_command(program, wrt, emit, unfolded):
    """Write the adjoint program: PROGRAM's statements, then the reverse sweep written out.

    The new program computes PROGRAM's outputs, then, for each output y and each input x,
    d_y_d_x, by one reverse sweep per output written statement by statement (a comment above
    each adjoint statement names the forward statement it belongs to). Its output is valid
    input for every slpdiff command, including grad itself (second derivatives).

    By default each adjoint is gathered into one statement, with products by 1 and sums with 0
    folded away: the shortest program, the one source-transformation tools write. --unfolded
    writes the lecture's incremental form instead: the seed y_bar = 1, then one statement
    v_bar += a_bar * partial per term of the sweep, exactly the updates slpdiff trace shows.

    \b
    Examples:
      slpdiff grad examples/seed.slp
      slpdiff grad examples/seed.slp | slpdiff eval - --at x=1,w=4
      slpdiff grad examples/seed.slp | slpdiff grad - | slpdiff eval - --at x=1,w=4
      slpdiff grad examples/rosenbrock.slp --emit python > rosenbrock_grad.py
      slpdiff grad examples/seed.slp --unfolded
    """
    if unfolded:
        from ..core.unfolded import unfolded_adjoint_program as adjoint_program
    else:
        from ..core.adjoint import adjoint_program

    adj = adjoint_program(load_program(program), merge_names(wrt))
    if emit == "python":
        from ..core.emit_python import to_python

        click.echo(to_python(adj), nl=False)
    else:
        click.echo(adj.text(), nl=False)
