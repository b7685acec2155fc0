"""Test-suite settings: hypothesis profiles, and the opt-in ``fuzz`` marker for long fuzz runs.

Hypothesis runs under the ``ci`` profile unless told otherwise: derandomized (the same examples on
every run, so a red CI run can be reproduced) and with no deadline (the machine may be shared).
``--hypothesis-profile=dev`` draws new examples each run; ``fuzz`` is the long profile the
``fuzz``-marked tests use (``SLPDIFF_FUZZ_EXAMPLES`` examples per test, default 2000).

Tests marked ``fuzz`` are skipped unless ``--fuzz`` is given (or ``SLPDIFF_FUZZ=1`` is set), which
also selects the ``fuzz`` profile. Tests marked ``slow`` (sizes that take minutes: a million
statements, 100,000-deep nesting through the command, millions of rows) are skipped unless
``--slow`` is given (or ``SLPDIFF_SLOW=1``): the README's test command stays quick, and CI runs
them in a second step (``.ci/run``). Conftest options rather than ``addopts = -m "not fuzz"``:
that would be overridden by (and would override) a user's own ``-m``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.register_profile(
    "fuzz", deadline=None, print_blob=True,
    max_examples=int(os.environ.get("SLPDIFF_FUZZ_EXAMPLES", "2000")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci")


def fuzz_requested(config) -> bool:
    return bool(config.getoption("--fuzz")) or os.environ.get("SLPDIFF_FUZZ") == "1"


def slow_requested(config) -> bool:
    return bool(config.getoption("--slow")) or os.environ.get("SLPDIFF_SLOW") == "1"


def pytest_addoption(parser):
    parser.addoption("--fuzz", action="store_true", default=False,
                     help="run the long fuzz tests (marked fuzz) with the 'fuzz' hypothesis "
                          "profile; also SLPDIFF_FUZZ=1")
    parser.addoption("--slow", action="store_true", default=False,
                     help="run the long tests (marked slow); also SLPDIFF_SLOW=1")


def pytest_configure(config):
    if fuzz_requested(config) and not config.getoption("--hypothesis-profile", None):
        settings.load_profile("fuzz")


def pytest_collection_modifyitems(config, items):
    skips = []
    if not fuzz_requested(config):
        skips.append(("fuzz", pytest.mark.skip(reason="a long fuzz run: give --fuzz or "
                                                      "SLPDIFF_FUZZ=1")))
    if not slow_requested(config):
        skips.append(("slow", pytest.mark.skip(reason="a long test: give --slow or "
                                                      "SLPDIFF_SLOW=1")))
    for item in items:
        for marker, skip in skips:
            if marker in item.keywords:
                item.add_marker(skip)
