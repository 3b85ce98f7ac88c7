"""vjp leaves the value it returns as the function made it, however many times the
pullback runs; user adjoint rules give forward mode a tangent only where it is sound.

References: the plain call of the function (values), finite differences
(``numerical_grad``) of the scalar ``sum(cotangent * f(x))`` (pullbacks), exact values.
"""

from __future__ import annotations

import copy
from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

# ---------------------------------------------------------------------------
# 1. the pullback does not change the returned value
# ---------------------------------------------------------------------------

def store_into_result(x):
    y = x * 2.0
    y[0] = y[0] * y[1]
    return y


def dict_built_by_stores(d):
    out = {}
    for key in d.keys():
        out[key] = d[key] * d[key]
    return out


def list_built_by_appends(x):
    ys = []
    for i in range(3):
        ys.append(x * i)
    return ys


def list_with_store(x):
    L = [0.0, 0.0]
    L[0] = x * x
    return L


def tuple_holding_appended(x):
    ys = []
    for i in range(3):
        ys.append(x * (i + 1.0))
    return ys, x * 2.0


def dict_holding_stored(x):
    y = x * 2.0
    y[0] = y[0] * y[1]
    return {"y": y, "s": np.sum(y)}


def list_after_pop(x):
    L = [x, x * 2.0, x * 3.0]
    a = L.pop()
    return L, a


def parameter_written(a):
    a[0] = a[0] * a[1]
    return a


Pair = namedtuple("Pair", "ys s")


@dataclass
class Rec:
    ys: list
    s: float


def named_tuple_of_list(x):
    ys = []
    for i in range(3):
        ys.append(x * i)
    return Pair(ys, x)


def dataclass_of_list(x):
    ys = []
    for i in range(3):
        ys.append(x * i)
    return Rec(ys, x)


def fresh_result(x):
    w = x * 3.0
    w[0] = w[1] * x[0]
    return x * w[0]


ARR = np.array([1.0, 2.0, 3.0])

CASES = [
    (store_into_result, (ARR,), np.array([1.0, -2.0, 0.5])),
    (dict_built_by_stores, ({"a": 1.0, "b": 2.0},), {"a": 1.0, "b": -3.0}),
    (list_built_by_appends, (2.0,), [1.0, 2.0, -1.0]),
    (list_with_store, (2.0,), [3.0, 1.0]),
    (tuple_holding_appended, (1.5,), ([1.0, 2.0, 0.5], -1.0)),
    (dict_holding_stored, (ARR,), {"y": np.array([1.0, 0.0, 2.0]), "s": 0.5}),
    (list_after_pop, (2.0,), ([1.0, -1.0], 3.0)),
    (parameter_written, (ARR,), np.array([0.5, 1.0, -1.0])),
    (named_tuple_of_list, (2.0,), Pair([1.0, 2.0, 3.0], -1.0)),
    (dataclass_of_list, (2.0,), Rec([1.0, 2.0, 3.0], -1.0)),
    (fresh_result, (ARR,), np.array([1.0, 1.0, 2.0])),
]


def _flat(v):
    """The numbers of a (nested) value, in order."""
    if isinstance(v, dict):
        return [u for k in sorted(v) for u in _flat(v[k])]
    if isinstance(v, Rec):
        return _flat(v.ys) + _flat(v.s)
    if isinstance(v, (list, tuple)):
        return [u for w in v for u in _flat(w)]
    return list(np.ravel(v))


def _same(a, b):
    return type(a) is type(b) and repr(a) == repr(b)


def _copy_args(args):
    return tuple(copy.deepcopy(a) for a in args)


@pytest.mark.parametrize("f, args, ct", CASES, ids=[c[0].__name__ for c in CASES])
def test_pullback_leaves_value_and_repeats(f, args, ct):
    want = f(*_copy_args(args))
    given = _copy_args(args)
    value, pullback = s2sad.vjp(f)(*given)
    assert _same(value, want), (value, want)
    first = pullback(ct)
    assert _same(value, want), f"the pullback changed the value: {value}, was {want}"
    second = pullback(ct)
    third = pullback(ct)
    assert _same(value, want)
    assert repr(first) == repr(second) == repr(third)
    assert repr(given) == repr(args)        # arguments left as they were

    # the pullback against finite differences of sum(ct * f(x)) along a float argument
    x = args[0]
    if isinstance(x, dict):
        keys = sorted(x)

        def g(*vals):
            return float(np.dot(_flat(ct), _flat(f(dict(zip(keys, vals))))))
        want_grad = {k: numerical_grad(g, [x[k] for k in keys], wrt=i)
                     for i, k in enumerate(keys)}
        for k in keys:
            assert first[k] == pytest.approx(want_grad[k], rel=1e-6, abs=1e-8)
        return

    def g(x):
        return float(np.dot(_flat(ct), _flat(f(copy.deepcopy(x)))))
    np.testing.assert_allclose(first, numerical_grad(g, [x]), rtol=1e-6, atol=1e-8)


def test_dict_value_has_no_placeholders():
    value, pullback = s2sad.vjp(dict_built_by_stores)({"a": 1.0, "b": 2.0})
    assert pullback({"a": 1.0, "b": 0.0}) == {"a": 2.0, "b": 0.0}
    assert pullback({"a": 0.0, "b": 1.0}) == {"a": 0.0, "b": 4.0}
    assert value == {"a": 1.0, "b": 4.0}
    assert all(type(v) is float for v in value.values())


def test_shared_list_stays_shared():
    def twice(x):
        ys = []
        ys.append(x * 2.0)
        return ys, ys
    value, pullback = s2sad.vjp(twice)(1.5)
    assert value == ([3.0], [3.0]) and value[0] is value[1]
    assert pullback(([1.0], [1.0])) == 4.0
    assert value == ([3.0], [3.0])


def test_fresh_result_is_not_copied():
    """An output no store touched goes out as the forward function made it: the
    generated forward function returns it without a copy."""
    text = s2sad.source(fresh_result, output="split", args=(ARR,))
    assert "private_value" not in text
    text = s2sad.source(store_into_result, output="split", args=(ARR,))
    assert "return private_value(y)" in text
