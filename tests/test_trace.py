"""``slpdiff trace``: the forward sweep, the reverse sweep's adjoint updates, the tangent sweep.

Every number a trace prints is checked against the engine (``evaluate``'s values and gradient)
and, row by row, against the arithmetic of the method (contribution = adjoint * partial, adjoint
after = adjoint before + contribution) and hand-known partial derivatives; never against a copy of
slpdiff's own output.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import numpy as np
import pytest
from test_primitives import DOMAINS, HAND

import slpdiff
from helpers import EXAMPLES, invoke, random_forms_program, run_slpdiff
from slpdiff.core import engine, tangent
from slpdiff.core.tangent import evaluate_forward
from slpdiff.language.primitives import PRIMITIVES
from slpdiff.teach.tables import latex_escape, trace_tables
from slpdiff.teach.trace import trace

SEED = str(EXAMPLES / "seed.slp")
AT = {"x": 1.0, "w": 4.0}

# The reverse sweep of the seed program written out by hand from its statements, last first:
# v7 = v5 + v6, v6 = v4 * w, v5 = exp(v3), v4 = square(v2), v3 = v1 + v2, v2 = sin(v1), v1 = x * w.
SEED_UPDATES = [
    "v7_bar = 1",
    "v5_bar += v7_bar", "v6_bar += v7_bar",
    "v4_bar += v6_bar * w", "w_bar += v6_bar * v4",
    "v3_bar += v5_bar * v5",
    "v2_bar += v4_bar * 2 * v2",
    "v1_bar += v3_bar", "v2_bar += v3_bar",
    "v1_bar += v2_bar * cos(v1)",
    "x_bar += v1_bar * w", "w_bar += v1_bar * x",
]
SEED_OPERATIONS = ["input", "input", "x * w", "sin(v1)", "v1 + v2", "square(v2)", "exp(v3)",
                   "v4 * w", "v5 + v6"]
SEED_NAMES = ["x", "w", "v1", "v2", "v3", "v4", "v5", "v6", "v7"]


@pytest.fixture(scope="module")
def seed():
    program = slpdiff.parse_file(SEED)
    return program, slpdiff.evaluate(program, AT)


def seed_hand_values():
    """Each node of the seed program at x = 1, w = 4, computed here with math."""
    x, w = 1.0, 4.0
    v1 = x * w
    v2 = math.sin(v1)
    v3 = v1 + v2
    v4 = v2 * v2
    v5 = math.exp(v3)
    v6 = v4 * w
    return {"x": x, "w": w, "v1": v1, "v2": v2, "v3": v3, "v4": v4, "v5": v5, "v6": v6,
            "v7": v5 + v6}


# --- the library: rows are the engine's numbers ------------------------------------------------

def test_forward_rows_are_the_engines_values_in_evaluation_order(seed):
    program, ev = seed
    tr = trace(program, AT)
    assert [r.name for r in tr.forward] == SEED_NAMES
    assert [r.operation for r in tr.forward] == SEED_OPERATIONS
    assert [r.value for r in tr.forward] == list(ev.node_values)  # the very same floats
    hand = seed_hand_values()
    for r in tr.forward:
        assert r.value == pytest.approx(hand[r.name], rel=1e-15)
    # The line each row comes from: the inputs' declaration, then one statement per line.
    text = (EXAMPLES / "seed.slp").read_text().splitlines()
    for r in tr.forward:
        source_line = text[r.line - 1]
        assert source_line.startswith("input") if r.kind == "input" else \
            source_line.startswith(f"{r.name} =")


def test_reverse_rows_follow_the_hand_written_sweep_and_its_arithmetic(seed):
    program, ev = seed
    (sweep,) = trace(program, AT).sweeps
    assert [r.update for r in sweep.rows] == SEED_UPDATES
    assert sweep.rows[0].adjoint == 1.0 and sweep.rows[0].partial is None
    adjoint = {"v7": 1.0}
    for r in sweep.rows[1:]:
        assert r.contribution == adjoint[r.source] * r.partial  # exactly the product
        assert r.adjoint == adjoint.get(r.node, 0.0) + r.contribution
        adjoint[r.node] = r.adjoint
    # The last value of each input's adjoint is the gradient eval prints, bit for bit.
    assert adjoint["x"] == ev.gradient["v7"]["x"] and adjoint["w"] == ev.gradient["v7"]["w"]
    assert sweep.derivatives == ev.gradient["v7"]


def test_reverse_partials_are_the_hand_known_rules(seed):
    program, _ = seed
    h = seed_hand_values()
    expected = {"v7_bar": None, "v5_bar += v7_bar": 1.0, "v6_bar += v7_bar": 1.0,
                "v4_bar += v6_bar * w": h["w"], "w_bar += v6_bar * v4": h["v4"],
                "v3_bar += v5_bar * v5": math.exp(h["v3"]),
                "v2_bar += v4_bar * 2 * v2": 2 * h["v2"], "v1_bar += v3_bar": 1.0,
                "v2_bar += v3_bar": 1.0, "v1_bar += v2_bar * cos(v1)": math.cos(h["v1"]),
                "x_bar += v1_bar * w": h["w"], "w_bar += v1_bar * x": h["x"]}
    for r in trace(program, AT).sweeps[0].rows[1:]:
        assert r.partial == pytest.approx(expected[r.update], rel=1e-15), r.update


def test_the_record_hook_changes_nothing_in_the_sweep(seed):
    program, ev = seed
    calls = []
    with_hook = engine.adjoints(program, ev.node_values, program.output_index[0],
                                record=lambda *a: calls.append(a))
    without = engine.adjoints(program, ev.node_values, program.output_index[0])
    assert with_hook == without and len(calls) == len(SEED_UPDATES) - 1


def test_tangent_sweep_rows_and_derivatives(seed):
    program, ev = seed
    tr = trace(program, AT, mode="forward")
    assert [s.of for s in tr.sweeps] == ["x", "w"]
    x_sweep, w_sweep = tr.sweeps
    assert [r.update for r in w_sweep.rows] == [
        "w_dot = 1", "v1_dot = w_dot * x", "v2_dot = v1_dot * cos(v1)", "v3_dot = v1_dot + v2_dot",
        "v4_dot = v2_dot * 2 * v2", "v5_dot = v3_dot * v5",
        "v6_dot = v4_dot * w + w_dot * v4", "v7_dot = v5_dot + v6_dot"]
    # With x seeded, w's tangent is 0, so v6's term w_dot * v4 is not there.
    assert "v6_dot = v4_dot * w" in [r.update for r in x_sweep.rows]
    for sweep in tr.sweeps:
        reverse = ev.gradient["v7"][sweep.of]
        assert sweep.derivatives["v7"] == pytest.approx(reverse, rel=1e-14)
        # Each row's value is the sum of its terms, each term a tangent times a partial.
        tangent = {sweep.of: 1.0}
        for r in sweep.rows[1:]:
            for t in r.terms:
                assert t.value == tangent[t.argument] * t.partial
            assert r.value == pytest.approx(sum(t.value for t in r.terms), rel=1e-15)
            tangent[r.node] = r.value


@pytest.mark.parametrize("name", sorted(HAND))
def test_every_rule_in_a_trace_matches_hand_known_partials(name):
    prim = PRIMITIVES[name]
    params = [f"a{k}" for k in range(prim.arity)]
    program = slpdiff.parse(f"input {', '.join(params)}\ny = {name}({', '.join(params)})")
    for args, _, partials in HAND[name]:
        at = dict(zip(params, args, strict=True))
        reverse = {r.node: r.partial for r in trace(program, at).sweeps[0].rows[1:]}
        forward = trace(program, at, mode="forward")
        for k, p in enumerate(params):
            if partials[k] != 0.0 or p in reverse:  # a rule that is the number 0 makes no update
                assert reverse[p] == pytest.approx(partials[k], rel=1e-15, abs=1e-300)
            assert forward.sweeps[k].derivatives["y"] == pytest.approx(partials[k], rel=1e-15,
                                                                       abs=1e-300)


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_forward_mode_equals_reverse_mode_for_every_primitive(name):
    prim = PRIMITIVES[name]
    params = [f"a{k}" for k in range(prim.arity)]
    program = slpdiff.parse(f"input {', '.join(params)}\ny = {name}({', '.join(params)})")
    for args in DOMAINS[name]:
        at = dict(zip(params, args, strict=True))
        reverse = slpdiff.evaluate(program, at).gradient["y"]
        for sweep in trace(program, at, mode="forward").sweeps:
            assert sweep.derivatives["y"] == pytest.approx(reverse[sweep.of], rel=1e-15,
                                                           abs=1e-300)


# Smooth primitives only, arguments kept where they are smooth (exp of a small number).
SMOOTH = ["sin({a})", "cos({a})", "tanh({a})", "sigmoid({a})", "softplus({a})", "atan({a})",
          "exp({a} * 0.3)", "add(sin({a}), {b})", "subtract(sin({a}), {b})",
          "multiply(sin({a}), {b})", "hypot(sin({a}), {b})", "atan2(sin({a}), {b})"]


@pytest.mark.parametrize("seed_number", range(8))
def test_tangent_and_reverse_agree_on_random_programs(seed_number):
    program = slpdiff.parse(random_forms_program(25, seed_number, SMOOTH, ("x", "y", "z"),
                                                 recent=99, outputs=2))
    at = {"x": 0.3, "y": -0.7, "z": 1.1}
    ev = slpdiff.evaluate(program, at)
    tr = trace(program, at, mode="forward")
    for sweep in tr.sweeps:
        for out, value in sweep.derivatives.items():
            assert value == pytest.approx(ev.gradient[out][sweep.of], rel=1e-12, abs=1e-14)
    rtr = trace(program, at)
    assert [s.of for s in rtr.sweeps] == program.output_names
    for sweep in rtr.sweeps:
        assert sweep.derivatives == ev.gradient[sweep.of]


def test_forward_mode_trace_has_the_numbers_of_eval_mode_forward(seed):
    program, _ = seed
    ev = evaluate_forward(program, AT)
    tr = trace(program, AT, mode="forward")
    assert [r.value for r in tr.forward] == list(ev.node_values)
    for sweep in tr.sweeps:
        assert sweep.derivatives == {"v7": ev.gradient["v7"][sweep.of]}
        (last,) = [r for r in sweep.rows if r.node == "v7"]
        assert last.value == ev.gradient["v7"][sweep.of]  # the sweep's own last row, bit for bit
    proc = run_slpdiff("eval", SEED, "--at", "x=1,w=4", "--mode", "forward")
    assert proc.stdout.splitlines()[1:] == trace_text_derivatives(tr)


def trace_text_derivatives(tr):
    return [line for table in trace_tables(tr)[1:] for line in table.footer]


def test_the_record_hook_changes_nothing_in_the_tangent_sweep(seed):
    program, ev = seed
    x = program.input_index[0]
    inputs = [1.0, 4.0]
    calls = []
    plain = tangent.sweep(program, inputs, {x: np.ones(1)}, 1)
    hooked = tangent.sweep(program, inputs, {x: np.ones(1)}, 1, record=lambda *a: calls.append(a))
    assert all(np.array_equal(a, b) for a, b in zip(plain.tangents, hooked.tangents, strict=True)
               if a is not None) and len(calls) == 9


# --- names of intermediates --------------------------------------------------------------------

def test_nested_expressions_get_marked_names_that_never_collide():
    # Program names that look like generated names or adjoints must stay distinct.
    text = "input x, w\nt1 = x * 2\ny = sin(x*w) + t1 - 3 * x^-2\nx_bar = y * 2"
    program = slpdiff.parse(text)
    tr = trace(program, AT, wrt=["x"])
    names = [r.name for r in tr.forward]
    assert names == ["x", "w", "t1", "%1", "%2", "%3", "%4", "%5", "y", "x_bar"]
    generated = [r for r in tr.forward if r.generated]
    assert [r.name for r in generated] == ["%1", "%2", "%3", "%4", "%5"]
    ops = {r.name: r.operation for r in tr.forward}
    assert ops["t1"] == "x * 2.0"
    assert ops["%1"] == "x * w" and ops["%2"] == "sin(%1)" and ops["%3"] == "%2 + t1"
    assert ops["%4"] == "x ^ (-2.0)" and ops["%5"] == "3.0 * %4"
    assert ops["y"] == "%3 - %5" and ops["x_bar"] == "y * 2.0"
    # Every generated intermediate's line is the line of the statement it is part of.
    assert {r.line for r in generated} == {3}
    # x_bar is a program name, so adjoints take a longer suffix: x_bar_ for x, x_bar_bar_ ...
    updates = [r.update for r in tr.sweeps[0].rows]
    assert updates[0] == "x_bar_bar_ = 1"
    assert "x_bar_ += %4_bar_ * (-2.0) * x^((-2.0) - 1)" in updates
    assert all("x_bar " not in u for u in updates)
    ev = slpdiff.evaluate(program, AT, wrt=["x"])
    assert [r.value for r in tr.forward] == [ev.node_values[r.position] for r in tr.forward]
    assert tr.sweeps[0].derivatives == ev.gradient["x_bar"]


def test_rules_are_grouped_so_the_update_reads_right():
    program = slpdiff.parse("input a, b\nq = a / (b + 1)\nr = atan2(q, a)\ns = r * cos(b)")
    updates = [r.update for r in trace(program, {"a": 2.0, "b": 3.0}).sweeps[0].rows]
    assert "q_bar += r_bar * a / (a^2 + q^2)" in updates
    # A negated rule is a subtraction, and 1 / d a division, as the book writes them; the
    # quotient's rule names the quotient itself (q), which the engine does not compute again.
    assert "a_bar -= r_bar * q / (a^2 + q^2)" in updates
    assert "a_bar += q_bar / %1" in updates
    assert "%1_bar -= q_bar * q / %1" in updates
    assert "b_bar -= %2_bar * sin(b)" in updates


def test_rules_that_use_the_value_already_computed_name_it():
    program = slpdiff.parse("input x\nex = exp(x)\nt = tanh(ex)\nh = hypot(t, x)\n"
                            "s = sigmoid(h)\nq = x / s")
    rows = trace(program, {"x": 0.5}).sweeps[0].rows
    updates = [r.update for r in rows]
    assert "x_bar += ex_bar * ex" in updates
    assert "ex_bar += t_bar * (1 - t^2)" in updates
    assert "t_bar += h_bar * t / h" in updates
    assert "h_bar += s_bar * s * (1 - s)" in updates
    assert "s_bar -= q_bar * q / s" in updates
    # The partials are the engine's, and equal the rules written with the values named.
    ev = slpdiff.evaluate(program, {"x": 0.5})
    value = dict(zip(["x", "ex", "t", "h", "s", "q"], ev.node_values, strict=True))
    by_update = {r.update: r.partial for r in rows}
    assert by_update["x_bar += ex_bar * ex"] == value["ex"]
    assert by_update["s_bar -= q_bar * q / s"] == -value["q"] / value["s"]
    assert by_update["h_bar += s_bar * s * (1 - s)"] == value["s"] * (1 - value["s"])


def test_alias_outputs_and_inputs_as_outputs():
    program = slpdiff.parse("input x, w\nv = x * w\ny = v\noutput y, x")
    tr = trace(program, AT)
    assert [(s.of, s.node) for s in tr.sweeps] == [("y", "v"), ("x", "x")]
    assert tr.sweeps[1].rows[0].update == "x_bar = 1" and len(tr.sweeps[1].rows) == 1
    assert tr.sweeps[1].derivatives == {"x": 1.0, "w": 0.0}
    text = invoke("trace", "-", "--at", "x=1,w=4", input="input x, w\nv = x * w\ny = v\n"
                  "output y").stdout
    assert "Reverse sweep for y (= v)" in text


def test_var_api_graphs_trace_too():
    x, w = slpdiff.Var(value=1.0), slpdiff.Var(value=4.0)
    y = slpdiff.sin(x * w) + x
    program = slpdiff.Program.from_outputs([y])
    tr = trace(program, {"x0": 1.0, "x1": 4.0})
    assert [r.name for r in tr.forward] == ["x0", "x1", "%1", "%2", "%3"]
    assert [r.line for r in tr.forward] == [0] * 5


# --- the formats ---------------------------------------------------------------------------------

def _text_tables(text):
    """{title: rows (cells split on 2+ spaces)} and the lines after each table."""
    tables = {}
    title = None
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            title = line[:-1]
            tables[title] = {"rows": [], "after": []}
        elif line.startswith("  ") and title:
            tables[title]["rows"].append(re.split(r"\s{2,}", line.strip()))
        elif line and title:
            tables[title]["after"].append(line)
    return tables


def test_text_trace_of_the_seed_fits_80_columns_and_has_the_engines_numbers(seed):
    program, ev = seed
    proc = run_slpdiff("trace", SEED, "--at", "x=1,w=4")
    assert proc.returncode == 0 and proc.stderr == ""
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    tables = _text_tables(proc.stdout)
    forward, reverse = tables.values()
    header, rule, *rows = forward["rows"]
    assert header == ["node", "operation", "value", "line"] and set(rule[0]) == {"-"}
    assert [r[0] for r in rows] == SEED_NAMES and [r[1] for r in rows] == SEED_OPERATIONS
    assert [float(r[2]) for r in rows] == [float(v) for v in ev.node_values]
    header, _, *rows = reverse["rows"]
    assert header == ["#", "adjoint update", "local partial", "adjoint after"]
    assert [r[1] for r in rows] == SEED_UPDATES
    assert [int(r[0]) for r in rows] == list(range(len(SEED_UPDATES)))
    rows_lib = trace(program, AT).sweeps[0].rows
    assert [float(r[-1]) for r in rows] == [float(r.adjoint) for r in rows_lib]
    assert [float(r[2]) for r in rows[1:]] == [float(r.partial) for r in rows_lib[1:]]
    # It ends with the gradient, exactly as eval prints it.
    eval_lines = run_slpdiff("eval", SEED, "--at", "x=1,w=4").stdout.splitlines()
    assert reverse["after"] == eval_lines[1:]


def test_markdown_trace_is_github_tables_with_the_engines_numbers(seed):
    program, ev = seed
    result = invoke("trace", SEED, "--at", "x=1,w=4", "--format", "markdown")
    assert result.exit_code == 0
    tables = []
    for line in result.stdout.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if not tables or tables[-1]["done"]:
                tables.append({"header": cells, "rows": [], "done": False})
            elif all(re.fullmatch(r"-+:?", c) for c in cells):
                assert len(cells) == len(tables[-1]["header"])
            else:
                assert len(cells) == len(tables[-1]["header"])
                tables[-1]["rows"].append(cells)
        elif tables:
            tables[-1]["done"] = True
    forward, reverse = tables
    assert forward["header"] == ["node", "operation", "value", "line"]
    assert [r[0] for r in forward["rows"]] == [f"`{n}`" for n in SEED_NAMES]
    assert [float(r[2]) for r in forward["rows"]] == [float(v) for v in ev.node_values]
    assert [r[1] for r in reverse["rows"]] == [f"`{u}`" for u in SEED_UPDATES]
    assert "**Reverse sweep for v7: v\\_bar = d v7/d v, each starting at 0**" in result.stdout
    g = ev.gradient["v7"]
    assert f"- d v7/d x = {float(g['x'])!r}" in result.stdout


def _latex_structure_errors(tex: str) -> list[str]:
    """Problems that would stop a tabular from compiling: unbalanced braces or environments,
    rows with the wrong number of cells, special characters left unescaped."""
    errors = []
    body = re.sub(r"(?<!\\)%.*$", "", tex, flags=re.M)  # comments
    math = re.findall(r"(?<!\\)\$(.*?)(?<!\\)\$", body)
    body = re.sub(r"(?<!\\)\$(.*?)(?<!\\)\$", "MATH", body)  # formulas: checked by TeX itself
    depth = 0
    for c in re.sub(r"\\[{}%&_#$]", "", body):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            errors.append("unbalanced }")
    if depth:
        errors.append("unbalanced {")
    envs = re.findall(r"\\(begin|end)\{tabular\}(?:\{([lrc]+)\})?", body)
    if [e[0] for e in envs] != ["begin", "end"] * (len(envs) // 2) or not envs:
        errors.append(f"tabular environments do not pair up: {envs}")
    for table in re.findall(r"\\begin\{tabular\}\{([lrc]+)\}(.*?)\\end\{tabular\}", body, re.S):
        columns, content = table
        for row in content.split(r"\\")[:-1]:
            row = row.replace(r"\hline", "").strip()
            if not row or row.startswith(r"\multicolumn"):
                continue
            cells = len(re.findall(r"(?<!\\)&", row)) + 1
            if cells != len(columns):
                errors.append(f"row with {cells} cells in a {len(columns)}-column tabular: {row}")
    stripped = re.sub(r"\\\\|\\[{}%&_#$]|\\[A-Za-z]+", "", body)
    unescaped = re.findall(r"[_%#$^~\\]", stripped)
    if unescaped:
        errors.append(f"unescaped special characters: {unescaped}")
    commands = set(re.findall(r"\\([A-Za-z]+)", body + " ".join(math)))
    allowed = {"begin", "end", "hline", "multicolumn", "texttt", "textbackslash",
               "textasciicircum", "textasciitilde", "textless", "textgreater", "par",
               "noindent", "smallskip", "parbox", "raggedright", "setlength", "tabcolsep",
               # in formulas: plain LaTeX's own
               "bar", "dot", "cdot", "mathrel", "mathrm", "mathtt", "partial", "sqrt", "left",
               "right", "vert", "sin", "cos", "tan", "exp", "log", "sinh", "cosh", "tanh",
               "arcsin", "arccos", "arctan", "allowbreak"}
    if commands - allowed:
        errors.append(f"commands that need a package or are unknown: {commands - allowed}")
    return errors


LATEX_ENGINES = [e for e in ("pdflatex", "lualatex", "xelatex") if shutil.which(e)]


@pytest.mark.parametrize("text", [
    "input x, w\nv1 = x * w\nv2 = sin(v1)\nv3 = v1 + v2\nv4 = square(v2)\nv5 = exp(v3)\n"
    "v6 = v4 * w\nv7 = v5 + v6",
    "input x, w\nx_bar = sin(x*w) + x^-2\ny = x_bar * 2",
])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_latex_trace_is_a_tabular_that_compiles(text, mode, tmp_path):
    result = invoke("trace", "-", "--at", "x=1,w=4", "--format", "latex", "--mode", mode,
                    input=text)
    assert result.exit_code == 0
    tex = result.stdout
    assert _latex_structure_errors(tex) == []
    program = slpdiff.parse(text)
    ev = slpdiff.evaluate(program, AT)
    for i, v in enumerate(ev.node_values):
        if not program.is_const(i):  # constants are written inside the operations that use them
            assert rf"\texttt{{{float(v)!r}}}" in tex
    if not LATEX_ENGINES:
        return
    (tmp_path / "trace.tex").write_text(tex)
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\begin{document}\n"
                                      "\\input{trace.tex}\n\\end{document}\n")
    proc = subprocess.run([LATEX_ENGINES[0], "-interaction=nonstopmode", "-halt-on-error",
                           "doc.tex"], cwd=tmp_path, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stdout.decode(errors="replace")[-2000:]


def test_the_latex_checker_catches_what_breaks_latex():
    good = "\\begin{tabular}{ll}\na & \\texttt{b\\_c} \\\\\n\\end{tabular}\n"
    assert _latex_structure_errors(good) == []
    assert _latex_structure_errors(good.replace("\\_", "_"))
    assert _latex_structure_errors(good.replace("a & ", "a & x & "))
    assert _latex_structure_errors(good.replace("\\end{tabular}", ""))
    assert _latex_structure_errors(good.replace("{b", "{{b"))
    assert _latex_structure_errors(good.replace("\\texttt", "\\verb"))


def test_latex_escape_handles_every_special_character():
    assert latex_escape("a_b%c#d&e$f^g~h\\i{j}k<l>") == (
        r"a\_b\%c\#d\&e\$f\textasciicircum{}g\textasciitilde{}h\textbackslash{}i\{j\}k"
        r"\textless{}l\textgreater{}")


def test_json_trace_is_a_list_of_row_objects_with_the_engines_numbers(seed):
    program, ev = seed
    proc = run_slpdiff("trace", SEED, "--at", "x=1,w=4", "--format", "json")
    assert proc.returncode == 0
    rows = json.loads(proc.stdout)
    assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
    forward = [r for r in rows if r["table"] == "forward"]
    reverse = [r for r in rows if r["table"] == "reverse"]
    derivative = [r for r in rows if r["table"] == "derivative"]
    assert len(forward) + len(reverse) + len(derivative) == len(rows)
    assert [r["node"] for r in forward] == SEED_NAMES
    assert [r["value"] for r in forward] == [float(v) for v in ev.node_values]
    assert [r["update"] for r in reverse] == SEED_UPDATES
    for r in reverse[1:]:
        assert r["output"] == "v7" and r["contribution"] is not None
    assert reverse[3]["from"] == "v6" and reverse[3]["argument"] == 0 and reverse[3]["rule"] == "w"
    assert {(r["input"], r["value"]) for r in derivative} == {
        (k, float(v)) for k, v in ev.gradient["v7"].items()}
    assert rows[-1]["table"] == "derivative"  # it ends with the gradient


def test_json_forward_mode_has_terms():
    rows = json.loads(invoke("trace", SEED, "--at", "x=1,w=4", "--format", "json", "--mode",
                             "forward", "--wrt", "w").stdout)
    tangent = [r for r in rows if r["table"] == "tangent"]
    (v6,) = [r for r in tangent if r["node"] == "v6"]
    assert [(t["argument"], t["rule"]) for t in v6["terms"]] == [("v4", "w"), ("w", "v4")]
    assert v6["value"] == sum(t["term"] for t in v6["terms"])
    assert {r["input"] for r in tangent} == {"w"}


def test_nonfinite_values_are_printed_and_warned_about():
    proc = run_slpdiff("trace", "-", "--at", "x=0", "--format", "json", input="y = log(x)\n")
    assert proc.returncode == 0
    assert "non-finite value -inf from log" in proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["value"] for r in rows if r["table"] == "forward"] == [0.0, "-inf"]


# --- options and errors --------------------------------------------------------------------------

def test_wrt_and_of_choose_the_sweeps():
    text = "input a, b\np = a * b\nq = a + sin(b)\noutput p, q"
    result = invoke("trace", "-", "--at", "a=2,b=3", "--of", "q", "--wrt", "b", input=text)
    assert result.exit_code == 0
    assert "Reverse sweep for q" in result.stdout and "Reverse sweep for p" not in result.stdout
    assert "d q/d b = " in result.stdout and "d q/d a" not in result.stdout
    assert "a_bar" not in result.stdout  # a is not differentiated: no update reaches it
    result = invoke("trace", "-", "--at", "a=2,b=3", "--mode", "forward", "--wrt", "a",
                    input=text)
    assert "Tangent sweep for a" in result.stdout and "Tangent sweep for b" not in result.stdout
    assert "d p/d a = 3.0" in result.stdout and "d q/d a = 1.0" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--at", "x=1"], "no value for input 'w'"),
    (["--at", "x=1,w=4", "--wrt", "v"], "'v' is not an input of the program; the program's "
     "inputs are: x, w"),
    (["--at", "x=1,w=4", "--of", "v1"], "'v1' is not an output of the program; the program's "
     "outputs are: v7"),
    (["--at", "x=1,w=4", "--mode", "sideways"], "'sideways' is not one of"),
    (["--at", "x=1,w=4", "--format", "xml"], "'xml' is not one of"),
])
def test_bad_options_exit_2_with_one_message(args, message):
    proc = run_slpdiff("trace", SEED, *args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_bad_program_is_reported_with_a_caret():
    proc = run_slpdiff("trace", "-", "--at", "x=1", input="y = sinn(x)\n")
    assert proc.returncode == 2
    assert proc.stderr.startswith("slpdiff: error: <stdin>:1:5: unknown function 'sinn'")


def test_a_program_without_inputs_traces_its_values():
    result = invoke("trace", "-", input="y = 3 * pi")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Forward sweep:" and "y_bar = 1" in result.stdout
    assert lines[3].split() == ["y", "3.0", "*", repr(math.pi), repr(3 * math.pi), "1"]


def test_mode_is_checked_by_the_library():
    with pytest.raises(ValueError):
        trace(slpdiff.parse("y = x"), {"x": 1.0}, mode="sideways")


def test_trace_values_equal_eval_for_every_example():
    for path in sorted(EXAMPLES.glob("*.slp")):
        program = slpdiff.parse_file(path)
        at = {name: 0.5 + 0.25 * k for k, name in enumerate(program.input_names)}
        ev = slpdiff.evaluate(program, at)
        tr = trace(program, at)
        for sweep in tr.sweeps:
            assert sweep.derivatives == ev.gradient[sweep.of]
            last = {}
            for r in sweep.rows:
                last[r.node] = r.adjoint
            for name in program.input_names:
                assert last.get(name, 0.0) == ev.gradient[sweep.of][name]
        assert all(np.array_equal(r.value, ev.node_values[r.position]) for r in tr.forward)
