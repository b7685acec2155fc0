"""Packaging: the grammar ships inside the wheel, and the installed command works from anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import resources

from helpers import EXAMPLES, ROOT, run_slpdiff


def test_lesson_templates_are_package_data():
    templates = resources.files("slpdiff.teach").joinpath("templates")
    for name in ("page.html", "lesson.html", "legend.html", "lesson.css", "lesson.js"):
        assert templates.joinpath(name).is_file()


def test_grammar_is_package_data():
    grammar = resources.files("slpdiff.language.grammar").joinpath("slp.lark")
    assert grammar.is_file()
    assert grammar.read_text() == (ROOT / "grammar" / "slp.lark").read_text()


def test_installed_command_works_from_another_directory(tmp_path):
    program = tmp_path / "p.slp"
    program.write_text((EXAMPLES / "seed.slp").read_text())
    proc = run_slpdiff("eval", "p.slp", "--at", "x=1,w=4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "v7 = 27.906496678143885"


def test_wheel_contains_the_grammar_and_the_console_script(tmp_path):
    # Build from a clean copy: a stale build/ directory in the checkout would hide a module that
    # pyproject.toml forgets to package.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                    str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("slpdiff-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "slpdiff/language/grammar/slp.lark" in names
        templates = ROOT / "src" / "slpdiff" / "teach" / "templates"
        for template in templates.iterdir():  # the lesson page's HTML, CSS and script
            assert f"slpdiff/teach/templates/{template.name}" in names
        assert "slpdiff/core/engine.py" in names
        modules = [p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src").rglob("*.py")]
        assert [m for m in modules if m not in names] == []  # every module, subpackages too
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "slpdiff = slpdiff.cli:run" in z.read(entry_points).decode()
