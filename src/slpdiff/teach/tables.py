"""Tables as text: aligned columns, GitHub markdown, a LaTeX ``tabular``; and traces as tables.

A :class:`Table` is a title, column headers, rows of cells (text, or :class:`Math`, or an object
with ``rendered(fmt)`` for markdown and LaTeX and ``str()`` for text) and closing lines; the
renderers only lay text out. :func:`trace_tables` turns a :class:`~slpdiff.teach.trace.Trace`
into tables and :func:`trace_json` into a list of row objects with numbers as numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..formats import derivative_label, json_number
from .labels import INTERMEDIATE
from .notation import NOTATIONS, BookLabels, Math, shown
from .sweeps import SweepTable, TangentRow

FORMATS = ("text", "markdown", "latex", "json")


@dataclass
class Table:
    """A titled table; ``align`` has "l" or "r" per column; ``code`` marks columns of program text
    (names, operations), shown in a monospace font where the format has one."""

    title: str | Math  # Math: ``tex`` is LaTeX text (formulas in dollars), ``text`` the rest
    headers: list[str]
    align: str
    code: list[bool]
    rows: list[list[str]] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)  # lines after the table (derivatives, notes)


# --- traces as tables --------------------------------------------------------------------------

def trace_tables(tr, digits: int | None = None, notation: str = "program") -> list[Table]:
    """The forward sweep, then one table per derivative sweep, each ending with its derivatives;
    numbers rounded to ``digits`` significant digits for display (None: every digit), names in
    the program's ``notation`` or the book's (:mod:`slpdiff.teach.notation`)."""
    if notation not in NOTATIONS:
        raise ValueError(f"notation must be one of {NOTATIONS}, not {notation!r}")
    if notation == "book":
        return _BookTables(tr, digits).tables()
    return _ProgramTables(tr, digits).tables()


class _ProgramTables:
    """A trace's tables in the program's own names."""

    def __init__(self, tr, digits: int | None):
        self.tr = tr
        self.digits = digits

    def number(self, x) -> str:
        return "" if x is None else shown(x, self.digits)

    def point(self) -> str:
        program = self.tr.program
        if not program.input_names:
            return ""
        return " at " + ", ".join(f"{name} = {self.number(self.tr.at[name])}"
                                  for name in program.input_names)

    def tables(self) -> list[Table]:
        tables = [self.forward()]
        for sweep in self.tr.sweeps:
            tables.append({"reverse": self.reverse, "tangent": self.tangent,
                           "second": self.second}[sweep.kind](sweep))
        return tables

    def forward(self) -> Table:
        tr = self.tr
        table = Table(f"Forward sweep{self.point()}", ["node", "operation", "value", "line"],
                      "llrr", [True, True, False, False])
        for row in tr.forward:
            table.rows.append([row.name, row.operation, self.number(row.value), _line(row.line)])
        if tr.has_generated_names:
            table.footer.append(f"{INTERMEDIATE}1, {INTERMEDIATE}2, ...: intermediate results of "
                                "nested expressions (not names in the program)")
        return table

    def derivative_lines(self, sweep: SweepTable) -> list[str]:
        if sweep.kind == "tangent":
            of = "direction" if sweep.direction is not None else sweep.of
            return [f"{derivative_label(name, of)} = {self.number(g)}"
                    for name, g in sweep.derivatives.items()]
        if sweep.kind == "second":
            along = _along(sweep.direction, self.number)
            return [f"d/d {along} of {derivative_label(sweep.of, name)} = {self.number(g)}"
                    for name, g in sweep.derivatives.items()]
        return [f"{derivative_label(sweep.of, name)} = {self.number(g)}"
                for name, g in sweep.derivatives.items()]

    def reverse_title(self, sweep: SweepTable) -> str:
        bar = self.tr.labels.bar
        alias = f" (= {sweep.node})" if sweep.node != sweep.of else ""
        return f"Reverse sweep for {sweep.of}{alias}: v{bar} = d {sweep.of}/d v, each starting at 0"

    def reverse(self, sweep: SweepTable) -> Table:
        table = Table(self.reverse_title(sweep),
                      ["#", "adjoint update", "local partial", "adjoint after"], "rlrr",
                      [False, True, False, False])
        for row in sweep.rows:
            table.rows.append([str(row.step), self.update(row), self.number(row.partial),
                               self.number(row.adjoint)])
        table.footer = self.derivative_lines(sweep)
        return table

    def update(self, row) -> object:
        return row.update

    def tangent_title(self, sweep: SweepTable) -> str:
        dot = self.tr.labels.dot
        if sweep.direction is not None:
            return (f"Tangent sweep along the direction {_along(sweep.direction, self.number)}: "
                    f"v{dot} = d v/d direction")
        return f"Tangent sweep for {sweep.of}: v{dot} = d v/d {sweep.of}, other inputs' tangents 0"

    def tangent(self, sweep: SweepTable) -> Table:
        table = Table(self.tangent_title(sweep), ["#", "tangent", "value"], "rlr",
                      [False, True, False])
        for row in sweep.rows:
            table.rows.append([str(row.step), self.update(row), self.number(row.value)])
        table.footer = self.derivative_lines(sweep)
        return table

    def second_title(self, sweep: SweepTable) -> str:
        bar, dot = self.tr.labels.bar, self.tr.labels.dot
        return (f"Second-order sweep for {sweep.of} along {_along(sweep.direction, self.number)} "
                f"(forward over reverse): each adjoint v{bar} and its tangent v{bar}{dot}")

    def second(self, sweep: SweepTable) -> Table:
        table = Table(self.second_title(sweep),
                      ["#", "adjoint update", "partial", "tangent", "adjoint", "tangent"],
                      "rlrrrr", [False, True, False, False, False, False])
        for row in sweep.rows:
            table.rows.append([str(row.step), self.update(row), self.number(row.partial),
                               self.number(row.partial_tangent), self.number(row.adjoint),
                               self.number(row.adjoint_tangent)])
        table.footer = self.derivative_lines(sweep)
        return table


class _BookTables(_ProgramTables):
    """A trace's tables in Griewank and Walther's notation: v_{-1}, v_0, v_1, ..., with the
    program's names in a column of the forward sweep; the tangent sweep beside the values."""

    def __init__(self, tr, digits: int | None):
        super().__init__(tr, digits)
        self.book = BookLabels(tr.program)

    def math(self, text: str) -> Math:
        return self.book.math(text)

    def forward(self) -> Table:
        book, tr = self.book, self.tr
        point = self.point()
        table = Table(Math(f"Evaluation trace{point}",
                           f"Evaluation trace{latex_escape(point)}"),
                      ["v", "operation", "value", "program"], "llrl",
                      [False, False, False, True])
        aliases: dict[int, list[str]] = {}
        for row in tr.forward:
            if row.kind == "alias":
                aliases.setdefault(row.position, []).append(row.name)
        for row in _nodes(tr):
            names = ", ".join([tr.labels.name(row.position), *aliases.get(row.position, [])])
            table.rows.append([self.math(book.name(row.position)), self.operation(row.position),
                               self.number(row.value), names])
        table.footer.append("v[i]: Griewank and Walther's names, inputs first; the program's "
                            "own in the last column")
        return table

    def operation(self, i: int) -> Math:
        book = self.book
        if self.tr.program.is_input(i):
            name = book.operation(i)
            return Math(name, rf"\texttt{{{latex_escape(name)}}}")
        return self.math(book.operation(i))

    def update(self, row) -> Math:
        book = self.book
        if isinstance(row, TangentRow):
            return self.tangent_update(row)
        c = row.position
        if row.source_position is None:  # the seed
            return self.math(f"{book.adjoint(c)} = 1")
        i = row.source_position
        k = row.argument
        sign, product = book.term(book.adjoint(i), i, k)
        return self.math(f"{book.adjoint(c)} {sign}= {product}")

    def tangent_update(self, row: TangentRow) -> Math:
        book = self.book
        if not row.terms:
            return self.math(row.update.replace(self.tr.labels.tangent(row.position),
                                                book.tangent(row.position), 1))
        text = ""
        for t in row.terms:
            sign, product = book.term(book.tangent(t.position), row.position, t.number)
            text = (product if sign == "+" else f"-{product}") if not text else \
                f"{text} {sign} {product}"
        return self.math(f"{book.tangent(row.position)} = {text}")

    def reverse_title(self, sweep: SweepTable) -> Math:
        of = sweep.of
        return Math(f"Reverse sweep for {of}: the adjoints vbar[i] = d {of}/d v[i], each "
                    "starting at 0",
                    rf"Reverse sweep for \texttt{{{latex_escape(of)}}}: the adjoints "
                    rf"$\bar v_i = \partial\,\mathtt{{{latex_escape(of)}}}/\partial v_i$, "
                    "each starting at 0")

    def tangent_title(self, sweep: SweepTable) -> Math:
        if sweep.direction is not None:
            along = _along(sweep.direction, self.number)
            return Math(f"Tangent sweep along {along}: vdot[i] = d v[i]/d direction",
                        rf"Tangent sweep along \texttt{{{latex_escape(along)}}}: "
                        r"$\dot v_i = \partial v_i/\partial d$, the tangents along it")
        of = sweep.of
        return Math(f"Tangent sweep for {of}: vdot[i] = d v[i]/d {of}",
                    rf"Tangent sweep for \texttt{{{latex_escape(of)}}}: "
                    rf"$\dot v_i = \partial v_i/\partial\,\mathtt{{{latex_escape(of)}}}$")

    def tangent(self, sweep: SweepTable) -> Table:
        """The values and the tangents side by side, one row per node of the trace; a tangent
        that is structurally zero (the node does not depend on the direction) is 0."""
        book, tr = self.book, self.tr
        by_position = {row.position: row for row in sweep.rows}
        table = Table(self.tangent_title(sweep),
                      ["v", "operation", "value", "tangent", "tangent value"], "llrlr",
                      [False] * 5)
        for row in _nodes(tr):
            i = row.position
            found = by_position.get(i)
            if found is None:
                tangent, value = self.math(f"{book.tangent(i)} = 0"), self.number(0.0)
            else:
                tangent, value = self.update(found), self.number(found.value)
            table.rows.append([self.math(book.name(i)), self.operation(i),
                               self.number(row.value), tangent, value])
        table.footer = self.derivative_lines(sweep)
        return table

    def second_title(self, sweep: SweepTable) -> Math:
        of, along = sweep.of, _along(sweep.direction, self.number)
        return Math(f"Second-order sweep for {of} along {along} (forward over reverse): each "
                    "adjoint vbar[i] and its tangent vbardot[i]",
                    rf"Second-order sweep for \texttt{{{latex_escape(of)}}} along "
                    rf"\texttt{{{latex_escape(along)}}} (forward over reverse): each adjoint "
                    r"$\bar v_i$ and its tangent $\dot{\bar v}_i$")


def _nodes(tr) -> list:
    """The forward rows that are nodes (in the book, an alias is one more name of its node)."""
    return [row for row in tr.forward if row.kind != "alias"]


def _along(direction, number) -> str:
    if direction is None:
        return ""
    if len(direction) == 1 and float(next(iter(direction.values()))) == 1.0:
        return next(iter(direction))
    return "(" + ", ".join(f"{name} = {number(v)}" for name, v in direction.items()) + ")"


def _line(line: int) -> str:
    return str(line) if line else ""


def trace_json(tr) -> list[dict]:  # tr: a teach.trace.Trace
    """Every row as an object: ``"table"`` is "forward", "reverse", "tangent", "derivative",
    "second" or "hvp" (numbers whole: rounding is for display only)."""
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
        elif sweep.kind == "tangent":
            direction = _json_direction(sweep)
            for r in sweep.rows:
                terms = [{"argument": t.argument, "rule": t.rule, "partial": json_number(t.partial),
                          "term": json_number(t.value)} for t in r.terms]
                rows.append({"table": "tangent", "input": sweep.of, **direction, "step": r.step,
                             "node": r.node, "update": r.update, "terms": terms,
                             "value": json_number(r.value), "line": r.line or None})
            rows += [{"table": "derivative", "output": name, "input": sweep.of, **direction,
                      "value": json_number(g)} for name, g in sweep.derivatives.items()]
        else:
            direction = {"direction": {k: json_number(v) for k, v in sweep.direction.items()}}
            for r in sweep.rows:
                rows.append({"table": "second", "output": sweep.of, **direction, "step": r.step,
                             "node": r.node, "update": r.update, "partial": _maybe(r.partial),
                             "partial_tangent": _maybe(r.partial_tangent),
                             "adjoint": json_number(r.adjoint),
                             "adjoint_tangent": json_number(r.adjoint_tangent),
                             "line": r.line or None})
            rows += [{"table": "hvp", "output": sweep.of, "input": name, **direction,
                      "value": json_number(g)} for name, g in sweep.derivatives.items()]
    return rows


def _json_direction(sweep: SweepTable) -> dict:
    if sweep.direction is None:
        return {}
    return {"direction": {k: json_number(v) for k, v in sweep.direction.items()}}


def _maybe(x):
    return None if x is None else json_number(x)


# --- rendering ---------------------------------------------------------------------------------

def render(tables: list[Table], fmt: str) -> str:
    """``tables`` as one text in ``fmt`` ("text", "markdown" or "latex"), ending with a newline."""
    render_one = {"text": _text, "markdown": _markdown, "latex": _latex}[fmt]
    return "\n".join(render_one(t) for t in tables)


def _text(t: Table) -> str:
    widths = [max(len(h), *(len(str(r[j])) for r in t.rows)) for j, h in enumerate(t.headers)]

    def line(cells):
        parts = [str(c).rjust(w) if a == "r" else str(c).ljust(w)
                 for c, w, a in zip(cells, widths, t.align, strict=True)]
        return "  " + "  ".join(parts).rstrip()

    out = [str(t.title) + ":", line(t.headers), line(["-" * w for w in widths])]
    out += [line(r) for r in t.rows]
    out += t.footer
    return "\n".join(out) + "\n"


def _markdown(t: Table) -> str:
    def cell(text, code):
        if isinstance(text, Math):
            return f"${text.tex}$"
        if hasattr(text, "rendered"):
            return text.rendered("markdown")
        if not text:
            return ""
        return f"`{text}`" if code else text.replace("|", "\\|")

    rule = {"l": "---", "r": "---:"}
    out = [f"**{_md_escape(str(t.title))}**", "", "| " + " | ".join(t.headers) + " |",
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


# A slide's text is 30.7 em wide (beamer at 10 pt: 128 mm paper, 1 cm margins); a table wider than
# this budget gets its widest columns of program text or formulas wrapped in a \parbox.
LATEX_WIDTH_EM = 28.0
_COLUMN_SEPARATION_EM = 0.8  # \tabcolsep, set to 4 pt on each side of a column (0.4 em at 10 pt)
_TT_EM = 0.525  # the width of a character of \texttt (cmtt10), in em
_NARROWEST_EM = 5.0  # a wrapped column is never narrower


def _latex(t: Table) -> str:
    """The table as a LaTeX ``tabular`` (title above, derivatives below, as paragraphs) that
    compiles without packages and, with few enough digits, fits a beamer frame at 10 pt."""
    def cell(text, code):
        if isinstance(text, Math):
            return f"${text.tex}$"
        if hasattr(text, "rendered"):
            return text.rendered("latex")
        if not text:
            return ""
        # Numbers and program text in monospace: they are exact, to be read character by character.
        return rf"\texttt{{{latex_escape(text)}}}" if code or _numeric(text) else latex_escape(text)

    rows = [[cell(c, code) for c, code in zip(r, t.code, strict=True)] for r in t.rows]
    widths = [max([_width_em(h, False), *(_width_em(r[j], t.code[j]) for r in t.rows)])
              for j, h in enumerate(t.headers)]
    for j, em in _columns_to_wrap(t, widths).items():
        for r in rows:
            if r[j]:
                r[j] = rf"\parbox[t]{{{em:.1f}em}}{{\raggedright {r[j]}}}"
    title = t.title.tex if isinstance(t.title, Math) else latex_escape(t.title)
    out = [f"% {_one_line(str(t.title))}", rf"\par\noindent {title}\par\smallskip",
           r"{\setlength{\tabcolsep}{4pt}%",
           rf"\noindent\begin{{tabular}}{{{t.align}}}", r"\hline",
           " & ".join(latex_escape(h) for h in t.headers) + r" \\", r"\hline"]
    out += [" & ".join(r) + r" \\" for r in rows]
    out += [r"\hline", r"\end{tabular}}\par"]
    out += [rf"\noindent\texttt{{{latex_escape(line)}}}\par" for line in t.footer]
    return "\n".join(out) + "\n"


def _width_em(text, code: bool) -> float:
    """About how wide ``text`` is typeset, in em: monospace for code and numbers, formulas by
    their glyphs (``vbar[12]`` is two letters and a subscript), other text at half an em."""
    if isinstance(text, Math):
        return 0.55 * len(re.sub(r"(?:bar|dot)*\[(-?\d+)\]|\s", lambda m: m.group(1) or "",
                                 text.text))
    if code or _numeric(str(text)) or hasattr(text, "rendered"):
        return _TT_EM * len(str(text))
    return 0.5 * len(str(text))


def _columns_to_wrap(t: Table, widths: list[float]) -> dict[int, float]:
    """The columns of program text or formulas to wrap, and their widths in em, so that the
    table fits ``LATEX_WIDTH_EM``: the widest are narrowed first, to no less than
    ``_NARROWEST_EM``. Empty when it fits (or nothing can be wrapped)."""
    budget = LATEX_WIDTH_EM - _COLUMN_SEPARATION_EM * len(widths)
    candidates = [j for j in range(len(widths)) if t.align[j] == "l" and (
        t.code[j] or any(isinstance(r[j], Math) for r in t.rows))]
    width = dict(enumerate(widths))
    wrapped: dict[int, float] = {}
    while sum(width.values()) > budget:
        open_ = [j for j in candidates if width[j] > _NARROWEST_EM]
        if not open_:
            break
        j = max(open_, key=width.__getitem__)
        others = sorted((width[c] for c in open_ if c != j), reverse=True)
        target = max(budget - (sum(width.values()) - width[j]), others[0] if others else 0.0,
                     _NARROWEST_EM)
        width[j] = wrapped[j] = min(target, width[j] - 0.5)
    return wrapped


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _one_line(text: str) -> str:
    return " ".join(text.split())
