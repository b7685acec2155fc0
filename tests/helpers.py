"""Shared test helpers: where things are, and how to run the installed ``slpdiff`` command."""

from __future__ import annotations

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


def run_slpdiff(*args: str, input: str | bytes | None = None, cwd=None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed ``slpdiff`` with ``args``; text stdout/stderr, never raises on failure."""
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run([SLPDIFF, *map(str, args)], input=data, capture_output=True,
                          cwd=cwd, timeout=timeout)
    proc.stdout = proc.stdout.decode()
    proc.stderr = proc.stderr.decode()
    return proc


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
    there elides a middle part (the lines before and after it must match)."""
    if "..." in shown:
        cut = shown.index("...")
        head, tail = shown[:cut], shown[cut + 1:]
        assert got[:len(head)] == head and got[len(got) - len(tail):] == tail
    else:
        assert got == shown


LONG_EDGES = ("{a} * {b}", "sin({a}) + {b}", "{a} - {b}", "tanh({a})")


def random_program(n: int, seed: int = 1, forms=LONG_EDGES, inputs=("x", "w"), recent: int = 20,
                   outputs: int = 1) -> str:
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
