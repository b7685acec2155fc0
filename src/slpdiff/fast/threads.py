"""How many threads evaluate rows, and the pool of threads they run on.

The compiled slices (:mod:`slpdiff.fast.slices`) are independent of each other, and numpy lets go
of the GIL inside its loops, so the slices of one evaluation can run on several cores at once. The
number of threads is, in order: the one set by :func:`set_threads` (``slpdiff eval --threads N``
sets it for its run), else the environment variable ``SLPDIFF_THREADS``, else the cores this
process may run on. 1 runs every slice in the calling thread, as before threads.

The pool is made on first use, only when more than one thread is asked for, and kept for the next
evaluations. Its threads are the standard library's (``concurrent.futures``): an idle one ends
when the interpreter exits, so the pool never keeps a process alive; a process forked from this
one makes a pool of its own (threads do not survive a fork).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..errors import SlpError

ENVIRONMENT = "SLPDIFF_THREADS"

_chosen: int | None = None  # set_threads; None: the environment's or the cores' number
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def thread_count(text: str) -> int:
    """``text`` as a number of threads: a whole number, 1 or more. Raises ValueError saying what
    is wrong otherwise."""
    try:
        count = int(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a whole number of threads (1 or more)") from None
    if count < 1:
        raise ValueError(f"'{text}': the number of threads must be 1 or more")
    return count


def set_threads(count: int | None) -> int | None:
    """Evaluate rows on ``count`` threads from now on, in this process (None: back to the
    default, ``SLPDIFF_THREADS`` or the number of cores). Returns the previous setting, so that
    it can be restored. The results are the same, bit for bit, whatever the number."""
    global _chosen
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise TypeError(f"the number of threads must be an int or None, not {count!r}")
    if count is not None and count < 1:
        raise ValueError(f"the number of threads must be 1 or more, not {count}")
    previous, _chosen = _chosen, count
    return previous


def get_threads() -> int:
    """The number of threads that evaluate rows now (see the module's docstring). A bad
    ``SLPDIFF_THREADS`` is an :class:`~slpdiff.errors.SlpError` (exit status 2)."""
    if _chosen is not None:
        return _chosen
    text = os.environ.get(ENVIRONMENT, "")
    if not text.strip():
        return cores()
    try:
        return thread_count(text)
    except ValueError as e:
        raise SlpError(f"{ENVIRONMENT}: {e}") from None


def pool(workers: int) -> ThreadPoolExecutor:
    """The shared pool, with room for at least ``workers`` threads at once (made, or made
    larger, now)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            old, _pool = _pool, ThreadPoolExecutor(workers, thread_name_prefix="slpdiff-rows")
            if old is not None:
                old.shutdown(wait=False)  # its threads end once their tasks are done
        return _pool


def _forget_pool() -> None:
    """In a forked child: the parent's threads are not there, so the pool is not either."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
