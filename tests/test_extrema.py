"""The reductions over rows ``maxrows`` and ``minrows``: values against numpy, derivatives against
finite differences and the stated convention at ties (k tied rows get 1/k each), each row's own
derivatives through them, the command, the adjoint program, and partitions."""

from __future__ import annotations

import numpy as np
import pytest

import slpdiff
from helpers import invoke, run_slpdiff, same_bits
from slpdiff.errors import InputError
from slpdiff.hessian import hessian
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.rows.partitioned import Partitioned, totals
from slpdiff.rows.points import Chunk

EXTREMA = "input x\nm = maxrows(x)\nk = minrows(x)\noutput m, k\n"
LSE = "input x\nA = maxrows(x)\nl = log(sum(exp(x - A))) + A\noutput l\n"


def one_hot(x, at) -> np.ndarray:
    e = np.zeros_like(x)
    e[at] = 1.0
    return e


def test_values_are_numpys_and_the_derivative_is_one_on_the_row_that_holds_it():
    x = np.random.default_rng(1).normal(size=37)
    ev = slpdiff.evaluate(slpdiff.parse(EXTREMA), {"x": x})
    assert same_bits(ev.values["m"], np.max(x)) and same_bits(ev.values["k"], np.min(x))
    assert same_bits(ev.gradient["m"]["x"], one_hot(x, np.argmax(x)))
    assert same_bits(ev.gradient["k"]["x"], one_hot(x, np.argmin(x)))


@pytest.mark.parametrize("x, share_max, share_min", [
    ([1.0, 3.0, 2.0, 3.0], [0, 0.5, 0, 0.5], [1, 0, 0, 0]),
    ([2.0, 2.0, 2.0], [1 / 3] * 3, [1 / 3] * 3),
    ([-1.0, 5.0, -1.0, 5.0, 5.0, -1.0], [0, 1 / 3, 0, 1 / 3, 1 / 3, 0], [1 / 3, 0, 1 / 3, 0, 0,
                                                                         1 / 3]),
    ([0.0, -0.0, -4.0], [0.5, 0.5, 0], [0, 0, 1]),  # -0.0 and 0.0 tie; the value is 0.0
])
def test_tied_rows_share_the_derivative_equally(x, share_max, share_min):
    ev = slpdiff.evaluate(slpdiff.parse(EXTREMA), {"x": np.array(x)})
    assert same_bits(ev.gradient["m"]["x"], np.array(share_max, dtype=float))
    assert same_bits(ev.gradient["k"]["x"], np.array(share_min, dtype=float))
    assert sum(ev.gradient["m"]["x"]) == pytest.approx(1.0, rel=1e-15)
    assert not np.signbit(ev.values["m"]) and not np.signbit(ev.values["k"]) or min(x) < 0


def test_one_row_and_one_point_are_the_identity():
    program = slpdiff.parse(EXTREMA)
    for at in ({"x": 2.5}, {"x": np.array([2.5])}):
        ev = slpdiff.evaluate(program, at)
        assert ev.values["m"] == ev.values["k"] == 2.5
        assert np.all(ev.gradient["m"]["x"] == 1.0) and np.all(ev.gradient["k"]["x"] == 1.0)


def test_no_rows_give_the_identities_and_a_warning_not_a_traceback():
    ev = slpdiff.evaluate(slpdiff.parse(EXTREMA), {"x": np.array([])})
    assert ev.values["m"] == -np.inf and ev.values["k"] == np.inf  # as numpy's initial values
    assert ev.warnings[0].describe().startswith("non-finite value -inf from maxrows")
    assert PRIMITIVES["maxrows"].combine([], 0) == -np.inf  # no partition had rows


def test_log_sum_exp_through_the_maximum_against_numpy_and_finite_differences():
    x = np.random.default_rng(2).normal(size=40) * 3
    ev = slpdiff.evaluate(slpdiff.parse(LSE), {"x": x})
    top = np.max(x)
    assert ev.values["l"] == pytest.approx(top + np.log(np.sum(np.exp(x - top))), rel=1e-15)
    softmax = np.exp(x - top) / np.sum(np.exp(x - top))
    np.testing.assert_allclose(ev.gradient["l"]["x"], softmax, rtol=1e-13, atol=1e-17)
    h = 1e-6
    program = slpdiff.parse(LSE)
    for i in (0, int(np.argmax(x)), 17):  # the row holding the maximum included
        e = one_hot(x, i) * h
        fd = (slpdiff.evaluate(program, {"x": x + e}, derivatives=False).values["l"]
              - slpdiff.evaluate(program, {"x": x - e}, derivatives=False).values["l"]) / (2 * h)
        assert ev.gradient["l"]["x"][i] == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_a_number_given_once_and_each_rows_own_derivatives_match_finite_differences():
    # m is a column computed from the maximum: each row's own derivative includes the path
    # through it (row i moves the maximum only if it holds it).
    text = "input x, w\nm = x * w - minrows(w * x^2) + maxrows(sin(x) * w)\noutput m\n"
    program = slpdiff.parse(text)
    rng = np.random.default_rng(3)
    x, w = rng.uniform(-2, 2, 11), 0.7
    ev = slpdiff.evaluate(program, {"x": x, "w": w})

    def rows(xv, wv):
        return slpdiff.evaluate(program, {"x": xv, "w": wv}, derivatives=False).values["m"]

    h = 1e-6
    for i in range(11):  # perturb row i, look at row i
        e = one_hot(x, i) * h
        fd = (rows(x + e, w)[i] - rows(x - e, w)[i]) / (2 * h)
        assert ev.gradient["m"]["x"][i] == pytest.approx(fd, rel=1e-7, abs=1e-9)
    fd_w = (rows(x, w + h) - rows(x, w - h)) / (2 * h)
    # a number given once: its derivatives summed over the rows, as for every gradient
    assert ev.gradient["m"]["w"] == pytest.approx(np.sum(fd_w), rel=1e-7)
    # forward mode gives the same per-row derivatives, to rounding
    forward = slpdiff.evaluate_forward(program, {"x": x, "w": w})
    np.testing.assert_allclose(forward.gradient["m"]["x"], ev.gradient["m"]["x"], rtol=1e-14)


def test_non_finite_rows_are_reported_where_they_start_as_for_sum():
    x = np.array([1.0, -1.0, 2.0])
    for reduction in ("sum", "maxrows"):
        program = slpdiff.parse(f"input x\nu = log(x)\nm = {reduction}(u)\noutput m\n")
        ev = slpdiff.evaluate(program, {"x": x})
        assert np.isnan(ev.values["m"])
        assert ev.warnings[0].describe().startswith("non-finite value nan from log")


def test_eval_points_gives_each_rows_derivative_through_the_command(tmp_path):
    (tmp_path / "lse.slp").write_text(LSE)
    (tmp_path / "p.csv").write_text("x\n1\n3\n2\n3\n")
    proc = run_slpdiff("eval", tmp_path / "lse.slp", "--points", tmp_path / "p.csv")
    assert proc.returncode == 0
    # the tie is named, with the share each tied row gets (the row's own, 0.5 here)
    assert proc.stderr.startswith(
        f"slpdiff: warning: {tmp_path / 'lse.slp'}:2:5: maxrows(a) is not differentiable where "
        "rows tie at the maximum; the derivative uses the convention d/da maxrows(a) = 0.5 "
        f"there (at 2 of 4 rows; first at {tmp_path / 'p.csv'}:3)")
    (tmp_path / "untied.csv").write_text("x\n1\n3\n2\n")
    untied = run_slpdiff("eval", tmp_path / "lse.slp", "--points", tmp_path / "untied.csv")
    assert untied.returncode == 0 and untied.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == "x,l,d l/d x"
    x = np.array([1.0, 3.0, 2.0, 3.0])
    softmax = np.exp(x - 3) / np.sum(np.exp(x - 3))
    for line, want in zip(lines[1:], softmax, strict=True):
        value, derivative = map(float, line.split(",")[1:])
        assert value == pytest.approx(3 + np.log(np.sum(np.exp(x - 3))), rel=1e-15)
        assert derivative == pytest.approx(want, rel=1e-14)
    at_point = run_slpdiff("eval", "-", "--at", "x=2", input=EXTREMA)
    assert at_point.stdout.splitlines() == ["m = 2.0", "k = 2.0", "Jacobian, d row/d column:",
                                            "   x", "m  1.0", "k  1.0"]


def test_the_adjoint_program_writes_the_share_and_gives_the_engines_derivatives(tmp_path):
    (tmp_path / "e.slp").write_text(EXTREMA)
    proc = run_slpdiff("grad", tmp_path / "e.slp")
    assert proc.returncode == 0, proc.stderr
    # the rule's repeated equal(x, m) written once (rules.py computes a repeated step once)
    assert "d_m_d_x_1 = equal(x, m)\nd_m_d_x = d_m_d_x_1 / sum(d_m_d_x_1)" in proc.stdout
    assert "d_k_d_x_1 = equal(x, k)\nd_k_d_x = d_k_d_x_1 / sum(d_k_d_x_1)" in proc.stdout
    adjoint = slpdiff.parse(proc.stdout)
    x = np.array([0.5, 4.0, -2.0, 4.0, -2.0])
    ev = slpdiff.evaluate(adjoint, {"x": x}, derivatives=False)
    assert same_bits(ev.values["d_m_d_x"], np.array([0, 0.5, 0, 0.5, 0]))
    assert same_bits(ev.values["d_k_d_x"], np.array([0, 0, 0.5, 0, 0.5]))


def test_the_table_lists_them_and_max_of_one_argument_points_to_them():
    listing = invoke("functions")
    assert "maxrows(a)" in listing.stdout and "minrows(a)" in listing.stdout
    for text, words in [("y = max(x)", "max takes 2 arguments (max(a, b)), got 1: over all rows, "
                                       "write maxrows(a)"),
                        ("y = min(x)", "write minrows(a)"),
                        ("y = amax(x)", "unknown function 'amax' (did you mean 'maxrows'?)"),
                        ("y = maxrows(x, x)", "maxrows takes 1 argument (maxrows(a)), got 2")]:
        result = invoke("eval", "-", "--at", "x=1", input=text)
        assert result.exit_code == 2 and words in result.stderr, result.stderr


def test_second_derivatives_through_them_treat_the_pick_as_fixed_as_away_from_ties():
    # maxrows is linear near a point without ties (the row it picks does not move), so each
    # row's Hessian is exact there: lse's is the softmax's s_i (1 - s_i).
    x = np.array([1.0, 3.0, 2.0, -0.5])
    s = np.exp(x - x.max()) / np.sum(np.exp(x - x.max()))
    got = hessian(slpdiff.parse(LSE), {"x": x})["l"]["x"]["x"]
    np.testing.assert_allclose(got, s * (1 - s), rtol=1e-14)
    # m_i = x_i * max(x^2): x_i^3 on the row that holds the maximum (6 x_i), x_i * c elsewhere (0)
    program = slpdiff.parse("input x\nm = x * maxrows(x^2) - minrows(x) * x^2\noutput m\n")
    x = np.array([1.0, -3.0, 2.0])
    got = hessian(program, {"x": x})["m"]["x"]["x"]
    h = 1e-4

    def row(i, t):
        moved = x.copy()
        moved[i] += t
        return slpdiff.evaluate(program, {"x": moved}, derivatives=False).values["m"][i]

    fd = [(row(i, h) - 2 * row(i, 0.0) + row(i, -h)) / h**2 for i in range(3)]
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got, [0 + 6, -18 - 2 * -3 - 4 * -3, 0 + 6], rtol=1e-14)


# --- over partitions ------------------------------------------------------------------------------

def test_over_partitions_the_maximum_is_the_partitions_maximum_bit_for_bit():
    text = "input x\nm = x - maxrows(x^2) + minrows(x) * sum(x)\noutput m\n"
    program = slpdiff.parse(text)
    x = np.random.default_rng(5).normal(size=60)
    part = Partitioned(program, ["x"])
    bounds = [0, 7, 7, 33, 60]  # an empty partition among them
    chunks = [Chunk({"x": x[lo:hi]}, hi - lo) for lo, hi in zip(bounds, bounds[1:], strict=False)]

    def each(name, *args):
        return [getattr(part, name)(c, {}, *args) for c in chunks]

    reductions, sums, rows = totals(part, each, [])
    values = np.concatenate([part.evaluate(c, {}, reductions, sums, rows, []).values["m"]
                             for c in chunks if c.rows])
    whole = slpdiff.evaluate(program, {"x": x}, derivatives=False).values["m"]
    np.testing.assert_allclose(values, whole, rtol=1e-14)  # the sum is added in another order
    positions = [r.position for r in part.reductions]
    assert reductions[positions[0]] == np.max(x ** 2) and reductions[positions[1]] == np.min(x)
    with pytest.raises(InputError, match="derivatives through maxrows over partitions"):
        part.refuse_derivatives(True)
    part.refuse_derivatives(False)


def test_derivatives_over_a_cluster_are_refused_before_it_is_reached(tmp_path):
    (tmp_path / "lse.slp").write_text(LSE)
    (tmp_path / "p.csv").write_text("x\n1\n3\n2\n")
    # nothing listens on port 9: the refusal comes before any connection
    result = invoke("eval", str(tmp_path / "lse.slp"), "--points", str(tmp_path / "p.csv"),
                    "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2
    assert "derivatives through maxrows over partitions (--scheduler) are not supported" in \
        result.stderr


def test_check_at_a_point_finds_no_tie_among_its_stencil_points():
    # check evaluates its stencil points as separate points, not as rows that could tie
    program = "input x, w\nu = sin(x) * w\nm = maxrows(u) + minrows(x)\ny = u - m\n"
    result = invoke("check", "-", "--at", "x=0.5,w=2", input=program)
    assert result.exit_code == 0 and "2 of 2 agree" in result.stdout
    assert "not differentiable" not in result.stdout + result.stderr

