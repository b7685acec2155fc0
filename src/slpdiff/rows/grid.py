"""Grids of points: ranges ``start:stop:step`` and their Cartesian product, made chunk by chunk.

A range includes ``stop`` when it lands on the grid, as a reader of ``0:1:0.25`` expects, and its
points are the floats nearest to the decimal numbers a reader computes: ``0:0.3:0.1`` is 0.0, 0.1,
0.2, 0.3, not 0.30000000000000004. Written in decimal, the arithmetic is exact (integers scaled by
a power of ten); other values (``pi``) use float arithmetic with a small tolerance for landing on
``stop``. The product of several ranges is in row-major order (the first range varies slowest)
and is generated a chunk at a time, so a grid of millions of points never sits in memory.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .points import Chunk

MAX_POINTS = 10_000_000  # a bigger grid needs to be asked for explicitly (--force)
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_EXACT = 2 ** 53  # integers below this are exact in float64


@dataclass(frozen=True)
class Range:
    """``count`` evenly spaced values from ``start`` by ``step`` (as written: ``text``)."""

    text: str
    start: float
    stop: float
    step: float
    count: int
    scaled: tuple[int, int, int] | None  # (start, step, power of ten): value k = (s + k*t) / 10^d

    def values(self, k: np.ndarray) -> np.ndarray:
        """The values at positions ``k`` (an integer array)."""
        if self.scaled is not None:
            s, t, d = self.scaled
            return (s + k * t).astype(np.float64) / 10.0 ** d
        out = self.start + k.astype(np.float64) * self.step
        if self.count > 1:  # land exactly on stop when it is on the grid
            out[k == self.count - 1] = self.last
        return out

    @property
    def last(self) -> float:
        """The last value: ``stop`` itself when it lies on the grid."""
        if self.scaled is not None:
            s, t, d = self.scaled
            return (s + (self.count - 1) * t) / 10.0 ** d
        q = (self.stop - self.start) / self.step
        return self.stop if _lands(q) else self.start + (self.count - 1) * self.step


def parse_range(text: str, number: Callable[[str], float]) -> Range:
    """The range written ``start:stop:step``; ``number`` reads each part. Raises ValueError."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValueError(f"'{text}' is not a range: write start:stop:step, e.g. 0:1:0.25")
    start, stop, step = (number(p) for p in parts)
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ValueError(f"'{text}': start, stop and step must be finite numbers")
    if step == 0:
        raise ValueError(f"'{text}': the step must not be 0")
    if start != stop and (stop - start > 0) != (step > 0):
        raise ValueError(f"'{text}': from {start!r} a step of {step!r} never reaches {stop!r} "
                         "(use a negative step to count down)")
    texts = [p.strip() for p in parts]
    if all(_DECIMAL.fullmatch(p) for p in texts):
        return _decimal_range(text, texts, start, stop, step)
    q = (stop - start) / step
    count = (round(q) if _lands(q) else math.floor(q)) + 1
    return Range(text, start, stop, step, count, None)


def _lands(q: float) -> bool:
    return abs(q - round(q)) <= 1e-9 * max(1.0, abs(q))


def _decimal_range(text, texts, start, stop, step) -> Range:
    with decimal.localcontext(decimal.Context(prec=1000)):
        d_start, d_stop, d_step = (decimal.Decimal(p) for p in texts)
        count = int((d_stop - d_start) // d_step) + 1  # exact: stop is included when it lands
        places = max(0, -d_start.as_tuple().exponent, -d_step.as_tuple().exponent)
        s, t = int(d_start.scaleb(places)), int(d_step.scaleb(places))
    exact = places <= 22 and max(abs(s), abs(s + (count - 1) * t)) < _EXACT
    return Range(text, start, stop, step, count, (s, t, places) if exact else None)


class Grid:
    """The Cartesian product of ranges (input name -> :class:`Range`), in row-major order."""

    def __init__(self, ranges: dict[str, Range]):
        self.ranges = dict(ranges)
        self.size = math.prod(r.count for r in self.ranges.values())

    def chunks(self, rows: int) -> Iterator[Chunk]:
        """The points, at most ``rows`` at a time, as columns named after the ranges' inputs."""
        shape = tuple(r.count for r in self.ranges.values())
        for lo in range(0, self.size, rows):
            flat = np.arange(lo, min(lo + rows, self.size), dtype=np.int64)
            index = np.unravel_index(flat, shape) if shape else ()
            columns = {name: r.values(k)
                       for (name, r), k in zip(self.ranges.items(), index, strict=True)}
            yield Chunk(columns, len(flat), first=lo + 1, source="grid point")
