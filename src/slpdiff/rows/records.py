"""Writing results, one record per point: CSV or TSV (a header line, then one row per point) or
JSON Lines (one object per point, shaped exactly like ``eval``'s single-point JSON).

A record holds the kept extra fields (``--keep``), the inputs, the outputs' values, then one
partial derivative per output and input, named as in the text format (``d v7/d x``), then what
else was asked (:class:`~slpdiff.rows.stream.Asked`): per output the derivative along the
direction (``d v7/d direction``), the Hessian's entries (``d2 v7/d x d w``, every pair) and the
Hessian-vector product (``(H v7 v)[x]``); in JSON Lines, the single-point JSON's keys
``direction``, ``directional``, ``hessian``, ``hvp_direction``, ``hvp``. Every float is
the shortest text that reads back to the same float64, exactly as ``repr`` writes it (as
``formats.number``). Speed: a chunk's numbers are formatted in C, by orjson or Arrow
(:mod:`.float_text`), each followed by the character after it in the record, and its lines are
joined in one call: the text of a chunk is then one buffer, written as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.engine import Evaluation
from ..formats import derivative_label, json_line, json_nested
from ..language.program import Program
from .float_text import (
    TEXT,
    float_cells,
    float_rows,
    float_text,
    json_float_text,
    text_buffer,
)
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

    json = False  # numbers as JSON writes them (nan and inf quoted)
    delimiter = ""  # between the cells of a record, if one character alone (CSV, TSV)

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
        return bytes(self.record_bytes(chunk, ev)).decode("utf-8")

    def record_bytes(self, chunk: Chunk, ev: Evaluation) -> memoryview:
        """The records of the rows of ``chunk``, evaluated in ``ev``, as UTF-8 bytes."""
        n = chunk.rows
        if n == 0:
            return memoryview(b"")
        kept = self._kept_columns([chunk.kept.get(name, [MISSING] * n) for name in self.kept])
        numbers = self._numbers(ev)
        if self.delimiter and not kept and numbers and all(np.ndim(c) for c in numbers):
            return float_rows(numbers, self.delimiter)  # numbers only: no join
        literals = self._literals(len(kept) + len(numbers))
        # Each number's text ends with the first character of the literal after it.
        after = literals[len(kept) + 1:]
        cells = kept + self._numbers_text(numbers, [text[0] for text in after])
        after = literals[1:len(kept) + 1] + [text[1:] for text in after]
        pieces, pending = [], literals[0]
        for cell, literal in zip(cells, after, strict=True):
            if isinstance(cell, str):  # the same on every row
                pending += cell + literal
                continue
            if pending:
                pieces.append(pa.scalar(pending, TEXT))
            pieces.append(cell)
            pending = literal
        if not pieces:  # every cell the same on all rows
            return memoryview((pending * n).encode())
        if pending:
            pieces.append(pa.scalar(pending, TEXT))
        return text_buffer(pc.binary_join_element_wise(*pieces, pa.scalar("", TEXT)))

    def _numbers(self, ev: Evaluation) -> list:
        columns = [ev.at[name] for name in self.inputs]
        columns += [ev.values[out] for out in self.outputs]
        columns += [ev.gradient[out][name] for out in self.outputs for name in self.wrt]
        columns += self.beyond_columns(getattr(ev, "extra", {}))
        return columns

    def beyond_columns(self, extra: dict) -> list:
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
        """The names of the columns of :meth:`beyond_columns`, as CSV/TSV headers."""
        labels = []
        if self.direction is not None:
            labels += [direction_label(out) for out in self.outputs]
        if self.hessian:
            labels += [second_label(out, x, w) for out in self.outputs for x in self.wrt
                       for w in self.wrt]
        if self.hvp is not None:
            labels += [hvp_label(out, x) for out in self.outputs for x in self.wrt]
        return labels

    def _numbers_text(self, columns: list, ends: list[str]) -> list:
        """Each column's text, each number followed by its column's character of ``ends``
        (:data:`~.float_text.ENDS`); a value that does not depend on the row (a constant, a sum)
        is one text, repeated on every row by the join. Columns with the same end are formatted
        in one call over all their numbers: a program of 20,000 inputs has 40,000 columns, and
        one call each would cost more than the numbers."""
        texts: list = [None] * len(columns)
        shared = [k for k, c in enumerate(columns) if not np.ndim(c)]
        if shared:
            text = self._float_text(np.asarray([columns[k] for k in shared], dtype=np.float64))
            for j, k in enumerate(shared):
                texts[k] = text[j].as_py() + ends[k]
        groups: dict[str, list[int]] = {}
        for k, c in enumerate(columns):
            if np.ndim(c):
                groups.setdefault(ends[k], []).append(k)
        for end, group in groups.items():
            parts = [np.asarray(columns[k], dtype=np.float64).ravel() for k in group]
            text = float_cells(np.concatenate(parts) if len(parts) > 1 else parts[0], end,
                               json=self.json)
            start = 0
            for k, part in zip(group, parts, strict=True):
                texts[k] = text.slice(start, len(part))
                start += len(part)
        return texts

    def _float_text(self, values) -> pa.LargeStringArray:
        return json_float_text(values) if self.json else float_text(values)

    def _kept_columns(self, values: list[list]) -> list[pa.LargeStringArray]:
        """The text of the kept fields' cells, as columns."""
        raise NotImplementedError

    def _literals(self, width: int) -> list[str]:
        """The text before the first cell, between cells, and after the last (``width + 1``)."""
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

    def _kept_columns(self, values: list[list]) -> list[pa.LargeStringArray]:
        return [self._quoted(_text_array(column)) for column in values]

    def _quoted(self, text: pa.LargeStringArray) -> pa.LargeStringArray:
        """:meth:`_quote` on every cell, in C."""
        special = '[,"\n\r]' if self.delimiter == "," else "[\t\n\r]"
        needs = pc.match_substring_regex(text, special)
        if not pc.any(needs).as_py():
            return text
        quote = pa.scalar('"', TEXT)
        quoted = pc.binary_join_element_wise(quote, pc.replace_substring(text, '"', '""'), quote,
                                             pa.scalar("", TEXT))
        return pc.if_else(needs, quoted, text)

    def _literals(self, width: int) -> list[str]:
        return ["", *[self.delimiter] * (width - 1), "\n"] if width else ["\n"]


class JsonLinesWriter(RecordWriter):
    """``{"keep": {...}, "at": {...}, "value": {...}, "gradient": {...}}`` per point."""

    json = True  # JSON has no nan or inf: slpdiff writes them as strings

    def _kept_columns(self, values: list[list]) -> list[pa.LargeStringArray]:
        if not values:
            return []
        # One cell per row: the object of the fields that row has.
        return [pa.array([json.dumps({name: v for name, v in zip(self.kept, row, strict=True)
                                      if v is not MISSING}) for row in zip(*values, strict=True)],
                         TEXT)]

    def _literals(self, width: int) -> list[str]:
        def members(names):
            return ", ".join(f"{json.dumps(name)}: %s" for name in names)

        def per_output(inner):
            return ", ".join(f"{json.dumps(out)}: {{{inner}}}" for out in self.outputs)

        gradient = per_output(members(self.wrt))
        keep = '"keep": %s, ' if self.kept else ""
        beyond = ""
        if self.direction is not None:
            beyond += (f', "direction": {_vector(self.direction)}, '
                       f'"directional": {{{members(self.outputs)}}}')
        if self.hessian:
            rows = ", ".join(f"{json.dumps(x)}: {{{members(self.wrt)}}}" for x in self.wrt)
            beyond += f', "hessian": {{{per_output(rows)}}}'
        if self.hvp is not None:
            beyond += (f', "hvp_direction": {_vector(self.hvp)}, '
                       f'"hvp": {{{per_output(members(self.wrt))}}}')
        template = (f'{{{keep}"at": {{{members(self.inputs)}}}, '
                    f'"value": {{{members(self.outputs)}}}, "gradient": {{{gradient}}}{beyond}}}\n')
        return template.split("%s")  # names are identifiers and vectors numbers: no "%s" in them


def _text(value) -> str:
    """A kept field as CSV text: as read from CSV/TSV, or JSON for a JSON Lines value."""
    if isinstance(value, str):
        return value
    return "" if value is MISSING else json.dumps(value)


def _text_array(values: list) -> pa.LargeStringArray:
    """Kept fields as CSV text (:func:`_text` of each), in an Arrow array."""
    if all(type(v) is str for v in values):
        return pa.array(values, TEXT)
    return pa.array([_text(v) for v in values], TEXT)


def _vector(vector) -> str:
    """A vector given once (``--direction``, ``--hvp``), as JSON inside a row template."""
    return json_line(json_nested(dict(vector)))


def writer_for(fmt: str, program: Program, wrt: Sequence[str],
               kept: Sequence[str] = (), asked=None) -> RecordWriter:
    """The writer for ``fmt``, one of :data:`RECORD_FORMATS`; ``asked``: the results beyond
    first derivatives (:class:`~slpdiff.rows.stream.Asked`), if any."""
    if fmt == "jsonl":
        return JsonLinesWriter(program, wrt, kept, asked)
    return DelimitedWriter(program, wrt, kept, "\t" if fmt == "tsv" else ",", asked)
