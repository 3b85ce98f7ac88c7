"""Stage 6: clean up the generated function.

Takes and gives a generated ``FunctionDef``. Runs to a fixed point:

* adjoint copy propagation: ``b_t3 = b_t5`` followed by uses of ``b_t3`` in
  the same block becomes uses of ``b_t5`` (safe because adjoints are never
  updated in place and both names are written once);
* removal of self-copies ``x = x`` and of ``b = a`` right after ``a = b``;
* dead code elimination: an adjoint (or template temporary) assigned and
  never read is removed (adjoint expressions have no side effects), and so is
  a copy or constant assigned to a name nobody reads.
"""

from __future__ import annotations

import gast

from .gastutil import Transformer, names, walk


def _counts(tree, body_names=None):
    """(stores, loads): how often each name is written and read. ``body_names``: the
    ``names`` of each statement of the body, when the caller has them."""
    if body_names is None:
        nodes = names(tree)
    else:
        body, tree.body = tree.body, []
        nodes = names(tree)
        tree.body = body
        nodes += [n for ns in body_names for n in ns]
    stores, loads = {}, {}
    for n in nodes:
        d = stores if isinstance(n.ctx, (gast.Store, gast.Param)) else loads
        d[n.id] = d.get(n.id, 0) + 1
    return stores, loads


def _deep_loads(node, node_names=None):
    """Counter of the names a statement (with everything nested in it) reads."""
    out = {}
    for n in names(node) if node_names is None else node_names:
        if isinstance(n.ctx, gast.Load):
            out[n.id] = out.get(n.id, 0) + 1
    return out


def _blocks(stmts):
    yield stmts
    for s in stmts:
        for attr in ("body", "orelse"):
            inner = getattr(s, attr, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                yield from _blocks(inner)


def _propagate(tree, ctx, touched=None):
    """One sweep of copy and constant propagation over every block.

    ``a = b`` (``b`` a name or a number) is removed and ``a`` replaced by ``b``
    in the rest of its block when ``a`` is an adjoint written once and read
    only later in that block, and ``b`` (if a name) is written once, before, in
    that block (or is a parameter never written). Returns whether it changed
    anything; adds the statements it rewrote to ``touched``.
    """
    top = [names(x) for x in tree.body]         # for the counts and the first block
    stores, loads = _counts(tree, top)
    params = {a.id for a in tree.args.args + tree.args.posonlyargs + tree.args.kwonlyargs}
    changed = False
    for block in list(_blocks(tree.body)):
        if block is tree.body:
            deep = [_deep_loads(x, ns) for x, ns in zip(block, top)]
        else:
            deep = [_deep_loads(x) for x in block]
        remaining = {}
        for d in deep:
            for k, v in d.items():
                remaining[k] = remaining.get(k, 0) + v
        defined_here = set()
        subst = {}
        keep = []
        for i, x in enumerate(block):
            for k, v in deep[i].items():
                remaining[k] -= v
            if subst and not subst.keys().isdisjoint(deep[i]):
                _Substitute(subst).visit(x)
                if touched is not None:
                    touched.add(x)
            pair = _copy_pair(x) or _const_pair(x)
            if pair is not None:
                a, b = pair
                ok = (ctx.namer.is_adjoint(a) and stores.get(a) == 1 and loads.get(a, 0) > 0
                      and remaining.get(a, 0) == loads.get(a, 0))
                if ok and isinstance(b, str):
                    ok = (b in params and stores.get(b, 1) == 1) or (
                        stores.get(b) == 1 and b in defined_here)
                    ok = ok and b != a
                if ok:
                    subst[a] = b
                    changed = True
                    continue
            if isinstance(x, gast.Assign):
                defined_here |= {t.id for t in x.targets if isinstance(t, gast.Name)}
            keep.append(x)
        block[:] = keep
    return changed


def _generated(ctx, n):
    return ctx.namer.is_adjoint(n) or (n in ctx.namer.temps and n not in ctx.primal_temps)


def _dead(tree, ctx):
    """Remove every dead adjoint, template temporary, copy or constant in one sweep."""
    _, loads = _counts(tree)
    params = set(ctx.params)
    changed = False
    for block in list(_blocks(tree.body)):
        keep = []
        for x in block:
            if isinstance(x, gast.Assign) and len(x.targets) == 1 \
                    and isinstance(x.targets[0], gast.Name):
                n = x.targets[0].id
                trivial = isinstance(x.value, (gast.Name, gast.Constant))
                if (_generated(ctx, n) or trivial) and not loads.get(n) and n not in params:
                    changed = True
                    continue
            keep.append(x)
        block[:] = keep
    return changed


def _swap_back(tree, ctx):
    """``a = b; ...; b = a`` with neither rebound in between: drop the second."""
    changed = False
    for block in list(_blocks(tree.body)):
        writes = {}          # name -> positions in this block of statements writing it
        for k, x in enumerate(block):
            for n in names(x):
                if isinstance(n.ctx, gast.Store):
                    writes.setdefault(n.id, []).append(k)
        drop = set()
        for i, x in enumerate(block):
            pair = _copy_pair(x)
            if pair is None or i in drop:
                continue
            a, b = pair
            after = [p for p in writes.get(a, []) + writes.get(b, []) if p > i]
            if after:
                k = min(after)
                if _copy_pair(block[k]) == (b, a):
                    drop.add(k)
        if drop:
            block[:] = [x for k, x in enumerate(block) if k not in drop]
            changed = True
    return changed


def _copy_pair(s):
    if isinstance(s, gast.Assign) and len(s.targets) == 1 \
            and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name):
        return s.targets[0].id, s.value.id
    return None


def _const_pair(s):
    if isinstance(s, gast.Assign) and len(s.targets) == 1 \
            and isinstance(s.targets[0], gast.Name) and _num(s.value) is not None:
        return s.targets[0].id, s.value.value
    return None


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
        self.kinds = ctx.var_kinds if ctx else {}
        self.active = ctx.active if ctx else set()
        self.namer = ctx.namer if ctx else None

    def _floaty(self, n):
        return n in self.active or (self.namer is not None and self.namer.is_adjoint(n))

    def _fresh_value(self, e):
        """``e`` surely holds floats (not ints) and is not a bare name of an array."""
        if isinstance(e, gast.Name):
            return self.kinds.get(e.id) == "S" and self._floaty(e.id)
        if any(isinstance(n, (gast.Compare, gast.BoolOp)) for n in walk(e)):
            return False        # booleans and their differences are ints
        return any(isinstance(n, gast.Call) or (isinstance(n, gast.Name) and self._floaty(n.id))
                   or (isinstance(n, gast.Constant) and type(n.value) is float)
                   for n in walk(e))

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        v = _num(node.operand)
        if isinstance(node.op, gast.USub) and v is not None:
            return gast.Constant(value=-v, kind=None)
        if isinstance(node.op, gast.USub) and isinstance(node.operand, gast.UnaryOp) \
                and isinstance(node.operand.op, gast.USub):
            return node.operand.operand
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right = node.left, node.right
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
            return gast.Constant(value=value, kind=None)
        return n


def _fold(fold, tree, only):
    """``fold.visit(tree)``, visiting of the statements only those in ``only`` (all if
    None): the others are left as they were after the last fold, so folding them again
    would change nothing. Returns the statements the fold changed (to fold again)."""
    body, tree.body = tree.body, []
    fold.visit(tree)                # arguments, decorators: tiny
    tree.body = body
    changed = set()
    _fold_block(fold, body, only, changed)
    return changed


def _fold_block(fold, stmts, only, changed):
    for s in stmts:
        if only is None or s in only:
            fold.changed = False
            fold.visit(s)           # statements are kept; expressions in them replaced
            if fold.changed:
                changed.add(s)
            continue
        for attr in ("body", "orelse"):
            inner = getattr(s, attr, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                _fold_block(fold, inner, only, changed)


def _empty_blocks(stmts):
    """Drop ``if`` statements left with nothing to do; give empty bodies a ``pass``."""
    out = []
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _empty_blocks(s.body)
            s.orelse = _empty_blocks(s.orelse)
            if isinstance(s, gast.If) and not s.body and not s.orelse \
                    and isinstance(s.test, (gast.Name, gast.Constant)):
                continue
            if not s.body:
                s.body = [gast.Pass()]
        if isinstance(s, gast.Pass) and out:
            continue
        out.append(s)
    return out


def run(tree, ctx):
    if not ctx.optimize:
        return tree
    if isinstance(tree, gast.Module):
        for fdef in tree.body:
            run(fdef, ctx)
        return tree
    fold = _Fold(ctx)
    refold = _fold(fold, tree, None)
    for _ in range(20):      # each sweep applies every change it finds; a few suffice
        touched = set()
        changed = _swap_back(tree, ctx)
        changed = _dead(tree, ctx) or changed
        changed = _propagate(tree, ctx, touched) or changed
        if not changed:
            break
        refold = _fold(fold, tree, refold | touched)
    tree.body = _empty_blocks(tree.body)
    return tree
