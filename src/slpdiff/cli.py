"""The ``slpdiff`` command line: a thin Click layer over the library.

This is the only module that imports click and the only one that prints. Library errors
(:class:`~slpdiff.errors.SlpError`) and Click's own become ``slpdiff: error: ...`` on stderr with
the right exit status in one place, :meth:`SlpdiffGroup.main`.
"""

from __future__ import annotations

import math
import os
import re
import sys

import click

from . import __version__
from .errors import Diagnostic, RunError, SlpError
from .formats import (
    derivative_label,
    evaluation_json,
    evaluation_text,
    json_line,
    number,
    point_text,
)

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class SlpdiffGroup(click.Group):
    """Runs a command and turns every failure into ``slpdiff: error: ...`` and an exit status:
    2 for bad programs, input and options, 1 for failures at run time, 130 for Ctrl-C."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = 0
        except SlpError as e:
            for d in e.diagnostics:
                error(d.format())
            code = e.exit_code
        except click.UsageError as e:
            if e.ctx is not None:
                click.echo(e.ctx.get_usage(), err=True)
                click.echo(f"Try '{e.ctx.command_path} --help' for help.", err=True)
            error(e.format_message())
            code = EXIT_USAGE
        except click.ClickException as e:
            error(e.format_message())
            code = e.exit_code
        except click.exceptions.Exit as e:
            code = e.exit_code
        except (KeyboardInterrupt, click.exceptions.Abort):
            error("interrupted")
            code = EXIT_INTERRUPTED
        except BrokenPipeError:
            code = _quiet_broken_pipe()
        if not standalone_mode:
            return code
        sys.exit(code)


def error(message: str) -> None:
    """Print ``slpdiff: error: message`` on stderr."""
    click.echo(f"slpdiff: error: {message}", err=True)


def warning(message: str) -> None:
    """Print ``slpdiff: warning: message`` on stderr."""
    click.echo(f"slpdiff: warning: {message}", err=True)


def _quiet_broken_pipe() -> int:
    # The reader went away (e.g. `| head`): stop quietly. Point stdout at devnull so that the
    # interpreter's final flush does not raise again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


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
    from .parser import parse

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


# --- commands ------------------------------------------------------------------------------------

@click.group(cls=SlpdiffGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="slpdiff")
def cli():
    """Differentiate straight-line programs: values, partial derivatives, gradient descent.

    \b
    Examples:
      slpdiff eval examples/seed.slp --at x=1,w=4
      slpdiff optimize examples/seed.slp --at x=1,w=4 --wrt w --lr 0.1 --steps 30
      slpdiff functions

    PROGRAM is a .slp file, or - for standard input. Exit status: 0 success, 1 failure at run
    time, 2 bad program, input or options, 130 interrupted.
    """


@cli.command("eval")
@program_argument
@at_option
@wrt_option("Differentiate with respect to these inputs only (default: all).")
@format_option
@click.option("--strict", is_flag=True,
              help="Fail (exit 1) if a value or derivative is not finite.")
def eval_command(program, at, wrt, fmt, strict):
    """Print each output's value and its partial derivatives by reverse mode.

    \b
    Examples:
      slpdiff eval examples/seed.slp --at x=1,w=4
      slpdiff eval examples/seed.slp --at x=1 --at w=4 --wrt w --format json
      echo 'y = sin(x)^2' | slpdiff eval - --at x=pi
    """
    from .engine import evaluate

    prog = load_program(program)
    evaluation = evaluate(prog, merge_points(at), merge_names(wrt))
    report_nonfinite(evaluation, strict)
    if fmt == "json":
        click.echo(json_line(evaluation_json(evaluation)))
    else:
        click.echo("\n".join(evaluation_text(evaluation)))


@cli.command("optimize")
@program_argument
@at_option
@wrt_option("Inputs to optimize over (default: all); the others are held fixed.")
@click.option("--objective", metavar="NAME", help="The output to minimize (needed when there are "
                                                  "several).")
@click.option("--lr", type=float, default=0.1, show_default=True, help="Learning rate (step size).")
@click.option("--steps", type=click.IntRange(min=0), default=100, show_default=True,
              help="Maximum number of updates.")
@click.option("--tol", type=click.FloatRange(min=0), default=1e-10, show_default=True,
              help="Stop when the gradient's 2-norm is at most this.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Print every K-th step (and always the last).")
@format_option
def optimize_command(program, at, wrt, objective, lr, steps, tol, every, fmt):
    """Minimize an output by gradient descent: x <- x - lr * gradient.

    Prints one line (or JSON object) per step with the point, the value and the gradient there,
    before the update; then why it stopped and the final point with its value and gradient.

    \b
    Examples:
      slpdiff optimize examples/seed.slp --at x=1,w=4 --wrt w --lr 0.1 --steps 30
      slpdiff optimize examples/rosenbrock.slp --at x=-1.2,y=1 --lr 0.001 --steps 5000 \\
          --every 500 --format json
    """
    from .optimize import choose_objective, gradient_descent

    prog = load_program(program)
    point = merge_points(at)
    wrt = merge_names(wrt)
    shown = [name for name in prog.input_names if wrt is None or name in wrt]
    objective = choose_objective(prog, objective)
    last_unprinted = []

    def show(step):
        if fmt == "json":
            click.echo(json_line({"step": step.index, **evaluation_json(step.evaluation)}))
        else:
            click.echo(f"step {step.index}: {_step_text(step, shown)}")

    def on_step(step):
        last_unprinted.clear()
        if step.index % every == 0:
            show(step)
        else:
            last_unprinted.append(step)

    result = gradient_descent(prog, point, wrt, objective, lr=lr, steps=steps, tol=tol,
                              callback=on_step)
    for step in last_unprinted:  # --every: the last step is always shown
        show(step)
    final = result.final
    if fmt == "json":
        click.echo(json_line({"status": result.status, "steps": result.steps,
                              **evaluation_json(final.evaluation)}))
    else:
        click.echo(f"stopped: {result.status} after {result.steps} steps")
        click.echo(f"final: {_step_text(final, shown)}")
    if result.status == "diverged":
        bad = result.diverged_at
        raise RunError(f"diverged at step {bad.index}: {_nonfinite_part(bad)} is not finite; "
                       f"the final point shown is the last finite one. A smaller --lr may help.")


def _step_text(step, names) -> str:
    parts = [point_text(step.at, names), f"{step.objective} = {number(step.value)}"]
    parts += [f"{derivative_label(step.objective, n)} = {number(g)}"
              for n, g in step.gradient.items()]
    return ", ".join(parts)


def _nonfinite_part(step) -> str:
    if not math.isfinite(float(step.value)):
        return f"the value {step.objective} = {number(step.value)}"
    for name, g in step.gradient.items():
        if not math.isfinite(float(g)):
            return f"the derivative {derivative_label(step.objective, name)} = {number(g)}"
    return "a value"


@cli.command("functions")
@format_option
def functions_command(fmt):
    """List the functions of the language with their partial-derivative rules.

    \b
    Examples:
      slpdiff functions
      slpdiff functions --format json
    """
    from .primitives import CONSTANTS, PRIMITIVES

    if fmt == "json":
        for p in PRIMITIVES.values():
            click.echo(json_line({"name": p.name, "params": list(p.params), "arity": p.arity,
                                  "infix": p.infix, "kind": p.kind, "doc": p.doc,
                                  "partials": dict(zip(p.params, p.partials, strict=True))}))
        return
    width = max(len(p.signature) for p in PRIMITIVES.values())
    for kind, title in (("function", "Functions"), ("helper", "Helpers used by derivative rules")):
        click.echo(f"{title}:")
        for p in PRIMITIVES.values():
            if p.kind == kind:
                rules = "; ".join(f"d/d{param} = {rule}"
                                  for param, rule in zip(p.params, p.partials, strict=True))
                click.echo(f"  {p.signature:<{width}}  {p.doc}")
                click.echo(f"  {'':<{width}}    {rules}")
        click.echo()
    click.echo("Constants: " + ", ".join(f"{k} = {number(v)}" for k, v in CONSTANTS.items()))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="slpdiff")

