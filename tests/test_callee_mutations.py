"""A gradient call leaves its arguments as they were when a function of yours it calls
changes them in place (``take_last(L)`` popping, ``add(L, v)`` appending, ``step(u)``
storing into an array, a helper storing into a dict): the parameter is copied at entry
(``copy_of``), as one the function changes itself. Before, ``grad`` along another
argument (and forward mode always) left the caller's list changed, and ``hessian`` read
a list already popped (``IndexError``).

Also: an item popped off a list of scalars is no second name for the list, so
``p = L.pop(); L[0] = y`` (and the same in the code of a gradient, differentiated
again) is differentiated, not refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

MODES = ["reverse", "forward"]


def take_last(L):
    return L.pop()


def pops_in_helper(L, x):
    v = take_last(L)
    return v * x * x + L[0]


def add(L, v):
    L.append(v)


def appends_in_helper(L, x):
    add(L, x)
    return sum(L) * x


def appends_after_a_store(L, x):
    L[0] = 1.0          # (the copy made for the store: the helper fills that copy)
    add(L, x)
    return sum(L) * x


def drop(L):
    take_last(L)


def pops_two_calls_down(L, x):
    drop(L)
    return sum(L) * x * x


def put(d, v):
    d["z"] = v


def stores_into_a_dict_in_helper(d, x):
    put(d, x)
    return x * x


def pop_a(d, x):
    return d.pop("a") * x


def pops_from_a_dict_in_helper(d, x):
    w = pop_a(d, x)
    return w * x


def step(u, x):
    u[0] = x * 2.0


def stores_into_an_array_in_helper(u, x):
    step(u, x)
    return x * x


def two_lists(L, M, x):
    v = take_last(L)
    return v * x + M[0]


CASES = [(pops_in_helper, [1.0, 2.0]), (appends_in_helper, [1.0, 2.0]),
         (appends_after_a_store, [3.0, 2.0]), (pops_two_calls_down, [1.0, 2.0, 4.0]),
         (stores_into_a_dict_in_helper, {"a": 1.0}),
         (pops_from_a_dict_in_helper, {"a": 2.0, "b": 1.0}),
         (stores_into_an_array_in_helper, np.array([0.5, 0.0, 1.0]))]


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def _fresh(arg):
    return arg.copy()


def _fd(func, arg, x):
    return numerical_grad(lambda t: func(_fresh(arg), t), (x,))


@pytest.mark.parametrize("mode", MODES + ["auto"])
@pytest.mark.parametrize("func, arg", CASES, ids=[f.__name__ for f, _ in CASES])
def test_grad_along_the_scalar_leaves_the_argument_as_it_was(func, arg, mode):
    given = _fresh(arg)
    got = s2sad.grad(func, wrt=1, mode=mode)(given, 1.3)
    assert _same(given, arg)
    assert got == pytest.approx(_fd(func, arg, 1.3), rel=1e-6)
    # the function itself still changes it: the copy is the gradient's own
    mine = _fresh(arg)
    func(mine, 1.3)
    assert not _same(mine, arg)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func, arg", CASES, ids=[f.__name__ for f, _ in CASES])
def test_jvp_vjp_and_value_and_grad_leave_the_argument_as_it_was(func, arg, mode):
    want = _fd(func, arg, 1.3)
    value = func(_fresh(arg), 1.3)
    given = _fresh(arg)
    assert s2sad.jvp(func, wrt=1)(given, 1.3, 1.0) == pytest.approx((value, want), rel=1e-6)
    assert _same(given, arg)
    given = _fresh(arg)
    v, pullback = s2sad.vjp(func, wrt=1)(given, 1.3)
    assert (v, pullback(1.0)) == pytest.approx((value, want), rel=1e-6)
    assert _same(given, arg)
    given = _fresh(arg)
    got = s2sad.value_and_grad(func, wrt=1, mode=mode)(given, 1.3)
    assert got == pytest.approx((value, want), rel=1e-6)
    assert _same(given, arg)


def test_hessian_of_a_function_whose_helper_pops_its_list_argument():
    # v * x * x + L[0] with v = 2.0 popped: the second derivative is 2 v = 4
    L = [1.0, 2.0]
    assert float(s2sad.hessian(pops_in_helper, wrt=1)(L, 1.3)) == pytest.approx(4.0)
    assert L == [1.0, 2.0]
    for mode in ("reverse", "auto"):
        L = [1.0, 2.0]
        got = s2sad.grad(s2sad.grad(pops_in_helper, wrt=1, mode=mode), wrt=1, mode=mode)(
            L, 1.3)
        assert float(got) == pytest.approx(4.0)
        assert L == [1.0, 2.0]


def test_hessian_of_a_function_whose_helper_appends_to_its_list_argument():
    # (3 + x) * x: the second derivative is 2
    L = [1.0, 2.0]
    assert float(s2sad.hessian(appends_in_helper, wrt=1)(L, 1.3)) == pytest.approx(2.0)
    assert L == [1.0, 2.0]


@pytest.mark.parametrize("mode", ["reverse", "auto"])
def test_the_gradient_along_the_list_too(mode):
    for func in (pops_in_helper, appends_in_helper):
        L = [1.0, 2.0]
        got = s2sad.grad(func, wrt=(0, 1), mode=mode)(L, 1.3)
        assert L == [1.0, 2.0]
        want = numerical_grad(lambda a, b, x, func=func: func([a, b], x), (1.0, 2.0, 1.3),
                              wrt=(0, 1, 2))
        assert list(got[0]) == pytest.approx(list(want[:2]), rel=1e-6)
        assert got[1] == pytest.approx(want[2], rel=1e-6)


def test_one_list_given_twice_to_a_function_whose_helper_pops_it_is_still_refused():
    L = [1.0, 2.0]
    with pytest.raises(s2sad.ArgumentError, match=r"changes its argument 'L' in place"):
        s2sad.grad(two_lists, wrt=2)(L, L, 1.3)
    assert L == [1.0, 2.0]


# -- an item popped off a list of scalars is no other name for the list


def pop_then_store(x, y):
    L = [x, y, 2.0]
    p = L.pop()
    L[0] = y
    return p * L[0]


def pop_then_store_reading_it(x, y):
    L = [x, y, 2.0 * x]
    p = L.pop()
    L[0] = y * p
    return p * L[0] + L[1]


def copy_store_append(L, x):
    M = list(L)
    M[0] = M[0] * x
    M.append(x)
    return sum(M)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [pop_then_store, pop_then_store_reading_it])
def test_a_store_after_a_pop_of_a_list_of_scalars(func, mode):
    got = s2sad.grad(func, wrt=(0, 1), mode=mode)(1.5, 0.7)
    want = numerical_grad(func, (1.5, 0.7), wrt=(0, 1))
    assert got == pytest.approx(want, rel=1e-6)


def test_hessian_of_a_store_after_a_pop():
    # 4 x^2 y + y: d2/dx2 = 8 y
    got = s2sad.hessian(pop_then_store_reading_it, wrt=0)(1.5, 0.7)
    assert float(got) == pytest.approx(8 * 0.7)


def test_hessian_whose_gradient_pops_then_stores_into_a_list_adjoint():
    # the gradient's code does bx = bM.pop() then bM[0] = 0.0
    L = [1.0, 2.0]
    assert s2sad.grad(copy_store_append, wrt=1)(L, 1.3) == pytest.approx(2.0)
    assert float(s2sad.hessian(copy_store_append, wrt=1)(L, 1.3)) == pytest.approx(0.0)
    L2 = [1.0, 2.0]
    # (L0 x + L1 + x)^2: d2/dx2 = 2 (L0 + 1)^2
    got = s2sad.hessian(squared_sum, wrt=1)(L2, 1.3)
    assert float(got) == pytest.approx(2.0 * (L2[0] + 1.0) ** 2)
    assert L == [1.0, 2.0] and L2 == [1.0, 2.0]


def squared_sum(L, x):
    M = list(L)
    M[0] = M[0] * x
    M.append(x)
    s = sum(M)
    return s * s
