"""What one call of ``evaluate`` keeps with the program for the next (issue 15): the selection of
inputs and outputs, the columns, the path once it is settled, the all-rows run. Kept facts must
never change a result nor hide an error; benchmarks/call_overhead.py measures the time saved."""

from __future__ import annotations

import numpy as np
import pytest

import slpdiff
from helpers import same_bits
from slpdiff.errors import InputError
from slpdiff.evaluation import ALL_ROWS, SELECTIONS, force

LSE = "input x\nA = maxrows(x)\ny = log(sum(exp(x - A))) + A\noutput y\n"
SOFT = "input x, s\nA = maxrows(x)\ny = s * exp(x - A)\noutput y\n"  # a column from a reduction


def test_the_same_call_again_keeps_one_selection_and_gives_the_same_bits():
    program = slpdiff.parse(LSE)
    x = np.random.default_rng(0).normal(size=37)
    first = slpdiff.evaluate(program, {"x": x})
    for _ in range(3):
        again = slpdiff.evaluate(program, {"x": x})
        assert same_bits(again.values["y"], first.values["y"])
        assert same_bits(again.gradient["y"]["x"], first.gradient["y"]["x"])
    assert len(program.facts(SELECTIONS)) == 1
    force(program, "engine")  # the reference engine, on a fresh copy of the program
    reference = slpdiff.evaluate(slpdiff.parse(LSE), {"x": x}, derivatives=False)
    assert same_bits(reference.values["y"], first.values["y"])
    e = np.exp(x - x.max())
    assert np.allclose(first.gradient["y"]["x"], e / e.sum(), rtol=1e-14, atol=0)


def test_a_wrong_name_is_an_error_on_every_call():
    program = slpdiff.parse(LSE)
    for _ in range(2):
        with pytest.raises(InputError, match="'z' is not an input"):
            slpdiff.evaluate(program, {"x": np.ones(3)}, wrt=["z"])
        with pytest.raises(InputError, match="'z' is not an input"):
            slpdiff.evaluate(program, {"x": np.ones(3), "z": 1.0})
        with pytest.raises(InputError, match="no value for input 'x'"):
            slpdiff.evaluate(program, {})
        with pytest.raises(InputError, match="'z' is not an input"):  # the point's error first
            slpdiff.evaluate(program, {"z": 1.0}, wrt=["q"])
    assert not program.facts(SELECTIONS).get((("z",), None, True))


def test_names_may_come_from_any_iterable_read_once():
    program = slpdiff.parse("input x, w\ny = sin(x) * w\nz = y * y\noutput y, z\n")
    at = {"x": 0.5, "w": 2.0}
    listed = slpdiff.evaluate(program, at, wrt=["w"], outputs=["z"])
    once = slpdiff.evaluate(program, at, wrt=(n for n in ["w"]), outputs=iter(["z"]))
    assert list(once.gradient) == ["z"] and list(once.gradient["z"]) == ["w"]
    assert same_bits(once.gradient["z"]["w"], listed.gradient["z"]["w"])


def test_results_of_the_all_rows_run_are_the_callers_and_the_next_call_does_not_touch_them():
    soft, lse = slpdiff.parse(SOFT), slpdiff.parse(LSE)
    rng = np.random.default_rng(1)
    x, x2 = rng.normal(size=50), rng.normal(size=50)
    y = slpdiff.evaluate(soft, {"x": x, "s": 2.0}, derivatives=False).values["y"]
    g = slpdiff.evaluate(lse, {"x": x}).gradient["y"]["x"]
    kept_y, kept_g = y.copy(), g.copy()
    assert soft.facts(ALL_ROWS) and lse.facts(ALL_ROWS)
    slpdiff.evaluate(soft, {"x": x2, "s": 3.0}, derivatives=False)
    slpdiff.evaluate(lse, {"x": x2})
    assert same_bits(y, kept_y) and same_bits(g, kept_g)
    assert y.flags.writeable and g.flags.writeable
    assert same_bits(y, 2.0 * np.exp(x - x.max()))


def test_other_shapes_and_row_counts_after_a_settled_path():
    program = slpdiff.parse("input x, w\ny = sin(x) * w\nz = sum(y)\noutput y, z\n")
    for n in (5, 5, 5, 8, 1):
        x = np.linspace(0.0, 1.0, n)
        ev = slpdiff.evaluate(program, {"x": x, "w": 0.5}, outputs=["z"])
        assert same_bits(ev.values["z"], np.sum(np.sin(x) * 0.5))
        assert same_bits(ev.gradient["z"]["x"], np.cos(x) * 0.5)
    at_point = slpdiff.evaluate(program, {"x": 0.25, "w": 0.5}, outputs=["z"])
    assert same_bits(at_point.gradient["z"]["w"], np.float64(np.sin(0.25)))


# --- hvp on rows, numbers given once: reverse mode over v . grad y --------------------------------

# The parameters a, b enter only through columns (a * x, b * x), as a fit's do: the new path.
FIT = ("input x, t, a, b\nr = a * x + sin(b * x) - t\nm = mean(r)\n"
       "f = log(sum((r - m)^2))\noutput f\n")
# a^2 * b is one number computed from a and b directly: each row's Hessian, summed (core.rows).
FIT_AND_PRIOR = FIT.replace("output f", "g = f + a^2 * b\noutput g")


def fit_point(n: int = 40):
    rng = np.random.default_rng(3)
    return {"x": rng.uniform(-1, 1, n), "t": rng.uniform(-1, 1, n), "a": 0.7, "b": -1.3}


def gradient_differences(program, at, v, out, h=1e-5):
    moved = [slpdiff.evaluate(program, at | {w: at[w] + s * h * v[w] for w in v},
                              wrt=list(v)).gradient[out] for s in (1, -1)]
    return {w: (moved[0][w] - moved[1][w]) / (2 * h) for w in v}


def test_hvp_on_rows_with_numbers_given_once_is_the_gradient_of_v_dot_grad():
    from slpdiff.core import hessian as second
    from slpdiff.core import rows
    from slpdiff.hessian import hvp

    program = slpdiff.parse(FIT)
    at, v = fit_point(), {"a": 0.5, "b": -2.0}
    product = hvp(program, at, v, wrt=["a", "b"])["f"]
    assert program.facts(second.DOT)  # the new path ran
    by_rows = rows.hvp(program, at, v, wrt=["a", "b"])["f"]  # each row's Hessian, summed
    by_forward = second.hvp(program, at, v, wrt=["a", "b"])["f"]  # forward over reverse
    fd = gradient_differences(program, at, v, "f")
    for w in ("a", "b"):
        assert np.ndim(product[w]) == 0
        assert np.isclose(product[w], by_rows[w], rtol=1e-12, atol=0)
        assert np.isclose(product[w], by_forward[w], rtol=1e-12, atol=0)
        assert np.isclose(product[w], fd[w], rtol=1e-6)


def test_hvp_where_a_number_reaches_the_output_directly_takes_each_rows_hessian():
    from slpdiff.core import hessian as second
    from slpdiff.core import rows
    from slpdiff.hessian import hvp

    program = slpdiff.parse(FIT_AND_PRIOR)
    at, v = fit_point(), {"a": 0.5, "b": -2.0}
    product = hvp(program, at, v, wrt=["a", "b"])["g"]
    assert not program.facts(second.DOT)
    by_rows = rows.hvp(program, at, v, wrt=["a", "b"])["g"]
    fd = gradient_differences(program, at, v, "g")
    for w in ("a", "b"):
        assert same_bits(product[w], by_rows[w]) and np.isclose(product[w], fd[w], rtol=1e-6)


def test_hvp_on_rows_gives_the_same_bits_on_every_evaluator_and_keeps_its_errors():
    from slpdiff.core.hessian import dot_program
    from slpdiff.hessian import hvp

    program = slpdiff.parse(FIT)
    at = fit_point(300)
    first = hvp(program, at, {"a": 1.0}, wrt=["a", "b"])["f"]
    dot = dot_program(program, ["a", "b"], ["f"]).program
    for path in ("slices", "all rows"):
        force(dot, path)
        again = hvp(program, at, {"a": 1.0}, wrt=["a", "b"])["f"]
        assert all(same_bits(again[w], first[w]) for w in ("a", "b")), path
    with pytest.raises(InputError, match="'x' is not among the inputs differentiated"):
        hvp(program, at, {"x": 1.0}, wrt=["a", "b"])
    each_row = hvp(program, at, {"a": 1.0}, wrt=["a", "b"], shared="row")["f"]  # not this path
    assert np.allclose(each_row["b"], first["b"], rtol=1e-12, atol=0)  # one number: each row
