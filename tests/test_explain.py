"""``slpdiff explain``: the chain rule as a sum over paths, equal to the derivative eval prints."""

from __future__ import annotations

import itertools
import json
import math

import pytest

import slpdiff
from helpers import EXAMPLES, invoke, random_forms_program, run_slpdiff
from slpdiff.teach.explain import count_paths, count_text, explain

SEED = str(EXAMPLES / "seed.slp")
AT = {"x": 1.0, "w": 4.0}


def test_seed_paths_from_x_are_the_three_of_the_chain_rule():
    program = slpdiff.parse_file(SEED)
    e = explain(program, AT, "v7", "x")
    assert e.complete and e.count == 3
    assert [p.nodes for p in e.paths] == [
        ["x", "v1", "v3", "v5", "v7"],
        ["x", "v1", "v2", "v3", "v5", "v7"],
        ["x", "v1", "v2", "v4", "v6", "v7"]]
    # By hand: d v7/d x = w * exp(v3) * (1 + cos v1) + 2 sin(v1) cos(v1) * w * w.
    w, v1 = 4.0, 4.0
    v3 = v1 + math.sin(v1)
    hand = [w * math.exp(v3), w * math.cos(v1) * math.exp(v3),
            w * math.cos(v1) * 2 * math.sin(v1) * w]
    for path, expected in zip(e.paths, hand, strict=True):
        assert path.product == pytest.approx(expected, rel=1e-14)
    assert [f.rule for f in e.paths[2].factors] == ["w", "cos(v1)", "2 * v2", "w", "1"]
    ev = slpdiff.evaluate(program, AT)
    assert e.derivative == ev.gradient["v7"]["x"]  # exactly eval's number
    assert e.total == pytest.approx(e.derivative, rel=1e-15)
    assert e.total == sum(p.product for p in e.paths)


def test_seed_paths_from_w_include_the_direct_edge_into_v6():
    e = explain(slpdiff.parse_file(SEED), AT, "v7", "w")
    assert e.count == 4 and ["w", "v6", "v7"] in [p.nodes for p in e.paths]
    assert e.total == pytest.approx(13.402273659200267, rel=1e-15)


FORMS = ["{a} * {b}", "sin({a}) + {b}", "{a} - cos({b})", "tanh({a}) * {b}", "{a} / 3 + {b}"]


def small_program(n, seed):
    return random_forms_program(n, seed, FORMS, ("x", "y"), recent=6)


@pytest.mark.parametrize("seed", range(10))
def test_sum_of_path_products_is_evals_derivative_on_random_programs(seed):
    program = slpdiff.parse(small_program(12, seed))
    at = {"x": 0.7, "y": -0.4}
    ev = slpdiff.evaluate(program, at)
    out = program.output_names[0]
    for name in ("x", "y"):
        e = explain(program, at, out, name, max_paths=10**6)
        assert e.complete and len(e.paths) == e.count
        assert e.total == pytest.approx(ev.gradient[out][name], rel=1e-12, abs=1e-14)
        assert e.derivative == ev.gradient[out][name]
        # Each path runs from the input to the output, each factor one edge along it.
        for p in e.paths:
            assert p.nodes[0] == name and p.nodes[-1] == out
            for j, f in enumerate(p.factors):
                assert (f.argument, f.node) == (p.nodes[j], p.nodes[j + 1])
            assert p.product == pytest.approx(math.prod(f.value for f in p.factors), rel=1e-15,
                                              abs=1e-300)


def test_beyond_the_limit_the_largest_contributions_are_shown():
    program = slpdiff.parse(small_program(14, 3))
    at = {"x": 0.7, "y": -0.4}
    out = program.output_names[0]
    everything = explain(program, at, out, "x", max_paths=10**6)
    assert everything.count > 12
    best = explain(program, at, out, "x", max_paths=5)
    assert not best.complete and best.count == everything.count and len(best.paths) == 5
    magnitudes = sorted((abs(p.product) for p in everything.paths), reverse=True)
    assert [abs(p.product) for p in best.paths] == pytest.approx(magnitudes[:5], rel=1e-15)
    assert best.total == pytest.approx(everything.total, rel=1e-12)  # forward accumulation
    assert best.shown_sum == pytest.approx(sum(p.product for p in best.paths), rel=1e-15)


def test_path_counts_are_exact_even_when_astronomical():
    lines = ["input x", "v0 = x * x"] + [f"v{i} = v{i - 1} * v{i - 1}" for i in range(1, 300)]
    program = slpdiff.parse("\n".join(lines))
    x, out = program.input_index[0], program.output_index[0]
    assert count_paths(program, x, out) == 2 ** 300
    e = explain(program, {"x": 1.0}, "v299", "x", max_paths=3)
    assert e.count == 2 ** 300 and len(e.paths) == 3
    # d/dx x^(2^300) at 1 is 2^300: every path's product is 2^0 * ... = 1, and the sum is exact.
    assert all(p.product == 1.0 for p in e.paths)
    assert e.total == 2.0 ** 300 and e.derivative == 2.0 ** 300


def test_count_text():
    assert count_text(12) == "12"
    assert count_text(2 ** 1000) == str(2 ** 1000)
    big = count_text(2 ** 100000)
    assert big.startswith("about 9.99e+30102") or big.startswith("about 1.00e+30103")


def test_explain_of_an_input_that_does_not_reach_the_output():
    program = slpdiff.parse("input x, w\ny = sin(w)")
    e = explain(program, {"x": 1.0, "w": 2.0}, "y", "x")
    assert e.count == 0 and e.paths == [] and e.total == 0.0 and e.derivative == 0.0


def test_an_output_that_is_the_input_has_one_empty_path():
    e = explain(slpdiff.parse("input x\ny = x\noutput y"), {"x": 3.0}, "y", "x")
    assert e.count == 1 and e.paths[0].nodes == ["x"] and e.paths[0].product == 1.0
    assert e.total == 1.0 == e.derivative


def test_zero_rules_make_zero_paths():
    # sign' is the number 0: the sweeps skip it, its paths contribute exactly 0.
    program = slpdiff.parse("input x\ny = sign(x) * 2 + x")
    e = explain(program, {"x": 0.5}, "y", "x")
    assert e.count == 2 and sorted(p.product for p in e.paths) == [0.0, 1.0]
    assert e.total == 1.0 == e.derivative


def test_cli_text():
    proc = run_slpdiff("explain", SEED, "--at", "x=1,w=4", "--wrt", "x")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("d v7/d x at x = 1.0, w = 4.0, by the chain rule")
    assert "path 3: x -> v1 -> v2 -> v4 -> v6 -> v7" in lines
    assert "  d v4/d v2 = 2 * v2  = -1.5136049906158564" in lines
    assert "  d v7/d v6 = 1" in lines
    ev = slpdiff.evaluate(slpdiff.parse_file(SEED), AT)
    assert f"d v7/d x by reverse mode, as eval prints it = {float(ev.gradient['v7']['x'])!r}" \
        in lines
    assert any(line.startswith("sum of the 3 path products = ") for line in lines)


def test_cli_text_beyond_the_limit():
    text = "input x\n" + "\n".join(f"v{i} = {'x' if i == 0 else f'v{i - 1}'} * x"
                                   for i in range(40))
    proc = run_slpdiff("explain", "-", "--at", "x=1.01", "--max-paths", "2", input=text)
    assert proc.returncode == 0
    assert "There are 41 paths; the 2 with the largest products are shown" in " ".join(
        proc.stdout.split())
    assert proc.stdout.count("\npath ") == 2  # 41: x * x makes two paths into v0
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80  # long paths are wrapped
    assert "sum over all 41 paths = " in proc.stdout


def test_cli_json():
    proc = run_slpdiff("explain", SEED, "--at", "x=1,w=4", "--of", "v7", "--wrt", "w",
                       "--format", "json")
    assert proc.returncode == 0 and proc.stdout.count("\n") == 1
    obj = json.loads(proc.stdout)
    assert obj["of"] == "v7" and obj["wrt"] == "w" and obj["paths"] == 4 and obj["complete"]
    assert [p["nodes"] for p in obj["shown"]][-1] == ["w", "v6", "v7"]
    assert obj["shown"][-1]["factors"][0] == {"node": "v6", "argument": "w", "rule": "v4",
                                              "value": math.sin(4.0) ** 2}
    assert obj["derivative"] == 13.402273659200267
    assert obj["sum"] == pytest.approx(obj["derivative"], rel=1e-15)


@pytest.mark.parametrize("args, message", [
    (["--at", "x=1,w=4"], "the program has 2 inputs (x, w); choose one with --wrt NAME"),
    (["--at", "x=1,w=4", "--wrt", "q"], "'q' is not an input"),
    (["--at", "x=1,w=4", "--wrt", "x", "--of", "v3"], "'v3' is not an output"),
    (["--at", "x=1", "--wrt", "x"], "no value for input 'w'"),
    (["--at", "x=1,w=4", "--wrt", "x", "--max-paths", "0"], "0 is not in the range"),
])
def test_cli_errors(args, message):
    proc = run_slpdiff("explain", SEED, *args)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_a_program_without_inputs_has_nothing_to_explain():
    result = invoke("explain", "-", input="y = 3 * pi")
    assert result.exit_code == 2
    assert "the program has no inputs: there is no derivative to explain" in result.stderr


def test_several_outputs_need_of():
    result = invoke("explain", "-", "--at", "x=1", input="p = x * 2\nq = x + 1\noutput p, q")
    assert result.exit_code == 2
    assert "the program has 2 outputs (p, q); choose one with --of NAME" in result.stderr
    result = invoke("explain", "-", "--at", "x=1", "--of", "q",
                    input="p = x * 2\nq = x + 1\noutput p, q")
    assert result.exit_code == 0 and "d q/d x by reverse mode, as eval prints it = 1.0" in \
        result.stdout


def test_the_enumeration_needs_no_recursion():
    # A chain far deeper than Python's recursion limit: one path, walked with an explicit stack.
    n = 5000
    text = "input x\nv0 = sin(x)\n" + "\n".join(f"v{i} = sin(v{i - 1})" for i in range(1, n))
    program = slpdiff.parse(text)
    e = explain(program, {"x": 0.1}, f"v{n - 1}", "x")
    assert e.count == 1 and len(e.paths[0].nodes) == n + 1
    assert e.total == pytest.approx(e.derivative, rel=1e-12)


def test_all_paths_match_brute_force_on_a_small_diamond_lattice():
    # Each layer uses both nodes of the layer below: 2^k paths.
    k = 6
    lines = ["input x", "a0 = sin(x)", "b0 = cos(x)"]
    for i in range(1, k):
        lines += [f"a{i} = a{i - 1} * b{i - 1}", f"b{i} = a{i - 1} + b{i - 1}"]
    lines.append(f"y = a{k - 1} - b{k - 1}")
    program = slpdiff.parse("\n".join(lines))
    e = explain(program, {"x": 0.3}, "y", "x", max_paths=10**6)
    assert e.count == 2 ** k
    expected = {("x", *(f"{c}{i}" for i, c in enumerate(choice)), "y")
                for choice in itertools.product("ab", repeat=k)}
    node_paths = [tuple(p.nodes) for p in e.paths]
    assert set(node_paths) == expected and len(node_paths) == len(expected)
    assert e.total == pytest.approx(e.derivative, rel=1e-13)
