"""``slpdiff check``: AD derivatives against central finite differences."""

from __future__ import annotations

import click

from ..errors import RunError
from ..formats import derivative_label, json_line, json_number, number, point_text
from .main import warning
from .options import (
    at_option,
    format_option,
    load_program,
    merge_names,
    nonfinite_diagnostics,
    one_point,
    program_argument,
    wrt_option,
)


@click.command("check")
@program_argument
@at_option
@wrt_option("Check the derivatives with respect to these inputs only (default: all).")
@click.option("--rtol", type=click.FloatRange(min=0), default=1e-6, show_default=True,
              help="Largest relative difference |AD - FD| / max(|AD|, |FD|) accepted (plus "
                   "an allowance for rounding in the difference itself).")
@click.option("--eps", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="H", help="Relative step: h = H * max(1, |x|) for each input x "
                                "[default: 6.06e-06, the cube root of the float64 epsilon].")
@click.option("--hessian", is_flag=True, help="Check second derivatives too (forward over "
                                              "reverse, against differences of the gradient).")
@format_option
def check_command(program, at, wrt, rtol, eps, hessian, fmt):
    """Compare every derivative with central finite differences; exit 1 if any disagrees.

    This checks slpdiff's own derivatives of PROGRAM, whatever PROGRAM computes: given a
    student's hand-written adjoint program, it differentiates that program and says its
    derivatives agree even when the student's adjoints are wrong. To check a hand-written
    reverse sweep, use slpdiff check-adjoint PROGRAM MINE.slp.

    Prints one line per derivative: the AD value, the finite difference (f(x+h) - f(x-h)) / 2h,
    their relative difference, and ok, FAIL, or kink. Where the program is not differentiable
    at the point or between the points a difference uses (abs at 0, a tie in max, sqrt at 0...),
    a warning names the place and the affected derivatives say kink instead of failing.

    \b
    Examples:
      slpdiff check examples/seed.slp --at x=1,w=4
      slpdiff check examples/rosenbrock.slp --at x=-1.2,y=1 --hessian
      echo 'y = abs(x) * 3' | slpdiff check - --at x=0
    """
    from ..check import check

    prog = load_program(program)
    result = check(prog, one_point(at), merge_names(wrt), rtol=rtol, eps=eps, hessian=hessian)
    for d in nonfinite_diagnostics(prog, result.warnings):
        warning(d.format())
    for kink in result.kinks:
        warning(kink.diagnostic(prog).format())
    if fmt == "json":
        click.echo(json_line(_json(result, prog)))
    else:
        click.echo("\n".join(_text(result)))
    failed = [e for e in result.entries if e.status == "FAIL"]
    if failed:
        raise RunError(f"{len(failed)} of {len(result.entries)} derivatives differ from finite "
                       f"differences by more than --rtol {number(rtol)}")


def _label(entry) -> str:
    if len(entry.wrt) == 1:
        return derivative_label(entry.output, entry.wrt[0])
    return f"d2 {entry.output}/d {entry.wrt[0]} d {entry.wrt[1]}"


def _text(result) -> list[str]:
    steps = ", ".join(f"{x} = {number(h)}" for x, h in result.steps.items())
    lines = [f"at {point_text(result.at, result.at) or '(no inputs)'}",
             f"steps: {steps or '(none)'}"]
    table = [["derivative", "AD", "finite difference", "relative error", ""]]
    table += [[_label(e), number(e.ad), number(e.fd), number(e.error), e.status]
              for e in result.entries]
    widths = [max(len(row[k]) for row in table) for k in range(5)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in table]
    kinks = sum(e.status == "kink" for e in result.entries)
    failed = sum(e.status == "FAIL" for e in result.entries)
    checked = len(result.entries) - kinks - failed
    summary = f"{checked} of {len(result.entries)} agree within rtol {number(result.rtol)}"
    if kinks:
        summary += f"; {kinks} at or across a point where the program is not differentiable"
    if failed:
        summary += f"; {failed} FAIL"
    return [*lines, summary]


def _json(result, prog) -> dict:
    return {
        "at": {name: json_number(v) for name, v in result.at.items()},
        "steps": {name: json_number(h) for name, h in result.steps.items()},
        "rtol": json_number(result.rtol),
        "derivatives": [{"output": e.output, "wrt": list(e.wrt), "ad": json_number(e.ad),
                         "fd": json_number(e.fd), "error": json_number(e.error),
                         "status": e.status} for e in result.entries],
        "kinks": [{"function": k.program.ops[k.position].name,
                   "line": k.program.lines[k.position], "column": k.program.columns[k.position],
                   "at_point": k.at_point, "crossed_by": k.crossed_by,
                   "message": k.describe()} for k in result.kinks],
        "ok": result.ok,
    }
