"""Tests of the primitive table (``slpdiff.language.primitives``) and its derivative rules.

Every test that is about "each primitive" is parametrized over the table itself, so a new
``defprim`` row is covered automatically; the per-function tables below (``DOMAINS``, ``HAND``)
must have an entry for every row, and a test fails when one is missing.

What is checked, for every primitive and every one of its parameters:

1. the partial derivative against central finite differences, through the program text (call and
   infix form) and through the ``Var`` API;
2. hand-known values and partials;
3. the documented conventions at non-differentiable points;
4. arity errors (``ProgramError`` in a program, ``TypeError`` from the ``Var`` API);
5. elementwise broadcasting over numpy arrays, bit for bit;
6. that the rules compile, one per parameter, constant rules folded;
7. second derivatives: each rule's SLP text, parsed as a program, differentiated and compared with
   finite differences, and evaluated to the same bits as the compiled rule;
8. numerical care (softplus/sigmoid far out, log1p/expm1 near 0), IEEE domain cases and the
   warnings ``evaluate`` reports for them, and that constants get no derivative work.
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numpy as np
import pytest

import slpdiff
from slpdiff import Var
from slpdiff.language.primitives import PRIMITIVES, Primitive
from slpdiff.language.rules import read_expression, rules_for

NAMES = sorted(PRIMITIVES)
# Reductions (sum, mean, count) combine the rows of an array into one number: not elementwise.
ELEMENTWISE = [name for name in NAMES if not PRIMITIVES[name].reduces]
LOG2 = math.log(2.0)

# --- per-function tables --------------------------------------------------------------------------

# Points (one tuple of arguments each) inside each function's smooth domain: away from kinks,
# ties, poles and domain edges, and where no partial derivative is 0 by accident of the point.
DOMAINS: dict[str, list[tuple[float, ...]]] = {
    "add": [(0.5, -1.25), (3.0, 2.0), (-7.5, 0.1)],
    "subtract": [(0.5, -1.25), (3.0, 2.0), (-7.5, 0.1)],
    "multiply": [(0.5, -1.25), (3.0, 2.0), (-7.5, 0.1)],
    "divide": [(1.0, 2.0), (-3.0, 0.5), (2.5, -4.0)],
    "negative": [(-2.0,), (0.3,), (5.0,)],
    "pow": [(2.0, 3.0), (0.5, -1.5), (3.0, 0.5), (1.5, 2.5)],
    "square": [(-3.0,), (0.5,), (2.0,)],
    "sqrt": [(0.25,), (2.0,), (9.0,)],
    "exp": [(-2.0,), (0.0,), (1.5,)],
    "log": [(0.1,), (1.0,), (5.0,)],
    "log1p": [(-0.5,), (0.0,), (3.0,)],
    "expm1": [(-1.0,), (0.0,), (2.0,)],
    "sin": [(-1.0,), (0.5,), (2.0,)],
    "cos": [(-1.0,), (0.5,), (2.0,)],
    "tan": [(-1.0,), (0.3,), (1.2,)],
    "asin": [(-0.5,), (0.1,), (0.9,)],
    "acos": [(-0.5,), (0.1,), (0.9,)],
    "atan": [(-2.0,), (0.0,), (3.0,)],
    "atan2": [(1.0, 1.0), (-2.0, 0.5), (0.5, -3.0)],
    "sinh": [(-1.5,), (0.2,), (2.0,)],
    "cosh": [(-1.5,), (0.2,), (2.0,)],
    "tanh": [(-1.5,), (0.2,), (2.0,)],
    "abs": [(-2.0,), (0.5,), (3.0,)],
    "sign": [(-2.0,), (0.5,), (3.0,)],
    "relu": [(-2.0,), (0.5,), (3.0,)],
    "sigmoid": [(-3.0,), (0.0,), (2.5,)],
    "softplus": [(-3.0,), (0.0,), (2.5,)],
    "hypot": [(3.0, 4.0), (-1.0, 2.0), (0.5, -0.25)],
    "max": [(3.0, 1.0), (-1.0, 2.0), (0.5, -0.5)],
    "min": [(3.0, 1.0), (-1.0, 2.0), (0.5, -0.5)],
    "step": [(-1.0,), (0.5,), (2.0,)],
    "powlog": [(2.0, 3.0), (0.5, 1.5), (3.0, -0.5)],
    # Reductions at a single point (one row): sum and mean are the identity, count is 1.
    "sum": [(-2.0,), (0.5,), (3.0,)],
    "mean": [(-2.0,), (0.5,), (3.0,)],
    "count": [(-2.0,), (0.5,), (3.0,)],
    "maxrows": [(-2.0,), (0.5,), (3.0,)],
    "equal": [(0.5, -1.25), (3.0, 2.0), (-7.5, 0.1)],  # off its kink; 1 where a = b: HAND
    "minrows": [(-2.0,), (0.5,), (3.0,)],
}

# Hand-known (arguments, value, partials): exact, or to 1e-15 relative.
HAND: dict[str, list[tuple[tuple[float, ...], float, tuple[float, ...]]]] = {
    "add": [((2.0, 3.0), 5.0, (1.0, 1.0))],
    "subtract": [((2.0, 3.0), -1.0, (1.0, -1.0))],
    "multiply": [((3.0, 4.0), 12.0, (4.0, 3.0))],
    "divide": [((1.0, 2.0), 0.5, (0.5, -0.25))],
    "negative": [((3.0,), -3.0, (-1.0,))],
    "pow": [((2.0, 3.0), 8.0, (12.0, 8 * LOG2)), ((2.0, -1.0), 0.5, (-0.25, 0.5 * LOG2))],
    "square": [((3.0,), 9.0, (6.0,))],
    "sqrt": [((4.0,), 2.0, (0.25,))],
    "exp": [((0.0,), 1.0, (1.0,)), ((1.0,), math.e, (math.e,))],
    "log": [((2.0,), LOG2, (0.5,)), ((1.0,), 0.0, (1.0,))],
    "log1p": [((0.0,), 0.0, (1.0,)), ((1.0,), LOG2, (0.5,))],
    "expm1": [((0.0,), 0.0, (1.0,))],
    "sin": [((0.0,), 0.0, (1.0,))],
    "cos": [((0.0,), 1.0, (0.0,))],
    "tan": [((0.0,), 0.0, (1.0,))],
    "asin": [((0.0,), 0.0, (1.0,)), ((0.5,), math.pi / 6, (2 / math.sqrt(3),))],
    "acos": [((0.0,), math.pi / 2, (-1.0,))],
    "atan": [((0.0,), 0.0, (1.0,)), ((1.0,), math.pi / 4, (0.5,))],
    "atan2": [((1.0, 1.0), math.pi / 4, (0.5, -0.5)), ((0.0, -1.0), math.pi, (-1.0, 0.0))],
    "sinh": [((0.0,), 0.0, (1.0,))],
    "cosh": [((0.0,), 1.0, (0.0,))],
    "tanh": [((0.0,), 0.0, (1.0,))],
    "abs": [((-3.0,), 3.0, (-1.0,)), ((2.0,), 2.0, (1.0,))],
    "sign": [((-3.0,), -1.0, (0.0,)), ((2.0,), 1.0, (0.0,))],
    "relu": [((-2.0,), 0.0, (0.0,)), ((2.0,), 2.0, (1.0,))],
    "sigmoid": [((0.0,), 0.5, (0.25,))],
    "softplus": [((0.0,), LOG2, (0.5,))],
    "hypot": [((3.0, 4.0), 5.0, (0.6, 0.8))],
    "max": [((3.0, 2.0), 3.0, (1.0, 0.0)), ((-1.0, 2.0), 2.0, (0.0, 1.0))],
    "min": [((3.0, 2.0), 2.0, (0.0, 1.0)), ((-1.0, 2.0), -1.0, (1.0, 0.0))],
    "step": [((2.0,), 1.0, (0.0,)), ((-2.0,), 0.0, (0.0,))],
    "powlog": [((2.0, 3.0), 8 * LOG2, (4 * (1 + 3 * LOG2), 8 * LOG2**2))],
    "sum": [((2.5,), 2.5, (1.0,))],
    "mean": [((2.5,), 2.5, (1.0,))],
    "count": [((2.5,), 1.0, (0.0,))],
    "maxrows": [((2.5,), 2.5, (1.0,)), ((-0.0,), 0.0, (1.0,))],
    "equal": [((2.5, 2.5), 1.0, (0.0, 0.0)), ((2.5, -1.0), 0.0, (0.0, 0.0)),
              ((-0.0, 0.0), 1.0, (0.0, 0.0))],
    "minrows": [((2.5,), 2.5, (1.0,)), ((-0.0,), 0.0, (1.0,))],
}

# Extra points for the broadcasting test: kinks, ties, zeros and domain edges, where values and
# partials may be 0, inf or nan; array evaluation must agree with scalar evaluation there too.
EDGES = [0.0, -0.0, -1.0, 1.0, 2.5]

# --- evaluating one primitive ---------------------------------------------------------------------


def arg_names(prim: Primitive) -> list[str]:
    """Input names for a program applying ``prim`` (neutral, so no param name can clash)."""
    return [f"arg{k}" for k in range(prim.arity)]


def call_text(prim: Primitive, nargs: int | None = None) -> str:
    """``name(arg0, ...)`` with ``nargs`` arguments (default: the right number)."""
    names = [f"arg{k}" for k in range(prim.arity if nargs is None else nargs)]
    return f"{prim.name}({', '.join(names)})"


def infix_text(prim: Primitive, spelling: str | None = None) -> str:
    """The operator form, ``-arg0`` or ``arg0 + arg1``."""
    op = spelling or prim.infix
    names = arg_names(prim)
    return f"{op}{names[0]}" if prim.arity == 1 else f"{names[0]} {op} {names[1]}"


@cache
def program(name: str, form: str = "call") -> slpdiff.Program:
    """``input arg0, ...; out = <name applied to them>``, parsed once."""
    prim = PRIMITIVES[name]
    if form == "call":
        expr = call_text(prim)
    else:
        expr = infix_text(prim, None if form == "infix" else form)
    return slpdiff.parse(f"input {', '.join(arg_names(prim))}\nout = {expr}")


def lib_eval(name: str, args, form: str = "call", derivatives: bool = True):
    """(value, partials) of primitive ``name`` at ``args`` through ``slpdiff.evaluate``."""
    prim = PRIMITIVES[name]
    result = slpdiff.evaluate(program(name, form), dict(zip(arg_names(prim), args, strict=True)),
                              derivatives=derivatives)
    if not derivatives:
        return result.values["out"], None
    grad = result.gradient["out"]
    return result.values["out"], tuple(grad[n] for n in arg_names(prim))


def var_eval(name: str, args):
    """(value, partials) through the ``Var`` API: forward(), backward(), .deriv."""
    leaves = [Var(value=a) for a in args]
    node = slpdiff.FUNCTIONS[name](*leaves)
    value = node.forward()
    node.backward()
    return value, tuple(leaf.deriv for leaf in leaves)


def var_value(name: str, args):
    leaves = [Var(value=a) for a in args]
    return slpdiff.FUNCTIONS[name](*leaves).forward()


def central_difference(f, args: tuple[float, ...], k: int) -> float:
    """d f / d args[k] by central differences, step 1e-6 * max(1, |x|)."""
    x = args[k]
    h = 1e-6 * max(1.0, abs(x))
    up = list(args)
    down = list(args)
    up[k] = x + h
    down[k] = x - h
    return (float(f(tuple(up))) - float(f(tuple(down)))) / ((x + h) - (x - h))


def fd_close(analytic: float, numeric: float) -> bool:
    return math.isclose(float(analytic), numeric, rel_tol=1e-6, abs_tol=1e-9)


def exact(actual, expected: float) -> bool:
    """Equal, or within 1e-15 relative (for values that are not exactly representable)."""
    actual = float(actual)
    return actual == expected or abs(actual - expected) <= 1e-15 * abs(expected)


class RaiseWarnings:
    """``with RaiseWarnings():`` turns every warning into an exception inside the block."""

    def __enter__(self):
        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("error")
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


# --- the tables cover the table -------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_primitive_has_a_domain(name):
    assert name in DOMAINS, f"add a smooth domain for {PRIMITIVES[name].signature} to DOMAINS"
    for point in DOMAINS[name]:
        assert len(point) == PRIMITIVES[name].arity, f"{name}: point {point} has the wrong arity"


@pytest.mark.parametrize("name", NAMES)
def test_every_primitive_has_hand_values(name):
    assert name in HAND, f"add hand-known values for {PRIMITIVES[name].signature} to HAND"


def test_tables_have_no_stale_entries():
    assert set(DOMAINS) <= set(PRIMITIVES), set(DOMAINS) - set(PRIMITIVES)
    assert set(HAND) <= set(PRIMITIVES), set(HAND) - set(PRIMITIVES)


def test_table_has_the_specified_functions():
    functions = {"add", "subtract", "multiply", "divide", "negative", "square", "exp", "sin",
                 "cos", "log", "sqrt", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan",
                 "atan2", "log1p", "expm1", "abs", "sign", "relu", "sigmoid", "softplus", "pow",
                 "hypot", "max", "min"}
    assert functions <= set(PRIMITIVES)
    assert {n for n, p in PRIMITIVES.items() if p.kind == "helper"} == {"step", "powlog", "count",
                                                                      "equal"}
    assert {n for n, p in PRIMITIVES.items() if p.reduces} == {"sum", "mean", "count",
                                                                       "maxrows", "minrows"}
    assert PRIMITIVES["atan2"].params == ("y", "x")
    assert set(slpdiff.FUNCTIONS) == set(PRIMITIVES)


# --- 1. partial derivatives against finite differences --------------------------------------------


def _fd_mismatches(name: str, evaluate_both, value_only) -> list[str]:
    prim = PRIMITIVES[name]
    assert name in DOMAINS, f"no smooth domain for {prim.signature} in DOMAINS"
    bad = []
    for point in DOMAINS[name]:
        _, partials = evaluate_both(point)
        assert len(partials) == prim.arity
        for k, param in enumerate(prim.params):
            numeric = central_difference(value_only, point, k)
            if not fd_close(partials[k], numeric):
                bad.append(f"d{name}/d{param} at {point}: library {float(partials[k])!r}, "
                           f"finite difference {numeric!r}")
    return bad


@pytest.mark.parametrize("name", NAMES)
def test_partials_match_finite_differences_in_a_program(name):
    bad = _fd_mismatches(name, lambda p: lib_eval(name, p),
                         lambda p: lib_eval(name, p, derivatives=False)[0])
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", [n for n in NAMES if PRIMITIVES[n].infix])
def test_partials_match_finite_differences_infix(name):
    bad = _fd_mismatches(name, lambda p: lib_eval(name, p, "infix"),
                         lambda p: lib_eval(name, p, "infix", derivatives=False)[0])
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", NAMES)
def test_partials_match_finite_differences_var_api(name):
    bad = _fd_mismatches(name, lambda p: var_eval(name, p), lambda p: var_value(name, p))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", NAMES)
def test_program_and_var_api_agree_bit_for_bit(name):
    for point in DOMAINS[name]:
        value, partials = lib_eval(name, point)
        var_value_, var_partials = var_eval(name, point)
        assert float(value) == float(var_value_), (name, point)
        assert [float(p) for p in partials] == [float(p) for p in var_partials], (name, point)


@pytest.mark.parametrize("name", NAMES)
def test_rules_are_read_exactly_as_the_program_parser_reads_them(name):
    # rules.py reads the table's rule text with a small reader of its own (the rules sit below
    # the parser): for every rule and kink expression it must give the parser's nodes, in the
    # parser's order, constants (signed literals folded) to the bit.
    prim = PRIMITIVES[name]
    for text in [*prim.partials, *([prim.kink] if prim.kink else [])]:
        nodes, result = read_expression(text, prim.params)
        parsed = slpdiff.parse(f"input {', '.join(prim.params)}\npartial = {text}")
        expected = []
        for i, op in enumerate(parsed.ops):
            if parsed.is_input(i):
                expected.append(("param", i))
            elif op is None:
                expected.append(("const", parsed.consts[i]))
            else:
                expected.append(("op", op, parsed.args[i]))
        bits = [(n[0], repr(n[1])) if n[0] == "const" else n for n in nodes]
        assert bits == [(n[0], repr(n[1])) if n[0] == "const" else n for n in expected], text
        assert result == parsed.output_index[0], text


@pytest.mark.parametrize("name", [n for n in NAMES if PRIMITIVES[n].infix])
def test_infix_and_call_forms_are_the_same(name):
    prim = PRIMITIVES[name]
    spellings = [prim.infix] + (["**"] if prim.infix == "^" else [])
    for spelling in spellings:
        prog = program(name, spelling if spelling != prim.infix else "infix")
        op = prog.ops[prog.output_index[0]]
        assert op is prim, f"{infix_text(prim, spelling)!r} is not a {name} node"
        for point in DOMAINS[name]:
            assert lib_eval(name, point, "infix") == lib_eval(name, point)


# --- 2. hand-known values -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("api", ["program", "var"])
def test_hand_known_values(name, api):
    prim = PRIMITIVES[name]
    assert name in HAND, f"no hand-known values for {prim.signature} in HAND"
    bad = []
    for args, value, partials in HAND[name]:
        got_value, got_partials = lib_eval(name, args) if api == "program" else var_eval(name, args)
        if not exact(got_value, value):
            bad.append(f"{name}{args} = {float(got_value)!r}, expected {value!r}")
        for param, got, want in zip(prim.params, got_partials, partials, strict=True):
            if not exact(got, want):
                bad.append(f"d{name}/d{param} at {args} = {float(got)!r}, expected {want!r}")
    assert not bad, "\n".join(bad)


# --- 3. conventions at non-differentiable points --------------------------------------------------


@pytest.mark.parametrize("api", ["program", "var"])
@pytest.mark.parametrize("name, args, value, partials", [
    ("abs", (0.0,), 0.0, (0.0,)),
    ("abs", (-0.0,), 0.0, (0.0,)),
    ("sign", (0.0,), 0.0, (0.0,)),
    ("sign", (-5.0,), -1.0, (0.0,)),
    ("sign", (7.0,), 1.0, (0.0,)),
    ("relu", (0.0,), 0.0, (0.0,)),
    ("relu", (-0.0,), 0.0, (0.0,)),
    ("step", (0.0,), 0.0, (0.0,)),
    ("max", (1.0, 1.0), 1.0, (0.5, 0.5)),
    ("max", (-2.5, -2.5), -2.5, (0.5, 0.5)),
    ("max", (0.0, -0.0), 0.0, (0.5, 0.5)),
    ("min", (1.0, 1.0), 1.0, (0.5, 0.5)),
    ("min", (-2.5, -2.5), -2.5, (0.5, 0.5)),
    ("pow", (0.0, 2.0), 0.0, (0.0, 0.0)),
    ("pow", (0.0, 3.0), 0.0, (0.0, 0.0)),
    ("pow", (0.0, 1.0), 0.0, (1.0, 0.0)),
])
def test_conventions(name, args, value, partials, api):
    with RaiseWarnings():
        got_value, got_partials = lib_eval(name, args) if api == "program" else var_eval(name, args)
    assert float(got_value) == value, (name, args, float(got_value))
    assert [float(p) for p in got_partials] == list(partials), (name, args, got_partials)


@pytest.mark.parametrize("b", [2.0, 0.5, 3.0, -1.0, 0.0])
def test_pow_partial_in_exponent_is_zero_at_zero_base(b):
    result = slpdiff.evaluate(slpdiff.parse("y = a ^ b"), {"a": 0.0, "b": b}, wrt=["b"])
    assert float(result.gradient["y"]["b"]) == 0.0
    assert not [w for w in result.warnings if w.kind == "derivative"], result.warnings


@pytest.mark.parametrize("b", [2.0, 0.5, -1.0])
def test_powlog_helper_is_zero_at_zero_base(b):
    """The helper carries the convention: powlog(0, b) = 0 (its own partials there: unspecified)."""
    value, _ = lib_eval("powlog", (0.0, b), derivatives=False)
    assert float(value) == 0.0


def test_pow_at_zero_base_reports_no_derivative_warning_when_smooth():
    result = slpdiff.evaluate(slpdiff.parse("y = a ^ b"), {"a": 0.0, "b": 2.0})
    assert result.warnings == []
    assert [float(g) for g in result.gradient["y"].values()] == [0.0, 0.0]


# --- 4. arity -------------------------------------------------------------------------------------


def _arity_words(prim: Primitive) -> str:
    return f"{prim.arity} argument"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("delta", [+1, -1])
def test_wrong_arity_in_a_program(name, delta):
    prim = PRIMITIVES[name]
    nargs = prim.arity + delta
    text = f"out = {call_text(prim, nargs)}"
    with pytest.raises(slpdiff.ProgramError) as info:
        slpdiff.parse(text)
    message = str(info.value)
    assert name in message and _arity_words(prim) in message, message
    assert f"got {nargs}" in message, message


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("delta", [+1, -1])
def test_wrong_arity_in_the_var_api(name, delta):
    prim = PRIMITIVES[name]
    args = [Var(value=1.0) for _ in range(prim.arity + delta)]
    with pytest.raises(TypeError) as info:
        slpdiff.FUNCTIONS[name](*args)
    message = str(info.value)
    assert name in message and str(prim.arity) in message, message


@pytest.mark.parametrize("name", NAMES)
def test_module_level_functions_are_the_table(name):
    assert getattr(slpdiff, name) is slpdiff.FUNCTIONS[name]
    node = slpdiff.FUNCTIONS[name](*[Var(value=1.0) for _ in PRIMITIVES[name].params])
    assert node.op is PRIMITIVES[name]


# --- 5. broadcasting and float64 ------------------------------------------------------------------


def _broadcast_points(name: str) -> list[tuple[float, ...]]:
    arity = PRIMITIVES[name].arity
    edges = [(e,) for e in EDGES] if arity == 1 else [(a, b) for a in EDGES for b in EDGES]
    return list(DOMAINS[name]) + [p for p in edges if len(p) == arity]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_broadcasts_elementwise_bit_for_bit(name):
    prim = PRIMITIVES[name]
    points = _broadcast_points(name)
    columns = [np.array([p[k] for p in points]) for k in range(prim.arity)]
    values, partials = lib_eval(name, columns)
    scalar = [lib_eval(name, p) for p in points]
    assert np.shape(values) == (len(points),)
    np.testing.assert_array_equal(values, [v for v, _ in scalar], err_msg=f"{name} values")
    for k, param in enumerate(prim.params):
        assert np.shape(partials[k]) == (len(points),), f"d{name}/d{param} has the wrong shape"
        np.testing.assert_array_equal(partials[k], [g[k] for _, g in scalar],
                                      err_msg=f"d{name}/d{param}")
        # assert_array_equal treats 0.0 and -0.0 alike; the last bit includes the sign. (Not a
        # NaN's sign: numpy's vector and scalar loops make NaNs of either sign, CPU by CPU.)
        assert_same_signs(partials[k], [g[k] for _, g in scalar])
    assert_same_signs(values, [v for v, _ in scalar])
    # The Var API broadcasts the same way, to the same bits.
    var_values, var_partials = var_eval(name, columns)
    np.testing.assert_array_equal(var_values, values, err_msg=f"{name} values (Var API)")
    for k, param in enumerate(prim.params):
        np.testing.assert_array_equal(var_partials[k], partials[k],
                                      err_msg=f"d{name}/d{param} (Var API)")


def assert_same_signs(got, want) -> None:
    got, want = np.asarray(got), np.asarray(want)
    numbers = ~(np.isnan(got) & np.isnan(want))
    np.testing.assert_array_equal(np.signbit(got)[numbers], np.signbit(want)[numbers])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_broadcasts_over_two_dimensions_and_scalars(name):
    """A (2, 3) array for the first argument, scalars for the rest: a scalar's partial sums."""
    prim = PRIMITIVES[name]
    point = DOMAINS[name][0]
    grid = point[0] + np.linspace(-0.01, 0.01, 6).reshape(2, 3)
    values, partials = lib_eval(name, (grid, *point[1:]))
    assert np.shape(values) == (2, 3)
    assert np.shape(partials[0]) == (2, 3)
    for k in range(1, prim.arity):
        assert np.shape(partials[k]) == ()
    for index in np.ndindex(2, 3):
        value, scalar_partials = lib_eval(name, (grid[index], *point[1:]))
        assert values[index] == value
        assert partials[0][index] == scalar_partials[0]


@pytest.mark.parametrize("name, reduce, partial", [
    ("sum", np.sum, lambda x: np.ones_like(x)),
    ("mean", np.mean, lambda x: np.full_like(x, 1 / x.size)),
    ("count", lambda x: float(x.size), lambda x: np.zeros_like(x)),
    ("maxrows", np.max, lambda x: (x == x.max()).astype(float)),
    ("minrows", np.min, lambda x: (x == x.min()).astype(float)),
])
def test_reductions_combine_the_rows_and_give_each_row_its_partial(name, reduce, partial):
    for x in (np.array([0.5, -1.25, 3.0, 2.5]), np.linspace(-1, 1, 6).reshape(2, 3)):
        value, (partials,) = lib_eval(name, (x,))
        assert np.shape(value) == () and value == reduce(x)
        assert np.shape(partials) == x.shape
        np.testing.assert_array_equal(partials, partial(x))
        var_value, (var_partials,) = var_eval(name, (x,))
        assert var_value == value
        np.testing.assert_array_equal(var_partials, partials)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["float", "int"])
def test_values_and_partials_are_float64(name, kind):
    points = DOMAINS[name]
    if kind == "int":
        points = [tuple(int(a) for a in p) for p in points if all(a == int(a) for a in p)]
    for point in points:
        value, partials = lib_eval(name, point)
        assert isinstance(value, np.float64), (name, point, type(value))
        for g in partials:
            assert isinstance(g, np.float64), (name, point, type(g))
        array_value, array_partials = lib_eval(name, [np.array([a, a]) for a in point])
        assert array_value.dtype == np.float64
        assert all(g.dtype == np.float64 for g in array_partials)


@pytest.mark.parametrize("name", NAMES)
def test_var_api_with_integer_values_matches_floats(name):
    """The seed writes ``Var(value=1)``; integer values must behave like the same floats."""
    for point in DOMAINS[name]:
        if not all(a == int(a) for a in point):
            continue
        int_value, int_partials = var_eval(name, tuple(int(a) for a in point))
        value, partials = var_eval(name, point)
        assert float(int_value) == float(value)
        assert [float(g) for g in int_partials] == [float(g) for g in partials]
        assert all(np.asarray(g).dtype == np.float64 for g in (int_value, *int_partials))


def test_var_api_integer_negative_exponent():
    """Regression (fixed in 99530b6): integer leaves reached pow's rules as Python ints, and
    np.power(2, -1) raised ValueError in backward()."""
    a, b = Var(value=2), Var(value=-1)
    node = slpdiff.pow(a, b)
    assert node.forward() == 0.5
    node.backward()
    assert float(a.deriv) == -0.25
    assert exact(b.deriv, 0.5 * LOG2)


# --- 6. rules compile -----------------------------------------------------------------------------


def _literal(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@pytest.mark.parametrize("name", NAMES)
def test_rules_compile_one_per_parameter(name):
    prim = PRIMITIVES[name]
    rules = rules_for(prim)
    assert len(rules) == prim.arity == len(prim.partials)
    assert [r.param for r in rules] == list(prim.params)
    assert [r.text for r in rules] == list(prim.partials)
    for rule in rules:
        assert rule.primitive is prim
        assert rule.steps and rule.used[rule.result]
        literal = _literal(rule.text)
        if literal is not None:
            assert rule.const == literal, f"d{name}/d{rule.param} = {rule.text} is not folded"
        elif rule.const is not None:  # folded from an expression of numbers only
            for point in DOMAINS[name]:
                assert float(rule(*point)) == rule.const
        else:
            assert any(p in _words(rule.text) for p in prim.params), rule.text
        for point in DOMAINS[name]:  # the compiled rule is callable at any point
            assert np.isfinite(rule(*point)), (name, rule.param, point)
    assert rules_for(prim) is rules  # compiled once


def _words(text: str) -> set[str]:
    return set("".join(c if c.isalnum() or c == "_" else " " for c in text).split())


@pytest.mark.parametrize("name, param, const", [
    ("add", "a", 1.0), ("add", "b", 1.0), ("subtract", "a", 1.0), ("subtract", "b", -1.0),
    ("negative", "a", -1.0), ("sign", "a", 0.0), ("step", "a", 0.0),
    ("multiply", "a", None), ("square", "a", None), ("tanh", "a", None),
])
def test_constant_rules_are_folded(name, param, const):
    rule = dict(zip(PRIMITIVES[name].params, rules_for(PRIMITIVES[name]), strict=True))[param]
    assert rule.const == const


# --- 7. the rules are differentiable SLP text (second derivatives) --------------------------------


@cache
def rule_program(name: str, k: int) -> slpdiff.Program:
    prim = PRIMITIVES[name]
    return slpdiff.parse(f"input {', '.join(prim.params)}\nd = {prim.partials[k]}",
                         name=f"<d{name}/d{prim.params[k]}>")


def rule_eval(name: str, k: int, args, derivatives: bool = True):
    prim = PRIMITIVES[name]
    result = slpdiff.evaluate(rule_program(name, k), dict(zip(prim.params, args, strict=True)),
                              derivatives=derivatives)
    grad = result.gradient.get("d", {})
    return result.values["d"], tuple(grad.get(p) for p in prim.params)


@pytest.mark.parametrize("name", NAMES)
def test_rule_text_evaluates_like_the_compiled_rule(name):
    prim = PRIMITIVES[name]
    for k, rule in enumerate(rules_for(prim)):
        for point in DOMAINS[name]:
            from_text, _ = rule_eval(name, k, point, derivatives=False)
            compiled = rule(*(np.float64(a) for a in point))
            assert float(from_text) == float(compiled), (name, rule.param, point)


@pytest.mark.parametrize("name", NAMES)
def test_second_derivatives_through_rule_text(name):
    prim = PRIMITIVES[name]
    bad = []
    for k, first in enumerate(prim.params):
        for point in DOMAINS[name]:
            _, second = rule_eval(name, k, point)
            for j, other in enumerate(prim.params):
                numeric = central_difference(
                    lambda p, k=k: rule_eval(name, k, p, derivatives=False)[0], point, j)
                if not fd_close(second[j], numeric):
                    bad.append(f"d2{name}/d{first}d{other} at {point}: through the rule text "
                               f"{float(second[j])!r}, finite difference {numeric!r}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", ["multiply", "square", "exp", "sin", "log", "tanh", "sigmoid"])
def test_symmetric_second_derivatives(name):
    """For two-argument rules the mixed partials agree; for one argument, a known value."""
    known = {"square": 2.0, "exp": 1.0, "sin": -0.0, "log": -1.0, "tanh": 0.0, "sigmoid": 0.0}
    if PRIMITIVES[name].arity == 2:
        _, d_da = rule_eval(name, 0, (3.0, 4.0))
        _, d_db = rule_eval(name, 1, (3.0, 4.0))
        assert float(d_da[1]) == float(d_db[0]) == 1.0
    else:
        _, second = rule_eval(name, 0, (0.0,) if name != "log" else (1.0,))
        assert float(second[0]) == known[name]


# --- 8. numerical care, IEEE domains and warnings -------------------------------------------------


@pytest.mark.parametrize("api", ["program", "var", "impl"])
@pytest.mark.parametrize("name, x, value, partial", [
    ("softplus", 800.0, 800.0, 1.0),
    ("softplus", -800.0, 0.0, 0.0),
    ("softplus", 1e308, 1e308, 1.0),
    ("sigmoid", -800.0, 0.0, 0.0),
    ("sigmoid", 800.0, 1.0, 0.0),
    ("sigmoid", -1e308, 0.0, 0.0),
])
def test_no_overflow_far_out(name, x, value, partial, api):
    with RaiseWarnings():
        if api == "program":
            got_value, (got_partial,) = lib_eval(name, (x,))
            result = slpdiff.evaluate(program(name), {"arg0": x})
            assert result.warnings == []
        elif api == "var":
            got_value, (got_partial,) = var_eval(name, (x,))
        else:  # the table's numpy function and compiled rule, outside the engine's errstate
            prim = PRIMITIVES[name]
            got_value = prim.impl(np.float64(x))
            got_partial = rules_for(prim)[0](np.float64(x))
    assert float(got_value) == value
    assert float(got_partial) == partial


def test_sigmoid_is_accurate_on_both_sides():
    for x in [-40.0, -10.0, -1.0, 1.0, 10.0, 40.0]:
        value, _ = lib_eval("sigmoid", (x,))
        expected = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        assert math.isclose(float(value), expected, rel_tol=1e-15), x


@pytest.mark.parametrize("name, reference, derivative", [
    ("log1p", math.log1p, lambda x: 1 / (1 + x)),
    ("expm1", math.expm1, math.exp),
])
@pytest.mark.parametrize("x", [1e-10, -1e-10, 1e-300, 3e-8])
def test_log1p_expm1_accurate_near_zero(name, reference, derivative, x):
    for api in (lib_eval, var_eval):
        value, (partial,) = api(name, (x,))
        expected = reference(x)
        assert abs(float(value) - expected) < 1e-15 * abs(expected), (api.__name__, value, expected)
        assert math.isclose(float(partial), derivative(x), rel_tol=1e-15), (api.__name__, partial)


def test_log1p_expm1_beat_the_naive_formula():
    # The point of the functions: log(1 + x) at 1e-10 is off in the 8th digit.
    naive, _ = lib_eval("log", (1 + 1e-10,))
    good, _ = lib_eval("log1p", (1e-10,))
    assert abs(float(naive) - 1e-10) > 1e-18
    assert abs(float(good) - math.log1p(1e-10)) < 1e-25


@pytest.mark.parametrize("text, at, value, kinds", [
    ("y = log(x)", {"x": -1.0}, math.nan, ["value"]),
    ("y = log(x)", {"x": 0.0}, -math.inf, ["value", "derivative"]),
    ("y = sqrt(x)", {"x": -1.0}, math.nan, ["value", "derivative"]),
    ("y = asin(x)", {"x": 2.0}, math.nan, ["value", "derivative"]),
    ("y = a / b", {"a": 1.0, "b": 0.0}, math.inf, ["value", "derivative"]),
    ("y = a / b", {"a": -1.0, "b": 0.0}, -math.inf, ["value", "derivative"]),
    ("y = a / b", {"a": 0.0, "b": 0.0}, math.nan, ["value", "derivative"]),
    ("y = sqrt(x)", {"x": 0.0}, 0.0, ["derivative"]),
    ("y = acos(x)", {"x": 1.0}, 0.0, ["derivative"]),
    ("y = exp(x)", {"x": 1000.0}, math.inf, ["value", "derivative"]),
])
def test_ieee_domain_cases_are_reported(text, at, value, kinds):
    with RaiseWarnings():  # the engine reports; no RuntimeWarning escapes
        result = slpdiff.evaluate(slpdiff.parse(text), at)
    got = float(result.values["y"])
    assert (math.isnan(got) and math.isnan(value)) or got == value, got
    assert [w.kind for w in result.warnings] == kinds, [w.describe() for w in result.warnings]


def test_sqrt_at_zero_has_an_infinite_partial_named_by_its_rule():
    with RaiseWarnings():
        result = slpdiff.evaluate(slpdiff.parse("y = sqrt(x)"), {"x": 0.0})
    assert float(result.gradient["y"]["x"]) == math.inf
    (warning,) = result.warnings
    assert warning.kind == "derivative" and warning.argument == 0
    assert "0.5 / sqrt(a)" in warning.describe() and "inf" in warning.describe()


def test_division_by_zero_partials_are_ieee():
    with RaiseWarnings():
        _, (d_da, d_db) = lib_eval("divide", (1.0, 0.0))
    assert float(d_da) == math.inf and float(d_db) == -math.inf


def test_warnings_count_points_in_array_evaluation():
    with RaiseWarnings():
        result = slpdiff.evaluate(slpdiff.parse("y = log(x)"), {"x": np.array([1.0, -1.0, -2.0])})
    (warning,) = result.warnings
    assert warning.kind == "value" and warning.count == 2


# --- constants and unrequested inputs get no derivative work --------------------------------------


def test_constant_exponent_gets_no_derivative_work():
    with RaiseWarnings():
        result = slpdiff.evaluate(slpdiff.parse("y = x^2"), {"x": -1.0})
    assert result.warnings == []
    assert float(result.gradient["y"]["x"]) == -2.0


@pytest.mark.parametrize("text", ["y = x^2", "y = x ** 2", "y = pow(x, 2)", "y = x^(1 + 1)",
                                  "y = pow(x, 4 / 2)", "c = 2\ny = x^c",
                                  "y = x^2 + sqrt(0)", "y = x^2 * (1 + abs(0) + relu(0))"])
def test_constant_exponents_in_every_spelling(text):
    with RaiseWarnings():
        result = slpdiff.evaluate(slpdiff.parse(text), {"x": -1.0})
    assert result.warnings == []
    assert float(result.gradient["y"]["x"]) == -2.0


def test_exponent_input_not_requested_gets_no_derivative_work():
    with RaiseWarnings():
        result = slpdiff.evaluate(slpdiff.parse("y = x^c"), {"x": -1.0, "c": 2.0}, wrt=["x"])
    assert result.warnings == []
    assert list(result.gradient["y"]) == ["x"]
    assert float(result.gradient["y"]["x"]) == -2.0


def test_unrequested_input_at_a_singular_point_gets_no_derivative_work():
    with RaiseWarnings():
        result = slpdiff.evaluate(slpdiff.parse("y = x^2 + sqrt(z)"), {"x": -1.0, "z": 0.0},
                                  wrt=["x"])
    assert result.warnings == []
    assert float(result.gradient["y"]["x"]) == -2.0


def test_exponent_input_requested_does_get_its_nan():
    result = slpdiff.evaluate(slpdiff.parse("y = x^c"), {"x": -1.0, "c": 2.0})
    assert math.isnan(float(result.gradient["y"]["c"]))
    assert [w.kind for w in result.warnings] == ["derivative"]


def test_var_api_constant_exponent_gets_no_derivative_work():
    x = Var(value=-1.0)
    node = x**2
    with RaiseWarnings():
        node.forward()
        node.backward()
    assert float(x.deriv) == -2.0
    assert float(node.value) == 1.0


def test_var_api_constant_subexpression_gets_no_derivative_work():
    x = Var(value=-1.0)
    node = x**2 + slpdiff.sqrt(0.0)  # sqrt'(0) is inf, but sqrt(0) is a constant
    with RaiseWarnings():
        node.forward()
        node.backward()
    assert float(x.deriv) == -2.0
