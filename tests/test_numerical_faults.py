"""Overflow, underflow, nan, 0/0, log(0), sqrt at 0: results follow IEEE 754 and the documented
conventions, and every command's warning names the FIRST line that produced a non-finite value or
derivative (in batch runs: once, with a count of rows)."""

from __future__ import annotations

import json
import math

import pytest

import slpdiff
from helpers import run_slpdiff

INF, NAN = math.inf, math.nan
CHAIN = "input x\na = x * 2\nb = log(a)\nc = b * 3\ny = c + exp(x)\n"


def same(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("slpdiff: warning:")]


# program, point, value, derivatives, the warnings' FILE:LINE:COL and what they name
CASES = {
    "overflow": ("y = exp(x)", "x=1000", INF, {"x": INF},
                 [("<stdin>:1:5", "non-finite value inf from exp"),
                  ("<stdin>:1:5", "non-finite derivative inf from the rule d/da exp(a)")]),
    "overflow in a product": ("a = x * x\ny = a * a", "x=1e200", INF, {"x": INF},
                              [("<stdin>:1:7", "non-finite value inf from multiply"),
                               ("<stdin>:2:7", "non-finite derivative inf from the rule d/da "
                                               "multiply(a, b) = b")]),
    "underflow": ("y = exp(x)", "x=-1000", 0.0, {"x": 0.0}, []),
    "underflow in a product": ("y = x * x", "x=1e-200", 0.0, {"x": 2e-200}, []),
    "0/0": ("y = x / w", "x=0,w=0", NAN, {"x": INF, "w": NAN},
            [("<stdin>:1:7", "non-finite value nan from divide"),
             ("<stdin>:1:7", "non-finite derivative inf from the rule d/da divide(a, b) = 1 / b")]),
    "log(0)": ("y = log(x)", "x=0", -INF, {"x": INF},
               [("<stdin>:1:5", "non-finite value -inf from log"),
                ("<stdin>:1:5", "non-finite derivative inf from the rule d/da log(a) = 1 / a")]),
    "log(-1)": ("y = log(x)", "x=-1", NAN, {"x": -1.0},
                [("<stdin>:1:5", "non-finite value nan from log")]),
    "nan propagates from the first line": (CHAIN, "x=-1", NAN, {"x": -3.0 + math.exp(-1)},
                                           [("<stdin>:3:5", "non-finite value nan from log")]),
    "an input": ("y = x * 2", "x=inf", INF, {"x": 2.0},
                 [("<stdin>:1:5", "non-finite value inf from input x")]),
    "sqrt at 0": ("y = sqrt(x)", "x=0", 0.0, {"x": INF},
                  [("<stdin>:1:5", "non-finite derivative inf from the rule d/da sqrt(a) = "
                                   "0.5 / sqrt(a)"),
                   ("<stdin>:1:5", "sqrt(a) is not differentiable at a = 0")]),
    "softplus and sigmoid do not overflow": ("y = softplus(x) + sigmoid(-x)", "x=800", 800.0,
                                             {"x": 1.0}, []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_eval(name):
    text, at, value, gradient, expected = CASES[name]
    proc = run_slpdiff("eval", "-", "--at", at, "--format", "json", input=text)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert same(float(result["value"]["y"]), value)
    assert all(same(float(result["gradient"]["y"][x]), d) for x, d in gradient.items())
    found = warnings(proc.stderr)
    assert len(found) == len(expected)
    for line, (where, what) in zip(found, expected, strict=True):
        assert line.startswith(f"slpdiff: warning: {where}: {what}"), line


@pytest.mark.parametrize("name", ["overflow", "0/0", "nan propagates from the first line"])
def test_strict_fails_with_the_same_place(name):
    text, at, *_, expected = CASES[name]
    proc = run_slpdiff("eval", "-", "--at", at, "--strict", input=text)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"slpdiff: error: {expected[0][0]}: {expected[0][1]}")


def test_api_reports_the_first_line():
    program = slpdiff.parse(CHAIN)
    ev = slpdiff.evaluate(program, {"x": -1.0})
    (value,) = ev.warnings
    assert value.kind == "value" and value.line == 3 and math.isnan(ev.values["y"])


def test_points_give_one_warning_per_kind_with_a_count(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n1\n0\n-1\n0\n2\n")
    proc = run_slpdiff("eval", "-", "--points", points, input=CHAIN)
    assert proc.returncode == 0
    rows = [line.split(",") for line in proc.stdout.splitlines()[1:]]
    assert [r[1:] for r in rows] == [
        [repr(3 * math.log(2) + math.e), repr(3.0 + math.e)],
        ["-inf", "inf"], ["nan", repr(-3.0 + math.exp(-1))], ["-inf", "inf"],
        [repr(3 * math.log(4) + math.exp(2)), repr(1.5 + math.exp(2))]]
    assert warnings(proc.stderr) == [
        "slpdiff: warning: <stdin>:3:5: non-finite value -inf at 3 points from log (the first "
        f"that reaches an output); first at {points}:3",
        "slpdiff: warning: <stdin>:3:5: non-finite derivative inf at 2 points from the rule "
        f"d/da log(a) = 1 / a (the first that reaches an output); first at {points}:3"]


def test_points_across_chunks_name_the_earliest_line(tmp_path):
    # the first chunk goes non-finite on line 3 only, the second already on line 2
    points = tmp_path / "p.csv"
    points.write_text("x\n1\n-1\n1000\n-1\n")
    proc = run_slpdiff("eval", "-", "--points", points, "--chunk-rows", "2",
                       input="input x\na = exp(x)\nb = log(x)\ny = a + b\n")
    assert proc.returncode == 0
    (value, _) = warnings(proc.stderr)
    assert value.startswith("slpdiff: warning: <stdin>:2:5: non-finite value inf from exp")
    assert value.endswith(f"first at {points}:4")


def test_trace_check_and_grad_then_eval_name_the_line():
    trace = run_slpdiff("trace", "-", "--at", "x=0", input=CHAIN)
    assert trace.returncode == 0
    assert warnings(trace.stderr)[0].startswith(
        "slpdiff: warning: <stdin>:3:5: non-finite value -inf from log")
    check = run_slpdiff("check", "-", "--at", "x=0", input=CHAIN)
    assert check.returncode == 0  # y is -inf at 0: no finite difference, not a failure
    assert "d y/d x: unchecked: y is -inf at the point" in check.stdout
    assert warnings(check.stderr)[0].startswith(
        "slpdiff: warning: <stdin>:3:5: non-finite value -inf from log")
    grad = run_slpdiff("grad", "-", input=CHAIN)
    piped = run_slpdiff("eval", "-", "--at", "x=0", input=grad.stdout)
    assert piped.returncode == 0
    line = grad.stdout.splitlines().index("b = log(a)") + 1
    assert warnings(piped.stderr)[0].startswith(
        f"slpdiff: warning: <stdin>:{line}:5: non-finite value -inf from log")
    assert "d_y_d_x = inf" in piped.stdout


def test_optimize_divergence_names_the_line():
    proc = run_slpdiff("optimize", "-", "--at", "x=0", "--steps", "3", input=CHAIN)
    assert proc.returncode == 1
    assert "slpdiff: warning: <stdin>:3:5: non-finite value -inf from log" in proc.stderr
    assert proc.stderr.rstrip().endswith("A smaller --lr may help.")
