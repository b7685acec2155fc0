"""``slpdiff graph``: DOT that Graphviz accepts, labels from the table of rules, real rendering.

Rendering tests need Graphviz's ``dot``; they are skipped where it is missing, except when
``SLPDIFF_REQUIRE_DOT`` is set (CI sets it after installing Graphviz), where they fail instead.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest

import slpdiff
from helpers import EXAMPLES, SLPDIFF, invoke, random_forms_program, run_slpdiff
from slpdiff.teach.dot import LARGE, MAX_SPAN, numbers_at, quote, to_dot

SEED = str(EXAMPLES / "seed.slp")
DOT = shutil.which("dot")

# The seed's edges and their labels, from the table: d(x*w)/dx = w, d sin(a)/da = cos(a), ...
SEED_EDGES = {("x", "v1"): "w", ("w", "v1"): "x", ("v1", "v2"): "cos(v1)", ("v1", "v3"): "1",
              ("v2", "v3"): "1", ("v2", "v4"): "2 * v2", ("v3", "v5"): "v5",
              ("v4", "v6"): "w", ("w", "v6"): "v4", ("v5", "v7"): "1", ("v6", "v7"): "1"}


def needs_dot():
    if DOT is None:
        if os.environ.get("SLPDIFF_REQUIRE_DOT"):
            pytest.fail("SLPDIFF_REQUIRE_DOT is set but Graphviz's dot is not on PATH")
        pytest.skip("Graphviz's dot is not installed")


def parse_dot(text):
    """{node id: label lines}, [(source id, target id, edge attributes text)]."""
    nodes, edges = {}, []
    for line in text.splitlines():
        m = re.fullmatch(r'  (\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];', line)
        if m:
            nodes[m.group(1)] = _unquote(m.group(2)).split("\n")
            continue
        m = re.fullmatch(r"  (\w+) -> (\w+) \[(.*)\];", line)
        if m:
            edges.append((m.group(1), m.group(2), m.group(3)))
    return nodes, edges


def _unquote(s):
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s)


def _edge_label(attributes, key="label"):
    m = re.search(rf'(?<!x){key}="((?:[^"\\]|\\.)*)"', attributes)
    return None if m is None else _unquote(m.group(1))


PARTIAL = "&#8706;"  # ∂ as a character reference: the DOT text stays ASCII


def _partial(label, source, target):
    """The rule (and value) an edge label gives for the local partial d target/d source."""
    head = f"{PARTIAL}{target}/{PARTIAL}{source} = "
    assert label.startswith(head), (label, head)
    return label[len(head):]


def dot_accepts(text):
    proc = subprocess.run([DOT, "-Tcanon"], input=text.encode(), capture_output=True, timeout=60)
    return proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()


# --- the DOT text --------------------------------------------------------------------------------

def test_seed_graph_has_every_node_and_edge_labelled_with_its_rule():
    proc = run_slpdiff("graph", SEED)
    assert proc.returncode == 0 and proc.stderr == ""
    nodes, edges = parse_dot(proc.stdout)
    name = {nid: lines[0].split(" = ")[0] for nid, lines in nodes.items()}
    assert sorted(name.values()) == sorted(["x", "w", "v1", "v2", "v3", "v4", "v5", "v6", "v7"])
    assert nodes["n0"] == ["x", "input"]
    assert [lines[0] for lines in nodes.values()][2:] == [
        "v1 = x * w", "v2 = sin(v1)", "v3 = v1 + v2", "v4 = square(v2)", "v5 = exp(v3)",
        "v6 = v4 * w", "v7 = v5 + v6"]
    assert "output v7" in nodes["n8"]
    got = {(name[a], name[b]): _partial(_edge_label(attrs), name[a], name[b])
           for a, b, attrs in edges}
    assert got == SEED_EDGES
    assert proc.stdout.isascii()


def test_with_a_point_nodes_show_values_and_adjoints_and_edges_their_partials():
    program = slpdiff.parse_file(SEED)
    ev = slpdiff.evaluate(program, {"x": 1.0, "w": 4.0})
    adjoints = slpdiff.core.engine.adjoints(program, ev.node_values, program.output_index[0])
    nodes, edges = parse_dot(invoke("graph", SEED, "--at", "x=1,w=4").stdout)
    name = {}
    for i in range(len(program)):
        lines = nodes[f"n{i}"]
        name[f"n{i}"] = lines[0].split(" = ")[0]
        assert f"value = {float(ev.node_values[i])!r}" in lines
        # The adjoint, named as trace names it.
        assert f"{name[f'n{i}']}_bar = {float(adjoints[i])!r}" in lines
    h_v1 = 4.0
    hand = {("n2", "n3"): math.cos(h_v1), ("n3", "n5"): 2 * math.sin(h_v1),
            ("n4", "n6"): math.exp(h_v1 + math.sin(h_v1)), ("n1", "n7"): math.sin(h_v1) ** 2,
            ("n0", "n2"): 4.0, ("n1", "n2"): 1.0, ("n5", "n7"): 4.0}
    for a, b, attrs in edges:
        label = _partial(_edge_label(attrs), name[a], name[b])
        if (a, b) in hand:
            rule, value = label.split(" = ")
            assert float(value) == pytest.approx(hand[(a, b)], rel=1e-15)
        else:
            assert label == "1"  # a rule that is a number shows no separate value


def test_multiple_outputs_aliases_constants_and_intermediates():
    text = "input x, w\nc = 2 * pi\ny = sin(x*w) + x\nz = y * 3 - c\nu = z\noutput y, u"
    nodes, edges = parse_dot(invoke("graph", "-", "--at", "x=1,w=4", input=text).stdout)
    by_name = {lines[0].split(" = ")[0]: (nid, lines) for nid, lines in nodes.items()}
    assert set(by_name) == {"x", "w", "c", "%1", "%2", "y", "%3", "z"}
    assert by_name["c"][1][0] == f"c = 2.0 * {math.pi!r}"
    assert "output u" in by_name["z"][1] and "output y" in by_name["y"][1]
    # Several outputs: each adjoint says whose it is.
    assert "x_bar for y = " in " ".join(by_name["x"][1])
    assert "x_bar for u = " in " ".join(by_name["x"][1])
    # c does not depend on an input: its edge is drawn dashed, with no derivative.
    (c_edge,) = [attrs for a, b, attrs in edges if a == by_name["c"][0]]
    assert "dashed" in c_edge and _edge_label(c_edge) is None
    # An edge whose rule is a constant argument (d(y*3)/dy = 3.0) shows it once.
    (three,) = [attrs for a, b, attrs in edges if (a, b) == (by_name["y"][0], by_name["%3"][0])]
    assert _partial(_edge_label(three), "y", "%3") == "3.0"
    dot_text = invoke("graph", "-", input=text).stdout
    assert re.search(r'n\d+ \[label="%1 = x \* w", shape=ellipse, style=dashed', dot_text)


@pytest.mark.parametrize("text", [
    "input x, w\nv1 = x * w\nv2 = sin(v1)\nv3 = v1 + v2\nv4 = square(v2)\nv5 = exp(v3)\n"
    "v6 = v4 * w\nv7 = v5 + v6",
    "input x, w\nc = 2 * pi\ny = sin(x*w) + x - 3 * x^-2\nz = y * 3 - c\nu = z\noutput y, u, x",
    "y = 3",
    'input a\nb = a * a\nc = b * b\nd = c * c\nf = d * d',
])
@pytest.mark.parametrize("point", [None, "x=1,w=4"])
def test_dot_accepts_the_graph(text, point):
    needs_dot()
    args = ["graph", "-"]
    inputs = slpdiff.parse(text).input_names
    if point:
        args += ["--at", ",".join(f"{n}=1.5" for n in inputs)] if inputs else []
    result = invoke(*args, input=text)
    assert result.exit_code == 0, result.stderr
    ok, errors = dot_accepts(result.stdout)
    assert ok, errors


@pytest.mark.parametrize("nasty", [
    'a"b', "back\\slash", "\\N\\G\\l\\r\\E", "semi;colon {brace} [bracket] <angle> |bar|",
    "line\nbreak", "tab\there", "\x00nul\x7f", "é ünïcode ∂", '"; n1 -> n2; n3 [label="x',
])
def test_quote_keeps_any_text_inside_one_dot_string(nasty):
    needs_dot()
    dot_text = f"digraph g {{ a [label={quote(nasty)}]; }}\n"
    proc = subprocess.run([DOT, "-Tsvg"], input=dot_text.encode(), capture_output=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stderr == b""
    root = ET.fromstring(proc.stdout)
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    expected = ["".join(c for c in line if c >= " " and c != "\x7f")
                for line in nasty.split("\n")]
    assert [t.strip() for t in texts] == [e.strip() for e in expected]
    # One node, no edges: nothing in the text escaped into DOT syntax.
    assert len([g for g in root.iter("{http://www.w3.org/2000/svg}g")
                if g.get("class") == "node"]) == 1


# --- rendering -----------------------------------------------------------------------------------

def _svg_texts(path):
    root = ET.parse(path).getroot()  # well-formed XML, or this raises
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_svg_is_well_formed_and_names_every_node(tmp_path):
    needs_dot()
    out = tmp_path / "seed.svg"
    proc = run_slpdiff("graph", SEED, "--at", "x=1,w=4", "-o", out)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    texts = _svg_texts(out)
    nodes, _ = parse_dot(run_slpdiff("graph", SEED, "--at", "x=1,w=4").stdout)
    for lines in nodes.values():
        for line in lines:
            assert line in texts
    assert os.listdir(tmp_path) == ["seed.svg"]  # no temporary file left behind
    mode = stat.S_IMODE(os.stat(out).st_mode)
    assert mode & 0o044  # readable by others under the usual umask, not mkstemp's 0600


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF"),
                                           (".SVG", b"<?xml")])
def test_png_and_pdf(tmp_path, suffix, magic):
    needs_dot()
    out = tmp_path / f"g{suffix}"
    proc = run_slpdiff("graph", SEED, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(magic)


@pytest.mark.parametrize("suffix", [".dot", ".gv"])
def test_dot_file_is_the_same_text_as_stdout(tmp_path, suffix):
    out = tmp_path / f"g{suffix}"
    assert run_slpdiff("graph", SEED, "--at", "x=1,w=4", "-o", out).returncode == 0
    assert out.read_text() == run_slpdiff("graph", SEED, "--at", "x=1,w=4").stdout


def test_rendering_replaces_an_existing_file(tmp_path):
    needs_dot()
    out = tmp_path / "g.svg"
    out.write_text("old")
    assert run_slpdiff("graph", SEED, "-o", out).returncode == 0
    assert "v7 = v5 + v6" in _svg_texts(out)


def _run_with_path(path_dirs, *args):
    env = {**os.environ, "PATH": os.pathsep.join(map(str, path_dirs))}
    proc = subprocess.run([SLPDIFF, *map(str, args)], capture_output=True, env=env, timeout=120)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def test_missing_dot_is_a_one_line_error_saying_how_to_install_it(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    code, out, err = _run_with_path([empty], "graph", SEED, "-o", tmp_path / "g.svg")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("slpdiff: error: rendering ") and "install Graphviz" in err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err
    assert os.listdir(tmp_path) == ["bin"]
    # DOT text needs no Graphviz.
    code, out, _ = _run_with_path([empty], "graph", SEED, "-o", tmp_path / "g.dot")
    assert code == 0 and (tmp_path / "g.dot").exists()


def test_a_failing_dot_leaves_the_old_file_and_no_temporary(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text("#!/bin/sh\n# writes half a file, then fails\n"
                              'while [ "$1" != "-o" ]; do shift; done\n'
                              'echo "<svg" > "$2"\necho "Error: syntax error in line 1" >&2\n'
                              "exit 1\n")
    (fake / "dot").chmod(0o755)
    out = tmp_path / "g.svg"
    out.write_text("the old picture")
    code, _, err = _run_with_path([fake, "/usr/bin", "/bin"], "graph", SEED, "-o", out)
    assert code == 1
    assert err == ("slpdiff: error: Graphviz's dot failed (exit 1) rendering "
                   f"{out}: Error: syntax error in line 1\n")
    assert out.read_text() == "the old picture"
    assert sorted(os.listdir(tmp_path)) == ["bin", "g.svg"]


@pytest.mark.parametrize("target, message", [
    ("g.jpg", "cannot tell the format of"),
    ("g", "cannot tell the format of"),
    ("no/such/dir/g.dot", "cannot write"),
])
def test_bad_output_paths_exit_2(tmp_path, target, message):
    proc = run_slpdiff("graph", SEED, "-o", tmp_path / target)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_output_to_a_directory_exits_2(tmp_path):
    (tmp_path / "d.dot").mkdir()
    proc = run_slpdiff("graph", SEED, "-o", tmp_path / "d.dot")
    assert proc.returncode == 2 and "is a directory; -o needs a file name" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["d.dot"]


def test_graph_errors():
    assert run_slpdiff("graph", SEED, "--at", "x=1").returncode == 2
    proc = run_slpdiff("graph", "-", input="y = sin(\n")
    assert proc.returncode == 2 and "<stdin>:1:" in proc.stderr


# --- large graphs --------------------------------------------------------------------------------

def test_large_graphs_have_only_short_edges():
    program = slpdiff.parse(random_forms_program(400))
    nodes, edges = parse_dot(to_dot(program))
    layer = {}
    for i, args in enumerate(program.args):
        layer[f"n{i}"] = max((layer[f"n{c}"] + 1 for c in args), default=0)
    copies = 0
    for a, b, attrs in edges:
        if a.startswith("c"):
            copies += 1
            assert nodes[a][0] in {"x", "w"} or nodes[a][0].startswith(("t", "%"))
        else:
            assert layer[b] - layer[a] <= MAX_SPAN
        assert _edge_label(attrs, "xlabel") is not None or "dashed" in attrs
    # Every edge is drawn once; copies stand in for long edges only.
    assert len(edges) == sum(len(a) for a in program.args)
    assert len(nodes) == len(program) + copies


def test_small_graphs_keep_their_long_edges():
    program = slpdiff.parse_file(SEED)
    assert len(program) < LARGE
    _, edges = parse_dot(to_dot(program))
    assert not any(a.startswith("c") for a, _, _ in edges)
    _, edges = parse_dot(to_dot(program, large=True))
    assert any(a.startswith("c") for a, _, _ in edges)  # w -> v6 spans 3 layers


def test_a_program_of_a_thousand_statements_renders(tmp_path):
    needs_dot()
    path = tmp_path / "big.slp"
    path.write_text(random_forms_program(1000))
    out = tmp_path / "big.svg"
    proc = run_slpdiff("graph", path, "-o", out, timeout=300)
    assert proc.returncode == 0, proc.stderr
    texts = set(_svg_texts(out))
    assert all(any(t.startswith(f"t{i} = ") for t in texts) for i in (0, 500, 999))


@pytest.mark.slow
def test_a_program_of_three_thousand_statements_renders_with_values(tmp_path):
    needs_dot()
    path = tmp_path / "big.slp"
    path.write_text(random_forms_program(3000, seed=2))
    out = tmp_path / "big.svg"
    proc = run_slpdiff("graph", path, "--at", "x=0.5,w=0.25", "-o", out, timeout=600)
    assert proc.returncode == 0, proc.stderr
    texts = _svg_texts(out)
    program = slpdiff.parse(path.read_text())
    assert sum(1 for t in texts if t.startswith("value = ")) == len(program)


def test_numbers_at_records_the_sweeps_partials():
    program = slpdiff.parse_file(SEED)
    numbers = numbers_at(program, {"x": 1.0, "w": 4.0})
    assert len(numbers.partials) == sum(len(a) for a in program.args)
    assert numbers.partials[(3, 0)] == math.cos(4.0)
