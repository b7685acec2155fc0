"""Traces as HTML tables: the tables of :func:`~slpdiff.teach.tables.trace_tables` (the rows, titles
and derivatives ``slpdiff trace`` prints), for notebooks and lesson pages."""

from __future__ import annotations

from collections.abc import Sequence

from ..htmlformat import block, table
from .tables import Table, trace_tables


def table_html(t: Table, row_attributes: Sequence[str] | None = None,
               footer_attributes: str = "", table_id: str = "") -> str:
    """One trace table as an HTML table (see :func:`slpdiff.htmlformat.table`)."""
    return table(t.title, t.headers, t.rows, align=t.align, code=t.code,
                 row_attributes=row_attributes, footer=t.footer,
                 footer_attributes=footer_attributes, table_id=table_id)


def trace_html(tr) -> str:
    """Every table of the :class:`~slpdiff.teach.trace.Trace` ``tr``, as a notebook shows it."""
    return block(*(table_html(t) for t in trace_tables(tr)))
