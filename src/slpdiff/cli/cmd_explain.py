"""``slpdiff explain``: one partial derivative as the chain rule's sum over paths."""

from __future__ import annotations

import click

from ..errors import InputError
from ..formats import json_line
from .cmd_trace import digits_option
from .options import (
    at_option,
    format_option,
    load_program,
    one_point,
    program_argument,
    report_kinks,
    report_nonfinite,
)


@click.command("explain")
@program_argument
@at_option
@click.option("--of", "of", metavar="OUTPUT",
              help="The output to differentiate (needed when there are several).")
@click.option("--wrt", metavar="INPUT",
              help="The input to differentiate with respect to (needed when there are several).")
@click.option("--max-paths", type=click.IntRange(min=1), default=20, show_default=True,
              help="List every path up to this many; beyond, only this many of the largest.")
@format_option
@digits_option
def explain_command(program, at, of, wrt, max_paths, fmt, digits):
    """Explain one partial derivative by the chain rule: every path from the input to the output
    through the graph, the product of the local partial derivatives along each, and their sum,
    which is the derivative eval prints.

    Paths are counted first: when there are more than --max-paths, the count is printed and
    only the paths with the largest products are listed. Without --at, the explanation is
    symbolic: each path as the product of the rules on its edges, and the derivative as their
    sum.

    \b
    Examples:
      slpdiff explain examples/seed.slp --at x=1,w=4 --of v7 --wrt w
      slpdiff explain examples/seed.slp --at x=1,w=4 --wrt x --format json
      slpdiff explain examples/seed.slp --wrt w
    """
    from ..teach.explain import explain, explain_symbolic, explanation_json, explanation_text

    prog = load_program(program)
    of = _the_one(of, prog.output_names, "output", "--of")
    wrt = _the_one(wrt, prog.input_names, "input", "--wrt")
    point = one_point(at)
    if point or not prog.input_names:
        result = explain(prog, point, of, wrt, max_paths)
    else:
        result = explain_symbolic(prog, of, wrt, max_paths)
    if fmt == "json":
        click.echo(json_line(explanation_json(result)))
    else:
        click.echo("\n".join(explanation_text(result, prog.input_names, digits)))
    if result.evaluation is not None:  # the warnings eval, trace and check print
        report_nonfinite(result.evaluation, strict=False)
        report_kinks(result.evaluation)


def _the_one(name, names, what, option):
    if name is not None:
        return name
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError(f"the program has no {what}s: there is no derivative to explain")
    raise InputError(f"the program has {len(names)} {what}s ({', '.join(names) or 'none'}); "
                     f"choose one with {option} NAME")
