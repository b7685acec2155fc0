"""The error contract (docs/commands.md, "Errors"): every failure is ``slpdiff: error: ...`` on
stderr, exit status 2 for bad programs, options and data, 1 at run time (and for internal
errors), 130 on Ctrl-C; never a traceback unless ``--debug`` or ``SLPDIFF_DEBUG=1`` asks for one.

Most cases run the installed ``slpdiff`` in a subprocess, as a user does; the internal-error cases
also run in-process through Click's ``CliRunner`` with a library function patched to fail.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

import slpdiff.language.parser
from helpers import ROOT, run_slpdiff
from slpdiff import parse
from slpdiff.cli import cli
from slpdiff.errors import ProgramError

SEED = str(ROOT / "examples" / "seed.slp")
INTERNAL_HINT = ("(run again with --debug or SLPDIFF_DEBUG=1 for a traceback to include in a "
                 "bug report)")


def assert_clean_error(proc, code: int = 2, stdout_empty: bool = True) -> None:
    """Exit status ``code``, an ``slpdiff: error:`` line, no traceback (and no output)."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("slpdiff: error: ") or "\nslpdiff: error: " in proc.stderr, \
        proc.stderr
    if stdout_empty:
        assert proc.stdout == "", proc.stdout


def error_heads(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("slpdiff: error: ")]


# --- internal errors: a bug is one line and exit status 1; the traceback only on request ---------

def _boom(*args, **kwargs):
    raise ZeroDivisionError("boom in the parser")


@pytest.fixture
def broken_parser(monkeypatch):
    """``slpdiff.language.parser.parse`` (what every command calls to read its program) raises."""
    monkeypatch.delenv("SLPDIFF_DEBUG", raising=False)
    monkeypatch.setattr(slpdiff.language.parser, "parse", _boom)


def test_an_internal_error_is_one_line_and_exit_status_1(broken_parser):
    result = CliRunner().invoke(cli, ["eval", SEED, "--at", "x=1,w=4"])
    assert result.exit_code == 1
    assert result.stderr == ("slpdiff: error: internal error: ZeroDivisionError: boom in the "
                             f"parser {INTERNAL_HINT}\n")
    assert result.stdout == ""


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_debug_adds_the_traceback_after_the_error_line(broken_parser, monkeypatch, how):
    args = ["eval", SEED, "--at", "x=1,w=4"]
    if how == "flag":
        args.insert(0, "--debug")
    else:
        monkeypatch.setenv("SLPDIFF_DEBUG", "1")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "slpdiff: error: internal error: ZeroDivisionError: boom in the parser"
    assert lines[1] == "Traceback (most recent call last):"
    assert "in _boom" in result.stderr and lines[-1] == "ZeroDivisionError: boom in the parser"


def test_debug_is_not_remembered_from_one_run_to_the_next(broken_parser):
    runner = CliRunner()
    runner.invoke(cli, ["--debug", "eval", SEED, "--at", "x=1,w=4"])
    result = runner.invoke(cli, ["eval", SEED, "--at", "x=1,w=4"])
    assert "Traceback" not in result.stderr and INTERNAL_HINT in result.stderr


@pytest.mark.parametrize("value", ["", "0"])
def test_slpdiff_debug_empty_or_0_is_off(broken_parser, monkeypatch, value):
    monkeypatch.setenv("SLPDIFF_DEBUG", value)
    result = CliRunner().invoke(cli, ["eval", SEED, "--at", "x=1,w=4"])
    assert result.exit_code == 1 and "Traceback" not in result.stderr


def test_debug_does_not_change_ordinary_errors():
    proc = run_slpdiff("--debug", "eval", "-", "--at", "x=1", input="y = x +\n")
    assert_clean_error(proc)
    assert "expected an expression after '+'" in proc.stderr


# A real process: the patch is made by the interpreter that then runs slpdiff's entry point.
BROKEN_RUN = """
import sys
import slpdiff.language.parser

def broken(*args, **kwargs):
    raise KeyError("no such node")

slpdiff.language.parser.parse = broken
from slpdiff.cli import main
sys.argv = ["slpdiff", *sys.argv[1:]]
main()
"""


def _broken_process(*args: str, env_debug: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SLPDIFF_DEBUG"}
    if env_debug is not None:
        env["SLPDIFF_DEBUG"] = env_debug
    return subprocess.run([sys.executable, "-c", BROKEN_RUN, *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_an_internal_error_in_a_process_has_no_traceback():
    proc = _broken_process("eval", SEED, "--at", "x=1,w=4")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ("slpdiff: error: internal error: KeyError: 'no such node' "
                           f"{INTERNAL_HINT}\n")


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_an_internal_error_in_a_process_with_debug_has_the_traceback(how):
    if how == "flag":
        proc = _broken_process("--debug", "eval", SEED, "--at", "x=1,w=4")
    else:
        proc = _broken_process("eval", SEED, "--at", "x=1,w=4", env_debug="1")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == "slpdiff: error: internal error: KeyError: 'no such node'"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "KeyError: 'no such node'"


def test_debug_is_in_the_help():
    proc = run_slpdiff("--help")
    assert proc.returncode == 0 and "--debug" in proc.stdout and "SLPDIFF_DEBUG" in proc.stdout


# --- parse errors in plain words -----------------------------------------------------------------

# (program, line, column, the message): a table of typical mistakes and what slpdiff says.
MISTAKES = [
    ("y = x *", 1, 8, "expected an expression after '*', found the end of the program"),
    ("y = x * / 2", 1, 9, "expected an expression after '*', found '/'"),
    ("y = x ** ** 2", 1, 10, "expected an expression after '**', found '**'"),
    ("y = 2 * (x + 1", 1, 15, "unclosed '(' opened at 1:9"),
    ("input x\ny = sin(x y)", 2, 11, "expected an operator, ',' or ')' after 'x', found name 'y'"),
    ("y = (x y)", 1, 8, "expected an operator or ')' after 'x', found name 'y'"),
    ("y = x + 1)", 1, 10, "unmatched ')': there is no '(' before it in this statement"),
    ("3 = x", 1, 1, "'=' needs a name on its left"),
    ("(y) = x", 1, 1, "'=' needs a name on its left"),
    ("y == x", 1, 4, "'==' is not an operator: a statement assigns with one '=', and there are "
                     "no comparisons"),
    ("y = x = 2", 1, 7, "unexpected '=': a statement assigns one name (name = expression)"),
    ("y = 2 x", 1, 7, "number 2 is followed by name 'x': write '2 * x' to multiply"),
    ("y = 2x", 1, 6, "number 2 is followed by name 'x': write '2 * x' to multiply"),
    ("y = 3 4", 1, 7, "expected an operator between number 3 and number 4"),
    ("y = 1e", 1, 6, "'1e' is not a number: an exponent needs digits, as in 1e3 (and a product "
                     "needs '*', as in 1 * e)"),
    ("y = 1.2.3", 1, 8, "'1.2.3' is not a number"),
    ("y = sin x", 1, 9, "'sin' is a function: its arguments go in parentheses, as in sin(a)"),
    ("y = input * 2", 1, 5, "'input' is a reserved word: it starts a statement (input names) "
                            "and cannot be used in an expression"),
    ("y = x output", 1, 7, "'output' starts a statement of its own: put it on a new line or "
                           "after ';'"),
    ("input = 2", 1, 1, "'input' is a reserved word and cannot be assigned"),
    ("y = 1\noutput q", 2, 8, "output 'q' is never assigned"),
    ("y = 1\noutput Y", 2, 8, "output 'Y' is never assigned (did you mean 'y'?)"),
    ("input x y", 1, 9, "expected ',' or the end of the statement, found name 'y'"),
    ("y x", 1, 3, "expected '=' after 'y', found name 'x': a statement is name = expression"),
    ("y = sin(x,)", 1, 11, "expected an argument after ',', found ')'"),
    ("y = x\x01", 1, 6, "unexpected control character U+0001"),
    ("y = sinn(x)", 1, 5, "unknown function 'sinn' (did you mean 'sin'?)"),
    ("y = tanhh(x)", 1, 5, "unknown function 'tanhh' (did you mean 'tanh'?)"),
    ("y = atan2(x)", 1, 5, "atan2 takes 2 arguments (atan2(y, x)), got 1"),
    ("y = exp(x, 2)", 1, 5, "exp takes 1 argument (exp(a)), got 2"),
]


@pytest.mark.parametrize("source, line, column, message", MISTAKES,
                         ids=[m[0] for m in MISTAKES])
def test_typical_mistakes_in_plain_words(source, line, column, message):
    with pytest.raises(ProgramError) as info:
        parse(source, "p.slp")
    first = info.value.diagnostics[0]
    assert (first.line, first.column, first.message) == (line, column, message)


SINGLE_LINE_MISTAKES = [m for m in MISTAKES if "\n" not in m[0]]


@pytest.mark.parametrize("group", range(0, len(SINGLE_LINE_MISTAKES), 7))
def test_the_mistakes_through_the_command(tmp_path, group):
    # Several in one file, one per line: one run reports every one, in order.
    mistakes = SINGLE_LINE_MISTAKES[group: group + 7]
    path = tmp_path / "mistakes.slp"
    path.write_text("\n".join(m[0] for m in mistakes) + "\n")
    proc = run_slpdiff("eval", path, "--at", "x=1")
    assert_clean_error(proc)
    heads = error_heads(proc.stderr)
    # Line k holds mistake k; its error is the table's (other errors on a line, such as an
    # undefined name, need not be listed here).
    for k, (_source, _line, column, message) in enumerate(mistakes, start=1):
        message = message.replace("the end of the program", "the end of the line")
        message = message.replace("opened at 1:", f"opened at {k}:")
        assert f"slpdiff: error: {path}:{k}:{column}: {message}" in heads, (k, heads)


# Lark's own vocabulary must never reach a user.
def _terminal_names() -> set[str]:
    lark, _builder = slpdiff.language.parser._get_parser()
    return {t.name for t in lark.terminals} | {"$END", "__ANON", "_SEP", "Token(",
                                               "Expected one of", "UnexpectedToken",
                                               "UnexpectedCharacters", "expected one of"}


def _broken_programs() -> list[str]:
    """Many broken programs: the table above, and every valid line of a few programs with one
    token deleted, duplicated or swapped with its neighbour."""
    valid = ["input x, w", "v1 = x * w", "v2 = sin(v1) + atan2(v1, -x)", "v3 = (v1 + v2) ^ -2",
             "v4 = -v3 ** 2 / 3.5e-2", "output v4, v2", "y = max(x, w); z = y * 2"]
    tokens = re.compile(r"\*\*|[A-Za-z_][A-Za-z0-9_]*|\d+\.?\d*(?:[eE][+-]?\d+)?|\S")
    broken = [m[0] for m in MISTAKES]
    for line in valid:
        parts = tokens.findall(line)
        for i in range(len(parts)):
            broken.append(" ".join(parts[:i] + parts[i + 1:]))
            broken.append(" ".join(parts[:i + 1] + parts[i:]))
            if i + 1 < len(parts):
                broken.append(" ".join(parts[:i] + [parts[i + 1], parts[i]] + parts[i + 2:]))
    for junk in ["@", "$", "!", "'", '"', "{", "[", "]", "}", "&", "|", "<", ">", "?", "%", ",",
                 ";", "=", "(", ")", "\t", "\x0b", "1e", ".", "..", "input", "output"]:
        broken += [f"y = x {junk} 2", f"{junk} y = x", f"y = x {junk}", f"y = ({junk})"]
    return broken


def test_no_message_uses_lark_terminal_names():
    names = _terminal_names()
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(
        re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![a-z0-9_])")
    failures, checked = [], 0
    for source in _broken_programs():
        try:
            parse(source, "p.slp")
        except ProgramError as e:
            checked += 1
            for d in e.diagnostics:
                found = pattern.search(d.message)
                if found:
                    failures.append((source, d.message))
    assert checked > 200
    assert not failures, failures[:10]


def test_the_terminal_name_check_would_catch_one():
    # The names the check looks for really are what Lark calls its tokens.
    names = _terminal_names()
    assert {"RPAR", "LPAR", "NAME", "NUMBER", "STAR", "$END"} <= names


# --- several errors in one run -------------------------------------------------------------------

def test_undefined_names_on_lines_3_and_9_are_reported_together(tmp_path):
    lines = ["input x", "a = x + 1", "b = a * q", "c = b", "d = c", "e1 = d", "f = e1", "g = f",
             "h = g + rr", "output h"]
    path = tmp_path / "p.slp"
    path.write_text("\n".join(lines) + "\n")
    proc = run_slpdiff("eval", path, "--at", "x=1")
    assert_clean_error(proc)
    assert error_heads(proc.stderr) == [
        f"slpdiff: error: {path}:3:9: undefined name 'q' (the program declares its inputs "
        "with 'input')",
        f"slpdiff: error: {path}:9:9: undefined name 'rr' (the program declares its inputs "
        "with 'input')"]
    # each with its source line and caret
    text = proc.stderr.splitlines()
    assert text[1:3] == ["    b = a * q", "            ^"]
    assert text[4:6] == ["    h = g + rr", "            ^"]


def test_syntax_and_other_errors_are_reported_together_in_order(tmp_path):
    source = ("input x\n"
              "a = x +\n"            # syntax
              "b = sinn(a)\n"        # unknown function, after the syntax error
              "c = (b * 2\n"         # syntax
              "c = atan2(b)\n"       # arity (c counts as assigned by the bad line before)
              "d = b q\n"            # syntax
              "e1 = undefined1\n"    # undefined
              "a = 2\n")             # reassignment of the name the bad line 2 assigns
    path = tmp_path / "p.slp"
    path.write_text(source)
    proc = run_slpdiff("eval", path, "--at", "x=1")
    assert_clean_error(proc)
    assert [h.split(": ", 3)[2] for h in error_heads(proc.stderr)] == [
        f"{path}:2:8", f"{path}:3:5", f"{path}:4:11", f"{path}:5:1", f"{path}:5:5",
        f"{path}:6:7", f"{path}:7:6", f"{path}:8:1"]
    assert "unknown function 'sinn'" in proc.stderr
    assert "atan2 takes 2 arguments" in proc.stderr
    assert "undefined name 'undefined1'" in proc.stderr
    assert "'a' is already assigned on line 2" in proc.stderr


def test_a_bad_statement_does_not_make_later_uses_of_its_name_errors():
    with pytest.raises(ProgramError) as info:
        parse("input x\ny = x +\nz = y * 2\ninput w,\nq = w + z\noutput q\n")
    assert [(d.line, d.column) for d in info.value.diagnostics] == [(2, 8), (4, 9)]


def test_statements_after_a_semicolon_are_checked_after_a_syntax_error():
    with pytest.raises(ProgramError) as info:
        parse("y = x + ; z = sinn(y); w = (z")
    assert [(d.line, d.column, d.message.split(" (")[0]) for d in info.value.diagnostics] == [
        (1, 9, "expected an expression after '+', found ';'"),
        (1, 15, "unknown function 'sinn'"),
        (1, 30, "unclosed '(' opened at 1:28")]


def test_at_most_20_errors_then_how_many_more(tmp_path):
    source = "input x\n" + "".join(f"v{i} = x + q{i}\n" for i in range(30))
    path = tmp_path / "p.slp"
    path.write_text(source)
    proc = run_slpdiff("eval", path, "--at", "x=1")
    assert_clean_error(proc)
    heads = error_heads(proc.stderr)
    assert len(heads) == 21
    assert heads[19].startswith(f"slpdiff: error: {path}:21:11: undefined name 'q19'")
    assert heads[20] == f"slpdiff: error: {path}: ... and 10 more errors"


def test_reading_stops_after_20_syntax_errors(tmp_path):
    source = "".join(f"v{i} = x +\n" for i in range(30))
    proc = run_slpdiff("eval", "-", "--at", "x=1", input=source)
    assert_clean_error(proc)
    heads = error_heads(proc.stderr)
    assert len(heads) == 21
    assert heads[-1] == ("slpdiff: error: <stdin>: slpdiff stopped reading the program at line "
                         "20, after 20 syntax errors")


def test_the_work_after_errors_is_capped(monkeypatch):
    """Recovery stops at the 20th syntax error, and did-you-mean (which compares a name with every
    known one) runs only for the errors shown: a program with an error on each of 10,000 lines
    costs no more per line than a valid one (benchmarks/errors.py measures it)."""
    calls = {"syntax": 0, "suggest": 0}
    parser = slpdiff.language.parser
    syntax_error, did_you_mean = parser.syntax_error_at, parser._did_you_mean

    def counting_syntax_error(*args):
        calls["syntax"] += 1
        return syntax_error(*args)

    def counting_did_you_mean(*args):
        calls["suggest"] += 1
        return did_you_mean(*args)

    monkeypatch.setattr(slpdiff.language.parser, "syntax_error_at", counting_syntax_error)
    monkeypatch.setattr(slpdiff.language.parser, "_did_you_mean", counting_did_you_mean)
    with pytest.raises(ProgramError):
        parse("".join(f"v{i} = x +\n" for i in range(10_000)))
    assert calls["syntax"] == 20
    with pytest.raises(ProgramError) as info:
        parse("input x\n" + "".join(f"v{i} = sinn(x) + q{i}\n" for i in range(10_000)))
    assert calls["suggest"] == 20
    assert info.value.diagnostics[-1].message == "... and 19980 more errors"


def test_suggestions_stay_cheap_with_many_names():
    names = slpdiff.language.parser.MAX_SUGGESTION_NAMES
    many = "input x\n" + "".join(f"v{i} = x\n" for i in range(names))
    with pytest.raises(ProgramError) as info:
        parse(many + "y = V7 + v12x\n")
    messages = [d.message for d in info.value.diagnostics]
    assert "undefined name 'V7' (did you mean 'v7'?)" in messages[0]  # case: always suggested
    assert messages[1] == "undefined name 'v12x' (the program declares its inputs with 'input')"


def test_ctrl_c_while_reading_points_is_exit_status_130_without_a_traceback():
    # slpdiff waits for more points on a pipe that stays open; Ctrl-C (SIGINT) ends it.
    proc = subprocess.Popen([str(Path(sys.executable).parent / "slpdiff"), "eval", SEED,
                             "--points", "-", "--points-format", "csv"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(120, proc.kill)  # a run that ignores the signal fails, not hangs
    watchdog.start()
    try:
        proc.stdin.write("x,w\n1,4\n")
        proc.stdin.flush()
        header, row = proc.stdout.readline(), proc.stdout.readline()  # the row was evaluated
        assert header.startswith("x,w,v7") and row.startswith("1.0,4.0,27.9"), (header, row)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.stdout.read(), proc.stderr.read()
        proc.wait()
    finally:
        watchdog.cancel()
        proc.stdin.close()
    assert proc.returncode == 130
    # (Click starts stderr with an empty line, which ends the terminal's "^C" line.)
    assert rest == "" and err.lstrip("\n") == "slpdiff: error: interrupted\n"


# --- files ---------------------------------------------------------------------------------------

def _files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "folder").mkdir()
    (tmp_path / "binary.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "nul.csv").write_bytes(b"x,w\x00\n1,2\n")
    (tmp_path / "nul.json").write_bytes(b'{"x": 1, "w": \x00}')
    (tmp_path / "latin1.csv").write_bytes(b"x,w\n1,2\xe9\n")
    (tmp_path / "nul.slp").write_bytes(b"y = x\x00\n")
    return {"missing": tmp_path / "missing.csv", "directory": tmp_path / "folder",
            "binary": tmp_path / "binary.png"}


PROGRAM_FILE_CASES = [("missing", "no such file"), ("directory", "is a directory"),
                      ("binary", "invalid UTF-8 byte 0x89")]


@pytest.mark.parametrize("kind, words", PROGRAM_FILE_CASES)
def test_bad_program_files(tmp_path, kind, words):
    path = _files(tmp_path)[kind]
    proc = run_slpdiff("eval", path, "--at", "x=1")
    assert_clean_error(proc)
    assert f"slpdiff: error: {path}" in proc.stderr and words in proc.stderr


@pytest.mark.parametrize("option", ["--points", "--data", "--at @"])
@pytest.mark.parametrize("kind, words", [("missing", ["no such file"]),
                                          ("directory", ["is a directory"]),
                                          ("binary", ["binary", "NUL byte"]),
                                          ("nul", ["NUL byte"])])
def test_bad_data_files(tmp_path, option, kind, words):
    paths = _files(tmp_path)
    paths["nul"] = tmp_path / ("nul.json" if option == "--at @" else "nul.csv")
    path = paths[kind]
    if option == "--points":
        args = ["eval", SEED, "--points", path, "--points-format", "csv"]
    elif option == "--data":
        args = ["optimize", SEED, "--at", "w=1", "--data", path, "--data-format", "csv"]
    else:
        args = ["eval", SEED, "--at", f"@{path}"]
    proc = run_slpdiff(*args)
    assert_clean_error(proc)
    assert str(path) in error_heads(proc.stderr)[0]
    assert any(w in proc.stderr for w in words), proc.stderr


def test_invalid_utf8_in_a_data_row_names_the_line(tmp_path):
    _files(tmp_path)
    proc = run_slpdiff("eval", SEED, "--points", tmp_path / "latin1.csv")
    assert_clean_error(proc, stdout_empty=False)
    assert error_heads(proc.stderr) == [
        f"slpdiff: error: {tmp_path / 'latin1.csv'}:2: not UTF-8 text (byte 0xe9; is it a "
        "binary file?)"]


def test_a_nul_byte_in_a_program_file_is_named_where_it_is(tmp_path):
    _files(tmp_path)
    proc = run_slpdiff("eval", tmp_path / "nul.slp", "--at", "x=1")
    assert_clean_error(proc)
    assert error_heads(proc.stderr) == [f"slpdiff: error: {tmp_path / 'nul.slp'}:1:6: NUL byte "
                                        "in the program"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can read a file without read permission")
@pytest.mark.parametrize("option", ["program", "--points", "--data", "--at @"])
def test_unreadable_files(tmp_path, option):
    path = tmp_path / "secret.csv"
    path.write_text("x,w\n1,2\n")
    path.chmod(0)
    try:
        args = {"program": ["eval", path, "--at", "x=1"],
                "--points": ["eval", SEED, "--points", path],
                "--data": ["optimize", SEED, "--at", "w=1", "--data", path],
                "--at @": ["eval", SEED, "--at", f"@{path}"]}[option]
        proc = run_slpdiff(*args)
    finally:
        path.chmod(0o600)
    assert_clean_error(proc)
    assert f"{path}: cannot read: Permission denied" in proc.stderr


@pytest.mark.parametrize("option", ["program", "--points", "--data", "--at @"])
def test_unreadable_files_in_process(tmp_path, monkeypatch, option):
    # The same as above for any user (root included): opening the file fails as it would
    # without read permission.
    from slpdiff.cli import options

    path = tmp_path / "secret.csv"
    path.write_text("x,w\n1,2\n")

    def no_permission(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return open(file, *args, **kwargs)

    monkeypatch.setattr(options, "open", no_permission, raising=False)
    args = {"program": ["eval", str(path), "--at", "x=1"],
            "--points": ["eval", SEED, "--points", str(path)],
            "--data": ["optimize", SEED, "--at", "w=1", "--data", str(path)],
            "--at @": ["eval", SEED, "--at", f"@{path}"]}[option]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{path}: cannot read: Permission denied" in error_heads(result.stderr)[0]
    assert "Traceback" not in result.stderr


# --- output files are written atomically ---------------------------------------------------------

def _only(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_a_failure_midway_leaves_the_existing_output_file_untouched(tmp_path):
    rows = "".join(f"{i},{i + 1}\n" for i in range(1000))
    points = tmp_path / "points.csv"
    points.write_text("x,w\n" + rows + "1,two\n")
    out = tmp_path / "out.csv"
    old = b"id,old\r\n1,\xff binary-ish old contents\n"
    out.write_bytes(old)
    before = _only(tmp_path)
    proc = run_slpdiff("eval", SEED, "--points", points, "-o", out, "--chunk-rows", "10")
    assert_clean_error(proc)
    assert f"{points}:1002: field 'w'" in proc.stderr
    assert out.read_bytes() == old
    assert _only(tmp_path) == before  # no temporary file left behind


def test_a_failed_optimize_leaves_the_save_file_untouched(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n2\nthree\n")
    save = tmp_path / "point.json"
    save.write_text('{"w": 123.0}\n')
    before = _only(tmp_path)
    proc = run_slpdiff("optimize", SEED, "--at", "w=1", "--data", data, "--save", save)
    assert_clean_error(proc)
    assert save.read_text() == '{"w": 123.0}\n' and _only(tmp_path) == before


def test_a_failed_graph_leaves_the_output_file_untouched(tmp_path):
    out = tmp_path / "g.dot"
    out.write_text("old graph\n")
    before = _only(tmp_path)
    proc = run_slpdiff("graph", "-", "-o", out, input="y = x +\n")
    assert_clean_error(proc)
    assert out.read_text() == "old graph\n" and _only(tmp_path) == before


# --- the docs state the contract, and its example is what slpdiff prints ------------------------

def _readme_errors_section() -> str:
    page = (ROOT / "docs" / "commands.md").read_text()
    start = page.index("\n## Errors\n")
    end = page.find("\n## ", start + 1)
    return page[start:] if end < 0 else page[start:end]


def test_docs_say_numbers_and_streams_then_errors():
    page = (ROOT / "docs" / "commands.md").read_text()
    assert page.index("\n## Numbers and streams\n") < page.index("\n## Errors\n")


def test_readme_errors_section_states_the_contract():
    section = _readme_errors_section()
    for part in ["`0`", "`1`", "`2`", "`130`", "--debug", "SLPDIFF_DEBUG=1", "internal error",
                 f"{slpdiff.language.parser.MAX_ERRORS} errors", "... and N more errors"]:
        assert part in section, part


def test_readme_errors_example_is_what_slpdiff_prints():
    section = _readme_errors_section()
    block = re.search(r"```text\n(\$ .*?)```", section, re.S)[1].splitlines()
    command, shown = block[0][2:], block[1:]
    status = shown.pop()
    assert status.startswith("exit status ")
    args = shlex.split(command)
    assert args[0] == "printf" and args[2:4] == ["|", "slpdiff"]
    source = args[1].encode().decode("unicode_escape")
    proc = run_slpdiff(*args[4:], input=source, cwd=ROOT)
    assert proc.stderr.splitlines() == shown
    assert proc.returncode == int(status.split()[-1]) and proc.stdout == ""
