"""Stage 5: reverse mode.

Takes: SSA form with activity. Gives: one function that runs

1. the **forward sweep**: the user's code as normalized, plus, inside loops,
   a trip counter per loop and one ``_tape.append(...)`` per block recording
   the values the reverse sweep will need and that a later iteration
   overwrites (the to-be-recorded set: names assigned inside the enclosing
   loop *and* read by an adjoint statement of that block);
2. the **reverse sweep**: the adjoint statements in reverse order. A loop
   becomes ``for _ in range(_n1):`` whose body first pops the block's record
   (restoring the values of that iteration) then runs the reversed body; an
   ``if`` replays the branch recorded in its ``_c`` test variable.

Adjoint accumulation is decided by a small dataflow over the reverse sweep:
each adjoint is *undefined* or *defined* at each point. The first contribution
to an undefined adjoint is an assignment (``bx = e``), later ones add
(``bx = bx + e``, never in place, so adjoints may alias safely). Where paths
disagree (a branch that contributes and one that does not; a loop), the path
lacking a contribution gets ``bx = 0.0`` (``zeros_like(x)`` unless ``x`` is surely a
scalar), so zeros appear only where needed.
An adjoint statement whose target adjoint is undefined is dead and not emitted.
"""

from __future__ import annotations

import builtins
import functools

import gast
import numpy as np

from . import anno, desugar, errors, runtime
from .activity import Classified, Powers, _is_append, _is_index_add, walk_stmts
from .dataflow import closure
from .gastutil import (
    assign,
    binop,
    call,
    clone,
    const,
    copy_location,
    dotted_name,
    loads,
    name,
    stores,
    target_name,
)
from .kinds import array_ndim, is_array_kind

U, D, OWN = "U", "D", "OWN"   # undefined; defined; defined, a private array updated in place


def _defined(st):
    return st in (D, OWN)


_INT_OPS = (gast.Add, gast.Sub, gast.Mult, gast.FloorDiv, gast.Mod)


class Reverse:
    def __init__(self, tree, ctx):
        self.ctx = ctx
        self.namer = ctx.namer
        self.tree = tree
        self.primal = set(ctx.params)
        self.store_count = {}   # name -> number of statements assigning it
        self.loop_stored = set()  # names written inside some loop
        # what each assignment and loop writes, as activity analysis found it right
        # before this pass (``stores(s)``, ``ctx.written``; nothing edits the tree in
        # between): the table is taken from the context, which then keeps no tree alive
        self._written, ctx.written = ctx.written, {}
        # no array or list changes in place anywhere: reading an element again in the
        # reverse sweep gives what the forward sweep read
        in_place = False
        # every statement, nested ones too, as the pass starts (``run`` reads them
        # again before the sweeps change anything)
        self.statements = list(walk_stmts(tree.body))
        for s in self.statements:
            if isinstance(s, gast.Assign):
                written = self.written(s)
                in_place = in_place or target_name(s) is None or _is_pop(s)
            elif isinstance(s, gast.For):
                written = stores(s.target)
                self.loop_stored |= self.written(s)
            else:
                if isinstance(s, gast.While):
                    self.loop_stored |= stores(s)
                elif isinstance(s, gast.Expr) and not in_place:
                    in_place = _is_append(s, ctx) or _is_index_add(s, ctx)
                continue
            self.primal |= written
            for n in written:
                self.store_count[n] = self.store_count.get(n, 0) + 1
        self.frozen = not ctx.mutable and not in_place
        self.remade = self.views_to_remake()
        self._reversible = {}
        self.pushes = {}      # id(block) -> names recorded at the end of that block
        self.counters = {}    # id(loop) -> trip counter name
        self.tape = None
        # the lists of the values recorded that carry no derivative, by the parameters
        # they depend on (see tape_for): frozenset of parameter names -> list name (and
        # ("again", that frozenset, k) -> another list of them, see callee_lists)
        self.itapes = {}
        self._reach = None    # parameter -> the names depending on it (see depends_on)
        self._fills = {}      # id(call statement) -> whether it fills a list (fills_lists)
        self._edges, ctx.edges = ctx.edges, None
        self.loop_var = None
        self.loops = 0                  # loops around the statement being reversed
        self.classify = Classified(ctx).op    # the operation of an assignment, once
        self.calls = {}       # id(call statement) -> (bwd function name, adjoint targets)
        self.primal_calls = {}  # id(call statement) -> the user's call it replaced
        self.snapshots = {}   # id(store statement) -> name of the snapshot of what it overwrites
        self.checkpoints = {}  # id(checkpointed loop) -> names of its checkpoint machinery
        self.fixed_points = {}  # id(fixed-point while loop) -> its flag, where its replay goes
        self.unsettled = None   # the helper raising FixedPointError, given the file name
        self.pads = {}        # id -> a zero pad emitted where paths meet
        self.join_pads = {}   # id(reverse if) -> the pads its branches end with
        self._envs = {}       # (scalar result, scalar pads) -> the _Env for rule templates
        self.helper_names = {}  # runtime helper -> its generated name, for rule templates
        self.powers_of = {}     # id(statement) -> (it, Powers.derivative), see find_powers
        self._ints = None       # the names surely holding an int (ints)

    def views_to_remake(self):
        """The views of arrays written in place that the reverse sweep makes again where
        it reads them (``remake_views``): name -> its statement ``v = a[1:]`` (``a.T``,
        or a list or tuple display holding ``a``: ``[a, b]``).

        A view made before a store into its array (``_t1 = x_1[1:]``, then ``x_1[1] =
        v``) shows the store until the reverse sweep puts the old value back, and the
        adjoint statements reading it run after that: right values, but the gradient's
        code then holds a view across a write into its array, which differentiating it
        again refuses (``hessian``). Made again after the restore, it is a view of the
        values the forward sweep read (every later store is undone there), and the view
        made in the forward sweep is dead at the store. A view costs no copy."""
        if not self.ctx.mutable:
            return {}
        kinds = self.ctx.var_kinds
        out = {}
        stored = False          # a store into an array comes later (walk order)
        for s in reversed(self.statements):
            if isinstance(s, gast.Assign) and target_name(s) is None or \
                    _is_index_add(s, self.ctx):
                stored = True
                continue
            t = target_name(s) if isinstance(s, gast.Assign) else None
            if t is None or self.store_count.get(t) != 1 or kinds.get(t, "A") == "S" \
                    or not (stored or t in self.loop_stored):
                continue
            v = s.value
            if kinds.get(t, "A") in ("L", "LS", "AL") and not isinstance(v, (gast.List,
                                                                             gast.Tuple)):
                continue
            if isinstance(v, gast.Attribute) and v.attr == "T":
                bases = [v.value]
            elif isinstance(v, gast.Subscript) and self.plain_index(v.slice):
                bases = [v.value]
            elif isinstance(v, (gast.List, gast.Tuple)) and t not in self.ctx.mutable:
                bases = v.elts          # [x_1, y]: a list holding the array (np.select)
            else:
                continue
            if any(isinstance(b, gast.Name) and b.id in self.ctx.mutable
                   and kinds.get(b.id, "A") not in ("S", "L", "LS", "AL") for b in bases):
                out[t] = s
        return out

    def plain_index(self, index):
        """``index`` (subscript syntax) selects a view: ints and slices of scalar names
        and int constants (no index array, no list)."""
        def part(e):
            return e is None or (isinstance(e, gast.Constant) and (
                e.value is None or type(e.value) is int)) or (
                isinstance(e, gast.Name) and self.ctx.var_kinds.get(e.id) == "S")

        def one(e):
            if isinstance(e, gast.Slice):
                return part(e.lower) and part(e.upper) and part(e.step)
            return part(e) and e is not None
        if isinstance(index, gast.Tuple):
            return all(map(one, index.elts))
        return one(index)

    def remake_views(self, s, stmts_):
        """The adjoint statements ``stmts_`` of ``s``, reading the views of
        ``views_to_remake`` through views made again right before them."""
        if not self.remade or target_name(s) is None:   # (a store reads its shape only)
            return stmts_
        used = set()
        for st in stmts_:
            used |= loads(st)
        hit = sorted(used & self.remade.keys())
        if not hit:
            return stmts_
        fresh = {v: self.namer.temp() for v in hit}
        for st in stmts_:
            for n in gast.walk(st):
                if isinstance(n, gast.Name) and n.id in fresh:
                    n.id = fresh[n.id]
        return [assign(fresh[v], clone(self.remade[v].value)) for v in hit] + stmts_

    def written(self, s):
        """``stores(s)``: the names the assignment or loop ``s`` writes (do not edit)."""
        known = self._written.get(id(s))
        if known is not None and known[0] is s:
            return known[1]
        return stores(s)

    # -- helpers given to rule templates --------------------------------------
    def is_active(self, n):
        return n in self.ctx.active

    def adjoint(self, n):
        return self.namer.adjoint(n)

    def inject(self, n, obj):
        return self.ctx.inject(n, obj)

    def fresh(self):
        t = self.namer.temp()
        self.namer.rule_temps.add(t)
        return t

    def helper(self, n):
        return name(self.inject(n, getattr(runtime, n)))

    def contribute(self, var, expr, state, out):
        b = self.namer.adjoint(var)
        st = state.get(var, U)
        defined = st == D or st == OWN
        if st == OWN and self.loops and self.is_helper_call(expr, "getitem_adjoint") \
                and self.ctx.var_kinds.get(var) in ("L", "LS") \
                and var not in self.ctx.mutable \
                and (self.item_index(expr.args[2]) or var in self.ctx.dicts):
            # b[i] = b[i] + g: the private list (or dict) of adjoints updated in place,
            # not a new one per item read (add_adjoints of a one-hot list: O(n) a read,
            # O(n^2) for a loop over the list); an item of a list of lists or arrays
            # gets add_adjoints of its own, a new object: no adjoint shares it. Only in
            # loops, where the cost was, for a list the function does not change (one
            # it appends to or pops from has an adjoint popped in the reverse sweep,
            # whose items the analyses of a second derivative would take for views of
            # it): reverse over reverse refuses some stores into lists that add_adjoints
            # of whole lists does not make
            g, _, index = expr.args
            item = gast.Subscript(value=name(b), slice=clone(index), ctx=gast.Load())
            value = _binop(item, gast.Add, g) if self.ctx.var_kinds.get(var) == "LS" \
                else call(self.helper("add_adjoints"), item, g)
            target = gast.Subscript(value=name(b), slice=clone(index), ctx=gast.Store())
            out.append(gast.Assign(targets=[target], value=value, type_comment=None))
            return
        if st == OWN and self.is_helper_call(expr, "getitem_adjoint") \
                and self.ctx.var_kinds.get(var) not in ("S", "L", "LS", "AL"):
            g, _, index = expr.args             # b[index] += g, in place: b is private
            basic = self.basic_index(index)
            # no element twice: plain += (of an array surely: a list or dict that
            # getitem_adjoint made holds 0.0 for an item's zero of any structure)
            if basic is not None and array_ndim(self.ctx.var_kinds.get(var)) is not None:
                target = gast.Subscript(value=name(b), slice=basic, ctx=gast.Store())
                out.append(gast.AugAssign(target=target, op=gast.Add(), value=g))
            else:
                out.append(gast.Expr(value=call(self.helper("index_add"), name(b), index, g)))
            return
        if not defined and var in self.ctx.mutable:
            expr = call(self.helper("owned"), expr)     # updated in place later
        if defined and self.ctx.var_kinds.get(var) in ("L", "LS", "AL"):
            value = call(self.helper("add_adjoints"), name(b), expr)
        elif defined:
            if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
                value = _binop(name(b), gast.Sub, expr.operand)
            else:
                value = _binop(name(b), gast.Add, expr)
        else:
            value = expr
            fresh = isinstance(expr, gast.Call) and (self.is_helper_call(expr, "getitem_adjoint")
                                                     or self.is_helper_call(expr, "owned"))
            private = self.ctx.var_kinds.get(var) not in ("S", "AL")    # (a new object)
            state[var] = OWN if fresh and private else D
            out.append(assign(b, value))
            return
        # add_adjoints of a private list (or dict) and anything gives it or a new one:
        # private still (an item it shares with another adjoint is only ever rebound)
        keep = st == OWN and self.ctx.var_kinds.get(var) in ("L", "LS")
        state[var] = OWN if keep else D
        out.append(assign(b, value))

    def env(self, scalar_result):
        """What a rule template needs from this pass (an ``_Env``, which holds nothing
        else, hence one per combination of what it depends on)."""
        key = (scalar_result, self.scalar_pads)
        env = self._envs.get(key)
        if env is None:
            env = self._envs[key] = _Env(self, scalar_result)
        return env

    def basic_index(self, index):
        """The subscript syntax (``1:``, ``i``, ``i, :``) of an index expression
        (``slice(1, None, None)``) that surely selects no element twice: ints, slices
        of ints and ``None``. None for anything else (a fancy index, unknown kinds)."""
        def part(e):
            return (isinstance(e, gast.Constant) and (e.value is None or type(e.value) is int)) \
                or (isinstance(e, gast.Name) and self.ctx.var_kinds.get(e.id) == "S")

        def one(e):
            if isinstance(e, gast.Call) and isinstance(e.func, gast.Name) \
                    and self.ctx.injected.get(e.func.id) is builtins.slice \
                    and len(e.args) == 3 and not e.keywords and all(map(part, e.args)):
                lo, hi, step = (None if isinstance(a, gast.Constant) and a.value is None
                                else clone(a) for a in e.args)
                return gast.Slice(lower=lo, upper=hi, step=step)
            if part(e) and not (isinstance(e, gast.Constant) and e.value is None):
                return clone(e)
            return None

        if isinstance(index, gast.Tuple):
            elts = [one(e) for e in index.elts]
            return None if None in elts else gast.Tuple(elts=elts, ctx=gast.Load())
        return one(index)

    def element_index(self, base, index):
        """``index`` (an index expression) takes one element of the array ``base``: as
        many ints as it has dimensions (each an int constant or a name surely holding
        an int, ``ints``: a scalar may hold a bool, which NumPy takes for a mask)."""
        def whole_number(e):
            return (isinstance(e, gast.Constant) and type(e.value) is int) \
                or (isinstance(e, gast.Name) and e.id in self.ints())

        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        return array_ndim(self.ctx.var_kinds.get(base)) == len(parts) \
            and all(map(whole_number, parts))

    def ints(self):
        """The names surely holding an int: the index of a loop over ``range``, and the
        names every binding of which is an int constant, a copy of such a name, or
        ``+``, ``-``, ``*``, ``//`` or ``%`` of those (found once)."""
        if self._ints is None:
            loops, binds = set(), {}
            for s in self.statements:
                if self.is_range_loop(s):
                    loops.add(s.target.id)
                elif isinstance(s, gast.Assign) and len(s.targets) == 1 \
                        and isinstance(s.targets[0], gast.Name):
                    binds.setdefault(s.targets[0].id, []).append(s.value)
                else:
                    for n in self.written(s) if isinstance(s, gast.For) else ():
                        binds.setdefault(n, []).append(None)    # (not over range)
            # the greatest fixed point: a name stays while every binding of it is an int
            # made of ints (``i_1 = i``, ``i_2 = i_1 + 1`` around a while loop)
            found = {n for n in loops if n not in binds} | {
                n for n, values in binds.items() if None not in values}

            def int_expr(e):
                if isinstance(e, gast.Constant):
                    return type(e.value) is int
                if isinstance(e, gast.Name):
                    return e.id in found
                return isinstance(e, gast.BinOp) and isinstance(e.op, _INT_OPS) \
                    and int_expr(e.left) and int_expr(e.right)

            changed = True
            while changed:
                changed = False
                for n, values in binds.items():
                    if n in found and not all(map(int_expr, values)):
                        found.discard(n)
                        changed = True
            int_expr = None  # noqa: F841 - empties the cell (a cycle through it)
            self._ints = found
        return self._ints

    def item_index(self, index):
        """``index`` is one int: a constant or a scalar name (one item of a list, or of
        a dict by an int key), not a slice. (A dict parameter, ``ctx.dicts``, takes any
        key.)"""
        return (isinstance(index, gast.Constant) and type(index.value) is int) \
            or (isinstance(index, gast.Name) and self.ctx.var_kinds.get(index.id) == "S")

    def is_helper_call(self, expr, helper):
        return isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) \
            and self.ctx.injected.get(expr.func.id) is getattr(runtime, helper)

    def pad_state(self, v, overwritten=()):
        return OWN if self.shaped_zero(v, overwritten) else D

    # -- reverse sweep ---------------------------------------------------------
    def block(self, stmts, state, overwritten, extra_reads=()):
        """Reverse of a statement list; ``overwritten`` is None outside loops.

        Inside a loop (``overwritten`` given), the primal values the reverse statements
        read are gathered to plan what to record (``plan_records``); outside, nothing
        is recorded and they are not gathered."""
        code = []
        track = overwritten is not None
        reads = set(extra_reads)
        for s in reversed(stmts):
            self.scalar_pads = track     # (nested blocks set it too)
            if isinstance(s, gast.Assign):
                t = target_name(s)
                if t is None:
                    stmts_ = self.store(s, state, overwritten)
                elif _is_pop(s):
                    stmts_ = self.pop(s, state)
                elif t not in self.ctx.active or not _defined(state.get(t, U)):
                    if not self.fills_lists(s):
                        continue
                    stmts_ = self.call_site(s, t, self.classify(s), state, unused=True)
                else:
                    stmts_ = self.assignment(s, t, state)
            elif _is_index_add(s, self.ctx):
                stmts_ = self.index_add(s, state, overwritten)
            elif _is_append(s, self.ctx):
                stmts_ = self.append(s, state)
            elif isinstance(s, gast.If):
                state, rev = self.branch(s, state, overwritten)
                if rev is not None:
                    code.append(rev)
                    if track:     # (the pads of loops in a branch: recorded in it)
                        reads |= loads(s.test) | self.pad_reads(self.join_pads[id(rev)])
                continue
            elif isinstance(s, (gast.For, gast.While)):
                state, rev = self.loop(s, state, overwritten)
                if rev:
                    code.extend(rev)
                    if track:
                        if id(s) in self.counters:
                            reads.add(self.counters[id(s)])
                        if id(s) not in self.counters or self.ranged(s):
                            reads |= loads(s.iter)
                        reads |= self.pad_reads(rev)
                continue
            else:
                continue
            if self.remade:
                stmts_ = self.remake_views(s, stmts_)
            if track:
                for st in stmts_:
                    reads |= loads(st) & self.primal
            line = getattr(s, "lineno", None)
            if line is not None:        # located at the user's line they come from
                for st in stmts_:       # (only the line: codegen's line map reads it)
                    if getattr(st, "lineno", None) is None:
                        st.lineno = line
            code.extend(stmts_)
        if overwritten is not None:
            recompute, recorded = self.plan_records(stmts, reads & overwritten, overwritten)
            self.pushes[id(stmts)] = recorded
            head = [clone(x) for x in recompute]
            for x in head:
                anno.set_(x, anno.Key.RECOMPUTE)
            if recorded:
                head = [assign(n, call(gast.Attribute(value=name(self.tape_for(n)),
                                                      attr="pop", ctx=gast.Load())))
                        for n in reversed(recorded)] + head
            code[:0] = head
        return code, state

    # -- what to record -----------------------------------------------------------
    def tape_for(self, n):
        """The list recording ``n``: ``_tape`` for a value that carries a derivative, else
        the list of the values that depend on the same parameters as ``n``
        (``list_for``): ``_itape`` for those that depend on none (a loop counter
        ``k = k + 1``, a trip count, a branch's flag, an index), another for those that
        depend on ``b`` only, ... Differentiated again (a hessian), the gradient's code
        pops from each such list values its own activity analysis finds varied or not
        as a whole, and rightly: popped off ``_tape`` with the rest, ``k`` would come
        with a tangent 0.0, which times the derivative along the exponent of
        ``y ** k``, nan for ``y < 0``, is nan. The halves of a split callee take these
        lists as parameters from the caller (``split_functions``), which passes its
        own list of the parameters the callee's arguments depend on (``call_site``);
        a function made as a top-level split pair (``vjp``) has its one tape."""
        ctx = self.ctx
        if n in ctx.active or (ctx.output == "split" and not ctx.callee):
            self.tape = self.tape or self.namer.fresh("_tape")
            return self.tape
        if n in self.counters.values():
            return self.list_for(frozenset())
        if n in ctx.params or n in ctx.local_names:
            return self.list_for(self.depends_on(n))
        self.tape = self.tape or self.namer.fresh("_tape")    # a snapshot, ...
        return self.tape

    def depends_on(self, n):
        """The parameters ``n`` depends on, along the edges of activity analysis (those
        of derivatives, and of values put into lists)."""
        if self._edges is None:         # (no analysis at hand: on every one, to be safe)
            return frozenset(self.ctx.params)
        if self._reach is None:
            self._reach = {p: closure({p}, self._edges) for p in self.ctx.params}
        return frozenset(p for p, reached in self._reach.items() if n in reached)

    def list_for(self, deps):
        """The list recording the values carrying no derivative that depend on the
        parameters ``deps`` (a frozenset); ``_tape`` in a top-level split pair."""
        if self.ctx.output == "split" and not self.ctx.callee:
            self.tape = self.tape or self.namer.fresh("_tape")
            return self.tape
        if deps not in self.itapes:
            self.itapes[deps] = self.namer.fresh("_itape")
        return self.itapes[deps]

    def tapes(self):
        """The names of every list recording values (None for none yet)."""
        return (self.tape, *self.itapes.values())

    def plan_records(self, stmts, needed, overwritten):
        """Split the values the reverse of block ``stmts`` needs (and that a later
        iteration overwrites) into those recomputed at the start of the reverse
        block and those recorded on the tape.

        A value is recomputed when its statement in this block is cheap scalar
        arithmetic or a ``math`` call (see ``cheap``), its name is assigned nowhere
        else, and its operands are at hand in the reverse sweep: loop-invariant,
        recorded anyway, or recomputed themselves, at a cost of at most
        ``RECOMPUTE_BUDGET`` operations per value not recorded. The loop-carried
        state is what stays on the tape (as in a hand-written adjoint:
        ``sin(theta)`` is recomputed from the recorded ``theta``). Returns
        (statements to recompute, in forward order; names to record, sorted).
        """
        defs = {}
        for k, x in enumerate(stmts):
            t = target_name(x)
            if t is not None and self.store_count.get(t) == 1 and self.cheap(x):
                defs[t] = (k, x)
        taped = {n for n in needed if n not in defs}
        chosen = {}                                 # name -> position in the block

        def cost(n, budget):
            """Operations needed to have ``n`` at hand, or None if over ``budget``."""
            if n not in overwritten or n in taped or n in chosen:
                return 0
            if n not in defs or budget <= 0:
                return None
            total = 1
            for m in sorted(loads(defs[n][1].value)):
                c = cost(m, budget - total)
                if c is None:
                    return None
                total += c
            return total if total <= budget else None

        def choose(n):
            if n in overwritten and n not in taped and n not in chosen:
                chosen[n] = defs[n][0]
                for m in loads(defs[n][1].value):
                    choose(m)

        for n in sorted(needed - taped, key=lambda n: defs[n][0]):
            if n in chosen:
                continue
            if cost(n, self.RECOMPUTE_BUDGET) is None:
                taped.add(n)
            else:
                choose(n)
        order = sorted(chosen.values())
        # cost and choose call themselves through their closure cells: a reference
        # cycle that, left standing, keeps the tree alive until the cyclic garbage
        # collector walks it (milliseconds after every transformation)
        cost = choose = None  # noqa: F841 - empties the cells
        return [stmts[k] for k in order], sorted(taped)

    RECOMPUTE_BUDGET = 3

    def cheap(self, s):
        """``s`` assigns a scalar computed from scalars by arithmetic, a comparison or
        a function of the ``math`` module, or read off an array (an element, its
        ``.shape``, ``len``): pure, and as cheap to redo as to record."""
        if not isinstance(s, gast.Assign) or anno.get(s, anno.Key.COPYBACK):
            return False
        kind = self.ctx.var_kinds.get(target_name(s))
        if kind == "LS":                # n = A.shape[0] is _t1 = A.shape; n = _t1[0]
            return self.sized(s.value) == "LS" or self.row_read(s.value)
        return kind == "S" and self.cheap_expr(s.value)

    def row_read(self, e):
        """``e`` reads a row of scalars off a list or tuple of rows, ``rows[i]`` (``for
        x, y in points``), in a function that changes no list in place: the row
        itself, read again in the reverse sweep instead of recorded."""
        return self.frozen and e.__class__ is gast.Subscript \
            and e.value.__class__ is gast.Name and self.ctx.var_kinds.get(e.value.id) == "L" \
            and isinstance(e.slice, (gast.Name, gast.Constant)) and self.cheap_expr(e.slice)

    def sized(self, e):
        """``'S'`` for ``a.ndim``, ``a.size``, ``len(a)`` (``np.ndim(a)``, ``np.size(a)``),
        ``'LS'`` for ``a.shape`` (``np.shape(a)``), of a name ``a`` in a function that
        changes no array or list in place; else None."""
        if not self.frozen:
            return None
        if isinstance(e, gast.Attribute) and isinstance(e.value, gast.Name) \
                and e.attr in ("shape", "ndim", "size"):
            return "LS" if e.attr == "shape" else "S"
        if isinstance(e, gast.Call) and not e.keywords and len(e.args) == 1 \
                and isinstance(e.args[0], gast.Name):
            path = dotted_name(e.func)
            try:
                fn = self.ctx.lookup(path) if path else None
            except KeyError:
                return None
            if fn is builtins.len or fn is np.ndim or fn is np.size:
                return "S"
            return "LS" if fn is np.shape else None
        return None

    def cheap_expr(self, e):
        if isinstance(e, gast.Name):
            return self.ctx.var_kinds.get(e.id) == "S"
        if isinstance(e, gast.Constant):
            return type(e.value) in (int, float, bool)
        if isinstance(e, gast.BinOp):
            return self.cheap_expr(e.left) and self.cheap_expr(e.right)
        if isinstance(e, gast.UnaryOp):
            return self.cheap_expr(e.operand)
        if isinstance(e, gast.Compare):
            return all(map(self.cheap_expr, [e.left] + e.comparators))
        if isinstance(e, gast.Call):
            return (self.is_math(e.func) and not e.keywords
                    and all(map(self.cheap_expr, e.args))) or self.sized(e) == "S"
        if isinstance(e, gast.Attribute):
            return self.sized(e) == "S"
        if isinstance(e, gast.Subscript):       # an element of a list, tuple or array
            if not (self.frozen and isinstance(e.value, gast.Name)):
                return False
            kind = self.ctx.var_kinds.get(e.value.id)
            ndim = 1 if kind == "LS" else array_ndim(kind)
            index = e.slice.elts if isinstance(e.slice, gast.Tuple) and kind != "LS" \
                else [e.slice]      # A[i, j] of a 2-D array: as many indices as dimensions
            return ndim == len(index) and all(
                isinstance(i, (gast.Name, gast.Constant, gast.UnaryOp)) and self.cheap_expr(i)
                for i in index)
        return False

    def is_math(self, node):
        path = dotted_name(node)
        if path is None or "." not in path:
            return False
        try:
            obj = self.ctx.lookup(path)
        except KeyError:
            return False
        return getattr(obj, "__module__", None) == "math" and callable(obj)

    def assignment(self, s, t, state):
        op = self.classify(s)
        out = []
        if op.kind == "copy":       # (of a name; or p.a of p = P(x, y), a copy of x)
            src = op.args[0]
            if isinstance(src, gast.Name) and src.id in self.ctx.active:
                self.contribute(src.id, name(self.adjoint(t)), state, out)
        elif op.kind == "pack":
            for i, elt in enumerate(op.args):
                if isinstance(elt, gast.Name) and elt.id in self.ctx.active:
                    key = op.keys[i] if op.keys is not None else i      # {"a": x}: by key
                    item = gast.Subscript(value=name(self.adjoint(t)), slice=const(key),
                                          ctx=gast.Load())
                    if op.func is not None and key is None:
                        # p of dataclasses.replace(p, w=v): the fields not replaced
                        item = call(self.helper("replaced_adjoint"), name(self.adjoint(t)),
                                    name(t), const(tuple(op.keys[1:])))
                    elif op.func is not None:   # P(x, y) of a record class: by field
                        helper = "replaced_field" if op.func == "replace" else "field_of"
                        item = call(self.helper(helper), name(self.adjoint(t)),
                                    name(t), const(key))
                    elif self.ctx.var_kinds.get(elt.id) != "S":
                        # the item may be the 0.0 standing for a zero of any structure
                        # (getitem_adjoint's other items): give it elt's structure
                        item = call(self.helper("element_adjoint"), item, name(elt.id))
                    self.contribute(elt.id, item, state, out)
        elif op.kind == "call":
            out.extend(self.call_site(s, t, op, state))
        elif op.kind == "rule" and self.power(s, t, state, out):
            pass
        elif op.kind == "rule":
            env = self.env(self.ctx.var_kinds.get(t) == "S")
            for kind, var, node in op.rule.instantiate(t, op.bind(), env):
                if kind == "contrib":
                    self.contribute(var, node, state, out)
                else:
                    out.append(node)
        state[t] = U
        return out

    def checked_adjoint(self, node, var, target, rule, param):
        """``node``, the contribution ``d[param] = ...`` of a user's template ``rule`` to
        the adjoint of ``var`` (for ``target = prim(...)``), as the generated code adds
        it: checked as it runs to have ``var``'s shape (``runtime.checked_adjoint``)
        unless it surely has: ``unbroadcast(..., var)``; numbers (and ``math``
        functions of them) for a number; arithmetic of numbers and values of
        ``var``'s shape, one at least."""
        if self.fits_argument(node, var):
            return node
        return call(self.helper("checked_adjoint"), node, name(var),
                    const(getattr(rule.template, "__name__", rule.name)), const(param))

    _SCALAR_BUILTINS = (builtins.abs, builtins.round, builtins.float, builtins.min,
                        builtins.max, builtins.pow)

    def fits_argument(self, node, var):
        """``node`` (an adjoint contribution to ``var``) surely has ``var``'s shape (see
        ``checked_adjoint``)."""
        kinds, primal_of, ctx = self.ctx.var_kinds, self.namer.primal_of, self.ctx
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
                and ctx.injected.get(node.func.id) is runtime.unbroadcast \
                and len(node.args) == 2 and isinstance(node.args[1], gast.Name) \
                and node.args[1].id == var:
            return True
        scalar = kinds.get(var) == "S"
        shape = None if scalar or self.scalar_pads else self.ctx.shapes.get(var)
        if not scalar and shape is None:
            return False
        funcs = set()
        if scalar:
            for n in gast.walk(node):
                if isinstance(n, gast.Call):
                    if n.keywords or not (self.is_math(n.func) or isinstance(n.func, gast.Name)
                                          and ctx.injected.get(n.func.id) in
                                          self._SCALAR_BUILTINS):
                        return False
                    funcs |= {id(f) for f in gast.walk(n.func)}
        shaped = False
        for n in gast.walk(node):
            if id(n) in funcs:
                continue
            cls = n.__class__
            if cls is gast.Name:
                primal = primal_of.get(n.id, n.id)
                if kinds.get(primal) == "S":
                    continue
                if scalar or self.ctx.shapes.get(primal) != shape:
                    return False
                shaped = True
            elif cls is gast.Constant:
                if type(n.value) not in (int, float):
                    return False
            elif cls is gast.Call:
                continue            # (a math function of numbers, checked above)
            elif not isinstance(n, (gast.BinOp, gast.UnaryOp, gast.Load, gast.operator,
                                    gast.unaryop)):
                return False
        return scalar or shaped

    def power(self, s, t, state, out):
        """``t = c * x**k``, ``k >= 2`` (``activity.Powers``): add ``k * c * bt *
        x**(k-1)`` to ``bx`` directly; True if done."""
        hit = self.powers_of.get(id(s))
        if hit is None or hit[0] is not s or hit[1][0] not in self.ctx.active:
            return False
        x, coef, w = hit[1]
        bt = name(self.adjoint(t))
        if coef != 1:
            bt = _binop(const(float(coef)), gast.Mult, bt)
        self.contribute(x, _binop(bt, gast.Mult, name(w)), state, out)
        return True

    def find_powers(self, stmts):
        """``powers_of``: id(statement) -> (statement, ``Powers.derivative``) for the
        powers of one scalar in straight-line runs of ``stmts``, in forward order."""
        kinds = self.ctx.var_kinds
        powers = Powers(kinds)
        for s in stmts:
            cls = s.__class__
            if cls is gast.If:
                self.find_powers(s.body)
                self.find_powers(s.orelse)
                powers = Powers(kinds)
            elif cls is gast.For or cls is gast.While:
                self.find_powers(s.body)
                powers = Powers(kinds)
            else:
                powers.note(s)
                t = target_name(s)
                hit = powers.derivative(t) if t is not None and powers.forms else None
                if hit is not None:
                    self.powers_of[id(s)] = (s, hit)

    def store(self, s, state, overwritten):
        """``a[i] = v``: adjoint of v is ``ba[i]``, which is then zeroed; the values
        the store destroyed (snapshotted in the forward sweep) are put back."""
        from .activity import index_expr
        target = s.targets[0]
        base = target.value.id
        old = self.snapshot_name(s, overwritten)
        out = []
        b = self.adjoint(base)
        if base in self.ctx.active and _defined(state.get(base, U)):
            v = s.value
            index = index_expr(clone(target.slice), self.ctx)
            itself = None
            if isinstance(v, gast.Name) and v.id in self.ctx.active:
                # ints and slices write each element once; a fancy index may write one
                # twice, and then only the last write reaches the array
                helper = "take_adjoint" if self.basic_index(index) is not None \
                    else "store_adjoint"
                if helper == "take_adjoint" and self.element_index(base, index) \
                        and self.ctx.var_kinds.get(v.id) == "S":
                    # an element for a number: ba.item(i), a number (no call of a helper;
                    # not ba[i], which code differentiating this again may take for a
                    # view of ba, written into next)
                    parts = index.elts if isinstance(index, gast.Tuple) else [index]
                    take = gast.Call(func=gast.Attribute(value=name(b), attr="item",
                                                         ctx=gast.Load()),
                                     args=parts, keywords=[])
                else:
                    take = call(self.helper(helper), name(b), index, name(v.id))
                if self.adjoint(v.id) == b:
                    # a[::-1] = a, a[:] = a: the value stored is the array's value before
                    # the store, whose adjoint is ba itself. Its part (a copy) is taken
                    # before the written slots of ba are zeroed, and added after: added
                    # first, the zeroing wiped it out
                    itself = self.fresh()
                    out.append(assign(itself, take))
                else:
                    self.contribute(v.id, take, state, out)
            if _whole(target.slice):    # a[()] = v, a[...] = v: all of a, maybe 0-d
                out.append(assign(b, call(self.helper("zeros_like"), name(base))))
                state[base] = OWN
            else:
                zero = gast.Subscript(value=name(b), slice=clone(target.slice),
                                      ctx=gast.Store())
                out.append(assign(zero, const(0.0)))
            if itself is not None:
                self.contribute(v.id, name(itself), state, out)
        if base in self.ctx.global_stores:
            # a global dict: a key the store added goes again (no NEW_KEY left there)
            index = index_expr(clone(target.slice), self.ctx)
            out.append(gast.Expr(value=call(self.helper("restore_item"), name(base), index,
                                            name(old))))
            return out
        restore = gast.Subscript(value=name(base), slice=clone(target.slice), ctx=gast.Store())
        out.append(assign(restore, name(old)))
        return out

    def snapshot_name(self, s, overwritten):
        """The name holding what statement ``s`` overwrites (a primal value to record)."""
        if id(s) not in self.snapshots:
            self.snapshots[id(s)] = self.namer.numbered("_old")
            self.ctx.snapshots.add(self.snapshots[id(s)])
        old = self.snapshots[id(s)]
        self.primal.add(old)
        if overwritten is not None:
            overwritten.add(old)
        return old

    def index_add(self, s, state, overwritten):
        """``index_add(a, i, g)`` (in generated code): g's adjoint is ``ba[i]``; the
        values of ``a[i]`` before the update are put back from a snapshot."""
        a, index, g = s.value.args
        old = self.snapshot_name(s, overwritten)
        out = []
        if a.id in self.ctx.active and _defined(state.get(a.id, U)) and \
                isinstance(g, gast.Name) and g.id in self.ctx.active:
            take = call(self.helper("take_adjoint"), name(self.adjoint(a.id)), clone(index),
                        name(g.id))
            self.contribute(g.id, take, state, out)
        restore = gast.Subscript(value=name(a.id), slice=clone(index), ctx=gast.Store())
        out.append(assign(restore, name(old)))
        return out

    def append(self, s, state):
        """``lst.append(v)``: v's adjoint is popped off ``blst``; ``lst`` is popped back."""
        lst = s.value.func.value.id
        out = []
        b = self.adjoint(lst)
        if lst in self.ctx.active and _defined(state.get(lst, U)):
            # a NumPy rule's adjoint of the whole list is an array: its rows as a list
            out.append(assign(b, call(self.helper("list_adjoint"), name(b))))
            pop = call(gast.Attribute(value=name(b), attr="pop", ctx=gast.Load()))
            v = s.value.args[0]
            if isinstance(v, gast.Name) and v.id in self.ctx.active:
                if self.ctx.var_kinds.get(v.id) != "S":
                    # the item may be the 0.0 standing for a zero of any structure (a
                    # tuple ``(i, v)`` appended, only v[1] read later): give it the
                    # structure of the item appended, still the list's last
                    last = gast.Subscript(value=name(lst), slice=const(-1), ctx=gast.Load())
                    pop = call(self.helper("element_adjoint"), pop, last)
                self.contribute(v.id, pop, state, out)
            else:
                out.append(gast.Expr(value=pop))
        if lst in self.ctx.held_logs and lst not in self.ctx.active:
            # a list held in an attribute of an object, only appended to (a log): it
            # keeps what the function appends, as calling the function (and forward
            # mode) does; nothing the reverse sweep reads depends on it
            return out
        restore = call(gast.Attribute(value=name(lst), attr="pop", ctx=gast.Load()))
        out.append(gast.Expr(value=restore))
        return out

    def pop(self, s, state):
        """``z = lst.pop()``: ``bz`` goes back onto ``blst``; ``z`` back onto ``lst``."""
        t = target_name(s)
        lst = s.value.func.value.id
        out = []
        if lst in self.ctx.active and (t in self.ctx.active and _defined(state.get(t, U))
                                       or _defined(state.get(lst, U))):
            if not _defined(state.get(lst, U)):
                out.append(assign(self.adjoint(lst), call(self.helper("zeros_like"),
                                                          name(lst))))
                state[lst] = D
            g = name(self.adjoint(t)) if _defined(state.get(t, U)) else call(
                self.helper("zeros_like"), name(t))
            push = gast.Attribute(value=name(self.adjoint(lst)), attr="append", ctx=gast.Load())
            out.append(gast.Expr(value=call(push, g)))
        state[t] = U
        restore = gast.Attribute(value=name(lst), attr="append", ctx=gast.Load())
        out.append(gast.Expr(value=call(restore, name(t))))
        return out

    def join(self, a, b, v, overwritten=()):
        """State of ``bv`` where two paths meet (a path lacking it gets a zero pad)."""
        a = self.pad_state(v, overwritten) if a == U and b != U else a
        b = self.pad_state(v, overwritten) if b == U and a != U else b
        return a if a == b else D

    def shaped_zero(self, v, overwritten):
        """Whether the zero adjoint of ``v`` is shaped like ``v`` (``zeros_like(v)``) rather
        than ``0.0``: for everything but surely-scalar names (arrays, lists, tuples),
        wherever it is (in loops and split functions too), so every rule gets an adjoint
        of its result's shape; ``v`` is then read where the pad is, and recorded on the
        tape if overwritten (see pad_reads)."""
        return v in self.ctx.mutable or self.ctx.var_kinds.get(v, "A") != "S"

    def zero(self, v, overwritten=()):
        """A zero adjoint for ``v``: ``0.0``, or an array (see shaped_zero)."""
        if self.shaped_zero(v, overwritten):
            if self.ctx.var_kinds.get(v) == "L":    # a list of rows, arrays, lists
                return call(self.helper("zero_items"), name(v))
            return call(self.helper("zeros_like"), name(v))
        return const(0.0)

    def pad(self, v, overwritten=()):
        """``bv = <zero>``: a zero pad where paths meet (see pad_reads)."""
        stmt = assign(self.adjoint(v), self.zero(v, overwritten))
        self.pads[id(stmt)] = stmt       # kept alive: ids stay unique
        return stmt

    def pad_reads(self, stmts):
        """The primal values read by the zero pads among ``stmts``: the block placing them
        records them like any value an adjoint statement reads."""
        out = set()
        for st in stmts:
            if self.pads.get(id(st)) is st:
                out |= loads(st) & self.primal
        return out

    def unused_call(self, s):
        """``t = helper(lst, ...)`` whose value carries no derivative (``push(lst, v)``
        as a statement): refused like any call filling a list that carries derivatives
        (``split``); otherwise the call is only run."""
        op = self.classify(s)
        if op.kind == "call" and op.operand_names() & self.ctx.mutable & self.ctx.active:
            self.split(s, op)

    def split(self, s, op):
        """(the callee's split pair, its active arguments as (index, name)) for the call
        ``s``. A list argument carrying derivatives that the callee appends to or pops
        from is refused: the adjoints of those items would have to reach its bwd, which
        takes only the adjoint of its result."""
        from . import api, pipeline
        mapping, kinds, params = pipeline.bind_call(op, self.ctx.var_kinds, self.ctx, s.value)
        active = [(i, atom.id) for i, p in enumerate(params) if p in mapping
                  for atom in [mapping[p]]
                  if isinstance(atom, gast.Name) and atom.id in self.ctx.active]
        wrt = tuple(i for i, _ in active)
        try:
            split = api.compiled(op.func, wrt, True, "split", kinds, callee=True,
                                 receivers=pipeline.callee_receivers(mapping, self.ctx, op.func,
                                                                     s.value))
        except errors.S2SADError as exc:
            raise errors.in_helper(exc, op.func, s.value, self.ctx) from None
        changed = getattr(split.ctx, "mutable", ())
        passed = getattr(split.ctx, "list_params", ())
        for i in wrt:
            if params[i] in passed:
                # a list the callee appends to or pops from: its bwd takes the list's
                # adjoint and gives it back updated (``call_site``); not when the same
                # list is given for another parameter too
                if [v for _, v in active].count(mapping[params[i]].id) > 1:
                    raise errors.unsupported(s.value, self.ctx, "FillsActiveList", op.what)
            elif params[i] in changed:
                raise errors.unsupported(s.value, self.ctx, "FillsActiveList", op.what)
        return split, active, mapping

    def fills_lists(self, s):
        """``s`` calls a user function that appends to or pops from a list carrying
        derivatives given to it (``t = fwd_g(x, _tape=_tape)``, whose value the
        gradient need not read): its bwd is called even then, to pop the adjoints of
        what it appended (``call_site``)."""
        hit = self._fills.get(id(s))
        if hit is None:
            op = self.classify(s)
            hit = False
            if op.kind == "call" and op.operand_names() & self.ctx.active & (
                    self.ctx.mutable | set(self.ctx.list_params)):
                split, _, mapping = self.split(s, op)
                hit = any(isinstance(mapping.get(q), gast.Name)
                          and mapping[q].id in self.ctx.active
                          for q in getattr(split.ctx, "list_params", ()))
            self._fills[id(s)] = hit
        return hit

    def passes_on(self, p):
        """The list parameter ``p`` is given to a call of a user function that appends
        to or pops from it (a split callee passing its tape on to another)."""
        for s in self.statements:
            if not isinstance(s, gast.Assign) or target_name(s) is None:
                continue
            op = self.classify(s)
            if op.kind != "call" or p not in op.operand_names():
                continue
            try:
                split, _, mapping = self.split(s, op)
            except errors.S2SADError:
                continue
            if any(isinstance(mapping.get(q), gast.Name) and mapping[q].id == p
                   for q in getattr(split.ctx, "list_params", ())):
                return True
        return False

    def callee_lists(self, split, mapping):
        """(parameter, list of the caller) for each list a split callee records values
        carrying no derivative on: the caller's list of the values that depend on the
        parameters the callee's arguments for them depend on (constants: on none)."""
        lists, taken = [], set()
        for p, deps in getattr(split.ctx, "itape_params", ()):
            mine = frozenset()
            for q in deps:
                atoms = mapping.get(q)
                if isinstance(atoms, dict):         # **kwargs
                    atoms = tuple(atoms.values())
                for atom in atoms if isinstance(atoms, tuple) else (atoms,):   # *args
                    for n in loads(atom) if atom is not None else ():
                        if n in self.ctx.params or n in self.ctx.local_names:
                            mine |= self.depends_on(n)
            lst = self.list_for(mine)
            k = 0
            while lst in taken and lst != self.tape:
                # two of the callee's lists for one of the caller's: a list of the same
                # values of its own for each (one list given for two parameters was
                # refused when the gradient was differentiated again in reverse mode)
                k += 1
                key = ("again", mine, k)
                if key not in self.itapes:
                    self.itapes[key] = self.namer.fresh("_itape")
                lst = self.itapes[key]
            taken.add(lst)
            lists.append((p, lst))
        return lists

    def call_site(self, s, t, op, state, unused=False):
        """``t = helper(...)``: forward calls fwd_helper, reverse calls bwd_helper
        (``unused``: ``t``'s adjoint is a zero, the call fills a list, see
        ``fills_lists``). A list carrying derivatives that the callee appends to or
        pops from (``ctx.list_params`` of the callee): bwd_helper takes its adjoint
        after the call and gives it back as it was before (the adjoints of the items
        appended popped off, those of the items popped put back)."""
        if id(s) not in self.calls:
            split, active, mapping = self.split(s, op)
            lists = self.callee_lists(split, mapping)
            inout = [mapping[q].id for q in getattr(split.ctx, "list_params", ())]
            fwd, bwd = split.function
            fname = op.func.__name__.strip("<>")
            self.tape = self.tape or self.namer.fresh("_tape")
            self.primal_calls[id(s)] = s.value
            s.value = gast.Call(func=name(self.inject("fwd_" + fname, fwd)), args=s.value.args,
                                keywords=s.value.keywords + [gast.keyword(
                                    arg=split.ctx.tape_param, value=name(self.tape))] + [
                                    gast.keyword(arg=p, value=name(lst)) for p, lst in lists])
            self.calls[id(s)] = (name(self.inject("bwd_" + fname, bwd)), [v for _, v in active],
                                 [lst for _, lst in lists], inout)
        bwd_name, targets, lists, inout = self.calls[id(s)]
        out = []
        given = [call(self.helper("list_adjoint_in"), name(self.adjoint(v)), name(v))
                 if _defined(state.get(v, U)) else call(self.helper("zeros_like"), name(v))
                 for v in inout]
        b_out = call(self.helper("zeros_like"), name(t)) if unused else name(self.adjoint(t))
        grads = call(bwd_name, b_out, name(self.tape), *map(name, lists), *given,
                     *map(name, inout))
        if len(targets) > 1:
            tmp = self.namer.temp()
            out.append(assign(tmp, grads))
            grads = name(tmp)
        for k, var in enumerate(targets):
            item = gast.Subscript(value=grads if len(targets) > 1 else grads, slice=const(k),
                                  ctx=gast.Load())
            if var in inout:        # the list's adjoint before the call, whole
                out.append(assign(self.adjoint(var), item))
                state[var] = D
            else:
                self.contribute(var, item, state, out)
        return out

    def branch(self, s, state, overwritten):
        st_then, st_else = dict(state), dict(state)
        then, st_then = self.block(s.body, st_then, overwritten)
        orelse, st_else = self.block(s.orelse, st_else, overwritten)
        # most adjoints have one state after both branches: they keep it (what join
        # gives, without a pad); only those the branches left apart (or that one of
        # them alone has) are joined, found without a loop over every adjoint
        merged, pads = dict(st_then), []
        for v in sorted({v for v, _ in st_then.items() ^ st_else.items()}):
            a, b = st_then.get(v, U), st_else.get(v, U)
            if _defined(a) != _defined(b):
                pads.append(self.pad(v, overwritten))
                (orelse if _defined(a) else then).append(pads[-1])
            merged[v] = self.join(a, b, v, overwritten)
        if not then and not orelse:
            return merged, None
        node = gast.If(test=s.test, body=then or [gast.Pass()], orelse=orelse)
        self.join_pads[id(node)] = pads      # (the node stays alive: ids stay unique)
        return merged, copy_location(node, s)

    def has_active(self, loop):
        """Whether the loop needs a reverse: it defines an active name, pops from a list,
        writes into an array or a list (an active one: even writing constants into it
        kills the adjoint of what it overwrites; any other: the reverse sweep may read
        it after, ``w = np.cos(x * y)`` before a loop writing into ``x`` reads ``x`` for
        ``y``'s adjoint, and needs what the loop overwrote put back, which
        ``restores`` takes out where nothing reads it), or appends to an active list."""
        active = self.ctx.active
        for x in walk_stmts(loop.body):
            t = target_name(x)
            if t in active:
                return True
            if t is not None and self.fills_lists(x):     # a call appending to a list
                return True
            if _is_pop(x):
                # any list: the reverse of a loop appending to it pops its items again,
                # so what this loop popped must be put back first
                return True
            if isinstance(x, gast.Assign) and target_name(x) is None \
                    or _is_index_add(x, self.ctx):       # a[i] = v, np.add.at(a, i, v)
                return True
            if _is_append(x, self.ctx) and x.value.func.value.id in active:
                return True
        return False

    def counter(self, loop):
        if id(loop) not in self.counters:
            self.counters[id(loop)] = self.namer.numbered("_n")
        return self.counters[id(loop)]

    def loop(self, s, state, overwritten):
        if not self.has_active(s):
            return state, []
        self.loops += 1
        try:
            return self._loop(s, state, overwritten)
        finally:
            self.loops -= 1

    def _loop(self, s, state, overwritten):
        fixed = self.fixed_point_loop(s, overwritten)
        written = self.written(s) if isinstance(s, gast.For) else stores(s)
        inner = set(overwritten or ()) | written
        if self.ranged(s):
            inner.discard(s.target.id)      # the reverse loop sets it again
        if not fixed and not self.reversible(s):
            inner.add(self.counter(s))
        for x in walk_stmts(s.body):
            if isinstance(x, (gast.For, gast.While)) and self.has_active(x) \
                    and not self.reversible(x):
                inner.add(self.counter(x))
        if overwritten is not None:
            overwritten |= inner
        # a fixed-point body is replayed right before its adjoint, without the copies
        # that carry the state to the next iteration: nothing at its level is overwritten
        over = set() if fixed else inner
        entry = dict(state)
        head = dict(entry)
        while True:
            body, exit_ = self.block(s.body, dict(head), over)
            # each adjoint's state at the head joins those at the entry and at the exit
            # of the body: where they agree, that state (the exit's, as it is); only
            # where they differ (or one lacks it) is join asked
            new_head = dict(head)
            new_head.update(exit_)
            for v in {v for v, _ in entry.items() ^ exit_.items()}:
                new_head[v] = self.join(entry.get(v, U), exit_.get(v, U), v, inner)
            if new_head == head:
                break
            head = new_head
        # zero pads for the adjoints defined at the head but not at the entry (before
        # the loop) or not at the exit (end of the body), in sorted order: only names
        # whose state at the head differs from there can be such
        pre = [self.pad(v, overwritten) for v in _differing(head, entry)
               if _defined(head[v]) and not _defined(entry.get(v, U))]
        pads = [self.pad(v, inner) for v in _differing(head, exit_)
                if _defined(head[v]) and not _defined(exit_.get(v, U))]
        if self.pad_reads(pads):     # the body's record restores what its pads read
            body, exit_ = self.block(s.body, dict(head), over, self.pad_reads(pads))
        hoisted = _hoist_invariants(body, inner | written)
        if overwritten is not None and hoisted:
            # the loop around hoists them further, or keeps them; run only where this
            # loop runs (the forward loop computed their operands in its body: unbound,
            # or a value the function never computes, when it ran no iteration)
            test = self.runs_test(s, fixed)
            if test is None:
                body[:0] = hoisted          # (kept in the body)
            elif test is True:
                pre += hoisted
            else:
                pre.append(copy_location(gast.If(test=test, body=hoisted, orelse=[]), s))
        # else the forward loop computed each of them in every iteration it ran, to one
        # value, which the reverse loop reads: computed again before it, a value the
        # function never computes when the loop runs no iteration (9.81 / L with L = 0)
        # would raise where the function does not
        body += pads
        if not body:
            body = [gast.Pass()]
        if fixed:
            return head, pre + self.fixed_point_reverse(s, body, head)
        self.loop_var = self.loop_var or self.namer.fresh("_")
        it = name(self.loop_var, store=True)
        if overwritten is None and self.ctx.checkpoint and self.checkpointable(s):
            return head, pre + [copy_location(self.checkpointed_reverse(s, body), s)]
        if self.ranged(s):      # the same range backwards: the index is at hand
            it = name(s.target.id, store=True)
            rng = clone(s.iter)
            if self.sliced(s):      # (its iterations that ran)
                rng = gast.Subscript(value=rng, slice=gast.Slice(
                    lower=None, upper=name(self.counters[id(s)]), step=None), ctx=gast.Load())
            rng = call(name(self.inject("reversed", builtins.reversed)), rng)
        else:
            rng = call(name(self.inject("range", builtins.range)), name(self.counters[id(s)]))
        rev = gast.For(target=it, iter=rng, body=body, orelse=[], type_comment=None)
        return head, pre + [copy_location(rev, s)]

    def runs_test(self, s, fixed):
        """True where the loop ``s`` surely runs an iteration (``range`` of constants),
        else a test of whether it ran one (its range, its trip counter), or None."""
        if self.is_range_loop(s) and not s.iter.keywords \
                and all(isinstance(a, gast.Constant) and type(a.value) is int
                        for a in s.iter.args):
            return len(range(*[a.value for a in s.iter.args])) > 0 or None
        if self.reversible(s):
            return clone(s.iter)            # a range: true when it is not empty
        if not fixed and id(s) in self.counters:
            return name(self.counters[id(s)])
        return None

    def is_range_loop(self, s):
        return isinstance(s, gast.For) and isinstance(s.iter, gast.Call) \
            and isinstance(s.target, gast.Name) \
            and self.ctx.injected.get(dotted_name(s.iter.func), range) is range \
            and dotted_name(s.iter.func) in ("range", self.ctx.injected_names.get(
                ("range", id(builtins.range)), "range"))

    def ranged(self, s):
        """``for i in range(...)`` whose range no loop changes and whose index nothing
        else writes: the reverse loop runs over the same range backwards (all of it, or
        the iterations that ran: ``sliced``), setting the index, which is not recorded.
        An index recorded on the tape would come back from it as a float-like value in
        a second derivative (a tangent 0.0 times the derivative along the exponent of
        ``y ** i``, nan for ``y < 0``); the range gives it back as the integer it was."""
        if id(s) not in self._reversible:
            self._reversible[id(s)] = self.is_range_loop(s) \
                and self.store_count.get(s.target.id) == 1 \
                and not (self.ctx.checkpoint and self.checkpointable(s)) \
                and not (loads(s.iter) & self.loop_stored)
        return self._reversible[id(s)]

    def reversible(self, s):
        """A ``ranged`` loop that runs to its end: it needs no trip counter."""
        return self.ranged(s) and not self.sliced(s)

    def sliced(self, s):
        """A ``ranged`` loop that ``break``, ``continue`` or ``return`` may leave early:
        its trip counter ``_n1`` is kept, and the reverse loop runs over
        ``reversed(range(...)[:_n1])`` (a range sliced: no tape)."""
        # (the exit test is a statement of the body itself: an inner loop's does not
        # leave this one; a return in an inner loop gives this one an exit test too)
        return self.ranged(s) and any(anno.get(x, anno.Key.LOOP_EXIT) for x in s.body)

    # -- checkpointing -------------------------------------------------------------
    def checkpointable(self, s):
        """A top-level ``for`` over ``range`` whose body only computes: no jumps, no
        writes into arrays or lists, no calls recording on the tape themselves."""
        if not self.is_range_loop(s):
            return False
        for x in walk_stmts(s.body):
            if anno.get(x, anno.Key.LOOP_EXIT) or _is_append(x, self.ctx) or \
                    (isinstance(x, gast.Assign) and target_name(x) is None):
                return False
            if isinstance(x, gast.Assign) and target_name(x) and (
                    _is_pop(x) or self.classify(x).kind == "call"):
                return False
        return True

    def checkpointed_reverse(self, s, rev_body):
        """Replay each segment of iterations from its checkpoint, recording, then reverse it."""
        n = self.counters[id(s)]
        names = {k: self.namer.numbered(k) for k in ("_r", "_K", "_ck")}
        seg, j, lo, hi = (self.namer.fresh(k) for k in ("_seg", "_j", "_lo", "_hi"))
        headers = sorted(x.targets[0].id for x in s.body if anno.get(x, anno.Key.COPYBACK))
        recording = []
        self.checkpoints[id(s)] = dict(names, headers=headers, recording=recording, j=j)
        rng = lambda *a: call(name(self.inject("range", builtins.range)), *a)  # noqa: E731
        body = []
        if headers:
            item = gast.Subscript(value=name(names["_ck"]), slice=name(seg), ctx=gast.Load())
            tgt = name(headers[0], store=True) if len(headers) == 1 else gast.Tuple(
                elts=[name(h, store=True) for h in headers], ctx=gast.Store())
            body.append(assign(tgt, item))
        body.append(assign(lo, gast.BinOp(left=name(seg), op=gast.Mult(), right=name(names["_K"]))))
        upper = gast.BinOp(left=name(lo), op=gast.Add(), right=name(names["_K"]))
        body.append(assign(hi, call(name(self.inject("min", builtins.min)), name(n), upper)))
        body.append(gast.For(target=name(j, store=True), iter=rng(name(lo), name(hi)),
                             body=recording, orelse=[], type_comment=None))
        count = gast.BinOp(left=name(hi), op=gast.Sub(), right=name(lo))
        body.append(gast.For(target=name(self.loop_var, store=True), iter=rng(count),
                             body=rev_body, orelse=[], type_comment=None))
        segments = rng(gast.BinOp(left=call(name(self.inject("len", builtins.len)),
                                            name(names["_ck"])), op=gast.Sub(), right=const(1)),
                       const(-1), const(-1))
        return gast.For(target=name(seg, store=True), iter=segments, body=body, orelse=[],
                        type_comment=None)

    def checkpointed_forward(self, s, out):
        """The forward loop keeps every K-th loop-carried state instead of a tape."""
        info = self.checkpoints[id(s)]
        n = self.counters[id(s)]
        recording = self.forward(s.body)           # with the block's tape records
        item = gast.Subscript(value=name(info["_r"]), slice=name(info["j"]), ctx=gast.Load())
        info["recording"][:] = [assign(s.target.id, item)] + recording
        plain = _strip_records(clone(recording), self.tapes())
        out.append(assign(info["_r"], s.iter))
        out.append(assign(info["_K"], call(self.helper("checkpoint_interval"),
                                           call(name(self.inject("len", builtins.len)),
                                                name(info["_r"])))))
        out.append(assign(info["_ck"], gast.List(elts=[], ctx=gast.Load())))
        out.append(assign(n, const(0)))
        headers = info["headers"]
        state = name(headers[0]) if len(headers) == 1 else \
            gast.Tuple(elts=[name(h) for h in headers], ctx=gast.Load())
        save = gast.Expr(value=call(gast.Attribute(value=name(info["_ck"]), attr="append",
                                                   ctx=gast.Load()), state))
        due = gast.Compare(left=gast.BinOp(left=name(n), op=gast.Mod(), right=name(info["_K"])),
                           ops=[gast.Eq()], comparators=[const(0)])
        s.iter = name(info["_r"])
        s.body = [gast.If(test=due, body=[save], orelse=[]),
                  gast.AugAssign(target=name(n, store=True), op=gast.Add(), value=const(1))] + plain
        out.append(s)

    # -- fixed-point loops --------------------------------------------------------------
    def fixed_point_loop(self, s, overwritten):
        """With ``fixed_point=True``, whether ``s`` is a ``while`` loop to differentiate
        at its limit (Christianson's two-phase adjoint, Tapenade's FP-LOOP); raises when
        it is a ``while`` loop that does not fit."""
        if not (self.ctx.fixed_point and isinstance(s, gast.While)):
            return False
        why = None
        if self.ctx.output == "split":
            why = "it is in a function differentiated as a call from other code"
        elif overwritten is not None:
            why = "it is inside another loop"
        exit_ = anno.get(s.body[-1], anno.Key.LOOP_EXIT) if s.body else None
        if exit_ and exit_ != desugar.WHOLE and not why:
            why = "it leaves by return, continue, or a break with statements after it, " \
                  "so its last iteration is not a whole step of the iteration"
        if not why and any(_is_append(x, self.ctx) or _is_pop(x) or _is_index_add(x, self.ctx)
                           or (isinstance(x, gast.Assign) and target_name(x) is None)
                           for x in walk_stmts(s.body)):
            why = "it changes a list or an array in place"
        if not why and not self.exit_tests_vary(s):
            why = "no test that ends it reads a value carrying a derivative (it stops by a " \
                  "count, say), so it need not have settled at a fixed point"
        if why:
            raise errors.fixed_point_refused(s, self.ctx, why)
        return True

    def exit_tests_vary(self, s):
        """Some test that ends the ``while`` loop ``s`` (its own test, or one setting the
        flag of a ``break``) reads, through the values it is computed from, a value that
        depends on the arguments differentiated: the loop may stop because its values
        settled. A loop stopped by a counter alone (``i >= 7``) gives the derivative of
        a limit it never reached."""
        names = set(loads(s.test))
        stmts = list(walk_stmts(s.body))
        for x in stmts:
            if isinstance(x, gast.If) and any(isinstance(y, gast.Break) for y in x.body):
                names |= loads(x.test)
        grown = True
        while grown:            # back through definitions, and the ifs setting flags
            grown = False
            for x in stmts:
                new = set()
                if isinstance(x, gast.Assign) and target_name(x) in names:
                    new = loads(x.value)
                elif isinstance(x, gast.If) and any(
                        target_name(y) in names for y in walk_stmts(x.body + x.orelse)):
                    new = loads(x.test)
                if not new <= names:
                    names |= new
                    grown = True
        wrt = set(self.ctx.wrt_names)
        return any(self.depends_on(n) & wrt for n in names)

    def fixed_point_reverse(self, s, rev_body, head):
        """The reverse of a fixed-point loop ``z = g(z, p)`` that stopped at ``z*``:

        the forward loop records nothing. The reverse sweep replays the body once at
        ``z*`` (without the copies that carry the state on), then runs the body's
        adjoint again and again, each time mapping the state's adjoint ``bz`` to
        ``J^T bz`` (``J = dg/dz`` at ``z*``) and adding ``(dg/dp)^T bz`` to the
        adjoints of ``p``, until ``bz`` is negligible: the sum over k of
        ``(dg/dp)^T (J^T)^k bz_out`` is the implicit-function-theorem gradient
        ``(dg/dp)^T (I - J^T)^-1 bz_out``. A loop that ran no iteration passes its
        state's adjoint through, like any loop."""
        ctx = self.ctx
        headers = [x.targets[0].id for x in s.body if anno.get(x, anno.Key.COPYBACK)]
        adjoints = [self.adjoint(h) for h in headers if _defined(head.get(h, U))]
        ran = self.namer.numbered("_ran")
        if not adjoints:             # nothing after the loop reads its state
            self.fixed_points[id(s)] = dict(ran=ran, body=[])
            return []
        tol, k = self.namer.numbered("_tol"), self.namer.numbered("_k")
        if all(ctx.var_kinds.get(h) == "S" for h in headers if self.adjoint(h) in adjoints):
            mags = [call(name(self.inject("abs", builtins.abs)), name(b)) for b in adjoints]
            norm = (lambda: clone(mags[0])) if len(mags) == 1 else \
                (lambda: call(name(self.inject("max", builtins.max)), *map(clone, mags)))
        else:
            norm = lambda: call(self.helper("fixed_point_norm"), *map(name, adjoints))  # noqa: E731
        settled = gast.If(test=gast.Compare(left=norm(), ops=[gast.LtE()],
                                            comparators=[name(tol)]),
                          body=[gast.Break()], orelse=[])
        body = rev_body + [settled]
        # the helper comes with the file's name, so the generated line shows only the line
        self.unsettled = self.unsettled or functools.partial(runtime.fixed_point_unsettled,
                                                             ctx.filename)
        unsettled = call(name(self.inject("fixed_point_unsettled", self.unsettled)),
                         const(getattr(s, "lineno", ctx.firstlineno)))
        iterate = gast.For(target=name(k, store=True),
                           iter=call(name(self.inject("range", builtins.range)),
                                     const(runtime.FIXED_POINT_MAX_ITERATIONS)),
                           body=body, orelse=[gast.Expr(value=unsettled)], type_comment=None)
        scale = gast.BinOp(left=const(runtime.FIXED_POINT_RTOL), op=gast.Mult(), right=norm())
        block = [assign(tol, scale), copy_location(iterate, s)]
        # the replay goes before the iterations, or into each when its records (of
        # loops inside the body) must be popped again
        self.fixed_points[id(s)] = dict(ran=ran, body=body, before=block)
        return [copy_location(gast.If(test=name(ran), body=block, orelse=[]), s)]

    def fixed_point_forward(self, s, out):
        """The forward loop runs plain, noting that it ran; the body is replayed, without
        its copies to the next iteration's state, in the reverse sweep."""
        info = self.fixed_points[id(s)]
        body = self.forward(s.body)
        replay = [x for x in body if not (anno.get(x, anno.Key.COPYBACK)
                                          or anno.get(x, anno.Key.LOOP_EXIT))]
        plain = clone(body)
        for x, y in zip(walk_stmts(body), walk_stmts(plain)):     # plain calls: no records
            if id(x) in self.primal_calls:
                y.value = clone(self.primal_calls[id(x)])
        plain = _strip_records(plain, self.tapes())
        if info["body"]:
            records = any(      # a push, or a call given the tape
                isinstance(n, gast.Name) and n.id in self.tapes()
                for x in replay for n in gast.walk(x))
            where = info["body"] if records else info["before"]
            where[0:0] = _live(replay, where)
        out.append(assign(info["ran"], const(False)))
        s.body = [assign(info["ran"], const(True))] + plain
        out.append(s)

    # -- forward sweep -----------------------------------------------------------
    def forward(self, stmts):
        from .activity import index_expr
        out = []
        for s in stmts:
            if id(s) in self.snapshots and isinstance(s, gast.Expr):      # index_add
                a, index, _ = s.value.args
                snap = call(self.helper("snapshot"), name(a.id), clone(index))
                out.append(assign(self.snapshots[id(s)], snap))
            elif id(s) in self.snapshots:
                target = s.targets[0]
                snap = call(self.helper("snapshot"), name(target.value.id),
                            index_expr(clone(target.slice), self.ctx))
                out.append(assign(self.snapshots[id(s)], snap))
            if isinstance(s, gast.If):
                s.body = self.forward(s.body)
                s.orelse = self.forward(s.orelse)
            elif id(s) in self.checkpoints:
                self.checkpointed_forward(s, out)
                continue
            elif id(s) in self.fixed_points:
                self.fixed_point_forward(s, out)
                continue
            elif isinstance(s, (gast.For, gast.While)):
                s.body = self.forward(s.body)
                n = self.counters.get(id(s))
                if n is not None:
                    out.append(assign(n, const(0)))
                    s.body.insert(0, gast.AugAssign(target=name(n, store=True), op=gast.Add(),
                                                    value=const(1)))
            out.append(s)
        recorded = self.pushes.get(id(stmts))
        if recorded:
            at = len(out)
            while at > 0 and (anno.get(out[at - 1], anno.Key.COPYBACK)
                              or anno.get(out[at - 1], anno.Key.LOOP_EXIT)):
                at -= 1
            out[at:at] = [gast.Expr(value=call(gast.Attribute(
                value=name(self.tape_for(n)), attr="append", ctx=gast.Load()), name(n)))
                for n in recorded]
        return out

    def run(self):
        ctx = self.ctx
        ctx.primal_temps = set(ctx.namer.temps)
        tree = self.tree
        ret = tree.body[-1]
        body = tree.body[:-1]
        y = ret.value
        split = ctx.output == "split"
        state = {}
        seed, list_seeds = [], []
        self.find_powers(body)
        for s in self.statements:       # (the last, ``ret``, is no assignment)
            if isinstance(s, gast.Assign) and target_name(s) not in ctx.active:
                self.unused_call(s)
        if isinstance(y, gast.Name) and y.id in ctx.active:
            state[y.id] = D
            if not split and ctx.var_kinds.get(y.id) == "S":     # surely a scalar: no check
                seed.append(assign(self.adjoint(y.id), const(1.0)))
            elif not split:
                seed.append(assign(self.adjoint(y.id), call(self.helper("seed"), name(y.id))))
        elif not split and (isinstance(y, gast.Name) or not (
                isinstance(y, gast.Constant) and type(y.value) in (int, float))):
            seed.append(gast.Expr(value=call(self.helper("seed"), clone(y))))  # checks it
        if split and ctx.callee:
            # lists carrying derivatives the callee appends to or pops from: their
            # adjoints after the call are given (call_site)
            ctx.list_params = [p for p in ctx.wrt_names
                               if ctx.var_kinds.get(p) in ("L", "LS") and p in ctx.active
                               and p not in ctx.param_stores and p not in ctx.param_writes
                               and (p in ctx.mutable or self.passes_on(p))]
            for p in ctx.list_params:
                last = _last_name_of(p, body)
                if last != p and last in ctx.active:
                    # the list is in another name when the function returns (SSA's
                    # copies, bL_1 = bL before a loop popping from it): the adjoint after
                    # the call is that name's, which reaches p's at the copies
                    given = name(self.adjoint(p))
                    if _defined(state.get(last, U)):        # returned too: both
                        given = call(self.helper("add_adjoints"), given, call(
                            self.helper("list_adjoint_in"), name(self.adjoint(last)),
                            name(p)))
                    list_seeds.append(assign(self.adjoint(last), given))
                    state[last] = D
                else:
                    state[p] = D
        if split:
            # everything the reverse reads is gone when the forward function returns
            self.tape = self.tape or self.namer.fresh("_tape")
            # (the lists it fills are not: bwd takes them, as they are when it runs)
            rev, state = self.block(body, state, set(self.primal) - set(ctx.list_params),
                                    set(ctx.wrt_names))
            rev = list_seeds + rev
        else:
            rev, state = self.block(body, state, None)
        fwd = self.forward(body)
        if len(self.itapes) == 1 and not self.tape:    # one list: named the tape, as usual
            (only,) = self.itapes.values()
            self.itapes = {}
            self.tape = self.namer.fresh("_tape")
            for x in fwd + rev:
                for n in gast.walk(x):
                    if isinstance(n, gast.Name) and n.id == only:
                        n.id = self.tape
        grads = []
        for p in ctx.wrt_names:
            if _defined(state.get(p, U)):
                g = name(self.adjoint(p))
                if ctx.var_kinds.get(p) in ("L", "LS", "AL"):
                    # a list's or tuple's gradient in its structure (zeros for items
                    # the function did not read, a tuple for a tuple)
                    g = call(self.helper("like_argument"), g, name(p))
                grads.append(g)
            else:
                grads.append(call(self.helper("zeros_like"), name(p)))
        result = grads[0] if len(ctx.wrt) == 1 and not ctx.wrt_tuple else \
            gast.Tuple(elts=grads, ctx=gast.Load())
        if split:
            return self.split_functions(tree, fwd, rev, y, result, ret)
        for tape in (*reversed(self.itapes.values()), self.tape):
            if tape:
                fwd.insert(0, assign(tape, gast.List(elts=[], ctx=gast.Load())))
        if ctx.has_aux and ctx.mutable:
            # the reverse sweep undoes the appends and stores into the list or array
            # returned as aux, or held by it (a tuple, a list or a dict of them, a view
            # of one): return it as the forward sweep left it
            helper = "copy_of" if ctx.aux_name in ctx.mutable else "private_value"
            for s in fwd:
                if target_name(s) == ctx.aux_name:
                    s.value = call(self.helper(helper), s.value)
        if ctx.output == "value_and_grad":
            if isinstance(y, gast.Name):     # the reverse sweep may rebind y's name
                value = self.namer.fresh("_value")
                fwd.append(assign(value, name(y.id)))
                y = name(value)
            if ctx.has_aux:
                y = gast.Tuple(elts=[y, name(ctx.aux_name)], ctx=gast.Load())
            result = gast.Tuple(elts=[y, result], ctx=gast.Load())
        elif ctx.has_aux:
            result = gast.Tuple(elts=[result, name(ctx.aux_name)], ctx=gast.Load())
        tree.body = fwd + seed + rev + [copy_location(gast.Return(value=result), ret)]
        tree.name = self.namer.fresh(f"{ctx.output}_{ctx.name}")
        return tree

    def split_functions(self, tree, fwd, rev, y, result, ret):
        """Forward and backward functions sharing the caller's tape (vjp, user calls)."""
        ctx = self.ctx
        ctx.tape_param = self.tape
        ctx.itape_params = [(lst, tuple(sorted(key if isinstance(key, frozenset) else key[1])))
                            for key, lst in self.itapes.items()]
        lists = [self.tape] + [lst for lst, _ in ctx.itape_params]
        tree.args.kwonlyargs = tree.args.kwonlyargs + [gast.Name(
            id=lst, ctx=gast.Param(), annotation=None, type_comment=None) for lst in lists]
        tree.args.kw_defaults = tree.args.kw_defaults + [None] * len(lists)
        value = y
        if not ctx.callee and self._returns_restored(y):
            # vjp: the backward function undoes the writes into the arrays, lists and
            # dicts the function wrote into in place (and its appends), the returned
            # one among them: the caller gets a copy of it, which no sweep changes
            value = call(self.helper("private_value"), y)
        tree.body = fwd + [copy_location(gast.Return(value=value), ret)]
        tree.name = self.namer.fresh(f"fwd_{ctx.name}")
        out_adjoint = self.adjoint(y.id) if isinstance(y, gast.Name) else self.namer.fresh("b_out")
        joined = []
        if isinstance(y, gast.Name) and y.id in ctx.list_params:
            # the callee returns a list it appends to or pops from: the caller's adjoint
            # of the result and its adjoint of the argument after the call are of one
            # list, and add up (both would be parameters named b<list>)
            out_adjoint = self.namer.fresh("b_out")
            joined = [assign(self.adjoint(y.id), call(
                self.helper("add_adjoints"), name(self.adjoint(y.id)),
                call(self.helper("list_adjoint_in"), name(out_adjoint), name(y.id))))]
        args = gast.arguments(
            args=[gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
                  for n in (out_adjoint, *lists, *map(self.adjoint, ctx.list_params),
                            *ctx.list_params)],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])
        if not isinstance(result, gast.Tuple):
            result = gast.Tuple(elts=[result], ctx=gast.Load())
        if isinstance(y, gast.Name) and y.id in ctx.mutable:     # updated in place below
            rev = [assign(self.adjoint(y.id), call(self.helper("owned"),
                                                   name(self.adjoint(y.id))))] + rev
        rev = joined + rev
        back = gast.FunctionDef(name=self.namer.fresh(f"bwd_{ctx.name}"), args=args,
                                body=rev + [gast.Return(value=result)], decorator_list=[],
                                returns=None, type_comment=None, type_params=[])
        copy_location(back, tree)
        return gast.Module(body=[tree, back], type_ignores=[])

    def _returns_restored(self, y):
        """The value ``y`` the forward function returns may be, or hold, an object the
        backward function changes back in place: an array, list or dict the function
        wrote into (or appended to, popped from), or a list, tuple or dict that may
        hold one. A float, or an array no store touched, is returned as it is."""
        ctx = self.ctx
        if not ctx.mutable or not isinstance(y, gast.Name):
            return False
        if y.id in ctx.mutable:
            return True
        return ctx.var_kinds.get(y.id, "A") not in ("S",) and not is_array_kind(
            ctx.var_kinds.get(y.id))


def _last_name_of(p, body):
    """The name holding the list ``p`` holds at the start of ``body`` at its end: ``p``,
    or the last of a chain of copies of it at the top level (``q = p``, the header copy
    before a loop, which the loop's copies carry on; ``q = list_adjoint(p)``, the same
    list in derivative code)."""
    cur = p
    for s in body:
        if not isinstance(s, gast.Assign) or target_name(s) is None:
            continue
        v = s.value
        if isinstance(v, gast.Call) and len(v.args) == 1 and not v.keywords \
                and (dotted_name(v.func) or "").rpartition(".")[2] == "list_adjoint":
            v = v.args[0]
        if isinstance(v, gast.Name) and v.id == cur:
            cur = target_name(s)
        elif target_name(s) == cur:
            return p            # rebound to something else: (not followed)
    return cur


def _differing(head, other):
    """The names of ``head`` (adjoint states) whose state in ``other`` differs or is
    missing, sorted."""
    return sorted({v for v, _ in head.items() - other.items()})


def _hoist_invariants(body, overwritten):
    """Move the recomputed statements of a reverse loop body whose operands no loop
    changes (``9.81 / L``, ``math.sin(x)``) out of the body; returns them."""
    hoisted, invariant, keep = [], set(), []
    for x in body:
        if anno.get(x, anno.Key.RECOMPUTE) and \
                all(n in invariant or n not in overwritten for n in loads(x.value)):
            hoisted.append(x)
            invariant.add(target_name(x))
        else:
            keep.append(x)
    body[:] = keep
    return hoisted


def _live(replay, after):
    """``replay`` without the arithmetic whose result only the dropped copies read.

    The clean-up would keep it: its dead-code pass counts reads over the whole
    function, and the forward loop's copies still read these names."""
    needed = set()
    for x in after:
        needed |= loads(x)
    out = []
    for x in reversed(replay):
        if not _unneeded(x, needed):
            needed |= loads(x)
            out.append(x)
    return out[::-1]


def _unneeded(x, needed):
    """``x`` computes, without calls, only names ``needed`` lacks (an ``if``: all of it)."""
    if isinstance(x, gast.If):
        return not _calls(x.test) and all(_unneeded(y, needed) for y in x.body + x.orelse)
    t = target_name(x)
    return isinstance(x, gast.Assign) and t is not None and t not in needed \
        and not _calls(x.value)


def _calls(e):
    return any(isinstance(n, gast.Call) for n in gast.walk(e))


def _is_push(s, tapes):
    return isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
        and any(t and dotted_name(s.value.func) == f"{t}.append" for t in tapes)


def _strip_records(stmts, tapes):
    """``stmts`` without their ``tape.append(...)`` records to any of ``tapes`` (the
    checkpointed forward loop)."""
    out = []
    for s in stmts:
        if _is_push(s, tapes):
            continue
        for attr in ("body", "orelse"):
            if isinstance(s, (gast.If, gast.For, gast.While)):
                setattr(s, attr, _strip_records(getattr(s, attr), tapes) or
                        ([gast.Pass()] if attr == "body" else []))
        out.append(s)
    return out


def _whole(index):
    """The index ``()`` or ``...``: every element, of an array of any dimension (a 0-d
    one included, whose adjoint may be a number that cannot be written into)."""
    return (isinstance(index, gast.Tuple) and not index.elts) or \
        (isinstance(index, gast.Constant) and index.value is Ellipsis)


def _binop(left, op, right):
    """``binop`` with a new node of the operator class ``op`` (several per adjoint
    statement)."""
    return binop(left, op.__new__(op), right)


def _is_pop(s):
    if not isinstance(s, gast.Assign):
        return False
    v = s.value
    return isinstance(v, gast.Call) and target_name(s) is not None \
        and isinstance(v.func, gast.Attribute) and v.func.attr == "pop" and not v.args \
        and isinstance(v.func.value, gast.Name)


class _Env:
    """What a rule template needs from the reverse pass."""

    def __init__(self, rev, scalar_result):
        self.rev = rev
        self.scalar_result = scalar_result
        self.shapes = rev.ctx.shapes
        # zero pads in loops and split functions are the scalar 0.0, which only
        # unbroadcast turns into an array: keep it there
        self.shaped_adjoints = not rev.scalar_pads
        self.is_active = rev.is_active
        self.adjoint = rev.adjoint
        self.inject = rev.inject
        self.fresh = rev.fresh
        self.helper_names = rev.helper_names
        self.checked = rev.checked_adjoint


    def same_shape(self, operand, target):
        c = self.shapes.get(operand)
        return self.shaped_adjoints and c is not None and c == self.shapes.get(target)

    def witness(self, operand):
        """A name surely at hand with ``operand``'s shape (top-level reverse sweep only)."""
        c = self.shapes.get(operand)
        if c is None or not self.shaped_adjoints:
            return None
        return self.rev.ctx.shape_witness.get(c)


def run(tree, ctx):
    from .activity import guard_inplace, guard_stores
    guard_stores(tree, ctx)
    guard_inplace(tree, ctx)
    rev = Reverse(tree, ctx)
    try:
        return rev.run()
    finally:
        # each _Env refers back to the pass: break that cycle, which would otherwise
        # keep the pass and its tables alive until the cyclic garbage collector runs
        rev._envs.clear()
