"""``slpdiff check-adjoint``: a student's hand-written reverse sweep against slpdiff's."""

from __future__ import annotations

import click

from ..errors import RunError
from ..formats import json_line, json_number
from .options import at_option, load_program, one_point, program_argument


@click.command("check-adjoint")
@program_argument
@click.argument("mine", type=click.Path(dir_okay=True, allow_dash=True), metavar="MINE")
@at_option
@click.option("--of", "of", metavar="OUTPUT",
              help="The output whose adjoints MINE computes (needed when there are several).")
@click.option("--points", "count", type=click.IntRange(0, 1000), default=3, show_default=True,
              metavar="N", help="Also check at N random points near --at (in [0.5, 2] for inputs "
                                "it does not give).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The random points' seed (the same seed, the same points).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def check_adjoint_command(program, mine, at, of, count, seed, fmt):
    """Check a reverse sweep written by hand: every adjoint MINE computes against slpdiff's.

    MINE is SLP: the reverse sweep alone, reading PROGRAM's names (x_bar += v1_bar * w), or a
    whole adjoint program that declares PROGRAM's inputs. A statement assigning NAME_bar (or
    d_OUT_d_NAME) computes d OUT/d NAME. Each must add terms of that adjoint not added yet (one
    or several at once), in any order, and every term must be there in the end. The first
    statement that goes wrong is reported with its line, the value it added, and the term it
    should have added; exit status 1.

    \b
    Examples:
      slpdiff check-adjoint examples/griewank.slp examples/griewank_adjoint.slp --at x1=1.5,x2=0.5
      slpdiff grad examples/seed.slp --unfolded | slpdiff check-adjoint examples/seed.slp -
    """
    from ..teach.check_adjoint import check_adjoint, point_words

    prog = load_program(program)
    theirs = load_program(mine)
    result = check_adjoint(prog, theirs, one_point(at), of, count, seed)
    name = "<stdin>" if mine == "-" else mine
    where = _points_text(result, prog, point_words)
    if fmt == "json":
        click.echo(json_line(_json(result)))
    elif result.ok:
        click.echo(f"{name}: every adjoint agrees with slpdiff's ({result.statements} statements "
                   f"computing {', '.join(result.adjoints)})")
        click.echo(where)
    else:
        p = result.problem
        location = f"{name}:{p.line}: " if p.line else f"{name}: "
        click.echo(f"{location}{p.statement}" if p.statement else location.rstrip(": "))
        click.echo(f"  at {point_words(p.at, prog.input_names)}")
        for part in p.message.split("; "):
            click.echo(f"  {part}")
    if not result.ok:
        raise RunError(f"{name}: the adjoint is wrong on line {result.problem.line}"
                       if result.problem.line else f"{name}: an adjoint is missing")


def _points_text(result, prog, point_words) -> str:
    n = len(result.points)
    return f"checked at {n} point{'s' if n != 1 else ''}: " + "; ".join(
        point_words(p, prog.input_names) for p in result.points)


def _json(result) -> dict:
    p = result.problem
    problem = None if p is None else {
        "line": p.line or None, "statement": p.statement, "adjoint": p.adjoint,
        "at": {k: json_number(v) for k, v in p.at.items()},
        "added": None if p.added is None else json_number(p.added),
        "expected": None if p.expected is None else json_number(p.expected),
        "message": p.message}
    return {"of": result.output, "ok": result.ok, "statements": result.statements,
            "adjoints": result.adjoints,
            "points": [{k: json_number(v) for k, v in pt.items()} for pt in result.points],
            "problem": problem}
