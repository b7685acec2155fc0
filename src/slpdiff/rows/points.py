"""Reading points: CSV, TSV or JSON Lines, from a file or a stream, a chunk of rows at a time.

One row is one point. Its fields are named by the header line (CSV, TSV) or by the keys of the
first object (JSON Lines); fields named after an input of the program become float64 columns, the
others are extra fields (ignored, or kept as text to be carried through to the output).

Speed and exactness come from two paths. The fast path parses a whole chunk with numpy's own reader
(``np.loadtxt``) or one ``json.loads`` call. When it fails, a careful pass over the same chunk, row
by row, finds the first bad row and says which line and field is wrong; the good rows before it are
still handed on first, so nothing before a bad row is lost and nothing after it is skipped silently.

The stream is read as it arrives: a chunk holds the lines that are already there (up to a size),
so a slow producer at the other end of a pipe sees results while it is still writing.
"""

from __future__ import annotations

import csv
import json
import os
import select
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, quoted_names

FORMATS = ("csv", "tsv", "jsonl")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
READ_SIZE = 1 << 22  # bytes asked for at a time; a chunk is at most about this much text
MISSING = None  # a kept JSON Lines field that a row does not have


class DataError(InputError):
    """A points or data file that cannot be read: ``NAME:LINE: what is wrong`` (exit status 2)."""


def format_of(path: str) -> str | None:
    """The format named by the file's extension (``.csv``, ``.tsv``, ``.jsonl``...), or None."""
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


@dataclass
class Chunk:
    """Consecutive rows: float64 ``columns`` by name, and ``kept`` extra fields (lists) by name.

    Row ``r`` is line ``first + r`` of ``source`` (or ``numbers[r]`` when blank lines were left
    out); a grid's rows are its points, counted from 1; a Parquet file's rows (``unit="row
    index"``) are counted from 0.
    """

    columns: dict[str, np.ndarray]
    rows: int
    first: int = 1
    source: str = ""
    numbers: Sequence[int] | None = None
    kept: dict[str, list] = field(default_factory=dict)
    unit: str = "line"

    def line(self, row: int) -> int:
        """The line number (or point number) of row ``row``."""
        return self.numbers[row] if self.numbers is not None else self.first + row

    def where(self, row: int) -> str:
        """``points.csv:57``, or ``grid point 12``: where row ``row`` came from."""
        if self.source == "grid point":
            return f"grid point {self.line(row)}"
        if self.unit != "line":
            return f"{self.source} {self.unit} {self.line(row)}"
        return f"{self.source}:{self.line(row)}"


def concatenate(chunks: Iterable[Chunk]) -> Chunk:
    """All rows of ``chunks`` as one chunk (for programs that reduce over all rows, and fits)."""
    chunks = list(chunks)
    if len(chunks) == 1:
        return chunks[0]
    if not chunks:
        return Chunk({}, 0)
    first = chunks[0]
    columns = {name: np.concatenate([c.columns[name] for c in chunks]) for name in first.columns}
    kept_names = dict.fromkeys(name for c in chunks for name in c.kept)
    kept = {name: [v for c in chunks for v in c.kept.get(name, [MISSING] * c.rows)]
            for name in kept_names}
    rows = sum(c.rows for c in chunks)
    # Line numbers are worth a list only where blank lines break the count.
    plain = all(c.numbers is None for c in chunks) and all(
        b.first == a.first + a.rows for a, b in zip(chunks, chunks[1:], strict=False))
    numbers = None if plain else [c.line(r) for c in chunks for r in range(c.rows)]
    return Chunk(columns, rows, first.first, first.source, numbers, kept, first.unit)


# --- lines as they arrive -------------------------------------------------------------------------

class _Lines:
    """The lines of a binary stream in batches: those that have arrived, up to ``size`` bytes."""

    def __init__(self, stream, name: str, size: int = READ_SIZE):
        self.name = name
        self.size = size
        self.bytes_read = 0
        try:
            self._fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
            self._fd = None
        self._stream = stream

    def _read(self, n: int) -> bytes:
        data = os.read(self._fd, n) if self._fd is not None else self._stream.read(n)
        self.bytes_read += len(data)
        return data

    def _ready(self) -> bool:
        if self._fd is None:
            return True
        try:
            return bool(select.select([self._fd], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def _available(self) -> bytes:
        """At least one byte (blocking for it), then whatever else has arrived, up to ``size``."""
        pieces, total = [], 0
        while total < self.size:
            data = self._read(self.size - total)
            if not data:
                break
            pieces.append(data)
            total += len(data)
            if not self._ready():
                break
        return b"".join(pieces)

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """``(number of the first line, bytes)``: whole lines (the last one may lack its line
        end), as they arrive, until the end of the stream."""
        pending, number, start = b"", 1, True
        while True:
            data = self._available()
            eof = not data
            block = pending + data
            if start and block.startswith(b"\xef\xbb\xbf"):
                block = block[3:]
            start = start and not block
            cut = len(block) if eof else block.rfind(b"\n") + 1
            if cut:
                block, pending = block[:cut], block[cut:]
                yield number, block
                number += _line_count(block)
            else:
                pending = block
            if eof:
                return

    def decode(self, block: bytes, number: int) -> tuple[list[str], DataError | None]:
        """The lines of ``block`` (which starts at line ``number``) without line ends, up to the
        first that is not UTF-8 text, and the error naming that one (or None)."""
        nul = block.find(b"\0")  # binary data: valid UTF-8, but no text has NUL bytes
        try:
            if nul >= 0:
                block[:nul].decode("utf-8")  # an earlier invalid byte is named instead
                raise UnicodeDecodeError("utf-8", block, nul, nul + 1, "NUL byte")
            text, bad = block.decode("utf-8"), None
        except UnicodeDecodeError as e:  # the lines before the bad one are still good
            cut = block.rfind(b"\n", 0, e.start) + 1
            line = number + block.count(b"\n", 0, cut)
            text = block[:cut].decode("utf-8")
            what = "a NUL byte" if block[e.start] == 0 else f"byte 0x{block[e.start]:02x}"
            bad = DataError(f"{self.name}:{line}: not UTF-8 text ({what}; is it a binary file?)")
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if "\r" in text:
            lines = [s[:-1] if s.endswith("\r") else s for s in lines]
        return lines, bad


def _blank(line: str) -> bool:
    return not line or line.isspace()


def _nonblank(lines: list[str]) -> list[str]:
    """``lines`` without the blank ones (loops in C: this runs on every line of the input)."""
    rows = list(filter(None, lines))
    return [s for s in rows if not s.isspace()] if any(map(str.isspace, rows)) else rows


# --- numbers ----------------------------------------------------------------------------------

def text_number(text: str) -> float | None:
    """The number in a CSV/TSV field as numpy's reader takes it (``1.5``, ``-2e3``, ``nan``,
    ``inf``, surrounding spaces allowed), or None. Python's ``float`` alone would also take
    ``1_000`` and non-ASCII digits, which numpy's reader does not."""
    text = text.strip()
    if not text or not text.isascii() or "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def number_from_json(value) -> float | None:
    """A JSON value as a number: a JSON number, or "nan", "inf", "-inf" (as slpdiff writes
    non-finite numbers); None for anything else (true, null, other strings, lists...)."""
    if type(value) in (int, float):
        try:
            return float(value)
        except OverflowError:  # an integer too big for float64
            return None
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "+inf",
                                                             "infinity", "-infinity", "+infinity"):
        return float(value)
    return None


def parse_point_json(text: str, name: str) -> dict[str, float]:
    """Input values from one JSON object: ``{"x": 1, "w": 4}``, or an object with an ``"at"``
    member such as the final line of ``slpdiff optimize --format json`` or ``eval``'s JSON."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":
            raise DataError(f"{name}: more than one JSON value (line {e.lineno}); --at @FILE "
                            "reads one object: for optimize's output take the last line with "
                            "'tail -n 1'") from None
        raise DataError(f"{name}:{e.lineno}: not valid JSON: {e.msg} (column {e.colno})") from None
    if isinstance(obj, dict) and isinstance(obj.get("at"), dict):
        obj = obj["at"]
    if not isinstance(obj, dict):
        raise DataError(f"{name}: expected a JSON object of input values such as "
                        f'{{"x": 1, "w": 4}}, found {_json_kind(obj)}')
    point = {}
    for key, value in obj.items():
        number = number_from_json(value)
        if number is None:
            raise DataError(f"{name}: '{key}': {_shown(value)} is not a number")
        point[key] = number
    return point


def _json_kind(value) -> str:
    return {list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _shown(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- the reader -------------------------------------------------------------------------------

def missing_message(missing: Sequence[str], where: str, name: str, fields: Sequence[str],
                    at: str = "--at") -> str:
    """Inputs with no value: not a column (``where``) of the file ``name``, whose columns are
    ``fields``, and not given with ``at``."""
    names = ", ".join(fields[:50]) or "(none)"
    if len(fields) > 50:  # a file may have a million columns: name a few
        names += f" and {len(fields) - 50:,} more"
    if len(missing) == 1:
        return (f"no value for input {quoted_names(missing)}: it is not a {where} of {name} "
                f"({where}s: {names}) and not given with {at}")
    return (f"no values for inputs {quoted_names(missing)}: they are not {where}s of {name} "
            f"({where}s: {names}) and not given with {at}")


class PointReader:
    """Rows of a points file as :class:`Chunk` objects, for a program with inputs ``inputs``.

    ``given`` are inputs whose values come from elsewhere (``--at``): a field of the same name is
    an error, since the value would be given twice. ``fields`` lists the fields of the first row
    (the header), ``columns`` those that are inputs, ``extra`` the others (JSON Lines rows may add
    more later: ``extra`` grows). With ``required``, an input that is neither a field nor given
    is an error naming it. ``fmt`` None: the format is told by the first line (a stream such as
    ``--points -`` given without ``--points-format``).
    """

    def __init__(self, stream, name: str, fmt: str | None, inputs: Iterable[str],
                 given: Iterable[str] = (), keep: bool = False, required: bool = True,
                 read_size: int = READ_SIZE, fields: Sequence[str] | None = None):
        """``fields``: the header's names when ``stream`` starts after the header (a part of a
        file split between workers); its lines are then counted from 1."""
        self.name = name
        self.format = fmt
        self.keep = keep
        self._inputs = list(inputs)
        self._given = set(given)
        self._lines = _Lines(stream, name, read_size)
        self._blocks = self._lines.blocks()
        self._head: tuple[int, bytes] | None = None  # read but not yet parsed
        self.delimiter = "\t" if fmt == "tsv" else ","
        self.fields, self.header_line = (list(fields), 0) if fields is not None else \
            self._read_fields()
        inputs = set(self._inputs)  # a set: programs have tens of thousands of inputs
        self.columns = [f for f in self.fields if f in inputs]
        self.extra = [f for f in self.fields if f not in inputs]
        self._check_names(required)

    @property
    def bytes_read(self) -> int:
        """How many bytes of the stream have been read so far (for a progress display)."""
        return self._lines.bytes_read

    @property
    def size(self) -> int | None:
        """The size in bytes of a regular file being read, else None."""
        try:
            status = os.fstat(self._lines._fd)
        except (OSError, TypeError):
            return None
        return status.st_size if stat.S_ISREG(status.st_mode) else None

    def _fail(self, line: int, message: str) -> DataError:
        return DataError(f"{self.name}:{line}: {message}")

    def _read_fields(self) -> tuple[list[str], int]:
        for number, block in self._blocks:
            start = 0
            while start < len(block):
                end = block.find(b"\n", start) + 1 or len(block)
                lines, bad = self._lines.decode(block[start:end], number)
                if bad is not None:
                    raise bad
                line = lines[0] if lines else ""
                if _blank(line):
                    start, number = end, number + 1
                    continue
                if self.format is None:
                    self._sniff(line)
                if self.format == "jsonl":  # the first object is both the header and a row
                    self._head = (number, block[start:])
                    return list(self._json_object(line, number)), number
                self._head = (number + 1, block[end:])
                return self._header(line, number), number
        if self.format == "jsonl":
            return [], 0
        raise DataError(f"{self.name}: empty: expected a header line naming the columns "
                        f"({', '.join(self._inputs) or 'any names'})")

    def _sniff(self, line: str) -> None:
        """The format of a stream given without one, from its first line: ``{`` starts JSON
        Lines, a tab makes TSV, anything else is CSV."""
        self.format = "jsonl" if line.lstrip().startswith("{") else "tsv" if "\t" in line \
            else "csv"
        self.delimiter = "\t" if self.format == "tsv" else ","

    def _header(self, line: str, number: int) -> list[str]:
        try:
            names = [n.strip() for n in next(csv.reader([line], delimiter=self.delimiter,
                                                        strict=True))]
        except csv.Error as e:
            raise self._fail(number, f"cannot read the header: {e}") from None
        seen = set()
        for k, n in enumerate(names, 1):
            if not n:
                raise self._fail(number, f"column {k} of the header has no name")
            if n in seen:
                raise self._fail(number, f"column '{n}' appears twice in the header")
            seen.add(n)
        return names

    def _check_names(self, required: bool) -> None:
        where = "field" if self.format == "jsonl" else "column"
        twice = [c for c in self.columns if c in self._given]
        if twice:
            raise InputError(f"'{twice[0]}' is both a {where} of {self.name} and given with --at; "
                             "give it once")
        columns = set(self.columns)
        missing = [n for n in self._inputs if n not in columns and n not in self._given]
        if required and missing and (self.fields or self.format != "jsonl"):
            raise InputError(missing_message(missing, where, self.name, self.fields))

    # --- chunks ---------------------------------------------------------------------------

    def chunks(self, rows: int) -> Iterator[Chunk]:
        """The rows, at most ``rows`` per chunk. A bad row raises :class:`DataError`, after a
        chunk with the good rows before it."""
        blocks = self._blocks
        if self._head is not None:
            blocks = _prepend(self._head, blocks)
            self._head = None
        for number, block in blocks:
            columns = self._columnar(block, number) if self.format != "jsonl" else None
            if columns is None:
                yield from self._line_chunks(number, block, rows)
                continue
            n = len(next(iter(columns.values()))) if columns else _line_count(block)
            kept = {e: columns.pop(e).to_pylist() for e in self._kept_names()}
            for lo in range(0, n, rows):
                hi = min(n, lo + rows)
                yield Chunk({c: v[lo:hi] for c, v in columns.items()}, hi - lo, number + lo,
                            self.name, None, {e: v[lo:hi] for e, v in kept.items()})

    def _line_chunks(self, number: int, block: bytes, rows: int) -> Iterator[Chunk]:
        """The rows of ``block`` read line by line: the path for JSON Lines, and for text that
        the columnar reader does not take as it stands (blank lines, quotes, bad rows)."""
        parse = self._json_chunk if self.format == "jsonl" else self._delimited_chunk
        lines, bad = self._lines.decode(block, number)
        for lo in range(0, len(lines), rows):
            chunk, error = parse(number + lo, lines[lo:lo + rows])
            if chunk is not None and chunk.rows:
                yield chunk
            if error is not None:
                raise error
        if bad is not None:  # after the good lines before it
            raise bad

    def read_all(self) -> Chunk:
        """Every row as one chunk (a data set to fit)."""
        return concatenate(self.chunks(1 << 20))

    def _chunk(self, number: int, lines: list[str], numbers: Sequence[int], columns,
               kept) -> Chunk:
        """A chunk of ``len(numbers)`` rows from ``lines``; line numbers are kept only when
        blank lines make them differ from ``number + row``."""
        plain = len(numbers) == len(lines)
        return Chunk(columns, len(numbers), number, self.name, None if plain else numbers, kept)

    # --- CSV and TSV --------------------------------------------------------------------------

    def _columnar(self, block: bytes, number: int) -> dict | None:
        """The input columns (float64 arrays) and kept fields (Arrow arrays) of a CSV/TSV block,
        parsed in C by Arrow's multithreaded reader; None when the block needs the line-by-line
        path: a bad row (whose line is then found and named), blank lines (which shift line
        numbers), quotes (CSV quoting is read by Python's csv module, which is stricter), a lone
        carriage return (a line end to Arrow, not to a reader of lines), or a ``nan(...)``, which
        Arrow reads as a number and Python does not."""
        if not block or b"\0" in block or b"(" in block or (self.format == "csv" and b'"' in block):
            return None
        if b"\r" in block and block.count(b"\r") != block.count(b"\r\n"):
            return None
        if not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                return None
        table = _arrow_table(block, self.fields, self.delimiter, self.columns,
                             self._kept_names())
        if table is None or table.num_rows != _line_count(block):
            return None
        columns = {c: _float_array(table.column(c)) for c in self.columns}
        columns.update({e: table.column(e) for e in self._kept_names()})
        return columns

    def _delimited_chunk(self, number: int, lines: list[str]):
        rows = _nonblank(lines)
        try:
            columns, kept = self._delimited_fast(rows)
        except (ValueError, csv.Error):
            return self._slow(number, lines, self._delimited_row)
        return self._chunk(number, lines, _numbers(number, lines, rows), columns, kept), None

    def _delimited_fast(self, rows: list[str]):
        """Columns and kept fields of lines without blank ones; ValueError when the slow pass
        must look row by row."""
        d, n = self.delimiter, len(self.fields)
        kept_names = self._kept_names()
        if not rows:
            return {c: np.empty(0) for c in self.columns}, {e: [] for e in kept_names}
        quoted = self.format == "csv" and any('"' in s for s in rows)
        if not quoted:
            text = "\n".join(rows).encode()
            columns = self._columnar(text, 1)
            if columns is None:
                raise ValueError("not columnar")
            kept = {e: columns.pop(e).to_pylist() for e in kept_names}
            return columns, kept
        split = list(csv.reader(rows, delimiter=d, strict=True))
        if any(len(f) != n for f in split):
            raise ValueError("field count")
        by_column = dict(zip(self.fields, zip(*split, strict=True), strict=True))
        columns = {c: _numbers_of_text(by_column[c]) for c in self.columns}
        return columns, {e: list(by_column[e]) for e in kept_names}

    def _delimited_row(self, line: str, number: int) -> tuple[list[float], dict]:
        """One CSV/TSV row, checked field by field: its inputs' numbers, and all its fields."""
        n = len(self.fields)
        try:
            fields = next(csv.reader([line], delimiter=self.delimiter, strict=True)) \
                if self.format == "csv" else line.split(self.delimiter)
        except csv.Error as e:
            raise self._fail(number, f"cannot read the row: {e}") from None
        if len(fields) != n:
            found = f"{len(fields)} field" + ("" if len(fields) == 1 else "s")
            raise self._fail(number, f"{found}, expected {n} ({', '.join(self.fields)})")
        by_name = dict(zip(self.fields, fields, strict=True))
        row = []
        for c in self.columns:
            value = text_number(by_name[c])
            if value is None:
                text = by_name[c].strip()
                what = f"'{text}' is not a number" if text else "empty, not a number"
                raise self._fail(number, f"field '{c}' (column {self.fields.index(c) + 1}): "
                                         f"{what}")
            row.append(value)
        return row, by_name

    def _slow(self, number: int, lines: list[str], parse_row):
        """The careful pass over a chunk that the fast path rejected: row by row, with
        ``parse_row(line, number) -> (numbers, fields)``, up to the first bad row, whose
        :class:`DataError` is returned with the chunk of the rows before it."""
        values: dict[str, list[float]] = {c: [] for c in self.columns}
        kept: dict[str, list] = {e: [] for e in self._kept_names()}
        numbers, error = [], None
        for i, line in enumerate(lines):
            if _blank(line):
                continue
            try:
                row, fields = parse_row(line, number + i)
            except DataError as e:
                error = e
                break
            for c, v in zip(self.columns, row, strict=True):
                values[c].append(v)
            for e in kept:
                kept[e].append(fields.get(e, MISSING))
            numbers.append(number + i)
        columns = {c: np.array(v, dtype=np.float64) for c, v in values.items()}
        return self._chunk(number, lines, numbers, columns, kept), error

    def _kept_names(self) -> list[str]:
        return list(self.extra) if self.keep else []

    # --- JSON Lines ---------------------------------------------------------------------------

    def _json_object(self, line: str, number: int) -> dict:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise self._fail(number, f"not valid JSON: {e.msg} (column {e.colno})") from None
        except RecursionError:
            raise self._fail(number, "JSON nested too deeply") from None
        if not isinstance(obj, dict):
            raise self._fail(number, 'expected a JSON object such as {"x": 1.5}, found '
                                     f"{_json_kind(obj)}")
        return obj

    def _json_chunk(self, number: int, lines: list[str]):
        rows = _nonblank(lines)
        try:
            columns, kept, new = self._json_fast(rows)
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):
            return self._slow(number, lines, self._json_row)
        self.extra += new
        return self._chunk(number, lines, _numbers(number, lines, rows), columns, kept), None

    def _json_fast(self, rows: list[str]):
        objects = json.loads("[" + ",".join(rows) + "]") if rows else []
        if len(objects) != len(rows) or not all(type(o) is dict for o in objects):
            raise ValueError("not one object per line")
        known = set(self.fields) | set(self.extra)
        keys = set().union(*objects)
        new = keys - known
        if keys & self._given or (new and self.keep):
            raise ValueError("a field given twice, or a new field to keep")
        columns = {}
        for c in self.columns:
            col = [o[c] for o in objects]
            if not set(map(type, col)) <= {int, float}:
                raise ValueError("not only numbers")
            columns[c] = np.array(col, dtype=np.float64)
        kept = {e: [o.get(e, MISSING) for o in objects] for e in self._kept_names()}
        return columns, kept, sorted(new)

    def _json_row(self, line: str, number: int) -> tuple[list[float], dict]:
        """One JSON Lines row, checked field by field: its inputs' numbers, and the object."""
        obj = self._json_object(line, number)
        row = []
        for c in self.columns:
            if c not in obj:
                raise self._fail(number, f"no field '{c}' (the first row has it)")
            v = number_from_json(obj[c])
            if v is None:
                raise self._fail(number, f"field '{c}': {_shown(obj[c])} is not a number")
            row.append(v)
        for k in obj:
            if k in self._given:
                raise self._fail(number, f"field '{k}' is also given with --at; give it once")
            if k not in self.fields and k not in self.extra:
                if self.keep:
                    raise self._fail(number, f"field '{k}' is not in the first row: with --keep "
                                             "every row's fields must be in the first row")
                self.extra.append(k)
        return row, obj


def _numbers(number: int, lines: list[str], rows: list[str]) -> Sequence[int]:
    if len(rows) == len(lines):
        return range(number, number + len(lines))
    return [number + i for i, s in enumerate(lines) if not _blank(s)]


def _line_count(block: bytes) -> int:
    """The lines of ``block``, the last one with or without its line end (numpy counts 5 times
    as fast as ``bytes.count``)."""
    ends = int(np.count_nonzero(np.frombuffer(block, np.uint8) == ord("\n"))) if block else 0
    return ends + (not block.endswith(b"\n"))


def _arrow_table(block: bytes, fields: list[str], delimiter: str, columns: list[str],
                 kept: list[str]):
    """``block`` (CSV or TSV lines without quoting) read by Arrow: ``columns`` as float64,
    ``kept`` as text; None if Arrow finds a field that is not a number, or a row with another
    number of fields."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    types = {c: pa.float64() for c in columns}
    types.update({e: pa.string() for e in kept})
    try:
        return pcsv.read_csv(
            pa.py_buffer(block),
            read_options=pcsv.ReadOptions(column_names=fields),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char=False),
            convert_options=pcsv.ConvertOptions(
                column_types=types, include_columns=[*columns, *kept], null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None


def _float_array(column) -> np.ndarray:
    """A float64 Arrow column without nulls as a numpy array (one buffer: no copy)."""
    from .float_text import numbers_of

    if column.num_chunks == 1:
        return numbers_of(column.chunk(0))
    return np.concatenate([numbers_of(c) for c in column.chunks])


def _numbers_of_text(fields) -> np.ndarray:
    """Fields (quoted CSV, already unquoted) as float64 through Arrow's parser; ValueError for
    any that is not a number as :func:`text_number` reads numbers."""
    import pyarrow as pa

    if any("(" in f for f in fields):  # Arrow reads nan(...), Python does not
        raise ValueError("nan(...)")
    try:
        from .float_text import numbers_of

        return numbers_of(pa.array(fields, pa.string()).cast(pa.float64()))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ValueError(str(e)) from None


def _prepend(head, batches):
    yield head
    yield from batches

