"""Rules of plain Python: ``math.copysign``; ``+`` and ``*`` of lists and tuples
(concatenation and repetition, not arithmetic); zeros of items of nested lists and
tuples; powers at a zero base. Each pattern is checked against finite differences
(or analytic values where those cannot see it) in the three modes of ``grad``."""

from __future__ import annotations

import inspect
import itertools
import math
import typing

import numpy as np
import pytest
from gradcheck import assert_grad_matches, numerical_grad

import s2sad

MODES = ("auto", "reverse", "forward")


def check_second(f, args, wrt=0, abs=None):
    """The hessian's diagonal entry along ``wrt`` against central differences of the
    gradient."""
    want = numerical_grad(s2sad.grad(f, wrt), args, wrt)
    assert s2sad.hessian(f, wrt=wrt)(*args) == pytest.approx(want, rel=1e-6, abs=abs)


def check(f, args, wrt=0, want=None, mode="auto"):
    got = s2sad.grad(f, wrt=wrt, mode=mode)(*args)
    if want is None:
        want = numerical_grad(f, args, wrt)
    assert np.allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                       rtol=1e-6, atol=1e-6), (mode, got, want)
    return got


# -- math.copysign ---------------------------------------------------------------


def copysign_xy(x, y):
    return math.copysign(x, y) * y


def copysign_only(x, y):
    return math.copysign(x, y)


def copysign_loop(x, y):
    s = 0.0
    for k in range(3):
        s = s + math.copysign(x * x - k, y - k)
    return s


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x, y", [(1.5, -2.3), (-1.5, -2.3), (1.5, 2.3), (-0.7, 0.4)])
def test_copysign(mode, x, y):
    check(copysign_xy, (x, y), (0, 1), mode=mode)
    check(copysign_loop, (x, y), (0, 1), mode=mode)
    # d/dx copysign(x, y) = sign(x) * sign(y); y only gives the sign
    assert s2sad.grad(copysign_only, mode=mode)(x, y) == \
        math.copysign(1.0, x) * math.copysign(1.0, y)
    assert s2sad.grad(copysign_only, wrt=1, mode=mode)(x, y) == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_copysign_kink(mode):
    assert s2sad.grad(copysign_only, mode=mode)(0.0, -2.0) == 0.0     # as abs at 0


# -- + and * of lists and tuples --------------------------------------------------


def concat_list(x):
    lst = [2.0] + [x]
    return lst[0] * x + lst[1] * lst[1]


def concat_tuple(x, y):
    t = (y,) + (x,)
    return t[0] * 10.0 + t[1]


def concat_constant_first(x, y):
    t = (3.0, 4.0) + (x, y)
    return t[2] * t[3] + t[0] * x


def concat_both_active(x, y):
    t = [x, x * y] + [y * y]
    return t[0] * t[1] + t[2] * x


def repeat_list(x):
    lst = [x] * 3
    return lst[0] + lst[2] * lst[1]


def repeat_left(x, y):
    t = 2 * (x, y)
    return t[0] * t[3] + t[2]


def concat_loop(x, y):
    acc = []
    for k in range(3):
        acc = acc + [x * k + y]
    s = 0.0
    for v in acc:
        s = s + v * v
    return s


def concat_sum(x, y):
    return sum([x, y] + [x * y]) + sum((x,) * 4)


SEQUENCE_CASES = [
    (concat_list, (1.3,), 0, 2.0 + 2 * 1.3),
    (concat_tuple, (1.3, 0.7), (0, 1), (1.0, 10.0)),
    (concat_constant_first, (1.3, 0.7), (0, 1), (0.7 + 3.0, 1.3)),
    (concat_both_active, (1.3, 0.7), (0, 1), None),
    (repeat_list, (1.3,), 0, 1.0 + 2 * 1.3),
    (repeat_left, (1.3, 0.7), (0, 1), (0.7 + 1.0, 1.3)),
    (concat_loop, (1.3, 0.7), (0, 1), None),
    (concat_sum, (1.3, 0.7), (0, 1), None),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, args, wrt, want", SEQUENCE_CASES,
                         ids=[c[0].__name__ for c in SEQUENCE_CASES])
def test_sequence_concatenation_and_repetition(mode, f, args, wrt, want):
    check(f, args, wrt, mode=mode)
    if want is not None:
        check(f, args, wrt, want=want, mode=mode)


def concat_arrays_in_tuple(a, x):
    t = (a * 2.0,) + (a * x, x)
    return np.sum(t[0] * t[1]) + t[2] * np.sum(t[1])


@pytest.mark.parametrize("mode", ("auto", "reverse"))
def test_concatenated_tuple_of_arrays(mode):
    a = np.array([0.5, -1.0, 2.0])
    for wrt in (0, 1):
        check(concat_arrays_in_tuple, (a, 1.3), wrt, mode=mode)


# -- items of nested lists and tuples that carry no derivative ----------------------


def nested_loop(x, y):
    s = 0.0
    for a, b in [(x, y), (1.0, 2.0)]:
        s = s + a * b
    return s


def nested_constant_item(x):
    pairs = [(x, x * x), (3.0, 4.0)]
    return pairs[1][0] * x + pairs[0][1]


def nested_active_item_unread(x):
    pairs = [(x, x * x), (3.0, x)]
    return pairs[1][0] * x


def nested_arrays(a, b):
    pairs = [a * 1.0, b]
    return np.sum(pairs[1] * pairs[1])


@pytest.mark.parametrize("mode", MODES)
def test_nested_sequences(mode):
    check(nested_loop, (1.3, 0.4), 0, want=0.4, mode=mode)
    check(nested_loop, (1.3, 0.4), (0, 1), mode=mode)
    check(nested_constant_item, (1.3,), 0, want=3.0 + 2 * 1.3, mode=mode)
    check(nested_active_item_unread, (1.3,), 0, want=3.0, mode=mode)


@pytest.mark.parametrize("mode", ("auto", "reverse"))
def test_nested_array_item_gets_an_array_zero(mode):
    a, b = np.ones(3), np.array([1.0, 2.0])
    ga, gb = s2sad.grad(nested_arrays, wrt=(0, 1), mode=mode)(a, b)
    assert isinstance(ga, np.ndarray) and ga.shape == (3,) and not ga.any()
    assert np.allclose(gb, 2 * b)


# -- powers at a zero base ------------------------------------------------------------


def poly(x):
    c = [1.0, 2.0, 3.0]
    s = 0.0
    for i in range(3):
        s = s + c[i] * x ** i
    return s


def mpow(x):
    return math.pow(x, 2.0) + math.pow(x, 0.0)


def pw(x, y):
    return x ** y


def mpw(x, y):
    return math.pow(x, y)


def square(x):
    return x ** 2 + 2.0 ** x


@pytest.mark.parametrize("mode", MODES)
def test_power_at_zero_base(mode):
    check(poly, (0.0,), want=2.0, mode=mode)
    check(poly, (0.7,), want=2.0 + 6 * 0.7, mode=mode)
    check(mpow, (0.0,), want=0.0, mode=mode)
    check(mpow, (1.3,), want=2.6, mode=mode)
    for f in (pw, mpw):
        check(f, (0.0, 2.0), 1, want=0.0, mode=mode)         # 0 ** y = 0 for y > 0
        check(f, (0.0, 2.0), 0, want=0.0, mode=mode)
        check(f, (0.0, 1.0), 0, want=1.0, mode=mode)
        check(f, (0.0, 0.0), 0, want=0.0, mode=mode)         # x ** 0 = 1 everywhere
        check(f, (1.7, 2.5), (0, 1), mode=mode)
        check(f, (1.7, 0.0), (0, 1), mode=mode)
    # an infinite slope: 0 < y < 1
    assert s2sad.grad(pw, mode=mode)(0.0, 0.5) == math.inf
    check(square, (0.0,), want=math.log(2.0), mode=mode)


def test_power_hessians():
    assert np.isclose(s2sad.hessian(pw)(1.7, 3.0), 6 * 1.7)
    assert np.isclose(s2sad.hessian(pw)(0.0, 2.0), 2.0)
    assert np.isclose(s2sad.hessian(pw)(0.0, 1.0), 0.0)
    h = s2sad.hessian(pw, wrt=(0, 1))(1.7, 3.0)
    log = math.log(1.7)
    want = [[6 * 1.7, 1.7 ** 2 * (1 + 3 * log)], [1.7 ** 2 * (1 + 3 * log), 1.7 ** 3 * log ** 2]]
    assert np.allclose(np.asarray(h, dtype=float), want)
    assert np.isclose(s2sad.grad(s2sad.grad(pw))(1.7, 3.0), 6 * 1.7)


def test_power_code_of_constant_exponents_is_plain():
    src = s2sad.source(square, args=(1.0,), mode="reverse")
    assert "pow_dx" not in src and "pow_dy" not in src
    src = s2sad.source(pw, wrt=(0, 1), args=(1.0, 2.0), mode="reverse")
    assert "pow_dx(x, y)" in src and "pow_dy(" in src


def _powers_with_a_counted_exponent(x):
    s = 0.0
    for k in range(4):
        s = s + x ** k
    return s


def _builtin_pow(x):
    return pow(x, 2) + pow(x, 0.5)


def _stores_into_a_dict(x):
    d = {}
    d["k"] = x * x          # was refused; a dict with constant keys holds derivatives
    return d["k"] + 1.0


def _dict_of_a_computed_key(x, name):
    d = {name: x * x}       # <- a key known when the code runs only
    return d[name] + 1.0


def test_second_derivative_of_a_power_with_exponent_zero_at_zero():
    # d2/dx2 of 1 + x + x^2 + x^3 at 0 is 2; the k = 0 term gave 0 * inf = nan
    for h in (s2sad.hessian(_powers_with_a_counted_exponent),
              s2sad.grad(s2sad.grad(_powers_with_a_counted_exponent)),
              s2sad.grad(s2sad.grad(_powers_with_a_counted_exponent, mode="reverse"),
                         mode="reverse")):
        assert float(h(0.0)) == 2.0
        assert float(h(0.5)) == pytest.approx(2.0 + 6.0 * 0.5, rel=1e-12)


@pytest.mark.parametrize("mode", ["auto", "reverse", "forward"])
def test_builtin_pow_has_the_rules_of_the_operator(mode):
    x = 1.7
    assert s2sad.grad(_builtin_pow, mode=mode)(x) == pytest.approx(
        2 * x + 0.5 / math.sqrt(x), rel=1e-12)


@pytest.mark.parametrize("mode", ["auto", "reverse"])
def test_a_dict_of_a_computed_key_is_refused_at_its_line(mode):
    assert s2sad.grad(_stores_into_a_dict, mode=mode)(1.3) == pytest.approx(2.6)
    with pytest.raises(s2sad.UnsupportedSyntaxError, match="into a dict") as info:
        s2sad.grad(_dict_of_a_computed_key, mode=mode)(1.3, "k")
    assert info.value.filename == __file__
    assert info.value.lineno == _dict_of_a_computed_key.__code__.co_firstlineno + 1


def _concat_items_of_a_list_of_lists(x, y):
    st = [[x, y], [y, x]]
    p = st[0] + st[1]                # [x, y, y, x]
    return p[0] * p[3] + p[1] * p[2]


def _concat_popped_lists(x, y):
    st = [[x], [y]]
    p = st.pop() + st.pop()          # [y, x]
    return p[0] * 3.0 + p[1] * p[1]


def _repeat_a_popped_list(x, y):
    st = [[x, y], [y, x]]
    p = st.pop() * 2                 # [y, x, y, x]
    return p[0] * p[3] + p[2]


def _add_items_of_a_list_of_arrays(x, y):
    st = [x * 2.0, x * y]
    return np.sum(st[0] + st[1])     # arithmetic: the items are arrays


@pytest.mark.parametrize("f, args, want", [
    (_concat_items_of_a_list_of_lists, (1.3, -0.7), (2.6, -1.4)),
    (_concat_popped_lists, (1.3, -0.7), (2.6, 3.0)),
    (_repeat_a_popped_list, (1.3, -0.7), (-0.7, 2.3)),
])
@pytest.mark.parametrize("mode", ["auto", "reverse", "forward"])
def test_plus_and_times_of_items_that_may_be_lists(f, args, want, mode):
    # told apart at run time: concatenation of the items of a list of lists was taken
    # for arithmetic (silently wrong for one-item lists, a bare ValueError otherwise)
    got = s2sad.grad(f, (0, 1), mode=mode)(*args)
    assert got == (pytest.approx(want[0], rel=1e-12), pytest.approx(want[1], rel=1e-12))


@pytest.mark.parametrize("mode", ["auto", "reverse"])
def test_plus_of_items_of_a_list_of_arrays_stays_arithmetic(mode):
    x = np.array([0.3, -0.2, 0.5])
    gx, gy = s2sad.grad(_add_items_of_a_list_of_arrays, (0, 1), mode=mode)(x, 1.5)
    np.testing.assert_allclose(gx, np.full(3, 2.0 + 1.5), rtol=1e-12)
    assert gy == pytest.approx(np.sum(x), rel=1e-12)


def _list_item_times_an_array(x, y):
    p = ([x, x * y], np.array([1.0, y]))
    a, b = p                         # a list times an array: NumPy's product, no repetition
    return np.sum(a * b) + np.sum((a + a)[1] * b) + np.sum(b + a)


def _list_times_an_array(x, y):
    a = [x, 2.0 * y]                 # surely a list: with an array NumPy's arithmetic
    return np.sum(a * np.array([1.0, y])) + np.sum(a + np.array([0.5, x])) + sum(a * 2)


def _items_of_rows(x, y):
    rows = [[x, 2.0 * y], [x * y, 1.0]]
    s = 0.0
    for r in rows:                   # r + r joins, r * 2 repeats
        s = s + r[0] * r[1] + (r + r)[2] * x + sum(r * 2) * r[1]
    return s


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x, y", [(0.7, 1.3), (-1.3, 0.4)])
def test_items_that_may_be_lists_times_arrays_and_second_order(mode, x, y):
    # a list times an array was taken for a repetition: the forward gradient was
    # silently wrong, the reverse one a ValueError (an IndexError for a list known to
    # be one, taken for a concatenation); reverse over reverse through the
    # adjoints of + and * of such items was silently wrong (a list adjoint summed with +)
    for f in (_list_item_times_an_array, _items_of_rows, _list_times_an_array):
        check(f, (x, y), (0, 1), mode=mode)
        g = s2sad.grad(f, mode=mode)
        want = (g(x + 1e-5, y) - g(x - 1e-5, y)) / 2e-5
        assert s2sad.grad(g, mode=mode)(x, y) == pytest.approx(want, rel=1e-6, abs=1e-8)
        check_second(f, (x, y))


def _drops_the_top_of_a_stack(x, y, n):
    st = [x, y]
    for _ in range(n):
        st.append(st[-1] * x + st[-2])
        st.pop()                    # the item dropped: a statement, not a value
        st.append(st[-1] * y)
    top = st.pop()
    st.pop()
    return top * st[-1] + st[0]


@pytest.mark.parametrize("mode", ["auto", "reverse", "forward"])
@pytest.mark.parametrize("x, y, n", [(1.1, 0.7, 3), (-0.4, 1.3, 2), (0.9, -0.5, 4)])
def test_a_bare_pop_drops_an_item_in_both_modes(x, y, n, mode):
    # was refused as a call for its side effects (st.pop) in both modes
    got = s2sad.grad(_drops_the_top_of_a_stack, (0, 1), mode=mode)(x, y, n)
    want = numerical_grad(_drops_the_top_of_a_stack, (x, y, n), (0, 1))
    assert got == pytest.approx(want, rel=1e-6)


# -- max and min of one sequence -----------------------------------------------


def max_of_comprehension(x, ts):
    ys = [math.exp(-x * t) for t in ts]
    return sum(y * y for y in ys) + max(ys)


def min_max_of_displays(x, y):
    return min([x * y, x + y, 2.0]) + max((x, y * y))


def max_min_of_array(v):
    return max(v) * min(v) + max(v * v)


def spread_of_appended(x):
    ys = []
    for i in range(4):
        ys.append(math.sin(x * i))
    return max(ys) - min(ys)


def both_maxes(x, y):
    return max([x, y]) + max(x, y)


@pytest.mark.parametrize("mode", MODES)
def test_max_and_min_of_one_sequence(mode):
    """max(xs) and min(xs) of one list, tuple or 1-D array were refused (a MissingRuleError
    'max called this way'); the adjoint goes to the items equal to the result."""
    check(max_of_comprehension, (0.3, [0.1, 0.5, 1.0]), mode=mode)
    check(max_of_comprehension, (-0.3, [0.1, 0.5, 1.0]), mode=mode)
    check(min_max_of_displays, (0.3, 0.7), (0, 1), mode=mode)
    check(min_max_of_displays, (2.3, 1.7), (0, 1), mode=mode)
    check(spread_of_appended, (0.4,), mode=mode)
    check(spread_of_appended, (1.4,), mode=mode)
    if mode != "forward":
        check(max_min_of_array, (np.array([0.3, -0.8, 0.5, 0.1]),), mode=mode)
        # ties split the adjoint evenly, as max(x, y) does
        check(max_min_of_array, (np.array([1.0, 3.0, 3.0]),), want=[3.0, 3.5, 3.5], mode=mode)
    # at a tie both forms split: (0.5 + 0.5, 0.5 + 0.5); the one-sequence tangent template
    # must not stand in for max(x, y) in forward mode (it gave (1.0, 0.0) for max(x, y))
    check(both_maxes, (1.0, 1.0), (0, 1), want=(1.0, 1.0), mode=mode)
    check(both_maxes, (1.0, 2.0), (0, 1), want=(0.0, 2.0), mode=mode)


def test_max_of_one_sequence_second_order():
    h = s2sad.hessian(spread_of_appended)(0.4)
    g = s2sad.grad(spread_of_appended)
    assert h == pytest.approx((g(0.4 + 1e-6) - g(0.4 - 1e-6)) / 2e-6, rel=1e-5)
    v = np.array([0.3, -0.8, 0.5, 0.1])
    want = np.zeros((4, 4))
    want[1, 2] = want[2, 1] = 1.0       # max * min = v2 v1; max(v * v) = v1^2
    want[1, 1] = 2.0
    np.testing.assert_allclose(s2sad.hessian(max_min_of_array)(v), want, atol=1e-12)


# -- math.fsum and math.fmod --------------------------------------------------------


def fsum_of_display(x, y):
    return math.fsum([x, y, x * y, 2.0])


def fmod_times(x, y):
    return math.fmod(x * 3.0, y) * x
# -- max and min of one iterable --------------------------------------------------
# were a MissingRuleError ("max called this way (missing a required argument: 'y')")


def max_of_list(x, y):
    return max([x, y * 2.0, 1.0]) * x


def min_of_tuple(x, y):
    return min((x, y, x * y))


def min_of_generator(x, y):
    return min(x * i - y * i * i for i in range(1, 5))


def max_plus_min_of_a_grown_list(x, y):
    items = [x, y]
    items.append(x * y)
    return max(items) + min(items)


def max_of_array(v):
    return max(v * v)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, args", [
    (max_of_list, (1.5, 0.3)), (max_of_list, (0.3, 1.2)), (max_of_list, (0.3, 0.2)),
    (min_of_tuple, (1.5, 0.3)), (min_of_tuple, (-1.5, 2.0)),
    (min_of_generator, (1.5, 1.0)), (min_of_generator, (4.5, 0.5)),
    (max_plus_min_of_a_grown_list, (1.5, 2.5)), (max_plus_min_of_a_grown_list, (-1.5, 2.5)),
])
def test_max_and_min_of_an_iterable(mode, f, args):
    for wrt in (0, 1):
        check(f, args, wrt, mode=mode)


def test_max_of_an_iterable_ties_and_arrays():
    def tie(x):
        return max([x, x, 0.0])
    assert check(tie, (1.5,), want=1.0, mode="reverse") == 1.0   # the two halves add up
    v = np.array([0.5, -2.0, 1.0])
    check(max_of_array, (v,), want=[0.0, -4.0, 0.0])
    # second order (forward over reverse): max(...) * x = x * x here
    assert s2sad.hessian(max_of_list)(1.5, 0.3) == pytest.approx(2.0)
    s2sad.check_grads(max_plus_min_of_a_grown_list, (1.5, 2.5))


# -- math.fsum ----------------------------------------------------------------------
# was a MissingRuleError


def fsum_of_list(x, y):
    return math.fsum([x, x * y, 0.5]) * y


@pytest.mark.parametrize("mode", MODES)
def test_fsum(mode):
    for wrt in (0, 1):
        check(fsum_of_list, (1.5, 0.7), wrt, mode=mode)
    v = np.array([0.5, -1.0])
    check(fsum_of_array, (v,), want=2 * v)
    assert s2sad.hessian(fsum_of_list, wrt=0)(1.5, 0.7) == pytest.approx(0.0)


def fsum_of_array(v):
    return math.fsum(v * v)


@pytest.mark.parametrize("mode", MODES)
def test_fsum_and_fmod(mode):
    """math.fsum and math.fmod had no rule (MissingRuleError)."""
    check(fsum_of_display, (0.3, 0.7), (0, 1), want=(1.7, 1.3), mode=mode)
    for x in (0.9, -0.9, 2.3):
        check(fmod_times, (x, 0.7), (0, 1), mode=mode)
    if mode != "forward":
        check(fsum_of_array, (np.array([1.0, -2.0]),), want=[2.0, -4.0], mode=mode)
# -- math.fmod (was a MissingRuleError) -----------------------------------------------


def fmod_xy(x, y):
    return math.fmod(x * x, y) * y


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x, y", [(1.5, 0.7), (-1.7, 0.6), (2.3, -0.9)])
def test_fmod(mode, x, y):
    for wrt in (0, 1):
        check(fmod_xy, (x, y), wrt, mode=mode)


# -- math.asinh, acosh, atanh, erfc, ldexp, cbrt, exp2 (were MissingRuleError) --------


def inverse_hyperbolic(x, y):
    return math.asinh(x * y) + math.acosh(1.5 + x * x) * math.atanh(y / 2.0)


def erfc_ldexp(x, y):
    out = math.erfc(x * y) + math.ldexp(x * y, 3)
    if hasattr(math, "cbrt"):           # Python 3.11
        out = out + math.cbrt(x + 2.0 * y) * math.exp2(x - y)
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [inverse_hyperbolic, erfc_ldexp])
@pytest.mark.parametrize("args", [(0.3, 0.7), (-1.2, 1.1), (2.0, -0.5)])
def test_more_math_functions(mode, f, args):
    for wrt in (0, 1):
        check(f, args, wrt, mode=mode)


@pytest.mark.parametrize("f", [inverse_hyperbolic, erfc_ldexp])
def test_more_math_functions_second_order(f):
    for wrt in (0, 1):
        check_second(f, (0.3, 0.7), wrt)


# -- math.prod (was a MissingRuleError) ------------------------------------------------


def prod_of_display(x, y):
    return math.prod([x, y, x * y, 2.0]) + math.prod((x, 0.0, y))


def prod_with_start(x, y):
    xs = (x, 2.0 * x, x * 3.0)
    return math.prod(xs, start=y) * y


def prod_with_a_zero_item(x, y):
    return math.prod([x - 1.0, y, x])       # exact at x = 1 (no division by the item)


def prod_of_array(v):
    return math.prod(v * v)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [prod_of_display, prod_with_start, prod_with_a_zero_item])
@pytest.mark.parametrize("args", [(0.3, 0.7), (-1.2, 1.1), (1.0, -0.5)])
def test_prod(mode, f, args):
    for wrt in (0, 1):
        check(f, args, wrt, mode=mode)


def test_prod_at_a_zero_item_and_of_arrays():
    # d/dx of (x - 1) y x at x = 1 is y: only the zero item's own term is left
    assert s2sad.grad(prod_with_a_zero_item)(1.0, -0.5) == -0.5
    v = np.array([0.5, -2.0, 1.5])
    want = 2.0 * np.prod(v * v) / v
    check(prod_of_array, (v,), want=want, mode="reverse")
    check(prod_of_array, (np.array([0.5, 0.0, 1.5]),), mode="reverse")


@pytest.mark.parametrize("f", [prod_of_display, prod_with_start, prod_with_a_zero_item])
@pytest.mark.parametrize("args", [(0.3, 0.7), (1.0, -0.5)])
def test_prod_second_order(f, args):
    for wrt in (0, 1):
        check_second(f, args, wrt, abs=1e-7)


# -- list(x) and tuple(x) (were MissingRuleError) -------------------------------------


def list_of_a_generator(x):
    ys = list(math.sin(x * i) for i in range(3))
    return ys[1] + ys[2] * x


def tuple_of_a_generator(x):
    ys = tuple(x * i for i in range(3))
    return ys[1] * ys[2]


def list_of_a_list(x):
    zs = [x, 2.0 * x]
    ys = list(zs)
    ys.append(ys[0] * ys[1])
    return sum(ys) * ys[0]


def tuple_of_a_tuple(x):
    ys = tuple((x, x * x))
    return ys[0] * ys[1]


def sum_of_list_of_generator(x):
    return sum(list(x * i * i for i in range(4)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [list_of_a_generator, tuple_of_a_generator, list_of_a_list,
                               tuple_of_a_tuple, sum_of_list_of_generator])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_list_and_tuple_of_values(mode, f, x):
    check(f, (x,), mode=mode)
    check_second(f, (x,))


def list_of_an_array(v):
    ys = list(v * v)
    return ys[0] * ys[2] + sum(ys)


def tuple_of_rows(m):
    rows = tuple(m)
    return np.sum(rows[0] * rows[1])


def test_list_and_tuple_of_arrays():
    v = np.array([0.5, -1.0, 2.0])
    # the adjoints of the list's items add up (add_adjoints), never concatenate
    check(list_of_an_array, (v,), want=[2 * 0.5 * 4.0 + 1.0, -2.0, 2 * 2.0 * 0.25 + 4.0])
    m = np.arange(6.0).reshape(2, 3)
    check(tuple_of_rows, (m,), want=m[::-1])
    check(list_of_an_argument, ([0.5, 1.5],), want=[0.5 + 2.0, 0.5], mode="reverse")


def list_of_an_argument(xs):
    ys = list(xs)
    return sum(ys) * ys[0]


# -- map(f, ...) of a named function and sorted(x) (were MissingRuleError) -------------


def squared(t):
    return t * t


def map_of_functions(x):
    def cube(t):
        return t * t * t
    scale = lambda t: t * x     # noqa: E731 - a lambda bound to a name, as users write
    return (sum(map(math.sin, [x, 2.0 * x])) + sum(map(squared, (x, x + 1.0)))
            + sum(map(cube, [x, 2.0])) * sum(map(scale, [x, 3.0])))


def map_of_two_sequences(x, y):
    return sum(map(math.atan2, [x, y], [y, x * y])) + list(map(abs, (x, -x * 3.0)))[1]


def sorted_list(x):
    ys = sorted([3.0 * x, x * x, 1.0])
    return ys[0] * ys[2] + ys[1]


def sorted_reversed(x):
    ys = sorted((x, -x, x * x), reverse=True)
    return ys[0] * 2.0 + ys[1] * ys[2]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [0.7, -1.6, 2.5])
def test_map_and_sorted(mode, x):
    for f in (map_of_functions, sorted_list, sorted_reversed):
        check(f, (x,), mode=mode)
    for wrt in (0, 1):
        check(map_of_two_sequences, (x, 1.3), wrt, mode=mode)


@pytest.mark.parametrize("x", [0.7, -1.6, 2.5])
def test_map_and_sorted_second_order(x):
    for f in (map_of_functions, sorted_list, sorted_reversed):
        check_second(f, (x,))


def map_of_lambdas(a, xs):
    ys = list(map(lambda v: math.sin(a * v), xs))
    x = sum(map(lambda x: x * x * a, xs))           # the lambda's x is not the caller's
    return ys[0] + ys[-1] * max(map(lambda u, w: u * w * a, xs, ys)) + x * a


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("a", [0.7, -1.6, 2.5])
def test_map_of_a_lambda(mode, a):
    """map(lambda v: e, xs) is (e for v in xs) (was UnsupportedSyntaxError: lambda)."""
    check(map_of_lambdas, (a, [1.0, 2.0, -0.5]), mode=mode)
    check_second(map_of_lambdas, (a, [1.0, 2.0]))


def test_map_of_a_lambda_with_a_default_is_refused():
    def f(a, xs):
        return sum(map(lambda v, k=2.0: a * v * k, xs))
    with pytest.raises(s2sad.UnsupportedSyntaxError, match="lambda"):
        s2sad.grad(f)(1.0, [1.0])


def sorted_array(v):
    ys = sorted(v * v)
    return ys[0] + 3.0 * ys[-1]


def test_sorted_of_an_array_and_ties():
    v = np.array([0.5, -2.0, 1.5])
    check(sorted_array, (v,), want=[1.0, -12.0, 0.0])
    np.testing.assert_allclose(s2sad.hessian(sorted_array)(v), np.diag([2.0, 6.0, 0.0]))

    def tie(x, y):
        ys = sorted([x, y])         # x == y: sorted keeps x first
        return ys[0] * 2.0 + ys[1]
    assert s2sad.grad(tie, (0, 1), mode="reverse")(1.0, 1.0) == (2.0, 1.0)
    assert s2sad.grad(tie, (0, 1), mode="forward")(1.0, 1.0) == (2.0, 1.0)


# -- sorted, min and max with key= (were MissingRuleError): the keys only order --------


def weight(p):
    try:                        # run as it is, never read by s2sad: anything Python runs
        return p[1]
    except TypeError:
        return 0.0


def score(t):
    return t * t - 3.0 * t


def sorted_by_abs(v):
    ys = sorted(v, key=abs)
    return ys[0] * 2.0 + ys[1] * ys[2] ** 2


def keyed_scalars(x):
    ys = sorted([x, -2.0 * x, x * x - 1.0], key=lambda t: t * t, reverse=True)
    return ys[0] + 3.0 * ys[1] * ys[2] + max(x, 1.0 - x, key=score) ** 3


def keyed_pairs(v, w):
    def neg_first(p):
        return -p[0]
    pairs = sorted(zip(v, w), key=weight, reverse=True)
    rows = sorted([(v[0], w[2]), (v[1], w[0]), (v[2], w[1])], key=neg_first)
    return pairs[0][0] * pairs[1][0] ** 2 + rows[0][1] * rows[2][0] \
        + min(v * w, key=lambda t: abs(t - 0.5)) ** 2


def lambda_keys_in_tests(x, y):
    L = [x, y, 0.3]
    s = 0.0
    while s < 1.0 and min(L, key=lambda t: (t - 0.3) ** 2) < 0.5:
        s = s + 0.4 + 0.1 * x
    if max(L, key=lambda t: -t) > 0.0:
        s = s * y
    return (x if sorted(L, key=lambda t: abs(t))[0] < 0.2 else y) * s


def keyed_rows(m):
    rows = sorted(m, key=lambda r: r[1])
    return np.sum(rows[0] * np.arange(3.0)) + np.sum(rows[-1] ** 2) + max(m[0], key=abs) ** 3


def sorted_pairs_read_twice(v):
    ps = list(zip(v, v ** 2))
    qs = sorted(ps)
    rs = sorted(ps, key=lambda p: -p[1])
    return qs[0][0] * qs[2][1] + rs[0][0] + sum(a * b for a, b in ps)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [0.7, -1.6, 2.5])
def test_keyed_sorted_min_max_of_scalars(mode, x):
    check(keyed_scalars, (x,), mode=mode)
    check_second(keyed_scalars, (x,))


@pytest.mark.parametrize("v, w", [([1.0, -3.0, 2.0], [0.3, 0.1, 0.2]),
                                  ([0.5, 1.7, -2.2], [0.1, 0.4, -0.2]),
                                  ([2.5, 0.2, 1.1], [-1.0, 2.0, 0.5])])
def test_keyed_sorted_min_max_of_arrays(v, w):
    v, w = np.array(v), np.array(w)
    check(sorted_by_abs, (v,))
    check(keyed_pairs, (v, w), 0)
    check(keyed_pairs, (v, w), 1)
    # the adjoint of a pair sorted_adjoint leaves out was an array of zeros, which
    # add_adjoints added to each item of the pair's other adjoint (ValueError)
    check(sorted_pairs_read_twice, (v,))
    m = np.concatenate([v, w, v * w - 1.0]).reshape(3, 3)
    check(keyed_rows, (m,))
    h = s2sad.hessian(sorted_by_abs)(v)         # ys[0] * 2 + ys[1] * ys[2] ** 2
    order = np.argsort(np.abs(v), kind="stable")
    want = np.zeros((3, 3))
    want[order[1], order[2]] = want[order[2], order[1]] = 2 * v[order[2]]
    want[order[2], order[2]] = 2 * v[order[1]]
    np.testing.assert_allclose(h, want)
    gradient = s2sad.grad(keyed_pairs)
    rows = [numerical_grad(lambda v, w, i=i: gradient(v, w)[i], (v, w)) for i in range(3)]
    np.testing.assert_allclose(s2sad.hessian(keyed_pairs)(v, w), rows, rtol=1e-6, atol=1e-6)


def keyed_row_doubled_in_place(m):
    rows = sorted(m, key=lambda r: r[0])
    first = rows[0]
    first *= 2.0            # the very row of m: changes m, read later
    return np.sum(m * m) + np.sum(first)


def test_keyed_sorted_holds_the_items_themselves():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(keyed_row_doubled_in_place)(np.arange(4.0).reshape(2, 2))
    assert info.value.lineno == keyed_row_doubled_in_place.__code__.co_firstlineno + 3
    assert "first *= ... also changes m" in str(info.value)


def test_keyed_ties_keep_the_first():
    def tie(x, y):
        ys = sorted([x, y], key=abs)        # |x| == |y|: sorted keeps x first
        return ys[0] * 2.0 + ys[1] + max([x, y], key=abs) * 5.0 + min(y, x, key=abs) * 7.0
    for mode in ("reverse", "forward"):
        assert s2sad.grad(tie, (0, 1), mode=mode)(1.0, -1.0) == (2.0 + 5.0, 1.0 + 7.0)


def min_max_default(x):
    hits = [v * x for v in (1.0, -2.0, 3.0) if v * x > 1.0]
    nothing = [v for v in hits if v > 100.0]
    return min(hits, key=abs, default=x) ** 2 + max(nothing, default=x * x) * x \
        + max((v * v for v in hits), default=-x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [0.3, 1.5, -0.8])
def test_min_max_with_default(mode, x):
    # default= was a MissingRuleError that blamed key=; the default is the value when
    # the items are none (x = 0.3: no hits)
    check(min_max_default, (x,), mode=mode)
    check_second(min_max_default, (x,))
    hits = [v * x for v in (1.0, -2.0, 3.0) if v * x > 1.0]
    d = 3 * x * x + (2 * min(hits) ** 2 / x + 2 * max(hits) ** 2 / x    # (h = c x)
                     if hits else 2 * x - 1)
    assert s2sad.grad(min_max_default, mode=mode)(x) == pytest.approx(d, rel=1e-12)


# -- starred targets: a, *rest = value (were refused) -----------------------------------


def star_first(x):
    a, *rest = [x, x * 2.0, x * 3.0]
    return a * sum(rest)


def star_last(x):
    *init, last = (x, x * x, 3.0)
    return sum(init) * last + len(init)


def star_middle(x):
    a, *mid, b, c = [x, 2.0, x * x, 4.0, x]
    return a * b * c + sum(mid) * x


def star_of_a_list(x):
    head, *tail = [x * i for i in range(1, 5)]
    return head + math.prod(tail)


def star_empty(x):
    a, *rest = [x * x]
    return a + sum(rest) + len(rest)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [star_first, star_last, star_middle, star_of_a_list, star_empty])
@pytest.mark.parametrize("x", [0.7, -1.2])
def test_starred_targets(mode, f, x):
    check(f, (x,), mode=mode)
    check_second(f, (x,))


def star_of_an_array(v):
    first, *others = v * v
    return first * sum(others)


def test_starred_target_of_an_array():
    v = np.array([0.5, -2.0, 1.5])
    check(star_of_an_array, (v,), want=[2 * 0.5 * 6.25, 0.25 * 2 * -2.0, 0.25 * 2 * 1.5])


# -- list(zip(...)), list(enumerate(...)), list(reversed(...)) (were MissingRuleError) --


def list_of_zip(x):
    pairs = list(zip([x, 2.0 * x], [x * x, 3.0]))
    return pairs[0][0] * pairs[1][1] + pairs[0][1]


def tuple_of_zip(x):
    ys = tuple(zip([x, 2.0 * x], (x * x, 3.0)))
    return ys[1][0] * ys[0][1]


def list_of_reversed(x):
    ys = list(reversed([x, x * x, 2.0]))
    return ys[0] * ys[1]


def list_of_enumerate(x):
    ys = list(enumerate([x, 2.0 * x]))
    return ys[1][1] * 3.0 + ys[1][0]


def comprehension_of_pairs(x):
    # only the second item of each pair is read: the first pair's adjoint stays the
    # 0.0 that stands for a zero of any structure (the reverse sweep indexed it)
    ys = [(i, v) for i, v in enumerate([x, 2.0 * x])]
    return ys[1][1] * 3.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [list_of_zip, tuple_of_zip, list_of_reversed,
                               list_of_enumerate, comprehension_of_pairs])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_list_of_iterators(mode, f, x):
    check(f, (x,), mode=mode)


def reversed_array(v):
    ys = list(reversed(v * v))
    return ys[0] * 2.0 + ys[2]


def test_list_of_reversed_array():
    v = np.array([0.5, -2.0, 1.5])
    check(reversed_array, (v,), want=[1.0, 0.0, 6.0])


# -- dicts built in the function, with constant keys (were refused) -------------------


def dict_display(x):
    d = {"a": x, "b": x * x}
    return d["a"] * d["b"]


def dict_grown_and_iterated(x):
    d = {"a": x, "b": 2.0}
    d["c"] = math.sin(x)                # a new key
    s = 0.0
    for k in d:
        s = s + d[k] * x
    return s


def dict_item_replaced(x):
    d = {1: x * 3.0, 2: x}
    d[1] = d[1] * d[2]
    return d[1] + d[2]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [dict_display, dict_grown_and_iterated, dict_item_replaced])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_dicts_built_in_the_function(mode, f, x):
    check(f, (x,), mode=mode)


def test_dicts_built_in_the_function_second_order_and_arrays():
    for f in (dict_display, dict_grown_and_iterated):
        check_second(f, (0.7,))

    def arrays(v):
        d = {"w": v * 2.0, "u": v}
        return np.sum(d["w"] * d["u"])

    def updated_in_place(v):
        a = v * 1.0
        d = {"w": a}
        d["w"] *= 2.0                   # changes a too: refused, as for a list
        return np.sum(a * v)

    v = np.array([0.5, -2.0])
    check(arrays, (v,), want=4.0 * v)
    with pytest.raises(s2sad.UnsupportedSyntaxError, match="in-place update"):
        s2sad.grad(updated_in_place)(v)


def slice_stored_list(a, b):
    out = [a, b, a]
    out[1:] = [b, a * 2.0]
    return out[1] * 3.0 + out[2] * b


def test_store_into_a_slice_of_a_list():
    """Forward mode differentiates it; reverse mode zeroed the adjoint's slice with
    ``bout[1:] = 0.0`` (a TypeError at run time): refused at the line instead."""
    assert s2sad.grad(slice_stored_list, wrt=(0, 1), mode="forward")(0.5, 1.5) \
        == pytest.approx((3.0, 4.0))
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(slice_stored_list, wrt=(0, 1), mode="reverse")(0.5, 1.5)
    line = inspect.getsourcelines(slice_stored_list)[1] + 2
    assert f":{line}:" in str(info.value) and "slice of a list" in str(info.value)


@pytest.mark.parametrize("x, y", [(0.5, 2.0), (1.5, -0.2), (-0.1, 0.4), (0.8, 0.1)])
def test_lambda_keys_in_if_and_while_tests(x, y):
    """Fuzz 612000027: a lambda given as key= in an ``if`` or ``while`` test (or a
    conditional expression) was refused as a lambda; it is inlined there as elsewhere."""
    got = s2sad.grad(lambda_keys_in_tests, wrt=(0, 1))(x, y)
    want = numerical_grad(lambda_keys_in_tests, (x, y), wrt=(0, 1))
    assert got == pytest.approx(tuple(want), rel=1e-6, abs=1e-8)


# -- math.dist and math.hypot of one, three or four coordinates (were MissingRuleError) --


def dist_and_hypot(x, y):
    p = [x, y * x, 2.0]
    return (math.dist(p, (y, 0.5, x)) ** 3 + math.dist((x, y), (1.0, 2.0))
            * math.hypot(x, y, 1.0) + math.hypot(x - 3.0) + math.hypot(x, y, x * y, 0.5))


def dist_of_arrays(p, q):
    return math.dist(p, q) * np.sum(p * q)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x, y", [(0.5, 0.3), (2.0, -1.0), (-1.5, 4.0)])
def test_dist_and_hypot_of_more_coordinates(mode, x, y):
    for wrt in (0, 1):
        check(dist_and_hypot, (x, y), wrt, mode=mode)
        if mode == "auto":
            check_second(dist_and_hypot, (x, y), wrt)


def test_dist_of_arrays():
    p, q = np.array([0.3, 1.0, -2.0]), np.array([1.0, 0.0, 0.5])
    got = s2sad.grad(dist_of_arrays, wrt=(0, 1))(p, q)
    want = numerical_grad(dist_of_arrays, (p, q), (0, 1))
    for g, w in zip(got, want):
        assert isinstance(g, np.ndarray) and g.shape == (3,)
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)
    h = s2sad.hessian(dist_of_arrays)(p, q)
    g0 = s2sad.grad(dist_of_arrays)
    fd = np.array([(g0(p + e, q) - g0(p - e, q)) / 2e-6 for e in np.eye(3) * 1e-6]).T
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)


# -- itertools.combinations, pairwise and product (were MissingRuleError) -------------


def pair_terms(xs, a):
    total = 0.0
    for u, v in itertools.combinations(xs, 2):
        total += a * (u - v) ** 2
    for u, v, w in itertools.combinations(xs, 3):
        total += u * v * w * a
    for u, v in itertools.pairwise(xs):
        total += a * a * u * v
    return total + sum(p * q for p, q in itertools.product(xs[:2], (a, a * a)))


def pair_energy(pos):
    e = 0.0
    for p, q in itertools.combinations(pos, 2):
        r2 = np.sum((p - q) ** 2)
        e += 1.0 / r2 ** 6 - 1.0 / r2 ** 3
    return e


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("a", [0.7, -1.6])
def test_itertools_pairs(mode, a):
    """itertools.combinations(xs, r), pairwise(xs) and product(a, b) are list
    comprehensions of indexing, the same tuples in the same order."""
    xs = [1.0, 2.0, 0.5, -0.3]
    check(pair_terms, (xs, a), wrt=1, mode=mode)
    check(pair_terms, (np.array(xs), a), wrt=0, mode="reverse" if mode == "forward" else mode)
    check_second(pair_terms, (xs, a), wrt=1)


def test_itertools_pairs_of_rows():
    pos = np.array([[0.0, 0.0], [1.1, 0.0], [0.5, 1.0]])
    check(pair_energy, (pos,))


def annotated_cast(x, v):
    y = typing.cast(float, x * 2.0)
    w = typing.cast(np.ndarray, v * y)
    return y * y + np.sum(w ** 2)


@pytest.mark.parametrize("mode", ["auto", "reverse"])
def test_typing_cast_is_the_value(mode):
    """typing.cast(T, v) is v (was MissingRuleError)."""
    v = np.array([1.0, 2.0])
    assert s2sad.grad(annotated_cast, wrt=(0, 1), mode=mode)(1.5, v)[0] == pytest.approx(72.0)
    check(annotated_cast, (1.5, v), wrt=1, mode=mode)
    assert s2sad.grad(annotated_cast, mode="forward")(1.5, v) == pytest.approx(72.0)
    assert s2sad.hessian(annotated_cast)(1.5, v) == pytest.approx(48.0)


# -- reversed(...) read where it is made ------------------------------------------


def reversed_enumerate(x, y):
    s = 0.0
    for i, v in enumerate(reversed([x, y])):
        s = s + (i + 1.0) * v * v * y
    return s


def reversed_built_list(x, y):
    lst = [x, y, x * y]
    t = sum(reversed(lst))
    return t * x + sum(a * b for a, b in zip(lst, reversed(lst)))


def reversed_tuple_and_range(x, y):
    s = 0.0
    for i in reversed(range(3)):
        s = s * x + i * y
    r = [v * x for j, v in enumerate(reversed((x, y, 2.0))) if j != 1]
    return s + r[0] * r[1] + max(reversed([x * x, y]))


def reversed_rows(a, x):
    s = 0.0
    for i, row in enumerate(reversed(a)):
        s = s + (i + 1.0) * np.sum(row * row) * x
    return s


def reversed_array_weights(a):
    return sum(v * (j + 1.0) ** 2 for j, v in enumerate(reversed(a))) * a[0]


def reversed_list_argument(xs, y):
    return sum(u * v * y for u, v in zip(xs, reversed(xs))) + list(reversed(xs))[0] * y


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [reversed_enumerate, reversed_built_list, reversed_tuple_and_range])
@pytest.mark.parametrize("x, y", [(1.5, 0.7), (-0.4, 2.1), (0.3, -1.2)])
def test_reversed_of_lists_tuples_ranges(mode, f, x, y):
    """reversed(xs) in enumerate, zip, sum, max, a comprehension: in_order(xs, range(n -
    1, -1, -1)) (was MissingRuleError: no derivative rule for reversed)."""
    check(f, (x, y), wrt=(0, 1), mode=mode)
    check_second(f, (x, y), wrt=0)
    check_second(f, (x, y), wrt=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reversed_of_arrays_and_list_arguments(seed):
    rng = np.random.default_rng(seed)
    a, x = rng.normal(size=(3, 2)), float(rng.normal())
    assert_grad_matches(reversed_rows, (a, x), wrt=(0, 1))
    v = rng.normal(size=4)
    check(reversed_array_weights, (v,))
    check_second(reversed_rows, (a, x), wrt=1)
    h = s2sad.hessian(reversed_array_weights)(v)
    g = s2sad.grad(reversed_array_weights)
    want = np.array([numerical_grad(lambda w, i=i: g(w)[i], (v,), 0) for i in range(4)])
    assert np.allclose(h, want, atol=1e-5)
    xs = list(rng.normal(size=3))
    assert_grad_matches(reversed_list_argument, (xs, x), wrt=1)
    check(reversed_list_argument, (xs, x), wrt=0,
          want=numerical_grad(reversed_list_argument, (np.array(xs), x), 0))
    check(reversed_list_argument, (tuple(xs), x), wrt=1, mode="forward")
    # forward mode along the list and the array: jvp against central differences
    t = [1.0, -0.5, 2.0]
    _, dot = s2sad.jvp(reversed_list_argument, wrt=0)(xs, x, t)
    g = numerical_grad(reversed_list_argument, (np.array(xs), x), 0)
    assert dot == pytest.approx(float(np.dot(g, t)), rel=1e-6)
    tv = rng.normal(size=4)
    _, dot = s2sad.jvp(reversed_array_weights)(v, tv)
    assert dot == pytest.approx(float(np.dot(numerical_grad(reversed_array_weights, (v,), 0), tv)),
                                rel=1e-6)


def reversed_bound(x, y):
    r = reversed([x, y])  # <- L_BOUND_REVERSED
    return sum(r) + sum(r)


def test_reversed_bound_to_a_name_is_refused():
    """An iterator bound to a name is read once by Python; a list of its items would be
    read again: refused, located (was MissingRuleError)."""
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(reversed_bound)(1.0, 2.0)
    line = inspect.getsourcelines(reversed_bound)[1] + 1
    msg = str(info.value)
    assert msg.startswith(f"{__file__}:{line}:")
    assert "an iterator bound to a name (r = reversed(xs))" in msg
    assert "list(reversed(xs))" in msg
