"""Iterators and builtins, from adversarial tests. A generator (or an iterator: map,
zip, iter, itertools.combinations) bound to a name or given to a function of yours is
refused: Python reads it once, where it is used, while the normal form made the list
of its items where it was written, which a second use read again, and which read the
names it uses before they were rebound (silent wrong values and derivatives).
Generators read where they are made work; so do ``enumerate(xs, start=k)``, the else
of a loop without break, and ``max``/``min`` of three or more numbers, which split a
tie evenly.
"""

from __future__ import annotations

import itertools
import math

import pytest

import s2sad

MODES = ("reverse", "forward")

HERE = __file__
with open(HERE) as _fh:
    _LINES = _fh.read().splitlines()


def _line_of(marker):
    hits = [i for i, t in enumerate(_LINES, 1) if t.rstrip().endswith(f"# <- {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


def _total_twice(g):
    return sum(g) + sum(g)


def generator_read_twice(x):
    g = (t * t for t in [x, 2.0 * x])               # <- GEN_BOUND
    return sum(g) + sum(g)


def generator_read_late(x):
    a = 1.0
    m = map(lambda t: a * t, [x, x])                # <- MAP_BOUND
    a = 3.0
    return sum(m) * a


def combinations_read_twice(x):
    c = itertools.combinations([x, 2.0, 3.0], 2)    # <- COMB_BOUND
    return sum(p * q for p, q in c) + sum(p * q for p, q in c)


def generator_given_to_a_helper(x):
    return _total_twice(t * t for t in [x, 2.0 * x])    # <- GEN_GIVEN


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func, marker", [
    (generator_read_twice, "GEN_BOUND"), (generator_read_late, "MAP_BOUND"),
    (combinations_read_twice, "COMB_BOUND"), (generator_given_to_a_helper, "GEN_GIVEN")])
def test_a_generator_read_later_is_refused(func, marker, mode):
    """Each gave a silent wrong value and derivative: the normal form made the list of
    the items where the generator was written, which a second use read again."""
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(func, mode=mode)(0.7)
    assert info.value.lineno == _line_of(marker)
    assert "a generator or iterator bound to a name or given to a function of yours" \
        in str(info.value)


def generators_used_where_made(x):
    s = sum(t * t for t in [x, 2.0 * x]) + max(t * x for t in [1.0, 2.0])
    s += sum(map(lambda t: t * x, [x, 3.0]))
    s += sum(p * q for p, q in itertools.combinations([x, 2.0, 3.0], 2))
    for v in (t * 2.0 for t in [x, x * x]):
        s += v
    return s + _total_twice([t * t for t in [x, 2.0 * x]])


@pytest.mark.parametrize("mode", MODES)
def test_generators_read_where_they_are_made_still_work(mode):
    from gradcheck import numerical_grad
    got = s2sad.grad(generators_used_where_made, mode=mode)(0.7)
    assert got == pytest.approx(numerical_grad(generators_used_where_made, (0.7,)), rel=1e-6)


def zip_bound(x, y):
    z = zip([x, y], [y, x])                         # <- ZIP_BOUND
    return sum(a * b for a, b in z)


def iter_bound(x):
    it = iter([x, x * x])                           # <- ITER_BOUND
    return next(it)


@pytest.mark.parametrize("func, args, marker", [(zip_bound, (0.7, 0.3), "ZIP_BOUND"),
                                                (iter_bound, (0.7,), "ITER_BOUND")])
def test_iterators_bound_to_a_name_are_refused_as_such(func, args, marker):
    """(they said "no derivative rule for zip" and suggested registering one)"""
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(func, wrt=tuple(range(len(args))))(*args)
    assert info.value.lineno == _line_of(marker)
    assert "bound to a name" in str(info.value)


def enumerate_from_one(x, y):
    s = 0.0
    for i, v in enumerate([x, y], start=1):
        s = s + i * v
    for i, v in enumerate([x, y], 3):
        s = s + i * v * v
    return s


@pytest.mark.parametrize("mode", MODES)
def test_enumerate_with_a_start_keyword(mode):
    """(it said "no derivative rule for enumerate")"""
    got = s2sad.grad(enumerate_from_one, wrt=(0, 1), mode=mode)(0.7, 0.3)
    assert got == pytest.approx((1.0 + 6.0 * 0.7, 2.0 + 8.0 * 0.3))


def while_else(a):
    x = 1.0
    while abs(x - math.cos(x) * a) > 1e-13:
        x = math.cos(x) * a
    else:
        x = x + a
    return x


@pytest.mark.parametrize("fixed_point", [False, True])
def test_a_while_loop_with_an_else_and_no_break(fixed_point):
    """The else clause of a loop without break is plain code after it: fixed_point=True
    refused it ("it leaves by return, continue, or a break")."""
    from gradcheck import numerical_grad
    got = s2sad.grad(while_else, fixed_point=fixed_point)(0.7)
    assert got == pytest.approx(numerical_grad(while_else, (0.7,)), rel=1e-6)


def extreme_of_three(x, y, z):
    return max(x, y, z) + 2.0 * min(x, y, z)


@pytest.mark.parametrize("mode", MODES)
def test_max_and_min_of_three_split_a_three_way_tie_evenly(mode):
    """(max(max(x, y), z) gave 1/4, 1/4, 1/2 at x == y == z)"""
    g = s2sad.grad(extreme_of_three, wrt=(0, 1, 2), mode=mode)
    assert g(1.0, 1.0, 1.0) == pytest.approx((1.0, 1.0, 1.0))
    assert g(0.5, 0.3, 0.9) == pytest.approx((0.0, 2.0, 1.0))
    assert g(0.5, 0.9, 0.9) == pytest.approx((2.0, 0.5, 0.5))
