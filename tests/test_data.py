"""Data in real user code: tuples, subscripts, slices, in-place writes, lists built
with append, comprehensions, array methods, and non-differentiable helpers.

Every gradient is compared with central finite differences at several points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from gradcheck import assert_grad_matches, numerical_grad

import s2sad


def rand(seed, *shape, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


SEEDS = [0, 1, 2]



def copying(func):
    """``func`` on fresh copies of its array arguments (for functions writing into them)."""
    def run(*args):
        return func(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    return run


# ---------------------------------------------------------------------------
# Tuple packing and unpacking


def fib_like(x, y, n):
    a, b = x, y
    for _ in range(n):
        a, b = b, a + b
    return b


def rotate(x, y, theta):
    """Repeated rotation by tuple assignment: the right side is read before any store."""
    c, s = math.cos(theta), math.sin(theta)
    for _ in range(3):
        x, y = c * x - s * y, s * x + c * y
    return x * x + 3.0 * y


def polar(x, y):
    return math.hypot(x, y), math.atan2(y, x)


def uses_polar(x, y):
    r, phi = polar(x, y)
    return r * math.sin(phi) + r * r


def min_max(a, b):
    if a < b:
        return a, b
    return b, a


def uses_min_max(x, y):
    lo, hi = min_max(x * x, y)
    return lo * 2.0 + math.exp(hi)


def pack_unpack(x, y):
    t = (x * y, x + y, 2.0)
    p, q, r = t
    u = t[0] - t[-1]
    return p * q * r + u


@pytest.mark.parametrize("x,y", [(0.3, 0.5), (1.0, -2.0), (-0.7, 1.1)])
@pytest.mark.parametrize("n", [0, 1, 6])
def test_fibonacci_recurrence(x, y, n):
    g = assert_grad_matches(fib_like, (x, y, n), wrt=(0, 1))
    # b_n = F(n-1) x + F(n) y (F(-1) = 1, F(0) = 0 ... shifted): check exactly
    a, b = (1.0, 0.0), (0.0, 1.0)
    for _ in range(n):
        a, b = b, (a[0] + b[0], a[1] + b[1])
    assert g == (b[0], b[1])


@pytest.mark.parametrize("x,y,theta", [(1.0, 0.0, 0.3), (0.5, -1.2, 1.1), (-2.0, 0.4, -0.6)])
def test_rotation_tuple_swap(x, y, theta):
    assert_grad_matches(rotate, (x, y, theta), wrt=(0, 1, 2))


@pytest.mark.parametrize("x,y", [(1.0, 0.5), (-0.3, 2.0), (0.8, -0.9)])
def test_helper_returning_tuple(x, y):
    g = assert_grad_matches(uses_polar, (x, y), wrt=(0, 1))
    # r sin(phi) = y, r^2 = x^2 + y^2
    assert g == pytest.approx((2 * x, 1.0 + 2 * y), rel=1e-12)


@pytest.mark.parametrize("x,y", [(0.5, 2.0), (1.5, 0.3), (-2.0, 1.0), (0.1, -1.0)])
def test_helper_returning_tuple_from_branches(x, y):
    assert_grad_matches(uses_min_max, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("x,y", [(0.5, 2.0), (1.5, -0.3), (-2.0, 1.0)])
def test_pack_unpack_and_index_tuple(x, y):
    g = assert_grad_matches(pack_unpack, (x, y), wrt=(0, 1))
    assert g == pytest.approx((2 * (2 * x * y + y * y) + y, 2 * (x * x + 2 * x * y) + x))


# ---------------------------------------------------------------------------
# Subscript reads: x[i], x[i, j], slices, negative indices


def read_items(x):
    return x[0] * x[2] + x[-1] ** 2 - math.sin(x[-3])


def read_2d(m):
    return m[0, 1] * m[1, 0] + m[-1, -1] ** 3 + np.sum(m[1]) * m[0][2]


def read_slices(x):
    a = x[1:3]
    b = x[:-1] * x[1:]
    c = x[::2]
    return np.sum(a * a) + np.sum(b) + np.sum(np.sin(c)) + np.sum(x[-2:]) * x[0]


def read_2d_slices(m):
    col = m[:, 1]
    block = m[1:, :2]
    return np.sum(col ** 2) + np.sum(block * m[:-1, 1:]) + np.sum(m[::-1, 0] * m[:, 0])


def read_run_time_index(x, i, j):
    if i < j:
        return x[i] * x[j] + x[i:j].sum()
    return x[i] - x[j] * x[i - 1]


def read_list(x, y):
    v = [x, y * y, x * y]
    return v[0] * v[-1] + v[1] - v[-2] * v[2]


def read_list_slice(x, y):
    v = [x, y, x * y, 3.0]
    w = v[1:3]
    return w[0] * w[1] + v[-1] * v[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_read_items(seed):
    x = rand(seed, 5)
    g = assert_grad_matches(read_items, (x,))
    want = np.zeros(5)
    want[0], want[2] = x[2], x[0] - math.cos(x[2])
    want[4] = 2 * x[4]
    np.testing.assert_allclose(g, want, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_read_2d(seed):
    assert_grad_matches(read_2d, (rand(seed, 3, 3),))


@pytest.mark.parametrize("seed", SEEDS)
def test_read_slices(seed):
    assert_grad_matches(read_slices, (rand(seed, 6),))


@pytest.mark.parametrize("seed", SEEDS)
def test_read_2d_slices(seed):
    assert_grad_matches(read_2d_slices, (rand(seed, 3, 3),))


@pytest.mark.parametrize("i,j", [(0, 3), (1, 4), (3, 1), (-1, 0)])
def test_read_run_time_index(i, j):
    assert_grad_matches(read_run_time_index, (rand(7, 5), i, j))


@pytest.mark.parametrize("x,y", [(0.5, 2.0), (1.5, -0.3), (-2.0, 1.0)])
def test_read_list(x, y):
    g = assert_grad_matches(read_list, (x, y), wrt=(0, 1))
    # x*x*y + y*y - y*y*x*y
    assert g == pytest.approx((2 * x * y - y ** 3, x * x + 2 * y - 3 * x * y * y), rel=1e-12)


@pytest.mark.parametrize("x,y", [(0.5, 2.0), (1.5, -0.3), (-2.0, 1.0)])
def test_read_list_slice(x, y):
    assert_grad_matches(read_list_slice, (x, y), wrt=(0, 1))


# ---------------------------------------------------------------------------
# In-place writes


def write_item(x, v):
    a = x * 2.0
    a[1] = v * v
    a[-1] = a[0] * v
    return np.sum(a * a)


def augmented_item(x, v):
    a = x * 1.0
    a[0] += v
    a[2] -= a[1] * v
    a[1] *= a[0]
    return np.sum(np.sin(a))


def write_row(m, row):
    a = m * 1.0
    a[1, :] = row * 2.0
    a[0] = a[2] * row
    return np.sum(a ** 2)


def scale_slice(x):
    a = x * x
    a[1:3] *= 2.0
    a[-2:] += x[:2]
    return np.sum(a * x)


def overwrite_cyclic(x):
    a = np.zeros(3)
    for k in range(len(x)):
        a[k % 3] = a[k % 3] * 0.5 + x[k]
    return np.sum(a * a)


def fill_zeros(x):
    out = np.zeros(len(x) - 1)
    for i in range(len(x) - 1):
        out[i] = x[i + 1] * x[i] - math.sin(x[i])
    return np.sum(out ** 2)


def fill_2d(x):
    n = len(x)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = x[i] * x[j] + (i - j)
    return np.sum(np.tanh(out))


def write_into_input(x, y):
    x[0] = y * 3.0
    x[1] += y
    x[2:] *= y
    return np.sum(x * x)


def write_into_input_loop(x):
    for i in range(1, len(x)):
        x[i] = x[i - 1] * 0.5 + x[i]
    return np.sum(x ** 3)


def write_into_input_2d(m):
    m[0, :] = m[1, :] * m[2, :]
    m[:, 1] += 1.0
    return np.sum(m * m)


def write_constant(x):
    a = x * 1.0
    a[0] = 2.0
    a[2] = 0.0
    return np.sum(a * x)


def write_list(x, y):
    v = [x, y, 0.0]
    v[2] = v[0] * v[1]
    v[0] += y
    v[1] = v[1] * v[1]
    return v[0] * v[1] + v[2]


@pytest.mark.parametrize("seed", SEEDS)
def test_write_item(seed):
    assert_grad_matches(write_item, (rand(seed, 4), 0.3 + seed), wrt=(0, 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_augmented_item(seed):
    assert_grad_matches(augmented_item, (rand(seed, 4), 0.7 - seed), wrt=(0, 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_write_row(seed):
    assert_grad_matches(write_row, (rand(seed, 3, 3), rand(seed + 10, 3)), wrt=(0, 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_scale_slice(seed):
    assert_grad_matches(scale_slice, (rand(seed, 5),))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [1, 3, 8])
def test_overwrite_same_element_in_loop(seed, n):
    x = rand(seed, n)
    g = assert_grad_matches(overwrite_cyclic, (x,))
    a = np.zeros(3)
    for k in range(n):
        a[k % 3] = a[k % 3] * 0.5 + x[k]
    # x[k] reaches a[k % 3] scaled by 0.5 per later write to the same slot
    later = np.array([len(range(k + 3, n, 3)) for k in range(n)])
    np.testing.assert_allclose(g, 2 * a[np.arange(n) % 3] * 0.5 ** later, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_fill_zeros_in_loop(seed):
    assert_grad_matches(fill_zeros, (rand(seed, 5),))


@pytest.mark.parametrize("seed", SEEDS)
def test_fill_2d_in_loop(seed):
    assert_grad_matches(fill_2d, (rand(seed, 3),))


@pytest.mark.parametrize("seed", SEEDS)
def test_write_constant_kills_gradient(seed):
    x = rand(seed, 4)
    g = assert_grad_matches(write_constant, (x,))
    want = 2 * x
    want[0], want[2] = 2.0, 0.0
    np.testing.assert_allclose(g, want, rtol=1e-12)


@pytest.mark.parametrize("x,y", [(0.5, 2.0), (1.5, -0.3), (-2.0, 1.0)])
def test_write_list(x, y):
    g = assert_grad_matches(write_list, (x, y), wrt=(0, 1))
    # (x + y) y^2 + x y
    assert g == pytest.approx((y * y + y, x * 2 * y + 3 * y * y + x), rel=1e-12)


@pytest.mark.parametrize("func,args,wrt", [
    (write_into_input, (rand(0, 5), 0.7), (0, 1)),
    (write_into_input, (rand(1, 3), -1.3), (0, 1)),
    (write_into_input_loop, (rand(2, 6),), 0),
    (write_into_input_2d, (rand(3, 3, 3),), 0),
    (write_item, (rand(4, 4), 0.5), (0, 1)),
])
def test_inputs_not_mutated(func, args, wrt):
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    value_before = copying(func)(*args)
    got = s2sad.grad(func, wrt=wrt)(*args)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    want = numerical_grad(copying(func), args, wrt)
    got, want = (got, want) if isinstance(wrt, tuple) else ((got,), (want,))
    for i, g, w in zip(wrt if isinstance(wrt, tuple) else (wrt,), got, want):
        assert np.shape(g) == np.shape(args[i])
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    vg = s2sad.value_and_grad(func, wrt=wrt)
    value, _ = vg(*args)
    assert value == pytest.approx(value_before, rel=1e-12)
    s2sad.grad(func, wrt=wrt)(*args)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)


def test_primal_still_mutates():
    """Sanity check that the fixture really writes into its input when run plainly."""
    x = np.array([1.0, 2.0, 3.0])
    write_into_input(x, 2.0)
    assert x.tolist() == [6.0, 4.0, 6.0]


# ---------------------------------------------------------------------------
# Lists built with append, comprehensions, generator expressions


def append_then_index(x, n):
    vals = []
    v = x
    for _ in range(n):
        v = math.sin(v) + x
        vals.append(v)
    s = 0.0
    for i in range(len(vals)):
        s = s + vals[i] * (i + 1)
    return s + vals[-1] * vals[0]


def append_arrays(x):
    rows = []
    for k in range(3):
        rows.append(x * (k + 1.0))
    return np.sum(rows[0] * rows[2]) + np.sum(rows[1]) * len(rows)


def append_mixed(x):
    acc = []
    for i in range(len(x)):
        if x[i] > 0.0:
            acc.append(x[i] ** 2)
        else:
            acc.append(-x[i])
    total = 0.0
    for i in range(len(acc)):
        total = total + acc[i] * len(acc) * (i + 1)
    return total


def iterate_appended(x):
    acc = []
    for i in range(len(x)):
        acc.append(x[i] * x[i])
    total = 0.0
    for a in acc:
        total = total + math.sin(a)
    return total


def list_comp(x):
    sq = [v * v for v in x]
    return sq[0] + sq[-1] * 2.0 + len(sq)


def list_comp_range(x, n):
    terms = [x ** k / math.factorial(k) for k in range(n)]
    return terms[-1] + terms[1]


def list_comp_filter(x):
    pos = [v * 3.0 for v in x if v > 0.0]
    return pos[0] * pos[-1] if len(pos) > 1 else 0.5


def sum_genexp(x):
    return sum(math.exp(x[i]) * i for i in range(len(x)))


def sum_list_comp(x, y):
    return sum([a * b for a, b in zip(x, y)]) + sum(v ** 2 for v in x)


def sum_genexp_scalar(x, n):
    return sum(math.sin(k * x) / (k + 1) for k in range(n))


def nested_comp(m):
    rows = [[m[i, j] * (i + j) for j in range(m.shape[1])] for i in range(m.shape[0])]
    return sum(sum(r) for r in rows)


@pytest.mark.parametrize("x", [0.3, -0.8, 1.7])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_append_then_index(x, n):
    assert_grad_matches(append_then_index, (x, n))


@pytest.mark.parametrize("seed", SEEDS)
def test_append_arrays(seed):
    x = rand(seed, 4)
    g = assert_grad_matches(append_arrays, (x,))
    np.testing.assert_allclose(g, 6 * x + 6.0, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_append_in_branches(seed):
    assert_grad_matches(append_mixed, (rand(seed, 5),))


@pytest.mark.parametrize("seed", SEEDS)
def test_iterate_over_appended_list(seed):
    x = rand(seed, 4)
    g = assert_grad_matches(iterate_appended, (x,))
    np.testing.assert_allclose(g, 2 * x * np.cos(x * x), rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_list_comprehension(seed):
    x = rand(seed, 4)
    g = assert_grad_matches(list_comp, (x,))
    np.testing.assert_allclose(g, [2 * x[0], 0, 0, 4 * x[-1]], rtol=1e-12)


@pytest.mark.parametrize("x", [0.3, -0.8, 1.7])
@pytest.mark.parametrize("n", [2, 4])
def test_list_comprehension_range(x, n):
    assert_grad_matches(list_comp_range, (x, n))


@pytest.mark.parametrize("seed", SEEDS)
def test_list_comprehension_filter(seed):
    assert_grad_matches(list_comp_filter, (rand(seed, 6),))


@pytest.mark.parametrize("seed", SEEDS)
def test_sum_generator(seed):
    x = rand(seed, 5)
    g = assert_grad_matches(sum_genexp, (x,))
    np.testing.assert_allclose(g, np.exp(x) * np.arange(5), rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_sum_list_comprehension(seed):
    x, y = rand(seed, 4), rand(seed + 5, 4)
    assert_grad_matches(sum_list_comp, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("x", [0.3, -0.8, 1.7])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_sum_generator_scalar(x, n):
    g = assert_grad_matches(sum_genexp_scalar, (x, n))
    assert g == pytest.approx(sum(k * math.cos(k * x) / (k + 1) for k in range(n)), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_nested_comprehension(seed):
    m = rand(seed, 2, 3)
    g = assert_grad_matches(nested_comp, (m,))
    np.testing.assert_allclose(g, np.add.outer(np.arange(2), np.arange(3)), rtol=1e-12)


# ---------------------------------------------------------------------------
# Array methods and attributes


def method_sum_axis(m):
    return np.sum(m.sum(axis=0) ** 2) + m.sum(axis=1)[0] + m.sum()


def method_transpose(m, v):
    return np.sum(m.T @ v * v[: m.shape[1]])


def method_mean(x):
    return x.mean() * x.mean() + (x * x).mean()


def method_dot(x, y):
    return x.dot(y) + x.dot(x) * 0.5


def shape_bounds(m):
    s = 0.0
    rows, cols = m.shape
    for i in range(rows * cols - 1):
        s = s + m[i // cols, i % cols] * (i + 1)
    for k in range(m.ndim + m.size // 3):
        s = s * 0.9 + m[k % rows, 0]
    return s


@pytest.mark.parametrize("seed", SEEDS)
def test_method_sum_axis(seed):
    assert_grad_matches(method_sum_axis, (rand(seed, 3, 4),))


@pytest.mark.parametrize("seed", SEEDS)
def test_method_transpose(seed):
    assert_grad_matches(method_transpose, (rand(seed, 3, 3), rand(seed + 3, 3)), wrt=(0, 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_method_mean(seed):
    x = rand(seed, 5)
    g = assert_grad_matches(method_mean, (x,))
    np.testing.assert_allclose(g, 2 * x.mean() / 5 + 2 * x / 5, rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_method_dot(seed):
    x, y = rand(seed, 4), rand(seed + 9, 4)
    gx, gy = assert_grad_matches(method_dot, (x, y), wrt=(0, 1))
    np.testing.assert_allclose(gx, y + x, rtol=1e-12)
    np.testing.assert_allclose(gy, x, rtol=1e-12)


@pytest.mark.parametrize("shape", [(2, 3), (3, 2), (3, 3)])
def test_shape_ndim_size_in_loop_bounds(shape):
    assert_grad_matches(shape_bounds, (rand(5, *shape),))


# ---------------------------------------------------------------------------
# Not differentiable, but must run: zero gradient where the math says so


def with_floor(x):
    return math.floor(x) * 1.0 + x


def with_ceil_round(x):
    return math.ceil(x) * x + round(x) + round(x * 10.0, 1)


def with_int(x):
    k = int(x * 3.0)
    return x * k + int(x)


def with_sign(x):
    return np.sum(np.sign(x) * x * x) + np.sum(np.floor(x * 4.0))


def with_argmax(x):
    i = np.argmax(x)
    return x[i] * 2.0 + np.sum(x) * float(len(x))


def with_counters(x):
    s = 0.0
    for k in range(10):
        if k % 3 == 0:
            s = s + x ** 2
        else:
            s = s + (k // 3) * x
    return s


def with_comparisons(x, y):
    flag = (x > y) + (x < 0.0) * 2
    return x * flag + y * (x == y)


@pytest.mark.parametrize("x", [0.3, 1.7, -2.4, 5.5])
def test_floor(x):
    assert assert_grad_matches(with_floor, (x,)) == 1.0


@pytest.mark.parametrize("x", [0.3, 1.7, -2.4])
def test_ceil_round(x):
    assert assert_grad_matches(with_ceil_round, (x,)) == math.ceil(x)


@pytest.mark.parametrize("x", [0.5, 1.7, -2.4])
def test_int(x):
    assert assert_grad_matches(with_int, (x,)) == int(x * 3.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_sign_and_np_floor(seed):
    x = rand(seed, 5)
    g = assert_grad_matches(with_sign, (x,))
    np.testing.assert_allclose(g, 2 * np.abs(x), rtol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_argmax(seed):
    x = rand(seed, 5)
    g = assert_grad_matches(with_argmax, (x,))
    want = np.full(5, 5.0)
    want[np.argmax(x)] += 2.0
    np.testing.assert_allclose(g, want)


@pytest.mark.parametrize("x", [0.3, -1.5, 2.0])
def test_integer_counters(x):
    g = assert_grad_matches(with_counters, (x,))
    assert g == pytest.approx(4 * 2 * x + sum(k // 3 for k in range(10) if k % 3), rel=1e-12)


@pytest.mark.parametrize("x,y", [(0.5, 0.2), (0.2, 0.5), (-1.0, 0.5), (-1.0, -2.0)])
def test_comparisons_as_numbers(x, y):
    g = assert_grad_matches(with_comparisons, (x, y), wrt=(0, 1))
    assert g == ((x > y) + (x < 0.0) * 2, 0.0)


def augmented_write_into_argument(x, y):
    x[1] += y * x[0]
    return np.sum(x * x)


def test_augmented_write_into_an_argument_does_not_mutate_it():
    # found by the fuzzer: a[i] += v into an argument skipped the protective copy
    x, dx = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0])
    before, dbefore = x.copy(), dx.copy()
    g = s2sad.grad(augmented_write_into_argument, (0, 1))(x, 0.5)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(g[0], [1.0 * 2 + 2 * 2.5 * 0.5, 2 * 2.5, 6.0])
    assert g[1] == pytest.approx(2 * 2.5 * 1.0)
    value, tangent = s2sad.jvp(augmented_write_into_argument, (0, 1))(x, 0.5, dx, 0.0)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(dx, dbefore)
    assert value == pytest.approx(1.0 + 2.5 ** 2 + 9.0)


# -- dict comprehensions (lowered to a loop storing d[k] = v) ---------------------


def dict_comp_squares(a, b):
    d = {k: v * v for k, v in zip(("a", "b"), (a, b))}
    return d["a"] * d["b"] + math.sin(d["a"])


def dict_comp_filtered(a, b):
    d = {i: a * i + b for i in range(3) if i != 1}
    return d[0] * d[2]


def dict_comp_update(params, lr):
    new = {k: params[k] - lr * params[k] ** 2 for k in params}
    return np.sum(new["w"] * new["w"]) + new["b"]


def dict_loop_update(params, lr):
    new = {}
    for k in params:
        new[k] = params[k] - lr * params[k] ** 2
    return np.sum(new["w"] * new["w"]) + new["b"]


@pytest.mark.parametrize("f", [dict_comp_squares, dict_comp_filtered])
@pytest.mark.parametrize("a, b", [(1.3, 0.7), (-0.4, 2.1)])
def test_dict_comprehension_scalars(f, a, b):
    want = numerical_grad(f, (a, b), (0, 1))
    for mode in ("reverse", "forward"):
        assert s2sad.grad(f, wrt=(0, 1), mode=mode)(a, b) == pytest.approx(want, rel=1e-6)
    g = s2sad.grad(f, wrt=(0, 1), mode="reverse")
    rows = s2sad.hessian(f, wrt=(0, 1))(a, b)
    h = 1e-5
    for i, row in enumerate(rows):
        up = list(g(*[v + h * (j == i) for j, v in enumerate((a, b))]))
        down = list(g(*[v - h * (j == i) for j, v in enumerate((a, b))]))
        assert np.asarray(row) == pytest.approx((np.array(up) - np.array(down)) / (2 * h),
                                                rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("f", [dict_comp_update, dict_loop_update])
def test_dict_of_arrays_and_floats_rebuilt_by_key(f):
    # the new dict holds an array under one key and a float under the other: the
    # adjoint of new[k] = v is that item's adjoint (an array item is not a fancy index)
    w = np.array([1.0, 2.0, -0.5])
    params = {"w": w, "b": 0.5}
    got = s2sad.grad(f)(params, 0.1)
    w_new = w - 0.1 * w ** 2
    assert got["w"] == pytest.approx(2 * w_new * (1 - 0.2 * w))
    assert got["b"] == pytest.approx(1 - 0.2 * 0.5)
    h = 1e-6
    plus, minus = dict(params, b=0.5 + h), dict(params, b=0.5 - h)
    assert got["b"] == pytest.approx((f(plus, 0.1) - f(minus, 0.1)) / (2 * h), rel=1e-6)


# -- dict(...), d.get and d.update of dicts the function builds -----------------------


def dict_call_and_get(x, y):
    d = dict(a=x, b=x * y)
    return d.get("c", y * y) + d.get("a") * d["b"] + d.get("b", 1.0)


def dict_update_swaps(x, y):
    d = {"a": x, "b": y * y}
    d.update({"a": d["b"], "b": d["a"]}, c=x * y)
    return d["a"] * 3.0 + d["b"] * d["c"]


def dict_get_of_argument(params, x):
    return np.sum(params.get("w", 0.0) * x + params.get("missing", x * x))


@pytest.mark.parametrize("f", [dict_call_and_get, dict_update_swaps])
@pytest.mark.parametrize("x, y", [(1.5, 2.0), (-0.3, 0.8)])
def test_dict_conveniences(f, x, y):
    want = numerical_grad(f, (x, y), (0, 1))
    for mode in ("reverse", "forward"):
        assert s2sad.grad(f, wrt=(0, 1), mode=mode)(x, y) == pytest.approx(want, rel=1e-6)
    rows = s2sad.hessian(f, wrt=(0, 1))(x, y)
    g = s2sad.grad(f, wrt=(0, 1), mode="reverse")
    h = 1e-5
    first = (np.array(g(x + h, y)) - np.array(g(x - h, y))) / (2 * h)
    assert np.array([rows[0][0], rows[1][0]]) == pytest.approx(first, rel=1e-5, abs=1e-6)


def test_dict_get_of_a_dict_argument():
    params = {"w": np.array([1.0, -2.0])}
    x = np.array([0.5, 1.5])
    got = s2sad.grad(dict_get_of_argument, wrt=(0, 1))(params, x)
    assert got[0]["w"] == pytest.approx(x)
    assert got[1] == pytest.approx(params["w"] + 2 * x)


class _Getter:
    def get(self, key, default):
        return default * 3.0


def get_of_object(x, obj):
    return obj.get("a", x * x)


def test_get_of_an_object_is_its_method():
    assert s2sad.grad(get_of_object)(1.5, _Getter()) == pytest.approx(9.0)


class _Wrapped:
    def __init__(self, d):
        self.d = d

    def get(self, key, default):
        return self.d[key] * 3.0


def get_of_a_rebound_dict_argument(params, x):
    params = _Wrapped(params)
    return params.get("w", 0.0) * x


def test_get_of_a_dict_argument_bound_again_is_the_new_objects_method():
    # params holds a dict at the call, then another object: its .get is its own (the
    # rewrite to params[k] if k in params else v raised TypeError in the gradient)
    got = s2sad.grad(get_of_a_rebound_dict_argument, wrt=1)({"w": 2.0}, 1.5)
    assert got == pytest.approx(6.0)
