"""``slpdiff gradbench``: GradBench's protocol, and each eval's program against plain numpy.

GradBench itself is not here (nothing of its code is in this repository, and CI cannot reach it):
the protocol is tested with exchanges written below, through the installed command, and each
eval's primal and derivative at small sizes against an independent numpy implementation of the
eval's math (the derivative analytic where it is short, else central differences of the numpy
primal).
"""

from __future__ import annotations

import json
import math
import os
import select
import subprocess

import numpy as np
import pytest
from scipy.special import multigammaln

from helpers import SLPDIFF, exit_status, invoke, run_slpdiff
from slpdiff import limits, parse
from slpdiff.gradbench import det, lse, lstm, ode, programs
from slpdiff.gradbench.protocol import DECLINED, EVALS, Session, encode

RUNS = {"min_runs": 1, "min_seconds": 0}


def lines(*messages: dict) -> str:
    return "".join(json.dumps(m) + "\n" for m in messages)


def strict(line: str) -> dict:
    """A response line, read as GradBench's runner reads it: strict JSON, one object."""
    def refuse(name):
        raise AssertionError(f"{name} is not strict JSON")

    return json.loads(line, parse_constant=refuse)


# --- the protocol, through the installed command ------------------------------------------------

def test_every_message_kind_is_answered_once_with_its_id():
    messages = [
        {"id": 0, "kind": "start", "eval": "llsq", "config": {}},
        {"id": 1, "kind": "define", "module": "llsq"},
        {"id": 2, "kind": "evaluate", "module": "llsq", "function": "primal",
         "input": {"x": [0.5, -1.0, 2.0], "n": 5} | RUNS, "description": "n=5,m=3"},
        {"id": 3, "kind": "analysis", "of": 2, "valid": True},
        {"id": "four", "kind": "evaluate", "module": "llsq", "function": "gradient",
         "input": {"x": [0.5, -1.0, 2.0], "n": 5, "min_runs": 3, "min_seconds": 0}},
        {"id": 5, "kind": "analysis", "of": "four", "valid": False, "error": "made up"},
        {"id": 6, "kind": "define", "module": "particle"},
        {"id": 7, "kind": "define", "module": "no-such-eval"},
        {"id": 8, "kind": "evaluate", "module": "det", "function": "primal",
         "input": {"A": [1.0], "ell": 1} | RUNS},
        {"id": 9, "kind": "end"},
        {"id": 10, "kind": "something GradBench may add"},
    ]
    result = run_slpdiff("gradbench", input=lines(*messages))
    assert exit_status(result) == 0, result.stderr
    answers = [strict(line) for line in result.stdout.splitlines()]
    assert [a["id"] for a in answers] == [m["id"] for m in messages]
    start, define, primal, analysis, gradient, invalid, particle, unknown, undefined, *rest = \
        answers
    assert start["tool"] == "slpdiff" and set(start["config"]["evals"]) == set(EVALS)
    assert define == {"id": 1, "success": True}
    assert primal["success"] is True and analysis == {"id": 3} and invalid == {"id": 5}
    assert math.isclose(primal["output"], llsq_numpy(np.array([0.5, -1.0, 2.0]), 5)[0],
                        rel_tol=1e-13)
    assert len([t for t in gradient["timings"] if t["name"] == "evaluate"]) == 3
    assert particle["success"] is False and "loop" in particle["error"]
    assert unknown["success"] is False and "no-such-eval" in unknown["error"]
    assert undefined["success"] is False and "not defined" in undefined["error"]
    assert rest == [{"id": 9}, {"id": 10}]
    # stderr says what went wrong; stdout carried the responses only
    assert "made up" in result.stderr and "'det' was not defined" in result.stderr


def test_responses_come_one_at_a_time_flushed():
    """GradBench waits for each response before it sends the next message."""
    process = subprocess.Popen([SLPDIFF, "gradbench"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for message in ({"id": 0, "kind": "start"}, {"id": 1, "kind": "define", "module": "hello"},
                        {"id": 2, "kind": "evaluate", "module": "hello", "function": "double",
                         "input": 3.0}):
            process.stdin.write((json.dumps(message) + "\n").encode())
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, f"no response to message {message['id']} while the input stays open"
            assert strict(process.stdout.readline().decode())["id"] == message["id"]
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0


def test_timings_are_integer_nanoseconds_and_runs_are_honoured():
    session = Session()
    session.respond({"id": 0, "kind": "define", "module": "lse"})
    at = {"x": [0.25, -1.5, 3.0]}
    first = session.respond({"id": 1, "kind": "evaluate", "module": "lse", "function": "primal",
                             "input": at | {"min_runs": 4, "min_seconds": 0}})
    names = [t["name"] for t in first["timings"]]
    assert names == ["prepare"] + ["evaluate"] * 4  # preparation once, apart from the runs
    assert all(type(t["nanoseconds"]) is int and t["nanoseconds"] > 0 for t in first["timings"])
    again = session.respond({"id": 2, "kind": "evaluate", "module": "lse", "function": "primal",
                             "input": at | {"min_runs": 1, "min_seconds": 0.05}})
    runs = [t["nanoseconds"] for t in again["timings"] if t["name"] == "evaluate"]
    assert [t["name"] for t in again["timings"]] == ["evaluate"] * len(runs)  # prepared already
    assert sum(runs) >= 0.05e9 and sum(runs[:-1]) < 0.05e9  # GradBench's multiple_runs rule


def test_the_runs_follow_gradbench_multiple_runs_with_a_clock():
    ticks = iter(range(0, 10**12, 300_000_000))  # every run "takes" 0.3 s
    session = Session(clock=lambda: next(ticks))
    session.respond({"id": 0, "kind": "define", "module": "hello"})
    session.respond({"id": 1, "kind": "evaluate", "module": "hello", "function": "square",
                     "input": 2.0})  # hello: one run, no min_runs
    session.respond({"id": 2, "kind": "define", "module": "lse"})
    for min_runs, min_seconds, expected in ((1, 1.0, 4), (5, 1.0, 5), (2, 0.0, 2), (0, 0, 1)):
        answer = session.respond({"id": 3, "kind": "evaluate", "module": "lse",
                                  "function": "primal",
                                  "input": {"x": [1.0, 2.0], "min_runs": min_runs,
                                            "min_seconds": min_seconds}})
        assert [t["nanoseconds"] for t in answer["timings"] if t["name"] == "evaluate"] == \
            [300_000_000] * expected


@pytest.mark.parametrize("message, words", [
    ({"id": 1, "kind": "evaluate", "module": "det", "function": "inverse",
      "input": {"A": [1.0], "ell": 1} | RUNS}, "no function 'inverse'"),
    ({"id": 1, "kind": "evaluate", "module": "det", "function": "primal",
      "input": {"A": [1.0, 2.0], "ell": 1} | RUNS}, "ell^2 entries"),
    ({"id": 1, "kind": "evaluate", "module": "det", "function": "primal",
      "input": {"ell": 2} | RUNS}, "KeyError"),
    ({"id": 1, "kind": "evaluate", "module": "det", "function": "primal",
      "input": {"A": [1.0, "x", 0.0, 1.0], "ell": 2} | RUNS}, "ValueError"),
    ({"id": 1, "kind": "evaluate", "module": "det", "function": "primal",
      "input": {"A": [1.0, float("inf"), 0.0, 1.0], "ell": 2} | RUNS}, "not finite"),
    ({"id": 1, "kind": "evaluate", "module": "det", "function": "primal",
      "input": {"A": [0.0] * 100, "ell": 10} | RUNS}, "MAX_STATEMENTS"),
    ({"id": 1, "kind": "evaluate", "module": "lse", "function": "primal",
      "input": {"x": []} | RUNS}, "no numbers"),
    ({"id": 1, "kind": "evaluate", "module": "ode", "function": "gradient",
      "input": {"x": [1.0] * 10_000, "s": 100} | RUNS}, "limit"),
])
def test_failures_are_answered_with_success_false_and_the_reason(message, words):
    session = Session()
    for module in EVALS:
        session.respond({"id": 0, "kind": "define", "module": module})
    answer = strict(encode(session.respond(message)))
    assert answer["id"] == 1 and answer["success"] is False and "output" not in answer
    assert words in answer["error"]


def test_an_output_that_is_not_finite_is_a_failure_in_strict_json():
    response = {"id": 7, "success": True, "output": {"vals": [1.0, float("nan")]}}
    answer = strict(encode(response))
    assert answer == {"id": 7, "success": False, "error": answer["error"]}
    assert "output.vals[1]" in answer["error"]
    session = Session()
    session.respond({"id": 0, "kind": "define", "module": "det"})
    overflow = session.respond({"id": 1, "kind": "evaluate", "module": "det",
                                "function": "primal",
                                "input": {"A": [1e300, 1e300, -1e300, 1e300], "ell": 2} | RUNS})
    assert strict(encode(overflow))["success"] is False


@pytest.mark.parametrize("line, words", [
    ("{not json}\n", "<stdin>:3: not a GradBench message"),
    ('[1, 2]\n', "JSON object"),
    ('{"kind": "start"}\n', "\"id\""),
])
def test_a_line_that_is_no_message_stops_with_exit_status_2(line, words):
    result = invoke("gradbench", input='{"id": 0, "kind": "start"}\n\n' + line)
    assert exit_status(result) == 2
    assert strict(result.stdout.splitlines()[0])["id"] == 0  # the message before was answered
    assert words in result.stderr and "Traceback" not in result.stderr


def test_particle_and_saddle_are_declined_with_the_reason():
    session = Session()
    for module, reason in DECLINED.items():
        assert session.respond({"id": 1, "kind": "define", "module": module}) == \
            {"id": 1, "success": False, "error": reason}
        assert "straight-line" in reason


def test_stats_file_has_each_program_and_compile(tmp_path):
    stats = tmp_path / "stats.jsonl"
    messages = [{"id": 0, "kind": "define", "module": "det"}] + [
        {"id": i, "kind": "evaluate", "module": "det", "function": f,
         "input": {"A": [2.0, 1.0, 1.0, 3.0], "ell": 2} | RUNS}
        for i, f in enumerate(("primal", "gradient", "primal"), start=1)]
    result = invoke("gradbench", "--stats", stats, input=lines(*messages))
    assert exit_status(result) == 0, result.stderr
    assert [strict(line)["output"] for line in result.stdout.splitlines()[1:]] == \
        [5.0, [3.0, -1.0, -1.0, 2.0], 5.0]
    made, *compiled = [json.loads(line) for line in stats.read_text().splitlines()]
    text = det._write(2)[0].text()
    assert {key: made[key] for key in ("eval", "size", "statements", "inputs", "outputs",
                                       "characters")} == \
        {"eval": "det", "size": "2", "statements": 1, "inputs": 4, "outputs": 1,
         "characters": len(text)}
    assert made["nodes"] == len(parse(text)) and made["parse_seconds"] > 0
    assert [r["function"] for r in compiled] == ["primal", "gradient"]


# --- sizes: what is declined, before any text is written ----------------------------------------

def limit_counts(text: str) -> tuple[int, int]:
    """Statements and operations as slpdiff.limits counts them on a program's text."""
    body = "\n".join(line for line in text.splitlines()
                     if not line.startswith(("input ", "output ")))
    return len(body.splitlines()), sum(body.count(c) for c in "+-*/^(,")


@pytest.mark.parametrize("estimate, write", [
    (lambda: det.size(6), lambda: det._write(6)),
    (lambda: ode.size(7, 3), lambda: ode._write(7, 3)),
    (lambda: lstm.size(2, 9), lambda: lstm._write(2, 9)),
])
def test_size_estimates_match_the_text(estimate, write):
    statements, operations = estimate()
    text, _ = write()
    counted_statements, counted_operations = limit_counts(text.text())
    assert statements == text.statements == counted_statements
    assert counted_operations <= operations <= counted_operations * 1.05 + 16


def test_too_big_is_declined_without_writing_the_program():
    assert det.size(10)[0] > programs.MAX_STATEMENTS and det.size(9)[1] < programs.MAX_OPERATIONS
    assert ode.size(10_000, 100)[0] > programs.MAX_STATEMENTS
    assert ode.size(100_000, 1)[1] < programs.MAX_OPERATIONS
    assert programs.MAX_STATEMENTS <= limits.MAX_STATEMENTS
    with pytest.raises(programs.Declined, match="MAX_STATEMENTS"):
        det.prepare("primal", {"A": [0.0] * 100, "ell": 10}, programs.Programs())
    with pytest.raises(programs.Declined, match="MAX_OPERATIONS"):
        programs.check_size("a program", 10, programs.MAX_OPERATIONS + 1)


# --- each eval against numpy --------------------------------------------------------------------

def evaluate(module: str, function: str, input, session: Session | None = None):
    session = session or Session()
    session.respond({"id": 0, "kind": "define", "module": module})
    answer = session.respond({"id": 1, "kind": "evaluate", "module": module,
                              "function": function,
                              "input": input | RUNS if isinstance(input, dict) else input})
    assert answer["success"], answer.get("error")
    return json.loads(encode(answer))["output"]  # what GradBench would read


def central_differences(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d x for each entry of ``x`` (f: array -> array or number)."""
    columns = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        up, down = f(x + e.reshape(x.shape)), f(x - e.reshape(x.shape))
        columns.append((np.asarray(up) - np.asarray(down)) / (2 * h))
    return np.stack(columns, axis=-1).reshape(np.shape(columns[0]) + x.shape)


def test_hello():
    assert evaluate("hello", "square", 3.0) == 9.0
    assert evaluate("hello", "double", 3.0) == 6.0


def llsq_numpy(x, n):
    t = -1 + np.arange(n) * 2 / (n - 1)
    powers = t[:, None] ** np.arange(len(x))
    r = np.sign(t) - powers @ x
    return 0.5 * (r @ r), -(powers.T @ r)


def test_llsq():
    x = np.random.default_rng(1).random(6)
    value, gradient = llsq_numpy(x, 9)
    at = {"x": x.tolist(), "n": 9}
    assert math.isclose(evaluate("llsq", "primal", at), value, rel_tol=1e-12)
    np.testing.assert_allclose(evaluate("llsq", "gradient", at), gradient, rtol=1e-11)


@pytest.mark.parametrize("n", [1, 2, 150, 40_000])
def test_lse(n):
    x = np.random.default_rng(2).uniform(-100, 100, n)
    if n > 2:
        x[n // 2] = x.max()  # a tie at the maximum: the path through it adds up to 0 either way
    top = x.max()
    at = {"x": x.tolist()}
    assert math.isclose(evaluate("lse", "primal", at), top + np.log(np.exp(x - top).sum()),
                        rel_tol=1e-14)
    softmax = np.exp(x - top) / np.exp(x - top).sum()
    gradient = evaluate("lse", "gradient", at)
    assert len(gradient) == n
    np.testing.assert_allclose(gradient, softmax, rtol=1e-12, atol=1e-300)
    cache = programs.Programs()
    for size in (n, n + 1):  # one program for every n
        lse.prepare("gradient", {"x": [0.5] * size}, cache)
    assert list(cache.cache) == [("lse",)]


@pytest.mark.parametrize("ell", [1, 2, 5])
def test_det(ell):
    a = np.random.default_rng(ell).random((ell, ell))
    at = {"A": a.ravel().tolist(), "ell": ell}
    value = np.linalg.det(a)
    assert math.isclose(evaluate("det", "primal", at), value, rel_tol=1e-12)
    np.testing.assert_allclose(evaluate("det", "gradient", at),
                               (value * np.linalg.inv(a).T).ravel(), rtol=1e-10)


def ode_numpy(x, s):
    def f(y):
        return np.concatenate([x[:1], x[1:] * y[:-1]])

    h, y = 2.0 / s, np.zeros_like(x)
    for _ in range(s):
        k1 = f(y)
        k2 = f(y + h * k1 / 2)
        k3 = f(y + h * k2 / 2)
        k4 = f(y + h * k3)
        y = y + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    return y


def test_ode_keeps_the_initial_state_an_input():
    x = np.random.default_rng(3).random(5)
    at = {"x": x.tolist(), "s": 2}
    np.testing.assert_allclose(evaluate("ode", "primal", at), ode_numpy(x, 2), rtol=1e-14)
    gradient = np.array(evaluate("ode", "gradient", at))
    np.testing.assert_allclose(gradient, central_differences(lambda v: ode_numpy(v, 2)[-1], x),
                               rtol=1e-7)
    assert np.all(gradient != 0)
    text, info = ode._write(5, 2)
    assert info["y0"] == [f"y{i}" for i in range(5)] and "y0 +" in text.text()


def kmeans_numpy(points, centroids):
    distances = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    nearest = distances.argmin(axis=1)
    cost = distances.min(axis=1).sum()
    k = len(centroids)
    j = np.stack([2 * (centroids[c] - points[nearest == c]).sum(axis=0) for c in range(k)])
    h = 2 * np.bincount(nearest, minlength=k)[:, None] * np.ones_like(centroids)
    return cost, j / h


def test_kmeans():
    points = np.random.default_rng(4).random((40, 3))
    at = {"points": points.tolist(), "centroids": points[-4:].tolist()}
    cost, direction = kmeans_numpy(points, points[-4:])
    assert math.isclose(evaluate("kmeans", "cost", at), cost, rel_tol=1e-13)
    np.testing.assert_allclose(evaluate("kmeans", "dir", at), direction, rtol=1e-12)


def gmm_numpy(d, k, n, x, m, gamma, alpha, mu, q, l):  # noqa: E741 - the eval's names
    """ADBench's GMM objective, written from its definition (Q = diag(exp q) + strictly lower l,
    filled column by column)."""
    qs = []
    for i in range(k):
        lower, index = np.zeros((d, d)), 0
        for col in range(d):  # the strictly lower part, column by column
            for row in range(col + 1, d):
                lower[row, col] = l[i][index]
                index += 1
        qs.append(np.diag(np.exp(q[i])) + lower)
    main = np.stack([alpha[i] + q[i].sum() - 0.5 * (((x - mu[i]) @ qs[i].T) ** 2).sum(axis=1)
                     for i in range(k)], axis=1)
    top = main.max(axis=1, keepdims=True)
    total = (np.log(np.exp(main - top).sum(axis=1)) + top[:, 0]).sum()
    lse_alpha = np.log(np.exp(alpha - alpha.max()).sum()) + alpha.max()
    value = -n * d * 0.5 * np.log(2 * np.pi) + total - n * lse_alpha
    wishart_n = d + m + 1
    c = wishart_n * d * (np.log(gamma) - 0.5 * np.log(2)) - multigammaln(0.5 * wishart_n, d)
    prior = sum(0.5 * gamma ** 2 * (np.exp(q[i]) @ np.exp(q[i]) + l[i] @ l[i]) - m * q[i].sum()
                for i in range(k))
    return value - prior + k * c


def gmm_input(d, k, n, seed=5):
    rng = np.random.default_rng(seed)
    return {"d": d, "k": k, "n": n, "x": rng.random((n, d)).tolist(), "m": 1, "gamma": 1.5,
            "alpha": rng.random(k).tolist(), "mu": rng.random((k, d)).tolist(),
            "q": rng.random((k, d)).tolist(), "l": rng.random((k, d * (d - 1) // 2)).tolist()}


def gmm_reference(at):
    arrays = {key: np.asarray(at[key], dtype=np.float64) for key in ("x", "alpha", "mu", "q", "l")}
    return lambda **change: gmm_numpy(at["d"], at["k"], at["n"], m=at["m"], gamma=at["gamma"],
                                      **(arrays | change))


def test_gmm_objective_and_jacobian():
    at = gmm_input(3, 2, 30)
    reference = gmm_reference(at)
    assert math.isclose(evaluate("gmm", "objective", at), reference(), rel_tol=1e-12)
    jacobian = evaluate("gmm", "jacobian", at)
    assert set(jacobian) == {"alpha", "mu", "q", "l"}
    for key in jacobian:
        start = np.asarray(at[key], dtype=np.float64)
        np.testing.assert_allclose(
            jacobian[key], central_differences(lambda v, key=key: reference(**{key: v}), start),
            rtol=1e-6, atol=1e-6)


def test_gmm_in_chunks_of_rows_adds_up_to_the_whole(monkeypatch):
    at = gmm_input(2, 3, 12, seed=6)
    whole = evaluate("gmm", "objective", at), evaluate("gmm", "jacobian", at)
    monkeypatch.setattr(programs, "ROW_NUMBERS", 1)  # one row per chunk
    assert programs.row_chunks(12, 5) == [slice(i, i + 1) for i in range(12)]
    chunked = evaluate("gmm", "objective", at), evaluate("gmm", "jacobian", at)
    assert math.isclose(chunked[0], whole[0], rel_tol=1e-13)
    for key in whole[1]:
        np.testing.assert_allclose(chunked[1][key], whole[1][key], rtol=1e-12)


def test_row_chunks_prefer_one_length():
    assert programs.row_chunks(1000, programs.ROW_NUMBERS // 300) == \
        [slice(i, i + 250) for i in range(0, 1000, 250)]  # 4 chunks of 250, not 300+300+300+100
    assert programs.row_chunks(7, 1) == [slice(0, 7)]
    assert sum(s.stop - s.start for s in programs.row_chunks(997, programs.ROW_NUMBERS // 100)) \
        == 997


def ba_numpy(camera, point, w, feat):
    """ADBench's reprojection error of one observation (Rodrigues, radial distortion)."""
    r, c, f, principal, k = camera[:3], camera[3:6], camera[6], camera[7:9], camera[9:11]
    p = point - c
    theta2 = r @ r
    if theta2 != 0:
        theta = np.sqrt(theta2)
        axis = r / theta
        rotated = p * np.cos(theta) + np.cross(axis, p) * np.sin(theta) + \
            axis * (axis @ p) * (1 - np.cos(theta))
    else:
        rotated = p + np.cross(r, p)
    projected = rotated[:2] / rotated[2]
    rsq = projected @ projected
    distorted = projected * (1 + k[0] * rsq + k[1] * rsq * rsq)
    return w * (distorted * f + principal - feat)


@pytest.mark.parametrize("rotation", [[0.1, -0.2, 0.3], [0.0, 0.0, 0.0]])
def test_ba(rotation):
    rng = np.random.default_rng(7)
    camera = np.concatenate([rotation, rng.random(3) - 5, [1.5], rng.random(2), [0.01, 0.002]])
    point, w, feat = rng.random(3), 0.8, rng.random(2)
    n, m, p = 3, 4, 12
    at = {"n": n, "m": m, "p": p, "cam": camera.tolist(), "x": point.tolist(), "w": w,
          "feat": feat.tolist()}
    error = ba_numpy(camera, point, w, feat)
    objective = evaluate("ba", "objective", at)
    np.testing.assert_allclose(objective["reproj_error"]["elements"], error, rtol=1e-13)
    assert objective["reproj_error"]["repeated"] == p and objective["w_err"]["repeated"] == p
    assert math.isclose(objective["w_err"]["element"], 1 - w * w)
    jacobian = evaluate("ba", "jacobian", at)
    parameters = np.concatenate([camera, point, [w]])
    block = central_differences(lambda v: ba_numpy(v[:11], v[11:14], v[14], feat), parameters)
    np.testing.assert_allclose(jacobian["vals"][:30], block.ravel(), rtol=1e-6, atol=1e-8)
    assert jacobian["vals"][30] == -2 * w
    rows = [0] + [15 * (i + 1) for i in range(2 * p)] + [30 * p + i + 1 for i in range(p)]
    assert jacobian["rows"] == rows[:30] + [rows[-1]]
    columns = list(range(11)) + [11 * n, 11 * n + 1, 11 * n + 2, 11 * n + 3 * m]
    assert jacobian["cols"] == columns + columns + [11 * n + 3 * m + p - 1]


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def lstm_numpy(main, extra, state, sequence):
    """ADBench's LSTM loss: diagonal weights, one layer after another, per character."""
    layers, b = main.shape[0] // 2, sequence.shape[1]
    hidden, cell = state[0::2].copy(), state[1::2].copy()
    total = 0.0
    for t in range(len(sequence) - 1):
        x = sequence[t] * extra[0]
        for i in range(layers):
            weight, bias = main[2 * i].reshape(4, b), main[2 * i + 1].reshape(4, b)
            forget = sigmoid(x * weight[0] + bias[0])
            ingate = sigmoid(hidden[i] * weight[1] + bias[1])
            outgate = sigmoid(x * weight[2] + bias[2])
            change = np.tanh(hidden[i] * weight[3] + bias[3])
            cell[i] = cell[i] * forget + ingate * change
            hidden[i] = outgate * np.tanh(cell[i])
            x = hidden[i]
        prediction = x * extra[1] + extra[2]
        total += sequence[t + 1] @ (prediction - np.log(np.exp(prediction).sum() + 2))
    return -total / ((len(sequence) - 1) * b)


def test_lstm():
    rng = np.random.default_rng(8)
    layers, b, c = 2, 3, 5
    main, extra = rng.random((2 * layers, 4 * b)), rng.random((3, b))
    state, sequence = rng.random((2 * layers, b)), rng.integers(0, 2, (c, b)).astype(float)
    at = {"main_params": main.tolist(), "extra_params": extra.tolist(), "state": state.tolist(),
          "sequence": sequence.tolist()}
    assert math.isclose(evaluate("lstm", "objective", at),
                        lstm_numpy(main, extra, state, sequence), rel_tol=1e-13)
    both = np.concatenate([main.ravel(), extra.ravel()])

    def loss(v):
        return lstm_numpy(v[:main.size].reshape(main.shape), v[main.size:].reshape(extra.shape),
                          state, sequence)

    np.testing.assert_allclose(evaluate("lstm", "jacobian", at), central_differences(loss, both),
                               rtol=1e-6, atol=1e-9)


def rotation_about(axis, angle):
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def hand_model(rng, bones=22, vertices=6, mirrored=True):
    """A made-up hand: 22 bones in a tree, rigid base transforms, a few skinned vertices."""
    parents = [-1] + [int(rng.integers(0, i)) for i in range(1, bones)]
    relatives = []
    for _ in range(bones):
        t = np.eye(4)
        t[:3, :3] = rotation_about(rng.random(3) - 0.5, rng.random())
        t[:3, 3] = rng.random(3)
        relatives.append(t)
    absolutes = []
    for i, parent in enumerate(parents):
        absolutes.append(relatives[i] if parent == -1 else absolutes[parent] @ relatives[i])
    weights = rng.random((vertices, bones)) * (rng.random((vertices, bones)) < 0.4)
    weights[:, 0] += 0.1
    return {"bone_count": bones, "bone_names": [f"bone{i}" for i in range(bones)],
            "parents": parents, "base_relatives": [r.tolist() for r in relatives],
            "inverse_base_absolutes": [np.linalg.inv(a).tolist() for a in absolutes],
            "base_positions": np.hstack([rng.random((vertices, 3)),
                                         np.ones((vertices, 1))]).tolist(),
            "weights": (weights / weights.sum(axis=1, keepdims=True)).tolist(),
            "triangles": [[0, 1, 2], [2, 3, 4], [3, 4, 5]], "is_mirrored": mirrored}


def euler(xzy):
    tx, ty, tz = xzy[0], xzy[2], xzy[1]
    rx = np.array([[1, 0, 0], [0, np.cos(tx), -np.sin(tx)], [0, np.sin(tx), np.cos(tx)]])
    ry = np.array([[np.cos(ty), 0, np.sin(ty)], [0, 1, 0], [-np.sin(ty), 0, np.cos(ty)]])
    rz = np.array([[np.cos(tz), -np.sin(tz), 0], [np.sin(tz), np.cos(tz), 0], [0, 0, 1]])
    return rz @ ry @ rx


def ht_numpy(theta, model, correspondences, points, us=None):
    """ADBench's hand-tracking residuals: pose, skinning of every vertex, global transform."""
    bones = len(model["parents"])
    pose = np.zeros((3, bones + 3))
    pose[:, 0], pose[:, 1], pose[:, 2] = theta[0:3], 1.0, theta[3:6]
    i_theta, column = 6, 5
    for _ in range(5):
        for i in range(2, 5):
            pose[0, column] = theta[i_theta]
            i_theta += 1
            if i == 2:
                pose[1, column] = theta[i_theta]
                i_theta += 1
            column += 1
        column += 1
    absolutes = []
    for i, parent in enumerate(model["parents"]):
        rigid = np.eye(4)
        rigid[:3, :3] = euler(pose[:, i + 3])
        relative = np.asarray(model["base_relatives"][i]) @ rigid
        absolutes.append(relative if parent == -1 else absolutes[parent] @ relative)
    base = np.asarray(model["base_positions"]).T  # 4 x vertices
    weights = np.asarray(model["weights"]).T  # bones x vertices
    positions = sum((absolutes[i] @ np.asarray(model["inverse_base_absolutes"][i]) @ base)[:3] *
                    weights[i] for i in range(bones))
    if model["is_mirrored"]:
        positions[0] *= -1
    norm = np.linalg.norm(pose[:, 0])
    rotation = np.eye(3) if norm < 1e-4 else rotation_about(pose[:, 0], norm)
    positions = rotation @ positions + pose[:, 2:3]
    if us is None:
        return (points.T - positions[:, correspondences]).T.ravel()
    triangles = np.asarray(model["triangles"])[correspondences]
    corners = [positions[:, triangles[:, v]] for v in range(3)]
    blend = us[:, 0] * corners[0] + us[:, 1] * corners[1] + (1 - us[:, 0] - us[:, 1]) * corners[2]
    return (points.T - blend).T.ravel()


@pytest.fixture(scope="module")
def ht_session():
    """One session for the ht tests: its programs (one per variant) are made once."""
    return Session()


@pytest.mark.parametrize("complicated, turn", [(True, 0.3), (False, 0.3), (True, 0.0)])
def test_ht(ht_session, complicated, turn):
    rng = np.random.default_rng(9)
    model = hand_model(rng, mirrored=True)
    theta = rng.random(26) - 0.5
    theta[:3] = turn * np.array([1.0, -0.5, 0.25])  # 0: the identity branch of the rotation
    npts = 4
    correspondences = rng.integers(0, 3 if complicated else 6, npts)
    points, us = rng.random((npts, 3)), rng.random((npts, 2)) * 0.5
    at = {"theta": theta.tolist(), "us": us.tolist() if complicated else [],
          "data": {"model": model, "correspondences": correspondences.tolist(),
                   "points": points.tolist()}}
    given_us = us if complicated else None
    expected = ht_numpy(theta, model, correspondences, points, given_us)
    np.testing.assert_allclose(evaluate("ht", "objective", at, ht_session), expected,
                               rtol=1e-12)
    jacobian = np.asarray(evaluate("ht", "jacobian", at, ht_session))
    by_theta = central_differences(
        lambda v: ht_numpy(v, model, correspondences, points, given_us), theta)
    columns = [by_theta]
    if complicated:  # each point's error depends on its own u only: move all u_j at once
        for j in (1, 0):
            move = np.eye(2)[j]
            columns.insert(0, central_differences(
                lambda v, move=move: ht_numpy(theta, model, correspondences, points,
                                              us + v[0] * move), np.zeros(1)))
    np.testing.assert_allclose(jacobian, np.hstack(columns), rtol=1e-6, atol=1e-7)


def test_every_eval_is_tested_here():
    tested = {"hello", "llsq", "lse", "det", "ode", "kmeans", "gmm", "ba", "lstm", "ht"}
    assert tested == set(EVALS) and set(DECLINED) == {"particle", "saddle"}
    assert not set(EVALS) & set(DECLINED)
    assert os.path.basename(SLPDIFF).startswith("slpdiff")
