"""Fixes to the API's edges: a (loss, array) output of grad without has_aux is a located
NonScalarOutputError; check_grads leaves the caller's arguments alone; ``dict(p)`` is a
copy; the hint for ``L.pop(0)`` as a statement; int values of a dict argument get float
derivatives."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad
from s2sad import NonScalarOutputError

with open(__file__) as _fh:
    _LINES = _fh.read().splitlines()


def line_of(marker):
    """The line number of the unique line of this file ending with ``# <marker>``."""
    hits = [i for i, text in enumerate(_LINES, 1) if text.rstrip().endswith(f"# <{marker}>")]
    assert len(hits) == 1, marker
    return hits[0]


# --- 1. grad of a function returning (loss, array) without has_aux ---------------------

Pair = collections.namedtuple("Pair", "loss r")


def forgot_aux_tuple(w):
    r = w * 2.0
    return np.sum(r * r), r  # <tuple-out>


def forgot_aux_list(w):
    r = w * 2.0
    return [np.sum(r * r), r]  # <list-out>


def forgot_aux_named(w):
    r = w * 2.0
    return Pair(np.sum(r * r), r)  # <named-out>


def forgot_aux_scalar(x):
    return x * x, [x]  # <scalar-out>


@pytest.mark.parametrize("fn, marker, kind", [
    (forgot_aux_tuple, "tuple-out", "of type tuple"),
    (forgot_aux_list, "list-out", "of type list"),
    (forgot_aux_named, "named-out", "of type Pair (a named tuple)"),
])
@pytest.mark.parametrize("maker", [s2sad.grad, s2sad.value_and_grad])
def test_array_in_a_tuple_output_is_a_located_non_scalar_error(fn, marker, kind, maker):
    with pytest.raises(NonScalarOutputError) as info:
        maker(fn)(np.array([1.0, 2.0]))
    err = info.value
    assert err.filename == __file__ and err.lineno == line_of(marker)
    assert fn.__name__ in err.message and kind in err.message
    assert "has_aux=True" in err.hint


def test_scalar_pair_output_hints_has_aux_and_has_aux_works():
    with pytest.raises(NonScalarOutputError) as info:
        s2sad.grad(forgot_aux_scalar)(1.5)
    assert info.value.lineno == line_of("scalar-out") and "has_aux=True" in info.value.hint
    g, aux = s2sad.grad(forgot_aux_tuple, has_aux=True)(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [8.0, 16.0])
    np.testing.assert_allclose(aux, [2.0, 4.0])


def test_dict_output_keeps_its_hint():
    def dict_out(x):
        return {"a": x * x}

    with pytest.raises(NonScalarOutputError) as info:
        s2sad.grad(dict_out)(1.5)
    assert "of type dict" in info.value.message and "has_aux" not in info.value.hint


# --- 2. check_grads works on private copies of the arguments ---------------------------


def grows(L):
    L.append(3.0)
    return sum(L) * L[0]


def doubles_in_place(a):
    a *= 2.0
    return np.sum(a * a)


def logs_and_scales(x, log, p):
    log.append(x)
    p["s"] = p["s"] * 2.0
    return x * x * p["s"] + len(log)


def test_check_grads_of_a_function_appending_to_its_list_argument():
    L = [1.0, 2.0]
    assert s2sad.grad(grows)(L) == [7.0, 1.0]
    assert s2sad.check_grads(grows, (L,)) is True
    assert L == [1.0, 2.0]


def test_check_grads_leaves_an_array_changed_in_place_alone():
    a = np.array([1.0, 2.0])
    before = a.copy()
    assert s2sad.check_grads(doubles_in_place, (a,)) is True
    np.testing.assert_array_equal(a, before)


def test_check_grads_leaves_the_other_mutable_arguments_alone():
    log, p = [], {"s": 3.0}
    assert s2sad.check_grads(logs_and_scales, (1.5, log, p)) is True
    assert log == [] and p == {"s": 3.0}


@s2sad.custom_vjp
def bad_square(x):
    return x * x


def _bad_square_fwd(x):
    return x * x, x


def _bad_square_bwd(x, g):
    return (3.0 * g * x,)       # wrong on purpose: the derivative is 2 x


bad_square.defvjp(_bad_square_fwd, _bad_square_bwd)


def grows_then_bad(L):
    L.append(1.0)
    return bad_square(L[0]) + L[-1] * L[1]


def test_check_grads_still_catches_a_wrong_derivative_of_a_mutating_function():
    L = [0.5, 2.0]
    with pytest.raises(AssertionError, match="reverse mode") as info:
        s2sad.check_grads(grows_then_bad, (L,), modes=("rev",), order=1)
    assert "finite differences give" in str(info.value)
    assert L == [0.5, 2.0]
    # the finite differences are those of the function itself: d/dL0 = 2 L0, d/dL1 = 1
    assert numerical_grad(lambda a, b: grows_then_bad([a, b]), [0.5, 2.0], (0, 1)) \
        == pytest.approx((1.0, 1.0), rel=1e-6)


# --- 3. dict(p) is a copy of the dict p, as p.copy() ------------------------------------


def copied_by_dict(x, p):
    q = dict(p)
    q["c"] = x
    return q["c"] * p["a"] * q["a"] + q["b"]


def copied_by_method(x, p):
    q = p.copy()
    q["c"] = x
    return q["c"] * p["a"] * q["a"] + q["b"]


def _helper_dict(x):
    return {"a": x, "b": x * x}


def copy_of_returned(x):
    d = _helper_dict(x)
    q = dict(d)
    q["a"] = q["a"] * 3.0
    return q["a"] * d["b"] + q["b"]


def copy_of_copy(x):
    d = {"a": x}
    e = dict(d)
    f = dict(e)
    f["a"] = f["a"] * x
    return f["a"] + e["a"] * d["a"]


def dict_of_pairs(x):
    d = dict([("a", x), ("b", x * 2.0)])  # <pairs>
    return d["a"] * d["b"]


def in_place_through_dict_copy(x, p):
    q = dict(p)
    q["w"] *= x  # <dict-inplace>
    return np.sum(q["w"] * p["w"])


def in_place_through_method_copy(x, p):
    q = p.copy()
    q["w"] *= x  # <method-inplace>
    return np.sum(q["w"] * p["w"])


def in_place_through_list_copy(x, L):
    M = L.copy()
    M[0] *= x  # <list-inplace>
    return np.sum(M[0] * L[0])


P = {"a": 2.0, "b": 3.0}


@pytest.mark.parametrize("fn", [copied_by_dict, copied_by_method])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_copy_of_a_dict_argument_may_be_written_into(fn, mode):
    p = dict(P)
    assert s2sad.grad(fn, mode=mode)(1.5, p) == pytest.approx(
        numerical_grad(lambda x: fn(x, dict(P)), [1.5]), rel=1e-6)
    assert p == P


@pytest.mark.parametrize("fn", [copied_by_dict, copied_by_method])
def test_gradient_along_the_copied_dict(fn):
    gx, gp = s2sad.grad(fn, wrt=(0, 1))(1.5, dict(P))
    assert gx == pytest.approx(4.0)
    # d/da (x a a + b) = 2 x a, d/db = 1: exactly, and by finite differences
    assert gp == {"a": 6.0, "b": 1.0}
    na, nb = numerical_grad(lambda a, b: fn(1.5, {"a": a, "b": b}), [2.0, 3.0], (0, 1))
    assert (gp["a"], gp["b"]) == pytest.approx((na, nb), rel=1e-6)


@pytest.mark.parametrize("fn", [copy_of_returned, copy_of_copy])
def test_dict_copy_of_a_local_dict(fn):
    want = numerical_grad(fn, [0.7])
    assert s2sad.grad(fn)(0.7) == pytest.approx(want, rel=1e-6)
    assert s2sad.grad(fn, mode="forward")(0.7) == pytest.approx(want, rel=1e-6)
    hess = numerical_grad(lambda x: s2sad.grad(fn)(x), [0.7])
    assert s2sad.hessian(fn)(0.7) == pytest.approx(hess, rel=1e-5)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_dict_of_pairs_carrying_a_derivative_is_refused(mode):
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.grad(dict_of_pairs, mode=mode)(0.7)
    err = info.value
    assert err.filename == __file__ and err.lineno == line_of("pairs")
    assert "dict(x) of a list (key-value pairs)" in err.message
    assert "{'a': x, 'b': y}" in err.hint


@pytest.mark.parametrize("fn, args, marker", [
    (in_place_through_dict_copy, (1.5, {"w": np.array([1.0, 2.0])}), "dict-inplace"),
    # p.copy() and L.copy() hold the very arrays p and L hold: an in-place update
    # through the copy changes them too (was a silent wrong gradient: 5.0 for -4.7e6)
    (in_place_through_method_copy, (1.5, {"w": np.array([1.0, 2.0])}), "method-inplace"),
    (in_place_through_list_copy, (1.5, [np.array([1.0, 2.0])]), "list-inplace"),
])
def test_in_place_update_of_an_array_a_shallow_copy_shares_is_refused(fn, args, marker):
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(fn)(*args)
    assert info.value.lineno == line_of(marker) and "in-place update" in info.value.message


# --- 4. L.pop(i) as a statement (or its value unused) ------------------------------------


def pop_statement(x):
    L = [x, x * 2.0, x * 3.0]
    L.pop(0)  # <pop-stmt>
    return L[0] * L[1]


def pop_unused(x):
    L = [x, x * 2.0, x * 3.0]
    v = L.pop(0)  # noqa: F841  # <pop-unused>
    return L[0] * L[1]


def pop_of_argument_unused(x, L):
    L = list(L)
    v = L.pop(0)  # noqa: F841  # <pop-arg>
    return L[0] * x


def pop_then_slice(x):
    L = [x, x * 2.0, x * 3.0]
    L = L[1:]
    return L[0] * L[1]


@pytest.mark.parametrize("fn, args, wrt, marker", [
    (pop_statement, (0.7,), 0, "pop-stmt"),
    # its value unused, v = L.pop(0) was dropped with the pop: 4.9 for 8.4, silently
    (pop_unused, (0.7,), 0, "pop-unused"),
    (pop_of_argument_unused, (0.7, [1.0, 2.0]), 1, "pop-arg"),
])
def test_pop_of_an_item_other_than_the_last_gets_the_pop_hint(fn, args, wrt, marker):
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.grad(fn, wrt=wrt)(*args)
    err = info.value
    assert err.filename == __file__ and err.lineno == line_of(marker)
    assert "L.pop(...) of an item other than the last" in err.message
    assert "read the item and slice the list" in err.hint
    assert "mutating its argument" not in err.hint


def test_the_hinted_rewrite_is_differentiated():
    assert pop_then_slice(0.7) == pytest.approx(pop_statement(0.7))
    assert s2sad.grad(pop_then_slice)(0.7) == pytest.approx(
        numerical_grad(pop_statement, [0.7]), rel=1e-6)


# --- 5. int items of a dict (or list) argument get float derivatives ----------------------


def dict_product(p):
    return p["a"] * p["b"]


def list_product(L):
    return L[0] * L[1]


def first_times(L, y):
    return L[0] * y


def test_int_values_of_a_dict_argument_get_float_derivatives():
    g = s2sad.grad(dict_product)({"a": 2, "b": 3})
    assert g == {"a": 3.0, "b": 2.0}
    assert all(type(v) is float for v in g.values())


def test_int_items_of_a_list_argument_get_float_derivatives():
    g = s2sad.grad(list_product)([2, 3])
    assert g == [3.0, 2.0] and all(type(v) is float for v in g)
    g = s2sad.grad(first_times)([2, 5], 4)
    assert g == [4.0, 0.0] and all(type(v) is float for v in g)
