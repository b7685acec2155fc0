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

Faster still, when orjson is installed (a dependency: 3 to 4 times Arrow's speed), the digits come
from orjson's writer of numpy arrays (Ryu-style shortest digits, closest when several are
shortest), whose layout is already ``repr``'s except below 1e-4 (``0.00001``, ``1e-7``) and for
nan and inf (``null``): those few values are written by the Arrow path above and spliced in.
:func:`float_cells` gives each number with the character that follows it in a record (a comma, a
tab, a line end, a brace), which orjson's own commas become: a record is then one join of its
columns, with no literals between them. A check of the hard values at import falls back to Arrow
should an orjson release ever lay numbers out otherwise.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TEXT = pa.large_string()  # 64-bit offsets: the text of a chunk of rows may pass 2 GiB
ENDS = ",\t\n}"  # what may follow a number in a record: float_cells' ``end``
_FEW = 64  # special values per column up to which they are spliced in by Python, not by a gather


def numbers_of(array: pa.Array) -> np.ndarray:
    """A float64 Arrow array without nulls as a numpy array: a view of its buffer, no copy
    (``Array.to_numpy`` would import pandas where it is installed, a quarter of a second)."""
    if array.null_count:
        raise ValueError("null values are not numbers")
    if array.type != pa.float64():
        array = pc.cast(array, pa.float64())
    return np.frombuffer(array.buffers()[1], np.float64, len(array), 8 * array.offset) \
        if len(array) else np.empty(0)


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


# --- orjson's digits, with the character after each number --------------------------------------

def float_cells(values, end: str, json: bool = False) -> pa.LargeStringArray:
    """``[repr(float(x)) + end for x in values]`` (with ``json``, nan and inf quoted as in
    :func:`json_float_text`), ``end`` one of :data:`ENDS`; orjson's digits where it is installed
    and writes the hard values as ``repr`` does, else Arrow's."""
    x = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    if not x.size:
        return pa.array([], TEXT)
    orjson = _orjson()
    if orjson is None:
        text = json_float_text(x) if json else float_text(x)
        return pc.binary_join_element_wise(text, _literal(end), _literal(""))
    return _orjson_cells(orjson, x, end, json)


def _orjson_cells(orjson, x: np.ndarray, end: str, json: bool) -> pa.LargeStringArray:
    data, commas = _orjson_text(orjson, x)
    if end != ",":
        data[commas] = ord(end)
    data[-1] = ord(end)  # the closing bracket
    return _with_specials(x, data, commas, json, end)


def float_rows(columns: list, delimiter: str) -> memoryview:
    """Lines of text, one per row of ``columns`` (float64 arrays of one length, at least one):
    the row's numbers as ``repr`` writes them, separated by ``delimiter`` (a comma or a tab).
    Where orjson writes the numbers, one call writes them all, row after row, and its commas
    become the delimiters and line ends: no join at all."""
    width = len(columns)
    orjson = _orjson()
    if orjson is None or delimiter not in ",\t":
        cells = [float_cells(c, delimiter) for c in columns[:-1]] + [float_cells(columns[-1], "\n")]
        return text_buffer(pc.binary_join_element_wise(*cells, _literal("")))
    x = np.column_stack([np.asarray(c, dtype=np.float64).reshape(-1) for c in columns]).reshape(-1)
    if not x.size:
        return memoryview(b"")
    data, commas = _orjson_text(orjson, x)
    if delimiter != ",":
        data[commas] = ord(delimiter)
    data[commas[width - 1::width]] = ord("\n")
    data[-1] = ord("\n")
    special = _special(x)
    if special.size > _FEW:
        return text_buffer(_respelled(x, _strings(data, commas), special, False, None))
    starts = np.concatenate([[1], commas + 1])[special]
    lasts = np.append(commas, len(data) - 1)[special]  # the character after each number
    new = [(repr(v) + chr(e)).encode() for v, e in zip(x[special].tolist(), data[lasts].tolist(),
                                                         strict=True)]
    return memoryview(_joined(memoryview(data), starts, lasts + 1, new, 1, len(data)))


def _orjson_text(orjson, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """orjson's text of ``x`` (``[1.5,-0.0,null]``) as bytes to change, and where its commas
    are (no number's text has one)."""
    data = np.frombuffer(orjson.dumps(x, option=orjson.OPT_SERIALIZE_NUMPY), np.uint8).copy()
    return data, np.flatnonzero(data == ord(","))


def _strings(data: np.ndarray, commas: np.ndarray) -> pa.LargeStringArray:
    """The numbers of orjson's text ``data``, each with the character after it, as strings."""
    n = commas.size + 1
    offsets = np.empty(n + 1, np.int64)
    offsets[0], offsets[1:n], offsets[n] = 1, commas + 1, len(data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _special(x: np.ndarray) -> np.ndarray:
    """Where orjson's text is not ``repr``'s: nonzero values below 1e-4, nan, inf."""
    a = np.abs(x)
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(~((a >= 1e-4) & (a <= np.finfo(np.float64).max)) & (x != 0))


def _with_specials(x: np.ndarray, data: np.ndarray, commas: np.ndarray, json: bool,
                   end: str) -> pa.LargeStringArray:
    """The numbers of orjson's text ``data``, each followed by ``end``, as strings, those that
    orjson does not write as ``repr`` does written again."""
    text = _strings(data, commas)
    special = _special(x)
    if not special.size:
        return text
    if special.size <= _FEW:
        made = _json_repr if json else repr
        return _splice(text, special, [made(v) + end for v in x[special].tolist()])
    return _respelled(x, text, special, json, end)


def _respelled(x: np.ndarray, text: pa.LargeStringArray, special: np.ndarray, json: bool,
               end: str | None) -> pa.LargeStringArray:
    """``text`` with the numbers at ``special`` written by the Arrow path, each followed by
    ``end`` or, if None, by the character that follows it in ``text``."""
    fixed = (json_float_text if json else float_text)(x[special])
    if end is None:
        offsets = np.frombuffer(text.buffers()[1], np.int64)
        lasts = np.frombuffer(text.buffers()[2], np.uint8)[offsets[special + 1] - 1]
        ends = pa.array(list(lasts.tobytes().decode()), TEXT)
    else:
        ends = _literal(end)
    return _replace(text, [(special, pc.binary_join_element_wise(fixed, ends, _literal("")))])


def _json_repr(x: float) -> str:
    return repr(x) if math.isfinite(x) else f'"{x!r}"'


def _splice(text: pa.LargeStringArray, where: np.ndarray, new: list[str]):
    """``text`` with its strings at ``where`` (a few, in order) replaced by ``new``: one copy of
    the bytes, pieces joined by Python."""
    offsets = np.frombuffer(text.buffers()[1], np.int64)[text.offset:text.offset + len(text) + 1]
    replacements = [s.encode() for s in new]
    joined = _joined(memoryview(text.buffers()[2]), offsets[where], offsets[where + 1],
                     replacements, int(offsets[0]), int(offsets[-1]))
    lengths = np.diff(offsets)
    lengths[where] = [len(r) for r in replacements]
    new_offsets = np.zeros(len(text) + 1, np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    return pa.LargeStringArray.from_buffers(len(text), pa.py_buffer(new_offsets),
                                            pa.py_buffer(joined))


def _joined(data: memoryview, starts, ends, new: list[bytes], begin: int, stop: int) -> bytes:
    """``data[begin:stop]`` with each ``data[starts[k]:ends[k]]`` (in order, apart) replaced by
    ``new[k]``: one copy of the bytes."""
    pieces, at = [], begin
    for first, last, replacement in zip(starts.tolist(), ends.tolist(), new, strict=True):
        pieces += [data[at:first], replacement]
        at = last
    pieces.append(data[at:stop])
    return b"".join(pieces)


def text_buffer(lines: pa.LargeStringArray) -> memoryview:
    """The bytes of all strings of ``lines``, one after the other: Arrow keeps them in one
    buffer, so this is a view, not a copy."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[start:end]


_PROBES = [0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e-7, 1e-5, 1e-4,
           9.999999999999999e-05, 1.5e-06, 1e16, 1e15, 9999999999999998.0, 1e10, 12500000000.25,
           123456789012345.67, 1e22, 1e23, 2.0 ** 53 + 2, 0.1, 1 / 3, 100.0, -1.5e300, 123.456,
           float("nan"), float("inf"), -float("inf")]


@functools.cache
def _orjson():
    """The orjson module if it is installed and writes the probes as ``repr`` does (once the
    values below 1e-4 and the non-finite ones are spliced in), else None."""
    try:
        import orjson
    except ImportError:
        return None
    probes = np.array(_PROBES + [-p for p in _PROBES])
    try:
        made = _orjson_cells(orjson, probes, ",", False).to_pylist()
    except (TypeError, ValueError):  # an orjson that cannot write numpy arrays (its error is both)
        return None
    return orjson if made == [repr(float(p)) + "," for p in probes] else None
