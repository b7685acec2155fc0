"""The program evaluated at the stencils of its inputs, for :mod:`slpdiff.check`: one vectorized
pass for every input and step at once (more for smaller steps where needed), each stencil's values
classified (:mod:`slpdiff.differences`) with the node to blame when one cannot be used, and the
bounds on rounding.

Rounding: evaluating an output rounds each operation's result by half an ulp, which moves the
output by the node's adjoint times that, so one evaluation is off by at most about ``eps64 * sum
|adjoint * value|`` over the nodes that depend on the input (the others round the same way at every
point of its stencil). A derivative sweep rounds likewise, each node's tangent in place of its
value: that bounds the AD value's own error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .core.engine import adjoints, forward
from .core.tangent import seeds_for, sweep
from .differences import (
    COLUMNS,
    CONFIRM,
    EPS64,
    HALVINGS,
    ROUGH,
    SIDES,
    SMALLEST,
    TINY,
    Differences,
    Stencil,
    check_size,
    crosses,
    moves,
    retry_steps,
    rough,
    stencil_noise,
)
from .formats import number
from .language.program import Program
from .language.rules import kink_for
from .limits import MAX_SWEEP_NUMBERS


@dataclass(frozen=True)
class Target:
    """A value whose derivatives are estimated: a node of the program evaluated, labelled for
    messages, with the output of the user's program it belongs to (for its kinks)."""

    node: int
    label: str
    source_output: int  # node position of the output in the user's program


# --- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scale:
    input: int  # position in the list of inputs differentiated
    step: float
    first: int  # its first column


class Estimator:
    """Finite differences of ``targets`` of ``program`` at ``point`` (the inputs' values, in
    program order) in the inputs at node positions ``wrt_nodes``.

    ``center`` holds every node's value at the point. Kinks are looked for at the positions
    ``kink_nodes`` (nodes of the user's program, which come first in ``program``), where
    ``reach(target)`` says which of them lie on the way to a target's output.
    """

    def __init__(self, program: Program, point: Sequence[float], wrt_nodes: Sequence[int],
                 targets: Sequence[Target], center: Sequence, kink_nodes: Sequence[int],
                 reach: Callable[[Target], Sequence[bool]], describe: Callable[[int], str]):
        self.program, self.point = program, list(point)
        self.wrt_nodes, self.targets, self.center = list(wrt_nodes), list(targets), center
        self.kink_nodes, self.reach, self.describe = list(kink_nodes), reach, describe
        inputs = {node: k for k, node in enumerate(program.input_index)}
        self.wrt_k = [inputs[node] for node in self.wrt_nodes]
        self.deps = _Dependence(program, self.wrt_nodes)
        self.reduces = any(op is not None and op.reduces for op in program.ops)
        noise, ad_noise = _noise(program, point, center, self.targets, self.wrt_k, self.deps)
        self.kink_center = {i: float(self._kink_value(i, center)) for i in self.kink_nodes}
        self.culprits: dict[tuple, int | None] = {}  # a stencil's side -> the node to blame
        self.culprit_values: dict[tuple, float] = {}
        self.found = {(t, j): Differences(float(center[target.node]), float(noise[t, j]),
                                          float(ad_noise[t, j]), self._on_kink(target, j))
                      for t, target in enumerate(self.targets)
                      for j in range(len(self.wrt_nodes))}

    def _on_kink(self, target: Target, j: int) -> bool:
        reach = self.reach(target)
        return any(self.kink_center[i] == 0.0 and reach[i] and self.deps.depends(i, j)
                   for i in self.kink_nodes)

    def run(self, steps: Sequence[Sequence[float]], why: str) -> None:
        """Evaluate the stencils of ``steps[j]`` for each input j, in one pass (the first steps,
        whose size is checked against the limit with ``why``), then smaller steps where no
        settled central difference was found, in passes that fit the limit."""
        scales = [(j, h) for j, hs in enumerate(steps) for h in hs]
        check_size(self.program, steps, why)
        self._pass(scales)
        retries = []
        for j in range(len(self.wrt_nodes)):
            if any(self.found[t, j].needs_smaller_steps() for t in range(len(self.targets))):
                x = self.point[self.wrt_k[j]]
                retries += [(j, h) for h in retry_steps(x, min(steps[j]))]
        self._passes(retries)

    def confirm(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Another step for each (target, input) in ``pairs``, near its best estimate's: a
        disagreement with AD seen at one step only may be the step's (a function sampled at
        steps far beyond its period looks smooth), so it needs a second."""
        wanted = []
        for t, j in pairs:
            best = self.found[t, j].choose()
            x = self.point[self.wrt_k[j]]
            tried = {s.step for s in self.found[t, j].stencils}
            for factor in CONFIRM:
                h = best.step * factor
                if h not in tried and moves(x, h) and h >= SMALLEST * float(np.spacing(abs(x))):
                    if (j, h) not in wanted:
                        wanted.append((j, h))
                    break
        self._passes(wanted)

    def _passes(self, scales: list[tuple[int, float]]) -> None:
        per_pass = max(1, MAX_SWEEP_NUMBERS // (COLUMNS * max(1, len(self.program))))
        for start in range(0, len(scales), per_pass):
            self._pass(scales[start:start + per_pass])

    def _pass(self, scales: list[tuple[int, float]]) -> None:
        layout = [_Scale(j, h, COLUMNS * n) for n, (j, h) in enumerate(scales)]
        columns = COLUMNS * len(layout)
        if not columns:
            return
        inputs: list = list(self.point)
        for s in layout:
            k = self.wrt_k[s.input]
            if not np.ndim(inputs[k]):
                inputs[k] = np.full(columns, self.point[k])
            x = self.point[k]
            for q in range(HALVINGS):
                h = s.step / 2 ** q
                inputs[k][s.first + 2 * q] = x + h
                inputs[k][s.first + 2 * q + 1] = x - h
        values = self._forward(inputs, columns)
        with np.errstate(all="ignore"):
            self._sort(layout, inputs, values, columns)

    def _forward(self, inputs: list, columns: int) -> list:
        """Every node's value at every column. A reduction (sum, mean) at one point sees one
        row, so a program with one is evaluated a column at a time: its columns are separate
        points, not rows."""
        if not self.reduces:
            return forward(self.program, inputs)
        each = [forward(self.program, [x[c] if np.ndim(x) else x for x in inputs])
                for c in range(columns)]
        return [np.array([one[i] for one in each]) for i in range(len(self.program))]

    def _sort(self, layout, inputs, values, columns: int) -> None:
        """Each target's stencils from the values of a pass, classified."""
        self.columns = columns
        kinks = {i: np.broadcast_to(self._kink_value(i, values), (columns,))
                 for i in self.kink_nodes}
        for s in layout:
            k = self.wrt_k[s.input]
            x = self.point[k]
            cols = np.arange(s.first, s.first + COLUMNS)
            up, down = inputs[k][cols[0::2]] - x, x - inputs[k][cols[1::2]]
            for t, target in enumerate(self.targets):
                found = self.found[t, s.input]
                row = np.broadcast_to(values[target.node], (columns,))
                stencil = Stencil(s.step, row[cols[0::2]].astype(float),
                                  row[cols[1::2]].astype(float), up, down)
                self._classify(stencil, found, target, s, values, kinks, cols)
                found.add(stencil)

    def _classify(self, stencil: Stencil, found: Differences, target: Target, scale: _Scale,
                  values, kinks, cols) -> None:
        center = found.center
        sides = {"central": np.concatenate((stencil.minus, [center], stencil.plus[::-1])),
                 "forward": np.concatenate(([center], stencil.plus[::-1])),
                 "backward": np.concatenate((stencil.minus, [center]))}
        for side, row in sides.items():
            stencil.rough[side] = False
            if not np.isfinite(row).all():
                stencil.problems[side] = self._culprit(target, scale, values, cols, side,
                                                       "nonfinite")
            elif found.on_kink:  # its shape is the kink's, and the entry is a kink anyway
                stencil.problems[side] = None
            else:
                shape = rough(row, stencil_noise(found.noise, row))
                stencil.problems[side] = shape and self._culprit(target, scale, values, cols,
                                                                 side, shape)
                stencil.rough[side] = bool(shape)
        reach = self.reach(target)
        crossed: dict[str, list[int]] = {side: [] for side in SIDES}
        for i in self.kink_nodes:
            here = self.kink_center[i]
            # a kink at the point itself makes the entry a kink whatever the step
            if here == 0.0 or not (reach[i] and self.deps.depends(i, scale.input)):
                continue
            plus, minus = float(kinks[i][cols[0]]), float(kinks[i][cols[1]])  # at x + h, x - h
            for side, ends in (("central", (plus, minus)), ("forward", (here, plus)),
                               ("backward", (here, minus))):
                if crosses(*ends):
                    crossed[side].append(i)
        stencil.crossed = {side: tuple(found) for side, found in crossed.items()}

    def _culprit(self, target: Target, scale: _Scale, values, cols, side: str,
                 kind: str) -> str:
        """Why the ``side`` of a stencil cannot be used: the first node of the user's program on
        the way to the target that is not finite there (or has that shape), else the target."""
        key = (target.source_output, scale.input, scale.step, side, kind)
        if key not in self.culprits:
            self.culprits[key] = self._first_culprit(target, scale, values, cols, side, kind)
        i = self.culprits[key]
        if kind == "nonfinite":
            if i is None:
                return f"{target.label} is not finite there"
            bad, where = self.culprit_values[key], self.describe(i)
            if math.isnan(bad):
                return f"it leaves the domain of {where} (nan)"
            return f"{where} overflows or meets a pole there ({number(bad)})"
        return ROUGH[kind].format(target.label if i is None else self.describe(i))

    def _first_culprit(self, target: Target, scale: _Scale, values, cols, side: str,
                       kind: str) -> int | None:
        order = {"central": [1, 3, 5, None, 4, 2, 0], "forward": [None, 4, 2, 0],
                 "backward": [1, 3, 5, None]}[side]  # the side's points along the input
        picks = [cols[p] for p in order if p is not None]
        where = [k for k, p in enumerate(order) if p is not None]
        middle = order.index(None)
        reach = self.reach(target)
        nodes = [i for i in range(len(reach)) if reach[i] and not self.program.is_input(i)
                 and self.deps.depends(i, scale.input)]
        if not nodes:
            return None
        rows = np.empty((len(nodes), len(order)))
        rows[:, where] = np.array([np.broadcast_to(values[i], (self.columns,))[picks]
                                   for i in nodes])
        rows[:, middle] = [float(self.center[i]) for i in nodes]
        finite = np.isfinite(rows)
        if kind == "nonfinite":
            bad = np.flatnonzero(finite[:, middle] & ~finite.all(axis=1))
            if not bad.size:
                return None
            row = rows[bad[0]]
            self.culprit_values[target.source_output, scale.input, scale.step, side, kind] = \
                float(row[~np.isfinite(row)][0])
            return nodes[bad[0]]
        for k in np.flatnonzero(finite.all(axis=1)):  # in program order
            if rough(rows[k], 0.0) == kind:
                return nodes[k]
        return None

    def _kink_value(self, i: int, values) -> object:
        op = self.program.ops[i]
        rule = kink_for(op)
        args = [values[a] for a in self.program.args[i]]
        with np.errstate(all="ignore"):
            if op.reduces and any(np.ndim(v) for v in (*args, values[i])):
                # the columns are separate points, not rows (see _forward)
                columns = max(np.size(v) for v in (*args, values[i]))
                return np.array([rule.fn(*(_column(a, c) for a in args), _column(values[i], c))
                                 for c in range(columns)])
            return rule.fn(*args, values[i])


# --- rounding ---------------------------------------------------------------------------------


class _Dependence:
    """Which of the inputs at ``wrt_nodes`` each node depends on, as bit sets."""

    def __init__(self, program: Program, wrt_nodes: Sequence[int]):
        bits = [0] * len(program)
        for j, node in enumerate(wrt_nodes):
            bits[node] |= 1 << j
        for i, args in enumerate(program.args):
            for a in args:
                bits[i] |= bits[a]
        self.bits, self.count = bits, len(wrt_nodes)

    def depends(self, i: int, j: int) -> bool:
        return bool(self.bits[i] >> j & 1)

    def matrix(self, nodes: Sequence[int]) -> np.ndarray:
        """(len(nodes), inputs) booleans."""
        width = (self.count + 7) // 8
        raw = b"".join(self.bits[i].to_bytes(width, "little") for i in nodes)
        table = np.frombuffer(raw, dtype=np.uint8).reshape(len(nodes), width)
        return np.unpackbits(table, axis=1, bitorder="little")[:, :self.count].astype(bool)


def _noise(program: Program, point: Sequence[float], values: Sequence,
           targets: Sequence[Target], wrt_k: Sequence[int], deps: _Dependence):
    """Two (targets, inputs) arrays: the bound on the rounding error of one evaluation of each
    target that changes as the input moves, the sum of |adjoint| * (half an ulp of the value, and
    no less than half the smallest subnormal) over the nodes that depend on it; and the bound on
    the rounding error of the AD derivative, twice eps64 * sum of |adjoint * tangent| (each
    operation of a derivative sweep rounds its result, moved by the adjoint)."""
    noise = np.zeros((len(targets), len(wrt_k)))
    ad_noise = np.zeros_like(noise)
    if not wrt_k:
        return noise, ad_noise
    wrt_nodes = [program.input_index[k] for k in wrt_k]
    tangents = sweep(program, point, seeds_for(program, list(point), wrt_k), len(wrt_k)).tangents
    for t, target in enumerate(targets):
        with np.errstate(all="ignore"):
            adjoint = adjoints(program, list(values), target.node, wrt_nodes)
        nodes = [i for i, a in enumerate(adjoint) if a is not None and not program.is_input(i)]
        if not nodes:
            continue
        with np.errstate(all="ignore"):
            size = np.abs(np.array([float(adjoint[i]) for i in nodes]))
            weight = size * (EPS64 * np.abs(np.array([float(values[i]) for i in nodes])) + TINY)
            slope = np.zeros((len(nodes), len(wrt_k)))
            for row, i in enumerate(nodes):
                if tangents[i] is not None:
                    slope[row] = tangents[i]
            slope = np.abs(slope)
            ad_noise[t] = 2 * EPS64 * np.nan_to_num(size @ slope, nan=0.0, posinf=0.0)
        weight[~np.isfinite(weight)] = 0.0
        noise[t] = weight @ deps.matrix(nodes)
    return noise, ad_noise


def _column(x, c: int):
    """Column ``c`` of a node's values (a number is the same in every column)."""
    return np.ravel(x)[c] if np.ndim(x) else x
