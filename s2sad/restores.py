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
of a function of the user's holding it keeps every restore of ``z``. A list is
handled alike (bound to a display, a comprehension or a copy; an item or a slice of
it shares nothing with it: a restore rebinds a slot).

Then what only the restores needed goes too (``_unrecord``): a pop whose value
nothing reads with the one push it mirrors, snapshots nothing reads, loops left
doing nothing with their trip counters, tapes left unused. This matters most for a
loop writing into an array that carries no derivative: it gets a reverse (its
restores, for what the reverse sweep reads after it: ``reverse.has_active``), which
goes entirely where nothing reads the array.
"""

from __future__ import annotations

import builtins
import types

import gast
import numpy as np

from . import runtime
from .gastutil import blocks, children, statements, walk
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
_LISTS = ("L", "LS")            # kinds of lists (of anything, of numbers)
_LIST_READERS = {builtins.sum, builtins.min, builtins.max, builtins.sorted, builtins.tuple,
                 builtins.list, builtins.len}
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

    def __init__(self, ctx, q, restores, dead, whole=False):
        self.ctx, self.q, self.restores, self.dead = ctx, q, restores, dead
        self.whole = whole          # any use of q reads it (a name, not an array)
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
                if self.whole:          # (a pop binding q)
                    return self.reads(x.value)
                return live or self.reads(x.targets[0].slice)
            target = x.targets[0] if len(x.targets) == 1 else None
            if target.__class__ is gast.Name and target.id == self.q:
                return self.reads(x.value)
            if target.__class__ is gast.Subscript and target.value.__class__ is gast.Name \
                    and target.value.id == self.q and not self.whole:
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
            if self.whole:
                stack.extend(children(n))
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
            stack.extend(children(n))
        return False


def _private(tree, ctx, names):
    """Those of ``names`` (arrays) that no other name can share memory with: see the
    module's docstring."""
    kinds = ctx.var_kinds
    found = {q for q in names if (is_array_kind(kinds.get(q)) or kinds.get(q) in _LISTS)
             and q not in ctx.params}
    lists = {q for q in found if kinds.get(q) in _LISTS}
    bad = set()
    from .optimize import _tapes
    tapes = _tapes(tree, ctx)

    def _uses(e, names, bad, ctx, element=False):
        _uses_of(e, names, bad, ctx, element, lists)
    for s in walk(tree):
        if not found - bad:
            break
        cls = s.__class__
        v = getattr(s, "value", None)
        if cls is gast.Expr and _tape_call(v, tapes, "append") \
                and v.args[0].__class__ is gast.Name or cls is gast.Assign \
                and _tape_call(v, tapes, "pop") and s.targets[0].__class__ is gast.Name:
            continue        # the array recorded and popped back under its name
        if cls is gast.Assign:
            for t in s.targets:
                if t.__class__ is gast.Name and t.id in found \
                        and not _new_value(s.value, ctx, t.id in lists):
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


def _new_value(e, ctx, is_list=False):
    """``e`` makes an array of its own (arithmetic, a copy, ``np.zeros(...)``...), or a
    list (a display, a comprehension, ``list(...)``, a concatenation)."""
    if e.__class__ in (gast.BinOp, gast.UnaryOp):
        return True
    if is_list and e.__class__ in (gast.List, gast.ListComp):
        return True
    if e.__class__ is not gast.Call:
        return False
    f = e.func
    if f.__class__ is gast.Attribute and f.attr == "copy" and not e.args:
        return True
    made = _callee(e, ctx)
    return made in _NEW_ARRAYS or (is_list and made is builtins.list)


def _callee(call, ctx):
    from .shapes import callee
    try:
        return callee(call, ctx)
    except TypeError:
        return None


def _uses_of(e, names, bad, ctx, element=False, lists=frozenset()):
    """Add to ``bad`` the ``names`` the expression ``e`` reads in a way that may share
    their memory: anything but the safe reads of the module's docstring. With
    ``element``: ``e`` is the whole value of an assignment to a number, so ``a[i]``
    there is an element. ``lists``: those of ``names`` that are lists, an item or a
    slice of which shares no memory with them (a restore rebinds a slot)."""
    stack = [(e, None, element)]
    while stack:
        n, parent, elem = stack.pop()
        cls = n.__class__
        if cls is gast.Name:
            if n.id in names and not _safe(n, parent, elem, ctx, n.id in lists):
                bad.add(n.id)
            continue
        if cls is gast.Subscript and n.value.__class__ is gast.Name and n.value.id in names:
            if not (elem or n.value.id in lists
                    or parent is not None and _consumes(parent, n, ctx)):
                bad.add(n.value.id)
            stack.append((n.slice, n, False))
            continue
        for child in children(n):
            stack.append((child, n, False))




def _safe(name, parent, elem, ctx, is_list=False):
    """The load ``name`` of an array (a list) under ``parent`` makes a new value of it."""
    if parent is None:
        return False
    if parent.__class__ is gast.Attribute:
        return not is_list and (parent.attr in _READ_ATTRIBUTES or parent.attr in _NEW_METHODS)
    return _consumes(parent, name, ctx, is_list)


def _consumes(parent, child, ctx, is_list=False):
    """``parent`` makes a new value of its operand ``child`` (or only reads it): for a
    list, also a NumPy function (which makes an array of it) and the builtins reading
    its items."""
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
    if is_list:
        module = getattr(f, "__module__", None) or ""
        try:
            return f in _LIST_READERS or module.split(".")[0] == "numpy" \
                or isinstance(f, np.ufunc)
        except TypeError:
            return False
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
    """Drop the records nothing reads now: a pop whose value nothing reads before it is
    bound again (a snapshot whose restore went, a loop index only that restore read),
    with the one push of that name onto the same tape (the pop takes off what that
    push put on, so the other records stay in step); then the snapshots nothing reads,
    the loops left doing nothing and the tapes left unused. A tape read otherwise
    than by ``append`` and ``pop`` (passed to a call, its length read) keeps its
    records."""
    from .optimize import _tapes
    tapes = _tapes(tree, ctx)
    pushes, pops, used = {}, {}, set()
    for s in statements(tree.body):
        v = getattr(s, "value", None)
        if s.__class__ is gast.Expr and _tape_call(v, tapes, "append"):
            if v.args[0].__class__ is gast.Name:
                pushes.setdefault((v.args[0].id, v.func.value.id), []).append(s)
            _tape_reads(v.args[0], tapes, used)
            continue
        if s.__class__ is gast.Assign and _tape_call(v, tapes, "pop") \
                and len(s.targets) == 1 and s.targets[0].__class__ is gast.Name:
            pops.setdefault((s.targets[0].id, v.func.value.id), []).append(s)
            continue
        if s.__class__ is gast.Expr and _tape_call(v, tapes, "pop"):
            continue
        _tape_reads(_header(s), tapes, used, ctx)
    dead = set()
    for (n, tape), popped in pops.items():
        pushed = pushes.get((n, tape), ())
        if len(popped) == 1 and len(pushed) == 1 and tape not in used:
            marks = set()
            _Live(ctx, n, {id(popped[0])}, marks, whole=True).block(tree.body, False)
            if marks:
                dead.update((id(popped[0]), id(pushed[0])))
    if dead:
        _remove(tree.body, dead)
    _unread_snapshots(tree, ctx)
    _idle_loops(tree, ctx)
    _unused_tapes(tree, tapes)




def _header(s):
    """What ``s`` evaluates itself: the test or iterable of an ``if`` or a loop, else all
    of it."""
    if s.__class__ in (gast.If, gast.While):
        return s.test
    if s.__class__ is gast.For:
        return gast.Tuple(elts=[s.target, s.iter], ctx=gast.Load())
    return s


def _tape_reads(node, tapes, out, ctx=None):
    """Add to ``out`` the tapes ``node`` reads; with ``ctx``, not those it only passes to
    the halves of a split function of the user's (``fwd_g(x, _tape=_tape)``), which
    push and pop in turn, last in first out, so that a mirrored pair of this
    function's push and pop is still one."""
    passed = set()
    if ctx is not None:
        for m in walk(node):
            if m.__class__ is gast.Call and m.func.__class__ is gast.Name:
                f = _callee(m, ctx)
                if f.__class__ is types.FunctionType \
                        and getattr(f, "__module__", "") != runtime.__name__:
                    passed.update(id(a) for a in m.args if a.__class__ is gast.Name)
                    passed.update(id(k.value) for k in m.keywords
                                  if k.value.__class__ is gast.Name)
    for m in walk(node):
        if m.__class__ is gast.Name and m.id in tapes and m.ctx.__class__ is not gast.Store \
                and id(m) not in passed:
            out.add(m.id)


def _unread_snapshots(tree, ctx):
    """Drop ``_oldK = snapshot(...)`` where nothing reads ``_oldK``."""
    makes, read = [], set()
    for s in statements(tree.body):
        if s.__class__ is gast.Assign and len(s.targets) == 1 \
                and s.targets[0].__class__ is gast.Name and s.targets[0].id in ctx.snapshots \
                and s.value.__class__ is gast.Call and _callee(s.value, ctx) is runtime.snapshot:
            makes.append(s)
            _reads_of(s.value, ctx.snapshots, read)
        else:
            _reads_of(_header(s), ctx.snapshots, read)
    dead = {id(s) for s in makes if s.targets[0].id not in read}
    if dead:
        _remove(tree.body, dead)


def _idle_loops(tree, ctx):
    """Drop the loops over a range left doing nothing (the reverse of a loop whose
    restores and records went), and the trip counters only they read (``_n1 = 0``,
    ``_n1 += 1``)."""
    from .optimize import _Facts, _idle_loop, _read_outside_own_loops
    read_after = counters = None
    gone = set()
    for block in blocks(tree.body):
        if any(x.__class__ is gast.For and all(y.__class__ is gast.Pass for y in x.body)
               for x in block):
            if read_after is None:
                read_after = _read_outside_own_loops(tree.body, _Facts())
                counters = _counters(tree)
            keep = []
            for x in block:
                if _idle_loop(x, read_after, ctx) \
                        or _counted_loop(x, counters, read_after, ctx):
                    gone.update(n.id for n in walk(x.iter) if n.__class__ is gast.Name
                                and n.id in counters)
                else:
                    keep.append(x)
            block[:] = keep or [gast.Pass()]
    gone -= {n.id for s in statements(tree.body) for n in walk(_header(s))
             if n.__class__ is gast.Name and n.ctx.__class__ is gast.Load
             and not _counting(s, counters)}
    if gone:
        _remove(tree.body, {id(s) for s in statements(tree.body) if _counting(s, gone)})


def _counters(tree):
    """The names every binding of which is ``n = 0`` or ``n += 1``: trip counters."""
    found, other = set(), set()
    for s in statements(tree.body):
        if _counting(s, None):
            found.add((s.targets[0] if s.__class__ is gast.Assign else s.target).id)
        else:
            for n in walk(_header(s)):
                if n.__class__ is gast.Name and n.ctx.__class__ is gast.Store:
                    other.add(n.id)
    return found - other


def _counting(s, names):
    """``s`` is ``n = 0`` or ``n += 1`` for a name ``n`` in ``names`` (any if None)."""
    if s.__class__ is gast.Assign and len(s.targets) == 1:
        t, v = s.targets[0], s.value
        ok = v.__class__ is gast.Constant and type(v.value) is int and v.value == 0
    elif s.__class__ is gast.AugAssign:
        t, v = s.target, s.value
        ok = s.op.__class__ is gast.Add and v.__class__ is gast.Constant \
            and type(v.value) is int and v.value == 1
    else:
        return False
    return ok and t.__class__ is gast.Name and (names is None or t.id in names)


def _counted_loop(s, counters, read_after, ctx):
    """``for _ in range(_n1): pass`` over a trip counter."""
    if s.__class__ is not gast.For or s.orelse \
            or not all(x.__class__ is gast.Pass for x in s.body) \
            or s.target.__class__ is not gast.Name or s.target.id in read_after:
        return False
    it = s.iter
    return it.__class__ is gast.Call and not it.keywords and len(it.args) == 1 \
        and it.args[0].__class__ is gast.Name and it.args[0].id in counters \
        and _callee(it, ctx) is builtins.range




def _unused_tapes(tree, tapes):
    """Drop ``_tape = []`` of a tape nothing uses any more."""
    used = set()
    bound = {}
    for s in statements(tree.body):
        if s.__class__ is gast.Assign and len(s.targets) == 1 \
                and s.targets[0].__class__ is gast.Name and s.targets[0].id in tapes \
                and s.value.__class__ is gast.List and not s.value.elts:
            bound.setdefault(s.targets[0].id, []).append(s)
            continue
        _tape_reads(_header(s), tapes, used)
    dead = {id(s) for t, made in bound.items() if t not in used for s in made}
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
