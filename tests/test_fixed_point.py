"""``grad(f, fixed_point=True)``: while loops differentiated at their limit.

The gradient is that of the fixed point the loop converged to (the implicit
function theorem), computed by iterating the body's adjoint at the last state
(Christianson's two-phase method, Tapenade's FP-LOOP). Checked against the
analytic implicit derivative, against finite differences of the function, and
against the exact reverse sweep through every iteration (equal to within the
loop's tolerance).
"""

import inspect
import math

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad


def newton(a, b, tol):
    x = 1.0
    dx = 1.0
    while abs(dx) > tol:
        dx = (x * x * x + a * x - b) / (3.0 * x * x + a)
        x = x - dx
    return x


def newton_ift(a, b):
    """d root / d(a, b) of x^3 + a x - b = 0 by the implicit function theorem."""
    x = newton(a, b, 1e-14)
    d = 3.0 * x * x + a
    return (-x / d, 1.0 / d)


def kepler(m, e):
    """Kepler's equation E - e sin E = M by the contraction E <- M + e sin E."""
    E = m
    err = 1.0
    while err > 1e-15:
        E_new = m + e * math.sin(E)
        err = abs(E_new - E)
        E = E_new
    return E * E


def kepler_ift(m, e):
    E = kepler(m, e) ** 0.5
    dE = 1.0 / (1.0 - e * math.cos(E))
    return (2.0 * E * dE, 2.0 * E * math.sin(E) * dE)


def coupled(a, b):
    """Two states updated together: x = 0.5 cos y + a, y = 0.4 sin x + b."""
    x = 0.0
    y = 0.0
    change = 1.0
    while change > 1e-15:
        x_new, y_new = 0.5 * math.cos(y) + a, 0.4 * math.sin(x) + b
        change = abs(x_new - x) + abs(y_new - y)
        x, y = x_new, y_new
    return x * y + x


def coupled_ift(a, b):
    x = y = 0.0
    for _ in range(200):
        x, y = 0.5 * math.cos(y) + a, 0.4 * math.sin(x) + b
    # F(z) = z - g(z); dz/dp = (I - dg/dz)^-1 dg/dp
    jac = np.array([[0.0, -0.5 * math.sin(y)], [0.4 * math.cos(x), 0.0]])
    dz = np.linalg.solve(np.eye(2) - jac, np.eye(2))     # columns: d/da, d/db
    out = np.array([y + 1.0, x])                          # d(x*y + x)/d(x, y)
    return tuple(out @ dz)


def array_state(W, b):
    """x = tanh(W x + b) / 2 to convergence, vectorized."""
    x = np.zeros_like(b)
    step = 1.0
    while step > 1e-14:
        x_new = 0.5 * np.tanh(W @ x + b)
        step = np.max(np.abs(x_new - x))
        x = x_new
    return np.sum(x * x)


def horner_newton(x0, c0, c1, c2):
    """Newton on c2 x^2 + c1 x + c0 - 2 with a loop (Horner) inside the while loop."""
    x = x0
    dx = 1.0
    while abs(dx) > 1e-13:
        p = 0.0
        dp = 0.0
        for c in (c2, c1, c0):
            dp = dp * x + p
            p = p * x + c
        dx = (p - 2.0) / dp
        x = x - dx
    return x


def damped(a):
    """Newton for x^2 = a with a clipped step (an if in the body)."""
    x = 1.0
    dx = 1.0
    while abs(dx) > 1e-14:
        dx = (x * x - a) / (2.0 * x)
        if dx > 1.0:
            dx = 1.0
        x = x - dx
    return x


def _step(x, a):
    return 0.5 * (x + a / x)


def with_call(a):
    """Babylonian square root, the step in a helper function."""
    x = a
    prev = 0.0
    while abs(x - prev) > 1e-15 * x:
        prev = x
        x = _step(x, a)
    return x


def _contract(x, a):
    return 0.5 * math.cos(x) + a


def with_contracting_call(a):
    """x = cos(x) / 2 + a, the step in a helper: several adjoint iterations, each
    popping what the replayed call recorded."""
    x = 0.0
    dx = 1.0
    while abs(dx) > 1e-15:
        x_new = _contract(x, a)
        dx = x_new - x
        x = x_new
    return x


def grad_fp(f, wrt, **kw):
    return s2sad.grad(f, wrt, fixed_point=True, **kw)


@pytest.mark.parametrize("a,b", [(2.0, 1000.0), (1.0, 2.0), (5.0, -3.0), (0.5, 0.1)])
def test_newton_matches_implicit_function_theorem(a, b):
    got = grad_fp(newton, (0, 1))(a, b, 1e-12)
    want = newton_ift(a, b)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    # the exact reverse sweep through the iterations agrees to the loop's tolerance
    assert s2sad.grad(newton, (0, 1))(a, b, 1e-12) == pytest.approx(got, rel=1e-9)


@pytest.mark.parametrize("m,e", [(1.0, 0.3), (2.5, 0.7), (0.2, 0.05)])
def test_contraction_with_many_adjoint_iterations(m, e):
    got = grad_fp(kepler, (0, 1))(m, e)
    assert got == pytest.approx(kepler_ift(m, e), rel=1e-11)
    assert got == pytest.approx(numerical_grad(kepler, (m, e), (0, 1)), rel=1e-6)


@pytest.mark.parametrize("a,b", [(0.3, 0.2), (-0.5, 1.0), (1.0, -1.0)])
def test_two_states_updated_together(a, b):
    got = grad_fp(coupled, (0, 1))(a, b)
    assert got == pytest.approx(coupled_ift(a, b), rel=1e-11)
    assert got == pytest.approx(numerical_grad(coupled, (a, b), (0, 1)), rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_array_state(seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(5, 5)) / 5
    b = rng.normal(size=5)
    gW, gb = grad_fp(array_state, (0, 1))(W, b)
    nW, nb = numerical_grad(array_state, (W, b), (0, 1))
    np.testing.assert_allclose(gW, nW, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(gb, nb, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("x0,c", [(1.0, (0.5, 1.0, 2.0)), (3.0, (-1.0, 0.5, 1.5))])
def test_loop_inside_the_body(x0, c):
    g = grad_fp(horner_newton, (0, 1, 2, 3))(x0, *c)
    want = numerical_grad(horner_newton, (x0, *c), (0, 1, 2, 3))
    assert g == pytest.approx(want, rel=1e-6, abs=1e-9)
    assert g[0] == 0.0 or abs(g[0]) < 1e-12      # the root does not depend on the start
    assert "_tape" in s2sad.source(horner_newton, (1, 2, 3), fixed_point=True)


@pytest.mark.parametrize("a", [0.25, 2.0, 9.0, 50.0])
def test_branch_in_the_body(a):
    assert grad_fp(damped, 0)(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-12)


@pytest.mark.parametrize("a", [0.5, 2.0, 10.0])
def test_call_in_the_body(a):
    assert grad_fp(with_call, 0)(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-12)


@pytest.mark.parametrize("a", [0.0, 0.7, -2.0])
def test_call_in_the_body_replayed_in_each_adjoint_iteration(a):
    x = with_contracting_call(a)
    assert grad_fp(with_contracting_call, 0)(a) == pytest.approx(
        1.0 / (1.0 + 0.5 * math.sin(x)), rel=1e-12)
    text = s2sad.source(with_contracting_call, 0, fixed_point=True)
    forward, reverse = text.split("if _ran1:")
    assert "_contract(x_1, a)" in forward and "_tape" not in forward.split("while")[1]
    assert "fwd__contract(x_1, a, _tape=_tape)" in reverse.split("for _k1")[1]


GOLDEN_NEWTON = """\
def grad_newton(a, b, tol):
    x = 1.0
    dx = 1.0
    dx_1 = dx
    x_1 = x
    _ran1 = False
    while abs(dx_1) > tol:
        _ran1 = True
        _t1 = x_1 * x_1
        _t8 = 3.0 * x_1 * x_1 + a
        dx_2 = (_t1 * x_1 + a * x_1 - b) / _t8
        dx_1 = dx_2
        x_1 = x_1 - dx_2
    bx_1 = 1.0
    ba = 0.0
    bb = 0.0
    if _ran1:
        _t1 = x_1 * x_1
        _t8 = 3.0 * x_1 * x_1 + a
        dx_2 = (_t1 * x_1 + a * x_1 - b) / _t8
        _tol1 = 1e-14 * abs(bx_1)
        for _k1 in range(100000):
            nb_t5 = bx_1 / _t8
            b_t8 = nb_t5 * dx_2
            bb = bb + nb_t5
            ba = ba + b_t8 - nb_t5 * x_1
            bx_1 = bx_1 + 6.0 * b_t8 * x_1 - nb_t5 * a - 3.0 * nb_t5 * _t1
            if abs(bx_1) <= _tol1:
                break
        else:
            fixed_point_unsettled({line})
    return (ba, bb)
"""


def test_golden_source():
    """The whole generated gradient: a plain forward loop, one replay of the body at the
    root, the body's adjoint iterated; the error names the user's while line."""
    text = s2sad.source(newton, (0, 1), fixed_point=True)
    assert text.strip() == GOLDEN_NEWTON.format(line=_line_of(newton, "while")).strip()


def test_forward_loop_records_nothing():
    text = s2sad.source(newton, (0, 1), fixed_point=True)
    assert "_tape" not in text
    assert "_ran1 = True" in text and "for _k1 in range(100000)" in text
    g = grad_fp(newton, (0, 1))
    g(2.0, 3.0, 1e-12)
    assert "_tape" not in inspect.getsource(g._last.function)


def test_zero_iterations_pass_the_state_through():
    def f(a, tol):
        x = 3.0 * a
        while abs(0.5 * x + a - x) > tol:
            x = 0.5 * x + a
        return x * x
    g = grad_fp(f, 0)
    assert g(1.0, 10.0) == pytest.approx(18.0)           # no iteration: d(9 a^2)/da
    assert g(1.0, 1e-13) == pytest.approx(8.0)           # limit x = 2a: d(4 a^2)/da


def test_value_and_grad_and_raw_code():
    vg = s2sad.value_and_grad(newton, (0, 1), fixed_point=True)(1.0, 2.0, 1e-12)
    assert vg[0] == pytest.approx(1.0)
    assert vg[1] == pytest.approx(newton_ift(1.0, 2.0), rel=1e-12)
    raw = grad_fp(newton, (0, 1), optimize=False)(1.0, 2.0, 1e-12)
    assert raw == pytest.approx(newton_ift(1.0, 2.0), rel=1e-12)


def _line_of(func, text):
    lines, start = inspect.getsourcelines(func)
    return start + next(i for i, line in enumerate(lines) if text in line)


def sum_loop(x):
    total = 0.0
    term = 1.0
    k = 0
    while abs(term) > 1e-12:
        total = total + term
        k = k + 1
        term = term * x / k
    return total


def test_a_sum_carried_along_never_settles():
    with pytest.raises(s2sad.FixedPointError) as info:
        grad_fp(sum_loop, 0)(0.5)
    err = info.value
    assert err.filename == __file__
    assert err.lineno == _line_of(sum_loop, "while abs(term)")
    assert "did not settle in 100000 iterations" in str(err)
    assert "drop fixed_point=True" in str(err)
    # without the option the exact gradient of the series: exp(x)
    assert s2sad.grad(sum_loop)(0.5) == pytest.approx(math.exp(0.5), rel=1e-10)


def breaks_out(a):
    x = 1.0
    while True:
        dx = (x * x - a) / (2.0 * x)
        x = x - dx
        if abs(dx) < 1e-12:
            break
    return x


def breaks_midway(a):
    x = 1.0
    while True:
        dx = (x * x - a) / (2.0 * x)
        if abs(dx) < 1e-12:
            break
        x = x - dx
    return x


def nested_in_for(a, n):
    s = 0.0
    for i in range(n):
        x = 1.0
        while abs(x * x - a - i) > 1e-12:
            x = 0.5 * (x + (a + i) / x)
        s = s + x
    return s


@pytest.mark.parametrize("f,args,text,why", [
    (breaks_midway, (2.0,), "while True", "a break with statements after it"),
    (nested_in_for, (2.0, 3), "while abs(x * x", "inside another loop"),
])
def test_loops_that_do_not_fit_are_refused(f, args, text, why):
    with pytest.raises(s2sad.FixedPointError) as info:
        grad_fp(f, 0)(*args)
    assert info.value.lineno == _line_of(f, text)
    assert why in str(info.value)
    assert "drop fixed_point=True" in str(info.value)
    s2sad.grad(f, 0)(*args)          # without the option: differentiated exactly


@pytest.mark.parametrize("a", [0.5, 2.0, 9.0])
def test_break_that_ends_the_body(a):
    """``while True: ...; if converged: break`` with the break last: every iteration is a
    whole step, so the loop fits (its exit test is not replayed)."""
    g = grad_fp(breaks_out, 0)
    assert g(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-12)
    assert g(a) == pytest.approx(s2sad.grad(breaks_out, 0)(a), rel=1e-9)
    reverse = s2sad.source(breaks_out, 0, fixed_point=True).split("if _ran1:")[1]
    assert reverse.count("break") == 1          # the adjoint iteration's own


def test_in_place_change_refused():
    def f(a):
        xs = [1.0]
        while abs(xs[-1] * xs[-1] - a) > 1e-12:
            xs.append(0.5 * (xs[-1] + a / xs[-1]))
        return xs[-1]
    with pytest.raises(s2sad.FixedPointError, match="in place"):
        grad_fp(f, 0)(2.0)


# -- random contractions: the limit's gradient equals the exact one at convergence ----

def _random_contraction(seed):
    """Source of ``f(p0, p1)``: a while loop over 1-3 scalar states, each updated from
    the states and the parameters through tanh/sin/cos with small weights (a
    contraction), with an iteration cap in the test; the result mixes the states."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    names = [f"z{i}" for i in range(n)]
    funcs = ["math.tanh", "math.sin", "math.cos"]
    lines = ["def f(p0, p1):"]
    lines += [f"    {v} = {rng.uniform(-1, 1):.3f}" for v in names]
    lines += ["    change = 1.0", "    k = 0",
              "    while change > 1e-15 and k < 500:"]
    for v in names:
        terms = []
        for u in names:
            w = rng.uniform(-0.8, 0.8) / n
            terms.append(f"{w:.3f} * {funcs[int(rng.integers(3))]}({u})")
        p = ["p0", "p1", "p0 * p1"][int(rng.integers(3))]
        terms.append(f"{rng.uniform(0.2, 1.0):.3f} * {p}")
        lines.append(f"        {v}_new = " + " + ".join(terms))
    lines.append("        change = " + " + ".join(f"abs({v}_new - {v})" for v in names))
    lines += [f"        {v} = {v}_new" for v in names]
    lines.append("        k = k + 1")
    lines.append("    return " + " + ".join(f"{rng.uniform(-2, 2):.3f} * {v} * {v}"
                                           for v in names) + " + p0")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(12))
def test_random_contractions(seed, tmp_path):
    import importlib.util
    path = tmp_path / f"contraction_{seed}.py"
    path.write_text("import math\n\n\n" + _random_contraction(seed))
    spec = importlib.util.spec_from_file_location(f"contraction_{seed}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    f = module.f
    for p in [(0.3, -0.7), (1.1, 0.4)]:
        limit = grad_fp(f, (0, 1))(*p)
        exact = s2sad.grad(f, (0, 1))(*p)
        assert limit == pytest.approx(exact, rel=1e-10, abs=1e-12), path.read_text()
        assert limit == pytest.approx(numerical_grad(f, p, (0, 1)), rel=1e-5, abs=1e-8)


def _sqrt_loop(a):
    x = 1.0
    while abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def calls_a_loop(a):
    return _sqrt_loop(a) * a


def test_loops_in_called_functions_are_differentiated_exactly():
    """The option is about the while loops of f itself: a callee's loop is reversed
    iteration by iteration (the same gradient as without the option)."""
    for a in (0.5, 2.0, 7.0):
        with_option = grad_fp(calls_a_loop, 0)(a)
        assert with_option == s2sad.grad(calls_a_loop, 0, mode="reverse")(a)
        assert with_option == pytest.approx(1.5 * math.sqrt(a), rel=1e-9)


def element_read(p):
    """Array state read element by element in the body (its adjoint gets ``b[0] += g``)."""
    x = np.zeros(3)
    change = 1.0
    while change > 1e-15:
        x_new = 0.3 * np.sin(x) + 0.2 * p * x[0] + p * x[2] * 0.1 + p
        change = np.max(np.abs(x_new - x))
        x = x_new
    return np.sum(x * x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_array_state_read_by_element(seed):
    p = np.random.default_rng(seed).uniform(-1.0, 1.0, 3)
    limit = grad_fp(element_read, 0)(p)
    np.testing.assert_allclose(limit, s2sad.grad(element_read, 0)(p), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(limit, numerical_grad(element_read, (p,), 0), rtol=1e-5,
                               atol=1e-8)


def slow_contraction(p, rate):
    """x = rate x + (1 - rate) p: the limit is p whatever the rate; at 0.999 the
    adjoint needs some 30,000 iterations, as the loop itself does."""
    x = 0.0
    dx = 1.0
    while abs(dx) > 1e-13:
        x_new = rate * x + (1.0 - rate) * p
        dx = x_new - x
        x = x_new
    return x


@pytest.mark.parametrize("rate", [0.5, 0.99, 0.999])
def test_slow_contraction(rate):
    assert grad_fp(slow_contraction, 0)(0.7, rate) == pytest.approx(1.0, rel=1e-9)


def value_from_the_body(a):
    """``y`` is computed in the body from the state and read after the loop."""
    x = 0.0
    y = 0.0
    while abs(0.5 * math.cos(x) + a - x) > 1e-15:
        y = math.cos(x)
        x = 0.5 * y + a
    return x * y


def two_loops(a, b):
    """Two solves in a row, the second started from and driven by the first root."""
    x = 1.0
    while abs(x * x - a) > 1e-13:
        x = 0.5 * (x + a / x)
    z = x
    while abs(z * z * z - b * x) > 1e-12:
        z = z - (z * z * z - b * x) / (3.0 * z * z)
    return z + x


@pytest.mark.parametrize("f,args", [(value_from_the_body, (0.4,)), (value_from_the_body, (1.3,)),
                                    (two_loops, (2.0, 3.0)), (two_loops, (0.5, 7.0))])
def test_more_shapes_of_loops(f, args):
    wrt = tuple(range(len(args)))
    limit = grad_fp(f, wrt)(*args)
    assert limit == pytest.approx(s2sad.grad(f, wrt)(*args), rel=1e-9, abs=1e-12)
    assert limit == pytest.approx(numerical_grad(f, args, wrt), rel=1e-6)


def _stopped_by_a_count(x):
    y = 0.0
    i = 0
    while True:
        y = 0.9 * y + math.sin(x)
        i += 1
        if i >= 7:
            break
    return y


def _counted(x):
    y = 0.0
    i = 0
    while i < 7:
        y = 0.9 * y + math.sin(x)
        i += 1
    return y


def _settles_then_breaks(a):
    x = 1.0
    while True:
        dx = (x * x - a) / (2.0 * x)
        x = x - dx
        if abs(dx) < 1e-12 or x > 1e6:
            break
    return x


@pytest.mark.parametrize("func", [_stopped_by_a_count, _counted], ids=lambda f: f.__name__)
def test_a_loop_stopped_by_a_count_alone_is_refused(func):
    """(it gave the derivative of the limit the loop never reached: 7.65 for 4.47)"""
    with pytest.raises(s2sad.FixedPointError) as info:
        s2sad.grad(func, fixed_point=True)(0.7)
    assert "no test that ends it reads a value carrying a derivative" in str(info.value)
    assert info.value.lineno == func.__code__.co_firstlineno + 3
    assert s2sad.grad(func)(0.7) == pytest.approx(
        (func(0.7 + 1e-6) - func(0.7 - 1e-6)) / 2e-6, rel=1e-6)


def test_a_loop_whose_break_tests_a_settled_value_is_differentiated_at_its_limit():
    assert s2sad.grad(_settles_then_breaks, fixed_point=True)(2.0) == \
        pytest.approx(0.5 / math.sqrt(2.0), rel=1e-9)
