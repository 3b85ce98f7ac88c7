"""Adjoints of Python operators (``a + b`` is ``operator.add(a, b)``).

Operands may be Python scalars or NumPy arrays; ``unbroadcast`` sums an
adjoint back to its operand's shape and is removed when the result is known
to be a scalar.
"""

import operator

import numpy as np

from ..runtime import copy_of, getitem_adjoint, matmul_adjoint_a, matmul_adjoint_b, unbroadcast
from .core import adjoint, nondiff

d = {}  # templates write d[x] for "the adjoint of x"


@adjoint(operator.add, np.add)
def add(z, x, y):
    d[x] = unbroadcast(d[z], x)
    d[y] = unbroadcast(d[z], y)


@adjoint(operator.sub, np.subtract)
def sub(z, x, y):
    d[x] = unbroadcast(d[z], x)
    d[y] = unbroadcast(-d[z], y)


@adjoint(operator.mul, np.multiply)
def mul(z, x, y):
    d[x] = unbroadcast(d[z] * y, x)
    d[y] = unbroadcast(d[z] * x, y)


@adjoint(operator.truediv, np.divide)
def truediv(z, x, y):
    d[x] = unbroadcast(d[z] / y, x)
    d[y] = unbroadcast(-d[z] * z / y, y)


@adjoint(operator.pow)
def pow(z, x, y):
    d[x] = unbroadcast(d[z] * y * x ** (y - 1), x)
    d[y] = unbroadcast(d[z] * z * np.log(x), y)


@adjoint(operator.neg)
def neg(z, x):
    d[x] = -d[z]


@adjoint(operator.pos)
def pos(z, x):
    d[x] = d[z]


@adjoint(operator.matmul)
def matmul(z, x, y):
    d[x] = matmul_adjoint_a(d[z], x, y)
    d[y] = matmul_adjoint_b(d[z], x, y)


@adjoint(operator.getitem)
def getitem(z, x, index):
    d[x] = getitem_adjoint(d[z], x, index)


@adjoint(copy_of)
def copy(z, x):
    d[x] = d[z]


@adjoint(operator.mod)
def mod(z, x, y):
    d[x] = unbroadcast(d[z], x)
    d[y] = unbroadcast(-d[z] * ((x - z) / y), y)      # z = x - y * floor(x / y)


nondiff(operator.floordiv, operator.lt, operator.le, operator.gt,
        operator.ge, operator.eq, operator.ne, operator.not_, operator.and_,
        operator.or_, operator.xor, operator.invert, operator.lshift, operator.rshift,
        operator.is_, operator.is_not, operator.contains, operator.truth)
