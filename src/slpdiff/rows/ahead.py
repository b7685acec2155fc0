"""Reading ahead and writing behind: the next chunks of rows are read and parsed on another thread,
and the last ones formatted and written on a third, while the current one is evaluated, so that
both of a machine's cores work (Arrow's reader, numpy and the writing of files release the GIL
while they run)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
# How often a thread waiting on another wakes: a signal (Ctrl-C) that the system delivered to
# another thread is handled by Python in the main thread only once that thread wakes.
WAKE = 0.2  # seconds


def _get(items: queue.Queue):
    while True:
        try:
            return items.get(timeout=WAKE)
        except queue.Empty:
            continue


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
            item = _get(ready)
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        while not ready.empty():  # let a producer blocked on a full queue see the stop
            ready.get_nowait()


class WriteBehind:
    """``write(*item)`` for each item handed over, in order, on a background thread at most
    ``depth`` items behind: the records of one chunk are formatted and written while the next is
    evaluated and the one after read (both cores busy; memory stays bounded).

    Use it as a context manager: leaving the block waits until every item handed over is written
    (so the rows before a bad one are written, then its error is raised), and an error of the
    writing thread (a closed pipe) is raised where the items are handed over, or on leaving."""

    def __init__(self, write: Callable[..., None], depth: int = 2):
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="slpdiff-write-behind",
                                        daemon=True)

    def __enter__(self) -> WriteBehind:
        self._thread.start()
        return self

    def __call__(self, *item) -> None:
        if self._error is not None:
            raise self._error
        self._put(item)

    def _put(self, item) -> None:
        while True:
            try:
                return self._queue.put(item, timeout=WAKE)
            except queue.Full:
                if self._error is not None and item is not _END:
                    raise self._error from None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is None:  # after an error, items are dropped, not written
                try:
                    self._write(*item)
                except BaseException as e:  # handed over, raised in the handing thread
                    self._error = e

    def __exit__(self, kind, value, traceback) -> None:
        self._put(_END)  # the writer takes items until this one, even after an error
        while self._thread.is_alive():
            self._thread.join(WAKE)
        if kind is None and self._error is not None:
            raise self._error
