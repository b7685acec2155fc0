"""``slpdiff lesson`` without a browser: the page the command writes, the steps in it, and the
notebook displays of the library's objects.

Every expectation about numbers comes from ``slpdiff trace --format json`` (the records the
lesson must show), read independently of the lesson's own bookkeeping: :func:`expected_states`
replays the trace's rows into what each node must show after each step.
tests/test_lesson_browser.py checks the same in a real browser.
"""

from __future__ import annotations

import html
import json
import re
import shlex
import shutil
import xml.etree.ElementTree as ET

import pytest

import slpdiff
from helpers import EXAMPLES, ROOT, console_examples, invoke, run_slpdiff
from slpdiff.core.kinks import find as find_kinks
from slpdiff.teach.lesson import LIMIT_NODES, build, lesson_nodes
from slpdiff.teach.lesson_layout import graphviz_layout, own_layout
from slpdiff.teach.lesson_model import Model
from slpdiff.teach.trace import trace

SEED = EXAMPLES / "seed.slp"
DOCS = ROOT / "docs"
PAGE = (DOCS / "lesson.md").read_text()
UNKNOWN = "?"
KINKS = "input x, y\na = abs(x) * y\nb = max(a, 1)\nc = log(y - 2) + sqrt(x)\nd = b - c + 2 * pi\n"
TWO_OUTPUTS = "input x, y\na = x * y\nb = sin(a)\nc = exp(y)\np = a + c\nq = b * x\noutput p, q\n"


def trace_json(program, at: str, *options, input=None) -> list[dict]:
    """What ``slpdiff trace PROGRAM --at AT --format json OPTIONS`` prints (run in-process)."""
    result = invoke("trace", program, "--at", at, "--format", "json", *options, input=input)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def expected_states(records: list[dict]) -> list[dict[tuple[str, str], str]]:
    """What each node shows after each step (0: nothing computed), per slot: "v" its value, "b"
    its adjoint, "d" its tangent; replayed from the trace's rows. A sweep starts afresh."""
    forward = [r for r in records if r["table"] == "forward"]
    state = {(r["node"], slot): UNKNOWN for r in forward for slot in "vbd"}
    states = [dict(state)]
    for r in forward:
        state[(r["node"], "v")] = repr(float(r["value"]))
        states.append(dict(state))
    for r in records:
        if r["table"] not in ("reverse", "tangent"):
            continue
        slot = "b" if r["table"] == "reverse" else "d"
        if r["step"] == 0:
            state.update({key: UNKNOWN for key in state if key[1] == slot})
        state[(r["node"], slot)] = repr(float(r["adjoint" if slot == "b" else "value"]))
        states.append(dict(state))
    return states


def step_rows(records: list[dict]) -> list[dict | None]:
    """The trace row behind each step (None for step 0)."""
    return [None] + [r for r in records if r["table"] in ("forward", "reverse", "tangent")]


def page_data(page: str) -> dict:
    return json.loads(re.search(r'id="lesson-data">(.*?)</script>', page, re.S).group(1))


def node_names(page: str) -> dict[str, str]:
    """Element id (n0, n1, ...) -> the node's name, from the page's SVG."""
    return dict(re.findall(r'id="(n\d+)" data-name="([^"]*)"', page))


def replayed(page: str) -> list[dict[tuple[str, str], str]]:
    """What the page's steps make each node show, step after step (as its script applies them)."""
    names = node_names(page)
    shown = {(name, slot): UNKNOWN for name in names.values() for slot in "vbd"}
    states = [dict(shown)]
    for step in page_data(page)["steps"][1:]:
        for element, new, _ in step["s"]:
            node, slot = element.split("-")
            if node.startswith("n"):
                shown[(names[node], slot)] = new
        states.append(dict(shown))
    return states


@pytest.fixture(scope="module")
def seed_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("lesson") / "seed.html"
    proc = run_slpdiff("lesson", SEED, "--at", "x=1,w=4", "-o", out)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc.stderr
    return out.read_text(encoding="utf-8")


def test_the_command_writes_one_self_contained_page(seed_page):
    assert seed_page.startswith("<!doctype html>") and seed_page.rstrip().endswith("</html>")
    # no network: no links, sources or addresses but the SVG namespace
    assert not re.search(r"<link|<img|<iframe|\ssrc=|url\((?!#)|@import", seed_page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", seed_page)) <= {"http://www.w3.org/2000/svg"}
    assert seed_page.count("<script") == 2  # the steps as JSON, and the page's own script
    assert "seed.slp: reverse mode, step by step" in seed_page
    assert "at x = 1.0, w = 4.0 · 9 nodes, 11 edges, 21 steps" in seed_page


def test_each_step_shows_the_traces_numbers(seed_page):
    records = trace_json(SEED, "x=1,w=4")
    want = expected_states(records)
    got = replayed(seed_page)
    assert len(got) == len(want) == 1 + 9 + 12
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert {key: text for key, text in g.items() if key[1] != "d"} == \
            {key: text for key, text in w.items() if key[1] != "d"}, f"step {k}"
    # and each step says what the trace says: its update, with the engine's numbers
    steps = page_data(seed_page)["steps"]
    for step, row in zip(steps[1:], step_rows(records)[1:], strict=True):
        text = "\n".join(step["t"])
        if row["table"] == "forward":
            assert text.startswith(f"{row['node']} = ") and repr(float(row["value"])) in text
        else:
            assert step["t"][0].startswith(row["update"])
            assert repr(float(row["adjoint"])) in text
            if row["from"] is not None and row["rule"] not in ("1", "-1"):
                assert f"= {repr(float(row['partial']))}" in text
                assert repr(float(row["contribution"])) in text


def test_the_update_is_written_as_in_trace_and_adds_up_exactly(seed_page):
    steps = page_data(seed_page)["steps"]
    assert steps[14]["t"][:2] == [
        "w_bar += v6_bar * v4 = 1.0 * 0.5727500169043067 = 0.5727500169043067",
        "w_bar = 0.0 + 0.5727500169043067 = 0.5727500169043067"]
    assert steps[21]["t"][1] == "w_bar = 0.5727500169043067 + 12.82952364229596 = " \
                                "13.402273659200267"
    checked = 0
    for step in steps:
        if step["k"] == "adjoint":  # before + contribution == after, in float64
            before, contribution, after = re.fullmatch(
                r"\S+ = (\S+) [+-] \(?(\S+?)\)? = (\S+)", step["t"][1]).groups()
            assert float(before) + float(contribution) == float(after), step["t"]
            checked += 1
    assert checked == 11


def test_forward_mode_steps_through_the_tangents(tmp_path):
    records = trace_json(SEED, "x=1,w=4", "--mode", "forward")
    proc = run_slpdiff("lesson", SEED, "--at", "x=1,w=4", "--mode", "forward")
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout
    assert replayed(page) == expected_states(records)
    steps = page_data(page)["steps"]
    assert len(steps) == 1 + 9 + 8 + 8
    v6 = next(s for s in steps if s["t"][0] == "v6_dot = v4_dot * w + w_dot * v4")
    assert v6["t"][1:4] == ["= 0.9893582466233818 * 4.0 + 1.0 * 0.5727500169043067",
                            "= 3.957432986493527 + 0.5727500169043067", "= 4.530183003397834"]
    assert len(v6["e"]) == 2 and "forward (tangent) mode" in page


def test_of_and_wrt_choose_the_sweeps_and_of_the_nodes():
    records = trace_json("-", "x=0.5,y=2", "--of", "q", "--wrt", "x", input=TWO_OUTPUTS)
    result = invoke("lesson", "-", "--at", "x=0.5,y=2", "--of", "q", "--wrt", "x",
                    input=TWO_OUTPUTS)
    assert result.exit_code == 0, result.stderr
    page = result.stdout
    # only q's cone: c = exp(y) and p do not reach q
    assert sorted(node_names(page).values()) == ["a", "b", "q", "x", "y"]
    cone = [r for r in records if r.get("node") in {"a", "b", "q", "x", "y"}
            or r["table"] not in ("forward",)]
    assert replayed(page) == expected_states(cone)
    assert "Reverse sweep for q" in page and "Reverse sweep for p" not in page


def test_kinks_and_non_finite_values_are_shown_at_their_nodes():
    program = slpdiff.parse(KINKS, "kinks.slp")
    lesson = build(program, {"x": 0.0, "y": 1.0}, title="kinks.slp")
    model = Model(trace(program, {"x": 0.0, "y": 1.0}))
    ev = lesson.evaluation
    engine = {w.position for w in ev.warnings} | {
        h.position for h in find_kinks(program, ev.node_values, ["x", "y"], ["d"])}
    warned = {n.position for n in model.nodes if n.warnings}
    assert warned == engine and len(engine) == 3  # abs(x), log(y - 2), sqrt(x)
    by_name = {n.name: n.warnings for n in model.nodes if n.warnings}
    assert any(w.startswith("abs(a) is not differentiable") for w in by_name["%1"])
    assert by_name["%3"] == ["non-finite value nan from log (the first that reaches an output)"]
    assert len(by_name["%4"]) == 2  # sqrt's inf derivative, and its kink
    page = lesson.html
    for name in ("%1", "%3", "%4"):  # a triangle on the node, its message in the node's tooltip
        node = re.search(rf'<g class="[^"]*warned[^"]*" id="n\d+" data-name="{name}".*?</g>',
                         page, re.S).group()
        assert 'class="badge"' in node
    assert page.count('class="warned-line"') == 2  # lines 2 and 4
    # the command warns on stderr exactly as trace does
    trace_err = run_slpdiff("trace", "-", "--at", "x=0,y=1", input=KINKS).stderr
    lesson_err = run_slpdiff("lesson", "-", "--at", "x=0,y=1", input=KINKS).stderr
    assert lesson_err == trace_err and trace_err.count("slpdiff: warning:") == 4


def test_program_text_is_escaped_and_never_read_as_a_placeholder():
    text = SEED.read_text() + "# </script><script>alert(1)</script> {{AT}} & <b>\n"
    result = invoke("lesson", "-", "--at", "x=1,w=4", input=text)
    assert result.exit_code == 0, result.stderr
    page = result.stdout
    assert page.count("<script") == 2 and "alert(1)</script>" not in page
    assert "# &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; {{AT}} &amp; &lt;b&gt;" in page
    assert "standard input: reverse mode" in page


@pytest.mark.parametrize("maker", ["graphviz", "own"])
def test_layouts_place_every_node_and_edge_without_overlaps(maker):
    program = slpdiff.parse(KINKS + "f = d * d + a\n")
    model = Model(trace(program, {"x": 0.5, "y": 3.0}))
    if maker == "graphviz":
        if shutil.which("dot") is None:
            if __import__("os").environ.get("SLPDIFF_REQUIRE_DOT"):
                pytest.fail("SLPDIFF_REQUIRE_DOT is set but Graphviz's dot is not on PATH")
            pytest.skip("Graphviz's dot is not installed")
        geometry = graphviz_layout(model)
    else:
        geometry = own_layout(model)
    drawn = {i for i in range(len(program)) if program.ops[i] is not None or
             program.names[i] is not None}  # every node but the unnamed constants
    assert len(geometry.nodes) == len(model.nodes) == len(drawn) == 14
    edges = sum(c in drawn for i in drawn for c in program.args[i])
    assert len(geometry.edges) == len(model.edges) == edges == 17  # d * d: two edges from d
    boxes = [(x - w / 2, y - h / 2, x + w / 2, y + h / 2) for x, y, w, h in geometry.nodes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    layers = [y for _, y, _, _ in geometry.nodes]
    for e in model.edges:  # top to bottom: every edge points down
        assert layers[e.src] < layers[e.dst]


def test_layout_own_is_used_when_asked():
    result = invoke("lesson", SEED, "--at", "x=1,w=4", "--layout", "own")
    assert "graph layout: slpdiff&#x27;s own layered layout" in result.stdout


def test_too_large_a_program_gives_a_short_page_that_says_of(tmp_path):
    n = LIMIT_NODES + 10
    lines = ["input x", "v0 = sin(x)"] + [f"v{i} = sin(v{i - 1})" for i in range(1, n)]
    program = "\n".join([*lines, f"output v{n - 1}, v{n // 2}"]) + "\n"
    out = tmp_path / "big.html"
    proc = run_slpdiff("lesson", "-", "--at", "x=0.5", "-o", out, input=program)
    assert proc.returncode == 0
    assert proc.stderr.startswith("slpdiff: warning: the page shows the program, not the sweeps")
    assert "--of NAME" in proc.stderr and "2 outputs" in proc.stderr
    page = out.read_text()
    assert "too large for a lesson page" in page and "<code>--of NAME</code>" in page
    assert 'id="graph"' not in page and len(page) < 100_000
    assert f"... and {n + 2 - 500:,} more lines." in page
    # one output's cone is small enough
    half = f"v{n // 2}"
    assert lesson_nodes(slpdiff.parse(program), [half]) == n // 2 + 2  # x, v0, ..., half
    proc = run_slpdiff("lesson", "-", "--at", "x=0.5", "--of", half, input=program)
    assert proc.returncode == 0 and proc.stderr == "" and 'id="graph"' in proc.stdout


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.slp")), ids=lambda p: p.name)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_every_example_makes_a_lesson_of_its_trace(path, mode):
    program = slpdiff.parse_file(path)
    at = ",".join(f"{name}={0.5 + 0.25 * k}" for k, name in enumerate(program.input_names))
    result = invoke("lesson", path, "--at", at, "--mode", mode, "--layout", "own")
    assert result.exit_code == 0, result.stderr
    records = trace_json(path, at, "--mode", mode)
    assert replayed(result.stdout) == expected_states(records)


def test_too_many_steps_give_the_short_page_too():
    # 120 outputs, each reached by every statement before it: about 120 * 120 / 2 steps
    lines = ["input x", "v0 = sin(x)"] + [f"v{i} = sin(v{i - 1})" for i in range(1, 120)]
    program = "\n".join([*lines, "output " + ", ".join(f"v{i}" for i in range(120))]) + "\n"
    lesson = build(slpdiff.parse(program), {"x": 0.5}, title="many.slp")
    assert lesson.nodes == 121 and lesson.steps == 0
    assert "steps; a lesson page animates up to 1,500 nodes and 6,000 steps" in lesson.too_large
    assert "this program has 120 outputs: v0, v1, v2, v3, v4, ..." in lesson.too_large
    small = build(slpdiff.parse(program), {"x": 0.5}, outputs=["v3"], title="many.slp")
    assert small.steps == 5 + 5 and small.too_large == ""  # x, v0..v3; then the sweep's rows


def test_a_lesson_shows_itself_inline_in_a_notebook():
    lesson = build(slpdiff.parse(SEED.read_text()), {"x": 1.0, "w": 4.0}, title="seed.slp")
    frame = lesson._repr_html_()
    assert frame.count("<iframe") == 1 and 'sandbox="allow-scripts"' in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)
    assert html.unescape(srcdoc) == lesson.html


@pytest.mark.parametrize("args, status, message", [
    (["--at", "x=1"], 2, "no value for input 'w'"),
    (["--at", "x=1,w=4", "--of", "nope"], 2, "nope"),
    (["--at", "x=1,w=4", "--wrt", "v9"], 2, "v9"),
    (["--at", "x=1,w=4", "--mode", "sideways"], 2, "sideways"),
    (["--at", "x=0:1:0.5,w=4"], 2, "a grid"),
])
def test_bad_options_exit_2_with_one_message(args, status, message):
    result = invoke("lesson", SEED, *args)
    assert result.exit_code == status and result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_program_is_reported_with_a_caret_and_no_file_is_written(tmp_path):
    out = tmp_path / "lesson.html"
    out.write_text("the old page")
    proc = run_slpdiff("lesson", "-", "--at", "x=1", "-o", out, input="y = sin(x\n")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == "slpdiff: error: <stdin>:1:10: unclosed '(' opened at 1:8"
    assert out.read_text() == "the old page" and list(tmp_path.iterdir()) == [out]
    proc = run_slpdiff("lesson", SEED, "--at", "x=1,w=4", "-o", tmp_path)
    assert proc.returncode == 2 and "is a directory" in proc.stderr


# --- what a notebook shows of the library's objects ----------------------------------------------

def test_objects_a_student_holds_display_as_html_and_svg():
    program = slpdiff.parse(SEED.read_text(), "seed.slp")
    page = program._repr_html_()
    assert "Program from seed.slp: 9 nodes; inputs x, w; outputs v7" in page
    assert "<code>multiply(x, w)</code>" in page
    ev = slpdiff.evaluate(program, {"x": 1.0, "w": 4.0})
    page = ev._repr_html_()
    for number in ("27.906496678143885", "51.31809456918384", "13.402273659200267"):
        assert f"<span>{number}</span>" in page
    tr = trace(program, {"x": 1.0, "w": 4.0})
    page = tr._repr_html_()
    assert "Reverse sweep for v7: v_bar = d v7/d v, each starting at 0" in page
    assert "<code>w_bar += v6_bar * v4</code>" in page and "d v7/d w = 13.402273659200267" in page
    svg = ET.fromstring(tr._repr_svg_())  # well-formed, every number filled in at the end
    texts = "".join(svg.itertext())
    assert "13.402273659200267" in texts and "w_bar = " in texts and UNKNOWN not in texts
    many = slpdiff.evaluate(program, {"x": [1.0, 2.0], "w": 4.0})
    assert many._repr_html_() is None  # arrays: the plain text


def test_trace_format_html_has_the_json_traces_rows():
    proc = run_slpdiff("trace", SEED, "--at", "x=1,w=4", "--format", "html")
    assert proc.returncode == 0 and proc.stderr == ""
    page = proc.stdout
    assert page.startswith("<style>") and page.count("<table") == 2
    for r in trace_json(SEED, "x=1,w=4"):
        if r["table"] == "forward":
            assert f"<code>{html.escape(r['operation'])}</code>" in page
            assert f"<span>{r['value']!r}</span>" in page
        elif r["table"] == "reverse":
            assert f"<code>{html.escape(r['update'])}</code>" in page
            assert f"<span>{r['adjoint']!r}</span>" in page


def test_nonfinite_evaluations_say_so_in_html():
    ev = slpdiff.evaluate(slpdiff.parse("y = log(x)"), {"x": -1.0})
    assert 'class="slp-warn"' in ev._repr_html_() and "nan from log" in ev._repr_html_()


# --- the documentation ---------------------------------------------------------------------------

@pytest.mark.parametrize("command, shown", console_examples(PAGE))
def test_the_pages_commands_write_lessons(command, shown, tmp_path):
    (tmp_path / "examples").symlink_to(EXAMPLES, target_is_directory=True)
    args = shlex.split(command)
    proc = run_slpdiff(*args[1:], cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout.splitlines() == shown
    page = (tmp_path / args[args.index("-o") + 1]).read_text()
    assert page.startswith("<!doctype html>") and 'id="lesson-data"' in page


def test_the_tutorial_links_the_lesson_and_shows_it():
    tutorial = (DOCS / "tutorial.md").read_text()
    assert "[The lesson page](lesson.md)" in tutorial and "(lesson.ipynb)" in tutorial
    assert "lesson at step 14 of 21" in tutorial and "](lesson.png)" in tutorial
    picture = (DOCS / "lesson.png").read_bytes()
    assert picture.startswith(b"\x89PNG\r\n\x1a\n") and 20_000 < len(picture) < 250_000
    assert "](lesson.png)" in PAGE and "slpdiff lesson examples/seed.slp" in tutorial
