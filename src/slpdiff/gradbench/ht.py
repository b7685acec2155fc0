"""ht: hand tracking (ADBench), as a program whose pose part is on the 26 parameters and whose
skinning part is per row: the rows are the correspondences.

Pose part, following the reference: theta -> pose parameters -> each bone's Euler rotation ->
posed relatives (base relative times ``[R 0; 0 1]``) -> absolutes along the bone tree ->
transforms (absolute times inverse base absolute), and the global rotation (angle-axis) and
translation. The hand model's matrices are constants of the program (one program per model and
variant); entries that are structurally 0 or 1 in the reference (pose columns the model never
sets, the unit scale, the homogeneous row of ``[R 0; 0 1]``) are folded while writing, and products
of two constants are computed then. The angle-axis rotation's branch (the identity where
``|theta_0..2| < 1e-4``) is in the program: both sides are written, the rotation's norm kept
finite (``max(|.|^2, 1e-10)``) where it is not taken, blended with ``step``.

Per row: the correspondence's vertex (simple variant) or the three vertices of its triangle
(complicated) enter as array inputs, base position and the skinning weight of every bone:
``position = sum over bones of weight * (transform . base)``, mirrored if the model says so, then
the global transform, and ``err = point - position`` (complicated: minus the barycentric blend of
the three). Only the vertices the correspondences use are skinned, where the reference skins
every vertex of the model at each call (a program per row cannot pick a vertex by index).

The Jacobian (3 npts rows; columns du0, du1 (complicated), theta_0..25) is reverse mode, three
sweeps (err0, err1, err2), with theta given as arrays that repeat its value on every row: slpdiff
sums a scalar input's derivative over the rows, and each row needs its own here. So the pose part
is computed once per row.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from ..evaluation import evaluate
from .programs import Declined, Job, Programs, Text, literal


class Writer:
    """Writes expressions over names and constants, folding the constants 0 and 1 and products
    of two constants exactly (a float is a constant, a str a name in the program)."""

    def __init__(self, text: Text):
        self.text = text
        self.made = 0

    def let(self, expr, prefix: str = "t"):
        if isinstance(expr, float):
            return expr
        self.made += 1
        return self.text.let(f"{prefix}{self.made}", expr)

    @staticmethod
    def show(v) -> str:
        return literal(v) if isinstance(v, float) else v

    def mul(self, a, b):
        if isinstance(a, float) and isinstance(b, float):
            return a * b
        if a == 0.0 or b == 0.0:
            return 0.0
        if a == 1.0:
            return b
        if b == 1.0:
            return a
        return f"{self.show(a)} * {self.show(b)}"

    def dot(self, pairs):
        """The sum of a * b over pairs, left to right, exact zeros dropped, as one statement."""
        terms = []
        for a, b in pairs:
            term = self.mul(a, b)
            if isinstance(term, float):
                if term == 0.0:
                    continue
                term = literal(term)
            terms.append(term)
        if not terms:
            return 0.0
        return self.let(" + ".join(terms))

    def matmul(self, a, b):
        return [[self.dot([(a[i][k], b[k][j]) for k in range(len(b))])
                 for j in range(len(b[0]))] for i in range(len(a))]


def euler_rotation(w: Writer, xzy) -> list:
    """The reference's ``euler_angles_to_rotation_matrix``: Rz Ry Rx, angles x, z, y."""
    def cos_sin(t):
        if isinstance(t, float):
            return math.cos(t), math.sin(t)
        return w.let(f"cos({t})"), w.let(f"sin({t})")

    def neg(v):
        return -v if isinstance(v, float) else w.let(f"-{v}")

    cx, sx = cos_sin(xzy[0])
    cy, sy = cos_sin(xzy[2])
    cz, sz = cos_sin(xzy[1])
    rx = [[1.0, 0.0, 0.0], [0.0, cx, neg(sx)], [0.0, sx, cx]]
    ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [neg(sy), 0.0, cy]]
    rz = [[cz, neg(sz), 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]]
    return w.matmul(w.matmul(rz, ry), rx)


def pose_parameters(theta: list[str], bones: int) -> list[list]:
    """The reference's ``to_pose_params``: a 3 x (bones + 3) matrix of names and constants."""
    pose = [[0.0] * (bones + 3) for _ in range(3)]
    for i in range(3):
        pose[i][0], pose[i][1], pose[i][2] = theta[i], 1.0, theta[3 + i]
    next_theta, column = 6, 5
    for _finger in range(5):
        for i in range(2, 5):
            pose[0][column] = theta[next_theta]
            next_theta += 1
            if i == 2:
                pose[1][column] = theta[next_theta]
                next_theta += 1
            column += 1
        column += 1
    return pose


def global_rotation(w: Writer, axis: list[str]) -> list:
    """The reference's ``angle_axis_to_rotation_matrix`` with its branch blended in."""
    sq = w.let(" + ".join(f"{a} * {a}" for a in axis))
    norm = w.let(f"sqrt(max({sq}, 1e-10))")
    turning = w.let(f"1 - step(0.0001 - {norm})")  # the reference: identity if norm < 1e-4
    x, y, z = (w.let(f"{a} / {norm}") for a in axis)
    s, c = w.let(f"sin({norm})"), w.let(f"cos({norm})")
    rotation = [[f"{x} * {x} + (1 - {x} * {x}) * {c}", f"{x} * {y} * (1 - {c}) - {z} * {s}",
                 f"{x} * {z} * (1 - {c}) + {y} * {s}"],
                [f"{x} * {y} * (1 - {c}) + {z} * {s}", f"{y} * {y} + (1 - {y} * {y}) * {c}",
                 f"{y} * {z} * (1 - {c}) - {x} * {s}"],
                [f"{x} * {z} * (1 - {c}) - {y} * {s}", f"{z} * {y} * (1 - {c}) + {x} * {s}",
                 f"{z} * {z} + (1 - {z} * {z}) * {c}"]]
    return [[w.let(f"{turning} * ({rotation[i][j]})" + (f" + (1 - {turning})" if i == j else ""))
             for j in range(3)] for i in range(3)]


def _write(model: dict, complicated: bool) -> tuple[Text, dict]:
    text = Text()
    w = Writer(text)
    bones = len(model["parents"])
    theta = [f"th{i}" for i in range(26)]
    corners = 3 if complicated else 1
    vertices = [([f"b{v}_{j}" for j in range(4)], [f"w{v}_{bone}" for bone in range(bones)])
                for v in range(corners)]
    us = ["u0", "u1"] if complicated else []
    points = ["px", "py", "pz"]
    text.input(*theta, *us, *(n for base, wts in vertices for n in base + wts), *points)
    pose = pose_parameters(theta, bones)
    relatives = []
    for i in range(bones):
        r = euler_rotation(w, [pose[row][i + 3] for row in range(3)])
        rigid = [[*r[0], 0.0], [*r[1], 0.0], [*r[2], 0.0], [0.0, 0.0, 0.0, 1.0]]
        base = [[float(v) for v in row] for row in model["base_relatives"][i]]
        relatives.append(w.matmul(base, rigid))
    absolutes = []
    for i, parent in enumerate(model["parents"]):
        absolutes.append(relatives[i] if parent == -1 else
                         w.matmul(absolutes[parent], relatives[i]))
    transforms = [w.matmul(absolutes[i], [[float(v) for v in row] for row in
                                          model["inverse_base_absolutes"][i]])
                  for i in range(bones)]
    rotation = global_rotation(w, [pose[i][0] for i in range(3)])
    placed = []
    for v, (base, weights) in enumerate(vertices):
        position = []
        for j in range(3):
            terms = []
            for bone in range(bones):
                moved = w.dot([(transforms[bone][j][k], base[k]) for k in range(4)])
                if moved != 0.0:
                    terms.append(f"{w.show(moved)} * {weights[bone]}")
            position.append(w.let(" + ".join(terms) if terms else "0", prefix=f"pos{v}_{j}_"))
        if model["is_mirrored"]:
            position[0] = w.let(f"-{position[0]}")
        rotated = [w.dot([(rotation[j][k], position[k]) for k in range(3)]) for j in range(3)]
        placed.append([w.let(f"{w.show(rotated[j])} + {pose[j][2]}", prefix=f"gv{v}_{j}_")
                       for j in range(3)])
    outs = []
    for j in range(3):
        if complicated:
            blend = (f"u0 * {placed[0][j]} + u1 * {placed[1][j]} + "
                     f"(1. - u0 - u1) * {placed[2][j]}")
            outs.append(text.let(f"err{j}", f"{points[j]} - ({blend})"))
        else:
            outs.append(text.let(f"err{j}", f"{points[j]} - {placed[0][j]}"))
    text.output(*outs)
    return text, {"theta": theta, "us": us, "vertices": vertices, "points": points,
                  "outs": outs}


def model_key(model: dict) -> str:
    """What a program is written from: the model's bone tree and matrices."""
    digest = hashlib.sha256()
    for name in ("parents", "base_relatives", "inverse_base_absolutes"):
        digest.update(np.asarray(model[name], dtype=np.float64).tobytes())
    digest.update(bytes([bool(model["is_mirrored"])]))
    return digest.hexdigest()[:16]


def prepare(function: str, input: dict, programs: Programs) -> Job:
    """The job for ``objective`` or ``jacobian`` at GradBench's ht input."""
    theta = [float(v) for v in input["theta"]]
    data = input["data"]
    model = data["model"]
    correspondences = np.asarray(data["correspondences"], dtype=np.int64)
    points = np.asarray(data["points"], dtype=np.float64)
    base_positions = np.asarray(model["base_positions"], dtype=np.float64)
    weights = np.asarray(model["weights"], dtype=np.float64)
    bones = len(model["parents"])
    npts = len(correspondences)
    if len(theta) != 26 or npts == 0 or points.shape != (npts, 3) or \
            weights.shape != (len(base_positions), bones):
        raise Declined("ht needs 26 parameters, correspondences, a point for each, and a model "
                       "with a weight per vertex and bone")
    us_given = input.get("us") or []
    complicated = len(us_given) != 0
    corners = ([np.asarray(model["triangles"], dtype=np.int64)[correspondences][:, v]
                for v in range(3)] if complicated else [correspondences])
    prepared = programs.get(("ht", model_key(model), "complicated" if complicated else "simple"),
                            lambda: _write(model, complicated))
    info, program = prepared.info, prepared.program
    at = dict(zip(info["theta"], theta, strict=True))
    for index, (base, wts) in zip(corners, info["vertices"], strict=True):
        at |= {name: np.ascontiguousarray(base_positions[index, j])
               for j, name in enumerate(base)}
        at |= {name: np.ascontiguousarray(weights[index, bone]) for bone, name in enumerate(wts)}
    at |= {name: np.ascontiguousarray(points[:, j]) for j, name in enumerate(info["points"])}
    if complicated:
        us = np.asarray(us_given, dtype=np.float64)
        at |= {"u0": np.ascontiguousarray(us[:, 0]), "u1": np.ascontiguousarray(us[:, 1])}
    outs = info["outs"]

    def interleave(columns: dict) -> np.ndarray:  # err[3 i + j]
        return np.stack([np.broadcast_to(columns[o], (npts,)) for o in outs], axis=1).ravel()

    if function == "objective":
        return programs.job(prepared, function, lambda: interleave(
            evaluate(program, at, derivatives=False).values), rows=True)
    if function == "jacobian":
        wrt = info["us"] + info["theta"]
        at_rows = at | {t: np.full(npts, at[t]) for t in info["theta"]}

        def jacobian():
            g = evaluate(program, at_rows, wrt=wrt).gradient
            return np.stack([interleave({o: g[o][x] for o in outs}) for x in wrt], axis=1)

        return programs.job(prepared, function, jacobian, rows=True)
    raise Declined(f"ht has no function {function!r} (only objective and jacobian)")
