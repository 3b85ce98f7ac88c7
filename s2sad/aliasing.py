"""The aliasing checks of the activity stage (``activity.run`` calls them).

The normal form differentiates ``b op= v`` as ``b = b op v`` and a store ``a[i] = v``
as a write into ``a`` alone: what NumPy does when no other name shares the memory.
These checks refuse, each at the user's line, the in-place updates that another
name would see (a view, a copy, a list holding the array, a caller's argument), and
track which names SSA made copies of one array (``alias_classes``).
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import inspect
import linecache
import re
import types

import gast
import numpy as np

from . import anno, errors, runtime
from .activity import NONDIFF_ATTRS, Op, _is_append, record_class
from .dataflow import closure
from .gastutil import dotted_name, loads, target_name, walk
from .rules.core import NONDIFF, RULES


def alias_classes(assigns, ctx, edges, tree=None):
    """Copies made by SSA alias the array they copy: stores through one name are
    stores through all, and their adjoints flow both ways. A copy written by the
    user (``b = a``) of an array written in place is rejected where both names may
    still be read after it; one whose source is not read again (``u = new`` at the end
    of a time step that made ``new = u.copy()`` and wrote into it) only renames the
    array, as SSA's copies do. ``assigns``: ``(statement, name)`` for every assignment
    to one name (``walk_stmts`` order); ``tree``: the function (its liveness)."""
    copies = [(s, t) for s, t in assigns if isinstance(s.value, gast.Name)]
    generated = _generated(ctx)
    liveness = _Liveness(tree, ctx) if tree is not None else None

    def _read_after(s, src, t):
        return bool(liveness.live_after(s, {src}))

    changed = True
    while changed:
        changed = False
        for s, t in copies:
            src = s.value.id
            if not ({t, src} & ctx.mutable):
                continue
            ssa_copy = any(anno.get(s, k) for k in (anno.Key.HEADER, anno.Key.JOIN,
                                                      anno.Key.COPYBACK)) \
                or _user_name(t, ctx) in getattr(ctx, "result_names", ()) or generated
            if not ssa_copy and src not in ctx.namer.temps and t not in ctx.namer.temps \
                    and t != ctx.aux_name and t not in ctx.aux_parts \
                    and (tree is None or _read_after(s, src, t)):   # (has_aux: see reverse)
                lists = {ctx.var_kinds.get(t), ctx.var_kinds.get(src)} & {"L", "LS"}
                names = [_user_name(n, ctx) for n in (t, src)]
                mine = [n for n in names if not n.startswith("_")]
                text = " = ".join(names) if len(mine) == 2 else \
                    f"another name for {mine[-1]}" if mine else "a value of the expression"
                raise errors.unsupported(s, ctx, "ListAlias" if lists else "Alias", text)
            if not {t, src} <= ctx.mutable:
                ctx.mutable |= {t, src}
                changed = True


def _generated(ctx):
    """The function is derivative code s2sad generated (``hessian``, ``grad(grad(f))``).
    Its copies of values written in place are s2sad's own and alias what they copy as
    SSA's copies and the first pass's temporaries do (the user's copies of such values
    were refused by the transformation that generated the code): ``ys = _t3`` names the
    list a comprehension built into a temporary, which the reverse sweep pops through
    ``_t3`` (and through ``ys`` what the user appended to it); ``bx = b_seq`` hands over
    an adjoint filled by ``b_seq[i] += ...``."""
    from .codegen import cache_dir
    filename = getattr(ctx, "filename", None) or ""
    return bool(filename) and filename.startswith(cache_dir())


# calls whose result may share memory with their receiver or first argument
_VIEW_MAKERS = {"reshape", "ravel", "transpose", "swapaxes", "moveaxis", "squeeze",
                "expand_dims", "view", "diagonal", "broadcast_to", "atleast_1d", "atleast_2d",
                "atleast_3d", "flip", "fliplr", "flipud", "rot90", "T", "mT", "real", "imag",
                "asarray", "asanyarray", "ascontiguousarray", "asfortranarray",
                "asarray_chkfinite", "require", "asmatrix", "split", "array_split", "hsplit",
                "vsplit", "dsplit", "broadcast_arrays", "as_strided", "sliding_window_view",
                "unstack", "rollaxis", "matrix_transpose", "permute_dims", "real_if_close",
                "trim_zeros", "frombuffer", "from_dlpack", "ix_", "einsum"}
# methods (not functions) whose result may be the receiver itself: ndarray.conj() of a
# real array is that array, where np.conj(a), a ufunc, makes a new one
_VIEW_METHODS = {"conj", "conjugate"}
# view makers whose result may share memory with each array argument, not only the
# first (p, q = np.atleast_1d(a, b); np.meshgrid(a, b, copy=False))
_VIEWS_OF_ALL = {"atleast_1d", "atleast_2d", "atleast_3d", "broadcast_arrays", "ix_",
                 "meshgrid"}
# calls whose result holds the very objects of their arguments (list(B) of an array
# holds views of its rows, max(xs) is one of them)
_CONTAINER_MAKERS = {builtins.list, builtins.tuple, builtins.sorted, builtins.reversed,
                     builtins.iter, builtins.next, builtins.zip, builtins.enumerate,
                     builtins.dict, builtins.min, builtins.max, runtime.in_order}
# indices that surely select a copy (fancy indexing): lists, masks, index arrays
_INDEX_ARRAYS = {"array", "arange", "argsort", "nonzero", "flatnonzero", "argwhere", "where"}


def _copy_keyword(v):
    """The call ``v`` has ``copy=`` other than ``copy=True`` (``np.array(a, copy=False)``,
    ``a.astype(t, copy=False)``, ``np.meshgrid(a, b, copy=False)``)."""
    return any(k.arg == "copy" and not (isinstance(k.value, gast.Constant)
                                        and k.value.value is True) for k in v.keywords)


def _method_receiver(v, ctx):
    """The receiver of the call ``v`` of a method (``a`` of ``a.conj()``, a local, or a
    global array ``G`` of ``G.ravel()``), or None for a function (``np.ravel(a)``,
    ``np.linalg.matrix_transpose(a)``: of a module or a class)."""
    f = v.func
    if not isinstance(f, gast.Attribute):
        return None
    if isinstance(f.value, gast.Name) and f.value.id in ctx.local_names:
        return f.value
    path = dotted_name(f.value)
    if path is None:
        return f.value
    try:
        obj = ctx.lookup(path)
    except (KeyError, ValueError, AttributeError):
        return None
    return None if isinstance(obj, (types.ModuleType, type)) else f.value


def view_operands(v, ctx):
    """The operands (nodes) whose memory the result of the call ``v`` may share, as a
    view or as the operand itself, or None when the call makes a new value (or is no
    call of NumPy's view makers): the receiver of a method (``a.reshape(2, 2)``,
    ``a.conj()``), the first argument of a function (``np.rollaxis(a, 1)``), each
    argument of ``np.atleast_1d(a, b)``, the one operand of ``np.einsum('ii->i', a)``."""
    if not isinstance(v, gast.Call):
        return None
    path = dotted_name(v.func) or ""
    last = path.split(".")[-1]
    recv = _method_receiver(v, ctx)
    if last in _VIEW_METHODS:
        return [recv] if recv is not None else None
    if last not in _VIEW_MAKERS and not (last == "meshgrid" and _copy_keyword(v)):
        return None
    if recv is not None:
        return [recv]
    if last in _VIEWS_OF_ALL:
        return list(v.args)
    if last == "einsum":
        # a view only of a single operand (np.einsum('ii->i', a), 'ij->ji'); with two
        # or more the result is new (operands after a subscripts string; the sublist
        # form np.einsum(a, [0, 0], [0]) and a subscripts held by a name: any argument)
        if v.args and isinstance(v.args[0], gast.Constant) and isinstance(v.args[0].value, str):
            ops = v.args[1:]
            return list(ops) if len(ops) == 1 and not any(k.arg == "out" for k in v.keywords) \
                else None
        return list(v.args)
    return list(v.args[:1])


class _Liveness:
    """The names each statement of the (SSA) function leaves to be read later."""

    def __init__(self, tree, ctx):
        self.tree = tree
        self.ctx = ctx
        self.after = None

    def _value_loads(self, node):
        return loads(node)

    def live_after(self, s, names):
        if self.after is None:
            live = set()
            ret = self.tree.body[-1]
            if isinstance(ret, gast.Return):
                live |= loads(ret)
            if self.ctx.aux_name:
                live.add(self.ctx.aux_name)
            self.after = {}
            self._block(self.tree.body, live)
        return names & self.after.get(id(s), set())

    def _block(self, stmts, live):
        for s in reversed(stmts):
            self.after[id(s)] = live
            live = self._stmt(s, live)
        return live

    def _stmt(self, s, live):
        if isinstance(s, gast.If):
            return self._block(s.body, live) | self._block(s.orelse, live) | loads(s.test)
        if isinstance(s, (gast.For, gast.While)):
            head = loads(s.iter) if isinstance(s, gast.For) else loads(s.test)
            leave = self._block(s.orelse, live) if s.orelse else live
            entry = leave | head
            while True:           # the body may run again: what it reads at its start
                new = leave | head | self._block(s.body, entry)
                if new == entry:
                    return entry
                entry = new
        t = target_name(s)
        if t is not None:
            if t not in live and isinstance(s.value, gast.Name):
                return live     # a copy never read (the join copy of a view whose shape
                #                 only the gradient reads): no read of its source
            return (live - {t}) | self._value_loads(s.value)
        return live | self._value_loads(s)


class _Sharing(_Liveness):
    """Which names may share memory, and which may still be read after each statement:
    what ``check_views`` needs to tell an in-place write only the written name sees
    from one that changes another name's value behind the analysis' back.

    Two relations over SSA names: *same memory* (a copy ``b = a``, a view ``a[1:]``,
    ``a.T``, ``np.asarray(a)``, a helper returning ``a[:2]``), symmetric; and *holds*
    (``(a, b)``, ``lst.append(a)``, ``list(B)``, ``lst[i]`` for a list ``lst``): a
    change to ``a`` shows through what holds it, not the other way round."""

    def __init__(self, tree, stmts, ctx):
        self.ctx = ctx
        self.kinds = ctx.var_kinds
        self.defs = {}           # name -> the statements assigning it
        for s in stmts:
            t = target_name(s)
            if t is not None:
                self.defs.setdefault(t, []).append(s)
        self.parent = {}
        self.holders = {}        # name -> names holding it
        self.copies = {}         # name -> names it is copied from / to (SSA and user copies)
        self.made_at = {}        # name -> the statement making it share memory
        self.tapes = _tapes(stmts, ctx)
        self.sequences = set()   # names a loop iterates by (_seq = as_sequence(xs))
        # (copy, list): a new list or dict holding a list's or dict's items (xs[1:],
        # list(xs), sorted(xs), dict(d)), which a store into that list does not change;
        # in the order of the statements (a dict used as an ordered set: the copy of a
        # copy, ys = list(xs[1:]), is resolved after the copy it copies, whatever the
        # hash order of names)
        self.shallow = {}
        self.held_at = {}        # (holder, held) -> the statements making the holder hold it
        items = []               # (list, name): the name is an item read from the list
        # names bound to what a call of a function of yours returned, when that shares
        # memory with an argument (``q = ident(p)``, ``r = first(rows)``), and those
        # arguments: one list under two names, which a store through one changes
        self.call_aliases = set()
        generated = _generated(ctx)
        for s in stmts:
            same, held = self.edges(s)
            t = target_name(s)
            if t is not None and not generated and self._user_call(s):
                for a in self._aliased(self.ctx.classified[id(s)][2].func, s.value):
                    self.call_aliases |= {t, a.id}
                    items.append((a.id, t))     # (or an item of it: return rows[0])
            if same and t is not None and self._is_sequence(s.value):
                self.sequences.add(t)
            for a, b in same:
                self.union(a, b)
                if isinstance(s.value, gast.Name):
                    self.copies.setdefault(a, set()).add(b)
                    self.copies.setdefault(b, set()).add(a)
            for holder, x in held:
                self.holders.setdefault(x, set()).add(holder)
                self.held_at.setdefault((holder, x), []).append(s)
                if self._shallow_copy(s, x):
                    self.shallow[holder, x] = None
            v = getattr(s, "value", None)
            if (same or held) and _item_source(v) is not None:
                items.append((_item_source(v), t))
            if t is not None and (same or held):
                self.made_at.setdefault(t, s)
        self._items_share(items)
        self.tree = tree
        self.after = None
        self._shape_helpers = _shape_helpers()

    def _user_call(self, s):
        """``s`` assigns the result of a call of a function of yours."""
        known = self.ctx.classified.get(id(s))
        return known is not None and known[0] is s and isinstance(known[2], Op) \
            and known[2].kind == "call"

    def _items_share(self, items):
        """An item read from a list (``r = rows[0]``), or from what may be one (an item
        of a list of tuples), is the very object the list holds: it shares memory with
        each array the list (or a copy of it) holds, so that ``r *= 2.0`` shows through
        ``rows = list(m)`` or ``rows = [m[0], m[1]]`` in ``m``. Items of lists of lists:
        to the fixed point."""
        changed = bool(items)
        while changed:
            changed = False
            held_by = {}
            for x, hs in self.holders.items():
                for h in hs:
                    held_by.setdefault(self.find(h), set()).add(x)
            for h, x in self.shallow:
                # a shallow copy (xs[1:], list(xs)) holds the items of the list, not it
                mine = held_by.get(self.find(h), set())
                if x in mine and self.find(x) != self.find(h):
                    mine.discard(x)
                    mine |= held_by.get(self.find(x), set()) - {x}
            for lst, t in items:
                for x in held_by.get(self.find(lst), ()):
                    if x != t and self.find(x) != self.find(t):
                        self.union(t, x)
                        changed = True

    # -- which names may share memory

    def find(self, n):
        root = n
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while n != root:
            self.parent[n], n = root, self.parent.get(n, n)
        return root

    def union(self, a, b):
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb

    def same(self, n):
        root = self.find(n)
        return {m for m in self.parent if self.find(m) == root} | {n}

    def seen(self, n, store=False):
        """The names through which a change to ``n``'s memory shows; ``store``: the
        change is a store into the list or dict ``n`` (``n[i] = v``), which its shallow
        copies (``shallow``) do not see (those of what holds ``n`` hold ``n`` itself)."""
        out = self.same(n)
        first = set(out) if store else set()
        todo = list(out)
        while todo:
            x = todo.pop()
            for h in self.holders.get(x, ()):
                if x in first and (h, x) in self.shallow:
                    continue
                for m in self.same(h) - out:
                    out.add(m)
                    todo.append(m)
        return out

    def _shallow_copy(self, s, x):
        """``s`` makes a new list (tuple, dict) of the items of the list or dict ``x``,
        or picks one of them (``min(xs)``)."""
        if not self._list(x):
            return False
        v = getattr(s, "value", None)
        if isinstance(v, gast.Subscript):
            return isinstance(v.slice, gast.Slice) and isinstance(v.value, gast.Name) \
                and v.value.id == x
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) \
                and v.func.attr == "copy" and not v.args and not v.keywords \
                and isinstance(v.func.value, gast.Name) and v.func.value.id == x:
            return True         # x.copy() of a list or dict
        if not (isinstance(v, gast.Call) and v.args
                and isinstance(v.args[0], gast.Name) and v.args[0].id == x):
            return False
        path = dotted_name(v.func) or ""
        try:
            fn = self.ctx.lookup(path) if path and path.split(".")[0] not in \
                self.ctx.local_names else None
        except (KeyError, ValueError):
            return False
        if fn is runtime.in_order:      # in_order(xs, order): sorted(xs, key=...)
            return len(v.args) == 2
        # (min(xs), max(xs): one of its items, which a store into xs leaves as it is)
        return len(v.args) == 1 and fn in (builtins.list, builtins.tuple, builtins.sorted,
                                           builtins.dict, builtins.min, builtins.max)

    def same_array(self, n):
        """``n`` and its copies: the names the reverse pass treats as one array."""
        return closure({n}, self.copies)

    def _array(self, n):
        return isinstance(n, gast.Name) and self.kinds.get(n.id, "A") != "S"

    def _list(self, n):
        return self.kinds.get(n) in ("L", "LS")

    def edges(self, s):
        """(pairs of names sharing memory, pairs (holder, held)) that ``s`` makes."""
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
                and _is_append(s, self.ctx):
            lst, v = s.value.func.value, s.value.args[0]
            if lst.id in self.tapes:
                return [], []
            return [], [(lst.id, v.id)] if self._array(v) else []
        t = target_name(s)
        if t is None:
            base = self.base(s)
            if isinstance(s, gast.Assign) and base and self._list(base) \
                    and self._array(s.value):             # lst[i] = a: the list holds a
                return [], [(base, s.value.id)]
            return [], []
        if self.kinds.get(t) == "S":        # scalars are never shared
            return [], []
        v = s.value
        if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) \
                and self._list(v.value.id):
            # an element (or a slice) of a list: the list holds it
            return [], ([(v.value.id, t)] if not isinstance(v.slice, gast.Slice)
                        else [(t, v.value.id)])
        if isinstance(v, gast.Call) and _item_source(v) is not None \
                and self._list(_item_source(v)):
            return [], [(_item_source(v), t)]     # d.get(k), d.setdefault(k, []): d's item
        if self._user_call(s):
            same, held = self._returned(self.ctx.classified[id(s)][2].func, v), []
        else:
            same, held = self.sources(v)
        return ([(t, n.id) for n in same if self._array(n)],
                [(t, n.id) for n in held if self._array(n)])

    def sequences_around(self, s):
        """The sequence names (``sequences``) of the loops around the statement ``s``,
        each with the names of its loop's index (``_i``, and ``i = _i`` of
        ``for i, v in enumerate(xs)``)."""
        if not hasattr(self, "_around"):
            self._around = {}

            def visit(stmts, outer):
                for x in stmts:
                    self._around[id(x)] = outer
                    inner = outer
                    if isinstance(x, gast.For):
                        index = {x.target.id} if isinstance(x.target, gast.Name) else set()
                        index |= {target_name(y) for y in x.body if isinstance(y, gast.Assign)
                                  and isinstance(y.value, gast.Name) and y.value.id in index}
                        inner = dict(outer)
                        inner.update((q, frozenset(index))
                                     for q in loads(x.iter) & self.sequences)
                    for field in ("body", "orelse"):
                        visit(getattr(x, field, None) or [], inner)
            visit(self.tree.body, {})
        return dict(self._around.get(id(s), {}))

    def maybe_dict(self, n):
        """``n`` may be a dict: not a list of scalars (``'LS'``), and a parameter known
        to hold one (``Context.dicts``: a dict argument has the kind ``'L'`` too) or
        made by ``{...}`` or ``dict(...)``. A parameter not known to hold a dict (of a
        callee, say) is taken for a list: a loop over its keys writing into it is
        refused, where a list's items would have been read wrongly."""
        if self.kinds.get(n) == "LS":
            return False
        defs = [d for d in self.defs.get(n, ()) if not any(
            anno.get(d, k) for k in (anno.Key.HEADER, anno.Key.JOIN, anno.Key.COPYBACK))]
        if not defs:
            return _user_name(n, self.ctx) in self.ctx.dicts
        return any(isinstance(d.value, gast.Dict) or isinstance(d.value, gast.Name) or (
            isinstance(d.value, gast.Call) and dotted_name(d.value.func) == "dict") or (
            self._private_copy(d) and self.maybe_dict(d.value.args[0].id)) for d in defs)

    @staticmethod
    def _private_copy(d):
        """``d`` is ``xs_1 = copy_of(xs)``: the private copy of an argument written into."""
        v = d.value
        return isinstance(v, gast.Call) and dotted_name(v.func) == "copy_of" \
            and len(v.args) == 1 and isinstance(v.args[0], gast.Name)

    def _is_sequence(self, v):
        path = dotted_name(v.func) if isinstance(v, gast.Call) else None
        try:
            return bool(path) and self.ctx.lookup(path) is runtime.as_sequence
        except KeyError:
            return False

    @staticmethod
    def base(s):
        """The name ``s`` stores into: ``a`` of ``a[i] = v`` or of the user's
        ``np.add.at(a, i, v)``."""
        if not isinstance(s, gast.Assign):
            return _add_at_base(s)
        base = s.targets[0].value
        return base.id if isinstance(base, gast.Name) else None

    def sources(self, v):
        """(names whose memory the value ``v`` may share, names it may hold)."""
        if isinstance(v, gast.Name):
            return [v], []
        if isinstance(v, (gast.Tuple, gast.List)):
            return [], list(v.elts)
        if isinstance(v, gast.Dict):
            return [], list(v.values)
        if isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Mult)):
            # [a] + [a], [a] * 2: the result holds what the list operands hold
            return [], [o for o in (v.left, v.right)
                        if isinstance(o, gast.Name) and self._list(o.id)]
        if isinstance(v, gast.Subscript):
            return ([] if self._fancy(v.slice) else [v.value]), []
        if isinstance(v, gast.Attribute):
            return ([] if v.attr in NONDIFF_ATTRS else [v.value]), []
        if not isinstance(v, gast.Call):
            return [], []
        path = dotted_name(v.func) or ""
        last = path.split(".")[-1]
        recv = [v.func.value] if isinstance(v.func, gast.Attribute) \
            and isinstance(v.func.value, gast.Name) and v.func.value.id in self.ctx.local_names \
            else []
        first = (recv or v.args)[:1]
        views = view_operands(v, self.ctx)
        if views is not None:
            return views, []
        if last == "diag" and first and self.kinds.get(getattr(first[0], "id", None)) != "A1":
            return first, []      # the diagonal of a matrix, not a matrix made from a vector
        if _copy_keyword(v):
            return first, []      # np.array(a, copy=False), a.astype(t, copy=False)
        if recv:
            if last == "pop" and (recv[0].id in self.tapes
                                  or self.kinds.get(recv[0].id) == "LS"):
                # (an item popped off a list of scalars, a number, is no other name for
                # the list: a store into the list after the pop changes nothing it holds;
                # an item of a list that may hold lists may be one of them)
                return [], []
            if last == "_replace":      # p._replace(a=v): holds p's items and v
                return [], recv + [k.value for k in v.keywords]
            if last == "copy" and not v.args and not v.keywords and self._list(recv[0].id):
                return [], recv         # p.copy() of a list or dict: holds p's items
            return [], (recv if last == "pop" else [])   # other methods make new values
        try:
            fn = self.ctx.lookup(path) if path else None
        except KeyError:
            fn = None
        if fn is runtime.as_sequence:
            return first, []      # the array or list itself
        try:
            container = fn in _CONTAINER_MAKERS
        except TypeError:         # unhashable
            container = False
        if container:
            return [], list(v.args)
        if fn is dataclasses.replace or isinstance(fn, type) and record_class(fn) is not None:
            # P(x, y), dataclasses.replace(p, w=v): a record holding what it is given
            return [], list(v.args) + [k.value for k in v.keywords]
        return [], []             # NumPy and math make new values

    def _returned(self, fn, call):
        """The arguments whose memory a user function's result may share."""
        found = self.callee(fn, call)
        if found is None:         # nothing to read: any argument
            return list(call.args) + [k.value for k in call.keywords]
        mapping, shared = found[0], found[1]
        return [mapping[p] for p in shared if p in mapping]

    def _aliased(self, fn, call):
        """The list (or dict) arguments a user function's result may be, or be an item
        of (``return l``, ``return rows[0]``): names of the caller's."""
        found = self.callee(fn, call)
        if found is None:         # nothing to read: any argument
            args = list(call.args) + [k.value for k in call.keywords]
        else:
            args = [found[0][p] for p in found[8] if p in found[0]]
        return [a for a in args if isinstance(a, gast.Name) and self._list(a.id)]

    def callee(self, fn, call):
        """(parameter -> atom, parameters the result may share, parameters written in
        place) of a call of a user function, or None when its source is not read."""
        from . import pipeline
        op = Op("call", func=fn, args=list(call.args),
                keywords={k.arg: k.value for k in call.keywords})
        found = pipeline.returned(op, self.kinds, self.ctx, call)
        if found is None:
            return None
        mapping, _, _ = pipeline.bind_call(op, self.kinds, self.ctx, call)
        return mapping, found[1], found[2], found[3], found[4], found[5], found[6], found[7], \
            found[8]

    def _fancy(self, index):
        """``index`` surely selects a copy: a list, a mask, an array of indices."""
        if not isinstance(index, gast.Name):
            return False
        defs = self.defs.get(index.id)
        if not defs:
            return False
        for d in defs:
            v = d.value
            if isinstance(v, (gast.List, gast.Compare)):
                continue
            path = dotted_name(v.func) or "" if isinstance(v, gast.Call) else ""
            if path.startswith(("np.", "numpy.")) and path.split(".")[-1] in _INDEX_ARRAYS:
                continue
            return False
        return True

    # -- which names may be read after each statement

    def _value_loads(self, node):
        """The names ``node`` reads the values (not only the shapes) of: an operand of a
        gradient's helper that takes only its shape from it (``unbroadcast(b, v)``) is
        not read, so that a view written into later, then used as such an operand (the
        code of a gradient, differentiated again), is no read of changed values."""
        if not self._shape_helpers:
            return loads(node)
        shape_only, other = set(), set()
        for n in gast.walk(node):
            if isinstance(n, gast.Call):
                positions = self._shape_positions(n)
                for i, a in enumerate(n.args):
                    if i in positions and isinstance(a, gast.Name):
                        shape_only.add(id(a))
        for n in gast.walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) \
                    and id(n) not in shape_only:
                other.add(n.id)
        return other

    def _shape_positions(self, call):
        path = dotted_name(call.func)
        if path is None or path.split(".")[0] in self.ctx.local_names:
            return ()
        try:
            fn = self.ctx.lookup(path)
        except (KeyError, ValueError):
            return ()
        try:
            return self._shape_helpers.get(fn, ())
        except TypeError:         # unhashable
            return ()


_TAPE = re.compile(r"_i?tape(_[0-9]+)?")


def _tapes(stmts, ctx):
    """The tapes of derivative code s2sad generated (``_tape``, ``_itape``: lists it
    only appends to and pops from, made empty or handed in as ``_tape``), when that
    code is differentiated again in forward mode (``hessian``): their pushes and pops
    make no name share memory with another, so that an array recorded on the tape and
    then written into (a store, or the reverse sweep's restore ``x_1[i] = _old1``) is
    no write under a view.

    Why that is sound in forward mode: the tangent of a name written in place is a
    private copy wherever it is defined (``owned``, popped values too), so it changes
    only through stores through that name, which the tangent code repeats; and the
    reverse sweep of the first-order code reads a recorded value only once every
    store made after it was recorded has been undone (the restores: what makes the
    first-order gradient right), when the primal and the tangent popped are both those
    of the time of the push. (Reverse over reverse is another matter: the adjoint of
    a value read through the tape would not reach the store's; there the tape keeps
    holding what it records, and such code is refused.)"""
    if ctx.mode != "forward" or not _generated(ctx):
        return frozenset()
    out = {p for p in ctx.params if _TAPE.fullmatch(p)}
    for s in stmts:
        t = target_name(s)
        if t is not None and _TAPE.fullmatch(t):
            if isinstance(s.value, gast.List) and not s.value.elts:
                out.add(t)
    return frozenset(out)


def _callee_of(call, ctx):
    """The object ``call`` calls, when a global or builtin name (not a local) names it."""
    path = dotted_name(call.func) or ""
    if not path or path.split(".")[0] in ctx.local_names:
        return None
    try:
        return ctx.lookup(path)
    except (KeyError, ValueError, AttributeError):
        return None


def _shape_helpers():
    """The runtime helpers of gradient code that read one operand only for its shape
    (and type): helper -> the positions of such operands."""
    from .rules import numpy_helpers
    return {runtime.unbroadcast: (1,), runtime.getitem_adjoint: (1,),
            runtime.take_adjoint: (2,), runtime.sum_adjoint: (1,),
            runtime.mean_adjoint: (1,), numpy_helpers.sum_to: (1,),
            numpy_helpers.like: (1,)}


def _user_name(n, ctx):
    """The name the user wrote for the SSA name ``n`` (``acc`` for ``acc_3``)."""
    made = ctx.namer.made
    while n in made and "_" in n.strip("_"):
        base, _, num = n.rpartition("_")
        if not num.isdigit() or not base:
            break
        n = base
    return n


def _view_text(t, value, ctx, defs=None):
    """The user's name ``t`` of a view written into, or for a temporary of the normal
    form (``out[i][j] = v`` writes into ``_t2 = out[i]``) the expression it stands for;
    ``defs``: temporary -> its value, to spell out temporaries inside it too
    (``d['a']['b']`` rather than ``_t3['b']``)."""
    user = _user_name(t, ctx)
    if t not in ctx.namer.temps and not user.startswith("_"):
        return user
    tree = gast.gast_to_ast(copy.deepcopy(value))
    for _ in range(8):
        temps = [n for n in ast.walk(tree) if isinstance(n, ast.Name)
                 and _user_name(n.id, ctx).startswith("_")]
        if not temps:
            break
        for n in temps:
            inner = (defs or {}).get(n.id)
            if inner is None:
                return user
            new = gast.gast_to_ast(copy.deepcopy(inner))
            if n is tree:
                tree = new
                continue
            for parent in ast.walk(tree):
                for field, old in ast.iter_fields(parent):
                    if old is n:
                        setattr(parent, field, new)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            node.id = _user_name(node.id, ctx)
            if node.id.startswith("_"):
                return user
    return ast.unparse(tree)


def _describe(names, sharing, ctx):
    """The user's names among ``names``, or the line where a temporary is made."""
    users, temps = [], []
    for n in sorted(names):
        user = _user_name(n, ctx)
        if user in ctx.namer.made or user.startswith("_"):
            made = sharing.made_at.get(n)
            line = getattr(made, "lineno", None)
            user = f"the value made on line {line}" if line else "a temporary"
            if user not in temps:
                temps.append(user)
        elif user not in users:
            users.append(user)
    return ", ".join(users or temps)


def check_item_updates(others, ctx, varied, stmts=()):
    """``lst[i] op= v`` on an array in a list updates that array in place (every name
    holding it sees the change), where the normal form's ``lst[i] = lst[i] op v``
    rebinds the item to a new array: refused where a derivative is involved, unless
    the list holds scalars only (kind ``LS``) or it is a dict of scalars
    (``_scalar_dicts``; ``Context.scalar_item_dicts`` for a dict argument). ``others``: the statements that are no assignment to one name,
    ``stmts``: every statement (both in ``walk_stmts`` order)."""
    scalar_dicts = None
    for s in others:
        if not (isinstance(s, gast.Assign) and _annotated(s, anno.Key.INPLACE_ITEM)):
            continue
        base = s.targets[0].value.id
        if ctx.var_kinds.get(base) in ("L", "AL") and (base in varied or loads(s.value) & varied):
            if scalar_dicts is None:
                scalar_dicts = _scalar_dicts(stmts, ctx)
            if base in scalar_dicts or base in ctx.scalar_item_dicts:
                continue            # (a dict argument of scalars, or its copy)
            raise errors.unsupported(s, ctx, "InplaceAlias",
                                     f"{_user_name(base, ctx)}[...] op= ... updates the array "
                                     "the list holds, which other names may hold too")


# methods of a dict that neither add items nor let another name hold the dict
_DICT_READS = {"keys", "values", "items", "get"}
_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.FloorDiv, gast.Mod)


def _scalar_dicts(stmts, ctx):
    """The names of dicts that surely hold scalars only, so that ``d[k] += v`` is
    ``d[k] = d[k] + v`` (a float is never updated in place): made by a dict display
    (``{"a": x * y}``, ``{}``) in the function, every item stored a scalar, and used
    only by key (``d[k]``, ``d[k] = v``), by ``keys``/``values``/``items``/``get``,
    ``len``, a loop, and copies between such names (SSA's). Any other use (a call
    that may store into it, a list or tuple holding it, ``update``, a parameter) leaves
    it out. A scalar is a number, a name of kind ``'S'``, an item of such a dict, or
    arithmetic of scalars; found together with the dicts, to the greatest fixed point
    (``d["u"] = d["u"] + v`` is a scalar if the other items are)."""
    kinds = ctx.var_kinds
    defs = {}                       # name -> its assigned values
    for s in stmts:
        t = target_name(s)
        if t is not None:
            defs.setdefault(t, []).append(s.value)
    dicts = {t for t, vs in defs.items() if kinds.get(t) == "L" and any(
        isinstance(v, gast.Dict) for v in vs)}
    # copies between dict names: one class (a copy of a dict is the same dict)
    changed = True
    while changed:
        changed = False
        for t, vs in defs.items():
            if t in dicts or kinds.get(t) != "L":
                continue
            if any(isinstance(v, gast.Name) and v.id in dicts for v in vs):
                dicts.add(t)
                changed = True
    if not dicts:
        return frozenset()
    copies = {}                     # dict name -> the dict names it is copied from / to
    for t, vs in defs.items():
        for v in vs:
            if t in dicts and isinstance(v, gast.Name) and v.id in dicts:
                copies.setdefault(t, set()).add(v.id)
                copies.setdefault(v.id, set()).add(t)
    allowed = set()                 # id of each Name node a use allowed above
    stores = []                     # (dict, value stored)
    for s in stmts:
        t = target_name(s)
        if t is None and isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) \
                and isinstance(s.targets[0].value, gast.Name):
            stores.append((s.targets[0].value.id, s.value))
        if t is not None and t in dicts and isinstance(s.value, gast.Name):
            allowed.add(id(s.value))
        # anywhere (a loop's test too): d[k], d.keys(), d.values(), d.items(), d.get(k),
        # len(d), as_sequence(d)
        for v in walk(s):
            if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name):
                allowed.add(id(v.value))
            elif isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) \
                    and v.func.attr in _DICT_READS and isinstance(v.func.value, gast.Name):
                allowed.add(id(v.func.value))
            elif isinstance(v, gast.Call) and len(v.args) == 1 \
                    and isinstance(v.args[0], gast.Name) and all(
                        isinstance(k.value, gast.Constant) for k in v.keywords):
                fn = _callee_of(v, ctx)    # (as_sequence(d, length=2): counts checked)
                if fn is builtins.len or fn is runtime.as_sequence:
                    allowed.add(id(v.args[0]))
    for s in stmts:
        for n in walk(s):
            if isinstance(n, gast.Name) and n.id in dicts and id(n) not in allowed \
                    and not isinstance(n.ctx, gast.Store):
                dicts -= closure({n.id}, copies)

    def scalar(v, known):
        if isinstance(v, gast.Constant):
            return type(v.value) in (int, float)
        if isinstance(v, gast.Name):
            return kinds.get(v.id) == "S" or v.id in known
        if isinstance(v, gast.BinOp):
            return isinstance(v.op, _ARITHMETIC) and scalar(v.left, known) \
                and scalar(v.right, known)
        if isinstance(v, gast.UnaryOp):
            return isinstance(v.op, (gast.USub, gast.UAdd)) and scalar(v.operand, known)
        if isinstance(v, gast.Subscript):
            return isinstance(v.value, gast.Name) and v.value.id in dicts \
                and not isinstance(v.slice, gast.Slice)
        if isinstance(v, gast.Call):
            fn = _callee_of(v, ctx)
            if getattr(fn, "__module__", None) == "math" or fn is builtins.float:
                return True                 # a float, whatever its arguments
            return fn in (builtins.abs, builtins.min, builtins.max) and bool(v.args) \
                and not v.keywords and all(scalar(a, known) for a in v.args)
        return False

    changed = True
    while changed:
        # the names (of no kind 'S') assumed scalars: defined by arithmetic, copies and
        # items of the dicts left; dropped, with the dicts, where a value is not
        known = {t for t, vs in defs.items() if kinds.get(t) != "S" and t not in dicts}
        changed = True
        while changed:
            changed = False
            for t in sorted(known):
                if not all(scalar(v, known) for v in defs[t]):
                    known.discard(t)
                    changed = True
        changed = False
        for d in sorted(dicts):
            ok = all(isinstance(v, gast.Name) and v.id in dicts
                     or isinstance(v, gast.Constant) and v.value is None   # (a join marker)
                     or isinstance(v, gast.Dict) and all(scalar(x, known) for x in v.values)
                     and all(k is not None for k in v.keys)
                     for v in defs[d])
            ok = ok and all(scalar(v, known) for b, v in stores if b == d)
            if not ok:
                dicts -= closure({d}, copies)     # (a copy is the same dict)
                changed = True
    return frozenset(dicts)


def _add_at_base(s):
    """``a`` of ``index_add(a, i, v)``, the user's ``np.add.at(a, i, v)`` (normalize), or
    None."""
    if isinstance(s, gast.Expr) and _annotated(s, anno.Key.ADD_AT) \
            and isinstance(s.value, gast.Call) and s.value.args \
            and isinstance(s.value.args[0], gast.Name):
        return s.value.args[0].id
    return None


def _annotated(s, key):
    """``anno.get(s, key)``, without hashing ``key`` (an Enum: a call) for the many
    statements with no annotation at all."""
    found = s.__dict__.get("_s2sad")
    return found.get(key) if found else None


def check_views(tree, stmts, ctx, assigns, others, varied=None):
    """In-place updates must change nothing behind the analysis' back; returns the
    sharing analysis (or None when nothing is written in place) for
    :func:`check_writes_under_views`.

    * Writing into a view of another array (``w = z[1:]; w[0] = v``) is refused
      (like a user copy ``b = a``).
    * ``b op= v`` is differentiated as ``b = b op v``, which is what NumPy does when
      nothing else shares ``b``'s memory: refused where a name that may share it (a
      view or a copy of ``b``, what ``b`` is a view of, a list holding it) is read
      later. In a function called from differentiated code, updating a parameter
      (or a view of it) in place is recorded in ``ctx.param_writes``: the caller
      refuses the call where it reads the argument later.
    * A call of such a function, whose argument (or what shares its memory) is read
      after the call, is refused.

    ``stmts``: every statement (``walk_stmts``); ``assigns``: ``(statement, name)``
    for those that assign one name, ``others``: the rest (both in that order);
    ``varied``: the names whose values depend on the arguments differentiated.
    """
    stored = {s.targets[0].value.id: s for s in others if isinstance(s, gast.Assign)}
    for s in others:            # np.add.at(a, i, v): a store into a
        if _add_at_base(s) is not None:
            stored.setdefault(_add_at_base(s), s)
    inplace = [s for s in stmts if _annotated(s, anno.Key.INPLACE)
               and isinstance(s.value, gast.BinOp) and isinstance(s.value.left, gast.Name)
               and ctx.var_kinds.get(s.value.left.id, "A") != "S"]
    calls = [s for s, _ in assigns if isinstance(s.value, gast.Call)
             and isinstance(ctx.classified.get(id(s), (None, None, None))[2], Op)
             and ctx.classified[id(s)][2].kind == "call"]
    ret = tree.body[-1].value if isinstance(tree.body[-1], gast.Return) else None
    ctx.return_shares, ctx.return_aliases, ctx.param_writes = set(), set(), {}
    for p, store in ctx.param_stores.items():   # p[i] = v (normalize copies p for itself)
        ctx.param_writes[p] = _Store(_line_of(store, ctx))
    ctx.global_writes = {g: _line_of(store, ctx) for g, store in ctx.global_stores.items()}
    for s in stmts:     # G.append(v), G.pop() of a global list: a store for the callers
        g = _global_changed(s, ctx)
        if g is not None:
            ctx.global_writes.setdefault(g, _line_of(s, ctx))
    if ctx.params_escape:           # a callee: what its callers must not have changed
        ctx.global_reads = _global_reads(tree, ctx)
    returns_array = isinstance(ret, gast.Name) and ctx.var_kinds.get(ret.id, "A") != "S"
    appended = {s.value.func.value.id: s for s in others if _is_append(s, ctx)}
    # (v = lst.pop() in reverse mode: the reverse sweep puts v's adjoint back onto lst's,
    # which the adjoints read through another name holding the list do not see)
    # (not the tapes of derivative code differentiated again)
    popped = {s.value.func.value.id: s for s, _ in assigns if _is_pop(s, ctx)
              and not _TAPE.fullmatch(s.value.func.value.id)} \
        if ctx.mode == "reverse" else {}
    if not stored and not inplace and not calls and not appended and not popped \
            and not (ctx.params_escape and returns_array):
        return None
    item_pops = []
    for s, t in assigns:
        holder = _item_source(s.value) if t in appended or t in popped else None
        if holder is not None and ctx.var_kinds.get(holder) in ("L", "AL"):
            # an item of a list of lists grown (or popped from) in place: every name
            # holding it sees it
            if t in appended:
                user = _user_name(holder, ctx)
                what = f"{user}[...].append" if _named_by_user(user, ctx) else \
                    f"{_user_name(t, ctx)}.append, {_user_name(t, ctx)} an item of another " \
                    "list or tuple"
                raise errors.unsupported(appended[t], ctx, "AppendToItem", what)
            if varied is None or {holder, t} & varied:
                item_pops.append((popped[t], t, holder))
        if t not in stored:
            continue
        v = s.value
        if _is_pop(s, ctx) and ctx.var_kinds.get(v.func.value.id) in ("L", "AL") \
                and not _TAPE.fullmatch(v.func.value.id):
            # p = rows.pop(); p[0] = y: the item may be a list another name holds (a of
            # rows = [..., a]), which the store changes unseen
            user = _user_name(t, ctx)
            raise errors.unsupported(stored[t], ctx, "StoreIntoItem",
                                     f"{user}[...] = ..., {user} popped off "
                                     f"{_user_name(v.func.value.id, ctx)}")
        view = isinstance(v, (gast.Subscript, gast.Attribute))
        if isinstance(v, gast.Call):
            view = view_operands(v, ctx) is not None
        source = v.value.id if isinstance(v, (gast.Subscript, gast.Attribute)) \
            and isinstance(v.value, gast.Name) else None
        if isinstance(v, gast.Subscript) and isinstance(v.slice, gast.Slice) \
                and ctx.var_kinds.get(source) == "LS":
            view = False        # a slice of a list of numbers is a new list (q = p[:])
        if view:
            defs = {n: x.value for x, n in assigns if n in ctx.namer.temps}
            item, base = False, v
            while isinstance(base, gast.Subscript) and isinstance(base.value, gast.Name):
                b = base.value.id       # (d['a']['b']: _t3['b'] with _t3 = d['a'])
                if ctx.var_kinds.get(b) in ("L", "LS", "AL") or b in ctx.dicts:
                    item = True
                    break
                base = defs.get(b)
            raise errors.unsupported(stored[t], ctx, "StoreIntoItem" if item else "ViewWrite",
                                     _view_text(t, v, ctx, defs))
    sharing = _Sharing(tree, stmts, ctx)
    for s, t, holder in item_pops:
        # the pop's adjoint goes back onto t's adjoint alone: a read through another name
        # for the list (what holds it, the name it was made under) after the pop has an
        # adjoint of the list as it is then, which would be added to t's as it was before
        others = sharing.live_after(s, sharing.seen(t) - {t, target_name(s)})
        if others:
            user = _user_name(holder, ctx)
            where = f"{user}[...].pop()" if _named_by_user(user, ctx) \
                else f"{_user_name(t, ctx)}.pop() of an item of another list"
            raise errors.unsupported(s, ctx, "PopFromItem",
                                     f"{where} while {_describe(others, sharing, ctx)} "
                                     "is read later")
    params = set(ctx.params)
    if returns_array:
        ctx.return_shares = {p for p in params if ret.id in sharing.seen(p)}
        # the very list (or an item of it: ``return rows[0]``, ``d['k']``), not a new
        # one holding its items (``list(l)``)
        ctx.return_aliases = {p for p in params if p in sharing.seen(ret.id)}
    for s in inplace:
        old, new = s.value.left.id, target_name(s)
        seen = sharing.seen(old) - {new}
        others = sharing.live_after(s, seen)
        if others:
            op = _AUG_OPS.get(type(s.value.op), "op")
            raise errors.unsupported(s, ctx, "InplaceAlias",
                                     f"{_user_name(old, ctx)} {op}= ... also changes "
                                     f"{_describe(others, sharing, ctx)}, read later")
        for p in sorted(seen & params):
            ctx.param_writes.setdefault(p, _line_of(s, ctx))
    from .pipeline import owner
    for s in calls:
        op = ctx.classified[id(s)][2]
        found = sharing.callee(op.func, s.value)
        if found and found[3]:
            for g in found[3]:      # (whose global: argcheck)
                if g not in ctx.global_writes:
                    ctx.global_owners.setdefault(g, owner(found[7][g]))
            _check_global_writes(s, op, found[3], ctx, varied)
        if found and found[4]:
            _check_global_reads(s, op, found[4], ctx, varied)
        if found and found[5]:
            _check_global_appends(s, op, found[0], found[5], ctx, varied)
        if found:
            for p in found[6]:      # changed in place: the caller's parameters too
                arg = found[0].get(p)
                if isinstance(arg, gast.Name) and ctx.var_kinds.get(arg.id, "A") != "S":
                    for q in sharing.seen(arg.id) & params:
                        ctx.param_changes.setdefault(q, s)
        if not found or not found[2]:
            continue
        mapping, writes = found[0], found[2]
        for p, (line, text) in sorted(writes.items()):
            arg = mapping.get(p)
            if not isinstance(arg, gast.Name) or ctx.var_kinds.get(arg.id, "A") == "S":
                continue
            for q in sharing.seen(arg.id) & params:     # (the caller's line: the call)
                ctx.param_changes.setdefault(q, s)
            if isinstance(writes[p], _Store) and (
                    sharing.live_after(s, {target_name(s)})
                    or (varied is not None and not op.operand_names() & varied)):
                continue    # its result is used: the callee, differentiated, refuses the
                #             store; or no argument carries a derivative
            others = sharing.live_after(s, sharing.seen(arg.id) - {target_name(s)})
            if others:
                raise errors.unsupported(
                    s.value, ctx, "InplaceArgument",
                    f"{op.what} updates its argument {p} in place on line {line}: "
                    f"'{text}' also changes {_describe(others, sharing, ctx)}, read later")
            for q in sorted(sharing.seen(arg.id) & params):
                ctx.param_writes.setdefault(q, (line, text))
    return sharing


def _check_global_writes(s, op, writes, ctx, varied):
    """A call of a function storing into a global array, list or dict (``G[i] = v``, by
    itself or a function it calls): the caller does not see the store (its derivative
    would be lost), refused where an argument of the call carries a derivative; the
    stores become the caller's own for its callers."""
    for g, where in writes.items():
        ctx.global_writes.setdefault(g, where)
    if varied is not None and not op.operand_names() & varied:
        return
    g, (line, text) = sorted(writes.items())[0]
    raise errors.unsupported(s.value, ctx, "CalleeGlobalWrite",
                             f"{op.what} stores into {g} on line {line}: '{text}'")


_LIST_CHANGERS = frozenset({"append", "extend", "insert", "pop", "remove", "clear"})


def _global_changed(s, ctx):
    """The global ``G`` that ``s`` changes by a method of a list (``G.append(v)``,
    ``r = G.pop()``), or None."""
    v = getattr(s, "value", None)
    if not isinstance(s, (gast.Expr, gast.Assign)) or not isinstance(v, gast.Call) \
            or not isinstance(v.func, gast.Attribute) or v.func.attr not in _LIST_CHANGERS \
            or not isinstance(v.func.value, gast.Name):
        return None
    g = v.func.value.id
    if g in ctx.params or g in ctx.local_names:
        return None
    try:
        obj = ctx.lookup(g)
    except (KeyError, ValueError, AttributeError):
        return None
    return g if isinstance(obj, list) else None


def _check_global_appends(s, op, mapping, appends, ctx, varied):
    """A call of a function appending to (or popping from) a list it is given, by itself
    or a function it calls: a list parameter of the caller given there is one the caller
    appends to for its own callers; a global list given there with an argument carrying
    a derivative is refused (``push(G, x)``: the caller has no derivative of the global,
    the items' derivatives would be lost)."""
    for p in sorted(appends):
        arg = mapping.get(p)
        if not isinstance(arg, gast.Name):
            continue
        if arg.id in ctx.params:
            ctx.param_appends.add(arg.id)
            ctx.param_changes.setdefault(arg.id, s)
        elif arg.id not in ctx.local_names and varied is not None \
                and (op.operand_names() - {arg.id}) & varied:
            raise errors.unsupported(s.value, ctx, "FillsGlobalList",
                                     f"{op.what} appends to or pops from the global "
                                     f"{arg.id} given for its parameter {p}")


def _global_reads(tree, ctx):
    """The global arrays, lists and dicts the function reads (name -> id of the object)."""
    bound, read = set(ctx.params), set()
    for n in walk(tree):
        if isinstance(n, gast.Name):
            (read if isinstance(n.ctx, gast.Load) else bound).add(n.id)
    out = {}
    for g in read - bound:
        try:
            obj = ctx.lookup(g)
        except (KeyError, ValueError, AttributeError):    # (a dotted name: not found)
            continue
        if isinstance(obj, (np.ndarray, list, dict)):
            out[g] = id(obj)
    return out


def _check_global_reads(s, op, reads, ctx, varied):
    """A call of a function reading a global the caller has stored a value carrying a
    derivative into (``G[0] = 2.0 * x; helper()`` with ``helper`` reading ``G``): the
    callee takes the global as a constant (the derivative through it would be lost),
    refused. The reads become the caller's own for its callers."""
    for g, ident in reads.items():
        ctx.global_reads.setdefault(g, ident)
    for g in sorted(ctx.global_stores):
        if varied is not None and g not in varied:
            continue
        try:
            obj = ctx.lookup(g)
        except (KeyError, ValueError, AttributeError):    # (a dotted name: not found)
            continue
        if id(obj) in reads.values():
            callee_name = next(n for n, i in reads.items() if i == id(obj))
            raise errors.unsupported(s.value, ctx, "CalleeGlobalRead",
                                     f"{op.what} reads {callee_name}, into which a value "
                                     f"carrying a derivative was stored on line "
                                     f"{_line_of(ctx.global_stores[g], ctx)[0]}")


class _Store(tuple):
    """(line, text) of a store ``p[i] = v`` into a parameter, which the caller sees: a
    call whose result is not used (``step(u)``) is refused where ``u`` is read later;
    one whose result is used is differentiated, and the callee refuses the store."""


def _line_of(s, ctx):
    """(line number, source text) of the statement ``s`` in the user's file."""
    line = getattr(s, "lineno", None) or ctx.firstlineno
    return line, linecache.getline(ctx.filename, line).strip()


def check_writes_under_views(sharing, stmts, ctx, varied):
    """``a[i] = v`` while a view of ``a`` (``b = a[::2]``, a row ``B[0]``) is read
    later: the store really happens, but the adjoints would not flow through the view.
    Refused where a derivative is involved."""
    if sharing is None:
        return
    for s in stmts:
        add_at = _add_at_base(s) is not None
        if not (isinstance(s, gast.Assign) and target_name(s) is None or add_at):
            continue
        base = sharing.base(s)
        if base is None:
            continue
        # an element of a list is replaced, not written into: only what holds the list
        # (b = [a, a], hist.append(a)) sees the change
        views = sharing.seen(base, store=sharing._list(base)) - sharing.same_array(base)
        if sharing._list(base):
            # ... except the list itself under the name a loop around the store
            # iterates by (_seq = as_sequence(xs)): the items it reads next are the new
            # ones, whose adjoints would go to the list's first value (a dict iterates
            # by a new list of its keys)
            around = sharing.sequences_around(s) if not sharing.maybe_dict(base) else {}
            # (xs[i] = v of the item the loop has just read, for i, _ in enumerate(xs):
            # the loop reads no item twice)
            where = s.value.args[1] if add_at else s.targets[0].slice
            keep = {q for q, index in around.items()
                    if not (isinstance(where, gast.Name) and where.id in index)}
            if not sharing.same(base) & sharing.call_aliases:
                views -= sharing.same(base) - keep
        else:
            keep = set()
        if not (views | {base} | loads(s.value)) & varied:
            continue
        others = sharing.live_after(s, views)
        if others & keep & sharing.same(base):
            raise errors.unsupported(s, ctx, "LoopWritesList",
                                     f"{_user_name(base, ctx)}[...] = ... in the loop over "
                                     f"{_user_name(base, ctx)}")
        if others:
            lists = sharing._list(base) or any(sharing._list(o) for o in others)
            write = f"np.add.at({_user_name(base, ctx)}, ...)" if add_at \
                else f"{_user_name(base, ctx)}[...] = ..."
            raise errors.unsupported(s, ctx, "WriteUnderAlias" if lists else "WriteUnderView",
                                     f"{write} changes {_describe(others, sharing, ctx)}, "
                                     "read later")


def check_appends_under_holders(sharing, tree, stmts, ctx, varied):
    """``lst.append(v)`` (``lst.extend(...)``, lowered to appends; a call of a function
    of yours appending to ``lst``, ``ctx.list_fills``) while another list holding that
    very list (``rows = [lst, b]``, ``rows.append(lst)``) is read later: the
    reverse sweep pops ``v``'s adjoint off ``lst``'s before the adjoints read through
    ``rows`` reach ``lst``, and ``v`` got none (forward mode follows the items as they
    are). Refused in reverse mode where a derivative is involved. The holder holds the
    list appended to where the hold comes first, or comes later in a loop around both
    that does not make the list anew each time (``row = []`` in the loop, then
    ``row.append(v)``, then ``rows.append(row)``: each row is complete when held)."""
    if sharing is None or ctx.mode != "reverse" or not sharing.held_at:
        return
    appends = [(s, s.value.func.value.id) for s in stmts
               if (_is_append(s, ctx) or _is_pop(s, ctx))
               and s.value.func.value.id not in sharing.tapes] + ctx.list_fills
    if not appends:
        return
    where = {}                  # id(statement) -> (position, enclosing loops outermost first)

    def visit(body, loops):
        for x in body:
            where[id(x)] = (len(where), loops)
            if isinstance(x, (gast.For, gast.While)):
                visit(x.body, loops + (id(x),))
                visit(x.orelse, loops)
            elif isinstance(x, gast.If):
                visit(x.body, loops)
                visit(x.orelse, loops)
    visit(tree.body, ())
    generated = _generated(ctx)
    for s, base in appends:
        if not (loads(s.value) | {base}) & varied or generated and _TAPE.fullmatch(base):
            continue
        same = sharing.same(base)
        for (holder, x), holds in sharing.held_at.items():
            if x not in same or (holder, x) in sharing.shallow or holder in same \
                    or generated and _TAPE.fullmatch(holder):
                # (the tape of a gradient differentiated again: the reverse sweep of
                # that gradient pops what it holds for the lists' structure, which
                # reverse over reverse follows)
                continue
            holds = [h for h in holds if _holds_itself(h, ctx)]
            readers = sharing.live_after(s, sharing.seen(holder)) if holds else set()
            if not readers or not any(_held_at_append(h, s, base, where, sharing)
                                      for h in holds):
                continue
            how = "grows" if _is_append(s, ctx) else "is popped from" if _is_pop(s, ctx) \
                else f"grows in {dotted_name(s.value.func) or 'the call'}(...)"
            raise errors.unsupported(s, ctx, "AppendUnderHolder",
                                     f"{_user_name(base, ctx)} {how} while "
                                     f"{_describe(readers, sharing, ctx)} holding it is "
                                     "read later")


def check_changes_under_returned(sharing, tree, stmts, ctx, varied):
    """``M = fill(L, x)`` of a function of yours that appends to (or pops from) its list
    argument and returns it: ``M`` and ``L`` are one list, whose adjoints the reverse
    sweep keeps apart and adds up where the call is reversed. An append or pop through
    either name (``M.append(v)``, a call filling it) while the other is read later
    would add the adjoint of the list as it is after the change to that of the list as
    it was before: refused in reverse mode where a derivative is involved.

    A function that returns its list argument (or an item of it) without changing it
    (``q = ident(p)``, ``r = first(rows)``): the derivative of what is appended through
    one name never reaches the other in either mode (the analysis follows values by
    name), so there the append is refused in forward mode too."""
    if sharing is None:
        return
    generated = _generated(ctx)
    pairs = []
    for s in stmts:
        found = ctx.classified.get(id(s)) if isinstance(s, gast.Assign) else None
        if not found or not isinstance(found[2], Op) or found[2].kind != "call":
            continue
        t = target_name(s)
        callee = sharing.callee(found[2].func, s.value) if t else None
        if not callee:
            continue
        mapping, shared, appends = callee[0], callee[1], callee[5]
        # (the lists a callee returns unchanged: not in code s2sad generated, whose
        # tapes and adjoint lists handed through its own calls it keeps apart itself)
        aliases = set() if generated else set(callee[8])
        for p in sorted(set(shared) & set(appends) | aliases):
            arg = mapping.get(p)
            changed = p in appends          # (forward mode follows such a list)
            if isinstance(arg, gast.Name) and arg.id != t \
                    and ctx.var_kinds.get(arg.id) in ("L", "LS") \
                    and (varied is None or {arg.id, t} & varied) \
                    and (ctx.mode == "reverse" or not changed):
                pairs.append((s, t, arg.id, changed))
    if not pairs:
        return
    changes = [(x, x.value.func.value.id) for x in stmts
               if _is_append(x, ctx) or _is_pop(x, ctx)] + ctx.list_fills
    for call_stmt, t, arg, changed in pairs:
        for a, b in ((t, arg), (arg, t)):
            for x, base in changes:
                if x is call_stmt or base != a:
                    continue
                readers = sharing.live_after(x, {b})
                if readers:
                    raise errors.unsupported(
                        x, ctx, "ChangeUnderReturned" if changed else "AppendUnderReturned",
                        f"{_user_name(base, ctx)} changes while "
                        f"{_describe(readers, sharing, ctx)}, the same list (the call on "
                        f"line {_line_of(call_stmt, ctx)[0]} returns its argument "
                        f"{_user_name(arg, ctx)}), is read later")


def _item_source(v):
    """The name of the list or dict the value ``v`` is an item (or a slice) of: ``X[i]``,
    ``X.get(k)``, ``X.setdefault(k, d)``; else None."""
    if isinstance(v, gast.Subscript):
        if isinstance(v.value, gast.Name):
            return v.value.id
    elif isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) \
            and v.func.attr in ("get", "setdefault") and isinstance(v.func.value, gast.Name):
        return v.func.value.id
    return None


def _named_by_user(n, ctx):
    """``n`` (a name ``_user_name`` gave) is a name of the user's, not a temporary."""
    return n in ctx.local_names and not (n.startswith("_") and n in ctx.namer.made)


def _is_pop(s, ctx):
    """``v = lst.pop()`` of a local list (``lst.pop()`` as a statement is one too:
    normalize assigns the item to a temporary)."""
    if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)
            and target_name(s) is not None):
        return False
    f = s.value.func
    return isinstance(f, gast.Attribute) and f.attr == "pop" \
        and isinstance(f.value, gast.Name) and f.value.id in ctx.local_names \
        and not s.value.args and not s.value.keywords


def _holds_itself(h, ctx):
    """The statement ``h`` may put a list itself into another (a display ``[lst, b]``,
    ``rows.append(lst)``, ``rows[i] = lst``, a call returning what holds it): not a read
    of an item of a list (``v = rows[i]``, ``v = rows.pop()``, which was there before)
    nor a new list of the items of another (``a + b``, ``list(xs)``, ``sorted(xs)``)."""
    if not isinstance(h, gast.Assign):
        return True                                 # rows.append(lst)
    v = h.value
    if isinstance(h.targets[0], gast.Subscript) or isinstance(v, (gast.List, gast.Tuple,
                                                                  gast.Dict)):
        return True
    if isinstance(v, (gast.BinOp, gast.Subscript)):
        return False
    if isinstance(v, gast.Call) and isinstance(v.func, gast.Name) \
            and _callee_of(v, ctx) in (builtins.list, builtins.tuple, builtins.sorted):
        return False
    return not (isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute)
                and v.func.attr == "pop")


def _held_at_append(h, s, base, where, sharing):
    """The list the statement ``s`` appends to, ``base``, may be the one the statement
    ``h`` made another list hold: ``h`` comes first, or later in a loop around both that
    does not make ``base`` a new list on the way (every definition of ``base`` in that
    loop makes a new list: it dominates ``s``, so each turn passes it after ``h``)."""
    if id(h) not in where or id(s) not in where:
        return True
    (ph, lh), (ps, ls) = where[id(h)], where[id(s)]
    if ph < ps:
        return True
    common = [loop for loop, other in zip(lh, ls) if loop == other]
    if not common:
        return False                    # no way from h back to s
    inner = common[-1]
    defs = sharing.defs.get(base, [])
    return not defs or not all(
        inner in where.get(id(d), (0, ()))[1] and _new_list(d.value, sharing.ctx)
        for d in defs)


def _new_list(v, ctx):
    """``v`` makes a new list: a display, ``list(...)`` or ``sorted(...)``."""
    if isinstance(v, gast.List):
        return True
    if not (isinstance(v, gast.Call) and isinstance(v.func, gast.Name)):
        return False
    try:
        fn = ctx.lookup(v.func.id) if v.func.id not in ctx.local_names else None
    except (KeyError, ValueError):
        return False
    return fn is builtins.list or fn is builtins.sorted


_AUG_OPS = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.Pow: "**",
            gast.MatMult: "@", gast.FloorDiv: "//", gast.Mod: "%", gast.BitAnd: "&",
            gast.BitOr: "|", gast.BitXor: "^", gast.LShift: "<<", gast.RShift: ">>"}


# lists, dicts and arrays held in attributes of objects (o.xs), changed by a method or
# another function called (o.add(v) appending to self.xs) and read again elsewhere
_FILLS = {"append": "appends to", "extend": "extends", "insert": "inserts into"}


_GLOBAL_NAMES = {}      # '@<id>' of a global object -> the name the user's code reads


def _reaches_objects(s, ctx, roots):
    """The statement ``s`` may reach an object other than a parameter (for
    ``check_held_fills``): it calls a function of yours, or reads an attribute or calls
    a method of a global (or closure) object, not of a module. ``roots``: a dict kept
    between calls (global name -> whether it holds an object)."""
    v = getattr(s, "value", None)
    if not isinstance(v, (gast.Call, gast.Attribute)):
        return False
    node = v.func if isinstance(v, gast.Call) else v
    path = dotted_name(node)
    if path is None:
        return True
    root = path.split(".")[0]
    if root in ctx.local_names or root in ctx.params:
        return isinstance(v, gast.Call) and root in ctx.local_names and "." not in path
    held = roots.get(root)
    if held is None:
        held = roots[root] = _global_root(root, ctx).startswith("@")
    if held:
        return True             # an attribute or a method of a global object
    known = ctx.classified.get(id(s))
    if known is not None and known[0] is s and isinstance(known[2], Op):
        return known[2].kind == "call"      # a function of yours (else a rule's)
    try:
        obj = ctx.lookup(path)
    except (KeyError, ValueError, AttributeError):
        return True
    try:
        ruled = obj in RULES or obj in NONDIFF
    except TypeError:           # unhashable
        ruled = False
    return inspect_function(obj) and not ruled


def _global_root(n, ctx):
    """'@<id of the object>' for a name ``n`` the function does not bind (a global, a
    closure variable, a global object the normal form gives a call as a constant):
    functions reading one object under different names see one path."""
    try:
        obj = ctx.lookup(n)
    except (KeyError, ValueError, AttributeError):
        return n
    if isinstance(obj, (int, float, complex, str, bytes, bool, type(None), type)) \
            or inspect.ismodule(obj) or callable(obj) and not _has_dict(obj):
        return n
    key = f"@{id(obj)}"
    shown = getattr(ctx, "shown_names", {}).get(n)
    if shown is not None:               # a constant of the normal form: the user's name
        _GLOBAL_NAMES[key] = shown
    elif n not in ctx.injected or key not in _GLOBAL_NAMES:
        _GLOBAL_NAMES[key] = n
    if len(_GLOBAL_NAMES) > 4096:
        _GLOBAL_NAMES.clear()
    return key


def _has_dict(obj):
    try:
        return bool(vars(obj))
    except TypeError:
        return False


def _root(path):
    """'o' of 'o.xs', 'o.layers[].cache', 'o'."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _overlap(a, b):
    """Paths ``a`` and ``b`` may name the same container (one holds the other)."""
    if len(a) > len(b):
        a, b = b, a
    return b == a or b.startswith(a) and b[len(a)] in ".["


def _own_exprs(s):
    """The expressions of the statement ``s`` itself (not of the statements nested in it,
    which ``walk_stmts`` gives on their own)."""
    if isinstance(s, (gast.If, gast.While)):
        return [s.test]
    if isinstance(s, gast.For):
        return [s.iter]
    return [s]


def _call_text(s, op, ctx):
    """``o.add(...)`` of a method the normal form calls as ``Acc_add(o, v)``, else
    ``push(...)``."""
    fn = op.func
    name = getattr(fn, "__name__", None) or op.what or "the function"
    parts = getattr(fn, "__qualname__", "").split(".")
    args = s.value.args
    if len(parts) > 1 and parts[-2] != "<locals>" and args \
            and isinstance(args[0], gast.Name) and getattr(ctx, "namer", None) is not None:
        first = args[0].id
        if first not in ctx.local_names and first not in ctx.params:
            return f"{_shown_path(_global_root(first, ctx), ctx)}.{name}(...)"
        return f"{_user_name(first, ctx)}.{name}(...)"
    return f"{name}(...)"


def check_held_fills(stmts, targets, ctx, kinds, edges, varied, ret=None):
    """Containers held in attributes of the objects the function is given (``o.xs`` of a
    parameter ``o``, ``self.xs``, what a method returning ``self.xs`` gives back): the
    changes of each (an append, an extend, an insert, a store; by the function or a
    user function it calls, at any depth, as ``returned`` tells) and its reads. Sets
    ``ctx.held_summary`` (the changes and reads by paths from the parameters, and the
    path of what the function returns) for its callers, and refuses, located at the
    change, a change storing a value carrying a derivative into a container that is read
    again: the derivative code keeps no adjoint for what an object's attribute holds (a
    silent zero gradient). A container only written (a log) is no problem. ``ret``: the
    name the function returns, if a name."""
    from . import pipeline
    # the parameters that may hold objects (not numbers or arrays of known dimensions)
    tracked = {p for p in ctx.params if not re.fullmatch(r"S|A\d+", str(kinds.get(p)))}
    roots = {}
    ctx.held_logs = set()
    if not tracked and not any(_reaches_objects(s, ctx, roots) for s in stmts):
        ctx.held_summary = ({}, frozenset(), None)     # (nothing to follow: most functions)
        return
    paths = {p: p for p in tracked}
    local = ctx.local_names
    summaries = {}

    def path_of(n):
        return paths.get(n)

    def summary(s):
        if id(s) not in summaries:
            known = ctx.classified.get(id(s))
            op = known[2] if known is not None and known[0] is s else None
            found = None
            if op is not None and op.kind == "call" and inspect_function(op.func):
                result = pipeline.returned(op, kinds, ctx, s.value)
                if result is not None and len(result) > 9:
                    mapping = pipeline.bind_call(op, kinds, ctx, s.value)[0]
                    found = (op, mapping, result[9])
            summaries[id(s)] = found
        return summaries[id(s)]

    def callee_path(p, mapping):
        """The caller's path for the callee's path ``p``."""
        root = _root(p)
        atom = mapping.get(root)
        if atom is None:
            return p if root.startswith("@") else None     # a global's
        if isinstance(atom, gast.Name):
            mine = path_of(atom.id)
            if mine is None and atom.id not in local and atom.id not in ctx.params:
                mine = _global_root(atom.id, ctx)       # a global object passed
            return None if mine is None else mine + p[len(root):]
        return None

    # the paths of the names bound to parts of the objects (loop-carried SSA copies
    # come before their sources: to a fixed point)
    changed = True
    while changed:
        changed = False
        for s, t in zip(stmts, targets):
            if t is None or t in paths:
                continue
            v = s.value
            found = None
            if isinstance(v, gast.Name):
                found = path_of(v.id)
            elif isinstance(v, gast.Attribute):
                dotted = dotted_name(v)
                if dotted:
                    root, _, rest = dotted.partition(".")
                    base = path_of(root)
                    if base is None and root not in local and root not in ctx.params:
                        base = _global_root(root, ctx)
                    found = None if base is None else f"{base}.{rest}"
            elif isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name):
                base = path_of(v.value.id)
                found = None if base is None else base + "[]"
            elif isinstance(v, gast.Call) and len(v.args) == 1 \
                    and isinstance(v.args[0], gast.Name) and v.args[0].id in paths \
                    and isinstance(v.func, gast.Name) and _is_as_sequence(v.func.id, ctx):
                found = paths[v.args[0].id]     # for l in o.layers: _seq = as_sequence(_t1)
            elif isinstance(v, gast.Call):
                known = summary(s)
                if known is not None and known[2][2] is not None:
                    found = callee_path(known[2][2], known[1])
            if found is not None:
                paths[t] = found
                changed = True
        for s in stmts:
            if isinstance(s, gast.For) and isinstance(s.target, gast.Name) \
                    and isinstance(s.iter, gast.Name) and s.iter.id in paths \
                    and s.target.id not in paths:
                paths[s.target.id] = paths[s.iter.id] + "[]"
                changed = True
    fills = []      # (statement, path, verb, the names the value stored reads, text)
    reads = []      # (path, statement)

    def read(names, s):
        for n in names:
            if n in paths:
                reads.append((paths[n], s))

    for s, t in zip(stmts, targets):
        v = getattr(s, "value", None)
        if isinstance(s, gast.Expr) and isinstance(v, gast.Call) \
                and isinstance(v.func, gast.Attribute) and isinstance(v.func.value, gast.Name) \
                and v.func.value.id in paths and v.func.attr in _FILLS:
            n = v.func.value.id
            fills.append((s, paths[n], _FILLS[v.func.attr], loads(v) - {n},
                          f"{_held_name(n, paths, ctx)}.{v.func.attr}(...)"))
            read(loads(v) - {n}, s)
        elif isinstance(s, gast.Assign) and t is None \
                and isinstance(s.targets[0], gast.Subscript) \
                and isinstance(s.targets[0].value, gast.Name) \
                and s.targets[0].value.id in paths:
            n = s.targets[0].value.id
            fills.append((s, paths[n], "stores into", loads(s.value),
                          f"{_held_name(n, paths, ctx)}[...] = ..."))
            read(loads(s.value) | loads(s.targets[0].slice), s)
        elif t is not None and t in paths and isinstance(v, (gast.Name, gast.Attribute,
                                                           gast.Subscript)):
            continue            # a name bound to a part of an object: its uses read it
        elif t is not None and isinstance(v, gast.Call) and summary(s) is not None:
            op, mapping, (c_fills, c_reads, _) = summary(s)
            text = _call_text(s, op, ctx)
            for p, (verb, deps) in c_fills.items():
                mine = callee_path(p, mapping)
                if mine is not None:
                    names = set()
                    for q in deps:
                        if q in mapping:
                            names |= loads(mapping[q])
                    fills.append((s, mine, verb, names, text))
            for p in c_reads:
                mine = callee_path(p, mapping)
                if mine is not None:
                    reads.append((mine, s))
            # a part of an object given for a parameter the callee does not read (a
            # bare object it only calls methods of) is read as its summary says
        else:
            for e in _own_exprs(s):
                read(loads(e), s)
    # for the callers: paths from the parameters (or globals), the parameters the values
    # stored may carry the derivatives of
    from .dataflow import reverse_edges
    back = reverse_edges(edges)
    params = set(ctx.params)
    out_fills = {}
    for _s, p, verb, names, _ in fills:
        if not (_root(p) in params or _root(p).startswith("@")):
            continue
        deps = closure(names, back) & params
        old = out_fills.get(p)
        out_fills[p] = (old[0] if old else verb, frozenset(deps | (old[1] if old else set())))
    out_reads = frozenset(p for p, _ in reads
                          if _root(p) in params or _root(p).startswith("@"))
    returned = paths.get(ret) if ret is not None else None
    if returned is not None and not (_root(returned) in params
                                     or _root(returned).startswith("@")):
        returned = None
    ctx.held_summary = (out_fills, out_reads, returned)
    # the lists held in attributes that the function only appends to (logs): the names
    # bound to them, whose appends the reverse sweep keeps (Reverse.append)
    logs = {p for _s, p, verb, _n, _t in fills if verb == _FILLS["append"]
            and "." in p[len(_root(p)):]
            and not any(q != _root(q) and _overlap(p, q) for q, _r in reads)}
    if logs:
        bound = {p for _s, p, verb, _n, _t in fills if verb != _FILLS["append"]}
        ctx.held_logs = {n for n, p in paths.items() if p in logs - bound}
    for s, p, verb, names, text in fills:
        if "." not in p[len(_root(p)):] or not names & varied:
            continue        # a list given by name, or an item of one: checked elsewhere
        found = [r for q, r in reads if q != _root(q) and _overlap(p, q)]
        if found:
            line = getattr(s, "lineno", 0)
            later = [r for r in found if r is not s and getattr(r, "lineno", 0) > line]
            r = (later or [r for r in found if r is not s] or found)[0]
            where = "it reads it too" if r is s else \
                f"line {getattr(r, 'lineno', '?')} reads it again"
            raise errors.unsupported(s, ctx, "HeldFill",
                                     f"{text} {verb} {_shown_path(p, ctx)}: {where}")


def _held_name(n, paths, ctx):
    """The user's name for ``n``, a name bound to a part of an object: a temporary of
    the normal form (``_t1`` of ``self.buf[0] = v``) is shown as the path it holds."""
    user = _user_name(n, ctx) if getattr(ctx, "namer", None) else n
    if user.startswith("_") and n in paths:
        return _shown_path(paths[n], ctx).replace("[]", "[i]")
    return user


def _shown_path(p, ctx):
    root = _root(p)
    if root.startswith("@"):
        return _GLOBAL_NAMES.get(root, "a global object") + p[len(root):]
    return _user_name(root, ctx) + p[len(root):] if getattr(ctx, "namer", None) else p


def _is_as_sequence(n, ctx):
    try:
        return ctx.lookup(n) is runtime.as_sequence
    except (KeyError, ValueError, AttributeError):
        return False


def inspect_function(fn):
    return inspect.isfunction(fn)
