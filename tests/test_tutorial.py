"""docs/tutorial.md cannot go stale: its program listing is the example file, and its committed
picture shows the graph slpdiff draws today. (Every command in it runs and prints what it shows:
tests/test_docs.py runs the commands of every docs page.)"""

from __future__ import annotations

import html
import shlex
import xml.etree.ElementTree as ET

from helpers import EXAMPLES, ROOT, console_examples, run_slpdiff

DOCS = ROOT / "docs"
TUTORIAL = (DOCS / "tutorial.md").read_text()
EXAMPLES_SHOWN = console_examples(TUTORIAL)
SVG = "{http://www.w3.org/2000/svg}"


def test_tutorial_covers_the_commands_it_is_about():
    commands = {shlex.split(c)[1] for c, _ in EXAMPLES_SHOWN}
    assert {"eval", "trace", "graph", "explain", "grad", "optimize", "check-adjoint", "exercise",
            "cost", "eliminate"} <= commands


def test_tutorial_program_listing_is_the_example_file():
    assert f"```\n{(EXAMPLES / 'seed.slp').read_text()}```" in TUTORIAL


def _svg_texts(path):
    return {t.text for t in ET.parse(path).getroot().iter(f"{SVG}text")}


def test_committed_picture_is_the_graph_of_today():
    """docs/seed.svg must show every label the graph command writes now (values included), so a
    change to the graph or its numbers without a new picture fails here."""
    (command,) = [c for c, _ in EXAMPLES_SHOWN if "-o seed.svg" in c]
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
