"""What a lesson page costs: building it, and loading and stepping it in a browser.

Building: for random programs of n statements (long edges, as the tests use), the time of
``slpdiff.teach.lesson.build`` with slpdiff's own layout and with Graphviz's, as a ratio to the
trace it is built from (``trace`` and ``trace_json``: what ``slpdiff trace --format json`` does),
in the same process.

Loading (with ``--browser``: needs selenium, Chromium and chromedriver): each page opened in
headless Chromium, its load time (the navigation's loadEventEnd) as a ratio to a plain page of the
same size (the page's text in a ``<pre>``: what any page of that many bytes costs this machine),
and the mean time of a step (40 steps, forwards). The too-large page (a program past the limit)
must load in well under a second.

    python benchmarks/lesson_page.py [--browser]
"""

from __future__ import annotations

import html
import shutil
import sys
import tempfile
from pathlib import Path

import slpdiff
from slpdiff.teach.lesson import build
from slpdiff.teach.tables import trace_json
from slpdiff.teach.trace import trace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from show_the_method import best_of  # noqa: E402

from helpers import random_forms_program  # noqa: E402  (the same programs the tests use)

AT = {"x": 0.5, "w": 0.25}
SIZES = [10, 100, 300]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def building() -> dict[str, str]:
    """Print the build times; return the pages to load (by name)."""
    pages = {}
    dot = shutil.which("dot") is not None
    print(f"{'statements':>10}{'trace json':>12}{'own layout':>12}{'x trace':>9}"
          + (f"{'Graphviz':>12}{'x trace':>9}" if dot else ""))
    for n in SIZES:
        program = slpdiff.parse(random_forms_program(n))
        base = best_of(lambda program=program: trace_json(trace(program, AT)))
        own = best_of(lambda program=program: build(program, AT, use_dot=False))
        line = f"{n:>10}{base * 1e3:>10.1f}ms{own * 1e3:>10.1f}ms{own / base:>9.1f}"
        if dot:
            with_dot = best_of(lambda program=program: build(program, AT), repeat=1)
            line += f"{with_dot * 1e3:>10.1f}ms{with_dot / base:>9.1f}"
        print(line)
        pages[f"{n} statements"] = build(program, AT, use_dot=dot).html
    big = slpdiff.parse(random_forms_program(3000))
    pages["3000 statements (too large)"] = build(big, AT).html
    return pages


def loading(pages: dict[str, str]) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    directory = Path(tempfile.mkdtemp(prefix="lesson-bench-"))
    options.add_argument(f"--user-data-dir={directory / 'profile'}")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)

    def load(text: str) -> float:
        best = float("inf")
        for _ in range(3):
            path = directory / "page.html"
            path.write_text(text, encoding="utf-8")
            driver.get("about:blank")
            driver.get(path.as_uri())
            best = min(best, driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].loadEventEnd"))
        return best

    print(f"\n{'page':<30}{'bytes':>11}{'load':>10}{'plain page':>12}{'ratio':>7}{'a step':>10}")
    try:
        for name, text in pages.items():
            loaded = load(text)
            step = driver.execute_script(
                "if (!window.slpLesson) return null; const a = performance.now();"
                "for (let k = 1; k <= 40; k++) slpLesson.goTo(Math.min(k, slpLesson.last));"
                "return (performance.now() - a) / 40")
            plain = load(f"<!doctype html><meta charset=utf-8><pre>{html.escape(text)}</pre>")
            print(f"{name:<30}{len(text.encode()):>11,}{loaded:>8.0f}ms{plain:>10.0f}ms"
                  f"{loaded / plain:>7.1f}" + (f"{step:>8.1f}ms" if step is not None else ""))
    finally:
        driver.quit()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    pages = building()
    if "--browser" in sys.argv[1:]:
        loading(pages)


if __name__ == "__main__":
    main()
