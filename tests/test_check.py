"""``check``: derivatives against finite differences, and the table's non-differentiable places."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_primitives import DOMAINS

import slpdiff
from helpers import EXAMPLES, run_slpdiff
from slpdiff.check import DEFAULT_EPS, check
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.language.rules import kink_for, rules_for

SEED = str(EXAMPLES / "seed.slp")
ROSENBROCK = str(EXAMPLES / "rosenbrock.slp")

# A point on each declared kink: the function is not differentiable there.
KINK_POINTS = {
    "abs": (0.0,), "sign": (0.0,), "relu": (0.0,), "step": (0.0,), "sqrt": (0.0,),
    "max": (1.5, 1.5), "min": (-0.5, -0.5), "asin": (1.0,), "acos": (-1.0,),
    "atan2": (0.0, 0.0), "hypot": (0.0, 0.0), "powlog": (0.0, 0.5),
}


def test_every_declared_kink_has_a_test_point():
    assert sorted(KINK_POINTS) == sorted(n for n, p in PRIMITIVES.items() if p.kink)


@pytest.mark.parametrize("name", sorted(KINK_POINTS))
def test_declared_kinks_are_where_the_function_is_not_differentiable(name):
    prim = PRIMITIVES[name]
    args = [np.float64(a) for a in KINK_POINTS[name]]
    assert kink_for(prim)(*args) == 0.0
    with np.errstate(all="ignore"):
        for k, rule in enumerate(rules_for(prim)):
            h = 1e-7

            def f(t, k=k):
                return float(prim.impl(*[a + t if j == k else a for j, a in enumerate(args)]))

            right = (f(h) - f(0.0)) / h
            left = (f(0.0) - f(-h)) / h
            ad = float(rule(*args))
            # one-sided slopes that differ, are not finite, or do not match the rule's value
            if not all(math.isfinite(v) for v in (left, right, ad)) or \
                    max(abs(left - right), abs(left - ad)) > 1e-3 * max(1.0, abs(ad)):
                return
    pytest.fail(f"{name} looks differentiable at {KINK_POINTS[name]}")


@pytest.mark.parametrize("name", sorted(KINK_POINTS))
def test_kink_expressions_are_not_zero_on_the_smooth_domains(name):
    for args in DOMAINS[name]:
        assert kink_for(PRIMITIVES[name])(*[np.float64(a) for a in args]) != 0.0


def test_seed_agrees_with_finite_differences():
    result = check(slpdiff.parse_file(SEED), {"x": 1.0, "w": 4.0}, hessian=True)
    assert result.ok and not result.kinks
    assert [e.wrt for e in result.entries] == [("x",), ("w",), ("x", "x"), ("x", "w"),
                                               ("w", "x"), ("w", "w")]
    assert all(e.status == "ok" and e.error < 1e-8 for e in result.entries)
    assert result.steps == {"x": pytest.approx(DEFAULT_EPS), "w": pytest.approx(4 * DEFAULT_EPS)}


def test_a_wrong_derivative_fails():
    # a custom operation whose derivative rule is wrong (2a instead of 3a^2)
    x = slpdiff.Var(name="x")
    cube = slpdiff.Var(op=lambda a: a**3, children=[x], pds=[lambda a: 2 * a])
    result = check(slpdiff.Program.from_outputs([cube]), {"x": 1.5})
    (entry,) = result.entries
    assert not result.ok and entry.status == "FAIL"
    assert entry.ad == 3.0 and entry.fd == pytest.approx(6.75)


def test_zero_derivatives_are_not_failed_for_rounding_noise():
    program = slpdiff.parse("y = (x + 1e8) - 1e8 + 0 * x\nz = 1e8 + 0 * x")
    result = check(program, {"x": 0.1})
    assert result.ok


def test_kink_at_the_point_is_reported_not_failed():
    program = slpdiff.parse("input x\ny = abs(x) * 3 + x^2")
    result = check(program, {"x": 0.0})
    (kink,) = result.kinks
    assert kink.at_point and kink.program.ops[kink.position].name == "abs"
    assert kink.program.columns[kink.position] == 5
    assert kink.describe() == ("abs(a) is not differentiable at a = 0; the derivative uses the "
                               "convention d/da abs(a) = 0.0 there")
    # AD 0 and FD 0 agree, by symmetry; still, the derivative there is a convention
    assert result.ok and result.entries[0].status == "kink"


def test_differences_across_a_kink_are_marked_kink():
    program = slpdiff.parse("input x\ny = relu(x) * 2 + abs(x)")
    result = check(program, {"x": 1e-9})
    assert {k.program.ops[k.position].name for k in result.kinks} == {"relu", "abs"}
    assert all(not k.at_point and k.crossed_by == ["x"] for k in result.kinks)
    assert result.entries[0].status == "kink" and result.ok


def test_a_tie_in_max_affects_only_the_outputs_it_reaches():
    program = slpdiff.parse("input x, w\nm = max(x, w)\nf = m * 2\ng = x * w\noutput f, g")
    result = check(program, {"x": 2.0, "w": 2.0})
    status = {(e.output, e.wrt): e.status for e in result.entries}
    assert status[("g", ("x",))] == status[("g", ("w",))] == "ok"
    assert status[("f", ("x",))] == status[("f", ("w",))] == "kink"


def test_not_finite_derivatives_fail():
    result = check(slpdiff.parse("y = log(x)"), {"x": -1.0})
    assert result.entries[0].status == "FAIL" and math.isnan(result.entries[0].error)


def test_bad_points_are_input_errors():
    program = slpdiff.parse("y = x * 2")
    with pytest.raises(slpdiff.InputError, match="one point"):
        check(program, {"x": np.array([1.0, 2.0])})
    with pytest.raises(slpdiff.InputError, match="finite differences at x = inf"):
        check(program, {"x": math.inf})
    with pytest.raises(slpdiff.InputError, match="--eps"):
        check(program, {"x": 1.0}, eps=1e-300)


# --- the command ----------------------------------------------------------------------------------

def test_check_command_text_and_exit_status():
    proc = run_slpdiff("check", ROSENBROCK, "--at", "x=-1.2,y=1", "--hessian")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == "at x = -1.2, y = 1.0"
    assert lines[2].split() == ["derivative", "AD", "finite", "difference", "relative", "error"]
    assert [line.split()[-1] for line in lines[3:9]] == ["ok"] * 6
    assert lines[3].startswith("d f/d x ") and lines[5].startswith("d2 f/d x d x ")
    assert "1330.0" in lines[5].split()  # the AD column
    assert lines[-1] == "6 of 6 agree within rtol 1e-06"


def test_check_command_fails_with_exit_1():
    # a large step makes the differences inaccurate: with no tolerance, they fail
    proc = run_slpdiff("check", SEED, "--at", "x=1,w=4", "--eps", "0.01", "--rtol", "0")
    assert proc.returncode == 1
    assert "slpdiff: error: 2 of 2 derivatives differ from finite differences by more than " \
           "--rtol 0.0" in proc.stderr
    assert [line.split()[-1] for line in proc.stdout.splitlines()[3:5]] == ["FAIL", "FAIL"]
    assert proc.stdout.splitlines()[-1] == "0 of 2 agree within rtol 0.0; 2 FAIL"
    assert "Traceback" not in proc.stderr


def test_check_command_warns_about_kinks_with_the_place():
    proc = run_slpdiff("check", "-", "--at", "x=0,w=0", input="y = max(x, w) * 3\n")
    assert proc.returncode == 0
    assert proc.stderr.startswith("slpdiff: warning: <stdin>:1:5: max(a, b) is not "
                                  "differentiable at a - b = 0; the derivatives use the "
                                  "convention d/da max(a, b) = 0.5, d/db max(a, b) = 0.5 there")
    assert "    y = max(x, w) * 3\n        ^" in proc.stderr
    assert "kink" in proc.stdout


def test_check_command_json():
    proc = run_slpdiff("check", "-", "--at", "x=0", "--format", "json", input="y = abs(x) + x\n")
    obj = json.loads(proc.stdout)
    assert list(obj) == ["at", "steps", "rtol", "derivatives", "kinks", "ok"]
    assert obj["derivatives"] == [{"output": "y", "wrt": ["x"], "ad": 1.0, "fd": 1.0,
                                   "error": 0.0, "status": "kink"}]
    assert obj["kinks"][0]["function"] == "abs" and obj["kinks"][0]["at_point"] is True
    assert obj["ok"] is True


@pytest.mark.parametrize("args, message", [
    (["--eps", "0"], "--eps"), (["--rtol", "-1"], "--rtol"), (["--wrt", "q"], "'q' is not"),
    (["--at", "x=1,w=nan"], "finite differences at w = nan"),
])
def test_check_command_bad_options_exit_2(args, message):
    at = [] if any(a.startswith("x=") for a in args) else ["--at", "x=1,w=4"]
    proc = run_slpdiff("check", SEED, *at, *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
