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
    for block in s2sad.hessian(squares_of_two, wrt=(0, 1))(e, e):
        assert block.shape == (2, 0, 0)


def list_of_two(p):
    return np.sum(p[0] ** 2) + np.sum(p[1] ** 3)


def test_hessian_of_a_list_holding_an_empty_vector():
    x = np.array([1.0, 2.0])
    [[h00, h01], [h10, h11]] = s2sad.hessian(list_of_two)([np.zeros(0), x])
    assert h00.shape == (0, 0) and h01.shape == (0, 2) and h10.shape == (2, 0)
    np.testing.assert_allclose(h11, np.diag(6.0 * x))
