"""A method changing its list, dict or array in place (``L.append``, ``L.extend``,
``L.insert``, ``L.reverse``, ``L.sort``, ``d.update``, ``a.__setitem__``, ...) is
differentiated only as a statement of its own. Called anywhere else -- its None
assigned, in a comprehension, a lambda, an and/or, a conditional expression -- or
passed on as a function (``map(L.append, xs)``), the change once ran unseen by the
derivative code (a silent zero or wrong gradient): refused, located
(``normalize._check_mutating_calls``). The statements themselves keep working, as do
a class of the user's own ``append`` and the tape of generated code (hessians).

``sum(xs, start)`` of lists or tuples is a concatenation: differentiated where the start
is a display or a list the function builds (``Normalizer.concatenated``), refused when
the gradient runs otherwise; ``sum`` of numbers is unchanged.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

X = 1.3
MODES = ["reverse", "forward", "auto"]


def _line(fn, marker="# <- refused"):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, text in enumerate(lines) if marker in text)


# ---------------------------------------------------------------------------
# refused: each offending line carries the marker


def assigned(x):
    L = [1.0]
    y = L.append(x * x)  # <- refused  # noqa: F841
    return sum(L)


def inserted_assigned(x):
    L = [1.0]
    y = L.insert(0, x * x)  # <- refused  # noqa: F841
    return sum(L)


def extended_assigned(x):
    L = [1.0]
    y = L.extend([x * x])  # <- refused  # noqa: F841
    return sum(L)


def reversed_assigned(x):
    L = [x, 2.0]
    y = L.reverse()  # <- refused  # noqa: F841
    return 3.0 * L[0]


def sorted_assigned(x):
    L = [3.0, x]
    y = L.sort()  # <- refused  # noqa: F841
    return L[0] * 3.0


def dict_update_assigned(x):
    d = {"a": 1.0}
    y = d.update({"a": x * x})  # <- refused  # noqa: F841
    return d["a"]


def array_setitem_assigned(x):
    a = np.ones(2)
    y = a.__setitem__(0, x * x)  # <- refused  # noqa: F841
    return np.sum(a)


def in_comprehension(x):
    L = [1.0]
    [L.append(v) for v in [x, x * x]]  # <- refused
    return sum(L)


def in_generator(x):
    L = [1.0]
    any(L.append(v) for v in [x, x * x])  # <- refused
    return sum(L)


def mapped(x):
    L = [1.0]
    list(map(L.append, [x, x * x]))  # <- refused
    return sum(L)


def bound_to_a_name(x):
    L = [1.0]
    push = L.append  # <- refused
    push(x * x)
    return sum(L)


def in_lambda(x):
    L = [1.0]
    push = lambda v: L.append(v)  # <- refused  # noqa: E731
    push(x * x)
    return sum(L)


def extend_in_lambda(x):
    L = [1.0]
    push = lambda v: L.extend([v])  # <- refused  # noqa: E731
    push(x * x)
    return sum(L)


def setitem_in_lambda(x):
    L = [1.0, 2.0]
    put = lambda v: L.__setitem__(0, v)  # <- refused  # noqa: E731
    put(x * x)
    return sum(L)


def in_or(x):
    L = [1.0]
    L.append(x) or L.append(x * x)  # <- refused
    return sum(L)


def in_conditional(x):
    L = [1.0]
    L.append(x * x) if x > -10.0 else None  # <- refused
    return sum(L)


def returned_by_nested(x):
    L = [1.0]

    def push(v):
        return L.append(v)  # <- refused

    push(x * x)
    return sum(L)


def iadd_assigned(x):
    L = [1.0]
    y = L.__iadd__([x * x])  # <- refused  # noqa: F841
    return sum(L)


def of_an_argument(x, L):
    y = L.append(x * x)  # <- refused  # noqa: F841
    return sum(L)


REFUSED = [
    (assigned, "L.append(...) whose value is used", "call L.append(...) as a statement"),
    (inserted_assigned, "L.insert(...) whose value is used", "call L.insert(...) as a"),
    (extended_assigned, "L.extend(...) whose value is used", "call L.extend(...) as a"),
    (reversed_assigned, "L.reverse() whose value is used", "call L.reverse() as a"),
    (sorted_assigned, "L.sort() whose value is used", "write L = sorted(L)"),
    (dict_update_assigned, "d.update(...) whose value is used", "call d.update(...) as"),
    (array_setitem_assigned, "a.__setitem__(...) whose value is used",
     "write the store as a statement, a[i] = v"),
    (in_comprehension, "L.append(...) in a list comprehension", "write a for loop"),
    (in_generator, "L.append(...) in a generator expression", "write a for loop"),
    (mapped, "L.append passed on as a function value", "call L.append(...) as a"),
    (bound_to_a_name, "L.append passed on as a function value", "call L.append(...) as a"),
    (in_lambda, "L.append(...) in the body of a lambda", "call L.append(...) as a"),
    (extend_in_lambda, "L.extend(...) in the body of a lambda", "call L.extend(...) as a"),
    (setitem_in_lambda, "L.__setitem__(...) in the body of a lambda", "L[i] = v"),
    (in_or, "L.append(...) as an operand of and/or", "an if statement"),
    (in_conditional, "L.append(...) in a conditional expression", "an if statement"),
    (returned_by_nested, "L.append(...) whose value is used", "call L.append(...) as a"),
    (iadd_assigned, "L.__iadd__(...) whose value is used", "write the update as a "
     "statement, L += v"),
    (of_an_argument, "L.append(...) whose value is used", "call L.append(...) as a"),
]


def _args(f):
    return (X, [1.0, 2.0]) if f is of_an_argument else (X,)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f, what, fix", REFUSED, ids=[r[0].__name__ for r in REFUSED])
def test_refused_with_the_line_and_what_to_do(f, what, fix, mode):
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(f, wrt=0, mode=mode)(*_args(f))
    err = info.value
    msg = str(err)
    assert err.filename == __file__ and err.lineno == _line(f), msg
    assert msg.startswith(f"{__file__}:{_line(f)}:"), msg
    assert "a method changing a list, dict or array in place" in msg
    assert what in msg, msg
    assert "hint:" in msg and fix in msg, msg


def test_the_message_in_full():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(assigned)(X)
    line = _line(assigned)
    assert str(info.value) == (
        f"{__file__}:{line}:9: unsupported construct: a method changing a list, dict or "
        "array in place, called where its value is used or passed on as a function "
        "(L.append(...) whose value is used)\n"
        "    y = L.append(x * x)  # <- refused  # noqa: F841\n"
        "        ^\n"
        "  hint: call L.append(...) as a statement of its own (its value is None); in "
        "place of a comprehension, map(...) or a lambda calling it, write a for loop; in "
        "place of and/or or a conditional expression around it, an if statement")


def test_hessian_refuses_too():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.hessian(in_comprehension)(X)
    assert info.value.lineno == _line(in_comprehension)


# ---------------------------------------------------------------------------
# still differentiated


def statements(x):
    L = [1.0]
    L.append(x * x)
    L.extend([x, 2.0 * x])
    L.insert(0, x * x * x)
    L.reverse()
    d = {"a": 1.0}
    d.update({"a": x * x})
    return L[0] * L[1] + L[-1] * 3.0 + d["a"] * L[2]


def loop_instead_of_comprehension(x):
    L = [1.0]
    for v in [x, x * x]:
        L.append(v)
    if x > -10.0:
        L.append(x * x)
    return L[1] * L[2] + L[3]


def nested_statement(x):
    L = [1.0]

    def push(v):
        L.append(v)

    push(x * x)
    push(x)
    return L[1] * L[2] + L[0]


def pops_as_values(x):
    L = [x, x * x, 3.0]
    y = L.pop()
    z = L.pop()
    return y * z + L[0]


class Stack:
    """A class of the user's own whose methods are named as a list's."""

    def __init__(self):
        self.n = 0

    def append(self, v):
        self.n += 1
        return self.n


def own_append_method(x):
    s = Stack()
    k = s.append(2.0)
    return x * x * k


WORKING = [statements, loop_instead_of_comprehension, nested_statement, pops_as_values,
           own_append_method]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", WORKING, ids=[f.__name__ for f in WORKING])
def test_statements_still_differentiated(f, mode):
    got = s2sad.grad(f, mode=mode)(X)
    want = numerical_grad(f, (X,))
    assert got == pytest.approx(want, rel=1e-6, abs=1e-8)


def test_hessian_of_statements():
    # the generated code holds the tape's own _tape.append / pop: not refused
    got = s2sad.hessian(loop_instead_of_comprehension)(X)
    want = numerical_grad(s2sad.grad(loop_instead_of_comprehension), (X,))
    assert got == pytest.approx(want, rel=1e-5)


# ---------------------------------------------------------------------------
# sum(xs, start) of lists and tuples: concatenation


def sum_displays(x):
    M = sum([[x], [x * x]], [])
    return M[0] + M[1]


def sum_displays_constant_item(x):
    M = sum([[x, 2.0], [x * x]], [])
    return M[2] * M[1] + M[0]


def sum_of_a_name(x):
    rows = [[x, 2.0], [x * x]]
    M = sum(rows, [])
    return M[2] * M[0]


def sum_of_a_generator(x):
    M = sum(([v, v * v] for v in [x, 2.0 * x]), [])
    return M[3] * M[0] + M[1]


def sum_of_tuples(x):
    M = sum(((x,), (x * x, 3.0)), ())
    return M[1] * M[0] + M[2]


def sum_onto_a_list(x):
    acc = [x]
    M = sum([[x * x]], acc)
    return M[1] * M[0]


def sum_start_keyword(x):
    M = sum([[x * x]], start=[x, 1.0])
    return M[2] * M[0] + M[1]


def _concat(rows, acc):
    M = sum(rows, acc)
    return M[1] * M[0]


def sum_in_a_helper(x):
    return _concat([[x * x]], [x]) + _concat(((x * x,),), (x,))


def sum_of_numbers(x):
    return sum([x, x * x]) + sum([x, x * x], 0.0) + sum(v * v for v in [x, 2.0 * x]) \
        + sum([x], start=1.0) + sum([x * x], x)


SUMS = [sum_displays, sum_displays_constant_item, sum_of_a_name, sum_of_a_generator,
        sum_of_tuples, sum_onto_a_list, sum_start_keyword, sum_in_a_helper, sum_of_numbers]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", SUMS, ids=[f.__name__ for f in SUMS])
def test_sum_of_lists_is_concatenation(f, mode):
    got = s2sad.grad(f, mode=mode)(X)
    want = numerical_grad(f, (X,))
    assert got == pytest.approx(want, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("f", [sum_displays_constant_item, sum_of_a_name])
def test_hessian_of_sum_of_lists(f):
    got = s2sad.hessian(f)(X)
    want = numerical_grad(s2sad.grad(f), (X,))
    assert got == pytest.approx(want, rel=1e-5)


START = [1.0]


def sum_onto_a_global(x):
    M = sum([[x * x]], START)  # <- refused
    return M[1] * M[0] + M[1]


def sum_onto_a_list_maybe(x):
    acc = [x] if x > 0 else [2.0]
    M = sum([[x * x]], acc)  # <- refused
    return M[1] * M[0]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_sum_onto_a_global_list_refused(mode):
    with pytest.raises(s2sad.RuleLimitError) as info:
        s2sad.grad(sum_onto_a_global, mode=mode)(X)
    msg = str(info.value)
    assert info.value.lineno == _line(sum_onto_a_global), msg
    assert "sum(xs, start) of lists or tuples (a concatenation)" in msg
    assert "sum(rows, [])" in msg


def test_sum_onto_a_list_not_surely_one():
    # reverse mode refuses; forward mode adds the tangents of both lists, as it should
    with pytest.raises(s2sad.RuleLimitError) as info:
        s2sad.grad(sum_onto_a_list_maybe, mode="reverse")(X)
    assert info.value.lineno == _line(sum_onto_a_list_maybe)
    got = s2sad.grad(sum_onto_a_list_maybe, mode="forward")(X)
    assert got == pytest.approx(numerical_grad(sum_onto_a_list_maybe, (X,)), rel=1e-6)
