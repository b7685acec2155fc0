"""A progress line on stderr for long runs, only when stderr is a terminal."""

from __future__ import annotations

import os
import shutil
import sys
import time


class Progress:
    """``step k/N [#####.....] value |g|`` on one line of stderr, redrawn at most 10 times a
    second, and only once the run has lasted ``delay`` seconds (short runs show nothing). Nothing
    at all when stderr is not a terminal, so pipelines and logs get no control characters."""

    def __init__(self, total: int, label: str, delay: float = 0.5, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream)
        self.total, self.label, self.delay = total, label, delay
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.visible = False

    def update(self, index: int, value: float, gradient_norm: float) -> None:
        """Show that step ``index`` has value ``value`` and gradient norm ``gradient_norm``."""
        now = time.monotonic()
        if not self.enabled or now - self.started < self.delay or now - self.drawn_at < 0.1:
            return
        self.drawn_at = now
        done = min(index / self.total, 1.0) if self.total else 1.0
        bar = "#" * round(10 * done) + "." * (10 - round(10 * done))
        line = (f"{self.label}: step {index}/{self.total} [{bar}] {100 * done:.0f}%  "
                f"value {value:.7g}  |g| {gradient_norm:.3g}")
        width = _columns(self.stream)
        self.stream.write("\r" + line[: width - 1] + "\x1b[K")
        self.stream.flush()
        self.visible = True

    def clear(self) -> None:
        """Erase the line (before other output reaches the same terminal, and at the end)."""
        if self.visible:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.visible = False


def _columns(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return shutil.get_terminal_size().columns


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
