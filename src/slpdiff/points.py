"""``slpdiff.points``: the path slpdiff 0.1 documented, kept working. The code lives in
:mod:`slpdiff.rows.points`."""

from .rows.points import Chunk, PointReader  # noqa: F401
