"""``slpdiff.hessian``: the path slpdiff 0.1 documented, kept working. The code lives in
:mod:`slpdiff.core.hessian`."""

from .core.hessian import hessian, hvp  # noqa: F401
