"""Forward mode, directional derivatives, Hessians and Hessian-vector products (library API)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_engine import seed_by_hand

import slpdiff
from helpers import EXAMPLES, same_bits
from slpdiff import Var
from slpdiff.core.hessian import cached_adjoint, hessian, hvp
from slpdiff.core.tangent import evaluate_forward, jvp
from slpdiff.evaluation import evaluate

SEED = slpdiff.parse_file(str(EXAMPLES / "seed.slp"))
SPEELPENNING = slpdiff.parse_file(str(EXAMPLES / "speelpenning.slp"))
ROSENBROCK = slpdiff.parse_file(str(EXAMPLES / "rosenbrock.slp"))


# --- forward mode ---------------------------------------------------------------------------------

@pytest.mark.parametrize("x, w", [(1.0, 4.0), (0.5, -2.0), (0.0, 0.0)])
def test_forward_mode_matches_the_hand_derivation(x, w):
    result = evaluate_forward(SEED, {"x": x, "w": w})
    v7, dx, dw = seed_by_hand(x, w)
    assert result.values["v7"] == pytest.approx(v7, rel=1e-14)
    assert result.gradient["v7"]["x"] == pytest.approx(dx, rel=1e-13, abs=1e-14)
    assert result.gradient["v7"]["w"] == pytest.approx(dw, rel=1e-13, abs=1e-14)


def test_forward_mode_speelpenning():
    xs = {f"x{i}": float(i) for i in range(1, 9)}
    gradient = evaluate_forward(SPEELPENNING, xs).gradient["y"]
    assert gradient == {name: math.factorial(8) / i for i, name in enumerate(xs, start=1)}


def test_forward_mode_on_arrays_and_with_scalar_parameters_sums_like_reverse_mode():
    xs = np.array([0.5, 1.0, 2.0])
    for point in ({"x": xs, "w": xs * 2}, {"x": xs, "w": 4.0}):
        fwd = evaluate_forward(SEED, point).gradient["v7"]
        rev = evaluate(SEED, point).gradient["v7"]
        for name in ("x", "w"):
            assert np.shape(fwd[name]) == np.shape(rev[name])
            assert np.allclose(fwd[name], rev[name], rtol=1e-13)


def test_forward_mode_wrt_outputs_and_warnings():
    program = slpdiff.parse("input x, y\nu = log(x) * y\nv = y^3\noutput v, u")
    result = evaluate_forward(program, {"x": 0.0, "y": 2.0}, wrt=["y"])
    assert list(result.gradient) == ["v", "u"] and list(result.gradient["u"]) == ["y"]
    assert result.gradient["v"]["y"] == 12.0 and result.gradient["u"]["y"] == -math.inf
    # the same warnings as reverse mode: the first non-finite value and local derivative
    for wrt, rule in ((["y"], "d/db multiply(a, b) = a"), (["x"], "d/da log(a) = 1 / a")):
        fwd = evaluate_forward(program, {"x": 0.0, "y": 2.0}, wrt=wrt).warnings
        rev = evaluate(program, {"x": 0.0, "y": 2.0}, wrt=wrt).warnings
        assert [(w.kind, w.position) for w in fwd] == [(w.kind, w.position) for w in rev]
        assert [w.kind for w in fwd] == ["value", "derivative"] and rule in fwd[1].describe()


def test_forward_mode_through_a_reduction():
    # a custom op that sums its argument's rows: forward mode sums the tangents too
    x, w = Var(name="x"), Var(name="w")
    total = Var(op=np.sum, children=[x * w], pds=[lambda a: np.ones_like(a)])
    program = slpdiff.Program.from_outputs([total * w])
    xs = np.array([1.0, 2.0, 3.0])
    fwd = evaluate_forward(program, {"x": xs, "w": 2.0}, wrt=["w"])
    rev = evaluate(program, {"x": xs, "w": 2.0}, wrt=["w"])
    (out,) = program.output_names
    assert fwd.gradient[out]["w"] == rev.gradient[out]["w"] == 2 * 2.0 * xs.sum()
    # per-row derivatives in x through a function the table does not know: not defined
    with pytest.raises(slpdiff.InputError, match="Python rules combines the rows"):
        evaluate_forward(program, {"x": xs, "w": 2.0})


def test_jvp_is_the_gradient_along_the_direction():
    values, along = jvp(SEED, {"x": 1.0, "w": 4.0}, {"x": 0.25, "w": -2.0})
    _, dx, dw = seed_by_hand(1.0, 4.0)
    assert along["v7"] == pytest.approx(0.25 * dx - 2.0 * dw, rel=1e-13)
    assert values["v7"] == pytest.approx(seed_by_hand(1.0, 4.0)[0], rel=1e-14)
    assert jvp(SEED, {"x": 1.0, "w": 4.0}, {})[1]["v7"] == 0.0
    with pytest.raises(slpdiff.InputError, match="'q' is not an input"):
        jvp(SEED, {"x": 1.0, "w": 4.0}, {"q": 1.0})


# --- Hessians: closed forms -----------------------------------------------------------------------

def test_speelpenning_hessian_in_closed_form():
    xs = {f"x{i}": 0.5 + 0.3 * i for i in range(1, 9)}
    h = hessian(SPEELPENNING, xs)["y"]
    for i in xs:
        for j in xs:
            expected = 0.0 if i == j else math.prod(v for n, v in xs.items() if n not in (i, j))
            assert h[i][j] == pytest.approx(expected, rel=1e-13, abs=0.0), (i, j)


@pytest.mark.parametrize("x, y", [(-1.2, 1.0), (1.0, 1.0), (0.3, -2.0), (0.0, 0.0)])
def test_rosenbrock_hessian_in_closed_form(x, y):
    h = hessian(ROSENBROCK, {"x": x, "y": y})["f"]
    assert h["x"]["x"] == pytest.approx(1200 * x * x - 400 * y + 2, rel=1e-14, abs=1e-12)
    assert h["x"]["y"] == h["y"]["x"] == pytest.approx(-400 * x, abs=1e-12)
    assert h["y"]["y"] == 200.0


def test_seed_hessian_against_differences_of_the_hand_gradient():
    x, w, step = 1.0, 4.0, 1e-6
    h = hessian(SEED, {"x": x, "w": w})["v7"]
    dx_dx = (seed_by_hand(x + step, w)[1] - seed_by_hand(x - step, w)[1]) / (2 * step)
    dw_dw = (seed_by_hand(x, w + step)[2] - seed_by_hand(x, w - step)[2]) / (2 * step)
    dx_dw = (seed_by_hand(x, w + step)[1] - seed_by_hand(x, w - step)[1]) / (2 * step)
    assert h["x"]["x"] == pytest.approx(dx_dx, rel=1e-7)
    assert h["w"]["w"] == pytest.approx(dw_dw, rel=1e-7)
    assert h["x"]["w"] == pytest.approx(dx_dw, rel=1e-7)
    assert h["w"]["x"] == pytest.approx(h["x"]["w"], rel=1e-14)


def test_hessian_wrt_a_subset_and_several_outputs():
    program = slpdiff.parse("input x, y, k\nu = x^2 * y * k\nv = sin(x + y)\noutput u, v")
    h = hessian(program, {"x": 0.5, "y": 2.0, "k": 3.0}, wrt=["y", "x"])
    assert list(h) == ["u", "v"] and list(h["u"]) == ["x", "y"]  # program order
    assert h["u"] == {"x": {"x": 12.0, "y": 3.0}, "y": {"x": 3.0, "y": 0.0}}
    assert h["v"]["x"]["y"] == pytest.approx(-math.sin(2.5), rel=1e-15)


def test_hessian_at_arrays_is_one_per_point():
    xs = np.array([-1.2, 1.0, 0.3])
    ys = np.array([1.0, 1.0, -2.0])
    h = hessian(ROSENBROCK, {"x": xs, "y": ys})["f"]
    assert np.allclose(h["x"]["x"], 1200 * xs**2 - 400 * ys + 2, rtol=1e-14)
    assert np.allclose(h["x"]["y"], -400 * xs)
    assert np.shape(h["y"]["y"]) == (3,)


# --- Hessian-vector products ----------------------------------------------------------------------

def test_hvp_is_the_hessian_times_the_vector():
    point = {"x": -1.2, "y": 1.0}
    hv = hvp(ROSENBROCK, point, {"x": 1.0, "y": -0.5})["f"]
    assert hv == {"x": pytest.approx(1330.0 - 240.0), "y": pytest.approx(480.0 - 100.0)}
    assert hvp(ROSENBROCK, point, {"y": 2.0})["f"] == {"x": 960.0, "y": 400.0}


def test_hvp_builds_the_adjoint_program_once_per_program():
    program = slpdiff.parse_file(str(EXAMPLES / "neuron.slp"))
    first = cached_adjoint(program)
    point = {name: 0.1 * k for k, name in enumerate(program.input_names)}
    for k in range(5):
        hvp(program, point, {"w1": 1.0 + k})
    assert cached_adjoint(program) is first
    assert cached_adjoint(program, wrt=["w1"]) is not first  # another choice, another program


def test_hvp_names_must_be_differentiated_inputs():
    with pytest.raises(slpdiff.InputError, match="'q' is not an input"):
        hvp(SEED, {"x": 1.0, "w": 4.0}, {"q": 1.0})
    with pytest.raises(slpdiff.InputError, match="not among the inputs differentiated"):
        hvp(SEED, {"x": 1.0, "w": 4.0}, {"x": 1.0}, wrt=["w"])


def test_hvp_sums_a_scalar_inputs_entries_over_rows_as_the_hessian_does():
    # (GradBench's kmeans found hvp returning one entry per row for a scalar input.)
    program = slpdiff.parse("input p, c1, c2; d1 = (p-c1)^2; d2 = (p-c2)^2; f = sum(min(d1, d2))")
    at = {"p": np.array([0, 0.1, 0.9, 1, 1.2]), "c1": 0.0, "c2": 1.0}
    whole = hessian(program, at, wrt=["c1", "c2"])["f"]
    product = hvp(program, at, {"c1": 1.0, "c2": 1.0}, wrt=["c1", "c2"])["f"]
    for x in ("c1", "c2"):
        assert np.ndim(product[x]) == 0
        assert product[x] == whole[x]["c1"] + whole[x]["c2"]
    assert (product["c1"], product["c2"]) == (4.0, 6.0)  # 2 per row nearer c1 (2), c2 (3)


@pytest.mark.parametrize("seed", range(4))
def test_hessian_entries_are_the_hvp_entries_bit_for_bit(seed):
    # hessian(...)[y][x][w] is d/dw of d y/d x: forward mode (direction w) over the adjoint
    # program's d_y_d_x, exactly what hvp with the direction e_w computes. The other order
    # (d/dx of d y/d w) is the same mathematics but differs in the last bits at most points.
    rng = np.random.default_rng(seed)
    program = slpdiff.parse("input x, w, z\ny = sin(x * w) * exp(z - x) + w ^ 3 / (1 + z ^ 2)"
                            "\nu = tanh(x + 2 * w) * log(2 + z * z)\noutput y, u\n")
    for _ in range(10):
        at = dict(zip("xwz", rng.uniform(-1.5, 1.5, 3), strict=True))
        whole = hessian(program, at)
        for w in "xwz":
            product = hvp(program, at, {w: 1.0})
            for y in ("y", "u"):
                for x in "xwz":
                    assert same_bits(whole[y][x][w], product[y][x]), (y, x, w, at)
