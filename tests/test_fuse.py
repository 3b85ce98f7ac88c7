"""The last clean-up step (s2sad/fuse.py): direct iteration, single-use values
inlined, rewrites sunk below a copy's readers. Each rewrite is checked on the
code it gives and on gradients against finite differences."""

import math

import numpy as np
import pytest
from gradcheck import assert_grad_matches

import s2sad


def poly(x, t):
    g = 1.0
    for ti in t:
        g = g * (x - ti)
    return g


@pytest.mark.parametrize("make", [tuple, list, np.array])
def test_direct_iteration_over_every_kind_of_sequence(make):
    t = [0.1 * k - 0.8 for k in range(17)]
    for x in (0.3, -0.65, 1.1):
        assert_grad_matches(poly, (x, make(t)), wrt=0)
    src = s2sad.source(poly, args=(0.3, tuple(t)))
    assert "for ti in _seq:" in src and "for ti in reversed(_seq):" in src


def weighted_by_position(x, xs):
    s = 0.0
    for i, v in enumerate(xs):
        s = s + i * v * x * x
    return s


def test_index_read_elsewhere_keeps_the_indexed_loop():
    xs = (0.5, -1.5, 2.0, 0.25)
    for x in (0.7, -1.3):
        assert_grad_matches(weighted_by_position, (x, xs), wrt=0)
    src = s2sad.source(weighted_by_position, args=(0.7, xs))
    assert "range(len(_seq))" in src        # i is the index: no direct iteration


def scale_and_drop(x, xs):
    s = 0.0
    for v in xs:
        s = s + v * x
    for v in xs:
        s = s * v
    return s


def test_two_loops_over_one_sequence():
    xs = [0.5, -1.5, 2.0]
    for x in (0.7, -1.3):
        assert_grad_matches(scale_and_drop, (x, xs), wrt=0)


def ratio_then_log(x, y):
    u = 1.0 / y
    v = math.log(x)
    return u * v + x


def test_a_division_is_not_moved_past_a_call_that_raises():
    """``1.0 / y`` raises before ``math.log(x)`` in the function: so in the gradient."""
    g = s2sad.grad(ratio_then_log, wrt=(0, 1))
    assert_grad_matches(ratio_then_log, (2.0, 0.5), wrt=(0, 1))
    with pytest.raises(ZeroDivisionError):
        ratio_then_log(-1.0, 0.0)
    with pytest.raises(ZeroDivisionError):
        g(-1.0, 0.0)
    with pytest.raises(ValueError):
        g(-1.0, 2.0)


def named_steps(x):
    y = x * x
    z = y + 1.0
    return z * x


def test_user_names_stay_generated_temporaries_go():
    for x in (0.3, -2.0):
        assert_grad_matches(named_steps, (x,))
    src = s2sad.source(named_steps)
    assert "y = x * x" in src and "_t" not in src


def swap_loop(x, n):
    a, b = x, 2.0 * x
    for _ in range(n):
        a, b = b, a * b + 0.5 * a
    return a + b


def test_parallel_assignment_in_a_loop():
    """Copies of the loop header whose source is rewritten in between stay."""
    for x in (0.3, -0.2, 0.9):
        assert_grad_matches(swap_loop, (x, 4))
        assert_grad_matches(swap_loop, (x, 0))


def inline_into_condition(x, y):
    d = x - y
    if d > 0.0:
        r = x * d
    else:
        r = y * d
    return r


def test_values_inlined_into_a_condition_and_branches():
    for p in [(1.5, 0.5), (0.5, 1.5), (-0.3, 0.7)]:
        assert_grad_matches(inline_into_condition, p, wrt=(0, 1))


def pairs(x, a, b):
    s = 0.0
    for u, v in zip(a, b):
        s = s + u * math.sin(v * x)
    return s


def rows(x, m):
    s = 0.0
    for r in m:
        s = s + np.sum(r * x) ** 2
    return s


def backwards_with_break(x, t):
    s = x
    for v in reversed(t):
        if s > 50.0:
            break
        s = s * v + x
    return s


def nested(x, t):
    s = 0.0
    for u in t:
        for v in t:
            s = s + x * u * v + math.cos(x * u)
    return s


@pytest.mark.parametrize("f,args,wrt", [
    (pairs, (0.7, (1.0, -2.0, 0.5), [0.3, 0.2, -1.1]), 0),
    (pairs, (0.7, np.array([1.0, -2.0, 0.5]), (0.3, 0.2, -1.1)), 0),
    (rows, (0.4, np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])), 0),
    (backwards_with_break, (1.3, [1.5, 2.0, 3.0, 4.0, 5.0]), 0),
    (backwards_with_break, (0.2, (1.5, 2.0, 3.0)), 0),
    (nested, (0.6, [0.5, -1.0, 2.0]), 0),
    (nested, (-0.3, (0.5, -1.0, 2.0)), 0),
])
def test_sequence_loops_of_every_shape(f, args, wrt):
    assert_grad_matches(f, args, wrt=wrt)
    x = args[0]
    assert_grad_matches(f, (x + 0.37,) + args[1:], wrt=wrt)


def test_an_element_written_in_the_loop_is_read_live():
    """Writing elements (not the length) of the list being iterated is allowed:
    both the index form and direct iteration read each element when they reach it."""
    assert_grad_matches(overwrite_ahead, (0.8, [1.0, 2.0, 3.0]), wrt=0)
    assert overwrite_ahead(0.8, [1.0, 2.0, 3.0]) == s2sad.value_and_grad(overwrite_ahead)(
        0.8, [1.0, 2.0, 3.0])[0]


def overwrite_ahead(x, t):
    t = list(t)         # (the caller's list stays as it was)
    s = 0.0
    k = 0
    for v in t:
        s = s + v * x
        if k + 1 < len(t):
            t[k + 1] = t[k + 1] * 2.0
        k = k + 1
    return s


def copy_read_in_a_test_and_later(x, y):
    x = y
    y = (y if not y / (1.0 + y * y) >= x else y)
    x, y = y, 0.5 * (x - y)
    y = math.tanh(y + 0.25 * math.exp(math.cos(y)))
    return -0.42 * x + x * y


def test_a_value_inlined_into_an_if_test_counts_as_read_there():
    """Fuzz seed 10206000538: the copy x_1 = y is read by an if test (where a value
    was inlined) and later; it was taken for read once and inlined into the later
    reader, leaving the test reading an unbound x_1."""
    for p in [(0.84, 1.1), (-0.3, 0.2)]:
        assert_grad_matches(copy_read_in_a_test_and_later, p, wrt=(0, 1))
        value, tangent = s2sad.jvp(copy_read_in_a_test_and_later, wrt=(0, 1))(*p, 0.3, -0.7)
        g = s2sad.grad(copy_read_in_a_test_and_later, wrt=(0, 1))(*p)
        assert tangent == pytest.approx(0.3 * g[0] - 0.7 * g[1])


def test_second_derivative_through_a_directly_iterated_loop():
    """grad(grad(poly)) transforms generated code with ``for ti in reversed(_seq)``."""
    t = tuple(0.1 * k - 0.8 for k in range(7))
    g, gg = s2sad.grad(poly), s2sad.grad(s2sad.grad(poly))
    for x in (0.3, -0.45):
        eps = 1e-6
        fd = (g(x + eps, t) - g(x - eps, t)) / (2 * eps)
        assert gg(x, t) == pytest.approx(fd, rel=1e-6)
        assert s2sad.hessian(poly)(x, t) == pytest.approx(fd, rel=1e-6)
