"""``slpdiff.batch``: the path slpdiff 0.1 documented, kept working. The code lives in
:mod:`slpdiff.rows.stream`."""

from .rows.stream import evaluate_chunk, evaluate_stream, reduces, rows_per_pass  # noqa: F401
