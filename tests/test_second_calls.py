"""Second derivatives through calls of user functions (split into fwd_g/bwd_g).

The values such a callee records that carry no derivative (a counter, a trip count,
a branch's flag, an integer argument) go on lists of their own, which the caller
passes to fwd_g and bwd_g (``reverse.tape_for``): differentiated again, they came
off the shared tape with a tangent 0.0, which times the derivative of ``y ** i``
along its exponent (nan for ``y < 0``) made the second derivative nan.
"""

import math

import numpy as np
import pytest

import s2sad

H = 1e-5


def counted_powers(y, n):
    i = 0
    while i < n:
        y = y * 0.5 + math.sin(y)
        i = i + 1
    return y ** i


def calls_a_while_loop(x):
    return counted_powers(x, 3) * x


def powers_until_break(y, n):
    i = 0
    for _k in range(10):
        if y > 5.0:
            break
        y = y * 0.5 + math.sin(y)
        i = i + 1
        if i >= n:
            break
    return y ** i


def calls_a_loop_left_by_break(x):
    return powers_until_break(x, 3) * x


def branchy_power(y, n):
    i = 2
    if y < 0:
        i = n
    return y ** i + y


def calls_a_branch(x):
    return branchy_power(x, 3) * x


def outer(y, n):
    return counted_powers(y, n) * y + 1.0


def calls_a_call(x):
    return outer(x, 3) * x


def power_of_argument(y, n):
    return y ** n + y


def calls_with_a_constant(x):
    return power_of_argument(x, 3) * x


def counted_in_the_caller_too(x):
    s = 0.0
    k = 0
    while k < 2:
        s = s + power_of_argument(x, k + 2) * x ** k
        k = k + 1
    return s


FUNCTIONS = [calls_a_while_loop, calls_a_loop_left_by_break, calls_a_branch, calls_a_call,
             calls_with_a_constant, counted_in_the_caller_too]
POINTS = [-1.3, -0.7, -0.2, 0.6, 0.9]


def fd_second(f, x):
    g = s2sad.grad(f, mode="reverse")
    return (g(x + H) - g(x - H)) / (2 * H)


def second_derivatives(f):
    return {
        "grad(grad(f))": s2sad.grad(s2sad.grad(f)),
        "hessian": s2sad.hessian(f),
        "forward over reverse": s2sad.grad(s2sad.grad(f, mode="reverse"), mode="forward"),
        "over grad(f, mode='forward')": s2sad.grad(s2sad.grad(f, mode="forward")),
        "forward over forward": s2sad.grad(s2sad.grad(f, mode="forward"), mode="forward"),
        "reverse over reverse": s2sad.grad(s2sad.grad(f, mode="reverse"), mode="reverse"),
        "reverse over grad": s2sad.grad(s2sad.grad(f), mode="reverse"),
    }


@pytest.mark.parametrize("f", FUNCTIONS)
@pytest.mark.parametrize("x", POINTS)
def test_second_derivative_through_calls(f, x):
    want = fd_second(f, x)
    assert math.isfinite(want)
    for how, d2 in second_derivatives(f).items():
        got = float(d2(x))
        assert got == pytest.approx(want, rel=1e-5, abs=1e-5), how


def power_of_an_argument_passed_on(x, n):
    return power_of_argument(x, n) * x


@pytest.mark.parametrize("x", [-1.3, -0.4, 0.7])
def test_an_integer_argument_of_the_caller_passed_on(x):
    g = s2sad.grad(power_of_an_argument_passed_on, mode="reverse")
    want = (g(x + H, 3) - g(x - H, 3)) / (2 * H)
    assert s2sad.grad(s2sad.grad(power_of_an_argument_passed_on))(x, 3) == \
        pytest.approx(want, rel=1e-5, abs=1e-5)
    assert s2sad.hessian(power_of_an_argument_passed_on)(x, 3) == \
        pytest.approx(want, rel=1e-5, abs=1e-5)


def scaled_powers(y, b):
    i = 0
    k = 1.0
    while i < 3:
        y = y * 0.5 + math.sin(y) * b
        k = k + b * b
        i = i + 1
    return y ** i + k * y


def calls_along_two(x, b):
    return scaled_powers(x, b) * x


@pytest.mark.parametrize("x, b", [(-1.3, 0.3), (-0.6, -0.4), (0.8, 0.5)])
def test_mixed_second_derivative_through_a_call(x, b):
    """Recorded along x, k depends on b only: differentiated along b it has a
    derivative, the counter i still none (they go on different lists)."""
    g = s2sad.grad(calls_along_two, wrt=0, mode="reverse")
    want = (g(x, b + H) - g(x, b - H)) / (2 * H)
    assert s2sad.grad(s2sad.grad(calls_along_two, wrt=0), wrt=1)(x, b) == \
        pytest.approx(want, rel=1e-5, abs=1e-5)
    hess = s2sad.hessian(calls_along_two, wrt=(0, 1))(x, b)
    assert hess[0][1] == pytest.approx(want, rel=1e-5, abs=1e-5)
    assert hess[1][0] == pytest.approx(want, rel=1e-5, abs=1e-5)
    gx = s2sad.grad(calls_along_two, wrt=0, mode="reverse")
    assert hess[0][0] == pytest.approx((gx(x + H, b) - gx(x - H, b)) / (2 * H),
                                       rel=1e-5, abs=1e-5)


def test_the_callee_lists_in_the_generated_code():
    text = s2sad.source(calls_a_while_loop, mode="reverse")
    assert "fwd_counted_powers(x, 3, _tape=_tape, _itape=_itape)" in text
    assert "bwd_counted_powers(x, _tape, _itape)" in text
    split = s2sad.source(counted_powers, output="split")    # a top-level pair: one tape
    assert "_itape" not in split


# -- callees appending to or popping from a list argument (reverse mode) ---------------

def push_square(lst, v):
    lst.append(v * v)


def push_on(lst, v):
    push_square(lst, v + 1.0)          # a list parameter given on
    lst.append(math.sin(v))
    return lst[-1] * v


def pop_two(lst):
    a = lst.pop()
    b = lst.pop()
    return a * b


def uses_two_lists(lst, other, v):
    lst.append(v * other[0])
    return other[-1] * v


def fills_in_a_branch(x, y):
    L = [x]
    if x > 0:
        push_square(L, y)
    else:
        push_square(L, x * y)
    return sum(L) * L[-1]


def fills_in_a_loop(x, y):
    L = [y]
    for i in range(3):
        t = push_on(L, x * i + y)
        L.append(t)
    return sum(L)


def empties_in_a_while_loop(x, y):
    L = [x, y, x * y, y * y, x - y]
    s = 0.0
    while len(L) > 1:
        s = s + pop_two(L)
    return s + L[0]


def fills_one_of_two(x, y):
    L = [x]
    M = [y, x * y]
    r = uses_two_lists(L, M, y)
    return r + sum(L) + sum(M)


def fills_an_array_list(x, y):
    L = [x * y]
    push_square(L, x)
    return float(np.sum(L[0] * L[1]))


LIST_FILLERS = [fills_in_a_branch, fills_in_a_loop, empties_in_a_while_loop, fills_one_of_two]


def fd_gradient(f, x, y, h=1e-6):
    return ((f(x + h, y) - f(x - h, y)) / (2 * h), (f(x, y + h) - f(x, y - h)) / (2 * h))


@pytest.mark.parametrize("f", LIST_FILLERS)
@pytest.mark.parametrize("x, y", [(0.7, -0.3), (-0.8, 1.1)])
def test_gradient_through_callees_filling_a_list(f, x, y):
    """Reverse mode refused them; forward mode gave no tangent to what push_on passed
    on to push_square (the list was its parameter)."""
    want = fd_gradient(f, x, y)
    for mode in ("reverse", "forward", "auto"):
        got = s2sad.grad(f, (0, 1), mode=mode)(x, y)
        assert got == (pytest.approx(want[0], rel=1e-6, abs=1e-8),
                       pytest.approx(want[1], rel=1e-6, abs=1e-8)), mode


def test_gradient_through_a_callee_filling_a_list_of_arrays():
    x, y = np.array([0.3, -0.2, 0.5]), 0.7
    gx, gy = s2sad.grad(fills_an_array_list, (0, 1), mode="reverse")(x, y)
    np.testing.assert_allclose(gx, 3 * y * x * x, rtol=1e-12)
    assert gy == pytest.approx(float(np.sum(x ** 3)), rel=1e-12)


@pytest.mark.parametrize("f", LIST_FILLERS)
def test_second_derivatives_through_callees_filling_a_list(f):
    x, y = 0.7, -0.3
    g = s2sad.grad(f, (0, 1), mode="reverse")
    want = [(g(x + H, y)[k] - g(x - H, y)[k]) / (2 * H) for k in (0, 1)]
    hess = s2sad.hessian(f, (0, 1))(x, y)
    assert [hess[0][0], hess[1][0]] == [pytest.approx(w, rel=1e-5, abs=1e-6) for w in want]
    gx = s2sad.grad(f, 0, mode="reverse")
    want_xx = (gx(x + H, y) - gx(x - H, y)) / (2 * H)
    assert s2sad.grad(s2sad.grad(f, 0, mode="reverse"), 0, mode="reverse")(x, y) == \
        pytest.approx(want_xx, rel=1e-5, abs=1e-6)


def same_list_twice(x, y):
    L = [x, y]
    return uses_two_lists(L, L, y) + sum(L)


def test_the_same_list_for_two_parameters_is_refused_in_reverse_mode():
    with pytest.raises(s2sad.UnsupportedSyntaxError, match="given for two") as info:
        s2sad.grad(same_list_twice, (0, 1), mode="reverse")(0.7, -0.3)
    assert info.value.filename == __file__
    assert info.value.lineno == same_list_twice.__code__.co_firstlineno + 2
    h = 1e-6
    want = ((same_list_twice(0.7 + h, -0.3) - same_list_twice(0.7 - h, -0.3)) / (2 * h))
    assert s2sad.grad(same_list_twice, (0, 1))(0.7, -0.3)[0] == pytest.approx(want, rel=1e-6)


# -- a bwd call whose result is unused still pops what its fwd recorded ---------------

def cubic_sine(a):
    return a * a * math.sin(a)


def pair(a):
    return (math.tanh(a), a * 2.0)


def dead_adjoint_of_a_call(x, y):
    u = cubic_sine(y)
    L = [x * 1.0]
    T = pair(L[0][1])
    x = 0.5 * x + np.array([L[0][1], T[-1], u])
    for _i in range(0):
        L.append(L[-1] * y)
    return np.sum(x) + T[-1] + np.sum(sum(L))


def test_a_call_whose_adjoint_is_unused_still_pops_its_records():
    """Along y only, bwd_pair's result feeds nothing: the clean-up dropped the call,
    so bwd_cubic_sine popped pair's records (a silently wrong gradient)."""
    x, y = np.array([0.3, -0.4, 0.8]), 0.7
    want = (dead_adjoint_of_a_call(x, y + 1e-6) - dead_adjoint_of_a_call(x, y - 1e-6)) / 2e-6
    assert s2sad.grad(dead_adjoint_of_a_call, wrt=1, mode="reverse")(x, y) == \
        pytest.approx(want, rel=1e-6)
    assert "bwd_pair(" in s2sad.source(dead_adjoint_of_a_call, wrt=1, mode="reverse",
                                       args=(x, y))


# -- reverse over reverse: the adjoint of a list the gradient recorded ------------------

def scales_by_a_least_item(x, y):
    L = [y, 0.89]
    for _t in L:
        x = math.tanh(x * min(L, default=-0.25))
    return x + sum(L)


def test_reverse_over_reverse_pops_the_adjoint_of_a_recorded_list():
    """The gradient records the copy list(L) that min(L, default=...) reads on its tape;
    along x the adjoint of that item is unused, and the clean-up dropped the statement
    popping it off the tape's adjoint, leaving the pops after it one item off (a list
    added to a float)."""
    x, y = 0.7, 0.4
    g = s2sad.grad(scales_by_a_least_item, wrt=1, mode="reverse")
    want = (g(x + 1e-6, y) - g(x - 1e-6, y)) / 2e-6
    inner = s2sad.grad(scales_by_a_least_item, wrt=1, mode="reverse")
    assert s2sad.grad(inner, wrt=0, mode="reverse")(x, y) == pytest.approx(want, rel=1e-6)


def scaled_sines(x, a, b):
    j = 0
    s = x
    while j < 2:
        s = s * a + math.sin(s) * b
        j += 1
    return s ** j


def two_arguments_of_one_parameter(x, y):
    return 0.41 * scaled_sines(x, y * 0.5, y + 1.0) + x * y


@pytest.mark.parametrize("x", [-1.3, 0.7])
def test_two_callee_lists_of_one_caller_list_get_lists_of_their_own(x):
    """a and b depend on y only (along x): the callee's lists of a's and b's values
    were both the caller's list of y's, given twice to bwd_scaled_sines, which reverse
    over reverse refused (fuzz 737000051)."""
    y = 0.4
    g = s2sad.grad(two_arguments_of_one_parameter, wrt=0, mode="reverse")
    want = ((g(x + H, y) - g(x - H, y)) / (2 * H), (g(x, y + H) - g(x, y - H)) / (2 * H))
    for k in (0, 1):
        inner = s2sad.grad(two_arguments_of_one_parameter, wrt=0, mode="reverse")
        assert s2sad.grad(inner, wrt=k, mode="reverse")(x, y) == \
            pytest.approx(want[k], rel=1e-5, abs=1e-6)
    text = s2sad.source(two_arguments_of_one_parameter, wrt=0, mode="reverse")
    assert "bwd_scaled_sines(0.41, _tape, _itape, _itape_1, _itape_2)" in text


# -- a callee appending to its list argument and returning it ------------------------
# bwd_g took the adjoint of its result and the list's adjoint after the call under one
# name (``def bwd_g(bL, _tape, bL, L)``: a SyntaxError); differentiated again in reverse
# mode, the list's adjoint after the call went to the list's name at the start of the
# callee, not to the copy of it the loop pops from (an IndexError).

def append_scaled(L, x, n):
    for i in range(n):
        L.append(x * i)
    return L


def append_scaled_no_return(L, x, n):
    for i in range(n):
        L.append(x * i)


def append_through_a_copy(L, x):
    M = L
    M.append(x * x)
    return M


def extend_and_return(L, x, n):
    for i in range(n):
        L.extend([x * i, x + i])
    return L


def append_in_a_while_loop(L, x):
    k = 0
    while k < 3:
        L.append(x * k)
        k += 1
    return L


def pop_then_append(L, x):
    v = L.pop()
    L.append(v * x)
    return L


def rebinds_the_returned_list(x):
    L = [x]
    L = append_scaled(L, x, 3)
    return sum(v * v for v in L)


def reads_both_names(x):
    L = [x]
    M = append_in_a_while_loop(L, x)
    return sum(v * v for v in M) + L[0] * M[1]


def fills_without_return(x):
    L = [x]
    append_scaled_no_return(L, x, 3)
    return sum(v * v for v in L)


def fills_through_a_copy(x):
    L = [x]
    L = append_through_a_copy(L, x)
    return L[0] * L[1]


def extends_twice(x):
    L = [x]
    L = extend_and_return(L, x, 2)
    L = extend_and_return(L, x * x, 1)
    return sum(v * v for v in L)


def pops_and_appends(x):
    L = [x, x * x]
    L = pop_then_append(L, x)
    return L[0] * L[1]


def pop_and_return(L):
    L.pop()
    return L


def pops_in_a_loop(x):
    # forward over reverse: bwd_g's L.append(v) restoring the item gave the tangent
    # list no item (L, a list of the derivative code, was no output of it), so the
    # caller's reverse sweep read the tangent of another item (a wrong hessian)
    L = [x, 2.0 * x, x * x, x * x * x, x + 1.0]
    s = 0.0
    for _k in range(2):
        L = pop_and_return(L)
        s = s + L[-1] * x
    return s


def append_on_even_steps(L, x):
    for i in range(3):
        if i % 2 == 0:
            L.append(x * i)


def fills_on_even_steps(x):
    L = [x]
    append_on_even_steps(L, x)
    return sum(v * v for v in L)


RETURNED_LISTS = [rebinds_the_returned_list, reads_both_names, fills_without_return,
                  fills_through_a_copy, extends_twice, pops_and_appends, pops_in_a_loop,
                  fills_on_even_steps]


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("f", RETURNED_LISTS)
@pytest.mark.parametrize("x", [0.7, -1.3, 2.1])
def test_callees_returning_the_list_they_fill(f, x):
    want = _fd(f, x)
    for mode in ("reverse", "forward"):
        assert s2sad.grad(f, mode=mode)(x) == pytest.approx(want, rel=1e-6, abs=1e-8), mode
    want2 = (s2sad.grad(f, mode="reverse")(x + H) - s2sad.grad(f, mode="reverse")(x - H)) \
        / (2 * H)
    assert s2sad.hessian(f)(x) == pytest.approx(want2, rel=1e-5, abs=1e-6)
    for outer, inner in [("reverse", "reverse"), ("forward", "reverse"), ("reverse", "forward")]:
        try:
            got = s2sad.grad(s2sad.grad(f, mode=inner), mode=outer)(x)
        except s2sad.UnsupportedSyntaxError as exc:
            # reverse over reverse through a loop calling the callee: its list is given
            # to bwd_g for two of its parameters (refused, located)
            assert f is pops_in_a_loop and outer == "reverse", (outer, inner)
            assert "given for two" in str(exc) and exc.filename == __file__
            continue
        assert got == pytest.approx(want2, rel=1e-5, abs=1e-6), (outer, inner)


def appends_to_the_returned_list(x):
    L = [x]
    M = append_scaled(L, x, 2)
    M.append(x * x)
    return sum(v * v for v in L) + M[0]


def appends_to_the_argument_after(x):
    L = [x]
    M = append_scaled(L, x, 2)
    L.append(x * x)
    return sum(v * v for v in M)


@pytest.mark.parametrize("f", [appends_to_the_returned_list, appends_to_the_argument_after])
def test_changing_one_name_of_a_returned_list_is_refused_in_reverse_mode(f):
    # the adjoints kept under the two names were added up at the call: the item
    # appended after it lost its adjoint (3.8 for 5.172), silently
    for run in (lambda: s2sad.grad(f, mode="reverse")(0.7), lambda: s2sad.hessian(f)(0.7)):
        with pytest.raises(s2sad.UnsupportedSyntaxError,
                           match="returns its argument L.*read later") as info:
            run()
        assert info.value.filename == __file__
        assert info.value.lineno == f.__code__.co_firstlineno + 3
        assert "one name for the list" in str(info.value)
    for x in (0.7, -1.3):
        assert s2sad.grad(f, mode="forward")(x) == pytest.approx(_fd(f, x), rel=1e-6)
