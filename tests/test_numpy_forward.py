"""Forward mode (``s2sad.jvp``) through every NumPy rule, and hessians through their helpers.

``CASES`` holds one function per use of a NumPy function (or array method) with an
adjoint rule, every argument differentiable, binary functions with broadcasting.
``test_jvp`` checks each one three ways: the tangent has the shape of the value; the
dot-product test against reverse mode, ``<jvp(f)(x, v), C> == <vjp(f)(x)(C), v>`` with
fixed weights ``C`` (the same as ``jvp == grad . v`` for the scalar ``np.sum(f(x) * C)``,
and it also catches a tangent of the wrong shape); and central differences along ``v``.

``HESSIANS`` holds scalar functions through every family, checked by forward over
reverse (``jvp`` of the generated gradient, the way ``s2sad.hessian`` works) against
central differences of ``s2sad.grad``. ``HELPERS`` checks the rules given to the adjoint
helpers (a tangent that is linear in the incoming adjoint, and the transposed map as
their adjoint) against each other. Guard tests fail when a NumPy rule, array method or
helper rule has no test here. Regression tests of core bugs are at the end.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import zlib

import numpy as np
import pytest

import s2sad
from s2sad.api import GradFunction
from s2sad.extend import nondiff
from s2sad.forward_mode import derived_terms
from s2sad.rules import methods
from s2sad.rules import numpy_helpers as H
from s2sad.rules.core import MULTILINEAR, RULES, TANGENTS
from s2sad.rules.methods import ATTRIBUTES, METHODS
from s2sad.toolbox import JVPFunction, VJPFunction

_RNG = np.random.default_rng(20240607)


def U(*shape, lo=-1.0, hi=1.0):
    """A fixed random point: a float for no shape, else an array."""
    if not shape:
        return float(_RNG.uniform(lo, hi))
    return _RNG.uniform(lo, hi, size=shape)


def P(*shape):
    """Positive values, away from zero."""
    return U(*shape, lo=0.5, hi=2.0)


def Z(*shape):
    """Away from zero, both signs."""
    x = U(*shape, lo=0.3, hi=1.5)
    return x * np.where(U(*shape) < 0, -1.0, 1.0) if shape else x


def with_nans(*shape):
    x = U(*shape)
    x.flat[::4] = np.nan
    return x


def spd(n):
    b = U(n, n)
    return b @ b.T + n * np.eye(n)


def wellcond(*shape):
    return U(*shape) + 3.0 * np.eye(shape[-1])


def W(y):
    """Fixed weights of ``y``'s shape (the same for the same shape)."""
    shape = np.shape(y)
    rng = np.random.default_rng(zlib.crc32(repr(shape).encode()))
    w = rng.uniform(0.5, 1.5, size=shape)
    return float(w) if shape == () else w


nondiff(W)

C34 = U(3, 4)
C3 = U(3)
IDX = np.argsort(U(3, 4), axis=1)
N_INT = np.array([1, -2, 3])
XP = np.array([0.0, 0.3, 0.45, 0.8, 1.0])     # np.interp: knots, points inside and outside
XI = np.array([0.1, 0.35, 0.5, 0.62, 0.9])
XO = np.array([-0.4, 0.2, 0.7, 1.3])
XS3 = np.array([0.2, 0.9, 1.3])      # np.gradient: sample coordinates


def case(name, fn, *args, fd=True, sym=False, needs=None):
    """``fd``: also compare with finite differences; ``sym``: symmetric directions."""
    marks = ()
    if needs is not None:
        obj = np
        for part in needs.split("."):
            obj = getattr(obj, part, None)
        marks = (pytest.mark.skipif(obj is None, reason=f"needs np.{needs}"),)
    return pytest.param(fn, args, fd, sym, id=name, marks=marks)


def eigh_projector(a):
    w, v = np.linalg.eigh(a)
    return v @ np.diag(w ** 2 + np.arange(3.0)) @ v.T      # not changed by the signs of v


def slogdet_unpacked(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet


CASES = [
    # -- elementwise, one operand (tangents derived from the adjoint templates)
    case("negative", lambda x: np.negative(x), U(2, 3)),
    case("positive", lambda x: np.positive(x), U(2, 3)),
    case("abs", lambda x: np.abs(x), Z(2, 3)),
    case("absolute-scalar", lambda x: np.absolute(x), Z()),
    case("fabs", lambda x: np.fabs(x), Z(2, 3)),
    case("reciprocal", lambda x: np.reciprocal(x), P(2, 3)),
    case("exp", lambda x: np.exp(x), U(2, 3)),
    case("exp-scalar", lambda x: np.exp(x), U()),
    case("exp2", lambda x: np.exp2(x), U(2, 3)),
    case("expm1", lambda x: np.expm1(x), U(2, 3)),
    case("log", lambda x: np.log(x), P(2, 3)),
    case("log2", lambda x: np.log2(x), P(2, 3)),
    case("log10", lambda x: np.log10(x), P(2, 3)),
    case("log1p", lambda x: np.log1p(x), P(2, 3)),
    case("sqrt", lambda x: np.sqrt(x), P(2, 3)),
    case("cbrt", lambda x: np.cbrt(x), Z(2, 3)),
    case("square", lambda x: np.square(x), U(2, 3)),
    case("sin", lambda x: np.sin(x), U(2, 3)),
    case("cos", lambda x: np.cos(x), U(2, 3)),
    case("tan", lambda x: np.tan(x), U(2, 3)),
    case("arcsin", lambda x: np.arcsin(x), U(2, 3, lo=-0.8, hi=0.8)),
    case("arccos", lambda x: np.arccos(x), U(2, 3, lo=-0.8, hi=0.8)),
    case("arctan", lambda x: np.arctan(x), U(2, 3)),
    case("sinh", lambda x: np.sinh(x), U(2, 3)),
    case("cosh", lambda x: np.cosh(x), U(2, 3)),
    case("tanh", lambda x: np.tanh(x), U(2, 3)),
    case("arcsinh", lambda x: np.arcsinh(x), U(2, 3)),
    case("arccosh", lambda x: np.arccosh(x), U(2, 3, lo=1.2, hi=3.0)),
    case("arctanh", lambda x: np.arctanh(x), U(2, 3, lo=-0.8, hi=0.8)),
    case("deg2rad", lambda x: np.deg2rad(x), U(2, 3)),
    case("radians", lambda x: np.radians(x), U(2, 3)),
    case("rad2deg", lambda x: np.rad2deg(x), U(2, 3)),
    case("degrees", lambda x: np.degrees(x), U(2, 3)),
    case("sinc", lambda x: np.sinc(x), U(2, 3, lo=-1.5, hi=1.5)),
    case("conj", lambda x: np.conj(x), U(2, 3)),
    case("conjugate-scalar", lambda x: np.conjugate(x), U()),
    case("real", lambda x: np.real(x), U(2, 3)),
    case("imag", lambda x: np.imag(x), U(2, 3)),
    case("nan_to_num", lambda x: np.nan_to_num(x), U(2, 3)),
    case("heaviside", lambda x, h: np.heaviside(x, h), np.array([0.0, 1.0, 0.0, -1.0]), U(4),
         fd=False),    # a step in x
    # -- elementwise, two operands, broadcasting both ways
    case("add", lambda x, y: np.add(x, y), U(3, 1), U(1, 4)),
    case("subtract", lambda x, y: np.subtract(x, y), U(4), U(3, 4)),
    case("multiply", lambda x, y: np.multiply(x, y), U(3, 4), U()),
    case("multiply-scalars", lambda x, y: np.multiply(x, y), U(), U()),
    case("divide", lambda x, y: np.divide(x, y), U(3, 1), P(1, 4)),
    case("true_divide", lambda x, y: np.true_divide(x, y), U(), P(3, 4)),
    case("power", lambda x, y: np.power(x, y), P(3, 1), U(1, 4)),
    case("float_power", lambda x, y: np.float_power(x, y), P(4), U(3, 4)),
    case("maximum", lambda x, y: np.maximum(x, y), U(3, 1), U(1, 4)),
    case("minimum", lambda x, y: np.minimum(x, y), U(3, 4), U(4)),
    case("fmax", lambda x, y: np.fmax(x, y), U(3, 1), U(1, 4)),
    case("fmin", lambda x, y: np.fmin(x, y), U(), U(3, 4)),
    case("hypot", lambda x, y: np.hypot(x, y), U(3, 1), U(1, 4)),
    case("arctan2", lambda x, y: np.arctan2(x, y), P(3, 1), U(1, 4)),
    case("logaddexp", lambda x, y: np.logaddexp(x, y), U(3, 1), U(1, 4)),
    case("logaddexp2", lambda x, y: np.logaddexp2(x, y), U(4), U(3, 4)),
    case("remainder", lambda x, y: np.remainder(x, y), U(3, 1, lo=1.1, hi=1.9),
         U(1, 4, lo=0.5, hi=0.9)),
    case("mod", lambda x, y: np.mod(x, y), U(3, 4, lo=1.1, hi=1.9), U(lo=0.5, hi=0.9)),
    case("nextafter", lambda x, y: np.nextafter(x, y), U(3, 1, lo=-1.9, hi=-1.1), U(4, lo=0.5)),
    case("fmod", lambda x, y: np.fmod(x, y), U(3, 1, lo=-1.9, hi=-1.1),
         U(1, 4, lo=0.5, hi=0.9)),
    case("copysign", lambda x, y: np.copysign(x, y), Z(3, 1), Z(1, 4)),
    case("ldexp", lambda x: np.ldexp(x, N_INT), U(2, 3)),
    case("where", lambda x, y: np.where(x > 0, x, y), U(3, 1), U(1, 4)),
    case("where-inactive-scalar", lambda x: np.where(x > 0, x, 2.0), U(3, 4)),
    case("where-inactive-wider", lambda x: np.where(C34 > 0, x, C34), U(4)),
    case("where-scalars", lambda x, y: np.where(x > y, x * y, y), U(), U()),
    case("clip", lambda x: np.clip(x, -0.5, 0.5), U(3, 4)),
    case("clip-array-bounds", lambda x, lo, hi: np.clip(x, lo, hi), U(3, 4),
         U(4, lo=-0.6, hi=-0.1), U(3, 1, lo=0.1, hi=0.6)),
    case("clip-min-max-keywords", lambda x, lo, hi: np.clip(x, min=lo, max=hi), U(3, 4),
         U(lo=-0.6, hi=-0.1), U(4, lo=0.1, hi=0.6), needs="__version__"),
    case("clip-upper-only", lambda x, hi: np.clip(x, None, hi), U(3, 4), U(3, 1)),
    # -- reductions
    case("sum", lambda x: np.sum(x, axis=(0, 2), keepdims=True), U(2, 3, 4)),
    case("mean", lambda x: np.mean(x, axis=1), U(2, 3, 4)),
    case("prod", lambda x: np.prod(x), P(2, 3)),
    case("prod-axis", lambda x: np.prod(x, axis=(0, 2), keepdims=True), P(2, 3, 4)),
    case("max", lambda x: np.max(x, axis=1), U(2, 3, 4)),
    case("min", lambda x: np.min(x), U(2, 3)),
    case("amax", lambda x: np.amax(x, axis=(0, 2), keepdims=True), U(2, 3, 4)),
    case("amin", lambda x: np.amin(x, axis=-1), U(2, 3, 4)),
    case("nanmax", lambda x: np.nanmax(x, axis=1), with_nans(3, 5)),
    case("nanmin", lambda x: np.nanmin(x, axis=0), with_nans(3, 5)),
    case("ptp", lambda x: np.ptp(x, axis=1, keepdims=True), U(3, 5)),
    case("var", lambda x: np.var(x, axis=(0, 2)), U(2, 3, 4)),
    case("var-ddof", lambda x: np.var(x, ddof=1), U(2, 3)),
    case("std", lambda x: np.std(x, axis=1, keepdims=True), U(2, 3, 4)),
    case("std-ddof", lambda x: np.std(x, axis=0, ddof=1), U(3, 4)),
    case("cumsum", lambda x: np.cumsum(x, axis=1), U(3, 4)),
    case("cumsum-flat", lambda x: np.cumsum(x), U(3, 4)),
    case("cumprod", lambda x: np.cumprod(x, axis=0), P(3, 4)),
    case("cumprod-flat", lambda x: np.cumprod(x), P(2, 3)),
    case("nansum", lambda x: np.nansum(x, axis=1), with_nans(3, 5)),
    case("nanmean", lambda x: np.nanmean(x, axis=1, keepdims=True), with_nans(3, 5)),
    case("average", lambda x: np.average(x, axis=1), U(3, 4)),
    case("average-weights", lambda x, w: np.average(x, axis=None, weights=w), U(3, 4),
         P(3, 4)),
    case("average-weights-1d", lambda x, w: np.average(x, 1, w), U(3, 4), P(4)),
    case("trace", lambda x: np.trace(x, 1), U(3, 4)),
    case("trace-axes", lambda x: np.trace(x, -1, 2, 0), U(3, 2, 4)),
    case("trapezoid", lambda y: np.trapezoid(y, axis=0), U(4, 3), needs="trapezoid"),
    case("trapezoid-x", lambda y, x: np.trapezoid(y, x), U(3, 5), np.cumsum(P(5)),
         needs="trapezoid"),
    case("trapezoid-dx", lambda y, dx: np.trapezoid(y, dx=dx), U(3, 5), P(),
         needs="trapezoid"),
    # -- shapes, copies and indexing
    case("reshape", lambda x: np.reshape(x, (4, 6)), U(2, 3, 4)),
    case("reshape-F", lambda x: np.reshape(x, (6, 4), order="F"), U(2, 3, 4)),
    case("ravel", lambda x: np.ravel(x), U(2, 3, 4)),
    case("ravel-F", lambda x: np.ravel(x, order="F"), U(3, 4)),
    case("transpose", lambda x: np.transpose(x, (2, 0, 1)), U(2, 3, 4)),
    case("matrix_transpose", lambda x: np.matrix_transpose(x), U(2, 3, 4),
         needs="matrix_transpose"),
    case("linalg.matrix_transpose", lambda x: np.linalg.matrix_transpose(x), U(3, 4),
         needs="linalg.matrix_transpose"),
    case("swapaxes", lambda x: np.swapaxes(x, 0, 2), U(2, 3, 4)),
    case("moveaxis", lambda x: np.moveaxis(x, (0, 1), (2, 0)), U(2, 3, 4)),
    case("rollaxis", lambda x: np.rollaxis(x, 2, 1), U(2, 3, 4)),
    case("squeeze", lambda x: np.squeeze(x, axis=1), U(3, 1, 4)),
    case("expand_dims", lambda x: np.expand_dims(x, (0, 2)), U(3, 4)),
    case("atleast_1d", lambda x: np.atleast_1d(x), U()),
    case("atleast_2d", lambda x: np.atleast_2d(x), U(3)),
    case("atleast_3d", lambda x: np.atleast_3d(x), U(3, 4)),
    case("copy", lambda x: np.copy(x), U(3, 4)),
    case("asarray", lambda x: np.asarray(x), U(3, 4)),
    case("asanyarray", lambda x: np.asanyarray(x), U(3)),
    case("ascontiguousarray", lambda x: np.ascontiguousarray(x), U(3, 4)),
    case("asfortranarray", lambda x: np.asfortranarray(x), U(3, 4)),
    case("array", lambda x: np.array(x, ndmin=3), U(3, 4)),
    case("array-of-scalars", lambda x, y: np.array([x, 2.0, x * y]), U(), U()),
    case("array-of-rows", lambda x: np.array([x, C3, 2.0 * x]), U(3)),
    case("broadcast_to", lambda x: np.broadcast_to(x, (2, 3, 4)), U(3, 1)),
    case("repeat", lambda x: np.repeat(x, 2), U(2, 3)),
    case("repeat-axis", lambda x: np.repeat(x, [1, 3], axis=0), U(2, 3)),
    case("tile", lambda x: np.tile(x, (2, 1, 3)), U(2, 3)),
    case("flip", lambda x: np.flip(x, 1), U(3, 4)),
    case("fliplr", lambda x: np.fliplr(x), U(3, 4)),
    case("flipud", lambda x: np.flipud(x), U(3, 4)),
    case("rot90", lambda x: np.rot90(x, 3), U(3, 4)),
    case("roll", lambda x: np.roll(x, (1, -2), axis=(0, 1)), U(3, 4)),
    case("diag-build", lambda x: np.diag(x, 1), U(3)),
    case("diag-extract", lambda x: np.diag(x, -1), U(3, 4)),
    case("diagonal", lambda x: np.diagonal(x, 1, 0, 2), U(3, 2, 4)),
    case("triu", lambda x: np.triu(x, 1), U(3, 4)),
    case("tril", lambda x: np.tril(x), U(2, 3, 4)),
    case("take", lambda x: np.take(x, [0, 2, 2], axis=1), U(2, 3, 4)),
    case("take-flat-wrap", lambda x: np.take(x, [1, 7, 20], mode="wrap"), U(3, 4)),
    case("take_along_axis", lambda x: np.take_along_axis(x, IDX, axis=1), U(3, 4)),
    case("sort", lambda x: np.sort(x), U(3, 5)),
    case("sort-axis0", lambda x: np.sort(x, axis=0), U(3, 5)),
    case("sort-flat", lambda x: np.sort(x, axis=None), U(3, 5)),
    case("pad", lambda x, c: np.pad(x, ((1, 0), (2, 1)), constant_values=c), U(3, 4), U()),
    case("pad-reflect", lambda x: np.pad(x, 2, mode="reflect"), U(3, 4)),
    case("pad-edge", lambda x: np.pad(x, ((0, 2), (1, 1)), mode="edge"), U(3, 4)),
    case("append", lambda x, y: np.append(x, y), U(2, 3), U(4)),
    case("append-axis", lambda x, y: np.append(x, y, axis=0), U(2, 3), U(1, 3)),
    case("append-inactive", lambda x: np.append(x, C3), U(2, 2)),
    case("diff", lambda x: np.diff(x, 2, axis=1), U(3, 5)),
    case("diff-prepend", lambda x, p: np.diff(x, prepend=p, append=C3[:, None]), U(3, 4),
         U(3, 1)),
    case("concatenate", lambda x, y: np.concatenate([x, y], axis=1), U(3, 2), U(3, 4)),
    case("concatenate-flat", lambda x, y: np.concatenate((x, y), axis=None), U(3, 2), U(5)),
    case("concatenate-inactive", lambda x: np.concatenate([C34, x, C34]), U(2, 4)),
    case("stack", lambda x, y: np.stack([x, y], axis=1), U(3, 4), U(3, 4)),
    case("stack-inactive", lambda x: np.stack([x, C34], axis=-1), U(3, 4)),
    case("vstack", lambda x, y: np.vstack([x, y]), U(4), U(2, 4)),
    case("hstack", lambda x, y: np.hstack([x, y]), U(3, 1), U(3, 2)),
    case("insert", lambda x, v: np.insert(x, [0, 2], v[:, None], axis=1), U(3, 4), U(3)),
    case("insert-flat", lambda x, v: np.insert(x, 1, v), U(2, 2), U()),
    case("delete", lambda x: np.delete(x, [1], axis=0) + np.delete(x, 0, axis=1).sum(), U(3, 2)),
    case("diagflat", lambda x: np.diagflat(x, -1), U(2, 2)),
    case("block", lambda x, y: np.block([[x, y], [y.T, np.eye(2)]]), U(2, 2), U(2, 2)),
    case("block-flat", lambda x, y: np.block([x, y, 1.0]), U(3), U()),
    case("dstack", lambda x, y: np.dstack([x, y]), U(3, 2), U(3, 2)),
    case("column_stack", lambda x, y: np.column_stack([x, y]), U(4), U(4, 2)),
    # -- construction
    case("full", lambda c: np.full((2, 3), c), U()),
    case("full-array", lambda c: np.full((2, 3), c), U(3)),
    case("full_like", lambda c: np.full_like(C34, c), U()),
    case("linspace", lambda a, b: np.linspace(a, b, 5), U(), U()),
    case("linspace-broadcast", lambda a: np.linspace(a, C3, 4, endpoint=False, axis=1), U()),
    case("convolve", lambda a, v: np.convolve(a, v), U(5), U(3)),
    case("convolve-same", lambda a, v: np.convolve(a, v, mode="same"), U(3), U(5)),
    case("correlate", lambda a, v: np.correlate(a, v), U(5), U(3)),
    case("correlate-full", lambda a, v: np.correlate(a, v, "full"), U(3), U(5)),
    case("float64", lambda x: np.float64(x * x), U(2, 3)),
    case("float64-scalar", lambda x: np.float64(x) * np.sin(np.float64(x)), U()),
    case("float32", lambda x: np.float32(x), U(2, 3), fd=False),    # rounding: no differences
    case("select", lambda x, y, e: np.select([x < 0, C34 < 0], [x, y], e), U(3, 4), U(3, 1),
         U(4)),
    case("gradient", lambda u: np.gradient(u), U(6)),
    case("gradient-spacing", lambda u, h: np.gradient(u, h, axis=1, edge_order=2), U(3, 5), P()),
    case("gradient-2d", lambda u, h: np.gradient(u, h, 0.5)[0] * np.gradient(u)[1], U(3, 4),
         P()),
    case("split", lambda x: np.split(x, [1, 3], axis=1)[2] * np.split(x, 5, axis=1)[0], U(2, 5)),
    case("array_split", lambda x: np.array_split(x, 3)[2], U(8)),
    case("cov", lambda m, y: np.cov(m, y, rowvar=False), U(5, 2), U(5)),
    case("corrcoef", lambda m, y: np.corrcoef(m, y, rowvar=False), U(5, 2), U(5)),
    case("corrcoef-pair", lambda x, y: np.corrcoef(x, y)[0, 1], U(6), U(6)),
    case("median", lambda x: np.median(x, axis=1, keepdims=True), U(3, 4)),
    case("quantile-percentile", lambda x: np.quantile(x, [0.2, 0.7], axis=0)
         * np.percentile(x, 30.0, axis=0), U(5, 3)),
    case("sum-mean-where", lambda x: np.sum(x, axis=0, where=C34 > 0)
         * np.mean(x, axis=0, where=C34 < 0.5), U(3, 4)),
    case("polyval", lambda p, x: np.polyval(p, x), U(4), U(2, 3)),
    case("polyval-scalar", lambda p, x: np.polyval(p, x), U(3), U()),
    case("interp", lambda x, xp, fp: np.interp(x, xp, fp), XI, XP, U(5)),
    case("interp-ends", lambda x, fp, lo, hi: np.interp(x, XP, fp, lo, hi), XO, U(5), U(), U()),
    # -- linear algebra
    case("dot", lambda a, b: np.dot(a, b), U(2, 3), U(3, 4)),
    case("dot-nd", lambda a, b: np.dot(a, b), U(2, 3, 4), U(4)),
    case("matmul", lambda a, b: np.matmul(a, b), U(2, 3, 4), U(4, 2)),
    case("linalg.matmul", lambda a, b: np.linalg.matmul(a, b), U(3), U(2, 3, 4),
         needs="linalg.matmul"),
    case("vdot", lambda a, b: np.vdot(a, b), U(2, 3), U(3, 2)),
    case("outer", lambda a, b: np.outer(a, b), U(2, 2), U(3)),
    case("linalg.outer", lambda a, b: np.linalg.outer(a, b), U(4), U(3),
         needs="linalg.outer"),
    case("inner", lambda a, b: np.inner(a, b), U(2, 3), U(4, 3)),
    case("tensordot", lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])), U(3, 2, 4),
         U(2, 5, 3)),
    case("linalg.tensordot", lambda a, b: np.linalg.tensordot(a, b, axes=1), U(2, 3),
         U(3, 4), needs="linalg.tensordot"),
    case("vecdot", lambda a, b: np.vecdot(a, b), U(2, 3), U(3), needs="vecdot"),
    case("linalg.vecdot", lambda a, b: np.linalg.vecdot(a, b, axis=0), U(3, 2), U(3, 1),
         needs="linalg.vecdot"),
    case("einsum-1", lambda a: np.einsum("ii->i", a), U(3, 3)),
    case("einsum-2", lambda a, b: np.einsum("ij,jk->ik", a, b), U(2, 3), U(3, 4)),
    case("einsum-3-inactive", lambda a, b: np.einsum("...i,ij,j", a, C34, b), U(2, 3),
         U(4)),
    case("einsum-4", lambda a, b, c, e: np.einsum("i,ij,jk,k->", a, b, c, e), U(2),
         U(2, 3), U(3, 4), U(4)),
    case("kron", lambda a, b: np.kron(a, b), U(2, 3), U(3, 2)),
    case("cross", lambda a, b: np.cross(a, b), U(2, 3), U(3)),
    case("linalg.cross", lambda a, b: np.linalg.cross(a, b), U(2, 3), U(2, 3),
         needs="linalg.cross"),
    case("solve", lambda a, b: np.linalg.solve(a, b), wellcond(3, 3), U(3, 2)),
    case("solve-vector", lambda a, b: np.linalg.solve(a, b), wellcond(3, 3), U(3)),
    case("solve-batched", lambda a, b: np.linalg.solve(a, b), wellcond(2, 3, 3), U(3)),
    case("inv", lambda a: np.linalg.inv(a), wellcond(2, 3, 3)),
    case("det", lambda a: np.linalg.det(a), wellcond(3, 3)),
    case("det-batched", lambda a: np.linalg.det(a), wellcond(2, 3, 3)),
    case("slogdet", lambda a: np.linalg.slogdet(a)[1], wellcond(3, 3)),
    case("slogdet-unpacked", slogdet_unpacked, -wellcond(3, 3)),
    case("cholesky", lambda a: np.linalg.cholesky(a), spd(3), sym=True),
    case("qr", lambda a: np.linalg.qr(a)[0] @ np.linalg.qr(a)[1][:, :2], U(4, 3)),
    case("pinv", lambda a: np.linalg.pinv(a), U(4, 3)),
    case("pinv-wide", lambda a: np.linalg.pinv(a), U(2, 4)),
    case("svd-values", lambda a: np.linalg.svd(a, compute_uv=False), U(4, 3)),
    case("lstsq", lambda a, b: np.linalg.lstsq(a, b)[0] * np.linalg.lstsq(a, b)[1], U(5, 3),
         U(5)),
    case("eigh-values", lambda a: np.linalg.eigh(a)[0], spd(3), sym=True),
    case("eigh-projector", lambda a: eigh_projector(a), spd(3), sym=True),
    case("eigvalsh", lambda a: np.linalg.eigvalsh(a), spd(3), sym=True),
    case("matrix_power", lambda a: np.linalg.matrix_power(a, 3), U(3, 3)),
    case("matrix_power-negative", lambda a: np.linalg.matrix_power(a, -2), wellcond(3, 3)),
    case("matrix_power-zero", lambda a: np.linalg.matrix_power(a, 0), U(3, 3)),
    case("multi_dot", lambda a, b, c: np.linalg.multi_dot([a, b, c]), U(2, 3), U(3, 4), U(4, 2)),
    case("vander", lambda x: np.vander(x, 4) + np.vander(x, increasing=True)[:, :1], U(3)),
    case("meshgrid", lambda x, y: np.meshgrid(x, y)[0] * np.meshgrid(x, y, indexing="ij")[1].T,
         U(3), U(2)),
    case("meshgrid-3", lambda x, y: np.meshgrid(x, y, x, sparse=True)[2] * np.meshgrid(y)[0].sum(),
         U(3), U(2)),
    case("multi_dot-vectors", lambda v, a: np.linalg.multi_dot([v, a, a.T, v]), U(3), U(3, 3)),
    case("multi_dot-inactive", lambda a: np.linalg.multi_dot([C34.T, a, C3]), U(3, 3)),
    case("norm", lambda x: np.linalg.norm(x), U(3, 4)),
    case("norm-1", lambda x: np.linalg.norm(x, 1), Z(5)),
    case("norm-inf-axis", lambda x: np.linalg.norm(x, np.inf, axis=1, keepdims=True),
         U(2, 3, 4)),
    case("norm-p", lambda x: np.linalg.norm(x, 3, axis=0), Z(3, 4)),
    case("norm-0.5", lambda x: np.linalg.norm(x, 0.5), Z(4)),
    case("norm-fro", lambda x: np.linalg.norm(x, "fro", axis=(0, 2)), U(2, 3, 4)),
    case("norm-nuc", lambda x: np.linalg.norm(x, "nuc"), U(3, 4)),
    case("norm-2", lambda x: np.linalg.norm(x, 2), U(3, 4)),
    case("norm--2", lambda x: np.linalg.norm(x, -2, axis=(2, 1)), U(2, 3, 4)),
    case("norm-matrix-1", lambda x: np.linalg.norm(x, 1), U(3, 4)),
    case("norm-matrix-inf", lambda x: np.linalg.norm(x, -np.inf), U(3, 4)),
    case("vector_norm", lambda x: np.linalg.vector_norm(x, axis=1, ord=3), Z(3, 4),
         needs="linalg.vector_norm"),
    case("matrix_norm", lambda x: np.linalg.matrix_norm(x, ord="nuc"), U(2, 3, 4),
         needs="linalg.matrix_norm"),
    case("linalg.trace", lambda x: np.linalg.trace(x, offset=1), U(2, 3, 4),
         needs="linalg.trace"),
    case("linalg.diagonal", lambda x: np.linalg.diagonal(x), U(2, 3, 4),
         needs="linalg.diagonal"),
    # -- array methods and attributes
    case("m.sum", lambda x: x.sum(axis=1), U(3, 4)),
    case("m.mean", lambda x: x.mean(), U(3, 4)),
    case("m.prod", lambda x: x.prod(axis=0), P(3, 4)),
    case("m.max", lambda x: x.max(axis=1), U(3, 4)),
    case("m.min", lambda x: x.min(), U(3, 4)),
    case("m.var", lambda x: x.var(ddof=1), U(3, 4)),
    case("m.std", lambda x: x.std(axis=0), U(3, 4)),
    case("m.cumsum", lambda x: x.cumsum(axis=1), U(3, 4)),
    case("m.cumprod", lambda x: x.cumprod(), P(3, 4)),
    case("m.trace", lambda x: x.trace(), U(3, 4)),
    case("m.reshape", lambda x: x.reshape(4, 3), U(3, 4)),
    case("m.reshape-tuple", lambda x: x.reshape((2, -1)), U(3, 4)),
    case("m.transpose", lambda x: x.transpose(), U(3, 4)),
    case("m.transpose-axes", lambda x: x.transpose(1, 2, 0), U(2, 3, 4)),
    case("m.transpose-tuple", lambda x: x.transpose((2, 0, 1)), U(2, 3, 4)),
    case("m.ravel", lambda x: x.ravel(), U(3, 4)),
    case("m.flatten", lambda x: x.flatten(), U(3, 4)),
    case("m.squeeze", lambda x: x.squeeze(), U(3, 1)),
    case("m.swapaxes", lambda x: x.swapaxes(0, 1), U(3, 4)),
    case("m.repeat", lambda x: x.repeat(2, axis=1), U(3, 4)),
    case("m.diagonal", lambda x: x.diagonal(), U(3, 4)),
    case("m.take", lambda x: x.take([3, 0]), U(3, 4)),
    case("m.copy", lambda x: x.copy(), U(3, 4)),
    case("m.astype", lambda x: x.astype(np.float32), U(3, 4), fd=False),
    case("m.astype-int", lambda x: x.astype(int) * x, U(3, 4, lo=1.1, hi=3.9), fd=False),
    case("m.item", lambda x: x.item(), U(1, 1)),
    case("m.item-index", lambda x: x.item(1, 2) * x, U(3, 4)),
    case("m.clip", lambda x: x.clip(-0.5, 0.5), U(3, 4)),
    case("m.conj", lambda x: x.conj(), U(3, 4)),
    case("m.conjugate", lambda x: x.conjugate(), U(3, 4)),
    case("m.dot", lambda x, y: x.dot(y), U(3, 4), U(4, 2)),
    case("m.T", lambda x: x.T, U(3, 4)),
    case("m.real", lambda x: x.real, U(3, 4)),
    case("m.imag", lambda x: x.imag, U(3, 4)),
    case("m.mT", lambda x: x.mT, U(2, 3, 4), needs="matrix_transpose"),
]


def _direction(rng, x, sym=False):
    if np.ndim(x) == 0:
        return float(rng.standard_normal())
    v = rng.standard_normal(np.shape(x))
    return 0.5 * (v + np.swapaxes(v, -1, -2)) if sym else v


def _dot(a, b):
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


def _moved(args, dirs, h):
    return [a + h * v for a, v in zip(args, dirs)]


@pytest.mark.parametrize("fn, args, fd, sym", CASES)
def test_jvp(request, fn, args, fd, sym):
    rng = np.random.default_rng(zlib.crc32(request.node.callspec.id.encode()))
    wrt = tuple(range(len(args)))
    dirs = [_direction(rng, a, sym) for a in args]
    want = fn(*args)
    value, t = s2sad.jvp(fn, wrt)(*args, *dirs)
    np.testing.assert_allclose(value, want, rtol=1e-12, atol=0)
    assert np.shape(t) == np.shape(want), f"tangent shape {np.shape(t)} != {np.shape(want)}"
    assert np.isrealobj(t) and np.all(np.isfinite(t))
    # the dot-product test: jvp of np.sum(fn(x) * C) against its gradient
    c = W(want)
    _, pullback = s2sad.vjp(fn, wrt)(*args)
    grads = pullback(c)
    assert _dot(t, c) == pytest.approx(sum(_dot(g, v) for g, v in zip(grads, dirs)),
                                       rel=1e-9, abs=1e-10)
    if fd:
        h = 1e-6
        with np.errstate(invalid="ignore"):
            diff = (np.asarray(fn(*_moved(args, dirs, h)), dtype=float)
                    - np.asarray(fn(*_moved(args, dirs, -h)), dtype=float)) / (2 * h)
        np.testing.assert_allclose(t, diff, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------
# Semantics at kinks and with inactive operands (the conventions of the adjoints)


def test_max_ties_average_the_tangents_like_the_adjoint_splits():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0], [5.0, 5.0, 5.0]])
    v = np.array([[1.0, 2.0, 4.0], [8.0, 16.0, 32.0], [1.0, 2.0, 6.0]])
    _, t = s2sad.jvp(lambda x: np.max(x, axis=1), 0)(x, v)
    np.testing.assert_allclose(t, [3.0, 20.0, 3.0])
    _, t = s2sad.jvp(lambda x: np.ptp(x, axis=1), 0)(x, v)
    np.testing.assert_allclose(t, [3.0 - 1.0, 20.0 - 16.0, 0.0])
    _, t = s2sad.jvp(lambda x, y: np.maximum(x, y), (0, 1))(2.0, 2.0, 1.0, 3.0)
    assert t == 2.0
    f = lambda x: np.sum(np.max(x, axis=1) * np.array([1.0, 2.0, 3.0]))
    g = s2sad.grad(f)(x)
    assert s2sad.jvp(f, 0)(x, v)[1] == pytest.approx(_dot(g, v))


def test_where_drops_the_tangent_of_the_untaken_branch_even_if_infinite():
    f = lambda x: np.where(x > 0, np.sqrt(x), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        _, t = s2sad.jvp(f, 0)(np.array([0.0, 4.0]), np.array([1.0, 1.0]))
    np.testing.assert_array_equal(t, [0.0, 0.25])


def test_clip_convention_bounds_included_and_crossed_bounds():
    f = lambda x, lo, hi: np.clip(x, lo, hi)
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    _, t = s2sad.jvp(f, (0, 1, 2))(x, 0.0, 1.0, np.ones(5), 10.0, 100.0)
    np.testing.assert_array_equal(t, [10.0, 1.0, 1.0, 1.0, 100.0])
    _, t = s2sad.jvp(f, (0, 1, 2))(x, 1.0, 0.0, np.ones(5), 10.0, 100.0)   # crossed: hi
    np.testing.assert_array_equal(t, [100.0] * 5)


def test_prod_with_zeros_is_exact():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]])
    v = np.arange(1.0, 7.0).reshape(2, 3)
    _, t = s2sad.jvp(lambda x: np.prod(x, axis=1), 0)(x, v)
    np.testing.assert_allclose(t, [2.0 * 3.0 * 2.0, 0.0])
    _, t = s2sad.jvp(lambda x: np.prod(x), 0)(np.array([2.0, 0.0, 3.0]), np.ones(3))
    assert t == 6.0


def test_cumprod_with_zeros_is_exact():
    """The tangent divided by x, and so the hessian of np.prod through its adjoint (the
    exclusive cumulative products): nan where x had zeros."""
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]])
    v = np.arange(1.0, 7.0).reshape(2, 3)
    for axis in (None, 0, 1):
        _, t = s2sad.jvp(lambda x, axis: np.cumprod(x, axis), 0)(x, axis, v)
        h = 1e-6
        np.testing.assert_allclose(t, (np.cumprod(x + h * v, axis) - np.cumprod(x - h * v, axis))
                                   / (2 * h), atol=1e-8)
    hess = s2sad.hessian(lambda x: np.prod(x) + np.sum(np.prod(x, axis=0) ** 2))(x[0])
    np.testing.assert_allclose(hess, [[0.0, 3.0, 0.0], [3.0, 72.0, 2.0], [0.0, 2.0, 0.0]])


def test_sort_ties_follow_the_stable_order():
    x = np.array([2.0, 1.0, 2.0, 1.0])
    _, t = s2sad.jvp(lambda x: np.sort(x), 0)(x, np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(t, [2.0, 4.0, 1.0, 3.0])


def test_nan_reductions_ignore_tangents_at_nans():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, 0.5, 2.0]])
    v = np.full((2, 3), 2.0)
    v[0, 1] = v[1, 0] = np.inf
    nansum = lambda x: np.nansum(x, axis=1)
    nanmean = lambda x: np.nanmean(x, axis=1)
    nanmax = lambda x: np.nanmax(x, axis=1)
    for fn, want in [(nansum, [4.0, 4.0]), (nanmean, [2.0, 2.0]), (nanmax, [2.0, 2.0])]:
        _, t = s2sad.jvp(fn, 0)(x, v)
        np.testing.assert_array_equal(t, want)


def test_astype_int_has_zero_tangent_and_float32_keeps_float64_precision():
    x = np.array([1.5, 2.5])
    _, t = s2sad.jvp(lambda x: x.astype(int), 0)(x, np.ones(2))
    np.testing.assert_array_equal(t, [0.0, 0.0])
    _, t = s2sad.jvp(lambda x: x.astype(np.float32), 0)(x, np.array([1e-12, 1.0]))
    assert t.dtype == np.float64 and t[0] == 1e-12


def test_slogdet_sign_has_zero_tangent():
    a = wellcond(3, 3)
    v = U(3, 3)
    _, t = s2sad.jvp(lambda a: np.linalg.slogdet(a)[0], 0)(a, v)
    assert t == 0.0
    _, t = s2sad.jvp(lambda a: np.linalg.slogdet(a)[1], 0)(a, v)
    assert t == pytest.approx(np.trace(np.linalg.solve(a, v)))


def test_cholesky_takes_the_symmetric_part_of_the_tangent():
    a = spd(3)
    v = U(3, 3)
    f = lambda a: np.linalg.cholesky(a)
    t1 = s2sad.jvp(f, 0)(a, v)[1]
    t2 = s2sad.jvp(f, 0)(a, 0.5 * (v + v.T))[1]
    np.testing.assert_allclose(t1, t2)
    np.testing.assert_allclose(np.tril(t1), t1)


def test_inactive_elements_of_sequences_are_zeros_of_their_shape():
    x = U(3)
    _, t = s2sad.jvp(lambda x: np.concatenate([C3, x, C3[:2]]), 0)(x, np.ones(3))
    np.testing.assert_array_equal(t, [0, 0, 0, 1, 1, 1, 0, 0])
    _, t = s2sad.jvp(lambda x: np.array([C3, x]), 0)(x, np.ones(3))
    np.testing.assert_array_equal(t, [[0, 0, 0], [1, 1, 1]])
    _, t = s2sad.jvp(lambda x: np.append(C3, x), 0)(1.0, 2.0)
    np.testing.assert_array_equal(t, [0, 0, 0, 2.0])
    _, t = s2sad.jvp(lambda c: np.pad(C3, 1, constant_values=c), 0)(1.0, 2.0)
    np.testing.assert_array_equal(t, [2.0, 0, 0, 0, 2.0])
    _, t = s2sad.jvp(lambda a: np.linspace(a, C3, 3), 0)(1.0, 2.0)
    np.testing.assert_array_equal(t, np.outer([2.0, 1.0, 0.0], np.ones(3)))


def test_forward_source_uses_the_declared_rules():
    src = s2sad.source(lambda x: np.sum(np.reshape(x, (6,)) * np.linspace(0, 1, 6)), 0,
                       mode="forward", args=(U(2, 3),))
    assert "np.reshape(dx, " in src          # multilinear: the same call on the tangent
    src = s2sad.source(lambda x: np.prod(x, axis=0), 0, mode="forward", args=(U(2, 3),))
    assert "prod_tangent(dx, " in src        # a tangent template


# ---------------------------------------------------------------------------------
# Hessians: forward over reverse through every family (and so through the helpers
# the adjoint templates call)

HESSIANS = [
    # elementwise
    case("exp-sin", lambda x: np.sum(np.exp(x) * np.sin(x)), U(2, 3)),
    case("log-tanh", lambda x: np.sum(np.log(x) * np.tanh(x)), P(3)),
    case("abs-sinc", lambda x: np.sum(np.abs(x) ** 3 + np.sinc(x)), Z(4)),
    case("power", lambda x, y: np.sum(np.power(x, y)), P(3, 1), U(1, 2)),
    case("maximum", lambda x, y: np.sum(np.maximum(x * x, y) ** 2), U(3, 1), U(1, 2)),
    case("hypot-arctan2", lambda x, y: np.sum(np.hypot(x, y) * np.arctan2(x, y)), P(3),
         P(3)),
    case("logaddexp", lambda x, y: np.sum(np.logaddexp(x, y) ** 2), U(3, 1), U(2)),
    case("where", lambda x: np.sum(np.where(x > 0, x ** 3, np.sin(x))), U(5)),
    case("clip", lambda x, lo: np.sum(np.clip(x, lo, 0.5) ** 3), U(4), U(lo=-0.6, hi=-0.2)),
    case("nan_to_num", lambda x: np.sum(np.nan_to_num(x) ** 3), U(4)),
    case("real-conj", lambda x: np.sum(np.real(x) * np.conj(x) * np.imag(x + 1.0)), U(3)),
    # reductions
    case("mean-sum", lambda x: np.sin(np.mean(x)) + np.sum(np.sum(x, axis=0) ** 3), U(2, 3)),
    case("prod", lambda x: np.sum(np.sin(np.prod(x, axis=1))), P(2, 3)),
    case("max", lambda x: np.sum(np.max(x, axis=0) ** 3), U(3, 2)),
    case("min-ptp", lambda x: np.min(x) ** 2 * np.ptp(x), U(2, 3)),
    case("nanmax", lambda x: np.sum(np.nanmax(x, axis=1) ** 3), with_nans(2, 4)),
    case("var-std", lambda x: np.var(x, axis=1) @ np.std(x, axis=1, ddof=1), U(2, 3)),
    case("cumsum-cumprod", lambda x: np.sum(np.sin(np.cumsum(x, 1)) * np.cumprod(x, 0)),
         P(2, 3)),
    case("nansum-nanmean", lambda x: np.nansum(x ** 3) * np.nanmean(x), with_nans(2, 4)),
    case("average", lambda x, w: np.average(x, 1, w) @ np.average(x ** 2, 1), U(2, 3),
         P(3)),
    case("trace", lambda x: np.trace(x) ** 3, U(3, 3)),
    case("trapezoid", lambda y, x: np.sin(np.trapezoid(y * y, x)), U(4), np.cumsum(P(4)),
         needs="trapezoid"),
    case("trapezoid-dx", lambda y, dx: np.trapezoid(y, dx=dx) ** 2, U(4), P(),
         needs="trapezoid"),
    # shapes, copies and indexing
    case("reshape-ravel", lambda x: np.sum(np.sin(np.ravel(np.reshape(x, (3, 2)), "F"))),
         U(2, 3)),
    case("transpose-moveaxis", lambda x: np.sum(np.sin(np.moveaxis(x.T, 0, 1)) * C34[:3, :2]),
         U(3, 2)),
    case("swapaxes-rollaxis", lambda x: np.sum(np.sin(np.rollaxis(np.swapaxes(x, 0, 1), 1))),
         U(2, 3)),
    case("squeeze-expand", lambda x: np.sum(np.sin(np.squeeze(np.expand_dims(x, 0)))),
         U(2, 3)),
    case("atleast-copy", lambda x: np.sum(np.sin(np.atleast_2d(np.copy(x)))), U(3)),
    case("asarray-array", lambda x: np.sum(np.sin(np.asarray(x)) * np.array([x, x * x])),
         U(3)),
    case("broadcast_to", lambda x: np.sum(np.sin(np.broadcast_to(x, (2, 3))) * C34[:2, :3]),
         U(3)),
    case("repeat-tile", lambda x: np.sum(np.sin(np.repeat(x, 2, axis=0)) * np.tile(x, (2, 1))),
         U(2, 2)),
    case("flip-rot90-roll", lambda x: np.sum(np.sin(np.roll(np.rot90(np.flip(x, 0)), 1))),
         U(2, 3)),
    case("diag", lambda x: np.sum(np.sin(np.diag(np.diag(x * x)))), U(3, 3)),
    case("diagonal-triu", lambda x: np.sum(np.sin(np.diagonal(x))) + np.sum(np.triu(x) ** 3),
         U(3, 3)),
    case("take", lambda x: np.sum(np.sin(np.take(x, [0, 2, 2], axis=1))), U(2, 3)),
    case("take_along_axis", lambda x: np.sum(np.take_along_axis(x, IDX, 1) ** 3 * C34),
         U(3, 4)),
    case("sort", lambda x: np.sum(np.sort(x) ** 3 * C3), U(3)),
    case("pad", lambda x, c: np.sum(np.pad(x, 1, constant_values=c) ** 3), U(2, 2), U()),
    case("pad-reflect", lambda x: np.sum(np.sin(np.pad(x, 1, mode="reflect"))), U(3)),
    case("append-diff", lambda x, y: np.sum(np.sin(np.diff(np.append(x, y), prepend=y))),
         U(3), U()),
    case("concatenate-stack", lambda x, y: np.sum(np.sin(np.concatenate([x, y]))
                                                  * np.stack([y, x]).ravel()), U(3), U(3)),
    case("vstack-hstack", lambda x, y: np.sum(np.sin(np.vstack([x, y])).ravel() * np.hstack([y, x])),
         U(3), U(3)),
    case("dstack-column_stack", lambda x: np.sum(np.sin(np.dstack([x, x])))
         + np.sum(np.column_stack([x, x]) ** 3), U(3)),
    case("full-linspace", lambda a, b: np.sum(np.sin(np.full((3,), a)) * np.linspace(a, b, 3)),
         U(), U()),
    case("full_like", lambda a: np.sum(np.sin(np.full_like(C3, a * a))), U()),
    case("convolve-correlate", lambda a, v: np.sum(np.convolve(a, v) ** 2)
         + np.sum(np.correlate(a, v, "same") ** 3), U(4), U(2)),
    case("select", lambda x: np.sum(np.select([x < 0, x < 0.5], [x ** 3, np.sin(x)], x * x)
                                    ** 2), U(6)),
    case("gradient", lambda u, h: np.sum(np.sin(np.gradient(u, h)[1]) * u), U(3, 4), P()),
    case("split", lambda x: np.sum(np.split(x, 3)[0] ** 2 * np.array_split(x, 3)[2]), U(6)),
    case("cov", lambda m: np.sum(np.cov(m) ** 2 * C34[:, :3]), U(3, 5)),
    case("corrcoef", lambda m: np.sum(np.corrcoef(m) ** 3 * C34[:, :3]), U(3, 5)),
    case("median-quantile", lambda x: np.sum(np.median(x, axis=0) ** 3)
         + np.sum(np.quantile(x, [0.3, 0.6]) * np.percentile(x, 50.0)), U(4, 3)),
    case("sum-mean-where", lambda x: np.sum(np.sum(x ** 2, axis=1, where=C34 > 0) ** 2)
         + np.mean(x ** 3, where=C34 < 0.5), U(3, 4)),
    case("polyval", lambda p, x: np.sum(np.polyval(p, x) ** 2), U(4), U(3)),
    case("interp", lambda x, xp, fp: np.sum(np.interp(x, xp, fp) ** 3), XI, XP, U(5)),
    case("interp-ends", lambda x, fp, lo: np.sum(np.interp(x, XP, fp, lo) ** 3 * x), XO, U(5),
         U()),
    case("astype-item", lambda x: np.sum(x.astype(float) ** 3) * x.item(1), U(3)),
    case("methods", lambda x: x.reshape(3, 2).T.sum(axis=0) @ x.transpose().ravel()[:3],
         U(2, 3)),
    # linear algebra
    case("dot-matmul", lambda a, b: np.sum(np.sin(np.dot(a, b)) * (a @ b)), U(2, 3), U(3, 2)),
    case("vdot-outer-inner", lambda a, b: np.vdot(a, b) * np.sum(np.outer(a, b) ** 2)
         + np.sum(np.inner(a, b) ** 3), U(3), U(3)),
    case("tensordot-kron", lambda a, b: np.sum(np.tensordot(a, b, 1) ** 2)
         + np.sum(np.kron(a, b) ** 3), U(2, 2), U(2, 3)),
    case("vecdot-cross", lambda a, b: np.sum(np.vecdot(a, b) ** 2)
         + np.sum(np.cross(a, b) ** 3), U(2, 3), U(3), needs="vecdot"),
    case("einsum", lambda a, b: np.sum(np.einsum("ij,jk,k->i", a, b, np.sin(b[0])) ** 2)
         + np.einsum("ii", a[:, :2]) ** 3, U(2, 3), U(3, 3)),
    case("solve", lambda a, b: np.sum(np.linalg.solve(a, b) ** 2), wellcond(3, 3), U(3)),
    case("inv-det", lambda a: np.sum(np.linalg.inv(a) ** 2) * np.linalg.det(a),
         wellcond(3, 3)),
    case("slogdet", lambda a: np.linalg.slogdet(a)[1] ** 2, wellcond(3, 3)),
    case("qr", lambda a: np.sum(np.sin(np.linalg.qr(a)[0])) + np.sum(np.linalg.qr(a)[1] ** 3),
         U(4, 3)),
    case("pinv-lstsq", lambda a, b: np.sum(np.linalg.pinv(a) ** 3)
         + np.sum(np.linalg.lstsq(a, b)[0] ** 2), U(5, 3), U(5)),
    case("eigh", lambda a: np.sum(np.sin(eigh_projector(a + a.T)))
         + np.sum(np.linalg.eigvalsh(a + a.T) ** 3) + np.linalg.eigh(a @ a.T)[0][0] ** 2,
         U(3, 3)),
    case("cholesky", lambda a: np.sum(np.sin(np.linalg.cholesky(a + a.T))), spd(3) / 2,
         sym=True),
    case("matrix_power", lambda a: np.sum(np.sin(np.linalg.matrix_power(a, 3))), U(3, 3)),
    case("meshgrid", lambda x, y: np.sum(np.sin(np.meshgrid(x, y)[0]) * np.meshgrid(x, y)[1] ** 2),
         U(3), U(2)),
    case("vander", lambda x: np.sum(np.sin(np.vander(x, 4))) + np.sum(np.vander(x, 3, True) ** 2),
         U(3)),
    case("multi_dot", lambda a, b: np.sum(np.sin(np.linalg.multi_dot([a, b, a.T]))), U(2, 3),
         U(3, 3)),
    case("matrix_power-negative", lambda a: np.sum(np.linalg.matrix_power(a, -2) ** 2),
         wellcond(3, 3)),
    case("norm-2", lambda x: np.linalg.norm(x) ** 3, U(2, 3)),
    case("norm-1-inf", lambda x: np.linalg.norm(x, 1) * np.linalg.norm(x, np.inf), Z(4)),
    case("norm-p-axis", lambda x: np.sum(np.linalg.norm(x, 3, axis=1) ** 2), Z(2, 3)),
    case("norm-fro", lambda x: np.linalg.norm(x, "fro") * np.sum(x), U(2, 3)),
    case("norm-nuc", lambda x: np.linalg.norm(x, "nuc") ** 2, U(2, 3)),
    case("norm-2-matrix", lambda x: np.sin(np.linalg.norm(x, 2)), U(3, 2)),
    case("norm--2-batched", lambda x: np.sum(np.linalg.norm(x, -2, axis=(1, 2)) ** 2),
         U(2, 2, 3)),
    case("norm-matrix-1", lambda x: np.linalg.norm(x, 1) * np.sum(x * x), U(2, 3)),
    case("vector_norm-matrix_norm", lambda x: np.sum(np.linalg.vector_norm(x, axis=0) ** 3)
         + np.linalg.matrix_norm(x) ** 3, U(2, 3), needs="linalg.matrix_norm"),
    case("linalg-trace-diagonal", lambda x: np.linalg.trace(x) ** 3
         + np.sum(np.linalg.diagonal(x) ** 3), U(3, 3), needs="linalg.diagonal"),
]


@pytest.mark.parametrize("fn, args, fd, sym", HESSIANS)
def test_hessian_vector_product(request, fn, args, fd, sym):
    """``jvp(grad(f))(x, v)`` against central differences of ``grad(f)`` along ``v``."""
    rng = np.random.default_rng(zlib.crc32(request.node.callspec.id.encode()))
    wrt = tuple(range(len(args)))
    dirs = [_direction(rng, a, sym) for a in args]
    g = GradFunction(fn, wrt, "grad")
    grads, hv = JVPFunction(g, wrt)(*args, *dirs)
    for got, want in zip(grads, s2sad.grad(fn, wrt=wrt)(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    h = 1e-5
    plus, minus = g(*_moved(args, dirs, h)), g(*_moved(args, dirs, -h))
    for k, (t, p, m) in enumerate(zip(hv, plus, minus)):
        assert np.shape(t) == np.shape(args[k])
        np.testing.assert_allclose(t, (np.asarray(p) - np.asarray(m)) / (2 * h),
                                   rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("fn, x", [
    (lambda x: np.sum(np.tanh(x) * np.cumsum(x)), U(4)),
    (lambda x: np.max(np.abs(x), axis=0) @ np.sort(x, axis=0)[0], U(3, 2)),
    (lambda x: np.sum(np.sin(np.concatenate([x, x[::-1]])) * np.arange(6.0)), U(3)),
    (lambda x: np.linalg.det(x) + np.linalg.norm(x, "nuc"), wellcond(2, 2)),
], ids=["elementwise", "reductions", "shapes", "linalg"])
def test_hessian_matrix_is_symmetric_and_matches_finite_differences(fn, x):
    hess = s2sad.hessian(fn)(x)
    n = x.size
    assert hess.shape == x.shape + x.shape
    flat = hess.reshape(n, n)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-8, atol=1e-10)
    grad = s2sad.grad(fn)
    h = 1e-5
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        e = e.reshape(x.shape)
        col = (grad(x + e) - grad(x - e)) / (2 * h)
        np.testing.assert_allclose(hess[(...,) + np.unravel_index(j, x.shape)], col,
                                   rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("fn, x", [
    (lambda x: np.sum(np.sort(x) ** 3 * C3), U(3)),
    (lambda x: np.sum(np.sin(np.pad(x, 1, mode="edge"))), U(3)),
    (lambda x: np.sum(np.max(x, axis=1) ** 3) + np.sum(np.linalg.norm(x, 3, axis=1)), Z(3, 4)),
    (lambda x: np.sum(np.sin(np.stack([x, x * x]))), U(2, 3)),
], ids=["sort", "pad", "max-norm", "stack"])
def test_reverse_over_reverse_agrees_with_forward_over_reverse(fn, x):
    """The adjoints registered for the helpers (grad of grad): H v both ways."""
    v = U(*x.shape)
    g = GradFunction(fn, (0,), "grad")
    (_,), (hv,) = JVPFunction(g, (0,))(x, v)
    _, pullback = VJPFunction(g, (0,))(x)
    (back,) = pullback((v,))
    np.testing.assert_allclose(back, hv, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fn, x, what", [
    (lambda a: np.einsum("ij,jk->", a, a), U(2, 2), "np.einsum"),
    (lambda a: np.sum(np.linalg.matrix_power(a, 2)), U(2, 2), "np.linalg.matrix_power"),
], ids=["einsum", "matrix_power"])
def test_reverse_over_reverse_unsupported_helpers_say_so(fn, x, what):
    _, pullback = VJPFunction(GradFunction(fn, (0,), "grad"), (0,))(x)
    with pytest.raises(NotImplementedError, match=f"adjoint of {what} .*use s2sad.hessian"):
        pullback((np.ones_like(x),))


# ---------------------------------------------------------------------------------
# The helper rules: tangent (the same call on the tangent of g) against the adjoint
# (the transposed map), by the dot-product test. ``g`` is the only argument.

A234 = U(2, 3, 4)
A34 = U(3, 4)
A33 = wellcond(3, 3)
B34 = U(3, 4)
NAN34 = with_nans(3, 4)


def helper(name, fn, gshape):
    return pytest.param(fn, gshape, id=name)


HELPERS = [
    helper("sum_to", lambda g: H.sum_to(g, C3[:, None]), (3, 4)),
    helper("like", lambda g: H.like(g, A34), (12,)),
    helper("transpose_adjoint", lambda g: H.transpose_adjoint(g, (2, 0, 1)), (4, 2, 3)),
    helper("ravel_adjoint", lambda g: H.ravel_adjoint(g, A34, "F"), (12,)),
    helper("rollaxis_adjoint", lambda g: H.rollaxis_adjoint(g, 2, 0), (4, 2, 3)),
    helper("roll_adjoint", lambda g: H.roll_adjoint(g, (1, -1), (0, 1)), (3, 4)),
    helper("repeat_adjoint", lambda g: H.repeat_adjoint(g, A34, [1, 2, 0], 0), (3, 4)),
    helper("tile_adjoint", lambda g: H.tile_adjoint(g, A34, (2, 1, 2)), (2, 3, 8)),
    helper("diagonal_adjoint", lambda g: H.diagonal_adjoint(g, A234, 1, 0, 2), (3, 2)),
    helper("diag_adjoint", lambda g: H.diag_adjoint(g, C3, 1), (4, 4)),
    helper("trace_adjoint", lambda g: H.trace_adjoint(g, A234, 0, 1, 2), (2,)),
    helper("np_take_adjoint", lambda g: H.np_take_adjoint(g, A34, [0, 3, 3], 1, "raise"),
           (3, 3)),
    helper("take_along_axis_adjoint", lambda g: H.take_along_axis_adjoint(g, A34, IDX, 1),
           (3, 4)),
    helper("sort_adjoint", lambda g: H.sort_adjoint(g, A34, 0), (3, 4)),
    helper("pad_adjoint", lambda g: H.pad_adjoint(g, A34, 1, "symmetric"), (5, 6)),
    helper("pad_constant_adjoint", lambda g: H.pad_constant_adjoint(g, A34, 1, "constant"),
           (5, 6)),
    helper("append_adjoint", lambda g: H.append_adjoint(g, A34, C3, None, 1), (15,)),
    helper("diff_adjoint", lambda g: H.diff_adjoint(g, A34, 1, 1, C3[:, None], None, 1),
           (3, 4)),
    helper("concatenate_adjoint", lambda g: H.concatenate_adjoint(g, (A34, B34), 0), (6, 4)),
    helper("stack_adjoint", lambda g: H.stack_adjoint(g, [A34, B34], 1), (3, 2, 4)),
    helper("vstack_adjoint", lambda g: H.vstack_adjoint(g, [C3, A34[:, :3]]), (4, 3)),
    helper("hstack_adjoint", lambda g: H.hstack_adjoint(g, [A34, B34]), (3, 8)),
    helper("diagflat_adjoint", lambda g: H.diagflat_adjoint(g, A34[:2], 1), (9, 9)),
    helper("insert_adjoint", lambda g: H.insert_adjoint(g, A34, [0, 2], C3[:, None], 1, 0),
           (3, 6)),
    helper("insert_adjoint-values", lambda g: H.insert_adjoint(g, A34, [0, 2], C3[:, None], 1,
                                                               1), (3, 6)),
    helper("delete_adjoint", lambda g: H.delete_adjoint(g, A34, [1, 2], 1), (3, 2)),
    helper("block_adjoint", lambda g: H.block_adjoint(g, [[A34, B34], [C3[None, :], 2.0, 3.0, C3]]),
           (4, 8)),
    helper("dstack_adjoint", lambda g: H.dstack_adjoint(g, [A34, B34]), (3, 4, 2)),
    helper("column_stack_adjoint", lambda g: H.column_stack_adjoint(g, [C3, A34]), (3, 5)),
    helper("array_adjoint", lambda g: H.array_adjoint(g, [C3, C3]), (2, 3)),
    helper("cumsum_adjoint", lambda g: H.cumsum_adjoint(g, A34, None), (12,)),
    helper("real_adjoint", lambda g: H.real_adjoint(g, A34), (3, 4)),
    helper("imag_adjoint", lambda g: H.imag_adjoint(g, A34), (3, 4)),
    helper("nansum_adjoint", lambda g: H.nansum_adjoint(g, NAN34, 1, False), (3,)),
    helper("nanmean_adjoint", lambda g: H.nanmean_adjoint(g, NAN34, 1, True), (3, 1)),
    helper("extremum_adjoint", lambda g: H.extremum_adjoint(
        g, np.max(A234, axis=(0, 2)), A234, (0, 2), False), (3,)),
    helper("ptp_adjoint", lambda g: H.ptp_adjoint(g, A34, 1, False), (3,)),
    helper("linspace_adjoint", lambda g: H.linspace_adjoint(g, C3, 1.0, 5, True, False, 1, 0),
           (3, 5)),
    helper("clip_adjoint", lambda g: H.clip_adjoint(g, A34, -0.3, C3[:, None], None, None),
           (3, 4)),
    helper("clip_bound_adjoint", lambda g: H.clip_bound_adjoint(
        g, A34, None, None, C3[:, None] - 0.5, 0.4, "min"), (3, 4)),
    helper("select_adjoint", lambda g: H.select_adjoint(
        g, [A34 < 0, B34 < 0], [A34, C3[:, None]], C3[:, None], 0), (3, 4)),
    helper("select_adjoint-default", lambda g: H.select_adjoint(
        g, [A34 < 0, B34 < 0], [A34, 1.0], C3[:, None], 1), (3, 4)),
    helper("gradient_adjoint", lambda g: H.gradient_adjoint(g, A34, (0.5,), 1, 2), (3, 4)),
    helper("gradient_adjoint-tuple", lambda g: H.gradient_adjoint(
        [g, 2.0 * g], A34, (XS3, 0.5), None, 1), (3, 4)),
    helper("split_adjoint", lambda g: H.split_adjoint([0.0, g, 2.0 * g], A34, 3, 1, True),
           (3, 1)),
    helper("mT", lambda g: H.mT(g), (2, 3, 4)),
    helper("transpose_method_adjoint", lambda g: methods.transpose_method_adjoint(
        g, (1, 2, 0)), (3, 4, 2)),
    helper("astype_adjoint", lambda g: methods.astype_adjoint(g, A34, np.float32), (3, 4)),
    helper("item_adjoint", lambda g: methods.item_adjoint(g, A34, (1, 2)), ()),
    helper("einsum_adjoint", lambda g: H.einsum_adjoint(g, "ij,jk->ik", (A34, B34.T), 1),
           (3, 3)),
    helper("matrix_power_adjoint", lambda g: H.matrix_power_adjoint(g, A33, -2), (2, 3, 3)),
    helper("_matrix_norm_adjoint", lambda g: H._matrix_norm_adjoint(g, A234, "nuc"),
           (2, 1, 1)),
    helper("_vector_norm_adjoint", lambda g: H._vector_norm_adjoint(
        g, np.broadcast_to(np.linalg.norm(A34, 3, axis=1, keepdims=True), (3, 4)), A34, 3,
        (1,)), (3, 4)),
]


def _flat(x):
    if isinstance(x, (list, tuple)):
        return np.concatenate([_flat(e) for e in x]) if len(x) else np.zeros(0)
    return np.ravel(np.asarray(x, dtype=float))


def _random_like(rng, x):
    if isinstance(x, (list, tuple)):
        return [_random_like(rng, e) for e in x]
    return _direction(rng, x)


@pytest.mark.parametrize("fn, gshape", HELPERS)
def test_helper_tangent_is_linear_and_its_adjoint_is_the_transpose(request, fn, gshape):
    rng = np.random.default_rng(zlib.crc32(request.node.callspec.id.encode()))
    g = _direction(rng, np.zeros(gshape))
    dg = _direction(rng, np.zeros(gshape))
    value, t = s2sad.jvp(fn, 0)(g, dg)
    np.testing.assert_allclose(_flat(value), _flat(fn(g)))
    np.testing.assert_allclose(_flat(t), _flat(fn(dg)), rtol=1e-12, atol=1e-14)
    out, pullback = s2sad.vjp(fn, 0)(g)
    h = _random_like(rng, out)
    back = pullback(h)
    assert np.shape(back) == np.shape(g)
    assert _dot(_flat(t), _flat(h)) == pytest.approx(_dot(back, dg), rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------------------------
# Guards


def _numpy_primitives():
    """NumPy functions and array-method primitives with an adjoint rule."""
    out = set()
    for prim in RULES:
        mod = getattr(prim, "__module__", None) or ""
        if mod.startswith("numpy") or isinstance(prim, np.ufunc) \
                or mod == "s2sad.rules.methods" and prim in set(METHODS.values()):
            out.add(prim)
    return out


def _used_in(fns):
    """Callables named in the sources of ``fns``: ``np.f``, ``np.linalg.f``, methods."""
    used, method_names = set(), set()
    for fn in fns:
        src = textwrap.dedent(inspect.getsource(fn)).strip().rstrip(",")
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, ast.Attribute):
                continue
            path, inner = [], node
            while isinstance(inner, ast.Attribute):
                path.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id == "np":
                obj = np
                for part in reversed(path):
                    obj = getattr(obj, part, None)
                used.add(obj)
            elif isinstance(node.value, ast.Name) and node.value.id != "np":
                method_names.add(node.attr)
                used.add(METHODS.get(node.attr, ATTRIBUTES.get(node.attr)))
    return used, method_names


def _case_functions(table):
    return [p.values[0] for p in table]


def test_every_numpy_rule_has_a_forward_mode_test():
    used, _ = _used_in(_case_functions(CASES))
    missing = _numpy_primitives() - used
    assert not missing, f"NumPy rules without a forward-mode test: {sorted(map(str, missing))}"
    assert len(_numpy_primitives()) >= 150


def test_every_method_with_a_rule_has_a_forward_mode_test():
    _, names = _used_in(_case_functions(CASES))
    for name, prim in list(METHODS.items()) + list(ATTRIBUTES.items()):
        if prim in RULES:
            assert name in names, f"method or attribute .{name} has no forward-mode test"


def test_every_numpy_rule_has_a_tangent_rule():
    """Without running anything: a template, a multilinear declaration, or a tangent
    derivable from the elementwise adjoint template."""
    for prim in _numpy_primitives():
        ok = prim in TANGENTS or prim in MULTILINEAR \
            or all(derived_terms(rule) is not None for rule in RULES[prim])
        assert ok, f"{prim} has no forward-mode rule"


def test_every_helper_rule_has_a_test():
    helpers = {p for p in RULES if (getattr(p, "__module__", None) or "")
               == "s2sad.rules.numpy_helpers" or p in (methods.transpose_method_adjoint,
                                                      methods.astype_adjoint,
                                                      methods.item_adjoint)}
    tested = {p.id for p in HELPERS}
    missing = sorted(p.__name__ for p in helpers if p.__name__ not in tested)
    assert not missing, f"helper rules without a test in HELPERS: {missing}"
    assert len(helpers) >= 40


def test_hessian_families_cover_the_nonlinear_helpers():
    """Each helper that is differentiated as user code (or has an explicit tangent) in a
    hessian is reached by some function of HESSIANS."""
    used, _ = _used_in(_case_functions(HESSIANS))
    for prim in (np.prod, np.max, np.nanmax, np.ptp, np.var, np.std, np.cumprod,
                 np.nanmean, np.average, np.trapezoid, np.clip, np.einsum, np.kron,
                 np.linalg.solve, np.linalg.det, np.linalg.slogdet, np.linalg.cholesky,
                 np.linalg.matrix_power, np.linalg.multi_dot, np.vander, np.meshgrid, np.linalg.norm, np.linalg.inv, np.sinc,
                 np.polyval, np.interp, np.select, np.gradient, np.cov, np.corrcoef,
                 np.linalg.eigh, np.linalg.eigvalsh, np.median, np.quantile, np.percentile):
        assert prim in used, prim


# ---------------------------------------------------------------------------------
# Regression tests of core bugs found while writing this file


def _inner(x):
    return np.sin(x)


def _outer(x):
    return np.sum(_inner(x))


def test_hessian_through_a_user_function_call():
    x = np.array([0.3, 0.7])
    np.testing.assert_allclose(s2sad.hessian(_outer)(x), np.diag(-np.sin(x)))


def _inner_cos(x):
    return np.cos(x)


def _outer_used(x):
    y = _inner_cos(x)
    return np.sum(np.sin(y))


def test_hessian_through_a_user_function_call_whose_result_is_used():
    x = np.array([0.3, 0.7])
    want = np.diag(-np.sin(np.cos(x)) * np.sin(x) ** 2 - np.cos(np.cos(x)) * np.cos(x))
    np.testing.assert_allclose(s2sad.hessian(_outer_used)(x), want)


def _branch_constant(x, c):
    if c > 0:
        y = x * 2.0
    else:
        y = np.ones(3)
    return y


def _branch_then_reshape(x, c):
    if c > 0:
        y = x * 2.0
    else:
        y = np.ones(4)
    return np.sum(np.reshape(y, (2, 2)) * np.reshape(x, (2, 2)))


def _branch_hessian(x, c):
    if c > 0:
        y = x * x
    else:
        y = x * 2.0
    return np.sum(np.linalg.norm(x, 1) * y)


def test_arrays_without_derivative_in_the_taken_branch_have_zero_array_tangents():
    """Once a core bug: the tangent was the scalar 0.0, which broke np.reshape's tangent
    and the shape of hessians."""
    _, t = s2sad.jvp(_branch_constant, 0)(np.ones(3), -1.0, np.ones(3))
    np.testing.assert_array_equal(t, np.zeros(3))
    assert s2sad.jvp(_branch_then_reshape, 0)(np.arange(4.0), -1.0, np.ones(4))[1] == 4.0
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(s2sad.hessian(_branch_hessian)(x, -1.0),
                               2.0 * (np.sign(x)[:, None] + np.sign(x)[None, :]))


def _reshape_then_branch(x, c):
    y = np.reshape(x, (2, 2))
    if c > 0:
        w = y * 2.0
    else:
        w = np.ones((2, 2))
    return np.sum(np.reshape(w, (4,)) * x)


def test_grad_through_reshape_of_an_array_used_in_an_untaken_branch():
    x = np.arange(4.0)
    np.testing.assert_allclose(s2sad.grad(_reshape_then_branch)(x, -1.0), np.ones(4))


def _outer_keyword(x, y):
    return np.outer(x, b=y)


def test_multilinear_with_an_active_keyword_argument():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0])
    _, t = s2sad.jvp(_outer_keyword, (0, 1))(x, y, np.zeros(3), np.ones(2))
    np.testing.assert_allclose(t, np.outer(x, np.ones(2)))


# The tangent of a broadcasting operation whose active operand is smaller than the
# result (a scalar plus a constant array, an (n, 1) column plus a constant row) is
# broadcast to the result's shape: it was the operand's tangent, so np.sum gave 1.0
# for 4.0 and indexing it raised a bare TypeError, in grad's default (forward) mode.

_C = np.array([0.3, -0.7, 1.1, 0.45])
_ROW = np.array([[0.2, -0.5, 0.9]])


def _plus_argument(b, c):
    return np.sum(c + b)


def _plus_global(b):
    return np.sum(_C + b)


def _plus_local(b):
    v = np.ones(4) + b
    return np.sum(np.mod(v, 0.7))


def _indexed(b):
    v = _C + b
    return v[1] * v[2]


def _reshaped(b):
    v = (_C + b).reshape(2, 2)
    return np.sum(v[0] * v[1])


def _matmul(b):
    return (_C + b) @ _C


def _iterated(b):
    s = 0.0
    for e in _C + b:
        s = s + e * e
    return s


def _sorted(b):
    return np.sum(np.sort(_C * 2.0 + b) * np.arange(4))


def _column_plus_row(b):
    col = np.array([[1.0], [2.0]]) * b
    return np.sum((col + _ROW) ** 2)


@pytest.mark.parametrize("f, args", [
    (_plus_argument, (0.35, _C)), (_plus_global, (0.35,)), (_plus_local, (0.35,)),
    (_indexed, (0.35,)), (_reshaped, (0.35,)), (_matmul, (0.35,)), (_iterated, (0.35,)),
    (_sorted, (0.35,)), (_column_plus_row, (0.35,)),
], ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_tangent_of_a_scalar_broadcast_against_a_constant_array(f, args, mode):
    h = 1e-6
    b = args[0]
    fd = (f(b + h, *args[1:]) - f(b - h, *args[1:])) / (2 * h)
    got = s2sad.grad(f, mode=mode)(*args)
    assert got == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert np.ndim(got) == 0


def _svd_vectors(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.sum(u[:, 0] ** 2 * s[0]) + np.sum(vh[-1] ** 2 * np.arange(3.0)) + np.sum(s ** 3)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 3)])
def test_jvp_of_the_singular_vectors(shape):
    """svd_tangent with compute_uv (fuzz 613000009: the hessian of svd(compute_uv=False)
    goes through it, since the singular values' adjoint calls svd; it refused)."""
    rng = np.random.default_rng(7)
    a, v = rng.normal(size=shape), rng.normal(size=shape)
    h = 1e-6
    fd = (_svd_vectors(a + h * v) - _svd_vectors(a - h * v)) / (2 * h)
    _, got = s2sad.jvp(_svd_vectors)(a, v)
    assert got == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_hessian_of_singular_values():
    def f(x):
        m = np.diag(x) + 0.1 * np.outer(x[::-1], x)
        return np.linalg.svd(m, compute_uv=False)[0] ** 2 + np.sum(np.linalg.svd(
            np.outer(x, x[:2]) + np.eye(3, 2), compute_uv=False))
    x = np.array([0.3, -1.2, 2.0])
    hess = s2sad.hessian(f)(x)
    g, h = s2sad.grad(f), 1e-5
    fd = np.stack([(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(hess, fd, rtol=1e-5, atol=1e-7)


def test_hessian_through_eigh_of_a_constant_matrix_with_repeated_eigenvalues():
    """Fuzz 613000289: eigh of a matrix that does not vary (zero, repeated eigenvalues):
    its tangent was inf * 0 = nan, and so was the whole hessian."""
    def f(x):
        z = np.tanh(x - x)
        lam = np.linalg.eigh(np.diag(z) + 0.1 * np.outer(z, z))[0][0]
        return np.sum(x ** 3) + lam * x[0]
    x = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(s2sad.hessian(f)(x), np.diag(6.0 * x), atol=1e-12)
