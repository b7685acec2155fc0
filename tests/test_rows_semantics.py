"""Each row's own derivatives (docs/rows.md, "Derivatives over rows"; ``core/rows.py``).

On rows, the derivative written on row i is d m_i / d x_i (the diagonal of the Jacobian over rows,
through every reduction), d m_i / d a for a number given once, the gradient for an output that is
one number; second derivatives and forward mode likewise. The oracle is finite differences over
the whole row vector: perturb row i of an input (or the shared number), look at row i.
"""

from __future__ import annotations

import csv
import io
import json
import random

import numpy as np
import pytest

import slpdiff
from helpers import ROOT, console_examples, invoke, run_slpdiff, same_bits
from slpdiff.check import check
from slpdiff.core import rows
from slpdiff.core.hessian import cached_adjoint
from slpdiff.core.schedule import select
from slpdiff.evaluation import evaluate_inputs
from slpdiff.hessian import hessian as api_hessian
from slpdiff.hessian import hvp as api_hvp
from slpdiff.language.primitives import PRIMITIVES, Primitive
from slpdiff.language.program import ProgramBuilder
from slpdiff.rows.points import Chunk
from slpdiff.rows.stream import VALUE_BUDGET, Asked, evaluate_chunk, evaluate_rows, rows_per_pass
from slpdiff.teach.trace import trace

DOC = (ROOT / "docs" / "rows.md").read_text()
H = 1e-6


def outputs_at(program, at) -> dict[str, np.ndarray]:
    """Every output's values on the rows of ``at`` (no derivatives)."""
    n = max(np.size(v) for v in at.values())
    values = slpdiff.evaluate(program, at, derivatives=False).values
    return {out: np.broadcast_to(v, (n,)) for out, v in values.items()}


def row_differences(program, at, name, function=outputs_at, h=H) -> dict[str, np.ndarray]:
    """Per output (of ``function``'s results): on row i, the central difference of row i's
    result when row i of column ``name`` moves (or the number ``name``, shared by every row)."""
    value = np.asarray(at[name], dtype=np.float64)
    n = max(np.size(v) for v in at.values())

    def moved(i, step):
        if value.ndim == 0:
            return function(program, {**at, name: float(value) + step})
        column = value.copy()
        column[i] += step
        return function(program, {**at, name: column})

    found: dict[str, np.ndarray] = {}
    rows_moved = [None] if value.ndim == 0 else range(n)
    for i in rows_moved:
        plus, minus = moved(i, h), moved(i, -h)
        for key in plus:
            fd = (plus[key] - minus[key]) / (2 * h)
            if i is None:
                found[key] = fd
            else:
                found.setdefault(key, np.empty(n))[i] = fd[i]
    return found


def row_gradients(program, at) -> dict[str, np.ndarray]:
    """Each row's own first derivatives, flattened to ``"out/x"`` keys, per row (the oracle of
    second derivatives: their differences)."""
    n = max(np.size(v) for v in at.values())
    gradient = evaluate_rows(program, at).gradient
    return {f"{out}/{x}": np.broadcast_to(g, (n,)) for out, row in gradient.items()
            for x, g in row.items()}


def per_row(value, n) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))


# --- the issue's examples -------------------------------------------------------------------------


def test_the_issue_example_through_the_command(tmp_path):
    program = tmp_path / "red.slp"
    program.write_text("m = x * sum(x)\n")
    proc = run_slpdiff("eval", program, "--points", "-", "--points-format", "csv",
                       input="x\n1\n2\n3\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["x,m,d m/d x", "1.0,6.0,7.0", "2.0,12.0,8.0",
                                        "3.0,18.0,9.0"]


def test_the_column_is_the_diagonal_of_the_jacobian_over_rows():
    program = slpdiff.parse("m = x * sum(x)")
    x = np.array([1.0, 2.0, 3.0])
    jacobian = np.empty((3, 3))  # row i: d m_i / d x_j, by differences of the whole row vector
    for j in range(3):
        step = np.zeros(3)
        step[j] = H
        jacobian[:, j] = (outputs_at(program, {"x": x + step})["m"]
                          - outputs_at(program, {"x": x - step})["m"]) / (2 * H)
    np.testing.assert_allclose(jacobian, [[7, 1, 1], [2, 8, 2], [3, 3, 9]], rtol=1e-8)
    got = slpdiff.evaluate(program, {"x": x}).gradient["m"]["x"]
    assert got.tolist() == [7.0, 8.0, 9.0] == np.diag(jacobian).round(6).tolist()
    # the sweep seeded with ones over the rows gives the column sums: what the column was before
    old = evaluate_inputs(program, [x], select(program)).gradient["m"]["x"]
    assert old.tolist() == [12.0, 12.0, 12.0] == jacobian.sum(axis=0).round(6).tolist()


@pytest.mark.parametrize("text, at, name, expected", [
    ("m = x - mean(x)", {"x": [1.0, 2.0, 4.0, 8.0]}, "x", lambda x, a: 1 - 1 / len(x)),
    ("m = a*x + mean(x)", {"x": [1.0, 2.0, 4.0], "a": 3.0}, "x", lambda x, a: a + 1 / len(x)),
    ("m = a*x + mean(x)", {"x": [1.0, 2.0, 4.0], "a": 3.0}, "a", lambda x, a: x),
    ("m = a*x + mean(a*x)", {"x": [1.0, 2.0, 4.0], "a": 3.0}, "a", lambda x, a: x + x.mean()),
    ("m = a*x + mean(a*x)", {"x": [1.0, 2.0, 4.0], "a": 3.0}, "x", lambda x, a: a + a / len(x)),
])
def test_the_issue_examples_by_hand_and_by_differences(text, at, name, expected):
    program = slpdiff.parse(f"input x{', a' if 'a' in at else ''}\n{text}")
    at = {k: np.array(v) if isinstance(v, list) else v for k, v in at.items()}
    x = at["x"]
    want = per_row(expected(x, at.get("a")), len(x))
    got = per_row(evaluate_rows(program, at).gradient["m"][name], len(x))
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(got, row_differences(program, at, name)["m"], rtol=1e-7)
    summed = slpdiff.evaluate(program, at).gradient["m"][name]  # the API sums a number given once
    assert np.allclose(summed, want.sum() if name == "a" else want, rtol=1e-14)


def test_the_issue_examples_through_the_command_line(tmp_path):
    (tmp_path / "p.slp").write_text("input x, a\nm = a*x + mean(a*x)\n")
    proc = run_slpdiff("eval", tmp_path / "p.slp", "--at", "x=1:4:1,a=3", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    table = list(csv.DictReader(io.StringIO(proc.stdout)))
    x = np.array([float(r["x"]) for r in table])
    assert [float(r["d m/d a"]) for r in table] == (x + x.mean()).tolist()
    assert [float(r["d m/d x"]) for r in table] == pytest.approx([3 + 3 / 4] * 4, rel=1e-15)


# --- random programs with reductions at random places -----------------------------------------

SMOOTH = ["tanh", "sin", "sigmoid", "atan", "softplus"]


def random_program(seed: int, outputs: int = 2) -> str:
    """Statements over columns x, y and a number a: smooth functions, products, sums, and sums
    and means of them at random places (often of values that use an earlier reduction)."""
    rng = random.Random(seed)
    names, lines = ["x", "y", "a"], ["input x, y, a"]
    for i in range(rng.randint(6, 14)):
        src, other = rng.choice(names[-4:] + names[:3]), rng.choice(names)
        kind = rng.random()
        if kind < 0.3:
            expr = f"{rng.choice(['sum', 'mean'])}({rng.choice(SMOOTH)}({src}) * {other})"
        elif kind < 0.55:
            expr = f"{rng.choice(SMOOTH)}({src})"
        elif kind < 0.8:
            expr = f"{src} * {other}"
        else:
            expr = f"{src} {rng.choice('+-')} {other}"
        lines.append(f"t{i} = {expr}")
        names.append(f"t{i}")
    lines.append(f"output {', '.join(rng.sample(names[3:], min(outputs, len(names) - 3)))}")
    return "\n".join(lines) + "\n"


def random_rows(seed: int, n: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    return {"x": rng.uniform(-1, 1, n), "y": rng.uniform(-1, 1, n), "a": 0.7}


def random_case(seed: int):
    """A random program, its rows, their number, and a vector over its inputs."""
    at = random_rows(seed)
    return slpdiff.parse(random_program(seed)), at, len(at["x"]), {"x": 0.5, "y": -1.25,
                                                                   "a": 2.0}


def assert_close(got, want, what, rtol=1e-6, atol=1e-7):
    assert np.allclose(got, want, rtol=rtol, atol=atol), (what, got, want)


@pytest.mark.parametrize("seed", range(30))
def test_random_programs_first_derivatives_match_differences_over_the_row_vector(seed):
    program = slpdiff.parse(random_program(seed))
    at = random_rows(seed)
    n = len(at["x"])
    reverse = evaluate_rows(program, at)
    summed = slpdiff.evaluate(program, at)
    forward = rows.evaluate_forward(program, at, shared="row")
    forward_summed = slpdiff.evaluate_forward(program, at)
    one_number = {out: np.ndim(v) == 0 for out, v in reverse.values.items()}
    for name in program.input_names:
        fd = row_differences(program, at, name)
        for out in program.output_names:
            want = fd[out]
            got = per_row(reverse.gradient[out][name], n)
            assert_close(got, want, (out, name, "reverse"))
            assert_close(per_row(forward.gradient[out][name], n), got, (out, name, "forward"),
                         rtol=1e-12, atol=1e-13)
            if name == "a" and not one_number[out]:  # the API's sum over the rows
                assert_close(summed.gradient[out][name], want.sum(), (out, "sum"))
            else:
                assert_close(per_row(summed.gradient[out][name], n), want, (out, name))
            assert np.shape(forward_summed.gradient[out][name]) == \
                np.shape(summed.gradient[out][name])
            assert_close(forward_summed.gradient[out][name], summed.gradient[out][name],
                         (out, name, "forward, summed"), rtol=1e-12, atol=1e-13)


def test_the_random_programs_catch_the_old_meaning():
    # The oracle above can fail: on the same programs, the sweep seeded with ones over the rows
    # (the gradient of the rows' total) disagrees with the differences somewhere.
    wrong = 0
    for seed in range(30):
        program = slpdiff.parse(random_program(seed))
        at = random_rows(seed)
        old = evaluate_inputs(program, [np.asarray(at[k], dtype=float) for k in
                                        program.input_names], select(program))
        fd = row_differences(program, at, "x")
        wrong += sum(not np.allclose(per_row(old.gradient[out]["x"], 4), fd[out], rtol=1e-6,
                                     atol=1e-7) for out in program.output_names)
    assert wrong >= 5


@pytest.mark.parametrize("seed", range(12))
def test_random_programs_second_derivatives_match_differences_of_the_row_gradients(seed):
    program, at, n, vector = random_case(seed)
    hessian = rows.hessian(program, at, shared="row")
    hvp = rows.hvp(program, at, vector, shared="row")
    for w in program.input_names:
        fd = row_differences(program, at, w, row_gradients, h=1e-5)
        for out in program.output_names:
            for x in program.input_names:
                assert_close(per_row(hessian[out][x][w], n), fd[f"{out}/{x}"], (out, x, w),
                             rtol=1e-5, atol=1e-6)
    for out in program.output_names:
        for x in program.input_names:
            want = sum(per_row(hessian[out][x][w], n) * v for w, v in vector.items())
            assert_close(per_row(hvp[out][x], n), want, (out, x), rtol=1e-12, atol=1e-12)
    direction = {"x": 0.25, "a": -1.0}
    along = rows.jvp(program, at, direction)[1]
    first = evaluate_rows(program, at).gradient
    for out in program.output_names:
        want = sum(per_row(first[out][x], n) * v for x, v in direction.items())
        assert_close(per_row(along[out], n), want, out, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_second_derivatives_in_a_number_given_once_summed_as_the_api_does(seed):
    program, at, n, vector = random_case(seed)
    per_row_h = rows.hessian(program, at, shared="row")
    summed_h = api_hessian(program, at)
    per_row_hv = rows.hvp(program, at, vector, shared="row")
    summed_hv = api_hvp(program, at, vector)
    gradient_a = slpdiff.evaluate(program, at).gradient

    def moved(step):  # every row moves along the vector, and the number a
        return slpdiff.evaluate(program, {k: at[k] + step * v for k, v in vector.items()}
                                ).gradient

    plus, minus = moved(1e-5), moved(-1e-5)
    for out in program.output_names:
        one_number = np.ndim(gradient_a[out]["a"]) == 0 and np.ndim(
            slpdiff.evaluate(program, at, derivatives=False).values[out]) == 0
        for x in program.input_names:
            assert_close(per_row(summed_h[out][x]["x"], n), per_row_h[out][x]["x"], (out, x),
                         rtol=1e-15, atol=0)
        if one_number:  # the derivative of d out/d a (one number) as every row moves
            want = (plus[out]["a"] - minus[out]["a"]) / 2e-5
            assert_close(summed_hv[out]["a"], want, (out, "hvp"), rtol=1e-5, atol=1e-6)
            assert_close(summed_h[out]["a"]["a"], per_row_h[out]["a"]["a"], out, rtol=1e-15,
                         atol=0)
        else:
            assert_close(summed_hv[out]["a"], np.sum(per_row(per_row_hv[out]["a"], n)), out,
                         rtol=1e-14, atol=1e-14)
            assert_close(summed_h[out]["a"]["a"], np.sum(per_row(per_row_h[out]["a"]["a"], n)),
                         out, rtol=1e-14, atol=1e-14)
        assert_close(per_row(summed_hv[out]["x"], n), per_row_hv[out]["x"], out, rtol=1e-15,
                     atol=0)


# --- nested reductions, several outputs, a number given once -------------------------------------


def test_nested_reductions_by_hand():
    # m_i = x_i * (sum of x)^2: d/dx_i = S^2 + 2 x_i S, d2/dx_i^2 = 4 S + 2 x_i
    program = slpdiff.parse("m = x * sum(x * sum(x))")
    x = np.array([0.5, -1.0, 2.0, 3.5])
    s = x.sum()
    assert_close(slpdiff.evaluate(program, {"x": x}).gradient["m"]["x"], s * s + 2 * x * s, "d",
                 rtol=1e-14, atol=0)
    assert_close(rows.hessian(program, {"x": x})["m"]["x"]["x"], 4 * s + 2 * x, "d2",
                 rtol=1e-14, atol=0)


def test_several_outputs_one_per_row_and_one_number():
    program = slpdiff.parse("input x, a\nc = mean(a * x)\nm = x * c\ns = c * c\noutput m, s")
    x, a = np.array([1.0, 2.0, 6.0]), 0.5
    ev = evaluate_rows(program, {"x": x, "a": a})
    c = a * x.mean()
    assert_close(ev.gradient["m"]["x"], c + x * a / 3, "m/x", rtol=1e-15, atol=0)
    assert_close(ev.gradient["m"]["a"], x * x.mean(), "m/a", rtol=1e-15, atol=0)
    assert_close(ev.gradient["s"]["x"], np.full(3, 2 * c * a / 3), "s/x (gradient)", rtol=1e-15,
                 atol=0)
    assert np.ndim(ev.gradient["s"]["a"]) == 0 and ev.gradient["s"]["a"] == pytest.approx(
        2 * c * x.mean(), rel=1e-15)  # one number: d s / d a, not a share per row


def test_a_number_given_once_counts_once_in_a_reduction(tmp_path):
    (tmp_path / "p.slp").write_text("y = x + sum(a)\ns = mean(a * x)\noutput y, s\n")
    proc = run_slpdiff("eval", tmp_path / "p.slp", "--points", "-", "--points-format", "csv",
                       "--at", "a=2", input="x\n1\n2\n3\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "x,a,y,s,d y/d x,d y/d a,d s/d x,d s/d a",
        "1.0,2.0,3.0,4.0,1.0,1.0,0.6666666666666666,2.0",
        "2.0,2.0,4.0,4.0,1.0,1.0,0.6666666666666666,2.0",
        "3.0,2.0,5.0,4.0,1.0,1.0,0.6666666666666666,2.0"]


# --- programs without a reduction: exactly today's path ------------------------------------------


def test_a_program_without_reductions_takes_the_ordinary_path_bit_for_bit(monkeypatch):
    def not_here(*args, **kwargs):
        raise AssertionError("core.rows ran for a program whose rows are independent")

    program = slpdiff.parse("input x, w, a\nu = tanh(a * x + w)\ny = u * sin(w) + a ^ 2\n")
    rng = np.random.default_rng(0)
    at = {"x": rng.uniform(-1, 1, 1000), "w": rng.uniform(-1, 1, 1000), "a": 0.3}
    inputs = [np.asarray(at[k], dtype=float) for k in program.input_names]
    plain = evaluate_inputs(program, inputs, select(program))
    for name in ("row_gradient", "row_forward", "_hessian_rows", "_tangents"):
        monkeypatch.setattr(rows, name, not_here)
    ev = slpdiff.evaluate(program, at)
    for x in program.input_names:
        assert same_bits(ev.gradient["y"][x], plain.gradient["y"][x])
    chunk = Chunk({"x": at["x"], "w": at["w"]}, 1000)
    streamed = evaluate_chunk(program, chunk, {"a": 0.3}, None, Asked("forward", {"x": 1.0},
                                                                         True, {"w": 1.0}))
    ordinary = slpdiff.evaluate(program, {**at, "a": np.full(1000, 0.3)})
    reverse_chunk = evaluate_chunk(program, chunk, {"a": 0.3})
    for x in program.input_names:
        assert same_bits(reverse_chunk.gradient["y"][x], ordinary.gradient["y"][x])
        assert np.allclose(streamed.gradient["y"][x], ordinary.gradient["y"][x], rtol=1e-13)
    assert program.facts(rows.ROW_PROGRAMS) == {}


def test_rows_that_do_not_meet_through_a_reduction_take_the_ordinary_path_too():
    # the reduction does not depend on the input differentiated: rows stay independent for it
    program = slpdiff.parse("input x, c\ny = x * x * sum(c)\n")
    at = {"x": np.array([1.0, 2.0, 3.0]), "c": np.array([0.5, 0.25, 2.0])}
    ev = slpdiff.evaluate(program, at, wrt=["x"])
    assert ev.gradient["y"]["x"].tolist() == (2 * at["x"] * 2.75).tolist()
    assert program.facts(rows.ROW_PROGRAMS) == {}


# --- second derivatives and forward mode through the command ------------------------------------


def test_hessian_direction_and_hvp_columns_over_points(tmp_path):
    (tmp_path / "p.slp").write_text("input x, w\nm = w * x * sum(x * w)\n")
    proc = run_slpdiff("eval", tmp_path / "p.slp", "--points", "-", "--points-format", "csv",
                       "--hessian", "--direction", "x=1", "--hvp", "w=2",
                       input="x,w\n1,2\n2,-1\n3,0.5\n")
    assert proc.returncode == 0, proc.stderr
    table = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert list(table[0]) == ["x", "w", "m", "d m/d x", "d m/d w", "d m/d direction",
                              "d2 m/d x d x", "d2 m/d x d w", "d2 m/d w d x", "d2 m/d w d w",
                              "(H m v)[x]", "(H m v)[w]"]
    x, w = np.array([1.0, 2.0, 3.0]), np.array([2.0, -1.0, 0.5])
    s = (x * w).sum()
    # m_i = w_i x_i S, S = sum of x_j w_j: d/dx_i = w_i S + w_i^2 x_i, d2/dx_i^2 = 2 w_i^2,
    # d2/dx_i dw_i = S + 3 x_i w_i, d2/dw_i^2 = 2 x_i^2
    column = {k: np.array([float(r[k]) for r in table]) for k in table[0]}
    assert_close(column["d m/d x"], w * s + w * x * w, "dx", rtol=1e-15, atol=0)
    assert_close(column["d m/d direction"], column["d m/d x"], "direction", rtol=1e-15, atol=0)
    assert_close(column["d2 m/d x d x"], 2 * w * w, "xx", rtol=1e-14, atol=0)
    assert_close(column["d2 m/d x d w"], s + 3 * x * w, "xw", rtol=1e-14, atol=1e-14)
    assert_close(column["d2 m/d w d w"], 2 * x * x, "ww", rtol=1e-14, atol=0)
    assert_close(column["(H m v)[x]"], 2 * column["d2 m/d x d w"], "hvp", rtol=1e-15, atol=0)


def test_json_lines_records_have_the_single_point_keys(tmp_path):
    (tmp_path / "p.slp").write_text("input x, w\nm = sin(w * x) + x * w\n")
    args = ["eval", tmp_path / "p.slp", "--hessian", "--direction", "x=1", "--hvp", "w=2"]
    point = json.loads(invoke(*args, "--at", "x=0.5,w=2", "--format", "json").stdout)
    proc = run_slpdiff(*args, "--at", "x=0.5:1:0.5,w=2", "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    first, second = map(json.loads, proc.stdout.splitlines())
    assert list(first) == list(point) == ["at", "value", "gradient", "direction", "directional",
                                          "hessian", "hvp_direction", "hvp"]
    assert flat(first) == pytest.approx(flat(point), rel=1e-15)  # a row is a point
    assert list(flat(first)) == list(flat(point))
    assert second["at"] == {"x": 1.0, "w": 2.0}


def flat(obj, prefix="") -> dict:
    """Nested JSON objects as one dict by key paths (``hessian/m/x/w``)."""
    if not isinstance(obj, dict):
        return {prefix: obj}
    return {k: v for key, value in obj.items() for k, v in flat(value, f"{prefix}/{key}").items()}


def test_forward_mode_over_rows_equals_reverse_mode_to_rounding(tmp_path):
    (tmp_path / "p.slp").write_text("input x, a\nc = mean(tanh(a * x))\nm = x * c - a\n")
    common = ["eval", tmp_path / "p.slp", "--at", "x=-1:1:0.25,a=0.5", "--format", "csv"]
    reverse = list(csv.reader(io.StringIO(invoke(*common).stdout)))
    forward = list(csv.reader(io.StringIO(invoke(*common, "--mode", "forward").stdout)))
    assert reverse[0] == forward[0] and len(reverse) == 10
    np.testing.assert_allclose(np.array(forward[1:], dtype=float),
                               np.array(reverse[1:], dtype=float), rtol=1e-14, atol=1e-15)


def test_second_order_without_reductions_is_one_pass_per_chunk(tmp_path):
    (tmp_path / "p.slp").write_text("input x, w\nm = exp(w * x) * x\n")
    common = ["eval", tmp_path / "p.slp", "--at", "x=0:1:0.125,w=0.5", "--hessian",
              "--hvp", "x=1,w=-1", "--mode", "forward"]
    whole = invoke(*common).stdout
    assert invoke(*common, "--chunk-rows", "2").stdout == whole
    big = slpdiff.parse("input x, w\nv0 = x * w\n" + "".join(
        f"v{i} = sin(v{i - 1}) * w\n" for i in range(1, 2000)))
    rows_first, rows_second = rows_per_pass(big), rows_per_pass(big, Asked(hessian=True))
    adjoint = cached_adjoint(big).program
    assert rows_second < rows_first and rows_second * len(adjoint) * 3 <= VALUE_BUDGET


def test_vectors_with_names_outside_are_refused_before_any_output(tmp_path):
    (tmp_path / "p.slp").write_text("input x, w\nm = w * sum(x)\n")
    common = ["eval", tmp_path / "p.slp", "--at", "x=0:1:0.5,w=2"]
    result = invoke(*common, "--hvp", "x=1", "--wrt", "w")
    assert result.exit_code == 2 and result.stdout == ""
    assert "'x' is not among the inputs differentiated" in result.stderr
    result = invoke(*common, "--direction", "q=1")
    assert result.exit_code == 2 and "'q' is not an input" in result.stderr


def test_non_finite_second_derivatives_are_reported_and_strict_stops(tmp_path):
    (tmp_path / "p.slp").write_text("m = log(x) * sum(x)\n")
    common = ["eval", tmp_path / "p.slp", "--points", "-", "--points-format", "csv",
              "--hessian"]
    proc = run_slpdiff(*common, input="x\n1\n-2\n3\n")
    assert proc.returncode == 0
    assert "non-finite values in the hessian results at 1 point; first at <stdin>:3" in \
        proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4 and lines[1] == "1.0,0.0,2.0,0.0"  # row 1 keeps its own numbers
    strict = run_slpdiff(*common, "--strict", input="x\n1\n-2\n3\n")
    assert strict.returncode == 1 and strict.stdout.splitlines() == lines[:2]


# --- what stays undefined, and the other places rows are taken --------------------------------


def test_a_reduction_that_is_not_linear_has_no_second_derivatives_over_rows():
    # Every reduction of the table is linear in its argument; one that is not (a sum of squares,
    # made up here) would need its own curvature: refused, not guessed.
    squares = Primitive("sumsq", ("a",), lambda a: np.sum(np.square(a)), ("2 * a",),
                        "the sum of squares", reduces=True)
    tape = ProgramBuilder()
    x = tape.leaf("x")
    program = tape.build([x], [tape.apply(PRIMITIVES["multiply"], [x, tape.apply(squares, [x])])])
    with pytest.raises(slpdiff.InputError, match="not linear in its argument"):
        rows.hessian(program, {"x": np.array([1.0, 2.0])})
    table = slpdiff.parse("y = sum(x) + mean(x) + count(x) + maxrows(x) + minrows(x)")
    assert all(rows._linear(table, i) for i, op in enumerate(table.ops) if op and op.reduces)


def test_trace_refuses_rows_that_meet_and_check_differences_points_apart():
    program = slpdiff.parse("y = x * sum(x)")
    with pytest.raises(slpdiff.InputError, match="meet through a reduction"):
        trace(program, {"x": np.array([1.0, 2.0])})
    assert trace(program, {"x": 2.0}).evaluation.gradient["y"]["x"] == 4.0
    report = check(slpdiff.parse("y = x * sum(x) + mean(x)^3"), {"x": 1.5}, hessian=True)
    assert report.ok and [e.status for e in report.entries] == ["ok", "ok"]


# --- the documentation page (its commands run in test_docs.py) ------------------------------------


def test_the_page_explains_the_three_row_example_and_the_cost():
    section = DOC.split("## Derivatives over rows")[1].split("\n## ")[0]
    assert "[[7, 1, 1], [2, 8, 2], [3, 3, 9]]" in section
    assert "rows × program size × (outputs + reductions)" in section
    shown = console_examples(section)
    assert ("slpdiff eval examples/row_sum.slp --at x=1:3:1",
            ["x,m,d m/d x", "1.0,6.0,7.0", "2.0,12.0,8.0", "3.0,18.0,9.0"]) in shown
