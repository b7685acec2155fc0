"""gmm: the log-likelihood of a Gaussian mixture with a Wishart prior, as a program per row: the
rows are the n data points. Term by term as the reference (ADBench's ``gmm_objective``).

The point's d coordinates are array inputs (data); the parameters alpha (k), mu (k d), q (k d)
and l (k d (d - 1) / 2) are scalar inputs, so their derivatives are reverse mode's summed over the
rows. Per row and component: ``xc = x - mu``, ``Qxc = Q xc`` with ``Q``'s diagonal ``exp(q)`` and
``l`` below it (the reference's ``Qtimesx`` order), ``alpha + sum(q) - |Qxc|^2 / 2``; then the
row's log-sum-exp over the k components, its maximum a chain of ``max(a, b)``, and ``sum`` over
the rows. The rest (the log-sum-exp of alpha, the Wishart prior) is on scalars. The Wishart
constant ``C`` needs ``lgamma``, which is no function of the language: it depends on the data only
(n, d, m, gamma), so the tool computes it and passes it as a number, as it does n, m and gamma.

The program depends on (d, k) only. For programs too big to hold all rows at once the rows are
split into chunks: ``N`` is the chunk's rows and ``share`` its fraction of them, so that the
chunks' objectives (and gradients) add up to the whole one.
"""

from __future__ import annotations

import math

import numpy as np

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text, literal, row_chunks

REVERSE_NUMBERS = 3  # numbers held per node and row: values, adjoints and their terms


def log_gamma_distrib(a: float, p: int) -> float:
    """The reference's ``log_gamma_distrib`` (the log of the multivariate gamma function)."""
    out = 0.25 * p * (p - 1) * math.log(math.pi)
    for j in range(1, p + 1):
        out += math.lgamma(a + 0.5 * (1 - j))
    return out


def _write(d: int, k: int) -> tuple[Text, dict]:
    text = Text()
    xs = [f"x{j}" for j in range(d)]
    alpha = [f"alpha{i}" for i in range(k)]
    mu = [[f"mu{i}_{j}" for j in range(d)] for i in range(k)]
    q = [[f"q{i}_{j}" for j in range(d)] for i in range(k)]
    low = [[f"l{i}_{j}" for j in range(d * (d - 1) // 2)] for i in range(k)]
    params = alpha + [v for group in (mu, q, low) for row in group for v in row]
    text.input(*xs, "N", "share", "gamma", "wm", "C", *params)
    sum_qs = [text.let(f"sq{i}", " + ".join(q[i])) for i in range(k)]
    qdiag = [[text.let(f"Qd{i}_{j}", f"exp({q[i][j]})") for j in range(d)] for i in range(k)]
    main = []
    for i in range(k):
        xc = [text.let(f"xc{i}_{j}", f"{xs[j]} - {mu[i][j]}") for j in range(d)]
        terms = [[f"{qdiag[i][j]} * {xc[j]}"] for j in range(d)]
        index = 0
        for col in range(d):
            for row in range(col + 1, d):
                terms[row].append(f"{low[i][index]} * {xc[col]}")
                index += 1
        qx = [text.let(f"qx{i}_{j}", " + ".join(terms[j])) for j in range(d)]
        norm = " + ".join(f"{v} * {v}" for v in qx)
        main.append(text.let(f"mt{i}", f"{alpha[i]} + {sum_qs[i]} - 0.5 * ({norm})"))

    def logsumexp(values: list[str], tag: str) -> str:
        top = values[0]
        for i in range(1, len(values)):
            top = text.let(f"{tag}mx{i}", f"max({top}, {values[i]})")
        total = text.let(f"{tag}se", " + ".join(f"exp({v} - {top})" for v in values))
        return text.let(f"{tag}lse", f"log({total}) + {top}")

    slse = text.let("slse", f"sum({logsumexp(main, 'r')})")
    lse_alpha = logsumexp(alpha, "a")
    constant = literal(-d * 0.5 * math.log(2 * math.pi))  # times n: the reference's CONSTANT
    text.let("err", f"N * {constant} + {slse} - N * {lse_alpha}")
    priors = []
    for i in range(k):
        frobenius = " + ".join([f"{v} * {v}" for v in qdiag[i]] + [f"{v} * {v}" for v in low[i]])
        priors.append(text.let(f"wo{i}", f"0.5 * gamma * gamma * ({frobenius}) - wm * "
                                         f"{sum_qs[i]}"))
    text.let("ws", f"-({' + '.join(priors)}) + {k} * C")
    text.let("objective", "err + share * ws")
    text.output("objective")
    return text, {"xs": xs, "params": params, "alpha": alpha, "mu": mu, "q": q, "l": low}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``objective`` or ``jacobian`` at GradBench's gmm input."""
    d, k, n = int(input["d"]), int(input["k"]), int(input["n"])
    x = np.asarray(input["x"], dtype=np.float64)
    if d < 1 or k < 1 or n < 1 or x.shape != (n, d):
        raise Declined(f"gmm needs d, k, n >= 1 and n x d points (d = {d}, k = {k}, n = {n}, "
                       f"points {x.shape})")
    prepared = programs.get(("gmm", d, k), lambda: _write(d, k))
    info, program = prepared.info, prepared.program
    m, gamma = int(input["m"]), float(input["gamma"])
    wishart_n = d + m + 1
    fixed = {"gamma": gamma, "wm": float(m),
             "C": wishart_n * d * (math.log(gamma) - 0.5 * math.log(2)) -
             log_gamma_distrib(0.5 * wishart_n, d)}
    fixed |= dict(zip(info["alpha"], map(float, input["alpha"]), strict=True))
    for key in ("mu", "q", "l"):
        for names, values in zip(info[key], input[key], strict=True):
            fixed |= dict(zip(names, map(float, values), strict=True))
    columns = [np.ascontiguousarray(x[:, j]) for j in range(d)]
    chunks = row_chunks(n, REVERSE_NUMBERS * len(program))
    parts = [dict(zip(info["xs"], (c[rows] for c in columns), strict=True)) | fixed |
             {"N": float(rows.stop - rows.start), "share": (rows.stop - rows.start) / n}
             for rows in chunks]
    if len(parts) == 1:
        parts[0]["share"] = 1.0
    if function == "objective":
        return programs.job(prepared, function, lambda: sum(
            evaluate(program, at, derivatives=False).values["objective"] for at in parts),
            rows=True)
    if function == "jacobian":
        params = info["params"]

        def jacobian():
            total = np.zeros(len(params))
            for at in parts:
                g = evaluate(program, at, wrt=params).gradient["objective"]
                total += [g[name] for name in params]
            return dict(zip(params, total.tolist(), strict=True))

        def post(g: dict) -> dict:
            return {"alpha": [g[v] for v in info["alpha"]],
                    "mu": [[g[v] for v in row] for row in info["mu"]],
                    "q": [[g[v] for v in row] for row in info["q"]],
                    "l": [[g[v] for v in row] for row in info["l"]]}

        return programs.job(prepared, function, jacobian, post, rows=True)
    raise Declined(f"gmm has no function {function!r} (only objective and jacobian)")
