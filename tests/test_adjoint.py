"""The adjoint program (reverse mode as a source transformation) through the library API."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from test_engine import seed_by_hand

import slpdiff
from helpers import EXAMPLES, random_program
from slpdiff.core.adjoint import adjoint_program, size_bound
from slpdiff.core.engine import evaluate_reference
from slpdiff.core.schedule import select
from slpdiff.evaluation import evaluate
from slpdiff.language.primitives import PRIMITIVES

SEED = slpdiff.parse_file(str(EXAMPLES / "seed.slp"))


def run(adj, point):
    """Evaluate the adjoint program's printed text: the outputs by name."""
    return evaluate(slpdiff.parse(adj.text()), point, derivatives=False).values


def operations(program) -> int:
    return sum(1 for op in program.ops if op is not None)


@pytest.mark.parametrize("x, w", [(1.0, 4.0), (0.5, -2.0), (-1.3, 0.7)])
def test_seed_adjoint_program_matches_the_hand_derivation(x, w):
    adj = adjoint_program(SEED)
    values = run(adj, {"x": x, "w": w})
    v7, dx, dw = seed_by_hand(x, w)
    assert list(values) == ["v7", "d_v7_d_x", "d_v7_d_w"]
    assert values["v7"] == pytest.approx(v7, rel=1e-14)
    assert values["d_v7_d_x"] == pytest.approx(dx, rel=1e-13)
    assert values["d_v7_d_w"] == pytest.approx(dw, rel=1e-13)


def test_seed_adjoint_statements_are_the_textbook_reverse_sweep():
    text = adjoint_program(SEED).text()
    sweep = text.split("# The reverse sweep for v7")[1].splitlines()[1:]
    assert sweep == ["# for v2 = sin(v1)", "d_v7_d_v2 = w * (2 * v2) + v5",
                     "# for v1 = x * w", "d_v7_d_v1 = v5 + d_v7_d_v2 * cos(v1)",
                     "# for input x", "d_v7_d_x = d_v7_d_v1 * w",
                     "# for input w", "d_v7_d_w = v4 + d_v7_d_v1 * x",
                     "output v7, d_v7_d_x, d_v7_d_w"]
    # the original statements and comments come first, unchanged
    original = (EXAMPLES / "seed.slp").read_text().splitlines()
    assert [line for line in text.splitlines() if line in original] == original[:-1]


@pytest.mark.parametrize("example", ["seed", "rosenbrock", "neuron", "speelpenning"])
def test_printed_adjoint_programs_are_a_fixed_point_of_parse_and_print(example):
    text = adjoint_program(slpdiff.parse_file(str(EXAMPLES / f"{example}.slp"))).text()
    assert slpdiff.to_slp(slpdiff.parse(text)) == text


def test_speelpenning_gradient_is_the_product_of_the_others():
    program = slpdiff.parse_file(str(EXAMPLES / "speelpenning.slp"))
    xs = {f"x{i}": 0.5 + 0.25 * i for i in range(1, 9)}
    values = run(adjoint_program(program), xs)
    for name in xs:
        others = math.prod(v for n, v in xs.items() if n != name)
        assert values[f"d_y_d_{name}"] == pytest.approx(others, rel=1e-14)


def test_rosenbrock_gradient_by_hand():
    program = slpdiff.parse_file(str(EXAMPLES / "rosenbrock.slp"))
    for x, y in [(-1.2, 1.0), (1.0, 1.0), (0.3, -2.0)]:
        values = run(adjoint_program(program), {"x": x, "y": y})
        assert values["d_f_d_x"] == pytest.approx(-2 * (1 - x) - 400 * x * (y - x * x), abs=1e-12)
        assert values["d_f_d_y"] == pytest.approx(200 * (y - x * x), abs=1e-12)


def test_several_outputs_each_get_a_sweep_and_equal_the_engine_bit_for_bit():
    program = slpdiff.parse("input x, y\nu = x * y + sin(x * y)\nv = exp(u) / y\nw = u\n"
                            "output v, x, w, u")
    adj = adjoint_program(program)
    point = {"x": 0.8, "y": -1.3}
    values = run(adj, point)
    engine = evaluate(program, point)
    for out, row in engine.gradient.items():
        for x, g in row.items():
            assert values[adj.derivatives[out][x]] == g
    assert values["d_x_d_x"] == 1.0 and values["d_x_d_y"] == 0.0


def test_nothing_for_parts_that_miss_the_output_or_the_chosen_inputs():
    program = slpdiff.parse("input x, y, k\n"
                            "dead = exp(x) * y\n"  # never reaches the output
                            "c = sin(k) * 3\n"  # does not depend on x or y
                            "f = x * c + y^2\n"
                            "output f")
    adj = adjoint_program(program, wrt=["x"])
    text = adj.text()
    assert adj.derivatives == {"f": {"x": "d_f_d_x"}}
    sweep = text.split("f = x * c + y^2\n")[1]
    assert sweep == "# for input x\nd_f_d_x = c\noutput f, d_f_d_x\n"  # d f/d x is c itself
    assert "dead" not in sweep and "d_f_d_c" not in sweep and "d_f_d_y" not in sweep
    assert "cos" not in sweep  # no rule of sin(k) is written
    assert operations(adj.program) == operations(program)  # d f/d x = c: no new operation
    assert run(adj, {"x": 2.0, "y": 5.0, "k": 0.5})["d_f_d_x"] == math.sin(0.5) * 3


def test_no_multiplication_by_one_or_addition_of_zero():
    program = slpdiff.parse("input x, y\na = x + y\nb = a - y\nc = -b * 1\nd = x^2 + x^1\n"
                            "q = c * d / 1\noutput q")
    text = adjoint_program(program).text()
    sweep = text.split("# The reverse sweep")[1]
    assert not re.search(r"[*/] 1\b|\b1 \*|[-+] 0\b|\^1\b|\* -1\b|-1 \*", sweep), sweep
    assert "2 * x" in sweep  # x^2's rule b * a^(b - 1), folded


def test_derivative_names_never_collide_with_the_programs_names():
    program = slpdiff.parse("input x, d_y_d_x\nd_y_d_v = x * d_y_d_x\ny_1 = sin(d_y_d_v)\n"
                            "y = y_1 * d_y_d_v\noutput y")
    adj = adjoint_program(program)
    names = set(program.input_names) | {n for n in program.names if n}
    assert not names & set(adj.derivatives["y"].values())
    again = slpdiff.parse(adj.text())  # a collision would be "already assigned"
    values = evaluate(again, {"x": 0.4, "d_y_d_x": 1.7}, derivatives=False).values
    engine = evaluate(program, {"x": 0.4, "d_y_d_x": 1.7}).gradient["y"]
    assert values[adj.derivatives["y"]["x"]] == engine["x"]
    assert values[adj.derivatives["y"]["d_y_d_x"]] == engine["d_y_d_x"]


def test_a_part_used_by_the_sweep_is_named_after_its_statement():
    program = slpdiff.parse("input x, w\nv3 = x * w + sin(x * w)\n")
    text = adjoint_program(program).text()
    assert "v3_1 = x * w\nv3 = x * w + sin(v3_1)\n" in text
    assert "cos(v3_1)" in text


def test_custom_operations_cannot_be_written_as_a_program():
    x = slpdiff.Var(value=1.0, name="x")
    y = slpdiff.Var(op=np.hypot, children=[x, x], pds=[lambda a, b: a, lambda a, b: b])
    with pytest.raises(TypeError, match="custom operation"):
        adjoint_program(slpdiff.Program.from_outputs([y]))


def test_unknown_names_are_input_errors():
    with pytest.raises(slpdiff.InputError, match="'q' is not an input"):
        adjoint_program(SEED, wrt=["q"])
    with pytest.raises(slpdiff.InputError, match="'v1' is not an output"):
        adjoint_program(SEED, outputs=["v1"])


def test_size_bound_is_computed_from_the_table():
    # every primitive's adjoint cost: rule operations plus a multiplication and an addition
    assert size_bound() == max(size_bound([p]) for p in PRIMITIVES.values())
    assert size_bound([PRIMITIVES["add"]]) == 0  # constant rules cost nothing
    assert size_bound([PRIMITIVES["multiply"]]) == 4  # b and a: the parameters themselves
    assert size_bound() <= 16


@pytest.mark.parametrize("n, n_outputs", [(3000, 1), (2000, 3)])
def test_size_bound_holds_on_large_programs(n, n_outputs):
    program = slpdiff.parse(random_program(n, n_outputs, seed=n))
    adj = adjoint_program(program)
    n_ops = operations(program)
    assert operations(adj.program) <= n_ops * (1 + n_outputs * size_bound())
    # and in practice far below the bound
    assert operations(adj.program) <= n_ops * (1 + 6 * n_outputs)
    text = adj.text()
    assert len(text.splitlines()) <= 4 * len(program) * n_outputs
    slpdiff.parse(text)  # valid


@pytest.mark.slow
def test_a_hundred_thousand_statements_without_recursion():
    # Built with the Var API (parsing 100,000 lines would dominate the time); the adjoint
    # program is written out as text and evaluated by the engine.
    x = slpdiff.Var(name="x")
    v = slpdiff.sin(x)
    for _ in range(100_000):
        v = v * 0.5 + slpdiff.sin(v)
    program = slpdiff.Program.from_outputs([v])
    adj = adjoint_program(program)
    assert adj.text().count("\n") > 100_000
    values = evaluate(adj.program, {"x": 0.3}, derivatives=False).values
    (out,) = program.output_names
    assert values[adj.derivatives[out]["x"]] == evaluate(program, {"x": 0.3}).gradient[out]["x"]


@pytest.mark.parametrize("text", [
    "input t, a\nm = mean(a * t)\nd = a * t - m\nloss = mean(d^2) + sum(t * a)",
    "input t, a\ny = t * a + sum(t)\n",  # a reduction's adjoint from a row-wise output: n rows
    "input t, a\nc = mean(t)\ny = a * (t - c) * c\n",
])
def test_reductions_used_row_wise_again_sum_their_adjoint_over_the_rows(text):
    # A value that is the same for every row (mean(...)) used by a row-wise statement: its
    # adjoint is the sum of the uses over the rows, as the engine's un-broadcast does. The
    # adjoint program writes out the engine's sweep, seeded with ones over the rows: the
    # gradient of the rows' total, which for a row-wise output that uses a reduction is not each
    # row's own derivative (slpdiff.evaluate's, docs/rows.md).
    program = slpdiff.parse(text)
    adjoint = slpdiff.parse(adjoint_program(program).text())
    rng = np.random.default_rng(3)
    point = {"t": rng.normal(size=7), "a": rng.normal(size=7)}  # per-row inputs: per-row results
    engine = evaluate_reference(program, [point["t"], point["a"]], select(program))
    written = evaluate(adjoint, point, derivatives=False)
    out = program.output_names[0]
    for x in ("t", "a"):
        np.testing.assert_array_equal(written.values[f"d_{out}_d_{x}"], engine.gradient[out][x])


def test_a_constant_term_summed_over_the_rows_has_no_factor_of_one():
    # Found by the property tests: the use of a reduction (count) by a row-wise statement whose
    # partial is the constant -1 must read `- count(v2) * ...`, never `-1 * count(v2)`.
    program = slpdiff.parse("input x0, x1\nv0 = count(2 * tanh(x1))\n"
                            "v1 = max(1.5 + tanh(v0), -1.5 + tanh(x0))\n"
                            "v2 = 2 * tanh(v1) - 2 * tanh(v0)\n")
    text = adjoint_program(program).text()
    assert "count(v2)" in text and "-1 *" not in text and "1 * count" not in text
    adjoint = slpdiff.parse(text)
    point = {"x0": 0.3, "x1": -0.2}
    written = evaluate(adjoint, point, derivatives=False)
    engine = evaluate(program, point)
    assert written.values["d_v2_d_x0"] == engine.gradient["v2"]["x0"]
