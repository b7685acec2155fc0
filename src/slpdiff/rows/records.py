"""Writing results, one record per point: CSV or TSV (a header line, then one row per point) or
JSON Lines (one object per point, shaped exactly like ``eval``'s single-point JSON).

A record holds the kept extra fields (``--keep``), the inputs, the outputs' values, then one
partial derivative per output and input, named as in the text format (``d v7/d x``). Every float is
the shortest text that reads back to the same float64 (``repr``, as ``formats.number``). Speed: a
chunk is formatted by one ``%`` operation of a row template over all its cells, a loop in C, not a
Python loop over fields.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from ..core.engine import Evaluation
from ..formats import derivative_label, number
from ..language.program import Program
from .points import MISSING, Chunk

RECORD_FORMATS = ("csv", "tsv", "jsonl")


class RecordWriter:
    """Formats chunks of evaluated points as text; ``kept`` names the extra fields carried."""

    def __init__(self, program: Program, wrt: Sequence[str], kept: Sequence[str] = ()):
        self.inputs = list(program.input_names)
        self.outputs = list(program.output_names)
        chosen = set(wrt)
        self.wrt = [name for name in self.inputs if name in chosen]  # program order, as eval
        self.kept = list(kept)

    def header(self) -> str:
        """The text before the first record ("" for JSON Lines)."""
        return ""

    def records(self, chunk: Chunk, ev: Evaluation) -> str:
        """The records of the rows of ``chunk``, evaluated in ``ev``."""
        n = chunk.rows
        kept = self._kept_columns([chunk.kept.get(name, [MISSING] * n) for name in self.kept])
        numeric = self._numbers(ev, n)
        cells = np.empty((n, len(kept) + len(numeric)), dtype=object)
        for j, column in enumerate(kept):
            cells[:, j] = column
        for j, column in enumerate(numeric, len(kept)):
            cells[:, j] = column  # Python floats: "%s" writes them as repr
            self._fix_nonfinite(cells, j, column)
        return (self._template(cells.shape[1]) * n) % tuple(cells.ravel().tolist())

    def _numbers(self, ev: Evaluation, n: int) -> list[np.ndarray]:
        columns = [ev.at[name] for name in self.inputs]
        columns += [ev.values[out] for out in self.outputs]
        columns += [ev.gradient[out][name] for out in self.outputs for name in self.wrt]
        # A value that does not depend on the row (a constant, a sum) is repeated on every row.
        return [np.broadcast_to(np.asarray(c, dtype=np.float64), (n,)) for c in columns]

    def _kept_columns(self, values: list[list]) -> list[list[str]]:
        """The text of the kept fields' cells, as columns."""
        raise NotImplementedError

    def _fix_nonfinite(self, cells: np.ndarray, j: int, column: np.ndarray) -> None:
        pass

    def _template(self, width: int) -> str:
        raise NotImplementedError


class DelimitedWriter(RecordWriter):
    """CSV (``delimiter=","``) or TSV (``"\\t"``); fields that need it are quoted as in CSV."""

    def __init__(self, program: Program, wrt: Sequence[str], kept: Sequence[str] = (),
                 delimiter: str = ","):
        super().__init__(program, wrt, kept)
        self.delimiter = delimiter

    def columns(self) -> list[str]:
        """The header's names: kept fields, inputs, outputs, then ``d OUT/d IN`` per pair."""
        return [*self.kept, *self.inputs, *self.outputs,
                *(derivative_label(out, name) for out in self.outputs for name in self.wrt)]

    def header(self) -> str:
        return self.delimiter.join(map(self._quote, self.columns())) + "\n"

    def _quote(self, text: str) -> str:
        # TSV has no quoting (a quote is an ordinary character): quote only what it cannot hold.
        special = (self.delimiter, '"', "\n", "\r") if self.delimiter == "," else ("\t", "\n", "\r")
        if any(c in text for c in special):
            return '"' + text.replace('"', '""') + '"'
        return text

    def _kept_columns(self, values: list[list]) -> list[list[str]]:
        return [[self._quote(_text(v)) for v in column] for column in values]

    def _template(self, width: int) -> str:
        return self.delimiter.join(["%s"] * width) + "\n"


class JsonLinesWriter(RecordWriter):
    """``{"keep": {...}, "at": {...}, "value": {...}, "gradient": {...}}`` per point."""

    def _kept_columns(self, values: list[list]) -> list[list[str]]:
        if not values:
            return []
        # One cell per row: the object of the fields that row has.
        return [[json.dumps({name: v for name, v in zip(self.kept, row, strict=True)
                             if v is not MISSING}) for row in zip(*values, strict=True)]]

    def _fix_nonfinite(self, cells: np.ndarray, j: int, column: np.ndarray) -> None:
        bad = np.flatnonzero(~np.isfinite(column))
        if bad.size:  # JSON has no nan or inf: slpdiff writes them as strings
            cells[bad, j] = [json.dumps(number(v)) for v in column[bad]]

    def _template(self, width: int) -> str:
        def members(names):
            return ", ".join(f"{_key(name)}: %s" for name in names)

        gradient = ", ".join(f"{_key(out)}: {{{members(self.wrt)}}}" for out in self.outputs)
        keep = '"keep": %s, ' if self.kept else ""
        return (f'{{{keep}"at": {{{members(self.inputs)}}}, "value": {{{members(self.outputs)}}}, '
                f'"gradient": {{{gradient}}}}}\n')


def _text(value) -> str:
    """A kept field as CSV text: as read from CSV/TSV, or JSON for a JSON Lines value."""
    if isinstance(value, str):
        return value
    return "" if value is MISSING else json.dumps(value)


def _key(name: str) -> str:
    return json.dumps(name).replace("%", "%%")


def writer_for(fmt: str, program: Program, wrt: Sequence[str],
               kept: Sequence[str] = ()) -> RecordWriter:
    """The writer for ``fmt``, one of :data:`RECORD_FORMATS`."""
    if fmt == "jsonl":
        return JsonLinesWriter(program, wrt, kept)
    return DelimitedWriter(program, wrt, kept, "\t" if fmt == "tsv" else ",")
