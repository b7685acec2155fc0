"""The README is documentation that cannot go stale: its examples run, its tables are complete."""

from __future__ import annotations

import shlex

import pytest
from click.testing import CliRunner

from helpers import ROOT, assert_shows, console_examples, run_slpdiff
from slpdiff.cli import cli
from slpdiff.language.primitives import PRIMITIVES

README = (ROOT / "README.md").read_text()
# The README and the pages of docs/, where a command may have its section.
DOCUMENTATION = README + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def test_readme_starts_with_the_two_setup_commands():
    first_block = README.split("```")[1].splitlines()[1:]
    assert len(first_block) == 2
    main_job, tests = first_block
    assert "pip install ." in main_job and "slpdiff eval examples/seed.slp --at x=1,w=4" in main_job
    assert "pip install '.[test]'" in tests and "pytest" in tests


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_readme_function_table_has_every_primitive_and_rule(name):
    prim = PRIMITIVES[name]
    (row,) = [line for line in README.splitlines() if line.startswith(f"| `{prim.signature}` |")]
    for param, rule in zip(prim.params, prim.partials, strict=True):
        assert f"`d/d{param} = {rule}`" in row


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented_and_has_help(command):
    assert f"### `slpdiff {command}" in DOCUMENTATION
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Examples:" in result.stdout


@pytest.mark.parametrize("command, expected", console_examples(README))
def test_readme_console_examples_print_what_the_readme_shows(command, expected):
    args = shlex.split(command)
    assert args[0] == "slpdiff"
    proc = run_slpdiff(*args[1:], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert_shows(proc.stdout.splitlines(), expected)


def test_readme_points_to_the_tutorial():
    assert "(docs/tutorial.md)" in README and (ROOT / "docs" / "tutorial.md").exists()
