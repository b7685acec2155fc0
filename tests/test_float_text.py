"""Rows read and written in C (``rows/float_text.py``, Arrow's CSV reader in ``rows/points.py``)
against the Python they replace: every float formatted is ``repr``'s text, and the columnar reader
takes a field as a number exactly when, and as, the careful row-by-row pass does."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slpdiff.rows.float_text import float_text, json_float_text
from slpdiff.rows.points import DataError, PointReader, concatenate, text_number

HARD = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
        1.7976931348623157e308, 1e-7, 1e-5, 1e-4, 9.999999999999999e-05, 1e-6, 1e16, 1e15,
        9999999999999998.0, 1e16 + 2, 1e10, 9999999999.999998, 123456789012345.67, 1e22, 1e23,
        2.0 ** 53, 2.0 ** 53 + 2, 0.1, 0.2, 0.30000000000000004, 1 / 3, 100.0, 1.5e300, 1e-300,
        math.nan, math.inf, -math.inf, 1e-10, 1e-9, 1.5e-9, 1e-100, 123.456]
HARD += [10.0 ** k for k in range(-325, 309)]
HARD += [float(np.nextafter(10.0 ** k, d)) for k in range(-12, 24) for d in (0, math.inf)]


def _reprs(values) -> list[str]:
    return [repr(float(v)) for v in values]


def test_hard_values_are_written_as_repr_writes_them():
    values = np.array(HARD + [-v for v in HARD])
    assert float_text(values).to_pylist() == _reprs(values)


@pytest.mark.parametrize("seed", range(4))
def test_random_bit_patterns_are_written_as_repr_writes_them(seed):
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2 ** 64, size=200_000, dtype=np.uint64).view(np.float64)
    decimal = np.round(rng.uniform(-1e6, 1e6, 200_000), int(rng.integers(0, 8))) * \
        10.0 ** rng.integers(-20, 20, 200_000)
    whole = rng.integers(-10 ** 17, 10 ** 17, 200_000).astype(float) / \
        10.0 ** rng.integers(0, 25, 200_000)
    for values in (bits, decimal, whole):
        assert float_text(values).to_pylist() == _reprs(values)


def test_json_text_quotes_what_json_cannot_write():
    assert json_float_text(np.array([1.0, math.nan, -math.inf, 1e-7])).to_pylist() == \
        ["1.0", '"nan"', '"-inf"', "1e-07"]


# --- the columnar reader takes what the row-by-row pass takes --------------------------------

FIELD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789.eE+-_ naifINFxX()\t", max_size=8),
    st.sampled_from(["nan", "NaN", "-inf", "+inf", "Infinity", "1e400", "1e-400", "nan(1)",
                     " 1.5", "1.5 ", "1_0", "0x10", ".5", "5.", "", "-", "\u0661"]),
)


def _read(text: str, fmt: str, rows: int):
    reader = PointReader(io.BytesIO(text.encode()), f"p.{fmt}", fmt, ["x", "w"])
    chunks = []
    try:
        chunks.extend(reader.chunks(rows))
    except DataError as e:
        return concatenate(chunks), str(e)
    return concatenate(chunks), None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(FIELD, FIELD), min_size=1, max_size=12),
       st.sampled_from(["csv", "tsv"]), st.integers(1, 5))
def test_fields_are_numbers_exactly_when_the_careful_pass_says_so(rows, fmt, chunk_rows):
    d = "\t" if fmt == "tsv" else ","
    rows = [(a.replace(d, ""), b.replace(d, "")) for a, b in rows]
    text = f"x{d}w\n" + "".join(f"{a}{d}{b}\n" for a, b in rows)
    chunk, error = _read(text, fmt, chunk_rows)
    # what the careful pass decides, field by field
    expected_rows, expected_error = [], None
    for line, (a, b) in enumerate(rows, 2):
        if f"{a}{d}{b}".isspace():  # a blank line (TSV: tabs and spaces only)
            continue
        x, w = text_number(a), text_number(b)
        if x is None or w is None:
            expected_error = line
            break
        expected_rows.append((x, w))
    got = list(zip(chunk.columns.get("x", []), chunk.columns.get("w", []), strict=True))
    if expected_error is None:
        assert error is None, error
    else:
        assert error is not None and error.startswith(f"p.{fmt}:{expected_error}: ")
    assert len(got) == len(expected_rows)
    for (gx, gw), (ex, ew) in zip(got, expected_rows, strict=True):
        for g, e in ((gx, ex), (gw, ew)):
            assert (math.isnan(g) and math.isnan(e)) or \
                (g == e and math.copysign(1, g) == math.copysign(1, e))


# --- orjson's digits (rows/float_text.py float_cells, float_rows) --------------------------------

def _planted(seed: int, size: int = 20_000) -> np.ndarray:
    """Ordinary numbers with a few that orjson writes otherwise (below 1e-4, nan, inf): the
    path that splices them in by Python."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1, 1, size) * 10.0 ** rng.integers(0, 17, size)
    where = rng.choice(size, 12, replace=False)
    values[where] = [1e-7, -1.5e-5, 5e-324, math.nan, math.inf, -math.inf, 1e-5, 2e-300, -0.0,
                     9.999999999999999e-05, 1e-4, 1.5e-6]
    return values


def _columns_sets():
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2 ** 64, size=20_000, dtype=np.uint64).view(np.float64)
    hard = np.array(HARD + [-v for v in HARD])
    planted = _planted(1)
    from slpdiff.rows.float_text import _FEW, _special

    assert _special(planted).size <= _FEW < _special(bits).size  # both ways of splicing
    return [hard, bits, planted, np.array([1e-7]), np.array([2.5])]


@pytest.fixture(params=["orjson", "arrow"])
def digits(request, monkeypatch):
    """Both ways of writing numbers: orjson's (where installed), and Arrow's alone."""
    from slpdiff.rows import float_text as module

    if request.param == "orjson":
        if module._orjson() is None:
            pytest.skip("orjson is not installed (or writes numbers otherwise)")
    else:
        monkeypatch.setattr(module, "_orjson", lambda: None)
    return module


@pytest.mark.parametrize("end", [",", "\t", "\n", "}"])
def test_cells_are_repr_and_their_end(digits, end):
    for values in _columns_sets():
        assert digits.float_cells(values, end).to_pylist() == [r + end for r in _reprs(values)]
        quoted = [r if math.isfinite(v) else f'"{r}"' for v, r in zip(values, _reprs(values),
                                                                      strict=True)]
        assert digits.float_cells(values, end, json=True).to_pylist() == [q + end for q in quoted]
    assert digits.float_cells(np.array([]), ",").to_pylist() == []


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_rows_are_reprs_delimited(digits, delimiter):
    for values in _columns_sets():
        for width in (1, 3):
            columns = [np.roll(values, k) for k in range(width)]
            expected = "".join(delimiter.join(map(repr, row)) + "\n"
                               for row in zip(*(c.tolist() for c in columns), strict=True))
            assert bytes(digits.float_rows(columns, delimiter)).decode() == expected


def test_orjson_writes_the_numbers_where_installed():
    pytest.importorskip("orjson")
    from slpdiff.rows.float_text import _orjson

    assert _orjson() is not None  # else every record is written by the slower Arrow path
