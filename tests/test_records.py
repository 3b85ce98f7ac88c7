"""Named tuples and dataclass instances as differentiable containers (JAX's pytrees).

As arguments differentiated, their gradient is an instance of their type holding the
gradient of each field; built in the function (``P(x, y)``, ``Params(w=w)``), they are
read by field (and named tuples by index), passed to and returned from functions, in
every mode and to second order. Every gradient is compared with central finite
differences of each field, at several points.
"""

from __future__ import annotations

import dataclasses
import math
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np
import pytest

import s2sad
from s2sad.toolbox import _flatten, _leaves_like

P = namedtuple("P", "a b")


@dataclass
class Params:
    w: float
    b: float


@dataclass(frozen=True)
class Layer:
    W: np.ndarray
    b: np.ndarray
    n: int = 3


@dataclass
class Model:
    layer: Layer
    scale: float
    extra: dict


@dataclass
class WithDefaults:
    w: float
    b: float = 0.5
    hist: list = field(default_factory=list)


H = 1e-6


def _bump(tree, k, h):
    """``tree`` with its ``k``-th scalar (over its leaves, flattened) moved by ``h``."""
    leaves, build = _flatten(tree)
    new, seen = [], 0
    for leaf in leaves:
        a = np.array(leaf, dtype=float)
        if seen <= k < seen + a.size:
            a.flat[k - seen] += h
            leaf = a if np.ndim(leaf) else float(a)
        seen += a.size
        new.append(leaf)
    return build(new)


def tree_fd(f, args, wrt=0):
    """Central differences of ``f`` along every scalar of ``args[wrt]``, a record (or
    a number), each field perturbed in turn: the leaves, flattened."""
    size = sum(np.size(leaf) for leaf in _flatten(args[wrt])[0])
    out = []
    for k in range(size):
        plus, minus = list(args), list(args)
        plus[wrt] = _bump(args[wrt], k, H)
        minus[wrt] = _bump(args[wrt], k, -H)
        out.append((float(f(*plus)) - float(f(*minus))) / (2 * H))
    return np.array(out)


def flat(g, like):
    """The gradient ``g`` of ``like`` as one vector (its leaves, flattened)."""
    return np.concatenate([np.ravel(v) for v in _leaves_like(g, like)])


def check(f, args, wrt=0, modes=("auto", "reverse"), rtol=1e-5, atol=1e-6):
    """``grad(f, wrt)`` in each mode has the type of ``args[wrt]`` and matches central
    differences of each field."""
    want = tree_fd(f, args, wrt)
    for mode in modes:
        g = s2sad.grad(f, wrt, mode=mode)(*args)
        assert type(g) is type(args[wrt]), (mode, g)
        np.testing.assert_allclose(flat(g, args[wrt]), want, rtol=rtol, atol=atol,
                                   err_msg=f"mode={mode}")
    return g


# ---------------------------------------------------------------------------
# Records passed in, differentiated


def affine_sq(p, x):
    return (p.w * x + p.b) ** 2


def pair_sq(p, x):
    return (p.a * x + p.b) ** 2


def layer_loss(m, x):
    h = np.tanh(m.layer.W @ x + m.layer.b)
    return m.scale * np.sum(h * h) + m.extra["c"] * m.layer.n + math.sin(m.extra["c"])


def _inner(p, x):
    return p.w * math.exp(p.b * x)


def passes_on(p, x):
    return _inner(p, x) + p.w * p.b


def record_in_list(ps, x):
    s = 0.0
    for p in ps:
        s = s + p.w * x - p.b * p.b
    return s


def unused_field(p, x):
    return p.w * x


POINTS = [(2.0, 1.0, 3.0), (-0.7, 0.4, 1.3), (0.25, -1.5, -0.6)]


@pytest.mark.parametrize("w,b,x", POINTS)
def test_dataclass_argument(w, b, x):
    g = check(affine_sq, (Params(w, b), x))
    assert g == pytest.approx(Params(2 * (w * x + b) * x, 2 * (w * x + b)))
    check(passes_on, (Params(w, b), x))
    check(unused_field, (Params(w, b), x))
    assert s2sad.grad(unused_field)(Params(w, b), x) == Params(x, 0.0)
    value, g = s2sad.value_and_grad(affine_sq)(Params(w, b), x)
    assert value == pytest.approx(affine_sq(Params(w, b), x))
    assert type(g) is Params
    # along both arguments
    gp, gx = s2sad.grad(affine_sq, (0, 1))(Params(w, b), x)
    assert type(gp) is Params and gx == pytest.approx(2 * (w * x + b) * w)


@pytest.mark.parametrize("w,b,x", POINTS)
def test_named_tuple_argument(w, b, x):
    g = check(pair_sq, (P(w, b), x))
    assert g == pytest.approx(P(2 * (w * x + b) * x, 2 * (w * x + b)))


@dataclass
class Listed:
    ws: list
    b: float


def _repeated(q, x):
    v = q.ws * 2
    return v[0] * v[3] * x


def list_fields(p, x):
    v = p.ws + [x]
    return v[0] * v[2] + v[1] * p.b + _repeated(p, x)


def test_list_fields():
    """A field holding a list may be one when its kind is not known (``q.ws * 2`` in a
    helper repeats it: a ValueError from the derivative of a product before)."""
    for ws, b, x in [([2.0, 3.0], 1.0, 2.0), ([-0.5, 1.5], 0.3, -1.2)]:
        check(list_fields, (Listed(ws, b), x), modes=("auto",))
        check(list_fields, (Listed(ws, b), x), wrt=1)


def test_records_in_a_list_argument():
    ps = [Params(0.5, 1.0), Params(-1.0, 2.0)]
    g = s2sad.grad(record_in_list)(ps, 1.5)
    assert g == [Params(1.5, -2.0), Params(1.5, -4.0)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nested_dataclass_with_arrays_ints_and_a_dict(seed):
    rng = np.random.default_rng(seed)
    m = Model(Layer(rng.standard_normal((2, 3)), rng.standard_normal(2), 2),
              float(rng.uniform(0.5, 1.5)), {"c": float(rng.uniform(-1, 1))})
    x = rng.standard_normal(3)
    g = check(layer_loss, (m, x), modes=("auto",))
    assert type(g.layer) is Layer and type(g.extra) is dict
    assert g.layer.W.shape == (2, 3)
    assert type(g.layer.n) is float          # an int field: its derivative, a float
    assert g.layer.n == pytest.approx(m.extra["c"])


def test_dataclass_gradient_is_built_as_replace_builds_it():
    """Frozen dataclasses and dataclasses with a ``__post_init__`` (which could change
    the gradient's values) get an instance holding exactly the gradients."""

    g = s2sad.grad(layer_loss)(Model(Layer(np.eye(2)[:, :1] + 0.5, np.ones(2), 1), 1.0,
                                     {"c": 0.5}), np.array([0.3]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.layer.n = 0.0
    g = s2sad.grad(doubled_loss)(Doubled(1.5), 2.0)
    assert type(g) is Doubled and g.v == pytest.approx(2.0)     # not 4.0


@dataclass
class Doubled:
    v: float

    def __post_init__(self):
        self.v = 2.0 * self.v


def doubled_loss(d, x):
    return d.v * x


def test_non_numeric_fields_refused():
    """A field holding a string, None, a bool or an object is refused as a dict's entry
    is; ints are differentiated (a float derivative)."""

    @dataclass
    class Named:
        w: float
        name: str

    for bad, typename in [(Named(1.0, "a"), "str"), (P(1.0, None), "NoneType"),
                          (P(1.0, True), "bool")]:
        with pytest.raises(s2sad.ArgumentError) as info:
            s2sad.grad(pair_named)(bad, 2.0)
        assert info.value.lineno == pair_named.__code__.co_firstlineno
        assert f"field {('name' if typename == 'str' else 'b')!r} is a value of type " \
               f"{typename}, which has no derivative" in str(info.value)
    assert s2sad.grad(pair_named, 1)(Named(1.0, "a"), 2.0) == 1.0    # not differentiated
    assert s2sad.grad(pair_sq)(P(2, 1), 3.0) == P(42.0, 14.0)


def pair_named(p, x):
    return p[0] * x if isinstance(p, tuple) else p.w * x


def test_toolbox_along_records():
    p, x = Params(2.0, 1.0), 3.0
    value, t = s2sad.jvp(affine_sq)(p, x, Params(1.0, 0.5))
    assert value == 49.0 and t == pytest.approx(42.0 + 7.0)
    with pytest.raises(s2sad.ArgumentError, match="another structure than the value"):
        s2sad.jvp(affine_sq)(p, x, 1.0)
    value, pullback = s2sad.vjp(affine_sq)(p, x)
    assert pullback(1.0) == Params(42.0, 14.0)
    jac = s2sad.jacobian(affine_sq)(p, x)
    assert type(jac) is Params and jac.w == pytest.approx(42.0)
    hess = s2sad.hessian(affine_sq)(p, x)
    assert hess.w == Params(pytest.approx(18.0), pytest.approx(6.0))
    assert hess.b == Params(pytest.approx(6.0), pytest.approx(2.0))
    rng = np.random.default_rng(3)
    m = Model(Layer(rng.standard_normal((2, 3)), rng.standard_normal(2), 2), 0.5, {"c": 0.2})
    x = rng.standard_normal(3)
    jac = s2sad.jacobian(layer_loss)(m, x)
    np.testing.assert_allclose(flat(jac, m), tree_fd(layer_loss, (m, x)), rtol=1e-5,
                               atol=1e-6)
    hess = s2sad.hessian(layer_loss)(m, x)
    assert type(hess.layer.W) is Model and hess.layer.W.layer.W.shape == (2, 3, 2, 3)
    grad = s2sad.grad(layer_loss)
    h = 1e-6
    for k in range(6):          # the rows along W: differences of the gradient
        up = grad(_bump(m, k, h), x)
        down = grad(_bump(m, k, -h), x)
        want = (flat(up, m) - flat(down, m)) / (2 * h)
        row = np.concatenate([np.asarray(leaf, dtype=float).reshape(2, 3, -1)[k // 3, k % 3]
                              for leaf in _flatten(hess.layer.W)[0]])
        np.testing.assert_allclose(row, want, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------
# Records built in the function


def dc_build(w, x):
    p = Params(w, 1.0)
    return (p.w * x + p.b) ** 2


def named_built(x):
    p = P(x, x * x)
    return p.a * p.b


def keywords_built(x, y):
    q = P(b=y, a=math.sin(x))
    r = Params(b=x * y, w=q.a)
    return affine_sq(r, q.b) + q[1] * r.w ** 2


def defaults_built(x, y):
    d = WithDefaults(x * y)
    e = WithDefaults(w=y, b=x)
    return d.w * d.b + e.b ** 3 * e.w + len(d.hist)


def nested_built(x, y):
    m = Model(Layer(np.array([[x, y]]), np.array([y]), 2), x * y, {"c": y})
    return layer_loss(m, np.array([0.5, -1.0]))


def _make(w, b):
    return Params(math.tanh(w), b * w)


def returned_by_helper(x, y):
    p = _make(x, y)
    return p.w * p.b + p.w


def unpacked(x, y):
    a, b = P(x * y, y - x)
    q = P(a, b)
    s = 0.0
    for v in q:
        s = s + v * v
    return s + q[0] * q.b


def looped(x, y, n):
    p = Params(x, y)
    for _ in range(n):
        p = Params(p.w * math.cos(p.b), p.b + 0.1 * p.w)
    return p.w + p.b * p.b


def branches(x, y):
    p = Params(x, y)
    if x > y:
        p = Params(p.b, p.w * p.w)
    return p.w * p.b


def in_a_list(x, y):
    ps = [Params(x, y), Params(y, x * x)]
    s = 0.0
    for p in ps:
        s = s + p.w * p.b
    return s + ps[1].b


def replaced(x, y):
    p = Params(x, y)
    q = dataclasses.replace(p, w=x * y)
    r = P(q.b, y)._replace(b=math.exp(q.w))
    return q.w * q.b + r.a * r.b + dataclasses.replace(q, b=2.0).b * p.w


BUILT = [dc_build, named_built, keywords_built, defaults_built, nested_built,
         returned_by_helper, unpacked, branches, in_a_list, replaced]
PAIRS = [(0.7, 1.3), (-0.4, 0.9), (1.6, -0.3)]


@dataclass
class State:
    x: float
    v: P


def history(x, y, n):
    hs = []
    s = State(x, P(y, x))
    for _ in range(n):
        s = State(s.x * s.v.a + 0.1, P(s.v.b, math.sin(s.x)))
        hs.append(s)
    t = 0.0
    while hs:
        h = hs.pop()
        t = t + h.x * h.v.b
    return t


def newton(a, b):
    s = State(1.0, P(1.0, 0.0))
    while abs(s.x * s.x - a) > 1e-13 or abs(s.v.b - b * s.x) > 1e-13:
        s = State(s.x - (s.x * s.x - a) / (2 * s.x), P(s.x, 0.5 * (s.v.b + b * s.x)))
    return s.x * s.v.b + s.v.a


def _fd(f, args, i):
    h = 1e-6
    plus, minus = list(args), list(args)
    plus[i] += h
    minus[i] -= h
    return (f(*plus) - f(*minus)) / (2 * h)


@pytest.mark.parametrize("f", BUILT + [looped, history], ids=lambda f: f.__name__)
@pytest.mark.parametrize("point", PAIRS)
def test_built_records(f, point):
    args = point[:1] if f is named_built else point + ((3,) if f in (looped, history) else ())
    wrt = (0,) if f is named_built else (0, 1)
    want = [_fd(f, args, i) for i in wrt]
    for mode in ("auto", "reverse", "forward"):
        got = s2sad.grad(f, wrt, mode=mode)(*args)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=mode)
    _, t = s2sad.jvp(f, wrt)(*args, *[1.0] * len(wrt))
    assert t == pytest.approx(sum(want), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("f", [keywords_built, returned_by_helper, unpacked, looped,
                               branches, nested_built, replaced], ids=lambda f: f.__name__)
def test_second_derivatives_of_built_records(f):
    args = (0.7, 1.3) + ((2,) if f is looped else ())
    g = s2sad.grad(f, (0, 1))
    want = np.array([[(a - b) / 2e-6 for a, b in zip(
        g(*[v + (1e-6 if j == i else 0.0) for j, v in enumerate(args[:2])], *args[2:]),
        g(*[v - (1e-6 if j == i else 0.0) for j, v in enumerate(args[:2])], *args[2:]))]
        for i in range(2)])
    hess = s2sad.hessian(f, (0, 1))(*args)
    np.testing.assert_allclose(np.array(hess, dtype=float), want, rtol=1e-4, atol=1e-5)
    gg = s2sad.grad(s2sad.grad(f, 0), 0)(*args)
    assert gg == pytest.approx(want[0][0], rel=1e-4, abs=1e-5)
    if f not in (returned_by_helper, keywords_built, nested_built):
        # reverse over reverse (not through calls of your functions: see usage.md)
        inner = s2sad.grad(f, 0, mode="reverse")
        gg = s2sad.grad(inner, (0, 1), mode="reverse")(*args)
        np.testing.assert_allclose(gg, want[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("a,b", [(2.0, 0.5), (0.3, -1.5)])
def test_fixed_point_loop_over_a_record(a, b):
    """The state of a fixed-point loop is a record (its adjoint's size, for the test of
    the adjoint iteration, is that of its fields: a TypeError before)."""
    want = [_fd(newton, (a, b), i) for i in (0, 1)]
    for options in ({}, {"fixed_point": True}, {"mode": "reverse"}):
        got = s2sad.grad(newton, (0, 1), **options)(a, b)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=str(options))


def out_record(x):
    return Params(x * x, 2.0 * math.sin(x))


def out_named(x, y):
    return P(x * y, x - y)


def test_records_returned():
    value, t = s2sad.jvp(out_record)(0.5, 1.0)
    assert type(t) is Params and t == pytest.approx(Params(1.0, 2.0 * math.cos(0.5)))
    value, pullback = s2sad.vjp(out_record)(0.5)
    assert value == out_record(0.5)
    assert pullback(Params(1.0, 0.0)) == pytest.approx(1.0)
    assert pullback(Params(0.0, 1.0)) == pytest.approx(2.0 * math.cos(0.5))
    jac = s2sad.jacobian(out_record)(0.5)
    assert type(jac) is Params and float(jac.b) == pytest.approx(2.0 * math.cos(0.5))
    value, t = s2sad.jvp(out_named, (0, 1))(2.0, 3.0, 1.0, 0.0)
    assert type(t) is P and t == (3.0, 1.0)
    jac = s2sad.jacobian(out_named, (0, 1))(2.0, 3.0)
    assert type(jac) is P and [float(v) for v in jac.a] == [3.0, 2.0]     # JAX's structure
    assert [float(v) for v in jac.b] == [1.0, -1.0]


def test_generated_code_reads_fields():
    """A field of a record built in the function and bound once is a copy of the value
    given: its derivative goes to that value directly."""
    for mode in ("reverse", "forward"):
        text = s2sad.source(named_built, mode=mode)
        assert "p = P(x, x * x)" in text and "_t2 = p.a" in text, text
        assert "field" not in text and "record_tangent" not in text, text
    text = s2sad.source(named_built, mode="reverse")
    assert text.splitlines()[-2:] == ["    bx = _t3 + 2.0 * _t2 * x", "    return bx"], text
    text = s2sad.source(keywords_built, mode="forward")
    assert "record_tangent(r, w=" in text, text         # r is passed to affine_sq
    text = s2sad.source(affine_sq, args=(Params(1.0, 2.0), 3.0))
    assert "p.w" in text and "field_adjoint(" in text and "like_argument(bp, p)" in text


# ---------------------------------------------------------------------------
# Refusals


@dataclass
class Checked:
    w: float

    def __post_init__(self):
        if self.w < 0:
            raise ValueError("w < 0")


class OwnInit(namedtuple("OwnInitBase", "a b")):
    def __new__(cls, a, b):
        return super().__new__(cls, a, 2.0 * b)


def builds_checked(x):
    c = Checked(x * x)  # <- L_POST
    return c.w


def builds_own_init(x):
    q = OwnInit(x, x)  # <- L_NEW
    return q.a * q.b


def stores_a_field(p, x):
    p.w = p.w * x  # <- L_STORE
    return p.w


@dataclass
class WithProperty:
    w: float

    @property
    def twice(self):
        return 2.0 * self.w


def reads_a_property(p, x):
    return p.twice * x  # <- L_PROP


class Plain:
    def __init__(self, w):
        self.w = w


def reads_a_plain_object(ps, x):
    return ps[0].w * x  # <- L_PLAIN


def replaces_checked(x, c):
    d = dataclasses.replace(c, w=x)  # <- L_REPLACE
    return d.w


def _line(func, marker):
    import inspect
    lines, start = inspect.getsourcelines(func)
    return start + next(i for i, t in enumerate(lines) if marker in t)


def test_refusals_are_located():
    cases = [
        (lambda: s2sad.grad(builds_checked)(1.0), builds_checked, "L_POST",
         s2sad.MissingRuleError, "Checked has a __post_init__"),
        (lambda: s2sad.grad(builds_own_init)(1.0), builds_own_init, "L_NEW",
         s2sad.MissingRuleError, "OwnInit defines __new__"),
        (lambda: s2sad.grad(stores_a_field)(Params(1.0, 2.0), 3.0), stores_a_field, "L_STORE",
         s2sad.UnsupportedSyntaxError, "assignment to an attribute"),
        (lambda: s2sad.grad(reads_a_property)(WithProperty(1.0), 3.0), reads_a_property,
         "L_PROP", s2sad.MissingRuleError, "attribute .twice"),
        (lambda: s2sad.grad(reads_a_plain_object)([Plain(1.0)], 3.0), reads_a_plain_object,
         "L_PLAIN", s2sad.RuleLimitError, "only the fields of named tuples and dataclass"),
        (lambda: s2sad.grad(replaces_checked, mode="reverse")(2.0, Checked(1.0)),
         replaces_checked, "L_REPLACE", s2sad.RuleLimitError, "Checked has a __post_init__"),
        (lambda: s2sad.grad(replaces_checked)(2.0, Checked(1.0)),
         replaces_checked, "L_REPLACE", s2sad.RuleLimitError, "Checked has a __post_init__"),
    ]
    for call, func, marker, error, words in cases:
        with pytest.raises(error) as info:
            call()
        assert info.value.lineno == _line(func, marker), (marker, str(info.value))
        assert words in str(info.value), str(info.value)
        assert info.value.hint
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.grad(stores_a_field)(Params(1.0, 2.0), 3.0)
    assert "build a new one from its fields" in info.value.hint


@dataclass
class Linear:
    w: np.ndarray
    b: float

    def predict(self, x):
        return self.w @ x + self.b

    def loss(self, x, y):
        r = self.predict(x) - y
        return np.sum(r * r)


def fit_loss(model, x, y):
    return model.loss(x, y) + 0.1 * np.sum(model.w * model.w)


@pytest.mark.parametrize("seed", [0, 1])
def test_methods_of_a_dataclass_argument(seed):
    """A dataclass argument's methods (``model.loss(x, y)``, calling ``self.predict``) are
    differentiated along its fields."""
    rng = np.random.default_rng(seed)
    model = Linear(rng.standard_normal((2, 3)), float(rng.standard_normal()))
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    g = check(fit_loss, (model, x, y), modes=("auto",))
    assert g.w.shape == (2, 3) and type(g.b) is not Linear
