"""Stage 2: lower the function to three-address form.

Takes: the parsed ``FunctionDef``. Gives a function whose body holds only

* ``name = simple`` where ``simple`` is one operation on atoms (names and
  constants): ``a + b``, ``-a``, ``f(a, b, k=c)``, ``a[i]``, ``a.attr``,
  ``a < b``, ``(a, b)``, or an atom (a copy);
* ``if atom:`` with the test evaluated into a fresh ``_c`` name just before;
* ``for name in <expr>:`` and ``while <expr>:`` (loop tests and iterables are
  kept whole: they carry no derivative);
* expression statements (calls for their side effects), ``assert``, ``raise``,
  stores into array elements (``a[i] = atom``, checked later);
* a single ``return atom`` at the very end.

Augmented assignments are expanded, nested calls are flattened into
temporaries ``_t1, _t2, ...`` in Python's evaluation order, ``and``/``or`` and
``a if c else b`` become ``if`` statements (so short-circuiting is kept), tuple
assignments go through temporaries so ``a, b = b, a + b`` keeps its meaning,
and returns in tail position become assignments to one result variable.

Example::

    def f(x1, x2):                     def f(x1, x2):
        return math.log(x1) + x1 * x2      _t1 = math.log(x1)
                                   -->     _t2 = x1 * x2
                                           _t3 = _t1 + _t2
                                           return _t3
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import inspect
import itertools
import keyword
import re
import textwrap
import types

import gast
import numpy as np

from . import anno, errors, runtime
from .gastutil import (
    assign,
    binop,
    blocks,
    call,
    clone,
    const,
    contains,
    copy_location,
    dotted_name,
    is_atom,
    name,
    statement_children,
    statements,
    walk,
)
from .kinds import ROW_ITEMS, array_ndim

_SIMPLE_STMTS = (gast.Assert, gast.Raise, gast.Pass)


_RESIZING = {"append", "extend", "insert", "pop", "remove", "clear"}

# list methods lowered to appends and item stores (Normalizer.list_method): how many
# arguments each takes
_LIST_METHODS = {"extend": 1, "insert": 2, "reverse": 0}


def _int_constant(e):
    """The int ``e`` is a literal of (``2``, ``-1``), else None."""
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        inner = _int_constant(e.operand)
        return None if inner is None else -inner
    if isinstance(e, gast.Constant) and type(e.value) is int:
        return e.value
    return None


def _iterated_views(it):
    """Dict name -> ``items`` or ``values`` for the views ``for ... in it`` iterates
    over (``d.items()``, in ``enumerate``, ``zip`` or ``reversed`` too)."""
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) \
            and it.func.attr in ("items", "values") and isinstance(it.func.value, gast.Name) \
            and not it.args:
        return {it.func.value.id: it.func.attr}
    out = {}
    if _is_call_of(it, "enumerate") or _is_call_of(it, "zip") or _is_call_of(it, "reversed"):
        for a in it.args:
            out.update(_iterated_views(a))
    return out


_DICT_VIEWS = ("values", "items")     # (keys carry no derivative)
_DICT_CHANGES = {"update", "setdefault", "pop", "popitem", "clear"}


def _view_of(v):
    """The dict name ``X`` of ``v`` = ``X.values()`` or ``X.items()``."""
    if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) \
            and v.func.attr in _DICT_VIEWS and isinstance(v.func.value, gast.Name) \
            and not v.args and not v.keywords:
        return v.func.value.id
    return None


def _dicts_changed(nodes):
    """The names ``X`` of ``X[k] = v``, ``X[k] op= v`` and ``X.update(...)`` (...) in
    ``nodes`` and everything under them."""
    out = set()
    for node in nodes:
        for n in walk(node):
            targets = n.targets if isinstance(n, gast.Assign) else \
                [n.target] if isinstance(n, gast.AugAssign) else []
            for t in targets:
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    out.add(t.value.id)
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) \
                    and n.func.attr in _DICT_CHANGES and isinstance(n.func.value, gast.Name):
                out.add(n.func.value.id)
    return out


def _check_stale_views(body, ctx):
    """``vals = d.values()`` (``d.items()``) read after a store into ``d``:
    CPython's view shows the dict as it is when read, but the derivative code gives the
    adjoints back to the dict as it was where the view was made. Refused at the read
    (in source order; a read in a loop that also stores into ``d`` too)."""
    views = {}          # view name -> [dict name, changed since]

    def reads(node, loops):
        for n in walk(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in views:
                d, changed = views[n.id]
                if changed or any(d in changes for changes in loops):
                    raise errors.unsupported(
                        n, ctx, "StaleDictView",
                        f"{n.id}, a view of {d}, read after a store into {d}")

    def stores(node):
        for d in _dicts_changed([node]):
            for entry in views.values():
                if entry[0] == d:
                    entry[1] = True

    def block(stmts, loops):
        for s in stmts:
            if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                continue
            if isinstance(s, (gast.For, gast.AsyncFor)):
                reads(s.iter, loops)
                inner = loops + [_dicts_changed(s.body + s.orelse)]
                block(s.body, inner)
                block(s.orelse, loops)
                continue
            if isinstance(s, gast.While):
                inner = loops + [_dicts_changed(s.body + s.orelse)]
                reads(s.test, inner)
                block(s.body, inner)
                block(s.orelse, loops)
                continue
            if isinstance(s, gast.If):
                reads(s.test, loops)
                block(s.body, loops)
                block(s.orelse, loops)
                continue
            if isinstance(s, (gast.With, gast.AsyncWith, gast.Try)):
                for field in ("body", "handlers", "orelse", "finalbody"):
                    block([x for x in getattr(s, field, []) if isinstance(x, gast.stmt)],
                          loops)
                continue
            reads(s, loops)
            stores(s)
            if isinstance(s, gast.Assign):
                for t in s.targets:
                    if isinstance(t, gast.Name):
                        d = _view_of(s.value)
                        if d is not None:
                            views[t.id] = [d, False]
                        else:
                            views.pop(t.id, None)
            elif isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name):
                views.pop(s.target.id, None)

    block(body, [])


def _iterated_names(it):
    """The names whose sequences ``for ... in it`` iterates over as they change: all
    names in ``it`` except the items of a tuple or list display (``for t in (x, y)``
    iterates over a new tuple: ``y += v`` in the body resizes nothing)."""
    if isinstance(it, gast.Name):
        return {it.id}
    if isinstance(it, (gast.Tuple, gast.List)):
        return set()
    names = set()
    for child in gast.iter_child_nodes(it):
        names |= _iterated_names(child)
    return names


# what a call reaches directly (unpartial has nothing to do: no partial, no bound object)
_NO_RECEIVERS = (types.FunctionType, types.BuiltinFunctionType, type, np.ufunc)

_EXPR_METHODS = {}      # expression class -> the Normalizer.expr_* method for it (simple)


class Normalizer:
    def __init__(self, ctx):
        self.ctx = ctx
        self.namer = ctx.namer
        self.result = None  # name of the result variable when returns are lowered
        self.nested = {}    # functions defined inside the function: inlined where called
        self.inlining = []  # nested functions being inlined (to catch recursion)
        self.walrus = False  # the function has a ':=' (check_walrus)
        self.tree = None     # the function (stmt_Delete, list_written_in)
        self.dict_names = frozenset()   # names that only ever hold dicts (_dict_names)
        self.bound_iterators = None     # ids of calls bound to a name (reversed(...))
        self.bindings = None            # name -> (values, stores): see bound
        self.read_later = None          # ids of values bound or given on (_read_once)
        self.checked_targets = set()    # ids of loop targets whose items' count is known
        self.plain_reads = {}           # name -> _only_unpacked
        self.path = ()                  # the blocks holding the statement normalized
        self.blocks_made = 0            # (a number per block: path)
        self.nested_path = {}           # nested function -> path of its def

    # -- statements -------------------------------------------------------
    def block(self, stmts, loop=False):
        out = []
        saved = self.path
        self.blocks_made += 1
        self.path = saved + ((self.blocks_made, loop),)
        try:
            for s in stmts:
                self.stmt(s, out)
        finally:
            self.path = saved
        return out

    def stmt(self, s, out):
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise errors.unsupported(s, self.ctx, type(s).__name__)
        if self.walrus:
            self.check_walrus(s)
        method(s, out)

    def check_walrus(self, s):
        """``(y := e)`` becomes the statement ``y = e`` before the one holding it, and
        later reads of ``y`` read the new value, as in Python. A read of ``y`` earlier
        in the same statement (``y * (y := 2.0)``) would read the new value too: refused.
        So is a ``:=`` in the test of a ``while`` with an ``else`` (desugar moves the
        others into the body)."""
        if isinstance(s, gast.While):
            parts = [s.test]
        elif isinstance(s, (gast.If, gast.For)):
            parts = [s.test if isinstance(s, gast.If) else s.iter]
        elif isinstance(s, (gast.FunctionDef, gast.Pass, gast.Break, gast.Continue)):
            return
        else:
            parts = [s]
        for part in parts:
            found = [n for n in walk(part) if isinstance(n, gast.NamedExpr)]
            if not found:
                continue
            if isinstance(s, gast.While):
                raise errors.unsupported(found[0], self.ctx, "NamedExpr", "in the test of a while with an else clause")
            for w in found:
                at = (w.lineno, w.col_offset)
                for n in walk(part):
                    if isinstance(n, gast.Name) and n.id == w.target.id \
                            and isinstance(n.ctx, gast.Load) \
                            and (n.lineno, n.col_offset) < at:
                        raise errors.unsupported(
                            w, self.ctx, "NamedExpr",
                            f"{n.id} is read before the := assigns it in the same statement")

    def stmt_Pass(self, s, out):
        pass

    def generated(self):
        """The function being transformed is code s2sad generated (``grad(grad(f))``)."""
        from .codegen import cache_dir
        return self.ctx.filename.startswith(cache_dir())

    def user_call(self, call):
        """``call`` calls a function of yours (``activity.is_user_function``); not
        ``index_add(a, i, g)`` of a reverse sweep, a statement both passes know (as an
        assignment of its None to a temporary, ``a`` lost its derivative's edge from
        ``g``: the hessian missed every term accumulated by an index_add)."""
        from .activity import callee, is_user_function
        fn = callee(call, self.ctx)
        return fn is not None and fn is not runtime.index_add and is_user_function(fn)

    def stmt_Delete(self, s, out):
        """``del t1, b2`` only frees memory early, and the gradient frees its own: it
        is dropped. In your code, only ``del`` of names that nothing reads afterwards
        (``_deleted_read``); ``del xs[i]`` changes a list: unsupported."""
        if not all(isinstance(t, gast.Name) for t in s.targets):
            raise errors.unsupported(s, self.ctx, "DeleteItem")
        if not self.generated():
            for t in s.targets:
                read = _deleted_read(self.tree, s, t.id)
                if read is not None:
                    raise errors.unsupported(
                        s, self.ctx, "Delete",
                        f"{t.id} may be read after it (line {read.lineno})")

    def stmt_Expr(self, s, out):
        if isinstance(s.value, gast.Constant):   # docstring or bare constant
            return
        if isinstance(s.value, gast.Call) and (self.dict_update(s.value, s, out)
                                               or self.list_method(s.value, s, out)):
            return
        value = self.simple(s.value, out)
        add_at = False
        if isinstance(value, gast.Call) and len(value.args) == 3 and not value.keywords \
                and self.add_at(value.func):
            # np.add.at(a, i, v): a[i] += v in place, repeated indices accumulating: the
            # index_add of the reverse sweep, which the passes differentiate (aliasing
            # judges the user's as it judges a store a[i] = v: into a view, or while a
            # view of a is read later, refused)
            value.func = name(self.ctx.inject("index_add", runtime.index_add))
            add_at = not self.generated()
        if isinstance(value, gast.Call) and ((value.keywords and self.generated())
                                             or self.user_call(value) or _bare_pop(value)):
            # ``push(lst, v)``, a call of your function for what it does to its
            # arguments (a list it appends to), or ``fwd_g(u, _tape=_tape)`` (the
            # forward half of a split callee takes the tape by keyword) in a gradient
            # s2sad made: as an assignment whose value is unused it is a call of a
            # user function, which the passes differentiate (forward mode takes one
            # filling a list; reverse mode refuses it, located).
            out.append(assign(self.ctx.namer.temp(), value, like=s))
            return
        out.append(copy_location(gast.Expr(value=value), s))
        if add_at:
            anno.set_(out[-1], anno.Key.ADD_AT)

    def list_method(self, c, s, out):
        """``lst.extend(seq)``, ``lst.insert(i, v)`` and ``lst.reverse()`` of a name surely
        holding a list (``surely_list``: a local every assignment of which makes a list;
        ``extend`` of a list argument too) become the appends and item stores the passes
        differentiate, changing the same list in place (another name bound to it sees
        the change, as in Python; ``aliasing`` judges them as it judges those)::

            lst.extend([a, b])    ->  lst.append(a); lst.append(b)
            lst.extend(f(v) for v in xs)  ->  for v in xs: lst.append(f(v))
            lst.extend(seq)       ->  _t = list(seq)
                                      for _i in range(len(_t)): lst.append(_t[_i])
            lst.insert(i, v)      ->  _n = len(lst); _k = insert_index(_n, i)
                                      lst.append(v)
                                      for _j in range(_n, _k, -1): lst[_j] = lst[_j - 1]
                                      lst[_k] = v
            lst.reverse()         ->  _n = len(lst); _last = _n - 1
                                      for _i in range(_n // 2):
                                          _j = _last - _i
                                          _t = lst[_i]; lst[_i] = lst[_j]; lst[_j] = _t

        The items of a list or tuple display, ``i`` and ``v`` are evaluated before the
        list changes (``lst.extend([x, lst[-1]])`` reads the last item before the
        append), a generator's items as the list grows, as CPython does. Anything else
        (a name that may hold another object with such a method) is left as a call."""
        f = c.func
        if not (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name)) \
                or _LIST_METHODS.get(f.attr) != len(c.args) or c.keywords \
                or any(isinstance(a, gast.Starred) for a in c.args):
            return False
        lst = f.value.id
        if lst in self.nested or self.tree is None or not self.surely_list(lst) \
                or lst in self.ctx.params and f.attr != "extend":
            # (an argument's items are not stored into: the caller's list, and any
            # other argument bound to it, would not see the change; appends are what
            # lst.append(v) of an argument does)
            return False
        stmts = getattr(self, "lower_" + f.attr)(lst, c.args, s, out)
        for stmt in stmts:
            for n in walk(stmt):
                if isinstance(n, (gast.stmt, gast.expr)) and not hasattr(n, "lineno"):
                    copy_location(n, s)
            self.stmt(stmt, out)
        return True

    def _append(self, lst, item):
        return gast.Expr(value=call(gast.Attribute(value=name(lst), attr="append",
                                                   ctx=gast.Load()), item))

    def _item(self, lst, index, store=False):
        return gast.Subscript(value=name(lst), slice=index,
                              ctx=gast.Store() if store else gast.Load())

    def _length(self, lst, out, s):
        n = self.namer.fresh("_n")
        self.namer.temps.add(n)
        out.append(assign(n, call(self.builtin("len"), name(lst)), like=s))
        return n

    def lower_extend(self, lst, args, s, out):
        seq = args[0]
        if isinstance(seq, (gast.List, gast.Tuple)) \
                and not any(isinstance(e, gast.Starred) for e in seq.elts):
            return [self._append(lst, a) for a in [self.atom(e, out) for e in seq.elts]]
        if isinstance(seq, gast.GeneratorExp):
            self.comprehension(seq, [seq.elt], lambda elt: self._append(lst, elt), out)
            return []
        if isinstance(seq, gast.ListComp):
            items = self.atom(seq, out).id           # a new list
        else:
            # a copy (lst.extend(lst) doubles the list), normalized as list(seq) is
            # anywhere (list(zip(a, b)) a loop)
            items = self.namer.temp()
            value = self.simple(copy_location(call(self.builtin("list"), seq), s), out)
            out.append(assign(items, value, like=s))
        i = self.namer.fresh("_i")
        loop = gast.For(target=name(i, store=True),
                        iter=call(self.builtin("range"), call(self.builtin("len"), name(items))),
                        body=[self._append(lst, self._item(items, name(i)))], orelse=[],
                        type_comment=None)
        return [loop]

    def lower_insert(self, lst, args, s, out):
        index, value = self.atom(args[0], out), self.atom(args[1], out)
        n = self._length(lst, out, s)
        if isinstance(index, gast.Constant) and index.value == 0 \
                and type(index.value) is int:
            k = index
        else:
            k = name(self.namer.fresh("_k"))
            self.namer.temps.add(k.id)
            at = call(name(self.ctx.inject("insert_index", runtime.insert_index)), name(n), index)
            out.append(assign(k.id, at, like=s))
        j = self.namer.fresh("_j")
        before = gast.BinOp(left=name(j), op=gast.Sub(), right=const(1))
        shift = gast.For(target=name(j, store=True),
                         iter=call(self.builtin("range"), name(n), clone(k), const(-1)),
                         body=[assign(self._item(lst, name(j), store=True),
                                      self._item(lst, before), like=s)],
                         orelse=[], type_comment=None)
        return [self._append(lst, value), shift,
                assign(self._item(lst, clone(k), store=True), clone(value), like=s)]

    def lower_reverse(self, lst, args, s, out):
        n = self._length(lst, out, s)
        last = self.namer.fresh("_last")
        self.namer.temps.add(last)
        out.append(assign(last, gast.BinOp(left=name(n), op=gast.Sub(), right=const(1)),
                          like=s))
        i = self.namer.fresh("_i")
        j = self.namer.fresh("_j")
        t = self.namer.temp()
        half = gast.BinOp(left=name(n), op=gast.FloorDiv(), right=const(2))
        mirror = gast.BinOp(left=name(last), op=gast.Sub(), right=name(i))
        body = [assign(j, mirror, like=s),
                assign(t, self._item(lst, name(i)), like=s),
                assign(self._item(lst, name(i), store=True), self._item(lst, name(j)), like=s),
                assign(self._item(lst, name(j), store=True), name(t), like=s)]
        return [gast.For(target=name(i, store=True), iter=call(self.builtin("range"), half),
                         body=body, orelse=[], type_comment=None)]

    def add_at(self, func):
        """``func`` names ``np.add.at``."""
        obj = _global(func, self.ctx)
        return getattr(obj, "__self__", None) is np.add and getattr(obj, "__name__", "") == "at"

    def stmt_Assert(self, s, out):
        self.check_expr(s)
        out.append(s)

    def stmt_Raise(self, s, out):
        self.check_expr(s)
        out.append(s)

    def stmt_AnnAssign(self, s, out):
        if s.value is None:
            return
        self.stmt_Assign(assign(s.target, s.value, like=s), out)

    def stmt_AugAssign(self, s, out):
        target = s.target
        if isinstance(target, gast.Name):
            load = name(target.id)
            value = copy_location(gast.BinOp(left=load, op=s.op, right=s.value), s)
            self.stmt_Assign(assign(target.id, value, like=s), out)
            # an ndarray (or list) is updated in place: activity refuses it where another
            # name may share its memory (a view, a copy, a list holding it)
            anno.set_(out[-1], anno.Key.INPLACE)
        elif isinstance(target, gast.Subscript):
            read = gast.Subscript(value=target.value, slice=target.slice, ctx=gast.Load())
            value = copy_location(gast.BinOp(left=read, op=s.op, right=s.value), s)
            self.stmt_Assign(assign(target, value, like=s), out)
            # an array held by a list is updated in place: activity refuses it
            anno.set_(out[-1], anno.Key.INPLACE_ITEM)
        else:
            raise errors.unsupported(s, self.ctx, "AttributeStore")

    def stmt_FunctionDef(self, s, out):
        if s.decorator_list:
            raise errors.unsupported(s, self.ctx, "FunctionDef", "with decorators")
        if s.args.kwarg:
            raise errors.unsupported(s.args.kwarg, self.ctx, "KwArgs", f"**{s.args.kwarg.id}")
        # Python evaluates the defaults here, where the function is defined (``def
        # term(v, k=k)`` in a loop keeps that iteration's k): each goes to a temporary
        # the inlined calls read (the default k was renamed with the parameter k)
        s.args.defaults = [self._default(d, s, out) for d in s.args.defaults]
        s.args.kw_defaults = [None if d is None else self._default(d, s, out)
                              for d in s.args.kw_defaults]
        self.nested[s.name] = s
        self.nested_path[s.name] = (self.path, s)

    def _default(self, d, s, out):
        if isinstance(d, gast.Constant):
            return d
        t = self.namer.temp(block_local=False)
        out.append(assign(t, self.atom(d, out), like=s))
        return name(t)

    def stmt_Assign(self, s, out):
        targets = s.targets
        if isinstance(s.value, gast.Lambda) and len(targets) == 1 \
                and isinstance(targets[0], gast.Name):      # f = lambda ...: a nested function
            lam = s.value
            ret = copy_location(gast.Return(value=lam.body), lam.body)
            fdef = gast.FunctionDef(name=targets[0].id, args=lam.args, body=[ret],
                                    decorator_list=[], returns=None, type_comment=None,
                                    type_params=[])
            self.stmt_FunctionDef(copy_location(fdef, s), out)
            return
        if len(targets) > 1:   # a = b = expr
            first = targets[0]
            if isinstance(first, gast.Name) and not any(
                    isinstance(n, gast.Name) and n.id == first.id
                    for t in targets[1:] for n in gast.walk(t)):
                # a = expr; b = a: b is a copy of a, as the user wrote it (the aliasing
                # checks see a second name for a list or array written in place)
                self.stmt_Assign(assign(first, s.value, like=s), out)
                for t in targets[1:]:
                    self.stmt_Assign(assign(t, copy_location(name(first.id), first),
                                            like=s), out)
                return
            atom = self.atom(s.value, out)
            for t in targets:
                self.stmt_Assign(assign(t, atom, like=s), out)
            return
        target = targets[0]
        if isinstance(target, gast.Name):
            value = self.simple(s.value, out)
            out.append(assign(target.id, value, like=s))
        elif isinstance(target, (gast.Tuple, gast.List)):
            self.unpack(target, s.value, s, out)
        elif isinstance(target, gast.Subscript):
            base = target.value
            if not isinstance(base, gast.Name):
                base = self.atom(base, out)
            index = self.index(target.slice, out)
            value = self.atom(s.value, out)
            store = gast.Subscript(value=name(base.id), slice=index, ctx=gast.Store())
            out.append(assign(copy_location(store, target), value, like=s))
        elif isinstance(target, gast.Starred):
            raise errors.unsupported(target, self.ctx, "Starred")
        else:
            raise errors.unsupported(target, self.ctx, "AttributeStore")

    def unpack(self, target, value, s, out):
        elts = target.elts
        stars = [i for i, e in enumerate(elts) if isinstance(e, gast.Starred)]
        if stars:
            self.unpack_starred(elts, stars[0], value, s, out)
            return
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(elts):
            # evaluate every right-hand side before any target is written
            written = {n.id for t in elts for n in gast.walk(t) if isinstance(n, gast.Name)}
            temps = []
            for v in value.elts:
                a = self.atom(v, out)
                if isinstance(a, gast.Name) and a.id in written:
                    t = self.namer.temp()
                    out.append(assign(t, a, like=v))
                    a = name(t)
                temps.append(a)
            for t, a in zip(elts, temps):
                self.stmt_Assign(assign(t, a, like=s), out)
            return
        # the items are read by position, which takes no count: unless the source shows
        # it (length_of) or the loop around checked it (stmt_For), as_sequence checks
        # that there are as many as names, raising Python's ValueError where the line
        # runs (a display of another length too: it may sit in a branch never taken)
        length = None if anno.get(value, anno.Key.UNPACK_CHECKED) \
            or self.length_of(value) == len(elts) else len(elts)
        if self._maybe_dict(value):         # k1, k2 = d: its keys, as Python takes them
            value = copy_location(gast.Call(func=gast.Attribute(
                value=value, attr="keys", ctx=gast.Load()), args=[], keywords=[]), value)
        if _not_indexable(value, self) or isinstance(value, (gast.Call, gast.Name)) \
                and not self._maybe_dict(value) and not _surely_not_dict(value, self, set()):
            # a, b = d.values(), or zip(...), reversed(...): items in a list (the view or
            # iterator cannot be indexed); a value that may be a dict the source does not
            # show (k1, k2 = make(x)): as_sequence refuses it when the code runs
            if isinstance(value, gast.Call) and self._builtin_call(value, ("zip", "enumerate")):
                value = copy_location(gast.Call(func=self.builtin("list"), args=[value],
                                                keywords=[]), value)
            whole = self.sequence(value, out, length=length)
        elif length is not None:
            whole = self.sequence(value, out, length=length)
        else:
            whole = self.atom(value, out)
        for i, t in enumerate(elts):
            item = gast.Subscript(value=whole, slice=const(i), ctx=gast.Load())
            self.stmt_Assign(assign(t, copy_location(item, s), like=s), out)

    def unpack_starred(self, elts, star, value, s, out):
        """``a, *rest, b = value``: ``a = v[0]``, ``rest = list(v[1:-1])``, ``b = v[-1]``
        of ``v = list(value)`` (any iterable, as Python takes it; ``rest`` is a list)."""
        items = name(self.namer.temp())
        listed = gast.Call(func=name(self.ctx.inject("list", builtins.list)),
                           args=[self.atom(value, out)], keywords=[])
        out.append(assign(items.id, copy_location(listed, s), like=s))
        after = len(elts) - star - 1
        for i, t in enumerate(elts):
            if i < star:
                index = const(i)
            elif i > star:
                index = const(i - len(elts))
            else:
                upper = const(-after) if after else None
                index = gast.Slice(lower=const(star), upper=upper, step=None)
            item = copy_location(gast.Subscript(value=name(items.id), slice=index,
                                                ctx=gast.Load()), s)
            if i == star:
                t = t.value
                item = copy_location(gast.Call(func=name(self.ctx.inject("list", builtins.list)),
                                               args=[item], keywords=[]), s)
            self.stmt_Assign(assign(t, item, like=s), out)

    def stmt_If(self, s, out):
        if anno.get(s, anno.Key.LOOP_EXIT):
            out.append(s)         # 'if _brk1: break' stays as it is
            return
        test = self.condition(s.test, out)
        node = gast.If(test=test, body=self.block(s.body), orelse=self.block(s.orelse))
        out.append(copy_location(node, s))

    def stmt_For(self, s, out):
        if s.orelse:
            raise errors.unsupported(s.orelse[0], self.ctx, "LoopElse")
        self.check_expr(s.iter)
        it = s.iter
        if _is_call_of(it, "range") and isinstance(s.target, gast.Name):
            node = gast.For(target=s.target, iter=it, body=self.block(s.body, loop=True),
                            orelse=[], type_comment=None)
            out.append(copy_location(node, s))
            return
        # for <target> in <iterable>  ->  for _i in range(len(seq)): <target> = seq[_i]
        self.check_not_resized(s)
        index = self.namer.fresh("_i")
        head, seqs, targets = [], [], []
        backwards = _is_call_of(it, "reversed") and len(it.args) == 1 and not it.keywords
        if backwards:
            it = it.args[0]
        self.unzip(it, s.target, index, head, seqs, targets, out, s)
        lengths = [call(self.builtin("len"), q) for q in seqs]
        bound = lengths[0] if len(lengths) == 1 else call(self.builtin("min"), *lengths)
        if backwards:
            last = gast.BinOp(left=bound, op=gast.Sub(), right=const(1))
            iterable = call(self.builtin("range"), last, const(-1), const(-1))
        else:
            iterable = call(self.builtin("range"), bound)
        for q, t in zip(seqs, targets):
            item = gast.Subscript(value=q, slice=name(index), ctx=gast.Load())
            if id(t) in self.checked_targets:
                anno.set_(item, anno.Key.UNPACK_CHECKED)
            head.append(assign(t, copy_location(item, s), like=s))
        node = gast.For(target=name(index, store=True), iter=iterable,
                        body=self.block(head + s.body, loop=True), orelse=[],
                        type_comment=None)
        out.append(copy_location(node, s))

    def check_not_resized(self, s):
        """The normal form reads the sequence's length once, where CPython's loop sees
        a list grow or shrink: a loop that calls a resizing method of the list it
        iterates over (by that name; aliases are not followed) is refused."""
        seqs = _iterated_names(s.iter)
        views = _iterated_views(s.iter)
        for node in walk(gast.Module(body=s.body, type_ignores=[])):
            f = node.func if isinstance(node, gast.Call) else None
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) \
                    and f.value.id in seqs and f.attr in _RESIZING:
                raise errors.unsupported(node, self.ctx, "LoopResizes",
                                         f"{f.value.id}.{f.attr}() in the loop over it")
            passed = [a for a in list(node.args) + [k.value for k in node.keywords]
                      if isinstance(a, gast.Name) and a.id in seqs] if f is not None else []
            if passed and self.user_call(node):
                for a in passed:
                    if _may_resize_argument(node, a, self.ctx):
                        raise errors.unsupported(
                            node, self.ctx, "LoopResizes",
                            f"{dotted_name(f) or 'the function'}({a.id}) in the loop over "
                            f"{a.id}, which may change its length")
            if isinstance(node, (gast.Assign, gast.AugAssign)) and views:
                for t in node.targets if isinstance(node, gast.Assign) else [node.target]:
                    if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) \
                            and t.value.id in views:
                        # the normal form iterates over a list of the items made once,
                        # where CPython's view shows the new value
                        raise errors.unsupported(node, self.ctx, "LoopWritesList",
                                                 f"{t.value.id}[...] = ... in the loop over "
                                                 f"{t.value.id}.{views[t.value.id]}()")
            if isinstance(node, (gast.Delete, gast.AugAssign)):
                for t in node.targets if isinstance(node, gast.Delete) else [node.target]:
                    if isinstance(node, gast.AugAssign) and isinstance(t, gast.Subscript) \
                            and not isinstance(t.slice, gast.Slice):
                        continue        # xs[i] += v changes an item, not the length
                    base = t.value if isinstance(t, gast.Subscript) else t
                    if isinstance(base, gast.Name) and base.id in seqs:
                        raise errors.unsupported(node, self.ctx, "LoopResizes")

    def unzip(self, it, target, index, head, seqs, targets, out, s):
        """Split ``for target in it`` into sequences read at the same index."""
        is_tuple = isinstance(target, gast.Tuple)
        if _is_call_of(it, "enumerate") and is_tuple and len(target.elts) == 2 \
                and 1 <= len(it.args) and len(it.args) + len(it.keywords) <= 2 \
                and all(k.arg == "start" for k in it.keywords):
            counter = name(index)
            start = it.args[1] if len(it.args) == 2 else \
                it.keywords[0].value if it.keywords else None    # (enumerate(xs, start=1))
            if start is not None:
                counter = gast.BinOp(left=counter, op=gast.Add(), right=start)
            head.append(assign(target.elts[0], counter, like=s))
            self.unzip(it.args[0], target.elts[1], index, head, seqs, targets, out, s)
        elif _is_call_of(it, "zip") and it.args and not it.keywords and is_tuple \
                and len(target.elts) == len(it.args):
            for a, t in zip(it.args, target.elts):
                self.unzip(a, t, index, head, seqs, targets, out, s)
        elif self.list_written_in(it, s):
            # (its items are checked one by one, unpack: the body stores new ones)
            seqs.append(name(it.id))
            targets.append(target)
        else:
            # for a, b in it: the count of each item is proven by the source
            # (items_lengths), or checked for all items at once before the loop; one by
            # one (unpack) in a loop that may stop early, which must not raise for items
            # it never reaches
            count = _unpacked_count(target)
            proven = count is not None and self.items_lengths(it) is not None \
                and self.items_lengths(it) <= {count}
            whole = count is not None and not proven and not _stops_early(s.body)
            if whole and self.plain_rows(it):
                seqs.append(self.sequence(it, out, rows=count))
            else:
                seqs.append(self.sequence(it, out, items=count if whole else None))
            targets.append(target)
            if proven or whole:
                self.checked_targets.add(id(target))

    def list_written_in(self, it, loop):
        """``it`` names a list the body of ``loop`` stores items into (``for v in xs:
        xs[j] = ...``) and does not rebind: the loop reads it by index, by that name
        (``for _i in range(len(xs)): v = xs[_i]``), as CPython's list iterator does, so
        an item stored before it is read is read new, and the adjoints of what is read
        and stored go through one name (a copy made once, ``as_sequence(xs)``, would
        give the adjoints of the items read to the list's first value). The length is
        read once: ``check_not_resized`` refuses a loop resizing the list. Only for a
        name surely holding a list: an argument of kind ``'L'``/``'LS'`` that is no dict,
        or a local every assignment of which makes a list (``makes_list``); a dict is
        iterated by a new list of its keys."""
        if not isinstance(it, gast.Name) or it.id in self.nested or self.inlining \
                or self.tree is None:
            return False
        stored = False
        for node in walk(gast.Module(body=loop.body, type_ignores=[])):
            if isinstance(node, gast.Name) and node.id == it.id \
                    and isinstance(node.ctx, (gast.Store, gast.Del)):
                return False                # rebound in the loop
            if isinstance(node, (gast.Assign, gast.AugAssign)):
                for t in node.targets if isinstance(node, gast.Assign) else [node.target]:
                    if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) \
                            and t.value.id == it.id:
                        if isinstance(t.slice, gast.Slice):
                            return False    # (a slice store may resize it)
                        stored = True
            if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
                    and node.func.attr == "reverse" and isinstance(node.func.value, gast.Name) \
                    and node.func.value.id == it.id:
                stored = True               # (list_method: item stores)
            if isinstance(node, (gast.FunctionDef, gast.Lambda, gast.Global, gast.Nonlocal)):
                return False
        return stored and self.surely_list(it.id)

    def surely_list(self, n):
        if n in self.ctx.params:
            if self.ctx.kinds.get(n) not in ("L", "LS") or n in self.ctx.dicts:
                return False
        values, stores = self.bound(n)
        if stores != len(values) or (not values and n not in self.ctx.params):
            return False            # bound otherwise too (a loop target, a tuple, del)
        return all(map(self.makes_list, values))

    def bound(self, n):
        """(the values of the plain assignments to the name ``n`` in the function, the
        number of times it is bound or deleted in any way), from one walk of the tree."""
        if self.bindings is None:
            self.bindings = {}
            for s in walk(self.tree):
                if s.__class__ is gast.Assign:
                    for t in s.targets:
                        if t.__class__ is gast.Name:
                            self.bindings.setdefault(t.id, ([], [0]))[0].append(s.value)
                elif s.__class__ is gast.Name and s.ctx.__class__ in (gast.Store, gast.Del):
                    self.bindings.setdefault(s.id, ([], [0]))[1][0] += 1
        values, stores = self.bindings.get(n, ((), (0,)))
        return values, stores[0]

    def length_of(self, e, seen=None):
        """The number of values unpacking ``e`` gives, as the source shows it, else None:
        a tuple or list display (no item starred); a call of a function of yours every
        ``return`` of which is a tuple display of that many items
        (``parse.returned_length``), or of ``divmod``; ``p.shape`` of an array argument
        of known dimensions never bound again; a local name every binding of which
        (plain assignments only) is such a value, and which, where it may be a list,
        is only unpacked, iterated or measured (``_only_unpacked``: no method, store
        or call can change its length)."""
        cls = e.__class__
        if cls is gast.Tuple or cls is gast.List:
            return None if any(isinstance(v, gast.Starred) for v in e.elts) else len(e.elts)
        if cls is gast.Call:
            f = e.func
            if isinstance(f, gast.Name) and f.id in self.nested:
                return _tuple_returns(self.nested[f.id])
            if self._is_builtin(f, ("divmod",)):
                return 2
            made = _global(f, self.ctx)
            if isinstance(made, types.FunctionType):
                from .parse import returned_length
                return returned_length(made)
            return None
        if cls is gast.Attribute and e.attr == "shape" and isinstance(e.value, gast.Name) \
                and e.value.id in self.ctx.params and self.tree is not None \
                and self.bound(e.value.id)[1] == 0:
            return array_ndim(self.ctx.kinds.get(e.value.id))
        if cls is not gast.Name or e.id in self.nested or e.id in self.ctx.params \
                or self.tree is None:
            return None
        seen = set() if seen is None else seen
        if e.id in seen:
            return None
        seen.add(e.id)
        values, stores = self.bound(e.id)
        if not values or stores != len(values):
            return None             # bound otherwise too (a loop target, an unpacking)
        lengths = {self.length_of(v, seen) for v in values}
        if len(lengths) != 1 or None in lengths:
            return None
        if not all(v.__class__ is gast.Tuple or v.__class__ is gast.Call for v in values) \
                and not self._only_unpacked(e.id):
            return None             # a list another statement may change
        return lengths.pop()

    def items_lengths(self, it, seen=None):
        """The set of the numbers of values the items of ``it`` unpack into, as the
        source shows them (empty for no item), else None: a tuple or list display of
        items of known lengths (``length_of``), a comprehension of such items,
        ``zip(...)`` (its number of arguments), ``enumerate(...)``, ``d.items()`` (two),
        ``list``, ``tuple``, ``sorted`` or ``reversed`` of such a value, or a local name
        every binding of which is such a value, only unpacked, iterated or measured
        (its items then tuples: a list item could be changed through a loop variable)."""
        cls = it.__class__
        named = seen is not None
        if cls is gast.Tuple or cls is gast.List:
            if any(isinstance(v, gast.Starred) for v in it.elts) \
                    or named and any(v.__class__ is gast.List for v in it.elts):
                return None
            lengths = {self.length_of(v) for v in it.elts}
            return None if None in lengths else lengths
        if cls is gast.ListComp or cls is gast.GeneratorExp:
            elt = it.elt
            n = self.length_of(elt) if elt.__class__ is gast.Tuple \
                or elt.__class__ is gast.List and not named else None
            return None if n is None else {n}
        if cls is gast.Call:
            f = it.func
            if isinstance(f, gast.Attribute):
                return {2} if f.attr == "items" and not it.args and not it.keywords \
                    else None
            if self._builtin_call(it, ("zip",)) and it.args:
                return {len(it.args)}
            if self._is_builtin(f, ("enumerate",)):
                return {2}
            if self._builtin_call(it, ("list", "tuple", "sorted", "reversed")) \
                    and len(it.args) == 1:
                return self.items_lengths(it.args[0], seen)
            return None
        if cls is not gast.Name or it.id in self.nested or it.id in self.ctx.params \
                or self.tree is None:
            return None
        seen = set() if seen is None else seen
        if it.id in seen:
            return None
        seen.add(it.id)
        values, stores = self.bound(it.id)
        if not values or stores != len(values) or not self._only_unpacked(it.id):
            return None
        found = set()
        for v in values:
            lengths = self.items_lengths(v, seen)
            if lengths is None:
                return None
            found |= lengths
        return found

    def plain_rows(self, it):
        """``it`` names an argument the call was dispatched on as a list or tuple of
        rows of numbers (tuples or lists: ``api.rows_kind``) that the function never
        binds again and only unpacks, iterates or measures (``_only_unpacked``): its
        items are still such rows, whose lengths alone need checking."""
        return isinstance(it, gast.Name) and it.id in self.ctx.params \
            and self.ctx.kinds.get(it.id + ROW_ITEMS) == "LS" and self.tree is not None \
            and self.bound(it.id)[1] == 0 and self._only_unpacked(it.id)

    def _only_unpacked(self, n):
        """Every read of the name ``n`` in the function unpacks it (``a, b = n``),
        iterates it (``for ... in n``, in a comprehension too) or takes its ``len``:
        nothing can change the length of what it holds, or of its items."""
        hit = self.plain_reads.get(n)
        if hit is None:
            allowed, reads = set(), []
            for node in walk(self.tree):
                cls = node.__class__
                if cls is gast.For or cls is gast.comprehension:
                    allowed.add(id(node.iter))
                elif cls is gast.Assign and _unpacking(node):
                    allowed.add(id(node.value))
                elif cls is gast.Call and self._builtin_call(node, ("len",)) \
                        and len(node.args) == 1:
                    allowed.add(id(node.args[0]))
                elif cls is gast.Name and node.id == n:
                    reads.append(node)
            hit = self.plain_reads[n] = all(
                id(r) in allowed for r in reads if isinstance(r.ctx, gast.Load))
        return hit

    def makes_list(self, v):
        """``v`` surely makes a new list: a display, a comprehension, ``list(...)``,
        ``sorted(...)``, or the sum of two such."""
        if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add):
            return self.makes_list(v.left) and self.makes_list(v.right)
        return isinstance(v, (gast.List, gast.ListComp)) or (
            isinstance(v, gast.Call) and self._is_builtin(v.func, ("list", "sorted")))

    def sequence(self, e, out, length=None, items=None, rows=None):
        """``e`` evaluated once into a fresh indexable name; with ``length``, checked to
        hold that many items, with ``items`` (``rows``: items known to be tuples or
        lists), each of its items (``runtime.as_sequence``: the counts of ``a, b = e``
        and of ``for a, b in e``)."""
        from . import runtime
        q = self.namer.fresh("_seq")
        fn = name(self.ctx.inject("as_sequence", runtime.as_sequence))
        checks = [gast.keyword(arg=k, value=const(v))
                  for k, v in (("length", length), ("items", items), ("rows", rows))
                  if v is not None]
        value = self.simple(gast.Call(func=fn, args=[e], keywords=checks), out)
        out.append(assign(q, value, like=e))
        return name(q)

    def builtin(self, n):
        import builtins
        return name(self.ctx.inject(n, getattr(builtins, n)))

    def stmt_While(self, s, out):
        if s.orelse:
            raise errors.unsupported(s.orelse[0], self.ctx, "LoopElse")
        self.check_expr(s.test)
        node = gast.While(test=s.test, body=self.block(s.body, loop=True), orelse=[])
        out.append(copy_location(node, s))

    def stmt_Return(self, s, out):
        value = s.value if s.value is not None else const(None)
        if self.result is None:
            out.append(copy_location(gast.Return(value=self.atom(value, out)), s))
        else:
            out.append(assign(self.result, self.simple(value, out), like=s))

    # -- expressions ------------------------------------------------------
    def atom(self, e, out):
        """Flatten ``e`` and return a Name or Constant holding its value."""
        if isinstance(e, gast.Constant):
            return e
        if isinstance(e, gast.Name):
            return self.expr_Name(e, out)
        simple = self.simple(e, out)
        if is_atom(simple):
            return simple
        t = self.namer.temp()
        out.append(assign(t, simple, like=e))
        return name(t)

    def condition(self, e, out):
        """An ``if`` test: a name, or evaluated whole into a fresh ``_c`` name."""
        self.check_expr(e, whole=False)
        if isinstance(e, gast.Name):
            return name(e.id)
        c = self.namer.numbered("_c")
        self.namer.temps.add(c)
        out.append(assign(c, self.simple(e, out), like=e))
        return name(c)

    def simple(self, e, out):
        """Flatten the operands of ``e``; return one operation on atoms."""
        method = _EXPR_METHODS.get(e.__class__)
        if method is None:
            method = getattr(Normalizer, "expr_" + type(e).__name__, None)
            if method is None:
                raise errors.unsupported(e, self.ctx, type(e).__name__)
            _EXPR_METHODS[e.__class__] = method
        return copy_location(method(self, e, out), e)

    def expr_Constant(self, e, out):
        return e

    def expr_Name(self, e, out):
        if e.id in self.nested:
            raise errors.unsupported(e, self.ctx, "NestedValue", e.id)
        return name(e.id)

    def expr_BinOp(self, e, out):
        if isinstance(e.op, gast.BitOr) and (self._maybe_dict(e.left)
                                             or self._maybe_dict(e.right)):
            raise errors.unsupported(e, self.ctx, "DictMerge")      # (p | {...}, q |= ...)
        left = self.atom(e.left, out)
        right = self.atom(e.right, out)
        return binop(left, e.op, right)

    def expr_UnaryOp(self, e, out):
        operand = self.atom(e.operand, out)
        if isinstance(e.op, gast.UAdd):
            return operand
        if isinstance(e.op, gast.USub) and isinstance(operand, gast.Constant) \
                and isinstance(operand.value, (int, float)) and operand.value is not True:
            return const(-operand.value)
        return gast.UnaryOp(op=e.op, operand=operand)

    def expr_Compare(self, e, out):
        left = self.atom(e.left, out)
        comps = [self.atom(c, out) for c in e.comparators]
        return gast.Compare(left=left, ops=e.ops, comparators=comps)

    def inline(self, e, out):
        """A call of a nested function: its body, with fresh local names, in place."""
        from . import desugar
        fname = e.func.id
        if fname in self.inlining:
            raise errors.unsupported(e, self.ctx, "Recursion", fname)
        path, where = self.nested_path[fname]
        while path and path[-1][1]:
            # def g(t) in a loop, called after it: the last iteration's g (its defaults
            # are kept by the temporaries stmt_FunctionDef made), as in Python
            path = path[:-1]
        if self.path[:len(path)] != path:
            # def g(t) in a branch that does not hold the call: where the branch did
            # not run Python raises NameError, the inlined body would run
            raise errors.unsupported(
                e, self.ctx, "NestedOutside",
                f"{fname} is defined at line {where.lineno} in a branch of an if that "
                "does not hold this call")
        fdef = clone(self.nested[fname])
        args = fdef.args
        params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        if args.vararg is not None:
            params.append(args.vararg.id)
        local = set(params) | {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)
                               and isinstance(n.ctx, gast.Store)}
        fresh = {v: self.namer.fresh(v) for v in sorted(local)}
        for n in gast.walk(fdef):
            if isinstance(n, gast.Name) and n.id in fresh:
                n.id = fresh[n.id]
        # bind the arguments, evaluated in order, then the defaults
        positional = args.posonlyargs + args.args
        defaults = dict(zip([a.id for a in positional][len(positional) - len(args.defaults):],
                            args.defaults))
        defaults.update({a.id: d for a, d in zip(args.kwonlyargs, args.kw_defaults)
                         if d is not None})
        if len(e.args) > len(positional) and args.vararg is None \
                or any(isinstance(a, gast.Starred) for a in e.args):
            raise errors.unsupported(e, self.ctx, "Starred", f"call of {fname}")
        bound = {}
        for p, a in zip(positional, e.args):
            bound[p.id] = self.atom(a, out)
        if args.vararg is not None:         # *zs: a tuple of the other positional arguments
            extra = [self.atom(a, out) for a in e.args[len(positional):]]
            bound[args.vararg.id] = self.atom(
                copy_location(gast.Tuple(elts=extra, ctx=gast.Load()), e), out)
        for k in e.keywords:
            if k.arg is None or fresh.get(k.arg) not in [x.id for x in positional +
                                                          args.kwonlyargs]:
                raise errors.missing_rule(e, self.ctx, f"{fname} called this way")
            bound[fresh[k.arg]] = self.atom(k.value, out)
        for p in [x.id for x in positional + args.kwonlyargs]:
            if p not in bound:
                if p not in defaults:
                    raise errors.missing_rule(e, self.ctx, f"{fname} (missing argument)")
                bound[p] = self.atom(defaults[p], out)
        for p, atom in bound.items():
            out.append(assign(p, atom, like=e))
        result = self.namer.temp(block_local=False)
        desugar.run(fdef, self.ctx)
        if not _tail_returns(fdef.body):        # falling off the end returns None
            out.append(assign(result, const(None), like=e))
        saved, self.result = self.result, result
        self.inlining.append(fname)
        try:
            out.extend(self.block(fdef.body))
        finally:
            self.inlining.pop()
            self.result = saved
        return name(result)

    def _builtin_call(self, e, names):
        """``e`` calls the builtin of one of ``names`` (not a name the user rebound),
        with plain positional arguments."""
        return not e.keywords and not any(isinstance(a, gast.Starred) for a in e.args) \
            and self._is_builtin(e.func, names)

    def _is_builtin(self, f, names):
        """``f`` names the builtin of one of ``names``, not a name the user rebound."""
        if not (isinstance(f, gast.Name) and f.id in names) or f.id in self.ctx.local_names:
            return False
        try:
            return self.ctx.lookup(f.id) is getattr(builtins, f.id)
        except KeyError:
            return False

    def expr_Call(self, e, out):
        if isinstance(e.func, gast.Attribute) and _is_call_of(e.func.value, "super") \
                and self._is_builtin(e.func.value.func, ("super",)):
            # super().f(x): the object super() gives named, so that a refusal of the call
            # says super() (activity.classify), not "a computed value"
            recv = self.atom(e.func.value, out)
            self.ctx.super_names.add(recv.id)
            e = copy_location(gast.Call(func=gast.Attribute(value=recv, attr=e.func.attr,
                                                            ctx=gast.Load()),
                                        args=e.args, keywords=e.keywords), e)
        if isinstance(e.func, gast.Name) and e.func.id in _ITERATOR_MAKERS \
                and self._is_builtin(e.func, _ITERATOR_MAKERS):
            self._read_once(e, f"{e.func.id}(...)")     # (it = iter(xs), z = zip(a, b))
        if any(isinstance(a, gast.Starred) for a in e.args):
            e = self.spliced(e)
        if isinstance(e.func, gast.Name) and e.func.id in self.nested:
            return self.inline(e, out)
        if len(e.args) == 1 and any(k.arg == "default" for k in e.keywords) \
                and not isinstance(e.args[0], gast.Starred) \
                and self._is_builtin(e.func, ("min", "max")):
            return self.defaulted(e, out)
        keyed = self.keyed(e, out)
        if keyed is not None:
            return keyed
        backwards = self.reversed_items(e, out)
        if backwards is not None:
            return backwards
        joined = self.concatenated(e, out)
        if joined is not None:
            return joined
        if len(e.args) > 2 and self._builtin_call(e, ("max", "min")):
            # max(a, b, c) -> max((a, b, c)): the rule of a sequence splits the derivative
            # evenly between tied items, as for two (pairs, max(max(a, b), c), gave a
            # three-way tie 1/4, 1/4, 1/2)
            items = copy_location(gast.Tuple(elts=list(e.args), ctx=gast.Load()), e)
            return self.expr_Call(copy_location(gast.Call(func=e.func, args=[items],
                                                          keywords=[]), e), out)
        if len(e.args) == 1 and self._builtin_call(e, ("list", "tuple")) \
                and isinstance(e.args[0], gast.Call) \
                and self._builtin_call(e.args[0], ("zip", "enumerate", "reversed")):
            # list(zip(a, b)) -> [(u, v) for u, v in zip(a, b)]: iterated as a for loop
            # iterates them
            inner = e.args[0]
            width = {"zip": len(inner.args), "enumerate": 2}.get(inner.func.id, 1)
            parts = [self.namer.temp() for _ in range(width)]
            stores = [gast.Name(id=v, ctx=gast.Store(), annotation=None, type_comment=None)
                      for v in parts]
            target = stores[0] if width == 1 else gast.Tuple(elts=stores, ctx=gast.Store())
            elt = name(parts[0]) if width == 1 else \
                gast.Tuple(elts=[name(v) for v in parts], ctx=gast.Load())
            loop = gast.comprehension(target=target, iter=inner, ifs=[], is_async=0)
            items = self.expr_ListComp(copy_location(
                gast.ListComp(elt=elt, generators=[loop]), e), out)
            if e.func.id == "list":
                return items
            return gast.Call(func=name(self.ctx.inject("tuple", builtins.tuple)),
                             args=[items], keywords=[])
        if len(e.args) > 1 and self._builtin_call(e, ("map",)) \
                and (_is_dotted(e.args[0]) and (_root(e.args[0]) not in self.ctx.local_names
                                                or isinstance(e.args[0], gast.Name)
                                                and e.args[0].id in self.nested)
                     or _plain_lambda(e.args[0], len(e.args) - 1)):
            # map(f, xs, ys) -> (f(a, b) for a, b in zip(xs, ys)), for a named function;
            # map(lambda a, b: e, xs, ys) -> (e for a, b in zip(xs, ys))
            self._read_once(e, "map(...)")
            return self.expr_ListComp(self._map_as_generator(e), out)
        if not e.args and all(k.arg for k in e.keywords) and self._is_builtin(e.func, ("dict",)):
            # dict(a=x, b=y) -> {'a': x, 'b': y}
            return self.expr_Dict(copy_location(gast.Dict(
                keys=[const(k.arg) for k in e.keywords], values=[k.value for k in e.keywords]),
                e), out)
        got = self.dict_get(e, out)
        if got is not None:
            return got
        ufunc_call = self.ufunc_method(e)
        if ufunc_call is not None:
            return self.expr_Call(copy_location(ufunc_call, e), out)
        pairs = self.itertools_call(e, out)
        if pairs is not None:
            return self.expr_ListComp(copy_location(pairs, e), out)
        e = self.unpartial(e)
        func = e.func
        if isinstance(func, gast.Attribute):
            func = gast.Attribute(value=self.receiver(func.value, out), attr=func.attr,
                                  ctx=gast.Load())
        elif not isinstance(func, gast.Name):
            func = self.atom(func, out)
        args = []
        for a in e.args:
            if isinstance(a, gast.Starred):
                raise errors.unsupported(
                    a, self.ctx, "Starred", "the number of items is not known where the "
                    "function is transformed: only a tuple or list display, a name bound "
                    "once to one, or a constant slice of those (t[1:]), is spread into "
                    "arguments")
            args.append(self.atom(a, out))
        keywords = []
        for k in e.keywords:
            if k.arg is None:
                raise errors.unsupported(k.value, self.ctx, "KwargsCall")
            keywords.append(gast.keyword(arg=k.arg, value=self.atom(k.value, out)))
        return gast.Call(func=func, args=args, keywords=keywords)

    def concatenated(self, e, out):
        """``sum(xs, start)`` of a list or tuple ``start`` (a display, or a name surely
        holding a list: ``surely_list``) concatenates: it becomes the sums of lists
        (tuples) the passes differentiate, in order; None for any other call::

            sum([a, b], [])       ->  _t = [] + a; _t = _t + b
            sum(rows, [])         ->  _acc = []
                                      for _v in rows: _acc = _acc + _v

        (the rules of ``sum`` add the items' derivatives as numbers or arrays: a list
        start got a doubled or a crashing derivative)."""
        if not (isinstance(e.func, gast.Name) and e.func.id == "sum") \
                or any(isinstance(a, gast.Starred) for a in e.args) \
                or any(k.arg not in ("start",) for k in e.keywords):
            return None
        given = e.args[1:] + [k.value for k in e.keywords]
        if len(e.args) < 1 or len(given) != 1 or not self._is_builtin(e.func, ("sum",)):
            return None
        start, items = given[0], e.args[0]
        if not (isinstance(start, (gast.List, gast.Tuple))
                and not any(isinstance(v, gast.Starred) for v in start.elts)
                or isinstance(start, gast.Name) and self.tree is not None
                and start.id not in self.nested and self.surely_list(start.id)):
            return None
        if isinstance(items, (gast.List, gast.Tuple)) \
                and not any(isinstance(v, gast.Starred) for v in items.elts):
            acc = start
            for item in items.elts:
                acc = copy_location(gast.BinOp(left=acc, op=gast.Add(), right=item), e)
            return self.simple(acc, out)
        acc = self.namer.fresh("_acc")
        self.namer.temps.add(acc)
        v = self.namer.fresh("_v")
        out.append(assign(acc, self.simple(start, out), like=e))
        loop = gast.For(target=name(v, store=True), iter=items,
                        body=[assign(acc, gast.BinOp(left=name(acc), op=gast.Add(),
                                                     right=name(v)), like=e)],
                        orelse=[], type_comment=None)
        for n in walk(loop):
            if isinstance(n, (gast.stmt, gast.expr)) and not hasattr(n, "lineno"):
                copy_location(n, e)
        self.stmt(loop, out)
        return name(acc)

    def _dict_method(self, e, attr):
        """The dict name of ``d.attr(...)``, when ``d`` only ever holds a dict."""
        f = e.func
        if isinstance(f, gast.Attribute) and f.attr == attr and isinstance(f.value, gast.Name) \
                and f.value.id in self.dict_names:
            return f.value.id
        return None

    def dict_get(self, e, out):
        """``d.get(k, v)`` -> ``d[k] if k in d else v`` (v None if not given), for a name
        that only ever holds a dict: the item's derivative or the default's."""
        d = self._dict_method(e, "get")
        if d is None or not 1 <= len(e.args) <= 2 or e.keywords \
                or any(isinstance(a, gast.Starred) for a in e.args):
            return None
        key = self.atom(e.args[0], out)
        default = e.args[1] if len(e.args) == 2 else const(None)
        test = gast.Compare(left=key, ops=[gast.In()], comparators=[name(d)])
        item = gast.Subscript(value=name(d), slice=clone(key), ctx=gast.Load())
        node = gast.IfExp(test=test, body=item, orelse=default)
        for n in walk(node):
            if not hasattr(n, "lineno"):
                copy_location(n, e)
        return self.expr_IfExp(copy_location(node, e), out)

    def dict_update(self, e, s, out):
        """``d.update({k: v, ...}, k2=v2)`` as a statement -> the values, then the stores
        ``d[k] = v``, for a name that only ever holds a dict and a display of fixed
        pairs; else False."""
        d = self._dict_method(e, "update")
        if d is None or len(e.args) > 1 or not all(k.arg for k in e.keywords):
            return False
        if e.args and not (isinstance(e.args[0], gast.Dict) and None not in e.args[0].keys):
            return False
        pairs = list(zip(e.args[0].keys, e.args[0].values)) if e.args else []
        pairs += [(const(k.arg), k.value) for k in e.keywords]
        atoms = [(self.atom(k, out), self.atom(v, out)) for k, v in pairs]
        for k, v in atoms:
            target = gast.Subscript(value=name(d), slice=k, ctx=gast.Store())
            self.stmt_Assign(assign(target, v, like=s), out)
        return True

    def defaulted(self, e, out):
        """``min(xs, default=d, key=k)``: ``min(items, key=k) if items else d`` of the
        items of ``xs`` in a list, evaluated in Python's order (``xs``, then ``d``)."""
        listed = gast.Call(func=name(self.ctx.inject("list", builtins.list)),
                           args=[e.args[0]], keywords=[])
        items = self.atom(copy_location(listed, e.args[0]), out)
        rest, default = [], None
        for k in e.keywords:
            if k.arg == "default":
                default = self.atom(k.value, out)
            else:
                rest.append(k)
        pick = copy_location(gast.Call(func=e.func, args=[clone(items)], keywords=rest), e)
        choice = gast.IfExp(test=clone(items), body=pick, orelse=default)
        return self.expr_IfExp(copy_location(choice, e), out)

    def keyed(self, e, out):
        """``sorted(xs, key=k, reverse=r)``, ``min(xs, key=k)``, ``max(a, b, key=k)`` of a
        named function, a lambda or a builtin ``k``: the keys ``[k(v) for v in xs]``
        order the items and carry no derivative (``sort_order`` and ``first_extreme``
        have none), the items are taken in that order (``in_order``) or the first
        extreme one is (``xs[i]``). None for any other call."""
        f = e.func
        if not any(k.arg == "key" for k in e.keywords) or not e.args \
                or any(isinstance(a, gast.Starred) for a in e.args) \
                or not self._is_builtin(f, ("sorted", "min", "max")):
            return None
        keywords = {k.arg: k.value for k in e.keywords}
        if set(keywords) - ({"key", "reverse"} if f.id == "sorted" else {"key"}) \
                or f.id == "sorted" and len(e.args) != 1:
            return None       # (default=, extra arguments: the rule lookup refuses it)
        key = keywords["key"]
        if isinstance(key, gast.Constant) and key.value is None:      # key=None: no key
            rest = [k for k in e.keywords if k.arg != "key"]
            return self.expr_Call(copy_location(
                gast.Call(func=f, args=e.args, keywords=rest), e), out)
        if isinstance(key, gast.Lambda):          # a nested function, inlined per item
            fname = self.namer.fresh("_key")
            ret = copy_location(gast.Return(value=key.body), key.body)
            fdef = gast.FunctionDef(name=fname, args=key.args, body=[ret], decorator_list=[],
                                    returns=None, type_comment=None, type_params=[])
            self.stmt_FunctionDef(copy_location(fdef, key), out)
            key = name(fname)
        elif not (isinstance(key, gast.Name) and key.id in self.nested):
            key = self.atom(key, out)     # abs, a function of yours, itemgetter(1), ...
        if len(e.args) > 1:                       # max(a, b, key=k): of the arguments
            items = self.atom(copy_location(gast.Tuple(elts=list(e.args), ctx=gast.Load()),
                                            e), out)
        elif isinstance(e.args[0], gast.Call) \
                and self._builtin_call(e.args[0], ("zip", "enumerate", "reversed", "map")) \
                and self.ctx.lookup("list") is builtins.list:
            # an iterator, read twice: its items in a list (as list(zip(a, b)) makes it)
            listed = gast.Call(func=name("list"), args=[e.args[0]], keywords=[])
            items = self.atom(copy_location(listed, e.args[0]), out)
        elif self._maybe_dict(e.args[0]) or isinstance(e.args[0], gast.Call) \
                and isinstance(e.args[0].func, gast.Attribute) \
                and e.args[0].func.attr in ("keys", "values", "items") \
                and not e.args[0].args:
            # max(d, key=d.get): over the keys of a dict, as Python iterates it (read by
            # position, d[i] would be a value, or no key at all)
            listed = gast.Call(func=name(self.ctx.inject("list", builtins.list)),
                               args=[e.args[0]], keywords=[])
            items = self.atom(copy_location(listed, e.args[0]), out)
        else:
            items = self.atom(e.args[0], out)
        if isinstance(key, gast.Name) and key.id in self.nested:
            # [k(v) for v in xs]: the body of a lambda or nested function, inlined
            v = self.namer.fresh("_item")
            loop = gast.comprehension(target=gast.Name(id=v, ctx=gast.Store(), annotation=None,
                                                       type_comment=None),
                                      iter=name(items.id), ifs=[], is_async=0)
            each = copy_location(gast.Call(func=clone(key), args=[name(v)], keywords=[]), key)
            keys = self.atom(copy_location(gast.ListComp(elt=each, generators=[loop]), e), out)
        else:
            # a function of your module or a builtin, called as it is (keys_of has no
            # derivative: the function is not read, and may be anything Python runs)
            keys = self.atom(copy_location(gast.Call(
                func=name(self.ctx.inject("keys_of", runtime.keys_of)),
                args=[name(items.id), key], keywords=[]), e), out)
        if f.id == "sorted":
            reverse = self.atom(keywords.get("reverse", const(False)), out)
            order = self.atom(copy_location(gast.Call(
                func=name(self.ctx.inject("sort_order", runtime.sort_order)),
                args=[keys, reverse], keywords=[]), e), out)
            return gast.Call(func=name(self.ctx.inject("in_order", runtime.in_order)),
                             args=[name(items.id), order], keywords=[])
        index = self.atom(copy_location(gast.Call(
            func=name(self.ctx.inject("first_extreme", runtime.first_extreme)),
            args=[keys, const(f.id == "max")], keywords=[]), e), out)
        return gast.Subscript(value=name(items.id), slice=index, ctx=gast.Load())

    def _maybe_dict(self, a):
        """``a`` is a dict as the function is written: a display, a comprehension,
        ``dict(...)``, or a name only ever bound to dicts (or a dict argument)."""
        if isinstance(a, (gast.Dict, gast.DictComp)):
            return True
        if isinstance(a, gast.Call):
            return self._is_builtin(a.func, ("dict",))
        return isinstance(a, gast.Name) and (a.id in self.dict_names or a.id in self.ctx.dicts)

    def spliced(self, e):
        """``f(a, *t)`` with the items of ``t`` as arguments, where ``t`` is a tuple or
        list display or a name bound once, to such a display (a tuple; a list the
        function neither changes nor passes on): ``f(a, t[0], t[1])``, the call Python
        makes (a function of yours with ``*args`` is made for that number of
        arguments). Others stay starred (refused)."""
        args = []
        for a in e.args:
            items = self.starred_items(a.value) if isinstance(a, gast.Starred) else None
            if items is None:
                args.append(a)
            else:
                args.extend(copy_location(item, a) for item in items)
        return copy_location(gast.Call(func=e.func, args=args, keywords=e.keywords), e)

    def starred_items(self, v):
        if isinstance(v, gast.Subscript) and isinstance(v.slice, gast.Slice):
            # t[1:], t[:-1], t[::-1] of such a tuple: the items of that slice
            bounds = [v.slice.lower, v.slice.upper, v.slice.step]
            if not all(b is None or _int_constant(b) is not None for b in bounds):
                return None
            items = self.starred_items(v.value)
            if items is None:
                return None
            lo, hi, step = (None if b is None else _int_constant(b) for b in bounds)
            if step == 0:
                return None
            return items[lo:hi:step]
        if isinstance(v, (gast.Tuple, gast.List)):
            if any(isinstance(x, gast.Starred) for x in v.elts):
                return None
            return list(v.elts)
        if not isinstance(v, gast.Name) or v.id in self.ctx.params or v.id in self.nested \
                or self.tree is None:
            return None
        n = v.id
        bindings, value = 0, None
        for node in walk(self.tree):
            if isinstance(node, gast.Name) and node.id == n \
                    and not isinstance(node.ctx, gast.Load):
                bindings += 1
            elif isinstance(node, gast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], gast.Name) and node.targets[0].id == n:
                value = node.value
            elif isinstance(node, (gast.Global, gast.Nonlocal)) and n in node.names:
                return None
        if bindings != 1 or not isinstance(value, (gast.Tuple, gast.List)) \
                or any(isinstance(x, gast.Starred) for x in value.elts):
            return None
        if isinstance(value, gast.List) and not self.list_unchanged(n):
            return None     # a list that may change (lst.append(v), f(lst), lst[1:] = ...)
        return [gast.Subscript(value=name(n), slice=const(j), ctx=gast.Load())
                for j in range(len(value.elts))]

    def list_unchanged(self, n):
        """The list bound to ``n`` keeps its length: it is only spread (``f(*n)``) and
        read by index or slice (``n[0]``), nothing else sees it (no method of it is
        called, no other name is bound to it, it is given to no call) and nothing is
        stored into it."""
        reads, seen = set(), 0
        for node in walk(self.tree):
            if isinstance(node, (gast.Starred, gast.Subscript)) \
                    and isinstance(node.value, gast.Name) and node.value.id == n:
                if not isinstance(node.ctx, gast.Load):
                    return False
                reads.add(id(node.value))
            elif isinstance(node, gast.Name) and node.id == n and isinstance(node.ctx, gast.Load):
                seen += 1
        return seen == len(reads)

    def reversed_items(self, e, out):
        """``reversed(xs)`` of a list, tuple, range or array, read where it is made (an
        argument of ``enumerate``, ``zip``, ``sum``, ..., the iterable of a loop or a
        comprehension): the items in the opposite order, ``in_order(xs, range(len(xs)
        - 1, -1, -1))``, which the passes differentiate (each item's adjoint back at its
        place). None for any other call, and for ``reversed`` of a dict or its view or
        of an object, which stay calls of ``reversed`` (no derivative rule: refused). An
        iterator bound to a name (``r = reversed(xs)``, read once in Python, where a list
        would be read again) is refused."""
        if len(e.args) != 1 or not self._builtin_call(e, ("reversed",)):
            return None
        x = e.args[0]
        if _view_of(x) is not None or isinstance(x, (gast.Dict, gast.DictComp)) \
                or isinstance(x, gast.Name) and (
                    x.id in self.dict_names or x.id in self.ctx.dicts
                    or x.id in self.ctx.params and self.ctx.kinds.get(x.id) in ("A", "X", None)):
            return None
        if self.bound_iterators is None:    # (found once, where a reversed(...) is met)
            self.bound_iterators = {
                id(n.value) for n in walk(self.tree)
                if isinstance(n, (gast.Assign, gast.AnnAssign, gast.NamedExpr))
                and isinstance(n.value, gast.Call) and not _unpacking(n)}
        if id(e) in self.bound_iterators:
            raise errors.unsupported(e, self.ctx, "BoundIterator")
        seq = self.atom(x, out)
        size = self.atom(copy_location(call(self.builtin("len"), seq), e), out)
        last = self.atom(copy_location(gast.BinOp(left=size, op=gast.Sub(), right=const(1)),
                                       e), out)
        order = self.atom(copy_location(call(self.builtin("range"), last, const(-1),
                                             const(-1)), e), out)
        return gast.Call(func=name(self.ctx.inject("in_order", runtime.in_order)),
                         args=[seq, order], keywords=[])

    def _map_as_generator(self, e):
        fn = e.args[0]
        if isinstance(fn, gast.Lambda):
            items = [name(a.id) for a in fn.args.args]
        else:
            items = [name(self.namer.temp()) for _ in e.args[1:]]
        if len(items) == 1:
            target, iterable = items[0], e.args[1]
        else:
            target = gast.Tuple(elts=items, ctx=gast.Store())
            iterable = gast.Call(func=name(self.ctx.inject("zip", builtins.zip)),
                                 args=list(e.args[1:]), keywords=[])
        for n in items:
            n.ctx = gast.Store()
        if isinstance(fn, gast.Lambda):
            call = copy.deepcopy(fn.body)
        else:
            call = copy_location(gast.Call(func=fn, args=[name(n.id) for n in items],
                                           keywords=[]), e)
        loop = gast.comprehension(target=target, iter=iterable, ifs=[], is_async=0)
        return copy_location(gast.GeneratorExp(elt=call, generators=[loop]), e)

    def itertools_call(self, e, out):
        """``itertools.combinations(xs, r)`` (a constant ``r``), ``itertools.pairwise(xs)``
        and ``itertools.product(a, b, ...)`` as the list comprehensions of indexing that
        give the same tuples, in the same order (each iterable taken once, as a list);
        None for any other call."""
        if e.keywords or not e.args or any(isinstance(a, gast.Starred) for a in e.args):
            return None
        fn = _global(e.func, self.ctx)
        if fn is _NOTHING:
            return None
        path = dotted_name(e.func)
        combinations = fn is itertools.combinations and len(e.args) == 2 \
            and isinstance(e.args[1], gast.Constant) and type(e.args[1].value) is int \
            and e.args[1].value >= 1
        pairwise = fn is getattr(itertools, "pairwise", None) and len(e.args) == 1
        if not (combinations or pairwise or fn is itertools.product):
            return None
        self._read_once(e, f"{path}(...)")

        def builtin(label, obj, *args):
            return gast.Call(func=name(self.ctx.inject(label, obj)), args=list(args),
                             keywords=[])

        seqs = [self.atom(copy_location(builtin("list", builtins.list, a), e), out)
                for a in (e.args if fn is itertools.product else e.args[:1])]
        loops, items = [], []
        if fn is itertools.product:
            for seq in seqs:
                v = self.namer.temp()
                loops.append(gast.comprehension(target=name(v, store=True), iter=seq, ifs=[],
                                                is_async=0))
                items.append(name(v))
        else:
            seq = seqs[0]
            count = builtin("len", builtins.len, seq)
            width = e.args[1].value if combinations else 2
            index = []
            for k in range(width):
                i = self.namer.temp()
                if pairwise and k == 1:
                    index.append(gast.BinOp(left=name(index[0].id), op=gast.Add(),
                                            right=gast.Constant(value=1, kind=None)))
                    continue
                if pairwise:
                    stop = gast.BinOp(left=count, op=gast.Sub(),
                                      right=gast.Constant(value=1, kind=None))
                    bounds = [stop]
                elif k == 0:
                    bounds = [count]
                else:
                    bounds = [gast.BinOp(left=name(index[-1].id), op=gast.Add(),
                                         right=gast.Constant(value=1, kind=None)),
                              builtin("len", builtins.len, seq)]
                loops.append(gast.comprehension(
                    target=name(i, store=True), iter=builtin("range", builtins.range, *bounds),
                    ifs=[], is_async=0))
                index.append(name(i))
            items = [gast.Subscript(value=name(seq.id), slice=copy.deepcopy(i), ctx=gast.Load())
                     for i in index]
        elt = gast.Tuple(elts=items, ctx=gast.Load())
        return gast.ListComp(elt=elt, generators=loops)

    def ufunc_method(self, e):
        """The call of a function with a rule that ``np.subtract.outer(a, b)`` (any
        ufunc of two inputs: ``np.subtract(np.reshape(a, np.shape(a) + (1,) * np.ndim(b)),
        b)``), ``np.add.reduce(x, axis)`` (``np.sum(x, axis)``, axis 0 by default; also
        ``multiply``, ``maximum``, ``minimum``) or ``np.add.accumulate(x, axis)``
        (``np.cumsum``; ``np.multiply.accumulate``: ``np.cumprod``) computes; None for
        any other call."""
        func = e.func
        if not isinstance(func, gast.Attribute) \
                or func.attr not in ("outer", "reduce", "accumulate") \
                or any(isinstance(a, gast.Starred) for a in e.args):
            return None
        ufunc = _global(func.value, self.ctx)
        if not isinstance(ufunc, np.ufunc):
            return None
        numpy = name(self.ctx.inject("np", np))

        def np_call(fn, args, keywords=()):
            return gast.Call(func=gast.Attribute(value=numpy, attr=fn, ctx=gast.Load()),
                             args=list(args), keywords=list(keywords))

        if func.attr == "outer":
            if ufunc.nin != 2 or ufunc.nout != 1 or len(e.args) != 2 or e.keywords:
                return None
            a, b = e.args
            shape = gast.Call(func=name(self.ctx.inject("outer_shape", runtime.outer_shape)),
                              args=[a, b], keywords=[])
            return gast.Call(func=copy.deepcopy(func.value),
                             args=[np_call("reshape", [copy.deepcopy(a), shape]), b], keywords=[])
        table = {"reduce": {np.add: "sum", np.multiply: "prod", np.maximum: "max",
                            np.minimum: "min"},
                 "accumulate": {np.add: "cumsum", np.multiply: "cumprod"}}[func.attr]
        allowed = {"axis", "keepdims"} if func.attr == "reduce" else {"axis"}
        if ufunc not in table or not 1 <= len(e.args) <= 2 \
                or any(k.arg not in allowed for k in e.keywords) \
                or (len(e.args) == 2 and any(k.arg == "axis" for k in e.keywords)):
            return None
        keywords = list(e.keywords)
        if len(e.args) == 2:
            keywords.append(gast.keyword(arg="axis", value=e.args[1]))
        elif not any(k.arg == "axis" for k in keywords):
            keywords.append(gast.keyword(arg="axis", value=gast.Constant(value=0, kind=None)))
        return np_call(table[ufunc], [e.args[0]], keywords)

    def unpartial(self, e):
        """``p(x)`` of a global ``p = functools.partial(f, a, k=b)``: the call ``f(a, x,
        k=b)`` of your function or of one with a rule, the bound values reached as
        constants of the generated code (the partial object itself has no rule); a
        method of a global object, or the object's ``__call__``, likewise with the
        object bound."""
        path = dotted_name(e.func)
        if path is None or path.split(".")[0] in self.ctx.local_names \
                or path.split(".")[0] in self.ctx.injected:      # s2sad's own (check_method)
            return e
        try:
            obj = self.ctx.lookup(path)
        except KeyError:
            return e
        if isinstance(obj, _NO_RECEIVERS):
            return e            # a function, a builtin, a ufunc, a class: called as it is
        from .activity import is_user_function
        from .api import _call_method, _is_receiver
        from .context import class_attribute
        from .parse import plain
        obj = _call_method(obj)
        method = owner = None
        if isinstance(obj, types.MethodType) and is_user_function(plain(obj.__func__)):
            # model.loss(x) or model(x) of a global object: loss(model, x), the object
            # a constant as in grad(model.loss)
            method = obj.__self__
            last = "." + getattr(obj.__func__, "__name__", "")
            owner = path[:-len(last)] if path.endswith(last) else path     # (for messages)
            obj = functools.partial(obj.__func__, obj.__self__)
        if not isinstance(obj, functools.partial):
            return e
        f = obj.func
        if method is None and isinstance(f, types.MethodType) \
                and is_user_function(plain(f.__func__)):
            # partial(model.loss, k=2.0): partial(loss, model, k=2.0)
            method = f.__self__
            obj = functools.partial(f.__func__, method, *obj.args, **obj.keywords)
        elif method is None and obj.args and _is_receiver(obj.args[0]) \
                and class_attribute(type(obj.args[0]), getattr(f, "__name__", "")) is f:
            method = obj.args[0]        # partial(Model.loss, model)
        # the object is a constant of the generated code: rebinding the name makes the
        # code stale (api.compiled transforms again), as for a function it calls
        self.ctx.global_reads[path] = self.ctx._lookup(path)
        inner = plain(obj.func)
        given = {k.arg for k in e.keywords}
        args = [name(self.ctx.inject("bound", v)) for v in obj.args] + list(e.args)
        if owner is not None:
            self.ctx.shown_names[args[0].id] = owner
        if method is not None:
            # the object is a receiver of the callee, as self of grad(model.loss): its
            # self.m(x) and self.layer.m(x) are calls of its class's functions
            from .api import receivers_of
            found = receivers_of({args[0].id: method})
            self.ctx.receivers.update(found)
            # the classes of what it holds are read now: other ones since make the code
            # stale (Context.stale), as rebinding the name does
            self.ctx.receiver_reads.append((args[0].id, None, method, found))
        keywords = [gast.keyword(arg=k, value=name(self.ctx.inject(k, v)))
                    for k, v in obj.keywords.items() if k not in given] + list(e.keywords)
        label = getattr(inner, "__name__", "")
        label = label if label.isidentifier() and not keyword.iskeyword(label) else "partial_func"
        fn = name(self.ctx.inject(label, inner))
        return copy_location(gast.Call(func=fn, args=args, keywords=keywords), e)

    def receiver(self, e, out):
        """Keep dotted module paths (np.linalg) whole, flatten anything else
        (``a.T.dot(b)`` on a local ``a`` becomes ``_t1 = a.T; _t1.dot(b)``)."""
        if isinstance(e, gast.Name):
            return name(e.id)
        if isinstance(e, gast.Attribute) and _is_dotted(e) \
                and _root(e) not in self.ctx.local_names \
                and (isinstance(e.value, gast.Name)
                     or isinstance(_global(e.value, self.ctx), types.ModuleType)):
            # (np.lib.stride_tricks.sliding_window_view: a module's module too)
            return gast.Attribute(value=self.receiver(e.value, out), attr=e.attr,
                                  ctx=gast.Load())
        return self.atom(e, out)

    def expr_Attribute(self, e, out):
        if isinstance(e.value, gast.Name) and e.value.id in self.ctx.params:
            from .api import named_fields
            fields = self.ctx.kinds.get(named_fields(e.value.id))
            if fields is not None and e.attr in fields:
                # p.name of a named tuple p (read only that way): its item p[i]
                return gast.Subscript(value=name(e.value.id),
                                      slice=const(fields.index(e.attr)), ctx=gast.Load())
        return gast.Attribute(value=self.receiver(e.value, out), attr=e.attr, ctx=gast.Load())

    def expr_Subscript(self, e, out):
        value = self.atom(e.value, out)
        return gast.Subscript(value=value, slice=self.index(e.slice, out), ctx=gast.Load())

    def index(self, s, out):
        if isinstance(s, gast.Slice):
            parts = [None if p is None else self.atom(p, out) for p in (s.lower, s.upper, s.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(s, gast.Tuple):
            return gast.Tuple(elts=[self.index(x, out) for x in s.elts], ctx=gast.Load())
        return self.atom(s, out)

    def expr_Tuple(self, e, out):
        return gast.Tuple(elts=[self.atom(x, out) for x in e.elts], ctx=gast.Load())

    def expr_List(self, e, out):
        return gast.List(elts=[self.atom(x, out) for x in e.elts], ctx=gast.Load())

    def expr_Dict(self, e, out):
        if any(k is None for k in e.keys):
            raise errors.unsupported(e, self.ctx, "DictMerge", "{**d, ...}")
        keys = [self.atom(k, out) for k in e.keys]
        return gast.Dict(keys=keys, values=[self.atom(v, out) for v in e.values])

    def _read_once(self, e, what):
        """Refuse the generator (or iterator) ``e`` where it may be read twice or late: bound
        to a name, or given to a function of yours (or a method). Python reads it once,
        when it is used; the normal form makes the list of its items where it is written,
        which a second use would read again (a silent wrong value and derivative)."""
        if self.read_later is None:         # (found once, where a generator is met)
            found = set()
            for n in walk(self.tree):
                if isinstance(n, (gast.Assign, gast.AnnAssign, gast.NamedExpr)) \
                        and not _unpacking(n):      # (a, b = g reads g once, there)
                    found.add(id(n.value))
                elif isinstance(n, gast.Call) and not self._consumer(n.func):
                    found.update(id(a) for a in n.args)
                    found.update(id(k.value) for k in n.keywords)
            self.read_later = found
        if id(e) in self.read_later:
            raise errors.unsupported(e, self.ctx, "BoundGenerator", what)

    def _consumer(self, f):
        """``f`` names a function of Python or of a library (a builtin, NumPy, math):
        one that reads a generator it is given once, not a function of yours."""
        fn = _global(f, self.ctx)
        if fn is _NOTHING:
            return False
        return not (isinstance(fn, types.FunctionType)
                    and not (getattr(fn, "__module__", None) or "").startswith(("numpy",
                                                                                 "math")))

    def expr_ListComp(self, e, out):
        # [elt for t in it if c]  ->  _t = []; for t in it: if c: _t.append(elt)
        if isinstance(e, gast.GeneratorExp):
            self._read_once(e, "a generator expression")
        result = self.namer.temp()
        out.append(assign(result, gast.List(elts=[], ctx=gast.Load()), like=e))
        append = gast.Attribute(value=name(result), attr="append", ctx=gast.Load())
        self.comprehension(e, [e.elt], lambda elt: gast.Expr(
            value=gast.Call(func=append, args=[elt], keywords=[])), out)
        return name(result)

    def expr_DictComp(self, e, out):
        # {k: v for t in it if c}  ->  _t = {}; for t in it: if c: _t[k] = v
        result = self.namer.temp()
        out.append(assign(result, gast.Dict(keys=[], values=[]), like=e))
        self.comprehension(e, [e.key, e.value], lambda key, value: gast.Assign(
            targets=[gast.Subscript(value=name(result), slice=key, ctx=gast.Store())],
            value=value, type_comment=None), out)
        return name(result)

    def comprehension(self, e, parts, store, out):
        """The loops of the comprehension ``e`` (its targets renamed apart from the
        function's names), around ``store(*parts)``."""
        renames = {}
        for gen in e.generators:
            if gen.is_async:
                raise errors.unsupported(e, self.ctx, "AsyncFor")
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    renames[n.id] = self.namer.fresh(n.id)
        from .gastutil import rename as rename_loads
        guards = [getattr(g, "guards", []) for g in e.generators]   # (parse.bind_methods)
        for node in parts + [x for g in e.generators for x in [g.target] + g.ifs] + \
                [g.iter for g in e.generators[1:]] + [s for each in guards for s in each]:
            rename_loads(node, renames)
            for n in gast.walk(node):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    n.id = renames.get(n.id, n.id)
        body = [store(*parts)]
        for gen, checks in zip(reversed(e.generators), reversed(guards)):
            for cond in reversed(gen.ifs):
                body = [gast.If(test=cond, body=body, orelse=[])]
            # the checks of the objects its variable takes (l(x) for l in self.layers)
            body = [gast.For(target=gen.target, iter=gen.iter, body=checks + body, orelse=[],
                             type_comment=None)]
        for stmt in body:
            for n in gast.walk(stmt):
                if isinstance(n, (gast.stmt, gast.expr)) and not hasattr(n, "lineno"):
                    copy_location(n, e)
            self.stmt(stmt, out)

    expr_GeneratorExp = expr_ListComp

    def expr_JoinedStr(self, e, out):
        self.check_expr(e)
        return e

    def expr_NamedExpr(self, e, out):
        # (y := e)  ->  y = e, then the value is y (check_walrus: no read of y before it)
        self.stmt_Assign(assign(e.target.id, e.value, like=e), out)
        return name(e.target.id)

    def expr_BoolOp(self, e, out):
        # a and b  ->  t = a; if t: t = b      (or: if not t: t = b)
        t = self.namer.temp(block_local=False)
        out.append(assign(t, self.simple(e.values[0], out), like=e))
        for v in e.values[1:]:
            inner = []
            inner.append(assign(t, self.simple(v, inner), like=v))
            test = name(t)
            if isinstance(e.op, gast.Or):
                test = gast.UnaryOp(op=gast.Not(), operand=test)
            c = self.namer.numbered("_c")
            out.append(assign(c, test, like=e))
            out.append(copy_location(gast.If(test=name(c), body=inner, orelse=[]), e))
        return name(t)

    def expr_IfExp(self, e, out):
        t = self.namer.temp(block_local=False)
        test = self.condition(e.test, out)
        body, orelse = [], []
        body.append(assign(t, self.simple(e.body, body), like=e.body))
        orelse.append(assign(t, self.simple(e.orelse, orelse), like=e.orelse))
        out.append(copy_location(gast.If(test=test, body=body, orelse=orelse), e))
        return name(t)

    def check_expr(self, e, whole=True):
        """Reject constructs hidden in expressions that are kept whole (a lambda given
        as ``key=`` of ``min``, ``max`` or ``sorted`` excepted: ``keyed`` inlines it
        where the expression is flattened, in ``if`` and ``while`` tests too; and so is
        the lambda of ``map(lambda v: e, xs)``, which becomes ``(e for v in xs)``)."""
        keys = set()
        for n in walk(e):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) \
                    and n.func.id in ("min", "max", "sorted"):
                keys.update(id(k.value) for k in n.keywords
                            if k.arg == "key" and isinstance(k.value, gast.Lambda))
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) \
                    and n.func.id == "map" and n.args and not n.keywords \
                    and _plain_lambda(n.args[0], len(n.args) - 1):
                keys.add(id(n.args[0]))          # map(lambda v: ..., xs): a generator
        for n in walk(e):
            kind = type(n).__name__
            if kind == "Lambda" and id(n) in keys:
                continue
            if kind in ("Lambda", "Yield", "YieldFrom", "Await", "SetComp", "DictComp",
                        "Starred") or (kind == "NamedExpr" and whole):
                raise errors.unsupported(n, self.ctx, kind)


# builtins iterating their arguments (map and filter: those after the function)
_ITERATING = {"list", "tuple", "sorted", "sum", "min", "max", "set", "frozenset", "enumerate",
              "zip", "reversed", "any", "all", "iter", "map", "filter"}


def _iterated_dicts_by_key(tree, norm):
    """``for k in d``, ``[... for k in d]``, ``list(d)``, ``sorted(d)``, ``max(d, ...)`` of a
    dict (``Normalizer._maybe_dict``) iterate its keys: written ``d.keys()`` (whose items
    carry no derivative), else the keys were taken for items of the dict's values and
    got their derivatives (a silent wrong gradient)."""
    def keys(e):
        call = gast.Call(func=gast.Attribute(value=e, attr="keys", ctx=gast.Load()),
                         args=[], keywords=[])
        return copy_location(call, e)

    for n in walk(tree):
        if isinstance(n, (gast.For, gast.comprehension)):
            if norm._maybe_dict(n.iter):
                n.iter = keys(n.iter)
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Name) \
                and n.func.id in _ITERATING and norm._is_builtin(n.func, _ITERATING):
            first = 1 if n.func.id in ("map", "filter") else 0
            n.args[first:] = [keys(a) if norm._maybe_dict(a) else a for a in n.args[first:]]


# builtins whose value, for a dict argument, is made of its keys (sum(d): their sum), and
# whose derivative code reads the argument by position (reversed, zip, enumerate: a loop
# over as_sequence of it, which checks)
_KEY_READERS = ("list", "tuple", "sorted", "sum", "min", "max")
# builtins surely giving no dict
_NO_DICT_MAKERS = frozenset(("list", "tuple", "sorted", "range", "zip", "enumerate",
                             "reversed", "map", "filter", "set", "frozenset", "str",
                             "len", "abs", "float", "int", "round", "bool"))


def _unknown_iterables(tree, norm):
    """``list(v)``, ``sum(v)``, ``sorted(v)``, ``min(v)``, ``max(v)``, ``tuple(v)`` of a
    value ``v`` the function may get as a dict without showing it (what a call of your
    function, an item or an attribute gave): ``v`` written ``as_sequence(v)``, which
    refuses a dict when the code runs (``runtime.as_sequence``), as a loop over ``v``
    does. Else the dict's keys were taken for items carrying its values' derivatives (a
    silent wrong gradient in forward mode, a crash in reverse mode). Values surely no
    dict (``_surely_not_dict``) and dicts the source shows (``_iterated_dicts_by_key``)
    are left as they are, and so is a name checked by an earlier statement of the
    block (or of a block around it) and not bound again since."""
    from . import runtime
    ctx = norm.ctx

    def wrap(n):
        a = n.args[0]
        fn = name(ctx.inject("as_sequence", runtime.as_sequence))
        n.args[0] = copy_location(gast.Call(func=fn, args=[a], keywords=[]), a)

    def calls(node, sure, out):
        """The calls to check in the expression ``node``, as (call, sure); ``sure``:
        evaluated whenever the statement is (not under a conditional expression, an
        and/or, a comprehension or a lambda)."""
        for child in gast.iter_child_nodes(node):
            calls(child, sure and not isinstance(
                node, (gast.IfExp, gast.BoolOp, gast.comprehension, gast.ListComp,
                       gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.Lambda)), out)
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
                and node.func.id in _KEY_READERS and node.args \
                and not isinstance(node.args[0], gast.Starred) \
                and (node.func.id not in ("min", "max") or len(node.args) == 1) \
                and norm._is_builtin(node.func, _KEY_READERS) \
                and not norm._maybe_dict(node.args[0]):
            out.append((node, sure))

    def statement(node, checked):
        """Check the calls of one statement's own expressions; return the names
        checked whenever it runs. Of a name's calls, one evaluated whenever the
        statement is suffices (the statement raises before it ends)."""
        found, out = set(), []
        calls(node, True, out)
        out = [(c, sure) for c, sure in out if not (isinstance(c.args[0], gast.Name)
                                                   and c.args[0].id in checked)]
        surely = {c.args[0].id for c, sure in out if sure and isinstance(c.args[0], gast.Name)}
        for c, sure in out:
            a = c.args[0]
            if isinstance(a, gast.Name) and a.id in surely:
                if a.id in found:
                    continue
                if not sure:
                    continue
            if _surely_not_dict(a, norm, set()):
                continue
            wrap(c)
            if isinstance(a, gast.Name) and sure:
                found.add(a.id)
        return found

    def block(stmts, checked):
        checked = set(checked)
        for st in stmts:
            found = set()
            if isinstance(st, (gast.If, gast.While)):
                found = statement(st.test, checked)
            elif isinstance(st, gast.For):
                found = statement(st.iter, checked)
                if isinstance(st.iter, gast.Name):
                    found.add(st.iter.id)       # (its loop checks it: as_sequence)
            elif isinstance(st, (gast.FunctionDef, gast.ClassDef)):
                continue
            elif not hasattr(st, "body"):
                found = statement(st, checked)
            inner = checked | found
            for field in ("body", "orelse"):
                if isinstance(getattr(st, field, None), list):
                    block(getattr(st, field), inner)
            checked |= found
            checked -= {v.id for v in walk(st) if isinstance(v, gast.Name)
                        and not isinstance(v.ctx, gast.Load)}

    block(tree.body, ())
    block = calls = None  # noqa: F811, F841 - empties the cells (cycles holding the tree)


def _unpacked_count(target):
    """The number of names of the loop target ``target`` (``a, b``), or None: a single
    name, or a starred one (``a, *rest``)."""
    if not isinstance(target, (gast.Tuple, gast.List)) \
            or any(isinstance(e, gast.Starred) for e in target.elts):
        return None
    return len(target.elts)


def _stops_early(body):
    """The loop body ``body`` may end the loop before its last item: a ``break`` of its
    own, not of a loop inside; desugar's ``if _brk1: break`` (``LOOP_EXIT``) only where
    the body sets ``_brk1`` (a ``break`` or ``return`` in it, not a ``continue``)."""
    todo, flags = list(body), set()
    for n in todo:
        if isinstance(n, gast.If) and anno.get(n, anno.Key.LOOP_EXIT) \
                and isinstance(n.test, gast.Name):
            flags.add(n.test.id)
        elif isinstance(n, (gast.Break, gast.Return)):
            return True
        elif not isinstance(n, (gast.For, gast.While, gast.FunctionDef)):
            todo.extend(statement_children(n))
    return bool(flags) and any(
        isinstance(t, gast.Name) and t.id in flags
        for n in statements(body) if isinstance(n, gast.Assign) for t in n.targets)


def _tuple_returns(fdef):
    """``n`` where every ``return`` of the function ``fdef`` defined in the function
    (not of one inside it) gives a tuple display of ``n`` items, none starred."""
    todo, lengths = list(fdef.body), set()
    for n in todo:
        if isinstance(n, gast.Return):
            v = n.value
            lengths.add(len(v.elts) if isinstance(v, gast.Tuple) and not any(
                isinstance(e, gast.Starred) for e in v.elts) else None)
        elif not isinstance(n, (gast.FunctionDef, gast.Lambda)):
            todo.extend(statement_children(n))
    return lengths.pop() if len(lengths) == 1 else None


def _unpacking(s):
    """``s`` is ``a, b = value`` (one target, a tuple or list)."""
    return isinstance(s, gast.Assign) and len(s.targets) == 1 \
        and isinstance(s.targets[0], (gast.Tuple, gast.List))


def _not_indexable(e, norm):
    """``e`` makes a dict view (``d.values()``) or an iterator (``zip(...)``), which
    unpacking takes item by item but which cannot be indexed."""
    if not isinstance(e, gast.Call):
        return False
    if isinstance(e.func, gast.Attribute):
        return e.func.attr in ("keys", "values", "items") and not e.args
    return norm._is_builtin(e.func, ("zip", "map", "filter", "reversed", "iter",
                                     "enumerate"))


def _surely_not_dict(e, norm, seen):
    """``e`` surely holds no dict: a display or comprehension of another kind, a
    constant, arithmetic, a builtin making no dict, a NumPy function, ``.keys()``,
    ``.values()``, ``.items()``, an argument no dict was passed for, or a local name
    every binding of which (plain assignments only) is such a value."""
    ctx = norm.ctx
    if isinstance(e, (gast.List, gast.Tuple, gast.Set, gast.ListComp, gast.SetComp,
                      gast.GeneratorExp, gast.Constant, gast.JoinedStr, gast.BinOp,
                      gast.UnaryOp, gast.Compare)):
        return True
    if isinstance(e, gast.IfExp):
        return _surely_not_dict(e.body, norm, seen) and _surely_not_dict(e.orelse, norm, seen)
    if isinstance(e, gast.Call):
        f = e.func
        if isinstance(f, gast.Name) and f.id in _NO_DICT_MAKERS:
            return norm._is_builtin(f, _NO_DICT_MAKERS)
        if isinstance(f, gast.Attribute) and f.attr in ("keys", "values", "items") \
                and not e.args:
            return True
        made = _global(f, ctx)
        module = getattr(made, "__module__", None)
        if isinstance(module, str) and module.split(".")[0] == "numpy":
            return True
        from .parse import returns_no_dict
        return isinstance(made, types.FunctionType) and returns_no_dict(made)
    if not isinstance(e, gast.Name) or e.id in norm.nested:
        return False
    if e.id in seen or norm.tree is None or e.id in ctx.dicts:
        return False
    seen.add(e.id)
    values, stores = norm.bound(e.id)
    if stores != len(values) or not values and e.id not in ctx.params:
        return False            # bound otherwise too (a loop target, an unpacking, op=)
    return all(_surely_not_dict(v, norm, seen) for v in values)


def _is_dict_display(e):
    """``{...}``, ``{k: v for ...}`` or ``dict(k=v, ...)`` (no ``**``, no positional)."""
    if isinstance(e, (gast.Dict, gast.DictComp)):
        return True
    return isinstance(e, gast.Call) and isinstance(e.func, gast.Name) \
        and e.func.id == "dict" and not e.args and all(k.arg for k in e.keywords)


def _dict_names(tree, ctx):
    """The names that hold dicts wherever they are read: parameters known to hold
    dicts (``Context.dicts``) and never bound again (``p = Wrapper(p)`` may hold
    anything), and locals bound only by plain assignments of dict displays
    (``_is_dict_display``), never by a loop, an unpacking or an ``op=``."""
    if not ctx.dicts and not any(s.__class__ is gast.Assign and _is_dict_display(s.value)
                                 for s in statements(tree.body)):
        return frozenset()
    displays, plain, other = {}, set(), set()
    for n in walk(tree):        # (breadth first: an assignment before its target)
        if isinstance(n, gast.Assign) and len(n.targets) == 1 \
                and isinstance(n.targets[0], gast.Name):
            t = n.targets[0]
            displays[t.id] = displays.get(t.id, True) and _is_dict_display(n.value)
            plain.add(id(t))
        elif isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)) \
                and id(n) not in plain:
            other.add(n.id)
    names = set(ctx.dicts) - other - set(displays)
    for v, only in displays.items():
        if only and v not in other and (v not in ctx.params or v in ctx.dicts):
            names.add(v)
    return frozenset(names)


def _deleted_read(tree, dele, n):
    """A read of ``n`` that may run after ``del n`` (the statement ``dele``), or None.

    Safe are reads before the statement in the source, outside the loops around it,
    and, in the innermost loop around it, reads after the loop body's first statement
    naming ``n``, when that is ``n = <value not reading n>`` at the top of the body
    (so each trip binds ``n`` again before reading it)."""
    loops = []

    def find(stmts, around):
        for s in stmts:
            if s is dele:
                loops.extend(around)
                return True
            inner = around + [s] if isinstance(s, (gast.For, gast.While)) else around
            if any(find(getattr(s, f), inner) for f in ("body", "orelse")
                   if isinstance(getattr(s, f, None), list)):
                return True
        return False

    find(tree.body, [])

    def reads(node):
        return [r for r in walk(node) if isinstance(r, gast.Name) and r.id == n
                and isinstance(r.ctx, gast.Load)]

    at = (dele.lineno, dele.col_offset)
    later = [r for r in reads(tree) if (r.lineno, r.col_offset) > at]
    if later:
        return later[0]
    if not loops:
        return None
    inner, outer = loops[-1], loops[0]
    inside = {id(r) for r in reads(inner)}
    stray = [r for r in reads(outer) if id(r) not in inside]
    if stray:
        return stray[0]
    for s in inner.body:
        if not any(isinstance(r, gast.Name) and r.id == n for r in walk(s)):
            continue
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name) and s.targets[0].id == n \
                and not reads(s.value):
            return None
        break
    found = reads(inner) or [dele]
    return found[0]


def _first_return(tree):
    """The first ``return`` of the function in source order (depth first), not one
    of a function defined inside it; None when it has none. Only statements are
    visited: a return is never inside an expression."""
    todo = list(reversed(tree.body))
    while todo:
        node = todo.pop()
        if isinstance(node, gast.Return):
            return node
        if not isinstance(node, gast.FunctionDef):
            todo.extend(reversed(statement_children(node)))
    return None


# builtins that read a list passed to them and leave its length as it is
_READS_LIST = {"len", "sum", "min", "max", "sorted", "list", "tuple", "enumerate", "zip",
               "reversed", "iter", "abs", "float", "int", "range", "print", "any", "all",
               "map", "isinstance"}


def _may_resize_argument(call, arg, ctx):
    """The user function called by ``call`` may change the length of the list passed as
    ``arg`` (the normal form reads the length of the list a loop iterates over once,
    where CPython's loop sees it grow); see ``_resizes``."""
    from .shapes import callee
    fn = callee(call, ctx)
    if any(k.value is arg for k in call.keywords):
        return _resizes(fn, next(k.arg for k in call.keywords if k.value is arg), None)
    i = call.args.index(arg)
    if any(isinstance(a, gast.Starred) for a in call.args[:i + 1]):
        return True
    return _resizes(fn, None, i)


def _resizes(fn, keyword, position, depth=0):
    """The function ``fn`` may change the length of the list passed to it by ``keyword``
    or at ``position``: its parameter is resized in its body (``p.append(v)``, ``del
    p[i]``, ``p[1:] = ...``, ``p += ...``), or passed on to a function of the user's that
    may, or to one that is neither a builtin reading it nor a library function (``heapq``
    and ``bisect`` resize); True where its source cannot be read."""
    from .activity import is_user_function
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        params = list(inspect.signature(fn).parameters)
    except (TypeError, OSError, SyntaxError, ValueError):
        return True
    if depth > 4:
        return True
    if keyword is not None:
        p = keyword
    elif position < len(params):
        p = params[position]
    else:
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                    and f.value.id == p and f.attr in _RESIZING:
                return True
            for k, a in list(enumerate(node.args)) + [(kw.arg, kw.value)
                                                       for kw in node.keywords]:
                if not (isinstance(a, ast.Name) and a.id == p):
                    continue
                if isinstance(f, ast.Name) and f.id in _READS_LIST \
                        and getattr(builtins, f.id, None) is fn.__globals__.get(
                            f.id, getattr(builtins, f.id, None)):
                    continue
                obj = _resolve(f, fn)
                if obj is None or isinstance(k, int) and any(
                        isinstance(b, ast.Starred) for b in node.args[:k + 1]):
                    return True
                if is_user_function(obj):
                    if _resizes(obj, k if isinstance(k, str) else None,
                                k if isinstance(k, int) else None, depth + 1):
                        return True
                elif getattr(obj, "__module__", None) in ("heapq", "bisect", "_heapq",
                                                          "_bisect"):
                    return True
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else \
            [node.target] if isinstance(node, ast.AugAssign) else []
        for t in targets:
            if isinstance(t, ast.Name) and t.id == p and isinstance(node, ast.AugAssign):
                return True                     # p += [...] extends the list
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) \
                    and t.value.id == p and (isinstance(node, ast.Delete)
                                             or isinstance(t.slice, ast.Slice)):
                return True
    return False


def _resolve(f, fn):
    """The object the expression ``f`` (a name or a dotted name) names in ``fn``'s
    module, or None."""
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if not isinstance(f, ast.Name):
        return None
    g = fn.__globals__
    if f.id in g:
        obj = g[f.id]
    elif hasattr(builtins, f.id):
        obj = getattr(builtins, f.id)
    else:
        return None
    for a in reversed(parts):
        obj = getattr(obj, a, None)
        if obj is None:
            return None
    return obj


_NOTHING = object()


def _global(node, ctx):
    """The object the dotted name ``node`` (``np.add.at``, ``itertools.product``) stands
    for in the function's globals, closure or builtins, or ``_NOTHING``: not a dotted
    name, one of the function's locals, or not found."""
    path = dotted_name(node)
    if path is None or path.split(".")[0] in ctx.local_names:
        return _NOTHING
    try:
        return ctx.lookup(path)
    except (KeyError, ValueError, AttributeError):
        return _NOTHING


# builtins making an iterator that Python reads once (map: see Normalizer._read_once)
_ITERATOR_MAKERS = ("zip", "enumerate", "filter", "iter")


def _is_call_of(node, fname):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
        and node.func.id == fname


def _root(node):
    while isinstance(node, gast.Attribute):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def _plain_lambda(node, n):
    """``node`` is a lambda of ``n`` plain parameters (no defaults, ``*``, keywords)."""
    if not isinstance(node, gast.Lambda):
        return False
    a = node.args
    return len(a.args) == n and not (a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg
                                     or a.defaults)


def _is_dotted(node):
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name)


def _tail_returns(stmts):
    """True when every path through ``stmts`` ends in a return in tail position."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, gast.Return):
        return True
    if isinstance(last, gast.If):
        return _tail_returns(last.body) and _tail_returns(last.orelse)
    return False


def _check_returns(stmts, ctx, tail):
    """Every return must sit in tail position; anything else is unsupported."""
    for i, s in enumerate(stmts):
        is_last = tail and i == len(stmts) - 1
        if isinstance(s, gast.Return) and not is_last:
            raise errors.unsupported(s, ctx, "Return")
        if isinstance(s, gast.If):
            _check_returns(s.body, ctx, is_last)
            _check_returns(s.orelse, ctx, is_last)
        elif isinstance(s, (gast.For, gast.While)):
            _check_returns(s.body, ctx, False)
            _check_returns(s.orelse, ctx, False)
        elif isinstance(s, (gast.Try, gast.With)):
            continue


def _check_nested_names(tree, ctx):
    """A function defined inside the function (``def g`` or ``g = lambda ...``) is
    inlined at its calls as the one definition of its name the normalizer met last
    (``Normalizer.nested``, one table for the whole tree): ``def g`` in both branches of
    an if, or again in a loop, would always run the last one written. Refused, located
    at the second binding: a name bound by a nested definition must be bound once in
    its scope (no other def, lambda, assignment or parameter of that name), and a
    nested def's name defined once in the whole function."""
    defs = [s for s in statements(tree.body) if isinstance(s, gast.FunctionDef)
            or isinstance(s, gast.Assign) and isinstance(s.value, gast.Lambda)
            and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)]
    if not defs:
        return
    bindings = {}           # (scope, name) -> binding nodes
    def_names = {}          # name -> its nested definitions, in every scope

    def bind(scope, nm, node, is_def=False):
        bindings.setdefault((id(scope), nm), []).append((node, is_def))
        if is_def:
            def_names.setdefault(nm, []).append(node)

    def params(fn, scope):
        a = fn.args
        for p in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
            if isinstance(p, gast.Name):
                bind(scope, p.id, p)

    params(tree, tree)
    todo = [(tree.body, tree)]          # (nodes to look into, their scope): no recursion
    while todo:
        nodes, scope = todo.pop()
        for child in nodes:
            if isinstance(child, gast.FunctionDef):
                bind(scope, child.name, child, True)
                todo.append((child.args.defaults
                             + [k for k in child.args.kw_defaults if k], scope))
                params(child, child)
                todo.append((child.body, child))
            elif isinstance(child, gast.Assign) and isinstance(child.value, gast.Lambda) \
                    and len(child.targets) == 1 and isinstance(child.targets[0], gast.Name):
                bind(scope, child.targets[0].id, child, True)
            elif isinstance(child, (gast.Lambda, gast.ListComp, gast.SetComp,
                                    gast.DictComp, gast.GeneratorExp)):
                continue        # scopes of their own, without statements
            elif isinstance(child, gast.Name) and isinstance(child.ctx, gast.Store):
                bind(scope, child.id, child)
            else:
                todo.append((list(gast.iter_child_nodes(child)), scope))

    def at(node):
        return (getattr(node, "lineno", 0) or 0, getattr(node, "col_offset", 0) or 0)

    found = []
    for (_, nm), nodes in bindings.items():
        if nm in def_names and any(d for _, d in nodes) and len(nodes) > 1:
            found.append((sorted(nodes, key=lambda nd: at(nd[0])), nm))
    for nm, nodes in def_names.items():
        if len(nodes) > 1:
            found.append((sorted([(n, True) for n in nodes], key=lambda nd: at(nd[0])), nm))
    if not found:
        return
    nodes, hint_name = min(found, key=lambda f: at(f[0][1][0]))
    first, second = nodes[0][0], nodes[1][0]
    raise errors.unsupported(
        second, ctx, "NestedRebound",
        f"{hint_name} is bound again here (first at line {first.lineno}): each call of "
        f"{hint_name} would run the definition written last, whichever one ran")


def _refuse_unsupported_statement(tree, ctx):
    """A statement the normalizer refuses (``match``, ``try``, ``with``) whose branches
    all return looks to the return check like a path reaching the end: name the
    statement, the first in the source, instead of a missing return."""
    bad = [n for n in walk(tree) if isinstance(n, gast.stmt) and n is not tree
           and not hasattr(Normalizer, "stmt_" + type(n).__name__)]
    if bad:
        first = min(bad, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
        raise errors.unsupported(first, ctx, type(first).__name__)


_MAYBE_MUTATING = None      # (set below _REFERENCED_METHODS)


def run(tree, ctx):
    norm = Normalizer(ctx)
    norm.walrus = ctx.may_contain(":=") and contains(tree, gast.NamedExpr)
    norm.tree = tree
    _check_nested_names(tree, ctx)
    norm.dict_names = _dict_names(tree, ctx)
    if norm.dict_names or ctx.may_contain("{") or ctx.may_contain("dict("):
        _iterated_dicts_by_key(tree, norm)
    if any(map(ctx.may_contain, _KEY_READERS)):
        _unknown_iterables(tree, norm)
    body = tree.body
    if ctx.mode == "reverse" and not norm.generated() and any(   # (a reverse sweep reads
            s.__class__ is gast.Assign and _view_of(s.value) for s in statements(body)):
        _check_stale_views(body, ctx)           # views after its restores)
    if ctx.may_contain("yield") and contains(tree, (gast.Yield, gast.YieldFrom)):        # reported: the first walk meets
        for n in walk(tree):
            if isinstance(n, (gast.Yield, gast.YieldFrom)):
                raise errors.unsupported(n, ctx, type(n).__name__)
    if (ctx.callee or ctx.params_escape) and not (body and isinstance(body[-1], gast.Return)):
        # a function called for what it does (push(lst, v)) returns None at its end
        end = body[-1] if body else tree
        body.append(copy_location(gast.Return(value=const(None)), end))
    if not norm.generated() and (ctx.source_text is None
                                 or _MAYBE_MUTATING.search(ctx.source_text)):
        _check_mutating_calls(tree, ctx)
    if not norm.generated() and _may_call_numpy(ctx):
        _check_numpy_writes(tree, ctx)
    first_return = _first_return(tree)
    if first_return is None:
        _refuse_unsupported_statement(tree, ctx)
        raise errors.unsupported(tree, ctx, "NoReturn")
    _check_returns(body, ctx, True)
    ctx.return_node = first_return
    if isinstance(body[-1], gast.Return):
        new_body = norm.block(body)
    elif _tail_returns(body):
        norm.result = ctx.namer.fresh("_result")
        new_body = norm.block(body)
        ret = gast.Return(value=name(norm.result))
        new_body.append(copy_location(ret, body[-1]))
    else:
        _refuse_unsupported_statement(tree, ctx)
        raise errors.unsupported(body[-1], ctx, "NoReturn",
                                 "some paths reach the end without returning")
    # writes into arguments, after a[i] += v became a[i] = a[i] + v
    stores = {}
    for s in statements(new_body):
        if isinstance(s, gast.Assign):
            for t in s.targets:
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    stores.setdefault(t.value.id, s)          # the first write
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
                and isinstance(s.value.func, gast.Name) and s.value.args \
                and isinstance(s.value.args[0], gast.Name) \
                and ctx.injected.get(s.value.func.id) is runtime.index_add \
                and not norm.generated():                # np.add.at(a, i, v)
            stores.setdefault(s.value.args[0].id, s)
    unbound = [b for b in stores if b not in ctx.local_names]
    if unbound:     # G[i] = v into a global (callers see it), or into a renamed local
        bound = set()                       # of an inlined nested function
        for s in statements(new_body):
            for t in getattr(s, "targets", None) or [getattr(s, "target", None)]:
                if t is not None:
                    bound |= {n.id for n in walk(t) if isinstance(n, gast.Name)
                              and isinstance(n.ctx, gast.Store)}
        for base in unbound:
            if base not in bound:
                ctx.global_stores[base] = stores[base]
    copies = []
    for p in ctx.params:
        if p in stores and ctx.callee:     # the caller would see the write: not modelled
            raise errors.unsupported(stores[p], ctx, "CalleeWrite", p)
        if p in stores and ctx.params_escape:   # the caller sees it (aliasing.check_views)
            ctx.param_stores[p] = stores[p]
        if p in stores and _stores_before_rebinding(p, new_body, stores):
            ctx.param_changes.setdefault(p, stores[p])
        if p in stores:      # never mutate the caller's arrays
            fn = name(ctx.inject("copy_of", runtime.copy_of))
            copies.append(assign(p, gast.Call(func=fn, args=[name(p)], keywords=[]), like=tree))
    _method_changes(new_body, ctx)
    if not (ctx.callee or ctx.params_escape or norm.generated()):
        # nor the caller's lists and dicts: a gradient call leaves its arguments as they
        # were in every mode (reverse mode's sweep would undo an append, forward mode's
        # would not), as for the stores above
        # (and the parameters a function of yours it calls changes: fill(L, v), found by
        # a first run of the passes, pipeline.run; argcheck still reads them as changed)
        for p, where in ctx.callee_changed.items():
            ctx.param_changes.setdefault(p, where)
        for p in ctx.params:
            if p not in stores and p in ctx.param_changes and p != ctx.tape_param:
                fn = name(ctx.inject("copy_of", runtime.copy_of))
                copies.append(assign(p, gast.Call(func=fn, args=[name(p)], keywords=[]),
                                     like=tree))
    ctx.entry_copies = {c.targets[0].id for c in copies}
    tree.body = copies + new_body
    if ctx.has_aux:
        _split_aux(tree, ctx)
    return tree


def _stores_before_rebinding(p, body, stores):
    """The parameter ``p`` may be stored into (``stores``: name -> a store, found by
    ``run``) while it holds the caller's object: not when every store comes after a
    statement of the function's body rebinding it (``p = np.zeros(3)`` first)."""
    return _changed_before_rebinding(p, body, lambda inner: inner is stores[p] or (
        isinstance(inner, gast.Assign) and any(
            isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name)
            and t.value.id == p for t in inner.targets)))


def _changed_before_rebinding(p, body, changes):
    """Some statement ``changes`` tells changes ``p`` may run while ``p`` still holds
    the caller's object: before a statement of the function's body rebinding it."""
    for s in body:
        if isinstance(s, gast.Assign) and any(isinstance(t, gast.Name) and t.id == p
                                              for t in s.targets):
            return False
        if any(changes(inner) for inner in statements([s])):
            return True
    return False


# methods changing their object in place (of lists, dicts, sets, arrays): called on a
# parameter, the caller's object changes (api: such a call is refused where another
# argument is the same object)
_MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort", "update",
    "setdefault", "popitem", "add", "discard", "fill", "put", "itemset", "resize",
    "partition", "setfield", "setflags", "__setitem__", "__delitem__", "__iadd__",
    "__isub__", "__imul__", "__itruediv__"})
# NumPy functions changing their first argument in place
_MUTATING_FUNCTIONS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal",
                                 "put_along_axis", "at"})


def _changed_by_call(node, params):
    """The parameters the call ``node`` may change in place: its receiver, by a method
    of ``_MUTATING_METHODS``; the first argument of a NumPy function of
    ``_MUTATING_FUNCTIONS`` (``np.copyto(a, v)``, ``np.add.at(a, i, v)``); an ``out=``
    argument."""
    found = set()
    f = node.func
    if isinstance(f, gast.Attribute):
        if f.attr in _MUTATING_METHODS and isinstance(f.value, gast.Name):
            found.add(f.value.id)
        if f.attr in _MUTATING_FUNCTIONS and node.args and isinstance(node.args[0], gast.Name):
            found.add(node.args[0].id)
    for k in node.keywords:
        if k.arg == "out":
            found |= {n.id for n in walk(k.value) if isinstance(n, gast.Name)}
    return found & params


def _method_changes(body, ctx):
    """Record in ``ctx.param_changes`` the parameters a call in ``body`` changes in place
    (``_changed_by_call``) while they hold the caller's objects."""
    # (a number is never changed in place: the parameters known to hold one are not
    # looked for, and most functions have no other)
    params = {p for p in ctx.params if ctx.kinds.get(p) != "S"}
    if not params:
        return
    found = {}
    for s in statements(body):
        for node in walk(s) if not isinstance(s, (gast.If, gast.For, gast.While)) else \
                walk(getattr(s, "test", None) or s.iter):
            if isinstance(node, gast.Call):
                for p in _changed_by_call(node, params):
                    found.setdefault(p, s)
    for p, s in found.items():
        if p not in ctx.param_changes and _changed_before_rebinding(
                p, body, lambda inner, p=p: any(
                    isinstance(n, gast.Call) and p in _changed_by_call(n, params)
                    for n in (walk(inner) if not isinstance(
                        inner, (gast.If, gast.For, gast.While)) else ()))):
            ctx.param_changes[p] = s


# methods changing their list, dict, set or array in place and returning None (or the
# object itself: __iadd__): the passes differentiate the calls of some of them only as
# statements of their own (``L.append(v)``); called anywhere else (``y = L.append(v)``,
# in a comprehension, a lambda, an and/or, a conditional expression) the change went
# unseen by the derivative code, a silent zero or wrong gradient (_check_mutating_calls)
_INPLACE_OPS = {"__iadd__": "+=", "__isub__": "-=", "__imul__": "*=", "__itruediv__": "/=",
                "__ifloordiv__": "//=", "__imod__": "%=", "__ipow__": "**=",
                "__imatmul__": "@=", "__iand__": "&=", "__ior__": "|=", "__ixor__": "^=",
                "__ilshift__": "<<=", "__irshift__": ">>="}
_VALUELESS_METHODS = frozenset({
    "append", "extend", "insert", "remove", "clear", "reverse", "sort", "update", "add",
    "discard", "difference_update", "intersection_update", "symmetric_difference_update",
    "fill", "put", "itemset", "resize", "partition", "setfield", "setflags",
    "__setitem__", "__delitem__", *_INPLACE_OPS})
# ... and those passed on as a function value (map(L.append, xs), f = L.pop): any of them
_REFERENCED_METHODS = _VALUELESS_METHODS | _MUTATING_METHODS | {"popitem", "setdefault"}
_CONTAINERS = (list, dict, set, bytearray, np.ndarray)
_CONTAINER_DISPLAYS = (gast.List, gast.Dict, gast.Set, gast.ListComp, gast.DictComp,
                       gast.SetComp)


def _text(node):
    try:
        return ast.unparse(gast.gast_to_ast(node))
    except Exception:           # (a node gast cannot give back)
        return "the object"


def _made_by_class(n, tree, ctx):
    """The local ``n`` is bound, somewhere in the function, to an object a class of
    its own makes (``s = Stack()``): its methods are not a list's."""
    for node in walk(tree):
        if isinstance(node, gast.Assign) and isinstance(node.value, gast.Call) \
                and any(isinstance(t, gast.Name) and t.id == n for t in node.targets):
            made = _global(node.value.func, ctx)
            if inspect.isclass(made) and not issubclass(made, _CONTAINERS):
                return True
    return False


def _container(recv, tree, ctx):
    """``recv``, the object a method is called on, may be a list, dict, set or array
    of the function (a local, a parameter, an item or attribute of one, a display) or
    a global one; not an object of a class of yours (``ctx.receivers``, a local bound
    to ``C(...)``), a module or another global object."""
    if isinstance(recv, _CONTAINER_DISPLAYS):
        return True
    path = dotted_name(recv)
    root = recv
    while isinstance(root, (gast.Attribute, gast.Subscript)):
        root = root.value
    if not isinstance(root, gast.Name):
        return False
    if path is not None and path in ctx.receivers:
        return False
    if root.id in ctx.local_names:
        return not (root.id in ctx.receivers and recv is root) \
            and not (recv is root and _made_by_class(root.id, tree, ctx))
    if path is None:
        return False
    try:
        obj = ctx.lookup(path)
    except (KeyError, ValueError, AttributeError):
        return False
    return isinstance(obj, _CONTAINERS) or obj in _CONTAINERS


def _may_be_array(e, tree, ctx):
    """The receiver ``e`` of a method may be an array: a container of the function
    (``_container``: ``b`` of ``b.clip(lo, hi, b)``), or an array computed from one,
    by an ndarray method or attribute (``x.reshape(2, 2).mean(0, None, o)``,
    ``B.T.dot(C, o)``), an index (``B[0].cumsum(0, None, o)``), arithmetic
    (``(x * 2.0).cumsum(0, None, o)``) or a NumPy function (``np.exp(x).sum(0, None,
    o)``)."""
    if _container(e, tree, ctx):
        return True
    if isinstance(e, gast.BinOp):
        return _may_be_array(e.left, tree, ctx) or _may_be_array(e.right, tree, ctx)
    if isinstance(e, gast.UnaryOp):
        return _may_be_array(e.operand, tree, ctx)
    if isinstance(e, gast.Subscript):
        return _may_be_array(e.value, tree, ctx)
    if isinstance(e, gast.Attribute):
        return hasattr(np.ndarray, e.attr) and _may_be_array(e.value, tree, ctx)
    if isinstance(e, gast.Call):
        # what a function returns (NumPy's, yours: g(x).sum(0, None, o)), not an object
        # a class makes
        obj = _global(e.func, ctx)
        if obj is not _NOTHING:
            return not isinstance(obj, type) or issubclass(obj, np.ndarray)
        # (a method of an array, or of another object: self.forward(x))
        return not isinstance(e.func, gast.Attribute) or _may_be_array(e.func.value, tree, ctx) \
            or not hasattr(np.ndarray, e.func.attr)
    return False


_WHERE = {gast.Lambda: "in the body of a lambda", gast.ListComp: "in a list comprehension",
          gast.SetComp: "in a set comprehension", gast.DictComp: "in a dict comprehension",
          gast.GeneratorExp: "in a generator expression",
          gast.BoolOp: "as an operand of and/or",
          gast.IfExp: "in a conditional expression (a if c else b)"}


def _check_mutating_calls(tree, ctx):
    """Refuse, located, a method changing a list, dict or array in place
    (``_VALUELESS_METHODS``) called anywhere but as the whole of an expression
    statement, and such a method (``_REFERENCED_METHODS``) referenced without a call
    (``map(L.append, xs)``, ``f = L.append``): the passes see the change only in a
    statement ``L.append(v)`` (``Normalizer.list_method``, ``activity``); elsewhere the
    call ran but no derivative went through it."""
    found = []
    statement_calls = set()

    def visit(node, where, called):
        if isinstance(node, gast.Expr) and isinstance(node.value, gast.Call):
            statement_calls.add(id(node.value))
        if isinstance(node, gast.Call):
            called = id(node.func)
            f = node.func
            if isinstance(f, gast.Attribute) and f.attr in _VALUELESS_METHODS \
                    and id(node) not in statement_calls and _container(f.value, tree, ctx):
                found.append((node, f, where or "whose value is used"))
        elif isinstance(node, gast.Attribute) and id(node) != called \
                and isinstance(node.ctx, gast.Load) and node.attr in _REFERENCED_METHODS \
                and _container(node.value, tree, ctx):
            found.append((node, node, "passed on as a function value, not called"))
        if isinstance(node, gast.stmt):
            where = None
        elif type(node) in _WHERE:
            where = _WHERE[type(node)]
        for child in gast.iter_child_nodes(node):
            visit(child, where, called if child is node.func else None) \
                if isinstance(node, gast.Call) else visit(child, where, None)

    visit(tree, None, None)
    if not found:
        return
    node, f, where = min(found, key=lambda t: (t[0].lineno, t[0].col_offset))
    recv = _text(f.value)
    method = f"{recv}.{f.attr}"
    if f is not node:
        method += "(...)" if node.args or node.keywords else "()"
    called = method if f is not node else f"{method}(...)"
    if f.attr == "sort":
        fix = f"write {recv} = sorted({recv}) as a statement of its own"
    elif f.attr == "__setitem__":
        fix = f"write the store as a statement, {recv}[i] = v"
    elif f.attr == "__delitem__":
        fix = f"build a new {recv} without the item"
    elif f.attr in _INPLACE_OPS:
        fix = f"write the update as a statement, {recv} {_INPLACE_OPS[f.attr]} v"
    else:
        fix = f"call {called} as a statement of its own (its value is None)"
    raise errors.mutating_call(node, ctx, f"{method} {where}", fix)


# NumPy functions changing their first argument in place, besides the ``.at`` of
# every ufunc (np.add.at: ``Normalizer.stmt_Expr``)
_NUMPY_WRITERS = (np.copyto, np.put, np.place, np.putmask, np.fill_diagonal,
                  np.put_along_axis)


def _numpy_callable(obj):
    """``obj`` is a function, ufunc, ufunc method or ndarray method of NumPy."""
    if isinstance(obj, np.ufunc) or isinstance(getattr(obj, "__self__", None), np.ufunc):
        return True
    if getattr(obj, "__objclass__", None) is np.ndarray:
        return True
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and module.split(".")[0] == "numpy" and callable(obj)


def _out_argument(obj, call, receiver=False):
    """How the call ``call`` of the NumPy callable ``obj`` gives it an ``out`` array:
    "by keyword", "as its positional argument N" (bound to the parameter named ``out``
    of its signature; for a ufunc, an argument past its ``nin`` inputs), or None.
    ``receiver``: ``obj`` is a method of the array the call is made on (``b.clip``)."""
    if any(k.arg == "out" and not _is_none(k.value) for k in call.keywords):
        return "by keyword"
    if any(isinstance(a, gast.Starred) for a in call.args) \
            or any(k.arg is None for k in call.keywords):
        return None                     # (which parameter each argument meets: unknown)
    n = len(call.args)
    if isinstance(obj, np.ufunc):
        given = [i for i in range(obj.nin, n) if not _is_none(call.args[i])]
        return f"as its positional argument {given[0] + 1}" if given else None
    if n + receiver < 3:
        return None     # (out comes third or later: np.dot(a, b, out), b.dot(c, out))
    try:
        bound = inspect.signature(obj).bind(*range(n + receiver),
                                            **{k.arg: None for k in call.keywords})
    except (TypeError, ValueError):     # no signature, or a call NumPy refuses itself
        return None
    k = bound.arguments.get("out")
    if not isinstance(k, int) or _is_none(call.args[k - receiver]):
        return None                     # (out=None: the call makes a new array)
    return f"as its positional argument {k + 1 - receiver}"


def _copy_false(call):
    """The call ``np.nan_to_num(x, ...)`` may replace the values of ``x`` in place: its
    ``copy`` (by keyword, or its second positional argument) is not the constant True
    (or what it is is not known: ``*args``, ``**kw``)."""
    if any(isinstance(a, gast.Starred) for a in call.args) \
            or any(k.arg is None for k in call.keywords):
        return True
    given = [k.value for k in call.keywords if k.arg == "copy"] + list(call.args[1:2])
    return any(not (isinstance(c, gast.Constant) and c.value is True) for c in given)


def _is_none(node):
    return isinstance(node, gast.Constant) and node.value is None


def _may_call_numpy(ctx):
    """The function may call NumPy (``_check_numpy_writes`` then walks the tree): a name
    its code reads (its comprehensions' and lambdas' too) is NumPy or one of its
    functions, or is an array method called as one (``.clip`` in the text)."""
    func, text = ctx.func, ctx.source_text
    code = getattr(func, "__code__", None)
    if code is None or text is None:
        return True
    names, todo = set(), [code]
    for c in todo:
        names.update(c.co_names)
        names.update(c.co_freevars)
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    for n in names:
        try:
            v = ctx.lookup(n)
        except (KeyError, ValueError, AttributeError):
            v = None
        if isinstance(v, types.ModuleType) and v.__name__.split(".")[0] == "numpy" \
                or v is not None and _numpy_callable(v) \
                or hasattr(np.ndarray, n) and "." + n in text:
            return True
    return False


def _check_numpy_writes(tree, ctx):
    """Refuse, located, a NumPy call writing into an array where the passes do not see
    the write (the value of the array they differentiate is the one before it, a
    silently wrong gradient):

    * an ``out`` argument, by keyword or by position (``np.tanh(b, out=b)``,
      ``np.tanh(b, b)``, ``np.sum(B, 0, None, s)``, ``b.clip(lo, hi, b)``), wherever
      the call is and whether its value is used or not (a statement ``np.tanh(b, b)``
      looked like a call changing nothing, and was dropped);
    * a function changing its first argument (``np.add.at``, every ufunc's ``.at``,
      ``np.copyto``, ``np.putmask``...) called anywhere but as the whole of an
      expression statement (``c = np.add.at(b, i, v)``, in a lambda, a comprehension,
      a conditional expression), where the passes see its change."""
    found = []
    writers = []        # calls of np.add.at, np.copyto...: where they are, found below
    for node in walk(tree):
        if node.__class__ is not gast.Call:
            continue
        f = node.func
        obj = _global(f, ctx)
        receiver = False
        if obj is _NOTHING and isinstance(f, gast.Attribute) \
                and (len(node.args) >= 2 or node.keywords) \
                and hasattr(np.ndarray, f.attr) \
                and _may_be_array(f.value, tree, ctx):   # b.clip(lo, hi, b)
            obj, receiver = getattr(np.ndarray, f.attr), True
        if obj is _NOTHING or not _numpy_callable(obj):
            continue
        how = _out_argument(obj, node, receiver)
        if how is not None:
            found.append((node, "out", how))
        elif not receiver and obj is np.nan_to_num and _copy_false(node):
            found.append((node, "copy", None))
        elif not receiver and (obj in _NUMPY_WRITERS or (
                isinstance(getattr(obj, "__self__", None), np.ufunc)
                and getattr(obj, "__name__", "") == "at")):
            writers.append(node)
    if writers:
        _misplaced_writers(tree, writers, found)
    if not found:
        return
    node, kind, how = min(found, key=lambda t: (t[0].lineno, t[0].col_offset))
    text = _text(node)
    if len(text) > 60:
        text = _text(node.func) + "(...)"
    if kind == "copy":
        raise errors.unsupported(node, ctx, "InPlaceNanToNum", text)
    if kind == "write":
        called = _text(node.func)
        raise errors.mutating_call(node, ctx, f"{called} {how}",
                                   f"call {called}(...) as a statement of its own (its "
                                   "value is None)")
    raise errors.unsupported(node, ctx, "OutArgument", f"{text}: out given {how}")


def _misplaced_writers(tree, writers, found):
    """Add to ``found`` each of the calls ``writers`` (of a NumPy function changing its
    first argument) that is not the whole of an expression statement, with where it is
    (in a lambda, a comprehension, ...)."""
    wanted = {id(c) for c in writers}
    statement_calls = {id(x.value) for x in walk(tree)
                       if isinstance(x, gast.Expr) and id(x.value) in wanted}
    todo = [(tree, None)]
    for node, where in todo:        # (the list grows while it is read)
        if id(node) in wanted and id(node) not in statement_calls:
            found.append((node, "write", where or "whose value is used"))
        if isinstance(node, gast.stmt):
            where = None
        elif type(node) in _WHERE:
            where = _WHERE[type(node)]
        todo.extend((child, where) for child in gast.iter_child_nodes(node))


def _bare_pop(value):
    """``lst.pop()`` of a name: a statement dropping the item is an assignment of it
    to a temporary, which the passes differentiate as a pop (its item's derivative
    goes back onto the list's)."""
    f = value.func
    return isinstance(f, gast.Attribute) and f.attr == "pop" and isinstance(f.value, gast.Name) \
        and not value.args and not value.keywords


def _split_aux(tree, ctx):
    """``return (value, aux)`` -> ``_aux = aux``; ``return value`` (the reverse pass
    returns ``_aux`` beside the gradient, untouched). Several returns (desugared into
    ``_result = (value, aux)`` in branches): each becomes ``_result = value`` and
    ``_auxv = aux``, and ``_aux = _auxv`` goes before the return."""
    ret = tree.body[-1]
    pair = None
    for s in reversed(tree.body[:-1]):
        if isinstance(ret.value, gast.Name) and isinstance(s, gast.Assign) and \
                isinstance(s.targets[0], gast.Name) and s.targets[0].id == ret.value.id:
            pair = s.value
            break
    if isinstance(pair, gast.Tuple) and len(pair.elts) == 2:
        ctx.aux_name = ctx.namer.fresh("_aux")
        value, aux = pair.elts
        tree.body[-1:] = [assign(ctx.aux_name, aux, like=ret),
                          copy_location(gast.Return(value=value), ret)]
        if s.targets[0].id in ctx.namer.temps:      # the pair made for the return: gone
            tree.body.remove(s)
        return
    if not _split_aux_in_branches(tree, ctx, ret):
        raise errors.ArgumentError(
            "has_aux=True needs the function to return (value, aux): end it with "
            "'return value, aux'",
            filename=ctx.filename, lineno=getattr(ret, "lineno", ctx.firstlineno),
            hint="return a pair: the value to differentiate and anything else")


def _split_aux_in_branches(tree, ctx, ret):
    """The returns desugared into ``_result = ...`` in branches, each a pair (or the
    ``None`` that starts the result): split as ``_split_aux`` says. False, and the
    tree unchanged, when some assignment of the result is not a pair."""
    result = ret.value.id if isinstance(ret.value, gast.Name) else None
    sites = []                  # (block, position) of each assignment of the result
    for block in blocks(tree.body):
        for k, s in enumerate(block):
            if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                    and isinstance(s.targets[0], gast.Name) and s.targets[0].id == result:
                v = s.value
                if not (isinstance(v, gast.Tuple) and len(v.elts) == 2
                        or isinstance(v, gast.Constant) and v.value is None):
                    return False
                sites.append((block, k))
    if result is None or not sites:
        return False
    part = ctx.namer.fresh("_auxv")
    ctx.aux_parts.add(part)
    for block, k in reversed(sites):        # later positions first: indices stay valid
        s = block[k]
        if isinstance(s.value, gast.Tuple):
            value, aux = s.value.elts
            s.value = value
        else:
            aux = const(None)
        block.insert(k + 1, assign(part, aux, like=s))
    ctx.aux_name = ctx.namer.fresh("_aux")
    tree.body.insert(len(tree.body) - 1, assign(ctx.aux_name, name(part), like=ret))
    return True


_MAYBE_MUTATING = re.compile(r"\.\s*(%s)\b" % "|".join(sorted(_REFERENCED_METHODS)))
