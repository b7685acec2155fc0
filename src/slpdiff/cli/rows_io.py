"""Rows in and out for the commands: the readers of ``--points`` and ``--data`` (files, globs,
directories, standard input), where records go (standard output, a file written atomically,
Parquet), and where the rows are evaluated (``--scheduler``)."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack, contextmanager

import click

from ..errors import InputError, SlpError
from .main import has_option, warning
from .options import open_binary

NAMES_SHOWN = 20  # names listed in a warning about ignored columns


@contextmanager
def output_stream(path: str | None):
    """Standard output, or the file ``path`` written atomically."""
    if path in (None, "-"):  # no import of tempfile and its kin for the common case
        yield sys.stdout
        return
    from ..rows.atomic import atomic_output

    with atomic_output(path) as stream:
        yield stream


class _Sink:
    """Where records go: ``write(chunk, evaluation)`` formats and writes them;
    ``write_made(records)`` writes records already made (bytes, or an Arrow table for Parquet:
    a partition's, from a worker)."""

    def __init__(self, write, write_made):
        self.write, self.write_made = write, write_made


@contextmanager
def record_sink(fmt, output, program, wrt_names, kept, asked=None):
    """A :class:`_Sink` writing records as ``fmt`` to ``output`` (standard output, or a file
    written atomically); the text formats' header first; ``asked``: the results beyond first
    derivatives (:class:`~slpdiff.rows.stream.Asked`), if any."""
    if fmt == "parquet":
        from ..rows.atomic import atomic_path
        from ..rows.parquet import ParquetRecords, ParquetSink

        if output in (None, "-"):
            raise click.UsageError("Parquet is written to a file: add -o FILE.parquet")
        records = ParquetRecords(program, wrt_names, kept, asked)
        with atomic_path(output) as temporary:
            sink = ParquetSink(temporary, records.names())

            def made(table):
                if table is not None:
                    sink.write(table)

            yield _Sink(lambda chunk, ev: sink.write(records.table(chunk, ev)), made)
            sink.close()
        return
    from ..rows.records import writer_for

    writer = writer_for(fmt, program, wrt_names, kept, asked)
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


def points_format_of(path, given) -> str:
    """The format of the file(s) ``path`` names (of the first, for several); None for standard
    input without ``given``: the reader tells it by the first line."""
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
            return None
        raise click.UsageError(f"cannot tell the format of '{path}' from its name; add "
                               "--points-format csv, tsv, jsonl or parquet")
    return fmt


@contextmanager
def data_reader(program, path, fmt, given, keep, stdin_user, required=True):
    from ..rows.points import PointReader
    from ..rows.sources import expand, is_many

    if is_many(path) or (path != "-" and (fmt or points_format_of(path, fmt)) == "parquet"):
        with ExitStack() as files:
            yield many_reader(program, expand(path), fmt, given, keep, required, files)
        return
    with open_binary(path, stdin_user) as stream:  # first: a missing file is named as such
        fmt = points_format_of(path, fmt)
        yield PointReader(stream, "<stdin>" if path == "-" else path, fmt, program.input_names,
                          given, keep=keep, required=required)


def many_reader(program, paths, fmt, given, keep, required, files):
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
    """``--scheduler``, else ``$SLPDIFF_SCHEDULER``, else None (the embedded path). The
    variable applies to files only: rows from standard input and grids stay here."""
    chosen = given if given is not None else os.environ.get("SLPDIFF_SCHEDULER") or None
    return chosen.strip() if chosen is not None and chosen.strip() else None


def warn_ignored(reader, names) -> None:
    kind = "fields" if reader.format == "jsonl" else "columns"
    shown = ", ".join(names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:  # a file may have a million columns: name a few
        shown += f" and {len(names) - NAMES_SHOWN:,} more"
    hint = " (carry them through with --keep)" if has_option("--keep") else ""
    warning(f"{reader.name}: ignoring {kind} that are not inputs of the program: {shown}{hint}")


def check_data_columns(reader, program, given) -> None:
    """``optimize --data``: the file must have a column for some input, and every input must be
    a column or given with ``--at`` (a parameter's starting value); the messages name the file's
    columns, as ``eval --points`` does."""
    from ..rows.points import missing_message

    where = "field" if reader.format == "jsonl" else "column"
    if not reader.columns:
        raise click.UsageError(f"{reader.name} has no {where} named after an input of the "
                               f"program ({where}s: {', '.join(reader.fields[:50]) or '(none)'}"
                               f"; inputs: {', '.join(program.input_names)})")
    missing = [n for n in program.input_names if n not in reader.columns and n not in given]
    if missing:
        raise InputError(missing_message(missing, where, reader.name, reader.fields,
                                         "--at as a parameter's starting value"))
