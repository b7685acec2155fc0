"""The teacher's options of trace, graph and explain, and the small things a lecturer hits:
rounding for display (JSON keeps every digit), tangents along a direction, the second-order
sweep, graphs for a projector, symbolic explanations, constant expressions in --at, values without
derivatives. Every number is checked against the engine (evaluate, jvp, hvp)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES, invoke, random_program, run_slpdiff, same_bits
from slpdiff.core.hessian import hessian as ad_hessian
from slpdiff.core.hessian import hvp
from slpdiff.core.tangent import jvp
from slpdiff.teach.dot import auto_rankdir, to_dot
from slpdiff.teach.notation import shown
from slpdiff.teach.tables import trace_json, trace_tables
from slpdiff.teach.trace import trace

SEED = str(EXAMPLES / "seed.slp")
BOOK = str(EXAMPLES / "griewank.slp")
AT = {"x": 1.0, "w": 4.0}


# --- --digits: display only ----------------------------------------------------------------------

@pytest.mark.parametrize("x, digits, text", [
    (1.5, 5, "1.5000"), (0.14112000805986721, 4, "0.1411"), (-13.723961509314076, 5, "-13.724"),
    (1e-20, 3, "1.00e-20"), (123456789.0, 3, "1.23e+08"), (3.0, 1, "3"), (math.inf, 4, "inf"),
    (-0.0, 2, "-0.0"), (0.1, None, "0.1"), (2 / 3, None, "0.6666666666666666"),
])
def test_shown_rounds_to_significant_digits(x, digits, text):
    assert shown(x, digits) == text


def test_digits_round_the_trace_and_json_keeps_every_digit():
    program = slpdiff.parse_file(SEED)
    ev = slpdiff.evaluate(program, AT)
    text = invoke("trace", SEED, "--at", "x=1,w=4", "--digits", "4").stdout
    assert "  v7    v5 + v6       27.91    10" in text
    assert "d v7/d x = 51.32" in text and "51.318" not in text
    assert max(len(line) for line in text.splitlines()) < 70
    rows = json.loads(invoke("trace", SEED, "--at", "x=1,w=4", "--digits", "4",
                             "--format", "json").stdout)
    assert [r["value"] for r in rows if r["table"] == "forward"] == \
        [float(v) for v in ev.node_values]


# --- forward mode along a direction, and the second-order sweep ---------------------------------

def test_forward_trace_along_a_direction_has_the_numbers_of_eval_direction():
    program = slpdiff.parse_file(SEED)
    tr = trace(program, AT, mode="forward", direction={"x": 0.5, "w": -2.0})
    (sweep,) = tr.sweeps
    _, derivs = jvp(program, AT, {"x": 0.5, "w": -2.0})
    assert same_bits(sweep.derivatives["v7"], derivs["v7"])
    assert [r.update for r in sweep.rows[:2]] == ["x_dot = 0.5", "w_dot = -2.0"]
    text = invoke("trace", SEED, "--at", "x=1,w=4", "--mode", "forward",
                  "--direction", "x=0.5,w=-2").stdout
    eval_text = invoke("eval", SEED, "--at", "x=1,w=4", "--direction", "x=0.5,w=-2").stdout
    (line,) = [ln for ln in eval_text.splitlines() if ln.startswith("d v7/d direction")]
    assert line in text.splitlines()


@pytest.mark.parametrize("seed", range(4))
def test_second_order_trace_ends_with_the_hessian_vector_product(seed):
    program = slpdiff.parse(random_program(15, seed=seed))
    at = {"x": 0.4, "y": 0.8, "z": 1.3}
    with np.errstate(all="ignore"):
        tr = trace(program, at, mode="second", direction={"y": 1.0, "z": -0.5})
        expected = hvp(program, at, {"y": 1.0, "z": -0.5})
    tangent, *seconds = tr.sweeps
    assert tangent.kind == "tangent" and [s.kind for s in seconds] == ["second"]
    for sweep in seconds:
        for x, value in sweep.derivatives.items():
            e = float(expected[sweep.of][x])
            if math.isfinite(e):
                assert float(value) == pytest.approx(e, rel=1e-9, abs=1e-12)
        # The adjoints are the engine's reverse sweep, bit for bit.
        reverse = trace(program, at).sweeps[0]
        assert [r.update for r in sweep.rows] == [r.update for r in reverse.rows]
        assert all(same_bits(a.adjoint, b.adjoint)
                   for a, b in zip(sweep.rows, reverse.rows, strict=True))


def test_second_order_trace_along_each_input_gives_the_hessians_columns():
    program = slpdiff.parse_file(SEED)
    tr = trace(program, AT, mode="second")
    hessian = ad_hessian(program, AT)["v7"]
    seconds = [s for s in tr.sweeps if s.kind == "second"]
    assert [s.direction for s in seconds] == [{"x": 1.0}, {"w": 1.0}]
    for sweep, column in zip(seconds, ["x", "w"], strict=True):
        for row in ["x", "w"]:
            assert float(sweep.derivatives[row]) == pytest.approx(
                float(hessian[row][column]), rel=1e-13)
    proc = run_slpdiff("trace", SEED, "--at", "x=1,w=4", "--mode", "second", "--direction",
                       "x=1", "--digits", "6")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "d/d x of d v7/d x = 340.716" in proc.stdout
    rows = [json.loads(line) for line in [invoke(
        "trace", SEED, "--at", "x=1,w=4", "--mode", "second", "--direction", "x=1",
        "--format", "json").stdout]][0]
    assert {r["table"] for r in rows} >= {"forward", "tangent", "second", "hvp"}


def test_direction_is_refused_in_reverse_mode():
    result = invoke("trace", SEED, "--at", "x=1,w=4", "--direction", "x=1")
    assert result.exit_code == 2 and "--direction is for --mode forward" in result.stderr


# --- graphs for a projector ----------------------------------------------------------------------

def test_graph_defaults_read_on_a_projector():
    program = slpdiff.parse_file(SEED)
    text = to_dot(program)
    assert "fontsize=14" in text and "rankdir=TB" in text
    assert auto_rankdir(program, [True] * len(program), True) == "TB"
    # A shallow, wide graph (eight inputs into one sum) is laid out left to right... as a column.
    wide = slpdiff.parse("y = " + " + ".join(f"x{k} * x{k + 1}" for k in range(8)))
    assert to_dot(wide, rankdir="LR").count("rankdir=LR") == 1
    options = invoke("graph", SEED, "--rankdir", "LR", "--fontsize", "20").stdout
    assert "rankdir=LR" in options and options.count("fontsize=20") == 3


def test_graph_digits_round_labels_only():
    text = invoke("graph", SEED, "--at", "x=1,w=4", "--digits", "3").stdout
    assert "v1_bar = 12.8" in text and "value = -0.757" in text
    assert "&#8706;v2/&#8706;v1 = cos(v1) = -0.654" in text


def test_rendered_graph_is_slide_shaped_and_shows_the_partial_sign(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    out = tmp_path / "seed.svg"
    proc = run_slpdiff("graph", SEED, "--at", "x=1,w=4", "-o", out)
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(out).getroot()
    width, height = (float(root.get(k).removesuffix("pt")) for k in ("width", "height"))
    assert 0.5 < width / height < 2.5  # not a 10:1 strip (LR drew the seed 4211 x 387 px)
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert "\u2202v1/\u2202w = x = 1.0" in texts and "v1_bar = 12.82952364229596" in texts
    png = tmp_path / "seed.png"
    assert run_slpdiff("graph", SEED, "--at", "x=1,w=4", "-o", png).returncode == 0
    proc = subprocess.run(["dot", "-Tcanon"], input=invoke("graph", SEED).stdout.encode(),
                          capture_output=True)
    assert proc.returncode == 0 and proc.stderr == b""


# --- explain without a point ---------------------------------------------------------------------

def test_explain_without_a_point_is_symbolic():
    proc = run_slpdiff("explain", SEED, "--wrt", "w")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert "  product   = x * cos(v1) * 2 * v2 * w" in lines
    assert lines[-1] == "d v7/d w = x * v5 + x * cos(v1) * v5 + x * cos(v1) * 2 * v2 * w + v4"
    # The products of rules, evaluated at a point, are eval's derivative (sum over paths).
    program = slpdiff.parse_file(SEED)
    ev = slpdiff.evaluate(program, AT)
    env = {name: float(v) for name, v in zip(["x", "w", "v1", "v2", "v3", "v4", "v5", "v6", "v7"],
                                            ev.node_values, strict=True)}
    env["cos"] = math.cos
    total = eval(lines[-1].split(" = ", 1)[1], env)  # noqa: S307 - our own output
    assert total == pytest.approx(float(ev.gradient["v7"]["w"]), rel=1e-14)
    data = json.loads(invoke("explain", SEED, "--wrt", "x", "--format", "json").stdout)
    assert data["at"] is None and data["paths"] == 3
    assert [p["product"] for p in data["shown"]] == [
        "w * v5", "w * cos(v1) * v5", "w * cos(v1) * 2 * v2 * w"]


def test_explain_digits():
    text = invoke("explain", SEED, "--at", "x=1,w=4", "--wrt", "w", "--digits", "4").stdout
    assert "  d v5/d v3 = v5 = 25.62" in text and "sum of the 4 path products = 13.40" in text


# --- --at constant expressions and values without derivatives ----------------------------------

@pytest.mark.parametrize("value, expected", [
    ("pi/3", math.pi / 3), ("-pi/3", -math.pi / 3), ("sqrt(2)/2", math.sqrt(2) / 2),
    ("2^-10", 2 ** -10), ("atan2(1, 1)*4", math.pi), ("exp(1)", math.e), ("(1+2)*3", 9.0),
])
def test_at_takes_constant_expressions_of_the_language(value, expected):
    result = invoke("eval", "-", "--at", f"t={value},u=1", input="y = t * u")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"y = {float(np.float64(expected))!r}"


@pytest.mark.parametrize("value, words", [
    ("pi/", "'pi/' is not a number or a constant expression: expected"),
    ("t+1", "'t+1' is not a number (a constant expression cannot read 't'"),
    ("abc", "'abc' is not a number"),
    ("1;y=2", "'1;y=2' is not a number"),
    ("sinn(1)", "unknown function 'sinn'"),
])
def test_bad_constant_expressions_are_usage_errors(value, words):
    result = invoke("eval", "-", "--at", f"t={value}", input="y = t")
    assert result.exit_code == 2 and words in result.stderr, result.stderr
    assert result.stderr.count("slpdiff: error:") == 1


def test_constant_expressions_through_the_command_and_in_grids():
    proc = run_slpdiff("eval", "-", "--at", "t=pi/3", input="y = sin(t)^2")
    assert proc.returncode == 0 and proc.stdout.startswith("y = 0.7499999999999999")
    grid = run_slpdiff("eval", "-", "--at", "t=0:pi:pi/2", "--format", "csv", input="y = t")
    assert grid.stdout.splitlines()[1:] == ["0.0,0.0,1.0", f"{math.pi / 2!r},{math.pi / 2!r},1.0",
                                            f"{math.pi!r},{math.pi!r},1.0"]


def test_values_without_derivatives():
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4", "--no-derivatives")
    assert proc.returncode == 0 and proc.stdout == "v7 = 27.906496678143885\n"
    data = json.loads(invoke("eval", SEED, "--at", "x=1,w=4", "--no-derivatives",
                             "--format", "json").stdout)
    assert data == {"at": {"x": 1.0, "w": 4.0}, "value": {"v7": 27.906496678143885}}
    csv = invoke("eval", SEED, "--at", "x=0:1:1,w=4", "--no-derivatives", "--format", "csv")
    assert csv.stdout.splitlines()[0] == "x,w,v7"
    clash = invoke("eval", SEED, "--at", "x=1,w=4", "--no-derivatives", "--hessian")
    assert clash.exit_code == 2 and "--no-derivatives gives values only" in clash.stderr


def test_check_help_says_what_it_checks():
    text = " ".join(invoke("check", "--help").stdout.split())
    assert "it differentiates that program and says its derivatives agree even when the " \
           "student's adjoints are wrong" in text
    assert "slpdiff check-adjoint PROGRAM MINE.slp" in text


def test_trace_json_rows_for_every_mode_are_valid():
    program = slpdiff.parse_file(BOOK)
    for mode in ("reverse", "forward", "second"):
        rows = trace_json(trace(program, {"x1": 1.5, "x2": 0.5}, mode=mode))
        json.dumps(rows, allow_nan=False)
        assert rows[0]["table"] == "forward"


def test_notation_is_checked_by_the_library():
    with pytest.raises(ValueError, match="notation"):
        trace_tables(trace(slpdiff.parse_file(SEED), AT), None, "greek")


def test_text_trace_tables_stay_aligned_in_book_notation():
    text = invoke("trace", BOOK, "--at", "x1=1.5,x2=0.5", "--notation", "book", "--mode",
                  "forward").stdout
    table = [ln for ln in text.splitlines() if re.match(r"  v\[", ln) and "vdot[" in ln]
    assert len(table) == 16 and len({ln.index("vdot[") for ln in table}) == 1
