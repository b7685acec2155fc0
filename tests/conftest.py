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


# Tests that take more than about ten seconds of a core each, marked ``slow`` here in one list so
# that the README's test command stays within its three minutes on two cores (issue 13 §5); CI runs
# them all in its second step. A node id, or a file for all of its tests; why, beside each.
LONG = {
    # real Dask LocalClusters (a cluster start is 5-15 s)
    "tests/test_scale_out.py": "a real LocalCluster per test",
    "tests/test_check_hard_points.py": "a few hundred hard points against mpmath",
    "tests/test_limits.py::test_many_inputs_grad_python_and_points": "20,000 inputs",
    "tests/test_limits.py::test_deep_nesting_through_every_walk": "100,000-deep nesting",
    "tests/test_limits.py::test_deep_nesting_hessian_trace_graph_explain": "deep nesting",
    "tests/test_limits.py::test_too_many_reverse_sweeps_fail_at_once": "20,000 inputs",
    "tests/test_limits.py::test_a_long_line_within_the_limit_works": "a line of megabytes",
    "tests/test_limits.py::test_forward_mode_with_too_many_inputs_fails_at_once": "20,000 inputs",
    "tests/test_limits.py::test_check_with_too_many_inputs_fails_at_once": "20,000 inputs",
    "tests/test_optimize_cli.py::test_ctrl_c_stops_a_scipy_method_too": "waits for SciPy",
    "tests/test_fuzz.py::test_valid_programs_through_the_installed_command": "a process each",
    "tests/test_fuzz.py::test_parser_fuzz_target_on_drawn_inputs": "hundreds of programs",
    "tests/test_fuzz.py::test_at_values_and_points_through_the_installed_command": "processes",
    "tests/test_fuzz.py::test_mutated_programs_through_the_installed_command": "processes",
    "tests/test_packaging.py::test_wheel_contains_the_grammar_and_the_console_script": "builds",
    "tests/test_exercise.py::test_exercise_latex_fits_a_slide": "pdflatex per case",
    "tests/test_book.py::test_each_latex_table_fits_a_beamer_slide": "pdflatex per case",
    # the quick suite reached its three minutes again (193 s on two idle cores, 2026-12-03):
    # these take 3-10 s of a core each, and the quick suite keeps a smaller test of each thing
    "tests/test_limits.py::test_deep_nesting_through_the_command_line": "8 commands, 25 s",
    "tests/test_limits.py::test_many_inputs_through_the_command_line": "20,000 inputs",
    "tests/test_limits.py::test_many_at_pairs": "20,000 --at pairs",
    "tests/test_threads.py::test_the_installed_command_prints_the_same_bytes_on_any_number_of_threads":
        "processes per thread count; the in-process tests stay",
    "tests/test_fuzz.py::test_every_kind_of_case_in_process": "hundreds of drawn cases",
    "tests/test_fuzz.py::test_parser_fuzz_script_runs_with_hypothesis": "a process per case",
    "tests/test_docs.py::test_every_command_shown_prints_what_the_docs_show[scale-out.md: "
    "slpdiff eval examples/seed.slp --points examples/seed_points.csv --scheduler local:2]":
        "a real LocalCluster",
    "tests/test_lesson_browser.py::test_a_few_hundred_statements_step_correctly":
        "hundreds of steps in the browser; the seed's steps stay",
    # and again after the merges of 2026-12-03 (169 s in CI): 1.5-3.5 s each, a quicker test of
    # the same thing stays in the quick suite beside each
    "tests/test_lesson_browser.py::test_controls_play_to_the_end_and_jump": "the browser",
    "tests/test_lesson_browser.py::test_keyboard_alone_reaches_every_control_with_visible_focus":
        "the browser",
    "tests/test_lesson_browser.py::test_forward_mode_and_our_own_layout": "the browser",
    "tests/test_parse_cache.py::test_every_command_is_listed_and_runs": "a process per command",
    "tests/test_float_text.py::test_fields_are_numbers_exactly_when_the_careful_pass_says_so":
        "millions of bit patterns",
    "tests/test_fast_path.py::test_evaluations_in_threads_at_once_give_the_same_bits":
        "24 evaluations of 20,000 rows on 4 threads; tests/test_threads.py stays",
    "tests/test_limits.py::test_grad_then_eval_of_a_deep_program": "deep nesting, processes",
    "tests/test_limits.py::test_a_hessian_too_large_fails_at_once": "a large program",
    "tests/test_adjoint.py::test_size_bound_holds_on_large_programs": "thousands of statements",
    "tests/test_graph.py::test_a_program_of_a_thousand_statements_renders": "Graphviz, 1,000 nodes",
}


def _long(nodeid: str) -> bool:
    path, _, rest = nodeid.partition("::")
    return path in LONG or f"{path}::{rest.split('[')[0]}" in LONG or nodeid in LONG


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _long(item.nodeid):
            item.add_marker(pytest.mark.slow)
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
