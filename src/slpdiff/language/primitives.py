"""The one table of primitive functions: name, parameters, numpy evaluation, partial derivatives.

Every other part of slpdiff (the parser's function names and arity checks, the engine, error
messages, ``slpdiff functions``, the README's table and the tests) reads this table; a new function
is one ``defprim`` line here (docs/design.md, "Adding things", lists the test rows it then needs).

A partial derivative is written as an SLP expression in the function's parameters. Writing the
function itself applied to its own parameters (``tanh(a)`` in the rule for ``tanh``) means "the
value this node already computed", so the engine reuses it instead of evaluating it again. Because
rules are SLP text, the same rule can be evaluated with numpy, printed in a table, or written into a
generated adjoint program.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Primitive:
    """One function of the language: how to evaluate it and how to differentiate it."""

    name: str
    params: tuple[str, ...]
    impl: Callable[..., object]
    partials: tuple[str, ...]  # one SLP expression per parameter
    doc: str
    infix: str | None = None  # operator spelling, e.g. "+" or "^"; prefix if arity 1
    kind: str = "function"  # "function", or "helper" (appears in derivative rules)
    reduces: bool = False  # combines all rows of its argument into one number (sum, maxrows)
    # (param, value) pairs: that parameter at that value gives back the other argument exactly
    # (x * 1, x ^ 1, x - 0), except for the sign of a zero (-0.0 + 0 is 0.0). The adjoint
    # program folds with them (docs/design.md, "The same numbers"); the fast paths do not.
    identity: tuple[tuple[str, float], ...] = ()
    # An SLP expression in the params that is 0 exactly where the function is not differentiable
    # (a kink, a jump or an infinite slope), e.g. "a" for abs; None if differentiable everywhere
    # in its domain. `slpdiff check` evaluates it to say why finite differences disagree.
    kink: str | None = None
    # How the fast path computes the function on Python floats: an expression with the params in
    # braces ("{a} + {b}") that gives exactly ``impl``'s float64 result, bit for bit (a test checks
    # every row against ``impl``); "{impl}" is ``impl`` itself. None: ``impl`` is called.
    scalar: str | None = None
    # For a function that combines rows (``reduces``): how the fast path gets ``impl``'s result
    # from numpy's own pairwise sum of the rows, added up a slice at a time in numpy's order, and
    # their number: ``combine(total, n)``, bit for bit (a test checks every such row against
    # ``impl``). ``total`` is None when ``combine_total`` is false (the sum is not needed).
    combine: Callable[[object, int], object] | None = None
    combine_total: bool = True
    # A reduction that is not a sum (``maxrows``): ``block(rows)`` reduces one slice (or
    # partition) of the rows, and ``combine`` gets the list of the blocks' results, in order,
    # instead of their pairwise sum; it must give ``impl``'s result over all rows, bit for bit.
    block: Callable[[object], object] | None = None
    # Where ``kink`` is 0, in words, for a kink expression that reads badly in a message.
    kink_words: str | None = None

    @property
    def arity(self) -> int:
        """Number of arguments (one partial derivative each)."""
        return len(self.params)

    @property
    def kink_where(self) -> str:
        """Where the function is not differentiable, for messages: ``where a - b = 0``."""
        return f"where {self.kink_words or f'{self.kink} = 0'}"

    @property
    def signature(self) -> str:
        """The call as written in a program, e.g. ``atan2(y, x)``."""
        return f"{self.name}({', '.join(self.params)})"

    def __repr__(self) -> str:
        return f"<primitive {self.signature}>"


PRIMITIVES: dict[str, Primitive] = {}


def defprim(signature: str, impl: Callable[..., object], *partials: str, doc: str,
            infix: str | None = None, kind: str = "function", reduces: bool = False,
            identity: dict[str, float] | None = None, kink: str | None = None,
            scalar: str | None = None, combine: Callable | None = None,
            combine_total: bool = True, block: Callable | None = None,
            kink_words: str | None = None) -> Primitive:
    """Add one row to the table; ``signature`` is ``name(param, ...)``, one partial per param."""
    name, _, rest = signature.partition("(")
    params = tuple(p.strip() for p in rest.rstrip(")").split(","))
    if len(params) != len(partials):
        raise ValueError(f"{signature}: {len(params)} parameters but {len(partials)} partials")
    prim = Primitive(name, params, impl, partials, doc, infix, kind, reduces,
                     tuple((identity or {}).items()), kink, scalar, combine, combine_total, block,
                     kink_words)
    PRIMITIVES[name] = prim
    return prim


# Numerically careful implementations. numpy's own functions are used wherever they exist; these
# few avoid overflow (sigmoid, softplus) or encode a documented convention (step, powlog).

def _sigmoid(a):
    # exp of a negative number never overflows: sigmoid(-800) is exactly 0, with no warning.
    e = np.exp(-np.abs(a))
    return np.where(np.asarray(a) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))[()]


def _relu(a):
    return np.maximum(a, 0.0)


def _softplus(a):
    return np.logaddexp(0.0, a)  # softplus(800) is 800, not inf


def _step(a):
    return np.heaviside(a, 0.0)  # step(0) = 0 gives relu'(0) = 0


def _powlog(a, b):
    # d/db a^b = a^b * log(a), taken as 0 where a == 0 (the limit for b > 0, a convention else).
    with np.errstate(all="ignore"):
        return np.where(np.asarray(a) == 0, 0.0, np.power(a, b) * np.log(a))[()]


def _max_rows(a):
    # + 0.0: -0.0 and 0.0 tie, and numpy's answer between them depends on its order of
    # comparison; as for sum, the result is never -0.0, so that maxima of blocks of rows combine
    # to the same bits in any order.
    return np.max(a, initial=-np.inf) + 0.0  # of no rows: -inf, the identity of a maximum


def _min_rows(a):
    return np.min(a, initial=np.inf) + 0.0


def _equal(a, b):
    return np.equal(a, b).astype(np.float64)  # -0.0 equals 0.0; nan equals nothing


def _count(a):
    return np.float64(np.size(a))  # a single number is one row


#       signature        numpy            partial derivative for each parameter
defprim("add(a, b)",      np.add,          "1", "1", infix="+", doc="a + b",
        identity={"a": 0.0, "b": 0.0}, scalar="{a} + {b}")
defprim("subtract(a, b)", np.subtract,     "1", "-1", infix="-", doc="a - b", identity={"b": 0.0},
        scalar="{a} - {b}")
defprim("multiply(a, b)", np.multiply,     "b", "a", infix="*", doc="a * b",
        identity={"a": 1.0, "b": 1.0}, scalar="{a} * {b}")
# d(a/b)/db is written -(a/b)/b, reusing the quotient the node already computed (Griewank and
# Walther's form, the one their operation counts assume), not -a/b^2. Both are two correctly
# rounded operations on exact operands: the same error bound, though not always the same bits
# (on 20,000 random pairs, largest error 1.31 against 1.39 units in the last place, mean 0.35
# against 0.34, each form the closer one as often as the other; tests/test_book.py checks the
# bound). This one costs one operation less and never squares b, which overflowed for
# |b| > 1.3e154 (the partial became -0.0) and underflowed for |b| < 1.5e-154 (digits lost).
defprim("divide(a, b)",   np.divide,       "1 / b", "-(a / b) / b", infix="/", doc="a / b",
        identity={"b": 1.0}, scalar="{a} / {b}")  # b = 0 raises: the engine's own path runs
defprim("negative(a)",    np.negative,     "-1", infix="-", doc="-a", scalar="-{a}")
defprim("pow(a, b)",      np.power,        "b * a^(b - 1)", "powlog(a, b)", infix="^",
        doc="a ^ b, also written a ** b", identity={"b": 1.0},
        # numpy squares exactly for a single exponent 2 (its fast path), else calls pow
        scalar="{a} * {a} if {b} == 2.0 else float({impl}({a}, {b}))")
defprim("square(a)",      np.square,       "2 * a", doc="a ^ 2", scalar="{a} * {a}")
defprim("sqrt(a)",        np.sqrt,         "0.5 / sqrt(a)", doc="square root", kink="a",
        scalar="sqrt({a})")  # IEEE square root; a < 0 raises: the engine's own path runs
defprim("exp(a)",         np.exp,          "exp(a)", doc="e ^ a")
defprim("log(a)",         np.log,          "1 / a", doc="natural logarithm")
defprim("log1p(a)",       np.log1p,        "1 / (1 + a)", doc="log(1 + a), accurate for small a")
defprim("expm1(a)",       np.expm1,        "exp(a)", doc="exp(a) - 1, accurate for small a")
defprim("sin(a)",         np.sin,          "cos(a)", doc="sine")
defprim("cos(a)",         np.cos,          "-sin(a)", doc="cosine")
defprim("tan(a)",         np.tan,          "1 + tan(a)^2", doc="tangent")
defprim("asin(a)",        np.arcsin,       "1 / sqrt(1 - a^2)", doc="inverse sine",
        kink="1 - a^2")
defprim("acos(a)",        np.arccos,       "-1 / sqrt(1 - a^2)", doc="inverse cosine",
        kink="1 - a^2")
defprim("atan(a)",        np.arctan,       "1 / (1 + a^2)", doc="inverse tangent")
defprim("atan2(y, x)",    np.arctan2,      "x / (x^2 + y^2)", "-y / (x^2 + y^2)",
        doc="angle of the point (x, y), in (-pi, pi]", kink="hypot(x, y)")
defprim("sinh(a)",        np.sinh,         "cosh(a)", doc="hyperbolic sine")
defprim("cosh(a)",        np.cosh,         "sinh(a)", doc="hyperbolic cosine")
defprim("tanh(a)",        np.tanh,         "1 - tanh(a)^2", doc="hyperbolic tangent")
defprim("abs(a)",         np.abs,          "sign(a)", doc="absolute value; abs'(0) = 0", kink="a",
        scalar="abs({a})")
defprim("sign(a)",        np.sign,         "0", doc="-1, 0 or 1; sign' = 0", kink="a",
        scalar="1.0 if {a} > 0.0 else -1.0 if {a} < 0.0 else {a} if {a} != {a} else 0.0")
defprim("relu(a)",        _relu,           "step(a)", doc="max(a, 0); relu'(0) = 0", kink="a",
        scalar="{a} if {a} > 0.0 or {a} != {a} else 0.0")
defprim("sigmoid(a)",     _sigmoid,        "sigmoid(a) * (1 - sigmoid(a))",
        doc="1 / (1 + exp(-a)), without overflow")
defprim("softplus(a)",    _softplus,       "sigmoid(a)", doc="log(1 + exp(a)), without overflow")
defprim("hypot(a, b)",    np.hypot,        "a / hypot(a, b)", "b / hypot(a, b)",
        doc="sqrt(a^2 + b^2), without overflow", kink="hypot(a, b)")
defprim("max(a, b)",      np.maximum,      "(1 + sign(a - b)) / 2", "(1 - sign(a - b)) / 2",
        doc="the larger; on a tie each argument gets 1/2", kink="a - b",
        scalar="{a} if {a} > {b} or {a} != {a} else {b}")
defprim("min(a, b)",      np.minimum,      "(1 - sign(a - b)) / 2", "(1 + sign(a - b)) / 2",
        doc="the smaller; on a tie each argument gets 1/2", kink="a - b",
        scalar="{a} if {a} < {b} or {a} != {a} else {b}")
# Reductions over the rows (points) of an array: the result is one number. A rule gives the partial
# derivative for each row; the engine broadcasts the reduced node's adjoint back over the rows.
defprim("sum(a)",         np.sum,          "1", reduces=True, doc="the sum of a over all rows",
        scalar="{a} + 0.0",  # numpy adds to 0.0: sum(-0.0) is 0.0
        combine=lambda total, n: total)
defprim("mean(a)",        np.mean,         "1 / count(a)", reduces=True,
        doc="the mean of a over all rows", scalar="{a} + 0.0",
        combine=lambda total, n: total / n)  # np.mean divides numpy's sum by the count
# The largest and smallest value over the rows. Each row's partial is its share of the
# subgradient: 1 on the row that holds the extremum, 0 elsewhere, and 1/k on each of k tied rows
# (as jax.numpy.max and torch.amax split it): equal(a, maxrows(a)) is 1 exactly on the rows that
# hold the maximum, and its sum over the rows counts them. The kink is 0 exactly on tied rows (the
# row holds the maximum, and 2 - the number of such rows is not positive).
defprim("maxrows(a)",     _max_rows,       "equal(a, maxrows(a)) / sum(equal(a, maxrows(a)))",
        reduces=True, doc="the largest value of a over all rows; k tied rows get 1/k each",
        kink="maxrows(a) - a + step(2 - sum(equal(a, maxrows(a))))", scalar="{a} + 0.0",
        kink_words="rows tie at the maximum", block=_max_rows,
        combine=lambda parts, n: _max_rows(parts))
defprim("minrows(a)",     _min_rows,       "equal(a, minrows(a)) / sum(equal(a, minrows(a)))",
        reduces=True, doc="the smallest value of a over all rows; k tied rows get 1/k each",
        kink="a - minrows(a) + step(2 - sum(equal(a, minrows(a))))", scalar="{a} + 0.0",
        kink_words="rows tie at the minimum", block=_min_rows,
        combine=lambda parts, n: _min_rows(parts))
# Helpers: functions that derivative rules are written with. They are ordinary functions of the
# language too, so that a generated adjoint program can use them.
defprim("step(a)",        _step,           "0", kind="helper", kink="a",
        scalar="1.0 if {a} > 0.0 else {a} if {a} != {a} else 0.0",
        doc="1 where a > 0, else 0 (the derivative of relu)")
defprim("powlog(a, b)",   _powlog,         "a^(b - 1) * (1 + b * log(a))", "powlog(a, b) * log(a)",
        kind="helper", doc="a^b * log(a), 0 where a = 0 (the derivative of a^b in b)", kink="a")
defprim("equal(a, b)",    _equal,          "0", "0", kind="helper", kink="a - b",
        scalar="1.0 if {a} == {b} else 0.0",
        doc="1 where a = b, else 0 (the derivative of maxrows and minrows)")
defprim("count(a)",       _count,          "0", kind="helper", reduces=True,
        doc="the number of rows of a (1 for a single number; the derivative of mean)",
        scalar="1.0", combine=lambda total, n: np.float64(n), combine_total=False)

# Names with a fixed value; like function names they cannot be assigned or declared.
CONSTANTS: dict[str, float] = {"pi": float(np.pi), "e": float(np.e)}

# The names a program can never assign or declare.
KEYWORDS = ("input", "output")

# Other languages' names for what the table computes (NumPy, C, Fortran, MATLAB, spreadsheets),
# read by the parser's "unknown function" message: name -> the table's function, or the SLP to
# write where the table has none. Only names that are not the table's own.
OTHER_NAMES: dict[str, str] = {
    "ln": "log", "arctan": "atan", "arcsin": "asin", "arccos": "acos", "arctan2": "atan2",
    "atan2f": "atan2", "fabs": "abs", "absolute": "abs", "power": "pow", "powf": "pow",
    "sqr": "square", "sgn": "sign", "signum": "sign", "heaviside": "step", "expit": "sigmoid",
    "logistic": "sigmoid", "maximum": "max", "fmax": "max", "amax": "maxrows", "minimum": "min",
    "fmin": "min", "amin": "minrows", "average": "mean", "avg": "mean", "total": "sum",
    "ln1p": "log1p", "log1pf": "log1p", "relu6": "min(relu(a), 6)", "log10": "log(a) / log(10)",
    "log2": "log(a) / log(2)", "exp2": "2 ^ a", "exp10": "10 ^ a",
    "asinh": "log(a + sqrt(a^2 + 1))", "arcsinh": "log(a + sqrt(a^2 + 1))",
    "acosh": "log(a + sqrt(a^2 - 1))", "arccosh": "log(a + sqrt(a^2 - 1))",
    "atanh": "0.5 * log((1 + a) / (1 - a))", "arctanh": "0.5 * log((1 + a) / (1 - a))",
    "sec": "1 / cos(a)", "csc": "1 / sin(a)", "cot": "1 / tan(a)",
}


# The elementwise functions whose one-argument call a user may mean as a reduction over the rows
# (as sum(a) is): the arity error names the reduction.
OVER_ROWS: dict[str, str] = {"max": "maxrows", "min": "minrows"}


def other_name_hint(name: str) -> str | None:
    """`` (did you mean 'log'?)`` for another language's name of a table function (``ln``),
    `` (write log(a) / log(10))`` where the table has none; None for other names."""
    meant = OTHER_NAMES.get(name)
    if meant is None:
        return None
    if meant in PRIMITIVES:
        return f" (did you mean '{meant}'?)"
    return f" (slpdiff has no {name}: write {meant})"


def lookup(name: str) -> Primitive | None:
    """The primitive called ``name``, or None."""
    return PRIMITIVES.get(name)
