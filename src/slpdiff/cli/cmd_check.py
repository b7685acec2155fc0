"""``slpdiff check``: AD derivatives against finite differences."""

from __future__ import annotations

import click

from ..errors import RunError
from ..formats import json_line, json_number, number, point_text
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
              help="Largest relative difference |AD - FD| / max(|AD|, |FD|) accepted, plus the "
                   "finite difference's own allowance (its estimated truncation and rounding "
                   "error); the tolerance column shows the sum.")
@click.option("--eps", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="H", help="Relative step: about H * |x| for each input x, and also H "
                                "when |x| < 1 (each a power of two; smaller steps are tried "
                                "where these fail) [default: 6.06e-06, the cube root of the "
                                "float64 epsilon].")
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
        click.echo(json_line(_json(result)))
    else:
        click.echo("\n".join(_text(result)))
    failed = [e for e in result.entries if e.status == "FAIL"]
    if failed:
        raise RunError(f"{len(failed)} of {len(result.entries)} derivatives differ from finite "
                       f"differences by more than their tolerance (--rtol {number(rtol)} plus "
                       "the difference's allowance)")


def _step(entry) -> str:
    if entry.side is None:
        return "-"
    return number(entry.step) + ("" if entry.side == "central" else f" ({entry.side})")


def _text(result) -> list[str]:
    lines = [f"at {point_text(result.at, result.at) or '(no inputs)'}"]
    table = [["derivative", "AD", "finite difference", "relative error", "tolerance", "step",
              ""]]
    table += [[e.label, number(e.ad), number(e.fd), number(e.error), number(e.tolerance),
               _step(e), e.status] for e in result.entries]
    widths = [max(len(row[k]) for row in table) for k in range(len(table[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in table]
    return [*lines, _summary(result), *_notes(result)]


def _summary(result) -> str:
    entries = result.entries
    count = {status: sum(e.status == status for e in entries)
             for status in ("ok", "kink", "unchecked", "FAIL")}
    parts = []
    if count["ok"] or count["FAIL"] or not entries:
        parts.append(f"{count['ok']} of {len(entries)} agree within rtol {number(result.rtol)} "
                     "plus each difference's allowance")
    if count["kink"]:
        agree = sum(e.status == "kink" and e.agrees for e in entries)
        also = (" (the finite difference agrees there)" if agree == count["kink"] else
                f" ({agree} of them agree anyway)" if agree else "")
        parts.append(f"{count['kink']} at or across a point where the program is not "
                     f"differentiable{also}")
    if count["unchecked"]:
        parts.append(f"{count['unchecked']} unchecked: no finite difference could be taken "
                     "(see below)")
    if count["FAIL"]:
        parts.append(f"{count['FAIL']} FAIL")
    return "; ".join(parts)


def _notes(result) -> list[str]:
    """Why entries are unchecked, and which steps were not used and why."""
    notes = [f"{e.label}: unchecked: {e.reason}" for e in result.entries
             if e.status == "unchecked"]
    skipped: dict[tuple[str, str], list[float]] = {}
    for e in result.entries:
        for step, why in e.rejected:
            steps = skipped.setdefault((e.wrt[-1], why), [])
            if step not in steps:
                steps.append(step)
    for (name, why), steps in skipped.items():
        if len(steps) == 1:
            notes.append(f"{name}: the step {number(steps[0])} was not used: {why}")
        else:
            notes.append(f"{name}: {len(steps)} steps, {number(max(steps))} down to "
                         f"{number(min(steps))}, were not used: {why}")
    return notes


def _json(result) -> dict:
    return {
        "at": {name: json_number(v) for name, v in result.at.items()},
        "rtol": json_number(result.rtol),
        "derivatives": [{"output": e.output, "wrt": list(e.wrt), "ad": json_number(e.ad),
                         "fd": json_number(e.fd), "error": json_number(e.error),
                         "tolerance": json_number(e.tolerance),
                         "allowance": json_number(e.allowance),
                         "step": json_number(e.step), "difference": e.side,
                         "status": e.status, "reason": e.reason,
                         "rejected": [{"step": json_number(h), "reason": why}
                                      for h, why in e.rejected]}
                        for e in result.entries],
        "kinks": [{"function": k.program.ops[k.position].name,
                   "line": k.program.lines[k.position], "column": k.program.columns[k.position],
                   "at_point": k.at_point, "crossed_by": k.crossed_by,
                   "message": k.describe()} for k in result.kinks],
        "ok": result.ok,
    }
