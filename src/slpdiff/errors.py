"""Errors and warnings that point into a program's text, formatted like a compiler's."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


def printable(text: str) -> str:
    """``text`` with line breaks and other unprintable characters written as escapes (``\\n``):
    a message that quotes what the user typed stays one ``slpdiff: error:`` line, and a comment
    line of generated code cannot end early (or hide what follows)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def quoted_names(names, shown: int = 20) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b' and 'c'``: names for a message, the first ``shown``
    of them (a program may have 100,000 inputs) and then how many more."""
    names = list(names)
    quoted = [f"'{printable(n)}'" for n in names[:shown]]
    if len(names) > shown:
        return f"{', '.join(quoted)} and {len(names) - shown:,} more"
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


@dataclass(frozen=True)
class Source:
    """A program's text and the name messages call it by (a path, or ``<stdin>``)."""

    name: str
    text: str

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line``, without its line end."""
        lines = self._lines
        return lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""

    @cached_property
    def _lines(self) -> list[str]:
        # Split once (a run may show 20 errors in a program of a million lines), on "\n" only:
        # that is what the grammar counts as a line end (CRLF included).
        return self.text.split("\n")


@dataclass(frozen=True)
class Diagnostic:
    """One message about a place in a program: 1-based line and column, counted in characters."""

    message: str
    source: Source | None = None
    line: int = 0
    column: int = 0

    def location(self) -> str:
        """``FILE:LINE:COL``, or as much of it as is known."""
        if self.source is None:
            return ""
        if not self.line:
            return self.source.name
        return f"{self.source.name}:{self.line}:{self.column}"

    def format(self) -> str:
        """``FILE:LINE:COL: message``, then the source line and a caret under the column."""
        where = self.location()
        head = f"{where}: {self.message}" if where else self.message
        if self.source is None or not self.line:
            return head
        # Control characters (a NUL byte, say) are shown as their visible Unicode symbols, one
        # column wide, so the caret still lines up.
        text = "".join(chr(0x2400 + ord(c)) if ord(c) < 32 and c != "\t" else c
                       for c in self.source.line_text(self.line))
        # Keep tabs in the caret line so the caret lines up under a tab-indented source line.
        pad = "".join(c if c == "\t" else " " for c in text[: max(self.column - 1, 0)])
        return f"{head}\n    {text}\n    {pad}^"


class SlpError(Exception):
    """A bad program, bad input values or a failed run; carries one or more diagnostics.

    ``exit_code`` is 2 for bad programs and bad input (the user must change what they gave),
    1 for failures while running (a non-finite value under ``strict``, divergence).
    """

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str, exit_code: int = 2):
        if isinstance(diagnostics, str):
            diagnostics = Diagnostic(diagnostics)
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        self.exit_code = exit_code
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class ProgramError(SlpError):
    """The program's text is not a valid straight-line program (exit code 2)."""


class InputError(SlpError):
    """Input values do not fit the program: missing, unknown or repeated names (exit code 2)."""


class RunError(SlpError):
    """A failure while evaluating or optimizing (exit code 1)."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str):
        super().__init__(diagnostics, exit_code=1)
