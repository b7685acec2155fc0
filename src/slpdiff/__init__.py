"""slpdiff: automatic differentiation of straight-line programs (Linnainmaa's reverse mode).

The library API::

    import slpdiff
    program = slpdiff.parse("v1 = x * w\\nv2 = sin(v1)")   # or slpdiff.parse_file("prog.slp")
    program.input_names, program.output_names              # ['x', 'w'], ['v2']
    result = slpdiff.evaluate(program, {"x": 1.0, "w": 4.0})
    result.values["v2"], result.gradient["v2"]["w"]

and the seed's ``Var`` API::

    from slpdiff import Var, multiply, sin
    x, w = Var(value=1), Var(value=4)
    y = sin(multiply(x, w))
    y.forward(); y.backward(); w.deriv
"""

__version__ = "0.1.0"

import importlib  # noqa: E402

from .errors import InputError, ProgramError, RunError, SlpError  # noqa: E402
from .graph import FUNCTIONS, Program, Var  # noqa: E402

# One Python function per primitive of the table: slpdiff.add, slpdiff.sin, slpdiff.atan2, ...
globals().update(FUNCTIONS)

# The rest is imported on first use (PEP 562), so that `slpdiff eval` does not pay for the
# adjoint program, forward mode or the optimizer, nor `slpdiff --help` for the parser.
_LAZY = {"AdjointProgram": "adjoint", "adjoint_program": "adjoint", "Evaluation": "engine",
         "evaluate": "engine", "OptimizeResult": "optimize", "gradient_descent": "optimize",
         "parse": "parser", "parse_file": "parser", "to_slp": "printer",
         "evaluate_forward": "tangent", "jvp": "tangent"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'slpdiff' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


# Hessians, checks and the optimizers live in their modules (slpdiff.hessian.hessian,
# slpdiff.hessian.hvp, slpdiff.check.check, slpdiff.optimize.optimize), so that no function
# hides a module of the same name.
__all__ = ["AdjointProgram", "Evaluation", "InputError", "OptimizeResult", "Program",
           "ProgramError", "RunError", "SlpError", "Var", "adjoint_program", "evaluate",
           "evaluate_forward", "gradient_descent", "jvp", "parse", "parse_file", "to_slp",
           *FUNCTIONS]
