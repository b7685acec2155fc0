"""The chain rule made visible: d OUT/d IN as a sum, over every path from IN to OUT in the graph, of
the product of the local partial derivatives along the path.

Paths can be exponentially many (``v2 = v1 * v1`` repeated doubles them each line), so they are
first counted, exactly (Python integers), by one pass over the node list. Up to a limit they are
listed by a walk with an explicit stack; beyond it only the paths with the largest products are
found (the k best paths, by one pass keeping the k best partial paths into each node), and the sum
over all paths is the one forward accumulation computes, which needs no listing. The local
partials are the numbers the engine's sweeps compute (recorded as they make them).
"""

from __future__ import annotations

import heapq
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..core.engine import Evaluation, adjoints
from ..core.schedule import resolve_names
from ..core.tangent import column, sweep
from ..evaluation import evaluate
from ..formats import derivative_label, json_number
from ..language.program import Program
from ..language.rules import rules_for
from .labels import Labels, grouped
from .notation import shown

MAX_PATHS = 20  # default: list every path up to this many, else this many of the largest


@dataclass
class Factor:
    """One edge of a path: the local partial d node/d argument, as a rule and a value."""

    node: str
    argument: str
    rule: str
    value: object  # None if no sweep needed it (the path has a factor that is exactly 0)


@dataclass
class ChainPath:
    """A path from the input to the output, with its factors in order and their product."""

    nodes: list[str]
    factors: list[Factor]
    product: object  # None in a symbolic explanation

    @property
    def rule_product(self) -> str:
        """The product of the factors' rules as text (``x * cos(v1) * v5``; factors 1 left out)."""
        rules = [grouped(f.rule) for f in self.factors if f.rule != "1"]
        return " * ".join(rules) or "1"


@dataclass
class Explanation:
    """d ``output``/d ``input`` at ``at`` as a sum over paths."""

    output: str
    input: str
    at: dict[str, object]
    count: int  # how many paths there are
    paths: list[ChainPath]  # all of them, or the largest |product| first
    complete: bool  # True if ``paths`` is every path
    total: object  # the sum over all paths (of ``paths`` if complete, else forward accumulation)
    derivative: object  # the partial derivative eval computes (reverse sweep)
    symbolic: bool = False  # no point: rules only, no numbers (total, derivative are None)
    evaluation: object = None  # the engine's evaluation at ``at`` (for its warnings), if any

    @property
    def shown_sum(self):
        """The sum of the products of the paths listed, in order."""
        return _sum(p.product for p in self.paths)


def explain(program: Program, at: Mapping[str, object], output: str, input: str,
            max_paths: int = MAX_PATHS) -> Explanation:
    """Explain d ``output``/d ``input`` at ``at`` path by path (at most ``max_paths`` listed)."""
    resolve_names([output], program.output_names, "output")
    resolve_names([input], program.input_names, "input")
    ev = evaluate(program, at, wrt=[input], outputs=[output])
    values = ev.node_values
    out = program.output_index[program.output_names.index(output)]
    k = program.input_names.index(input)
    x = program.input_index[k]

    partials: dict[tuple[int, int], object] = {}

    def record(i, k, partial, *_):
        partials[(i, k)] = partial

    # Between them the two sweeps compute every partial on a path whose product is not exactly 0.
    adjoints(program, values, out, [x], record=record)
    inputs = list(ev.at.values())
    forward = sweep(program, inputs, {x: np.ones(np.shape(inputs[k]) + (1,))}, 1, record=record)
    total = column(forward.tangents[out], 0, values[out])
    labels = Labels(program)
    count = count_paths(program, x, out)
    with np.errstate(all="ignore"):  # a product may overflow, as a value may: inf, not a warning
        found = _explanation(program, labels, partials, total, ev, output, input, x, out, count,
                             max_paths)
    found.evaluation = ev
    return found


def explain_symbolic(program: Program, output: str, input: str,
                     max_paths: int = MAX_PATHS) -> Explanation:
    """Explain d ``output``/d ``input`` without a point: each path as the product of the rules on
    its edges (every path up to ``max_paths``, else the first ``max_paths`` found)."""
    resolve_names([output], program.output_names, "output")
    resolve_names([input], program.input_names, "input")
    out = program.output_index[program.output_names.index(output)]
    x = program.input_index[program.input_names.index(input)]
    labels = Labels(program)
    count = count_paths(program, x, out)
    paths = []
    for edges in _all_paths(program, x, out):
        if len(paths) == max_paths:
            break
        factors = [Factor(labels.name(i), labels.name(program.args[i][k]), labels.rule(i, k),
                          None) for i, k in edges]
        paths.append(ChainPath([labels.name(x)] + [labels.name(i) for i, _ in edges], factors,
                               None))
    return Explanation(output, input, {}, count, paths, count <= max_paths, None, None, True)


def _explanation(program: Program, labels: Labels, partials: dict, total, ev: Evaluation,
                 output: str, input: str, x: int, out: int, count: int,
                 max_paths: int) -> Explanation:
    if count <= max_paths:
        paths = [_path(program, labels, partials, x, edges)
                 for edges in _all_paths(program, x, out)]
        total = _sum(p.product for p in paths)
    else:
        paths = [_path(program, labels, partials, x, edges)
                 for edges in _largest_paths(program, partials, x, out, max_paths)]
    return Explanation(output, input, ev.at, count, paths, count <= max_paths, total,
                       ev.gradient[output][input])


def count_paths(program: Program, source: int, target: int) -> int:
    """How many paths lead from node ``source`` to node ``target`` (an argument used twice, as in
    ``x * x``, is two edges). One pass over the nodes; the count may be huge."""
    count = [0] * (target + 1)
    if source <= target:
        count[source] = 1
    for i in range(source + 1, target + 1):
        count[i] = sum(count[c] for c in program.args[i])
    return count[target]


def _reaching(program: Program, source: int, target: int) -> list[bool]:
    """Per node up to ``target``: is it on some path from ``source`` to ``target``?"""
    after = [False] * (target + 1)  # reachable from source
    if source <= target:
        after[source] = True
    for i in range(source + 1, target + 1):
        after[i] = any(after[c] for c in program.args[i])
    on = [False] * (target + 1)
    on[target] = after[target]
    for i in range(target, source, -1):
        if on[i]:
            for c in program.args[i]:
                if after[c]:
                    on[c] = True
    return on


def _all_paths(program: Program, source: int, target: int):
    """Each path from ``source`` to ``target`` as its edges (node, argument), source side first;
    a depth-first walk backwards from ``target`` with an explicit stack."""
    on = _reaching(program, source, target)
    if not on[target]:
        return
    stack = [(target, 0)]
    edges: list[tuple[int, int]] = []
    while stack:
        i, k = stack[-1]
        args = program.args[i]
        if i == source:
            yield edges[::-1]
            k = len(args)  # a path ends at the source even if the source has arguments
        while k < len(args) and not on[args[k]]:
            k += 1
        if k >= len(args):
            stack.pop()
            if edges:
                edges.pop()
            continue
        stack[-1] = (i, k + 1)
        edges.append((i, k))
        stack.append((args[k], 0))


def _largest_paths(program: Program, partials: dict, source: int, target: int, n: int):
    """The ``n`` paths with the largest |product| (non-finite first), as in :func:`_all_paths`.

    Each node keeps its ``n`` best partial paths from ``source``: a best path into a node extends
    a best path into one of its arguments, so one pass in node order finds them.
    """
    on = _reaching(program, source, target)
    # A partial path: (magnitude, product, edge (node, argument), previous partial path).
    best: dict[int, list] = {source: [(1.0, 1.0, None, None)]}
    for i in range(source + 1, target + 1):
        if not on[i]:
            continue
        candidates = []
        for k, c in enumerate(program.args[i]):
            if c in best:
                factor = _factor(_partial(program, partials, i, k))
                for entry in best[c]:
                    product = entry[1] * factor
                    candidates.append((_magnitude(product), product, (i, k), entry))
        best[i] = heapq.nlargest(n, candidates, key=lambda e: e[0])
    for entry in best.get(target, []):
        edges = []
        while entry[2] is not None:
            edges.append(entry[2])
            entry = entry[3]
        yield edges[::-1]


def _magnitude(product) -> float:
    m = abs(float(product))
    return math.inf if math.isnan(m) else m


def _partial(program: Program, partials: dict, i: int, k: int):
    value = partials.get((i, k))
    if value is None:
        value = rules_for(program.ops[i])[k].const  # 0: the sweeps skip it
    return value


def _path(program: Program, labels: Labels, partials: dict, source: int, edges) -> ChainPath:
    factors = []
    product = 1.0
    nodes = [labels.name(source)]
    for i, k in edges:
        value = _partial(program, partials, i, k)
        factors.append(Factor(labels.name(i), labels.name(program.args[i][k]), labels.rule(i, k),
                              value))
        nodes.append(labels.name(i))
        product = product * _factor(value)
    return ChainPath(nodes, factors, np.float64(product))


def _factor(value):
    # Not computed: no sweep needed it, because the path has another factor that is exactly 0.
    return 0.0 if value is None else value


def _sum(products):
    total = np.float64(0.0)
    for p in products:
        total = total + p
    return total


# --- as text and JSON --------------------------------------------------------------------------

def count_text(n: int) -> str:
    """``n`` in decimal, or ``about 1.2e+4567`` when it has thousands of digits."""
    if n.bit_length() <= 13000:  # under Python's 4300-digit limit for int -> str
        return str(n)
    shift = n.bit_length() - 60
    exponent = math.log10(n >> shift) + shift * math.log10(2)
    return f"about {10 ** (exponent % 1):.2f}e+{int(exponent)}"


def explanation_text(e: Explanation, input_names, digits: int | None = None) -> list[str]:
    """The explanation as lines: each path with its factors, then the sums (numbers rounded to
    ``digits`` significant digits for display, or every digit)."""
    if e.symbolic:
        return _symbolic_text(e)
    number = partial(shown, digits=digits)
    d = derivative_label(e.output, e.input)
    n = count_text(e.count)
    at = ", ".join(f"{name} = {number(e.at[name])}" for name in input_names)
    head = (f"{d} at {at}, by the chain rule: the sum, over every "
            f"path from {e.input} to {e.output}, of the product of the local partial derivatives "
            "along the path.")
    if e.complete:
        head += f" {n}{_KEEP}path{'s' if e.count != 1 else ''}:"
    else:
        head += (f" There are {n}{_KEEP}paths; the {len(e.paths)} with the largest products are "
                 "shown (raise --max-paths to see more).")
    lines = _wrapped(head)
    for number_, path in enumerate(e.paths, 1):
        lines += ["", *_wrapped(f"path {number_}: {' -> '.join(path.nodes)}", "    ")]
        rows = [(derivative_label(f.node, f.argument), f.rule, _factor_value(f, number))
                for f in path.factors]
        w1 = max((len(a) for a, _, _ in rows), default=0)
        w2 = max((len(b) for _, b, _ in rows), default=0)
        for label, rule, value in rows:
            lines.append(f"  {label:<{w1}} = {rule:<{w2}}{value}".rstrip())
        lines.append(f"  {'product':<{w1 + w2 + 3}} = {number(path.product)}")
    lines.append("")
    if e.complete:
        lines.append(f"sum of the {n} path products = {number(e.total)}")
    else:
        lines.append(f"sum of the {len(e.paths)} products shown = {number(e.shown_sum)}")
        lines.append(f"sum over all {n} paths = {number(e.total)}")
        lines.append("(by forward accumulation, which adds them up without listing them)")
    lines.append(f"{d} by reverse mode, as eval prints it = {number(e.derivative)}")
    if repr(float(e.total)) != repr(float(e.derivative)):
        lines.append("(the same products added in another order: the last digits may differ)")
    return lines


def _symbolic_text(e: Explanation) -> list[str]:
    d = derivative_label(e.output, e.input)
    n = count_text(e.count)
    head = (f"{d} by the chain rule: the sum, over every path from {e.input} to {e.output}, of "
            "the product of the local partial derivatives along the path (no point given: the "
            "rules only; --at gives their values).")
    head += (f" {n}{_KEEP}path{'s' if e.count != 1 else ''}:" if e.complete else
             f" There are {n}{_KEEP}paths; the first {len(e.paths)} are shown (raise --max-paths "
             "to see more).")
    lines = _wrapped(head)
    for number_, path in enumerate(e.paths, 1):
        lines += ["", *_wrapped(f"path {number_}: {' -> '.join(path.nodes)}", "    ")]
        width = max((len(derivative_label(f.node, f.argument)) for f in path.factors), default=0)
        for f in path.factors:
            lines.append(f"  {derivative_label(f.node, f.argument):<{width}} = {f.rule}")
        lines.append(f"  {'product':<{width}} = {path.rule_product}")
    lines.append("")
    total = " + ".join(p.rule_product for p in e.paths) or "0"
    more = "" if e.complete else " + ... (the other paths)"
    lines += _wrapped(f"{d} = {total}{more}", "    ")
    return lines


_KEEP = "\0"  # a space that does not break: a count stays with its word ("4 paths:")


def _wrapped(text: str, indent: str = "") -> list[str]:
    """``text`` in lines of at most 79 characters, names and numbers never broken, nor a
    space written as ``_KEEP``."""
    return [line.replace(_KEEP, " ") for line in
            textwrap.wrap(text, 79, subsequent_indent=indent, break_long_words=False,
                          break_on_hyphens=False)]


def _factor_value(f: Factor, number=shown) -> str:
    if f.value is None:
        return "   (not computed: another factor is 0)"
    try:
        float(f.rule)
    except ValueError:
        return f" = {number(f.value)}"
    return ""  # the rule is a number: it is its own value


def explanation_json(e: Explanation) -> dict:
    """The explanation as one JSON-ready object (without a point: rules, products of rules)."""
    if e.symbolic:
        count = e.count if e.count.bit_length() <= 13000 else count_text(e.count)
        return {"of": e.output, "wrt": e.input, "at": None, "paths": count,
                "complete": e.complete,
                "shown": [{"nodes": p.nodes, "factors": [{"node": f.node, "argument": f.argument,
                                                          "rule": f.rule} for f in p.factors],
                           "product": p.rule_product} for p in e.paths]}
    paths = [{"nodes": p.nodes,
              "factors": [{"node": f.node, "argument": f.argument, "rule": f.rule,
                           "value": None if f.value is None else json_number(f.value)}
                          for f in p.factors],
              "product": json_number(p.product)} for p in e.paths]
    count = e.count if e.count.bit_length() <= 13000 else count_text(e.count)
    return {"of": e.output, "wrt": e.input, "at": {k: json_number(v) for k, v in e.at.items()},
            "paths": count, "complete": e.complete, "shown": paths,
            "shown_sum": json_number(e.shown_sum), "sum": json_number(e.total),
            "derivative": json_number(e.derivative)}
