"""Derivatives taken exactly where a function is not differentiable: the value is the documented
convention, and eval (every mode), check, trace and optimize say so on stderr, once per call (with
a count of rows in batch runs)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import slpdiff
from helpers import invoke, run_slpdiff
from slpdiff.core import kinks
from slpdiff.language.primitives import PRIMITIVES

INF, NAN = math.inf, math.nan

# For each function with a kink: a program, a point on the kink, and the derivatives there
# (the conventions of docs/language.md, "Conventions where a function is not differentiable").
CASES = {
    "abs": ("y = abs(x)", {"x": 0.0}, {"x": 0.0}),
    "relu": ("y = relu(x)", {"x": 0.0}, {"x": 0.0}),
    "sign": ("y = sign(x)", {"x": 0.0}, {"x": 0.0}),
    "step": ("y = step(x)", {"x": 0.0}, {"x": 0.0}),
    "sqrt": ("y = sqrt(x)", {"x": 0.0}, {"x": INF}),
    "max": ("y = max(x, w)", {"x": 2.0, "w": 2.0}, {"x": 0.5, "w": 0.5}),
    "min": ("y = min(x, w)", {"x": 2.0, "w": 2.0}, {"x": 0.5, "w": 0.5}),
    "asin": ("y = asin(x)", {"x": 1.0}, {"x": INF}),
    "acos": ("y = acos(x)", {"x": -1.0}, {"x": -INF}),
    "atan2": ("y = atan2(x, w)", {"x": 0.0, "w": 0.0}, {"x": NAN, "w": NAN}),
    "hypot": ("y = hypot(x, w)", {"x": 0.0, "w": 0.0}, {"x": NAN, "w": NAN}),
    "powlog": ("y = powlog(x, w)", {"x": 0.0, "w": 2.0}, {"x": NAN, "w": NAN}),
    "equal": ("y = equal(x, w)", {"x": 2.0, "w": 2.0}, {"x": 0.0, "w": 0.0}),
}


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def at_text(point: dict) -> str:
    return ",".join(f"{k}={v!r}" for k, v in point.items())


def test_every_kinked_function_has_a_case():
    # A reduction's kink is a tie between rows, never at one point: tests/test_extrema.py.
    assert sorted(CASES) == sorted(n for n, p in PRIMITIVES.items() if p.kink and not p.reduces)


@pytest.mark.parametrize("name", sorted(CASES))
def test_find_reports_the_convention_used(name):
    text, point, expected = CASES[name]
    program = slpdiff.parse(text, name="k.slp")
    ev = slpdiff.evaluate(program, point)
    for x, d in expected.items():
        assert same(float(ev.gradient["y"][x]), d)
    (hit,) = kinks.find(program, ev.node_values)
    op = PRIMITIVES[name]
    assert hit.program.ops[hit.position] is op and (hit.count, hit.rows) == (1, 1)
    assert [p for p, _ in hit.conventions] == list(op.params)
    assert all(same(v, d) for (_, v), d in zip(hit.conventions, expected.values(), strict=True))
    message = hit.describe()
    assert message.startswith(f"{op.signature} is not differentiable at {op.kink} = 0; ")
    assert f"d/d{op.params[0]} {op.signature} = " in message and message.endswith(" there")


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("mode", [[], ["--mode", "forward"], ["--hessian"]])
def test_eval_warns_at_each_kink_in_every_mode(name, mode):
    text, point, expected = CASES[name]
    # in process (the tests below run the installed command)
    proc = invoke("eval", "-", "--at", at_text(point), "--format", "json", *mode,
                  input=text + "\n")
    assert proc.exit_code == 0, proc.stderr
    gradient = json.loads(proc.stdout)["gradient"]["y"]
    for x, d in expected.items():
        assert same(float(gradient[x]), d)
    op = PRIMITIVES[name]
    assert f"slpdiff: warning: <stdin>:1:5: {op.signature} is not differentiable at " \
           f"{op.kink} = 0; the " in proc.stderr
    assert "\n    y = " in proc.stderr and "\n        ^" in proc.stderr  # line and caret
    assert proc.stderr.count("is not differentiable") == 1
    assert "Traceback" not in proc.stderr


def test_the_message_names_the_convention_exactly():
    proc = run_slpdiff("eval", "-", "--at", "x=0", input="y = 3 * abs(x)\n")
    assert proc.stdout == "y = 0.0\nd y/d x = 0.0\n"
    assert proc.stderr == ("slpdiff: warning: <stdin>:1:9: abs(a) is not differentiable at "
                           "a = 0; the derivative uses the convention d/da abs(a) = 0.0 there\n"
                           "    y = 3 * abs(x)\n"
                           "            ^\n")


def test_max_tie_names_both_conventions():
    proc = run_slpdiff("eval", "-", "--at", "x=1,w=1", input="y = max(x, w)\n")
    assert proc.stdout == "y = 1.0\nd y/d x = 0.5\nd y/d w = 0.5\n"
    assert "the derivatives use the convention d/da max(a, b) = 0.5, d/db max(a, b) = 0.5 " \
           "there" in proc.stderr


def test_no_warning_off_the_kink_and_results_unchanged():
    off = run_slpdiff("eval", "-", "--at", "x=0.5", input="y = abs(x) + relu(x)\n")
    assert off.returncode == 0 and off.stderr == ""
    assert off.stdout == "y = 1.0\nd y/d x = 2.0\n"
    on = run_slpdiff("eval", "-", "--at", "x=0", input="y = abs(x) + relu(x)\n")
    assert on.stdout == "y = 0.0\nd y/d x = 0.0\n"
    assert on.stderr.count("is not differentiable") == 2


def test_only_kinks_that_affect_a_requested_derivative_warn():
    program = "u = abs(x)\nv = relu(w)\nz = max(x, 1)\ny = u + v\noutput y, z\n"
    # z = max(x, 1) at x = 1 is on its kink, and so are u and v at 0
    both = run_slpdiff("eval", "-", "--at", "x=0,w=0", input=program)
    assert "abs(a)" in both.stderr and "relu(a)" in both.stderr and "max" not in both.stderr
    only_w = run_slpdiff("eval", "-", "--at", "x=0,w=0", "--wrt", "w", input=program)
    assert "relu(a)" in only_w.stderr and "abs(a)" not in only_w.stderr
    tie = run_slpdiff("eval", "-", "--at", "x=1,w=0", "--wrt", "x", input=program)
    assert "max(a, b)" in tie.stderr and "d/da max(a, b) = 0.5 there" in tie.stderr
    # a constant argument gets no derivative, so only d/da is named
    assert "d/db" not in tie.stderr


def test_unused_kink_does_not_warn():
    proc = run_slpdiff("eval", "-", "--at", "x=0", input="u = abs(x)\ny = x * 2\noutput y\n")
    assert proc.returncode == 0 and proc.stderr == ""


def test_batch_runs_give_one_line_per_call_with_a_count(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,w\n0,1\n1,1\n0,0\n2,2\n-1,3\n")
    proc = run_slpdiff("eval", "-", "--points", points, input="y = abs(x) + max(x, w)\n")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split(",") for line in proc.stdout.splitlines()[1:]]
    assert [r[3:] for r in rows] == [["0.0", "1.0"], ["1.5", "0.5"], ["0.5", "0.5"],
                                     ["1.5", "0.5"], ["-1.0", "1.0"]]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("slpdiff:")]
    assert lines == [
        f"slpdiff: warning: <stdin>:1:5: abs(a) is not differentiable at a = 0; the derivative "
        f"uses the convention d/da abs(a) = 0.0 there (at 2 of 5 rows; first at {points}:2)",
        f"slpdiff: warning: <stdin>:1:14: max(a, b) is not differentiable at a - b = 0; the "
        f"derivatives use the convention d/da max(a, b) = 0.5, d/db max(a, b) = 0.5 there (at "
        f"3 of 5 rows; first at {points}:3)"]


def test_counts_add_up_over_chunks_of_a_grid():
    proc = run_slpdiff("eval", "-", "--at", "x=-2:2:1,w=0:1:1", "--chunk-rows", "3",
                       input="y = relu(x) * w\n")
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 11
    (line,) = [s for s in proc.stderr.splitlines() if s.startswith("slpdiff:")]
    assert line.endswith("d/da relu(a) = 0.0 there (at 2 of 10 rows; first at grid point 5)")


def test_batch_api_counts_rows():
    program = slpdiff.parse("y = sqrt(x)")
    x = np.array([0.0, 4.0, 0.0, 1.0])
    ev = slpdiff.evaluate(program, {"x": x})
    assert list(ev.gradient["y"]["x"]) == [INF, 0.25, INF, 0.5]
    (hit,) = kinks.find(program, ev.node_values, rows=4)
    assert (hit.count, hit.rows, hit.first, hit.conventions) == (2, 4, 0, (("a", INF),))


def test_check_uses_the_same_message():
    proc = run_slpdiff("check", "-", "--at", "x=0", input="y = abs(x) * 3\n")
    assert proc.returncode == 0
    assert "slpdiff: warning: <stdin>:1:5: abs(a) is not differentiable at a = 0; the " \
           "derivative uses the convention d/da abs(a) = 0.0 there" in proc.stderr
    assert proc.stdout.splitlines()[2].split()[-1] == "kink"


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_trace_warns(mode):
    proc = run_slpdiff("trace", "-", "--at", "x=0", "--mode", mode, input="y = relu(x) + x\n")
    assert proc.returncode == 0
    assert "relu(a) is not differentiable at a = 0; the derivative uses the convention " \
           "d/da relu(a) = 0.0 there" in proc.stderr


def test_optimize_warns_at_the_final_point(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("t,y\n0,1\n1,2\n-1,0\n")
    proc = run_slpdiff("optimize", "-", "--data", data, "--at", "a=2", "--steps", "0",
                       input="loss = mean(abs(a * t - y))\n")
    assert proc.returncode == 0, proc.stderr
    assert "abs(a) is not differentiable at a = 0; the derivative uses the convention d/da " \
           "abs(a) = 0.0 there (at 1 of 3 rows; first at the final point, data row 2)" \
           in proc.stderr
    single = run_slpdiff("optimize", "-", "--at", "x=0", "--steps", "3", input="y = relu(x)\n")
    assert single.returncode == 0
    assert "d/da relu(a) = 0.0 there (at the final point)" in single.stderr


def test_a_program_without_kinks_never_looks_at_node_values():
    program = slpdiff.parse("y = sin(x) * x")

    class Untouchable(list):
        def __getitem__(self, i):
            raise AssertionError("node values read")

    assert kinks.find(program, Untouchable()) == []
