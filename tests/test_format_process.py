"""Records formatted and written by a second process (slpdiff.rows.format_process): the same
bytes as this process writes, in order, and the same errors (a closed pipe, a bad descriptor);
through ``slpdiff eval --points`` with input long enough for the child to take over."""

from __future__ import annotations

import errno
import os
import subprocess
import threading
import time

import numpy as np
import pytest

from helpers import EXAMPLES, SLPDIFF
from slpdiff.rows import format_process
from slpdiff.rows.float_text import float_rows
from slpdiff.rows.format_process import START_ROWS, FormatProcess

SEED = EXAMPLES / "seed.slp"
HARD = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-7, 1e-5, 9.999999999999999e-05,
        1e16, 1e22, 0.1, 1 / 3, 100.0, 12500000000.25, float("nan"), float("inf"),
        -float("inf"), 1.7976931348623157e308]


def _ready(child: FormatProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not child.ready():
        assert time.monotonic() < deadline, "the child never said it was ready"
        time.sleep(0.01)


def _chunks(seed: int):
    """Chunks of columns: hard values, many values below 1e-4 (more than are spliced one by
    one), ordinary numbers, and a column that is one number for every row."""
    rng = np.random.default_rng(seed)
    hard = np.array(HARD * 3)
    yield [hard, hard[::-1], np.float64(2.5)]
    yield [rng.standard_normal(500) * 1e-6, rng.standard_normal(500), np.full(500, -0.0)]
    yield [rng.standard_normal(7) * 1e300, np.float64(float("nan")), rng.integers(-9, 9, 7) * 1.0]


@pytest.mark.parametrize("delimiter, synced", [(",", True),
                                               pytest.param("\t", False, marks=pytest.mark.slow)])
def test_the_child_writes_the_bytes_this_process_writes(tmp_path, monkeypatch, delimiter, synced):
    monkeypatch.setattr(format_process, "WRITE_BACK", 1)  # synced: pages handed over each chunk
    path = tmp_path / "records.csv"
    expected = b"head\n"
    with open(path, "wb") as out:
        out.write(expected)
        out.flush()
        child = FormatProcess(out.fileno(), delimiter, synced)
        _ready(child)
        for columns in _chunks(1):
            rows = max(np.size(c) for c in columns)
            child.send(columns, rows)
            expected += bytes(float_rows([np.broadcast_to(c, (rows,)) for c in columns],
                                         delimiter))
        child.close()
        out.write(b"tail\n")  # the file's offset is shared: this goes after the child's rows
    assert path.read_bytes() == expected + b"tail\n"
    text = path.read_text().splitlines()
    assert text[1].split(delimiter) == [repr(HARD[0]), repr(HARD[-1]), "2.5"]


def test_a_reader_that_goes_away_is_a_broken_pipe():
    read_end, write_end = os.pipe()
    os.close(read_end)
    child = FormatProcess(write_end, ",")
    os.close(write_end)
    _ready(child)
    with pytest.raises(BrokenPipeError):  # from a later send, or on closing
        for _ in range(200):
            child.send([np.arange(10_000.0)], 10_000)
        child.close()


def test_the_childs_error_is_raised_here(tmp_path):
    path = tmp_path / "read-only"
    path.write_bytes(b"")
    with open(path, "rb") as read_only:
        child = FormatProcess(read_only.fileno(), ",")
        _ready(child)
        with pytest.raises(OSError) as raised:
            child.send([np.arange(3.0)], 3)
            child.close()
    assert raised.value.errno == errno.EBADF


def test_closing_a_child_not_yet_ready_writes_nothing(tmp_path):
    path = tmp_path / "records.csv"
    with open(path, "wb") as out:
        child = FormatProcess(out.fileno(), ",")
        child.close()  # at once: whether or not it had started, nothing was sent
    assert path.read_bytes() == b""


# --- through the command line ---------------------------------------------------------------------

def _rows(first: int, count: int) -> bytes:
    k = np.arange(first, first + count)
    x, w = np.sin(k * 0.37) * 10.0 ** (k % 7 - 3), np.cos(k * 0.11)
    return "".join(f"{a!r},{b!r}\n" for a, b in zip(x.tolist(), w.tolist(), strict=True)).encode()


def _eval_trickled(threads: int, tail: bytes, *options) -> subprocess.CompletedProcess:
    """``eval --points -`` fed START_ROWS rows and more, then a pause (while the child starts and
    says it is ready), then the rest and ``tail``."""
    proc = subprocess.Popen([SLPDIFF, "eval", SEED, "--points", "-", "--points-format", "csv",
                             "--threads", str(threads), *options], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = START_ROWS + 20_000
    read = {}
    readers = [threading.Thread(target=lambda k=k: read.setdefault(k, getattr(proc, k).read()))
               for k in ("stdout", "stderr")]  # read while writing: pipes fill up
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write(b"x,w\n" + _rows(0, first))
        proc.stdin.flush()
        time.sleep(1.5)
        assert _formatting_children(proc.pid) == (threads > 1)
        proc.stdin.write(_rows(first, 30_000) + tail)
        proc.stdin.close()
        proc.wait(timeout=120)
    finally:
        proc.kill()
        proc.wait()
        for reader in readers:
            reader.join()
    return subprocess.CompletedProcess(proc.args, proc.returncode, read["stdout"],
                                       read["stderr"])


def _formatting_children(pid: int) -> int:
    """How many children of process ``pid`` run slpdiff.rows.format_process (Linux)."""
    found = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            for child in children.read().split():
                with open(f"/proc/{child}/cmdline", "rb") as command:
                    found += b"slpdiff.rows.format_process" in command.read()
    return found


@pytest.mark.slow
def test_eval_points_writes_the_same_bytes_with_the_second_process_up_to_a_bad_row():
    ours = _eval_trickled(2, b"0.5,oops\n1,2\n")
    alone = _eval_trickled(1, b"0.5,oops\n1,2\n")
    assert ours.returncode == alone.returncode != 0
    assert ours.stderr == alone.stderr and b"oops" in ours.stderr
    assert ours.stdout == alone.stdout
    lines = ours.stdout.splitlines()
    assert len(lines) == 1 + START_ROWS + 50_000  # the header and every row before the bad one
    assert lines[-1].startswith(repr(float(np.sin((START_ROWS + 49_999) * 0.37)
                                           * 10.0 ** ((START_ROWS + 49_999) % 7 - 3))).encode())


@pytest.mark.slow
def test_eval_points_to_a_file_through_the_second_process(tmp_path):
    for threads in (1, 2):
        made = _eval_trickled(threads, b"", "-o", str(tmp_path / f"{threads}.tsv"))
        assert made.returncode == 0, made.stderr
    assert (tmp_path / "1.tsv").read_bytes() == (tmp_path / "2.tsv").read_bytes()
    failed = _eval_trickled(2, b"1,x\n", "-o", str(tmp_path / "bad.csv"))
    assert failed.returncode != 0 and not (tmp_path / "bad.csv").exists()
    assert sorted(os.listdir(tmp_path)) == ["1.tsv", "2.tsv"]  # no temporary file left
