"""Output files written atomically: into a temporary file beside the target, renamed over it only
when everything was written, so a failure midway never leaves a truncated file where a good one
was (the old file, if any, stays as it was)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from ..errors import SlpError


@contextmanager
def atomic_output(path: str) -> Iterator[TextIO]:
    """A text stream that becomes the file ``path`` when the ``with`` block ends without error."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """The path of a new temporary file beside ``path``, for a program that writes the file itself
    (such as Graphviz's ``dot -o``); it becomes the file ``path`` when the ``with`` block ends
    without error, and is removed otherwise."""
    if os.path.isdir(path):
        raise SlpError(f"{path}: is a directory; -o needs a file name")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=directory,
                                         prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as e:
        raise SlpError(f"{path}: cannot write: {e.strerror}") from None
    os.close(fd)
    try:
        yield temporary
        os.chmod(temporary, _mode(path))
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _mode(path: str) -> int:
    """The permissions the file gets: those of the file it replaces, else the usual ones."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
