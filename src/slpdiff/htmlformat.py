"""Results as HTML, for notebooks (Jupyter shows an object's ``_repr_html_``): tables of escaped
text, every number written as :func:`slpdiff.formats.number` writes it, so that it reads back to
the same float64. The style is scoped to ``.slp-out``, so a notebook's own is left alone."""

from __future__ import annotations

import html
from collections.abc import Sequence

from .formats import number

STYLE = """<style>
.slp-out { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.slp-out table { border-collapse: collapse; margin: .3em 0 .8em; }
.slp-out caption { text-align: left; font-weight: bold; padding: .2em 0; }
.slp-out th, .slp-out td { padding: .1em .6em; border-bottom: 1px solid #ccc; text-align: left; }
.slp-out thead th { border-bottom: 2px solid #333; }
.slp-out .n { text-align: right; font-variant-numeric: tabular-nums; }
.slp-out code, .slp-out pre, .slp-out .num {
  font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.slp-out tfoot td { border-bottom: none; }
.slp-out tfoot ul { margin: .2em 0; padding-left: 1.2em; }
.slp-out .slp-warn { border-left: 6px solid #e69f00; padding: .2em .6em; margin: .3em 0;
  background: #fff7e6; white-space: pre-wrap; font-family: monospace; }
.slp-out .slp-warn::before { content: "\\26A0  warning"; display: block; font-weight: bold;
  font-family: system-ui, sans-serif; }
</style>"""

NOT_NUMBERS = ("#", "line")  # right-aligned columns of counts, not of computed numbers


def escape(text) -> str:
    """``text`` safe inside HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def block(*parts: str) -> str:
    """HTML fragments as one notebook output, with the style."""
    return f'{STYLE}<div class="slp-out">{"".join(parts)}</div>'


def warning_html(message: str) -> str:
    """A warning, set apart from the results."""
    return f'<div class="slp-warn" role="note">{escape(message)}</div>'


def table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
          align: str | None = None, code: Sequence[bool] | None = None,
          row_attributes: Sequence[str] | None = None, footer: Sequence[str] = (),
          footer_attributes: str = "", table_id: str = "") -> str:
    """A table of text cells. ``align`` has "l" or "r" per column; ``code`` marks columns of
    program text (in a monospace font); the first code column heads its row. A number in a
    right-aligned column (but "#" and "line") is marked ``class="num"``, its text in a span.
    ``row_attributes`` adds attributes to each row; ``footer`` lines go below, as a list."""
    n = len(headers)
    align = align or "l" * n
    code = code or [False] * n
    heads = [j for j in range(n) if code[j]][:1]
    numeric = [align[j] == "r" and headers[j] not in NOT_NUMBERS for j in range(n)]
    ident = f' id="{escape(table_id)}"' if table_id else ""
    out = [f'<table class="trace"{ident}>'
           f"<caption>{escape(caption)}</caption><thead><tr>"]
    out += [f'<th scope="col"{_right(align[j])}>{escape(h)}</th>' for j, h in enumerate(headers)]
    out.append("</tr></thead><tbody>")
    for r, cells in enumerate(rows):
        attributes = f" {row_attributes[r]}" if row_attributes else ""
        out.append(f"<tr{attributes}>")
        for j, cell in enumerate(cells):
            text = escape(cell)
            if code[j] and cell:
                text = f"<code>{text}</code>"
            tag = "th" if j in heads else "td"
            scope = ' scope="row"' if j in heads else ""
            if numeric[j] and cell and is_number(cell):
                out.append(f'<{tag}{scope} class="n num"><span>{text}</span></{tag}>')
            else:
                out.append(f"<{tag}{scope}{_right(align[j])}>{text}</{tag}>")
        out.append("</tr>")
    out.append("</tbody>")
    if footer:
        attributes = f" {footer_attributes}" if footer_attributes else ""
        items = "".join(f"<li>{escape(line)}</li>" for line in footer)
        out.append(f'<tfoot><tr{attributes}><td colspan="{n}"><ul>{items}</ul></td></tr></tfoot>')
    out.append("</table>")
    return "".join(out)


def _right(a: str) -> str:
    return ' class="n"' if a == "r" else ""


def is_number(text: str | None) -> bool:
    """Is ``text`` a number (``2.0``, ``-1``, ``nan``, ``inf``)?"""
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def evaluation_html(result: dict) -> str:
    """An evaluation as ``slpdiff eval --format json`` gives it (``at``, ``value``, maybe
    ``gradient`` and ``hessian``): a table of the outputs' values and partial derivatives, and a
    table per Hessian."""
    inputs = list(result["at"])
    gradient = result.get("gradient", {})
    wrt = [name for name in inputs if any(name in row for row in gradient.values())]
    at = ", ".join(f"{name} = {number(v)}" for name, v in result["at"].items())
    rows = [[out, number(value), *(number(gradient[out][name]) if name in gradient.get(out, {})
                                   else "" for name in wrt)]
            for out, value in result["value"].items()]
    headers = ["output", "value", *(f"d/d {name}" for name in wrt)]
    parts = [table(f"at {at}" if at else "no inputs", headers, rows,
                   align="lr" + "r" * len(wrt), code=[True] + [False] * (1 + len(wrt)))]
    for out, matrix in result.get("hessian", {}).items():
        columns = list(next(iter(matrix.values()), {}))
        parts.append(table(f"Hessian of {out}, d2 {out}/d row d column", ["", *columns],
                           [[name, *(number(row[c]) for c in columns)]
                            for name, row in matrix.items()],
                           align="l" + "r" * len(columns), code=[True] + [False] * len(columns)))
    return "".join(parts)
