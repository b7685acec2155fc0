"""eval --points, grids, -o, --at @FILE, optimize --data and shell pipelines, as a user runs them:
the installed ``slpdiff`` in a subprocess (and bash for pipes)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES, ROOT, SLPDIFF, every_few, run_slpdiff
from slpdiff.formats import evaluation_json, json_line

SEED = str(EXAMPLES / "seed.slp")
SEED_PROGRAM = slpdiff.parse_file(SEED)
POINTS = [(1.0, 4.0), (0.5, -1.25), (1 / 3, 0.1), (-2.0, 1e-300)]
HEADER = ["x", "w", "v7", "d v7/d x", "d v7/d w"]
ENV = {**os.environ, "PATH": f"{Path(SLPDIFF).parent}{os.pathsep}{os.environ['PATH']}"}


def points_text(fmt: str, points=POINTS, names=("x", "w")) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(dict(zip(names, p, strict=True))) + "\n" for p in points)
    d = "\t" if fmt == "tsv" else ","
    return d.join(names) + "\n" + "".join(d.join(map(repr, p)) + "\n" for p in points)


def parse_records(text: str, fmt: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows as text fields) of CSV/TSV output."""
    rows = list(csv.reader(io.StringIO(text), delimiter="\t" if fmt == "tsv" else ","))
    return rows[0], rows[1:]


def expected_fields(x: float, w: float) -> list[float]:
    ev = slpdiff.evaluate(SEED_PROGRAM, {"x": x, "w": w})
    return [x, w, float(ev.values["v7"]), float(ev.gradient["v7"]["x"]),
            float(ev.gradient["v7"]["w"])]


def bash(script: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env=ENV, timeout=120, **kw)


# --- formats in and out -----------------------------------------------------------------------

FORMATS = ["csv", "tsv", "jsonl"]

# A process each: every reader and writer in the quick suite (each format in and out the same),
# all nine pairs with --slow.
FORMAT_PAIRS = [(a, b) for k, a in enumerate(FORMATS) for b in (FORMATS * 2)[k:k + 3]]


@pytest.mark.parametrize("fmt_in, fmt_out", every_few(
    [pytest.param(a, b, id=f"{a}-{b}") for a, b in FORMAT_PAIRS], every=3))
def test_every_format_in_and_out(tmp_path, fmt_in, fmt_out):
    path = tmp_path / f"points.{fmt_in}"
    path.write_text(points_text(fmt_in))
    proc = run_slpdiff("eval", SEED, "--points", path, "--format", fmt_out)
    assert proc.returncode == 0 and proc.stderr == ""
    if fmt_out == "jsonl":
        lines = proc.stdout.splitlines()
        assert lines == [json_line(evaluation_json(slpdiff.evaluate(SEED_PROGRAM,
                                                                    {"x": x, "w": w})))
                         for x, w in POINTS]
    else:
        header, rows = parse_records(proc.stdout, fmt_out)
        assert header == HEADER
        assert [[float(f) for f in row] for row in rows] == [expected_fields(*p) for p in POINTS]
    # the same from standard input, where the format must be named
    piped = run_slpdiff("eval", SEED, "--points", "-", "--points-format", fmt_in, "--format",
                        fmt_out, input=points_text(fmt_in))
    assert piped.returncode == 0 and piped.stdout == proc.stdout


def test_output_format_defaults_to_the_input_format_or_the_o_extension(tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text(points_text("tsv"))
    assert run_slpdiff("eval", SEED, "--points", tsv).stdout.splitlines()[0] == "\t".join(HEADER)
    out = tmp_path / "out.jsonl"
    assert run_slpdiff("eval", SEED, "--points", tsv, "-o", out).returncode == 0
    assert json.loads(out.read_text().splitlines()[0])["at"] == {"x": 1.0, "w": 4.0}
    one = tmp_path / "one.csv"  # a single point written as a one-row CSV, by the file's name
    assert run_slpdiff("eval", SEED, "--at", "x=1,w=4", "-o", one).returncode == 0
    assert one.read_text().splitlines()[0] == ",".join(HEADER)


def test_inputs_missing_from_the_file_come_from_at_and_are_written_on_every_row():
    proc = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "csv", "--at", "w=4",
                       "--wrt", "w", input="x\n1\n0.5\n")
    header, rows = parse_records(proc.stdout, "csv")
    assert header == ["x", "w", "v7", "d v7/d w"]
    assert [[float(f) for f in r] for r in rows] == \
        [[x, 4.0, v, dw] for x, _, v, _, dw in (expected_fields(1.0, 4.0),
                                                expected_fields(0.5, 4.0))]


def test_an_input_in_neither_the_file_nor_at_is_named():
    proc = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "csv", input="x\n1\n")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "no value for input 'w'" in proc.stderr and "--at" in proc.stderr


def test_stdin_feeds_one_reader():
    proc = run_slpdiff("eval", "-", "--points", "-", "--points-format", "csv", input="y = x\n")
    assert proc.returncode == 2 and "standard input can feed only one of" in proc.stderr
    proc = run_slpdiff("eval", "-", "--at", "@-", input="y = x\n")
    assert proc.returncode == 2 and "standard input can feed only one of" in proc.stderr


# --- --keep ---------------------------------------------------------------------------------------

def test_keep_carries_extra_columns_and_without_it_one_warning():
    text = 'id,x,note,w\nr1,1,"a, b",4\nr2,0.5,plain,-1.25\n'
    kept = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "csv", "--keep",
                       input=text)
    header, rows = parse_records(kept.stdout, "csv")
    assert header == ["id", "note", *HEADER] and kept.stderr == ""
    assert [r[:2] for r in rows] == [["r1", "a, b"], ["r2", "plain"]]
    assert [float(f) for f in rows[1][2:]] == expected_fields(0.5, -1.25)
    dropped = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "csv", input=text)
    assert parse_records(dropped.stdout, "csv")[0] == HEADER
    assert dropped.stderr.count("warning") == 1 and "id, note" in dropped.stderr
    assert "--keep" in dropped.stderr


def test_keep_in_json_lines_and_tsv():
    text = '{"x": 1, "w": 4, "id": "a"}\n{"x": 0.5, "w": -1.25, "id": 7}\n'
    proc = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "jsonl", "--keep",
                       input=text)
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["keep"] for o in objects] == [{"id": "a"}, {"id": 7}]
    tsv = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "jsonl", "--keep",
                      "--format", "tsv", input=text)
    assert [line.split("\t")[0] for line in tsv.stdout.splitlines()] == ["id", "a", "7"]


# --- bad rows ------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk_rows", ["1", "2", "1000"])
@pytest.mark.parametrize("bad_line, bad, message", [
    (2, "oops,4", "field 'x' (column 1): 'oops' is not a number"),
    (4, "1,2,3", "3 fields, expected 2 (x, w)"),
    (6, "0.25", "1 field, expected 2 (x, w)"),
])
def test_bad_row_stops_with_its_line_after_writing_every_row_before_it(chunk_rows, bad_line, bad,
                                                                        message):
    good = [(k / 4, 1.0) for k in range(1, 7)]
    lines = ["x,w", *(f"{x!r},{w!r}" for x, w in good)]
    lines[bad_line - 1] = bad
    proc = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "csv", "--chunk-rows",
                       chunk_rows, input="\n".join(lines) + "\n")
    assert proc.returncode == 2
    assert proc.stderr == f"slpdiff: error: <stdin>:{bad_line}: {message}\n"
    header, rows = parse_records(proc.stdout, "csv")
    assert header == HEADER
    assert [[float(f) for f in r] for r in rows] == [expected_fields(*p)
                                                     for p in good[:bad_line - 2]]


def test_bad_json_line_in_a_file_is_named_by_path_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"x": 1, "w": 2}\n{"x": 2, "w": "two"}\n')
    proc = run_slpdiff("eval", SEED, "--points", path)
    assert proc.returncode == 2 and len(proc.stdout.splitlines()) == 1
    assert proc.stderr == f"slpdiff: error: {path}:2: field 'w': \"two\" is not a number\n"


# --- -o: atomic output ---------------------------------------------------------------------------

def test_output_file_is_replaced_only_when_everything_was_written(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("the good old results\n")
    os.chmod(out, 0o640)
    bad = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "csv", "-o", out,
                      "--chunk-rows", "1", input="x,w\n1,2\n3,4\nbad,5\n")
    assert bad.returncode == 2 and "<stdin>:4:" in bad.stderr and bad.stdout == ""
    assert out.read_text() == "the good old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary file left
    good = run_slpdiff("eval", SEED, "--points", "-", "--points-format", "csv", "-o", out,
                       input="x,w\n1,4\n")
    assert good.returncode == 0 and good.stdout == ""
    row = out.read_text().splitlines()[1]
    assert row.split(",") == [repr(v) for v in expected_fields(1.0, 4.0)]
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # the replaced file's permissions
    fresh = tmp_path / "fresh.csv"
    run_slpdiff("eval", SEED, "--at", "x=0:1:0.5,w=1", "-o", fresh)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_output_to_a_missing_directory_or_a_directory_is_an_error(tmp_path):
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4", "-o", tmp_path / "no" / "out.csv")
    assert proc.returncode == 2 and "cannot write" in proc.stderr
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4", "-o", tmp_path)
    assert proc.returncode == 2 and "is a directory" in proc.stderr


# --- grids ---------------------------------------------------------------------------------------

def test_grid_points_in_row_major_order():
    proc = run_slpdiff("eval", SEED, "--at", "x=0:1:0.5,w=2:3:1", "--format", "tsv")
    header, rows = parse_records(proc.stdout, "tsv")
    assert header == HEADER
    points = [(0.0, 2.0), (0.0, 3.0), (0.5, 2.0), (0.5, 3.0), (1.0, 2.0), (1.0, 3.0)]
    assert [[float(f) for f in r] for r in rows] == [expected_fields(*p) for p in points]


def test_a_grid_of_more_than_ten_million_points_needs_force():
    proc = run_slpdiff("eval", SEED, "--at", "x=0:1:1e-4,w=0:1:1e-3")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "10,011,001 points" in proc.stderr and "--force" in proc.stderr


def test_grid_cannot_be_combined_with_points_or_used_by_optimize():
    proc = run_slpdiff("eval", SEED, "--at", "x=0:1:0.5", "--points", "-", "--points-format",
                       "csv", input="w\n1\n")
    assert proc.returncode == 2 and "cannot be combined" in proc.stderr
    proc = run_slpdiff("optimize", SEED, "--at", "x=0:1:0.5,w=1")
    assert proc.returncode == 2 and "grid" in proc.stderr
    proc = run_slpdiff("eval", SEED, "--at", "x=0:1:0.5,w=1", "--keep")
    assert proc.returncode == 2 and "--keep" in proc.stderr
    proc = run_slpdiff("eval", SEED, "--at", "x=0:1:0.5,w=1", "--format", "text")
    assert proc.returncode == 2 and "use --format csv, tsv or jsonl" in proc.stderr


# --- strict and non-finite values ---------------------------------------------------------------

def test_nonfinite_rows_warn_once_with_a_count_and_strict_stops_at_the_first():
    text = "x\n1\n2\n-1\n3\n-2\n"
    prog = "y = log(x)\n"  # from a file (here bash's <(...)): stdin carries the points
    loose = bash(f"slpdiff eval <(printf '{prog}') --points - --points-format csv",
                 input=text)
    assert loose.returncode == 0 and len(loose.stdout.splitlines()) == 6
    assert loose.stderr.count("warning") == 1
    assert "at 2 points" in loose.stderr and "first at <stdin>:4" in loose.stderr
    strict = bash(f"slpdiff eval <(printf '{prog}') --points - --points-format csv --strict",
                  input=text)
    assert strict.returncode == 1
    assert strict.stdout.splitlines() == ["x,y,d y/d x", "1.0,0.0,1.0",
                                          f"2.0,{math.log(2)!r},0.5"]
    assert "slpdiff: error:" in strict.stderr and "first at <stdin>:4" in strict.stderr


# --- --at @FILE ---------------------------------------------------------------------------------

def test_at_file_reads_a_json_object_or_a_final_optimize_line(tmp_path):
    plain = tmp_path / "point.json"
    plain.write_text('{"x": 1, "w": 4}')
    proc = run_slpdiff("eval", SEED, "--at", f"@{plain}", "--format", "json")
    assert json.loads(proc.stdout) == json.loads(json_line(evaluation_json(
        slpdiff.evaluate(SEED_PROGRAM, {"x": 1.0, "w": 4.0}))))
    final = tmp_path / "final.json"
    final.write_text(json.dumps({"status": "converged", "steps": 9, "at": {"w": 4.0},
                                 "value": {"v7": 0.0}}))
    proc = run_slpdiff("eval", SEED, "--at", f"@{final}", "--at", "x=1")
    assert proc.returncode == 0 and proc.stdout.startswith("v7 = 27.906496678143885\n")
    proc = run_slpdiff("eval", SEED, "--at", "@-", input='{"x": 1, "w": 4}')
    assert proc.returncode == 0 and proc.stdout.startswith("v7 = 27.906496678143885\n")


@pytest.mark.parametrize("content, message", [
    ('{"x": 1}\n{"x": 2}\n', "tail -n 1"),
    ('{"x": "one", "w": 4}', "'x': \"one\" is not a number"),
    ("not json", "not valid JSON"),
])
def test_at_file_errors(tmp_path, content, message):
    path = tmp_path / "p.json"
    path.write_text(content)
    proc = run_slpdiff("eval", SEED, "--at", f"@{path}")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    missing = run_slpdiff("eval", SEED, "--at", f"@{tmp_path / 'nope.json'}")
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_optimize_then_eval_continues_from_the_optimum():
    proc = bash("slpdiff optimize examples/seed.slp --at x=1,w=4 --wrt w --steps 30 --format json"
                " | tail -n 1 | slpdiff eval examples/seed.slp --at @- --format json")
    assert proc.returncode == 0, proc.stderr
    final = json.loads(run_slpdiff("optimize", SEED, "--at", "x=1,w=4", "--wrt", "w", "--steps",
                                   "30", "--format", "json").stdout.splitlines()[-1])
    assert json.loads(proc.stdout)["at"] == final["at"]
    assert json.loads(proc.stdout)["value"] == final["value"]


# --- pipes: head, streaming, progress -----------------------------------------------------------

@pytest.mark.parametrize("source", ["--at x=0:1:1e-6,w=1 --format jsonl",
                                    "--points - --points-format csv"])
def test_head_closing_the_pipe_ends_quietly(source):
    feed = "seq 1 2000000 | awk 'BEGIN {print \"x,w\"} {print $1/1e6 \",1\"}' | "
    proc = bash(f"{feed if '--points' in source else ''}slpdiff eval examples/seed.slp "
                f"{source} | head -n 3; echo \"status ${{PIPESTATUS[-2]}}\" >&2")
    assert len(proc.stdout.splitlines()) == 3
    assert proc.stderr == "status 0\n"


def test_output_appears_while_input_is_still_arriving():
    proc = subprocess.Popen([SLPDIFF, "eval", SEED, "--points", "-", "--points-format", "csv",
                             "--at", "w=1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"x\n0.5\n1.5\n")
        proc.stdin.flush()
        got = _read_lines(proc.stdout, 3, timeout=30)  # the header and two rows, stdin still open
        assert got[0] == b"x,w,v7,d v7/d x,d v7/d w\n" and got[2].startswith(b"1.5,1.0,")
        proc.stdin.write(b"2.5\n")
        proc.stdin.close()
        assert proc.stdout.read().startswith(b"2.5,1.0,")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def _read_lines(stream, n, timeout):
    lines, deadline, buffer = [], time.monotonic() + timeout, b""
    while len(lines) < n:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no output after {timeout}s; got {lines}"
        data = os.read(stream.fileno(), 65536)
        assert data, f"output ended early: {lines}"
        buffer += data
        *complete, buffer = buffer.split(b"\n")
        lines += [line + b"\n" for line in complete]
    return lines


def test_progress_on_a_terminal_only(tmp_path):
    import pty

    path = tmp_path / "p.csv"
    path.write_text(points_text("csv", [(k / 1000, 1.0) for k in range(3000)]))
    master, slave = pty.openpty()
    proc = subprocess.Popen([SLPDIFF, "eval", SEED, "--points", path, "-o", tmp_path / "o.csv",
                             "--chunk-rows", "1000"], stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed
            break
        if not data:
            break
        seen += data
    os.close(master)
    assert proc.wait(timeout=60) == 0
    assert b"rows/s" in seen and b"%" in seen
    piped = run_slpdiff("eval", SEED, "--points", path, "-o", tmp_path / "o.csv")
    assert piped.returncode == 0 and piped.stderr == ""


# --- optimize --data ---------------------------------------------------------------------------

DECAY = str(EXAMPLES / "decay.slp")
DECAY_CSV = str(EXAMPLES / "decay.csv")
XOR = str(EXAMPLES / "xor.slp")
XOR_CSV = str(EXAMPLES / "xor.csv")
XOR_START = ["--at", "w11=0.5,w12=-0.4,b1=0.1,w21=-0.3,w22=0.6,b2=-0.1,w31=0.7,w32=0.2,b3=0.2",
             "--at", "v1=0.3,v2=-0.5,v3=0.4,c=0"]


def test_least_squares_fit_reaches_the_parameters_the_data_were_made_with():
    proc = run_slpdiff("optimize", DECAY, "--data", DECAY_CSV, "--at", "a=1,b=1,c=0",
                       "--lr", "0.5", "--steps", "3000", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    final = objects[-1]
    assert final["status"] == "converged"
    assert final["at"] == pytest.approx({"a": 2.5, "b": 1.3, "c": 0.5}, abs=1e-8)
    assert all(list(o["at"]) == ["a", "b", "c"] for o in objects)  # the data are not the point
    assert final["value"]["loss"] < 1e-18


def test_data_fit_gradient_is_the_mean_of_the_per_row_gradients():
    # An oracle that does not use reductions: the rows one at a time, averaged by hand.
    data = np.loadtxt(DECAY_CSV, delimiter=",", skiprows=1)
    per_row = slpdiff.parse("input t, y, a, b, c\nr = (a * exp(-b * t) + c - y)^2")
    grads = [slpdiff.evaluate(per_row, {"t": t, "y": y, "a": 1.0, "b": 1.0, "c": 0.0})
             for t, y in data]
    proc = run_slpdiff("optimize", DECAY, "--data", DECAY_CSV, "--at", "a=1,b=1,c=0",
                       "--steps", "1", "--format", "json")
    step0 = json.loads(proc.stdout.splitlines()[0])
    for name in "abc":
        mean = math.fsum(float(g.gradient["r"][name]) for g in grads) / len(grads)
        assert step0["gradient"]["loss"][name] == pytest.approx(mean, rel=1e-12)
    assert step0["value"]["loss"] == pytest.approx(
        math.fsum(float(g.values["r"]) for g in grads) / len(grads), rel=1e-12)


def test_xor_network_learns_to_classify_every_point(tmp_path):
    proc = run_slpdiff("optimize", XOR, "--data", XOR_CSV, "--objective", "loss", "--lr", "0.5",
                       "--steps", "2000", "--format", "json", *XOR_START)
    assert proc.returncode == 0, proc.stderr
    final = proc.stdout.splitlines()[-1]
    assert json.loads(final)["value"]["loss"] < 0.01
    (tmp_path / "fit.json").write_text(final)
    predictions = run_slpdiff("eval", XOR, "--at", f"@{tmp_path / 'fit.json'}", "--points",
                              XOR_CSV, "--format", "jsonl")
    rows = [json.loads(line) for line in predictions.stdout.splitlines()]
    assert len(rows) == 40
    assert all((r["value"]["p"] > 0.5) == (r["at"]["y"] == 1.0) for r in rows)


def test_data_from_stdin_and_in_json_lines():
    data = "".join(json.dumps({"t": t, "y": 2 * t + 1}) + "\n" for t in (0.0, 1.0, 2.0, 3.0))
    proc = bash("slpdiff optimize <(printf 'loss = mean((a * t + b - y)^2)') --data - "
                "--data-format jsonl --at a=0,b=0 --lr 0.1 --steps 5000 --format json "
                "| tail -n 1", input=data)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["at"] == pytest.approx({"a": 2.0, "b": 1.0}, abs=1e-8)


@pytest.mark.parametrize("program, args, message", [
    ("input t, y, a\nloss = (a * t - y)^2", [], "reduce it over the rows"),
    ("input t, y, a\nloss = mean((a * t - y)^2)", ["--wrt", "t"], "'t' is a column of the data"),
    ("input t, y, a\nloss = mean((a * t - y)^2)", ["--at", "t=1"],
     "'t' is both a column of"),
    ("input q, a\nloss = mean(a * q)", [], "has no column named after an input"),
])
def test_data_fit_errors(tmp_path, program, args, message):
    prog = tmp_path / "m.slp"
    prog.write_text(program)
    proc = run_slpdiff("optimize", prog, "--data", DECAY_CSV, "--at", "a=1", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


# --- docs/rows.md's pipelines run as written -----------------------------------------------------

ROWS_PAGE = (ROOT / "docs" / "rows.md").read_text()


def _bash_examples(text: str):
    """(commands, expected output or None) for each ```bash block, and the ```text after it."""
    found = re.findall(r"```bash\n(.*?)```\n(?:\n?```text\n(.*?)```)?", text, re.S)
    return [(commands, expected or None) for commands, expected in found]


def test_the_docs_have_three_pipelines_with_seq_awk_jq_and_a_fit():
    section = ROWS_PAGE.partition("\n## Pipelines\n")[2].split("\n## ", 1)[0]
    pipelines = [commands for commands, _ in _bash_examples(section)]
    assert len(pipelines) == 3 and all("|" in p for p in pipelines)
    assert "seq" in pipelines[0] and "awk" in pipelines[0]
    assert "jq" in pipelines[1] and "--data" in pipelines[2] and "@-" in pipelines[2]


@pytest.mark.parametrize("commands, expected", _bash_examples(ROWS_PAGE))
def test_bash_examples_print_what_the_docs_show(commands, expected):
    proc = bash("set -o pipefail\n" + commands)
    assert proc.returncode == 0, proc.stderr
    if expected is not None:
        assert _fields(proc.stdout) == _fields(expected, approx=True)


def _fields(text, approx=False):
    """Text split into tokens; numbers as floats, or (``approx``) equal to 9 digits to what a
    run prints (the last bits of a long fit may differ between machines)."""
    tokens = re.split(r"([,\s:{}\[\]\"]+)", text.strip())
    return [(pytest.approx(float(t), rel=1e-9, abs=1e-12) if approx else float(t))
            if _is_number(t) else t for t in tokens if t]


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# --- memory ------------------------------------------------------------------------------------

# Runs a command and prints its peak RSS in KiB on stderr. A child's peak counts its parent's
# memory at the fork, so the command is started from this small process, not from pytest.
PEAK_RSS = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.slow
def test_memory_stays_bounded_however_many_rows_stream_through():
    rows = 3_000_000
    proc = bash(f"set -o pipefail; seq 1 {rows} | awk 'BEGIN {{print \"x\"}} {{print $1/1e6}}' "
                f"| {sys.executable} -c '{PEAK_RSS}' {SLPDIFF} eval examples/seed.slp "
                "--points - --points-format csv --at w=0.5 | wc -l")
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == rows + 1
    peak = int(proc.stderr) * 1024
    # The input alone is ~30 MB of text and the results ~100 MB; held at once they would be
    # several hundred MB. Streaming keeps one chunk (65536 rows) at a time.
    assert peak < 250 * 2 ** 20, f"peak RSS {peak / 2 ** 20:.0f} MiB"


def test_python_api_examples_run(monkeypatch, capsys):
    section = (ROOT / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    namespace: dict = {}
    monkeypatch.chdir(ROOT)
    for block in blocks:
        exec(compile(block, "python-api.md", "exec"), namespace)  # noqa: S102 - our own docs
    assert namespace["run"].final.at["a"] == pytest.approx(2.5, abs=1e-8)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["at"]["x"] for r in records] == [1.0, 0.5, -2.0]


def test_single_point_text_to_an_output_file(tmp_path):
    out = tmp_path / "result.txt"
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4", "-o", out)
    assert proc.returncode == 0 and proc.stdout == ""
    assert out.read_text() == run_slpdiff("eval", SEED, "--at", "x=1,w=4").stdout
