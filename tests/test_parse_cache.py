"""The cache of parsed programs (``language/cache.py``) and the commands loaded lazily
(``cli/__init__.py``): what makes a small run start near the floor that importing numpy sets.

A file parsed once is read back from the cache on the next run, which then imports neither Lark
nor the parser's tables; a changed file, another slpdiff version or another definition of the
language never reads an old entry; a directory that others can write is never used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import slpdiff
from helpers import invoke, run_slpdiff
from slpdiff.cli import COMMANDS
from slpdiff.errors import ProgramError
from slpdiff.language import cache
from slpdiff.language.parser import parse, parse_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = EXAMPLES / "seed.slp"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("SLPDIFF_CACHE_DIR", str(where))
    return where


def entries(where: Path) -> list[Path]:
    return sorted(where.glob("program-*"))


def same_tape(a, b) -> bool:
    return all(list(getattr(a, c)) == list(getattr(b, c)) for c in (
        "ops", "args", "consts", "names", "lines", "columns")) and \
        (a.input_names, a.output_names, a.input_index, a.output_index) == \
        (b.input_names, b.output_names, b.input_index, b.output_index)


def test_a_file_read_again_comes_from_the_cache(cache_dir, tmp_path):
    path = tmp_path / "p.slp"
    path.write_text("input x, w\nv1 = x * w\nv2 = sin(v1) + -2.5\noutput v2, v1\n")
    first = parse_file(str(path))
    assert len(entries(cache_dir)) == 1
    again = parse_file(str(path))
    assert same_tape(first, again) and again.source.text == path.read_text()
    assert again.source.name == str(path)
    ev = slpdiff.evaluate(again, {"x": 1.0, "w": 4.0})
    assert ev.values == slpdiff.evaluate(first, {"x": 1.0, "w": 4.0}).values


def test_a_cached_run_imports_neither_lark_nor_the_tables(cache_dir):
    code = ("import sys\nfrom slpdiff.cli import main\nsys.argv = ['slpdiff', 'eval', "
            f"{str(SEED)!r}, '--at', 'x=1,w=4']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('lark' in sys.modules, sorted(m for m in sys.modules if 'cmd_' in m))\n"
            "print(sorted(m for m in ('tempfile', 'slpdiff.rows.points', 'slpdiff.rows.atomic',"
            " 'pyarrow') if m in sys.modules))")  # start-up at a point: nothing for rows
    env = {**os.environ, "SLPDIFF_CACHE_DIR": str(cache_dir)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, check=True) for _ in range(2)]
    first, second = (r.stdout.splitlines() for r in runs)
    assert first[:3] == second[:3] and first[0].startswith("v7 = 27.9064966781438")
    assert first[-2] == "True ['slpdiff.cli.cmd_eval']"  # parsed: lark was needed
    assert second[-2] == "False ['slpdiff.cli.cmd_eval']"  # cached: no lark, one command
    assert second[-1] == "[]"  # (the first run stores the parse, through a temporary file)


def test_a_changed_file_is_parsed_again(cache_dir, tmp_path):
    path = tmp_path / "p.slp"
    path.write_text("y = x * 2\n")
    assert float(slpdiff.evaluate(parse_file(str(path)), {"x": 1.0}).values["y"]) == 2.0
    path.write_text("y = x * 3\n")
    assert float(slpdiff.evaluate(parse_file(str(path)), {"x": 1.0}).values["y"]) == 3.0
    assert len(entries(cache_dir)) == 2


def test_another_version_or_language_never_reads_an_entry(cache_dir, tmp_path, monkeypatch):
    data = b"y = x * 2\n"
    parse(data, "p.slp", cache=True)
    assert cache.load(data, None) is not None
    monkeypatch.setattr(cache, "__version__", "9.9.9")
    assert cache.load(data, None) is None
    monkeypatch.undo()
    monkeypatch.setenv("SLPDIFF_CACHE_DIR", str(cache_dir))
    assert cache.load(data, None) is not None
    grammar = Path(cache._grammar_path())
    info = grammar.stat()
    try:  # a newer grammar (its time changes): the old entry is not read
        os.utime(grammar, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
        assert cache.load(data, None) is None
    finally:
        os.utime(grammar, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert cache.load(data, None) is not None


def test_a_checksum_shared_by_two_files_is_not_trusted(cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "_key", lambda data: "same")
    parse(b"y = x * 2\n", "a.slp", cache=True)
    program = parse(b"y = x * 3\n", "b.slp", cache=True)
    assert float(slpdiff.evaluate(program, {"x": 1.0}).values["y"]) == 3.0


def test_a_damaged_entry_is_ignored(cache_dir):
    data = b"y = sin(x)\n"
    parse(data, "p.slp", cache=True)
    (entry,) = entries(cache_dir)
    entry.write_bytes(entry.read_bytes()[:-40])
    assert cache.load(data, None) is None
    entry.write_bytes(b"\x00garbage")
    assert cache.load(data, None) is None
    assert len(parse(data, "p.slp", cache=True)) == 2  # parsed again, and saved again


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o755 | 0o020])
def test_a_directory_others_can_write_is_never_used(tmp_path, monkeypatch, mode):
    where = tmp_path / "shared"
    where.mkdir()
    where.chmod(mode)
    monkeypatch.setenv("SLPDIFF_CACHE_DIR", str(where))
    assert cache.directory() is None
    parse(b"y = x\n", "p.slp", cache=True)
    assert list(where.iterdir()) == []
    proc = run_slpdiff("eval", str(SEED), "--at", "x=1,w=4")  # with the variable set above
    assert proc.returncode == 0 and list(where.iterdir()) == []


def test_a_directory_of_another_user_is_never_used(tmp_path, monkeypatch):
    where = tmp_path / "theirs"
    where.mkdir(mode=0o700)
    monkeypatch.setenv("SLPDIFF_CACHE_DIR", str(where))
    monkeypatch.setattr(os, "getuid", lambda: os.stat(where).st_uid + 1)
    assert cache.directory() is None


def test_the_cache_can_be_turned_off(monkeypatch, tmp_path):
    monkeypatch.setenv("SLPDIFF_CACHE_DIR", "")
    assert cache.directory() is None
    assert len(parse(b"y = x\n", "p.slp", cache=True)) == 1


def test_errors_are_never_cached(cache_dir):
    for _ in range(2):
        with pytest.raises(ProgramError):
            parse(b"y = x +\n", "p.slp", cache=True)
    assert entries(cache_dir) == []


def test_the_cache_keeps_a_bounded_number_of_entries(cache_dir, monkeypatch):
    monkeypatch.setattr(cache, "KEEP_PROGRAMS", 3)
    for k in range(6):
        parse(f"y = x * {k}\n".encode(), "p.slp", cache=True)
    assert len(entries(cache_dir)) == 3


def test_standard_input_is_not_cached(cache_dir):
    proc = run_slpdiff("eval", "-", "--at", "x=2", input="y = x * x\n")
    assert proc.returncode == 0 and "y = 4.0" in proc.stdout
    assert entries(cache_dir) == []


# An alias (`w = x1`) and `+=`/`-=` leave no trace in the tape's names: the parser records them
# in Program.assignments, which traces and check-adjoint read, so the cache must keep them too.
ACCUMULATING = ("input x1, x2\nv = x1 * x2\nw = x1\na += v\na -= sin(x2)\na += w\n"
                "output a, w\n")


def test_a_cached_program_keeps_its_aliases_and_accumulations(cache_dir, tmp_path):
    path = tmp_path / "acc.slp"
    path.write_text(ACCUMULATING)
    fresh = parse_file(str(path))
    assert len(entries(cache_dir)) == 1
    again = parse_file(str(path))
    assert same_tape(fresh, again)
    assert again.assignments == fresh.assignments == parse(ACCUMULATING, str(path)).assignments
    assert [(a.name, a.op, a.line) for a in again.assignments] == [
        ("w", "=", 3), ("a", "+=", 4), ("a", "-=", 5), ("a", "+=", 6)]
    assert again.assignments[0].node == again.input_index[0]  # w is x1's node
    assert parse(b"y = x * 2\n", "p.slp", cache=True).assignments == []


def test_a_second_run_traces_and_checks_as_the_first(cache_dir, tmp_path):
    path = tmp_path / "acc.slp"
    path.write_text(ACCUMULATING)
    runs = [run_slpdiff("trace", path, "--at", "x1=1.5,x2=2") for _ in range(2)]
    assert len(entries(cache_dir)) == 1
    assert [r.returncode for r in runs] == [0, 0] and runs[0].stdout == runs[1].stdout
    assert "  w     x1  " in runs[0].stdout and "  a@2   a + x1  " in runs[0].stdout
    book, mine = EXAMPLES / "griewank.slp", EXAMPLES / "griewank_adjoint.slp"
    checks = [run_slpdiff("check-adjoint", book, mine, "--at", "x1=1.5,x2=0.5")
              for _ in range(2)]
    assert [r.returncode for r in checks] == [0, 0] and checks[0].stdout == checks[1].stdout
    assert len(entries(cache_dir)) == 3


# --- commands, imported when used ----------------------------------------------------------------


def test_every_command_is_listed_and_runs():
    result = invoke("--help")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.strip()]
    assert listed == sorted(COMMANDS)
    for name in COMMANDS:
        proc = run_slpdiff(name, "--help")
        assert proc.returncode == 0 and f"Usage: slpdiff {name}" in proc.stdout, name
    assert run_slpdiff("functions").returncode == 0
    assert "v7 = 27.9064966781438" in run_slpdiff("eval", str(SEED), "--at", "x=1,w=4").stdout


def test_a_command_imports_no_other_command():
    code = ("import sys\nfrom slpdiff.cli import main\nsys.argv = ['slpdiff', 'functions']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if 'cmd_' in m))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.splitlines()[-1] == "['slpdiff.cli.cmd_functions']"


def test_an_unknown_command_is_a_usage_error():
    proc = run_slpdiff("evaluate", str(SEED))
    assert proc.returncode == 2 and "No such command 'evaluate'" in proc.stderr
