"""An adjoint program as a standalone Python module that needs only numpy.

The module has one function, ``value_and_gradient(<inputs>)``, returning ``(values, gradient)``:
dicts by output name, the gradient's rows dicts by input name. Each statement calls the primitive
table's own numpy function (``np.sin``), or a copy of the table's helper function's source
(``_sigmoid``), so the module computes what the engine computes, bit for bit. Inputs may be numbers
or numpy arrays; results are elementwise, one value and one derivative per point.

Generated code never contains a program's text: statements are built from the parsed nodes, every
name is mapped to a Python identifier that is no keyword, builtin, dunder or name of the module's
own (``lambda`` becomes ``lambda_``, ``__class__`` becomes ``v__class__``), names appear in strings
only through ``repr``, and comments are escaped so that nothing can end them early.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import textwrap

import numpy as np

from ..errors import printable
from ..language.printer import Layout, SlpWriter, layout
from ..version import __version__
from .adjoint import AdjointProgram

FUNCTION = "value_and_gradient"
_MODULE_NAMES = {"np", "numpy", "INPUTS", "OUTPUTS", "SOURCE", FUNCTION}
_RESERVED = (set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins))
             | _MODULE_NAMES)
MAX_NESTING = 20  # calls nested inside one statement (Python limits nesting in its parser)

_PRELUDE = '''
def _value(x):
    """An input as float64: a numpy scalar, or an array if it has a shape."""
    if isinstance(x, (list, tuple)) or np.ndim(x):
        return np.asarray(x, dtype=np.float64)
    return np.float64(x)


def _full(value, *like):
    """``value`` as a float64 scalar, or an array shaped like ``value`` and ``like`` together."""
    shape = np.broadcast_shapes(np.shape(value), *(np.shape(v) for v in like))
    return np.array(np.broadcast_to(value, shape), dtype=np.float64)[()]
'''


def safe_identifier(name: str) -> bool:
    """Can ``name`` be used as a local variable of the generated function without any effect on
    the module's own names, keywords or builtins?"""
    return (name.isidentifier() and name.isascii() and not name.startswith("_")
            and name not in _RESERVED)


def python_names(names) -> dict[str, str]:
    """A collision-free Python identifier for each SLP name (itself when it is safe)."""
    names = list(dict.fromkeys(names))
    used = {n for n in names if safe_identifier(n)}
    mapping = {}
    given: set[str] = set()  # mapping's values, as a set: a test per name, not a scan
    for name in names:
        if name in used and name not in given:
            mapping[name] = name
            given.add(name)
            continue
        candidate = ("v" + name if name.startswith("_") else name) + "_"
        while not safe_identifier(candidate) or candidate in used:
            candidate += "_"
        used.add(candidate)
        mapping[name] = candidate
        given.add(candidate)
    return mapping


def to_python(adj: AdjointProgram) -> str:
    """The Python module for the adjoint program ``adj`` (see the module docstring)."""
    program = adj.program
    lay = layout(program, max_depth=MAX_NESTING)
    pynames = python_names(lay.input_names + [n for n in lay.names if n is not None])
    writer = _PyWriter(lay, pynames)
    slp = SlpWriter(lay)  # for comments that quote statements
    comments = adj.comments

    def comment_lines(lines, indent: str) -> list[str]:
        out = []
        for line in lines:
            text = line if isinstance(line, str) else slp.comment(line)
            out.append(indent + printable(text) if text else "")
        return out

    params = [pynames[n] for n in lay.input_names]
    body = [f"    {p} = _value({p})" for p in params]
    body.append('    with np.errstate(all="ignore"):  # IEEE results (inf, nan), as slpdiff gives')
    statements = 0
    for i, op in enumerate(program.ops):
        if lay.names[i] is None or program.is_input(i):
            continue
        body.extend(comment_lines(comments.above.get(i, []), "        "))
        value = writer.literal(program.consts[i]) if op is None else writer.expression(i)
        body.append(f"        {pynames[lay.names[i]]} = {value}")
        statements += 1
    if not statements:
        body.append("        pass")
    position = dict(zip(program.output_names, program.output_index, strict=True))
    body.append("    values = {")
    body += [f"        {o!r}: _full({writer.reference(position[o])})," for o in adj.outputs]
    body += ["    }", "    gradient = {"]
    original_position = {x: k for k, x in reversed(list(enumerate(adj.original.input_names)))}
    for o in adj.outputs:
        body.append(f"        {o!r}: {{")
        for x, d in adj.derivatives[o].items():
            like = pynames[lay.input_names[original_position[x]]]
            body.append(f"            {x!r}: _full({writer.reference(position[d])}, "
                        f"{writer.reference(position[o])}, {like}),")
        body.append("        },")
    body += ["    }", "    return values, gradient"]

    source = adj.original.source.name if adj.original.source is not None else None
    lines = [f'"""Values and partial derivatives of a straight-line program, written by slpdiff '
             f'{__version__}.', "",
             "Needs only numpy. Call:", "",
             f"    values, gradient = {FUNCTION}({', '.join(params)})", "",
             "values maps each output's name to its value; gradient maps each output's name to",
             "its partial derivatives by input name. Inputs may be numbers or numpy arrays",
             "(elementwise: one value and one derivative per point).",
             '"""', "", "import numpy as np", "",
             f"SOURCE = {source!r}",
             f"INPUTS = {tuple(adj.original.input_names)!r}",
             f"OUTPUTS = {tuple(adj.outputs)!r}", "", *_PRELUDE.strip("\n").split("\n")]
    for helper in writer.helpers.values():
        lines += ["", "", *helper.rstrip("\n").split("\n")]
    lines += ["", "", *comment_lines(comments.header, ""),
              f"def {FUNCTION}({', '.join(params)}):", *body]
    return "\n".join(lines) + "\n"


class _PyWriter:
    """Renders nodes as numpy calls, collecting the helper functions they need."""

    def __init__(self, lay: Layout, pynames: dict[str, str]):
        self.lay = lay
        self.pynames = pynames
        self.ops = lay.program.ops
        self.consts = lay.program.consts
        self.args = lay.program.args
        self.helpers: dict[str, str] = {}  # function name -> its source

    def callee(self, op) -> str:
        impl = op.impl
        name = getattr(impl, "__name__", "")
        if getattr(np, name, None) is impl:
            return f"np.{name}"
        if name not in self.helpers:
            if not (name.startswith("_") and name.isidentifier()) or name in ("_value", "_full"):
                raise TypeError(f"cannot write Python for '{op.name}': its numpy function is not "
                                "a numpy function or a named helper function")
            self.helpers[name] = textwrap.dedent(inspect.getsource(impl))
        return name

    def literal(self, value: float) -> str:
        value = float(value)
        if value != value:
            return "np.nan"
        if value in (float("inf"), float("-inf")):
            return "np.inf" if value > 0 else "-np.inf"
        return repr(value)

    def reference(self, i: int) -> str:
        if self.lay.names[i] is not None:
            return self.pynames[self.lay.names[i]]
        if self.ops[i] is None:
            return self.literal(self.consts[i])
        return self.expression(i)

    def expression(self, i: int) -> str:
        out: list[str] = []
        stack: list = [("expand", i)]
        while stack:  # an explicit stack: no recursion over deep expressions
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            j = item[1]
            parts: list = [f"{self.callee(self.ops[j])}("]
            for k, a in enumerate(self.args[j]):
                if k:
                    parts.append(", ")
                inline = self.lay.names[a] is None and self.ops[a] is not None
                parts.append(("expand", a) if inline else self.reference(a))
            parts.append(")")
            stack.extend(reversed(parts))
        return "".join(out)


__all__ = ["FUNCTION", "python_names", "safe_identifier", "to_python"]
