"""s2sad/fncache.py: a dict-like cache whose entries go with their function."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from s2sad.fncache import FunctionCache


def _make(k):
    def f(x):
        return x * k
    return f


def test_a_dict_of_keys_whose_first_item_is_the_function():
    cache = FunctionCache()
    f, g = _make(1.0), _make(2.0)
    cache[(f, "grad", 1)] = "a"
    cache[(f, "jvp", 1)] = "b"
    cache[(g, "grad", 1)] = "c"
    assert cache[(f, "grad", 1)] == "a" and cache.get((f, "jvp", 1)) == "b"
    assert cache.get((f, "grad", 2)) is None and cache.get((g, "jvp", 1), 0) == 0
    assert (g, "grad", 1) in cache and (g, "grad", 2) not in cache
    with pytest.raises(KeyError):
        cache[(g, "x")]
    assert len(cache) == 3
    assert sorted((k[0] is f, k[1]) for k in cache) == [(False, "grad"), (True, "grad"),
                                                       (True, "jvp")]
    cache[(f, "grad", 1)] = "d"         # replaced, not added
    assert cache[(f, "grad", 1)] == "d" and len(cache) == 3
    cache.forget(f)
    assert len(cache) == 1 and cache.get((f, "grad", 1)) is None
    cache.clear()
    assert len(cache) == 0 and list(cache) == []


def test_entries_go_with_their_function():
    cache = FunctionCache()
    kept = _make(1.0)
    cache[(kept, 1)] = "kept"
    for k in range(5):
        f = _make(float(k))
        cache[(f, 1)] = [f.__code__]    # (what the entry holds does not keep f alive)
        cache[(f, 2)] = "x"
    del f
    gc.collect()
    assert len(cache) == 1 and list(cache) == [(kept, 1)] and cache[(kept, 1)] == "kept"


class _NoWeakReference:
    __slots__ = ()

    def __call__(self, x):
        return x


def test_callables_that_take_no_weak_reference_are_kept_strongly():
    cache = FunctionCache()
    c = _NoWeakReference()
    cache[(c, 1)] = "y"
    assert cache[(c, 1)] == "y" and (c, 1) in cache and list(cache) == [(c, 1)]
    cache.forget(c)
    assert len(cache) == 0


def test_an_unhashable_callable_raises_type_error():
    # api.compiled turns it into "not a Python function defined with def"
    with pytest.raises(TypeError):
        FunctionCache().get((np.poly1d([1.0, 2.0]), 1))
