"""The seed's Var (seed_script.py, unchanged) for W2, with its broken subtract written in the
seed's own style (a Var with op and pds), so that it can run the same programs."""

import numpy as np
from seed_script import Var, add, cos, multiply, sin  # noqa: F401


def _subtract_pd_a(a, b):
    return 1.


def _subtract_pd_b(a, b):
    return -1.


def subtract(a, b):
    return Var(op=np.subtract, children=[a, b], pds=[_subtract_pd_a, _subtract_pd_b])


OPS = {"+": add, "-": subtract, "*": multiply, "sin": sin, "cos": cos}
