"""Reading ahead and writing behind on threads (``rows/ahead.py``): order kept, memory bounded,
errors raised where the items are used or handed over, the rows before an error written."""

from __future__ import annotations

import threading
import time

import pytest

from slpdiff.rows.ahead import WriteBehind, read_ahead


def test_items_are_written_in_order_on_another_thread():
    written, threads = [], set()

    def write(number, text):
        written.append((number, text))
        threads.add(threading.current_thread().name)

    with WriteBehind(write) as hand_over:
        for k in range(100):
            hand_over(k, str(k))
    assert written == [(k, str(k)) for k in range(100)]
    assert threads == {"slpdiff-write-behind"}


def test_the_writer_is_at_most_a_few_items_behind():
    behind, handed, written = [], [0], [0]

    def write(_):
        time.sleep(0.001)
        written[0] += 1

    with WriteBehind(write, depth=2) as hand_over:
        for k in range(30):
            hand_over(k)
            handed[0] += 1
            behind.append(handed[0] - written[0])
    assert max(behind) <= 4  # the queue's 2, one being written, the one just handed over


def test_an_error_of_the_writer_is_raised_where_items_are_handed_over():
    written = []

    def write(k):
        if k == 3:
            raise BrokenPipeError("the reader went away")
        written.append(k)

    with pytest.raises(BrokenPipeError), WriteBehind(write) as hand_over:
        for k in range(1000):
            hand_over(k)
            time.sleep(0.0005)
    assert written == [0, 1, 2]  # nothing after the failed item


def test_an_error_of_the_writer_on_the_last_items_is_raised_on_leaving():
    def write(k):
        if k == 1:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), WriteBehind(write) as hand_over:
        hand_over(0)
        hand_over(1)


def test_items_handed_over_before_an_error_of_the_caller_are_written_first():
    written = []

    def write(k):
        time.sleep(0.002)  # still behind when the caller fails
        written.append(k)

    with pytest.raises(ValueError, match="bad row"), WriteBehind(write) as hand_over:
        hand_over(0)
        hand_over(1)
        raise ValueError("bad row")
    assert written == [0, 1]


def test_read_ahead_keeps_order_and_raises_after_the_items_before():
    def items():
        yield from range(10)
        raise ValueError("line 12: not a number")

    got = []
    with pytest.raises(ValueError, match="line 12"):
        for item in read_ahead(items(), depth=2):
            got.append(item)
    assert got == list(range(10))
