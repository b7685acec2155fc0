"""The optimizers as a library: each update rule against an independent implementation, the
stopping rules, bounds, maximizing, counts of evaluations, divergence and Ctrl-C."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES
from slpdiff.optimize import FIRST_ORDER, METHODS, optimize

QUADRATIC = slpdiff.parse("f = (x - 3)^2 + 10 * (y + 1)^2")
ROSENBROCK = slpdiff.parse_file(str(EXAMPLES / "rosenbrock.slp"))


def quadratic_gradient(x, y):
    return np.array([2 * (x - 3), 20 * (y + 1)])


def reference_iterates(method, steps, lr, mu=0.9, beta1=0.9, beta2=0.999, eps=1e-8):
    """The iterates of ``method`` on QUADRATIC from (0, 0), written out from the textbooks'
    formulas with the hand-derived gradient (not with slpdiff)."""
    x = np.array([0.0, 0.0])
    v = m = s = np.zeros(2)
    points = [x]
    for t in range(1, steps + 1):
        g = quadratic_gradient(*x)
        if method == "gd":
            x = x - lr * g
        elif method in ("momentum", "nesterov"):
            v = mu * v + g
            x = x - lr * (g + mu * v if method == "nesterov" else v)
        else:
            m = beta1 * m + (1 - beta1) * g
            s = beta2 * s + (1 - beta2) * g * g
            x = x - lr * (m / (1 - beta1 ** t)) / (np.sqrt(s / (1 - beta2 ** t)) + eps)
        points.append(x)
    return points


@pytest.mark.parametrize("method, lr", [("gd", 0.02), ("momentum", 0.01), ("nesterov", 0.01),
                                        ("adam", 0.1)])
def test_first_order_updates_follow_the_textbook_formulas(method, lr):
    seen = []
    run = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, method, lr=lr, steps=25, callback=seen.append)
    expected = reference_iterates(method, 25, lr)
    assert [s.index for s in seen] == list(range(25))
    for step, (x, y) in zip([*seen, run.final], expected, strict=True):
        assert step.at["x"] == pytest.approx(x, rel=1e-13, abs=1e-15)
        assert step.at["y"] == pytest.approx(y, rel=1e-13, abs=1e-15)
        assert step.value == (step.at["x"] - 3) ** 2 + 10 * (step.at["y"] + 1) ** 2
    assert run.status == "max_steps" and run.steps == 25 and run.method == method
    assert run.nfev == run.ngev == 26 and run.nhev == 0


def test_adam_with_its_own_parameters():
    run = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, "adam", lr=0.05, beta1=0.5, beta2=0.9,
                   eps=1e-3, steps=10)
    (x, y) = reference_iterates("adam", 10, 0.05, beta1=0.5, beta2=0.9, eps=1e-3)[-1]
    assert run.at["x"] == pytest.approx(x, rel=1e-13) and run.at["y"] == pytest.approx(y, rel=1e-13)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_converges_on_a_quadratic(method):
    lr = {"gd": 0.05, "adam": 0.05}.get(method)
    run = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, method, lr=lr, steps=5000, tol=1e-9)
    assert run.status == "converged", run.message
    assert run.at["x"] == pytest.approx(3.0, abs=1e-9) and run.at["y"] == pytest.approx(-1.0)
    assert run.final.gradient_norm() <= 1e-9 and "gradient norm" in run.message


@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
def test_scipy_methods_on_rosenbrock_with_a_trace_like_gd(method):
    seen = []
    run = optimize(ROSENBROCK, {"x": -1.2, "y": 1.0}, method, callback=seen.append)
    assert run.status == "converged" and run.method == method
    assert run.at["x"] == pytest.approx(1.0, abs=1e-9) and run.value < 1e-20
    # one step per iteration, numbered from 0 at the starting point; the final point is the next
    assert [s.index for s in seen] == list(range(run.steps))
    assert seen[0].at == {"x": -1.2, "y": 1.0} and run.final.index == run.steps
    assert all(b.value <= a.value for a, b in zip(seen, seen[1:], strict=False))


def test_evaluation_counts_are_the_evaluations_made(monkeypatch):
    import slpdiff.optimize.descent as module

    calls = []
    real = module.evaluate

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "evaluate", counting)
    for method in ("gd", "lbfgs", "bfgs"):
        calls.clear()
        lr = 1e-3 if method == "gd" else None
        run = optimize(ROSENBROCK, {"x": -1.2, "y": 1.0}, method, lr=lr, steps=50)
        assert run.nfev == run.ngev == len(calls) > run.steps


@pytest.mark.parametrize("full_hessian_max, products", [(10, 2), (0, 1)])
def test_newton_cg_solves_a_round_quadratic_in_one_step(monkeypatch, full_hessian_max, products):
    # With H = 2 I, conjugate gradients is exact after one product and the Newton step lands on
    # the minimum: a check of the Hessian's sign and scale, minimizing and maximizing.
    import slpdiff.optimize.scipy_methods

    monkeypatch.setattr(slpdiff.optimize.scipy_methods, "FULL_HESSIAN_MAX", full_hessian_max)
    for maximize, text in ((False, "f = (x - 3)^2 + (y + 1)^2"),
                           (True, "g = 7 - (x - 3)^2 - (y + 1)^2")):
        run = optimize(slpdiff.parse(text), {"x": 0.0, "y": 0.0}, "newton-cg", maximize=maximize)
        assert run.status == "converged" and run.steps == 1
        assert run.at == {"x": 3.0, "y": -1.0}
        assert run.nfev == 2 and run.nhev == products  # the whole Hessian counts as n products


def test_hessian_products_are_counted_and_match_the_whole_hessian(monkeypatch):
    import slpdiff.core.hessian
    import slpdiff.optimize.scipy_methods

    calls = {"hessian": 0, "hvp": 0}
    for name in calls:
        real = getattr(slpdiff.core.hessian, name)

        def counting(*args, real=real, name=name, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(slpdiff.core.hessian, name, counting)
    products = optimize(ROSENBROCK, {"x": -1.2, "y": 1.0}, "trust-ncg")
    assert calls == {"hessian": products.nhev // 2, "hvp": 0}
    monkeypatch.setattr(slpdiff.optimize.scipy_methods, "FULL_HESSIAN_MAX", 0)
    matrix = optimize(ROSENBROCK, {"x": -1.2, "y": 1.0}, "trust-ncg")
    assert calls["hvp"] == matrix.nhev > 0
    assert matrix.steps == products.steps and matrix.status == products.status == "converged"
    assert matrix.at["x"] == pytest.approx(products.at["x"], abs=1e-12)


def test_steps_zero_evaluates_the_start_only():
    seen = []
    for method in ("gd", "lbfgs"):
        run = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, method, steps=0, callback=seen.append)
        assert run.status == "max_steps" and run.steps == 0 and run.nfev == 1
        assert run.at == {"x": 0.0, "y": 0.0}
    assert seen == []


def test_ftol_stops_on_a_small_relative_change():
    run = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, "gd", lr=0.01, steps=100000, ftol=1e-6)
    assert run.status == "converged" and "relative change" in run.message
    previous = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, "gd", lr=0.01, steps=run.steps - 1)
    a, b = float(previous.value), float(run.value)
    assert abs(a - b) / max(abs(a), abs(b), 1) <= 1e-6
    before = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, "gd", lr=0.01, steps=run.steps - 2)
    c = float(before.value)
    assert abs(c - a) / max(abs(c), abs(a), 1) > 1e-6  # it did not stop a step too late


def test_maximize_reports_the_real_values():
    program = slpdiff.parse("g = 5 - (x - 1)^2 - (y - 2)^2")
    for method in ("gd", "adam", "lbfgs", "bfgs", "newton-cg", "trust-ncg"):
        lr = 0.1 if method == "adam" else None
        seen = []
        run = optimize(program, {"x": 0.0, "y": 0.0}, method, maximize=True, lr=lr, steps=3000,
                       tol=1e-9, callback=seen.append)
        assert run.status == "converged", (method, run.message)
        assert run.at["x"] == pytest.approx(1.0) and run.at["y"] == pytest.approx(2.0)
        assert run.value == pytest.approx(5.0) and seen[0].value == 0.0
        assert seen[0].gradient == {"x": 2.0, "y": 4.0}  # the objective's own gradient


@pytest.mark.parametrize("method", FIRST_ORDER + ("lbfgs",))
def test_bounds_hold_and_the_projected_gradient_decides_convergence(method):
    lr = {"adam": 0.05, "gd": 0.05}.get(method)
    seen = []
    run = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, method, lr=lr, bounds={"x": (-1, 2)},
                   steps=5000, tol=1e-9, callback=seen.append)
    assert run.status == "converged", run.message
    assert run.at["x"] == 2.0 and run.at["y"] == pytest.approx(-1.0)
    assert run.gradient["x"] == -2.0  # not zero: the bound holds x back
    assert all(-1 <= s.at["x"] <= 2 for s in seen)
    assert "projected gradient" in run.message


def test_a_start_outside_the_bounds_is_moved_into_them():
    seen = []
    optimize(QUADRATIC, {"x": 9.0, "y": 0.0}, "gd", bounds={"x": (None, 5)}, steps=2,
             callback=seen.append)
    assert seen[0].at["x"] == 5.0


def test_wrt_holds_the_other_inputs_fixed_for_every_method():
    for method in METHODS[:6]:
        run = optimize(QUADRATIC, {"x": 0.0, "y": 0.5}, method, wrt=["x"], steps=20)
        assert run.at["y"] == 0.5 and list(run.gradient) == ["x"]


def test_gd_divergence_keeps_the_last_finite_point():
    program = slpdiff.parse("f = x^4")
    seen = []
    run = optimize(program, {"x": 3.0}, "gd", lr=10.0, steps=100, callback=seen.append)
    assert run.status == "diverged" and run.diverged_at is not None
    assert not math.isfinite(float(run.diverged_at.value))
    assert math.isfinite(float(run.value)) and run.final is seen[-1]
    assert run.steps == run.final.index == run.diverged_at.index - 1


def test_a_scipy_method_that_steps_out_of_the_domain_diverges():
    # log(x) decreases without end towards x = 0; L-BFGS-B's first step overshoots to x < 0.
    program = slpdiff.parse("f = log(x) + 0.01 * x")
    run = optimize(program, {"x": 50.0}, "lbfgs")
    assert run.status == "diverged" and run.diverged_at.at["x"] <= 0
    assert math.isfinite(float(run.value)) and run.at["x"] > 0


def test_a_non_finite_start_diverges_at_step_zero():
    run = optimize(slpdiff.parse("f = log(x)"), {"x": -1.0}, "gd")
    assert run.status == "diverged" and run.steps == 0 and run.final is run.diverged_at


def test_ctrl_c_stops_at_the_next_evaluation_with_the_best_point():
    seen = []

    def press_ctrl_c(step):
        seen.append(step)
        if step.index == 5:
            os.kill(os.getpid(), signal.SIGINT)

    # momentum overshoots, so the last iterate is not the best one
    run = optimize(QUADRATIC, {"x": 0.0, "y": 0.0}, "momentum", lr=0.04, steps=1000,
                   callback=press_ctrl_c)
    assert run.status == "interrupted" and "interrupted" in run.message
    # step 6 was evaluated (and step 5 reported) before the signal; step 7 never is
    assert run.steps == 6 and run.nfev == 7 and [s.index for s in seen] == list(range(7))
    assert run.value == min(s.value for s in seen) and run.final.index < 6
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_options_that_do_not_fit_the_method_are_errors():
    start = {"x": 0.0, "y": 0.0}
    cases = [
        ({"method": "lbfgs", "lr": 0.1}, "lr does not apply to lbfgs"),
        ({"method": "gd", "momentum": 0.5}, "momentum does not apply to gd"),
        ({"method": "momentum", "beta1": 0.5}, "parameter of adam"),
        ({"method": "sgd"}, "unknown method 'sgd'"),
        ({"method": "bfgs", "bounds": {"x": (0, 1)}}, "bfgs does not take bounds"),
        ({"method": "gd", "bounds": {"z": (0, 1)}}, "a bound for 'z'"),
        ({"method": "gd", "bounds": {"x": (2, 1)}}, "not an interval"),
        ({"method": "gd", "lr": -1.0}, "lr must be a finite number greater than 0"),
        ({"method": "adam", "beta2": 1.0}, "beta2 must be a finite number at least 0"),
        ({"method": "gd", "steps": -1}, "steps must be"),
        ({"method": "gd", "tol": float("nan")}, "tol must be at least 0"),
        ({"method": "gd", "wrt": ["x", "x"]}, "given twice"),
        ({"method": "gd", "wrt": ["q"]}, "'q' is not an input"),
    ]
    for kwargs, message in cases:
        method = kwargs.pop("method")
        with pytest.raises(slpdiff.InputError, match=message):
            optimize(QUADRATIC, start, method, **kwargs)
    with pytest.raises(slpdiff.InputError, match="no value for input 'y'"):
        optimize(QUADRATIC, {"x": 0.0}, "gd")
    with pytest.raises(slpdiff.InputError, match="its value is an array"):
        optimize(QUADRATIC, {"x": np.array([1.0, 2.0]), "y": 0.0}, "gd")
