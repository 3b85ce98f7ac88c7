"""Name hygiene, input safety, exception safety and thread safety.

* user variables spelled like the names s2sad generates (``bx``, ``_t1``,
  ``_tape``, ``seed``, ``np`` as a local float, ...) give the same gradients
  as the same function with plain names, and agree with finite differences;
* a module that redefines builtins (``abs``, ``max``, ``range``, ``float``)
  is differentiated with its own definitions, and the generated code's own
  loops still use the real ``range``;
* array inputs are never mutated by a gradient call;
* a gradient call that raises leaves no state behind;
* 8 threads transforming and calling the same function at once agree with
  serial calls.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys
import threading

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

_COUNTER = itertools.count()


def load_module(tmp_path, source, stem="hyg"):
    """Write ``source`` to a fresh .py file and import it (inspect.getsource works)."""
    name = f"_s2sad_{stem}_{next(_COUNTER)}"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def check_against_fd(f, points, wrt=(0, 1), rtol=1e-5, atol=1e-7):
    g = s2sad.grad(f, wrt=wrt)
    results = []
    for args in points:
        got = g(*args)
        want = numerical_grad(f, list(args), wrt)
        assert isinstance(got, tuple) and len(got) == len(wrt), got
        for gi, wi in zip(got, want):
            assert np.allclose(gi, wi, rtol=rtol, atol=atol), (
                f"{f.__name__}{args}: s2sad {got} vs numeric {want}\n"
                + s2sad.source(f, wrt=wrt))
        results.append(got)
    return results


POINTS = [(0.7, -1.3, 3), (-0.4, 0.9, 2), (1.6, 0.25, 4)]


# ---------------------------------------------------------------------------
# user names that look like generated names


def generated_names(x, y, n):
    bx = x * y
    by = math.sin(bx) + y
    dx = by * by
    _t1 = dx / (1.0 + x * x)
    _c1 = _t1 > 0.1
    if _c1:
        b_t1 = _t1 * x
    else:
        b_t1 = _t1 - y
    _tape = b_t1
    _n1 = 0
    while _n1 < n:
        _n1 = _n1 + 1
        _tape = math.tanh(_tape * x + by)
    for _ in range(n):
        _tape = _tape + 0.5 * math.cos(_tape * bx)
    return _tape + b_t1


def plain_names(x, y, n):
    a = x * y
    b = math.sin(a) + y
    c = b * b
    d = c / (1.0 + x * x)
    e = d > 0.1
    if e:
        g = d * x
    else:
        g = d - y
    h = g
    k = 0
    while k < n:
        k = k + 1
        h = math.tanh(h * x + b)
    for _i in range(n):
        h = h + 0.5 * math.cos(h * a)
    return h + g


def test_names_like_adjoints_temps_tape_and_counters():
    got = check_against_fd(generated_names, POINTS)
    want = [s2sad.grad(plain_names, wrt=(0, 1))(*p) for p in POINTS]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def tangent_names(x, y):
    dx = x * y                  # forward mode calls the tangent of x 'dx'
    ddx = math.sin(dx) + y
    dy = ddx * x
    d_t1 = dy / (1.0 + dx * dx)
    return d_t1 + dx


def test_names_like_tangents_in_forward_mode():
    # jvp along (tx, ty) must equal grad . (tx, ty), with user names dx, ddx, dy, d_t1
    for x, y, _ in POINTS:
        gx, gy = check_against_fd(tangent_names, [(x, y)])[0]
        for tx, ty in [(1.0, 0.0), (0.0, 1.0), (0.3, -0.7)]:
            value, tangent = s2sad.jvp(tangent_names, wrt=(0, 1))(x, y, tx, ty)
            assert value == tangent_names(x, y)
            assert tangent == pytest.approx(gx * tx + gy * ty, rel=1e-12, abs=1e-14)


def runtime_helper_names(x, y):
    seed = x * x
    unbroadcast = seed * y
    zeros_like = unbroadcast + math.exp(y)
    grad_runtime_helper_names = zeros_like / (1.0 + seed)
    value_and_grad_runtime_helper_names = grad_runtime_helper_names * y
    return value_and_grad_runtime_helper_names + seed


def runtime_helper_names_plain(x, y):
    a = x * x
    b = a * y
    c = b + math.exp(y)
    d = c / (1.0 + a)
    e = d * y
    return e + a


def test_names_like_runtime_helpers_and_generated_function():
    got = check_against_fd(runtime_helper_names, [p[:2] for p in POINTS])
    want = [s2sad.grad(runtime_helper_names_plain, wrt=(0, 1))(*p[:2]) for p in POINTS]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    vg = s2sad.value_and_grad(runtime_helper_names, wrt=(0, 1))(0.3, 0.8)
    assert vg[0] == runtime_helper_names(0.3, 0.8)
    np.testing.assert_allclose(vg[1], s2sad.grad(runtime_helper_names, wrt=(0, 1))(0.3, 0.8),
                               rtol=1e-12)


def np_and_math_as_locals(x, y):
    np = x * 2.0            # a local float called np
    math = np + y           # and one called math
    s2sad = math * math
    return sin(s2sad) + exp(np) + tanh(math)   # noqa: F821 - module-level below


def np_and_math_as_locals_plain(x, y):
    a = x * 2.0
    b = a + y
    c = b * b
    return sin(c) + exp(a) + tanh(b)   # noqa: F821


sin, exp, tanh = math.sin, math.exp, math.tanh   # the functions above use these


def test_np_math_s2sad_as_local_floats():
    # the rules for sin/exp/tanh refer to math.cos etc.: the generated code must
    # reach the math module under a name the user's locals do not hide
    got = check_against_fd(np_and_math_as_locals, [p[:2] for p in POINTS])
    want = [s2sad.grad(np_and_math_as_locals_plain, wrt=(0, 1))(*p[:2]) for p in POINTS]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


_numpy = np


def arrays_with_np_local(a, b):
    np = _numpy.sum(a * b)         # a local float called np
    unbroadcast = _numpy.sum(_numpy.sin(a) * 2.0 + b[:, None])
    return unbroadcast * np


def test_np_local_with_array_rules():
    # array rules use np.* and unbroadcast; the user's local np is a float here
    a = np.array([0.3, -1.2, 0.8])
    b = np.array([1.1, 0.4, -0.5])
    got = s2sad.grad(arrays_with_np_local, wrt=(0, 1))(a, b)
    want = numerical_grad(arrays_with_np_local, [a, b], (0, 1))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def array_helper_names(a, b, n):
    fit = a * b                       # runtime helpers of the generated code...
    copy_of = np.sin(fit) + b
    owned = copy_of * 1.0
    owned[0] = owned[1] * a[2]        # ...around an element write into a local array
    sum_adjoint = np.sum(owned * a)
    getitem_adjoint = owned[2]
    index_add = 0.0
    for range_ in range(n):
        index_add = index_add + np.tanh(sum_adjoint * 0.1 + range_) * getitem_adjoint
    fwd_array_helper_names = index_add + np.mean(copy_of)
    return fwd_array_helper_names


def array_helper_names_plain(a, b, n):
    p = a * b
    q = np.sin(p) + b
    r = q * 1.0
    r[0] = r[1] * a[2]
    s = np.sum(r * a)
    t = r[2]
    u = 0.0
    for k in range(n):
        u = u + np.tanh(s * 0.1 + k) * t
    v = u + np.mean(q)
    return v


def test_names_like_array_runtime_helpers():
    a = np.array([0.3, -1.2, 0.8])
    b = np.array([1.1, 0.4, -0.5])
    for n in (0, 3):
        got = s2sad.grad(array_helper_names, wrt=(0, 1))(a, b, n)
        want = s2sad.grad(array_helper_names_plain, wrt=(0, 1))(a, b, n)
        fd = numerical_grad(array_helper_names, [a, b, n], (0, 1))
        for g, w, d in zip(got, want, fd):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(g, d, rtol=1e-6, atol=1e-8)
        # forward mode too
        ta, tb = np.array([1.0, -0.5, 0.25]), np.array([0.0, 2.0, 1.0])
        value, tangent = s2sad.jvp(array_helper_names, wrt=(0, 1))(a, b, n, ta, tb)
        assert value == pytest.approx(array_helper_names(a, b, n), rel=1e-12)
        assert tangent == pytest.approx(np.dot(got[0], ta) + np.dot(got[1], tb), rel=1e-9)


def ssa_like_names(x, y):
    x_1 = x * y
    x_2 = x_1 + x
    y_1 = math.sin(x_2)
    x = x_2 * y_1          # x is reassigned: SSA wants to call it x_1
    y = x + y_1
    x_3 = x * y
    return x_3 + x_1 + x


def ssa_like_names_plain(x, y):
    p = x * y
    q = p + x
    r = math.sin(q)
    x = q * r
    y = x + r
    s = x * y
    return s + p + x


def test_names_like_ssa_versions():
    got = check_against_fd(ssa_like_names, [p[:2] for p in POINTS])
    want = [s2sad.grad(ssa_like_names_plain, wrt=(0, 1))(*p[:2]) for p in POINTS]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def loop_names(x, n):
    b_t1 = x
    bb_t1 = 0.0
    for _n1 in range(n):
        _ = b_t1 * 0.5
        bb_t1 = bb_t1 + math.sin(_ + _n1)
        b_t1 = b_t1 + bb_t1 * x
    return b_t1 + bb_t1


def loop_names_plain(x, n):
    a = x
    c = 0.0
    for i in range(n):
        u = a * 0.5
        c = c + math.sin(u + i)
        a = a + c * x
    return a + c


def test_loop_variable_named_underscore_and_counter():
    for n in (0, 1, 3):
        got = s2sad.grad(loop_names)(0.4, n)
        assert got == pytest.approx(s2sad.grad(loop_names_plain)(0.4, n), rel=1e-12)
        assert got == pytest.approx(numerical_grad(loop_names, [0.4, n]), rel=1e-6)


def test_source_of_colliding_names_keeps_user_names():
    text = s2sad.source(generated_names, wrt=(0, 1))
    # the user's own bx is computed as in the user's code...
    assert "bx = x * y" in text
    # ...and the generated function is not confused with the user's names
    compile(text, "<generated>", "exec")


# ---------------------------------------------------------------------------
# a module that shadows builtins

SHADOW_MODULE = '''
import builtins
import math

_range = builtins.range


def abs(v):            # not the builtin: smooth
    return v * v


def max(a, b):         # not the builtin: a sum
    return a + b


def range(n):          # one more iteration than the builtin
    return _range(n + 1)


def float(v):          # doubles
    return 2.0 * v


def f(x, y, n):
    acc = abs(x) + max(x, y)
    for i in range(n):
        acc = acc * 0.5 + math.sin(acc * y) + float(i) * 0.1
    return acc * float(x)


def f_plain(x, y, n):
    acc = x * x + (x + y)
    for i in builtins.range(n + 1):
        acc = acc * 0.5 + math.sin(acc * y) + 2.0 * i * 0.1
    return acc * (2.0 * x)
'''

SHADOW_RANGE_ONLY = '''
import math

range = None        # the module hides range; f does not use it
float = str


def f(x, y, n):
    acc = x
    k = 0
    while k < n:
        k = k + 1
        acc = math.tanh(acc * y + x)
    return acc * acc
'''


def test_module_shadowing_builtins_uses_the_modules_definitions(tmp_path):
    mod = load_module(tmp_path, SHADOW_MODULE, "shadow")
    for p in POINTS:
        assert mod.f(*p) == pytest.approx(mod.f_plain(*p), rel=1e-12)
    got = check_against_fd(mod.f, POINTS)
    want = [s2sad.grad(mod.f_plain, wrt=(0, 1))(*p) for p in POINTS]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_generated_loops_use_the_real_range_when_module_hides_it(tmp_path):
    mod = load_module(tmp_path, SHADOW_RANGE_ONLY, "shadow_range")
    check_against_fd(mod.f, POINTS)


# ---------------------------------------------------------------------------
# inputs are never mutated


def array_fn(a, b, s):
    c = np.sin(a) * b + s
    d = c * a
    return np.sum(d * d) + s * np.sum(b)


def array_aug(a, b):
    a += b            # rebinding in s2sad's normal form; in-place in Python
    a *= 2.0
    return np.sum(a * a)


def array_loop(a, b, n):
    acc = a
    for _i in range(n):
        acc = np.tanh(acc * b + a)
    return np.sum(acc)


def array_write(a, b):
    a[0] = a[0] * b[1]          # the function itself writes into its input
    return np.sum(a * b)


@pytest.mark.parametrize("func,args", [
    (array_fn, (np.array([0.3, -0.5, 1.2]), np.array([[1.0, 2.0, -0.5]]), 0.7)),
    (array_aug, (np.array([0.3, -0.5, 1.2]), np.array([0.1, 0.2, 0.3]))),
    (array_loop, (np.array([0.3, -0.5, 1.2]), np.array([0.1, 0.2, 0.3]), 3)),
])
def test_inputs_not_mutated(func, args):
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    wrt = tuple(i for i, a in enumerate(args) if isinstance(a, (np.ndarray, float)))
    got = s2sad.grad(func, wrt=wrt)(*args)
    for a, b in zip(args, before):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
    # calling again (cached code) does not mutate either, and gives the same result
    again = s2sad.value_and_grad(func, wrt=wrt)(*args)
    for a, b in zip(args, before):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
    for g1, g2 in zip(got, again[1]):
        np.testing.assert_allclose(g1, g2, rtol=1e-12)
    if func is not array_aug:    # array_aug mutates its arguments when called itself
        want = numerical_grad(func, list(args), wrt)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def test_input_written_by_the_function_is_not_mutated_by_grad():
    a = np.array([0.3, -0.5, 1.2])
    b = np.array([0.1, 0.2, 0.3])
    a0, b0 = a.copy(), b.copy()
    ga, gb = s2sad.grad(array_write, wrt=(0, 1))(a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)
    # f = a0*b1*b0 + a1*b1 + a2*b2
    np.testing.assert_allclose(ga, [b0[1] * b0[0], b0[1], b0[2]])
    np.testing.assert_allclose(gb, [a0[0] * b0[1], a0[0] * b0[0] + a0[1], a0[2]])


def array_aug_write(a, b):
    a[2] += b[0]                # an augmented element write into the input
    return np.sum(a * a)


def _jvp_keeps_inputs(func):
    a = np.array([0.3, -0.5, 1.2])
    b = np.array([0.1, 0.2, 0.3])
    ta, tb = np.array([1.0, 0.0, 2.0]), np.array([0.5, 0.5, 0.5])
    saved = [v.copy() for v in (a, b, ta, tb)]
    value, tangent = s2sad.jvp(func, wrt=(0, 1))(a, b, ta, tb)
    for v, v0 in zip((a, b, ta, tb), saved):
        np.testing.assert_array_equal(v, v0)
    ga, gb = s2sad.grad(func, wrt=(0, 1))(a, b)
    assert tangent == pytest.approx(np.dot(ga, ta) + np.dot(gb, tb))


def test_jvp_does_not_write_into_inputs_or_tangents():
    _jvp_keeps_inputs(array_write)


def test_jvp_does_not_write_into_inputs_or_tangents_augmented():
    _jvp_keeps_inputs(array_aug_write)


# ---------------------------------------------------------------------------
# exceptions leave no state


def divides(x, y):
    return x / y + x * y


def loop_divides(x, y, n):
    acc = x
    for i in range(n):
        acc = acc + x / (y - i)     # raises when y == i, with the tape half full
    return acc * y


def sqrt_at_zero(x, y):
    return math.sqrt(x) * y         # forward fine at x == 0, reverse divides by 0


def test_raising_call_then_good_call():
    g = s2sad.grad(divides, wrt=(0, 1))
    with pytest.raises(ZeroDivisionError):
        g(1.0, 0.0)                  # first call: transforms, then raises
    assert g(2.0, 4.0) == pytest.approx((1 / 4.0 + 4.0, -2.0 / 16.0 + 2.0))
    with pytest.raises(ZeroDivisionError):
        g(1.0, 0.0)
    assert g(2.0, 4.0) == pytest.approx((1 / 4.0 + 4.0, -2.0 / 16.0 + 2.0))


def test_raising_inside_taped_loop_then_good_call():
    g = s2sad.grad(loop_divides, wrt=(0, 1))
    with pytest.raises(ZeroDivisionError):
        g(0.5, 1.0, 3)               # i == 1 divides by zero, the tape holds one record
    for args in [(0.5, 3.5, 3), (0.2, -1.5, 2), (0.5, 3.5, 3)]:
        want = numerical_grad(loop_divides, list(args), (0, 1))
        assert g(*args) == pytest.approx(want, rel=1e-6)


def test_raising_in_reverse_sweep_then_good_call():
    g = s2sad.grad(sqrt_at_zero, wrt=(0, 1))
    with pytest.raises(ZeroDivisionError):
        g(0.0, 1.0)
    assert g(4.0, 3.0) == pytest.approx((3.0 / 4.0, 2.0))


def test_bad_arguments_then_good_call():
    g = s2sad.grad(divides, wrt=(0, 1))
    with pytest.raises(s2sad.ArgumentError):
        g(1.0)                       # missing argument: reported before transforming
    with pytest.raises(s2sad.ArgumentError):
        g(1.0, 2.0, 3.0)
    assert g(2.0, 4.0) == pytest.approx((1 / 4.0 + 4.0, -2.0 / 16.0 + 2.0))


# ---------------------------------------------------------------------------
# threads

THREAD_MODULE = '''
import math


def f(x, y, n):
    acc = x
    for i in range(n):
        if acc > 0.0:
            acc = math.tanh(acc * y + 0.1 * i)
        else:
            acc = math.sin(acc + y) * x
    k = 0
    while k < n and acc < 2.0:
        k = k + 1
        acc = acc + 0.3 * math.cos(acc * x)
    return acc * y + x
'''

THREADS = 8


def _thread_points():
    rng = np.random.default_rng(1234)
    return [(float(rng.uniform(-1.5, 1.5)), float(rng.uniform(-1.5, 1.5)), int(n))
            for n in rng.integers(0, 5, size=6)]


def _run_in_threads(worker):
    barrier = threading.Barrier(THREADS)
    results = [None] * THREADS
    errors = []

    def run(k):
        try:
            barrier.wait(timeout=30)
            results[k] = worker(k)
        except BaseException as exc:   # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_threads_share_one_grad_function_first_call_concurrent(tmp_path):
    mod = load_module(tmp_path, THREAD_MODULE, "threads1")
    points = _thread_points()
    g = s2sad.grad(mod.f, wrt=(0, 1))          # not transformed yet

    results = _run_in_threads(lambda k: [g(*p) for p in points[k % 3:] + points[:k % 3]])

    serial_mod = load_module(tmp_path, THREAD_MODULE, "threads1_serial")
    serial = [s2sad.grad(serial_mod.f, wrt=(0, 1))(*p) for p in points]
    for k, got in enumerate(results):
        rotated = serial[k % 3:] + serial[:k % 3]
        assert got == rotated
    for p, s in zip(points, serial):
        assert s == pytest.approx(numerical_grad(mod.f, list(p), (0, 1)), rel=1e-5, abs=1e-8)


def test_threads_each_transform_the_same_function(tmp_path):
    mod = load_module(tmp_path, THREAD_MODULE, "threads2")
    points = _thread_points()

    def worker(k):
        # a new GradFunction per thread, all racing to transform mod.f;
        # mixed outputs (grad and value_and_grad) and argument types
        g = s2sad.grad(mod.f, wrt=(0, 1))
        vg = s2sad.value_and_grad(mod.f, wrt=(0, 1))
        out = []
        for p in points:
            out.append(g(*p))
            out.append(vg(np.float64(p[0]), p[1], p[2])[1])
        return out

    results = _run_in_threads(worker)
    serial_mod = load_module(tmp_path, THREAD_MODULE, "threads2_serial")
    g = s2sad.grad(serial_mod.f, wrt=(0, 1))
    serial = []
    for p in points:
        serial += [g(*p), g(*p)]
    for got in results:
        assert [tuple(map(float, r)) for r in got] == serial


THREAD_HELPERS_MODULE = '''
import math


def helper(a, b):
    acc = a
    for i in range(3):
        acc = math.tanh(acc * b + 0.1 * i)
    return acc


def inner(a):
    return helper(a, a * 0.5) + a * a


def f0(x, y):
    return helper(x, y) + inner(y)
''' + "".join(f'''

def f{k}(x, y):
    s = helper(x * {k}.0 * 0.1, y) + inner(x)
    if s > 0.0:
        s = s * helper(y, x)
    return s + {k}.0 * x
''' for k in range(1, 8))


def test_threads_transform_different_functions_sharing_helpers(tmp_path):
    # 8 functions, first transformed at once, all calling the same helpers (compiled
    # once per specialization and shared)
    mod = load_module(tmp_path, THREAD_HELPERS_MODULE, "threads_helpers")
    points = [(0.3, -0.7), (-1.1, 0.4), (0.9, 1.3)]
    results = _run_in_threads(
        lambda k: [s2sad.grad(getattr(mod, f"f{k}"), wrt=(0, 1))(*p) for p in points])
    serial_mod = load_module(tmp_path, THREAD_HELPERS_MODULE, "threads_helpers_serial")
    for k, got in enumerate(results):
        fk = getattr(serial_mod, f"f{k}")
        want = [s2sad.grad(fk, wrt=(0, 1))(*p) for p in points]
        assert got == want
        for p, g in zip(points, got):
            assert g == pytest.approx(numerical_grad(fk, list(p), (0, 1)), rel=1e-6, abs=1e-9)


def test_threads_use_separate_tapes(tmp_path):
    # a long loop in every thread at once: a shared tape would mix the records
    mod = load_module(tmp_path, THREAD_MODULE, "threads3")
    g = s2sad.grad(mod.f, wrt=(0, 1))
    g(0.1, 0.2, 1)                                # transform before the race

    def worker(k):
        return [g(0.1 * k - 0.3, 0.05 * k + 0.2, 200) for _ in range(5)]

    results = _run_in_threads(worker)
    for k, got in enumerate(results):
        want = g(0.1 * k - 0.3, 0.05 * k + 0.2, 200)
        assert all(r == want for r in got)


# ---------------------------------------------------------------------------
# A transformation leaves no reference cycle holding its trees. The passes allocate
# thousands of nodes with the cyclic collector paused (pipeline.build); a nested
# function calling itself through its closure cell once kept a whole tree alive
# until the next collection, which then walked it (milliseconds per transformation,
# and the trees pushed into the older generations).

_CYCLE_SOURCE = '''
import math
import numpy as np


def scalar_loop(x, y, n):
    s = 0.0
    t = x
    while abs(t) > 1e-3:
        t = t * 0.5
        s = s + math.sin(t * y)
    for i in range(n):
        if s > 0:
            s = s * x - y
        else:
            s = s + x * x
    return s


def stores(w, x):
    a = np.zeros(3)
    a[0] = x * w[0]
    a[1] = np.sum(w * w)
    a[2] = x
    return np.sum(a * a)
'''


@pytest.mark.parametrize("name, args, options", [
    ("scalar_loop", (0.7, 1.3, 4), {}),
    ("scalar_loop", (0.7, 1.3, 4), {"mode": "forward"}),
    ("scalar_loop", (0.7, 1.3, 4), {"mode": "reverse", "checkpoint": True}),
    ("scalar_loop", (0.7, 1.3, 4), {"mode": "reverse", "optimize": False}),
    ("stores", (np.array([0.5, -1.0, 2.0]), 0.3), {}),
])
def test_transformation_leaves_no_cycle_holding_trees(tmp_path, name, args, options):
    import gc

    import gast

    func = getattr(load_module(tmp_path, _CYCLE_SOURCE, "cycles"), name)
    wrt = (0, 1)
    g = s2sad.grad(func, wrt, **options)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        got = g(*args)              # the transformation runs here
        gc.collect()
        nodes = [type(o).__name__ for o in gc.garbage if isinstance(o, gast.AST)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert nodes == []
    for i in wrt:
        assert np.allclose(got[i], numerical_grad(func, args, i), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("options", [{}, {"mode": "forward"}, {"mode": "reverse"}])
def test_a_cached_specialization_keeps_no_namer(tmp_path, options):
    """The namer's tables (every name of the transform) are dropped once the code is
    compiled (``Context.release``): a cached specialization kept 244 kB of the 100-line
    benchmark function, 101 kB without them. Later calls, a gradient of the gradient
    and the location of an error in the generated code work without them."""
    func = load_module(tmp_path, _CYCLE_SOURCE, "released").scalar_loop
    g = s2sad.grad(func, (0, 1), **options)
    args = (0.7, 1.3, 4)
    got = g(*args)
    assert g._last.ctx.namer is None
    assert g(*args) == got
    for i in (0, 1):
        assert np.allclose(got[i], numerical_grad(func, args, i), rtol=1e-5, atol=1e-7)
    h = s2sad.hessian(func, (0, 1))(*args)
    assert np.asarray(h).shape == (2, 2)
    first = numerical_grad(lambda x, y, n: g(x, y, n)[0], args, (0, 1))
    assert np.allclose(np.asarray(h)[0], first, rtol=1e-4, atol=1e-6)


_TRANSIENT_SOURCE = '''
import math


def helper(u, v):
    return u * math.sin(v) + v


def make(c):
    def inner(u):
        return u * u * c

    def f(x, y):
        s = 0.0
        for k in range(3):
            s = s + helper(x, y * k) + inner(x - y)
        return s * c
    return f
'''


@pytest.mark.parametrize("options", [{}, {"mode": "forward"}, {"mode": "reverse"},
                                     {"mode": "reverse", "checkpoint": True}])
def test_code_made_for_a_closure_goes_with_it(tmp_path, options):
    """A closure made anew on each pass of a loop: the code made for each (and for the
    helper closure it calls) goes when the closure does, not kept by s2sad's cache;
    while a closure lives, its code is made once."""
    import gc
    import weakref

    from s2sad import api

    module = load_module(tmp_path, _TRANSIENT_SOURCE, "transient")
    args = (0.7, -0.4)

    def one_pass(c):
        f = module.make(c)
        g = s2sad.grad(f, (0, 1), **options)
        got = g(*args)
        for i in (0, 1):
            assert np.allclose(got[i], numerical_grad(f, args, i), rtol=1e-5, atol=1e-7)
        return weakref.ref(f), weakref.ref(g._last.function)

    one_pass(0.5)               # module-level helpers get their code made here, for good
    gc.collect()
    size = len(api._CACHE)
    refs = [one_pass(1.0 + 0.1 * k) for k in range(10)]
    gc.collect()
    assert [r() for pair in refs for r in pair] == [None] * 20
    assert len(api._CACHE) == size

    f = module.make(2.0)        # a closure alive: transformed once, however often called
    g = s2sad.grad(f, (0, 1), **options)
    first = g(*args)
    size = len(api._CACHE)
    made = g._last
    gc.collect()
    assert g(*args) == first and g._last is made and len(api._CACHE) == size
    assert np.allclose(s2sad.grad(f, (0, 1), **options)(*args), first)
    assert len(api._CACHE) == size          # another grad of it finds its code


def test_cached_code_of_a_closure_sees_a_redefined_helper(tmp_path):
    """The cached context reads the function through a weak proxy (``Context.release``):
    a module-level helper rebound since still makes the code stale for a new gradient
    of the closure (as ``test_a_new_gradient_sees_a_redefined_helper`` of test_calls)."""
    module = load_module(tmp_path, _TRANSIENT_SOURCE, "transient_stale")
    f = module.make(1.5)
    g = s2sad.grad(f, (0, 1))
    args = (0.7, -0.4)
    before = g(*args)
    other = load_module(tmp_path, "def helper(u, v):\n    return u * u * v\n", "helper2")
    module.helper = other.helper
    after = s2sad.grad(f, (0, 1))(*args)        # a new gradient sees it
    assert not np.allclose(before, after)
    for i in (0, 1):
        assert np.allclose(after[i], numerical_grad(f, args, i), rtol=1e-5, atol=1e-7)
