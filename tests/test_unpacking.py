"""Unpacking what cannot be indexed: ``a, b = d.values()``, ``(k1, a), (k2, b) =
d.items()``, ``k1, k2 = d`` (the keys, as Python takes them), and the iterators
``zip``, ``enumerate``, ``map``, ``reversed`` and a generator expression, each read once
where it is unpacked. The generated code read ``value[0]``, ``value[1]``: a bare
``TypeError`` (a view is not subscriptable), a ``KeyError`` for a dict, or a refusal
saying the iterator was "bound to a name"."""

from __future__ import annotations

import pytest
from gradcheck import numerical_grad

import s2sad

MODES = ("reverse", "forward")


def values(x, y):
    d = {"a": x, "b": y * x}
    a, b = d.values()
    return a * b + a


def items(x, y):
    d = {"a": x, "b": y * x}
    (k1, a), (k2, b) = d.items()
    return a * b * len(k1 + k2)


def keys(x, y):
    d = {"a": x, "b": y * x}
    k1, k2 = d
    return d[k1] * d[k2]


def zipped(x, y):
    (a1, a2), (b1, b2) = zip([x, y], [2.0 * x, 3.0 * y])
    return a1 * b2 + a2 * b1


def enumerated(x, y):
    (i, a), (j, b) = enumerate([x, y])
    return a * j + b * i + a * b


def mapped(x, y):
    a, b = map(abs, [x, y * x])
    return a * b


def reversed_pair(x, y):
    a, b = reversed([x, x * y])
    return a * a + b


def generated(x, y):
    a, b = (v * v for v in [x, y])
    return a * b


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [values, items, keys, zipped, enumerated, mapped,
                                  reversed_pair, generated], ids=lambda f: f.__name__)
@pytest.mark.parametrize("point", [(1.5, -0.7), (-0.4, 2.2)])
def test_unpacking_views_and_iterators(func, mode, point):
    got = s2sad.grad(func, wrt=(0, 1), mode=mode)(*point)
    want = numerical_grad(func, point, wrt=(0, 1))
    assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


def values_of_an_argument(p, y):
    a, b = p.values()
    (k1, c), (k2, e) = p.items()
    return a * b * y + c * e


def test_unpacking_the_views_of_a_dict_argument():
    p = {"a": 1.5, "b": 3.0}
    got = s2sad.grad(values_of_an_argument, wrt=(0, 1))(p, 2.0)
    assert got[0] == pytest.approx({"a": 3.0 * 2.0 + 3.0, "b": 1.5 * 2.0 + 1.5})
    assert got[1] == pytest.approx(1.5 * 3.0)
    assert p == {"a": 1.5, "b": 3.0}


def make(x):
    return {1.0: x, 2.0: x * x}


def values_of_a_returned_dict(x):
    a, b = make(x).values()
    return a * b


@pytest.mark.parametrize("mode", MODES)
def test_unpacking_the_values_of_a_returned_dict(mode):
    assert s2sad.grad(values_of_a_returned_dict, mode=mode)(1.5) == pytest.approx(3 * 1.5 ** 2)
