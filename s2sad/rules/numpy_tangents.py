"""Forward-mode (tangent) rules of the NumPy functions, and of the helpers their adjoints call.

Every NumPy function with an adjoint rule in :mod:`s2sad.rules.numpy_rules` (and
every array method of :mod:`s2sad.rules.methods`) gets its tangent one of three
ways (see :mod:`s2sad.forward_mode`):

* derived from its elementwise adjoint template (``d[x] = unbroadcast(d[z] * E, x)``
  gives the term ``dx * E``): the ufuncs, nothing to declare here;
* :func:`~s2sad.rules.core.multilinear`: the function is linear in each listed
  argument separately, so its tangent is the same call with each active argument
  replaced by its tangent (reshape, sum, dot, einsum...);
* a ``@tangent`` template, ``d[z] = ...`` with ``d[x]`` the tangent of ``x`` (``0.0``
  for an inactive argument). Used when the function is nonlinear, when it is linear
  in several arguments *jointly* (``concatenate``, ``append``, ``pad``: the inactive
  parts must become zeros, not their values), or when a differentiable argument may be
  passed by keyword. Anything longer than one expression lives in
  :mod:`s2sad.rules.numpy_helpers` (``*_tangent``). A template's parameters are named
  as in the adjoint template of the same function, which binds the call.

Conventions at kinks match the adjoints: ties of ``max``/``min`` average the tangents
of the tied elements, ``clip`` passes the tangent of ``a`` on the closed interval,
``cholesky`` symmetrizes the tangent of ``a``.

The second half makes the generated gradient code differentiable in forward mode
(``s2sad.hessian`` is forward over reverse): the adjoint helpers that are linear in
their incoming adjoint ``g`` and use their other arguments only through shapes,
indices or piecewise-constant masks get ``multilinear(helper, args=("g",))`` plus an
adjoint (for reverse over reverse), which is the transposed map: the tangent of the
original function. The other helpers (``prod_adjoint``, ``std_adjoint``,
``det_adjoint``...) are differentiated like user code, except ``matrix_power_adjoint``
(recursive) which has a tangent template.
"""

import numpy as np

from ..runtime import fit
from . import methods
from .core import adjoint, multilinear, tangent
from .numpy_helpers import (
    array_tangent,
    astype_tangent,
    average_tangent,
    cholesky_tangent,
    clip_tangent,
    cumprod_tangent,
    dense,
    diff_tangent,
    extremum_tangent,
    full_tangent,
    linspace_tangent,
    like,
    matrix_norm_tangent,
    matrix_power_tangent,
    mT,
    nan_to_num_tangent,
    nanmean_tangent,
    nansum_tangent,
    norm_tangent,
    pad_tangent,
    prod_tangent,
    ptp_tangent,
    slogdet_tangent,
    solve_tangent,
    sort_tangent,
    std_tangent,
    trapezoid_tangent,
    var_tangent,
    vector_norm_tangent,
)

d = {}   # templates write d[x] for "the tangent of x" (or its adjoint, in @adjoint)


def _have(*paths):
    """The NumPy functions among ``paths`` ("linalg.vecdot") that this NumPy has."""
    found = []
    for path in paths:
        obj = np
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            found.append(obj)
    return found


# ---------------------------------------------------------------------------------
# Elementwise (the ufuncs derive their tangents from the adjoint templates)

multilinear(np.conjugate, args=("x",))
multilinear(np.real, np.imag, args=("val",))


@tangent(np.nan_to_num)
def nan_to_num(z, x, copy=True, nan=0.0, posinf=None, neginf=None):
    d[z] = nan_to_num_tangent(d[x], x)


@tangent(np.where)
def where(z, condition, x, y):
    d[z] = fit(np.where(condition, d[x], d[y]), z)


@tangent(np.clip)
def clip(z, a, a_min=None, a_max=None, *, min=None, max=None):
    d[z] = clip_tangent(d[a], d[a_min] + d[min], d[a_max] + d[max], z, a, a_min, a_max,
                        min, max)


# ---------------------------------------------------------------------------------
# Reductions (np.sum and np.mean are declared in s2sad.rules.tangents)

multilinear(np.cumsum, args=("a",))
multilinear(np.trace, args=("a",))


@tangent(np.prod)
def prod(z, a, axis=None, dtype=None, *, keepdims=False):
    d[z] = prod_tangent(d[a], z, a, axis, keepdims)


@tangent(np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin)
def max_(z, a, axis=None, *, keepdims=False):
    d[z] = extremum_tangent(d[a], z, a, axis, keepdims)


@tangent(np.ptp)
def ptp(z, a, axis=None, *, keepdims=False):
    d[z] = ptp_tangent(d[a], z, a, axis, keepdims)


@tangent(np.var)
def var(z, a, axis=None, dtype=None, *, ddof=0, keepdims=False):
    d[z] = var_tangent(d[a], z, a, axis, ddof, keepdims)


@tangent(np.std)
def std(z, a, axis=None, dtype=None, *, ddof=0, keepdims=False):
    d[z] = std_tangent(d[a], z, a, axis, ddof, keepdims)


@tangent(np.cumprod)
def cumprod(z, a, axis=None, dtype=None):
    d[z] = cumprod_tangent(d[a], z, a, axis)


@tangent(np.nansum)
def nansum(z, a, axis=None, dtype=None, *, keepdims=False):
    d[z] = nansum_tangent(d[a], z, a, axis, keepdims)


@tangent(np.nanmean)
def nanmean(z, a, axis=None, dtype=None, *, keepdims=False):
    d[z] = nanmean_tangent(d[a], z, a, axis, keepdims)


@tangent(np.average)
def average(z, a, axis=None, weights=None, *, keepdims=False):
    d[z] = average_tangent(d[a], d[weights], z, a, axis, weights, keepdims)


@tangent(*_have("trapezoid"))
def trapezoid(z, y, x=None, dx=1.0, axis=-1):
    d[z] = trapezoid_tangent(d[y], d[x], d[dx], z, y, x, dx, axis)


# ---------------------------------------------------------------------------------
# Shapes, copies and indexing: linear in the array

multilinear(np.reshape, np.ravel, np.swapaxes, np.moveaxis, np.rollaxis, np.squeeze,
            np.expand_dims, np.copy, np.repeat, np.roll, np.diagonal, np.take, args=("a",))
multilinear(*_have("matrix_transpose", "linalg.matrix_transpose", "linalg.trace",
                   "linalg.diagonal"), args=("x",))
multilinear(np.atleast_1d, np.atleast_2d, np.atleast_3d, args=("arys",))
multilinear(np.broadcast_to, args=("array",))
multilinear(np.tile, args=("A",))
multilinear(np.flip, np.fliplr, np.flipud, np.rot90, np.triu, np.tril, args=("m",))
multilinear(np.diag, args=("v",))
multilinear(np.take_along_axis, args=("arr",))
multilinear(methods.reshape, methods.transpose, methods.item, args=("a",))


@tangent(np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray)
def asarray(z, a, dtype=None, order=None, *, copy=None):
    d[z] = array_tangent(d[a], a, z)


@tangent(np.array)
def array(z, object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0):
    d[z] = array_tangent(d[object], object, z)


@tangent(methods.astype)
def astype(z, a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    d[z] = astype_tangent(d[a], a, dtype)


@tangent(np.sort)
def sort(z, a, axis=-1, kind=None, order=None, *, stable=None):
    d[z] = sort_tangent(d[a], a, axis)


# linear in several arguments jointly: the inactive ones contribute zeros

@tangent(np.pad)
def pad(z, array, pad_width, mode="constant", *, constant_values=0):
    d[z] = pad_tangent(d[array], d[constant_values], array, pad_width, mode)


@tangent(np.append)
def append(z, arr, values, axis=None):
    d[z] = np.append(dense(d[arr], arr), dense(d[values], values), axis)


@tangent(np.diff)
def diff(z, a, n=1, axis=-1, prepend=None, append=None):
    d[z] = diff_tangent(d[a], d[prepend], d[append], a, n, axis, prepend, append)


@tangent(np.concatenate)
def concatenate(z, arrays, axis=0, *, dtype=None, casting="same_kind"):
    d[z] = np.concatenate(dense(d[arrays], arrays), axis)


@tangent(np.stack)
def stack(z, arrays, axis=0, *, dtype=None, casting="same_kind"):
    d[z] = np.stack(dense(d[arrays], arrays), axis)


@tangent(np.vstack)
def vstack(z, tup, *, dtype=None, casting="same_kind"):
    d[z] = np.vstack(dense(d[tup], tup))


@tangent(np.hstack)
def hstack(z, tup, *, dtype=None, casting="same_kind"):
    d[z] = np.hstack(dense(d[tup], tup))


@tangent(np.dstack)
def dstack(z, tup):
    d[z] = np.dstack(dense(d[tup], tup))


@tangent(np.column_stack)
def column_stack(z, tup):
    d[z] = np.column_stack(dense(d[tup], tup))


# ---------------------------------------------------------------------------------
# Construction

@tangent(np.full)
def full(z, shape, fill_value, dtype=None, order="C"):
    d[z] = full_tangent(shape, d[fill_value])


@tangent(np.full_like)
def full_like(z, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    d[z] = full_tangent(np.shape(z), d[fill_value])


@tangent(np.linspace)
def linspace(z, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    d[z] = linspace_tangent(d[start], d[stop], z, start, stop, num, endpoint, axis)


multilinear(np.convolve, np.correlate, args=("a", "v"))


# ---------------------------------------------------------------------------------
# Linear algebra (np.dot and np.matmul are declared in s2sad.rules.tangents)

multilinear(np.vdot, np.outer, np.inner, np.tensordot, np.kron, np.cross, args=("a", "b"))
multilinear(*_have("linalg.matmul", "linalg.outer", "linalg.tensordot", "vecdot",
                   "linalg.vecdot", "linalg.cross"), args=("x1", "x2"))
multilinear(np.einsum)      # in every operand; the subscripts string carries no tangent


@tangent(np.linalg.solve)
def solve(z, a, b):
    d[z] = solve_tangent(d[a], d[b], z, a, b)


@tangent(np.linalg.inv)
def inv(z, a):
    d[z] = -(z @ d[a] @ z)


@tangent(np.linalg.det)
def det(z, a):
    d[z] = z * np.sum(mT(np.linalg.inv(a)) * d[a], axis=(-2, -1))


@tangent(np.linalg.slogdet)
def slogdet(z, a):
    d[z] = slogdet_tangent(d[a], z, a)


@tangent(np.linalg.cholesky)
def cholesky(z, a):
    d[z] = cholesky_tangent(d[a], z)


@tangent(np.linalg.matrix_power)
def matrix_power(z, a, n):
    d[z] = matrix_power_tangent(d[a], a, n)


@tangent(np.linalg.norm)
def norm(z, x, ord=None, axis=None, keepdims=False):
    d[z] = norm_tangent(d[x], z, x, ord, axis, keepdims)


@tangent(*_have("linalg.vector_norm"))
def vector_norm(z, x, *, axis=None, keepdims=False, ord=2):
    d[z] = vector_norm_tangent(d[x], z, x, axis, keepdims, ord)


@tangent(*_have("linalg.matrix_norm"))
def matrix_norm(z, x, *, keepdims=False, ord="fro"):
    d[z] = matrix_norm_tangent(d[x], z, x, keepdims, ord)
