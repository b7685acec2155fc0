"""The Moré, Garbow and Hillstrom (1981) problems in this directory: each program's header gives
its standard starting point (``# start: NAME=VALUE,...``, ready for ``--at``) and its published
minima (``# minimum: VALUE ...``). Used by table.py and by the tests.

A published value written with "..." is truncated (48.9842... is in [48.9842, 48.9843)); one
without is rounded (124.362 is within 0.0005 of it). A minimum of 0 counts as reached below
1e-13, the resolution of the smallest non-zero minimum published (1.12793...e-8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZERO = 1e-13
_MINIMUM = re.compile(r"# minimum: ([-+]?\d+(?:\.\d+)?)(\.\.\.)?(e[-+]?\d+)?")


@dataclass(frozen=True)
class Minimum:
    """A published minimum value: ``text`` as printed, and the interval it stands for."""

    text: str
    low: float
    high: float

    def reached(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Problem:
    name: str  # the file's stem, e.g. "01-rosenbrock"
    path: Path
    title: str  # e.g. "Rosenbrock function"
    start: dict[str, float]
    minima: tuple[Minimum, ...]

    def reached(self, value: float) -> bool:
        """Is ``value`` one of the published minima, to the published accuracy?"""
        return any(m.reached(value) for m in self.minima)


def load_problems() -> list[Problem]:
    return [load_problem(path) for path in sorted(HERE.glob("*.slp"))]


def load_problem(path: Path) -> Problem:
    text = path.read_text()
    title = text.splitlines()[0].removeprefix("# ").split(":")[0]
    start_text = re.search(r"^# start: (\S+)$", text, re.M).group(1)
    start = {name: float(value) for name, value in
             (item.split("=") for item in start_text.split(","))}
    minima = tuple(_minimum(m) for m in _MINIMUM.finditer(text))
    if not minima:
        raise ValueError(f"{path.name}: no '# minimum:' line")
    return Problem(path.stem, path, title, start, minima)


def _minimum(match: re.Match) -> Minimum:
    digits, truncated, exponent = match.groups()
    text = match.group(0).removeprefix("# minimum: ")
    value = Decimal(digits + (exponent or ""))
    if value == 0:
        return Minimum(text, 0.0, ZERO)
    unit = Decimal(1).scaleb(Decimal(digits).as_tuple().exponent + int((exponent or "e0")[1:]))
    if truncated:
        return Minimum(text, float(value), float(value + unit))
    return Minimum(text, float(value - unit / 2), float(value + unit / 2))
