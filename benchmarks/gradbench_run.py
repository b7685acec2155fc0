"""Run one of GradBench's evals against one or more tools, in lockstep: a stand-in for
``gradbench run --eval CMD --tool CMD -o LOG`` where GradBench's Rust command line cannot be
built (no crates.io) or Docker is not there. See docs/gradbench.md.

Each tool gets its own copy of the eval (a process of the eval's script), and the copies advance
one message at a time in turn: tool A answers message 7, then tool B answers its message 7, ...
Every eval sends the same messages in the same order (their inputs come from fixed seeds), so the
tools' timings of each workload are taken minutes apart at most, under the same load: that is
what makes ratios between them meaningful on a shared, noisy machine.

    cd GRADBENCH_CHECKOUT      # the evals read evals/<eval>/data and run tools/manual/bin/...
    export PYTHONPATH=python/gradbench
    python .../benchmarks/gradbench_run.py --logs runs/ --timeout 1800 \\
        --eval "python3 python/gradbench/gradbench/evals/llsq/run.py" \\
        --tool "slpdiff=slpdiff gradbench --stats runs/llsq-slpdiff.stats.jsonl" \\
        --tool "jax=python3 python/gradbench/gradbench/tools/jax/run.py"

Per tool it writes ``LOGS/EVAL-TOOL.jsonl`` in GradBench's log format (one line per message and
per response, each with its elapsed time), which ``gradbench_table.py`` and GradBench's own
``gradbench stats`` read, and ``LOGS/EVAL-TOOL.load.jsonl``: the machine's load average when each
response came. It prints one line per message, GradBench's way, and per tool its outcome, peak
memory and CPU time. Exit status: 0 if every tool's outcome is success, else 1.

Checks made on every response, as GradBench's intermediary makes them: one line of strict JSON
(no NaN or Infinity), the message's id, and for an evaluate ``output`` exactly when ``success``.
Every tool and eval runs with one thread for BLAS, OpenMP and XLA (``OMP_NUM_THREADS=1``, ...),
GradBench's default of single-threaded tools.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shlex
import subprocess
import sys
import time

OUTCOMES = ("success", "timeout", "invalid", "failure", "undefined", "error")
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


class Lines:
    """Lines from a pipe, with a timeout (a buffered file's readline cannot have one)."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.buffer = b""

    def readline(self, timeout: float | None = None) -> str | None:
        """The next line; '' at the end of the stream; None if ``timeout`` seconds passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line.decode()
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode() + "\n"


def duration(ns: float) -> str:
    if ns < 1e6:
        return f"{ns / 1e3:.1f}us"
    if ns < 1e9:
        return f"{ns / 1e6:.1f}ms"
    return f"{ns / 1e9:.3f}s"


def timings_text(timings: list[dict]) -> str:
    """Mean per timing name, as GradBench prints them."""
    totals: dict[str, list[int]] = {}
    for t in timings:
        entry = totals.setdefault(t["name"], [0, 0])
        entry[0] += 1
        entry[1] += t["nanoseconds"]
    return ", ".join(f"{duration(ns / count)} {name}" + (f" x {count}" if count > 1 else "")
                     for name, (count, ns) in totals.items())


class Lane:
    """One tool with its own copy of the eval."""

    def __init__(self, name: str, eval_command: str, tool_command: str, logs: str,
                 eval_name: str, timeout: float | None):
        self.name, self.timeout = name, timeout
        env = os.environ | SINGLE_THREAD
        self.eval = subprocess.Popen(shlex.split(eval_command), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.tool = subprocess.Popen(shlex.split(tool_command), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.from_eval, self.from_tool = Lines(self.eval.stdout), Lines(self.tool.stdout)
        self.log = open(os.path.join(logs, f"{eval_name}-{name}.jsonl"), "w")
        self.load = open(os.path.join(logs, f"{eval_name}-{name}.load.jsonl"), "w")
        self.start = time.perf_counter_ns()
        self.counts = dict.fromkeys(("undefined", "failure", "invalid"), 0)
        self.outcome: str | None = None
        self.pending: dict = {}  # evaluate id -> its line, printed when its analysis comes
        self.done = False

    def say(self, text: str) -> None:
        print(f"{self.name:>8} {text}", flush=True)

    def step(self) -> None:
        """Pass one message of the eval to the tool and its response back."""
        line = self.from_eval.readline()
        if not line:
            self.finish()
            return
        message = json.loads(line)
        sent = time.perf_counter_ns()
        self.log.write(json.dumps({"elapsed": {"nanoseconds": sent - self.start},
                                   "message": message}) + "\n")
        self.tool.stdin.write(line.encode() if line.endswith("\n") else (line + "\n").encode())
        self.tool.stdin.flush()
        reply = self.from_tool.readline(self.timeout)
        came = time.perf_counter_ns()
        if reply is None:
            self.say(f"[{message.get('id')}] no response within {self.timeout} s: timeout")
            self.finish("timeout")
            return
        response = self.check(message, reply)
        if response is None:
            self.finish("error")
            return
        self.log.write(json.dumps({"elapsed": {"nanoseconds": came - self.start},
                                   "response": response}) + "\n")
        self.log.flush()
        if message.get("kind") == "evaluate":
            self.load.write(json.dumps({"id": message["id"], "loadavg": os.getloadavg()[0]}) +
                            "\n")
            self.load.flush()
        self.show(message, response, came - sent)
        self.eval.stdin.write(reply.encode())
        self.eval.stdin.flush()

    def check(self, message: dict, reply: str) -> dict | None:
        try:
            response = json.loads(reply, parse_constant=_no_constants)
        except ValueError as e:
            self.say(f"[{message.get('id')}] not strict JSON from the tool ({e}): {reply[:300]!r}")
            return None
        if not isinstance(response, dict) or response.get("id") != message.get("id"):
            self.say(f"[{message.get('id')}] the response's id is not the message's: "
                     f"{reply[:300]!r}")
            return None
        if message.get("kind") == "evaluate" and bool(response.get("success")) != \
                ("output" in response):
            self.say(f"[{message['id']}] success and output do not go together: {reply[:300]!r}")
            return None
        return response

    def show(self, message: dict, response: dict, took: int) -> None:
        kind, key = message.get("kind"), message.get("id")
        timings = timings_text(response.get("timings") or [])
        if kind == "start":
            self.say(f"[{key}] start {message.get('eval', '')} ({response.get('tool', '')})")
        elif kind == "define":
            ok = response.get("success")
            self.counts["undefined"] += not ok
            self.say(f"[{key}] def   {message.get('module')} {duration(took)} "
                     f"{'OK' if ok else 'X ' + str(response.get('error'))[:300]}")
        elif kind == "evaluate":
            head = (f"[{key}] eval  {message['module']}::{message['function']:<10} "
                    f"{str(message.get('description'))[:24]:<24} {duration(took):>10} "
                    f"~ {timings} (load {os.getloadavg()[0]:.1f})")
            if response.get("success"):
                self.pending[key] = head
            else:
                self.counts["failure"] += 1
                self.say(head + " X " + str(response.get("error"))[:500])
        elif kind == "analysis":
            valid = message.get("valid")
            self.counts["invalid"] += not valid
            head = self.pending.pop(message.get("of"), f"[{message.get('of')}]")
            self.say(head + (" OK" if valid else " INVALID " + str(message.get("error"))[:500]))

    def finish(self, outcome: str | None = None) -> None:
        self.done = True
        for head in self.pending.values():
            self.say(head + " (not analysed)")
        for stream in (self.eval.stdin, self.tool.stdin):
            try:
                stream.close()
            except OSError:
                pass
        if outcome in ("timeout", "error"):
            self.tool.kill()
            self.eval.kill()
        try:
            self.eval.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.eval.kill()
        _, status, usage = os.wait4(self.tool.pid, 0)
        if outcome is None and self.eval.returncode:
            outcome = "error"
        if outcome is None:
            outcome = next((k for k in ("undefined", "failure", "invalid") if self.counts[k]),
                           "success")
        self.outcome = outcome
        self.log.close()
        self.load.close()
        self.say(f"outcome {outcome}; tool peak RSS {usage.ru_maxrss / 1024:.0f} MiB, "
                 f"CPU {usage.ru_utime + usage.ru_stime:.1f} s")


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", required=True, help="the eval's command (shell words)")
    parser.add_argument("--tool", action="append", required=True, metavar="NAME=COMMAND",
                        help="a tool: its name and command (repeat for several tools)")
    parser.add_argument("--logs", default=".", help="directory for the logs")
    parser.add_argument("--name", help="the eval's name in log file names (default: the "
                                       "directory of the eval's script)")
    parser.add_argument("--timeout", type=float, help="seconds to wait for each response")
    args = parser.parse_args()
    os.makedirs(args.logs, exist_ok=True)
    eval_name = args.name or next((os.path.basename(os.path.dirname(w))
                                   for w in shlex.split(args.eval) if w.endswith("run.py")),
                                  "eval")
    lanes = []
    for spec in args.tool:
        name, _, command = spec.partition("=")
        lanes.append(Lane(name, args.eval, command, args.logs, eval_name, args.timeout))
    turn = 0
    while not all(lane.done for lane in lanes):
        for lane in lanes[turn:] + lanes[:turn]:  # who goes first changes every round
            if not lane.done:
                lane.step()
        turn = (turn + 1) % len(lanes)
    print(" ".join(f"{lane.name}: {lane.outcome}" for lane in lanes), flush=True)
    return 0 if all(lane.outcome == "success" for lane in lanes) else 1


if __name__ == "__main__":
    sys.exit(main())
