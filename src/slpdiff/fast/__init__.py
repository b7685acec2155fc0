"""Faster evaluators that give the reference engine's numbers bit for bit: a reader learning the
method can skip this folder.

``point`` (compiled Python on floats, at a point), ``slices`` (compiled numpy calls on
cache-sized slices of rows), ``all_rows`` (all rows at once, for what one pass over slices cannot
do). They render the same schedule as the engine (:mod:`slpdiff.core.schedule`);
:mod:`slpdiff.evaluation` decides which one runs.
"""
