"""Parquet files: rows read a row group at a time (memory bounded as for text), records written
with the same columns and names as CSV.

Columns are found by name. A numeric column (integers, floats, decimals) becomes float64; a column
of another type named after an input is an error naming it and its type; a missing value (null)
in an input column is an error naming its row, counted from 0 as Parquet tools count them
(``data.parquet row index 41``). Kept columns (``--keep``) are carried as they are in Parquet
output, and as text (their CSV text) in the other formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..core.engine import Evaluation
from ..errors import InputError
from ..formats import derivative_label
from ..language.program import Program
from .float_text import numbers_of
from .points import Chunk, DataError, concatenate, missing_message
from .records import RecordWriter

EXTENSIONS = (".parquet", ".pq")
ROW_UNIT = "row index"


def is_parquet(path: str) -> bool:
    """Is ``path`` named as a Parquet file?"""
    return path.lower().endswith(EXTENSIONS)


def open_parquet(path: str) -> pq.ParquetFile:
    """The Parquet file at ``path``, or a :class:`DataError` saying why it cannot be read."""
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a file") from None
    except PermissionError as e:
        raise DataError(f"{path}: cannot read: {e.strerror}") from None
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a Parquet file ({_first_line(e)})") from None


class ParquetReader:
    """Rows of a Parquet file as :class:`Chunk` objects: the same interface as
    :class:`~slpdiff.rows.points.PointReader` (``fields``, ``columns``, ``extra``, ``chunks``,
    ``read_all``, ``size``, ``bytes_read``)."""

    format = "parquet"

    def __init__(self, path: str, inputs: Iterable[str], given: Iterable[str] = (),
                 keep: bool = False, required: bool = True,
                 row_groups: Sequence[int] | None = None):
        self.name = path
        self.keep = keep
        self.file = open_parquet(path)
        self.fields = list(self.file.schema_arrow.names)
        inputs = list(inputs)
        given = set(given)
        wanted = set(inputs)  # a set: programs have tens of thousands of inputs
        self.columns = [f for f in self.fields if f in wanted]
        self.extra = [f for f in self.fields if f not in wanted]
        self.row_groups = list(range(self.file.num_row_groups)) if row_groups is None \
            else list(row_groups)
        self.bytes_read = 0
        for name in self.columns:
            kind = self.file.schema_arrow.field(name).type
            if not _numeric(kind):
                raise DataError(f"{path}: column '{name}' holds {kind}, not numbers")
        twice = [c for c in self.columns if c in given]
        if twice:
            raise InputError(f"'{twice[0]}' is both a column of {path} and given with --at; "
                             "give it once")
        present = set(self.columns)
        missing = [n for n in inputs if n not in present and n not in given]
        if required and missing:
            raise InputError(missing_message(missing, "column", path, self.fields))

    @property
    def size(self) -> int:
        """The bytes of the row groups read (compressed, as stored)."""
        meta = self.file.metadata
        return sum(meta.row_group(g).total_byte_size for g in self.row_groups)

    def first_row(self, group: int) -> int:
        """The index (from 0) of the first row of row group ``group``."""
        meta = self.file.metadata
        return sum(meta.row_group(g).num_rows for g in range(group))

    def chunks(self, rows: int) -> Iterator[Chunk]:
        """The rows, at most ``rows`` per chunk, a row group at a time. A null in an input
        column raises :class:`DataError` after a chunk with the rows before it."""
        kept = self.extra if self.keep else []
        meta = self.file.metadata
        for group in self.row_groups:
            index = self.first_row(group)
            table = self.file.read_row_group(group, columns=[*self.columns, *kept])
            self.bytes_read += meta.row_group(group).total_byte_size
            for batch in table.to_batches(max_chunksize=rows):
                yield from self._chunk(batch, index, kept)
                index += batch.num_rows

    def _chunk(self, batch: pa.RecordBatch, index: int, kept: list[str]) -> Iterator[Chunk]:
        n = batch.num_rows
        bad = n
        for name in self.columns:
            column = batch.column(name)
            if column.null_count:
                first = pc.index(column.is_null(), True).as_py()
                if first < bad:
                    bad, bad_name = first, name
        if bad:
            columns = {c: numbers_of(batch.column(c).slice(0, bad)) for c in self.columns}
            values = {e: batch.column(e).slice(0, bad).to_pylist() for e in kept}
            yield Chunk(columns, bad, index, self.name, kept=values, unit=ROW_UNIT)
        if bad < n:
            raise DataError(f"{self.name}: {ROW_UNIT} {index + bad}: field '{bad_name}' is "
                            "missing (null), not a number")

    def read_all(self) -> Chunk:
        """Every row as one chunk (a data set to fit)."""
        return concatenate(self.chunks(1 << 20))


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or \
        pa.types.is_decimal(kind) or pa.types.is_null(kind)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class ParquetRecords:
    """Records as Arrow tables (to write as Parquet): the columns and names of the CSV header,
    float64 numbers, kept fields as they were read."""

    def __init__(self, program: Program, wrt: Sequence[str], kept: Sequence[str] = (),
                 asked=None):
        self.inputs = list(program.input_names)
        self.outputs = list(program.output_names)
        chosen = set(wrt)
        self.wrt = [name for name in self.inputs if name in chosen]
        self.kept = list(kept)
        self.beyond = RecordWriter(program, wrt, kept, asked)  # columns beyond first derivatives

    def names(self) -> list[str]:
        """The columns: kept fields, inputs, outputs, ``d OUT/d IN`` per pair, then the results
        beyond first derivatives asked for (as CSV names them)."""
        return [*self.kept, *self.inputs, *self.outputs,
                *(derivative_label(out, name) for out in self.outputs for name in self.wrt),
                *self.beyond.beyond_labels()]

    def table(self, chunk: Chunk, ev: Evaluation) -> pa.Table:
        """The records of the rows of ``chunk``, evaluated in ``ev``."""
        n = chunk.rows
        numbers = [ev.at[name] for name in self.inputs]
        numbers += [ev.values[out] for out in self.outputs]
        numbers += [ev.gradient[out][name] for out in self.outputs for name in self.wrt]
        numbers += self.beyond.beyond_columns(getattr(ev, "extra", {}))
        arrays = [_kept_array(chunk.kept.get(name), n) for name in self.kept]
        arrays += [pa.array(np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)))
                   for x in numbers]
        return pa.Table.from_arrays(arrays, names=self.names())


def _kept_array(values, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.string())
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    try:
        return pa.array(values)
    except (pa.ArrowException, TypeError):  # mixed JSON values: their JSON text
        import json

        return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v)
                         for v in values], pa.string())


class ParquetSink:
    """Writes tables to a Parquet file at ``path`` (the temporary file of an atomic output)."""

    def __init__(self, path: str, schema_names: Sequence[str]):
        self.path = path
        self.names = list(schema_names)
        self.writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        """Finish the file (an empty one, with ``empty_schema``, if nothing was written)."""
        if self.writer is None:
            schema = empty_schema or pa.schema([(name, pa.float64()) for name in self.names])
            self.writer = pq.ParquetWriter(self.path, schema)
        self.writer.close()
