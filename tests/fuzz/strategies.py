"""Hypothesis strategies for fuzzing slpdiff: valid programs, broken programs, command-line data.

* :func:`valid_programs` draws programs from the grammar (``grammar/slp.lark``): assignments,
  ``input`` and ``output`` lines in any place, comments, blank lines, ``;``, CRLF and a BOM, every
  function of the table with its arity, the infix operators, unary signs, numbers in every form
  the grammar accepts (exponents, ``.5``, ``3.``), ``pi`` and ``e``, and redundant parentheses.
  Every program it draws is valid: names are assigned once, before use, never reserved.
* :func:`mutated_programs` breaks such a program the ways people and tools do: tokens deleted,
  duplicated, swapped or replaced, random bytes, invalid UTF-8, NUL bytes, CRLF line ends, a BOM,
  truncation at any byte.
* :func:`at_strings`, :func:`points_files` and :func:`grid_specs` draw the values of ``--at`` and
  the rows of ``--points`` (CSV, TSV, JSON Lines), well-formed or not.
* :func:`smooth_programs` draws programs whose every argument stays inside its function's smooth
  domain (away from kinks, poles and ties), with a point: for comparing derivatives.

The strategies only build text; what is checked about it is in the tests (``tests/test_fuzz.py``)
and in the coverage-guided target (``tests/fuzz/fuzz_parser.py``).
"""

from __future__ import annotations

import json
import re

from hypothesis import strategies as st

from slpdiff.language.primitives import CONSTANTS, KEYWORDS, PRIMITIVES

FUNCTIONS = sorted(PRIMITIVES)
RESERVED = frozenset([*PRIMITIVES, *CONSTANTS, *KEYWORDS])
INFIX = ["+", "-", "*", "/", "^", "**"]

# --- numbers and names -------------------------------------------------------------------------

# Every spelling of NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
_DIGITS = st.text("0123456789", min_size=1, max_size=4)
_MANTISSA = st.one_of(
    _DIGITS,                                               # 3
    st.builds("{}.".format, _DIGITS),                      # 3.
    st.builds("{}.{}".format, _DIGITS, _DIGITS),           # 3.25
    st.builds(".{}".format, _DIGITS),                      # .5
)
_EXPONENT = st.one_of(st.just(""), st.builds("{}{}{}".format, st.sampled_from("eE"),
                                             st.sampled_from(["", "+", "-"]),
                                             st.text("0123456789", min_size=1, max_size=3)))
number_literals = st.one_of(
    st.builds("{}{}".format, _MANTISSA, _EXPONENT),
    st.sampled_from(["0", "1", "2", "0.5", "1e999", "1e-999", "4.9e-324", "1.7976931348623157e308",
                     "00012", "1E+0", ".0e-0", "9" * 40]),
)


@st.composite
def names(draw) -> str:
    """A NAME that is not reserved (not a function, constant or keyword)."""
    name = draw(st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,5}\Z"))
    return name + "_" if name in RESERVED else name


# --- valid programs -------------------------------------------------------------------------------


@st.composite
def expressions(draw, known: list[str], depth: int = 3) -> str:
    """An expression over the names in ``known`` (never empty): any mix of the grammar's forms."""
    leaf = st.one_of(st.sampled_from(known), number_literals, st.sampled_from(sorted(CONSTANTS)))
    if depth <= 0:
        return draw(leaf)
    kind = draw(st.sampled_from(["leaf", "leaf", "infix", "infix", "call", "unary", "parens"]))
    sub = expressions(known, depth - 1)
    if kind == "leaf":
        return draw(leaf)
    if kind == "infix":
        op = draw(st.sampled_from(INFIX))
        left, right = draw(sub), draw(sub)
        if op in ("^", "**"):
            # The base of a power is an atom: a bare unary or binary expression needs parentheses.
            left = left if _is_atom(left) else f"({left})"
            right = right if _is_atom(right) or right.startswith(("-", "+")) and \
                _is_atom(right[1:]) else f"({right})"
        space = draw(st.sampled_from(["", " ", "  ", "\t"]))
        return f"{left}{space}{op}{space}{right}"
    if kind == "call":
        prim = PRIMITIVES[draw(st.sampled_from(FUNCTIONS))]
        args = [draw(sub) for _ in prim.params]
        return f"{prim.name}({draw(st.sampled_from([', ', ',', ' , '])).join(args)})"
    if kind == "unary":
        return draw(st.sampled_from(["-", "+", "- "])) + draw(sub)
    return f"({draw(sub)})"


def _is_atom(text: str) -> bool:
    """True for a name, a number or a call/parenthesized group that spans the whole text."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return True
    if not text.endswith(")"):
        return False
    start = re.match(r"[A-Za-z_][A-Za-z0-9_]*\(|\(", text)
    if start is None:
        return False
    level = 0
    for k, c in enumerate(text):
        level += (c == "(") - (c == ")")
        if level == 0 and k >= start.end() - 1:
            return k == len(text) - 1
    return False


_COMMENTS = st.one_of(st.just("#"), st.builds("# {}".format, st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)))


@st.composite
def valid_programs(draw, max_statements: int = 8,
                   declare: bool | None = None) -> tuple[str, list[str]]:
    """(program text, its input names in order): a valid program from the grammar. With
    ``declare``, it has ``input`` lines (so at least one input); by default, maybe."""
    inputs = draw(st.lists(names(), min_size=1, max_size=3, unique=True))
    if declare is None:
        declare = draw(st.booleans())
    known = list(inputs)
    body: list[str] = []
    assigned: list[str] = []
    used_inputs: list[str] = []  # without an `input` line: inputs in order of first use
    for _ in range(draw(st.integers(1, max_statements))):
        name = draw(names())
        if name in known:
            continue
        expr = draw(expressions(known, depth=draw(st.integers(0, 3))))
        # a name, not the exponent of a number (the E of 1E+0)
        for word in re.findall(r"(?<![0-9.])[A-Za-z_][A-Za-z0-9_]*", expr):
            if word in inputs and word not in used_inputs:
                used_inputs.append(word)
        body.append(f"{name} = {expr}")
        known.append(name)
        assigned.append(name)
    if not assigned:
        body.append(f"y0_ = {inputs[0]}")
        used_inputs = used_inputs or [inputs[0]]
        assigned.append("y0_")
    # `input` lines, maybe split, anywhere before or between statements (declared before use is
    # not required of them, but keep the first one first so the order of inputs is ours).
    if declare:
        split = draw(st.integers(1, len(inputs)))
        body.insert(0, f"input {', '.join(inputs[:split])}")
        if inputs[split:]:
            body.insert(draw(st.integers(1, len(body))), f"input {', '.join(inputs[split:])}")
        program_inputs = inputs
    else:
        program_inputs = used_inputs
    if draw(st.booleans()):
        outputs = draw(st.lists(st.sampled_from(assigned + (inputs if declare else [])),
                                min_size=1, max_size=3, unique=True))
        body.insert(draw(st.integers(0, len(body))), f"output {', '.join(outputs)}")
    lines: list[str] = []
    for line in body:
        for _ in range(draw(st.integers(0, 1))):
            lines.append(draw(st.one_of(st.just(""), _COMMENTS, st.just("   "))))
        indent = draw(st.sampled_from(["", "", " ", "\t"]))
        trailing = draw(st.one_of(st.just(""), st.builds("  {}".format, _COMMENTS)))
        lines.append(indent + line + trailing)
    text = ""
    for k, line in enumerate(lines):
        # A comment runs to the end of the line, so only a newline may follow one.
        sep = "\n" if "#" in line else draw(st.sampled_from(["\n", "\n", "\r\n", ";", "; ", ";;"]))
        text += line + (sep if k < len(lines) - 1 or draw(st.booleans()) else "")
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    return text, program_inputs


# --- broken programs ------------------------------------------------------------------------------

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|\*\*|\r?\n|#[^\n]*"
                   r"|[ \t]+|.", re.S)
NOISE_TOKENS = ["(", ")", ",", "=", ";", "\n", "+", "-", "*", "/", "^", "**", "input", "output",
                "sin", "atan2", "max", "pi", "1e999", "#", "\r", "\t", "x", "1.5.5", "$", "é",
                "\u2028", "\0", "((((", "))))", "--", "input input"]
BAD_BYTES = [b"\xff", b"\xfe", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
             b"\xc0\xaf", b"\x80", b"\0", b"\xef\xbb\xbf", b"\r", b"\x1b[31m"]


def tokens(text: str) -> list[str]:
    """``text`` cut into the grammar's tokens (plus whitespace, line ends and comments)."""
    return [m.group(0) for m in TOKEN.finditer(text)]


@st.composite
def mutated_programs(draw, max_mutations: int = 4) -> tuple[bytes, list[str]]:
    """(program bytes, the input names of the valid program it came from): a valid program with
    a few mutations applied, most of which make it invalid."""
    text, inputs = draw(valid_programs(max_statements=5))
    toks = tokens(text)
    data: bytes | None = None
    for _ in range(draw(st.integers(1, max_mutations))):
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace", "bytes",
                                     "invalid_utf8", "nul", "crlf", "bom", "truncate"]))
        if data is None and kind in ("bytes", "invalid_utf8", "nul", "truncate"):
            data = "".join(toks).encode()
        if data is not None:
            data = _mutate_bytes(draw, data, kind)
            continue
        if kind == "crlf":
            toks = ["\r\n" if t == "\n" else t for t in toks]
        elif kind == "bom":
            toks.insert(draw(st.sampled_from([0, 0, len(toks) // 2])), "\ufeff")
        elif not toks:
            toks = [draw(st.sampled_from(NOISE_TOKENS))]
        else:
            k = draw(st.integers(0, len(toks) - 1))
            if kind == "delete":
                del toks[k]
            elif kind == "duplicate":
                toks.insert(k, toks[k])
            elif kind == "swap":
                j = draw(st.integers(0, len(toks) - 1))
                toks[k], toks[j] = toks[j], toks[k]
            elif kind == "insert":
                toks.insert(k, draw(st.one_of(st.sampled_from(NOISE_TOKENS), number_literals,
                                              names())))
            else:  # replace
                toks[k] = draw(st.one_of(st.sampled_from(NOISE_TOKENS), st.text(max_size=3)))
    if data is None:
        data = "".join(toks).encode("utf-8", "surrogatepass")
    return data, inputs


def _mutate_bytes(draw, data: bytes, kind: str) -> bytes:
    at = draw(st.integers(0, len(data)))
    if kind == "bytes":
        return data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
    if kind == "invalid_utf8":
        return data[:at] + draw(st.sampled_from(BAD_BYTES)) + data[at:]
    if kind == "nul":
        return data[:at] + b"\0" + data[at:]
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "truncate":
        return data[:at]
    # the token-level kinds, on bytes: cut, repeat or swap a span
    end = draw(st.integers(at, min(len(data), at + 8)))
    if kind == "delete":
        return data[:at] + data[end:]
    if kind == "duplicate":
        return data[:end] + data[at:end] + data[end:]
    return data[:at] + draw(st.binary(max_size=4)) + data[end:]


@st.composite
def json_points(draw, inputs: list[str]) -> bytes:
    """The JSON object of ``--at @FILE``, or something that is not one."""
    row = {name: draw(st.one_of(finite_values, st.sampled_from([0.0, 1e300]))) for name in inputs}
    broken = _break_json_row(draw, row)
    text = broken if isinstance(broken, str) else json.dumps(broken)
    return _break_file(draw, text.encode())


#: Anything at all: the byte strings the parser must survive besides near-programs.
any_bytes = st.one_of(st.binary(max_size=60), st.text(max_size=40).map(
    lambda t: t.encode("utf-8", "surrogatepass")))


# --- command-line values --------------------------------------------------------------------------

VALUE_WORDS = ["inf", "-inf", "+inf", "nan", "NaN", "Infinity", "pi", "-pi", "e", "-e", "1e999",
               "-0", "0x10", "1_000", "1,5", "", " ", "abc", "1e", ".", "-", "--1", "1/2",
               "4.9e-324", "１", "\0", "@", "@-", "@/nonexistent", "nan:1:1", "0:1:0", "1:0:0.5",
               "0:1:-1", "0:inf:1", "0:1:nan", "0:1e300:1e-300", "::", "0:1", "0:1:1:1"]
finite_values = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def grid_specs(draw, valid: bool | None = None) -> str:
    """``start:stop:step``: with ``valid``, a small grid (at most 6 points); without, also empty,
    reversed, zero-step, non-finite and huge ones (which slpdiff refuses without ``--force``)."""
    if valid is None:
        valid = draw(st.booleans())
    if valid:
        start = draw(st.floats(-10, 10, allow_nan=False))
        step = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0, 0.1]))
        count = draw(st.integers(0, 5))
        return f"{start!r}:{start + count * step!r}:{step!r}"
    parts = [draw(st.one_of(finite_values.map(repr), st.sampled_from(
        ["inf", "-inf", "nan", "0", "1e9", "1e-9", "", "x", "-1"]))) for _ in range(3)]
    return ":".join(parts[: draw(st.integers(1, 4))])


@st.composite
def at_strings(draw, inputs: list[str], valid: bool | None = None) -> list[str]:
    """``--at`` values (one or more options) for a program with ``inputs``: with ``valid``, every
    input gets a number (or at most one a small grid); otherwise anything goes."""
    if valid is None:
        valid = draw(st.booleans())
    if valid:
        value = st.one_of(finite_values.map(repr), st.sampled_from(["pi", "e", "-1", "0"]))
        pairs = [f"{name}={draw(value)}" for name in inputs]
        if pairs and draw(st.integers(0, 3)) == 0:
            k = draw(st.integers(0, len(pairs) - 1))
            pairs[k] = f"{inputs[k]}={draw(grid_specs(valid=True))}"
        split = draw(st.integers(0, len(pairs)))
        return [",".join(part) for part in (pairs[:split], pairs[split:]) if part] or ["x=1"]
    candidates = [*inputs, "x", "w", "", " x", "x ", "é", "input", "a=b"]
    pairs = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.one_of(st.sampled_from(candidates), st.text(max_size=3)))
        value = draw(st.one_of(st.sampled_from(VALUE_WORDS), finite_values.map(repr),
                               grid_specs(), st.text(max_size=4)))
        sep = draw(st.sampled_from(["=", "=", "==", ":", ""]))
        pairs.append(f"{name}{sep}{value}")
    joined = draw(st.sampled_from([",", ",", ", ", ",,", ";"])).join(pairs)
    return [joined.replace("\0", "")]  # a NUL cannot be passed in argv at all


@st.composite
def points_files(draw, inputs: list[str], valid: bool | None = None) -> tuple[str, bytes]:
    """(format, file content) for ``--points``: ``csv``, ``tsv`` or ``jsonl``; with ``valid``,
    a header (or keys) naming every input and numeric rows, else rows broken in any way."""
    fmt = draw(st.sampled_from(["csv", "tsv", "jsonl"]))
    if valid is None:
        valid = draw(st.booleans())
    n_rows = draw(st.integers(0 if not valid else 1, 5))
    number = st.one_of(finite_values, st.sampled_from([0.0, -0.0, 1.0, 1e300, -2.5]))
    if fmt == "jsonl":
        rows = []
        for _ in range(n_rows):
            row = {name: draw(number) for name in inputs}
            if not valid:
                row = _break_json_row(draw, row)
            rows.append(row if isinstance(row, str) else json.dumps(row))
        content = "\n".join(rows) + draw(st.sampled_from(["\n", "", "\n\n"]))
        return fmt, _break_file(draw, content.encode()) if not valid else content.encode()
    sep = "," if fmt == "csv" else "\t"
    header = list(inputs)
    rows = [[repr(draw(number)) for _ in inputs] for _ in range(n_rows)]
    if not valid:
        header = draw(st.one_of(st.just(header), st.lists(st.sampled_from(
            [*inputs, "", "x", "id", '"x"', "x y", "é"]), max_size=4)))
        for row in rows:
            for _ in range(draw(st.integers(0, 2))):
                action = draw(st.sampled_from(["drop", "add", "text", "quote", "empty"]))
                if action == "drop" and row:
                    row.pop()
                elif action == "add":
                    row.append("1")
                elif action == "text" and row:
                    row[0] = draw(st.sampled_from(VALUE_WORDS + ['"1"', "1e", " 2 "]))
                elif action == "quote" and row:
                    row[-1] = '"' + row[-1]
                elif action == "empty":
                    row.clear()
    lines = [sep.join(header), *(sep.join(row) for row in rows)]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    content = (newline.join(lines) + newline).encode()
    return fmt, _break_file(draw, content) if not valid else content


def _break_json_row(draw, row: dict):
    action = draw(st.sampled_from(["keep", "drop", "extra", "string", "null", "list", "nested",
                                   "not_object", "bad_json", "empty", "bool", "big"]))
    if action == "keep":
        return row
    if action == "drop" and row:
        row.pop(next(iter(row)))
    elif action == "extra":
        row["extra"] = 1
    elif action in ("string", "null", "list", "nested", "bool", "big") and row:
        key = next(iter(row))
        row[key] = {"string": "1.5", "null": None, "list": [1, 2], "nested": {"a": 1},
                    "bool": True, "big": 10 ** 400}[action]
    elif action == "not_object":
        return draw(st.sampled_from(["[1, 2]", "1", '"x"', "null", "true"]))
    elif action == "bad_json":
        return draw(st.sampled_from(["{", '{"x": }', "{'x': 1}", '{"x": NaN}', '{"x": 1,}', "}"]))
    elif action == "empty":
        return ""
    return row


def _break_file(draw, content: bytes) -> bytes:
    action = draw(st.sampled_from(["keep", "keep", "bom", "nul", "bytes", "truncate", "empty"]))
    at = draw(st.integers(0, len(content)))
    if action == "bom":
        return b"\xef\xbb\xbf" + content
    if action == "nul":
        return content[:at] + b"\0" + content[at:]
    if action == "bytes":
        return content[:at] + draw(st.sampled_from(BAD_BYTES)) + content[at:]
    if action == "truncate":
        return content[:at]
    if action == "empty":
        return b""
    return content


# --- smooth programs: every argument inside its function's domain -------------------------------

# (center, radius) per parameter: c + r * tanh(v) stays inside the function's smooth domain, away
# from kinks, poles and ties.
ARG_DOMAINS: dict[str, tuple[tuple[float, float], ...]] = {
    "add": ((0, 2), (0, 2)), "subtract": ((0, 2), (0, 2)), "multiply": ((0, 2), (0, 2)),
    "divide": ((0, 2), (2, 1)), "negative": ((0, 2),), "pow": ((1.5, 0.5), (0, 2)),
    "square": ((0, 2),), "sqrt": ((1.5, 1),), "exp": ((0, 2),), "log": ((1.5, 1),),
    "log1p": ((0, 0.5),), "expm1": ((0, 2),), "sin": ((0, 2),), "cos": ((0, 2),),
    "tan": ((0, 1.2),), "asin": ((0, 0.8),), "acos": ((0, 0.8),), "atan": ((0, 2),),
    "atan2": ((0, 2), (2, 1)), "sinh": ((0, 2),), "cosh": ((0, 2),), "tanh": ((0, 2),),
    "abs": ((-1.5, 1),), "sign": ((1.5, 1),), "relu": ((1.5, 1),), "sigmoid": ((0, 3),),
    "softplus": ((0, 3),), "hypot": ((1.5, 1), (-1.5, 1)), "max": ((1.5, 1), (-1.5, 1)),
    "min": ((1.5, 1), (-1.5, 1)), "step": ((1.5, 1),), "powlog": ((1.5, 0.5), (0, 2)),
    # reductions: at a single point (one row) they are the identity, or 1 for count
    "sum": ((0, 2),), "mean": ((0, 2),), "count": ((0, 2),),
    "maxrows": ((0, 2),), "minrows": ((0, 2),), "equal": ((1.5, 1), (-1.5, 1)),
}


def argument(name: str, k: int, operand: str) -> str:
    c, r = ARG_DOMAINS[name][k]
    return f"{c} + {r} * tanh({operand})" if c else f"{r} * tanh({operand})"


def statement(name: str, operands: list[str]) -> str:
    args = ", ".join(argument(name, k, v) for k, v in enumerate(operands))
    return f"{name}({args})"


@st.composite
def smooth_programs(draw, max_statements: int = 6):
    """(program text, point): a random program from the table, and a point to evaluate it at."""
    n_inputs = draw(st.integers(1, 3))
    names = [f"x{k}" for k in range(n_inputs)]
    lines = [f"input {', '.join(names)}"]
    for k in range(draw(st.integers(1, max_statements))):
        prim = PRIMITIVES[draw(st.sampled_from(FUNCTIONS))]
        operands = [draw(st.sampled_from(names)) for _ in prim.params]
        operands[0] = names[-1]  # each statement uses the one before, so most of it matters
        lines.append(f"v{k} = {statement(prim.name, operands)}")
        names.append(f"v{k}")
    outputs = [names[-1]]
    if len(names) > n_inputs + 1 and draw(st.booleans()):
        outputs.append(names[draw(st.integers(n_inputs, len(names) - 2))])
    lines.append(f"output {', '.join(outputs)}")
    point = {f"x{k}": draw(st.floats(-1.5, 1.5)) for k in range(n_inputs)}
    return "\n".join(lines) + "\n", point


# Constants that a rule may fold at (1 and 2 above all: x * 1, x / 1, x ^ 2), and some that
# must not fold (0 and -0.0: a sum with 0 and a product by 0 keep their sign of zero and NaN).
FOLDING_CONSTANTS = ["1", "2", "3", "0", "-0.0", "0.5", "-1", "1e-3", "1.0000000000000002"]
BINARY = sorted(n for n, p in PRIMITIVES.items()
                if p.arity == 2 and not p.reduces)


@st.composite
def constant_argument_programs(draw, max_statements: int = 8):
    """(program text, inputs): a random program whose two-argument functions often take one of
    ``FOLDING_CONSTANTS`` (either side), as infix operators or calls; inputs ``x``, ``y``."""
    names = ["x", "y"]
    lines = ["input x, y"]
    for k in range(draw(st.integers(1, max_statements))):
        name = draw(st.sampled_from(BINARY + ["add", "subtract", "multiply", "divide", "pow"]))
        prim = PRIMITIVES[name]
        operands = [names[-1], draw(st.sampled_from(FOLDING_CONSTANTS + names))]
        if draw(st.booleans()):
            operands.reverse()
        if prim.infix and draw(st.booleans()):
            text = f"({operands[0]}) {prim.infix} ({operands[1]})"
        else:
            text = f"{name}({', '.join(operands)})"
        lines.append(f"v{k} = {text}")
        names.append(f"v{k}")
    lines.append(f"output {names[-1]}")
    return "\n".join(lines) + "\n", ["x", "y"]
