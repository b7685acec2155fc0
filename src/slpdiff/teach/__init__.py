"""The method made visible, with the engine's own numbers.

``labels`` (what nodes, operations and rules are called) <- ``trace`` (the evaluation trace and the
sweeps' updates, recorded from the engine's own sweeps) <- ``tables`` (traces as text, markdown,
LaTeX and JSON); ``dot`` (the graph, for Graphviz); ``explain`` (derivatives as sums over paths).
"""
