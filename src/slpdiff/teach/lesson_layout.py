"""Where a lesson's nodes and edges go: Graphviz's layout when its ``dot`` program is installed,
else a layered layout of our own. Both lay the graph out top to bottom (nodes hold three long
numbers; edge labels stay horizontal and the pane scrolls one way) and give the same shape of
result: a box per node, an SVG path and a label position per edge, in px.

Boxes have the size of the longest text each will show (every number is known when the page is
built), measured in a monospace font: 0.6 em per character is true of DejaVu Sans Mono,
Liberation Mono, Courier and Menlo.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass

from ..htmlformat import is_number
from .dot import quote
from .lesson_model import UNKNOWN, Edge, Model, Node

FONT_SIZE = 12  # px, monospace, in the graph
CHAR_W = 0.6 * FONT_SIZE
LINE_H = 16
PAD_X, PAD_Y = 10, 7
LABEL_FONT = 11  # px, edge labels
LARGE = 200  # nodes from which Graphviz is asked for a quicker layout (no edge labels in it)
DOT_TIMEOUT = 20.0  # seconds; past that, our own layout


@dataclass
class Layout:
    """Node boxes (centre x, y; width, height) and edge paths (``d``, label centre), by index."""

    source: str  # what made it, for the page to say
    width: float
    height: float
    nodes: list[tuple[float, float, float, float]]
    edges: list[tuple[str, tuple[float, float]]]
    left: float = 0.0
    top: float = 0.0


def node_lines(model: Model, node: Node) -> list[tuple[str, str, str]]:
    """The text lines of a node's box: (slot, label, longest text it will show after it)."""
    head = (f"{node.name}  (input)" if node.kind == "input"
            else f"{node.name} = {node.operation}")
    if node.outputs:  # named, when the output is an alias (z = y)
        aliases = [name for name in node.outputs if name != node.name]
        head += "  ⇒ output" + (f" {', '.join(aliases)}" if aliases else "")
    lines = [("head", head, ""), ("v", "value = ", node.value)]
    kinds = {s.kind for s in model.sweeps}
    if "reverse" in kinds:
        lines.append(("b", f"{node.name}{model.bar} = ",
                      max(node.shown.get("b", {UNKNOWN}), key=len)))
    if "tangent" in kinds:
        lines.append(("d", f"{node.name}{model.dot} = ",
                      max(node.shown.get("d", {UNKNOWN}), key=len)))
    return lines


def node_size(model: Model, node: Node) -> tuple[float, float]:
    """Width and height of a node's box in px: room for its longest line (and, on the first, the
    warning triangle; an input's rounded ends take a little more)."""
    lines = node_lines(model, node)
    chars = max(len(label) + len(longest) + (3 if slot == "head" and node.warnings else 0)
                for slot, label, longest in lines)
    height = len(lines) * LINE_H + 2 * PAD_Y
    extra = height * 0.35 if node.kind == "input" else 0
    return chars * CHAR_W + 2 * PAD_X + extra, height


def edge_label(edge: Edge) -> list[str]:
    """An edge's label lines: its rule, then ``= value`` unless the rule is that number."""
    if edge.rule is None:
        return []
    if edge.partial is None or is_number(edge.rule):
        return [edge.rule]
    return [edge.rule, f"= {edge.partial}"]


def layout(model: Model, use_dot: bool = True) -> Layout:
    """Graphviz's layout if ``use_dot`` and it can be had, else ours."""
    found = graphviz_layout(model) if use_dot else None
    return found if found is not None else own_layout(model)


# --- Graphviz -----------------------------------------------------------------------------------

def graphviz_layout(model: Model, timeout: float = DOT_TIMEOUT) -> Layout | None:
    """Node positions and edge splines from ``dot -Tjson`` run on a graph of boxes of our sizes;
    None when ``dot`` is not installed, fails, or takes longer than ``timeout`` seconds."""
    program = shutil.which("dot")
    if program is None or not model.nodes:
        return None
    sizes = [node_size(model, n) for n in model.nodes]
    try:
        proc = subprocess.run([program, "-Tjson"], input=_dot_text(model, sizes).encode(),
                              capture_output=True, timeout=timeout,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        return _read_json(model, sizes, json.loads(proc.stdout))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _dot_text(model: Model, sizes: list[tuple[float, float]]) -> str:
    # Large graphs: no edge labels in the layout (placed afterwards on the curve, like dot.py's
    # xlabel) and bounded crossing minimisation and network simplex. Measured on 1,039 nodes:
    # 138 s with labels, 23 s without, 2 s with these limits too.
    large = len(model.nodes) >= LARGE
    limits = ", mclimit=0.2, nslimit=1, nslimit1=1" if large else ""
    lines = ["digraph lesson {",
             f"  graph [rankdir=TB, nodesep=0.35, ranksep=0.5, splines=spline{limits}];",
             '  node [shape=box, fixedsize=true, label=""];',
             f'  edge [fontname="Courier", fontsize={LABEL_FONT}, arrowsize=0.8];']
    for node, (w, h) in zip(model.nodes, sizes, strict=True):
        lines.append(f"  n{node.index} [width={w / 72:.4f}, height={h / 72:.4f}];")
    for e in model.edges:
        label = "" if large else "\n".join(edge_label(e))
        attributes = f'id="e{e.index}"' + (f", label={quote(label)}" if label else "")
        lines.append(f"  n{e.src} -> n{e.dst} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _read_json(model: Model, sizes, data: dict) -> Layout | None:
    """The layout in ``dot -Tjson``'s output (points, y upwards; one unit is one px here)."""
    _, _, width, height = (float(v) for v in data["bb"].split(","))
    nodes: list = [None] * len(model.nodes)
    for obj in data.get("objects", []):
        x, y = (float(v) for v in obj["pos"].split(","))
        i = int(obj["name"][1:])
        nodes[i] = (x, height - y, *sizes[i])
    edges: list = [None] * len(model.edges)
    for obj in data.get("edges", []):
        edges[int(obj["id"][1:])] = _spline(obj["pos"], height, obj.get("lp"))
    if any(n is None for n in nodes) or any(e is None for e in edges):
        return None
    return Layout("Graphviz dot", width, height, nodes, edges)


def _spline(pos: str, height: float, lp: str | None) -> tuple[str, tuple[float, float]]:
    """Graphviz's ``e,x,y p0 p1 p2 p3 ...`` (B-spline control points, y upwards) as an SVG path
    (y downwards) ending at the arrow's tip, and the label's position."""
    end = None
    points = []
    for part in pos.split():
        if part.startswith("e,"):
            x, y = part[2:].split(",")
            end = (float(x), height - float(y))
        elif not part.startswith("s,"):
            x, y = part.split(",")
            points.append((float(x), height - float(y)))
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for j in range(1, len(points) - 2, 3):
        (x1, y1), (x2, y2), (x3, y3) = points[j:j + 3]
        d += f" C{x1:.1f},{y1:.1f} {x2:.1f},{y2:.1f} {x3:.1f},{y3:.1f}"
    if end is not None:
        d += f" L{end[0]:.1f},{end[1]:.1f}"
    if lp:
        x, y = (float(v) for v in lp.split(","))
        return d, (x, height - y)
    mid = points[len(points) // 2]  # a large layout has no labels: beside the middle point
    return d, (mid[0] + 4, mid[1])


# --- our own -------------------------------------------------------------------------------------

def own_layout(model: Model, rank_gap: float = 84, node_gap: float = 28) -> Layout:
    """A layered layout, top to bottom: layers by longest path from the inputs, long edges bent
    through one point per layer they cross, crossings reduced by barycentres, each node pulled
    towards its neighbours, then edge labels placed where they hide nothing."""
    sizes = [node_size(model, n) for n in model.nodes]
    grid = _Layers(model, sizes, node_gap)
    grid.order()
    x = grid.columns()
    y, height = grid.rows(rank_gap)
    items = grid.items
    n = len(model.nodes)
    nodes = [(x[i], y[i], *sizes[i]) for i in range(n)]
    width = max((x[i] + items[i][0] / 2 for i in range(len(items))), default=0) + 8
    obstacles = _Boxes()
    for cx, cy, w, h in nodes:
        obstacles.add(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    paths, curves = [], []
    pairs = Counter((e.src, e.dst) for e in model.edges)
    for e in model.edges:
        # two edges between the same nodes (x * x) fan out a little so that both stay visible
        offset = (e.k - 0.5) * 14 if pairs[(e.src, e.dst)] > 1 else 0
        d, c = _own_edge(e, grid.chains[e.index], x, y, items, offset)
        paths.append(d)
        curves.append(c)
    extent = [0.0, 0.0, width, height]  # grows to hold the labels
    edges = []
    for e, d, c in zip(model.edges, paths, curves, strict=True):
        centre = _place_label(edge_label(e), c, obstacles, extent)
        edges.append((d, centre))
    return Layout("slpdiff's own layered layout", extent[2] - extent[0], extent[3] - extent[1],
                  nodes, edges, extent[0], extent[1])


class _Layers:
    """The nodes and bend points of a layered layout, layer by layer."""

    def __init__(self, model: Model, sizes, node_gap: float):
        n = len(model.nodes)
        layer = [0] * n
        for e in sorted(model.edges, key=lambda e: e.dst):
            layer[e.dst] = max(layer[e.dst], layer[e.src] + 1)
        # Bend points for edges crossing layers; in a big graph, far-reaching edges are drawn
        # straight instead, so that their bends cannot blow the layout up.
        spans = sum(layer[e.dst] - layer[e.src] - 1 for e in model.edges)
        max_span = 10**9 if spans <= 4 * max(n, 50) else 3
        self.gap = node_gap
        self.items = [(w, h) for w, h in sizes]  # width, height; bend points are 12 x 0
        item_layer = list(layer)
        self.up: list[list[int]] = [[] for _ in range(n)]
        self.chains: list[list[int]] = []  # per edge, the items it passes, source to target
        for e in model.edges:
            chain = [e.src]
            if 1 < layer[e.dst] - layer[e.src] <= max_span:
                for lay in range(layer[e.src] + 1, layer[e.dst]):
                    self.items.append((12, 0))
                    item_layer.append(lay)
                    self.up.append([])
                    chain.append(len(self.items) - 1)
            chain.append(e.dst)
            for a, b in itertools.pairwise(chain):
                if item_layer[b] - item_layer[a] == 1:
                    self.up[b].append(a)
            self.chains.append(chain)
        self.down: list[list[int]] = [[] for _ in self.items]
        for b, sources in enumerate(self.up):
            for a in sources:
                self.down[a].append(b)
        self.layers: list[list[int]] = [[] for _ in range(max(item_layer, default=0) + 1)]
        for i, lay in enumerate(item_layer):
            self.layers[lay].append(i)

    def order(self, sweeps: int = 8) -> None:
        """Order each layer by its items' neighbours' mean place, downwards then upwards."""
        place = {i: k for row in self.layers for k, i in enumerate(row)}
        for near, row in self._sweeps(sweeps):
            row.sort(key=lambda i: (sum(place[j] for j in near[i]) / len(near[i])
                                    if near[i] else place[i]))
            for k, i in enumerate(row):
                place[i] = k

    def _sweeps(self, sweeps: int):
        """(the neighbours to look at, a layer) for each layer of ``sweeps`` passes, alternately
        downwards (looking up) and upwards (looking down)."""
        for sweep in range(sweeps):
            downwards = sweep % 2 == 0
            near = self.up if downwards else self.down
            lays = range(1, len(self.layers)) if downwards else range(len(self.layers) - 2, -1, -1)
            for lay in lays:
                yield near, self.layers[lay]

    def columns(self, sweeps: int = 6) -> list[float]:
        """x of each item: each layer packed left to right, then pulled towards its neighbours'
        centres, keeping the order and the gaps."""
        items, gap = self.items, self.gap
        x = [0.0] * len(items)
        for row in self.layers:
            pos = 0.0
            for i in row:
                x[i] = pos + items[i][0] / 2
                pos += items[i][0] + gap
        for near, row in self._sweeps(sweeps):
            want = [sum(x[j] for j in near[i]) / len(near[i]) if near[i] else x[i] for i in row]
            placed: list[float] = []
            for k, i in enumerate(row):
                least = (placed[-1] + (items[row[k - 1]][0] + items[i][0]) / 2 + gap
                         if placed else -1e18)
                placed.append(max(want[k], least))
            # placed >= want: shift the row back by the mean excess (the gaps stay)
            shift = sum(w - p for w, p in zip(want, placed, strict=True)) / len(row)
            for k, i in enumerate(row):
                x[i] = placed[k] + shift
        left = min((x[i] - items[i][0] / 2 for i in range(len(items))), default=0)
        return [v - left + 8 for v in x]

    def rows(self, rank_gap: float) -> tuple[list[float], float]:
        """y of each item (layer by layer, each as tall as its tallest box), and the height."""
        y = [0.0] * len(self.items)
        top = 8.0
        for row in self.layers:
            h = max((self.items[i][1] for i in row), default=0)
            for i in row:
                y[i] = top + h / 2
            top += h + rank_gap
        return y, top - rank_gap + 8


def _own_edge(e: Edge, chain: list[int], x, y, items, offset: float):
    """An edge as a path of cubic curves through its bend points (moved right by
    ``offset``), and the curves."""
    points = [(x[e.src] + offset, y[e.src] + items[e.src][1] / 2)]
    points += [(x[i] + offset, y[i]) for i in chain[1:-1]]
    points.append((x[e.dst] + offset, y[e.dst] - items[e.dst][1] / 2 - 1))
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    curves = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        dy = (y1 - y0) / 2
        curve = ((x0, y0), (x0, y0 + dy), (x1, y1 - dy), (x1, y1))
        curves.append(curve)
        d += " C" + " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in curve[1:])
    return d, curves


def _place_label(lines: list[str], curves, obstacles: _Boxes, extent: list[float]):
    """The first spot along the edge (middle stretch first) where its label overlaps no node and
    no label placed before, else the least crowded one; marks it taken and grows ``extent``."""
    if not lines:
        return _bezier(curves[len(curves) // 2], 0.5)
    w = max(len(t) for t in lines) * 0.6 * LABEL_FONT + 6
    h = 14 * len(lines)
    best = None
    middle_first = sorted(range(len(curves)), key=lambda j: abs(j - (len(curves) - 1) / 2))
    for j in middle_first:
        for t in (0.5, 0.35, 0.65, 0.22, 0.78):
            cx, cy = _bezier(curves[j], t)
            for dx in (w / 2 + 4, -w / 2 - 4, 0):
                box = (cx + dx - w / 2, cy - h / 2, cx + dx + w / 2, cy + h / 2)
                hits = obstacles.count(*box)
                if best is None or hits < best[0]:
                    best = (hits, box)
                if hits == 0:
                    break
            if best[0] == 0:
                break
        if best[0] == 0:
            break
    x0, y0, x1, y1 = best[1]
    obstacles.add(x0, y0, x1, y1)
    extent[:] = [min(extent[0], x0), min(extent[1], y0), max(extent[2], x1), max(extent[3], y1)]
    return (x0 + x1) / 2, (y0 + y1) / 2


class _Boxes:
    """Rectangles in the buckets of a grid, to count quickly those a new one overlaps."""

    def __init__(self, cell: float = 120):
        self.cell = cell
        self.grid: dict[tuple[int, int], list] = {}

    def _cells(self, x0, y0, x1, y1):
        c = self.cell
        for i in range(int(x0 // c), int(x1 // c) + 1):
            for j in range(int(y0 // c), int(y1 // c) + 1):
                yield i, j

    def add(self, *box) -> None:
        for key in self._cells(*box):
            self.grid.setdefault(key, []).append(box)

    def count(self, x0, y0, x1, y1) -> int:
        seen = set()
        for key in self._cells(x0, y0, x1, y1):
            for b in self.grid.get(key, ()):
                if b[0] < x1 and x0 < b[2] and b[1] < y1 and y0 < b[3]:
                    seen.add(b)
        return len(seen)


def _bezier(curve, t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = curve
    u = 1 - t
    return (u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
            u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3)
