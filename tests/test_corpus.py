"""Every corpus function, at every point: s2sad's gradient against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from corpus import CASES
from gradcheck import assert_grad_matches

import s2sad


def _params(include_xfail=True, value_and_grad=False):
    out = []
    for c in CASES:
        for i, point in enumerate(c.points):
            marks = ()
            reason = c.xfail.get(i) or (c.xfail_vg.get(i) if value_and_grad else None)
            if reason:
                if not include_xfail:
                    continue
                marks = (pytest.mark.xfail(strict=True, reason=reason),)
            out.append(pytest.param(c, point, id=f"{c.tag}-p{i}", marks=marks))
    return out


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def test_corpus_is_big_enough():
    assert len(CASES) >= 50
    assert len({c.tag for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c, point", _params())
def test_gradient_matches_finite_differences(c, point):
    assert_grad_matches(c.func, point, wrt=c.wrt)


@pytest.mark.parametrize("mode", ["auto", "reverse"])     # auto: forward for one scalar
@pytest.mark.parametrize("c, point", _params(value_and_grad=True))
def test_value_and_grad(c, point, mode):
    value, g = s2sad.value_and_grad(c.func, wrt=c.wrt, mode=mode)(*point)
    expected = c.func(*point)
    assert type(value) is type(expected)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    g_only = s2sad.grad(c.func, wrt=c.wrt, mode=mode)(*point)
    indices = c.wrt if isinstance(c.wrt, tuple) else (c.wrt,)
    gs = g if isinstance(c.wrt, tuple) else (g,)
    gs_only = g_only if isinstance(c.wrt, tuple) else (g_only,)
    assert len(gs) == len(gs_only) == len(indices)
    for i, a, b in zip(indices, gs, gs_only):
        if isinstance(point[i], np.ndarray):
            assert isinstance(a, np.ndarray) and a.shape == point[i].shape
        else:
            assert isinstance(a, float)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["auto", "reverse"])
@pytest.mark.parametrize("c, point", _params(include_xfail=False))
def test_inputs_not_mutated(c, point, mode):
    before = _copies(point)
    s2sad.grad(c.func, wrt=c.wrt, mode=mode)(*point)
    s2sad.value_and_grad(c.func, wrt=c.wrt, mode=mode)(*point)
    for a, b in zip(point, before):
        assert _same(a, b)
