"""Rows on several threads (``--threads``, ``SLPDIFF_THREADS``, ``slpdiff.set_threads``): the same
bits as one thread whatever the number, slices really run on more than one thread, non-finite
values and errors behave as with one thread, Ctrl-C still stops a run, and bad numbers are usage
errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from test_fast_path import column_program, compiled

import slpdiff
from helpers import exit_status, invoke, random_program, run_slpdiff, same_bits
from slpdiff.errors import SlpError
from slpdiff.evaluation import force_compile
from slpdiff.fast import slices, threads

COUNTS = [1, 2, 3, 7]


@pytest.fixture(autouse=True)
def default_threads(monkeypatch):
    """Every test starts from the default setting and leaves it so."""
    monkeypatch.delenv("SLPDIFF_THREADS", raising=False)
    previous = threads.set_threads(None)
    yield
    threads.set_threads(previous)


def on_threads(count: int, program, point: dict, wrt=None):
    force_compile(program)  # the compiled slices, whatever the policy would choose
    threads.set_threads(count)
    try:
        return slpdiff.evaluate(program, point, wrt=wrt)
    finally:
        threads.set_threads(None)


def assert_same_evaluations(a, b) -> None:
    assert a.values.keys() == b.values.keys()
    for out in a.values:
        assert same_bits(a.values[out], b.values[out]), out
        assert a.gradient[out].keys() == b.gradient[out].keys()
        for x in a.gradient[out]:
            assert same_bits(a.gradient[out][x], b.gradient[out][x]), (out, x)
    assert [w.describe() for w in a.warnings] == [w.describe() for w in b.warnings]


@pytest.fixture
def small_slices(monkeypatch):
    """Slices of 128 to 136 rows, so that a few thousand rows make dozens of slices (and the
    sums over rows dozens of blocks of numpy's pairwise summation)."""
    monkeypatch.setattr(slices, "MIN_ROWS", 128)
    monkeypatch.setattr(slices, "MAX_ROWS", 136)


@pytest.mark.parametrize("seed", range(9))
def test_columns_and_reductions_give_one_threads_bits_on_any_number_of_threads(seed,
                                                                              small_slices):
    rng = np.random.default_rng(seed)
    program = slpdiff.parse(column_program(seed, tail=seed % 2 == 0))
    for n in [1, 129, 3000, 9001]:
        point = {v: rng.uniform(-1, 1, n) for v in "xyz"}
        point["w"] = 0.625  # a number: its derivative is summed over the rows
        alone = on_threads(1, program, point)
        for count in COUNTS[1:]:
            assert_same_evaluations(alone, on_threads(count, program, point))
        one = on_threads(1, program, point, wrt=["w", "x"])
        assert_same_evaluations(one, on_threads(3, program, point, wrt=["w", "x"]))
    # programs whose reductions one pass can give (2 seeds in 3) ran on the compiled slices
    assert all((code is False) == (seed % 2 == 0 and seed % 3 == 0)
               for code in compiled(program))


@pytest.mark.parametrize("seed", range(6))
def test_random_programs_of_every_function_give_the_same_bits(seed, small_slices):
    program = slpdiff.parse(random_program(40, n_outputs=2, seed=seed))
    rows = np.random.default_rng(seed).uniform(0.1, 0.9, (3, 4000))
    point = {"x": rows[0], "y": rows[1], "z": 0.375}
    alone = on_threads(1, program, point)
    for count in COUNTS[1:]:
        assert_same_evaluations(alone, on_threads(count, program, point))


def test_the_fit_gives_the_same_bits_at_its_real_size():
    fit = slpdiff.parse("input a, b, c, t, y\nr = a * exp(-b * t) + c - y\n"
                        "loss = mean(r^2)\noutput loss\n")
    t = np.linspace(0.0, 4.0, 1_000_003)
    point = {"a": 1.5, "b": 0.75, "c": 0.25, "t": t, "y": 2.0 * np.exp(-1.3 * t) + 0.5}
    alone = on_threads(1, fit, point)
    assert same_bits(alone.values["loss"], np.mean((1.5 * np.exp(-0.75 * t) + 0.25
                                                    - point["y"]) ** 2))
    for count in COUNTS[1:]:
        assert_same_evaluations(alone, on_threads(count, fit, point))


def test_slices_run_on_more_than_one_thread(small_slices):
    program = slpdiff.parse(column_program(1, tail=False))
    point = {v: np.linspace(-1, 1, 20_000) for v in "xyz"} | {"w": 0.5}
    seen: set[int] = set()

    def note(lo):
        seen.add(threading.get_ident())
        time.sleep(0.001)  # lets go of the GIL: a thread that is there takes the next slice

    slices.observe_slice = note
    try:
        on_threads(1, program, point)
        assert seen == {threading.get_ident()}
        seen.clear()
        on_threads(2, program, point)
        assert len(seen) == 2
        seen.clear()
        on_threads(3, program, point)
        assert len(seen) == 3
    finally:
        slices.observe_slice = None


def test_the_pool_is_made_once_and_only_when_asked_for(small_slices):
    program = slpdiff.parse("input x, w\ny = sin(x) * w\noutput y\n")
    x = np.linspace(0, 1, 5000)
    threads._forget_pool()
    on_threads(1, program, {"x": x, "w": 2.0})
    assert threads._pool is None
    on_threads(2, program, {"x": x, "w": 2.0})
    made = threads._pool
    on_threads(2, program, {"x": x, "w": 3.0})
    assert threads._pool is made and made is not None


def test_a_non_finite_slice_goes_to_the_engine_as_with_one_thread(small_slices):
    program = slpdiff.parse("input x, w\nu = exp(x * w)\nv = log(u - 1)\noutput v\n")
    x = np.linspace(0.5, 2.0, 6000)
    x[4321] = -1.0  # log of a negative number, in one slice among many
    alone = on_threads(1, program, {"x": x, "w": 1.0})
    assert alone.warnings and alone.warnings[0].kind == "value"
    for count in COUNTS[1:]:
        assert_same_evaluations(alone, on_threads(count, program, {"x": x, "w": 1.0}))
    x[4321] = np.inf  # an input
    alone = on_threads(1, program, {"x": x, "w": 1.0})
    assert_same_evaluations(alone, on_threads(7, program, {"x": x, "w": 1.0}))


def test_an_error_in_another_thread_reaches_the_caller(small_slices):
    program = slpdiff.parse("input x, w\ny = sin(x) * w\noutput y\n")
    x = np.linspace(0, 1, 5000)
    main = threading.get_ident()

    def fail_elsewhere(lo):
        if threading.get_ident() != main:
            raise RuntimeError("a slice failed")
        time.sleep(0.001)

    slices.observe_slice = fail_elsewhere
    try:
        with pytest.raises(RuntimeError, match="a slice failed"):
            on_threads(2, program, {"x": x, "w": 2.0})
    finally:
        slices.observe_slice = None
    # and the program's buffers are free again: the next evaluation is right
    assert same_bits(on_threads(2, program, {"x": x, "w": 2.0}).values["y"], np.sin(x) * 2.0)


def test_the_default_is_the_cores_then_the_environment_then_the_setting(monkeypatch):
    assert threads.get_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("SLPDIFF_THREADS", "3")
    assert threads.get_threads() == 3
    assert threads.set_threads(5) is None
    assert threads.get_threads() == 5 and slpdiff.get_threads() == 5
    assert slpdiff.set_threads(None) == 5
    assert threads.get_threads() == 3


@pytest.mark.parametrize("bad", ["0", "-1", "1.5", "two", "1e3"])
def test_bad_numbers_of_threads_are_usage_errors(bad, monkeypatch, tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,w\n1,2\n")
    result = invoke("eval", "examples/seed.slp", "--points", points, "--threads", bad)
    assert exit_status(result) == 2 and "--threads" in result.stderr
    assert f"'{bad}'" in result.stderr and "Traceback" not in result.stderr
    monkeypatch.setenv("SLPDIFF_THREADS", bad)
    result = invoke("optimize", "examples/seed.slp", "--at", "x=1,w=2", "--steps", "1")
    assert exit_status(result) == 2 and "SLPDIFF_THREADS" in result.stderr
    with pytest.raises(SlpError, match="SLPDIFF_THREADS"):  # the library, and other commands
        threads.get_threads()
    with pytest.raises((ValueError, TypeError)):
        slpdiff.set_threads(int(bad) if bad.lstrip("-").isdigit() else bad)


def test_set_threads_takes_whole_numbers_only():
    for bad in [0, -2, 1.0, True, "2"]:
        with pytest.raises((ValueError, TypeError)):
            slpdiff.set_threads(bad)


def test_a_command_in_process_restores_the_setting(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x,w\n1,2\n3,4\n")
    threads.set_threads(1)
    result = invoke("eval", "examples/seed.slp", "--points", points, "--threads", "3")
    assert result.exit_code == 0, result.stderr
    assert threads.get_threads() == 1


def test_the_installed_command_prints_the_same_bytes_on_any_number_of_threads(tmp_path,
                                                                               monkeypatch):
    rng = np.random.default_rng(3)
    rows = rng.uniform(-1, 1, (2, 70_000))  # a chunk of 65,536 rows: several slices
    points = tmp_path / "points.csv"
    points.write_text("x,w\n" + "".join(f"{a!r},{b!r}\n" for a, b in rows.T.tolist()))
    outputs = {}
    for count in (1, 2, 7):
        done = run_slpdiff("eval", "examples/seed.slp", "--points", points, "--threads", count)
        assert done.returncode == 0, done.stderr
        outputs[count] = done.stdout
    monkeypatch.setenv("SLPDIFF_THREADS", "2")
    done = run_slpdiff("eval", "examples/seed.slp", "--points", points)
    assert done.returncode == 0, done.stderr
    outputs["environment"] = done.stdout
    assert len(set(outputs.values())) == 1
    assert len(outputs[1].splitlines()) == 70_001


def test_optimize_on_data_gives_the_same_steps_on_any_number_of_threads(tmp_path):
    program = tmp_path / "fit.slp"
    program.write_text("input a, b, c, t, y\nr = a * exp(-b * t) + c - y\nloss = mean(r^2)\n"
                       "output loss\n")
    t = np.linspace(0.0, 4.0, 100_000)
    data = tmp_path / "data.csv"
    data.write_text("t,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in
                                      zip(t.tolist(), (2.0 * np.exp(-1.3 * t) + 0.5).tolist(),
                                          strict=True)))
    runs = [run_slpdiff("optimize", program, "--at", "a=1,b=1,c=0", "--wrt", "a,b,c",
                        "--data", data, "--steps", 20, "--lr", 0.5, "--format", "json",
                        "--threads", count) for count in (1, 2, 7)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert len({r.stdout for r in runs}) == 1


def test_ctrl_c_stops_a_run_on_threads(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(
        "import numpy as np, slpdiff\n"
        "slpdiff.set_threads(2)\n"
        "p = slpdiff.parse('input x, w\\ny = exp(sin(x * w)) * w\\noutput y\\n')\n"
        "x = np.linspace(0, 1, 2_000_000)\n"
        "slpdiff.evaluate(p, {'x': x, 'w': 2.0})\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    slpdiff.evaluate(p, {'x': x, 'w': 2.0})\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err


def test_the_pool_does_not_keep_a_process_alive(tmp_path):
    code = ("import numpy as np, slpdiff\nslpdiff.set_threads(4)\n"
            "p = slpdiff.parse('input x\\ny = sin(x)\\noutput y\\n')\n"
            "e = slpdiff.evaluate(p, {'x': np.linspace(0, 1, 300_000)})\n"
            "print(float(e.values['y'][-1]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == float(np.sin(1.0))
