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
#: reductions (sum, mean, dot, @, max, min), np.where and element writes; and (knob
#: ``numpy2``, leave it out with ``avoid``) the later NumPy rules: polyval, interp, cov,
#: median/quantile/percentile, float64, sum/mean with where=, split/array_split,
#: gradient, select, np.add.at, eigh/eigvalsh/pinv/lstsq/qr and singular values.
ALL_FEATURES = frozenset({"inplace", "break", "continue", "early_return", "calls", "vectors"})
#: Opt-in container, loop and argument features (never on by default, not in
#: ALL_FEATURES, so the short-mode tests' programs stay the same):
#:
#: * ``lists``: lists built in the function: literals, ``append`` in loops (of arrays
#:   too with "vectors"), indexing with constants, ``-1`` and loop indices, item
#:   stores, comprehensions, ``sum``, ``len``, ``list``, ``tuple``, ``zip``,
#:   ``enumerate``, ``reversed``, ``sorted(..., reverse=)``, ``map`` of a named
#:   helper, starred unpacking, ``max``/``min`` of a list, ``math.prod``;
#:   ``min``/``max``/``sorted`` with ``key=abs`` and ``default=`` (knob ``key_default``),
#:   stores at a loop's own index ``for i, t in enumerate(L): L[i] = ...`` (knob
#:   ``own_index_store``);
#: * ``tuples``: tuple packing and unpacking (nested too), helpers returning tuples,
#:   loops over tuples of pairs;
#: * ``dicts``: ``x`` is a dict ``{"a": float, "b": float}`` (read by key, through
#:   ``.items()``, ``.values()``, ``.keys()``, written into), dicts built with
#:   constant keys and item stores into them;
#: * ``while_acc``: ``while`` loops whose trip count depends on the data
#:   (``while s < bound and k < 20``) and Newton iterations that converge.
CONTAINER_FEATURES = frozenset({"lists", "tuples", "dicts", "while_acc"})
KNOWN_FEATURES = ALL_FEATURES | CONTAINER_FEATURES
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
#: ``loop_writes_dict`` ("dicts"): an item store into a dict in a loop over its
#: ``.items()``/``.values()``, refused since 20e4153 ("loop over the keys instead").
#: ``loop_writes_list`` ("lists"), an item store into a list inside a loop over that
#: list, refused since 6c57ce5, is read by index since the branch 'alias'
#: (``normalize.Normalizer.list_written_in``); still refused where the list may have
#: a second name or is not surely a list.
#: ``d[k] += v`` into a dict the function builds of floats is supported since the
#: branch 'alias' (``aliasing._scalar_dicts``); into the dict argument ``x``, whose items
#: may be arrays, it is refused, and the generator writes ``x[k] = x[k] + v`` there.
REFUSED = frozenset({"view_write", "loop_writes_dict"})

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
        # containers (opt-in features): name -> what is surely known about it
        self.lists = {}             # list of floats -> its least length
        self.vlists = {}            # list of vectors -> its least length
        self.dicts = {}             # dict -> its keys (tuple; all hold floats)
        self.tuples = {}            # tuple of floats -> its length
        self.iterating = set()      # lists a loop iterates over: no append into them
        self.key_loops = set()      # dicts a loop iterates over by key: no new keys

    def copy(self):
        s = _Scope(self.floats, self.ints, self.arrays, self.vecs)
        s.maybe = set(self.maybe)
        s.lists, s.vlists = dict(self.lists), dict(self.vlists)
        s.dicts, s.tuples = dict(self.dicts), dict(self.tuples)
        s.iterating = set(self.iterating)
        s.key_loops = set(self.key_loops)
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
        self.containers = bool(self.features & CONTAINER_FEATURES)
        self.tuple_helpers = []   # (name, arity) of helpers returning a pair
        self.map_helpers = []     # names of one-argument helpers (for map)
        self.aliased = set()      # lists with a second name (L2 = L1)
        self.loop_ctl_count = 0      # break/continue statements generated so far
        self.written = []         # names in the order their assignments were generated

    # -- names --------------------------------------------------------------
    def fresh(self, prefix="v"):
        return f"{prefix}{next(self.counter)}"

    # -- expressions --------------------------------------------------------
    def atom(self, scope):
        if self.containers and (scope.lists or scope.vlists or scope.dicts or scope.tuples) \
                and self.rng.random() < (0.5 if not scope.floats else 0.25):
            return self.container_atom(scope)
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
        ]) if "numpy2" in self.avoid or rng.random() < 0.75 else self.numpy2_reduction(v, w)
        return f"float({red})" if "abs_np_scalar" in self.avoid else red

    def numpy2_reduction(self, v, w):
        """A scalar through the NumPy rules added after the first campaigns (knob
        ``numpy2``): polyval, interp, cov, median/quantile/percentile, float64, sum and
        mean with where=, array_split, the symmetric eigenvalues, pinv, lstsq, qr and
        singular values of well-conditioned matrices built from ``v`` and ``w``."""
        rng = self.rng
        near_eye = f"(np.eye(3) + 0.1 * np.outer(np.tanh({v}), np.tanh({w})))"
        sym = f"(np.diag({v}) + 0.1 * np.outer({w}, {w}))"
        return rng.choice([
            f"(0.25 * np.polyval({v}, 0.5 * math.tanh({w}[0])))",
            f"np.interp(math.tanh({w}[1]), np.array([-1.0, 0.0, 1.0]), {v})",
            f"math.tanh(np.cov({v}, {w})[0, 1])",
            f"np.median({v})", f"np.quantile({v}, 0.3)", f"(0.5 * np.percentile({v}, 70.0))",
            f"float(np.float64({v}[1]))",
            f"(np.sum({v}, where={w} > 0.0) / 3.0)",
            f"np.mean({v}, where=np.array([True, False, True]))",
            f"(0.5 * np.sum(np.array_split({v}, 2)[0]))",
            f"(0.25 * np.linalg.eigvalsh({sym})[-1])",
            f"(0.25 * np.linalg.eigh({sym})[0][0])",
            f"np.sum(np.linalg.pinv({near_eye}) @ {v}) / 4.0",
            f"np.linalg.lstsq(np.stack([np.ones(3), np.linspace(-1.0, 1.0, 3) + 0.1 * "
            f"np.tanh({w})], axis=1), {v}, rcond=None)[0][1]",
            f"np.sum(np.linalg.qr({near_eye})[1] @ {v}) / 8.0",
            f"(0.25 * np.linalg.svd({sym}, compute_uv=False)[0])",
        ])

    def vatom(self, scope):
        rng = self.rng
        r = rng.random()
        if r < 0.1:
            return f"np.array([{', '.join(self.atom(scope) for _ in range(VECTOR_SIZE))}])"
        if r < 0.15:
            return f"np.linspace(-1.0, 1.0, {VECTOR_SIZE})"
        if r > 0.85 and scope.vlists:
            vl, m = rng.choice(sorted(scope.vlists.items()))
            return rng.choice([f"{vl}[-1]", f"{vl}[0]", f"(sum({vl}) / len({vl}))",
                               f"{vl}[{rng.randrange(m)}]"])
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
            r = rng.random() if "numpy2" not in self.avoid else 0.0
            if r > 0.7:
                return rng.choice([
                    f"0.5 * np.gradient({v()})",
                    f"np.select([{v()} > {s()}, {v()} < -1.0], [{v()}, 0.5 * {v()}], "
                    f"default=0.25)",
                    f"np.concatenate(np.array_split({v()}, 2)[::-1])",
                    f"np.concatenate(np.split({v()}, 3)[::-1])",
                    f"np.float64({s()}) * {v()} * 0.25"])
            return f"0.1 * np.cumsum({v()})" if r < 0.35 \
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
        kinds += self.container_kinds(scope, depth, in_loop)
        kind = rng.choice(kinds)
        b = lambda d=2: self.bounded(scope, d)   # noqa: E731
        if kind.startswith("c_"):
            return self.container_statement(kind, scope, indent, depth, trips, in_loop)

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
            if "numpy2" not in self.avoid and rng.random() < 0.2:
                other = rng.choice([str(rng.randrange(VECTOR_SIZE)), idx])
                return [f"{pad}np.add.at({w}, [{idx}, {other}], 0.25 * {_p(b(1))})",
                        f"{pad}{w} = np.tanh({w})"]
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
        for attr in ("lists", "vlists", "dicts", "tuples"):
            mine = getattr(scope, attr)
            maps = [getattr(t, attr) for t in branches]
            joined = {}
            for name in maps[0]:
                if all(name in m for m in maps):
                    vals = [m[name] for m in maps]
                    if attr == "dicts":
                        common = tuple(k for k in vals[0] if all(k in v for v in vals))
                        if common:
                            joined[name] = common
                    elif attr == "tuples":
                        if all(v == vals[0] for v in vals):
                            joined[name] = vals[0]
                    else:
                        joined[name] = min(vals)
            mine.clear()
            mine.update(joined)

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


    # -- containers (opt-in features: lists, tuples, dicts, while_acc) -------
    def container_atom(self, scope):
        """A float read out of a list, a tuple or a dict (magnitude at most about 4)."""
        rng = self.rng
        pools = [a for a in ("lists", "vlists", "dicts", "tuples") if getattr(scope, a)]
        what = rng.choice(pools)
        if what == "dicts":
            d, keys = rng.choice(sorted(scope.dicts.items()))
            if rng.random() < 0.15:
                return f"(sum({d}.values()) / len({d}))"
            return f'{d}["{rng.choice(keys)}"]'
        if what == "tuples":
            t, m = rng.choice(sorted(scope.tuples.items()))
            return rng.choice([f"{t}[{rng.randrange(m)}]", f"{t}[-1]"])
        if what == "vlists":
            vl, m = rng.choice(sorted(scope.vlists.items()))
            return rng.choice([f"(np.sum({vl}[-1]) / 3.0)", f"{vl}[0][{rng.randrange(3)}]",
                               f"np.mean(sum({vl}) / len({vl}))"])
        lst, m = rng.choice(sorted(scope.lists.items()))
        forms = [f"(sum({lst}) / (1 + len({lst})))",
                 f"math.prod([math.tanh(t) for t in {lst}])",
                 f"(sum(t * t for t in {lst}) / (4.0 + 4.0 * len({lst})))",
                 f"tuple({lst} + [0.5])[-1]"]
        if m >= 1:
            ints = [i for i in scope.ints]
            forms += [f"{lst}[-1]", f"{lst}[0]", f"{lst}[{rng.randrange(m)}]",
                      f"max({lst})", f"min({lst})", f"sorted({lst})[0]",
                      f"sorted({lst}, reverse=True)[{rng.randrange(m)}]",
                      f"list(reversed({lst}))[0]"]
            if ints:
                forms.append(f"{lst}[{rng.choice(ints)} % len({lst})]")
        if m >= 2:
            forms += [f"(0.0625 * math.prod({lst}[:2]))", f"{lst}[1:][0]"]
        if "key_default" not in self.avoid:
            forms += [f"max({lst}, key=abs, default=0.5)", f"min({lst}, default=-0.25)"]
            if m >= 1:
                forms += [f"sorted({lst}, key=abs)[-1]", f"min({lst}, key=abs)"]
        return rng.choice(forms)

    def container_kinds(self, scope, depth, in_loop):
        """Statement kinds of the container features that fit ``scope``."""
        kinds = []
        f = self.features
        loops = depth < self.MAX_DEPTH
        if "lists" in f:
            kinds += ["c_lnew"]
            if scope.lists:
                kinds += ["c_lnew", "c_lnew", "c_lderive", "c_lappend", "c_lappend", "c_lstore"]
                if loops:
                    kinds += ["c_lfor", "c_lfor"]
                if any(m >= 2 for m in scope.lists.values()):
                    kinds += ["c_lstar"]
            if "vectors" in f and scope.vecs:
                kinds += ["c_vlnew"] + (["c_vlappend", "c_vlappend"] if scope.vlists else [])
        if "tuples" in f:
            kinds += ["c_tpack", "c_tunpack"]
            if self.tuple_helpers:
                kinds += ["c_tcall", "c_tcall"]
            if loops:
                kinds += ["c_tfor"]
        if "dicts" in f:
            kinds += ["c_dnew", "c_dstore", "c_dstore"]
            if loops:
                kinds += ["c_dfor", "c_dfor"]
        if "while_acc" in f and loops:
            kinds += ["c_wacc", "c_wacc", "c_newton"]
        return kinds

    def _loop_body(self, scope, inner, lines, indent, depth, trips, k):
        lines += self.block(inner, indent + 1, depth + 1, trips * max(k, 1), True,
                            loop_ctl="for")
        self._join(scope, [inner, scope.copy()])
        return lines

    def container_statement(self, kind, scope, indent, depth, trips, in_loop):
        rng = self.rng
        pad = "    " * indent
        b = lambda d=2: self.bounded(scope, d)   # noqa: E731
        lists = sorted(scope.lists.items())
        if kind == "c_lnew":
            name = self.fresh("L")
            r = rng.random()
            if r < 0.25 or not lists:
                m = rng.randint(1, 3)
                line = f"{pad}{name} = [{', '.join(b(1) for _ in range(m))}]"
                scope.lists[name] = m
                return [line]
            src, m = rng.choice(lists)
            other, m2 = rng.choice(lists)
            forms = [(f"[math.tanh(t) for t in {src}]", m),
                     (f"list({src})", m),
                     (f"sorted({src}, reverse={rng.choice(['True', 'False'])})", m),
                     (f"[t * u * 0.25 for t, u in zip({src}, {other})]", min(m, m2)),
                     (f"[0.5 * t + 0.1 * k for k, t in enumerate({src})]", m),
                     (f"[t for t in {src} if t > {round(rng.uniform(-1, 1), 2)}]", 0),
                     (f"{src} + [{b(1)}]", m + 1),
                     (f"[0.5 * t for t in reversed({src})]", m),
                     (f"[{b(1)}] * 2", 2),
                     (f"[{b(1)} for k in range({rng.randint(1, 3)})]", 1),
                     (src, m)]           # a second name for the same list
            if self.map_helpers:
                forms += [(f"list(map({rng.choice(self.map_helpers)}, {src}))", m)] * 2
            value, m = rng.choice(forms)
            scope.lists[name] = m
            if value == src:
                self.aliased |= {name, src}
            return [f"{pad}{name} = {value}"]
        if kind == "c_lderive":
            src, m = rng.choice(lists)
            v = self.fresh()
            scope.define(v)
            return [f"{pad}{v} = {self.container_atom(scope)}"]
        if kind == "c_lappend":
            # (a second name for a list iterated over would grow it forever)
            cands = [(n, m) for n, m in lists if n not in scope.iterating
                     and not (scope.iterating and n in self.aliased)]
            if not cands:
                return [f"{pad}pass"]
            lst, m = rng.choice(cands)
            value = b(1) if rng.random() < 0.7 or m == 0 else \
                f"math.tanh({lst}[-1] + {_p(b(1))})"
            # a second name for the list may exist: every list's least length stays
            scope.lists[lst] = m + 1
            return [f"{pad}{lst}.append({value})"]
        if kind == "c_lstore":
            cands = [(n, m) for n, m in lists if m >= 1 and not (
                n in scope.iterating and "loop_writes_list" in self.avoid)]
            if not cands:
                return [f"{pad}pass"]
            lst, m = rng.choice(cands)
            ints = [i for i in scope.ints]
            idx = rng.choice([str(rng.randrange(m)), "-1"]
                             + [f"{i} % len({lst})" for i in ints])
            op = rng.choice(["=", "=", "+=", "*="])
            value = b(1) if op != "*=" else rng.choice(["0.5", "-0.9"])
            line = f"{pad}{lst}[{idx}] {op} {value}"
            if op == "+=":
                return [line, f"{pad}{lst}[{idx}] = math.tanh({lst}[{idx}])"]
            return [line]
        if kind == "c_lfor":
            lst, m = rng.choice(lists)
            t = self.fresh("t")
            inner = scope.copy()
            inner.iterating.add(lst)
            r = rng.random()
            if r < 0.3:
                head = f"for {t} in {lst}:"
            elif r < 0.55:
                k = self.fresh("i")
                head = f"for {k}, {t} in enumerate({lst}):"
                inner.ints.append(k)
                if "own_index_store" not in self.avoid and lst not in scope.iterating \
                        and rng.random() < 0.5:
                    # a store at the loop's own index: differentiated, not refused
                    op = rng.choice(["=", "=", "+=", "*="])
                    value = {"=": f"math.tanh({t} + {_p(b(1))})", "+=": f"0.25 * {_p(b(1))}",
                             "*=": "0.5"}[op]
                    inner.floats.append(t)
                    lines = [f"{pad}{head}", f"{pad}    {lst}[{k}] {op} {value}"]
                    body = self._loop_body(scope, inner, lines, indent, depth, trips, 4)
                    if t in scope.floats:
                        scope.floats.remove(t)
                    return body
            elif r < 0.7:
                head = f"for {t} in reversed({lst}):"
            elif r < 0.8:
                head = f"for {t} in sorted({lst}, reverse=True):"
            else:
                other, _ = rng.choice(lists)
                u = self.fresh("t")
                head = f"for {t}, {u} in zip({lst}, {other}):"
                inner.iterating.add(other)
                inner.floats.append(u)
            inner.floats.append(t)
            lines = [f"{pad}{head}"]
            body = self._loop_body(scope, inner, lines, indent, depth, trips, 4)
            for w in (t,):
                if w in scope.floats:
                    scope.floats.remove(w)
            return body
        if kind == "c_lstar":
            lst, m = rng.choice([(n, m) for n, m in lists if m >= 2])
            a, rest = self.fresh(), self.fresh("L")
            scope.define(a)
            scope.lists[rest] = m - 1
            if rng.random() < 0.5:
                return [f"{pad}{a}, *{rest} = {lst}"]
            return [f"{pad}*{rest}, {a} = {lst}"]
        if kind == "c_vlnew":
            name = self.fresh("VL")
            w = rng.choice(scope.vecs)
            scope.vlists[name] = 1
            value = rng.choice([f"{w} * 1.0", f"np.tanh({w})"])
            if rng.random() < 0.3:
                return [f"{pad}{name} = []", f"{pad}{name}.append({value})"]
            return [f"{pad}{name} = [{value}]"]
        if kind == "c_vlappend":
            vl, m = rng.choice(sorted(scope.vlists.items()))
            value = rng.choice([f"np.tanh({_p(self.vbounded(scope, 1))})",
                                f"0.5 * {vl}[-1] + 0.5 * np.sin({_p(self.vbounded(scope, 1))})"])
            scope.vlists[vl] = m + 1        # (after the value, which may read an item)
            return [f"{pad}{vl}.append({value})"]
        if kind == "c_tpack":
            name = self.fresh("T")
            m = rng.randint(2, 3)
            line = f"{pad}{name} = ({', '.join(b(1) for _ in range(m))})"
            if rng.random() < 0.3 and lists:
                src, lm = rng.choice(lists)
                if lm >= 1:
                    m, line = 2, f"{pad}{name} = tuple({src}[:1]) + ({b(1)},)"
            scope.tuples[name] = m
            return [line]
        if kind == "c_tunpack":
            r = rng.random()
            if r < 0.5 and scope.tuples:
                t, m = rng.choice(sorted(scope.tuples.items()))
                names = [self.fresh() for _ in range(m)]
                for v in names:
                    scope.define(v)
                return [f"{pad}{', '.join(names)} = {t}"]
            a, c, d = self.fresh(), self.fresh(), self.fresh()
            line = f"{pad}{a}, ({c}, {d}) = {b(1)}, ({b(1)}, {b(1)})"
            for v in (a, c, d):
                scope.define(v)
            return [line]
        if kind == "c_tcall":
            name, arity = rng.choice(self.tuple_helpers)
            call = f"{name}({', '.join(b(1) for _ in range(arity))})"
            if rng.random() < 0.6:
                u, v = self.fresh(), self.fresh()
                scope.define(u)
                scope.define(v)
                return [f"{pad}{u}, {v} = {call}"]
            t = self.fresh("T")
            scope.tuples[t] = 2
            return [f"{pad}{t} = {call}"]
        if kind == "c_tfor":
            u, v = self.fresh("t"), self.fresh("t")
            k = rng.randint(1, 3)
            pairs = ", ".join(f"({b(0)}, {b(0)})" for _ in range(k))
            inner = scope.copy()
            inner.floats += [u, v]
            lines = [f"{pad}for {u}, {v} in ({pairs}{',' if k == 1 else ''}):"]
            body = self._loop_body(scope, inner, lines, indent, depth, trips, k)
            for w in (u, v):
                if w in scope.floats:
                    scope.floats.remove(w)
            return body
        if kind == "c_dnew":
            name = self.fresh("D")
            keys = rng.sample(["u", "w", "z"], rng.randint(1, 2))
            line = f"{pad}{name} = {{{', '.join(f'{chr(34)}{k}{chr(34)}: {b(1)}' for k in keys)}}}"
            scope.dicts[name] = tuple(keys)
            return [line]
        if kind == "c_dstore":
            if not scope.dicts:
                return [f"{pad}pass"]
            cands = [(n, k) for n, k in sorted(scope.dicts.items()) if not (
                n in scope.iterating and "loop_writes_dict" in self.avoid)]
            if not cands:
                return [f"{pad}pass"]
            d, keys = rng.choice(cands)
            new_keys = ["z", "q"] if d != "x" and d not in scope.iterating \
                and d not in scope.key_loops else []
            key = rng.choice(list(keys) + new_keys)
            op = rng.choice(["=", "=", "+="]) if key in keys else "="
            line = f'{pad}{d}["{key}"] {op} {b(1)}'
            if op == "+=" and ("dict_aug" in self.avoid or d == "x"):
                # (x["a"] += v: the argument's items may be arrays, which += would update
                # in place: refused)
                line = f'{pad}{d}["{key}"] = {d}["{key}"] + {_p(b(1))}'
            if key not in keys:
                scope.dicts[d] = keys + (key,)
            if op == "+=":
                return [line, f'{pad}{d}["{key}"] = math.tanh({d}["{key}"])']
            return [line]
        if kind == "c_dfor":
            if not scope.dicts:
                return [f"{pad}pass"]
            d, keys = rng.choice(sorted(scope.dicts.items()))
            t = self.fresh("t")
            inner = scope.copy()
            inner.floats.append(t)
            r = rng.random()
            if r < 0.4:
                k = self.fresh("k")
                lines = [f"{pad}for {k}, {t} in {d}.items():"]
                inner.iterating.add(d)
            elif r < 0.7:
                lines = [f"{pad}for {t} in {d}.values():"]
                inner.iterating.add(d)
            else:
                k = self.fresh("k")
                inner.key_loops.add(d)
                lines = [f"{pad}for {k} in {d}{rng.choice(['.keys()', ''])}:",
                         f"{pad}    {t} = {d}[{k}]"]
            body = self._loop_body(scope, inner, lines, indent, depth, trips, len(keys))
            if t in scope.floats:
                scope.floats.remove(t)
            return body
        if kind == "c_wacc":
            s_, j = self.fresh(), self.fresh("j")
            bound = round(rng.uniform(0.5, 3.0), 2)
            limit = 20 if trips == 1 else 4
            lines = [f"{pad}{s_} = {round(rng.uniform(-0.5, 0.5), 2)}", f"{pad}{j} = 0",
                     f"{pad}while {s_} < {bound} and {j} < {limit}:",
                     f"{pad}    {j} += 1",
                     f"{pad}    {s_} = {s_} + 0.3 + 0.2 * math.tanh({self.expr(scope, 1)})"]
            inner = scope.copy()
            inner.ints.append(j)
            inner.floats.append(s_)
            if rng.random() < 0.5:
                lines += self.block(inner, indent + 1, depth + 1, trips * 4, True,
                                    loop_ctl="while")
            self._join(scope, [inner, scope.copy()])
            scope.define(s_)
            return lines
        if kind == "c_newton":
            c, z, j = self.fresh(), self.fresh(), self.fresh("j")
            d = _p(b(1))
            lines = [f"{pad}{c} = 1.0 + {d} * {d}", f"{pad}{z} = {c}", f"{pad}{j} = 0",
                     f"{pad}while abs({z} * {z} - {c}) > 1e-12 * {c} and {j} < 50:",
                     f"{pad}    {z} = 0.5 * ({z} + {c} / {z})",
                     f"{pad}    {j} += 1",
                     f"{pad}{z} = {z} - 1.0"]
            scope.define(c)
            scope.define(z)
            return lines
        raise AssertionError(kind)

    def container_terms(self, scope):
        """Terms of the returned value that read the containers last written."""
        rng = self.rng
        terms = []
        recent = [w for w in reversed(self.written)]
        for attr, fmt in (("lists", "0.3 * sum({0}) / (1 + len({0}))"),
                          ("vlists", "0.1 * np.sum(sum({0})) / len({0})"),
                          ("tuples", "0.5 * {0}[-1]"),
                          ("dicts", None)):
            names = [w for w in recent if w in getattr(scope, attr)]
            for w in list(dict.fromkeys(names))[:1]:
                if attr == "dicts":
                    key = rng.choice(scope.dicts[w])
                    terms.append(f'0.7 * {w}["{key}"]')
                elif attr != "lists" or scope.lists[w] >= 0:
                    terms.append(fmt.format(w))
        if "x" in scope.dicts and not any(t.startswith('0.7 * x[') for t in terms):
            terms.append(f'0.4 * x["{rng.choice(scope.dicts["x"])}"]')
        return terms

    def tuple_helper(self):
        name = f"tp{len(self.tuple_helpers) + 1}"
        arity = self.rng.randint(1, 2)
        params = ["a", "b"][:arity]
        scope = _Scope(params)
        saved = self.features       # (an early return there would return one float)
        self.features = self.features - {"early_return"}
        body = self.block(scope, 1, 2, 1, False, size=self.rng.randint(1, 2))
        self.features = saved
        if self.rng.random() < 0.3:
            body.append(f"    if {self.compare(scope)}:")
            body.append(f"        return {self.bounded(scope, 1)}, {self.bounded(scope, 1)}")
        body.append(f"    return ({self.bounded(scope, 2)}, {self.bounded(scope, 2)})")
        self.helper_defs.append(f"def {name}({', '.join(params)}):\n" + "\n".join(body))
        self.tuple_helpers.append((name, arity))

    def map_helper(self):
        name = f"m{len(self.map_helpers) + 1}"
        scope = _Scope(["a"])
        body = [f"    return {self.bounded(scope, 2)}"]
        self.helper_defs.append(f"def {name}(a):\n" + "\n".join(body))
        self.map_helpers.append(name)

    def function(self):
        rng = self.rng
        if "calls" in self.features:
            for _ in range(rng.randint(1, 3)):
                self.helper()
        if "tuples" in self.features:
            for _ in range(rng.randint(1, 2)):
                self.tuple_helper()
        if "lists" in self.features and rng.random() < 0.5:
            self.map_helper()
        if "vectors" in self.features:
            self.uses_np = True
            scope = _Scope(["y"], ints=["n"], vecs=["x"])
        elif "dicts" in self.features:
            scope = _Scope(["y"], ints=["n"])
            scope.dicts["x"] = ("a", "b")
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
        terms += self.container_terms(scope)
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
    unknown = feats - KNOWN_FEATURES
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
                               "bad_program", "timeout", "second")

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
    """Fresh copies of array and dict arguments (the function may write into them)."""
    return [a.copy() if isinstance(a, (np.ndarray, dict)) else a for a in args]


def call(f, args):
    return f(*_copies(args))


def central(f, args, i, h):
    x = args[i]
    if isinstance(x, dict):
        out = {}
        for k in x:
            step = h * max(1.0, abs(x[k]))
            plus, minus = _copies(args), _copies(args)
            plus[i][k] += step
            minus[i][k] -= step
            out[k] = (f(*plus) - f(*minus)) / (2.0 * step)
        return out
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


def _jumps_at(f, args, i, h=FD_STEPS[0]):
    """Whether ``f`` at ``args`` is off the line through its values a step ``h`` either
    side along argument ``i`` (one float, each element of an array, each value of a
    dict): the point itself sits on a jump (a test such as ``0.59 * y + 0.41 * y >= y``
    that rounding decides), where both steps of the differences agree and are wrong."""
    f0 = call(f, args)
    x = args[i]
    keys = list(np.ndindex(*x.shape)) if isinstance(x, np.ndarray) else \
        list(x) if isinstance(x, dict) else [None]
    for k in keys:
        plus, minus = _copies(args), _copies(args)
        if k is None:
            step = h * max(1.0, abs(x))
            plus[i] += step
            minus[i] -= step
        else:
            step = h * max(1.0, abs(x[k]))
            plus[i][k] += step
            minus[i][k] -= step
        if abs(call(f, plus) + call(f, minus) - 2.0 * f0) > 1e-7 * max(1.0, abs(f0)):
            return True
    return False


def fd_gradient(f, args, wrt=(0, 1)):
    """Central differences with two steps; None when they disagree (unreliable) or
    the point sits on a jump (``_jumps_at``)."""
    out = []
    for i in wrt:
        if _jumps_at(f, args, i):
            return None
        a, b = (central(f, args, i, h) for h in FD_STEPS)
        keys = list(b) if isinstance(b, dict) else None
        if keys is not None:
            a, b = (np.array([v[k] for k in keys], dtype=float) for v in (a, b))
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return None
        if np.any(np.abs(a - b) > FD_AGREE * np.maximum(1.0, np.abs(b)) + 1e-7):
            return None
        if keys is not None:
            out.append({k: float(v) for k, v in zip(keys, b)})
        else:
            out.append(b if b.ndim else float(b))
    return tuple(out)


def _close(got, want):
    if isinstance(got, dict) or isinstance(want, dict):
        return isinstance(got, dict) and isinstance(want, dict) and set(got) == set(want) \
            and all(_close(got[k], want[k]) for k in want)
    if isinstance(got, tuple) or isinstance(want, tuple):
        return isinstance(got, tuple) and isinstance(want, tuple) and len(got) == len(want) \
            and all(_close(a, b) for a, b in zip(got, want))
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return False
    return bool(np.all(np.abs(got - want) <= ATOL + RTOL * np.maximum(np.abs(want),
                                                                       np.abs(got))))


def _is_gradient_of(g, arg):
    """A float for a scalar argument, an array of the same shape for an array."""
    if isinstance(arg, np.ndarray):
        return isinstance(g, np.ndarray) and g.shape == arg.shape
    if isinstance(arg, dict):
        return isinstance(g, dict) and set(g) == set(arg) and all(
            _is_gradient_of(g[k], arg[k]) for k in arg)
    return isinstance(g, float)


def _dot(g, d):
    """``g . d`` for a gradient and a direction of the same structure."""
    if isinstance(g, dict):
        return sum(float(g[k]) * d[k] for k in d)
    return float(np.sum(g * d))


def _safe_source(f, **kw):
    try:
        return s2sad.source(f, wrt=(0, 1), **kw)
    except Exception as exc:   # noqa: BLE001 - only for the failure message
        return f"<no source: {type(exc).__name__}: {exc}>"


def check(program, directory=None, points=2, point_seed=None, check_value=True,
          check_forward=False, check_second=False):
    """Differentiate ``program`` and compare with finite differences.

    ``check_value``: also compare ``value_and_grad``'s value with ``f`` (first point);
    ``check_forward``: also compare forward mode, ``s2sad.jvp`` along a random
    direction, ``s2sad.grad(f, wrt=1)`` (forward mode: ``y`` is a float) and, where
    ``x`` is a float, ``s2sad.grad(f, wrt=(0, 1), mode="forward")``, with the
    reverse-mode gradient (first point);
    ``check_second``: also compare second derivatives (first point checked):
    ``s2sad.hessian`` (forward over reverse), ``grad(grad(f, wrt=i), wrt=j)`` and
    ``jacobian(grad(f, wrt=0))`` with central differences of the reverse-mode
    gradient (along ``y`` only, through ``grad(grad(...))``, when ``x`` is a dict).

    A program using the opt-in ``CONTAINER_FEATURES`` whose S2SADError names the
    program's file and a line gets the status ``refused`` (a construct refused on
    purpose: look at the message), one without a location ``error``; so does any
    program whose second derivative is refused that way.
    """
    own_dir = directory is None
    directory = directory or tempfile.mkdtemp(prefix="s2sad_fuzz_")
    try:
        module = load(program, directory)
    except Exception as exc:    # noqa: BLE001
        return Result(program, "bad_program", details=[f"import failed: {exc!r}"])
    f = getattr(module, program.func_name)
    try:
        return _check(program, f, points, point_seed, check_value, check_forward,
                      check_second)
    finally:
        forget(f)
        if own_dir:
            _cleanup(directory)


def _check(program, f, points, point_seed, check_value, check_forward, check_second=False):
    rng = random.Random(program.seed if point_seed is None else point_seed)
    result = Result(program, "ok")
    expect_supported = program.features <= SUPPORTED_FEATURES
    if program.features & CONTAINER_FEATURES:
        expect_supported = f.__code__.co_filename      # located refusals are allowed
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
        elif "dicts" in program.features:
            x0 = {"a": x0, "b": rng.uniform(-X_RANGE, X_RANGE)}
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
            elif isinstance(args[0], dict):
                direction = ({k: rng.uniform(-1, 1) for k in args[0]}, direction[1])
            got_t = fwd(*args, *direction) if check_forward and first else None
            got_y = gy(*args) if check_forward and first else None
            got_xy = gxy(*args) if check_forward and first \
                and not isinstance(args[0], (np.ndarray, dict)) else None
        except s2sad.S2SADError as exc:
            return _s2sad_error(result, exc, expect_supported)
        except Exception:   # noqa: BLE001
            result.status = "crash"
            result.details.append(f"grad f{tuple(args)} raised:\n{traceback.format_exc()}")
            result.details.append("--- generated source ---\n" + _safe_source(f, args=args))
            return result
        if isinstance(args[0], np.ndarray) and not np.array_equal(args[0], before[0]) \
                or isinstance(args[0], dict) and args[0] != before[0]:
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
            along = _dot(got[0], direction[0]) + got[1] * direction[1]
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
        if check_second and result.checked == 1 and not _check_second(result, f, args, g,
                                                                       expect_supported):
            return result
    if result.checked == 0:
        result.status = "skipped"
    return result


SECOND_AGREE = 1e-5       # finite differences of the gradient: looser agreement


def _fd_of(fn, args, i, out_index):
    """Central differences of ``fn(*args)[out_index]`` along argument ``i`` (two
    steps; None where they disagree)."""
    def pick(*a):
        v = fn(*a)
        return v[out_index] if out_index is not None else v
    vals = []
    for h in (1e-5, 1e-6):
        x = args[i]
        if isinstance(x, np.ndarray):
            cols = []
            for k in np.ndindex(*x.shape):
                step = h * max(1.0, abs(x[k]))
                plus, minus = _copies(args), _copies(args)
                plus[i][k] += step
                minus[i][k] -= step
                cols.append((np.asarray(pick(*plus), dtype=float)
                             - np.asarray(pick(*minus), dtype=float)) / (2.0 * step))
            vals.append(np.stack(cols, axis=-1))
        else:
            step = h * max(1.0, abs(x))
            plus, minus = _copies(args), _copies(args)
            plus[i] += step
            minus[i] -= step
            vals.append((np.asarray(pick(*plus), dtype=float)
                         - np.asarray(pick(*minus), dtype=float)) / (2.0 * step))
    a, b = vals
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return None
    if np.any(np.abs(a - b) > SECOND_AGREE * np.maximum(1.0, np.abs(b)) + 1e-6):
        return None
    return b


def _check_second(result, f, args, g, expect_supported):
    """Second derivatives against differences of the reverse gradient ``g``; False
    (with ``result`` set) on a failure or a refusal."""
    x = args[0]
    checks = []     # (what, thunk, reference thunk)
    if isinstance(x, dict):
        checks.append(("grad(grad(f, wrt=1), wrt=1)",
                       lambda: s2sad.grad(s2sad.grad(f, wrt=1), wrt=1)(*_copies(args)),
                       lambda: _fd_of(g, args, 1, 1)))
    elif isinstance(x, np.ndarray):
        checks.append(("hessian(f, wrt=0)",
                       lambda: s2sad.hessian(f, wrt=0)(*_copies(args)),
                       lambda: _fd_of(g, args, 0, 0)))
        checks.append(("grad(grad(f, wrt=1), wrt=1)",
                       lambda: s2sad.grad(s2sad.grad(f, wrt=1), wrt=1)(*_copies(args)),
                       lambda: _fd_of(g, args, 1, 1)))
    else:
        checks.append(("hessian(f, wrt=(0, 1))",
                       lambda: _by_argument(s2sad.hessian(f, wrt=(0, 1))(*args)),
                       lambda: _pair(_fd_of(g, args, 0, None), _fd_of(g, args, 1, None))))
        checks.append(("grad(grad(f, wrt=0), wrt=1)",
                       lambda: s2sad.grad(s2sad.grad(f, wrt=0), wrt=1)(*args),
                       lambda: _fd_of(g, args, 1, 0)))
        checks.append(("grad(grad(f, wrt=1, mode='forward'), wrt=0, mode='reverse')",
                       lambda: s2sad.grad(s2sad.grad(f, wrt=1, mode="forward"), wrt=0,
                                          mode="reverse")(*args),
                       lambda: _fd_of(g, args, 0, 1)))
        # (rows: reverse over reverse, through calls of your functions too)
        checks.append(("jacobian(grad(f, wrt=0), wrt=(0, 1))",
                       lambda: s2sad.jacobian(s2sad.grad(f, wrt=0), wrt=(0, 1))(*args),
                       lambda: _pair(_fd_of(g, args, 0, 0), _fd_of(g, args, 1, 0))))
    for what, thunk, reference in checks:
        want = reference()
        if want is None:
            continue
        try:
            got = thunk()
        except s2sad.S2SADError as exc:
            # second derivatives of some first-order code are refused on purpose (a list
            # given to a callee twice, stores into lists in the gradient's code): a
            # located refusal counts as 'refused' whatever the features
            _s2sad_error(result, exc, f.__code__.co_filename)
            result.details.insert(0, f"second order: {what}")
            return False
        except Exception:   # noqa: BLE001
            result.status = "crash"
            result.details.append(f"second order: {what} f{tuple(args)} raised:\n"
                                  f"{traceback.format_exc()}")
            return False
        if isinstance(want, tuple):
            ok = isinstance(got, tuple) and len(got) == len(want) and all(
                _close(a, np.reshape(b, np.shape(a))) for a, b in zip(got, want))
        else:
            ok = _close(got, np.reshape(want, np.shape(got)))
        if not ok:
            result.status = "second"
            result.details.append(f"second order: {what} at (x, y, n) = {tuple(args)!r}:\n"
                                  f"  s2sad:   {got!r}\n  numeric: {want!r}")
            return False
    result.second = getattr(result, "second", 0) + 1
    return True


def _by_argument(h):
    """JAX's blocks of ``hessian(f, wrt=(0, 1))`` of two scalars, ``h[o][k] = d grad_o /
    d arg_k``, as the references are made: per argument ``k``, the array over ``o``."""
    return tuple(np.array([float(h[o][k]) for o in range(len(h))]) for k in range(len(h)))


def _pair(a, b):
    """Jacobian blocks along x and along y, as ``jacobian`` gives them for
    ``wrt=(0, 1)`` (None if either is unreliable)."""
    if a is None or b is None:
        return None
    return (a, b)


def _s2sad_error(result, exc, expect_supported):
    if isinstance(expect_supported, str):
        # a refusal must name the user's file and line, and must not be internal
        text = str(exc)
        if text.startswith(expect_supported + ":") and text[len(expect_supported) + 1:
                                                          ][:1].isdigit():
            result.status = "refused"
            result.details.append(f"{type(exc).__name__}: {text}")
            return result
        result.status = "error"
        result.details.append(f"unlocated {type(exc).__name__}: {text}")
        return result
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
    if hasattr(cache, "forget"):
        cache.forget(func)
    elif isinstance(cache, dict):
        for key in [k for k in list(cache) if isinstance(k, tuple) and k and k[0] is func]:
            cache.pop(key, None)
