"""micrograd's Value with sin and cos added in micrograd's own style (its PyPI release has +, *,
**, relu), so that it can run W2's programs."""

import math

from micrograd.engine import Value


def sin(x):
    out = Value(math.sin(x.data), (x,), "sin")

    def _backward():
        x.grad += math.cos(x.data) * out.grad
    out._backward = _backward
    return out


def cos(x):
    out = Value(math.cos(x.data), (x,), "cos")

    def _backward():
        x.grad += -math.sin(x.data) * out.grad
    out._backward = _backward
    return out
