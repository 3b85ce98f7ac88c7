"""Kinds of attributes: ``self.W`` read by a method (``grad(obj.method)``), or ``p.W`` of an
argument that is a plain object, gets the kind of its value at call time ('S',
'A1', 'A2', ...) as an argument does, and that kind is part of the specialization:
a call where ``self.W`` has another kind compiles again, and the dispatcher's fast
path tests it (``api._attribute_state``, ``parse.attribute_reads``). Attributes of a
parameter the function also writes, passes or calls methods of, properties, and
attributes that are not there keep the kind 'A'.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad
from s2sad import api, parse

RNG = np.random.default_rng(11)


class Net:
    def __init__(self, W):
        self.W = W

    def loss(self, x, y, *, reg=0.1):
        n, m = self.W.shape
        trace = []
        s = 0.0
        for i in range(n):
            a = 0.0
            for j in range(m):
                a += self.W[i, j] * x[j]
            s += (math.tanh(a) - y[i]) ** 2
            trace.append(a)
        return s + reg * np.sum(x * x), trace

    def loss_plain(self, x, y, *, reg=0.1):
        n, m = self.W.shape
        trace = []
        s = 0.0
        for i in range(n):
            a = 0.0
            for j in range(m):
                a = a + self.W[i, j] * x[j]
            s += (math.tanh(a) - y[i]) ** 2
            trace.append(a)
        return s + reg * np.sum(x * x), trace


def _loss_of_arguments(W, x, y, reg):
    return Net(W).loss_plain(x, y, reg=reg)[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_augmented_update_over_an_attribute_item_is_no_false_refusal(seed):
    """``a += self.W[i, j] * x[j]`` with ``a`` appended to a list: ``self.W[i, j]`` of an
    'A2' is a number, so ``a`` is one and the update is no in-place write into an array
    the list holds (refused while ``self.W`` was an 'A')."""
    rng = np.random.default_rng(seed)
    net = Net(rng.normal(size=(3, 4)))
    x, y = rng.normal(size=4), rng.normal(size=3)
    g, aux = s2sad.grad(net.loss, has_aux=True)(x, y, reg=0.2)
    want = numerical_grad(lambda x: net.loss(x, y, reg=0.2)[0], (x,), 0)
    assert np.allclose(g, want, rtol=1e-6, atol=1e-8)
    assert aux == pytest.approx(net.loss(x, y, reg=0.2)[1])
    g2, _ = s2sad.grad(net.loss_plain, has_aux=True)(x, y, reg=0.2)
    assert np.allclose(g, g2, rtol=1e-12, atol=1e-14)
    # along self.W's values taken as an argument: the same numbers
    gw = numerical_grad(lambda x: _loss_of_arguments(net.W, x, y, 0.2), (x,), 0)
    assert np.allclose(g, gw, rtol=1e-6, atol=1e-8)
    (value, _), g3 = s2sad.value_and_grad(net.loss, has_aux=True)(x, y, reg=0.2)
    assert value == pytest.approx(net.loss(x, y, reg=0.2)[0])
    assert np.allclose(g3, g, rtol=1e-12, atol=1e-14)


def test_scalar_loop_over_an_attribute_is_scalar_code():
    """The inner loop over ``self.W[i, j]`` is scalar code, as with ``W`` an argument:
    no ``unbroadcast``, one value taped per iteration."""
    net = Net(RNG.normal(size=(3, 4)))
    x, y = RNG.normal(size=4), RNG.normal(size=3)
    for text in (s2sad.source(net.loss, args=(x, y), has_aux=True),
                 s2sad.source(net.loss_plain, args=(x, y), has_aux=True)):
        assert "unbroadcast" not in text and "seed(" not in text
        inner = text.split("for j in range(m):")[1].split("\n        _t")[0]
        assert inner.count("tape.append") == 1, text      # (_itape: W carries none)
    gf = s2sad.grad(net.loss, has_aux=True)
    gf(x, y, reg=0.3)
    assert "unbroadcast" not in gf.source
    assert parse.attribute_reads(Net.loss) == {"self": ("W",)}


class Scaled:
    """A method over ``self.W`` that is a matrix, a vector or a number."""

    def __init__(self, W, c):
        self.W = W
        self.c = c

    def f(self, x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + self.c * x[i] * x[i]
        return np.sum(self.W * s) + np.sum(self.W * x[0])


def _analytic(W, c, x):
    g = 2.0 * c * x * float(np.sum(W))
    g[0] += float(np.sum(W))
    return g


def test_a_change_of_an_attribute_kind_specializes_again():
    """``net.W = 3.0`` after calls with an array: the next call compiles code for a
    scalar ``self.W`` and never runs the array code (nor the other way round), on the
    dispatcher's fast path (positional calls) as on the general path."""
    m = Scaled(np.ones((2, 3)), 0.5)
    gf = s2sad.grad(m.f)
    x = np.array([0.3, -1.2, 0.7])
    values = [RNG.normal(size=(2, 3)), 3.0, RNG.normal(size=3), np.float64(-2.0),
              RNG.normal(size=(2, 3)), 2.5, RNG.normal(size=3), np.array(1.5),
              RNG.normal(size=(4, 3))]
    sources = {}
    for _ in range(2):
        for W in values:
            m.W = W
            for call in (lambda: gf(x), lambda: gf(x=x)):
                got = call()
                assert np.allclose(got, _analytic(W, m.c, x), rtol=1e-12), (W, got)
                assert np.allclose(got, numerical_grad(m.f, (x,), 0), rtol=1e-6)
            if api.kind_of(W) not in sources:       # compiled now, for this W
                assert gf.__func__._last.ctx.kinds["self.W"] == api.kind_of(W)
                sources[api.kind_of(W)] = gf.source
    assert sources["S"] != sources["A2"]
    assert len({impl.ctx.kinds["self.W"] for impl in gf.__func__._impls.values()}) == 4
    # the scalar attribute c changes kind too
    m.W = 2.0
    m.c = np.array([1.0, 2.0, 3.0])
    want = 2.0 * 2.0 * np.sum(m.c) * x    # s = c * sum(x * x), an array
    want[0] += 2.0
    assert np.allclose(gf(x), want, rtol=1e-12)
    assert np.allclose(gf(x), numerical_grad(m.f, (x,), 0), rtol=1e-6)


def test_the_fast_path_tests_attribute_kinds(monkeypatch):
    """Positional calls with unchanged attribute kinds go straight to the generated code;
    a changed kind takes the general path (once), which compiles."""
    m = Scaled(np.ones(3), 0.5)
    gf = s2sad.grad(m.f)
    x = np.array([0.3, -1.2, 0.7])
    gf(x)
    slow = []
    grad_object = gf.__func__
    real = grad_object._named_slow

    def counted(*args):
        slow.append(args)
        return real(*args)

    monkeypatch.setattr(grad_object, "_named_slow", counted)
    for _ in range(3):
        gf(x)
    assert not slow
    m.W = np.ones((2, 3))
    assert np.allclose(gf(x), _analytic(m.W, m.c, x))
    assert len(slow) == 1
    m.W = np.full((2, 3), 2.0)          # the same kind: the fast path
    assert np.allclose(gf(x), _analytic(m.W, m.c, x))
    assert len(slow) == 1
    m.c = 2                             # an int: another type, the general path once
    assert np.allclose(gf(x), _analytic(m.W, 2, x))
    assert np.allclose(gf(x), _analytic(m.W, 2, x))
    assert len(slow) == 2


class WithProperty:
    def __init__(self, w):
        self._w = w
        self.reads = 0

    @property
    def w(self):
        self.reads += 1
        return self._w

    def f(self, x):
        return np.sum(self.w * x * x)


def test_a_property_keeps_kind_A_and_is_not_read_by_the_dispatcher():
    m = WithProperty(2.0)
    gf = s2sad.grad(m.f)
    for k in range(1, 4):
        assert gf(1.5) == pytest.approx(6.0)
        assert m.reads == k                     # only the function reads it
    m._w = np.array([1.0, 2.0])
    assert np.allclose(gf(np.array([1.5, 0.5])), [3.0, 2.0])
    assert api._attribute_state(m, "w") == ("A", None)


class Writer:
    def __init__(self, W):
        self.W = W
        self.last = None

    def f(self, x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + self.W[i] * x[i]
        self.last = s
        return s * s

    def g(self, x):
        for i in range(x.shape[0]):
            self.W[i] = x[i] * 2.0
        return np.sum(self.W * x)


def test_a_method_that_writes_attributes_is_refused_as_before():
    """A method storing into an attribute of ``self`` gives ``self``'s attributes no
    kinds (``parse.attribute_reads``); such a store is refused, located, as before, and
    so is a write into an array ``self`` holds."""
    m = Writer(np.array([1.0, -2.0, 0.5]))
    x = np.array([0.3, 0.2, -0.4])
    assert parse.attribute_reads(Writer.f) == {}
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(m.f)(x)
    assert info.value.lineno == Writer.f.__code__.co_firstlineno + 4
    assert parse.attribute_reads(Writer.g) == {"self": ("W",)}
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(m.g)(x)
    assert info.value.lineno == Writer.g.__code__.co_firstlineno + 2


class Lazy:
    c = 2.0                         # a class attribute, read as self.c

    def f(self, x):
        return np.sum(self.c * x * x + self.d * x)


def test_attributes_absent_or_of_the_class():
    m = Lazy()
    gf = s2sad.grad(m.f)
    with pytest.raises(AttributeError):
        gf(1.5)                     # as m.f(1.5) does
    with pytest.raises(AttributeError):
        gf(1.5)
    m.d = 3.0
    assert gf(1.5) == pytest.approx(2.0 * 2.0 * 1.5 + 3.0)
    m.c = np.array([1.0, 2.0])      # the instance's now, an array
    assert np.allclose(s2sad.grad(m.f)(np.array([1.0, 1.0])), [5.0, 7.0])
    assert np.allclose(gf(np.array([1.0, 1.0])), [5.0, 7.0])
    del m.c                         # the class's again
    assert gf(1.5) == pytest.approx(9.0)
    del m.d
    with pytest.raises(AttributeError):
        gf(1.5)
    assert api._attribute_state(m, "d") == ("A", api._ABSENT)
    assert api._attribute_state(m, "c") == ("S", float)


class Params:
    def __init__(self, A, b):
        self.A = A
        self.b = b


def model(p, x):
    """The attributes of an argument that is a plain object (not a method's self)."""
    out = 0.0
    for i in range(p.A.shape[0]):
        r = p.b[i]
        for j in range(p.A.shape[1]):
            r += p.A[i, j] * x[j]
        out += math.sin(r)
    return out


def test_attributes_of_an_argument_that_is_a_plain_object():
    p = Params(RNG.normal(size=(3, 2)), RNG.normal(size=3))
    gf = s2sad.grad(model, 1)
    for _ in range(3):
        x = RNG.normal(size=2)
        want = p.A.T @ np.cos(p.A @ x + p.b)
        assert np.allclose(gf(p, x), want, rtol=1e-12)
        assert np.allclose(gf(p, x), numerical_grad(model, (p, x), 1), rtol=1e-6)
    assert "unbroadcast" not in gf.source
    assert api.call_kinds(model, {"p": p, "x": x}) == {"p": "A", "x": "A1", "p.A": "A2",
                                                        "p.b": "A1"}


class Matrix:
    def __init__(self, M, k):
        self.M = M
        self.k = k

    def quad(self, x):
        s = 0.0
        for i in range(self.M.shape[0]):
            for j in range(self.M.shape[1]):
                s = s + self.M[i, j] * x[i] * x[j]
        return self.k * s

    def scalar(self, t):
        s = 0.0
        for i in range(self.M.shape[0]):
            s = s + math.sin(self.M[i, i] * t) * self.k
        return s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_other_transformations_of_a_method_over_attributes(seed):
    rng = np.random.default_rng(seed)
    m = Matrix(rng.normal(size=(3, 3)), 1.5)
    x = rng.normal(size=3)
    sym = m.M + m.M.T
    assert np.allclose(s2sad.grad(m.quad)(x), m.k * sym @ x, rtol=1e-10)
    assert np.allclose(s2sad.hessian(m.quad)(x), m.k * sym, rtol=1e-10)
    _, pullback = s2sad.vjp(m.quad)(x)
    assert np.allclose(pullback(1.0), m.k * sym @ x, rtol=1e-10)
    d = rng.normal(size=3)
    _, t = s2sad.jvp(m.quad)(x, d)
    assert t == pytest.approx(float(m.k * d @ sym @ x), rel=1e-10)
    t0 = float(rng.normal())
    want = sum(m.k * m.M[i, i] * math.cos(m.M[i, i] * t0) for i in range(3))
    assert s2sad.grad(m.scalar)(t0) == pytest.approx(want, rel=1e-10)        # forward mode
    assert s2sad.grad(m.scalar, mode="reverse")(t0) == pytest.approx(want, rel=1e-10)
    assert s2sad.check_grads(m.quad, (x,))
    for text in (s2sad.source(m.quad, args=(x,)), s2sad.source(m.scalar, mode="auto")):
        assert "unbroadcast" not in text


def _spoilers():
    """Functions in which a parameter is used otherwise than by reading its attributes."""

    def assigned(self, x):
        self = x
        return self.W

    def passed(self, x):
        return helper(self) * self.W

    def method_called(self, x):
        return self.scale(x) * self.W

    def stored(self, x):
        self.W = x
        return self.W

    def augmented(self, x):
        self.n += 1
        return self.W * x

    def deleted(self, x):
        del self.cache
        return self.W * x

    def nested(self, x):
        def inner(self):
            return self.W
        return inner(x) * self.W

    def with_super(self, x):
        return super().f(x) * self.W

    return [assigned, passed, method_called, stored, augmented, deleted, nested, with_super]


def helper(obj):
    return 1.0


def test_attribute_reads_of_a_parameter_used_otherwise_are_not_given_kinds():
    for f in _spoilers():
        assert parse.attribute_reads(f) == {}, f.__name__

    def reads(self, x, other):
        y = self.W[0] * x + other.b
        return y + self.W.shape[0] + np.sum(self.V) + other.c(x)

    assert parse.attribute_reads(reads) == {"self": ("V", "W")}
    assert parse.attribute_reads(lambda self: self.W) == {}


class Rows:
    def __init__(self, W, coeffs, n):
        self.W = W
        self.coeffs = coeffs
        self.n = n

    def f(self, x):
        trace = []
        s = 0.0
        for i in range(self.n):
            a = 0.0
            for j in range(x.shape[0]):
                a += self.W[i] * x[j] * self.coeffs[j]
            trace.append(a)
            s = s + np.sum(a * a)
        return s


def test_an_update_of_an_array_attribute_item_is_still_refused():
    """With ``self.W`` a matrix, ``self.W[i]`` is a row: ``a`` is an array the list
    holds, and ``a += ...`` is refused, located, as for an argument; with ``self.W`` a
    vector the same method runs, and its gradient is right."""
    x = np.array([0.5, -1.0, 2.0])
    m = Rows(RNG.normal(size=4), np.array([1.0, 2.0, -0.5]), 4)
    c = m.coeffs
    want = 2.0 * float(np.sum(m.W ** 2)) * float(np.dot(c, x)) * c
    assert np.allclose(s2sad.grad(m.f)(x), want, rtol=1e-12)
    assert np.allclose(s2sad.grad(m.f)(x), numerical_grad(m.f, (x,), 0), rtol=1e-6)
    m.W = RNG.normal(size=(4, 2))
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(m.f)(x)
    assert info.value.lineno == Rows.f.__code__.co_firstlineno + 6
    m.coeffs = [1.0, 2.0, -0.5]          # a list keeps 'A' (the function may append)
    assert api._attribute_state(m, "coeffs") == ("A", list)
    assert api._attribute_state(m, "W") == ("A2", np.ndarray)
    assert api._attribute_state(m, "n") == ("S", int)


class Slotted:
    __slots__ = ("w",)

    def __init__(self, w):
        self.w = w

    def f(self, x):
        return np.sum(self.w * x * x)


class Forwarding:
    def __init__(self, w):
        self.inner = {"w": w}

    def __getattr__(self, name):
        return self.inner[name]

    def f(self, x):
        return np.sum(self.w * x * x)


class Cached:
    def __init__(self, w):
        self.base = w

    @functools.cached_property
    def w(self):
        return self.base * 2.0

    def f(self, x):
        return np.sum(self.w * x * x)


@pytest.mark.parametrize("cls", [Slotted, Forwarding, Cached])
def test_attributes_the_class_computes_keep_kind_A(cls):
    """A slot, an attribute ``__getattr__`` gives and a cached_property not computed
    yet are read by the function only: kind 'A', whatever their value."""
    m = cls(3.0)
    x = np.array([0.5, -1.0])
    scale = 2.0 if cls is Cached else 1.0
    gf = s2sad.grad(m.f)
    assert np.allclose(gf(x), 2.0 * 3.0 * scale * x)
    assert gf.__func__._last.ctx.kinds.get("self.w", "A") == "A"
    if cls is Cached:       # computed now, in the instance's __dict__: its kind is known
        assert api._attribute_state(m, "w") == ("S", float)
        del m.w
        m.base = np.array([1.0, 2.0])
        assert np.allclose(gf(x), 2.0 * 2.0 * m.base * x)
    else:
        assert api._attribute_state(m, "w") == ("A", None)
        if cls is Slotted:
            m.w = np.array([1.0, 2.0])
        else:
            m.inner["w"] = np.array([1.0, 2.0])
        assert np.allclose(gf(x), 2.0 * np.array([1.0, 2.0]) * x)


def test_second_derivatives_follow_a_change_of_an_attribute_kind():
    """``hessian`` and ``grad(grad(...))`` of a method transform the generated gradient
    again: it is specialized on the attributes' kinds too, and compiled again when
    they change."""
    x = np.array([0.3, -1.2, 0.7])
    m = Scaled(np.ones((2, 3)), 0.5)
    h = s2sad.hessian(m.f)
    for W, c in [(RNG.normal(size=(2, 3)), 0.5), (3.0, 0.25), (RNG.normal(size=3), 1.5),
                 (RNG.normal(size=(2, 3)), 2.0), (-1.0, 0.5)]:
        m.W, m.c = W, c
        want = 2.0 * c * float(np.sum(W)) * np.eye(3)
        assert np.allclose(h(x), want, rtol=1e-12), (W, c)
    k = Matrix(np.diag([1.0, 2.0, 3.0]), 1.5)
    dd = s2sad.grad(s2sad.grad(k.scalar))
    for M, scale in [(np.diag([1.0, 2.0, 3.0]), 1.5), (np.diag([0.5, -1.0]), 2.0)]:
        k.M, k.k = M, scale
        t = 0.4
        want = sum(-scale * d * d * math.sin(d * t) for d in np.diag(M))
        assert dd(t) == pytest.approx(want, rel=1e-10)
    k.k = np.array([1.0, 2.0])          # s is an array now: grad refuses, located
    with pytest.raises(s2sad.NonScalarOutputError):
        s2sad.grad(k.scalar)(0.4)
