"""``python -m slpdiff``: the same as the ``slpdiff`` command."""

from .cli import run

run()
