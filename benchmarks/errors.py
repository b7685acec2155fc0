"""What reporting errors costs: parsing programs full of errors, against parsing a valid program of
the same size (the baseline, in the same process).

Run: python benchmarks/errors.py [--lines N]   (default 100,000; the README's figures: 1,000,000)

Each program has N statements like the baseline's ``v{i} = x + w{i}``, with an error on every line:
a syntax error (``v{i} = x +``: slpdiff stops reading after 20 of them), an undefined name, an
unknown function, or an output that is never assigned. Every one of them is found and counted
(``... and N more errors``), but the did-you-mean suggestions, which compare a name with every
known one, are made only for the 20 errors shown, so the cost stays linear. Prints the seconds and
the ratio to the baseline for each.
"""

from __future__ import annotations

import argparse
import gc
import time

import slpdiff
from slpdiff.errors import ProgramError


def programs(n: int) -> dict[str, str]:
    inputs = "input x\n"
    return {
        "valid (baseline)": inputs + "".join(f"v{i} = x + {i}\n" for i in range(n)),
        "a syntax error on every line": "".join(f"v{i} = x +\n" for i in range(n)),
        "an undefined name on every line": inputs + "".join(f"v{i} = x + q{i}\n"
                                                             for i in range(n)),
        "an unknown function on every line": inputs + "".join(f"v{i} = sinn(x)\n"
                                                               for i in range(n)),
        "an output never assigned on every line": inputs + "y = x\n" + "".join(
            f"output o{i}\n" for i in range(n)),
    }


def parse_seconds(text: str) -> tuple[float, str]:
    gc.collect()
    start = time.perf_counter()
    try:
        slpdiff.parse(text, "p.slp")
        last = "(no error)"
    except ProgramError as e:
        last = e.diagnostics[-1].message
    return time.perf_counter() - start, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    slpdiff.parse("y = x")  # the parser's tables, once
    baseline = None
    for name, text in programs(args.lines).items():
        seconds, last = parse_seconds(text)
        baseline = baseline or seconds
        print(f"{name:40} {seconds:7.2f} s  {seconds / baseline:5.2f} x baseline   {last[:70]}")


if __name__ == "__main__":
    main()
