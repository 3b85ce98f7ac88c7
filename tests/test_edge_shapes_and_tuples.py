"""Edge shapes and tuples: 0-d array arguments (the tangents s2sad makes for them, and
those you pass, are arrays, as the derivative code reads them), empty arrays (an
empty Jacobian or Hessian, of the shapes ``jacobian`` gives), and ``max``/``min`` of
tuples or lists, which Python compares item by item: the derivative is that of the
item picked (the first of equal ones, as Python picks it), in both modes and to
second order.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

MODES = ("reverse", "forward")


# -- 0-d arrays ---------------------------------------------------------------------


def cube_sum(a):
    return a.sum() ** 3


def cube_item(a):
    return a[()] ** 3


def cube_ellipsis(a):
    return np.sum(a[...]) ** 3


def cube_newaxis(a):
    return np.sum(a[None]) ** 3


def cube_copy(a):
    return a.copy().sum() ** 3


def cube_transpose(a):
    return a.T.sum() ** 3


CUBES = [cube_sum, cube_item, cube_ellipsis, cube_newaxis, cube_copy, cube_transpose]


@pytest.mark.parametrize("f", CUBES, ids=lambda f: f.__name__)
def test_hessian_of_a_0d_array(f):
    a = np.array(0.7)
    h = s2sad.hessian(f)(a)
    assert np.shape(h) == ()
    assert float(h) == pytest.approx(6 * 0.7)                  # d2/da2 a**3 = 6a
    fd = numerical_grad(lambda v: s2sad.grad(f)(v), [a])        # of the gradient
    assert float(h) == pytest.approx(float(fd), rel=1e-5)


@pytest.mark.parametrize("f", CUBES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("tangent", [1.0, 2, np.float64(1.0), np.array(1.0)],
                         ids=["float", "int", "float64", "0-d array"])
def test_jvp_of_a_0d_array_takes_a_number_as_its_tangent(f, tangent):
    a = np.array(0.7)
    value, t = s2sad.jvp(f)(a, tangent)
    assert float(value) == pytest.approx(0.7 ** 3)
    assert float(t) == pytest.approx(3 * 0.7 ** 2 * float(tangent))
    assert float(t) == pytest.approx(float(numerical_grad(f, [a])) * float(tangent), rel=1e-5)


@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_jacobian_of_a_0d_array(mode):
    a = np.array(0.7)
    j = s2sad.jacobian(cube_sum, mode=mode)(a)
    assert np.shape(j) == ()
    assert float(j) == pytest.approx(3 * 0.7 ** 2)


def product_squared(a, b):
    return (a * b).sum() ** 2


def test_hessian_of_two_0d_arrays():
    a, b = np.array(0.7), np.array(1.5)
    (haa, hab), (hba, hbb) = s2sad.hessian(product_squared, wrt=(0, 1))(a, b)
    # (ab)^2: [[2 b^2, 4 ab], [4 ab, 2 a^2]]
    assert [float(haa), float(hab), float(hba), float(hbb)] == pytest.approx(
        [2 * 1.5 ** 2, 4 * 0.7 * 1.5, 4 * 0.7 * 1.5, 2 * 0.7 ** 2])


def test_jvp_of_two_0d_arrays_with_number_tangents():
    a, b = np.array(0.7), np.array(1.5)
    _, t = s2sad.jvp(product_squared, wrt=(0, 1))(a, b, 1.0, 0.5)
    ga, gb = numerical_grad(product_squared, [a, b], wrt=(0, 1))
    assert float(t) == pytest.approx(float(ga) + 0.5 * float(gb), rel=1e-5)


def tuple_of_0d(p):
    a, w = p
    return a.sum() ** 3 * w


def test_jvp_of_a_tuple_holding_a_0d_array():
    a = np.array(0.7)
    _, t = s2sad.jvp(tuple_of_0d)((a, 2.0), (1.0, 0.0))
    assert float(t) == pytest.approx(3 * 0.7 ** 2 * 2.0)
    _, t = s2sad.jvp(tuple_of_0d)((a, 2.0), (0.0, 1.0))
    assert float(t) == pytest.approx(0.7 ** 3)


def test_jvp_of_a_float32_0d_array_keeps_its_dtype():
    a = np.array(0.5, dtype=np.float32)
    _, t = s2sad.jvp(cube_sum)(a, 1.0)
    assert float(t) == pytest.approx(3 * 0.25, rel=1e-6)


def test_a_tangent_of_another_shape_is_still_refused():
    with pytest.raises(s2sad.S2SADError, match="shape"):
        s2sad.jvp(cube_sum)(np.array(0.7), np.ones(2))


# -- empty arrays -------------------------------------------------------------------


def sum_of_squares(a):
    return np.sum(a * a) + 1.0


def test_hessian_of_an_empty_vector():
    h = s2sad.hessian(sum_of_squares)(np.zeros(0))
    assert isinstance(h, np.ndarray) and h.shape == (0, 0)


def test_hessian_of_an_empty_matrix():
    h = s2sad.hessian(sum_of_squares)(np.zeros((0, 3)))
    assert h.shape == (0, 3, 0, 3)


def test_hessian_beside_an_empty_vector_is_the_analytic_one():
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(s2sad.hessian(sum_of_squares)(x), 2.0 * np.eye(3))


def doubled(a):
    return 2.0 * a


@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_jacobian_of_an_empty_vector(mode):
    j = s2sad.jacobian(doubled, mode=mode)(np.zeros(0))
    assert j.shape == (0, 0)


def squares_of_two(a, b):
    return np.sum(a * a) * np.sum(b) + np.sum(b * b)


def test_hessian_of_two_empty_vectors():
    e = np.zeros(0)
    h = s2sad.hessian(squares_of_two, wrt=(0, 1))(e, e)
    assert [[block.shape for block in row] for row in h] == [[(0, 0), (0, 0)], [(0, 0), (0, 0)]]


def cubic_coupling(a, b):
    return np.sum(a * a * b[0]) * np.sum(b ** 3) + a[0] * b[1] * a[2]


def _fd_block(f, args, i, j, eps=1e-4):
    """d2f / d args[i] d args[j] by central differences, of shape args[i] + args[j]."""
    out = np.zeros(args[i].shape + args[j].shape)
    for p in np.ndindex(args[i].shape):
        for q in np.ndindex(args[j].shape):
            def at(di, dj, p=p, q=q):
                x = [np.array(v, dtype=float) for v in args]
                x[i][p] += di
                x[j][q] += dj
                return f(*x)
            out[p + q] = (at(eps, eps) - at(eps, -eps) - at(-eps, eps)
                          + at(-eps, -eps)) / (4 * eps * eps)
    return out


@pytest.mark.parametrize("b", [np.array([0.3, -0.7, 1.1]), np.array([0.3, -0.7])])
def test_hessian_of_two_arrays_has_jax_blocks(b):
    """h[i][j] = d2f / d arg_i d arg_j, of shape arg_i.shape + arg_j.shape, as JAX's:
    with two vectors of one length it came transposed off the diagonal (the blocks
    d grads / d arg_j stacked), with two lengths it raised a bare ValueError."""
    a = np.array([0.5, 1.0, 2.0])
    h = s2sad.hessian(cubic_coupling, wrt=(0, 1))(a, b)
    for i in range(2):
        for j in range(2):
            want = _fd_block(cubic_coupling, (a, b), i, j)
            assert h[i][j].shape == want.shape
            np.testing.assert_allclose(h[i][j], want, rtol=1e-5, atol=1e-6)


def list_of_two(p):
    return np.sum(p[0] ** 2) + np.sum(p[1] ** 3)


def test_hessian_of_a_list_holding_an_empty_vector():
    x = np.array([1.0, 2.0])
    [[h00, h01], [h10, h11]] = s2sad.hessian(list_of_two)([np.zeros(0), x])
    assert h00.shape == (0, 0) and h01.shape == (0, 2) and h10.shape == (2, 0)
    np.testing.assert_allclose(h11, np.diag(6.0 * x))


# -- max and min of tuples and lists ------------------------------------------------


def max_of_pairs(x, y):
    pairs = [(x, 1.0), (y, 2.0)]
    m = max(pairs)
    return m[0] * m[1]


def max_of_pairs_times_x(x, y):
    pairs = [(x, 1.0), (y, 2.0)]
    m = max(pairs)
    return m[0] * m[1] * x


def min_of_pairs(x, y):
    pairs = [(x * y, y), (y, x)]
    m = min(pairs)
    return m[0] * m[1] * x


def max_of_two_tuples(x, y):
    a = (x, 1.0)
    b = (y, 2.0)
    m = max(a, b)
    return m[0] * m[1] * x


def min_of_two_lists(x, y):
    m = min([x * y, y], [y, x])
    return m[0] * m[1] * x


def max_of_three_tuples(x, y):
    m = max((x, 1.0), (y, 2.0), (x * y, 0.5))
    return m[0] * m[1] * x


def max_of_tuple_of_pairs(x, y):
    m = max(((x, y), (y, x)))
    return m[0] * m[1] ** 2


def max_of_dict_values(x, y):
    d = {"a": (x, 1.0), "b": (y, 2.0)}
    m = max(d.values())
    return m[0] * m[1] * y


TUPLE_FUNCTIONS = [max_of_pairs, max_of_pairs_times_x, min_of_pairs, max_of_two_tuples,
                   min_of_two_lists, max_of_three_tuples, max_of_tuple_of_pairs,
                   max_of_dict_values]
POINTS = [(1.5, 1.3), (1.2, 1.6), (0.7, 2.1)]       # away from ties


def test_the_reported_case():
    for mode in MODES:
        assert s2sad.grad(max_of_pairs, wrt=(0, 1), mode=mode)(1.5, 1.3) \
            == pytest.approx((1.0, 0.0))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("f", TUPLE_FUNCTIONS, ids=lambda f: f.__name__)
def test_extreme_of_tuples_matches_finite_differences(f, point, mode):
    got = s2sad.grad(f, wrt=(0, 1), mode=mode)(*point)
    assert got == pytest.approx(numerical_grad(f, list(point), wrt=(0, 1)), rel=1e-5,
                                abs=1e-6)


def _fd_hessian(f, point):
    """Finite differences of the (reverse-mode) gradient."""
    def component(j):
        return lambda *p: s2sad.grad(f, wrt=(0, 1))(*p)[j]

    # [j][i]: d(grad_j) / d(argument i)
    return np.array([[numerical_grad(component(j), list(point), wrt=i) for i in range(2)]
                     for j in range(2)])


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("f", TUPLE_FUNCTIONS, ids=lambda f: f.__name__)
def test_hessian_of_extreme_of_tuples(f, point):
    h = np.array(s2sad.hessian(f, wrt=(0, 1))(*point), dtype=float)
    np.testing.assert_allclose(h, _fd_hessian(f, point), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("f", TUPLE_FUNCTIONS, ids=lambda f: f.__name__)
def test_grad_of_grad_of_extreme_of_tuples(f, point):
    want = _fd_hessian(f, point)
    for i in range(2):
        row = s2sad.grad(s2sad.grad(f, wrt=i), wrt=(0, 1))(*point)
        np.testing.assert_allclose(np.array(row, dtype=float), want[i], rtol=1e-5,
                                   atol=1e-6)


def test_max_of_pairs_analytic_second_derivatives():
    # at (1.2, 1.6) max picks (y, 2.0): f = 2 x y, hessian [[0, 2], [2, 0]]
    np.testing.assert_allclose(np.array(s2sad.hessian(max_of_pairs_times_x, wrt=(0, 1))(
        1.2, 1.6)), [[0.0, 2.0], [2.0, 0.0]])
    # at (1.5, 1.3) it picks (x, 1.0): f = x**2
    np.testing.assert_allclose(np.array(s2sad.hessian(max_of_pairs_times_x, wrt=(0, 1))(
        1.5, 1.3)), [[2.0, 0.0], [0.0, 0.0]])


def max_of_equal_firsts(x, y):
    pairs = [(x, 1.0), (y, 1.0)]
    m = max(pairs)
    return m[0] * 3.0


def min_of_two_equal(x, y):
    m = min((x, 1.0), (y, 1.0))
    return m[0] * 3.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", [max_of_equal_firsts, min_of_two_equal],
                         ids=lambda f: f.__name__)
def test_equal_tuples_the_first_is_picked(f, mode):
    # (x, 1.0) == (y, 1.0): Python gives the first, whose derivative is the one taken
    assert s2sad.grad(f, wrt=(0, 1), mode=mode)(1.4, 1.4) == pytest.approx((3.0, 0.0))
    assert np.array(s2sad.hessian(f, wrt=(0, 1))(1.4, 1.4)) == pytest.approx(
        np.zeros((2, 2)))


def max_on_the_second_item(x, y):
    pairs = [(1.0, x), (1.0, y)]       # equal firsts: the second items decide
    m = max(pairs)
    return m[1] ** 2


@pytest.mark.parametrize("mode", MODES)
def test_lexicographic_order_decides_on_a_later_item(mode):
    assert s2sad.grad(max_on_the_second_item, wrt=(0, 1), mode=mode)(0.5, 0.8) \
        == pytest.approx((0.0, 1.6))
    assert s2sad.grad(max_on_the_second_item, wrt=(0, 1), mode=mode)(0.9, 0.8) \
        == pytest.approx((1.8, 0.0))


def max_of_rows_argument(rows):
    m = max(rows)
    return m[0] * m[1]


def test_max_of_a_list_argument_of_pairs():
    rows = [(1.5, 2.0), (1.3, 4.0)]
    g = s2sad.grad(max_of_rows_argument)(rows)
    assert np.array(g, dtype=float) == pytest.approx(np.array([[2.0, 1.5], [0.0, 0.0]]))


def pairs_of_an_array(x):
    pairs = [(x[0], x[1]), (x[1], x[0])]
    m = max(pairs)
    return m[0] * m[1] ** 2


def test_max_of_pairs_of_array_items():
    x = np.array([1.2, 1.7])
    np.testing.assert_allclose(s2sad.grad(pairs_of_an_array)(x),
                               numerical_grad(pairs_of_an_array, [x]), rtol=1e-5)
    # x[1] * x[0]**2: [[2 x1, 2 x0], [2 x0, 0]]
    np.testing.assert_allclose(s2sad.hessian(pairs_of_an_array)(x),
                               [[3.4, 2.4], [2.4, 0.0]])


# numbers keep their rules and their ties split evenly


def max_of_numbers(x, y):
    return max(x, y) * max([x, y])


@pytest.mark.parametrize("mode", MODES)
def test_numbers_split_a_tie_evenly(mode):
    # max(x, y)**2 at x == y: 2 m, half to each
    assert s2sad.grad(max_of_numbers, wrt=(0, 1), mode=mode)(1.5, 1.5) \
        == pytest.approx((1.5, 1.5))


def test_numbers_keep_the_inline_rule():
    code = s2sad.source(max_of_numbers, wrt=(0, 1))
    assert "pair_adjoint" not in code and "picked_item" not in code
    assert "> y" in code                  # max(x, y): the inline comparison


def test_tuples_take_the_picking_rule():
    assert "pair_adjoint" in s2sad.source(max_of_two_tuples, wrt=(0, 1))
    assert "pair_tangent" in s2sad.source(max_of_two_tuples, wrt=(0, 1), mode="forward")


def max_of_row_items(rows):
    return max(rows[0][0], rows[1][0]) * rows[0][1]


def test_max_of_items_of_a_list_of_lists():
    rows = [[1.5, 2.0], [1.3, 4.0]]
    assert np.array(s2sad.grad(max_of_row_items)(rows), dtype=float) == pytest.approx(
        np.array([[2.0, 1.5], [0.0, 0.0]]))
    tie = [[1.5, 2.0], [1.5, 4.0]]
    assert np.array(s2sad.grad(max_of_row_items)(tie), dtype=float) == pytest.approx(
        np.array([[1.0, 1.5], [1.0, 0.0]]))


def max_by_key(x, y):
    pairs = [(x, 1.0), (y, 2.0)]
    m = max(pairs, key=lambda p: p[0] * p[1])
    return m[0] * m[1]


@pytest.mark.parametrize("mode", MODES)
def test_max_by_key_is_unchanged(mode):
    # x * 1 < y * 2 at (1.5, 1.3): (y, 2.0)
    assert s2sad.grad(max_by_key, wrt=(0, 1), mode=mode)(1.5, 1.3) \
        == pytest.approx((0.0, 2.0))


def two_outputs(x, y):
    return (x * y, x + y * y)


def test_jacobian_of_a_tuple_of_scalars_has_jax_blocks():
    """jac[o][k] = d out[o] / d arg k, as JAX's: it was a tuple over the arguments of
    arrays over the outputs (jac[0][1] was d out[1] / d x)."""
    x, y = 1.5, 2.0
    jac = s2sad.jacobian(two_outputs, wrt=(0, 1))(x, y)
    want = [[y, x], [1.0, 2 * y]]
    np.testing.assert_allclose(np.array(jac, dtype=float), want, rtol=1e-12)
    assert [float(v) for v in s2sad.jacobian(two_outputs, wrt=0)(x, y)] == pytest.approx([y, 1.0])
    h = s2sad.hessian(lambda_free_cubic, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(np.array(h, dtype=float), [[2 * y, 2 * x + 3 * y * y],
                                                          [2 * x + 3 * y * y, 6 * x * y]],
                               rtol=1e-12)


def lambda_free_cubic(x, y):
    return x * x * y + x * y ** 3
