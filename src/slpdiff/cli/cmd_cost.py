"""``slpdiff cost`` and ``slpdiff eliminate``: the theory of reverse mode, counted."""

from __future__ import annotations

import click

from ..formats import json_line, json_number
from .options import NamesType, at_option, load_program, one_point, program_argument

_FORMATS = click.Choice(["text", "markdown", "latex", "json"])


@click.command("cost")
@program_argument
@click.option("--format", "fmt", type=_FORMATS, default="text", show_default=True,
              help="Output format.")
def cost_command(program, fmt):
    """Count the operations of the engine's sweeps: the forward sweep, each output's reverse
    sweep and each input's tangent sweep, their ratios to the forward sweep (the cheap
    gradient principle), the tape the reverse sweep reads, and the Jacobian by forward and by
    reverse mode.

    \b
    Examples:
      slpdiff cost examples/griewank.slp
      slpdiff cost examples/speelpenning.slp --format latex
    """
    from ..teach.counts import count, count_table
    from ..teach.tables import render

    prog = load_program(program)
    counts = count(prog)
    if fmt == "json":
        click.echo(json_line({"forward": counts.forward, "reverse": counts.reverse,
                              "tangent": counts.tangent, "tape": counts.tape,
                              "adjoints": counts.adjoints,
                              "jacobian": {"reverse": counts.jacobian_reverse,
                                           "forward": counts.jacobian_forward}}))
        return
    click.echo(render([count_table(prog, counts)], fmt), nl=False)


@click.command("eliminate")
@program_argument
@at_option
@click.option("--order", "orders", type=NamesType(), multiple=True, metavar="NAME,...",
              help="Also eliminate the intermediate vertices in this order (every one, once).")
@click.option("--format", "fmt", type=_FORMATS, default="text", show_default=True,
              help="Output format.")
def eliminate_command(program, at, orders, fmt):
    """Vertex elimination on the linearized graph: eliminate the intermediate vertices in an
    order and count the multiplications. Forward and reverse mode are two orders; greedy
    Markowitz is a third; --order gives your own. With --at, the edges carry the engine's local
    partials and each order's Jacobian is checked against eval's.

    \b
    Examples:
      slpdiff eliminate examples/griewank.slp
      slpdiff eliminate examples/griewank.slp --at x1=1.5,x2=0.5 --order v3,v1,v2,v4,v5
    """
    import numpy as np

    from ..errors import RunError
    from ..evaluation import evaluate
    from ..teach.elimination import (
        ORDERS,
        eliminate,
        elimination_table,
        linearized_graph,
        order_from_names,
    )
    from ..teach.tables import render

    prog = load_program(program)
    point = one_point(at) or None
    graph = linearized_graph(prog, point)
    chosen: list = list(ORDERS) + [order_from_names(graph, names) for names in orders]
    results = [eliminate(graph, order) for order in chosen]
    worst = 0.0
    if point is not None:
        gradient = evaluate(prog, point).gradient
        for r in results:
            for out, row in r.jacobian.items():
                for x, value in row.items():
                    exact = float(gradient[out][x])
                    worst = max(worst, abs(float(value) - exact) / max(abs(exact), 1e-300)
                                if value != exact else 0.0)
        if not np.isfinite(worst) or worst > 1e-12:
            raise RunError(f"an elimination's Jacobian differs from eval's by {worst:.3g}")
    if fmt == "json":
        click.echo(json_line({"orders": [
            {"order": r.name, "eliminated": r.order, "multiplications": r.multiplications,
             "additions": r.additions, "fill_in": r.fill_in,
             "jacobian": None if r.jacobian is None else
             {o: {x: json_number(v) for x, v in row.items()} for o, row in r.jacobian.items()}}
            for r in results]}))
        return
    table = elimination_table(graph, results)
    if point is not None:
        table.footer.append(f"each order's Jacobian equals eval's (largest relative difference "
                            f"{worst:.1e}, rounding)")
    click.echo(render([table], fmt), nl=False)
