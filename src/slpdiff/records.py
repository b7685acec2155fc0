"""``slpdiff.records``: the path slpdiff 0.1 documented, kept working. The code lives in
:mod:`slpdiff.rows.records`."""

from .rows.records import writer_for  # noqa: F401
