"""Methods of objects held in names other than ``self``: loop variables over a list or
tuple of objects (``for l in self.layers: x = l.apply(x)``, ``l(x)``), objects passed as
arguments (``net.f(x)``, ``layer(x)``) and module-level objects (``NET.f(x)``), as in
PyTorch-style models. Each was a MissingRuleError ('no derivative rule for method
l.apply()'). The code is specialized on the classes of the objects at the call, checked
when it runs; objects of other classes later get code of their own."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad
from s2sad import ArgumentError, MissingRuleError, UnsupportedSyntaxError

HERE = __file__


def line_of(func, text):
    """The line of ``func``'s source holding ``text``."""
    lines, first = inspect.getsourcelines(func)
    return first + next(i for i, line in enumerate(lines) if text in line)


class Layer:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return np.tanh(self.w * x)

    def apply(self, x):
        return np.tanh(self.w * x)


class SameLayer(Layer):
    """A subclass sharing Layer's methods."""


class Square:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return self.w * x * x

    def apply(self, x):
        return self.w * x * x + x


class Net:
    def __init__(self, ws):
        self.layers = [Layer(w) for w in ws]

    def f(self, x):
        for layer in self.layers:
            x = layer.apply(x)
        return np.sum(x)


class Act:
    def __init__(self, k):
        self.k = k

    def f(self, x):
        return np.sin(self.k * x)


class Block:
    def __init__(self, ws, k):
        self.layers = [Layer(w) for w in ws]
        self.act = Act(k)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.act.f(x)


class Deep:
    def __init__(self):
        self.blocks = (Block([0.5, 1.2], 0.7), Block([0.9], 1.3))

    def loss(self, x):
        for i, b in enumerate(self.blocks):
            x = b(x) * (i + 1.0)
        return np.sum(x)

    def items(self, x):
        for b in self.blocks:
            x = b.layers[0](x) + b.act.f(x)
        return np.sum(self.blocks[1](x))

    def nested(self, x):
        for b in self.blocks:
            for layer in b.layers:
                x = layer(x)
            x = b.act.f(x)
        return np.sum(x * x)


NET = Net([0.5, 1.5])
LAYERS = [Layer(0.4), Layer(1.3)]


def loss_global(x):
    return NET.f(x)


def loss_arg(x, net):
    return net.f(x)


def loss_layers(x, net):
    for layer in net.layers:
        x = layer(x)
    return np.sum(x)


def one(x, layer):
    return np.sum(layer(x) + layer.apply(x))


def loss_global_list(x):
    for layer in reversed(LAYERS):
        x = layer.apply(x)
    return np.sum(x)


def loss_zipped(x, net, scales):
    for layer, s in zip(net.layers, scales):
        x = layer(x) * s
    return np.sum(x)


def loss_slices(x, net):
    for layer in net.layers[1:]:
        x = layer(x)
    for layer in list(net.layers[::-1]):
        x = layer.apply(x) * 2.0
    return np.sum(x)


def loss_items(x, net):
    x = net.layers[0](x)
    for i in range(len(net.layers)):
        x = net.layers[i].apply(x) + net.layers[-1](x) * LAYERS[1](x)
    return np.sum(x)


def loss_list_argument(x, layers):
    for layer in layers:
        x = layer(x) + 0.1 * layer.w * x
    return np.sum(x)


def _apply(layer, x):
    return layer.apply(x)


def loss_through_helper(x, net):
    for layer in net.layers:
        x = _apply(layer, x)
    return np.sum(x)


def in_comprehensions(x, net, deep):
    ys = [layer(x) * layer.w for b in deep.blocks for layer in b.layers if layer.w > 0.6]
    return np.sum(sum(ys)) + np.sum(sum(layer.apply(x) for layer in net.layers))


DEEP = Deep()
MIXED_SHARING = [Layer(0.5), SameLayer(1.5)]

# (function, the arguments after x)
CASES = [
    (loss_global, ()),
    (loss_arg, (NET,)),
    (loss_layers, (NET,)),
    (one, (Layer(0.8),)),
    (loss_global_list, ()),
    (loss_zipped, (NET, [2.0, 0.5])),
    (loss_slices, (NET,)),
    (loss_list_argument, (LAYERS,)),
    (loss_list_argument, (tuple(MIXED_SHARING),)),
    (loss_through_helper, (NET,)),
    (DEEP.loss, ()),
    (DEEP.nested, ()),
    (DEEP.items, ()),
    (loss_items, (NET,)),
    (in_comprehensions, (NET, DEEP)),
]
IDS = [f"{getattr(f, '__name__', f)}-{i}" for i, (f, _) in enumerate(CASES)]


@pytest.mark.parametrize("f, rest", CASES, ids=IDS)
@pytest.mark.parametrize("mode", ["auto", "reverse"])
def test_gradient_of_arrays_matches_differences(f, rest, mode):
    g = s2sad.grad(f, mode=mode)
    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=3)
        np.testing.assert_allclose(g(x, *rest), numerical_grad(f, (x, *rest), 0),
                                   rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, rest", CASES, ids=IDS)
@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_gradient_of_a_scalar_matches_differences(f, rest, mode):
    g = s2sad.grad(f, mode=mode)
    for x in (-0.9, 0.3, 1.4):
        assert g(x, *rest) == pytest.approx(numerical_grad(f, (x, *rest), 0), rel=1e-6,
                                            abs=1e-8)


@pytest.mark.parametrize("f, rest", CASES, ids=IDS)
def test_second_derivatives(f, rest):
    grad = s2sad.grad(f)
    for x in (-0.9, 0.3):
        want = numerical_grad(grad, (x, *rest), 0)
        assert s2sad.hessian(f)(x, *rest) == pytest.approx(want, rel=1e-5, abs=1e-7)
        assert s2sad.grad(s2sad.grad(f))(x, *rest) == pytest.approx(want, rel=1e-5, abs=1e-7)
    x = np.array([0.3, -0.7])
    h = s2sad.hessian(f)(x, *rest)
    want = np.array([numerical_grad(lambda v, i=i: grad(v, *rest)[i], (x,), 0)
                     for i in range(2)])
    np.testing.assert_allclose(h, want, rtol=1e-5, atol=1e-7)


def test_jvp_vjp_and_check_grads():
    x = np.array([0.3, -0.7, 1.1])
    want = numerical_grad(loss_layers, (x, NET), 0)
    value, t = s2sad.jvp(loss_layers)(x, NET, np.ones(3))
    assert value == pytest.approx(loss_layers(x, NET))
    assert t == pytest.approx(np.sum(want), rel=1e-6)
    _, pullback = s2sad.vjp(loss_global)(x)
    np.testing.assert_allclose(pullback(1.0), want, rtol=1e-6)
    assert s2sad.check_grads(loss_arg, (x, NET))


def test_the_generated_code_calls_the_class_functions_and_checks_each_item():
    x = np.array([0.3, -0.7])
    text = s2sad.source(Net.f, wrt=1, args=(NET, x))
    assert "for _i in range(len(_seq)):" in text
    assert "check_method(layer, 'apply', apply_method" in text and ", Layer, 'layer')" in text
    assert "fwd_apply(layer, x_1, _tape=_tape, _itape=_itape)" in text
    forward = s2sad.source(Net.f, wrt=1, args=(NET, x), mode="forward")
    assert "jvp_apply(layer, x_1, dx_1)" in forward
    text = s2sad.source(loss_items, args=(x, NET))
    assert "checked_item(_t5, 'apply', apply_method, " in text
    assert ", Layer, 'net.layers[i]')" in text


@pytest.mark.parametrize("mode", ["auto", "reverse"])
def test_items_of_another_class_later_get_code_of_their_own(mode):
    """The same gradient object, called with a net whose layers are of another class
    (an argument, and a module-level net changed in place): code is made for the new
    class rather than the old code run (its check raises StaleReceiverError, on which
    the gradient object makes code again)."""
    global NET
    x = np.array([0.3, -0.7])
    other = Net([0.5, 1.5])
    other.layers = [Square(0.5), Square(1.5)]
    for f in (loss_arg, loss_items):
        g = s2sad.grad(f, mode=mode)
        for net in (NET, other, NET, other):
            np.testing.assert_allclose(g(x, net), numerical_grad(f, (x, net), 0), rtol=1e-6)
    g = s2sad.grad(loss_global, mode=mode)
    saved = NET.layers
    try:
        for layers in (saved, [Square(0.5), Square(1.5)], saved):
            NET.layers = layers
            want = numerical_grad(loss_global, (x,), 0)
            np.testing.assert_allclose(g(x), want, rtol=1e-6)
            np.testing.assert_allclose(s2sad.grad(loss_global, mode=mode)(x), want, rtol=1e-6)
            assert s2sad.jvp(loss_global)(x, np.ones(2))[1] == pytest.approx(np.sum(want))
        LAYERS[:] = [Square(0.4), Square(1.3)]      # a global list changed in place
        g2 = s2sad.grad(loss_global_list, mode=mode)
        np.testing.assert_allclose(g2(x), numerical_grad(loss_global_list, (x,), 0),
                                   rtol=1e-6)
    finally:
        NET.layers = saved
        LAYERS[:] = [Layer(0.4), Layer(1.3)]
    np.testing.assert_allclose(g2(x), numerical_grad(loss_global_list, (x,), 0), rtol=1e-6)


def test_an_attribute_of_self_replaced_by_an_object_of_another_class():
    """deep.nested reaches b.act of each block: replaced by an object of another class,
    the same gradient object makes code for it."""
    deep = Deep()
    g = s2sad.grad(deep.nested)
    x = np.array([0.3, -0.7])
    g(x)
    deep.blocks[1].act = Square(0.3)        # its f is missing: refused at the call
    with pytest.raises(MissingRuleError, match=r"no derivative rule for method .f\(\)") \
            as info:
        g(x)
    assert info.value.lineno == line_of(Deep.nested, "x = b.act.f(x)")
    deep.blocks[1].act = Act(2.0)
    np.testing.assert_allclose(g(x), numerical_grad(deep.nested, (x,), 0), rtol=1e-6)


def loss_mixed(x, net):
    return net.f(x)


def test_items_of_several_classes_whose_method_differs_are_refused():
    net = Net([0.5])
    net.layers = [Layer(0.5), Square(1.0)]
    for mode in ("auto", "reverse", "forward"):
        with pytest.raises(ArgumentError) as info:
            s2sad.grad(loss_mixed, mode=mode)(0.3, net)
        exc = info.value
        assert exc.filename == HERE and exc.lineno == line_of(Net.f, "x = layer.apply(x)")
        assert "layer.apply(...) calls a method of the items of self.layers, which are objects " \
               "of several classes (Layer, Square) whose apply differs" in str(exc)
        assert "objects of one class" in exc.hint
    with pytest.raises(ArgumentError, match=r"layer\(\.\.\.\) calls a method of the items of "
                                            r"net.layers") as info:
        s2sad.hessian(loss_layers)(0.3, net)
    assert info.value.lineno == line_of(loss_layers, "x = layer(x)")
    with pytest.raises(ArgumentError, match=r"net.layers\[0\]\(\.\.\.\) calls a method of "
                                            r"the items of net.layers") as info:
        s2sad.grad(loss_items)(0.3, net)
    assert info.value.lineno == line_of(loss_items, "x = net.layers[0](x)")


class Sine:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return self.g(x) * self.w

    def g(self, x):
        return np.sin(x)


class Cosine(Sine):
    def g(self, x):
        return np.cos(x)


def scaled_layers(x, y, layers):
    for layer in layers:
        x = layer(x) * y
    return x


def test_items_of_several_classes_sharing_the_method_called():
    """Items of two classes that share __call__: one function for all, along two
    arguments in forward mode too; where the function calls a method the classes do
    not share (self.g), refused there."""
    layers = [Sine(1.0), Sine(2.0)]
    for mode in ("auto", "forward", "reverse"):
        got = s2sad.grad(scaled_layers, wrt=(0, 1), mode=mode)(0.3, 0.7, layers)
        want = numerical_grad(scaled_layers, (0.3, 0.7, layers), (0, 1))
        assert got == pytest.approx(want, rel=1e-6)
        with pytest.raises(ArgumentError) as info:
            s2sad.grad(scaled_layers, wrt=(0, 1), mode=mode)(0.3, 0.7, [Sine(1.0), Cosine(2.0)])
        assert info.value.lineno == line_of(Sine.__call__, "return self.g(x) * self.w")
        assert "self.g(...) calls a method of self, an item of a list of objects of several " \
               "classes (Sine, Cosine) whose g differs" in str(info.value)


def writes_an_attribute(x, net):
    for layer in net.layers:
        layer.w = 2.0
        x = layer(x)
    return np.sum(x)


def rebinds_the_item(x, net):
    for layer in net.layers:
        m = layer
        x = m(x)
    return np.sum(x)


def over_a_list_built_here(x, net):
    layers = list(net.layers)
    for layer in layers:
        x = layer(x)
    return np.sum(x)


@pytest.mark.parametrize("f, error, text, message", [
    (writes_an_attribute, UnsupportedSyntaxError, "layer.w = 2.0", "assignment to an attribute"),
    (rebinds_the_item, MissingRuleError, "x = m(x)",
     "no derivative rule for call of m(), a callable held in a local name"),
    (over_a_list_built_here, MissingRuleError, "x = layer(x)",
     "no derivative rule for call of layer(), a callable held in a local name"),
])
def test_what_stays_refused_is_refused_at_the_line(f, error, text, message):
    for mode in ("auto", "forward"):
        with pytest.raises(error) as info:
            s2sad.grad(f, mode=mode)(0.3, NET)
        assert info.value.filename == HERE and info.value.lineno == line_of(f, text)
        assert message in str(info.value)
    if error is MissingRuleError:
        assert "loop variable" in info.value.hint


class ScaledSine:
    def __init__(self, a):
        self.a = a

    def f(self, x):
        return self.a * np.sin(x)


class ScaledCube:
    def __init__(self, a):
        self.a = a

    def f(self, x):
        return self.a * x * x * x


SCALAR_NET = ScaledSine(2.0)


def scalar_loss(x, y):
    return SCALAR_NET.f(x) * y


def test_code_calling_a_module_level_object_is_made_once():
    """``SCALAR_NET.f`` read again is a new bound method of the same object: the cached
    code is not stale for that (it was made again on every new gradient object and on
    every jvp call, 1.5 ms a call). Rebinding the name to another object still makes it
    stale: a new gradient object, and the same jvp and vjp objects, see the new one."""
    global SCALAR_NET
    saved = SCALAR_NET
    try:
        for mode in ("auto", "reverse"):
            g1 = s2sad.grad(scalar_loss, (0, 1), mode=mode)
            g1(0.5, 2.0)
            g2 = s2sad.grad(scalar_loss, (0, 1), mode=mode)
            got = g2(0.5, 2.0)
            assert g2._last is g1._last
            assert got == pytest.approx((2.0 * np.cos(0.5) * 2.0, 2.0 * np.sin(0.5)))
        jvp, vjp = s2sad.jvp(scalar_loss, (0, 1)), s2sad.vjp(scalar_loss, (0, 1))
        for net, dx, dy in ((ScaledSine(2.0), 2.0 * np.cos(0.5), 2.0 * np.sin(0.5)),
                            (ScaledCube(3.0), 3.0 * 3 * 0.25, 3.0 * 0.125),
                            (ScaledSine(-1.0), -np.cos(0.5), -np.sin(0.5))):
            SCALAR_NET = net
            for _ in range(3):
                value, tangent = jvp(0.5, 2.0, 1.0, 0.5)
                assert value == pytest.approx(scalar_loss(0.5, 2.0))
                assert tangent == pytest.approx(dx * 2.0 + 0.5 * dy)
                value, pullback = vjp(0.5, 2.0)
                assert pullback(1.0) == pytest.approx((dx * 2.0, dy))
            assert s2sad.grad(scalar_loss, (0, 1))(0.5, 2.0) == pytest.approx((dx * 2.0, dy))
    finally:
        SCALAR_NET = saved
