"""Restores nothing reads (``s2sad/restores.py``) and the adjoint of an element stored
for a number (``ba.item(i)``).

An array filled element by element and reduced afterwards needs no snapshot of
what each store overwrote: those restores, their snapshots and their records go.
Each function below is checked against finite differences, and the generated code
is checked to have dropped the restores, or kept them where something reads the
array after them (the array read by the reverse of an earlier statement, a view of
it, a list or a function of the user's holding it).
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad


def filled_then_reduced(x, y):
    n = x.shape[0]
    z = np.zeros(n)
    for i in range(n):
        z[i] = x[i] * y
    return np.sum(z * z)


def recurrence(x, y):
    n = x.shape[0]
    z = np.zeros(n)
    z[0] = y
    for i in range(1, n):
        z[i] = z[i - 1] * x[i]
    return np.sum(z)


def trajectory(x0, k):
    xs = np.zeros(30)
    x = x0
    for i in range(30):
        x = x - 0.1 * k * x
        xs[i] = x
    return np.sum(xs ** 2)


def filled_in_a_while_loop(x, y):
    z = np.zeros(20)
    i = 0
    v = x
    while v < 5.0 and i < 20:
        v = v * 1.3 + y
        z[i] = v * v
        i += 1
    return np.sum(z) + v


def rows_and_elements(x, y):
    z = np.zeros((3, 2))
    for i in range(3):
        z[i] = x * y * i
        z[i, 0] = z[i, 1] * x
    return np.sum(z * z)


def read_before_the_loop(x, y):     # the reverse of t reads z after the loop's reverse
    z = np.ones(4) * y
    t = np.sum(z * x)
    for i in range(4):
        z[i] = x * i + z[i] * y
    return t + np.sum(z * z)


def view_read_before_the_store(x, y):
    z = np.ones((2, 3))
    row = z[0]
    t = np.sum(row * y)
    z[0, 1] = x * y
    return t + np.sum(z * x)


def held_by_a_list(x, y):
    z = np.ones(3)
    keep = [z]
    s = np.sum(keep[0] * x)
    z[1] = x * y
    return s + np.sum(z)


def _total(a, x):
    return np.sum(a * x)


def passed_to_a_function(x, y):
    z = np.ones(3) * y
    s = _total(z, x)
    z[1] = x * y
    return s + np.sum(z * x)


def stored_at_a_flag(x, y):         # a bool index is a mask: z[True] is not an element
    z = np.zeros(3)
    flag = x > 0
    z[flag] = x * y
    return np.sum(z * z)


def with_aux(x, y):
    z = np.zeros(3)
    for i in range(3):
        z[i] = x * y + i
    return np.sum(z * z), z


POINTS = [(np.array([0.3, -0.8, 1.2, 0.5]), 0.7), (np.array([1.1, 0.2, -0.4, 0.9]), -0.3)]
SCALARS = [(0.4, 0.9), (1.3, -0.6)]

DROPPED = [(filled_then_reduced, POINTS), (recurrence, POINTS), (trajectory, SCALARS),
           (filled_in_a_while_loop, SCALARS), (rows_and_elements, SCALARS)]
KEPT = [(read_before_the_loop, SCALARS), (view_read_before_the_store, SCALARS),
        (held_by_a_list, SCALARS), (passed_to_a_function, SCALARS)]


def _check(f, args, **options):
    got = s2sad.grad(f, wrt=(0, 1), **options)(*args)
    want = numerical_grad(f, args, (0, 1))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _check_hessian(f):
    """``hessian(f, wrt=(0, 1))`` row by row against finite differences of its gradient."""
    for args in SCALARS:
        h = np.array(s2sad.hessian(f, wrt=(0, 1))(*args), dtype=float)
        for i in range(2):
            np.testing.assert_allclose(h[i], numerical_grad(s2sad.grad(f, wrt=i), args, (0, 1)),
                                       rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("f, points", DROPPED + KEPT, ids=lambda v: getattr(v, "__name__", ""))
def test_gradients_match_finite_differences(f, points):
    for args in points:
        _check(f, args)


def _source(f, args):
    return s2sad.source(f, wrt=(0, 1), args=args)


@pytest.mark.parametrize("f, points", DROPPED, ids=lambda v: getattr(v, "__name__", ""))
def test_restores_nothing_reads_are_gone(f, points):
    source = _source(f, points[0])
    assert "snapshot" not in source and "_old" not in source, source


@pytest.mark.parametrize("f, points", KEPT, ids=lambda v: getattr(v, "__name__", ""))
def test_restores_something_reads_stay(f, points):
    source = _source(f, points[0])
    assert "snapshot(z" in source and "] = _old" in source, source


def test_without_the_kept_restore_the_gradient_would_be_wrong(monkeypatch):
    """The check of what may share the array's memory is what keeps the restore of
    ``passed_to_a_function`` (the reverse of its helper reads it through a parameter):
    skipping that check gives a wrong gradient, so the tests above can fail."""
    from s2sad import api, restores
    monkeypatch.setattr(restores, "_private", lambda tree, ctx, names: set(names))
    api._CACHE.clear()
    try:
        args = SCALARS[0]
        got = s2sad.grad(passed_to_a_function, wrt=(0, 1))(*args)
        want = numerical_grad(passed_to_a_function, args, (0, 1))
        assert not np.allclose(got, want, rtol=1e-5)
    finally:
        api._CACHE.clear()


def test_a_loop_filling_an_array_records_one_value_less_per_element():
    source = _source(filled_then_reduced, POINTS[0])
    assert source.count("_tape.append(") == 1       # x[i] only (it was 2)
    assert "del b_t4, z" in source          # z freed once its last reader ran


def test_an_element_stored_for_a_number_takes_its_adjoint_by_item():
    source = _source(filled_then_reduced, POINTS[0])
    assert "bz.item(i)" in source and "take_adjoint" not in source
    source = _source(rows_and_elements, SCALARS[0])
    assert "bz.item(i, 0)" in source
    assert "take_adjoint(bz, i," in source      # a row for a number: summed


@pytest.mark.parametrize("x", [0.5, -0.5])
def test_a_bool_index_is_not_taken_for_an_element(x):
    _check(stored_at_a_flag, (x, 0.7))
    assert ".item(" not in _source(stored_at_a_flag, (x, 0.7))


def test_checkpointed_and_second_order():
    for args in POINTS:
        got = s2sad.grad(filled_then_reduced, wrt=(0, 1), checkpoint=True)(*args)
        want = numerical_grad(filled_then_reduced, args, (0, 1))
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    _check_hessian(filled_in_a_while_loop)


def test_an_auxiliary_array_keeps_its_final_values():
    (value, z), grads = s2sad.value_and_grad(with_aux, wrt=(0, 1), has_aux=True)(0.4, 0.9)
    np.testing.assert_allclose(z, [0.36, 1.36, 2.36])
    np.testing.assert_allclose(value, np.sum(z * z))
    want = numerical_grad(lambda x, y: with_aux(x, y)[0], (0.4, 0.9), (0, 1))
    np.testing.assert_allclose(grads, want, rtol=1e-5)


# -- a loop writing into an array that carries no derivative ----------------------
# (its reverse was skipped, so nothing put back what the loop overwrote, while the
# reverse sweep read the array after it: a silent wrong gradient in reverse mode)


def inactive_array_written_in_a_loop(x, y):
    w = np.cos(x * y)
    for j in range(2):
        x[j] += 0.5
    return np.sum(w)


def inactive_array_written_in_a_while_loop(x, y):
    w = np.sin(x * y)
    k = 0
    while k < 2:
        x[k] = x[k] * 2.0
        k += 1
    return np.sum(w)


def inactive_list_written_in_a_loop(y):
    lst = [1.0, 2.0, 3.0]
    t = np.dot(lst, [y, y * y, 1.0])
    for j in range(2):
        lst[j] = lst[j] + 0.5
    return t


def scratch_filled_in_a_while_loop(x, y):
    buf = np.zeros(4)
    k = 0
    while k < 4:
        buf[k] = k * 2.0
        k += 1
    return np.sum(x * y) * np.sum(buf)


X = np.array([-1.3, 1.4, 1.6])


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("y", [-1.1, 0.6])
def test_a_loop_writing_into_an_inactive_array_read_later(mode, y):
    got = s2sad.grad(inactive_array_written_in_a_loop, wrt=1, mode=mode)(X.copy(), y)
    np.testing.assert_allclose(got, -np.sum(X * np.sin(X * y)), rtol=1e-12)
    got = s2sad.grad(inactive_array_written_in_a_while_loop, wrt=1, mode=mode)(X.copy(), y)
    np.testing.assert_allclose(got, np.sum(X * np.cos(X * y)), rtol=1e-12)
    got = s2sad.grad(inactive_list_written_in_a_loop, mode=mode)(y)
    np.testing.assert_allclose(got, 1.0 + 4.0 * y, rtol=1e-12)
    h = s2sad.hessian(inactive_array_written_in_a_loop, wrt=1)(X.copy(), y)
    np.testing.assert_allclose(h, -np.sum(X * X * np.cos(X * y)), rtol=1e-10)


def test_a_scratch_array_nothing_reads_leaves_no_reverse_loop():
    args = (X, 0.6)
    source = s2sad.source(scratch_filled_in_a_while_loop, wrt=1, args=args)
    assert "_tape" not in source and "snapshot" not in source and "_n1" not in source, source
    assert source.count("while ") == 1 and "for " not in source, source
    np.testing.assert_allclose(
        s2sad.grad(scratch_filled_in_a_while_loop, wrt=1, mode="reverse")(*args),
        np.sum(X) * 12.0, rtol=1e-12)


def list_rebuilt_in_a_loop(x, y):
    s = 0.0
    for i in range(3):
        row = [x * i, y, 1.0]
        row[1] = x * y
        s = s + row[0] * row[1]
    return s


def test_a_list_written_in_a_loop_keeps_no_restore_nothing_reads():
    """A list (of numbers) rebuilt and written in each iteration: its restore, the
    record of the list itself and of the item went (a list on the tape, written
    into by the reverse sweep, was what differentiating the code again refused)."""
    source = s2sad.source(list_rebuilt_in_a_loop, wrt=(0, 1), args=(0.3, 0.8))
    assert "snapshot" not in source and "_old" not in source, source
    for args in SCALARS:
        _check(list_rebuilt_in_a_loop, args)
    _check_hessian(list_rebuilt_in_a_loop)


def test_reverse_over_a_loop_rebuilding_a_list_of_an_inactive_loop():
    """Fuzz 1712900000110: a list rebuilt and written in a loop carrying no derivative
    got a reverse with its restore (reverse.has_active), recording the list on the tape;
    the reverse over that code refused the write into a list the tape held. The
    restore nothing reads goes, and with it that record."""
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(__file__), "fuzz_regressions",
                        "seed_1712900000110.py")
    spec = importlib.util.spec_from_file_location("seed_1712900000110", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    g = s2sad.grad(s2sad.grad(mod.f, wrt=1, mode="forward"), wrt=0, mode="reverse")
    for x, y in [(0.3, -0.4), (0.7, 0.2)]:
        got = g(x, y, 1)
        g1 = s2sad.grad(mod.f, wrt=1, mode="forward")
        h = 1e-5
        want = (g1(x + h, y, 1) - g1(x - h, y, 1)) / (2 * h)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def aux_in_a_dict(x):
    z = np.zeros(3)
    for i in range(3):
        z[i] = x[i] * x[i]
    return np.sum(z), {"z": z, "n": 3}


def aux_view(x):
    z = np.zeros(4)
    for i in range(4):
        z[i] = x[i] * x[i]
    return np.sum(z), z[::2]


def aux_in_a_tuple(x):
    z = np.zeros(3)
    lst = [0.0, 0.0, 0.0]
    for i in range(3):
        z[i] = x[i] * x[i]
        lst[i] = x[i] + 1.0
    return np.sum(z) + sum(lst), (z, lst)


@pytest.mark.parametrize("f", [aux_in_a_dict, aux_view, aux_in_a_tuple],
                         ids=lambda f: f.__name__)
def test_an_auxiliary_value_holding_an_array_written_in_place(f):
    """The reverse sweep puts back what the stores overwrote; an aux value holding the
    array (a dict, a tuple, a view of it) came back with those old values (zeros)."""
    x = np.array([0.3, -0.7, 1.2, 0.5])
    (value, aux), grad = s2sad.value_and_grad(f, mode="reverse", has_aux=True)(x.copy())
    want_value, want_aux = f(x.copy())
    np.testing.assert_allclose(value, want_value)
    if isinstance(want_aux, dict):
        np.testing.assert_allclose(aux["z"], want_aux["z"])
    elif isinstance(want_aux, tuple):
        np.testing.assert_allclose(aux[0], want_aux[0])
        np.testing.assert_allclose(aux[1], want_aux[1])
    else:
        np.testing.assert_allclose(aux, want_aux)
    np.testing.assert_allclose(grad, numerical_grad(lambda v: f(v)[0], (x,), 0), rtol=1e-6)
