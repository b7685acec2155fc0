"""What the commands share: parameter types, common options, reading programs, warnings."""

from __future__ import annotations

import contextlib
import math
import re
import sys

import click
from click.core import ParameterSource

from ..errors import Diagnostic, RunError, SlpError, printable
from .main import warning

# --- parameter types ----------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NAMED_VALUES = {"pi": math.pi, "e": math.e, "inf": math.inf, "infinity": math.inf,
                 "nan": math.nan}


def parse_value(text: str) -> float:
    """A number as ``--at`` accepts it: a float literal, ``inf``, ``nan``, ``pi`` or ``e``
    (with an optional sign), or a constant expression of the language (``pi/3``, ``sqrt(2)/2``,
    ``2^-10``), which the language's own parser reads and the engine evaluates. Raises
    ValueError otherwise."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    sign, word = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text.removeprefix("+"))
    if word.lower() in ("inf", "infinity", "nan"):
        word = word.lower()
    if word in _NAMED_VALUES:
        return sign * _NAMED_VALUES[word]
    return constant_expression(text)


def constant_expression(text: str) -> float:
    """The value of ``text``, an expression of the language without names (``pi/3``), by the
    parser and the engine. Raises ValueError with the parser's message otherwise."""
    hint = "use e.g. 1, -2.5, 1e-3, inf, nan, pi, e or an expression such as pi/3"
    if not text or any(c in text for c in ";\n\r=#"):
        raise ValueError(f"'{text}' is not a number ({hint})")
    from ..core.engine import forward
    from ..errors import ProgramError
    from ..language.parser import parse

    try:
        program = parse(f"value = {text}", name="value")
    except ProgramError as e:
        detail = e.diagnostics[0].message if e.diagnostics else str(e)
        raise ValueError(f"'{text}' is not a number or a constant expression: {detail} "
                         f"({hint})") from None
    if program.input_names:
        names = ", ".join(repr(n) for n in program.input_names)
        raise ValueError(f"'{text}' is not a number (a constant expression cannot read {names}; "
                         f"{hint})")
    return float(forward(program, [])[program.output_index[0]])


class PointType(click.ParamType):
    """``NAME=VALUE`` pairs separated by commas: ``x=1,w=4``; a value ``start:stop:step`` is a
    range of a grid (:class:`~slpdiff.rows.grid.Range`); ``@FILE`` (``@-``: standard input)
    reads the values from a JSON object."""

    name = "NAME=VALUE,..."

    def fail(self, message, param=None, ctx=None):
        super().fail(printable(message), param, ctx)

    def convert(self, value, param, ctx):
        if isinstance(value, (list, JsonPoint)):
            return value
        if value.startswith("@"):
            return self._from_json(value[1:], param, ctx)
        pairs = []
        for item in _top_level_split(value):
            name, eq, text = item.partition("=")
            name = name.strip()
            if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.fail(f"'{item.strip()}' is not NAME=VALUE (e.g. --at x=1,w=4)", param, ctx)
            try:
                if ":" in text:  # a grid's range (the grid module only when one is asked for)
                    from ..rows.grid import parse_range

                    pairs.append((name, parse_range(text, parse_value)))
                else:
                    pairs.append((name, parse_value(text)))
            except ValueError as e:
                self.fail(f"{name}: {e}", param, ctx)
        return pairs

    def _from_json(self, path, param, ctx):
        if not path:
            self.fail("'@' needs a file name, or - for standard input (e.g. --at @point.json)",
                      param, ctx)
        if path == "-":  # claimed now, before PROGRAM - could read it; read when the command runs
            claim_stdin("--at @-")
            return JsonPoint(path)
        try:
            return JsonPoint(path).pairs()
        except click.BadParameter as e:
            self.fail(e.message, param, ctx)


def _top_level_split(text: str) -> list[str]:
    """``text`` split at the commas outside parentheses (``x=atan2(1, 2),w=4``: two items)."""
    items, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth <= 0:
            items.append(text[start:k])
            start = k + 1
    items.append(text[start:])
    return items


class JsonPoint:
    """``--at @FILE``: input values from a JSON object in FILE (``-``: standard input)."""

    def __init__(self, path: str):
        self.path = path

    def pairs(self) -> list[tuple[str, float]]:
        """The (name, value) pairs; a file that cannot be read is a BadParameter (exit 2)."""
        from ..rows.points import DataError, parse_point_json

        name = _input_name(self.path)
        try:
            with open_binary(self.path, "--at @-") as f:
                data = f.read()
            if b"\0" in data:
                raise click.BadParameter(f"{name}: not a JSON text file (it has NUL bytes)",
                                         param_hint="'--at'")
            pairs = list(parse_point_json(data.decode("utf-8"), name).items())
        except UnicodeDecodeError:
            raise click.BadParameter(f"{name}: not UTF-8 text", param_hint="'--at'") from None
        except (DataError, SlpError) as e:
            raise click.BadParameter(str(e), param_hint="'--at'") from None
        for key, _ in pairs:  # no input has another name; and a key may hold a line break
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise click.BadParameter(f"{name}: '{printable(key)}' is not a name",
                                         param_hint="'--at'")
        return pairs


class NamesType(click.ParamType):
    """Comma-separated names: ``x,w``."""

    name = "NAME,..."

    def fail(self, message, param=None, ctx=None):
        super().fail(printable(message), param, ctx)

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
        for name, value in pairs.pairs() if isinstance(pairs, JsonPoint) else pairs:
            if name in at:
                raise click.BadParameter(f"'{name}' is given twice", param_hint="'--at'")
            at[name] = value
    return at


def one_point(pairs_lists, option: str = "--at") -> dict[str, float]:
    """:func:`merge_points` for an option that takes one point: a grid's range
    (``x=0:1:0.25``, which only ``eval --at`` evaluates) is a usage error, not a value."""
    point, ranges = split_grid(merge_points(pairs_lists))
    if ranges:
        raise click.BadParameter(f"'{next(iter(ranges))}': a grid (start:stop:step) is for "
                                 "eval --at; this option takes one number per name",
                                 param_hint=f"'{option}'")
    return point


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
    """Parse the program at ``path`` (``-``: standard input, called ``<stdin>`` in messages); a
    file parsed before and unchanged since comes from the cache of parsed programs."""
    from ..language.lookalikes import lookalike_warnings
    from ..language.parser import parse

    with open_binary(path, "the program -", "a program file") as f:
        data = f.read()
    program = parse(data, name=_input_name(path), cache=path != "-")
    for d in lookalike_warnings(program):
        warning(d.format())
    return program


def open_binary(path: str, stdin_user: str, what: str = "a file"):
    """``path`` opened for reading bytes, unbuffered; ``-`` is standard input, which only one
    option (``stdin_user``, e.g. ``--points -``) may read. Errors say what is wrong with it."""
    if path == "-":
        claim_stdin(stdin_user)
        return contextlib.nullcontext(sys.stdin.buffer)
    try:
        return open(path, "rb", buffering=0)
    except FileNotFoundError:
        raise SlpError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SlpError(f"{path}: is a directory, not {what}") from None
    except OSError as e:
        raise SlpError(f"{path}: cannot read: {e.strerror}") from None


def _input_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def claim_stdin(user: str) -> None:
    """Note that ``user`` reads standard input; a second reader is a usage error (exit 2)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return
    meta = ctx.find_root().meta
    first = meta.setdefault("slpdiff.stdin", user)
    if first != user:
        raise click.UsageError(f"standard input can feed only one of {first} and {user}")


def split_grid(point: dict) -> tuple[dict[str, float], dict]:
    """``--at`` values split into single numbers and grid ranges (``x=0:1:0.25``)."""
    if all(isinstance(v, float) for v in point.values()):
        return dict(point), {}
    from ..rows.grid import Range

    ranges = {name: v for name, v in point.items() if isinstance(v, Range)}
    return {name: v for name, v in point.items() if name not in ranges}, ranges


def report_nonfinite(evaluation, strict: bool) -> None:
    """Warn about the first non-finite value and derivative; with ``strict``, fail (exit 1)."""
    diagnostics = nonfinite_diagnostics(evaluation.program, evaluation.warnings)
    if not diagnostics:
        return
    if strict:
        raise RunError(diagnostics)
    for d in diagnostics:
        warning(d.format())


def nonfinite_diagnostics(program, warnings, where=()) -> list[Diagnostic]:
    """One diagnostic per :class:`~slpdiff.core.engine.NonFinite`, pointing into the program;
    ``where`` adds, for each, where it first happened (``points.csv:57``)."""
    diagnostics = []
    source = program.source
    for k, w in enumerate(warnings):
        line = w.line if source is not None else 0
        first = f"; first at {where[k]}" if k < len(where) else ""
        diagnostics.append(Diagnostic(w.describe() + first, source, line, w.column))
    return diagnostics


def rows_failure(program, result) -> RunError:
    """The error of a run over rows (a ``BatchResult``) that stopped at its first non-finite
    result (``--strict``): where the value or derivative first was not finite, else which result
    beyond first derivatives was not."""
    return RunError(nonfinite_diagnostics(program, result.warnings, result.where)
                    or "; ".join(result.beyond_messages()))


def warn_about_rows(program, result) -> None:
    """The warnings of a finished run over rows (a ``BatchResult``): non-finite values and
    derivatives, results beyond first derivatives that are not finite, derivatives on kinks."""
    for d in nonfinite_diagnostics(program, result.warnings, result.where):
        warning(d.format())
    for message in result.beyond_messages():
        warning(message)
    for hit, where in zip(result.kinks, result.kink_where, strict=True):
        warning(hit.diagnostic(program, where).format())


def at_option(f):
    return click.option("--at", "at", type=PointType(), multiple=True, metavar="NAME=VALUE,...",
                        help="Input values, e.g. x=1,w=4 (repeatable). Values: numbers, inf, nan, "
                             "pi, e, constant expressions (t=pi/3); start:stop:step makes a grid "
                             "(eval); @FILE or @- reads a JSON object of values.")(f)


def wrt_option(help_text):
    return click.option("--wrt", type=NamesType(), multiple=True, metavar="NAME,...",
                        help=help_text)


class ThreadsType(click.ParamType):
    """A number of threads: a whole number, 1 or more."""

    name = "N"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        from ..fast.threads import thread_count

        try:
            return thread_count(value)
        except ValueError as e:
            source = ctx.get_parameter_source(param.name) if ctx and param else None
            where = "SLPDIFF_THREADS: " if source is ParameterSource.ENVIRONMENT else ""
            self.fail(printable(where + str(e)), param, ctx)


def _use_threads(ctx: click.Context, param, count: int | None) -> None:
    """Rows evaluated on ``count`` threads for this command's run (the setting before it is
    restored after: the command may run in-process, from a notebook or a test)."""
    if count is None:
        return
    from ..fast.threads import set_threads

    previous = set_threads(count)
    ctx.call_on_close(lambda: set_threads(previous))


def threads_option(f):
    return click.option("--threads", type=ThreadsType(), envvar="SLPDIFF_THREADS",
                        expose_value=False, callback=_use_threads, is_eager=False,
                        help="Evaluate rows on N threads (default: SLPDIFF_THREADS, else one "
                             "per core); the results are the same, bit for bit.")(f)


def format_option(f):
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                        show_default=True, help="Output format.")(f)


def program_argument(f):
    return click.argument("program", type=click.Path(dir_okay=True, allow_dash=True),
                          metavar="PROGRAM")(f)


def report_kinks(evaluation, where=None) -> None:
    """Warn, once per call, about each derivative taken exactly where its function is not
    differentiable, naming the convention used (see :mod:`slpdiff.core.kinks`); ``where(hit)``, if
    given, says where it happened (``the final point``)."""
    import numpy as np

    from ..core.kinks import find

    if not evaluation.gradient:
        return  # no derivatives were taken
    outputs = list(evaluation.gradient)
    wrt = list(next(iter(evaluation.gradient.values())))
    rows = max((int(np.size(v)) for v in evaluation.at.values()), default=1)
    for hit in find(evaluation.program, evaluation.node_values, wrt, outputs, rows=rows):
        warning(hit.diagnostic(evaluation.program, where and where(hit)).format())
