"""Bad programs and bad options: what the ``slpdiff`` command says, where, and with what status.

A bad program must give, on stderr and with exit status 2::

    slpdiff: error: FILE:LINE:COL: message
        <the offending source line>
        <spaces (tabs kept) up to the column>^

with 1-based positions counted in characters, and never a Python traceback. Most cases run the
installed ``slpdiff`` script in a subprocess; the same table also runs in-process through Click's
``CliRunner`` with the program on standard input (where messages call it ``<stdin>``). Bad options
and bad ``--at`` values are usage errors with exit status 2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import every_few, exit_status, invoke, run_slpdiff

PROGRAM = "prog.slp"  # the name bad programs are written to, and called by in messages


# --- helpers --------------------------------------------------------------------------------------

def as_bytes(source: str | bytes) -> bytes:
    return source if isinstance(source, bytes) else source.encode("utf-8")


def source_line(source: str | bytes, line: int) -> str:
    """Line ``line`` of the program as the error should show it: no BOM, no line end, control
    characters (NUL) as their one-column Unicode symbols (U+2400 + code)."""
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    shown = text.removeprefix("\ufeff").split("\n")[line - 1].rstrip("\r")
    return "".join(chr(0x2400 + ord(c)) if ord(c) < 32 and c != "\t" else c for c in shown)


def caret_line(text: str, column: int) -> str:
    """The line under ``text`` that puts a caret at ``column`` (tabs kept so it lines up)."""
    return "".join(c if c == "\t" else " " for c in text[: column - 1]) + "^"


def assert_clean_failure(result, code: int = 2) -> None:
    """Exit status ``code``, nothing on stdout, no traceback, an ``slpdiff: error:`` line."""
    assert exit_status(result) == code, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert "slpdiff: error: " in result.stderr


def assert_diagnostic(stderr: str, name: str, source: str | bytes, line: int, column: int,
                      message: str) -> None:
    """stderr holds ``slpdiff: error: NAME:LINE:COL: ...message...``, the source line indented by
    4 spaces, and the caret under the column."""
    lines = stderr.split("\n")
    head = f"slpdiff: error: {name}:{line}:{column}: "
    found = [i for i, text in enumerate(lines) if text.startswith(head) and message in text]
    assert found, f"no line starting {head!r} and containing {message!r} in:\n{stderr}"
    i = found[0]
    expected_source = source_line(source, line)
    assert lines[i + 1] == "    " + expected_source, stderr
    assert lines[i + 2] == "    " + caret_line(expected_source, column), stderr


# --- bad programs: one error each ---------------------------------------------------------------

@dataclass(frozen=True)
class Bad:
    source: str | bytes
    message: str  # a distinctive part of the message
    line: int
    column: int


BAD_PROGRAMS = [
    # syntax: dangling operators and parentheses
    pytest.param(Bad("y = x +", "expected an expression after '+'", 1, 8),
                 id="dangling-operator-at-eof"),
    pytest.param(Bad("y = x +\n", "expected an expression after '+'", 1, 8),
                 id="dangling-operator-before-final-newline"),
    pytest.param(Bad("y = x +\r\n", "expected an expression after '+'", 1, 8),
                 id="dangling-operator-before-crlf"),
    pytest.param(Bad("y = x\nz = y *", "expected an expression after '*'", 2, 8),
                 id="dangling-operator-on-last-line"),
    pytest.param(Bad("y = x *\n\n\n", "expected an expression after '*'", 1, 8),
                 id="dangling-operator-then-blank-lines"),
    pytest.param(Bad("y = x ^ -", "expected an expression after '-'", 1, 10),
                 id="dangling-sign-in-exponent"),
    pytest.param(Bad("y = (x + 1\n", "unclosed '(' opened at 1:5", 1, 11),
                 id="unclosed-paren"),
    pytest.param(Bad("y = 2 * (x + 1", "unclosed '(' opened at 1:9", 1, 15),
                 id="unclosed-paren-at-eof"),
    pytest.param(Bad("y = ((x)", "unclosed '(' opened at 1:5", 1, 9),
                 id="unclosed-outer-paren"),
    pytest.param(Bad("y = x;z = (y", "unclosed '(' opened at 1:11", 1, 13),
                 id="unclosed-paren-after-semicolon"),
    pytest.param(Bad("y = 2 * (x + 1  # (see note)\n", "unclosed '(' opened at 1:9", 1, 15),
                 id="unclosed-paren-then-comment-with-parens"),
    pytest.param(Bad("y = (x + 1  # note; see below\n", "unclosed '(' opened at 1:5", 1, 11),
                 id="unclosed-paren-then-comment-with-semicolon"),
    pytest.param(Bad("y = x + 1)\n", "unmatched ')'", 1, 10), id="unmatched-close-paren"),
    pytest.param(Bad("y = x\n)", "unmatched ')'", 2, 1), id="close-paren-alone"),
    pytest.param(Bad("y = ()", "expected an expression after '('", 1, 6), id="empty-parens"),
    pytest.param(Bad("y = sin(x,)", "expected an argument after ','", 1, 11),
                 id="trailing-comma-in-call"),
    # syntax: statements
    pytest.param(Bad("y x", "expected '=' after 'y'", 1, 3), id="statement-without-equals"),
    pytest.param(Bad("x + 1", "expected '=' after 'x'", 1, 3), id="bare-expression"),
    pytest.param(Bad("3 = x", "'=' needs a name on its left", 1, 1), id="number-assigned"),
    pytest.param(Bad("= 3", "'=' needs a name on its left", 1, 1), id="nothing-assigned"),
    pytest.param(Bad("y = x; 3 = z", "'=' needs a name on its left", 1, 8),
                 id="number-assigned-after-semicolon"),
    pytest.param(Bad("y = 3 = 4", "unexpected '='", 1, 7), id="chained-assignment"),
    pytest.param(Bad("y = x y", "expected an operator or the end of the statement", 1, 7),
                 id="two-names"),
    pytest.param(Bad("y = 2x", "number 2 is followed by name 'x': write '2 * x'", 1, 6),
                 id="name-starting-with-digit"),
    pytest.param(Bad("y = x $ 2", "unexpected character '$'", 1, 7), id="unexpected-character"),
    pytest.param(Bad("input x,", "expected a name after ','", 1, 9), id="input-trailing-comma"),
    pytest.param(Bad("input 3", "expected a name after 'input'", 1, 7), id="input-a-number"),
    pytest.param(Bad("y = 1\noutput", "expected a name after 'output'", 2, 7), id="output-nothing"),
    # characters and encodings
    pytest.param(Bad("y = x + ü", "character 'ü' (U+00FC) is not allowed here", 1, 9),
                 id="non-ascii-outside-comment"),
    pytest.param(Bad("# ünïcödé ∑\ny = x + ü", "(U+00FC)", 2, 9),
                 id="non-ascii-after-utf8-comment"),
    pytest.param(Bad("yü = 3", "(U+00FC)", 1, 2), id="non-ascii-in-name"),
    pytest.param(Bad("y = 😀", "(U+1F600)", 1, 5), id="emoji-outside-comment"),
    pytest.param(Bad("y = x\u00a0+ 1", "(U+00A0)", 1, 6), id="no-break-space"),
    pytest.param(Bad(b"y = \xff", "invalid UTF-8 byte 0xff", 1, 5), id="invalid-utf8"),
    pytest.param(Bad(b"y = 1 # \xc3\xbc\xff\n", "invalid UTF-8 byte 0xff", 1, 10),
                 id="invalid-utf8-in-comment"),
    pytest.param(Bad(b"y = 1\nz = \xc3(", "invalid UTF-8 byte 0xc3", 2, 5),
                 id="truncated-utf8-sequence"),
    pytest.param(Bad(b"# \xc3\xbc\xc3\xbc\xc3\xbc\ny = \xff", "invalid UTF-8 byte 0xff", 2, 5),
                 id="invalid-utf8-after-multibyte-line"),
    pytest.param(Bad(b"\xef\xbb\xbfy = \xff", "invalid UTF-8 byte 0xff", 1, 5),
                 id="invalid-utf8-after-bom"),
    pytest.param(Bad(b"y = x\x00", "NUL byte", 1, 6), id="nul-byte"),
    pytest.param(Bad(b"# \xc3\xbc\xc3\xbc\ny = 2 +\x00 3", "NUL byte", 2, 8),
                 id="nul-byte-after-utf8-line"),
    # layout does not shift positions
    pytest.param(Bad("\ty = x +\n", "expected an expression after '+'", 1, 9),
                 id="tab-indented-line"),
    pytest.param(Bad("y = x\r\nz = (y\r\n", "unclosed '(' opened at 2:5", 2, 7), id="crlf"),
    pytest.param(Bad(b"\xef\xbb\xbfy = x +", "expected an expression after '+'", 1, 8),
                 id="bom-not-counted"),
    pytest.param(Bad("y = 1;;\n;z = 2 +", "expected an expression after '+'", 2, 9),
                 id="empty-statements-before-error"),
    # functions
    pytest.param(Bad("y = sinn(x)", "unknown function 'sinn' (did you mean 'sin'?)", 1, 5),
                 id="unknown-function"),
    pytest.param(Bad("y = 2 * ln(x)", "unknown function 'ln' (did you mean 'log'?)", 1, 9),
                 id="another-languages-name"),
    pytest.param(Bad("y = log10(x)", "unknown function 'log10' (slpdiff has no log10: write "
                     "log(a) / log(10))", 1, 5), id="another-languages-function"),
    pytest.param(Bad("y = 2 * atan3(x, 1)", "unknown function 'atan3' (did you mean 'atan", 1, 9),
                 id="unknown-function-two-args"),
    pytest.param(Bad("y = atan2(x)", "atan2 takes 2 arguments (atan2(y, x)), got 1", 1, 5),
                 id="too-few-arguments"),
    pytest.param(Bad("y = x + sin(x, x)", "sin takes 1 argument (sin(a)), got 2", 1, 9),
                 id="too-many-arguments"),
    pytest.param(Bad("y = sin()", "sin takes 1 argument", 1, 5), id="no-arguments"),
    pytest.param(Bad("y = sin", "'sin' is a function: call it as sin(a)", 1, 5),
                 id="function-without-call"),
    pytest.param(Bad("y = x\nq = y(1)", "'y' is a variable, not a function", 2, 5),
                 id="variable-called"),
    # single assignment and define before use
    pytest.param(Bad("y = a + 1\na = 2", "'a' is used before its assignment on line 2", 1, 5),
                 id="use-before-assignment"),
    pytest.param(Bad("input x\ny = x * a\n\na = 2", "'a' is used before its assignment on line 4",
                     2, 9), id="use-before-assignment-with-inputs"),
    pytest.param(Bad("a = a + 1", "'a' is used before its assignment on line 1", 1, 5),
                 id="self-reference"),
    pytest.param(Bad("y = x\ny = 2", "'y' is already assigned on line 1", 2, 1),
                 id="double-assignment"),
    pytest.param(Bad("y = x; z = 1; y = 2", "'y' is already assigned on line 1", 1, 15),
                 id="double-assignment-same-line"),
    pytest.param(Bad("input x\nx = 2", "'x' is an input (declared on line 1)", 2, 1),
                 id="input-assigned"),
    pytest.param(Bad("y = 1\ninput y", "'y' is assigned on line 1 and cannot also be an input",
                     2, 7), id="assigned-then-declared"),
    # reserved names
    pytest.param(Bad("sin = 2", "'sin' is a function and cannot be assigned", 1, 1),
                 id="function-name-assigned"),
    pytest.param(Bad("y = 1\natan2 = y", "'atan2' is a function and cannot be assigned", 2, 1),
                 id="two-argument-function-assigned"),
    pytest.param(Bad("pi = 3", "'pi' is a constant and cannot be assigned", 1, 1),
                 id="pi-assigned"),
    pytest.param(Bad("e = 2", "'e' is a constant and cannot be assigned", 1, 1), id="e-assigned"),
    pytest.param(Bad("input = 3", "'input' is a reserved word and cannot be assigned", 1, 1),
                 id="input-keyword-assigned"),
    pytest.param(Bad("output = 3", "'output' is a reserved word and cannot be assigned", 1, 1),
                 id="output-keyword-assigned"),
    pytest.param(Bad("input pi\ny = 1", "'pi' is a constant and cannot be declared as an input",
                     1, 7), id="constant-declared"),
    pytest.param(Bad("input x, exp\ny = x", "'exp' is a function and cannot be declared", 1, 10),
                 id="function-declared"),
    pytest.param(Bad("input output", "expected a name after 'input', found 'output'", 1, 7),
                 id="keyword-declared"),
    pytest.param(Bad("y = input + 1", "'input' is a reserved word: it starts a statement", 1, 5),
                 id="keyword-used"),
    # declarations
    pytest.param(Bad("input x, x\ny = x", "'x' is already declared as an input on line 1", 1, 10),
                 id="input-declared-twice"),
    pytest.param(Bad("input x\ny = x\ninput x", "'x' is already declared as an input on line 1",
                     3, 7), id="input-declared-twice-across-lines"),
    pytest.param(Bad("y = x\noutput y, y", "'y' is already an output", 2, 11),
                 id="output-twice"),
    pytest.param(Bad("output y\ny = x\noutput y", "'y' is already an output (line 1)", 3, 8),
                 id="output-twice-across-lines"),
    pytest.param(Bad("y = x\noutput yy", "output 'yy' is never assigned (did you mean 'y'?)",
                     2, 8), id="output-never-assigned"),
    pytest.param(Bad("y = 1\noutput pi", "output 'pi' is never assigned", 2, 8),
                 id="constant-as-output"),
    pytest.param(Bad("input rate\ny = rat * 2", "undefined name 'rat' (did you mean 'rate'?)",
                     2, 5), id="undefined-name"),
    pytest.param(Bad("input x\ny = x + w", "undefined name 'w'", 2, 9),
                 id="undefined-name-no-suggestion"),
    pytest.param(Bad("input x\ny = X * 2", "undefined name 'X' (did you mean 'x'?)", 2, 5),
                 id="undefined-name-differing-in-case"),
    # += and -= (adding to an adjoint)
    pytest.param(Bad("input x\nx += 1", "'x' is an input (declared on line 1): '+=' adds to a "
                     "name the program assigns", 2, 1), id="accumulate-input"),
    pytest.param(Bad("y = a * 2\na += 1", "'a' is used before the '+=' on line 2 that starts it",
                     1, 5), id="accumulate-after-use"),
    pytest.param(Bad("a += x\na = 2", "'a' is already assigned on line 1: each name is assigned "
                     "once (to add to it: a += ...)", 2, 1), id="assign-after-accumulate"),
    pytest.param(Bad("sin -= x", "'sin' is a function and cannot be assigned", 1, 1),
                 id="accumulate-function"),
    pytest.param(Bad("y = x\npi += y", "'pi' is a constant and cannot be assigned", 2, 1),
                 id="accumulate-constant"),
    pytest.param(Bad("y = x\n+= y", "'+=' needs a name on its left", 2, 1),
                 id="accumulate-without-name"),
    pytest.param(Bad("y = x += 1", "unexpected '+=': it adds to a name, at the start of a "
                     "statement", 1, 7), id="accumulate-inside-expression"),
    pytest.param(Bad("y = x\ny -= ", "expected an expression after '-=', found the end of the "
                     "program", 2, 5), id="accumulate-without-expression"),
    pytest.param(Bad("input += 2", "'input' is a reserved word and cannot be assigned", 1, 1),
                 id="accumulate-keyword"),
]


@pytest.mark.parametrize("bad", every_few(BAD_PROGRAMS))  # all in process, below
def test_bad_program_in_a_file(bad: Bad, tmp_path: Path):
    (tmp_path / PROGRAM).write_bytes(as_bytes(bad.source))
    result = run_slpdiff("eval", PROGRAM, "--at", "x=1", cwd=tmp_path)
    assert_clean_failure(result)
    assert_diagnostic(result.stderr, PROGRAM, bad.source, bad.line, bad.column, bad.message)


@pytest.mark.parametrize("bad", BAD_PROGRAMS)
def test_bad_program_on_stdin_in_process(bad: Bad):
    result = invoke("eval", "-", input=as_bytes(bad.source))
    assert_clean_failure(result)
    assert_diagnostic(result.stderr, "<stdin>", bad.source, bad.line, bad.column, bad.message)


def test_bad_program_on_stdin_in_a_subprocess():
    source = "y = x\nz = y +\n"
    result = run_slpdiff("eval", "-", "--at", "x=1", input=source.encode())
    assert_clean_failure(result)
    assert_diagnostic(result.stderr, "<stdin>", source, 2, 8, "expected an expression after '+'")


def test_the_optimize_command_reports_program_errors_too(tmp_path: Path):
    (tmp_path / PROGRAM).write_text("y = sinn(x)\n")
    result = run_slpdiff("optimize", PROGRAM, "--at", "x=1", cwd=tmp_path)
    assert_clean_failure(result)
    assert_diagnostic(result.stderr, PROGRAM, "y = sinn(x)\n", 1, 5, "unknown function 'sinn'")


# --- several errors in one program --------------------------------------------------------------

SEVERAL = [
    pytest.param("y = sinn(x)\nz = atan2(x)\ny = 3\n",
                 [(1, 5, "unknown function 'sinn'"), (2, 5, "atan2 takes 2 arguments"),
                  (3, 1, "'y' is already assigned on line 1")], id="three-semantic-errors"),
    pytest.param("input x\nx = 1\ny = a\na = 2\noutput y, y\n",
                 [(2, 1, "'x' is an input"), (3, 5, "'a' is used before its assignment on line 4"),
                  (5, 11, "'y' is already an output")], id="declaration-errors"),
    pytest.param("y = sinn(x)\nz = y +\n",
                 [(1, 5, "unknown function 'sinn'"), (2, 8, "expected an expression after '+'")],
                 id="semantic-then-syntax-error"),
]


@pytest.mark.parametrize("source, errors", SEVERAL)
def test_several_errors_are_reported_together_in_order(source, errors, tmp_path: Path):
    (tmp_path / PROGRAM).write_text(source)
    result = run_slpdiff("eval", PROGRAM, "--at", "x=1", cwd=tmp_path)
    assert_clean_failure(result)
    for line, column, message in errors:
        assert_diagnostic(result.stderr, PROGRAM, source, line, column, message)
    heads = [text for text in result.stderr.split("\n") if text.startswith("slpdiff: error: ")]
    assert [h.split(": ")[2] for h in heads] == [f"{PROGRAM}:{ln}:{col}" for ln, col, _ in errors]


# --- programs without any statement that gives an output ----------------------------------------

EMPTY = [
    pytest.param("", id="empty-file"),
    pytest.param("\n\n  \n", id="blank-lines"),
    pytest.param(";;\n", id="only-empty-statements"),
    pytest.param("# only\n# comments\n", id="only-comments"),
]


@pytest.mark.parametrize("source", EMPTY)
def test_program_without_output_is_an_error(source, tmp_path: Path):
    (tmp_path / PROGRAM).write_text(source)
    result = run_slpdiff("eval", PROGRAM, cwd=tmp_path)
    assert_clean_failure(result)
    assert f"slpdiff: error: {PROGRAM}" in result.stderr
    assert "the program assigns no name, so it has no output" in result.stderr


@pytest.mark.parametrize("source", EMPTY)
def test_program_without_output_error_has_a_position(source, tmp_path: Path):
    # The spec does not say which position; any FILE:LINE:COL with its source line and caret.
    (tmp_path / PROGRAM).write_text(source)
    result = run_slpdiff("eval", PROGRAM, cwd=tmp_path)
    found = re.search(rf"^slpdiff: error: {re.escape(PROGRAM)}:(\d+):(\d+): ", result.stderr,
                      re.MULTILINE)
    assert found, result.stderr
    line, column = int(found[1]), int(found[2])
    assert_diagnostic(result.stderr, PROGRAM, source, line, column, "no output")


# --- PROGRAM arguments that are not readable program files --------------------------------------

def test_nonexistent_file(tmp_path: Path):
    result = run_slpdiff("eval", "missing.slp", cwd=tmp_path)
    assert_clean_failure(result)
    assert "slpdiff: error: missing.slp: no such file" in result.stderr


def test_directory_as_program(tmp_path: Path):
    (tmp_path / "progs").mkdir()
    result = run_slpdiff("eval", "progs", cwd=tmp_path)
    assert_clean_failure(result)
    assert "slpdiff: error: progs: is a directory" in result.stderr


def test_nonexistent_file_in_process(tmp_path: Path):
    result = invoke("eval", str(tmp_path / "missing.slp"))
    assert_clean_failure(result)
    assert "missing.slp: no such file" in result.stderr


# --- bad options and bad --at values ------------------------------------------------------------

PROGRAMS = {
    "two.slp": "input x, w\ny = x * w\n",
    "multi.slp": "y = x\nz = 2 * x\noutput y, z\n",
    "log.slp": "y = log(x)\n",
    "none.slp": "y = 2 * 3\n",
}


@pytest.fixture
def programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory (also the current one) holding the programs of ``PROGRAMS``."""
    for name, text in PROGRAMS.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# (arguments, distinctive parts of the error message)
BAD_OPTIONS = [
    # --at: syntax and values
    pytest.param(["eval", "two.slp", "--at", "x"], ["'x' is not NAME=VALUE"], id="at-no-equals"),
    pytest.param(["eval", "two.slp", "--at", "1=2"], ["'1=2' is not NAME=VALUE"],
                 id="at-bad-name"),
    pytest.param(["eval", "two.slp", "--at", "=2"], ["'=2' is not NAME=VALUE"], id="at-no-name"),
    pytest.param(["eval", "two.slp", "--at", ""], ["'' is not NAME=VALUE"], id="at-empty"),
    pytest.param(["eval", "two.slp", "--at", "x=1,"], ["'' is not NAME=VALUE"],
                 id="at-trailing-comma"),
    pytest.param(["eval", "two.slp", "--at", "x=abc,w=1"], ["x: 'abc' is not a number"],
                 id="at-bad-number"),
    pytest.param(["eval", "two.slp", "--at", "x=1e,w=1"], ["'1e' is not a number"],
                 id="at-incomplete-exponent"),
    pytest.param(["eval", "two.slp", "--at", "x=0x10,w=1"], ["'0x10' is not a number"],
                 id="at-hex"),
    pytest.param(["eval", "two.slp", "--at", "x="], ["'' is not a number"], id="at-no-value"),
    # --at: names
    pytest.param(["eval", "two.slp", "--at", "x=1,x=2"], ["'x' is given twice"],
                 id="at-name-twice"),
    pytest.param(["eval", "two.slp", "--at", "x=1", "--at", "w=2,x=2"], ["'x' is given twice"],
                 id="at-name-twice-across-options"),
    pytest.param(["eval", "two.slp", "--at", "x=1,w=2,q=3"],
                 ["'q' is not an input of the program", "the program's inputs are: x, w"],
                 id="at-unknown-name"),
    pytest.param(["eval", "two.slp", "--at", "x=1"],
                 ["no value for input 'w'", "the program's inputs are: x, w"],
                 id="at-missing-input"),
    pytest.param(["eval", "two.slp"],
                 ["no values for inputs 'x' and 'w'", "the program's inputs are: x, w"],
                 id="no-at-at-all"),
    pytest.param(["eval", "none.slp", "--at", "x=1"], ["'x' is not an input", "(none)"],
                 id="at-for-program-without-inputs"),
    # --wrt
    pytest.param(["eval", "two.slp", "--at", "x=1,w=2", "--wrt", "q"], ["'q' is not an input"],
                 id="wrt-unknown"),
    pytest.param(["eval", "two.slp", "--at", "x=1,w=2", "--wrt", "x,x"], ["'x' is given twice"],
                 id="wrt-twice"),
    pytest.param(["eval", "two.slp", "--at", "x=1,w=2", "--wrt", "1x"], ["'1x' is not a name"],
                 id="wrt-not-a-name"),
    # choices and numeric options
    pytest.param(["eval", "two.slp", "--at", "x=1,w=2", "--format", "xml"],
                 ["Invalid value for '--format'", "'xml'"], id="bad-format"),
    pytest.param(["functions", "--format", "yaml"], ["Invalid value for '--format'"],
                 id="bad-format-functions"),
    pytest.param(["optimize", "two.slp", "--at", "x=1,w=2", "--steps", "-1"],
                 ["Invalid value for '--steps'"], id="negative-steps"),
    pytest.param(["optimize", "two.slp", "--at", "x=1,w=2", "--steps", "abc"],
                 ["Invalid value for '--steps'"], id="non-integer-steps"),
    pytest.param(["optimize", "two.slp", "--at", "x=1,w=2", "--steps", "1.5"],
                 ["Invalid value for '--steps'"], id="fractional-steps"),
    pytest.param(["optimize", "two.slp", "--at", "x=1,w=2", "--lr", "fast"],
                 ["Invalid value for '--lr'"], id="bad-lr"),
    pytest.param(["optimize", "two.slp", "--at", "x=1,w=2", "--tol", "-1"],
                 ["Invalid value for '--tol'"], id="negative-tol"),
    pytest.param(["optimize", "two.slp", "--at", "x=1,w=2", "--every", "0"],
                 ["Invalid value for '--every'"], id="zero-every"),
    # objectives
    pytest.param(["optimize", "two.slp", "--at", "x=1,w=2", "--objective", "q"],
                 ["'q' is not an output", "the program's outputs are: y"],
                 id="objective-not-an-output"),
    pytest.param(["optimize", "multi.slp", "--at", "x=1"],
                 ["the program has 2 outputs (y, z)", "--objective"],
                 id="several-outputs-without-objective"),
    # usage
    pytest.param(["eval", "two.slp", "--bogus"], ["No such option '--bogus'"],
                 id="unknown-option"),
    pytest.param(["eval"], ["Missing argument 'PROGRAM'"], id="missing-program"),
    pytest.param(["frobnicate"], ["No such command 'frobnicate'"], id="unknown-command"),
    pytest.param(["eval", "two.slp", "--at"], ["'--at' requires an argument"],
                 id="at-without-value"),
]


def assert_option_error(result, parts: list[str]) -> None:
    assert_clean_failure(result)
    errors = [t for t in result.stderr.split("\n") if t.startswith("slpdiff: error: ")]
    assert errors, result.stderr
    for part in parts:
        assert part in errors[0], result.stderr


@pytest.mark.parametrize("args, parts", every_few(BAD_OPTIONS))  # all in process, below
def test_bad_options_in_a_subprocess(args, parts, programs: Path):
    assert_option_error(run_slpdiff(*args, cwd=programs), parts)


@pytest.mark.parametrize("args, parts", BAD_OPTIONS)
def test_bad_options_in_process(args, parts, programs: Path):
    assert_option_error(invoke(*args), parts)


def test_usage_errors_show_usage_and_help_hint(programs: Path):
    result = run_slpdiff("eval", "two.slp", "--at", "x", cwd=programs)
    assert_clean_failure(result)
    assert "Usage: slpdiff eval [OPTIONS] PROGRAM" in result.stderr
    assert "Try 'slpdiff eval --help' for help." in result.stderr


# --- what is not an error ----------------------------------------------------------------------

def test_program_without_inputs_needs_no_at(programs: Path):
    result = run_slpdiff("eval", "none.slp", cwd=programs)
    assert (result.returncode, result.stdout, result.stderr) == (0, "y = 6.0\n", "")


@pytest.mark.parametrize("text, expected", [
    ("inf", '"inf"'), ("-inf", '"-inf"'), ("+inf", '"inf"'), ("nan", '"nan"'),
    ("pi", repr(3.141592653589793)), ("-pi", repr(-3.141592653589793)),
    ("e", repr(2.718281828459045)), ("-e", repr(-2.718281828459045)),
    ("1e3", "1000.0"), ("-2.5", "-2.5"), (".5", "0.5"), ("3.", "3.0"), ("1E-2", "0.01"),
])
def test_at_accepts_float_literals_and_named_values(text, expected):
    result = invoke("eval", "-", "--at", f"x={text}", "--format", "json", input="y = x\n")
    assert result.exit_code == 0, result
    assert result.stdout.startswith('{"at": {"x": ' + expected + "}")


# --- failures while running ----------------------------------------------------------------------

def test_strict_log_of_zero_exits_1(programs: Path):
    result = run_slpdiff("eval", "log.slp", "--at", "x=0", "--strict", cwd=programs)
    assert_clean_failure(result, code=1)
    assert_diagnostic(result.stderr, "log.slp", PROGRAMS["log.slp"], 1, 5,
                      "non-finite value -inf from log")


def test_strict_log_of_zero_exits_1_in_process(programs: Path):
    result = invoke("eval", "log.slp", "--at", "x=0", "--strict")
    assert_clean_failure(result, code=1)
    assert "log.slp:1:5: non-finite value -inf from log" in result.stderr


def test_log_of_zero_without_strict_only_warns(programs: Path):
    result = run_slpdiff("eval", "log.slp", "--at", "x=0", cwd=programs)
    assert result.returncode == 0
    assert result.stdout.startswith("y = -inf\n")
    assert "slpdiff: warning: log.slp:1:5: non-finite value -inf from log" in result.stderr
    assert "Traceback" not in result.stderr
