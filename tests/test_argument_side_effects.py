"""A gradient call leaves its list, dict and array arguments as they were, in every
mode: the function changes a private copy (``copy_of``) of an argument it stores
into, appends to, pops from or changes by a method. Before, forward mode left an
append (or a pop) in the caller's list and reverse mode's sweep undid it. The
gradients are checked against finite differences too.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad


def appends(x, L):
    L.append(x * x)
    return sum(L)


def pops(x, L):
    v = L.pop()
    return v * x + L[0]


def appends_in_a_loop(x, L):
    for k in range(3):
        L.append(x * k)
    return sum(L) * x


def extends(x, L):
    L.extend([x, x * x])
    return sum(L)


def stores(x, L):
    L[0] = x * x
    return L[0] + L[1]


def updates(x, d):
    d.update({"a": x * x})
    return d["a"] + d["b"]


def stores_into_an_array(x, a):
    a[0] = x * x
    return np.sum(a)


def adds_into_an_array(x, a):
    a += x
    return np.sum(a * a)


CASES = [(appends, [1.0, 2.0]), (pops, [1.0, 2.0]), (appends_in_a_loop, [0.5]),
         (extends, [1.0]), (stores, [1.0, 2.0]), (updates, {"a": 1.0, "b": 2.0}),
         (stores_into_an_array, np.array([1.0, 2.0])),
         (adds_into_an_array, np.array([1.0, 2.0]))]


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("func, arg", CASES, ids=[f.__name__ for f, _ in CASES])
def test_a_gradient_call_leaves_its_argument_as_it_was(func, arg, mode):
    given = copy.deepcopy(arg)
    got = s2sad.grad(func, mode=mode)(1.3, given)
    np.testing.assert_array_equal(np.asarray(list(given.values()) if isinstance(given, dict)
                                             else given),
                                  np.asarray(list(arg.values()) if isinstance(arg, dict)
                                             else arg))
    assert type(given) is type(arg)
    want = numerical_grad(lambda x: func(x, copy.deepcopy(arg)), (1.3,))
    assert got == pytest.approx(want, rel=1e-6)
    # and the function itself still changes it (the copy is the gradient's own)
    mine = copy.deepcopy(arg)
    func(1.3, mine)
    assert not np.array_equal(np.asarray(list(mine.values()) if isinstance(mine, dict)
                                         else mine, dtype=object),
                              np.asarray(list(arg.values()) if isinstance(arg, dict)
                                         else arg, dtype=object)) \
        or len(mine) != len(arg)


def test_the_gradient_along_a_list_argument_appended_to_goes_through_the_copy():
    def f(L, x):
        L.append(L[0] * x)
        return sum(L) * L[1]

    for mode in ("reverse", "auto"):
        given = [1.5, 2.0]
        got = s2sad.grad(f, wrt=(0, 1), mode=mode)(given, 0.7)
        assert given == [1.5, 2.0]
        want = numerical_grad(lambda a, b, x: f([a, b], x), (1.5, 2.0, 0.7), wrt=(0, 1, 2))
        assert got[0] == pytest.approx(list(want[:2]), rel=1e-6)
        assert got[1] == pytest.approx(want[2], rel=1e-6)
