"""slpdiff's version (one place: the package, generated code and ``slpdiff --version`` read it)."""

__version__ = "0.1.0"
