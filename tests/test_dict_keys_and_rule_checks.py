"""Found by adversarial tests.

* A dict iterated (``for k in d``, ``list(d)``, ``sorted(d)``, ``sum(d)``, ``max(d,
  key=d.get)``) gives its keys, which carry no derivative: the keys were taken for
  items of the dict's values and got their derivatives (silent wrong gradients), and
  ``max(d, key=d.get)`` read ``d`` by position. In forward mode the keys of
  ``d.items()`` carried the tangents of the values. Merging dicts with ``|`` lost every
  derivative: refused.
* A rule writing the derivative of a name that is not one of its parameters gave a
  zero, and one reading an undefined name raised a bare ``NameError``: both are
  ``RuleError`` now. A ``custom_vjp`` whose fwd returns no pair, and ``hessian`` with an
  argument named twice in ``wrt``, are ``ArgumentError`` (internal errors before).
* ``check_grads`` moves the floats inside list, tuple and dict arguments too: it passed
  a wrong rule reached through them.
"""

from __future__ import annotations

import collections
import math

import pytest
from gradcheck import numerical_grad

import s2sad
from s2sad import extend

MODES = ("reverse", "forward")


def keys_listed(x, y):
    d = {0: x, 1: y}
    ks = list(d)
    return x * ks[1] + sorted(d)[1] * y


def keys_looped(x, y):
    d = {0: x, 1: y}
    s = 0.0
    for k in d:
        s = s + k * x + d[k] * k
    return s + sum([k * y for k in d])


def keys_summed(x, y):
    d = {0: x, 1: y}
    return sum(d) * x + max(d) * y + min(d) * x


def key_of_the_largest(x, y):
    d = {0: x, 1: y}
    k = max(d, key=d.get)
    return x * k + d[k]


def items_paired(x, y):
    d = {0: x, 1: y}
    s = sum(k * v for k, v in d.items())
    for k, v in d.items():
        s = s + k * v * x
    return s


def keys_of_a_dict_argument(p, x):
    s = 0.0
    for k in p:
        s = s + len(k) * p[k] * x
    return s


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [keys_listed, keys_looped, keys_summed, key_of_the_largest,
                                  items_paired], ids=lambda f: f.__name__)
@pytest.mark.parametrize("point", [(0.7, 1.9), (1.4, -0.3)])
def test_the_keys_of_a_dict_carry_no_derivative(func, mode, point):
    got = s2sad.grad(func, wrt=(0, 1), mode=mode)(*point)
    want = numerical_grad(func, point, wrt=(0, 1))
    assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


def test_the_keys_of_a_dict_argument_carry_no_derivative():
    got = s2sad.grad(keys_of_a_dict_argument, wrt=(0, 1))({"a": 1.5, "bb": 0.5}, 0.7)
    assert got[0] == pytest.approx({"a": 0.7, "bb": 1.4})
    assert got[1] == pytest.approx(1.5 + 2 * 0.5)


def merged(p, x):
    q = p | {"c": x}
    return q["a"] * q["c"]


def merged_in_place(p, x):
    q = dict(p)
    q |= {"c": x}
    return q["a"] * q["c"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", [merged, merged_in_place], ids=lambda f: f.__name__)
def test_merging_dicts_is_refused(func, mode):
    """(it gave 0.0 for every derivative)"""
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(func, wrt=1, mode=mode)({"a": 1.3}, 0.5)
    assert "merging dicts (p | q, p |= q, {**p, ...})" in str(info.value)
    assert info.value.lineno == func.__code__.co_firstlineno + (1 if func is merged else 2)


def _double(x):
    return x * 2.0


def test_a_rule_writing_the_derivative_of_an_unknown_name_is_refused():
    d = extend.d
    with pytest.raises(s2sad.RuleError) as info:
        @extend.adjoint(_double)
        def double_adjoint(z, x):
            d[xx] = d[z] * 2.0          # noqa: F821 - the typo under test
    assert "d[xx], and xx is not one of its parameters (x, z)" in str(info.value)
    assert info.value.filename == __file__
    assert "d[xx] = d[z] * 2.0" in str(info.value)
    assert s2sad.grad(_double)(3.0) == 2.0      # (nothing registered)


def _three(x):
    return x + 1.0


def _through_three(x):
    return _three(x) * x


def test_a_rule_reading_an_undefined_name_is_a_rule_error():
    from s2sad.rules.core import RULES
    d = extend.d

    @extend.adjoint(_three)
    def three_adjoint(z, x):
        d[x] = d[z] * undefined_thing   # noqa: F821 - the name under test

    try:
        with pytest.raises(s2sad.RuleError) as info:
            s2sad.grad(_through_three, mode="reverse")(2.0)
        assert "uses the name undefined_thing, which its module does not define" \
            in str(info.value)
    finally:
        RULES.pop(_three, None)


@s2sad.custom_vjp
def _square(x):
    return x * x


_square.defvjp(lambda x: x * x, lambda r, g: (2.0 * g,))     # fwd without residuals


def test_a_custom_vjp_whose_fwd_returns_no_pair_is_an_argument_error():
    with pytest.raises(s2sad.ArgumentError) as info:
        s2sad.grad(lambda x: _square(x) * 1.0, mode="reverse")(3.0)
    assert "the fwd rule of _square returned float, not a pair (value, residuals)" \
        in str(info.value)


def _two(x, y):
    return x * x * y


def test_hessian_with_an_argument_named_twice_is_an_argument_error():
    with pytest.raises(s2sad.ArgumentError, match=r"wrt=\(0, 0\) names an argument twice"):
        s2sad.hessian(_two, wrt=(0, 0))


# -- check_grads moves floats inside lists, tuples and dicts ---------------------------

_P = collections.namedtuple("_P", "a b")


def _loss_of_containers(p, q, d, x):
    return p.a * p.b * x + q[0] * q[1] ** 2 + d["w"] * math.sin(d["v"]) * x


def test_check_grads_checks_floats_in_lists_tuples_and_dicts():
    assert s2sad.check_grads(_loss_of_containers,
                             (_P(1.3, 0.7), [0.4, -1.1], {"w": 0.5, "v": 0.2}, 2.0))


def _cube(x):
    return x * x * x


def _through_cube(p, x):
    return _cube(p[0]) * p[1] + x


@pytest.mark.parametrize("arg", [_P(1.3, 0.7), [1.3, 0.7], (1.3, 0.7)],
                         ids=["namedtuple", "list", "tuple"])
def test_check_grads_flags_a_wrong_rule_reached_through_a_container(arg):
    """(it passed: the container was not moved, only the float x was)"""
    from s2sad.rules.core import RULES, TANGENTS
    d = extend.d

    @extend.adjoint(_cube)
    def cube_adjoint(z, x):
        d[x] = d[z] * 2.0 * x * x       # wrong on purpose: 3 x^2

    @extend.tangent(_cube)
    def cube_tangent(z, x):
        d[z] = d[x] * 3.0 * x * x

    try:
        with pytest.raises(AssertionError, match="reverse mode"):
            s2sad.check_grads(_through_cube, (arg, 2.0), order=1)
    finally:
        RULES.pop(_cube, None)
        TANGENTS.pop(_cube, None)


# -- what refusals say ----------------------------------------------------------------

class _Base:
    def f(self, x):
        return x * x


class _Child(_Base):
    def f(self, x):
        return super().f(x) * 2.0

    def g(self, x):
        return _Base.f(self, x) * 2.0


def test_super_is_named_and_the_hint_works():
    """(it said "method .f() of a computed value", with a hint about lists and dicts)"""
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.grad(_Child().f)(1.5)
    assert "no derivative rule for method super().f()" in str(info.value)
    assert "Base.f(self, x)" in str(info.value)
    assert s2sad.grad(_Child().g)(1.5) == pytest.approx(6.0)


def unpacked_into_a_display(p, x):
    q = {**p, "c": x}
    return q["a"] * q["c"]


def popped_by_key(x):
    p = {"a": x, "b": 2.0}
    v = p.pop("a")
    return v * p["b"]


def test_dict_refusals_say_dict():
    with pytest.raises(s2sad.UnsupportedSyntaxError, match=r"merging dicts .*\{\*\*d, \.\.\.\}"):
        s2sad.grad(unpacked_into_a_display, wrt=1)({"a": 1.3}, 0.5)
    with pytest.raises(s2sad.MissingRuleError) as info:
        s2sad.grad(popped_by_key)(0.5)
    assert "p.pop(...)" in str(info.value) and "p_1" not in str(info.value)
    assert "d = {j: w for j, w in d.items() if j != k}" in str(info.value)


def lambdas_in_a_list(x):
    fs = []
    fs.append(lambda v: v * x)
    return fs[0](2.0)


def test_a_lambda_used_as_a_value_says_so():
    """(it said only "unsupported construct: lambda", though lambdas assigned to a name
    are differentiated)"""
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(lambdas_in_a_list)(0.5)
    assert "lambda used as a value (passed to a function, stored, returned" in str(info.value)
    assert info.value.lineno == lambdas_in_a_list.__code__.co_firstlineno + 2
