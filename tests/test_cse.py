"""Repeated scalar operations shared before differentiation (s2sad/cse.py): which
values are shared, which are not (a rebound operand, a branch, a loop, arrays), and
the gradients against finite differences and analytic derivatives."""

from __future__ import annotations

import ast
import math
import textwrap

import numpy as np
import pytest

import s2sad

POINTS = [(1.5, 0.7, -0.3), (-0.4, 2.1, 0.9), (0.3, -1.2, 1.7)]


def seed_cos(x1, x2, x3):
    return (x1 - x2 + x2 * x3) * math.cos(x2 * x3)


def test_seed_cos_has_one_adjoint_of_the_shared_product():
    """``x2 * x3`` is made once, so its adjoint gathers both uses before the product
    sends it on: one multiplication per argument, no ``b * x3 + c * x3``."""
    src = s2sad.source(seed_cos, wrt=(0, 1, 2))
    assert src.count("x2 * x3") == 1
    assert "b_t2 = " in src and "bx3 = b_t2 * x2\n" in src
    assert "* x3 + " not in src
    g = s2sad.grad(seed_cos, (0, 1, 2))
    for x1, x2, x3 in POINTS:
        y = x2 * x3
        z = x1 - x2 + y
        want = (math.cos(y), (x3 - 1.0) * math.cos(y) - z * math.sin(y) * x3,
                x2 * math.cos(y) - z * math.sin(y) * x2)
        np.testing.assert_allclose(g(x1, x2, x3), want, rtol=1e-13, atol=1e-15)


def shared_commuted(x, y):
    a = x * y
    b = y * x           # the same value: * of numbers commutes exactly
    return math.sin(a) + b * b


def not_after_rebinding(x, y):
    a = x * y
    x = x + 1.0         # x * y below is another value
    b = x * y
    return a * b


def not_from_a_branch(x, y):
    if x > 0.0:
        a = x * y
    else:
        a = x - y
    b = x * y           # made in one branch only: made again
    return a * b


def not_across_a_loop_writing_an_operand(x, y):
    a = x * y
    for _ in range(3):
        b = x * y       # x changes in the loop
        x = x + b * 0.1
    return a + x


def from_before_a_loop_not_writing_it(x, y):
    a = x * y
    s = 0.0
    for _ in range(3):
        s = s + x * y   # x and y unchanged by the loop: a serves
    return a * s


def shared_across_ssa_versions(x, y):
    a = x - y
    a = a * a           # SSA: a_1 = a * a, and a still holds x - y
    b = x - y
    return a + b * b


def signed_zeros(x):
    return x * 0.0 + x * -0.0 + math.exp(x * 2.0) + math.exp(2.0 * x)


CASES = [
    (shared_commuted, True),
    (not_after_rebinding, False),
    (not_from_a_branch, False),
    (not_across_a_loop_writing_an_operand, False),
    (from_before_a_loop_not_writing_it, True),
    (shared_across_ssa_versions, True),
]


@pytest.mark.parametrize("f, shared", CASES, ids=[c[0].__name__ for c in CASES])
def test_what_is_shared(f, shared):
    """After activity analysis (where sharing happens), the second operation is a copy
    of the name holding the first exactly when that value still holds; the gradient
    matches finite differences in both modes either way."""
    tree = s2sad.source(f, wrt=(0, 1), stage="activity")
    ops = tree.count(" * y") + tree.count("y * ") + tree.count(" - y")
    assert (ops == 1) == shared, tree
    for x, y in [(0.7, 1.3), (-0.9, 0.4), (1.6, -0.8)]:
        for mode in ("reverse", "forward"):
            got = s2sad.grad(f, (0, 1), mode=mode)(x, y)
            want = _fd(f, (x, y))
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def _fd(f, args, h=1e-6):
    out = []
    for i in range(len(args)):
        up = list(args)
        down = list(args)
        up[i] += h
        down[i] -= h
        out.append((f(*up) - f(*down)) / (2 * h))
    return tuple(out)


def test_signed_zeros_are_other_numbers_and_commuted_constants_one():
    """``x * 0.0`` and ``x * -0.0`` stay apart (their values differ in sign at
    ``x < 0``); ``x * 2.0`` and ``2.0 * x`` are one value."""
    tree = s2sad.source(signed_zeros, wrt=0, stage="activity")
    assert "x * 0.0" in tree and "x * -0.0" in tree
    assert ("x * 2.0" in tree) + ("2.0 * x" in tree) == 1, tree
    g = s2sad.grad(signed_zeros)
    for x in (0.3, -1.1, 2.0):
        assert g(x) == pytest.approx(4.0 * math.exp(2.0 * x), rel=1e-14)


def arrays_stay_apart(x, y):
    a = x * y
    b = x * y           # arrays: b[0] = ... below must not change a
    b[0] = 0.0
    return np.sum(a * b)


def test_arrays_are_never_shared():
    tree = s2sad.source(arrays_stay_apart, wrt=0, stage="activity",
                        args=(np.ones(3), np.ones(3)))
    assert tree.count("x * y") == 2, tree
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.normal(size=3), rng.normal(size=3)
        want = 2.0 * x * y * y
        want[0] = 0.0
        np.testing.assert_allclose(s2sad.grad(arrays_stay_apart)(x, y), want, rtol=1e-12)


def indexed(xs, n):
    s = 0.0
    for i in range(n - 1):
        s = s + xs[i + 1] * xs[i] + xs[i + 1]
    return s


def test_integer_indices_are_left_to_the_optimizer():
    """``i + 1`` carries no derivative: it is not made a copy before the reverse pass,
    so the reverse sweep computes it again instead of recording it."""
    xs = [0.5, -1.0, 2.0, 0.25]
    src = s2sad.source(indexed, wrt=0, args=(xs, 4))
    assert "append" not in src and src.count("_t1 = i + 1") == 2, src
    got = s2sad.grad(indexed)(xs, 4)
    want = [xs[1], xs[0] + 1.0 + xs[2], xs[1] + 1.0 + xs[3], xs[2] + 1.0]
    np.testing.assert_allclose(got, want, rtol=1e-14)


def hessian_target(x, y):
    return math.exp(x * y) * (x * y + x)


def test_second_order_through_shared_values():
    h = s2sad.hessian(hessian_target, (0, 1))
    for x, y in [(0.3, 0.5), (-0.7, 0.2)]:
        u = x * y
        e = math.exp(u)
        # f = e * (u + x); analytic second derivatives
        fxx = y * y * e * (u + x) + 2.0 * y * e * (y + 1.0)
        fyy = x * x * e * (u + x) + 2.0 * x * e * x
        fxy = (e + u * e) * (u + x) + x * e * (y + 1.0) + y * e * x + e
        np.testing.assert_allclose(np.asarray(h(x, y)), [[fxx, fxy], [fxy, fyy]],
                                   rtol=1e-10)


def _run(code, active=None):
    """cse.run on the statements of ``code``, every name a scalar, active unless
    ``active`` says which are; the text after."""
    import gast

    from s2sad import cse
    body = gast.parse(textwrap.dedent(code)).body
    found = {n.id for s in body for n in gast.walk(s) if isinstance(n, gast.Name)}
    cse.run(body, dict.fromkeys(found, "S"), found, found if active is None else active)
    return "\n".join(ast.unparse(gast.gast_to_ast(s)) for s in body)


def test_a_rebound_holder_or_operand_ends_the_value():
    """Outside SSA form (loop-carried names are rebound in the loop's body), rebinding
    the name holding a value, or one it reads, ends it."""
    assert _run("""
        a = x * y
        a = a + 1.0
        b = x * y
        c = x * y
        y = c - 1.0
        d = x * y
    """).splitlines() == ["a = x * y", "a = a + 1.0", "b = x * y", "c = b", "y = c - 1.0",
                          "d = x * y"]


def test_only_active_targets_become_copies_and_loops_see_what_they_keep():
    assert _run("""
        i1 = i + 1
        i2 = i + 1
        a = x * y
        while a > 0.0:
            b = x * y
            c = z * y
            z = z - 1.0
        else:
            e = z * y
        f = x * y
    """, active={"x", "y", "z", "a", "b", "c", "e", "f"}).splitlines() == [
        "i1 = i + 1", "i2 = i + 1", "a = x * y",
        "while a > 0.0:", "    b = a", "    c = z * y", "    z = z - 1.0",
        "else:", "    e = z * y", "f = a"]
