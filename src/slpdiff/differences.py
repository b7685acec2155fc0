"""Finite differences that can be trusted, for :mod:`slpdiff.check`: the steps, the tests a
stencil's values must pass, and Richardson extrapolation with an error estimate.

**Steps from each input's own scale.** For an input at ``x`` the first steps are ``eps * |x|``
(relative) and, when ``|x| < 1``, also ``eps`` (the step a function of ``x`` near 0 usually needs),
each rounded to a power of two so that ``x + h``, ``x + h/2`` and ``x + h/4`` are exact. At each
step the program is evaluated at ``x - h, x - h/2, x - h/4, x + h/4, x + h/2, x + h``
(:mod:`slpdiff.stencils`).

**Richardson extrapolation**, as numdifftools does: the three central differences at ``h, h/2,
h/4`` are combined so that the ``h^2`` and ``h^4`` terms of their error cancel, and the change
between successive extrapolations (never less than a sixteenth of the change between the last two
differences) estimates the truncation error that is left. Rounding is bounded from the program
(:mod:`slpdiff.stencils`), and the extrapolation's coefficients say how it adds up. An estimate
has settled when its estimated truncation error is a small share of it, or within rounding.

**Stencils that cannot be used**: a point that is not finite (the stencil left a function's domain,
or overflowed); values that a smooth function would not give (a sign change that grows towards it,
a pole; a peak; more than one turn; far from a low-degree polynomial: the function varies faster
than the step can follow); a point where a function of the table is not differentiable (its
``kink`` expression changes sign) between the points. Where no central stencil gives a settled
estimate, smaller steps are tried (about 1000 times smaller each time, down to a few units in the
last place of ``x``), and one-sided differences on ``x, x + h/4, x + h/2, x + h`` (or the other
side), which need the function on one side only. Each stencil not used keeps its reason.

Of the usable estimates the one with the smallest estimated error decides; a disagreement with AD
seen at one step only is looked at at a second step, since a function sampled at steps far beyond
its period (``sin`` at 1e15) can look smooth at one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .formats import number
from .language.program import Program
from .limits import check_sweep

EPS64 = float(np.finfo(np.float64).eps)
DEFAULT_EPS = EPS64 ** (1 / 3)  # balances truncation and rounding for one central difference
HALVINGS = 3  # steps h, h/2 and h/4 at each scale
COLUMNS = 2 * HALVINGS  # points per scale: x + h, x - h, x + h/2, x - h/2, x + h/4, x - h/4
RETRY_SHRINK = 2.0 ** -10  # each retry's step is about 1000 times smaller than the last
RETRIES = 10
SMALLEST = 8  # the smallest step is this many units in the last place of x (h/4 two of them)
# An estimate has not settled when its estimated truncation error is beyond this share of the
# derivative and beyond what rounding explains.
UNSETTLED = 0.1
ROUNDING_SLACK = 4.0
SIDES = ("central", "forward", "backward")
CONFIRM = (2.0 ** -5, 2.0 ** 5, 2.0 ** -3, 2.0 ** 3)  # a second step, relative to the first
# Two settled estimates agree when they differ by less than their allowances and this share.
CONSISTENT = 0.01
TINY = float(np.finfo(np.float64).smallest_subnormal)


@dataclass
class Stencil:
    """One target's values at one scale ``step`` of one input: ``plus[q]`` at ``x + up[q]``,
    ``minus[q]`` at ``x - down[q]``, ``up[q]`` and ``down[q]`` about ``step / 2**q``."""

    step: float
    plus: np.ndarray
    minus: np.ndarray
    up: np.ndarray
    down: np.ndarray
    problems: dict[str, str | None] = field(default_factory=dict)  # side -> why not, or None
    rough: dict[str, bool] = field(default_factory=dict)  # side -> the problem is the values' shape
    crossed: dict[str, tuple[int, ...]] = field(default_factory=dict)  # side -> kinks stepped over

    def usable(self, side: str) -> bool:
        """No problem on that side, and no kink between its points."""
        return self.problems[side] is None and not self.crossed[side]

    def across_kink(self, side: str) -> bool:
        """Finite on that side, with a kink between its points (which explains its shape)."""
        return bool(self.crossed[side]) and (self.problems[side] is None or self.rough[side])


@dataclass
class Estimate:
    """A finite-difference estimate of one derivative, extrapolated."""

    value: float
    step: float  # the largest step of the three extrapolated
    side: str  # "central", "forward" or "backward"
    truncation: float  # its estimated truncation error
    rounding: float  # the bound on its rounding error
    settled: bool  # the extrapolations agree to a small share of the value, or within rounding
    crossed: tuple[int, ...] = ()  # kinks (node positions) its points step across

    @property
    def allowance(self) -> float:
        """What the estimate may be off by: truncation plus rounding."""
        return self.truncation + self.rounding

    def agrees(self, other: Estimate) -> bool:
        """Do two estimates of the same derivative agree, to their allowances (and a little)?"""
        gap = abs(self.value - other.value)
        return gap <= self.allowance + other.allowance + CONSISTENT * max(abs(self.value),
                                                                          abs(other.value))


@dataclass
class Differences:
    """Everything learnt about the derivative of one target in one input."""

    center: float  # the target's value at the point
    noise: float  # the bound on the rounding error of one evaluation of the target
    ad_noise: float  # the bound on the rounding error of the AD derivative itself
    on_kink: bool = False  # a kink at the point moves with the input: any step crosses it
    stencils: list[Stencil] = field(default_factory=list)
    _estimates: list | None = field(default=None, repr=False)

    def add(self, stencil: Stencil) -> None:
        self.stencils.append(stencil)
        self._estimates = None

    def choose(self) -> Estimate | None:
        """The best estimate: settled ones first, then central differences before one-sided
        ones before central ones that step across a kink, then the smallest allowance."""
        best, best_key = None, None
        for estimate, tier in self.estimates():
            key = (not estimate.settled, tier, estimate.allowance)
            if best_key is None or key < best_key:
                best, best_key = estimate, key
        return best

    def estimates(self) -> list[tuple[Estimate, int]]:
        """(estimate, tier) for every stencil and side that can be used: tier 0 central, 1
        one-sided, 2 central across a kink (which can only explain a disagreement)."""
        if self._estimates is None:
            found = []
            for stencil in self.stencils:
                for side in SIDES:
                    if stencil.usable(side):
                        tier = 0 if side == "central" else 1
                        found.append((extrapolate(stencil, side, self.center, self.noise), tier))
                if stencil.across_kink("central"):
                    found.append((extrapolate(stencil, "central", self.center, self.noise), 2))
            self._estimates = found
        return self._estimates

    def others(self, best: Estimate) -> list[Estimate]:
        """The settled estimates of the same kind as ``best`` (central, or one-sided) at other
        steps or sides. (A one-sided difference over a step far beyond the function's own scale
        can settle on a slope that is not the derivative, so the kinds are not mixed.)"""
        kind = best.side == "central"
        return [e for e, tier in self.estimates() if tier < 2 and e.settled
                and (e.side == "central") == kind and (e.step, e.side) != (best.step, best.side)]

    def needs_smaller_steps(self) -> bool:
        """No settled central estimate yet (and the target is finite at the point)."""
        return math.isfinite(self.center) and not self.on_kink and not any(
            tier == 0 and estimate.settled for estimate, tier in self.estimates())

    def rejected(self, chosen: Estimate | None,
                 describe: Callable[[int], str]) -> list[tuple[float, str]]:
        """(step, why) for each central stencil not used because of a problem at its points."""
        found = []
        if not math.isfinite(self.center):
            return found
        for s in self.stencils:
            why = s.problems["central"]
            if s.across_kink("central"):
                places = [describe(i) for i in s.crossed["central"]]
                why = (f"it steps across {'a point' if len(places) == 1 else 'points'} where "
                       f"{' and '.join(places)} {'is' if len(places) == 1 else 'are'} not "
                       "differentiable")
            used = chosen is not None and chosen.side == "central" and chosen.step == s.step
            if why and not used:
                found.append((s.step, why))
        return found


# --- steps ------------------------------------------------------------------------------------


def first_steps(x: float, eps: float, name: str) -> list[float]:
    """The steps tried first for an input at ``x``: ``eps * max(|x|, 1)`` and, when ``0 < |x| <
    1``, ``eps * |x|``, each a power of two that moves ``x``. Raises :class:`InputError` when
    neither can be used (``x`` not finite, a step that overflows or that cannot move ``x``)."""
    if not math.isfinite(x):
        raise InputError(f"cannot take finite differences at {name} = {number(x)}")
    wanted = [eps * max(abs(x), 1.0)]
    if 0.0 < abs(x) < 1.0:
        wanted.append(eps * abs(x))
    steps = []
    for h in map(_power_of_two, wanted):
        if moves(x, h) and h not in steps:
            steps.append(h)
    if steps:
        return steps
    h = _power_of_two(wanted[0])
    if not (math.isfinite(x + h) and math.isfinite(x - h)):
        raise InputError(f"the step for {name} overflows at {name} = {number(x)}: "
                         "choose a smaller --eps")
    raise InputError(f"the step for {name} ({number(h)}) cannot move {name} = {number(x)}: "
                     "choose a larger --eps")


def check_size(program: Program, steps: Sequence[Sequence[float]], why: str) -> None:
    """Raise :class:`InputError` (``why`` says what the columns are) when the first pass, all
    inputs and steps at once, would hold more numbers than ``limits.MAX_SWEEP_NUMBERS``."""
    check_sweep(len(program), COLUMNS * sum(map(len, steps)), why)


def retry_steps(x: float, smallest: float) -> list[float]:
    """Smaller steps to try after ``smallest``, down to a few units in the last place of x."""
    floor = SMALLEST * float(np.spacing(abs(x)))
    steps = []
    h = smallest
    for _ in range(RETRIES):
        h *= RETRY_SHRINK
        if h < floor or not moves(x, h):
            break
        steps.append(h)
    return steps


def _power_of_two(h: float) -> float:
    if not h > 0:
        return 0.0
    exponent = round(math.log2(h))
    return math.inf if exponent > 1023 else math.ldexp(1.0, exponent)


def moves(x: float, h: float) -> bool:
    quarter = h / 2 ** (HALVINGS - 1)
    return (0.0 < h < math.inf and math.isfinite(x + h) and math.isfinite(x - h)
            and x + quarter != x and x - quarter != x)


def crosses(a: float, b: float) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return a == 0.0 or b == 0.0 or (a > 0) != (b > 0)


ROUGH = {"pole": "it crosses a pole of {}",
          "jump": "{} jumps inside it (it varies faster than the step can follow)",
          "peak": "{} peaks inside it (a pole, or a feature narrower than the step)",
          "wiggle": "{} goes up and down inside it (it varies faster than the step can follow)",
          "uneven": "{} is not smooth across it (it varies faster than the step can follow)"}


def _residual_projector(offsets: Sequence[float], degree: int) -> np.ndarray:
    """The matrix that leaves what a polynomial of ``degree`` cannot fit at ``offsets``."""
    v = np.vander(np.asarray(offsets, dtype=float), degree + 1)
    return np.eye(len(offsets)) - v @ np.linalg.pinv(v)


# Points in order along the input, in units of h: a central stencil and a one-sided one.
_CENTRAL = [-1, -1 / 2, -1 / 4, 0, 1 / 4, 1 / 2, 1]
_RESIDUAL = {len(_CENTRAL): _residual_projector(_CENTRAL, 3),
             HALVINGS + 1: _residual_projector([0, 1 / 4, 1 / 2, 1], 2)}
SMOOTH = 0.01  # what a low-degree polynomial leaves, as a share of the values' spread


def rough(row: np.ndarray, noise: float) -> str | None:
    """Values at points in order along one input that a smooth function would not give, or None:
    "jump", a sign change that grows towards it from both sides (where a smooth function's zero
    shrinks towards it), "pole" if the values also peak there; "peak", a value inside more than
    twice those at both ends; "wiggle",
    more than one turn (a smooth function over a short step turns at most once); "uneven", far
    from a low-degree polynomial. Changes within the rounding ``noise`` do not count."""
    size = np.abs(row)
    last = len(row) - 1
    peak = bool(size[1:-1].max() > 2 * max(size[0], size[-1]) + 4 * noise)
    for k in range(last):
        if row[k] * row[k + 1] < 0 and max(size[k], size[k + 1]) > 4 * noise:
            left = k == 0 or size[k] > size[k - 1]
            right = k + 1 == last or size[k + 1] > size[k + 2]
            if left and right:
                return "pole" if peak else "jump"
    if peak:
        return "peak"
    steps = np.diff(row)
    signs = np.sign(steps[np.abs(steps) > 2 * noise])
    if np.count_nonzero(signs[1:] != signs[:-1]) > 1:
        return "wiggle"
    # Over a step short against the function's own scale, a cubic (a quadratic on one side) fits
    # the values but for a tiny share of their spread; values that vary faster do not fit.
    left = np.abs(_RESIDUAL[len(row)] @ (row - row[last // 2])).max()
    if left > SMOOTH * float(row.max() - row.min()) + 4 * noise:
        return "uneven"
    return None


def stencil_noise(noise: float, row: np.ndarray) -> float:
    """The rounding bound of one evaluation anywhere on a stencil: the bound at the point, and
    the rounding of the target's own value where it is larger than at the point."""
    return noise + EPS64 * float(np.max(np.abs(row)))


# --- extrapolation ----------------------------------------------------------------------------


def extrapolate(stencil: Stencil, side: str, center: float, noise: float) -> Estimate:
    """Richardson extrapolation of the stencil's three differences on ``side``."""
    with np.errstate(all="ignore"):  # differences of huge values overflow: then not settled
        return _richardson(stencil, side, center, noise)


def _richardson(stencil: Stencil, side: str, center: float, noise: float) -> Estimate:
    plus, minus = stencil.plus.tolist(), stencil.minus.tolist()
    row = plus + minus if side == "central" else (plus if side == "forward" else minus) + [center]
    # In units of a power of two near the values (exact), so that the sums below cannot
    # overflow where the values are near the largest float.
    top = max(map(abs, row))
    unit = math.ldexp(1.0, math.frexp(top)[1] - 1) if 0 < top < math.inf else 1.0
    here = center / unit
    if side == "central":
        width = (stencil.up + stencil.down).tolist()
        d = [(p - m) / unit / w for p, m, w in zip(plus, minus, width, strict=True)]
        order = 2  # the error of a central difference has only even powers of h
    else:
        width = (stencil.up if side == "forward" else stencil.down).tolist()
        d = [(p / unit - here) / w for p, w in zip(plus, width, strict=True)] \
            if side == "forward" else [(here - m / unit) / w for m, w in
                                       zip(minus, width, strict=True)]
        order = 1
    spread = 2 * (noise + EPS64 * top) / unit  # two evaluations, each off by noise at most
    e = [spread / w for w in width]
    f1, f2 = 2.0 ** order, 2.0 ** (2 * order)
    first = [(f1 * d[k + 1] - d[k]) / (f1 - 1) for k in (0, 1)]
    rounding1 = [(f1 * e[k + 1] + e[k]) / (f1 - 1) for k in (0, 1)]
    value = (f2 * first[1] - first[0]) / (f2 - 1)
    rounding = (f2 * rounding1[1] + rounding1[0]) / (f2 - 1)
    # The last change estimates the error left; a sixteenth of the change between the last two
    # differences keeps it from being small by a coincidence of values that are not converging.
    change = abs(first[1] - first[0])
    truncation = max(change, abs(d[2] - d[1]) / 16)
    # Settled: the change is a small share of the value or, for central differences (which do
    # not use the value at the point, whose rounding would move all three the same way), within
    # rounding; and the differences do not move further apart as the step shrinks.
    explained = ROUNDING_SLACK * rounding if side == "central" else 0.0
    settled = (change <= max(explained, UNSETTLED * abs(value))
               and abs(d[2] - d[1]) <= abs(d[1] - d[0]) + e[1] + e[2])
    value, truncation, rounding = value * unit, truncation * unit, rounding * unit
    return Estimate(value, stencil.step, side, truncation, rounding,
                    settled and math.isfinite(value), stencil.crossed[side])
