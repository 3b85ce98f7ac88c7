"""Stores into arrays: fancy indices that repeat an element, 0-d arrays, int and bool
arrays (which truncate what they store), and the dtype of the gradient.

NumPy keeps the last of repeated writes (``a[[0, 0, 1]] = v`` sets ``a[0] = v[1]``),
so only that item of ``v`` gets the adjoint of ``a[0]``. A float stored into an int
array is truncated, so no derivative passes: s2sad refuses it with a located
``TruncatingStoreError``. Gradients come back in the dtype of their argument.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

MODES = ("auto", "reverse")
X3 = np.array([0.3, -0.7, 1.1])


def line_of(marker):
    with open(__file__) as fh:
        hits = [i for i, text in enumerate(fh, 1) if text.rstrip().endswith(f"# <- {marker}")]
    assert len(hits) == 1
    return hits[0]


def check(f, args, wrt=0, modes=MODES):
    want = numerical_grad(f, args, wrt)
    for mode in modes:
        got = s2sad.grad(f, wrt=wrt, mode=mode)(*args)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=mode)
        _, again = s2sad.value_and_grad(f, wrt=wrt, mode=mode)(*args)
        np.testing.assert_allclose(again, want, rtol=1e-6, atol=1e-7, err_msg=mode)
    return want


# -- fancy stores with a repeated index: the last write wins ----------------------------


def set_repeated(x):
    a = np.zeros(2)
    a[[0, 0, 1]] = x
    return np.sum(a * a)


def iadd_repeated(x):
    a = np.zeros(2)
    a[[0, 0, 1]] += x
    return np.sum(a * a)


def set_repeated_index_array(x, idx):
    a = np.ones(4) * x[3]
    a[idx] = x[:3] * 2.0
    return np.sum(a * a * np.arange(1.0, 5.0))


def set_repeated_broadcast(x):
    a = np.zeros(3)
    a[[2, 0, 2]] = x[0]           # one value broadcast to three writes, two of a[2]
    return np.sum(a * np.array([1.0, 2.0, 3.0])) + x[1] * a[2]


def set_repeated_rows(x):
    a = np.zeros((2, 3))
    a[[1, 1, 0]] = x.reshape(3, 3)
    return np.sum(a * a)


def set_repeated_in_loop(x, idx):
    a = np.zeros(3)
    for k in range(2):
        a[idx] = x * (k + 1.0)
        a = a * x[0]
    return np.sum(a * a)


def set_mask(x):
    a = np.zeros(3)
    a[x > 0] = x[x > 0] ** 2
    return np.sum(a * x)


@pytest.mark.parametrize("mode", MODES)
def test_repeated_index_store_takes_the_last_write(mode):
    # a = [x1, x2]: the sum of squares depends on x1 and x2 only
    got = s2sad.grad(set_repeated, mode=mode)(X3)
    np.testing.assert_allclose(got, [0.0, 2 * X3[1], 2 * X3[2]])
    got = s2sad.grad(iadd_repeated, mode=mode)(X3)
    np.testing.assert_allclose(got, [0.0, 2 * X3[1], 2 * X3[2]])


def test_repeated_index_stores_against_finite_differences():
    x4 = np.array([0.3, -0.7, 1.1, 0.4])
    check(set_repeated, (X3,))
    check(iadd_repeated, (X3,))
    check(set_repeated_index_array, (x4, np.array([1, 1, 0])))
    check(set_repeated_index_array, (x4, [3, 0, 3]))
    check(set_repeated_index_array, (x4, np.array([0, 1, 2])))
    g = check(set_repeated_broadcast, (np.array([0.6, -0.4]),))
    assert g[0] == pytest.approx(1.0 + 3.0 - 0.4)     # a[0] and a[2] once each
    check(set_repeated_rows, (np.linspace(-1.0, 1.0, 9),))
    check(set_repeated_in_loop, (X3, np.array([2, 2, 1])))
    check(set_mask, (np.array([0.5, -0.3, 1.2]),))


def test_repeated_index_store_forward_mode():
    want = numerical_grad(set_repeated_broadcast, (np.array([0.6, -0.4]),))
    value, tangent = s2sad.jvp(set_repeated_broadcast)(np.array([0.6, -0.4]),
                                                       np.array([1.0, 0.0]))
    assert tangent == pytest.approx(want[0])


def test_basic_index_store_keeps_take_adjoint():
    def f(x):
        a = np.zeros(3)
        a[1:] = x[:2]
        a[0] = x[2]
        return np.sum(a * a)

    src = s2sad.source(f, args=(X3,))
    assert "take_adjoint" in src and "store_adjoint" not in src
    src = s2sad.source(set_repeated, args=(X3,))
    assert "store_adjoint(" in src
    check(f, (X3,))


def test_hessian_through_repeated_index_store():
    def f(x):
        a = np.zeros(2)
        a[[0, 0, 1]] = x * x
        return np.sum(a * a * a)

    h = s2sad.hessian(f)(X3)
    want = np.array([numerical_grad(lambda y, i=i: s2sad.grad(f)(y)[i], (X3,))
                     for i in range(3)])
    np.testing.assert_allclose(h, want, rtol=1e-5, atol=1e-6)
    assert np.all(h[0] == 0.0)


# -- stores into 0-d arrays ---------------------------------------------------------------


def zero_d_store(x):
    s = np.zeros(())
    s[()] = x[0] * 2.0
    return s * x[1]


def zero_d_ellipsis(x):
    s = np.zeros(())
    s[...] = x[0] * 2.0
    return s * x[1] + s * s


def zero_d_twice(x):
    s = np.zeros(())
    s[()] = x[0] * 2.0
    t = s * x[1] + s * s          # the adjoint of s is summed, then s is written again
    s[()] = t * x[0]
    return s * s + t


def whole_store_2d(x):
    a = np.zeros((2, 2))
    a[...] = x.reshape(2, 2) * 3.0
    b = a * x.reshape(2, 2)
    a[()] = b * 2.0
    return np.sum(a * b)


@pytest.mark.parametrize("mode", MODES)
def test_zero_d_store(mode):
    x = np.array([0.3, -0.7])
    got = s2sad.grad(zero_d_store, mode=mode)(x)
    np.testing.assert_allclose(got, [2 * x[1], 2 * x[0]])


def test_zero_d_and_whole_array_stores_against_finite_differences():
    x = np.array([0.3, -0.7])
    check(zero_d_ellipsis, (x,))
    check(zero_d_twice, (x,))
    check(whole_store_2d, (np.array([0.3, -0.7, 1.1, 0.5]),))
    _, tangent = s2sad.jvp(zero_d_twice)(x, np.array([0.0, 1.0]))
    assert tangent == pytest.approx(numerical_grad(zero_d_twice, (x,))[1])


# -- int and bool arrays truncate what they store: refused, located ----------------------


def int_buffer(x, k):
    a = np.zeros_like(k)
    for i in range(len(k)):
        a[i] = x[i] * 2.0  # <- L_BUFFER
    return np.sum(a * x)


def int_copy(s, k):
    a = k.copy()
    a[0] = s * 2.5  # <- L_COPY
    return np.sum(a * s)


def int_arange(x):
    a = np.arange(3)
    a[1:] = x[:2] * x[2]  # <- L_ARANGE
    return np.sum(a * x)


def int_empty(x):
    a = np.empty(3, dtype=np.int64)
    a[:] = 0
    a[2] = x[0] * 4.0  # <- L_EMPTY
    return np.sum(a) * x[1]


def bool_buffer(x):
    a = np.zeros(3, dtype=bool)
    a[1] = x[1]  # <- L_BOOL
    return np.sum(a * x)


def int_in_branch(x, k, flag):
    a = np.zeros_like(k)
    if flag:
        a[0] = x[0] * 2.0  # <- L_BRANCH
    return np.sum(a * x)


CASES = [
    (int_buffer, (X3, np.array([1, 2, 3])), "L_BUFFER", "int64", ("auto", "reverse")),
    (int_copy, (0.37, np.array([1, 2, 3])), "L_COPY", "int64", ("auto", "reverse", "forward")),
    (int_arange, (X3,), "L_ARANGE", "int64", ("auto", "reverse")),
    (int_empty, (X3,), "L_EMPTY", "int64", ("auto", "reverse")),
    (bool_buffer, (X3,), "L_BOOL", "bool", ("auto", "reverse")),
    (int_in_branch, (X3, np.array([1, 2, 3]), True), "L_BRANCH", "int64", ("auto", "reverse")),
]


@pytest.mark.parametrize("f, args, marker, dtype, modes", CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_store_into_int_array_is_refused(f, args, marker, dtype, modes):
    for mode in modes:
        with pytest.raises(s2sad.TruncatingStoreError) as info:
            s2sad.grad(f, mode=mode)(*args)
        err = info.value
        assert isinstance(err, s2sad.S2SADError)
        assert err.filename == __file__ and err.lineno == line_of(marker)
        text = str(err)
        assert text.startswith(f"{__file__}:{line_of(marker)}:")
        assert f"dtype {dtype} truncates it" in text
        assert "hint: make the array float" in text


def test_store_into_int_array_branch_not_taken_and_float_arrays():
    k = np.array([1, 2, 3])
    # the store does not run: nothing is truncated, the gradient is a * 0 ... = 0
    np.testing.assert_allclose(s2sad.grad(int_in_branch)(X3, k, False), np.zeros(3))
    # the same code with float arrays differentiates
    check(int_buffer, (X3, k.astype(float)))
    check(int_copy, (0.37, k.astype(float)), modes=("auto", "reverse", "forward"))
    check(int_in_branch, (X3, k.astype(float), True))


def test_store_of_an_inactive_value_into_an_int_array_is_fine():
    def f(x, k):
        a = np.zeros_like(k)
        a[0] = k[1] * 3
        return np.sum(a * x)

    np.testing.assert_allclose(s2sad.grad(f)(X3, np.array([1, 2, 3])), [6.0, 0.0, 0.0])
    assert "check_float_store" not in s2sad.source(f, args=(X3, np.array([1, 2, 3])))


def _filled_zeros(x):
    out = np.zeros(len(x))
    for i in range(len(x)):
        out[i] = x[i] * x[i]
    return np.sum(out * x)


def _filled_int_zeros(x):
    out = np.zeros(len(x), dtype=np.int64)
    for i in range(len(x)):
        out[i] = x[i] * x[i]
    return np.sum(out * x)


def test_no_dtype_check_for_arrays_surely_of_floats():
    # np.zeros(n) without dtype= holds floats: its stores need no check
    assert "check_float_store" not in s2sad.source(_filled_zeros, args=(X3,))
    np.testing.assert_allclose(s2sad.grad(_filled_zeros)(X3), 3.0 * X3 ** 2, rtol=1e-12)
    with pytest.raises(s2sad.TruncatingStoreError):
        s2sad.grad(_filled_int_zeros)(X3)


def test_the_dtype_check_runs_once_before_a_loop():
    src = s2sad.source(int_buffer, args=(X3, np.array([1, 2, 3])))
    lines = src.splitlines()
    at = [i for i, text in enumerate(lines) if "check_float_store(a" in text]
    loop = [i for i, text in enumerate(lines) if text.strip().startswith("for i in range")]
    assert len(at) == 1 and at[0] < loop[0]
    assert lines[at[0]].strip() == f"check_float_store(a, {line_of('L_BUFFER')}, 8)"


# -- the gradient has its argument's dtype; a 0-d array gets a 0-d array ------------------


def f_cumsum(x):
    return np.sum(np.cumsum(x) ** 2)


def f_norm(x):
    return np.linalg.norm(x)


def f_sin(x):
    return np.sum(np.sin(x) * x)


def f_matvec(A, x):
    return np.sum((A @ x) ** 2)


def f_zero_d(x, s):
    return np.sum(x * s) + s * s


@pytest.mark.parametrize("f", [f_cumsum, f_norm, f_sin], ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", MODES)
def test_float32_argument_gets_a_float32_gradient(f, mode):
    x32 = X3.astype(np.float32)
    gf = s2sad.grad(f, mode=mode)
    for _ in range(2):                  # the second call takes the dispatcher's path
        g = gf(x32)
        assert g.dtype == np.float32 and g.shape == (3,)
        np.testing.assert_allclose(g, numerical_grad(f, (X3,)), rtol=1e-4, atol=1e-5)
        g64 = gf(X3)
        assert g64.dtype == np.float64
        np.testing.assert_allclose(g64, numerical_grad(f, (X3,)), rtol=1e-6, atol=1e-7)
    value, g = s2sad.value_and_grad(f, mode=mode)(x32)
    assert g.dtype == np.float32


def test_float32_matmul_gradients():
    A = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    for _ in range(2):
        gA, gx = s2sad.grad(f_matvec, wrt=(0, 1))(A.astype(np.float32), X3.astype(np.float32))
        assert gA.dtype == np.float32 and gx.dtype == np.float32
    want = numerical_grad(f_matvec, (A, X3), (0, 1))
    np.testing.assert_allclose(gA, want[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gx, want[1], rtol=1e-4, atol=1e-5)
    # a float32 argument not differentiated changes nothing of the other's dtype
    gA = s2sad.grad(f_matvec)(A, X3.astype(np.float32))
    assert gA.dtype == np.float64


@pytest.mark.parametrize("mode", MODES)
def test_zero_d_array_argument_gets_a_zero_d_array(mode):
    s = np.array(0.7)
    gf = s2sad.grad(f_zero_d, wrt=1, mode=mode)
    for _ in range(2):
        g = gf(X3, s)
        assert type(g) is np.ndarray and g.shape == () and g.dtype == np.float64
        assert float(g) == pytest.approx(np.sum(X3) + 2 * 0.7)
    g = s2sad.grad(f_zero_d, wrt=1, mode=mode)(X3, np.array(0.7, dtype=np.float32))
    assert type(g) is np.ndarray and g.shape == () and g.dtype == np.float32
    # a float argument keeps a float gradient (np.float64 is a float)
    g = s2sad.grad(f_zero_d, wrt=1, mode=mode)(X3, 0.7)
    assert isinstance(g, float) and not isinstance(g, np.ndarray)


# -- np.add.at: in-place accumulation, repeated indices adding up ----------------------

IDX = np.array([0, 1, 1, 3, 0])


def assembled(k, idx):
    m = np.zeros(4)
    np.add.at(m, idx, k ** 2)
    return np.sum(m ** 2 * np.arange(1.0, 5.0))


def accumulated_scalar(x):
    acc = np.zeros(2)
    np.add.at(acc, 0, x)
    np.add.at(acc, 0, x * x)
    return acc[0] * 3.0


def added_into_argument(m, v):
    np.add.at(m, np.array([0, 1, 1]), v)
    return np.sum(m ** 2)


def scatter_into(buf, v):
    np.add.at(buf, np.array([0, 0, 1]), v)


def calls_scatter_into(v):
    buf = np.zeros(2)
    scatter_into(buf, v * 2.0)  # <- L_SCATTER
    return np.sum(buf ** 2)


def test_np_add_at():
    """np.add.at(a, i, v) is a[i] += v with repeated indices accumulating (it was
    refused as a call for its side effects); the caller's array is not changed."""
    k = np.array([0.5, 1.0, -1.0, 2.0, 0.3])
    check(assembled, (k, IDX))
    check(accumulated_scalar, (1.5,), modes=("forward", "reverse"))
    m, v = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    gm, gv = s2sad.grad(added_into_argument, wrt=(0, 1))(m, v)
    after = m + np.array([v[0], v[1] + v[2], 0.0])
    np.testing.assert_allclose(gm, 2 * after)
    np.testing.assert_allclose(gv, 2 * after[[0, 1, 1]])
    np.testing.assert_array_equal(m, [1.0, 2.0, 3.0])
    g = s2sad.grad(assembled)
    fd = np.array([(g(k + 1e-6 * e, IDX) - g(k - 1e-6 * e, IDX)) / 2e-6 for e in np.eye(5)])
    np.testing.assert_allclose(s2sad.hessian(assembled)(k, IDX), fd, rtol=1e-5, atol=1e-6)
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(calls_scatter_into)(v)
    assert f":{line_of('L_SCATTER')}:" in str(info.value)
