"""Big and hostile inputs: each works, or fails at once with an error naming the limit (exit 2),
never with a RecursionError or MemoryError traceback. The default suite runs 20,000-deep and
20,000-wide versions of every case; the 100,000 versions are marked slow."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import slpdiff
from helpers import run_slpdiff
from slpdiff import limits
from slpdiff.core.emit_python import to_python
from slpdiff.core.hessian import hessian
from slpdiff.errors import InputError, ProgramError
from slpdiff.evaluation import ALL_ROWS, POINT_CODE, SLICE_CODE, force_compile

DEPTH = 20_000


def nested(shape: str, n: int) -> tuple[str, float, float]:
    """A program nesting ``shape`` n deep, with its value and derivative at x = 0.5."""
    if shape == "parens":
        return "y = " + "(" * n + "x" + ")" * n, 0.5, 1.0
    if shape == "negative":
        sign = -1.0 if n % 2 else 1.0
        return "y = " + "-(" * n + "x" + ")" * n, 0.5 * sign, sign
    if shape == "minus signs":
        sign = -1.0 if n % 2 else 1.0
        return "y = " + "-" * n + "x", 0.5 * sign, sign
    if shape == "sin":
        value, derivative = 0.5, 1.0
        for _ in range(n):
            derivative *= math.cos(value)
            value = math.sin(value)
        return "y = " + "sin(" * n + "x" + ")" * n, value, derivative
    if shape == "sums":
        return "y = " + "x+(" * n + "x" + ")" * n, 0.5 * (n + 1), float(n + 1)
    raise ValueError(shape)


SHAPES = ["parens", "negative", "minus signs", "sin", "sums"]


def close(a, b) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)


@pytest.mark.parametrize("shape", SHAPES)
def test_deep_nesting_through_every_walk(shape):
    text, value, derivative = nested(shape, DEPTH)
    program = slpdiff.parse(text)
    ev = slpdiff.evaluate(program, {"x": 0.5})
    assert close(float(ev.values["y"]), value) and close(float(ev.gradient["y"]["x"]), derivative)
    fwd = slpdiff.evaluate_forward(program, {"x": 0.5})
    assert close(float(fwd.gradient["y"]["x"]), derivative)
    # the fast paths (compiled after a few evaluations; arrays) give the same numbers
    force_compile(program)
    for _ in range(2):
        fast = slpdiff.evaluate(program, {"x": 0.5})
    assert fast.gradient["y"]["x"] == ev.gradient["y"]["x"]
    rows = slpdiff.evaluate(program, {"x": np.full(3, 0.5)})
    assert list(rows.gradient["y"]["x"]) == [ev.gradient["y"]["x"]] * 3
    # the compiled code ran: one line per node (slices, or all rows at once for huge programs)
    assert program.facts(POINT_CODE)
    assert program.facts(SLICE_CODE) or program.facts(ALL_ROWS)
    # printer (fewest parentheses), adjoint program, Python module: all parse/compile back
    again = slpdiff.parse(slpdiff.to_slp(program))
    assert again.args == program.args  # the same graph: no parenthesis lost or added
    assert again.ops == program.ops
    adj = slpdiff.adjoint_program(program)
    module = to_python(adj)
    assert max(len(line) for line in module.splitlines()) < 2000  # split into temporaries
    space: dict = {}
    exec(compile(module, "adjoint.py", "exec"), space)  # CPython's parser copes
    values, gradient = space["value_and_gradient"](0.5)
    assert gradient["y"]["x"] == ev.gradient["y"]["x"]


@pytest.mark.parametrize("shape", ["negative", "sin"])
def test_deep_nesting_hessian_trace_graph_explain(shape):
    from slpdiff.teach.dot import to_dot
    from slpdiff.teach.explain import explain
    from slpdiff.teach.trace import trace

    text, value, derivative = nested(shape, DEPTH)
    program = slpdiff.parse(text)
    h = hessian(program, {"x": 0.5})["y"]["x"]["x"]
    assert math.isfinite(float(h))
    result = trace(program, {"x": 0.5})
    assert close(float(result.evaluation.gradient["y"]["x"]), derivative)
    assert to_dot(program).count("->") >= DEPTH
    assert close(float(explain(program, {"x": 0.5}, "y", "x").total), derivative)


@pytest.mark.parametrize("command", [["eval"], ["eval", "--hessian"], ["check"], ["trace"],
                                     ["grad"], ["grad", "--emit", "python"], ["graph"],
                                     ["explain"]])
def test_deep_nesting_through_the_command_line(tmp_path, command):
    text, value, derivative = nested("sin", DEPTH)
    path = tmp_path / "deep.slp"
    path.write_text(text + "\n")
    at = [] if command[0] in ("grad", "graph") else ["--at", "x=0.5"]
    proc = run_slpdiff(command[0], path, *at, *command[1:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr
    if command == ["eval"]:
        assert proc.stdout.splitlines()[1] == f"d y/d x = {derivative!r}" or \
            close(float(proc.stdout.splitlines()[1].split(" = ")[1]), derivative)


def test_grad_then_eval_of_a_deep_program():
    text, value, derivative = nested("negative", DEPTH)
    grad = run_slpdiff("grad", "-", input=text)
    assert grad.returncode == 0
    proc = run_slpdiff("eval", "-", "--at", "x=0.5", input=grad.stdout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"d_y_d_x = {derivative!r}" in proc.stdout


# --- limits on the text ---------------------------------------------------------------------


def test_a_line_beyond_the_limit_fails_at_once():
    text = "y = " + "+".join(["x"] * (limits.MAX_LINE_CHARS // 2 + 10)) + "\n"
    proc = run_slpdiff("eval", "-", "--at", "x=1", input="input x\n" + text)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"slpdiff: error: <stdin>:2: line 2 has {len(text) - 1:,} "
                                  "characters, more than the limit of 1,000,000 "
                                  "(slpdiff.limits.MAX_LINE_CHARS)")
    assert len(proc.stderr) < 500  # the line itself is not quoted


def test_a_huge_number_literal_fails_at_once():
    proc = run_slpdiff("eval", "-", "--at", "x=1", input="y = x * " + "9" * 2_000_000 + "\n")
    assert proc.returncode == 2 and "MAX_LINE_CHARS" in proc.stderr


def test_a_long_line_within_the_limit_works():
    terms = 100_000
    proc = run_slpdiff("eval", "-", "--at", "x=1", input="y = " + "+".join(["x"] * terms))
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert proc.stdout == f"y = {float(terms)!r}\nd y/d x = {float(terms)!r}\n"


def test_a_long_number_literal_within_the_limit_is_a_float():
    program = slpdiff.parse("y = x * " + "1" + "0" * 400_000 + "\nz = x * 0." + "0" * 400_000
                            + "1\noutput y, z")
    ev = slpdiff.evaluate(program, {"x": 1.0})
    assert ev.values == {"y": math.inf, "z": 0.0}


def test_too_many_statements_fail_at_once():
    text = "y = x\n" + "\n" * limits.MAX_STATEMENTS
    with pytest.raises(ProgramError) as e:
        slpdiff.parse(text, name="many.slp")
    assert str(e.value).startswith(f"many.slp: the program has about "
                                   f"{limits.MAX_STATEMENTS + 2:,} statements")
    assert "slpdiff.limits.MAX_STATEMENTS" in str(e.value)


def test_too_many_operations_fail_at_once():
    line = "+".join(["x"] * 450_000)
    lines = limits.MAX_OPERATIONS // 449_999 + 1
    text = "".join(f"y{i} = {line}\n" for i in range(lines))
    proc = run_slpdiff("grad", "-", input=text)
    assert proc.returncode == 2
    assert f"the program has about {lines * 449_999:,} operations" in proc.stderr
    assert "slpdiff.limits.MAX_OPERATIONS" in proc.stderr


def test_operators_in_comments_do_not_count():
    comment = "# " + "+" * 900_000 + "\n"
    program = slpdiff.parse(comment * 5 + "y = x + 1")
    assert len(program) == 3


def test_too_long_a_program_fails_at_once():
    text = ("#" * 999_999 + "\n") * (limits.MAX_PROGRAM_CHARS // 1_000_000 + 1)
    with pytest.raises(ProgramError) as e:
        slpdiff.parse(text, name="long.slp")
    assert "slpdiff.limits.MAX_PROGRAM_CHARS" in str(e.value)


# --- many inputs ----------------------------------------------------------------------------

WIDE = 20_000


def wide_program(n: int) -> str:
    names = [f"x{i}" for i in range(n)]
    return f"input {', '.join(names)}\ny = {' + '.join(names)}\n"


def test_many_inputs_through_the_command_line(tmp_path):
    point = tmp_path / "at.json"
    point.write_text(json.dumps({f"x{i}": i for i in range(WIDE)}))
    proc = run_slpdiff("eval", "-", "--at", f"@{point}", "--format", "json",
                       input=wide_program(WIDE))
    assert proc.returncode == 0, proc.stderr[-1000:]
    result = json.loads(proc.stdout)
    assert result["value"]["y"] == WIDE * (WIDE - 1) / 2
    assert len(result["gradient"]["y"]) == WIDE and set(result["gradient"]["y"].values()) == {1.0}


def test_many_at_pairs(tmp_path):
    half = WIDE // 2
    first = ",".join(f"x{i}=1" for i in range(half))
    second = ",".join(f"x{i}=2" for i in range(half, WIDE))
    proc = run_slpdiff("eval", "-", "--at", first, "--at", second, input=wide_program(WIDE))
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert proc.stdout.startswith(f"y = {float(half + 2 * half)!r}\n")


def test_many_inputs_grad_python_and_points(tmp_path):
    program = slpdiff.parse(wide_program(WIDE))
    module = to_python(slpdiff.adjoint_program(program))
    space: dict = {}
    exec(compile(module, "wide.py", "exec"), space)
    values, gradient = space["value_and_gradient"](*range(WIDE))
    assert values["y"] == WIDE * (WIDE - 1) / 2 and gradient["y"]["x7"] == 1.0
    points = tmp_path / "p.csv"
    points.write_text(",".join(f"x{i}" for i in range(WIDE)) + "\n"
                      + ",".join("1" for _ in range(WIDE)) + "\n")
    proc = run_slpdiff("eval", "-", "--points", points, input=wide_program(WIDE))
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert proc.stdout.splitlines()[1].split(",")[WIDE] == f"{float(WIDE)!r}"


def ones(tmp_path, n: int) -> str:
    """``--at @FILE`` for n inputs of 1 (one --at argument cannot hold them: 128 KB at most)."""
    point = tmp_path / "ones.json"
    point.write_text(json.dumps(dict.fromkeys((f"x{i}" for i in range(n)), 1)))
    return f"@{point}"


def test_forward_mode_with_too_many_inputs_fails_at_once(tmp_path):
    proc = run_slpdiff("eval", "-", "--at", ones(tmp_path, WIDE), "--mode", "forward",
                       input=wide_program(WIDE))
    assert proc.returncode == 2
    assert proc.stderr.startswith("slpdiff: error: forward mode carries one tangent per input: "
                                  f"{WIDE:,} columns through ")
    assert "slpdiff.limits.MAX_SWEEP_NUMBERS" in proc.stderr
    # with a choice of inputs it works
    ok = run_slpdiff("eval", "-", "--at", ones(tmp_path, WIDE), "--mode", "forward",
                     "--wrt", "x3,x4", input=wide_program(WIDE))
    assert ok.returncode == 0 and "d y/d x4 = 1.0" in ok.stdout


def test_check_with_too_many_inputs_fails_at_once(tmp_path):
    proc = run_slpdiff("check", "-", "--at", ones(tmp_path, WIDE), input=wide_program(WIDE))
    assert proc.returncode == 2 and "finite differences evaluate 6 points" \
        in proc.stderr and "MAX_SWEEP_NUMBERS" in proc.stderr


def test_a_hessian_too_large_fails_at_once():
    n = 4000
    proc = run_slpdiff("eval", "-", "--at", ",".join(f"x{i}=1" for i in range(n)), "--hessian",
                       input=wide_program(n))
    assert proc.returncode == 2
    assert proc.stderr.startswith("slpdiff: error: the Hessian would have 16,000,000 entries "
                                  "(1 output(s), 4,000 inputs), more than the limit of "
                                  "10,000,000 (slpdiff.limits.MAX_HESSIAN_ENTRIES)")
    with pytest.raises(InputError):
        hessian(slpdiff.parse(wide_program(n)), {f"x{i}": 1.0 for i in range(n)})


def test_many_ignored_columns_are_not_all_named(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text(",".join(f"c{i}" for i in range(1000)) + ",x\n" + "1," * 1000 + "2\n")
    proc = run_slpdiff("eval", "-", "--points", points, input="y = x * x\n")
    assert proc.returncode == 0 and proc.stdout.splitlines()[1] == "2.0,4.0,4.0"
    assert "c0, c1," in proc.stderr and "c19 and 980 more (carry" in proc.stderr


def test_a_huge_field_in_points_is_read(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n" + "1" * 2_000_000 + "\n0.5\n")
    proc = run_slpdiff("eval", "-", "--points", points, input="y = x * 2\n")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[1:] == ["inf,inf,2.0", "0.5,1.0,2.0"]


def test_huge_numbers_are_inf():
    ev = slpdiff.evaluate(slpdiff.parse("a = x * 1e999999\nb = x * 9^9^9^9^9\n"
                                        "c = x * 1e-999999\noutput a, b, c"), {"x": 1.0})
    assert ev.values == {"a": math.inf, "b": math.inf, "c": 0.0}
    assert ev.gradient["a"]["x"] == math.inf and ev.gradient["c"]["x"] == 0.0


def test_a_huge_grid_needs_force():
    proc = run_slpdiff("eval", "-", "--at", "x=0:1:1e-300", input="y = x\n")
    assert proc.returncode == 2 and "--force" in proc.stderr and "Traceback" not in proc.stderr


# --- the 100,000 versions -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_nesting_100000_deep_through_the_command_line(tmp_path, shape):
    text, value, derivative = nested(shape, 100_000)
    path = tmp_path / "deep.slp"
    path.write_text(text + "\n")
    for command in (["eval", path, "--at", "x=0.5"], ["eval", path, "--at", "x=0.5", "--hessian"],
                    ["grad", path, "--emit", "python"]):
        proc = run_slpdiff(*command)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    space: dict = {}
    exec(compile(proc.stdout, "deep.py", "exec"), space)  # the module of grad --emit python
    assert close(float(space["value_and_gradient"](0.5)[1]["y"]["x"]), derivative)


@pytest.mark.slow
def test_100000_inputs(tmp_path):
    n = 100_000
    point = tmp_path / "at.json"
    point.write_text(json.dumps({f"x{i}": 1 for i in range(n)}))
    proc = run_slpdiff("eval", "-", "--at", f"@{point}", input=wide_program(n))
    assert proc.returncode == 0 and proc.stdout.startswith(f"y = {float(n)!r}\n")
    chunks = [",".join(f"x{i}=1" for i in range(c, c + 10_000)) for c in range(0, n, 10_000)]
    proc = run_slpdiff("eval", "-", *[a for c in chunks for a in ("--at", c)],
                       input=wide_program(n))
    assert proc.returncode == 0 and proc.stdout.startswith(f"y = {float(n)!r}\n")


@pytest.mark.slow
def test_a_10_mb_line_fails_at_once():
    proc = run_slpdiff("eval", "-", "--at", "x=1", input="y = " + "+".join(["x"] * 5_000_000))
    assert proc.returncode == 2 and "MAX_LINE_CHARS" in proc.stderr


def test_too_many_reverse_sweeps_fail_at_once(tmp_path):
    names = [f"x{i}" for i in range(WIDE)]
    text = (f"input {', '.join(names)}\n" + "".join(f"y{i} = x{i} * 2\n" for i in range(WIDE))
            + f"output {', '.join(f'y{i}' for i in range(WIDE))}\n")
    proc = run_slpdiff("eval", "-", "--at", ones(tmp_path, WIDE), input=text)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"slpdiff: error: reverse mode makes one sweep per output: "
                                  f"{WIDE:,} outputs over {3 * WIDE:,} nodes")
    assert "slpdiff.limits.MAX_REVERSE_WORK" in proc.stderr
