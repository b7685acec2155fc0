"""The command line, through Click's CliRunner and through the installed command in a subprocess."""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

import slpdiff
from helpers import EXAMPLES, invoke, run_slpdiff

SEED = str(EXAMPLES / "seed.slp")
SEED_TEXT = ["v7 = 27.906496678143885", "d v7/d x = 51.31809456918384",
             "d v7/d w = 13.402273659200267"]
SEED_JSON = {"at": {"x": 1.0, "w": 4.0}, "value": {"v7": 27.906496678143885},
             "gradient": {"v7": {"x": 51.31809456918384, "w": 13.402273659200267}}}


# --- eval ---------------------------------------------------------------------------------------

def test_eval_text_in_process_and_installed():
    result = invoke("eval", SEED, "--at", "x=1,w=4")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == SEED_TEXT
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4")
    assert proc.returncode == 0 and proc.stdout.splitlines() == SEED_TEXT and proc.stderr == ""


def test_eval_json_is_exactly_the_documented_object():
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4", "--format", "json")
    assert proc.returncode == 0
    assert proc.stdout.count("\n") == 1
    assert json.loads(proc.stdout) == SEED_JSON
    assert proc.stdout.strip() == json.dumps(SEED_JSON)  # same key order, same spelling


def test_json_keys_follow_the_program_order_not_the_command_line():
    result = invoke("eval", SEED, "--at", "w=4", "--at", "x=1", "--wrt", "w,x", "--format", "json")
    obj = json.loads(result.stdout)
    assert list(obj["at"]) == ["x", "w"]
    assert list(obj["gradient"]["v7"]) == ["x", "w"]
    program = "input b, a\noutput q, p\np = a * b\nq = a + b"
    obj = json.loads(invoke("eval", "-", "--at", "a=1,b=2", "--format", "json",
                            input=program).stdout)
    assert list(obj["at"]) == ["b", "a"] and list(obj["value"]) == ["q", "p"]
    assert list(obj["gradient"]) == ["q", "p"] and list(obj["gradient"]["p"]) == ["b", "a"]


def test_wrt_restricts_the_derivatives():
    result = invoke("eval", SEED, "--at", "x=1,w=4", "--wrt", "w")
    assert result.stdout.splitlines() == [SEED_TEXT[0], SEED_TEXT[2]]


def test_jacobian_of_several_outputs_in_text():
    program = "input x, y\nu = x * y\nv = x - y\noutput u, v"
    result = invoke("eval", "-", "--at", "x=2,y=3", input=program)
    # the values, then the Jacobian as a labelled matrix (row: output, column: input)
    assert result.stdout.splitlines() == ["u = 6.0", "v = -1.0", "Jacobian, d row/d column:",
                                          "   x    y", "u  3.0  2.0", "v  1.0  -1.0"]


def test_program_from_stdin_and_without_inputs():
    proc = run_slpdiff("eval", "-", input="y = 2^10 # no inputs, so no --at\n")
    assert proc.returncode == 0 and proc.stdout == "y = 1024.0\n"


def test_at_accepts_named_values_and_json_writes_nonfinite_as_strings():
    result = invoke("eval", "-", "--at", "a=pi,b=e,c=-inf,d=nan", "--format", "json",
                    input="input a, b, c, d\ny = a + b + c + d\nz = a * b\noutput z, y")
    obj = json.loads(result.stdout)
    assert obj["at"] == {"a": math.pi, "b": math.e, "c": "-inf", "d": "nan"}
    assert obj["value"] == {"z": math.pi * math.e, "y": "nan"}
    assert "non-finite value" in result.stderr


def test_every_printed_float_reads_back_to_the_same_float64():
    program = slpdiff.parse("input x, w\ny = exp(x) * sin(w) / 3\nz = y ^ 2")
    rng = random.Random(7)
    for _ in range(25):
        x, w = rng.uniform(-5, 5), rng.uniform(-5, 5)
        x, w = float(f"{x:.17g}"), float(f"{w:.17g}")
        expected = slpdiff.evaluate(program, {"x": x, "w": w})
        result = invoke("eval", "-", "--at", f"x={x!r},w={w!r}", "--format", "json",
                        input="input x, w\ny = exp(x) * sin(w) / 3\nz = y ^ 2")
        obj = json.loads(result.stdout)
        assert obj["at"] == {"x": x, "w": w}
        assert obj["value"]["z"] == float(expected.values["z"])
        assert obj["gradient"]["z"]["x"] == float(expected.gradient["z"]["x"])
        text = invoke("eval", "-", "--at", f"x={x!r},w={w!r}",
                      input="input x, w\ny = exp(x) * sin(w) / 3\nz = y ^ 2").stdout
        assert float(text.splitlines()[1].split(" = ")[1]) == float(expected.gradient["z"]["x"])


def test_strict_turns_the_nonfinite_warning_into_an_error():
    loose = run_slpdiff("eval", "-", "--at", "x=0", input="y = log(x)")
    assert loose.returncode == 0 and loose.stdout.splitlines()[0] == "y = -inf"
    assert "slpdiff: warning: <stdin>:1:5:" in loose.stderr
    strict = run_slpdiff("eval", "-", "--at", "x=0", "--strict", input="y = log(x)")
    assert strict.returncode == 1 and strict.stdout == ""
    assert "slpdiff: error: <stdin>:1:5:" in strict.stderr and "Traceback" not in strict.stderr


# --- optimize -----------------------------------------------------------------------------------

ROSENBROCK = str(EXAMPLES / "rosenbrock.slp")


def test_optimize_every_prints_multiples_and_the_last_step():
    result = invoke("optimize", SEED, "--at", "x=1,w=4", "--wrt", "w", "--steps", "30",
                    "--every", "7")
    steps = [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("step")]
    assert steps == ["step 0", "step 7", "step 14", "step 21", "step 28", "step 29"]


def test_optimize_json_steps_hold_every_input_and_the_final_object():
    proc = run_slpdiff("optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--wrt", "x", "--lr", "0.001",
                       "--steps", "5", "--format", "json")
    assert proc.returncode == 0
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o.get("step") for o in objects[:-1]] == [0, 1, 2, 3, 4]
    assert all(list(o["at"]) == ["x", "y"] and o["at"]["y"] == 1.0 for o in objects)
    assert all(list(o["gradient"]["f"]) == ["x"] for o in objects)
    final = objects[-1]
    assert list(final)[:2] == ["status", "steps"]
    assert final["status"] == "max_steps" and final["steps"] == 5
    # each step's point is the previous point minus lr times the gradient
    for a, b in itertools.pairwise(objects):
        assert b["at"]["x"] == a["at"]["x"] - 0.001 * a["gradient"]["f"]["x"]
    # and the final point's values are evaluated there
    again = slpdiff.evaluate(slpdiff.parse_file(ROSENBROCK), final["at"], wrt=["x"])
    assert final["value"]["f"] == float(again.values["f"])


def test_optimize_converges_on_a_quadratic():
    result = invoke("optimize", "-", "--at", "x=3,y=-2", "--lr", "0.25", "--steps", "1000",
                    "--tol", "1e-12", "--format", "json",
                    input="f = (x - 1)^2 + (y + 0.5)^2")
    assert result.exit_code == 0
    final = json.loads(result.stdout.splitlines()[-1])
    assert final["status"] == "converged"
    assert final["at"]["x"] == pytest.approx(1.0, abs=1e-12)
    assert final["at"]["y"] == pytest.approx(-0.5, abs=1e-12)
    assert final["steps"] == len(result.stdout.splitlines()) - 1
    grad = final["gradient"]["f"]
    assert math.hypot(grad["x"], grad["y"]) <= 1e-12


def test_optimize_diverges_with_exit_1_and_shows_the_last_finite_point():
    proc = run_slpdiff("optimize", "-", "--at", "x=3", "--lr", "10", "--steps", "100",
                       "--format", "json", input="f = x^4")
    assert proc.returncode == 1
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    final = objects[-1]
    assert final["status"] == "diverged"
    assert all(isinstance(v, float) and math.isfinite(v) for v in final["at"].values())
    assert isinstance(final["value"]["f"], float)
    assert final["at"] == objects[-2]["at"]  # the last printed (finite) step
    assert "diverged" in proc.stderr and "--lr" in proc.stderr and "Traceback" not in proc.stderr


def test_optimize_objective_chooses_among_several_outputs():
    program = "input x\nf = (x - 2)^2\ng = x^3\noutput f, g"
    result = invoke("optimize", "-", "--at", "x=0", "--objective", "f", "--steps", "200",
                    "--format", "json", input=program)
    final = json.loads(result.stdout.splitlines()[-1])
    assert final["at"]["x"] == pytest.approx(2.0) and list(final["value"]) == ["f"]
    several = invoke("optimize", "-", "--at", "x=0", input=program)
    assert several.exit_code == 2 and "f, g" in several.stderr and "--objective" in several.stderr


def test_optimize_holds_the_other_inputs_fixed():
    result = invoke("optimize", SEED, "--at", "x=1,w=4", "--wrt", "w", "--steps", "3",
                    "--format", "json")
    assert {json.loads(line)["at"]["x"] for line in result.stdout.splitlines()} == {1.0}


# --- functions, help, version -------------------------------------------------------------------

def test_functions_lists_every_primitive_with_its_rules():
    from slpdiff.language.primitives import PRIMITIVES

    text = invoke("functions").stdout
    for prim in PRIMITIVES.values():
        assert prim.signature in text
        for param, rule in zip(prim.params, prim.partials, strict=True):
            assert f"d/d{param} = {rule}" in text
    listing = invoke("functions", "--format", "json").stdout
    rows = [json.loads(line) for line in listing.splitlines()]
    assert [r["name"] for r in rows] == list(PRIMITIVES)
    assert rows[0]["partials"] == {"a": "1", "b": "1"}
    assert {r["name"]: r["kink"] for r in rows}["max"] == "a - b"
    assert "d/da = sign(a); not differentiable where a = 0" in text


@pytest.mark.parametrize("command", ["eval", "optimize", "functions"])
def test_every_command_has_help_with_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout and f"slpdiff {command}" in \
        result.stdout


def test_version_and_python_dash_m():
    import subprocess
    import sys

    assert run_slpdiff("--version").stdout.strip() == f"slpdiff, version {slpdiff.__version__}"
    proc = subprocess.run([sys.executable, "-m", "slpdiff", "eval", SEED, "--at", "x=1,w=4"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.splitlines() == SEED_TEXT
