"""The engine through the library API: values, gradients, Jacobians, arrays, Vars, big graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES
from slpdiff import Var
from slpdiff.core.engine import adjoints, forward

SEED = slpdiff.parse_file(str(EXAMPLES / "seed.slp"))


def seed_by_hand(x: float, w: float) -> tuple[float, float, float]:
    """v7 and its partials, differentiated by hand."""
    s, c = math.sin(x * w), math.cos(x * w)
    v5 = math.exp(x * w + s)
    v7 = v5 + s * s * w
    dx = v5 * (1 + c) * w + 2 * s * c * w * w
    dw = v5 * (1 + c) * x + 2 * s * c * x * w + s * s
    return v7, dx, dw


@pytest.mark.parametrize("x, w", [(1.0, 4.0), (0.5, -2.0), (-1.3, 0.7), (0.0, 0.0)])
def test_seed_values_and_gradient_match_hand_derivation(x, w):
    result = slpdiff.evaluate(SEED, {"x": x, "w": w})
    v7, dx, dw = seed_by_hand(x, w)
    assert result.values["v7"] == pytest.approx(v7, rel=1e-14)
    assert result.gradient["v7"]["x"] == pytest.approx(dx, rel=1e-13, abs=1e-14)
    assert result.gradient["v7"]["w"] == pytest.approx(dw, rel=1e-13, abs=1e-14)


def test_wrt_subset_and_key_order():
    result = slpdiff.evaluate(SEED, {"w": 4.0, "x": 1.0}, wrt=["w"])
    assert list(result.at) == ["x", "w"]
    assert list(result.gradient["v7"]) == ["w"]


def test_jacobian_of_several_outputs():
    program = slpdiff.parse("input x, y\nu = x * y\nv = x + sin(y)\noutput v, u")
    result = slpdiff.evaluate(program, {"x": 2.0, "y": 3.0})
    assert list(result.values) == ["v", "u"]
    assert result.gradient == {"v": {"x": 1.0, "y": math.cos(3.0)}, "u": {"x": 3.0, "y": 2.0}}


def test_unused_input_has_zero_derivative_and_constant_branch_gets_no_work():
    # y's exponent 2 is a constant: d/db a^b = a^b log a would be nan at a < 0, but is never taken.
    program = slpdiff.parse("input x, unused\ny = x^2")
    result = slpdiff.evaluate(program, {"x": -3.0, "unused": 1.0})
    assert result.gradient["y"] == {"x": -6.0, "unused": 0.0}
    assert result.warnings == []


def test_output_may_be_an_input_or_an_alias():
    program = slpdiff.parse("input x\ny = x\nz = y * 3\noutput x, y, z")
    result = slpdiff.evaluate(program, {"x": 2.0})
    assert result.values == {"x": 2.0, "y": 2.0, "z": 6.0}
    assert result.gradient == {"x": {"x": 1.0}, "y": {"x": 1.0}, "z": {"x": 3.0}}


def test_program_without_inputs():
    result = slpdiff.evaluate(slpdiff.parse("y = 2 ^ 10 + pi"), {})
    assert result.values == {"y": 1024 + math.pi}
    assert result.gradient == {"y": {}}


def test_missing_and_unknown_inputs_are_input_errors_listing_the_inputs():
    with pytest.raises(slpdiff.InputError, match="no value for input 'w'.*x, w"):
        slpdiff.evaluate(SEED, {"x": 1.0})
    with pytest.raises(slpdiff.InputError, match="'q' is not an input.*x, w"):
        slpdiff.evaluate(SEED, {"x": 1.0, "w": 2.0, "q": 3.0})
    with pytest.raises(slpdiff.InputError, match="'v1' is not an input"):
        slpdiff.evaluate(SEED, {"x": 1.0, "w": 2.0}, wrt=["v1"])


def test_arrays_of_points_match_point_by_point_evaluation():
    rng = np.random.default_rng(1)
    xs, ws = rng.normal(size=50), rng.normal(size=50)
    batch = slpdiff.evaluate(SEED, {"x": xs, "w": ws})
    for k in range(50):
        one = slpdiff.evaluate(SEED, {"x": xs[k], "w": ws[k]})
        assert batch.values["v7"][k] == one.values["v7"]
        assert batch.gradient["v7"]["x"][k] == one.gradient["v7"]["x"]
        assert batch.gradient["v7"]["w"][k] == one.gradient["v7"]["w"]


def test_scalar_input_with_array_input_sums_its_derivative_over_rows():
    # The reverse sweep seeds every row with 1, so a scalar input's adjoint is the sum over rows
    # (what a parameter shared by all rows needs); an array input keeps one derivative per row.
    xs = np.array([0.5, 1.0, 2.0])
    result = slpdiff.evaluate(SEED, {"x": xs, "w": 4.0})
    per_row = [seed_by_hand(x, 4.0) for x in xs]
    assert np.shape(result.gradient["v7"]["w"]) == ()
    assert result.gradient["v7"]["w"] == pytest.approx(sum(r[2] for r in per_row), rel=1e-13)
    assert result.gradient["v7"]["x"] == pytest.approx([r[1] for r in per_row], rel=1e-13)


def test_nonfinite_warnings_name_the_first_node_reaching_an_output():
    program = slpdiff.parse("input x\ndead = log(-1)\na = log(x)\nb = a * 2\nc = sqrt(x)")
    result = slpdiff.evaluate(program, {"x": 0.0})
    # 'dead' is nan and 'a' is -inf, but neither reaches the output c = sqrt(0) = 0.
    assert [w for w in result.warnings if w.kind == "value"] == []
    derivative = [w for w in result.warnings if w.kind == "derivative"]
    assert derivative and derivative[0].line == 5 and "sqrt" in derivative[0].describe()


def test_warning_for_value_points_at_its_line():
    program = slpdiff.parse("input x\na = x + 1\nb = log(x - 1)\nc = b * a")
    result = slpdiff.evaluate(program, {"x": 1.0})
    kinds = {w.kind: w for w in result.warnings}
    assert kinds["value"].line == 3 and kinds["value"].column == 5
    assert "-inf" in kinds["value"].describe()


# --- the Var API --------------------------------------------------------------------------------

def test_var_operators_with_numbers():
    x, w = Var(value=2.0), Var(value=3.0)
    y = (x * w + 1) / (w - x) - 2 ** x + x ** 2 + abs(-x) + (-w) + (+x) + 1 / x - 3 * w
    y.forward()
    y.backward()
    # y = (xw+1)/(w-x) - 2^x + x^2 + |x| - w + x + 1/x - 3w
    dx = (w.value * (w.value - x.value) + (x.value * w.value + 1)) / (w.value - x.value) ** 2 \
        - math.log(2) * 2 ** x.value + 2 * x.value + 1 + 1 - 1 / x.value ** 2
    dw = (x.value * (w.value - x.value) - (x.value * w.value + 1)) / (w.value - x.value) ** 2 \
        - 1 - 3
    assert x.deriv == pytest.approx(dx, rel=1e-14)
    assert w.deriv == pytest.approx(dw, rel=1e-14)


def test_var_backward_sets_every_nodes_adjoint():
    x, w = Var(value=1.0), Var(value=4.0)
    v1 = slpdiff.multiply(x, w)
    v2 = slpdiff.sin(v1)
    v3 = slpdiff.add(v1, v2)
    v3.forward()
    v3.backward()
    assert v3.deriv == 1.0 and v2.deriv == 1.0
    assert v1.deriv == pytest.approx(1 + math.cos(4.0))
    assert x.deriv == pytest.approx(4 * (1 + math.cos(4.0)))


def test_var_shared_subexpression_accumulates():
    x = Var(value=3.0)
    y = x * x * x
    y.forward()
    y.backward()
    assert (y.value, x.deriv) == (27.0, 27.0)


def test_seed_style_custom_op_with_its_own_pds():
    a, b = Var(value=2.0), Var(value=5.0)
    hyp = Var(op=np.hypot, children=[a, b], pds=[lambda p, q: p / np.hypot(p, q),
                                                 lambda p, q: q / np.hypot(p, q)])
    hyp.forward()
    hyp.backward()
    assert hyp.value == math.hypot(2.0, 5.0)
    assert a.deriv == pytest.approx(2.0 / math.hypot(2.0, 5.0))


def test_var_function_arity_is_checked():
    with pytest.raises(TypeError, match="sin"):
        slpdiff.sin(Var(value=1.0), Var(value=2.0))


def test_program_from_python_graph():
    x, y = Var(value=1.0, name="x"), Var(value=2.0, name="y")
    f = slpdiff.atan2(y, x) * 2
    program = slpdiff.Program.from_outputs([f])
    assert program.input_names == ["y", "x"]
    result = slpdiff.evaluate(program, {"x": 1.0, "y": 2.0})
    assert result.gradient[program.output_names[0]]["y"] == pytest.approx(2 * 1 / 5)


# --- big graphs: no recursion anywhere ------------------------------------------------------------

@pytest.mark.slow
def test_million_statement_chain_through_the_var_api():
    n = 1_000_000
    x = Var(value=1.0, name="x")
    v = x
    for _ in range(n):
        v = v * 1.000001
    v.forward()
    v.backward()
    expected = 1.0
    for _ in range(n):
        expected *= 1.000001
    assert v.value == expected
    assert x.deriv == expected


@pytest.mark.slow
def test_million_statement_chain_parsed_from_text():
    # Each statement uses the previous one; parsing, evaluation and the reverse sweep are loops.
    n = 1_000_000
    text = "v0 = x\n" + "".join(f"v{i} = v{i - 1} + x\n" for i in range(1, n))
    program = slpdiff.parse(text)
    assert len(program) == n
    values = forward(program, [2.0])
    assert values[-1] == 2.0 * n
    adjoint = adjoints(program, values, len(program) - 1)
    assert adjoint[0] == float(n)


def test_values_alone_make_no_reverse_sweep_and_pass_the_reverse_work_limit(monkeypatch):
    # 3,000 outputs: one sweep each would be 3,000 walks (GradBench's ode primal took minutes).
    import slpdiff.core.engine as engine

    text = "input x\n" + "".join(f"y{i} = sin(x) * {i}\n" for i in range(3000))
    program = slpdiff.parse(text + "output " + ", ".join(f"y{i}" for i in range(3000)) + "\n")
    swept = []
    monkeypatch.setattr(engine, "reverse_sweep", lambda *a, **k: swept.append(1))
    result = slpdiff.evaluate(program, {"x": 0.5}, derivatives=False)
    assert result.gradient == {} and result.values["y2"] == np.sin(0.5) * 2 and swept == []
    result = slpdiff.evaluate(program, {"x": 0.5}, wrt=[])
    assert result.gradient["y7"] == {} and swept == []


def test_forward_resets_every_nodes_adjoint_as_its_docstring_and_the_seed_promise():
    # forward, backward, forward again: every deriv is 0 again, intermediates included (a reset
    # of the inputs alone would leave v1.deriv at its old adjoint).
    x, w = Var(value=1.0), Var(value=4.0)
    v1 = x * w
    v2 = slpdiff.sin(v1) + v1
    v2.forward()
    v2.backward()
    assert v1.deriv != 0.0 and x.deriv != 0.0
    v2.forward()
    assert [node.deriv for node in (x, w, v1, v2)] == [0.0, 0.0, 0.0, 0.0]


def test_backward_sets_every_nodes_adjoint_also_where_no_term_reaches():
    # u reaches y only through sign (whose derivative is 0): its adjoint from y is 0, whatever a
    # backward from another output left in it before.
    x = Var(value=1.5)
    u = x * 3.0
    z = u * 2.0
    y = slpdiff.sign(u) + x
    y.forward()
    z.forward()
    z.backward()
    assert u.deriv == 2.0 and x.deriv == 6.0
    y.backward()
    assert (u.deriv, x.deriv, y.deriv) == (0.0, 1.0, 1.0)
