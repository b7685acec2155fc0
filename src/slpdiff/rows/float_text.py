"""Columns of float64 as text, exactly as ``repr`` writes each number, at C speed.

slpdiff's contract is that every printed float is ``repr(float(x))``: the shortest digits that
read back to the same float64, laid out as Python lays them out (``1.0``, ``0.1``, ``1e-05``,
``1e+16``, ``-0.0``, ``nan``, ``inf``). A Python loop of ``repr`` costs about ten times as much as
the rest of a ``--points`` run, so the digits come from Arrow's cast of float64 to text, which
writes the same shortest digits (double-conversion's shortest mode, closest when several are
shortest, as Python's ``dtoa`` mode 0) in another layout:

===========================  =================  =================
value (its shortest digits)  Arrow              ``repr``
===========================  =================  =================
whole numbers below 1e16     ``100``            ``100.0``
[1e-6, 1e-4)                 ``0.0000015``      ``1.5e-06``
below 1e-6: exponent -7..-9  ``1e-7``           ``1e-07``
[1e10, 1e16), not whole      ``1.25e+10``       ``12500000000.25``
everything else              the same text
===========================  =================  =================

Only those rows are rewritten (whole numbers through an int64 cast, the others by one regular
expression per exponent), found by comparing the values with powers of ten: the shortest digits of
``x`` are at or above ``10**k`` exactly when ``x >= float(10**k)``, since a decimal number that
reads back to ``x`` lies in ``x``'s rounding interval and ``float(10**k)`` is the double nearest
``10**k``. ``tests/test_float_text.py`` compares the result with ``repr`` on the hard values and on
millions of random bit patterns.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pa.large_string()  # 64-bit offsets: the text of a chunk of rows may pass 2 GiB


def float_text(values) -> pa.LargeStringArray:
    """``[repr(float(x)) for x in values]`` as an Arrow array of text, without a Python loop."""
    x = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    text = pc.cast(pa.array(x), TEXT)
    a = np.abs(x)
    with np.errstate(invalid="ignore"):
        whole = (x == np.trunc(x)) & (a < 1e16)  # inf and nan are not whole
    # Each rule's pattern matches only the text it is for, so the row sets may be generous.
    fixes = [_whole_numbers(x, whole),
             _rewritten(text, (a >= 1e-11) & (a < 1e-4), _SMALL),
             _rewritten(text, (a >= 1e10) & (a < 1e16) & ~whole, _LARGE)]
    return _replace(text, [f for f in fixes if f is not None])


def json_float_text(values) -> pa.LargeStringArray:
    """As :func:`float_text`, with ``nan``, ``inf`` and ``-inf`` in quotes (JSON has no such
    numbers: slpdiff writes them as strings)."""
    x = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    text = float_text(x)
    bad = ~np.isfinite(x)
    if not bad.any():
        return text
    quote = _literal('"')
    quoted = pc.binary_join_element_wise(quote, text.filter(pa.array(bad)), quote, _literal(""))
    return _replace(text, [(np.flatnonzero(bad), quoted)])


# (pattern, replacement) pairs in RE2's syntax, applied in order to the rows concerned; no
# pattern matches what an earlier one wrote.
_SMALL = [
    (r"e-(\d)$", r"e-0\1"),  # 1e-7 -> 1e-07
    (r"^(-?)0\.0000([1-9])$", r"\1\2e-05"),  # 0.00001 -> 1e-05
    (r"^(-?)0\.0000([1-9])(\d+)$", r"\1\2.\3e-05"),
    (r"^(-?)0\.00000([1-9])$", r"\1\2e-06"),
    (r"^(-?)0\.00000([1-9])(\d+)$", r"\1\2.\3e-06"),
]
# d.DDDDDDDDDDdd...e+10 -> dDDDDDDDDDD.dd... (not whole: digits are left after the point's new
# place).
_LARGE = [(rf"^(-?)(\d)\.(\d{{{e}}})(\d+)e\+{e}$", r"\1\2\3.\4") for e in range(10, 16)]


def _whole_numbers(x: np.ndarray, whole: np.ndarray):
    """Whole numbers below 1e16 as repr writes them: the integer, then ``.0``. (Their shortest
    digits are the integer itself: below 2**53 every integer is a double; from 2**53 to 1e16, 16
    digits are finer than the spacing of doubles, and fewer digits name a different integer.)"""
    where = np.flatnonzero(whole)
    if not where.size:
        return None
    values = x[where]
    digits = pc.cast(pa.array(values.astype(np.int64)), TEXT)
    minus = np.signbit(values) & (values == 0)  # -0.0: the integer 0 has no sign
    if minus.any():
        digits = pc.if_else(pa.array(minus), _literal("-0"), digits)
    return where, pc.binary_join_element_wise(digits, _literal(".0"), _literal(""))


def _literal(text: str) -> pa.Scalar:
    return pa.scalar(text, TEXT)


def _rewritten(text: pa.LargeStringArray, mask: np.ndarray, rules):
    where = np.flatnonzero(mask)
    if not where.size:
        return None
    part = text.take(pa.array(where))
    for pattern, replacement in rules:
        part = pc.replace_substring_regex(part, pattern, replacement)
    return where, part


def _replace(text: pa.LargeStringArray, fixes: list) -> pa.LargeStringArray:
    """``text`` with the rows ``where`` of each ``(where, new text)`` replaced (no row twice)."""
    if not fixes:
        return text
    where = np.concatenate([w for w, _ in fixes])
    index = np.arange(len(text))
    index[where] = len(text) + np.arange(len(where))
    # One gather from the old text and the new (4 times as fast as pc.replace_with_mask).
    return pa.concat_arrays([text, *(t for _, t in fixes)]).take(pa.array(index))
