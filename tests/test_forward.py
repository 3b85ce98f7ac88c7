"""Forward mode (``s2sad.jvp``): the whole corpus by the dot-product test against
reverse mode, the constructs of the feature tests (break/continue, early return,
in-place writes, lists, helper calls, enumerate/zip/reversed, comprehensions,
module-level lambdas), array outputs against finite differences, the generated
source and the ``--mode forward`` command line.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from corpus import CASES

import s2sad

# ---------------------------------------------------------------------------
# helpers


def _direction(rng, x):
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape)
    return float(rng.standard_normal())


def _dot(a, b):
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


def _directional_fd(f, args, wrt, dirs, h=1e-6):
    """Central difference of ``f`` along ``dirs`` (one per index in ``wrt``)."""
    def moved(s):
        new = list(args)
        for i, d in zip(wrt, dirs):
            new[i] = args[i] + s * d
        return np.asarray(f(*new), dtype=float)
    return (moved(h) - moved(-h)) / (2 * h)


def _fd_jacobian(f, x, h=1e-6):
    """Finite-difference Jacobian of ``f`` at the 1-D array ``x``: out.shape + x.shape."""
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)



# (tag, point index) -> reason: forward-mode failures of the single-argument sweeps
FORWARD_XFAIL_EACH = {}     # (tag, point index) -> reason; empty: every case passes


def _corpus_params(xfails=None):
    out = []
    for c in CASES:
        for i, point in enumerate(c.points):
            reason = (xfails or {}).get((c.tag, i))
            marks = (pytest.mark.xfail(strict=True, reason=reason, raises=ValueError),) \
                if reason else ()
            out.append(pytest.param(c, i, point, id=f"{c.tag}-p{i}", marks=marks))
    return out


def test_corpus_forward_xfails_name_real_cases():
    tags = {c.tag: len(c.points) for c in CASES}
    for tag, i in FORWARD_XFAIL_EACH:
        assert i < tags[tag]


# ---------------------------------------------------------------------------
# the corpus: jvp against vjp (dot-product test) and jvp's value against f


@pytest.mark.parametrize("c, i, point", _corpus_params(FORWARD_XFAIL_EACH))
def test_corpus_jvp_each_wrt(c, i, point):
    """One wrt argument at a time, a random direction: tangent == <pullback(1), direction>."""
    wrt = c.wrt if isinstance(c.wrt, tuple) else (c.wrt,)
    rng = np.random.default_rng(1000 + 17 * i + len(c.tag))
    expected_value = c.func(*point)
    for k in wrt:
        d = _direction(rng, point[k])
        value, t = s2sad.jvp(c.func, k)(*point, d)
        assert value == pytest.approx(expected_value, rel=1e-12, abs=1e-12)
        assert np.ndim(t) == 0
        if c.xfail.get(i):        # reverse mode is known wrong here: finite differences
            want = float(_directional_fd(c.func, point, (k,), (d,)))
            assert t == pytest.approx(want, rel=1e-4, abs=1e-6)
            continue
        _, pullback = s2sad.vjp(c.func, k)(*point)
        want = _dot(pullback(1.0), d)
        assert t == pytest.approx(want, rel=1e-9, abs=1e-10), \
            s2sad.source(c.func, k, mode="forward", args=point)


@pytest.mark.parametrize("c, i, point", _corpus_params())
def test_corpus_jvp_all_wrt(c, i, point):
    """Every wrt argument moving at once: tangent == sum of <gradient, direction>."""
    wrt = c.wrt if isinstance(c.wrt, tuple) else (c.wrt,)
    rng = np.random.default_rng(2000 + 31 * i + len(c.tag))
    dirs = [_direction(rng, point[k]) for k in wrt]
    value, t = s2sad.jvp(c.func, wrt)(*point, *dirs)
    assert value == pytest.approx(c.func(*point), rel=1e-12, abs=1e-12)
    if c.xfail.get(i):
        want = float(_directional_fd(c.func, point, wrt, dirs))
        assert t == pytest.approx(want, rel=1e-4, abs=1e-6)
        return
    grads = s2sad.grad(c.func, wrt=wrt)(*point)
    want = sum(_dot(g, d) for g, d in zip(grads, dirs))
    assert t == pytest.approx(want, rel=1e-9, abs=1e-10), \
        s2sad.source(c.func, wrt, mode="forward", args=point)


def test_corpus_points_are_not_mutated_by_jvp():
    for c in CASES:
        wrt = c.wrt if isinstance(c.wrt, tuple) else (c.wrt,)
        point = c.points[0]
        before = [a.copy() if isinstance(a, np.ndarray) else a for a in point]
        dirs = [np.ones_like(point[k]) if isinstance(point[k], np.ndarray) else 1.0
                for k in wrt]
        dirs_before = [d.copy() if isinstance(d, np.ndarray) else d for d in dirs]
        s2sad.jvp(c.func, wrt)(*point, *dirs)
        for a, b in zip(point, before):
            assert np.array_equal(a, b), c.tag
        for a, b in zip(dirs, dirs_before):
            assert np.array_equal(a, b), c.tag


# ---------------------------------------------------------------------------
# constructs of the feature tests, in forward mode


def with_break(x, n):
    s = x
    for _ in range(n):
        if s > 3.0:
            break
        s = s * x + 0.5
    return s


def with_continue(x, n):
    s = 0.0
    for i in range(n):
        if i % 2 == 1:
            continue
        s = s + math.sin(x * i) + x
    return s


def while_break(x):
    s = x
    k = 0
    while True:
        s = math.sin(s) + x * 0.5
        k += 1
        if k >= 4:
            break
    return s


def early_return(x):
    if x > 1.0:
        return x * x
    y = math.exp(x)
    for _ in range(5):
        if y > 4.0:
            return y * x
        y = y * 1.5
    return y


def inplace_writes(x):
    a = np.zeros(3)
    a[0] = x[0] * x[1]
    a[1] = np.sin(x[2])
    a[2] = a[0] * a[1]
    a[1:] = a[1:] * 2.0
    return np.sum(a * a)


def inplace_into_argument_copy(x, w):
    y = x * 1.0
    for i in range(len(y)):
        y[i] = y[i] * w + math.cos(y[i])
    return np.sum(y * x)


def list_append(x):
    out = []
    for i in range(4):
        out.append(x * i + math.cos(x))
    t = 0.0
    for v in out:
        t = t + v * v
    return t


def _mix(u, w):
    return u * math.tanh(w)


def calls_helper(x, y):
    return _mix(x, y) + _mix(y * y, x)


def _vec_helper(v, scale=2.0):
    return np.sum(np.tanh(v) * scale)


def calls_array_helper(v, y):
    return _vec_helper(v * y) + _vec_helper(v, scale=y)


def enumerate_zip_reversed(v, w):
    s = 0.0
    for i, a in enumerate(v):
        s = s + i * a * a
    for a, b in zip(v, w):
        s = s + a * b
    for a in reversed(v):
        s = s * 0.5 + a
    return s


def comprehension(v):
    return sum([a * a for a in v]) + sum([math.sin(a) for a in v if a > 0.0])


square = lambda t: t * t  # noqa: E731


def uses_lambda(x):
    return square(x) + square(math.sin(x))


def array_output(x, y):
    return np.tanh(x * y) + x[::-1] * y


V = np.array([0.3, -0.4, 0.9])
W = np.array([1.0, 2.0, -0.5])

FEATURES = [
    (with_break, [(1.3, 5), (0.5, 4), (2.5, 3)], (0,)),
    (with_continue, [(0.7, 6), (-0.3, 5), (1.1, 0)], (0,)),
    (while_break, [(0.3,), (-1.2,), (2.0,)], (0,)),
    (early_return, [(1.5,), (0.2,), (-3.0,)], (0,)),
    (inplace_writes, [(V,), (W,), (V * W,)], (0,)),
    (inplace_into_argument_copy, [(V, 0.5), (W, -1.5), (V + W, 2.0)], (0, 1)),
    (list_append, [(0.7,), (-1.1,), (2.0,)], (0,)),
    (calls_helper, [(0.3, 0.8), (-1.0, 0.4), (2.0, -0.6)], (0, 1)),
    (calls_array_helper, [(V, 0.8), (W, -0.3), (V * 2, 1.5)], (0, 1)),
    (enumerate_zip_reversed, [(V, W), (W, V), (V * W, V)], (0, 1)),
    (comprehension, [(V,), (W,), (-V,)], (0,)),
    (uses_lambda, [(0.6,), (-2.0,), (1.3,)], (0,)),
]


def _feature_params():
    return [pytest.param(f, point, wrt, id=f"{f.__name__}-p{i}")
            for f, points, wrt in FEATURES for i, point in enumerate(points)]


@pytest.mark.parametrize("f, point, wrt", _feature_params())
def test_feature_jvp(f, point, wrt):
    rng = np.random.default_rng(7)
    dirs = [_direction(rng, point[k]) for k in wrt]
    value, t = s2sad.jvp(f, wrt)(*point, *dirs)
    assert value == pytest.approx(f(*point), rel=1e-12, abs=1e-12)
    grads = s2sad.grad(f, wrt=wrt)(*point)
    want = sum(_dot(g, d) for g, d in zip(grads, dirs))
    assert t == pytest.approx(want, rel=1e-9, abs=1e-10), \
        s2sad.source(f, wrt, mode="forward", args=point)
    fd = float(_directional_fd(f, point, wrt, dirs))
    assert t == pytest.approx(fd, rel=1e-5, abs=1e-6)


def test_feature_jvp_single_wrt_returns_scalar_tangent():
    value, t = s2sad.jvp(calls_helper, 1)(0.3, 0.8, 1.0)
    assert isinstance(t, float)
    g = s2sad.grad(calls_helper, wrt=1)(0.3, 0.8)
    assert t == pytest.approx(g, rel=1e-12)
    assert value == calls_helper(0.3, 0.8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_array_output_jvp_matches_jacobian_times_direction(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1, 1, 4), float(rng.uniform(0.5, 1.5))
    dx, dy = rng.standard_normal(4), float(rng.standard_normal())
    value, t = s2sad.jvp(array_output, (0, 1))(x, y, dx, dy)
    np.testing.assert_allclose(value, array_output(x, y), rtol=1e-14)
    assert isinstance(t, np.ndarray) and t.shape == (4,)
    jx = _fd_jacobian(lambda z: array_output(z, y), x)
    jy = (array_output(x, y + 1e-6) - array_output(x, y - 1e-6)) / 2e-6
    np.testing.assert_allclose(t, jx @ dx + jy * dy, rtol=1e-6, atol=1e-8)
    # only x moving
    _, tx = s2sad.jvp(array_output, 0)(x, y, dx)
    np.testing.assert_allclose(tx, jx @ dx, rtol=1e-6, atol=1e-8)


def constant_output(x):
    return 3.0 + 0.0 * 2.0


def int_dependent(x, n):
    return x * n


def test_tangent_of_output_not_depending_on_input():
    value, t = s2sad.jvp(constant_output)(1.5, 1.0)
    assert value == 3.0 and t == 0.0
    value, t = s2sad.jvp(int_dependent, 0)(1.5, 3, 2.0)
    assert value == 4.5 and t == pytest.approx(6.0)


def test_tangents_are_linear():
    """jvp is linear in the tangent: scaling and adding directions."""
    rng = np.random.default_rng(3)
    v, w = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)
    d1, d2 = rng.standard_normal(3), rng.standard_normal(3)
    j = s2sad.jvp(enumerate_zip_reversed, 0)
    t1, t2, t12 = (j(v, w, d)[1] for d in (d1, d2, 2.0 * d1 - 3.0 * d2))
    assert t12 == pytest.approx(2.0 * t1 - 3.0 * t2, rel=1e-10, abs=1e-12)


def test_jvp_wrong_number_of_tangents():
    with pytest.raises(s2sad.ArgumentError, match="tangent"):
        s2sad.jvp(calls_helper, (0, 1))(0.3, 0.8, 1.0)


# ---------------------------------------------------------------------------
# NumPy functions and methods in forward mode (reverse mode has rules for all of them)


def np_reshape(x):
    return np.sum(np.reshape(x, (2, 2)) @ np.ones(2) * x[:2])


def method_reshape(x):
    return np.sum(x.reshape(2, 2) * x.reshape(2, 2).T)


def method_copy(x):
    y = x.copy()
    y[0] = y[1] * y[2]
    return np.sum(y * y)


def np_concatenate(x):
    return np.sum(np.concatenate([x, x * x]) ** 2)


def np_stack(x):
    return np.sum(np.stack([x, np.sin(x)]) ** 2)


def np_where(x):
    return np.sum(np.where(x > 0, x * x, -x))


def np_max(x):
    return np.max(x * x)


def np_clip(x):
    return np.sum(np.clip(x, -0.5, 0.5) * x)


def np_cumsum(x):
    return np.sum(np.cumsum(x) ** 2)


def np_array_of_active(x):
    return np.sum(np.array([x[0] * x[1], x[2]]) ** 2)


def np_linalg_norm(x):
    return np.linalg.norm(x)


def np_outer(x):
    return np.sum(np.outer(x, x) * 0.5)


def np_prod(x):
    return np.prod(x)


def np_transpose_2d(m):
    return np.sum(np.transpose(m) * m[0])


def attribute_T(m):
    return np.sum(m.T @ m)


def method_sum(x):
    return x.sum() * x[0]


def np_maximum(x):
    return np.sum(np.maximum(x, 0.1) ** 2)


def np_exp_log1p(x):
    return np.sum(np.exp(x) * np.log1p(x * x))


def np_dot_sin(x):
    return np.dot(x, np.sin(x))


def np_mean_axis(m):
    return np.sum(np.mean(m * m, axis=0) * m[1])


_VEC4 = np.array([0.3, -0.7, 0.9, 0.2])
_MAT = np.array([[0.3, -0.7], [0.9, 0.2]])

NUMPY_FORWARD = [
    (np_reshape, _VEC4), (method_reshape, _VEC4), (method_copy, _VEC4),
    (np_concatenate, _VEC4), (np_stack, _VEC4), (np_where, _VEC4), (np_max, _VEC4),
    (np_clip, _VEC4), (np_cumsum, _VEC4), (np_array_of_active, _VEC4),
    (np_linalg_norm, _VEC4), (np_outer, _VEC4), (np_prod, _VEC4), (np_transpose_2d, _MAT),
    (attribute_T, _MAT), (method_sum, _VEC4), (np_maximum, _VEC4), (np_exp_log1p, _VEC4),
    (np_dot_sin, _VEC4), (np_mean_axis, _MAT),
]


@pytest.mark.parametrize("f, x", NUMPY_FORWARD, ids=[f.__name__ for f, _ in NUMPY_FORWARD])
def test_numpy_in_forward_mode(f, x):
    rng = np.random.default_rng(11)
    for _ in range(2):
        d = rng.standard_normal(x.shape)
        value, t = s2sad.jvp(f)(x, d)
        assert value == pytest.approx(f(x), rel=1e-12)
        assert t == pytest.approx(_dot(s2sad.grad(f)(x), d), rel=1e-9, abs=1e-12), \
            s2sad.source(f, mode="forward", args=(x,))
        fd = float(_directional_fd(f, (x,), (0,), (d,)))
        assert t == pytest.approx(fd, rel=1e-5, abs=1e-7)
        x = x * -1.3


# ---------------------------------------------------------------------------
# known gap: values popped from a list that carries tangents


def pop_count_then_value(x):
    stack = []
    stack.append(x * x)
    stack.append(2)
    n = stack.pop()
    y = 0.0
    for _ in range(n - 1):
        y = stack.pop()
    return y


def test_jvp_pop_of_inactive_value_keeps_tangent_list_in_step():
    assert s2sad.grad(pop_count_then_value)(1.5) == pytest.approx(3.0)
    value, t = s2sad.jvp(pop_count_then_value)(1.5, 1.0)
    assert value == pytest.approx(2.25)
    assert t == pytest.approx(3.0)


def matmul_loop(W, x):
    h = x
    for _ in range(2):
        h = W @ h
    return np.sum(h)


def test_jvp_loop_carried_array_starting_inactive():
    W, x = np.array([[0.5, 0.2], [-0.1, 0.7]]), np.array([1.0, 2.0])
    dW = np.array([[1.0, -1.0], [0.5, 2.0]])
    value, t = s2sad.jvp(matmul_loop, 0)(W, x, dW)
    assert value == pytest.approx(matmul_loop(W, x))
    assert t == pytest.approx(float(np.sum(dW @ W @ x + W @ dW @ x)))


def test_jvp_loop_carried_array_both_active():
    W, x = np.array([[0.5, 0.2], [-0.1, 0.7]]), np.array([1.0, 2.0])
    dW, dx = np.array([[1.0, -1.0], [0.5, 2.0]]), np.array([0.3, -0.2])
    value, t = s2sad.jvp(matmul_loop, (0, 1))(W, x, dW, dx)
    assert value == pytest.approx(matmul_loop(W, x))
    assert t == pytest.approx(float(np.sum(dW @ W @ x + W @ dW @ x + W @ W @ dx)))


# ---------------------------------------------------------------------------
# generated source and the command line


def test_forward_source_has_tangents_and_no_tape():
    src = s2sad.source(with_continue, mode="forward")
    assert "def jvp_with_continue(x, n, dx):" in src
    assert "dx" in src and "_tape" not in src
    assert "math.cos" in src            # the tangent of math.sin
    compile(src, "<jvp>", "exec")
    loop_src = s2sad.source(list_append, mode="forward")
    assert "_tape" not in loop_src
    assert ".append(" in loop_src and "dout" in loop_src


def test_forward_source_tuple_wrt_and_arrays():
    src = s2sad.source(calls_array_helper, (0, 1), mode="forward", args=(V, 0.5))
    assert src.startswith("def jvp_calls_array_helper(v, y, dv, dy):")
    assert "jvp__vec_helper" in src
    assert "_tape" not in src


def test_source_unknown_mode():
    with pytest.raises(s2sad.ArgumentError, match="mode='sideways' is not available"):
        s2sad.source(with_break, mode="sideways")


CLI_CODE = textwrap.dedent('''\
    import math

    import numpy as np


    def f(x1, x2):
        return math.log(x1) + x1 * x2 - math.sin(x2)


    def vec(W, x):
        return np.sum(np.tanh(W @ x))
''')


def _cli(*args):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "s2sad", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_cli_mode_forward(tmp_path):
    path = tmp_path / "fwd_user.py"
    path.write_text(CLI_CODE)
    proc = _cli("dump", f"{path}:f", "--wrt", "0,1", "--mode", "forward")
    assert proc.returncode == 0, proc.stderr
    assert "def jvp_f(x1, x2, dx1, dx2):" in proc.stdout
    assert "d_" in proc.stdout and "_tape" not in proc.stdout
    assert "bx1" not in proc.stdout
    compile(proc.stdout, "<dump>", "exec")
    proc = _cli("dump", f"{path}:vec", "--wrt", "0,1", "--arrays", "W,x", "--mode", "forward")
    assert proc.returncode == 0, proc.stderr
    assert "def jvp_vec(W, x, dW, dx):" in proc.stdout
    assert "dW @ x" in proc.stdout and "W @ dx" in proc.stdout


def sum_with_start(x, y):
    return sum([x * x, x * y], y)       # linear in the items and the start jointly


def sum_of_none(x, n):
    return sum([x * k for k in range(n)])


@pytest.mark.parametrize("x, y", [(2.0, 0.5), (-1.3, 0.7)])
def test_tangent_of_sum_with_a_start(x, y):
    # sum(items, start) = x^2 + x y + y: d/dx = 2x + y, d/dy = x + 1
    value, dx = s2sad.jvp(sum_with_start)(x, y, 1.0)
    assert value == sum_with_start(x, y)
    assert dx == pytest.approx(2 * x + y, rel=1e-14)
    assert s2sad.jvp(sum_with_start, wrt=1)(x, y, 1.0)[1] == pytest.approx(x + 1.0, rel=1e-14)
    assert s2sad.grad(sum_with_start, mode="forward")(x, y) == pytest.approx(2 * x + y)


def test_tangent_of_an_empty_sum_is_a_float():
    g = s2sad.grad(sum_of_none)              # forward mode: one scalar argument
    assert g(0.5, 0) == 0.0 and type(g(0.5, 0)) is float
    assert g(0.5, 4) == pytest.approx(6.0)


# Products of one scalar and numbers (x * x * x, 3.0 * x * x): the tangent of
# c * x**k is k * c * dx * x**(k-1), read from the name holding x**(k-1)


def cube(x):
    return x * x * x


def fourth_scaled(x):
    return 0.5 * x * x * x * x


def cubic_in_a_loop(a, b, n):
    x = 0.3
    for _ in range(n):
        x = x - 0.1 * (3 * x * x * x + a * x - b)
    return x


def rebound_between(x):
    y = x * x
    x = x + 1.0
    return y * x


def zero_coefficient(x):
    return 0.0 * x * x + x


def powers_of_two_names(x, y):
    return x * x * y * y


@pytest.mark.parametrize("x", [0.7, -1.3, 2.0])
def test_tangent_of_a_power_reads_the_lower_power(x):
    g = s2sad.grad(cube)
    assert g(x) == pytest.approx(3.0 * x * x, rel=1e-14)
    assert "3.0 * (x * x)" in g.source                 # the seed dx = 1.0 folded
    assert "3.0 * dx * _t1" in s2sad.source(cube, mode="forward")
    assert s2sad.grad(fourth_scaled)(x) == pytest.approx(2.0 * x ** 3, rel=1e-14)
    assert s2sad.grad(rebound_between)(x) == pytest.approx(3 * x * x + 2 * x, rel=1e-14)
    assert s2sad.grad(zero_coefficient)(x) == 1.0
    assert s2sad.grad(powers_of_two_names, (0, 1), mode="forward")(x, 1.5) == (
        pytest.approx(2 * x * 2.25, rel=1e-14), pytest.approx(x * x * 3.0, rel=1e-14))


@pytest.mark.parametrize("n", [0, 1, 7])
def test_tangent_of_powers_in_a_loop_along_two_arguments(n):
    args = (0.8, 0.4, n)
    fwd = s2sad.grad(cubic_in_a_loop, (0, 1), mode="forward")(*args)
    rev = s2sad.grad(cubic_in_a_loop, (0, 1), mode="reverse")(*args)
    assert fwd == (pytest.approx(rev[0], rel=1e-12, abs=1e-300),
                   pytest.approx(rev[1], rel=1e-12, abs=1e-300))
    h = 1e-6
    for i in (0, 1):
        up, down = list(args), list(args)
        up[i] += h
        down[i] -= h
        fd = (cubic_in_a_loop(*up) - cubic_in_a_loop(*down)) / (2 * h)
        assert fwd[i] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def _pair_of_a_constant_tuple(a):
    t = (-1.4, a)
    return (math.log(1.0 + t[0] * t[0]) * a, a)


def _calls_pair_of_a_constant_tuple(x, y):
    u, _ = _pair_of_a_constant_tuple(x)
    return u * y


@pytest.mark.parametrize("x, y", [(0.3, 0.5), (-1.2, 2.0)])
def test_tangent_of_a_recorded_tuple_without_one_has_its_structure(x, y):
    """Found by the fuzzer (tuples, grad of grad): forward mode over a callee's split
    pair recorded the missing tangent of the tuple t as the number 0.0, and the jvp of
    the bwd half read its item dt[0]: TypeError ('float' object is not subscriptable)."""
    want = math.log(1.0 + 1.4 * 1.4)            # f = log(2.96) x y
    g = s2sad.grad(s2sad.grad(_calls_pair_of_a_constant_tuple, wrt=0), wrt=1)
    assert g(x, y) == pytest.approx(want, rel=1e-12)
