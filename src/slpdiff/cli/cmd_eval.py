"""``slpdiff eval``: values and partial derivatives at a point, or at many (``--points``, grids)."""

from __future__ import annotations

import click

from ..errors import RunError
from ..formats import (
    evaluation_json,
    evaluation_text,
    hessian_text,
    jacobian_text,
    json_line,
    json_nested,
    number,
    point_text,
)
from .batch import eval_points, is_batch, output_stream, points_options
from .main import warning
from .options import (
    PointType,
    at_option,
    load_program,
    merge_names,
    merge_points,
    one_point,
    program_argument,
    report_kinks,
    report_nonfinite,
    split_grid,
    wrt_option,
)


@click.command("eval")
@program_argument
@at_option
@wrt_option("Differentiate with respect to these inputs only (default: all).")
@click.option("--format", "fmt",
              type=click.Choice(["text", "json", "csv", "tsv", "jsonl", "parquet"]),
              help="Output format: text or json for one point (default text); csv, tsv, jsonl "
                   "or parquet (to -o FILE), one record per point (default: from -o's or "
                   "--points' extension). json is refused for many points (--points, a grid): "
                   "use jsonl, one JSON object per line.")
@click.option("--no-derivatives", "values_only", is_flag=True,
              help="Values only: no derivatives (no reverse sweep).")
@click.option("--strict", is_flag=True,
              help="Fail (exit 1) if a value or derivative is not finite.")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse",
              show_default=True, help="Compute the partial derivatives by reverse mode (one "
                                      "sweep per output) or forward mode (one sweep carrying a "
                                      "tangent per input).")
@click.option("--direction", type=PointType(), metavar="NAME=VALUE,...",
              help="Also print the directional derivative along this vector (a Jacobian-vector "
                   "product, one forward sweep); inputs not named are 0.")
@click.option("--hessian", is_flag=True,
              help="Also print each output's Hessian (forward over reverse).")
@click.option("--hvp", type=PointType(), metavar="NAME=VALUE,...",
              help="Also print each output's Hessian-vector product with this vector, without "
                   "forming the Hessian; inputs not named are 0.")
@points_options
def eval_command(program, at, wrt, values_only, fmt, strict, mode, direction, hessian, hvp,
                 points, points_format, keep, output, force, chunk_rows, scheduler):
    """Print each output's value and its partial derivatives (reverse mode by default).

    With several outputs, text output shows the values, then the Jacobian as a matrix (row:
    output, column: input). --direction, --hessian and --hvp add first and second
    directional derivatives and Hessians; JSON output adds the keys "direction" and
    "directional", "hessian", "hvp".

    With --points FILE, or a grid (--at x=0:1:0.25), one record per point: CSV, TSV or JSON
    Lines, evaluated a chunk of rows at a time. Each row's derivatives are its own, also through
    sum and mean (docs/rows.md), and --mode forward, --direction, --hessian and --hvp give them
    per row too (columns "d2 m/d x d w", "(H m v)[x]", "d m/d direction").

    \b
    Examples:
      slpdiff eval examples/seed.slp --at x=1,w=4
      slpdiff eval examples/seed.slp --at x=1 --at w=4 --wrt w --format json
      slpdiff eval examples/seed.slp --at x=1,w=4 --no-derivatives
      echo 'y = sin(t)^2' | slpdiff eval - --at t=pi/3
      echo 'y = sin(x)^2' | slpdiff eval - --at x=pi
      slpdiff eval examples/seed.slp --at x=1,w=4 --mode forward --direction x=1,w=0
      slpdiff eval examples/rosenbrock.slp --at x=1,y=1 --hessian
      slpdiff eval examples/rosenbrock.slp --at x=1,y=1 --hvp x=1,y=0
      slpdiff eval examples/seed.slp --points examples/seed_points.csv --keep
      seq 0 4 | awk 'BEGIN {print "x"} {print $1/4}' \\
          | slpdiff eval examples/seed.slp --points - --at w=4
      slpdiff eval examples/seed.slp --at x=0:1:0.25,w=4 --format jsonl -o grid.jsonl
      slpdiff eval examples/row_mean.slp --at x=1:3:1,a=2 --hessian
      slpdiff optimize examples/decay.slp --data examples/decay.csv --at a=1,b=1,c=0 \\
          --lr 0.5 --steps 3000 --format json | tail -n 1 \\
          | slpdiff eval examples/decay_model.slp --at @- --at t=0:2:0.5
    """
    if mode == "forward":
        from ..core.tangent import evaluate_forward as run
    else:
        from ..evaluation import evaluate as run

    prog = load_program(program)
    constants, ranges = split_grid(merge_points(at))
    wrt = merge_names(wrt)
    if values_only:
        if wrt or hessian or hvp is not None or direction is not None:
            raise click.UsageError("--no-derivatives gives values only: it cannot go with --wrt, "
                                   "--direction, --hessian or --hvp")
        wrt = []
    if is_batch(ranges, fmt, points, output):
        from ..rows.stream import Asked

        asked = Asked(mode, None if direction is None else one_point([direction], "--direction"),
                      hessian, None if hvp is None else one_point([hvp], "--hvp"))
        eval_points(prog, constants, ranges, wrt, fmt, strict, points, points_format, keep,
                    output, force, chunk_rows, asked, scheduler)
        return
    evaluation = run(prog, constants, wrt, derivatives=not values_only)
    report_nonfinite(evaluation, strict)
    report_kinks(evaluation)
    extra = _second_order(prog, constants, wrt, direction, hessian, hvp, strict)
    with output_stream(output) as out:
        if fmt == "json":
            click.echo(json_line({**evaluation_json(evaluation), **_extra_json(extra)}), file=out)
            return
        several = len(evaluation.values) > 1
        lines = jacobian_text(evaluation) if several else evaluation_text(evaluation)
        click.echo("\n".join(lines + _extra_text(extra)), file=out)


def _second_order(prog, point, wrt, direction, hessian, hvp, strict) -> dict:
    """The directional derivatives, Hessians and Hessian-vector products asked for."""
    extra = {}
    if direction is not None:
        from ..core.tangent import jvp

        vector = one_point([direction], "--direction")
        extra["direction"] = vector
        extra["directional"] = jvp(prog, point, vector)[1]
    if hessian:
        from ..core.hessian import hessian as ad_hessian

        extra["hessian"] = ad_hessian(prog, point, wrt)
    if hvp is not None:
        from ..core.hessian import hvp as ad_hvp

        vector = one_point([hvp], "--hvp")
        extra["hvp_direction"] = vector
        extra["hvp"] = ad_hvp(prog, point, vector, wrt)
    _report_nonfinite_extra(extra, strict)
    return extra


def _report_nonfinite_extra(extra: dict, strict: bool) -> None:
    import math

    def finite(obj) -> bool:
        if isinstance(obj, dict):
            return all(finite(v) for v in obj.values())
        return math.isfinite(float(obj))

    bad = [key for key in ("directional", "hessian", "hvp") if key in extra
           and not finite(extra[key])]
    if bad:
        message = f"non-finite values in the {', '.join(bad)} results"
        if strict:
            raise RunError(message)
        warning(message)


def _extra_json(extra: dict) -> dict:
    return {key: json_nested(value) for key, value in extra.items()}


def _extra_text(extra: dict) -> list[str]:
    lines = []
    if "direction" in extra:
        lines.append(f"direction: {point_text(extra['direction'], extra['direction'])}")
        lines += [f"d {out}/d direction = {number(v)}" for out, v in extra["directional"].items()]
    for out, matrix in extra.get("hessian", {}).items():
        lines += hessian_text(out, matrix)
    if "hvp" in extra:
        lines.append(f"Hessian-vector product with: "
                     f"{point_text(extra['hvp_direction'], extra['hvp_direction'])}")
        for out, row in extra["hvp"].items():
            lines += [f"(H {out} v)[{x}] = {number(v)}" for x, v in row.items()]
    return lines
