"""``slpdiff optimize`` as a user runs it: methods, the final result, bad options, --save, a
missing SciPy, Ctrl-C sent to a real process, and the progress bar on a real terminal."""

from __future__ import annotations

import json
import math
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

import slpdiff
from helpers import EXAMPLES, SLPDIFF, run_slpdiff

SEED = str(EXAMPLES / "seed.slp")
ROSENBROCK = str(EXAMPLES / "rosenbrock.slp")
QUADRATIC = "f = (x - 3)^2 + 10 * (y + 1)^2"
FINAL_KEYS = ["status", "steps", "method", "message", "nfev", "ngev", "nhev", "at", "value",
              "gradient"]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("method", ["gd", "momentum", "nesterov", "adam", "lbfgs", "bfgs",
                                    "newton-cg", "trust-ncg"])
def test_every_method_prints_the_same_trace_and_final_object(method):
    lr = ["--lr", "0.05"] if method in ("gd", "adam") else []
    proc = run_slpdiff("optimize", "-", "--at", "x=0,y=0", "--method", method, "--steps", "4000",
                       "--tol", "1e-8", *lr, "--format", "json", input=QUADRATIC)
    assert proc.returncode == 0, proc.stderr
    *steps, final = json_lines(proc.stdout)
    assert [s["step"] for s in steps] == list(range(len(steps)))
    assert all(list(s) == ["step", "at", "value", "gradient"] for s in steps)
    assert list(final) == FINAL_KEYS
    assert final["method"] == method and final["status"] == "converged"
    assert final["steps"] == len(steps) and final["nfev"] == final["ngev"] >= len(steps) + 1
    assert (final["nhev"] > 0) == (method in ("newton-cg", "trust-ncg"))
    assert "gradient norm" in final["message"]
    assert final["at"]["x"] == pytest.approx(3.0, abs=1e-8)
    again = slpdiff.evaluate(slpdiff.parse(QUADRATIC), final["at"])
    assert final["value"]["f"] == float(again.values["f"])


def test_text_output_ends_with_status_final_point_and_counts():
    proc = run_slpdiff("optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--method", "lbfgs")
    assert proc.returncode == 0, proc.stderr
    *steps, stopped, final, summary = proc.stdout.splitlines()
    assert all(line.startswith(f"step {k}: x = ") for k, line in enumerate(steps))
    assert stopped == f"stopped: converged after {len(steps)} steps"
    assert final.startswith("final: x = 0.99999999999")
    message, counts = summary.removesuffix(" gradient evaluations)").split(" (")
    nfev, ngev = counts.split(" value and ")
    assert message.startswith("lbfgs: gradient norm ") and message.endswith(" <= tol 1e-10")
    assert nfev == ngev and int(nfev) > len(steps)


def test_text_output_of_a_newton_method_counts_hessian_vector_products():
    proc = run_slpdiff("optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--method", "trust-ncg",
                       "--every", "1000")
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout.splitlines()[-1]
    assert summary.startswith("trust-ncg: gradient norm ")
    assert summary.endswith(" gradient evaluations, 54 Hessian-vector products)")  # 27 x (2 x 2)


def test_maximize_and_bounds_from_the_command_line():
    proc = run_slpdiff("optimize", "-", "--at", "x=0,y=0", "--maximize", "--method", "lbfgs",
                       "--bounds", "x=-1:0.5", "--bounds", "y=:", "--format", "json",
                       input="g = 5 - (x - 1)^2 - (y - 2)^2")
    assert proc.returncode == 0, proc.stderr
    final = json_lines(proc.stdout)[-1]
    assert final["status"] == "converged" and final["at"]["x"] == 0.5
    assert final["at"]["y"] == pytest.approx(2.0) and final["value"]["g"] == pytest.approx(4.75)


def test_a_start_outside_the_bounds_warns_and_is_moved():
    proc = run_slpdiff("optimize", "-", "--at", "x=9,y=0", "--bounds", "x=0:5", "--steps", "1",
                       "--lr", "0.01", "--format", "json", input=QUADRATIC)
    assert proc.returncode == 0
    assert "x = 9.0 is outside --bounds 0.0:5.0; starting from x = 5.0" in proc.stderr
    assert json_lines(proc.stdout)[0]["at"]["x"] == 5.0


def test_divergence_of_a_scipy_method_exits_1_without_the_lr_hint():
    proc = run_slpdiff("optimize", "-", "--at", "x=50", "--method", "lbfgs", "--format", "json",
                       input="f = log(x) + 0.01 * x")
    assert proc.returncode == 1
    final = json_lines(proc.stdout)[-1]
    assert final["status"] == "diverged" and final["at"]["x"] > 0
    assert "slpdiff: error: diverged at step" in proc.stderr and "--lr" not in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--method", "lbfgs", "--lr", "0.1"], "lr does not apply to lbfgs"),
    (["--method", "gd", "--beta1", "0.5"], "beta1 does not apply to gd"),
    (["--method", "bfgs", "--bounds", "x=0:1"], "bfgs does not take bounds"),
    (["--bounds", "x=2:1"], "not an interval"),
    (["--bounds", "z=0:1"], "a bound for 'z'"),
    (["--bounds", "x=0"], "'x=0' is not NAME=LOW:HIGH"),
    (["--bounds", "x=a:1"], "x: 'a' is not a number"),
    (["--bounds", "x=0:1", "--bounds", "x=0:2"], "'x' is given twice"),
    (["--method", "newton"], "'newton' is not one of"),
    (["--momentum", "1"], "--momentum"),
    (["--lr", "0"], "--lr"),
    (["--ftol", "-1"], "--ftol"),
    (["--save", "/no/such/dir/p.json"], "no such directory"),
])
def test_bad_options_exit_2_with_one_message(args, message):
    proc = run_slpdiff("optimize", "-", "--at", "x=0,y=0", *args, input=QUADRATIC)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and proc.stdout == "" and "Traceback" not in proc.stderr


def test_save_writes_every_input_of_the_final_point_atomically(tmp_path):
    target = tmp_path / "w.json"
    target.write_text("old")
    target.chmod(0o640)
    proc = run_slpdiff("optimize", SEED, "--at", "x=1,w=4", "--wrt", "w", "--steps", "30",
                       "--save", target, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(target.read_text())
    assert saved == json_lines(proc.stdout)[-1]["at"] and list(saved) == ["x", "w"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the replaced file's permissions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.json"]  # no temporary file left
    again = run_slpdiff("eval", SEED, "--at", f"@{target}", "--format", "json")
    assert json.loads(again.stdout)["value"] == json_lines(proc.stdout)[-1]["value"]


def test_save_then_continue_with_at_file(tmp_path):
    target = tmp_path / "p.json"
    first = run_slpdiff("optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--lr", "1e-3", "--steps",
                        "50", "--save", target, "--format", "json")
    assert first.returncode == 0, first.stderr
    more = run_slpdiff("optimize", ROSENBROCK, "--at", f"@{target}", "--method", "lbfgs",
                       "--format", "json")
    assert more.returncode == 0, more.stderr
    *steps, final = json_lines(more.stdout)
    assert steps[0]["at"] == json_lines(first.stdout)[-1]["at"] == json.loads(target.read_text())
    assert final["status"] == "converged" and final["value"]["f"] < 1e-20


def test_save_with_data_writes_the_parameters_only(tmp_path):
    target = tmp_path / "fit.json"
    proc = run_slpdiff("optimize", EXAMPLES / "decay.slp", "--data", EXAMPLES / "decay.csv",
                       "--at", "a=1,b=1,c=0", "--method", "lbfgs", "--save", target)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(target.read_text())
    assert list(saved) == ["a", "b", "c"]
    assert saved == pytest.approx({"a": 2.5, "b": 1.3, "c": 0.5}, abs=1e-8)


def test_save_on_divergence_keeps_the_last_finite_point(tmp_path):
    target = tmp_path / "p.json"
    proc = run_slpdiff("optimize", "-", "--at", "x=3", "--lr", "10", "--save", target,
                       input="f = x^4")
    assert proc.returncode == 1
    saved = json.loads(target.read_text())
    assert math.isfinite(saved["x"]) and f"final: x = {saved['x']!r}," in proc.stdout


def test_without_scipy_a_scipy_method_says_what_to_install(tmp_path):
    # A `scipy` package that cannot be imported stands in for a missing SciPy.
    (tmp_path / "scipy").mkdir()
    (tmp_path / "scipy" / "__init__.py").write_text("raise ImportError('no scipy here')\n")
    # before any PYTHONPATH given (benchmarks/mutations.py points it at a copy of slpdiff)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([SLPDIFF, "optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--method",
                           "lbfgs"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("slpdiff: error: the methods lbfgs, bfgs, newton-cg, trust-ncg need "
                           "SciPy, which is not installed: pip install 'slpdiff[scipy]'\n")
    gd = subprocess.run([SLPDIFF, "optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--lr", "1e-3"],
                        capture_output=True, text=True, env=env)
    assert gd.returncode == 0, gd.stderr


def test_the_first_order_methods_do_not_import_scipy():
    code = ("import sys; from slpdiff.cli import main; sys.argv = ['slpdiff', 'optimize', "
            f"{ROSENBROCK!r}, '--at', 'x=-1.2,y=1', '--method', 'adam']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('scipy' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stderr.strip() == "False"


# --- Ctrl-C ---------------------------------------------------------------------------------------

def slow_rosenbrock(tmp_path, statements: int = 20000) -> str:
    """Rosenbrock's function plus a chain of sin(0) that costs time but changes nothing, so that a
    run lasts seconds."""
    lines = ["input x, y", "r = (1 - x)^2 + 100 * (y - x^2)^2", "c0 = x - x"]
    lines += [f"c{i} = sin(c{i - 1})" for i in range(1, statements + 1)]
    lines += [f"f = r + c{statements}", "output f"]
    path = tmp_path / "slow.slp"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def interrupt_after(args, lines: int) -> tuple[int, list[str], str]:
    """Start slpdiff, wait until it has printed ``lines`` lines, send it SIGINT (as Ctrl-C does),
    and return its exit status, every line of its output, and its stderr."""
    proc = subprocess.Popen([SLPDIFF, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(120, proc.kill)  # a run that ignores the signal fails, not hangs
    watchdog.start()
    try:
        head = [proc.stdout.readline() for _ in range(lines)]
        assert all(line.endswith("\n") for line in head), "the run ended before the signal"
        proc.send_signal(signal.SIGINT)
        # read on through the same buffered stream: communicate() would skip what it holds
        rest, err = proc.stdout.read(), proc.stderr.read()
        proc.wait()
    finally:
        watchdog.cancel()
    return proc.returncode, "".join(head + [rest]).splitlines(), err


@pytest.mark.parametrize("method, extra", [("gd", ["--lr", "1e-5"]), ("adam", [])])
def test_ctrl_c_prints_the_best_point_as_a_last_json_object_and_exits_130(method, extra):
    code, lines, err = interrupt_after(["optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--method",
                                        method, "--steps", "10000000", *extra, "--format", "json"],
                                       lines=20)
    assert code == 130, err
    *steps, final = [json.loads(line) for line in lines]  # every line is whole, valid JSON
    assert len(steps) >= 20 and [s["step"] for s in steps] == list(range(len(steps)))
    assert final["status"] == "interrupted" and final["steps"] == len(steps) - 1
    assert final["value"]["f"] == min(s["value"]["f"] for s in steps)
    assert err == (f"slpdiff: error: interrupted after {final['steps']} steps; the final point "
                   "shown is the best one evaluated\n")


def test_ctrl_c_stops_a_scipy_method_too(tmp_path):
    program = slow_rosenbrock(tmp_path)
    code, lines, err = interrupt_after(["optimize", program, "--at", "x=-1.2,y=1", "--method",
                                        "lbfgs", "--format", "json"], lines=2)
    assert code == 130, err
    *steps, final = [json.loads(line) for line in lines]
    assert final["status"] == "interrupted" and final["method"] == "lbfgs"
    assert 2 <= len(steps) < 30 and final["value"]["f"] <= steps[-1]["value"]["f"]
    assert final["nfev"] < 40 and "Traceback" not in err


def test_ctrl_c_in_text_format(tmp_path):
    code, lines, err = interrupt_after(["optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--lr",
                                        "1e-5", "--steps", "10000000"], lines=5)
    assert code == 130
    assert lines[-3].startswith("stopped: interrupted after ")
    assert lines[-2].startswith("final: x = ") and lines[-1].startswith("gd: interrupted (SIGINT)")
    assert all(line.startswith("step ") for line in lines[:-3])


# --- the progress bar -----------------------------------------------------------------------------

def run_with_terminal_stderr(args) -> tuple[int, str, str]:
    """Run slpdiff with stderr on a pseudo-terminal: its status, stdout, what the terminal got."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([SLPDIFF, *map(str, args)], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks, out = [], []
    while True:
        ready, _, _ = select.select([master, proc.stdout], [], [], 60)
        if not ready:
            break
        if master in ready:
            try:
                chunks.append(os.read(master, 65536))
            except OSError:  # the terminal closed with the process
                ready.remove(master)
        if proc.stdout in ready:
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            out.append(data)
    proc.wait(timeout=60)
    time.sleep(0.05)
    try:
        while select.select([master], [], [], 0)[0]:
            chunks.append(os.read(master, 65536))
    except OSError:
        pass
    os.close(master)
    return proc.returncode, b"".join(out).decode(), b"".join(chunks).decode()


@pytest.mark.slow
def test_a_long_run_shows_progress_on_a_terminal_and_erases_it():
    code, out, terminal = run_with_terminal_stderr(
        ["optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--lr", "1e-4", "--steps", "40000",
         "--every", "10000"])
    assert code == 0
    assert "slpdiff optimize: step " in terminal and "/40000 [" in terminal and "|g| " in terminal
    assert terminal.endswith("\r\x1b[K")  # erased at the end
    assert "\r" not in out and "\x1b" not in out and out.count("\n") == 8


def test_no_progress_when_stderr_is_not_a_terminal():
    # about a second of steps: longer than the progress line's delay (0.5 s)
    proc = run_slpdiff("optimize", ROSENBROCK, "--at", "x=-1.2,y=1", "--lr", "1e-4", "--steps",
                       "12000", "--every", "12000")
    assert proc.returncode == 0 and proc.stderr == ""
