"""Statement forms lowered before normalization: ``:=``, ``del`` of names, and the
``with`` statements that change no value (``desugar._unwrap_with``). Gradients are
checked against central differences in both modes and second derivatives against
differences of the gradient; the forms still refused are checked for their line."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from gradcheck import assert_grad_matches, numerical_grad

import s2sad
from s2sad import UnsupportedSyntaxError

POINTS = (-1.7, 0.4, 1.3, 2.5)


def walrus_if(x):
    if (y := x * x) > 1.0:
        return y * x
    return y


def walrus_value(x):
    z = (y := math.sin(x)) * y + 1.0
    return z * y


def walrus_and(x):
    if x > 0 and (y := x * 3.0) > 2.0:
        return y * y
    return x


def walrus_comprehension(xs):
    return sum([(t := v * v) * t + t for v in xs])


def walrus_newton(a):
    x = 1.0
    while abs(dx := (x * x - a) / (2.0 * x)) > 1e-12:
        x = x - dx
    return x + dx


def walrus_while_continue(x):
    i = 0
    s = 0.0
    while (t := x * i) < 3.0:
        i += 1
        if i == 2:
            continue
        s = s + t * t
    return s + t


def del_name(x):
    y = x * x
    z = y + math.cos(x)
    del y
    return z * x


def del_in_loops(x, n):
    acc = 0.0
    for j in range(n):
        for i in range(n):
            t = x * i + j
            acc = acc + t * t * x
            del t
    return acc


def del_array(x):
    acc = 0.0
    for i in range(3):
        t = np.sin(x * i)
        acc = acc + np.sum(t * t)
        del t
    return acc


def with_errstate(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)
        z = np.where(x > 0, y, 0.0)
    return np.sum(z * x)


def with_in_loop(x):
    s = 0.0
    for i in range(4):
        with contextlib.nullcontext(), np.errstate(over="ignore"):
            if i == 3:
                break
            s = s + x * i
    return s * x


@pytest.mark.parametrize("f", [walrus_if, walrus_value, walrus_and, del_name])
@pytest.mark.parametrize("x", POINTS)
def test_scalar_forms_both_modes(f, x):
    assert_grad_matches(f, (x,))
    forward = s2sad.grad(f, mode="forward")(x)
    assert forward == pytest.approx(numerical_grad(f, (x,)), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("f", [walrus_if, walrus_value, del_name])
@pytest.mark.parametrize("x", POINTS)
def test_scalar_forms_second_derivative(f, x):
    g = s2sad.grad(f, mode="reverse")
    want = numerical_grad(g, (x,))
    assert s2sad.hessian(f)(x) == pytest.approx(want, rel=1e-5, abs=1e-5)


def walrus_comprehension_of_two(a, b):
    return walrus_comprehension([a, b])


@pytest.mark.parametrize("a", (0.5, 2.0, 7.0))
def test_walrus_in_while_test(a):
    for mode in ("reverse", "forward"):
        assert s2sad.grad(walrus_newton, mode=mode)(a) == pytest.approx(0.5 / math.sqrt(a))
    assert s2sad.hessian(walrus_newton)(a) == pytest.approx(-0.25 * a ** -1.5)


@pytest.mark.parametrize("x", (0.7, 1.3, 2.1))
def test_walrus_in_while_test_with_continue(x):
    assert_grad_matches(walrus_while_continue, (x,))


def test_walrus_in_comprehension():
    xs = [0.5, -1.5, 2.0]
    assert s2sad.grad(walrus_comprehension)(xs) == pytest.approx([4 * v ** 3 + 2 * v for v in xs])
    a, b = xs[0], xs[1]
    for mode in ("reverse", "forward"):
        got = s2sad.grad(walrus_comprehension_of_two, wrt=(0, 1), mode=mode)(a, b)
        assert got == pytest.approx((4 * a ** 3 + 2 * a, 4 * b ** 3 + 2 * b))


@pytest.mark.parametrize("x", (0.3, 1.7))
def test_del_in_nested_loops(x):
    assert_grad_matches(del_in_loops, (x, 3))
    assert s2sad.grad(del_in_loops, mode="forward")(x, 3) == pytest.approx(
        numerical_grad(del_in_loops, (x, 3)), rel=1e-6)


def test_del_of_array_in_loop():
    assert_grad_matches(del_array, (np.array([0.3, -0.8, 1.1]),))


def test_with_errstate_is_differentiated():
    x = np.array([0.5, 2.0, 3.0])
    got = assert_grad_matches(with_errstate, (x,))
    assert got == pytest.approx(np.log(x) + 1.0)
    assert "np.errstate" not in s2sad.source(with_errstate)


@pytest.mark.parametrize("x", (-0.6, 1.5))
def test_with_around_break(x):
    assert_grad_matches(with_in_loop, (x,))
    assert s2sad.grad(with_in_loop)(x) == pytest.approx(6.0 * x)


# -- still refused, at the line ----------------------------------------------------


def walrus_read_before(x):
    z = 1.0
    return z * (z := x * 2.0)


def walrus_while_else(x):
    i = 0
    while (z := x * i) < 2.0:
        i = i + 1
    else:
        z = z * 2.0
    return z


def del_read_later_in_loop(x):
    acc = 0.0
    t = x
    for i in range(3):
        acc = acc + t * x
        t = x * i
        del t
    return acc


def del_read_in_outer_loop(x):
    acc = 0.0
    for j in range(2):
        acc = acc + x * j
        for i in range(2):
            t = x * i
            acc = acc + t
            del t
        t = acc
        acc = acc + t
    return acc


def del_item(x):
    y = [x * 2.0, x]
    del y[0]
    return y[0]


def with_raise(x):
    with np.errstate(all="raise"):
        y = x * x
    return y


def with_bound(x):
    with np.errstate(divide="ignore") as state:
        y = x * x
    return y + 0.0 * len(str(state))


def _line(f, text):
    import inspect
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, t in enumerate(lines) if text in t)


@pytest.mark.parametrize("f, text, words", [
    (walrus_read_before, "(z := x", "z is read before the := assigns it"),
    (walrus_while_else, "while (z :=", "a while with an else clause"),
    (del_read_later_in_loop, "del t", "t may be read after it"),
    (del_read_in_outer_loop, "del t", "t may be read after it"),
    (del_item, "del y[0]", "of an item or attribute"),
    (with_raise, "with np.errstate", "with statement"),
    (with_bound, "with np.errstate", "with statement"),
])
def test_refused_at_the_line(f, text, words):
    with pytest.raises(UnsupportedSyntaxError) as info:
        s2sad.grad(f)(1.5)
    assert info.value.lineno == _line(f, text)
    assert words in str(info.value)
    assert info.value.filename == __file__
