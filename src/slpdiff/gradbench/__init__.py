"""slpdiff as a tool of GradBench, the benchmark that compares automatic-differentiation tools.

``protocol`` answers GradBench's messages (``slpdiff gradbench`` reads them from stdin and writes
the answers to stdout); each eval's module writes that eval's function as an SLP program per size
and takes every derivative from slpdiff (``programs`` holds what they share). See
docs/gradbench.md.
"""
