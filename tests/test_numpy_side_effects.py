"""NumPy calls writing into an array that the derivative code would not see.

* ``np.add.at(a, i, v)`` is differentiated as the reverse sweep's ``index_add``; into
  a view (``b[1:]``, ``B.T``, ``b.reshape(...)``, a row ``r = B[0]``, a loop row, a
  list's item), or while a view of ``a`` is read later, the other name's value changed
  unseen (a zero gradient). Refused as the same writes made by ``a[i] += v`` are
  (``aliasing``: ViewWrite, StoreIntoItem, WriteUnderView).
* ``out`` given to a NumPy function, ufunc, ufunc method or ndarray method, by keyword
  or by position (``np.square(b, b)``, ``np.sum(B, 0, None, s)``, ``b.clip(lo, hi, b)``):
  the write into ``out`` went unseen, a statement was even dropped as changing
  nothing. Refused wherever the call is, whether its value is used or not
  (``normalize._check_numpy_writes``: OutArgument).
* ``np.add.at``, ``np.copyto``, ``np.putmask``... anywhere but as a statement of their
  own (``c = np.add.at(b, i, v)``, in a lambda or comprehension): refused
  (MutatingCall).

A plain ``np.add.at`` into an array of the function's own, and calls computing the
same values without ``out``, keep working (checked against finite differences).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

MODES = ["reverse", "forward"]
A = np.array([0.5, -1.0, 2.0])
M = np.array([[0.5, -1.0, 2.0], [0.3, 0.2, -0.4]])
X = 0.7

VIEW = "writing into a view of another array"
ITEM = "writing into a list or dict that is an item of another list or dict"
UNDER_VIEW = "writing into an array while a view of it is still used"
OUT = "a NumPy call writing its result into an array given as out"
MUTATING = "a method changing a list, dict or array in place"


def _line(fn, marker="# <- refused"):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, text in enumerate(lines) if marker in text)


# ---------------------------------------------------------------------------
# np.add.at into a view, or under a view read later


def at_slice(a, x):
    b = a.copy()
    np.add.at(b[1:], [0, 0], x)  # <- refused
    return np.sum(b * b)


def at_transpose(B, x):
    C = B.copy()
    np.add.at(C.T, [0], x)  # <- refused
    return np.sum(C * C)


def at_reshape(a, x):
    b = a.copy()
    np.add.at(b.reshape(3, 1), [0], x)  # <- refused
    return np.sum(b * b)


def at_named_row(B, x):
    C = B.copy()
    r = C[0]
    np.add.at(r, [0, 1], x)  # <- refused
    return np.sum(C * C)


def at_loop_row(B, x):
    C = B.copy()
    for row in C:
        np.add.at(row, [0], x)  # <- refused
    return np.sum(C * C)


def at_list_item(a, x):
    L = [a.copy(), a.copy()]
    np.add.at(L[0], [0], x)  # <- refused
    return np.sum(L[0] * L[1])


def at_under_view(a, x):
    b = a.copy()
    r = b[1:]
    np.add.at(b, [1], x)  # <- refused
    return np.sum(r * r)


AT_REFUSED = [
    (at_slice, A, VIEW, "(b[1:])"),
    (at_transpose, M, VIEW, "(C.T)"),
    (at_reshape, A, VIEW, "(b.reshape(3, 1))"),
    (at_named_row, M, VIEW, "(r)"),
    (at_loop_row, M, VIEW, "(row)"),
    (at_list_item, A, ITEM, "(L[0])"),
    (at_under_view, A, UNDER_VIEW, "(np.add.at(b, ...) changes r, read later)"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, arg, what, detail", AT_REFUSED,
                         ids=[c[0].__name__ for c in AT_REFUSED])
def test_add_at_into_a_view_is_refused(fn, arg, what, detail, mode):
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(fn, wrt=1, mode=mode)(arg, X)
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"{__file__}:{_line(fn)}:")
    assert what in first and detail in first
    assert "hint:" in str(info.value)


def test_the_add_at_refusal_mirrors_the_store():
    """``b[1] += x`` under the same view is refused with the same message kind."""
    def stored(a, x):
        b = a.copy()
        r = b[1:]
        b[1] += x  # <- refused
        return np.sum(r * r)

    for fn in (stored, at_under_view):
        with pytest.raises(s2sad.UnsupportedSyntaxError, match=UNDER_VIEW):
            s2sad.grad(fn, wrt=1, mode="reverse")(A, X)


# the working cases: an array of the function's own


def at_own(a, x):
    b = a.copy()
    np.add.at(b, [0, 0, 2], x * a[1])
    return np.sum(b * b)


def at_own_then_view(a, x):
    b = a * 1.0
    np.add.at(b, [1, 1], x)
    r = b[1:]                   # a view made after the write: sees it
    return np.sum(r * r * a[1:])


def at_view_dead_before(a, x):
    b = a.copy()
    r = b[1:]
    s = np.sum(r * r)           # the view's last read comes before the write
    np.add.at(b, [0, 2], x)
    return s + np.sum(b * b)


def at_in_loop(B, x):
    C = B * x
    for i in range(2):
        np.add.at(C, ([i, i], [0, 2]), x * C[i, 1])
    return np.sum(C * C)


def _check_against_finite_differences(fn, arg, mode):
    """The derivatives of ``fn(arg, X)`` in ``mode``: the gradient with respect to both
    arguments (reverse), or with respect to ``X`` and a jvp along ``arg`` (forward)."""
    want = numerical_grad(fn, (arg, X), wrt=(0, 1))
    if mode == "reverse":
        got = s2sad.grad(fn, wrt=(0, 1), mode="reverse")(arg, X)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-6)
        return
    got = s2sad.grad(fn, wrt=1, mode="forward")(arg, X)
    np.testing.assert_allclose(got, want[1], rtol=1e-6, atol=1e-6)
    direction = np.linspace(-1.0, 1.0, arg.size).reshape(arg.shape)
    _, tangent = s2sad.jvp(fn, wrt=0)(arg, X, direction)
    np.testing.assert_allclose(tangent, np.sum(want[0] * direction), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, arg", [(at_own, A), (at_own_then_view, A),
                                     (at_view_dead_before, A), (at_in_loop, M)])
def test_add_at_into_an_own_array_is_differentiated(fn, arg, mode):
    _check_against_finite_differences(fn, arg, mode)


# ---------------------------------------------------------------------------
# out given by keyword or by position


def out_square(a, x):
    b = a * x
    np.square(b, b)  # <- refused
    return np.sum(b * a)


def out_tanh(a, x):
    b = a * x
    np.tanh(b, b)  # <- refused
    return np.sum(b * a)


def out_multiply(a, x):
    b = a * x
    np.multiply(b, b, b)  # <- refused
    return np.sum(b * a)


def out_sin_other(a, x):
    b = a * x
    r = np.zeros(3)
    np.sin(b, r)  # <- refused
    return np.sum(r * a)


def out_cumsum(a, x):
    b = a * x
    np.cumsum(b, 0, None, b)  # <- refused
    return np.sum(b * a)


def out_take(a, x):
    b = a * x
    r = np.zeros(2)
    np.take(b, [0, 2], 0, r)  # <- refused
    return np.sum(r * r)


def out_concatenate(a, x):
    b = a * x
    o = np.zeros(6)
    np.concatenate([b, b], 0, o)  # <- refused
    return np.sum(o * o)


def out_sum(a, x):
    B = np.outer(a, a) * x
    s = np.zeros(3)
    np.sum(B, 0, None, s)  # <- refused
    return np.sum(s * a)


def out_dot(a, x):
    B = np.outer(a, a) * x
    r = np.zeros(3)
    np.dot(B, a, r)  # <- refused
    return np.sum(r * a)


def out_clip(a, x):
    b = a * x
    np.clip(b, -0.5, 0.5, b)  # <- refused
    return np.sum(b * a)


def out_clip_used(a, x):
    b = a * x
    c = np.clip(b, -0.5, 0.5, b)  # <- refused
    return np.sum(c * a) + np.sum(b)


def out_keyword_unused(a, x):
    b = a * x
    c = np.clip(b, -0.5, 0.5, out=b)  # <- refused  # noqa: F841
    return np.sum(b * a)


def out_keyword_used(a, x):
    b = a * x
    c = np.clip(b, -0.5, 0.5, out=b)  # <- refused
    return np.sum(c * a)


def out_keyword_statement(a, x):
    b = a * x
    np.sin(b, out=b)  # <- refused
    return np.sum(b * a)


def out_method(a, x):
    b = a * x
    b.clip(-0.1, 0.1, b)  # <- refused
    return np.sum(b * a)


def out_method_keyword(a, x):
    b = a * x
    b.clip(-0.1, 0.1, out=b)  # <- refused
    return np.sum(b * a)


def out_method_sum(a, x):
    B = np.outer(a, a) * x
    s = np.zeros(3)
    B.sum(0, None, s)  # <- refused
    return np.sum(s * a)


def out_reduce(a, x):
    B = np.outer(a, a) * x
    s = np.zeros(3)
    np.add.reduce(B, 0, None, s)  # <- refused
    return np.sum(s * a)


def out_median(a, x):
    b = a * x
    r = np.zeros(())
    m = np.median(b, 0, r)  # <- refused
    return m * x


def out_in_lambda(a, x):
    b = a * x
    f = lambda: np.sin(b, b)  # <- refused  # noqa: E731
    f()
    return np.sum(b * a)


OUT_REFUSED = [
    (out_square, "np.square(b, b): out given as its positional argument 2"),
    (out_tanh, "np.tanh(b, b): out given as its positional argument 2"),
    (out_multiply, "np.multiply(b, b, b): out given as its positional argument 3"),
    (out_sin_other, "np.sin(b, r): out given as its positional argument 2"),
    (out_cumsum, "np.cumsum(b, 0, None, b): out given as its positional argument 4"),
    (out_take, "out given as its positional argument 4"),
    (out_concatenate, "out given as its positional argument 3"),
    (out_sum, "np.sum(B, 0, None, s): out given as its positional argument 4"),
    (out_dot, "np.dot(B, a, r): out given as its positional argument 3"),
    (out_clip, "np.clip(b, -0.5, 0.5, b): out given as its positional argument 4"),
    (out_clip_used, "out given as its positional argument 4"),
    (out_keyword_unused, "out given by keyword"),
    (out_keyword_used, "out given by keyword"),
    (out_keyword_statement, "np.sin(b, out=b): out given by keyword"),
    (out_method, "b.clip(-0.1, 0.1, b): out given as its positional argument 3"),
    (out_method_keyword, "out given by keyword"),
    (out_method_sum, "B.sum(0, None, s): out given as its positional argument 3"),
    (out_reduce, "out given as its positional argument 4"),
    (out_median, "np.median(b, 0, r): out given as its positional argument 3"),
    (out_in_lambda, "np.sin(b, b): out given as its positional argument 2"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, detail", OUT_REFUSED, ids=[c[0].__name__ for c in OUT_REFUSED])
def test_out_argument_is_refused(fn, detail, mode):
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(fn, wrt=1, mode=mode)(A, X)
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"{__file__}:{_line(fn)}:")
    assert OUT in first and detail in first
    assert "hint: use the value the call returns" in str(info.value)


def test_out_is_refused_through_jvp_and_value_and_grad():
    for transform in (s2sad.value_and_grad(out_keyword_unused, wrt=1),
                      lambda a, x: s2sad.jvp(out_square, wrt=1)(a, x, 1.0)):
        with pytest.raises(s2sad.S2SADError, match=OUT):
            transform(A, X)


# the same values without out: differentiated


def no_out(a, x):
    b = a * x
    B = np.outer(a, a) * x
    r = np.square(b) + np.tanh(b) + np.multiply(b, b) + np.cumsum(b, 0, None)
    s = np.sum(B, 0, None) + np.dot(B, a) + np.clip(b, -0.5, 0.5) + b.clip(-0.1, 0.1)
    t = np.take(b, [0, 2], 0) @ np.take(b, [1, 2], 0)
    return np.sum(r * a) + np.sum(s * s) + t + np.sum(np.concatenate([b, b], 0)) \
        + np.median(b, 0) + np.sum(B.sum(0, None))


@pytest.mark.parametrize("mode", MODES)
def test_the_same_calls_without_out_are_differentiated(mode):
    _check_against_finite_differences(no_out, A, mode)


# ---------------------------------------------------------------------------
# a NumPy function changing its argument, not as a statement of its own


def at_assigned(a, x):
    b = a * x
    c = np.add.at(b, [0, 0], x)  # <- refused  # noqa: F841
    return np.sum(b * b)


def copyto_assigned(a, x):
    b = a * 1.0
    c = np.copyto(b, x * a)  # <- refused  # noqa: F841
    return np.sum(b * b)


def putmask_assigned(a, x):
    b = a * x
    c = np.putmask(b, b > 0, 0.0)  # <- refused  # noqa: F841
    return np.sum(b * a)


def at_in_lambda(a, x):
    b = a * x
    f = lambda: np.add.at(b, [0], x)  # <- refused  # noqa: E731
    f()
    return np.sum(b * b)


def at_in_comprehension(a, x):
    b = a * x
    [np.add.at(b, [i], x) for i in range(2)]  # <- refused
    return np.sum(b * b)


def at_in_conditional(a, x):
    b = a * x
    np.add.at(b, [0], x) if x > 0 else None  # <- refused
    return np.sum(b * b)


WRITERS_REFUSED = [
    (at_assigned, "(np.add.at whose value is used)"),
    (copyto_assigned, "(np.copyto whose value is used)"),
    (putmask_assigned, "(np.putmask whose value is used)"),
    (at_in_lambda, "(np.add.at in the body of a lambda)"),
    (at_in_comprehension, "(np.add.at in a list comprehension)"),
    (at_in_conditional, "(np.add.at in a conditional expression"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn, detail", WRITERS_REFUSED,
                         ids=[c[0].__name__ for c in WRITERS_REFUSED])
def test_numpy_writer_not_a_statement_is_refused(fn, detail, mode):
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(fn, wrt=1, mode=mode)(A, X)
    first = str(info.value).splitlines()[0]
    assert first.startswith(f"{__file__}:{_line(fn)}:")
    assert MUTATING in first and detail in first
    assert "as a statement of its own" in str(info.value)
