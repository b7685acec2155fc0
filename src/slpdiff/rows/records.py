"""Writing results, one record per point: CSV or TSV (a header line, then one row per point) or
JSON Lines (one object per point, shaped exactly like ``eval``'s single-point JSON).

A record holds the kept extra fields (``--keep``), the inputs, the outputs' values, then one
partial derivative per output and input, named as in the text format (``d v7/d x``), then what
else was asked (:class:`~slpdiff.rows.stream.Asked`): per output the derivative along the
direction (``d v7/d direction``), the Hessian's entries (``d2 v7/d x d w``, every pair) and the
Hessian-vector product (``(H v7 v)[x]``); in JSON Lines, the single-point JSON's keys
``direction``, ``directional``, ``hessian``, ``hvp_direction``, ``hvp``. Every float is
the shortest text that reads back to the same float64 (``repr``, as ``formats.number``). Speed: a
chunk is formatted by one ``%`` operation of a row template over all its cells, a loop in C, not a
Python loop over fields.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from ..core.engine import Evaluation
from ..formats import derivative_label, json_line, json_nested, number
from ..language.program import Program
from .points import MISSING, Chunk

RECORD_FORMATS = ("csv", "tsv", "jsonl")


def direction_label(output: str) -> str:
    """The derivative of ``output`` along the direction of ``--direction``: ``d v7/d direction``."""
    return f"d {output}/d direction"


def second_label(output: str, row: str, column: str) -> str:
    """A Hessian entry, as the Hessian's text names its rows and columns: ``d2 v7/d x d w``."""
    return f"d2 {output}/d {row} d {column}"


def hvp_label(output: str, name: str) -> str:
    """An entry of a Hessian-vector product: ``(H v7 v)[x]``."""
    return f"(H {output} v)[{name}]"


class RecordWriter:
    """Formats chunks of evaluated points as text; ``kept`` names the extra fields carried, and
    ``asked`` (an :class:`~slpdiff.rows.stream.Asked`) the results beyond first derivatives."""

    def __init__(self, program: Program, wrt: Sequence[str], kept: Sequence[str] = (),
                 asked=None):
        self.inputs = list(program.input_names)
        self.outputs = list(program.output_names)
        chosen = set(wrt)
        self.wrt = [name for name in self.inputs if name in chosen]  # program order, as eval
        self.kept = list(kept)
        self.direction = None if asked is None else asked.direction
        self.hessian = asked is not None and asked.hessian
        self.hvp = None if asked is None else asked.hvp

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
        columns += self._beyond_first(getattr(ev, "extra", {}))
        # A value that does not depend on the row (a constant, a sum) is repeated on every row.
        return [np.broadcast_to(np.asarray(c, dtype=np.float64), (n,)) for c in columns]

    def _beyond_first(self, extra: dict) -> list:
        """The columns of the results beyond first derivatives, in :meth:`beyond_labels` order."""
        columns = []
        if self.direction is not None:
            columns += [extra["directional"][out] for out in self.outputs]
        if self.hessian:
            columns += [extra["hessian"][out][x][w] for out in self.outputs for x in self.wrt
                        for w in self.wrt]
        if self.hvp is not None:
            columns += [extra["hvp"][out][x] for out in self.outputs for x in self.wrt]
        return columns

    def beyond_labels(self) -> list[str]:
        """The names of the columns of :meth:`_beyond_first`, as CSV/TSV headers."""
        labels = []
        if self.direction is not None:
            labels += [direction_label(out) for out in self.outputs]
        if self.hessian:
            labels += [second_label(out, x, w) for out in self.outputs for x in self.wrt
                       for w in self.wrt]
        if self.hvp is not None:
            labels += [hvp_label(out, x) for out in self.outputs for x in self.wrt]
        return labels

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
                 delimiter: str = ",", asked=None):
        super().__init__(program, wrt, kept, asked)
        self.delimiter = delimiter

    def columns(self) -> list[str]:
        """The header's names: kept fields, inputs, outputs, ``d OUT/d IN`` per pair, then the
        results beyond first derivatives asked for."""
        return [*self.kept, *self.inputs, *self.outputs,
                *(derivative_label(out, name) for out in self.outputs for name in self.wrt),
                *self.beyond_labels()]

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

        def per_output(inner):
            return ", ".join(f"{_key(out)}: {{{inner}}}" for out in self.outputs)

        gradient = per_output(members(self.wrt))
        keep = '"keep": %s, ' if self.kept else ""
        beyond = ""
        if self.direction is not None:
            beyond += (f', "direction": {_vector(self.direction)}, '
                       f'"directional": {{{members(self.outputs)}}}')
        if self.hessian:
            rows = ", ".join(f"{_key(x)}: {{{members(self.wrt)}}}" for x in self.wrt)
            beyond += f', "hessian": {{{per_output(rows)}}}'
        if self.hvp is not None:
            beyond += (f', "hvp_direction": {_vector(self.hvp)}, '
                       f'"hvp": {{{per_output(members(self.wrt))}}}')
        return (f'{{{keep}"at": {{{members(self.inputs)}}}, "value": {{{members(self.outputs)}}}, '
                f'"gradient": {{{gradient}}}{beyond}}}\n')


def _text(value) -> str:
    """A kept field as CSV text: as read from CSV/TSV, or JSON for a JSON Lines value."""
    if isinstance(value, str):
        return value
    return "" if value is MISSING else json.dumps(value)


def _key(name: str) -> str:
    return json.dumps(name).replace("%", "%%")


def _vector(vector) -> str:
    """A vector given once (``--direction``, ``--hvp``), as JSON inside a row template."""
    return json_line(json_nested(dict(vector))).replace("%", "%%")


def writer_for(fmt: str, program: Program, wrt: Sequence[str],
               kept: Sequence[str] = (), asked=None) -> RecordWriter:
    """The writer for ``fmt``, one of :data:`RECORD_FORMATS`; ``asked``: the results beyond
    first derivatives (:class:`~slpdiff.rows.stream.Asked`), if any."""
    if fmt == "jsonl":
        return JsonLinesWriter(program, wrt, kept, asked)
    return DelimitedWriter(program, wrt, kept, "\t" if fmt == "tsv" else ",", asked)
