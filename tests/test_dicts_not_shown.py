"""A dict the function does not show to be one (a call of your function, an item of
another dict or list, a loop variable gave it) iterated by ``for``, a comprehension,
``list``, ``tuple``, ``sorted``, ``sum``, ``min``, ``max`` or ``reversed``.

Python iterates its keys. The generated code read it by position: forward mode gave
the keys the values' derivatives (13.0 for 7.0, silently), reverse mode crashed
with a bare ``TypeError``. It is refused now when the gradient runs, at the line
of the loop or call, with a hint naming ``.keys()``/``.values()``/``.items()``. The
same code over lists, tuples and arrays, from the same places, is differentiated as
before, and values surely not dicts are not wrapped at all.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

MODES = ("reverse", "forward")


def make(x):
    return {1.0: x, 2.0: x * x}


def make_list(x):
    return [x, x * x, 3.0]


def looped(x):
    d = make(x)
    s = 0.0
    for k in d:                                         # refused here
        s = s + k * d[k]
    return s


def summed(x):
    d = make(x)
    return sum(d) * x + x                               # refused here


def listed(x):
    d = make(x)
    return list(d)[0] * x                               # refused here


def sorted_keys(x):
    d = make(x)
    return sorted(d)[1] * x                             # refused here


def largest(x):
    d = make(x)
    return max(d) * x                                   # refused here


def nested(x):
    tables = {"a": {1.0: x, 2.0: x * x}}
    s = 0.0
    for k in tables["a"]:                               # refused here
        s = s + k * tables["a"][k]
    return s


def loop_variable(x):
    ds = [{1.0: x}, {2.0: x * x}]
    s = 0.0
    for d in ds:
        for k in d:                                     # refused here
            s = s + k * d[k]
    return s


def comprehension(x):
    d = make(x)
    return sum([k * d[k] for k in d])                   # refused here


REFUSED = [looped, summed, listed, sorted_keys, largest, nested, loop_variable, comprehension]


def _marked_line(func):
    import inspect
    lines, first = inspect.getsourcelines(func)
    return next(first + i for i, line in enumerate(lines) if "# refused here" in line)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", REFUSED, ids=lambda f: f.__name__)
def test_iterating_a_dict_not_shown_to_be_one_is_refused_at_its_line(func, mode):
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(func, mode=mode)(1.5)
    err = info.value
    assert "iterating or unpacking a dict the function does not show to be one" in err.message
    assert "d.keys(), d.values() or d.items()" in err.hint
    assert err.filename == __file__
    assert err.lineno == _marked_line(func)


def looped_keys(x):
    d = make(x)
    s = 0.0
    for k in d.keys():
        s = s + k * d[k]
    return s + sum(d.values()) * x + max(d.keys()) * x


def nested_items(x):
    tables = {"a": {1.0: x, 2.0: x * x}}
    return sum(k * v for k, v in tables["a"].items())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [looped_keys, nested_items], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [1.5, -0.7])
def test_the_hinted_form_is_differentiated(func, mode, x):
    got = s2sad.grad(func, mode=mode)(x)
    assert got == pytest.approx(numerical_grad(func, (x,)), rel=1e-6)


def over_a_returned_list(x):
    xs = make_list(x)
    s = 0.0
    for v in xs:
        s = s + v * x
    return sum(xs) * x + max(xs) * x + sorted(xs)[0] + list(reversed(xs))[0] * x \
        + tuple(xs)[1] + min(xs)


def over_rows(x):
    rows = [make_list(x), make_list(2.0 * x)]
    s = 0.0
    for r in rows:
        s = s + sum(r) * max(r)
    return s


def over_an_array(x):
    a = np.array(make_list(x))
    return sum(a) * x + max(np.sin(a))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [over_a_returned_list, over_rows, over_an_array],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [1.5, 0.4, -2.2])
def test_the_same_code_over_lists_and_arrays_is_differentiated(func, mode, x):
    got = s2sad.grad(func, mode=mode)(x)
    assert got == pytest.approx(numerical_grad(func, (x,)), rel=1e-6)


def over_surely_not_dicts(xs, a, x):
    ys = [v * x for v in xs]
    zs = sorted(ys) if x > 0 else list(ys)
    return sum(xs) + max(ys) + sum(zs) + sum(np.cos(a)) * x + min(xs, key=abs)


@pytest.mark.parametrize("mode", MODES)
def test_values_surely_not_dicts_are_not_wrapped(mode):
    g = s2sad.grad(over_surely_not_dicts, wrt=2, mode=mode)
    args = ([1.0, 2.0], np.array([0.3, 0.4]), 0.7)
    assert g(*args) == pytest.approx(numerical_grad(over_surely_not_dicts, args, wrt=2),
                                     rel=1e-6)
    wrapped = [line.strip() for line in g.source.splitlines() if "as_sequence(" in line]
    # only the comprehension's loop over xs (and its tangent's)
    assert wrapped and all(line.endswith(("as_sequence(xs)", "as_sequence(dxs)"))
                           for line in wrapped)


def test_a_name_is_checked_once_per_block_until_bound_again():
    g = s2sad.grad(over_a_returned_list, mode="reverse")
    assert g(1.5) == pytest.approx(numerical_grad(over_a_returned_list, (1.5,)), rel=1e-6)
    # the loop over xs checks it: sum(xs), max(xs), ... in the statement after it are
    # not wrapped again
    for call in ("sum(xs)", "max(xs)", "min(xs)", "sorted(xs)", "tuple(xs)"):
        assert call in g.source


def rebound(x):
    xs = make_list(x)
    s = sum(xs) * x
    xs = make(x) if x > 10.0 else make_list(2.0 * x)
    s = s + max(xs)                                     # checked again: xs is new
    if x > 0.0:
        s = s + min(xs)                                 # (checked above)
    return s


def test_a_name_bound_again_is_checked_again():
    g = s2sad.grad(rebound, mode="reverse")
    for x in (1.5, -0.5):
        assert g(x) == pytest.approx(numerical_grad(rebound, (x,)), rel=1e-6)
    assert g.source.count("as_sequence(xs") == 2
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        g(11.0)
    assert info.value.lineno == rebound.__code__.co_firstlineno + 4


def pair(x):
    return x * 2.0, x * x


def unpacked_keys(x):
    k1, k2 = make(x)                                    # refused here
    return k1 * x + k2


def unpacked_name(x):
    d = make(x)
    k1, k2 = d                                          # refused here
    return k1 * x + k2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [unpacked_keys, unpacked_name], ids=lambda f: f.__name__)
def test_unpacking_a_dict_not_shown_to_be_one_is_refused_at_its_line(func, mode):
    """It read d[0], d[1]: a bare KeyError (or, for the keys 0 and 1, the values)."""
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(func, mode=mode)(1.5)
    assert "iterating or unpacking a dict" in info.value.message
    assert info.value.lineno == _marked_line(func)


def unpacked_pairs(x):
    a, b = pair(x)
    r = pair(x * x)
    c, e = r
    return a * b + c * e


@pytest.mark.parametrize("mode", MODES)
def test_unpacking_what_a_function_returning_a_tuple_gives_is_not_wrapped(mode):
    g = s2sad.grad(unpacked_pairs, mode=mode)
    assert g(1.5) == pytest.approx(numerical_grad(unpacked_pairs, (1.5,)), rel=1e-6)
    assert "as_sequence" not in g.source        # (return a, b: no dict)
