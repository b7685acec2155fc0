"""hello: ``square(x) = x * x`` and ``double(x)``, its derivative, by reverse mode.

The input is a bare number (no ``min_runs``); the program is one statement.
"""

from __future__ import annotations

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text


def _write() -> tuple[Text, dict]:
    text = Text()
    text.input("x")
    text.let("y", "x * x")
    text.output("y")
    return text, {}


def prepare(function: str, input: object, programs: Programs) -> Job:
    """The job for ``square`` or ``double`` at the number ``input``."""
    prepared = programs.get(("hello",), _write)
    at = {"x": float(input)}
    if function == "square":
        return programs.job(prepared, function,
                            lambda: evaluate(prepared.program, at, derivatives=False).values["y"])
    if function == "double":
        return programs.job(prepared, function,
                            lambda: evaluate(prepared.program, at).gradient["y"]["x"])
    raise Declined(f"hello has no function {function!r} (only square and double)")
