"""Many points from the command line: ``eval --points FILE``, grids in ``--at``, records out as
CSV/TSV/JSON Lines or Parquet (``-o FILE`` written atomically), and the data of ``optimize
--data``; on a Dask cluster with ``--scheduler`` (:mod:`.scale_out`)."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack, contextmanager, nullcontext

import click

from ..errors import RunError, SlpError
from .main import warning
from .options import nonfinite_diagnostics, open_binary
from .progress import RowProgress

_RECORD_FORMATS = ("csv", "tsv", "jsonl")
_INPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet")
_NAMES_SHOWN = 20  # names listed in a warning about ignored columns


def points_options(f):
    """The options of ``eval`` for many points."""
    options = [
        click.option("--points", metavar="FILE|-",
                     help="Evaluate at every row of FILE (- for standard input): CSV or TSV with "
                          "a header naming the inputs, JSON Lines, or Parquet; or of every such "
                          "file of a directory or a quoted glob ('data/*.parquet')."),
        click.option("--points-format", type=click.Choice(_INPUT_FORMATS),
                     help="Format of --points (default: from its extension; needed for -)."),
        click.option("--keep", is_flag=True,
                     help="Carry the fields of --points that are not inputs (an id...) through "
                          "to the output."),
        click.option("-o", "--output", metavar="FILE",
                     help="Write the output to FILE, atomically (all or nothing); FILE.parquet "
                          "writes Parquet; with --scheduler, DIR/ writes one part per "
                          "partition."),
        click.option("--force", is_flag=True,
                     help="Allow a grid of more than 10,000,000 points."),
        click.option("--chunk-rows", type=click.IntRange(min=1), metavar="N",
                     help="Rows per vectorized pass (default: as many as fit in a fixed memory "
                          "budget)."),
        scheduler_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


def is_batch(ranges, fmt, points, output) -> bool:
    """True when ``eval`` writes records: many points, or one point as CSV/TSV/JSON Lines or
    Parquet (asked for with --format, or by the name of the -o file)."""
    from ..rows.sources import file_format

    by_name = fmt is None and output not in (None, "-") and file_format(output) is not None
    return points is not None or bool(ranges) or fmt in _RECORD_FORMATS or by_name


@contextmanager
def output_stream(path: str | None):
    """Standard output, or the file ``path`` written atomically."""
    from ..rows.atomic import atomic_output

    with nullcontext(sys.stdout) if path in (None, "-") else atomic_output(path) as stream:
        yield stream


def eval_points(program, constants, ranges, wrt, fmt, strict, points, points_format, keep,
                output, force, chunk_rows, scheduler=None) -> None:
    """``slpdiff eval`` at many points: every row of --points, or every point of a grid."""
    from ..core.schedule import bind_inputs, resolve_names
    from ..rows.ahead import read_ahead
    from ..rows.stream import evaluate_stream, rows_per_pass

    wrt_names = program.input_names if wrt is None else wrt
    resolve_names(wrt_names, program.input_names, "input")
    inputs = set(program.input_names)
    unknown = [name for name in [*constants, *ranges] if name not in inputs]
    if unknown:  # said now, even if there is no row to evaluate: the engine's message
        bind_inputs(program, dict.fromkeys(unknown, 0.0))
    fmt = _record_format(fmt, output, points, points_format)
    scheduler = chosen_scheduler(scheduler)
    if scheduler is not None:
        from .scale_out import eval_distributed

        if points is None:
            raise click.UsageError("--scheduler evaluates the rows of --points on a cluster; a "
                                   "grid is evaluated here")
        eval_distributed(scheduler, program, constants, wrt_names, fmt, strict, points,
                         points_format, keep, output, chunk_rows)
        return
    rows = chunk_rows or rows_per_pass(program)
    with _source(program, constants, ranges, points, points_format, keep) as reader:
        if reader is not None:
            chunks, kept = read_ahead(reader.chunks(rows)), reader.extra if keep else []
            progress = RowProgress(reader.size if reader.name != "<stdin>" else None,
                                   lambda: reader.bytes_read)
        else:
            chunks, kept, progress = _grid(ranges, keep, force, rows)
        with record_sink(fmt, output, program, wrt_names, kept) as sink:
            write_records = sink.write
            warned = len(kept) if keep else len(reader.extra) if reader is not None else 0

            def write(chunk, ev):
                nonlocal warned
                write_records(chunk, ev)
                progress.update(chunk.rows)
                if reader is not None and not keep and len(reader.extra) > warned:
                    _warn_ignored(reader, reader.extra[warned:])  # JSON Lines: a new field
                    warned = len(reader.extra)

            try:
                result = evaluate_stream(program, chunks, constants, wrt, write,
                                         stop_at_nonfinite=strict)
            finally:
                progress.clear()
            if result.stopped:  # raised inside the block: -o leaves no partial file
                raise RunError(nonfinite_diagnostics(program, result.warnings, result.where))
    for d in nonfinite_diagnostics(program, result.warnings, result.where):
        warning(d.format())
    for hit, where in zip(result.kinks, result.kink_where, strict=True):
        warning(hit.diagnostic(program, where).format())


class _Sink:
    """Where records go: ``write(chunk, evaluation)`` formats and writes them;
    ``write_made(records)`` writes records already made (bytes, or an Arrow table for Parquet:
    a partition's, from a worker)."""

    def __init__(self, write, write_made):
        self.write, self.write_made = write, write_made


@contextmanager
def record_sink(fmt, output, program, wrt_names, kept):
    """A :class:`_Sink` writing records as ``fmt`` to ``output`` (standard output, or a file
    written atomically); the text formats' header first."""
    if fmt == "parquet":
        from ..rows.atomic import atomic_path
        from ..rows.parquet import ParquetRecords, ParquetSink

        if output in (None, "-"):
            raise click.UsageError("Parquet is written to a file: add -o FILE.parquet")
        records = ParquetRecords(program, wrt_names, kept)
        with atomic_path(output) as temporary:
            sink = ParquetSink(temporary, records.names())

            def made(table):
                if table is not None:
                    sink.write(table)

            yield _Sink(lambda chunk, ev: sink.write(records.table(chunk, ev)), made)
            sink.close()
        return
    from ..rows.records import writer_for

    writer = writer_for(fmt, program, wrt_names, kept)
    with output_stream(output) as out:
        out.write(writer.header())
        out.flush()
        write_bytes = _bytes_writer(out)
        yield _Sink(lambda chunk, ev: write_bytes(writer.record_bytes(chunk, ev)), write_bytes)


def _bytes_writer(out):
    """A function that writes UTF-8 bytes to the text stream ``out`` at once (records are
    formatted as bytes; decoding them only to have them encoded again would cost time)."""
    binary = getattr(out, "buffer", None)
    if binary is None:
        def write(data):
            out.write(bytes(data).decode("utf-8"))
            out.flush()
    else:
        def write(data):
            binary.write(data)
            binary.flush()
    return write


def _grid(ranges, keep, force, rows):
    """The chunks of the grid made by ``ranges``, no kept fields, and a progress display."""
    from ..rows.grid import MAX_POINTS, Grid

    if keep:
        raise click.UsageError("--keep carries fields of --points through; there is no --points "
                               "here")
    grid = Grid(ranges)
    if grid.size > MAX_POINTS and not force:
        raise click.UsageError(f"the grid has {grid.size:,} points, more than {MAX_POINTS:,}; "
                               "add --force to evaluate it anyway")
    return grid.chunks(rows), [], RowProgress(grid.size)


def _record_format(fmt, output, points, points_format) -> str:
    from ..rows.sources import file_format

    if fmt == "json":
        return "jsonl"  # one JSON object per point
    if fmt == "text":
        raise click.UsageError("--format text shows one point; for many points use --format "
                               "csv, tsv or jsonl")
    if fmt is not None:
        return fmt
    if output not in (None, "-") and file_format(output.rstrip("/")):
        return file_format(output.rstrip("/"))
    if points is not None:
        given = _points_format(points, points_format)
        return "csv" if given == "parquet" and output in (None, "-") else given
    return "csv"


def _points_format(path, given) -> str:
    """The format of the file(s) ``path`` names (of the first, for several)."""
    from ..rows.sources import expand, file_format, is_many

    # A missing file or a directory is named as such before its format is asked for (a pipe,
    # /dev/stdin say, is not opened here: what it holds would be lost).
    if is_many(path):
        path = expand(path)[0]
    if path != "-" and not os.path.exists(path):
        raise SlpError(f"{path}: no such file")
    fmt = given or (None if path == "-" else file_format(path))
    if fmt is None:
        if path == "-":
            raise click.UsageError("--points - needs --points-format csv, tsv or jsonl")
        raise click.UsageError(f"cannot tell the format of '{path}' from its name; add "
                               "--points-format csv, tsv, jsonl or parquet")
    return fmt


@contextmanager
def _source(program, constants, ranges, points, points_format, keep):
    if points is None:
        yield None
        return
    if ranges:
        raise click.UsageError("a grid in --at and --points cannot be combined; give each point "
                               "in the --points file")
    with _reader(program, points, points_format, constants, keep, "--points -") as reader:
        if reader.extra and not keep:
            _warn_ignored(reader, reader.extra)
        yield reader


@contextmanager
def _reader(program, path, fmt, given, keep, stdin_user, required=True):
    from ..rows.points import PointReader
    from ..rows.sources import expand, is_many

    if is_many(path) or (path != "-" and (fmt or _points_format(path, fmt)) == "parquet"):
        with ExitStack() as files:
            yield _many_reader(program, expand(path), fmt, given, keep, required, files)
        return
    with open_binary(path, stdin_user) as stream:  # first: a missing file is named as such
        fmt = _points_format(path, fmt)
        yield PointReader(stream, "<stdin>" if path == "-" else path, fmt, program.input_names,
                          given, keep=keep, required=required)


def _many_reader(program, paths, fmt, given, keep, required, files):
    """One reader over the files ``paths`` (one file of Parquet: its own reader)."""
    from ..rows.parquet import ParquetReader
    from ..rows.points import PointReader
    from ..rows.sources import ManyReader, formats_of

    formats = formats_of(paths, fmt)

    def open_one(path):
        if formats[0] == "parquet":
            return ParquetReader(path, program.input_names, given, keep=keep, required=required)
        stream = files.enter_context(open_binary(path, "--points"))
        return PointReader(stream, path, formats[0], program.input_names, given, keep=keep,
                           required=required)

    return open_one(paths[0]) if len(paths) == 1 else ManyReader(paths, open_one)


def scheduler_option(f):
    """``--scheduler ADDRESS|local[:N]``: where rows are evaluated (default: here)."""
    return click.option(
        "--scheduler", metavar="ADDRESS|local[:N]",
        help="Run on a Dask cluster: the address of a running 'dask scheduler' "
             "(tcp://host:8786), or local:N for N worker processes on this machine (default: "
             "$SLPDIFF_SCHEDULER, else in this process). Needs pip install 'slpdiff[dask]'.")(f)


def chosen_scheduler(given: str | None) -> str | None:
    """``--scheduler``, else ``$SLPDIFF_SCHEDULER``, else None (the embedded path)."""
    chosen = given if given is not None else os.environ.get("SLPDIFF_SCHEDULER") or None
    return chosen.strip() if chosen is not None and chosen.strip() else None


def _warn_ignored(reader, names) -> None:
    kind = "fields" if reader.format == "jsonl" else "columns"
    shown = ", ".join(names[:_NAMES_SHOWN])
    if len(names) > _NAMES_SHOWN:  # a file may have a million columns: name a few
        shown += f" and {len(names) - _NAMES_SHOWN:,} more"
    warning(f"{reader.name}: ignoring {kind} that are not inputs of the program: "
            f"{shown} (carry them through with --keep)")


def read_data(program, path, fmt, given) -> dict:
    """The columns of a data file (``optimize --data``) that are inputs, as float64 arrays."""
    with _reader(program, path, fmt, given, False, "--data -", required=False) as reader:
        data = reader.read_all()
    if reader.extra:
        _warn_ignored(reader, reader.extra)
    if not reader.columns:
        raise click.UsageError(f"{reader.name} has no column named after an input of the "
                               f"program (inputs: {', '.join(program.input_names)})")
    if data.rows == 0:
        raise click.UsageError(f"{reader.name} has no rows of data")
    return data.columns
