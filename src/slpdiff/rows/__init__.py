"""Many points: rows read from files and streams, evaluated a chunk at a time, written as records.

``points`` (CSV, TSV and JSON Lines in, as chunks of columns) and ``grid`` (ranges such as
``x=0:1:0.25``) -> ``stream`` (chunks through :func:`slpdiff.evaluate`, warnings tallied over all
rows) -> ``records`` (CSV, TSV and JSON Lines out); ``atomic`` writes output files so that a
failed run leaves the old file as it was.
"""
