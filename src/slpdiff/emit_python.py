"""``slpdiff.emit_python``: the path slpdiff 0.1 documented, kept working. The code lives in
:mod:`slpdiff.core.emit_python`."""

from .core.emit_python import to_python  # noqa: F401
