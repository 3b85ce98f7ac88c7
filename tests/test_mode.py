"""Which mode ``grad`` runs: forward mode for one real scalar argument, or two when the
function has a loop of a trip count its source does not fix, reverse mode otherwise
(``mode='auto'``, the default), and ``mode='reverse'``/``'forward'`` (the latter along
several scalar arguments too)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from gradcheck import numerical_grad
from helpers_module import fills_a_list

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


def three_args(x, y, z):
    return x * y * z + math.sin(x)


def pendulum(c, L, theta0, steps):
    dt = 0.01
    theta = theta0
    omega = 0.0
    for _ in range(steps):
        theta, omega = theta + dt * omega, omega - dt * (c * omega + 9.81 / L * math.sin(theta))
    return theta


def pendulum_tangent(c, L, theta0, steps):
    """The derivatives by hand: two tangent directions carried along."""
    dt = 0.01
    theta, omega = theta0, 0.0
    th_c = om_c = th_L = om_L = 0.0
    for _ in range(steps):
        s, k = math.sin(theta), 9.81 / L
        kc = k * math.cos(theta)
        th_c, om_c = th_c + dt * om_c, om_c - dt * (omega + c * om_c + kc * th_c)
        th_L, om_L = th_L + dt * om_L, om_L - dt * (c * om_L - k / L * s + kc * th_L)
        theta, omega = theta + dt * omega, omega - dt * (c * omega + k * s)
    return th_c, th_L


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


def zero_d_output(x, y):
    return np.asarray(x * x * y + np.sin(x))


@pytest.mark.parametrize("x", [0.3, -1.7])
def test_a_0d_array_output_gives_the_same_numbers_in_both_modes(x):
    """The output's tangent is a 0-d array; the gradient along a float is a number in
    forward mode, as in reverse mode (it was array(...) in forward mode)."""
    want = (2.0 * x * 1.5 + math.cos(x), x * x)
    for mode in ("forward", "reverse"):
        g = s2sad.grad(zero_d_output, wrt=(0, 1), mode=mode)
        got = g(x, 1.5)
        assert mode_of(g) == mode
        assert all(isinstance(v, np.float64) for v in got), (mode, got)
        assert got == pytest.approx(want, rel=1e-12)
        value, grads = s2sad.value_and_grad(zero_d_output, wrt=0, mode=mode)(x, 1.5)
        assert type(value) is np.ndarray and value.ndim == 0    # the value: as f gives it
        assert isinstance(grads, np.float64) and grads == pytest.approx(want[0], rel=1e-12)


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
    with pytest.raises(s2sad.ArgumentError, match="output='bogus' is not available"):
        s2sad.source(poly, output="bogus")      # (it printed def bogus_poly)
    with pytest.raises(s2sad.ArgumentError, match="does not go with has_aux"):
        s2sad.grad(with_aux, has_aux=True, mode="forward")
    with pytest.raises(s2sad.ArgumentError, match="real scalar arguments"):
        s2sad.grad(summed, mode="forward")(np.array([0.1, 0.2]), 3.0)
    with pytest.raises(s2sad.ArgumentError, match="real scalar arguments"):
        s2sad.grad(summed, wrt=(0, 1), mode="forward")(np.array([0.1, 0.2]), 3.0)


def test_source_attribute_before_a_call_shows_the_mode_grad_runs():
    assert "_tape" not in s2sad.grad(sqrt_newton).source
    assert "_tape" in s2sad.grad(sqrt_newton, mode="reverse").source


# ---------------------------------------------------------------------------
# mode='forward' along two arguments: two tangent sweeps interleaved with one
# sweep of the function


@pytest.mark.parametrize("c, L, steps", [(0.3, 1.5, 50), (0.1, 0.8, 200), (0.5, 2.0, 0)])
def test_two_arguments_run_forward_mode(c, L, steps):
    g = s2sad.grad(pendulum, (0, 1), mode="forward")
    got = g(c, L, 1.0, steps)
    assert mode_of(g) == "forward"
    assert "_tape" not in g.source
    want = pendulum_tangent(c, L, 1.0, steps)
    assert got == (pytest.approx(want[0], rel=1e-10, abs=1e-15),
                   pytest.approx(want[1], rel=1e-10, abs=1e-15))
    rev = s2sad.grad(pendulum, (0, 1), mode="reverse")(c, L, 1.0, steps)
    assert got == (pytest.approx(rev[0], rel=1e-10, abs=1e-15),
                   pytest.approx(rev[1], rel=1e-10, abs=1e-15))
    assert all(type(v) is float for v in got)


def test_two_arguments_name_the_tangents_by_argument():
    g = s2sad.grad(pendulum, (0, 1), mode="forward")
    g(0.3, 1.5, 1.0, 10)
    assert "dtheta_1_dc" in g.source and "dtheta_1_dL" in g.source
    assert g.source.rstrip().endswith("return (dtheta_1_dc, dtheta_1_dL)")


def test_two_arguments_memory_does_not_grow_with_the_steps():
    g = s2sad.grad(pendulum, (0, 1), mode="forward")
    peaks = []
    for steps in (100, 10_000):
        g(0.3, 1.5, 1.0, steps)
        tracemalloc.start()
        g(0.3, 1.5, 1.0, steps)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 2 * peaks[0] + 1024


def partly(x, y):
    """``u`` depends on x only, ``v`` on y only: each direction carries its own."""
    u = math.exp(x)
    v = y * y
    for _ in range(3):
        u = u * 0.5 + x
        v = v + y
    return u * v


@pytest.mark.parametrize("x, y", [(0.2, 1.1), (-0.7, 0.4)])
def test_each_direction_carries_only_its_own_tangents(x, y):
    g = s2sad.grad(partly, (0, 1), mode="forward")
    gx, gy = g(x, y)
    assert mode_of(g) == "forward"
    assert (gx, gy) == (pytest.approx(numerical_grad(partly, (x, y), 0), rel=1e-6),
                        pytest.approx(numerical_grad(partly, (x, y), 1), rel=1e-6))
    assert "du_1_dy" not in g.source and "dv_1_dx" not in g.source


@pytest.mark.parametrize("x, y", [(0.5, 2.0), (-1.2, 0.3)])
def test_value_and_grad_two_arguments_and_one_inactive(x, y):
    vg = s2sad.value_and_grad(two_args, (0, 1), mode="forward")
    value, (gx, gy) = vg(x, y)
    assert mode_of(vg) == "forward"
    assert value == two_args(x, y)
    assert (gx, gy) == (pytest.approx(y + math.cos(x)), pytest.approx(x))
    g = s2sad.grad(lambda_like, (0, 1), mode="forward")
    assert g(x, y) == (pytest.approx(2.0 * x), 0.0)
    assert mode_of(g) == "forward"


def lambda_like(x, y):
    return x * x


def helper(u):
    return u * math.sin(u)


def calls_helper(x, y):
    return helper(x * y) + y


def test_two_arguments_with_a_call():
    x, y = 0.7, 1.3
    u = x * y
    du = math.sin(u) + u * math.cos(u)
    want = (pytest.approx(du * y, rel=1e-13), pytest.approx(du * x + 1.0, rel=1e-13))
    assert s2sad.grad(calls_helper, (0, 1))(x, y) == want                  # reverse
    g = s2sad.grad(calls_helper, (0, 1), mode="forward")
    assert g(x, y) == want
    assert mode_of(g) == "forward"
    # the callee's tangent code takes both directions: one call, not one per direction
    assert "jvp_helper(x * y, y, x)" in g.source


def inner(a, v):
    s = 0.0
    for i in range(3):
        s = s + v[i] * math.cos(a * i)
    return s


def middle(a, b, v):
    return inner(a, v) * b + helper(b)


def outer(x, y, v):
    t = 0.0
    for k in range(4):
        t = t + middle(x + k, y, v) * 0.1
    return t + helper(x)


@pytest.mark.parametrize("x, y", [(0.4, 0.9), (-1.1, 0.2)])
def test_two_arguments_through_nested_calls(x, y):
    """``outer`` calls ``middle`` (both directions) and ``helper(x)`` (x only);
    ``middle`` calls ``inner``, which takes an array too."""
    v = np.array([0.3, -0.2, 0.5])
    g = s2sad.grad(outer, (0, 1), mode="forward")
    got = g(x, y, v)
    assert mode_of(g) == "forward"
    rev = s2sad.grad(outer, (0, 1), mode="reverse")(x, y, v)
    assert got == (pytest.approx(rev[0], rel=1e-12), pytest.approx(rev[1], rel=1e-12))
    assert got == (pytest.approx(numerical_grad(outer, (x, y, v), 0), rel=1e-6),
                   pytest.approx(numerical_grad(outer, (x, y, v), 1), rel=1e-6))


def newton_cubic(a, b):
    """Two scalar arguments, a while loop: the root of x^3 + a x - b."""
    x = 1.0
    dx = 1.0
    while abs(dx) > 1e-13:
        dx = (x * x * x + a * x - b) / (3.0 * x * x + a)
        x = x - dx
    return x


def fixed_loop(x, y):
    s = x
    for _ in range(3):
        s = math.sin(s) * y
    return s


def three_in_a_loop(x, y, z, n):
    s = x
    for _ in range(n):
        s = s * y + z
    return s


@pytest.mark.parametrize("a, b", [(2.0, 1000.0), (0.5, 3.0), (4.0, -2.0)])
def test_two_arguments_and_an_unbounded_loop_run_forward_mode(a, b):
    g = s2sad.grad(newton_cubic, (0, 1))
    got = g(a, b)
    assert mode_of(g) == "forward"
    assert "_tape" not in g.source
    x = newton_cubic(a, b)
    d = 3.0 * x * x + a                     # the implicit function theorem at the root
    assert got == (pytest.approx(-x / d, rel=1e-9), pytest.approx(1.0 / d, rel=1e-9))
    rev = s2sad.grad(newton_cubic, (0, 1), mode="reverse")(a, b)
    assert got == (pytest.approx(rev[0], rel=1e-12), pytest.approx(rev[1], rel=1e-12))


@pytest.mark.parametrize("steps", [0, 1, 300])
def test_two_arguments_and_a_for_loop_of_an_argument_run_forward_mode(steps):
    g = s2sad.grad(pendulum, (0, 1))
    got = g(0.3, 1.5, 1.0, steps)
    assert mode_of(g) == "forward"
    want = pendulum_tangent(0.3, 1.5, 1.0, steps)
    assert got == (pytest.approx(want[0], rel=1e-10, abs=1e-15),
                   pytest.approx(want[1], rel=1e-10, abs=1e-15))


def test_memory_of_the_two_argument_default_does_not_grow_with_the_trip_count():
    g = s2sad.grad(pendulum, (0, 1))
    peaks = {}
    for steps in (100, 10_000):
        g(0.3, 1.5, 1.0, steps)
        tracemalloc.start()
        g(0.3, 1.5, 1.0, steps)
        peaks[steps] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks[10_000] < 2 * peaks[100] + 1024


@pytest.mark.parametrize("make, args", [
    (lambda: s2sad.grad(fixed_loop, (0, 1)), (0.5, 1.2)),              # range(3)
    (lambda: s2sad.grad(three_in_a_loop, (0, 1, 2)), (0.5, 0.9, 0.1, 20)),  # three
    (lambda: s2sad.grad(newton_cubic, (0, 1), mode="reverse"), (2.0, 5.0)),
], ids=["constant-range", "three-args", "mode-reverse"])
def test_two_arguments_run_reverse_mode_otherwise(make, args):
    g = make()
    got = g(*args)
    assert mode_of(g) == "reverse"
    assert "_tape" in g.source
    f = g.__wrapped__
    for i, gi in enumerate(got):
        assert gi == pytest.approx(numerical_grad(f, args, wrt=i), rel=1e-6)


def test_which_loops_have_a_trip_count_the_source_does_not_fix():
    from s2sad.parse import loops_unbounded
    assert loops_unbounded(newton_cubic)
    assert loops_unbounded(pendulum)                # range(steps)
    assert loops_unbounded(poly)                    # for ti in t
    assert not loops_unbounded(fixed_loop)          # range(3)
    assert not loops_unbounded(two_args)
    assert not loops_unbounded(len)                 # no source: no claim


def test_explicit_forward_mode_takes_three_arguments():
    g = s2sad.grad(three_args, (0, 1, 2), mode="forward")
    got = g(0.5, 2.0, 1.5)
    assert mode_of(g) == "forward"
    assert got == (pytest.approx(2.0 * 1.5 + math.cos(0.5)), pytest.approx(0.75),
                   pytest.approx(1.0))


def scaled_push(lst, scale, v):
    lst.append(v * scale[0])
    return v


def fills_one_list_twice(x, y):
    lst = [y]
    r = scaled_push(lst, lst, x)
    return sum(lst) + r


def test_source_mode_auto_and_grad_runs():
    assert s2sad.api.grad_runs(sqrt_newton) == "forward"
    assert s2sad.api.grad_runs(two_args, (0, 1)) == "reverse"
    assert s2sad.api.grad_runs(newton_cubic, (0, 1)) == "forward"       # a while loop
    assert s2sad.api.grad_runs(fixed_loop, (0, 1)) == "reverse"         # range(3)
    assert s2sad.api.grad_runs(summed, args=(np.ones(2), 1.0)) == "reverse"
    assert s2sad.api.grad_runs(summed, 1, args=(np.ones(2), 1.0)) == "forward"
    assert s2sad.api.grad_runs(uses_twice) == "reverse"        # forward mode has no rule
    # reverse mode takes a helper filling a list (it refused it) ...
    assert s2sad.api.grad_runs(fills_a_list, (0, 1)) == "reverse"
    # ... but not one given the same list twice: grad runs forward mode
    assert s2sad.api.grad_runs(fills_one_list_twice, (0, 1)) == "forward"
    assert "jvp_scaled_push" in s2sad.source(fills_one_list_twice, (0, 1), mode="auto")
    assert "jvp_scaled_push" in s2sad.grad(fills_one_list_twice, (0, 1)).source  # before a call
    auto = s2sad.source(sqrt_newton, mode="auto")
    g = s2sad.grad(sqrt_newton)
    g(2.0)
    assert auto == g.source
    assert s2sad.source(two_args, (0, 1), mode="auto") == s2sad.source(two_args, (0, 1))
    assert "da = 1.0" in s2sad.source(sqrt_newton, mode="auto", stage="forward")
    assert "def jvp_sqrt_newton(a, da):" in s2sad.source(sqrt_newton, stage="forward")
