"""Adjoints of the ``math`` module. Arguments are Python scalars."""

import math

from ..runtime import pow_dx, pow_dy
from .core import adjoint, nondiff
from .operators import plain_power

d = {}


@adjoint(math.sin)
def sin(z, x):
    d[x] = d[z] * math.cos(x)


@adjoint(math.cos)
def cos(z, x):
    d[x] = -d[z] * math.sin(x)


@adjoint(math.tan)
def tan(z, x):
    d[x] = d[z] * (1.0 + z * z)


@adjoint(math.exp)
def exp(z, x):
    d[x] = d[z] * z


@adjoint(math.expm1)
def expm1(z, x):
    d[x] = d[z] * (z + 1.0)


@adjoint(math.log)
def log_base(z, x, base):
    d[x] = d[z] / (x * math.log(base))
    d[base] = -d[z] * z / (base * math.log(base))


@adjoint(math.log)
def log(z, x):
    d[x] = d[z] / x


@adjoint(math.log1p)
def log1p(z, x):
    d[x] = d[z] / (1.0 + x)


@adjoint(math.log10)
def log10(z, x):
    d[x] = d[z] / (x * 2.302585092994046)


@adjoint(math.log2)
def log2(z, x):
    d[x] = d[z] / (x * 0.6931471805599453)


@adjoint(math.sqrt)
def sqrt(z, x):
    d[x] = d[z] / (2.0 * z)


@adjoint(math.pow)
def pow(z, x, y):
    """exact at x = 0 too: d/dx x ** 0 = 0, d/dy 0 ** y = 0 for y > 0"""
    d[x] = d[z] * pow_dx(x, y)
    d[y] = d[z] * pow_dy(z, x)


@adjoint(math.pow, when=plain_power)
def pow_plain(z, x, y):
    d[x] = d[z] * y * math.pow(x, y - 1.0)
    d[y] = d[z] * z * math.log(x)


@adjoint(math.tanh)
def tanh(z, x):
    d[x] = d[z] * (1.0 - z * z)


@adjoint(math.sinh)
def sinh(z, x):
    d[x] = d[z] * math.cosh(x)


@adjoint(math.cosh)
def cosh(z, x):
    d[x] = d[z] * math.sinh(x)


@adjoint(math.asinh)
def asinh(z, x):
    d[x] = d[z] / math.sqrt(x * x + 1.0)


@adjoint(math.acosh)
def acosh(z, x):
    d[x] = d[z] / math.sqrt(x * x - 1.0)


@adjoint(math.atanh)
def atanh(z, x):
    d[x] = d[z] / (1.0 - x * x)


@adjoint(math.asin)
def asin(z, x):
    d[x] = d[z] / math.sqrt(1.0 - x * x)


@adjoint(math.acos)
def acos(z, x):
    d[x] = -d[z] / math.sqrt(1.0 - x * x)


@adjoint(math.atan)
def atan(z, x):
    d[x] = d[z] / (1.0 + x * x)


@adjoint(math.atan2)
def atan2(z, y, x):
    den = x * x + y * y
    d[y] = d[z] * x / den
    d[x] = -d[z] * y / den


@adjoint(math.hypot)
def hypot(z, x, y):
    d[x] = d[z] * x / z
    d[y] = d[z] * y / z


@adjoint(math.hypot)
def hypot_1(z, x):
    """of one to four coordinates"""
    d[x] = d[z] * x / z


@adjoint(math.hypot)
def hypot_3(z, x, y, w):
    d[x] = d[z] * x / z
    d[y] = d[z] * y / z
    d[w] = d[z] * w / z


@adjoint(math.hypot)
def hypot_4(z, x, y, w, v):
    d[x] = d[z] * x / z
    d[y] = d[z] * y / z
    d[w] = d[z] * w / z
    d[v] = d[z] * v / z


@adjoint(math.fabs)
def fabs(z, x):
    d[x] = d[z] * ((x > 0) * 1.0 - (x < 0) * 1.0)


@adjoint(math.copysign)
def copysign(z, x, y):
    """|x| with the sign of y: derivative sign(x) * sign(y), 0 at x = 0; zero gradient
    for the sign source y"""
    d[x] = d[z] * (((x > 0) * 1.0 - (x < 0) * 1.0) * math.copysign(1.0, y))


@adjoint(math.fmod)
def fmod(z, x, y):
    """x - trunc(x / y) * y"""
    d[x] = d[z]
    d[y] = -d[z] * math.trunc(x / y)


@adjoint(math.erf)
def erf(z, x):
    d[x] = d[z] * 1.1283791670955126 * math.exp(-x * x)


@adjoint(math.erfc)
def erfc(z, x):
    d[x] = -d[z] * 1.1283791670955126 * math.exp(-x * x)


@adjoint(math.ldexp)
def ldexp(z, x, i):
    """x * 2 ** i for an integer i"""
    d[x] = d[z] * math.ldexp(1.0, i)


if hasattr(math, "cbrt"):              # Python 3.11
    @adjoint(math.cbrt)
    def cbrt(z, x):
        d[x] = d[z] / (3.0 * z * z)

    @adjoint(math.exp2)
    def exp2(z, x):
        d[x] = d[z] * z * 0.6931471805599453


@adjoint(math.degrees)
def degrees(z, x):
    d[x] = d[z] * 57.29577951308232


@adjoint(math.radians)
def radians(z, x):
    d[x] = d[z] * 0.017453292519943295


nondiff(math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite,
        math.isclose, math.factorial, math.gcd, math.comb)
