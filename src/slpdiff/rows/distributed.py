"""Rows on a Dask cluster: the files are split into partitions, each evaluated on a worker by the
same engine and fast path as in one process (:mod:`.partitioned` gives the passes for reductions).

Dask does the scheduling, the workers, the network, and the retries when a worker dies (every task
here is pure: it reads its part of a file and returns or writes its results, so running it again
gives the same bytes). Nothing of the program is pickled but its text: each worker parses it once
and keeps it (and the fast path compiled on it) for every partition it is given.

A partition is a byte range of a text file (the lines that start in it) or one row group of a
Parquet file. Lines are counted within a partition; a bad row's line in the whole file is found
only when there is one (by counting the lines before its partition), so the common case reads
every byte once.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InputError, RunError
from .points import Chunk, DataError, PointReader

INSTALL_HINT = "pip install 'slpdiff[dask]'"
PART_BYTES = 64 << 20  # a partition of a text file: big enough that a task's overhead is small
PART_BYTES_VARIABLE = "SLPDIFF_PARTITION_BYTES"  # another size (tests make many small parts)


def connect(scheduler: str):
    """A Dask client for ``scheduler`` (``local``, ``local:N``, or an address), and the cluster
    started for it (None for an address: that cluster is the user's)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError(f"--scheduler needs Dask, which is not installed: {INSTALL_HINT}") \
            from None
    import logging

    local = re.fullmatch(r"local(?::(\d+))?", scheduler)
    if local:
        workers = int(local[1] or os.cpu_count() or 1)
        if workers < 1:
            raise InputError("local:N needs at least 1 worker")
        with _interrupt_after() as interrupted:  # a cluster half started cannot be stopped
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.CRITICAL)
        if interrupted():
            cluster.close()
            raise KeyboardInterrupt
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="20s"), None
    except (OSError, TimeoutError, ValueError) as e:
        raise RunError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None


@contextmanager
def _interrupt_after():
    """Ctrl-C is held while the block runs (in the main thread), and then reported by the
    callable yielded, so that what the block starts can be stopped whole."""
    import signal
    import threading

    pressed = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


def dashboard(client) -> str:
    """The scheduler's dashboard address, or "" when it has none."""
    try:
        return client.dashboard_link or ""
    except (AttributeError, KeyError, ValueError):
        return ""


# --- the job and its partitions ------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """What every task needs, small enough to send with each: the program's text, the inputs
    given once, the inputs to differentiate with respect to, and what a row is made of."""

    source: str
    name: str
    constants: tuple[tuple[str, float], ...]
    wrt: tuple[str, ...]
    columns: tuple[str, ...]
    keep: bool = False
    required: bool = True  # every input a column or given once (false for a fit's data)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Part:
    """Rows of one file: a byte range (text; the lines that start in it) or a row group
    (Parquet: ``start`` is its number)."""

    path: str
    format: str
    start: int
    end: int
    fields: tuple[str, ...]
    first_line: int | None  # the line number of its first row, when known (the first part)


def plan(paths: Sequence[str], fmt: str, part_bytes: int | None = None) -> list[Part]:
    """The partitions of the files ``paths`` (all of format ``fmt``), in order: byte ranges of
    ``part_bytes`` (default ``$SLPDIFF_PARTITION_BYTES``, else :data:`PART_BYTES`), or row
    groups."""
    part_bytes = part_bytes or int(os.environ.get(PART_BYTES_VARIABLE) or PART_BYTES)
    parts = []
    for path in paths:
        if fmt == "parquet":
            from .parquet import open_parquet

            file = open_parquet(path)
            fields = tuple(file.schema_arrow.names)
            parts += [Part(path, fmt, g, g + 1, fields, None)
                      for g in range(file.num_row_groups)]
            continue
        fields, data_start, first_line = _header(path, fmt)
        size = os.path.getsize(path)
        starts = list(range(data_start, size, part_bytes)) or [data_start]
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else size
            parts.append(Part(path, fmt, start, end, fields, first_line if k == 0 else None))
    return parts


def _header(path: str, fmt: str) -> tuple[tuple[str, ...], int, int]:
    """The fields of a text file, the byte where its rows begin, and that line's number."""
    with open(path, "rb", buffering=0) as stream:
        reader = PointReader(stream, path, fmt, (), required=False)
        number, rest = reader._head if reader._head is not None else (1, b"")
    # The reader has read a block at most: the rows begin where the unread rest of it does.
    size = os.path.getsize(path)
    read = min(size, reader.bytes_read)
    return tuple(reader.fields), read - len(rest), number


# --- on a worker ------------------------------------------------------------------------------

_WORKER_JOBS: dict[str, object] = {}


class _Worker:
    """A job as a worker holds it: the program parsed once, its partitioned evaluation."""

    def __init__(self, job: Job):
        from ..fast.threads import set_threads
        from ..language.parser import parse
        from .partitioned import Partitioned

        # Dask runs one task per worker thread, and its workers already fill the cores: slices on
        # a pool of their own too would put two threads on each core.
        set_threads(1)
        self.job = job
        self.program = parse(job.source, job.name)
        self.constants = dict(job.constants)
        self.partitioned = Partitioned(self.program, job.columns)


def _worker(job: Job) -> _Worker:
    found = _WORKER_JOBS.get(job.key)
    if found is None:
        if len(_WORKER_JOBS) > 8:
            _WORKER_JOBS.clear()
        found = _WORKER_JOBS[job.key] = _Worker(job)
    return found


def read_part(job: Job, part: Part, rows: int = 1 << 16):
    """The chunks of ``part``; a bad row raises :class:`DataError` naming its line in the whole
    file (or its Parquet row index)."""
    inputs = _worker(job).program.input_names
    given = [name for name, _ in job.constants]
    if part.format == "parquet":
        from .parquet import ParquetReader

        yield from ParquetReader(part.path, inputs, given, keep=job.keep, required=job.required,
                                 row_groups=[part.start]).chunks(rows)
        return
    with open(part.path, "rb") as f:
        start, end = _line_start(f, part.start, part.first_line), _line_start(f, part.end, None)
        f.seek(start)
        data = f.read(end - start)
    import io

    reader = PointReader(io.BytesIO(data), part.path, part.format, inputs, given,
                         keep=job.keep, required=job.required, fields=part.fields)
    offset = (part.first_line - 1) if part.first_line is not None else None
    try:
        for chunk in reader.chunks(rows):
            if offset is not None:
                chunk.first += offset
            else:
                chunk.unit = _RELATIVE
                chunk.source = f"{part.path}\0{start}"
            yield chunk
    except DataError as e:
        if offset is None:
            offset = _lines_before(part.path, start)
        raise DataError(_shift(str(e), part.path, offset)) from None


_RELATIVE = "line in part"  # a chunk whose lines are counted from its part's first


def _line_start(f, position: int, first_line: int | None) -> int:
    """Where the first line that starts at or after ``position`` starts (the first part starts
    where the rows do)."""
    if first_line is not None:
        return position
    f.seek(max(0, position - 1))
    while True:
        block = f.read(1 << 16)
        if not block:
            return f.tell()
        cut = block.find(b"\n")
        if cut >= 0:
            return f.tell() - len(block) + cut + 1


def _lines_before(path: str, position: int) -> int:
    """The number of line ends before byte ``position`` of ``path``."""
    count = 0
    with open(path, "rb") as f:
        left = position
        while left > 0:
            block = f.read(min(left, 1 << 22))
            if not block:
                break
            count += block.count(b"\n")
            left -= len(block)
    return count


def _shift(message: str, path: str, offset: int) -> str:
    prefix = f"{path}:"
    if message.startswith(prefix):
        number, sep, rest = message[len(prefix):].partition(":")
        if number.isdigit():
            return f"{prefix}{int(number) + offset}{sep}{rest}"
    return message


def where_in_file(where: str) -> str:
    """A row's place as a user reads it: a line counted within its partition (``path\\0start
    line in part 5``) becomes the line in the whole file."""
    match = re.fullmatch(r"(.*)\0(\d+) " + _RELATIVE + r" (\d+)", where, re.S)
    if not match:
        return where
    path, start, line = match[1], int(match[2]), int(match[3])
    return f"{path}:{_lines_before(path, start) + line}"


# --- tasks ------------------------------------------------------------------------------------

def method_task(job: Job, part: Part, name: str, *args):
    """``Partitioned.name(chunk, constants, *args)`` over every chunk of ``part``, combined:
    partial sums and counts add, derivative sums add (in chunk order)."""
    worker = _worker(job)
    method = getattr(worker.partitioned, name)
    total = None
    for chunk in read_part(job, part):
        piece = method(chunk, worker.constants, *args)
        total = piece if total is None else _plus(total, piece)
    return total


def chunk_method_task(job: Job, chunk: Chunk, constants: Mapping[str, float], name: str,
                      *args):
    """``Partitioned.name`` on a chunk already in the worker's memory (a fit's data), at the
    parameters ``constants``."""
    return getattr(_worker(job).partitioned, name)(chunk, constants, *args)


def load_task(job: Job, part: Part) -> Chunk:
    """All rows of ``part`` as one chunk (kept in the worker's memory for a fit)."""
    from .points import concatenate

    chunks = list(read_part(job, part, 1 << 20))
    chunk = concatenate(chunks) if chunks else Chunk({c: np.empty(0) for c in job.columns}, 0)
    chunk.kept = {}
    return chunk


def rows_task(chunk: Chunk) -> int:
    """How many rows a chunk in a worker's memory has."""
    return chunk.rows


def sample_task(chunk: Chunk, count: int, seed: int, draw: int, part: int) -> Chunk:
    """``count`` rows of ``chunk`` (partition ``part``) drawn without replacement, the same for
    the same seed and draw (:func:`slpdiff.optimize.descent.sample_rows`)."""
    from ..optimize.descent import sample_rows

    take = sample_rows(chunk.rows, count, seed, draw, part)
    return Chunk({name: values[take] for name, values in chunk.columns.items()}, len(take))


def _plus(a, b):
    if isinstance(a, list):  # partial sums: [(sum, count)], added in order
        return [(x + y, m + n) for (x, m), (y, n) in zip(a, b, strict=True)]
    return a + b


def eval_task(job: Job, part: Part, reductions: Mapping[int, float], sums, rows: int | None,
              fmt: str, strict: bool, kept: Sequence[str], directory: str | None, index: int,
              asked=None):
    """The records of ``part`` (bytes, or an Arrow table for Parquet), or, with ``directory``,
    written there as a hidden temporary part file (renamed by the client when every part is
    done); and how the evaluation went (:class:`~slpdiff.rows.stream.BatchResult`, made
    portable). ``asked``: the results beyond first derivatives
    (:class:`~slpdiff.rows.stream.Asked`; a program without reductions only)."""
    from .stream import FIRST, evaluate_stream

    asked = asked or FIRST
    worker = _worker(job)
    program, partitioned = worker.program, worker.partitioned
    wrt = list(job.wrt)
    out = _Output(program, wrt, fmt, kept, directory, index, asked)

    def evaluate_one(chunk):
        return partitioned.evaluate(chunk, worker.constants, reductions, sums, rows, wrt)

    result = evaluate_stream(program, read_part(job, part), worker.constants, wrt, out.write,
                             stop_at_nonfinite=strict, asked=asked,
                             evaluate_one=evaluate_one if partitioned.reductions else None)
    return out.finish(), portable(result)


class _Output:
    """A part's records, gathered (to return) or written to a temporary file (``directory``)."""

    def __init__(self, program, wrt, fmt, kept, directory, index, asked):
        self.fmt, self.directory = fmt, directory
        self.pieces: list = []
        if fmt == "parquet":
            from .parquet import ParquetRecords

            self.records = ParquetRecords(program, wrt, kept, asked)
        else:
            from .records import writer_for

            self.records = writer_for(fmt, program, wrt, kept, asked)
        self.path = None
        if directory is not None:
            self.final = os.path.join(directory, part_name(index, fmt))
            self.path = os.path.join(directory, f".{part_name(index, fmt)}.{uuid.uuid4().hex}.tmp")

    def write(self, chunk, ev) -> None:
        if self.fmt == "parquet":
            self.pieces.append(self.records.table(chunk, ev))
        else:
            self.pieces.append(bytes(self.records.record_bytes(chunk, ev)))

    def finish(self):
        if self.fmt == "parquet":
            import pyarrow as pa

            table = pa.concat_tables(self.pieces) if self.pieces else None
            if self.path is None:
                return table
            from .parquet import ParquetSink

            sink = ParquetSink(self.path, self.records.names())
            if table is not None:
                sink.write(table)
            sink.close()
            return (self.path, self.final)
        text = b"".join(self.pieces)
        if self.path is None:
            return text
        with open(self.path, "wb") as f:
            f.write(self.records.header().encode() + text)
            f.flush()
            os.fsync(f.fileno())
        return (self.path, self.final)


def part_name(index: int, fmt: str) -> str:
    """``part-00000.csv``: the name of part ``index`` of a directory of results."""
    return f"part-{index:05d}.{fmt}"


def portable(result):
    """A :class:`~slpdiff.rows.stream.BatchResult` that pickles small: no program in it, and of
    each non-finite value only its first bad element."""
    def small(value):
        values = np.atleast_1d(np.asarray(value, dtype=np.float64))
        bad = values[~np.isfinite(values)]
        return bad[0] if bad.size else values[0]

    return replace(result, warnings=[replace(w, program=None, value=small(w.value))
                                     for w in result.warnings],
                   kinks=[replace(k, program=None) for k in result.kinks])
