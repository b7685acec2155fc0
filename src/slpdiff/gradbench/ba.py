"""ba: bundle adjustment (ADBench), as a program per row: the rows are the p observations.

GradBench's input is one camera, one point, one weight and one feature, duplicated n, m and p
times; observation i uses camera i mod n and point i mod m. Nothing of the duplication is
exploited: every row gets its camera's 11 parameters, its point's 3 coordinates, its weight and
its feature as array inputs, gathered by those indices. The program is the reference's
``computeReprojError`` and ``computeZachWeightError`` operation for operation. Rodrigues' rotation
has a branch (the rotation formula where ``|r|^2 != 0``, the first-order one where it is 0): both
are written, the first with its square root kept finite (``max(|r|^2, 1e-300)``) where it is not
taken, and blended with ``step(|r|^2)``, so each row takes its own branch.

The Jacobian's 2 x 15 block per observation (camera, point, weight) and the weight error's
derivative come from reverse mode per row (three sweeps, one per output, with respect to the
array inputs), and are assembled into the reference's whole compressed-row matrix (31 p entries)
before the first 30 entries and the last are sent, as the reference's ``to_json`` does.
"""

from __future__ import annotations

import numpy as np

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text

CAMERA = ["r0", "r1", "r2", "C0", "C1", "C2", "f", "u0", "v0", "k1", "k2"]
POINT = ["X0", "X1", "X2"]
WRT = [*CAMERA, *POINT, "w"]


def _write() -> tuple[Text, dict]:
    text = Text()
    text.input(*CAMERA, *POINT, "w", "feat0", "feat1")
    p = [text.let(f"Xo{i}", f"X{i} - C{i}") for i in range(3)]
    text.let("sqtheta", "r0 * r0 + r1 * r1 + r2 * r2")
    text.let("rotating", "step(sqtheta)")
    text.let("theta", "sqrt(max(sqtheta, 1e-300))")
    text.let("costheta", "cos(theta)")
    text.let("sintheta", "sin(theta)")
    text.let("theta_inverse", "1.0 / theta")
    w = [text.let(f"w{i}", f"r{i} * theta_inverse") for i in range(3)]
    cross = [f"{w[1]} * {p[2]} - {w[2]} * {p[1]}", f"{w[2]} * {p[0]} - {w[0]} * {p[2]}",
             f"{w[0]} * {p[1]} - {w[1]} * {p[0]}"]
    wx = [text.let(f"wx{i}", cross[i]) for i in range(3)]
    text.let("tmp", f"({w[0]} * {p[0]} + {w[1]} * {p[1]} + {w[2]} * {p[2]}) * (1. - costheta)")
    first = ["r1 * Xo2 - r2 * Xo1", "r2 * Xo0 - r0 * Xo2", "r0 * Xo1 - r1 * Xo0"]
    for i in range(3):
        text.let(f"Xr{i}", f"{p[i]} * costheta + {wx[i]} * sintheta + {w[i]} * tmp")
        text.let(f"Xl{i}", f"{p[i]} + ({first[i]})")
        text.let(f"Xcam{i}", f"rotating * Xr{i} + (1 - rotating) * Xl{i}")
    text.let("pa0", "Xcam0 / Xcam2")
    text.let("pa1", "Xcam1 / Xcam2")
    text.let("rsq", "pa0 * pa0 + pa1 * pa1")
    text.let("L", "1. + k1 * rsq + k2 * rsq * rsq")
    text.let("proj0", "pa0 * L * f + u0")
    text.let("proj1", "pa1 * L * f + v0")
    text.let("err0", "w * (proj0 - feat0)")
    text.let("err1", "w * (proj1 - feat1)")
    text.let("werr", "1 - w * w")
    text.output("err0", "err1", "werr")
    return text, {}


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``objective`` or ``jacobian`` at GradBench's ba input."""
    n, m, p = int(input["n"]), int(input["m"]), int(input["p"])
    camera = np.asarray(input["cam"], dtype=np.float64)
    point = np.asarray(input["x"], dtype=np.float64)
    feat = np.asarray(input["feat"], dtype=np.float64)
    if min(n, m, p) < 1 or camera.shape != (11,) or point.shape != (3,) or feat.shape != (2,):
        raise Declined("ba needs n, m, p >= 1, a camera of 11 numbers, a point of 3 and a "
                       "feature of 2")
    prepared = programs.get(("ba",), _write)
    program = prepared.program
    cameras, points = np.tile(camera, (n, 1)), np.tile(point, (m, 1))
    weights, feats = np.full(p, float(input["w"])), np.tile(feat, (p, 1))
    observation = np.arange(p)
    cam_index, point_index = observation % n, observation % m
    at = {name: np.ascontiguousarray(cameras[cam_index, j]) for j, name in enumerate(CAMERA)}
    at |= {name: np.ascontiguousarray(points[point_index, j]) for j, name in enumerate(POINT)}
    at |= {"w": weights, "feat0": np.ascontiguousarray(feats[:, 0]),
           "feat1": np.ascontiguousarray(feats[:, 1])}
    if function == "objective":
        def objective():
            values = evaluate(program, at, derivatives=False).values
            return values["err0"], values["err1"], values["werr"]

        def post_objective(result):
            err0, err1, werr = result
            return {"reproj_error": {"elements": [err0[0], err1[0]], "repeated": p},
                    "w_err": {"element": werr[0], "repeated": p}}

        return programs.job(prepared, function, objective, post_objective, rows=True)
    if function == "jacobian":
        columns = np.empty((p, 2, 15), dtype=np.int64)
        columns[:, :, 0:11] = (11 * cam_index)[:, None, None] + np.arange(11)
        columns[:, :, 11:14] = (11 * n + 3 * point_index)[:, None, None] + np.arange(3)
        columns[:, :, 14] = (11 * n + 3 * m + observation)[:, None]

        def jacobian():
            g = evaluate(program, at, wrt=WRT).gradient
            blocks = np.empty((p, 2, 15))
            for r, out in enumerate(("err0", "err1")):
                for j, name in enumerate(WRT):
                    blocks[:, r, j] = g[out][name]
            vals = np.concatenate([blocks.ravel(), np.broadcast_to(g["werr"]["w"], (p,))])
            cols = np.concatenate([columns.ravel(), 11 * n + 3 * m + observation])
            rows = np.concatenate([[0], 15 * np.arange(1, 2 * p + 1),
                                   30 * p + np.arange(1, p + 1)])
            return rows, cols, vals

        def post_jacobian(result):
            return {name: [*array[:30].tolist(), array[-1].item()]
                    for name, array in zip(("rows", "cols", "vals"), result, strict=True)}

        return programs.job(prepared, function, jacobian, post_jacobian, rows=True)
    raise Declined(f"ba has no function {function!r} (only objective and jacobian)")
