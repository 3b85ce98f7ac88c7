"""Adjoints of NumPy functions, one template per function (see :mod:`s2sad.rules.core`).

Binary functions broadcast: ``unbroadcast`` sums an adjoint back to its
operand's shape. Helpers that do not fit in one line live in
:mod:`s2sad.rules.numpy_helpers`. A template's docstring is its note in
``docs/rules.md``. Kinks follow NumPy/JAX conventions (``abs`` has derivative 0
at 0, ties of ``maximum``/``max`` split the adjoint evenly). Inputs are taken
to be real. Functions that need a newer NumPy are registered when present.
"""

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
from .methods import astype_adjoint
from .numpy_helpers import (
    append_adjoint,
    array_adjoint,
    average_adjoint,
    average_weights_adjoint,
    block_adjoint,
    cholesky_adjoint,
    clip_adjoint,
    clip_bound_adjoint,
    column_stack_adjoint,
    concatenate_adjoint,
    convolve_adjoint,
    corrcoef_adjoint,
    correlate_adjoint,
    cov_adjoint,
    cross_adjoint_a,
    cross_adjoint_b,
    cumprod_adjoint,
    cumsum_adjoint,
    delete_adjoint,
    det_adjoint,
    diag_adjoint,
    diagflat_adjoint,
    diagonal_adjoint,
    diff_adjoint,
    dstack_adjoint,
    eigh_adjoint,
    eigvalsh_adjoint,
    einsum_adjoint,
    einsum_sublist_error,
    extremum_adjoint,
    gradient_adjoint,
    gradient_spacing_adjoint,
    hstack_adjoint,
    imag_adjoint,
    inner_adjoint_a,
    inner_adjoint_b,
    insert_adjoint,
    interp_adjoint,
    kron_adjoint,
    like,
    linspace_adjoint,
    lstsq_adjoint,
    masked_reduction_adjoint,
    matrix_norm_adjoint,
    matrix_power_adjoint,
    meshgrid_adjoint,
    mT,
    multi_dot_adjoint,
    nan_to_num_fill_adjoint,
    nanmean_adjoint,
    nansum_adjoint,
    no_derivative_in,
    norm_adjoint,
    np_take_adjoint,
    outer_adjoint_a,
    outer_adjoint_b,
    pad_adjoint,
    pad_constant_adjoint,
    pinv_adjoint,
    polyval_adjoint_p,
    polyval_slope,
    prod_adjoint,
    ptp_adjoint,
    qr_adjoint,
    quantile_adjoint,
    ravel_adjoint,
    real_adjoint,
    repeat_adjoint,
    roll_adjoint,
    rollaxis_adjoint,
    select_adjoint,
    sinc_derivative,
    slogdet_adjoint,
    solve_adjoint_a,
    solve_transposed,
    sort_adjoint,
    split_adjoint,
    stack_adjoint,
    std_adjoint,
    sum_to,
    svd_adjoint,
    take_along_axis_adjoint,
    tensordot_adjoint_a,
    tensordot_adjoint_b,
    tile_adjoint,
    trace_adjoint,
    transpose_adjoint,
    trapezoid_adjoint,
    vander_adjoint,
    var_adjoint,
    vdot_adjoint,
    vecdot_adjoint,
    vector_norm_adjoint,
    vstack_adjoint,
)

d = {}   # templates write d[x] for "the adjoint of x"


def _have(*paths):
    """The NumPy functions among ``paths`` ("linalg.vecdot") that this NumPy has."""
    found = []
    for path in paths:
        obj = np
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            found.append(obj)
    return found


# ---------------------------------------------------------------------------------
# Elementwise, one operand

@adjoint(np.negative)
def negative(z, x):
    d[x] = -d[z]


@adjoint(np.positive)
def positive(z, x):
    d[x] = d[z]


@adjoint(np.absolute, np.fabs)
def absolute(z, x):
    """derivative 0 at 0"""
    d[x] = d[z] * np.sign(x)


@adjoint(np.reciprocal)
def reciprocal(z, x):
    d[x] = -d[z] * z * z


@adjoint(np.exp)
def exp(z, x):
    d[x] = d[z] * z


@adjoint(np.exp2)
def exp2(z, x):
    d[x] = d[z] * z * 0.6931471805599453


@adjoint(np.expm1)
def expm1(z, x):
    d[x] = d[z] * (z + 1.0)


@adjoint(np.log)
def log(z, x):
    d[x] = d[z] / x


@adjoint(np.log2)
def log2(z, x):
    d[x] = d[z] / (x * 0.6931471805599453)


@adjoint(np.log10)
def log10(z, x):
    d[x] = d[z] / (x * 2.302585092994046)


@adjoint(np.log1p)
def log1p(z, x):
    d[x] = d[z] / (1.0 + x)


@adjoint(np.sqrt)
def sqrt(z, x):
    d[x] = d[z] / (2.0 * z)


@adjoint(np.cbrt)
def cbrt(z, x):
    d[x] = d[z] / (3.0 * z * z)


@adjoint(np.square)
def square(z, x):
    d[x] = d[z] * 2.0 * x


@adjoint(np.sin)
def sin(z, x):
    d[x] = d[z] * np.cos(x)


@adjoint(np.cos)
def cos(z, x):
    d[x] = -d[z] * np.sin(x)


@adjoint(np.tan)
def tan(z, x):
    d[x] = d[z] * (1.0 + z * z)


@adjoint(np.arcsin)
def arcsin(z, x):
    d[x] = d[z] / np.sqrt(1.0 - x * x)


@adjoint(np.arccos)
def arccos(z, x):
    d[x] = -d[z] / np.sqrt(1.0 - x * x)


@adjoint(np.arctan)
def arctan(z, x):
    d[x] = d[z] / (1.0 + x * x)


@adjoint(np.sinh)
def sinh(z, x):
    d[x] = d[z] * np.cosh(x)


@adjoint(np.cosh)
def cosh(z, x):
    d[x] = d[z] * np.sinh(x)


@adjoint(np.tanh)
def tanh(z, x):
    d[x] = d[z] * (1.0 - z * z)


@adjoint(np.arcsinh)
def arcsinh(z, x):
    d[x] = d[z] / np.sqrt(x * x + 1.0)


@adjoint(np.arccosh)
def arccosh(z, x):
    d[x] = d[z] / np.sqrt(x * x - 1.0)


@adjoint(np.arctanh)
def arctanh(z, x):
    d[x] = d[z] / (1.0 - x * x)


@adjoint(np.deg2rad, np.radians)
def deg2rad(z, x):
    d[x] = d[z] * 0.017453292519943295


@adjoint(np.rad2deg, np.degrees)
def rad2deg(z, x):
    d[x] = d[z] * 57.29577951308232


@adjoint(np.sinc)
def sinc(z, x):
    """normalized sinc; derivative 0 at 0"""
    d[x] = d[z] * sinc_derivative(x)


@adjoint(np.conjugate)
def conjugate(z, x):
    d[x] = np.conj(d[z])


@adjoint(np.real)
def real(z, val):
    d[val] = real_adjoint(d[z], val)


@adjoint(np.imag)
def imag(z, val):
    """zero for real input"""
    d[val] = imag_adjoint(d[z], val)


@adjoint(np.nan_to_num)
def nan_to_num(z, x, copy=True, nan=0.0, posinf=None, neginf=None):
    """zero where x is nan or infinite; nan=, posinf=, neginf= get the adjoint where they are put; copy=False (in place) is refused: use the value returned"""
    d[x] = like(np.where(np.isfinite(x), d[z], 0.0), x)
    d[nan] = nan_to_num_fill_adjoint(d[z], x, nan, 0)
    d[posinf] = nan_to_num_fill_adjoint(d[z], x, posinf, 1)
    d[neginf] = nan_to_num_fill_adjoint(d[z], x, neginf, 2)


# ---------------------------------------------------------------------------------
# Elementwise, two operands (broadcasting)

# np.add, np.subtract, np.multiply, np.divide share the templates of the operators
# (s2sad/rules/operators.py).

@adjoint(np.power, np.float_power)
def power(z, x, y):
    """x ** (y - 1) is guarded so that y = 0 gives 0; log(x) is guarded at x = 0"""
    d[x] = unbroadcast(d[z] * y * x ** np.where(y, y - 1, 1.0), x)
    d[y] = unbroadcast(d[z] * z * np.log(np.where(x, x, 1.0)), y)


@adjoint(np.maximum, np.minimum, np.fmax, np.fmin)
def maximum(z, x, y):
    """ties split the adjoint evenly; fmax/fmin send it to the non-nan operand"""
    d[x] = unbroadcast(d[z] * (x == z) / (1.0 + (x == y)), x)
    d[y] = unbroadcast(d[z] * (y == z) / (1.0 + (x == y)), y)


@adjoint(np.hypot)
def hypot(z, x, y):
    d[x] = unbroadcast(d[z] * x / z, x)
    d[y] = unbroadcast(d[z] * y / z, y)


@adjoint(np.arctan2)
def arctan2(z, y, x):
    den = x * x + y * y
    d[y] = unbroadcast(d[z] * x / den, y)
    d[x] = unbroadcast(-d[z] * y / den, x)


@adjoint(np.logaddexp)
def logaddexp(z, x, y):
    d[x] = unbroadcast(d[z] * np.exp(x - z), x)
    d[y] = unbroadcast(d[z] * np.exp(y - z), y)


@adjoint(np.logaddexp2)
def logaddexp2(z, x, y):
    d[x] = unbroadcast(d[z] * np.exp2(x - z), x)
    d[y] = unbroadcast(d[z] * np.exp2(y - z), y)


@adjoint(np.remainder)
def remainder(z, x, y):
    """x - floor(x / y) * y"""
    d[x] = unbroadcast(d[z], x)
    d[y] = unbroadcast(-d[z] * np.floor(x / y), y)


@adjoint(np.nextafter)
def nextafter(z, x1, x2):
    """x1 moved by one ulp: derivative 1 in x1, 0 in the direction x2"""
    d[x1] = unbroadcast(d[z], x1)


@adjoint(np.fmod)
def fmod(z, x, y):
    """x - trunc(x / y) * y"""
    d[x] = unbroadcast(d[z], x)
    d[y] = unbroadcast(-d[z] * np.trunc(x / y), y)


@adjoint(np.copysign)
def copysign(z, x, y):
    """zero gradient for the sign source y"""
    d[x] = unbroadcast(d[z] * np.sign(x) * np.sign(z), x)


@adjoint(np.ldexp)
def ldexp(z, x, n):
    """x * 2**n; the integer exponent n has no gradient"""
    d[x] = unbroadcast(d[z] * np.exp2(n), x)


@adjoint(np.where)
def where(z, condition, x, y):
    """the condition has no gradient; the untaken branch gets exactly 0 (even if inf/nan)"""
    d[x] = sum_to(np.where(condition, d[z], 0.0), x)
    d[y] = sum_to(np.where(condition, 0.0, d[z]), y)


@adjoint(np.select)
def select(z, condlist, choicelist, default=0):
    """the conditions have no gradient; each choice gets the adjoint where it is selected (the first true condition), default where none is"""
    d[choicelist] = select_adjoint(d[z], condlist, choicelist, default, 0)
    d[default] = select_adjoint(d[z], condlist, choicelist, default, 1)


@adjoint(np.heaviside)
def heaviside(z, x1, x2):
    """derivative 0 in x1 (a step); x2 (the value at x1 == 0) gets the adjoint there"""
    d[x2] = unbroadcast(d[z] * (x1 == 0), x2)


@adjoint(np.clip)
def clip(z, a, a_min=None, a_max=None, *, min=None, max=None):
    """derivative 1 inside [a_min, a_max] (bounds included), 0 outside; bounds may be
    arrays and get the adjoint where they clip"""
    d[a] = clip_adjoint(d[z], a, a_min, a_max, min, max)
    d[a_min] = clip_bound_adjoint(d[z], a, a_min, a_max, min, max, "a_min")
    d[a_max] = clip_bound_adjoint(d[z], a, a_min, a_max, min, max, "a_max")
    d[min] = clip_bound_adjoint(d[z], a, a_min, a_max, min, max, "min")
    d[max] = clip_bound_adjoint(d[z], a, a_min, a_max, min, max, "max")


# ---------------------------------------------------------------------------------
# Reductions

@adjoint(np.sum)
def sum_where(z, a, axis=None, dtype=None, *, keepdims=False, where):
    """where= supported (initial= is not)"""
    d[a] = masked_reduction_adjoint(d[z], a, axis, keepdims, where, False)


@adjoint(np.mean)
def mean_where(z, a, axis=None, dtype=None, *, keepdims=False, where):
    """where= supported: the mean of the elements where it holds"""
    d[a] = masked_reduction_adjoint(d[z], a, axis, keepdims, where, True)


@adjoint(np.sum)
def sum_(z, a, axis=None, dtype=None, *, keepdims=False):
    """where= supported (initial= is not)"""
    d[a] = sum_adjoint(d[z], a, axis, keepdims)


@adjoint(np.mean)
def mean(z, a, axis=None, dtype=None, *, keepdims=False):
    """where= supported: the mean of the elements where it holds"""
    d[a] = mean_adjoint(d[z], a, axis, keepdims)


@adjoint(np.prod)
def prod(z, a, axis=None, dtype=None, *, keepdims=False):
    """exact with zeros (products of the other elements)"""
    d[a] = prod_adjoint(d[z], a, axis, keepdims)


@adjoint(np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin)
def max_(z, a, axis=None, *, keepdims=False):
    """ties split the adjoint evenly"""
    d[a] = extremum_adjoint(d[z], z, a, axis, keepdims)


@adjoint(np.ptp)
def ptp(z, a, axis=None, *, keepdims=False):
    d[a] = ptp_adjoint(d[z], a, axis, keepdims)


@adjoint(np.var)
def var(z, a, axis=None, dtype=None, *, ddof=0, keepdims=False):
    d[a] = var_adjoint(d[z], a, axis, ddof, keepdims)


@adjoint(np.std)
def std(z, a, axis=None, dtype=None, *, ddof=0, keepdims=False):
    d[a] = std_adjoint(d[z], z, a, axis, ddof, keepdims)


@adjoint(np.cumsum)
def cumsum(z, a, axis=None, dtype=None):
    d[a] = cumsum_adjoint(d[z], a, axis)


@adjoint(np.cumprod)
def cumprod(z, a, axis=None, dtype=None):
    """exact with zeros (products of the other elements)"""
    d[a] = cumprod_adjoint(d[z], z, a, axis)


@adjoint(np.nansum)
def nansum(z, a, axis=None, dtype=None, *, keepdims=False):
    """zero at nan entries"""
    d[a] = nansum_adjoint(d[z], a, axis, keepdims)


@adjoint(np.nanmean)
def nanmean(z, a, axis=None, dtype=None, *, keepdims=False):
    """zero at nan entries"""
    d[a] = nanmean_adjoint(d[z], a, axis, keepdims)


@adjoint(np.average)
def average(z, a, axis=None, weights=None, *, keepdims=False):
    """differentiable in a and weights; returned=True is not supported"""
    d[a] = average_adjoint(d[z], a, axis, weights, keepdims)
    d[weights] = average_weights_adjoint(d[z], z, a, axis, weights, keepdims)


@adjoint(np.trace)
def trace(z, a, offset=0, axis1=0, axis2=1, dtype=None):
    d[a] = trace_adjoint(d[z], a, offset, axis1, axis2)


@adjoint(*_have("trapezoid"))
def trapezoid(z, y, x=None, dx=1.0, axis=-1):
    """differentiable in y, x and dx"""
    d[y] = trapezoid_adjoint(d[z], y, x, dx, axis, 0)
    d[x] = trapezoid_adjoint(d[z], y, x, dx, axis, 1)
    d[dx] = trapezoid_adjoint(d[z], y, x, dx, axis, 2)


@adjoint(np.gradient)
def gradient(z, f, *, axis=None, edge_order=1):
    """differentiable in f and in spacing numbers (up to 3 spacing arguments); coordinate arrays given as spacing must carry no derivative (RuleLimitError)"""
    d[f] = gradient_adjoint(d[z], f, (), axis, edge_order)


@adjoint(np.gradient)
def gradient1(z, f, s1, *, axis=None, edge_order=1):
    d[f] = gradient_adjoint(d[z], f, (s1,), axis, edge_order)
    d[s1] = gradient_spacing_adjoint(d[z], z, f, (s1,), axis, edge_order, 0)


@adjoint(np.gradient)
def gradient2(z, f, s1, s2, *, axis=None, edge_order=1):
    d[f] = gradient_adjoint(d[z], f, (s1, s2), axis, edge_order)
    d[s1] = gradient_spacing_adjoint(d[z], z, f, (s1, s2), axis, edge_order, 0)
    d[s2] = gradient_spacing_adjoint(d[z], z, f, (s1, s2), axis, edge_order, 1)


@adjoint(np.gradient)
def gradient3(z, f, s1, s2, s3, *, axis=None, edge_order=1):
    d[f] = gradient_adjoint(d[z], f, (s1, s2, s3), axis, edge_order)
    d[s1] = gradient_spacing_adjoint(d[z], z, f, (s1, s2, s3), axis, edge_order, 0)
    d[s2] = gradient_spacing_adjoint(d[z], z, f, (s1, s2, s3), axis, edge_order, 1)
    d[s3] = gradient_spacing_adjoint(d[z], z, f, (s1, s2, s3), axis, edge_order, 2)


@adjoint(np.corrcoef)
def corrcoef(z, x, y=None, rowvar=True, *, dtype=None):
    d[x] = corrcoef_adjoint(d[z], x, y, rowvar, 0)
    d[y] = corrcoef_adjoint(d[z], x, y, rowvar, 1)


@adjoint(np.cov)
def cov(z, m, y=None, rowvar=True, bias=False, ddof=None):
    """differentiable in m and y; fweights and aweights are not supported"""
    d[m] = cov_adjoint(d[z], m, y, rowvar, bias, ddof, 0)
    d[y] = cov_adjoint(d[z], m, y, rowvar, bias, ddof, 1)


@adjoint(np.quantile)
def quantile(z, a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False):
    """method 'linear', 'lower', 'higher', 'nearest' or 'midpoint', axis None or one axis; ties: the elements the stable sort puts at the order statistics used; not differentiable in q (RuleLimitError)"""
    d[a] = quantile_adjoint(d[z], a, q, axis, keepdims, method)
    d[q] = no_derivative_in("np.quantile: its q")


@adjoint(np.percentile)
def percentile(z, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False):
    """as np.quantile with q / 100"""
    d[a] = quantile_adjoint(d[z], a, np.asarray(q) / 100.0, axis, keepdims, method)
    d[q] = no_derivative_in("np.percentile: its q")


@adjoint(np.median)
def median(z, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """as np.quantile with q = 0.5: the mean of the two middle elements for an even count"""
    d[a] = quantile_adjoint(d[z], a, 0.5, axis, keepdims, "linear")


@adjoint(np.polyval)
def polyval(z, p, x):
    """coefficients p (1-D, highest power first) and x both differentiable"""
    d[p] = polyval_adjoint_p(d[z], p, x)
    d[x] = unbroadcast(d[z] * polyval_slope(p, x), x)


@adjoint(np.interp)
def interp(z, x, xp, fp, left=None, right=None):
    """differentiable in x, xp, fp, left and right; slope 0 outside [xp[0], xp[-1]], the segment to the right at a knot (the last at xp[-1]); period= is not supported"""
    d[x] = interp_adjoint(d[z], x, xp, fp, left, right, 0)
    d[xp] = interp_adjoint(d[z], x, xp, fp, left, right, 1)
    d[fp] = interp_adjoint(d[z], x, xp, fp, left, right, 2)
    d[left] = interp_adjoint(d[z], x, xp, fp, left, right, 3)
    d[right] = interp_adjoint(d[z], x, xp, fp, left, right, 4)


# ---------------------------------------------------------------------------------
# Shapes, copies and indexing (linear maps: the adjoint is the transposed map)

@adjoint(np.reshape)
def reshape(z, a, shape=None, order="C", *, newshape=None, copy=None):
    d[a] = like(np.reshape(d[z], np.shape(a), order=order), a)


@adjoint(np.ravel)
def ravel(z, a, order="C"):
    d[a] = ravel_adjoint(d[z], a, order)


@adjoint(np.transpose)
def transpose(z, a, axes=None):
    d[a] = transpose_adjoint(d[z], axes)


@adjoint(*_have("matrix_transpose", "linalg.matrix_transpose"))
def matrix_transpose(z, x):
    """swaps the last two axes"""
    d[x] = mT(d[z])


@adjoint(np.swapaxes)
def swapaxes(z, a, axis1, axis2):
    d[a] = np.swapaxes(d[z], axis1, axis2)


@adjoint(np.moveaxis)
def moveaxis(z, a, source, destination):
    d[a] = np.moveaxis(d[z], destination, source)


@adjoint(np.rollaxis)
def rollaxis(z, a, axis, start=0):
    d[a] = rollaxis_adjoint(d[z], axis, start)


@adjoint(np.squeeze)
def squeeze(z, a, axis=None):
    d[a] = like(d[z], a)


@adjoint(np.expand_dims)
def expand_dims(z, a, axis):
    d[a] = like(d[z], a)


@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_1d(z, x):
    """one argument only"""
    d[x] = like(d[z], x)


@adjoint(np.copy)
def copy(z, a, order="K", subok=False):
    d[a] = array_adjoint(d[z], a)


@adjoint(np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray)
def asarray(z, a, dtype=None, order=None, *, copy=None):
    d[a] = array_adjoint(d[z], a)


@adjoint(np.array)
def array(z, object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0):
    """of an array, a scalar, or a list/tuple of them (the adjoint is then a list)"""
    d[object] = array_adjoint(d[z], object)


@adjoint(np.float64, np.float32)
def float64(z, x=0.0):
    """a cast of a number or an array: derivative 1 (float32 rounding is not differentiated)"""
    d[x] = astype_adjoint(d[z], x, np.float64)


@adjoint(np.broadcast_to)
def broadcast_to(z, array, shape, subok=False):
    d[array] = sum_to(d[z], array)


@adjoint(np.repeat)
def repeat(z, a, repeats, axis=None):
    d[a] = repeat_adjoint(d[z], a, repeats, axis)


@adjoint(np.tile)
def tile(z, A, reps):
    d[A] = tile_adjoint(d[z], A, reps)


@adjoint(np.flip)
def flip(z, m, axis=None):
    d[m] = np.flip(d[z], axis)


@adjoint(np.fliplr)
def fliplr(z, m):
    d[m] = np.fliplr(d[z])


@adjoint(np.flipud)
def flipud(z, m):
    d[m] = np.flipud(d[z])


@adjoint(np.rot90)
def rot90(z, m, k=1, axes=(0, 1)):
    d[m] = np.rot90(d[z], -k, axes)


@adjoint(np.roll)
def roll(z, a, shift, axis=None):
    d[a] = roll_adjoint(d[z], shift, axis)


@adjoint(np.diagflat)
def diagflat(z, v, k=0):
    d[v] = diagflat_adjoint(d[z], v, k)


@adjoint(np.insert)
def insert(z, arr, obj, values, axis=None):
    """values broadcast as np.insert does"""
    d[arr] = insert_adjoint(d[z], arr, obj, values, axis, 0)
    d[values] = insert_adjoint(d[z], arr, obj, values, axis, 1)


@adjoint(np.delete)
def delete(z, arr, obj, axis=None):
    d[arr] = delete_adjoint(d[z], arr, obj, axis)


@adjoint(np.diag)
def diag(z, v, k=0):
    d[v] = diag_adjoint(d[z], v, k)


@adjoint(np.diagonal)
def diagonal(z, a, offset=0, axis1=0, axis2=1):
    d[a] = diagonal_adjoint(d[z], a, offset, axis1, axis2)


@adjoint(np.triu)
def triu(z, m, k=0):
    d[m] = np.triu(d[z], k)


@adjoint(np.tril)
def tril(z, m, k=0):
    d[m] = np.tril(d[z], k)


@adjoint(np.take)
def take(z, a, indices, axis=None, *, mode="raise"):
    """repeated indices accumulate"""
    d[a] = np_take_adjoint(d[z], a, indices, axis, mode)


@adjoint(np.take_along_axis)
def take_along_axis(z, arr, indices, axis=-1):
    d[arr] = take_along_axis_adjoint(d[z], arr, indices, axis)


@adjoint(np.sort)
def sort(z, a, axis=-1, kind=None, order=None, *, stable=None):
    """through the (stable) sorting permutation"""
    d[a] = sort_adjoint(d[z], a, axis)


@adjoint(np.pad)
def pad(z, array, pad_width, mode="constant", *, constant_values=0):
    """modes constant, edge, reflect, symmetric and wrap; a scalar constant_values"""
    d[array] = pad_adjoint(d[z], array, pad_width, mode)
    d[constant_values] = pad_constant_adjoint(d[z], array, pad_width, mode)


@adjoint(np.append)
def append(z, arr, values, axis=None):
    d[arr] = append_adjoint(d[z], arr, values, axis, 0)
    d[values] = append_adjoint(d[z], arr, values, axis, 1)


@adjoint(np.diff)
def diff(z, a, n=1, axis=-1, prepend=None, append=None):
    d[a] = diff_adjoint(d[z], a, n, axis, prepend, append, 0)
    d[prepend] = diff_adjoint(d[z], a, n, axis, prepend, append, 1)
    d[append] = diff_adjoint(d[z], a, n, axis, prepend, append, 2)


@adjoint(np.split)
def split(z, ary, indices_or_sections, axis=0):
    """the result is a list; the adjoint of an unused piece is zero"""
    d[ary] = split_adjoint(d[z], ary, indices_or_sections, axis, False)


@adjoint(np.array_split)
def array_split(z, ary, indices_or_sections, axis=0):
    """the result is a list; the adjoint of an unused piece is zero"""
    d[ary] = split_adjoint(d[z], ary, indices_or_sections, axis, True)


@adjoint(np.concatenate)
def concatenate(z, arrays, axis=0, *, dtype=None, casting="same_kind"):
    """the adjoint of the sequence is a list"""
    d[arrays] = concatenate_adjoint(d[z], arrays, axis)


@adjoint(np.stack)
def stack(z, arrays, axis=0, *, dtype=None, casting="same_kind"):
    """the adjoint of the sequence is a list"""
    d[arrays] = stack_adjoint(d[z], arrays, axis)


@adjoint(np.block)
def block(z, arrays):
    """nested lists of arrays; the adjoint has their structure"""
    d[arrays] = block_adjoint(d[z], arrays)


@adjoint(np.vstack)
def vstack(z, tup, *, dtype=None, casting="same_kind"):
    """the adjoint of the sequence is a list"""
    d[tup] = vstack_adjoint(d[z], tup)


@adjoint(np.hstack)
def hstack(z, tup, *, dtype=None, casting="same_kind"):
    """the adjoint of the sequence is a list"""
    d[tup] = hstack_adjoint(d[z], tup)


@adjoint(np.dstack)
def dstack(z, tup):
    """the adjoint of the sequence is a list"""
    d[tup] = dstack_adjoint(d[z], tup)


@adjoint(np.column_stack)
def column_stack(z, tup):
    """the adjoint of the sequence is a list"""
    d[tup] = column_stack_adjoint(d[z], tup)


# ---------------------------------------------------------------------------------
# Construction

@adjoint(np.full)
def full(z, shape, fill_value, dtype=None, order="C"):
    d[fill_value] = sum_to(d[z], fill_value)


@adjoint(np.full_like)
def full_like(z, a, fill_value, dtype=None, order="K", subok=True, shape=None):
    """a gives only the shape"""
    d[fill_value] = sum_to(d[z], fill_value)


@adjoint(np.linspace)
def linspace(z, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """differentiable in start and stop"""
    d[start] = linspace_adjoint(d[z], start, stop, num, endpoint, retstep, axis, 0)
    d[stop] = linspace_adjoint(d[z], start, stop, num, endpoint, retstep, axis, 1)


@adjoint(np.convolve)
def convolve(z, a, v, mode="full"):
    """1-D, all modes"""
    d[a] = convolve_adjoint(d[z], a, v, mode, 0)
    d[v] = convolve_adjoint(d[z], a, v, mode, 1)


@adjoint(np.correlate)
def correlate(z, a, v, mode="valid"):
    """1-D, real, all modes"""
    d[a] = correlate_adjoint(d[z], a, v, mode, 0)
    d[v] = correlate_adjoint(d[z], a, v, mode, 1)


# ---------------------------------------------------------------------------------
# Linear algebra

@adjoint(np.dot)
def dot(z, a, b):
    d[a] = dot_adjoint_a(d[z], a, b)
    d[b] = dot_adjoint_b(d[z], a, b)


@adjoint(np.matmul, *_have("linalg.matmul"))
def matmul(z, x1, x2):
    d[x1] = matmul_adjoint_a(d[z], x1, x2)
    d[x2] = matmul_adjoint_b(d[z], x1, x2)


@adjoint(np.vdot)
def vdot(z, a, b):
    """real inputs"""
    d[a] = vdot_adjoint(d[z], b, a)
    d[b] = vdot_adjoint(d[z], a, b)


@adjoint(np.outer, *_have("linalg.outer"))
def outer(z, a, b):
    d[a] = outer_adjoint_a(d[z], a, b)
    d[b] = outer_adjoint_b(d[z], a, b)


@adjoint(np.inner)
def inner(z, a, b):
    d[a] = inner_adjoint_a(d[z], a, b)
    d[b] = inner_adjoint_b(d[z], a, b)


@adjoint(np.tensordot)
def tensordot(z, a, b, axes=2):
    d[a] = tensordot_adjoint_a(d[z], a, b, axes)
    d[b] = tensordot_adjoint_b(d[z], a, b, axes)


@adjoint(*_have("linalg.tensordot"))
def linalg_tensordot(z, x1, x2, *, axes=2):
    d[x1] = tensordot_adjoint_a(d[z], x1, x2, axes)
    d[x2] = tensordot_adjoint_b(d[z], x1, x2, axes)


@adjoint(*_have("vecdot", "linalg.vecdot"))
def vecdot(z, x1, x2, *, axis=-1):
    """real inputs"""
    d[x1] = vecdot_adjoint(d[z], x2, x1, axis)
    d[x2] = vecdot_adjoint(d[z], x1, x2, axis)


@adjoint(np.einsum)
def einsum1(z, subscripts, a, *, optimize=False):
    """subscripts string with up to 4 operands; '...' and repeated indices allowed"""
    d[subscripts] = einsum_sublist_error(subscripts)
    d[a] = einsum_adjoint(d[z], subscripts, (a,), 0)


@adjoint(np.einsum)
def einsum2(z, subscripts, a, b, *, optimize=False):
    d[subscripts] = einsum_sublist_error(subscripts)
    d[a] = einsum_adjoint(d[z], subscripts, (a, b), 0)
    d[b] = einsum_adjoint(d[z], subscripts, (a, b), 1)


@adjoint(np.einsum)
def einsum3(z, subscripts, a, b, c, *, optimize=False):
    d[subscripts] = einsum_sublist_error(subscripts)
    d[a] = einsum_adjoint(d[z], subscripts, (a, b, c), 0)
    d[b] = einsum_adjoint(d[z], subscripts, (a, b, c), 1)
    d[c] = einsum_adjoint(d[z], subscripts, (a, b, c), 2)


@adjoint(np.einsum)
def einsum4(z, subscripts, a, b, c, e, *, optimize=False):
    d[subscripts] = einsum_sublist_error(subscripts)
    d[a] = einsum_adjoint(d[z], subscripts, (a, b, c, e), 0)
    d[b] = einsum_adjoint(d[z], subscripts, (a, b, c, e), 1)
    d[c] = einsum_adjoint(d[z], subscripts, (a, b, c, e), 2)
    d[e] = einsum_adjoint(d[z], subscripts, (a, b, c, e), 3)


@adjoint(np.kron)
def kron(z, a, b):
    d[a] = kron_adjoint(d[z], a, b, 0)
    d[b] = kron_adjoint(d[z], a, b, 1)


@adjoint(np.cross)
def cross(z, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """3-vectors"""
    d[a] = cross_adjoint_a(d[z], a, b, axisa, axisb, axisc, axis)
    d[b] = cross_adjoint_b(d[z], a, b, axisa, axisb, axisc, axis)


@adjoint(*_have("linalg.cross"))
def linalg_cross(z, x1, x2, *, axis=-1):
    """3-vectors"""
    d[x1] = cross_adjoint_a(d[z], x1, x2, axis, axis, axis)
    d[x2] = cross_adjoint_b(d[z], x1, x2, axis, axis, axis)


@adjoint(np.linalg.solve)
def solve(z, a, b):
    """batched; b is a vector when it is 1-D"""
    gb = solve_transposed(a, d[z], b)
    d[a] = unbroadcast(solve_adjoint_a(gb, z, b), a)
    d[b] = unbroadcast(gb, b)


@adjoint(np.linalg.inv)
def inv(z, a):
    d[a] = -(mT(z) @ d[z] @ mT(z))


@adjoint(np.linalg.det)
def det(z, a):
    """the cofactor matrix, at singular matrices too"""
    d[a] = det_adjoint(d[z], z, a)


@adjoint(np.linalg.slogdet)
def slogdet(z, a):
    """result is (sign, logabsdet); sign has no gradient"""
    d[a] = slogdet_adjoint(d[z], a)


@adjoint(np.linalg.eigh)
def eigh(z, a, UPLO="L"):
    """symmetric adjoint (a is taken to be symmetric); eigenvectors need distinct eigenvalues"""
    d[a] = eigh_adjoint(d[z], z, a)


@adjoint(np.linalg.eigvalsh)
def eigvalsh(z, a, UPLO="L"):
    """symmetric adjoint (a is taken to be symmetric)"""
    d[a] = eigvalsh_adjoint(d[z], a)


@adjoint(np.linalg.pinv)
def pinv(z, a, rcond=None, hermitian=False, *, rtol=None):
    """rank taken as constant near a (full rank: the usual case)"""
    d[a] = pinv_adjoint(d[z], z, a)


@adjoint(np.linalg.svd)
def svd(z, a, full_matrices=True, compute_uv=True, hermitian=False):
    """through the singular values only: the singular vectors raise (RuleLimitError); forward mode (jvp, hessians of the singular values) has the reduced singular vectors too"""
    d[a] = svd_adjoint(d[z], z, a, full_matrices, compute_uv)


@adjoint(np.linalg.lstsq)
def lstsq(z, a, b, rcond=None):
    """x, the residuals and the singular values, for a of full column rank (else RuleLimitError); the rank has no gradient"""
    d[a] = lstsq_adjoint(d[z], z, a, b, 0)
    d[b] = lstsq_adjoint(d[z], z, a, b, 1)


@adjoint(np.linalg.qr)
def qr(z, a, mode="reduced"):
    """mode 'reduced', a of full column rank with m >= n (else RuleLimitError)"""
    d[a] = qr_adjoint(d[z], z, a, mode)


@adjoint(np.linalg.cholesky)
def cholesky(z, a):
    """symmetric adjoint (a is taken to be symmetric); lower factor only"""
    d[a] = cholesky_adjoint(d[z], z)


@adjoint(np.linalg.matrix_power)
def matrix_power(z, a, n):
    """integer n, negative too"""
    d[a] = matrix_power_adjoint(d[z], a, n)


@adjoint(np.meshgrid)
def meshgrid_1(z, x, *, copy=True, sparse=False, indexing="xy"):
    """of one to three coordinate vectors; the adjoint of each is its grid's summed"""
    d[x] = meshgrid_adjoint(d[z], (x,), 0, indexing)


@adjoint(np.meshgrid)
def meshgrid_2(z, x, y, *, copy=True, sparse=False, indexing="xy"):
    d[x] = meshgrid_adjoint(d[z], (x, y), 0, indexing)
    d[y] = meshgrid_adjoint(d[z], (x, y), 1, indexing)


@adjoint(np.meshgrid)
def meshgrid_3(z, x, y, w, *, copy=True, sparse=False, indexing="xy"):
    d[x] = meshgrid_adjoint(d[z], (x, y, w), 0, indexing)
    d[y] = meshgrid_adjoint(d[z], (x, y, w), 1, indexing)
    d[w] = meshgrid_adjoint(d[z], (x, y, w), 2, indexing)


@adjoint(np.vander)
def vander(z, x, N=None, increasing=False):
    d[x] = vander_adjoint(d[z], x, N, increasing)


@adjoint(np.linalg.multi_dot)
def multi_dot(z, arrays, *, out=None):
    """the adjoint of the sequence is a list"""
    d[arrays] = multi_dot_adjoint(d[z], arrays)


@adjoint(np.linalg.norm)
def norm(z, x, ord=None, axis=None, keepdims=False):
    """vector: 2, 1, inf, -inf, 0, any p; matrix: fro, nuc, 1, -1, 2, -2, inf, -inf; not differentiable in ord (RuleLimitError)"""
    d[x] = norm_adjoint(d[z], z, x, ord, axis, keepdims)
    d[ord] = no_derivative_in("np.linalg.norm: its ord")


@adjoint(*_have("linalg.vector_norm"))
def vector_norm(z, x, *, axis=None, keepdims=False, ord=2):
    d[x] = vector_norm_adjoint(d[z], z, x, axis, keepdims, ord)
    d[ord] = no_derivative_in("np.linalg.vector_norm: its ord")


@adjoint(*_have("linalg.matrix_norm"))
def matrix_norm(z, x, *, keepdims=False, ord="fro"):
    d[x] = matrix_norm_adjoint(d[z], x, keepdims, ord)


@adjoint(*_have("linalg.trace"))
def linalg_trace(z, x, *, offset=0, dtype=None):
    """over the last two axes"""
    d[x] = trace_adjoint(d[z], x, offset, -2, -1)


@adjoint(*_have("linalg.diagonal"))
def linalg_diagonal(z, x, *, offset=0):
    """over the last two axes"""
    d[x] = diagonal_adjoint(d[z], x, offset, -2, -1)


# ---------------------------------------------------------------------------------
# Zero gradient (still run in the forward sweep)

nondiff(np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix,
        np.floor_divide, np.signbit, np.spacing,
        np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero,
        np.count_nonzero, np.searchsorted, np.digitize, np.all, np.any,
        np.shape, np.size, np.ndim, np.int64, np.int32, np.intp, np.bool_,
        np.zeros, np.ones, np.empty, np.zeros_like, np.ones_like, np.empty_like,
        np.arange, np.eye, np.identity, np.tri,
        np.isnan, np.isinf, np.isfinite, np.isposinf, np.isneginf, np.isclose,
        np.allclose, np.array_equal, np.isreal, np.iscomplex,
        np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
        np.logical_and, np.logical_or, np.logical_not, np.logical_xor)
