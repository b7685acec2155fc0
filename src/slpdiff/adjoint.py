"""``slpdiff.adjoint``: the path slpdiff 0.1 documented, kept working. The code lives in
:mod:`slpdiff.core.adjoint`."""

from .core.adjoint import AdjointProgram, adjoint_program, size_bound  # noqa: F401
