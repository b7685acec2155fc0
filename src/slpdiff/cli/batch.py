"""Many points from the command line: ``eval --points FILE``, grids in ``--at``, records out as
CSV/TSV/JSON Lines (``-o FILE`` written atomically), and the data of ``optimize --data``."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import click

from ..errors import RunError, SlpError
from .main import warning
from .options import nonfinite_diagnostics, open_binary
from .progress import RowProgress

_RECORD_FORMATS = ("csv", "tsv", "jsonl")
_NAMES_SHOWN = 20  # names listed in a warning about ignored columns


def points_options(f):
    """The options of ``eval`` for many points."""
    options = [
        click.option("--points", metavar="FILE|-",
                     help="Evaluate at every row of FILE (- for standard input): CSV or TSV with "
                          "a header naming the inputs, or JSON Lines."),
        click.option("--points-format", type=click.Choice(_RECORD_FORMATS),
                     help="Format of --points (default: from its extension; needed for -)."),
        click.option("--keep", is_flag=True,
                     help="Carry the fields of --points that are not inputs (an id...) through "
                          "to the output."),
        click.option("-o", "--output", metavar="FILE",
                     help="Write the output to FILE, atomically (all or nothing)."),
        click.option("--force", is_flag=True,
                     help="Allow a grid of more than 10,000,000 points."),
        click.option("--chunk-rows", type=click.IntRange(min=1), metavar="N",
                     help="Rows per vectorized pass (default: as many as fit in a fixed memory "
                          "budget)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def is_batch(ranges, fmt, points, output) -> bool:
    """True when ``eval`` writes records: many points, or one point as CSV/TSV/JSON Lines
    (asked for with --format, or by the name of the -o file)."""
    if points is not None or ranges or fmt in _RECORD_FORMATS:
        return True
    if fmt is not None or output in (None, "-"):
        return False
    from ..rows.points import format_of

    return format_of(output) is not None


@contextmanager
def output_stream(path: str | None):
    """Standard output, or the file ``path`` written atomically."""
    if path in (None, "-"):
        yield sys.stdout
        return
    from ..rows.atomic import atomic_output

    with atomic_output(path) as stream:
        yield stream


def eval_points(program, constants, ranges, wrt, fmt, strict, points, points_format, keep,
                output, force, chunk_rows, asked=None) -> None:
    """``slpdiff eval`` at many points: every row of --points, or every point of a grid; with
    ``asked`` (:class:`~slpdiff.rows.stream.Asked`), forward mode or second derivatives too."""
    from ..core.hessian import check_vector
    from ..core.schedule import bind_inputs, resolve_names
    from ..rows.records import writer_for
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
    fmt = _record_format(fmt, output, points, points_format)
    rows = chunk_rows or rows_per_pass(program, asked, wrt)
    with _source(program, constants, ranges, points, points_format, keep) as reader:
        if reader is not None:
            chunks, kept, progress = reader.chunks(rows), reader.extra if keep else [], \
                RowProgress(reader.size if reader.name != "<stdin>" else None,
                            lambda: reader.bytes_read)
        else:
            chunks, kept, progress = _grid(ranges, keep, force, rows)
        writer = writer_for(fmt, program, wrt_names, kept, asked)
        with output_stream(output) as out:
            out.write(writer.header())
            out.flush()

            warned = len(kept) if keep else len(reader.extra) if reader is not None else 0

            def write(chunk, ev):
                nonlocal warned
                out.write(writer.records(chunk, ev))
                out.flush()
                progress.update(chunk.rows)
                if reader is not None and not keep and len(reader.extra) > warned:
                    _warn_ignored(reader, reader.extra[warned:])  # JSON Lines: a new field
                    warned = len(reader.extra)

            try:
                result = evaluate_stream(program, chunks, constants, wrt, write,
                                         stop_at_nonfinite=strict, asked=asked)
            finally:
                progress.clear()
            if result.stopped:  # raised inside the block: -o leaves no partial file
                diagnostics = nonfinite_diagnostics(program, result.warnings, result.where)
                raise RunError(diagnostics or "; ".join(result.beyond_messages()))
    for d in nonfinite_diagnostics(program, result.warnings, result.where):
        warning(d.format())
    for message in result.beyond_messages():
        warning(message)
    for hit, where in zip(result.kinks, result.kink_where, strict=True):
        warning(hit.diagnostic(program, where).format())


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
    from ..rows.points import format_of

    if fmt == "json":
        return "jsonl"  # one JSON object per point
    if fmt == "text":
        raise click.UsageError("--format text shows one point; for many points use --format "
                               "csv, tsv or jsonl")
    if fmt is not None:
        return fmt
    if output not in (None, "-") and format_of(output):
        return format_of(output)
    if points is not None:
        return _points_format(points, points_format)
    return "csv"


def _points_format(path, given) -> str:
    from ..rows.points import format_of

    # A missing file or a directory is named as such before its format is asked for (a pipe,
    # /dev/stdin say, is not opened here: what it holds would be lost).
    if path != "-" and os.path.isdir(path):
        raise SlpError(f"{path}: is a directory, not a file")
    if path != "-" and not os.path.exists(path):
        raise SlpError(f"{path}: no such file")
    fmt = given or (None if path == "-" else format_of(path))
    if fmt is None:
        if path == "-":
            raise click.UsageError("--points - needs --points-format csv, tsv or jsonl")
        raise click.UsageError(f"cannot tell the format of '{path}' from its name; add "
                               "--points-format csv, tsv or jsonl")
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

    with open_binary(path, stdin_user) as stream:  # first: a missing file is named as such
        fmt = _points_format(path, fmt)
        yield PointReader(stream, "<stdin>" if path == "-" else path, fmt, program.input_names,
                          given, keep=keep, required=required)


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
