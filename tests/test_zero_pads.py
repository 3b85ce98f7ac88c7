"""Zero pads: the zero adjoint a path gets where paths disagree (see s2sad/reverse.py).

A value assigned afresh in every trip of a loop and read after it, or computed in
a helper (split forward/backward functions) on a path that does not use it, has a
zero adjoint on some paths. That zero reaches the adjoint rule of the operation
that computed the value. It used to be the scalar ``0.0`` inside loops and split
functions, which rules that reshape, split, index or transpose their adjoint
cannot take (found by the fuzzer: np.concatenate and np.array in loops). Pads of
non-scalars are ``zeros_like(v)`` everywhere now; these tests run a set of such
rules in each of those positions against central differences.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad

X = np.array([0.3, -1.2, 0.7, 2.0])


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("S2SAD_CACHE_DIR", str(tmp_path / "generated"))


# one operation producing w (an array, or a container of arrays), and a reduction of w

OPS = {
    "concatenate": "np.concatenate((x[2:], x[:2], x))",
    "stack": "np.stack([x, 2.0 * x], axis=1)",
    "array": "np.array([x[0], 2.0 * x[1], 0.5])",
    "reshape": "np.reshape(x, (2, 2))",
    "reshape_method": "x.reshape(2, 2).T",
    "transpose": "np.transpose(np.reshape(x, (1, 2, 2)), (2, 0, 1))",
    "swapaxes": "np.swapaxes(np.reshape(x, (2, 2)), 0, 1)",
    "getitem": "x[1:3]",
    "fancy_getitem": "x[[0, 2, 2]]",
    "cumsum": "np.cumsum(x)",
    "tile": "np.tile(x, 2)",
    "kron": "np.kron(x[:2], x[2:])",
    "cross": "np.cross(x[:3], x[1:])",
    "prod": "np.prod(np.reshape(x, (2, 2)), axis=0)",
    "broadcast_product": "np.reshape(x, (4, 1)) * x[:3]",
    "flip": "np.flip(np.reshape(x, (2, 2)), 1)",
    "diff": "np.diff(x)",
    "list": "[x * 2.0, np.sin(x)]",
    "tuple": "(x[0] * x[1], x[2:])",
}
REDUCE = "np.sum(w * w) + np.sum(np.sin(w))"
REDUCE_PAIR = "np.sum(w[0] * w[0]) * 0.5 + np.sum(np.sin(w[1]))"

# the positions of w: (a) assigned in every loop trip, read after the loop; (b) in a
# loop, read on some trips only; (c) in a helper (split functions) on a path that does
# not use it; (d) the same without a helper (a pad at the top level); (e) in a while
# loop inside a helper
POSITIONS = {
    "in_loop": ("""
def f(x, n):
    for _ in range(n):
        w = OP
    return REDUCE
""", [1, 2, 3]),
    "in_loop_some_trips": ("""
def f(x, n):
    s = 0.0
    for i in range(n):
        w = OP
        if i % 2 == 0:
            s = s + REDUCE
    return s
""", [2, 3]),
    "helper_path_without_it": ("""
def helper(x, c):
    w = OP
    if c > 0.0:
        return np.sum(x) * c
    return REDUCE


def f(x, c):
    return helper(x, c) * 3.0
""", [1.5, -1.0]),
    "branch_without_it": ("""
def f(x, c):
    w = OP
    if c > 0.0:
        return np.sum(x) * c
    return REDUCE
""", [1.5, -1.0]),
    "helper_while": ("""
def helper(x, n):
    k = 0
    while k < n:
        w = OP
        k = k + 1
    return REDUCE


def f(x, n):
    return helper(x, n) + np.sum(x)
""", [1, 3]),
}


def _load(op, position, directory):
    template, _ = POSITIONS[position]
    reduce = REDUCE_PAIR if op in ("list", "tuple") else REDUCE
    text = "import numpy as np\n\n" + template.replace("OP", OPS[op]).replace("REDUCE", reduce)
    path = directory / f"pad_{op}_{position}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


@pytest.mark.parametrize("position", sorted(POSITIONS))
@pytest.mark.parametrize("op", sorted(OPS))
def test_zero_pad_reaches_the_rule(op, position, tmp_path):
    f = _load(op, position, tmp_path)
    for extra in POSITIONS[position][1]:
        args = (X, extra)
        got = s2sad.grad(f)(*args)
        want = numerical_grad(f, args, 0)
        assert isinstance(got, np.ndarray) and got.shape == X.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def in_loop_scalar(x, n):
    for _ in range(n):
        w = math.sin(x) * 2.0
    return w * x


def test_scalar_pads_stay_plain_zeros():
    # scalar code keeps 0.0 pads: no call, nothing more on the tape
    src = s2sad.source(in_loop_scalar)
    assert "zeros_like" not in src and "bw = 0.0" in src
    assert s2sad.grad(in_loop_scalar)(1.5, 2) == pytest.approx(
        2.0 * math.cos(1.5) * 1.5 + 2.0 * math.sin(1.5))


@pytest.mark.parametrize("op", ["concatenate", "array", "reshape", "list"])
def test_zero_pad_in_a_checkpointed_loop(op, tmp_path):
    # the replayed segments record what the pads read, like the plain forward loop
    f = _load(op, "in_loop", tmp_path)
    for n in (1, 4, 9):
        got = s2sad.grad(f, checkpoint=True)(X, n)
        np.testing.assert_allclose(got, numerical_grad(f, (X, n), 0), rtol=1e-5, atol=1e-6)
