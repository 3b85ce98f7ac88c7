"""Restores nothing reads (a step of the clean-up, called by ``optimize.run``).

Takes and gives a generated ``FunctionDef``. A store into an array, ``z[i] = v``,
destroys the element it overwrites; the forward sweep keeps it (``_old1 =
snapshot(z, i)``, on the tape in a loop) and the reverse sweep puts it back
(``z[i] = _old1``), for the adjoint code that runs later and reads ``z`` as it was.
Often none does: an array filled in a loop and reduced after it
(``z[i] = x[i] * y`` then ``np.sum(z * z)``) is read by the reverse sweep only
before the loop's reverse runs. Such a restore goes, with its snapshot and the
push and pop that carried it: in that loop, one call, one push and one pop less
per iteration.

A restore ``z[...] = _oldK`` goes when, by liveness over the function (loops
iterated to a fixed point), no statement that can run after it reads ``z`` before
``z`` is bound anew or deleted; a store into ``z`` is not a read of it, an
augmented store (``z[i] += g``) is. Names are not memory, so this is done only for
an array no other name can share memory with (``_private``): bound only to a new
array (``np.zeros(n)``, arithmetic, a copy), and read only in ways that make a new
value of it (arithmetic, a NumPy ufunc or full reduction, an element of it taken as
a number, its shape) or hand it to a runtime helper that only reads it. A view
(``row = z[0]``), a copy the user made by assignment (``w = z``), a list or a call
of a function of the user's holding it keeps every restore of ``z``.
"""

from __future__ import annotations

import builtins

import gast
import numpy as np

from . import runtime
from .gastutil import walk
from .kinds import is_array_kind

# runtime helpers and the positions at which they only read an array (its values or
# its shape): what they return never shares its memory
_READERS = {runtime.snapshot: {0}, runtime.unbroadcast: {1}, runtime.zeros_like: {0},
            runtime.sum_adjoint: {1}, runtime.getitem_adjoint: {1}, runtime.copy_of: {0}}
# (and those at which they read only its shape and dtype, which a restore keeps)
_SHAPE_ONLY = {runtime.unbroadcast: {1}, runtime.zeros_like: {0}, runtime.sum_adjoint: {1},
               runtime.getitem_adjoint: {1}}
_NEW_ARRAYS = {np.zeros, np.ones, np.empty, np.full, np.zeros_like, np.ones_like,
               np.empty_like, np.full_like, np.arange, np.linspace, np.eye, np.identity,
               runtime.copy_of}
_READ_ATTRIBUTES = {"shape", "ndim", "size", "dtype"}
_NEW_METHODS = {"copy", "sum", "mean", "prod", "max", "min"}


def run(tree, ctx):
    """Remove the restores nothing reads, then their snapshots and the tape's push and
    pop of each; returns whether something went."""
    if not ctx.snapshots:
        return False
    restores = {}                   # array name -> its restores
    for s in walk(tree):
        if s.__class__ is gast.Assign and len(s.targets) == 1 \
                and s.targets[0].__class__ is gast.Subscript \
                and s.targets[0].value.__class__ is gast.Name \
                and s.value.__class__ is gast.Name and s.value.id in ctx.snapshots:
            restores.setdefault(s.targets[0].value.id, []).append(s)
    if not restores:
        return False
    arrays = _private(tree, ctx, set(restores))
    dead = set()
    for q in arrays:
        _Live(ctx, q, {id(s) for s in restores[q]}, dead).block(tree.body, False)
    if not dead:
        return False
    _remove(tree.body, dead)
    _unrecord(tree, ctx)
    return True


class _Live:
    """Backward liveness of the one array name ``q``: ``block(stmts, live_after)``
    tells whether ``q`` is live before ``stmts``; the ids of the ``restores`` after
    which it is not go to ``dead``, in a last sweep once each loop's fixed point is
    known."""

    def __init__(self, ctx, q, restores, dead):
        self.ctx, self.q, self.restores, self.dead = ctx, q, restores, dead
        self.marking = True

    def block(self, stmts, live):
        for x in reversed(stmts):
            live = self.stmt(x, live)
        return live

    def stmt(self, x, live):
        cls = x.__class__
        if cls is gast.If:
            return self.block(x.body, live) | self.block(x.orelse, live) | self.reads(x.test)
        if cls is gast.For or cls is gast.While:
            header = self.reads(x.iter if cls is gast.For else x.test)
            marking, self.marking = self.marking, False
            start = False               # live at the start of the body
            while True:
                again = self.block(x.body, live | start | (cls is gast.While and header))
                if again == start:
                    break
                start = again
            self.marking = marking
            if marking:
                self.block(x.body, live | start | (cls is gast.While and header))
            return live | start | header
        if cls is gast.Assign:
            if id(x) in self.restores:
                if not live and self.marking:
                    self.dead.add(id(x))
                return live or self.reads(x.targets[0].slice)
            target = x.targets[0] if len(x.targets) == 1 else None
            if target.__class__ is gast.Name and target.id == self.q:
                return self.reads(x.value)
            if target.__class__ is gast.Subscript and target.value.__class__ is gast.Name \
                    and target.value.id == self.q:
                return live or self.reads(target.slice) or self.reads(x.value)
            return live or self.reads(x)
        if cls is gast.Delete:
            if any(t.__class__ is gast.Name and t.id == self.q for t in x.targets):
                return False
            return live or self.reads(x)
        return live or self.reads(x)

    def reads(self, node):
        """``node`` reads the values of ``q`` (what a restore changes), not only its
        shape or dtype (``z.shape``, ``unbroadcast(g, z)``, ``zeros_like(z)``...)."""
        q = self.q
        stack = [node]
        while stack:
            n = stack.pop()
            cls = n.__class__
            if cls is gast.Name:
                if n.id == q and n.ctx.__class__ is not gast.Del:
                    return True
                continue
            if cls is gast.Attribute and n.attr in _READ_ATTRIBUTES \
                    and n.value.__class__ is gast.Name:
                continue
            if cls is gast.Call and n.func.__class__ is gast.Name:
                shape_only = _SHAPE_ONLY.get(self.ctx.injected.get(n.func.id))
                if shape_only:
                    stack.extend(a for k, a in enumerate(n.args) if k not in shape_only)
                    stack.extend(n.keywords)
                    continue
            stack.extend(_children(n))
        return False


def _private(tree, ctx, names):
    """Those of ``names`` (arrays) that no other name can share memory with: see the
    module's docstring."""
    found = {q for q in names if is_array_kind(ctx.var_kinds.get(q)) and q not in ctx.params}
    bad = set()
    for s in walk(tree):
        if not found - bad:
            break
        cls = s.__class__
        if cls is gast.Assign:
            for t in s.targets:
                if t.__class__ is gast.Name and t.id in found and not _new_array(s.value, ctx):
                    bad.add(t.id)
                elif t.__class__ is gast.Subscript and t.value.__class__ is gast.Name:
                    _uses(t.slice, found, bad, ctx)
                elif t.__class__ is not gast.Name:
                    _uses(t, found, bad, ctx)
            scalar = len(s.targets) == 1 and s.targets[0].__class__ is gast.Name \
                and ctx.var_kinds.get(s.targets[0].id) == "S"
            _uses(s.value, found, bad, ctx, element=scalar)
        elif cls is gast.AugAssign:
            t = s.target
            if t.__class__ is gast.Subscript and t.value.__class__ is gast.Name:
                _uses(t.slice, found, bad, ctx)
            else:
                _uses(t, found, bad, ctx)
            _uses(s.value, found, bad, ctx)
        elif cls in (gast.Expr, gast.Return):
            if s.value is not None:
                _uses(s.value, found, bad, ctx)
        elif cls in (gast.If, gast.While):
            _uses(s.test, found, bad, ctx)
        elif cls is gast.For:
            _uses(s.target, found, bad, ctx)
            _uses(s.iter, found, bad, ctx)
        elif cls is gast.Delete:
            for t in s.targets:
                if t.__class__ is not gast.Name:
                    _uses(t, found, bad, ctx)
        elif cls in (gast.FunctionDef, gast.Lambda, gast.ClassDef, gast.Global,
                     gast.Nonlocal) and s is not tree:
            return set()            # nested code, or names bound elsewhere: none
        elif isinstance(s, gast.stmt) and cls not in (gast.Pass, gast.Break,
                                                       gast.Continue, gast.FunctionDef):
            _uses(s, found, bad, ctx)
    return found - bad


def _new_array(e, ctx):
    """``e`` makes an array of its own: arithmetic, a copy, ``np.zeros(...)``..."""
    if e.__class__ in (gast.BinOp, gast.UnaryOp):
        return True
    if e.__class__ is not gast.Call:
        return False
    f = e.func
    if f.__class__ is gast.Attribute and f.attr == "copy" and not e.args:
        return True
    return _callee(e, ctx) in _NEW_ARRAYS


def _callee(call, ctx):
    from .shapes import callee
    try:
        return callee(call, ctx)
    except TypeError:
        return None


def _uses(e, names, bad, ctx, element=False):
    """Add to ``bad`` the ``names`` the expression ``e`` reads in a way that may share
    their memory: anything but the safe reads of the module's docstring. With
    ``element``: ``e`` is the whole value of an assignment to a number, so ``a[i]``
    there is an element."""
    stack = [(e, None, element)]
    while stack:
        n, parent, elem = stack.pop()
        cls = n.__class__
        if cls is gast.Name:
            if n.id in names and not _safe(n, parent, elem, ctx):
                bad.add(n.id)
            continue
        if cls is gast.Subscript and n.value.__class__ is gast.Name and n.value.id in names:
            if not (elem or parent is not None and _consumes(parent, n, ctx)):
                bad.add(n.value.id)
            stack.append((n.slice, n, False))
            continue
        for child in _children(n):
            stack.append((child, n, False))


def _children(n):
    for f in n._fields:
        v = getattr(n, f, None)
        if isinstance(v, gast.AST):
            yield v
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, gast.AST):
                    yield item


def _safe(name, parent, elem, ctx):
    """The load ``name`` of an array under ``parent`` makes a new value of it."""
    if parent is None:
        return False
    if parent.__class__ is gast.Attribute:
        return parent.attr in _READ_ATTRIBUTES or parent.attr in _NEW_METHODS
    return _consumes(parent, name, ctx)


def _consumes(parent, child, ctx):
    """``parent`` makes a new value of its operand ``child`` (or only reads it)."""
    cls = parent.__class__
    if cls in (gast.BinOp, gast.UnaryOp, gast.Compare):
        return True
    if cls is not gast.Call or child not in parent.args or parent.keywords:
        return False
    f = _callee(parent, ctx)
    if f is None:
        return False
    try:
        positions = _READERS.get(f)
    except TypeError:
        return False
    if positions is not None:
        return parent.args.index(child) in positions
    if f is builtins.len:
        return True
    from .activity import _FULL_REDUCTIONS
    if isinstance(f, np.ufunc):
        return f.nout == 1
    try:
        return f in _FULL_REDUCTIONS and len(parent.args) == 1
    except TypeError:
        return False


def _remove(stmts, dead):
    """Drop the statements whose ids are in ``dead`` from ``stmts`` and the blocks in it
    (a block left empty gets a ``pass``)."""
    keep = [x for x in stmts if id(x) not in dead]
    for x in keep:
        for inner in (getattr(x, "body", None), getattr(x, "orelse", None)):
            if isinstance(inner, list) and inner and x.__class__ is not gast.FunctionDef:
                _remove(inner, dead)
    stmts[:] = keep or [gast.Pass()]


def _unrecord(tree, ctx):
    """Drop the snapshots nothing reads now, with the push and the pop that carried each
    (one push of the name onto a tape and one pop of it off the same tape: the pop
    takes off what that push put on, so the other records stay in step). A tape read
    otherwise than by ``append`` and ``pop`` (its length counts a loop's trips) keeps
    its records."""
    from .optimize import _tapes
    tapes = _tapes(tree, ctx)
    pushes, pops, makes, other = {}, {}, {}, set()
    tape_reads = {}
    for s in walk(tree):
        if s.__class__ is gast.Expr and _tape_call(s.value, tapes, "append"):
            arg = s.value.args[0]
            if arg.__class__ is gast.Name and arg.id in ctx.snapshots:
                pushes.setdefault(arg.id, []).append((s, s.value.func.value.id))
            else:       # (another record: what it pushes reads no snapshot)
                _reads_of(arg, ctx.snapshots, other)
            continue
        if s.__class__ is gast.Assign and _tape_call(s.value, tapes, "pop"):
            t = s.targets[0] if len(s.targets) == 1 else None
            if t.__class__ is gast.Name and t.id in ctx.snapshots:
                pops.setdefault(t.id, []).append((s, s.value.func.value.id))
            continue
        if s.__class__ is gast.Assign and len(s.targets) == 1 \
                and s.targets[0].__class__ is gast.Name and s.targets[0].id in ctx.snapshots:
            n = s.targets[0].id
            if s.value.__class__ is gast.Call and _callee(s.value, ctx) is runtime.snapshot:
                makes.setdefault(n, []).append(s)
                _reads_of(s.value, ctx.snapshots, other)
                continue
        if isinstance(s, gast.stmt) and not isinstance(s, (gast.FunctionDef, gast.If,
                                                            gast.For, gast.While)):
            for m in walk(s):
                if m.__class__ is gast.Name and m.ctx.__class__ is not gast.Store:
                    if m.id in ctx.snapshots:
                        other.add(m.id)
                    elif m.id in tapes:
                        tape_reads[m.id] = True
        elif s.__class__ in (gast.If, gast.While, gast.For):
            header = s.test if s.__class__ is not gast.For else s.iter
            for m in walk(header):
                if m.__class__ is gast.Name:
                    other.add(m.id)
                    if m.id in tapes:
                        tape_reads[m.id] = True
    dead = set()
    for n, made in makes.items():
        if n in other:
            continue
        push, pop = pushes.get(n, []), pops.get(n, [])
        if not push and not pop:
            dead.update(id(s) for s in made)
        elif len(push) == 1 and len(pop) == 1 and push[0][1] == pop[0][1] \
                and push[0][1] not in tape_reads:
            dead.update((id(push[0][0]), id(pop[0][0])))
            dead.update(id(s) for s in made)
    if dead:
        _remove(tree.body, dead)


def _reads_of(e, names, out):
    """Add to ``out`` those of ``names`` that ``e`` reads."""
    for m in walk(e):
        if m.__class__ is gast.Name and m.ctx.__class__ is gast.Load and m.id in names:
            out.add(m.id)


def _tape_call(e, tapes, method):
    """``e`` is ``T.method(...)`` for a tape ``T`` (one argument for ``append``)."""
    return e.__class__ is gast.Call and e.func.__class__ is gast.Attribute \
        and e.func.attr == method and e.func.value.__class__ is gast.Name \
        and e.func.value.id in tapes and not e.keywords \
        and len(e.args) == (1 if method == "append" else 0)
