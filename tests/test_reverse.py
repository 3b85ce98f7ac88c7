"""Behaviour of the generated code itself: source, tracebacks, tape, cache, shape of the text."""

from __future__ import annotations

import inspect
import linecache
import math
import os
import re
import sys
import traceback

import numpy as np
import pytest
from corpus import (
    CASES,
)
from gradcheck import assert_grad_matches, numerical_grad

import s2sad
from s2sad import api


def generated(func, *args, wrt=0, output="grad", mode=None):
    """The compiled generated function of ``output(func, wrt)`` specialized on ``args``
    (reverse mode, or ``mode='forward'``)."""
    params = list(inspect.signature(func).parameters)
    kinds = {p: api.kind_of(a) for p, a in zip(params, args)}
    wrt_tuple = isinstance(wrt, tuple)
    idx = wrt if wrt_tuple else (wrt,)
    return api.compiled(func, idx, wrt_tuple, output, kinds, mode=mode).function


# ---------------------------------------------------------------------------
# Functions used below (module level, so their source is readable)


def divide(x, y):
    return x / y + x


def log_of(x):
    return math.log(x) * 2.0


def root(x):
    return math.sqrt(x) + x


def power_loop(x, n):
    p = 1.0
    for _ in range(n):
        p = p * x
    return p


def sine_loop(x, n):
    s = x
    for _ in range(n):
        s = math.sin(s) * x
    return s + 0.0


def newton(a):
    x = a
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x * 1.0


def straight(x, y):
    a = x * y
    b = math.sin(a) + x
    c = b * b - y / x
    return c + a


def arrays(W, x):
    return np.sum(np.tanh(W @ x) * x[0])


# ---------------------------------------------------------------------------
# The generated function is a real, inspectable Python function


def test_getsource_of_generated_function():
    fn = generated(straight, 1.0, 2.0, wrt=(0, 1))
    text = inspect.getsource(fn)
    assert text.startswith("def grad_straight(x, y):")
    assert text == s2sad.source(straight, wrt=(0, 1))
    assert fn.__code__.co_filename == inspect.getsourcefile(fn)
    assert os.path.basename(fn.__code__.co_filename).startswith("grad_straight")
    # every line the code object knows is a line of the text
    lines = text.splitlines()
    for lineno in range(fn.__code__.co_firstlineno, fn.__code__.co_firstlineno + len(lines)):
        assert linecache.getline(fn.__code__.co_filename, lineno).rstrip("\n") \
            == lines[lineno - 1]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_grad_function_source_attribute_matches_generated(mode):
    g = s2sad.grad(sine_loop, mode=mode)
    g(0.5, 3)
    assert g.source == inspect.getsource(generated(sine_loop, 0.5, 3, mode=mode))
    assert ("_tape" in g.source) == (mode == "reverse")


def _last_frame(exc):
    return traceback.extract_tb(exc.__traceback__)[-1]


@pytest.mark.parametrize("func, args, exc_type, needle", [
    (divide, (1.0, 0.0), ZeroDivisionError, "x / y"),         # forward sweep
    (log_of, (-1.0,), ValueError, "math.log(x)"),              # math domain error
    (root, (0.0,), ZeroDivisionError, "/ (2.0 * "),            # reverse sweep of sqrt at 0
], ids=["zero-division-forward", "math-domain", "zero-division-reverse"])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_traceback_points_into_generated_code(func, args, exc_type, needle, mode):
    fn = generated(func, *args, mode=mode)
    with pytest.raises(exc_type) as info:
        s2sad.grad(func, mode=mode)(*args)
    frame = _last_frame(info.value)
    assert frame.filename == fn.__code__.co_filename
    assert frame.name == f"grad_{func.__name__}"
    line = linecache.getline(frame.filename, frame.lineno)
    assert needle in line
    assert frame.line == line.strip()
    assert needle in "".join(traceback.format_exception(info.value))


# ---------------------------------------------------------------------------
# No state between calls


def _locals_at_return(gf, code, *args):
    """Call ``gf(*args)``; return its value and the generated frame's locals on return."""
    seen = []

    def local(frame, event, arg):
        if event == "return":
            seen.append(dict(frame.f_locals))
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code is code else None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        value = gf(*args)
    finally:
        sys.settrace(old)
    assert len(seen) == 1, "the generated function was not called exactly once"
    return value, seen[0]


@pytest.mark.parametrize("func, args", [
    (power_loop, (1.3, 4)), (sine_loop, (0.5, 5)), (newton, (2.0,)),
], ids=["for", "for-sin", "while"])
def test_tape_is_empty_after_a_call(func, args):
    fn = generated(func, *args)
    assert "_tape" in fn.__code__.co_varnames
    _, frame_locals = _locals_at_return(s2sad.grad(func, mode="reverse"), fn.__code__, *args)
    assert frame_locals["_tape"] == []


def test_repeated_and_interleaved_calls_agree():
    g = s2sad.grad(sine_loop)
    first = [g(0.5, 5), g(-0.3, 2), g(0.9, 0)]
    second = [g(0.9, 0), g(0.5, 5), g(-0.3, 2)]
    assert first == [second[1], second[2], second[0]]
    assert first[2] == 1.0
    fresh = s2sad.grad(sine_loop)
    assert fresh(-0.3, 2) == first[1]


def test_cache_reuses_compiled_function():
    g1 = s2sad.grad(root, mode="reverse")
    g1(2.0)
    size = len(api._CACHE)
    fn = generated(root, 2.0)
    g2 = s2sad.grad(root, mode="reverse")
    assert g2(3.0) == g1(3.0)
    assert len(api._CACHE) == size
    assert generated(root, 5.0) is fn
    assert s2sad.source(root) == inspect.getsource(fn)
    assert len(api._CACHE) == size


def weighted(x, y):
    return np.sum(x * y) / y + np.sum(x)


def test_cache_separates_kinds_and_wrt():
    a = generated(weighted, 1.0, 2.0, wrt=0)
    b = generated(weighted, 1.0, 2.0, wrt=1)
    c = generated(weighted, np.ones(2), 2.0, wrt=0)
    assert a is not b and a is not c and b is not c
    assert "sum_adjoint" in inspect.getsource(c)
    assert s2sad.grad(weighted)(1.0, 2.0) == pytest.approx(2.0)
    assert s2sad.grad(weighted, wrt=1)(1.0, 2.0) == pytest.approx(0.0)
    np.testing.assert_allclose(s2sad.grad(weighted)(np.ones(2), 2.0), [2.0, 2.0])
    assert generated(weighted, np.zeros(2), 3.0, wrt=0) is c


# ---------------------------------------------------------------------------
# Shape of the generated text, checked over the whole corpus


def _is_scalar_case(c):
    """Scalar arguments only, in the groups of plain scalar code: the "applied" functions
    of scalar arguments use arrays inside (global arrays, np.linspace, np.meshgrid) or
    items of lists and dicts, divmod and math.dist, whose kinds s2sad does not infer."""
    return c.tag.split("/")[0] != "applied" \
        and all(not isinstance(a, np.ndarray) for p in c.points for a in p)


def _source(c):
    return s2sad.source(c.func, wrt=c.wrt, args=c.points[0])


STRAIGHT_GROUPS = {"line", "math", "builtin", "branch"}
SCALAR_CASES = [
    pytest.param(c, id=c.tag)
    for c in CASES if _is_scalar_case(c)]
STRAIGHT_CASES = [pytest.param(c, id=c.tag) for c in CASES
                  if c.tag.split("/")[0] in STRAIGHT_GROUPS]
BRANCH_FREE_CASES = [pytest.param(c, id=c.tag) for c in CASES
                     if c.tag.split("/")[0] in {"line", "math", "builtin"}]
ALL_CASES = [pytest.param(c, id=c.tag) for c in CASES]


@pytest.mark.parametrize("c", SCALAR_CASES)
def test_scalar_code_has_no_unbroadcast(c):
    text = _source(c)
    assert "unbroadcast" not in text, text


@pytest.mark.parametrize("c", STRAIGHT_CASES)
def test_loop_free_code_has_no_tape(c):
    text = _source(c)
    assert "_tape" not in text, text
    assert "for " not in text and "while " not in text, text


@pytest.mark.parametrize("func", [power_loop, sine_loop, newton], ids=lambda f: f.__name__)
def test_loop_code_records_and_restores_on_tape(func):
    text = s2sad.source(func)
    assert "_tape = []" in text
    assert "_tape.append(" in text
    assert "_tape.pop()" in text
    # the pop happens in the reverse sweep, after every append
    assert text.rindex("_tape.append(") < text.index("_tape.pop()")


_ASSIGN = re.compile(r"^(\s*)(\w+) = (.*)$")


def _zero_then_accumulate(text):
    """Lines ``bx = 0.0`` directly followed by ``bx = bx + ...`` (a pointless zero)."""
    lines = text.splitlines()
    bad = []
    for a, b in zip(lines, lines[1:]):
        ma, mb = _ASSIGN.match(a), _ASSIGN.match(b)
        if not (ma and mb) or ma.group(1) != mb.group(1) or ma.group(2) != mb.group(2):
            continue
        target = ma.group(2)
        if ma.group(3) in ("0.0", "0") and re.match(rf"{target} [-+] ", mb.group(3)):
            bad.append(f"{a.strip()} / {b.strip()}")
    return bad


@pytest.mark.parametrize("c", ALL_CASES)
def test_no_adjoint_zeroed_then_accumulated(c):
    text = _source(c)
    assert _zero_then_accumulate(text) == [], text


@pytest.mark.parametrize("c", BRANCH_FREE_CASES)
def test_straight_line_adjoints_are_assigned_before_accumulated(c):
    """Without branches or loops, the first contribution to each adjoint is an assignment."""
    text = _source(c)
    guards = re.compile(r"^\s*if [\w.]+ <= 0:$")     # a math.log domain check, nothing more
    assert all(guards.match(line) for line in text.splitlines() if "if " in line), text
    defined = set()
    for line in text.splitlines()[1:]:
        m = _ASSIGN.match(line)
        if not m:
            continue
        target, value = m.group(2), m.group(3)
        if re.match(rf"{target} [-+] ", value):
            assert target in defined, f"{target} accumulated before assignment:\n{text}"
        assert value != "0.0" or not target.startswith("b"), text
        defined.add(target)


def test_zero_then_accumulate_detector():
    assert _zero_then_accumulate("    bx = 0.0\n    bx = bx + by * 2.0\n") \
        == ["bx = 0.0 / bx = bx + by * 2.0"]
    assert _zero_then_accumulate("    bx = 0.0\n    for _ in range(n):\n"
                                 "        bx = bx + by\n") == []
    assert _zero_then_accumulate("    bx = 0.0\n    by = by + bx\n") == []


def test_array_code_uses_array_helpers():
    text = s2sad.source(arrays, wrt=(0, 1), args=(np.ones((2, 3)), np.ones(3)))
    assert "matmul_adjoint_a" in text and "matmul_adjoint_b" in text
    assert_grad_matches(arrays, (np.arange(6.0).reshape(2, 3) / 7.0, np.array([0.5, -1.0, 2.0])),
                        wrt=(0, 1))


# ---------------------------------------------------------------------------
# Minimal reproductions of known bugs (strict xfail: they flip when fixed)


def ifexp_else(x):
    a = x * 2.0 if x > 0.0 else x + 1.0
    return a


def test_fixed_conditional_expression_else_branch():
    # UnboundLocalError: cannot access local variable '_t1'
    assert s2sad.grad(ifexp_else)(-1.0) == 1.0


def zero_trip_target(x, n):
    i = 0
    for i in range(n):  # noqa: B007 (read after the loop)
        x = x * 2.0
    return x * i + x


def test_fixed_loop_target_after_zero_trip_loop():
    assert zero_trip_target(1.0, 0) == 1.0
    # UnboundLocalError: cannot access local variable 'i_1'
    assert s2sad.grad(zero_trip_target)(1.0, 0) == 1.0


def zero_trip_matrix(W, x, n):
    for _ in range(n):
        x = W @ x
    return np.sum(x)


def test_fixed_zero_trip_loop_array_gradient_type():
    gW = s2sad.grad(zero_trip_matrix)(np.eye(2), np.ones(2), 0)
    assert isinstance(gW, np.ndarray) and gW.shape == (2, 2)   # got the float 0.0


def const_loop(x):
    s = 0.0
    for c in (1.0, 2.0):
        s = s * x + c
    return s


def test_fixed_scalar_loop_over_constant_tuple_uses_unbroadcast():
    assert s2sad.grad(const_loop)(3.0) == 1.0
    assert "unbroadcast" not in s2sad.source(const_loop)


def test_fixed_value_and_grad_of_loop_returns_wrong_value():
    value, g = s2sad.value_and_grad(power_loop)(2.0, 3)
    assert g == 12.0
    assert value == 8.0     # got 1.0: the value of p before the first iteration


def _damped(c, L, theta0, steps):
    theta, omega = theta0, 0.0
    for _ in range(steps):
        theta, omega = theta + 0.01 * omega, omega - 0.01 * (c * omega + 9.81 / L
                                                            * math.sin(theta))
    return theta


@pytest.mark.parametrize("L, steps", [(0.0, 0), (2.0, 0), (2.0, 1), (1.5, 40)])
def test_a_loop_invariant_is_read_from_the_forward_loop_not_computed_again(L, steps):
    """9.81 / L is the same in every iteration: the reverse loop reads the value the
    forward loop left. Computed again before the reverse loop, it raised
    ZeroDivisionError for L = 0 with no iteration, where the function returns theta0."""
    g = s2sad.grad(_damped, (0, 1), mode="reverse")
    got = g(0.1, L, 0.3, steps)
    if steps == 0:
        assert got == (0.0, 0.0)
    else:
        want = numerical_grad(_damped, (0.1, L, 0.3, steps), (0, 1))
        assert got == (pytest.approx(want[0], rel=1e-6), pytest.approx(want[1], rel=1e-6))
    assert g.source.count("9.81 / L") == 1, g.source


def appended_then_summed(x):
    vals = []
    for i in range(len(x)):
        vals.append(x[i] ** 2 * x[i - 1])
    return np.sum(vals) + np.sum([np.sin(v) for v in x])


def test_numpy_rule_over_a_list_grown_by_append():
    """np.sum(vals) gives the adjoint of the list as one array: popping the items'
    adjoints off it raised AttributeError ('numpy.ndarray' object has no attribute
    'pop') from the generated code."""
    x = np.array([0.3, -0.7, 1.1])
    assert_grad_matches(appended_then_summed, (x,))
    s2sad.check_grads(appended_then_summed, (x,), order=1)


def pairs_in_a_loop(x, y):
    s = 0.0
    for t in (x, y):
        for a, b in ((y, x), (0.5, t)):
            s = s + a * b * t
    return s


@pytest.mark.parametrize("x, y", [(0.5, 0.7), (-1.2, 0.3), (2.0, -1.5)])
def test_reverse_over_forward_through_a_tuple_of_pairs_built_in_a_loop(x, y):
    """Found by the fuzzer (tuples, second order): differentiating the generated code
    again, the adjoint of the sequence of pairs has an unknown kind; its item's
    adjoint was accumulated with ``b[0] += g`` into the 0.0 that stands for a pair's
    zero: TypeError (float += list) from the generated code."""
    # s = y x^2 + 0.5 x^2 + x y^2 + 0.5 y^2: ds/dy = x^2 + 2 x y + y, d2s/dxdy = 2 x + 2 y
    g = s2sad.grad(s2sad.grad(pairs_in_a_loop, wrt=1, mode="forward"), wrt=0,
                   mode="reverse")
    assert g(x, y) == pytest.approx(2 * x + 2 * y, rel=1e-12)
    h = s2sad.hessian(pairs_in_a_loop, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(np.array(h), [[2 * y + 1, 2 * x + 2 * y],
                                             [2 * x + 2 * y, 2 * x + 1]], rtol=1e-12)


def comprehension_in_each_branch(x, y):
    items = [x, y]
    if x > 5.0:
        return sum([y * o for o in items])
    return sum([x * o for o in items])


@pytest.mark.parametrize("x, y", [(0.3, 0.5), (6.0, 0.5), (-2.0, 1.5)])
def test_split_pair_records_no_name_of_one_branch_at_its_end(x, y):
    """Found by the fuzzer (lists, jacobian of grad): the forward function of a split
    pair (vjp, jacobian by rows, calls of your functions in reverse mode) recorded at
    its end the names the zero pads of a branch read, though one branch alone defines
    them (_seq of a comprehension): UnboundLocalError on either path."""
    want = (y, x + 2 * y) if x > 5.0 else (2 * x + y, x)
    _, pullback = s2sad.vjp(comprehension_in_each_branch, wrt=(0, 1))(x, y)
    assert pullback(1.0) == (pytest.approx(want[0]), pytest.approx(want[1]))
    jx, jy = s2sad.jacobian(comprehension_in_each_branch, wrt=(0, 1))(x, y)
    assert (float(jx), float(jy)) == (pytest.approx(want[0]), pytest.approx(want[1]))


def popped_in_a_loop_of_its_own(x, n):
    st = []
    y = x
    for _i in range(n):
        st.append(y)
        y = y * x
    for _j in range(n):
        st.pop()
    return y


@pytest.mark.parametrize("x, n", [(0.5, 2), (0.5, 1), (-1.3, 3), (0.7, 0)])
def test_a_loop_that_only_pops_is_reversed_too(x, n):
    """Found by the fuzzer (lists, grad of grad): a loop popping a list and computing
    nothing with a derivative had no reverse, so the reverse of the loop appending to
    the list popped it again: IndexError (pop from empty list) in reverse mode, and in
    every second derivative through a gradient whose reverse loop only pops its tape."""
    want = (n + 1) * x ** n
    assert s2sad.grad(popped_in_a_loop_of_its_own, mode="reverse")(x, n) == pytest.approx(want)
    second = s2sad.grad(s2sad.grad(popped_in_a_loop_of_its_own, mode="reverse"),
                        mode="reverse")(x, n)
    assert second == pytest.approx((n + 1) * n * x ** (n - 1) if n else 0.0)


def _inner_while_may_not_run(x, y, n):
    for i in range(n):
        j = 0
        while j < 4 and y > 0.5:
            j = j + 1
            x = 0.5 * x + math.sin(1.68 + 0.25 * y * (0.3 * i))
        x = math.tanh(x)
    return x


def _inner_range_may_be_empty(x, y, n):
    for i in range(n):
        for _k in range(n - 1):
            x = x + 9.81 / y * i + math.sin(0.25 * y * (0.3 * i))
        x = math.tanh(x)
    return x


@pytest.mark.parametrize("f", [_inner_while_may_not_run, _inner_range_may_be_empty])
@pytest.mark.parametrize("y, n", [(0.2, 1), (0.2, 2), (0.9, 1), (0.9, 3), (0.0, 1)])
def test_invariants_hoisted_out_of_an_inner_loop_that_may_not_run(f, y, n):
    """Fuzz 623000005: the reverse sweep recomputed the inner loop's invariants before
    the inner reverse loop, reading a value (0.25 * y) the forward inner loop computed:
    UnboundLocalError when it ran no iteration (or 9.81 / y with y = 0, which the
    function never computes). They run only where the inner loop ran."""
    if y == 0.0 and f is _inner_while_may_not_run:
        return
    got = s2sad.grad(f, wrt=(0, 1), mode="reverse")(0.3, y, n)
    h = 1e-6
    want = ((f(0.3 + h, y, n) - f(0.3 - h, y, n)) / (2 * h),
            (f(0.3, y + h, n) - f(0.3, y - h, n)) / (2 * h) if y else 0.0)
    assert got == pytest.approx(want, rel=1e-6, abs=1e-8)
