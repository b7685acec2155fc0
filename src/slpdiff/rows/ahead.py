"""Reading ahead: the next chunks of rows are read and parsed on another thread while the current
ones are evaluated and written, so that both of a machine's cores work (Arrow's reader and numpy
release the GIL while they run)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


class _Raised:
    """An exception met by the reading thread, raised again where the items are used."""

    def __init__(self, error: BaseException):
        self.error = error


def read_ahead(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """The items of ``items`` in order, produced by a background thread at most ``depth`` ahead
    of their use (memory stays bounded). An exception raised while producing them is raised here,
    after the items before it. The thread is a daemon: a run that stops early (a closed pipe,
    Ctrl-C) does not wait for it."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put(item)
        except BaseException as e:  # handed over, raised in the using thread
            ready.put(_Raised(e))
            return
        ready.put(_END)

    threading.Thread(target=produce, name="slpdiff-read-ahead", daemon=True).start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        while not ready.empty():  # let a producer blocked on a full queue see the stop
            ready.get_nowait()
