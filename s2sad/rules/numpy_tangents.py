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
(``s2sad.hessian`` is forward over reverse). A helper is only looked up as a rule when
it has an adjoint, so each helper given a rule here gets both:

* linear in its incoming adjoint ``g``, other arguments used only through shapes,
  indices or piecewise-constant masks (most ``*_adjoint`` helpers):
  ``multilinear(helper, args=("g",))``, and as adjoint the transposed map, which is the
  tangent of the original function (``H.np_take_adjoint`` -> ``np.take``);
* nonlinear in another argument and not transformable as user code (recursion, a dict
  comprehension, an SVD): ``einsum_adjoint``, ``matrix_power_adjoint`` and the matrix and
  vector norm cores get tangent templates. Where their adjoint in that argument (grad
  of grad only) is not written, it raises ``RuleLimitError`` (a ``NotImplementedError``).

The remaining helpers (``prod_adjoint``, ``std_adjoint``, ``det_adjoint``,
``cholesky_adjoint``...) are differentiated like user code.
"""

import numpy as np

from ..runtime import fit
from . import methods
from . import numpy_helpers as H
from .core import adjoint, multilinear, tangent
from .numpy_helpers import (
    array_tangent,
    astype_tangent,
    average_tangent,
    cholesky_tangent,
    clip_tangent,
    corrcoef_tangent,
    cov_tangent,
    cumprod_tangent,
    dense,
    diff_tangent,
    eigh_tangent,
    eigvalsh_tangent,
    extremum_tangent,
    full_tangent,
    gradient_tangent,
    interp_tangent,
    linspace_tangent,
    lstsq_tangent,
    matrix_norm_tangent,
    matrix_power_tangent,
    multi_dot_tangent,
    nan_to_num_tangent,
    nanmean_tangent,
    nansum_tangent,
    norm_tangent,
    pad_tangent,
    pinv_tangent,
    polyval_tangent,
    prod_tangent,
    ptp_tangent,
    qr_tangent,
    quantile_tangent,
    select_tangent,
    slogdet_tangent,
    solve_tangent,
    sort_tangent,
    std_tangent,
    svd_tangent,
    trapezoid_tangent,
    vander_slope,
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
    d[z] = nan_to_num_tangent(d[x], x, d[nan], d[posinf], d[neginf])


@tangent(np.where)
def where(z, condition, x, y):
    d[z] = fit(np.where(condition, d[x], d[y]), z)


@tangent(np.select)
def select(z, condlist, choicelist, default=0):
    d[z] = select_tangent(d[choicelist], d[default], z, condlist, choicelist)


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


@tangent(np.gradient)
def gradient(z, f, *, axis=None, edge_order=1):
    d[z] = gradient_tangent(d[f], (), z, f, (), axis, edge_order)


@tangent(np.gradient)
def gradient1(z, f, s1, *, axis=None, edge_order=1):
    d[z] = gradient_tangent(d[f], (d[s1],), z, f, (s1,), axis, edge_order)


@tangent(np.gradient)
def gradient2(z, f, s1, s2, *, axis=None, edge_order=1):
    d[z] = gradient_tangent(d[f], (d[s1], d[s2]), z, f, (s1, s2), axis, edge_order)


@tangent(np.gradient)
def gradient3(z, f, s1, s2, s3, *, axis=None, edge_order=1):
    d[z] = gradient_tangent(d[f], (d[s1], d[s2], d[s3]), z, f, (s1, s2, s3), axis, edge_order)


@tangent(np.corrcoef)
def corrcoef(z, x, y=None, rowvar=True, *, dtype=None):
    d[z] = corrcoef_tangent(d[x], d[y], z, x, y, rowvar)


@tangent(np.cov)
def cov(z, m, y=None, rowvar=True, bias=False, ddof=None):
    d[z] = cov_tangent(d[m], d[y], z, m, y, rowvar, bias, ddof)


@tangent(np.quantile)
def quantile(z, a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False):
    d[z] = quantile_tangent(d[a], z, a, q, axis, keepdims, method, d[q])


@tangent(np.percentile)
def percentile(z, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False):
    d[z] = quantile_tangent(d[a], z, a, np.asarray(q) / 100.0, axis, keepdims, method, d[q],
                            "np.percentile")


@tangent(np.median)
def median(z, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    d[z] = quantile_tangent(d[a], z, a, 0.5, axis, keepdims, "linear")


@tangent(np.polyval)
def polyval(z, p, x):
    d[z] = polyval_tangent(d[p], d[x], p, x, z)


@tangent(np.interp)
def interp(z, x, xp, fp, left=None, right=None):
    d[z] = interp_tangent(d[x], d[xp], d[fp], d[left], d[right], z, x, xp, fp, left, right)


# ---------------------------------------------------------------------------------
# Shapes, copies and indexing: linear in the array

multilinear(np.reshape, np.ravel, np.swapaxes, np.moveaxis, np.rollaxis, np.squeeze,
            np.expand_dims, np.copy, np.repeat, np.roll, np.diagonal, np.take, args=("a",))
multilinear(*_have("matrix_transpose", "linalg.matrix_transpose", "linalg.trace",
                   "linalg.diagonal"), args=("x",))
multilinear(np.atleast_1d, np.atleast_2d, np.atleast_3d, args=("arys",))
multilinear(np.broadcast_to, args=("array",))
multilinear(np.tile, args=("A",))
multilinear(np.split, np.array_split, args=("ary",))
multilinear(np.flip, np.fliplr, np.flipud, np.rot90, np.triu, np.tril, args=("m",))
multilinear(np.diag, args=("v",))
multilinear(np.diagflat, args=("v",))
multilinear(np.delete, args=("arr",))


@tangent(np.insert)
def insert(z, arr, obj, values, axis=None):
    d[z] = np.insert(dense(d[arr], arr), obj, dense(d[values], values), axis)


multilinear(np.take_along_axis, args=("arr",))
multilinear(methods.reshape, methods.transpose, methods.item, args=("a",))


@tangent(np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray)
def asarray(z, a, dtype=None, order=None, *, copy=None):
    d[z] = array_tangent(d[a], a, z)


@tangent(np.array)
def array(z, object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0):
    d[z] = array_tangent(d[object], object, z)


@tangent(np.float64, np.float32)
def float64(z, x=0.0):
    d[z] = astype_tangent(d[x], x, np.float64)


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


@tangent(np.block)
def block(z, arrays):
    d[z] = np.block(dense(d[arrays], arrays))


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
    d[z] = linspace_tangent(d[start], d[stop], z, start, stop, num, endpoint, axis, retstep)


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
    d[z] = np.sum(H.det_cofactors(z, a) * d[a], axis=(-2, -1))


@tangent(np.linalg.slogdet)
def slogdet(z, a):
    d[z] = slogdet_tangent(d[a], z, a)


@tangent(np.linalg.eigh)
def eigh(z, a, UPLO="L"):
    d[z] = eigh_tangent(d[a], z)


@tangent(np.linalg.eigvalsh)
def eigvalsh(z, a, UPLO="L"):
    d[z] = eigvalsh_tangent(d[a], a)


@tangent(np.linalg.pinv)
def pinv(z, a, rcond=None, hermitian=False, *, rtol=None):
    d[z] = pinv_tangent(d[a], z, a)


@tangent(np.linalg.svd)
def svd(z, a, full_matrices=True, compute_uv=True, hermitian=False):
    d[z] = svd_tangent(d[a], z, a, full_matrices, compute_uv)


@tangent(np.linalg.lstsq)
def lstsq(z, a, b, rcond=None):
    d[z] = lstsq_tangent(d[a], d[b], z, a, b)


@tangent(np.linalg.qr)
def qr(z, a, mode="reduced"):
    d[z] = qr_tangent(d[a], z, a, mode)


@tangent(np.linalg.cholesky)
def cholesky(z, a):
    d[z] = cholesky_tangent(d[a], z)


@tangent(np.meshgrid)
def meshgrid_1(z, x, *, copy=True, sparse=False, indexing="xy"):
    d[z] = np.meshgrid(dense(d[x], x), sparse=sparse, indexing=indexing)


@tangent(np.meshgrid)
def meshgrid_2(z, x, y, *, copy=True, sparse=False, indexing="xy"):
    d[z] = np.meshgrid(dense(d[x], x), dense(d[y], y), sparse=sparse, indexing=indexing)


@tangent(np.meshgrid)
def meshgrid_3(z, x, y, w, *, copy=True, sparse=False, indexing="xy"):
    d[z] = np.meshgrid(dense(d[x], x), dense(d[y], y), dense(d[w], w), sparse=sparse,
                       indexing=indexing)


@tangent(np.vander)
def vander(z, x, N=None, increasing=False):
    d[z] = np.expand_dims(d[x], -1) * vander_slope(x, N, increasing)


@tangent(np.linalg.multi_dot)
def multi_dot(z, arrays, *, out=None):
    d[z] = multi_dot_tangent(dense(d[arrays], arrays), arrays)


@tangent(np.linalg.matrix_power)
def matrix_power(z, a, n):
    d[z] = matrix_power_tangent(d[a], a, n)


@tangent(np.linalg.norm)
def norm(z, x, ord=None, axis=None, keepdims=False):
    d[z] = norm_tangent(d[x], z, x, ord, axis, keepdims, d[ord])


@tangent(*_have("linalg.vector_norm"))
def vector_norm(z, x, *, axis=None, keepdims=False, ord=2):
    d[z] = vector_norm_tangent(d[x], z, x, axis, keepdims, ord, d[ord])


@tangent(*_have("linalg.matrix_norm"))
def matrix_norm(z, x, *, keepdims=False, ord="fro"):
    d[z] = matrix_norm_tangent(d[x], z, x, keepdims, ord)


# ---------------------------------------------------------------------------------
# The helpers called by the adjoint templates, so that generated gradient code can be
# differentiated again (hessians). Linear in the incoming adjoint ``g``, other arguments
# used only through shapes, indices or piecewise-constant masks: the tangent is the same
# call on the tangent of ``g``, the adjoint is the transposed map.

multilinear(H.sum_to, H.like, H.transpose_adjoint, H.ravel_adjoint, H.rollaxis_adjoint,
            H.roll_adjoint, H.repeat_adjoint, H.tile_adjoint, H.diagonal_adjoint,
            H.diag_adjoint, H.trace_adjoint, H.np_take_adjoint, H.take_along_axis_adjoint,
            H.sort_adjoint, H.pad_adjoint, H.pad_constant_adjoint, H.append_adjoint,
            H.diff_adjoint, H.concatenate_adjoint, H.stack_adjoint, H.vstack_adjoint,
            H.hstack_adjoint, H.block_adjoint, H.diagflat_adjoint, H.insert_adjoint,
            H.delete_adjoint, H.dstack_adjoint, H.column_stack_adjoint,
            H.array_adjoint,
            H.cumsum_adjoint, H.real_adjoint, H.imag_adjoint, H.nansum_adjoint,
            H.nanmean_adjoint, H.extremum_adjoint, H.ptp_adjoint, H.linspace_adjoint,
            H.clip_adjoint, H.clip_bound_adjoint, H.select_adjoint, H.split_adjoint,
            methods.transpose_method_adjoint,
            methods.astype_adjoint, methods.item_adjoint, args=("g",))
multilinear(H.mT, args=("a",))


@adjoint(H.sum_to)
def sum_to_(z, g, x):
    d[g] = fit(d[z], g)


@adjoint(H.like)
def like_(z, g, x):
    d[g] = H.like(d[z], g)


@adjoint(H.transpose_adjoint)
def transpose_adjoint_(z, g, axes=None):
    d[g] = np.transpose(d[z], axes)


@adjoint(H.ravel_adjoint)
def ravel_adjoint_(z, g, x, order="C"):
    d[g] = H.ravel_transpose(d[z], x, order)


@adjoint(H.rollaxis_adjoint)
def rollaxis_adjoint_(z, g, axis, start=0):
    d[g] = np.rollaxis(d[z], axis, start)


@adjoint(H.roll_adjoint)
def roll_adjoint_(z, g, shift, axis=None):
    d[g] = np.roll(d[z], shift, axis)


@adjoint(H.repeat_adjoint)
def repeat_adjoint_(z, g, x, repeats, axis=None):
    d[g] = np.repeat(d[z], repeats, axis)


@adjoint(H.tile_adjoint)
def tile_adjoint_(z, g, x, reps):
    d[g] = np.tile(d[z], reps)


@adjoint(H.diagonal_adjoint)
def diagonal_adjoint_(z, g, a, offset=0, axis1=0, axis2=1):
    d[g] = np.diagonal(d[z], offset, axis1, axis2).copy()


@adjoint(H.diag_adjoint)
def diag_adjoint_(z, g, v, k=0):
    d[g] = np.diag(d[z], k)


@adjoint(H.trace_adjoint)
def trace_adjoint_(z, g, a, offset=0, axis1=0, axis2=1):
    d[g] = np.trace(d[z], offset, axis1, axis2)


@adjoint(H.np_take_adjoint)
def np_take_adjoint_(z, g, a, indices, axis=None, mode="raise"):
    d[g] = np.take(d[z], indices, axis, mode=mode)


@adjoint(H.take_along_axis_adjoint)
def take_along_axis_adjoint_(z, g, arr, indices, axis=-1):
    d[g] = np.take_along_axis(d[z], indices, axis)


@adjoint(H.sort_adjoint)
def sort_adjoint_(z, g, a, axis=-1):
    d[g] = sort_tangent(d[z], a, axis)


@adjoint(H.pad_adjoint)
def pad_adjoint_(z, g, array, pad_width, mode="constant"):
    d[g] = pad_tangent(d[z], 0.0, array, pad_width, mode)


@adjoint(H.pad_constant_adjoint)
def pad_constant_adjoint_(z, g, array, pad_width, mode="constant"):
    d[g] = pad_tangent(0.0, d[z], array, pad_width, mode)


@adjoint(H.append_adjoint)
def append_adjoint_(z, g, arr, values, axis=None, which=0):
    d[g] = H.append_transpose(d[z], arr, values, axis, which)


@adjoint(H.diff_adjoint)
def diff_adjoint_(z, g, a, n=1, axis=-1, prepend=None, append=None, which=0):
    d[g] = H.diff_transpose(d[z], a, n, axis, prepend, append, which)


@adjoint(H.concatenate_adjoint)
def concatenate_adjoint_(z, g, arrays, axis=0):
    d[g] = np.concatenate(dense(d[z], arrays), axis)


@adjoint(H.stack_adjoint)
def stack_adjoint_(z, g, arrays, axis=0):
    d[g] = np.stack(dense(d[z], arrays), axis)


@adjoint(H.diagflat_adjoint)
def diagflat_adjoint_(z, g, v, k=0):
    d[g] = np.diagflat(d[z], k)


@adjoint(H.insert_adjoint)
def insert_adjoint_(z, g, arr, obj, values, axis=None, which=0):
    d[g] = H.insert_transpose(d[z], arr, obj, values, axis, which)


@adjoint(H.delete_adjoint)
def delete_adjoint_(z, g, arr, obj, axis=None):
    d[g] = np.delete(d[z], obj, axis)


@adjoint(H.block_adjoint)
def block_adjoint_(z, g, arrays):
    d[g] = np.block(dense(d[z], arrays))


@adjoint(H.vstack_adjoint)
def vstack_adjoint_(z, g, tup):
    d[g] = np.vstack(dense(d[z], tup))


@adjoint(H.hstack_adjoint)
def hstack_adjoint_(z, g, tup):
    d[g] = np.hstack(dense(d[z], tup))


@adjoint(H.dstack_adjoint)
def dstack_adjoint_(z, g, tup):
    d[g] = np.dstack(dense(d[z], tup))


@adjoint(H.column_stack_adjoint)
def column_stack_adjoint_(z, g, tup):
    d[g] = np.column_stack(dense(d[z], tup))


@adjoint(H.array_adjoint)
def array_adjoint_(z, g, obj):
    d[g] = array_tangent(d[z], obj, g)


@adjoint(H.cumsum_adjoint)
def cumsum_adjoint_(z, g, x, axis=None):
    d[g] = np.cumsum(d[z], axis)


@adjoint(H.real_adjoint)
def real_adjoint_(z, g, x):
    d[g] = np.real(d[z])


@adjoint(H.imag_adjoint)
def imag_adjoint_(z, g, x):
    d[g] = H.imag_adjoint(d[z], g)


@adjoint(H.nansum_adjoint)
def nansum_adjoint_(z, g, x, axis=None, keepdims=False):
    d[g] = nansum_tangent(d[z], g, x, axis, keepdims)


@adjoint(H.nanmean_adjoint)
def nanmean_adjoint_(z, g, x, axis=None, keepdims=False):
    d[g] = nanmean_tangent(d[z], g, x, axis, keepdims)


@adjoint(H.extremum_adjoint)
def extremum_adjoint_(z, g, y, x, axis=None, keepdims=False):
    d[g] = extremum_tangent(d[z], y, x, axis, keepdims)


@adjoint(H.ptp_adjoint)
def ptp_adjoint_(z, g, x, axis=None, keepdims=False):
    d[g] = ptp_tangent(d[z], g, x, axis, keepdims)


@adjoint(H.linspace_adjoint)
def linspace_adjoint_(z, g, start, stop, num=50, endpoint=True, retstep=False, axis=0,
                      which=0):
    d[g] = linspace_tangent(d[z] * (1 - which), d[z] * which, g, start, stop, num, endpoint,
                            axis)


@adjoint(H.clip_adjoint)
def clip_adjoint_(z, g, a, a_min=None, a_max=None, min=None, max=None):
    d[g] = clip_tangent(d[z], 0.0, 0.0, g, a, a_min, a_max, min, max)


@adjoint(H.clip_bound_adjoint)
def clip_bound_adjoint_(z, g, a, a_min, a_max, min, max, which):
    d[g] = H.clip_bound_transpose(d[z], g, a, a_min, a_max, min, max, which)


@adjoint(H.select_adjoint)
def select_adjoint_(z, g, condlist, choicelist, default=0, which=0):
    d[g] = H.select_transpose(d[z], g, condlist, choicelist, default, which)


@adjoint(H.split_adjoint)
def split_adjoint_(z, g, ary, indices_or_sections, axis=0, uneven=False):
    d[g] = H.split_transpose(d[z], g, ary, indices_or_sections, axis, uneven)


@adjoint(H.mT)
def mT_(z, a):
    d[a] = H.mT(d[z])


@adjoint(methods.transpose_method_adjoint)
def transpose_method_adjoint_(z, g, axes):
    d[g] = H.transpose_method_transpose(d[z], axes)


@adjoint(methods.astype_adjoint)
def astype_adjoint_(z, g, a, dtype):
    d[g] = astype_tangent(d[z], g, dtype)


@adjoint(methods.item_adjoint)
def item_adjoint_(z, g, a, args):
    d[g] = H.item_transpose(d[z], args)


# Nonlinear in an argument other than ``g``, and not transformable as user code
# (recursion, dict comprehension, SVD): explicit tangents. Their adjoints in that
# argument (needed for grad of grad only) are not provided and raise.

@adjoint(H.einsum_adjoint)
def einsum_adjoint_(z, g, subscripts, operands, k):
    d[g] = H.einsum_transpose(d[z], g, subscripts, operands, k)
    d[operands] = H.second_order_error("np.einsum")


@tangent(H.einsum_adjoint)
def einsum_adjoint_t(z, g, subscripts, operands, k):
    d[z] = H.einsum_adjoint_tangent(d[g], d[operands], g, subscripts, operands, k)


@adjoint(H.gradient_adjoint)
def gradient_adjoint_(z, g, f, spacing=(), axis=None, edge_order=1):
    d[g] = H.gradient_transpose(d[z], g, f, spacing, axis, edge_order)
    d[spacing] = H.second_order_error("np.gradient")


@tangent(H.gradient_adjoint)
def gradient_adjoint_t(z, g, f, spacing=(), axis=None, edge_order=1):
    d[z] = H.gradient_adjoint_tangent(d[g], d[spacing], g, f, spacing, axis, edge_order)


@adjoint(H.matrix_power_adjoint)
def matrix_power_adjoint_(z, g, a, n):
    d[g] = fit(matrix_power_tangent(d[z], a, n), g)
    d[a] = H.second_order_error("np.linalg.matrix_power")


@tangent(H.matrix_power_adjoint)
def matrix_power_adjoint_t(z, g, a, n):
    d[z] = H.matrix_power_adjoint_tangent(d[g], d[a], g, a, n)


@adjoint(H._matrix_norm_adjoint)
def matrix_norm_adjoint_(z, gm, x, ord):
    d[gm] = H.matrix_norm_gm_transpose(d[z], gm, x, ord)
    d[x] = H.matrix_norm_hvp(gm, x, d[z], ord)


@tangent(H._matrix_norm_adjoint)
def matrix_norm_adjoint_t(z, gm, x, ord):
    d[z] = H.matrix_norm_adjoint_tangent(d[gm], d[x], gm, x, ord)


@adjoint(H._vector_norm_adjoint)
def vector_norm_adjoint_(z, gx, zx, x, ord, axes):
    d[gx] = H.vector_norm_adjoint_transpose(d[z], gx, zx, x, ord, axes, 0)
    d[zx] = H.vector_norm_adjoint_transpose(d[z], gx, zx, x, ord, axes, 1)
    d[x] = H.vector_norm_adjoint_transpose(d[z], gx, zx, x, ord, axes, 2)


@tangent(H._vector_norm_adjoint)
def vector_norm_adjoint_t(z, gx, zx, x, ord, axes):
    d[z] = H.vector_norm_adjoint_tangent(d[gx], d[zx], d[x], gx, zx, x, ord, axes)
