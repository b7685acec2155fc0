"""A lesson's graph as inline SVG: a box per node with its value, adjoint and tangent lines, an
arrow per edge labelled with its local partial derivative.

Element ids: ``n{i}`` a node, ``n{i}-v``/``-b``/``-d`` its value, adjoint and tangent texts,
``e{j}`` an edge, ``e{j}-p`` the value of its partial. Every number starts as ``?`` for the
page's script to fill in, step by step; :func:`end_svg` draws the graph with every number filled,
as it stands at the end of the sweeps.
"""

from __future__ import annotations

import re
import uuid
from functools import cache
from importlib import resources

from ..htmlformat import escape
from .lesson_layout import FONT_SIZE, LINE_H, PAD_X, PAD_Y, Layout, edge_label, layout, node_lines
from .lesson_model import UNKNOWN, Model


def render_svg(model: Model, geometry: Layout, texts: dict[str, str] | None = None,
               element_id: str = "graph") -> str:
    """The graph of ``model`` laid out by ``geometry``; ``texts`` fills numbers in (element id ->
    text; the rest show ``?``). Ids other than ``graph`` prefix every inner id."""
    texts = texts or {}
    prefix = "" if element_id == "graph" else element_id + "-"

    def number(element: str) -> str:
        text = texts.get(element, UNKNOWN)
        unknown = " unknown" if text == UNKNOWN else ""
        return f'id="{prefix}{element}" class="num{unknown}">{escape(text)}'

    width, height = geometry.width + 20, geometry.height + 20
    left, top = geometry.left - 10, geometry.top - 10
    out = [f'<svg id="{element_id}" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
           f'height="{height:.0f}" viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" '
           f'role="img" aria-labelledby="{prefix}graph-title {prefix}graph-desc" '
           f'font-size="{FONT_SIZE}">',
           f'<title id="{prefix}graph-title">The computational graph</title>',
           f'<desc id="{prefix}graph-desc">{len(model.nodes)} nodes and {len(model.edges)} '
           "edges; every value, adjoint and local partial is also in the trace tables.</desc>",
           "<defs>", _marker(f"{prefix}arrow", 7, "arrowhead"),
           _marker(f"{prefix}arrow-hot", 5, "arrowhead-hot"), "</defs>", '<g class="edges">']
    for e, (d, (lx, ly)) in zip(model.edges, geometry.edges, strict=True):
        kind = "edge" if e.rule is not None else "edge nodiff"
        out.append(f'<g class="{kind}" id="{prefix}e{e.index}" data-src="{e.src}" '
                   f'data-dst="{e.dst}"><path d="{d}" marker-end="url(#{prefix}arrow)"/>')
        label = edge_label(e)
        if label:
            y0 = ly - (len(label) - 1) * 7 + 4
            out.append(f'<text class="elabel" x="{lx:.1f}" y="{y0:.1f}" text-anchor="middle">'
                       f"{escape(label[0])}</text>")
            if len(label) > 1:
                out.append(f'<text class="elabel" x="{lx:.1f}" y="{y0 + 14:.1f}" '
                           f'text-anchor="middle">= <tspan {number(f"e{e.index}-p")}</tspan>'
                           "</text>")
        out.append("</g>")
    out.append('</g><g class="nodes">')
    for node, box in zip(model.nodes, geometry.nodes, strict=True):
        out += _node(model, node, box, texts, prefix, number)
    out.append("</g></svg>")
    return "\n".join(out)


def _marker(marker_id: str, size: int, cls: str) -> str:
    return (f'<marker id="{marker_id}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="{size}" markerHeight="{size}" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" class="{cls}"/></marker>')


def _node(model: Model, node, box, texts, prefix: str, number) -> list[str]:
    x, y, w, h = box
    pending = texts.get(f"n{node.index}-v", UNKNOWN) == UNKNOWN
    classes = ["node", node.kind] + [name for name, on in (
        ("pending", pending), ("generated", node.generated), ("output", node.outputs),
        ("warned", node.warnings)) if on]
    tip = [f"line {node.line}"] if node.line else []
    tip += [f"warning: {w_}" for w_ in node.warnings]
    out = [f'<g class="{" ".join(classes)}" id="{prefix}n{node.index}" '
           f'data-name="{escape(node.name)}" transform="translate({x - w / 2:.1f},'
           f'{y - h / 2:.1f})">']
    if tip:
        out.append(f"<title>{escape(chr(10).join(tip))}</title>")
    rx = h / 2 if node.kind == "input" else 3
    if node.outputs:  # a second border, as Graphviz's peripheries=2
        out.append(f'<rect class="outer" x="-4" y="-4" width="{w + 8:.1f}" height="{h + 8:.1f}" '
                   f'rx="{rx + 3:.1f}"/>')
    out.append(f'<rect class="box" width="{w:.1f}" height="{h:.1f}" rx="{rx:.1f}"/>')
    tx = PAD_X + (h * 0.175 if node.kind == "input" else 0)
    for j, (slot, label, _) in enumerate(node_lines(model, node)):
        ty = PAD_Y + (j + 1) * LINE_H - 4
        if slot == "head":
            out.append(f'<text class="head" x="{tx:.1f}" y="{ty}">{escape(label)}</text>')
        else:
            out.append(f'<text class="line-{slot}" x="{tx:.1f}" y="{ty}">{escape(label)}'
                       f'<tspan {number(f"n{node.index}-{slot}")}</tspan></text>')
    if node.warnings:  # a warning triangle: a shape, not only a colour
        out.append(f'<g class="badge" transform="translate({w - 18:.1f},3)">'
                   '<path d="M8,0 L16,14 L0,14 z"/><text x="8" y="12.5" '
                   'text-anchor="middle">!</text></g>')
    out.append("</g>")
    return out


def end_svg(model: Model, use_dot: bool = False) -> str:
    """The graph at the end of the sweeps, every number filled in, with its own style (the
    lesson page's rules for the graph, scoped to this picture): for a notebook cell."""
    scope = f"slpg-{uuid.uuid4().hex[:8]}"
    svg = render_svg(model, layout(model, use_dot), model.final_texts(), element_id=scope)
    css = template("lesson.css")
    rules = []
    for selector, body in re.findall(r"([^{}@]+)\{([^{}]*)\}", re.sub(r"/\*.*?\*/", "", css,
                                                                     flags=re.S)):
        selector = selector.strip()
        if selector.startswith(":root"):
            rules.append(f"#{scope} {{{body}}}")
        elif selector.startswith("#graph"):
            rules.append(selector.replace("#graph", f"#{scope}") + f" {{{body}}}")
    return svg.replace("<defs>", f"<style>{' '.join(rules)}</style><defs>", 1)


@cache
def template(name: str) -> str:
    """A template of the lesson page (HTML, CSS, script), from the package's data."""
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")
