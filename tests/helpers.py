"""Shared test helpers: where things are, and how to run the installed ``slpdiff`` command."""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).resolve().parent / "data"
# The console script installed next to the interpreter running the tests: the installed package,
# exactly as a user runs it.
SLPDIFF = str(Path(sys.executable).parent / "slpdiff")


def run_slpdiff(*args, input: str | bytes | None = None, cwd=None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed ``slpdiff`` with ``args`` (as a user does, in a new process); stdout and
    stderr as text (UTF-8, undecodable bytes replaced); never raises on failure."""
    data = input.encode() if isinstance(input, str) else input
    env = {**os.environ, "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([SLPDIFF, *map(str, args)], input=data, capture_output=True,
                          cwd=cwd, env=env, timeout=timeout)
    proc.stdout = proc.stdout.decode("utf-8", "replace")
    proc.stderr = proc.stderr.decode("utf-8", "replace")
    return proc


def every_few(cases, every: int = 4) -> list:
    """The parameters ``cases`` of a test that starts a process per case, beside a twin that runs
    every case in process: every ``every``-th case runs in the quick suite, the others are marked
    ``slow`` (``--slow``, CI's second step, runs them all). ``cases`` are values of one argument
    or ``pytest.param`` s (of any number of arguments), whose ids and marks are kept."""
    import pytest

    param_set = type(pytest.param(None))
    found = []
    for k, case in enumerate(cases):
        if k % every == 0:
            found.append(case)
        elif isinstance(case, param_set):
            found.append(pytest.param(*case.values, id=case.id,
                                      marks=[*case.marks, pytest.mark.slow]))
        else:
            found.append(pytest.param(case, marks=pytest.mark.slow))
    return found


def invoke(*args, input: str | bytes | None = None):
    """Run the command line in-process through Click's ``CliRunner`` (quicker than a process, for
    tests of messages); stdout and stderr are kept apart."""
    from click.testing import CliRunner

    from slpdiff.cli import cli

    return CliRunner().invoke(cli, list(map(str, args)), input=input, prog_name="slpdiff")


def exit_status(result) -> int:
    """The exit status of a :func:`run_slpdiff` or :func:`invoke` result."""
    return result.returncode if hasattr(result, "returncode") else result.exit_code


def same_bits(a, b) -> bool:
    """Equal as float64 bits: the sign of a zero included; NaN equals NaN (whatever its sign:
    numpy's loops make NaNs of either sign). Numbers or arrays of one shape."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | ((a == b) & (np.signbit(a) == np.signbit(b)))))


def seed_rows() -> list[tuple[float, float, float]]:
    """(w, v7, dv7/dw) for each line the seed prints: 30 steps, then its final (stale) line."""
    rows = []
    for line in (DATA / "seed_expected_output.txt").read_text().splitlines():
        fields = dict(part.split("=") for part in line.split(", "))
        rows.append((float(fields["w"]), float(fields["v7"]), float(fields["(dv7)/(dw)"])))
    return rows


def close(a: float, b: float, digits: int = 12) -> bool:
    """True when ``a`` and ``b`` agree to ``digits`` significant digits."""
    return abs(a - b) <= 10.0 ** (1 - digits) * max(abs(a), abs(b))


def run_without_slpdiff(code: str, modules: dict[str, str], tmp_path: Path,
                        data: str = "") -> str:
    """Run ``code`` with ``modules`` (name -> source) importable, in an interpreter that can
    import numpy but not slpdiff (``-I -S``: no site-packages; numpy alone is linked in).

    ``data`` is written to a file whose path is ``sys.argv[1]``. Returns stdout; fails the test
    (AssertionError with stderr) on a non-zero exit.
    """
    import numpy

    packages = tmp_path / "packages"
    packages.mkdir()
    numpy_dir = Path(numpy.__file__).resolve().parent
    for sibling in (numpy_dir, numpy_dir.parent / "numpy.libs"):
        if sibling.exists():
            (packages / sibling.name).symlink_to(sibling)
    for name, source in modules.items():
        (tmp_path / f"{name}.py").write_text(source)
    (tmp_path / "main.py").write_text(
        f"import sys\nsys.path[:0] = [{str(tmp_path)!r}, {str(packages)!r}]\n" + code)
    (tmp_path / "data").write_text(data)
    proc = subprocess.run([sys.executable, "-I", "-S", str(tmp_path / "main.py"),
                           str(tmp_path / "data")], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def random_program(n: int, n_outputs: int = 1, seed: int = 1) -> str:
    """A program of ``n`` random statements over x, y, z, each using the statement before it (so
    all of it reaches an output), from every function of the table but those whose derivative is 0
    everywhere (sign, step: one of those would cut a reverse sweep short)."""
    from slpdiff.language.primitives import PRIMITIVES
    from slpdiff.language.rules import rules_for

    rng = random.Random(seed)
    names, lines = ["x", "y", "z"], ["input x, y, z"]
    prims = sorted(name for name, p in PRIMITIVES.items()
                   if any(rule.const != 0.0 for rule in rules_for(p)))
    for i in range(n):
        prim = PRIMITIVES[rng.choice(prims)]
        args = [names[-1]] + [rng.choice(names[-30:] + names[:3]) for _ in prim.params[1:]]
        rng.shuffle(args)
        lines.append(f"v{i} = {prim.name}({', '.join(args)})")
        names.append(f"v{i}")
    outputs = [f"v{n - 1 - k * (n // (n_outputs + 1))}" for k in range(n_outputs)]
    return "\n".join([*lines, f"output {', '.join(outputs)}"]) + "\n"


def console_examples(markdown: str) -> list[tuple[str, list[str]]]:
    """(command, shown output lines) for each ``$ ...`` line in the ``console`` blocks of a
    markdown text."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", markdown, re.S):
        current = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = (line[2:], [])
                examples.append(current)
            elif current is not None:
                current[1].append(line)
    return examples


def assert_shows(got: list[str], shown: list[str]) -> None:
    """Assert that output lines ``got`` are what documentation ``shown`` displays; a ``...`` line
    there elides a middle part (the lines before and after it must match).

    Numbers may differ in their last bits (:func:`same_text_but_last_bits`): the documentation was
    written on one CPU, and numpy's sin, exp, ... round the last bit differently on CPUs with
    other vector units. Everything else is compared exactly."""
    if "..." in shown:
        cut = shown.index("...")
        head, tail = shown[:cut], shown[cut + 1:]
        assert len(got) >= len(head) + len(tail), (got, shown)
        pairs = list(zip(got[:len(head)], head, strict=True)) + \
            list(zip(got[len(got) - len(tail):], tail, strict=True))
    else:
        assert len(got) == len(shown), (got, shown)
        pairs = list(zip(got, shown, strict=True))
    for g, s in pairs:
        assert same_text_but_last_bits(g, s), (g, s)


_FLOAT = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


def same_text_but_last_bits(a: str, b: str, ulps: int = 8) -> bool:
    """``a`` and ``b`` are the same text but for numbers within ``ulps`` units in the last place
    of each other (numbers with 15 or more significant digits only: shorter ones are exact)."""
    if a == b:
        return True
    pa, pb = _FLOAT.split(a), _FLOAT.split(b)
    na, nb = _FLOAT.findall(a), _FLOAT.findall(b)
    if pa != pb or len(na) != len(nb):
        return False
    for x, y in zip(na, nb, strict=True):
        if x == y:
            continue
        digits = len(re.sub(r"[^0-9]", "", x.split("e")[0].split("E")[0]).lstrip("0"))
        fx, fy = float(x), float(y)
        if digits < 15 or abs(fx - fy) > ulps * math.ulp(max(abs(fx), abs(fy))):
            return False
    return True


LONG_EDGES = ("{a} * {b}", "sin({a}) + {b}", "{a} - {b}", "tanh({a})")


def random_forms_program(n: int, seed: int = 1, forms=LONG_EDGES, inputs=("x", "w"),
                         recent: int = 20, outputs: int = 1) -> str:
    """A random program of ``n`` statements ``t<i> = form``, each form filled with ``a``, one of
    the ``recent`` latest names, and ``b``, any earlier name (so edges are long); the last
    ``outputs`` names are the outputs."""
    rng = random.Random(seed)
    names, lines = list(inputs), [f"input {', '.join(inputs)}"]
    for i in range(n):
        a, b = rng.choice(names[-recent:]), rng.choice(names)
        lines.append(f"t{i} = " + rng.choice(forms).format(a=a, b=b))
        names.append(f"t{i}")
    lines.append(f"output {', '.join(names[:-outputs - 1:-1])}")
    return "\n".join(lines) + "\n"
