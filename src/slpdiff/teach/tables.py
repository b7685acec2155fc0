"""Tables as text: aligned columns, GitHub markdown, a LaTeX ``tabular``; and traces as tables.

A :class:`Table` is a title, column headers, rows of cells (already text) and closing lines; the
renderers only lay text out. :func:`trace_tables` turns a :class:`~slpdiff.teach.trace.Trace`
into tables and :func:`trace_json` into a list of row objects with numbers as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..formats import derivative_label, json_number, number, point_text
from .labels import INTERMEDIATE

FORMATS = ("text", "markdown", "latex", "json")


@dataclass
class Table:
    """A titled table; ``align`` has "l" or "r" per column; ``code`` marks columns of program text
    (names, operations), shown in a monospace font where the format has one."""

    title: str
    headers: list[str]
    align: str
    code: list[bool]
    rows: list[list[str]] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)  # lines after the table (derivatives, notes)


# --- traces as tables --------------------------------------------------------------------------

def trace_tables(tr) -> list[Table]:  # tr: a teach.trace.Trace (it displays itself with these)
    """The forward sweep, then one table per derivative sweep, each ending with its derivatives."""
    program = tr.program
    at = f" at {point_text(tr.at, program.input_names)}" if program.input_names else ""
    forward = Table(f"Forward sweep{at}",
                    ["node", "operation", "value", "line"], "llrr", [True, True, False, False])
    for row in tr.forward:
        forward.rows.append([row.name, row.operation, number(row.value), _line(row.line)])
    if tr.has_generated_names:
        forward.footer.append(f"{INTERMEDIATE}1, {INTERMEDIATE}2, ...: intermediate results of "
                              "nested expressions (not names in the program)")
    tables = [forward]
    for sweep in tr.sweeps:
        if sweep.kind == "reverse":
            bar = tr.labels.bar
            alias = f" (= {sweep.node})" if sweep.node != sweep.of else ""
            table = Table(f"Reverse sweep for {sweep.of}{alias}: v{bar} = d {sweep.of}/d v, "
                          "each starting at 0",
                          ["#", "adjoint update", "local partial", "adjoint after"], "rlrr",
                          [False, True, False, False])
            for row in sweep.rows:
                partial = "" if row.partial is None else number(row.partial)
                table.rows.append([str(row.step), row.update, partial, number(row.adjoint)])
            table.footer = [f"{derivative_label(sweep.of, name)} = {number(g)}"
                            for name, g in sweep.derivatives.items()]
        else:
            dot = tr.labels.dot
            table = Table(f"Tangent sweep for {sweep.of}: v{dot} = d v/d {sweep.of}, "
                          "other inputs' tangents 0",
                          ["#", "tangent", "value"], "rlr", [False, True, False])
            for row in sweep.rows:
                table.rows.append([str(row.step), row.update, number(row.value)])
            table.footer = [f"{derivative_label(name, sweep.of)} = {number(g)}"
                            for name, g in sweep.derivatives.items()]
        tables.append(table)
    return tables


def _line(line: int) -> str:
    return str(line) if line else ""


def trace_json(tr) -> list[dict]:  # tr: a teach.trace.Trace
    """Every row as an object: ``"table"`` is "forward", "reverse", "tangent" or "derivative"."""
    rows: list[dict] = []
    for r in tr.forward:
        rows.append({"table": "forward", "node": r.name, "kind": r.kind, "operation": r.operation,
                     "value": json_number(r.value), "line": r.line or None,
                     "generated": r.generated})
    for sweep in tr.sweeps:
        if sweep.kind == "reverse":
            for r in sweep.rows:
                rows.append({"table": "reverse", "output": sweep.of, "step": r.step,
                             "node": r.node, "update": r.update, "from": r.source,
                             "argument": r.argument, "rule": r.rule,
                             "partial": _maybe(r.partial), "contribution": _maybe(r.contribution),
                             "adjoint": json_number(r.adjoint), "line": r.line or None})
            rows += [{"table": "derivative", "output": sweep.of, "input": name,
                      "value": json_number(g)} for name, g in sweep.derivatives.items()]
        else:
            for r in sweep.rows:
                terms = [{"argument": t.argument, "rule": t.rule, "partial": json_number(t.partial),
                          "term": json_number(t.value)} for t in r.terms]
                rows.append({"table": "tangent", "input": sweep.of, "step": r.step,
                             "node": r.node, "update": r.update, "terms": terms,
                             "value": json_number(r.value), "line": r.line or None})
            rows += [{"table": "derivative", "output": name, "input": sweep.of,
                      "value": json_number(g)} for name, g in sweep.derivatives.items()]
    return rows


def _maybe(x):
    return None if x is None else json_number(x)


# --- rendering ---------------------------------------------------------------------------------

def render(tables: list[Table], fmt: str) -> str:
    """``tables`` as one text in ``fmt`` ("text", "markdown" or "latex"), ending with a newline."""
    render_one = {"text": _text, "markdown": _markdown, "latex": _latex}[fmt]
    return "\n".join(render_one(t) for t in tables)


def _text(t: Table) -> str:
    widths = [max(len(h), *(len(r[j]) for r in t.rows)) for j, h in enumerate(t.headers)]

    def line(cells):
        parts = [c.rjust(w) if a == "r" else c.ljust(w)
                 for c, w, a in zip(cells, widths, t.align, strict=True)]
        return "  " + "  ".join(parts).rstrip()

    out = [t.title + ":", line(t.headers), line(["-" * w for w in widths])]
    out += [line(r) for r in t.rows]
    out += t.footer
    return "\n".join(out) + "\n"


def _markdown(t: Table) -> str:
    def cell(text, code):
        if not text:
            return ""
        return f"`{text}`" if code else text.replace("|", "\\|")

    rule = {"l": "---", "r": "---:"}
    out = [f"**{_md_escape(t.title)}**", "", "| " + " | ".join(t.headers) + " |",
           "|" + "|".join(rule[a] for a in t.align) + "|"]
    out += ["| " + " | ".join(cell(c, code) for c, code in zip(r, t.code, strict=True)) + " |"
            for r in t.rows]
    if t.footer:
        out.append("")
        out += [f"- {_md_escape(line)}" for line in t.footer]
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    # Titles and footers hold names such as v_bar: keep markdown from reading _ and * as emphasis.
    return "".join("\\" + c if c in "\\`*_[]<>|#" else c for c in text)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%",
                  "#": r"\#", "&": r"\&", "$": r"\$", "^": r"\textasciicircum{}",
                  "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def latex_escape(text: str) -> str:
    """``text`` with every character that is special to LaTeX written as a command."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def _latex(t: Table) -> str:
    n = len(t.headers)

    def cell(text, code):
        if not text:
            return ""
        # Numbers and program text in monospace: they are exact, to be read character by character.
        return rf"\texttt{{{latex_escape(text)}}}" if code or _numeric(text) else latex_escape(text)

    out = [f"% {_one_line(t.title)}", rf"\begin{{tabular}}{{{t.align}}}", r"\hline",
           rf"\multicolumn{{{n}}}{{l}}{{{latex_escape(t.title)}}} \\", r"\hline",
           " & ".join(latex_escape(h) for h in t.headers) + r" \\", r"\hline"]
    out += [" & ".join(cell(c, code) for c, code in zip(r, t.code, strict=True)) + r" \\"
            for r in t.rows]
    out.append(r"\hline")
    out += [rf"\multicolumn{{{n}}}{{l}}{{\texttt{{{latex_escape(line)}}}}} \\" for line in t.footer]
    if t.footer:
        out.append(r"\hline")
    out.append(r"\end{tabular}")
    return "\n".join(out) + "\n"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _one_line(text: str) -> str:
    return " ".join(text.split())
