"""The lesson page: one self-contained HTML file that steps through a trace's sweeps like a movie.

The forward sweep fills in the values node by node; the reverse sweep starts from the output's
adjoint 1 and pushes adjoints back along the edges, each step showing the update as ``slpdiff
trace`` writes it (``w_bar += v6_bar * v4 = ...``); ``mode="forward"`` gives the tangent sweep the
same way. The page shows the program (the current line marked), the graph (each node's value and
adjoint once computed, each edge's local partial), the trace tables (the current row marked) and
the controls; it needs no network: the SVG, the style and a small script of our own are inline
(the templates ship with the package).

Every number is the engine's own, from the :class:`~slpdiff.teach.trace.Trace` records, written
with :func:`slpdiff.formats.number`. Past :data:`LIMIT_NODES` nodes or :data:`LIMIT_STEPS` steps
the page shows the program and how to make the lesson smaller (``--of``, ``--wrt``) instead, and
still loads at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.engine import Evaluation
from ..core.schedule import reaches, select
from ..formats import point_text
from ..htmlformat import escape
from ..language.printer import to_slp
from ..language.program import Program
from ..version import __version__
from .html import table_html
from .lesson_layout import layout
from .lesson_model import LIMIT_NODES, LIMIT_STEPS, Model
from .lesson_svg import render_svg, template
from .tables import trace_tables
from .trace import trace

SHOWN_LINES = 500  # program lines on a page too large for a movie


@dataclass
class Lesson:
    """A lesson page (``html``) and what it holds."""

    html: str
    title: str
    nodes: int
    steps: int  # 0 when the page is too large for a movie
    layout: str  # what laid the graph out ("" when there is none)
    too_large: str = ""  # why there is no movie (plain text), or ""
    warnings: list[str] = field(default_factory=list)  # as the page shows them
    evaluation: Evaluation | None = field(default=None, repr=False)  # None: not evaluated

    def _repr_html_(self) -> str:
        return iframe(self.html, f"slpdiff lesson: {self.title}")


def iframe(page: str, title: str, height: int = 900) -> str:
    """``page`` in an iframe (its own document: its style and keys stay inside), as a notebook
    shows it; the frame can be resized from its corner."""
    return (f'<div style="resize: vertical; overflow: hidden; height: {height}px; '
            'min-height: 200px; border: 1px solid #999; border-radius: 4px;">'
            f'<iframe srcdoc="{escape(page)}" sandbox="allow-scripts" title="{escape(title)}" '
            'style="width: 100%; height: 100%; border: 0;"></iframe></div>')


def build(program: Program, at, wrt: Sequence[str] | None = None,
          outputs: Sequence[str] | None = None, mode: str = "reverse", use_dot: bool = True,
          title: str = "program") -> Lesson:
    """The lesson of ``program`` at ``at`` (the arguments of :func:`~slpdiff.teach.trace.trace`).
    Only the nodes that reach ``outputs`` are shown, when outputs are named; ``use_dot`` lets
    Graphviz lay the graph out when it is installed."""
    count = lesson_nodes(program, outputs)
    if count > LIMIT_NODES:  # known before any evaluation: nothing is traced
        return _too_large(program, title, outputs, count, None)
    tr = trace(program, at, wrt, outputs, mode)
    model = Model(tr, outputs)
    if len(model.steps) - 1 > LIMIT_STEPS:
        return _too_large(program, title, outputs, count, len(model.steps) - 1)
    return page(model, title, use_dot)


def lesson_nodes(program: Program, outputs: Sequence[str] | None = None) -> int:
    """How many nodes a lesson of ``program`` draws (for ``outputs``, those that reach them)."""
    keep = reaches(program, select(program, None, outputs).output_nodes) if outputs else None
    names, consts = program.names, program.consts
    return sum(1 for i in range(len(program))
               if (keep is None or keep[i]) and not (consts[i] is not None and names[i] is None))


def page(model: Model, title: str = "program", use_dot: bool = True) -> Lesson:
    """The lesson page of ``model``."""
    tr = model.trace
    geometry = layout(model, use_dot)
    last = len(model.steps) - 1
    source = _text(tr.program)
    warned = {n.line for n in model.nodes if n.warnings}
    body = _fill(template("lesson.html"), {
        "LAST": str(last), "PROGRAM": program_html(source, warned),
        "WARNINGS": _warnings_html(model), "LEGEND": template("legend.html"),
        "LAYOUT": escape(geometry.source), "SVG": render_svg(model, geometry),
        "TABLES": _tables_html(model)})
    data = json.dumps({"steps": [s.compact() for s in model.steps]}, separators=(",", ":"),
                      ensure_ascii=False)
    summary = (f"{len(model.nodes)} nodes, {len(model.edges)} edges, {last} steps; graph "
               f"layout: {geometry.source}")
    html = _page(title, _heading(model), _at(tr), summary, body, _script_safe(data),
                 template("lesson.js"))
    messages = [w for n in model.nodes for w in n.warnings] + model.general_warnings
    return Lesson(html, title, len(model.nodes), last, geometry.source, warnings=messages,
                  evaluation=tr.evaluation)


def _heading(model: Model) -> str:
    kinds = {s.kind for s in model.sweeps}
    mode = ("reverse mode" if "reverse" in kinds else
            "forward (tangent) mode" if "tangent" in kinds else "the forward sweep")
    return f"{mode}, step by step"


def _at(tr) -> str:
    names = tr.program.input_names
    return f"at {point_text(tr.at, names)}" if names else "no inputs"


def _page(title: str, heading: str, at: str, summary: str, body: str, data: str,
          script: str) -> str:
    return _fill(template("page.html"), {
        "VERSION": escape(__version__), "TITLE": escape(f"{title}: {heading}"),
        "HEADING": escape(f"{title}: {heading}"), "AT": escape(at), "SUMMARY": escape(summary),
        "CSS": template("lesson.css"), "BODY": body, "DATA": data, "SCRIPT": script})


def _fill(text: str, values: dict[str, str]) -> str:
    """``{{KEY}}`` replaced by ``values[KEY]`` in one pass: text put in is never read again, so a
    program that contains ``{{AT}}`` stays as it is."""
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: values[m.group(1)], text)


def _script_safe(data: str) -> str:
    """JSON that cannot end its ``<script>`` element early (``</script>`` in a program's text)."""
    return data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _text(program: Program) -> str:
    return program.source.text if program.source is not None else to_slp(program)


def program_html(text: str, warned: set[int] = frozenset(), limit: int | None = None) -> str:
    """The program's text as numbered lines (ids ``L1``, ``L2``, ...), lines with a warning
    marked; at most ``limit`` lines."""
    lines = text.splitlines() or [""]
    items = []
    for k, line in enumerate(lines[:limit], start=1):
        mark = ' class="warned-line"' if k in warned else ""
        items.append(f'<li id="L{k}"{mark}><code>{escape(line) or " "}</code></li>')
    more = ""
    if limit is not None and len(lines) > limit:
        more = f'<p class="more">... and {len(lines) - limit:,} more lines.</p>'
    return '<ol class="code">' + "".join(items) + "</ol>" + more


def _warnings_html(model: Model) -> str:
    items = [f"<li><code>{escape(n.name)}</code>{f' (line {n.line})' if n.line else ''}: "
             f"{escape(w)}</li>" for n in model.nodes for w in n.warnings]
    items += [f"<li>{escape(w)}</li>" for w in model.general_warnings]
    if not items:
        return ""
    return ('<section id="warnings" aria-labelledby="warnings-h"><h2 id="warnings-h">'
            f'<span aria-hidden="true">⚠</span> Warnings</h2><ul>{"".join(items)}</ul></section>')


def _tables_html(model: Model) -> str:
    """The trace's tables, each row with the step that reveals it (``data-s``)."""
    tr, kept = model.trace, model.by_name
    tables = trace_tables(tr)
    forward, sweeps = tables[0], tables[1:]
    forward.rows = [row for row, r in zip(forward.rows, tr.forward, strict=True)
                    if r.name in kept]
    out = ['<div class="table-grid"><div class="scroll table-scroll">',
           table_html(forward, [_row(s) for s in range(1, len(forward.rows) + 1)],
                      table_id="t-forward"), "</div>"]
    step = len(forward.rows) + 1
    for k, (t, sweep) in enumerate(zip(sweeps, tr.sweeps, strict=True)):
        t.rows = [row for row, r in zip(t.rows, sweep.rows, strict=True) if r.node in kept]
        last = step + len(t.rows) - 1
        out += ['<div class="scroll table-scroll">',
                table_html(t, [_row(s) for s in range(step, last + 1)],
                           f'data-s="{last}" class="future derivs"', f"t-sweep{k}"), "</div>"]
        step = last + 1
    out.append("</div>")
    return "\n".join(out)


def _row(step: int) -> str:
    return f'data-s="{step}" id="r{step}" class="future"'


def _too_large(program: Program, title: str, outputs, nodes: int, steps: int | None) -> Lesson:
    """A page without the movie: what is too large, how to make it smaller, and the program."""
    size = f"{nodes:,} nodes" + (f" and {steps:,} steps" if steps is not None else "")
    names = program.output_names
    several = (f" (this program has {len(names)} outputs: {', '.join(names[:5])}"
               f"{', ...' if len(names) > 5 else ''})") if len(names) > 1 and not outputs else ""
    reason = (f"the lesson would have {size}; a lesson page animates up to {LIMIT_NODES:,} "
              f"nodes and {LIMIT_STEPS:,} steps")
    advice = (f"trace one output's cone with --of NAME{several}, differentiate with respect to "
              "fewer inputs with --wrt NAME, or take a smaller part of the program")
    message = (f'<section class="too-large" role="alert"><h2>This program is too large for a '
               f"lesson page</h2><p>{escape(reason[0].upper() + reason[1:])}, so that it stays "
               f"readable and quick.</p><p>Make it smaller: {_code_options(escape(advice))}. "
               "<code>slpdiff trace</code> prints every row of the full trace, and "
               "<code>slpdiff graph</code> draws its graph.</p></section>"
               '<section aria-labelledby="program-h"><h2 id="program-h">Program</h2>'
               '<div class="scroll program-scroll">'
               f"{program_html(_text(program), limit=SHOWN_LINES)}</div></section>")
    html = _page(title, "too large for a lesson", "", size, message, "{}", "")
    return Lesson(html, title, nodes, 0, "", too_large=f"{reason}: {advice}")


def _code_options(text: str) -> str:
    return re.sub(r"(--\w+ NAME)", r"<code>\1</code>", text)
