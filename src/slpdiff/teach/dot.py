"""The computational graph as Graphviz DOT, and rendering it with Graphviz's ``dot`` program.

Inputs, operations and outputs are nodes; each edge ``a -> b`` is labelled with the local partial
derivative ``∂b/∂a = rule``: the primitive table's rule with b's arguments substituted. With a
point, each node also shows its value and its adjoint ``v_bar = d OUT/d v`` (from the engine's
reverse sweep, named as ``slpdiff trace`` names it), and each edge the value of its local partial
as the sweep computed it. Constants the program does not name are written inside the operations
that use them, not drawn. Node identifiers are ``n0``, ``n1``, ... (positions); names appear only
in labels, escaped, so no name can break the DOT text. The DOT text is ASCII: ``∂`` is written
as the character reference ``&#8706;``, which Graphviz draws as the character, so no terminal or
locale has to print it.

The default reads on a projector: 14 pt text, and the graph laid out top to bottom or left to
right, whichever gives a picture closer to a slide's shape (:func:`auto_rankdir`).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.engine import Evaluation, adjoints
from ..core.schedule import depends
from ..errors import RunError, SlpError
from ..evaluation import evaluate
from ..formats import number
from ..language.program import Program
from ..language.rules import rules_for
from ..rows.atomic import atomic_output, atomic_path
from .labels import Labels
from .notation import shown

RENDERED = {".svg": "svg", ".png": "png", ".pdf": "pdf"}  # suffix -> dot's -T format
DOT_SUFFIXES = (".dot", ".gv")
INSTALL_HINT = ("install Graphviz (apt-get install graphviz, dnf install graphviz, "
                "brew install graphviz, or https://graphviz.org/download/)")


@dataclass
class Numbers:
    """What a graph shows at a point: the evaluation, each output's adjoints, edge partials."""

    evaluation: Evaluation
    adjoints: dict[str, list] = field(default_factory=dict)  # output name -> adjoint per node
    partials: dict[tuple[int, int], object] = field(default_factory=dict)  # (node, arg) -> value


def numbers_at(program: Program, at: Mapping[str, object],
               outputs: Sequence[str] | None = None) -> Numbers:
    """Evaluate at ``at`` and run the reverse sweep for each output (or those named), recording
    the local partials it computes."""
    ev = evaluate(program, at, outputs=outputs)
    numbers = Numbers(ev)

    def record(i, k, partial, contribution, after):
        numbers.partials[(i, k)] = partial

    output_node = dict(zip(program.output_names, program.output_index, strict=True))
    for name in ev.values:
        numbers.adjoints[name] = adjoints(program, ev.node_values, output_node[name],
                                          record=record)
    return numbers


LARGE = 200  # drawn nodes from which a graph is laid out for speed (see to_dot)
MAX_SPAN = 2  # in a large graph, an edge spanning more layers than this is drawn from a copy
FONT_SIZE = 14  # points: what a projector shows legibly (the seed's labels were 9 to 11 pt)
RANKDIRS = ("auto", "TB", "LR")
PARTIAL = "&#8706;"  # ∂, as Graphviz reads it from ASCII text
SLIDE_ASPECT = 16 / 9


def to_dot(program: Program, numbers: Numbers | None = None, large: bool | None = None,
           rankdir: str = "auto", fontsize: int = FONT_SIZE, digits: int | None = None) -> str:
    """The graph of ``program`` in DOT (with values, adjoints and partials if ``numbers``),
    laid out in direction ``rankdir`` ("TB", "LR", or "auto": :func:`auto_rankdir`), its text
    ``fontsize`` points, numbers rounded to ``digits`` significant digits for display.

    Graphviz's layered layout adds a hidden node on every layer an edge crosses and places edge
    labels as nodes too, so a large graph whose inputs feed far-away nodes (a weight used by every
    layer) would take it hours. A ``large`` graph (default: at least ``LARGE`` drawn nodes) is
    therefore drawn with every long edge starting from a dashed copy of its source placed next to
    its target, and with edge labels placed after the layout (``xlabel``).
    """
    labels = Labels(program)
    needs = depends(program, None)  # an edge carries a derivative only from a node that has one
    outputs_of: dict[int, list[str]] = {}
    for name, i in zip(program.output_names, program.output_index, strict=True):
        outputs_of.setdefault(i, []).append(name)
    drawn = [labels.shows_as_row(i) for i in range(len(program))]
    if large is None:
        large = sum(drawn) >= LARGE
    layer = _layers(program, drawn) if large else None
    if rankdir == "auto":
        rankdir = auto_rankdir(program, drawn, numbers is not None)
    show = _Shown(digits)
    lines = ["digraph slpdiff {",
             f'  graph [rankdir={rankdir}, newrank=true, fontname="Helvetica", '
             f"fontsize={fontsize}];",
             f'  node [fontname="Helvetica", fontsize={fontsize}];',
             f'  edge [fontname="Helvetica", fontsize={fontsize}];',
             f"  labelloc=b; label={quote(_legend(program, labels, numbers, show))};"]
    for i in range(len(program)):
        if drawn[i]:
            attributes = _node_attributes(program, labels, numbers, outputs_of, i, show)
            lines.append(f"  n{i} [{attributes}];")
    label_key = "xlabel" if large else "label"
    for i, args in enumerate(program.args):
        for k, c in enumerate(args):
            if not drawn[c]:
                continue
            source = f"n{c}"
            if layer is not None and layer[i] - layer[c] > MAX_SPAN:
                source = f"c{i}_{k}"  # a copy of node c, for this edge only
                tooltip = quote(f"a copy of {labels.name(c)}")
                lines.append(f"  {source} [label={quote(labels.name(c))}, shape=box, "
                             f'style="rounded,dashed", tooltip={tooltip}];')
            attributes = _edge_attributes(labels, numbers, needs, i, k, c, label_key, show)
            lines.append(f"  {source} -> n{i} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _layers(program: Program, drawn: list[bool]) -> list[int]:
    """Each node's layer as the layout will roughly place it: its longest path from a source."""
    layer = [0] * len(program)
    for i, args in enumerate(program.args):
        layer[i] = max((layer[c] + 1 for c in args if drawn[c]), default=0)
    return layer


class _Shown:
    """Numbers as the graph shows them: every digit, or rounded for display."""

    def __init__(self, digits: int | None):
        self.digits = digits

    def __call__(self, x) -> str:
        return shown(x, self.digits)


def auto_rankdir(program: Program, drawn: list[bool], values: bool) -> str:
    """"TB" or "LR", whichever lays the graph out closer to a slide's 16:9.

    A graph of ``L`` layers (longest paths) of at most ``W`` nodes is drawn ``W`` cells wide and
    ``L`` tall top to bottom, the other way round left to right; a cell (a node and its edge
    labels) is about 3 times as wide as tall, 3.8 with values and adjoints (measured on the
    examples: the seed's graph with values is 1337 x 1051 pixels top to bottom, 4211 x 387 left to
    right).
    """
    layer = _layers(program, drawn)
    counts: dict[int, int] = {}
    for i, is_drawn in enumerate(drawn):
        if is_drawn:
            counts[layer[i]] = counts.get(layer[i], 0) + 1
    if not counts:
        return "TB"
    depth, width = len(counts), max(counts.values())
    cell = 3.8 if values else 3.0
    misfit = {"TB": abs(math.log(width * cell / depth / SLIDE_ASPECT)),
              "LR": abs(math.log(depth * cell / width / SLIDE_ASPECT))}
    return min(("TB", "LR"), key=misfit.__getitem__)


def _legend(program: Program, labels: Labels, numbers: Numbers | None, show) -> str:
    text = [f"edge a -> b: the local partial derivative {PARTIAL}b/{PARTIAL}a"]
    if numbers is not None:
        outs = list(numbers.adjoints)
        of = outs[0] if len(outs) == 1 else "OUT"
        text.append(f"v{labels.bar} = d {of}/d v, the adjoint of v")
        at = ", ".join(f"{name} = {show(numbers.evaluation.at[name])}"
                       for name in program.input_names)
        text.append(f"at {at}")
    return "\n".join(text)


_STYLE = {"input": 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"',
          "constant": 'shape=box, style=filled, fillcolor="#eeeeee"',
          "operation": "shape=ellipse",
          "intermediate": "shape=ellipse, style=dashed"}


def _node_attributes(program: Program, labels: Labels, numbers: Numbers | None,
                     outputs_of: dict[int, list[str]], i: int, show=number) -> str:
    name = labels.name(i)
    if program.is_input(i):
        kind, text = "input", [name, "input"]
    else:
        kind = "constant" if program.is_const(i) else "operation"
        if labels.is_generated(i):
            kind = "intermediate"
        text = [f"{name} = {labels.operation(i)}"]
    text += [f"output {out}" for out in outputs_of.get(i, ())]
    if numbers is not None:
        text.append(f"value = {show(numbers.evaluation.node_values[i])}")
        several = len(numbers.adjoints) > 1
        for out, adjoint in numbers.adjoints.items():
            if adjoint[i] is not None:
                which = f" for {out}" if several else ""
                text.append(f"{labels.adjoint(i)}{which} = {show(adjoint[i])}")
    attributes = [f"label={quote(chr(10).join(text))}", _STYLE[kind]]
    if i in outputs_of:
        attributes.append("peripheries=2")
    if program.lines[i]:
        attributes.append(f"tooltip={quote(f'line {program.lines[i]}')}")
    return ", ".join(attributes)


def _edge_attributes(labels: Labels, numbers: Numbers | None, needs: list[bool], i: int, k: int,
                     c: int, label_key: str = "label", show=number) -> str:
    if not needs[c]:  # a constant's derivative is never needed: no rule to show
        return 'style=dashed, color="#999999"'
    rule = labels.rule(i, k)
    text = f"{PARTIAL}{labels.name(i)}/{PARTIAL}{labels.name(c)} = {rule}"
    constant = rules_for(labels.program.ops[i])[k].const is not None
    if numbers is not None and (i, k) in numbers.partials and not constant:
        value = number(numbers.partials[(i, k)])
        if value != rule:  # a rule that is a number (a constant argument) already shows it
            text += f" = {show(numbers.partials[(i, k)])}"
    return f"{label_key}={quote(text)}"


# Backslash and quote escaped, newline as DOT's line break, other control characters dropped.
_DOT_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", 0x7F: None,
                **{c: None for c in range(32) if c != ord("\n")}}


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string; lines joined by "\\n" become DOT line breaks.

    Backslashes and quotes are escaped, so no text (names, numbers, file names) can end the string
    or use DOT's escapes; other control characters are dropped.
    """
    return '"' + text.translate(_DOT_ESCAPES) + '"'


# --- rendering ---------------------------------------------------------------------------------

def output_format(path: str) -> str:
    """"dot" for a .dot/.gv path, else the rendered format for its suffix; else SlpError."""
    suffix = Path(path).suffix.lower()
    if suffix in DOT_SUFFIXES:
        return "dot"
    if suffix in RENDERED:
        return RENDERED[suffix]
    known = ", ".join([*RENDERED, *DOT_SUFFIXES])
    raise SlpError(f"cannot tell the format of '{path}' from its suffix; use one of {known}")


def write_graph(dot_text: str, path: str) -> None:
    """Write ``dot_text`` to ``path``: as DOT text, or rendered by Graphviz's ``dot`` program
    (SVG, PNG or PDF, chosen by the suffix). Atomic: the file appears complete or not at all.

    Raises :class:`SlpError` (exit 2) if ``dot`` is not installed, :class:`RunError` if it fails.
    """
    fmt = output_format(path)
    if fmt == "dot":
        with atomic_output(path) as stream:
            stream.write(dot_text)
        return
    program = shutil.which("dot")
    if program is None:
        raise SlpError(f"rendering {path} needs Graphviz's 'dot' program, which is not on PATH: "
                       f"{INSTALL_HINT}, or write DOT with -o FILE.dot")
    with atomic_path(path) as temporary:
        try:
            proc = subprocess.run([program, f"-T{fmt}", "-o", temporary],
                                  input=dot_text.encode(), capture_output=True,
                                  env={**os.environ, "LC_ALL": "C"})
        except OSError as e:
            raise RunError(f"cannot run {program}: {e.strerror}") from None
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RunError(f"Graphviz's dot failed (exit {proc.returncode}) rendering {path}"
                           + (f": {detail[0]}" if detail else ""))
