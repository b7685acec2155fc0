"""The compact tape (``language/program.py``), the parser's fast reader (``language/replay.py``)
against Lark reading every statement, and the interpreted fast path at a point
(``fast.point.PointRun``) against the reference engine, bit for bit.

Sizes here are modest; benchmarks/run.py measures a million and ten million statements.
"""

from __future__ import annotations

import gc
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_bad_input import BAD_PROGRAMS
from test_errors_contract import MISTAKES, _broken_programs
from test_fast_path import column_program

import slpdiff
from fuzz.strategies import mutated_programs, smooth_programs, valid_programs
from helpers import random_program, same_bits
from slpdiff.core import engine
from slpdiff.core.schedule import depends, select, sweep_schedule, sweep_terms
from slpdiff.errors import ProgramError
from slpdiff.evaluation import POINT_CODE, POINT_RUN, fast_path
from slpdiff.fast import costs
from slpdiff.fast.point import PointRun
from slpdiff.language.parser import parse
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.language.program import Program, ProgramBuilder

# --- the tape's API ------------------------------------------------------------------------------


def test_the_tape_reads_as_sequences_per_node():
    program = parse("input x, w\nv1 = x * w\nv2 = sin(v1) # c\ny = -3 + v2^2; z = y\n"
                    "output z, v1")
    mul, sin, pow_, add = (PRIMITIVES[n] for n in ("multiply", "sin", "pow", "add"))
    assert list(program.ops) == [None, None, mul, sin, None, None, pow_, add]
    assert list(program.args) == [(), (), (0, 1), (2,), (), (), (3, 5), (4, 6)]
    assert list(program.consts) == [None, None, None, None, -3.0, 2.0, None, None]
    assert list(program.names) == ["x", "w", "v1", "v2", None, None, None, "y"]
    assert list(program.lines) == [1, 1, 2, 3, 4, 4, 4, 4]
    assert list(program.columns) == [7, 10, 8, 6, 5, 13, 12, 8]
    assert program.ops[2] is mul and program.args[6] == (3, 5) and program.consts[4] == -3.0
    assert program.names[7] == "y" and program.names[4] is None and program.names[-1] == "y"
    assert (program.input_names, program.output_names) == (["x", "w"], ["z", "v1"])
    assert program.output_index == [7, 2] and program.is_input(1) and program.is_const(5)
    assert not program.is_const(0) and not program.is_input(4) and len(program) == 8
    assert program.ops[1:3] == [None, mul] and program.args == list(program.args)
    with pytest.raises(IndexError):
        program.args[8]


def test_a_program_from_plain_lists_equals_the_parsed_one():
    parsed = parse("input a, b\nc = a / b + 2\nd = atan2(c, a)\n")
    again = Program(list(parsed.ops), list(parsed.args), list(parsed.consts),
                    parsed.input_index, parsed.output_index, parsed.input_names,
                    parsed.output_names, list(parsed.names), list(parsed.lines),
                    list(parsed.columns))
    for column in ("ops", "args", "consts", "names", "lines", "columns"):
        assert list(getattr(again, column)) == list(getattr(parsed, column)), column


def test_operations_of_more_than_two_arguments_keep_them_all():
    from slpdiff import Var

    x, y, z = Var(value=1.0, name="x"), Var(value=2.0, name="y"), Var(value=3.0, name="z")
    w = Var(op=lambda a, b, c: a * b + c, children=[x, y, z],
            pds=[lambda a, b, c: b, lambda a, b, c: a, lambda a, b, c: 1.0])
    program = Program.from_outputs([w], [x, y, z])
    assert program.args[3] == (0, 1, 2)
    ev = slpdiff.evaluate(program, {"x": 1.0, "y": 2.0, "z": 3.0})
    assert float(ev.values[program.output_names[0]]) == 5.0
    assert [float(g) for g in ev.gradient[program.output_names[0]].values()] == [2.0, 1.0, 1.0]


def test_names_given_out_of_order_while_building():
    tape = ProgramBuilder()
    a, b = tape.leaf("a"), tape.leaf("b")
    c = tape.apply(PRIMITIVES["add"], [a, b])
    d = tape.apply(PRIMITIVES["sin"], [c], "d")
    tape.names[c] = "c"  # after d: the adjoint program's builder names parts late
    tape.names[a] = "a2"
    assert [tape.names[i] for i in range(4)] == ["a2", "b", "c", "d"]
    program = tape.build([a, b], [d])
    assert list(program.names) == ["a2", "b", "c", "d"]


# --- memory --------------------------------------------------------------------------------------

STATEMENTS = 20_000
BYTES_PER_STATEMENT = 64  # measured about 36 (docs/performance.md); the issue asks for 150


@pytest.mark.parametrize("kind", ["chain", "dag"])
def test_a_parsed_program_holds_few_bytes_per_statement(kind):
    rng = np.random.default_rng(5)
    lines = ["input x, w"]
    for k in range(STATEMENTS):
        prev = f"v{k - 1}" if k else "x"
        other = "w" if kind == "chain" else f"v{rng.integers(k)}" if k else "w"
        lines.append(f"v{k} = {prev} * {other}" if k % 2 else f"v{k} = sin({prev})")
    text = "\n".join(lines) + "\n"
    parse("y = x")  # the parser itself is built outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        program = parse(text)
        gc.collect()
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(program) == STATEMENTS + 2
    assert held / STATEMENTS < BYTES_PER_STATEMENT, held / STATEMENTS


def test_the_reverse_sweep_schedule_is_compact_and_in_the_one_order():
    program = parse(random_program(300, n_outputs=2, seed=4))
    needs = depends(program, None)
    for output in program.output_index:
        schedule = sweep_schedule(program, needs, output)
        assert list(schedule) == list(sweep_terms(program, needs, output))
        assert schedule[3] == list(schedule)[3] and schedule[2:5] == list(schedule)[2:5]
        sizes = sum(a.itemsize * len(a) for a in (schedule.i, schedule.k, schedule.c))
        assert sizes + len(schedule.first) == 13 * len(schedule)


# --- the fast reader gives what Lark gives -------------------------------------------------------


def read_both(text):
    """(program or messages) from the fast reader and from Lark alone."""
    results = []
    for fast in (True, False):
        try:
            program = parse(text, "p.slp", fast=fast)
            results.append(("program", [list(getattr(program, c)) for c in (
                "ops", "args", "consts", "names", "lines", "columns")],
                program.input_names, program.output_names, program.output_index,
                program.assignments))
        except ProgramError as e:
            results.append(("errors", [d.format() for d in e.diagnostics]))
    return results


def assert_read_alike(text):
    fast, lark = read_both(text)
    assert fast == lark, text


CORPUS = ["examples/seed.slp", "examples/rosenbrock.slp", "examples/neuron.slp",
          "examples/decay.slp", "examples/decay_model.slp", "examples/speelpenning.slp",
          "examples/xor.slp", "examples/griewank.slp", "examples/griewank_adjoint.slp",
          "examples/griewank_mistake.slp"]


@pytest.mark.parametrize("path", CORPUS)
def test_the_examples_read_alike(path):
    with open(path, encoding="utf-8") as f:
        assert_read_alike(f.read())


def test_the_error_tables_read_alike():
    sources = [p.values[0].source for p in BAD_PROGRAMS] + [m[0] for m in MISTAKES]
    sources += _broken_programs()
    for source in sources:
        if isinstance(source, bytes):
            try:
                source = source.decode("utf-8")
            except UnicodeDecodeError:
                continue
        assert_read_alike(source)


def test_random_programs_and_odd_layouts_read_alike():
    for seed in range(6):
        assert_read_alike(random_program(150, n_outputs=1 + seed % 3, seed=seed))
    for text in ["y = x\r\nz = y * 2\r\n", "\n\n# only\n  y = x ;; z = -y # c\n\t\f",
                 "input x\ninput2 = x\noutputs = input2 + 1\noutput outputs",
                 "y = x ** -2 ^ +3; z = ((y))", "y = 1e999999 - -.5e-3", "y = pi * e",
                 "y = x\r", "y = x;\rz = 1", "y = sin(x, x)", "y = sinn(x)"]:
        assert_read_alike(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_programs(max_statements=10))
def test_valid_random_programs_read_alike(case):
    assert_read_alike(case[0])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_programs())
def test_mutated_random_programs_read_alike(case):
    data, _inputs = case
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    assert_read_alike(text)


def test_accumulations_and_aliases_are_replayed_as_lark_reads_them():
    from slpdiff.language import parser

    for text in ["a+=x;a-=x*2\na += a", "input x\nw = x\nw += -w;w -= 2\noutput w",
                 "a -= 3\nb = a\nb += a ^ 2\noutput a, b", "y = x\ny += 1\ny = 3",
                 "b = a\na += 1", "input x\nx -= 1"]:
        assert_read_alike(text)
    statements = ["input x"] + [f"a {'+-'[k % 2]}= x * {k}" for k in range(50)] + ["b = a"]
    text = "\n".join(statements)
    assert_read_alike(text)
    parse(text, "p.slp")
    assert parser._parser().replay.statements_read == len(statements)  # not left to Lark


def test_many_shapes_give_way_to_lark(monkeypatch):
    from slpdiff.language import replay

    monkeypatch.setattr(replay, "FEW_SHAPES", 2)
    text = "".join(f"v{k} = x{' + x' * k}\n" for k in range(40))
    assert_read_alike(text)


# --- the interpreted fast path at a point --------------------------------------------------------


def run_interpreted(program, at, wrt=None):
    inputs = [float(at[n]) for n in program.input_names]
    chosen = select(program, wrt)
    run = PointRun(program, depends(program, chosen.wrt_nodes), chosen.output_nodes)
    with np.errstate(all="ignore"):
        try:
            return run.run(inputs, chosen.output_nodes, chosen.wrt_nodes)
        except (ArithmeticError, ValueError):
            return None


def assert_interpreted_like_the_engine(program, at, wrt=None) -> bool:
    done = run_interpreted(program, at, wrt)
    if done is None:
        return False
    values, rows, nodes = done
    reference = slpdiff.evaluation.evaluate_reference(
        program, [engine.as_value(at[n]) for n in program.input_names], select(program, wrt))
    for got, want in zip(values, reference.values.values(), strict=True):
        assert same_bits(got, want)
    for row, want in zip(rows, reference.gradient.values(), strict=True):
        for got, expected in zip(row, want.values(), strict=True):
            assert same_bits(got, expected), (got, expected)
    for got, want in zip(nodes, reference.node_values, strict=True):
        assert same_bits(got, want)
    return True


@pytest.mark.parametrize("seed", range(8))
def test_the_interpreter_gives_the_engines_bits_on_random_programs(seed):
    rng = np.random.default_rng(seed)
    # every argument inside its function's domain for inputs in [-1, 1]: every point compares
    program = parse(column_program(seed, n_statements=80, tail=False))
    for _ in range(6):
        point = dict(zip("xyzw", rng.uniform(-1, 1, 4), strict=True))
        assert assert_interpreted_like_the_engine(program, point)
        assert assert_interpreted_like_the_engine(program, point, wrt=["y"])
    anything = parse(random_program(120, n_outputs=1 + seed % 3, seed=seed))
    for _ in range(4):  # often not finite: then there is nothing to compare
        assert_interpreted_like_the_engine(anything, dict(zip("xyz", rng.uniform(-2, 2, 3),
                                                              strict=True)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(smooth_programs(max_statements=12))
def test_the_interpreter_gives_the_engines_bits_on_smooth_programs(case):
    text, point = case
    assert assert_interpreted_like_the_engine(parse(text), point)


def test_every_primitive_through_the_interpreter():
    for name, prim in PRIMITIVES.items():
        if prim.kind != "function" or prim.reduces:
            continue
        args = ", ".join("ab"[:prim.arity])
        program = parse(f"u = {name}({args})\nv = u * a + {name}({args}) ^ 2")
        for point in ({"a": 0.3, "b": 0.7}, {"a": 1.5, "b": -0.4}, {"a": 2.0, "b": 2.0}):
            at = {n: point[n] for n in program.input_names}
            assert_interpreted_like_the_engine(program, at)


def test_which_path_runs_at_a_point():
    small = parse(random_program(20, seed=2))
    big = parse(random_program(400, seed=3))
    at_small = {n: 0.5 for n in small.input_names}
    at_big = {n: 0.5 for n in big.input_names}
    slpdiff.evaluate(small, at_small)
    assert not small.facts(POINT_RUN)  # a small program: the engine, nothing prepared
    first = slpdiff.evaluate(big, at_big)
    assert big.facts(POINT_RUN) and not big.facts(POINT_CODE)  # interpreted, not compiled
    # Compiled once the evaluations done would have paid for it, as the cost model says.
    pays = next(k for k in range(2, 10_000) if costs.cheapest(
        costs.point_costs(len(big), k, ["interpreted"])) == "compiled")
    for done in range(2, pays + 1):
        assert not big.facts(POINT_CODE), done
        last = slpdiff.evaluate(big, at_big)
    assert big.facts(POINT_CODE) and not big.facts(POINT_RUN)
    for out in first.values:
        assert same_bits(first.values[out], last.values[out])
        for x in first.gradient[out]:
            assert same_bits(first.gradient[out][x], last.gradient[out][x])


def test_non_finite_values_go_back_to_the_engine_for_their_warnings():
    program = parse("input x\n" + "".join(f"v{k} = x * {k + 1}\n" for k in range(300))
                    + "y = log(v299 - 300 * x) + v0\n")
    ev = slpdiff.evaluate(program, {"x": 1.0})
    assert ev.warnings and ev.warnings[0].line == 302
    assert math.isinf(float(ev.values["y"]))
    assert fast_path(program, [np.float64(1.0)], select(program)) is None
