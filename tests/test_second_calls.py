"""Calls of user functions split into fwd_g/bwd_g: what the clean-up keeps."""

import math

import numpy as np
import pytest

import s2sad


# -- a bwd call whose result is unused still pops what its fwd recorded ---------------

def cubic_sine(a):
    return a * a * math.sin(a)


def pair(a):
    return (math.tanh(a), a * 2.0)


def dead_adjoint_of_a_call(x, y):
    u = cubic_sine(y)
    L = [x * 1.0]
    T = pair(L[0][1])
    x = 0.5 * x + np.array([L[0][1], T[-1], u])
    for _i in range(0):
        L.append(L[-1] * y)
    return np.sum(x) + T[-1] + np.sum(sum(L))


def test_a_call_whose_adjoint_is_unused_still_pops_its_records():
    """Along y only, bwd_pair's result feeds nothing: the clean-up dropped the call,
    so bwd_cubic_sine popped pair's records (a silently wrong gradient)."""
    x, y = np.array([0.3, -0.4, 0.8]), 0.7
    want = (dead_adjoint_of_a_call(x, y + 1e-6) - dead_adjoint_of_a_call(x, y - 1e-6)) / 2e-6
    assert s2sad.grad(dead_adjoint_of_a_call, wrt=1, mode="reverse")(x, y) == \
        pytest.approx(want, rel=1e-6)
    assert "bwd_pair(" in s2sad.source(dead_adjoint_of_a_call, wrt=1, mode="reverse",
                                       args=(x, y))
