"""Which arrays surely have the same shape (an analysis used by the reverse pass).

A binary NumPy operation broadcasts, so its reverse rule sums each operand's
adjoint back to that operand's shape: ``d[x] = unbroadcast(d[z] * y, x)``.
When ``x`` surely has the shape of the result ``z``, that call is the identity
and the reverse pass leaves it out. This module finds such pairs with *shape
classes*: names in one class have equal shapes whatever the arguments.

The classes start at the array parameters of known dimensions (kinds ``A1``,
``A2``, ...; an ``A`` argument may be 0-d, where ``unbroadcast`` also turns a 0-d
array into a scalar) and follow the SSA statements:

* ``y = x`` (a copy), ``-x``, ``f(x)`` for a NumPy ufunc of one argument:
  the class of ``x``;
* ``x op s`` / ``s op x`` with ``s`` a scalar, and ``x op y`` with ``x`` and
  ``y`` in one class (``op`` elementwise, not ``@``), and ufuncs of two
  arguments likewise: the class of ``x``;
* ``x[a:]`` and ``x[:-b]`` (constant ``a >= 0``, ``b > 0``, no step): the
  class "``x`` less ``a + b`` leading elements" (rows, for a matrix), so ``x[1:]`` and ``x[:-1]``
  are in one class, which is what makes finite differences such as
  ``x[1:] - x[:-1] ** 2`` broadcast-free.

A name assigned more than once (a loop-carried SSA name) gets no class.
"""

from __future__ import annotations

import gast
import numpy as np

from .gastutil import dotted_name, target_name
from .kinds import array_ndim


def classes(assigns, ctx, kinds):
    """name -> shape class (a hashable key), for the names whose class is known;
    ``assigns``: ``(statement, name)`` for every assignment to one name of the
    function, nested ones too, in the order of ``walk_stmts``."""
    counts = {}
    for _, t in assigns:
        counts[t] = counts.get(t, 0) + 1
    out = {p: (p,) for p in ctx.params if array_ndim(kinds.get(p)) and p not in counts}

    def scalar(e):
        return (isinstance(e, gast.Constant) and type(e.value) in (int, float)) or (
            isinstance(e, gast.Name) and kinds.get(e.id) == "S")

    def of(e):
        return out.get(e.id) if isinstance(e, gast.Name) else None

    def binary(a, b):
        ca, cb = of(a), of(b)
        if ca is not None and (cb == ca or scalar(b)):
            return ca
        if cb is not None and scalar(a):
            return cb
        return None

    def value_class(v):
        if isinstance(v, gast.Name):
            return of(v)
        if isinstance(v, gast.UnaryOp) and not isinstance(v.op, gast.Not):
            return of(v.operand)
        if isinstance(v, gast.BinOp) and not isinstance(v.op, gast.MatMult):
            return binary(v.left, v.right)
        if isinstance(v, gast.Call) and elementwise_ufunc(v, ctx) is not None:
            return of(v.args[0]) if len(v.args) == 1 else binary(*v.args)
        if isinstance(v, gast.Subscript) and isinstance(v.slice, gast.Slice):
            base, sl = of(v.value), v.slice
            if base is None or sl.step is not None:
                return None
            lo = _int(sl.lower, default=0)
            hi = _int(sl.upper, default=0)
            if lo is None or hi is None or lo < 0 or hi > 0 or (sl.upper is not None and hi == 0):
                return None
            drop = lo - hi
            return base if drop == 0 else ("less", base, drop)
        return None

    for s, t in assigns:
        if counts[t] != 1 or kinds.get(t) == "S":
            continue
        c = value_class(s.value)
        if c is not None:
            out[t] = c
    return out


def witnesses(tree, ctx, shapes):
    """class -> the first name of that class that surely holds its value once the
    forward sweep is done (a parameter, or a name assigned by a statement of the
    function's own body, outside loops and branches). Helpers that only read an
    operand's shape (``sum_adjoint``) take it instead, so the operand itself can
    be freed or never computed."""
    out = {}
    for p in ctx.params:
        if p in shapes:
            out.setdefault(shapes[p], p)
    for s in tree.body:
        t = target_name(s)
        if t is not None and t in shapes:
            out.setdefault(shapes[t], t)
    return out


def callee(call, ctx):
    """The object the function of ``call`` names as the user's function sees it (not a
    local of it), or None."""
    path = dotted_name(call.func)
    if path is None or path.split(".")[0] in ctx.local_names:
        return None
    try:
        return ctx.lookup(path)
    except (KeyError, ValueError):      # not found, or an empty closure cell
        return None


def elementwise_ufunc(call, ctx):
    """The NumPy ufunc of one output that ``call`` applies to all its operands
    (positional only), or None."""
    if call.keywords:
        return None
    obj = callee(call, ctx)
    if isinstance(obj, np.ufunc) and obj.nout == 1 and obj.nin == len(call.args):
        return obj
    return None


def _int(node, default):
    if node is None:
        return default
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) \
            and isinstance(node.operand, gast.Constant) and type(node.operand.value) is int:
        return -node.operand.value
    return None
