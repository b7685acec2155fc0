"""What the commands share: parameter types, common options, reading programs, warnings."""

from __future__ import annotations

import math
import re
import sys

import click

from ..errors import Diagnostic, RunError, SlpError
from .main import warning

# --- parameter types ----------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NAMED_VALUES = {"pi": math.pi, "e": math.e, "inf": math.inf, "infinity": math.inf,
                 "nan": math.nan}


def parse_value(text: str) -> float:
    """A number as ``--at`` accepts it: a float literal, ``inf``, ``nan``, ``pi`` or ``e``
    (with an optional sign). Raises ValueError otherwise."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    sign, word = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text.removeprefix("+"))
    if word.lower() in ("inf", "infinity", "nan"):
        word = word.lower()
    if word not in _NAMED_VALUES:
        raise ValueError(f"'{text}' is not a number (use e.g. 1, -2.5, 1e-3, inf, nan, pi or e)")
    return sign * _NAMED_VALUES[word]


class PointType(click.ParamType):
    """``NAME=VALUE`` pairs separated by commas: ``x=1,w=4``."""

    name = "NAME=VALUE,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        pairs = []
        for item in value.split(","):
            name, eq, text = item.partition("=")
            name = name.strip()
            if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.fail(f"'{item.strip()}' is not NAME=VALUE (e.g. --at x=1,w=4)", param, ctx)
            try:
                pairs.append((name, parse_value(text)))
            except ValueError as e:
                self.fail(f"{name}: {e}", param, ctx)
        return pairs


class NamesType(click.ParamType):
    """Comma-separated names: ``x,w``."""

    name = "NAME,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        names = [n.strip() for n in value.split(",")]
        for n in names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n):
                self.fail(f"'{n}' is not a name", param, ctx)
        return names


def merge_points(pairs_lists) -> dict[str, float]:
    """One ``name -> value`` dict from every ``--at``; a name given twice is an error."""
    at: dict[str, float] = {}
    for pairs in pairs_lists:
        for name, value in pairs:
            if name in at:
                raise click.BadParameter(f"'{name}' is given twice", param_hint="'--at'")
            at[name] = value
    return at


def merge_names(lists) -> list[str] | None:
    """One list of names from every ``--wrt`` (None when there were none); no repeats."""
    if not lists:
        return None
    names: list[str] = []
    for names_list in lists:
        for n in names_list:
            if n in names:
                raise click.BadParameter(f"'{n}' is given twice", param_hint="'--wrt'")
            names.append(n)
    return names


# --- shared pieces -----------------------------------------------------------------------------

def load_program(path: str):
    """Parse the program at ``path`` (``-``: standard input, called ``<stdin>`` in messages)."""
    from ..parser import parse

    if path == "-":
        return parse(sys.stdin.buffer.read(), name="<stdin>")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise SlpError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SlpError(f"{path}: is a directory, not a program file") from None
    except OSError as e:
        raise SlpError(f"{path}: cannot read: {e.strerror}") from None
    return parse(data, name=path)


def report_nonfinite(evaluation, strict: bool) -> None:
    """Warn about the first non-finite value and derivative; with ``strict``, fail (exit 1)."""
    diagnostics = []
    source = evaluation.program.source
    for w in evaluation.warnings:
        line = w.node.line if source is not None else 0
        diagnostics.append(Diagnostic(w.describe(), source, line, w.node.column))
    if not diagnostics:
        return
    if strict:
        raise RunError(diagnostics)
    for d in diagnostics:
        warning(d.format())


def at_option(f):
    return click.option("--at", "at", type=PointType(), multiple=True, metavar="NAME=VALUE,...",
                        help="Input values, e.g. x=1,w=4 (repeatable). Values: numbers, inf, nan, "
                             "pi, e.")(f)


def wrt_option(help_text):
    return click.option("--wrt", type=NamesType(), multiple=True, metavar="NAME,...",
                        help=help_text)


def format_option(f):
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="Output format.")(f)


def program_argument(f):
    return click.argument("program", type=click.Path(dir_okay=True, allow_dash=True),
                          metavar="PROGRAM")(f)


