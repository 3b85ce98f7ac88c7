"""Control flow of real user code: break/continue, early returns, loop else, ranges,
iteration over containers, conditions, data-dependent trip counts.

Every gradient is compared with central finite differences at several points
chosen away from the places where a branch or a trip count changes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradcheck import assert_grad_matches

import s2sad

# ---------------------------------------------------------------------------
# break and continue


def for_break(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i) + 0.3
        if s > 1.5:
            break
    return s * x


def for_continue(x):
    s = 0.0
    for i in range(7):
        if i % 2 == 0:
            continue
        s = s + x ** i / (i + 1)
    return s


def for_continue_on_value(x):
    """``continue`` decided by the active value itself."""
    s = 0.0
    for i in range(6):
        t = math.sin(x + i)
        if t < 0.0:
            continue
        s = s + t * t
    return s


def while_break(x):
    s = x
    k = 0
    while k < 100:
        s = s * 1.1 + math.sin(x)
        k += 1
        if s > 5.0:
            break
    return s


def while_true_break(x):
    s = 0.0
    k = 0
    while True:
        k += 1
        s = s + math.cos(x * k)
        if k >= 4:
            break
    return s


def while_continue(x):
    s = 0.0
    k = 0
    while k < 8:
        k += 1
        if k % 3 == 0:
            continue
        s = s + math.exp(-k * x * x)
    return s


def nested_inner_break(x):
    s = 0.0
    for i in range(4):
        for j in range(5):
            if j > i:
                break
            s = s + x * x * (i + 1) - j * x
    return s


def nested_inner_break_on_value(x):
    """The inner loop stops when the active partial sum exceeds a threshold."""
    s = 0.0
    for i in range(3):
        t = 0.0
        for j in range(10):
            t = t + x * (j + 1)
            if t > 2.0 + i:
                break
        s = s + t * t
    return s


def nested_continue_and_break(x):
    s = 0.0
    for i in range(5):
        if i == 1:
            continue
        j = 0
        while j < 4:
            j += 1
            if j == 2:
                continue
            if j * i > 6:
                break
            s = s + math.sin(x * j) * i
    return s


@pytest.mark.parametrize("x", [0.3, 0.9, 1.7, -0.4])
@pytest.mark.parametrize("n", [0, 1, 4, 12])
def test_for_break(x, n):
    assert_grad_matches(for_break, (x, n))


def test_for_break_stops_early():
    """With x=1.2 the partial sums cross 1.5 at i=1: one sin term only, not n."""
    x = 1.2
    s = 0.3 + (math.sin(x) + 0.3)
    assert for_break(x, 10) == pytest.approx(s * x)
    want = s + x * math.cos(x)
    assert s2sad.grad(for_break)(x, 10) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("x", [0.5, 1.3, -0.8, 2.1])
def test_for_continue(x):
    g = assert_grad_matches(for_continue, (x,))
    want = sum(i * x ** (i - 1) / (i + 1) for i in (1, 3, 5))
    assert g == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("x", [0.2, 1.1, 2.5, -1.9])
def test_for_continue_on_value(x):
    assert_grad_matches(for_continue_on_value, (x,))


@pytest.mark.parametrize("x", [0.1, 0.7, 1.4, -0.3])
def test_while_break(x):
    assert_grad_matches(while_break, (x,))


@pytest.mark.parametrize("x", [0.2, 0.9, -1.3])
def test_while_true_break(x):
    g = assert_grad_matches(while_true_break, (x,))
    assert g == pytest.approx(sum(-k * math.sin(x * k) for k in range(1, 5)), rel=1e-12)


@pytest.mark.parametrize("x", [0.2, 0.6, -0.9])
def test_while_continue(x):
    assert_grad_matches(while_continue, (x,))


@pytest.mark.parametrize("x", [0.3, 1.5, -2.0])
def test_nested_inner_break(x):
    g = assert_grad_matches(nested_inner_break, (x,))
    want = sum(2 * x * (i + 1) - j for i in range(4) for j in range(i + 1))
    assert g == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("x", [0.13, 0.37, 0.71, 1.9])
def test_nested_inner_break_on_value(x):
    assert_grad_matches(nested_inner_break_on_value, (x,))


@pytest.mark.parametrize("x", [0.4, 1.2, -0.7])
def test_nested_continue_and_break(x):
    assert_grad_matches(nested_continue_and_break, (x,))


# ---------------------------------------------------------------------------
# loops inside branches, branches inside loops


def loop_in_branch(x, n):
    if x > 0.0:
        s = 1.0
        for _ in range(n):
            s = s * x + 1.0
    else:
        s = 0.0
        k = 0
        while k < n:
            s = s - math.sin(x) * k
            k += 1
    return s


def branch_in_loop(x):
    s = x
    for i in range(6):
        if s > 1.0:
            s = math.sqrt(s) + 0.1 * i
        elif s < -1.0:
            s = s * 0.5
        else:
            s = s * s + x
    return s


def branch_in_loop_array(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.0:
            s = s + x[i] ** 2
        else:
            s = s - math.sin(x[i]) * i
    return s


@pytest.mark.parametrize("x", [0.6, 1.4, -0.5, -2.2])
@pytest.mark.parametrize("n", [0, 3])
def test_loop_in_branch(x, n):
    assert_grad_matches(loop_in_branch, (x, n))


@pytest.mark.parametrize("x", [0.3, 0.8, 2.7, -0.4, -3.0])
def test_branch_in_loop(x):
    assert_grad_matches(branch_in_loop, (x,))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_branch_in_loop_array(seed):
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, size=6)
    assert_grad_matches(branch_in_loop_array, (x,))


# ---------------------------------------------------------------------------
# return from inside a loop or a branch


def piecewise(x):
    if x < -1.0:
        return -2.0 * x
    elif x < 1.0:
        return x ** 3
    return math.exp(x)


def return_in_loop(x, a):
    for i in range(len(x)):
        if x[i] > a:
            return x[i] * a + i
    return a * a


def return_in_while(x):
    s = x
    k = 0
    while k < 50:
        s = s * 1.5 + 0.1
        k += 1
        if s > 10.0:
            return s * k
    return -s


def return_in_nested_loop(x):
    s = 0.0
    for i in range(5):
        for j in range(5):
            s = s + x * (i + j)
            if s > 8.0:
                return s * s
    return math.sin(s)


def return_in_both_branches(x, y):
    if x > y:
        z = x * y
        return z + math.sin(x)
    else:
        z = x - y
        return z * z


@pytest.mark.parametrize("x,want", [(-2.0, -2.0), (-1.5, -2.0), (0.5, 0.75), (-0.3, 0.27),
                                    (1.5, math.exp(1.5)), (3.0, math.exp(3.0))])
def test_piecewise_each_return(x, want):
    g = assert_grad_matches(piecewise, (x,))
    assert g == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("a", [0.05, 0.45, 0.85, 2.0])
def test_return_in_loop(a):
    """a=0.05 returns at i=0, 0.45 at i=1, 0.85 at i=3, 2.0 falls through."""
    x = np.array([0.3, 0.6, 0.1, 0.9, 0.7])
    g = assert_grad_matches(return_in_loop, (x, a), wrt=(0, 1))
    if a == 2.0:
        assert np.all(g[0] == 0.0) and g[1] == pytest.approx(4.0)
    else:
        hit = int(np.argmax(x > a))
        want = np.zeros(5)
        want[hit] = a
        np.testing.assert_allclose(g[0], want)
        assert g[1] == pytest.approx(x[hit])


def add_first_if(x, a):
    if a > 1.0:
        a = a + x[0]
    return a * a


@pytest.mark.parametrize("a", [2.0, 3.5, 0.0, -1.0])
def test_array_gradient_when_branch_not_taken(a):
    x = np.array([0.4, -0.2])
    g = assert_grad_matches(add_first_if, (x, a), wrt=(0, 1))
    assert isinstance(g[0], np.ndarray) and g[0].shape == (2,)


@pytest.mark.parametrize("x", [0.1, 1.0, 3.0, 12.0, -20.0])
def test_return_in_while(x):
    assert_grad_matches(return_in_while, (x,))


@pytest.mark.parametrize("x", [0.05, 0.13, 0.55, 2.3])
def test_return_in_nested_loop(x):
    assert_grad_matches(return_in_nested_loop, (x,))


@pytest.mark.parametrize("x,y", [(2.0, 1.0), (0.5, -0.3), (1.0, 2.0), (-1.5, 0.4)])
def test_return_in_both_branches(x, y):
    assert_grad_matches(return_in_both_branches, (x, y), wrt=(0, 1))


# ---------------------------------------------------------------------------
# for ... else and while ... else


def for_else(x, limit):
    s = x
    for _ in range(5):
        s = s * 1.5
        if s > limit:
            break
    else:
        s = -s * x
    return s


def while_else(x, limit):
    s = x
    k = 0
    while k < 5:
        s = s * 1.5 + math.sin(x)
        k += 1
        if s > limit:
            break
    else:
        s = s * s
    return s + k


@pytest.mark.parametrize("x,limit,broke", [
    (1.0, 3.0, True), (2.0, 2.5, True), (0.5, 100.0, False), (-1.0, 0.0, False),
])
def test_for_else(x, limit, broke):
    g = assert_grad_matches(for_else, (x, limit))
    if not broke:
        # the else ran: s = -(1.5**5 x) x, derivative -2 * 1.5**5 x
        assert g == pytest.approx(-2.0 * 1.5 ** 5 * x, rel=1e-12)
    else:
        assert g > 0.0


@pytest.mark.parametrize("x,limit", [(1.0, 3.0), (2.0, 4.0), (0.3, 50.0), (-0.5, 50.0)])
def test_while_else(x, limit):
    assert_grad_matches(while_else, (x, limit))


# ---------------------------------------------------------------------------
# range(a, b, step) with run-time values


def range_sum(x, a, b, step):
    s = x
    for i in range(a, b, step):
        s = s * math.cos(x * i) + i
    return s


@pytest.mark.parametrize("a,b,step", [
    (0, 6, 2), (1, 10, 3), (5, 0, -1), (5, -3, -2), (3, 3, 1), (5, 2, 1), (0, 4, -1),
])
@pytest.mark.parametrize("x", [0.4, -1.1, 2.3])
def test_range_runtime(x, a, b, step):
    g = assert_grad_matches(range_sum, (x, a, b, step))
    if not list(range(a, b, step)):
        assert g == 1.0


# ---------------------------------------------------------------------------
# iteration over lists, tuples, arrays, rows, enumerate, zip, reversed


def iter_const_list(x):
    s = 0.0
    for c in [1.0, -2.0, 0.5]:
        s = s + c * math.sin(c * x)
    return s


def iter_active_list(x, y):
    s = 0.0
    for v in [x, x * y, math.exp(y), 2.0]:
        s = s + v * v
    return s


def iter_active_tuple(x, y):
    s = 1.0
    for v in (x, y, x - y):
        s = s * (v + 2.0)
    return s


def iter_array(x):
    s = 0.0
    for v in x:
        s = s + v * v * v
    return s


def iter_rows(m, w):
    s = 0.0
    for row in m:
        s = s + math.tanh(np.dot(row, w))
    return s


def iter_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + (i + 1) * math.sin(v)
    return s


def iter_enumerate_start(x):
    s = 0.0
    for i, v in enumerate(x, 2):
        s = s + v ** i
    return s


def iter_zip(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s + a * b * b
    return s


def iter_reversed(x):
    s = 0.0
    for v in reversed(x):
        s = s * 0.5 + v
    return s


def iter_reversed_range(x):
    s = 0.0
    for i in reversed(range(len(x))):
        s = s * x[i] + 1.0
    return s


def iter_zip_enumerate_list(x):
    ws = [0.5, -1.0, 2.0]
    s = 0.0
    for i, (w, v) in enumerate(zip(ws, x)):
        s = s + w * v * v + i * v
    return s


@pytest.mark.parametrize("x", [0.3, -1.2, 2.0])
def test_iter_const_list(x):
    g = assert_grad_matches(iter_const_list, (x,))
    assert g == pytest.approx(sum(c * c * math.cos(c * x) for c in (1.0, -2.0, 0.5)))


@pytest.mark.parametrize("x,y", [(0.3, 0.7), (-1.2, 0.1), (2.0, -0.5)])
def test_iter_active_list(x, y):
    assert_grad_matches(iter_active_list, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("x,y", [(0.3, 0.7), (-1.2, 0.1), (2.0, -0.5)])
def test_iter_active_tuple(x, y):
    assert_grad_matches(iter_active_tuple, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iter_array(seed):
    x = np.random.default_rng(seed).uniform(-1, 1, size=5)
    g = assert_grad_matches(iter_array, (x,))
    np.testing.assert_allclose(g, 3 * x * x, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iter_rows(seed):
    rng = np.random.default_rng(seed)
    m, w = rng.uniform(-1, 1, size=(4, 3)), rng.uniform(-1, 1, size=3)
    assert_grad_matches(iter_rows, (m, w), wrt=(0, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iter_enumerate(seed):
    x = np.random.default_rng(seed).uniform(-2, 2, size=5)
    g = assert_grad_matches(iter_enumerate, (x,))
    np.testing.assert_allclose(g, np.arange(1, 6) * np.cos(x), rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iter_enumerate_start(seed):
    x = np.random.default_rng(seed).uniform(0.2, 1.5, size=4)
    assert_grad_matches(iter_enumerate_start, (x,))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iter_zip(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1, 1, size=4), rng.uniform(-1, 1, size=4)
    gx, gy = assert_grad_matches(iter_zip, (x, y), wrt=(0, 1))
    np.testing.assert_allclose(gx, y * y, rtol=1e-12)
    np.testing.assert_allclose(gy, 2 * x * y, rtol=1e-12)


def test_iter_zip_shorter():
    """zip stops at the shorter sequence: the extra elements get zero gradient."""
    x, y = np.array([0.5, -0.2, 0.9, 1.3]), np.array([0.1, 0.4])
    gx, gy = assert_grad_matches(iter_zip, (x, y), wrt=(0, 1))
    assert gx[2] == 0.0 and gx[3] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iter_reversed(seed):
    x = np.random.default_rng(seed).uniform(-1, 1, size=5)
    g = assert_grad_matches(iter_reversed, (x,))
    np.testing.assert_allclose(g, 0.5 ** np.arange(5), rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iter_reversed_range(seed):
    x = np.random.default_rng(seed).uniform(-1, 1, size=4)
    assert_grad_matches(iter_reversed_range, (x,))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iter_zip_enumerate_list(seed):
    x = np.random.default_rng(seed).uniform(-1, 1, size=3)
    assert_grad_matches(iter_zip_enumerate_list, (x,))


# ---------------------------------------------------------------------------
# conditional expressions, chained comparisons, and/or/not


def ifexp(x):
    y = x * x if x > 0.5 else math.sin(x)
    return y * 2.0 + (x if x < 0.0 else 0.0)


def chained(x, a, b):
    if a < x < b:
        return x ** 3
    return x * a + b


def and_or_not(x, y):
    if x > 0.0 and y > 0.0:
        r = x * y
    elif x < -1.0 or not y < 1.0:
        r = x + y * y
    else:
        r = math.sin(x - y)
    return r


def bool_in_loop(x):
    s = 0.0
    for i in range(6):
        if i > 1 and not i == 4 or i == 0:
            s = s + x ** (i + 1)
    return s


@pytest.mark.parametrize("x,want", [(1.0, 4.0), (2.0, 8.0), (0.2, 2 * math.cos(0.2)),
                                    (-0.5, 2 * math.cos(-0.5) + 1.0)])
def test_ifexp(x, want):
    g = assert_grad_matches(ifexp, (x,))
    assert g == pytest.approx(want, rel=1e-12)


def ifexp_in_loop(x):
    s = 0.0
    for i in range(4):
        s = s + (x * i if i % 2 == 0 else x * x)
    return s


@pytest.mark.parametrize("x", [1.0, -0.5, 2.0])
def test_ifexp_in_loop(x):
    """The else value must be joined inside the loop (a stale value gave 4.0 for every x)."""
    g = assert_grad_matches(ifexp_in_loop, (x,))
    assert g == pytest.approx(4 * x + 2.0, rel=1e-12)


@pytest.mark.parametrize("x", [-2.0, 0.5, 1.5, 3.0])
def test_chained_comparison(x):
    g = assert_grad_matches(chained, (x, 0.0, 2.0), wrt=(0, 1, 2))
    if 0.0 < x < 2.0:
        assert g == pytest.approx((3 * x * x, 0.0, 0.0))
    else:
        assert g == pytest.approx((0.0, x, 1.0))


@pytest.mark.parametrize("x,y", [(0.5, 0.5), (-2.0, 0.3), (0.3, 1.5), (-0.5, 0.5),
                                 (-0.5, -0.2), (1.0, -1.0)])
def test_and_or_not(x, y):
    assert_grad_matches(and_or_not, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("x", [0.3, -0.9, 1.2])
def test_bool_in_loop(x):
    g = assert_grad_matches(bool_in_loop, (x,))
    want = sum((i + 1) * x ** i for i in (0, 2, 3, 5))
    assert g == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------------------
# The adaptive loop of the seeds and data-dependent trip counts


def adaptive(x, eps):
    """Iterate y <- y/2 + sin(x)/10 until it settles: the fixed point is sin(x)/5."""
    y = x
    while True:
        y_old = y
        y = y / 2.0 + 0.1 * math.sin(x)
        if abs(y - y_old) < eps:
            break
    return y


def adaptive_for(x, eps):
    y = x
    for _ in range(500):
        y_old = y
        y = 0.5 * y + 0.3 * math.cos(x * y_old)
        if abs(y - y_old) < eps:
            break
    return y


def grow_until(x):
    """Multiply by 1.5 until over 10: the trip count depends on x."""
    n = 0
    while x < 10.0:
        x = x * 1.5 + 0.01 * x * x
        n += 1
    return x


def count_and_scale(x):
    s = x
    n = 0
    while s < 100.0:
        s = s * s + 1.0
        n += 1
    return s / n


@pytest.mark.parametrize("x", [0.3, 1.0, 2.5, -0.8])
@pytest.mark.parametrize("eps", [1e-3, 1e-12])
def test_adaptive_loop(x, eps):
    g = assert_grad_matches(adaptive, (x, eps))
    if eps == 1e-12:
        assert g == pytest.approx(0.2 * math.cos(x), abs=1e-9)


@pytest.mark.parametrize("x", [0.3, 1.0, 2.5])
def test_adaptive_loop_for(x):
    assert_grad_matches(adaptive_for, (x, 1e-8), rtol=1e-4)


def trips(x):
    n = 0
    while x < 10.0:
        x = x * 1.5 + 0.01 * x * x
        n += 1
    return n


@pytest.mark.parametrize("x", [0.05, 0.5, 1.7, 4.0, 8.0, 12.0])
def test_trip_count_depends_on_input(x):
    """Reverse replays exactly the iterations that ran (0 up to a dozen here)."""
    n = trips(x)
    assert n == trips(x * (1 + 1e-5)) == trips(x * (1 - 1e-5))   # not near a change
    g = assert_grad_matches(grow_until, (x,))
    want, v = 1.0, x
    for _ in range(n):
        want *= 1.5 + 0.02 * v
        v = v * 1.5 + 0.01 * v * v
    assert g == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("x", [0.5, 2.0, 5.0, 20.0])
def test_trip_count_in_result(x):
    assert_grad_matches(count_and_scale, (x,))


def test_repeated_calls_with_different_trip_counts():
    """The tape of one call must not leak into the next one."""
    gf = s2sad.grad(grow_until)
    first = [gf(x) for x in (0.05, 8.0, 0.5, 12.0, 1.7)]
    again = [gf(x) for x in (0.05, 8.0, 0.5, 12.0, 1.7)]
    assert first == again
    assert first[3] == 1.0


# ---------------------------------------------------------------------------
# return in a loop's else clause (was refused: "return before the end of the function")


def return_in_for_else(x, n):
    acc = 0.0
    for i in range(n):
        k = 0
        while True:
            k += 1
            acc = acc + x / k
            if k >= i:
                break
        if acc > 10.0:
            break
    else:
        return -acc
    return acc * x


def return_in_while_else(x, y):
    i = 0
    while i < 4:
        y = y * x
        if y > 20.0:
            break
        i += 1
    else:
        return y - x
    return y * y


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, args", [
    (return_in_for_else, (5.1, 6)), (return_in_for_else, (4.9, 6)),
    (return_in_for_else, (0.3, 3)), (return_in_for_else, (1.5, 4)),
    (return_in_while_else, (1.5, 2.0)), (return_in_while_else, (3.0, 1.0)),
])
def test_return_in_a_loop_else(mode, f, args):
    got = s2sad.grad(f, mode=mode)(*args)
    h = 1e-6
    lo, hi = list(args), list(args)
    lo[0] -= h
    hi[0] += h
    assert got == pytest.approx((f(*hi) - f(*lo)) / (2 * h), rel=1e-5)


def _augmented_item_of_the_loop_tuple(x, y):
    for t in (x, y):
        y += 0.5 * t * y
    return y


@pytest.mark.parametrize("x, y", [(0.3, 0.5), (-1.1, 0.8)])
def test_loop_over_a_tuple_display_may_update_its_items_names(x, y):
    """Found by the fuzzer: ``y += ...`` in ``for t in (x, y)`` was refused as a loop
    that resizes the list it iterates over (the tuple is made once: y is rebound)."""
    # f = (1 + 0.5 x) (y + 0.5 y^2)
    g = s2sad.grad(_augmented_item_of_the_loop_tuple, wrt=(0, 1), mode="reverse")(x, y)
    assert g == (pytest.approx(0.5 * (y + 0.5 * y * y)),
                 pytest.approx((1 + 0.5 * x) * (1 + y)))
