"""Rules specialised at a node's constant arguments (``rules.specialise``): what folds, that each
fold gives the unfolded rule's bits on hard values, what must not fold, and every evaluator folding
the same way (the engine, the fast paths, forward mode, the adjoint programs)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_fast_path import assert_same, compiled

import slpdiff
from fuzz.strategies import FOLDING_CONSTANTS, constant_argument_programs
from helpers import run_slpdiff, same_bits
from slpdiff.core import engine, schedule, tangent
from slpdiff.core.schedule import depends, plan, sweep_schedule
from slpdiff.evaluation import ALL_ROWS_CODE, force_compile
from slpdiff.fast import slices
from slpdiff.language import rules
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.language.rules import EXACT_IDENTITIES, cost, rules_for, specialise

# Every kind of float64: zeros of both signs, subnormals, the extremes, infinities, NaN.
HARD = [0.0, -0.0, 5e-324, -5e-324, 1e-310, -2.2250738585072014e-308, 2.2250738585072014e-308,
        1e-160, 1e-5, 0.5, 1.0, -1.0, 1.5, -2.5, 3.0, 1.0000000000000002, 1e16, 1e154, 1e300,
        -1e300, 1.7976931348623157e308, -1.7976931348623157e308, math.inf, -math.inf, math.nan]
CONSTANTS = [1.0, 2.0, 3.0, 0.5, -1.0, 0.0, -0.0, 1e-3, 1e300, 5e-324, math.inf, math.nan]


def hard_column(seed: int = 0) -> np.ndarray:
    """HARD, and random float64 bit patterns (NaNs of every payload among them)."""
    rng = np.random.default_rng(seed)
    random_bits = rng.integers(0, 2**64, 20_000, dtype=np.uint64).view(np.float64)
    return np.concatenate([np.array(HARD), random_bits])


@pytest.mark.parametrize("name", sorted(EXACT_IDENTITIES))
def test_each_identity_gives_back_its_operand_bit_for_bit(name):
    prim = PRIMITIVES[name]
    x = hard_column()
    for position, value in EXACT_IDENTITIES[name]:
        for operand in (x, x[::3]):  # contiguous and strided
            args = [operand, operand]
            args[position] = value
            with np.errstate(all="ignore"):
                assert same_bits(prim.impl(*args), operand), (name, position)
                assert same_bits(prim.impl(*(np.float64(a) if k == position else a
                                             for k, a in enumerate(args))), operand)
        for v in HARD:  # one number, as the engine and the point paths compute it
            args = [v, v]
            args[position] = value
            with np.errstate(all="ignore"):
                assert same_bits(prim.impl(*(np.float64(a) for a in args)), v), (name, v)


def test_sum_with_zero_and_product_by_zero_are_not_identities():
    with np.errstate(all="ignore"):
        assert not same_bits(np.add(-0.0, 0.0), -0.0)  # x + 0 is +0.0 at x = -0.0
        assert not same_bits(np.subtract(0.0, -0.0), -0.0) and same_bits(
            np.subtract(-0.0, -0.0), 0.0)  # x - -0.0 is x + 0
        for x in [math.inf, math.nan, -3.0]:  # 0 * x: nan, nan, -0.0
            assert not same_bits(np.multiply(0.0, x), 0.0)
    zeros = [(name, k, math.copysign(1.0, v)) for name, pairs in EXACT_IDENTITIES.items()
             for k, v in pairs if v == 0.0]
    assert sorted(zeros) == [("add", 0, -1.0), ("add", 1, -1.0), ("subtract", 1, 1.0)]


def _rule(text: str, prim: str = "hypot"):
    """A rule written in the table's language over ``prim``'s parameters (as the table's are)."""
    return rules._compile(PRIMITIVES[prim], "a", text)


def test_sums_with_zero_and_products_by_zero_stay_in_a_rule():
    for text, known in [("a + b", 0.0), ("b + a", 0.0), ("b * a", 0.0), ("a * b", 0.0),
                        ("a - b", -0.0), ("b * a", math.nan), ("a ^ b", 0.0)]:
        rule = _rule(text)
        folded = specialise(rule, (None, known))
        assert folded is rule, text
        x = hard_column()
        with np.errstate(all="ignore"):
            assert same_bits(folded.fn(x, known, None), rule.fn(x, known, None))
    for text, known in [("a + b", -0.0), ("b + a", -0.0), ("a - b", 0.0), ("a * b", 1.0),
                        ("b * a", 1.0), ("a / b", 1.0), ("a ^ b", 1.0)]:
        rule = _rule(f"sin({text})")  # folded to sin(a)
        folded = specialise(rule, (None, known))
        assert cost(folded) == cost(rule) - 1, text
        assert [s[0] for s, used in zip(folded.steps, folded.used, strict=True) if used] == [
            "param", "op"], text


def test_the_rule_of_a_square_is_two_times_its_argument():
    rule = rules_for(PRIMITIVES["pow"])[0]  # b * a^(b - 1)
    folded = specialise(rule, (None, 2.0))
    used = [s for s, u in zip(folded.steps, folded.used, strict=True) if u]
    assert used == [("param", 0), ("const", 2.0), ("op", PRIMITIVES["multiply"], (1, 0))]
    assert (cost(rule), cost(folded)) == (4, 2)
    x = hard_column()
    with np.errstate(all="ignore"):
        assert same_bits(folded.fn(x, 2.0, x * x), 2.0 * x)
        assert same_bits(folded.fn(x, 2.0, x * x), rule.fn(x, np.float64(2.0), x * x))
    assert folded.fn(3.0, 2.0, 9.0) == 6.0 and folded.fn(-0.25, 2.0, 0.0625) == -0.5
    # x^3: 3 * x^2, one operation less (numpy squares exactly for the exponent 2)
    cube = specialise(rule, (None, 3.0))
    assert cost(cube) == 3 and cube.fn(2.0, 3.0, 8.0) == 12.0
    # the same rule object for the same constant: made once
    assert specialise(rule, (None, 2.0)) is folded
    assert specialise(rule, (None, 2.0000000000000004)) is not folded


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items()
                                        if p.arity == 2 and p.kind != "custom"))
def test_every_rule_at_every_constant_gives_the_unfolded_bits(name):
    prim = PRIMITIVES[name]
    x = hard_column(1)
    for rule in rules_for(prim):
        for k in range(2):
            for value in CONSTANTS:
                known = [None, None]
                known[k] = value
                folded = specialise(rule, tuple(known))
                assert cost(folded) <= cost(rule)
                assert folded.const != 0.0 or rule.const == 0.0  # never made 0, kept 0 (equal)
                args = [x, x]
                args[k] = np.float64(value)
                with np.errstate(all="ignore"):
                    out = prim.impl(*args)
                    want = rule.fn(*args, out) if rule.const is None else rule.const
                    got = folded.fn(*args, out) if folded.const is None else folded.const
                assert same_bits(np.broadcast_to(got, np.shape(want)), want), \
                    (name, rule.param, k, value)


def test_the_sweep_carries_the_specialised_rule_and_the_slices_make_fewer_passes():
    text = "input x, y\nz = x^2 * y + x / 1 + 1 * y\noutput z\n"
    program = slpdiff.parse(text)
    terms = list(sweep_schedule(program, depends(program, None), program.output_index[0]))
    folded = [e for e in terms if e.rule is not rules_for(program.ops[e.i])[e.k]]
    assert sorted(program.ops[e.i].name for e in folded) == ["divide", "multiply", "pow"]
    x = np.linspace(-2.0, 2.0, 5000)
    force_compile(program)  # the compiled slices, whatever the costs choose for 5,000 rows
    ev = slpdiff.evaluate(program, {"x": x, "y": 3.0})
    (code,) = compiled(program)
    backward = code.source.split("def _bwd")[1].split("def _epi")[0]
    assert "out=" in backward and backward.count("(2.0, ") == 1
    power = code._fn(np.power)
    assert f"{power}(" not in backward  # x^2's partial is 2 * x: no power per row
    assert same_bits(ev.gradient["z"]["x"], 3.0 * (2.0 * x) + 1.0)


def _unspecialised(monkeypatch):
    monkeypatch.setattr(schedule, "specialise", lambda rule, known: rule)


def _finite_inside(program, at) -> bool:
    """Every node's value and every adjoint of the engine's sweep finite."""
    inputs = [engine.as_value(at[n]) for n in program.input_names]
    values = engine.forward(program, inputs)
    needs = depends(program, schedule.select(program).wrt_nodes)
    adjoints = [engine.reverse_sweep(program, values, o, needs)[0] for o in program.output_index]
    return all(engine.all_finite(v) for v in values) and all(
        a is None or engine.all_finite(a) for row in adjoints for a in row)


def _engine(program, at):
    chosen = schedule.select(program)
    inputs = [engine.as_value(at[n]) for n in program.input_names]
    return engine.evaluate_reference(program, inputs, chosen)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(constant_argument_programs())
def test_folded_programs_give_the_unfolded_bits_in_every_evaluator(case):
    text, _ = case
    rng = np.random.default_rng(len(text))
    columns = {"x": rng.choice(HARD + list(rng.uniform(-3, 3, 40)), 300),
               "y": rng.choice(HARD + list(rng.uniform(-3, 3, 40)), 300)}
    smooth = {"x": rng.uniform(0.5, 1.5, 300), "y": rng.uniform(0.5, 1.5, 300)}
    points = [{"x": float(columns["x"][k]), "y": float(columns["y"][k])} for k in range(12)]
    program = slpdiff.parse(text)
    with pytest.MonkeyPatch.context() as patch:
        _unspecialised(patch)
        before = slpdiff.parse(text)
        want = [_engine(before, at) for at in [columns, smooth, *points]]
        want_jvp = tangent.sweep(before, [columns["x"], columns["y"]],
                                 tangent.seeds_for(before, [columns["x"], columns["y"]], [0, 1]),
                                 2).tangents[before.output_index[0]]
    got = [_engine(program, at) for at in [columns, smooth, *points]]
    for a, b in zip(got, want, strict=True):
        for name in a.values:
            assert same_bits(a.values[name], b.values[name])
            for x in ("x", "y"):
                assert same_bits(a.gradient[name][x], b.gradient[name][x]), (text, x)
    got_jvp = tangent.sweep(program, [columns["x"], columns["y"]],
                            tangent.seeds_for(program, [columns["x"], columns["y"]], [0, 1]),
                            2).tangents[program.output_index[0]]
    assert same_bits(got_jvp, want_jvp)
    for at in [columns, smooth, *points]:
        assert_same(program, at)  # the fast paths against the engine, where they run
    # left to the engine only where something is not finite, if only an adjoint that no output
    # sees (equal's rule is 0: an infinite adjoint of its result reaches no input)
    assert assert_same(slpdiff.parse(text), smooth) or not _finite_inside(program, smooth)


@pytest.mark.parametrize("constant", FOLDING_CONSTANTS)
def test_the_fast_paths_fold_as_the_engine_does_at_each_constant(constant, monkeypatch):
    text = (f"input x, y\nu = x ^ ({constant}) + (x * ({constant})) / ({constant}) - y\n"
            f"v = u * ({constant}) + ({constant}) * y - ({constant})\nw = v + ({constant})\n"
            "output w\n")
    program = slpdiff.parse(text)
    rng = np.random.default_rng(3)
    rows = {"x": rng.uniform(0.5, 2.0, 2049), "y": rng.uniform(-1.0, 1.0, 2049)}
    monkeypatch.setattr(slices, "MAX_ROWS", 512)
    assert assert_same(program, rows) or constant in ("0", "-0.0")  # x / 0 is left to the engine
    for k in range(0, 2049, 300):
        assert_same(program, {"x": float(rows["x"][k]), "y": float(rows["y"][k])})


def test_forward_mode_uses_the_specialised_rules():
    program = slpdiff.parse("input x\ny = x^2\noutput y\n")
    i = program.output_index[0]
    layout = plan(program)
    (rule, _) = layout.rules_at(i, program.args[i])
    assert cost(rule) == 2 and rule is not rules_for(PRIMITIVES["pow"])[0]
    jvp = tangent.sweep(program, [np.float64(-3.0)], {program.input_index[0]: np.ones(1)}, 1)
    assert jvp.tangents[i].tolist() == [-6.0]


def test_grad_shows_the_folded_rule_and_its_values_are_unchanged(tmp_path):
    path = tmp_path / "square.slp"
    path.write_text("input x, y\nz = x^2 * y + x / 1\noutput z\n")
    unfolded = run_slpdiff("grad", "--unfolded", path)
    assert unfolded.returncode == 0, unfolded.stderr
    lines = unfolded.stdout.splitlines()
    assert "x_bar += z_1_bar * (2 * x)" in lines  # was (2 * x^(2 - 1))
    assert "x_bar += z_3_bar" in lines  # was z_3_bar * (1 / 1)
    assert "d_z_d_x = 1 + y * (2 * x)" in run_slpdiff("grad", path).stdout.splitlines()
    for x, y in [(3.0, 2.0), (-0.0, 5.0), (1e-310, -1.0), (1e200, 1e-100)]:
        done = run_slpdiff("eval", path, "--at", f"x={x!r}", "--at", f"y={y!r}",
                           "--format", "json")
        assert done.returncode == 0, done.stderr
        gradient = json.loads(done.stdout)["gradient"]["z"]
        assert float(gradient["x"]) == 2.0 * x * y + 1.0 and float(gradient["y"]) == x * x


def test_a_term_of_minus_one_is_subtracted_in_one_call_with_the_engines_bits(monkeypatch):
    program = slpdiff.parse("input x, y\nu = y - x\nz = u * x\noutput z\n")
    x = hard_column(2)[:5000]
    rows = {"x": np.where(np.isfinite(x), x, 1.0) % 7.0, "y": np.linspace(-3.0, 3.0, 5000)}
    rows["x"][:4] = [-0.0, 0.0, 5e-324, -1e-310]
    monkeypatch.setattr(slices, "MAX_ROWS", 1024)
    assert assert_same(program, rows)
    (code,) = compiled(program)
    backward = code.source.split("def _bwd")[1].split("def _epi")[0]
    subtract, multiply = code._fn(np.subtract), code._fn(np.multiply)
    assert f"{subtract}(" in backward and f"{multiply}(" not in backward  # no x_bar * -1
    # x_bar = u - x, as the engine's u + x * -1 gives it, the sign of a zero included
    ev = slpdiff.evaluate(program, rows)
    assert same_bits(ev.gradient["z"]["x"], (rows["y"] - rows["x"]) + rows["x"] * -1.0)


def test_all_rows_at_once_subtract_a_term_of_minus_one_with_the_engines_bits(monkeypatch):
    monkeypatch.setattr(slices, "MAX_NODES", 0)  # every program over all rows at once
    program = slpdiff.parse("input x, y\nu = y - x\nv = u * x - (y - u)\nz = v * u\noutput z\n")
    rng = np.random.default_rng(4)
    rows = {"x": rng.uniform(-2.0, 2.0, 3000), "y": rng.uniform(-2.0, 2.0, 3000)}
    rows["x"][:3] = [-0.0, 0.0, 5e-324]
    rows["y"][:3] = [0.0, -0.0, -5e-324]
    assert assert_same(program, rows)
    assert compiled(program) == [False]
    # compiled all-rows code: a term of -1 into a number's adjoint is 0.0 - sum(a)
    meet = slpdiff.parse("input x, y\nu = y - x\nm = maxrows(u)\nv = u * x - (y - u) - m\n"
                         "z = sum(v * u) - m\noutput z\n")
    for wrt in (None, None, ["y"]):  # interpreted, then compiled
        assert assert_same(meet, rows, wrt=wrt, path="all rows")
    (code,) = [c for c in meet.facts(ALL_ROWS_CODE).values() if c is not None][:1]
    assert "0.0 - _add(" in code.source


def test_a_square_in_a_rule_is_computed_as_numpys_square_with_powers_bits():
    x = hard_column(5)
    with np.errstate(all="ignore"):
        assert same_bits(np.square(x), np.power(x, 2.0))
        assert same_bits(np.square(x[::5]), np.power(x[::5], np.float64(2.0)))
        for v in HARD:
            assert same_bits(np.square(np.float64(v)), np.power(np.float64(v), 2.0))
    rule = rules_for(PRIMITIVES["tanh"])[0]  # 1 - tanh(a)^2
    calls: list[str] = []
    rules.render(rule, param=str, const=repr, own=lambda: "own",
                 apply=lambda prim, operands, _j: calls.append(prim.name) or prim.name,
                 numeric=True)
    assert calls == ["square", "subtract"]
    calls.clear()
    rules.render(rule, param=str, const=repr, own=lambda: "own",
                 apply=lambda prim, operands, _j: calls.append(prim.name) or prim.name)
    assert calls == ["pow", "subtract"]  # as written out (grad): tanh(x)^2
    program = slpdiff.parse("input x\ny = tanh(x)\noutput y\n")
    force_compile(program)
    ev = slpdiff.evaluate(program, {"x": np.linspace(-3.0, 3.0, 4000)})
    (code,) = compiled(program)
    assert f"{code._fn(np.square)}(" in code.source and f"{code._fn(np.power)}(" not in code.source
    assert same_bits(ev.gradient["y"]["x"], 1.0 - np.power(np.tanh(np.linspace(-3, 3, 4000)), 2.0))


def test_the_fit_squares_its_residuals_without_power_and_with_the_engines_bits(monkeypatch):
    fit = slpdiff.parse("input a, b, c, t, y\nr = a * exp(-b * t) + c - y\n"
                        "loss = mean(r^2)\noutput loss\n")
    t = np.linspace(0.0, 4.0, 10_000)
    point = {"a": 1.5, "b": 0.75, "c": 0.25, "t": t, "y": 2.0 * np.exp(-1.3 * t) + 0.5}
    point["y"][:3] = [1.5 + 0.25 + 0.0, -1e-310, 1e150]  # r = 0, subnormal, huge
    monkeypatch.setattr(slices, "MAX_ROWS", 1500)
    assert assert_same(fit, point, wrt=["a", "b", "c"])
    (code,) = compiled(fit)
    assert f"{code._fn(np.power)}(" not in code.source  # neither r^2 nor its rule's r^1
    assert code.source.count(f"{code._fn(np.square)}(") == 1
    assert len(code.ins) == 16  # 7 forward, 9 in the sweep (17 before the folds)


def test_a_repeated_step_of_a_rule_is_computed_once_with_the_same_bits(monkeypatch):
    # maxrows' rule writes equal(a, maxrows(a)) twice: every evaluator computes it once.
    share = rules.rules_for(PRIMITIVES["maxrows"])[0]
    calls = [step[1].name for step, used in zip(share.steps, share.used, strict=True)
             if used and step[0] == "op"]
    assert sorted(calls) == ["divide", "equal", "sum"]
    x = hard_column(3)
    x = x[np.isfinite(x)][:500]
    x[[7, 90, 300]] = np.max(x)  # ties at the maximum
    unshared = {}
    monkeypatch.setattr(rules, "_shared", lambda steps, result: (steps, result))
    for prim in PRIMITIVES.values():
        for param, text in zip(prim.params, prim.partials, strict=True):
            unshared[(prim.name, param)] = rules._compile(prim, param, text)
    monkeypatch.undo()
    rng = np.random.default_rng(4)
    for prim in PRIMITIVES.values():
        for rule in rules_for(prim):
            other = unshared[(prim.name, rule.param)]
            assert len(rule.steps) == len(other.steps)
            if rule.const is not None:
                assert rule.const == other.const
                continue
            args = [x if k == 0 else rng.permutation(x) for k in range(prim.arity)]
            with np.errstate(all="ignore"):
                own = prim.impl(*args)
                assert same_bits(rule.fn(*args, own), other.fn(*args, own)), (prim.name, rule)
