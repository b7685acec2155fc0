"""``check``: derivatives against finite differences, and the table's non-differentiable places."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from test_primitives import DOMAINS

import slpdiff
from helpers import EXAMPLES, invoke, run_slpdiff
from slpdiff.check import DEFAULT_RTOL, check
from slpdiff.language import primitives
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.language.rules import kink_for, rules_for

SEED = str(EXAMPLES / "seed.slp")
ROSENBROCK = str(EXAMPLES / "rosenbrock.slp")

# A point on each declared kink: the function is not differentiable there.
KINK_POINTS = {
    "abs": (0.0,), "sign": (0.0,), "relu": (0.0,), "step": (0.0,), "sqrt": (0.0,),
    "max": (1.5, 1.5), "min": (-0.5, -0.5), "asin": (1.0,), "acos": (-1.0,),
    "atan2": (0.0, 0.0), "hypot": (0.0, 0.0), "powlog": (0.0, 0.5), "equal": (1.5, 1.5),
}


def test_every_declared_kink_has_a_test_point():
    # A reduction's kink is a tie between rows, never at one point: tests/test_extrema.py.
    assert sorted(KINK_POINTS) == sorted(n for n, p in PRIMITIVES.items()
                                         if p.kink and not p.reduces)


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
    # each input's step from its own scale, a power of two near eps * |x|
    assert {e.wrt[-1]: e.step for e in result.entries} == {"x": 2.0 ** -17, "w": 2.0 ** -15}
    assert all(e.side == "central" and e.rejected == [] for e in result.entries)


def cube(rule):
    """y = x^3 with a seed-style custom derivative rule."""
    x = slpdiff.Var(name="x")
    return slpdiff.Program.from_outputs([slpdiff.Var(op=lambda a: a**3, children=[x],
                                                     pds=[rule])])


def test_a_wrong_derivative_fails():
    result = check(cube(lambda a: 2 * a), {"x": 1.5})  # 2a instead of 3a^2
    (entry,) = result.entries
    assert not result.ok and entry.status == "FAIL"
    assert entry.ad == 3.0 and entry.fd == pytest.approx(6.75)


def test_a_derivative_1e4_too_large_fails_at_the_default_rtol():
    (entry,) = check(cube(lambda a: 3 * a * a * (1 + 1e-4)), {"x": 1.5}).entries
    assert entry.status == "FAIL" and entry.error == pytest.approx(1e-4, rel=1e-3)
    (right,) = check(cube(lambda a: 3 * a * a), {"x": 1.5}).entries
    assert right.status == "ok" and right.error < 1e-9


@pytest.mark.parametrize("rtol", [DEFAULT_RTOL, 1e-3])
@pytest.mark.parametrize("off, status", [(1.02, "FAIL"), (0.98, "ok")])
def test_the_error_just_above_or_below_rtol(rtol, off, status):
    # |AD - FD| <= rtol * max(|AD|, |FD|) + allowance: an error 2% beyond rtol fails and one 2%
    # within passes (the allowance is far smaller), so a tolerance made 1000 times larger, or an
    # allowance that swallowed rtol, would be caught.
    (entry,) = check(cube(lambda a: 3 * a * a * (1 + off * rtol)), {"x": 1.5}, rtol=rtol).entries
    assert entry.status == status
    size = max(abs(entry.ad), abs(entry.fd))
    assert entry.allowance < 0.01 * rtol * size
    assert entry.tolerance == pytest.approx(rtol + entry.allowance / size, rel=1e-12)
    assert (entry.error <= entry.tolerance) == (status == "ok")


@contextlib.contextmanager
def planted(name: str, factor: float):
    """Every rule of ``name`` multiplied by ``factor``, in the table this process sees."""
    prim = PRIMITIVES[name]
    PRIMITIVES[name] = dataclasses.replace(
        prim, partials=tuple(f"({rule}) * {factor!r}" for rule in prim.partials))
    try:
        yield
    finally:
        PRIMITIVES[name] = prim


@pytest.mark.parametrize("hessian", [False, True])
def test_a_planted_wrong_rule_of_the_table_fails(hessian):
    program = "y = sin(x) * x"
    assert check(slpdiff.parse(program), {"x": 0.7}, hessian=hessian).ok
    with planted("sin", 1 + 1e-4):
        result = check(slpdiff.parse(program), {"x": 0.7}, hessian=hessian)
    # the first derivative fails; the second does too (it differentiates a wrong first one,
    # but its own sweep uses the wrong rule of cos... no: d/dx of cos(a)*1.0001 is its own)
    assert result.entries[0].status == "FAIL"
    assert primitives.PRIMITIVES["sin"].partials == ("cos(a)",)


def test_zero_derivatives_are_not_failed_for_rounding_noise():
    program = slpdiff.parse("y = (x + 1e8) - 1e8 + 0 * x\nz = 1e8 + 0 * x\noutput y, z")
    result = check(program, {"x": 0.3})
    assert result.ok and [e.status for e in result.entries] == ["ok", "ok"]
    # the rounding of x + 1e8 (an ulp of 1e8 over the step) is in y's allowance
    assert result.entries[0].allowance > 1e-8 / 2.0 ** -17


def test_the_rounding_allowance_is_shown():
    # 1e8 + 0.001 x: the differences move by less than an ulp of 1e8, so the finite difference
    # is mostly rounding; it passes because of the allowance, which the tolerance shows.
    (entry,) = check(slpdiff.parse("y = 1e8 + 0.001*x"), {"x": 1.0}).entries
    assert entry.status == "ok" and entry.error > 0.1
    assert entry.tolerance > entry.error and entry.allowance > 0.1 * entry.ad
    assert entry.tolerance == pytest.approx(DEFAULT_RTOL + entry.allowance / max(
        abs(entry.ad), abs(entry.fd)))


@pytest.mark.parametrize("source, at", [
    ("y = log(x)", {"x": 1e-8}), ("y = x^0.5", {"x": 1e-8}), ("y = sqrt(x)", {"x": 1e-8}),
    ("y = 1/x", {"x": 1e-8}), ("input x, y\nz = log(x/y)", {"x": 1.0, "y": 1e-9}),
])
def test_the_issue_cases_pass_without_eps(source, at):
    result = check(slpdiff.parse(source), at, hessian=True)
    assert [e.status for e in result.entries] == ["ok"] * len(result.entries)
    assert not result.kinks


def test_the_same_function_gets_the_same_verdict():
    pow_half = check(slpdiff.parse("y = x^0.5"), {"x": 1e-8}).entries[0]
    root = check(slpdiff.parse("y = sqrt(x)"), {"x": 1e-8}).entries[0]
    assert (pow_half.status, pow_half.fd) == (root.status, root.fd) == ("ok", 5000.0)


def test_a_step_that_leaves_the_domain_is_replaced_by_a_smaller_one():
    (entry,) = check(slpdiff.parse("y = log(x)"), {"x": 1e-8}).entries
    assert entry.rejected == [(2.0 ** -17, "it leaves the domain of log(a) at 1:5 (nan)")]
    assert entry.step == 2.0 ** -44 and entry.side == "central"  # about eps * 1e-8


def test_a_step_across_a_pole_is_detected():
    (entry,) = check(slpdiff.parse("y = 1/x"), {"x": 1e-8}).entries
    assert entry.rejected == [(2.0 ** -17, "it crosses a pole of divide(a, b) at 1:6")]
    assert entry.status == "ok" and entry.fd == pytest.approx(-1e16, rel=1e-9)
    for source, x in [("y = tan(x)", 1.5707963), ("y = 1/(x - 1)", 1 + 1e-9)]:
        (entry,) = check(slpdiff.parse(source), {"x": x}).entries
        assert entry.status == "ok" and "it crosses a pole of" in entry.rejected[0][1]


def test_one_sided_differences_where_every_central_one_steps_over_a_kink():
    # the kink of abs is 1e-15 away: every central stencil crosses it, the forward one does not
    (entry,) = check(slpdiff.parse("y = abs(x - 1) * 3"), {"x": 1.000000000000001}).entries
    assert (entry.status, entry.side, entry.fd) == ("ok", "forward", 3.0)
    assert all("not differentiable" in why for _, why in entry.rejected)


def test_kink_at_the_point_is_reported_not_failed():
    program = slpdiff.parse("input x\ny = abs(x) * 3 + x^2")
    result = check(program, {"x": 0.0})
    (kink,) = result.kinks
    assert kink.at_point and kink.program.ops[kink.position].name == "abs"
    assert kink.program.columns[kink.position] == 5
    assert kink.describe() == ("abs(a) is not differentiable at a = 0; the derivative uses the "
                               "convention d/da abs(a) = 0.0 there")
    # AD 0 and FD 0 agree, by symmetry; still, the derivative there is a convention
    (entry,) = result.entries
    assert result.ok and entry.status == "kink" and entry.fd == 0.0 and entry.agrees


def test_a_step_across_a_kink_is_not_used():
    program = slpdiff.parse("input x\ny = relu(x) * 2 + abs(x)")
    result = check(program, {"x": 1e-9})
    (entry,) = result.entries
    assert entry.status == "ok" and entry.fd == 3.0 and not result.kinks
    assert entry.rejected == [(2.0 ** -17, "it steps across points where relu(a) at 2:5 and "
                                           "abs(a) at 2:19 are not differentiable")]


def test_differences_that_can_only_step_across_kinks_are_marked_kink():
    # kinks less than an ulp away on both sides: every stencil, central or one-sided, crosses one
    program = slpdiff.parse("y = abs(x - 0.9999999999999999) * 3 + abs(x - 1.0000000000000002)")
    result = check(program, {"x": 1.0})
    (entry,) = result.entries
    assert entry.ad == 2.0 and entry.status == "kink" and result.ok
    assert [k.program.columns[k.position] for k in result.kinks] == [5, 39]
    assert all(not k.at_point and k.crossed_by == ["x"] for k in result.kinks)
    assert "step across such a point" in result.kinks[0].describe()


def test_a_tie_in_max_affects_only_the_outputs_it_reaches():
    program = slpdiff.parse("input x, w\nm = max(x, w)\nf = m * 2\ng = x * w\noutput f, g")
    result = check(program, {"x": 2.0, "w": 2.0})
    status = {(e.output, e.wrt): e.status for e in result.entries}
    assert status[("g", ("x",))] == status[("g", ("w",))] == "ok"
    assert status[("f", ("x",))] == status[("f", ("w",))] == "kink"


def test_no_finite_difference_where_the_output_is_not_finite():
    result = check(slpdiff.parse("y = log(x)"), {"x": -1.0})
    (entry,) = result.entries
    assert entry.status == "unchecked" and result.ok
    assert entry.reason == "y is nan at the point" and math.isnan(entry.fd)


def test_no_finite_difference_where_every_step_leaves_the_domain():
    # acos at 1 - 1e-15: every central stencil leaves the domain; a one-sided one cannot settle
    (entry,) = check(slpdiff.parse("y = acos(x)"), {"x": 1 - 1e-15}).entries
    assert entry.status == "unchecked"
    assert entry.reason.startswith("no finite difference could be taken: it leaves the domain "
                                   "of acos(a) at 1:5 (nan)")


def test_differences_that_do_not_settle_are_unchecked():
    (entry,) = check(slpdiff.parse("y = x^1.5"), {"x": 0.0}).entries  # one-sided only, h^0.5
    assert entry.status == "unchecked" and entry.side == "forward"
    assert entry.reason == "the finite differences do not settle as the step shrinks"


def test_a_function_faster_than_any_step_is_unchecked_not_failed():
    # at 1e15 an ulp is 0.125 and sin's period 6.3: steps of a few ulps already see it wiggle,
    # and larger ones sample it at multiples of the step, where it can look smooth and flat
    for x in (1e15, -1e15, 1e22, 1e30, 1e300):
        (entry,) = check(slpdiff.parse("y = sin(x)"), {"x": x}).entries
        assert entry.status == "unchecked", (x, entry)


def test_a_wrong_rule_that_gives_nan_fails():
    (entry,) = check(cube(lambda a: math.nan), {"x": 1.5}).entries
    assert entry.status == "FAIL" and math.isnan(entry.error)


def test_reductions_at_one_point_are_differenced_point_by_point():
    # the stencil's points are not rows: sum and mean of one number are that number
    result = check(slpdiff.parse("y = sum(x) * mean(x) + x"), {"x": 3.0}, hessian=True)
    assert [(e.status, round(e.fd, 6)) for e in result.entries] == [("ok", 7.0), ("ok", 2.0)]


def test_bad_points_are_input_errors():
    program = slpdiff.parse("y = x * 2")
    with pytest.raises(slpdiff.InputError, match="one point"):
        check(program, {"x": np.array([1.0, 2.0])})
    with pytest.raises(slpdiff.InputError, match="finite differences at x = inf"):
        check(program, {"x": math.inf})
    with pytest.raises(slpdiff.InputError, match="choose a larger --eps"):
        check(program, {"x": 1.0}, eps=1e-300)
    with pytest.raises(slpdiff.InputError, match="choose a smaller --eps"):
        check(program, {"x": 1.7976822490793367e308})


def test_hessian_needs_rules_as_text():
    with pytest.raises(slpdiff.InputError, match="--hessian needs derivative rules"):
        check(cube(lambda a: 3 * a * a), {"x": 1.5}, hessian=True)


# --- the command ----------------------------------------------------------------------------------

def test_check_command_text_and_exit_status():
    proc = run_slpdiff("check", ROSENBROCK, "--at", "x=-1.2,y=1", "--hessian")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == "at x = -1.2, y = 1.0"
    assert lines[1].split() == ["derivative", "AD", "finite", "difference", "relative", "error",
                                "tolerance", "step"]
    rows = [line.split() for line in lines[2:8]]
    assert [row[-1] for row in rows] == ["ok"] * 6
    assert lines[2].startswith("d f/d x ") and lines[4].startswith("d2 f/d x d x ")
    assert rows[2][5] == "1330.0"  # the AD column
    assert all(float(row[-3]) < 1.001e-6 and row[-2] == "7.62939453125e-06" for row in rows)
    assert lines[8:] == ["6 of 6 agree within rtol 1e-06 plus each difference's allowance"]


def test_check_command_shows_the_tolerance_that_lets_a_rounding_error_pass():
    proc = run_slpdiff("check", "-", "--at", "x=1", input="y = 1e8 + 0.001*x\n")
    assert proc.returncode == 0
    row = proc.stdout.splitlines()[2].split()  # d y/d x, AD, FD, error, tolerance, step, ok
    error, tolerance = float(row[5]), float(row[6])
    assert row[-1] == "ok" and 0.1 < error < tolerance


@pytest.mark.parametrize("source, at, note", [
    ("y = log(x)", "x=1e-8", "x: the step 7.62939453125e-06 was not used: it leaves the domain "
                            "of log(a) at 1:5 (nan)"),
    ("y = 1/x", "x=1e-8", "x: the step 7.62939453125e-06 was not used: it crosses a pole of "
                         "divide(a, b) at 1:6"),
])
def test_check_command_says_which_step_decided_and_which_were_not_used(source, at, note):
    proc = run_slpdiff("check", "-", "--at", at, input=source + "\n")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[2].split()[-2:] == ["5.684341886080802e-14", "ok"]
    assert lines[3:] == ["1 of 1 agree within rtol 1e-06 plus each difference's allowance",
                         note]


def test_check_command_at_a_kink_where_both_numbers_agree():
    proc = run_slpdiff("check", "-", "--at", "x=0", input="y = abs(x)*3\n")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[2].split()[3:6] == ["0.0", "0.0", "0.0"] and lines[2].endswith("kink")
    assert lines[3] == ("1 at or across a point where the program is not differentiable (the "
                        "finite difference agrees there)")
    assert "agree within" not in proc.stdout


def test_check_command_unchecked_is_not_a_failure():
    proc = run_slpdiff("check", "-", "--at", "x=-1", input="y = log(x) + x\n")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[2].split()[-1] == "unchecked"
    assert lines[3:] == ["1 unchecked: no finite difference could be taken (see below)",
                         "d y/d x: unchecked: y is nan at the point"]
    assert proc.stderr.startswith("slpdiff: warning: <stdin>:1:5: non-finite value nan from log")


def test_check_command_fails_with_exit_1():
    # a rule made 1e-4 too large in this process's table (the table's file is untouched), then
    # the command, in a process of its own
    plant = ("import dataclasses, sys\n"
             "from slpdiff.language.primitives import PRIMITIVES\n"
             "PRIMITIVES['sin'] = dataclasses.replace(PRIMITIVES['sin'], "
             "partials=('cos(a) * 1.0001',))\n"
             "from slpdiff.cli import main\n"
             "sys.argv[0] = 'slpdiff'\n"
             "main()\n")
    proc = subprocess.run([sys.executable, "-c", plant, "check", SEED, "--at", "x=1,w=4"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == ("slpdiff: error: 2 of 2 derivatives differ from finite "
                                   "differences by more than their tolerance (--rtol 1e-06 "
                                   "plus the difference's allowance)")
    lines = proc.stdout.splitlines()
    assert [line.split()[-1] for line in lines[2:4]] == ["FAIL", "FAIL"]
    assert lines[4] == "0 of 2 agree within rtol 1e-06 plus each difference's allowance; 2 FAIL"


@pytest.mark.parametrize("rtol, status, code", [("1.01e-4", "ok", 0), ("0.99e-4", "FAIL", 1)])
def test_check_command_rtol_on_either_side_of_the_error(rtol, status, code):
    with planted("sin", 1 + 1e-4):
        result = invoke("check", "-", "--at", "x=0.7", "--rtol", rtol, "--format", "json",
                        input="y = sin(x)\n")
    assert result.exit_code == code
    (entry,) = json.loads(result.stdout)["derivatives"]
    assert entry["status"] == status
    assert entry["error"] == pytest.approx(1e-4, rel=1e-3)


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
    assert list(obj) == ["at", "rtol", "derivatives", "kinks", "ok"]
    (entry,) = obj["derivatives"]
    assert entry == {"output": "y", "wrt": ["x"], "ad": 1.0, "fd": 1.0, "error": 0.0,
                     "tolerance": entry["tolerance"], "allowance": entry["allowance"],
                     "step": 7.62939453125e-06, "difference": "central", "status": "kink",
                     "reason": None, "rejected": []}
    assert entry["tolerance"] == pytest.approx(1e-6 + entry["allowance"])
    assert obj["kinks"][0]["function"] == "abs" and obj["kinks"][0]["at_point"] is True
    assert obj["ok"] is True


def test_check_command_json_says_why_and_which_steps_were_not_used():
    proc = run_slpdiff("check", "-", "--at", "x=1e-8", "--format", "json", input="y = 1/x\n")
    (entry,) = json.loads(proc.stdout)["derivatives"]
    assert entry["status"] == "ok" and entry["step"] == 2.0 ** -44
    assert entry["rejected"] == [{"step": 7.62939453125e-06,
                                  "reason": "it crosses a pole of divide(a, b) at 1:6"}]
    proc = run_slpdiff("check", "-", "--at", "x=-1", "--format", "json", input="y = log(x)\n")
    (entry,) = json.loads(proc.stdout)["derivatives"]
    assert (entry["status"], entry["reason"], entry["fd"]) == ("unchecked",
                                                               "y is nan at the point", "nan")


@pytest.mark.parametrize("args, message", [
    (["--eps", "0"], "--eps"), (["--rtol", "-1"], "--rtol"), (["--wrt", "q"], "'q' is not"),
    (["--at", "x=1,w=nan"], "finite differences at w = nan"),
])
def test_check_command_bad_options_exit_2(args, message):
    at = [] if any(a.startswith("x=") for a in args) else ["--at", "x=1,w=4"]
    proc = run_slpdiff("check", SEED, *at, *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
