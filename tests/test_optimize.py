"""The clean-up pass (s2sad/optimize.py): it stops at a fixed point, and what it drops."""

from __future__ import annotations

import math

import fuzz_programs as fp
import numpy as np
import pytest
from corpus import CASES

import s2sad
from s2sad import optimize


@pytest.fixture
def extra_sweep(monkeypatch):
    """After the optimizer's loop, run one more sweep of every pass (old style, each
    on the whole function) and record the functions where it still finds work."""
    unfinished = []
    final_step = optimize._error_checks

    def check_then_finish(tree, ctx, facts):
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
        return final_step(tree, ctx, facts)

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
    with pytest.raises(TypeError):
        s2sad.grad(after_loop)(1.5 + 0j, 3)      # math.tanh refuses complex, as in f
