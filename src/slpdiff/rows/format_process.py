"""Records formatted and written by a second process, on the other core.

Writing numbers as text is the largest part of ``eval --points`` on a fast program: orjson's
digits, then the commas made delimiters and line ends (:func:`.float_text.float_rows`), about
350 ns a row of the seed program against 100 for its value and gradient. orjson holds the GIL
while it writes, so a thread of its own cannot run beside the evaluation: the stages take turns.
A child process has a GIL of its own. Once a run has written :data:`START_ROWS` rows here (a
short run never pays for a process), a child is started; while it imports, records are still
written here; once it says it is ready, each chunk's number columns are sent to it down a pipe (8
bytes a number, no text), and it formats them exactly as this process would (the same function)
and writes them to the same open file, standard output or ``-o``'s temporary file, whose offset
the two processes share. The order of the rows is kept: nothing is written here once the child
has taken over, and a chunk goes to the child only after the chunks before it were written.

Only CSV and TSV records of numbers alone are formatted there (no ``--keep`` fields: their text
would have to travel too), and only where the work has two cores to run on (``--threads`` or
``SLPDIFF_THREADS`` above 1) and orjson writes the digits. Leaving the ``with`` block waits for the
child to write every row it was sent, so that the rows before a bad one are written; an error of
the child (a closed pipe, a full disk) is raised here as the same OSError, and Ctrl-C stops it.

The child runs this module: ``python -P -m slpdiff.rows.format_process FD DELIMITER BYTES``.
"""

from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

START_ROWS = 1 << 17  # rows written here before a child is started (about 0.1 s of a run)
WRITE_BACK = 64 << 20  # bytes between hints to write a synced file's pages to disk
_HEAD = struct.Struct("<qq")  # a chunk: its rows, its columns; then the columns' float64s
_READY = b"R"


@contextmanager
def records_writer(writer, out, write_bytes: Callable, threads: int,
                   synced: bool = False) -> Iterator[Callable]:
    """``write(chunk, evaluation)`` for the records of ``writer`` (a
    :class:`~.records.RecordWriter`) going to the text stream ``out``, whose header is written:
    here with ``write_bytes``, or by a second process once the run is long enough (see the
    module's docstring). ``synced``: ``out`` is a file that will be synced to disk when done
    (``-o``); the child then has its pages written to disk as it goes. Leaving the block waits
    until every row handed over is written."""

    def write_here(chunk, ev):
        write_bytes(writer.record_bytes(chunk, ev))

    fd = _file_number(out)
    if threads < 2 or fd is None or not _numbers_only(writer) or not _available():
        yield write_here
        return
    child: FormatProcess | None = None
    rows = 0

    def write(chunk, ev):
        nonlocal child, rows
        if rows < START_ROWS <= rows + chunk.rows:
            try:
                child = FormatProcess(fd, writer.delimiter, synced)
            except OSError:  # no process to be had (a limit reached): all rows written here
                pass
        if child is not None and child.ready():
            child.send(writer.number_columns(ev), chunk.rows)
        else:
            write_here(chunk, ev)
        rows += chunk.rows

    try:
        yield write
    except BaseException as e:
        if child is not None:
            child.close(wait=not isinstance(e, KeyboardInterrupt))
        raise
    if child is not None:
        child.close()


class FormatProcess:
    """A child process that writes, to the open file ``fd``, the lines of the number columns it
    is sent, delimited by ``delimiter`` (a comma or a tab), exactly as
    :func:`~.float_text.float_rows` writes them. Starting it does not wait for it:
    :meth:`ready` tells when it takes rows."""

    def __init__(self, fd: int, delimiter: str, synced: bool = False):
        # A copy of the descriptor (the same open file, the same offset) under a number the
        # child's own standard streams do not take: the child's stdout is its pipe back here.
        copy = os.dup(fd)
        try:
            # -P: no module of the working directory shadows numpy's or slpdiff's. Its errors
            # come back through its stdout; one before it is ready only means no child.
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-m", __name__, str(copy), delimiter,
                 str(WRITE_BACK if synced else 0)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                pass_fds=(copy,), bufsize=0)
        finally:
            os.close(copy)
        self._ready = False

    def ready(self) -> bool:
        """Has the child started and said it takes rows? (Never waits.) A child that could not
        start is never ready: its rows are then written by the caller."""
        if not self._ready and self._process.poll() is None:
            status = self._process.stdout
            if select.select([status], [], [], 0)[0]:
                self._ready = status.read(1) == _READY
        return self._ready

    def send(self, columns: list, rows: int) -> None:
        """Hands over the rows of ``columns`` (arrays of ``rows`` float64s, or one number for
        every row) to be written after those sent before. A child that stopped (the reader of
        its output went away, the disk is full) raises its error here."""
        pipe = self._process.stdin
        try:
            _write_all(pipe.write, _HEAD.pack(rows, len(columns)))
            for column in columns:
                numbers = np.ascontiguousarray(np.broadcast_to(column, (rows,)), np.float64)
                _write_all(pipe.write, numbers)
        except BrokenPipeError:  # the child stopped: its own error says why
            self._process.wait()
            self._raise_error()
            raise

    def close(self, wait: bool = True) -> None:
        """Waits until the child has written every row sent and ended (``wait=False``: stops it
        at once, rows not yet written lost), and raises its error if it failed."""
        if not self._ready or not wait:
            self._process.kill()  # not yet started: nothing was sent to it
        try:
            self._process.stdin.close()
        except BrokenPipeError:
            pass
        self._process.wait()
        if self._ready and wait:
            self._raise_error()
        self._process.stdout.close()

    def _raise_error(self) -> None:
        if self._process.returncode == 0:
            return
        report = self._process.stdout.read().decode("utf-8", "replace")
        number, _, message = report.partition(" ")
        if number.isdigit():
            raise OSError(int(number), message)  # EPIPE makes a BrokenPipeError: a quiet end
        raise RuntimeError(f"the process writing records failed ({self._process.returncode}): "
                           f"{report or 'no message'}")


def _write_all(write: Callable, data) -> None:
    """All of ``data`` through ``write`` (a raw write: a pipe may take a part of it)."""
    view = memoryview(data).cast("B")
    while view:
        view = view[write(view):]


def _write_back(fd: int) -> None:
    """Starts writing the file's pages to disk now, and lets the system forget those already
    written (Linux: ``POSIX_FADV_DONTNEED``): the fsync at the end of ``-o`` then has little
    left to do, and a gigabyte of output does not crowd the page cache."""
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except (AttributeError, OSError):  # no such call here, or not a file
        pass


def _file_number(out) -> int | None:
    try:
        return out.fileno()
    except (AttributeError, OSError, ValueError):  # a stream in memory (tests' CliRunner)
        return None


def _numbers_only(writer) -> bool:
    return writer.delimiter in (",", "\t") and not writer.kept


def _available() -> bool:
    from .float_text import _orjson

    return os.name == "posix" and bool(sys.executable) and _orjson() is not None


# --- the child ------------------------------------------------------------------------------------

def _serve(fd: int, delimiter: str, flush_every: int) -> int:
    """The child's loop: chunks of columns from standard input, their lines to ``fd``; every
    ``flush_every`` bytes (0: never), the file's pages handed to the disk."""
    from .float_text import _orjson, float_rows

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    status, source = sys.stdout.buffer, sys.stdin.buffer
    _orjson()  # its check of the hard values, before saying ready
    status.write(_READY)
    status.flush()
    written = 0
    try:
        while head := source.read(_HEAD.size):
            rows, width = _HEAD.unpack(head)
            numbers = np.frombuffer(source.read(8 * rows * width), np.float64)
            text = float_rows(list(numbers.reshape(width, rows)), delimiter)
            _write_all(lambda part: os.write(fd, part), text)
            written += len(text)
            if flush_every and written >= flush_every:
                written = 0
                _write_back(fd)
    except OSError as e:
        status.write(f"{e.errno} {e.strerror}".encode())
        return 1
    except Exception as e:  # a bug: said to the parent, which reports it
        status.write(f"{type(e).__name__}: {e}".encode())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
