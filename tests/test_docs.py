"""The README and docs/ are documentation that cannot go stale: every command they show runs and
prints what they show, their Python examples run, their tables are complete, their links lead
somewhere.

A ```console block's ``$ `` lines are commands, run in a scratch directory that holds the
repository's examples/ (through bash when the line is a pipeline); the lines after a command are
its output (``...`` elides a middle part). Blocks marked ``sh`` are set-up commands (installing,
starting a cluster) that are not run here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import EXAMPLES, ROOT, assert_shows, console_examples, invoke, run_slpdiff
from slpdiff.cli import cli
from slpdiff.language.primitives import PRIMITIVES

README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
SHOWN = [(page, command, shown) for page in PAGES
         for command, shown in console_examples(page.read_text())]
SHELL = re.compile(r"[|<>;&$`]")


def test_readme_starts_with_the_two_setup_commands():
    first_block = README.split("```")[1].splitlines()[1:]
    assert len(first_block) == 2
    main_job, tests = first_block
    assert "pip install ." in main_job and "slpdiff eval examples/seed.slp --at x=1,w=4" in main_job
    assert "pip install '.[test]'" in tests and "pytest" in tests and "-n auto" in tests


def test_readme_is_a_short_entry_page():
    assert len(README.splitlines()) <= 250


@pytest.fixture
def workdir(tmp_path):
    """A directory like the repository's root for the commands: examples/ and an empty docs/."""
    (tmp_path / "examples").symlink_to(EXAMPLES, target_is_directory=True)
    (tmp_path / "docs").mkdir()
    return tmp_path


def _renders(args) -> bool:
    return "-o" in args and not args[args.index("-o") + 1].endswith((".dot", ".gv", ".html"))


@pytest.mark.parametrize("page, command, shown", SHOWN,
                         ids=[f"{p.name}: {c}" for p, c, _ in SHOWN])
def test_every_command_shown_prints_what_the_docs_show(page, command, shown, workdir):
    if SHELL.search(command):
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                     f"{os.environ.get('PATH', '')}"}
        proc = subprocess.run(["bash", "-c", "set -o pipefail\n" + command], cwd=workdir,
                              capture_output=True, text=True, env=env, timeout=300)
    else:
        args = shlex.split(command)
        assert args[0] == "slpdiff", f"{page.name}: a console line runs slpdiff: {command}"
        if _renders(args) and shutil.which("dot") is None:
            if os.environ.get("SLPDIFF_REQUIRE_DOT"):
                pytest.fail("SLPDIFF_REQUIRE_DOT is set but Graphviz's dot is not on PATH")
            pytest.skip("Graphviz's dot is not installed")
        proc = run_slpdiff(*args[1:], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert_shows(proc.stdout.splitlines(), shown)


PYTHON = [page for page in PAGES if "```python\n" in page.read_text()]


@pytest.mark.parametrize("page", PYTHON, ids=[p.name for p in PYTHON])
def test_every_python_example_runs(page, monkeypatch, capsys):
    # A page's blocks run in order in one namespace, as a reader types them into one session.
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S):
        exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - our own documentation


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_function_table_has_every_primitive_and_rule(name):
    prim = PRIMITIVES[name]
    language = (DOCS / "language.md").read_text()
    (row,) = [line for line in language.splitlines()
              if line.startswith(f"| `{prim.signature}` |")]
    for param, rule in zip(prim.params, prim.partials, strict=True):
        assert f"`d/d{param} = {rule}`" in row


@pytest.mark.parametrize("command", cli.list_commands(None))
def test_every_command_is_documented_and_has_help(command):
    documented = "\n".join(page.read_text() for page in PAGES)
    assert f"## `slpdiff {command}" in documented, f"no section for slpdiff {command} in docs/"
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout


def test_every_command_is_in_the_readmes_tour():
    tour = README.partition("## The commands in one screen")[2].partition("\n## ")[0]
    for command in cli.list_commands(None):
        assert f"`slpdiff {command}" in tour, command


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_lead_to_files(page):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_readme_links_every_docs_page():
    for page in DOCS.glob("*.md"):
        assert f"(docs/{page.name})" in README, f"the README does not link docs/{page.name}"
