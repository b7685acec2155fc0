"""Coverage-guided fuzzing of slpdiff's parser, printer and engine on arbitrary bytes.

Each input is a byte string handed to ``slpdiff.parse``. It must either parse, or raise slpdiff's
own error (``slpdiff.errors.SlpError``) whose diagnostics point inside the text; any other
exception is a crash. A program that parses must also print (``slpdiff.to_slp``) as text
that parses back to the same graph (same inputs, outputs, operations, structure and constants
bit for bit) and prints the same again; its adjoint program (``slpdiff grad``) must parse too, and
evaluating it at a point must raise nothing but ``SlpError``.

Run by hand, from the repository's root, with atheris (``pip install atheris``; libFuzzer's
options apply, see ``-help=1``)::

    python tests/fuzz/fuzz_parser.py -max_total_time=600            # ten minutes
    python tests/fuzz/fuzz_parser.py -max_total_time=600 --keep-going  # log crashes, go on
    python tests/fuzz/fuzz_parser.py -runs=0 crash-1234abcd         # replay one input

Unless a corpus directory is given, it keeps its corpus in ``./fuzz-corpus`` (seeded on first
use with the examples and programs drawn from ``strategies.py``; the next run goes on from it) and
uses a dictionary of the language's tokens (``./fuzz-corpus.dict``). Inputs that crash are written
as ``crash-*`` files (with ``--keep-going``: one file per distinct crash under ``fuzz-crashes/``,
and it goes on). Without
atheris, or with ``--hypothesis``, the same check runs on inputs drawn by hypothesis (valid,
mutated and random programs) for ``--seconds`` seconds (``--round=N`` examples per seed of
hypothesis; ``--seeds=N`` programs drawn for atheris's seed corpus). The test suite runs a short
bounded run of both (``tests/test_fuzz.py``).
"""

from __future__ import annotations

import hashlib
import struct
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # `fuzz.strategies` when run as a script

ROOT = HERE.parent.parent


class RoundTripError(AssertionError):
    """A program that parsed did not print and parse back to the same graph."""


def signature(program) -> tuple:
    """What makes two programs the same graph: input and output names, and every node as its
    operation over its arguments' signatures (constants by their bits), counted."""
    ids: list[int] = []
    interned: dict[tuple, int] = {}
    for i, (op, args) in enumerate(zip(program.ops, program.args, strict=True)):
        if program.is_input(i):
            key = ("input", program.names[i])
        elif op is None:
            key = ("const", struct.pack("<d", float(program.consts[i])))
        else:
            key = (op.name, tuple(ids[a] for a in args))
        ids.append(interned.setdefault(key, len(interned)))
    keys = {v: k for k, v in interned.items()}
    outputs = tuple(keys[ids[i]] for i in program.output_index)
    return (tuple(program.input_names), tuple(program.output_names), outputs,
            sorted(Counter(keys[i] for i in ids).items(), key=repr))


def check_round_trip(program) -> str:
    """Print ``program``, parse the text, compare the graphs; return the printed text."""
    from slpdiff.language.parser import parse
    from slpdiff.language.printer import to_slp

    text = to_slp(program)
    again = parse(text, name="<printed>")  # an SlpError here is a crash of the printer
    if signature(again) != signature(program):
        raise RoundTripError(f"the printed program is another graph:\n{text}")
    if to_slp(again) != text:
        raise RoundTripError(f"printing is not a fixed point:\n{text}\n---\n{to_slp(again)}")
    return text


def check_diagnostics(error) -> None:
    """Every diagnostic formats, and a position (when there is one) lies in the text."""
    assert error.diagnostics, "an SlpError without a message"
    for d in error.diagnostics:
        formatted = d.format()
        assert d.message and formatted, d
        if d.source is not None and d.line:
            n_lines = d.source.text.count("\n") + 1
            assert 1 <= d.line <= n_lines, (d.line, n_lines, formatted)
            assert d.column >= 1, formatted


def check_parse(data: bytes, evaluate: bool = True) -> bool:
    """The property the fuzzer checks on one input; returns True when ``data`` parsed.

    Raises anything but ``SlpError`` (which is how a bad program must fail) on a bug.
    """
    import numpy as np

    from slpdiff.adjoint import adjoint_program
    from slpdiff.errors import SlpError
    from slpdiff.evaluation import evaluate as run
    from slpdiff.language.parser import parse

    try:
        program = parse(data, name="<fuzz>")
    except SlpError as e:
        check_diagnostics(e)
        return False
    check_round_trip(program)
    if not evaluate:
        return True
    try:
        adjoint = adjoint_program(program)
        parse(adjoint.text(), name="<adjoint>")
    except SlpError as e:
        check_diagnostics(e)
    at = {name: 0.5 + k for k, name in enumerate(program.input_names)}
    with np.errstate(all="ignore"):
        try:
            run(program, at)
        except SlpError as e:
            check_diagnostics(e)
    return True


# --- seeds and dictionary ----------------------------------------------------------------------


def seed_inputs(n: int = 200) -> list[bytes]:
    """The examples, and ``n`` programs drawn (reproducibly) from the strategies."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from fuzz.strategies import mutated_programs, valid_programs

    seeds = [p.read_bytes() for p in sorted((ROOT / "examples").glob("**/*.slp"))]

    @settings(max_examples=n, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(valid_programs().map(lambda case: case[0].encode()),
                     mutated_programs().map(lambda case: case[0])))
    def collect(data):
        seeds.append(data)

    collect()
    return seeds


def dictionary() -> list[str]:
    """libFuzzer dictionary entries: the language's tokens and some hostile ones."""
    from slpdiff.language.primitives import PRIMITIVES

    words = [*PRIMITIVES, "input ", "output ", "pi", "e", "=", "(", ")", ",", ";", "\n", "\r\n",
             "#", "+", "-", "*", "/", "^", "**", "1e999", ".5", "3.", "2.5e-3", "1E+6",
             "\xef\xbb\xbf", "\x00", "\xff", "((((", "-(-(-"]
    return ['"' + "".join(f"\\x{b:02x}" for b in w.encode("utf-8", "surrogateescape")) + '"'
            for w in words]


# --- running --------------------------------------------------------------------------------------


class KeepGoing:
    """With --keep-going: log each distinct crash (by exception type and place) and go on."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.seen: Counter = Counter()

    def __call__(self, data: bytes) -> bool:
        try:
            return check_parse(data)
        except Exception as e:  # noqa: BLE001 - every exception is a finding here
            frames = traceback.extract_tb(e.__traceback__)
            where = frames[-1] if frames else None
            key = (type(e).__name__, where.filename if where else "", where.lineno if where else 0)
            self.seen[key] += 1
            if self.seen[key] == 1:
                self.directory.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha1(data).hexdigest()[:16]
                (self.directory / f"crash-{name}").write_bytes(data)
                (self.directory / f"crash-{name}.txt").write_text(
                    "".join(traceback.format_exception(e)))
                print(f"\nCRASH {key}: {data[:200]!r}\n{''.join(traceback.format_exception(e))}",
                      file=sys.stderr, flush=True)
            return False


def run_atheris(argv: list[str], keep_going: bool, n_seeds: int = 200) -> None:
    import atheris

    with atheris.instrument_imports(include=["slpdiff", "lark"]):
        import lark  # noqa: F401

        import slpdiff.adjoint  # noqa: F401
        import slpdiff.core.engine  # noqa: F401
        import slpdiff.fast.point  # noqa: F401
        import slpdiff.language.parser  # noqa: F401
        import slpdiff.language.printer  # noqa: F401
    from slpdiff.language.parser import parse

    parse("x = 1")  # build the LALR tables before fuzzing starts
    target = KeepGoing(Path("fuzz-crashes")) if keep_going else check_parse
    corpus_given = any(not a.startswith("-") for a in argv[1:])
    extra = []
    if not corpus_given:  # ./fuzz-corpus, seeded on first use; the next run goes on from it
        corpus = Path("fuzz-corpus")
        corpus.mkdir(exist_ok=True)
        if not any(corpus.iterdir()):
            for k, data in enumerate(seed_inputs(n_seeds)):
                (corpus / f"seed-{k:04d}").write_bytes(data)
        extra.append(str(corpus))
    if not any(a.startswith("-dict=") for a in argv):
        path = Path("fuzz-corpus.dict")
        path.write_text("\n".join(dictionary()) + "\n")
        extra.append(f"-dict={path}")
    atheris.Setup([*argv, *extra], target)
    atheris.Fuzz()


def run_hypothesis(seconds: float, keep_going: bool, per_round: int = 500) -> int:
    """Check inputs drawn by hypothesis for ``seconds``; returns the number of inputs run."""
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    from fuzz.strategies import any_bytes, mutated_programs, valid_programs

    inputs = st.one_of(valid_programs().map(lambda case: case[0].encode()),
                       mutated_programs().map(lambda case: case[0]), any_bytes)
    target = KeepGoing(Path("fuzz-crashes")) if keep_going else check_parse
    start, count, parsed, rnd = time.monotonic(), 0, 0, 0
    while time.monotonic() - start < seconds:
        rnd += 1

        @seed(rnd)
        @settings(max_examples=per_round, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(inputs)
        def one(data):
            nonlocal count, parsed
            count += 1
            parsed += bool(target(data))

        one()
        print(f"#{count} inputs, {parsed} parsed, {time.monotonic() - start:.0f} s",
              file=sys.stderr, flush=True)
    return count


def main(argv: list[str]) -> None:
    keep_going = "--keep-going" in argv
    use_hypothesis = "--hypothesis" in argv
    seconds, per_round, n_seeds = 600.0, 500, 200
    rest = []
    for a in argv:
        if a.startswith("--seconds="):
            seconds = float(a.split("=", 1)[1])
        elif a.startswith("--round="):
            per_round = int(a.split("=", 1)[1])
        elif a.startswith("--seeds="):
            n_seeds = int(a.split("=", 1)[1])
        elif a not in ("--keep-going", "--hypothesis"):
            rest.append(a)
    if not use_hypothesis:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed: running the hypothesis fuzzer instead",
                  file=sys.stderr)
            use_hypothesis = True
    if use_hypothesis:
        run_hypothesis(seconds, keep_going, per_round)
    else:
        run_atheris(rest, keep_going, n_seeds)


if __name__ == "__main__":
    main(sys.argv)
