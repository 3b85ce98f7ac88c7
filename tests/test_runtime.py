"""The runtime helpers the generated code calls (s2sad/runtime.py): the adjoint of an
item read, on the fast path for float64 arrays and on the general one."""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad
from s2sad.runtime import getitem_adjoint

INDICES = [3, slice(None, -1), slice(1, None, 2), (Ellipsis,), np.array([0, 2, 2, 5]),
           [1, 1, 1], np.array([True, False] * 3)]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem_adjoint_of_a_float64_array_scatters_and_adds_repeats(index):
    """What a hand-written adjoint of ``x[index]`` gives: zeros shaped like ``x``, with
    ``g`` added where ``x[index]`` read (a repeated index adds each read's part)."""
    x = np.linspace(-1.0, 1.0, 6)
    g = np.arange(1.0, 1.0 + np.size(x[index])).reshape(np.shape(x[index]))
    want = np.zeros(6)
    np.add.at(want, index, g)
    got = getitem_adjoint(g, x, index)
    assert got.dtype == np.float64 and got.shape == x.shape
    np.testing.assert_array_equal(got, want)
    assert got is not x


@pytest.mark.parametrize("dtype, want", [(np.float32, np.float64), (np.int64, np.float64),
                                         (np.complex128, np.complex128),
                                         (np.longdouble, np.longdouble)])
def test_getitem_adjoint_of_other_arrays_has_a_float_type_at_least_float64(dtype, want):
    x = np.arange(4).astype(dtype)
    got = getitem_adjoint(2.5, x, 1)
    assert got.dtype == want
    np.testing.assert_array_equal(got, [0.0, 2.5, 0.0, 0.0])


def test_getitem_adjoint_of_lists_tuples_dicts_and_subclasses():
    assert getitem_adjoint(2.0, [1.0, 2.0, 3.0], 1) == [0.0, 2.0, 0.0]
    assert getitem_adjoint([4.0, 5.0], (1.0, 2.0, 3.0), slice(1, None)) == [0.0, 4.0, 5.0]
    assert getitem_adjoint(3.0, {"a": 1.0, "b": 2.0}, "b") == {"a": 0.0, "b": 3.0}

    class Sub(np.ndarray):
        pass

    x = np.zeros(3).view(Sub)
    got = getitem_adjoint(1.5, x, 2)
    np.testing.assert_array_equal(got, [0.0, 0.0, 1.5])


def test_zeros_like_and_like_argument_of_sequences_of_numbers_and_others():
    """Lists and tuples of floats and ints take a shortcut (one test of the item types,
    in C); anything else in them goes item by item: the same results as before."""
    import collections

    from s2sad.runtime import like_argument, zeros_like

    Pair = collections.namedtuple("Pair", "a b")
    assert zeros_like([1.0, 2, -3.5]) == [0.0, 0.0, 0.0]
    assert all(type(v) is float for v in zeros_like((1, 2)))
    assert zeros_like([]) == []
    mixed = zeros_like([1.0, np.array([1.0, 2.0]), [3.0, (4, 5.0)], True])
    assert mixed[0] == 0.0 and mixed[2] == [0.0, [0.0, 0.0]] and mixed[3] == 0.0
    np.testing.assert_array_equal(mixed[1], np.zeros(2))
    g = [1.5, -2.0, 3.0]
    got = like_argument(g, [0.1, 2, 0.3])
    assert got == g and got is not g and type(got) is list
    assert like_argument(g, (0.1, 2, 0.3)) == (1.5, -2.0, 3.0)
    assert like_argument(g[:2], Pair(1.0, 2.0)) == Pair(1.5, -2.0)
    assert like_argument(0.0, [1.0, 2.0]) == [0.0, 0.0]
    nested = like_argument([0.0, [1.0, 0.0]], [np.ones(2), (3.0, 4.0)])
    np.testing.assert_array_equal(nested[0], np.zeros(2))
    assert nested[1] == (1.0, 0.0)


def test_zeros_like_and_like_argument_of_dicts_of_numbers_and_others():
    from s2sad.runtime import like_argument, zeros_like

    assert zeros_like({"a": 1.0, "b": 2}) == {"a": 0.0, "b": 0.0}
    mixed = zeros_like({"a": 1.0, "b": [1.0, 2.0]})
    assert mixed == {"a": 0.0, "b": [0.0, 0.0]}
    got = like_argument({"b": 3.0, "a": 2.0}, {"a": 1.0, "b": 1})
    assert got == {"a": 2.0, "b": 3.0} and list(got) == ["a", "b"]     # the argument's order
    assert like_argument({"a": 0.0, "b": 1.0}, {"a": [1.0], "b": 2.0}) == {"a": [0.0], "b": 1.0}


def test_sum_list_adjoint_of_numbers_and_others():
    """``sum(out)`` of a list of numbers: the adjoint of each item is the float itself,
    in one step (it was ``unbroadcast`` item by item, 1.7 us an item)."""
    from s2sad.runtime import sum_list_adjoint, unbroadcast

    for x in ([1.0, 2, 3.5], (1, 2), [], [1.0, np.ones(2)], np.ones((3, 2))):
        got = sum_list_adjoint(2.5, x)
        want = [unbroadcast(2.5, e) for e in x]
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
            assert type(a) is type(b) or isinstance(x, np.ndarray)
    assert sum_list_adjoint(np.float64(2.5), [1.0, 2.0]) == [2.5, 2.5]


_SCALARS = [2.5, 3, 1.5 + 2j, True, np.float64(0.25), np.float32(1.5), np.int64(4),
            np.array(1.25), np.array([2.0, 3.0]), np.ones((2, 1)), [1.0, 2.0], (0.5,)]


@pytest.mark.parametrize("x", _SCALARS, ids=repr)
@pytest.mark.parametrize("g", [2.5, 3, 1.5 + 2j, np.float64(0.25), np.float32(1.5),
                               np.array(1.25), np.array([2.0, 3.0]), np.ones((2, 2))],
                         ids=repr)
def test_unbroadcast_fast_paths_give_what_the_general_steps_give(g, x):
    """The scalar fast paths (numbers, NumPy scalars: a scalar loop calls ``unbroadcast``
    once per element) give the very value and type of the general steps."""
    from s2sad.runtime import _unbroadcast_steps, unbroadcast
    try:
        want = _unbroadcast_steps(g, x)
    except (ValueError, IndexError):
        with pytest.raises((ValueError, IndexError)):
            unbroadcast(g, x)
        return
    got = unbroadcast(g, x)
    assert type(got) is type(want)
    np.testing.assert_array_equal(got, want)


def test_take_adjoint_of_an_element_stored_from_a_number_is_that_element():
    """``a[i] = v`` with ``v`` a number: the adjoint is ``g[i]`` as it is (a NumPy scalar,
    no copy needed); a row stored from a number gets the row's sum; a row stored from
    a row gets a copy that later writes into ``g`` do not reach."""
    from s2sad.runtime import take_adjoint
    g = np.arange(6.0).reshape(2, 3)
    got = take_adjoint(g[0], 2, 0.5)
    assert type(got) is np.float64 and got == 2.0
    assert take_adjoint(g, 1, 0.5) == 12.0
    row = take_adjoint(g, 1, np.ones(3))
    g[1] = 0.0
    np.testing.assert_array_equal(row, [3.0, 4.0, 5.0])
    assert take_adjoint([1.0, 2.0], 1, 3.0) == 2.0


def test_zeros_like_rows_of_numbers_in_one_step():
    """A list of pairs (or rows) of numbers: zero lists per row, as item by item; a row
    holding anything else goes item by item."""
    from s2sad.runtime import zeros_like
    rows = [(0.5, 1.0), [2, 3.0, 4.0], ()]
    assert zeros_like(rows) == [[0.0, 0.0], [0.0, 0.0, 0.0], []]
    mixed = [(0.5, np.ones(2)), (1.0, 2.0)]
    got = zeros_like(mixed)
    assert got[1] == [0.0, 0.0] and got[0][0] == 0.0
    np.testing.assert_array_equal(got[0][1], np.zeros(2))


@pytest.mark.parametrize("a, b, want", [
    ([1.0, 2.0], [0.5, -1.0], [1.5, 1.0]),
    ((1, 2.0), [3, 4], [4, 6.0]),
    ([1.0, 2.0], 0.0, [1.0, 2.0]),
    ([[1.0], 2.0], [[1.0], 3.0], [[2.0], 5.0]),
])
def test_add_adjoints_of_lists_of_numbers(a, b, want):
    from s2sad.runtime import add_adjoints
    got = add_adjoints(a, b)
    assert got == want and type(got) is type(want)


def test_add_adjoints_of_a_list_and_an_array_of_its_length_goes_item_by_item():
    from s2sad.runtime import add_adjoints
    got = add_adjoints([1.0, 2.0], np.array([0.5, 0.5]))
    assert type(got) is list and got == [1.5, 2.5]


def test_like_argument_of_rows_of_numbers_in_one_step():
    """Rows of numbers (a list of pairs): each row's gradient in the row's type, a zero
    row where the gradient holds the 0.0 standing for any zero, as item by item."""
    from s2sad.runtime import like_argument
    x = [(1.0, 2.0), (3.0, 4.0), [5.0, 6]]
    assert like_argument([[0.5, 1.5], [2.5, 3.5], [4.5, 5.5]], x) == \
        [(0.5, 1.5), (2.5, 3.5), [4.5, 5.5]]
    assert like_argument([[0.5, 1.5], 0.0, [4.5, 5.5]], x) == \
        [(0.5, 1.5), (0.0, 0.0), [4.5, 5.5]]
    assert like_argument([[0.5, 1.5], [2.5, 3.5]], tuple(x[:2])) == ((0.5, 1.5), (2.5, 3.5))


def test_zero_items_stands_a_plain_zero_for_each_item():
    """The pad where a reverse loop gathers the adjoints of a list's items: a plain 0.0
    per item (a zero of any structure), a dict of them for a dict, ``zeros_like`` else."""
    from s2sad.runtime import add_adjoints, like_argument, zero_items
    rows = [(1.0, 2.0), (3.0, 4.0)]
    z = zero_items(rows)
    assert z == [0.0, 0.0]
    z[1] = add_adjoints(z[1], [0.5, 0.25])
    assert like_argument(z, rows) == [(0.0, 0.0), (0.5, 0.25)]
    assert zero_items({"a": np.ones(2), "b": 1.0}) == {"a": 0.0, "b": 0.0}
    assert np.array_equal(zero_items(np.ones(3)), np.zeros(3))


def _points_loss(w, b, points):
    s = 0.0
    for x, y in points:
        r = w * x + b - y
        s = s + r * r * x
    return s


@pytest.mark.parametrize("wrt", [(0, 1), (0, 1, 2), (2,)])
def test_a_loop_over_rows_gathers_their_adjoints_on_plain_zeros(wrt):
    points = [(0.5, 1.0), (1.5, -0.5), (2.0, 0.25)]
    w, b = 0.7, -0.2
    g = s2sad.grad(_points_loss, wrt=wrt, mode="reverse")
    got = g(w, b, points)
    r = [w * x + b - y for x, y in points]
    want = {0: numerical_grad(_points_loss, (w, b, points), wrt=0),
            1: numerical_grad(_points_loss, (w, b, points), wrt=1),
            2: [(2 * ri * w * x + ri * ri, -2 * ri * x) for ri, (x, y) in zip(r, points)]}
    for k, i in enumerate(wrt):
        if i == 2:
            assert [type(row) for row in got[k]] == [tuple] * 3
            assert np.allclose(np.array(got[k]), np.array(want[2]), rtol=1e-12)
        else:
            assert got[k] == pytest.approx(want[i], rel=1e-6)
    if 2 in wrt:
        assert "zero_items(" in g.source
