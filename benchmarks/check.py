"""Check every hand-written gradient in ``workloads.py`` against finite differences.

Run ``python benchmarks/check.py`` (``run.py`` runs it first and stops if a
check fails, since the hand-written gradients are the reference).

* scalar arguments: central differences, argument by argument;
* array arguments: central differences along three random directions
  (all differentiated arrays moved together), compared with the dot product of
  the gradient and the direction; Rosenbrock is also checked elementwise at n = 7;
* each workload at its own point and at two points with the differentiated
  arguments scaled by 1.1 and 0.93;
* the extra hand-written variants (forward tangents) against the reference.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads as W  # noqa: E402

RTOL = 1e-5
H = 1e-6


def _scaled(args, wrt, factor):
    return tuple(a * factor if i in wrt else a for i, a in enumerate(args))


def _fd_scalar(f, args, i):
    h = H * max(1.0, abs(args[i]))
    plus, minus = list(args), list(args)
    plus[i] += h
    minus[i] -= h
    return (f(*plus) - f(*minus)) / (2.0 * h)


def _fd_direction(f, args, wrt, dirs):
    scale = max(float(np.max(np.abs(args[i]))) for i in wrt)
    h = 1e-5 * max(1.0, scale)
    plus, minus = list(args), list(args)
    for i, d in zip(wrt, dirs):
        plus[i] = args[i] + h * d
        minus[i] = args[i] - h * d
    return (float(f(*plus)) - float(f(*minus))) / (2.0 * h)


def _close(got, want, rtol=RTOL):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    atol = rtol * max(1e-8, float(np.max(np.abs(want))) if want.size else 0.0)
    return bool(np.allclose(got, want, rtol=rtol, atol=atol))


def check_point(w, args):
    """Problems (strings) of ``w.grad`` at ``args``; empty if it matches."""
    problems = []
    grads = w.grad(*args)
    if not isinstance(grads, tuple) or len(grads) != len(w.wrt):
        return [f"hand-written gradient should be a tuple of {len(w.wrt)}, got {type(grads)}"]
    for i, g in zip(w.wrt, grads):
        if np.shape(g) != np.shape(args[i]):
            problems.append(f"gradient {i} has shape {np.shape(g)}, argument {np.shape(args[i])}")
    if problems:
        return problems
    if all(np.ndim(args[i]) == 0 for i in w.wrt):
        for i, g in zip(w.wrt, grads):
            fd = _fd_scalar(w.f, args, i)
            if not _close(g, fd):
                problems.append(f"d/d arg {i}: hand {g!r}, finite differences {fd!r}")
    else:
        rng = np.random.default_rng(42)
        for _ in range(3):
            dirs = [rng.normal(size=np.shape(args[i])) for i in w.wrt]
            fd = _fd_direction(w.f, args, w.wrt, dirs)
            dot = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
            if not _close(dot, fd, rtol=1e-4):
                problems.append(f"directional derivative: hand {dot!r}, finite differences {fd!r}")
    for label, variant in w.extra.items():
        other = variant(*args)
        for i, a, b in zip(w.wrt, other, grads):
            if not _close(a, b, rtol=1e-9):
                problems.append(f"{label} d/d arg {i}: {a!r}, reference {b!r}")
    return problems


def check_workload(w, quick=False):
    args = w.make_args(quick)
    problems = []
    for factor in (1.0, 1.1, 0.93):
        point = _scaled(args, w.wrt, factor)
        problems += [f"at x{factor}: {p}" for p in check_point(w, point)]
    if w.f is W.rosenbrock:
        small = (np.random.default_rng(3).uniform(-1.2, 1.2, 7),)
        g = w.grad(*small)[0]
        for k in range(7):
            e = np.zeros(7)
            e[k] = 1.0
            fd = _fd_direction(w.f, small, (0,), [e])
            if not _close(g[k], fd):
                problems.append(f"n = 7, element {k}: hand {g[k]!r}, finite differences {fd!r}")
    return problems


def check_all(names=None, quick=False, out=sys.stdout):
    """Check the named workloads (all by default); return {name: problems} of the failures."""
    failures = {}
    for w in W.WORKLOADS:
        if names and w.name not in names:
            continue
        problems = check_workload(w, quick)
        print(f"check {w.name:<16} {'ok' if not problems else 'FAILED'}", file=out)
        for p in problems:
            print(f"    {p}", file=out)
        if problems:
            failures[w.name] = problems
    return failures


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="check only this workload (repeatable)")
    parser.add_argument("--quick", action="store_true", help="use the small problem sizes")
    ns = parser.parse_args(argv)
    return 1 if check_all(ns.only, ns.quick) else 0


if __name__ == "__main__":
    sys.exit(main())
