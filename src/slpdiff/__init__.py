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

The package's folders are its layers, each importing only from those before it: ``language``
(the primitive table, derivative rules, the program tape, text in and out), ``core`` (the shared
schedule, the reference engine, forward mode, the adjoint program, Hessians), ``fast`` (compiled
evaluators that give the engine's numbers faster), then the API at this level (``evaluation``,
``var``, ``check``) with ``rows``, ``teach`` and ``optimize`` beside it, and ``cli`` on top. See
docs/design.md.
"""

import importlib

from .version import __version__  # noqa: F401 - slpdiff.__version__

# Every public name is imported on first use (PEP 562), so that `slpdiff --help` imports neither
# numpy nor the parser, and `slpdiff eval` not the adjoint program or the optimizer.
_LAZY = {"AdjointProgram": "core.adjoint", "adjoint_program": "core.adjoint",
         "Evaluation": "core.engine", "evaluate": "evaluation",
         "evaluate_forward": "core.rows", "jvp": "core.rows", "evaluate_rows": "rows.stream",
         "InputError": "errors", "ProgramError": "errors", "RunError": "errors",
         "SlpError": "errors",
         "OptimizeResult": "optimize.descent", "gradient_descent": "optimize.descent",
         "parse": "language.parser", "parse_file": "language.parser",
         "Program": "language.program", "to_slp": "language.printer",
         "FUNCTIONS": "var", "Var": "var",
         "get_threads": "fast.threads", "set_threads": "fast.threads"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        if name == "__all__":  # for `from slpdiff import *`
            value = [n for n in _LAZY if n != "FUNCTIONS"] + list(_function_names())
        elif name in _function_names():  # slpdiff.sin, slpdiff.add, ...: one per primitive
            value = importlib.import_module(".var", __name__).FUNCTIONS[name]
        else:
            raise AttributeError(f"module 'slpdiff' has no attribute '{name}'")
    else:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def _function_names():
    return importlib.import_module(".language.primitives", __name__).PRIMITIVES


def load_ipython_extension(ipython) -> None:
    """``%load_ext slpdiff`` in IPython or Jupyter: the ``%%slp`` magic (see slpdiff.notebook;
    IPython is imported only now)."""
    importlib.import_module(".notebook", __name__).load_ipython_extension(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext slpdiff``."""
    importlib.import_module(".notebook", __name__).unload_ipython_extension(ipython)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_function_names()})


# Hessians, checks and the optimizers live in their modules (slpdiff.hessian.hessian,
# slpdiff.hessian.hvp, slpdiff.check.check, slpdiff.optimize.optimize), so that no function
# hides a module of the same name.
