"""User-registered derivative rules for library functions s2sad does not know
(``tests/custom_lib.py``): ``@s2sad.adjoint`` and ``@s2sad.tangent`` templates,
tangents derived from elementwise adjoints, ``nondiff``, the generated source
showing the templates, check_grads catching wrong rules, and MissingRuleError
for C functions without a rule.
"""

from __future__ import annotations

import inspect
import math
import os

import custom_lib
import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad
import s2sad.extend
from s2sad.extend import d, unbroadcast

HERE = os.path.abspath(__file__)

# ---------------------------------------------------------------------------
# the rules, registered as a user of custom_lib would


@s2sad.adjoint(custom_lib.softclip)
def softclip_adjoint(z, x):
    d[x] = d[z] * (2.0 - z * z / 2.0)


@s2sad.tangent(custom_lib.softclip)
def softclip_tangent(z, x):
    d[z] = d[x] * custom_lib.softclip_slope(z)


@s2sad.extend.adjoint(custom_lib.softsign)       # no tangent: forward mode derives it
def softsign_adjoint(z, x):
    d[x] = d[z] / ((1.0 + np.abs(x)) * (1.0 + np.abs(x)))


@s2sad.adjoint(custom_lib.gauss_bump)
def gauss_bump_adjoint(z, x, w):
    d[x] = unbroadcast(d[z] * (-2.0 * x * z), x)
    d[w] = unbroadcast(d[z] * np.exp(-x * x), w)


@s2sad.tangent(custom_lib.gauss_bump)
def gauss_bump_tangent(z, x, w):
    d[z] = d[x] * (-2.0 * x * z) + d[w] * np.exp(-x * x)


@s2sad.adjoint(custom_lib.doubled_square)
def doubled_square_adjoint(z, x):
    d[x] = d[z] * 4.0 * x            # deliberately wrong: the truth is 2 x


@s2sad.tangent(custom_lib.doubled_square)
def doubled_square_tangent(z, x):
    d[z] = d[x] * 3.0 * x            # deliberately wrong, and differently


@s2sad.adjoint(custom_lib.times_total)    # not elementwise: no tangent derivable
def times_total_adjoint(z, x):
    d[x] = d[z] * np.sum(x) + np.sum(d[z] * x)


@s2sad.adjoint(custom_lib.counting_cube)
def counting_cube_adjoint(z, x):
    d[x] = d[z] * 3.0 * x * x


s2sad.extend.nondiff(custom_lib.hard_step)


# ---------------------------------------------------------------------------
# functions using the library


def uses_softclip(x, y):
    return custom_lib.softclip(x * y) + y


def softclip_array(v):
    return np.sum(custom_lib.softclip(v) * v)


def softclip_loop(x, n):
    s = x
    for _ in range(n):
        s = custom_lib.softclip(s) * x
    return s


def uses_softsign(x):
    return custom_lib.softsign(x * 2.0) * x


def softsign_array(v):
    return np.sum(custom_lib.softsign(v) ** 2)


def uses_bump(x, w):
    return np.sum(custom_lib.gauss_bump(x, w) * x)


def uses_wrong(x):
    return custom_lib.doubled_square(x) + x


def uses_counting(x):
    return custom_lib.counting_cube(x) * 2.0


def uses_step(x):
    return custom_lib.hard_step(x) * x * x


def uses_plain(x):
    return custom_lib.plain_poly(x) * 2.0


def uses_gamma(x):
    return math.gamma(x) * 2.0


def uses_i0(v):
    return np.sum(np.i0(v) * v)


def softclip_true_slope(x):
    t = np.tanh(x)
    return 2.0 * (1.0 - t * t)


def line_of(func, text):
    lines, start = inspect.getsourcelines(func)
    for k, line in enumerate(lines):
        if text in line:
            return start + k
    raise AssertionError(f"{text!r} not in {func.__name__}")


# ---------------------------------------------------------------------------
# adjoint and tangent templates


def test_rules_are_registered():
    from s2sad.rules.core import RULES, TANGENTS
    assert RULES[custom_lib.softclip][0].template is softclip_adjoint
    assert TANGENTS[custom_lib.softclip][0].template is softclip_tangent
    assert custom_lib.softsign not in TANGENTS
    assert s2sad.extend.adjoint is s2sad.adjoint


def test_reverse_source_inlines_the_adjoint_template():
    src = s2sad.source(uses_softclip)
    assert "custom_lib.softclip(" in src                  # called as a primitive
    assert "(2.0 - _t2 * _t2 / 2.0)" in src              # the template's formula, z -> _t2
    assert "fwd_softclip" not in src and "bwd_softclip" not in src
    compile(src, "<grad>", "exec")


def test_forward_source_inlines_the_tangent_template():
    src = s2sad.source(uses_softclip, mode="forward")
    assert "custom_lib.softclip(" in src
    assert "softclip_slope(_t2)" in src                  # the tangent template's helper
    assert "_tape" not in src and "jvp_softclip" not in src
    src2 = s2sad.source(uses_softsign, mode="forward")
    # derived from the adjoint d[x] = d[z] / (...): the term dx / (...)
    assert "np.abs(" in src2 and "custom_lib.softsign(" in src2


@pytest.mark.parametrize("x, y", [(0.4, 0.7), (-1.2, 0.5), (2.0, -0.3)])
def test_softclip_gradients(x, y):
    gx, gy = s2sad.grad(uses_softclip, (0, 1))(x, y)
    slope = softclip_true_slope(x * y)
    assert gx == pytest.approx(slope * y, rel=1e-12)
    assert gy == pytest.approx(slope * x + 1.0, rel=1e-12)
    assert (gx, gy) == pytest.approx(numerical_grad(uses_softclip, (x, y), (0, 1)), rel=1e-6)


@pytest.mark.parametrize("x, y", [(0.4, 0.7), (-1.2, 0.5), (2.0, -0.3)])
def test_softclip_jvp(x, y):
    value, t = s2sad.jvp(uses_softclip, (0, 1))(x, y, 1.5, -0.5)
    assert value == pytest.approx(uses_softclip(x, y), rel=1e-14)
    slope = softclip_true_slope(x * y)
    assert t == pytest.approx(1.5 * slope * y - 0.5 * (slope * x + 1.0), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softclip_arrays_and_loops(seed):
    v = np.random.default_rng(seed).uniform(-2.0, 2.0, 5)
    g = s2sad.grad(softclip_array)(v)
    np.testing.assert_allclose(g, softclip_true_slope(v) * v + custom_lib.softclip(v),
                               rtol=1e-12)
    dv = np.random.default_rng(seed + 10).standard_normal(5)
    _, t = s2sad.jvp(softclip_array)(v, dv)
    assert t == pytest.approx(float(g @ dv), rel=1e-10)
    x = float(v[0]) / 2
    for n in (0, 1, 3):
        assert s2sad.grad(softclip_loop)(x, n) == pytest.approx(
            numerical_grad(softclip_loop, (x, n)), rel=1e-6, abs=1e-9)
        _, t = s2sad.jvp(softclip_loop)(x, n, 1.0)
        assert t == pytest.approx(s2sad.grad(softclip_loop)(x, n), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("x", [0.3, -1.5, 0.8])
def test_second_order_through_custom_rules(x):
    """grad of grad and hessian run forward/reverse mode over the inlined templates."""
    want = numerical_grad(s2sad.grad(softclip_loop), (x, 2))
    assert s2sad.grad(s2sad.grad(softclip_loop))(x, 2) == pytest.approx(want, rel=1e-6)
    assert s2sad.hessian(softclip_loop)(x, 2) == pytest.approx(want, rel=1e-6)
    assert s2sad.check_grads(uses_softclip, (x, 0.7), modes=("fwd", "rev"), order=2)


@pytest.mark.parametrize("x", [0.4, -0.9, 1.7])
def test_tangent_derived_from_elementwise_adjoint(x):
    want = 2.0 * x / (1.0 + abs(2.0 * x)) ** 2 + custom_lib.softsign(2.0 * x)
    assert s2sad.grad(uses_softsign)(x) == pytest.approx(want, rel=1e-12)
    value, t = s2sad.jvp(uses_softsign)(x, 2.0)
    assert value == pytest.approx(uses_softsign(x), rel=1e-14)
    assert t == pytest.approx(2.0 * want, rel=1e-12)
    v = np.array([x, -x / 3, 0.25])
    g = s2sad.grad(softsign_array)(v)
    np.testing.assert_allclose(g, 2 * custom_lib.softsign(v) / (1 + np.abs(v)) ** 2,
                               rtol=1e-12)
    _, t = s2sad.jvp(softsign_array)(v, np.ones(3))
    assert t == pytest.approx(float(np.sum(g)), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_argument_rule_with_broadcasting(seed):
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(-1.5, 1.5, 4), float(rng.uniform(0.5, 2.0))
    gx, gw = s2sad.grad(uses_bump, (0, 1))(x, w)
    e = np.exp(-x * x)
    np.testing.assert_allclose(gx, w * e * (1.0 - 2.0 * x * x), rtol=1e-12)
    assert isinstance(gw, float)
    assert gw == pytest.approx(float(np.sum(e * x)), rel=1e-12)
    dx, dw = rng.standard_normal(4), 0.7
    value, t = s2sad.jvp(uses_bump, (0, 1))(x, w, dx, dw)
    assert value == pytest.approx(uses_bump(x, w), rel=1e-14)
    assert t == pytest.approx(float(gx @ dx) + gw * dw, rel=1e-10)
    # w as an array too
    wv = rng.uniform(0.5, 2.0, 4)
    gx2, gw2 = s2sad.grad(uses_bump, (0, 1))(x, wv)
    np.testing.assert_allclose(gw2, e * x, rtol=1e-12)
    np.testing.assert_allclose(gx2, wv * e * (1.0 - 2.0 * x * x), rtol=1e-12)


def test_rule_primitive_runs_once_per_call():
    before = custom_lib._counter["calls"]
    assert s2sad.grad(uses_counting)(1.5) == pytest.approx(6.0 * 1.5 ** 2)
    assert custom_lib._counter["calls"] == before + 1


def test_nondiff_library_function():
    assert s2sad.grad(uses_step)(1.5) == pytest.approx(3.0)
    assert s2sad.grad(uses_step)(-1.5) == pytest.approx(0.0)
    assert s2sad.jvp(uses_step)(1.5, 1.0) == (pytest.approx(2.25), pytest.approx(3.0))


def test_function_without_rule_is_transformed_not_missing():
    assert s2sad.grad(uses_plain)(0.5) == pytest.approx(2.0 * (6.0 * 0.5 - 1.0))
    assert s2sad.jvp(uses_plain)(0.5, 2.0)[1] == pytest.approx(4.0 * (6.0 * 0.5 - 1.0))
    src = s2sad.source(uses_plain)
    assert "fwd_plain_poly" in src and "bwd_plain_poly" in src
    assert "jvp_plain_poly" in s2sad.source(uses_plain, mode="forward")


# ---------------------------------------------------------------------------
# check_grads against the rules


@pytest.mark.parametrize("x", [0.5, -1.3])
def test_check_grads_catches_a_wrong_adjoint_rule(x):
    # the adjoint rule is what reverse mode uses; grad's forward mode (one scalar
    # argument) uses the tangent rule, which is wrong another way here
    assert s2sad.grad(uses_wrong, mode="reverse")(x) == pytest.approx(4.0 * x + 1.0)
    assert s2sad.grad(uses_wrong)(x) == pytest.approx(3.0 * x + 1.0)
    with pytest.raises(AssertionError, match="reverse mode"):
        s2sad.check_grads(uses_wrong, (x,), modes=("rev",), order=1)


@pytest.mark.parametrize("x", [0.5, -1.3])
def test_check_grads_catches_a_wrong_tangent_rule(x):
    assert s2sad.jvp(uses_wrong)(x, 1.0)[1] == pytest.approx(3.0 * x + 1.0)
    with pytest.raises(AssertionError, match=r"forward mode \(jvp\)"):
        s2sad.check_grads(uses_wrong, (x,), modes=("fwd",), order=1)


def test_check_grads_passes_with_right_rules():
    v = np.array([0.3, -0.8, 1.2])
    assert s2sad.check_grads(softclip_array, (v,), modes=("fwd", "rev"), order=2)
    assert s2sad.check_grads(uses_bump, (v, 1.3), modes=("fwd", "rev"), order=2)
    assert s2sad.check_grads(uses_softsign, (0.6,), modes=("fwd", "rev"), order=1)


# ---------------------------------------------------------------------------
# MissingRuleError for C functions without a rule


def test_missing_rule_math_gamma():
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.grad(uses_gamma)(1.5)
    exc = info.value
    msg = str(exc)
    assert "no derivative rule for math.gamma" in msg
    assert "s2sad.adjoint(math.gamma)" in msg
    assert "nondiff" in msg
    assert exc.filename == HERE
    assert exc.lineno == line_of(uses_gamma, "math.gamma(x)")
    assert "return math.gamma(x) * 2.0" in msg           # the offending line is shown


def test_missing_rule_np_i0():
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.grad(uses_i0)(np.array([0.5, 1.0]))
    msg = str(info.value)
    assert "no derivative rule for np.i0" in msg
    assert "adjoint(np.i0)" in msg
    assert info.value.filename == HERE
    assert info.value.lineno == line_of(uses_i0, "np.i0(v)")


def test_missing_rule_in_forward_mode():
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.jvp(uses_gamma)(1.5, 1.0)
    assert "math.gamma" in str(info.value)
    assert info.value.lineno == line_of(uses_gamma, "math.gamma(x)")


def test_adjoint_only_rule_that_forward_mode_cannot_derive():
    v = np.array([0.3, 0.5, -1.0])
    total = float(np.sum(v))
    np.testing.assert_allclose(s2sad.grad(uses_times_total)(v), np.sum(v * v) + 2 * total * v,
                               rtol=1e-12)
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.jvp(uses_times_total)(v, np.ones(3))
    msg = str(info.value)
    assert "no derivative rule for custom_lib.times_total (forward mode)" in msg
    assert info.value.filename == HERE
    assert info.value.lineno == line_of(uses_times_total, "custom_lib.times_total(v)")


def test_forward_missing_rule_hint_mentions_tangent():
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.jvp(uses_times_total_hint)(np.array([0.3, 0.5]), np.ones(2))
    assert "(forward mode)" in str(info.value)
    assert "tangent(" in str(info.value)


def test_tangent_rule_fixes_forward_missing_rule():
    from s2sad.rules.core import TANGENTS
    assert custom_lib.times_total not in TANGENTS
    try:
        @s2sad.tangent(custom_lib.times_total)
        def times_total_tangent(z, x):
            d[z] = d[x] * np.sum(x) + x * np.sum(d[x])

        v = np.array([0.3, 0.5, -1.0])
        dv = np.array([1.0, -2.0, 0.5])
        value, t = s2sad.jvp(uses_times_total_fixed)(v, dv)
        assert value == pytest.approx(uses_times_total_fixed(v))
        assert t == pytest.approx(float(s2sad.grad(uses_times_total_fixed)(v) @ dv), rel=1e-12)
        assert "np.sum(dv)" in s2sad.source(uses_times_total_fixed, mode="forward", args=(v,))
    finally:
        TANGENTS.pop(custom_lib.times_total, None)


def uses_times_total(v):
    return np.sum(custom_lib.times_total(v) * v)


def uses_times_total_hint(v):
    return np.sum(custom_lib.times_total(v))


def uses_times_total_fixed(v):
    return np.sum(custom_lib.times_total(v) * v)


def test_registering_a_rule_fixes_missing_rule():
    """A rule for math.gamma registered here (digamma by series) makes grad work."""
    from s2sad.rules.core import RULES
    assert math.gamma not in RULES
    try:
        @s2sad.adjoint(math.gamma)
        def gamma_adjoint(z, x):
            d[x] = d[z] * z * _digamma(x)

        g = s2sad.grad(uses_gamma_again)(2.5)
        assert g == pytest.approx(numerical_grad(uses_gamma_again, (2.5,)), rel=1e-6)
    finally:
        RULES.pop(math.gamma, None)


def uses_gamma_again(x):
    return math.gamma(x) * 3.0


def _digamma(x):
    """psi(x) from the asymptotic series after shifting x up by recurrence."""
    acc = 0.0
    while x < 8.0:
        acc -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / (x * x)
    return acc + math.log(x) - 0.5 / x - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 / 252))


def _redeclared(x):
    return x * x                        # its rules below say what they say


def _through_redeclared(x):
    return _redeclared(x) * 2.0


def test_nondiff_drops_a_tangent_so_a_later_adjoint_rules_both_modes():
    """tangent(h), nondiff(h), adjoint(h): forward mode used the old tangent while
    reverse mode used the new adjoint (the two modes disagreed, silently)."""
    from s2sad.extend import adjoint, nondiff, tangent

    @tangent(_redeclared)
    def _old_tangent(z, x):
        d[z] = d[x] * 100.0

    nondiff(_redeclared)
    assert s2sad.grad(_through_redeclared, mode="reverse")(1.5) == 0.0
    assert s2sad.grad(_through_redeclared, mode="forward")(1.5) == 0.0

    @adjoint(_redeclared)
    def _new_adjoint(z, x):
        d[x] = d[z] * 2.0 * x

    for mode in ("reverse", "forward"):
        assert s2sad.grad(_through_redeclared, mode=mode)(1.5) == pytest.approx(6.0)
