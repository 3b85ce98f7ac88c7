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
from s2sad.extend import adjoint, d, unbroadcast

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


# ---------------------------------------------------------------------------
# 2. forward mode's tangent of a user's adjoint rule d[x] = d[z] * E
# ---------------------------------------------------------------------------

def sumsq(v):
    return np.sum(v * v)


@adjoint(sumsq)
def _sumsq_adjoint(z, v):
    d[v] = d[z] * 2.0 * v


def colsq(m):
    return np.sum(m * m, axis=0)


@adjoint(colsq)
def _colsq_adjoint(z, m):
    d[m] = d[z] * 2.0 * m


def mydot(a, b):
    return np.dot(a, b)


@adjoint(mydot)
def _mydot_adjoint(z, a, b):
    d[a] = d[z] * b
    d[b] = d[z] * a


def scaleby(s, v):
    return s * v


@adjoint(scaleby)
def _scaleby_adjoint(z, s, v):
    d[s] = unbroadcast(d[z] * v, s)
    d[v] = unbroadcast(d[z] * s, v)


def square(x):
    return x * x


@adjoint(square)
def _square_adjoint(z, x):
    d[x] = d[z] * 2.0 * x


def reduction(s, x):
    return sumsq(s * x)                 # 14 s^2 for x = [1, 2, 3]


def reduction_then_more(s, x):
    return sumsq(s * x) * s + 1.0       # 14 s^3 + 1


def partial_reduction(s, m):
    return np.sum(np.sin(colsq(s * m)))


def dot_squared(s, a):
    return mydot(s * a, a) ** 2


def elementwise_broadcast(s, x):
    return np.sum(scaleby(s * s, x) * x)


def scalar_rule(s, t):
    return square(s * t) + s


X = np.array([1.0, 2.0, 3.0])
M = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.25]])

RULE_CASES = [(reduction, (1.5, X)), (reduction_then_more, (1.5, X)),
              (partial_reduction, (0.7, M)), (dot_squared, (0.8, X)),
              (elementwise_broadcast, (1.3, X)), (scalar_rule, (1.5, 0.5))]


@pytest.mark.parametrize("f, args", RULE_CASES, ids=[c[0].__name__ for c in RULE_CASES])
@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_user_rule_gradient_along_scalar(f, args, mode):
    got = s2sad.grad(f, mode=mode)(*args)
    assert np.shape(got) == ()
    assert got == pytest.approx(numerical_grad(f, list(args)), rel=1e-6)


@pytest.mark.parametrize("f, args", RULE_CASES[:5], ids=[c[0].__name__ for c in RULE_CASES[:5]])
def test_user_rule_jvp_along_array(f, args):
    tangent = np.linspace(0.5, -1.0, args[1].size).reshape(args[1].shape)
    value, out = s2sad.jvp(f, wrt=1)(*args, tangent)
    assert value == pytest.approx(f(*args))
    want = float(np.sum(numerical_grad(f, list(args), wrt=1) * tangent))
    assert np.shape(out) == ()
    assert out == pytest.approx(want, rel=1e-6)


def test_reduction_rule_exact_values():
    assert s2sad.grad(reduction)(1.5, X) == 42.0
    assert s2sad.jvp(reduction, wrt=1)(1.5, X, np.ones(3))[1] == 27.0
    assert s2sad.jvp(reduction)(1.5, X, 1.0)[1] == 42.0
    jac = s2sad.jacobian(reduction, wrt=1, mode="fwd")(1.5, X)
    np.testing.assert_allclose(jac, 2.0 * 1.5 * 1.5 * X)


def test_partial_reduction_rule_tangent_has_result_shape():
    value, out = s2sad.jvp(colsq)(M, np.ones_like(M))
    np.testing.assert_allclose(out, np.sum(2.0 * M, axis=0))


def test_user_rule_tangent_sums_only_when_needed():
    text = s2sad.source(reduction, mode="forward", args=(1.5, X))
    assert "rule_tangent_term" in text
    text = s2sad.source(scalar_rule, mode="forward", args=(1.5, 0.5))
    assert "rule_tangent_term" not in text


W = np.array([1.0, -2.0, 0.5])


def wsum(x):
    return np.sum(W * x)


@adjoint(wsum)
def _wsum_adjoint(z, x):
    d[x] = unbroadcast(d[z] * W, x)


def global_in_rule(s):
    return wsum(s * s) * s              # -0.5 s^3


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_rule_reading_a_global_array_sums_its_tangent(mode):
    got = s2sad.grad(global_in_rule, mode=mode)(1.2)
    assert np.shape(got) == ()
    assert got == pytest.approx(-1.5 * 1.2 ** 2, rel=1e-12)
