"""``slpdiff grad`` and the second-order options of ``eval``, as a user runs them: the installed
command, real shell pipelines, and emitted Python run where slpdiff cannot be imported."""

from __future__ import annotations

import ast
import json
import shlex
import subprocess

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES, SLPDIFF, run_slpdiff, run_without_slpdiff
from slpdiff.core.hessian import hessian
from slpdiff.evaluation import evaluate

SEED = str(EXAMPLES / "seed.slp")
ROSENBROCK = str(EXAMPLES / "rosenbrock.slp")
NEURON = str(EXAMPLES / "neuron.slp")


def shell(pipeline: str) -> subprocess.CompletedProcess:
    """Run a shell pipeline where `slpdiff` is the installed command."""
    script = f"set -o pipefail\nslpdiff() {{ {shlex.quote(SLPDIFF)} \"$@\"; }}\n{pipeline}"
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)


def json_eval(*args) -> dict:
    proc = run_slpdiff("eval", *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# --- grad -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("program, at", [(SEED, "x=1,w=4"), (ROSENBROCK, "x=-1.2,y=1"),
                                         (NEURON, "x1=0.5,x2=-1,x3=2,w1=0.1,w2=0.2,w3=-0.3,"
                                                  "b=0.05,t=1")])
def test_grad_piped_into_eval_gives_evals_derivatives(program, at):
    proc = shell(f"slpdiff grad {shlex.quote(program)} | slpdiff eval - --at {at} "
                 "--format json")
    assert proc.returncode == 0, proc.stderr
    piped = json.loads(proc.stdout)
    direct = json_eval(program, "--at", at)
    for out, row in direct["gradient"].items():
        assert piped["value"][out] == direct["value"][out]
        for x, g in row.items():
            assert piped["value"][f"d_{out}_d_{x}"] == g  # bit for bit


def test_grad_of_grad_gives_the_hessian_through_a_pipeline():
    proc = shell(f"slpdiff grad {shlex.quote(SEED)} | slpdiff grad - | "
                 "slpdiff eval - --at x=1,w=4 --format json")
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout)["value"]
    h = json_eval(SEED, "--at", "x=1,w=4", "--hessian")["hessian"]["v7"]
    for x in ("x", "w"):
        for w in ("x", "w"):
            assert values[f"d2_v7_d_{x}_d_{w}"] == pytest.approx(h[x][w], rel=1e-13)
    assert list(values) == ["v7", "d_v7_d_x", "d_v7_d_w", "d2_v7_d_x_d_x", "d2_v7_d_x_d_w",
                            "d2_v7_d_w_d_x", "d2_v7_d_w_d_w"]  # the gradient not written twice


def test_grad_wrt_and_errors():
    proc = run_slpdiff("grad", SEED, "--wrt", "w")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[-1] == "output v7, d_v7_d_w"
    bad = run_slpdiff("grad", "-", input="y = sinn(x)\n")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == ("slpdiff: error: <stdin>:1:5: unknown function 'sinn' (did you mean "
                          "'sin'?)\n    y = sinn(x)\n        ^\n")
    for args, message in [(["--wrt", "q"], "'q' is not an input"), (["--emit", "c"], "'c' is not"),
                          ([], None)]:
        proc = run_slpdiff("grad", SEED if args else "missing.slp", *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert message is None or message in proc.stderr


def test_grad_output_file_names_in_comments_cannot_escape():
    proc = run_slpdiff("grad", "-", input="# a\rb = 1\ny = x * 2  # c\r\n")
    assert proc.returncode == 0
    again = slpdiff.parse(proc.stdout)
    assert again.output_names == ["y", "d_y_d_x"]  # no statement smuggled in by the \r


# --- --emit python --------------------------------------------------------------------------------

RUN_MODULE = """
import json, sys
import numpy as np
import adjoint
point = json.load(open(sys.argv[1]))
args = [np.asarray(point[name]) for name in adjoint.INPUTS]
values, gradient = adjoint.value_and_gradient(*args)
print(json.dumps({"values": {k: np.asarray(v).tolist() for k, v in values.items()},
                  "gradient": {o: {x: np.asarray(g).tolist() for x, g in row.items()}
                               for o, row in gradient.items()},
                  "inputs": list(adjoint.INPUTS), "outputs": list(adjoint.OUTPUTS)}))
"""


def run_emitted(program_text: str, point: dict, tmp_path) -> dict:
    proc = run_slpdiff("grad", "-", "--emit", "python", input=program_text)
    assert proc.returncode == 0, proc.stderr
    return json.loads(run_without_slpdiff(RUN_MODULE, {"adjoint": proc.stdout}, tmp_path,
                                          json.dumps(point)))


@pytest.mark.parametrize("points", ["scalars", "arrays"])
def test_emitted_python_runs_without_slpdiff_and_agrees(points, tmp_path):
    text = (EXAMPLES / "neuron.slp").read_text()
    program = slpdiff.parse(text)
    rng = np.random.default_rng(3)
    shape = () if points == "scalars" else (5,)
    point = {name: rng.normal(size=shape).tolist() for name in program.input_names}
    got = run_emitted(text, point, tmp_path)
    expected = evaluate(program, {k: np.asarray(v) for k, v in point.items()})
    assert got["inputs"] == program.input_names and got["outputs"] == ["loss"]
    assert np.array_equal(got["values"]["loss"], expected.values["loss"])
    for x, g in expected.gradient["loss"].items():
        assert np.array_equal(got["gradient"]["loss"][x], g), x


EVIL = """# names that are Python keywords, builtins, dunders and the module's own names
input lambda, import, __class__, os, print, np, value_and_gradient, _value, def, self
None_ = lambda * import + def
__init__ = sigmoid(None_) + os^2 * print + softplus(np) - __class__ / 3
print_ = __init__ * relu(value_and_gradient) + _value * self
output print_, __init__, lambda
"""


def test_names_cannot_inject_code_into_the_emitted_python(tmp_path):
    program = slpdiff.parse(EVIL)
    point = {name: 0.25 + 0.1 * k for k, name in enumerate(program.input_names)}
    got = run_emitted(EVIL, point, tmp_path)
    expected = evaluate(program, point)
    assert got["inputs"] == program.input_names
    for out, row in expected.gradient.items():
        assert got["values"][out] == expected.values[out]
        for x, g in row.items():
            assert got["gradient"][out][x] == g, (out, x)
    source = run_slpdiff("grad", "-", "--emit", "python", input=EVIL).stdout
    tree = ast.parse(source)
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [alias.name for n in imports for alias in n.names] == ["numpy"]
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)
                   and not n.name.startswith("_")]
    assert function.name == "value_and_gradient"
    assert [a.arg for a in function.args.args] == [
        "lambda_", "import_", "v__class___", "os", "print__", "np_", "value_and_gradient_",
        "v_value_", "def_", "self"]


def test_comments_cannot_end_early_in_the_emitted_python():
    text = "# x\rimport os\u2028os.system('echo no')\ny = x * 2  # z\x0bimport sys\n"
    source = run_slpdiff("grad", "-", "--emit", "python", input=text).stdout
    tree = ast.parse(source)
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert len(imports) == 1 and "\\r" in source and "\\u2028" in source


# --- eval: forward mode, directions, Hessians -----------------------------------------------------

def test_eval_forward_mode_prints_the_same_derivatives():
    rev = json_eval(NEURON, "--at", "x1=0.5,x2=-1,x3=2,w1=0.1,w2=0.2,w3=-0.3,b=0.05,t=1")
    fwd = json_eval(NEURON, "--at", "x1=0.5,x2=-1,x3=2,w1=0.1,w2=0.2,w3=-0.3,b=0.05,t=1",
                    "--mode", "forward")
    assert list(fwd) == list(rev) and fwd["value"] == rev["value"]
    for x, g in rev["gradient"]["loss"].items():
        assert fwd["gradient"]["loss"][x] == pytest.approx(g, rel=1e-14, abs=1e-16)


def test_eval_direction_text_and_json():
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4", "--direction", "x=1")
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["v7 = 27.906496678143885", "d v7/d x = 51.31809456918384",
                         "d v7/d w = 13.402273659200267"]
    assert lines[3] == "direction: x = 1.0"
    assert lines[4].startswith("d v7/d direction = ")
    assert float(lines[4].split(" = ")[1]) == pytest.approx(51.31809456918384, rel=1e-14)
    obj = json_eval(SEED, "--at", "x=1,w=4", "--direction", "x=0.5,w=-1")
    assert list(obj) == ["at", "value", "gradient", "direction", "directional"]
    assert obj["direction"] == {"x": 0.5, "w": -1.0}
    expected = 0.5 * obj["gradient"]["v7"]["x"] - obj["gradient"]["v7"]["w"]
    assert obj["directional"]["v7"] == pytest.approx(expected, rel=1e-14)


def test_eval_hessian_text_is_a_labelled_matrix():
    proc = run_slpdiff("eval", ROSENBROCK, "--at", "x=1,y=1", "--hessian")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[3:] == ["Hessian of f, d2 f/d row d column:",
                                            "   x       y",
                                            "x  802.0   -400.0",
                                            "y  -400.0  200.0"]


def test_eval_hessian_and_hvp_json():
    obj = json_eval(SEED, "--at", "x=1,w=4", "--hessian", "--hvp", "w=1")
    assert list(obj) == ["at", "value", "gradient", "hessian", "hvp_direction", "hvp"]
    h = hessian(slpdiff.parse_file(SEED), {"x": 1.0, "w": 4.0})["v7"]
    assert obj["hessian"] == {"v7": {x: {w: float(v) for w, v in row.items()}
                                     for x, row in h.items()}}
    assert obj["hvp"] == {"v7": {"x": float(h["x"]["w"]), "w": float(h["w"]["w"])}}
    assert obj["hvp_direction"] == {"w": 1.0}


def test_eval_several_outputs_hessians_and_jacobian():
    program = "input x, y\nu = x^2 * y\nv = x - y\noutput u, v\n"
    proc = run_slpdiff("eval", "-", "--at", "x=2,y=3", "--hessian", input=program)
    assert proc.stdout.splitlines() == [
        "u = 12.0", "v = -1.0", "Jacobian, d row/d column:", "   x     y", "u  12.0  4.0",
        "v  1.0   -1.0", "Hessian of u, d2 u/d row d column:", "   x    y", "x  6.0  4.0",
        "y  4.0  0.0", "Hessian of v, d2 v/d row d column:", "   x    y", "x  0.0  0.0",
        "y  0.0  0.0"]


@pytest.mark.parametrize("args, message", [
    (["--hvp", "q=1"], "'q' is not an input"),
    (["--hvp", "x=1", "--wrt", "w"], "not among the inputs differentiated"),
    (["--direction", "x"], "is not NAME=VALUE"),
    (["--direction", "q=1"], "'q' is not an input"),
    (["--mode", "sideways"], "'sideways' is not one of"),
])
def test_eval_second_order_bad_options_exit_2(args, message):
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4", *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_eval_hessian_nonfinite_warns_or_fails_with_strict():
    # x^1.5 has the finite derivative 1.5 x^0.5 at 0, but an infinite second derivative
    loose = run_slpdiff("eval", "-", "--at", "x=0", "--hessian", input="y = x^1.5\n")
    assert loose.returncode == 0 and "non-finite values in the hessian" in loose.stderr
    assert loose.stdout.splitlines()[-1] == "x  inf"
    strict = run_slpdiff("eval", "-", "--at", "x=0", "--hessian", "--strict", input="y = x^1.5\n")
    assert strict.returncode == 1 and "hessian" in strict.stderr and strict.stdout == ""
