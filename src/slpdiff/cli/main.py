"""The ``slpdiff`` command group and the one place where failures become exit statuses.

Library errors (:class:`~slpdiff.errors.SlpError`) and Click's own become ``slpdiff: error: ...``
on stderr with the right exit status in :meth:`SlpdiffGroup.main`; commands just raise. Any
other exception is a bug in slpdiff: it becomes one ``slpdiff: error: internal error: ...`` line
and exit status 1, with the traceback only under ``--debug`` or ``SLPDIFF_DEBUG=1`` (for a bug
report), never by default.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import threading
from typing import NoReturn

import click

from ..errors import SlpError
from ..version import __version__

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEBUG_VARIABLE = "SLPDIFF_DEBUG"


class SlpdiffGroup(click.Group):
    """Runs a command and turns every failure into ``slpdiff: error: ...`` and an exit status:
    2 for bad programs, input and options, 1 for failures at run time and internal errors (bugs),
    130 for Ctrl-C."""

    debug = False  # set by --debug (an eager option, so it is known however early a bug strikes)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = {}  # command name -> "module:attribute", not imported yet

    def register(self, commands: dict[str, str]) -> None:
        """Add commands by where they are (``{"eval": "cmd_eval:eval_command"}``, modules of
        this package), to be imported when one is run or listed."""
        self.lazy.update(commands)

    def list_commands(self, ctx) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx, name: str):
        if name not in self.commands and name in self.lazy:
            import importlib

            module, _, attribute = self.lazy[name].partition(":")
            command = getattr(importlib.import_module(f".{module}", __package__), attribute)
            self.add_command(command, name)
            _collect_again()
        return super().get_command(ctx, name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        self.debug = False  # each run (CliRunner runs many in one process) starts without --debug
        try:
            super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = 0
        except SlpError as e:
            for d in e.diagnostics:
                error(d.format())
            code = e.exit_code
        except click.exceptions.NoArgsIsHelpError as e:  # Click's convention: help on stderr, 2
            click.echo(e.format_message(), err=True)
            code = EXIT_USAGE
        except click.UsageError as e:
            if e.ctx is not None:
                click.echo(e.ctx.get_usage(), err=True)
                click.echo(f"Try '{e.ctx.command_path} --help' for help.", err=True)
            error(_with_hint(e))
            code = EXIT_USAGE
        except click.ClickException as e:
            error(e.format_message())
            code = e.exit_code
        except click.exceptions.Exit as e:
            code = e.exit_code
        except (KeyboardInterrupt, click.exceptions.Abort):
            error("interrupted")
            code = EXIT_INTERRUPTED
        except (BrokenPipeError, _StdoutClosed):
            code = _quiet_broken_pipe()
        except Exception as e:  # a bug: one line, not a traceback, unless asked for one
            code = _internal_error(e, self.debug or debug_from_environment())
        if not standalone_mode:
            return code
        sys.exit(code)

    def invoke(self, ctx):
        # Click turns a closed pipe into exit status 1; a reader that stops reading (`| head`)
        # is no failure of ours, so it is passed on to main() under another name.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _StdoutClosed() from None


def _with_hint(e: click.UsageError) -> str:
    """Click's message, and what was probably meant where a common slip is recognized: values
    given without ``--at`` (``slpdiff eval p.slp x=1,y=2``)."""
    message = e.format_message()
    match = re.fullmatch(r"Got unexpected extra arguments? \((.*)\)", message)
    if match and e.ctx is not None and has_option("--at", e.ctx):
        values = match.group(1).split(" ")
        if all("=" in v and not v.startswith("-") for v in values):
            message += f"; did you mean --at {','.join(values)}?"
    return message


def has_option(option: str, ctx: click.Context | None = None) -> bool:
    """Does the running command (or ``ctx``'s) have ``option``? A message suggests only options
    the command has: the same warning is printed by ``eval`` and by ``optimize``."""
    ctx = ctx or click.get_current_context(silent=True)
    return ctx is not None and any(option in p.opts for p in ctx.command.params)


def debug_from_environment() -> bool:
    """True when ``SLPDIFF_DEBUG`` is set to anything but empty or ``0``."""
    return os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0")


def _internal_error(e: Exception, debug: bool) -> int:
    """Report an unexpected exception (a bug in slpdiff); the traceback only when debugging."""
    what = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    if debug:
        import traceback

        error(f"internal error: {what}")
        click.echo("".join(traceback.format_exception(e)).rstrip("\n"), err=True)
    else:
        error(f"internal error: {what} (run again with --debug or {DEBUG_VARIABLE}=1 for a "
              "traceback to include in a bug report)")
    return EXIT_RUN_FAILED


def _set_debug(ctx, param, value) -> None:
    if value:
        ctx.command.debug = True


class _StdoutClosed(Exception):
    """Standard output was closed by its reader."""


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


@click.group(cls=SlpdiffGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="slpdiff")
@click.option("--debug", is_flag=True, is_eager=True, expose_value=False, callback=_set_debug,
              help=f"On an internal error (a bug), print the traceback for a bug report (also "
                   f"{DEBUG_VARIABLE}=1).")
def cli():
    """Differentiate straight-line programs: values, partial derivatives, Hessians, the adjoint
    program, checks against finite differences, gradient descent.

    \b
    Examples:
      slpdiff eval examples/seed.slp --at x=1,w=4
      slpdiff eval examples/rosenbrock.slp --at x=1,y=1 --hessian
      slpdiff grad examples/seed.slp | slpdiff eval - --at x=1,w=4
      slpdiff check examples/seed.slp --at x=1,w=4
      slpdiff optimize examples/seed.slp --at x=1,w=4 --wrt w --lr 0.1 --steps 30
      slpdiff functions

    PROGRAM is a .slp file, or - for standard input. Exit status: 0 success, 1 failure at run
    time (or an internal error), 2 bad program, input or options, 130 interrupted.
    """


def main() -> None:
    """Run the command line in ``sys.argv`` and raise ``SystemExit`` with its exit status (for a
    script that runs slpdiff's command line and goes on; the ``slpdiff`` command is :func:`run`)."""
    sys.exit(_command_line())


def run() -> NoReturn:
    """The ``slpdiff`` command (console-script entry point): the command line in ``sys.argv``,
    then the process ends.

    The interpreter's teardown (freeing numpy's, Click's and slpdiff's modules object by object)
    is about a sixth of a small run's time, and nothing of slpdiff's waits for it: a command's
    files are written, closed and renamed before it returns. So once what was printed is flushed
    the process ends at once, unless threads or child processes are still running (the slices'
    thread pool, a Dask cluster): those get the interpreter's own ending, which waits for them."""
    code = _command_line()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away, or the stream is closed
            code = code or _quiet_broken_pipe()
    if threading.active_count() > 1 or "multiprocessing" in sys.modules:
        sys.exit(code)
    os._exit(code)


def _command_line() -> int:
    # Importing numpy and a command makes hundreds of thousands of objects and nothing to
    # collect: no garbage collections until the command is loaded (about 15 ms of numpy's 250 on
    # the machine of docs/performance.md; a small run's start is mostly imports).
    global _collections_paused
    if gc.isenabled():
        gc.disable()
        _collections_paused = True
    try:
        return cli(prog_name="slpdiff", standalone_mode=False)
    finally:
        _collect_again()


_collections_paused = False


def _collect_again() -> None:
    global _collections_paused
    if _collections_paused:
        _collections_paused = False
        gc.enable()

