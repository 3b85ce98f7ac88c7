"""The AD toolbox on top of grad: vjp (split mode), jacobian (rev/fwd/auto),
hessian (forward over reverse), grad of grad, has_aux, stop_gradient,
elementwise_grad, custom_vjp and check_grads.

References are finite differences or analytic derivatives, at several points.
"""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

POINTS = [0, 1, 2]          # seeds of the random points


def rand(seed, *shape, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def fd_jacobian(f, args, k, h=1e-6):
    """Finite-difference Jacobian of ``f`` with respect to ``args[k]``:
    shape ``out.shape + args[k].shape``."""
    args = list(args)
    x = args[k]
    if not isinstance(x, np.ndarray):
        plus, minus = list(args), list(args)
        plus[k], minus[k] = x + h, x - h
        return (np.asarray(f(*plus), dtype=float) - np.asarray(f(*minus), dtype=float)) / (2 * h)
    out_shape = np.shape(f(*args))
    jac = np.zeros(out_shape + x.shape)
    for idx in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += h
        minus[idx] -= h
        a_plus, a_minus = list(args), list(args)
        a_plus[k], a_minus[k] = plus, minus
        col = (np.asarray(f(*a_plus), dtype=float) - np.asarray(f(*a_minus), dtype=float)) \
            / (2 * h)
        jac[(Ellipsis,) + idx] = col
    return jac


# ---------------------------------------------------------------------------
# array-valued functions R^n -> R^m

B52 = np.array([[0.5, -1.0], [0.3, 0.8], [-0.7, 0.2], [1.1, 0.4], [0.0, -0.6]])


def fewer_outputs(x):            # R^3 -> R^2 (m < n)
    return np.sin(x[:2]) * x[2] + x[1:] ** 2


def more_outputs(x):             # R^2 -> R^5 (m > n)
    return np.tanh(B52 @ x) * x[0]


def square_map(x):               # R^3 -> R^3 (m == n)
    return np.tanh(x) * np.sum(x) + x[::-1]


def prefix_products(x):          # R^4 -> R^4 by a loop with in-place writes
    y = x * 1.0
    for i in range(1, len(x)):
        y[i] = y[i - 1] * x[i] + math.sin(y[i - 1])
    return y


def two_inputs(x, s):            # (R^3, R) -> R^3
    return np.exp(x * s) - s * s * x


def matrix_input(W, v):          # R^(2x3) -> R^2
    return np.tanh(W @ v)


def built_by_np_array(x):        # R^2 -> R^3, output assembled with np.array([...])
    return np.array([x[0] * x[1], np.sin(x[1]), x[0] ** 2])


ARRAY_FUNCS = [(fewer_outputs, 3), (more_outputs, 2), (square_map, 3), (prefix_products, 4)]


@pytest.mark.parametrize("f, n", ARRAY_FUNCS, ids=[f.__name__ for f, _ in ARRAY_FUNCS])
@pytest.mark.parametrize("seed", POINTS)
def test_vjp_value_and_pullback(f, n, seed):
    x = rand(seed, n)
    before = x.copy()
    value, pullback = s2sad.vjp(f)(x)
    np.testing.assert_allclose(value, f(x), rtol=1e-14)
    jac = fd_jacobian(f, (x,), 0)
    u = np.random.default_rng(100 + seed).standard_normal(np.shape(value))
    g = pullback(u.copy())
    assert isinstance(g, np.ndarray) and g.shape == x.shape
    np.testing.assert_allclose(g, jac.T @ u, rtol=1e-6, atol=1e-8)
    again = pullback(u.copy())           # a second call gives the same answer
    np.testing.assert_allclose(again, g, rtol=0, atol=0)
    u2 = np.random.default_rng(200 + seed).standard_normal(np.shape(value))
    np.testing.assert_allclose(pullback(u2.copy()), jac.T @ u2, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(pullback(2.0 * u - u2), 2.0 * g - jac.T @ u2,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(x, before)


def overwrite_one(x):
    y = x * 1.0
    y[1] = y[0] * x[1]
    return y


def test_pullback_does_not_mutate_its_argument():
    x = np.array([0.5, 2.0, 3.0])
    u = np.array([1.0, 2.0, 3.0])
    _, pullback = s2sad.vjp(overwrite_one)(x)
    np.testing.assert_allclose(pullback(u), [5.0, 1.0, 3.0])
    np.testing.assert_array_equal(u, [1.0, 2.0, 3.0])


def test_pullback_value_with_in_place_output():
    x = np.array([0.5, 2.0, 3.0])
    _, pullback = s2sad.vjp(overwrite_one)(x)
    # y = (x0, x0 x1, x2): J^T u = (u0 + x1 u1, x0 u1, u2)
    np.testing.assert_allclose(pullback(np.array([1.0, 2.0, 3.0])), [5.0, 1.0, 3.0])
    np.testing.assert_allclose(pullback(np.array([0.0, 1.0, 0.0])), [2.0, 0.5, 0.0])


@pytest.mark.parametrize("seed", POINTS)
def test_vjp_tuple_wrt(seed):
    x, s = rand(seed, 3), float(rand(seed + 10, 1)[0])
    value, pullback = s2sad.vjp(two_inputs, (0, 1))(x, s)
    np.testing.assert_allclose(value, two_inputs(x, s), rtol=1e-14)
    u = np.random.default_rng(seed).standard_normal(3)
    gx, gs = pullback(u)
    np.testing.assert_allclose(gx, fd_jacobian(two_inputs, (x, s), 0).T @ u, rtol=1e-6,
                               atol=1e-8)
    assert np.ndim(gs) == 0
    assert gs == pytest.approx(float(fd_jacobian(two_inputs, (x, s), 1) @ u), rel=1e-6)
    gx2, gs2 = pullback(u)
    np.testing.assert_array_equal(gx2, gx)
    assert gs2 == gs


def scalar_loop(x, n):
    s = x
    for _ in range(n):
        s = math.sin(s) * x + 0.1
    return s


@pytest.mark.parametrize("x", [0.3, -1.2, 2.0])
def test_vjp_of_scalar_function_is_grad(x):
    value, pullback = s2sad.vjp(scalar_loop)(x, 4)
    assert value == scalar_loop(x, 4)
    assert pullback(1.0) == pytest.approx(s2sad.grad(scalar_loop)(x, 4), rel=1e-12)
    assert pullback(-2.5) == pytest.approx(-2.5 * pullback(1.0), rel=1e-12)
    assert pullback(1.0) == pytest.approx(numerical_grad(scalar_loop, (x, 4)), rel=1e-6)


# ---------------------------------------------------------------------------
# jacobian


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
@pytest.mark.parametrize("f, n", ARRAY_FUNCS, ids=[f.__name__ for f, _ in ARRAY_FUNCS])
def test_jacobian_against_finite_differences(f, n, mode):
    for seed in POINTS:
        x = rand(seed, n)
        jac = s2sad.jacobian(f, mode=mode)(x)
        want = fd_jacobian(f, (x,), 0)
        assert jac.shape == want.shape == np.shape(f(x)) + (n,)
        np.testing.assert_allclose(jac, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_jacobian_tuple_wrt(mode):
    for seed in POINTS:
        x, s = rand(seed, 3), float(rand(seed + 10, 1)[0])
        jx, js = s2sad.jacobian(two_inputs, (0, 1), mode=mode)(x, s)
        assert jx.shape == (3, 3) and js.shape == (3,)
        np.testing.assert_allclose(jx, fd_jacobian(two_inputs, (x, s), 0), rtol=1e-6,
                                   atol=1e-8)
        np.testing.assert_allclose(js, fd_jacobian(two_inputs, (x, s), 1), rtol=1e-6,
                                   atol=1e-8)
        # analytic: diag(s exp(x s) - s^2) and x exp(x s) - 2 s x
        np.testing.assert_allclose(jx, np.diag(s * np.exp(x * s) - s * s), rtol=1e-12)
        np.testing.assert_allclose(js, x * np.exp(x * s) - 2 * s * x, rtol=1e-12)


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_jacobian_matrix_input(mode):
    W, v = rand(5, 2, 3), rand(6, 3)
    jac = s2sad.jacobian(matrix_input, 0, mode=mode)(W, v)
    assert jac.shape == (2, 2, 3)
    np.testing.assert_allclose(jac, fd_jacobian(matrix_input, (W, v), 0), rtol=1e-6, atol=1e-8)
    # analytic: d tanh(W v)_i / d W_jk = (1 - tanh^2)_i delta_ij v_k
    t = np.tanh(W @ v)
    want = np.einsum("i,ij,k->ijk", 1 - t * t, np.eye(2), v)
    np.testing.assert_allclose(jac, want, rtol=1e-12, atol=1e-14)


def test_jacobian_of_scalar_function_is_gradient():
    x = rand(3, 4)
    f = lambda v: float(np.sum(np.sin(v) * v))  # noqa: E731  (not transformed: reference)
    for mode in ("rev", "fwd", "auto"):
        jac = s2sad.jacobian(sum_sin_times, mode=mode)(x)
        assert jac.shape == (4,)
        np.testing.assert_allclose(jac, numerical_grad(f, (x,)), rtol=1e-6, atol=1e-8)


def sum_sin_times(v):
    return np.sum(np.sin(v) * v)


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_jacobian_of_np_array_output(mode):
    x = np.array([0.4, -0.7])
    jac = s2sad.jacobian(built_by_np_array, mode=mode)(x)
    np.testing.assert_allclose(jac, fd_jacobian(built_by_np_array, (x,), 0), rtol=1e-6,
                               atol=1e-8)


# ---------------------------------------------------------------------------
# jacobian and hessian along lists, tuples and dicts (pytrees, as JAX's)

_Layer = collections.namedtuple("_Layer", "W b")


def layer_of_a_tuple(p, x):
    W, b = p
    return np.tanh(W @ x + b)


def layer_of_arrays(W, b, x):
    return np.tanh(W @ x + b)


def loss_of_a_dict(p, x):
    return np.sum(np.tanh(p["W"] @ x + p["b"]) ** 2) * p["s"]


def loss_of_arrays(W, b, s, x):
    return np.sum(np.tanh(W @ x + b) ** 2) * s


def loss_of_a_named_tuple(q, x):
    return np.sum(np.sin(q.W @ x) * q[1])


@pytest.mark.parametrize("mode", ["rev", "fwd", "auto"])
def test_jacobian_along_a_tuple_and_a_list(mode):
    """The jacobian has the argument's structure, each leaf's block shaped out + leaf
    (was an ArgumentError)."""
    for seed in POINTS:
        W, b, x = rand(seed, 2, 3), rand(seed + 10, 2), rand(seed + 20, 3)
        for p in [(W, b), [W, b], _Layer(W, b)]:
            jac = s2sad.jacobian(layer_of_a_tuple, mode=mode)(p, x)
            assert type(jac) is type(p) and jac[0].shape == (2, 2, 3) and jac[1].shape == (2, 2)
            for k in (0, 1):
                np.testing.assert_allclose(jac[k], fd_jacobian(layer_of_arrays, (W, b, x), k),
                                           rtol=1e-6, atol=1e-8)
        jp, jx = s2sad.jacobian(layer_of_a_tuple, (0, 1), mode=mode)((W, b), x)
        np.testing.assert_allclose(jp[1], fd_jacobian(layer_of_arrays, (W, b, x), 1),
                                   rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(jx, fd_jacobian(layer_of_arrays, (W, b, x), 2),
                                   rtol=1e-6, atol=1e-8)


def test_hessian_along_a_dict_and_a_named_tuple():
    """hessian(f)(p) of a dict p: ``h[a][b]`` is the derivative of the gradient's entry
    ``a`` along entry ``b`` (JAX's nesting); of a named tuple, named tuples of named
    tuples."""
    names = ("W", "b", "s")
    for seed in POINTS[:2]:
        W, b, s, x = rand(seed, 2, 3), rand(seed + 10, 2), 0.5 + seed, rand(seed + 20, 3)
        h = s2sad.hessian(loss_of_a_dict)({"W": W, "b": b, "s": s}, x)
        assert list(h) == list(names) and list(h["W"]) == list(names)
        assert h["W"]["b"].shape == (2, 3, 2) and h["s"]["s"].shape == ()
        for i, a in enumerate(names):
            gradient = s2sad.grad(loss_of_arrays, i)
            for j, c in enumerate(names):
                want = fd_jacobian(gradient, (W, b, s, x), j)
                np.testing.assert_allclose(h[a][c], want, rtol=1e-5, atol=1e-7)
        q = _Layer(W, b)
        h = s2sad.hessian(loss_of_a_named_tuple)(q, x)
        assert type(h) is _Layer and type(h.W) is _Layer
        # sum(sin(W x) * b): d2/dW dW = -diag(sin(W x) b) x x^T per row, d2/db dW = cos(W x) x
        z = W @ x
        np.testing.assert_allclose(h.b.W, np.einsum("ij,k->ijk", np.diag(np.cos(z)), x),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h.W.b, np.einsum("ij,k->ikj", np.diag(np.cos(z)), x),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h.b.b, np.zeros((2, 2)), atol=1e-12)
        want_ww = np.einsum("ij,k,l->ikjl", np.diag(-np.sin(z) * b), x, x)
        np.testing.assert_allclose(h.W.W, want_ww, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# hessian (forward over reverse)

A3 = np.array([[1.0, 2.0, 0.5], [-1.0, 0.3, 2.0], [0.7, 0.1, -1.5]])


def quad_matmul(x, A):
    return x @ A @ x


def quad_dot(x, A):
    return np.dot(x, np.dot(A, x))


def quad_outer(x, A):
    return np.sum(A * np.outer(x, x))


def quad_reductions(x, A):
    return np.sum(x * np.sum(A * x, axis=1))


def quad_loop(x, A):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * np.sum(A[i] * x)
    return s


def quad_nested_loops(x, A):
    s = 0.0
    for i in range(len(x)):
        for j in range(len(x)):
            s = s + A[i, j] * x[i] * x[j]
    return s


def sum_sin(x):
    return np.sum(np.sin(x))


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_hessian(x):
    return np.array([[2.0 - 400.0 * (x[1] - x[0] ** 2) + 800.0 * x[0] ** 2, -400.0 * x[0]],
                     [-400.0 * x[0], 200.0]])


def cubes_loop(x):
    s = 0.0
    for v in x:
        s = s + v ** 3
    return s


def product_loop(x):
    p = 1.0
    for i in range(len(x)):
        p = p * x[i]
    return p


def product_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                h[i, j] = np.prod([x[k] for k in range(n) if k not in (i, j)])
    return h


@pytest.mark.parametrize("seed", POINTS)
@pytest.mark.parametrize("f", [quad_matmul, quad_dot, quad_outer, quad_reductions, quad_loop],
                         ids=lambda f: f.__name__)
def test_hessian_quadratic_form(f, seed):
    x = rand(seed, 3)
    h = s2sad.hessian(f)(x, A3)
    assert h.shape == (3, 3)
    np.testing.assert_allclose(h, A3 + A3.T, rtol=1e-12, atol=1e-12)


def test_hessian_quadratic_form_nested_loops():
    x = rand(0, 3)
    np.testing.assert_allclose(s2sad.hessian(quad_nested_loops)(x, A3), A3 + A3.T, rtol=1e-12)


@pytest.mark.parametrize("seed", POINTS)
def test_hessian_sum_sin(seed):
    x = rand(seed, 4, low=-2.0, high=2.0)
    np.testing.assert_allclose(s2sad.hessian(sum_sin)(x), np.diag(-np.sin(x)), rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("x", [np.array([0.5, 0.3]), np.array([-1.2, 1.0]),
                               np.array([1.0, 1.0])])
def test_hessian_rosenbrock(x):
    np.testing.assert_allclose(s2sad.hessian(rosenbrock)(x), rosenbrock_hessian(x),
                               rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("seed", POINTS)
def test_hessian_loop_functions(seed):
    x = rand(seed, 4, low=0.2, high=1.5)
    np.testing.assert_allclose(s2sad.hessian(cubes_loop)(x), np.diag(6.0 * x), rtol=1e-12)
    np.testing.assert_allclose(s2sad.hessian(product_loop)(x), product_hessian(x), rtol=1e-12,
                               atol=1e-14)


def scalar_quartic(x):
    return x ** 4 + math.sin(x)


def mixed(x, y):
    return x * x * y + np.sin(y)


@pytest.mark.parametrize("x", [0.7, -1.3, 2.0])
def test_hessian_of_scalar_functions(x):
    assert s2sad.hessian(scalar_quartic)(x) == pytest.approx(12 * x * x - math.sin(x), rel=1e-12)
    y = x / 2
    h = np.array(s2sad.hessian(mixed, (0, 1))(x, y))
    np.testing.assert_allclose(h, [[2 * y, 2 * x], [2 * x, -math.sin(y)]], rtol=1e-12)


# ---------------------------------------------------------------------------
# grad of grad


def sin_x2(x):
    return math.sin(x) * x ** 2


def exp_mix(x, y):
    return x * x * y + math.exp(x * y)


def power_loop(x, n):
    s = 1.0
    for _ in range(n):
        s = s * x
    return s


def sin_series_loop(x, n):
    s = 0.0
    for i in range(1, n + 1):
        s = s + math.sin(i * x) / i
    return s


def linear_while(x):
    y = x
    while y < 10.0:
        y = y * 1.5 + x
    return y


@pytest.mark.parametrize("x", [0.7, -1.1, 2.3])
def test_grad_of_grad(x):
    gg = s2sad.grad(s2sad.grad(sin_x2))
    assert gg(x) == pytest.approx((2 - x * x) * math.sin(x) + 4 * x * math.cos(x), rel=1e-12)
    ggg = s2sad.grad(gg)
    assert ggg(x) == pytest.approx((6 - x * x) * math.cos(x) - 6 * x * math.sin(x), rel=1e-11)
    y = 0.3 * x
    e = math.exp(x * y)
    assert s2sad.grad(s2sad.grad(exp_mix, 0), 1)(x, y) == pytest.approx(
        2 * x + e * (1 + x * y), rel=1e-12)
    assert s2sad.grad(s2sad.grad(exp_mix, 0), 0)(x, y) == pytest.approx(
        2 * y + y * y * e, rel=1e-12)
    value, g2 = s2sad.value_and_grad(s2sad.grad(sin_x2))(x)
    assert value == pytest.approx(2 * x * math.sin(x) + x * x * math.cos(x), rel=1e-12)
    assert g2 == pytest.approx(gg(x), rel=1e-14)


@pytest.mark.parametrize("x, n", [(0.7, 3), (-1.1, 4), (1.6, 5), (2.0, 1), (0.9, 0)])
def test_grad_of_grad_loops(x, n):
    want = n * (n - 1) * x ** (n - 2) if n >= 2 else 0.0
    assert s2sad.grad(s2sad.grad(power_loop))(x, n) == pytest.approx(want, rel=1e-12)
    want = -sum(i * math.sin(i * x) for i in range(1, n + 1))
    assert s2sad.grad(s2sad.grad(sin_series_loop))(x, n) == pytest.approx(want, rel=1e-12,
                                                                             abs=1e-14)


@pytest.mark.parametrize("x", [0.7, 3.0, 9.0])
def test_grad_of_grad_while_is_zero_for_piecewise_linear(x):
    assert s2sad.grad(s2sad.grad(linear_while))(x) == 0.0
    assert s2sad.grad(linear_while)(x) == pytest.approx(numerical_grad(linear_while, (x,)),
                                                        rel=1e-6)


# ---------------------------------------------------------------------------
# has_aux, stop_gradient, elementwise_grad


def loss_with_aux(x, y):
    loss = x * y + math.sin(x)
    return loss, (loss * 2.0, y)


def array_loss_with_aux(v):
    return np.sum(v * v), v * 3.0


def no_aux(x):
    return x * x


@pytest.mark.parametrize("x, y", [(0.5, 2.0), (-1.0, 0.3), (2.0, -1.5)])
def test_has_aux(x, y):
    g, aux = s2sad.grad(loss_with_aux, has_aux=True)(x, y)
    assert g == pytest.approx(y + math.cos(x), rel=1e-12)
    loss = x * y + math.sin(x)
    assert aux == (pytest.approx(2 * loss), y)
    (gx, gy), aux = s2sad.grad(loss_with_aux, (0, 1), has_aux=True)(x, y)
    assert (gx, gy) == (pytest.approx(y + math.cos(x)), pytest.approx(x))
    (value, aux2), g2 = s2sad.value_and_grad(loss_with_aux, has_aux=True)(x, y)
    assert value == pytest.approx(loss, rel=1e-14)
    assert aux2[0] == pytest.approx(2 * loss)
    assert g2 == pytest.approx(g, rel=1e-14)


def test_has_aux_arrays():
    v = np.array([1.0, -2.0, 0.5])
    (value, aux), g = s2sad.value_and_grad(array_loss_with_aux, has_aux=True)(v)
    assert value == pytest.approx(5.25)
    np.testing.assert_allclose(aux, 3.0 * v)
    np.testing.assert_allclose(g, 2.0 * v)
    g, aux = s2sad.grad(array_loss_with_aux, has_aux=True)(v)
    np.testing.assert_allclose(g, 2.0 * v)
    np.testing.assert_allclose(aux, 3.0 * v)


def test_has_aux_needs_a_pair():
    with pytest.raises(s2sad.ArgumentError,
                       match=r"has_aux=True needs the function to return \(value, aux\)"):
        s2sad.grad(no_aux, has_aux=True)(0.5)


def loss_with_trace(x, y, n):
    trace = []
    s = 0.0
    for i in range(n):
        s = s + x * y * i + math.sin(s)
        trace.append(s)
    return s * s, trace


def loss_with_buffer(a, x):
    a = a * 1.0
    a[0] = x * x
    a[1] = a[0] * x
    return np.sum(a * a), a


def loss_by_branch(x, y):
    if x > 0:
        return x * y, {"branch": "positive", "x": x}
    elif y > 1:
        return x - y, {"branch": "y"}
    return x * x, None


def loss_returning_in_loop(x, n):
    s = x
    for i in range(n):
        s = s * x + 0.5
        if s > 10.0:
            return s, i
    return s * 2.0, -1


@pytest.mark.parametrize("mode", ["auto", "reverse"])
@pytest.mark.parametrize("x, y", [(0.5, 2.0), (-1.0, 0.3)])
def test_has_aux_a_list_the_function_appends_to(x, y, mode):
    """The reverse sweep pops the appends: the aux returned is the list as the
    forward sweep left it (a copy), not the emptied list."""
    args = (x, y, 4)
    g, aux = s2sad.grad(loss_with_trace, (0, 1), has_aux=True, mode=mode)(*args)
    assert aux == pytest.approx(loss_with_trace(*args)[1], rel=1e-14) and len(aux) == 4
    want = numerical_grad(lambda x, y: loss_with_trace(x, y, 4)[0], (x, y), (0, 1))
    assert g == pytest.approx(want, rel=1e-6)


def test_has_aux_an_array_written_in_place():
    v, x = np.array([1.0, -2.0, 0.5]), 1.5
    (value, aux), g = s2sad.value_and_grad(loss_with_buffer, (0, 1), has_aux=True)(v, x)
    want_value, want_aux = loss_with_buffer(v, x)
    assert value == pytest.approx(want_value)
    np.testing.assert_allclose(aux, want_aux)           # not restored by the reverse sweep
    want = numerical_grad(lambda v, x: loss_with_buffer(v, x)[0], (v, x), (0, 1))
    np.testing.assert_allclose(g[0], want[0], rtol=1e-6)
    assert g[1] == pytest.approx(want[1], rel=1e-6)


@pytest.mark.parametrize("x, y", [(0.5, 2.0), (-1.0, 3.0), (-0.5, 0.2)])
def test_has_aux_with_several_returns(x, y):
    g, aux = s2sad.grad(loss_by_branch, (0, 1), has_aux=True)(x, y)
    assert aux == loss_by_branch(x, y)[1]
    want = numerical_grad(lambda x, y: loss_by_branch(x, y)[0], (x, y), (0, 1))
    assert g == pytest.approx(want, rel=1e-6)
    (value, aux2), g2 = s2sad.value_and_grad(loss_by_branch, (0, 1), has_aux=True)(x, y)
    assert (value, aux2) == (pytest.approx(loss_by_branch(x, y)[0]), aux)
    assert g2 == pytest.approx(g, rel=1e-14)


@pytest.mark.parametrize("x, n", [(1.5, 6), (0.3, 3), (2.5, 4)])
def test_has_aux_with_a_return_in_a_loop(x, n):
    for mode in ("auto", "reverse"):
        g, aux = s2sad.grad(loss_returning_in_loop, has_aux=True, mode=mode)(x, n)
        assert aux == loss_returning_in_loop(x, n)[1]
        want = numerical_grad(lambda x: loss_returning_in_loop(x, n)[0], (x,))
        assert g == pytest.approx(want, rel=1e-6)


def trace_by_branch(x, y):
    trace = []
    if x > 0:
        trace.append(x * y)
        return x * y * y, trace
    trace.append(x)
    trace.append(y * 2.0)
    return x * 3.0 + y, trace


@pytest.mark.parametrize("mode", ["auto", "reverse"])
@pytest.mark.parametrize("x, y", [(0.5, 2.0), (-1.0, 0.3)])
def test_has_aux_with_several_returns_of_a_list_the_function_appends_to(x, y, mode):
    """Each return gives its aux to one name, whose SSA versions copy the list too:
    they are no second name of it (refused as an Alias, naming _auxv_2 = trace)."""
    (value, aux), g = s2sad.value_and_grad(trace_by_branch, (0, 1), has_aux=True,
                                           mode=mode)(x, y)
    want_value, want_aux = trace_by_branch(x, y)
    assert value == pytest.approx(want_value) and aux == pytest.approx(want_aux, rel=1e-14)
    want = numerical_grad(lambda x, y: trace_by_branch(x, y)[0], (x, y), (0, 1))
    assert g == pytest.approx(want, rel=1e-6)


def one_return_without_aux(x):
    if x > 0:
        return x * x, 1
    return x


def test_has_aux_needs_a_pair_at_every_return():
    with pytest.raises(s2sad.ArgumentError,
                       match=r"has_aux=True needs the function to return \(value, aux\)"):
        s2sad.grad(one_return_without_aux, has_aux=True)(0.5)


def x_times_stopped_x(x):
    return x * s2sad.stop_gradient(x)


def stopped_product(x, y):
    z = s2sad.stop_gradient(x * y)
    return z * x + y


def stopped_array(v):
    return np.sum(v * s2sad.stop_gradient(np.sin(v)))


@pytest.mark.parametrize("x", [3.0, -0.5, 1.7])
def test_stop_gradient(x):
    assert s2sad.stop_gradient(x) == x
    assert s2sad.grad(x_times_stopped_x)(x) == pytest.approx(x, rel=1e-14)
    y = 0.5 - x
    gx, gy = s2sad.grad(stopped_product, (0, 1))(x, y)
    assert gx == pytest.approx(x * y, rel=1e-14)
    assert gy == pytest.approx(1.0, rel=1e-14)
    value, t = s2sad.jvp(x_times_stopped_x)(x, 1.0)
    assert value == pytest.approx(x * x) and t == pytest.approx(x, rel=1e-14)
    v = np.array([0.1, x, -x])
    np.testing.assert_allclose(s2sad.grad(stopped_array)(v), np.sin(v), rtol=1e-14)


def tanh_scaled(x):
    return x * np.tanh(2.0 * x)


def tanh_plain(x):
    return np.tanh(x)


def tanh_of_two(x, y):
    return np.tanh(x * y) + y


@pytest.mark.parametrize("seed", POINTS)
def test_elementwise_grad(seed):
    x = rand(seed, 5, low=-2.0, high=2.0)
    t = np.tanh(x)
    np.testing.assert_allclose(s2sad.elementwise_grad(tanh_plain)(x), 1 - t * t, rtol=1e-12)
    t2 = np.tanh(2 * x)
    np.testing.assert_allclose(s2sad.elementwise_grad(tanh_scaled)(x),
                               t2 + 2 * x * (1 - t2 * t2), rtol=1e-12)
    m = x[:4].reshape(2, 2)
    t2m = np.tanh(2 * m)
    g = s2sad.elementwise_grad(tanh_scaled)(m)
    assert g.shape == (2, 2)
    np.testing.assert_allclose(g, t2m + 2 * m * (1 - t2m * t2m), rtol=1e-12)
    y = rand(seed + 5, 5)
    tt = np.tanh(x * y)
    np.testing.assert_allclose(s2sad.elementwise_grad(tanh_of_two, 1)(x, y),
                               x * (1 - tt * tt) + 1, rtol=1e-12)
    s = float(x[0])
    assert s2sad.elementwise_grad(tanh_plain)(s) == pytest.approx(1 - math.tanh(s) ** 2)


# ---------------------------------------------------------------------------
# custom_vjp


@s2sad.custom_vjp
def softplus(x):
    return math.log1p(math.exp(x))


def softplus_fwd(x):
    return softplus(x), x


def softplus_bwd(x, g):
    # deliberately twice the true derivative, so the tests can tell it was used
    return (2.0 * g / (1.0 + math.exp(-x)),)


softplus.defvjp(softplus_fwd, softplus_bwd)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def uses_softplus(x, y):
    return softplus(x * y) * y + x


def softplus_in_loop(x, n):
    s = x
    for _ in range(n):
        s = softplus(s) * 0.5
    return s


@s2sad.custom_vjp
def mul(a, b):
    return a * b


def mul_fwd(a, b):
    return a * b, (a, b)


def mul_bwd(res, g):
    a, b = res
    return g * b, g * a


mul.defvjp(mul_fwd, mul_bwd)


def uses_mul(a, b):
    return mul(a, b) * a


@s2sad.custom_vjp
def never_defined(x):
    return x * 2.0


def uses_never_defined(x):
    return never_defined(x) + 1.0


@pytest.mark.parametrize("x, y", [(0.3, 1.2), (-1.0, 0.5), (2.0, -0.7)])
def test_custom_vjp_inside_differentiated_function(x, y):
    assert softplus(x) == math.log1p(math.exp(x))
    gx, gy = s2sad.grad(uses_softplus, (0, 1))(x, y)
    sig = sigmoid(x * y)
    assert gx == pytest.approx(2 * sig * y * y + 1, rel=1e-12)            # the custom bwd
    assert gy == pytest.approx(2 * sig * x * y + softplus(x * y), rel=1e-12)
    true_gx = numerical_grad(uses_softplus, (x, y), 0)
    assert gx != pytest.approx(true_gx, rel=1e-3)                            # not the truth
    value, g = s2sad.value_and_grad(uses_softplus)(x, y)
    assert value == pytest.approx(uses_softplus(x, y), rel=1e-14)
    assert g == pytest.approx(gx, rel=1e-14)
    src = s2sad.source(uses_softplus)
    assert "fwd_softplus(" in src and "bwd_softplus(" in src


@pytest.mark.parametrize("x", [0.5, -1.5, 3.0])
def test_grad_of_custom_vjp_directly(x):
    assert s2sad.grad(softplus)(x) == pytest.approx(2 * sigmoid(x), rel=1e-12)
    value, g = s2sad.value_and_grad(softplus)(x)
    assert value == pytest.approx(math.log1p(math.exp(x)), rel=1e-14)
    assert g == pytest.approx(2 * sigmoid(x), rel=1e-12)
    value, pullback = s2sad.vjp(softplus)(x)
    assert pullback(3.0) == pytest.approx(6 * sigmoid(x), rel=1e-12)


@pytest.mark.parametrize("x, n", [(0.4, 0), (0.4, 1), (-0.8, 3), (1.5, 4)])
def test_custom_vjp_in_a_loop_uses_residuals_in_order(x, n):
    # d s_{k+1} / d s_k = 0.5 * (2 * sigmoid(s_k))  with the doubled custom rule
    s, want = x, 1.0
    for _ in range(n):
        want *= sigmoid(s)
        s = softplus(s) * 0.5
    assert s2sad.grad(softplus_in_loop)(x, n) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("a, b", [(2.0, 3.0), (-0.5, 1.5), (1.2, -0.4)])
def test_custom_vjp_two_arguments(a, b):
    ga, gb = s2sad.grad(uses_mul, (0, 1))(a, b)
    assert (ga, gb) == (pytest.approx(2 * a * b), pytest.approx(a * a))
    assert s2sad.grad(uses_mul, 1)(a, b) == pytest.approx(a * a)
    assert s2sad.grad(mul, (0, 1))(a, b) == (pytest.approx(b), pytest.approx(a))


def test_custom_vjp_without_defvjp():
    with pytest.raises(s2sad.MissingRuleError, match="never_defined"):
        s2sad.grad(uses_never_defined)(1.0)


def test_custom_vjp_in_forward_mode_is_reported():
    with pytest.raises(s2sad.MissingRuleError, match="custom_vjp gives only a reverse-mode"):
        s2sad.jvp(uses_softplus)(0.3, 1.2, 1.0)


# ---------------------------------------------------------------------------
# check_grads


def good_scalar(x, y):
    return math.sin(x * y) + x ** 3 / (1.0 + y * y)


def good_arrays(x, w):
    return np.sum(np.tanh(x * w) ** 2) + np.sum(x) * 0.5


def good_loop(x):
    s = x
    for _ in range(3):
        s = math.sin(s) * x
    return s


def int_and_float(x, n):
    return x ** n


@pytest.mark.parametrize("f, args", [
    (good_scalar, (0.4, 1.3)),
    (good_scalar, (-1.2, 0.2)),
    (good_arrays, (np.array([0.1, 0.4, -0.2]), np.array([1.0, 2.0, 3.0]))),
    (good_loop, (0.7,)),
    (good_loop, (-1.4,)),
    (int_and_float, (1.3, 3)),
    (square_map, (np.array([0.2, -0.4, 0.9]),)),        # array output: rev uses vjp
], ids=["scalar-a", "scalar-b", "arrays", "loop-a", "loop-b", "int-arg", "array-out"])
def test_check_grads_passes(f, args):
    assert s2sad.check_grads(f, args, modes=("fwd", "rev"), order=2) is True
    assert s2sad.check_grads(f, args, modes=("rev",), order=1) is True


def test_check_grads_custom_vjp_right():
    assert s2sad.check_grads(uses_mul, (2.0, 3.0), modes=("rev",), order=1) is True


def test_check_grads_catches_wrong_custom_vjp():
    with pytest.raises(AssertionError, match="reverse mode") as info:
        s2sad.check_grads(uses_softplus, (0.3, 1.2), modes=("rev",), order=1)
    assert "finite differences give" in str(info.value)
    with pytest.raises(AssertionError, match="reverse mode"):
        s2sad.check_grads(softplus, (0.5,), modes=("rev",), order=2)


def test_check_grads_needs_a_float_argument():
    with pytest.raises(s2sad.ArgumentError, match="at least one float argument"):
        s2sad.check_grads(int_and_float, (2, 3))


# ---------------------------------------------------------------------------
# transformed functions called from differentiated code: grad(jvp(...)), grad of grad calls


def _sin_xy(x, y):
    return math.sin(x) * y + x * x


_DSIN_DX = s2sad.jvp(_sin_xy, 0)
_GRAD_SIN = s2sad.grad(_sin_xy, (0, 1))


def twice_tangent(x, y):
    return _DSIN_DX(x, y, 1.0)[1] * 2.0            # 2 df/dx


def product_of_partials(x, y):
    gx, gy = _GRAD_SIN(x, y)
    return gx * gy


@pytest.mark.parametrize("x, y", [(0.7, 1.3), (-0.4, 2.0), (1.9, -0.6)])
def test_grad_of_a_function_calling_jvp(x, y):
    got = s2sad.grad(twice_tangent, (0, 1))(x, y)
    want = (-2.0 * math.sin(x) * y + 4.0, 2.0 * math.cos(x))
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("x, y", [(0.7, 1.3), (-0.4, 2.0), (1.9, -0.6)])
def test_grad_of_a_function_calling_grad(x, y):
    gx, gy = math.cos(x) * y + 2.0 * x, math.sin(x)
    want = ((-math.sin(x) * y + 2.0) * gy + gx * math.cos(x), math.cos(x) * gy)
    got = s2sad.grad(product_of_partials, (0, 1))(x, y)
    assert got == pytest.approx(want, rel=1e-12)
    assert s2sad.jvp(product_of_partials, 0)(x, y, 1.0)[1] == pytest.approx(want[0], rel=1e-12)


@s2sad.custom_vjp
def _two_arguments(x, y):
    return x * y


_two_arguments.defvjp(lambda x, y: (x * y, (x, y)), lambda r, g: (g * r[1],))


def _uses_two_arguments(x):
    return _two_arguments(x, 2.0)


def test_custom_vjp_errors_name_the_function():
    with pytest.raises(s2sad.MissingRuleError, match="without defvjp") as info:
        s2sad.grad(uses_never_defined)(1.0)
    assert info.value.filename == __file__ and info.value.lineno is not None
    # a bwd returning too few adjoints raised a bare IndexError
    with pytest.raises(s2sad.ArgumentError, match="returned 1 adjoint.*2 argument") as info:
        s2sad.grad(_uses_two_arguments)(1.5)
    assert info.value.filename == __file__


@s2sad.custom_vjp
def _scaled_power(x, n):
    return x ** n


_scaled_power.defvjp(lambda x, n: (x ** n, (x, n)),
                     lambda r, g: (g * r[1] * r[0] ** (r[1] - 1), None))   # None: no derivative


def _power_of_a_vector(v, n):
    return np.sum(_scaled_power(v, n))


def test_custom_vjp_none_means_no_derivative_and_argument_mistakes_are_located():
    # None from bwd gave a bare TypeError (float(None)); now a zero like the argument
    assert s2sad.grad(_scaled_power, wrt=1)(2.0, 3) == 0.0
    assert s2sad.grad(_scaled_power, wrt=0)(2.0, 3) == pytest.approx(12.0)
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose(s2sad.grad(_power_of_a_vector)(v, 2.0), 2.0 * v)
    with pytest.raises(s2sad.ArgumentError, match="too many positional arguments"):
        s2sad.vjp(_uses_two_arguments)(1.0, 2.0)
    with pytest.raises(s2sad.ArgumentError, match="as a tuple"):
        s2sad.check_grads(_uses_two_arguments, 1.5)


def _with_a_default(x, y, scale=2.0):
    return scale * x * x * y


def test_jvp_jacobian_hessian_take_defaults_and_keywords():
    # they insisted on every argument (jvp) or raised a bare TypeError for a keyword
    x, y = 1.5, 0.7
    assert s2sad.jvp(_with_a_default)(x, y, 1.0) == (
        pytest.approx(2.0 * x * x * y), pytest.approx(4.0 * x * y))
    assert s2sad.jvp(_with_a_default)(x, y, 1.0, scale=3.0) == (
        pytest.approx(3.0 * x * x * y), pytest.approx(6.0 * x * y))
    assert float(s2sad.hessian(_with_a_default)(x, y)) == pytest.approx(4.0 * y)
    assert float(s2sad.hessian(_with_a_default)(x, y, scale=3.0)) == pytest.approx(6.0 * y)
    assert float(s2sad.jacobian(_with_a_default)(x, y, scale=3.0)) == pytest.approx(6.0 * x * y)
    with pytest.raises(s2sad.ArgumentError, match="unexpected keyword"):
        s2sad.jvp(_with_a_default)(x, y, 1.0, shift=3.0)


# ---------------------------------------------------------------------------
# keyword-only parameters: passed by keyword or left at their defaults, as f takes them


def scaled_cube(x, y, *, scale=2.0, shift=0.0):
    return scale * x * x * y + shift * x


@pytest.mark.parametrize("x, y, kw", [(1.0, 2.0, {}), (-0.5, 1.5, {"scale": 3.0}),
                                      (2.0, -1.0, {"scale": 0.5, "shift": 4.0})])
def test_keyword_only_parameters_in_jvp_jacobian_hessian(x, y, kw):
    scale, shift = kw.get("scale", 2.0), kw.get("shift", 0.0)
    dfdx, dfdy = 2.0 * scale * x * y + shift, scale * x * x
    value, t = s2sad.jvp(scaled_cube, (0, 1))(x, y, 0.3, -0.7, **kw)
    assert value == pytest.approx(scaled_cube(x, y, **kw))
    assert t == pytest.approx(0.3 * dfdx - 0.7 * dfdy)
    jx, jy = s2sad.jacobian(scaled_cube, (0, 1))(x, y, **kw)
    assert (float(jx), float(jy)) == (pytest.approx(dfdx), pytest.approx(dfdy))
    assert float(s2sad.jacobian(scaled_cube, 0, mode="fwd")(x, y, **kw)) == pytest.approx(dfdx)
    assert float(s2sad.hessian(scaled_cube)(x, y, **kw)) == pytest.approx(2.0 * scale * y)
    _, pullback = s2sad.vjp(scaled_cube, (0, 1))(x, y, **kw)
    assert pullback(1.0) == (pytest.approx(dfdx), pytest.approx(dfdy))
    assert s2sad.check_grads(scaled_cube, (x, y))


def test_jvp_along_a_keyword_only_parameter_is_refused():
    with pytest.raises(s2sad.ArgumentError, match="wrt names a keyword-only parameter"):
        s2sad.jvp(scaled_cube, 2)(1.0, 2.0, 1.0, scale=3.0)


def test_jacobian_and_hessian_along_a_keyword_only_parameter_are_refused():
    """As jvp refuses it (they took the arguments bound positionally: a bare
    IndexError)."""
    for transform in (s2sad.jacobian, s2sad.hessian):
        with pytest.raises(s2sad.ArgumentError, match="wrt names a keyword-only parameter"):
            transform(scaled_cube, 2)(1.0, 2.0, scale=3.0)


def test_check_grads_with_arguments_f_does_not_take():
    """A keyword-only parameter given positionally: an ArgumentError, as in the other
    transformations (a bare TypeError from calling f)."""
    with pytest.raises(s2sad.ArgumentError, match="too many positional arguments"):
        s2sad.check_grads(scaled_cube, (1.0, 2.0, 3.0))


def _two_scalars(x, y):
    return x * x * y + math.sin(y)


@pytest.mark.parametrize("x, y", [(0.3, 0.7), (-1.5, 2.0)])
def test_jacobian_of_a_gradient_along_two_scalars(x, y):
    """Found by the fuzzer (second order): grad(f, wrt=(0, 1)) returns a tuple, and the
    jacobian by rows (auto: one output per input) raised that "the adjoint given to the
    pullback has another structure than the value", about a pullback the user never
    gave. A tuple of outputs goes by columns; mode='rev' says what is wrong."""
    g = s2sad.grad(_two_scalars, wrt=(0, 1))
    want = [[2 * y, 2 * x], [2 * x, -math.sin(y)]]
    jx, jy = s2sad.jacobian(g, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(np.array([jx, jy]).T, want, rtol=1e-12)
    np.testing.assert_allclose(np.array(s2sad.hessian(_two_scalars, wrt=(0, 1))(x, y)), want,
                               rtol=1e-12)
    with pytest.raises(s2sad.ArgumentError) as info:
        s2sad.jacobian(g, wrt=(0, 1), mode="rev")(x, y)
    msg = str(info.value)
    assert "mode='rev': the function returns a tuple, not an array or a number" in msg
    assert "use mode='fwd'" in msg


# ---------------------------------------------------------------------------
# calls of floats only go straight to the generated code (_Wrapper._remember)


def scalar_mix(x, y, z):
    s = 0.0
    for k in range(3):
        s = s + math.sin(x * (k + 1.0)) * y - z * z * x
    return s


def scalar_log(x, y):
    return math.log(x) * y


def _points(seed, n, low=0.3, high=1.7):
    return [float(v) for v in rand(seed, n, low=low, high=high)]


@pytest.mark.parametrize("wrt", [0, 2, (0, 1), (0, 1, 2)])
def test_jvp_of_floats_repeated_against_finite_differences(wrt):
    """The first call takes the general path and remembers the code; the next calls of
    floats go straight to it: every call agrees with finite differences, interleaved
    with calls the shortcut does not serve (ints, an array, keywords)."""
    idx = wrt if isinstance(wrt, tuple) else (wrt,)
    jvp = s2sad.jvp(scalar_mix, wrt)
    for seed in range(4):
        args = _points(seed, 3)
        tangents = _points(seed + 10, len(idx), -1.0, 1.0)
        value, tangent = jvp(*args, *tangents)
        want = sum(t * numerical_grad(scalar_mix, args, i) for t, i in zip(tangents, idx))
        assert value == scalar_mix(*args)
        assert tangent == pytest.approx(want, rel=1e-6, abs=1e-8)
        assert jvp(*args, *tangents) == (value, tangent)
        # not served by the shortcut: the general path, the same numbers
        assert jvp(args[0], args[1], *tangents, z=args[2]) == pytest.approx((value, tangent))
        ints = [1, 2, 1]
        v_int, t_int = jvp(*ints, *tangents)
        want_int = sum(t * numerical_grad(scalar_mix, [1.0, 2.0, 1.0], i)
                       for t, i in zip(tangents, idx))
        assert v_int == pytest.approx(scalar_mix(1.0, 2.0, 1.0))
        assert t_int == pytest.approx(want_int, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("wrt", [1, (0, 1)])
def test_vjp_of_floats_repeated_against_finite_differences(wrt):
    idx = wrt if isinstance(wrt, tuple) else (wrt,)
    vjp = s2sad.vjp(scalar_mix, wrt)
    for seed in range(4):
        args = _points(seed, 3)
        for _ in range(2):
            value, pullback = vjp(*args)
            assert value == scalar_mix(*args)
            for adjoint in (1.0, -2.5):
                grads = pullback(adjoint)
                grads = grads if isinstance(grads, tuple) else (grads,)
                assert len(grads) == len(idx)
                for g, i in zip(grads, idx):
                    want = adjoint * numerical_grad(scalar_mix, args, i)
                    assert g == pytest.approx(want, rel=1e-6, abs=1e-8)
            assert pullback(1.0) == pullback(1.0)   # the tape recorded again
        value, pullback = vjp(np.array(args[0]), args[1], args[2])     # not served
        assert float(value) == pytest.approx(scalar_mix(*args))


def test_shortcut_keeps_the_checks_and_located_errors():
    """A call of floats through the remembered code: an error in the generated code
    names the user's line as the general path does, and the pullback still checks the
    adjoint's shape."""
    jvp = s2sad.jvp(scalar_log, (0, 1))
    assert jvp(2.0, 3.0, 1.0, 0.0) == pytest.approx((math.log(2.0) * 3.0, 1.5))
    with pytest.raises(ValueError) as info:
        jvp(-2.0, 3.0, 1.0, 0.0)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "scalar_log" in notes or "test_toolbox.py" in notes
    vjp = s2sad.vjp(scalar_log, (0, 1))
    vjp(2.0, 3.0)
    value, pullback = vjp(2.0, 3.0)
    with pytest.raises(s2sad.S2SADError, match="shape"):
        pullback(np.ones(3))


@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_jacobian_and_hessian_repeated_calls(mode):
    """A jacobian object keeps its jvp and vjp objects: repeated calls at several points
    agree with finite differences."""
    jac = s2sad.jacobian(scalar_mix, (0, 1, 2), mode=mode)
    hess = s2sad.hessian(scalar_mix, (0, 2))
    grad = s2sad.grad(scalar_mix, (0, 2))
    for seed in range(3):
        args = _points(seed, 3)
        for _ in range(2):
            got = jac(*args)
            for i in range(3):
                assert float(got[i]) == pytest.approx(numerical_grad(scalar_mix, args, i),
                                                      rel=1e-6, abs=1e-8)
            h = hess(*args)
            for a in (0, 1):
                row = numerical_grad(lambda x, y, z, a=a: grad(x, y, z)[a], args, (0, 2))
                assert np.allclose([float(h[a][0]), float(h[a][1])], row,
                                   rtol=1e-5, atol=1e-6)
