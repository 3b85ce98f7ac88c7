"""Forward-mode (tangent) rules that cannot be derived from the adjoint tables.

Elementwise rules need nothing here: their tangent is derived from the
adjoint template (``d[x] = unbroadcast(d[z] * E, x)`` gives the term
``dx * E``). Primitives that are linear in their array arguments are listed
with :func:`multilinear`: their tangent is the same call on the tangents.
The runtime helpers of the reverse sweep are listed too, so generated
gradient code can itself be differentiated in forward mode (hessians).
"""

import builtins
import math
import operator

import numpy as np

from .. import runtime
from ..runtime import field_adjoint, field_of, replaced_adjoint, sum_tangent
from .core import adjoint, multilinear, nondiff, tangent

multilinear(operator.getitem, args=("a",))
multilinear(operator.matmul, np.dot, np.matmul, np.sum, np.mean, np.transpose)
multilinear(runtime.copy_of, runtime.as_sequence, runtime.owned, runtime.list_adjoint,
            args=None)
# the adjoint of a list given to a callee filling it: a copy of g (lst gives its length)
multilinear(runtime.list_adjoint_in, args=("g",))
# fit(t, z) is linear in the tangent t; z gives only the shape
multilinear(runtime.fit, args=("t",))
multilinear(runtime.unbroadcast, runtime.getitem_adjoint, runtime.sum_adjoint,
            runtime.mean_adjoint, runtime.sum_list_adjoint, runtime.take_adjoint,
            runtime.store_adjoint, args=("g",))
multilinear(runtime.last_writes, args=("part",))
# the check that a user's rule gives an adjoint of its argument's shape: g itself
multilinear(runtime.checked_adjoint, args=("g",))
# the items of x equal to z take the adjoint (the tangent): linear in it, x and z select
multilinear(runtime.extreme_adjoint, args=("g",))
multilinear(runtime.extreme_tangent, args=("dx",))
# max(t1, t2) of lists or tuples: the adjoint of the one picked is g, linear in it
multilinear(runtime.pair_adjoint, args=("g",))
multilinear(runtime.dot_items, args=("a", "b"))
multilinear(builtins.list, builtins.tuple, args=None)
multilinear(runtime.sequence_adjoint, args=("g",))
multilinear(runtime.dict_adjoint, args=("g",))
multilinear(runtime.dict_tangent, args=("dx",))
multilinear(runtime.sorted_adjoint, args=("g",))
multilinear(runtime.like_argument, args=("g",))
multilinear(runtime.sorted_tangent, args=("dx",))
multilinear(runtime.in_order, args=("x",))
# the adjoint of an operand of a + b or a * b where one may be a list (an item of a tuple
# argument): linear in the adjoint g (other: the length of a concatenation, or the
# count of a repetition); bilinear in g and the other operand for arithmetic (the
# count, an int, carries no tangent)
multilinear(runtime.add_any_adjoint, args=("g",))
multilinear(runtime.mul_any_adjoint, args=("g", "other"))
multilinear(runtime.in_order_adjoint, args=("g",))
multilinear(runtime.element_adjoint, runtime.slice_adjoint, runtime.sequence_repeat_adjoint,
            args=("g",))
multilinear(runtime.repeat_tangent, runtime.extreme_tangent, args=("dx",))
multilinear(runtime.extreme_adjoint, args=("g",))
# the adjoint of a in a @ b reads g and b (a gives only its dimensions): bilinear in g
# and b, one term each; the adjoint of b likewise in g and a
multilinear(runtime.dot_adjoint_a, runtime.matmul_adjoint_a, args=("g", "b"))
multilinear(runtime.dot_adjoint_b, runtime.matmul_adjoint_b, args=("g", "a"))
multilinear(runtime.snapshot, args=("a",))
nondiff(runtime.seed, runtime.zeros_like, runtime.zero_items, runtime.check_float_store, runtime.check_method,
        runtime.check_attribute, runtime.check_inplace, runtime.restore_item)


# add_adjoints(a, b) is linear in a and b JOINTLY (a sum), not in each separately: its
# tangent is one call on both tangents (0.0, a zero of any structure, for an inactive
# one), never the product rule's two terms (which double the value and, for list
# adjoints, concatenate them with +)


@tangent(runtime.add_adjoints)
def add_adjoints_tangent(z, a, b):
    d[z] = runtime.add_adjoints(d[a], d[b])


# pair_tangent(dx, dy, ...) is linear in dx and dy jointly (it picks one of them for
# lists or tuples, a sum of two terms would concatenate them), like add_adjoints


@tangent(runtime.pair_tangent)
def pair_tangent_tangent(r, dx, dy, x, y, z, largest):
    d[r] = runtime.pair_tangent(d[dx], d[dy], x, y, z, largest)


# concat_tangent(dx, dy, x, y) is linear in dx and dy jointly, like add_adjoints


@tangent(runtime.concat_tangent)
def concat_tangent_tangent(z, dx, dy, x, y):
    d[z] = runtime.concat_tangent(d[dx], d[dy], x, y)


# one division, not the two of the terms derived from the adjoint (dx / y - dy * z / y)


@tangent(operator.truediv, np.divide)
def truediv(z, x, y):
    d[z] = (d[x] - d[y] * z) / y


# sum(x, start) is linear in x and start jointly, not in each separately; its tangent
# starts from 0.0 so the sum of no tangents is a float, as the gradient of a float is


@tangent(builtins.sum)
def sum_items(z, x):
    d[z] = sum(d[x], 0.0)


@tangent(math.fsum)
def fsum_items(z, x):
    d[z] = sum_tangent(d[x], 0.0)


@tangent(math.dist)
def dist(z, p, q):
    d[z] = runtime.dist_tangent(d[p], d[q], z, p, q)


@tangent(math.prod)
def prod_items(z, x, start=1.0):
    d[z] = runtime.dot_items(d[x], runtime.prod_items_adjoint(1.0, x, start)) + d[start] * math.prod(x)


@tangent(runtime.prod_items_adjoint)
def prod_items_adjoint_tangent(z, g, x, start):
    d[z] = runtime.prod_items_adjoint_tangent(d[g], g, d[x], x, d[start], start)


@tangent(builtins.sum)
def sum_items_start(z, x, start):
    d[z] = sum_tangent(d[x], d[start])


# -- adjoints of the runtime helpers, for reverse over reverse (grad of grad) --------

d = {}


@adjoint(runtime.unbroadcast)
def unbroadcast(z, g, x):
    d[g] = runtime.fit(d[z], g)


@adjoint(runtime.checked_adjoint)
def checked_adjoint(z, g, x, rule, param):
    d[g] = runtime.checked_adjoint(d[z], g, rule, param)


@adjoint(runtime.fit)
def fit(z, t, y):
    d[t] = runtime.unbroadcast(d[z], t)


@adjoint(runtime.getitem_adjoint)
def getitem_adjoint(z, g, x, index):
    d[g] = runtime.unbroadcast(d[z][index], g)


@adjoint(runtime.snapshot)
def snapshot(z, a, index):
    d[a] = runtime.getitem_adjoint(d[z], a, index)


@adjoint(runtime.take_adjoint)
def take_adjoint(z, g, index, v):
    d[g] = runtime.getitem_adjoint(runtime.fit(d[z], g[index]), g, index)


@adjoint(runtime.store_adjoint)
def store_adjoint(z, g, index, v):
    d[g] = runtime.getitem_adjoint(
        runtime.last_writes(runtime.fit(d[z], g[index]), g, index), g, index)


@adjoint(runtime.last_writes)
def last_writes(z, part, g, index):
    d[part] = runtime.last_writes(d[z], g, index)


@adjoint(runtime.sum_adjoint)
def sum_adjoint(z, g, x, axis=None, keepdims=False):
    d[g] = runtime.unbroadcast(np.sum(d[z], axis=axis, keepdims=keepdims), g)


@adjoint(runtime.mean_adjoint)
def mean_adjoint(z, g, x, axis=None, keepdims=False):
    d[g] = runtime.unbroadcast(np.sum(d[z], axis=axis, keepdims=keepdims), g) \
        * (np.size(g) / np.size(x))


@adjoint(runtime.pair_adjoint)
def pair_adjoint(r, g, x, y, z, largest, k):
    """picking (or scaling) g is its own transpose"""
    d[g] = runtime.pair_adjoint(d[r], x, y, z, largest, k)


@adjoint(runtime.pair_tangent)
def pair_tangent(r, dx, dy, x, y, z, largest):
    d[dx] = runtime.pair_adjoint(d[r], x, y, z, largest, 0)
    d[dy] = runtime.pair_adjoint(d[r], x, y, z, largest, 1)


@adjoint(runtime.add_adjoints)
def add_adjoints(z, a, b):
    d[a] = d[z]
    d[b] = d[z]


@adjoint(runtime.slice_adjoint)
def slice_adjoint(z, g, x, start):
    d[g] = runtime.slice_adjoint_adjoint(d[z], g, x, start)


@adjoint(runtime.sequence_repeat_adjoint)
def sequence_repeat_adjoint(z, g, x, n):
    d[g] = runtime.repeat_adjoint_adjoint(d[z], g, x, n)


@adjoint(runtime.add_any_adjoint)
def add_any_adjoint(z, g, x, other, first):
    d[g] = runtime.add_any_adjoint_adjoint(d[z], g, x, other, first)


@adjoint(runtime.mul_any_adjoint)
def mul_any_adjoint(z, g, x, other):
    d[g] = runtime.mul_any_adjoint_adjoint(d[z], g, x, other, True)
    d[other] = runtime.mul_any_adjoint_adjoint(d[z], g, x, other, False)


@adjoint(runtime.element_adjoint)
def element_adjoint(z, g, x):
    d[g] = d[z]


@adjoint(runtime.owned)
def owned(z, g):
    d[g] = d[z]


@adjoint(runtime.list_adjoint)
def list_adjoint(z, g):
    d[g] = d[z]


@adjoint(runtime.list_adjoint_in)
def list_adjoint_in(z, g, lst):
    d[g] = d[z]



# divmod(x, y) = (floor(x / y), x - y floor(x / y)): the quotient is integer-valued


@tangent(builtins.divmod)
def divmod_tangent(z, x, y):
    d[z] = (0.0, d[x] - d[y] * z[0])


# -- fields of records (named tuples, dataclass instances): x.name is runtime.field ---
# field_adjoint and field_of are linear in the derivative g; x gives the structure


multilinear(runtime.field_adjoint, runtime.field_of, runtime.replaced_field,
            runtime.replaced_adjoint, args=("g",))


@adjoint(runtime.field)
def field_rule(z, x, name):
    d[x] = field_adjoint(d[z], x, name)


@tangent(runtime.field)
def field_tangent(z, x, name):
    d[z] = field_of(d[x], x, name)


@adjoint(runtime.field_adjoint)
def field_adjoint_rule(z, g, x, name):
    d[g] = field_of(d[z], x, name)


@adjoint(runtime.field_of)
def field_of_rule(z, g, x, name):
    d[g] = field_adjoint(d[z], x, name)


@adjoint(runtime.replaced_field)
def replaced_field_rule(z, g, x, name):
    d[g] = field_adjoint(d[z], x, name)


@adjoint(runtime.replaced_adjoint)
def replaced_adjoint_rule(z, g, x, names):
    d[g] = replaced_adjoint(d[z], x, names)
