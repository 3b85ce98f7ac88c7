"""What the tape records, what the reverse sweep recomputes, and how loops run backwards.

The reverse of a loop body needs some primal values of its iteration. A value
is recorded on the tape only when it cannot be recomputed cheaply from values
at hand (loop-invariant names, the index of a ``range`` loop run backwards,
other recorded values); cheap scalar arithmetic and ``math`` calls are redone.
Every function here is checked against central finite differences at several
points, and the generated text is checked for the tape layout it should have.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from gradcheck import assert_grad_matches

import s2sad


def pendulum(c, L, theta0, steps):
    dt = 0.01
    theta = theta0
    omega = 0.0
    for _ in range(steps):
        theta, omega = theta + dt * omega, omega - dt * (c * omega + 9.81 / L * math.sin(theta))
    return theta


def poly(x, t):
    g = 1.0
    for ti in t:
        g = g * (x - ti)
    return g


def newton(a, b, tol):
    x = 1.0
    dx = 1.0
    while abs(dx) > tol:
        dx = (x * x * x + a * x - b) / (3.0 * x * x + a)
        x = x - dx
    return x


def index_used_after_loop(x, n):
    y = x
    for i in range(n):
        y = y * math.sin(x + i)
    return y * i


def triangle(x, n):
    s = 0.0
    for i in range(n):
        for j in range(i):
            s = s + math.sin(x * i) * math.cos(x + j)
    return s


def grid(v, n):
    s = 0.0
    for i in range(n):
        for j in range(n):
            s = s + v[i] * v[j] * math.tanh(v[i] - v[j])
    return s


def with_break(x, n):
    y = x
    for i in range(n):
        y = math.sin(y) * x + i
        if y > 2.0:
            break
    return y


def writes_into_list(x, n):
    t = [x, 2.0 * x, 3.0]
    s = 0.0
    for i in range(n):
        s = s + t[i % 3] * math.cos(s)
        t[i % 3] = s * x
    return s + t[0]


def index_reused(x):
    s = x
    for i in range(3):
        s = s * math.sin(s + i)
    for i in range(2):
        s = s + math.cos(s * i)
    return s


def outer_value_in_inner_loop(x, n):
    s = 0.0
    for i in range(n):
        u = math.exp(x * i)
        for _ in range(3):
            s = math.sin(s) + u * x
    return s


def helper_loop(x, n):
    y = x
    for _ in range(n):
        y = y * math.cos(y) + x
    return y


def calls_helper_loop(x, n):
    return helper_loop(x * x, n) * x


def test_pendulum_records_the_state_and_recomputes_the_rest():
    for args in [(0.3, 1.5, 1.0, 50), (0.1, 0.7, -0.4, 20), (0.0, 2.0, 2.0, 0)]:
        assert_grad_matches(pendulum, args, wrt=(0, 1))
    src = s2sad.source(pendulum, (0, 1))
    reverse = src.split("btheta_1 = 1.0")[1]
    assert src.count("_tape.append(") == 2                     # theta and omega
    assert "_tape.append(omega_1)" in src and "_tape.append(theta_1)" in src
    assert "math.sin(theta_1)" in reverse                      # recomputed, not recorded
    # the loop-invariant 9.81 / L is not computed again: the reverse loop reads the
    # value the forward loop left (none when it ran no iteration, and then none is read)
    assert src.count("9.81 / L") == 1 and "9.81 / L" not in reverse
    assert "_n1" not in src                                    # no trip counter


def test_poly_records_one_value_per_factor():
    t = tuple(0.1 * k - 1.0 for k in range(17))
    for x in (0.3, -0.7, 1.2):
        assert_grad_matches(poly, (x, t), wrt=0)
        assert_grad_matches(poly, (x, list(t)), wrt=0)
        assert_grad_matches(poly, (x, np.array(t)), wrt=0)
    src = s2sad.source(poly, args=(0.3, t))
    assert src.count("_tape.append(") == 1 and "_tape.append(g_1)" in src
    # the reverse loop walks the sequence backwards: the factor is read again, not
    # recorded, and the copy bg_2 = bg_1 of the loop header is gone (as by hand)
    assert "for ti in _seq:" in src and "for ti in reversed(_seq):" in src
    assert "_i" not in src and "bg_2" not in src
    assert "bg_1 = bg_1 * (x - ti)" in src.split("bx = 0.0")[1]


def test_newton_while_loop_recomputes_cheap_values():
    for args in [(2.0, 1000.0, 1e-12), (1.0, 3.0, 1e-10), (5.0, -7.0, 1e-9)]:
        assert_grad_matches(newton, args, wrt=(0, 1))
    src = s2sad.source(newton, (0, 1))
    assert src.count("_tape.append(") == 2                     # x and dx
    assert "_n1" in src                                        # a while loop counts its trips


@pytest.mark.parametrize("func, args", [
    (index_used_after_loop, [(0.4, 3), (1.1, 5), (-0.3, 1)]),
    (triangle, [(0.4, 4), (-1.3, 5), (0.9, 1)]),
    (with_break, [(0.9, 10), (1.5, 10), (0.2, 3)]),
    (writes_into_list, [(0.4, 5), (-0.8, 7), (1.3, 2)]),
    (index_reused, [(0.4,), (1.7,), (-0.6,)]),
    (outer_value_in_inner_loop, [(0.3, 3), (-0.5, 4), (0.1, 1)]),
    (calls_helper_loop, [(0.4, 3), (0.9, 5), (-0.2, 2)]),
])
def test_loops_against_finite_differences(func, args):
    for a in args:
        assert_grad_matches(func, a, wrt=0)


def test_nested_range_loops_over_a_vector():
    rng = np.random.default_rng(3)
    for _ in range(3):
        v = rng.uniform(-1.0, 1.0, 4)
        assert_grad_matches(grid, (v, 4), wrt=0)
    src = s2sad.source(grid, args=(np.ones(4), 4))
    assert src.count("reversed(range(n))") == 2 and "_n1" not in src
    # tanh(v[i] - v[j]) costs three operations to redo: it is the one value recorded
    assert src.count("_tape.append(") == 1 and "_tape.append(_t7)" in src
    # v[i] does not change in the inner loop: read once per outer iteration
    reverse = src.split("bv = zeros_like(v)")[1]
    assert reverse.index("_t1 = v[i]") < reverse.index("for j in reversed(range(n)):")


def test_loop_whose_range_changes_keeps_a_counter():
    src = s2sad.source(triangle, args=(0.4, 4))
    assert "for i in reversed(range(n)):" in src               # the outer range is fixed
    assert "_n" in src                                         # the inner one, range(i), is not


def test_break_keeps_the_trip_counter():
    # the reverse loop runs over the iterations that ran: the range sliced by the count
    src = s2sad.source(with_break, args=(0.9, 10))
    assert "_n1 += 1" in src and "for i in reversed(range(n)[:_n1]):" in src


def counts_powers(x, n):
    k = 0
    s = 0.0
    while k < n:
        s = s * x + x ** k
        k = k + 1
    return s


def halves(x, n):
    h = 1.0
    s = 0.0
    while s < n:
        s = s + math.sin(x * h)
        h = h * 0.5
    return s


def test_values_without_derivative_are_recorded_apart():
    # k carries no derivative: differentiated again, the gradient pops it off a list
    # holding nothing with a derivative, so it comes back with none (not a tangent 0.0)
    src = s2sad.source(counts_powers, args=(-0.9, 4))
    assert "_itape.append(k_1)" in src and "_tape.append(s_1)" in src
    assert "k_1 = _itape.pop()" in src and "s_1 = _tape.pop()" in src
    assert s2sad.grad(counts_powers, mode="reverse")(-0.9, 4) == pytest.approx(
        s2sad.grad(counts_powers, mode="forward")(-0.9, 4), rel=1e-12)
    # where nothing recorded has a derivative, the one list is the tape, as usual
    src = s2sad.source(halves, args=(0.4, 0.7))
    assert "_tape.append(h_1)" in src and "_itape" not in src
    assert_grad_matches(halves, (0.4, 0.7), wrt=0)


def test_elements_are_recorded_when_the_list_changes_in_place():
    src = s2sad.source(writes_into_list, args=(0.4, 5))
    reverse = src.split("bs_1 = 1.0")[1]
    assert "_tape.append(_t3)" in src and "= t[_t2]" not in reverse     # not read again
    assert s2sad.grad(writes_into_list)(0.4, 5) == pytest.approx(
        s2sad.grad(writes_into_list, optimize=False)(0.4, 5), rel=1e-12)


def _peak(func, args):
    func(*args)
    tracemalloc.start()
    try:
        func(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_pendulum_tape_is_two_floats_per_step():
    g = s2sad.grad(pendulum, (0, 1), mode="reverse")   # the taped sweep
    small, large = _peak(g, (0.3, 1.5, 1.0, 2000)), _peak(g, (0.3, 1.5, 1.0, 4000))
    per_step = (large - small) / 2000
    # two list slots (8 bytes each) and two floats (24 bytes each) per step; the
    # list over-allocates by about 1/8
    assert 60 <= per_step <= 80, per_step
