"""slpdiff in Jupyter: the ``%%slp`` cell magic, whose cell is the program.

    %load_ext slpdiff

    %%slp eval --at x=1,w=4          the values and partial derivatives as a table (--hessian too)
    input x, w
    v1 = x * w
    ...

    %%slp trace --at x=1,w=4 [--mode forward]   the forward sweep and the derivative sweeps
    %%slp graph [--at x=1,w=4]                   the graph (drawn by Graphviz when installed)
    %%slp explain --at x=1,w=4 --wrt w           the chain rule, path by path
    %%slp lesson --at x=1,w=4                    the lesson page, inline
    %%slp check --at x=1,w=4                     derivatives against finite differences
    %%slp grad                                   the adjoint program
    %slp functions                               (a line magic) the table of functions

Each is the slpdiff command of that name, run in this process on the cell's text (as ``slpdiff
COMMAND - OPTIONS``), so its options and messages are exactly the command's. The cell's value is a
:class:`Result`, shown as HTML; ``.text`` is what the command printed, ``.data`` the parsed JSON
(for eval, check) and ``.warnings`` its warnings. A bad program or option stops the cell with the
command's message (IPython's UsageError: no traceback), so "run all" stops there.

IPython is needed only when the magic is loaded (``pip install 'slpdiff[notebook]'``): importing
slpdiff, or this module, does not import it.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .formats import number
from .htmlformat import block, escape, evaluation_html, table, warning_html

COMMANDS = ("eval", "trace", "graph", "explain", "lesson", "check", "grad")
LINE_COMMANDS = ("functions",)
CELL = "cell"  # what messages call the cell's program (the command says <stdin>)


@dataclass
class Result:
    """One command's result: HTML in a notebook, its text elsewhere."""

    command: str
    text: str  # what the command printed on stdout
    html: str
    data: object = None  # the parsed JSON it printed, if it printed JSON
    warnings: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return block(*map(warning_html, self.warnings), self.html)

    def __repr__(self) -> str:
        return "\n".join([*(f"warning: {w}" for w in self.warnings), self.text.rstrip("\n")])


def slp(line: str, cell: str | None = None) -> Result:
    """``%%slp COMMAND [OPTIONS]``: slpdiff's COMMAND on the cell's program (eval, trace, graph,
    explain, lesson, check, grad); ``%slp functions``: the table of functions."""
    words = shlex.split(line)
    if not words or words[0] in ("-h", "--help", "help"):
        return Result("help", __doc__, _pre(__doc__))
    command, options = words[0], words[1:]
    if cell is None and command not in LINE_COMMANDS:
        _fail(f"%slp {command}: write the program in the cell, under %%slp {command}")
    if cell is not None and command not in COMMANDS:
        _fail(f"%%slp: unknown command '{command}'; use one of {', '.join(COMMANDS)}")
    args = [command, *options] if cell is None else [command, "-", *options]
    to_file = _has(options, "-o", "--output")
    asked = _FORMAT.get(command)
    if asked and not (to_file or _has(options, "--format", "--points") or _grid(options)):
        args += ["--format", asked]
    else:
        asked = None
    status, out, err = run(args, cell)
    if status != 0:
        _fail(err.strip().replace("slpdiff: error: ", "") or f"slpdiff {command} failed")
    result = Result(command, out, _pre(out), warnings=_warnings(err))
    if asked == "json":
        result.data = json.loads(out)
        result.html = _FROM_JSON[command](result.data)
    elif asked == "html":
        result.html = out
    elif command == "lesson" and not to_file:
        from .teach.lesson import iframe

        result.html = iframe(out, "slpdiff lesson")
    elif command == "graph" and not to_file:
        result.html = _graph(out, args, cell)
    return result


def run(args: list[str], program: str | None = None) -> tuple[int, str, str]:
    """``slpdiff ARGS`` in this process, ``program`` as its standard input: (exit status, stdout,
    stderr), with the program called "cell" in messages."""
    from .cli import cli

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO((program or "").encode("utf-8")), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(args, prog_name="slpdiff", standalone_mode=False)
    finally:
        sys.stdin = saved
    return status, out.getvalue(), err.getvalue().replace("<stdin>:", f"{CELL}:")


def _fail(message: str):
    from IPython.core.error import UsageError

    raise UsageError(message)


def _warnings(stderr: str) -> list[str]:
    """The command's warnings, each with the lines that quote the program."""
    found: list[str] = []
    for line in stderr.splitlines():
        if line.startswith("slpdiff: warning: "):
            found.append(line.removeprefix("slpdiff: warning: "))
        elif found and line.startswith(" "):
            found[-1] += "\n" + line
    return found


def _has(options: list[str], *names: str) -> bool:
    return any(o == n or o.startswith(n + "=") for o in options for n in names)


def _grid(options: list[str]) -> bool:
    return any(":" in v for v in _values(options, "--at"))


def _values(options: list[str], name: str) -> list[str]:
    found = [options[k + 1] for k, o in enumerate(options[:-1]) if o == name]
    return found + [o.split("=", 1)[1] for o in options if o.startswith(name + "=")]


# --- what a command's output looks like in a notebook --------------------------------------------

def _pre(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def _check_html(data: dict) -> str:
    rows = [[f"d {d['output']}/d {', '.join(d['wrt'])}", number(d["ad"]), number(d["fd"]),
             number(d["error"]), d["status"]] for d in data["derivatives"]]
    verdict = "all agree" if data["ok"] else "some disagree"
    return table(f"Derivatives against central finite differences (rtol {number(data['rtol'])}):"
                 f" {verdict}", ["derivative", "AD", "finite difference", "relative error",
                                 "status"], rows, align="lrrrl")


def _graph(dot_text: str, args: list[str], cell: str) -> str:
    """Graphviz's picture of the graph; without Graphviz, slpdiff's own drawing (at the point of
    --at), or the DOT text."""
    if shutil.which("dot") is not None:
        with tempfile.TemporaryDirectory() as directory:
            picture = Path(directory) / "graph.svg"
            status, _, _ = run([*args, "-o", str(picture)], cell)
            if status == 0:
                svg = picture.read_text(encoding="utf-8")
                return svg[svg.index("<svg"):]  # without the XML prolog and DOCTYPE
    options = args[2:]
    if _has(options, "--at"):
        return _own_graph(options, cell)
    return ("<p>Graphviz's <code>dot</code> is not installed: the graph in DOT (install "
            "Graphviz, or give <code>--at</code> for slpdiff's own drawing)</p>" + _pre(dot_text))


def _own_graph(options: list[str], cell: str) -> str:
    """slpdiff's own drawing of the graph at the end of the sweeps (the options are the graph
    command's, which has already accepted them)."""
    from .cli.options import PointType, merge_points
    from .language.parser import parse
    from .teach.lesson_model import Model
    from .teach.lesson_svg import end_svg
    from .teach.trace import trace

    point = merge_points([PointType().convert(v, None, None) for v in _values(options, "--at")])
    outputs = [name for v in _values(options, "--of") for name in v.split(",")] or None
    return end_svg(Model(trace(parse(cell, name=CELL), point, outputs=outputs), outputs))


_FORMAT = {"eval": "json", "check": "json", "trace": "html"}  # asked for unless one is given
_FROM_JSON = {"eval": evaluation_html, "check": _check_html}


# --- the extension -------------------------------------------------------------------------------

def load_ipython_extension(ipython) -> None:
    """``%load_ext slpdiff.notebook`` (or ``%load_ext slpdiff``): register ``%%slp``."""
    ipython.register_magic_function(slp, magic_kind="line_cell", magic_name="slp")


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext``: the magic goes."""
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("slp", None)
