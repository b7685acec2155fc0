"""The messages and small behaviours a new user meets (issue 13, section 4): help with no
arguments, hints that name only options the command has, standard input told by its first line,
``--format json`` for many points, the constants ``e`` and ``pi``, names listed in messages,
SciPy's endings, ``grad``'s listing, ``explain``'s wrapping and the warnings of ``explain`` and
``graph``. Each behaviour runs once through the installed command, its details in-process."""

from __future__ import annotations

import json
import re

import pytest

from helpers import EXAMPLES, invoke, run_slpdiff

SEED = str(EXAMPLES / "seed.slp")
ROSENBROCK = str(EXAMPLES / "rosenbrock.slp")


@pytest.fixture
def program(tmp_path):
    """A function writing ``text`` to a program file, returning its path."""
    def write(text: str, name: str = "p.slp") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


# --- the command line ---------------------------------------------------------------------------

def test_no_arguments_prints_the_help_once_with_exit_status_2():
    proc = run_slpdiff()
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("Usage: slpdiff") == 1 and proc.stderr.count("Commands:") == 1
    assert "slpdiff: error" not in proc.stderr and "Try 'slpdiff --help'" not in proc.stderr


def test_values_without_at_suggest_at():
    proc = run_slpdiff("eval", SEED, "x=1,w=4")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == ("slpdiff: error: Got unexpected extra argument "
                                            "(x=1,w=4); did you mean --at x=1,w=4?")
    two = invoke("trace", SEED, "x=1", "w=4")
    assert two.exit_code == 2 and "did you mean --at x=1,w=4?" in two.stderr
    no_at = invoke("functions", "x=1")  # functions has no --at: no such hint
    assert no_at.exit_code == 2 and "did you mean" not in no_at.stderr


def test_keep_is_suggested_only_where_the_command_has_it(tmp_path, program):
    data = tmp_path / "d.csv"
    data.write_text("t,y,id\n1,2,a\n2,4,b\n")
    fit = program("input t, y, a\nloss = mean((a * t - y)^2)\n")
    proc = run_slpdiff("optimize", fit, "--data", data, "--at", "a=1", "--steps", "2")
    assert proc.returncode == 0, proc.stderr
    assert "ignoring columns that are not inputs of the program: id" in proc.stderr
    assert "--keep" not in proc.stderr
    points = invoke("eval", fit, "--points", data, "--at", "a=1")
    assert points.exit_code == 0 and "(carry them through with --keep)" in points.stderr


# --- rows -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, header", [
    ("x,w\n1,4\n", "x,w,v7,d v7/d x,d v7/d w"),
    ("x\tw\n1\t4\n", "x\tw\tv7\td v7/d x\td v7/d w"),
    ('\n{"x": 1, "w": 4}\n', None),
])
def test_points_from_stdin_are_told_by_their_first_line(text, header):
    proc = run_slpdiff("eval", SEED, "--points", "-", input=text)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    if header is None:  # JSON Lines in, JSON Lines out
        assert json.loads(lines[0])["value"] == {"v7": 27.906496678143885}
    else:
        assert lines[0] == header and lines[1].split(header[1])[2] == "27.906496678143885"
    asked = invoke("eval", SEED, "--points", "-", "--points-format", "csv", input=text)
    assert asked.exit_code == (0 if header and "," in header else 2)  # told beats sniffed


def test_data_from_stdin_is_told_by_its_first_line(program):
    fit = program("input t, y, a\nloss = mean((a * t - y)^2)\n")
    result = invoke("optimize", fit, "--data", "-", "--at", "a=0", "--lr", "0.1", "--steps",
                    "100", "--format", "json", input="t\ty\n1\t2\n2\t4\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["at"]["a"] == pytest.approx(2.0)


def test_format_json_is_refused_for_many_points_naming_jsonl():
    proc = run_slpdiff("eval", SEED, "--at", "x=0:1:0.5,w=4", "--format", "json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "every point of a grid is written as JSON Lines" in proc.stderr
    assert "use --format jsonl" in proc.stderr
    rows = invoke("eval", SEED, "--points", "-", "--format", "json", input="x,w\n1,4\n")
    assert rows.exit_code == 2 and "every row of --points" in rows.stderr
    assert "use jsonl" in invoke("eval", "--help").stdout.replace("\n", " ").replace("  ", " ")


# --- names ----------------------------------------------------------------------------------------

def test_messages_list_several_names_with_and(program):
    abc = program("y = a * b + c\n")
    proc = run_slpdiff("eval", abc, "--at", "c=1")
    assert proc.returncode == 2
    assert "no values for inputs 'a' and 'b'; the program's inputs are: a, b, c" in proc.stderr
    assert "'z' is not an input of the program" in invoke("eval", abc, "--at",
                                                          "a=1,b=1,c=1,z=1").stderr
    three = invoke("eval", abc, "--at", "a=1,b=1,c=1,p=1,q=2,r=3")
    assert "'p', 'q' and 'r' are not inputs" in three.stderr
    rows = invoke("eval", abc, "--points", "-", input="c\n1\n")
    assert ("no values for inputs 'a' and 'b': they are not columns of <stdin> (columns: c)"
            in rows.stderr)


def test_quoted_names_are_capped():
    from slpdiff.errors import quoted_names

    assert quoted_names(["a"]) == "'a'"
    assert quoted_names(["a", "b", "c"]) == "'a', 'b' and 'c'"
    assert quoted_names([f"x{k}" for k in range(1000)], shown=2) == "'x0', 'x1' and 998 more"


def test_optimize_data_without_a_needed_column_names_the_files_columns(tmp_path, program):
    data = tmp_path / "d.csv"
    data.write_text("t,id\n1,7\n")
    fit = program("input t, y, a\nloss = mean((a * t - y)^2)\n")
    proc = run_slpdiff("optimize", fit, "--data", data, "--at", "a=1")
    assert proc.returncode == 2
    assert (f"no value for input 'y': it is not a column of {data} (columns: t, id) and not "
            "given with --at as a parameter's starting value") in proc.stderr
    other = tmp_path / "o.csv"
    other.write_text("q,id\n1,7\n")
    none = invoke("optimize", fit, "--data", other, "--at", "a=1")
    assert none.exit_code == 2 and "(columns: q, id; inputs: t, y, a)" in none.stderr


# --- the constants e and pi -----------------------------------------------------------------------

def test_at_e_says_e_is_a_constant_with_its_value(program):
    prog = program("y = a * e^x\n")
    proc = run_slpdiff("eval", prog, "--at", "a=1,x=0,e=5")
    assert proc.returncode == 2 and proc.stderr == (
        "slpdiff: error: 'e' is a constant of the language (e = 2.718281828459045), not an "
        "input; the program's inputs are: a, x\n")  # a * e^x: no warning about the program
    wrt = invoke("eval", prog, "--at", "a=1,x=0", "--wrt", "pi")
    assert "'pi' is a constant of the language (pi = 3.141592653589793)" in wrt.stderr


@pytest.mark.parametrize("text, named", [
    ("y = a*x^4 + b*x^3 + c*x^2 + d*x + e", ["e"]),
    ("y = c*x + d + e", ["e"]),
    ("y = e*f + g", ["e"]),
    ("y = -e + c*d", ["e"]),  # one constant -e, at the minus sign
    ("r = xi*yi + pi", ["pi"]),
    ("y = a * e^(b*x)", []),  # a and b, no run through e
    ("y = d * e", []),  # a run of two
    ("y = 2*pi*r", []),
    ("y = xi * pi", []),  # one indexed name
    ("y = c * d + 2.718281828459045", []),  # e's value, not its name
    ("y = c * d + 1e5 + x.e", None),  # not a program: parsed only where valid
])
def test_e_and_pi_that_read_like_variables_are_named(text, named):
    from slpdiff.errors import ProgramError
    from slpdiff.language.lookalikes import lookalike_warnings
    from slpdiff.language.parser import parse

    try:
        prog = parse(text.encode(), name="p.slp")
    except ProgramError:
        assert named is None
        return
    found = [re.search(r"'(\w+)' is the constant", d.message).group(1)
             for d in lookalike_warnings(prog)]
    assert found == named


def test_the_lookalike_warning_points_at_the_first_use(program):
    prog = program("y = c*x^2 + d*x + e\nz = y + e\n")
    proc = run_slpdiff("eval", prog, "--at", "c=1,d=2,x=1")
    assert proc.returncode == 0 and proc.stdout.startswith("z = 8.43656365691809")
    assert proc.stderr.count("slpdiff: warning") == 1
    assert f"{prog}:1:19: 'e' is the constant e = 2.718281828459045, not an input: beside the " \
           "names 'c' and 'd' it reads like a variable" in proc.stderr


# --- optimize's endings ---------------------------------------------------------------------------

def test_divergence_is_named_by_one_step_number():
    proc = run_slpdiff("optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--lr", "0.1",
                       "--steps", "100")
    assert proc.returncode == 1
    assert "stopped: diverged at step 5" in proc.stdout
    assert "slpdiff: error: diverged at step 5:" in proc.stderr
    assert "after 4" not in proc.stdout + proc.stderr


def test_scipy_endings_are_said_in_words_with_one_verdict():
    pytest.importorskip("scipy")
    newton = invoke("optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--method", "newton-cg",
                    "--steps", "1000")
    assert newton.exit_code == 0, newton.stderr
    last = newton.stdout.splitlines()
    assert last[-3] == "stopped: stalled after 86 steps"
    assert last[-1].startswith("newton-cg: stopped by SciPy: the step no longer moves the point; "
                               "last step 0, gradient norm 3.24e-10 > tol 1e-10 (")
    assert "successfully" not in newton.stdout
    bard = invoke("optimize", EXAMPLES / "optimization" / "08-bard.slp", "--at", "x1=1,x2=1,x3=1",
                  "--method", "lbfgs", "--steps", "3000", "--format", "json")
    final = json.loads(bard.stdout.splitlines()[-1])
    assert final["status"] == "stalled" and "ABNORMAL" not in final["message"]
    assert re.fullmatch(r"stopped by SciPy: the line search found no lower value along the "
                        r"search direction; last step \S+, gradient norm \S+ > tol 1e-10",
                        final["message"]), final["message"]


def test_unknown_scipy_reasons_are_passed_on():
    from types import SimpleNamespace

    from slpdiff.optimize.scipy_methods import stalled_message

    run = SimpleNamespace(pending=None, last_step=0.5, tol=1e-10)
    assert stalled_message("bfgs", "something new", run) == (
        "stopped by SciPy: something new; last step 0.5, gradient norm nan > tol 1e-10")
    assert stalled_message("lbfgs", "ABNORMAL: ", run).startswith(
        "stopped by SciPy: the line search found no lower value")


# --- grad -----------------------------------------------------------------------------------------

def test_grad_header_parts_in_order_and_a_comment_above_every_derivative(program):
    prog = program("p = a*b*c*d*e1\n", "chain.slp")
    proc = run_slpdiff("grad", prog)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = " ".join(line[2:] for line in lines[:lines.index("#")])
    assert header.endswith("Its outputs are the original outputs (p), then its 5 derivatives: "
                           "d_p_d_a, d_p_d_b, d_p_d_c, d_p_d_d, d_p_d_e1.")
    parts = [line.split(" =")[0] for line in lines if re.match(r"p_\d = ", line)]
    assert parts == ["p_1", "p_2", "p_3"]
    assert "p_1 = a * b" in lines
    for k, line in enumerate(lines):
        if re.match(r"d_p_d_\w+ = ", line):
            assert lines[k - 1].startswith("# for "), (lines[k - 1], line)
    assert lines[lines.index("d_p_d_e1 = p_3") - 1] == "# for input e1"
    values = invoke("eval", "-", "--at", "a=2,b=3,c=5,d=7,e1=11", "--no-derivatives",
                    input=proc.stdout)
    assert values.stdout.splitlines()[1:] == ["d_p_d_a = 1155.0", "d_p_d_b = 770.0",
                                              "d_p_d_c = 462.0", "d_p_d_d = 330.0",
                                              "d_p_d_e1 = 210.0"]


def test_derivative_names_of_derivatives_count_their_order():
    from slpdiff.core.adjoint import derivative_name

    assert derivative_name("v7", "x") == "d_v7_d_x"
    assert derivative_name("d_v7_d_x", "w") == "d2_v7_d_x_d_w"
    assert derivative_name("d2_v7_d_x_d_w", "x") == "d3_v7_d_x_d_w_d_x"
    assert derivative_name("d_x", "w") == "d_d_x_d_w"  # not a derivative's name


def test_grad_of_a_program_whose_outputs_only_look_like_derivatives_sweeps_them(program):
    # d_y_d_x is named as grad names y's derivative, but it is not that derivative
    prog = program("y = x^3\nd_y_d_x = x\noutput y, d_y_d_x\n")
    proc = run_slpdiff("grad", prog)
    assert proc.returncode == 0, proc.stderr
    values = invoke("eval", "-", "--at", "x=2", "--no-derivatives", input=proc.stdout)
    got = dict(line.split(" = ") for line in values.stdout.splitlines())
    assert got["y"] == "8.0" and got["d_y_d_x"] == "2.0" and got["d_y_d_x_2"] == "12.0"
    assert got["d2_y_d_x_d_x"] == "1.0"


# --- explain and graph ----------------------------------------------------------------------------

def test_explain_keeps_its_path_count_with_its_word():
    proc = run_slpdiff("explain", SEED, "--at", "x=1,w=4", "--wrt", "w")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[2] == "4 paths:" and not lines[1].endswith(" 4")


@pytest.mark.parametrize("command", [["explain"], ["graph"], ["trace"], ["eval"]])
def test_explain_and_graph_warn_as_eval_does(program, command):
    prog = program("y = 3*abs(x) + log(x)\n")
    result = invoke(*command, prog, "--at", "x=0")
    assert result.exit_code == 0, result.stderr
    assert "abs(a) is not differentiable at a = 0" in result.stderr
    assert "non-finite value -inf from log" in result.stderr


def test_graph_and_explain_warn_through_the_installed_command(program):
    prog = program("y = 3*abs(x)\n")
    for command in ("explain", "graph"):
        proc = run_slpdiff(command, prog, "--at", "x=0")
        assert proc.returncode == 0 and "abs(a) is not differentiable" in proc.stderr


# --- other languages' names ---------------------------------------------------------------------

def test_other_languages_names_lead_to_the_tables():
    from slpdiff.language.parser import parse
    from slpdiff.language.primitives import OTHER_NAMES, PRIMITIVES

    for name, meant in OTHER_NAMES.items():
        assert name not in PRIMITIVES, name
        if meant not in PRIMITIVES:  # an expression in a: it must be valid SLP
            parse(f"y = {meant}".encode())
    proc = run_slpdiff("eval", "-", "--at", "x=1", input="y = arctan(x) + ln(x)\n")
    assert proc.returncode == 2
    assert "unknown function 'arctan' (did you mean 'atan'?)" in proc.stderr
    assert "unknown function 'ln' (did you mean 'log'?)" in proc.stderr
