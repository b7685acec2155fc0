"""docs/tutorial.md cannot go stale: every command in it runs and prints what it shows, its program
listing is the example file, and its committed picture shows the graph slpdiff draws today."""

from __future__ import annotations

import html
import os
import shlex
import shutil
import xml.etree.ElementTree as ET

import pytest

from helpers import EXAMPLES, ROOT, assert_shows, console_examples, run_slpdiff

DOCS = ROOT / "docs"
TUTORIAL = (DOCS / "tutorial.md").read_text()
EXAMPLES_SHOWN = console_examples(TUTORIAL)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def workdir(tmp_path):
    """A directory like the repository's root for the commands: examples/ and an empty docs/."""
    (tmp_path / "examples").symlink_to(EXAMPLES, target_is_directory=True)
    (tmp_path / "docs").mkdir()
    return tmp_path


def _renders(args) -> bool:
    return "-o" in args and not args[args.index("-o") + 1].endswith((".dot", ".gv"))


@pytest.mark.parametrize("command, shown", EXAMPLES_SHOWN, ids=[c for c, _ in EXAMPLES_SHOWN])
def test_tutorial_command_prints_what_the_tutorial_shows(command, shown, workdir):
    args = shlex.split(command)
    assert args[0] == "slpdiff"
    if _renders(args) and shutil.which("dot") is None:
        if os.environ.get("SLPDIFF_REQUIRE_DOT"):
            pytest.fail("SLPDIFF_REQUIRE_DOT is set but Graphviz's dot is not on PATH")
        pytest.skip("Graphviz's dot is not installed")
    proc = run_slpdiff(*args[1:], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert_shows(proc.stdout.splitlines(), shown)
    if _renders(args):
        out = workdir / args[args.index("-o") + 1]
        ET.parse(out)  # a well-formed picture was written where the tutorial says


def test_tutorial_covers_the_commands_it_is_about():
    commands = {shlex.split(c)[1] for c, _ in EXAMPLES_SHOWN}
    assert {"eval", "trace", "graph", "explain", "grad", "optimize"} <= commands


def test_tutorial_program_listing_is_the_example_file():
    assert f"```\n{(EXAMPLES / 'seed.slp').read_text()}```" in TUTORIAL


def _svg_texts(path):
    return {t.text for t in ET.parse(path).getroot().iter(f"{SVG}text")}


def test_committed_picture_is_the_graph_of_today():
    """docs/seed.svg must show every label the graph command writes now (values included), so a
    change to the graph or its numbers without a new picture fails here."""
    (command,) = [c for c, _ in EXAMPLES_SHOWN if "-o docs/seed.svg" in c]
    args = shlex.split(command)[1:]
    cut = args.index("-o")
    dot_text = run_slpdiff(*args[:cut], *args[cut + 2:], cwd=ROOT).stdout
    texts = _svg_texts(DOCS / "seed.svg")
    labels = []
    for line in dot_text.splitlines():
        if "label=\"" in line:
            label = html.unescape(line.split('label="', 1)[1].split('"', 1)[0])  # &#8706; is ∂
            labels += label.replace("\\n", "\n").split("\n")
    assert len(labels) > 30
    missing = [label for label in labels if label not in texts]
    assert missing == [], f"docs/seed.svg is stale; remake it with: {command}"
    assert "![The seed program's graph at x = 1, w = 4](seed.svg)" in TUTORIAL
