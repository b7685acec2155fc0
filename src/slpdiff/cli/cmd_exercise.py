"""``slpdiff exercise``: a trace table with blanks to fill in, and its answer key."""

from __future__ import annotations

import click

from .cmd_trace import notation_option
from .options import at_option, load_program, one_point, program_argument


@click.command("exercise")
@program_argument
@at_option
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse",
              show_default=True,
              help="The sweep to fill in: reverse (the adjoints) or forward (the tangents).")
@click.option("--seed", metavar="STUDENT",
              help="A student's name or number: moves the point (each input by up to 30 %, two "
                   "decimals) and chooses the blanks, the same again for the same seed.")
@click.option("--blank", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="The fraction of the number cells left blank (the derivatives at the end "
                   "always are).")
@click.option("--digits", type=click.IntRange(1, 17), default=4, show_default=True, metavar="N",
              help="Numbers to N significant digits.")
@notation_option
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex"]),
              default="text", show_default=True, help="Output format.")
@click.option("--key", "key", metavar="FILE",
              help="Also write the answer key (the same tables, the blanked cells marked) to "
                   "FILE, in the same format.")
def exercise_command(program, at, mode, seed, blank, digits, notation, fmt, key):
    """Write an exercise: PROGRAM's trace with a fraction of its numbers left blank.

    The student is given the program, the point and the inputs' values, and fills in values,
    local partials and adjoints (or tangents), and the derivatives. With --key FILE the answer
    key goes to FILE. --seed gives each student a different point, reproducibly.

    \b
    Examples:
      slpdiff exercise examples/griewank.slp --at x1=1.5,x2=0.5 --seed alice --key alice-key.txt
      slpdiff exercise examples/seed.slp --at x=1,w=4 --mode forward --format latex --seed 7
    """
    from ..rows.atomic import atomic_output
    from ..teach.exercise import exercise
    from ..teach.tables import render

    prog = load_program(program)
    result = exercise(prog, one_point(at), mode, seed, blank, digits, notation)
    if key is not None:
        with atomic_output(key) as stream:
            stream.write(render(result.key, fmt))
    click.echo(render(result.tables, fmt), nl=False)
