"""GradBench's protocol: one JSON message in, exactly one JSON response out, with the same id.

GradBench (github.com/gradbench/gradbench) runs an eval and a tool as two processes and passes
JSON lines between them. Its messages (from its CONTRIBUTING and protocol definitions):

- ``start`` -> ``{"id", "tool", "config"}``
- ``define`` of a module (an eval) -> ``{"id", "success", "error"?}``: whether the tool does it
- ``evaluate`` of a module's function at an input -> ``{"id", "success", "output", "timings"}``,
  or ``{"id", "success": false, "error"}``. Except for hello, the input carries ``min_runs`` and
  ``min_seconds``: the function runs at least ``min_runs`` times and until the runs' time adds up
  to ``min_seconds``, one timing ``{"name": "evaluate", "nanoseconds": int}`` per run, which is
  what GradBench scores. Preparation (writing the program, parsing it, the first evaluation, which
  compiles) is one timing named ``prepare``, when there was any.
- ``analysis`` and any other kind -> ``{"id"}``.

Responses are strict JSON (no NaN or Infinity): an output that is not finite is a failure.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

import numpy as np

from ..errors import SlpError
from ..version import __version__
from . import ba, det, gmm, hello, ht, kmeans, llsq, lse, lstm, ode
from .programs import Declined, Job, Programs

__all__ = ["DECLINED", "EVALS", "ProtocolError", "Session", "encode"]

EVALS = {module.__name__.rsplit(".", 1)[1]: module
         for module in (hello, llsq, lse, det, kmeans, gmm, ba, ode, lstm, ht)}
"""The evals slpdiff does: each a module of this package with ``prepare(function, input,
programs)``."""

DECLINED = {
    "particle": "slpdiff differentiates straight-line programs: particle integrates a particle's "
                "path until it crosses the x axis (a loop whose length depends on the values) "
                "and takes an argmin by gradient descent over a function that itself takes a "
                "gradient (nested AD); no fixed straight-line program computes it",
    "saddle": "slpdiff differentiates straight-line programs: saddle takes an argmin by "
              "gradient descent over an argmax by gradient descent, each a loop that runs until "
              "it converges (nested AD); no fixed straight-line program computes it",
}
"""GradBench's evals that slpdiff declines, with the reason ``define`` answers."""


class ProtocolError(Exception):
    """A line that is no GradBench message (not a JSON object with an ``id``): there is no id to
    answer with, so the session cannot go on."""


class Session:
    """The state of one run: the modules defined and the programs prepared so far."""

    def __init__(self, on_record: Callable[[dict], None] | None = None,
                 clock: Callable[[], int] = time.perf_counter_ns):
        self.defined: set[str] = set()
        self.programs = Programs(on_record=on_record)
        self.clock = clock
        self.last_error: BaseException | None = None  # an internal error, for --debug

    def respond(self, message: object) -> dict:
        """The response to one message (already decoded from JSON)."""
        if not isinstance(message, dict) or "id" not in message:
            raise ProtocolError("a GradBench message is a JSON object with an \"id\"")
        kind = message.get("kind")
        response = {"id": message["id"]}
        if kind == "start":
            response |= {"tool": "slpdiff", "config": {"version": __version__,
                                                       "evals": list(EVALS)}}
        elif kind == "define":
            response |= self._define(message.get("module"))
        elif kind == "evaluate":
            response |= self._evaluate(message)
        return response

    def _define(self, module: object) -> dict:
        if not isinstance(module, str):
            return failure("a define message names its module with a string")
        if module in EVALS:
            self.defined.add(module)
            return {"success": True}
        if module in DECLINED:
            return {"success": False, "error": DECLINED[module]}
        return {"success": False, "error": f"slpdiff has no GradBench eval named {module!r} "
                                           f"(it does {', '.join(EVALS)})"}

    def _evaluate(self, message: dict) -> dict:
        module, function = message.get("module"), message.get("function")
        if not isinstance(module, str) or module not in self.defined:
            return failure(f"module {module!r} was not defined: a define message comes first")
        try:
            job = EVALS[module].prepare(function, message.get("input"), self.programs)
            output, timings = self._run(job, message.get("input"))
        except Declined as e:
            return failure(str(e))
        except SlpError as e:
            return failure("; ".join(d.message for d in e.diagnostics) or str(e))
        except MemoryError:
            return failure(f"out of memory in {module}::{function}")
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            return failure(f"{module}::{function}: {type(e).__name__}: {e} (is the input "
                           f"GradBench's {module} input?)")
        except Exception as e:  # a bug in slpdiff: the run goes on, the error says what it was
            self.last_error = e
            return failure(f"internal error in slpdiff ({module}::{function}): "
                           f"{type(e).__name__}: {e}")
        return {"success": True, "output": output, "timings": timings}

    def _run(self, job: Job, input: object) -> tuple[object, list[dict]]:
        """Run ``job`` as GradBench's ``multiple_runs`` does, timing each run."""
        min_runs, min_seconds = runs(input)
        timings = [{"name": "prepare", "nanoseconds": job.prepare_ns}] if job.prepare_ns else []
        elapsed, count = 0, 0
        while count < min_runs or elapsed < min_seconds * 1e9:
            start = self.clock()
            result = job.run()
            spent = self.clock() - start
            timings.append({"name": "evaluate", "nanoseconds": int(spent)})
            elapsed += spent
            count += 1
        return plain(job.post(result)), timings


def runs(input: object) -> tuple[int, float]:
    """``(min_runs, min_seconds)`` of an input: at least one run (hello's input has neither)."""
    if isinstance(input, dict) and "min_runs" in input:
        return max(1, int(input["min_runs"])), float(input.get("min_seconds", 0))
    return 1, 0.0


def failure(error: str) -> dict:
    return {"success": False, "error": error}


def plain(value: object) -> object:
    """``value`` with numpy's numbers and arrays made Python's, for ``json``."""
    if isinstance(value, dict):
        return {key: plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def encode(response: dict) -> str:
    """One line of strict JSON. An output with NaN or an infinity (which strict JSON cannot
    carry, and GradBench's runner rejects) becomes a failure that says so."""
    try:
        return json.dumps(response, allow_nan=False)
    except ValueError:
        where = _first_non_finite(response.get("output"))
        return json.dumps({"id": response["id"], "success": False,
                           "error": f"the output has a value that is not finite ({where}), "
                                    "which strict JSON cannot carry"}, allow_nan=False)


def _first_non_finite(value: object, path: str = "output") -> str:
    stack = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return f"{p} = {v}"
        if isinstance(v, dict):
            stack.extend((item, f"{p}.{key}") for key, item in reversed(v.items()))
        elif isinstance(v, list):
            stack.extend((item, f"{p}[{i}]") for i, item in reversed(list(enumerate(v))))
    return "somewhere in the response"
