"""``slpdiff gradbench``: slpdiff as a tool of GradBench, speaking its protocol on stdin/stdout."""

from __future__ import annotations

import json
import sys
import traceback

import click

from ..errors import InputError
from ..rows.atomic import atomic_output
from .main import debug_from_environment, error


@click.command("gradbench")
@click.option("--stats", "stats_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write one JSON line per program made (statements, nodes, characters, "
                   "generate and parse seconds) and per function compiled, to this file.")
@click.pass_context
def gradbench_command(ctx, stats_path):
    """Act as a GradBench tool: read GradBench's messages (JSON lines) on standard input and
    write one response line per message on standard output, nothing else.

    Each eval's function is written as an SLP program per size, parsed once, and differentiated
    by slpdiff. Evals: hello, llsq, lse, det, kmeans, gmm, ba, ode, lstm, ht; particle and
    saddle are declined (their loops run until a value crosses a bound). Failures are answered
    with "success": false and the reason; run-time notes go to standard error.

    \b
    Examples:
      echo '{"id": 0, "kind": "start"}' | slpdiff gradbench
      gradbench run --eval llsq --tool "$ slpdiff gradbench" -o log.jsonl
    """
    from ..gradbench.protocol import ProtocolError, Session, encode

    records: list[dict] = []

    def keep(record: dict) -> None:
        # Rewritten whole at each record: a run GradBench stops at its timeout keeps them.
        records.append(record)
        if stats_path:
            with atomic_output(stats_path) as out:
                out.write("".join(json.dumps(r) + "\n" for r in records))

    session = Session(on_record=keep)
    debug = ctx.find_root().command.debug or debug_from_environment()
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
            response = session.respond(message)
        except (ValueError, ProtocolError) as e:
            raise InputError(f"<stdin>:{number}: not a GradBench message: {e}") from None
        click.echo(encode(response))
        sys.stdout.flush()
        _note(message, response, session, debug)


def _note(message: dict, response: dict, session, debug: bool) -> None:
    """What a person watching the run should know, on stderr: failures and invalid results."""
    kind = message.get("kind")
    if kind == "evaluate" and response.get("success") is False:
        error(f"message {message['id']} ({message.get('module')}::{message.get('function')}, "
              f"{message.get('description') or 'no description'}): {response.get('error')}")
        if debug and session.last_error is not None:
            click.echo("".join(traceback.format_exception(session.last_error)).rstrip("\n"),
                       err=True)
        session.last_error = None
    elif kind == "analysis" and message.get("valid") is False:
        error(f"GradBench judged the output of message {message.get('of')} invalid: "
              f"{str(message.get('error') or '')[:1000]}")
