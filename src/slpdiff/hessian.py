"""``slpdiff.hessian``: the path slpdiff 0.1 documented, kept working. The code lives in
:mod:`slpdiff.core.hessian` (at arrays of rows that meet through a reduction,
:mod:`slpdiff.core.rows`)."""

from .core.rows import hessian, hvp  # noqa: F401
