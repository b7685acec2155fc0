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

from .engine import Evaluation, evaluate
from .errors import InputError, ProgramError, RunError, SlpError
from .graph import FUNCTIONS, Program, Var
from .optimize import OptimizeResult, gradient_descent, optimize
from .parser import parse, parse_file

__version__ = "0.1.0"

# One Python function per primitive of the table: slpdiff.add, slpdiff.sin, slpdiff.atan2, ...
globals().update(FUNCTIONS)

__all__ = ["Evaluation", "InputError", "OptimizeResult", "Program", "ProgramError", "RunError",
           "SlpError", "Var", "evaluate", "gradient_descent", "optimize", "parse", "parse_file",
           *FUNCTIONS]
