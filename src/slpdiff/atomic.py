"""Writing output files atomically: readers see the old file or the whole new one, never a part."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import SlpError


def write_atomically(path: str | os.PathLike, produce: Callable[[str], None]) -> None:
    """Create ``path`` by calling ``produce(temporary_path)``, then renaming that file over it.

    The temporary file is in the same directory (so the rename is atomic) and is removed if
    ``produce`` fails. The new file gets the usual permissions (0666 less the umask). A path
    that cannot be written is an :class:`SlpError` (exit 2).
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise SlpError(f"cannot write {path}: {e.strerror}") from None
    os.close(fd)
    try:
        produce(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):  # e.g. the path is a directory
            raise SlpError(f"cannot write {path}: {e.strerror or e}") from None
        raise


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""

    def produce(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    write_atomically(path, produce)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
