"""The last step of the clean-up (stage 6, called by ``optimize.run``): code as
one writes it by hand, once the fixed point is reached.

Takes and gives a generated ``FunctionDef``; run on the final code only. Three
rewrites of scalar code, each local to one block of statements:

* **direct iteration**: ``for _i in range(len(_seq)): ti = _seq[_i]; ...``
  (the normal form of ``for ti in t``) becomes ``for ti in _seq: ...``, and the
  reverse sweep's ``for _i in reversed(range(len(_seq)))`` becomes
  ``for ti in reversed(_seq)``: no index, no subscript per iteration. Only
  where nothing in the loop can change the sequence's length (the tape's own
  ``append`` and ``pop``, ``math``, NumPy, runtime helpers and pure builtins are
  the only calls) and the index is read nowhere else;
* **single-use values inlined**: ``_t1 = x - ti; g_2 = g_1 * _t1`` becomes
  ``g_2 = g_1 * (x - ti)`` when ``_t1`` is a generated scalar (a temporary, an
  adjoint, an SSA version; never a name of the user's) whose value is read by
  one statement, at most ``_WINDOW`` statements below in the same block, and by
  nothing else (no later statement, no other block, no next iteration), and no
  statement in between rebinds what it reads. A reader that writes the name
  again takes it too, so ``b = b + u; b = b + v`` becomes ``b = b + u + v``.
  Lines stay short (``_MAX_OPS``), and a gradient keeps its name where it is
  returned (``return (bx1, bx2)``). The printed code has one statement per value
  worth a name, and CPython skips a store and a load per temporary;
* **a rewrite sunk below a copy's readers**: ``bg_2 = bg_1; bg_1 = bg_2 * u;
  bx = bx + bg_2 * g`` becomes ``bx = bx + bg_1 * g; bg_1 = bg_1 * u`` (the
  copy an SSA loop header leaves goes, as in a hand-written adjoint).

Moving a computation must not change what the function raises or when: a
moved expression is either *quiet* (``+ - *``, negation and comparisons of
scalars and numbers: no side effect, no exception, scalars cannot be changed
in place) or crosses only quiet assignments and lands in a statement whose
other parts are quiet. The tree structure of every expression is kept, so the
floating-point operations, their order and their results are the same.
"""

from __future__ import annotations

import bisect
import builtins
from collections import defaultdict

import gast

from .gastutil import dotted_name, statements, walk
from .gastutil import loads as names_read
from .optimize import (
    _COMPOUND,
    _blocks,
    _copy_pair,
    _folds_at,
    _holds_scalar,
    _length_safe,
    _num,
    _substitute,
    _tapes,
)
from .optimize import _HARMLESS_OPS as _QUIET_OPS

_MAX_OPS = 8                  # operations per inlined statement: lines stay readable
_WINDOW = 12                  # how far below its statement a value is inlined
_QUIET_CLASSES = frozenset(_QUIET_OPS)     # (operator nodes are of these very classes)
_VALUE_NODES = (gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare, gast.Call,
                gast.Tuple)


def run(tree, ctx, facts, counts=None, blocks=None):
    """Apply the three rewrites; ``facts`` is the clean-up's name cache
    (``optimize._Facts``), kept up to date; ``counts``: ``facts.counts(tree)`` if
    known (its reads are kept up to date, its stores are not); ``blocks``: its blocks
    of statements (``optimize._blocks``) if known. Returns the statements changed
    (to fold again: ``1.0 - 1.0`` may appear)."""
    fuse = _Fuse(tree, ctx, facts)
    if counts is None:
        counts = facts.counts(tree)
    if blocks is None:
        blocks = _blocks(tree.body)
    loads = counts[1]                   # kept up to date by the rewrites
    fuse.direct_loops(loads, blocks)    # (blocks changed in place only)
    # which names cross blocks is not changed by the rewrites: inlining moves reads
    # within a block past no write of what they read, sinking reads ``s`` for ``c``
    # where ``s`` holds the same value
    crossing = fuse.crossing()
    fuse.inline(crossing, loads, blocks)     # (blocks changed in place only)
    changed, names = fuse.sink(crossing, loads, blocks)
    if changed:     # what sinking made inlinable: values read by the statements it changed
        fuse.inline(crossing, loads, changed, names)
    return fuse.touched


class _Fuse:
    def __init__(self, tree, ctx, facts):
        self.tree, self.ctx, self.facts = tree, ctx, facts
        args = tree.args
        self.params = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}
        self.made = ctx.namer.made
        self.touched = set()
        self.values = {}            # statement -> _Value of its expression (value_of)
        self.compounds = {}         # if or loop -> the names in it (lists)
        self.known = facts.known    # simple statement -> facts.lists, if kept
        self.scalars = {}           # name -> scalar(name)
        self.derivatives = set(ctx.namer._adjoints.values()) | set(ctx.namer.tangent_of)

    # -- what may move ----------------------------------------------------------
    def scalar(self, n):
        """``n`` holds a Python or NumPy scalar (an adjoint or a tangent: if its primal
        does)."""
        hit = self.scalars.get(n)
        if hit is None:
            hit = self.scalars[n] = _holds_scalar(self.ctx, n)
        return hit

    def value(self, e):
        """What inlining needs to know of the expression ``e`` (see ``_Value``), in one
        walk of it: no recursion and one set, since every part of a ``_Value`` is a
        union, an ``or`` or a sum over the nodes of ``e`` (a node of another kind
        counts ``_MAX_OPS + 1`` operations and is not looked into)."""
        bad = set()
        fixed = noisy = False
        ops = 0
        scalars, scalar = self.scalars, self.scalar
        stack = [e]
        pop, push, extend = stack.pop, stack.append, stack.extend
        Name, Constant, BinOp, UnaryOp, Compare, Call, Tuple = _VALUE_NODES
        quiet_ops = _QUIET_CLASSES
        while stack:
            n = pop()
            cls = n.__class__
            if cls is Name:
                hit = scalars.get(n.id)
                if not (scalar(n.id) if hit is None else hit):
                    bad.add(n.id)
                continue
            if cls is BinOp:
                push(n.right)
                push(n.left)
                if n.op.__class__ not in quiet_ops:
                    noisy = True
            elif cls is Constant:
                if type(n.value) not in (int, float, bool):
                    noisy = True
                continue
            elif cls is UnaryOp:
                push(n.operand)
                if n.op.__class__ not in quiet_ops:
                    noisy = True
            elif cls is Compare:
                extend(n.comparators)
                push(n.left)
                if not all(isinstance(o, _QUIET_OPS) for o in n.ops):
                    noisy = True
            elif cls is Call and not n.keywords and dotted_name(n.func) is not None:
                extend(n.args)
                noisy = True
            elif cls is Tuple:                  # return (value, gradient)
                extend(n.elts)
                continue
            else:
                fixed = noisy = True
                ops += _MAX_OPS + 1
                continue
            ops += 1
        return _Value(bad, fixed, noisy, ops)

    def value_of(self, s, e):
        """``value(e)`` for the expression ``e`` of statement ``s``, kept until a
        rewrite changes ``s``."""
        hit = self.values.get(s)
        if hit is None:
            hit = self.values[s] = self.value(e)
        return hit

    def quiet_stmt(self, s):
        """``s`` assigns a quiet value to a name."""
        return s.__class__ is gast.Assign and len(s.targets) == 1 \
            and s.targets[0].__class__ is gast.Name and self.value_of(s, s.value).quiet()

    def lists(self, s):
        """``facts.lists(s)``; for an ``if`` or a loop, the names read, written and
        deleted anywhere in it, each once, assembled once per run and assembled
        again when a value is inlined into its own test. A rewrite inside it moves
        reads within a block or drops a temporary, so what was assembled before
        tells of a name at most that it is read or written when it no longer is
        (an inlining refused, never a wrong one)."""
        hit = self.known(s)                 # (the facts kept of a simple statement)
        if hit is not None:
            return hit
        if s.__class__ not in _COMPOUND:
            return self.facts.lists(s)
        hit = self.compounds.get(s)
        if hit is None:
            read, written, deleted = self.facts.lists(s)[:3]
            hit = self.compounds[s] = (list(set(read)), list(set(written)),
                                       list(set(deleted)))
        return hit

    def generated(self, n):
        return n in self.made and n not in self.params

    # -- direct iteration -------------------------------------------------------
    def direct_loops(self, loads, blocks):
        """``loads``: the reads of each name in the function, kept up to date (the
        reads of the loop's old iterable and of ``T = Q[i]`` go, those of the new
        iterable come); ``blocks``: the function's blocks of statements, which stay
        those (a loop's body is edited in place). Returns whether it changed a
        loop."""
        For, header = gast.For, self.facts._header     # (header: the names of target, iter)
        found = {}                  # index name -> [(loop, position of T = Q[i])]
        for block in blocks:
            for s in block:
                if s.__class__ is For:
                    hit = self.indexed_loop(s)
                    if hit is not None:
                        found.setdefault(s.target.id, []).append((s, hit))
        changed = False
        for i, hits in found.items():
            if loads.get(i, 0) != len(hits):
                continue            # the index is read elsewhere: keep every such loop
            changed = True
            for s, k in hits:
                x = s.body.pop(k)
                for n in self.facts.lists(x)[0] + header(s)[0]:
                    loads[n] -= 1
                s.target = gast.Name(id=x.targets[0].id, ctx=gast.Store(), annotation=None,
                                     type_comment=None)
                seq = x.value.value
                s.iter = self.call("reversed", seq) if self.is_call(s.iter, "reversed") \
                    else gast.Name(id=seq.id, ctx=gast.Load(), annotation=None,
                                   type_comment=None)
                for n in header(s)[0]:
                    loads[n] += 1
                self.facts.forget(x)
                if not s.body:
                    s.body.append(gast.Pass())
        return changed

    def is_call(self, e, builtin, nargs=1):
        return isinstance(e, gast.Call) and isinstance(e.func, gast.Name) \
            and self.ctx.injected.get(e.func.id) is getattr(builtins, builtin) \
            and len(e.args) == nargs and not e.keywords

    def call(self, builtin, arg):
        fn = self.ctx.inject(builtin, getattr(builtins, builtin))
        return gast.Call(func=gast.Name(id=fn, ctx=gast.Load(), annotation=None,
                                        type_comment=None), args=[arg], keywords=[])

    def indexed_loop(self, s):
        """Position of ``T = Q[i]`` in ``for i in [reversed(]range(len(Q))[)]``, if the
        loop can iterate over ``Q`` directly; else None."""
        it = s.iter.args[0] if self.is_call(s.iter, "reversed") else s.iter
        if not (isinstance(s.target, gast.Name) and self.is_call(it, "range")
                and self.is_call(it.args[0], "len")
                and isinstance(it.args[0].args[0], gast.Name)) or s.orelse:
            return None
        i, q = s.target.id, it.args[0].args[0].id
        if not self.generated(i):
            return None
        at = None
        for k, x in enumerate(s.body):
            if isinstance(x, gast.Assign) and len(x.targets) == 1 \
                    and isinstance(x.targets[0], gast.Name) \
                    and isinstance(x.value, gast.Subscript) \
                    and isinstance(x.value.value, gast.Name) and x.value.value.id == q \
                    and isinstance(x.value.slice, gast.Name) and x.value.slice.id == i:
                at = k
                break
        if at is None:
            return None
        t = s.body[at].targets[0].id
        before, written = set(), []
        for k, x in enumerate(s.body):
            for y in statements([x]):
                if not self.length_safe(y):
                    return None
            r, w, d = self.facts.lists(x)[:3]
            if k < at:
                before.update(r)
            if k != at:
                written += w + d
        if t in before or {t, i, q} & set(written):
            return None
        return at

    def length_safe(self, s):
        """Nothing in ``s`` can change the length of a list (or rebind one in place)."""
        if not hasattr(self, "_tapes"):
            self._tapes = _tapes(self.tree, self.ctx)
        return _length_safe(s, self.ctx, self._tapes)

    # -- block-local values ---------------------------------------------------------
    def crossing(self):
        """The names some read of which may see a value from outside its own block: read
        in a block before any write there (a loop body reading last iteration's value,
        a branch reading what came before it), or read after an ``if`` or a loop that
        writes them. Every other read sees the last write before it in its block,
        so a value of such a name is used only where the block shows it."""
        out = set()
        self._exposed(self.tree.body, out)
        return out

    def _exposed(self, block, out):
        defined = set()
        lists, known = self.facts.lists, self.known
        for y in block:
            hit = known(y)                      # (a simple statement, mostly)
            if hit is not None:
                if not defined.issuperset(hit[0]):  # (most reads see a value of the block)
                    out.update(n for n in hit[0] if n not in defined)
                if hit[2]:
                    out.update(hit[2])              # deleted: leave alone
                defined.update(hit[1])
                continue
            if y.__class__ in _COMPOUND:
                header = [y.test] if y.__class__ is not gast.For else [y.iter]
                for h in header:
                    out.update(n.id for n in walk(h) if n.__class__ is gast.Name
                               and isinstance(n.ctx, gast.Load) and n.id not in defined)
                for inner in (y.body, y.orelse):
                    if inner:
                        self._exposed(inner, out)
                defined.difference_update(lists(y)[1])
                continue
            read, written, deleted = lists(y)[:3]
            if not defined.issuperset(read):    # (most reads see a value of the block)
                out.update(n for n in read if n not in defined)
            if deleted:
                out.update(deleted)                 # deleted: leave alone
            defined.update(written)
        return out

    # -- single-use values --------------------------------------------------------
    def inline(self, crossing, loads, blocks, only=None):
        """Inline in ``blocks``; ``only``: the names to look at (all if None)."""
        made, params, scalar, lists = self.made, self.params, self.scalar, self.lists
        scalars = self.scalars
        if only is not None:
            made = made & only
        Assign, Name = gast.Assign, gast.Name
        for block in blocks:
            found = []                  # (position, name) of the assignments to look at
            for i, x in enumerate(block):
                if x.__class__ is Assign and len(x.targets) == 1 \
                        and x.targets[0].__class__ is Name:
                    t = x.targets[0].id
                    if t in made and t not in params \
                            and (scalars[t] if t in scalars else scalar(t)):
                        found.append((i, t))
            if not found:
                continue
            names = None
            if only is not None:        # a few: index only what inline_one asks of
                names = {t for _, t in found}
                for i, _ in found:      # (what they read: all their reader can read
                    names.update(lists(block[i])[0])    # more, if it is one of them)
            where = _Index(block, lists, names, self.known)
            gone = set()
            for i, t in found:
                if self.inline_one(block, i, t, loads[t], where, t in crossing):
                    gone.add(i)
                    loads[t] -= 1
            if gone:
                block[:] = [x for k, x in enumerate(block) if k not in gone]

    def inline_one(self, block, i, t, loads, where, crossing):
        """Inline ``block[i]``, ``t = E``, into the one statement reading it, at most
        ``_WINDOW`` statements below (``loads``: the reads of ``t`` in the function).
        The block keeps its length (``block[i]`` goes after the sweep).

        The block's index of reads and writes (``where``) is made once, before the
        sweep: an inlining moves the reads of ``E`` from ``i`` to its reader ``k`` past
        no write of them, so for every later statement the index still tells the next
        read or write of a name after it, and the first read of ``t`` after ``i``."""
        x = block[i]
        lists, known = self.lists, self.known
        positions = where.reads.get(t, ())      # (next_read and next_write, inline)
        j = bisect.bisect_right(positions, i)
        if j == len(positions):
            return False
        k = positions[j]
        if k - i > _WINDOW:
            return False
        positions = where.writes.get(t, ())
        j = bisect.bisect_right(positions, i)
        if j < len(positions) and positions[j] < k:
            return False            # rewritten before it is read
        y = block[k]
        facts_y = known(y) or lists(y)      # (unchanged until y is rewritten below)
        read, written = facts_y[0], facts_y[1]
        if read.count(t) != 1 or y.__class__ is gast.For or y.__class__ is gast.While:
            return False
        if t not in written or y.__class__ is gast.If:
            # (else the reader writes t anew: ``b = b + u`` twice)
            if crossing or (loads > 1 and not where.no_other_reader(block, k, t)):
                return False        # the value may be read elsewhere too
        if isinstance(y, gast.If):
            if any(t in names_read(z) for z in y.body + y.orelse):
                return False        # read in a branch: not moved into it
            slot, field = y, "test"
        elif isinstance(y, (gast.Assign, gast.Expr, gast.Return)) and y.value is not None:
            slot, field = y, "value"
            if y.__class__ is gast.Return and t in self.derivatives and _returned(y.value, t):
                return False        # return (bx1, bx2) keeps the gradients' names
        else:
            return False
        vx = self.value_of(x, x.value)
        if not vx.movable():
            return False
        quiet = vx.quiet()
        writes = where.writes
        facts_x = known(x) or lists(x)
        for n in set(facts_x[0]):
            positions = writes.get(n, ())
            j = bisect.bisect_right(positions, i)
            if j < len(positions) and positions[j] < k:
                return False        # an operand is rebound in between
        if not quiet and not all(self.quiet_stmt(z) for z in block[i + 1:k]):
            return False            # a statement in between could raise first
        old = getattr(slot, field)
        vy = self.value_of(y, old)
        if not quiet and not vy.quiet_but(t):
            return False            # something in the reader could raise first
        if vy.ops + vx.ops > _MAX_OPS:
            return False
        found = _replace(old, t, x.value)
        if found is None:
            return False            # read by a subscript target (``a[t] = v``)
        new, parent, above = found
        setattr(slot, field, new)
        vy.bad.discard(t)
        vy.add(vx)
        self.touched.add(y)
        if y.__class__ is gast.If:
            self.compounds.pop(y, None)     # its test reads what x read now
        else:                               # (x leaves the block: its facts go unused)
            self.facts.update(y, _inlined(facts_y, facts_x, t, x.value, parent, above))
        return True

    # -- a rewrite sunk below the readers of its copy ---------------------------
    def sink(self, crossing, loads, blocks):
        """Returns the blocks changed and the names the statements it changed read;
        ``blocks``: those of the function."""
        changed, self.sunk = [], set()
        for block in blocks:
            i = 0
            while i < len(block):
                x = block[i]
                if x.__class__ is gast.Assign and x.value.__class__ is gast.Name \
                        and self.sink_one(block, i, crossing, loads):
                    if not changed or changed[-1] is not block:
                        changed.append(block)
                    continue        # block[i] is now the next statement
                i += 1
        return changed, self.sunk

    def sink_one(self, block, i, crossing, loads):
        """``c = s`` at ``i``; ``s = E`` at ``j``; the last read of ``c`` at ``m > j``:
        move ``s = E`` after ``m``, read ``s`` for ``c``, drop the copy."""
        pair = _copy_pair(block[i])
        if pair is None:
            return False
        c, s = pair
        if c == s or c not in self.made or c in self.params or c in crossing \
                or not self.scalar(c) or not self.scalar(s):
            return False
        lists = self.facts.lists
        readers, j, seen = [], None, 0
        for k in range(i + 1, len(block)):      # reads of c up to its next write
            read, written, deleted = lists(block[k])[:3]
            if c in read:
                if block[k].__class__ in _COMPOUND:
                    return False
                readers.append(k)
                seen += read.count(c)
            if j is None and (s in written or s in deleted):
                j = k
            if c in written or c in deleted or seen == loads[c]:
                break
        if not readers:
            return False
        m = readers[-1]
        if j is not None and j < m:
            y = block[j]
            if not (isinstance(y, gast.Assign) and len(y.targets) == 1
                    and isinstance(y.targets[0], gast.Name) and y.targets[0].id == s):
                return False
            operands = set(lists(y)[0])
            quiet = self.value_of(y, y.value).quiet()
            for z in block[j + 1:m + 1]:
                read, written = lists(z)[:2]
                if z.__class__ in _COMPOUND or s in read \
                        or not (operands | {s, c}).isdisjoint(written) \
                        or not (quiet or self.quiet_stmt(z)):
                    return False
            block[j:m + 1] = block[j + 1:m + 1] + [y]
            self.sunk.update(operands)
        elif j is not None and j == m and block[j].__class__ in _COMPOUND:
            return False
        for y in block[i + 1:m + 1]:
            if c in lists(y)[0]:
                _substitute(y, {c: s}, self.facts)
                self.touched.add(y)
                self.values.pop(y, None)
                self.sunk.update(lists(y)[0])
        del block[i]
        # the copy's read of s goes, the ``seen`` reads of c up to its next write read
        # s now; reads of c after that write (``bx = b_t1; bx = bx + u; ... bx``) stay
        loads[s] += seen - 1
        loads[c] -= seen
        return True


class _Value:
    """Of an expression: ``bad``, the names it reads that may hold something other
    than a scalar (a list, an array: changed in place, so not moved past writes);
    ``fixed``, whether it holds something else than names, numbers, operators and
    calls of named functions (a subscript, an attribute); ``noisy``, whether it may
    raise or have a side effect (a call, ``/``, ``**``...); ``ops``, how many
    operations it has."""

    __slots__ = ("bad", "fixed", "noisy", "ops")

    def __init__(self, bad, fixed, noisy, ops):
        self.bad, self.fixed, self.noisy, self.ops = bad, fixed, noisy, ops

    def add(self, other):
        self.bad |= other.bad
        self.fixed = self.fixed or other.fixed
        self.noisy = self.noisy or other.noisy
        self.ops += other.ops
        return self

    def movable(self):
        return not self.fixed and not self.bad

    def quiet(self):
        return not self.fixed and not self.bad and not self.noisy

    def quiet_but(self, t):
        """Quiet if the name ``t`` in it were a quiet scalar."""
        return not self.fixed and not self.noisy and self.bad <= {t}


class _Index:
    """Where each name is read and written in one block: ascending positions (a
    position repeats for each read or write of the name in its statement).
    ``lists`` gives the names a statement reads, writes and deletes (``known``: those
    kept of a simple statement, else None); ``names``: the names to index (all if
    None)."""

    def __init__(self, block, lists, names=None, known=None):
        self.reads, self.writes = reads, writes = defaultdict(list), defaultdict(list)
        if known is None:
            known = lists
        if names is None:           # (the common case: every name, without a test)
            for k, x in enumerate(block):
                facts = known(x) or lists(x)
                for n in facts[0]:
                    reads[n].append(k)
                for n in facts[1]:
                    writes[n].append(k)
                for n in facts[2]:
                    writes[n].append(k)
            return
        for k, x in enumerate(block):
            facts = known(x) or lists(x)
            read, written, deleted = facts[0], facts[1], facts[2]
            if names.isdisjoint(read) and names.isdisjoint(written) \
                    and names.isdisjoint(deleted):
                continue
            for n in read:
                if n in names:
                    reads[n].append(k)
            for n in written + deleted:
                if n in names:
                    writes[n].append(k)

    def next_read(self, n, i):
        positions = self.reads.get(n, ())
        k = bisect.bisect_right(positions, i)
        return positions[k] if k < len(positions) else None

    def no_other_reader(self, block, k, t):
        """No statement after ``k`` reads ``t`` before one writes it (``t`` crosses no
        block boundary, so no read after the block sees this block's value)."""
        r = self.next_read(t, k)
        if r is None:
            return True
        w = self.next_write(t, k)
        return w is not None and (r > w or (r == w and block[w].__class__ not in _COMPOUND))

    def next_write(self, n, i):
        """Position of the first statement after ``i`` writing or deleting ``n``."""
        positions = self.writes.get(n, ())
        k = bisect.bisect_right(positions, i)
        return positions[k] if k < len(positions) else None


def _returned(e, t):
    """``t`` is the value returned, or one of the tuple's."""
    return any(n.__class__ is gast.Name and n.id == t
               for n in (e.elts if e.__class__ is gast.Tuple else [e]))


def _replace(expr, t, value):
    """``expr`` with its one load of the name ``t`` replaced by ``value`` (in place,
    but for ``expr`` itself being that name), the node that held the name and the
    node above that one (None where there is none, for ``_inlined``); None if ``t``
    is not loaded in it."""
    if expr.__class__ is gast.Name:
        return (value, None, None) if expr.id == t and expr.ctx.__class__ is gast.Load \
            else None
    stack = [(expr, None)]
    while stack:
        n, above = stack.pop()
        for f in n._fields:
            v = getattr(n, f, None)
            if v.__class__ is gast.Name:
                if v.id == t and v.ctx.__class__ is gast.Load:
                    setattr(n, f, value)
                    return expr, n, above
            elif isinstance(v, gast.AST):
                stack.append((v, n))
            elif isinstance(v, list):
                for k, item in enumerate(v):
                    if item.__class__ is gast.Name:
                        if item.id == t and item.ctx.__class__ is gast.Load:
                            v[k] = value
                            return expr, n, above
                    elif isinstance(item, gast.AST):
                        stack.append((item, n))
    return None


def _inlined(into, of, t, value, parent, above):
    """The facts (``optimize._scan``) of a simple statement of facts ``into`` once
    its one read of ``t`` is replaced by ``value``, the value of an assignment of
    facts ``of`` (which reads what ``value`` reads and writes only ``t``), held now by
    ``parent`` under ``above`` (``_replace``); without walking it again.

    The names read: those of both, but for that ``t`` (in another order than a
    walk gives: what reads them counts them or asks whether one is there). The
    calls and negations: those of both, but that a negation of the name ``t`` is
    one of a number no more if ``value`` is a number. Whether folding could change
    it: a rule of ``_Fold`` looks at an operation and its operands (and a negation
    at the operands of the product it negates), so only the rules of ``parent`` and
    ``above`` can tell otherwise than they did; none of them holds for the name
    that was there and fails for what replaces it, so what held still holds."""
    read = list(into[0])
    read.remove(t)
    read += of[0]
    negations = into[4] + of[4]
    signed = into[6] + of[6]
    if parent.__class__ is gast.UnaryOp and parent.op.__class__ is gast.USub \
            and _num(value) is not None:
        negations -= 1
        signed += 1
    foldable = into[3] or of[3] or _folds_at(parent) or _folds_at(above)
    return read, into[1], into[2], foldable, negations, into[5] + of[5], signed
