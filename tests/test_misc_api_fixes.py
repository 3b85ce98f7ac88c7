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
