"""Kinds: what the generated code is specialized on (s2sad/kinds.py, activity.infer_kinds,
api.kind_of).

An ndarray of ``n`` dimensions is an ``'A<n>'``; indexing it with ``n`` integers gives
a scalar ``'S'`` (``A[i, j]`` of a matrix, ``A[i][j]``, ``A[i, j, k]``), and
``.shape`` is a tuple of ints, so ``n = v.shape[0]``, ``len(v)``, ``v.size`` are
scalars. Scalar loops over arrays then get plain scalar code: no ``unbroadcast``,
no ``seed``, nothing taped that the reverse sweep can read again, and no false
refusal of ``a = A[i, j]; a *= x`` (a number, not a view). Each function is checked
against finite differences, and its generated code for what it must not contain.
"""

from __future__ import annotations

import inspect
import math
import re
import warnings

import numpy as np
import pytest
from gradcheck import assert_grad_matches, numerical_grad

import s2sad
from s2sad import UnsupportedSyntaxError, api
from s2sad.kinds import array_kind, array_ndim, is_array_kind, join_kinds

RNG = np.random.default_rng(7)
M = RNG.uniform(-1.0, 1.0, (3, 3))
R = RNG.uniform(-1.0, 1.0, (3, 4))
T = RNG.uniform(-1.0, 1.0, (2, 3, 2))
V = RNG.uniform(-1.0, 1.0, 5)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    MATRIX = np.asmatrix(M)         # a subclass: a row of it is a matrix


# ---------------------------------------------------------------------------
# The kinds themselves


@pytest.mark.parametrize("value, kind", [
    (1.5, "S"), (np.float64(2.0), "S"), (np.arange(3.0), "A1"), (M, "A2"), (T, "A3"),
    (np.zeros((1, 1, 1, 1)), "A4"), (np.array(2.0), "A"), (MATRIX, "X"), ([MATRIX], "X"),
    (np.ma.masked_array(V), "X"), (M.view(type("Sub", (np.ndarray,), {})), "A"),
    ([1.0, 2.0], "LS"), ([M, 1.0], "L")])
def test_kind_of_an_argument(value, kind):
    assert api.kind_of(value) == kind


def test_kind_helpers():
    assert [array_ndim(k) for k in ("A1", "A2", "A12", "A", "S", "LS", "L", "AL")] \
        == [1, 2, 12, None, None, None, None, None]
    assert [is_array_kind(k) for k in ("A", "A1", "A3", "S", "LS", "L", "AL", None)] \
        == [True, True, True, False, False, False, False, False]
    assert [array_kind(n) for n in (0, 1, 2)] == ["S", "A1", "A2"]


@pytest.mark.parametrize("a, b, joined", [
    ("A2", "A2", "A2"), ("A2", "A1", "A"), ("A1", "A2", "A"), ("A2", "S", "A"),
    ("S", "A3", "A"), ("A2", "A", "A"), ("A2", "LS", "AL"), ("L", "A2", "AL"),
    ("LS", "L", "L")])
def test_join_kinds(a, b, joined):
    assert join_kinds(a, b) == joined


# ---------------------------------------------------------------------------
# Scalar loops over arrays (module level, so their source is readable)


def matrix_loop(A, x):
    n = A.shape[0]
    s = 0.0
    for i in range(n):
        for j in range(n):
            s += A[i, j] * x * A[j, i]
    return s


def reversed_vector(v, x):
    n = v.shape[0]
    s = 0.0
    for i in range(n):
        s += v[i] * x * v[n - 1 - i]
    return s


def rows_then_items(A, x):
    s = 0.0
    for i in range(len(A)):
        for j in range(len(A[i])):
            s += A[i][j] * A[i][j] * x
    return s


def cube_loop(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            for k in range(A.shape[2]):
                s += np.sin(A[i, j, k] * x) * A[i, j, k]
    return s


def unpacked_shape(A, x):
    n, m = A.shape
    s = 0.0
    for i in range(n):
        for j in range(m):
            s += A[i, j] * x + A[n - 1 - i, m - 1 - j] * A[i, j]
    return s


def len_loop(v, x):
    s = 0.0
    for i in range(len(v)):
        s += v[i] * v[len(v) - 1 - i] * x
    return s


def size_and_ndim(A, x):
    s = 0.0
    for k in range(A.size):
        i = k // A.shape[1]
        j = k % A.shape[1]
        s += A[i, j] * x * A.ndim
    return s


def shape_functions(A, x):
    s = 0.0
    for i in range(np.shape(A)[0]):
        for j in range(np.size(A) // np.shape(A)[0]):
            s += A[i, j] * A[i, -1] * x * np.ndim(A)
    return s


def item_updated_in_place(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            a = A[i, j]
            a *= x
            a += A[j, i]
            s += a * a
    return s


def row_then_item(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        r = A[i]
        for j in range(r.shape[0]):
            s += r[j] * x * r[j]
    return s


def column_and_row(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        c = A[:, i]
        r = A[i, :]
        s += c[0] * r[-1] * x
    return s


def stores_into_a_matrix(A, x):
    n, m = A.shape
    B = np.zeros_like(A)
    for i in range(n):
        for j in range(m):
            B[i, j] = A[i, j] * x + A[n - 1 - i, j]
    C = A.copy()
    for i in range(n):
        C[i, 0] *= x
        C[i, m - 1] += B[i, 0] * B[i, m - 1]
    s = 0.0
    for i in range(n):
        for j in range(m):
            s += B[i, j] * C[i, j]
    return s


def triangle(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(i):
            s += A[i, j] * A[j, i] * x
        s += A[i, i] ** 2
    return s


SCALAR_LOOPS = [
    (matrix_loop, (M, 0.7)), (reversed_vector, (V, 0.7)), (rows_then_items, (R, -0.4)),
    (cube_loop, (T, 0.9)), (unpacked_shape, (R, 1.3)), (len_loop, (V, -0.6)),
    (size_and_ndim, (R, 0.5)), (shape_functions, (R, 0.8)),
    (item_updated_in_place, (M, 0.6)), (row_then_item, (R, -1.1)),
    (column_and_row, (M, 0.3)), (stores_into_a_matrix, (R, 0.9)), (triangle, (M, 1.2))]
IDS = [f.__name__ for f, _ in SCALAR_LOOPS]
# loops whose reverse sweep reads again all it needs (an element, n - 1 - i, len(v),
# A.shape[1]) rather than taping it; the others tape what costs more to redo
# (np.sin), a view (r = A[i]), or the index of a loop whose range the loop around it
# computes (range(len(A[i])): counted, not reversed)
UNTAPED = {"matrix_loop", "reversed_vector", "unpacked_shape", "len_loop", "size_and_ndim",
           "shape_functions", "item_updated_in_place"}


@pytest.mark.parametrize("func, args", SCALAR_LOOPS, ids=IDS)
@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_scalar_loop_gradient(func, args, wrt):
    assert_grad_matches(func, args, wrt=wrt)


@pytest.mark.parametrize("func, args", SCALAR_LOOPS, ids=IDS)
def test_scalar_loop_reverse_code_is_scalar_code(func, args):
    g = s2sad.grad(func, (0, 1), mode="reverse")
    got = g(*args)
    want = numerical_grad(func, args, (0, 1))
    assert np.allclose(got[0], want[0], atol=1e-6) and np.isclose(got[1], want[1], atol=1e-6)
    for word in ("unbroadcast", "seed("):
        assert word not in g.source, g.source
    if func.__name__ in UNTAPED:
        assert "_tape" not in g.source, g.source


@pytest.mark.parametrize("func, args", SCALAR_LOOPS, ids=IDS)
def test_scalar_loop_forward_code_is_scalar_code(func, args):
    g = s2sad.grad(func, 1, mode="forward")
    assert np.isclose(g(*args), numerical_grad(func, args, 1), atol=1e-6)
    for word in ("fit(", "zeros_like(s", "seed("):     # the accumulator s is a number
        assert word not in g.source, g.source


def test_matrix_loop_code():
    """The example of the issue: the reverse sweep reads A[i, j] and A[j, i] again
    instead of taping them, and accumulates plain numbers."""
    g = s2sad.grad(matrix_loop, (0, 1), mode="reverse")
    g(M, 0.7)
    src = g.source
    assert "_tape" not in src and "unbroadcast" not in src, src
    assert "bA[i, j] += " in src and "bA[j, i] += " in src, src
    assert not re.search(r"^\s*(\w+) = \1$", src, re.M), src     # no bs_1 = bs_1 left


# ---------------------------------------------------------------------------
# What is still not a scalar


def row_updated_in_place(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        r = A[i]
        r *= x                                # <- a view of a row of A
        s += np.sum(A[i]) + np.sum(r)
    return s


def test_row_updated_in_place_is_still_refused():
    with pytest.raises(UnsupportedSyntaxError, match=r"r \*= \.\.\. also changes") as info:
        s2sad.grad(row_updated_in_place, (0, 1), mode="reverse")(M.copy(), 0.5)
    lines = inspect.getsourcelines(row_updated_in_place)[0]
    at = [i for i, text in enumerate(lines) if "# <- a view" in text][0]
    assert info.value.lineno == row_updated_in_place.__code__.co_firstlineno + at


def matrix_or_row(A, x, flag):
    B = A if flag > 0 else A[0]           # a matrix or a row: kind 'A'
    y = B[0]                              # a row or a number
    return np.sum(y * x)


def shrinking(A, x):
    v = A
    s = 0.0
    for _ in range(A.ndim):
        s += np.sum(v) * x                # a cube, a matrix, a row
        v = v[0]
    return s + v * x


def kinds_of(func, *args):
    """The kinds of the user's names (SSA versions too) in the reverse-mode gradient of
    ``func`` along its first two arguments, for these arguments."""
    g = s2sad.grad(func, (0, 1), mode="reverse")
    g(*args)
    return {k: v for k, v in g._last.ctx.var_kinds.items() if not k.startswith("_")}


def test_kinds_of_the_scalar_loops():
    assert kinds_of(unpacked_shape, R, 1.3) == dict.fromkeys(
        ["x", "n", "m", "s", "s_1", "i", "s_2", "j", "s_3"], "S") | {"A": "A2"}
    assert kinds_of(cube_loop, T, 0.9)["A"] == "A3"
    assert kinds_of(reversed_vector, V, 0.7)["n"] == "S"
    assert kinds_of(len_loop, V, 0.7)["s_2"] == "S"
    found = kinds_of(item_updated_in_place, M, 0.6)
    assert [found[k] for k in ("a", "a_1", "a_2")] == ["S", "S", "S"]
    assert kinds_of(row_then_item, R, -1.1)["r"] == "A1"
    found = kinds_of(column_and_row, M, 0.3)
    assert (found["c"], found["r"]) == ("A1", "A1")


@pytest.mark.parametrize("flag", [1.0, -1.0])
def test_matrix_or_row_is_no_scalar(flag):
    assert_grad_matches(matrix_or_row, (M, 0.4, flag), wrt=(0, 1))
    found = kinds_of(matrix_or_row, M, 0.4, flag)
    assert (found["B"], found["y"]) == ("A", "A")       # a matrix or a row; a row or a number


@pytest.mark.parametrize("A", [M, T, V], ids=["2-D", "3-D", "1-D"])
def test_name_losing_dimensions_in_a_loop(A):
    assert_grad_matches(shrinking, (A, 0.4), wrt=(0, 1))
    found = kinds_of(shrinking, A, 0.4)
    assert found["v"] == api.kind_of(A) and found["v_1"] == found["v_2"] == "A"


def made_arrays(A, x):
    c = np.cumsum(A)                    # 1-D, whatever A's dimensions
    r = A.ravel()
    d = np.diff(A)                      # along the last axis: A's dimensions
    o = np.sort(A * x)
    k = A.copy()
    z = np.zeros_like(A)
    e = A.astype(float) * x + 1.0
    return c[0] * r[1] * x + d[0, 0] + o[1, 1] + k[0, 1] * z[1, 0] + e[1, 1]


def test_kinds_of_made_arrays():
    assert_grad_matches(made_arrays, (M, 0.6), wrt=(0, 1))
    found = kinds_of(made_arrays, M, 0.6)
    assert [found[n] for n in "crdokze"] == ["A1", "A1", "A2", "A2", "A2", "A2", "A2"]


def filled_matrices(A, x):
    n, m = A.shape
    out = np.zeros((n, m))
    full = np.full([n, 2], x)
    for i in range(n):
        for j in range(m):
            out[i, j] = A[i, j] * x + out[i, j - 1] * full[i, 1]
    return np.sum(out ** 2)


def test_kinds_of_arrays_made_of_a_shape_tuple():
    """np.zeros((n, m)) was an 'A' (the normal form binds the tuple to a temporary): its
    items were possible views, and the hessian refused the loop filling it."""
    assert_grad_matches(filled_matrices, (M, 0.6), wrt=(0, 1))
    found = kinds_of(filled_matrices, M, 0.6)
    assert (found["out"], found["full"]) == ("A2", "A2")
    hess = s2sad.hessian(filled_matrices, 1)(M, 0.6)
    g = s2sad.grad(filled_matrices, 1)
    assert np.isclose(hess, (g(M, 0.6 + 1e-6) - g(M, 0.6 - 1e-6)) / 2e-6, rtol=1e-5)


def vector_at_a_bool(v, x):
    b = x > 0
    return np.sum(v[b] * x)             # v[True]: a 1-element array, not an element


def matrix_at_bools(A, x):
    b = x > 0
    c = not b
    return np.sum(A[b, c] * x) + np.sum(A[b, 0] * x)


@pytest.mark.parametrize("func, arg", [(vector_at_a_bool, V), (matrix_at_bools, R)])
@pytest.mark.parametrize("x", [0.7, -0.7])
def test_an_array_indexed_by_a_bool_is_no_scalar(func, arg, x):
    assert_grad_matches(func, (arg, x), wrt=(0, 1))


def row_sums(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        s += np.sum(A[i] * x) * A[i].ndim
    return s


def test_one_gradient_for_arrays_of_several_dimensions():
    """The kinds are in the cache key: a matrix, a cube, a matrix again, a vector and a
    0-d array each run code made for their number of dimensions (``A[i]`` is a row,
    a matrix, a number)."""
    g = s2sad.grad(row_sums, (0, 1))
    for A in (M, T, R, V, M, T):
        got = g(A, 0.4)
        want = numerical_grad(row_sums, (A, 0.4), (0, 1))
        assert got[0].shape == A.shape
        assert np.allclose(got[0], want[0], atol=1e-6) and np.isclose(got[1], want[1])
    kinds = {key[-2] for key in g._impls}
    assert {"A1", "A2", "A3"} <= kinds


def scaled_sum(A, x):
    return np.sum(A * x)


def test_zero_d_array_after_matrices_goes_its_own_way():
    g = s2sad.grad(scaled_sum, (0, 1))
    for A in (M, T, np.array(1.5), M, np.array(-0.5)):
        got = g(A, 0.4)
        assert np.shape(got[0]) == A.shape
        assert np.allclose(got[0], 0.4) and np.isclose(got[1], np.sum(A))


def joined_vectors(v, x):
    w = np.concatenate((v * x, v[:1]))        # 1-D pieces: a 1-D array
    u = np.hstack([w, x, 2.0])                # 1-D arrays and numbers
    t = np.append(v, x)                       # flattened
    n = len(w)
    s = 0.0
    for i in range(n):
        a = w[i]
        a *= x                                # a number: updated in place is fine
        s += a * u[i + 1] + t[i % 3]
    return s


def joined_matrices(A, x):
    B = np.concatenate((A, A * x))           # 2-D pieces: not a vector
    return np.sum(B[0] * x)


def test_kinds_of_joined_arrays():
    v = np.array([0.5, -1.2, 2.0])
    found = kinds_of(joined_vectors, v, 0.7)
    assert (found["w"], found["u"], found["t"], found["a"]) == ("A1", "A1", "A1", "S")
    assert kinds_of(joined_matrices, M, 0.7)["B"] == "A"
    for wrt in (0, 1, (0, 1)):
        assert_grad_matches(joined_vectors, (v, 0.7), wrt=wrt)
        assert_grad_matches(joined_matrices, (M, 0.7), wrt=wrt)
    g = s2sad.grad(joined_vectors, (0, 1), mode="reverse")
    g(v, 0.7)
    assert "unbroadcast" not in g.source.split("for i in")[1], g.source


def buffer_made_in_a_loop(y, n):
    for _ in range(3):
        if y > 5.0:
            return y
        buf = np.zeros(3)
    if n < 2:
        return y * (y if n > 0 else buf[2])
    buf[0] += y
    return y * buf[0]


@pytest.mark.parametrize("y, n", [(1.5, 0), (1.5, 1), (1.5, 3), (6.0, 3), (-0.5, 4)])
def test_a_name_bound_in_a_loop_has_the_kind_of_its_values(y, n):
    """buf is bound to a vector in the loop; its copy around the loop was evaluated
    while buf had no kind yet, and the placeholder 'S' joined in: 'A', and then
    buf[2] a possible view, so the write buf[0] += y was refused (fuzz seed
    52000000251, a false refusal)."""
    assert kinds_of(buffer_made_in_a_loop, 1.5, 1)["buf"] == "A1"
    assert_grad_matches(buffer_made_in_a_loop, (y, n), wrt=0)


def rows_appended(A, x):
    rows, vals = [], []
    for r in A:
        rows.append(r * x)
        vals.append(r[0] * x)
    firsts = [0.0, 0.0]
    firsts[1] = A[1] * x            # a store of an array into a list of scalars
    return np.sum(rows[0] * rows[1]) + vals[1] * vals[2] + np.sum(firsts[1])


def test_kinds_of_lists_grown_by_append_and_stores():
    """A list made empty (or of scalars) and grown by ``append`` or a store of arrays is
    a list of arrays ('L'), not of scalars ('LS'): its items were taken for scalars,
    which share no memory (see tests/test_aliasing.py, item_of_appended_rows)."""
    found = kinds_of(rows_appended, M, 0.8)
    assert (found["rows"], found["vals"], found["firsts"]) == ("L", "LS", "L")
    assert_grad_matches(rows_appended, (M, 0.8), wrt=(0, 1))


def keyed_extreme_updated(x, y):
    L = [np.arctan(x), y]
    L[0] += min(L, key=abs)             # min(L, key=k) is L[first_extreme(...)]
    m = min(L)
    L[1] = 0.5 * L[1]                   # m is a number: no view of L
    L.append(max(L, key=abs, default=0.5))
    L[2] *= 2.0
    return L[0] * L[1] + m * L[2] + sum(L)


def point_values_updated(v, y):
    p = 0.25 * np.polyval(v, 0.5 * y)
    q = np.median(v) + np.quantile(v, 0.3) + np.percentile(v, 70.0) \
        + np.interp(y, np.array([-1.0, 0.0, 1.0]), v)
    w, r = p, q
    w *= 0.5                            # p, q are numbers: nothing shares their memory
    r *= y
    return w + p + r * q


@pytest.mark.parametrize("x, y", [(0.3, 0.7), (-1.1, 0.4), (0.2, -1.5)])
def test_kinds_of_keyed_extremes_and_point_values(x, y):
    """Fuzz 612000232, 612000338, 611000116: ``min(L, key=k)`` (the item at
    ``first_extreme``), ``min(L)`` of a list of numbers, ``np.polyval(p, 0.5)``,
    ``np.median(v)``... were 'A' (maybe an array): ``L[0] += ...``, ``w *= 0.5`` were
    refused as in-place updates of an array another name shares."""
    found = kinds_of(keyed_extreme_updated, x, y)
    assert found["m"] == "S" and found["L"] == "LS"
    assert_grad_matches(keyed_extreme_updated, (x, y), wrt=(0, 1))
    v = np.array([x, y, 0.4 * x - y])
    found = kinds_of(point_values_updated, v, y)
    assert found["p"] == found["q"] == "S"
    assert_grad_matches(point_values_updated, (v, y), wrt=(0, 1))


def scaled_pairs(x, y):
    s = 0.0
    for a, c in ((x, y), (y, 0.5), (x * y, x)):
        a *= c                          # a is a number: nothing shares its memory
        s = s + a * c
    return s


def scaled_array_pairs(u, y):
    s = 0.0
    for a, c in ((u, y), (u * y, 0.5)):
        a *= c                          # a is u itself in the first pair
        s = s + np.sum(a)
    return s


@pytest.mark.parametrize("x, y", [(0.5, 0.7), (-1.3, 0.2), (2.0, -0.6)])
def test_items_of_a_tuple_of_pairs_have_the_kind_of_the_pairs_items(x, y):
    """``for a, c in ((x, y), ...): a *= c`` was refused as an in-place update of an
    array another name shares: an item of a tuple of tuples was 'AL'. An item of a
    tuple display (bound once: nothing stores into it) has the join of its items' kinds."""
    assert_grad_matches(scaled_pairs, (x, y), wrt=(0, 1))
    want = s2sad.grad(scaled_pairs, wrt=(0, 1), mode="reverse")(x, y)
    assert s2sad.grad(scaled_pairs, wrt=(0, 1), mode="forward")(x, y) == pytest.approx(want)
    assert kinds_of(scaled_pairs, x, y)["a"] == "S"
    with pytest.raises(UnsupportedSyntaxError, match="in-place update"):
        s2sad.grad(scaled_array_pairs, wrt=1)(np.array([x, y]), y)


# ---------------------------------------------------------------------------
# Items of a dict argument of scalars (api.dict_kind, activity._scalar_item_dicts)


def dict_item_scaled(params, x):
    v = params["b"]
    v *= 0.9                            # a float: nothing shares its memory
    return v * x + params["w"] * x * x


def dict_item_added(params, x):
    v = params["b"]
    v += x
    return v * v * params["w"]


def dict_item_rebound_then_scaled(params, x):
    v = params["b"]
    v = v * 2
    v *= x
    return v + params["w"] * v


def dict_item_for_loop(params, x):
    v = params["b"]
    for i in range(3):
        v *= params["w"]
        v += x * i
    return v * x


def dict_item_while_loop(params, x):
    v = params["b"]
    n = 0
    while n < 4:
        v *= 0.5 + x
        n += 1
    return v - params["w"] * v


def dict_item_summed(params, x):
    v = params["b"]
    v = v * x
    return np.sum(v * params["w"])


DICT_ITEM_FUNCS = [dict_item_scaled, dict_item_added, dict_item_rebound_then_scaled,
                   dict_item_for_loop, dict_item_while_loop]
SCALAR_DICTS = [{"b": 0.5, "w": 2.0}, {"b": np.float64(-0.7), "w": np.float64(1.5)},
                {"b": 1, "w": 2.5}, {"b": 0.3, "w": -3}]


def _dict_fd(f, params, x, h=1e-6):
    """Central differences of ``f(params, x)`` along each item of ``params`` and x."""
    out = {}
    for k, v in params.items():
        out[k] = (f(dict(params, **{k: v + h}), x) - f(dict(params, **{k: v - h}), x)) / (2 * h)
    return out, (f(dict(params), x + h) - f(dict(params), x - h)) / (2 * h)


@pytest.mark.parametrize("f", DICT_ITEM_FUNCS)
@pytest.mark.parametrize("params", SCALAR_DICTS, ids=["floats", "float64", "int_b", "int_w"])
@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_an_item_of_a_dict_of_scalars_updated_in_place(f, params, mode):
    """``v = params["b"]; v *= 0.9`` was refused as an in-place update of an array the
    dict holds: a dict argument is an 'L', its item anything. An item of a dict whose
    values are all scalars, read only by key, is a scalar 'S'."""
    x = 1.3
    want_dict, want_x = _dict_fd(f, params, x)
    assert s2sad.grad(f, 1, mode=mode)(params, x) == pytest.approx(want_x, rel=1e-6)
    if mode != "forward":       # (forward mode differentiates along scalars only)
        got = s2sad.grad(f, 0, mode=mode)(params, x)
        assert set(got) == set(params)
        for k in params:
            assert got[k] == pytest.approx(want_dict[k], rel=1e-6, abs=1e-8)
        both = s2sad.grad(f, (0, 1), mode=mode)(params, x)
        assert both[1] == pytest.approx(want_x, rel=1e-6)
        assert both[0] == pytest.approx(got)


def test_the_kinds_of_dict_items():
    assert api.dict_kind({"b": 0.5, "w": np.float64(2.0), "n": 3, "t": True}) == "DS"
    assert api.dict_kind({"b": 0.5, "w": V}) == "L"
    assert api.dict_kind({"b": 0.5, "w": [1.0]}) == "L"
    assert api.dict_kind({}) == "L"
    assert api.kind_of({"b": 0.5}) == "L"           # the parameter's own kind
    found = kinds_of(dict_item_scaled, {"b": 0.5, "w": 2.0}, 1.3)
    assert (found["params"], found["v"], found["v_1"]) == ("L", "S", "S")
    found = kinds_of(dict_item_summed, {"b": V, "w": 2.0}, 1.3)
    assert found["v"] == "A"


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_a_dict_of_arrays_is_still_refused_after_a_dict_of_floats(mode):
    """The kind of a dict's items is part of the specialization (``_key``, the
    dispatcher): one grad object called with a dict of floats, then of arrays, then of
    floats again gets scalar code, the refusal (``v *= 0.9`` would change the dict's
    array), and the scalar code again."""
    g = s2sad.grad(dict_item_scaled, 1, mode=mode)
    floats = {"b": 0.5, "w": 2.0}
    for _ in range(2):
        assert g(floats, 1.5) == pytest.approx(0.9 * 0.5 + 2 * 2.0 * 1.5)
        for arrays in ({"b": V, "w": 2.0}, {"b": 0.5, "w": V}):
            with pytest.raises(UnsupportedSyntaxError,
                               match=r"in-place update .*also changes params"):
                g(arrays, 1.5)
        assert g({"b": 0.25, "w": 2.0}, 1.5) == pytest.approx(0.9 * 0.25 + 2 * 2.0 * 1.5)


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_dicts_of_floats_and_of_arrays_get_code_of_their_own(mode):
    g = s2sad.grad(dict_item_summed, 1, mode=mode)
    for _ in range(2):
        assert g({"b": 0.5, "w": 2.0}, 1.5) == pytest.approx(1.0)
        assert g({"b": V, "w": 2.0}, 1.5) == pytest.approx(2.0 * np.sum(V))
        assert g({"b": V, "w": V}, 1.5) == pytest.approx(np.sum(V * V))
        assert g(params={"b": 0.5, "w": 3.0}, x=1.5) == pytest.approx(1.5)
    if mode != "forward":
        g0 = s2sad.grad(dict_item_summed, 0, mode=mode)
        got = g0({"b": 0.5, "w": 2.0}, 1.5)
        assert (got["b"], got["w"]) == pytest.approx((3.0, 0.75))
        got = g0({"b": V, "w": 2.0}, 1.5)
        assert got["b"] == pytest.approx(np.full(5, 3.0))
        assert got["w"] == pytest.approx(1.5 * np.sum(V))
        got = g0({"b": 0.5, "w": 2.0}, 1.5)
        assert (got["b"], got["w"]) == pytest.approx((3.0, 0.75))


def dict_item_stored_back(params, x):
    v = params["b"]
    v *= 0.9
    params["c"] = np.ones(2) * v        # the dict holds an array now: items are anything
    return np.sum(v * x + params["c"])


def dict_item_passed_on(params, x):
    v = params["b"]
    v *= 0.9
    return v * x + _first_value(params)


def _first_value(d):
    return d["b"]


@pytest.mark.parametrize("f", [dict_item_stored_back, dict_item_passed_on])
def test_a_dict_of_scalars_used_otherwise_than_by_key_keeps_items_of_any_kind(f):
    with pytest.raises(UnsupportedSyntaxError, match="in-place update"):
        s2sad.grad(f, 1)({"b": 0.5, "w": 2.0}, 1.5)


def dict_two_arguments(p, q, x):
    q["b"] = np.ones(2) * x
    v = p["b"]
    v *= 0.9
    return np.sum(v) * x


def test_a_dict_of_scalars_also_passed_as_an_argument_changed_is_refused():
    g = s2sad.grad(dict_two_arguments, 2)
    assert g({"b": 0.5}, {"b": 1.0}, 1.5) == pytest.approx(0.45)
    same = {"b": 0.5}
    with pytest.raises(s2sad.ArgumentError, match="same object"):
        g(same, same, 1.5)


def dict_items_looped(params, x):
    s = sum(params.values()) / len(params)
    for _k, t in params.items():
        t *= x                          # v of (k, v) in params.items(): a float
        s = s + t
    for t2 in params.values():
        t2 += x
        s = s + t2 * t2
    for k2 in params:
        t3 = params[k2]
        t3 *= x
        s = s + t3
    for k3 in params.keys():
        s = s + params[k3] * x
    if "b" in params:
        s = s * params.get("b")
    return s


def dict_items_stored(params, x):
    for k in params.keys():
        t = params[k]
        t += x
        params["w"] = math.tanh(params["w"] * t)    # a float stored: still scalars
    params["b"] = x * x
    v = params["b"]
    v *= 2.0
    return v + params["w"]


def dict_item_augmented(params, x):
    params["w"] += x                    # params[...] op= ... of a float: no array changed
    t = params["w"]
    t *= 2.0
    u = t * params["b"]
    return u * x


def dict_item_augmented_by_an_array(params, x):
    params["w"] += np.ones(2) * x       # an array now: params[...] op= ... refused
    return np.sum(params["w"] * params["b"])


def dict_array_stored_after_the_read(params, x):
    s = 0.0
    for _ in range(3):
        v = params["b"]
        v *= 2.0
        s = s + np.sum(v) * x
        params["b"] = np.ones(2) * x    # an array stored: items are anything
    return s


@pytest.mark.parametrize("f", [dict_items_looped, dict_items_stored, dict_item_augmented])
@pytest.mark.parametrize("params", SCALAR_DICTS, ids=["floats", "float64", "int_b", "int_w"])
@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_loops_over_and_stores_into_a_dict_of_scalars(f, params, mode):
    """Items of a dict of scalars read in loops (``for k, v in p.items()``, ``for v in
    p.values()``, ``for k in p``) are scalars, and so are those of the private copy of
    one the function stores scalars into (``p_1 = copy_of(p)``), which the caller's
    dict never sees."""
    x = 1.3
    before = dict(params)
    want_dict, want_x = _dict_fd(f, params, x)
    assert s2sad.grad(f, 1, mode=mode)(params, x) == pytest.approx(want_x, rel=1e-6)
    if mode != "forward":
        got = s2sad.grad(f, 0, mode=mode)(params, x)
        assert set(got) == set(params)
        for k in params:
            assert got[k] == pytest.approx(want_dict[k], rel=1e-6, abs=1e-8)
    assert params == before
    found = kinds_of(f, params, x)
    assert {found[n] for n in ("t", "t_1")} == {"S"}


def test_a_dict_an_array_is_stored_into_keeps_items_of_any_kind():
    with pytest.raises(UnsupportedSyntaxError, match="in-place update"):
        s2sad.grad(dict_array_stored_after_the_read, 1)({"b": 0.5, "w": 2.0}, 1.5)


def test_an_item_of_a_dict_of_scalars_updated_by_an_array_is_refused():
    with pytest.raises(UnsupportedSyntaxError, match=r"params\[\.\.\.\] op= "):
        s2sad.grad(dict_item_augmented_by_an_array, 1)({"b": 0.5, "w": 2.0}, 1.5)


def dict_mean_stored_back(params, x):
    params["b"] = params["b"] + x
    m = -(0.0625 * (sum(params.values()) / len(params)) ** 2)
    v = m
    v /= 1.0 + v * v                    # a float: sum of the values of a dict of floats
    params["w"] = m                     # a scalar stored: the copy stays one of scalars
    return v + params["w"] * max(params.values())


def dict_mean_of_arrays(params, x):
    m = sum(params.values()) * x
    v = m
    v /= 2.0                            # an array another name (m) shares, read below
    return np.sum(v * m)


@pytest.mark.parametrize("params", SCALAR_DICTS, ids=["floats", "float64", "int_b", "int_w"])
@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_sum_and_max_of_the_values_of_a_dict_of_scalars_are_scalars(params, mode):
    """``p.values()`` of a dict of scalars is a list of scalars ('LS'), so
    ``sum(p.values())`` is a scalar: ``v /= ...`` of it is arithmetic, and storing it
    back keeps the private copy a dict of scalars (a fuzz program, seed 1512500000078,
    was refused as an in-place update of an array)."""
    x = 1.3
    want_dict, want_x = _dict_fd(dict_mean_stored_back, params, x)
    got = s2sad.grad(dict_mean_stored_back, 1, mode=mode)(dict(params), x)
    assert got == pytest.approx(want_x, rel=1e-6)
    if mode != "forward":
        got = s2sad.grad(dict_mean_stored_back, 0, mode=mode)(dict(params), x)
        for k in params:
            assert got[k] == pytest.approx(want_dict[k], rel=1e-6, abs=1e-8)
    assert kinds_of(dict_mean_stored_back, dict(params), x)["m"] == "S"


def test_sum_of_the_values_of_a_dict_of_arrays_is_no_scalar():
    with pytest.raises(UnsupportedSyntaxError, match="in-place update"):
        s2sad.grad(dict_mean_of_arrays, 1)({"b": V, "w": V}, 1.5)
    assert s2sad.grad(dict_mean_of_arrays, 1)({"b": 0.5, "w": 2.0}, 1.5) == \
        pytest.approx(2 * 2.5 * 2.5 * 1.5 / 2.0)


# ---------------------------------------------------------------------------
# a list or tuple argument of rows of scalars: [(x1, y1), (x2, y2), ...]


def fit_line(w, b, points):
    s = 0.0
    for x, y in points:
        r = w * x + b - y
        s = s + r * r
    return s


def rows_by_index(w, points):
    s = 0.0
    for i in range(len(points)):
        s = s + w * points[i][0] * points[i][1] + points[-1][0]
    return s


def rows_appended_to(w, points):
    points.append((w, 1.0))             # the list changes: its items are anything
    s = 0.0
    for x, y in points:
        s = s + x * y * w
    return s


def _row_product(p):
    return p[0] * p[1]


def rows_passed_on(w, points):
    s = 0.0
    for p in points:
        s = s + _row_product(p) * w     # a row given to a call
    return s


def rows_or_arrays(w, points):
    s = 0.0
    for x, y in points:
        s = s + np.sum(x * y) * w
    return s


POINTS = [(0.5, 1.0), (1.5, -2.0), (2.0, 0.25), (-1.0, 3)]


def _fit_line_grad(w, b, points):
    rs = [w * x + b - y for x, y in points]
    return (sum(2 * r * x for r, (x, _) in zip(rs, points)), sum(2 * r for r in rs))


def test_the_kinds_of_rows():
    assert api.sequence_kind(POINTS) == "LLS"
    assert api.sequence_kind(tuple([1.0, 2] for _ in range(3))) == "LLS"
    assert api.sequence_kind([(0.5, 1.0), (1.0, np.float64(2.0))]) == "L"     # tested in C
    assert api.sequence_kind([(0.5, 1.0), (1.0, True)]) == "L"
    assert api.sequence_kind([(0.5, 1.0), V]) == "L"
    assert api.sequence_kind([]) == "L" and api.sequence_kind([0.5, 1.0]) == "LS"
    assert api.kind_of(POINTS) == "L"               # the parameter's own kind
    found = kinds_of(fit_line, 0.5, 0.3, POINTS)
    assert (found["points"], found["x"], found["y"], found["r"]) == ("L", "S", "S", "S")
    assert kinds_of(rows_appended_to, 0.5, list(POINTS))["x"] != "S"
    assert kinds_of(rows_passed_on, 0.5, POINTS)["p"] == "LS"     # a row, given to a call


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("container", [list, tuple])
def test_fit_a_line_to_rows_gets_scalar_code(mode, container):
    """The loss of a line fitted to a list of (x, y) points ran as code for arrays (items
    of unknown kind: ``fit``/``unbroadcast`` on every operation, 288x the function);
    rows of scalars now give scalar code (4x), the same gradients."""
    g = s2sad.grad(fit_line, (0, 1), mode=mode)
    for w, b in ((0.5, 0.3), (-1.2, 2.0)):
        points = container(container(p) for p in POINTS)
        assert g(w, b, points) == pytest.approx(_fit_line_grad(w, b, POINTS), rel=1e-12)
    text = g.source
    assert "unbroadcast" not in text and "fit(" not in text and "seed(" not in text


@pytest.mark.parametrize("f", [rows_by_index, rows_appended_to, rows_passed_on,
                               rows_or_arrays])
def test_rows_read_in_other_ways_against_finite_differences(f):
    points = [tuple(p) for p in POINTS]
    for w in (0.7, -1.3):
        want = numerical_grad(lambda w: f(w, list(points)), (w,), 0)
        assert s2sad.grad(f, 0)(w, list(points)) == pytest.approx(want, rel=1e-6)


def test_rows_and_arrays_get_code_of_their_own():
    g = s2sad.grad(rows_or_arrays, 0)
    arrays = [(V, V[::-1]), (np.ones(5), V)]
    want_arrays = sum(np.sum(x * y) for x, y in arrays)
    want_rows = sum(x * y for x, y in POINTS)
    for _ in range(2):
        assert g(0.7, POINTS) == pytest.approx(want_rows)
        assert g(0.7, arrays) == pytest.approx(want_arrays)
        assert g(0.7, [(0.5, 1.0), (V, V)]) == pytest.approx(0.5 + np.sum(V * V))


def test_gradient_along_the_rows_and_second_derivatives():
    got = s2sad.grad(fit_line, 2)(0.5, 0.3, POINTS)
    assert [type(p) for p in got] == [tuple] * len(POINTS)
    for (gx, gy), (x, y) in zip(got, POINTS):
        r = 0.5 * x + 0.3 - y
        assert (gx, gy) == pytest.approx((2 * r * 0.5, -2 * r))
    h = s2sad.hessian(fit_line, (0, 1))(0.5, 0.3, POINTS)
    sx = sum(x for x, _ in POINTS)
    want = [[2 * sum(x * x for x, _ in POINTS), 2 * sx], [2 * sx, 2 * len(POINTS)]]
    assert np.allclose(np.array(h, dtype=float).reshape(2, 2), want)


def element_of_an_outer_product_into_a_list(x, y):
    Z = np.outer(x, x)
    L = [0.0, 0.0]
    L[1] = Z[0, 1]              # a number, not a view of Z
    Z[0, 0] = y
    E = np.eye(2) * y
    L[0] = E[1, 1]
    E[0, 0] = x[0]
    return np.sum(Z) + L[1] + np.sum(E) * L[0]


def test_np_outer_and_np_eye_make_matrices():
    """np.outer(u, v) is a matrix whatever its operands (it flattens them), np.eye(n)
    one of a number n: an element of either is a number, so storing it into a list
    and then writing into the matrix was refused as a write under the list (probing)."""
    x = np.array([0.3, 0.5])
    assert_grad_matches(element_of_an_outer_product_into_a_list, (x, 0.7), wrt=(0, 1))
