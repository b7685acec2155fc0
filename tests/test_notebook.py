"""slpdiff in Jupyter: docs/lesson.ipynb run in a real kernel (nbclient, ipykernel) with its outputs
checked against the commands' own output; the magic's messages in a real IPython shell; and
slpdiff imported without IPython.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest

from helpers import EXAMPLES, ROOT, run_slpdiff

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = ROOT / "docs" / "lesson.ipynb"
SEED = EXAMPLES / "seed.slp"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """docs/lesson.ipynb, run from the top in a new kernel (as "Run all" does): its code cells
    by the first line of their source."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), \
        "docs/lesson.ipynb is kept without outputs"
    where = tmp_path_factory.mktemp("notebook")
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(where)}}).execute()
    nbformat.write(nb, where / "lesson.ipynb")  # for a person to look at
    return {cell.source.splitlines()[0]: cell for cell in nb.cells if cell.cell_type == "code"}


def html_of(cell) -> str:
    (found,) = [out["data"]["text/html"] for out in cell.outputs
                if "text/html" in out.get("data", {})]
    return found


def json_of(*args) -> dict:
    proc = run_slpdiff(*args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_no_cell_fails_or_warns(executed):
    for first, cell in executed.items():
        kinds = [(out["output_type"], out.get("name")) for out in cell.outputs]
        assert ("stream", "stderr") not in kinds and "error" not in [k for k, _ in kinds], first


def test_eval_shows_the_commands_numbers(executed):
    page = html_of(executed["%%slp eval --at x=1,w=4"])
    result = json_of("eval", SEED, "--at", "x=1,w=4")
    numbers = [result["value"]["v7"], *result["gradient"]["v7"].values()]
    for number in numbers:
        assert f"<span>{number!r}</span>" in page
    data = executed['_.data["gradient"]'].outputs[0]["data"]["text/plain"]
    assert data == repr(result["gradient"])


def test_trace_shows_every_row_of_the_trace(executed):
    rows = json_of("trace", SEED, "--at", "x=1,w=4")
    page = html_of(executed["%%slp trace --at x=1,w=4"])
    for r in rows:
        if r["table"] == "reverse":
            assert f"<code>{html.escape(r['update'])}</code>" in page
            assert f"<span>{r['adjoint']!r}</span>" in page
        elif r["table"] == "derivative":
            assert f"d {r['output']}/d {r['input']} = {r['value']!r}" in page
    forward = html_of(executed["%%slp trace --at x=1,w=4 --mode forward --wrt x"])
    tangents = json_of("trace", SEED, "--at", "x=1,w=4", "--mode", "forward", "--wrt", "x")
    assert "Tangent sweep for x" in forward
    for r in tangents:
        if r["table"] == "tangent":
            assert f"<span>{r['value']!r}</span>" in forward


def test_graph_is_a_picture_with_the_adjoints(executed):
    page = html_of(executed["%%slp graph --at x=1,w=4"])
    assert "<svg" in page and "</svg>" in page
    gradient = json_of("eval", SEED, "--at", "x=1,w=4")["gradient"]["v7"]
    assert repr(gradient["w"]) in page and repr(gradient["x"]) in page


def test_the_lesson_is_embedded_whole(executed):
    page = html_of(executed["%%slp lesson --at x=1,w=4"])
    assert page.count("<iframe") == 1 and 'sandbox="allow-scripts"' in page
    inner = html.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))
    command = run_slpdiff("lesson", "-", "--at", "x=1,w=4",
                          input=executed["%%slp lesson --at x=1,w=4"].source.split("\n", 1)[1])
    assert inner == command.stdout  # the very page `slpdiff lesson` writes


def test_explain_grad_and_check_are_the_commands_output(executed):
    for command in ("explain --at x=1,w=4 --wrt w", "grad"):
        cell = executed[f"%%slp {command}"]
        printed = run_slpdiff(*command.split()[:1], "-", *command.split()[1:],
                              input=cell.source.split("\n", 1)[1]).stdout
        assert f"<pre>{html.escape(printed)}</pre>" in html_of(cell)
    check = html_of(executed["%%slp check --at x=1,w=4"])
    assert "all agree" in check
    for d in json_of("check", SEED, "--at", "x=1,w=4")["derivatives"]:
        assert f"<span>{d['ad']!r}</span>" in check and f"<span>{d['fd']!r}</span>" in check


def test_the_librarys_objects_show_as_tables(executed):
    program = html_of(next(c for k, c in executed.items() if k.startswith("import slpdiff")))
    assert "inputs x, w; outputs v7" in program and "<code>sin(v1)</code>" in program
    result = json_of("eval", SEED, "--at", "x=1,w=4", "--mode", "forward")
    evaluation = html_of(executed['slpdiff.evaluate(program, {"x": 1.0, "w": 4.0})'])
    assert f"<span>{result['value']['v7']!r}</span>" in evaluation
    tr = html_of(executed['trace(program, {"x": 1.0, "w": 4.0}, mode="forward")'])
    for derivative in result["gradient"]["v7"].values():  # forward mode's own numbers
        assert repr(derivative) in tr


# --- the magic's messages, in a real (in-process) IPython shell ---------------------------------

@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "slpdiff.notebook")
    yield ip
    ip.run_line_magic("unload_ext", "slpdiff.notebook")


@pytest.mark.parametrize("cell, message", [
    ("%%slp eval --at x=1\ny = sin(x\n", "cell:1:10: unclosed '(' opened at 1:8"),
    ("%%slp eval --at w=1\ny = x\n", "'w' is not an input of the program"),
    ("%%slp eval --at x=1 --frobnicate\ny = x\n", "No such option '--frobnicate'"),
    ("%%slp frobnicate\ny = x\n", "unknown command 'frobnicate'; use one of eval, trace"),
    ("%slp eval --at x=1", "write the program in the cell, under %%slp eval"),
])
def test_mistakes_stop_the_cell_with_the_commands_message(shell, capsys, cell, message):
    from IPython.core.error import UsageError

    result = shell.run_cell(cell)
    assert isinstance(result.error_in_exec, UsageError)
    assert message in str(result.error_in_exec)
    assert "Traceback" not in capsys.readouterr().err


def test_warnings_are_shown_above_the_result_located_in_the_cell(shell):
    result = shell.run_cell("%%slp eval --at x=0\ny = 3 * abs(x)\n").result
    page = result._repr_html_()
    assert page.index('class="slp-warn"') < page.index("<table")
    assert "cell:1:9: abs(a) is not differentiable at a = 0" in page
    assert result.data == {"at": {"x": 0.0}, "value": {"y": 0.0}, "gradient": {"y": {"x": 0.0}}}


def test_options_that_choose_another_output_are_the_commands(shell):
    result = shell.run_cell("%%slp eval --at x=1 --format text\ny = 2 * x\n").result
    assert result.text == "y = 2.0\nd y/d x = 2.0\n" and result.data is None
    assert "<pre>y = 2.0" in result.html
    listing = shell.run_cell("%slp functions").result
    assert "sin(a)" in listing.text


def test_load_ext_slpdiff_works_too(shell):
    from IPython.core.interactiveshell import InteractiveShell

    assert InteractiveShell.instance().find_cell_magic("slp") is not None
    shell.run_line_magic("unload_ext", "slpdiff.notebook")
    assert shell.find_cell_magic("slp") is None
    shell.run_line_magic("load_ext", "slpdiff")
    assert shell.run_cell("%%slp eval --at x=2\ny = x * x\n").result.data["value"] == {"y": 4.0}
    shell.run_line_magic("unload_ext", "slpdiff")
    shell.run_line_magic("load_ext", "slpdiff.notebook")


def test_slpdiff_imports_without_ipython():
    code = ("import sys\n"
            "sys.modules['IPython'] = None  # as if it were not installed\n"
            "import slpdiff, slpdiff.notebook, slpdiff.cli\n"
            "p = slpdiff.parse('y = x * x')\n"
            "print(slpdiff.evaluate(p, {'x': 3.0}).values['y'], 'ipykernel' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "9.0 False\n"
