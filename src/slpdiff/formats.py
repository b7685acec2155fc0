"""How numbers and results are written: text and JSON, every float exactly round-tripping."""

from __future__ import annotations

import math

import numpy as np


def number(x) -> str:
    """The shortest text that reads back to the same float64 (``repr`` of a Python float).

    With NumPy 2, ``repr(np.float64(x))`` is ``np.float64(...)``; ``float`` first avoids that.
    """
    return repr(float(x))


def json_number(x):
    """A JSON-ready number: a float, or "nan", "inf", "-inf" as strings (not numbers in JSON)."""
    if isinstance(x, np.ndarray) and x.ndim:
        return [json_number(v) for v in x.tolist()]
    x = float(x)
    return x if math.isfinite(x) else number(x)


def json_line(obj) -> str:
    """One line of JSON (no NaN/Infinity literals: those must already be strings)."""
    import json  # only for JSON output

    return json.dumps(obj, allow_nan=False)


def evaluation_json(ev) -> dict:
    """``{"at": ..., "value": ..., "gradient": ...}`` of an
    :class:`~slpdiff.core.engine.Evaluation`, keys in the program's order."""
    obj = {
        "at": {name: json_number(v) for name, v in ev.at.items()},
        "value": {name: json_number(v) for name, v in ev.values.items()},
    }
    if ev.gradient:
        obj["gradient"] = {out: {name: json_number(g) for name, g in row.items()}
                           for out, row in ev.gradient.items()}
    return obj


def derivative_label(output: str, name: str) -> str:
    """The notation for a partial derivative, used everywhere in text output: ``d v7/d x``."""
    return f"d {output}/d {name}"


def evaluation_text(ev) -> list[str]:
    """One fact per line of an :class:`~slpdiff.core.engine.Evaluation`: each output's value, then
    its partial derivatives."""
    lines = []
    for out, value in ev.values.items():
        lines.append(f"{out} = {number(value)}")
        for name, g in ev.gradient.get(out, {}).items():
            lines.append(f"{derivative_label(out, name)} = {number(g)}")
    return lines


def point_text(at: dict, names) -> str:
    """``w = 4.0, x = 1.0`` for the inputs ``names``."""
    return ", ".join(f"{name} = {number(at[name])}" for name in names)


def matrix_text(title: str, rows: dict[str, dict[str, object]]) -> list[str]:
    """A labelled matrix: ``title``, a header of column labels, then one line per row label.
    Columns are left-aligned; numbers are written in full (each reads back to the same float)."""
    cols = list(next(iter(rows.values()), {}))
    table = [["", *cols]] + [[r, *(number(row[c]) for c in cols)] for r, row in rows.items()]
    widths = [max(len(line[k]) for line in table) for k in range(len(table[0]))]
    lines = [title]
    for line in table:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                     .rstrip())
    return lines


def jacobian_text(ev) -> list[str]:
    """Each output's value of an :class:`~slpdiff.core.engine.Evaluation`, then the Jacobian as a
    matrix (row: output, column: input)."""
    lines = [f"{out} = {number(value)}" for out, value in ev.values.items()]
    if ev.gradient and any(ev.gradient.values()):
        lines += matrix_text("Jacobian, d row/d column:", ev.gradient)
    return lines


def hessian_text(output: str, hessian: dict[str, dict[str, object]]) -> list[str]:
    """The Hessian of one output as a labelled matrix."""
    if not hessian:
        return [f"Hessian of {output}: none (no input to differentiate with respect to)"]
    return matrix_text(f"Hessian of {output}, d2 {output}/d row d column:", hessian)


def json_nested(obj):
    """Nested dicts of numbers, with every number through :func:`json_number`."""
    if isinstance(obj, dict):
        return {k: json_nested(v) for k, v in obj.items()}
    return json_number(obj)
