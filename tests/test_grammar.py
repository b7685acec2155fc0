"""The language of .slp programs, through the library: ``slpdiff.parse`` and ``slpdiff.evaluate``.

Covers the binding and associativity of operators, unary signs, the right-associative power with a
signed exponent, every form of number, comments, ``;`` and empty statements, CRLF, a byte-order
mark, tabs and indentation, UTF-8 in comments, input and output declarations, aliases, the
constants ``pi`` and ``e``, huge numbers and case sensitivity.

Every expected value is computed here in Python (``math`` and float arithmetic), never copied from
slpdiff's own output.
"""

from __future__ import annotations

import math
import time

import pytest

import slpdiff

X = 1.5  # the point most programs below are evaluated at
A, B, C = 8.0, 4.0, 2.0  # the point for programs in a, b, c
LN2 = math.log(2.0)


def run(text: str | bytes, **at: float):
    """Parse ``text`` and evaluate it at ``at``; return (program, evaluation)."""
    program = slpdiff.parse(text)
    return program, slpdiff.evaluate(program, at)


def sole_value(text: str | bytes, **at: float) -> float:
    """The value of the one output of ``text`` at ``at``, as a Python float."""
    program, result = run(text, **at)
    assert len(program.output_names) == 1, program.output_names
    return float(result.values[program.output_names[0]])


def gradient(text: str, **at: float) -> dict[str, float]:
    """The partial derivatives of the one output of ``text`` at ``at``."""
    program, result = run(text, **at)
    (out,) = program.output_names
    return {name: float(g) for name, g in result.gradient[out].items()}


def approx(expected: float):
    return pytest.approx(expected, rel=1e-12, abs=1e-300)


# --- precedence, associativity and signs --------------------------------------------------------

# (program, point, expected value, expected gradient)
EXPRESSIONS = [
    # unary minus binds looser than ^
    pytest.param("y = -x^2", {"x": X}, -(X**2), {"x": -2 * X}, id="neg-pow"),
    pytest.param("y = -x**2", {"x": X}, -(X**2), {"x": -2 * X}, id="neg-starstar"),
    pytest.param("y = (-x)^2", {"x": X}, X**2, {"x": 2 * X}, id="paren-neg-pow"),
    pytest.param("y = -2^2", {}, -4.0, {}, id="neg-literal-pow"),
    pytest.param("y = (-2)^2", {}, 4.0, {}, id="paren-neg-literal-pow"),
    pytest.param("y = -sin(x)^2", {"x": X}, -(math.sin(X) ** 2),
                 {"x": -2 * math.sin(X) * math.cos(X)}, id="neg-call-pow"),
    pytest.param("y = exp(-x^2)", {"x": X}, math.exp(-(X**2)),
                 {"x": -2 * X * math.exp(-(X**2))}, id="exp-neg-pow"),
    # ^ is right-associative
    pytest.param("y = 2^3^2", {}, 2.0 ** (3.0**2), {}, id="pow-right-assoc"),
    pytest.param("y = 2**3**2", {}, 512.0, {}, id="starstar-right-assoc"),
    pytest.param("y = 2^3**2", {}, 512.0, {}, id="mixed-pow-spellings"),
    pytest.param("y = (2^3)^2", {}, 64.0, {}, id="pow-parenthesized-left"),
    pytest.param("y = 2^x^2", {"x": X}, 2.0 ** (X**2), {"x": 2.0 ** (X**2) * LN2 * 2 * X},
                 id="pow-right-assoc-x"),
    # the exponent may carry a sign
    pytest.param("y = 2^-1", {}, 0.5, {}, id="pow-neg-exponent"),
    pytest.param("y = 2 ^ - 1", {}, 0.5, {}, id="pow-neg-exponent-spaced"),
    pytest.param("y = 2**-1", {}, 0.5, {}, id="starstar-neg-exponent"),
    pytest.param("y = 2^-x", {"x": X}, 2.0**-X, {"x": -LN2 * 2.0**-X}, id="pow-neg-x"),
    pytest.param("y = x^+2", {"x": X}, X**2, {"x": 2 * X}, id="pow-plus-exponent"),
    pytest.param("y = x^-2", {"x": X}, X**-2, {"x": -2 * X**-3}, id="pow-neg-2"),
    pytest.param("y = 2^--1", {}, 2.0, {}, id="pow-double-neg-exponent"),
    pytest.param("y = 2^-3^2", {}, 2.0 ** -(3.0**2), {}, id="pow-neg-exponent-right-assoc"),
    pytest.param("y = x^2^-1", {"x": X}, X ** (2.0**-1), {"x": 0.5 * X**-0.5},
                 id="pow-chain-neg-exponent"),
    pytest.param("y = -2^-2", {}, -(2.0**-2), {}, id="neg-pow-neg"),
    # unary signs
    pytest.param("y = --x", {"x": X}, X, {"x": 1.0}, id="double-neg"),
    pytest.param("y = - - - x", {"x": X}, -X, {"x": -1.0}, id="triple-neg"),
    pytest.param("y = +x", {"x": X}, X, {"x": 1.0}, id="unary-plus"),
    pytest.param("y = -+-x", {"x": X}, X, {"x": 1.0}, id="mixed-unary"),
    pytest.param("y = 2*-x", {"x": X}, -2 * X, {"x": -2.0}, id="mul-neg"),
    pytest.param("y = x*+x", {"x": X}, X * X, {"x": 2 * X}, id="mul-plus"),
    pytest.param("y = 2/-4", {}, -0.5, {}, id="div-neg"),
    pytest.param("y = 2 - -3", {}, 5.0, {}, id="sub-neg"),
    pytest.param("y = -x*3", {"x": X}, -X * 3, {"x": -3.0}, id="neg-then-mul"),
    # * and / bind tighter than + and -
    pytest.param("y = 1 + 2*3", {}, 7.0, {}, id="add-mul"),
    pytest.param("y = (1 + 2)*3", {}, 9.0, {}, id="paren-add-mul"),
    pytest.param("y = 2*3^2", {}, 18.0, {}, id="mul-pow"),
    pytest.param("y = (2*3)^2", {}, 36.0, {}, id="paren-mul-pow"),
    pytest.param("y = 1 - 6/3", {}, -1.0, {}, id="sub-div"),
    # left associativity of + - and * /
    pytest.param("y = a/b/c", {"a": A, "b": B, "c": C}, (A / B) / C,
                 {"a": 1 / (B * C), "b": -A / (B**2 * C), "c": -A / (B * C**2)},
                 id="div-left-assoc"),
    pytest.param("y = a/(b/c)", {"a": A, "b": B, "c": C}, A / (B / C),
                 {"a": C / B, "b": -A * C / B**2, "c": A / B}, id="div-parenthesized-right"),
    pytest.param("y = a - b - c", {"a": A, "b": B, "c": C}, (A - B) - C,
                 {"a": 1.0, "b": -1.0, "c": -1.0}, id="sub-left-assoc"),
    pytest.param("y = a - (b - c)", {"a": A, "b": B, "c": C}, A - (B - C),
                 {"a": 1.0, "b": -1.0, "c": 1.0}, id="sub-parenthesized-right"),
    pytest.param("y = a - b + c", {"a": A, "b": B, "c": C}, (A - B) + C,
                 {"a": 1.0, "b": -1.0, "c": 1.0}, id="sub-add-left-assoc"),
    pytest.param("y = a / b * c", {"a": A, "b": B, "c": C}, (A / B) * C,
                 {"a": C / B, "b": -A * C / B**2, "c": A / B}, id="div-mul-left-assoc"),
    pytest.param("y = 1 - 2 + 3", {}, 2.0, {}, id="literal-sub-add"),
]


@pytest.mark.parametrize("text, at, expected, grad", EXPRESSIONS)
def test_expression_value(text, at, expected, grad):
    assert sole_value(text, **at) == approx(expected)


@pytest.mark.parametrize("text, at, expected, grad", EXPRESSIONS)
def test_expression_gradient(text, at, expected, grad):
    got = gradient(text, **at)
    assert list(got) == list(at)
    for name, g in grad.items():
        assert got[name] == approx(g), name


# Exact float64 arithmetic: the same operations in Python give bit-identical results.
FLOAT64 = [
    ("y = 0.1 + 0.2", 0.1 + 0.2),
    ("y = 1/3", 1 / 3),
    ("y = 2^0.5", 2**0.5),
    ("y = 1 - 1e-17", 1 - 1e-17),
    ("y = 2^1023", 2.0**1023),
    ("y = 2^-1074", 2.0**-1074),
    ("y = 10^-400", 0.0),
]


@pytest.mark.parametrize("text, expected", FLOAT64)
def test_float64_arithmetic(text, expected):
    assert sole_value(text) == expected


# --- numbers --------------------------------------------------------------------------------------

NUMBERS = [
    ("3", 3.0),
    ("3.", 3.0),
    (".5", 0.5),
    ("0.5", 0.5),
    ("2.5e-3", 0.0025),
    ("2.5E-3", 0.0025),
    ("1E6", 1_000_000.0),
    ("1e6", 1_000_000.0),
    ("1e+2", 100.0),
    ("1E+06", 1_000_000.0),
    ("3.e2", 300.0),
    (".5e1", 5.0),
    ("1e-0", 1.0),
    ("007", 7.0),
    ("0", 0.0),
    ("123456789", 123_456_789.0),
]


@pytest.mark.parametrize("literal, expected", NUMBERS)
def test_number_forms(literal, expected):
    assert sole_value(f"y = {literal}") == expected


@pytest.mark.parametrize("literal, expected", NUMBERS)
def test_negated_number_forms(literal, expected):
    assert sole_value(f"y = -{literal}") == -expected


def test_number_in_expression_with_input():
    assert sole_value("y = 2.5e-3 * x + .5", x=X) == approx(0.0025 * X + 0.5)


# A huge literal or power is float64 inf, computed at once (never a big integer).
HUGE = [
    pytest.param("y = 1e999999", math.inf, id="huge-exponent-literal"),
    pytest.param("y = -1e999999", -math.inf, id="huge-negative-literal"),
    pytest.param("y = 1" + "0" * 400, math.inf, id="400-digit-literal"),
    pytest.param("y = 9^9^9^9^9", math.inf, id="power-tower"),
    pytest.param("y = 9**9**9**9**9", math.inf, id="power-tower-starstar"),
    pytest.param("y = 2^1024", math.inf, id="overflowing-power"),
    pytest.param("y = 2^1e999", math.inf, id="power-of-inf-literal"),
    pytest.param("y = 10^-1e999999", 0.0, id="underflowing-power"),
]


@pytest.mark.parametrize("text, expected", HUGE)
def test_huge_numbers_are_float64_and_fast(text, expected):
    start = time.perf_counter()
    value = sole_value(text)
    assert time.perf_counter() - start < 2.0
    assert value == expected


def test_huge_power_of_input_is_inf():
    start = time.perf_counter()
    assert sole_value("y = x^9^9^9^9", x=X) == math.inf
    assert time.perf_counter() - start < 2.0


# --- layout: comments, separators, line ends, BOM, whitespace, UTF-8 in comments -----------------

# Each program computes y = 2 * x from the input x.
LAYOUTS = [
    pytest.param("y = x * 2", id="plain"),
    pytest.param("# header comment\ny = x * 2 # trailing comment\n", id="comments"),
    pytest.param("y = x * 2#no space before the comment", id="comment-no-space"),
    pytest.param("# only a comment; with a semicolon\ny = x * 2", id="comment-with-semicolon"),
    pytest.param("\n\n   \n\ny = x * 2\n\n\n", id="blank-lines"),
    pytest.param("a = x; y = a * 2", id="semicolon"),
    pytest.param("a = x;; y = a * 2;", id="empty-statements"),
    pytest.param(";;a = x;\n;y = a * 2;;\n;", id="leading-semicolons"),
    pytest.param("a = x ; ; y = a * 2 ; # done", id="spaced-semicolons"),
    pytest.param("a = x\r\ny = a * 2\r\n", id="crlf"),
    pytest.param("# c\r\n\r\na = x # c\r\ny = a * 2", id="crlf-comments-blank"),
    pytest.param("\ufeffy = x * 2\n", id="bom"),
    pytest.param("\ufeff# comment first\r\ny = x * 2\r\n", id="bom-crlf"),
    pytest.param("\ty = x * 2\n", id="tab-indent"),
    pytest.param("    a = x\n\t\ty\t=\ta\t*\t2\t", id="indent-and-tabs"),
    pytest.param("y=x*2", id="no-spaces"),
    pytest.param("y = x  *  2   ", id="trailing-spaces"),
    pytest.param("# héllo wörld ∑ → 😀\ny = x * 2 # ünïcode ✓ 中文", id="utf8-comments"),
    pytest.param("\ufeff# ü\r\n\ta = x ;\r\n\ty = a*2 # ∂y/∂x\r\n", id="everything"),
]


@pytest.mark.parametrize("text", LAYOUTS)
def test_layout_is_accepted(text):
    program, result = run(text, x=X)
    assert program.input_names == ["x"]
    assert program.output_names == ["y"]
    assert float(result.values["y"]) == 2 * X
    assert float(result.gradient["y"]["x"]) == 2.0


@pytest.mark.parametrize("text", [
    pytest.param(b"\xef\xbb\xbfy = x * 2\r\n", id="bom-crlf-bytes"),
    pytest.param("# ünïcode ∑ 😀\ny = x * 2 # ✓\n".encode(), id="utf8-comment-bytes"),
    pytest.param(b"\ta = x;;\r\n y = a * 2;", id="tabs-semicolons-bytes"),
])
def test_layout_from_utf8_bytes(text):
    program, result = run(text, x=X)
    assert (program.input_names, program.output_names) == (["x"], ["y"])
    assert float(result.values["y"]) == 2 * X


# --- names, case sensitivity, reserved words as parts of names ----------------------------------

# (program, inputs, outputs)
NAMES = [
    pytest.param("_x = x_1 * 2", ["x_1"], ["_x"], id="underscores"),
    pytest.param("__a9 = _b + a9Z", ["_b", "a9Z"], ["__a9"], id="letters-digits-underscores"),
    pytest.param("y = x + X", ["x", "X"], ["y"], id="case-distinct-inputs"),
    pytest.param("X = 2 * x\ny = X + x", ["x"], ["y"], id="case-distinct-assigned"),
    pytest.param("y = PI + E", ["PI", "E"], ["y"], id="uppercase-constants-are-names"),
    pytest.param("Input = x", ["x"], ["Input"], id="capitalized-keyword-is-a-name"),
    pytest.param("OUTPUT = x", ["x"], ["OUTPUT"], id="uppercase-keyword-is-a-name"),
    pytest.param("Sin = x", ["x"], ["Sin"], id="capitalized-function-is-a-name"),
    pytest.param("inputs = x", ["x"], ["inputs"], id="keyword-prefix"),
    pytest.param("input_x = 1\noutput1 = input_x", [], ["output1"], id="keyword-prefixes"),
    pytest.param("pi2 = e1 * pi_", ["e1", "pi_"], ["pi2"], id="constant-prefixes"),
    pytest.param("sinx = exp1 + logx", ["exp1", "logx"], ["sinx"], id="function-prefixes"),
]


@pytest.mark.parametrize("text, inputs, outputs", NAMES)
def test_names(text, inputs, outputs):
    program = slpdiff.parse(text)
    assert program.input_names == inputs
    assert program.output_names == outputs


def test_case_sensitive_values():
    program, result = run("y = x - 10 * X", x=1.0, X=2.0)
    assert float(result.values["y"]) == 1.0 - 10 * 2.0
    assert {k: float(v) for k, v in result.gradient["y"].items()} == {"x": 1.0, "X": -10.0}


def test_function_names_are_case_sensitive():
    with pytest.raises(slpdiff.ProgramError, match="unknown function 'Sin'"):
        slpdiff.parse("y = Sin(x)")


# --- inputs and outputs -------------------------------------------------------------------------

# (program, input names in order, output names in order)
DECLARATIONS = [
    # implicit inputs: names used but never assigned, in order of first use
    pytest.param("y = b*a + c - b", ["b", "a", "c"], ["y"], id="implicit-first-use"),
    pytest.param("y = sin(w) * x", ["w", "x"], ["y"], id="implicit-inside-call"),
    pytest.param("z = q\ny = p + q", ["q", "p"], ["y"], id="implicit-across-statements"),
    pytest.param("y = x * 2", ["x"], ["y"], id="implicit-single"),
    pytest.param("y = 2 * 3", [], ["y"], id="no-inputs"),
    # explicit inputs, in declared order, appending, anywhere
    pytest.param("input b, a\ny = a*b", ["b", "a"], ["y"], id="explicit-order"),
    pytest.param("y = a*b\ninput b\ninput a", ["b", "a"], ["y"], id="explicit-after-use"),
    pytest.param("input x\ny = x*w\ninput w", ["x", "w"], ["y"], id="explicit-appending"),
    pytest.param("y = x*w\ninput w, x", ["w", "x"], ["y"], id="explicit-not-use-order"),
    pytest.param("input x, w\ny = x", ["x", "w"], ["y"], id="explicit-unused-input"),
    pytest.param("y = x;output y;input x", ["x"], ["y"], id="declarations-with-semicolons"),
    # outputs: default is the last assigned name
    pytest.param("b = x\na = 2*x", ["x"], ["a"], id="default-last-assigned"),
    pytest.param("a = 2*x\nb = a", ["x"], ["b"], id="default-last-assigned-alias"),
    pytest.param("b = 1; a = 2", [], ["a"], id="default-last-not-alphabetical"),
    # explicit outputs, in order, appending, anywhere, inputs allowed
    pytest.param("output y\ny = sin(x)\ninput x", ["x"], ["y"], id="output-first"),
    pytest.param("y = x\nz = 2*x\noutput z, y", ["x"], ["z", "y"], id="several-outputs"),
    pytest.param("y = x\nz = 2*x\noutput z\noutput y", ["x"], ["z", "y"],
                 id="output-statements-append"),
    pytest.param("output z\ny = x\noutput y\nz = 2*x", ["x"], ["z", "y"],
                 id="output-statements-anywhere"),
    pytest.param("y = x^2\noutput x", ["x"], ["x"], id="output-implicit-input"),
    pytest.param("input x\noutput x", ["x"], ["x"], id="output-declared-input"),
    pytest.param("output x\ninput x", ["x"], ["x"], id="output-before-input"),
    pytest.param("y = x^2\noutput y, x", ["x"], ["y", "x"], id="output-assigned-and-input"),
]


@pytest.mark.parametrize("text, inputs, outputs", DECLARATIONS)
def test_declarations(text, inputs, outputs):
    program = slpdiff.parse(text)
    assert program.input_names == inputs
    assert program.output_names == outputs


def test_several_outputs_values_and_gradients():
    program, result = run("y = x^2\nz = sin(x)\noutput z, y, x", x=X)
    assert list(result.values) == ["z", "y", "x"]
    assert float(result.values["z"]) == approx(math.sin(X))
    assert float(result.values["y"]) == approx(X**2)
    assert float(result.values["x"]) == X
    assert float(result.gradient["z"]["x"]) == approx(math.cos(X))
    assert float(result.gradient["y"]["x"]) == approx(2 * X)
    assert float(result.gradient["x"]["x"]) == 1.0


def test_gradient_follows_explicit_input_order():
    program, result = run("y = x * w^2\ninput w, x", x=X, w=3.0)
    assert list(result.gradient["y"]) == ["w", "x"]
    assert float(result.gradient["y"]["w"]) == approx(2 * X * 3.0)
    assert float(result.gradient["y"]["x"]) == approx(9.0)


def test_unused_declared_input_has_zero_derivative():
    _, result = run("input x, w\ny = x^3", x=X, w=5.0)
    assert float(result.gradient["y"]["w"]) == 0.0
    assert float(result.gradient["y"]["x"]) == approx(3 * X**2)


# --- aliases ------------------------------------------------------------------------------------

# (program, point, {output: (value, {input: derivative})})
ALIASES = [
    pytest.param("y = x", {"x": X}, {"y": (X, {"x": 1.0})}, id="alias-of-input"),
    pytest.param("y = x\noutput y, x", {"x": X}, {"y": (X, {"x": 1.0}), "x": (X, {"x": 1.0})},
                 id="alias-and-input-as-outputs"),
    pytest.param("y = x\nz = y * y", {"x": X}, {"z": (X**2, {"x": 2 * X})},
                 id="alias-used-later"),
    pytest.param("a = x * 2\nb = a\nc = b\noutput a, b, c", {"x": X},
                 {n: (2 * X, {"x": 2.0}) for n in "abc"}, id="alias-chain"),
    pytest.param("c = 3\ny = c\noutput c, y", {}, {"c": (3.0, {}), "y": (3.0, {})},
                 id="alias-of-constant"),
    pytest.param("c = 3\nd = -c\ny = c * x + d", {"x": X}, {"y": (3 * X - 3, {"x": 3.0})},
                 id="negated-named-constant"),
    pytest.param("y = x\ninput x\noutput y", {"x": X}, {"y": (X, {"x": 1.0})},
                 id="alias-of-declared-input"),
]


@pytest.mark.parametrize("text, at, expected", ALIASES)
def test_aliases(text, at, expected):
    program, result = run(text, **at)
    assert program.output_names == list(expected)
    for out, (value, grad) in expected.items():
        assert float(result.values[out]) == approx(value), out
        assert {k: float(v) for k, v in result.gradient[out].items()} == grad, out


# --- the constants pi and e ---------------------------------------------------------------------

CONSTANTS = [
    pytest.param("y = pi", {}, math.pi, {}, id="pi"),
    pytest.param("y = e", {}, math.e, {}, id="e"),
    pytest.param("y = -pi", {}, -math.pi, {}, id="minus-pi"),
    pytest.param("y = pi * e", {}, math.pi * math.e, {}, id="pi-times-e"),
    pytest.param("y = e^2", {}, math.e**2, {}, id="e-squared"),
    pytest.param("y = cos(pi)", {}, -1.0, {}, id="cos-pi"),
    pytest.param("y = log(e)", {}, 1.0, {}, id="log-e"),
    pytest.param("y = pi * x", {"x": X}, math.pi * X, {"x": math.pi}, id="pi-times-x"),
    pytest.param("y = e^x", {"x": X}, math.e**X, {"x": math.e**X}, id="e-to-the-x"),
    pytest.param("y = x^e", {"x": X}, X**math.e, {"x": math.e * X ** (math.e - 1)}, id="x-to-e"),
]


@pytest.mark.parametrize("text, at, expected, grad", CONSTANTS)
def test_constants(text, at, expected, grad):
    program, result = run(text, **at)
    assert program.input_names == list(at)  # pi and e are never inputs
    (out,) = program.output_names
    assert float(result.values[out]) == approx(expected)
    for name, g in grad.items():
        assert float(result.gradient[out][name]) == approx(g)


def test_constants_with_explicit_inputs_need_no_declaration():
    program = slpdiff.parse("input x\ny = pi * x + e")
    assert program.input_names == ["x"]
