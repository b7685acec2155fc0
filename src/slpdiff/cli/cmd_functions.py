"""``slpdiff functions``: the primitive table, with derivative rules."""

from __future__ import annotations

import click

from ..formats import json_line, number
from .options import format_option


@click.command("functions")
@format_option
def functions_command(fmt):
    """List the functions of the language with their partial-derivative rules.

    \b
    Examples:
      slpdiff functions
      slpdiff functions --format json
    """
    from ..language.primitives import CONSTANTS, PRIMITIVES

    if fmt == "json":
        for p in PRIMITIVES.values():
            click.echo(json_line({"name": p.name, "params": list(p.params), "arity": p.arity,
                                  "infix": p.infix, "kind": p.kind, "doc": p.doc,
                                  "partials": dict(zip(p.params, p.partials, strict=True)),
                                  "kink": p.kink}))
        return
    width = max(len(p.signature) for p in PRIMITIVES.values())
    for kind, title in (("function", "Functions"), ("helper", "Helpers used by derivative rules")):
        click.echo(f"{title}:")
        for p in PRIMITIVES.values():
            if p.kind == kind:
                rules = "; ".join(f"d/d{param} = {rule}"
                                  for param, rule in zip(p.params, p.partials, strict=True))
                if p.kink is not None:
                    rules += f"; not differentiable {p.kink_where}"
                click.echo(f"  {p.signature:<{width}}  {p.doc}")
                click.echo(f"  {'':<{width}}    {rules}")
        click.echo()
    click.echo("Constants: " + ", ".join(f"{k} = {number(v)}" for k, v in CONSTANTS.items()))


