"""The lesson page in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium, one browser for the whole module.

The seed lesson is stepped through, forwards and back, and at every step each node's displayed
value and adjoint is compared with ``slpdiff trace --format json``; the controls, the keys alone,
playing to the end, the warnings, forward mode, a few hundred statements and the page embedded as
a notebook shows it. No test may log a JavaScript error. Screenshots of three steps are saved
in ``$SLPDIFF_ARTEFACTS`` (or a pytest temporary directory, printed).

Without Chromium, its driver or selenium the tests are skipped, unless SLPDIFF_REQUIRE_BROWSER is
set (as .ci/run does): then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_lesson import KINKS, expected_states, step_rows, trace_json

from helpers import EXAMPLES, invoke, random_forms_program, run_slpdiff

SEED = EXAMPLES / "seed.slp"
UNKNOWN = "?"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def _browser_parts() -> tuple[str, str]:
    """The Chromium binary and its WebDriver; skip (fail under SLPDIFF_REQUIRE_BROWSER) without
    them or selenium."""
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    driver = shutil.which("chromedriver")
    missing = [what for what, found in (("chromium", chromium), ("chromedriver", driver)) if
               not found]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        message = f"the lesson's browser tests need {', '.join(missing)}"
        if os.environ.get("SLPDIFF_REQUIRE_BROWSER"):
            pytest.fail(f"SLPDIFF_REQUIRE_BROWSER is set but {message}")
        pytest.skip(message)
    return chromium, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, chromedriver = _browser_parts()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, tmp_path):
    """Open an HTML text (at a step, given one); the test fails on any console error."""
    def open_page(html: str, step: int | None = None):
        path = tmp_path / "lesson.html"
        path.write_text(html, encoding="utf-8")
        browser.get(path.as_uri() + (f"#step={step}" if step is not None else ""))
        return browser

    browser.get_log("browser")  # what earlier tests left
    yield open_page
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], f"console errors: {errors}"


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    where = os.environ.get("SLPDIFF_ARTEFACTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def seed():
    """The seed lesson as the installed command writes it, and the rows the installed
    ``slpdiff trace --format json`` prints."""
    proc = run_slpdiff("lesson", SEED, "--at", "x=1,w=4")
    assert proc.returncode == 0, proc.stderr
    trace = run_slpdiff("trace", SEED, "--at", "x=1,w=4", "--format", "json")
    assert trace.returncode == 0, trace.stderr
    return proc.stdout, json.loads(trace.stdout)


SHOWN = """
if (arguments.length && arguments[0] !== null) slpLesson.goTo(arguments[0]);
const out = {};
for (const g of document.querySelectorAll('#graph .node')) {
  for (const slot of ['v', 'b', 'd']) {
    const el = document.getElementById(g.id + '-' + slot);
    if (el) out[g.dataset.name + '|' + slot] = el.textContent;
  }
}
const names = {};
for (const g of document.querySelectorAll('#graph .node')) names[g.id.slice(1)] = g.dataset.name;
const marked = cls => Array.from(document.querySelectorAll('#graph .' + cls)).map(
  el => el.dataset.name || names[el.dataset.src] + '>' + names[el.dataset.dst]);
return {shown: out, counter: document.getElementById('counter').textContent,
        status: document.getElementById('status').innerText,
        target: marked('is-target'), sources: marked('is-source'), edges: marked('is-edge'),
        line: Array.from(document.querySelectorAll('ol.code li.is-current')).map(li => li.id),
        row: Array.from(document.querySelectorAll('tr.is-current')).map(tr => tr.id),
        playing: document.getElementById('b-play').getAttribute('aria-pressed')};
"""


def check_step(driver, k: int, states, rows, go: bool = False) -> dict:
    """The page at step ``k`` (gone to, if ``go``) shows exactly the trace's numbers, and marks
    the row's node, its sources, the edge it uses, its program line and its table row."""
    last = len(states) - 1
    seen = driver.execute_script(SHOWN, k if go else None)
    assert seen["counter"] == f"step {k} of {last}"
    want = {f"{name}|{slot}": text for (name, slot), text in states[k].items()
            if f"{name}|{slot}" in seen["shown"]}
    assert seen["shown"] == want, f"step {k}"
    r = rows[k]
    if r is None:
        assert seen["target"] == [] and seen["edges"] == [] and seen["row"] == []
        return seen
    assert seen["target"] == [r["node"]] and seen["row"] == [f"r{k}"]
    if r.get("line"):
        assert seen["line"] == [f"L{r['line']}"]
    if r["table"] == "forward":
        assert f"{r['node']} = " in seen["status"] and repr(float(r["value"])) in seen["status"]
    elif r["table"] == "reverse":
        assert r["update"] in seen["status"] and repr(float(r["adjoint"])) in seen["status"]
        if r["from"] is not None:  # the edge it uses, against the arrow
            assert seen["sources"] == [r["from"]]
            assert seen["edges"] == [f"{r['node']}>{r['from']}"]
    else:
        assert r["update"] in seen["status"] and repr(float(r["value"])) in seen["status"]
        assert sorted(seen["edges"]) == sorted(f"{t['argument']}>{r['node']}" for t in r["terms"])
    return seen


def press(driver, key) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def focus_body(driver) -> None:
    driver.execute_script("document.activeElement && document.activeElement.blur();")


def test_seed_every_step_forwards_then_back(page, seed, artefacts):
    from selenium.webdriver.common.keys import Keys

    html, records = seed
    states, rows = expected_states(records), step_rows(records)
    last = len(states) - 1
    assert last == 9 + 12  # 9 values; the seed and 11 adjoint updates
    driver = page(html)
    focus_body(driver)
    check_step(driver, 0, states, rows)
    for k in range(1, last + 1):
        press(driver, Keys.ARROW_RIGHT)
        check_step(driver, k, states, rows)
        if k in (5, 14, last):
            driver.save_screenshot(str(artefacts / f"seed-step{k:02d}.png"))
    press(driver, Keys.ARROW_RIGHT)  # past the end: stays there
    check_step(driver, last, states, rows)
    footer = driver.execute_script("return document.querySelector('tfoot').innerText")
    assert "d v7/d x = 51.31809456918384" in footer and "d v7/d w = 13.402273659200267" in footer
    for k in range(last - 1, -1, -1):
        press(driver, Keys.ARROW_LEFT)
        check_step(driver, k, states, rows)
    for k in (5, 14, last):
        assert (artefacts / f"seed-step{k:02d}.png").stat().st_size > 10_000
    print(f"screenshots in {artefacts}")


def test_step_14_shows_the_update_as_trace_writes_it(page, seed):
    driver = page(seed[0], step=14)
    status = driver.find_element("id", "status")
    assert "w_bar += v6_bar * v4 = 1.0 * 0.5727500169043067 = 0.5727500169043067" in status.text
    assert "w_bar = 0.0 + 0.5727500169043067 = 0.5727500169043067" in status.text
    assert status.get_attribute("role") == "status"  # read out by screen readers
    assert status.get_attribute("aria-live") == "polite"


def test_controls_play_to_the_end_and_jump(page, seed):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    html, records = seed
    states, rows = expected_states(records), step_rows(records)
    last = len(states) - 1
    driver = page(html, step=last - 5)
    Select(driver.find_element(By.ID, "speed")).select_by_value("150")
    driver.find_element(By.ID, "b-play").click()
    assert driver.find_element(By.ID, "b-play").get_attribute("aria-pressed") == "true"
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return slpLesson.step() === slpLesson.last && "
        "document.getElementById('b-play').getAttribute('aria-pressed') === 'false'"))
    check_step(driver, last, states, rows)
    assert driver.find_element(By.ID, "b-next").get_attribute("disabled")
    for button, k in (("b-start", 0), ("b-next", 1), ("b-next", 2), ("b-back", 1),
                      ("b-end", last)):
        driver.find_element(By.ID, button).click()
        check_step(driver, k, states, rows)
    focus_body(driver)
    press(driver, Keys.HOME)
    check_step(driver, 0, states, rows)
    press(driver, Keys.END)
    check_step(driver, last, states, rows)
    driver.execute_script("var s = document.getElementById('scrub'); s.value = 7;"
                          "s.dispatchEvent(new Event('input'));")
    check_step(driver, 7, states, rows)
    driver.find_element(By.ID, "r12").click()  # a table row jumps to its step
    check_step(driver, 12, states, rows)
    focus_body(driver)
    press(driver, Keys.SPACE)
    assert driver.execute_script(SHOWN)["playing"] == "true"
    press(driver, Keys.SPACE)
    assert driver.execute_script(SHOWN)["playing"] == "false"


def test_keyboard_alone_reaches_every_control_with_visible_focus(page, seed):
    from selenium.webdriver.common.keys import Keys

    driver = page(seed[0], step=3)  # mid-movie: no button is disabled (and so out of reach)
    focus_body(driver)
    reached = []
    for _ in range(14):
        press(driver, Keys.TAB)
        ident, outline, width, visible = driver.execute_script(
            "const a = document.activeElement, s = getComputedStyle(a);"
            "return [a.id || a.tagName, s.outlineStyle, s.outlineWidth, "
            "a.matches(':focus-visible')]")
        reached.append(ident)
        if ident not in ("BODY", "HTML"):
            assert visible and outline != "none" and width != "0px", (ident, outline, width)
    for control in ("b-start", "b-back", "b-play", "b-next", "b-end", "scrub", "speed",
                    "program-scroll", "b-fit", "graph-scroll"):
        assert control in reached, reached
    driver.execute_script("document.getElementById('b-next').focus()")
    press(driver, Keys.ENTER)
    assert driver.execute_script("return slpLesson.step()") == 4
    driver.execute_script("document.getElementById('scrub').focus()")
    press(driver, Keys.ARROW_RIGHT)
    assert driver.execute_script("return slpLesson.step()") == 5
    # the graph reached with Tab keeps the arrows to scroll it; clicked, the arrows step
    driver.execute_script("document.getElementById('b-fit').focus()")
    press(driver, Keys.TAB)
    assert driver.execute_script("return document.activeElement.id") == "graph-scroll"
    press(driver, Keys.ARROW_RIGHT)
    assert driver.execute_script("return slpLesson.step()") == 5
    driver.find_element("id", "graph-scroll").click()
    press(driver, Keys.ARROW_RIGHT)
    assert driver.execute_script("return slpLesson.step()") == 6


def test_highlights_do_not_rest_on_colour_alone(page, seed):
    """Grey-scale printing and colour blindness: what changes, what it comes from and the edge
    used differ from the rest in line width or dashes, and the current line and row carry a
    mark; printed, the controls go."""
    driver = page(seed[0], step=14)
    style = driver.execute_script(
        "const s = sel => getComputedStyle(document.querySelector(sel));"
        "const box = sel => [s(sel).strokeWidth, s(sel).strokeDasharray];"
        "return {target: box('#graph .is-target .box'), source: box('#graph .is-source .box'),"
        " plain: box('#graph .node:not(.is-target):not(.is-source):not(.generated) .box'),"
        " edge: box('#graph .is-edge path'), other: box('#graph .edge:not(.is-edge) path'),"
        " row: getComputedStyle(document.querySelector('tr.is-current > :first-child'),"
        " '::before').content,"
        " line: getComputedStyle(document.querySelector('li.is-current'), '::after').content}")
    assert float(style["target"][0][:-2]) >= 3 * float(style["plain"][0][:-2])
    assert style["source"][1] != "none" and style["plain"][1] == "none"
    assert style["edge"][1] != "none" and style["other"][1] == "none"
    assert "▶" in style["row"] and "now" in style["line"]
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        display = driver.execute_script(
            "return getComputedStyle(document.querySelector('.controls')).display")
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert display == "none"


def test_forward_mode_and_our_own_layout(page):
    records = trace_json(SEED, "x=1,w=4", "--mode", "forward")
    result = invoke("lesson", SEED, "--at", "x=1,w=4", "--mode", "forward", "--layout", "own")
    driver = page(result.stdout)
    states, rows = expected_states(records), step_rows(records)
    assert len(states) - 1 == 9 + 8 + 8
    # forwards, then back from the second sweep into the first (its tangents come back: 16)
    for k in [*range(len(states)), *range(len(states) - 1, -1, -3)]:
        check_step(driver, k, states, rows, go=True)


def test_warnings_appear_at_their_nodes_and_steps(page):
    records = trace_json("-", "x=0,y=1", input=KINKS)
    driver = page(invoke("lesson", "-", "--at", "x=0,y=1", input=KINKS).stdout)
    warned = driver.execute_script(
        "return Array.from(document.querySelectorAll('#graph .node.warned')).map("
        "g => [g.dataset.name, g.querySelector('.badge') !== null, "
        "g.querySelector('title').textContent])")
    assert {name for name, _, _ in warned} == {"%1", "%3", "%4"}  # abs(x), log(y - 2), sqrt(x)
    assert all(badge for _, badge, _ in warned)
    states, rows = expected_states(records), step_rows(records)
    k = next(k for k, r in enumerate(rows) if r and r.get("from") == "%4")
    seen = check_step(driver, k, states, rows, go=True)
    assert "Warning: sqrt(a) is not differentiable" in seen["status"]
    assert seen["shown"]["x|b"] == "-inf"


def test_a_few_hundred_statements_step_correctly(page, tmp_path):
    program = random_forms_program(300, seed=3)
    records = trace_json("-", "x=0.5,w=0.3", input=program)
    proc = run_slpdiff("lesson", "-", "--at", "x=0.5,w=0.3", input=program)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    driver = page(proc.stdout)
    states, rows = expected_states(records), step_rows(records)
    last = len(states) - 1
    assert last > 500
    for k in (1, 150, 302, 303, last // 2, last - 1, last, 0):
        check_step(driver, k, states, rows, go=True)


def test_too_large_a_program_gives_a_page_with_the_way_out(page):
    program = random_forms_program(2000, outputs=2)
    driver = page(invoke("lesson", "-", "--at", "x=0.5,w=0.3", input=program).stdout)
    text = driver.find_element("css selector", ".too-large").text
    assert "too large for a lesson page" in text and "--of NAME" in text
    assert not driver.find_elements("id", "graph")


def test_the_lesson_runs_inside_a_notebook_output(page, seed):
    """A notebook shows the lesson in a sandboxed iframe (srcdoc); the keys step inside it."""
    from selenium.webdriver.common.keys import Keys

    from slpdiff.notebook import slp

    cell = slp("lesson --at x=1,w=4", SEED.read_text())
    driver = page(f"<!doctype html><html><body><h1>a notebook</h1>{cell._repr_html_()}"
                  "</body></html>")
    driver.switch_to.frame(driver.find_element("tag name", "iframe"))
    try:
        driver.find_element("tag name", "h1").click()  # as a reader gives it the keys
        for _ in range(14):
            press(driver, Keys.ARROW_RIGHT)
        states, rows = expected_states(seed[1]), step_rows(seed[1])
        check_step(driver, 14, states, rows)
    finally:
        driver.switch_to.default_content()
