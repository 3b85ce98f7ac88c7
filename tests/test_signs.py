"""Negations absorbed (s2sad/signs.py), division's shared quotient, and loops counted
by the growth of the tape (optimize._counted_by_tape): the code, and the same bits as
the raw code."""

from __future__ import annotations

import math

import pytest

import s2sad


def newton(a, b, tol):
    x = 1.0
    dx = 1.0
    while abs(dx) > tol:
        dx = (x * x * x + a * x - b) / (3.0 * x * x + a)
        x = x - dx
    return x


def two_loops(x, n):
    y = x
    k = 0
    while k < n:
        y = math.sin(y) * x
        k += 1
    j = 0
    while j < n:
        y = y * y * 0.5 + x
        j += 1
    return y


def branchy(x, n):
    y = x
    i = 0
    while i < n:
        if y > 0:
            y = y * x
        else:
            y = y + x
        i += 1
    return y


def quotient(x, y):
    return x / y


def cosine(x1, x2, x3):
    return (x1 - x2 + x2 * x3) * math.cos(x2 * x3)


def _bits(a, b):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    return [math.copysign(1.0, u) for u in a] == [math.copysign(1.0, v) for v in b] \
        and list(a) == list(b)


def test_newton_reverse_sweep_has_no_negation_and_no_counter():
    text = s2sad.source(newton, (0, 1))
    reverse = text.split("for _ in range(_n1):")[1]
    assert "-b" not in reverse and "= -" not in reverse
    assert "nb_t5 = bx_1 / " in reverse and "bb = bb + nb_t5" in reverse
    assert "_n1 += 1" not in text and "_n1 = len(_tape) // 2" in text
    g = s2sad.grad(newton, (0, 1), mode="reverse")(2.0, 1000.0, 1e-12)
    raw = s2sad.grad(newton, (0, 1), mode="reverse", optimize=False)(2.0, 1000.0, 1e-12)
    assert _bits(g, raw)
    x = newton(2.0, 1000.0, 1e-12)
    d = 3.0 * x * x + 2.0
    assert g == pytest.approx((-x / d, 1.0 / d), rel=1e-12)


def test_a_loop_after_another_counts_what_the_tape_grew_by():
    text = s2sad.source(two_loops, 0)
    assert "+= 1" not in text.split("by_")[0]
    assert "len(_tape) - _n" in text
    for n in (0, 1, 5):
        rev = s2sad.grad(two_loops, mode="reverse")(0.3, n)
        assert _bits(rev, s2sad.grad(two_loops, mode="reverse", optimize=False)(0.3, n))
        assert rev == pytest.approx(s2sad.grad(two_loops, mode="forward")(0.3, n), rel=1e-12)


def test_a_loop_with_a_branch_keeps_its_counter():
    text = s2sad.source(branchy, 0)
    assert "_n1 += 1" in text
    assert s2sad.grad(branchy, mode="reverse")(0.5, 5) == pytest.approx(
        s2sad.grad(branchy, mode="forward")(0.5, 5), rel=1e-12)


def test_division_shares_the_quotient_only_when_both_operands_are_active():
    both = s2sad.source(quotient, (0, 1))
    assert "bx = 1.0 / y" in both and "by = -bx * _t1" in both
    assert "return (bx, by)" in both
    one = s2sad.source(quotient, 1)
    assert "by = -_t1 / y" in one
    for wrt in ((0, 1), 1, 0):
        got = s2sad.grad(quotient, wrt)(3.0, -0.7)
        assert _bits(got, s2sad.grad(quotient, wrt, optimize=False)(3.0, -0.7))


def test_forward_mode_products_take_the_sign():
    g = s2sad.grad(cosine, (0, 1, 2), mode="forward")
    args = (1.0, 2.0, 0.75)
    got = g(*args)
    text = g.source
    assert "(x3 - 1.0) * _t5 - x3 * " in text and "+ -" not in text
    assert _bits(got, s2sad.grad(cosine, (0, 1, 2), mode="forward", optimize=False)(*args))
    assert got == pytest.approx(s2sad.grad(cosine, (0, 1, 2), mode="reverse")(*args),
                                rel=1e-14)
