"""``slpdiff exercise``: blanks to fill in, the key, a point per student; and ``slpdiff cost`` and
``slpdiff eliminate``: the operations of the sweeps counted, vertex elimination in several orders,
each order's Jacobian against the engine's."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from test_book import compile_in_beamer, needs_tex, overfull_width

import slpdiff
from helpers import EXAMPLES, invoke, random_program, run_slpdiff
from slpdiff.teach.counts import count
from slpdiff.teach.elimination import eliminate, linearized_graph, order_from_names
from slpdiff.teach.exercise import Answer, Blank, exercise, student_point
from slpdiff.teach.notation import shown
from slpdiff.teach.trace import trace

BOOK = str(EXAMPLES / "griewank.slp")
SEED = str(EXAMPLES / "seed.slp")
AT = {"x1": 1.5, "x2": 0.5}


# --- exercises -----------------------------------------------------------------------------------

def _cells(tables, kind):
    return [(t, r, j) for t, table in enumerate(tables) for r, row in enumerate(table.rows)
            for j, cell in enumerate(row) if isinstance(cell, kind)]


def test_blanks_and_key_agree_and_the_key_holds_the_engines_numbers():
    program = slpdiff.parse_file(BOOK)
    ex = exercise(program, AT, seed="alice", blank=0.5)
    blanks, answers = _cells(ex.tables, Blank), _cells(ex.key, Answer)
    assert blanks == answers and blanks
    numbers = [(t, r, j) for t, table in enumerate(ex.key) for r, row in enumerate(table.rows)
               for j, cell in enumerate(row) if j and (isinstance(cell, Answer) or
                                                      re.fullmatch(r"-?[\d.]+(e[-+]\d+)?",
                                                                   str(cell)))]
    assert 0.3 < len(blanks) / len(numbers) < 0.7
    # Every answer is the engine's number at the student's point, rounded for display.
    tr = trace(program, ex.at)
    expected = {shown(r.value, 4) for r in tr.forward} | {
        shown(r.adjoint, 4) for r in tr.sweeps[0].rows} | {
        shown(r.partial, 4) for r in tr.sweeps[0].rows if r.partial is not None}
    assert {ex.key[t].rows[r][j].text for t, r, j in answers} <= expected
    # The inputs' values are given, never blank; the derivatives at the end always are.
    assert all(ex.tables[0].rows[r][2] != Blank() for r in range(2))
    assert ex.tables[1].footer == ["d v6/d x1 = ________", "d v6/d x2 = ________"]
    assert ex.key[1].footer == [f"d v6/d x1 = {shown(tr.sweeps[0].derivatives['x1'], 4)}",
                                f"d v6/d x2 = {shown(tr.sweeps[0].derivatives['x2'], 4)}"]


def test_each_student_gets_a_point_of_their_own_reproducibly():
    program = slpdiff.parse_file(BOOK)
    alice = student_point(program, AT, "alice")
    assert alice == student_point(program, AT, "alice")
    assert alice != student_point(program, AT, "bob")
    assert all(abs(alice[k] - AT[k]) <= 0.3 * abs(AT[k]) + 0.005 for k in AT)
    assert all(round(v, 2) == v for v in alice.values())
    assert student_point(program, AT, None) == AT
    a = invoke("exercise", BOOK, "--at", "x1=1.5,x2=0.5", "--seed", "alice").stdout
    assert a == invoke("exercise", BOOK, "--at", "x1=1.5,x2=0.5", "--seed", "alice").stdout
    assert a != invoke("exercise", BOOK, "--at", "x1=1.5,x2=0.5", "--seed", "17").stdout


def test_exercise_through_the_command_with_its_key(tmp_path):
    key = tmp_path / "key.md"
    proc = run_slpdiff("exercise", SEED, "--at", "x=1,w=4", "--mode", "forward", "--seed", "7",
                       "--format", "markdown", "--key", key)
    assert proc.returncode == 0 and proc.stderr == ""
    assert "\\_\\_\\_\\_" in proc.stdout and "**" in key.read_text()
    assert proc.stdout.count("|") == key.read_text().count("|")
    none = invoke("exercise", SEED, "--at", "x=1,w=4", "--blank", "0")
    assert "________" not in "\n".join(ln for ln in none.stdout.splitlines()
                                       if not ln.startswith("d "))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("notation", ["program", "book"])
def test_exercise_latex_fits_a_slide(mode, notation, tmp_path):
    needs_tex()
    for name in ("exercise", "key"):
        ex = exercise(slpdiff.parse_file(BOOK), AT, mode, "alice", notation=notation)
        from slpdiff.teach.tables import render

        for table in getattr(ex, "tables" if name == "exercise" else "key"):
            log = compile_in_beamer(render([table], "latex"), tmp_path)
            assert overfull_width(log) == []


def test_exercise_options_are_checked():
    bad = invoke("exercise", SEED, "--at", "x=1,w=4", "--blank", "1.5")
    assert bad.exit_code == 2 and "--blank" in bad.stderr


# --- operation counts ----------------------------------------------------------------------------

def test_counts_of_the_seed_by_hand():
    c = count(slpdiff.parse_file(SEED))
    assert c.forward == 7
    # Terms of the reverse sweep (trace's rows 1-11): rules 1 cost nothing, x*w's rules a
    # multiplication each, square's 2 * v2 one operation and a multiplication, exp's and sin's
    # (own value; cos) 1 + 1; plus an addition for each adjoint's second term (v1, v2, w).
    #   v5 0, v6 0, v4 1, w 1, v3 1, v2 2, v1 0, v2 0+1, v1 2+1, x 1, w 1+1
    assert c.reverse == {"v7": 12}
    assert c.tape == {"v7": 6}  # the values the rules read: x, w, v1, v2, v4 and v5 (exp)
    assert c.adjoints == {"v7": 9}
    assert c.jacobian_reverse == 19
    assert c.tangent["x"] > 0 and c.jacobian_forward == 14 + sum(c.tangent.values())


def test_counts_through_the_command():
    proc = run_slpdiff("cost", BOOK)
    assert proc.returncode == 0 and proc.stderr == ""
    assert re.search(r"reverse sweep for v6 +14 +2\.33 +5 +8", proc.stdout)
    assert "cheap gradient principle" in proc.stdout
    data = json.loads(invoke("cost", BOOK, "--format", "json").stdout)
    assert data["forward"] == 6 and data["jacobian"]["reverse"] == 20


def test_reverse_mode_is_cheaper_for_many_inputs():
    c = count(slpdiff.parse_file(str(EXAMPLES / "speelpenning.slp")))
    assert c.jacobian_reverse < c.jacobian_forward
    assert max(c.reverse.values()) / c.forward <= 14


# --- vertex elimination ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_every_order_gives_the_engines_jacobian(seed):
    program = slpdiff.parse(random_program(20, n_outputs=2, seed=seed))
    at = {"x": 0.3, "y": 0.6, "z": 0.9}
    with np.errstate(all="ignore"):
        graph = linearized_graph(program, at)
        ev = slpdiff.evaluate(program, at)
        rng = np.random.default_rng(seed)
        shuffled = list(graph.intermediates)
        rng.shuffle(shuffled)
        for order in ("forward", "reverse", "markowitz", shuffled):
            result = eliminate(graph, order)
            for out, row in result.jacobian.items():
                for x, value in row.items():
                    expected = float(ev.gradient[out][x])
                    if np.isfinite(expected):
                        assert float(value) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_elimination_counts_by_hand():
    # x -> a -> b -> y with x also into b. Forward: a (1 x 1, added to the edge x -> b), then b
    # (1 x 1, a new edge x -> y). Reverse: b (2 predecessors x 1 successor, two new edges), then
    # a (1 x 1, added to x -> y).
    program = slpdiff.parse("input x\na = sin(x)\nb = a * x\ny = exp(b)")
    graph = linearized_graph(program)
    assert [graph.names[j] for j in graph.intermediates] == ["a", "b"]
    forward, backward = eliminate(graph, "forward"), eliminate(graph, "reverse")
    assert (forward.multiplications, forward.additions, forward.fill_in) == (2, 1, 1)
    assert (backward.multiplications, backward.additions, backward.fill_in) == (3, 1, 2)
    assert eliminate(graph, "markowitz").multiplications == 2


def test_eliminate_through_the_command():
    proc = run_slpdiff("eliminate", BOOK, "--at", "x1=1.5,x2=0.5", "--order", "v3,v1,v2,v4,v5")
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert re.match(r"  forward +13 ", lines[3]) and re.match(r"  reverse +8 ", lines[4])
    assert "each order's Jacobian equals eval's" in proc.stdout
    assert "v3, v1, v2, v4, v5" in proc.stdout
    bad = invoke("eliminate", BOOK, "--order", "v1,v2")
    assert bad.exit_code == 2 and "missing: v3, v4, v5" in bad.stderr
    program = slpdiff.parse_file(BOOK)
    with pytest.raises(slpdiff.errors.InputError, match="not an intermediate"):
        order_from_names(linearized_graph(program), ["x1"])
