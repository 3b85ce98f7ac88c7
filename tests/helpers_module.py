"""User helper functions in a module of their own, imported by ``test_calls.py``
(and ``test_mode.py``).

s2sad must find and differentiate them through ``from helpers_module import ...``
and through ``helpers_module.name`` attribute access.
"""

from __future__ import annotations

import math

import numpy as np

SCALE = 1.5


def smooth_step(x, width=1.0):
    return 0.5 * (1.0 + math.tanh(x / width))


def softplus(x):
    if x > 20.0:
        return x
    return math.log1p(math.exp(x))


def norm2(v):
    return np.sum(v * v)


def scaled(x):
    """Reads the module global SCALE of this module (not of the caller)."""
    return SCALE * x * x


def poly_eval(coeffs, x):
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


def layer(w, v, bias=0.0):
    return np.tanh(w @ v + bias)


def chain(x):
    """A helper calling two other helpers of this module."""
    return smooth_step(softplus(x), width=2.0) + scaled(x)


def appends_square(lst, x):
    """Appends to its list argument: reverse mode refuses the call, forward mode
    takes it."""
    lst.append(x * x)
    return 0.0


def fills_a_list(x, y):
    lst = [y]
    r = appends_square(lst, x)
    return sum(lst) + r


def pushes_square(lst, v):
    """Appends v * v to lst; returns nothing (called as a statement)."""
    lst.append(v * v)


MARKS = np.ones(3)      # a global array stored into by bump_marks (test_aliasing.py)


def bump_marks():
    MARKS[0] = 3.0
    return 0.0
