"""A corpus of plain functions for checking gradients against finite differences.

Every function is a module-level ``def`` (so ``inspect.getsource`` reads it)
followed by a ``case(...)`` line registering the points to check it at and the
``wrt`` to use. Points stay away from kinks (abs at 0, ties of max/min, branch
boundaries), where finite differences and the chosen conventions disagree.

``CASES`` is the list of :class:`Case` entries, in file order; ``Case.tag`` is
``group/name`` and becomes the pytest id.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple, cast

import numpy as np


class Case(NamedTuple):
    tag: str
    func: object
    points: list
    wrt: object = 0
    xfail: dict | None = None     # point index -> reason: a known s2sad bug (kept strict)
    xfail_vg: dict | None = None  # same, for value_and_grad only


CASES: list[Case] = []


def _expand(xfail, n):
    if xfail and "all" in xfail:
        return dict.fromkeys(range(n), xfail["all"])
    return dict(xfail or {})


def case(group, func, points, wrt=0, xfail=None, xfail_vg=None):
    """Register ``func`` at ``points``.

    ``xfail`` maps point indices (or ``"all"``) to the description of a known
    s2sad bug failing that point; ``xfail_vg`` does the same for a bug only
    ``value_and_grad`` shows.
    """
    assert len(points) >= 3, f"{func.__name__}: give at least three points"
    CASES.append(Case(f"{group}/{func.__name__}", func, list(points), wrt,
                      _expand(xfail, len(points)), _expand(xfail_vg, len(points))))


# Known s2sad bugs (see the minimal repros in tests/test_reverse.py)

_rng = np.random.default_rng(20240501)


def vec(n, low=-1.0, high=1.0):
    return _rng.uniform(low, high, size=n)


# ---------------------------------------------------------------------------
# Straight-line arithmetic


def arith_basic(x, y):
    return x * y + x / y - y ** 2 + -x


case("line", arith_basic, [(1.0, 2.0), (-0.5, 3.0), (2.5, -1.5)], wrt=(0, 1))


def constants_both_sides(x):
    return 3.0 - x + 2.0 * x - x / 4.0 + 5.0 / x + x * 7 + 1 + x - 2


case("line", constants_both_sides, [(1.0,), (-2.0,), (0.3,)])


def same_variable_many_times(x):
    return x * x * x + x * (x - 1.0) * x + x / (x * x + 1.0)


case("line", same_variable_many_times, [(0.5,), (-1.2,), (2.0,)])


def reassignment(x, y):
    a = x
    a = a * y
    a = a + x
    a = a * a
    b = a - y
    a = b / (1.0 + x * x)
    return a


case("line", reassignment, [(1.0, 2.0), (-0.7, 0.4), (2.0, -3.0)], wrt=(0, 1))


def x_minus_x(x, y):
    z = x - x
    return z + y * x + (y - y) * x


case("line", x_minus_x, [(1.0, 2.0), (-3.0, 0.5), (0.0, -1.0)], wrt=(0, 1))


def unary_minus(x, y):
    a = -x
    b = -(-y)  # noqa: B002
    return -(a * b) + -a * -b - (-x)


case("line", unary_minus, [(1.0, 2.0), (-0.5, 0.25), (3.0, -2.0)], wrt=(0, 1))


def powers_constant_exponent(x):
    return x ** 2 + x ** 3 - x ** -1 + x ** 0.5 + 2.0 * x ** 1.5


case("line", powers_constant_exponent, [(0.5,), (1.5,), (4.0,)])


def power_both_active(x, y):
    return x ** y + 2.0 ** x + y ** 2.5


case("line", power_both_active, [(1.5, 2.0), (0.7, 0.3), (2.0, 1.1)], wrt=(0, 1))


def augmented_assignment(x, y):
    s = x
    s += y
    s *= x
    s -= 1.0
    s /= y
    s **= 2
    return s


case("line", augmented_assignment, [(1.0, 2.0), (-0.5, 0.8), (2.0, -1.5)], wrt=(0, 1))


def one_argument_unused(x, y):
    return 3.0 * y


case("line", one_argument_unused, [(1.0, 2.0), (-1.0, 0.0), (5.0, -2.0)], wrt=(0, 1))


def integer_constants(x):
    a = 2 * x + 1
    b = a // 1 * 0 + a
    return b * 3 - x / 2


case("line", integer_constants, [(0.25,), (1.75,), (-0.4,)])


# ---------------------------------------------------------------------------
# math functions: every rule in s2sad.rules.math_rules


def trig(x):
    return math.sin(x) * math.cos(x) + math.tan(x)


case("math", trig, [(0.3,), (-1.0,), (1.2,)])


def exp_and_logs(x, b):
    return math.exp(x) + math.log(x) + math.log(x, b) + math.log10(x) + math.log2(x)


case("math", exp_and_logs, [(0.5, 2.0), (3.0, 10.0), (1.7, 0.5)], wrt=(0, 1))


def sqrt_and_pow(x, y):
    return math.sqrt(x) + math.pow(x, y) + math.pow(2.0, y) + math.pow(x, 3.0)


case("math", sqrt_and_pow, [(0.5, 2.0), (2.0, -1.5), (1.3, 0.7)], wrt=(0, 1))


def hyperbolic(x):
    return math.tanh(x) + math.sinh(x) * math.cosh(x) - math.cosh(2.0 * x)


case("math", hyperbolic, [(0.2,), (-1.1,), (0.9,)])


def inverse_trig(x):
    return math.asin(x) + 2.0 * math.acos(x) + math.atan(3.0 * x)


case("math", inverse_trig, [(0.3,), (-0.6,), (0.85,)])


def atan2_and_hypot(y, x):
    return math.atan2(y, x) + math.hypot(x, y) * math.atan2(x * x, y)


case("math", atan2_and_hypot, [(1.0, 2.0), (-0.5, -1.5), (0.7, -0.2)], wrt=(0, 1))


def special(x):
    return math.fabs(x) + math.expm1(x) + math.log1p(x * x) + math.erf(x)


case("math", special, [(0.4,), (-0.8,), (1.5,)])


def degrees_radians(x):
    return math.sin(math.radians(x)) + math.degrees(x) / 100.0


case("math", degrees_radians, [(30.0,), (-45.0,), (100.0,)])


def sigmoid_loss(w, x, y):
    z = w * x
    p = 1.0 / (1.0 + math.exp(-z))
    return -(y * math.log(p) + (1.0 - y) * math.log(1.0 - p))


case("math", sigmoid_loss, [(0.5, 1.0, 1.0), (-1.0, 2.0, 0.0), (0.3, -0.7, 1.0)], wrt=(0, 1))


def math_compositions(x):
    return math.exp(math.sin(x) * math.sqrt(x * x + 1.0)) / math.log(2.0 + math.cos(x))


case("math", math_compositions, [(0.1,), (1.0,), (-2.0,)])


# ---------------------------------------------------------------------------
# builtins, away from their kinks


def builtins_abs_max_min(x, y):
    return abs(x) * 2.0 + max(x, y) - min(x, 3.0 * y) + abs(x - y)


case("builtin", builtins_abs_max_min,
     [(1.0, 2.0), (-1.5, 0.3), (2.0, -1.0), (-0.4, -2.0)], wrt=(0, 1))


def builtin_float(x):
    return float(x) * x + float(x * 2.0)


case("builtin", builtin_float, [(1.0,), (-0.5,), (3.0,)])


def builtin_max_chain(x, y, z):
    return max(max(x, y), z) + min(x, min(y, z))


case("builtin", builtin_max_chain, [(1.0, 2.0, 3.0), (3.0, -1.0, 0.5), (0.2, 0.9, -4.0)],
     wrt=(0, 1, 2))


# ---------------------------------------------------------------------------
# Branches


def if_else(x):
    if x > 0.0:
        y = x * x
    else:
        y = -3.0 * x
    return y + x


case("branch", if_else, [(1.0,), (-1.0,), (2.5,), (-0.3,)])


def if_elif_else(x, y):
    if x < -1.0:
        z = x * y
    elif x < 1.0:
        z = math.sin(x) + y * y
    else:
        z = x * x * y
    return z


case("branch", if_elif_else, [(-2.0, 1.5), (0.3, -0.5), (2.0, 0.7), (-1.5, -1.0)], wrt=(0, 1))


def nested_ifs(x, y):
    if x > 0.0:
        if y > 0.0:
            r = x * y
        else:
            r = x - y
    else:
        if y > x:
            r = x * x + y
        else:
            r = math.exp(y) * x
    return r


case("branch", nested_ifs,
     [(1.0, 2.0), (1.0, -2.0), (-1.0, 0.5), (-1.0, -2.0)], wrt=(0, 1))


def if_without_else(x):
    y = x * 2.0
    if x > 1.0:
        y = y * x
    return y


case("branch", if_without_else, [(0.5,), (2.0,), (-1.0,)])


def assigned_in_one_branch(x, flag):
    y = 1.0
    if flag:
        y = math.sin(x)
        z = y * x
        y = y + z
    return y * x


case("branch", assigned_in_one_branch, [(0.5, True), (0.5, False), (-1.2, True)])


def conditional_expression(x, y):
    a = x * y if x > y else x + y
    b = math.sin(a) if a > 0.0 else a * a
    return a * b + (y if y < 0.0 else 2.0 * y)


case("branch", conditional_expression,
     [(2.0, 1.0), (1.0, 2.0), (-1.0, -2.0), (-2.0, 0.5)], wrt=(0, 1))


def and_or_conditions(x, y):
    if x > 0.0 and y > 0.0:
        r = x * y
    elif x > 0.0 or y > 1.0:
        r = x + y * y
    else:
        r = x * x * x
    if not (x < -5.0 or y > 5.0):
        r = r + x
    return r


case("branch", and_or_conditions,
     [(1.0, 2.0), (1.0, -2.0), (-1.0, 3.0), (-1.0, -1.0), (-6.0, 0.5)], wrt=(0, 1))


def branch_on_computed_value(x):
    t = math.sin(x) * 3.0
    if t > 1.0:
        out = t * x
    else:
        out = t - x
    return out


case("branch", branch_on_computed_value, [(0.7,), (-0.7,), (2.0,)])


# ---------------------------------------------------------------------------
# Loops


def for_range_n(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i + math.sin(s)
    return s + x


case("loop", for_range_n, [(1.5, 0), (1.5, 1), (0.7, 4), (-0.3, 6)])


def repeated_product(x, n):
    p = 1.0
    for _ in range(n):
        p = p * x
    return p


case("loop", repeated_product, [(1.3, 0), (1.3, 1), (0.9, 5), (-1.1, 3)])


def range_start_stop_step(x, a, b):
    s = x
    for i in range(a, b, 2):
        s = s * x + i
    return s


case("loop", range_start_stop_step, [(0.9, 1, 8), (1.1, 0, 1), (0.5, 3, 3), (-0.8, -2, 5)])


def range_negative_step(x):
    s = 0.0
    for i in range(5, 0, -1):
        s = s * x + i
    return s


case("loop", range_negative_step, [(0.5,), (-1.5,), (2.0,)])


def loop_constant_list(x):
    s = 0.0
    for c in [1.0, -2.0, 0.5, 3.0]:
        s = s * x + c
    return s


case("loop", loop_constant_list, [(0.5,), (-1.5,), (2.0,)])


def loop_constant_tuple(x, y):
    acc = y
    for w in (0.5, 1.5, -1.0):
        acc = math.tanh(acc * w + x)
    return acc


case("loop", loop_constant_tuple, [(0.1, 0.2), (-0.5, 1.0), (1.0, -2.0)], wrt=(0, 1))


def nested_loops(x, n, m):
    s = x
    for _i in range(n):
        for j in range(m):
            s = math.sin(s) + x * j
        s = s * 0.9
    return s


case("loop", nested_loops, [(0.5, 2, 3), (1.0, 0, 3), (-0.7, 3, 0), (0.2, 1, 1)])


def loop_with_branch(x, n):
    s = x
    for _i in range(n):
        if s > 1.0:
            s = s * 0.5 + x
        else:
            s = s * s + 1.0
    return s


case("loop", loop_with_branch, [(0.3, 5), (2.0, 4), (-0.5, 3), (0.9, 0)])


def branch_with_loop(x, n):
    if x > 0.0:
        s = x
        for i in range(n):  # noqa: B007 (the target is joined after the if)
            s = s * x + 1.0
    else:
        s = 0.0
        for i in range(n + 1):
            s = s - x * i
    return s


case("loop", branch_with_loop, [(0.7, 3), (-0.7, 3), (1.2, 0), (-0.3, 0)])


def loop_conditional_expression(x, n):
    s = 0.0
    for i in range(n):
        s = s + (x * i if i % 2 == 0 else math.cos(x * s))
    return s


case("loop", loop_conditional_expression, [(0.5, 5), (-1.0, 4), (2.0, 1)])


def fibonacci_swap(x, y, n):
    a, b = x, y
    for _ in range(n):
        a, b = b, a + b * 0.5
    return a * b


case("loop", fibonacci_swap, [(1.0, 2.0, 0), (1.0, 2.0, 1), (0.5, -1.0, 6)], wrt=(0, 1))


def several_accumulators(x, n):
    s = 0.0
    p = 1.0
    q = x
    for _i in range(n):
        s = s + x * p
        p = p * q
        q = math.sin(q) + s
    return s + p + q


case("loop", several_accumulators, [(0.5, 0), (0.5, 1), (0.3, 4), (-0.4, 3)])


def horner(x):
    coeffs = (3.0, -1.0, 0.5, 2.0, -0.25)
    r = 0.0
    for c in coeffs:
        r = r * x + c
    return r


case("loop", horner, [(0.5,), (-2.0,), (1.7,)])


def loop_variable_reused_after(x, n):
    i = 0
    s = x
    for i in range(n):  # noqa: B007 (read after the loop)
        s = s * x
    return s + i * x


case("loop", loop_variable_reused_after, [(1.1, 0), (0.8, 1), (1.3, 4)])


# ---------------------------------------------------------------------------
# while loops with data-dependent conditions


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


case("while", newton_sqrt, [(2.0,), (0.5,), (10.0,)])


def fixed_point(a):
    # x = a * cos(x) is a contraction for |a| < 1
    x = 0.0
    err = 1.0
    while err > 1e-14:
        x_new = a * math.cos(x)
        err = abs(x_new - x)
        x = x_new
    return x


case("while", fixed_point, [(0.5,), (-0.3,), (0.8,)])


def halving_to_tolerance(x, tol):
    step = 1.0
    s = 0.0
    while step > tol:
        s = s + step * math.sin(x * step)
        step = step / 2.0
    return s


case("while", halving_to_tolerance, [(0.5, 1e-3), (1.5, 0.3), (-1.0, 2.0)])


def while_grows(x, a):
    n = 0
    while x < 100.0:
        x = x * a + 1.0
        n = n + 1
    return x / (n + 1)


case("while", while_grows, [(1.0, 2.0), (3.0, 1.5), (150.0, 2.0)], wrt=(0, 1))


def branch_with_while(x):
    if x > 1.0:
        y = x
        while y > 1.0:
            y = y / 3.0 + 0.1
    else:
        y = x * x
    return y


case("while", branch_with_while, [(5.0,), (0.5,), (20.0,)])


def while_with_branch(x):
    s = x
    k = 0
    while k < 6:
        if k % 2 == 0:
            s = s * x
        else:
            s = math.sin(s) + x
        k = k + 1
    return s


case("while", while_with_branch, [(0.5,), (1.3,), (-0.8,)])


# ---------------------------------------------------------------------------
# NumPy


def np_elementwise(x):
    return np.sum(np.sin(x) + np.exp(x) * np.log(x) + np.sqrt(x) - np.tanh(x))


case("numpy", np_elementwise, [(vec(4, 0.2, 2.0),), (vec(1, 0.5, 1.0),), (vec(6, 0.1, 3.0),)])


def np_more_elementwise(x):
    return np.sum(np.cos(x) * np.sinh(x) + np.cosh(x) + np.arctan(x) + np.square(x)
                  + np.log10(x + 2.0) + np.log2(x + 2.0) + np.tan(x * 0.5))


case("numpy", np_more_elementwise, [(vec(4),), (vec(3),), (vec(5, -0.9, 0.9),)])


def np_inverse_trig(x):
    return np.sum(np.arcsin(x) * np.arccos(x) + np.arctan2(x, x * x + 1.0)
                  + np.hypot(x, 2.0))


case("numpy", np_inverse_trig, [(vec(4, -0.8, 0.8),), (vec(2, -0.5, 0.5),), (vec(3, 0.1, 0.9),)])


def np_abs_max_min(x, y):
    return np.sum(np.abs(x) * np.maximum(x, y) + np.minimum(x * 2.0, y))


case("numpy", np_abs_max_min,
     [(np.array([0.5, -1.0, 2.0]), np.array([1.0, -2.0, 0.3])),
      (np.array([-0.3, 0.7]), np.array([0.9, -0.1])),
      (np.array([1.5, -2.5, 0.25, 3.0]), np.array([-1.0, 1.0, 0.0, 2.0]))], wrt=(0, 1))


def np_mean(x):
    return np.mean(x * x) + np.mean(np.exp(x)) * 2.0


case("numpy", np_mean, [(vec(3),), (vec(7),), (vec((2, 3)),)])


def np_dot(x, y):
    return np.dot(x, y) + np.dot(x, x) * 0.5


case("numpy", np_dot, [(vec(3), vec(3)), (vec(5), vec(5)), (vec(1), vec(1))], wrt=(0, 1))


def matvec(W, x):
    return np.sum(np.tanh(W @ x))


case("numpy", matvec, [(vec((2, 3)), vec(3)), (vec((4, 2)), vec(2)), (vec((1, 1)), vec(1))],
     wrt=(0, 1))


def matmat(A, B):
    C = A @ B
    return np.sum(C * C) + np.sum(np.sin(A @ B @ np.transpose(B)))


case("numpy", matmat,
     [(vec((2, 3)), vec((3, 4))), (vec((3, 3)), vec((3, 3))), (vec((1, 2)), vec((2, 2)))],
     wrt=(0, 1))


def matmat_no_transpose(A, B):
    C = A @ B
    return np.sum(C * C) + np.sum(np.sin(A @ B))


case("numpy", matmat_no_transpose,
     [(vec((2, 3)), vec((3, 4))), (vec((3, 3)), vec((3, 3))), (vec((1, 2)), vec((2, 2)))],
     wrt=(0, 1))


def quadratic_form(A, x):
    return x @ A @ x + np.dot(x, np.dot(A, x)) * 0.5


case("numpy", quadratic_form, [(vec((3, 3)), vec(3)), (vec((2, 2)), vec(2)), (vec((4, 4)), vec(4))],
     wrt=(0, 1))


def broadcast_scalar_array(a, x):
    return np.sum(a * x + x / a - a) + np.sum(2.0 * x ** 2)


case("numpy", broadcast_scalar_array, [(1.5, vec(3)), (-0.7, vec(4)), (2.0, vec((2, 2)))],
     wrt=(0, 1))


def broadcast_column_row(u, v):
    return np.sum(np.sin(u + v) * (u * v))


case("numpy", broadcast_column_row,
     [(vec((3, 1)), vec((1, 4))), (vec((2, 1)), vec((1, 2))), (vec((3, 1)), vec((1, 1)))],
     wrt=(0, 1))


def broadcast_row_vector(X, b):
    return np.sum(np.tanh(X + b) - X * b)


case("numpy", broadcast_row_vector, [(vec((3, 4)), vec(4)), (vec((2, 2)), vec(2)),
                                     (vec((1, 3)), vec(3))], wrt=(0, 1))


def sum_axis0(X):
    col = np.sum(X, axis=0)
    return np.sum(col * col) + np.sum(np.mean(X, axis=1) ** 2)


case("numpy", sum_axis0, [(vec((3, 4)),), (vec((2, 2)),), (vec((1, 5)),)])


def sum_keepdims(X):
    rows = np.sum(X * X, axis=1, keepdims=True)
    return np.sum(X / (rows + 1.0)) + np.sum(np.mean(X, axis=0, keepdims=True) * X)


case("numpy", sum_keepdims, [(vec((3, 4)),), (vec((2, 2)),), (vec((4, 1)),)])


def log_sum_exp(x):
    m = 0.5
    return m + np.log(np.sum(np.exp(x - m)))


case("numpy", log_sum_exp, [(vec(3),), (vec(6, -3.0, 3.0),), (vec((2, 2)),)])


def mixed_scalar_array(x, c):
    return np.sum(x ** 2) * c + c ** 3 + np.mean(np.sin(c * x))


case("numpy", mixed_scalar_array, [(vec(3), 0.5), (vec(5), -1.5), (vec((2, 3)), 2.0)],
     wrt=(0, 1))


def np_branch_on_reduction(x):
    if np.sum(x) > 0.0:
        y = np.sum(np.exp(x))
    else:
        y = np.sum(x * x)
    return y


case("numpy", np_branch_on_reduction,
     [(np.array([1.0, 2.0, -0.5]),), (np.array([-1.0, -2.0, 0.5]),), (np.array([0.3, 0.1]),)])


def np_math_on_reduction(x):
    s = np.sum(x * x)
    return math.sqrt(s) + math.log(1.0 + s)


case("numpy", np_math_on_reduction, [(vec(3),), (vec(5),), (vec((2, 2)),)])


def np_loop_rnn(W, x, n):
    h = x
    for _ in range(n):
        h = np.tanh(W @ h + x)
    return np.sum(h)


case("numpy", np_loop_rnn,
     [(vec((3, 3)), vec(3), 0), (vec((3, 3)), vec(3), 1), (vec((2, 2)), vec(2), 4)],
     wrt=(0, 1))


def np_loop_scalar_weights(x, a):
    y = x
    for w in (0.5, -1.0, 2.0):
        y = np.sin(y * w * a) + y
    return np.mean(y)


case("numpy", np_loop_scalar_weights, [(vec(3), 0.7), (vec(4), -1.2), (vec((2, 2)), 0.3)],
     wrt=(0, 1))


def np_while_normalize(x):
    y = x
    while np.sum(y * y) > 1.0:
        y = y * 0.5
    return np.sum(y * x)


case("numpy", np_while_normalize, [(np.array([2.0, 3.0]),), (np.array([0.1, 0.2]),),
                                   (np.array([5.0, -4.0, 1.0]),)])


def np_loop_accumulate(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(np.exp(x * (i + 1.0)) * 0.1)
    return total


case("numpy", np_loop_accumulate, [(vec(3), 0), (vec(3), 1), (vec(4), 3)])


def np_power_array(x, y):
    return np.sum(x ** y + np.power(x, 2.0) + np.power(2.0, y))


case("numpy", np_power_array, [(vec(3, 0.5, 2.0), vec(3)), (vec(2, 0.1, 1.0), vec(2)),
                               (vec((2, 2), 1.0, 3.0), vec((2, 2)))], wrt=(0, 1))


# ---------------------------------------------------------------------------
# Applied code, as users write it: statistics, ML losses, ODEs, physics, linear
# algebra, numerical methods (functions the gradient once refused are marked)


def gmm_loglik(mu, x, logw, sigma):
    d = x[:, None] - mu[None, :]
    logp = -0.5 * (d / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi) + logw[None, :]
    m = np.max(logp, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(logp - m), axis=1))
    return np.sum(lse)


case("applied", gmm_loglik,
     [(vec(3), vec(5), np.log(np.array([0.2, 0.3, 0.5])), 0.7),
      (vec(2), vec(4), np.log(np.array([0.6, 0.4])), 1.3),
      (vec(3), vec(6, -3.0, 3.0), np.log(np.array([0.1, 0.1, 0.8])), 0.5)], wrt=(0, 2, 3))


def huber(pred, y, delta=1.0):
    r = pred - y
    a = np.abs(r)
    return np.sum(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)))


case("applied", huber, [(np.array([0.3, 2.5, -1.7]), np.array([0.0, 0.1, 0.2])),
                        (np.array([1.3, -0.2]), np.array([-1.0, 0.5])),
                        (np.array([2.2, -0.4, 0.9, -2.6]), vec(4))], wrt=(0, 1))


def pinball(preds, ys, tau=0.3):
    total = 0.0
    for p, y in zip(preds, ys):
        r = y - p
        total += max(tau * r, (tau - 1) * r)
    return total / len(preds)


case("applied", pinball, [(np.array([0.3, 2.5, -1.7]), np.array([0.0, 0.1, 0.2])),
                          (np.array([1.3, -0.2]), np.array([-1.0, 0.5])),
                          (np.array([0.7, 0.1, 0.4, -2.0]), np.array([0.1, 0.5, -0.3, 0.0]))],
     wrt=(0, 1))


def attention(Wq, X, Wk, Wv):
    Q = X @ Wq
    K = X @ Wk
    V = X @ Wv
    s = Q @ K.T / np.sqrt(Q.shape[1])
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p = p / p.sum(axis=-1, keepdims=True)
    return np.sum((p @ V) ** 2)


case("applied", attention, [(vec((3, 2)), vec((4, 3)), vec((3, 2)), vec((3, 2))),
                            (vec((2, 2)), vec((3, 2)), vec((2, 2)), vec((2, 3))),
                            (vec((3, 4)), vec((2, 3)), vec((3, 4)), vec((3, 1)))],
     wrt=(0, 1, 2, 3))


def rk4_decay(k, y0, h=0.1, n=10):
    def rhs(t, y):
        return -k * y + math.sin(t)
    y = y0
    t = 0.0
    for _ in range(n):
        k1 = rhs(t, y)
        k2 = rhs(t + h / 2, y + h / 2 * k1)
        k3 = rhs(t + h / 2, y + h / 2 * k2)
        k4 = rhs(t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t += h
    return y


case("applied", rk4_decay, [(0.5, 1.0), (1.5, -0.3), (0.1, 2.0)], wrt=(0, 1))


def pendulum_rhs(s, g):
    return np.array([s[1], -g * np.sin(s[0])])


def rk4_pendulum(s0, g, h=0.05, n=8):
    s = s0
    for _ in range(n):
        k1 = pendulum_rhs(s, g)
        k2 = pendulum_rhs(s + 0.5 * h * k1, g)
        k3 = pendulum_rhs(s + 0.5 * h * k2, g)
        k4 = pendulum_rhs(s + h * k3, g)
        s = s + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return s[0] ** 2 + 0.5 * s[1]


case("applied", rk4_pendulum, [(np.array([0.3, 0.0]), 9.8), (np.array([1.0, -0.5]), 3.0),
                               (np.array([-0.2, 0.7]), 1.0)], wrt=(0, 1))


def spring_chain(x, k=2.0, rest=1.0):
    e = 0.0
    for i in range(len(x) - 1):
        d = x[i + 1] - x[i] - rest
        e += 0.5 * k * d * d
    return e + 0.1 * np.sum(x ** 4)


case("applied", spring_chain, [(np.array([0.0, 1.2, 1.9, 3.3]),), (vec(3),),
                               (np.array([0.0, 0.5]),)])


def kalman_nll(q, r, zs, x0=0.0, p0=1.0):
    x, p = x0, p0
    nll = 0.0
    for z in zs:
        p = p + q
        s = p + r
        gain = p / s
        innov = z - x
        nll += 0.5 * (math.log(2 * math.pi * s) + innov * innov / s)
        x = x + gain * innov
        p = (1 - gain) * p
    return nll


case("applied", kalman_nll, [(0.1, 0.5, [0.3, 0.1, -0.2, 0.4]), (0.3, 0.2, [1.0, 0.8]),
                             (1.0, 1.0, [0.0, 0.5, 1.0])], wrt=(0, 1))


def bisect_cube_root(a, lo=0.0, hi=3.0, tol=1e-12):
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if mid ** 3 - a > 0:
            hi = mid
        else:
            lo = mid
    x = 0.5 * (lo + hi)
    return x - (x ** 3 - a) / (3 * x ** 2)       # a Newton step carries the derivative


case("applied", bisect_cube_root, [(2.0,), (5.0,), (0.7,)])


def secant_sqrt(a, x0=1.0, x1=2.0):
    f0 = x0 * x0 - a
    f1 = x1 * x1 - a
    it = 0
    while abs(f1) > 1e-13 and it < 50:
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x0, f0 = x1, f1
        x1 = x2
        f1 = x1 * x1 - a
        it += 1
    return x1


case("applied", secant_sqrt, [(2.0,), (3.0,), (1.5,)])


GL_NODES, GL_WEIGHTS = np.polynomial.legendre.leggauss(5)


def gauss_legendre(a, b, c):
    mid = 0.5 * (a + b)
    half = 0.5 * (b - a)
    xs = mid + half * GL_NODES
    return half * np.sum(GL_WEIGHTS * np.exp(-c * xs * xs))


case("applied", gauss_legendre, [(0.0, 1.0, 1.0), (-1.0, 2.0, 0.5), (0.3, 0.9, 2.0)],
     wrt=(0, 1, 2))


def heat_steps(u0, alpha, steps=5):
    u = u0
    for _ in range(steps):
        lap = u[:-2] + u[2:] - 2 * u[1:-1]
        u = np.concatenate([u[:1], u[1:-1] + alpha * lap, u[-1:]])
    return np.sum(u ** 2)


case("applied", heat_steps, [(vec(6), 0.2), (vec(4), 0.4), (vec(8), 0.1)], wrt=(0, 1))


def norm_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def black_scholes(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + 0.5 * sigma ** 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * norm_cdf(d1) - K * math.exp(-r * T) * norm_cdf(d2)


case("applied", black_scholes, [(100.0, 95.0, 0.5, 0.02, 0.2), (50.0, 60.0, 1.0, 0.05, 0.3),
                                (10.0, 10.0, 2.0, 0.01, 0.5)], wrt=(0, 1, 2, 3, 4))


def logistic_l2(w, X, y, lam=0.1):
    z = X @ w
    ll = np.sum(y * z - np.logaddexp(0.0, z))
    return -ll / len(y) + lam * np.dot(w, w)


case("applied", logistic_l2, [(vec(3), vec((5, 3)), np.array([0.0, 1.0, 1.0, 0.0, 1.0])),
                              (vec(2), vec((4, 2)), np.array([0.0, 1.0, 1.0, 0.0])),
                              (vec(4), vec((6, 4)), np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0]))],
     wrt=(0, 1))


def gp_nll(log_ell, X, y, noise=0.1):
    ell = np.exp(log_ell)
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    K = np.exp(-0.5 * d2 / ell ** 2) + noise * np.eye(len(y))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(K, y)
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * y @ alpha + 0.25 * logdet + 0.5 * np.sum(np.log(np.diag(L)))


case("applied", gp_nll, [(0.0, vec((4, 2)), vec(4)), (0.5, vec((3, 1)), vec(3)),
                         (-0.3, vec((5, 2)), vec(5))], wrt=(0, 1, 2))


def linalg_mix(A, b):
    Ai = np.linalg.inv(A)
    return np.linalg.det(A) + np.linalg.norm(Ai @ b) + np.linalg.norm(A, "fro") ** 2


case("applied", linalg_mix, [(np.eye(3) * 2 + vec((3, 3)) * 0.3, vec(3)),
                             (np.eye(2) + vec((2, 2)) * 0.2, vec(2)),
                             (np.eye(4) * 3 + vec((4, 4)), vec(4))], wrt=(0, 1))


def det_singular(A):          # the cofactors at a singular matrix (inv raised there)
    return np.linalg.det(A) * np.linalg.det(A @ A.T + np.eye(len(A)))


case("applied", det_singular, [(np.array([[0.5, -1.0], [-1.0, 2.0]]),),
                               (np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),),
                               (np.eye(3) + vec((3, 3)) * 0.5,)])


def einsum_forms(W, x, y):
    return np.einsum("i,ij,j->", x, W, y) + np.einsum("ij,ij->", W, W)


case("applied", einsum_forms, [(vec((3, 2)), vec(3), vec(2)), (vec((2, 2)), vec(2), vec(2)),
                               (vec((4, 3)), vec(4), vec(3))], wrt=(0, 1, 2))


def einsum_batched(A, B):
    return np.sum(np.tanh(np.einsum("bij,bjk->bik", A, B)))


case("applied", einsum_batched, [(vec((2, 3, 2)), vec((2, 2, 4))), (vec((1, 2, 2)), vec((1, 2, 2))),
                                 (vec((3, 2, 3)), vec((3, 3, 1)))], wrt=(0, 1))


def piecewise_where(x):
    return np.sum(np.where(x > 0, x ** 2, np.where(x > -1, np.sin(x), -1.0 - x * 0.5)))


case("applied", piecewise_where, [(np.array([0.5, -0.5, -2.0]),), (np.array([1.5, -0.3]),),
                                  (np.array([2.1, -1.7, 0.4, -0.2, -2.8]),)])


def cumulative_ops(x):
    c = np.cumsum(x)
    p = np.cumprod(1.0 + 0.1 * x)
    d = np.diff(x)
    return np.sum(c * c) + p[-1] + np.sum(d ** 3)


case("applied", cumulative_ops, [(vec(4),), (vec(3),), (vec(6),)])


def clip_and_maximum(x, lo=-0.5, hi=0.5):
    return np.sum(np.clip(x, lo, hi) ** 2) + np.sum(np.maximum(x, 0.1) * x)


case("applied", clip_and_maximum, [(np.array([0.3, 0.7, -0.8, 0.0]),), (np.array([-0.2, 0.4]),),
                                   (np.array([1.3, -1.2, 0.05]),)])


def outer_kron(u, v):
    M = np.outer(u, v)
    K = np.kron(M, np.array([[1.0, 2.0], [0.5, -1.0]]))
    return np.sum(K * K) + np.trace(M @ M.T)


case("applied", outer_kron, [(vec(2), vec(3)), (vec(3), vec(3)), (vec(1), vec(2))], wrt=(0, 1))


def matrix_power_sum(A, n=3):
    return np.sum(np.linalg.matrix_power(A, n))


case("applied", matrix_power_sum, [(vec((2, 2)),), (vec((3, 3)),), (vec((4, 4)),)])


def robust_stats(x, k=1):
    s = np.sort(x)
    return np.mean(s[k:len(s) - k]) + np.median(x) + np.percentile(x, 75)


case("applied", robust_stats, [(np.array([0.3, -1.0, 2.0, 0.8, 1.7]),),
                               (np.array([0.1, 0.5, 0.2, 0.9]),),
                               (np.array([3.0, 1.0, 2.0, 5.0, 4.0, 0.0]),)])


def loss_by_name(x, y, kind="mse"):
    r = x - y
    if kind == "mse":
        return np.mean(r ** 2)
    elif kind == "mae":
        return np.mean(np.abs(r))
    return np.mean(np.log(np.cosh(r)))


case("applied", loss_by_name, [(vec(3), vec(3), "mse"), (vec(3), vec(3), "mae"),
                               (vec(4), vec(4), "logcosh")], wrt=(0, 1))


def smooth_l1(r, beta=1.0):
    a = abs(r)
    if a < beta:
        return 0.5 * a * a / beta
    return a - 0.5 * beta


def robust_line_fit(a, b, xs, ys):
    total = 0.0
    for x, y in zip(xs, ys):
        total += smooth_l1(a * x + b - y, beta=0.5)
    return total


case("applied", robust_line_fit, [(0.5, 0.1, [0.0, 1.0, 2.0], [0.2, 0.4, 1.9]),
                                  (1.0, -0.3, [1.0, 2.0], [0.0, 3.0]),
                                  (-0.4, 0.8, [0.5, -0.5, 1.5], [0.2, 1.1, -0.5])], wrt=(0, 1))


def early_returns(x, y):
    if x < 0:
        return -x * y
    for _ in range(3):
        x = x * 0.9 + y
        if x > 5:
            return x * x
    return x + y * y


case("applied", early_returns, [(-1.0, 2.0), (1.0, 2.0), (0.5, 0.1)], wrt=(0, 1))


POLY_COEFS = np.array([1.0, -0.5, 0.25, 0.1])
POLY_SCALE = 2.0


def poly_of_globals(x):
    acc = 0.0
    for i, c in enumerate(POLY_COEFS):
        acc += c * x ** i
    return POLY_SCALE * acc


case("applied", poly_of_globals, [(0.3,), (1.5,), (-2.0,)])


def closure_loss(w, xs):
    def pred(x):
        return np.tanh(w[0] * x + w[1])
    return sum((pred(x) - 0.5 * x) ** 2 for x in xs)


case("applied", closure_loss, [(vec(2), [0.1, 0.5, -0.3]), (vec(2), [1.0, 2.0]),
                               (vec(2), [0.0, 0.3, -0.9, 1.2])])


def softmax_xent(W, X, labels):
    logits = X @ W
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


case("applied", softmax_xent, [(vec((3, 4)), vec((5, 3)), np.array([0, 1, 3, 2, 1])),
                               (vec((2, 2)), vec((3, 2)), np.array([1, 0, 1])),
                               (vec((4, 3)), vec((2, 4)), np.array([2, 2]))], wrt=(0, 1))


def layernorm_mlp(W1, b1, W2, x):
    h = x @ W1 + b1
    mu = h.mean(axis=-1, keepdims=True)
    var = h.var(axis=-1, keepdims=True)
    h = (h - mu) / np.sqrt(var + 1e-5)
    h = np.maximum(h, 0.0) + 0.01 * np.minimum(h, 0.0)
    return np.sum((h @ W2) ** 2)


case("applied", layernorm_mlp, [(vec((3, 4)), vec(4), vec((4, 2)), vec((5, 3))),
                                (vec((2, 3)), vec(3), vec((3, 1)), vec((2, 2))),
                                (vec((3, 5)), vec(5), vec((5, 2)), vec((1, 3)))],
     wrt=(0, 1, 2, 3))


def mvn_logpdf(mu, x, A):
    S = A @ A.T + np.eye(len(mu))
    L = np.linalg.cholesky(S)
    z = np.linalg.solve(L, x - mu)
    return -0.5 * z @ z - np.sum(np.log(np.diag(L))) - 0.5 * len(mu) * np.log(2 * np.pi)


case("applied", mvn_logpdf, [(vec(3), vec(3), vec((3, 3))), (vec(2), vec(2), vec((2, 2))),
                             (vec(4), vec(4), vec((4, 4)))], wrt=(0, 1, 2))


def simpson(a, b, n=8):
    xs = np.linspace(a, b, n + 1)
    ys = np.exp(-xs ** 2)
    h = (b - a) / n
    return h / 3 * (ys[0] + ys[-1] + 4 * np.sum(ys[1:-1:2]) + 2 * np.sum(ys[2:-1:2]))


case("applied", simpson, [(0.0, 1.0), (-1.0, 0.5), (0.2, 2.0)], wrt=(0, 1))


def polyfit_residual(y, xs):        # np.vander (was MissingRuleError)
    A = np.vander(xs, 3)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r = A @ coef - y
    return r @ r + np.sum(np.vander(xs * y, 4, increasing=True) ** 2)


case("applied", polyfit_residual, [(vec(5), np.linspace(0, 1, 5)), (vec(4), np.linspace(-1, 1, 4)),
                                   (vec(6), np.linspace(0, 2, 6))], wrt=(0, 1))


def lennard_jones(pos):
    n = pos.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r2 = np.sum((pos[i] - pos[j]) ** 2)
            inv6 = 1.0 / r2 ** 3
            e += 4.0 * (inv6 * inv6 - inv6)
    return e


case("applied", lennard_jones, [(np.array([[0.0, 0.0], [1.1, 0.0], [0.5, 1.0]]),),
                                (np.array([[0.0, 0.0, 0.0], [1.2, 0.1, 0.0]]),),
                                (np.array([[0.0, 0.0], [1.0, 0.2], [2.1, 0.0], [1.0, 1.3]]),)])


def pair_energy(pos):
    d = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(d * d, axis=-1) + np.eye(len(pos))
    return np.sum(np.triu(1.0 / r2, k=1))


case("applied", pair_energy, [(vec((3, 2)),), (vec((4, 3)),), (vec((2, 2)),)])


def ema_loss(alpha, xs):
    s = xs[0]
    out = []
    for x in xs[1:]:
        s = alpha * x + (1 - alpha) * s
        out.append(s)
    return sum((o - x) ** 2 for o, x in zip(out, xs[1:]))


case("applied", ema_loss, [(0.3, [1.0, 2.0, 0.5, 1.5]), (0.7, [0.0, 1.0, 0.0]),
                           (0.5, [2.0, -1.0, 0.5, 0.3, 0.1])])


def ridge_closed_form(lam, X, y):
    w = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)
    return np.sum((X @ w - y) ** 2) + lam * w @ w


case("applied", ridge_closed_form, [(0.5, vec((5, 3)), vec(5)), (1.0, vec((4, 2)), vec(4)),
                                    (0.1, vec((6, 3)), vec(6))], wrt=(0, 1, 2))


def pearson_and_stats(x, y):     # np.corrcoef (was MissingRuleError)
    c = np.cov(x, y)
    return np.std(x) + np.var(y, ddof=1) + c[0, 1] + np.corrcoef(x, y)[0, 1]


case("applied", pearson_and_stats, [(vec(5), vec(5)), (vec(4), vec(4)), (vec(6), vec(6))],
     wrt=(0, 1))


def smallest_eigenvalue(A):
    w = np.linalg.eigvalsh(A + A.T)
    return w[0] + np.sum(w ** 2)


case("applied", smallest_eigenvalue, [(vec((3, 3)),), (vec((2, 2)),), (vec((4, 4)),)])


def chained_products(a, b):      # np.linalg.multi_dot (was MissingRuleError)
    M = np.stack([a, b, a * b])
    H = np.hstack([a, b])
    return (np.sum(M @ M.T) + np.sum(np.linalg.multi_dot([M.T, M, M.T]) ** 2) * 0.01
            + np.linalg.multi_dot([a, M.T, M, b]) + H @ H)


case("applied", chained_products, [(vec(3), vec(3)), (vec(2), vec(2)), (vec(4), vec(4))],
     wrt=(0, 1))


def distances(x, y):             # math.dist, math.hypot of 3 (were MissingRuleError)
    return (math.dist((x, y), (1.0, 2.0)) + math.fsum([x, y, x * y])
            + math.prod([x, y, 2.0]) + math.hypot(x, y, 1.0))


case("applied", distances, [(0.5, 0.3), (2.0, -1.0), (-1.5, 4.0)], wrt=(0, 1))


def gaussian_on_grid(a, b):      # np.meshgrid (was MissingRuleError)
    xs = np.linspace(0, 1, 4)
    X, Y = np.meshgrid(xs * b, xs)
    return np.sum(np.exp(-a * X ** 2 - b * Y ** 2))


case("applied", gaussian_on_grid, [(1.0, 2.0), (0.5, 0.3), (2.0, 1.0)], wrt=(0, 1))


def map_of_lambda(xs, a):        # map(lambda ...) (was UnsupportedSyntaxError)
    ys = list(map(lambda v: a * v * v, xs))
    return sum(ys, 0.0) + max(ys) - min(xs) * a


case("applied", map_of_lambda, [([1.0, 2.0, 3.0], 0.5), ([0.3, -0.2], 1.5), ([1.0, -4.0], 2.0)],
     wrt=1)


def shadowed_builtins(x):
    sum = 0.0
    for v in x:
        sum += v * v
    max = 2.0
    return sum * max


case("applied", shadowed_builtins, [(vec(3),), (vec(2),), (vec(4),)])


def annotated_locals(x: np.ndarray, a: float = 2.0) -> float:
    y: np.ndarray = x * a
    total: float = 0.0
    total += float(np.sum(y ** 2))
    return total


case("applied", annotated_locals, [(vec(3), 2.0), (vec(2), 0.5), (vec(4), -1.0)], wrt=(0, 1))


def column_updates(A, v):
    B = A.copy()
    for i in range(B.shape[1]):
        B[:, i] += v * (i + 1)
        B[i % B.shape[0], :] *= 0.5
    return np.sum(B ** 2)


case("applied", column_updates, [(vec((3, 3)), vec(3)), (vec((2, 3)), vec(2)),
                                 (vec((4, 2)), vec(4))], wrt=(0, 1))


def nested_lists(x, y):
    M = [[x, y], [y * y, x]]
    A = np.array(M)
    rows = [sum(r) for r in M]
    return np.linalg.det(A) + rows[0] * rows[1] + M[1][0]


case("applied", nested_lists, [(0.5, 0.3), (1.0, -1.0), (-1.5, 2.0)], wrt=(0, 1))


def sgd_unrolled(w0, X, y, lr=0.1, steps=5):
    w = w0
    for _ in range(steps):
        r = X @ w - y
        w = w - lr * X.T @ r / len(y)
    return np.sum((X @ w - y) ** 2)


case("applied", sgd_unrolled, [(vec(3), vec((5, 3)), vec(5)), (vec(2), vec((4, 2)), vec(4)),
                               (vec(3), vec((3, 3)), vec(3))], wrt=(0, 1, 2))


def dict_accumulate(x, y):
    d = {"a": x * y, "b": x + y}
    d["c"] = d["a"] * 2
    total = 0.0
    for k in d:
        total += d[k] ** 2
    return total + sum(d.values())


case("applied", dict_accumulate, [(0.5, 0.3), (1.0, -1.0), (-1.5, 2.0)], wrt=(0, 1))


def dict_item_decay(x, params):
    # an item of a dict argument of floats, updated in place: a float, not the dict's
    v = params["b"]
    for _ in range(3):
        v *= params["decay"]
        v += x * params["w"]
    return v * x


case("applied", dict_item_decay, [(0.5, {"b": 0.3, "decay": 0.9, "w": 2.0}),
                                  (1.2, {"b": -1.0, "decay": np.float64(0.5), "w": 1}),
                                  (-0.8, {"b": 2, "decay": 1.1, "w": -0.4})])


def softmax_entropy(x, T):
    z = x / T
    z = z - np.max(z)
    p = np.exp(z) / np.sum(np.exp(z))
    return float(-np.sum(p * np.log(p)))


case("applied", softmax_entropy, [(vec(4), 0.5), (vec(3), 2.0), (vec(5), 1.0)], wrt=(0, 1))


def expm_trace_eigh(A, t):
    w, Q = np.linalg.eigh(A + A.T)
    return np.trace(Q @ np.diag(np.exp(w * t)) @ Q.T)


case("applied", expm_trace_eigh, [(vec((3, 3)), 0.5), (vec((2, 2)), 1.0), (vec((3, 3)), -0.3)],
     wrt=(0, 1))


def set_diagonal(A, v):
    B = A.copy()
    i = np.arange(A.shape[0])
    B[i, i] = v
    return np.sum(B ** 2 * 0.5) + np.trace(B @ A)


case("applied", set_diagonal, [(vec((3, 3)), vec(3)), (vec((2, 2)), vec(2)),
                               (vec((4, 4)), vec(4))], wrt=(0, 1))


def batched_solve(A, b):
    return np.sum(np.linalg.solve(A, b[..., None]) ** 2) + np.sum(np.linalg.inv(A))


case("applied", batched_solve, [(vec((2, 3, 3)) + 3 * np.eye(3), vec((2, 3))),
                                (vec((1, 2, 2)) + 2 * np.eye(2), vec((1, 2))),
                                (vec((3, 2, 2)) + 2 * np.eye(2), vec((3, 2)))], wrt=(0, 1))


def rows_loop(X, w):
    out = np.zeros(X.shape[0])
    for i, row in enumerate(X):
        out[i] = np.tanh(row @ w)
    total = 0.0
    for a, b in zip(out, out[1:]):
        total += (a - b) ** 2
    return total + np.sum(out)


case("applied", rows_loop, [(vec((3, 2)), vec(2)), (vec((4, 3)), vec(3)), (vec((2, 2)), vec(2))],
     wrt=(0, 1))


def horner_backwards(x, a):
    s = 0.0
    for i in range(len(x) - 1, -1, -1):
        s = s * a + x[i]
    for i in reversed(range(len(x))):
        s = s + x[i] * a ** i
    return s


case("applied", horner_backwards, [(vec(3), 0.5), (vec(4), -1.2), (vec(2), 2.0)], wrt=(0, 1))


def modular_parts(x, y):
    q, r = divmod(x, y)
    return (x % 1.0) * y + r * x + q * y + math.fmod(x, 0.7) * y


case("applied", modular_parts, [(2.3, 0.7), (5.1, 1.3), (-1.7, 0.6)], wrt=(0, 1))


def skip_and_stop(xs, a):
    s = 0.0
    for i, v in enumerate(xs):
        if v < 0:
            continue
        if i > 3:
            break
        s += a * v ** 2
    return s


case("applied", skip_and_stop, [([1.0, -2.0, 3.0, 0.5, 4.0, 2.0], 0.5), ([0.3, 1.2], -1.5),
                                ([-1.0, -2.0, 1.0], 0.4)], wrt=1)


def defaults_in_loop(x):         # def term(v, k=k) in a loop (was TypeError)
    total = 0.0
    for k in range(3):
        def term(v, k=k):
            return v ** (k + 1) / (k + 1)
        total += term(x)
    return total


case("applied", defaults_in_loop, [(0.5,), (1.5,), (-0.7,)])


def stable_softplus(x):
    return np.sum(np.where(x > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x))))


case("applied", stable_softplus, [(vec(3, -5.0, 5.0),), (np.array([3.0, -4.0]),), (vec(4),)])


def table_lookup(xs, ys, t):
    for i in range(len(xs) - 1):
        if xs[i] <= t < xs[i + 1]:
            w = (t - xs[i]) / (xs[i + 1] - xs[i])
            return (1 - w) * ys[i] + w * ys[i + 1]
    return ys[-1]


case("applied", table_lookup, [(np.array([0.0, 1.0, 2.0]), vec(3), 0.5),
                               (np.array([0.0, 1.0, 2.0]), vec(3), 1.3),
                               (np.array([0.0, 1.0]), vec(2), 1.7)], wrt=(1, 2))


def gram_schmidt(A):
    Q = []
    for j in range(A.shape[1]):
        v = A[:, j]
        for q in Q:
            v = v - (q @ v) * q
        Q.append(v / np.linalg.norm(v))
    Qm = np.stack(Q, axis=1)
    return np.sum(Qm * A) + np.sum(Qm[0] ** 3)


case("applied", gram_schmidt, [(vec((3, 3)),), (vec((4, 2)),), (vec((3, 2)),)])


def hmm_forward(logits, trans):
    alpha = logits[0]
    for t in range(1, logits.shape[0]):
        m = alpha[:, None] + trans
        mx = np.max(m, axis=0)
        alpha = mx + np.log(np.sum(np.exp(m - mx), axis=0)) + logits[t]
    mx = np.max(alpha)
    return mx + np.log(np.sum(np.exp(alpha - mx)))


case("applied", hmm_forward, [(vec((3, 2)), vec((2, 2))), (vec((4, 3)), vec((3, 3))),
                              (vec((2, 2)), vec((2, 2)))], wrt=(0, 1))


def viterbi_score(logits, trans):
    score = logits[0]
    for t in range(1, logits.shape[0]):
        score = np.max(score[:, None] + trans, axis=0) + logits[t]
    return np.max(score)


case("applied", viterbi_score, [(vec((3, 2)), vec((2, 2))), (vec((4, 3)), vec((3, 3))),
                                (vec((2, 2)), vec((2, 2)))], wrt=(0, 1))


def conv2d_valid(img, k):
    H, W = img.shape
    kh, kw = k.shape
    out = np.zeros((H - kh + 1, W - kw + 1))
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            out[i, j] = np.sum(img[i:i + kh, j:j + kw] * k)
    return np.sum(np.tanh(out))


case("applied", conv2d_valid, [(vec((4, 4)), vec((2, 2))), (vec((3, 5)), vec((2, 3))),
                               (vec((3, 3)), vec((3, 3)))], wrt=(0, 1))


def max_pool(x):
    n = x.shape[0] // 2
    out = np.zeros(n)
    for i in range(n):
        out[i] = max(x[2 * i], x[2 * i + 1])
    return np.sum(out ** 2)


case("applied", max_pool, [(vec(4),), (vec(6),), (vec(2),)])


def ar2_loss(phi, y):
    resid = y[2:] - phi[0] * y[1:-1] - phi[1] * y[:-2]
    return 0.5 * np.sum(resid ** 2) / len(resid)


case("applied", ar2_loss, [(vec(2), vec(6)), (vec(2), vec(8)), (vec(2), vec(4))], wrt=(0, 1))


def log_barrier(x, t=10.0):
    return t * np.sum(x ** 2) - np.sum(np.log(1.0 - x)) - np.sum(np.log(1.0 + x))


case("applied", log_barrier, [(vec(3, -0.9, 0.9),), (vec(2, -0.9, 0.9),), (vec(4, -0.9, 0.9),)])


def rbf_kernel_sum(P, Q, ell):   # np.subtract.outer (was MissingRuleError)
    D = np.subtract.outer(P[:, 0], Q[:, 0]) ** 2 + np.subtract.outer(P[:, 1], Q[:, 1]) ** 2
    return np.sum(np.exp(-D / ell ** 2)) + np.add.reduce(np.maximum.reduce(P, axis=1))


case("applied", rbf_kernel_sum, [(vec((3, 2)), vec((4, 2)), 0.7), (vec((2, 2)), vec((2, 2)), 1.3),
                                 (vec((4, 2)), vec((1, 2)), 0.4)], wrt=(0, 1, 2))


def kkt_solve(A, b):             # np.block (was MissingRuleError)
    K = np.block([[A @ A.T + np.eye(len(b)), b[:, None]], [b[None, :], np.zeros((1, 1))]])
    return np.sum(np.linalg.solve(K, np.concatenate([b, [1.0]])) ** 2)


case("applied", kkt_solve, [(vec((2, 2)), vec(2)), (vec((3, 3)), vec(3)), (vec((2, 3)), vec(2))],
     wrt=(0, 1))


def quantile_spread(x):          # quantile methods other than linear (were RuleLimitError)
    return (np.percentile(x, 90, method="nearest") - np.quantile(x, 0.1, method="lower")
            + np.quantile(x, [0.25, 0.75], method="midpoint").sum() * np.median(x))


case("applied", quantile_spread, [(vec(5),), (vec(7),), (vec(6),)])


def pairwise_energy(pos, k):     # itertools.combinations, pairwise (were MissingRuleError)
    e = 0.0
    for p, q in itertools.combinations(pos, 2):
        r2 = np.sum((p - q) ** 2)
        e += 1.0 / r2 ** 6 - 1.0 / r2 ** 3
    for p, q in itertools.pairwise(pos):
        e += k * np.sum((p - q) ** 2)
    return e


case("applied", pairwise_energy, [(np.array([[0.0, 0.0], [1.1, 0.0], [0.5, 1.0]]), 0.3),
                                  (np.array([[0.0, 0.0, 0.0], [1.2, 0.1, 0.0]]), 1.0),
                                  (np.array([[0.0, 0.0], [1.0, 0.2], [2.1, 0.0]]), -0.5)],
     wrt=(0, 1))


def typed_loss(w: np.ndarray, x: np.ndarray) -> float:      # typing.cast (was MissingRuleError)
    z = cast(np.ndarray, x @ w)
    return cast(float, np.sum(np.tanh(z) ** 2))


case("applied", typed_loss, [(vec(3), vec((4, 3))), (vec(2), vec((2, 2))), (vec(4), vec((1, 4)))],
     wrt=(0, 1))


# ---------------------------------------------------------------------------
# *args helpers (were refused: "*args or **kwargs parameter") and reversed(...) read
# where it is made (was MissingRuleError)


def _weighted_norm(scale, *vs):
    s = 0.0
    for i, v in enumerate(vs):
        s = s + (i + 1.0) * v * v
    return scale * s


def varargs_helper_calls(x, y):
    pair = (x, y * x)
    return _weighted_norm(y, x, y, x * y) + _weighted_norm(2.0, *pair) + _weighted_norm(x)


case("calls", varargs_helper_calls, [(1.0, 2.0), (-0.5, 0.7), (1.3, -1.1)], wrt=(0, 1))


def _stack_energy(*rows):
    return sum(np.sum(r * r) for r in rows) + np.sum(rows[0] * rows[-1])


def varargs_array_helper(a, b):
    return _stack_energy(a, b, a * b) + _stack_energy(*[b, np.sin(a)][::-1])


case("calls", varargs_array_helper, [(vec(3), vec(3)), (vec(2), vec(2)), (vec(4), vec(4))],
     wrt=(0, 1))


def horner_reversed(c, x):
    s = 0.0
    for i, ci in enumerate(reversed(c)):
        s = s + ci * x ** i
    return s + sum(u * v for u, v in zip(c, reversed(c)))


case("loops", horner_reversed, [(np.array([1.0, -2.0, 0.5]), 0.7), (vec(2), -1.2),
                                (vec(4), 1.1)], wrt=(0, 1))


# ---------------------------------------------------------------------------
# lst.extend, lst.insert, lst.reverse (were refused: a call for its side effects)


def window_features(w, xs):      # lst.extend, lst.insert, lst.reverse of a list it builds
    hist = [w]
    for i in range(len(xs)):
        hist.extend([w * xs[i], math.sin(xs[i] + w)])
        hist.insert(1, xs[i] * xs[i] * w)
    hist.reverse()
    s = 0.0
    for k, h in enumerate(hist):
        s = s + h * h / (k + 1.0)
    return s


case("applied", window_features, [(0.3, np.array([1.0, 2.0, 0.5])),
                                  (-0.7, np.array([0.2, -0.4, 0.9])),
                                  (1.1, np.array([0.9, 0.1, -0.3, 0.5]))], wrt=(0, 1))


def reversed_layers(W, v):       # a generator extends a list of arrays; reverse; insert
    rows = [v]
    rows.extend(np.tanh(W[i] * v) for i in range(len(W)))
    rows.reverse()
    rows.insert(-1, W[0] * W[-1])
    total = 0.0
    for k, r in enumerate(rows):
        total = total + (k + 1.0) * np.sum(r * rows[0])
    return total


case("applied", reversed_layers, [(vec((3, 2)), vec(2)), (vec((2, 3)), vec(3)),
                                  (vec((4, 2)), vec(2))], wrt=(0, 1))


def _scaled_pair(a, b):
    return (a * b, math.exp(-a * a))


def spliced_series(a, b):        # extend by a tuple a helper returns, then by itself
    out = [a]
    out.extend(_scaled_pair(a, b))
    out.extend(out)
    out.insert(2, b * b)
    return sum(v * (i + 1.0) for i, v in enumerate(out)) + out[-1] * out[0]


case("applied", spliced_series, [(0.3, 1.2), (-0.8, 0.5), (1.4, -0.6)], wrt=(0, 1))
