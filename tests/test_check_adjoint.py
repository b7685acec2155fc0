"""``slpdiff check-adjoint``: a student's own reverse sweep, checked term by term against the
engine's; the first wrong statement reported with its line, what it added, what it should have
added and the adjoint it should have used."""

from __future__ import annotations

import json

import pytest

import slpdiff
from helpers import EXAMPLES, invoke, run_slpdiff
from slpdiff.errors import InputError
from slpdiff.teach.check_adjoint import check_adjoint

BOOK = str(EXAMPLES / "griewank.slp")
MINE = (EXAMPLES / "griewank_adjoint.slp").read_text()
AT = {"x1": 1.5, "x2": 0.5}


def _check(text: str, at=AT, **options):
    return check_adjoint(slpdiff.parse_file(BOOK), slpdiff.parse(text, name="mine.slp"), at,
                         **options)


def _line_of(text: str, statement: str) -> int:
    return text.splitlines().index(statement) + 1


def _engine():
    program = slpdiff.parse_file(BOOK)
    ev = slpdiff.evaluate(program, AT)
    return program, ev


def test_the_students_incremental_sweep_passes():
    result = _check(MINE)
    assert result.ok and result.statements == 11 and len(result.points) == 4
    assert result.adjoints[:3] == ["v6_bar", "v5_bar", "v4_bar"]
    proc = run_slpdiff("check-adjoint", BOOK, EXAMPLES / "griewank_adjoint.slp",
                       "--at", "x1=1.5,x2=0.5")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "every adjoint agrees with slpdiff's (11 statements" in proc.stdout


def test_the_first_wrong_statement_is_reported_with_the_term_it_should_add():
    wrong = MINE.replace("x2_bar -= v1_bar * v1 / x2", "x2_bar -= v1_bar * x1 / x2")
    problem = _check(wrong).problem
    assert problem.line == _line_of(wrong, "x2_bar -= v1_bar * x1 / x2")
    program, ev = _engine()
    v1_bar = 2 * 1.5059216638369535 / 2  # trace's adjoint of v1 at the point
    assert problem.added == pytest.approx(-v1_bar * 1.5 / 0.5, rel=1e-12)
    assert problem.expected == pytest.approx(-v1_bar * 3.0 / 0.5, rel=1e-12)
    assert "the local partial d v1/d x2 = -v1 / x2" in problem.message
    proc = run_slpdiff("check-adjoint", BOOK, EXAMPLES / "griewank_mistake.slp",
                       "--at", "x1=1.5,x2=0.5")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].endswith(":14: x2_bar -= v1_bar * x1 / x2")
    assert proc.stderr == f"slpdiff: error: {EXAMPLES / 'griewank_mistake.slp'}: the adjoint " \
                          "is wrong on line 14\n"


def test_a_term_right_at_the_given_point_only_is_caught_at_a_random_one():
    # 1 / x2 is 2 at x2 = 0.5: the student's 2 is right there, and only there.
    wrong = MINE.replace("x1_bar += v1_bar / x2", "x1_bar += v1_bar * 2")
    result = _check(wrong)
    assert result.problem is not None and result.problem.at != AT
    assert _check(wrong, random_count=0).ok


def test_an_adjoint_used_before_it_is_complete():
    lines = MINE.splitlines()
    early = lines.index("x1_bar += v1_bar / x2")
    late = lines.index("v1_bar += v2_bar * cos(v1)")
    lines[early], lines[late] = lines[late], lines[early]
    wrong = "\n".join(lines) + "\n"
    problem = _check(wrong).problem
    assert problem.line == _line_of(wrong, "x1_bar += v1_bar / x2")
    assert "v1_bar is" in problem.message and "when complete" in problem.message


def test_a_missing_term_is_reported_at_the_adjoints_last_statement():
    wrong = MINE.replace("x2_bar += v3_bar * v3\n", "")
    problem = _check(wrong).problem
    assert problem.line == _line_of(wrong, "x2_bar -= v1_bar * v1 / x2")
    assert "missing v3_bar * v3" in problem.message
    _, ev = _engine()
    assert problem.expected == float(ev.gradient["v6"]["x2"])


def test_an_input_adjoint_never_computed():
    wrong = MINE.replace("x1_bar += v1_bar / x2\n", "")
    problem = _check(wrong).problem
    assert problem.line == 0 and "never computes x1_bar" in problem.message
    result = invoke("check-adjoint", BOOK, "-", "--at", "x1=1.5,x2=0.5", input=wrong)
    assert result.exit_code == 1 and "an adjoint is missing" in result.stderr


def test_a_wrong_seed_and_a_wrong_source():
    assert "seeded with 1" in _check(MINE.replace("v6_bar = 1", "v6_bar = 2")).problem.message
    wrong = MINE.replace("v2_bar += v5_bar", "v2_bar += v4_bar")
    assert "v2_bar gets" not in _check(wrong).problem.message
    assert _check(wrong).problem.line == _line_of(wrong, "v2_bar += v4_bar")


def test_a_folded_adjoint_and_slpdiffs_own_programs_pass():
    folded = ("v6_bar = 1\nv4_bar = v5 + v4\nv1_bar = v4_bar + v4 * cos(v1)\n"
              "x1_bar = v1_bar / x2\nx2_bar = v1_bar * (-v1 / x2) - v4_bar * v3\n")
    assert _check(folded).ok
    for options in ([], ["--unfolded"]):
        grad = run_slpdiff("grad", BOOK, *options).stdout
        proc = run_slpdiff("check-adjoint", BOOK, "-", input=grad)
        assert proc.returncode == 0, proc.stdout


def test_names_mine_cannot_read_are_errors():
    with pytest.raises(InputError, match="MINE reads 'foo'"):
        _check(MINE + "x1_bar += foo\n")
    with pytest.raises(InputError, match="computes no adjoint"):
        _check("q = v1 * 2\n")
    several = slpdiff.parse("input x\na = x * 2\nb = x * 3\noutput a, b")
    with pytest.raises(InputError, match="choose one with --of"):
        check_adjoint(several, slpdiff.parse("x_bar += 2"), {"x": 1.0})
    assert check_adjoint(several, slpdiff.parse("a_bar = 1\nx_bar += a_bar * 2"), {"x": 1.0},
                         output="a").ok


def test_json_report():
    wrong = MINE.replace("v3_bar -= v4_bar", "v3_bar += v4_bar")
    result = invoke("check-adjoint", BOOK, "-", "--at", "x1=1.5,x2=0.5", "--format", "json",
                    input=wrong)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["problem"]["line"] == _line_of(wrong, "v3_bar += v4_bar")
    assert data["problem"]["expected"] == pytest.approx(-2.843677466659611, rel=1e-12)
    assert data["points"][0] == AT
