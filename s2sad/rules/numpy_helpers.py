"""Helpers called by the NumPy adjoint templates in :mod:`s2sad.rules.numpy_rules`.

Each ``*_adjoint`` function takes the incoming adjoint ``g`` first and returns
the contribution to one operand, with that operand's shape (a NumPy scalar for a
scalar operand). They never modify their arguments and always return fresh
arrays, so the reverse sweep may accumulate into them. The math follows the
usual vector-Jacobian products (see autograd's ``numpy_vjps.py``); real inputs
are assumed unless a docstring says otherwise.
"""

from __future__ import annotations

import string

import numpy as np

from ..errors import RuleLimitError
from ..runtime import sum_adjoint, unbroadcast

# -- shapes -----------------------------------------------------------------------


def _out(a, x):
    """``a`` as the adjoint of ``x``: a NumPy scalar for a scalar ``x``, else a
    writable float array."""
    a = np.asarray(a)
    if a.ndim == 0 and not isinstance(x, np.ndarray):
        return a[()]
    if not a.flags.writeable or a.dtype.kind in "biu":
        a = a.astype(np.result_type(a.dtype, np.float64))
    return a


def sum_to(g, x):
    """``unbroadcast(g, x)``, and a NumPy scalar (not a 0-d array) for a scalar ``x``."""
    return _out(unbroadcast(g, x), x)


def like(g, x):
    """``g`` reshaped to the shape of ``x`` (reshape, ravel, squeeze, copy...)."""
    return _out(np.reshape(g, np.shape(x)), x)


def _axes(axis, ndim):
    """A reduction's ``axis`` argument as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(sorted(int(a) % ndim for a in axis))
    return (int(axis) % ndim,)


def _kept(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand(g, shape, axes):
    """The result (or adjoint) of a reduction over ``axes``, broadcast back to
    ``shape``; works with and without keepdims. A read-only view."""
    return np.broadcast_to(np.reshape(g, _kept(shape, axes)), shape)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


# -- reductions --------------------------------------------------------------------


def masked_reduction_adjoint(g, x, axis=None, keepdims=False, where=True, mean=False):
    """Adjoint of ``np.sum(x, axis, where=where)`` (``np.mean`` with ``mean``): ``g`` where
    ``where`` holds (divided by the count of such elements along ``axis`` for the mean),
    0 elsewhere."""
    shape = np.shape(x)
    mask = np.broadcast_to(where, shape)
    out = sum_adjoint(g, x, axis, keepdims)
    if mean:
        count = np.sum(mask, axis=axis, keepdims=True)
        out = out / np.where(count == 0, 1, count)
    return _out(np.where(mask, out, 0.0), x)


def prod_adjoint(g, x, axis=None, keepdims=False):
    """Adjoint of ``np.prod``: ``g`` times the product of the *other* elements,
    computed with exclusive cumulative products so zeros are handled exactly."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 0:
        return _out(g, x) if not isinstance(x, np.ndarray) else np.asarray(g, dtype=float)
    axes = _axes(axis, x.ndim)
    rest = [i for i in range(x.ndim) if i not in axes]
    perm = rest + list(axes)
    xt = np.transpose(x, perm)
    flat = xt.reshape(xt.shape[:len(rest)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,))
    left = np.concatenate([ones, np.cumprod(flat[..., :-1], axis=-1)], axis=-1)
    right = np.concatenate([ones, np.cumprod(flat[..., :0:-1], axis=-1)], axis=-1)[..., ::-1]
    others = np.transpose((left * right).reshape(xt.shape), np.argsort(perm))
    return _expand(g, x.shape, axes) * others


_QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _quantile_weights(a, q, axis, method):
    """``a`` with ``axis`` moved last (raveled for None) and, per quantile in ``q``, the
    one-hot weights ``(q.size, ..., n)`` of ``np.quantile(..., method=method)`` on the
    elements of ``a``: for "linear", ``1 - frac`` on the order statistic below, ``frac``
    on the one above; "lower", "higher", "nearest" (ties to the even index, as NumPy
    rounds) take one order statistic, "midpoint" half of each (ties: the elements the
    stable sort puts there)."""
    if method not in _QUANTILE_METHODS:
        raise RuleLimitError(f"gradient of np.quantile with method={method!r}; only "
                             + ", ".join(repr(m) for m in _QUANTILE_METHODS)
                             + " are supported")
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise RuleLimitError("gradient of np.quantile/percentile/median over several "
                                  "axes; reshape the array first")
    x = np.asarray(a, dtype=float)
    xm = np.ravel(x) if axis is None else np.moveaxis(x, int(axis), -1)
    n = xm.shape[-1]
    qs = np.ravel(np.asarray(q, dtype=float))
    pos = qs * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    if method == "lower":
        frac = np.zeros(qs.size)
    elif method == "higher":
        lo = np.ceil(pos).astype(int)
        frac = np.zeros(qs.size)
    elif method == "nearest":
        lo = np.around(pos).astype(int)
        frac = np.zeros(qs.size)
    elif method == "midpoint":
        hi = np.ceil(pos).astype(int)
        frac = np.full(qs.size, 0.5)
    order = np.argsort(xm, axis=-1, kind="stable")
    slots = np.arange(n)
    weights = []
    for k in range(qs.size):
        below = slots == np.take(order, [lo[k]], axis=-1)
        above = slots == np.take(order, [hi[k]], axis=-1)
        weights.append((1.0 - frac[k]) * below + frac[k] * above)
    return xm, np.array(weights)


def quantile_adjoint(g, a, q, axis=None, keepdims=False, method="linear"):
    """Adjoint of ``a`` in ``np.quantile`` (``np.percentile`` with ``q / 100``,
    ``np.median`` with ``q = 0.5``)."""
    xm, weights = _quantile_weights(a, q, axis, method)
    gq = np.reshape(g, (weights.shape[0],) + xm.shape[:-1])      # keepdims: same size
    out = np.sum(gq[..., None] * weights, axis=0)
    if axis is not None:
        out = np.moveaxis(out, -1, int(axis))
    return _out(np.reshape(out, np.shape(a)), a)


def quantile_tangent(t, z, a, q, axis=None, keepdims=False, method="linear", dq=0.0,
                     what="np.quantile"):
    """Tangent of ``np.quantile`` (``what``: the function the user called, for the
    refusal): the weights of :func:`_quantile_weights` on ``t`` (none in ``q``: ``dq``
    must be 0)."""
    _no_tangent_in(dq, f"{what}: its q")
    xm, weights = _quantile_weights(a, q, axis, method)
    tm = np.ravel(t) if axis is None else np.moveaxis(np.asarray(t, dtype=float), int(axis), -1)
    return _shaped(np.sum(weights * tm, axis=-1), z)


def extremum_adjoint(g, z, x, axis=None, keepdims=False):
    """Adjoint of max/min-like reductions: ``g`` goes to the elements equal to the
    result, split evenly between ties."""
    shape = np.shape(x)
    axes = _axes(axis, len(shape))
    hit = np.asarray(x) == _expand(z, shape, axes)
    count = np.sum(hit, axis=axes, keepdims=True)
    return _out(_expand(g, shape, axes) * hit / np.maximum(count, 1), x)


def ptp_adjoint(g, x, axis=None, keepdims=False):
    hi = np.max(x, axis=axis, keepdims=True)
    lo = np.min(x, axis=axis, keepdims=True)
    return extremum_adjoint(g, hi, x, axis) - extremum_adjoint(g, lo, x, axis)


def var_adjoint(g, x, axis=None, ddof=0, keepdims=False):
    """Adjoint of ``np.var``: ``2 g (x - mean) / (n - ddof)``."""
    x = np.asarray(x, dtype=float)
    axes = _axes(axis, x.ndim)
    centered = x - np.mean(x, axis=axes, keepdims=True)
    return _out(2.0 * _expand(g, x.shape, axes) * centered / (_count(x.shape, axes) - ddof), x)


def std_adjoint(g, z, x, axis=None, ddof=0, keepdims=False):
    """Adjoint of ``np.std``: ``g (x - mean) / ((n - ddof) std)``."""
    x = np.asarray(x, dtype=float)
    axes = _axes(axis, x.ndim)
    centered = x - np.mean(x, axis=axes, keepdims=True)
    scale = _expand(g, x.shape, axes) / _expand(z, x.shape, axes)
    return _out(scale * centered / (_count(x.shape, axes) - ddof), x)


def _reverse_cumsum(g, axis):
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)


def cumsum_adjoint(g, x, axis=None):
    """Adjoint of ``np.cumsum``: a cumulative sum from the other end."""
    if axis is None:
        return like(_reverse_cumsum(np.ravel(g), 0), x)
    return _out(_reverse_cumsum(np.asarray(g), axis), x)


def cumprod_adjoint(g, z, x, axis=None):
    """Adjoint of ``np.cumprod``: reverse cumsum of g*z, over x; where x has zeros,
    the recurrence z[k] = z[k-1] x[k] run backwards (exact, the products of the other
    elements)."""
    if axis is None:
        flat = np.ravel(x)
        if np.any(flat == 0):
            return like(_cumprod_adjoint_exact(np.ravel(g), flat, 0), x)
        return like(_reverse_cumsum(np.ravel(g) * np.ravel(z), 0) / flat, x)
    if np.any(np.asarray(x) == 0):
        return _out(_cumprod_adjoint_exact(g, x, axis), x)
    return _out(_reverse_cumsum(np.asarray(g) * z, axis) / x, x)


def _cumprod_adjoint_exact(g, x, axis):
    """Adjoint of ``np.cumprod(x, axis)`` by the reverse of its recurrence: exact where
    x has zeros (the quotient z / x is not)."""
    x = np.asarray(x, dtype=float)
    g = np.moveaxis(np.broadcast_to(np.asarray(g, dtype=float), x.shape), axis, 0)
    x = np.moveaxis(x, axis, 0)
    before = np.concatenate([np.ones((1,) + x.shape[1:]), np.cumprod(x[:-1], axis=0)])
    out = np.empty(x.shape)
    carry = np.zeros(x.shape[1:])
    for k in reversed(range(x.shape[0])):
        carry = g[k] + (carry * x[k + 1] if k + 1 < x.shape[0] else 0.0)
        out[k] = carry * before[k]
    return np.moveaxis(out, 0, axis)


def nansum_adjoint(g, x, axis=None, keepdims=False):
    shape = np.shape(x)
    gx = _expand(g, shape, _axes(axis, len(shape)))
    return _out(np.where(np.isnan(x), 0.0, gx), x)


def nanmean_adjoint(g, x, axis=None, keepdims=False):
    shape = np.shape(x)
    axes = _axes(axis, len(shape))
    valid = ~np.isnan(x)
    count = np.sum(valid, axis=axes, keepdims=True)
    return _out(np.where(valid, _expand(g, shape, axes) / count, 0.0), x)


def _average_weights(a, axis, weights):
    """The weights of ``np.average`` broadcast against ``a``."""
    a = np.asarray(a)
    if weights is None:
        return np.ones(a.shape)
    w = np.asarray(weights, dtype=float)
    if w.shape != a.shape:      # 1-D weights along one axis
        shape = [1] * a.ndim
        shape[int(axis) % a.ndim] = w.size
        w = w.reshape(shape)
    return np.broadcast_to(w, a.shape)


def average_adjoint(g, a, axis=None, weights=None, keepdims=False):
    """Adjoint of ``a`` in ``np.average(a, axis, weights)``: ``g w / sum(w)``."""
    a = np.asarray(a)
    axes = _axes(axis, a.ndim)
    w = _average_weights(a, axis, weights)
    total = np.sum(w, axis=axes, keepdims=True)
    return _out(_expand(g, a.shape, axes) * w / total, a)


def average_weights_adjoint(g, z, a, axis=None, weights=None, keepdims=False):
    """Adjoint of ``weights`` in ``np.average``: ``g (a - avg) / sum(w)``."""
    a = np.asarray(a)
    axes = _axes(axis, a.ndim)
    w = _average_weights(a, axis, weights)
    total = np.sum(w, axis=axes, keepdims=True)
    out = _expand(g, a.shape, axes) * (a - _expand(z, a.shape, axes)) / total
    if np.shape(weights) != a.shape:
        out = np.sum(out, axis=tuple(i for i in range(a.ndim) if i != int(axis) % a.ndim))
    return _out(out, weights)


# -- shapes and indexing -------------------------------------------------------------


def transpose_adjoint(g, axes=None):
    return np.transpose(g) if axes is None else np.transpose(g, np.argsort(axes))


def ravel_adjoint(g, x, order="C"):
    if order in ("A", "K"):
        arr = np.asarray(x)
        order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
        if order == "C" and not arr.flags.c_contiguous and arr.ndim > 1:
            raise RuleLimitError("gradient of ravel(order='K'/'A') of a strided array")
    return _out(np.reshape(g, np.shape(x), order=order or "C"), x)


def rollaxis_adjoint(g, axis, start=0):
    nd = np.ndim(g)
    axis = axis % nd
    start = start % (nd + 1) if start < 0 else start
    if start > axis:
        return np.rollaxis(g, start - 1, axis)
    return np.rollaxis(g, start, axis + 1)


def roll_adjoint(g, shift, axis=None):
    return np.roll(g, np.negative(shift), axis)


def repeat_adjoint(g, x, repeats, axis=None):
    """Adjoint of ``np.repeat``: the copies of each element summed back."""
    arr = np.asarray(x)
    g = np.asarray(g, dtype=float)
    if axis is None:
        owner = np.repeat(np.arange(arr.size), repeats)
        out = np.zeros(arr.size)
        np.add.at(out, owner, g)
        return like(out, x)
    axis = axis % arr.ndim
    owner = np.repeat(np.arange(arr.shape[axis]), repeats)
    out = np.zeros(arr.shape)
    np.add.at(np.moveaxis(out, axis, 0), owner, np.moveaxis(g, axis, 0))
    return out


def tile_adjoint(g, x, reps):
    """Adjoint of ``np.tile``: the tiles summed back onto one."""
    shape = np.shape(x)
    reps = tuple(int(r) for r in np.atleast_1d(reps))
    nd = max(len(shape), len(reps))
    base = (1,) * (nd - len(shape)) + tuple(shape)
    reps = (1,) * (nd - len(reps)) + reps
    interleaved = [n for pair in zip(reps, base) for n in pair]
    summed = np.reshape(g, interleaved).sum(axis=tuple(range(0, 2 * nd, 2)))
    return like(summed, x)


def diagonal_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.diagonal``: ``g`` written onto the diagonal of zeros."""
    out = np.zeros(np.shape(a))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    n = np.shape(g)[-1]
    rows = np.arange(n) + max(-offset, 0)
    cols = np.arange(n) + max(offset, 0)
    view[..., rows, cols] = g
    return out


def diag_adjoint(g, v, k=0):
    """Adjoint of ``np.diag``: extracts for a built matrix, embeds for an extracted one."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k).copy()
    return diagonal_adjoint(g, v, k)


def diagflat_adjoint(g, v, k=0):
    """Adjoint of ``np.diagflat(v, k)``: the ``k``-th diagonal of ``g``, shaped as ``v``."""
    return like(np.diagonal(g, k), v)


def _gathered(g, owner, size):
    """For each of ``size`` items, the sum of ``g`` over the places ``owner`` (of the
    result's shape) gives its index; -1 marks places of no item."""
    own = np.ravel(owner)
    gg = np.ravel(np.broadcast_to(np.asarray(g, dtype=float), np.shape(owner)))
    keep = own >= 0
    return np.bincount(own[keep].astype(np.intp), weights=gg[keep], minlength=size)


def insert_adjoint(g, arr, obj, values, axis=None, which=0):
    """Adjoint of ``arr`` (which=0) or ``values`` (1) in ``np.insert``: ``np.insert`` of
    their items' indices (-1 for the other argument's) says where each went in the
    result (``values`` broadcast: an item in several places sums them)."""
    a = np.asarray(arr)
    v = np.asarray(values)
    if which == 0:
        owner = np.insert(np.arange(a.size, dtype=float).reshape(a.shape), obj, -1.0, axis)
        return like(_gathered(g, owner, a.size), arr)
    owner = np.insert(np.full(a.shape, -1.0), obj,
                      np.arange(v.size, dtype=float).reshape(v.shape), axis)
    return like(_gathered(g, owner, v.size), values)


def insert_transpose(h, arr, obj, values, axis=None, which=0):
    """Transpose of :func:`insert_adjoint`: ``h`` (shaped as the argument) inserted, the
    other argument's places 0."""
    if which == 0:
        return np.insert(np.asarray(h, dtype=float), obj, 0.0, axis)
    return np.insert(np.zeros(np.shape(arr)), obj, h, axis)


def delete_adjoint(g, arr, obj, axis=None):
    """Adjoint of ``arr`` in ``np.delete``: ``g`` back at the places of the items kept,
    0 at the deleted ones."""
    a = np.asarray(arr)
    owner = np.delete(np.arange(a.size, dtype=float).reshape(a.shape), obj, axis)
    return like(_gathered(g, owner, a.size), arr)


def trace_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.trace``: ``g`` on the traced diagonal."""
    n = np.diagonal(a, offset, axis1, axis2).shape[-1]
    g = np.asarray(g, dtype=float)
    return diagonal_adjoint(np.broadcast_to(g[..., None], g.shape + (n,)), a, offset,
                            axis1, axis2)


def np_take_adjoint(g, a, indices, axis=None, mode="raise"):
    """Adjoint of ``np.take``: ``g`` scattered (and summed) back into zeros."""
    arr = np.asarray(a)
    idx = np.asarray(indices)
    n = arr.size if axis is None else arr.shape[axis]
    if mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = np.clip(idx, 0, n - 1)
    g = np.asarray(g, dtype=float)
    if axis is None:
        out = np.zeros(arr.size)
        np.add.at(out, idx, g)
        return like(out, a)
    axis = axis % arr.ndim
    out = np.zeros(arr.shape)
    moved = np.moveaxis(g, tuple(range(axis, axis + idx.ndim)), tuple(range(idx.ndim)))
    np.add.at(np.moveaxis(out, axis, 0), idx, moved)
    return out


def take_along_axis_adjoint(g, arr, indices, axis=-1):
    """Adjoint of ``np.take_along_axis``."""
    a = np.asarray(arr)
    g = np.asarray(g, dtype=float)
    if axis is None:
        out = np.zeros(a.size)
        np.add.at(out, indices, g)
        return like(out, arr)
    axis = axis % a.ndim
    index = []
    for i in range(a.ndim):
        if i == axis:
            index.append(np.asarray(indices))
            continue
        shape = [1] * a.ndim
        shape[i] = g.shape[i]
        pos = np.arange(g.shape[i]) if a.shape[i] != 1 else np.zeros(g.shape[i], int)
        index.append(pos.reshape(shape))
    out = np.zeros(a.shape)
    np.add.at(out, tuple(index), g)
    return out


def sort_adjoint(g, a, axis=-1):
    """Adjoint of ``np.sort``: ``g`` sent back through the sorting permutation."""
    arr = np.asarray(a)
    g = np.asarray(g, dtype=float)
    if axis is None:
        out = np.zeros(arr.size)
        out[np.argsort(arr, axis=None, kind="stable")] = g
        return like(out, a)
    out = np.zeros(arr.shape)
    np.put_along_axis(out, np.argsort(arr, axis=axis, kind="stable"), g, axis)
    return out


_COPY_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_sources(array, pad_width, mode):
    """For each element of ``np.pad(array, ...)``, the flat index it was copied from
    (-1 for the constant border)."""
    if mode not in _COPY_MODES:
        raise RuleLimitError(f"gradient of np.pad with mode={mode!r}; "
                                  f"supported modes: {', '.join(_COPY_MODES)}")
    shape = np.shape(array)
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    if mode == "constant":
        return np.pad(idx, pad_width, mode="constant", constant_values=-1)
    return np.pad(idx, pad_width, mode=mode)


def pad_adjoint(g, array, pad_width, mode="constant"):
    """Adjoint of ``array`` in ``np.pad``: each padded element's adjoint goes back to
    the element it copies."""
    src = _pad_sources(array, pad_width, mode)
    keep = src >= 0
    out = np.zeros(np.size(array))
    np.add.at(out, src[keep], np.asarray(g, dtype=float)[keep])
    return like(out, array)


def pad_constant_adjoint(g, array, pad_width, mode="constant"):
    """Adjoint of a scalar ``constant_values`` in ``np.pad``: the border's adjoints."""
    src = _pad_sources(array, pad_width, mode)
    return np.sum(np.where(src < 0, g, 0.0))


def _split_sizes(parts, axis):
    return np.cumsum([np.shape(p)[axis] for p in parts])[:-1]


def concatenate_adjoint(g, arrays, axis=0):
    """Adjoint of ``np.concatenate``: a list holding each input's slice of ``g``."""
    arrays = list(arrays)
    if axis is None:
        cuts = np.cumsum([np.size(p) for p in arrays])[:-1]
        return [like(piece, p) for piece, p in zip(np.split(np.ravel(g), cuts), arrays)]
    pieces = np.split(np.asarray(g), _split_sizes(arrays, axis), axis=axis)
    return [like(piece, p) for piece, p in zip(pieces, arrays)]


def split_adjoint(g, ary, indices_or_sections, axis=0, uneven=False):
    """Adjoint of ``np.split`` (``np.array_split`` with ``uneven``): the adjoints of the
    pieces (``0.0`` for a piece not used) put back together along ``axis``."""
    split = np.array_split if uneven else np.split
    shapes = [p.shape for p in split(np.empty(np.shape(ary)), indices_or_sections, axis)]
    parts = [np.zeros(shape) if type(gk) is float and gk == 0.0 else np.asarray(gk)
             for gk, shape in zip(g, shapes)]
    return _out(np.concatenate(parts, axis), ary)


def split_transpose(h, g, ary, indices_or_sections, axis=0, uneven=False):
    """Transpose of :func:`split_adjoint`: ``h`` (shaped like ``ary``) split again."""
    split = np.array_split if uneven else np.split
    return [np.array(p) for p in split(np.asarray(h), indices_or_sections, axis)]


def stack_adjoint(g, arrays, axis=0):
    """Adjoint of ``np.stack``: the slices of ``g`` along the new axis."""
    moved = np.moveaxis(np.asarray(g), axis, 0)
    return [like(piece, p) for piece, p in zip(moved, arrays)]


def meshgrid_adjoint(g, xs, k, indexing="xy"):
    """Adjoint of the coordinate vector ``xs[k]`` in ``np.meshgrid(*xs)`` (``g`` holds the
    adjoints of the grids, ``0.0`` for one not used): its grid's adjoint summed over the
    other axes (with ``indexing="xy"`` the first two axes are swapped)."""
    gk = g[k]
    x = xs[k]
    if type(gk) is float and gk == 0.0:
        return _out(np.zeros(np.shape(x)), x)
    gk = np.asarray(gk, dtype=float)
    axis = k
    if indexing == "xy" and len(xs) >= 2 and k < 2:
        axis = 1 - k
    others = tuple(a for a in range(gk.ndim) if a != axis)
    return like(np.sum(gk, axis=others), x)


def select_adjoint(g, condlist, choicelist, default=0, which=0):
    """Adjoint of the choices (which=0, a list) or of ``default`` (which=1) in
    ``np.select``: ``g`` where each is the one selected (the first true condition;
    ``default`` where none is), summed back to its shape."""
    g = np.asarray(g, dtype=float)
    taken = np.zeros(g.shape, dtype=bool)
    out = []
    for c, x in zip(condlist, choicelist):
        mask = np.broadcast_to(c, g.shape) & ~taken
        taken = taken | mask
        out.append(sum_to(np.where(mask, g, 0.0), x))
    if which == 1:
        return sum_to(np.where(taken, 0.0, g), default)
    return out


def select_transpose(h, g, condlist, choicelist, default=0, which=0):
    """Transpose of :func:`select_adjoint` (the tangent of ``np.select`` in the choices,
    or in ``default``): ``h`` the list of the choices' adjoints, or that of ``default``."""
    shape = np.shape(g)
    if which == 1:
        pieces = [np.zeros(shape) for _ in choicelist]
        return _shaped(np.select(condlist, pieces, np.broadcast_to(h, shape)), g)
    pieces = [np.broadcast_to(dense(t, x), shape) for t, x in zip(h, choicelist)]
    return _shaped(np.select(condlist, pieces, 0.0), g)


def _joined_adjoint(g, arrays, promote, axis):
    promoted = [promote(p) for p in arrays]
    pieces = np.split(np.asarray(g), _split_sizes(promoted, axis), axis=axis)
    return [like(piece, p) for piece, p in zip(pieces, arrays)]


def vstack_adjoint(g, tup):
    return _joined_adjoint(g, tup, np.atleast_2d, 0)


def hstack_adjoint(g, tup):
    axis = 0 if all(np.ndim(p) <= 1 for p in tup) else 1
    return _joined_adjoint(g, tup, np.atleast_1d, axis)


def _nested(arrays, leaf):
    """The nested lists of ``np.block`` with ``leaf(x, k)`` for its ``k``-th array, in
    order (tuples are not nesting in ``np.block``: they are arrays)."""
    count = [0]

    def walk(a):
        if isinstance(a, list):
            return [walk(b) for b in a]
        k = count[0]
        count[0] += 1
        return leaf(a, k)
    return walk(arrays)


def block_adjoint(g, arrays):
    """Adjoint of ``np.block(arrays)``: nested lists as ``arrays``, each array's part of
    ``g`` (where ``np.block`` of arrays of its index puts it), in its shape."""
    owner = np.block(_nested(arrays, lambda a, k: np.full(np.shape(a), float(k))))
    g = np.broadcast_to(np.asarray(g, dtype=float), owner.shape)
    return _nested(arrays, lambda a, k: like(g[owner == k], a))


def dstack_adjoint(g, tup):
    return _joined_adjoint(g, tup, np.atleast_3d, 2)


def column_stack_adjoint(g, tup):
    def promote(p):
        p = np.asarray(p)
        return p.reshape(-1, 1) if p.ndim < 2 else p
    return _joined_adjoint(g, tup, promote, 1)


def array_adjoint(g, obj):
    """Adjoint of ``np.array(obj)`` (also asarray, copy...): ``g`` shaped like ``obj``;
    for a list or tuple, the list of its elements' adjoints."""
    if isinstance(obj, (list, tuple)):
        return [array_adjoint(gi, oi) for gi, oi in zip(np.asarray(g), obj)]
    g = np.asarray(g)
    out = np.reshape(g, np.shape(obj))      # ndmin may have added leading axes
    return _out(np.array(out, dtype=np.result_type(g.dtype, np.float64)), obj)


def append_adjoint(g, arr, values, axis=None, which=0):
    """Adjoint of ``arr`` (which=0) or ``values`` (which=1) in ``np.append``."""
    if axis is None:
        n = np.size(arr)
        flat = np.ravel(g)
        return like(flat[:n] if which == 0 else flat[n:], arr if which == 0 else values)
    n = np.shape(arr)[axis]
    first, second = np.split(np.asarray(g), [n], axis=axis)
    return _out(first.copy(), arr) if which == 0 else _out(second.copy(), values)


def diff_adjoint(g, a, n=1, axis=-1, prepend=None, append=None, which=0):
    """Adjoint of ``a`` (which=0), ``prepend`` (1) or ``append`` (2) in ``np.diff``."""
    g = np.asarray(g, dtype=float)
    axis = axis % g.ndim
    for _ in range(n):
        width = [(0, 0)] * g.ndim
        width[axis] = (1, 0)
        before = np.pad(g, width)
        width[axis] = (0, 1)
        g = before - np.pad(g, width)
    start = 0 if prepend is None else (1 if np.ndim(prepend) == 0 else np.shape(prepend)[axis])
    size = np.shape(a)[axis]
    index = [slice(None)] * g.ndim
    part, target = [(slice(start, start + size), a), (slice(0, start), prepend),
                    (slice(start + size, None), append)][which]
    index[axis] = part
    piece = g[tuple(index)]
    if np.ndim(target) == 0:
        return np.sum(piece)
    return unbroadcast(piece.copy(), target)


# -- elementwise ----------------------------------------------------------------------


def _clip_bounds(a_min, a_max, min, max):
    """The lower and upper bound of ``np.clip`` (given as a_min/a_max or min/max)."""
    return (a_min if a_min is not None else min), (a_max if a_max is not None else max)


def clip_adjoint(g, a, a_min=None, a_max=None, min=None, max=None):
    """Adjoint of ``a`` in ``np.clip``: ``g`` where ``a`` lies within the bounds."""
    lo, hi = _clip_bounds(a_min, a_max, min, max)
    inside = np.ones(np.shape(a), dtype=bool)
    if lo is not None:
        inside = inside & (a >= lo)
    if hi is not None:
        inside = inside & (a <= hi)
    return sum_to(np.where(inside, g, 0.0), a)


def clip_bound_adjoint(g, a, a_min, a_max, min, max, which):
    """Adjoint of the bound named ``which`` of ``np.clip``: ``g`` where it clips.
    With crossed bounds NumPy returns the upper bound."""
    lo, hi = _clip_bounds(a_min, a_max, min, max)
    if which in ("a_min", "min"):
        hit = a < lo
        if hi is not None:
            hit = hit & (lo <= hi)
        return sum_to(np.where(hit, g, 0.0), lo)
    hit = a > hi
    if lo is not None:
        hit = hit | (lo > hi)
    return sum_to(np.where(hit, g, 0.0), hi)


def sinc_derivative(x):
    """d/dx sin(pi x)/(pi x), with the limit 0 at x = 0."""
    px = np.pi * np.asarray(x, dtype=float)
    safe = np.where(px == 0.0, 1.0, px)
    return np.where(px == 0.0, 0.0, (np.cos(safe) * safe - np.sin(safe)) / (safe * safe) * np.pi)


def real_adjoint(g, x):
    return g + 0j if np.iscomplexobj(x) else _out(np.real(g), x)


def imag_adjoint(g, x):
    if np.iscomplexobj(x):
        return -1j * g
    return _out(np.zeros(np.shape(x)), x)


# -- linear algebra -----------------------------------------------------------------


def mT(a):
    """The matrix transpose of the last two axes."""
    return np.swapaxes(a, -1, -2)


def vdot_adjoint(g, other, x):
    """Adjoint of ``x`` in ``np.vdot(x, other)`` or ``np.vdot(other, x)`` (real)."""
    return like(g * np.ravel(other), x)


def outer_adjoint_a(g, a, b):
    return like(np.dot(g, np.ravel(b)), a)


def outer_adjoint_b(g, a, b):
    return like(np.dot(np.ravel(a), g), b)


def _tensordot_axes(axes, na, nb):
    if isinstance(axes, (int, np.integer)):
        return list(range(na - axes, na)), list(range(axes))
    ax_a, ax_b = axes
    ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
    ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
    return [int(i) % na for i in ax_a], [int(i) % nb for i in ax_b]


def tensordot_adjoint_a(g, a, b, axes=2):
    na, nb = np.ndim(a), np.ndim(b)
    ax_a, ax_b = _tensordot_axes(axes, na, nb)
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [i for i in range(nb) if i not in ax_b]
    out = np.tensordot(g, b, axes=(list(range(len(free_a), np.ndim(g))), free_b))
    # the axes of b left in ``out`` come in b's order; each pairs with an axis of a
    paired = dict(zip(ax_b, ax_a))
    return _out(np.transpose(out, np.argsort(free_a + [paired[i] for i in sorted(ax_b)])), a)


def tensordot_adjoint_b(g, a, b, axes=2):
    na, nb = np.ndim(a), np.ndim(b)
    ax_a, ax_b = _tensordot_axes(axes, na, nb)
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [i for i in range(nb) if i not in ax_b]
    out = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    paired = dict(zip(ax_a, ax_b))
    return _out(np.transpose(out, np.argsort([paired[i] for i in sorted(ax_a)] + free_b)), b)


def inner_adjoint_a(g, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * b, a)
    return tensordot_adjoint_a(g, a, b, ([-1], [-1]))


def inner_adjoint_b(g, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    return tensordot_adjoint_b(g, a, b, ([-1], [-1]))


def vecdot_adjoint(g, other, x, axis=-1):
    """Adjoint of ``x`` in ``np.vecdot(x, other)`` / ``np.vecdot(other, x)`` (real)."""
    return unbroadcast(np.expand_dims(g, axis) * np.asarray(other), x)


def kron_adjoint(g, a, b, which):
    """Adjoint of ``a`` (which=0) or ``b`` (which=1) in ``np.kron(a, b)``."""
    nd = max(np.ndim(a), np.ndim(b))
    A = np.reshape(a, (1,) * (nd - np.ndim(a)) + np.shape(a))
    B = np.reshape(b, (1,) * (nd - np.ndim(b)) + np.shape(b))
    # kron(A, B)[i0*n0 + j0, ...] = A[i0, ...] * B[j0, ...]
    blocks = np.reshape(g, [n for pair in zip(A.shape, B.shape) for n in pair])
    a_axes = tuple(range(0, 2 * nd, 2))
    b_axes = tuple(range(1, 2 * nd, 2))
    blocks = np.transpose(blocks, a_axes + b_axes)      # (A dims..., B dims...)
    if which == 0:
        out = np.tensordot(blocks, B, axes=nd)
        return like(out, a)
    out = np.tensordot(A, blocks, axes=nd)
    return like(out, b)


def _einsum_letters(used):
    return [c for c in string.ascii_letters if c not in used]


def _einsum_spec(subscripts, operands):
    """Input and output subscripts with every ``...`` spelled out in letters."""
    if not isinstance(subscripts, str):
        raise RuleLimitError("gradient of np.einsum needs a subscripts string "
                                  "(the sublist form is not supported)")
    spec = subscripts.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    ins = ins.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum subscripts {subscripts!r} name {len(ins)} operands, "
                         f"got {len(operands)}")
    n_ell = max([np.ndim(op) - (len(s) - 3) for s, op in zip(ins, operands) if "..." in s],
                default=0)
    ell = "".join(_einsum_letters(spec)[:n_ell])
    fixed = []
    for s, op in zip(ins, operands):
        if "..." in s:
            k = np.ndim(op) - (len(s) - 3)
            s = s.replace("...", ell[n_ell - k:] if k else "")
        fixed.append(s)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {}
        for c in "".join(fixed):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return fixed, out


def einsum_adjoint(g, subscripts, operands, k):
    """Adjoint of operand ``k`` of ``np.einsum(subscripts, *operands)``."""
    ins, out = _einsum_spec(subscripts, operands)
    target = operands[k]
    shape = np.shape(target)
    sub = ins[k]
    others = [s for i, s in enumerate(ins) if i != k]
    other_ops = [np.asarray(op) for i, op in enumerate(operands) if i != k]
    unique = "".join(dict.fromkeys(sub))
    sizes = {c: shape[sub.index(c)] for c in unique}
    named = set(out).union(*others)
    lonely = [c for c in unique if c not in named]     # summed only in this operand
    inputs = [out] + others + lonely
    ops = [np.asarray(g)] + other_ops + [np.ones(sizes[c]) for c in lonely]
    res = np.einsum(",".join(inputs) + "->" + unique, *ops)
    # operands that broadcast a size-1 axis: sum it back
    want = tuple(sizes[c] for c in unique)
    axes = tuple(i for i, (n, m) in enumerate(zip(want, res.shape)) if n == 1 and m != 1)
    if axes:
        res = np.sum(res, axis=axes, keepdims=True)
    res = np.broadcast_to(res, want)
    if len(unique) != len(sub):       # repeated letters: put res on the diagonal
        spare = _einsum_letters(set("".join(ins) + out))
        labels, deltas = [], []
        seen = set()
        for c in sub:
            if c in seen:
                new = spare.pop(0)
                labels.append(new)
                deltas.append((c, new))
            else:
                seen.add(c)
                labels.append(c)
        spec = ",".join([unique] + [c + n for c, n in deltas]) + "->" + "".join(labels)
        res = np.einsum(spec, res, *[np.eye(sizes[c]) for c, _ in deltas])
    return _out(np.array(res, dtype=float), target)


def einsum_sublist_error(subscripts):
    raise RuleLimitError("gradient of np.einsum needs a subscripts string "
                              "(the sublist form is not supported)")


def cross_adjoint_a(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return unbroadcast(np.cross(b, g, axisb, axisc, axisa, axis), a)


def cross_adjoint_b(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return unbroadcast(np.cross(g, a, axisc, axisa, axisb, axis), b)


def solve_transposed(a, g, b):
    """``solve(a^T, g)``: the adjoint of ``b`` in ``x = solve(a, b)`` before summing
    over broadcast batch axes."""
    if np.ndim(b) == 1:
        return np.linalg.solve(mT(a), np.asarray(g)[..., None])[..., 0]
    return np.linalg.solve(mT(a), g)


def solve_adjoint_a(gb, x, b):
    """Adjoint of ``a`` in ``x = solve(a, b)`` given ``gb = solve(a^T, g)``: ``-gb x^T``."""
    if np.ndim(b) == 1:
        return -(gb[..., :, None] * x[..., None, :])
    return -(gb @ mT(x))


def det_cofactors(z, a):
    """The derivative of ``z = np.linalg.det(a)``: the cofactor matrix ``det(a) inv(a)^T``;
    where a matrix is singular (``z`` exactly 0, where ``inv`` raises), from the SVD
    ``a = U S Vh``: ``det(U) det(Vh) U diag(prod_{j != i} s_j) Vh`` (not 0 at rank n - 1)."""
    if np.all(z != 0):
        return np.asarray(z)[..., None, None] * mT(np.linalg.inv(a))
    u, sv, vh = np.linalg.svd(a)
    n = sv.shape[-1]
    others = []
    for i in range(n):
        others.append(np.prod(np.concatenate([sv[..., :i], sv[..., i + 1:]], axis=-1), axis=-1))
    rest = np.stack(others, axis=-1)
    signs = np.linalg.det(u) * np.linalg.det(vh)
    return signs[..., None, None] * ((u * rest[..., None, :]) @ vh)


def det_adjoint(g, z, a):
    """Adjoint of ``np.linalg.det``: ``g det(a) inv(a)^T``, the cofactors (also where
    ``a`` is singular)."""
    return np.asarray(g)[..., None, None] * det_cofactors(z, a)


def slogdet_adjoint(g, a):
    """Adjoint of ``np.linalg.slogdet`` (``g`` holds the adjoints of sign and logdet)."""
    g_logdet = g[1]
    return np.asarray(g_logdet)[..., None, None] * mT(np.linalg.inv(a))


def _eigh_gaps(w):
    """``F[..., i, j] = 1 / (w_j - w_i)`` off the diagonal, 0 on it (inf where eigenvalues
    repeat: the eigenvectors are not differentiable there)."""
    n = w.shape[-1]
    eye = np.eye(n, dtype=bool)
    diff = w[..., None, :] - w[..., :, None]
    tie = diff == 0.0           # (no division by 0: no RuntimeWarning for the inf meant)
    return np.where(eye, 0.0, np.where(tie, np.inf, 1.0 / np.where(eye | tie, 1.0, diff)))


def _times_gaps(gaps, m):
    """``gaps * m``, 0 where ``m`` is 0 (a matrix that does not vary has eigenvectors
    that do not either, repeated eigenvalues or not: no ``inf * 0``)."""
    still = m == 0.0
    return np.where(still, 0.0, gaps * np.where(still, 1.0, m))     # (no inf * 0)


def eigh_adjoint(g, z, a):
    """Adjoint of ``np.linalg.eigh`` (``g`` holds the adjoints of the eigenvalues and the
    eigenvectors, ``0.0`` for one not used): ``V (diag(gw) + F * (V^T gV)) V^T``, made
    symmetric (a is taken to be symmetric, as for cholesky)."""
    w, v = z[0], z[1]
    gw, gv = g[0], g[1]
    n = np.shape(a)[-1]
    inner = np.zeros(np.shape(v))
    if not (type(gw) is float and gw == 0.0):
        inner = inner + np.asarray(gw)[..., None] * np.eye(n)
    if not (type(gv) is float and gv == 0.0):
        inner = inner + _times_gaps(_eigh_gaps(w), mT(v) @ gv)
    abar = v @ inner @ mT(v)
    return 0.5 * (abar + mT(abar))


def eigvalsh_adjoint(g, a):
    """Adjoint of ``np.linalg.eigvalsh``: ``V diag(g) V^T``."""
    v = np.linalg.eigh(a)[1]
    return (v * np.asarray(g)[..., None, :]) @ mT(v)


def _zero(g):
    return type(g) is float and g == 0.0


def pinv_adjoint(g, z, a):
    """Adjoint of ``P = np.linalg.pinv(a)`` (rank taken as constant around ``a``):
    ``-P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)``."""
    a = np.asarray(a, dtype=float)
    p = np.asarray(z)
    m, n = a.shape[-2], a.shape[-1]
    pt, gt = mT(p), mT(g)
    return -(pt @ g @ pt) + (np.eye(m) - a @ p) @ gt @ p @ pt \
        + pt @ p @ gt @ (np.eye(n) - p @ a)


def pinv_tangent(t, z, a):
    """Tangent of ``np.linalg.pinv``: ``-P T P + (I - P A) T^T P^T P + P P^T T^T (I - A P)``."""
    a = np.asarray(a, dtype=float)
    p = np.asarray(z)
    m, n = a.shape[-2], a.shape[-1]
    tt, pt = mT(t), mT(p)
    return -(p @ t @ p) + (np.eye(n) - p @ a) @ tt @ pt @ p \
        + p @ pt @ tt @ (np.eye(m) - a @ p)


def svd_adjoint(g, z, a, full_matrices=True, compute_uv=True):
    """Adjoint of ``np.linalg.svd`` through the singular values only: ``U diag(gs) V^T``.
    The singular vectors (``u``, ``vh`` of ``compute_uv=True``) carrying an adjoint raise."""
    if compute_uv:
        if not (_zero(g[0]) and _zero(g[2])):
            raise RuleLimitError("gradient of np.linalg.svd through its singular "
                                      "vectors; only the singular values are supported")
        gs = g[1]
        if _zero(gs):
            return np.zeros(np.shape(a))
    else:
        gs = g
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return (u * np.asarray(gs)[..., None, :]) @ vh


def svd_tangent(t, z, a, full_matrices=True, compute_uv=True):
    """Tangent of ``np.linalg.svd``: ``ds_i = u_i^T t v_i``; with ``compute_uv`` (the
    reduced factors, or the full ones of a square matrix), for distinct nonzero singular
    values, with ``P = U^T t V`` and ``F_ij = 1 / (s_j^2 - s_i^2)``:
    ``dU = U (F * (P S + S P^T)) + (I - U U^T) t V S^-1``,
    ``dV = V (F * (S P + P^T S)) + (I - V V^T) t^T U S^-1`` (Townsend 2016); the
    hessian of the singular values goes through it (their adjoint calls svd)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    ds = np.einsum("...ji,...jk,...ik->...i", u, t, vh)
    if not compute_uv:
        return ds
    m, n = np.shape(a)[-2:]
    if full_matrices and m != n:
        raise RuleLimitError("derivative of the singular vectors of np.linalg.svd(..., "
                             "full_matrices=True) of a non-square matrix (not unique); "
                             "pass full_matrices=False")
    v = mT(vh)
    p = mT(u) @ t @ v
    sm = s[..., None, :]                        # S on the right: p * sm is P S
    gaps = _eigh_gaps(s ** 2)                   # 1 / (s_j^2 - s_i^2) off the diagonal
    du = u @ _times_gaps(gaps, p * sm + mT(p * sm))
    dv = v @ _times_gaps(gaps, mT(p) * sm + p * s[..., :, None])
    if m > n:
        du = du + (t - u @ (mT(u) @ t)) @ v / sm
    elif n > m:
        dv = dv + (mT(t) - v @ (vh @ mT(t))) @ u / sm
    return du, ds, mT(dv)


def lstsq_adjoint(g, z, a, b, which=0):
    """Adjoint of ``a`` (which=0) or ``b`` (1) in ``np.linalg.lstsq``, whose result is
    ``(x, residuals, rank, s)``: ``x = pinv(a) b`` for ``a`` of full column rank (rank
    deficient raises), the residuals ``|b - a x|^2`` and the singular values ``s``."""
    x, res, rank, sv = z
    a = np.asarray(a, dtype=float)
    m, n = a.shape
    if rank < n:
        raise RuleLimitError("gradient of np.linalg.lstsq of a matrix without full "
                                  "column rank (rank {} < {} columns)".format(rank, n))
    bb = np.asarray(b, dtype=float)
    vec = bb.ndim == 1
    b2 = bb[:, None] if vec else bb
    x2 = np.asarray(x)[:, None] if vec else np.asarray(x)
    p = np.linalg.pinv(a)
    r = b2 - a @ x2
    gx = np.zeros(x2.shape) if _zero(g[0]) else (np.asarray(g[0])[:, None] if vec
                                                  else np.asarray(g[0]))
    zx = p.T @ gx                          # the adjoint of x seen in b
    if which == 1:
        out = zx
        if not _zero(g[1]) and np.size(res):
            out = out + 2.0 * r * np.asarray(g[1])
        return _out(out[:, 0] if vec else out, b)
    out = -(zx @ x2.T) + r @ (p @ zx).T
    if not _zero(g[1]) and np.size(res):
        out = out - 2.0 * (r * np.asarray(g[1])) @ x2.T
    if not _zero(g[3]):
        out = out + svd_adjoint(g[3], None, a, compute_uv=False)
    return out


def lstsq_tangent(ta, tb, z, a, b):
    """Tangent of ``np.linalg.lstsq`` (see :func:`lstsq_adjoint`); the rank has none."""
    x, res, rank, sv = z
    a = np.asarray(a, dtype=float)
    if rank < a.shape[1]:
        raise RuleLimitError("derivative of np.linalg.lstsq of a matrix without full "
                                  "column rank")
    p = np.linalg.pinv(a)
    ta = dense(ta, a)
    tb = dense(tb, b)
    r = np.asarray(b, dtype=float) - a @ x
    dx = pinv_tangent(ta, p, a) @ np.asarray(b, dtype=float) + p @ tb
    dres = np.zeros(np.shape(res))
    if np.size(res):
        dr = tb - ta @ x                 # x moves too, but r is orthogonal to a dx
        dres = 2.0 * np.sum(r * dr, axis=0).reshape(np.shape(res))
    ds = svd_tangent(ta, sv, a, compute_uv=False)
    return dx, dres, 0, ds


def qr_adjoint(g, z, a, mode="reduced"):
    """Adjoint of ``np.linalg.qr`` (reduced, ``a`` of full column rank with ``m >= n``):
    ``(gQ + Q copyltu(M)) R^-T`` with ``M = R gR^T - gQ^T Q`` (``copyltu``: the lower
    triangle mirrored up)."""
    if mode != "reduced":
        raise RuleLimitError(f"gradient of np.linalg.qr with mode={mode!r}; only "
                                  "'reduced' (the default) is supported")
    q, r = z[0], z[1]
    m, n = np.shape(a)[-2], np.shape(a)[-1]
    if m < n:
        raise RuleLimitError("gradient of np.linalg.qr of a wide matrix (m < n)")
    gq = np.zeros(np.shape(q)) if _zero(g[0]) else np.asarray(g[0])
    gr = np.zeros(np.shape(r)) if _zero(g[1]) else np.asarray(g[1])
    mm = r @ mT(gr) - mT(gq) @ q
    low = np.tril(mm, -1)
    copyltu = low + mT(low) + mm * np.eye(n)
    rhs = gq + q @ copyltu
    return mT(np.linalg.solve(r, mT(rhs)))


def qr_tangent(t, z, a, mode="reduced"):
    """Tangent of ``np.linalg.qr`` (see :func:`qr_adjoint`): with ``C = Q^T t R^-1`` and
    ``W`` the skew part of its strict lower triangle, ``dQ = Q W + (I - Q Q^T) t R^-1``,
    ``dR = (C - W) R``."""
    if mode != "reduced":
        raise RuleLimitError(f"derivative of np.linalg.qr with mode={mode!r}")
    q, r = z[0], z[1]
    t = dense(t, a)
    rinv_t = mT(np.linalg.solve(mT(r), mT(t)))          # t R^-1
    c = mT(q) @ rinv_t
    low = np.tril(c, -1)
    w = low - mT(low)
    dq = q @ w + rinv_t - q @ (mT(q) @ rinv_t)
    dr = (c - w) @ r
    return dq, dr


def cholesky_adjoint(g, L):
    """Adjoint of ``np.linalg.cholesky`` (symmetric result; Murray 2016)."""
    n = L.shape[-1]
    phi = np.tril(mT(L) @ g) / (1.0 + np.eye(n))
    Linv = np.linalg.inv(L)
    S = mT(Linv) @ phi @ Linv
    return 0.5 * (S + mT(S))


def matrix_power_adjoint(g, a, n):
    """Adjoint of ``np.linalg.matrix_power(a, n)``."""
    a = np.asarray(a, dtype=float)
    if n == 0:
        return np.zeros(a.shape)
    if n < 0:
        b = np.linalg.inv(a)
        gb = matrix_power_adjoint(g, b, -n)
        return -(mT(b) @ gb @ mT(b))
    at = mT(a)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ at)
    out = np.zeros(np.broadcast_shapes(a.shape, np.shape(g)))
    for k in range(n):
        out = out + powers[k] @ g @ powers[n - 1 - k]
    return unbroadcast(out, a)


def _vector_norm_adjoint(gx, zx, x, ord, axes):
    """Elementwise adjoint of a vector p-norm over ``axes`` (gx, zx broadcast)."""
    ax = np.abs(x)
    sign = np.sign(x)
    if ord is None or ord == 2:
        return gx * x / np.where(zx == 0, 1.0, zx)
    if ord == 1:
        return gx * sign
    if ord in (np.inf, -np.inf):
        hit = ax == zx
        count = np.sum(hit, axis=axes, keepdims=True)
        return gx * sign * hit / np.maximum(count, 1)
    if ord == 0:
        return np.zeros(np.shape(x))
    p = float(ord)
    return gx * sign * ax ** (p - 1) / np.where(zx == 0, 1.0, zx) ** (p - 1)


def _matrix_norm_adjoint(gm, x, ord):
    """Adjoint of a matrix norm of the last two axes of ``x`` (``gm`` ends in 1, 1)."""
    if ord in (None, "fro"):
        z = np.sqrt(np.sum(x * x, axis=(-2, -1), keepdims=True))
        return gm * x / np.where(z == 0, 1.0, z)
    if ord in ("nuc", 2, -2):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        if ord == "nuc":
            return gm * (u @ vh)
        i = 0 if ord == 2 else -1
        return gm * (u[..., :, i:i + 1 or None] @ vh[..., i:i + 1 or None, :])
    if ord in (1, -1, np.inf, -np.inf):
        over = -2 if ord in (1, -1) else -1      # column sums for 1, row sums for inf
        sums = np.sum(np.abs(x), axis=over, keepdims=True)
        pick = np.max(sums, axis=-1 if over == -2 else -2, keepdims=True) if ord > 0 else \
            np.min(sums, axis=-1 if over == -2 else -2, keepdims=True)
        hit = sums == pick
        count = np.sum(hit, axis=(-2, -1), keepdims=True)
        return gm * np.sign(x) * hit / count
    raise RuleLimitError(f"gradient of the matrix norm with ord={ord!r}")


def norm_adjoint(g, z, x, ord=None, axis=None, keepdims=False):
    """Adjoint of ``np.linalg.norm``: vector norms (2, 1, inf, -inf, 0, p), Frobenius,
    nuclear and the induced matrix norms (1, -1, 2, -2, inf, -inf)."""
    x = np.asarray(x, dtype=float)
    if axis is None:
        matrix = ord is not None and x.ndim == 2
        axis = (0, 1) if matrix else None
    else:
        matrix = isinstance(axis, (tuple, list)) and len(axis) == 2
    axes = _axes(axis, x.ndim)
    if not matrix:
        return _vector_norm_adjoint(_expand(g, x.shape, axes), _expand(z, x.shape, axes), x,
                                    ord, axes)
    src = tuple(int(a) % x.ndim for a in axis)
    xm = np.moveaxis(x, src, (-2, -1))
    gm = np.moveaxis(np.reshape(g, _kept(x.shape, axes)), src, (-2, -1))
    return np.moveaxis(_matrix_norm_adjoint(gm, xm, ord), (-2, -1), src)


def vector_norm_adjoint(g, z, x, axis=None, keepdims=False, ord=2):
    x = np.asarray(x, dtype=float)
    axes = _axes(axis, x.ndim)
    return _vector_norm_adjoint(_expand(g, x.shape, axes), _expand(z, x.shape, axes), x,
                                ord, axes)


def matrix_norm_adjoint(g, x, keepdims=False, ord="fro"):
    x = np.asarray(x, dtype=float)
    gm = np.reshape(g, x.shape[:-2] + (1, 1))
    return _matrix_norm_adjoint(gm, x, ord)


# -- construction and signal processing ------------------------------------------------


def linspace_adjoint(g, start, stop, num=50, endpoint=True, retstep=False, axis=0,
                     which=0):
    """Adjoint of ``start`` (which=0) or ``stop`` (which=1) in ``np.linspace``."""
    if retstep:
        raise RuleLimitError("gradient of np.linspace(..., retstep=True)")
    t = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    weight = 1.0 - t if which == 0 else t
    moved = np.moveaxis(np.asarray(g), axis, 0)
    return sum_to(np.tensordot(weight, moved, 1), start if which == 0 else stop)


def _full_length(g, n, m, mode, correlate=False):
    """``g`` (of a convolve/correlate in ``mode``) embedded in the full-mode output."""
    g = np.asarray(g, dtype=float)
    total = n + m - 1
    out = np.zeros(total)
    off = (total - g.size + (correlate and n < m)) // 2
    out[off:off + g.size] = g
    return out


def convolve_adjoint(g, a, v, mode="full", which=0):
    """Adjoint of ``a`` (which=0) or ``v`` (which=1) in ``np.convolve`` (1-D, real)."""
    full = _full_length(g, np.size(a), np.size(v), mode)
    other = v if which == 0 else a
    return like(np.correlate(full, np.ravel(other), "valid"), a if which == 0 else v)


def correlate_adjoint(g, a, v, mode="valid", which=0):
    """Adjoint of ``a`` (which=0) or ``v`` (which=1) in ``np.correlate`` (1-D, real)."""
    full = _full_length(g, np.size(a), np.size(v), mode, correlate=True)
    if which == 0:
        return like(np.convolve(full, np.ravel(v), "valid"), a)
    return like(np.correlate(full, np.ravel(a), "valid")[::-1], v)


def trapezoid_adjoint(g, y, x=None, dx=1.0, axis=-1, which=0):
    """Adjoint of ``y`` (which=0), ``x`` (1) or ``dx`` (2) in ``np.trapezoid``."""
    y = np.asarray(y, dtype=float)
    axis = axis % y.ndim
    n = y.shape[axis]
    g = np.expand_dims(np.asarray(g, dtype=float), axis)

    def along(v):          # a 1-D array laid along ``axis``
        shape = [1] * y.ndim
        shape[axis] = -1
        return np.reshape(v, shape)

    if x is None:
        steps = along(np.full(n - 1, float(dx)))
    else:
        xa = np.asarray(x, dtype=float)
        steps = along(np.diff(xa)) if xa.ndim == 1 else np.diff(xa, axis=axis)
    if which == 0:
        width = [(0, 0)] * y.ndim
        width[axis] = (1, 0)
        right = np.pad(np.broadcast_to(steps, _with(y.shape, axis, n - 1)), width)
        width[axis] = (0, 1)
        left = np.pad(np.broadcast_to(steps, _with(y.shape, axis, n - 1)), width)
        return _out(0.5 * g * (left + right), y)
    avg = 0.5 * (np.take(y, range(1, n), axis) + np.take(y, range(n - 1), axis))
    if which == 2:
        return unbroadcast(np.sum(g * avg), dx)
    width = [(0, 0)] * y.ndim
    width[axis] = (1, 0)
    up = np.pad(g * avg, width)
    width[axis] = (0, 1)
    down = np.pad(g * avg, width)
    out = up - down
    if np.ndim(x) == 1:
        return np.sum(out, axis=tuple(i for i in range(y.ndim) if i != axis))
    return unbroadcast(out, x)


def polyval_adjoint_p(g, p, x):
    """Adjoint of the coefficients ``p`` (1-D, highest power first) in ``np.polyval``:
    ``sum(g * x ** (n - 1 - k))`` for coefficient ``k``."""
    n = np.shape(p)[0]
    xa = np.asarray(x, dtype=float)
    powers = np.expand_dims(xa, -1) ** np.arange(n - 1, -1, -1)
    weighted = np.expand_dims(np.broadcast_to(g, xa.shape), -1) * powers
    return _out(np.reshape(weighted, (-1, n)).sum(axis=0), p)


def polyval_slope(p, x):
    """The derivative of the polynomial ``p`` at ``x``: ``np.polyval(np.polyder(p), x)``."""
    n = np.shape(p)[0]
    return np.polyval(np.asarray(p)[:-1] * np.arange(n - 1, 0, -1), x) if n > 1 \
        else np.zeros(np.shape(x))


def _interp_segments(x, xp, fp):
    """Per point of ``x``: the index ``i`` of the right end of its segment of ``xp``
    (searchsorted, side right, kept in 1..n-1: a point on a knot takes the segment to
    its right, ``xp[-1]`` the last one), the slope ``s`` and position ``t`` in it, and
    masks of the points left of ``xp[0]``, inside ``[xp[0], xp[-1]]`` and right of it."""
    x = np.asarray(x, dtype=float)
    xp = np.asarray(xp, dtype=float)
    fp = np.asarray(fp, dtype=float)
    n = xp.shape[0]
    i = np.clip(np.searchsorted(xp, x, side="right"), 1, n - 1)
    h = xp[i] - xp[i - 1]
    s = (fp[i] - fp[i - 1]) / h
    t = (x - xp[i - 1]) / h
    below = x < xp[0]
    above = x > xp[n - 1]
    inside = ~(below | above)
    return i, s, t, below, inside, above


def interp_adjoint(g, x, xp, fp, left=None, right=None, which=0):
    """Adjoint of ``x`` (which=0), ``xp`` (1), ``fp`` (2), ``left`` (3) or ``right``
    (4) in ``np.interp``: piecewise linear in ``x`` (slope 0 outside ``[xp[0], xp[-1]]``),
    linear in ``fp``, ``left`` and ``right``."""
    i, s, t, below, inside, above = _interp_segments(x, xp, fp)
    g = np.broadcast_to(np.asarray(g, dtype=float), np.shape(i))
    if which == 0:
        return _out(np.where(inside, g * s, 0.0), x)
    if which == 3:
        return _out(np.sum(np.where(below, g, 0.0)), left)
    if which == 4:
        return _out(np.sum(np.where(above, g, 0.0)), right)
    gi = np.where(inside, g, 0.0)
    if which == 1:
        lo = np_take_adjoint(gi * s * (t - 1.0), xp, i - 1)
        return _out(lo + np_take_adjoint(-(gi * s * t), xp, i), xp)
    lo = np_take_adjoint(gi * (1.0 - t), fp, i - 1)
    hi = np_take_adjoint(gi * t, fp, i)
    n = np.shape(fp)[0]
    ends = np.zeros(n)
    if left is None:
        ends = ends + np.where(np.arange(n) == 0, np.sum(np.where(below, g, 0.0)), 0.0)
    if right is None:
        ends = ends + np.where(np.arange(n) == n - 1, np.sum(np.where(above, g, 0.0)), 0.0)
    return _out(lo + hi + ends, fp)


def _gradient_axes(f, spacing, axis):
    """The axes ``np.gradient(f, *spacing, axis=axis)`` differentiates along, and the
    spacing (a number or the coordinates) of each."""
    ndim = np.ndim(f)
    if axis is None:
        axes = tuple(range(ndim))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(int(a) % ndim for a in axis)       # in the order given
    else:
        axes = (int(axis) % ndim,)
    if len(spacing) == 0:
        spacing = (1.0,) * len(axes)
    elif len(spacing) == 1:
        spacing = tuple(spacing) * len(axes)
    return axes, spacing


def _gradient_band(n, h, edge_order):
    """``{o: c}`` with ``c[i] = d out[i] / d f[i + o]`` for the 1-D ``np.gradient`` of
    ``n`` points and spacing ``h``: every output depends on inputs at most 2 away, so
    five probes, the indicators of ``i % 5 == k``, give every coefficient."""
    probes = np.array([np.gradient((np.arange(n) % 5 == k).astype(float), h,
                                   edge_order=edge_order) for k in range(5)])
    rows = np.arange(n)
    band = {}
    for o in range(-2, 3):
        cols = rows + o
        ok = (cols >= 0) & (cols < n)
        c = np.zeros(n)
        c[ok] = probes[cols[ok] % 5, rows[ok]]
        band[o] = c
    return band


def _gradient_transpose_1d(g, axis, h, edge_order):
    """The transpose of ``np.gradient`` along ``axis`` applied to ``g``."""
    gm = np.moveaxis(np.asarray(g, dtype=float), axis, -1)
    n = gm.shape[-1]
    out = np.zeros(gm.shape)
    for o, c in _gradient_band(n, h, edge_order).items():
        term = gm * c
        if o >= 0:
            out[..., o:] += term[..., :n - o]
        else:
            out[..., :n + o] += term[..., -o:]
    return np.moveaxis(out, -1, axis)


def gradient_adjoint(g, f, spacing=(), axis=None, edge_order=1):
    """Adjoint of ``f`` in ``np.gradient(f, *spacing, axis=axis, edge_order=...)`` (linear
    in ``f``): ``g`` is one array, or one per axis for a tuple result (``0.0`` for a
    part not used)."""
    axes, steps = _gradient_axes(f, spacing, axis)
    parts = [g] if len(axes) == 1 else list(g)
    out = np.zeros(np.shape(f))
    for part, ax, h in zip(parts, axes, steps):
        if not (type(part) is float and part == 0.0):
            out = out + _gradient_transpose_1d(part, ax, h, edge_order)
    return _out(out, f)


def gradient_spacing_adjoint(g, z, f, spacing=(), axis=None, edge_order=1, which=0):
    """Adjoint of the spacing argument ``which`` of ``np.gradient``: a number ``h``
    scales the result along its axes as ``1 / h``."""
    axes, steps = _gradient_axes(f, spacing, axis)
    gs = [g] if len(axes) == 1 else list(g)
    zs = [z] if len(axes) == 1 else list(z)
    if np.ndim(spacing[which]) > 0:
        raise RuleLimitError("gradient of np.gradient along its sample coordinates "
                                  "(a spacing array); pass them as a constant")
    mine = range(len(axes)) if len(spacing) == 1 else (which,)
    total = 0.0
    for k in mine:
        total = total - np.sum(np.asarray(gs[k]) * zs[k]) / steps[k]
    return _out(total, spacing[which])


def gradient_adjoint_tangent(dg, dspacing, g, f, spacing=(), axis=None, edge_order=1):
    """Tangent of :func:`gradient_adjoint`: linear in ``g``, ``1 / h`` in each spacing
    number ``h`` (the parts of ``g`` along its axes)."""
    out = 0.0 if _no_tangent(dg) else gradient_adjoint(dg, f, spacing, axis, edge_order)
    axes, steps = _gradient_axes(f, spacing, axis)
    for j, ds in enumerate(dense(dspacing, spacing) if not _no_tangent(dspacing) else ()):
        if np.all(np.asarray(ds) == 0):
            continue
        if np.ndim(spacing[j]) > 0:
            raise RuleLimitError("derivative of np.gradient along its sample "
                                      "coordinates (a spacing array); pass them as a constant")
        if len(axes) == 1:
            part = g
        else:
            part = [gk if len(spacing) == 1 or k == j else 0.0 for k, gk in enumerate(g)]
        out = out - gradient_adjoint(part, f, spacing, axis, edge_order) * (ds / spacing[j])
    return _out(out, f) if not _no_tangent(out) else _out(np.zeros(np.shape(f)), f)


def gradient_tangent(df, dspacing, z, f, spacing=(), axis=None, edge_order=1):
    """Tangent of ``np.gradient``: linear in ``f``, ``1 / h`` in a spacing number ``h``."""
    axes, steps = _gradient_axes(f, spacing, axis)
    many = len(axes) > 1
    out = [np.zeros(np.shape(f)) for _ in axes]
    if not _no_tangent(df):
        t = np.gradient(df, *spacing, axis=axis, edge_order=edge_order)
        out = [a + b for a, b in zip(out, t if many else [t])]
    for j, ds in enumerate(dspacing):
        if _no_tangent(ds):
            continue
        if np.ndim(spacing[j]) > 0:
            raise RuleLimitError("derivative of np.gradient along its sample "
                                      "coordinates (a spacing array); pass them as a constant")
        zs = list(z) if many else [z]
        mine = range(len(axes)) if len(spacing) == 1 else (j,)
        for k in mine:
            out[k] = out[k] - zs[k] * (ds / steps[k])
    return tuple(out) if many else out[0]


def _cov_flipped(v, rowvar, is_y):
    """Whether ``np.cov`` transposes ``v`` (``rowvar=False``: ``m`` unless it is 1-D, ``y``
    unless it has one row once 2-D)."""
    if rowvar:
        return False
    return np.atleast_2d(v).shape[0] != 1 if is_y else np.ndim(v) != 1


def _cov_rows(v, rowvar, is_y=False):
    """``v`` as ``np.cov`` lays it out: variables in rows."""
    x = np.atleast_2d(np.asarray(v, dtype=float))
    return x.T if _cov_flipped(v, rowvar, is_y) else x


def _cov_data(m, y, rowvar, bias, ddof):
    x = _cov_rows(m, rowvar)
    if y is not None:
        x = np.concatenate((x, _cov_rows(y, rowvar, True)), axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    centered = x - np.mean(x, axis=1, keepdims=True)
    return x, centered, x.shape[1] - ddof


def _cov_back(dx, v, rows, rowvar, first):
    """The rows of ``dx`` that belong to ``v`` (the first ``rows``, or the rest), laid out
    as ``v``."""
    part = dx[:rows] if first else dx[rows:]
    if _cov_flipped(v, rowvar, not first):
        part = part.T
    return _out(np.reshape(part, np.shape(v)), v)


def cov_adjoint(g, m, y=None, rowvar=True, bias=False, ddof=None, which=0):
    """Adjoint of ``m`` (which=0) or ``y`` (1) in ``np.cov``: ``(G + G^T) Xc / (n - ddof)``
    for the centered data ``Xc`` (its rows have mean 0, so centering passes it on)."""
    x, centered, k = _cov_data(m, y, rowvar, bias, ddof)
    nv = x.shape[0]
    gm = np.reshape(g, (nv, nv))
    dx = (gm + gm.T) @ centered / k
    rows = _cov_rows(m, rowvar).shape[0]
    return _cov_back(dx, y if which else m, rows, rowvar, which == 0)


def corrcoef_adjoint(g, x, y=None, rowvar=True, which=0):
    """Adjoint of ``x`` (which=0) or ``y`` (1) in ``np.corrcoef``, through the covariance
    ``C``: ``R = C / (s s^T)`` with ``s = sqrt(diag(C))`` (NumPy's clip to [-1, 1] only
    rounds; the diagonal is 1, with derivative 0)."""
    c = np.atleast_2d(np.cov(x, y, rowvar))
    s = np.sqrt(np.diagonal(c))
    scale = np.outer(s, s)
    r = c / scale
    gm = np.reshape(np.asarray(g, dtype=float), r.shape)
    gs = -(np.sum(gm * r, axis=1) + np.sum(gm * r, axis=0)) / s
    gc = gm / scale + np.diag(gs / (2.0 * s))
    return cov_adjoint(gc, x, y, rowvar, False, None, which)


def corrcoef_tangent(dx, dy, z, x, y=None, rowvar=True):
    """Tangent of ``np.corrcoef``: ``dC / (s s^T) - R (ds_i / s_i + ds_j / s_j)`` with
    ``ds = diag(dC) / (2 s)``."""
    c = np.atleast_2d(np.cov(x, y, rowvar))
    dc = np.atleast_2d(cov_tangent(dx, dy, c, x, y, rowvar))
    s = np.sqrt(np.diagonal(c))
    r = c / np.outer(s, s)
    rel = np.diagonal(dc) / (2.0 * s * s)
    return _shaped(dc / np.outer(s, s) - r * (rel[:, None] + rel[None, :]), z)


def _with(shape, axis, n):
    shape = list(shape)
    shape[axis] = n
    return tuple(shape)


# -- tangents (forward mode, see :mod:`s2sad.rules.numpy_tangents`) ---------------------
#
# ``t`` (or ``d<name>``) is the tangent of an argument. The tangent of an argument that
# carries no derivative is the plain ``0.0``; :func:`dense` turns it into zeros of the
# argument's shape where that matters. Tangents have the shape of their primal value.


def _no_tangent(t):
    """True for the ``0.0`` standing for the tangent of an inactive argument."""
    return type(t) in (int, float) and t == 0


def dense(t, x):
    """The tangent ``t`` of ``x`` with every ``0.0`` placeholder spelled out as zeros of
    the right shape (also inside lists and tuples, for sequences of arrays)."""
    if isinstance(x, (list, tuple)):
        if _no_tangent(t):
            t = [0.0] * len(x)
        return [dense(ti, xi) for ti, xi in zip(t, x)]
    if _no_tangent(t) and np.ndim(x) > 0:
        return np.zeros(np.shape(x))
    return t


def _shaped(v, z):
    """``v`` with the shape of the primal result ``z`` (a NumPy scalar for a scalar ``z``)."""
    v = np.asarray(v)
    if v.shape != np.shape(z):       # a kept-dims reduction, or a broadcast tangent
        v = np.reshape(v, np.shape(z)) if v.size == np.size(z) \
            else np.broadcast_to(v, np.shape(z))
    if v.dtype.kind in "biu":
        v = v.astype(np.float64)
    return v[()] if v.ndim == 0 and not isinstance(z, np.ndarray) else np.array(v)


def _reduce_tangent(jac, t, axes, z):
    """Tangent of a reduction over ``axes`` with per-element derivatives ``jac``; elements
    with no influence (``jac == 0``: nan entries, non-extreme elements) ignore their
    tangent even if it is not finite."""
    with np.errstate(invalid="ignore"):
        terms = np.where(jac == 0, 0.0, jac * t)
    return _shaped(np.sum(terms, axis=axes, keepdims=True), z)


def prod_tangent(t, z, x, axis=None, keepdims=False):
    """Tangent of ``np.prod``: the other elements' products (exact with zeros)."""
    if np.ndim(x) == 0:
        return _shaped(t, z)
    jac = prod_adjoint(np.ones(np.shape(z)), x, axis, keepdims)
    return _reduce_tangent(jac, t, _axes(axis, np.ndim(x)), z)


def extremum_tangent(t, z, x, axis=None, keepdims=False):
    """Tangent of max/min-like reductions: the mean tangent of the tied extreme elements
    (the convention of :func:`extremum_adjoint`)."""
    jac = extremum_adjoint(np.ones(np.shape(z)), z, x, axis, keepdims)
    return _reduce_tangent(jac, t, _axes(axis, np.ndim(x)), z)


def ptp_tangent(t, z, x, axis=None, keepdims=False):
    jac = ptp_adjoint(np.ones(np.shape(z)), x, axis, keepdims)
    return _reduce_tangent(jac, t, _axes(axis, np.ndim(x)), z)


def var_tangent(t, z, x, axis=None, ddof=0, keepdims=False):
    """Tangent of ``np.var``: ``sum(2 (x - mean) t) / (n - ddof)``."""
    jac = var_adjoint(np.ones(np.shape(z)), x, axis, ddof, keepdims)
    return _reduce_tangent(jac, t, _axes(axis, np.ndim(x)), z)


def std_tangent(t, z, x, axis=None, ddof=0, keepdims=False):
    jac = std_adjoint(np.ones(np.shape(z)), z, x, axis, ddof, keepdims)
    return _reduce_tangent(jac, t, _axes(axis, np.ndim(x)), z)


def nansum_tangent(t, z, x, axis=None, keepdims=False):
    """Tangent of ``np.nansum``: nan entries contribute nothing."""
    shape = np.shape(x)
    t = np.where(np.isnan(x), 0.0, t)
    return _shaped(np.sum(t, axis=_axes(axis, len(shape)), keepdims=True), z)


def nanmean_tangent(t, z, x, axis=None, keepdims=False):
    jac = nanmean_adjoint(np.ones(np.shape(z)), x, axis, keepdims)
    return _reduce_tangent(jac, np.where(np.isnan(x), 0.0, t), _axes(axis, np.ndim(x)), z)


def average_tangent(da, dw, z, a, axis=None, weights=None, keepdims=False):
    """Tangent of ``np.average(a, axis, weights)``: ``sum(w da + dw (a - avg)) / sum(w)``."""
    a = np.asarray(a, dtype=float)
    axes = _axes(axis, a.ndim)
    w = _average_weights(a, axis, weights)
    total = np.sum(w, axis=axes, keepdims=True)
    num = np.asarray(da) * w
    if weights is not None and not _no_tangent(dw):
        dwb = _average_weights(a, axis, dw) if np.ndim(dw) > 0 else dw
        num = num + dwb * (a - _expand(z, a.shape, axes))
    return _shaped(np.sum(num, axis=axes, keepdims=True) / total, z)


def cumprod_tangent(t, z, x, axis=None):
    """Tangent of ``np.cumprod``: z times the cumulative sum of t / x, or where x has
    zeros the recurrence dz[k] = dz[k-1] x[k] + z[k-1] t[k] (exact)."""
    if axis is None:
        flat = np.ravel(x)
        t = np.ravel(np.broadcast_to(t, np.shape(x)))
        if np.any(flat == 0):
            return _cumprod_tangent_exact(t, flat, 0)
        return z * np.cumsum(t / flat)
    if np.any(np.asarray(x) == 0):
        return _cumprod_tangent_exact(t, x, axis)
    return z * np.cumsum(t / x, axis)


def _cumprod_tangent_exact(t, x, axis):
    """Tangent of ``np.cumprod(x, axis)`` by its recurrence: exact where x has zeros."""
    x = np.asarray(x, dtype=float)
    t = np.moveaxis(np.broadcast_to(np.asarray(t, dtype=float), x.shape), axis, 0)
    x = np.moveaxis(x, axis, 0)
    out = np.empty(x.shape)
    z = np.ones(x.shape[1:])
    dz = np.zeros(x.shape[1:])
    for k in range(x.shape[0]):
        dz = dz * x[k] + z * t[k]
        z = z * x[k]
        out[k] = dz
    return np.moveaxis(out, 0, axis)


def trapezoid_tangent(dy, dx_, dd, z, y, x=None, dx=1.0, axis=-1):
    """Tangent of ``np.trapezoid(y, x, dx, axis)``: linear in ``y``, and in the sample
    points ``x`` (or the spacing ``dx`` when ``x`` is None) for fixed ``y``."""
    out = 0.0
    if not _no_tangent(dy):
        out = out + np.trapezoid(dy, x, dx, axis)
    if x is not None and not _no_tangent(dx_):
        out = out + np.trapezoid(y, dx_, dx, axis)
    if x is None and not _no_tangent(dd):
        out = out + np.trapezoid(y, None, dd, axis)
    return _shaped(out, z)


def polyval_tangent(dp, dx, p, x, z):
    """Tangent of ``np.polyval(p, x)``: ``polyval(dp, x) + polyval(p', x) dx``."""
    out = 0.0
    if not _no_tangent(dp):
        out = out + np.polyval(dp, x)
    if not _no_tangent(dx):
        out = out + polyval_slope(p, x) * dx
    return _shaped(out, z)


def interp_tangent(dx, dxp, dfp, dleft, dright, z, x, xp, fp, left=None, right=None):
    """Tangent of ``np.interp`` (see :func:`interp_adjoint`)."""
    i, s, t, below, inside, above = _interp_segments(x, xp, fp)
    out = 0.0
    if not _no_tangent(dx):
        out = out + s * dx
    if not _no_tangent(dxp):
        dxp = np.asarray(dxp)
        out = out + s * (t - 1.0) * dxp[i - 1] - s * t * dxp[i]
    if not _no_tangent(dfp):
        dfp = np.asarray(dfp)
        out = out + (1.0 - t) * dfp[i - 1] + t * dfp[i]
    out = np.where(inside, out, 0.0)
    if not _no_tangent(dfp) and left is None:
        out = out + np.where(below, np.asarray(dfp)[0], 0.0)
    if not _no_tangent(dfp) and right is None:
        out = out + np.where(above, np.asarray(dfp)[-1], 0.0)
    if not _no_tangent(dleft):
        out = out + np.where(below, dleft, 0.0)
    if not _no_tangent(dright):
        out = out + np.where(above, dright, 0.0)
    return _shaped(out, z)


def select_tangent(dchoices, ddefault, z, condlist, choicelist):
    """Tangent of ``np.select``: the tangents of the choices, selected as the values are."""
    pieces = [np.broadcast_to(t, np.shape(z)) for t in dense(dchoices, choicelist)]
    return _shaped(np.select(condlist, pieces, np.broadcast_to(ddefault, np.shape(z))), z)


def cov_tangent(dm, dy, z, m, y=None, rowvar=True, bias=False, ddof=None):
    """Tangent of ``np.cov``: ``(dXc Xc^T + Xc dXc^T) / (n - ddof)``."""
    x, centered, k = _cov_data(m, y, rowvar, bias, ddof)
    dx = _cov_rows(dense(dm, m), rowvar)
    if y is not None:
        dx = np.concatenate((dx, _cov_rows(dense(dy, y), rowvar, True)), axis=0)
    dc = dx - np.mean(dx, axis=1, keepdims=True)
    out = (dc @ centered.T + centered @ dc.T) / k
    return _shaped(out, z)


def clip_tangent(da, dlo, dhi, z, a, a_min=None, a_max=None, min=None, max=None):
    """Tangent of ``np.clip``: ``da`` inside the bounds (bounds included), the bound's
    tangent where it clips (the convention of :func:`clip_adjoint`)."""
    lo, hi = _clip_bounds(a_min, a_max, min, max)
    inside = np.ones(np.shape(a), dtype=bool)
    if lo is not None:
        inside = inside & (a >= lo)
    if hi is not None:
        inside = inside & (a <= hi)
    out = np.where(inside, da, 0.0)
    if lo is not None and not _no_tangent(dlo):
        hit = a < lo
        if hi is not None:
            hit = hit & (lo <= hi)
        out = out + np.where(hit, dlo, 0.0)
    if hi is not None and not _no_tangent(dhi):
        hit = a > hi
        if lo is not None:
            hit = hit | (lo > hi)
        out = out + np.where(hit, dhi, 0.0)
    return _shaped(out, z)


def nan_to_num_tangent(t, x, dnan=0.0, dposinf=0.0, dneginf=0.0):
    """Tangent of ``np.nan_to_num``: zero where ``x`` is nan or infinite, where the
    tangent of the value put there (``nan=``, ``posinf=``, ``neginf=``)."""
    out = np.where(np.isfinite(x), t, 0.0)
    for mask, d in ((np.isnan, dnan), (np.isposinf, dposinf), (np.isneginf, dneginf)):
        if not _no_tangent(d):
            out = out + np.where(mask(x), d, 0.0)
    return _out(out, x)


def nan_to_num_fill_adjoint(g, x, fill, which):
    """Adjoint of the value ``nan_to_num`` puts where ``x`` is nan (which=0), +inf (1)
    or -inf (2)."""
    mask = (np.isnan, np.isposinf, np.isneginf)[which](x)
    return sum_to(np.where(mask, g, 0.0), fill)


def sort_tangent(t, a, axis=-1):
    """Tangent of ``np.sort``: ``t`` through the (stable) sorting permutation."""
    order = np.argsort(a, axis=axis, kind="stable")
    if axis is None:
        return np.ravel(t)[order]
    return np.take_along_axis(np.asarray(t), order, axis)


def array_tangent(t, obj, z):
    """Tangent of ``np.array(obj)`` (also asarray...): for a list or tuple, the array of
    its elements' tangents; shaped like the result ``z`` (``ndmin``)."""
    t = np.asarray(dense(t, obj))
    return _shaped(np.array(t, dtype=np.result_type(t.dtype, np.float64)), z)


def astype_tangent(t, a, dtype):
    """Tangent of ``a.astype(dtype)``: zero for integer and boolean types, else ``t`` as
    a float (the precision of the tangent is kept)."""
    if np.dtype(dtype).kind in "biu":
        return _out(np.zeros(np.shape(a)), a)
    return _out(np.asarray(t, dtype=np.result_type(np.asarray(a).dtype, np.float64)), a)


def full_tangent(shape, t):
    """Tangent of ``np.full(shape, fill_value)`` and ``np.full_like``."""
    return np.full(shape, t, dtype=np.result_type(t, np.float64))


def linspace_tangent(dstart, dstop, z, start, stop, num=50, endpoint=True, axis=0,
                     retstep=False):
    """Tangent of ``np.linspace``: the same grid between the tangents of the ends."""
    if retstep:
        raise RuleLimitError("derivative of np.linspace(..., retstep=True)")
    shape = np.broadcast_shapes(np.shape(start), np.shape(stop))
    ds = np.broadcast_to(dstart, shape)
    de = np.broadcast_to(dstop, shape)
    return _shaped(np.linspace(ds, de, num, endpoint=endpoint, axis=axis), z)


def pad_tangent(t, dc, array, pad_width, mode="constant"):
    """Tangent of ``np.pad``: the tangent padded the same way; the border's tangent is
    that of ``constant_values`` in constant mode."""
    t = dense(t, array)
    if mode == "constant":
        return np.pad(np.asarray(t, dtype=float), pad_width, mode="constant",
                      constant_values=dc)
    return np.pad(np.asarray(t, dtype=float), pad_width, mode=mode)


def diff_tangent(t, dpre, dapp, a, n=1, axis=-1, prepend=None, append=None):
    """Tangent of ``np.diff`` (with ``prepend``/``append``)."""
    kwargs = {}
    if prepend is not None:
        kwargs["prepend"] = dense(dpre, prepend)
    if append is not None:
        kwargs["append"] = dense(dapp, append)
    return np.diff(np.asarray(dense(t, a), dtype=float), n, axis, **kwargs)


def solve_tangent(da, db, z, a, b):
    """Tangent of ``z = solve(a, b)``: ``solve(a, db - da z)``."""
    vec = np.ndim(b) == 1
    zm = z[..., None] if vec else z
    rhs = np.broadcast_to(db[..., None] if vec and np.ndim(db) else db, np.shape(zm))
    if not _no_tangent(da):
        rhs = rhs - da @ zm
    out = np.linalg.solve(a, rhs)
    return out[..., 0] if vec else out


def slogdet_tangent(t, z, a):
    """Tangent of ``np.linalg.slogdet``: ``(0, trace(inv(a) da))``; the sign has none."""
    sign = np.zeros(np.shape(z[0]))
    logdet = np.sum(mT(np.linalg.inv(a)) * t, axis=(-2, -1))
    return (sign[()] if sign.ndim == 0 else sign), logdet


def eigh_tangent(t, z):
    """Tangent of ``np.linalg.eigh`` for a symmetric tangent (``t`` is symmetrized):
    ``dw = diag(V^T t V)``, ``dV = V (F * (V^T t V))``."""
    w, v = z[0], z[1]
    inner = mT(v) @ (0.5 * (t + mT(t))) @ v
    return np.diagonal(inner, axis1=-2, axis2=-1).copy(), v @ _times_gaps(_eigh_gaps(w), inner)


def eigvalsh_tangent(t, a):
    v = np.linalg.eigh(a)[1]
    inner = mT(v) @ (0.5 * (t + mT(t))) @ v
    return np.diagonal(inner, axis1=-2, axis2=-1).copy()


def cholesky_tangent(t, L):
    """Tangent of ``np.linalg.cholesky`` for a symmetric tangent (``t`` is symmetrized,
    the convention of :func:`cholesky_adjoint`): ``L Phi(L^-1 t L^-T)``."""
    sym = 0.5 * (t + mT(t))
    Linv = np.linalg.inv(L)
    inner = Linv @ sym @ mT(Linv)
    n = L.shape[-1]
    phi = np.tril(inner) * (1.0 - 0.5 * np.eye(n))
    return L @ phi


def vander_slope(x, N=None, increasing=False):
    """The derivative of ``np.vander(x, N, increasing)`` at each ``x[i]``, column by
    column: ``p * x ** (p - 1)`` for the power ``p`` of the column, 0 for ``p = 0``."""
    x = np.asarray(x, dtype=float)
    n = x.shape[0] if N is None else N
    if n <= 1:
        return np.zeros((x.shape[0], max(n, 0)))
    zero = np.zeros((x.shape[0], 1))
    if increasing:
        return np.concatenate([zero, np.vander(x, n - 1, True) * np.arange(1, n)], axis=1)
    return np.concatenate([np.vander(x, n - 1) * np.arange(n - 1, 0, -1), zero], axis=1)


def vander_adjoint(g, x, N=None, increasing=False):
    """Adjoint of ``x`` in ``np.vander(x, N, increasing)``."""
    return _out(np.sum(g * vander_slope(x, N, increasing), axis=1), x)


def _multi_dot_matrices(arrays):
    """The items of ``np.linalg.multi_dot``'s list as matrices: a 1-D first item is a
    row, a 1-D last item a column."""
    n = len(arrays)
    mats = []
    for k in range(n):
        a = np.asarray(arrays[k], dtype=float)
        if a.ndim == 1:
            a = np.reshape(a, (1, -1)) if k == 0 else np.reshape(a, (-1, 1))
        mats.append(a)
    return mats


def multi_dot_adjoint(g, arrays):
    """Adjoint of ``np.linalg.multi_dot(arrays)``: a list, for item ``k`` the product
    of the items before it, transposed, times ``g`` times the product of the items
    after it, transposed."""
    mats = _multi_dot_matrices(arrays)
    n = len(mats)
    rows = mats[0].shape[0]
    cols = mats[n - 1].shape[1]
    g2 = np.reshape(np.asarray(g, dtype=float), (rows, cols))
    before = [np.eye(rows)]
    for k in range(n - 1):
        before.append(before[k] @ mats[k])
    after = [np.eye(cols)]
    for k in range(n - 1):
        after.append(mats[n - 1 - k] @ after[k])
    out = []
    for k in range(n):
        out.append(like(before[k].T @ g2 @ after[n - 1 - k].T, arrays[k]))
    return out


def multi_dot_tangent(t, arrays):
    """Tangent of ``np.linalg.multi_dot(arrays)`` (``t`` the items' tangents, dense):
    the sum over the items of the product with that item replaced by its tangent."""
    n = len(arrays)
    out = 0.0
    for k in range(n):
        out = out + np.linalg.multi_dot(list(arrays[:k]) + [t[k]] + list(arrays[k + 1:]))
    return out


def matrix_power_tangent(t, a, n):
    """Tangent of ``np.linalg.matrix_power(a, n)``: ``sum_k a^k t a^(n-1-k)``."""
    a = np.asarray(a, dtype=float)
    if n == 0:
        return np.zeros(a.shape)
    if n < 0:
        b = np.linalg.inv(a)
        return matrix_power_tangent(-(b @ t @ b), b, -n)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    for _ in range(n - 1):
        powers.append(powers[-1] @ a)
    out = np.zeros(np.broadcast_shapes(a.shape, np.shape(t)))
    for k in range(n):
        out = out + powers[k] @ t @ powers[n - 1 - k]
    return out


def _no_tangent_in(t, what):
    """A refusal where an argument a rule does not differentiate in has a tangent (not
    one of zeros: a list of constants may carry a list of zero tangents)."""
    try:
        zero = _no_tangent(t) or not np.any(np.asarray(t, dtype=float))
    except (TypeError, ValueError):
        zero = False
    if not zero:
        raise RuleLimitError(f"derivative of {what} carries a derivative, and s2sad "
                                  "does not differentiate in it; pass it as a constant "
                                  "(s2sad.stop_gradient) if its derivative is not needed")


def norm_tangent(t, z, x, ord=None, axis=None, keepdims=False, dord=0.0):
    """Tangent of ``np.linalg.norm``: the per-element derivatives of
    :func:`norm_adjoint` against ``t`` (none in ``ord``: ``dord`` must be 0)."""
    _no_tangent_in(dord, "np.linalg.norm: its ord")
    jac = norm_adjoint(np.ones(np.shape(z)), z, x, ord, axis, keepdims)
    return _reduce_tangent(jac, t, _axes(axis, np.ndim(x)), z)


def vector_norm_tangent(t, z, x, axis=None, keepdims=False, ord=2, dord=0.0):
    _no_tangent_in(dord, "np.linalg.vector_norm: its ord")
    jac = vector_norm_adjoint(np.ones(np.shape(z)), z, x, axis, keepdims, ord)
    return _reduce_tangent(jac, t, _axes(axis, np.ndim(x)), z)


def matrix_norm_tangent(t, z, x, keepdims=False, ord="fro"):
    jac = matrix_norm_adjoint(np.ones(np.shape(z)), x, keepdims, ord)
    return _reduce_tangent(jac, t, (np.ndim(x) - 2, np.ndim(x) - 1), z)


# -- derivatives of the adjoint helpers (hessians, grad of grad) -------------------------
#
# Most ``*_adjoint`` helpers are linear in ``g`` and use their other arguments only
# through shapes, indices or piecewise-constant masks: their tangent is the same call
# on the tangent of ``g``, and their own adjoint is the transposed map below (the
# tangent of the original function). The others get explicit second derivatives.


def no_derivative_in(what):
    """The contribution to an argument a rule does not differentiate in, reached only when
    that argument carries a derivative: a refusal rather than a silent zero."""
    raise RuleLimitError(f"gradient of {what} carries a derivative, and s2sad does "
                              "not differentiate in it; pass it as a constant "
                              "(s2sad.stop_gradient) if its derivative is not needed")


def second_order_error(what):
    raise RuleLimitError(f"reverse mode over the adjoint of {what} (grad of grad) is not "
                              "supported; use s2sad.hessian (forward over reverse)")


def gradient_transpose(h, g, f, spacing=(), axis=None, edge_order=1):
    """Transpose of :func:`gradient_adjoint` in ``g``: ``np.gradient`` of ``h`` (shaped
    like ``f``), one array per axis as ``g``."""
    return np.gradient(np.asarray(h, dtype=float), *spacing, axis=axis, edge_order=edge_order)


def ravel_transpose(h, x, order="C"):
    """Transpose of :func:`ravel_adjoint`: ``h`` (shaped like ``x``) raveled again."""
    if order in ("A", "K"):
        arr = np.asarray(x)
        order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
    return np.ravel(h, order=order or "C")


def append_transpose(h, arr, values, axis=None, which=0):
    """Transpose of :func:`append_adjoint`: ``h`` in its part, zeros in the other."""
    if which == 0:
        return np.append(h, np.zeros(np.shape(values)), axis)
    return np.append(np.zeros(np.shape(arr)), h, axis)


def diff_transpose(h, a, n=1, axis=-1, prepend=None, append=None, which=0):
    """Transpose of :func:`diff_adjoint`."""
    parts = [0.0, 0.0, 0.0]
    parts[which] = h
    return diff_tangent(parts[0], parts[1], parts[2], a, n, axis, prepend, append)


def clip_bound_transpose(h, g, a, a_min, a_max, min, max, which):
    """Transpose of :func:`clip_bound_adjoint`: ``h`` where the bound clips."""
    if which in ("a_min", "min"):
        return clip_tangent(0.0, h, 0.0, g, a, a_min, a_max, min, max)
    return clip_tangent(0.0, 0.0, h, g, a, a_min, a_max, min, max)


def transpose_method_transpose(h, axes):
    """Transpose of ``transpose_method_adjoint``: ``h`` permuted by ``axes``."""
    if len(axes) == 1 and axes[0] is not None and not isinstance(axes[0], (int, np.integer)):
        axes = axes[0]
    return np.transpose(h) if not len(axes) else np.transpose(h, axes)


def item_transpose(h, args):
    """Transpose of ``item_adjoint``: the element ``h.item(*args)``."""
    return np.asarray(h).item(*args)


def einsum_transpose(h, g, subscripts, operands, k):
    """Transpose of :func:`einsum_adjoint` in ``g``: the einsum with ``h`` as operand ``k``."""
    ops = list(operands)
    ops[k] = h
    return _shaped(np.einsum(subscripts, *ops), g)


def einsum_adjoint_tangent(dg, dops, g, subscripts, operands, k):
    """Tangent of :func:`einsum_adjoint`: linear in ``g`` and in each other operand."""
    out = 0.0
    if not _no_tangent(dg):
        out = einsum_adjoint(dg, subscripts, operands, k)
    if not _no_tangent(dops):
        for j, t in enumerate(dops):
            if j != k and not _no_tangent(t):
                ops = list(operands)
                ops[j] = t
                out = out + einsum_adjoint(g, subscripts, tuple(ops), k)
    return _shaped(out, operands[k])


def matrix_power_adjoint_tangent(dg, da, g, a, n):
    """Tangent of :func:`matrix_power_adjoint` (``g`` and ``a`` moving)."""
    a = np.asarray(a, dtype=float)
    out = 0.0
    if not _no_tangent(dg):
        out = matrix_power_adjoint(dg, a, n)
    if n == 0 or _no_tangent(da):
        return _shaped(out, a)
    if n < 0:
        b = np.linalg.inv(a)
        db = -(b @ da @ b)
        gb = matrix_power_adjoint(g, b, -n)
        dgb = matrix_power_adjoint_tangent(0.0, db, g, b, -n)
        bt, dbt = mT(b), mT(db)
        return _shaped(out - unbroadcast(dbt @ gb @ bt + bt @ dgb @ bt + bt @ gb @ dbt, a), a)
    at, dat = mT(a), mT(da)
    powers = [np.broadcast_to(np.eye(a.shape[-1]), a.shape)]
    dpowers = [np.zeros(a.shape)]
    for _ in range(n - 1):          # d(A^T)^(k+1) = d(A^T)^k A^T + (A^T)^k dA^T
        dpowers.append(dpowers[-1] @ at + powers[-1] @ dat)
        powers.append(powers[-1] @ at)
    extra = 0.0
    for k in range(n):
        extra = extra + dpowers[k] @ g @ powers[n - 1 - k] + powers[k] @ g @ dpowers[n - 1 - k]
    return _shaped(out + unbroadcast(extra, a), a)


def matrix_norm_hvp(gm, x, t, ord):
    """Derivative of ``_matrix_norm_adjoint(gm, x, ord)`` in ``x`` along ``t`` (symmetric in
    ``x`` and ``t``, so also its transpose). Zero for the piecewise-linear norms."""
    if ord in (None, "fro"):
        z = np.sqrt(np.sum(x * x, axis=(-2, -1), keepdims=True))
        safe = np.where(z == 0, 1.0, z)
        inner = np.sum(x * t, axis=(-2, -1), keepdims=True)
        return gm * (t / safe - np.where(z == 0, 0.0, x * inner / safe ** 3))
    if ord in (1, -1, np.inf, -np.inf):
        return np.zeros(np.broadcast_shapes(np.shape(gm), np.shape(x)))
    if ord not in ("nuc", 2, -2):
        raise RuleLimitError(f"gradient of the matrix norm with ord={ord!r}")
    du, u, dv, v = _svd_tangent(x, t)
    if ord == "nuc":                       # the gradient is U V^T
        return gm * (du @ mT(v) + u @ mT(dv))
    i = 0 if ord == 2 else -1              # the gradient is u_i v_i^T
    sl = slice(i, i + 1 or None)
    return gm * (du[..., :, sl] @ mT(v[..., :, sl]) + u[..., :, sl] @ mT(dv[..., :, sl]))


def _svd_tangent(x, t):
    """Thin SVD ``x = U S V^T`` and the tangents ``dU``, ``dV`` along ``t`` (distinct
    nonzero singular values): ``(dU, U, dV, V)``."""
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    v = mT(vh)
    dp = mT(u) @ t @ v
    s2 = s * s
    gap = s2[..., None, :] - s2[..., :, None]          # [i, j] = s_j^2 - s_i^2
    eye = np.eye(s.shape[-1], dtype=bool)
    f = np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, gap))
    col = s[..., None, :]
    row = s[..., :, None]
    du = u @ (f * (dp * col + row * mT(dp))) + (t @ v - u @ dp) / col
    dv = v @ (f * (row * dp + mT(dp) * col)) + (mT(t) @ u - v @ mT(dp)) / col
    return du, u, dv, v


def matrix_norm_adjoint_tangent(dgm, dx, gm, x, ord):
    """Tangent of ``_matrix_norm_adjoint(gm, x, ord)``."""
    out = 0.0
    if not _no_tangent(dgm):
        out = _matrix_norm_adjoint(dgm, x, ord)
    if not _no_tangent(dx):
        out = out + matrix_norm_hvp(gm, x, dx, ord)
    return np.broadcast_to(out, np.broadcast_shapes(np.shape(gm), np.shape(x))).copy()


def matrix_norm_gm_transpose(h, gm, x, ord):
    """Transpose of ``_matrix_norm_adjoint`` in ``gm``: ``h`` against the norm's gradient."""
    jac = _matrix_norm_adjoint(np.ones(np.shape(gm)), x, ord)
    return np.sum(h * jac, axis=(-2, -1), keepdims=True)


def _vector_norm_partials(zx, x, ord, axes):
    """For ``_vector_norm_adjoint(gx, zx, x) = gx * J``: ``J`` and its elementwise
    derivatives in ``x`` and in ``zx`` (zero for the piecewise-linear norms)."""
    ax = np.abs(x)
    sign = np.sign(x)
    zero = np.zeros(np.shape(x))
    if ord is None or ord == 2:
        zs = np.where(zx == 0, 1.0, zx)
        return x / zs, 1.0 / zs + zero, -x / (zs * zs)
    if ord == 1:
        return sign, zero, zero
    if ord in (np.inf, -np.inf):
        hit = ax == zx
        count = np.sum(hit, axis=axes, keepdims=True)
        return sign * hit / np.maximum(count, 1), zero, zero
    if ord == 0:
        return zero, zero, zero
    p = float(ord)
    zs = np.where(zx == 0, 1.0, zx)
    jac = sign * ax ** (p - 1) / zs ** (p - 1)
    return jac, (p - 1) * ax ** (p - 2) / zs ** (p - 1), -(p - 1) * jac / zs


def vector_norm_adjoint_tangent(dgx, dzx, dx, gx, zx, x, ord, axes):
    """Tangent of :func:`_vector_norm_adjoint` (``gx``, ``zx`` and ``x`` moving)."""
    jac, jac_x, jac_z = _vector_norm_partials(zx, x, ord, axes)
    out = np.zeros(np.shape(x))
    if not _no_tangent(dgx):
        out = out + dgx * jac
    if not _no_tangent(dx):
        out = out + gx * jac_x * dx
    if not _no_tangent(dzx):
        out = out + gx * jac_z * dzx
    return out


def vector_norm_adjoint_transpose(h, gx, zx, x, ord, axes, which):
    """Adjoint of :func:`_vector_norm_adjoint` in ``gx`` (which=0), ``zx`` (1) or ``x`` (2)."""
    jac, jac_x, jac_z = _vector_norm_partials(zx, x, ord, axes)
    return [h * jac, h * gx * jac_z, h * gx * jac_x][which]
