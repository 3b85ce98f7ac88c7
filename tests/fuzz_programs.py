"""A seeded generator of random differentiable programs, and a checker.

``generate(seed)`` returns a :class:`Program`: the text of a module defining
``def f(x, y, n)`` (two float arguments and a small int argument) written in
the subset of Python s2sad supports: straight-line arithmetic, ``math`` calls
with safe arguments, ``if``/``elif``/``else``, ``for`` over ``range(k)`` or
``range(n)``, ``while`` loops with a data-dependent test and a trip-count
guard, nesting, tuple assignments, reassignment (of parameters too), names
defined in one branch only and overwritten later, loop-carried values.

Values stay bounded by construction: every float name holds a value of
magnitude at most about 4 (products are scaled, growing expressions go
through ``tanh``/``sin``/``cos``, denominators are ``1.0 + b*b`` or
``2.0 + sin(b)``, ``log``/``sqrt`` take ``1.0 + b*b``), so central finite
differences are accurate.

``check(program, points=2)`` imports the module from a real file (so
``inspect.getsource`` works), computes ``s2sad.grad(f, wrt=(0, 1), mode="reverse")`` and
compares it with central differences at random points. A point where finite
differences with two step sizes disagree (near a branch switch, a kink of
``abs``/``max`` or a change of a loop's trip count) is skipped.

It also checks ``value_and_grad``'s value against ``f``, optionally ``jvp``
along a random direction against the gradient, and that no call writes into
the caller's arrays.

Extra constructs are chosen with the module level ``FEATURES`` set (or the
``features=`` argument): ``"inplace"`` (element writes into a local array),
``"break"``, ``"continue"``, ``"early_return"``, ``"calls"`` (module-level
helpers calling each other) -- all on by default -- and ``"vectors"`` (``x``
is a NumPy array of shape (3,); off by default). ``avoid=`` leaves out
constructs that trigger open bugs (see ``KNOWN_BUGS`` and the knobs below).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import os
import random
import sys
import tempfile
import traceback
from dataclasses import dataclass, field

import numpy as np

import s2sad

#: Features beyond the supported subset; empty by default.
FEATURES: frozenset = frozenset({"inplace", "break", "continue", "early_return", "calls"})
#: Extra constructs s2sad supports: an S2SADError on a program using only these is a bug.
SUPPORTED_FEATURES = frozenset({"inplace", "break", "continue", "early_return", "calls",
                                "vectors"})
#: ``vectors``: the first argument ``x`` is a NumPy array of shape (3,), used through
#: elementwise NumPy functions, broadcasting with scalars, indexing, slicing,
#: reductions (sum, mean, dot, @, max, min), np.where and element writes.
ALL_FEATURES = frozenset({"inplace", "break", "continue", "early_return", "calls", "vectors"})
VECTOR_SIZE = 3

FUNC = "f"
PARAMS = ("x", "y", "n")
N_VALUES = (1, 2, 3)          # the int argument n at test points (range(n) runs >= once)
X_RANGE = 2.0                 # float arguments are drawn from [-X_RANGE, X_RANGE]

#: Constructs that triggered s2sad bugs (each has a named regression test in
#: tests/test_fuzz.py). The generator avoids the knobs listed in KNOWN_BUGS unless
#: told otherwise; all of these are fixed, so the set is empty.
#:
#: * ``neg_const_pow``: ``(-2.0) ** 2`` is generated as ``-2.0 ** 2`` (value -4.0).
#: * ``maybe_defined_loop``: a name defined on some paths only (or first defined in
#:   an inner loop), then assigned in a loop, is read by the loop's header copy
#:   before it exists: UnboundLocalError.
#: * ``max3``: ``max(a, b, c)`` (more than two arguments) has no derivative rule.
#: * ``input_write`` ("vectors" only): element writes into the argument ``x``; jvp of
#:   an augmented write (x[k] += ...) writes into the caller's arrays.
#: * ``vec_loop_overwrite`` ("vectors" only): an array assigned afresh in every trip
#:   of a loop: its adjoint is reset to the scalar 0.0, then unbroadcast fails.
#: * ``view_write`` ("vectors" only): an element write through a view (``w = v[::-1]``
#:   then ``w[0] = ...``) is not seen by the original array's derivative: silently
#:   wrong gradients.
#: * ``abs_np_scalar`` ("vectors" only): abs/math.fabs of a NumPy scalar (np.sum(x),
#:   x[0]...) crashes in the reverse sweep (numpy boolean subtract).
KNOWN_BUGS = frozenset()    # all fixed: neg_const_pow, maybe_defined_loop, max3

#: Knobs for constructs s2sad refuses on purpose (with a located error), left out
#: by default so that any S2SADError in a generated program is a failure:
#: writes through views are refused since 2a98917 ("take a copy first").
REFUSED = frozenset({"view_write"})

#: Program sizes: (max nesting depth, top-level statements, product of loop bounds).
SIZES = {"small": (2, (2, 4), 6), "medium": (3, (2, 7), 12), "large": (3, (4, 10), 16)}

FD_STEPS = (1e-5, 1e-6)       # two central-difference steps; points where they disagree
FD_AGREE = 1e-6               # ... by more than this (scaled) are skipped
RTOL = 1e-4                   # s2sad vs finite differences
ATOL = 1e-5


# ---------------------------------------------------------------------------
# generation


def _p(expr):
    """``expr`` parenthesized unless it is a name, a number or a call."""
    depth = 0
    for i, ch in enumerate(expr):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and (ch == " " or (ch == "-" and i == 0)):
            return f"({expr})"
    return expr


@dataclass
class Program:
    seed: int
    source: str
    features: frozenset = frozenset()
    func_name: str = FUNC


class _Scope:
    """Names that are surely defined (readable) on the current path."""

    def __init__(self, floats, ints=(), arrays=(), vecs=()):
        self.floats = list(floats)
        self.ints = list(ints)
        self.arrays = list(arrays)
        self.vecs = list(vecs)      # float arrays of shape (VECTOR_SIZE,) ("vectors")
        self.maybe = set()          # defined on some paths only: may be written, not read

    def copy(self):
        s = _Scope(self.floats, self.ints, self.arrays, self.vecs)
        s.maybe = set(self.maybe)
        return s

    def define(self, var):
        if var not in self.floats:
            self.floats.append(var)
        self.maybe.discard(var)


_LITERAL_CHARS = set("0123456789.-+() e")


def _negative_constant(expr):
    if set(expr) <= _LITERAL_CHARS:
        try:
            return eval(expr, {}) < 0   # noqa: S307 - digits and signs only
        except SyntaxError:
            return False
    return False


class Generator:
    """Builds one program from a ``random.Random``."""

    def __init__(self, rng, features=frozenset(), avoid=KNOWN_BUGS, size="small"):
        self.rng = rng
        self.features = frozenset(features)
        self.avoid = frozenset(avoid)
        self.MAX_DEPTH, self.top_size, self.MAX_TRIPS = SIZES[size]
        self.counter = itertools.count(1)
        self.helpers = []         # (name, arity) of generated module-level helpers
        self.helper_defs = []
        self.uses_np = False
        self.loop_ctl_count = 0      # break/continue statements generated so far
        self.written = []         # names in the order their assignments were generated

    # -- names --------------------------------------------------------------
    def fresh(self, prefix="v"):
        return f"{prefix}{next(self.counter)}"

    # -- expressions --------------------------------------------------------
    def atom(self, scope):
        r = self.rng.random()
        if r < 0.12:
            return repr(round(self.rng.uniform(-2.0, 2.0), 2))
        if r < 0.2 and scope.ints:
            i = self.rng.choice(scope.ints)
            return self.rng.choice([f"0.25 * {i}", f"float({i}) / 4.0"]) if i == "n" \
                else f"0.3 * {i}"
        if r < 0.26 and scope.arrays and "inplace" in self.features:
            arr = self.rng.choice(scope.arrays)
            return f"{arr}[{self.rng.randrange(3)}]"
        if r > 0.8 and scope.vecs:
            return self.reduction(scope)
        return self.rng.choice(scope.floats)

    # -- vectors ("vectors" feature) -----------------------------------------
    def reduction(self, scope):
        """A scalar of magnitude at most about 4 computed from vectors."""
        rng = self.rng
        v, w = rng.choice(scope.vecs), rng.choice(scope.vecs)
        k = rng.randrange(VECTOR_SIZE)
        ints = [i for i in scope.ints if i != "n"]
        index = f"{rng.choice(ints)} % {VECTOR_SIZE}" if ints and rng.random() < 0.3 else str(k)
        red = rng.choice([
            f"{v}[{index}]", f"{v}[-1]", f"(np.sum({v}) / 3.0)", f"np.mean({v})",
            f"(np.dot({v}, {w}) / 12.0)", f"({v} @ {w} / 12.0)", f"np.max({v})",
            f"np.min({v})", f"np.sum({v}[1:])", f"({v}.sum() / 3.0)",
            f"np.sum({v} * {w}) / 12.0",
        ])
        return f"float({red})" if "abs_np_scalar" in self.avoid else red

    def vatom(self, scope):
        rng = self.rng
        r = rng.random()
        if r < 0.1:
            return f"np.array([{', '.join(self.atom(scope) for _ in range(VECTOR_SIZE))}])"
        if r < 0.15:
            return f"np.linspace(-1.0, 1.0, {VECTOR_SIZE})"
        return rng.choice(scope.vecs)

    def vbounded(self, scope, depth):
        """A vector expression whose elements have magnitude at most about 4."""
        rng = self.rng
        if depth <= 0 or rng.random() < 0.2:
            return self.vatom(scope)
        v = lambda: _p(self.vbounded(scope, depth - 1))   # noqa: E731
        s = lambda: _p(self.bounded(scope, depth - 1))    # noqa: E731
        choice = rng.randrange(17)
        if choice == 0:
            fn = rng.choice(["np.tanh", "np.sin", "np.cos"])
            inner = rng.choice([f"{v()} + {v()}", f"{v()} * {v()}", f"{v()} * {s()}",
                                f"{v()} - {s()}"])
            return f"{fn}({inner})"
        if choice == 1:
            c = round(rng.uniform(0.1, 0.9), 2)
            return f"{c} * {v()} + {round(1.0 - c, 2)} * {v()}"
        if choice == 2:
            d = v()
            return f"{v()} / (1.0 + {d} * {d})"
        if choice == 3:
            return f"0.25 * {v()} * {rng.choice([v(), s()])}"
        if choice == 4:
            return f"np.exp(np.sin({v()}))"
        if choice == 5:
            d = v()
            return f"np.log(1.0 + {d} * {d})"
        if choice == 6:
            d = v()
            return f"np.sqrt(1.0 + {d} * {d}) - 1.0"
        if choice == 7:
            return f"-{v()}"
        if choice == 8:
            return f"np.abs({v()})"
        if choice == 9:
            return f"np.{rng.choice(['maximum', 'minimum'])}({v()}, {rng.choice([v(), s()])})"
        if choice == 10:
            return f"np.where({v()} > {s()}, {v()}, {rng.choice([v(), s()])})"
        if choice == 11:
            return f"{v()}[::-1]"
        if choice == 12:
            return f"0.5 * ({v()} + {s()})"
        if choice == 13:
            return f"0.0625 * {v()} ** {rng.choice([2, 3])}"
        if choice == 14:
            return f"np.tanh({v()} * {self.reduction(scope)})"
        if choice == 15:
            return f"0.1 * np.cumsum({v()})" if rng.random() < 0.5 \
                else f"np.concatenate(({v()}[1:], {v()}[:1]))"
        return f"0.5 * ({v()} - {v()})"

    def bounded(self, scope, depth):
        """An expression of magnitude at most about 4 when every name is."""
        rng = self.rng
        if depth <= 0 or rng.random() < 0.25:
            return self.atom(scope)
        b = lambda: _p(self.bounded(scope, depth - 1))   # noqa: E731
        choice = rng.randrange(18)
        if choice >= 16:
            return self.more_math(scope, b)
        if choice == 0:
            return f"math.{rng.choice(['tanh', 'sin', 'cos'])}({self.expr(scope, depth - 1)})"
        if choice == 1:
            c = round(rng.uniform(0.1, 0.9), 2)
            return f"{c} * {b()} + {round(1.0 - c, 2)} * {b()}"
        if choice == 2:
            d = b()
            return f"{b()} / (1.0 + {d} * {d})"
        if choice == 3:
            return f"0.25 * {b()} * {b()}"
        if choice == 4:
            return f"math.exp({rng.choice(['math.sin', 'math.tanh', 'math.cos'])}({b()}))"
        if choice == 5:
            d = b()
            return f"math.log(1.0 + {d} * {d})"
        if choice == 6:
            d = b()
            return f"math.sqrt(1.0 + {d} * {d}) - 1.0"
        if choice == 7:
            return f"-{b()}"
        if choice == 8:
            return f"{rng.choice(['abs', 'math.tanh'])}({b()})"
        if choice == 9:
            return f"{rng.choice(['max', 'min'])}({b()}, {b()})"
        if choice == 10:
            return f"({b()} if {self.compare(scope, depth - 1)} else {b()})"
        if choice == 11:
            return f"0.0625 * {self.base(b())} ** {rng.choice([2, 3])}"
        if choice == 12:
            return f"{b()} / (2.0 + math.sin({b()}))"
        if choice == 13 and self.helpers:
            name, arity = rng.choice(self.helpers)
            return f"{name}({', '.join(b() for _ in range(arity))})"
        if choice == 14:
            return f"math.tanh({b()} * {b()})"
        return f"0.5 * ({b()} - {b()})"

    def more_math(self, scope, b):
        """The rest of the math module and the builtins, with safe arguments."""
        rng = self.rng
        d = b()
        pos = f"(1.0 + {d} * {d})"          # in [1, 17]
        unit = f"0.5 * math.sin({b()})"       # in [-0.5, 0.5]
        ints = [i for i in scope.ints]
        forms = [
            f"math.atan({b()})", f"math.erf({b()})", f"math.log1p({d} * {d})",
            f"math.expm1(math.sin({b()}))", f"math.atan2({b()}, 2.0 + math.sin({b()}))",
            f"math.pow({pos}, 0.5)", f"0.25 * {pos} ** 0.5", f"math.log({pos}, 2.0)",
            f"math.log2({pos})", f"math.log10({pos})", f"math.sinh(math.sin({b()}))",
            f"math.cosh(math.sin({b()}))", f"math.asin({unit})", f"math.acos({unit})",
            f"math.degrees({b()}) * 0.01", f"math.radians({b()}) * 10.0",
            f"math.hypot({b()}, 1.0 + {d} * {d})", f"math.fabs({b()})",
            f"max({b()}, {b()}, {b()})" if "max3" not in self.avoid else f"max({b()}, {b()})",
            f"min({b()}, 0.5)", f"float({b()})",
            f"math.tan(0.5 * math.sin({b()}))", f"{pos} ** math.sin({b()}) * 0.25",
            f"0.0625 * {b()} * {pos} / {pos}",
        ]
        if ints:
            i = rng.choice(ints)
            forms += [f"0.0625 * {self.base(b())} ** {i}", f"{b()} / (1.0 + {i})",
                      f"{b()} * {i} / 4.0"]
        return rng.choice(forms)

    def base(self, expr):
        """The base of a power (avoiding a negative literal while that bug is open)."""
        if "neg_const_pow" in self.avoid:
            return f"abs({expr})" if _negative_constant(expr) else expr
        if self.rng.random() < 0.15:
            return f"({-round(self.rng.uniform(0.1, 2.0), 2)})"
        return expr

    def expr(self, scope, depth):
        """An expression of moderate size (fine as an argument of sin/tanh/cos)."""
        rng = self.rng
        b = lambda: _p(self.bounded(scope, max(depth - 1, 0)))   # noqa: E731
        choice = rng.randrange(8)
        if choice == 0:
            return f"{b()} + {b()}"
        if choice == 1:
            return f"{b()} - {b()}"
        if choice == 2:
            return f"{b()} * {b()}"
        if choice == 3:
            return f"{self.base(b())} ** {rng.choice([2, 3])}"
        if choice == 4:
            d = b()
            return f"{b()} / (1.0 + {d} * {d})"
        if choice == 5:
            return f"{round(rng.uniform(-2, 2), 2)} * {b()} + {b()}"
        return b()

    def compare(self, scope, depth=1):
        rng = self.rng
        r = rng.random()
        if r < 0.15 and scope.ints:
            i = rng.choice(scope.ints)
            return rng.choice([f"{i} % 2 == 0", f"{i} > 1", f"{i} < 2"])
        op = rng.choice(["<", ">", "<=", ">="])
        left = self.bounded(scope, min(depth, 1))
        right = self.bounded(scope, 0) if rng.random() < 0.5 \
            else repr(round(rng.uniform(-1.0, 1.0), 2))
        test = f"{left} {op} {right}"
        if 0.8 < r <= 0.85:
            test = f"{right} {op} {left} {op} {self.bounded(scope, 0)}"     # chained
        if r > 0.9:
            test = f"{test} {rng.choice(['and', 'or'])} {self.compare(scope, 0)}"
        elif r > 0.85:
            test = f"not {test}" if rng.random() < 0.5 else f"not ({test})"
        return test

    # -- statements ---------------------------------------------------------
    def block(self, scope, indent, depth, trips, in_loop, size=None, loop_ctl=None):
        size = size if size is not None else self.rng.randint(1, max(1, 3 - depth))
        lines = []
        for _ in range(size):
            lines += self.statement(scope, indent, depth, trips, in_loop, loop_ctl)
        return lines

    def statement(self, scope, indent, depth, trips, in_loop, loop_ctl):
        lines = self._statement(scope, indent, depth, trips, in_loop, loop_ctl)
        for line in lines:
            head = line.split(" = ")[0] if " = " in line else ""
            for word in head.replace(",", " ").split():
                if word.isidentifier() and word not in ("if", "elif", "while", "for"):
                    self.written.append(word)
        return lines

    def _statement(self, scope, indent, depth, trips, in_loop, loop_ctl):
        rng = self.rng
        pad = "    " * indent
        kinds = ["new", "new", "reassign", "reassign", "tuple", "aug"]
        if scope.maybe and not (in_loop and "maybe_defined_loop" in self.avoid):
            kinds += ["overwrite", "overwrite"]
        if depth < self.MAX_DEPTH:
            kinds += ["if", "if", "for", "while"]
        if in_loop:
            kinds += ["carry", "carry"]
        if loop_ctl and ("break" in self.features or "continue" in self.features):
            kinds += ["loopctl"]
        if "early_return" in self.features:
            kinds += ["early_return"]
        if "inplace" in self.features:
            kinds += ["array"] if not scope.arrays else ["store", "store"]
        if "vectors" in self.features and scope.vecs:
            kinds += ["vreassign", "vstore"] + (["vcarry"] if in_loop else [])
            if not (in_loop and "vec_loop_overwrite" in self.avoid):
                kinds += ["vnew", "vnew"]
        kind = rng.choice(kinds)
        b = lambda d=2: self.bounded(scope, d)   # noqa: E731

        if kind in ("new", "reassign", "overwrite"):
            if kind == "new":
                v = self.fresh()
            elif kind == "reassign":
                v = rng.choice(scope.floats)
            else:
                v = rng.choice(sorted(scope.maybe))
            line = f"{pad}{v} = {b()}"
            scope.define(v)
            return [line]
        if kind == "tuple":
            r = rng.random()
            if r < 0.1:
                a, c = self.fresh(), self.fresh()
                line = f"{pad}{a} = {c} = {b(1)}"
                scope.define(a)
                scope.define(c)
                return [line]
            if r < 0.3 and len(scope.floats) >= 2:
                a, c = rng.sample(scope.floats, 2)
                return [f"{pad}{a}, {c} = {c}, {a}"]
            if r < 0.7 and len(scope.floats) >= 2:
                a, c = rng.sample(scope.floats, 2)
                return [f"{pad}{a}, {c} = {c}, {b(1)}"]
            a, c = self.fresh(), self.fresh()
            line = f"{pad}{a}, {c} = {b(1)}, {b(1)}"
            scope.define(a)
            scope.define(c)
            return [line]
        if kind == "aug":
            v = rng.choice(scope.floats)
            r = rng.random()
            if r < 0.4:
                return [f"{pad}{v} *= {rng.choice(['0.5', '-0.75', '0.9'])}"]
            if r < 0.5:
                return [f"{pad}{v} /= 1.0 + {v} * {v}"]
            if r < 0.6:
                return [f"{pad}{v} **= {rng.choice(['2', '3'])}", f"{pad}{v} = math.tanh({v})"]
            return [f"{pad}{v} {rng.choice(['+=', '-='])} 0.25 * {b(1)}",
                    f"{pad}{v} = math.tanh({v})"]
        if kind == "carry":
            v = rng.choice(scope.floats)
            c = round(rng.uniform(0.2, 0.7), 2)
            form = rng.randrange(3)
            if form == 0:
                return [f"{pad}{v} = {c} * {v} + {round(1 - c, 2)} * math.sin({self.expr(scope, 2)})"]
            if form == 1:
                return [f"{pad}{v} = math.tanh({v} + {b(1)})"]
            return [f"{pad}{v} = {v} / (1.0 + {v} * {v}) + 0.5 * {b(1)} * {c}"]
        if kind == "if":
            return self.if_stmt(scope, indent, depth, trips, in_loop, loop_ctl)
        if kind == "for":
            return self.for_stmt(scope, indent, depth, trips, in_loop)
        if kind == "while":
            return self.while_stmt(scope, indent, depth, trips)
        if kind == "loopctl":
            word = rng.choice(sorted({"break", "continue"} & self.features))
            self.loop_ctl_count += 1
            return [f"{pad}if {self.compare(scope)}:", f"{pad}    {word}"]
        if kind == "early_return":
            return [f"{pad}if {self.compare(scope)}:", f"{pad}    return {b()}"]
        if kind == "vnew":
            w = self.fresh("w")
            value = self.vbounded(scope, 2)
            if value.isidentifier():
                value += " * 1.0"       # a new array, never a second name for one
            elif value.endswith("[::-1]") and "view_write" in self.avoid:
                value = f"({value}) * 1.0"      # a copy, not a view
            scope.vecs.append(w)
            return [f"{pad}{w} = {value}"]
        if kind == "vreassign":
            w = rng.choice(scope.vecs)
            return [f"{pad}{w} = 0.5 * {w} + 0.5 * {_p(self.vbounded(scope, 2))}"]
        if kind == "vcarry":
            w = rng.choice(scope.vecs)
            return [rng.choice([f"{pad}{w} = np.tanh({w} + {_p(self.vbounded(scope, 1))})",
                                f"{pad}{w} = 0.5 * {w} + 0.5 * np.sin({w} * {_p(b(1))})"])]
        if kind == "vstore":
            targets = [w for w in scope.vecs if w != "x" or "input_write" not in self.avoid]
            if not targets:
                return [f"{pad}pass"]
            w = rng.choice(targets)
            ints = [i for i in scope.ints if i != "n"]
            idx = f"{rng.choice(ints)} % {VECTOR_SIZE}" if ints and rng.random() < 0.4 \
                else str(rng.randrange(VECTOR_SIZE))
            op = rng.choice(["=", "+=", "*="])
            value = b(1) if op != "*=" else rng.choice(["0.5", "-0.9"])
            return [f"{pad}{w}[{idx}] {op} {value}"]
        if kind == "array":
            self.uses_np = True
            a = self.fresh("buf")
            scope.arrays.append(a)
            return [f"{pad}{a} = np.zeros(3)"]
        if kind == "store":
            a = rng.choice(scope.arrays)
            idx = rng.choice([str(rng.randrange(3))] + [f"{i} % 3" for i in scope.ints
                                                         if i != "n"])
            op = rng.choice(["=", "+=", "*="])
            value = b(1) if op != "*=" else rng.choice(["0.5", "-0.9"])
            return [f"{pad}{a}[{idx}] {op} {value}"]
        raise AssertionError(kind)

    def if_stmt(self, scope, indent, depth, trips, in_loop, loop_ctl):
        pad = "    " * indent
        lines = [f"{pad}if {self.compare(scope)}:"]
        branches = [scope.copy()]
        lines += self.block(branches[0], indent + 1, depth + 1, trips, in_loop,
                            loop_ctl=loop_ctl)
        while self.rng.random() < 0.25:
            s = scope.copy()
            lines.append(f"{pad}elif {self.compare(scope)}:")
            lines += self.block(s, indent + 1, depth + 1, trips, in_loop, loop_ctl=loop_ctl)
            branches.append(s)
        if self.rng.random() < 0.7:
            s = scope.copy()
            lines.append(f"{pad}else:")
            lines += self.block(s, indent + 1, depth + 1, trips, in_loop, loop_ctl=loop_ctl)
            branches.append(s)
        else:
            branches.append(scope.copy())
        self._join(scope, branches)
        return lines

    def _join(self, scope, branches):
        surely = set(branches[0].floats)
        anywhere = set()
        for s in branches:
            surely &= set(s.floats)
            anywhere |= set(s.floats) | s.maybe
        for s in branches[1:]:
            for v in s.floats:
                if v in surely and v not in scope.floats:
                    scope.floats.append(v)
        for v in branches[0].floats:
            if v in surely and v not in scope.floats:
                scope.floats.append(v)
        scope.maybe |= anywhere - set(scope.floats)
        for s in branches:
            for a in s.arrays:
                if a not in scope.arrays and all(a in t.arrays for t in branches):
                    scope.arrays.append(a)
            for a in s.vecs:
                if a not in scope.vecs and all(a in t.vecs for t in branches):
                    scope.vecs.append(a)

    def for_stmt(self, scope, indent, depth, trips, in_loop=False):
        rng = self.rng
        pad = "    " * indent
        i = self.fresh("i")
        outer = [i for i in scope.ints if i.startswith("i")]
        r = rng.random()
        if r < 0.4 and trips * 3 <= self.MAX_TRIPS and "n" in scope.ints:
            bound, k = "n", 3
        elif r < 0.55 and outer and trips * 3 <= self.MAX_TRIPS:
            bound, k = rng.choice(outer), 0          # range(i): may not run at all
        else:
            k = rng.randint(0, min(4, self.MAX_TRIPS // trips))
            bound = str(k)
        inner = scope.copy()
        if rng.random() < 0.25 and "seq_loops" not in self.avoid:
            # over a tuple of constants: the normal form indexes it, the clean-up
            # iterates over it directly again (forward) and backwards (reverse sweep)
            k = rng.randint(0, min(4, self.MAX_TRIPS // trips))
            items = [str(round(rng.uniform(-1.5, 1.5), 2)) for _ in range(k)]
            bound = "seq"
            inner.floats.append(i)
            lines = [f"{pad}for {i} in ({', '.join(items)}{',' if k == 1 else ''}):"]
        else:
            inner.ints.append(i)
            lines = [f"{pad}for {i} in range({bound}):"]
        ctl_before = self.loop_ctl_count
        lines += self.block(inner, indent + 1, depth + 1, trips * max(k, 1), True,
                            loop_ctl="for")
        # names first defined in the body are defined after it when it surely runs
        runs = (bound == "n" or k >= 1) and self.loop_ctl_count == ctl_before
        if in_loop and "maybe_defined_loop" in self.avoid:
            runs = False
        self._join(scope, [inner] if runs else [inner, scope.copy()])
        return lines

    def while_stmt(self, scope, indent, depth, trips):
        rng = self.rng
        pad = "    " * indent
        j = self.fresh("j")
        k = rng.randint(1, max(1, min(4, self.MAX_TRIPS // trips)))
        lines = [f"{pad}{j} = 0"]
        if scope.floats and rng.random() < 0.4:
            v = rng.choice(scope.floats)
            test = f"abs({v}) > {round(rng.uniform(0.05, 0.5), 2)} and {j} < {k}"
        else:
            test = f"{j} < {k} and {_p(self.compare(scope))}"
        lines.append(f"{pad}while {test}:")
        inner = scope.copy()
        lines.append(f"{pad}    {j} = {j} + 1")     # first, so 'continue' cannot skip it
        inner.ints.append(j)
        lines += self.block(inner, indent + 1, depth + 1, trips * k, True, loop_ctl="while")
        inner.ints.remove(j)
        self._join(scope, [inner, scope.copy()])
        return lines

    # -- whole programs -----------------------------------------------------
    def helper(self):
        name = f"h{len(self.helpers) + 1}"
        arity = self.rng.randint(1, 2)
        params = ["a", "b"][:arity]
        scope = _Scope(params)
        body = self.block(scope, 1, 2, 1, False, size=self.rng.randint(1, 3))
        body.append(f"    return {self.bounded(scope, 2)}")
        self.helper_defs.append(f"def {name}({', '.join(params)}):\n" + "\n".join(body))
        self.helpers.append((name, arity))

    def function(self):
        rng = self.rng
        if "calls" in self.features:
            for _ in range(rng.randint(1, 3)):
                self.helper()
        if "vectors" in self.features:
            self.uses_np = True
            scope = _Scope(["y"], ints=["n"], vecs=["x"])
        else:
            scope = _Scope(["x", "y"], ints=["n"])
        body = self.block(scope, 1, 0, 1, False, size=rng.randint(*self.top_size))
        # mostly the names written last, so that most of the code matters
        recent = []
        for v in reversed(self.written):
            if v in scope.floats and v not in recent:
                recent.append(v)
        pool = recent[:4] if recent and rng.random() < 0.85 else list(scope.floats)
        picked = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
        terms = []
        for v in picked:
            c = round(rng.uniform(-1.5, 1.5), 2)
            terms.append(f"{c} * {v}" if rng.random() < 0.6 else v)
        if scope.arrays and "inplace" in self.features:
            terms.append(f"{scope.arrays[0]}[{rng.randrange(3)}]")
        if scope.vecs:
            recent_vecs = [w for w in reversed(self.written) if w in scope.vecs]
            for w in dict.fromkeys(recent_vecs[:2] or scope.vecs[-1:]):
                terms.append(f"{round(rng.uniform(-1.0, 1.0), 2)} * np.sum({w})")
        ret = " + ".join(terms)
        if rng.random() < 0.2:
            ret = f"math.sin({ret})"
        body.append(f"    return {ret}")
        header = "import math\n"
        if self.uses_np:
            header += "\nimport numpy as np\n"
        parts = [header]
        parts += self.helper_defs
        parts.append(f"def {FUNC}(x, y, n):\n" + "\n".join(body))
        return "\n\n".join(parts) + "\n"


def generate(seed, features=None, avoid=None, size="small"):
    """The program for ``seed`` (deterministic for given arguments).

    ``features``: extra constructs (default: the module's ``FEATURES``);
    ``avoid``: constructs to leave out (default: ``KNOWN_BUGS | REFUSED``);
    ``size``: one of ``SIZES``.
    """
    feats = FEATURES if features is None else frozenset(features)
    unknown = feats - ALL_FEATURES
    if unknown:
        raise ValueError(f"unknown fuzz features: {sorted(unknown)}")
    avoid = KNOWN_BUGS | REFUSED if avoid is None else frozenset(avoid)
    rng = random.Random(seed)
    gen = Generator(rng, feats, avoid, size)
    return Program(seed=seed, source=gen.function(), features=feats)


# ---------------------------------------------------------------------------
# checking


@dataclass
class Result:
    program: Program
    status: str      # ok | skipped | mismatch | value | forward | error | crash | unsupported
    #                  | bad_program | timeout
    checked: int = 0     # points compared
    skipped: int = 0     # points skipped because finite differences were unreliable
    details: list = field(default_factory=list)

    @property
    def failed(self):
        return self.status in ("mismatch", "value", "forward", "mutated", "error", "crash",
                               "bad_program", "timeout")

    def report(self):
        """The program, the generated source and the details, for a failure message."""
        text = [f"=== fuzz program seed={self.program.seed} status={self.status} "
                f"features={sorted(self.program.features)} ==="]
        text.append(self.program.source)
        text += self.details
        return "\n".join(text)


_LOAD_COUNTER = itertools.count()


def load(program, directory):
    """Write the program to ``directory`` and import it; return the module."""
    stem = f"fuzz_{program.seed}_{next(_LOAD_COUNTER)}"
    path = os.path.join(directory, stem + ".py")
    with open(path, "w") as fh:
        fh.write(program.source)
    spec = importlib.util.spec_from_file_location(stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(stem, None)
    return module


def _copies(args):
    """Fresh copies of array arguments (the function may write into them)."""
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def call(f, args):
    return f(*_copies(args))


def central(f, args, i, h):
    x = args[i]
    if isinstance(x, np.ndarray):
        out = np.zeros(x.shape)
        for k in np.ndindex(*x.shape):
            step = h * max(1.0, abs(x[k]))
            plus, minus = _copies(args), _copies(args)
            plus[i][k] += step
            minus[i][k] -= step
            out[k] = (f(*plus) - f(*minus)) / (2.0 * step)
        return out
    step = h * max(1.0, abs(x))
    plus, minus = list(args), list(args)
    plus[i] += step
    minus[i] -= step
    return (call(f, plus) - call(f, minus)) / (2.0 * step)


def fd_gradient(f, args, wrt=(0, 1)):
    """Central differences with two steps; None when they disagree (unreliable)."""
    out = []
    for i in wrt:
        a, b = (np.asarray(central(f, args, i, h), dtype=float) for h in FD_STEPS)
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return None
        if np.any(np.abs(a - b) > FD_AGREE * np.maximum(1.0, np.abs(b)) + 1e-7):
            return None
        out.append(b if b.ndim else float(b))
    return tuple(out)


def _close(got, want):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return False
    return bool(np.all(np.abs(got - want) <= ATOL + RTOL * np.maximum(np.abs(want),
                                                                       np.abs(got))))


def _is_gradient_of(g, arg):
    """A float for a scalar argument, an array of the same shape for an array."""
    if isinstance(arg, np.ndarray):
        return isinstance(g, np.ndarray) and g.shape == arg.shape
    return isinstance(g, float)


def _safe_source(f, **kw):
    try:
        return s2sad.source(f, wrt=(0, 1), **kw)
    except Exception as exc:   # noqa: BLE001 - only for the failure message
        return f"<no source: {type(exc).__name__}: {exc}>"


def check(program, directory=None, points=2, point_seed=None, check_value=True,
          check_forward=False):
    """Differentiate ``program`` and compare with finite differences.

    ``check_value``: also compare ``value_and_grad``'s value with ``f`` (first point);
    ``check_forward``: also compare forward mode, ``s2sad.jvp`` along a random
    direction, ``s2sad.grad(f, wrt=1)`` (forward mode: ``y`` is a float) and, where
    ``x`` is a float, ``s2sad.grad(f, wrt=(0, 1), mode="forward")``, with the
    reverse-mode gradient (first point).
    """
    own_dir = directory is None
    directory = directory or tempfile.mkdtemp(prefix="s2sad_fuzz_")
    try:
        module = load(program, directory)
    except Exception as exc:    # noqa: BLE001
        return Result(program, "bad_program", details=[f"import failed: {exc!r}"])
    f = getattr(module, program.func_name)
    try:
        return _check(program, f, points, point_seed, check_value, check_forward)
    finally:
        forget(f)
        if own_dir:
            _cleanup(directory)


def _check(program, f, points, point_seed, check_value, check_forward):
    rng = random.Random(program.seed if point_seed is None else point_seed)
    result = Result(program, "ok")
    expect_supported = program.features <= SUPPORTED_FEATURES
    try:
        g = s2sad.grad(f, wrt=(0, 1), mode="reverse")
        vg = s2sad.value_and_grad(f, wrt=(0, 1)) if check_value else None
        fwd = s2sad.jvp(f, wrt=(0, 1)) if check_forward else None
        # forward mode: grad's default along y (a float), asked for along x and y
        gy = s2sad.grad(f, wrt=1) if check_forward else None
        gxy = s2sad.grad(f, wrt=(0, 1), mode="forward") if check_forward else None
    except s2sad.S2SADError as exc:
        return _s2sad_error(result, exc, expect_supported)
    tries = 0
    while result.checked + result.skipped < points and tries < 4 * points:
        tries += 1
        x0 = rng.uniform(-X_RANGE, X_RANGE)
        if "vectors" in program.features:
            x0 = np.array([x0] + [rng.uniform(-X_RANGE, X_RANGE)
                                  for _ in range(VECTOR_SIZE - 1)])
        args = [x0, rng.uniform(-X_RANGE, X_RANGE), rng.choice(N_VALUES)]
        before = _copies(args)
        try:
            value = call(f, args)
        except Exception as exc:    # noqa: BLE001 - a generator bug, not an s2sad one
            result.status = "bad_program"
            result.details.append(f"f{tuple(args)} raised {exc!r}")
            return result
        if not isinstance(value, float) or not math.isfinite(value):
            result.status = "bad_program"
            result.details.append(f"f{tuple(args)} = {value!r}")
            return result
        try:
            got = g(*args)
            first = result.checked + result.skipped == 0
            got_v = vg(*args) if check_value and first else None
            direction = (rng.uniform(-1, 1), rng.uniform(-1, 1))
            if isinstance(args[0], np.ndarray):
                direction = (np.array([rng.uniform(-1, 1) for _ in range(args[0].size)]),
                             direction[1])
            got_t = fwd(*args, *direction) if check_forward and first else None
            got_y = gy(*args) if check_forward and first else None
            got_xy = gxy(*args) if check_forward and first \
                and not isinstance(args[0], np.ndarray) else None
        except s2sad.S2SADError as exc:
            return _s2sad_error(result, exc, expect_supported)
        except Exception:   # noqa: BLE001
            result.status = "crash"
            result.details.append(f"grad f{tuple(args)} raised:\n{traceback.format_exc()}")
            result.details.append("--- generated source ---\n" + _safe_source(f, args=args))
            return result
        if isinstance(args[0], np.ndarray) and not np.array_equal(args[0], before[0]):
            result.status = "mutated"
            result.details.append(f"grad/value_and_grad/jvp changed the input x: "
                                  f"{before[0]!r} -> {args[0]!r}")
            result.details.append("--- generated source ---\n" + _safe_source(f, args=args))
            return result
        if got_v is not None:
            v, gv = got_v
            if not (isinstance(v, float) and _close(v, value) and isinstance(gv, tuple)
                    and all(_close(a, c) for a, c in zip(gv, got))):
                result.status = "value"
                result.details.append(
                    f"value_and_grad f{tuple(args)} = {got_v!r}\n"
                    f"  f() = {value!r}, grad = {got!r}")
                result.details.append("--- generated source ---\n" + _safe_source(f, args=args))
                return result
        if got_t is not None:
            value_t, tangent = got_t
            along = float(np.sum(got[0] * direction[0])) + got[1] * direction[1]
            if not (_close(value_t, value) and _close(tangent, along)):
                result.status = "forward"
                result.details.append(
                    f"jvp f{tuple(args)} along {direction} = {got_t!r}\n"
                    f"  f() = {value!r}, grad . direction = {along!r} (grad = {got!r})")
                result.details.append("--- generated source (jvp) ---\n"
                                      + _safe_source(f, mode="forward", args=args))
                return result
        if got_y is not None and not (isinstance(got_y, float) and _close(got_y, got[1])):
            result.status = "forward"
            result.details.append(f"grad(f, wrt=1) (forward mode) f{tuple(args)} = {got_y!r}, "
                                  f"reverse mode: {got[1]!r}")
            result.details.append("--- generated source ---\n" + gy.source)
            return result
        if got_xy is not None and not (
                isinstance(got_xy, tuple) and len(got_xy) == 2
                and all(_is_gradient_of(a, arg) and _close(a, b)
                        for a, b, arg in zip(got_xy, got, args))):
            result.status = "forward"
            result.details.append(f"grad(f, wrt=(0, 1), mode='forward') f{tuple(args)} = "
                                  f"{got_xy!r}, mode='reverse': {got!r}")
            result.details.append("--- generated source ---\n" + gxy.source)
            return result
        want = fd_gradient(f, args)
        if want is None:
            result.skipped += 1
            continue
        result.checked += 1
        ok = isinstance(got, tuple) and len(got) == 2 and all(
            _is_gradient_of(a, arg) and _close(a, b) for a, b, arg in zip(got, want, args))
        if not ok:
            result.status = "mismatch"
            result.details.append(f"at (x, y, n) = {tuple(args)!r}:\n"
                                  f"  s2sad:   {got!r}\n  numeric: {want!r}")
            result.details.append("--- generated source ---\n" + _safe_source(f, args=args))
            return result
    if result.checked == 0:
        result.status = "skipped"
    return result


def _s2sad_error(result, exc, expect_supported):
    if expect_supported:
        result.status = "error"
        result.details.append(f"{type(exc).__name__}: {exc}")
    else:
        result.status = "unsupported"
        result.details.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    return result


def _cleanup(directory):
    for name in os.listdir(directory):
        try:
            os.remove(os.path.join(directory, name))
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass


def forget(func):
    """Drop s2sad's cached transformations of ``func`` (keeps long runs small)."""
    from s2sad import api
    cache = getattr(api, "_CACHE", None)
    if isinstance(cache, dict):
        for key in [k for k in list(cache) if isinstance(k, tuple) and k and k[0] is func]:
            cache.pop(key, None)
