"""kmeans: the k-means cost ``sum_i min_j |p_i - c_j|^2`` and ``dir = J / H``, the Newton
direction with the Hessian's diagonal, as a program per row: the rows are the n points.

The point's d coordinates are array inputs (data), the k d centroid coordinates scalar inputs.
Per row: the k squared distances (the reference's order; ``square(a)`` is ``a * a`` exactly),
their minimum as a chain of ``min(a, b)`` (the reference's ``closest = min(closest, dist)``),
and ``sum`` over the rows. J is reverse mode (summed over the rows); H's diagonal is
``slpdiff.hessian.hvp`` with the direction of all ones (reverse mode over the program
``v . grad cost``, the centroids entering only through the rows), which is the diagonal here
because the Hessian is diagonal (the minimum's rule is piecewise constant, so centroids do not
mix).
Statements: k distances + k - 1 minima + 1. Big programs (k = 1000) are run on chunks of rows
(``row_chunks``): the cost, J and H are sums over rows.
"""

from __future__ import annotations

import numpy as np

from ..evaluation import evaluate
from ..hessian import hvp
from .programs import Declined, Job, Programs, Text, row_chunks

# float64 numbers held per node and row, measured at k = 1000, d = 16 (64,016 nodes): about 1.1
# for the gradient and, for hvp, 4.9 in all (2.5 GB at n = 1,000: the program v . grad cost,
# three times as many nodes, all rows at once); with a margin
REVERSE_NUMBERS, HVP_NUMBERS = 2, 5


def _write(k: int, d: int) -> tuple[Text, dict]:
    text = Text()
    ps = [f"p{i}" for i in range(d)]
    cs = [[f"c{j}_{i}" for i in range(d)] for j in range(k)]
    text.input(*ps, *(name for row in cs for name in row))
    distances = [text.let(f"e{j}", " + ".join(f"square({ps[i]} - {cs[j][i]})" for i in range(d)))
                 for j in range(k)]
    closest = distances[0]
    for j in range(1, k):
        closest = text.let(f"m{j}", f"min({closest}, {distances[j]})")
    text.let("cost", f"sum({closest})")
    text.output("cost")
    return text, {"ps": ps, "cs": [name for row in cs for name in row]}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``cost`` or ``dir`` at ``{"points": n x d, "centroids": k x d}``."""
    points = np.asarray(input["points"], dtype=np.float64)
    centroids = np.asarray(input["centroids"], dtype=np.float64)
    if points.ndim != 2 or centroids.ndim != 2 or points.shape[1] != centroids.shape[1] or \
            0 in points.shape or 0 in centroids.shape:
        raise Declined(f"kmeans needs an n x d matrix of points and a k x d matrix of "
                       f"centroids (got {points.shape} and {centroids.shape})")
    (n, d), k = points.shape, centroids.shape[0]
    prepared = programs.get(("kmeans", k, d), lambda: _write(k, d))
    program, ps, cs = prepared.program, prepared.info["ps"], prepared.info["cs"]
    columns = [np.ascontiguousarray(points[:, i]) for i in range(d)]
    fixed = dict(zip(cs, centroids.ravel().tolist(), strict=True))
    nodes = len(program)

    def part(rows: slice) -> dict:
        return dict(zip(ps, (c[rows] for c in columns), strict=True)) | fixed

    if function == "cost":
        chunks = row_chunks(n, REVERSE_NUMBERS * nodes)

        def cost():
            return sum(evaluate(program, part(rows), derivatives=False).values["cost"]
                       for rows in chunks)

        return programs.job(prepared, function, cost, rows=True)
    if function == "dir":
        ones = dict.fromkeys(cs, 1.0)

        def direction():
            j = np.zeros(len(cs))
            for rows in row_chunks(n, REVERSE_NUMBERS * nodes):
                g = evaluate(program, part(rows), wrt=cs).gradient["cost"]
                j += [g[name] for name in cs]
            h = np.zeros(len(cs))
            for rows in row_chunks(n, HVP_NUMBERS * nodes):
                hv = hvp(program, part(rows), ones, wrt=cs)["cost"]
                h += [hv[name] for name in cs]
            return (j / h).reshape(k, d)

        return programs.job(prepared, function, direction, rows=True)
    raise Declined(f"kmeans has no function {function!r} (only cost and dir)")
