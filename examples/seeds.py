"""The worked examples of the lecture notes s2sad grew from, differentiated by s2sad.

Run ``python examples/seeds.py``. For each example it prints the value, the
gradient (3 decimals), a check of the gradient against the analytic derivative
at several points, and the Python code s2sad generated.

The primal functions are plain Python: s2sad reads their source, so they must
live in a file (this one). ``tests/test_examples.py`` imports this module and
checks the same figures.
"""

from __future__ import annotations

import math
import sys
import textwrap

import numpy as np

import s2sad

# ---------------------------------------------------------------------------
# Seed 002 (differentiable programming notes): the forward/backward trace tables.
# y = ln x1 + x1 x2 - sin x2 at (2, 5): value 11.652, gradient (5.5, 1.716).


def f002(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def df002(x1, x2):
    return (1.0 / x1 + x2, x1 - math.cos(x2))


# ---------------------------------------------------------------------------
# Seed 000 (NTU lecture): f = (x1 - x2 + x2 x3) cos(x2 x3).


def f000(x1, x2, x3):
    return (x1 - x2 + x2 * x3) * math.cos(x2 * x3)


def df000(x1, x2, x3):
    z1 = x1 - x2 + x2 * x3
    y2 = x2 * x3
    return (math.cos(y2),
            (x3 - 1.0) * math.cos(y2) - z1 * x3 * math.sin(y2),
            x2 * math.cos(y2) - z1 * x2 * math.sin(y2))


# ---------------------------------------------------------------------------
# Seed 001 (AD lecture notes).
# f = x1 x2 + sin x1, the evaluation graph w1..w5 of the forward/reverse example.


def f001(x1, x2):
    return x1 * x2 + math.sin(x1)


def df001(x1, x2):
    return (x2 + math.cos(x1), x1)


# The factored polynomial g(x) = prod_i (x - t_i), evaluated in O(m) by a loop.
# Reverse mode records each factor on the tape and gets g'(x) in O(m) too; the
# "Calc I" product rule sum_i prod_{j != i} (x - t_j) costs O(m^2).


def poly(x, t):
    g = 1.0
    for i in range(len(t)):
        g = g * (x - t[i])
    return g


def dpoly(x, t):
    total = 0.0
    for i in range(len(t)):
        term = 1.0
        for j in range(len(t)):
            if j != i:
                term *= x - t[j]
        total += term
    return total


# AD does not know that x - x is 0: it differentiates the program, 1 - 1.


def zero(x):
    return x - x


# The adaptive loop: x <- x/2 until |x - x_old| < eps. The number of halvings
# depends on x, yet for the current input the result is x / 2**k, whose
# derivative is 1 / 2**k. The notes write it with ``break``; ``halve`` says the
# same with a data-dependent while condition.


def halve(x, eps):
    x_old = x
    x = x / 2.0
    while abs(x - x_old) >= eps:
        x_old = x
        x = x / 2.0
    return x


def halve_break(x, eps):
    while True:
        x_old = x
        x = x / 2.0
        if abs(x - x_old) < eps:
            break
    return x


def dhalve(x, eps):
    return halve(x, eps) / x     # = 1 / 2**k, the halvings are a fixed linear map


# ---------------------------------------------------------------------------
# Seed 003 (autograd talk): f(x) = (1/x) e^x, f'(x) = (e^x / x) (1 - 1/x),
# and grad(f, (0, 1)) of a function of two arguments.


def f003(x):
    return (1 / x) * math.exp(x)


def df003(x):
    return (math.exp(x) / x) * (1 - 1 / x)


def add(x, y):
    return x + y


def node(x, y):
    a = x + y          # the talk's nested example: z = x * add(x, y)
    return x * a


def dnode(x, y):
    return (2 * x + y, x)


# ---------------------------------------------------------------------------
# Seed 004 (computational graph notes): node_to_grad in reverse topological order.
# x2 = exp(x1), x3 = x2 + 1, x4 = x2 x3: the adjoint of x2 gets two contributions.


def f004(x1):
    x2 = math.exp(x1)
    x3 = x2 + 1
    x4 = x2 * x3
    return x4


def df004(x1):
    return math.exp(x1) * (2.0 * math.exp(x1) + 1.0)


# ---------------------------------------------------------------------------
# The table the report and the tests walk through.

T = np.array([0.5, 1.0, 2.0, 3.5])     # the roots t_i of the factored polynomial

EXAMPLES = [
    # (key, title, function, wrt, the lecture's point, analytic gradient, more points)
    ("002", "seed 002: f = ln x1 + x1*x2 - sin x2", f002, (0, 1), (2.0, 5.0), df002,
     [(1.0, 1.0), (0.5, -2.0), (3.0, 0.25)]),
    ("000", "seed 000: f = (x1 - x2 + x2*x3) * cos(x2*x3)", f000, (0, 1, 2), (1.0, 2.0, 0.75),
     df000, [(0.3, -1.2, 2.0), (-2.0, 0.7, 1.1), (1.5, 1.5, -0.4)]),
    ("001", "seed 001: f = x1*x2 + sin x1", f001, (0, 1), (1.0, 2.0), df001,
     [(0.0, -1.0), (2.5, 0.3), (-1.2, 4.0)]),
    ("001-poly", "seed 001: g(x) = prod_i (x - t_i), t = " + str(T.tolist()), poly, 0,
     (1.5, T), dpoly, [(0.0, T), (2.7, T), (-1.0, T)]),
    ("001-zero", "seed 001: f = x - x (AD computes 1 - 1)", zero, 0, (3.0,),
     lambda x: 0.0, [(-1.0,), (0.0,), (7.5,)]),
    ("001-halve", "seed 001: x <- x/2 until |x - x_old| < eps (while loop)", halve, 0,
     (3.0, 0.1), dhalve, [(0.3, 1e-3), (5.0, 1e-2), (-2.0, 1e-4)]),
    ("003", "seed 003: f = (1/x) * e^x", f003, 0, (2.0,), df003, [(0.5,), (1.0,), (-1.5,)]),
    ("003-add", "seed 003: grad(add, (0, 1)) with add(x, y) = x + y", add, (0, 1), (1.0, 2.0),
     lambda x, y: (1.0, 1.0), [(-3.0, 0.5), (0.0, 0.0), (2.0, 9.0)]),
    ("003-node", "seed 003: grad(node, (0, 1)) with node(x, y) = x * (x + y)", node, (0, 1),
     (1.0, 2.0), dnode, [(-3.0, 0.5), (0.0, 0.0), (2.0, 9.0)]),
    ("004", "seed 004: x2 = exp(x1), x3 = x2 + 1, x4 = x2*x3", f004, 0, (0.5,), df004,
     [(-1.0,), (0.0,), (1.3,)]),
]


def as_tuple(g):
    return tuple(g) if isinstance(g, tuple) else (g,)


def fmt(g):
    """A scalar or a tuple of scalars with 3 decimals."""
    parts = [f"{float(v):.3f}" for v in as_tuple(g)]
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def check(fn, wrt, dfn, points):
    """Largest |s2sad gradient - analytic gradient| over ``points``, for ``grad`` in
    its default mode (forward mode for one scalar argument) and in reverse mode."""
    err = 0.0
    for mode in ("auto", "reverse"):
        gfn = s2sad.grad(fn, wrt=wrt, mode=mode)
        for p in points:
            got, want = as_tuple(gfn(*p)), as_tuple(dfn(*p))
            err = max(err, max(abs(float(a) - float(b))
                               for a, b in zip(got, want, strict=True)))
    return err


def generated(fn, wrt, args):
    """The generated reverse-mode source, specialized for these arguments (arrays or
    scalars): the adjoint code of the notes."""
    return s2sad.source(fn, wrt=wrt, args=args)


def report(out=sys.stdout):
    """Print the report; return the number of failed checks."""
    failures = 0
    for _key, title, fn, wrt, point, dfn, more in EXAMPLES:
        value, g = fn(*point), s2sad.grad(fn, wrt=wrt)(*point)
        err = check(fn, wrt, dfn, [point] + more)
        ok = err < 1e-9
        failures += not ok
        shown = ", ".join("t" if isinstance(a, np.ndarray) else f"{a:g}" for a in point)
        print(f"== {title}", file=out)
        print(f"   at ({shown})", file=out)
        print(f"   value     {float(value):.3f}", file=out)
        print(f"   gradient  {fmt(g)}", file=out)
        print(f"   analytic  {fmt(dfn(*point))}   "
              f"max |error| over {1 + len(more)} points: {err:.1e}  {'ok' if ok else 'FAIL'}",
              file=out)
        print("   generated code (reverse mode):", file=out)
        print(textwrap.indent(generated(fn, wrt, point), "   | "), file=out)

    # The notes' own spelling of the adaptive loop uses break.
    print("== seed 001: the same adaptive loop written with break", file=out)
    point, more = (3.0, 0.1), [(0.3, 1e-3), (5.0, 1e-2), (-2.0, 1e-4)]
    try:
        g = s2sad.grad(halve_break)(*point)
    except s2sad.UnsupportedSyntaxError as exc:
        first = str(exc).splitlines()[0]
        print(f"   not supported yet, hence the while loop above:\n   {first}", file=out)
    else:
        err = check(halve_break, 0, dhalve, [point] + more)
        ok = err < 1e-9
        failures += not ok
        print(f"   at (3, 0.1)\n   gradient  {fmt(g)}", file=out)
        print(f"   analytic  {fmt(dhalve(*point))}   max |error| over {1 + len(more)} points: "
              f"{err:.1e}  {'ok' if ok else 'FAIL'}", file=out)
        print("   generated code (reverse mode):", file=out)
        print(textwrap.indent(s2sad.source(halve_break), "   | "), file=out)
    print(f"\n{len(EXAMPLES)} examples, {failures} failed check(s)", file=out)
    return failures


if __name__ == "__main__":
    sys.exit(1 if report() else 0)
