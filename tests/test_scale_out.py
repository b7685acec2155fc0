"""Rows on a Dask cluster (``--scheduler``) against the embedded path: a real LocalCluster of two
worker processes (one for the module), small data cut into many partitions
(``SLPDIFF_PARTITION_BYTES``); and the partitioned passes in this process, against finite
differences and the stated bound on sums."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import slpdiff
from helpers import EXAMPLES, ROOT, SLPDIFF, run_slpdiff, same_bits
from slpdiff.rows.partitioned import Partitioned, partition_sum_bound, totals
from slpdiff.rows.points import Chunk
from slpdiff.rows.stream import evaluate_chunk

pq = pytest.importorskip("pyarrow.parquet")
distributed = pytest.importorskip("dask.distributed")

SEED = str(EXAMPLES / "seed.slp")
DECAY = str(EXAMPLES / "decay.slp")
DECAY_CSV = str(EXAMPLES / "decay.csv")
SMALL_PARTS = "2000"  # bytes: a file of a few hundred rows is cut into many partitions


# --- the passes, in this process ------------------------------------------------------------------

def _partitions(columns: dict, cuts: list[int]) -> list[Chunk]:
    n = len(next(iter(columns.values())))
    bounds = [0, *cuts, n]
    return [Chunk({k: np.asarray(v[lo:hi], dtype=float) for k, v in columns.items()}, hi - lo)
            for lo, hi in zip(bounds, bounds[1:], strict=False)]


def _partitioned(text: str, columns: dict, constants: dict, wrt: list[str], cuts: list[int]):
    """Values and derivatives of the first output at every row, partition by partition."""
    program = slpdiff.parse(text)
    part = Partitioned(program, list(columns))
    chunks = _partitions(columns, cuts)

    def each(name, *args):
        return [getattr(part, name)(c, constants, *args) for c in chunks]

    shared = [x for x in wrt if x not in columns]
    reductions, sums, rows = totals(part, each, shared)
    evs = [part.evaluate(c, constants, reductions, sums, rows, wrt) for c in chunks]
    out = program.output_names[0]

    def rows_of(get):
        return np.concatenate([np.broadcast_to(get(e), (c.rows,)) for e, c in zip(evs, chunks,
                                                                                 strict=True)])

    return (rows_of(lambda e: e.values[out]),
            {x: rows_of(lambda e, x=x: e.gradient[out][x]) for x in wrt})


def test_without_reductions_each_partition_is_a_chunk_bit_for_bit():
    program = slpdiff.parse_file(SEED)
    x = np.random.default_rng(3).normal(size=50)
    values, gradient = _partitioned(Path(SEED).read_text(), {"x": x}, {"w": 0.75}, ["x", "w"],
                                    [7, 30])
    whole = evaluate_chunk(program, Chunk({"x": x}, 50), {"w": 0.75}, ["x", "w"])
    assert same_bits(values, whole.values["v7"])
    for name in ("x", "w"):
        assert same_bits(gradient[name], whole.gradient["v7"][name])


@pytest.mark.parametrize("text, shared", [
    ("input x\nm = x * sum(x)", {}),
    ("input x\nm = x - mean(x)", {}),
    ("input a, x\nm = a * x + mean(a * x)", {"a": 1.7}),
    ("input x\nm = mean((x - mean(x))^2) + x * count(x)", {}),  # nested reductions
    # nested, where the path through the inner reduction is not 0 (above, it sums to 0)
    ("input a, x\nm = x * mean(x * sum(a * x))", {"a": 0.6}),
    ("input a, x\nm = exp(a * mean(sin(x) * a)) * x", {"a": 0.3}),
])
def test_each_rows_own_derivatives_through_reductions_match_finite_differences(text, shared):
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, 9)
    wrt = [*shared, "x"]
    values, gradient = _partitioned(text, {"x": x}, shared, wrt, [2, 5])
    program = slpdiff.parse(text)

    def rows(xv, **given):
        at = {**shared, **given, "x": xv}
        return np.broadcast_to(slpdiff.evaluate(program, at, derivatives=False).values["m"], (9,))

    assert np.allclose(values, rows(x), rtol=1e-14, atol=1e-15)
    h = 1e-6
    for i in range(9):  # perturb row i, look at row i
        e = np.zeros(9)
        e[i] = h
        fd = (rows(x + e)[i] - rows(x - e)[i]) / (2 * h)
        assert gradient["x"][i] == pytest.approx(fd, rel=1e-6, abs=1e-8)
    for name, value in shared.items():  # the number given once, shared by every row
        fd = (rows(x, **{name: value + h}) - rows(x, **{name: value - h})) / (2 * h)
        assert np.allclose(gradient[name], fd, rtol=1e-6, atol=1e-8)


def test_a_fits_map_step_runs_the_compiled_slices_not_the_engine(monkeypatch):
    """The reductions not known yet in a pass are numbers no value asked for uses; were they NaN,
    every partition of every step of a fit would fall back to the reference engine."""
    import slpdiff.evaluation

    def no_engine(*args, **kwargs):
        raise AssertionError("the reference engine ran")
    monkeypatch.setattr(slpdiff.evaluation, "evaluate_reference", no_engine)
    t = np.linspace(0.0, 4.0, 5000)
    chunk = Chunk({"t": t, "y": 2.0 * np.exp(-1.3 * t) + 0.5}, 5000)
    part = Partitioned(slpdiff.parse_file(DECAY), ["t", "y"])
    (total, rows), = part.first_pass(chunk, {"a": 1.5, "b": 1.0, "c": 0.2}, ["a", "b", "c"])[0]
    assert rows == 5000
    assert total == pytest.approx(np.sum((1.5 * np.exp(-t) + 0.2 - chunk.columns["y"]) ** 2))


def test_sums_over_partitions_stay_within_the_stated_bound():
    rng = np.random.default_rng(11)
    worst = 0.0
    for _ in range(20):
        n = int(rng.integers(10_000, 400_000))
        x = rng.uniform(0.5, 1.5, n) * 10.0 ** rng.integers(-3, 4)  # well scaled: all one sign
        cuts = sorted(rng.choice(np.arange(1, n), size=int(rng.integers(1, 40)), replace=False))
        part = Partitioned(slpdiff.parse("input x\nm = mean(x)"), ["x"])
        chunks = _partitions({"x": x}, [int(c) for c in cuts])
        partials = [part.partial_sums(c, {}, {}, 0) for c in chunks]
        ours = part.combine(0, partials)[part.reductions[0].position]
        exact = math.fsum(x) / n
        bound = partition_sum_bound(n, len(chunks), 1) * np.sum(np.abs(x)) / abs(np.sum(x))
        error = abs(ours - exact) / abs(exact)
        assert error <= bound
        worst = max(worst, error / bound)
        assert abs(ours - np.mean(x)) / abs(np.mean(x)) <= 2 * bound
    assert worst > 0  # the bound is checked against real rounding, not exact sums
    # The figure docs/scale-out.md states: 1e8 well-scaled rows in 64 MiB partitions.
    assert partition_sum_bound(10 ** 8, 100, 40) * 30 <= 1e-12


# --- on a cluster -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scheduler():
    """The address of a LocalCluster of 2 worker processes, for the whole module."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster)
    yield cluster.scheduler_address, client
    client.close()
    cluster.close()


def _run(*args, parts=SMALL_PARTS, **kw):
    env = {**os.environ, "SLPDIFF_PARTITION_BYTES": parts}
    return subprocess.run([SLPDIFF, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300, **kw)


def _points(path: Path, rows: int = 600, seed: int = 0, names=("x", "w")) -> Path:
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1, 1, size=(rows, len(names)))
    path.write_text(",".join(names) + "\n" + "".join(",".join(repr(float(v)) for v in row) + "\n"
                                                     for row in values))
    return path


def test_eval_on_the_cluster_writes_what_the_embedded_path_writes(scheduler, tmp_path):
    points = _points(tmp_path / "p.csv")
    embedded = run_slpdiff("eval", SEED, "--points", points)
    first = _run("eval", SEED, "--points", points, "--scheduler", scheduler[0])
    again = _run("eval", SEED, "--points", points, "--scheduler", scheduler[0])
    assert first.returncode == 0, first.stderr
    assert first.stdout == embedded.stdout == again.stdout and first.stderr == ""
    jsonl = _run("eval", SEED, "--points", points, "--scheduler", scheduler[0], "--format",
                 "jsonl", "--wrt", "w")
    assert jsonl.stdout == run_slpdiff("eval", SEED, "--points", points, "--format", "jsonl",
                                       "--wrt", "w").stdout
    # $SLPDIFF_SCHEDULER sends files to the cluster; a grid stays in this process
    env = {**os.environ, "SLPDIFF_SCHEDULER": scheduler[0], "SLPDIFF_PARTITION_BYTES": "2000"}
    by_variable = subprocess.run([SLPDIFF, "eval", SEED, "--points", points],
                                 capture_output=True, text=True, env=env, timeout=300)
    assert by_variable.stdout == embedded.stdout
    grid = subprocess.run([SLPDIFF, "eval", SEED, "--at", "x=0:1:0.5,w=1"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert grid.returncode == 0 and len(grid.stdout.splitlines()) == 4


@pytest.mark.parametrize("options", [["--hessian"], ["--mode", "forward"],
                                     ["--direction", "x=1,w=-2"], ["--hvp", "x=0.5,w=1"]])
def test_second_order_and_forward_mode_on_the_cluster_as_here(scheduler, tmp_path, options):
    points = _points(tmp_path / "p.csv", 300, seed=4)
    embedded = run_slpdiff("eval", SEED, "--points", points, *options)
    on_cluster = _run("eval", SEED, "--points", points, "--scheduler", scheduler[0], *options)
    assert on_cluster.returncode == 0, on_cluster.stderr
    assert on_cluster.stdout == embedded.stdout and len(embedded.stdout.splitlines()) == 301
    parts = tmp_path / "parts"
    written = _run("eval", SEED, "--points", points, "--scheduler", scheduler[0], *options,
                   "-o", f"{parts}/")
    assert written.returncode == 0, written.stderr
    files = sorted(parts.glob("part-*.csv"))
    assert len(files) > 1  # the file was cut into partitions
    header = embedded.stdout.splitlines()[0]
    assert all(f.read_text().splitlines()[0] == header for f in files)
    assert "".join("".join(f.read_text().splitlines(keepends=True)[1:]) for f in files) == \
        "".join(embedded.stdout.splitlines(keepends=True)[1:])


def test_second_order_through_a_reduction_stays_here(scheduler, tmp_path):
    program = tmp_path / "centre.slp"
    program.write_text("input x, w\nm = (x - mean(x)) * w\noutput m\n")
    points = _points(tmp_path / "p.csv", 50)
    proc = _run("eval", program, "--points", points, "--scheduler", scheduler[0], "--hessian")
    assert proc.returncode == 2 and "not on a cluster" in proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr


def test_reductions_are_over_all_rows_of_all_partitions(scheduler, tmp_path):
    program = tmp_path / "centre.slp"
    program.write_text("input x, w\nm = (x - mean(x)) * w + sum(x * w)\noutput m\n")
    points = _points(tmp_path / "p.csv", 500, seed=1)
    proc = _run("eval", program, "--points", points, "--scheduler", scheduler[0], "--format",
                "jsonl")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    data = np.loadtxt(points, delimiter=",", skiprows=1)
    x, w = data[:, 0], data[:, 1]
    m = (x - x.mean()) * w + np.sum(x * w)
    assert np.allclose([r["value"]["m"] for r in rows], m, rtol=1e-12, atol=1e-12)
    # each row's own derivatives: d m_i/d x_i = w_i (1 - 1/n) + w_i; d m_i/d w_i = x_i - mean + x_i
    n = len(x)
    assert np.allclose([r["gradient"]["m"]["x"] for r in rows], w * (1 - 1 / n) + w,
                       rtol=1e-12)
    assert np.allclose([r["gradient"]["m"]["w"] for r in rows], x - x.mean() + x, rtol=1e-12,
                       atol=1e-12)


def test_parquet_in_and_out_globs_and_directories(scheduler, tmp_path):
    (tmp_path / "in").mkdir()
    for k in range(3):
        _points(tmp_path / f"part{k}.csv", 200, seed=k)
        assert run_slpdiff("eval", SEED, "--points", tmp_path / f"part{k}.csv", "-o",
                           tmp_path / "in" / f"p{k}.parquet").returncode == 0
    expected = run_slpdiff("eval", SEED, "--points", str(tmp_path / "part*.csv")).stdout
    assert len(expected.splitlines()) == 601
    for source in (tmp_path / "in", str(tmp_path / "in" / "*.parquet")):
        here = run_slpdiff("eval", SEED, "--points", source)
        assert here.stdout == expected and "ignoring columns" in here.stderr
        there = _run("eval", SEED, "--points", source, "--scheduler", scheduler[0])
        assert there.returncode == 0, there.stderr
        assert there.stdout == expected
    out = tmp_path / "out"
    proc = _run("eval", SEED, "--points", tmp_path / "in", "--scheduler", scheduler[0], "-o",
                f"{out}/", "--format", "parquet")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"part-0000{k}.parquet" for k in range(3)]
    table = pq.read_table(sorted(out.iterdir()))
    assert table.column_names == ["x", "w", "v7", "d v7/d x", "d v7/d w"]
    rows = [line.split(",") for line in expected.splitlines()[1:]]
    assert table.column("d v7/d w").to_pylist() == [float(r[4]) for r in rows]
    single = tmp_path / "all.parquet"
    assert _run("eval", SEED, "--points", str(tmp_path / "part*.csv"), "--scheduler",
                scheduler[0], "-o", single).returncode == 0
    assert pq.read_table(single).equals(table)


def test_a_bad_row_in_a_later_partition_names_its_line_and_writes_nothing(scheduler, tmp_path):
    points = _points(tmp_path / "p.csv", 600)
    lines = points.read_text().splitlines()
    lines[457] = "0.5,oops"  # line 458 of the file, far past the first partition
    points.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    proc = _run("eval", SEED, "--points", points, "--scheduler", scheduler[0], "-o", out)
    assert proc.returncode == 2
    assert proc.stderr == f"slpdiff: error: {points}:458: field 'w' (column 2): 'oops' is not " \
                          "a number\n"
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == \
        ["out.csv", "p.csv"]
    parts = tmp_path / "parts"
    proc = _run("eval", SEED, "--points", points, "--scheduler", scheduler[0], "-o", f"{parts}/")
    assert proc.returncode == 2 and ":458:" in proc.stderr
    assert not [p for p in parts.iterdir() if p.name.startswith("part-")]
    table = {"x": [0.5, None, 1.0], "w": [1.0, 2.0, 3.0]}
    pq.write_table(__import__("pyarrow").table(table), tmp_path / "nulls.parquet")
    proc = _run("eval", SEED, "--points", tmp_path / "nulls.parquet", "--scheduler",
                scheduler[0])
    assert proc.returncode == 2
    assert proc.stderr == f"slpdiff: error: {tmp_path / 'nulls.parquet'}: row index 1: field " \
                          "'x' is missing (null), not a number\n"


def test_a_worker_killed_during_a_run_is_survived(scheduler, tmp_path):
    address, client = scheduler
    points = _points(tmp_path / "p.csv", 20_000, seed=5)
    expected = run_slpdiff("eval", SEED, "--points", points).stdout
    before = client.run(os.getpid)
    run = subprocess.Popen([SLPDIFF, "eval", SEED, "--points", points, "--scheduler", address],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "SLPDIFF_PARTITION_BYTES": "4000"})
    deadline = time.monotonic() + 120
    while not _busy(client) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    victim = next(iter(before.values()))
    os.kill(victim, signal.SIGKILL)  # the nanny starts a new worker; Dask runs its tasks again
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert out == expected
    client.wait_for_workers(2, timeout=120)
    assert victim not in client.run(os.getpid).values()


def _busy(client) -> bool:
    return client.run_on_scheduler(
        lambda dask_scheduler: sum(ws.processing != {} and len(ws.processing)
                                   for ws in dask_scheduler.workers.values())) > 0


FIT = ["--data", DECAY_CSV, "--at", "a=1,b=1,c=0", "--format", "json"]


@pytest.mark.parametrize("method, extra", [
    ("gd", ["--lr", "0.5", "--steps", "40"]),
    ("momentum", ["--lr", "0.05", "--steps", "40"]),
    ("nesterov", ["--lr", "0.05", "--steps", "40"]),
    ("adam", ["--lr", "0.05", "--steps", "40"]),
    ("lbfgs", []),
    ("bfgs", []),
])
def test_fits_on_the_cluster_follow_the_embedded_fit(scheduler, method, extra):
    here = run_slpdiff("optimize", DECAY, *FIT, "--method", method, *extra)
    there = _run("optimize", DECAY, *FIT, "--method", method, *extra, "--scheduler",
                 scheduler[0], parts="300")
    assert there.returncode == here.returncode == 0, there.stderr
    mine, theirs = (json.loads(p.stdout.splitlines()[-1]) for p in (here, there))
    assert mine["steps"] == theirs["steps"] and mine["status"] == theirs["status"]
    for name in "abc":
        assert theirs["at"][name] == pytest.approx(mine["at"][name], rel=1e-9, abs=1e-12)


def test_newton_methods_need_the_whole_objective(scheduler):
    proc = _run("optimize", DECAY, *FIT, "--method", "newton-cg", "--scheduler", scheduler[0])
    assert proc.returncode == 2 and "newton-cg needs Hessians" in proc.stderr


def test_minibatches_here_and_on_the_cluster_are_reproducible(scheduler):
    args = ["optimize", DECAY, *FIT, "--lr", "0.3", "--steps", "400", "--batch-size", "8"]
    first, again = run_slpdiff(*args), run_slpdiff(*args)
    other = run_slpdiff(*args, "--seed", "1")
    assert first.returncode == 0 and first.stdout == again.stdout != other.stdout
    final = json.loads(first.stdout.splitlines()[-1])["at"]
    assert final["a"] == pytest.approx(2.5, abs=0.05) and final["b"] == pytest.approx(1.3, abs=0.05)
    cluster = [_run(*args, "--steps", "30", "--scheduler", scheduler[0], parts="300")
               for _ in range(2)]
    assert cluster[0].returncode == 0, cluster[0].stderr
    assert cluster[0].stdout == cluster[1].stdout
    proc = run_slpdiff("optimize", DECAY, *FIT, "--method", "lbfgs", "--batch-size", "8")
    assert proc.returncode == 2 and "--batch-size is for gd" in proc.stderr


def test_progress_on_a_terminal_names_partitions_and_the_dashboard(scheduler, tmp_path):
    import pty

    points = _points(tmp_path / "p.csv", 3000)
    master, slave = pty.openpty()
    proc = subprocess.Popen([SLPDIFF, "eval", SEED, "--points", points, "--scheduler",
                             scheduler[0], "-o", tmp_path / "o.csv"], stderr=slave,
                            stdout=subprocess.DEVNULL,
                            env={**os.environ, "SLPDIFF_PARTITION_BYTES": "500"})
    os.close(slave)
    seen = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
    os.close(master)
    assert proc.wait(timeout=120) == 0
    assert b"partitions" in seen and b"dashboard http://" in seen


def test_without_dask_one_line_says_what_to_install(tmp_path):
    points = _points(tmp_path / "p.csv", 10)
    code = ("import sys; sys.modules['dask'] = sys.modules['dask.distributed'] = None\n"
            "from slpdiff.cli import main; sys.argv[0] = 'slpdiff'; main()")
    proc = subprocess.run([sys.executable, "-c", code, "eval", SEED, "--points", str(points),
                           "--scheduler", "local:2"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "slpdiff: error: --scheduler needs Dask, which is not installed: " \
                          "pip install 'slpdiff[dask]'\n"


def test_ctrl_c_stops_the_cluster_it_started_and_leaves_no_process(tmp_path):
    points = _points(tmp_path / "p.csv", 100_000)
    proc = subprocess.Popen([SLPDIFF, "eval", SEED, "--points", points, "--scheduler",
                             "local:2", "-o", tmp_path / "o.csv"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SLPDIFF_PARTITION_BYTES": "3000"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    family: set[int] = set()
    while len(family) < 2 and time.monotonic() < deadline and proc.poll() is None:
        family = _descendants(proc.pid)  # the two worker processes have started
        time.sleep(0.2)
    assert len(family) >= 2, "the cluster did not start"
    time.sleep(3)  # the run is under way
    family |= _descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "slpdiff: error: interrupted" in err and "Traceback" not in err
    time.sleep(1)
    alive = [pid for pid in family if _alive(pid)]
    assert not alive, f"processes left running: {alive}"
    assert not (tmp_path / "o.csv").exists()


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- docs/scale-out.md --------------------------------------------------------------------------

PAGE = (ROOT / "docs" / "scale-out.md").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_pages_cluster_commands_run(tmp_path):
    """The ``sh`` block of the page: a scheduler, workers, and slpdiff against them (on a free
    port instead of 8786)."""
    (block,) = [b for b in re.findall(r"```sh\n(.*?)```", PAGE, re.S) if "dask scheduler" in b]
    port = str(_free_port())
    commands = [line.replace("8786", port) for line in block.splitlines()
                if line and not line.startswith("#")]
    (tmp_path / "examples").symlink_to(EXAMPLES, target_is_directory=True)
    (tmp_path / "data").mkdir()
    for k in range(2):
        _points(tmp_path / "data" / f"day{k}.csv", 100, seed=k)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    daemons = []
    try:
        for command in commands:
            if command.endswith("&"):
                daemons.append(subprocess.Popen(command[:-1].split(), cwd=tmp_path, env=env,
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))
                time.sleep(3)
                continue
            proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, (command, proc.stderr)
    finally:
        for daemon in reversed(daemons):
            daemon.send_signal(signal.SIGINT)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
    results = sorted((tmp_path / "results").iterdir())
    assert [p.name for p in results] == ["part-00000.csv", "part-00001.csv"]
    expected = run_slpdiff("eval", SEED, "--points", str(tmp_path / "data" / "day0.csv")).stdout
    assert results[0].read_text() == expected
