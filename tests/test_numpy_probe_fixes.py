"""Defects found by probing NumPy constructs (views, stores, out=, in-place calls).

* Calls returning a view of (or the very) array they are given: ``np.matrix_transpose``,
  ``np.permute_dims``, ``np.rollaxis``, ``np.real_if_close``, ``np.trim_zeros``, a
  one-operand ``np.einsum``, ``a.conj()`` of a real array, each argument of
  ``np.atleast_1d(a, b)``: a write into the result changed the array unseen (a silent
  wrong gradient). Refused as the writes into other views are (``aliasing``).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

MODES = ["reverse", "forward"]
W = np.arange(1.0, 5.0)
X4 = np.array([0.3, -1.2, 0.5, 2.0])

VIEW = "writing into a view of another array"
INPLACE = "in-place update of an array whose memory another name shares"


def _line(fn, marker="# <- refused"):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, text in enumerate(lines) if marker in text)


def _derivative(fn, args, mode, wrt=0):
    """The gradient (reverse mode), or the jvp along a fixed direction (forward mode),
    of ``fn`` with respect to argument ``wrt``."""
    if mode == "reverse":
        return s2sad.grad(fn, wrt=wrt, mode="reverse")(*args)
    return s2sad.jvp(fn, wrt=wrt)(*args, _direction(args[wrt]))[1]


def _direction(x):
    return np.linspace(-1.0, 1.5, np.size(x)).reshape(np.shape(x)) if np.ndim(x) else 0.7


def _refused(fn, args, error, words, mode="reverse", wrt=0):
    with pytest.raises(error) as info:
        _derivative(fn, args, mode, wrt)
    text = str(info.value)
    first = text.splitlines()[0]
    assert first.startswith(f"{__file__}:{_line(fn)}:"), text
    for w in words:
        assert w in text, text
    return text


def _matches(fn, args, mode="reverse", wrt=0):
    """The derivative of ``fn`` in ``mode`` agrees with finite differences, and the
    call leaves its arguments as they were."""
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = _derivative(fn, args, mode, wrt)
    want = numerical_grad(fn, args, wrt)
    if mode == "forward":
        want = np.sum(want * _direction(args[wrt]))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    return got


# ---------------------------------------------------------------------------
# calls returning views


def view_matrix_transpose(x):
    a = x * 1.0
    b = np.matrix_transpose(a.reshape(2, 2))
    b[0, 0] = 10.0  # <- refused
    return np.sum(a * W)


def view_linalg_matrix_transpose(x):
    a = x * 1.0
    b = np.linalg.matrix_transpose(a.reshape(2, 2))
    b[0, 0] = 10.0  # <- refused
    return np.sum(a * W)


def view_permute_dims(x):
    a = x * 1.0
    b = np.permute_dims(a.reshape(2, 2), (1, 0))
    b[0, 0] = 10.0  # <- refused
    return np.sum(a * W)


def view_rollaxis(x):
    a = x * 1.0
    b = np.rollaxis(a.reshape(2, 2), 1)
    b[0, 0] = 10.0  # <- refused
    return np.sum(a * W)


def view_real_if_close(x):
    a = x * 1.0
    b = np.real_if_close(a)
    b[0] = 10.0  # <- refused
    return np.sum(a * W)


def view_trim_zeros(x):
    a = x * 1.0
    b = np.trim_zeros(a)
    b[0] = 10.0  # <- refused
    return np.sum(a * W)


def view_conj(x):
    a = x * 1.0
    b = a.conj()
    b[0] = 10.0  # <- refused
    return np.sum(a * W)


def view_conjugate(x):
    a = x * 1.0
    b = a.conjugate()
    b[0] = 10.0  # <- refused
    return np.sum(a * W)


def view_einsum(x):
    a = x * 1.0
    b = np.einsum("ii->i", a.reshape(2, 2))
    b[0] = 10.0  # <- refused
    return np.sum(a * W)


def view_conj_of_a_global(x):
    b = W.conj()            # W itself
    b[0] = x[0]  # <- refused
    return np.sum(W * x)


VIEW_WRITES = [view_matrix_transpose, view_linalg_matrix_transpose, view_permute_dims,
               view_rollaxis, view_real_if_close, view_trim_zeros, view_conj, view_conjugate,
               view_einsum, view_conj_of_a_global]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", VIEW_WRITES, ids=[f.__name__ for f in VIEW_WRITES])
def test_write_into_a_view_made_by_a_call_is_refused(fn, mode):
    _refused(fn, (X4,), s2sad.UnsupportedSyntaxError, [VIEW, "(b)"], mode)


def scaled_matrix_transpose(x):
    a = x * 1.0
    b = np.matrix_transpose(a.reshape(2, 2))
    b *= 3.0  # <- refused
    return np.sum(a * W)


def scaled_conjugate(x):
    a = x * 1.0
    b = a.conjugate()
    b *= 3.0  # <- refused
    return np.sum(a * W)


def scaled_second_of_atleast_1d(x):
    a = x * 1.0
    c = x * 2.0
    p, q = np.atleast_1d(a, c)
    q *= 3.0  # <- refused
    return np.sum(c * W) + np.sum(p)


def scaled_einsum_transpose(x):
    a = x * 1.0
    b = np.einsum("ij->ji", a.reshape(2, 2))
    b *= 3.0  # <- refused
    return np.sum(a * W)


def scaled_as_strided(x):
    # (a function of a module's module: np.lib.stride_tricks was a temporary of the
    # normal form, taken for the receiver of a method whose result shares its memory)
    a = x * 1.0
    b = np.lib.stride_tricks.as_strided(a, (2, 2), (16, 8))
    b *= 3.0  # <- refused
    return np.sum(a * W)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", [scaled_matrix_transpose, scaled_conjugate,
                                scaled_second_of_atleast_1d, scaled_einsum_transpose,
                                scaled_as_strided])
def test_in_place_update_of_a_view_made_by_a_call_is_refused(fn, mode):
    _refused(fn, (X4,), s2sad.UnsupportedSyntaxError, [INPLACE, "read later"], mode)


def new_arrays_written(x):
    # np.conj (a ufunc) and an einsum of two operands make new arrays: written freely
    a = x * 1.0
    b = np.conj(a)
    b[0] = 10.0 * x[1]
    c = np.einsum("i,i->i", a, a)
    c[1] = 3.0 * x[2]
    c *= 2.0
    return np.sum(a * W) + np.sum(b * W) + np.sum(c * W)


@pytest.mark.parametrize("mode", MODES)
def test_writes_into_new_arrays_of_the_same_family_are_differentiated(mode):
    _matches(new_arrays_written, (X4,), mode)


# ---------------------------------------------------------------------------
# an array stored into itself: a[::-1] = a (the reverse sweep zeroed the adjoint it
# had just added the value's part to)

M23 = np.arange(1.0, 7.0).reshape(2, 3)


def self_store_noop(x):
    a = x.copy()
    a[:] = a
    return np.sum(a * W * a)


def self_store_reversed(x):
    a = x * 1.0
    a[::-1] = a
    return np.sum(a * W * x)


def self_store_permuted(x):
    a = x * 1.0
    a[[3, 2, 1, 0]] = a
    return np.sum(a * W * x)


def self_store_repeated_index(x):
    a = x * 1.0
    a[[0, 0, 1, 2]] = a         # the last write of a[0] wins: a[0] = a[1]
    return np.sum(a * W * x)


def self_store_ellipsis(x):
    a = x * 1.0
    a[...] = a
    return np.sum(a * W * x)


def self_store_unary_plus(x):
    a = x * 1.0
    a[::-1] = +a
    return np.sum(a * W * x)


def self_store_in_loop(x):
    a = x * 1.0
    for _ in range(3):
        a[::-1] = a
        a = a * x
    return np.sum(a * W)


def self_store_matrix(x):
    A = np.outer(x[:2], x[1:])
    A[:, ::-1] = A
    A[::-1] = A
    return np.sum(A * M23)


def self_store_after_branch(x):
    a = x * 1.0
    if x[0] > 0:
        a = a * 2.0
    a[::-1] = a
    return np.sum(a * W * x)


SELF_STORES = [self_store_noop, self_store_reversed, self_store_permuted,
               self_store_repeated_index, self_store_ellipsis, self_store_unary_plus,
               self_store_in_loop, self_store_matrix, self_store_after_branch]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", SELF_STORES, ids=[f.__name__ for f in SELF_STORES])
def test_an_array_stored_into_itself(fn, mode):
    _matches(fn, (X4,), mode)


@pytest.mark.parametrize("fn", [self_store_reversed, self_store_permuted, self_store_in_loop])
def test_an_array_stored_into_itself_second_derivative(fn):
    got = s2sad.hessian(fn)(X4.copy())
    h = 1e-3        # (central differences of central differences: exact for polynomials
    #                 of degree 3, up to rounding)
    want = np.array([(numerical_grad(fn, (X4 + h * e,)) - numerical_grad(fn, (X4 - h * e,)))
                     / (2 * h) for e in np.eye(X4.size)])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_the_value_and_gradient_of_a_reversal_into_itself():
    value, grad = s2sad.value_and_grad(self_store_reversed)(X4)
    assert value == pytest.approx(self_store_reversed(X4))
    np.testing.assert_allclose(grad, X4[::-1] * W + X4[::-1] * W[::-1])


# ---------------------------------------------------------------------------
# a stored value with leading size-1 axes, which NumPy drops (the adjoint helpers
# crashed with a bare ValueError or IndexError)

W34 = np.arange(1.0, 13.0).reshape(3, 4)


def store_row(v):
    a = np.zeros((3, 4))
    a[0] = v
    return np.sum(a * W34 * a)


def store_whole(v):
    a = np.zeros((3, 4))
    a[...] = v
    return np.sum(a * W34 * a)


def store_column(v):
    a = np.zeros((3, 4))
    a[:, 0] = v
    return np.sum(a * W34 * a)


def store_rows_fancy(v):
    a = np.zeros((3, 4))
    a[[0, 2]] = v
    return np.sum(a * W34 * a)


def store_rowtwice_of_fancy(v):
    a = np.zeros((3, 4))
    a[[0, 0]] = v
    return np.sum(a * W34 * a)


def store_block(v):
    a = np.ones((3, 4))
    a[1:, 1:3] = v
    return np.sum(a * W34 * a)


def store_rows_in_loop(v):
    a = np.zeros((3, 4))
    for i in range(3):
        a[i] = v * (i + 1.0)
    return np.sum(a * W34 * a)


LEADING_ONES = [(store_row, (1, 4)), (store_row, (1, 1, 4)), (store_row, (1, 1)),
                (store_whole, (1, 3, 1)), (store_whole, (1, 1, 4)), (store_column, (1, 3)),
                (store_rows_fancy, (1, 2, 4)), (store_rows_fancy, (1, 1, 4)),
                (store_rowtwice_of_fancy, (1, 2, 4)), (store_block, (1, 2, 2)),
                (store_block, (1, 1, 2)), (store_rows_in_loop, (1, 4))]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, shape", LEADING_ONES,
                         ids=[f"{f.__name__}-{s}" for f, s in LEADING_ONES])
def test_a_stored_value_with_leading_size_one_axes(fn, shape, mode):
    v = np.linspace(-1.0, 2.0, int(np.prod(shape))).reshape(shape)
    got = _matches(fn, (v,), mode)
    if mode == "reverse":
        assert got.shape == shape


def test_the_store_helpers_shape_the_adjoint_like_the_value():
    g = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(s2sad.runtime.take_adjoint(g, 0, np.ones((1, 4))),
                                  g[:1])
    np.testing.assert_array_equal(
        s2sad.runtime.take_adjoint(g, Ellipsis, np.ones((1, 3, 1))),
        g.sum(1).reshape(1, 3, 1))
    np.testing.assert_array_equal(
        s2sad.runtime.store_adjoint(g, np.array([0, 0]), np.ones((1, 2, 4))),
        np.stack([np.zeros(4), g[0]])[None])


# ---------------------------------------------------------------------------
# out given to a method of a value computed in the call's receiver (refused on a
# named array; unseen there: a silent zero gradient)

OUT = "a NumPy call writing its result into an array given as out"


def twice_of(x):
    return x * 2.0


def out_mean_of_reshape(x):
    o = np.zeros(2)
    x.reshape(2, 2).mean(0, None, o)  # <- refused
    return np.sum(o)


def out_cumsum_of_product(x):
    o = np.zeros(4)
    (x * 2.0).cumsum(0, None, o)  # <- refused
    return np.sum(o * W)


def out_dot_of_transpose(x):
    o = np.zeros((2, 2))
    x.reshape(2, 2).T.dot(x.reshape(2, 2), o)  # <- refused
    return np.sum(o)


def out_cumsum_of_negation(x):
    o = np.zeros(4)
    y = (-x).cumsum(0, None, o)  # <- refused
    return np.sum(y * W) + np.sum(o)


def out_sum_of_numpy_call(x):
    o = np.zeros(4)
    np.exp(x).cumsum(0, None, o)  # <- refused
    return np.sum(o * W)


def out_sum_of_a_row(x):
    o = np.zeros(2)
    B = np.outer(x, x)
    B[0].reshape(2, 2).sum(0, None, o)  # <- refused
    return np.sum(o)


def out_cumsum_of_your_function(x):
    o = np.zeros(4)
    twice_of(x).cumsum(0, None, o)  # <- refused
    return np.sum(o * W)


def out_keyword_sum_of_reshape(x):
    o = np.zeros(2)
    x.reshape(2, 2).sum(0, out=o)  # <- refused
    return np.sum(o)


def out_keyword_sum_of_product(x):
    o = np.zeros(2)
    (x * 1.0).reshape(2, 2).sum(axis=0, out=o)  # <- refused
    return np.sum(o)


OUT_ON_COMPUTED = [
    (out_mean_of_reshape, "(x.reshape(2, 2).mean(0, None, o): out given as its positional "
                          "argument 3)"),
    (out_cumsum_of_product, "((x * 2.0).cumsum(0, None, o): out given as its positional "
                            "argument 3)"),
    (out_dot_of_transpose, "out given as its positional argument 2"),
    (out_cumsum_of_negation, "((-x).cumsum(0, None, o): out given as its positional "
                             "argument 3)"),
    (out_sum_of_numpy_call, "(np.exp(x).cumsum(0, None, o)"),
    (out_sum_of_a_row, "(B[0].reshape(2, 2).sum(0, None, o)"),
    (out_cumsum_of_your_function, "(twice_of(x).cumsum(0, None, o)"),
    (out_keyword_sum_of_reshape, "(x.reshape(2, 2).sum(0, out=o): out given by keyword)"),
    (out_keyword_sum_of_product, "((x * 1.0).reshape(2, 2).sum(axis=0, out=o): out given "
                                 "by keyword)"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, detail", OUT_ON_COMPUTED,
                         ids=[c[0].__name__ for c in OUT_ON_COMPUTED])
def test_out_given_to_a_method_of_a_computed_array_is_refused(fn, detail, mode):
    text = _refused(fn, (X4,), s2sad.UnsupportedSyntaxError, [OUT, detail], mode)
    assert "_t" not in text.splitlines()[0]
    assert "hint: use the value the call returns" in text


class _Pile:
    def __init__(self, x):
        self.x = x

    def copy(self):
        return _Pile(self.x)

    def sum(self, a, b, c):             # a method named like ndarray's, no out
        return np.sum(self.x) * (a + b + c)


def methods_of_objects_and_no_out(x):
    p = _Pile(W)        # (no derivative through the objects)
    s = p.copy().sum(1.0, 2.0, 3.0) + _Pile(W * 2.0).sum(1.0, 0.0, 0.0)
    return s * x[0] + np.sum(x.reshape(2, 2).mean(0, None)) + np.sum((x * 2.0).cumsum(0, None))


def test_methods_of_objects_and_calls_without_out_are_differentiated():
    _matches(methods_of_objects_and_no_out, (X4,), "reverse")


# ---------------------------------------------------------------------------
# np.nan_to_num(a, copy=False, ...) replaces a's values in place, unseen (a silent
# zero gradient for the values it puts there)

NAN_TO_NUM = "np.nan_to_num with copy=False, which replaces the values of its argument"
SPECIAL = np.array([np.nan, 1.0, np.inf, 2.0])


def nan_to_num_in_place(x):
    a = SPECIAL.copy()
    np.nan_to_num(a, copy=False, nan=x[0], posinf=x[1])  # <- refused
    return np.sum(a * W)


def nan_to_num_in_place_by_position(x):
    a = SPECIAL * x
    b = np.nan_to_num(a, False)  # <- refused
    return np.sum(a * W) + np.sum(b)


def nan_to_num_in_place_copy_unknown(x, copy):
    a = SPECIAL.copy()
    np.nan_to_num(a, copy=copy, nan=x[0])  # <- refused
    return np.sum(a * W)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", [nan_to_num_in_place, nan_to_num_in_place_by_position])
def test_nan_to_num_in_place_is_refused(fn, mode):
    text = _refused(fn, (X4,), s2sad.UnsupportedSyntaxError, [NAN_TO_NUM], mode)
    assert "hint: use the value it returns: a = np.nan_to_num(a, nan=v)" in text


def test_nan_to_num_with_a_copy_not_known_is_refused():
    _refused(nan_to_num_in_place_copy_unknown, (X4, True), s2sad.UnsupportedSyntaxError,
             [NAN_TO_NUM, "copy=copy"])


def nan_to_num_returned(x):
    a = SPECIAL.copy()
    a = np.nan_to_num(a, copy=True, nan=x[0], posinf=x[1])
    b = np.nan_to_num(a * x, nan=x[2])
    return np.sum(a * W) + np.sum(b * b)


@pytest.mark.parametrize("mode", MODES)
def test_nan_to_num_returning_its_value_is_differentiated(mode):
    _matches(nan_to_num_returned, (X4,), mode)


# ---------------------------------------------------------------------------
# messages in the user's text: no temporary of the normal form (_t1.sort()), and a
# function of a module's module (np.lib.stride_tricks) no "method of a computed value"


def sort_of_a_slice(x):
    a = x.copy()
    a[:].sort()  # <- refused
    return np.sum(a * W)


def sort_of_a_reversed_slice(x):
    a = x * 1.0
    a[1:][::-1].sort()  # <- refused
    return np.sum(a * W)


def sort_of_a_reshape(x):
    a = x * 1.0
    a.reshape(2, 2).sort(axis=0)  # <- refused
    return np.sum(a * W)


def partition_of_a_product(x):
    a = x * 1.0
    (a * 1.0).partition(1)  # <- refused
    return np.sum(a)


def put_into_a_slice(x):
    a = x * 1.0
    a[:].put([0], x[0])  # <- refused
    return np.sum(a)


def shuffle_by_a_new_generator(x):
    a = x * 1.0
    np.random.default_rng(0).shuffle(a)  # <- refused
    return np.sum(a * W)


IN_USER_TEXT = [
    (sort_of_a_slice, "a.sort() of an array that carries a derivative", "(a[:].sort())"),
    (sort_of_a_reversed_slice, "a.sort() of an array", "(a[1:][::-1].sort())"),
    (sort_of_a_reshape, "a.sort() of an array", "(a.reshape(2, 2).sort())"),
    (partition_of_a_product, "call for its side effects", "((a * 1.0).partition)"),
    (put_into_a_slice, "call for its side effects", "(a[:].put)"),
    (shuffle_by_a_new_generator, "call for its side effects",
     "(np.random.default_rng(0).shuffle)"),
]


@pytest.mark.parametrize("fn, what, detail", IN_USER_TEXT,
                         ids=[c[0].__name__ for c in IN_USER_TEXT])
def test_refusals_of_methods_of_computed_values_show_the_users_text(fn, what, detail):
    text = _refused(fn, (X4,), s2sad.UnsupportedSyntaxError, [what, detail])
    assert "_t" not in text.splitlines()[0]


def window_view(x):
    return np.sum(np.lib.stride_tricks.sliding_window_view(x, 2) ** 2)  # <- refused


@pytest.mark.parametrize("mode", MODES)
def test_a_function_of_a_submodule_without_rule_is_named(mode):
    text = _refused(window_view, (X4,), s2sad.MissingRuleError,
                    ["no derivative rule for np.lib.stride_tricks.sliding_window_view\n",
                     "hint: register one with @s2sad.",
                     "(np.lib.stride_tricks.sliding_window_view) (a template"], mode)
    assert "computed value" not in text


def window_view_constant(x):
    w = np.lib.stride_tricks.sliding_window_view(W, 2)
    return np.sum(w * x[0]) + np.sum(np.lib.stride_tricks.as_strided(W, (2,), (8,)))


def test_a_function_of_a_submodule_on_constants_runs():
    _matches(window_view_constant, (X4,))
