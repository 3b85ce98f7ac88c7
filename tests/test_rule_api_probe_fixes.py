"""Fixes found probing the rule-author API (``s2sad.extend``) and gradient objects.

- a user's adjoint (or tangent) rule giving no ``d[p]`` for an argument that carries a
  derivative is refused at the call (``RuleLimitError``), not a silent zero;
- ``multilinear(f, args=(0, 1))`` takes positions as ``wrt`` does (forward mode
  compared them with names: a zero tangent), and checks them as it registers;
- an adjoint of the wrong shape from a user's rule or a ``custom_vjp`` bwd is refused
  as the gradient runs, naming the rule, the argument and both shapes;
- a gradient object picks up a global rebound since it was made (another class, a new
  partial, a function redefined, a rule registered);
- messages that named generated temporaries or gave a wrong hint.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad
from s2sad.extend import adjoint, d, multilinear, tangent, unbroadcast

HERE = __file__
with open(HERE) as _fh:
    _LINES = _fh.read().splitlines()


def line_of(marker):
    """Line number of the unique line ending with ``# <- marker``."""
    hits = [i for i, text in enumerate(_LINES, 1) if text.rstrip().endswith(f"# <- {marker}")]
    assert len(hits) == 1, f"marker {marker} found {len(hits)} times"
    return hits[0]


MODES = ("reverse", "forward")


# ---------------------------------------------------------------------------
# 1. a rule giving no d[p] for an argument carrying a derivative


def scaled(x, scale=2.0, *, power=2.0):
    return scale * x ** power


@adjoint(scaled)
def scaled_adjoint(z, x, scale=2.0, power=2.0):
    d[x] = d[z] * scale * power * x ** (power - 1.0)
    d[scale] = d[z] * x ** power


def scaled_in_power(p):
    return scaled(1.5, power=p)          # <- L_POWER


def scaled_in_x(x):
    return scaled(x, 3.0) + scaled(x, power=3.0)


@pytest.mark.parametrize("mode", MODES)
def test_rule_without_adjoint_of_an_active_argument_is_refused(mode):
    with pytest.raises(s2sad.RuleLimitError) as info:
        s2sad.grad(scaled_in_power, mode=mode)(0.7)
    e = info.value
    assert e.filename == HERE and e.lineno == line_of("L_POWER")
    assert "scaled_adjoint" in e.message and "d[power]" in e.message
    assert "d[power]" in e.hint and "stop_gradient" in e.hint
    assert "_t" not in str(e)


@pytest.mark.parametrize("mode", MODES)
def test_rule_without_adjoint_of_constant_arguments_still_differentiates(mode):
    x = 0.7
    got = s2sad.grad(scaled_in_x, mode=mode)(x)
    assert got == pytest.approx(3.0 * 2 * x + 2.0 * 3 * x * x)


def test_stopped_argument_is_not_refused():
    def f(p):
        return scaled(1.5, power=s2sad.stop_gradient(p)) * p

    assert s2sad.grad(f, mode="reverse")(0.7) == pytest.approx(2 * 1.5 ** 0.7)


def powered(x, *, power=2.0):
    return x ** power


@adjoint(powered)
def powered_adjoint(z, x, power=2.0):
    d[x] = d[z] * power * x ** (power - 1.0)


@tangent(powered)
def powered_tangent(z, x, power=2.0):
    d[z] = d[x] * power * x ** (power - 1.0) + d[power] * z * math.log(x)


def powered_in_power(p):
    return powered(1.5, power=p)         # <- L_POWERED


def test_tangent_rule_reading_the_argument_covers_forward_mode():
    """Forward mode uses the tangent template, which has the term in d[power]; reverse
    mode's adjoint has none and is refused."""
    want = 1.5 ** 0.7 * math.log(1.5)
    assert s2sad.grad(powered_in_power, mode="forward")(0.7) == pytest.approx(want)
    assert s2sad.jvp(powered_in_power)(0.7, 1.0)[1] == pytest.approx(want)
    with pytest.raises(s2sad.RuleLimitError, match=r"powered_adjoint .*d\[power\]"):
        s2sad.grad(powered_in_power, mode="reverse")(0.7)


def cubed(x, k=3.0):
    return x ** k


@adjoint(cubed)
def cubed_adjoint(z, x, k=3.0):
    d[x] = d[z] * k * x ** (k - 1.0)
    d[k] = d[z] * z * np.log(x)


@tangent(cubed)
def cubed_tangent(z, x, k=3.0):
    d[z] = d[x] * k * x ** (k - 1.0)       # forgets d[k]


def cubed_in_k(k):
    return cubed(1.5, k)                   # <- L_CUBED


def test_tangent_rule_without_the_argument_is_refused_in_forward_mode():
    want = 1.5 ** 0.7 * math.log(1.5)
    assert s2sad.grad(cubed_in_k, mode="reverse")(0.7) == pytest.approx(want)
    with pytest.raises(s2sad.RuleLimitError) as info:
        s2sad.grad(cubed_in_k, mode="forward")(0.7)
    e = info.value
    assert e.lineno == line_of("L_CUBED")
    assert "cubed_tangent" in e.message and "d[k]" in e.message


def only_tangent(x, *, power=2.0):
    return x ** power


@tangent(only_tangent)
def only_tangent_tangent(z, x, power=2.0):
    d[z] = d[x] * power * x ** (power - 1.0)


def only_tangent_in_power(p):
    return only_tangent(1.5, power=p)     # <- L_ONLY_TANGENT


def test_tangent_only_rule_without_the_argument_is_refused():
    """No adjoint rule: reverse mode differentiates the function's code (right);
    forward mode uses the tangent template, which reads no d[power]."""
    want = 1.5 ** 0.7 * math.log(1.5)
    assert s2sad.grad(only_tangent_in_power, mode="reverse")(0.7) == pytest.approx(want)
    with pytest.raises(s2sad.RuleLimitError) as info:
        s2sad.grad(only_tangent_in_power, mode="forward")(0.7)
    assert info.value.lineno == line_of("L_ONLY_TANGENT")
    assert "only_tangent_tangent" in info.value.message


# ---------------------------------------------------------------------------
# 2. multilinear with positions


def bil_pos(a, b):
    return a * b


def bil_name(a, b):
    return a * b


def bil_c(a, b, c=1.0):
    return a * b * c


multilinear(bil_pos, args=(0, 1))
multilinear(bil_name, args=("a", "b"))
multilinear(bil_c, args=(0, "b"))


def uses_bil_pos(x):
    return bil_pos(x, x) + bil_pos(2.0, x)


def uses_bil_name(x):
    return bil_name(x, x) + bil_name(2.0, x)


def uses_bil_c(x):
    return bil_c(x, 3.0, c=2.0) + bil_c(2.0, 3.0, c=x)      # <- L_BIL_C


@pytest.mark.parametrize("func", [uses_bil_pos, uses_bil_name])
@pytest.mark.parametrize("mode", MODES)
def test_multilinear_by_position_or_name(func, mode):
    x = 0.7
    assert s2sad.grad(func, mode=mode)(x) == pytest.approx(2 * x + 2)
    assert s2sad.jvp(func)(x, 1.0)[1] == pytest.approx(2 * x + 2)


def test_multilinear_positions_are_kept_as_names():
    from s2sad.rules.core import MULTILINEAR
    assert MULTILINEAR[bil_pos] == ("a", "b")
    assert MULTILINEAR[bil_c] == ("a", "b")


def test_multilinear_argument_not_declared_linear_is_refused_in_forward_mode():
    assert s2sad.grad(uses_bil_c, mode="reverse")(0.7) == pytest.approx(6.0 + 6.0)
    with pytest.raises(s2sad.RuleLimitError) as info:
        s2sad.grad(uses_bil_c, mode="forward")(0.7)
    e = info.value
    assert e.lineno == line_of("L_BIL_C")
    assert "bil_c" in e.message and "parameter c" in e.message


@pytest.mark.parametrize("args, words", [
    ((0, 3), "position 3 is out of range"),
    ((-1,), "position -1 is out of range"),
    (("a", "q"), "'q' is not a parameter"),
    ((1.5,), "neither a parameter name nor a position"),
])
def test_multilinear_bad_args_are_refused_where_registered(args, words):
    def tri(a, b, c):
        return a * b * c

    with pytest.raises(s2sad.RuleError) as info:
        multilinear(tri, args=args)                  # <- L_BAD_MULTILINEAR
    e = info.value
    assert words in e.message and "tri" in e.message
    assert e.filename == HERE and e.lineno == line_of("L_BAD_MULTILINEAR")
    from s2sad.rules.core import MULTILINEAR
    assert tri not in MULTILINEAR


def test_multilinear_position_of_star_args():
    def first_times(*xs):
        return xs[0] * xs[1]

    multilinear(first_times, args=(0, 1))
    from s2sad.rules.core import MULTILINEAR
    assert MULTILINEAR[first_times] == (0, 1)

    def f(x):
        return first_times(x, 3.0) + first_times(2.0, x)

    assert s2sad.grad(f, mode="forward")(0.7) == pytest.approx(5.0)


# ---------------------------------------------------------------------------
# 3. adjoints of the wrong shape from a user's rule or a custom_vjp bwd


@s2sad.custom_vjp
def sq_reduced(a):
    return a * a


def sq_reduced_fwd(a):
    return a * a, a


def sq_reduced_bwd(a, g):                  # <- L_SQ_BWD
    return (np.sum(g * 2.0 * a),)          # a bug: reduced to a number


sq_reduced.defvjp(sq_reduced_fwd, sq_reduced_bwd)


@s2sad.custom_vjp
def scale_by(a, k):
    return a * k


def scale_by_fwd(a, k):
    return a * k, (a, k)


def scale_by_bwd(res, g):
    a, k = res
    return g * k, np.sum(g * a)            # right: an array for a, a number for k


scale_by.defvjp(scale_by_fwd, scale_by_bwd)


@s2sad.custom_vjp
def spread(k):
    return k * np.ones(3)


def spread_fwd(k):
    return k * np.ones(3), None


def spread_bwd(res, g):                    # <- L_SPREAD_BWD
    return (g,)                            # a bug: the array, for a number


spread.defvjp(spread_fwd, spread_bwd)


def loss_sq_reduced(a):
    return np.sum(sq_reduced(a))


def loss_scale_by(a, k):
    s = 0.0
    for _ in range(3):
        s = s + np.sum(scale_by(a, k) * a)
    return s


def loss_spread(k):
    return np.sum(spread(k))


def test_custom_vjp_bwd_of_the_wrong_shape_is_refused():
    with pytest.raises(s2sad.ArgumentError) as info:
        s2sad.grad(loss_sq_reduced)(np.array([1.0, 2.0, 3.0]))
    e = info.value
    assert e.filename == HERE and e.lineno == line_of("L_SQ_BWD")
    assert "sq_reduced" in e.message and "(a)" in e.message
    assert "a number" in e.message and "shape (3,)" in e.message
    with pytest.raises(s2sad.ArgumentError) as info:
        s2sad.grad(loss_spread)(0.5)
    e = info.value
    assert e.lineno == line_of("L_SPREAD_BWD")
    assert "shape (3,)" in e.message and "is a number" in e.message


def test_custom_vjp_at_the_top_level_is_checked_too():
    with pytest.raises(s2sad.ArgumentError, match="shape"):
        s2sad.grad(lambda a: np.sum(sq_reduced(a)))(np.array([1.0, 2.0]))
    with pytest.raises(s2sad.ArgumentError, match="shape"):
        s2sad.vjp(sq_reduced)(np.array([1.0, 2.0]))[1](np.ones(2))


def test_custom_vjp_of_the_right_shapes_in_a_loop():
    a, k = np.array([1.0, -2.0, 0.5]), 1.5
    got = s2sad.grad(loss_scale_by, wrt=(0, 1))(a, k)
    want = numerical_grad(loss_scale_by, (a, k), wrt=(0, 1))
    assert got[0].shape == (3,) and np.allclose(got[0], want[0])
    assert np.ndim(got[1]) == 0 and got[1] == pytest.approx(want[1])


def add_c(x, c):
    return x + c


@adjoint(add_c)
def add_c_adjoint(z, x, c):
    d[x] = d[z]
    d[c] = d[z]                            # a bug: no unbroadcast(d[z], c)


def add_c2(x, c):
    return x + c


@adjoint(add_c2)
def add_c2_adjoint(z, x, c):
    d[x] = unbroadcast(d[z], x)
    d[c] = unbroadcast(d[z], c)


def times_sum(x):
    return x * np.sum(x)


@adjoint(times_sum)
def times_sum_adjoint(z, x):
    d[x] = np.sum(d[z] * x) + d[z] * np.sum(x)


def loss_add_c(x, c):
    return np.sum(add_c(x, c))             # <- L_ADD_C


def loss_add_c2(x, c):
    return np.sum(add_c2(x, c) * x)


def loss_times_sum(x):
    return np.sum(times_sum(x) * x)


@pytest.mark.parametrize("wrt", [1, (0, 1)])
def test_adjoint_template_without_unbroadcast_is_refused(wrt):
    with pytest.raises(s2sad.RuleError) as info:
        s2sad.grad(loss_add_c, wrt=wrt, mode="reverse")(np.array([1.0, 2.0]), 0.5)
    e = info.value
    assert e.filename == HERE and e.lineno == line_of("L_ADD_C")
    assert "add_c_adjoint" in e.message and "d[c]" in e.message
    assert "shape (2,)" in e.message and "is a number" in e.message
    assert "unbroadcast" in e.hint
    assert "_t1" not in str(e) and "b_t" not in str(e)


def test_adjoint_template_of_the_right_shapes():
    x, c = np.array([1.0, 2.0]), 0.5
    got = s2sad.grad(loss_add_c2, wrt=(0, 1))(x, c)
    want = numerical_grad(loss_add_c2, (x, c), wrt=(0, 1))
    assert np.allclose(got[0], want[0]) and np.ndim(got[1]) == 0
    assert got[1] == pytest.approx(want[1])
    # the calls to unbroadcast need no check
    assert "checked_adjoint" not in s2sad.source(loss_add_c2, wrt=(0, 1), args=(x, c))
    # an adjoint whose shape is not known before it runs: checked, and right
    x = np.array([1.0, -2.0, 0.5])
    assert "checked_adjoint" in s2sad.source(loss_times_sum, args=(x,))
    assert np.allclose(s2sad.grad(loss_times_sum)(x), numerical_grad(loss_times_sum, (x,)))
    assert "checked_adjoint" in s2sad.source(loss_triple, args=(x,))
    assert np.allclose(s2sad.grad(loss_triple)(x), 6.0 * x)
    # differentiated again (the check is linear in the adjoint)
    assert np.allclose(s2sad.hessian(loss_triple)(x), 6.0 * np.eye(3))


def triple(x):
    return 3.0 * x


@adjoint(triple)
def triple_adjoint(z, x):
    d[x] = d[z] * 3.0


def loss_triple(x):
    return np.sum(triple(x) * x)


# ---------------------------------------------------------------------------
# 4. gradient objects made before a global was rebound


class Square:
    def apply(self, x):
        return x * x


class Cube:
    def apply(self, x):
        return x * x * x


NET = Square()


def uses_net(x):
    return NET.apply(x)


class Holder:
    def __init__(self, inner):
        self.inner = inner

    def apply(self, x):
        return self.inner.apply(x) + x


HOLDER = Holder(Square())


def uses_holder(x):
    return HOLDER.apply(x)


def _power(x, c):
    return c * x * x


PARTIAL = functools.partial(_power, c=2.0)


def uses_partial(x):
    return PARTIAL(x)


def helper(x):
    return x * x


def uses_helper(x):
    return helper(x) * 2.0


def later_rule(x):
    return x * x


def uses_later_rule(x):
    return later_rule(x) + x


def _cube(x):
    return x * x * x


def _counting(g):
    """``g`` with its general path counted: the calls that did not take a fast path."""
    slow = []
    general = type(g)._slow

    def counted(self, args, kwargs):
        slow.append(args)
        return general(self, args, kwargs)
    type(g)._slow = counted          # (a class of g's own, see GradFunction._dispatch)
    return slow


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make", [s2sad.grad, s2sad.value_and_grad])
def test_gradient_object_sees_a_global_object_of_another_class(mode, make, monkeypatch):
    x = 0.7
    g = make(uses_net, mode=mode)
    grad_of = (lambda r: r) if make is s2sad.grad else (lambda r: r[1])
    assert grad_of(g(x)) == pytest.approx(2 * x)
    assert grad_of(g(x)) == pytest.approx(2 * x)           # (the fast path)
    monkeypatch.setitem(globals(), "NET", Cube())
    slow = _counting(g)
    for _ in range(3):
        assert grad_of(g(x)) == pytest.approx(3 * x * x)
    assert len(slow) == 1           # made again once, then the fast path again
    monkeypatch.setattr(Cube, "apply", Square.apply)       # the method replaced
    assert grad_of(g(x)) == pytest.approx(2 * x)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_object_sees_an_attribute_of_a_global_object_replaced(mode, monkeypatch):
    x = 0.7
    g = s2sad.grad(uses_holder, mode=mode)
    assert g(x) == pytest.approx(2 * x + 1) and g(x) == pytest.approx(2 * x + 1)
    monkeypatch.setattr(HOLDER, "inner", Cube())
    assert g(x) == pytest.approx(3 * x * x + 1)
    assert g(x) == pytest.approx(3 * x * x + 1)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_object_sees_a_global_partial_rebound(mode, monkeypatch):
    x = 0.7
    g = s2sad.grad(uses_partial, mode=mode)
    assert g(x) == pytest.approx(4 * x) and g(x) == pytest.approx(4 * x)
    monkeypatch.setitem(globals(), "PARTIAL", functools.partial(_power, c=5.0))
    assert g(x) == pytest.approx(10 * x) and g(x) == pytest.approx(10 * x)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_object_sees_a_helper_redefined(mode, monkeypatch):
    x = 0.7
    g = s2sad.grad(uses_helper, mode=mode)
    assert g(x) == pytest.approx(4 * x) and g(x) == pytest.approx(4 * x)
    monkeypatch.setitem(globals(), "helper", _cube)
    assert g(x) == pytest.approx(6 * x * x) and g(x) == pytest.approx(6 * x * x)
    h = s2sad.grad(uses_helper, wrt=0, mode=mode)
    xs = np.array([0.5, 1.5])
    assert np.allclose(s2sad.grad(lambda v: np.sum(uses_helper(v)), mode="reverse")(xs),
                       6 * xs * xs)
    assert h(x) == pytest.approx(6 * x * x)


def test_gradient_object_sees_a_rule_registered_later():
    from s2sad.rules.core import RULES
    x = 0.7
    g = s2sad.grad(uses_later_rule, mode="reverse")
    assert g(x) == pytest.approx(2 * x + 1) and g(x) == pytest.approx(2 * x + 1)
    try:
        @adjoint(later_rule)
        def later_rule_adjoint(z, x):
            d[x] = d[z] * 100.0          # distinct on purpose
        assert g(x) == pytest.approx(101.0) and g(x) == pytest.approx(101.0)
    finally:
        RULES.pop(later_rule, None)
        s2sad.rulestamp.bump()
    assert g(x) == pytest.approx(2 * x + 1)


def test_gradient_object_sees_new_defaults(monkeypatch):
    def scaled_sq(x, c=1.0):
        return c * x * x

    g = s2sad.grad(scaled_sq)
    assert g(0.5) == pytest.approx(1.0) and g(0.5) == pytest.approx(1.0)
    monkeypatch.setattr(scaled_sq, "__defaults__", (3.0,))
    assert g(0.5) == pytest.approx(3.0) and g(0.5) == pytest.approx(3.0)


def test_inline_freshness_tests_that_cannot_hold_fall_back_to_stale(monkeypatch):
    """Tests of the dispatcher that fail for code stale() finds fresh would send every
    call to the general path: they are replaced by a call of stale()."""
    from s2sad import api
    monkeypatch.setattr(api, "_freshness", lambda impl, inject, missing: ["0 == 1"])

    def twice(x):
        return 2.0 * x * x

    g = s2sad.grad(twice)
    assert g(0.5) == pytest.approx(2.0)
    slow = _counting(g)
    for _ in range(3):
        assert g(0.5) == pytest.approx(2.0)
    assert not slow

# ---------------------------------------------------------------------------
# 5. messages: the user's names, not the normal form's; hints that point the right way


class Holds:
    def __init__(self):
        self.buf = np.zeros(3)
        self.hist = []

    def store(self, x):
        self.buf[0] = x * x                  # <- L_HELD_STORE
        return np.sum(self.buf) * x

    def fill(self, x):
        self.buf.fill(x)                     # <- L_HELD_FILL
        return np.sum(self.buf) * x

    def extend(self, x):
        self.hist.extend([x, x])             # <- L_HELD_EXTEND
        return sum(self.hist) * x

    def add(self, t):
        self.hist.append(t)
        return sum(self.hist)


HOLDS = Holds()


def adds_twice(x):
    return HOLDS.add(x) + HOLDS.add(x * x)   # <- L_HELD_ADD


class Recursive:
    def rec(self, x, k):
        if k == 0:
            return x
        return self.rec(x * x, k - 1)        # <- L_REC

    def loss(self, x):
        return self.rec(x, 2)


@pytest.mark.parametrize("method, marker, words", [
    ("store", "L_HELD_STORE", "self.buf[...] = ... stores into self.buf"),
    ("fill", "L_HELD_FILL", "(self.buf.fill)"),
    ("extend", "L_HELD_EXTEND", "self.hist.extend(...) extends self.hist"),
])
def test_messages_name_the_users_expressions(method, marker, words):
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(getattr(Holds(), method))(0.7)
    e = info.value
    assert e.lineno == line_of(marker) and words in e.message, e.message
    assert "_t1" not in e.message and "_t2" not in e.message


def test_messages_name_a_global_object_as_the_user_does():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(adds_twice)(0.7)
    e = info.value
    assert e.lineno == line_of("L_HELD_ADD")
    assert "HOLDS.add(...) appends to HOLDS.hist" in e.message, e.message
    assert "bound" not in e.message
    assert "list, dict or array held in an attribute" in e.message


def test_recursive_method_is_named_by_its_class():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(Recursive().loss)(0.7)
    e = info.value
    assert e.lineno == line_of("L_REC")
    assert "recursive call (Recursive.rec)" in e.message, e.message


def lin(a, b=1.0):
    return a * b


@adjoint(lin)
def lin_adjoint(z, p, q=1.0):
    d[p] = d[z] * q
    d[q] = d[z] * p


def uses_lin_by_keyword(x):
    return lin(x, b=3.0)                     # <- L_LIN


def test_rule_with_other_parameter_names_says_so():
    with pytest.raises(s2sad.RuleError) as info:
        s2sad.grad(uses_lin_by_keyword)(0.7)
    e = info.value
    assert e.lineno == line_of("L_LIN")
    assert "lin_adjoint" in e.message and "not named as those of lin(a, b=1.0)" in e.message
    assert "def lin_adjoint(z, a, b=1.0)" in e.hint
    assert "register one" not in str(e)
    # given by position, the same rule fits
    assert s2sad.grad(lambda x: lin(x, 3.0))(0.7) == pytest.approx(3.0)


def deletes_an_item(x):
    L = [x, x * x]
    del L[0]                                 # <- L_DEL_ITEM
    return L[0]


def test_del_of_an_item_hint_keeps_the_result():
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(deletes_an_item)(0.7)
    e = info.value
    assert e.lineno == line_of("L_DEL_ITEM") and "del statement" in e.message
    assert "leave the del out" not in e.hint and "L[:i] + L[i + 1:]" in e.hint


@s2sad.custom_vjp
def first_order(x):
    return x * x


first_order.defvjp(lambda x: (x * x, x), lambda x, g: (2.0 * x * g,))


def uses_first_order(x):
    return first_order(x) * x                # <- L_FIRST_ORDER


def test_hessian_through_custom_vjp_hint():
    assert s2sad.grad(uses_first_order)(0.7) == pytest.approx(3 * 0.7 ** 2)
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.hessian(uses_first_order)(0.7)
    e = info.value
    assert e.lineno == line_of("L_FIRST_ORDER")
    assert "first-order" in e.hint and "@s2sad.tangent(first_order)" in e.hint
    assert "append" not in e.hint


def percentile_in_q(q):
    return np.percentile(np.array([1.0, 2.0, 4.0]), q)


def test_percentile_refused_in_forward_mode_names_percentile():
    with pytest.raises(s2sad.RuleLimitError) as info:
        s2sad.jvp(percentile_in_q)(30.0, 1.0)
    assert "np.percentile" in info.value.message and "np.quantile" not in info.value.message


def kw_only(x, *, k=2.0):
    return k * x * x * x


def test_hessian_along_a_keyword_only_parameter_says_hessian():
    with pytest.raises(s2sad.ArgumentError, match="hessian of kw_only: wrt names a "
                       "keyword-only parameter"):
        s2sad.hessian(kw_only, wrt=1)(0.7, k=2.0)
    with pytest.raises(s2sad.ArgumentError, match="jacobian of kw_only"):
        s2sad.jacobian(kw_only, wrt=1)(0.7, k=2.0)


class Scaled:
    def __init__(self):
        self.w = 2.0

    def loss(self, x):
        return self.w * x * x


def test_cli_dump_of_a_class_says_it_names_a_class(capsys):
    from s2sad import cli
    code = cli.main(["dump", f"{HERE}:Scaled"])
    err = capsys.readouterr().err
    assert code == 1
    assert "'Scaled' names a class, not a function" in err
    assert f"{HERE}:Scaled.loss" in err and "Traceback" not in err


class Squares:
    def f(self, x):
        return x * x


SQUARES = Squares()


def f(x):                                    # a function named as the method
    return 3.0 * x


def uses_squares(x):
    return SQUARES.f(x)


@pytest.mark.parametrize("mode", MODES)
def test_method_of_a_global_object_named_as_a_module_function(mode):
    """The normal form calls SQUARES.f(x) as f(SQUARES, x), f the method's function: it
    once took the module's f for it ('no derivative rule for f called this way')."""
    assert s2sad.grad(uses_squares, mode=mode)(0.7) == pytest.approx(1.4)
