"""``slpdiff grad --unfolded``: the incremental adjoint, one statement per update of the sweep, in
``slpdiff trace``'s order, equal to the engine's derivatives bit for bit (the sign of a zero
included), on every function of the table."""

from __future__ import annotations

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES, invoke, random_program, run_slpdiff, same_bits
from slpdiff.core.emit_python import to_python
from slpdiff.core.unfolded import unfolded_adjoint_program
from slpdiff.teach.trace import trace

SEED = str(EXAMPLES / "seed.slp")
AT = {"x": 1.0, "w": 4.0}


def _sweep_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(k for k, ln in enumerate(lines) if ln.startswith("# The reverse sweep"))
    return [ln for ln in lines[start + 1:] if not ln.startswith(("d_", "output", "#")) and ln]


def test_seed_unfolded_is_the_traces_updates_in_order():
    text = invoke("grad", SEED, "--unfolded").stdout
    assert _sweep_lines(text) == [
        "v7_bar = 1",
        "v5_bar += v7_bar", "v6_bar += v7_bar",
        "v4_bar += v6_bar * w", "w_bar += v6_bar * v4",
        "v3_bar += v5_bar * v5",
        "v2_bar += v4_bar * (2 * v2)",
        "v1_bar += v3_bar", "v2_bar += v3_bar",
        "v1_bar += v2_bar * cos(v1)",
        "x_bar += v1_bar * w", "w_bar += v1_bar * x"]
    # The same updates as trace, in the same order (trace writes 2 * v2 without parentheses).
    rows = trace(slpdiff.parse_file(SEED), AT).sweeps[0].rows
    assert [r.update for r in rows] == [ln.replace("(2 * v2)", "2 * v2")
                                        for ln in _sweep_lines(text)]
    assert text.splitlines()[-3:] == ["d_v7_d_x = x_bar", "d_v7_d_w = w_bar",
                                      "output v7, d_v7_d_x, d_v7_d_w"]


def test_the_book_example_has_eleven_updates_folded_into_four():
    folded = invoke("grad", str(EXAMPLES / "griewank.slp")).stdout
    unfolded = invoke("grad", str(EXAMPLES / "griewank.slp"), "--unfolded").stdout
    assert len(_sweep_lines(unfolded)) == 11  # the seed and ten updates
    assert "x2_bar -= v3_bar" not in unfolded and "v3_bar -= v4_bar" in unfolded
    assert sum(1 for ln in folded.splitlines() if ln.startswith("d_")) < 11


@pytest.mark.parametrize("seed", range(12))
def test_unfolded_derivatives_are_the_engines_bit_for_bit(seed):
    program = slpdiff.parse(random_program(30, n_outputs=2, seed=seed))
    unfolded = unfolded_adjoint_program(program)
    # A number's adjoint from a column's terms is written sum(...): at one point sum(-0.0) is
    # 0.0 where the engine keeps -0.0 (docs/design.md, "The same numbers").
    reduces = any(op is not None and op.reduces for op in program.ops)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        at = dict(zip("xyz", rng.uniform(-2, 2, 3).tolist(), strict=True))
        with np.errstate(all="ignore"):
            ev = slpdiff.evaluate(program, at)
            got = slpdiff.evaluate(unfolded.program, at, wrt=[])
        for out, row in unfolded.derivatives.items():
            for x, name in row.items():
                want = ev.gradient[out][x]
                if reduces and got.values[name] == 0.0 == want:
                    continue
                assert same_bits(got.values[name], want), (out, x)


def test_a_sum_over_rows_at_one_point_loses_the_sign_of_a_zero():
    # the one exception to bit for bit above, stated in docs/design.md
    program = slpdiff.parse("input x, z\ns = sum(x)\nr = s * z\noutput r\n")
    unfolded = unfolded_adjoint_program(program)
    at = {"x": 1.0, "z": -0.0}
    got = slpdiff.evaluate(unfolded.program, at, wrt=[]).values[unfolded.derivatives["r"]["x"]]
    assert same_bits(slpdiff.evaluate(program, at).gradient["r"]["x"], -0.0)
    assert same_bits(got, 0.0)


def test_signed_zeros_survive_unfolding():
    # -0.0 * x: the engine's adjoint of x is -0.0; folding x + 0 would make it 0.0.
    program = slpdiff.parse("input x, y\na = x * y\nb = a * 0\nc = b + x\noutput c")
    unfolded = unfolded_adjoint_program(program)
    at = {"x": 2.0, "y": -0.0}
    ev = slpdiff.evaluate(program, at)
    got = slpdiff.evaluate(unfolded.program, at, wrt=[])
    for x in ("x", "y"):
        assert same_bits(got.values[f"d_c_d_{x}"], ev.gradient["c"][x])


def test_several_outputs_unreached_inputs_and_outputs_that_are_inputs():
    program = slpdiff.parse("input x, y, z\nu = x * y\nv = sin(u)\noutput v, u, x")
    unfolded = unfolded_adjoint_program(program)
    text = unfolded.text()
    assert "x_bar_v += u_bar_v * y" in text and "x_bar_u += u_bar_u * y" in text
    at = {"x": 0.5, "y": 2.0, "z": 3.0}
    got = slpdiff.evaluate(unfolded.program, at, wrt=[]).values
    ev = slpdiff.evaluate(program, at)
    for out, row in unfolded.derivatives.items():
        for x, name in row.items():
            assert same_bits(got[name], ev.gradient[out][x])
    assert float(got["d_v_d_z"]) == 0.0 and float(got["d_x_d_x"]) == 1.0


def test_unfolded_python_module_computes_the_same(tmp_path):
    from helpers import run_without_slpdiff

    program = slpdiff.parse_file(SEED)
    source = to_python(unfolded_adjoint_program(program))
    out = run_without_slpdiff("from adjoint import value_and_gradient\n"
                              "print(repr(float(value_and_gradient(1.0, 4.0)[1]['v7']['x'])))\n",
                              {"adjoint": source}, tmp_path)
    assert float(out) == float(slpdiff.evaluate(program, AT).gradient["v7"]["x"])


def test_grad_unfolded_through_the_command():
    proc = run_slpdiff("grad", SEED, "--unfolded")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "unfolded by slpdiff grad --unfolded" in proc.stdout
    python = run_slpdiff("grad", SEED, "--unfolded", "--emit", "python")
    assert python.returncode == 0 and "def value_and_gradient(x, w):" in python.stdout
    assert "--unfolded" in invoke("grad", "--help").stdout


@pytest.mark.parametrize("seed", range(8))
def test_unfolded_text_reads_back_to_the_engines_derivatives(seed):
    """The text, with its += and -=, parses back to the same computation: bit for bit."""
    program = slpdiff.parse(random_program(25, n_outputs=2, seed=seed))
    unfolded = unfolded_adjoint_program(program)
    again = slpdiff.parse(unfolded.text())
    at = {"x": 0.7, "y": -0.4, "z": 1.9}
    with np.errstate(all="ignore"):
        ev = slpdiff.evaluate(program, at)
        got = slpdiff.evaluate(again, at, wrt=[]).values
    for out, row in unfolded.derivatives.items():
        for x, name in row.items():
            assert same_bits(got[name], ev.gradient[out][x]), (out, x)


def test_grad_unfolded_pipes_into_eval():
    proc = run_slpdiff("grad", SEED, "--unfolded")
    again = run_slpdiff("eval", "-", "--at", "x=1,w=4", "--no-derivatives", input=proc.stdout)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    ev = slpdiff.evaluate(slpdiff.parse_file(SEED), AT)
    assert lines == ["v7 = 27.906496678143885",
                     f"d_v7_d_x = {float(ev.gradient['v7']['x'])!r}",
                     f"d_v7_d_w = {float(ev.gradient['v7']['w'])!r}"]
