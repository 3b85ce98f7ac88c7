"""Array methods and attributes, mapped to the NumPy function with the same rule.

``x.sum(axis=0)`` is differentiated as ``np.sum(x, axis=0)``: the receiver
becomes the first argument. The primal code still calls the method. Methods
whose signature differs from the NumPy function (``x.reshape(2, 3)``,
``x.astype(float)``...) map to the small functions below, which have their
own rules. Methods that return indices or booleans map to zero-gradient
functions; in-place methods (``x.sort()``, ``x.fill()``) are not listed.
"""

import numpy as np

from .. import runtime
from ..runtime import dict_items_adjoint, dict_items_tangent, dict_values_adjoint
from .core import adjoint, multilinear, nondiff, tangent
from .numpy_helpers import like

d = {}   # templates write d[x] for "the adjoint of x"


def reshape(a, *shape, order="C"):
    """shape as varargs or a tuple: ``x.reshape(2, 3)``, ``x.reshape((2, 3))``"""
    return np.reshape(a, shape[0] if len(shape) == 1 else shape, order=order)


def transpose(a, *axes):
    """axes as varargs or a tuple: ``x.transpose(1, 0)``, ``x.transpose((1, 0))``"""
    if len(axes) == 1 and axes[0] is not None and not isinstance(axes[0], (int, np.integer)):
        axes = axes[0]
    return np.transpose(a, axes or None)


def astype(a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    """the adjoint is cast back to the receiver's float type"""
    return np.asarray(a).astype(dtype, order=order, casting=casting, subok=subok, copy=copy)


def item(a, *args):
    """``x.item()``, ``x.item(flat_index)``, ``x.item(i, j, ...)``"""
    return np.asarray(a).item(*args)


def count(a, value):
    """``lst.count(v)``: a number of items, without derivative"""
    return a.count(value)


def index(a, value, *args):
    """``lst.index(v)``: a position, without derivative"""
    return a.index(value, *args)


METHODS = {
    # reductions
    "sum": np.sum,
    "mean": np.mean,
    "prod": np.prod,
    "max": np.max,
    "min": np.min,
    "var": np.var,
    "std": np.std,
    "cumsum": np.cumsum,
    "cumprod": np.cumprod,
    "trace": np.trace,
    # shapes and copies
    "reshape": reshape,
    "transpose": transpose,
    "ravel": np.ravel,
    "flatten": np.ravel,
    "squeeze": np.squeeze,
    "swapaxes": np.swapaxes,
    "repeat": np.repeat,
    "diagonal": np.diagonal,
    "take": np.take,
    "copy": np.copy,
    "astype": astype,
    "item": item,
    # elementwise and linear algebra
    "clip": np.clip,
    "conj": np.conjugate,
    "conjugate": np.conjugate,
    "dot": np.dot,
    # zero gradient
    "round": np.round,
    "argmax": np.argmax,
    "argmin": np.argmin,
    "argsort": np.argsort,
    "nonzero": np.nonzero,
    "searchsorted": np.searchsorted,
    "all": np.all,
    "any": np.any,
}

# methods of a list or tuple giving a number without derivative
SEQUENCE_METHODS = {
    "count": count,
    "index": index,
}

# methods of a dict: what they hold, as lists (the primal code still calls the method)
DICT_METHODS = {
    "items": runtime.dict_items,
    "values": runtime.dict_values,
    "keys": runtime.dict_keys,
}

ATTRIBUTES = {
    "T": np.transpose,
    "real": np.real,
    "imag": np.imag,
}
if hasattr(np, "matrix_transpose"):
    ATTRIBUTES["mT"] = np.matrix_transpose


@adjoint(reshape)
def reshape_method(z, a, *shape, order="C"):
    d[a] = like(np.reshape(d[z], np.shape(a), order=order), a)


@adjoint(transpose)
def transpose_method(z, a, *axes):
    d[a] = transpose_method_adjoint(d[z], axes)


# Registered after the varargs template, so tried first: a call without extra
# arguments leaves ``*axes`` unbound in the template (see the report on empty varargs).
@adjoint(transpose)
def transpose_method_no_axes(z, a):
    d[a] = np.transpose(d[z])


@adjoint(astype)
def astype_method(z, a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    """zero gradient when casting to an integer or boolean type"""
    d[a] = astype_adjoint(d[z], a, dtype)


@adjoint(item)
def item_method(z, a, *args):
    d[a] = item_adjoint(d[z], a, args)


@adjoint(item)          # a.item(): see transpose_method_no_axes
def item_method_no_index(z, a):
    d[a] = item_adjoint(d[z], a, ())


# -- helpers called by the templates above ----------------------------------------

def transpose_method_adjoint(g, axes):
    if len(axes) == 1 and axes[0] is not None and not isinstance(axes[0], (int, np.integer)):
        axes = axes[0]
    if not axes:
        return np.transpose(g)
    return np.transpose(g, np.argsort(axes))


def astype_adjoint(g, a, dtype):
    if np.dtype(dtype).kind in "biu":
        return like(np.zeros(np.shape(a)), a)
    return like(np.asarray(g, dtype=np.result_type(np.asarray(a).dtype, np.float64)), a)


def item_adjoint(g, a, args):
    out = np.zeros(np.shape(a))
    if len(args) == 0:
        out[...] = g
    elif len(args) == 1 and not isinstance(args[0], tuple):
        out.flat[args[0]] = g
    elif len(args) == 1:
        out[args[0]] = g
    else:
        out[tuple(args)] = g
    return like(out, a)


@adjoint(runtime.dict_items)
def items_method(z, a):
    d[a] = dict_items_adjoint(d[z], a)


@adjoint(runtime.dict_values)
def values_method(z, a):
    d[a] = dict_values_adjoint(d[z], a)


@tangent(runtime.dict_items)
def items_tangent(z, a):
    """the keys of the pairs carry no derivative (as multilinear, the tangent's
    items were the keys themselves)"""
    d[z] = dict_items_tangent(d[a], a)


nondiff(runtime.dict_keys, count, index)
# a dict's values are linear in the dict; the adjoints in the adjoint
multilinear(runtime.dict_values, args=None)
multilinear(runtime.dict_items_adjoint, runtime.dict_values_adjoint, args=("g",))
