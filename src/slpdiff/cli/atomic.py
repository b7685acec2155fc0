"""Writing output files atomically: a reader sees the old file or the whole new one, never half."""

from __future__ import annotations

import os
import tempfile


def write_text_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory (so that the
    rename stays on one file system) and ``os.replace``. Raises OSError."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                                     suffix=".tmp")
    try:
        os.chmod(temporary, _mode_for(path))  # mkstemp's file is private (0600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _mode_for(path: str) -> int:
    """The replaced file's permissions, or those a new file gets (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
