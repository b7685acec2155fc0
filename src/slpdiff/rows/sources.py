"""Where rows come from: ``--points`` and ``--data`` name a file (CSV, TSV, JSON Lines, Parquet),
standard input (``-``), a glob (``'data/*.parquet'``) or a directory (its files of those kinds).
Several files are read one after the other, as one set of rows with the columns of the first.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator, Sequence

from ..errors import SlpError
from .points import EXTENSIONS, Chunk, DataError, concatenate, format_of

FORMATS = ("csv", "tsv", "jsonl", "parquet")
KINDS = "CSV, TSV, JSON Lines or Parquet"


def file_format(path: str) -> str | None:
    """The format named by ``path``'s extension, or None."""
    from .parquet import is_parquet

    return "parquet" if is_parquet(path) else format_of(path)


def is_many(path: str) -> bool:
    """Does ``path`` name several files (a glob or a directory)?"""
    return path != "-" and (glob.has_magic(path) or os.path.isdir(path))


def expand(path: str) -> list[str]:
    """The files ``path`` names, in sorted order: itself, the matches of a glob, or the files of a
    directory whose extension names a format (hidden files and subdirectories left out)."""
    if path == "-":
        return [path]
    if glob.has_magic(path) and not os.path.exists(path):
        found = sorted(p for p in glob.glob(path) if os.path.isfile(p))
        if not found:
            raise SlpError(f"{path}: no file matches")
        return found
    if os.path.isdir(path):
        found = sorted(os.path.join(path, name) for name in os.listdir(path)
                       if not name.startswith((".", "_")) and file_format(name) is not None
                       and os.path.isfile(os.path.join(path, name)))
        if not found:
            raise SlpError(f"{path}: is a directory with no {KINDS} files in it")
        return found
    return [path]


class ManyReader:
    """The rows of several files, one after the other, through one reader each (made by
    ``open_one(path)`` when its turn comes): the interface of one reader. Every file must have
    the columns of the first that are inputs (and, with ``--keep``, its other fields)."""

    def __init__(self, paths: Sequence[str], open_one):
        self.paths = list(paths)
        self._open = open_one
        self.first = open_one(self.paths[0])
        self.name = self.paths[0] if len(self.paths) == 1 else os.path.dirname(self.paths[0]) \
            or "."
        self.format = self.first.format
        self.fields, self.columns = self.first.fields, self.first.columns
        self.extra = self.first.extra
        self._done_bytes = 0
        self._current = self.first

    @property
    def size(self) -> int | None:
        try:
            return sum(os.path.getsize(p) for p in self.paths)
        except OSError:
            return None

    @property
    def bytes_read(self) -> int:
        return self._done_bytes + self._current.bytes_read

    def chunks(self, rows: int) -> Iterator[Chunk]:
        for k, path in enumerate(self.paths):
            reader = self.first if k == 0 else self._open(path)
            self._current = reader
            if k and (reader.columns != self.columns or
                      (self.first.keep and reader.extra != self.extra)):
                raise DataError(f"{path}: its columns ({', '.join(reader.fields)}) are not "
                                f"those of {self.paths[0]} ({', '.join(self.fields)})")
            yield from reader.chunks(rows)
            self._done_bytes += os.path.getsize(path) if path != "-" else 0

    def read_all(self) -> Chunk:
        return concatenate(self.chunks(1 << 20))


def formats_of(paths: Iterable[str], given: str | None) -> list[str]:
    """The format of each file: ``given``, else its extension's; a file of another kind than
    the first is an error."""
    found = []
    for path in paths:
        fmt = given or file_format(path)
        if fmt is None:
            kinds = ", ".join(sorted({*EXTENSIONS, ".parquet"}))
            raise SlpError(f"cannot tell the format of '{path}' from its name ({kinds})")
        found.append(fmt)
    if len(set(found)) > 1:
        raise SlpError(f"{paths[0] if isinstance(paths, list) else 'the files'}: the files are "
                       f"of several formats ({', '.join(sorted(set(found)))}); give files of one")
    return found
