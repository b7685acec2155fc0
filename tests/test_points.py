"""Many points through the library: reading points, grids, writing records, chunked evaluation,
and the reductions sum and mean."""

from __future__ import annotations

import io
import json
import math
import random

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES
from slpdiff.cli.options import parse_value
from slpdiff.formats import evaluation_json, json_line
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.rows.grid import Grid, parse_range
from slpdiff.rows.points import (
    Chunk,
    DataError,
    PointReader,
    concatenate,
    number_from_json,
    parse_point_json,
    text_number,
)
from slpdiff.rows.records import writer_for
from slpdiff.rows.stream import (
    MAX_ROWS,
    VALUE_BUDGET,
    evaluate_chunk,
    evaluate_stream,
    reduces,
    rows_per_pass,
)

SEED = slpdiff.parse_file(str(EXAMPLES / "seed.slp"))


def reader(text: str, fmt: str = "csv", inputs=("x", "w"), given=(), keep=False, **kw):
    return PointReader(io.BytesIO(text.encode()), f"p.{fmt}", fmt, inputs, given, keep=keep, **kw)


def read_chunks(text, rows=65536, **kw):
    """The chunks read, and the DataError that ended the reading (or None)."""
    r = reader(text, **kw)
    chunks = []
    try:
        for chunk in r.chunks(rows):
            chunks.append(chunk)
    except DataError as e:
        return chunks, str(e)
    return chunks, None


# --- reading ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, text", [
    ("csv", "w,x\n4,1\n-1.5,2e-3\n"),
    ("tsv", "w\tx\n4\t1\n-1.5\t2e-3\n"),
    ("jsonl", '{"w": 4, "x": 1}\n{"w": -1.5, "x": 0.002}\n'),
    ("csv", "\ufeffw,x\r\n4,1\r\n\r\n  \r\n-1.5,2e-3"),  # BOM, CRLF, blank lines, no last newline
    ("csv", '"w","x"\n"4",1\n-1.5,"2e-3"\n'),  # quoted
])
def test_every_format_reads_columns_by_name(fmt, text):
    chunks, error = read_chunks(text, fmt=fmt)
    assert error is None
    chunk = concatenate(chunks)
    assert chunk.rows == 2
    assert chunk.columns["x"].tolist() == [1.0, 0.002]
    assert chunk.columns["w"].tolist() == [4.0, -1.5]


def test_extra_columns_are_listed_and_kept_as_text():
    text = 'id,x,note,w\nr1,1,"a, b",4\nr2,2,,5\n'
    r = reader(text, keep=True)
    assert r.columns == ["x", "w"] and r.extra == ["id", "note"]
    (chunk,) = list(r.chunks(10))
    assert chunk.kept == {"id": ["r1", "r2"], "note": ["a, b", ""]}
    (chunk,) = list(reader(text).chunks(10))
    assert chunk.kept == {} and chunk.columns["w"].tolist() == [4.0, 5.0]


def test_json_lines_extra_fields_grow_and_keep_their_json_values():
    text = '{"x": 1, "w": 2, "id": 7}\n{"x": 3, "w": 4, "id": "b", "tag": [1]}\n'
    r = reader(text, fmt="jsonl")
    list(r.chunks(10))
    assert r.extra == ["id", "tag"]
    (chunk,) = list(reader(text.splitlines()[0] + "\n" + '{"x": 3, "w": 4}\n', fmt="jsonl",
                           keep=True).chunks(10))
    assert chunk.kept == {"id": [7, None]}  # a row without the field: missing, not an error
    _, error = read_chunks(text, fmt="jsonl", keep=True)
    assert error == "p.jsonl:2: field 'tag' is not in the first row: with --keep every row's " \
                    "fields must be in the first row"


def test_json_lines_accepts_nonfinite_numbers_as_slpdiff_writes_them():
    (chunk,), _ = read_chunks('{"x": "nan", "w": "-inf"}\n{"x": 1, "w": NaN}\n', fmt="jsonl")
    assert np.isnan(chunk.columns["x"][0]) and chunk.columns["w"][0] == -math.inf
    assert np.isnan(chunk.columns["w"][1])


ROWS = "".join(f"{k},{k + 0.5}\n" for k in range(1, 10))  # lines 2..10 of the file


@pytest.mark.parametrize("rows_per_chunk", [1, 2, 3, 4, 100])
@pytest.mark.parametrize("bad_line, bad, message", [
    (2, "1,abc", "field 'w' (column 2): 'abc' is not a number"),
    (5, "1,2,3", "3 fields, expected 2 (x, w)"),
    (7, "1", "1 field, expected 2 (x, w)"),
    (9, "1,", "field 'w' (column 2): empty, not a number"),
    (10, "1_0,2", "field 'x' (column 1): '1_0' is not a number"),  # float() would take it
    (6, "\u0661,2", "field 'x' (column 1): '\u0661' is not a number"),  # an Arabic-Indic 1
    (3, '1,"2', "cannot read the row: unexpected end of data"),
])
def test_a_bad_row_stops_after_every_good_row_before_it(rows_per_chunk, bad_line, bad, message):
    lines = ROWS.splitlines()
    lines[bad_line - 2] = bad
    chunks, error = read_chunks("x,w\n" + "\n".join(lines) + "\n", rows=rows_per_chunk)
    assert error == f"p.csv:{bad_line}: {message}"
    got = concatenate(chunks)
    assert got.columns.get("x", np.empty(0)).tolist() == list(range(1, bad_line - 1))
    assert [got.line(r) for r in range(got.rows)] == list(range(2, bad_line))


@pytest.mark.parametrize("bad, message", [
    ('{"x": 1}', "no field 'w' (the first row has it)"),
    ('{"x": 1, "w": true}', "field 'w': true is not a number"),
    ('{"x": 1, "w": null}', "field 'w': null is not a number"),
    ('{"x": 1, "w": "4"}', "field 'w': \"4\" is not a number"),
    ('{"x": 1, "w": 2', "not valid JSON: Expecting ',' delimiter (column 16)"),
    ("[1, 2]", 'expected a JSON object such as {"x": 1.5}, found a list'),
    ('{"x": 1, "w": 2}{"x": 1, "w": 2}', "not valid JSON: Extra data (column 17)"),
])
def test_json_lines_bad_rows_name_their_line_and_field(bad, message):
    text = '{"x": 1, "w": 2}\n\n{"x": 2, "w": 3}\n' + bad + "\n" + '{"x": 5, "w": 6}\n'
    for rows in (1, 2, 10):
        chunks, error = read_chunks(text, fmt="jsonl", rows=rows)
        assert error == f"p.jsonl:4: {message}"
        assert concatenate(chunks).columns["x"].tolist() == [1.0, 2.0]


def test_bad_utf8_is_reported_after_the_good_lines():
    r = PointReader(io.BytesIO(b"x,w\n1,2\n3,\xff\n"), "p.csv", "csv", ["x", "w"])
    chunks = []
    with pytest.raises(DataError,
                       match=r"p.csv:3: not UTF-8 text \(byte 0xff; is it a binary file\?\)"):
        chunks.extend(r.chunks(10))
    assert chunks[0].columns["x"].tolist() == [1.0]


def test_header_problems_and_missing_or_doubly_given_inputs():
    with pytest.raises(DataError, match="p.csv: empty: expected a header line naming the columns"):
        reader("\n\n")
    with pytest.raises(DataError, match="p.csv:1: column 'x' appears twice"):
        reader("x,w,x\n")
    with pytest.raises(DataError, match="p.csv:1: column 2 of the header has no name"):
        reader("x,,w\n")
    with pytest.raises(slpdiff.InputError, match="no value for input 'w': it is not a column of "
                                                 r"p.csv \(columns: x, id\) and not given"):
        reader("x,id\n")
    with pytest.raises(slpdiff.InputError, match="'x' is both a column of p.csv and given with"):
        reader("x,w\n", given=["x"])
    assert reader("x\n", given=["w"]).columns == ["x"]  # w comes from --at


def test_chunks_of_any_size_give_the_same_rows():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(57, 2))
    text = "x,w\n" + "".join(f"{a!r},{b!r}\n" for a, b in values.tolist())
    for rows in (1, 7, 56, 57, 1000):
        got = concatenate(reader(text).chunks(rows))
        assert np.array_equal(np.column_stack([got.columns["x"], got.columns["w"]]), values)
    # a tiny read size: lines arrive in pieces, cut anywhere
    tiny = concatenate(reader(text, read_size=5).chunks(3))
    assert np.array_equal(tiny.columns["w"], values[:, 1])


def test_numbers_in_fields_are_read_as_numpy_reads_them():
    assert text_number(" 1.5 ") == 1.5 and text_number("-inf") == -math.inf
    assert math.isnan(text_number("NaN")) and text_number("1e400") == math.inf
    for bad in ("", " ", "1_0", "0x10", "1e", "1d5", "\u0661", "one"):
        assert text_number(bad) is None
    assert number_from_json(2) == 2.0 and number_from_json(-0.5) == -0.5
    assert number_from_json("inf") == math.inf
    for bad in (True, None, "1", [1], {"a": 1}, 10 ** 400):
        assert number_from_json(bad) is None


def test_point_json_takes_a_plain_object_or_the_at_of_a_result():
    assert parse_point_json('{"x": 1, "w": "-inf"}', "f") == {"x": 1.0, "w": -math.inf}
    final = {"status": "converged", "steps": 3, "at": {"w": 2.5}, "value": {"v7": 1.0}}
    assert parse_point_json(json.dumps(final), "f") == {"w": 2.5}
    with pytest.raises(DataError, match="more than one JSON value.*tail -n 1"):
        parse_point_json('{"x": 1}\n{"x": 2}\n', "f")
    with pytest.raises(DataError, match="'x': \\[1, 2\\] is not a number"):
        parse_point_json('{"x": [1, 2]}', "f")
    with pytest.raises(DataError, match="expected a JSON object of input values"):
        parse_point_json("[1]", "f")


# --- grids --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("0:1:0.25", [0.0, 0.25, 0.5, 0.75, 1.0]),
    ("0:0.3:0.1", [0.0, 0.1, 0.2, 0.3]),  # 3 * 0.1 would be 0.30000000000000004
    ("0:1:0.3", [0.0, 0.3, 0.6, 0.9]),  # stop not on the grid: not included
    ("1:0:-0.25", [1.0, 0.75, 0.5, 0.25, 0.0]),
    ("2:2:1", [2.0]),
    ("-1e-3:1e-3:5e-4", [-0.001, -0.0005, 0.0, 0.0005, 0.001]),
    ("0.1:0.7:0.2", [0.1, 0.3, 0.5, 0.7]),
])
def test_ranges_are_the_decimal_numbers_a_reader_expects(text, expected):
    r = parse_range(text, float)
    assert r.count == len(expected)
    assert r.values(np.arange(r.count)).tolist() == expected


def test_ranges_of_named_values_land_on_stop_with_a_tolerance():
    r = parse_range("0:pi:pi/4".replace("pi/4", repr(math.pi / 4)),
                    lambda s: math.pi if s == "pi" else float(s))
    assert r.count == 5 and r.values(np.arange(5))[-1] == math.pi


def test_a_range_written_with_expressions_keeps_a_stop_just_past_the_last_step():
    # 0.7 / (1/10) is 6.999999999999999: rounded, not cut, to 7 steps; the last value is 0.7
    r = parse_range("0:0.7:1/10", parse_value)
    assert (0.7 / 0.1) < 7 and r.count == 8
    assert r.values(np.arange(r.count))[-1] == 0.7
    assert parse_range("0:0.65:1/10", parse_value).count == 7  # 6.5 steps: the stop is left out


@pytest.mark.parametrize("text, message", [
    ("0:1", "is not a range: write start:stop:step"),
    ("0:1:0", "the step must not be 0"),
    ("0:1:-0.5", "never reaches"),
    ("0:inf:1", "must be finite"),
])
def test_bad_ranges(text, message):
    with pytest.raises(ValueError, match=message):
        parse_range(text, float)


def test_grid_is_the_row_major_product_in_chunks_of_any_size():
    grid = Grid({"x": parse_range("0:2:1", float), "w": parse_range("10:11:0.5", float)})
    assert grid.size == 9
    for rows in (1, 4, 9, 100):
        got = concatenate(grid.chunks(rows))
        pairs = list(zip(got.columns["x"].tolist(), got.columns["w"].tolist(), strict=True))
        assert pairs == [(x, w) for x in (0.0, 1.0, 2.0) for w in (10.0, 10.5, 11.0)]
    assert Grid({}).size == 1 and next(Grid({}).chunks(5)).rows == 1


# --- records ------------------------------------------------------------------------------------

def _evaluated(program, columns, constants=None, wrt=None):
    rows = len(next(iter(columns.values())))
    chunk = Chunk({k: np.asarray(v, dtype=float) for k, v in columns.items()}, rows)
    return chunk, evaluate_chunk(program, chunk, constants or {}, wrt)


def test_json_lines_records_are_exactly_the_single_point_json():
    program = slpdiff.parse("input x, w\ny = log(x) * w\nz = sqrt(x) + 1/w\noutput y, z")
    xs, ws = [1.5, 0.0, -1.0, 2.0], [2.0, 3.0, 0.25, 0.0]  # with -inf, nan and inf on the way
    chunk, ev = _evaluated(program, {"x": xs, "w": ws})
    lines = writer_for("jsonl", program, ["x", "w"]).records(chunk, ev).splitlines()
    for line, x, w in zip(lines, xs, ws, strict=True):
        single = slpdiff.evaluate(program, {"x": x, "w": w})
        assert line == json_line(evaluation_json(single))


def test_csv_records_name_derivatives_as_the_text_format_and_round_trip():
    chunk, ev = _evaluated(SEED, {"x": [0.1, 1 / 3]}, {"w": 4.0}, wrt=["w"])
    writer = writer_for("csv", SEED, ["w"])
    assert writer.header() == "x,w,v7,d v7/d w\n"
    rows = [line.split(",") for line in writer.records(chunk, ev).splitlines()]
    assert rows[0][:2] == ["0.1", "4.0"]
    for row, x in zip(rows, [0.1, 1 / 3], strict=True):
        single = slpdiff.evaluate(SEED, {"x": x, "w": 4.0}, wrt=["w"])
        assert float(row[2]) == single.values["v7"]
        assert float(row[3]) == single.gradient["v7"]["w"]


def test_kept_fields_are_quoted_where_needed():
    chunk, ev = _evaluated(SEED, {"x": [1.0, 2.0, 3.0], "w": [1.0, 1.0, 1.0]})
    chunk.kept = {"id": ["a", 'say "hi", ok', "c"]}
    writer = writer_for("csv", SEED, [], kept=["id"])
    assert writer.header() == "id,x,w,v7\n"
    text = writer.records(chunk, ev)
    assert text.splitlines()[1].startswith('"say ""hi"", ok",2.0,1.0,')
    assert len(text.splitlines()) == 3
    tsv = writer_for("tsv", SEED, [], kept=["id"]).records(chunk, ev)
    assert tsv.splitlines()[0].split("\t")[:3] == ["a", "1.0", "1.0"]
    assert tsv.splitlines()[1].split("\t")[0] == 'say "hi", ok'  # TSV has no quoting
    jsonl = writer_for("jsonl", SEED, [], kept=["id"]).records(chunk, ev).splitlines()
    assert json.loads(jsonl[1])["keep"] == {"id": 'say "hi", ok'}
    assert list(json.loads(jsonl[1])) == ["keep", "at", "value", "gradient"]


def test_a_value_the_same_on_every_row_is_repeated():
    program = slpdiff.parse("input x\nk = 2 + 3\ns = sum(x)\noutput k, s")
    chunk, ev = _evaluated(program, {"x": [1.0, 2.0]})
    text = writer_for("csv", program, ["x"]).records(chunk, ev)
    assert text == "1.0,5.0,3.0,0.0,1.0\n2.0,5.0,3.0,0.0,1.0\n"


# --- chunked evaluation -------------------------------------------------------------------------

def test_rows_per_pass_bounds_the_memory_of_a_pass():
    assert rows_per_pass(SEED) == MAX_ROWS
    big = slpdiff.parse("v0 = x\n" + "".join(f"v{i} = v{i - 1} * 1.5\n" for i in range(1, 5000)))
    assert rows_per_pass(big) == min(MAX_ROWS, VALUE_BUDGET // len(big))
    # values and adjoints of a pass: 1/32 of the machine's memory, from 64 MiB to 1 GiB
    assert 1 << 26 <= VALUE_BUDGET * 16 <= 1 << 30


def test_reduces_reads_the_table():
    assert reduces(slpdiff.parse("y = mean(x)")) and reduces(slpdiff.parse("y = x / count(x)"))
    assert not reduces(SEED)
    assert {name for name, p in PRIMITIVES.items() if p.reduces} == {"sum", "mean", "count",
                                                                     "maxrows", "minrows"}


def test_stream_writes_every_chunk_and_totals_the_nonfinite_warnings():
    program = slpdiff.parse("y = log(x)")
    chunks = [Chunk({"x": np.array([1.0, -1.0])}, 2, 2, "p.csv"),
              Chunk({"x": np.array([2.0, -3.0, -4.0])}, 3, 4, "p.csv")]
    written = []

    def write(chunk, ev):
        written.append((chunk.columns["x"].tolist(), np.shape(ev.values["y"])))

    result = evaluate_stream(program, chunks, {}, None, write)
    assert written == [([1.0, -1.0], (2,)), ([2.0, -3.0, -4.0], (3,))]
    assert result.rows == 5 and not result.stopped
    (value,) = [w for w in result.warnings if w.kind == "value"]
    assert value.count == 3 and result.where[0] == "p.csv:3"
    written.clear()
    strict = evaluate_stream(program, chunks, {}, None, write, stop_at_nonfinite=True)
    assert written == [([1.0], (1,))] and strict.stopped and strict.rows == 1


def test_a_program_that_reduces_is_evaluated_over_all_rows_at_once():
    program = slpdiff.parse("input x\nd = x - mean(x)")
    chunks = [Chunk({"x": np.array([1.0, 2.0])}, 2), Chunk({"x": np.array([6.0])}, 1, 3)]
    seen = []
    evaluate_stream(program, chunks, {}, None, lambda c, ev: seen.append(ev.values["d"]))
    (values,) = seen
    assert values.tolist() == [-2.0, -1.0, 3.0]


def _random_program(rng: random.Random, inputs=("a", "b", "c")) -> str:
    """A random straight-line program over the table's elementwise functions."""
    functions = [p for p in PRIMITIVES.values() if p.kind != "custom" and not p.reduces]
    names = list(inputs)
    lines = [f"input {', '.join(inputs)}"]
    for k in range(rng.randint(3, 12)):
        prim = rng.choice(functions)
        args = [rng.choice(names[-4:] + names[:3]) if rng.random() < 0.85
                else repr(round(rng.uniform(-2, 2), 2)) for _ in prim.params]
        lines.append(f"t{k} = {prim.name}({', '.join(args)})")
        names.append(f"t{k}")
    lines.append(f"output {', '.join(rng.sample(names[3:], min(2, len(names) - 3)))}")
    return "\n".join(lines)


@pytest.mark.parametrize("seed", range(40))
def test_vectorized_evaluation_equals_row_by_row_on_random_programs(seed):
    rng = random.Random(seed)
    program = slpdiff.parse(_random_program(rng))
    xs = np.random.default_rng(seed).uniform(-2, 2, size=(3, 23))
    chunk = Chunk({"a": xs[0], "b": xs[1]}, 23)
    batch = evaluate_chunk(program, chunk, {"c": 0.75})  # c: one value for every row
    for r in range(23):
        one = slpdiff.evaluate(program, {"a": xs[0, r], "b": xs[1, r], "c": 0.75})
        for out in program.output_names:
            assert _same(batch.values[out], r, one.values[out]), (out, r)
            for name in program.input_names:
                assert _same(batch.gradient[out][name], r, one.gradient[out][name]), \
                    (out, name, r)


def _same(batch_value, row, single) -> bool:
    got = np.broadcast_to(batch_value, (23,))[row]
    return got == single or (np.isnan(got) and np.isnan(single))


# --- sum, mean, count ---------------------------------------------------------------------------

def test_sum_and_mean_values_and_gradients_by_hand():
    program = slpdiff.parse("input x, a\nl = mean((a * x - 1)^2) + sum(x)")
    x = np.array([1.0, 2.0, 3.0])
    result = slpdiff.evaluate(program, {"x": x, "a": 2.0})
    assert result.values["l"] == pytest.approx((1 + 9 + 25) / 3 + 6, rel=1e-15)
    # d/dx_i = 2 a (a x_i - 1) / n + 1, per row; d/da = mean(2 x (a x - 1)), summed over rows
    assert result.gradient["l"]["x"] == pytest.approx(4 * (2 * x - 1) / 3 + 1, rel=1e-15)
    assert result.gradient["l"]["a"] == pytest.approx((2 + 12 + 30) / 3, rel=1e-15)
    assert np.shape(result.gradient["l"]["a"]) == ()


@pytest.mark.parametrize("text", ["sum(x * x)", "mean(sin(x) * w)", "sum(x) * mean(x)",
                                  "count(x) * w + mean(w * x)^2"])
def test_reductions_match_finite_differences(text):
    program = slpdiff.parse(f"input x, w\ny = {text}")
    x, w = np.array([0.3, -1.2, 2.0, 0.7]), 1.3
    result = slpdiff.evaluate(program, {"x": x, "w": w})
    h = 1e-6

    def f(xv, wv):
        return float(slpdiff.evaluate(program, {"x": xv, "w": wv}, derivatives=False).values["y"])

    for i in range(4):
        e = np.zeros(4)
        e[i] = h
        fd = (f(x + e, w) - f(x - e, w)) / (2 * h)
        assert result.gradient["y"]["x"][i] == pytest.approx(fd, rel=1e-7, abs=1e-8)
    fd = (f(x, w + h) - f(x, w - h)) / (2 * h)
    assert result.gradient["y"]["w"] == pytest.approx(fd, rel=1e-7, abs=1e-8)


def test_reductions_of_a_single_number():
    result = slpdiff.evaluate(slpdiff.parse("y = sum(x) + mean(x) + count(x)"), {"x": 2.5})
    assert result.values["y"] == 2.5 + 2.5 + 1 and result.gradient["y"]["x"] == 2.0


def test_all_rows_of_a_reduction_are_written_in_slices_of_bounded_size():
    program = slpdiff.parse("input x\nd = x - mean(x)")
    x = np.arange(70_000, dtype=float)
    chunks = [Chunk({"x": x[:30_000]}, 30_000), Chunk({"x": x[30_000:]}, 40_000, 30_001)]
    seen = []
    evaluate_stream(program, chunks, {}, None,
                    lambda c, ev: seen.append((c.line(0), c.rows, ev.values["d"])))
    starts = range(0, 70_000, MAX_ROWS)  # 70,000 rows: more than one slice
    assert [(line, rows) for line, rows, _ in seen] == \
        [(lo + 1, min(MAX_ROWS, 70_000 - lo)) for lo in starts]
    assert np.array_equal(np.concatenate([d for _, _, d in seen]), x - x.mean())
