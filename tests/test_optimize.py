"""The clean-up pass (s2sad/optimize.py): it stops at a fixed point, and what it drops."""

from __future__ import annotations

import math
import re

import fuzz_programs as fp
import numpy as np
import pytest
from corpus import CASES
from gradcheck import numerical_grad

import s2sad
from s2sad import optimize


@pytest.fixture
def extra_sweep(monkeypatch):
    """After the optimizer's loop, run one more sweep of every pass (old style, each
    on the whole function) and record the functions where it still finds work."""
    unfinished = []
    final_step = optimize._error_checks

    def check_then_finish(tree, ctx, facts, counts=None, blocks=None):
        fold = optimize._Fold(ctx)
        touched = set()
        changes = {
            "swap_back": optimize._swap_back(tree, ctx, facts),
            "dead": optimize._dead(tree, ctx, facts),
            "propagate": optimize._propagate(tree, ctx, facts, touched, fold),
            "constant_adjoints": optimize._constant_adjoints(tree, ctx, facts, touched),
            "fold": bool(optimize._fold(fold, tree, None, facts)),
        }
        if any(changes.values()):
            unfinished.append((ctx.name, [k for k, v in changes.items() if v]))
        return final_step(tree, ctx, facts, counts, blocks)     # (the sweep changed nothing)

    monkeypatch.setattr(optimize, "_error_checks", check_then_finish)
    return unfinished


def test_fixed_point_on_random_programs(extra_sweep, tmp_path, monkeypatch):
    """The loop stops only when a sweep could find nothing more (dead values read
    only after their loop, through copies, included)."""
    monkeypatch.setenv("S2SAD_CACHE_DIR", str(tmp_path / "generated"))
    checked = 0
    for seed in range(60):
        for size in ("small", "medium"):
            result = fp.check(fp.generate(seed, size=size), str(tmp_path))
            assert result.status in ("ok", "skipped"), result.report()
            checked += 1
    assert checked == 120
    assert extra_sweep == []


def test_fixed_point_on_the_corpus(extra_sweep):
    for case in CASES:
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in case.points[0]]
        s2sad.value_and_grad(case.func, wrt=case.wrt)(*args)
    assert extra_sweep == []


def test_kept_facts_counts_and_blocks_are_those_made_again_on_the_corpus(monkeypatch):
    """What the clean-up keeps up to date instead of making again: the names of a
    statement a value is inlined into or renamed in (_Facts.update), the counts of
    stores and reads the passes are given, and the list of blocks."""
    from collections import Counter

    from s2sad import fuse
    from s2sad.gastutil import blocks as all_blocks

    checked = Counter()

    def same(tree, facts, counts, blocks):
        if counts is not None:
            stores, loads = facts.counts(tree)
            assert +stores == +counts[0] and min(counts[0].values(), default=1) > 0
            assert +loads == +counts[1] and min(counts[1].values(), default=0) >= 0
            checked["counts"] += 1
        if blocks is not None:
            assert [id(b) for b in all_blocks(tree.body)] == [id(b) for b in blocks if b]
            checked["blocks"] += 1

    update = optimize._Facts.update

    def checked_update(self, s, lists):
        fresh = optimize._scan(s)
        assert Counter(fresh[0]) == Counter(lists[0]) and fresh[1:] == tuple(lists[1:])
        checked["facts"] += 1
        return update(self, s, lists)

    def wrap(owner, name, at):
        real = getattr(owner, name)

        def checked_pass(*args, **kwargs):
            bound = dict(zip(at, args), **kwargs)
            same(bound["tree"], bound.get("facts"), bound.get("counts"), bound.get("blocks"))
            return real(*args, **kwargs)
        monkeypatch.setattr(owner, name, checked_pass)

    monkeypatch.setattr(s2sad.api, "_CACHE", {})        # (transformed again)
    monkeypatch.setattr(optimize._Facts, "update", checked_update)
    wrap(optimize, "_dead", ("tree", "ctx", "facts", "scaffolding", "counts", "blocks"))
    wrap(optimize, "_propagate", ("tree", "ctx", "facts", "touched", "fold", "copies",
                                  "counts", "blocks"))
    wrap(optimize, "_swap_back", ("tree", "ctx", "facts", "counts", "blocks"))
    wrap(optimize, "_error_checks", ("tree", "ctx", "facts", "counts", "blocks"))
    wrap(fuse, "run", ("tree", "ctx", "facts", "counts", "blocks"))
    inline = fuse._Fuse.inline

    def checked_inline(self, crossing, loads, blocks, only=None):
        # the reads direct_loops, inlining and sinking keep up to date, and the blocks
        same(self.tree, self.facts, (self.facts.counts(self.tree)[0], loads),
             None if only is not None else blocks)
        return inline(self, crossing, loads, blocks, only)
    monkeypatch.setattr(fuse._Fuse, "inline", checked_inline)
    for case in CASES:
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in case.points[0]]
        s2sad.value_and_grad(case.func, wrt=case.wrt)(*args)
    assert checked["facts"] > 100 and checked["counts"] > 100 and checked["blocks"] > 100


def _same_bits(a, b):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    return len(a) == len(b) and all(
        np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True) and type(x) is type(y)
        for x, y in zip(a, b))


def test_clean_up_keeps_every_floating_point_operation_on_the_corpus():
    """Copy propagation, dead code, folding by exact rules (``1.0 * e``, ``-(-e)``),
    inlining and sinking (fuse.py) keep each operation, its operands and its order:
    the gradient is the same to the last bit as without the clean-up."""
    compared = 0
    for case in CASES:
        for point in case.points:
            copies = [[a.copy() if isinstance(a, np.ndarray) else a for a in point]
                      for _ in range(2)]
            clean = s2sad.grad(case.func, wrt=case.wrt)(*copies[0])
            raw = s2sad.grad(case.func, wrt=case.wrt, optimize=False)(*copies[1])
            assert _same_bits(clean, raw), (case.tag, point, clean, raw)
            compared += 1
    assert compared >= 150


def test_clean_up_keeps_every_floating_point_operation_on_random_programs(tmp_path):
    compared = 0
    for seed in range(40):
        program = fp.generate(seed, features=fp.ALL_FEATURES, size="medium")
        f = getattr(fp.load(program, str(tmp_path)), program.func_name)
        try:
            clean, raw = s2sad.grad(f, wrt=(0, 1)), s2sad.grad(f, wrt=(0, 1), optimize=False)
            for x in (0.37, -0.81):
                args = [np.array([x, 0.5, -0.25]) if "vectors" in program.features else x,
                        0.6, 2]
                try:
                    want = fp.call(f, args)
                except Exception:   # noqa: BLE001 - a point outside the function's domain
                    continue
                if not isinstance(want, float):
                    continue
                assert _same_bits(clean(*fp._copies(args)), raw(*fp._copies(args))), \
                    program.source
                compared += 1
        finally:
            fp.forget(f)
    assert compared >= 40


def after_loop(x, n):
    v = 0.0
    for _ in range(n):
        v = -math.tanh(x)       # never used: dead, but math.tanh stays (it may raise)
    w = v
    u = w  # noqa: F841 - a dead copy of a dead copy
    return x * x


def test_dead_value_read_only_through_copies_after_its_loop():
    src = s2sad.source(after_loop, wrt=0)
    assert "-_t" not in src and "= -" not in src     # the negation went
    assert "math.tanh(x)" in src and "= math.tanh" not in src
    assert "w" not in src.replace("wrt", "")
    assert s2sad.grad(after_loop)(1.5, 3) == pytest.approx(3.0)
    with pytest.raises(TypeError):      # math.tanh refuses it, as in f (not: the output
        s2sad.grad(after_loop)(np.array([1.5, 2.0]), 3)       # is no scalar)
    src = s2sad.source(after_loop, wrt=0, args=(np.array([1.5, 2.0]), 3))
    assert "math.tanh(x)" in src, src


def grow(x, n):
    y = x
    if x > 0:
        y = y * y
    for _ in range(n):
        y = y + math.sin(x) * y
    return y


def test_copies_of_an_accumulated_adjoint_go_when_it_is_not_rebound_before_their_reads():
    """``by_4 = by_3`` followed by reads of ``by_4`` up to the statement that rebinds
    ``by_3`` (which reads first): the copy goes, ``by_3`` is read in its place."""
    src = s2sad.source(grow, wrt=0)
    assert re.findall(r"^\s*(by_\d+) = (by_\d+)$", src, re.M) == [], src
    assert "by_3 = by_3 + by_3 * _t1" in src
    g = s2sad.grad(grow)
    for x, n in [(0.7, 3), (-0.4, 2), (1.3, 0), (0.2, 5)]:
        h = 1e-6
        fd = (grow(x + h, n) - grow(x - h, n)) / (2 * h)
        assert g(x, n) == pytest.approx(fd, rel=1e-6, abs=1e-9)


def loop_loss(w, b, n):
    loss = 0.0
    for i in range(n):
        pred = w * i + b
        loss += (pred - 0.5 * i) * (pred - 0.5 * i)
    return loss


def sum_or_count(x, n):
    s = 0.0
    if x > 0.0:
        for _ in range(n):
            s = s * x + 1.0
    else:
        for i in range(n + 1):
            s = s - x * i
    return s


@pytest.mark.parametrize("w, b, n", [(0.3, -0.2, 5), (1.5, 0.7, 3), (-0.4, 2.0, 0)])
def test_a_loop_accumulator_nothing_reads_goes_from_the_gradient(w, b, n):
    """The loss accumulates in the forward sweep but the reverse sweep needs only its
    seed: its updates and the copies SSA made read each other, so counting reads kept
    them (``_dead_cycles``)."""
    g = s2sad.grad(loop_loss, (0, 1), mode="reverse")
    got = g(w, b, n)
    assert got == pytest.approx(numerical_grad(loop_loss, (w, b, n), (0, 1)), rel=1e-6, abs=1e-9)
    assert not re.search(r"\bloss(_\d+)? =", g.source), g.source    # never computed
    value, grads = s2sad.value_and_grad(loop_loss, (0, 1), mode="reverse")(w, b, n)
    assert value == pytest.approx(loop_loss(w, b, n)) and grads == pytest.approx(got)


@pytest.mark.parametrize("x, n", [(0.8, 3), (-0.6, 4), (-1.2, 0)])
def test_a_loop_left_with_nothing_to_do_goes(x, n):
    """In the branch whose forward sweep needs nothing taped, the loop computing only
    the dead accumulator goes, loop and all (its variable is read only by the reverse
    sweep's own loop, which binds it anew)."""
    g = s2sad.grad(sum_or_count, mode="reverse")
    assert g(x, n) == pytest.approx(numerical_grad(sum_or_count, (x, n), 0), rel=1e-6,
                                    abs=1e-9)
    forward_sweep = g.source.split("bx = 0.0")[0]
    assert "range(n + 1)" not in forward_sweep and "pass" not in g.source, g.source
    assert "range(n + 1)" in g.source           # the reverse sweep's loop stays


def weighted_squares(v, w):
    s = 0.0
    for a in v:
        s = s + a * w * a
    return s


def test_a_value_the_reverse_sweep_computes_again_goes_from_the_forward_sweep():
    """``_t1 = a * w`` of the forward sweep is read only by the reverse sweep, which
    computes it again under the same name first: counting reads keeps it, liveness
    does not."""
    v = np.array([0.5, -1.0, 2.0])
    g = s2sad.grad(weighted_squares, (0, 1), mode="reverse")
    got = g(v, 0.7)
    want = numerical_grad(weighted_squares, (v, 0.7), (0, 1))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    assert got[1] == pytest.approx(want[1], rel=1e-6)
    forward_sweep = g.source.split("zeros_like")[0]
    assert "* w" not in forward_sweep, g.source
    # the loop's item, v's element a = _seq[_i] (which cannot raise: v is a vector
    # and _i runs over range(len(v))), goes too, and the loop with it: one loop left
    assert "for " not in forward_sweep and g.source.count("for ") == 1, g.source


def items_by_index(v, w):
    s = 0.0
    for i in range(len(v)):
        a = v[i]
        s = s + a * w
    return s


def test_an_index_loop_over_a_vector_goes_and_over_a_list_stays():
    """for i in range(len(v)): a = v[i], with a read only by the reverse sweep: for a
    vector the forward loop goes; a list may change length, so its element read may
    raise where the function does and stays."""
    g = s2sad.grad(items_by_index, (0, 1), mode="reverse")
    got = g(np.array([0.5, -1.0]), 0.7)
    assert got[0] == pytest.approx([0.7, 0.7]) and got[1] == pytest.approx(-0.5)
    assert g.source.count("for ") == 1, g.source
    assert g([0.5, -1.0], 0.7) == (pytest.approx([0.7, 0.7]), pytest.approx(-0.5))
    assert g.source.count("for ") == 2, g.source


def concatenates_in_a_loop(x, n):
    a = [x]
    for _ in range(n):
        a = a + [a[-1] * x]
    return a[-1] + a[0] * x              # x**(n + 1) + x**2


@pytest.mark.parametrize("x, n", [(0.7, 3), (-1.2, 2), (0.4, 5)])
def test_an_unused_pop_of_a_tangent_tape_stays(x, n):
    """Forward over reverse pops the tangent tape in step with the tape: a popped
    tangent nothing reads (``d_t3 = d_tape.pop()``, of the concatenated list used only
    for its length) is kept as a statement; removed as a dead derivative, the tangent
    tape fell out of step and the second derivative came out wrong, silently."""
    want = (n + 1) * n * x ** (n - 1) + 2.0
    assert s2sad.hessian(concatenates_in_a_loop)(x, n) == pytest.approx(want, rel=1e-9)
    assert s2sad.grad(s2sad.grad(concatenates_in_a_loop))(x, n) == pytest.approx(want, rel=1e-9)
    g = s2sad.grad(s2sad.grad(concatenates_in_a_loop, mode="reverse"), mode="forward")
    assert g(x, n) == pytest.approx(want, rel=1e-9)


def invariant_read_after(x, L, n):
    s = x
    for _ in range(n):
        k = 9.81 / L
        s = s * 0.5 + k * x
    return s + k * k        # k is unbound when the loop runs no iteration


@pytest.mark.parametrize("options", [dict(mode="reverse"), dict(mode="forward"),
                                     dict(mode="reverse", checkpoint=True)])
def test_arithmetic_on_a_name_a_loop_may_leave_unbound_is_not_dropped(options):
    """k * k does not depend on x, so its forward value was dead and dropped as harmless
    arithmetic: with n = 0 the gradient returned 1.0 where the function raises
    UnboundLocalError. A name SSA may leave at its None marker makes it not harmless."""
    with pytest.raises(UnboundLocalError):
        invariant_read_after(0.3, 2.0, 0)
    g = s2sad.grad(invariant_read_after, 0, **options)
    with pytest.raises((TypeError, UnboundLocalError)):
        g(0.3, 2.0, 0)
    want = numerical_grad(invariant_read_after, (0.3, 2.0, 3), 0)
    assert g(0.3, 2.0, 3) == pytest.approx(want, rel=1e-6)


# -- pure calls of scalars computed once (optimize._shared_calls) ---------------------

def rotate(theta, r):
    x = r * math.cos(theta)
    y = r * math.sin(theta)
    return x * y + math.cos(theta)


def swing(x, n):
    s = 0.0
    for _ in range(n):
        s = s + math.sin(x)
        x = x * math.cos(x) + 0.5        # x changes: sin(x) is new every trip
    if x > 0.3:
        t = math.exp(x)
        s = s + t * math.exp(x)
    else:
        s = s - math.exp(x)
    return s + math.sin(x) * math.exp(x)


def shadowed(x):
    a = math.sin(x)
    ys = [math.sin(x) for x in (1.0, 2.0)]      # the x in here is not the argument
    return a * math.sin(x) + ys[0] * x


def test_derivative_reads_the_value_the_function_computed():
    """``rotate`` computes cos and sin of theta; their derivatives are each other: the
    reverse sweep reads them (forward mode needs sin before the function computes it:
    it is computed there, once), and the gradient is right."""
    for mode in ("reverse", "forward"):
        src = s2sad.source(rotate, wrt=(0, 1), mode=mode)
        assert src.count("math.cos(theta)") == 1, src
        assert src.count("math.sin(theta)") == 1, src
    for theta, r in ((0.3, 2.0), (-1.2, 0.5), (2.5, -1.5)):
        got = s2sad.grad(rotate, wrt=(0, 1))(theta, r)
        want = (r * r * math.cos(2 * theta) - math.sin(theta), math.sin(2 * theta) / 2 * 2 * r)
        assert got == pytest.approx(want, rel=1e-12)


def test_shared_calls_stay_in_their_block():
    """A value computed in a loop whose operand the loop changes, or in a branch, is not
    reused after it; the gradient matches finite differences in both branches."""
    for args in ((0.2, 3), (0.9, 2), (-0.4, 0), (1.7, 4)):
        for mode in ("reverse", "forward"):
            got = s2sad.grad(swing, mode=mode)(*args)
            assert got == pytest.approx(numerical_grad(swing, args), rel=1e-6, abs=1e-8), \
                (args, mode, s2sad.source(swing, mode=mode))
    assert s2sad.grad(shadowed)(0.7) == pytest.approx(numerical_grad(shadowed, (0.7,)),
                                                      rel=1e-6)


def test_a_call_kept_for_its_error_goes_when_its_value_is_at_hand():
    """``math.log(x)`` computed once: the gradient of ``log(x) * 0 + log(x)`` reads it,
    and still raises where the function does."""
    def logs(x):
        a = math.log(x)
        return a + 2.0 * math.log(x)

    src = s2sad.source(logs, mode="reverse")
    assert "math.log" not in src or src.count("math.log(x)") <= 1, src
    assert s2sad.grad(logs, mode="reverse")(2.0) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        s2sad.grad(logs, mode="reverse")(-1.0)


def reuse_edges(x, y):
    a = math.sin(x)
    a = a * y                          # the holder is rebound: not math.sin(x) any more
    b = math.sin(x) + a
    x = x * 2.0                        # the operand is rebound
    c = math.sin(x) * math.atan2(y, x) + math.atan2(y, x)
    e = np.exp(y) * b + np.exp(y) * c
    return e + math.pow(x, 1.5) * math.pow(x, 1.5)


def test_shared_calls_follow_rebinding():
    """Holders and operands rebound between two calls, ufuncs and functions of two
    arguments: the gradient (both modes) matches finite differences, and the gradient
    computes ``np.exp(y)`` and ``math.atan2(y, x)`` once each."""
    src = s2sad.source(reuse_edges, wrt=(0, 1))
    assert src.count("np.exp(y)") == 1 and src.count("math.atan2(y, ") == 1, src
    for args in ((0.4, 1.3), (1.1, -0.7), (2.0, 0.2)):
        for mode in ("reverse", "forward"):
            got = s2sad.grad(reuse_edges, wrt=(0, 1), mode=mode)(*args)
            want = numerical_grad(reuse_edges, args, (0, 1))
            assert got == pytest.approx(want, rel=1e-6, abs=1e-8), (args, mode)


def signed_zeros(a):
    x = math.atan2(-0.0, -1.0)
    y = math.atan2(0.0, -1.0)
    return x * a + y * a * a + math.copysign(1.0, -0.0) * a + math.copysign(1.0, 0.0) * a


def test_shared_calls_tell_signed_zeros_apart():
    """-0.0 == 0.0, yet math.atan2(-0.0, -1.0) is -pi and math.atan2(0.0, -1.0) pi: the
    second call read the value of the first (a silent wrong gradient), as did
    math.copysign(1.0, 0.0) that of math.copysign(1.0, -0.0)."""
    for mode in ("reverse", "forward"):
        got = s2sad.grad(signed_zeros, mode=mode)(0.7)
        assert got == pytest.approx(math.pi * (2 * 0.7 - 1.0), rel=1e-12), mode
        assert got == pytest.approx(numerical_grad(signed_zeros, (0.7,), 0), rel=1e-6)


def pendulum_step(theta, omega, c, k, n):
    for _ in range(n):
        omega = omega - 0.1 * (c * omega + k * math.sin(theta))
        theta = theta + 0.1 * omega
    return theta


def test_a_call_made_twice_gets_a_holder():
    """Forward mode along two arguments needs ``cos(theta)`` once per direction: it is
    computed once per trip, by a holder put before the first statement needing it."""
    src = s2sad.source(pendulum_step, wrt=(2, 3), mode="auto",
                       args=(0.5, 0.1, 0.3, 9.81, 3))
    assert "_tape" not in src and src.count("math.cos(theta") == 1, src
    for args in ((0.5, 0.1, 0.3, 9.81, 3), (-1.0, 2.0, 0.05, 3.0, 5)):
        got = s2sad.grad(pendulum_step, wrt=(2, 3))(*args)
        assert got == pytest.approx(numerical_grad(pendulum_step, args, (2, 3)), rel=1e-6)


def divides_first(a, b, x):
    y = a / b + math.cos(x)
    return y * math.cos(x) + b * math.sin(x) / a


def test_holders_keep_the_order_of_errors():
    """Where the function raises, the gradient raises the same error: a holder is made
    only before a statement that evaluates nothing that can raise before the call."""
    for args, error in (((1.0, 0.0, math.inf), ZeroDivisionError),
                        ((0.0, 2.0, 1.0), ZeroDivisionError),
                        ((1.0, 2.0, math.inf), ValueError)):
        with pytest.raises(error):
            divides_first(*args)
        for mode in ("reverse", "forward"):
            with pytest.raises(error):
                s2sad.grad(divides_first, wrt=(0, 1, 2), mode=mode)(*args)
    args = (0.7, 1.3, 0.4)
    got = s2sad.grad(divides_first, wrt=(0, 1, 2))(*args)
    assert got == pytest.approx(numerical_grad(divides_first, args, (0, 1, 2)), rel=1e-6)


def cos_of_product(x1, x2, x3):
    return (x1 - x2 + x2 * x3) * math.cos(x2 * x3)


def test_the_functions_repeated_operation_is_made_once():
    """The second seed example writes x2 * x3 twice: the gradient multiplies once (and
    reads the product where it needs x1 - x2 + x2 * x3 again)."""
    src = s2sad.source(cos_of_product, wrt=(0, 1, 2))
    assert src.count("x2 * x3") == 1, src
    for args in ((0.3, 1.2, -0.7), (2.0, -0.5, 0.25)):
        got = s2sad.grad(cos_of_product, wrt=(0, 1, 2))(*args)
        assert got == pytest.approx(numerical_grad(cos_of_product, args, (0, 1, 2)),
                                    rel=1e-6, abs=1e-9)


def signed_zero_products(a):
    p = a * 0.0
    q = a * -0.0
    return math.atan2(p, -1.0) * a + math.atan2(q, -1.0) * a * a


def test_repeated_arithmetic_tells_signed_zeros_apart():
    """``a * 0.0`` and ``a * -0.0`` are two values (atan2 tells them apart): not one."""
    for a in (1.3, 0.4):
        want = math.atan2(a * 0.0, -1.0) + 2 * a * math.atan2(a * -0.0, -1.0)
        for mode in ("reverse", "forward"):
            assert s2sad.grad(signed_zero_products, mode=mode)(a) == pytest.approx(want)


def _sum_of_squares_of_a_list(a):
    xs = [0.5 * a]
    return a * sum(t * t for t in xs)


def _calls_sum_of_squares(x, y):
    return _sum_of_squares_of_a_list(y) * x


@pytest.mark.parametrize("x, y", [(0.3, 0.5), (-1.2, 1.5)])
def test_an_unused_owned_pop_of_the_tangent_tape_stays(x, y):
    """Found by the fuzzer (lists, grad of grad): the tangent of a list popped off the
    tape and popped from later is ``d_t2 = owned(d_tape.pop())``; unused, the clean-up
    dropped it whole, so the tangent tape fell a step behind the tape and the next
    tangent popped was a list: TypeError (can't multiply sequence by float)."""
    # f = 0.25 y^3 x: d2f/dy2 = 1.5 x y
    g = s2sad.grad(s2sad.grad(_calls_sum_of_squares, wrt=1), wrt=1)
    assert g(x, y) == pytest.approx(1.5 * x * y, rel=1e-12)
    assert s2sad.hessian(_calls_sum_of_squares, wrt=1)(x, y) == pytest.approx(1.5 * x * y)


def _unused_attribute(x, y):
    z = x.nope  # noqa: F841 - AttributeError when the function runs
    w = y.imag * 2.0 + x  # noqa: F841 - a float's .imag: kept too (not an array's)
    return x * y


def _unused_array_attribute(a, y):
    n = a.shape  # noqa: F841 - an ndarray's: cannot raise, dropped
    return np.sum(a) * y


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_an_unused_attribute_read_is_kept_for_its_error(mode):
    """``z = x.nope`` was dropped as harmless: a gradient for a function that raises."""
    with pytest.raises(AttributeError, match="nope"):
        s2sad.grad(_unused_attribute, wrt=(0, 1), mode=mode)(1.5, 1.3)
    src = s2sad.source(_unused_array_attribute, wrt=(0, 1), mode=mode,
                       args=(np.ones(3), 2.0))
    assert "shape" not in src, src
