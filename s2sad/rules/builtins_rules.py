"""Adjoints of Python builtins. Ties and kinks follow NumPy/JAX conventions:
``abs`` has derivative 0 at 0, ``max``/``min`` of equal values split the
adjoint evenly between the two arguments. Tuples and lists, which Python compares
item by item, are not split: the one ``max`` gives (the first of equal ones) takes
the adjoint.
"""

import builtins
import math
import typing

import numpy as np

from .. import runtime
from ..runtime import (
    add_any_adjoint,
    add_any_tangent,
    as_sequence,
    concat_tangent,
    dict_adjoint,
    dict_tangent,
    dist_adjoint,
    extreme_adjoint,
    extreme_tangent,
    in_order,
    in_order_adjoint,
    mul_any_adjoint,
    mul_any_tangent,
    pair_adjoint,
    pair_tangent,
    prod_items_adjoint,
    repeat_tangent,
    sequence_adjoint,
    sequence_repeat_adjoint,
    slice_adjoint,
    sorted_adjoint,
    sorted_tangent,
    sum_list_adjoint,
)
from .core import adjoint, multilinear, nondiff, tangent

d = {}


@adjoint(builtins.abs, variant="S")
def abs_scalar(z, x):
    d[x] = d[z] * ((x > 0) * 1.0 - (x < 0) * 1.0)    # NumPy booleans do not subtract


@adjoint(builtins.abs, variant="A")
def abs_array(z, x):
    d[x] = d[z] * np.sign(x)


@adjoint(builtins.max)
def max(z, x, y):
    d[x] = d[z] * ((x > y) + 0.5 * (x == y))
    d[y] = d[z] * ((y > x) + 0.5 * (x == y))


@adjoint(builtins.min)
def min(z, x, y):
    d[x] = d[z] * ((x < y) + 0.5 * (x == y))
    d[y] = d[z] * ((y < x) + 0.5 * (x == y))


@adjoint(builtins.max, builtins.min)
def extreme_of_sequence(z, x):
    """two arguments, or one list, tuple or 1-D array; ties of numbers split the
    adjoint evenly; of tuples or lists, compared item by item, the one picked (the
    first of equal ones) takes it"""
    d[x] = extreme_adjoint(d[z], x, z)


@tangent(builtins.max, builtins.min)
def tangent_of_extreme(z, x):
    d[z] = extreme_tangent(d[x], x, z)


@adjoint(builtins.max, variant="L")
def max_of_sequences(z, x, y):
    # of two tuples or lists (a list kind, activity): picked, not shared
    d[x] = pair_adjoint(d[z], x, y, z, True, 0)
    d[y] = pair_adjoint(d[z], x, y, z, True, 1)


@adjoint(builtins.min, variant="L")
def min_of_sequences(z, x, y):
    # of two tuples or lists (a list kind, activity): picked, not shared
    d[x] = pair_adjoint(d[z], x, y, z, False, 0)
    d[y] = pair_adjoint(d[z], x, y, z, False, 1)


@tangent(builtins.max, variant="L")
def tangent_of_max_of_sequences(z, x, y):
    d[z] = pair_tangent(d[x], d[y], x, y, z, True)


@tangent(builtins.min, variant="L")
def tangent_of_min_of_sequences(z, x, y):
    d[z] = pair_tangent(d[x], d[y], x, y, z, False)


@adjoint(builtins.float)
def float(z, x):
    d[x] = d[z]


@adjoint(builtins.divmod)
def divmod(z, x, y):
    d[x] = d[z][1]                                    # (floor(x / y), x - y floor(x / y))
    d[y] = -d[z][1] * z[0]


@adjoint(as_sequence)
def sequence_of(z, x, length=None, items=None, rows=None):
    d[x] = d[z]


@tangent(as_sequence)
def tangent_of_sequence(z, x, length=None, items=None, rows=None):
    """(the counts were checked on the values)"""
    d[z] = as_sequence(d[x])


@adjoint(builtins.list, builtins.tuple)
def items_of(z, x):
    """of a list, tuple or array, or of a generator"""
    d[x] = sequence_adjoint(d[z], x)


@adjoint(builtins.dict)
def dict_copy(z, x):
    """of a dict (a copy, as d.copy()); dict(pairs) is refused as the code runs"""
    d[x] = dict_adjoint(d[z], x)


@tangent(builtins.dict)
def tangent_of_dict_copy(z, x):
    d[z] = dict_tangent(d[x], x)


@adjoint(builtins.sorted)
def sorted_items(z, x, reverse=False):
    """of a list, tuple or 1-D array; equal items keep their order, as sorted keeps them"""
    d[x] = sorted_adjoint(d[z], x, reverse)


@tangent(builtins.sorted)
def tangent_of_sorted(z, x, reverse=False):
    d[z] = sorted_tangent(d[x], x, reverse)


# sorted(x, key=k) is in_order(x, sort_order(keys, reverse)) (normalize: the keys only
# order the items, they carry no derivative)


@adjoint(runtime.in_order)
def in_order_items(z, x, order):
    """the items of a list, tuple or array in a given order; each item's adjoint goes
    back to its place"""
    d[x] = in_order_adjoint(d[z], x, order)


@tangent(runtime.in_order)
def tangent_of_in_order(z, x, order):
    d[z] = in_order(d[x], order)


@adjoint(runtime.like_argument)
def like_argument(z, g, x):
    d[g] = d[z]


@adjoint(typing.cast)
def cast(z, typ, val):
    """the value as it is (a type checker's annotation)"""
    d[val] = d[z]


multilinear(typing.cast, args=("val",))


@adjoint(builtins.sum)
def sum(z, x):
    d[x] = sum_list_adjoint(d[z], x)


@adjoint(builtins.sum)
def sum_start(z, x, start):
    d[x] = sum_list_adjoint(d[z], x)
    d[start] = d[z]


@adjoint(math.fsum)
def fsum(z, x):
    d[x] = sum_list_adjoint(d[z], x)


@adjoint(math.dist)
def dist(z, p, q):
    """two lists, tuples or 1-D arrays of coordinates"""
    d[p] = dist_adjoint(d[z], z, p, q, 1.0)
    d[q] = dist_adjoint(d[z], z, p, q, -1.0)


@adjoint(math.prod)
def prod(z, x, start=1.0):
    """a list, tuple or array; exact where an item is 0"""
    d[x] = prod_items_adjoint(d[z], x, start)
    d[start] = d[z] * math.prod(x)


# a + b and a * n of lists and tuples (activity.classify gives them these primitives)


@adjoint(runtime.concat)
def concat(z, x, y):
    d[x] = slice_adjoint(d[z], x, 0)
    d[y] = slice_adjoint(d[z], y, len(x))


@adjoint(runtime.repeat)
def repeat(z, x, n):
    d[x] = sequence_repeat_adjoint(d[z], x, n)


@tangent(runtime.concat)
def tangent_of_concat(z, x, y):
    d[z] = concat_tangent(d[x], d[y], x, y)


@tangent(runtime.repeat)
def tangent_of_repeat(z, x, n):
    d[z] = repeat_tangent(d[x], x, n)


nondiff(runtime.sort_order, runtime.first_extreme, runtime.keys_of, runtime.outer_shape,
        runtime.insert_index, runtime.picked_item)
nondiff(builtins.int, builtins.round, builtins.len, builtins.range, builtins.bool,
        builtins.isinstance, builtins.print, builtins.type,
        builtins.str, builtins.repr, builtins.id, builtins.hash)


# + and * of an operand that may be a list (an item of a list of lists): concatenation
# and repetition, or arithmetic, told apart when the code runs


@adjoint(runtime.add_any)
def add_any(z, x, y):
    d[x] = add_any_adjoint(d[z], x, y, True)
    d[y] = add_any_adjoint(d[z], y, x, False)


@adjoint(runtime.mul_any)
def mul_any(z, x, y):
    d[x] = mul_any_adjoint(d[z], x, y)
    d[y] = mul_any_adjoint(d[z], y, x)


@tangent(runtime.add_any)
def tangent_of_add_any(z, x, y):
    d[z] = add_any_tangent(d[x], d[y], x, y, z)


@tangent(runtime.mul_any)
def tangent_of_mul_any(z, x, y):
    d[z] = mul_any_tangent(d[x], d[y], x, y, z)
