"""Which mode ``grad`` runs: forward mode for one real scalar argument, reverse mode
otherwise (``mode='auto'``, the default), and ``mode='reverse'``/``'forward'``."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad


def poly(x, t):
    g = 1.0
    for ti in t:
        g = g * (x - ti)
    return g


def poly_derivative(x, t):
    return sum(math.prod(x - tj for j, tj in enumerate(t) if j != i) for i in range(len(t)))


def sqrt_newton(a):
    """A data-dependent while loop."""
    x = a
    step = 1.0
    while abs(step) > 1e-13 * a:
        step = (x * x - a) / (2.0 * x)
        x = x - step
    return x * math.sin(a)


def two_args(x, y):
    return x * y + math.sin(x)


def mode_of(g):
    return g._last.ctx.mode


ROOTS = (0.3, -1.2, 2.0, 0.7, -0.4)


@pytest.mark.parametrize("x", [0.1, -0.9, 1.7])
def test_one_scalar_argument_runs_forward_mode(x):
    g = s2sad.grad(poly)
    got = g(x, ROOTS)
    assert mode_of(g) == "forward"
    assert isinstance(got, float)
    assert got == pytest.approx(poly_derivative(x, ROOTS), rel=1e-12)
    assert got == pytest.approx(s2sad.grad(poly, mode="reverse")(x, ROOTS), rel=1e-13)
    assert "_tape" not in g.source
    assert g.source.startswith("def grad_poly(x, t):")


def test_forward_mode_source_is_the_tangent_recurrence():
    g = s2sad.grad(poly)
    g(0.5, ROOTS)
    assert "dg_1 = dg_1 * _t1 + g_1" in g.source       # the seed dx = 1.0 folded away
    assert "g_1 = g_1 * _t1" in g.source


@pytest.mark.parametrize("a", [2.0, 9.0, 0.25])
def test_forward_mode_through_a_data_dependent_while_loop(a):
    g = s2sad.grad(sqrt_newton)
    got = g(a)
    assert mode_of(g) == "forward"
    want = 0.5 / math.sqrt(a) * math.sin(a) + math.sqrt(a) * math.cos(a)
    assert got == pytest.approx(want, rel=1e-9)
    assert got == pytest.approx(numerical_grad(sqrt_newton, (a,)), rel=1e-6)


def test_memory_of_forward_mode_does_not_grow_with_the_trip_count():
    g = s2sad.grad(poly)
    peaks = {}
    for m in (100, 10_000):
        t = tuple(0.5 + 0.01 * math.sin(i) for i in range(m))
        g(0.3, t)                           # compiled before measuring
        tracemalloc.start()
        g(0.3, t)
        peaks[m] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks[10_000] < 2 * peaks[100] + 1024
    reverse = s2sad.grad(poly, mode="reverse")
    t = tuple(0.5 + 0.01 * math.sin(i) for i in range(10_000))
    reverse(0.3, t)
    tracemalloc.start()
    reverse(0.3, t)
    taped = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert taped > 50 * peaks[10_000]       # the tape holds 10^4 floats


@pytest.mark.parametrize("x", [0.6, -2.0])
def test_value_and_grad_and_tuple_wrt_in_forward_mode(x):
    vg = s2sad.value_and_grad(poly)
    value, g = vg(x, ROOTS)
    assert mode_of(vg) == "forward"
    assert value == poly(x, ROOTS)
    assert g == pytest.approx(poly_derivative(x, ROOTS), rel=1e-12)
    tup = s2sad.grad(poly, wrt=(0,))
    (g0,) = tup(x, ROOTS)
    assert mode_of(tup) == "forward" and g0 == g
    assert s2sad.grad(poly, argnum=0)(x=x, t=ROOTS) == g        # by keyword


def test_int_argument_gives_a_float_in_forward_mode():
    g = s2sad.grad(sqrt_newton)
    got = g(4)
    assert mode_of(g) == "forward"
    assert type(got) is float
    assert got == pytest.approx(s2sad.grad(sqrt_newton, mode="reverse")(4.0), rel=1e-12)


def test_numpy_scalar_argument_runs_forward_mode():
    g = s2sad.grad(poly)
    got = g(np.float64(0.2), ROOTS)
    assert mode_of(g) == "forward"
    assert got == pytest.approx(poly_derivative(0.2, ROOTS), rel=1e-12)


def summed(v, w):
    return np.sum(np.sin(v) * w)


def with_aux(x):
    return x * x, "aux"


@pytest.mark.parametrize("make, args", [
    (lambda: s2sad.grad(two_args, wrt=(0, 1)), (0.5, 2.0)),           # two arguments
    (lambda: s2sad.grad(summed), (np.array([0.1, 0.2]), 3.0)),        # an array
    (lambda: s2sad.grad(poly, wrt=1), (0.5, [0.1, 0.2])),             # a list
    (lambda: s2sad.grad(poly, mode="reverse"), (0.5, ROOTS)),         # asked for
    (lambda: s2sad.grad(poly, checkpoint=True), (0.5, ROOTS)),
    (lambda: s2sad.grad(sqrt_newton, fixed_point=True), (2.0,)),
    (lambda: s2sad.grad(with_aux, has_aux=True), (1.5,)),
], ids=["two-args", "array", "list", "mode-reverse", "checkpoint", "fixed-point", "has-aux"])
def test_reverse_mode_otherwise(make, args):
    g = make()
    g(*args)
    assert mode_of(g) == "reverse"


def test_grad_in_forward_mode_uses_a_wrt_scalar_among_arrays():
    g = s2sad.grad(summed, wrt=1)
    v = np.array([0.1, -0.4, 0.9])
    got = g(v, 3.0)
    assert mode_of(g) == "forward"
    assert isinstance(got, float)
    assert got == pytest.approx(np.sum(np.sin(v)), rel=1e-14)


def vector_out(x):
    return np.array([x, 2.0 * x])


def test_non_scalar_output_is_located_in_forward_mode():
    with pytest.raises(s2sad.NonScalarOutputError, match=r"shape \(2,\)") as info:
        s2sad.grad(vector_out)(1.0)
    assert info.value.filename == __file__
    assert info.value.lineno == vector_out.__code__.co_firstlineno + 1


@s2sad.custom_vjp
def twice(x):
    return 2.0 * x


twice.defvjp(lambda x: (2.0 * x, None), lambda res, g: (2.0 * g,))


def uses_twice(x):
    return twice(x) * x


def test_falls_back_to_reverse_mode_where_forward_mode_has_no_rule():
    g = s2sad.grad(uses_twice)
    assert g(1.5) == pytest.approx(6.0)         # d(2x * x) = 4x
    assert mode_of(g) == "reverse"
    with pytest.raises(s2sad.MissingRuleError, match="forward mode"):
        s2sad.grad(uses_twice, mode="forward")(1.5)


@pytest.mark.parametrize("x", [0.4, 1.3])
def test_second_derivative_over_a_forward_mode_gradient(x):
    d2 = s2sad.grad(s2sad.grad(sqrt_newton))(x)
    h = 1e-5
    g = s2sad.grad(sqrt_newton, mode="reverse")
    assert d2 == pytest.approx((g(x + h) - g(x - h)) / (2 * h), rel=1e-5)


def test_mode_arguments_are_checked():
    with pytest.raises(s2sad.ArgumentError, match="mode='sideways' is not available"):
        s2sad.grad(poly, mode="sideways")
    with pytest.raises(s2sad.ArgumentError, match="does not go with has_aux"):
        s2sad.grad(with_aux, has_aux=True, mode="forward")
    with pytest.raises(s2sad.ArgumentError, match="one real scalar argument"):
        s2sad.grad(summed, mode="forward")(np.array([0.1, 0.2]), 3.0)
    with pytest.raises(s2sad.ArgumentError, match="one real scalar argument"):
        s2sad.grad(two_args, wrt=(0, 1), mode="forward")(0.5, 2.0)


def test_source_attribute_before_a_call_shows_the_mode_grad_runs():
    assert "_tape" not in s2sad.grad(sqrt_newton).source
    assert "_tape" in s2sad.grad(sqrt_newton, mode="reverse").source
