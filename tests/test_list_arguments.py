"""A list argument not differentiated along that receives values carrying derivatives:
appended to by the function itself (``L.append(x * x)``) or by a user function it is
given to (``push(L, x)``), read afterwards by the output (``sum(L)``). Both modes once
got it wrong: reverse mode ran the callee without its adjoint (a silent 0.0), forward
mode read an undefined tangent ``dL`` (``NameError``). A global list given to such a
callee is refused, located at the call.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import pytest

import s2sad

G = [1.0, 2.0]


def push(lst, v):
    lst.append(v * v)


def push_shifted(lst, v):
    push(lst, v + 1.0)


def through_call(x, L):
    push(L, x)
    return sum(L)


def inline(x, L):
    L.append(x * x)
    return sum(L)


def call_in_loop(x, L):
    for i in range(3):
        push(L, x * i)
    return sum(L)


def inline_in_loop(x, L):
    for i in range(3):
        L.append(x * L[i])
    return sum(L)


def two_levels(x, L):
    push_shifted(L, x)
    return sum(L)


def local_list(x):
    L = [1.0, 2.0]
    push(L, x)
    return sum(L)


def reads_items(x, L):
    push(L, x)
    return L[-1] * L[0] + x


def pushes_twice(x, L):
    push(L, x)
    push(L, L[-1])
    return sum(L)


def pushes_sin(x, L):
    push(L, np.sin(x))
    return L[-1] * x


def global_list(x):
    push(G, x)      # <- refused
    r = sum(G)
    G.pop()
    return r


def global_two_levels(x):
    push_shifted(G, x)      # <- refused
    r = sum(G)
    G.pop()
    return r


def push_global(v):
    G.append(v * v)


def callee_appends_global(x):
    push_global(x)      # <- refused
    r = sum(G)
    G.pop()
    return r


def reads_list(v, idx):
    return v * idx[0]


def list_only_read(x, idx):
    return reads_list(x, idx) + x


def reads_global(v, C):
    return v * C[0]


def global_read_only(x):
    return reads_global(x, G) + x


CASES = [
    (through_call, [1.0, 2.0]),
    (inline, [1.0, 2.0]),
    (call_in_loop, [1.0, 2.0]),
    (inline_in_loop, [1.0, 2.0]),
    (two_levels, [1.0, 2.0]),
    (reads_items, [1.0, 2.0]),
    (pushes_twice, [1.5]),
    (pushes_sin, [3.0]),
]


def central(fn, x, rest, h=1e-6):
    # fn appends to its list: a fresh copy for each evaluation
    return (fn(x + h, *copy.deepcopy(rest)) - fn(x - h, *copy.deepcopy(rest))) / (2 * h)


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("fn, lst", CASES, ids=[c[0].__name__ for c in CASES])
@pytest.mark.parametrize("x", [0.7, -1.3, 2.1])
def test_gradient_along_the_scalar(fn, lst, mode, x):
    given = list(lst)
    got = s2sad.grad(fn, wrt=0, mode=mode)(x, given)
    assert got == pytest.approx(central(fn, x, (lst,)), rel=1e-6, abs=1e-8)
    # the caller's list is left as the function leaves it, or as it was: never
    # appended to twice, never with other values
    after = list(lst)
    fn(x, after)
    assert given in (after, lst)


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_local_list(mode, x):
    got = s2sad.grad(local_list, wrt=0, mode=mode)(x)
    assert got == pytest.approx(central(local_list, x, ()), rel=1e-6)


@pytest.mark.parametrize("fn", [through_call, inline, two_levels])
def test_along_both_arguments(fn):
    # along the list too (reverse mode): the gradient of the scalar was 0.0 through a call
    x, lst = 0.7, [1.0, 2.0]
    gx, gl = s2sad.grad(fn, wrt=(0, 1))(x, list(lst))
    assert gx == pytest.approx(central(fn, x, (lst,)), rel=1e-6)
    assert gl == pytest.approx([1.0] * len(lst))


@pytest.mark.parametrize("fn, lst", [(through_call, [1.0, 2.0]), (inline, [1.0, 2.0]),
                                     (pushes_sin, [3.0])])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_hessian(fn, lst, x):
    h = 1e-4
    want = (central(fn, x + h, (lst,)) - central(fn, x - h, (lst,))) / (2 * h)
    got = s2sad.hessian(fn, wrt=0)(x, list(lst))
    assert np.asarray(got).reshape(()) == pytest.approx(want, rel=1e-4, abs=1e-6)


def _line(fn, marker="# <- refused"):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, text in enumerate(lines) if marker in text)


@pytest.mark.parametrize("fn", [global_list, global_two_levels])
@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_global_list_filled_by_a_callee_is_refused(fn, mode):
    before = list(G)
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(fn, wrt=0, mode=mode)(0.7)
    msg = str(info.value)
    assert msg.startswith(f"{__file__}:{_line(fn)}:")
    assert "changes a global list" in msg and "G" in msg
    assert "hint:" in msg
    assert G == before


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_global_list_only_read_by_a_callee(mode):
    assert s2sad.grad(global_read_only, wrt=0, mode=mode)(0.7) == pytest.approx(2.0)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_callee_appending_to_a_global_is_refused(mode):
    before = list(G)
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(callee_appends_global, wrt=0, mode=mode)(0.7)
    msg = str(info.value)
    assert msg.startswith(f"{__file__}:{_line(callee_appends_global)}:")
    assert "G.append(v * v)" in msg and "hint:" in msg
    assert G == before


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_list_only_read_by_the_callee_gets_no_tangent(mode):
    assert s2sad.grad(list_only_read, wrt=0, mode=mode)(0.7, [2, 3]) == pytest.approx(3.0)
    src = s2sad.source(list_only_read, wrt=0, mode=mode, args=(0.7, [2, 3]))
    assert "didx" not in src and "bidx" not in src


@pytest.mark.parametrize("fn", [through_call, inline, call_in_loop, two_levels])
@pytest.mark.parametrize("inner", ["reverse", "auto"])
def test_grad_of_grad(fn, inner):
    x, lst, h = 0.7, [1.0, 2.0], 1e-4
    want = (central(fn, x + h, (lst,)) - central(fn, x - h, (lst,))) / (2 * h)
    given = list(lst)
    got = s2sad.grad(s2sad.grad(fn, wrt=0, mode=inner), wrt=0, mode="reverse")(x, given)
    assert got == pytest.approx(want, rel=1e-4)
    assert given == lst


# a local list made by a call (list(p), sorted(p), a concatenation), not a display,
# given to a function that appends to it: the appended value's derivative was lost
# (a zero gradient, silently)

def copied_then_pushed(x, p):
    r = list(p)
    push(r, x * 2.0)
    return r[-1] + r[0] * x


def sorted_then_pushed(x, p):
    r = sorted(p)
    push_shifted(r, x)
    return sum(r) * x


def concatenated_then_pushed(x, p):
    r = list(p) + [x]
    push(r, x)
    return r[-1] * r[-2]


def pushed_in_a_loop(x, rows):
    s = 0.0
    for row in rows:
        r = list(row)
        push(r, x * row[1])
        s = s + r[-1] * r[0]
    return s


@pytest.mark.parametrize("fn, other", [(copied_then_pushed, (1.5, -0.5)),
                                       (sorted_then_pushed, [2.0, -1.0, 0.5]),
                                       (concatenated_then_pushed, (0.25,)),
                                       (pushed_in_a_loop, [(0.5, 1.0), (1.5, -2.0)])])
@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_a_list_made_by_a_call_and_filled_by_a_callee(fn, other, mode, x):
    got = s2sad.grad(fn, wrt=0, mode=mode)(x, copy.deepcopy(other))
    assert got == pytest.approx(central(fn, x, (other,)), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("fn, other", [(copied_then_pushed, (1.5, -0.5)),
                                       (pushed_in_a_loop, [(0.5, 1.0), (1.5, -2.0)])])
def test_a_list_made_by_a_call_and_filled_by_a_callee_hessian(fn, other):
    x, h = 0.7, 1e-4
    want = (central(fn, x + h, (other,)) - central(fn, x - h, (other,))) / (2 * h)
    got = s2sad.hessian(fn, wrt=0)(x, copy.deepcopy(other))
    assert np.asarray(got).reshape(()) == pytest.approx(want, rel=1e-4, abs=1e-6)


def comprehension_then_pushed(x, p):
    r = [v * 1.0 for v in p]
    push(r, x * 5.0)
    return r[-1] * r[0]


def method_copy_then_pushed(x, p):
    r = p.copy()
    push(r, x * 5.0)
    return r[-1] + r[0]


def alias_then_pushed(x, p):
    r = list(p)
    q = r
    push(q, x * 4.0)        # <- refused
    return r[-1]


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_a_comprehension_filled_by_a_callee(mode, x):
    other = [1.5, -0.5]
    got = s2sad.grad(comprehension_then_pushed, wrt=0, mode=mode)(x, list(other))
    assert got == pytest.approx(central(comprehension_then_pushed, x, (other,)), rel=1e-6)


@pytest.mark.parametrize("x", [0.7, -1.3])
def test_a_copy_filled_by_a_callee(x):
    # p.copy() of a list is a list (as list(p)), filled by the callee: both modes get
    # it right (reverse mode refused it when p.copy() was taken for an array)
    other = [1.5, -0.5]
    want = central(method_copy_then_pushed, x, (other,))
    for mode in ("forward", "reverse"):
        got = s2sad.grad(method_copy_then_pushed, wrt=0, mode=mode)(x, list(other))
        assert got == pytest.approx(want, rel=1e-6)
    assert s2sad.grad(method_copy_then_pushed, wrt=1)(x, list(other)) == [1.0, 0.0]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_second_name_of_a_list_filled_by_a_callee_is_refused(mode):
    with pytest.raises(s2sad.S2SADError):
        s2sad.grad(alias_then_pushed, wrt=0, mode=mode)(0.7, [1.5, -0.5])


def list_in_a_tuple_pushed(x):
    t = ([1.0], 2.0)
    push(t[0], x * 3.0)     # <- refused
    return t[0][-1]


def list_in_a_dict_pushed(x):
    d = {"xs": [1.0]}
    push(d["xs"], x * 3.0)  # <- refused
    return d["xs"][-1]


def list_pushed_then_held(x):
    r = [1.0]
    push(r, x * 3.0)
    t = (r, 2.0)
    return t[0][-1] * t[1]


@pytest.mark.parametrize("fn", [list_in_a_tuple_pushed, list_in_a_dict_pushed])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_callee_filling_a_list_held_in_a_container_is_refused(fn, mode):
    # its derivative did not reach the reads of the container: a silent zero gradient
    with pytest.raises(s2sad.UnsupportedSyntaxError, match="list held in a tuple") as info:
        s2sad.grad(fn, mode=mode)(0.7)
    assert info.value.lineno == _line(fn)


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_the_hint_for_a_list_held_in_a_container_works(mode):
    x = 0.7
    got = s2sad.grad(list_pushed_then_held, mode=mode)(x)
    assert got == pytest.approx(central(list_pushed_then_held, x, ()), rel=1e-6)


class _Buffer:
    def __init__(self):
        self.items = [1.0]
        self.log = []


def attribute_list_appended_and_read(x, b):
    b.items.append(x * 3.0)     # <- refused
    v = b.items[-1]
    b.items.pop()
    return v


def attribute_list_only_logged(x, b):
    y = x * x
    b.log.append(y)             # written, never read again here: its derivative is unused
    return y * 2.0


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_list_attribute_appended_to_and_read_again_is_refused(mode):
    # its derivative did not reach the read through the attribute: a silent zero
    with pytest.raises(s2sad.UnsupportedSyntaxError, match="an attribute") as info:
        s2sad.grad(attribute_list_appended_and_read, mode=mode)(0.7, _Buffer())
    assert info.value.lineno == _line(attribute_list_appended_and_read)


@pytest.mark.parametrize("mode", ["reverse", "forward", "auto"])
def test_a_list_attribute_used_as_a_log_still_works(mode):
    b = _Buffer()
    assert s2sad.grad(attribute_list_only_logged, mode=mode)(0.7, b) == pytest.approx(2.8)
