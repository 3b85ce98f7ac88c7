"""Functions that raise when they run: their gradient raises too, at the user's line.

The normal form reads an unpacking by position (``a, b = t`` becomes ``a = t[0]; b =
t[1]``) and turns ``b += M`` into a new array ``b_1 = b + M``. So a gradient came out
of functions Python or NumPy refuse to run: ``a, b = (x, y, x * y)`` (too many values
to unpack), a loop ``for a, b in t`` over triples, ``b += M`` growing ``b`` (a
non-broadcastable output operand), ``b += x`` of a float into an int array (NumPy's
same_kind casting). Now the generated code checks what the source does not prove
(``runtime.as_sequence(..., length=, items=, rows=)``, ``runtime.check_inplace``) and
raises the exception the function raises, with a note naming the user's line; a list
of dicts unpacked in a loop is refused as the other dicts the source does not show
are (``DictIterated``, located at the loop). What the source proves (displays of the
right length, ``zip``, ``enumerate``, ``d.items()``, comprehensions of pairs, a helper
returning pairs) is read as before, with no check.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

MODES = ("reverse", "forward")
NOTES = sys.version_info >= (3, 11)       # exception notes: Python 3.11 and later


def _marked_line(func):
    lines, first = inspect.getsourcelines(func)
    return next(first + i for i, line in enumerate(lines) if "# raises here" in line)


def _assert_located(exc, func):
    """``exc`` names the line of ``func`` marked ``# raises here``: an S2SADError by its
    location, another exception by the note ``errors.note_generated`` adds."""
    line = _marked_line(func)
    if isinstance(exc, s2sad.S2SADError):
        assert (exc.filename, exc.lineno) == (__file__, line), str(exc)
        return
    if NOTES:
        notes = getattr(exc, "__notes__", [])
        assert any(f"{__file__}:{line} (" in n for n in notes), (notes, line)


def _raised(call):
    """The exception ``call()`` raises (it must raise)."""
    with pytest.raises(Exception) as info:
        call()
    return info.value


# -- the defects: functions raising when run --------------------------------------------

def too_many(x, y):
    a, b = (x, y, x * y)                                # raises here
    return a * b


def too_few(x, y):
    a, b, c = (x, y)                                    # raises here
    return a * b * c


def loop_over_triples(x, y):
    t = [(x, y, 1.0), (y, x, 2.0)]
    s = 0.0
    for a, b in t:                                      # raises here
        s = s + a * b
    return s


def named_triple(x, y):
    t = (x, y, 1.0)
    a, b = t                                            # raises here
    return a * b


def triple(x, y):
    return x, y, x * y


def from_a_helper(x, y):
    a, b = triple(x, y)                                 # raises here
    return a * b


def over_zip_of_three(x, y):
    s = 0.0
    for a, b in zip([1.0, 2.0], [3.0, 4.0], [5.0, 6.0]):    # raises here
        s = s + a * b * x * y
    return s


def over_enumerate(x, y):
    s = 0.0
    for i, a, b in enumerate([1.0, 2.0]):               # raises here
        s = s + a * b * i * x * y
    return s


def growing_update(x, y):
    b = np.zeros(2)
    M = np.ones((3, 2)) * x
    b += M                                              # raises here
    return b.sum() * y


def int_update(x, y):
    b = np.zeros(3, dtype=int)
    b += x                                              # raises here
    return b.sum() * y


def growing_row_update(x, y):
    a = np.ones((3, 4)) * x
    a[0] += np.ones((1, 4)) * y                         # raises here
    return np.sum(a * a)


def int_row_update(x, y):
    a = np.zeros((2, 3), dtype=int)
    a[1] += x * y                                       # raises here
    return np.sum(a) * y


def int_row_update_in_a_loop(x, y):
    a = np.zeros((2, 3), dtype=int)
    for i in range(2):
        a[i] += x * y                                   # raises here
    return np.sum(a) * y


@pytest.mark.parametrize("mode", MODES)
def test_an_int_row_updated_in_a_loop_is_refused_before_it(mode):
    """The check that a store of a value carrying a derivative goes into floats is made
    once before a loop that does not rebind the array: a located refusal there."""
    got = _raised(lambda: s2sad.grad(int_row_update_in_a_loop, mode=mode)(1.5, 0.5))
    assert isinstance(got, s2sad.errors.TruncatingStoreError)
    _assert_located(got, int_row_update_in_a_loop)


RAISING = [too_many, too_few, loop_over_triples, named_triple, from_a_helper,
           over_zip_of_three, over_enumerate, growing_update, int_update,
           growing_row_update, int_row_update]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", RAISING, ids=lambda f: f.__name__)
def test_the_gradient_raises_what_the_function_raises(func, mode):
    want = _raised(lambda: func(1.5, 0.5))
    got = _raised(lambda: s2sad.grad(func, mode=mode)(1.5, 0.5))
    assert type(got) is type(want), (got, want)
    if isinstance(want, ValueError) and "unpack" in str(want):
        assert "values to unpack" in str(got)
    else:                       # NumPy's own exception: the update made on a copy
        assert str(got) == str(want)
    _assert_located(got, func)


@pytest.mark.parametrize("func", [too_many, loop_over_triples, growing_update, int_update],
                         ids=lambda f: f.__name__)
def test_every_way_to_differentiate_raises(func):
    want = type(_raised(lambda: func(1.5, 0.5)))
    calls = {
        "value_and_grad reverse": lambda: s2sad.value_and_grad(func, mode="reverse")(1.5, 0.5),
        "value_and_grad forward": lambda: s2sad.value_and_grad(func, mode="forward")(1.5, 0.5),
        "jvp": lambda: s2sad.jvp(func)(1.5, 0.5, 1.0),
        "vjp": lambda: s2sad.vjp(func)(1.5, 0.5)[1](1.0),
        "hessian": lambda: s2sad.hessian(func)(1.5, 0.5),
        "grad wrt both": lambda: s2sad.grad(func, (0, 1))(1.5, 0.5),
    }
    for what, call in calls.items():
        got = _raised(call)
        assert type(got) is want, (what, got)
        _assert_located(got, func)


# -- a list of dicts unpacked in a loop -----------------------------------------------------

def make_rows(x):
    return [{1.0: x, 2.0: x * x}, {3.0: x, 4.0: 1.0}]


def rows_of_dicts(x):
    rows = make_rows(x)
    s = 0.0
    for k1, k2 in rows:                                 # raises here
        s = s + k1 * x + k2
    return s


def rows_of_dicts_stopping(x):
    rows = make_rows(x)
    s = 0.0
    for k1, k2 in rows:                                 # raises here
        s = s + k1 * x + k2
        if s > 100.0:
            break
    return s


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [rows_of_dicts, rows_of_dicts_stopping],
                         ids=lambda f: f.__name__)
def test_a_list_of_dicts_unpacked_in_a_loop_is_refused_at_the_loop(func, mode):
    """It read row[0], row[1] of each dict: a bare KeyError (the keys of a dict are
    what Python unpacks)."""
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(func, mode=mode)(1.5)
    assert "iterating or unpacking a dict" in info.value.message
    _assert_located(info.value, func)


# -- sequences of unknown length: arguments -------------------------------------------------

def over_pairs(x, pairs):
    s = 0.0
    for a, b in pairs:                                  # raises here
        s = s + a * b * x
    return s


def over_pairs_stopping(x, pairs):
    s = 0.0
    for a, b in pairs:                                  # raises here
        s = s + a * b * x
        if a > 5.0:
            break
    return s


def over_pairs_returning(x, pairs):
    s = 0.0
    for a, b in pairs:                                  # raises here
        s = s + a * b * x
        if a > 5.0:
            return s * x
    return s


def unpacked_argument(x, t):
    a, b = t                                            # raises here
    return a * b * x


PAIRS = [(1.0, 2.0), (6.0, 1.0), (0.5, -1.0)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [over_pairs, over_pairs_stopping, over_pairs_returning],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [
    [(1.0, 2.0), (1.0, 2.0, 3.0), (6.0, 1.0)],
    [(1.0,), (6.0, 1.0)],
    [[1.0, 2.0], np.array([1.0, 2.0, 3.0])],
    [(1.0, 2.0), {0: 1.0, 1: 2.0}],
], ids=["triple", "single", "array", "dict"])
def test_an_item_of_another_length_raises_where_the_loop_reaches_it(func, mode, bad):
    got = _raised(lambda: s2sad.grad(func, mode=mode)(1.5, bad))
    if isinstance(bad[1], dict):
        assert isinstance(got, s2sad.UnsupportedSyntaxError)
    else:
        want = _raised(lambda: func(1.5, bad))
        assert type(got) is type(want) is ValueError
        assert str(got) == str(want)
    _assert_located(got, func)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [over_pairs_stopping, over_pairs_returning],
                         ids=lambda f: f.__name__)
def test_a_loop_stopping_before_a_bad_item_does_not_raise(func, mode):
    """The loop stops at (6.0, 1.0): the triple after it is never unpacked, by Python
    nor by the gradient, whose loop checks each item it reads."""
    pairs = [(1.0, 2.0), (6.0, 1.0), (1.0, 2.0, 3.0), {0: 1.0, 1: 2.0}]
    g = s2sad.grad(func, mode=mode)
    assert g(1.5, pairs) == pytest.approx(numerical_grad(func, (1.5, pairs)), rel=1e-6)
    assert "as_sequence(pairs)" in g.source and "length=2)" in g.source


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pairs", [PAIRS, tuple(PAIRS), [list(p) for p in PAIRS], []],
                         ids=["tuples", "tuple", "lists", "empty"])
def test_pairs_of_unknown_length_are_checked_once_before_the_loop(mode, pairs):
    g = s2sad.grad(over_pairs, mode=mode)
    assert g(1.5, pairs) == pytest.approx(numerical_grad(over_pairs, (1.5, pairs)), rel=1e-6)
    checks = [line.strip() for line in g.source.splitlines() if "as_sequence(" in line]
    # one check of every item's length, before the loop (the rows of numbers the call
    # was dispatched on are tuples or lists: their types need no check)
    assert checks in (["_seq = as_sequence(pairs, rows=2)"],
                      ["_seq = as_sequence(pairs, items=2)"]), checks


@pytest.mark.parametrize("mode", MODES)
def test_pairs_of_other_objects_are_checked_too(mode):
    """Rows that are arrays, or named tuples: their types are checked with their
    lengths, once, before the loop."""
    from collections import namedtuple
    P = namedtuple("P", "a b")
    for pairs in ([np.array([1.0, 2.0]), np.array([3.0, -1.0])], [P(1.0, 2.0), P(3.0, 0.5)],
                  np.array([[1.0, 2.0], [3.0, 4.0]])):
        g = s2sad.grad(over_pairs, mode=mode)
        assert g(1.5, pairs) == pytest.approx(numerical_grad(over_pairs, (1.5, pairs)),
                                              rel=1e-6)
    bad = np.array([[1.0, 2.0, 3.0]])
    got = _raised(lambda: s2sad.grad(over_pairs, mode=mode)(1.5, bad))
    assert type(got) is ValueError and "too many values to unpack" in str(got)
    _assert_located(got, over_pairs)


@pytest.mark.parametrize("mode", MODES)
def test_an_unpacked_argument_is_checked(mode):
    g = s2sad.grad(unpacked_argument, mode=mode)
    assert g(1.5, (2.0, 3.0)) == pytest.approx(6.0)
    for bad in [(1.0, 2.0, 3.0), [1.0]]:
        got = _raised(lambda bad=bad: g(1.5, bad))
        assert type(got) is ValueError and "values to unpack" in str(got)
        _assert_located(got, unpacked_argument)


# -- a mismatch the source shows raises only where the line runs ---------------------------

def in_a_branch(x, y):
    if x > 100.0:
        a, b = (x, y, 1.0)                              # raises here
    else:
        a, b = (x, y)
    return a * b


def over_an_empty_zip(x, xs):
    s = x
    for a, b in zip(xs, xs, xs):                        # raises here
        s = s + a * b * x
    return s


@pytest.mark.parametrize("mode", MODES)
def test_a_mismatch_in_a_branch_not_taken_does_not_raise(mode):
    g = s2sad.grad(in_a_branch, mode=mode)
    assert g(1.5, 0.5) == pytest.approx(0.5)
    got = _raised(lambda: g(200.0, 0.5))
    assert type(got) is ValueError
    _assert_located(got, in_a_branch)


@pytest.mark.parametrize("mode", MODES)
def test_a_loop_with_no_item_does_not_raise(mode):
    g = s2sad.grad(over_an_empty_zip, mode=mode)
    assert g(1.5, []) == pytest.approx(1.0)
    got = _raised(lambda: g(1.5, [1.0]))
    assert type(got) is ValueError
    _assert_located(got, over_an_empty_zip)


# -- what the source proves: no check, the gradients as before ------------------------------

def pair(x):
    return x * 2.0, x * x


def proven(x, y, xs, d):
    a, b = (x, y)
    t = (x * y, y)
    c, e = t
    f, g = pair(x)
    r = pair(y)
    h, k = r
    q, m = divmod(x * 7.0, 2.0)
    s = a * b + c * e + f * g + h * k + q + m * x
    for u, v in zip(xs, xs):
        s = s + u * v * x
    for i, v in enumerate(xs):
        s = s + i * v * y
    for _key, v in d.items():
        s = s + v * x
    for u, v in [(x, 1.0), (2.0, y)]:
        s = s + u * v
    rows = [(x, 1.0), (2.0, y)]
    for u, v in rows:
        s = s + u * v * x
    ps = [(v, v * x) for v in xs]
    for u, v in ps:
        s = s + u * v
    for i, (u, v) in enumerate(zip(xs, xs)):
        s = s + u * v * i * y
    return s


def shape_of(A, x):
    n, m = A.shape
    return np.sum(A) * x * n + m * x


@pytest.mark.parametrize("mode", MODES)
def test_unpacking_the_source_proves_is_not_checked(mode):
    args = (1.5, 0.5, [1.0, 2.0], {"a": 1.0, "b": -2.0})
    g = s2sad.grad(proven, (0, 1), mode=mode)
    got = g(*args)
    want = numerical_grad(proven, args, (0, 1))
    assert got == pytest.approx(want, rel=1e-6)
    for check in ("length=", "items=", "rows="):
        assert check not in g.source, g.source
    g = s2sad.grad(shape_of, 1, mode=mode)
    assert g(np.ones((2, 3)), 1.5) == pytest.approx(15.0)
    assert "as_sequence" not in g.source


def nested_pairs(x):
    def inner(v):
        return v, v * v
    a, b = inner(x)
    return a * b


def changed_before_unpacking(x):
    r = [x, 2.0]
    r.append(3.0)
    a, b = r                                            # raises here
    return a * b


@pytest.mark.parametrize("mode", MODES)
def test_a_list_changed_is_not_taken_for_its_display(mode):
    assert s2sad.grad(nested_pairs, mode=mode)(1.5) == pytest.approx(3 * 1.5 ** 2)
    got = _raised(lambda: s2sad.grad(changed_before_unpacking, mode=mode)(1.5))
    assert type(got) is ValueError
    _assert_located(got, changed_before_unpacking)


# -- in-place updates that fit ---------------------------------------------------------------

def updates(x, v):
    b = np.zeros(3)
    b += x
    b *= x
    b += v * x
    b -= v
    b /= 2.0
    c = np.ones((2, 3))
    c += b
    k = np.zeros(3, dtype=int)
    k += 2
    k *= 3
    f = np.zeros(3, dtype=np.float32)
    f += 2.0
    s = 0.0
    for i in range(3):
        s += x * i
    return np.sum(b) * x + np.sum(c) + np.sum(k) * x + float(np.sum(f)) * x + s


@pytest.mark.parametrize("mode", MODES)
def test_updates_that_fit_give_the_gradient(mode):
    args = (1.5, np.array([0.5, -1.0, 2.0]))
    got = s2sad.grad(updates, mode=mode)(*args)
    assert got == pytest.approx(numerical_grad(updates, args), rel=1e-6)
    got = s2sad.grad(updates, 1, mode="reverse")(*args)
    assert np.allclose(got, numerical_grad(updates, args, 1), rtol=1e-6)


def proven_updates(x):
    b = np.zeros(3)
    b += 1.0
    b *= 2.0
    s = 0.0
    for i in range(3):
        s += x * i
        s *= 1.5
    return np.sum(b) * x + s


@pytest.mark.parametrize("mode", MODES)
def test_updates_the_kinds_prove_are_not_checked(mode):
    """An array of floats plus a number keeps its shape and dtype; scalar code
    (``s += ...``) makes new numbers: no check."""
    g = s2sad.grad(proven_updates, mode=mode)
    assert g(1.5) == pytest.approx(numerical_grad(proven_updates, (1.5,)), rel=1e-6)
    assert "check_inplace" not in g.source, g.source


def list_update(x):
    xs = [x]
    xs += [2.0]
    return xs[0] * xs[1]


@pytest.mark.parametrize("mode", MODES)
def test_a_list_extended_in_place_is_not_checked(mode):
    g = s2sad.grad(list_update, mode=mode)
    assert g(1.5) == pytest.approx(2.0)
    assert "check_inplace" not in g.source


def row_and_element_updates(x, y):
    a = np.ones((3, 4)) * x
    a[0] += np.ones(4) * y          # a row, a value of its shape
    a[1] *= y                       # a row, a number
    a[2, 1] += x * y                # an element
    for i in range(3):
        a[i] -= 0.5 * x
    return np.sum(a * a)


@pytest.mark.parametrize("mode", MODES)
def test_item_updates_that_fit_are_differentiated(mode):
    from gradcheck import numerical_grad
    for args in [(1.5, 0.5), (-0.7, 1.2)]:
        got = s2sad.grad(row_and_element_updates, wrt=0, mode=mode)(*args)
        np.testing.assert_allclose(got, numerical_grad(row_and_element_updates, args, 0),
                                   rtol=1e-6)
