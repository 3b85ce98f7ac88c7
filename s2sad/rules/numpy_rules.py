"""Adjoints of NumPy functions. Binary ones broadcast: ``unbroadcast`` sums an
adjoint back to the operand's shape."""

import numpy as np

from ..runtime import (
    dot_adjoint_a,
    dot_adjoint_b,
    matmul_adjoint_a,
    matmul_adjoint_b,
    mean_adjoint,
    sum_adjoint,
    unbroadcast,
)
from .core import adjoint, nondiff

d = {}


@adjoint(np.add)
def add(z, x, y):
    d[x] = unbroadcast(d[z], x)
    d[y] = unbroadcast(d[z], y)


@adjoint(np.subtract)
def subtract(z, x, y):
    d[x] = unbroadcast(d[z], x)
    d[y] = unbroadcast(-d[z], y)


@adjoint(np.multiply)
def multiply(z, x, y):
    d[x] = unbroadcast(d[z] * y, x)
    d[y] = unbroadcast(d[z] * x, y)


@adjoint(np.divide)
def divide(z, x, y):
    d[x] = unbroadcast(d[z] / y, x)
    d[y] = unbroadcast(-d[z] * z / y, y)


@adjoint(np.power)
def power(z, x, y):
    d[x] = unbroadcast(d[z] * y * x ** (y - 1), x)
    d[y] = unbroadcast(d[z] * z * np.log(x), y)


@adjoint(np.negative)
def negative(z, x):
    d[x] = -d[z]


@adjoint(np.sin)
def sin(z, x):
    d[x] = d[z] * np.cos(x)


@adjoint(np.cos)
def cos(z, x):
    d[x] = -d[z] * np.sin(x)


@adjoint(np.tan)
def tan(z, x):
    d[x] = d[z] * (1.0 + z * z)


@adjoint(np.exp)
def exp(z, x):
    d[x] = d[z] * z


@adjoint(np.log)
def log(z, x):
    d[x] = d[z] / x


@adjoint(np.log10)
def log10(z, x):
    d[x] = d[z] / (x * 2.302585092994046)


@adjoint(np.log2)
def log2(z, x):
    d[x] = d[z] / (x * 0.6931471805599453)


@adjoint(np.sqrt)
def sqrt(z, x):
    d[x] = d[z] / (2.0 * z)


@adjoint(np.square)
def square(z, x):
    d[x] = d[z] * 2.0 * x


@adjoint(np.tanh)
def tanh(z, x):
    d[x] = d[z] * (1.0 - z * z)


@adjoint(np.sinh)
def sinh(z, x):
    d[x] = d[z] * np.cosh(x)


@adjoint(np.cosh)
def cosh(z, x):
    d[x] = d[z] * np.sinh(x)


@adjoint(np.arcsin)
def arcsin(z, x):
    d[x] = d[z] / np.sqrt(1.0 - x * x)


@adjoint(np.arccos)
def arccos(z, x):
    d[x] = -d[z] / np.sqrt(1.0 - x * x)


@adjoint(np.arctan)
def arctan(z, x):
    d[x] = d[z] / (1.0 + x * x)


@adjoint(np.arctan2)
def arctan2(z, y, x):
    den = x * x + y * y
    d[y] = unbroadcast(d[z] * x / den, y)
    d[x] = unbroadcast(-d[z] * y / den, x)


@adjoint(np.hypot)
def hypot(z, x, y):
    d[x] = unbroadcast(d[z] * x / z, x)
    d[y] = unbroadcast(d[z] * y / z, y)


@adjoint(np.abs, np.fabs)
def abs(z, x):
    d[x] = d[z] * np.sign(x)


@adjoint(np.maximum)
def maximum(z, x, y):
    d[x] = unbroadcast(d[z] * ((x > y) + 0.5 * (x == y)), x)
    d[y] = unbroadcast(d[z] * ((y > x) + 0.5 * (x == y)), y)


@adjoint(np.minimum)
def minimum(z, x, y):
    d[x] = unbroadcast(d[z] * ((x < y) + 0.5 * (x == y)), x)
    d[y] = unbroadcast(d[z] * ((y < x) + 0.5 * (x == y)), y)


@adjoint(np.sum)
def sum(z, x, axis=None, keepdims=False):
    d[x] = sum_adjoint(d[z], x, axis, keepdims)


@adjoint(np.mean)
def mean(z, x, axis=None, keepdims=False):
    d[x] = mean_adjoint(d[z], x, axis, keepdims)


@adjoint(np.dot)
def dot(z, x, y):
    d[x] = dot_adjoint_a(d[z], x, y)
    d[y] = dot_adjoint_b(d[z], x, y)


@adjoint(np.matmul)
def matmul(z, x, y):
    d[x] = matmul_adjoint_a(d[z], x, y)
    d[y] = matmul_adjoint_b(d[z], x, y)


nondiff(np.sign, np.floor, np.ceil, np.round, np.argmax, np.argmin, np.shape, np.size,
        np.ndim, np.zeros, np.ones, np.zeros_like, np.ones_like, np.arange, np.linspace,
        np.isnan, np.isinf, np.isfinite, np.equal, np.less, np.greater, np.less_equal,
        np.greater_equal, np.not_equal, np.empty, np.eye, np.rint, np.trunc)


@adjoint(np.transpose)
def transpose(z, x, axes=None):
    d[x] = transpose_adjoint(d[z], axes)


# -- helpers called by the templates above ----------------------------------------

def transpose_adjoint(g, axes):
    return np.transpose(g) if axes is None else np.transpose(g, np.argsort(axes))
