"""Adjoints of Python operators (``a + b`` is ``operator.add(a, b)``).

Operands may be Python scalars or NumPy arrays; ``unbroadcast`` sums an
adjoint back to its operand's shape and is removed when the result is known
to be a scalar.
"""

import builtins
import math
import operator

import gast
import numpy as np

from ..runtime import (
    copy_of,
    getitem_adjoint,
    matmul_adjoint_a,
    matmul_adjoint_b,
    pow_dx,
    pow_dxx,
    pow_dy,
    unbroadcast,
)
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


def truediv_single(z, x, y):
    d[x] = unbroadcast(d[z] / y, x)
    d[y] = unbroadcast(-d[z] * z / y, y)


# both operands active: d[z] / y once for both (-d[z] * z / y is -(d[z] / y) * z, one
# operation less); one: the plain formulas (with d[z] a number, -z / y is one operation)


@adjoint(operator.truediv, np.divide, single=truediv_single)
def truediv(z, x, y):
    q = d[z] / y
    d[x] = unbroadcast(q, x)
    d[y] = unbroadcast(-q * z, y)


def _number(atom):
    """The value of a numeric constant atom, else nan (which compares false)."""
    if isinstance(atom, gast.Constant) and type(atom.value) in (int, float):
        return atom.value
    return math.nan


def plain_power(atoms):
    """``x ** y`` whose derivatives the plain formulas give everywhere, ``x == 0``
    included: a constant exponent of at least 1 (``x ** 2``), or a constant positive
    base (``2.0 ** y``). Other powers go through ``pow_dx`` and ``pow_dy``."""
    return _number(atoms["y"]) >= 1 or _number(atoms["x"]) > 0


@adjoint(operator.pow, builtins.pow)
def pow(z, x, y):
    """exact at x = 0 too: d/dx x ** 0 = 0, d/dy 0 ** y = 0 for y > 0"""
    d[x] = unbroadcast(d[z] * pow_dx(x, y), x)
    d[y] = unbroadcast(d[z] * pow_dy(z, x), y)


@adjoint(operator.pow, builtins.pow, when=plain_power)
def pow_plain(z, x, y):
    d[x] = unbroadcast(d[z] * y * x ** (y - 1), x)
    d[y] = unbroadcast(d[z] * z * np.log(x), y)


# the derivatives of pow_dx and pow_dy (hessians of powers):
# d/dx (y x^(y-1)) = y (y - 1) x^(y-2) = pow_dxx(x, y) (0 for y == 0, also at x == 0);
# d/dy (y x^(y-1)) = x^(y-1) + y x^(y-1) log(x)


@adjoint(pow_dx)
def pow_dx_adjoint(z, x, y):
    d[x] = unbroadcast(d[z] * pow_dxx(x, y), x)
    d[y] = unbroadcast(d[z] * (np.float_power(x, y - 1) + pow_dy(pow_dx(x, y), x)), y)


@adjoint(pow_dy)
def pow_dy_adjoint(w, z, x):
    d[z] = unbroadcast(d[w] * np.log(np.where(x, x, 1.0)), z)
    d[x] = unbroadcast(d[w] * np.where(x, z / np.where(x, x, 1.0), 0.0), x)



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
