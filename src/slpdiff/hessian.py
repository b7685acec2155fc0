"""``slpdiff.hessian``: the path slpdiff 0.1 documented, kept working. The code lives in
:mod:`slpdiff.core.hessian` (at arrays of rows that meet through a reduction,
:mod:`slpdiff.core.rows`; ``hvp`` chooses its evaluator in :mod:`slpdiff.evaluation`)."""

from .core.rows import hessian  # noqa: F401
from .evaluation import hvp  # noqa: F401
