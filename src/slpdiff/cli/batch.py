"""Many points from the command line: ``eval --points FILE``, grids in ``--at``, records out as
CSV/TSV/JSON Lines or Parquet (``-o FILE`` written atomically), and the data of ``optimize
--data``; on a Dask cluster with ``--scheduler`` (:mod:`.scale_out`)."""

from __future__ import annotations

from contextlib import contextmanager

import click

from .options import rows_failure, threads_option, warn_about_rows
from .progress import RowProgress
from .rows_io import (
    check_data_columns,
    chosen_scheduler,
    data_reader,
    output_stream,
    points_format_of,
    record_sink,
    scheduler_option,
    warn_ignored,
)

__all__ = ["chosen_scheduler", "eval_points", "is_batch", "output_stream", "points_options",
           "read_data", "scheduler_option"]

_RECORD_FORMATS = ("csv", "tsv", "jsonl")
_INPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet")


def points_options(f):
    """The options of ``eval`` for many points."""
    options = [
        click.option("--points", metavar="FILE|-",
                     help="Evaluate at every row of FILE (- for standard input): CSV or TSV with "
                          "a header naming the inputs, JSON Lines, or Parquet; or of every such "
                          "file of a directory or a quoted glob ('data/*.parquet')."),
        click.option("--points-format", type=click.Choice(_INPUT_FORMATS),
                     help="Format of --points (default: from its extension; for - from its "
                          "first line: '{' is JSON Lines, a tab TSV, else CSV)."),
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
                     help="Rows per vectorized pass (default: 16,384, fewer for long programs "
                          "so that a pass fits in 1/32 of the memory)."),
        threads_option,
        scheduler_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


def is_batch(ranges, fmt, points, output) -> bool:
    """True when ``eval`` writes records: many points, or one point as CSV/TSV/JSON Lines or
    Parquet (asked for with --format, or by the name of the -o file)."""
    if points is not None or ranges or fmt in _RECORD_FORMATS:
        return True
    if fmt is not None or output in (None, "-"):
        return False  # decided without importing the rows' modules (start-up at a point)
    from ..rows.sources import file_format

    return file_format(output) is not None


def eval_points(program, constants, ranges, wrt, fmt, strict, points, points_format, keep,
                output, force, chunk_rows, asked=None, scheduler=None) -> None:
    """``slpdiff eval`` at many points: every row of --points, or every point of a grid; with
    ``asked`` (:class:`~slpdiff.rows.stream.Asked`), forward mode or second derivatives too;
    with ``scheduler``, the rows of --points on a Dask cluster."""
    from ..core.hessian import check_vector
    from ..core.schedule import bind_inputs, resolve_names
    from ..rows.ahead import WriteBehind, read_ahead
    from ..rows.stream import FIRST, evaluate_stream, rows_per_pass

    asked = asked or FIRST
    wrt_names = program.input_names if wrt is None else wrt
    resolve_names(wrt_names, program.input_names, "input")
    inputs = set(program.input_names)
    unknown = [name for name in [*constants, *ranges] if name not in inputs]
    if unknown:  # said now, even if there is no row to evaluate: the engine's message
        bind_inputs(program, dict.fromkeys(unknown, 0.0))
    if asked.direction is not None:
        resolve_names(list(asked.direction), program.input_names, "input")
    if asked.hvp is not None:
        check_vector(asked.hvp, program, wrt_names)
    asked_format, fmt = fmt, _record_format(fmt, output, points, points_format, ranges)
    if scheduler is not None and points is None:
        raise click.UsageError("--scheduler evaluates the rows of --points on a cluster; a "
                               "grid is evaluated here")
    if scheduler is not None or points not in (None, "-"):  # $SLPDIFF_SCHEDULER: files only
        scheduler = chosen_scheduler(scheduler)
    if scheduler is not None:
        from .scale_out import eval_distributed

        eval_distributed(scheduler, program, constants, wrt_names, fmt, strict, points,
                         points_format, keep, output, chunk_rows, asked)
        return
    rows = chunk_rows or rows_per_pass(program, asked, wrt)
    with _source(program, constants, ranges, points, points_format, keep) as reader:
        if reader is not None and points_format is None and points == "-":  # told by its head
            fmt = _record_format(asked_format, output, points, reader.format, ranges)
        if reader is not None:
            chunks, kept = read_ahead(reader.chunks(rows)), reader.extra if keep else []
            progress = RowProgress(reader.size if reader.name != "<stdin>" else None,
                                   lambda: reader.bytes_read)
        else:
            chunks, kept, progress = _grid(ranges, keep, force, rows)
        with record_sink(fmt, output, program, wrt_names, kept, asked) as sink, \
                WriteBehind(sink.write) as write_records:
            warned = len(kept) if keep else len(reader.extra) if reader is not None else 0

            def write(chunk, ev):
                nonlocal warned
                write_records(chunk, ev)
                progress.update(chunk.rows)
                if reader is not None and not keep and len(reader.extra) > warned:
                    warn_ignored(reader, reader.extra[warned:])  # JSON Lines: a new field
                    warned = len(reader.extra)

            try:
                result = evaluate_stream(program, chunks, constants, wrt, write,
                                         stop_at_nonfinite=strict, asked=asked)
            finally:
                progress.clear()
            if result.stopped:  # raised inside the block: -o leaves no partial file
                raise rows_failure(program, result)
    warn_about_rows(program, result)


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


def _record_format(fmt, output, points, points_format, ranges) -> str:
    """The format records are written in: --format, else the -o file's extension, else the
    format of --points (CSV for Parquet on standard output), else CSV."""
    from ..rows.sources import file_format

    if fmt == "json":
        many = "every point of a grid" if ranges else "every row of --points"
        raise click.UsageError(f"--format json writes one point as one JSON document; {many} "
                               "is written as JSON Lines, one object per line: use --format "
                               "jsonl")
    if fmt == "text":
        raise click.UsageError("--format text shows one point; for many points use --format "
                               "csv, tsv or jsonl")
    if fmt is not None:
        return fmt
    if output not in (None, "-") and file_format(output.rstrip("/")):
        return file_format(output.rstrip("/"))
    if points is not None:
        given = points_format_of(points, points_format) or "csv"  # None: not yet told
        return "csv" if given == "parquet" and output in (None, "-") else given
    return "csv"


@contextmanager
def _source(program, constants, ranges, points, points_format, keep):
    if points is None:
        yield None
        return
    if ranges:
        raise click.UsageError("a grid in --at and --points cannot be combined; give each point "
                               "in the --points file")
    with data_reader(program, points, points_format, constants, keep, "--points -") as reader:
        if reader.extra and not keep:
            warn_ignored(reader, reader.extra)
        yield reader


def read_data(program, path, fmt, given) -> dict:
    """The columns of a data file (``optimize --data``) that are inputs, as float64 arrays."""
    with data_reader(program, path, fmt, given, False, "--data -", required=False) as reader:
        data = reader.read_all()
    if reader.extra:
        warn_ignored(reader, reader.extra)
    check_data_columns(reader, program, given)
    if data.rows == 0:
        raise click.UsageError(f"{reader.name} has no rows of data")
    return data.columns
