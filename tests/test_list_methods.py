"""``lst.extend(seq)``, ``lst.insert(i, v)`` and ``lst.reverse()`` of a list the function
builds, holding values that carry derivatives: the normal form lowers them to the appends
and item stores the passes differentiate (``Normalizer.list_method``). Gradients in
reverse and forward mode, ``jvp`` and hessians against central finite differences, in
loops and through a helper of the user's; the lists they leave; the cases that stay
refused, located.
"""

from __future__ import annotations

import copy
import inspect
import math

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

H = 1e-5
POINTS = [(1.5, 2.0), (-0.7, 0.3), (0.4, -1.1)]


def extend_display(x, y):
    out = [x]
    out.extend([y, x * y])
    s = 0.0
    for v in out:
        s = s + v * v
    return s


def reverse_three(x, y):
    out = [x, y, x * y]
    out.reverse()
    return out[0] * 2.0 + out[2] * out[1]


def insert_middle(x, y):
    out = [x, y]
    out.insert(1, x * y)
    return out[1] * 3.0 + out[2] * out[0]


def extend_other_list(x, y):
    a = [x * x, y]
    out = [y]
    out.extend(a)
    return out[0] * out[1] + out[2] * x


def extend_tuple(x, y):
    t = (x, math.sin(y))
    out = []
    out.extend(t)
    out.extend(t)
    return out[0] * out[3] + out[1] * out[2]


def extend_generator(x, y):
    out = [x]
    out.extend(v * y for v in [x, y, 2.0] if v != 2.0 or y > 0.0)
    s = 0.0
    for v in out:
        s = s + v * v
    return s


def extend_generator_reading_the_list(x, y):
    out = [x, y]
    out.extend(out[-1] * x for _ in range(3))     # each item reads the one before
    return out[-1] + out[2] * y


def extend_comprehension_reading_the_list(x, y):
    out = [x]
    out.extend([out[-1] * v for v in (x, y)])     # made before the list grows
    return out[1] * out[2] + out[0]


def extend_display_reading_the_list(x, y):
    out = [x]
    out.extend([y * y, out[-1] * 2.0, len(out) * x])
    return out[1] * out[2] + out[3] * y


def extend_itself(x, y):
    out = [x, x * y]
    out.extend(out)
    return out[0] * out[3] + out[2] * y


def extend_array_items(x, y):
    v = np.array([x, y, x * y])
    out = [x]
    out.extend(v)
    return out[1] * out[2] + out[3] * out[0]


def lists_of_arrays(x, y):
    v = np.array([x, y])
    out = [v]
    out.extend([v * x, v * y])
    out.reverse()
    out.insert(1, v * v)
    s = 0.0
    for a in out:
        s = s + np.sum(a * a)
    return s


def insert_at_ends(x, y):
    out = [x, y, x * y]
    out.insert(-1, y * y)
    out.insert(-10, x)                # before the first
    out.insert(100, 3.0 * y)          # after the last
    return out[0] * out[1] + out[3] * out[2] + out[5] * out[4]


def small_lists(x, y):
    out = []
    out.reverse()
    out.extend([])
    out.append(x * y)
    out.reverse()
    out.insert(0, x)
    return out[0] * out[1]


def lists_of_lists(x, y):
    out = [[x], [y]]
    out.insert(1, [x * y])
    out.reverse()
    out.extend([[y * y, x]])
    return out[0][0] * out[1][0] + out[3][0] * out[3][1] + out[2][0]


def extend_by_zip_slice_and_values(x, y):
    a = [x, y]
    d = {"a": x * y, "b": y * y}
    out = []
    out.extend(zip(a, [y * y, x * 2.0]))
    s = 0.0
    for p, q in out:
        s = s + p * q
    vals = [x]
    vals.extend(d.values())
    vals.extend(vals[1:])
    vals.extend(range(2))
    return s + vals[1] * vals[4] + vals[2] * vals[3] + vals[0] * vals[5]


def in_branches(x, y):
    out = [x]
    if x > 0:
        out.extend([y, y * x])
    else:
        out.insert(0, y)
        out.reverse()
    return sum(out) * out[0]


def generator_of_varying_length(x, y):
    out = []
    for k in range(4):
        out.extend(v * x + y for v in range(k))
    return sum(w * w for w in out) + y * len(out)


def extend_in_a_loop(x, y):
    out = []
    for k in range(3):
        out.extend([x * k, y + x])
    s = 0.0
    for v in out:
        s = s + v * math.cos(v)
    return s


def reverse_in_a_loop(x, y):
    out = []
    for k in range(4):
        out.append(x * k + y)
        out.reverse()
    s = 0.0
    for i, v in enumerate(out):
        s = s + v * v * (i + 1)
    return s


def insert_in_a_loop(x, y):
    out = [y]
    for k in range(4):
        out.insert(k // 2, x * (k + 1) + out[-1])
    s = 0.0
    for i, v in enumerate(out):
        s = s + v * (i + 2.0) * v
    return s


def reverse_in_the_loop_over_it(x, y):
    out = [x, y, x * y]
    s = 0.0
    for v in out:                     # reads the items as the reversals leave them
        s = s + v * out[0]
        out.reverse()
    return s


def all_three_in_a_while_loop(x, y):
    out = [x]
    n = 0
    while n < 3:
        if n % 2:
            out.extend((x * n, y))
        else:
            out.insert(1, y * out[-1])
        out.reverse()
        n += 1
    return sum(v * v for v in out) + out[0] * out[-1]


def extend_in_a_nested_function(x, y):
    out = [x]

    def add(v):
        out.extend([v, v * v])
    add(y)
    add(x * y)
    out.reverse()
    return out[0] * out[-1] + out[2]


def push_pair(lst, a, b):
    lst.extend([a * a, a * b])


def push_all(lst, vs):
    lst.extend(vs)


def push_scaled(lst, a):
    lst.extend(a * k for k in range(3))


def extend_in_helpers(x, y):
    out = [x]
    push_pair(out, x, y)
    push_all(out, [y, x * y])
    push_scaled(out, y)
    s = 0.0
    for v in out:
        s = s + v * v
    return s


def extend_in_a_helper_in_a_loop(x, y):
    out = []
    for k in range(3):
        push_pair(out, x + k, y)
    s = 0.0
    for v in out:
        s = s + math.sin(v)
    return s


def reversed_pair(a, b):
    r = [a * a]
    r.extend([b * a])
    r.reverse()
    return r


def extend_with_a_helper_result(x, y):
    out = [x]
    out.extend(reversed_pair(x, y))
    return out[1] * out[2] + out[0]


FUNCTIONS = [extend_display, reverse_three, insert_middle, extend_other_list, extend_tuple,
             extend_generator, extend_generator_reading_the_list,
             extend_comprehension_reading_the_list, extend_display_reading_the_list,
             extend_itself, extend_array_items, lists_of_arrays, insert_at_ends, small_lists,
             lists_of_lists, extend_by_zip_slice_and_values, in_branches,
             generator_of_varying_length,
             extend_in_a_loop, reverse_in_a_loop, insert_in_a_loop,
             reverse_in_the_loop_over_it, all_three_in_a_while_loop,
             extend_in_a_nested_function, extend_in_helpers,
             extend_in_a_helper_in_a_loop, extend_with_a_helper_result]

# (second order: the split helper's item stores are refused, as for r[0] = ... there)
SECOND_ORDER = [f for f in FUNCTIONS if f is not extend_with_a_helper_result]


def _close(got, want, rtol=1e-5, atol=1e-6):
    return np.allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                       rtol=rtol, atol=atol)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", FUNCTIONS)
def test_gradient_matches_finite_differences(f, mode, point):
    got = s2sad.grad(f, wrt=(0, 1), mode=mode)(*point)
    want = numerical_grad(f, point, (0, 1))
    assert _close(got, want), (got, want, s2sad.source(f, wrt=(0, 1), mode=mode))


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("f", FUNCTIONS)
def test_jvp_matches_finite_differences(f, point):
    x, y = point
    value, tangent = s2sad.jvp(f, wrt=(0, 1))(x, y, 0.6, -0.8)
    want = (f(x + 0.6 * H, y - 0.8 * H) - f(x - 0.6 * H, y + 0.8 * H)) / (2 * H)
    assert value == pytest.approx(f(x, y), rel=1e-12)
    assert tangent == pytest.approx(want, rel=1e-5, abs=1e-6)


def _fd_hessian(f, point):
    g = s2sad.grad(f, wrt=(0, 1), mode="reverse")
    rows = []
    for i in range(2):
        plus, minus = list(point), list(point)
        plus[i] += H
        minus[i] -= H
        rows.append((np.array(g(*plus)) - np.array(g(*minus))) / (2 * H))
    return np.array(rows)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("f", SECOND_ORDER)
def test_hessian_matches_finite_differences(f, point):
    got = np.array(s2sad.hessian(f, wrt=(0, 1))(*point), dtype=float)
    assert _close(got, _fd_hessian(f, point), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("f", [reverse_three, insert_at_ends, insert_in_a_loop,
                               extend_in_a_loop, all_three_in_a_while_loop,
                               extend_in_a_helper_in_a_loop])
def test_second_derivative_every_way(f):
    x, y = 0.8, -0.6
    g = s2sad.grad(f, wrt=0, mode="reverse")
    want = (g(x + H, y) - g(x - H, y)) / (2 * H)
    for outer, inner in [("auto", "auto"), ("forward", "forward"), ("forward", "reverse"),
                         ("reverse", "reverse")]:
        how = s2sad.grad(s2sad.grad(f, wrt=0, mode=inner), wrt=0, mode=outer)
        assert how(x, y) == pytest.approx(want, rel=1e-4, abs=1e-5), (outer, inner)


# -- the lists they leave, the code they become --------------------------------------

def returns_the_list(x, y):
    out = [x, y]
    out.extend(v * 2.0 for v in (x, y))
    out.insert(-2, x * y)
    out.reverse()
    out.insert(0, 7.0)
    out.extend(range(2))
    out.insert(len(out) // 2, y)
    return out, sum(out)


def test_value_and_lists_as_python_leaves_them():
    def f(x, y):
        return returns_the_list(x, y)[1]

    def items(x, y):
        return s2sad.value_and_grad(f, wrt=(0, 1))(x, y)
    for x, y in POINTS:
        value, grads = items(x, y)
        assert value == pytest.approx(f(x, y), rel=1e-14)
        assert _close(grads, numerical_grad(f, (x, y), (0, 1)))


def test_list_of_constants_and_int_items_keep_their_values():
    def f(x, idx_n):
        idx = [0]
        idx.extend(range(1, idx_n))
        idx.reverse()
        idx.insert(1, 5)
        return x * idx[0] + x * x * idx[1] + len(idx)
    for mode in ("reverse", "forward"):
        assert s2sad.grad(f, mode=mode)(0.5, 4) == pytest.approx(3.0 + 2 * 0.5 * 5.0)


def test_generated_code_is_appends_and_item_stores():
    src = s2sad.source(extend_display, wrt=(0, 1))
    assert "out.append(y)" in src and ".extend(" not in src
    src = s2sad.source(insert_middle, wrt=(0, 1))
    assert "insert_index(" in src and ".insert(" not in src
    src = s2sad.source(reverse_three, wrt=(0, 1), mode="forward")
    assert ".reverse()" not in src and "for _i in range(_n // 2):" in src


def test_extend_of_a_list_argument_appends_as_append_does():
    def f(x, L):
        L.extend([x, x * x])
        return sum(L) * x
    for mode in ("reverse", "forward"):
        L = [1.5, -0.5, 2.0]
        got = s2sad.grad(f, wrt=0, mode=mode)(0.7, L)
        assert got == pytest.approx(numerical_grad(lambda t: f(t, [1.5, -0.5, 2.0]), (0.7,)),
                                    rel=1e-6)
    L = [1.5, -0.5, 2.0]
    gx, gL = s2sad.grad(f, wrt=(0, 1))(0.7, L)
    assert gL == pytest.approx([0.7, 0.7, 0.7]) and L == [1.5, -0.5, 2.0]


def test_reverse_of_an_argument_not_carrying_a_derivative_runs_as_written():
    def f(x, L):
        L.reverse()
        return L[0] * x
    L = [1.0, 2.0, 3.0]
    assert s2sad.grad(f, wrt=0)(0.5, L) == 3.0


# -- what stays refused ---------------------------------------------------------------

G = [1.0, 2.0]


def extends_a_global(x, y):
    G.extend([x, y])  # <- refused
    return G[-1] * G[-2]


def reverses_an_argument(x, L):
    L.reverse()  # <- refused
    return L[0] * x


def inserts_into_an_argument(x, L):
    L.insert(0, x * x)  # <- refused
    return L[0] * L[1]


def extends_a_maybe_tuple(x, y, flag):
    out = [x] if flag else (x, y)
    out.extend([y])  # <- refused
    return out[-1] * x


def sorts(x, y):
    v = [x, y * y]
    v.sort()  # <- refused
    return v[0]


def reverses_an_aliased_list(x, y):
    out = [x, y * y]
    b = out  # <- refused
    out.reverse()
    return b[0] * 3.0 + b[1] * x


def extends_the_list_it_iterates(x, y):
    out = [x, y]
    for v in out:
        out.extend([v * v])  # <- refused
        if len(out) > 5:
            break
    return out[-1]


def rev_front(lst):
    lst.reverse()  # <- refused (in the helper: lst is its argument)


def reverses_in_a_helper(x, y):
    out = [x, y, x * y]
    rev_front(out)
    return out[0] * 2.0


def _line(fn, marker="# <- refused"):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, text in enumerate(lines) if marker in text)


REFUSED = [
    (extends_a_global, (0.5, 2.0), 0, ("list method", "G.extend()", "out = list(lst)")),
    (reverses_an_argument, (0.5, [1.0, 2.0]), (0, 1), ("list method", "L.reverse()",
                                                      "out = list(lst)")),
    (inserts_into_an_argument, (0.5, [1.0, 2.0]), (0, 1), ("list method", "L.insert()",
                                                          "out = list(lst)")),
    (extends_a_maybe_tuple, (0.5, 2.0, True), 0, ("list method", "out.extend()",
                                                  "list display")),
    (sorts, (0.5, 2.0), (0, 1), ("lst.sort()", "v.sort()", "sorted(lst)")),
    (reverses_an_aliased_list, (0.5, 2.0), (0, 1), ("second name", "b = out", "copy()")),
    (extends_the_list_it_iterates, (0.5, 2.0), 0, ("changes the length", "for v in list(xs)")),
    (reverses_in_a_helper, (0.5, 2.0), (0, 1), ("list method", "lst.reverse()",
                                                "out = list(lst)")),
]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, args, wrt, words", REFUSED, ids=[r[0].__name__ for r in REFUSED])
def test_refused_with_the_line_and_what_to_do(f, args, wrt, words, mode):
    args = copy.deepcopy(args)
    if mode == "forward":
        if f is reverses_an_argument:
            pytest.skip("along x only, L carries no derivative: L.reverse() runs as written")
        wrt = 0                         # (forward mode: along scalars)
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(f, wrt=wrt, mode=mode)(*args)
    msg = str(info.value)
    assert msg.startswith(f"{__file__}:{_line(rev_front if f is reverses_in_a_helper else f)}:"), msg
    assert "hint:" in msg
    for w in words:
        assert w in msg, (w, msg)
