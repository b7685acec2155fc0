"""The seed reproduced: its own script on slpdiff's Var API, and the same run through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import slpdiff
from helpers import DATA, EXAMPLES, close, run_slpdiff, seed_rows

SEED_ARGS = ["optimize", EXAMPLES / "seed.slp", "--at", "x=1,w=4", "--wrt", "w", "--lr", "0.1",
             "--steps", "30"]


def test_seed_script_on_slpdiff_prints_the_seed_output():
    # The seed's main block, unchanged, with `from slpdiff import Var, add, ...` in place of its
    # own definitions.
    proc = subprocess.run([sys.executable, DATA / "seed_main.py"], capture_output=True, text=True,
                          check=True)
    got = proc.stdout.splitlines()
    expected = (DATA / "seed_expected_output.txt").read_text().splitlines()
    assert len(got) == len(expected) == 31
    for g, e in zip(got, expected, strict=True):
        g_fields = [float(p.split("=")[1]) for p in g.split(", ")]
        e_fields = [float(p.split("=")[1]) for p in e.split(", ")]
        assert all(close(a, b) for a, b in zip(g_fields, e_fields, strict=True)), (g, e)


def test_optimize_text_reproduces_the_seed_steps_and_evaluates_the_final_point():
    proc = run_slpdiff(*SEED_ARGS)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rows = seed_rows()
    for k, (w, v7, g) in enumerate(rows[:30]):
        assert lines[k].startswith(f"step {k}: ")
        fields = dict(part.split(" = ") for part in lines[k].split(": ", 1)[1].split(", "))
        assert close(float(fields["w"]), w) and close(float(fields["v7"]), v7)
        assert close(float(fields["d v7/d w"]), g), (k, lines[k])
    assert lines[30] == "stopped: max_steps after 30 steps"
    final = dict(part.split(" = ") for part in lines[31].removeprefix("final: ").split(", "))
    w_final = float(final["w"])
    assert close(w_final, rows[30][0])
    # The value printed is the value AT the final point, not the seed's stale one.
    at_final = slpdiff.evaluate(slpdiff.parse_file(str(EXAMPLES / "seed.slp")),
                                {"x": 1.0, "w": w_final})
    assert float(final["v7"]) == at_final.values["v7"]
    assert float(final["d v7/d w"]) == at_final.gradient["v7"]["w"]
    assert float(final["v7"]) != rows[30][1]


def test_optimize_json_reproduces_the_seed_steps():
    proc = run_slpdiff(*SEED_ARGS, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(objects) == 31
    for k, (w, v7, g) in enumerate(seed_rows()[:30]):
        obj = objects[k]
        assert obj["step"] == k
        assert list(obj["at"]) == ["x", "w"] and obj["at"]["x"] == 1.0
        assert close(obj["at"]["w"], w) and close(obj["value"]["v7"], v7)
        assert close(obj["gradient"]["v7"]["w"], g)
    final = objects[30]
    assert final["status"] == "max_steps" and final["steps"] == 30
    assert close(final["at"]["w"], seed_rows()[30][0])


def test_library_gradient_descent_reproduces_the_seed():
    program = slpdiff.parse_file(str(EXAMPLES / "seed.slp"))
    seen = []
    run = slpdiff.gradient_descent(program, {"x": 1, "w": 4}, wrt=["w"], lr=0.1, steps=30,
                                   callback=seen.append)
    assert [s.index for s in seen] == list(range(30))
    for step, (w, v7, g) in zip(seen, seed_rows()[:30], strict=True):
        assert close(step.at["w"], w) and close(step.value, v7) and close(step.gradient["w"], g)
    assert run.status == "max_steps" and run.steps == 30
    assert close(run.final.at["w"], seed_rows()[30][0])


def test_subtract_works_unlike_the_seed():
    x, y = slpdiff.Var(value=5.0), slpdiff.Var(value=3.0)
    d = slpdiff.subtract(x, y)
    d.forward()
    d.backward()
    assert (d.value, x.deriv, y.deriv) == (2.0, 1.0, -1.0)
