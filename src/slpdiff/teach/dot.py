"""The computational graph as Graphviz DOT, and rendering it with Graphviz's ``dot`` program.

Inputs, operations and outputs are nodes; each edge ``a -> b`` is labelled with the local partial
derivative ``d b/d a``: the primitive table's rule with b's arguments substituted. With a point,
each node also shows its value and its adjoint ``d OUT/d node`` (from the engine's reverse sweep),
and each edge the value of its local partial as the sweep computed it. Constants the program does
not name are written inside the operations that use them, not drawn. Node identifiers are ``n0``,
``n1``, ... (positions); names appear only in labels, escaped, so no name can break the DOT text.
"""

from __future__ import annotations

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
from ..formats import derivative_label, number, point_text
from ..language.program import Program
from ..language.rules import rules_for
from ..rows.atomic import atomic_output, atomic_path
from .labels import Labels

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


def to_dot(program: Program, numbers: Numbers | None = None, large: bool | None = None) -> str:
    """The graph of ``program`` in DOT (with values, adjoints and partials if ``numbers``).

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
    lines = ["digraph slpdiff {",
             '  graph [rankdir=LR, newrank=true, fontname="Helvetica", fontsize=10];',
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];',
             f"  labelloc=b; label={quote(_legend(program, numbers))};"]
    for i in range(len(program)):
        if drawn[i]:
            lines.append(f"  n{i} [{_node_attributes(program, labels, numbers, outputs_of, i)}];")
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
            attributes = _edge_attributes(labels, numbers, needs, i, k, c, label_key)
            lines.append(f"  {source} -> n{i} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _layers(program: Program, drawn: list[bool]) -> list[int]:
    """Each node's layer as the layout will roughly place it: its longest path from a source."""
    layer = [0] * len(program)
    for i, args in enumerate(program.args):
        layer[i] = max((layer[c] + 1 for c in args if drawn[c]), default=0)
    return layer


def _legend(program: Program, numbers: Numbers | None) -> str:
    text = ["edge a -> b: the local partial derivative d b/d a"]
    if numbers is not None:
        text.append(f"at {point_text(numbers.evaluation.at, program.input_names)}")
    return "\n".join(text)


_STYLE = {"input": 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"',
          "constant": 'shape=box, style=filled, fillcolor="#eeeeee"',
          "operation": "shape=ellipse",
          "intermediate": "shape=ellipse, style=dashed"}


def _node_attributes(program: Program, labels: Labels, numbers: Numbers | None,
                     outputs_of: dict[int, list[str]], i: int) -> str:
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
        text.append(f"value = {number(numbers.evaluation.node_values[i])}")
        for out, adjoint in numbers.adjoints.items():
            if adjoint[i] is not None:
                text.append(f"{derivative_label(out, name)} = {number(adjoint[i])}")
    attributes = [f"label={quote(chr(10).join(text))}", _STYLE[kind]]
    if i in outputs_of:
        attributes.append("peripheries=2")
    if program.lines[i]:
        attributes.append(f"tooltip={quote(f'line {program.lines[i]}')}")
    return ", ".join(attributes)


def _edge_attributes(labels: Labels, numbers: Numbers | None, needs: list[bool], i: int, k: int,
                     c: int, label_key: str = "label") -> str:
    if not needs[c]:  # a constant's derivative is never needed: no rule to show
        return 'style=dashed, color="#999999"'
    text = labels.rule(i, k)
    constant = rules_for(labels.program.ops[i])[k].const is not None
    if numbers is not None and (i, k) in numbers.partials and not constant:
        value = number(numbers.partials[(i, k)])
        if value != text:  # a rule that is a number (a constant argument) already shows it
            text += f" = {value}"
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
