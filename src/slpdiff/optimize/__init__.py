"""Optimization: minimizing or maximizing one output of a program (``slpdiff optimize``).

``methods`` names the methods and their parameters (cheap: the command line reads it at start-up);
``descent`` runs every method through the same bookkeeping, with gradient descent, momentum and
Adam written there; ``scipy_methods`` drives SciPy's L-BFGS-B, BFGS and Newton methods with exact
derivatives. ``slpdiff.optimize.optimize`` (the path slpdiff 0.1 documented) and the other public
names are imported from ``descent`` on first use, so that importing ``methods`` stays cheap.
"""

import importlib

_PUBLIC = ("OptimizeResult", "Step", "choose_objective", "gradient_descent", "optimize")


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(".descent", __name__), name)
    elif not name.startswith("_") and name.isupper():  # METHODS, FIRST_ORDER, ...
        value = getattr(importlib.import_module(".methods", __name__), name)
    else:
        raise AttributeError(f"module 'slpdiff.optimize' has no attribute '{name}'")
    globals()[name] = value
    return value
