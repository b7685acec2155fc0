"""Property tests over random programs built from every primitive of the table.

On domains where every function is smooth, the derivatives computed every way slpdiff knows must
agree: reverse mode, forward mode, the adjoint program (printed as SLP, parsed, run by the engine:
bit for bit), the adjoint program as a Python module (run where slpdiff cannot be imported), and
central finite differences; Hessians (forward over reverse) are symmetric and agree with finite
differences of the gradient and with grad applied twice.

Each argument of a primitive is mapped into that primitive's smooth domain by ``c + r * tanh(v)``
(``ARG_DOMAINS``), so programs compose freely. Every row of the table needs an entry (a test
fails when one is missing), so a new function is covered as soon as it is added.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slpdiff
from fuzz.strategies import ARG_DOMAINS, statement
from fuzz.strategies import smooth_programs as programs
from helpers import run_without_slpdiff
from slpdiff.core.adjoint import adjoint_program
from slpdiff.core.emit_python import to_python
from slpdiff.core.engine import forward
from slpdiff.core.hessian import hessian, hvp
from slpdiff.core.schedule import select
from slpdiff.core.tangent import evaluate_forward, jvp
from slpdiff.evaluation import evaluate, evaluate_inputs
from slpdiff.language.primitives import PRIMITIVES

NAMES = sorted(PRIMITIVES)


def test_every_primitive_has_a_smooth_domain():
    assert sorted(ARG_DOMAINS) == NAMES
    for name, domains in ARG_DOMAINS.items():
        assert len(domains) == PRIMITIVES[name].arity, name


def every_primitive_program(name: str) -> str:
    prim = PRIMITIVES[name]
    operands = ["x0", "x1"][: prim.arity]
    return f"input x0, x1\ny = {statement(name, operands)} * x0\n"


def central_differences(program, point: dict) -> dict:
    """d out/d x for every output and input, by central differences of the values alone."""
    result = {out: {} for out in program.output_names}
    for k, name in enumerate(program.input_names):
        h = 1e-6 * max(1.0, abs(point[name]))
        up = [point[n] + (h if j == k else 0.0) for j, n in enumerate(program.input_names)]
        down = [point[n] - (h if j == k else 0.0) for j, n in enumerate(program.input_names)]
        f_up, f_down = forward(program, up), forward(program, down)
        for out, o in zip(program.output_names, program.output_index, strict=True):
            result[out][name] = (f_up[o] - f_down[o]) / (2 * h)
    return result


def close(a, b, rtol=1e-5, atol=1e-7) -> bool:
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))


def assert_no_trivial_arithmetic(adj) -> None:
    """No `* 1`, `* -1`, `+ 0`, `- 0`, `/ 1` or `^ 1` in the adjoint part."""
    program = adj.program
    for i in range(adj.forward_size, len(program)):
        op = program.ops[i]
        if op is None or op.arity != 2:
            continue
        consts = [program.consts[c] for c in program.args[i]]
        for param, value in op.identity:
            assert consts[op.params.index(param)] != value, op.name
        if op.name == "multiply":
            assert -1.0 not in consts


def check_all_ways(text: str, point: dict) -> None:
    program = slpdiff.parse(text)
    reverse = evaluate(program, point)
    for row in reverse.gradient.values():
        assert all(math.isfinite(float(g)) for g in row.values())
    # forward mode: the same derivatives, to rounding
    fwd = evaluate_forward(program, point)
    for out, row in reverse.gradient.items():
        for x, g in row.items():
            assert close(fwd.gradient[out][x], g, rtol=1e-12, atol=1e-13), (out, x)
    # the adjoint program, printed and parsed back: the engine's derivatives, bit for bit
    adj = adjoint_program(program)
    assert_no_trivial_arithmetic(adj)
    printed = evaluate(slpdiff.parse(adj.text()), point, derivatives=False)
    for out, row in reverse.gradient.items():
        assert printed.values[out] == reverse.values[out]
        for x, g in row.items():
            assert printed.values[adj.derivatives[out][x]] == g, (out, x, adj.text())
    # finite differences
    fd = central_differences(program, point)
    for out, row in reverse.gradient.items():
        for x, g in row.items():
            assert close(g, fd[out][x]), (out, x, g, fd[out][x])
    # a directional derivative is the gradient along the direction
    direction = {x: 0.5 + k for k, x in enumerate(program.input_names)}
    along = jvp(program, point, direction)[1]
    for out, row in reverse.gradient.items():
        expected = sum(g * direction[x] for x, g in row.items())
        assert close(along[out], expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_reverse_forward_adjoint_program_and_differences_agree(case):
    check_all_ways(*case)


@pytest.mark.parametrize("name", NAMES)
def test_every_primitive_every_way(name):
    check_all_ways(every_primitive_program(name), {"x0": 0.3, "x1": -0.7})


def check_hessian(text: str, point: dict) -> None:
    program = slpdiff.parse(text)
    h = hessian(program, point)
    names = program.input_names
    for out, rows in h.items():
        # symmetric (to rounding)
        for x in names:
            for w in names:
                assert close(rows[x][w], rows[w][x], rtol=1e-10, atol=1e-11), (out, x, w)
        # equal to central differences of the (reverse-mode) gradient
        for w in names:
            hstep = 1e-5 * max(1.0, abs(point[w]))
            up = evaluate(program, {**point, w: point[w] + hstep}).gradient[out]
            down = evaluate(program, {**point, w: point[w] - hstep}).gradient[out]
            for x in names:
                fd = (up[x] - down[x]) / (2 * hstep)
                assert close(rows[x][w], fd, rtol=1e-4, atol=1e-6), (out, x, w, rows[x][w], fd)
        # a Hessian-vector product is the matrix times the vector
        v = {x: 1.0 - 0.5 * k for k, x in enumerate(names)}
        hv = hvp(program, point, v)[out]
        for x in names:
            assert close(hv[x], sum(rows[x][w] * v[w] for w in names), rtol=1e-12, atol=1e-12)
    # grad applied twice to the program text gives the same second derivatives
    adj = adjoint_program(program)
    twice = adjoint_program(slpdiff.parse(adj.text()))
    values = evaluate(slpdiff.parse(twice.text()), point, derivatives=False).values
    for out in program.output_names:
        for x in names:
            first = adj.derivatives[out][x]
            for w in names:
                second = values[twice.derivatives[first][w]]
                assert close(second, h[out][x][w], rtol=1e-12, atol=1e-12), (out, x, w)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_statements=4))
def test_hessians_are_symmetric_and_agree_with_differences_and_grad_of_grad(case):
    check_hessian(*case)


@pytest.mark.parametrize("name", NAMES)
def test_every_primitive_hessian(name):
    check_hessian(every_primitive_program(name), {"x0": 0.3, "x1": -0.7})


# --- the emitted Python module, run where slpdiff cannot be imported ------------------------------

RUNNER = """
import importlib, json, sys
import numpy as np
try:
    import slpdiff
    print(json.dumps({"error": "slpdiff is importable"}))
    sys.exit(0)
except ImportError:
    pass
cases = json.load(open(sys.argv[1]))
results = []
for k, case in enumerate(cases):
    module = importlib.import_module(f"adjoint_{k}")
    args = [np.asarray(case["point"][name]) if isinstance(case["point"][name], list)
            else case["point"][name] for name in module.INPUTS]
    values, gradient = module.value_and_gradient(*args)
    results.append({"values": {o: np.asarray(v).tolist() for o, v in values.items()},
                    "gradient": {o: {x: np.asarray(g).tolist() for x, g in row.items()}
                                 for o, row in gradient.items()}})
print(json.dumps(results))
"""


def check_python(cases: list[tuple[str, dict]], tmp_path) -> None:
    """Write one module per program, run them all in one isolated interpreter, compare."""
    modules, expected = {}, []
    for k, (text, point) in enumerate(cases):
        program = slpdiff.parse(text)
        modules[f"adjoint_{k}"] = to_python(adjoint_program(program))
        # The adjoint program writes out the engine's sweep, seeded with ones over the rows: the
        # gradient of the rows' total where a reduction meets the rows, not each row's own
        # (slpdiff.evaluate's, docs/rows.md).
        inputs = [np.asarray(point[x], dtype=np.float64) for x in program.input_names]
        expected.append(evaluate_inputs(program, inputs, select(program)))
    data = [{"point": point} for _, point in cases]
    got = json.loads(run_without_slpdiff(RUNNER, modules, tmp_path, json.dumps(data)))
    assert isinstance(got, list), got
    for ev, result, (text, _) in zip(expected, got, cases, strict=True):
        for out, value in ev.values.items():
            assert np.array_equal(result["values"][out], value), text
            for x, g in ev.gradient[out].items():
                assert np.array_equal(result["gradient"][out][x], g), (text, out, x)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(programs(), min_size=12, max_size=12))
def test_emitted_python_agrees_with_the_engine_bit_for_bit(tmp_path_factory, cases):
    check_python(cases, tmp_path_factory.mktemp("emitted"))


def test_emitted_python_for_every_primitive_on_scalars_and_arrays(tmp_path):
    cases = [(every_primitive_program(name), {"x0": 0.3, "x1": -0.7}) for name in NAMES]
    cases += [(every_primitive_program(name), {"x0": [0.3, -1.2, 2.0], "x1": [-0.7, 0.1, 1.5]})
              for name in NAMES]
    check_python(cases, tmp_path)
