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

from .gastutil import rename


def _counts(tree):
    stores, loads = {}, {}
    for n in gast.walk(tree):
        if isinstance(n, gast.Name):
            d = stores if isinstance(n.ctx, (gast.Store, gast.Param)) else loads
            d[n.id] = d.get(n.id, 0) + 1
    return stores, loads


def _name_loads(nodes, var):
    return sum(1 for node in nodes for n in gast.walk(node)
               if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id == var)


def _blocks(stmts):
    yield stmts
    for s in stmts:
        for attr in ("body", "orelse"):
            inner = getattr(s, attr, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                yield from _blocks(inner)


def _copy_propagate(tree, ctx):
    stores, loads = _counts(tree)
    params = {a.id for a in tree.args.args + tree.args.posonlyargs + tree.args.kwonlyargs}
    for block in _blocks(tree.body):
        for i, s in enumerate(block):
            if not (isinstance(s, gast.Assign) and len(s.targets) == 1
                    and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name)):
                continue
            a, b = s.targets[0].id, s.value.id
            if a == b:
                del block[i]
                return True
            if not ctx.namer.is_adjoint(a) or stores.get(a) != 1:
                continue
            if b in params:
                if stores.get(b, 1) != 1:
                    continue
            elif stores.get(b) != 1 or not any(
                    isinstance(x, gast.Assign) and b in {t.id for t in x.targets
                                                         if isinstance(t, gast.Name)}
                    for x in block[:i]):
                continue
            rest = block[i + 1:]
            if _name_loads(rest, a) != loads.get(a, 0):
                continue
            for x in rest:
                rename(x, {a: b})
            del block[i]
            return True
    return False


def _generated(ctx, n):
    return ctx.namer.is_adjoint(n) or (n in ctx.namer.temps and n not in ctx.primal_temps)


def _dead_adjoints(tree, ctx):
    _, loads = _counts(tree)
    for block in _blocks(tree.body):
        for i, s in enumerate(block):
            if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                    and isinstance(s.targets[0], gast.Name):
                n = s.targets[0].id
                trivial = isinstance(s.value, (gast.Name, gast.Constant))
                if (_generated(ctx, n) or trivial) and not loads.get(n) \
                        and n not in ctx.params:
                    del block[i]
                    return True
    return False


def _swap_back(tree, ctx):
    """``a = b; ...; b = a`` with neither rebound in between: drop the second."""
    for block in _blocks(tree.body):
        for i, s in enumerate(block):
            pair = _copy_pair(s)
            if pair is None:
                continue
            a, b = pair
            for j in range(i + 1, len(block)):
                x = block[j]
                if _copy_pair(x) == (b, a):
                    del block[j]
                    return True
                written = {n.id for n in gast.walk(x) if isinstance(n, gast.Name)
                           and isinstance(n.ctx, gast.Store)}
                if a in written or b in written:
                    break
    return False


def _copy_pair(s):
    if isinstance(s, gast.Assign) and len(s.targets) == 1 \
            and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name):
        return s.targets[0].id, s.value.id
    return None


_FOLD = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b,
         gast.Mult: lambda a, b: a * b}


def _num(node):
    if isinstance(node, gast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


class _Fold(gast.NodeTransformer):
    """``2 - 1`` -> ``1``; ``e ** 1`` -> ``e``; ``1.0 * e`` -> ``e`` and ``-1.0 * e`` ->
    ``-e`` unless ``e`` is a bare name that may hold an array (the result must not
    alias it); ``-(2.0)`` -> ``-2.0``."""

    def __init__(self, kinds=None):
        self.kinds = kinds or {}

    def _fresh_value(self, e):
        return not isinstance(e, gast.Name) or self.kinds.get(e.id) == "S"

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


def _constant_propagate(tree, ctx):
    """An adjoint assigned a number once: use the number (then fold)."""
    stores, loads = _counts(tree)
    for block in _blocks(tree.body):
        for i, s in enumerate(block):
            if not (isinstance(s, gast.Assign) and len(s.targets) == 1
                    and isinstance(s.targets[0], gast.Name) and _num(s.value) is not None):
                continue
            a = s.targets[0].id
            if not ctx.namer.is_adjoint(a) or stores.get(a) != 1 or not loads.get(a):
                continue
            rest = block[i + 1:]
            if _name_loads(rest, a) != loads.get(a, 0):
                continue
            for x in rest:
                _Substitute(a, s.value.value).visit(x)
            del block[i]
            return True
    return False


class _Substitute(gast.NodeTransformer):
    def __init__(self, var, value):
        self.var, self.value = var, value

    def visit_Name(self, n):
        if n.id == self.var and isinstance(n.ctx, gast.Load):
            return gast.Constant(value=self.value, kind=None)
        return n


def run(tree, ctx):
    if not ctx.optimize:
        return tree
    if isinstance(tree, gast.Module):
        for fdef in tree.body:
            run(fdef, ctx)
        return tree
    fold = _Fold(ctx.var_kinds)
    fold.visit(tree)
    while (_swap_back(tree, ctx) or _dead_adjoints(tree, ctx) or _copy_propagate(tree, ctx)
           or _constant_propagate(tree, ctx)):
        fold.visit(tree)
    return tree
