"""Runtime support imported by generated code: kept small and fast.

Generated code reaches these helpers through closure variables of the same
name (see :mod:`s2sad.codegen`), so a call costs one cell load.
"""

from __future__ import annotations

import builtins
import itertools
import math
import operator
from collections.abc import Mapping
from copy import copy as _shallow_copy

import numpy as np

from . import errors
from .context import _ABSENT, class_attribute

__all__ = ["unbroadcast", "seed", "zeros_like", "getitem_adjoint", "add_adjoints",
           "fit", "index_add", "checkpoint_interval", "fixed_point_norm", "fixed_point_unsettled",
           "copy_of", "private_value", "rule_tangent_term", "checked_adjoint", "snapshot", "restore_item", "owned", "take_adjoint", "store_adjoint", "last_writes",
           "check_float_store", "check_method", "check_attribute", "as_sequence", "sum_list_adjoint", "extreme_adjoint",
           "extreme_tangent", "pair_adjoint", "pair_tangent", "picked_item", "dot_adjoint_a",
           "dot_adjoint_b", "matmul_adjoint_a", "matmul_adjoint_b", "sum_adjoint",
           "mean_adjoint", "pow_dx", "pow_dxx", "pow_dy", "element_adjoint", "concat", "repeat",
           "slice_adjoint", "sequence_repeat_adjoint", "concat_tangent", "repeat_tangent",
           "add_any", "mul_any", "add_any_adjoint", "mul_any_adjoint", "add_any_tangent",
           "mul_any_tangent", "list_adjoint", "list_adjoint_in", "dict_items_tangent"]


# numbers an adjoint may be without a shape of its own; what a scalar operand may be
_PLAIN_NUMBERS = frozenset((float, int, complex))
_SCALAR_OPERANDS = frozenset((float, int, bool, complex, np.float64, np.float32, np.float16,
                              np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32,
                              np.uint16, np.uint8, np.bool_, np.complex128, np.complex64))


def unbroadcast(g, x):
    """Sum the adjoint ``g`` back to the shape of the operand ``x``."""
    gs = getattr(g, "shape", None)
    if gs is None:
        # fast path: two Python numbers, or a NumPy scalar operand (``np.shape`` of each
        # costs 0.5 us: scalar loops call this once per element)
        if g.__class__ in _PLAIN_NUMBERS and x.__class__ in _SCALAR_OPERANDS:
            return g
    elif gs == () and g.__class__ is not np.ndarray:      # a NumPy scalar adjoint
        if x.__class__ in _SCALAR_OPERANDS:
            return g
    elif gs and gs == getattr(x, "shape", None):     # fast path: arrays of one shape
        return g
    return _unbroadcast_steps(g, x)


def primal_shape(x):
    """The shape an adjoint of ``x`` must have: ``x.shape`` of an array, ``()`` of a
    number; None for anything else (a list, a tuple, an object: not checked)."""
    if isinstance(x, np.ndarray):
        return x.shape
    if x.__class__ in _SCALAR_OPERANDS or isinstance(x, (int, float, complex, np.generic)):
        return ()
    return None


def adjoint_misfit(g, shape):
    """None where ``g`` may be the adjoint of a value of this ``shape`` (see
    ``primal_shape``; None: anything may), else what ``g`` is instead (its shape, or
    its type). A zero number (``0.0`` stands for a zero of any shape) and None (no
    derivative) fit anything."""
    if shape is None or g is None:
        return None
    if isinstance(g, np.ndarray):
        got = g.shape
    elif g.__class__ in _SCALAR_OPERANDS or isinstance(g, (int, float, complex, np.generic)):
        got = ()
    else:
        return f"a value of type {type(g).__name__}"
    if got == shape:
        return None
    if got == () and g == 0:
        return None
    return f"an array of shape {got}" if isinstance(g, np.ndarray) else "a number"


def checked_adjoint(g, x, rule, param):
    """``g``, the contribution ``d[param] = ...`` of the user's rule template ``rule``
    (its name) to the adjoint of the argument ``x``, once checked to have ``x``'s shape
    (a number for a number): a rule that forgets ``unbroadcast``, or reduces an array's
    adjoint to a number, would give a gradient of the wrong shape or wrong numbers.
    Generated code calls it where the shape is not known to fit (see
    ``reverse.Reverse.checked_adjoint``); it raises a ``RuleError``, located at the
    call of the function of the rule (``errors.note_generated``)."""
    gc, xc = g.__class__, x.__class__
    if xc is np.ndarray:
        if gc is np.ndarray and g.shape == x.shape:
            return g
    elif xc in _SCALAR_OPERANDS:
        if gc in _SCALAR_OPERANDS:
            return g
    shape = primal_shape(x)
    got = adjoint_misfit(g, shape)
    if got is not None:
        raise errors.adjoint_shape_misfit(rule, param, shape, got)
    return g


def _unbroadcast_steps(g, x):
    """``unbroadcast`` without its fast paths (which give what these steps give)."""
    shape = np.shape(x)
    if np.shape(g) == shape:
        return g[()] if not shape and isinstance(g, np.ndarray) else g
    g = np.asarray(g)
    if g.ndim < len(shape) and g.size == 1:   # a scalar standing for a constant array (a zero pad)
        return np.broadcast_to(g, shape) * np.ones(shape)
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if not shape:
        return float(g) if g.dtype.kind == "f" else g[()]
    return g.reshape(shape)


def pow_dx(x, y):
    """The derivative ``y * x ** (y - 1)`` of ``x ** y`` in ``x``, also where ``x == 0``:
    0 for ``y == 0`` (``x ** 0`` is 1 everywhere), infinite for ``y < 1``. (The rules use
    the plain formula for a constant exponent of at least 1.)"""
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return y * x ** np.where(y, y - 1, 1.0)
    if x == 0:
        if y == 0:
            return 0.0
        if y < 1:
            return math.copysign(math.inf, y)
    return y * x ** (y - 1)


def pow_dxx(x, y):
    """The second derivative ``y * (y - 1) * x ** (y - 2)`` of ``x ** y`` in ``x``, 0 for
    ``y == 0`` also where ``x == 0`` (where ``y * pow_dx(x, y - 1)`` is ``0 * inf``)."""
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(y == 0, 0.0, y * pow_dx(x, y - 1))
    if y == 0:
        return 0.0
    return y * pow_dx(x, y - 1)


def pow_dy(z, x):
    """The derivative ``z * log(x)`` of ``z = x ** y`` in ``y``, also where ``x == 0``: 0
    where ``z == 0`` (``0 ** y`` is 0 for every ``y > 0``), and nan for ``x < 0``."""
    if isinstance(x, np.ndarray) or isinstance(z, np.ndarray):
        return z * np.log(np.where(x, x, 1.0))
    if x > 0:
        return z * math.log(x)
    if x == 0:
        return 0.0 if z == 0 else -math.inf * z
    return math.nan


def seed(y):
    """The adjoint 1.0 of the scalar output ``y``; reject anything else."""
    if type(y) is float or type(y) is np.float64:
        return 1.0
    if isinstance(y, (int, float, np.number)) and not isinstance(y, bool):
        return 1.0
    if isinstance(y, np.ndarray) and y.shape == () and y.dtype.kind in "fiu":
        return 1.0
    raise errors.output_not_scalar(y)     # (no np.shape: a tuple (loss, array) is ragged)


def scalar_tangent(d):
    """The gradient along a scalar argument computed in forward mode: the output's
    tangent, a number where the output is a 0-d array (as reverse mode gives it)."""
    if type(d) is np.ndarray and d.ndim == 0:
        return d[()]
    return d


def sum_tangent(dx, dstart):
    """The tangent of ``sum(x, start)``: the tangents of ``x``'s items summed onto
    ``start``'s (``dx`` is the number 0.0 when ``x`` carries no tangent). A sum of
    lists or tuples (a concatenation) normalize did not lower (its start is no list
    display, ``Normalizer.concatenated``) is refused (``sum_of_lists``)."""
    if type(dx) is float:
        if isinstance(dstart, (list, tuple)):
            raise sum_of_lists()
        return dstart + dx
    try:
        return builtins.sum(dx, dstart)
    except TypeError:
        if isinstance(dstart, (list, tuple)) or any(isinstance(e, (list, tuple)) for e in dx):
            raise sum_of_lists() from None
        raise


def sum_of_lists():
    """The RuleLimitError for ``sum(xs, start)`` of lists or tuples (a concatenation)
    whose start is not a list or tuple display: the rules of ``sum`` add numbers and
    arrays."""
    return errors.RuleLimitError(
        "sum(xs, start) of lists or tuples (a concatenation) whose start is not written "
        "as a list or tuple display: its derivative is not known",
        hint="write the start as a display, sum(rows, []) or sum(rows, [a, b]) (those "
             "are differentiated as concatenations), or concatenate with + in a for loop: "
             "out = out + row")


_NUMBERS = frozenset((float, int))


_ROWS = frozenset((list, tuple))
_LIST = {list}


def _numbers(x):
    """Every item of the list or tuple (or dict view) ``x`` is a float or an int (tested
    in C)."""
    return set(map(type, x)) <= _NUMBERS


def zeros_like(x):
    """The gradient of an input that does not influence the output."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=np.result_type(x.dtype, np.float64))
    if isinstance(x, (list, tuple)):
        if _numbers(x):
            return [0.0] * len(x)
        if set(map(type, x)) <= _ROWS and _numbers(itertools.chain.from_iterable(x)):
            return [[0.0] * len(e) for e in x]      # rows of numbers: [(x1, y1), ...]
        return [zeros_like(e) for e in x]
    if isinstance(x, dict):
        if _numbers(x.values()):
            return dict.fromkeys(x, 0.0)
        return {k: zeros_like(v) for k, v in x.items()}
    if type(x) is not float and hasattr(x, "__dataclass_fields__") \
            and record_fields(x) is not None:       # a dataclass instance: a dict by field
        return {f: zeros_like(getattr(x, f)) for f in record_fields(x)}
    return 0.0


def zero_items(x):
    """The zero adjoint of a list, tuple or dict where the reverse sweep gathers the
    adjoints of its items (``b_seq`` of a loop over rows): a plain ``0.0`` per item,
    which stands for a zero of the item's structure (``add_adjoints`` takes the first
    contribution as it is; ``element_adjoint`` and ``like_argument`` make the zero
    when it is needed), in one step. Other values: ``zeros_like``."""
    if type(x) is list or type(x) is tuple:
        return [0.0] * len(x)
    if type(x) is dict:
        return dict.fromkeys(x, 0.0)
    return zeros_like(x)


_BASIC = (int, slice)


def _basic_index(index):
    """``index`` selects a view (ints, slices, None, ...): no element twice."""
    if type(index) in _BASIC:
        return True
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in items)


def _float_dtype(x):
    """The dtype of an adjoint of ``x``: float64, or x's own if wider or complex."""
    dtype = x.dtype
    return dtype if dtype.kind in "fc" and dtype.itemsize >= 8 else \
        np.result_type(dtype, np.float64)


_F64 = np.dtype(np.float64)


def getitem_adjoint(g, x, index):
    """Adjoint of ``x`` in ``x[index]``: ``g`` scattered into zeros shaped like ``x``."""
    if type(x) is np.ndarray and x.dtype is _F64:      # the common case, tested first
        out = np.zeros(x.shape)
    elif isinstance(x, (list, tuple)):
        out = [0.0] * len(x)
        out[index] = list(g) if isinstance(index, slice) else g
        return out
    elif isinstance(x, dict):
        out = dict.fromkeys(x, 0.0)
        out[index] = g
        return out
    else:
        x = x if isinstance(x, np.ndarray) else np.asarray(x)
        out = np.zeros(x.shape, dtype=_float_dtype(x))
    if _basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def element_adjoint(g, x):
    """The adjoint ``g`` of an item ``x`` of a list or tuple, read from the adjoint of
    the sequence: a zero shaped like ``x`` where ``g`` is the plain 0.0 that stands for
    a zero of any structure (``getitem_adjoint`` fills the other items with it)."""
    if type(g) is float and g == 0.0 and type(x) is not float:
        return zeros_like(x)
    return g


def concat(a, b):
    """``a + b`` of lists or tuples: the primitive whose rules differentiate it
    (``activity.classify`` gives it to a ``+`` with a list or tuple operand)."""
    return a + b


def repeat(a, n):
    """``a * n`` (or ``n * a``) of a list or tuple ``a``, as ``concat`` is ``a + b``."""
    return a * n


def slice_adjoint(g, x, start):
    """Adjoint of the operand ``x`` of ``z = a + b`` (lists or tuples) that starts at
    item ``start`` of ``z``: ``g[start:start + len(x)]``."""
    if type(g) is float:                    # the zero of any structure
        return zeros_like(x)
    return list(g[start:start + len(x)])


def sequence_repeat_adjoint(g, x, n):
    """Adjoint of ``x`` in ``z = x * n`` (a list or tuple): the ``n`` chunks of ``g``
    summed."""
    k = len(x)
    if type(g) is float or n <= 0 or k == 0:
        return zeros_like(x)
    out = list(g[:k])
    for j in range(1, n):
        out = [add_adjoints(p, q) for p, q in zip(out, g[j * k:(j + 1) * k])]
    return out


def _sequence_tangent(d, x):
    return zeros_like(x) if type(d) is float else list(d)


def concat_tangent(dx, dy, x, y):
    """Tangent of ``x + y`` (lists or tuples): the tangents concatenated, a zero one
    (the number 0.0) shaped like its operand."""
    return _sequence_tangent(dx, x) + _sequence_tangent(dy, y)


def repeat_tangent(dx, x, n):
    """Tangent of ``x * n`` (a list or tuple): ``x``'s tangent repeated."""
    return _sequence_tangent(dx, x) * n


def add_any(a, b):
    """``a + b`` where an operand may be a list or a tuple (an item of a list of lists):
    concatenation or arithmetic, told apart when it runs (``activity._sequence_op``)."""
    return a + b


def mul_any(a, b):
    """``a * b`` where an operand may be a list or a tuple: repetition or arithmetic."""
    return a * b


def _is_sequence(x):
    return isinstance(x, (list, tuple))


def _concatenates(x, other):
    """``x + other`` (either order) joins two lists or tuples; a list and an array (or a
    number) add elementwise, as NumPy makes the list an array."""
    return _is_sequence(x) and _is_sequence(other)


def _repeats(x, count):
    """``x * count`` (either order) repeats the list or tuple ``x``: ``count`` is an int;
    times an array (or a float) a list multiplies elementwise, as NumPy makes it an
    array."""
    return _is_sequence(x) and isinstance(count, (int, np.integer))


def add_any_adjoint(g, x, other, first):
    """Adjoint of the operand ``x`` of ``add_any`` (``first``: the left one)."""
    if _concatenates(x, other):
        return slice_adjoint(g, x, 0 if first else len(other))
    return unbroadcast(g, x)


def mul_any_adjoint(g, x, other):
    """Adjoint of the operand ``x`` of ``mul_any`` (either side)."""
    if _repeats(x, other):
        return sequence_repeat_adjoint(g, x, other)
    if _repeats(other, x):
        return 0.0                      # the repetition count
    return unbroadcast(np.multiply(g, other) if _is_sequence(other) else g * other, x)


def slice_adjoint_adjoint(h, g, x, start):
    """Adjoint of ``g`` in ``slice_adjoint(g, x, start)`` given the adjoint ``h`` of its
    result (reverse over reverse): ``h`` back at ``x``'s items of the concatenation."""
    if type(g) is float:                    # the zero of any structure: a constant
        return 0.0
    out = [0.0] * len(g)
    out[start:start + len(x)] = [0.0] * len(x) if type(h) is float else list(h)
    return out


def repeat_adjoint_adjoint(h, g, x, n):
    """Adjoint of ``g`` in ``sequence_repeat_adjoint(g, x, n)`` given the adjoint ``h``
    of its result (reverse over reverse): ``h`` repeated ``n`` times."""
    if type(g) is float:
        return 0.0
    return ([0.0] * len(x) if type(h) is float else list(h)) * n


def add_any_adjoint_adjoint(h, g, x, other, first):
    """Adjoint of ``g`` in ``add_any_adjoint(g, x, other, first)`` given the adjoint ``h``
    of its result (reverse over reverse): ``h`` back at ``x``'s items of the
    concatenation, or fitted to ``g`` (arithmetic)."""
    if _concatenates(x, other):
        return slice_adjoint_adjoint(h, g, x, 0 if first else len(other))
    return fit(h, g)


def mul_any_adjoint_adjoint(h, g, x, other, of_g):
    """Adjoint of ``g`` (``of_g``) or of ``other`` in ``mul_any_adjoint(g, x, other)``
    given the adjoint ``h`` of its result (reverse over reverse): for a repetition, ``h``
    repeated for ``g`` (the count has none); for arithmetic, the adjoints of the
    product ``g * other`` summed to the shape of ``x``."""
    if _repeats(x, other):
        return repeat_adjoint_adjoint(h, g, x, other) if of_g else 0.0
    if _repeats(other, x):
        return 0.0                          # mul_any_adjoint gave the constant 0.0
    w = fit(h, np.multiply(g, other))
    return unbroadcast(np.multiply(w, other), g) if of_g \
        else unbroadcast(np.multiply(w, g), other)


def add_any_tangent(dx, dy, x, y, z):
    if _concatenates(x, y):
        return concat_tangent(dx, dy, x, y)
    if _is_sequence(dx) or _is_sequence(dy):        # a list plus an array: NumPy's sum
        return fit(np.add(dx, dy), z)
    return fit(dx + dy, z)


def mul_any_tangent(dx, dy, x, y, z):
    if _repeats(x, y):
        return repeat_tangent(dx, x, y)
    if _repeats(y, x):
        return repeat_tangent(dy, y, x)
    if _is_sequence(x) or _is_sequence(y):          # a list times an array: NumPy's
        return fit(np.add(np.multiply(dx, y), np.multiply(x, dy)), z)
    return fit(dx * y + x * dy, z)


def add_adjoints(a, b):
    """``a + b`` for adjoints that may be (nested) lists: adjoints of lists and tuples.

    A plain ``0.0`` stands for a zero adjoint of any structure."""
    if type(a) in (int, float) and a == 0:
        return b
    if type(b) in (int, float) and b == 0:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: add_adjoints(a.get(k, 0.0), b.get(k, 0.0)) for k in {**a, **b}}
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if a.__class__ in _ROWS and b.__class__ in _ROWS and len(a) == len(b) \
                and _numbers(a) and _numbers(b):
            return list(map(operator.add, a, b))    # numbers, item by item (in C)
        if not isinstance(a, (list, tuple)):
            a, b = b, a
        if isinstance(b, np.ndarray) and b.ndim and len(b) == len(a):
            # the adjoint of a list as an array (the list was an operand of arithmetic
            # with an array, which NumPy made an array): item by item
            return [add_adjoints(p, q) for p, q in zip(a, b)]
        if not isinstance(b, (list, tuple)):
            return [add_adjoints(p, b) for p in a]
        return [add_adjoints(p, q) for p, q in zip(a, b)]
    try:
        return a + b
    except TypeError:
        if not (hasattr(a, "__dataclass_fields__") or hasattr(b, "__dataclass_fields__")):
            raise
    # a dataclass instance the user gave (an output adjoint) and a dict by field
    return add_adjoints(*[x if type(x) is dict else {f: getattr(x, f) for f in record_fields(x)}
                          for x in (a, b)])


def sum_adjoint(g, x, axis=None, keepdims=False):
    if axis is None and type(g) is float:       # the common case: a full sum
        out = np.empty(np.shape(x))
        out.fill(g)
        return out
    shape = np.shape(x)
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape).astype(np.result_type(g, np.float64))


def mean_adjoint(g, x, axis=None, keepdims=False):
    shape = np.shape(x)
    count = np.prod([shape[a] for a in np.atleast_1d(axis)]) if axis is not None \
        else max(np.size(x), 1)
    return sum_adjoint(g, x, axis, keepdims) / count


def dot_adjoint_a(g, a, b):
    """Adjoint of ``a`` in ``np.dot(a, b)`` for any dimensions."""
    a_ndim, b_ndim = np.ndim(a), np.ndim(b)
    if b_ndim <= 1 or a_ndim == 0:
        out = np.tensordot(g, b, max(0, b_ndim - (a_ndim != 0)))
    else:
        out = np.tensordot(g, np.swapaxes(b, -1, -2), b_ndim - 1)
    return unbroadcast(out, a) if a_ndim == 0 else out


def dot_adjoint_b(g, a, b):
    """Adjoint of ``b`` in ``np.dot(a, b)`` for any dimensions."""
    a_ndim, b_ndim = np.ndim(a), np.ndim(b)
    swap = b_ndim > 1 and a_ndim != 0
    if a_ndim <= 1 or b_ndim == 0:
        out = np.tensordot(g, a, max(0, a_ndim - (b_ndim != 0)))
    else:
        out = np.tensordot(g, a, [range(-a_ndim - b_ndim + 2, -b_ndim + 1),
                                  range(a_ndim - 1)])
    out = np.swapaxes(out, -1, -2) if swap else out
    return unbroadcast(out, b) if b_ndim == 0 else out


def matmul_adjoint_a(g, a, b):
    """Adjoint of ``a`` in ``a @ b`` (batched, with 1-D promotion)."""
    if np.ndim(g) == 0:
        return g * np.asarray(b)
    b_ndim = np.ndim(b)
    if np.ndim(a) == 1:
        g = np.expand_dims(g, np.ndim(g) - 1)
    if b_ndim == 1:
        b = np.expand_dims(b, 0)
        g = np.expand_dims(g, np.ndim(g))
    else:
        b = np.swapaxes(b, -2, -1)
    return unbroadcast(np.matmul(g, b), a)


def matmul_adjoint_b(g, a, b):
    """Adjoint of ``b`` in ``a @ b`` (batched, with 1-D promotion)."""
    if np.ndim(g) == 0:
        return g * np.asarray(a)
    b_is_vec = np.ndim(b) == 1
    if b_is_vec:
        g = np.expand_dims(g, np.ndim(g))
    if np.ndim(a) == 1:
        a = np.expand_dims(a, 1)
        g = np.expand_dims(g, np.ndim(g) - 1)
    else:
        a = np.swapaxes(a, -2, -1)
    out = np.matmul(a, g)
    if b_is_vec:
        out = np.squeeze(out, np.ndim(g) - 1)
    return unbroadcast(out, b)


def copy_of(x):
    """A private copy of an input the function writes into (inputs are never mutated)."""
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, list):
        return list(x)
    if isinstance(x, dict):
        return dict(x)
    return x


def private_value(x, memo=None):
    """A copy of the value a vjp's forward function returns, whose backward function
    undoes the function's writes into it in place: arrays, lists, tuples and dicts
    and dataclass instances copied, their items too (one object held twice stays one),
    other values (numbers, other objects) as they are."""
    if isinstance(x, (float, int, complex, np.generic)) or x is None:
        return x
    if memo is None:
        memo = {}
    key = id(x)
    if key in memo:
        return memo[key]
    if isinstance(x, np.ndarray):
        out = x.copy()
    elif type(x) is list:
        out = memo[key] = []
        out.extend(private_value(v, memo) for v in x)
    elif type(x) is dict:
        out = memo[key] = {}
        out.update((k, private_value(v, memo)) for k, v in x.items())
    elif isinstance(x, tuple):
        items = [private_value(v, memo) for v in x]
        make = getattr(type(x), "_make", None)
        out = make(items) if make is not None else type(x)(items)
    elif record_fields(x) is not None:      # a dataclass instance (named tuples above)
        out = memo[key] = _shallow_copy(x)
        for k in record_fields(x):
            object.__setattr__(out, k, private_value(getattr(x, k), memo))
    else:
        return x
    memo[key] = out
    return out


def snapshot(a, index):
    """The values ``a[index]`` is about to lose, kept for the reverse sweep (``NEW_KEY``
    for a key a dict does not hold yet: the reverse sweep puts it back in the private
    copy of the dict the function writes into, where nothing reads it)."""
    if type(a) is dict and index not in a:
        return NEW_KEY
    old = a[index]
    return old.copy() if isinstance(old, np.ndarray) else old


def restore_item(a, index, old):
    """The reverse sweep's putting back of what ``a[index] = v`` replaced in a global
    array, list or dict (``snapshot``): a key the store added to a dict is taken out
    again (``NEW_KEY``, s2sad's own, is never left in an object of the user's)."""
    if old is NEW_KEY:
        del a[index]
    else:
        a[index] = old


class _NewKey:
    def __repr__(self):
        return "NEW_KEY"


NEW_KEY = _NewKey()      # what a dict held under a key before a store added it


def list_adjoint(g):
    """The adjoint of a list grown by ``append`` as a list its items' adjoints are popped
    off: a NumPy rule (``np.sum(vals)``) gives the adjoint of the whole list as one array,
    whose rows are the items' adjoints."""
    if isinstance(g, np.ndarray) and g.ndim > 0:
        return list(g)
    return g


def list_adjoint_in(g, lst):
    """The adjoint of the list ``lst`` that a split callee appending to or popping from it
    takes (``bwd_g(b, _tape, b_tape)``, reverse over reverse): a list of its own, which
    the callee's reverse sweep pops and appends to in place, with an item per item of
    ``lst`` (zeros for the 0.0 that stands for a zero of any structure)."""
    if isinstance(g, (list, tuple)) or (isinstance(g, np.ndarray) and g.ndim > 0):
        return list(g)
    return zeros_like(lst)


def owned(g):
    """A private copy of an adjoint that the reverse sweep will update in place (a
    number, the adjoint of a 0-d array, becomes a 0-d array: ``bs[()] = 0.0`` works)."""
    if isinstance(g, np.ndarray):
        return g.astype(np.result_type(g.dtype, np.float64), copy=True)
    if isinstance(g, list):
        return list(g)
    if isinstance(g, dict):
        return dict(g)
    if isinstance(g, (float, int, np.number)) and not isinstance(g, bool):
        return np.array(g, dtype=np.result_type(g, np.float64))
    return g


def take_adjoint(g, index, v):
    """Adjoint of ``v`` in ``a[index] = v``: ``g[index]`` copied, summed to ``v``'s shape."""
    part = g[index]
    if part.__class__ is np.ndarray:
        part = part.copy()
    elif v.__class__ in _SCALAR_OPERANDS:      # an element for a number: as it is
        return part
    return _stored_adjoint(part, v)


def _stored_adjoint(part, v):
    """``part``, the adjoint of ``a[index]`` after ``a[index] = v``, summed to ``v``'s
    shape. NumPy broadcasts ``v`` to the slots written after dropping its leading
    size-1 axes (``a[0] = v`` of a row with ``v`` of shape ``(1, n)``): those axes are
    put back first."""
    extra = np.ndim(v) - np.ndim(part)
    if extra > 0 and isinstance(part, np.ndarray) \
            and all(n == 1 for n in np.shape(v)[:extra]):
        part = part.reshape((1,) * extra + part.shape)
    return unbroadcast(part, v)


def last_writes(part, g, index):
    """``part`` (shaped like ``g[index]``) with zeros where ``a[index] = v`` writes an
    element that a later item of the same fancy index writes again: NumPy keeps the
    last write, so only that item of ``v`` reaches ``a``. Which item wins is found
    the way NumPy finds it, by the same assignment of item numbers."""
    if _basic_index(index) or np.ndim(part) == 0:
        return part
    items = np.arange(np.size(part)).reshape(np.shape(part))
    winner = np.empty(np.shape(g), dtype=np.intp)
    winner[index] = items
    return np.where(winner[index] == items, part, 0.0)


def store_adjoint(g, index, v):
    """Adjoint of ``v`` in ``a[index] = v`` for an index that may select an element
    twice (a fancy index; ``take_adjoint`` serves ints and slices): of repeated
    elements only the last write receives the adjoint, summed to ``v``'s shape."""
    part = g[index]
    if isinstance(part, np.ndarray):        # (g a list or dict: an item, written once)
        fancy = isinstance(g, np.ndarray) and not _basic_index(index)
        part = last_writes(part, g, index) if fancy else part.copy()
    return _stored_adjoint(part, v)


def check_float_store(filename, a, lineno, col):
    """Raise where ``a[...] = v`` (at ``filename:lineno``) stores a value carrying a
    derivative into an integer or bool array, which truncates it: no derivative
    would pass. (Generated code calls it with the file name bound.)"""
    dtype = getattr(a, "dtype", None)
    if dtype is not None and dtype.kind in "biu":
        raise errors.truncating_store(filename, lineno, col, dtype)


def check_inplace(a, z, v, op):
    """Raise as NumPy's ``a op= v`` (``op``: 'iadd', 'imul', ...) raises where ``z = a
    op v``, the new array the generated code makes in its place, does not fit into the
    array ``a``: a shape ``a`` does not have (``v`` broadcast it larger), or a dtype
    NumPy does not cast back to ``a``'s ('same_kind': a float into an int array). The
    exception is NumPy's own: the update is then made on a copy of ``a``. Not for
    lists (``+=`` extends them) and numbers (which make new ones)."""
    if a.__class__ is not np.ndarray:
        return
    shape = getattr(z, "shape", None)
    if shape == a.shape:
        dtype = z.dtype
        if dtype == a.dtype or np.can_cast(dtype, a.dtype, "same_kind"):
            return
    getattr(operator, op)(a.copy(), v)


# ndarray subclasses whose arithmetic the derivative code would get wrong silently:
# ``*`` and ``**`` of an np.matrix are matrix products and powers, and a masked array
# ignores its masked entries where the adjoints do not. An argument holding one (or a
# list or tuple holding one) has the kind 'X', refused by ``api.refuse_arrays``.
REFUSED_ARRAYS = (np.matrix, np.ma.MaskedArray)


def refused_array_message(value, name, verb="pass"):
    """(message, hint) for ``value`` of ``REFUSED_ARRAYS`` named ``name`` in the hint."""
    if isinstance(value, np.matrix):
        return ("is an np.matrix, whose * and ** are matrix products and powers: its "
                "derivative code, written for arrays, would be wrong",
                f"{verb} np.asarray({name}) instead (and write a @ b where you mean a matrix "
                "product)")
    return ("is a masked array (np.ma), whose operations skip the masked entries where "
            "its derivative code does not",
            f"{verb} np.asarray({name}) or {name}.filled(value) instead, or select the "
            f"entries with {name}.compressed() or an index")


def check_attribute(filename, obj, name, lineno, col, shown):
    """Raise where ``obj.name`` (``shown``, at ``filename:lineno``) is an array the derivative code
    would get wrong (``REFUSED_ARRAYS``), as for such an argument: the attributes of
    ``self`` read by a method, checked at each call (``parse.bind_methods``). A
    property is not run."""
    own = getattr(obj, "__dict__", None)
    value = own.get(name, _ABSENT) if own is not None else _ABSENT
    if value is _ABSENT:
        value = class_attribute(type(obj), name)
    if type(value) in (list, tuple) and len(value) <= 64:     # a list of weights
        for i, item in enumerate(value):
            if isinstance(item, REFUSED_ARRAYS):
                value, shown = item, f"{shown}[{i}]"
                break
    if isinstance(value, REFUSED_ARRAYS):
        message, hint = refused_array_message(value, shown, "store")
        hint = hint.replace(" instead", f" in {shown} instead", 1)
        raise errors.ArgumentError(f"{shown} {message}",
                                   filename=filename, lineno=lineno, col=col, hint=hint)


def check_method(filename, obj, name, raw, lineno, col, cls, shown):
    """Raise where ``obj.name(...)`` (``obj`` is ``shown``, at ``filename:lineno``) would
    not call ``raw``, the method of class ``cls`` the derivative code calls in its place
    (``parse.bind_methods``): ``obj`` is of another class (an attribute ``self.inner``
    set to another object since), the instance holds a ``name`` of its own, or the
    class's has been replaced since. (Generated code calls it with the file name bound.)
    ``cls`` may be a tuple of classes (the items of a list, ``for l in self.layers``,
    whose classes share the method). An object of another class raises a
    ``StaleReceiverError``, on which a gradient object makes its code again."""
    if type(obj) is not cls and not (type(cls) is tuple and type(obj) in cls):
        made = " or ".join(c.__name__ for c in cls) if type(cls) is tuple else cls.__name__
        raise errors.StaleReceiverError(
            f"{shown} holds a {type(obj).__name__} object, where the derivative code was "
            f"made for a {made} (it calls {made}.{name})", filename=filename,
            lineno=lineno, col=col,
            hint="make the gradient again (a new s2sad.grad(...)) after changing it")
    own = getattr(obj, "__dict__", None)
    if own is not None and name in own:
        why = f"the instance holds its own {name}"
        hint = f"call a function for {name} instead of setting it on the instance"
    elif class_attribute(type(obj), name) is not raw:
        why = f"{type(obj).__name__}.{name} has been replaced since the code was made"
        hint = "make the gradient again (a new s2sad.grad(...)) after changing the class"
    else:
        return
    raise errors.ArgumentError(
        f"the method {name} called here is not the one of class {type(obj).__name__} that "
        f"the derivative code calls: {why}", filename=filename, lineno=lineno, col=col,
        hint=hint)


def checked_item(filename, obj, name, raw, lineno, col, cls, shown):
    """``obj``, an item of a list of objects (``self.layers[i]``) whose method ``name``
    the derivative code calls as ``raw``, once ``check_method`` has checked it."""
    check_method(filename, obj, name, raw, lineno, col, cls, shown)
    return obj


def as_sequence(x, length=None, items=None, rows=None):
    """What ``for v in x`` iterates over, indexable: arrays, lists and tuples as they are.

    The generated code unpacks by position (``a, b = t`` becomes ``a = t[0]; b =
    t[1]``), which takes no count: ``length``, the number of names of ``a, b = x``, is
    checked here, and ``items``, that of ``for a, b in x``, for every item at once
    before the loop (``check_items``); ``rows`` likewise where the items are known to
    be tuples or lists (rows of numbers the call was dispatched on, ``api.rows_kind``,
    which the function does not change): their lengths only. Each raises the
    ValueError Python's unpacking raises (too many or not enough values), located at
    the user's line by ``note_generated``."""
    cls = x.__class__
    if cls is tuple or cls is list:         # (the common case first: a call per item)
        seq = x
    elif isinstance(x, (np.ndarray, list, tuple, range)):
        seq = x
    elif isinstance(x, Mapping):
        # a dict the source does not show to be one (what a call, an item or an
        # attribute gave): its keys would be taken for its values (the generated code
        # reads it by position); located at the user's line by note_generated
        raise errors.dict_iterated()
    else:
        seq = list(x)
    if length is not None and len(seq) != length:
        raise unpacking_error(len(seq), length)
    if items is not None:
        check_items(seq, items)
    elif rows is not None and operator.countOf(map(len, seq), rows) != len(seq):
        check_items(seq, rows)
    return seq


def unpacking_error(got, expected):
    """The ValueError Python raises unpacking ``got`` values into ``expected`` names."""
    if got > expected:
        return ValueError(f"too many values to unpack (expected {expected})")
    return ValueError(f"not enough values to unpack (expected {expected}, got {got})")


# the items whose length is the number of values unpacking them gives, and which the
# generated code reads by position as unpacking does (dicts are none)
_UNPACKED_ITEMS = frozenset((tuple, list, np.ndarray))
_UNPACKED_CLASSES = (tuple, list, np.ndarray, str, range)


def check_items(seq, n):
    """Raise as ``for a, b in seq`` (``n`` names) raises at the first item it cannot
    unpack into ``n`` names: a dict (``errors.dict_iterated``: its keys would be taken
    for its values), an item of another length (ValueError), a number (TypeError).
    One pass of ``len`` and one of ``type`` over the items, in C; only where one fails
    are the items looked at one by one, in order. (Generated code calls it through
    ``as_sequence(seq, items=n)``, once before a loop that cannot stop early.)"""
    if seq.__class__ is np.ndarray:
        if seq.ndim >= 2 and seq.shape[1] == n or not len(seq):
            return
    else:
        try:
            fits = operator.countOf(map(len, seq), n) == len(seq)
        except TypeError:       # an item without a length
            fits = False
        if fits:
            kinds = set(map(type, seq))
            if kinds <= _UNPACKED_ITEMS or all(
                    issubclass(t, _UNPACKED_CLASSES) and not issubclass(t, Mapping)
                    for t in kinds):        # (named tuples, strings)
                return
    for item in seq:
        as_sequence(item, n)


def _no_ints(items):
    """The list or dict of numbers ``items`` (gradients of numbers) with its ints (the
    adjoint of ``a * b`` of int items is an int) as floats: the derivative along an int
    is a float, as along an int argument (``api._as_argument``)."""
    kinds = set(map(type, items.values() if type(items) is dict else items))
    if int not in kinds and not any(issubclass(t, np.integer) for t in kinds):
        return items
    fix = lambda v: float(v) if isinstance(v, (int, np.integer)) else v   # noqa: E731
    if type(items) is dict:
        return {k: fix(v) for k, v in items.items()}
    return [fix(v) for v in items]


def like_argument(g, x):
    """The gradient ``g`` of the list, tuple or dict argument ``x`` in ``x``'s structure: a
    list for a list, a tuple for a tuple (a named tuple of its type), a dict of its keys
    for a dict, and zeros shaped like an item where ``g`` holds the 0.0 that stands for a
    zero of any structure. A dataclass instance's gradient is an instance of its class
    (``make_like``)."""
    if type(g) is float and g == 0.0 and isinstance(x, (dict, list, tuple, np.ndarray)):
        g = zeros_like(x)
    if isinstance(x, dict):
        if type(g) is dict and _numbers(x.values()):    # each item's gradient as it is
            return _no_ints({k: g[k] for k in x})
        return {k: like_argument(g[k], v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        if type(g) is list and _numbers(x):     # each item's gradient as it is
            items = _no_ints(g[:len(x)])
        elif type(g) is list and set(map(type, g)) == _LIST and set(map(type, x)) <= _ROWS \
                and _numbers(itertools.chain.from_iterable(x)):
            # rows of numbers ([(x1, y1), ...]), each row's gradient a list: in one step
            items = [tuple(gi[:len(xi)]) if type(xi) is tuple else gi[:len(xi)]
                     for gi, xi in zip(g, x)]
        else:
            items = [like_argument(gi, xi) for gi, xi in zip(g, x)]
        if isinstance(x, list):
            return items
        make = getattr(type(x), "_make", None)
        return make(items) if make is not None and type(x) is not tuple else tuple(items)
    if hasattr(x, "__dataclass_fields__") and record_fields(x) is not None:
        return make_like(x, {f: like_argument(field_of(g, x, f), getattr(x, f))
                             for f in record_fields(x)})
    return g


def dict_items(d):
    """What ``d.items()`` holds, as a list (the primitive of the method's rule)."""
    return list(d.items())


def dict_keys(d):
    """What ``d.keys()`` holds, as a list (no derivative)."""
    return list(d)


def dict_values(d):
    """What ``d.values()`` holds, as a list (the primitive of the method's rule)."""
    return list(d.values())


def dict_items_adjoint(g, d):
    """Adjoint of the dict ``d`` in ``d.items()``: each value's adjoint, the second item
    of its pair's adjoint (``g`` or a pair the plain 0.0 standing for a zero)."""
    if type(g) is float and g == 0.0:
        return zeros_like(d)
    return dict_values_adjoint([0.0 if type(p) is float else p[1] for p in g], d)


def dict_items_tangent(t, d):
    """Tangent of ``d.items()`` for the tangent ``t`` of the dict ``d``: pairs of a zero
    (a key has no derivative) and each value's tangent (the plain 0.0 for a zero ``t``)."""
    if type(t) is float and t == 0.0:
        return 0.0
    return [(0.0, t[k]) for k in d]


def dict_values_adjoint(g, d):
    """Adjoint of the dict ``d`` in ``d.values()``: each value's adjoint, by key."""
    if type(g) is float and g == 0.0:
        return zeros_like(d)
    out = {}            # (a loop, not a dict comprehension: differentiated again)
    keys = dict_live_keys(d)
    if len(g) == len(keys):         # g by the values read (a list made of them)
        for i in range(len(keys)):
            out[keys[i]] = element_adjoint(g[i], d[keys[i]])
        return out
    keys = list(d)
    if len(g) != len(keys):
        raise values_mismatch(len(keys), len(g))
    for i in range(len(keys)):      # g by the view as it is now: a key added later too
        if d[keys[i]] is not NEW_KEY:
            out[keys[i]] = element_adjoint(g[i], d[keys[i]])
    return out


def dict_live_keys(d):
    """The keys of ``d`` as the reverse sweep finds it where ``d.values()`` or
    ``d.items()`` was read: a key a later store added holds ``NEW_KEY`` there (the
    reverse sweep put back what the store replaced), and was not in the dict read."""
    keys = []
    for k in d:
        if d[k] is not NEW_KEY:
            keys.append(k)
    return keys


def values_mismatch(n_keys, n_values):
    """The RuleLimitError for the adjoint of ``d.values()`` or ``d.items()`` where the
    dict the reverse sweep holds has other keys than the dict that was read."""
    return errors.RuleLimitError(
        f"the derivative code has {n_values} adjoints for the values or items of a dict, "
        f"which has {n_keys} entries where they are given back to it (a key deleted or "
        f"a dict changed in a way the reverse sweep does not undo): its derivative is "
        f"not known",
        hint="read the values or items of a dict that is not changed afterwards (copy "
             "it, dict(d), before changing it)")


def sequence_adjoint(g, x):
    """Adjoint of ``x`` in ``list(x)`` or ``tuple(x)``: the items' adjoints ``g`` as a list,
    or as an array for an array ``x``."""
    if isinstance(x, np.ndarray):
        return np.array([np.broadcast_to(gi, np.shape(xi)) for gi, xi in zip(g, x)],
                        dtype=np.float64).reshape(x.shape)
    return list(g)


def dict_adjoint(g, x):
    """Adjoint of ``x`` in ``dict(x)`` (one positional argument): for a dict ``x``, a copy,
    the adjoint of each of its keys (a key stored into the copy only is no key of
    ``x``; one the copy's adjoint lacks gets 0.0, a zero of any structure); pairs are
    refused (``errors.dict_not_of_a_dict``)."""
    if not isinstance(x, Mapping):
        raise errors.dict_not_of_a_dict(f"a {type(x).__name__}")
    if isinstance(g, dict):
        return {k: g.get(k, 0.0) for k in x}
    return g                # (0.0: a zero of any structure)


def dict_tangent(dx, x):
    """Tangent of ``dict(x)`` (one positional argument): that of ``x``, copied, for a dict
    ``x``; pairs are refused as in ``dict_adjoint``."""
    if not isinstance(x, Mapping):
        raise errors.dict_not_of_a_dict(f"a {type(x).__name__}")
    return dict(dx) if isinstance(dx, dict) else dx


def sort_order(x, reverse):
    """The positions of ``x``'s items in the order ``sorted(x, reverse=reverse)`` puts
    them (stable: equal items keep their order, as ``sorted`` keeps them)."""
    pairs = builtins.sorted(zip(x, range(len(x))), key=operator.itemgetter(0),
                            reverse=reverse)
    return [i for _, i in pairs]


_DICT_VIEWS = (type({}.values()), type({}.items()), type({}.keys()))


def read_view(x):
    """``x`` as a list where it is a view of a dict (``d.values()``): the items the
    dict holds, not those of keys a later store added (``NEW_KEY`` where the reverse
    sweep put back what the store replaced); ``x`` as it is otherwise."""
    if type(x) not in _DICT_VIEWS:
        return x
    out = []
    for e in x:
        if e is not NEW_KEY and not (type(e) is tuple and len(e) == 2 and e[1] is NEW_KEY):
            out.append(e)
    return out


def sorted_adjoint(g, x, reverse):
    """Adjoint of ``x`` in ``sorted(x, reverse=reverse)``: each item's adjoint back at
    the item's place (a list, or an array for an array ``x``)."""
    x = read_view(x)
    rank = sort_order(sort_order(x, reverse), False)       # the inverse permutation
    out = [g[k] for k in rank]
    if isinstance(x, np.ndarray):
        return np.array(out, dtype=np.float64)
    return [_item_adjoint(gi, xi) for gi, xi in zip(out, x)]


def _item_adjoint(g, x):
    """The adjoint ``g`` of an item ``x`` of a list, summed to ``x``'s shape; for an item
    that is a list, tuple or dict, ``g`` as it is (its 0.0 a zero of any structure, which
    ``unbroadcast`` would make an array that ``add_adjoints`` adds to every item)."""
    if isinstance(x, (list, tuple, dict)):
        return g
    return unbroadcast(g, x)


def sorted_tangent(dx, x, reverse):
    """Tangent of ``sorted(x, reverse=reverse)``: the items' tangents in sorted order."""
    dx, x = read_view(dx), read_view(x)
    return [dx[i] for i in sort_order(x, reverse)]


def in_order(x, order):
    """``x``'s items in the order ``order`` gives (a list): ``sorted(x, key=k)`` is
    ``in_order(x, sort_order([k(v) for v in x], reverse))``."""
    return [x[i] for i in order]


def in_order_adjoint(g, x, order):
    """Adjoint of ``x`` in ``in_order(x, order)``: each item's adjoint ``g[j]`` back at
    the item's place ``order[j]`` (a list, or an array for an array ``x``)."""
    out = [None] * len(x)
    for gj, i in zip(g, order):
        out[i] = gj
    if isinstance(x, np.ndarray):
        return np.array([np.broadcast_to(gi, np.shape(xi)) for gi, xi in zip(out, x)],
                        dtype=np.float64).reshape(x.shape)
    return [_item_adjoint(gi, xi) for gi, xi in zip(out, x)]


def keys_of(x, key):
    """``[key(v) for v in x]``: what orders ``x``'s items in ``sorted(x, key=key)``,
    computed as the code runs (a function of yours or a builtin, not differentiated)."""
    return [key(v) for v in x]


def insert_index(n, i):
    """Where ``lst.insert(i, v)`` puts ``v`` in a list of ``n`` items: ``i`` counted from
    the end when negative, clamped to ``0 .. n``, as ``list.insert`` does."""
    i = operator.index(i)
    if i < 0:
        i += n
    return 0 if i < 0 else n if i > n else i


def first_extreme(keys, largest):
    """The position of the first largest (or smallest) of ``keys``: the item
    ``max(x, key=k)`` (``min``) gives, for ``keys = [k(v) for v in x]``."""
    if not len(keys):
        raise ValueError(f"{'max' if largest else 'min'}() iterable argument is empty")
    best = 0
    for i in range(1, len(keys)):
        if (keys[i] > keys[best]) if largest else (keys[i] < keys[best]):
            best = i
    return best


def sum_list_adjoint(g, x):
    """Adjoint of ``x`` in ``sum(x)`` for a list, tuple or array ``x``; a list or
    tuple adjoint ``g`` is that of a concatenation, ``sum(rows, acc)``: refused
    (``sum_of_lists``)."""
    if isinstance(g, (list, tuple)):
        raise sum_of_lists()
    if isinstance(x, np.ndarray):
        return np.broadcast_to(g, x.shape[:1] + np.shape(g)).astype(np.float64)
    if type(g) is float and _numbers(x):      # (unbroadcast of a float to a number: it)
        return [g] * len(x)
    return [unbroadcast(g, e) for e in x]


def _others(items, start):
    """For each of ``items``, the product of ``start`` and the other items (prefix
    times suffix products: exact where an item is 0, as dividing is not)."""
    before, after = [], []
    p = start
    for e in items:
        before.append(p)
        p = p * e
    p = 1.0
    for e in reversed(items):
        after.append(p)
        p = p * e
    n = len(items)
    return [before[i] * after[n - 1 - i] for i in range(n)]


def prod_items_adjoint(g, x, start):
    """Adjoint of ``x`` in ``math.prod(x, start=start)`` for a list, tuple or array:
    ``g`` times the product of ``start`` and the other items, for each item."""
    items = list(x)
    others = _others(items, start)
    if isinstance(x, np.ndarray):
        return np.array([g * o for o in others], dtype=np.float64)
    return [unbroadcast(g * o, e) for e, o in zip(items, others)]


def outer_shape(a, b):
    """The shape ``np.subtract.outer(a, b)`` (any ufunc's ``outer``) gives ``a`` to
    broadcast against ``b``: ``a``'s, then one 1 per axis of ``b``."""
    return np.shape(a) + (1,) * np.ndim(b)


def dist_adjoint(g, z, p, q, sign):
    """Adjoint of ``p`` (``sign`` 1.0) or ``q`` (-1.0) in ``math.dist(p, q)``: ``sign g
    (p[i] - q[i]) / z`` for each item, as the arguments are (a list for a tuple or a
    list, an array for an array)."""
    out = [sign * g * (a - b) / z for a, b in zip(p, q)]
    if isinstance(p, np.ndarray):
        return np.array(out, dtype=np.float64)
    return out


def dist_tangent(dp, dq, z, p, q):
    """Tangent of ``math.dist(p, q)``: ``sum((dp[i] - dq[i]) (p[i] - q[i])) / z`` (``dp``
    or ``dq`` the number 0.0 when that argument carries no tangent)."""
    diffs = [a - b for a, b in zip(p, q)]
    return (dot_items(dp, diffs) - dot_items(dq, diffs)) / z


def dot_items(a, b):
    """The sum of ``a[i] * b[i]`` (the tangent of ``math.prod``: the items' tangents
    times ``prod_items_adjoint(1.0, x, start)``); 0.0 when ``a`` is the number 0.0 (``x``
    carries no tangent)."""
    if type(a) is float:
        return a
    return builtins.sum((u * v for u, v in zip(a, b)), 0.0)


def prod_items_adjoint_tangent(dg, g, dx, x, dstart, start):
    """The tangent of ``prod_items_adjoint(g, x, start)`` (second derivatives of ``math.prod``):
    for each item, ``dg`` times the product of the others and ``start``, plus ``g``
    times the tangent of that product."""
    items = list(x)
    others = _others(items, start)
    tangents = None if type(dx) is float else list(dx)      # (0.0: x carries none)
    out = []
    for i in range(len(items)):
        rest = items[:i] + items[i + 1:]
        t = dstart * math.prod(rest)
        if tangents is not None:
            t = t + dot_items(tangents[:i] + tangents[i + 1:], _others(rest, start))
        out.append(unbroadcast(dg * others[i] + g * t, items[i]))
    if isinstance(x, np.ndarray):
        return np.array(out, dtype=np.float64)
    return out


_SEQUENCES = (list, tuple)


def picked_item(x, z):
    """The position in ``x`` of the item ``max(x)`` or ``min(x)`` gave, ``z``: lists or
    tuples, compared item by item, whose derivative is the one picked (the first of
    equal extremes, as Python picks it), never shared. ``z`` is that item itself;
    else (a copy) the first item equal to it."""
    for i, e in enumerate(x):
        if e is z:
            return i
    for i, e in enumerate(x):
        if e == z:
            return i
    raise ValueError("max()/min(): the extreme is none of the items")


def extreme_adjoint(g, x, z):
    """Adjoint of ``x`` in ``max(x)`` or ``min(x)`` (``z``) of a list, tuple or 1-D array:
    ``g`` on the items equal to ``z``, shared evenly among ties (as ``max(a, b)``)."""
    if isinstance(x, np.ndarray):
        mask = x == z
        return (g * mask / np.sum(mask, axis=0)).astype(np.float64)
    if isinstance(z, _SEQUENCES):       # items compared as sequences: the one picked
        x = read_view(x)                # (of d.values(): a list of the items)
        out = [0.0] * len(x)            # (a zero of any structure: element_adjoint)
        out[picked_item(x, z)] = g
        return out
    hits = [bool(e == z) for e in x]
    share = 1.0 / builtins.sum(hits)
    return [unbroadcast(g * (share if h else 0.0), e) for h, e in zip(hits, x)]


def pair_adjoint(g, x, y, z, largest, k):
    """Adjoint of ``x`` (``k`` 0) or ``y`` (``k`` 1) in ``z = max(x, y)`` (``min``, not
    ``largest``) where one may be a list or tuple: lists and tuples are compared item
    by item, the one picked (``x`` if equal, as Python picks it) takes ``g``, the
    other a zero of its structure; numbers as the rule of ``max(x, y)`` does, ties
    sharing ``g`` evenly."""
    if isinstance(z, _SEQUENCES):
        if picked_item((x, y), z) == k:
            return g
        return zeros_like(y if k else x)
    if k:
        x, y = y, x
    return g * (((x > y) if largest else (x < y)) + 0.5 * (x == y))


def pair_tangent(dx, dy, x, y, z, largest):
    """Tangent of ``z = max(x, y)`` (``min``, not ``largest``) where one may be a list
    or tuple: the tangent of the one picked (``pair_adjoint``); ``dx`` or ``dy`` is
    the number 0.0 when that argument carries no tangent."""
    if isinstance(z, _SEQUENCES):
        t = dy if picked_item((x, y), z) else dx
        return zeros_like(z) if type(t) in (int, float) else t
    return pair_adjoint(dx, x, y, z, largest, 0) + pair_adjoint(dy, x, y, z, largest, 1)


def extreme_tangent(dx, x, z):
    """Tangent of ``max(x)`` or ``min(x)`` (``z``): the mean of the tangents of the items
    equal to ``z`` (``dx`` is the number 0.0 when ``x`` carries no tangent)."""
    if isinstance(z, _SEQUENCES):       # items compared as sequences: the one picked
        t = dx if type(dx) is float else read_view(dx)[picked_item(read_view(x), z)]
        return zeros_like(z) if type(t) is float else t
    if type(dx) is float:
        return dx
    if isinstance(x, np.ndarray):
        mask = x == z
        return np.sum(dx * mask, axis=0) / np.sum(mask, axis=0)
    dx, x = read_view(dx), read_view(x)
    hits = [i for i, e in enumerate(x) if e == z]
    return builtins.sum((dx[i] for i in hits), 0.0) / len(hits)


def fit(t, z):
    """A tangent broadcast to the shape of its primal value ``z`` (forward mode)."""
    shape = np.shape(z)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape).copy()


def rule_tangent_term(t, z):
    """A term ``dx * E`` of the tangent forward mode derives from a user's adjoint rule
    ``d[x] = d[z] * E`` (``unbroadcast`` of it to ``x`` or not), brought to the shape of
    the result ``z``. That adjoint broadcasts ``d[z]`` against ``E`` and multiplies:
    its transpose, the tangent, multiplies ``dx`` by ``E`` and sums over the axes the
    broadcast added or stretched (``z = np.sum(v * v)`` with ``d[v] = d[z] * 2.0 * v``:
    ``np.sum(dv * 2.0 * v)``, not ``dv * 2.0 * v``). A term smaller than ``z`` (``dx``
    of a scalar ``x`` of an elementwise call) is broadcast to it."""
    shape = np.shape(z)
    ts = np.shape(t)
    if ts == shape:
        return t
    try:
        if np.broadcast_shapes(ts, shape) == shape:
            return np.broadcast_to(t, shape).copy()
    except ValueError:
        pass
    if len(ts) >= len(shape):
        g = np.asarray(t)
        g = g.sum(axis=tuple(range(len(ts) - len(shape)))) if len(ts) > len(shape) else g
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        if g.shape == shape:
            return g[()] if not shape else g
    raise errors.RuleLimitError(
        f"a derivative rule registered with s2sad.adjoint gives, in forward mode, a "
        f"tangent term of shape {ts} for a result of shape {shape}: its adjoint "
        "d[x] = d[z] * E is not a broadcast of d[z] times E",
        hint="register the function's tangent with @s2sad.extend.tangent(fn) "
             "(d[z] = ... d[x] ...), or differentiate in reverse mode (mode='reverse')")


def checkpoint_interval(n):
    """Iterations between two checkpoints of a loop of ``n`` iterations: about sqrt(n),
    so both the checkpoints and the tape of one segment hold O(sqrt(n)) entries."""
    return max(1, math.isqrt(n))


FIXED_POINT_RTOL = 1e-14      # the adjoint of a fixed-point loop has settled below this
FIXED_POINT_MAX_ITERATIONS = 100_000


def fixed_point_norm(*adjoints):
    """The largest magnitude among the adjoints of a fixed-point loop's state (scalars,
    arrays, or lists, tuples, dicts and records of them: a dataclass's adjoint is a dict
    by field)."""
    out = 0.0
    for a in adjoints:
        if isinstance(a, (list, tuple)):
            m = fixed_point_norm(*a)
        elif isinstance(a, dict):
            m = fixed_point_norm(*a.values())
        elif hasattr(a, "__dataclass_fields__") and record_fields(a) is not None:
            m = fixed_point_norm(*(getattr(a, f) for f in record_fields(a)))
        else:
            a = np.abs(a)
            m = float(np.max(a)) if np.size(a) else 0.0
        if not m <= out:        # NaN wins: it never settles
            out = m
    return out


def fixed_point_unsettled(filename, lineno):
    """Raise: the adjoint iteration of the fixed-point loop at ``filename:lineno``
    ran ``FIXED_POINT_MAX_ITERATIONS`` times without settling."""
    raise errors.fixed_point_unsettled(filename, lineno, FIXED_POINT_MAX_ITERATIONS)


def index_add(out, index, g):
    """``out[index] += g`` in place, duplicates in a fancy index included. ``out`` may
    be the list or dict ``getitem_adjoint`` made for a list, tuple or dict (where the
    generated code could not tell): its items are adjoints of any structure, the plain
    ``0.0`` a zero of any structure (``add_adjoints``)."""
    if isinstance(out, list):
        if isinstance(index, slice):
            for i, gi in zip(range(len(out))[index], g):
                out[i] = add_adjoints(out[i], gi)
        else:
            out[index] = add_adjoints(out[index], g)
        return
    if isinstance(out, dict):
        out[index] = add_adjoints(out.get(index, 0.0), g)
        return
    if _basic_index(index):
        out[index] += g
    else:
        np.add.at(out, index, g)


# -- records: named tuples and dataclass instances (JAX's registered pytrees) ---------
#
# A record's derivative (an adjoint or a tangent) is kept in the generated code as a
# list (a named tuple's: one item per field, as a tuple's) or a dict by field name (a
# dataclass's), or the plain 0.0 standing for a zero of any structure; a derivative
# the user gives (a tangent to jvp, an output adjoint to a pullback) may be a record of
# the type itself. ``like_argument`` gives the gradient of a record argument the type
# of the argument.

_RECORDS = {}       # type -> its field names, or None for a type that is no record


def record_fields(x):
    """The names of the fields of ``x``, a named tuple or an instance of a dataclass
    (``dataclasses.fields``: its ``ClassVar`` and ``InitVar`` pseudo-fields are none),
    else None."""
    t = type(x)
    try:
        return _RECORDS[t]
    except KeyError:
        pass
    except TypeError:           # an unhashable type
        return None
    found = None
    if issubclass(t, tuple):
        fields = getattr(t, "_fields", None)
        if isinstance(fields, tuple) and callable(getattr(t, "_make", None)):
            found = fields
    elif getattr(t, "__dataclass_fields__", None) is not None and not isinstance(x, type):
        import dataclasses
        found = tuple(f.name for f in dataclasses.fields(t))
    if len(_RECORDS) > 256:
        _RECORDS.clear()
    _RECORDS[t] = found
    return found


def _not_a_field(x, name):
    """The RuleLimitError for ``x.name`` carrying a derivative where ``x`` is no record,
    or ``name`` no field of it (a property, a method, a class attribute)."""
    fields = record_fields(x)
    cls = type(x).__name__
    if fields is None:
        what = (f"the attribute .{name} of a value of type {cls} carries a derivative, but "
                f"only the fields of named tuples and dataclass instances do")
    else:
        what = (f"{cls}.{name} is not a field of {cls} (its fields: "
                f"{', '.join(fields)}): its derivative is not known")
    return errors.RuleLimitError(
        what, hint="read fields of named tuples and dataclasses (p.w), array attributes "
                   "such as .T, or compute the value in the function from the fields")


def field(x, name):
    """``x.name``: a field of a record (the primitive of ``x.name`` in generated code,
    which reads the attribute itself)."""
    return getattr(x, name)


def field_adjoint(g, x, name):
    """Adjoint of the record ``x`` in ``z = x.name`` given the adjoint ``g`` of ``z``: a
    zero of ``x``'s structure (a list for a named tuple, a dict by field for a
    dataclass) holding ``g`` at the field."""
    fields = record_fields(x)
    if fields is None or name not in fields:
        raise _not_a_field(x, name)
    if isinstance(x, tuple):
        out = [0.0] * len(fields)
        out[fields.index(name)] = g
        return out
    out = dict.fromkeys(fields, 0.0)
    out[name] = g
    return out


def field_of(g, x, name):
    """The derivative of the field ``x.name`` in ``g``, a derivative of the record ``x``
    (a list, a tuple, a dict, a record of ``x``'s type, or the 0.0 standing for a zero
    of any structure, given a zero of the field's structure)."""
    fields = record_fields(x)
    if fields is None or name not in fields:
        raise _not_a_field(x, name)
    if type(g) is float and g == 0.0:
        part = 0.0
    elif type(g) is dict:
        part = g.get(name, 0.0)
    elif isinstance(x, tuple):
        part = g[fields.index(name)]
    else:
        part = getattr(g, name)
    if type(part) is float and part == 0.0:
        value = getattr(x, name)
        if type(value) is not float:
            return zeros_like(value)
    return part


def record_tangent(x, /, **given):
    """The tangent of the record ``x = C(...)`` built in the function from the tangents
    ``given`` of the fields it was given (field name -> tangent); the other fields
    (their defaults) get zeros: a named tuple of ``x``'s type, or a dict by field for
    a dataclass."""
    fields = record_fields(x)
    parts = [given[f] if f in given else zeros_like(getattr(x, f)) for f in fields]
    if isinstance(x, tuple):
        return type(x)._make(parts)
    return dict(zip(fields, parts))


def record_parts(g, x):
    """``g``, a derivative of the dataclass instance ``x``, as a dict by field (a
    record of ``x``'s type the user gave is read field by field)."""
    if type(g) is dict:
        return g
    return {f: field_of(g, x, f) for f in record_fields(x)}


_BY_CONSTRUCTOR = {}     # dataclass -> _constructed


def _constructed(t):
    """The dataclass ``t`` makes its instances holding exactly the values its
    constructor is given, every field among them: its ``__init__`` is the one
    ``@dataclass`` made, taking every field, and it has no ``__post_init__`` or
    ``__new__``."""
    plain = _BY_CONSTRUCTOR.get(t)
    if plain is None:
        import dataclasses
        code = getattr(t.__dict__.get("__init__"), "__code__", None)
        fields = dataclasses.fields(t)
        plain = not hasattr(t, "__post_init__") and t.__new__ is object.__new__ \
            and getattr(code, "co_filename", "") == "<string>" \
            and all(f.init for f in fields) \
            and code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount] \
            == tuple(f.name for f in fields if not f.kw_only) \
            + tuple(f.name for f in fields if f.kw_only)        # (no InitVar)
        if len(_BY_CONSTRUCTOR) > 256:
            _BY_CONSTRUCTOR.clear()
        _BY_CONSTRUCTOR[t] = plain
    return plain


def make_like(x, parts):
    """A record of ``x``'s type holding ``parts`` (field name -> value): the gradient of
    a dataclass argument, made by its constructor, as ``dataclasses.replace`` makes it
    (every field given); for a class with a ``__post_init__`` or fields its
    ``__init__`` does not take, which would change or drop the values, the instance is
    made without calling ``__init__``."""
    t = type(x)
    if _constructed(t):
        return t(**parts)
    out = object.__new__(t)
    for k, v in parts.items():
        object.__setattr__(out, k, v)
    return out


def _replaces_exactly(x):
    """Raise a RuleLimitError unless replacing fields of the record ``x``
    (``dataclasses.replace(x, w=v)``, ``x._replace(a=v)``) makes a record holding the
    values given and ``x``'s other fields: a named tuple whose class has no
    ``_replace``, ``__new__`` or ``__init__`` of its own, a dataclass whose ``__init__``
    is the one the decorator made, with no ``__post_init__``."""
    t = type(x)
    fields = record_fields(x)
    why = None
    if fields is None:
        why = f"a value of type {t.__name__} is no named tuple or dataclass instance"
    elif isinstance(x, tuple):
        for c in t.__mro__:
            if "_fields" in c.__dict__:
                break
            own = [m for m in ("_replace", "__new__", "__init__") if m in c.__dict__]
            if own:
                why = f"{c.__name__} defines {own[0]}"
                break
    elif not _constructed(t):
        why = (f"{t.__name__} has a __post_init__, an __init__ or __new__ of its own, or "
               "fields its __init__ does not take, which may change the values given")
    if why is not None:
        raise errors.RuleLimitError(
            f"replacing fields of a record has no derivative here: {why}",
            hint="build the new record with its class, P(x, y), from a named tuple or a "
                 "dataclass that makes its instance from the values given")


def replaced_field(g, x, name):
    """``field_of(g, x, name)`` for the field ``name`` given to ``x =
    dataclasses.replace(p, name=v)`` (or ``p._replace(name=v)``): ``v``'s adjoint."""
    _replaces_exactly(x)
    return field_of(g, x, name)


def replaced_adjoint(g, x, names):
    """Adjoint of the record ``p`` in ``x = dataclasses.replace(p, **changes)`` (or
    ``p._replace(...)``) given the adjoint ``g`` of ``x``: the adjoints of the fields
    not in ``names`` (the fields changed get zeros), in ``x``'s structure."""
    _replaces_exactly(x)
    fields = record_fields(x)
    parts = [0.0 if f in names else field_of(g, x, f) for f in fields]
    return parts if isinstance(x, tuple) else dict(zip(fields, parts))


def replace_tangent(dp, x, /, **given):
    """The tangent of ``x = dataclasses.replace(p, **changes)`` (or ``p._replace(...)``)
    from ``p``'s tangent ``dp`` and those ``given`` of the fields changed: a named tuple
    of ``x``'s type, or a dict by field."""
    _replaces_exactly(x)
    fields = record_fields(x)
    parts = [given[f] if f in given else field_of(dp, x, f) for f in fields]
    if isinstance(x, tuple):
        return type(x)._make(parts)
    return dict(zip(fields, parts))
