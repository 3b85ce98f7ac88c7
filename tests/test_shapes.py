"""Shape classes (s2sad/shapes.py): ``unbroadcast`` is left out only where it is the identity."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import assert_grad_matches

import s2sad


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def shifted(x):
    return np.sum(x[2:] * x[:-2] + np.sin(x[1:-1]) * x[:-2])


def mismatched(x, y):
    return np.sum(x[1:] * y + x[:-1])


def broadcast_row(x, m):
    return np.sum(np.tanh(m * x) + x)


def with_step(x):
    return np.sum(x[::2] * x[::2] + x[1:] * x[:-1])


def test_finite_differences_drop_every_unbroadcast():
    src = s2sad.source(rosen, args=(np.ones(5),))
    assert "unbroadcast" not in src
    rng = np.random.default_rng(0)
    for n in (2, 3, 10):
        assert_grad_matches(rosen, (rng.uniform(-1.2, 1.2, n),), wrt=0)


def test_different_offsets_in_one_expression():
    src = s2sad.source(shifted, args=(np.ones(6),))
    assert "unbroadcast" not in src
    rng = np.random.default_rng(1)
    for n in (3, 4, 9):
        assert_grad_matches(shifted, (rng.uniform(-1.0, 1.0, n),), wrt=0)


def test_operand_of_unknown_shape_keeps_unbroadcast():
    # y may be a scalar array, a row or a column: its adjoint must be summed back
    src = s2sad.source(mismatched, wrt=(0, 1), args=(np.ones(4), np.ones(3)))
    assert "unbroadcast(" in src
    rng = np.random.default_rng(2)
    x = rng.uniform(-1.0, 1.0, 4)
    for y in (rng.uniform(-1.0, 1.0, 3), rng.uniform(-1.0, 1.0, (3, 1)),
              rng.uniform(-1.0, 1.0, (2, 3))):
        assert_grad_matches(mismatched, (x, y), wrt=(0, 1))


def test_two_dimensional_operand_broadcasts():
    rng = np.random.default_rng(3)
    x, m = rng.uniform(-1.0, 1.0, 3), rng.uniform(-1.0, 1.0, (4, 3))
    assert_grad_matches(broadcast_row, (x, m), wrt=(0, 1))
    assert s2sad.grad(broadcast_row)(x, m).shape == (3,)


def test_stepped_slices_are_not_classed():
    src = s2sad.source(with_step, args=(np.ones(6),))
    rng = np.random.default_rng(4)
    for n in (2, 3):       # x[::2] and x[1:] have equal lengths only for these n
        assert_grad_matches(with_step, (rng.uniform(-1.0, 1.0, n),), wrt=0)
    assert "def grad_with_step" in src


def test_zero_dimensional_argument_gives_a_scalar_gradient():
    g = s2sad.grad(lambda x: np.sum(np.sin(x) * x))(np.array(0.5))
    assert np.ndim(g) == 0
    assert float(g) == pytest.approx(np.cos(0.5) * 0.5 + np.sin(0.5))


def test_classes_of_the_rosenbrock_temporaries():
    from s2sad import api
    kinds = {"x": "A1"}
    impl = api.compiled(rosen, (0,), False, "grad", kinds)
    shapes = impl.ctx.shapes
    assert shapes["x"] == ("x",)
    less = [n for n, c in shapes.items() if c == ("less", ("x",), 1)]
    assert len(less) >= 6          # x[1:], x[:-1] and the elementwise values built on them


def test_rosenbrock_forward_keeps_only_what_the_reverse_reads():
    src = s2sad.source(rosen, args=(np.ones(5),))
    forward = src.split("b_t")[0]
    # the value of the sum and the squares are not needed: only x[1:] - x[:-1]**2,
    # 1 - x[:-1] and the views stay
    assert "np.sum" not in src and "seed(" not in src
    assert forward.count(" = ") == 6, forward
    # the adjoint of the summed array is all ones: it stays the number 1.0, folded
    # into the constants (2 * 100 = 200) instead of multiplying arrays by it
    assert "sum_adjoint" not in src and "b_t4 = 200.0 * _t4" in src
    reverse = src[src.index("b_t"):]
    assert reverse.count(" = ") == 4 and "-b_" not in reverse, reverse


def sum_of_quotient(x, y):
    return np.sum(x / y[1:] - y[:-1])


def test_array_of_ones_kept_where_shapes_are_not_known_equal():
    # x and y[1:] have equal shapes only because the caller says so: the adjoint of
    # the sum stays an array of ones and unbroadcast stays
    rng = np.random.default_rng(7)
    for n in (2, 5):
        x, y = rng.uniform(0.5, 2.0, n - 1), rng.uniform(0.5, 2.0, n)
        assert_grad_matches(sum_of_quotient, (x, y), wrt=(0, 1))
    src = s2sad.source(sum_of_quotient, wrt=(0, 1), args=(np.ones(3), np.ones(4)))
    assert "sum_adjoint(1.0, _t4, None, False)" in src and "unbroadcast(" in src


def keeps_raising_calls(x):
    y = np.log(x[1:]) * 0.0
    z = np.sum(x * x)
    return z + np.sum(y[:0])


def test_unused_array_values_are_removed_but_gradients_stay_right():
    rng = np.random.default_rng(5)
    for n in (3, 6):
        assert_grad_matches(keeps_raising_calls, (rng.uniform(0.5, 2.0, n),), wrt=0)


def full_reductions(x):
    return np.sum(x) * np.mean(x) + np.max(x) - np.prod(x) + np.linalg.norm(x)


def test_full_reductions_of_vectors_are_scalars():
    src = s2sad.source(full_reductions, args=(np.ones(4),))
    assert "seed(" not in src            # the output is known to be a number
    rng = np.random.default_rng(6)
    for _ in range(3):
        assert_grad_matches(full_reductions, (rng.uniform(0.5, 2.0, 4),), wrt=0)


def test_arrays_are_freed_after_their_last_use():
    src = s2sad.source(rosen, args=(np.ones(5),))
    lines = [line.strip() for line in src.splitlines()]
    # x**2 is read once, by x[1:] - x**2: freed right after
    assert lines[lines.index("_t4 = _t1 - _t3") + 1] == "del _t3"
    assert "del _t1" not in src and "del x" not in src      # views and parameters stay
    # the Hessian (forward over reverse) reads the generated code, del statements included
    x0, x1 = 0.5, 1.5
    h = s2sad.hessian(rosen)(np.array([x0, x1]))
    want = [[1200.0 * x0 * x0 - 400.0 * x1 + 2.0, -400.0 * x0], [-400.0 * x0, 200.0]]
    np.testing.assert_allclose(h, want, rtol=1e-12)


def sum_of_slice(x):
    return np.sum(x[1:]) + np.sum(x[:-1] * 3.0)


def test_ones_assigned_into_a_slice_stay_a_number():
    src = s2sad.source(sum_of_slice, args=(np.ones(4),))
    assert "sum_adjoint" not in src and "bx[1:] += 1.0" in src, src
    rng = np.random.default_rng(8)
    for n in (1, 2, 5):
        assert_grad_matches(sum_of_slice, (rng.uniform(-1.0, 1.0, n),), wrt=0)


def dead_max(x):
    m = np.max(x)     # noqa: F841 - unused, but raises for an empty x
    return np.sum(x * x)


def dead_inverse(x):
    r = x ** -1       # noqa: F841 - unused, but raises for an int array
    return np.sum(x * 2.0)


def test_dead_numpy_calls_that_can_raise_stay():
    with pytest.raises(ValueError):
        dead_max(np.zeros(0))
    with pytest.raises(ValueError):
        s2sad.grad(dead_max)(np.zeros(0))
    assert "np.max(x)" in s2sad.source(dead_max, args=(np.ones(3),))
    assert "x ** (-1)" in s2sad.source(dead_inverse, args=(np.ones(3),))
    np.testing.assert_allclose(s2sad.grad(dead_max)(np.array([1.0, -2.0])), [2.0, -4.0])
