"""The lecture's example and the book's notation: Griewank and Walther's worked example
(*Evaluating Derivatives*, 2008, section 1.4), traced in the book's notation, as LaTeX that fits a
beamer slide; the quotient's rule in the book's form, as accurate as the old one.

LaTeX is compiled with pdflatex where it is installed (CI installs TeX from Debian's packages); the
tests that need it are skipped elsewhere, unless SLPDIFF_REQUIRE_TEX is set, where they fail.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES, invoke, run_slpdiff
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.language.rules import rules_for
from slpdiff.teach.notation import BookLabels, shown, to_tex
from slpdiff.teach.tables import render, trace_tables
from slpdiff.teach.trace import trace

BOOK = str(EXAMPLES / "griewank.slp")
AT = {"x1": 1.5, "x2": 0.5}
PDFLATEX = shutil.which("pdflatex")


def needs_tex():
    if PDFLATEX is None:
        if os.environ.get("SLPDIFF_REQUIRE_TEX"):
            pytest.fail("SLPDIFF_REQUIRE_TEX is set but pdflatex is not on PATH")
        pytest.skip("pdflatex is not installed")


def compile_in_beamer(tex: str, tmp_path) -> str:
    """Compile ``tex`` in a beamer frame at 10 pt; the log (the test fails if pdflatex does)."""
    (tmp_path / "table.tex").write_text(tex)
    (tmp_path / "slides.tex").write_text(
        "\\documentclass[10pt]{beamer}\n\\begin{document}\n\\begin{frame}\n"
        "\\input{table.tex}\n\\end{frame}\n\\end{document}\n")
    proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "slides.tex"],
                          cwd=tmp_path, capture_output=True, timeout=180)
    log = (tmp_path / "slides.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    return log


def overfull_width(log: str) -> list[str]:
    """The "Overfull \\hbox" warnings of a log: something wider than the slide."""
    return re.findall(r"Overfull \\hbox \([^)]*\)", log)


def book_values():
    """The example computed here with math, statement by statement, and its gradient by hand:
    f = (sin(u) + u - e) (u - e) with u = x1/x2, e = exp(x2)."""
    x1, x2 = AT["x1"], AT["x2"]
    u, e = x1 / x2, math.exp(x2)
    a, b = math.sin(u) + u - e, u - e
    df_du = (math.cos(u) + 1) * b + a
    df_de = -b - a
    return {"v1": u, "v2": math.sin(u), "v3": e, "v4": b, "v5": a, "v6": a * b,
            "x1": df_du / x2, "x2": df_du * -x1 / x2 ** 2 + df_de * e}


# --- the example's numbers ------------------------------------------------------------------------

def test_the_example_matches_the_hand_computation():
    program = slpdiff.parse_file(BOOK)
    ev = slpdiff.evaluate(program, AT)
    hand = book_values()
    names = dict(zip(program.names, ev.node_values, strict=True))
    for name in ("v1", "v2", "v3", "v4", "v5", "v6"):
        assert float(names[name]) == pytest.approx(hand[name], rel=1e-15)
    assert float(ev.gradient["v6"]["x1"]) == pytest.approx(hand["x1"], rel=1e-14)
    assert float(ev.gradient["v6"]["x2"]) == pytest.approx(hand["x2"], rel=1e-14)
    # The book's four decimals: 3.0118 and -13.7239 (its table of the reverse sweep).
    assert shown(ev.gradient["v6"]["x1"], 5) == "3.0118"
    assert round(float(ev.gradient["v6"]["x2"]), 4) == -13.7240 or \
        round(float(ev.gradient["v6"]["x2"]), 4) == -13.7239


def test_the_reverse_sweep_is_the_books_incremental_adjoint():
    tr = trace(slpdiff.parse_file(BOOK), AT)
    (reverse,) = trace_tables(tr, 5, "book")[1:]
    updates = [row[1].text for row in reverse.rows]
    assert updates == [
        "vbar[6] = 1",
        "vbar[5] += vbar[6] * v[4]", "vbar[4] += vbar[6] * v[5]",
        "vbar[2] += vbar[5]", "vbar[4] += vbar[5]",
        "vbar[1] += vbar[4]", "vbar[3] -= vbar[4]",
        "vbar[0] += vbar[3] * v[3]",  # exp's rule is its own value, v3
        "vbar[1] += vbar[2] * cos(v[1])",
        "vbar[-1] += vbar[1] / v[0]",
        "vbar[0] -= vbar[1] * v[1] / v[0]",  # the quotient's rule: -(a/b)/b = -v1/v0
    ]
    assert reverse.rows[-1][1].tex == r"\bar v_{0} \mathrel{-}= \bar v_{1} \cdot v_{1} / v_{0}"
    # Every number is the engine's, rounded for display only.
    rows = tr.sweeps[0].rows
    assert [row[3] for row in reverse.rows] == [shown(r.adjoint, 5) for r in rows]
    assert reverse.footer == ["d v6/d x1 = 3.0118", "d v6/d x2 = -13.724"]


def test_the_book_names_the_inputs_first_and_keeps_the_programs_names():
    program = slpdiff.parse_file(BOOK)
    book = BookLabels(program)
    assert [book.name(i) for i in range(len(program))] == [
        "v[-1]", "v[0]", "v[1]", "v[2]", "v[3]", "v[4]", "v[5]", "v[6]"]
    (forward, _) = trace_tables(trace(program, AT), None, "book")
    assert [row[3] for row in forward.rows] == ["x1", "x2", "v1", "v2", "v3", "v4", "v5", "v6"]
    assert [row[1].text for row in forward.rows][:3] == ["x1", "x2", "v[-1] / v[0]"]
    assert forward.rows[2][1].tex == "v_{-1} / v_{0}"


def test_the_tangent_sweep_sits_beside_the_values_with_zeros_shown():
    tr = trace(slpdiff.parse_file(BOOK), AT, mode="forward", wrt=["x1"])
    _, tangent = trace_tables(tr, 5, "book")
    assert tangent.headers == ["v", "operation", "value", "tangent", "tangent value"]
    assert len(tangent.rows) == 8  # every node, including those that do not depend on x1
    by_name = {row[0].text: row for row in tangent.rows}
    assert by_name["v[0]"][3].text == "vdot[0] = 0" and by_name["v[0]"][4] == "0.0000"
    assert by_name["v[3]"][3].text == "vdot[3] = 0"  # exp(x2): structurally zero along x1
    assert by_name["v[-1]"][3].text == "vdot[-1] = 1"
    assert by_name["v[6]"][3].text == "vdot[6] = vdot[5] * v[4] + vdot[4] * v[5]"
    assert by_name["v[6]"][4] == shown(tr.evaluation.gradient["v6"]["x1"], 5)


def test_book_notation_through_the_command():
    proc = run_slpdiff("trace", BOOK, "--at", "x1=1.5,x2=0.5", "--notation", "book",
                       "--digits", "5")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "  v[6]   v[5] * v[4]    2.0166  v6" in proc.stdout
    assert "vbar[0] -= vbar[1] * v[1] / v[0]" in proc.stdout
    markdown = invoke("trace", BOOK, "--at", "x1=1.5,x2=0.5", "--notation", "book",
                      "--format", "markdown").stdout
    assert "| $v_{-1}$ | $\\texttt{x1}$ | 1.5 | `x1` |" in markdown


@pytest.mark.parametrize("text", [
    "0.5 * v[3]^(v[1] - 1)", "sqrt(1 - v[2]^2)", "vbar[3] -= vbar[4] * -sin(v[1])",
    "abs(v[1]) + sigmoid(v[2])", "v[1]^-2", "atan2(v[1], v[2])",
])
def test_formulas_become_latex_math(text):
    tex = to_tex(text)
    assert "[" not in tex and "*" not in tex and "^(" not in tex
    assert tex.count("{") == tex.count("}")


# --- slides ---------------------------------------------------------------------------------------

SLIDE_PROGRAMS = {
    "book": BOOK,
    "seed": str(EXAMPLES / "seed.slp"),
}


def _random_twelve(seed: int) -> str:
    """12 statements over x, y from random functions of the table (long rules included)."""
    rng = random.Random(seed)
    names, lines = ["x", "y"], ["input x, y"]
    functions = sorted(n for n, p in PRIMITIVES.items() if p.kind == "function" and not p.reduces)
    for k in range(12):
        prim = PRIMITIVES[rng.choice(functions)]
        args = [names[-1]] + [rng.choice(names) for _ in prim.params[1:]]
        lines.append(f"s{k} = {prim.name}({', '.join(args)})")
        names.append(f"s{k}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("notation", ["book", "program"])
@pytest.mark.parametrize("mode", ["reverse", "forward", "second"])
@pytest.mark.parametrize("name", ["book", "seed", "random1", "random2", "random3"])
def test_each_latex_table_fits_a_beamer_slide(name, mode, notation, tmp_path):
    needs_tex()
    if name.startswith("random"):
        program = slpdiff.parse(_random_twelve(int(name[-1])))
        at = {"x": 0.3, "y": 0.7}
    else:
        program = slpdiff.parse_file(SLIDE_PROGRAMS[name])
        at = AT if name == "book" else {"x": 1.0, "w": 4.0}
    with np.errstate(all="ignore"):
        tables = trace_tables(trace(program, at, mode=mode,
                                    direction={program.input_names[0]: 1.0}
                                    if mode == "second" else None), 4, notation)
    for k, table in enumerate(tables):
        log = compile_in_beamer(render([table], "latex"), tmp_path)
        assert overfull_width(log) == [], (k, render([table], "latex"))


def test_full_precision_is_for_paper_not_slides(tmp_path):
    """Without --digits every digit is shown; the LaTeX still compiles (in an article)."""
    needs_tex()
    tex = invoke("trace", BOOK, "--at", "x1=1.5,x2=0.5", "--notation", "book", "--format",
                 "latex").stdout
    (tmp_path / "t.tex").write_text(tex)
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\begin{document}\n"
                                      "\\input{t.tex}\n\\end{document}\n")
    proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                          cwd=tmp_path, capture_output=True, timeout=180)
    assert proc.returncode == 0


# --- the quotient's rule ----------------------------------------------------------------------

def test_the_quotient_rule_reuses_the_quotient():
    (da, db) = rules_for(PRIMITIVES["divide"])
    assert db.text == "-(a / b) / b"
    assert ("own",) in db.steps  # the node's value, not a / b again
    assert da(np.float64(3.0), np.float64(4.0)) == 0.25
    assert db(np.float64(3.0), np.float64(4.0)) == -3.0 / 4.0 / 4.0


def _ulps(x: float, exact: Fraction) -> Fraction:
    return abs(Fraction(x) - exact) / Fraction(math.ulp(float(exact)))


def test_the_quotient_rule_is_as_accurate_as_the_textbook_formula():
    """Both forms round twice; on random pairs the new one's error is within 1.5 units in the
    last place like the old, and neither is the better one much more often."""
    rng = random.Random(2)
    (_, db) = rules_for(PRIMITIVES["divide"])
    worst_new = worst_old = Fraction(0)
    closer = 0
    n = 2000
    for _ in range(n):
        a = rng.uniform(-1, 1) * 2.0 ** rng.randint(-30, 30)
        b = rng.uniform(-1, 1) * 2.0 ** rng.randint(-30, 30)
        exact = -Fraction(a) / Fraction(b) ** 2
        new = float(db(np.float64(a), np.float64(b)))
        old = -a / (b * b)
        e_new, e_old = _ulps(new, exact), _ulps(old, exact)
        worst_new, worst_old = max(worst_new, e_new), max(worst_old, e_old)
        closer += (e_new < e_old) - (e_new > e_old)
    assert worst_new <= 1.5 and worst_old <= 1.5
    assert abs(closer) < n // 10


def test_the_quotient_rule_does_not_square_b():
    (_, db) = rules_for(PRIMITIVES["divide"])
    with np.errstate(all="ignore"):
        # -a/b^2 gave -0.0 here (b^2 overflows) and lost digits there (b^2 underflows).
        assert float(db(np.float64(1e300), np.float64(1e160))) == pytest.approx(-1e-20, rel=1e-15)
        assert float(db(np.float64(1e-200), np.float64(1e-160))) == pytest.approx(-1e120,
                                                                               rel=1e-15)
