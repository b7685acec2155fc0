"""slpdiff's cache: the parser's tables, and the parsed programs of unchanged files.

Like Python's bytecode cache, a program file read a second time need not be parsed again: its
tape (with the parser's record of aliases, ``+=`` and ``-=``: ``Program.assignments``) is saved
after the first parse, under a key made of the file's bytes, slpdiff's version and the files that
define the language (so that a new grammar, table or parser never reads an old entry), and read
back on the next run, which then imports neither Lark nor the parser. A damaged
or foreign entry is never trusted: an entry is one ``marshal`` of plain data (arrays as bytes,
names, numbers), checked for shape before use, in a directory that only this user can write.

The directory is ``$SLPDIFF_CACHE_DIR``, else ``$XDG_CACHE_HOME/slpdiff`` or ``~/.cache/slpdiff``
(never beside the installed package, which may be read-only); ``SLPDIFF_CACHE_DIR=""`` turns the
cache off. A directory that is not the user's own, or that others can write, is not used at all:
entries are loaded from it. At most ``KEEP_PROGRAMS`` programs and ``KEEP_BYTES`` bytes are kept
(the least recently written go first), so a test suite that parses thousands of files, or a few
huge ones, leaves a bounded cache.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
import zlib
from array import array

from ..version import __version__
from .program import NO_ARG, Assignment, Names, Program, ProgramBuilder

FORMAT = 2  # the layout of an entry; changed whenever an entry's contents change
KEEP_PROGRAMS = 64
KEEP_BYTES = 2_000_000_000  # an entry is about twice its file's size
_HERE = os.path.dirname(os.path.abspath(__file__))
# The files whose contents decide what a program's text parses into.
_LANGUAGE_FILES = ("parser.py", "statements.py", "replay.py", "primitives.py", "program.py",
                   "cache.py")


def directory() -> str | None:
    """The cache directory (made if missing), or None when there is none this user may trust:
    turned off, not owned by this user, writable by others, or not writable."""
    path = os.environ.get("SLPDIFF_CACHE_DIR")
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        path = os.path.join(base, "slpdiff")
    if not path:
        return None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if not trusted(path):
            return None
    except OSError:
        return None
    return path


def trusted(path: str) -> bool:
    """Is ``path`` a directory of this user's, that no other user can write (files are loaded
    from it)?"""
    try:
        info = os.stat(path)
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        return False
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return stat.S_ISDIR(info.st_mode) and os.access(path, os.W_OK)


def _key(data: bytes) -> str:
    """The entry's name: a checksum of the file's bytes and of what decides how they parse.
    Two files may share it; an entry holds the bytes it was made from, compared on loading. (A
    checksum in C, not a cryptographic hash: hashlib's import alone costs a small run's time.)"""
    language = [f"{FORMAT}:{__version__}"]
    for path in (*(os.path.join(_HERE, name) for name in _LANGUAGE_FILES), _grammar_path()):
        with contextlib.suppress(OSError):
            info = os.stat(path)
            language.append(f"{info.st_mtime_ns}:{info.st_size}")
    salt = zlib.crc32("/".join(language).encode())
    return f"{zlib.crc32(data, salt):08x}{zlib.adler32(data):08x}{len(data):x}"


def _grammar_path() -> str:
    """Where the grammar is (package data, wherever the package is installed)."""
    from . import grammar

    return os.path.join(os.path.dirname(grammar.__file__), "slp.lark")


def _path(data: bytes) -> str | None:
    where = directory()
    return None if where is None else os.path.join(where, f"program-{_key(data)}")


def load(data: bytes, source) -> Program | None:
    """The program cached for the file contents ``data`` (its messages name ``source``), or
    None."""
    path = _path(data)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            entry = marshal.load(f)
        if not isinstance(entry, tuple) or len(entry) != 2 or entry[0] != data:
            return None  # another file with the same checksum (or not an entry)
        return _program(entry[1], source)
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError):
        return None  # missing, or not an entry of ours: parse as if there were none


def store(data: bytes, program: Program) -> None:
    """Save ``program``, parsed from the file contents ``data`` (quietly nothing when the
    cache is off or cannot be written)."""
    path = _path(data)
    if path is None or not supported(program):
        return
    import tempfile

    entry = (data, _entry(program))
    where = os.path.dirname(path)
    try:
        fd, temporary = tempfile.mkstemp(prefix=".program-", dir=where)
        try:
            with os.fdopen(fd, "wb") as f:
                marshal.dump(entry, f)
            os.replace(temporary, path)  # readers never see half an entry
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        _trim(where)
    except OSError:
        pass


def supported(program: Program) -> bool:
    """Can ``program`` be cached (only primitives of the table, which are found by name)?"""
    from .primitives import PRIMITIVES

    return all(op is None or PRIMITIVES.get(op.name) is op for op in program.prims)


def _trim(where: str) -> None:
    """Keep the entries written last: at most ``KEEP_PROGRAMS``, of ``KEEP_BYTES`` in all."""
    entries = []
    with os.scandir(where) as found:
        for e in found:
            if e.name.startswith("program-"):
                with contextlib.suppress(OSError):
                    info = e.stat()
                    entries.append((info.st_mtime_ns, info.st_size, e.path))
    entries.sort(reverse=True)
    total = 0
    for k, (_, size, path) in enumerate(entries):
        total += size
        if k >= KEEP_PROGRAMS or total > KEEP_BYTES and k:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _entry(program: Program) -> tuple:
    names = program.names
    return (FORMAT, [None if op is None else op.name for op in program.prims],
            program.codes.typecode, program.codes.tobytes(), program.arg0.tobytes(),
            program.arg1.tobytes(), dict(program.more), program.pool.tobytes(),
            program.lines.tobytes(), program.columns.tobytes(), names._nodes.tobytes(),
            names._text, names._ends.tobytes(), list(program.input_index),
            list(program.output_index), list(program.input_names), list(program.output_names),
            _assignments_entry(program.assignments))


def _program(entry: tuple, source) -> Program:
    """The program of a cache entry, after checking that it is one (ValueError if not)."""
    from .primitives import PRIMITIVES

    (form, prims, typecode, codes, arg0, arg1, more, pool, lines, columns, name_nodes,
     name_text, name_ends, inputs, outputs, input_names, output_names, assignments) = entry
    if form != FORMAT or typecode not in "BHI" or prims[:1] != [None]:
        raise ValueError("not a cache entry of this version")
    tape = ProgramBuilder()
    tape.prims = [None] + [PRIMITIVES[name] for name in prims[1:]]
    tape.arity = [0 if op is None else op.arity for op in tape.prims]
    tape.codes = _array(typecode, codes)
    tape.arg0, tape.arg1 = _array("i", arg0), _array("i", arg1)
    tape.more = {int(i): tuple(map(int, args)) for i, args in more.items()}
    tape.pool = _array("d", pool)
    tape.lines, tape.columns = _array("I", lines), _array("I", columns)
    n = len(tape.codes)
    if not (len(tape.arg0) == len(tape.arg1) == len(tape.lines) == len(tape.columns) == n):
        raise ValueError("columns of different lengths")
    if n and (max(tape.codes) >= len(tape.prims) or max(tape.arg0) >= max(n, len(tape.pool))
              or max(tape.arg1) >= n or min(tape.arg0) < NO_ARG or min(tape.arg1) < NO_ARG):
        raise ValueError("positions out of range")
    nodes, ends = _array("i", name_nodes), _array("q", name_ends)
    if len(nodes) != len(ends) or not isinstance(name_text, str) \
            or (ends and ends[-1] != len(name_text)):
        raise ValueError("names out of shape")
    if not all(0 <= i < n for i in (*inputs, *outputs)):
        raise ValueError("inputs or outputs out of range")
    tape.names_done = Names(n, nodes, name_text, ends)
    program = Program._from_tape(tape, inputs, outputs, input_names, output_names, source)
    program.assignments = _assignments(assignments, n)
    return program


def _assignments_entry(assignments: list[Assignment] | None) -> list | None:
    """The program's record of aliases, ``+=`` and ``-=`` as plain data."""
    if assignments is None:
        return None
    return [(a.name, a.node, a.line, a.column, a.op, a.term) for a in assignments]


def _assignments(entry: list | None, n: int) -> list[Assignment] | None:
    """The record of a cache entry (:func:`_assignments_entry`), checked (ValueError if bad)."""
    if entry is None:
        return None
    assignments = [Assignment(*fields) for fields in entry]
    for a in assignments:
        if not (isinstance(a.name, str) and a.op in ("=", "+=", "-=") and 0 <= a.node < n
                and -1 <= a.term < n):
            raise ValueError("assignments out of shape")
    return assignments


def _array(typecode: str, data: bytes) -> array:
    if not isinstance(data, bytes):
        raise TypeError("not bytes")
    values = array(typecode)
    values.frombytes(data)
    return values
