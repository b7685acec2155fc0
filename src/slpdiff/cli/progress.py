"""Progress lines on stderr for long runs, only when stderr is a terminal (pipelines and logs get no
control characters): one mechanism, :class:`Progress`, and the two lines the commands draw with it
(optimization steps, and rows evaluated)."""

from __future__ import annotations

import os
import sys
import time


class Progress:
    """One line of stderr, redrawn at most every ``interval`` seconds, and only once the run has
    lasted ``delay`` seconds (short runs show nothing); nothing at all when stderr is not a
    terminal."""

    def __init__(self, delay: float = 0.5, interval: float = 0.1, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream)
        self.delay, self.interval = delay, interval
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.visible = False

    def due(self) -> bool:
        """Is it time to draw the line again?"""
        now = time.monotonic()
        if not self.enabled or now - self.started < self.delay or now - self.drawn_at < \
                self.interval:
            return False
        self.drawn_at = now
        return True

    def draw(self, line: str) -> None:
        """Show ``line`` in place of the previous one, cut to the terminal's width."""
        self.stream.write("\r" + line[: _columns(self.stream) - 1] + "\x1b[K")
        self.stream.flush()
        self.visible = True

    def clear(self) -> None:
        """Erase the line (before other output reaches the same terminal, and at the end)."""
        if self.visible:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.visible = False


class StepProgress(Progress):
    """``slpdiff optimize: step k/N [#####.....] 50%  value 1.234  |g| 0.05``."""

    def __init__(self, total: int, label: str, delay: float = 0.5, stream=None):
        super().__init__(delay, 0.1, stream)
        self.total, self.label = total, label

    def update(self, index: int, value: float, gradient_norm: float) -> None:
        """Show that step ``index`` has value ``value`` and gradient norm ``gradient_norm``."""
        if not self.due():
            return
        done = min(index / self.total, 1.0) if self.total else 1.0
        bar = "#" * round(10 * done) + "." * (10 - round(10 * done))
        self.draw(f"{self.label}: step {index}/{self.total} [{bar}] {100 * done:.0f}%  "
                  f"value {value:.7g}  |g| {gradient_norm:.3g}")


class RowProgress(Progress):
    """``1,234,567 rows  345,678 rows/s  45%``, from the first rows on. ``done()`` says how far
    the run is in the units of ``total`` (bytes of a file; rows of a grid by default); no
    percentage without a total (a stream)."""

    def __init__(self, total: int | None, done=None, stream=None):
        super().__init__(0.0, 0.2, stream)
        self.enabled = self.enabled and total is not None
        self.total, self.done = total, done
        self.rows = 0

    def update(self, rows: int) -> None:
        """Count ``rows`` more rows done."""
        self.rows += rows
        if not self.due():
            return
        rate = self.rows / max(time.monotonic() - self.started, 1e-9)
        done = self.done() if self.done is not None else self.rows
        percent = f"  {100 * done / self.total:3.0f}%" if self.total else ""
        self.draw(f"{self.rows:,} rows  {rate:,.0f} rows/s{percent}")


def _columns(stream) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        import shutil  # only with a terminal

        return shutil.get_terminal_size().columns


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
