"""Finite-difference helpers shared by the tests.

``numerical_grad(f, args, wrt)`` estimates the gradient of a scalar function by
central differences, elementwise for array arguments. ``assert_grad_matches``
compares ``s2sad.grad`` to it (in both modes where ``grad`` chose forward mode)
and prints the generated source on failure.
"""

from __future__ import annotations

import numpy as np

import s2sad

RTOL = 1e-5
ATOL = 1e-6
H = 1e-6


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _step(x):
    """A step scaled to the magnitude of ``x`` (so large inputs keep precision)."""
    return H * max(1.0, abs(float(x)))


def numerical_grad(f, args, wrt=0, kwargs=None):
    """Central-difference gradient of the scalar ``f(*args, **kwargs)``.

    ``wrt`` is an int (returns a float or an array of the argument's shape) or
    a tuple of ints (returns a tuple of those).
    """
    kwargs = kwargs or {}
    if isinstance(wrt, (tuple, list)):
        return tuple(numerical_grad(f, args, i, kwargs) for i in wrt)
    args = [_copy(a) for a in args]
    x = args[wrt]

    def at(value):
        trial = list(args)
        trial[wrt] = value
        return float(f(*trial, **kwargs))

    if isinstance(x, np.ndarray):
        x = x.astype(np.float64)
        out = np.zeros(x.shape)
        for idx in np.ndindex(*x.shape):
            h = _step(x[idx])
            plus, minus = x.copy(), x.copy()
            plus[idx] += h
            minus[idx] -= h
            out[idx] = (at(plus) - at(minus)) / (2.0 * h)
        return out
    x = float(x)
    h = _step(x)
    return (at(x + h) - at(x - h)) / (2.0 * h)


def random_point(rng, shape=(), low=-1.0, high=1.0):
    """A random float (shape ``()``) or array drawn uniformly from [low, high)."""
    if shape == ():
        return float(rng.uniform(low, high))
    return rng.uniform(low, high, size=shape)


def _close(got, want, rtol, atol):
    return np.allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                       rtol=rtol, atol=atol)


def _generated_source(f, wrt, args, kwargs, mode="auto"):
    try:
        gf = s2sad.grad(f, wrt=wrt, mode=mode)
        gf(*args, **kwargs)
        return gf.source
    except Exception as exc:   # pragma: no cover - only for the failure message
        return f"<no source: {type(exc).__name__}: {exc}>"


def assert_grad_matches(f, args, wrt=0, kwargs=None, rtol=RTOL, atol=ATOL):
    """Check ``s2sad.grad(f, wrt)(*args)`` against central differences.

    Also checks the result structure: a tuple for tuple ``wrt``, a float for a
    scalar argument and an array of the argument's shape for an array argument.
    Where ``grad`` chose forward mode (one scalar argument), the reverse-mode
    gradient (``mode='reverse'``) is checked too. Returns the gradient.
    """
    kwargs = kwargs or {}
    gf = s2sad.grad(f, wrt=wrt)
    got = gf(*args, **kwargs)
    want = numerical_grad(f, args, wrt, kwargs)
    _check(f, args, wrt, kwargs, got, want, rtol, atol, "auto")
    if gf._last is not None and gf._last.ctx.mode == "forward":
        again = s2sad.grad(f, wrt=wrt, mode="reverse")(*args, **kwargs)
        _check(f, args, wrt, kwargs, again, want, rtol, atol, "reverse")
    return got


def _check(f, args, wrt, kwargs, got, want, rtol, atol, mode):
    indices = tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)
    gots = got if isinstance(wrt, (tuple, list)) else (got,)
    wants = want if isinstance(wrt, (tuple, list)) else (want,)
    problems = []
    if isinstance(wrt, (tuple, list)) and not (isinstance(got, tuple) and len(got) == len(wrt)):
        problems.append(f"expected a tuple of {len(wrt)} gradients, got {got!r}")
    else:
        for i, g, w in zip(indices, gots, wants):
            arg = args[i]
            if isinstance(arg, np.ndarray):
                if not isinstance(g, np.ndarray) or g.shape != arg.shape:
                    problems.append(f"gradient {i} should be an array of shape {arg.shape}, "
                                    f"got {type(g).__name__} {np.shape(g)}")
            elif not isinstance(g, float):
                problems.append(f"gradient {i} should be a float, got {type(g).__name__}")
            if not _close(g, w, rtol, atol):
                problems.append(f"gradient {i} differs from finite differences:\n"
                                f"  s2sad:   {g!r}\n  numeric: {w!r}")
    if problems:
        src = _generated_source(f, wrt, args, kwargs, mode)
        raise AssertionError(
            f"{f.__name__}{tuple(args)!r} wrt={wrt!r} mode={mode}:\n" + "\n".join(problems)
            + "\n--- generated source ---\n" + src)
