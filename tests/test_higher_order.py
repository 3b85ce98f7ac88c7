"""Second derivatives: ``grad(grad(f))``, ``hessian``, reverse over reverse, and
functions calling gradient objects, against central differences of ``s2sad.grad``.

Each composition differentiates generated code, whose runtime helpers
(``add_adjoints``, ``fit``, ``getitem_adjoint``...) need tangents and adjoints of
their own: a helper linear in several arguments jointly (a sum) has one tangent term
with every tangent, one multilinear in them (a product) one term per argument.
"""

import inspect
import math

import numpy as np
import pytest

import s2sad

H = 1e-5


def fd_second(f, x, **options):
    """The derivative of ``s2sad.grad(f)`` at the scalar ``x`` by central differences."""
    g = s2sad.grad(f, **options)
    return (g(x + H) - g(x - H)) / (2 * H)


def second_derivatives(f):
    """Every way s2sad takes the second derivative of a function of one scalar."""
    return {
        "grad(grad(f))": s2sad.grad(s2sad.grad(f)),
        "forward over forward": s2sad.grad(s2sad.grad(f, mode="forward"), mode="forward"),
        "hessian": s2sad.hessian(f),
        "reverse over reverse": s2sad.grad(s2sad.grad(f, mode="reverse"), mode="reverse"),
    }


# -- functions indexing tuples and lists (their adjoints are lists: add_adjoints) -------

def tuple_product(x):
    t = (x, x * x)
    return t[0] * t[1]                        # x**3


def list_products(x):
    lst = [x, x * 2.0, 3.0]
    return lst[0] * lst[1] + lst[1] * lst[1]  # 6 x**2


def list_loop(x):
    s = 0.0
    for v in [x, x * 2.0]:
        s = s + v * v                         # 5 x**2
    return s


def tuple_sin(x):
    t = (np.sin(x), x * x, x)
    return t[0] * t[1] + t[2] * t[0]


def list_write(x):
    lst = [0.0]
    for _ in range(2):
        lst[0] = lst[0] * x + x               # x**2 + x
    return lst[0]


def list_writes(x):
    lst = [x, 1.0, 0.5]
    for i in range(3):
        lst[i % 2] = lst[0] * lst[1] + x * lst[2]
        lst[2] = lst[2] * x
    return lst[0] + lst[1] * lst[2]


def list_prod(x):
    # reverse over reverse differentiates prod_items_adjoint, whose comprehensions are
    # in branches: the zero pad of a comprehension's sequence read it where it was
    # never assigned (a bare UnboundLocalError)
    return math.prod([x, x * 2.0, 3.0])      # 6 x**2


LIST_CASES = [(tuple_product, 1.3, 6 * 1.3), (list_products, 1.3, 12.0),
              (list_loop, 1.3, 10.0), (tuple_sin, 0.7, None), (list_write, 1.3, 2.0),
              (list_writes, 0.9, None), (list_prod, 1.3, 12.0)]


@pytest.mark.parametrize("f, x, want", LIST_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_second_derivative_of_code_indexing_tuples_and_lists(f, x, want):
    fd = fd_second(f, x)
    if want is not None:
        assert fd == pytest.approx(want, rel=1e-6)
    for how, d2 in second_derivatives(f).items():
        assert d2(x) == pytest.approx(fd, rel=1e-6), how


G_TUPLE = s2sad.grad(tuple_product)


def calls_gradient(x):
    return G_TUPLE(x) * x                     # 3 x**3


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_gradient_of_a_function_calling_a_gradient_object(mode):
    x = 1.3
    assert s2sad.grad(calls_gradient, mode=mode)(x) == pytest.approx(9 * x * x, rel=1e-9)


def test_hessian_of_a_list_adjoint_in_two_arguments():
    def f(a, b):
        t = [a * b, a, b * b]
        return t[0] * t[1] + t[2] * t[0]      # a**2 b + a b**3

    a, b = 0.7, 1.4
    want = np.array([[2 * b, 2 * a + 3 * b * b], [2 * a + 3 * b * b, 6 * a * b]])
    np.testing.assert_allclose(s2sad.hessian(f, wrt=(0, 1))(a, b), want, rtol=1e-9)


# -- fit(t, z) is linear in the tangent t only: forward over forward code ----------------

C = np.array([1.0, 2.0, 3.0])
V = np.array([0.5, -1.0, 2.0])


def cubic_sum(x):
    return np.sum(C * x ** 3 + x * C)


JVP_CUBIC = s2sad.jvp(cubic_sum)


def calls_jvp(x):
    _, t = JVP_CUBIC(x, V)
    return t * 2.0


def test_jvp_of_a_function_calling_a_jvp_object():
    """The jvp code broadcasts its tangents with ``fit(t, z)``; differentiated again, its
    tangent is ``fit(dt, z)`` alone (the product rule added ``fit(t, dz)``: 96.33 for
    -26.52)."""
    x = np.array([0.3, -0.7, 1.1])
    w = np.array([1.0, 0.2, -0.4])
    fd = (calls_jvp(x + H * w) - calls_jvp(x - H * w)) / (2 * H)
    assert s2sad.jvp(calls_jvp)(x, w)[1] == pytest.approx(fd, rel=1e-6)
    assert s2sad.jvp(calls_jvp)(x, w)[1] == pytest.approx(12 * np.sum(C * V * x * w))


def test_hessian_of_a_function_calling_a_jvp_object():
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(s2sad.hessian(calls_jvp)(x), np.diag(12 * C * V), rtol=1e-9)


# -- matrix products (matmul_adjoint_a reads g and b, a only for its dimensions) ---------

A = np.array([[2.0, 0.5, 0.1], [0.3, 1.5, -0.2], [0.1, 0.4, 3.0]])


def quadratic(x):
    return x @ (A @ x)


def cubic_dot(x):
    y = np.dot(A, x)
    return np.sum(y * y * y)


def scaled_matrix(s):
    m = A * s
    v = m @ np.array([1.0, 2.0, 3.0])
    return np.sum(v * v) * s


def test_hessian_of_matrix_products():
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(s2sad.hessian(quadratic)(x), A + A.T, rtol=1e-9)
    y = A @ x
    np.testing.assert_allclose(s2sad.hessian(cubic_dot)(x), 6 * A.T @ np.diag(y) @ A,
                               rtol=1e-9)


def test_second_derivative_of_a_scalar_times_a_matrix():
    fd = fd_second(scaled_matrix, 1.3)
    for how, d2 in second_derivatives(scaled_matrix).items():
        assert d2(1.3) == pytest.approx(fd, rel=1e-6), how


# -- locals named like generated names (the second pass transforms generated code) ------

def generated_looking(x):
    bx = x * 2.0
    dx = bx * x
    _tape = dx + 1.0
    _t1 = _tape * x
    b_t1 = _t1 + bx
    _result = b_t1 * 2.0
    x_1 = _result + x
    _seq = x_1 * x
    _go1 = _seq
    _brk1 = _go1 + 1.0
    _n1 = _brk1
    _c1 = _n1 * x
    _value = _c1 + 1.0
    _i = 2.0
    return _value * _i


def generated_looking_loop(x):
    b_tape = 0.5
    bx = x
    for _i in range(3):
        b_tape = b_tape * bx + np.sin(x)
        _n1 = b_tape * b_tape
        bx = bx + _n1 * 0.1
    return bx * b_tape


def generated_looking_while(x):
    _tape_1 = x
    bb_t1 = 0.0
    _k1 = 0
    while _k1 < 3:
        bb_t1 = bb_t1 + _tape_1 * x
        _tape_1 = _tape_1 * 0.5 + bb_t1
        _k1 = _k1 + 1
    return _tape_1 * bb_t1


def generated_looking_list(x):
    bl = [x, x * x]
    _old1 = [0.0]
    for i in range(2):
        _old1[0] = _old1[0] * x + bl[i]
    return _old1[0] * bl[1]


def generated_looking_branch(x):
    _c1 = x > 1.0
    if _c1:
        b_c1 = x * x
    else:
        b_c1 = x * 3.0
    _ret = b_c1 * x
    return _ret * np.exp(x * 0.1)


@pytest.mark.parametrize("f", [generated_looking, generated_looking_loop,
                               generated_looking_while, generated_looking_list,
                               generated_looking_branch], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [0.8, 1.3])
def test_second_derivative_of_locals_named_like_generated_names(f, x):
    """The first pass's names (``b_tape``, ``bb_t1``...) are the second pass's locals;
    reverse over reverse once inlined a copy ``b_tape_1 = bb_t1`` into its one reader
    up to the next write of ``b_tape_1`` and dropped it although later statements read
    ``b_tape_1`` too (NameError in the generated code)."""
    fd = fd_second(f, x)
    for how, d2 in second_derivatives(f).items():
        assert d2(x) == pytest.approx(fd, rel=1e-6, abs=1e-8), how


# -- errors in generated code are located in the user's file --------------------------

def builds_list_comprehension(x):
    lst = [x * x * i for i in range(5)]
    return sum(lst)


def builds_list_by_append(x):
    lst = []
    while len(lst) < 3:
        lst.append(x * x * len(lst))
    return sum(lst)


def _cube(v):
    return v * v * v


def calls_helper(x):
    y = _cube(x)
    return y * x


def _line_of(f, text):
    import inspect
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("mode", ["auto", "reverse", "forward"])
@pytest.mark.parametrize("x", [1.5, -0.7, 2.0])
def test_second_derivative_of_a_list_grown_by_append(x, mode):
    """The reverse sweep's bare ``lst.pop()`` (the item dropped) is a pop both modes
    differentiate: f = 3 x^2."""
    assert s2sad.grad(builds_list_by_append)(x) == pytest.approx(6.0 * x)
    assert s2sad.grad(s2sad.grad(builds_list_by_append, mode=mode), mode=mode)(x) \
        == pytest.approx(6.0)


def stores_then_appends(x, y):
    out = [x, y]
    out[1] = x
    out.append(y)
    out[2] = y
    return out[0] * out[1]


@pytest.mark.parametrize("x", [0.8, -1.3])
def test_reverse_over_reverse_of_stores_and_appends(x):
    """The adjoint of a list after its appends are popped (``bout_2 =
    list_adjoint(bout_1)``) is a list: differentiated again, what flows into it is added
    by ``add_adjoints``; taken for an array, ``+`` concatenated the lists, and the
    adjoint of ``out[1]`` went to the wrong item (1.0 for f = x^2)."""
    gg = s2sad.grad(s2sad.grad(stores_then_appends, wrt=0, mode="reverse"), wrt=0,
                    mode="reverse")
    assert gg(x, 0.4) == pytest.approx(2.0)


# -- lists named by the user: a comprehension's list, list(zip(...)) -------------------
# The first pass builds [... for ...] into a temporary and names it (lst = _t3); its
# reverse sweep pops the temporary. Differentiating that code again refused the copy
# as a user's second name for a list written in place (UnsupportedSyntaxError).


def comprehension_and_append(x):
    ys = [x * i for i in range(1, 4)]
    ys.append(x * x)                          # through ys: the list _t3 is
    return sum(ys) * ys[-1]


def comprehension_in_a_loop(x):
    ys = [x, 2.0]
    for k in range(3):
        ys = [y * x + k for y in ys]
        ys.append(ys[0] * 0.5)
    return sum(ys) * ys[1]


def comprehension_of_a_comprehension(x):
    ys = [x * x for _ in range(2)]
    zs = [y * ys[0] for y in ys]
    return zs[1] * sum(zs) + ys[1]


@pytest.mark.parametrize("f", [builds_list_comprehension, comprehension_and_append,
                               comprehension_in_a_loop, comprehension_of_a_comprehension],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_second_derivative_of_a_named_comprehension(f, x):
    if f is builds_list_comprehension:
        assert s2sad.grad(s2sad.grad(f))(x) == pytest.approx(20.0)     # 10 x^2
    fd = fd_second(f, x)
    for how, d2 in second_derivatives(f).items():
        assert d2(x) == pytest.approx(fd, rel=1e-6, abs=1e-8), how


def pairs_of_zip(x):
    ys = list(zip(x, x))
    return sum(a * b * b for a, b in ys)      # sum x^3


def pairs_sorted_by_key(x):
    ps = list(zip(x, x ** 2))
    qs = sorted(ps, key=lambda p: p[1])
    named = [v * 2.0 for v in x]
    return qs[0][0] * qs[2][1] + sum(a * b for a, b in ps) + named[0] * named[1]


@pytest.mark.parametrize("x", [[1.0, 2.0, 3.0], [0.3, -1.2, 0.7]])
def test_hessian_through_list_of_zip(x):
    x = np.array(x)
    np.testing.assert_allclose(s2sad.hessian(pairs_of_zip)(x), np.diag(6.0 * x))
    g = s2sad.grad(pairs_sorted_by_key)
    want = np.array([(g(x + H * e) - g(x - H * e)) / (2 * H) for e in np.eye(3)])
    np.testing.assert_allclose(s2sad.hessian(pairs_sorted_by_key)(x), want, rtol=1e-6,
                               atol=1e-6)


def stores_into_a_list_after_a_loop_over_it(x):
    for _ in range(2):
        lst = [x]
    y = 1.0
    for t in reversed(lst):
        y = y * t
    lst[0] *= 0.5
    return y * sum(lst)


@pytest.mark.parametrize("f, text", [(stores_into_a_list_after_a_loop_over_it, "lst[0] *=")],
                         ids=["store-after-loop"])
def test_second_derivative_of_list_building_code_is_refused_at_the_users_line(f, text):
    """Reverse over reverse: the tape holds the list the store writes into, and the
    adjoint of what is read back through the tape would not reach the store's."""
    want = 1.5                      # first derivatives work: f = x^2 / 2
    assert s2sad.grad(f)(1.5) == pytest.approx(want)
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(s2sad.grad(f, mode="reverse"), mode="reverse")(1.5)
    err = info.value
    assert err.filename == __file__
    assert err.lineno == _line_of(f, text)
    message = str(err)
    assert message.startswith(f"{__file__}:{err.lineno}: ")
    assert "in the derivative code s2sad generated for this line" in message
    assert text in message                  # the user's line is shown
    assert "NumPy array" in err.hint
    assert "s2sad.hessian" in err.hint      # (forward over reverse, which works)


@pytest.mark.parametrize("mode", ["auto", "forward"])
def test_second_derivative_of_a_store_into_what_the_tape_records(mode):
    """Forward over reverse (hessian; auto mode takes it where reverse over reverse
    refuses): the gradient's tape records the list stored into, which is no write
    under a view there (aliasing._tapes)."""
    f = stores_into_a_list_after_a_loop_over_it
    for x in (1.5, -0.7, 2.25):
        assert s2sad.grad(s2sad.grad(f, mode=mode), mode=mode)(x) == pytest.approx(1.0)
        assert s2sad.hessian(f)(x) == pytest.approx(1.0)


def concatenates(x, y):
    a = [x, y]
    b = a + [x * y]
    return b[0] * b[2] + b[1]


@pytest.mark.parametrize("x, y", [(1.5, 2.0), (-0.5, 0.3)])
def test_hessian_through_list_concatenation(x, y):
    """The gradient's ``slice_adjoint`` has a tangent rule (it is linear in the
    adjoint) and no adjoint rule: forward mode takes the rule, not its code (which
    raised a MissingRuleError located in runtime.py). f = x^2 y + y."""
    h = s2sad.hessian(concatenates, (0, 1))(x, y)
    np.testing.assert_allclose(np.array(h, dtype=float), [[2.0 * y, 2.0 * x], [2.0 * x, 0.0]])


@pytest.mark.parametrize("x, y", [(1.5, 2.0), (-0.5, 0.3)])
def test_reverse_over_reverse_through_list_concatenation(x, y):
    """The adjoint of the concatenation, ``slice_adjoint``, copies with ``list(g)``: once
    ``list`` had a rule, reverse mode differentiates it again (it was refused at
    ``b = a + [x * y]``). f = x^2 y + y."""
    for i, j, want in [(0, 0, 2.0 * y), (0, 1, 2.0 * x), (1, 0, 2.0 * x), (1, 1, 0.0)]:
        inner = s2sad.grad(concatenates, i, mode="reverse")
        assert s2sad.grad(inner, j, mode="reverse")(x, y) == pytest.approx(want, abs=1e-12)


def test_reverse_over_reverse_through_a_helper():
    # (refused: the inner gradient's calls fill its tape, whose items' adjoints bwd_g
    # took no list of; it takes it now, see tests/test_second_calls.py)
    x = 0.8
    assert s2sad.hessian(calls_helper)(x) == pytest.approx(12 * x * x, rel=1e-9)
    assert s2sad.grad(s2sad.grad(calls_helper))(x) == pytest.approx(12 * x * x, rel=1e-9)
    assert s2sad.grad(s2sad.grad(calls_helper, mode="reverse"), mode="reverse")(x) == \
        pytest.approx(12 * x * x, rel=1e-9)


def test_gradient_of_a_vector_valued_gradient_is_located_at_the_users_return():
    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(s2sad.NonScalarOutputError) as info:
        s2sad.grad(s2sad.grad(quadratic))(x)
    err = info.value
    assert (err.filename, err.lineno) == (__file__, _line_of(quadratic, "return x @"))


def product_at_argmax(v):
    i = np.argmax(v)
    return v[i] * v[i + 1]


def test_hessian_through_index_add_of_a_computed_index():
    """The gradient accumulates ``v[i]``'s adjoint with the statement ``index_add(bv, i,
    b)``, a runtime helper: normalized like a call of a user function (an assignment of
    its None to a temporary), it lost the edge from ``b`` to ``bv``, and the hessian
    every term accumulated that way (row 0 came out zero)."""
    v = np.array([0.5, 0.1, 0.2])
    h = s2sad.hessian(product_at_argmax)(v)
    np.testing.assert_allclose(h, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def pops_a_list_of_arrays(v):
    lst = [v, v * 2.0, np.sin(v)]
    lst.pop()
    return np.sum(lst[-1] * v)


def repeats_a_list(x):
    r = [x, 2.0 * x]
    return sum(r * 2) * r[1]


def joins_and_repeats(x):
    a = [x, 2.0]
    b = a + [x * x]
    st = [[x], [x * x]]
    return b[0] * b[2] + sum(b * 2) + sum(st.pop() * 3) * x


@pytest.mark.parametrize("f", [repeats_a_list, joins_and_repeats], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [0.7, -1.3])
def test_second_derivative_through_joined_and_repeated_lists(f, x):
    """The adjoints of a + b and lst * n of lists (slice_adjoint, sequence_repeat_adjoint)
    have tangent and adjoint rules; their code was transformed and refused."""
    fd = fd_second(f, x)
    for how, d2 in second_derivatives(f).items():
        assert d2(x) == pytest.approx(fd, rel=1e-6, abs=1e-8), how


def sums_dict_values(x):
    d = {"a": x, "b": x * x}
    return sum(d.values()) * d["a"]


def test_hessian_through_the_adjoint_of_a_product_of_a_list_item():
    """``lst[-1] * v`` of an item that may be a list: the gradient's ``mul_any_adjoint``
    has a tangent (and an adjoint) rule; its code was transformed and refused."""
    for v in [np.array([0.2, -0.4]), np.array([1.5, 0.3])]:
        np.testing.assert_allclose(s2sad.hessian(pops_a_list_of_arrays)(v), 4.0 * np.eye(2))


def stores_then_sums_values(p, y):
    p["b"] = y * y
    return p["b"] * sum(p.values())


def test_hessian_through_a_runtime_helper_returning_a_list_early():
    """The gradient of pops_a_list_of_arrays calls runtime helpers whose early return
    of a list (``return out``) was refused as a second name for a list written in
    place; it is the copy lowered returns make (f = 2 sum(v^2): H = 4 I)."""
    h = s2sad.hessian(pops_a_list_of_arrays)(np.array([0.2, -0.4]))
    np.testing.assert_allclose(h, 4.0 * np.eye(2), rtol=1e-12)


def test_second_derivatives_through_the_adjoint_of_a_dicts_values():
    """Differentiating the gradient again transforms runtime helpers it calls: the
    adjoint of a dict's values built a dict comprehension, refused (at the user's line);
    it is a loop now. f = x^2 + x^3: f'' = 2 + 6x; p["b"] = y^2: f = a y^2 + y^4,
    f'' = 2a + 12 y^2. (A refusal inside a helper's derivative code is located at the
    user's line: test_refusal_in_the_derivative_code_of_a_helper_is_at_the_users_line.)"""
    assert s2sad.hessian(sums_dict_values)(0.7) == pytest.approx(2.0 + 6.0 * 0.7)
    got = s2sad.grad(s2sad.grad(stores_then_sums_values, wrt=1), wrt=1)(
        {"a": 1.0, "b": 2.0}, 0.5)
    assert got == pytest.approx(2.0 + 12.0 * 0.25)


def mse_method(w, x, y):
    return ((x @ w - y) ** 2).mean()


def method_reductions(v):
    y = v ** 3
    return y.sum() + y.prod() + np.sum(y.mean(axis=0) * v)


def test_hessian_of_a_function_returning_a_method_reduction():
    """The gradient of ``return (...).mean()`` keeps the unused ``_t2.mean()`` as a
    statement; differentiating that code again refused it as a call for its side
    effects (methods of the method table change nothing)."""
    rng = np.random.default_rng(3)
    w, x, y = rng.standard_normal(3), rng.standard_normal((5, 3)), rng.standard_normal(5)
    np.testing.assert_allclose(s2sad.hessian(mse_method)(w, x, y), 2 * x.T @ x / 5, rtol=1e-9)
    v = np.array([0.5, -1.2, 0.8])
    g = s2sad.grad(method_reductions)
    for point in (v, v[::-1] * 0.7):
        fd = np.array([(g(point + 1e-6 * e) - g(point - 1e-6 * e)) / 2e-6 for e in np.eye(3)])
        np.testing.assert_allclose(s2sad.hessian(method_reductions)(point), fd, rtol=1e-5,
                                   atol=1e-6)
    assert "y.sum()" not in s2sad.source(method_reductions, args=(v,))


def doubled_head(x):
    y = x.copy()
    y[-1] = y[0] * 2.0
    y[::2] *= 3.0
    return np.sum(y ** 2)


def rows_and_columns(x):
    y = np.zeros((3, 3))
    y[0, :] = x
    y[:, 1] += x ** 2
    y[2, 2] = x[0] * x[1]
    return np.sum(y ** 2)


def shifted_sum(x):
    y = x.copy()
    y[1:] += y[:-1]
    return np.sum(y ** 3)


@pytest.mark.parametrize("f, n", [(doubled_head, 5), (rows_and_columns, 3), (shifted_sum, 4)])
def test_hessian_of_slice_updates(f, n):
    """The gradient of ``y[::2] *= 3.0`` reads the view ``y[::2]`` after the write, only
    for its shape (``unbroadcast(b, view)``): no read of changed values, so the gradient
    can be differentiated again (it was refused as a write under a view)."""
    g = s2sad.grad(f)
    for seed in (0, 1):
        x = np.random.default_rng(seed).standard_normal(n)
        fd = np.array([(g(x + 1e-6 * e) - g(x - 1e-6 * e)) / 2e-6 for e in np.eye(n)])
        np.testing.assert_allclose(s2sad.hessian(f)(x), fd, rtol=1e-5, atol=1e-6)


def comprehension_appended_to(x, y):
    ys = [x, y]
    zs = [0.5 * t for t in ys]
    zs.append(x * y)
    return sum(zs) * y


@pytest.mark.parametrize("x, y", [(0.3, 0.5), (-1.2, 2.0)])
def test_hessian_of_a_list_built_by_a_comprehension_then_appended_to(x, y):
    """Found by the fuzzer (lists, hessian): the gradient names the comprehension's list
    twice (_t1 = [...]; zs = _t1), a copy the first pass made; differentiated again it
    was taken for a second name the user wrote for a list appended to, and refused."""
    # f = (0.5 x + 0.5 y + x y) y
    h = s2sad.hessian(comprehension_appended_to, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(np.array(h), [[0.0, 0.5 + 2 * y], [0.5 + 2 * y, 1 + 2 * x]],
                               rtol=1e-12, atol=1e-15)


# -- integer loop indices and counters: no derivative, not even 0.0 ------------------------
# A loop index recorded on the tape came back from it with a tangent 0.0 in the second
# transform, which multiplied the derivative of ``y ** i`` along its exponent,
# ``y ** i * log(y)``: nan for a negative base, and 0.0 * nan is nan.

def powers_until_break(x, y):
    for i in range(3):
        y = y ** i * x + y
        if x > 0.5:
            break
    return x * y


def powers_skipping_one(x, y):
    s = 0.0
    for i in range(4):
        if x > 0.5 and i == 2:
            continue
        s = s + y ** i * x
    return s


def powers_until_return(x, y):
    for i in range(1, 5):
        y = y ** i * x
        if abs(y) > 2.0:
            return y * x
    return x * y


def powers_in_nested_loops_with_break(x, y):
    s = 0.0
    for j in range(3):
        for i in range(j, 5):
            s = s * y + (y * x) ** i
            if i > j:
                break
    return s


def fd_hessian(f, x, y):
    """The Hessian of ``f`` in both arguments by central differences of ``s2sad.grad``."""
    g = s2sad.grad(f, wrt=(0, 1))
    cols = [(np.array(g(x + dx, y + dy)) - np.array(g(x - dx, y - dy))) / (2 * H)
            for dx, dy in ((H, 0.0), (0.0, H))]
    return np.array(cols).T


def powers_of_a_while_counter(x, y):
    k = 0
    while k < 3:
        y = y ** k * x + y
        k = k + 1
        if x > 0.5:
            break
    return x * y


def powers_until_a_sum_is_reached(x, y):
    k = 0
    s = 0.0
    while s < 2.0:
        s = s + x * x + 0.5
        y = y * x + y ** k
        k = k + 1
    return s * y


COUNTED_LOOPS = [powers_until_break, powers_skipping_one, powers_until_return,
                 powers_in_nested_loops_with_break, powers_of_a_while_counter,
                 powers_until_a_sum_is_reached]
BASES = [(0.3, -1.08), (0.7, -1.3), (0.4, 1.2), (0.8, 0.9), (0.6, -0.5)]


@pytest.mark.parametrize("f", COUNTED_LOOPS)
@pytest.mark.parametrize("x, y", BASES)
def test_hessian_through_integer_loop_indices_and_counters(f, x, y):
    want = fd_hessian(f, x, y)
    got = np.array(s2sad.hessian(f, wrt=(0, 1))(x, y))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def range_left_early(y):
    s = 0.0
    for i in range(5):
        s = s * y + y ** i
        if s < -0.2 or s > 3.0:
            break
    return s * y


@pytest.mark.parametrize("y", [-1.3, -0.7, -0.2, 0.6, 1.4])
def test_second_derivative_through_a_range_loop_left_early(y):
    want = fd_second(range_left_early, y)
    for how, d2 in second_derivatives(range_left_early).items():
        assert d2(y) == pytest.approx(want, rel=1e-5, abs=1e-5), how


def test_first_derivatives_through_a_range_loop_left_early_unchanged():
    # the reverse loop runs over the iterations that ran, in the range sliced: no index
    # on the tape
    src = s2sad.source(powers_until_break, wrt=(0, 1), args=(0.3, -1.08))
    assert "for i in reversed(range(3)[:_n1]):" in src and "_tape.append(i)" not in src
    for x, y in BASES:
        g = s2sad.grad(powers_until_break, wrt=(0, 1))(x, y)
        for k, (dx, dy) in enumerate(((H, 0.0), (0.0, H))):
            d = (powers_until_break(x + dx, y + dy) - powers_until_break(x - dx, y - dy)) / (2 * H)
            assert g[k] == pytest.approx(d, rel=1e-6, abs=1e-6)


def while_counter(y):
    k = 0
    s = 0.0
    while k < 4:
        s = s * y + y ** k
        k = k + 1
        if s < -0.2 or s > 3.0:
            break
    return s * y


@pytest.mark.parametrize("y", [-1.3, -0.7, -0.2, 0.6, 1.4])
def test_second_derivative_through_a_while_counter(y):
    want = fd_second(while_counter, y)
    for how, d2 in second_derivatives(while_counter).items():
        assert d2(y) == pytest.approx(want, rel=1e-5, abs=1e-5), how


def counts_from_y(x, y):
    s = 0.0
    c = y
    while c < 3.0:
        s = s * x + x * c * c
        c = c + 1.0
    return s


@pytest.mark.parametrize("x, y", [(0.3, 0.5), (0.7, -1.3), (1.2, 2.1)])
def test_values_without_derivative_along_one_argument_keep_it_along_another(x, y):
    # c carries no derivative along x: grad(.., wrt=0) records it apart from s; the
    # jacobian of that gradient along x and y differentiates it along y all the same
    gx = s2sad.grad(counts_from_y, wrt=0, mode="reverse")
    assert "_itape.append(c_1)" in s2sad.source(counts_from_y, wrt=0, args=(x, y))
    want = [(gx(x + H, y) - gx(x - H, y)) / (2 * H), (gx(x, y + H) - gx(x, y - H)) / (2 * H)]
    got = s2sad.jacobian(gx, wrt=(0, 1))(x, y)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-5)


def svd_values_cubed(a):
    return np.sum(np.linalg.svd(a, compute_uv=False) ** 3)


def test_refusal_in_the_derivative_code_of_a_helper_is_at_the_users_line():
    """Fuzz: reverse over reverse through svd's singular values refuses in the derivative
    code of s2sad's own svd_adjoint (it calls svd); the RuleLimitError named
    numpy_helpers.py, not the user's line. The hessian (forward over reverse) works."""
    a = np.random.default_rng(3).normal(size=(3, 2))
    with pytest.raises(s2sad.RuleLimitError) as info:
        s2sad.jacobian(s2sad.grad(svd_values_cubed))(a)
    err = info.value
    assert err.filename == __file__
    assert err.lineno == _line_of(svd_values_cubed, "return np.sum(np.linalg.svd")
    assert "numpy_helpers.py" in err.message and "s2sad.hessian" in err.hint
    g, h = s2sad.grad(svd_values_cubed), 1e-5
    hess = s2sad.hessian(svd_values_cubed)(a)
    for k in np.ndindex(a.shape):
        e = np.zeros(a.shape)
        e[k] = h
        np.testing.assert_allclose(hess[(...,) + k], (g(a + e) - g(a - e)) / (2 * h),
                                   rtol=1e-5, atol=1e-7)


def dict_values_read(x, y):
    x["a"] = x["a"] + math.sin(sum(x.values()) * y)
    return x["a"] * y + math.cos(sum(v * v for v in x.values()) * y)


@pytest.mark.parametrize("y", [0.6, -1.1])
def test_reverse_over_reverse_through_the_values_of_a_dict_argument(y):
    """Fuzz 626000011: grad(grad(f, wrt=1), wrt=1) through x.values() of a dict argument
    was refused: the gradient's helper dict_values_adjoint built a dict comprehension."""
    x = {"a": 0.3, "b": -0.8}
    got = s2sad.grad(s2sad.grad(dict_values_read, wrt=1), wrt=1)(dict(x), y)
    g, h = s2sad.grad(dict_values_read, wrt=1), 1e-5
    assert got == pytest.approx((g(dict(x), y + h) - g(dict(x), y - h)) / (2 * h), rel=1e-6)
    assert s2sad.grad(dict_values_read, wrt=0)(dict(x), y).keys() == x.keys()


def test_a_refusal_found_transforming_a_helper_is_located_at_the_call():
    """errors.in_helper: an error located in s2sad's own files (a runtime helper the
    derivative code calls, transformed again) moves to the call's line in the user's
    file and names the helper; an error located elsewhere stays as it is."""
    import types

    from s2sad import errors, runtime
    ctx = types.SimpleNamespace(filename=__file__, col_shift=0, firstlineno=1, mode="reverse")
    node = types.SimpleNamespace(lineno=7, col_offset=4)
    inner = errors.UnsupportedSyntaxError("unsupported construct: dict comprehension",
                                          filename=runtime.__file__, lineno=3, hint="h")
    err = errors.in_helper(inner, runtime.dict_values_adjoint, node, ctx)
    assert (err.filename, err.lineno) == (__file__, 7)
    assert "in s2sad's dict_values_adjoint, which the derivative code calls" in err.message
    mine = errors.UnsupportedSyntaxError("x", filename=__file__, lineno=2)
    assert errors.in_helper(mine, runtime.dict_values_adjoint, node, ctx) is mine


def decayed_loss(params, x):
    loss = 0.0
    for name, v in params.items():
        if name.startswith("w") and not name.isdigit():
            loss += np.sum((v * x[: v.shape[0]]) ** 2)
        else:
            loss += 0.1 * np.sum(v ** 2)
    return loss


def test_hessian_through_a_str_predicate_of_a_dict_key():
    """name.startswith("w") of a key of a dict of parameters: the gradient's code,
    transformed again for the hessian, reads the key out of an item pair carrying the
    derivative, and the bool joined a tape holding a value the hessian needs: it was
    MissingRuleError (no derivative rule for method name.startswith())."""
    params = {"w1": np.array([0.5, 0.2]), "b": np.array([0.1])}
    x = np.array([1.0, 2.0, 3.0])
    h = s2sad.hessian(decayed_loss)(params, x)
    np.testing.assert_allclose(h["w1"]["w1"], np.diag([2.0, 8.0]))
    np.testing.assert_allclose(h["b"]["b"], [[0.2]])
    np.testing.assert_allclose(h["w1"]["b"], [[0.0], [0.0]])
    g = s2sad.grad(decayed_loss)(params, x)
    np.testing.assert_allclose(g["w1"], [1.0, 1.6])
    np.testing.assert_allclose(g["b"], [0.02])


# -- hessians of code writing into an array argument (fuzz 123400: 10 of 150 refused) --
# The gradient's code records the array written into on its tape (a loop rebinds it),
# restores it from a snapshot in the reverse sweep, or reads a view made before the
# store: forward over reverse takes all of them (aliasing._tapes, reverse.remake_views).

def stores_then_rebinds_in_a_loop(x, y):
    for i in range(3):
        x[i % 2] += y * x[2]
        x = np.tanh(x)
    return np.sum(x * x) * y


def adds_at_then_maybe_rebinds(x, y):
    for _ in range(3):
        np.add.at(x, [0, 2], 0.25 * y * x[1])
        if x[0] > 0.0:
            x = np.sin(x)
    return np.sum(x ** 3) + y * x[0]


def stores_after_a_view(x, y):
    a = np.sum(x[1:] ** 2)
    x[1] += y * y
    return a * np.sum(x) * y + np.sum(x.T[:2] ** 3)


def stores_a_list_item_after_its_min(x, y):
    lst = [x[0] * y, x[1] * x[0], y * x[2]]
    lst[1] += -min(lst)
    lst[0] = lst[0] * max(lst)
    return lst[0] + lst[1] * lst[2] + np.sum(x)


def _fd_hessian_of_array(f, x, y):
    g = s2sad.grad(f)
    rows = []
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = H
        rows.append((g(x + e, y) - g(x - e, y)) / (2 * H))
    return np.array(rows)


ARRAY_STORES = [stores_then_rebinds_in_a_loop, adds_at_then_maybe_rebinds,
                stores_after_a_view, stores_a_list_item_after_its_min]


@pytest.mark.parametrize("f", ARRAY_STORES)
@pytest.mark.parametrize("x, y", [([0.3, -0.5, 0.8], 0.7), ([-0.9, 0.4, 1.3], -1.1),
                                  ([1.2, 0.6, -0.4], 0.45)])
def test_hessian_of_code_writing_into_an_array_argument(f, x, y):
    x = np.array(x)
    kept = x.copy()
    got = s2sad.hessian(f)(x, y)
    np.testing.assert_array_equal(x, kept)              # the argument is left alone
    np.testing.assert_allclose(got, _fd_hessian_of_array(f, x, y), rtol=1e-5, atol=1e-6)
    gy = s2sad.grad(f, wrt=1)
    want = (gy(x, y + H) - gy(x, y - H)) / (2 * H)
    assert s2sad.grad(s2sad.grad(f, wrt=1), wrt=1)(x, y) == pytest.approx(want, rel=1e-5,
                                                                           abs=1e-6)


def test_view_made_before_a_store_is_made_again_in_the_reverse_sweep():
    """No copy: the reverse sweep reads a view of the restored array, not one held
    across the store."""
    x = np.array([0.3, -0.5, 0.8])
    text = s2sad.source(stores_after_a_view, args=(x, 0.7))
    assert "copy" not in text.replace("copy_of(x)", "")
    reverse = text[text.index("x_1[1] = _old"):]
    assert "= x_1[1:]" in reverse


def test_reverse_over_reverse_of_a_store_into_what_the_tape_records_is_refused():
    """The adjoint of a value read back through the tape would not reach the store's:
    refused, at the user's line (hessian, forward over reverse, works: above)."""
    f = stores_then_rebinds_in_a_loop
    with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
        s2sad.jacobian(s2sad.grad(f), wrt=0)(np.array([0.3, -0.5, 0.8]), 0.7)
    assert info.value.lineno == _line_of(f, "x[i % 2] += y * x[2]")
    assert "s2sad.hessian" in info.value.hint


def stores_after_a_list_holding_it(x, y):
    w = 0.5 * (x - np.select([x > y, x < -1.0], [x, 0.5 * x], default=0.25))
    np.add.at(x, [0, 2], 0.25 * y)
    x = np.tanh(x)
    return np.sum(x) * y + np.sum(w * w)


def stores_a_list_item_after_sorting_it(x, y):
    lst = [x[0] * y, x[1], y * x[2]]
    order = sorted(lst, key=lambda v: -v)
    lst[1] *= -0.9
    return order[0] * lst[1] + lst[0] * lst[2] + np.sum(x * x)


@pytest.mark.parametrize("f", [stores_after_a_list_holding_it,
                               stores_a_list_item_after_sorting_it])
@pytest.mark.parametrize("x, y", [([0.3, -0.5, 0.8], 0.7), ([-0.9, 0.4, 1.3], -1.1)])
def test_hessian_of_a_store_after_a_list_holding_the_array(f, x, y):
    """Fuzz 314100000081, 555200000046: the gradient's reverse sweep read [x, 0.5 * x]
    (np.select's choices) after putting x back, and sorted's in_order(lst, order) was
    taken for a list holding lst itself."""
    x = np.array(x)
    np.testing.assert_allclose(s2sad.hessian(f)(x, y), _fd_hessian_of_array(f, x, y),
                               rtol=1e-5, atol=1e-6)


# ---- the adjoint of d.values() / d.items() where a store adds a key later ----------
# The reverse sweep puts back what a store into a dict replaced; for a key the store
# added, NEW_KEY (the key stays): dict_values_adjoint read that key too and indexed past
# the adjoints of the values read (IndexError in hessians and reverse-mode gradients).

def values_loop_then_new_key(x, y):
    d = {"a": x * y}
    s = 0.0
    for v in d.values():
        s = s + v * v
    d["c"] = s * 2.0
    return s + d["c"]


def items_loop_then_new_and_old_key(x, y):
    d = {"a": x * y, "b": x + y}
    s = 0.0
    for k, v in d.items():
        s = s + 0.0 * len(k)
        s = s + v * v
    d["c"] = s * 2.0
    d["a"] = s * x
    return s + d["c"] * d["a"]


def keys_loop_then_new_key(x, y):
    d = {"a": x * y, "b": x - y}
    s = 0.0
    for k in d.keys():
        s = s + d[k] * d[k]
    d["c"] = s * 2.0
    return s + d["c"]


def list_of_values_then_new_keys(x, y):
    d = {"a": x * y}
    vs = list(d.values())
    d["c"] = vs[0] * 2.0
    d["e"] = d["c"] * y
    return vs[0] * vs[0] + d["c"] * d["e"]


def new_key_before_and_after_values_loop(x, y):
    d = {"a": x * y}
    d["b"] = x * x
    s = 0.0
    for v in d.values():
        s = s + v * v * y
    d["c"] = s * 2.0
    return s + d["c"]


def sum_of_values_then_new_key(x, y):
    d = {"a": x * y}
    s = sum(d.values())
    d["c"] = s * s
    return s * d["c"]


def max_of_values_then_new_key(x, y):
    d = {"a": x * y, "b": x + 2.0 * y}
    m = max(d.values())
    d["c"] = m * y
    return m * d["c"]


def sorted_values_then_new_key(x, y):
    d = {"a": x * y, "b": x + 2.0 * y}
    vs = sorted(d.values())
    d["c"] = vs[0] * y
    return vs[1] * d["c"]


def list_of_items_then_new_key(x, y):
    d = {"a": x * y, "b": x + 2.0 * y}
    its = list(d.items())
    d["c"] = its[0][1] * y
    return its[1][1] * d["c"]


def values_loop_and_new_key_in_a_loop(x, y):
    d = {"a": x * y}
    s = 0.0
    for _ in range(3):
        for v in d.values():
            s = s + v * y
        d["c"] = s * x
    return s + d["c"]


def sum_of_values_and_new_key_in_a_loop(x, y):
    d = {"a": x * y}
    s = 0.0
    for _ in range(3):
        s = s + sum(d.values()) * x
        d["c"] = s * y
    return s


def keys_view_read_after_a_store(x, y):
    d = {"a": x * y, "b": x + 2.0 * y}
    ks = d.keys()
    d["c"] = x * y * y
    s = 0.0
    for k in ks:            # the view shows "c" too: its values are read by key
        s = s + d[k] * d[k]
    return s


_DICT_VALUE_CASES = [keys_view_read_after_a_store, values_loop_and_new_key_in_a_loop, sum_of_values_and_new_key_in_a_loop,
                     max_of_values_then_new_key, sorted_values_then_new_key,
                     list_of_items_then_new_key, values_loop_then_new_key, items_loop_then_new_and_old_key,
                     keys_loop_then_new_key, list_of_values_then_new_keys,
                     new_key_before_and_after_values_loop, sum_of_values_then_new_key]


def _central(fn, x, y, h=1e-5):
    """Central differences of fn (scalar or pair valued) in x and in y: rows x, y."""
    return np.array([(np.array(fn(x + h, y)) - np.array(fn(x - h, y))) / (2 * h),
                     (np.array(fn(x, y + h)) - np.array(fn(x, y - h))) / (2 * h)])


@pytest.mark.parametrize("f", _DICT_VALUE_CASES)
@pytest.mark.parametrize("point", [(0.3, 0.7), (-1.1, 0.4), (0.9, -1.3)])
def test_derivatives_through_dict_values_with_a_key_added_later(f, point):
    x, y = point
    fd = _central(f, x, y, h=1e-6)
    for mode in ("reverse", "forward"):
        g = s2sad.grad(f, wrt=(0, 1), mode=mode)(x, y)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    h = np.array(s2sad.hessian(f, wrt=(0, 1))(x, y))
    for mode in ("reverse", "forward"):
        fdh = _central(s2sad.grad(f, wrt=(0, 1), mode=mode), x, y)
        np.testing.assert_allclose(h, fdh, rtol=1e-6, atol=1e-7)
    for m1, m2 in (("auto", "auto"), ("reverse", "reverse")):
        gg = s2sad.grad(s2sad.grad(f, wrt=0, mode=m1), wrt=1, mode=m2)(x, y)
        assert gg == pytest.approx(h[0][1], rel=1e-9, abs=1e-12)


def values_view_read_after_a_store(x, y):
    d = {"a": x * y, "b": x + 2.0 * y}
    vals = d.values()
    d["c"] = x * y
    s = 0.0
    for v in vals:       # <- the view shows "c" too
        s = s + v * v
    return s


def test_a_dict_view_read_after_a_store_into_the_dict_is_refused():
    """The view shows the dict as it is when read, the adjoint gave the adjoints back
    to the dict as it was where the view was made (silent wrong gradient in reverse
    mode): refused in reverse mode, at the read."""
    line = inspect.getsourcelines(values_view_read_after_a_store)[1] + 5
    f = values_view_read_after_a_store
    for call in (lambda: s2sad.grad(f, wrt=(0, 1), mode="reverse")(0.3, 0.7),
                 lambda: s2sad.hessian(f, wrt=(0, 1))(0.3, 0.7),
                 lambda: s2sad.grad(s2sad.grad(f, wrt=0), wrt=1)(0.3, 0.7)):
        with pytest.raises(s2sad.UnsupportedSyntaxError) as info:
            call()
        msg = str(info.value)
        assert f"test_higher_order.py:{line}:" in msg
        assert "reading a view of a dict" in msg and "vals, a view of d" in msg
    # forward mode reads the view where the loop does: right
    for x, y in [(0.3, 0.7), (-1.1, 0.4)]:
        g = s2sad.grad(f, wrt=(0, 1), mode="forward")(x, y)
        np.testing.assert_allclose(g, _central(f, x, y, h=1e-6), rtol=1e-6, atol=1e-8)
