"""Stage 6: clean up the generated function.

Takes and gives a generated ``FunctionDef``. First, a pure call of scalars made
again reads the value made before (``math.cos(a)`` after ``_t2 = math.cos(a)``,
``_shared_calls``). Then runs to a fixed point:

* adjoint copy and constant propagation: ``b_t3 = b_t5`` (or ``= 1.0``)
  followed by uses of ``b_t3`` in the same block becomes uses of ``b_t5``
  (safe because adjoints are never updated in place);
* removal of ``b = a`` after ``a = b`` with neither rebound in between;
* dead code elimination: adjoints, template temporaries, copies, constants and
  primal computations that cannot raise, assigned and never read; a dead call
  that may raise stays as an expression statement;
* folding (``1.0 * e``, ``2 - 1``, ``-(2.0 * t)``) and, for NumPy sums, adjoints
  that stay the number ``1.0``.

Then, once: dead ``math`` calls whose error a later call raises anyway go (and
``math.log(x)`` is called only if ``x <= 0``), a
negation is folded into the single reader of an adjoint, loops iterate over
their sequences directly and single-use scalar values are written into their
reader (``fuse.py``), and arrays are freed after their last use. docs/design.md ("final") tells how the fixed point is
reached cheaply.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter

import gast
import numpy as np

from . import anno, runtime, shapes
from .gastutil import Transformer, children, clone, dotted_name, names, statements, walk
from .gastutil import blocks as _blocks
from .kinds import array_ndim, is_array_kind

_COMPOUND = (gast.If, gast.For, gast.While)


class _Facts:
    """The names each statement reads, writes and deletes.

    The facts of a simple statement are computed once and kept until a pass
    changes the statement and calls :meth:`forget`: the optimizer runs its sweeps
    to a fixed point, and walking every statement again on each sweep cost more
    than the sweeps themselves. The facts of an ``if``, ``for`` or ``while`` are
    never kept: they are assembled from the header and the statements of the
    body each time, so a pass that removes or rewrites a statement in a body
    needs to forget only that statement. Name lists are kept, and counted with
    ``Counter`` (which counts in C), rather than merging dicts in Python.
    """

    def __init__(self):
        self._lists = {}        # statement -> (ids read, ids written, ids deleted, foldable)
        self._reads = {}        # statement -> dict: id -> how many times it reads it
        self.known = self._lists.get    # simple statement -> lists(s) if kept, else None

    def lists(self, s):
        """(read, written, deleted, ...): the ids of the names in ``s``, with repeats."""
        hit = self._lists.get(s)
        if hit is not None:
            return hit
        if s.__class__ in _COMPOUND:
            out = self._header(s)
            self._gather(s.body, out)
            self._gather(s.orelse, out)
            return out
        hit = self._lists[s] = _scan(s)
        return hit

    @staticmethod
    def _header(s):
        """(read, written, deleted) of the names in the header of an ``if`` or a loop."""
        if isinstance(s, (gast.If, gast.While)):
            return _sort_names(names(s.test))
        return _sort_names(names(s.target) + names(s.iter))

    def _gather(self, stmts, out):
        """Add the names of ``stmts`` (and of the blocks in them) to the lists ``out``,
        in the order ``lists`` gives them, without building the lists of each ``if``
        or loop on the way."""
        read, written, deleted = out[:3]
        known = self._lists
        for x in stmts:
            hit = known.get(x)
            if hit is None:
                if isinstance(x, _COMPOUND):
                    header = self._header(x)
                    read += header[0]
                    written += header[1]
                    deleted += header[2]
                    self._gather(x.body, out)
                    self._gather(x.orelse, out)
                    continue
                hit = known[x] = _scan(x)
            read += hit[0]
            written += hit[1]
            deleted += hit[2]

    def foldable(self, s):
        """Whether ``_Fold`` could change the simple statement ``s`` (see ``_scan``)."""
        return self.lists(s)[3]

    def negations(self, s):
        """How many negations of something other than a number the simple ``s`` holds."""
        return self.lists(s)[4]

    def signed(self, s):
        """How many negative numbers (``-2.0``, a negated number) the simple ``s`` holds."""
        return self.lists(s)[6]

    def reads(self, s):
        """Name -> how many times ``s`` reads it (everything nested in it included); a
        plain dict, counted by hand: ``Counter`` costs three times as much to build
        for the few names of a statement."""
        hit = self._reads.get(s)
        if hit is None:
            hit = {}
            get = hit.get
            for n in self.lists(s)[0]:
                hit[n] = get(n, 0) + 1
            if not isinstance(s, _COMPOUND):
                self._reads[s] = hit
        return hit

    def writes(self, s):
        """The names ``s`` writes, with repeats."""
        return self.lists(s)[1]

    def update(self, s, lists):
        """The simple statement ``s`` changed so that its facts are now ``lists``."""
        self._lists[s] = lists
        self._reads.pop(s, None)

    def forget(self, s):
        """``s`` (and what is nested in it) changed: compute its facts again when asked."""
        self._lists.pop(s, None)
        self._reads.pop(s, None)
        if isinstance(s, _COMPOUND):
            for inner in (s.body, s.orelse):
                for x in inner:
                    self.forget(x)

    def counts(self, tree):
        """(stores, loads): Counters over the whole function, parameters included; a
        ``del`` counts as a load, so a deleted name is never taken for unused."""
        body, tree.body = tree.body, []
        out = _sort_names(names(tree))
        tree.body = body
        self._gather(body, out)
        read, written, deleted = out
        return Counter(written), Counter(read + deleted)


def _sort_names(nodes):
    read, written, deleted = [], [], []
    for n in nodes:
        ctx = n.ctx
        (read if isinstance(ctx, gast.Load) else deleted if isinstance(ctx, gast.Del)
         else written).append(n.id)
    return read, written, deleted


_SCAN = (gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp, gast.Assign, gast.Call,
         gast.Attribute, gast.Load, gast.Del, gast.USub)


def _scan(stmt):
    """(read, written, deleted, foldable, negations, calls, signed) of a simple statement in
    one walk: the ids of its names by context, with repeats; whether some operation
    in it matches a rule of ``_Fold`` (folding works bottom up and its first change is
    always at such an operation, so a statement with none is left as it is); the
    number of negations of something other than a number in it; and the number of
    calls in it.

    The optimizer's most called function (every statement, and each one a pass
    rewrites): the classes are bound locally, and the rules of folding are asked
    only of operations with a number or a negation for an operand, which all of
    them need."""
    read, written, deleted = [], [], []
    foldable = False
    negations = calls = signed = 0
    stack = [stmt]
    pop, push, extend = stack.pop, stack.append, stack.extend
    Name, Constant, BinOp, UnaryOp, Assign, Call, Attribute, Load, Del, USub = _SCAN
    while stack:
        n = pop()
        cls = n.__class__
        if cls is Name:
            c = n.ctx.__class__
            if c is Load:
                read.append(n.id)
            elif c is Del:
                deleted.append(n.id)
            else:
                written.append(n.id)
            if n.annotation is not None:
                push(n.annotation)
        elif cls is Constant:
            if n.value.__class__ is float and n.value < 0:
                signed += 1
        elif cls is BinOp:
            left, right = n.left, n.right
            if not foldable:
                c = right.__class__
                if c is Constant or c is UnaryOp or left.__class__ is Constant:
                    foldable = _binop_folds(n)
            push(right)
            push(left)
        elif cls is UnaryOp:
            e = n.operand
            if n.op.__class__ is USub:
                if not foldable:
                    foldable = _unary_folds(n)
                if e.__class__ is not Constant or type(e.value) not in (int, float):
                    negations += 1          # (what ``_num(e) is None`` tells)
                else:
                    signed += 1
            push(e)
        elif cls is Assign:                 # the other common nodes, directly
            push(n.value)
            extend(n.targets)
        elif cls is Call:
            calls += 1
            extend(n.keywords)
            extend(n.args)
            push(n.func)
        elif cls is Attribute:
            push(n.value)
        else:
            extend(children(n))
    return read, written, deleted, foldable, negations, calls, signed


def _binop_folds(n):
    """A rule of ``_Fold.visit_BinOp`` applies to ``n`` itself."""
    op, a, b = n.op.__class__, _num(n.left), _num(n.right)
    if a is not None and b is not None and op in _FOLD:
        return True
    if op is gast.Mult and (a in (1, -1) or b in (1, -1)):
        return True
    if (op is gast.Mult or op is gast.Div) and b is not None \
            and n.left.__class__ is gast.UnaryOp and n.left.op.__class__ is gast.USub:
        return True
    if (op is gast.Div or op is gast.Pow) and b == 1:
        return True
    return op is gast.Add and n.right.__class__ is gast.UnaryOp \
        and n.right.op.__class__ is gast.USub


def _folds_at(n):
    """A rule of ``_Fold`` applies to the node ``n`` itself (None: no node). (Those of
    an operation all need an operand that is a number or a negation, as ``_scan``
    tests first.)"""
    cls = n.__class__
    if cls is gast.BinOp:
        c = n.right.__class__
        return (c is gast.Constant or c is gast.UnaryOp or n.left.__class__ is gast.Constant) \
            and _binop_folds(n)
    return cls is gast.UnaryOp and _unary_folds(n)


def _unary_folds(n):
    """A rule of ``_Fold.visit_UnaryOp`` applies to ``n`` itself."""
    if n.op.__class__ is not gast.USub:
        return False
    e = n.operand
    if _num(e) is not None or (e.__class__ is gast.UnaryOp and e.op.__class__ is gast.USub):
        return True
    return e.__class__ is gast.BinOp and e.op.__class__ in (gast.Mult, gast.Div) \
        and (_num(e.left) is not None or _num(e.right) is not None)


def _deep_loads(node):
    """Counter of the names an expression reads."""
    out = {}
    for n in names(node):
        if isinstance(n.ctx, gast.Load):
            out[n.id] = out.get(n.id, 0) + 1
    return out


def _propagate(tree, ctx, facts, touched, fold, copies=frozenset(), counts=None,
               blocks=None):
    """One sweep of copy and constant propagation over every block.

    ``a = b`` (``b`` a name or a number) is removed and ``a`` replaced by ``b``
    in the rest of its block when ``a`` is an adjoint (or one of ``copies``, values
    ``_shared_calls`` found made twice) written once and read
    only later in that block, and ``b`` (if a name) is written once, before, in
    that block (or is a parameter never written). A statement rewritten so is
    folded at once, so ``b_2 = -b_1`` with ``b_1`` the number 1.0 becomes a
    number propagated in the same sweep. Returns whether it changed anything;
    adds the statements it rewrote to ``touched``. ``counts``: ``facts.counts(tree)``
    if known (as ``_dead`` keeps them), else counted here; kept up to date.
    ``blocks``: ``_blocks(tree.body)`` if known (see ``run``).
    """
    stores, loads = facts.counts(tree) if counts is None else counts
    params = {a.id for a in tree.args.args + tree.args.posonlyargs + tree.args.kwonlyargs}
    is_derivative = ctx.namer.is_derivative
    lists, kept = facts.lists, facts.known      # (kept: no call of lists for a kept one)

    Assign, Name, Constant = gast.Assign, gast.Name, gast.Constant

    def candidate(x):
        """``a`` of ``a = <name or number>``, an adjoint written once and read."""
        if type(x) is not Assign:
            return None
        v = x.value                 # (most values are operations: tested first)
        if (type(v) is Name or (type(v) is Constant and type(v.value) in (int, float))) \
                and len(x.targets) == 1 and type(x.targets[0]) is Name:
            a = x.targets[0].id
            if (is_derivative(a) or a in copies) and stores.get(a) == 1 \
                    and loads.get(a, 0) > 0:
                return a
        return None

    changed = False
    for block in _blocks(tree.body) if blocks is None else blocks:
        cands = {i: a for i, x in enumerate(block)
                 if type(x) is Assign and type(x.value) in (Name, Constant)  # (most are not)
                 for a in [candidate(x)] if a is not None}
        if not cands:
            continue
        known = [kept(x) or lists(x) for x in block]    # (as they were before this sweep)
        deep = [f[0] for f in known]        # the names each one reads, with repeats
        watch = set(cands.values())
        seen = dict.fromkeys(watch, 0)
        after = {}                  # candidate position -> reads of its name after it
        last = {}                   # name -> position of the last statement reading it
        for i in range(len(block) - 1, -1, -1):
            if i in cands:
                after[i] = seen[cands[i]]
            d = deep[i]
            for n in watch.intersection(d):
                seen[n] += d.count(n)
                last.setdefault(n, i)
        subst, dropped = {}, set()
        writers = None              # name -> positions writing or deleting it, when needed
        for i, x in enumerate(block):
            a = cands.get(i)
            if subst and not subst.keys().isdisjoint(deep[i]):
                for n in deep[i]:           # (the counts follow the reads moved)
                    new = subst.get(n)
                    if new is not None:
                        loads[n] -= 1
                        if new.__class__ is str:
                            loads[new] += 1
                _substitute(x, subst, facts)
                if x.__class__ in _COMPOUND or facts.foldable(x):
                    _fold_block(fold, [x], None, set(), facts)
                touched.add(x)
                if a is None:
                    a = candidate(x)
                    if a is not None:   # became a copy: count its reads below
                        after[i] = sum(d.count(a) for d in deep[i + 1:])
                        last[a] = max((k for k in range(i + 1, len(block)) if a in deep[k]),
                                      default=i)
            if a is None or after[i] != loads.get(a, 0):
                continue
            b = x.value.id if type(x.value) is gast.Name else _num(x.value)
            if isinstance(b, str):
                if b == a:
                    continue
                if not (b in params and stores.get(b, 1) == 1):
                    if writers is None:
                        writers = _writers(known, {
                            y.value.id for y in map(block.__getitem__, cands)
                            if type(y.value) is Name})
                    at = writers.get(b)
                    if at is None:      # (a statement that became a copy above)
                        at = writers[b] = _writers(known, {b})[b]
                    once = stores.get(b) == 1 and any(
                        p < i and p not in dropped and _assigns(block[p], b) for p in at)
                    if not once and _rebound(at, block, i, last[a]):
                        continue
            elif b is None:
                continue
            subst[a] = b
            dropped.add(i)
            _unstore(stores, (a,))
            if isinstance(b, str):
                loads[b] -= 1
            changed = True
        if dropped:
            block[:] = [x for i, x in enumerate(block) if i not in dropped]
    return changed


def _substitute(x, mapping, facts):
    """``_Substitute(mapping).visit(x)``, keeping the facts of ``x`` up to date.

    A simple statement whose names are only renamed is done without a transformer:
    the ``Name`` nodes are renamed in place, and its facts are those it had with the
    names read renamed (renaming changes no operation, so what ``_scan`` found of
    folding and negations stays true). Numbers, which replace nodes, and ``if``
    statements and loops take the general route and are scanned again."""
    if x.__class__ not in _COMPOUND:
        Load, get = gast.Load, mapping.get
        hit = facts.lists(x)        # (before the renaming)
        found = []
        for n in names(x):
            if n.ctx.__class__ is Load:
                new = get(n.id)
                if new is not None:
                    if new.__class__ is not str:
                        break           # a number
                    found.append((n, new))
        else:
            for n, new in found:
                n.id = new
            facts.update(x, ([get(r, r) for r in hit[0]],) + hit[1:])
            return
    _Substitute(mapping).visit(x)
    facts.forget(x)


def _assigns(x, name):
    """``x`` is an assignment with ``name`` (a bare name) for a target."""
    return type(x) is gast.Assign and any(type(t) is gast.Name and t.id == name
                                          for t in x.targets)


def _writers(known, only=None):
    """Name -> ascending positions of the statements writing or deleting it, in a block
    of which ``known`` holds the ``_Facts.lists`` of each statement (what they write
    is what they wrote when these were taken: propagation and folding change only what
    a statement reads); ``only``: of these names only (all if None; else each of them
    is a key)."""
    out = {} if only is None else {n: [] for n in only}
    for k, (_, written, deleted, *_) in enumerate(known):
        if only is not None:
            if only.isdisjoint(written) and only.isdisjoint(deleted):
                continue
            written = [n for n in written if n in only]
            deleted = [n for n in deleted if n in only]
        for n in written:
            out.setdefault(n, []).append(k)
        for n in deleted:
            out.setdefault(n, []).append(k)
    return out


def _rebound(positions, block, i, j):
    """Whether a statement at one of ``positions`` (those writing or deleting some
    name) runs after statement ``i`` of ``block`` and before the reads of statement
    ``j`` (a simple statement reads before it writes; an ``if`` or a loop may not)."""
    k = bisect.bisect_right(positions, i)
    return k < len(positions) and (positions[k] < j or (
        positions[k] == j and isinstance(block[j], _COMPOUND)))


def _generated(ctx, n):
    return ctx.namer.is_derivative(n) or (n in ctx.namer.temps and n not in ctx.primal_temps)


def _pops(value, ctx=None):
    """``lst.pop()``: a value whose computation changes the list (a tangent tape popped
    in step with the tape, ``d_t3 = d_tape.pop()``), kept as a statement when unused;
    wrapped too (``d_t2 = owned(d_tape.pop())``, the tangent of a list popped later:
    dropped, it left the tangent tape a step behind the tape). With ``ctx``, also a
    value calling a split callee's ``bwd_g`` (``bwd_g(b, _tape)[0]``), which pops what
    its ``fwd_g`` recorded (``api.mark_pops``): dropped, it left the tape misaligned
    for the calls of ``bwd`` functions after it; and one popping a list inside
    (``b = element_adjoint(b_tape.pop(), _tape[-1])``, the adjoint of an item the
    gradient appended to its tape, in reverse over reverse)."""
    while value.__class__ is gast.Call and value.args and value.func.__class__ is gast.Name \
            and value.func.id in ("owned", "copy_of"):
        value = value.args[0]
    if value.__class__ is gast.Call and value.func.__class__ is gast.Attribute \
            and value.func.attr == "pop":
        return True
    return ctx is not None and any(
        n.__class__ is gast.Call and (
            (n.func.__class__ is gast.Name
             and getattr(ctx.injected.get(n.func.id), "s2sad_pops", False))
            or (n.func.__class__ is gast.Attribute and n.func.attr == "pop"
                and not n.args and not n.keywords))
        for n in gast.walk(value))


_HARMLESS_OPS = (gast.Add, gast.Sub, gast.Mult, gast.USub, gast.UAdd, gast.Not,
                 gast.Eq, gast.NotEq, gast.Lt, gast.LtE, gast.Gt, gast.GtE)


def _harmless(expr, ctx):
    """``expr`` computes a value without side effects and cannot raise: names of
    scalars, numbers, ``+ - *``, unary minus and comparisons; and NumPy
    elementwise arithmetic, ufuncs and full reductions (``np.sum(v)``) of arrays
    that surely have one shape (s2sad/shapes.py), which cannot fail to
    broadcast. Such a statement is dropped when its value is unused; other calls,
    scalar divisions and powers are kept, so the gradient raises where the
    function does (``math.log(-1.0)``, ``1 / 0``)."""
    kinds, shapes = ctx.var_kinds, ctx.shapes
    if isinstance(expr, gast.Call) and len(expr.args) == 1 \
            and isinstance(expr.args[0], gast.Name) and _numpy_pure(expr, ctx) \
            and _is_reduction(expr, ctx):
        return True             # np.sum(v) of one array (no axis): a number, whatever v's shape
    if isinstance(expr, gast.Call) and not expr.args and not expr.keywords \
            and isinstance(expr.func, gast.Attribute) and expr.func.attr in _SAFE_METHODS \
            and isinstance(expr.func.value, gast.Name) \
            and array_ndim(kinds.get(expr.func.value.id)) is not None \
            and expr.func.value.id not in ctx.maybe_none:
        return True             # v.sum(), v.mean() of an ndarray: as np.sum(v)
    if isinstance(expr, gast.Subscript) and isinstance(expr.value, gast.Name) \
            and kinds.get(expr.value.id) in ("A1", "LS") \
            and isinstance(expr.slice, gast.Slice):     # a constant slice of a vector
        sl = expr.slice
        return all(p is None or (isinstance(p, gast.Constant) and type(p.value) is int)
                   for p in (sl.lower, sl.upper, sl.step)) \
            and not (sl.step is not None and sl.step.value == 0)
    funcs = {id(n) for c in walk(expr) if isinstance(c, gast.Call)
             for n in walk(c.func)}
    classes = {shapes.get(n.id) for n in walk(expr)
               if isinstance(n, gast.Name) and id(n) not in funcs and kinds.get(n.id) != "S"}
    arrays = bool(classes)
    if arrays and (len(classes) != 1 or None in classes):
        return False
    for n in walk(expr):
        if isinstance(n, gast.Name):
            if n.id in ctx.maybe_none and id(n) not in funcs:
                return False    # may be unbound in the function: None * 2.0 raises
            continue            # scalars, or arrays of the one class
        if isinstance(n, gast.Constant):
            if type(n.value) not in (int, float, bool):
                return False
        elif isinstance(n, gast.Call):
            if not (arrays and _numpy_pure(n, ctx)):
                return False
        elif isinstance(n, gast.Attribute):
            if id(n) in funcs:
                continue        # the function of a call checked above
            if not (n.attr in _SAFE_ATTRIBUTES and isinstance(n.value, gast.Name)
                    and array_ndim(kinds.get(n.value.id)) is not None
                    and n.value.id not in ctx.maybe_none):
                return False    # x.nope raises, o.p may run a property: kept
        elif isinstance(n, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            ops = n.ops if isinstance(n, gast.Compare) else (n.op,)
            harmless = _ARRAY_OPS if arrays else _HARMLESS_OPS
            if not all(isinstance(o, harmless) for o in ops):
                return False
            if isinstance(n, gast.BinOp) and isinstance(n.op, gast.Pow) and not (
                    isinstance(n.right, gast.Constant) and (type(n.right.value) is float or (
                        type(n.right.value) is int and n.right.value >= 0))):
                return False    # an int array to a negative int power raises
        elif not isinstance(n, (gast.expr_context, gast.operator, gast.unaryop, gast.cmpop)):
            return False
    return True


_SAFE_METHODS = {"sum", "mean", "prod", "var", "std"}     # not max/min: raise on empty
_SAFE_ATTRIBUTES = {"shape", "ndim", "size", "T", "dtype", "real", "imag"}  # of an ndarray
_ARRAY_OPS = _HARMLESS_OPS + (gast.Div, gast.Pow, gast.FloorDiv, gast.Mod)


def _is_reduction(call, ctx):
    from .activity import _FULL_REDUCTIONS
    return shapes.callee(call, ctx) in _FULL_REDUCTIONS


def _numpy_pure(call, ctx):
    """A NumPy ufunc or full reduction, called with positional operands only."""
    from .activity import _FULL_REDUCTIONS
    if call.keywords or not all(isinstance(a, (gast.Name, gast.Constant)) for a in call.args):
        return False
    return shapes.elementwise_ufunc(call, ctx) is not None or (
        len(call.args) == 1 and shapes.callee(call, ctx) in _FULL_REDUCTIONS
        and shapes.callee(call, ctx) not in _RAISE_ON_EMPTY)


_RAISE_ON_EMPTY = {np.max, np.min, np.amax, np.amin}     # "zero-size array" ValueError


def _dead(tree, ctx, facts, scaffolding=False, counts=None, blocks=None):
    """Remove every dead adjoint, template temporary, copy, constant or harmless
    primal computation, to a fixed point; with ``scaffolding``, only the copies the
    SSA stage made at joins and loop headers (see ``run``).

    A dead value that can raise (``_t1 = math.log(x)``, ``_t2 = x ** 2``) is kept,
    so the gradient raises where the function does; a call becomes an expression
    statement (``math.log(x)``), so its result is freed at once (and
    ``_error_checks`` may drop or guard it once the code is final).

    Each block is swept last statement first, inner blocks before the blocks
    around them: removing a statement takes back its reads, so the chain of values
    feeding only it goes in the same sweep. A value whose last reader goes after
    its own block was swept (read after the loop it is computed in) sends that
    block round again.

    ``counts``: ``facts.counts(tree)`` to use, kept up to date (the stores and reads
    of what goes are taken back), so that ``_propagate`` need not count again.
    ``blocks``: ``_blocks(tree.body)`` if known (see ``run``).
    """
    stores, loads = facts.counts(tree) if counts is None else counts
    params = set(ctx.params)
    changed = False
    todo = list(reversed(_blocks(tree.body) if blocks is None else blocks))
    stayed = []                     # (name, block) of the assignments kept
    while todo:
        zeroed = set()              # names whose last read went in this round
        for block in todo:
            keep = []
            for x in reversed(block):
                if type(x) is gast.Assign and len(x.targets) == 1 \
                        and type(x.targets[0]) is gast.Name:
                    n = x.targets[0].id
                    if not loads.get(n) and n not in params and (
                            not scaffolding or _ssa_copy(x)):
                        if (_generated(ctx, n) and not _pops(x.value, ctx)) \
                                or isinstance(x.value, (gast.Name, gast.Constant)) \
                                or _harmless(x.value, ctx):
                            for m, k in facts.reads(x).items():       # those of x.value
                                loads[m] -= k
                                if not loads[m]:
                                    zeroed.add(m)
                                    del loads[m]    # (as counting again would)
                            _unstore(stores, facts.writes(x))
                            changed = True
                            continue
                        if type(x.value) is gast.Call:
                            keep.append(gast.copy_location(gast.Expr(value=x.value), x))
                            _unstore(stores, facts.writes(x))
                            changed = True
                            continue    # no longer an assignment: not to sweep again
                    stayed.append((n, block))
                keep.append(x)
            keep.reverse()
            block[:] = keep
        # the blocks where an assignment to a name whose last read went stayed
        todo = list({id(b): b for n, b in stayed if n in zeroed}.values()) if zeroed else []
    return changed


def _unstore(stores, written):
    """Take the names ``written`` back from the counter ``stores`` (as counting
    again would: no name stays counted zero times)."""
    for n in written:
        if stores[n] == 1:
            del stores[n]
        else:
            stores[n] -= 1


def _dead_cycles(tree, ctx, facts, blocks=None):
    """Remove the assignments whose value no later statement needs, by liveness over
    the function's blocks, loops iterated to a fixed point (backward: a name is live
    where some path reads it before rebinding it). What counting reads (``_dead``)
    keeps: values that feed only each other, such as a loop's accumulator nothing
    reads after it (``s_2 = s_1 + t`` and the copy ``s_1 = s_2`` read each other),
    and a value of the forward sweep that the reverse sweep computes again under the
    same name before reading it. Only the assignments ``_dead`` may remove go (those
    that cannot raise, or values of the generated code); a ``for`` loop over
    ``range`` left doing nothing goes with them. ``blocks``: ``_blocks(tree.body)`` if
    known (see ``run``)."""
    if blocks is None:
        blocks = _blocks(tree.body)
    if not any(x.__class__ in (gast.For, gast.While) for b in blocks for x in b):
        return False    # straight-line SSA code: no cycles, nothing computed again
    dead = set()
    sequences = _sequences(blocks, ctx)
    _Liveness(ctx, facts, sequences, _tapes(tree, ctx) if sequences else (),
              blocks).block(tree.body, set(), dead)
    if not dead:
        return False
    blocks = [b for b in blocks if b]   # (a block emptied before is not one any more)
    for block in blocks:            # (only assignments go: the blocks stay those)
        block[:] = [x for x in block if id(x) not in dead] or [gast.Pass()]
    read_after = _read_outside_own_loops(tree.body, facts)
    for block in blocks:
        block[:] = [x for x in block if not _idle_loop(x, read_after, ctx, sequences)] \
            or [gast.Pass()]
    return True


def _row_lengths(sequences, blocks):
    """Those of ``sequences`` every binding of which checks its items to have one length
    ``n`` (``as_sequence(x, rows=n)`` or ``items=n``, an int): name -> ``n``."""
    found = {}
    for block in blocks:
        for x in block:
            if x.__class__ is not gast.Assign or len(x.targets) != 1 \
                    or x.targets[0].__class__ is not gast.Name \
                    or x.targets[0].id not in sequences:
                continue
            n = next((k.value.value for k in x.value.keywords
                      if k.arg in ("rows", "items") and k.value.__class__ is gast.Constant
                      and type(k.value.value) is int), None)
            t = x.targets[0].id
            found[t] = n if found.get(t, n) == n else None
    return {t: n for t, n in found.items() if n is not None}


def _sequences(blocks, ctx):
    """The generated names every assignment of which is ``as_sequence(...)`` (what ``for
    v in xs`` iterates by: an array, a list, a tuple or a range, ``len`` of which and
    an item of which by an index below it cannot raise)."""
    found, other = set(), set()
    for block in blocks:
        for x in block:
            if x.__class__ is not gast.Assign:
                continue
            for t in x.targets:
                if t.__class__ is not gast.Name:
                    continue
                v = x.value
                if v.__class__ is gast.Call and v.func.__class__ is gast.Name \
                        and ctx.injected.get(v.func.id) is runtime.as_sequence \
                        and t.id in ctx.namer.made and t.id not in ctx.params:
                    found.add(t.id)
                else:
                    other.add(t.id)
    return found - other


_PLAIN = {gast.Assign, gast.AugAssign, gast.Expr, gast.Return, gast.Delete, gast.Pass,
          gast.Break, gast.Continue, gast.Raise, gast.Assert}


class _Liveness:
    """Backward liveness for ``_dead_cycles``: ``block(stmts, live_after, mark)`` gives
    the names live before ``stmts``; with ``mark`` (a set, else None), adds to it the
    ids of the removable assignments whose target is not live after them. In a loop
    the marks of each round of its fixed point go to a set of their own, and only
    those of the last round (the one that changed nothing, so it saw the final live
    names) are kept: no mark is premature, and no round is made again to mark."""

    def __init__(self, ctx, facts, sequences=frozenset(), tapes=frozenset(), tree_blocks=()):
        self.ctx, self.facts = ctx, facts
        self.sequences = sequences      # names bound to as_sequence(...) only (_sequences)
        self.tapes = tapes              # (_tapes)
        self.params = set(ctx.params)
        self.removable_ = {}        # id(assignment) -> whether it may go (removable)
        self.indexed = set()        # (Q, i) of the loops for i in range(len(Q)) around
        self.rows = _row_lengths(sequences, tree_blocks) if sequences else {}
        self.row_items = {}         # t -> n for t = Q[i] in such a loop, Q's items of length n

    def removable(self, x, n):
        """The assignment ``x`` of the name ``n`` may go if nothing needs ``n``: asked
        only then (``_harmless`` walks the value)."""
        hit = self.removable_.get(id(x))
        if hit is None:
            v = x.value
            hit = self.removable_[id(x)] = n not in self.params and (
                (_generated(self.ctx, n) and not _pops(v, self.ctx))
                or isinstance(v, (gast.Name, gast.Constant))
                or _harmless(v, self.ctx)
                or (v.__class__ is gast.Subscript and v.value.__class__ is gast.Name
                    and v.slice.__class__ is gast.Name
                    and (v.value.id, v.slice.id) in self.indexed)
                or (v.__class__ is gast.Subscript and v.value.__class__ is gast.Name
                    and v.slice.__class__ is gast.Constant and type(v.slice.value) is int
                    and -self.row_items.get(v.value.id, 0) <= v.slice.value
                    < self.row_items.get(v.value.id, 0)))
        return hit

    def array_index_loop(self, x):
        """``(Q, i)`` for a loop ``for i in range(len(Q))`` (the normal form of ``for v
        in Q``) over an array ``Q`` of known dimensions that neither it nor its body
        rebinds: ``Q[i]`` in it cannot raise. Else None."""
        if x.__class__ is not gast.For or not isinstance(x.target, gast.Name):
            return None
        q = _len_of_array(x.iter, self.ctx, range_of=True, sequences=self.sequences)
        if q is None or (q in self.sequences and not _length_safe(x, self.ctx, self.tapes)):
            return None             # (a list the loop may shorten: Q[i] may raise)
        writes = self.facts.lists(x)[1]
        if q in writes or writes.count(x.target.id) != 1:
            return None
        return q, x.target.id

    def block(self, stmts, after, mark):
        live = set(after)
        facts = self.facts
        lists, kept = facts.lists, facts.known
        If, For, While, Assign, Name, AugAssign = gast.If, gast.For, gast.While, gast.Assign, \
            gast.Name, gast.AugAssign
        for x in reversed(stmts):
            cls = x.__class__
            if cls is If:
                live = self.block(x.body, live, mark) | self.block(x.orelse, live, mark)
                live.update(facts._header(x)[0])
            elif cls is For or cls is While:
                live = self.loop(x, live, mark)
            else:
                if cls is Assign and len(x.targets) == 1 \
                        and x.targets[0].__class__ is Name \
                        and x.targets[0].id not in live and self.removable(x, x.targets[0].id):
                    if mark is not None:
                        mark.add(id(x))
                    continue
                hit = kept(x) or lists(x)
                read, written, deleted = hit[0], hit[1], hit[2]
                if cls not in _PLAIN:           # a try, a with: whatever it may do
                    live.update(written)
                if cls is AugAssign:
                    live.update(written)        # n += 1 reads n too
                elif written:
                    live.difference_update(written)
                live.update(read)
                if deleted:
                    live.update(deleted)
        return live

    def loop(self, x, after, mark):
        """Live before the loop ``x`` (``after``: live after it). At the test of a
        ``while`` (the top of each iteration of a ``for``, before its variable is
        bound) the live names are those after the loop's exit (through its ``else``)
        and those of the body followed by that point again: a fixed point."""
        header = set(self.facts._header(x)[0])
        exit_ = self.block(x.orelse, after, mark)
        is_for = x.__class__ is gast.For
        bound = {n.id for n in names(x.target)} if is_for else set()
        top = exit_ | (set() if is_for else header)
        pair = self.array_index_loop(x) if is_for else None
        rows = {}
        if pair is not None:
            self.indexed.add(pair)
            rows = self.rows_read(x, *pair)
            self.row_items.update(rows)
        while True:
            marks = None if mark is None else set()
            body = self.block(x.body, top, marks) - bound
            new = top | body
            if new == top:
                break
            top = new
        if mark is not None:
            mark |= marks               # (those of the round that saw ``top``)
        self.indexed.discard(pair)
        for t in rows:
            del self.row_items[t]
        return top | header if is_for else top

    def rows_read(self, x, q, i):
        """``t -> n`` for each ``t = Q[i]`` in the body of the loop ``x`` over ``Q`` whose
        items ``as_sequence`` checked to have length ``n`` (``rows=n``, ``items=n``):
        ``t[k]`` for ``-n <= k < n`` cannot raise. None where the body stores into some
        item or binds ``t`` again (an item replaced: no more the checked one)."""
        n = self.rows.get(q)
        if n is None:
            return {}
        out = {}
        writes = self.facts.lists(x)[1]
        for s in statements(x.body):
            if s.__class__ in (gast.AugAssign, gast.Delete) or s.__class__ is gast.Assign \
                    and any(t.__class__ is not gast.Name for t in s.targets):
                return {}
            if s.__class__ is gast.Assign and s.value.__class__ is gast.Subscript \
                    and s.value.value.__class__ is gast.Name and s.value.value.id == q \
                    and s.value.slice.__class__ is gast.Name and s.value.slice.id == i \
                    and writes.count(s.targets[0].id) == 1:
                out[s.targets[0].id] = n
        return out


_PURE_BUILTINS = {abs, len, range, reversed, float, int, bool, min, max, sum, isinstance,
                  round, pow, divmod, enumerate, zip, tuple, complex}


def _tapes(tree, ctx):
    """The tapes of the generated function ``tree``: its generated names bound to ``[]``
    at its top level, and the tape parameter of a split function."""
    out = {s.targets[0].id for s in tree.body
           if isinstance(s, gast.Assign) and len(s.targets) == 1
           and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.List)
           and not s.value.elts and s.targets[0].id in ctx.namer.made
           and s.targets[0].id not in ctx.params}
    if ctx.tape_param:
        out.add(ctx.tape_param)
    return out


def _pure_call(c, ctx, tapes):
    """The call ``c`` changes no list (nor rebinds one in place): a tape's own ``append``
    and ``pop``, ``math``, NumPy, s2sad's runtime helpers and pure builtins."""
    f = c.func
    if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) \
            and f.attr in ("append", "pop") and f.value.id in tapes:
        return True
    path = dotted_name(f)
    if path is None:
        return False
    try:
        obj = ctx.lookup(path)
    except KeyError:
        return False
    try:
        if obj in _PURE_BUILTINS:
            return True
    except TypeError:           # unhashable
        return False
    module = getattr(obj, "__module__", None) or ""
    return obj.__class__ is np.ufunc or module in ("math", "s2sad.runtime") \
        or module.startswith("numpy") or getattr(obj, "__self__", None) is math


def _length_safe(s, ctx, tapes):
    """Nothing in the statement ``s`` (simple, or a loop or ``if`` and all in it) can
    change the length of a list (or rebind one in place)."""
    for n in walk(s):
        if isinstance(n, (gast.Delete, gast.AugAssign)):
            if not (isinstance(n, gast.AugAssign) and isinstance(n.value, gast.Constant)):
                return False
        elif isinstance(n, gast.Assign) and any(
                isinstance(t, gast.Subscript) and isinstance(t.slice, gast.Slice)
                for t in n.targets):
            return False
        elif isinstance(n, gast.Call) and not _pure_call(n, ctx, tapes):
            return False
    return True


def _idle_loop(s, read_after, ctx, sequences=frozenset()):
    """``s`` is a ``for`` loop doing nothing over ``range(...)`` (or ``reversed`` of
    one, of harmless bounds) whose variable is read only inside loops binding it
    anew (``read_after``: the others): it can go."""
    if s.__class__ is not gast.For or s.orelse \
            or not all(x.__class__ is gast.Pass for x in s.body) \
            or not isinstance(s.target, gast.Name) or s.target.id in read_after:
        return False
    it = s.iter
    if isinstance(it, gast.Call) and shapes.callee(it, ctx) is reversed and len(it.args) == 1:
        it = it.args[0]
    return isinstance(it, gast.Call) and shapes.callee(it, ctx) is range and not it.keywords \
        and all(_harmless(a, ctx) or _len_of_array(a, ctx, sequences=sequences)
                for a in it.args)


def _len_of_array(e, ctx, range_of=False, sequences=frozenset()):
    """The name ``Q`` of ``len(Q)`` (with ``range_of``: of ``range(len(Q))``) for an
    array ``Q`` of known dimensions, or a name in ``sequences`` (``_sequences``): ``len``
    cannot raise; else None."""
    if range_of:
        if not (isinstance(e, gast.Call) and shapes.callee(e, ctx) is range
                and len(e.args) == 1 and not e.keywords):
            return None
        e = e.args[0]
    if isinstance(e, gast.Call) and shapes.callee(e, ctx) is len and len(e.args) == 1 \
            and not e.keywords and isinstance(e.args[0], gast.Name) \
            and (array_ndim(ctx.var_kinds.get(e.args[0].id)) is not None
                 or e.args[0].id in sequences):
        return e.args[0].id
    return None


def _read_outside_own_loops(stmts, facts, bound=frozenset()):
    """The names read somewhere in ``stmts`` but inside a ``for`` loop whose variable
    they are (``bound``: the variables of the loops around ``stmts``)."""
    out = set()
    for x in stmts:
        if x.__class__ in _COMPOUND:
            out.update(n for n in facts._header(x)[0] if n not in bound)
            inner = bound | {x.target.id} if x.__class__ is gast.For \
                and isinstance(x.target, gast.Name) else bound
            out |= _read_outside_own_loops(x.body, facts, inner)
            out |= _read_outside_own_loops(x.orelse, facts, bound)
        else:
            out.update(n for n in facts.lists(x)[0] if n not in bound)
    return out


def _ssa_copy(s):
    return isinstance(s.value, (gast.Name, gast.Constant)) and any(
        anno.get(s, k) for k in (anno.Key.JOIN, anno.Key.HEADER, anno.Key.COPYBACK))


def _error_checks(tree, ctx, facts, counts=None, blocks=None):
    """Make the calls kept only for the error they may raise cheaper, on the final code.

    ``math.f(x)`` goes when a later simple statement of its block calls a ``math``
    function that raises for the same argument (``math.sin(x)`` before
    ``math.cos(x)``: both raise for an infinite ``x`` only). ``math.log(x)`` (and
    ``log2``, ``log10``), which raises exactly when ``x <= 0`` for ints and floats,
    is called only then: ``if x <= 0: math.log(x)`` raises the same error and costs
    a comparison, not a logarithm and a float.

    ``counts``: ``facts.counts(tree)`` if known, kept up to date; ``blocks``:
    ``_blocks(tree.body)`` if known (see ``run``). Returns whether it made an ``if``
    (a new block).
    """
    guarded = False
    for block in _blocks(tree.body) if blocks is None else blocks:
        out = []
        for i, x in enumerate(block):
            if type(x) is gast.Expr and type(x.value) is gast.Call:
                if counts is None:
                    counts = facts.counts(tree)
                stores, loads = counts
                key = _math_domain(x.value, ctx, stores)
                if key is not None and _covered(key, block[i + 1:], ctx, stores, facts):
                    for n in facts.lists(x)[0]:
                        loads[n] -= 1
                    continue
                guard = _log_guard(x.value, ctx)
                if guard is not None:
                    x = gast.copy_location(gast.If(test=guard, body=[x], orelse=[]), x)
                    guarded = True
                    if guard.left.__class__ is gast.Name:
                        loads[guard.left.id] += 1
            out.append(x)
        block[:] = out
    return guarded


_LOGS = (math.log, math.log2, math.log10)


def _log_guard(call, ctx):
    """``x <= 0`` for ``math.log(x)`` (one argument, a scalar name or a number), or None."""
    if len(call.args) != 1 or call.keywords \
            or not ((type(call.args[0]) is gast.Name
                     and ctx.var_kinds.get(call.args[0].id) == "S")
                    or _num(call.args[0]) is not None) \
            or shapes.callee(call, ctx) not in _LOGS:
        return None             # (an array would fail the comparison's truth test instead)
    arg = call.args[0]
    operand = gast.Name(id=arg.id, ctx=gast.Load(), annotation=None, type_comment=None) \
        if type(arg) is gast.Name else gast.Constant(value=arg.value, kind=None)
    return gast.Compare(left=operand, ops=[gast.LtE()],
                        comparators=[gast.Constant(value=0, kind=None)])


def _covered(key, later, ctx, stores, facts):
    """Whether a simple statement of ``later`` calls a math function of the domain
    class and argument ``key``."""
    arg = key[1]
    return any(y.__class__ not in _COMPOUND and arg in facts.lists(y)[0]
               and key in _math_calls(y, ctx, stores) for y in later)


# math functions that raise for the same arguments: sin, cos and tan raise
# ValueError for infinities only (and each function is its own class)
_SAME_DOMAIN = {math.sin: "trig", math.cos: "trig", math.tan: "trig"}


def _math_domain(call, ctx, stores):
    """(domain class, argument name) of ``math.f(a)`` with ``a`` a name bound once,
    or None."""
    if len(call.args) != 1 or call.keywords or type(call.args[0]) is not gast.Name:
        return None
    arg = call.args[0].id
    if stores.get(arg, 0) > 1:
        return None
    f = shapes.callee(call, ctx)
    if not (callable(f) and getattr(f, "__module__", None) == "math"):
        return None
    return _SAME_DOMAIN.get(f, f), arg


def _math_calls(stmt, ctx, stores):
    return [key for c in walk(stmt) if type(c) is gast.Call
            for key in [_math_domain(c, ctx, stores)] if key is not None]


def _holds_scalar(ctx, n):
    """``n`` holds a Python or NumPy scalar (an adjoint or a tangent: if its primal
    does)."""
    kinds = ctx.var_kinds
    return kinds.get(n, kinds.get(ctx.namer.primal_of.get(n))) == "S"


def _shared_calls(tree, ctx, facts, copies):
    """Make a pure call of scalars once: ``math.sin(a)`` (or a NumPy ufunc, ``np.exp(a)``)
    made again, in the same block or a block nested in it, with ``a`` not rebound in
    between, reads the value made first. It reads the name that holds it when a
    statement ``h = math.sin(a)`` made it (``h`` a primal value, not rebound in
    between: code reads ``dx * _t2``, not ``dx * dy``); else a new ``h = math.sin(a)``
    goes right before the first statement making it, if nothing that statement
    evaluates before the call can raise (``+ - *`` of scalars), so that errors come
    in the same order. The derivative of ``sin`` is ``cos``: code that computes both
    of one angle (rotations, oscillators) calls each once; a user's repeated
    ``math.cos(a0)`` goes too. A value made in a branch or a loop serves only there;
    a loop's body sees the values from before it whose names the loop does not
    write. A primal value made again becomes a copy of the first (its name goes to
    ``copies``, for ``_propagate``). Returns the statements it changed."""
    touched = set()
    _SharedCalls(ctx, facts, touched, copies).block(tree.body, {}, {}, {})
    return touched


class _SharedCalls:
    def __init__(self, ctx, facts, touched, copies):
        self.ctx, self.facts, self.touched, self.copies = ctx, facts, touched, copies
        # (table, key, old value or _MISSING) of each change to undo: see nested; None
        # in the function's own body, whose changes are never undone
        self.journal = None
        self.kinds = ctx.var_kinds
        self.derivative = ctx.namer.is_derivative
        self.funcs = {}         # dotted name -> the function it names (shapes.callee)

    def scalar(self, n):
        return _holds_scalar(self.ctx, n)

    def key(self, call):
        """``(function, operands)`` of a pure call of scalar names and numbers, or None."""
        if call.keywords:
            return None
        operands = []
        for a in call.args:
            c = a.__class__
            if c is gast.Name:
                if not self.scalar(a.id):
                    return None
                operands.append(a.id)
            elif c is gast.Constant and type(a.value) in (int, float):
                # by its text: -0.0 == 0.0, yet math.atan2(-0.0, -1.0) is -pi
                operands.append((type(a.value), repr(a.value)))
            else:
                return None
        path = dotted_name(call.func)
        f = self.funcs.get(path, _MISSING)
        if f is _MISSING:
            f = self.funcs[path] = shapes.callee(call, self.ctx)
        if not (isinstance(f, np.ufunc) and f.nout == 1 and f.nin == len(operands)) \
                and not (callable(f) and getattr(f, "__module__", None) == "math"):
            return None
        return f, tuple(operands)

    def operation_key(self, e):
        """``(operator class, operands)`` of an arithmetic operation on scalar names and
        numbers (``a * b``, ``-a``) of the function's own code, or None."""
        kinds = self.kinds
        operands = []
        for a in ((e.left, e.right) if e.__class__ is gast.BinOp else (e.operand,)):
            c = a.__class__
            if c is gast.Name:
                if kinds.get(a.id) != "S":
                    return None
                operands.append(a.id)
            elif c is gast.Constant and (type(a.value) is float or type(a.value) is int):
                operands.append((type(a.value), repr(a.value)))   # -0.0 is not 0.0
            else:
                return None
        return e.op.__class__, tuple(operands)

    def block(self, stmts, avail, uses, holds):
        """``avail``: key -> the name holding its value; ``uses``, ``holds``: name -> the
        keys it is an operand, the holder of (tuples, replaced, never edited). All three
        are edited in place, each change noted in the journal (``nested`` undoes those
        of a nested block). ``first``: key -> where a call of this block without a holder
        was first made (``_First``)."""
        lists, kept = self.facts.lists, self.facts.known
        namer = self.ctx.namer          # (_generated, inline: asked of every assignment)
        is_derivative, temps, primal_temps = namer.is_derivative, namer.temps, \
            self.ctx.primal_temps
        Assign, Name, BinOp, UnaryOp, Call = gast.Assign, gast.Name, gast.BinOp, \
            gast.UnaryOp, gast.Call
        dropped, made = [], []          # made: (statement, the holder to put before it)
        first = {}
        for x in stmts:
            cls = x.__class__
            if cls in _SIMPLE:
                facts_x = kept(x) or lists(x)
                t = x.targets[0].id if cls is Assign and len(x.targets) == 1 \
                    and x.targets[0].__class__ is Name else None
                if t is not None and not (is_derivative(t)
                                          or (t in temps and t not in primal_temps)):
                    # a primal value: a holder if it is a call (the function's own
                    # repeated calls stay as it wrote them)
                    w = facts_x[1]      # (mostly one new name: no call of forget)
                    if facts_x[2] or (w and (len(w) > 1 or w[0] in uses or w[0] in holds)):
                        self.forget(w + facts_x[2], avail, uses, holds, first)
                    vcls = x.value.__class__
                    if vcls is BinOp or vcls is UnaryOp:
                        key = self.operation_key(x.value)   # the function's own a * b
                        if key is None or t in key[1]:      # made again: a copy of it
                            continue
                        h = avail.get(key)
                        if h is None:
                            self.hold(key, t, avail, uses, holds)
                        elif h != t:
                            x.value = _load(h)
                            self.copies.add(t)
                            self.touched.add(x)
                            self.facts.forget(x)
                    elif vcls is Call:
                        key = self.key(x.value)
                        if key is None or t in key[1]:
                            continue
                        h = avail.get(key)
                        seen = first.get(key)
                        if h is None and seen is not None:      # derivative code made it
                            h = self.make_holder(key, seen, x.value, x, avail, uses, holds,
                                                 first, made)
                        if h is None:
                            self.hold(key, t, avail, uses, holds)
                        elif h != t:            # made again: a copy, which propagation
                            x.value = _load(h)  # takes (its reads read h)
                            self.copies.add(t)
                            self.touched.add(x)
                            self.facts.forget(x)
                    continue
                if facts_x[5] and getattr(x, "value", None) is not None:
                    # derivative code (and calls kept for their errors)
                    self.statement(x, avail, uses, holds, first, made)
                    if cls is gast.Expr and x.value.__class__ is gast.Name:
                        dropped.append(x)       # a call kept for its error: made already
                        continue
                    facts_x = lists(x)
                w = facts_x[1]
                if facts_x[2] or (w and (len(w) > 1 or w[0] in uses or w[0] in holds)):
                    self.forget(w + facts_x[2], avail, uses, holds, first)
                if t is not None and x.value.__class__ is Call and not is_derivative(t):
                    key = self.key(x.value)         # a template's temporary: a holder too
                    if key is not None and t not in key[1] and key not in avail:
                        first.pop(key, None)
                        self.hold(key, t, avail, uses, holds)
            elif cls is gast.If:
                self.replace(x, "test", avail)
                for inner in (x.body, x.orelse):
                    self.nested(inner, avail, uses, holds)
                self.forget(self.facts.writes(x), avail, uses, holds, first)
            elif cls is gast.For or cls is gast.While:
                if cls is gast.For:
                    self.replace(x, "iter", avail)
                self.forget(self.facts.writes(x), avail, uses, holds, first)
                if cls is gast.While:
                    self.replace(x, "test", avail)
                for inner in (x.body, x.orelse):
                    self.nested(inner, avail, uses, holds)
            else:
                avail.clear()
                uses.clear()
                holds.clear()
                first.clear()
        if dropped or made:
            before = {}
            for y, holder in made:
                before.setdefault(id(y), []).append(holder)
            gone = {id(y) for y in dropped}
            out = []
            for y in stmts:
                out += before.get(id(y), ())
                if id(y) not in gone and not (y.__class__ is gast.Expr
                                              and y.value.__class__ is gast.Name):
                    out.append(y)       # (not a call kept for its error that a holder makes)
            stmts[:] = out

    def nested(self, stmts, avail, uses, holds):
        """``block`` for a block nested in the one the tables are of: what it changes
        in them is undone after it (``journal``: (table, key, old value) of each
        change), so the values made inside serve only inside."""
        outer = self.journal
        journal = self.journal = [] if outer is None else outer
        mark = len(journal)
        self.block(stmts, avail, uses, holds)
        for table, key, old in reversed(journal[mark:]):
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        del journal[mark:]
        self.journal = outer

    def hold(self, key, h, avail, uses, holds):
        journal = self.journal
        if journal is not None:
            journal.append((avail, key, avail.get(key, _MISSING)))
            journal.append((holds, h, holds.get(h, ())))
            journal += [(uses, n, uses.get(n, ())) for n in key[1] if n.__class__ is str]
        avail[key] = h
        holds[h] = holds.get(h, ()) + (key,)
        for n in key[1]:
            if n.__class__ is str:
                uses[n] = uses.get(n, ()) + (key,)

    def forget(self, names, avail, uses, holds, first=None):
        """The names were rebound: the values of calls they hold or are operands of are
        not at hand any more, nor are the first calls of ``first`` they are operands
        of."""
        journal = self.journal
        for n in names:
            if n in uses or n in holds:
                u, h = uses.pop(n, ()), holds.pop(n, ())
                if journal is not None:
                    journal.append((uses, n, u))
                    journal.append((holds, n, h))
                for key in u + h:
                    if key in avail:
                        old = avail.pop(key)
                        if journal is not None:
                            journal.append((avail, key, old))
                    if first:
                        first.pop(key, None)

    def make_holder(self, key, seen, call, stmt, avail, uses, holds, first, made):
        """A new name ``h`` holding the call of ``key`` (``call``), made by ``h = <call>``
        before the statement where ``first`` saw it (``seen``), which reads ``h`` from now
        on; ``stmt`` is the statement making it again. Returns ``h``."""
        h = self.ctx.namer.temp()
        self.kinds[h] = "S"
        f, operands = key
        if getattr(f, "__name__", None) not in _MATH_INTS \
                and not self.ctx.active.isdisjoint(operands):
            self.ctx.active.add(h)          # a float, as the values it is made of
        made.append((seen.stmt, gast.Assign(targets=[gast.Name(
            id=h, ctx=gast.Store(), annotation=None, type_comment=None)],
            value=clone(call), type_comment=None)))
        seen.replace_with(h)
        if seen.stmt is not stmt:
            self.touched.add(seen.stmt)
            self.facts.forget(seen.stmt)
        del first[key]
        self.hold(key, h, avail, uses, holds)
        return h

    def replace(self, x, field, avail):
        """Read the holders of the available calls in ``x.<field>`` (a test, an
        iterable: no holder is made for them)."""
        if avail:
            self.statement(x, avail, None, None, None, None, field)

    def statement(self, x, avail, uses, holds, first, made, field="value"):
        """Rewrite the calls in ``x.<field>`` that ``avail`` holds or ``first`` saw;
        note in ``first`` those a holder could be made for (when ``first`` is given)."""
        walk = _CallWalk(self, x, avail, uses, holds, first, made)
        expr = getattr(x, field)
        new = walk.visit(expr, True)
        if new is expr and not walk.changed:
            return
        self.touched.add(x)
        self.facts.forget(x)
        if x.__class__ is gast.Assign and new.__class__ is gast.Name \
                and x.targets[0].__class__ is gast.Name and x.targets[0].id == new.id:
            return              # h = math.sin(a) again: h holds it already
        setattr(x, field, new)


class _CallWalk:
    """One statement's expression in the order Python evaluates it: the calls some name
    holds are replaced by the name; a call made a second time in the block gets a new
    holder (``_SharedCalls.statement``). ``quiet``: nothing evaluated so far can raise,
    so a holder made before the statement changes no error."""

    def __init__(self, shared, stmt, avail, uses, holds, first, made):
        self.shared, self.stmt = shared, stmt
        self.avail, self.uses, self.holds, self.first, self.made = avail, uses, holds, \
            first, made
        self.quiet = True
        self.changed = False

    def visit(self, e, surely):
        """``e`` rewritten (in place but for ``e`` itself); ``surely``: ``e`` is evaluated
        whenever the statement is (not a branch of ``a if c else b``)."""
        cls = e.__class__
        if cls is gast.Name:
            if not self.shared.scalar(e.id) or e.id in self.shared.ctx.maybe_none:
                self.quiet = False          # an array's arithmetic may raise, None's does
            return e
        if cls is gast.Constant:
            if type(e.value) not in (int, float, bool):
                self.quiet = False
            return e
        if cls in _SCOPES:
            self.quiet = False
            return e
        if cls is gast.BinOp:
            self.field(e, "left", surely)
            self.field(e, "right", surely)
            if e.op.__class__ not in _QUIET_BINOPS:
                self.quiet = False
            return e
        if cls is gast.UnaryOp:
            self.field(e, "operand", surely)
            if e.op.__class__ not in (gast.USub, gast.UAdd):
                self.quiet = False
            return e
        if cls is gast.Call:
            key = self.shared.key(e)
            if key is not None:
                holder = self.avail.get(key)
                if holder is not None:
                    return _load(holder)
                if self.first is not None:
                    seen = self.first.get(key)
                    if seen is not None:
                        return self.make_holder(key, seen, e)
                    if surely and self.quiet:
                        uses, journal = self.uses, self.shared.journal
                        for n in key[1]:        # (forgotten when an operand is rebound)
                            if n.__class__ is str:
                                old = uses.get(n, ())
                                if journal is not None:
                                    journal.append((uses, n, old))
                                uses[n] = old + (key,)
                        self.first[key] = _First(self.stmt)
                        self.quiet = False
                        return self.first[key].at(e)
            self.quiet = False
        elif cls is gast.IfExp:
            self.field(e, "test", surely)
            self.field(e, "body", False)
            self.field(e, "orelse", False)
            return e
        elif cls is gast.BoolOp:
            for i, v in enumerate(e.values):
                new = self.visit(v, surely and i == 0)
                if new is not v:
                    e.values[i] = new
                    self.changed = True
            return e
        else:
            self.quiet = False
        for f in e._fields:
            v = getattr(e, f, None)
            if isinstance(v, gast.expr):
                self.field(e, f, surely)
            elif isinstance(v, list):
                for i, item in enumerate(v):
                    if isinstance(item, gast.expr):
                        new = self.visit(item, surely)
                        if new is not item:
                            v[i] = new
                            self.changed = True
        return e

    def field(self, e, f, surely):
        v = getattr(e, f)
        new = self.visit(v, surely)
        if new is not v:
            setattr(e, f, new)
            self.changed = True

    def make_holder(self, key, seen, call):
        """The second call of ``key`` in the block: ``h = <call>`` before the statement
        of the first, which reads ``h`` from now on, as this one does."""
        return _load(self.shared.make_holder(key, seen, call, self.stmt, self.avail,
                                             self.uses, self.holds, self.first, self.made))


class _First:
    """Where a call was first made in a block: its statement and the call node (its
    place is found again when the holder is made)."""

    def __init__(self, stmt):
        self.stmt, self.node = stmt, None

    def at(self, node):
        self.node = node
        return node

    def replace_with(self, h):
        stack = [self.stmt]
        while stack:
            n = stack.pop()
            for f in n._fields:
                v = getattr(n, f, None)
                if v is self.node:
                    setattr(n, f, _load(h))
                    return
                if isinstance(v, gast.AST):
                    stack.append(v)
                elif isinstance(v, list):
                    for i, item in enumerate(v):
                        if item is self.node:
                            v[i] = _load(h)
                            return
                        if isinstance(item, gast.AST):
                            stack.append(item)


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


_QUIET_BINOPS = (gast.Add, gast.Sub, gast.Mult)
_MISSING = object()
_SCOPES = (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
_SIMPLE = (gast.Assign, gast.AugAssign, gast.Expr, gast.Return, gast.Pass, gast.Delete,
           gast.Break, gast.Continue, gast.Raise, gast.Assert)


def _swap_back(tree, ctx, facts, counts=None, blocks=None):
    """``a = b; ...; b = a`` with neither rebound in between: drop the second.
    ``counts``: ``facts.counts(tree)``, kept up to date (if given); ``blocks``:
    ``_blocks(tree.body)`` if known (see ``run``)."""
    changed = False
    Assign, Name = gast.Assign, gast.Name
    for block in _blocks(tree.body) if blocks is None else blocks:
        pairs = {(x.targets[0].id, x.value.id) for x in block     # _copy_pair, inline
                 if x.__class__ is Assign and x.value.__class__ is Name
                 and len(x.targets) == 1 and x.targets[0].__class__ is Name}
        if not any((b, a) in pairs for a, b in pairs):
            continue         # no copy is undone in this block
        writes = _writers([facts.lists(x) for x in block])
        drop = set()
        for i, x in enumerate(block):
            pair = _copy_pair(x)
            if pair is None or i in drop:
                continue
            a, b = pair
            after = [p for p in writes.get(a, []) + writes.get(b, []) if p > i]
            if after:
                k = min(after)
                if _copy_pair(block[k]) == (b, a) and k not in drop:
                    drop.add(k)
                    if counts is not None:
                        _unstore(counts[0], (b,))
                        counts[1][a] -= 1
        if drop:
            block[:] = [x for k, x in enumerate(block) if k not in drop]
            changed = True
    return changed


def _copy_pair(s):
    if isinstance(s, gast.Assign) and len(s.targets) == 1 \
            and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name):
        return s.targets[0].id, s.value.id
    return None


_MATH_INTS = {"ceil", "floor", "trunc", "factorial", "comb", "perm", "gcd", "lcm", "isqrt",
              "isfinite", "isinf", "isnan", "isclose"}      # math functions of int results

_FOLD = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b,
         gast.Mult: lambda a, b: a * b}


def _num(node):
    if isinstance(node, gast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


class _Fold(Transformer):
    """``2 - 1`` -> ``1``; ``e ** 1`` -> ``e``; ``1.0 * e`` -> ``e`` and ``-1.0 * e`` ->
    ``-e`` unless ``e`` is a bare name that may hold an array (the result must not
    alias it); ``-(2.0)`` -> ``-2.0``."""

    def __init__(self, ctx=None):
        self.ctx = ctx
        self.kinds = ctx.var_kinds if ctx else {}
        self.active = ctx.active if ctx else set()
        self.namer = ctx.namer if ctx else None

    def _floaty(self, n):
        return n in self.active or (self.namer is not None and self.namer.is_derivative(n))

    def _fresh_value(self, e):
        """``e`` surely holds floats (not ints) and is not a bare name of an array."""
        if isinstance(e, gast.Name):
            return self.kinds.get(e.id) == "S" and self._floaty(e.id)
        return self._float_expr(e)

    def _float_expr(self, e):
        """``e`` surely holds floats: it has a float operand that no int-valued
        operation (a comparison, ``math.ceil``, ``len``...) hides."""
        cls = e.__class__
        if cls is gast.Name:
            return self._floaty(e.id)
        if cls is gast.Constant:
            return type(e.value) is float
        if cls is gast.BinOp:
            return isinstance(e.op, gast.Div) or self._float_expr(e.left) \
                or self._float_expr(e.right)
        if cls is gast.UnaryOp:
            return isinstance(e.op, (gast.USub, gast.UAdd)) and self._float_expr(e.operand)
        if cls is gast.Subscript:
            return self._float_expr(e.value)
        if cls is gast.Call:
            return self._float_call(e)
        return False        # comparisons and booleans are ints; the rest is not known

    def _float_call(self, e):
        """A call of a ``math`` function returning floats, or of a NumPy function of
        something holding floats."""
        dotted = dotted_name(e.func)
        if dotted is None or self.ctx is None:
            return False
        try:
            f = self.ctx.lookup(dotted)
        except (KeyError, AttributeError):
            return False
        module = getattr(f, "__module__", None) or ""
        if module == "math" or getattr(math, getattr(f, "__name__", ""), None) is f:
            return f.__name__ not in _MATH_INTS
        if isinstance(f, np.ufunc) or module.startswith("numpy") \
                or f is runtime.pow_dx or f is runtime.pow_dy:
            return any(self._float_expr(a) for a in e.args)
        return False

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        v = _num(node.operand)
        if isinstance(node.op, gast.USub) and v is not None:
            return gast.Constant(value=-v, kind=None)
        e = node.operand
        if isinstance(node.op, gast.USub) and isinstance(e, gast.BinOp) \
                and isinstance(e.op, (gast.Mult, gast.Div)):
            if _num(e.left) is not None:              # -(c * x) -> -c * x
                e.left = gast.Constant(value=-_num(e.left), kind=None)
                return e
            if _num(e.right) is not None:             # -(x * c) -> x * -c
                e.right = gast.Constant(value=-_num(e.right), kind=None)
                return e
        if isinstance(node.op, gast.USub) and isinstance(node.operand, gast.UnaryOp) \
                and isinstance(node.operand.op, gast.USub):
            return node.operand.operand
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
        if isinstance(node.op, (gast.Mult, gast.Div)) and isinstance(left, gast.UnaryOp) \
                and isinstance(left.op, gast.USub) and _num(right) is not None:
            node.left = left = left.operand          # -x * c -> x * -c
            node.right = right = gast.Constant(value=-_num(right), kind=None)
            self.changed = True
        a, b = _num(left), _num(right)
        if isinstance(node.op, gast.Mult) and (a in (1, -1) or b in (1, -1)):
            c, e = (a, right) if a in (1, -1) else (b, left)
            if self._fresh_value(e) and _num(e) is None:
                return e if c == 1 else gast.UnaryOp(op=gast.USub(), operand=e)
        if isinstance(node.op, gast.Div) and b == 1 and self._fresh_value(left):
            return left
        if isinstance(node.op, gast.Add) and isinstance(right, gast.UnaryOp) \
                and isinstance(right.op, gast.USub):
            return gast.BinOp(left=left, op=gast.Sub(), right=right.operand)
        numeric = (int, float)
        if isinstance(left, gast.Constant) and isinstance(right, gast.Constant) \
                and type(left.value) in numeric and type(right.value) in numeric \
                and type(node.op) in _FOLD:
            return gast.Constant(value=_FOLD[type(node.op)](left.value, right.value), kind=None)
        if isinstance(node.op, gast.Pow) and isinstance(right, gast.Constant) \
                and type(right.value) in numeric and right.value == 1:
            return left
        return node


class _Substitute(Transformer):
    """Replace loads of names by other names (str) or numbers."""

    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, n):
        if isinstance(n.ctx, gast.Load) and n.id in self.mapping:
            value = self.mapping[n.id]
            if isinstance(value, str):
                n.id = value
                return n
            if isinstance(value, gast.AST):
                return clone(value)
            return gast.Constant(value=value, kind=None)
        return n


def _fold(fold, tree, only, facts):
    """``fold.visit(tree)``, visiting of the statements only those in ``only`` (all if
    None): the others are left as they were after the last fold, so folding them again
    would change nothing (nor the arguments and decorators, visited only with the
    whole). Returns the statements the fold changed (to fold again)."""
    if only is None:
        body, tree.body = tree.body, []
        fold.visit(tree)            # arguments, decorators: tiny
        tree.body = body
    else:
        body = tree.body
    changed = set()
    _fold_block(fold, body, only, changed, facts)
    return changed


def _fold_block(fold, stmts, only, changed, facts):
    if only is not None:            # (most statements are neither in only nor compound)
        stmts = [s for s in stmts if s in only or s.__class__ in _COMPOUND]
    lists, kept = facts.lists, facts.known
    for s in stmts:
        visit = only is None or s in only
        if s.__class__ in _COMPOUND:
            if visit:               # the header here, the statements in it below
                fold.changed = False
                for attr in ("test", "target", "iter"):
                    old = getattr(s, attr, None)
                    if old is not None:
                        new = fold.visit(old)
                        if new is not old:
                            setattr(s, attr, new)
                            fold.changed = True
                if fold.changed:
                    changed.add(s)
            for inner in (s.body, s.orelse):
                _fold_block(fold, inner, None if visit else only, changed, facts)
        elif visit and (kept(s) or lists(s))[3]:        # (facts.foldable)
            fold.changed = False
            fold.visit(s)           # statements are kept; expressions in them replaced
            if fold.changed:
                changed.add(s)
                facts.forget(s)


def _empty_blocks(stmts):
    """Drop ``if`` statements left with nothing to do and copies of a name to itself
    (``bs_1 = bs_1``, what inlining leaves of a loop's copy-back); give empty bodies
    a ``pass``."""
    out = []
    Assign, Name, Pass = gast.Assign, gast.Name, gast.Pass
    for s in stmts:
        cls = s.__class__
        if cls is Assign:
            if len(s.targets) == 1 and type(s.targets[0]) is Name \
                    and type(s.value) is Name and s.targets[0].id == s.value.id:
                continue
            out.append(s)               # (the most common statement: as below)
            continue
        if cls in _COMPOUND:
            s.body = [x for x in _empty_blocks(s.body) if x.__class__ is not Pass]
            s.orelse = [x for x in _empty_blocks(s.orelse) if x.__class__ is not Pass]
            if isinstance(s, gast.If) and not s.body and not s.orelse \
                    and isinstance(s.test, (gast.Name, gast.Constant)):
                continue
            if not s.body:
                s.body = [gast.Pass()]
        if cls is Pass and out:
            continue
        out.append(s)
    return out


def _negations(tree, ctx, fold, facts, touched):
    """``b = -e`` read once, later in its block, by ``c = b * 2 * t``: the reader
    becomes ``c = e * -2 * t`` (and ``b = 2.0 * t; c = -b`` becomes
    ``c = -2.0 * t``): one operation less, which on arrays is one pass less.
    Done only when folding then leaves fewer negations than before."""
    if not any(map(is_array_kind, ctx.var_kinds.values())):
        return False        # scalar code: fuse.py inlines single-use values, fold does this
    stores, loads = facts.counts(tree)
    changed = False
    for block in _blocks(tree.body):
        negated = {y.value.operand.id for y in block if isinstance(y, gast.Assign)
                   and isinstance(y.value, gast.UnaryOp) and isinstance(y.value.op, gast.USub)
                   and isinstance(y.value.operand, gast.Name)}
        for i, x in enumerate(block):
            if not (isinstance(x, gast.Assign) and len(x.targets) == 1
                    and isinstance(x.targets[0], gast.Name)):
                continue
            a = x.targets[0].id
            if not ctx.namer.is_derivative(a) or stores.get(a) != 1 or loads.get(a) != 1:
                continue
            if a not in negated and not facts.negations(x):
                continue            # no negation to fold away
            j = next((k for k in range(i + 1, len(block)) if a in facts.reads(block[k])), None)
            if j is None or not isinstance(block[j], gast.Assign) \
                    or not isinstance(block[j].targets[0], gast.Name):
                continue
            y = block[j]
            neg_x, neg_y = facts.negations(x), facts.negations(y)
            reads = set(facts.reads(x)) | {a}
            if any(not reads.isdisjoint(facts.writes(block[k])) for k in range(i + 1, j)):
                continue            # an operand is rebound in between
            trial = _Substitute({a: x.value}).visit(clone(y.value))
            trial = fold.visit(trial)
            if _count_neg(trial) < neg_x + neg_y:
                y.value = trial
                facts.forget(y)
                touched.add(y)
                block[i] = gast.Pass()
                changed = True
    if changed:
        for block in _blocks(tree.body):
            block[:] = [x for x in block if not isinstance(x, gast.Pass)] or [gast.Pass()]
    return changed


def _count_neg(e):
    """How many negations of something other than a number ``e`` holds."""
    return _scan(e)[4]


def _constant_adjoints(tree, ctx, facts, touched):
    """``b = sum_adjoint(1.0, w)`` (an array of ones shaped like ``w``) becomes
    ``b = 1.0`` when every use of ``b`` broadcasts it back to that shape anyway:
    elementwise arithmetic with an array of ``w``'s shape class, ``index_add``
    and ``getitem_adjoint`` (which assign it into an array), or assignments that
    are themselves such constants. Constant propagation and folding then turn
    ``b * 100.0 * 2 * t`` into ``200.0 * t``: the reverse of ``np.sum`` of an
    elementwise expression costs no array of ones and no multiplications by one.
    Only statements of the function's own body (no loops or branches) qualify.
    """
    sum_adj = ctx.injected_names.get(("sum_adjoint", id(runtime.sum_adjoint)))
    if not ctx.shapes or sum_adj is None:
        return False
    primal_of = {a: p for p, a in ctx.namer._adjoints.items()}
    stores, loads = facts.counts(tree)
    top = tree.body
    top_deep = [facts.reads(s) for s in top]
    top_loads = {}
    for d in top_deep:
        for n, k in d.items():
            top_loads[n] = top_loads.get(n, 0) + k
    helpers = {ctx.injected_names.get((h, id(getattr(runtime, h)))): h
               for h in ("index_add", "getitem_adjoint")}

    def cls(n):
        p = primal_of.get(n, n)
        return "S" if ctx.var_kinds.get(p) == "S" else ctx.shapes.get(p)

    def arithmetic(e):
        return all(isinstance(n, (gast.BinOp, gast.UnaryOp, gast.Name, gast.Constant,
                                  gast.operator, gast.unaryop, gast.expr_context))
                   for n in walk(e)) and not any(
            isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult) for n in walk(e))

    def safe(b, c, seen):
        if stores.get(b) != 1 or loads.get(b, 0) != top_loads.get(b, 0):
            return False        # rebound, or read inside a loop or branch
        for s, deep in zip(top, top_deep):
            if b not in deep:
                continue
            if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                    and isinstance(s.targets[0], gast.Name) and arithmetic(s.value):
                used = {n.id for n in walk(s.value) if isinstance(n, gast.Name)}
                classes = {cls(n) for n in used - seen - {b}} - {"S"}
                if classes == {c}:
                    continue            # broadcast against an array of that shape
                if not classes and safe(s.targets[0].id, c, seen | {b}):
                    continue            # itself a constant standing for that array
                return False
            if isinstance(s, gast.AugAssign) and isinstance(s.op, gast.Add) \
                    and isinstance(s.value, gast.Name) and s.value.id == b \
                    and isinstance(s.target, gast.Subscript) \
                    and b not in _deep_loads(s.target):
                continue                # out[i] += b: assigned into an array
            call = s.value if isinstance(s, (gast.Assign, gast.Expr)) else None
            if isinstance(call, gast.Call) and isinstance(call.func, gast.Name) \
                    and not call.keywords and len(call.args) == 3:
                kind = helpers.get(call.func.id)
                others = [a for k, a in enumerate(call.args)
                          if k != (2 if kind == "index_add" else 0)]
                if kind is not None and not any(b in _deep_loads(a) for a in others) \
                        and isinstance(call.args[2 if kind == "index_add" else 0], gast.Name):
                    if kind == "getitem_adjoint" and not is_array_kind(ctx.var_kinds.get(
                            getattr(call.args[1], "id", None))):
                        return False
                    continue
            return False
        return True

    changed = False
    for s in top:
        v = s.value if isinstance(s, gast.Assign) else None
        if not (isinstance(v, gast.Call) and isinstance(v.func, gast.Name)
                and v.func.id == sum_adj and len(v.args) == 4):
            continue
        g, w, axis, keep = v.args
        if _num(g) is None or not isinstance(w, gast.Name) or _num(axis) is not None \
                or not (isinstance(axis, gast.Constant) and axis.value is None) \
                or cls(w.id) in (None, "S") or len(s.targets) != 1 \
                or not isinstance(s.targets[0], gast.Name):
            continue
        if safe(s.targets[0].id, cls(w.id), set()):
            s.value = gast.Constant(value=float(g.value), kind=None)
            facts.forget(s)
            touched.add(s)
            changed = True
    safe = None  # noqa: F841 - empties the cell (a cycle through it holds the tree)
    return changed


def run(tree, ctx):
    if isinstance(tree, gast.Module):
        for fdef in tree.body:
            run(fdef, ctx)
        return tree
    facts = _Facts()
    if not ctx.optimize:
        # the raw code (optimize=False) keeps everything but the copies SSA made at
        # joins and loop headers that nothing reads: such a copy may read a name
        # that a loop which ran no iteration never bound (``i_2 = i`` after
        # ``for i in range(0)``), which the function itself never reads
        _dead(tree, ctx, facts, scaffolding=True)
        return tree
    # The blocks of statements of the function: until _dead_cycles, the passes
    # change statements in place and add or remove no if or loop (nor replace a
    # body), so the list stays right (a block they empty stays in it, and nothing
    # is found in it); made again after a pass that may have.
    blocks = _blocks(tree.body)
    ctx.maybe_none |= _maybe_none(tree, blocks)
    _rule_temps(tree, ctx, facts, blocks)
    fold = _Fold(ctx)
    refold = _fold(fold, tree, None, facts)
    copies = set()              # primal names _shared_calls made copies of a value
    refold |= _shared_calls(tree, ctx, facts, copies)
    # (stores, loads) of the whole function (facts.counts), counted once and kept up
    # to date by the passes given them; None after a pass that does not (counted
    # again when needed). Folding changes no name. A name no longer stored is taken
    # out of stores (``_unstore``: ``stores.get(b, 1)`` tells a parameter never
    # written); one no longer read may stay in loads with 0, which every reader of
    # it takes as absent.
    counts = None
    for _ in range(20):
        # One sweep. Dead code goes to its fixed point; copy propagation, run after
        # it, folds what it rewrites and takes the copies that makes at once. What
        # can still leave work for another sweep: undone copies dropped (their
        # source may be dead now), adjoints turned into numbers (new constants to
        # propagate; the arrays they were shaped by may be dead), and statements
        # the fold changed (a new copy ``b = a`` from ``b = a * 1.0``).
        touched = set()
        if counts is None:
            counts = facts.counts(tree)
        _dead(tree, ctx, facts, counts=counts, blocks=blocks)
        _propagate(tree, ctx, facts, touched, fold, copies, counts, blocks)
        again = _constant_adjoints(tree, ctx, facts, touched)
        if again:
            counts = None
        again = _swap_back(tree, ctx, facts, counts, blocks) or again
        refold = _fold(fold, tree, refold | touched, facts)
        if not (again or refold):
            break
    from . import restores
    if restores.run(tree, ctx):
        blocks = _blocks(tree.body)
        counts = facts.counts(tree)
        _dead(tree, ctx, facts, counts=counts, blocks=blocks)
    if _dead_cycles(tree, ctx, facts, blocks):
        blocks = _blocks(tree.body)     # (idle loops may have gone)
        counts = facts.counts(tree)
        _dead(tree, ctx, facts, counts=counts, blocks=blocks)
    if _error_checks(tree, ctx, facts, counts, blocks):
        blocks = None
    touched = set()
    if _negations(tree, ctx, fold, facts, touched):       # once, on the final code
        counts = None
        _fold(fold, tree, touched, facts)
    from . import fuse
    touched = fuse.run(tree, ctx, facts, counts, blocks)
    if touched:
        _fold(fold, tree, touched, facts)
    _counted_by_tape(tree, ctx, facts)
    from . import signs
    signs.run(tree, ctx, facts)
    tree.body = _empty_blocks(tree.body)
    _free_arrays(tree, ctx, facts)
    return tree


def _counted_by_tape(tree, ctx, facts):
    """A loop whose body is straight-line code recording ``k`` values on the tape in
    each iteration, and nothing else on it, needs no trip counter ``_n1 += 1``: its
    count is what the tape grew by, ``(len(_tape) - _n1) // k`` with ``_n1 =
    len(_tape)`` before the loop (one operation per iteration less: Newton's
    ``while`` loop in reverse mode)."""
    tapes = {s.targets[0].id for s in tree.body
             if isinstance(s, gast.Assign) and len(s.targets) == 1
             and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.List)
             and not s.value.elts and s.targets[0].id in ctx.namer.made}
    if ctx.tape_param:
        tapes.add(ctx.tape_param)
    if not tapes:
        return
    stores = None
    for block in _blocks(tree.body):
        for j, loop in enumerate(block):
            if not isinstance(loop, (gast.While, gast.For)) or loop.orelse or not loop.body:
                continue
            bump = loop.body[0]
            if not (isinstance(bump, gast.AugAssign) and isinstance(bump.op, gast.Add)
                    and isinstance(bump.target, gast.Name) and _num(bump.value) == 1
                    and type(bump.value.value) is int
                    and bump.target.id.startswith("_n") and bump.target.id in ctx.namer.made):
                continue
            n = bump.target.id
            at = next((i for i in range(j - 1, -1, -1) if n in facts.writes(block[i])), None)
            if at is None or not (isinstance(block[at], gast.Assign)
                                  and _num(block[at].value) == 0):
                continue
            if stores is None:
                stores = facts.counts(tree)[0]
            if stores.get(n) != 2:
                continue
            tape, pushes = None, 0
            for x in loop.body[1:]:
                if x.__class__ in _COMPOUND or n in facts.reads(x):
                    break
                v = x.value if isinstance(x, gast.Expr) else None
                if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) \
                        and v.func.attr == "append" and isinstance(v.func.value, gast.Name) \
                        and v.func.value.id in tapes and len(v.args) == 1 \
                        and not v.keywords and (tape is None or tape == v.func.value.id) \
                        and not tapes.intersection(facts.reads(x)) - {v.func.value.id} \
                        and facts.reads(x).get(v.func.value.id) == 1:
                    tape = v.func.value.id
                    pushes += 1
                elif tapes.intersection(facts.reads(x)) or tapes.intersection(facts.writes(x)):
                    break
            else:
                if tape is None:
                    continue
                header = [loop.test] if isinstance(loop, gast.While) else [loop.target, loop.iter]
                if any(isinstance(m, gast.Name) and m.id in tapes | {n}
                       for h in header for m in walk(h)):
                    continue
                if any(tapes.intersection(facts.reads(block[i])) or tapes.intersection(
                        facts.writes(block[i])) or n in facts.reads(block[i])
                        for i in range(at + 1, j)):
                    continue
                length = gast.Call(func=_load(ctx.inject("len", len)), args=[_load(tape)],
                                   keywords=[])
                # a tape made in the function's body and empty up to the loop: its length
                empty = block is tree.body and any(
                    isinstance(x, gast.Assign) and isinstance(x.value, gast.List)
                    and isinstance(x.targets[0], gast.Name) and x.targets[0].id == tape
                    and not any(
                        tape in facts.reads(y) or tape in facts.writes(y)
                        for y in block[i + 1:j])
                    for i, x in enumerate(block[:j]))
                if empty:
                    grown = length
                    del block[at]
                    j -= 1
                else:
                    block[at] = gast.Assign(targets=[_store(n)], value=length,
                                            type_comment=None)
                    grown = gast.BinOp(left=clone(length), op=gast.Sub(), right=_load(n))
                    if at != j - 1:         # the count taken right before the loop
                        block.insert(j, block.pop(at))
                    facts.forget(block[j - 1])
                if pushes > 1:
                    grown = gast.BinOp(left=grown, op=gast.FloorDiv(),
                                       right=gast.Constant(value=pushes, kind=None))
                after = gast.Assign(targets=[_store(n)], value=grown, type_comment=None)
                loop.body.pop(0)
                block.insert(j + 1, after)
                facts.forget(loop)
                # (stores of n changed, and n is this loop's counter only: the counts
                # of the other loops' counters hold)


def _store(name):
    return gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)


def _rule_temps(tree, ctx, facts, blocks):
    """``q = bz / y; bx = q``: a temporary of an adjoint template (``q``, shared by
    the contributions of a division) copied into an adjoint written nowhere else takes
    the adjoint's name (``bx = bz / y``), where copy propagation would keep the
    temporary's: the gradient is returned as ``bx``, not as ``_t2``. Only where the
    adjoint is read after the copy, in its block, and the temporary is written
    once, before the copy in that block."""
    temps = ctx.namer.rule_temps
    if not temps:
        return
    Assign, Name = gast.Assign, gast.Name
    rename = {}
    stores = loads = None
    for block in blocks:
        for i, x in enumerate(block):
            if not (type(x) is Assign and type(x.value) is Name and x.value.id in temps
                    and len(x.targets) == 1 and type(x.targets[0]) is Name):
                continue
            a, t = x.targets[0].id, x.value.id
            if not ctx.namer.is_derivative(a) or a in rename.values() or t in rename:
                continue
            if stores is None:
                stores, loads = facts.counts(tree)
            if stores.get(a) != 1 or stores.get(t) != 1 \
                    or not any(t in facts.writes(y) for y in block[:i]) \
                    or sum(facts.reads(y).get(a, 0) for y in block[i + 1:]) != loads.get(a, 0):
                continue
            rename[t] = a
            block[i] = gast.Pass()
    if not rename:
        return
    for block in blocks:
        block[:] = [y for y in block if type(y) is not gast.Pass] or [gast.Pass()]
        for y in block:
            if y.__class__ in _COMPOUND:
                continue
            hit = False
            for n in names(y):
                if n.id in rename:
                    n.id = rename[n.id]
                    hit = True
            if hit:
                facts.forget(y)
    for block in blocks:            # (the headers of ifs and loops)
        for y in block:
            if y.__class__ in _COMPOUND:
                for attr in ("test", "target", "iter"):
                    node = getattr(y, attr, None)
                    for n in names(node) if node is not None else ():
                        if n.id in rename:
                            n.id = rename[n.id]
                facts.forget(y)


def _maybe_none(tree, blocks=None):
    """The names that may hold SSA's None marker of a name the function has not bound
    (``k`` read after ``for i in range(n): k = 9.81 / L`` when ``n == 0``), and their
    copies: arithmetic reading them may raise (where the function raises
    UnboundLocalError), so it is not harmless."""
    copies, out = {}, set()         # name -> the names copied from it
    Assign, Name, Constant = gast.Assign, gast.Name, gast.Constant
    for block in _blocks(tree.body) if blocks is None else blocks:
        for x in block:
            if type(x) is Assign and len(x.targets) == 1 and type(x.targets[0]) is Name:
                v = x.value
                if type(v) is Constant and v.value is None:
                    out.add(x.targets[0].id)
                elif type(v) is Name:
                    copies.setdefault(v.id, []).append(x.targets[0].id)
    todo = list(out)
    while todo:
        for b in copies.get(todo.pop(), ()):
            if b not in out:
                out.add(b)
                todo.append(b)
    return out


def _free_arrays(tree, ctx, facts):
    """``del`` each array computed by the function's own body (outside loops and
    branches) right after the statement that reads it last, so the peak memory of
    a NumPy gradient is that of its live values, as in hand-written code, not of
    every temporary of the forward sweep. Views (``x[1:]``) and parameters are
    left alone; so is code in loops."""
    if ctx.output not in ("grad", "value_and_grad") \
            or not any(map(is_array_kind, ctx.var_kinds.values())):
        return
    primal_of = {a: p for p, a in ctx.namer._adjoints.items()}
    params = set(ctx.params)
    seed = ctx.injected_names.get(("seed", id(runtime.seed)))
    candidates, numbers = set(), set()
    for s in tree.body:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name) \
                and not isinstance(s.value, (gast.Subscript, gast.Name, gast.Constant)):
            n = s.targets[0].id
            v = s.value
            if isinstance(v, gast.Call) and (_numpy_pure(v, ctx) and len(v.args) == 1
                                             and not isinstance(v.func, gast.Name)
                                             and _is_reduction(v, ctx)
                                             or dotted_name(v.func) == seed):
                numbers.add(n)      # np.mean(v), the seed: numbers, nothing to free
                continue
            if is_array_kind(ctx.var_kinds.get(primal_of.get(n, n))) and n not in params:
                candidates.add(n)
    candidates -= {ctx.namer.adjoint(n) for n in numbers if n in ctx.namer._adjoints}
    if not candidates:
        return
    last = {}
    for k, s in enumerate(tree.body):
        for n in facts.reads(s):
            if n in candidates:
                last[n] = k
    stored = facts.counts(tree)[0]
    out = []
    for k, s in enumerate(tree.body):
        out.append(s)
        if isinstance(s, gast.Return):
            continue
        dead = sorted(n for n, at in last.items() if at == k and stored.get(n) == 1)
        if dead:
            out.append(gast.Delete(targets=[gast.Name(id=n, ctx=gast.Del(), annotation=None,
                                                      type_comment=None) for n in dead]))
    tree.body = out
