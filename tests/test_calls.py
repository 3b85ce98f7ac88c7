"""Calls to the user's own functions: module-level helpers, helpers imported from
another module, keyword arguments and defaults, helpers calling helpers, helpers in
loops, closures and module globals, and the errors for recursion and nested defs.
"""

from __future__ import annotations

import functools
import inspect
import math
import os

import helpers_module
import numpy as np
import pytest
from gradcheck import assert_grad_matches, numerical_grad
from helpers_module import (
    chain,
    fills_a_list,
    layer,
    norm2,
    poly_eval,
    smooth_step,
    softplus,
)

import s2sad
from s2sad import api

HERE = os.path.abspath(__file__)
RATE = 0.25          # a module global constant read by differentiated code


def rand(seed, *shape):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def line_of(func, text):
    """The line number in this file of the first line of ``func`` containing ``text``."""
    import inspect
    lines, start = inspect.getsourcelines(func)
    for k, line in enumerate(lines):
        if text in line:
            return start + k
    raise AssertionError(f"{text!r} not in {func.__name__}")


def split_entries(func):
    """Keys of the compiled forward/backward pairs of ``func`` in the cache."""
    return [k for k in api._CACHE if k[0] is func and k[3] == "split"]


# ---------------------------------------------------------------------------
# Module-level helpers


def square_plus_sin(x):
    return x * x + math.sin(x)


def uses_helper(x, y):
    return square_plus_sin(x * y) * y


def weighted(x, w=2.0, shift=0.0):
    return w * x * x + shift * x


def uses_kwargs(x, y):
    return weighted(x, shift=y) + weighted(y, w=x) + weighted(x)


def uses_positional_defaults(x, y):
    return weighted(x, y) + weighted(x, 0.5, y * y)


def twice(x):
    return math.exp(-x * x)


def calls_twice(x, y):
    a = twice(x)
    b = twice(y * x)
    return a * b + a


def inner(x):
    return math.sin(x) * x


def middle(x, y):
    return inner(x) * inner(y) + x


def outer(x, y):
    return middle(x + y, x) * 2.0 - inner(y)


def step(s, x):
    return s * math.cos(x) + x * x


def helper_in_loop(x, n):
    s = 1.0
    for k in range(n):
        s = step(s, x * (k + 1))
    return s


def helper_in_while(x):
    s = x
    k = 0
    while s < 5.0 and k < 30:
        s = step(s, 0.5) + x
        k += 1
    return s


def branchy(x):
    if x > 0.0:
        return math.sqrt(x)
    return -x * x


def helper_with_returns(x, y):
    return branchy(x) + branchy(y) * branchy(x * y)


def first_above(v, t):
    for i in range(len(v)):
        if v[i] > t:
            return v[i] * t
    return t


def array_helper_loop(v, t):
    return first_above(v, t) + first_above(v * v, t)


def normalize(v):
    return v / np.sqrt(np.sum(v * v))


def uses_array_helper(v, w):
    u = normalize(v)
    return np.dot(u, w) + np.sum(normalize(w) * u)


def in_place_helper(a, x):
    a[0] = a[0] * x
    a[1] += x
    return np.sum(a * a)


def calls_in_place_helper(v, x):
    b = v * 1.0
    return in_place_helper(b, x) + np.sum(b)


def halves(x):
    return x * 0.5, x - x * 0.5


def uses_tuple_helper(x):
    a, b = halves(x * x)
    c, d = halves(a + math.sin(b))
    return c * d + a


@pytest.mark.parametrize("x,y", [(0.3, 0.7), (-1.2, 0.4), (2.0, -0.5)])
def test_module_level_helper(x, y):
    g = assert_grad_matches(uses_helper, (x, y), wrt=(0, 1))
    u = x * y
    du = 2 * u + math.cos(u)
    assert g == pytest.approx((du * y * y, du * x * y + u * u + math.sin(u)), rel=1e-12)


@pytest.mark.parametrize("x,y", [(0.3, 0.7), (-1.2, 0.4), (2.0, -0.5)])
def test_keyword_arguments_and_defaults(x, y):
    g = assert_grad_matches(uses_kwargs, (x, y), wrt=(0, 1))
    # 2x^2 + y x + x y^2 + 2 x^2
    assert g == pytest.approx((8 * x + y + y * y, x + 2 * x * y), rel=1e-12)


@pytest.mark.parametrize("x,y", [(0.3, 0.7), (-1.2, 0.4), (2.0, -0.5)])
def test_positional_arguments_over_defaults(x, y):
    assert_grad_matches(uses_positional_defaults, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("x,y", [(0.3, 0.7), (-1.2, 0.4), (2.0, -0.5)])
def test_helper_called_twice(x, y):
    assert_grad_matches(calls_twice, (x, y), wrt=(0, 1))
    assert_grad_matches(calls_twice, (x, y), wrt=0)
    assert_grad_matches(calls_twice, (x, y), wrt=1)


def test_helper_called_twice_is_compiled_once():
    s2sad.grad(calls_twice, wrt=(0, 1))(0.3, 0.4)
    entries = split_entries(twice)
    assert len(entries) == 1, entries
    src = s2sad.source(calls_twice, wrt=(0, 1))
    body = src.split("\n", 1)[1]
    assert body.count("fwd_twice(") == 2, src
    assert body.count("bwd_twice(") == 2, src
    # a second function calling the same helper with the same kinds reuses the pair
    s2sad.grad(helper_with_returns)(0.5, 0.5)
    s2sad.grad(uses_helper)(0.5, 0.5)
    s2sad.grad(calls_twice, wrt=1)(0.7, 0.2)
    assert len(split_entries(twice)) == 1


@pytest.mark.parametrize("x,y", [(0.3, 0.7), (-1.2, 0.4), (2.0, -0.5)])
def test_helpers_calling_helpers(x, y):
    assert_grad_matches(outer, (x, y), wrt=(0, 1))


def test_helpers_calling_helpers_compiled_once_each():
    s2sad.grad(outer, wrt=(0, 1))(0.2, 0.9)
    assert len(split_entries(middle)) == 1
    # inner is called (with one active scalar) from outer and twice from middle
    assert len(split_entries(inner)) == 1
    src = s2sad.source(middle, wrt=(0, 1))
    assert src.count("fwd_inner(") == 2 and src.count("bwd_inner(") == 2, src


@pytest.mark.parametrize("x", [0.3, -0.8, 1.3])
@pytest.mark.parametrize("n", [0, 1, 4])
def test_helper_inside_for_loop(x, n):
    assert_grad_matches(helper_in_loop, (x, n))


@pytest.mark.parametrize("x", [0.3, 1.1, 3.0, 6.0])
def test_helper_inside_while_loop(x):
    assert_grad_matches(helper_in_while, (x,))


@pytest.mark.parametrize("x,y", [(0.5, 2.0), (-0.5, 2.0), (0.5, -2.0), (-0.7, -0.4)])
def test_helper_with_early_returns(x, y):
    assert_grad_matches(helper_with_returns, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("t", [0.1, 0.5, 0.95])
def test_array_helper_with_loop_and_return(t):
    v = np.array([0.2, 0.6, 0.4, 0.9])
    assert_grad_matches(array_helper_loop, (v, t), wrt=(0, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_array_helper_returning_array(seed):
    assert_grad_matches(uses_array_helper, (rand(seed, 4), rand(seed + 3, 4)), wrt=(0, 1))


def test_helper_writing_into_its_argument_is_rejected():
    # the caller would see the write; s2sad does not model writes across calls, so it
    # says so at the helper's first write instead of computing a wrong gradient
    v = rand(0, 3)
    before = v.copy()
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(calls_in_place_helper, wrt=(0, 1))(v, 0.3)
    line = inspect.getsourcelines(in_place_helper)[1] + 1
    assert str(info.value).startswith(f"{HERE}:{line}:")
    assert "writing into its argument" in str(info.value)
    assert "hint:" in str(info.value)
    np.testing.assert_array_equal(v, before)


@pytest.mark.parametrize("x", [0.3, -0.8, 1.3])
def test_helper_returning_tuple(x):
    assert_grad_matches(uses_tuple_helper, (x,))


# ---------------------------------------------------------------------------
# Helpers imported from another module of the user


def uses_imported(x, y):
    return smooth_step(x, width=y) + softplus(x * y) * smooth_step(y)


def uses_module_attribute(x):
    return helpers_module.scaled(x) + helpers_module.softplus(-x)


def uses_imported_arrays(w, v):
    h = layer(w, v, bias=0.1)
    return norm2(h) + poly_eval([1.0, -2.0, 0.5], np.sum(v))


def uses_imported_chain(x):
    return chain(x) * x


@pytest.mark.parametrize("x,y", [(0.3, 0.7), (-1.2, 0.4), (2.0, 1.5), (25.0, 1.0)])
def test_imported_helper(x, y):
    assert_grad_matches(uses_imported, (x, y), wrt=(0, 1))


@pytest.mark.parametrize("x", [0.3, -1.2, 2.0])
def test_imported_module_attribute(x):
    g = assert_grad_matches(uses_module_attribute, (x,))
    sig = 1.0 / (1.0 + math.exp(x))
    assert g == pytest.approx(2 * helpers_module.SCALE * x - sig, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_imported_array_helpers(seed):
    assert_grad_matches(uses_imported_arrays, (rand(seed, 3, 4), rand(seed + 1, 4)), wrt=(0, 1))


@pytest.mark.parametrize("x", [0.3, -1.2, 2.0])
def test_imported_helper_calling_helpers(x):
    assert_grad_matches(uses_imported_chain, (x,))


def test_imported_helper_source_names_it():
    src = s2sad.source(uses_imported, wrt=(0, 1))
    assert "fwd_smooth_step(" in src and "bwd_softplus(" in src


# ---------------------------------------------------------------------------
# Closures and module globals


def make_scaler(k):
    def scaler(x):
        return k * x * x + math.sin(k * x)
    return scaler


scale3 = make_scaler(3.0)
scale_half = make_scaler(0.5)


def make_power(p):
    def power_sum(x):
        s = 0.0
        for i in range(len(x)):
            s = s + x[i] ** p
        return s
    return power_sum


cubes = make_power(3)


def calls_closure(x):
    return scale3(x) + scale_half(x * x)


def reads_global(x):
    s = x
    for _ in range(3):
        s = s - RATE * (s * s - 2.0)
    return s


def calls_global_reader(x):
    return reads_global(x) * RATE + helpers_module.SCALE * x


@pytest.mark.parametrize("x", [0.3, -1.2, 2.0])
def test_closure_over_constant(x):
    g = assert_grad_matches(scale3, (x,))
    assert g == pytest.approx(6 * x + 3 * math.cos(3 * x), rel=1e-12)
    g = assert_grad_matches(scale_half, (x,))
    assert g == pytest.approx(x + 0.5 * math.cos(0.5 * x), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closure_with_loop(seed):
    x = rand(seed, 4)
    g = assert_grad_matches(cubes, (x,))
    np.testing.assert_allclose(g, 3 * x * x, rtol=1e-12)


@pytest.mark.parametrize("x", [0.3, -1.2, 2.0])
def test_closure_called_as_helper(x):
    assert_grad_matches(calls_closure, (x,))


@pytest.mark.parametrize("x", [0.3, 1.2, 1.9])
def test_module_global_constant(x):
    assert_grad_matches(reads_global, (x,))
    assert_grad_matches(calls_global_reader, (x,))


# ---------------------------------------------------------------------------
# Errors: recursion, nested def, lambda


def fact(x, n):
    if n <= 1:
        return x
    return x * fact(x, n - 1)


def ping(x, n):
    if n <= 0:
        return x
    return pong(x * 2.0, n - 1)


def pong(x, n):
    return ping(x + 1.0, n) * 0.5


def calls_recursive(x):
    return fact(x, 3) + x


def nested_def(x):
    def sq(t):
        return t * t
    return sq(x) + x


def uses_lambda(x):
    f = lambda t: t * 3.0
    return f(x) * x


@pytest.mark.parametrize("func,text", [
    (fact, "x * fact(x, n - 1)"),
    (ping, "return pong("),
])
def test_recursion_raises(func, text):
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(func)(1.5, 3)
    err = info.value
    assert "recursive call" in err.message
    assert err.filename == HERE
    assert "rewrite the recursion as a loop" in err.hint
    msg = str(err)
    assert msg.startswith(f"{HERE}:{err.lineno}")
    if func is fact:
        assert err.lineno == line_of(fact, text)
        assert text in msg
    else:
        # mutual recursion is detected at one of the two call sites
        assert err.lineno in (line_of(ping, "return pong("), line_of(pong, "return ping("))


def test_recursion_in_a_helper_raises():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(calls_recursive)(1.5)
    assert "recursive call" in info.value.message
    assert info.value.filename == HERE
    assert info.value.lineno == line_of(fact, "x * fact(x, n - 1)")


def test_recursion_error_leaves_no_state_behind():
    """After a recursion error, other functions still compile (the in-progress stack is clean)."""
    with pytest.raises(s2sad.UnsupportedSyntaxError):
        s2sad.grad(fact)(1.5, 3)
    assert s2sad.grad(uses_helper)(0.5, 2.0) == pytest.approx(
        s2sad.grad(uses_helper)(0.5, 2.0))
    with pytest.raises(s2sad.UnsupportedSyntaxError):
        s2sad.grad(fact)(1.5, 3)


@pytest.mark.parametrize("func,analytic", [
    (nested_def, lambda x: 2.0 * x + 1.0),
    (uses_lambda, lambda x: 6.0 * x),
])
@pytest.mark.parametrize("x", [1.5, -0.4, 2.2])
def test_nested_def_and_lambda_are_inlined(func, analytic, x):
    assert s2sad.grad(func)(x) == pytest.approx(analytic(x), rel=1e-12)
    assert_grad_matches(func, (x,))


def closure_counter(x, n):
    scale = 0.5

    def step(v, k=1.0):
        if v > 2.0:
            return v * scale
        return v * v * k + x

    s = x
    for i in range(n):
        s = step(s, k=0.5 + 0.1 * i)
    return s


@pytest.mark.parametrize("x", [0.3, 0.9, -0.6])
def test_nested_function_with_closure_loop_and_early_return(x):
    assert_grad_matches(closure_counter, (x, 4))


def defaults_at_definition(x):
    total = 0.0
    for k in range(3):
        def term(v, k=k):               # the loop's k, the parameter's name
            return v ** (k + 1) / (k + 1)
        total += term(x)
    c = x

    def scaled(v, s=c * 2.0, *, t=c):  # evaluated here, before c changes
        return v * s + t
    c = 100.0
    power = lambda v, k=k: v ** k       # noqa: E731
    return total + scaled(x) + scaled(1.0, 3.0, t=0.5) + power(x)


@pytest.mark.parametrize("mode", ["auto", "reverse", "forward"])
@pytest.mark.parametrize("x", [0.3, 1.5, -0.6])
def test_defaults_of_nested_functions_are_evaluated_where_they_are_defined(mode, x):
    """``def term(v, k=k)`` in a loop was TypeError (the default k was renamed with the
    parameter k, so it read itself: None); a default reading a variable the function
    changes later read the later value."""
    got = s2sad.grad(defaults_at_definition, mode=mode)(x)
    assert got == pytest.approx(1.0 + x + x * x + 4.0 * x + 1.0 + 2.0 * x, rel=1e-12)
    assert s2sad.hessian(defaults_at_definition)(x) == pytest.approx(1.0 + 2.0 * x + 6.0)


def nested_recursive(x):
    def g(v):
        return g(v * 0.5) if v > 1.0 else v

    return g(x)


def test_nested_recursion_is_reported():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(nested_recursive)(3.0)
    assert info.value.filename == HERE
    assert info.value.lineno == line_of(nested_recursive, "return g(v * 0.5)")
    assert "recursive call" in str(info.value)


# ---------------------------------------------------------------------------
# A callee that appends to a list argument; the gradient of a gradient that calls
# a function (its tape is such a list)


def wave(u):
    return u * math.sin(u)


def calls_wave(x, y):
    return wave(x * y) * x


@pytest.mark.parametrize("x, y", [(1.5, 2.0), (-0.4, 0.3)])
def test_callee_filling_a_list_argument(x, y):
    # forward mode carries the tangents of what it appends; reverse mode gives the
    # callee's bwd the list's adjoint, from which it pops theirs (it gave 0.0 for d/dx
    # when it took only the adjoint of the result, and then refused)
    assert s2sad.grad(fills_a_list)(x, y) == pytest.approx(2.0 * x)
    want = (pytest.approx(2.0 * x), pytest.approx(1.0))
    assert s2sad.grad(fills_a_list, (0, 1), mode="reverse")(x, y) == want
    assert s2sad.grad(fills_a_list, (0, 1), mode="forward")(x, y) == want
    assert s2sad.grad(fills_a_list, (0, 1))(x, y) == want


def d_calls_wave(x, y):
    u = x * y
    return (math.sin(u) + u * math.cos(u)) * y * x + u * math.sin(u)


@pytest.mark.parametrize("x, y", [(0.7, 1.3), (-1.1, 0.4)])
def test_gradient_of_a_gradient_that_calls_a_function(x, y):
    h = 1e-6
    want = (d_calls_wave(x + h, y) - d_calls_wave(x - h, y)) / (2 * h)
    assert s2sad.grad(calls_wave)(x, y) == pytest.approx(d_calls_wave(x, y), rel=1e-12)
    # forward over reverse: the default for one scalar argument, and hessian
    assert s2sad.grad(s2sad.grad(calls_wave))(x, y) == pytest.approx(want, rel=1e-6)
    assert s2sad.hessian(calls_wave)(x, y) == pytest.approx(want, rel=1e-6)
    # reverse over reverse: the adjoints of the tape's items go through bwd_bwd_wave
    assert s2sad.grad(s2sad.grad(calls_wave), mode="reverse")(x, y) == \
        pytest.approx(want, rel=1e-6)
    # along both arguments the default falls back to forward over reverse
    gx, gy = s2sad.grad(s2sad.grad(calls_wave), (0, 1))(x, y)
    assert gx == pytest.approx(want, rel=1e-6)
    want_y = (d_calls_wave(x, y + h) - d_calls_wave(x, y - h)) / (2 * h)
    assert gy == pytest.approx(want_y, rel=1e-6)


def _push_as_a_statement(a, b):
    lst = [a]
    helpers_module.pushes_square(lst, b)
    return sum(lst)


def _push_in_a_while_loop(a, b):
    lst = [a]
    i = 0
    while i < 2:
        helpers_module.pushes_square(lst, b)
        i += 1
    return sum(lst)


@pytest.mark.parametrize("f, want", [(_push_as_a_statement, (1.0, 2.6)),
                                     (_push_in_a_while_loop, (1.0, 5.2))])
def test_a_helper_filling_a_list_called_as_a_statement(f, want):
    # every mode (reverse mode gave (1.0, 0.0) in the loop, then refused the call; its
    # bwd is called although its value, None, is unused: it pops the item's adjoint)
    for mode in ("auto", "forward", "reverse"):
        got = s2sad.grad(f, (0, 1), mode=mode)(0.7, 1.3)
        assert got == (pytest.approx(want[0], rel=1e-12), pytest.approx(want[1], rel=1e-12))


def test_a_new_gradient_sees_a_redefined_helper(tmp_path, monkeypatch):
    # the transformed helper was cached by function object: after the helper was
    # redefined, even a new s2sad.grad(f) kept its old derivative (20.0 for 60.0)
    path = tmp_path / "rebinding_module.py"
    path.write_text("def helper(t):\n    return t * t\n\n\n"
                    "def f(x):\n    return helper(x) * 5.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import rebinding_module as m
    assert s2sad.grad(m.f)(2.0) == pytest.approx(20.0)
    assert s2sad.grad(m.f, mode="reverse")(2.0) == pytest.approx(20.0)
    (tmp_path / "rebinding_cube.py").write_text("def helper(t):\n    return t * t * t\n")
    import rebinding_cube
    m.helper = rebinding_cube.helper                # a redefinition
    assert s2sad.grad(m.f)(2.0) == pytest.approx(60.0)
    assert s2sad.grad(m.f, mode="reverse")(2.0) == pytest.approx(60.0)
    m.helper = math.sin
    assert s2sad.grad(m.f)(2.0) == pytest.approx(5.0 * math.cos(2.0))


@s2sad.custom_vjp
def _square_with_a_rule(x):
    return x * x


_square_with_a_rule.defvjp(lambda x: (x * x, x), lambda x, g: (2.0 * g * x,))


def _uses_the_rule(x):
    return _square_with_a_rule(x) * 3.0


@pytest.mark.parametrize("second", [
    lambda f: s2sad.hessian(f),
    lambda f: s2sad.grad(s2sad.grad(f)),
    lambda f: s2sad.grad(s2sad.grad(f, mode="reverse"), mode="reverse"),
], ids=["hessian", "grad-grad", "reverse-reverse"])
def test_second_derivative_through_a_custom_vjp_is_refused(second):
    # the hessian came out 0.0 (the split pair's calls passed as constants)
    assert s2sad.grad(_uses_the_rule)(1.5) == pytest.approx(9.0)
    with pytest.raises(s2sad.MissingRuleError,
                       match="custom_vjp has no second derivative") as info:
        second(_uses_the_rule)(1.5)
    assert info.value.filename == __file__
    assert info.value.lineno == _uses_the_rule.__code__.co_firstlineno + 1


# decorators on the user's function: the code that runs is differentiated


def _doubling(fn):
    @functools.wraps(fn)
    def doubled(x):
        return 2.0 * fn(x)
    return doubled


def _forwarding(fn):
    @functools.wraps(fn)
    def forwarded(*args, **kwargs):
        """Only passes the call on."""
        return fn(*args, **kwargs)
    return forwarded


def _logging(fn):
    @functools.wraps(fn)
    def logged(*args, **kwargs):  # <- L_LOGGED
        result = fn(*args, **kwargs)
        return result
    return logged


@_doubling
def doubled_cube(x):
    return x * x * x


@_forwarding
def forwarded_cube(x, scale=1.0):
    return scale * x * x * x


@functools.lru_cache(maxsize=None)
def cached_cube(x):
    return x * x * x


@_logging
def logged_cube(x):
    return x * x * x


def calls_decorated(x):
    return doubled_cube(x) + forwarded_cube(x, 2.0) + cached_cube(x)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_decorated_functions_differentiated_as_they_run(mode):
    # doubled_cube's wrapper doubles the result: its gradient was once that of the
    # undecorated function (silently half the true one); lru_cache was refused
    x = 1.5
    assert s2sad.grad(doubled_cube, mode=mode)(x) == pytest.approx(6 * x * x)
    assert s2sad.grad(forwarded_cube, mode=mode)(x, scale=2.0) == pytest.approx(6 * x * x)
    assert s2sad.grad(cached_cube, mode=mode)(x) == pytest.approx(3 * x * x)
    assert s2sad.grad(calls_decorated, mode=mode)(x) == pytest.approx(15 * x * x)
    assert s2sad.jvp(doubled_cube)(x, 1.0) == pytest.approx((2 * x ** 3, 6 * x * x))
    assert s2sad.hessian(doubled_cube)(x) == pytest.approx(12 * x)
    assert s2sad.vjp(cached_cube)(x)[1](1.0) == pytest.approx(3 * x * x)


def test_wrapper_doing_more_than_forwarding_is_located():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(logged_cube)(1.5)
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{line_of(_logging, '# <- L_LOGGED')}"), msg
    assert "*args or **kwargs parameter" in msg.splitlines()[0]
    assert "def logged(*args, **kwargs)" in msg and "logged_cube.__wrapped__" in msg


# functools.partial


def partial_base(x, y, scale=1.0):  # <- L_PARTIAL_BASE
    return scale * x * x * y


bound_y = functools.partial(partial_base, y=3.0)
bound_x = functools.partial(partial_base, 2.0)
bound_scale = functools.partial(partial_base, scale=0.5)
bound_dot = functools.partial(np.dot, np.array([1.0, 2.0]))


def calls_partials(x):
    return bound_y(x) + bound_x(x) * x + bound_scale(x, 4.0, scale=2.0)


def calls_numpy_partial(v):
    return bound_dot(v * v)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_call_of_a_partial(mode):
    # a call of a module-level partial was a MissingRuleError ("no derivative rule
    # for bound_y"); it is a call of the function with the bound arguments
    x = 1.5
    # 3 x^2 + 4 x^2 + 8 x^2 (bound_x(x) * x = 2^2 x x)
    got = s2sad.grad(calls_partials, mode=mode)(x)
    assert got == pytest.approx(30 * x)
    v = np.array([0.5, -1.0])
    np.testing.assert_allclose(s2sad.grad(calls_numpy_partial)(v), 2 * v * [1.0, 2.0])


@pytest.mark.parametrize("mode", ["auto", "reverse", "forward"])
@pytest.mark.parametrize("x", [1.5, -0.7])
def test_grad_of_a_partial(mode, x):
    # grad(partial(g, ...)) is grad(g) along the same arguments, the bound ones passed
    # (as jax.grad and autograd take it)
    assert s2sad.grad(bound_y, mode=mode)(x) == pytest.approx(6.0 * x)       # 3 x^2
    assert s2sad.grad(bound_x, mode=mode)(x) == pytest.approx(4.0)           # 4 y
    got = s2sad.grad(bound_scale, wrt=(0, 1), mode=mode)(x, 2.0)             # x^2 y / 2
    assert got == pytest.approx((2.0 * x, 0.5 * x * x))
    assert s2sad.grad(bound_y, mode=mode)(x, scale=2.0) == pytest.approx(12.0 * x)


def test_partial_second_derivatives_and_jacobian():
    assert s2sad.hessian(bound_y)(1.5) == pytest.approx(6.0)
    assert s2sad.grad(s2sad.grad(bound_scale, wrt=1))(1.5, 2.0) == pytest.approx(1.5)
    jac = s2sad.jacobian(bound_x, wrt=0)(np.array([1.0, -2.0]))
    np.testing.assert_allclose(jac, np.diag([4.0, 4.0]))
    value, g = s2sad.value_and_grad(bound_y)(1.5)
    assert (value, g) == pytest.approx((3.0 * 1.5 ** 2, 9.0))


def test_partial_refusals():
    with pytest.raises(s2sad.ArgumentError) as info:
        s2sad.grad(bound_x, wrt=2)          # the partial takes y and scale only
    assert str(info.value).startswith(f"{HERE}:")
    assert "wrt=2 is out of range: functools.partial of partial_base has 2" in str(info.value)
    with pytest.raises(s2sad.SourceUnavailableError) as info:
        s2sad.grad(bound_dot)(np.array([0.5, 1.0]))
    assert "np.dot" in str(info.value) or "dot" in str(info.value)
    with pytest.raises(s2sad.SourceUnavailableError) as info:   # the source of a partial
        s2sad.source(bound_y)
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{line_of(partial_base, '# <- L_PARTIAL_BASE')}"), msg
    assert "functools.partial of partial_base" in msg.splitlines()[0]


# methods of global objects and callable objects


class _Scaler:
    def __init__(self, a):
        self.a = a

    def __call__(self, x):
        return self.a * x

    def square(self, x):
        return self.a * x * x

    @classmethod
    def four(cls, x):
        return 4.0 * x


scaler = _Scaler(3.0)


def calls_an_object(x):
    return scaler(x) * x + scaler.square(x) + _Scaler.four(x)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_call_of_a_method_or_callable_object(mode):
    # were MissingRuleErrors ("no derivative rule for scaler", "... scaler.square")
    global scaler
    x = 1.5
    assert s2sad.grad(calls_an_object, mode=mode)(x) == pytest.approx(12 * x + 4.0)
    saved = scaler
    try:
        scaler = _Scaler(5.0)           # rebound: a new gradient sees the new object
        assert s2sad.grad(calls_an_object, mode=mode)(x) == pytest.approx(20 * x + 4.0)
        scaler.a = 1.0                  # its attributes are read when the code runs
        assert s2sad.grad(calls_an_object, mode=mode)(x) == pytest.approx(4 * x + 4.0)
    finally:
        scaler = saved
    assert s2sad.hessian(calls_an_object)(x) == pytest.approx(12.0)


def test_rebound_partial_seen_by_a_new_gradient():
    global bound_y
    saved = bound_y
    try:
        assert s2sad.grad(calls_partials)(1.5) == pytest.approx(45.0)
        bound_y = functools.partial(partial_base, y=5.0)     # 5 x^2 instead of 3 x^2
        assert s2sad.grad(calls_partials)(1.5) == pytest.approx(51.0)
    finally:
        bound_y = saved


class _Composed:
    """Methods calling methods of self and of an object self holds."""

    def __init__(self, a):
        self.a = a
        self.inner = _Scaler(2.0)

    def __call__(self, x):
        return self.square(x) * 2.0

    def square(self, x):
        return self.a * x * x + self.inner.square(x)


composed = _Composed(3.0)


def calls_a_composed_object(x):
    return composed(x) + composed.square(x) * x


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_methods_of_a_module_level_object_call_methods_of_self(mode):
    # self.square(x) and self.inner.square(x) inside a method of a module-level object
    # were MissingRuleErrors ("no derivative rule for method self.square()")
    x = 1.5
    want = 4 * 5.0 * x + 3 * 5.0 * x * x        # composed(x) = 10 x^2, square x = 5 x^3
    assert s2sad.grad(calls_a_composed_object, mode=mode)(x) == pytest.approx(want)
    assert s2sad.hessian(calls_a_composed_object)(x) == pytest.approx(20.0 + 30.0 * x)


composed_by_keyword = functools.partial(composed.square)
composed_unbound = functools.partial(_Composed.__call__, composed)


def calls_partials_of_methods(x):
    return composed_by_keyword(x) + composed_unbound(x) * x


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_partials_of_methods_of_a_module_level_object(mode):
    # partial(obj.m) was 'no derivative rule for square', partial(C.m, obj) one for
    # 'method self.square()'
    x = 1.5
    want = 2 * 5.0 * x + 3 * 10.0 * x * x       # square x = 5 x^2, composed x = 10 x^2
    assert s2sad.grad(calls_partials_of_methods, mode=mode)(x) == pytest.approx(want)


def diffuse(u):
    u[1:-1] += 0.1 * (u[2:] - 2 * u[1:-1] + u[:-2])
    return u


def steps_in_place(u0):
    u = u0.copy()
    for _ in range(3):
        diffuse(u)                       # the result is dropped: u is changed in place
    return np.sum(u ** 2)


def fill_from(buf, v):
    buf[1] = v


def filled(x):
    buf = np.zeros(3)
    fill_from(buf, x[0] * 2.0)
    return np.sum(buf * x)


def set_constants(buf):
    buf[0] = 1.0
    buf[2] = 3.0


def constants_filled(x):
    buf = np.zeros(3)
    set_constants(buf)
    return np.sum(buf * x)


def test_helper_storing_into_its_argument_called_for_its_effect():
    """diffuse(u) as a statement changes u, read later: the derivatives do not follow
    the store (the gradient came out wrong, silently); refused at the call. A store of
    values carrying no derivative (constants) is run as it is."""
    for f, call in ((steps_in_place, "diffuse(u)"), (filled, "fill_from(buf, x[0] * 2.0)")):
        with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
            s2sad.grad(f)(rand(0, 5))
        lines, first = inspect.getsourcelines(f)
        line = first + next(i for i, text in enumerate(lines) if call in text)
        assert str(info.value).startswith(f"{HERE}:{line}:"), str(info.value)
        assert "updates its argument" in str(info.value) and "in place" in str(info.value)
    x = rand(1, 3)
    np.testing.assert_allclose(s2sad.grad(constants_filled)(x), [1.0, 0.0, 3.0])


GLOBAL_BUF = np.zeros(2)
GLOBAL_STATE = {"h": 0.0}


def store_global(v):
    GLOBAL_BUF[1] = v


def calls_store_global(x):
    store_global(x * 3.0)
    return GLOBAL_BUF[1] * x


def writes_global_itself(x):
    GLOBAL_BUF[0] = x * 2.0
    GLOBAL_STATE["h"] = x * x
    return GLOBAL_BUF[0] * x + GLOBAL_STATE["h"]


def test_stores_into_globals():
    """A function storing into a global array or dict is differentiated in both modes
    (forward mode gave the global's tangent no start: a NameError); a call of a function
    that stores into a global, whose store the caller does not see, is refused at the
    call where an argument carries a derivative (the gradient was silently wrong)."""
    for mode in ("forward", "reverse"):
        assert s2sad.grad(writes_global_itself, mode=mode)(1.5) == pytest.approx(4 * 1.5 + 3.0)
        with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
            s2sad.grad(calls_store_global, mode=mode)(1.5)
        line = inspect.getsourcelines(calls_store_global)[1] + 1
        assert str(info.value).startswith(f"{HERE}:{line}:"), str(info.value)
        assert "writing into a global" in str(info.value) and "GLOBAL_BUF" in str(info.value)


def read_global_buf():
    return GLOBAL_BUF[0] * 3.0


def stores_then_calls(x):
    GLOBAL_BUF[0] = x * 2.0
    return read_global_buf() * x


def test_call_reading_a_global_the_caller_stored_into():
    """The callee takes GLOBAL_BUF as a constant: the derivative of x * 2.0 stored into
    it was lost (9.0 for 18.0); refused at the call."""
    for mode in ("forward", "reverse"):
        with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
            s2sad.grad(stores_then_calls, mode=mode)(1.5)
        line = inspect.getsourcelines(stores_then_calls)[1] + 2
        assert str(info.value).startswith(f"{HERE}:{line}:"), str(info.value)
        assert "reads GLOBAL_BUF" in str(info.value)
    assert s2sad.grad(read_global_buf_scaled)(1.5) == pytest.approx(GLOBAL_BUF[0] * 3.0)


def read_global_buf_scaled(x):
    return read_global_buf() * x


# ---------------------------------------------------------------------------
# *args parameters: the code is made per number of items (a parameter per item, the
# tuple built from them at the top of the body)


def sum_squares(*xs):
    s = 0.0
    for v in xs:
        s = s + v * v
    return s


def scaled_sum(scale, *ws):
    return scale * sum(w * w for w in ws)


def first_last(a, *rest, k=2.0):
    return a * k + len(rest) * rest[0] * rest[-1]


def passes_on(scale, *xs):
    # *xs spread again, whole and sliced
    return scale * sum_squares(*xs) + sum_squares(*xs[1:]) * xs[0]


def weighted_items(*vs):
    s = 0.0
    for i, v in enumerate(vs):
        s = s + (i + 1.0) * v
    return s * vs[0] + max(vs)


def calls_varargs(x, y):
    return sum_squares(x, y, x * y) + scaled_sum(y) + scaled_sum(x, y, 2.0)


def spreads_tuples(x, y):
    pair = (x, y)
    return scaled_sum(x, *pair) + sum_squares(*[x, 2.0]) + scaled_sum(2.0, x, *pair[::-1])


def varargs_keywords_and_chains(x, y):
    return first_last(x, y, x, k=y) + first_last(y, x) + passes_on(x, y, x * y, 3.0) \
        + weighted_items(y, x) + weighted_items(x)


def nested_varargs(x, y):
    def inner(*zs):
        return zs[0] * zs[1] + len(zs) * zs[-1]
    return inner(x, y, 1.0) * x + inner(y, x)


VARARG_CALLERS = [calls_varargs, spreads_tuples, varargs_keywords_and_chains, nested_varargs]


@pytest.mark.parametrize("f", VARARG_CALLERS)
@pytest.mark.parametrize("x, y", [(1.5, 0.7), (-0.3, 1.9), (0.8, -1.1)])
def test_varargs_callee(f, x, y):
    """helper(x, y, x * y) of a helper with *xs (was refused: "*args or **kwargs
    parameter"), in both modes and the hessian, against central differences."""
    assert_grad_matches(f, (x, y), wrt=(0, 1))
    for mode in ("forward", "reverse"):
        got = s2sad.grad(f, wrt=(0, 1), mode=mode)(x, y)
        assert got == pytest.approx(numerical_grad(f, (x, y), (0, 1)), rel=1e-6, abs=1e-6)
    h = s2sad.hessian(f, wrt=(0, 1))(x, y)
    g = s2sad.grad(f, wrt=(0, 1))
    for i in range(2):
        want = numerical_grad(lambda a, b, i=i: g(a, b)[i], (x, y), (0, 1))
        assert np.allclose(h[i], want, rtol=1e-5, atol=1e-5)


def sums_array_items(*arrays):
    return sum(np.sum(a * a) for a in arrays)


def calls_with_arrays(a, x):
    return sums_array_items(a, a * x) + sums_array_items() * x


@pytest.mark.parametrize("seed", [0, 1])
def test_varargs_callee_with_arrays(seed):
    a, x = rand(seed, 3), float(rand(seed + 10))
    assert_grad_matches(calls_with_arrays, (a, x), wrt=(0, 1))
    t = rand(seed + 20, 3)
    _, dot = s2sad.jvp(calls_with_arrays, wrt=0)(a, x, t)
    assert dot == pytest.approx(float(np.dot(numerical_grad(calls_with_arrays, (a, x), 0), t)))
    assert s2sad.hessian(calls_with_arrays, wrt=1)(a, x) == pytest.approx(2.0 * np.sum(a * a))


def test_varargs_callee_made_per_count():
    """One specialization per number of items, each run with its own count."""
    s2sad.grad(calls_varargs, wrt=(0, 1))(1.5, 0.7)
    counts = {dict(k[4]).get("*ws") for k in api._CACHE if k[0] is scaled_sum}
    assert {"0", "2"} <= counts


# *args of the function given to grad: wrt counts the positional arguments as passed


def top_varargs(*xs):
    return xs[0] * xs[1] * xs[2] + sum(v * v for v in xs)


def top_scaled(scale, *ws, k=1.0):
    return scale * sum(w * w for w in ws) * k


@pytest.mark.parametrize("args", [(1.0, 2.0, 3.0), (-0.5, 0.3, 1.7, 2.2)])
def test_varargs_of_the_differentiated_function(args):
    wrt = tuple(range(len(args)))
    assert_grad_matches(top_varargs, args, wrt=wrt)
    want = numerical_grad(top_varargs, args, wrt)
    assert s2sad.grad(top_varargs, wrt=wrt, mode="forward")(*args) == pytest.approx(want)
    assert s2sad.grad(top_varargs, wrt=2)(*args) == pytest.approx(want[2])
    tangents = (1.0, -2.0)
    _, dot = s2sad.jvp(top_varargs, wrt=(0, 1))(*args, *tangents)
    assert dot == pytest.approx(want[0] - 2.0 * want[1])
    h = s2sad.hessian(top_varargs, wrt=(0, 1))(*args)
    assert np.allclose(h, [[2.0, args[2]], [args[2], 2.0]])
    assert s2sad.grad(s2sad.grad(top_varargs, wrt=1), wrt=0)(*args) == pytest.approx(args[2])
    value, pullback = s2sad.vjp(top_varargs, wrt=(0, 2))(*args)
    assert value == pytest.approx(top_varargs(*args))
    assert pullback(1.0) == pytest.approx((want[0], want[2]))
    got = s2sad.grad(top_scaled, wrt=(0, 1, 2))(2.0, 1.0, 3.0, k=0.5)
    assert got == pytest.approx((5.0, 2.0, 6.0))


def test_varargs_wrt_out_of_range_is_located():
    with pytest.raises(s2sad.ArgumentError) as info:
        s2sad.grad(top_varargs, wrt=3)(1.0, 2.0, 3.0)
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{inspect.getsourcelines(top_varargs)[1]}:"), msg
    assert "wrt=3 is out of range: top_varargs got 3 positional arguments" in msg


def kwargs_helper(x, **options):
    return x * x


def calls_kwargs_helper(x):
    return kwargs_helper(x, a=1)


def spreads_a_parameter(x, t):
    return sum_squares(*t) * x


def test_kwargs_parameter_and_unknown_spread_are_refused_located():
    for mode in ("reverse", "forward"):
        with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
            s2sad.grad(calls_kwargs_helper, mode=mode)(1.5)
        msg = str(info.value)
        line = inspect.getsourcelines(kwargs_helper)[1]
        assert msg.startswith(f"{HERE}:{line}:"), msg
        assert "unsupported construct: **kwargs parameter (**options)" in msg
        assert "list the keyword parameters explicitly" in msg
        with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
            s2sad.grad(spreads_a_parameter, mode=mode)(1.5, (1.0, 2.0))
        msg = str(info.value)
        line = inspect.getsourcelines(spreads_a_parameter)[1] + 1
        assert msg.startswith(f"{HERE}:{line}:"), msg
        assert "starred argument" in msg and "the number of items is not known" in msg


def spreads_a_list(x, y):
    lst = [x, y]
    return sum_squares(*lst) + lst[0] * sum_squares(*lst[1:])


def spreads_an_aliased_list(x, y):
    lst = [x, y]
    other = lst
    other.append(x * y)         # lst has three items now
    return sum_squares(*lst)  # <- spread refused


def test_spread_list_known_length_only():
    """A list bound once to a display is spread while only spreading and indexing read
    it; another name for it (which may change its length) keeps it starred: refused,
    located (a spread of the display's two items would drop the third)."""
    assert_grad_matches(spreads_a_list, (1.5, 0.7), wrt=(0, 1))
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(spreads_an_aliased_list)(1.5, 0.7)
    line = line_of(spreads_an_aliased_list, "# <- spread refused")
    assert str(info.value).startswith(f"{HERE}:{line}:"), str(info.value)
