"""The fast paths (slpdiff.fast: point, slices, all_rows) against the reference engine, bit for bit.

``slpdiff.evaluate`` runs a fast path once a program has been evaluated often enough (or at once
for arrays); these tests force it and compare every value and every partial derivative with the
reference engine (``engine.forward`` and ``engine.reverse_sweep``), on random programs from every
primitive of the table, at points and on arrays of points. The bound is 0 ulp:
the fast path calls the same numpy functions, or Python float arithmetic that the table states to
give the same bits (checked here row by row), and adds the same terms in the same order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import slpdiff
from fuzz.strategies import smooth_programs
from helpers import random_program, same_bits
from slpdiff.core import engine
from slpdiff.core.schedule import depends, select, supported
from slpdiff.evaluation import (
    ALL_ROWS,
    ALL_ROWS_CODE,
    POINT_CODE,
    POINT_PATHS,
    POINT_RUN,
    SLICE_CODE,
    expect,
    fast_path,
    force,
    force_compile,
)
from slpdiff.fast import all_rows, costs, point, slices
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.language.rules import rules_for
from slpdiff.optimize import optimize

SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -2.5, 3.0, 1e-310, -1e-310, 1e308, -1e308, math.inf,
           -math.inf, math.nan, 1e-5, 2.0000000000000004, 1.0425133694426776]


def spelled(prim, args):
    """The table's scalar spelling of ``prim`` evaluated on floats."""
    fns = point._Functions()
    names = [f"x{k}" for k in range(len(args))]
    env = dict(fns.env)
    expr = fns.call(prim, names)
    env.update(fns.env)
    env.update(zip(names, args, strict=True))
    return eval(expr, env)  # noqa: S307 - generated from the table


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items() if p.scalar))
def test_scalar_spelling_gives_numpys_bits(name):
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(3)
    values = SPECIAL + list(rng.normal(size=40)) + list(rng.uniform(-50, 50, 20))
    if prim.arity == 1:
        cases = [(v,) for v in values]
    else:
        cases = [(a, b) for a in values[:30] for b in values[:30]]
        cases += [(a, 2.0) for a in rng.uniform(-1e6, 1e6, 2000)]
    with np.errstate(all="ignore"):
        for args in cases:
            try:
                got = spelled(prim, [float(a) for a in args])
            except (ArithmeticError, ValueError):
                continue  # the fast path gives way to the engine here
            expected = prim.impl(*(np.float64(a) for a in args))
            assert same_bits(got, expected), (name, args, got, expected)
            assert type(got) is float


def test_spelling_with_literal_arguments_is_decided_when_generated():
    fns = point._Functions()
    assert fns.call(PRIMITIVES["pow"], ["t", "2.0"]) == "(t * t)"
    assert "if" in fns.call(PRIMITIVES["pow"], ["t", "v3"])
    assert fns.call(PRIMITIVES["sign"], ["(-2.0)"]) == "(-1.0)"


def reference(program, at, wrt=None, outputs=None):
    """Values and gradients by the reference engine alone (no fast path)."""
    inputs = [engine.as_value(at[n]) for n in program.input_names]
    values = engine.forward(program, inputs)
    chosen = select(program, wrt, outputs)
    wrt_index = chosen.wrt_nodes
    needs = depends(program, wrt_index)
    grads = []
    for o in chosen.output_nodes:
        adjoint, _ = engine.reverse_sweep(program, values, o, needs)
        grads.append([np.zeros_like(values[i])[()] if adjoint[i] is None else adjoint[i]
                      for i in wrt_index])
    return [values[o] for o in chosen.output_nodes], grads, values


def fast(program, at, wrt=None, path=None):
    """The fast path's results: compiled (slices, or all rows where they cannot), or ``path``."""
    if path is None:
        force_compile(program)
    else:
        force(program, path)
    inputs = [engine.as_value(at[n]) for n in program.input_names]
    return fast_path(program, inputs, select(program, wrt))


def assert_same(program, point, wrt=None, path=None) -> bool:
    """Compare the fast path with the engine; False (nothing compared) when the fast path gave
    the evaluation back to the engine."""
    done = fast(program, point, wrt, path)
    ref_values, ref_grads, ref_nodes = reference(program, point, wrt)
    if done is None:  # left to the engine: only when something is not finite or cannot be
        return False
    values, grads, nodes = done
    for got, want in zip(values, ref_values, strict=True):
        assert same_bits(got, want) and np.shape(got) == np.shape(want)
    for row, want_row in zip(grads, ref_grads, strict=True):
        for got, want in zip(row, want_row, strict=True):
            assert same_bits(got, want), (got, want)
            assert np.shape(got) == np.shape(want)
    assert len(nodes) == len(ref_nodes)
    for got, want in zip(nodes, ref_nodes, strict=True):
        assert same_bits(got, want)
    return True


@pytest.mark.parametrize("seed", range(12))
def test_random_programs_at_points_match_the_engine_bit_for_bit(seed):
    # Programs whose every function stays inside its domain (column_program: inputs in [-1, 1],
    # each result through tanh): every point must take the fast path and be compared.
    rng = np.random.default_rng(seed)
    program = slpdiff.parse(column_program(seed, n_statements=60, tail=False))
    points = [dict(zip("xyzw", rng.uniform(-1, 1, 4), strict=True)) for _ in range(9)]
    compared = [assert_same(program, p) for p in points[:-1]]
    compared.append(assert_same(program, points[-1], wrt=["y"]))
    assert compared == [True] * len(points)
    # The table's random programs leave their domains (nan in their first statements): there the
    # fast path must hand the point back to the engine, and only there.
    anything = slpdiff.parse(random_program(60, n_outputs=1 + seed % 3, seed=seed))
    for _ in range(4):
        point = dict(zip("xyz", rng.uniform(-2, 2, 3), strict=True))
        if not assert_same(anything, point):
            _, _, nodes = reference(anything, point)
            assert not all(np.isfinite(v) for v in nodes)


@pytest.mark.parametrize("seed", range(8))
def test_random_programs_on_arrays_match_the_engine_bit_for_bit(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    program = slpdiff.parse(column_program(100 + seed, n_statements=40, tail=seed % 4 == 1))
    if seed % 2:
        monkeypatch.setattr(all_rows, "CHUNK", 7)  # many slices, the last one short
        monkeypatch.setattr(all_rows, "BUDGET", 7 * 200)
        monkeypatch.setattr(slices, "MIN_ROWS", 7)
        monkeypatch.setattr(slices, "MAX_ROWS", 7)
    n = 3 + 10 * seed
    point = {x: rng.uniform(-1, 1, n) for x in "xyzw"}  # every argument in its domain
    assert assert_same(program, point)
    # a single number shared by every row, and its derivative summed over the rows
    point["w"] = 0.75
    assert assert_same(program, point)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(smooth_programs(max_statements=12))
def test_smooth_random_programs_run_fast_and_match(case):
    text, point = case
    program = slpdiff.parse(text)
    assert assert_same(program, point)
    rows = {x: v + np.linspace(-0.1, 0.1, 9) for x, v in point.items()}
    assert assert_same(program, rows)
    saved = all_rows.CHUNK, all_rows.BUDGET, slices.MIN_ROWS, slices.MAX_ROWS
    all_rows.CHUNK, all_rows.BUDGET = 4, 4 * 100  # slices of 4 rows: 4, 4, 1
    slices.MIN_ROWS = slices.MAX_ROWS = 4
    try:
        program.forget()
        assert assert_same(program, rows)
    finally:
        all_rows.CHUNK, all_rows.BUDGET, slices.MIN_ROWS, slices.MAX_ROWS = saved


def test_evaluate_gives_the_same_results_and_warnings_on_every_call():
    program = slpdiff.parse("input x, y\nu = x / y\nv = exp(u) * sin(x) + sqrt(y)\noutput v, u\n")
    points = [{"x": 1.0, "y": 2.0}, {"x": 1.0, "y": 0.0}, {"x": 800.0, "y": 1.0},
              {"x": -1.0, "y": -4.0}, {"x": 0.25, "y": 3.0}]
    first = [slpdiff.evaluate(program, p) for p in points]
    for path in POINT_PATHS:
        force(program, path)
        again = [slpdiff.evaluate(program, p) for p in points]
        for a, b in zip(first, again, strict=True):
            for out in a.values:
                assert same_bits(a.values[out], b.values[out])
                for x in a.gradient[out]:
                    assert same_bits(a.gradient[out][x], b.gradient[out][x])
            assert [(w.kind, w.line, w.argument, w.count) for w in a.warnings] == \
                [(w.kind, w.line, w.argument, w.count) for w in b.warnings]
    assert any(ev.warnings for ev in first)
    assert (bytes(depends(program, program.input_index)),
            tuple(program.output_index)) in program.facts(POINT_CODE)


def test_program_names_never_reach_generated_code():
    # Names that are the generated code's own, Python keywords' neighbours and builtins.
    names = ["V", "G", "_f", "float", "_p0", "a1", "v1", "t1", "_nan", "_inf", "__import__"]
    lines = [f"input {', '.join(names)}"]
    lines.append("s = " + " + ".join(f"{n} * {k + 1}" for k, n in enumerate(names)))
    lines.append("r = sin(s) * V + G / (1 + _f ^ 2)")
    program = slpdiff.parse("\n".join(lines) + "\n")
    point = {n: 0.1 * (k + 1) for k, n in enumerate(names)}
    assert assert_same(program, point)


def test_var_graphs_with_python_rules_stay_on_the_engine():
    from slpdiff import Var

    x = Var(value=0.5, name="x")
    y = Var(op=math.sin, children=[x], pds=[math.cos])
    program = slpdiff.Program.from_outputs([y])
    assert not supported(program)
    for _ in range(6):
        assert slpdiff.evaluate(program, {"x": 0.5}).gradient[program.output_names[0]]["x"] == \
            math.cos(0.5)


# --- arrays: the compiled slices (slpdiff.fast.slices) ------------------------------------------

ELEMENTWISE = sorted(name for name, p in PRIMITIVES.items()
                     if not p.reduces and any(r.const != 0.0 for r in rules_for(p)))


# Arguments kept inside each function's domain (every value below is in [-1, 1]).
DOMAIN = {("log", "a"): "1.5 + {}", ("sqrt", "a"): "1.5 + {}", ("pow", "a"): "1.5 + {}",
          ("powlog", "a"): "1.5 + {}", ("divide", "b"): "1.5 + {}", ("asin", "a"): "0.5 * {}",
          ("acos", "a"): "0.5 * {}", ("log1p", "a"): "0.5 * {}"}


def column_program(seed: int, n_statements: int = 30, tail: bool = True) -> str:
    """Random statements over columns x, y, z and a number w, from every elementwise function
    (its result through tanh, arguments inside its domain, so that values stay finite); then
    (``tail``) reductions of columns and numbers computed from them: sometimes linear with
    constants (one pass over the slices can give them), sometimes not (all rows at once)."""
    import random

    rng = random.Random(seed)
    names, lines = ["x", "y", "z", "w"], ["input x, y, z, w"]
    for i in range(n_statements):
        prim = PRIMITIVES[ELEMENTWISE[i % len(ELEMENTWISE)] if i < len(ELEMENTWISE)
                          else rng.choice(ELEMENTWISE)]
        args = [names[-1]] + [rng.choice(names[-8:] + names[:4]) for _ in prim.params[1:]]
        rng.shuffle(args)
        args = [DOMAIN.get((prim.name, p), "{}").format(a)
                for p, a in zip(prim.params, args, strict=True)]
        lines.append(f"u{i} = {prim.name}({', '.join(args)})")
        lines.append(f"v{i} = tanh(u{i})")
        names.append(f"v{i}")
    outputs = [names[-1], f"u{n_statements - 3}"]
    if tail:
        a, b = rng.sample(names[4:], 2)
        lines += [f"s = sum({a} * w)", f"m = mean({b} ^ 2)", f"c = count({a})"]
        if seed % 3 == 0:
            lines.append("t = s * m + c")  # a rule needs m: known only after every slice
        else:
            lines.append("t = 2 * s - m / 4 + c")
        outputs.append("t")
    return "\n".join([*lines, f"output {', '.join(outputs)}"]) + "\n"


def compiled(program):
    """The compiled slices made for ``program`` (False: all rows at once instead)."""
    return list(program.facts(SLICE_CODE).values())


def test_leaves_and_total_give_numpys_sum_bit_for_bit():
    rng = np.random.default_rng(5)
    for n in [1, 2, 7, 8, 9, 127, 128, 129, 255, 256, 257, 1000, 4097, 65537, 100_000]:
        x = rng.normal(size=n) * 10.0 ** rng.integers(-12, 12, n)
        for size in [128, 129, 300, 1024, 25_000]:
            blocks = slices.leaves(n, size)
            assert [lo for lo, _ in blocks] == [0] + [hi for _, hi in blocks[:-1]]
            assert blocks[-1][1] == n and all(hi - lo <= size for lo, hi in blocks)
            parts = [np.add.reduce(x[lo:hi]) for lo, hi in blocks]
            assert same_bits(slices.total(parts, n, size), np.sum(x)), (n, size)
    assert same_bits(slices.total([np.add.reduce(np.array([-0.0]))], 1, 128), np.sum([-0.0]))


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items() if p.reduces))
def test_every_reduction_combines_numpys_sum_into_its_own_result(name):
    prim = PRIMITIVES[name]
    assert prim.combine is not None
    rng = np.random.default_rng(6)
    for n in [1, 3, 128, 129, 1000, 33_333]:
        x = rng.normal(size=n) * 10.0 ** rng.integers(-5, 5, n)
        if prim.block is not None:  # the blocks' results, as the slices give them
            got = prim.combine([prim.block(x[lo:hi]) for lo, hi in slices.leaves(n, 128)], n)
        else:
            got = prim.combine(np.sum(x) if prim.combine_total else None, n)
        assert same_bits(got, prim.impl(x)) and type(got) is type(prim.impl(x)), (name, n)


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items()
                                        if isinstance(p.impl, np.ufunc)))
def test_ufuncs_signal_every_non_finite_result_from_finite_arguments(name):
    # The compiled slices rely on this to hand non-finite values to the engine.
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(7)
    finite = [v for v in SPECIAL if math.isfinite(v)]
    columns = [np.array(finite * 3 + list(rng.normal(size=20)) + list(rng.uniform(-800, 800, 20)))
               for _ in range(prim.arity)]
    for k in range(1, prim.arity):
        rng.shuffle(columns[k])
    with np.errstate(all="ignore"):
        result = prim.impl(*columns)
    for row in np.flatnonzero(~np.isfinite(result)):
        with pytest.raises(FloatingPointError), \
                np.errstate(over="raise", divide="raise", invalid="raise"):
            prim.impl(*[c[row:row + 1] for c in columns])
    if not np.isfinite(result).all():
        with pytest.raises(FloatingPointError), \
                np.errstate(over="raise", divide="raise", invalid="raise"):
            prim.impl(*columns)


@pytest.mark.parametrize("seed", range(10))
def test_compiled_slices_match_the_engine_at_every_slice_boundary(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    program = slpdiff.parse(column_program(seed, tail=False))
    slice_rows = 5
    monkeypatch.setattr(slices, "MIN_ROWS", slice_rows)
    monkeypatch.setattr(slices, "MAX_ROWS", slice_rows)
    for n in [1, slice_rows - 1, slice_rows, slice_rows + 1, 3 * slice_rows + 2]:
        point = {v: rng.uniform(-1, 1, n) for v in "xyz"}
        point["w"] = 0.625
        assert assert_same(program, point)
        point["w"] = rng.uniform(-1, 1, n)  # every input a column
        assert assert_same(program, point)
        point["x"] = -0.375  # a number whose derivative sums over the rows
        assert assert_same(program, point, wrt=["x", "z"])
    assert compiled(program) and all(code is not False for code in compiled(program))


@pytest.mark.parametrize("seed", range(12))
def test_compiled_slices_with_reductions_match_the_engine(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    program = slpdiff.parse(column_program(seed))
    monkeypatch.setattr(slices, "MIN_ROWS", 128)
    monkeypatch.setattr(slices, "MAX_ROWS", 128 + 8 * (seed % 4))
    for n in [1, 127, 128, 129, 1000, 2345]:
        point = {v: rng.uniform(-1, 1, n) for v in "xyz"}
        point["w"] = 0.625
        assert assert_same(program, point)
        assert assert_same(program, point, wrt=["w"])
    codes = compiled(program)
    assert codes and all((code is False) == (seed % 3 == 0) for code in codes)


@pytest.mark.parametrize("n", [1, 2, 127, 128, 129, 1000, 2345])
def test_maxrows_and_minrows_match_the_engine_on_slices_and_all_rows(n, monkeypatch):
    # Values only: each slice's maximum, combined after the slices (compiled). With derivatives:
    # the share of each row needs the maximum, known after the slices (all rows at once).
    monkeypatch.setattr(slices, "MIN_ROWS", 128)
    monkeypatch.setattr(slices, "MAX_ROWS", 136)
    rng = np.random.default_rng(n)
    linear = slpdiff.parse("input x, y\nu = sin(x) * y\nm = maxrows(u)\nk = minrows(u)\n"
                           "s = sum(u)\nt = m - 2 * k + s\noutput t\n")
    lse = slpdiff.parse("input x, y\nu = sin(x) * y\nm = maxrows(u)\n"
                        "l = log(sum(exp(u - m))) + minrows(x)\noutput l, u\n")
    x, y = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    if n > 2:  # ties at the maximum and the minimum, in different slices
        top, bottom = np.argmax(np.sin(x) * y), np.argmin(x)
        x[-1], y[-1], x[n // 2] = x[top], y[top], x[bottom]
    for program in (linear, lse):
        for wrt in ([], None, ["y"]):
            assert assert_same(program, {"x": x, "y": y}, wrt=wrt)
    assert compiled(linear)[0] is not False and compiled(lse) == [False] * len(compiled(lse))


def test_the_fit_and_the_network_run_on_compiled_slices_bit_for_bit(monkeypatch):
    fit = slpdiff.parse("input a, b, c, t, y\nr = a * exp(-b * t) + c - y\n"
                        "loss = mean(r^2)\noutput loss\n")
    t = np.linspace(0.0, 4.0, 10_000)
    point = {"a": 1.5, "b": 0.75, "c": 0.25, "t": t, "y": 2.0 * np.exp(-1.3 * t) + 0.5}
    monkeypatch.setattr(slices, "MAX_ROWS", 1500)
    assert assert_same(fit, point, wrt=["a", "b", "c"])
    assert [code is not False for code in compiled(fit)] == [True]
    net = slpdiff.parse("input x1, x2\nh0 = tanh(0.5 * x1 - 0.3 * x2 + 0.1)\n"
                        "h1 = tanh(-0.8 * x1 + 0.6 * x2)\ny = 1.2 * h0 - 0.9 * h1 + 0.1\n"
                        "output y\n")
    rows = np.random.default_rng(1).uniform(-1, 1, (2, 4099))
    assert assert_same(net, {"x1": rows[0], "x2": rows[1]})
    assert [code is not False for code in compiled(net)] == [True]


def test_compiled_slices_leave_non_finite_values_to_the_engine():
    program = slpdiff.parse("input x, w\nu = exp(x * w)\nv = log(u - 1)\noutput v\n")
    x = np.linspace(-1.0, 800.0, 3000)
    ev = slpdiff.evaluate(program, {"x": x, "w": 1.0})
    assert "value" in [w.kind for w in ev.warnings]
    assert assert_same(program, {"x": x[1000:], "w": 1.0}) is False
    assert assert_same(program, {"x": np.linspace(0.5, 2.0, 3000), "w": 1.0})
    x[5] = np.inf  # an input
    assert assert_same(program, {"x": x[:10], "w": 0.0}) is False


def test_non_finite_results_of_functions_that_are_not_ufuncs_are_left_to_the_engine():
    program = slpdiff.parse("input x, w\nu = powlog(x - 2, w)\nv = sigmoid(u) * x\noutput v\n")
    x = np.linspace(0.0, 1.0, 50)
    assert assert_same(program, {"x": x + 3.0, "w": 0.5})  # powlog of numbers above 1
    assert assert_same(program, {"x": x, "w": 0.5}) is False  # log of negative numbers: nan
    ev = slpdiff.evaluate(program, {"x": x, "w": 0.5})
    assert [w.kind for w in ev.warnings][:1] == ["value"]


@pytest.fixture
def given_costs(monkeypatch):
    """Costs per node of each path, the same at every size: simple numbers to reason about."""
    def given(**per_node):
        for name, value in per_node.items():
            monkeypatch.setattr(costs, name, (value,) * len(costs.SIZES)
                                if isinstance(getattr(costs, name), tuple) else value)
    return given


def test_the_cheapest_path_at_a_point_on_given_costs(given_costs):
    given_costs(ENGINE=10.0, INTERPRETED=1.0, INTERPRETER_SETUP=5.0, COMPILED=0.0, COMPILE=100.0,
                ENGINE_CALL=0.0, INTERPRETER_START=0.0)

    def choose(remaining, built=()):
        return costs.cheapest(costs.point_costs(1000, remaining, built))

    assert choose(0.5) == "engine"  # 5 against 5.5 and 100
    assert choose(1) == "interpreted"  # 10 against 6: the CLI's one evaluation
    assert choose(94) == "interpreted" and choose(96) == "compiled"  # 5 + 95 = 100
    assert choose(99, ["interpreted"]) == "interpreted"  # prepared: only the runs count
    assert choose(101, ["interpreted"]) == "compiled"
    assert choose(1, ["compiled"]) == "compiled"


def test_the_cheapest_path_on_rows_on_given_costs(given_costs):
    given_costs(SLICES_COMPILE=100.0, SLICE_PASS=0.0, SLICE_ROW=1.0, CHUNK_PASS=50.0,
                CHUNK_ROW=1.0, ALL_ROWS_SETUP=0.0)

    def choose(rows, chunk, remaining=1.0, built=()):
        return costs.cheapest(costs.rows_costs(10, rows, remaining, chunk, built))

    assert choose(1000, chunk=1000) == "all rows"  # one chunk: 50 against 100
    assert choose(1000, chunk=400) == "slices"  # three chunks: 150 against 100
    assert choose(1000, chunk=1000, remaining=3) == "slices"  # 150 against 100
    assert choose(1000, chunk=1000, remaining=3, built=["all rows"]) == "slices"
    assert choose(1000, chunk=400, built=["all rows"]) == "slices"
    assert choose(1000, chunk=1000, remaining=1.9, built=["all rows"]) == "all rows"


def test_the_measured_costs_choose_the_paths_the_benchmark_measured_fastest():
    # benchmarks/policy.py, docs/performance.md: which path was fastest for W2 random DAGs.
    def at_point(nodes, remaining):
        return costs.cheapest(costs.point_costs(nodes, remaining))

    def on_rows(nodes, rows, remaining=1):
        return costs.cheapest(costs.rows_costs(nodes, rows, remaining, all_rows.chunk_rows(nodes)))

    assert at_point(20, 1) == "engine" and at_point(400, 1) == "interpreted"
    for nodes in (10_000, 100_000, 1_000_000):
        assert at_point(nodes, 1) == "interpreted"  # slpdiff eval --at
    assert at_point(10_000, 101) == "interpreted"  # optimize --steps 100
    assert at_point(100_000, 101) == at_point(1_000_000, 101) == "compiled"
    assert on_rows(10_000, 1_000) == "all rows" and on_rows(10_000, 10_000) == "slices"
    assert on_rows(10_000, 1_000, remaining=101) == "slices"
    assert on_rows(100_000, 1_000) == "slices"  # all rows' chunks hold 83 rows


def dag_program(n: int, seed: int = 1) -> str:
    """A random DAG as benchmarks/run.py's W2: ``+ - *`` of the value before and a random earlier
    one, then ``sin`` or ``cos`` of it (the values stay finite)."""
    import random

    rng = random.Random(seed)
    lines = ["input x, w", "v0 = x * w"]
    for k in range(1, n):
        if k % 2:
            lines.append(f"v{k} = v{k - 1} {rng.choice('+-*')} v{rng.randrange(k)}")
        else:
            lines.append(f"v{k} = {rng.choice(['sin', 'cos'])}(v{k - 1})")
    return "\n".join(lines + [f"output v{n - 1}", ""])


def test_evaluate_takes_the_path_the_costs_choose_and_gives_the_same_bits_on_each():
    program = slpdiff.parse(dag_program(400))
    at = {"x": 0.7, "w": 0.3}
    first = slpdiff.evaluate(program, at)
    assert program.facts(POINT_RUN) and not program.facts(POINT_CODE)
    expect(program, 10_000)  # compiling pays for that many: at once
    again = slpdiff.evaluate(program, at)
    assert program.facts(POINT_CODE) and not program.facts(POINT_RUN)
    forced = []
    for path in POINT_PATHS:
        force(program, path)
        forced.append(slpdiff.evaluate(program, at))
    assert all(math.isfinite(g) for g in first.gradient["v399"].values())
    for ev in [again, *forced]:
        assert_same_evaluation(first, ev)


def test_on_rows_evaluate_compiles_slices_when_the_rows_pay_for_it():
    program = slpdiff.parse(column_program(2, tail=False))
    rows = np.random.default_rng(2).uniform(-1, 1, (3, 600))
    at = {"x": rows[0], "y": rows[1], "z": rows[2], "w": 0.25}
    first = slpdiff.evaluate(program, at)  # few rows, once: compiling would cost more
    assert program.facts(ALL_ROWS) and not compiled(program)
    expect(program, 1_000)
    again = slpdiff.evaluate(program, at)
    assert compiled(program) and compiled(program)[0] is not False
    force(program, "all rows")
    assert_same_evaluation(first, again)
    assert_same_evaluation(first, slpdiff.evaluate(program, at))


def test_optimize_compiles_at_once_when_its_step_limit_pays_for_it():
    def compiled_at_each_step(steps: int) -> list[bool]:
        program = slpdiff.parse(dag_program(400))
        seen = []
        optimize(program, {"x": 0.7, "w": 0.3}, "gd", lr=1e-12, steps=steps, tol=0.0,
                 callback=lambda step: seen.append(bool(program.facts(POINT_CODE))))
        return seen

    assert set(compiled_at_each_step(5)) == {False}
    assert set(compiled_at_each_step(1_000)) == {True}  # from the first step on


def assert_same_evaluation(a, b) -> None:
    for out in a.values:
        assert same_bits(a.values[out], b.values[out])
        for x in a.gradient[out]:
            assert same_bits(a.gradient[out][x], b.gradient[out][x])


def test_large_programs_run_over_all_rows_at_once_with_the_same_bits(monkeypatch):
    monkeypatch.setattr(slices, "MAX_NODES", 10)
    program = slpdiff.parse(column_program(4, tail=True))
    rows = np.random.default_rng(4).uniform(-1, 1, (3, 300))
    assert assert_same(program, {"x": rows[0], "y": rows[1], "z": rows[2], "w": 0.25})
    assert compiled(program) == [False]


def test_results_the_caller_keeps_are_never_reused_and_others_are():
    program = slpdiff.parse("input x, w\ny = sin(x) * w\noutput y\n")
    force_compile(program)  # the compiled slices keep their results for reuse; the costs may
    x = np.linspace(0, 1, 5000)  # choose all rows at once for the first calls (fresh arrays)

    def address(a):
        return a.__array_interface__["data"][0]

    first = slpdiff.evaluate(program, {"x": x, "w": 2.0})
    y, gx = first.values["y"], first.gradient["y"]["x"]
    second = slpdiff.evaluate(program, {"x": x, "w": 3.0})
    assert not np.shares_memory(second.values["y"], y)
    assert same_bits(y, np.sin(x) * 2.0) and same_bits(gx, np.cos(x) * 2.0)  # unchanged
    del first, y, gx
    part = second.values["y"][::2]  # a view holds its base
    third = slpdiff.evaluate(program, {"x": x, "w": 4.0})
    assert not np.shares_memory(third.values["y"], part)
    assert same_bits(part, (np.sin(x) * 3.0)[::2])
    held = address(third.values["y"])
    del second, part, third  # nobody holds the results now: their memory serves again
    fourth = slpdiff.evaluate(program, {"x": x, "w": 5.0})
    assert address(fourth.values["y"]) == held
    assert same_bits(fourth.values["y"], np.sin(x) * 5.0)


def test_evaluations_in_threads_at_once_give_the_same_bits():
    from concurrent.futures import ThreadPoolExecutor

    program = slpdiff.parse(column_program(2, tail=True))
    rng = np.random.default_rng(2)
    points = [{"x": rng.uniform(-1, 1, 20_000), "y": rng.uniform(-1, 1, 20_000),
               "z": rng.uniform(-1, 1, 20_000), "w": 0.5 + k / 8} for k in range(8)]
    alone = [slpdiff.evaluate(program, p) for p in points]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: slpdiff.evaluate(program, p), points * 3))
    for a, b in zip(alone * 3, together, strict=True):
        for out in a.values:
            assert same_bits(a.values[out], b.values[out])
            for x in a.gradient[out]:
                assert same_bits(a.gradient[out][x], b.gradient[out][x])
    assert [code is not False for code in compiled(program)] == [True]


# --- all rows at once, compiled (fast.all_rows.AllRowsCode) ------------------------------------

ROWS_MEET = [
    "input x\nA = maxrows(x)\ny = log(sum(exp(x - A))) + A\noutput y\n",  # GradBench's lse
    "input x, y\nu = sin(x) * y\nm = maxrows(u)\nl = log(sum(exp(u - m))) + minrows(x)\n"
    "output l, u\n",
    "input x, w\nu = x * w\nm = mean(u)\nv = (u - m)^2 / (1 + m^2)\ns = sum(v * x) - count(x)\n"
    "output v, s, u\n",
    "input x, w\ny = x\nz = sum(x) * w\noutput y, z\n",  # an input handed back
    "input x, w\nq = exp(x * w)\nt = q / sum(q) - q\noutput t, q\n",  # seed-skipped partials
]


def all_rows_codes(program):
    return [c for c in program.facts(ALL_ROWS_CODE).values() if c is not None]


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("text", ROWS_MEET)
def test_programs_whose_rows_meet_match_the_engine_compiled_and_interpreted(text, compiled,
                                                                          monkeypatch):
    if not compiled:
        monkeypatch.setattr(all_rows, "COMPILE_MAX_NODES", 0)
    program = slpdiff.parse(text)
    rng = np.random.default_rng(len(text))
    for n in (1, 2, 7, 129, 3000):
        point = {"x": rng.uniform(-1, 1, n), "y": rng.uniform(-1, 1, n), "w": 0.75}
        point = {k: v for k, v in point.items() if k in program.input_names}
        if n > 2:  # ties at the maximum
            point["x"][n // 2] = point["x"].max()
        for wrt in ([], None, ["x"]):
            assert assert_same(program, point, wrt=wrt, path="all rows")
    assert bool(all_rows_codes(program)) == compiled


@pytest.mark.parametrize("seed", [0, 3, 6, 9])
def test_random_programs_with_reductions_compiled_for_all_rows_match_the_engine(seed):
    program = slpdiff.parse(column_program(seed, n_statements=25, tail=True))
    rows = np.random.default_rng(seed).uniform(-1, 1, (3, 500))
    point = {"x": rows[0], "y": rows[1], "z": rows[2], "w": 0.25}
    assert assert_same(program, point, path="all rows")  # where the slices could run it too
    assert assert_same(program, point, wrt=["w", "y"], path="all rows")
    assert all_rows_codes(program)


def test_compiled_all_rows_share_no_array_with_the_caller_or_between_results():
    x = np.linspace(-1.0, 1.0, 50)
    for text in ROWS_MEET[2:]:
        program = slpdiff.parse(text)
        expect(program, 2)  # compiled at once (else on the second evaluation)
        values, grads, _ = fast(program, {"x": x, "w": 2.0}, path="all rows")
        arrays = [a for a in [*values, *(g for row in grads for g in row)] if np.ndim(a)]
        assert all_rows_codes(program) and len(arrays) >= 3
        for k, a in enumerate(arrays):
            assert a.flags.writeable and not np.shares_memory(a, x)
            assert not any(np.shares_memory(a, b) for b in arrays[k + 1:])


def test_compiled_all_rows_results_serve_again_only_when_let_go():
    program = slpdiff.parse(ROWS_MEET[0])
    x = np.random.default_rng(1).standard_normal(4000)

    def address(a):
        return a.__array_interface__["data"][0]

    def gradient(scale):
        return slpdiff.evaluate(program, {"x": x * scale}).gradient["y"]["x"]

    kept = [gradient(1.0), gradient(2.0), gradient(3.0)]  # all held: three arrays
    assert len({address(g) for g in kept}) == 3
    want = [numpy_softmax(x * s) for s in (1.0, 2.0, 3.0)]
    assert all(np.allclose(g, w, rtol=1e-12, atol=1e-300) for g, w in zip(kept, want,
                                                                            strict=True))
    del kept
    result, addresses = None, []
    for scale in (1.0, 2.0, 1.0, 2.0):  # a loop that holds the last result: two arrays in turn
        result = gradient(scale)
        addresses.append(address(result))
    assert addresses[0] == addresses[2] and addresses[1] == addresses[3] != addresses[0]
    assert same_bits(result, gradient(2.0))


def numpy_softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_compiled_all_rows_leave_non_finite_values_to_the_engine():
    program = slpdiff.parse(ROWS_MEET[0])
    x = np.linspace(-1.0, 1.0, 100)
    assert assert_same(program, {"x": x}, path="all rows") and not all_rows_codes(program)
    assert assert_same(program, {"x": x}, path="all rows") and all_rows_codes(program)
    for bad in (-np.inf, np.inf, np.nan):  # -inf: max and exp hide it, the input check not
        y = x.copy()
        y[7] = bad
        assert assert_same(program, {"x": y}, path="all rows") is False
        assert slpdiff.evaluate(program, {"x": y}).warnings
    overflow = slpdiff.parse("input x\nm = maxrows(x)\ny = sum(exp(x - m + 800))\noutput y\n")
    expect(overflow, 2)
    assert assert_same(overflow, {"x": x}, path="all rows") is False  # numpy raises exp's
    not_ufunc = slpdiff.parse("input x, w\nu = powlog(x, w) - maxrows(x)\ny = sum(u)\n"
                              "output y\n")
    expect(not_ufunc, 2)
    assert assert_same(not_ufunc, {"x": x + 2.0, "w": 0.5}, path="all rows")
    assert assert_same(not_ufunc, {"x": x, "w": 0.5}, path="all rows") is False  # log(-x): nan
    assert all_rows_codes(overflow) and all_rows_codes(not_ufunc)


def test_summed_negation_is_the_negated_sum_bit_for_bit():
    # The compiled all-rows sweep sums a term of -1 into a number's adjoint as 0.0 - sum(a)
    # where the engine sums a * -1: equal for every length numpy's pairwise sum splits
    # differently, with zeros of both signs and cancellations.
    rng = np.random.default_rng(5)
    for n in [*range(1, 300), 1000, 4097, 65537, 1_000_003]:
        a = rng.standard_normal(n) * np.exp(rng.uniform(-30, 30, n))
        a[rng.integers(0, n, max(1, n // 5))] = 0.0
        a[rng.integers(0, n, max(1, n // 7))] *= -0.0
        for column in (a, np.abs(a) * 0.0, -np.abs(a) * 0.0, np.concatenate([a, -a])):
            assert same_bits(0.0 - np.add.reduce(column, None),
                             np.add.reduce(column * -1.0, None)), n


def test_threads_evaluating_a_compiled_all_rows_program_at_once_give_the_same_bits():
    import threading

    program = slpdiff.parse(ROWS_MEET[0])
    xs = [np.random.default_rng(k).standard_normal(20_000) for k in range(4)]
    want = [slpdiff.evaluate(program, {"x": x}).gradient["y"]["x"].copy() for x in xs]
    found: dict[int, list] = {k: [] for k in range(4)}

    def work(k):
        for _ in range(20):
            found[k].append(slpdiff.evaluate(program, {"x": xs[k]}).gradient["y"]["x"])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(same_bits(g, want[k]) for k in range(4) for g in found[k])


def test_a_term_of_minus_one_summed_over_zeros_keeps_the_engines_zero():
    # m's adjoint is sum(z * -1) = +0.0 for z all -0.0 (never -0.0: numpy's sum adds to +0.0);
    # x's adjoint -0.0 + share * m's adjoint is then +0.0, as in the engine.
    program = slpdiff.parse("input x, z\nm = maxrows(x)\ny = sum((x - m) * z)\noutput y\n")
    expect(program, 2)
    x = np.linspace(-1.0, 1.0, 300)
    assert assert_same(program, {"x": x, "z": np.full(300, -0.0)}, path="all rows")
    assert all_rows_codes(program)
    gradient = slpdiff.evaluate(program, {"x": x, "z": np.full(300, -0.0)}).gradient["y"]["x"]
    assert same_bits(gradient, np.zeros(300))


def test_compiled_all_rows_on_fewer_rows_after_more_give_the_engines_bits():
    program = slpdiff.parse(ROWS_MEET[1])
    expect(program, 10)
    rng = np.random.default_rng(8)
    for n in (500, 7, 500, 499, 1):  # the buffers of 500 rows serve the fewer
        point = {"x": rng.uniform(-1, 1, n), "y": rng.uniform(-1, 1, n)}
        assert assert_same(program, point, path="all rows")
        assert assert_same(program, point, wrt=["x"], path="all rows")
    assert all_rows_codes(program)
