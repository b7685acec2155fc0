"""Planted bugs: does the test suite catch each of them?

Run: python benchmarks/mutations.py [--full] [--only TEXT ...] [--list] [--baseline]

Each planted bug (a *mutant*) replaces one exact piece of text of one file by another. The script
copies the repository to a temporary directory once, then for each mutant in turn writes the bug
into the copy, runs the tests most relevant to it with ``-x`` (``--full``: the whole suite), puts
the file back, and prints a table: the bug, whether a test failed (caught), the first test that
failed, and the seconds taken. A catch counts only if that test then passes without the bug (a
test that fails either way, flaky on a loaded machine, catches nothing). The exit status is 1
when any bug survived, 2 when the list itself is stale (a mutant's text is not found exactly
once) or (``--baseline``) the unchanged copy fails its tests.

Nothing is installed: the tests run with ``PYTHONPATH`` set to the copy's ``src``, so both the
tests' own imports and the ``slpdiff`` console script they start in subprocesses (a script that
imports ``slpdiff``, and inherits the environment) load the copy. Two checks make sure of it:
before any mutant, the copy's modules must be the ones imported; and the first mutant (``sanity:
console script``) breaks only the console script's entry point and must be caught by a test that
runs the command in a subprocess.

It takes minutes per mutant on a loaded 2-core machine, so it is not part of the test suite
(docs/reliability.md, "Planted bugs", has the last result). A new mechanism gets a mutant here and
a test that catches it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORED = shutil.ignore_patterns(".git", "__pycache__", ".hypothesis", ".pytest_cache",
                                 ".ruff_cache", "*.egg-info", "build", "dist")


@dataclass(frozen=True)
class Mutant:
    """One planted bug: ``old`` (found exactly once in ``path``) becomes ``new``; ``tests`` are
    the pytest arguments (files, ``-k`` expressions) most likely to catch it."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


PRIMS = "src/slpdiff/language/primitives.py"
RULE_TESTS = ("tests/test_primitives.py",)
FAST_TESTS = ("tests/test_fast_path.py",)
# Without the cases of det (ell = 10) and ode too big for MAX_STATEMENTS: on main at 53682c6
# they are not (issue 14 raised the limits), and det's runs for minutes before failing. (Also
# on main at 5597a86.)
GRADBENCH_TESTS = ("tests/test_gradbench.py", "-k", "not MAX_STATEMENTS and not too_big")
SCALE_OUT_TESTS = ("tests/test_scale_out.py", "-k", "partition or reductions or sums")

MUTANTS = [
    # Breaks only the console script: proves the subprocess tests run the copy.
    Mutant("sanity: console script", "src/slpdiff/cli/main.py",
           "    code = _command_line()", "    code = 3",
           ("tests/test_cli.py", "-k", "test_eval_text_in_process_and_installed")),
    # --- derivative rules -------------------------------------------------------------------
    Mutant("rule: cos' = sin", PRIMS, '"-sin(a)", doc="cosine"', '"sin(a)", doc="cosine"',
           RULE_TESTS),
    Mutant("rule: acos' sign", PRIMS, '"-1 / sqrt(1 - a^2)", doc="inverse cosine"',
           '"1 / sqrt(1 - a^2)", doc="inverse cosine"', RULE_TESTS),
    Mutant("rule: powlog' in a (second order only)", PRIMS,
           '"a^(b - 1) * (1 + b * log(a))"', '"a^(b - 1) * (b + log(a))"',
           (*RULE_TESTS, "tests/test_second_order.py")),
    Mutant("rule: mean' = 1", PRIMS, '"1 / count(a)", reduces=True', '"1", reduces=True',
           RULE_TESTS),
    Mutant("rule: quotient as -a/b^2 (same maths, other bits)", PRIMS,
           '"1 / b", "-(a / b) / b"', '"1 / b", "-a / b^2"',
           ("tests/test_book.py", *RULE_TESTS)),
    # --- conventions at ties and kinks --------------------------------------------------------
    Mutant("tie: maxrows gives 1 to every tied row", PRIMS,
           '"equal(a, maxrows(a)) / sum(equal(a, maxrows(a)))"', '"equal(a, maxrows(a))"',
           ("tests/test_extrema.py",)),
    Mutant("slices: maxrows' slices combined as a sum", "src/slpdiff/fast/slices.py",
           'part = "_sum" if op.block is None else self._fn(op.block)', 'part = "_sum"',
           ("tests/test_fast_path.py", "-k", "maxrows")),
    Mutant("tie: max gives 1 to a on a tie", PRIMS,
           '"(1 + sign(a - b)) / 2", "(1 - sign(a - b)) / 2",\n        doc="the larger',
           '"step(a - b)", "1 - step(a - b)",\n        doc="the larger', RULE_TESTS),
    Mutant("tie: relu'(0) = 1", PRIMS, "np.heaviside(a, 0.0)", "np.heaviside(a, 1.0)",
           RULE_TESTS),
    Mutant("tie: abs'(0) = 1", PRIMS, '"sign(a)", doc="absolute value',
           '"1 - 2 * step(-a)", doc="absolute value', RULE_TESTS),
    # --- overflow-safe functions --------------------------------------------------------------
    Mutant("overflow: naive sigmoid", PRIMS,
           "    e = np.exp(-np.abs(a))\n    return np.where(np.asarray(a) >= 0, 1.0 / (1.0 + e), "
           "e / (1.0 + e))[()]",
           "    return (1.0 / (1.0 + np.exp(-np.asarray(a, dtype=np.float64))))[()]",
           (*RULE_TESTS, "tests/test_numerical_faults.py")),
    Mutant("overflow: naive softplus", PRIMS, "np.logaddexp(0.0, a)", "np.log1p(np.exp(a))",
           (*RULE_TESTS, "tests/test_numerical_faults.py")),
    # --- adjoint accumulation -----------------------------------------------------------------
    Mutant("adjoint: engine overwrites instead of adding", "src/slpdiff/core/engine.py",
           "adjoint[c] = g if first else adjoint[c] + g", "adjoint[c] = g",
           ("tests/test_engine.py", "tests/test_seed.py")),
    Mutant("adjoint: point code overwrites instead of adding", "src/slpdiff/fast/point.py",
           'block.body.append(f"    a{e.c} = {adjoint(e.c)} + {term}")',
           'block.body.append(f"    a{e.c} = {term}")', FAST_TESTS),
    # --- printing and files -------------------------------------------------------------------
    Mutant("print: 15 significant digits", "src/slpdiff/formats.py",
           "    return repr(float(x))", '    return "%.15g" % float(x)',
           ("tests/test_cli.py", "tests/test_printer.py")),
    Mutant("atomic: a failed write replaces the file", "src/slpdiff/rows/atomic.py",
           "        try:\n            os.unlink(temporary)",
           "        try:\n            os.replace(temporary, path)",
           ("tests/test_pipelines.py",)),
    # --- grids --------------------------------------------------------------------------------
    Mutant("grid: decimal range misses its stop", "src/slpdiff/rows/grid.py",
           "count = int((d_stop - d_start) // d_step) + 1",
           "count = int((d_stop - d_start) // d_step)",
           ("tests/test_points.py", "tests/test_pipelines.py")),
    Mutant("grid: other range misses a stop off by rounding", "src/slpdiff/rows/grid.py",
           "count = (round(q) if _lands(q) else math.floor(q)) + 1", "count = math.floor(q) + 1",
           ("tests/test_points.py", "tests/test_pipelines.py")),
    # --- slices of rows -----------------------------------------------------------------------
    Mutant("slices: the last row left out", "src/slpdiff/fast/slices.py",
           "blocks = [(lo, min(n, lo + rows)) for lo in range(0, n, rows)]",
           "blocks = [(lo, min(n - 1, lo + rows)) for lo in range(0, n, rows)]", FAST_TESTS),
    Mutant("slices: all-rows chunks leave out the last row", "src/slpdiff/fast/all_rows.py",
           "hi = min(lo + step, n)", "hi = min(lo + step, n - 1)", FAST_TESTS),
    Mutant("all rows compiled: sum(a * -1) as -sum(a) (a zero sum becomes -0.0)",
           "src/slpdiff/fast/all_rows.py", 'f"0.0 - _add({a.expr}, None)"',
           'f"-_add({a.expr}, None)"', ("tests/test_fast_path.py",)),
    Mutant("all rows compiled: a buffer handed on before its last reader",
           "src/slpdiff/fast/all_rows.py",
           "if last[r] == k and r in held:", "if last[r] >= k - 1 and r in held:", FAST_TESTS),
    Mutant("rules: a repeated step shared by its function alone", "src/slpdiff/language/rules.py",
           'first.setdefault(("op", id(step[1]), step[2]), j)',
           'first.setdefault(("op", id(step[1])), j)', ("tests/test_folding.py",)),
    Mutant("slices: pairwise blocks one row off numpy's", "src/slpdiff/fast/slices.py",
           "        if k <= size:\n            found.append", "        if k < size:\n"
           "            found.append", FAST_TESTS),
    # --- rules at constant arguments (issue 18) -----------------------------------------------
    Mutant("folding: a sum with +0.0 taken for its other operand", "src/slpdiff/language/rules.py",
           '"add": ((0, -0.0), (1, -0.0))', '"add": ((0, 0.0), (1, 0.0))',
           ("tests/test_folding.py",)),
    Mutant("folding: any constant taken for an identity", "src/slpdiff/language/rules.py",
           'if x[0] == "const" and x[1] == value and _sign(x[1]) == _sign(value):',
           'if x[0] == "const":', ("tests/test_folding.py",)),
    Mutant("folding: a term of -1 added in the slices, not subtracted",
           "src/slpdiff/fast/slices.py",
           "adj[e.c] = self._call(np.subtract, [adj[e.c], adj[e.i]], self.pro)",
           "adj[e.c] = self._call(np.add, [adj[e.c], adj[e.i]], self.pro)",
           ("tests/test_folding.py",)),
    # --- precedence ---------------------------------------------------------------------------
    Mutant("precedence: printer drops a - (b - c)'s parentheses",
           "src/slpdiff/language/printer.py",
           "*self.operand(right, self.level(right) <= level))",
           "*self.operand(right, self.level(right) < level))", ("tests/test_printer.py",)),
    Mutant("precedence: grammar reads a - b - c as a - (b - c)", "grammar/slp.lark",
           "| expr MINUS term       -> subtract", "| term MINUS expr       -> subtract",
           ("tests/test_grammar.py",)),
    # --- check --------------------------------------------------------------------------------
    Mutant("check: tolerance 1000 times rtol", "src/slpdiff/check.py",
           "entry.tolerance = rtol + entry.allowance", "entry.tolerance = rtol * 1000 + "
           "entry.allowance", ("tests/test_check.py",)),
    Mutant("check: Richardson treats central differences as first order",
           "src/slpdiff/differences.py", "order = 2  # the error of a central difference",
           "order = 1  # the error of a central difference",
           ("tests/test_check.py", "tests/test_check_hard_points.py")),
    # --- optimizers ---------------------------------------------------------------------------
    Mutant("descent: gradient ascent", "src/slpdiff/optimize/descent.py",
           "        return x - lr * g\n", "        return x + lr * g\n",
           ("tests/test_optimize.py",)),
    # --- the seed's Var API -------------------------------------------------------------------
    Mutant("seed API: forward resets inputs' deriv only", "src/slpdiff/var.py",
           "                node.value = value\n            node.deriv = 0.0",
           "                node.value = value\n            if node.op is None:\n"
           "                node.deriv = 0.0", ("tests/test_seed.py", "tests/test_engine.py")),
    Mutant("seed API: backward keeps stale deriv where no adjoint reaches", "src/slpdiff/var.py",
           "node.deriv = 0.0 if adjoint is None else adjoint",
           "node.deriv = node.deriv if adjoint is None else adjoint",
           ("tests/test_seed.py", "tests/test_engine.py")),
    # --- kinks --------------------------------------------------------------------------------
    Mutant("kinks: warn for kinks no chosen derivative goes through",
           "src/slpdiff/core/kinks.py", "return [i for i in kinked if reach[i] and needs[i]]",
           "return [i for i in kinked if reach[i]]", ("tests/test_kinks.py",)),
    Mutant("kinks: every row counted as on the kink", "src/slpdiff/core/kinks.py",
           "count = int(np.count_nonzero(zero)) if zero.ndim else rows", "count = rows",
           ("tests/test_kinks.py",)),
    # --- second order -------------------------------------------------------------------------
    Mutant("hessian: [x][w] as d/dx of d/dw", "src/slpdiff/core/hessian.py",
           "        for x, k in zip(adj.wrt, wrt_k, strict=True):\n"
           "            t = result.tangents[position[adj.derivatives[name][x]]]\n"
           "            rows[x] = {w: _fit_pair(column(t, j, ",
           "        for q, (x, k) in enumerate(zip(adj.wrt, wrt_k, strict=True)):\n"
           "            t = result.tangents[position[adj.derivatives[name][x]]]\n"
           "            rows[x] = {w: _fit_pair(column(result.tangents[position["
           "adj.derivatives[name][w]]], q, ", ("tests/test_second_order.py",)),
    # --- each row's own derivatives through reductions ----------------------------------------
    Mutant("rows: reverse mode subtracts the path through a reduction",
           "src/slpdiff/core/rows.py",
           "total = total + partial[frozen_name(r)] * first.gradient[frozen_name(r)][x]",
           "total = total - partial[frozen_name(r)] * first.gradient[frozen_name(r)][x]",
           ("tests/test_rows_semantics.py",)),
    Mutant("rows: forward mode drops a reduction's change", "src/slpdiff/core/rows.py",
           "total = total + t[:, p + k, None] * change", "total = total + 0.0 * change",
           ("tests/test_rows_semantics.py",)),
    Mutant("rows: nested reductions' changes dropped", "src/slpdiff/core/rows.py",
           "                change = change + c * changes[before]",
           "                change = change + 0.0 * changes[before]",
           ("tests/test_rows_semantics.py",)),
    # --- the teacher's check-adjoint ----------------------------------------------------------
    Mutant("check-adjoint: -= read as +=", "src/slpdiff/teach/check_adjoint.py",
           'added = value - before if s.op != "-=" else before - value',
           "added = value - before", ("tests/test_check_adjoint.py",)),
    Mutant("check-adjoint: missing terms never reported", "src/slpdiff/teach/check_adjoint.py",
           "        if all(abs(t[2]) <= 0.0 for t in left):\n            continue",
           "        if True:\n            continue", ("tests/test_check_adjoint.py",)),
    # --- threads ------------------------------------------------------------------------------
    Mutant("threads: evaluations at once share the slices' buffers", "src/slpdiff/fast/slices.py",
           "        if mine:\n            arrays, pool",
           "        if True:\n            arrays, pool",
           (*FAST_TESTS, "-k", "threads")),
    Mutant("threads: read-ahead drops a later chunk's error", "src/slpdiff/rows/ahead.py",
           "            ready.put(_Raised(e))", "            ready.put(_END)",
           ("tests/test_pipelines.py", "tests/test_points.py")),
    # --- rows on a cluster: partial sums over partitions ----------------------------------------
    Mutant("partitions: a mean over the last partition's count", "src/slpdiff/rows/partitioned.py",
           "                rows += part[k][1]", "                rows = part[k][1]",
           SCALE_OUT_TESTS),
    Mutant("partitions: paths through inner reductions dropped",
           "src/slpdiff/rows/partitioned.py",
           "through[self._reduction(q)][x]) for q in r.inner]",
           "through[self._reduction(q)][x]) for q in r.inner][:0]",
           SCALE_OUT_TESTS),
    # --- the compact tape: the parse cache and the replayed parser ------------------------------
    Mutant("cache: an entry trusted on its checksum alone", "src/slpdiff/language/cache.py",
           "len(entry) != 2 or entry[0] != data:", "len(entry) != 2:",
           ("tests/test_parse_cache.py",)),
    Mutant("cache: a directory its group can write is used", "src/slpdiff/language/cache.py",
           "if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):",
           "if info.st_mode & stat.S_IWOTH:", ("tests/test_parse_cache.py",)),
    Mutant("replay: characters no terminal matches are skipped", "src/slpdiff/language/replay.py",
           "        if sum(map(len, texts)) != len(block):\n            return False",
           "        if False:\n            return False", ("tests/test_tape.py",)),
    Mutant("replay: columns one off after the first line", "src/slpdiff/language/replay.py",
           "before = starts[k] + len(separator) - 1", "before = starts[k] + len(separator)",
           ("tests/test_tape.py",)),
    # --- the GradBench protocol ---------------------------------------------------------------
    Mutant("gradbench: min_seconds ignored", "src/slpdiff/gradbench/protocol.py",
           "while count < min_runs or elapsed < min_seconds * 1e9:", "while count < min_runs:",
           GRADBENCH_TESTS),
    Mutant("gradbench: NaN written into the JSON response", "src/slpdiff/gradbench/protocol.py",
           "        return json.dumps(response, allow_nan=False)\n",
           "        return json.dumps(response)\n", GRADBENCH_TESTS),
    Mutant("gradbench: lse subtracts its maximum at the end", "src/slpdiff/gradbench/lse.py",
           'text.let("y", "log(sum(exp(x - A))) + A")', 'text.let("y", "log(sum(exp(x - A))) - A")',
           ("tests/test_gradbench.py", "-k", "test_lse")),
    # --- Arrow's float text -------------------------------------------------------------------
    Mutant("float text: -0.0 written as 0.0", "src/slpdiff/rows/float_text.py",
           "    if minus.any():\n        digits", "    if False:\n        digits",
           ("tests/test_float_text.py",)),
    Mutant("float text: whole numbers from 1e15 left as Arrow writes them",
           "src/slpdiff/rows/float_text.py", "whole = (x == np.trunc(x)) & (a < 1e16)",
           "whole = (x == np.trunc(x)) & (a < 1e15)", ("tests/test_float_text.py",)),
]


def copy_repository(into: Path) -> Path:
    """The working tree (uncommitted changes included) copied to ``into``/repo, with the grammar
    package where ``PYTHONPATH`` finds it (the wheel maps it from ``grammar/``)."""
    copy = into / "repo"
    shutil.copytree(ROOT, copy, ignore=IGNORED, symlinks=True)
    (copy / "src/slpdiff/language/grammar").symlink_to(copy / "grammar",
                                                     target_is_directory=True)
    return copy


def environment(copy: Path) -> dict[str, str]:
    """The tests' environment: the copy's package first; no bytecode written (a restored file
    with the size and second of its mutant must never be read from a stale cache)."""
    (copy.parent / "plugins").mkdir(exist_ok=True)
    (copy.parent / "plugins" / "mutation_reporter.py").write_text(REPORTER, encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(copy / "src"), str(copy.parent / "plugins"),
                                         os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0"}


def check_imports(copy: Path, env: dict[str, str]) -> None:
    """Fail unless the copy's slpdiff (and grammar) are what a test process imports."""
    code = ("import slpdiff, slpdiff.language.grammar as g, importlib.resources as r\n"
            "print(slpdiff.__file__)\nprint(r.files(g).joinpath('slp.lark'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=copy, capture_output=True,
                         text=True, check=True).stdout.split()
    for found in out:
        if not Path(found).resolve().is_relative_to(copy.resolve()):
            sys.exit(f"mutations: the tests would import {found}, not the copy in {copy}")


def stale(mutants: list[Mutant]) -> list[str]:
    """Why any mutant cannot be planted (its text not found exactly once)."""
    problems = []
    for m in mutants:
        count = (ROOT / m.path).read_text(encoding="utf-8").count(m.old)
        if count != 1:
            problems.append(f"{m.name}: the text to replace occurs {count} times in {m.path}")
    return problems


# A pytest plugin that writes the id of each failed test to a file: ids may hold any text (the
# short summary's "FAILED id - message" cannot be split safely).
REPORTER = """import os


def pytest_runtest_logreport(report):
    if report.failed:
        with open(os.environ["SLPDIFF_MUTATION_FAILED"], "a", encoding="utf-8") as f:
            f.write(report.nodeid + "\\n")
"""


def run_tests(copy: Path, env: dict[str, str], args: list[str],
              timeout: float) -> tuple[bool, str, float]:
    """(passed, the first failing test or a note, seconds). Each run has a parse cache of its
    own: an entry made before the bug was planted is never read."""
    failed_file = copy.parent / "failed.txt"
    failed_file.write_text("", encoding="utf-8")
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=copy.parent))
    env = {**env, "SLPDIFF_MUTATION_FAILED": str(failed_file), "SLPDIFF_CACHE_DIR": str(cache)}
    # --slow: a test the quick suite skips (tests/conftest.py, LONG) still runs in CI, and counts
    command = [sys.executable, "-m", "pytest", "-x", "-q", "--slow", "-p", "no:cacheprovider",
               "-p", "mutation_reporter", *args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s", time.perf_counter() - start
    seconds = time.perf_counter() - start
    if proc.returncode == 0:
        return True, "", seconds
    failed = failed_file.read_text(encoding="utf-8").splitlines()
    if failed:
        return False, failed[0], seconds
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["?"]
    return False, f"exit {proc.returncode}: {tail[0][:80]}", seconds


def confirmed(copy: Path, env: dict[str, str], first: str, timeout: float) -> bool:
    """Does the test that failed with the bug pass without it? (A test that fails either way,
    flaky under load or broken, catches nothing.) Timeouts and collection errors count."""
    if not first.startswith("tests/"):
        return True
    passed, _, _ = run_tests(copy, env, [first], timeout)
    return passed


def plant(copy: Path, mutant: Mutant) -> str:
    """Write the bug into the copy; returns the original text, to put back."""
    target = copy / mutant.path
    original = target.read_text(encoding="utf-8")
    target.write_text(original.replace(mutant.old, mutant.new, 1), encoding="utf-8")
    return original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="run the whole suite (with -x) for each bug, not the relevant tests")
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="only the bugs whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the bugs and stop")
    parser.add_argument("--baseline", action="store_true",
                        help="first run every relevant test file on the unchanged copy (each "
                             "catch is confirmed anyway: the failing test must pass without "
                             "the bug)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per bug")
    options = parser.parse_args()
    mutants = [m for m in MUTANTS
               if not options.only or any(t.lower() in m.name.lower() for t in options.only)]
    problems = stale(MUTANTS)
    if problems:
        print("\n".join(["mutations: the list is stale:", *problems]), file=sys.stderr)
        return 2
    if options.list:
        for m in mutants:
            print(f"{m.name}  ({m.path}; {' '.join(m.tests)})")
        return 0
    with tempfile.TemporaryDirectory(prefix="slpdiff-mutants-") as temporary:
        copy = copy_repository(Path(temporary))
        env = environment(copy)
        check_imports(copy, env)
        if options.baseline:
            files = sorted({t for m in mutants for t in m.tests if t.startswith("tests/")})
            ok, first, seconds = run_tests(copy, env, ["tests"] if options.full else files,
                                           options.timeout)
            print(f"baseline (no bug): {'passed' if ok else 'FAILED ' + first} "
                  f"in {seconds:.0f} s", flush=True)
            if not ok:
                return 2
        results = []
        width = max(len(m.name) for m in mutants)
        print(f"{'bug':<{width}}  {'caught':<6}  {'seconds':>7}  by", flush=True)
        for m in mutants:
            original = plant(copy, m)
            try:
                passed, first, seconds = run_tests(
                    copy, env, ["tests"] if options.full else list(m.tests), options.timeout)
            finally:
                (copy / m.path).write_text(original, encoding="utf-8")
            caught = not passed and confirmed(copy, env, first, options.timeout)
            if not passed and not caught:
                first = f"not credited: {first} fails without the bug too"
            results.append((m, caught))
            print(f"{m.name:<{width}}  {'yes' if caught else 'NO':<6}  {seconds:7.0f}  "
                  f"{first}", flush=True)
    survivors = [m.name for m, caught in results if not caught]
    print(f"{len(results) - len(survivors)} of {len(results)} planted bugs caught"
          + (f"; survived: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
