"""The rows of the teaching traces, and the seeds of their tangent sweeps (shared by
:mod:`slpdiff.teach.trace` and :mod:`slpdiff.teach.second`; :mod:`~slpdiff.teach.trace` exports
them too)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..core.engine import as_value
from ..core.schedule import resolve_names
from ..language.program import Program


@dataclass
class ValueRow:
    """One node of the forward sweep: ``name = operation`` and its value."""

    position: int
    name: str
    kind: str  # "input", "constant", "operation" or "alias" (vm1 = x1: the node of x1)
    operation: str  # "x * w", "sin(v1)", "input", the constant's number, or the alias's name
    value: object
    line: int  # where the node comes from in the program's text (0: not from text)
    generated: bool  # an intermediate the program does not name (%1, %2, ...)


@dataclass
class AdjointRow:
    """One step of the reverse sweep: ``update`` adds ``contribution`` to an adjoint.

    Step 0 is the seed (the output's adjoint set to 1), with no source, rule or partial.
    """

    step: int
    node: str  # whose adjoint changes (an argument of ``source``)
    update: str  # "w_bar += v6_bar * v4"
    source: str | None  # the node whose adjoint is passed down
    argument: int | None  # which argument of ``source`` (0-based)
    rule: str | None  # the local partial derivative as text, "v4"
    partial: object  # its value (None for the seed)
    contribution: object  # adjoint(source) * partial
    adjoint: object  # the adjoint of ``node`` after the update
    line: int  # the line of ``source`` (of the output, for the seed)
    position: int = -1  # the node whose adjoint changes (its position in the program)
    source_position: int | None = None  # the node whose adjoint is passed down


@dataclass
class Term:
    """One term ``argument_dot * rule`` of a tangent."""

    argument: str
    rule: str
    partial: object
    value: object
    position: int = -1  # the argument's position in the program
    sign: str = "+"  # how the term is added in the update's text
    number: int = -1  # which argument of the node (0-based)


@dataclass
class SecondRow:
    """One adjoint update of the second-order sweep (forward over reverse): the update, and the
    tangents (along the sweep's direction) of its local partial and of the adjoint after it."""

    step: int
    node: str
    update: str  # "v4_bar += v6_bar * w"
    partial: object  # the local partial (None for the seed)
    partial_tangent: object  # its tangent
    adjoint: object  # the adjoint of ``node`` after the update
    adjoint_tangent: object  # its tangent: the second-order adjoint
    line: int
    position: int = -1
    source_position: int | None = None
    argument: int | None = None  # which argument of the source node (0-based)


@dataclass
class TangentRow:
    """One node of the tangent sweep: ``update`` and the tangent's value."""

    step: int
    node: str
    update: str  # "v6_dot = v4_dot * w + w_dot * v4"
    terms: list[Term]
    value: object
    line: int
    position: int = -1  # the node's position in the program


@dataclass
class SweepTable:
    """The derivative sweep for one output (reverse mode) or one input (forward mode)."""

    kind: str  # "reverse", "tangent" or "second"
    of: str  # the output (reverse, second) or input (tangent) it is for, or "direction"
    node: str  # that output's or input's node name (an output may be an alias)
    rows: list
    # reverse: input -> d of/d input; tangent: output -> d output/d of; second: input -> the
    # derivative of d of/d input along the direction (a Hessian-vector product)
    derivatives: dict[str, object]
    direction: dict[str, object] | None = None  # a tangent sweep's or second-order sweep's


def direction_seeds(program: Program, direction: Mapping[str, object]) -> dict[int, object]:
    """The forward sweep's seeds for ``direction`` (input name -> component; inputs not named
    are 0), exactly as :func:`slpdiff.core.tangent.jvp` makes them."""
    positions = resolve_names(list(direction), program.input_names, "input")
    return {program.input_index[k]: np.asarray(as_value(direction[name]))[..., None]
            for k, name in zip(positions, direction, strict=True)}


def unit_seed(program: Program, inputs: list, name: str) -> dict[int, object]:
    k = program.input_names.index(name)
    return {program.input_index[k]: np.ones(np.shape(inputs[k]) + (1,))}
