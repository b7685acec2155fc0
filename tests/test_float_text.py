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
