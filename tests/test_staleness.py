"""Code made for a function is made again when what it was made for changed: a helper
redefined two calls down (the staleness check used to record the new helper while
comparing, so the next check found nothing changed), a library function bound to a
name of its own and rebound, a rule registered after the code was made, and new
default values. The gradient, jvp, vjp and hessian objects made before the change
give the new derivatives (found by adversarial tests: each gave the old one).
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from s2sad import extend

MODES = ("reverse", "forward")


def _inner(x):
    return x * x


def _middle(x):
    return _inner(x) + 1.0


def _outer(x):
    return 2.0 * _middle(x)


def _cube(x):
    return x * x * x


@pytest.mark.parametrize("mode", MODES)
def test_a_new_gradient_sees_a_helper_redefined_two_calls_down(mode, monkeypatch):
    assert s2sad.grad(_outer, mode=mode)(0.5) == pytest.approx(2.0)
    assert s2sad.grad(_outer, mode=mode)(0.5) == pytest.approx(2.0)
    monkeypatch.setitem(globals(), "_inner", _cube)
    for _ in range(2):          # (the first check must not hide the change from the next)
        assert s2sad.grad(_outer, mode=mode)(0.5) == pytest.approx(1.5)


def _twice_inner(x):
    return 2.0 * _inner(x)


def test_jvp_vjp_and_hessian_objects_see_a_redefined_helper(monkeypatch):
    j, v, h = s2sad.jvp(_twice_inner), s2sad.vjp(_twice_inner), s2sad.hessian(_twice_inner)
    assert j(0.5, 1.0) == pytest.approx((0.5, 2.0))
    assert v(0.5)[1](1.0) == pytest.approx(2.0)
    assert h(0.5) == pytest.approx(4.0)
    monkeypatch.setitem(globals(), "_inner", _cube)
    assert j(0.5, 1.0) == pytest.approx((0.25, 1.5))
    assert v(0.5)[1](1.0) == pytest.approx(1.5)
    assert h(0.5) == pytest.approx(6.0)
    assert s2sad.jvp(_twice_inner)(0.5, 1.0) == pytest.approx((0.25, 1.5))


_act = np.tanh


def _activated(x):
    return 2.0 * _act(x)


@pytest.mark.parametrize("mode", MODES + ("auto",))
def test_a_library_function_under_a_name_of_its_own_rebound(mode, monkeypatch):
    assert s2sad.grad(_activated, mode=mode)(0.5) == pytest.approx(2.0 / np.cosh(0.5) ** 2)
    monkeypatch.setitem(globals(), "_act", _cube)
    assert s2sad.grad(_activated, mode=mode)(0.5) == pytest.approx(1.5)


def _straight_through(x):
    return x * 1.0


def _through(x):
    return 3.0 * _straight_through(x)


def test_a_rule_registered_after_the_code_was_made_is_used():
    """(A rule for a user function replaces differentiating its body.)"""
    from s2sad.rules.core import RULES, TANGENTS
    assert s2sad.grad(_through, mode="reverse")(0.5) == pytest.approx(3.0)
    d = {}

    @extend.adjoint(_straight_through)
    def _half(z, x):
        d[x] = 0.5 * d[z]

    @extend.tangent(_straight_through)
    def _half_tangent(z, x):
        d[z] = 0.5 * d[x]

    try:
        for mode in MODES:
            assert s2sad.grad(_through, mode=mode)(0.5) == pytest.approx(1.5)
    finally:
        RULES.pop(_straight_through, None)
        TANGENTS.pop(_straight_through, None)


def _scaled(x, k=2.0):
    return k * x * x


@pytest.mark.parametrize("mode", MODES)
def test_new_default_values_are_seen(mode, monkeypatch):
    assert s2sad.grad(_scaled, mode=mode)(1.0) == pytest.approx(4.0)
    monkeypatch.setattr(_scaled, "__defaults__", (5.0,))
    assert s2sad.grad(_scaled, mode=mode)(1.0) == pytest.approx(10.0)
