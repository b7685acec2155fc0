"""Fuzzing and property tests: whatever arrives, slpdiff answers with a result or a clear error.

Inputs come from ``tests/fuzz/strategies.py``: valid programs from the grammar, mutated programs
(tokens deleted, duplicated, swapped; random bytes, invalid UTF-8, NUL bytes, CRLF, a BOM,
truncation), ``--at`` strings and grids, and ``--points`` rows (CSV, TSV, JSON Lines), well-formed
or not. The command-line contract, for every case:

* the exit status is 0, 1 or 2 (valid programs at a valid point: 0 for ``eval``);
* stderr has no Python traceback, and every line of it is an ``slpdiff: error:`` or
  ``slpdiff: warning:`` line, or belongs to one (the source line and caret, indented; Click's
  usage lines);
* a failure says ``slpdiff: error:``; a program that does not parse fails with status 2 and names
  the program.

The contract is checked through the installed ``slpdiff`` in subprocesses (a few dozen runs, in
batches) and in-process through Click's ``CliRunner`` (many more, fast). Library properties run
in-process: valid programs print and parse back to the same graph (and so does their adjoint
program), reverse mode equals forward mode to rounding, and the fast path equals the engine bit for
bit. ``fuzz``-marked variants run the same checks on many more examples (``pytest --fuzz``, see
``conftest.py``); the coverage-guided target is ``tests/fuzz/fuzz_parser.py``.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fast_path import assert_same  # the fast path against the engine, bit for bit

import slpdiff
from fuzz.fuzz_parser import check_parse, check_round_trip
from fuzz.strategies import (
    any_bytes,
    at_strings,
    json_points,
    mutated_programs,
    points_files,
    valid_programs,
)
from helpers import SLPDIFF, same_bits
from slpdiff.cli import cli
from slpdiff.core.adjoint import adjoint_program
from slpdiff.core.tangent import evaluate_forward
from slpdiff.errors import SlpError

FUZZ_SCRIPT = Path(__file__).resolve().parent / "fuzz" / "fuzz_parser.py"
SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def long_examples(divisor: int = 1) -> int:
    """Examples for a ``fuzz``-marked test: the loaded profile's count (``pytest --fuzz`` loads
    the long one), divided for tests whose examples start processes."""
    return max(1, settings.default.max_examples // divisor)


# --- the contract -------------------------------------------------------------------------------


@dataclass
class Case:
    """One command-line run: arguments, standard input, files to create, allowed exit statuses."""

    args: list[str]
    stdin: bytes | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    allowed: tuple[int, ...] = (0, 1, 2)
    program_error: bool = False  # the program does not parse: status 2, the error names it
    rows: int | None = None  # a valid points file: this many lines on stdout


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


CONTEXT_PREFIXES = ("slpdiff: error: ", "slpdiff: warning: ", "    ", "Usage: ", "Try '")


def assert_contract(case: Case, out: Outcome) -> None:
    shown = f"{case.args} stdin={case.stdin!r:.300} files={case.files!r:.300}\n" \
            f"exit {out.code}\nstderr:\n{out.stderr[:2000]}"
    assert out.code in case.allowed, shown
    assert "Traceback" not in out.stderr, shown
    # Lines as a terminal shows them: split at "\n" only (splitlines() would also split at
    # characters such as U+0085 that a message may quote from the user's input).
    lines = out.stderr.rstrip("\n").split("\n") if out.stderr else []
    for line in lines:
        assert line.startswith(CONTEXT_PREFIXES), f"stray stderr line {line!r}\n{shown}"
    if out.code != 0:
        assert any(line.startswith("slpdiff: error: ") for line in lines), shown
    if case.program_error:
        assert out.code == 2 and lines[0].startswith("slpdiff: error: "), shown
        assert re.match(r"slpdiff: error: (\S*prog\.slp|<stdin>)(:\d+:\d+)?: ", lines[0]), shown
    if case.rows is not None and out.code == 0:
        assert len(out.stdout.rstrip("\n").split("\n")) == case.rows, shown


def run_in_subprocesses(cases: list[Case]) -> None:
    """Run each case through the installed ``slpdiff`` (two at a time) and check the contract."""
    def run(case: Case) -> tuple[Case, Outcome]:
        with tempfile.TemporaryDirectory(prefix="slpdiff-fuzz-") as tmp:
            for name, data in case.files.items():
                Path(tmp, name).write_bytes(data)
            proc = subprocess.run([SLPDIFF, *case.args], input=case.stdin or b"",
                                  capture_output=True, cwd=tmp, timeout=120)
        return case, Outcome(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                             proc.stderr.decode("utf-8", "replace"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        for case, outcome in pool.map(run, cases):
            assert_contract(case, outcome)


def run_in_process(cases: list[Case]) -> None:
    """Run each case through Click's ``CliRunner``: an exception escaping the command group (a
    traceback, for a user) fails the test."""
    runner = CliRunner()
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="slpdiff-fuzz-") as tmp:
            for name, data in case.files.items():
                Path(tmp, name).write_bytes(data)
            args = [os.path.join(tmp, a) if a in case.files else a for a in case.args]
            result = runner.invoke(cli, args, input=case.stdin, prog_name="slpdiff")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            raise AssertionError(f"{case.args} stdin={case.stdin!r:.300}: " + "".join(
                traceback.format_exception(result.exception)))
        assert_contract(case, Outcome(result.exit_code, result.stdout, result.stderr))


# --- cases ----------------------------------------------------------------------------------------

COMMANDS = [["eval"], ["eval", "--mode", "forward"], ["eval", "--hessian"], ["grad"],
            ["check"], ["trace"], ["trace", "--mode", "forward"], ["graph"]]


def parses(data: bytes) -> bool:
    try:
        slpdiff.parse(data)
    except SlpError:
        return False
    return True


@st.composite
def valid_program_cases(draw) -> Case:
    """A valid program at a valid point (maybe a grid) through one command."""
    text, inputs = draw(valid_programs())
    at = draw(at_strings(inputs, valid=True)) if inputs else []
    command = draw(st.sampled_from(COMMANDS))
    grid = any(":" in a for a in at)
    args = [*command, "prog.slp", *(x for a in at for x in ("--at", a))]
    if command == ["grad"]:
        args = ["grad", "prog.slp"]
        allowed = (0,)
    elif command[0] == "eval":  # forward mode and --hessian too, also on a grid's rows
        allowed = (0,)
    elif grid:
        allowed = (2,)  # a grid is for eval alone
    else:
        # check: 1 when a derivative disagrees with finite differences, 2 where it cannot
        # take a finite step (|x| near the largest float)
        allowed = (0, 1, 2) if command == ["check"] else (0,)
    return Case(args, files={"prog.slp": text.encode()}, allowed=allowed)


@st.composite
def mutated_program_cases(draw) -> Case:
    """A mutated program, from a file or standard input, with the original's point."""
    data, inputs = draw(mutated_programs())
    at = draw(at_strings(inputs, valid=True)) if inputs else []
    command = draw(st.sampled_from(COMMANDS[:2] + [["grad"], ["trace"]]))
    at_args = [x for a in at if ":" not in a for x in ("--at", a)] if command[0] != "grad" else []
    if draw(st.booleans()):
        case = Case([*command, "-", *at_args], stdin=data)
    else:
        case = Case([*command, "prog.slp", *at_args], files={"prog.slp": data})
    case.program_error = not parses(data)
    return case


@st.composite
def at_cases(draw) -> Case:
    """A valid program at ``--at`` values that may be anything (also as JSON on standard input),
    maybe with ``--direction``, ``--hvp`` or ``--wrt`` values that may be anything too."""
    text, inputs = draw(valid_programs(max_statements=3))
    valid = draw(st.booleans()) and bool(inputs)
    at = draw(at_strings(inputs, valid=valid))
    command = ["eval"] if valid else draw(st.sampled_from([["eval"], ["trace"], ["check"]]))
    args = [*command, "prog.slp", *(x for a in at for x in ("--at", a))]
    stdin = None
    if not valid:
        extra = draw(st.sampled_from(["", "", "json", "--direction", "--hvp", "--wrt"]))
        if extra == "json":
            args, stdin = [*command, "prog.slp", "--at", "@-"], draw(json_points(inputs))
        elif extra == "--wrt":
            args += ["--wrt", draw(st.sampled_from([",".join(inputs), "nope", "", "x,x", "1"]))]
        elif extra and command == ["eval"]:
            args += [extra, *draw(at_strings(inputs))[:1]]
    return Case(args, stdin=stdin, files={"prog.slp": text.encode()},
                allowed=(0,) if valid else (0, 1, 2))


@st.composite
def points_cases(draw) -> Case:
    """A valid program at the rows of a ``--points`` file (from a file or standard input)."""
    text, inputs = draw(valid_programs(max_statements=3, declare=True))
    valid = draw(st.booleans())
    fmt, content = draw(points_files(inputs, valid=valid))
    files = {"prog.slp": text.encode()}
    if draw(st.booleans()):
        args, stdin = ["eval", "prog.slp", "--points", "-", "--points-format", fmt], content
    else:
        files[f"points.{fmt}"] = content
        args, stdin = ["eval", "prog.slp", "--points", f"points.{fmt}"], None
    args += draw(st.sampled_from([[], [], ["--keep"], ["--chunk-rows", "1"],
                                  ["--chunk-rows", "2"]]))
    out_fmt = fmt
    if draw(st.booleans()):
        out_fmt = draw(st.sampled_from(["csv", "tsv", "jsonl"]))
        args += ["--format", out_fmt]
    rows = None
    if valid:  # one line per row (its header line replaced by the output's own, if any)
        rows = len([line for line in content.decode().splitlines() if line.strip()]) - \
            (fmt != "jsonl") + (out_fmt != "jsonl")
    return Case(args, stdin=stdin, files=files, allowed=(0,) if valid else (0, 2), rows=rows)


ALL_CASES = st.one_of(valid_program_cases(), mutated_program_cases(), at_cases(), points_cases())


# --- the contract through the installed command ---------------------------------------------------


@settings(max_examples=3, suppress_health_check=SUPPRESS)
@given(st.lists(valid_program_cases(), min_size=5, max_size=5))
def test_valid_programs_through_the_installed_command(cases):
    run_in_subprocesses(cases)


@settings(max_examples=3, suppress_health_check=SUPPRESS)
@given(st.lists(mutated_program_cases(), min_size=5, max_size=5))
def test_mutated_programs_through_the_installed_command(cases):
    run_in_subprocesses(cases)


@settings(max_examples=3, suppress_health_check=SUPPRESS)
@given(st.lists(st.one_of(at_cases(), points_cases()), min_size=5, max_size=5))
def test_at_values_and_points_through_the_installed_command(cases):
    run_in_subprocesses(cases)


# --- the contract in-process: many more cases ---------------------------------------------------


@settings(max_examples=40, suppress_health_check=SUPPRESS)
@given(st.lists(ALL_CASES, min_size=4, max_size=4))
def test_every_kind_of_case_in_process(cases):
    run_in_process(cases)


# --- library properties -------------------------------------------------------------------------


def check_printer_and_adjoint(text: str, x: float) -> None:
    program = slpdiff.parse(text)
    check_round_trip(program)
    at = {name: x + k for k, name in enumerate(program.input_names)}
    with np.errstate(all="ignore"):
        ev = slpdiff.evaluate(program, at)
        adj = adjoint_program(program)
        again = slpdiff.parse(adj.text(), name="<adjoint>")
        check_round_trip(again)
        values = slpdiff.evaluate(again, at, derivatives=False).values
    for out, row in ev.gradient.items():
        assert same_bits(values[out], ev.values[out]), (out, adj.text())
        for name, g in row.items():
            got = values[adj.derivatives[out][name]]
            assert same_bits(got, g), (out, name, got, g, adj.text())


def check_reverse_equals_forward(text: str, x: float) -> None:
    program = slpdiff.parse(text)
    at = {name: x - 0.5 * k for k, name in enumerate(program.input_names)}
    with np.errstate(all="ignore"):
        reverse = slpdiff.evaluate(program, at)
        forward = evaluate_forward(program, at)
    for out, value in reverse.values.items():
        assert same_bits(forward.values[out], value), out
        row = reverse.gradient[out]
        if not all(math.isfinite(v) for v in (value, *row.values())):
            continue  # 0 * inf and inf - inf depend on the order of the terms
        scale = max([1.0, *(abs(g) for g in row.values())])
        for name, g in row.items():
            f = forward.gradient[out][name]
            assert math.isclose(f, g, rel_tol=1e-9, abs_tol=1e-9 * scale), (out, name, f, g)


@settings(max_examples=60, suppress_health_check=SUPPRESS)
@given(valid_programs(), st.floats(-3, 3))
def test_valid_programs_print_and_parse_back_with_their_adjoint_programs(case, x):
    check_printer_and_adjoint(case[0], x)


@settings(max_examples=60, suppress_health_check=SUPPRESS)
@given(valid_programs(), st.floats(-3, 3))
def test_reverse_mode_equals_forward_mode_on_valid_programs(case, x):
    check_reverse_equals_forward(case[0], x)


def check_fast_path(text: str, x: float) -> None:
    program = slpdiff.parse(text)
    point = {name: x + 0.25 * k for k, name in enumerate(program.input_names)}
    with np.errstate(all="ignore"):
        assert_same(program, point)  # False (not compared) when left to the engine
        rows = {name: v + np.linspace(-1, 1, 5) for name, v in point.items()}
        assert_same(program, rows)


@settings(max_examples=40, suppress_health_check=SUPPRESS)
@given(valid_programs(), st.floats(-3, 3))
def test_fast_path_equals_the_engine_on_valid_programs(case, x):
    check_fast_path(case[0], x)


# --- the parser's fuzz target: a short bounded run ------------------------------------------------

PARSER_INPUTS = st.one_of(valid_programs().map(lambda case: case[0].encode()),
                          mutated_programs().map(lambda case: case[0]), any_bytes)


@settings(max_examples=300, suppress_health_check=SUPPRESS)
@given(PARSER_INPUTS)
def test_parser_fuzz_target_on_drawn_inputs(data):
    check_parse(data)


def test_parser_fuzz_script_runs_with_hypothesis():
    proc = subprocess.run([sys.executable, str(FUZZ_SCRIPT), "--hypothesis", "--seconds=1",
                           "--round=50"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "inputs" in proc.stderr and "Traceback" not in proc.stderr


def test_parser_fuzz_script_runs_with_atheris(tmp_path):
    pytest.importorskip("atheris")
    proc = subprocess.run([sys.executable, str(FUZZ_SCRIPT), "-max_total_time=2", "--seeds=10"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done" in proc.stderr and "cov:" in proc.stderr
    assert not list(tmp_path.glob("crash-*"))


# --- long runs: pytest --fuzz (SLPDIFF_FUZZ_EXAMPLES examples each, default 2000) --------------


@pytest.mark.fuzz
@settings(max_examples=long_examples(20), suppress_health_check=SUPPRESS)
@given(st.lists(ALL_CASES, min_size=4, max_size=4))
def test_long_every_kind_of_case_through_the_installed_command(cases):
    run_in_subprocesses(cases)


@pytest.mark.fuzz
@settings(max_examples=long_examples(), suppress_health_check=SUPPRESS)
@given(st.lists(ALL_CASES, min_size=4, max_size=4))
def test_long_every_kind_of_case_in_process(cases):
    run_in_process(cases)


@pytest.mark.fuzz
@settings(max_examples=long_examples(), suppress_health_check=SUPPRESS)
@given(valid_programs(max_statements=12), st.floats(-3, 3))
def test_long_library_properties(case, x):
    check_printer_and_adjoint(case[0], x)
    check_reverse_equals_forward(case[0], x)
    check_fast_path(case[0], x)


@pytest.mark.fuzz
@settings(max_examples=long_examples() * 5, suppress_health_check=SUPPRESS)
@given(PARSER_INPUTS)
def test_long_parser_fuzz_target(data):
    check_parse(data)


# --- what the fuzzers found (fixed; these keep it so) --------------------------------------------


@pytest.mark.parametrize("args", [
    ["trace", "--at", "x=0:1:0.5,w=4"], ["check", "--at", "x=0:1:0.5,w=4"],
    ["graph", "--at", "x=0:1:0.5,w=4"], ["explain", "--wrt", "x", "--at", "x=0:1:0.5,w=4"],
    ["eval", "--at", "x=1,w=4", "--direction", "x=0:1:1"],
    ["eval", "--at", "x=1,w=4", "--hvp", "w=0:1:1"],
])
def test_a_grid_where_one_point_is_expected_is_a_usage_error(args):
    # It was a TypeError traceback: the grid's range reached the engine as a value.
    seed = str(Path(__file__).resolve().parent.parent / "examples" / "seed.slp")
    case = Case([args[0], seed, *args[1:]], allowed=(2,))
    proc = subprocess.run([SLPDIFF, *case.args], capture_output=True, text=True, timeout=120)
    assert_contract(case, Outcome(proc.returncode, proc.stdout, proc.stderr))
    assert "a grid (start:stop:step) is for eval --at" in proc.stderr


@pytest.mark.parametrize("source", ["input x\ny = negative(0.5) * x\n",
                                    "input x\ny = -negative(2)^x\n", "y = negative(pi)\n"])
def test_a_negated_constant_prints_as_a_call_and_parses_back_to_the_same_graph(source):
    # `-0.5` would parse back as one constant: the same value but another graph.
    program = slpdiff.parse(source)
    assert "negative(" in check_round_trip(program)


def test_check_says_smaller_eps_when_its_step_overflows():
    result = CliRunner().invoke(cli, ["check", "-", "--at", "x=1.7976822490793367e308"],
                                input="y = x * 2\n")
    assert result.exit_code == 2
    assert "overflows at x = 1.7976822490793367e+308: choose a smaller --eps" in result.stderr


@pytest.mark.parametrize("args, stdin", [
    (["--at", "0\n=inf"], None), (["--at", "x=1\u2028y,w=2"], None),
    (["--at", "x=1,w=1", "--wrt", "x\ny"], None), (["--at", "@-"], b'{"a\\nb": 1, "x": 1}'),
])
def test_quoted_input_with_line_breaks_stays_on_the_error_line(args, stdin):
    # The message quoted a line break from the option as it was: a second, unprefixed line.
    case = Case(["eval", "-", *args], allowed=(2,))
    if stdin is None:
        case.stdin = b"y = x * w\n"
    else:
        case.args[1] = "prog.slp"
        case.files = {"prog.slp": b"y = x * w\n"}
        case.stdin = stdin
    run_in_process([case])
