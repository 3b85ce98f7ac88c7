"""A corpus of plain functions for checking gradients against finite differences.

Every function is a module-level ``def`` (so ``inspect.getsource`` reads it)
followed by a ``case(...)`` line registering the points to check it at and the
``wrt`` to use. Points stay away from kinks (abs at 0, ties of max/min, branch
boundaries), where finite differences and the chosen conventions disagree.

``CASES`` is the list of :class:`Case` entries, in file order; ``Case.tag`` is
``group/name`` and becomes the pytest id.
"""

from __future__ import annotations

import math
from typing import NamedTuple

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
