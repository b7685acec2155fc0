"""``slpdiff eval``: values and partial derivatives at a point, or at many (``--points``, grids)."""

from __future__ import annotations

import click

from ..formats import evaluation_json, evaluation_text, json_line
from .batch import eval_points, is_batch, output_stream, points_options
from .options import (
    at_option,
    load_program,
    merge_names,
    merge_points,
    program_argument,
    report_nonfinite,
    split_grid,
    wrt_option,
)


@click.command("eval")
@program_argument
@at_option
@wrt_option("Differentiate with respect to these inputs only (default: all).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "tsv", "jsonl"]),
              help="Output format: text or json for one point (default text); csv, tsv or "
                   "jsonl, one record per point (default: from -o's or --points' extension).")
@click.option("--strict", is_flag=True,
              help="Fail (exit 1) if a value or derivative is not finite.")
@points_options
def eval_command(program, at, wrt, fmt, strict, points, points_format, keep, output, force,
                 chunk_rows):
    """Print each output's value and its partial derivatives by reverse mode.

    With --points FILE, or a grid (--at x=0:1:0.25), one record per point: CSV, TSV or JSON
    Lines, evaluated a chunk of rows at a time.

    \b
    Examples:
      slpdiff eval examples/seed.slp --at x=1,w=4
      slpdiff eval examples/seed.slp --at x=1 --at w=4 --wrt w --format json
      echo 'y = sin(x)^2' | slpdiff eval - --at x=pi
      slpdiff eval examples/seed.slp --points examples/seed_points.csv --keep
      seq 0 4 | awk 'BEGIN {print "x"} {print $1/4}' \\
          | slpdiff eval examples/seed.slp --points - --points-format csv --at w=4
      slpdiff eval examples/seed.slp --at x=0:1:0.25,w=4 --format jsonl -o grid.jsonl
      slpdiff optimize examples/decay.slp --data examples/decay.csv --at a=1,b=1,c=0 \\
          --lr 0.5 --steps 3000 --format json | tail -n 1 \\
          | slpdiff eval examples/decay_model.slp --at @- --at t=0:2:0.5
    """
    from ..engine import evaluate

    prog = load_program(program)
    constants, ranges = split_grid(merge_points(at))
    if is_batch(ranges, fmt, points, output):
        eval_points(prog, constants, ranges, merge_names(wrt), fmt, strict, points,
                    points_format, keep, output, force, chunk_rows)
        return
    evaluation = evaluate(prog, constants, merge_names(wrt))
    report_nonfinite(evaluation, strict)
    with output_stream(output) as out:
        if fmt == "json":
            click.echo(json_line(evaluation_json(evaluation)), file=out)
        else:
            click.echo("\n".join(evaluation_text(evaluation)), file=out)
