"""The user API contract: decorator forms, results, attributes, errors and their messages."""

from __future__ import annotations

import collections
import math
import typing

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad
from s2sad import (
    ArgumentError,
    MissingRuleError,
    NonScalarOutputError,
    S2SADError,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)

with open(__file__) as _fh:
    _LINES = _fh.read().splitlines()


def line_of(marker):
    """The line number of the unique line of this file ending with ``# <marker>``."""
    hits = [i for i, text in enumerate(_LINES, 1) if text.rstrip().endswith(f"# <{marker}>")]
    assert len(hits) == 1, f"marker <{marker}> found {len(hits)} times"
    return hits[0]


def check_message(exc, marker, *needles, filename=__file__, hint=True):
    """The message starts with ``file:line``, shows the line, names what and gives a hint."""
    lineno = line_of(marker)
    text = str(exc)
    assert text.startswith(f"{filename}:{lineno}:"), text
    assert exc.filename == filename and exc.lineno == lineno
    assert _LINES[lineno - 1].split("#")[0].strip() in text, text
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"
    if hint:
        assert "\n  hint: " in text and exc.hint, text


# ---------------------------------------------------------------------------
# Decorator forms and results


@s2sad.grad
def d_bare(x, y):
    """Product of x and y."""
    return x * y + math.sin(x)


@s2sad.grad(wrt=(0, 1))
def d_both(x, y):
    return x * y + math.sin(x)


@s2sad.value_and_grad(wrt=1)
def d_vg(x, y):
    return x * y * y


def plain(x, y):
    """Plain doc."""
    return x * y + math.sin(x)


def test_bare_decorator():
    g = d_bare(0.5, 2.0)
    assert type(g) is float
    assert g == pytest.approx(2.0 + math.cos(0.5), rel=1e-14)


def test_decorator_with_wrt_tuple():
    g = d_both(0.5, 2.0)
    assert type(g) is tuple and len(g) == 2
    assert all(type(v) is float for v in g)
    assert g == pytest.approx((2.0 + math.cos(0.5), 0.5), rel=1e-14)


def test_positional_wrt_and_wrt_int():
    assert s2sad.grad(plain, (0, 1))(0.5, 2.0) == pytest.approx((2.0 + math.cos(0.5), 0.5))
    assert s2sad.grad(plain, wrt=1)(0.5, 2.0) == pytest.approx(0.5)
    assert s2sad.grad(plain, 1)(0.5, 2.0) == pytest.approx(0.5)
    assert s2sad.grad(plain, wrt=[1, 0])(0.5, 2.0) == pytest.approx((0.5, 2.0 + math.cos(0.5)))
    single = s2sad.grad(plain, wrt=(1,))(0.5, 2.0)
    assert type(single) is tuple and single == pytest.approx((0.5,))


def test_value_and_grad_forms():
    value, g = d_vg(3.0, 2.0)
    assert value == 12.0 and g == pytest.approx(12.0)
    value, (gx, gy) = s2sad.value_and_grad(plain, wrt=(0, 1))(0.5, 2.0)
    assert value == plain(0.5, 2.0)
    assert (gx, gy) == pytest.approx((2.0 + math.cos(0.5), 0.5))
    value, g = s2sad.value_and_grad(plain)(0.5, 2.0)
    assert type(value) is float and type(g) is float


def array_fn(W, x, c):
    return np.sum(np.tanh(W @ x)) * c


def test_array_results_have_argument_shapes():
    W, x = np.linspace(-1, 1, 6).reshape(2, 3), np.array([0.1, -0.2, 0.3])
    gW, gx, gc = s2sad.grad(array_fn, wrt=(0, 1, 2))(W, x, 1.5)
    assert isinstance(gW, np.ndarray) and gW.shape == (2, 3) and gW.dtype == np.float64
    assert isinstance(gx, np.ndarray) and gx.shape == (3,)
    assert isinstance(gc, float)
    for got, want in zip((gW, gx, gc), numerical_grad(array_fn, (W, x, 1.5), (0, 1, 2))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_wrapper_attributes():
    assert d_bare.__name__ == "d_bare"
    assert d_bare.__doc__ == "Product of x and y."
    assert d_bare.__wrapped__(0.5, 2.0) == plain(0.5, 2.0)
    g = s2sad.grad(plain)
    assert g.__name__ == "plain" and g.__doc__ == "Plain doc." and g.__wrapped__ is plain
    assert g.__qualname__ == "plain" and g.__module__ == __name__
    assert callable(g.__wrapped__)


def test_source_attribute():
    g = s2sad.grad(plain, wrt=(0, 1))
    text = g.source
    assert text.startswith("def grad_plain(x, y):")
    assert "math.cos(x)" in text
    g(0.5, 2.0)
    assert g.source == text
    compile(text, "<generated>", "exec")


def test_source_function():
    text = s2sad.source(plain, wrt=(0, 1))
    assert text.startswith("def grad_plain(x, y):")
    # d/dy of x*y + sin(x) is x itself: the optimizer returns it directly
    assert text.rstrip().splitlines()[-1].strip() == "return (bx, x)"
    # d/dx alone: its two contributions summed in one statement, returned by name
    lines = [ln.strip() for ln in s2sad.source(plain).rstrip().splitlines()]
    assert lines[-2:] == ["bx = math.cos(x) + 1.0 * y", "return bx"]
    vg = s2sad.source(plain, output="value_and_grad")
    assert vg.startswith("def value_and_grad_plain(x, y):")
    arr = s2sad.source(array_fn, wrt=0, args=(np.ones((2, 3)), np.ones(3), 1.0))
    assert "matmul_adjoint_a" in arr
    assert s2sad.source(d_bare) == s2sad.source(plain).replace("grad_plain", "grad_d_bare")


def test_source_stages():
    normal = s2sad.source(plain, stage="normal")
    assert "_t1 = math.sin(x)" in normal or "math.sin(x)" in normal
    assert "bx" not in normal
    with pytest.raises(ArgumentError) as info:
        s2sad.source(plain, stage="nope")
    assert "nope" in str(info.value) and "normal" in str(info.value)


def with_defaults(x, y=2.0, *, scale=3.0):
    return scale * x * y + y


def test_keyword_arguments_and_defaults():
    g = s2sad.grad(with_defaults)
    assert g(1.5) == pytest.approx(6.0)
    assert g(1.5, 4.0) == pytest.approx(12.0)
    assert g(1.5, y=4.0) == pytest.approx(12.0)
    assert g(x=1.5, y=4.0, scale=0.5) == pytest.approx(2.0)
    assert g(y=4.0, x=1.5) == pytest.approx(12.0)
    gy = s2sad.grad(with_defaults, wrt=1)
    assert gy(1.5) == pytest.approx(3.0 * 1.5 + 1.0)
    assert gy(1.5, scale=2.0) == pytest.approx(2.0 * 1.5 + 1.0)
    value, g = s2sad.value_and_grad(with_defaults, wrt=(0, 1))(1.0, y=1.0)
    assert value == 4.0 and g == pytest.approx((3.0, 4.0))


def test_keyword_only_wrt():
    gs = s2sad.grad(with_defaults, wrt=2)(1.5, 4.0, scale=0.5)
    assert gs == pytest.approx(6.0)


def test_bad_call_arguments_raise_argument_error():
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(with_defaults)(1.0, 2.0, 3.0)
    assert "with_defaults" in str(info.value)


def test_grad_is_usable_as_method():
    class Model:
        def __init__(self, w):
            self.w = w

    def energy(self, x):
        return self.w * x * x

    Model.energy_grad = s2sad.grad(energy, wrt=1)
    assert Model(3.0).energy_grad(2.0) == pytest.approx(12.0)


class _Model:
    """A model whose loss is a method: ``grad(model.loss)`` differentiates along the
    method's own arguments, reading ``self`` as it is at each call."""

    def __init__(self, w, scale):
        self.w = w
        self.scale = scale

    def loss(self, x, y):
        z = np.sum(self.w * x) * self.scale
        return z * z + y * z

    def value(self, x):
        return self.scale * np.sin(x) * x

    @classmethod
    def cubic(cls, x, k=3.0):
        return k * x * x * x


class _Private:
    """Private names in a method: Python mangles ``self.__k`` to ``self._Private__k``."""

    __offset = 0.5

    def __init__(self, k):
        self.__k = k

    def loss(self, x):
        return self.__k * x * x + _Private.__offset * x


def test_method_with_private_names():
    # the generated code, compiled outside the class, read self.__k unmangled: a bare
    # AttributeError ('_Private' object has no attribute '__k')
    m = _Private(3.0)
    for mode in ("reverse", "forward"):
        assert s2sad.grad(m.loss, mode=mode)(1.5) == pytest.approx(6.0 * 1.5 + 0.5)
    assert s2sad.hessian(m.loss)(1.5) == pytest.approx(6.0)


def _model_and_point():
    return _Model(np.array([1.0, -2.0, 0.5]), 0.7), np.array([0.3, 0.1, -0.4]), 1.5


def test_grad_of_a_bound_method_along_its_own_arguments():
    m, x, y = _model_and_point()
    gx, gy = s2sad.grad(m.loss, (0, 1))(x, y)
    nx, ny = numerical_grad(m.loss, (x, y), (0, 1))
    assert np.allclose(gx, nx, rtol=1e-6) and gy == pytest.approx(ny, rel=1e-6)
    assert np.allclose(s2sad.grad(m.loss)(x, y), nx, rtol=1e-6)        # wrt=0: x, not self
    assert s2sad.grad(wrt=1)(m.loss)(x, y) == pytest.approx(ny, rel=1e-6)
    assert s2sad.grad(m.loss, argnum=1)(x, y) == pytest.approx(ny, rel=1e-6)
    value, g = s2sad.value_and_grad(m.loss, 1)(x, y)
    assert value == pytest.approx(m.loss(x, y)) and g == pytest.approx(ny, rel=1e-6)
    m.w = m.w * 2.0                     # self is read at each call
    assert np.allclose(s2sad.grad(m.loss)(x, y), numerical_grad(m.loss, (x, y), 0), rtol=1e-6)
    assert "def grad_loss(self, x, y)" in s2sad.grad(m.loss).source
    assert "def grad_loss(self, x, y)" in s2sad.source(m.loss, args=(x, y))


def test_grad_of_a_classmethod_and_scalar_method():
    assert s2sad.grad(_Model.cubic)(2.0) == pytest.approx(36.0)
    m = _Model(None, 2.0)
    g = s2sad.grad(m.value)
    for x in (0.3, -1.2, 2.0):
        assert g(x) == pytest.approx(numerical_grad(m.value, (x,), 0), rel=1e-7)


def test_other_transformations_of_a_bound_method():
    m, x, y = _model_and_point()
    nx = numerical_grad(m.loss, (x, y), 0)
    _, t = s2sad.jvp(m.loss)(x, y, np.ones(3))
    assert t == pytest.approx(float(np.sum(nx)), rel=1e-6)
    _, pullback = s2sad.vjp(m.loss)(x, y)
    assert np.allclose(pullback(1.0), nx, rtol=1e-6)
    assert np.allclose(s2sad.jacobian(m.loss)(x, y), nx, rtol=1e-6)
    h = s2sad.hessian(m.loss)(x, y)
    w = m.w * m.scale
    assert np.allclose(h, 2.0 * np.outer(w, w))          # z is linear in x: H = 2 w w^T
    xs = np.array([0.1, 0.5, -0.7])
    assert np.allclose(s2sad.elementwise_grad(m.value)(xs),
                       m.scale * (np.cos(xs) * xs + np.sin(xs)))
    assert s2sad.check_grads(m.loss, (x, y))


def test_wrt_of_a_bound_method_is_checked_against_its_own_parameters():
    m, x, y = _model_and_point()
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(m.loss, 2)
    assert "wrt=2 is out of range: loss has 2 parameters" in str(info.value)
    with pytest.raises(ArgumentError):
        s2sad.jvp(m.loss, (0, 2))


class _Net:
    """Methods calling methods: self.pred(x), a staticmethod, a classmethod (by self and
    by the class), a loop of method calls; _WideNet overrides pred."""
    k = 2.0

    def __init__(self, w):
        self.w = w

    def pred(self, x):
        return np.tanh(self.w * x)

    def loss(self, x, y):
        r = self.pred(x) - y
        return np.sum(r * r) + self.reg(x)

    def reg(self, x):
        return self.k * np.sum(x * x) * self.scale_of(x[0])

    @staticmethod
    def scale_of(t):
        return 0.1 + 0.5 * t * t

    @classmethod
    def twice(cls, x):
        return cls.k * x * 2.0

    def uses_classmethod(self, x):
        return self.twice(x) * x + _Net.twice(x * x)

    def chain(self, x):
        s = 0.0
        for i in range(3):
            s = s + self.step(x, i)
        return s

    def step(self, x, i):
        return math.sin(x * (i + 1)) * self.k


class _WideNet(_Net):
    k = 3.0

    def pred(self, x):
        return np.sin(self.w * x) ** 2


class _Swapped:
    def f(self, x):
        return x * x

    def g(self, x):
        return self.f(x) * 2.0


def _cube(self, x):
    return x * x * x


class _Outer:
    def __init__(self):
        self.inner = _Swapped()

    def loss(self, x):
        return self.inner.f(x) * 2.0

    def via_local(self, x):
        a = self.inner
        return a.f(x) * 2.0


class _Layer:
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        return np.tanh(self.w * x) + self.bias(x)

    def bias(self, x):
        return 0.1 * x


class _SquareLayer(_Layer):
    def bias(self, x):
        return 0.3 * x * x


class _Stack:
    def __init__(self):
        self.first = _Layer(np.array([0.5, -1.0]))
        self.second = _SquareLayer(np.array([2.0, 0.3]))

    def loss(self, x):
        h = self.first.forward(x)
        h = self.second.forward(h)
        return np.sum(h * h) + self.first.w[0] * np.sum(x)


class _Chain:
    """A method calling a method of self that calls a method of an object self holds."""

    def __init__(self):
        self.layer = _Layer(np.array([0.5, -1.0]))

    def pred(self, x):
        return self.layer.forward(x)

    def loss(self, x):
        return np.sum(self.pred(x) ** 2)


class _Params(typing.NamedTuple):
    w: float
    k: float

    def energy(self, x):
        return self.shape(x) * self.w

    def shape(self, x):
        return math.sin(x * self.k)


def test_methods_of_a_named_tuple():
    """A named tuple's methods calling each other (a tuple subclass was no receiver)."""
    p = _Params(2.0, 3.0)
    for mode in ("auto", "reverse"):
        assert s2sad.grad(p.energy, mode=mode)(0.4) == pytest.approx(6.0 * math.cos(1.2))


def test_source_of_a_method_calling_methods_before_a_call():
    """grad(obj.method).source before any call was the MissingRuleError of self.pred():
    the gradient object knew the function, not the object."""
    net = _Net(np.array([0.5, -1.0]))
    for mode in ("auto", "reverse", "forward"):
        text = s2sad.grad(net.chain, mode=mode).source
        assert "def grad_chain(self, x):" in text and "check_method(self, 'step'" in text


class _Poly:
    def __init__(self, c):
        self.c = c

    def __call__(self, x):
        s = 0.0
        for i in range(len(self.c)):
            s = s + self.c[i] * x ** i
        return s

    def squared(self, x):
        return self(x) ** 2


def test_a_callable_object_and_self_called():
    """grad(obj) of an object with a __call__ written in Python was a
    SourceUnavailableError, self(x) in a method a MissingRuleError: both are
    obj.__call__."""
    p = _Poly([1.0, 2.0, 3.0])
    assert s2sad.grad(p)(0.5) == pytest.approx(5.0)
    assert s2sad.grad(p, mode="reverse")(0.5) == pytest.approx(5.0)
    assert s2sad.jvp(p)(0.5, 1.0) == pytest.approx((2.75, 5.0))
    assert s2sad.vjp(p)(0.5)[1](1.0) == pytest.approx(5.0)
    assert s2sad.hessian(p)(0.5) == pytest.approx(6.0)
    assert s2sad.check_grads(p, (0.5,))
    assert "def grad___call__(self, x):" in s2sad.source(p)
    for mode in ("auto", "reverse", "forward"):
        assert s2sad.grad(p.squared, mode=mode)(0.5) == pytest.approx(2 * 2.75 * 5.0)


def _check_loss_of(net, x):
    """``net.loss``'s gradient in both modes and its jvp along ones, against differences."""
    want = numerical_grad(net.loss, (x,), 0)
    for mode in ("auto", "reverse"):
        assert np.allclose(s2sad.grad(net.loss, mode=mode)(x), want, rtol=1e-6)
    _, t = s2sad.jvp(net.loss)(x, np.ones(2))
    assert t == pytest.approx(float(np.sum(want)), rel=1e-6)


def test_methods_of_objects_held_by_self():
    """self.first.forward(x), an object held in an attribute of self, was a
    MissingRuleError; one function (_Layer.forward) is called for objects of two
    classes, each with its own code; an attribute set to an object of another class
    after the gradient was made gets code of its own at the next call (the attributes
    a method reads are specialized on, their classes too)."""
    net, x = _Stack(), np.array([0.3, 0.7])
    _check_loss_of(net, x)
    g = s2sad.grad(net.loss)
    g(x)
    net.second = _Layer(np.array([2.0, 0.3]))
    assert np.allclose(g(x), numerical_grad(net.loss, (x,), 0), rtol=1e-6)
    assert np.allclose(s2sad.grad(net.loss)(x), numerical_grad(net.loss, (x,), 0), rtol=1e-6)
    assert s2sad.grad(_Outer().loss)(2.0) == pytest.approx(8.0)


def test_a_method_called_by_self_m_reaches_the_objects_self_holds():
    """self.pred(x) calling self.layer.forward(x): the callee's self.layer was no
    receiver (a MissingRuleError 'method .forward() of a computed value'). An object of
    another class set after the gradient was made was refused at the call (an
    ArgumentError, 'make the gradient again'): the gradient object makes code for the
    new class (the check of the code it ran raises a StaleReceiverError)."""
    net, x = _Chain(), np.array([0.3, 0.7])
    _check_loss_of(net, x)
    for mode in ("auto", "reverse"):
        g = s2sad.grad(net.loss, mode=mode)
        old = net.layer
        g(x)
        net.layer = _SquareLayer(np.array([2.0, 0.3]))
        assert np.allclose(g(x), numerical_grad(net.loss, (x,), 0), rtol=1e-6)
        assert np.allclose(s2sad.grad(net.loss)(x), numerical_grad(net.loss, (x,), 0),
                           rtol=1e-6)
        net.layer = old
        assert np.allclose(g(x), numerical_grad(net.loss, (x,), 0), rtol=1e-6)


def _applies(x, g):
    return g(x) * x


def test_a_grad_object_passed_as_an_argument_is_no_receiver():
    """A gradient object passed as an argument was taken for an object whose __call__
    (s2sad's generated dispatcher) is differentiated: a SourceUnavailableError at
    '<string>:1'; it is refused as before, at the user's line."""
    with pytest.raises(MissingRuleError) as info:
        s2sad.grad(_applies)(2.0, s2sad.grad(cube))
    assert info.value.filename == __file__
    assert info.value.lineno == _applies.__code__.co_firstlineno + 1
    # an object of a library (its __call__ in numpy's files): not transformed, refused
    # as the call it is, not as a missing rule for 'poly1d___call__'
    with pytest.raises(MissingRuleError, match=r"call of g\(\), a callable passed as an "
                       r"argument") as info:
        s2sad.grad(_applies)(2.0, np.poly1d([1.0, 2.0]))
    assert info.value.lineno == _applies.__code__.co_firstlineno + 1


def test_an_unhashable_callable_is_refused_without_a_traceback():
    """grad(np.poly1d(...)), of an unhashable callable object, was a bare TypeError
    ('unhashable type') from the cache lookup."""
    p = np.poly1d([1.0, 2.0])
    for call in (lambda: s2sad.grad(p)(1.0), lambda: s2sad.jvp(p)(1.0, 1.0),
                 lambda: s2sad.vjp(p)(1.0)):
        with pytest.raises(s2sad.SourceUnavailableError, match="not a Python function"):
            call()


def test_a_method_of_another_object_is_refused_with_a_hint():
    with pytest.raises(MissingRuleError) as info:
        s2sad.grad(_Outer().via_local)(2.0)
    assert info.value.lineno == _Outer.via_local.__code__.co_firstlineno + 2
    assert "C.m(obj, x)" in info.value.hint and "local names" in info.value.hint


def test_a_method_replaced_in_its_class():
    """The code made for self.f(...) calls _Swapped.f as it was: replaced in the class,
    the old gradient object makes code for the new method (it does not call the old one
    silently: the code is stale, Context.stale), as a new one does."""
    obj = _Swapped()
    g = s2sad.grad(obj.g)
    assert g(3.0) == 12.0
    old = _Swapped.f
    try:
        _Swapped.f = _cube
        assert g(3.0) == 54.0
        assert s2sad.grad(obj.g)(3.0) == 54.0
    finally:
        _Swapped.f = old
    assert g(3.0) == 12.0


def test_methods_calling_methods():
    """self.m(...) of a method differentiated with grad(obj.method) was a MissingRuleError
    ('no derivative rule for method self.pred()'): it is now a call of the class's
    function, specialized on the class of self (a subclass overriding the method gets
    its own code), checked when the code runs (an instance holding its own method is
    an ArgumentError at the call's line)."""
    x, y = np.array([0.3, 0.7]), np.array([0.1, 0.2])
    for net in (_Net(np.array([0.5, -1.0])), _WideNet(np.array([0.5, -1.0]))):
        for mode in ("auto", "reverse"):
            got = s2sad.grad(net.loss, (0, 1), mode=mode)(x, y)
            want = numerical_grad(net.loss, (x, y), (0, 1))
            assert np.allclose(got[0], want[0], rtol=1e-6) and np.allclose(got[1], want[1])
        for mode in ("auto", "reverse", "forward"):
            for f in (net.uses_classmethod, net.chain):
                assert s2sad.grad(f, mode=mode)(0.4) == \
                    pytest.approx(numerical_grad(f, (0.4,), 0), rel=1e-6)
        assert s2sad.check_grads(net.loss, (x, y))
        _, t = s2sad.jvp(net.chain)(0.4, 1.0)
        assert t == pytest.approx(numerical_grad(net.chain, (0.4,), 0), rel=1e-6)
    g = s2sad.grad(_Net.loss, wrt=1)       # one gradient object, two classes of self
    base, wide = _Net(np.array([0.5, -1.0])), _WideNet(np.array([0.5, -1.0]))
    for net in (base, wide, base):
        assert np.allclose(g(net, x, y), numerical_grad(net.loss, (x, y), 0), rtol=1e-6)
    odd = _Net(np.array([1.0, 1.0]))
    odd.pred = lambda v: v * 0.0            # the instance's own pred: not _Net.pred
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(odd.loss)(x, y)
    assert info.value.lineno == _Net.loss.__code__.co_firstlineno + 1
    assert "the instance holds its own pred" in str(info.value)


class _Decorated:
    def __init__(self, b):
        self.b = b

    @s2sad.grad(wrt=1)
    def slope(self, x, y):
        return x ** 3 * y * y + self.b * x

    def scaled(self, x, *, k=2.0):
        return k * x ** 3 + self.b


def test_grad_of_a_method_decorated_with_grad():
    """``obj.m`` of a method decorated with ``grad`` is a bound method of the gradient
    object (a functools.partial before: grad of it was a SourceUnavailableError)."""
    m, x, y = _Decorated(0.5), 0.7, 1.3
    assert m.slope(x, y) == pytest.approx(3 * x * x * y * y + 0.5)
    assert s2sad.grad(m.slope, 1)(x, y) == pytest.approx(6 * x * x * y)
    assert s2sad.grad(m.slope)(x, y) == pytest.approx(6 * x * y * y)


def test_source_of_a_method_with_a_keyword_only_parameter():
    """Without args, source takes a scalar for each positional parameter (it counted the
    keyword-only ones too: a bare TypeError); args that do not fit are an ArgumentError."""
    m = _Decorated(0.5)
    assert "def grad_scaled(self, x, *, k=2.0)" in s2sad.source(m.scaled)
    with pytest.raises(ArgumentError, match="args do not fit"):
        s2sad.source(m.scaled, args=(1.0, 2.0))
    with pytest.raises(ArgumentError, match="args do not fit"):
        s2sad.source(plain, args=(1.0, 2.0, 3.0))


def test_specializations_dispatch_by_argument_types():
    """The fast dispatcher of scalar specializations and the general path agree."""
    g = s2sad.grad(plain, wrt=(0, 1))
    want = (0.5 + math.cos(2.0), 2.0)
    for args in [(2.0, 0.5), (2, 0.5), (np.float64(2.0), 0.5), (2.0, np.float32(0.5)),
                 (2.0, 0.5), (np.array(2.0), 0.5)]:
        got = g(*args)
        assert got == pytest.approx(want), args
        assert type(got[0]) is not int
    assert g(x=2.0, y=0.5) == pytest.approx(want)
    assert g(2.0, y=0.5) == pytest.approx(want)
    assert type(g(2, 1)[0]) is float and type(g(2, 1)[1]) is float     # promoted, every call
    with pytest.raises(ArgumentError):
        g(2.0)
    with pytest.raises(ArgumentError):
        g(2.0, 0.5, 1.0)


def scaled(x, y=2.0, *, a0=1.0):
    return x * y * a0


def test_dispatcher_with_defaults_and_keywords():
    """Specializations of different arity, and a keyword named like the dispatcher's
    own positional-only parameters (a0), reach the right code on every call."""
    g = s2sad.grad(scaled)
    for _ in range(3):
        assert g(1.0) == 2.0 and g(1.0, 3.0) == 3.0
        assert g(1.0, a0=5.0) == 10.0 and g(1.0, 3.0, a0=2.0) == 6.0
        assert g(x=1.0) == 2.0 and g(1.0, y=4.0) == 4.0
        assert g(2) == 2.0 and type(g(2)) is float
    with pytest.raises(ArgumentError, match="too many positional"):
        g(1.0, 2.0, 3.0)
    with pytest.raises(ArgumentError, match="missing a required argument"):
        g()


def log_plus(x, y):
    u = math.log(x)
    return u + x * y


def test_gradient_raises_where_the_function_raises():
    """Dead primal arithmetic is dropped, but calls stay: math.log(-1.0) still raises."""
    g = s2sad.grad(log_plus, wrt=(0, 1))
    assert g(2.0, 3.0) == pytest.approx((0.5 + 3.0, 2.0))
    with pytest.raises(ValueError, match="math domain error"):
        log_plus(-1.0, 3.0)
    with pytest.raises(ValueError, match="math domain error"):
        g(-1.0, 3.0)
    src = s2sad.source(log_plus, wrt=(0, 1))
    assert "math.log(x)" in src and "x * y" not in src       # the dead product is gone


def sin_plus_log(x, y):
    return math.sin(x) * 0.0 + x * y + math.log(y) * 0.0


def checked_log(x, y):
    math.log(y)             # a domain check, for its ValueError only
    return x * y


def test_dead_calls_stay_as_checks_or_go_when_covered():
    """A dead call that can raise stays as an expression statement; a sin is dropped
    when the gradient computes the cos of the same argument (same domain)."""
    g = s2sad.grad(log_plus, wrt=(0, 1))
    src = s2sad.source(log_plus, wrt=(0, 1))
    assert "    if x <= 0:\n        math.log(x)\n" in src     # called only where it raises
    f = s2sad.grad(sin_plus_log, wrt=(0, 1))
    assert f(0.5, 2.0) == pytest.approx((2.0, 0.5))
    with pytest.raises(ValueError, match="math domain error"):
        f(math.inf, 2.0)                # raised by math.cos(x), standing in for math.sin(x)
    with pytest.raises(ValueError, match="math domain error"):
        f(0.5, -2.0)
    with pytest.raises(ValueError):
        g(-1.0, 3.0)
    c = s2sad.grad(checked_log, wrt=(0, 1))
    assert c(3.0, 2.0) == pytest.approx((2.0, 3.0))
    for bad in (-2.0, 0.0, -0.0, 0, -10**400):
        with pytest.raises(ValueError, match="math domain error"):
            checked_log(3.0, bad)
        with pytest.raises(ValueError, match="math domain error"):
            c(3.0, bad)
    for fine in (1e-300, 10**300, math.inf, math.nan):
        checked_log(3.0, fine)
        c(3.0, fine)
    for flag in (False, True):          # a bool is not differentiated (see test_bool_wrt)
        with pytest.raises(ArgumentError):
            c(3.0, flag)
    pair = np.array([2.0, 3.0])         # math.log refuses it; no comparison stands in
    with pytest.raises(TypeError) as want:
        checked_log(3.0, pair)
    with pytest.raises(TypeError) as got:
        c(3.0, pair)
    assert str(got.value) == str(want.value)


def cube(x):
    return x * x * x


def test_grad_of_grad_is_second_derivative():
    assert s2sad.grad(cube)(1.0) == pytest.approx(3.0)
    assert s2sad.grad(s2sad.grad(cube))(1.0) == pytest.approx(6.0)
    assert s2sad.grad(s2sad.grad(cube))(-2.0) == pytest.approx(-12.0)


# ---------------------------------------------------------------------------
# Error types


def test_error_hierarchy():
    for cls in (UnsupportedSyntaxError, MissingRuleError, SourceUnavailableError,
                NonScalarOutputError, ArgumentError):
        assert issubclass(cls, S2SADError)
    assert issubclass(S2SADError, Exception)


def u_try(x):
    try:  # <try>
        y = x * 2.0
    except ValueError:
        y = x
    return y


def u_with(x):
    with open(__file__) as fh:  # <with>
        y = x * len(fh.name)
    return y


def u_yield(x):
    y = x * 2.0
    yield y  # <yield>
    return y


def u_yield_only(x):
    yield x * 2.0  # <yield-only>


COUNTER = 0


def u_global(x):
    global COUNTER  # <global>
    COUNTER = 1
    return x * 2.0


def _make_nonlocal():
    total = 0.0

    def u_nonlocal(x):
        nonlocal total  # <nonlocal>
        total = 1.0
        return x * 2.0
    return u_nonlocal


u_nonlocal = _make_nonlocal()


def u_lambda(x):
    return (lambda t: t * 2.0)(x)  # <lambda>


def u_walrus(x):
    z = 1.0
    y = z + (z := x * 2.0)  # <walrus>
    return y


def u_class(x):
    class Inner:  # <class>
        scale = 2.0
    return x * Inner.scale


def u_del(x):
    y = [x * 2.0, x]
    del y[0]  # <del>
    return y[0]


def u_starcall(x):
    args = [x]
    args.append(2.0)            # (a display bound once and unchanged is spread)
    return math.pow(*args)  # <starcall>


def u_import(x):
    import cmath  # <import>
    return cmath.sqrt(x).real


def u_import_from(x):
    from math import sin  # <import-from>
    return sin(x)


UNSUPPORTED = [
    pytest.param(u_try, "try", "try/except", id="try"),
    pytest.param(u_with, "with", "with statement", id="with"),
    pytest.param(u_yield, "yield", "yield", id="yield"),
    pytest.param(u_yield_only, "yield-only", "yield", id="yield-only"),
    pytest.param(u_global, "global", "global statement", id="global"),
    pytest.param(u_nonlocal, "nonlocal", "nonlocal statement", id="nonlocal"),
    pytest.param(u_lambda, "lambda", "lambda", id="lambda"),
    pytest.param(u_walrus, "walrus", "assignment expression (walrus", id="walrus"),
    pytest.param(u_class, "class", "class definition", id="class"),
    pytest.param(u_del, "del", "del statement", id="del"),
    pytest.param(u_starcall, "starcall", "starred argument", id="starcall"),
    pytest.param(u_import, "import", "import inside the function", id="import"),
    pytest.param(u_import_from, "import-from", "import inside the function", id="import-from"),
]


@pytest.mark.parametrize("func, marker, construct", UNSUPPORTED)
def test_unsupported_construct(func, marker, construct):
    with pytest.raises(UnsupportedSyntaxError) as info:
        s2sad.grad(func)(1.5)
    check_message(info.value, marker, f"unsupported construct: {construct}")


def test_unsupported_reports_column():
    with pytest.raises(UnsupportedSyntaxError) as info:
        s2sad.grad(u_walrus)(1.5)
    line = _LINES[line_of("walrus") - 1]
    assert info.value.col == line.index("z :=")
    assert str(info.value).startswith(f"{__file__}:{line_of('walrus')}:{line.index('z :=') + 1}:")
    caret = str(info.value).splitlines()[2]
    assert caret.strip() == "^"


def test_unsupported_in_nested_function_has_real_column():
    with pytest.raises(UnsupportedSyntaxError) as info:
        s2sad.grad(u_nonlocal)(1.5)
    line = _LINES[line_of("nonlocal") - 1]
    assert info.value.col == line.index("nonlocal")


def test_unsupported_raised_at_first_call_of_decorated_function():
    g = s2sad.grad(u_try)       # transforming is lazy ...
    with pytest.raises(UnsupportedSyntaxError):
        g(1.0)                  # ... and happens on the first call
    with pytest.raises(UnsupportedSyntaxError):
        s2sad.source(u_try)


def u_match(x):
    match 1:  # <match>
        case 1:
            y = x * 2.0
        case _:
            y = x
    return y


def test_unsupported_match():
    with pytest.raises(UnsupportedSyntaxError) as info:
        s2sad.grad(u_match)(1.5)
    check_message(info.value, "match", "unsupported construct: match statement")


def m_gamma(x):
    y = x * 2.0
    return math.gamma(y) + y  # <gamma>


def m_i0_array(x):
    return np.sum(np.i0(x))  # <i0>


def test_missing_rule_math_gamma():
    with pytest.raises(MissingRuleError) as info:
        s2sad.grad(m_gamma)(1.5)
    check_message(info.value, "gamma", "no derivative rule for math.gamma", "s2sad.extend")
    line = _LINES[line_of("gamma") - 1]
    assert info.value.col == line.index("math.gamma")


def test_missing_rule_numpy_function():
    with pytest.raises(MissingRuleError) as info:
        s2sad.grad(m_i0_array)(np.array([0.5, 1.5]))
    check_message(info.value, "i0", "no derivative rule for np.i0")
    line = _LINES[line_of("i0") - 1]
    assert info.value.col == line.index("np.i0")


def m_gamma_inactive(x, n):
    return x * math.gamma(n)


def test_missing_rule_on_inactive_value_is_fine():
    assert s2sad.grad(m_gamma_inactive)(2.0, 4.0) == pytest.approx(6.0)


def test_source_unavailable_for_builtin():
    with pytest.raises(SourceUnavailableError) as info:
        s2sad.grad(math.sin)(1.0)
    text = str(info.value)
    # a builtin has no file of its own to point at
    assert "sin" in text and "not a Python function" in text
    assert "\n  hint: " in text and "def" in info.value.hint


def test_source_unavailable_for_exec():
    namespace = {}
    exec(compile("\n\ndef made_by_exec(x):\n    return x * x\n", "<made-by-exec>", "exec"),
         namespace)
    func = namespace["made_by_exec"]
    assert func(3.0) == 9.0
    with pytest.raises(SourceUnavailableError) as info:
        s2sad.grad(func)(3.0)
    text = str(info.value)
    assert text.startswith("<made-by-exec>:3:"), text
    assert "made_by_exec" in text
    assert "\n  hint: " in text and "exec" in info.value.hint


def n_vector(x):
    y = np.sin(x)
    return y * 2.0  # <vector>


def n_string(x):
    y = x * 2.0
    return str(y)  # <string>


def test_non_scalar_output():
    with pytest.raises(NonScalarOutputError) as info:
        s2sad.grad(n_vector)(np.array([0.5, 1.0]))
    check_message(info.value, "vector", "n_vector", "array of shape (2,)", "return a scalar")


def test_non_scalar_output_of_value_and_grad():
    with pytest.raises(NonScalarOutputError) as info:
        s2sad.value_and_grad(n_vector)(np.ones((2, 2)))
    check_message(info.value, "vector", "shape (2, 2)")


def test_non_scalar_output_on_the_fast_path():
    """The second call goes through the generated dispatcher: same located error."""
    g = s2sad.grad(n_vector)
    for _ in range(2):
        with pytest.raises(NonScalarOutputError) as info:
            g(np.array([0.5, 1.0]))
        check_message(info.value, "vector", "n_vector", "array of shape (2,)")


def weighted(x, t):
    s = 0.0
    for ti in t:
        s = s + ti * np.sum(x * x)
    return s


def test_array_and_sequence_specializations_dispatch_by_kind():
    """Arrays of different ndim and sequences of different kinds get their own
    specializations, also once the dispatcher knows them."""
    g = s2sad.grad(weighted)
    v, m = np.array([1.0, 2.0]), np.array([[1.0, 2.0], [3.0, -1.0]])
    cases = [(v, (1.0, 2.0)), (m, (1.0, 2.0)), (v, [0.5, 1.5]), (m, [0.5, 1.5]),
             (v, tuple(float(k) for k in range(20))), (m, (np.float64(2.0), 1.0))]
    for _ in range(2):
        for x, t in cases:
            got = g(x, t)
            assert got.shape == x.shape
            assert np.allclose(got, 2.0 * sum(t) * x), (x, t)
            assert np.allclose(got, numerical_grad(weighted, (x, t)))
    assert len(g._impls) >= 4
    assert type(g) is not s2sad.api.GradFunction      # the generated dispatcher is in place


def test_non_float_output():
    with pytest.raises(S2SADError) as info:
        s2sad.grad(n_string)(1.0)
    check_message(info.value, "string")


def test_scalar_valued_array_output_is_accepted():
    assert s2sad.grad(n_vector)(np.float64(0.0)) == pytest.approx(2.0)


def a_two(x, y):  # <a_two>
    return x * y


def test_wrt_out_of_range():
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(a_two, wrt=2)
    check_message(info.value, "a_two", "wrt=2", "out of range", "a_two", "2 parameters")
    assert "0 and 1" in info.value.hint
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(a_two, wrt=(0, 5))
    check_message(info.value, "a_two", "wrt=5")
    with pytest.raises(ArgumentError):
        s2sad.grad(a_two, wrt=-1)
    with pytest.raises(ArgumentError):
        s2sad.value_and_grad(a_two, wrt=3)
    with pytest.raises(ArgumentError):
        s2sad.source(a_two, wrt=3)


def test_wrt_of_wrong_type():
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(a_two, wrt="x")
    check_message(info.value, "a_two", "wrt must be an int or a tuple of ints", "'x'",
                  hint=False)
    with pytest.raises(ArgumentError):
        s2sad.grad(a_two, wrt=True)
    with pytest.raises(ArgumentError):
        s2sad.grad(a_two, wrt=())


def test_not_a_function():
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(3.0)
    assert "function" in str(info.value)


def v_star(*xs):  # <v_star>
    return xs[0] * 2.0


def v_kwargs(x, **options):  # <v_kwargs>
    return x * 2.0


def test_varargs_parameter_is_differentiated_kwargs_refused():
    """*xs of the function given to grad: the code is made for the number of arguments
    (was refused: "*args or **kwargs parameter"); **kwargs stays refused, located."""
    assert s2sad.grad(v_star)(1.0) == 2.0
    assert s2sad.grad(v_star)(1.0, "unused") == 2.0
    with pytest.raises(UnsupportedSyntaxError) as info:
        s2sad.grad(v_kwargs)
    check_message(info.value, "v_kwargs", "unsupported construct: **kwargs parameter",
                  "list the keyword parameters explicitly")
    with pytest.raises(UnsupportedSyntaxError) as info:
        s2sad.source(v_star)           # no arguments: their number is not known
    check_message(info.value, "v_star", "*args parameter (*xs)", "source(f, args=")
    assert "def " in s2sad.source(v_star, args=(1.0, 2.0))


def test_wrt_of_wrong_type_has_hint():
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(a_two, wrt="x")
    assert info.value.hint


def clashing(_self, _rest, _M, kind_of, F0, /, T0_0=1.0, *, NonScalarOutputError=2.0, _exc=1.0):
    return _self * _rest + _M * kind_of * F0 * T0_0 * NonScalarOutputError * _exc


def test_dispatcher_parameters_named_like_its_own_names():
    """The generated __call__ takes the function's own parameter names; its private
    names step aside (positional-only parameters stay positional-only)."""
    g = s2sad.grad(clashing, wrt=(0, 2, 5))
    for _ in range(3):      # general path, then the generated dispatcher
        assert g(2.0, 3.0, 5.0, 7.0, 11.0) == pytest.approx((3.0, 7.0 * 11.0 * 2.0, 5 * 77 * 2.0))
        assert g(2.0, 3.0, 5.0, 7.0, 11.0, T0_0=0.5, NonScalarOutputError=1.0) \
            == pytest.approx((3.0, 77.0 * 0.5, 5 * 77 * 1.0))
    with pytest.raises(TypeError):
        g(2.0, 3.0, 5.0, 7.0, F0=11.0)          # positional-only, as in the function


def test_keyword_calls_take_the_fast_path_and_unknown_keywords_fail_as_in_python():
    g = s2sad.grad(scaled)
    assert g(1.0, 3.0) == 3.0                 # compiles the (float, float) specialization
    fast = g._fast.copy()
    assert g(y=3.0, x=1.0) == 3.0 and g(1.0, y=4.0) == 4.0
    assert g._fast == fast                    # served by the same specialization
    for call in (lambda: g(1.0, z=2.0), lambda: g(1.0, x=2.0)):
        with pytest.raises(TypeError) as info:
            call()
        assert "scaled()" in str(info.value)  # CPython's message, as for scaled itself
    fresh = s2sad.grad(scaled)
    with pytest.raises(TypeError):            # the same on the very first call
        fresh(1.0, z=2.0)


def test_gradient_call_allocates_nothing_of_its_own():
    """No ``*args`` tuple or ``**kwargs`` dict per call: the peak memory of a scalar
    gradient call is that of the generated function alone."""
    import tracemalloc

    g = s2sad.grad(plain, wrt=(0, 1))
    impl = g(1.0, 2.0) and next(iter(g._fast.values()))

    def peak(fn):
        fn(1.0, 2.0)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            fn(1.0, 2.0)
            return tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    assert peak(g) <= peak(impl.function)


def _cubic_in_two(x, y):
    return x * x * y


def _sum_of_squares_times(x, w):
    return np.sum(x * x) * w


def test_the_derivative_for_a_float_is_a_float_next_to_int_arguments():
    # d/dy of x*x*y for an int x is the int x*x: it came back as 4 (np.int64(4))
    g = s2sad.grad(_cubic_in_two, (0, 1))
    for _ in range(2):                     # the general path, then the fast one
        for x in (2, np.int64(2)):
            got = g(x, 2.0)
            assert got == (8.0, 4.0) and all(type(v) is float for v in got)
    w = s2sad.grad(_sum_of_squares_times, (0, 1))(np.array([1, 2]), 0.7)[1]
    assert w == 5.0 and type(w) is float


def test_pullback_and_tangent_shapes_are_checked():
    def f(v):
        return np.sin(v)

    v = np.array([0.1, 0.2, 0.3])
    value, pullback = s2sad.vjp(f)(v)
    np.testing.assert_allclose(pullback(np.ones(3)), np.cos(v))
    with pytest.raises(s2sad.ArgumentError, match=r"shape \(2, 3\), the value shape \(3,\)"):
        pullback(np.ones((2, 3)))
    with pytest.raises(s2sad.ArgumentError, match=r"tangent of argument 0 has shape \(2,\)"):
        s2sad.jvp(f)(v, np.ones(2))


class _Affine:
    """A callable object: its ``__call__`` is what runs."""

    def __init__(self, a):
        self.a = a

    def __call__(self, x, y=1.0):
        return self.a * x * x * y


class _Subclass(_Affine):
    pass


def test_callable_object_differentiated_through_its_call_method():
    # was a SourceUnavailableError "it is not a Python function defined with def"
    for model in (_Affine(3.0), _Subclass(3.0)):
        assert s2sad.grad(model)(1.5) == pytest.approx(9.0)
        assert s2sad.grad(model, wrt=(0, 1))(1.5, 2.0) == (pytest.approx(18.0),
                                                           pytest.approx(6.75))
        assert s2sad.grad(model, mode="forward")(1.5) == pytest.approx(9.0)
        assert s2sad.value_and_grad(model)(1.5) == (pytest.approx(6.75), pytest.approx(9.0))
        assert s2sad.jvp(model)(1.5, 1.0)[1] == pytest.approx(9.0)
        assert s2sad.vjp(model)(1.5)[1](1.0) == pytest.approx(9.0)
        assert s2sad.hessian(model)(1.5) == pytest.approx(6.0)
        assert s2sad.check_grads(model, (1.5, 2.0))
        assert "def grad___call__(self, x, y=1.0)" in s2sad.source(model)
    with pytest.raises(s2sad.ArgumentError):
        s2sad.grad(_Affine(3.0), wrt=2)(1.5)


# -- the gradient of a list or tuple argument has the argument's structure -------------


def first_item_only(ps, x):
    return np.sum(ps[0] * x)


def pair_product(t):
    return t[0] * t[1] ** 2


def test_gradient_of_a_list_or_tuple_has_its_structure():
    """Items the function does not read get zeros of their shape (they came back as the
    0.0 standing for a zero of any structure), a tuple gets a tuple (it got a list),
    a named tuple its own type; on the dispatcher's fast path too (second call)."""
    import collections
    grad = s2sad.grad(first_item_only)
    for _ in range(2):
        g = grad([np.ones(2), np.ones(3)], np.array([2.0, -1.0]))
        assert type(g) is list and len(g) == 2
        np.testing.assert_array_equal(g[0], [2.0, -1.0])
        np.testing.assert_array_equal(g[1], np.zeros(3))
    grad = s2sad.grad(pair_product)
    for _ in range(2):
        assert grad((2.0, 3.0)) == (9.0, 12.0) and type(grad((2.0, 3.0))) is tuple
        assert grad([2.0, 3.0]) == [9.0, 12.0] and type(grad([2.0, 3.0])) is list
        assert grad((2.0, 3.0, 5.0)) == (9.0, 12.0, 0.0)
    Pair = collections.namedtuple("Pair", "a b")
    assert s2sad.grad(pair_product)(Pair(2.0, 3.0)) == Pair(9.0, 12.0)
    value, g = s2sad.value_and_grad(pair_product)((2.0, 3.0))
    assert (value, g) == (18.0, (9.0, 12.0))


# -- dicts of parameters (as JAX's and autograd's containers) ----------------------------


def dict_loss(params, x):
    h = np.tanh(params["W"] @ x + params["b"])
    return np.sum(h * h) * params["s"]


def dict_loop(p):
    s = 0.0
    for i in range(3):
        s = s + p["a"] * math.sin(p["b"] * i)
    return s


def dict_keys(p, x):
    s = 0.0
    for k in p:
        s = s + np.sum(p[k] * x)
    return s


def dict_written(p):
    p["a"] = p["a"] * 2.0           # into the caller's dict? no: a private copy
    return p["a"] * p["b"]


def dict_new_key(p):
    p["c"] = p["a"] * 2.0           # a key the caller's dict does not have
    return p["c"] * p["b"]


def dict_items_and_values(p, x):
    s = 0.0
    for k, w in p.items():
        s = s + np.sum(w * x) * len(k)
    for k in p.keys():
        s = s + np.sum(p[k] ** 2)
    return s + sum(np.sum(w * w * w) for w in p.values())


def _dict_fd(f, params, *rest, h=1e-6):
    out = {}
    for k, v in params.items():
        g = np.zeros_like(np.asarray(v, dtype=float))
        for i in np.ndindex(g.shape):
            plus, minus = dict(params), dict(params)
            if g.shape:
                plus[k], minus[k] = v.copy(), v.copy()
                plus[k][i] += h
                minus[k][i] -= h
            else:
                plus[k], minus[k] = v + h, v - h
            g[i] = (f(plus, *rest) - f(minus, *rest)) / (2 * h)
        out[k] = g
    return out


@pytest.mark.parametrize("mode", ["auto", "reverse"])
def test_gradient_of_a_dict_of_parameters(mode):
    """A dict argument was refused (an ArgumentError; before that a bare IndexError): its
    gradient is a dict of the same keys, zeros for an entry the function does not read."""
    rng = np.random.default_rng(3)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3), "s": 1.5,
              "unused": np.ones(2)}
    x = rng.normal(size=2)
    cases = [(dict_loss, (params, x)), (dict_loop, ({"a": 0.7, "b": -1.3},)),
             (dict_keys, ({"u": np.array([1.0, 2.0]), "v": np.array([0.5, -1.0])}, x)),
             (dict_written, ({"a": 0.7, "b": -1.3},)),
             (dict_new_key, ({"a": 0.7, "b": -1.3},)),     # was a bare KeyError
             (dict_items_and_values, ({"u": np.array([1.0, 2.0]), "vw": np.array([0.5, -1.0])},
                                      x))]
    for f, args in cases:
        grad = s2sad.grad(f, mode=mode)
        for _ in range(2):                      # the dispatcher's fast path too
            got = grad(*args)
            want = _dict_fd(f, *args)
            assert type(got) is dict and set(got) == set(args[0])
            for k in want:
                np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-8)
    p = {"a": 0.7, "b": -1.3}
    s2sad.grad(dict_written)(p)
    assert p == {"a": 0.7, "b": -1.3}           # the caller's dict is not changed
    np.testing.assert_array_equal(s2sad.grad(dict_loss)(params, x)["unused"], np.zeros(2))


def test_dicts_in_jvp_jacobian_and_hessian():
    p = {"a": 0.7, "b": -1.3}
    value, tangent = s2sad.jvp(dict_loop)(p, {"a": 1.0, "b": 0.0})
    assert tangent == pytest.approx(_dict_fd(dict_loop, p)["a"], rel=1e-6)
    # jacobian and hessian along a dict (were an ArgumentError): dicts of its keys
    jac = s2sad.jacobian(dict_loop)(p)
    want = _dict_fd(dict_loop, p)
    assert list(jac) == ["a", "b"] and all(float(jac[k]) == pytest.approx(want[k], rel=1e-6)
                                           for k in p)
    h = s2sad.hessian(dict_loop)(p)
    for k in p:
        want = _dict_fd(lambda q, k=k: s2sad.grad(dict_loop)(q)[k], p)
        assert all(float(h[k][c]) == pytest.approx(want[c], rel=1e-5) for c in p)
    with pytest.raises(s2sad.ArgumentError) as info:
        s2sad.grad(dict_loop)({"a": 0.7, "b": "text"})
    assert info.value.lineno == dict_loop.__code__.co_firstlineno


def test_jvp_along_a_dict():
    """Forward mode through a dict's .items() and .values() (their tangents are the same
    calls on the dict of tangents)."""
    p = {"u": np.array([1.0, 2.0]), "vw": np.array([0.5, -1.0])}
    dp = {"u": np.array([0.3, -0.2]), "vw": np.array([1.0, 0.5])}
    x = np.array([0.5, 2.0])
    value, tangent = s2sad.jvp(dict_items_and_values)(p, x, dp)      # along p
    assert value == pytest.approx(dict_items_and_values(p, x))
    grads = s2sad.grad(dict_items_and_values)(p, x)
    assert tangent == pytest.approx(sum(np.sum(grads[k] * dp[k]) for k in p), rel=1e-12)


# -- named tuples: p.a read as the item p[i] ---------------------------------------------


class _Weights(typing.NamedTuple):
    w: np.ndarray
    c: float


_Pair = collections.namedtuple("_Pair", "a b")


def pair_fields(p):
    return p.a * p.b ** 2


def params_fields(q, x):
    return np.sum(q.w * x) * q.c


def test_fields_of_a_named_tuple():
    """``p.a`` of a named tuple argument was a MissingRuleError ("attribute .a"): it is
    read as ``p[0]``, and the gradient is a named tuple of the argument's type. Named
    tuples of one type holding scalars or arrays get code of their own."""
    grad = s2sad.grad(pair_fields)
    for _ in range(2):
        assert grad(_Pair(2.0, 3.0)) == _Pair(9.0, 12.0)
    assert "p[0]" in grad.source and "check_attribute" not in grad.source
    grad = s2sad.grad(params_fields)
    x = np.array([3.0, -1.0])
    for q, want_w, want_c in [(_Weights(np.array([1.0, 2.0]), 0.5), 0.5 * x, 1.0),
                              (_Weights(2.0, 0.5), 0.5 * np.sum(x), 4.0),
                              (_Weights(np.array([1.0, 2.0]), 0.5), 0.5 * x, 1.0)]:
        g = grad(q, x)
        assert type(g) is _Weights
        np.testing.assert_allclose(g.w, want_w)
        assert g.c == pytest.approx(want_c)


def fields_and_items(p):
    a, b = p
    return p.a * p[1] ** 2 + p[0] * p.b + a * b * len(p)


def fields_and_iteration(q, x):
    s = 0.0
    for v in q:
        s = s + np.sum(v * x) * q.c
    return s + np.sum(q.w * q[0])


def _field_b(p):
    return p.b * p[0]


def fields_passed_on(p):
    return p.a * _field_b(p) + p[1]


def fields_after_rebinding(p):
    p = _Pair(p.b, p.a)         # p is another tuple from here: p.a stays an attribute
    return p.a


def builds_a_named_tuple(p):
    q = _Pair(p.b * 2.0, p.a)
    return q[0] * p.a


def test_fields_and_items_of_one_named_tuple():
    """``p.a`` and ``p[0]`` in one function (``p.a`` was a MissingRuleError unless ``p``
    was read only through its fields), and in a function it is passed to."""
    for a, b in [(2.0, 3.0), (-0.5, 1.5), (1.2, -0.7)]:
        p = _Pair(a, b)
        for mode in ("auto", "reverse"):
            # a b^2 + a b + 2 a b
            assert s2sad.grad(fields_and_items, mode=mode)(p) == \
                pytest.approx(_Pair(b * b + 3 * b, 2 * a * b + 3 * a))
            # a (b a) + b
            assert s2sad.grad(fields_passed_on, mode=mode)(p) == \
                pytest.approx(_Pair(2 * a * b, a * a + 1.0))
    x = np.array([3.0, -1.0])
    for q in [_Weights(np.array([1.0, 2.0]), 0.5), _Weights(np.array([-0.3, 0.8]), -1.5)]:
        g = s2sad.grad(fields_and_iteration)(q, x)
        want = numerical_grad(lambda w, c: fields_and_iteration(_Weights(w, c), x),
                              (q.w, q.c), (0, 1))
        assert type(g) is _Weights
        np.testing.assert_allclose(g.w, want[0], rtol=1e-6)
        assert g.c == pytest.approx(want[1], rel=1e-6)
    # a named tuple rebound, or built in the function (both were a MissingRuleError):
    # its fields are read as the code runs (tests/test_records.py)
    for mode in ("auto", "reverse"):
        assert s2sad.grad(fields_after_rebinding, mode=mode)(_Pair(2.0, 3.0)) == \
            _Pair(0.0, 1.0)
        assert s2sad.grad(builds_a_named_tuple, mode=mode)(_Pair(2.0, 3.0)) == \
            pytest.approx(_Pair(6.0, 4.0))
