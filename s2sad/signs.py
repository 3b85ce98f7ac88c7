"""Negations absorbed (the very last step of the clean-up, called by ``optimize.run``
after ``fuse``): a negation costs an operation, as an addition does, and the sign
of a product is free to move, so

* ``a + -x * y`` becomes ``a - x * y``, ``a - -x * y`` becomes ``a + x * y``,
  ``-x * y + a`` becomes ``a - x * y`` (when ``a`` or the product is a name or a
  number: the order in which the two are computed does not matter then),
  ``-(-x * y)`` becomes ``x * y`` and ``-x * -y`` becomes ``x * y``; a negative
  constant factor counts as a negation (``a + -2.0 * x`` becomes ``a - 2.0 * x``),
  a negation inside one (``(-x) * y``) or the other (``x * -y``) operand of a
  product or a true division too;
* in a loop, a scalar value computed once as a negation and read by several
  statements of its block, ``b_t5 = -bx_1 / q`` read by ``bb = bb - b_t5`` and ``ba = ba + b_t5 * x``,
  is kept with the other sign, as ``nb_t5 = bx_1 / q`` (``n`` for "minus"), and its
  readers take the sign: ``bb = bb + nb_t5``, ``ba = ba - nb_t5 * x``; a negated
  name ``bdx = -bx`` read so goes, its readers reading ``bx``. Done only when the
  readers absorb more negations than they gain, so the count of negations falls.

Every rewrite changes signs only, which floating-point arithmetic does exactly
(``a + -b`` is ``a - b``, ``(-x) * y`` is ``-(x * y)``), so results are the same
to the bit. Only values known to hold floats are negated elsewhere than they were
(never an int, which may be an unsigned NumPy integer, nor an array of them).
"""

from __future__ import annotations

import gast

from .gastutil import clone, walk

_MAX_ROUNDS = 8


def _const(v):
    return gast.Constant(value=v, kind=None)


class _Signs:
    def __init__(self, ctx):
        from .optimize import _Fold
        self.float_expr = _Fold(ctx)._float_expr
        self.changed = False

    # -- which expressions hold floats, and their negated part

    def floaty(self, e):
        """``e`` surely holds floats (a float or an array of floats): a name that
        carries a derivative, a float, a ``math`` function's value, ... (see
        ``optimize._Fold._float_expr``)."""
        return self.float_expr(e)

    def stripped(self, e):
        """``e`` without its sign (a new node; ``e`` is left as it is) when ``e`` is a
        negation of floats, a negative float, or a product or quotient with such an
        operand; else None."""
        cls = e.__class__
        if cls is gast.Constant:
            v = e.value
            return _const(-v) if type(v) is float and v < 0 else None
        if cls is gast.UnaryOp:
            if isinstance(e.op, gast.USub) and e.operand.__class__ is not gast.Constant \
                    and self.floaty(e.operand):
                return e.operand
            return None
        if cls is gast.BinOp and isinstance(e.op, (gast.Mult, gast.Div)):
            s = self.stripped(e.left)
            if s is not None:
                return gast.BinOp(left=s, op=e.op, right=e.right)
            s = self.stripped(e.right)
            if s is not None:
                return gast.BinOp(left=e.left, op=e.op, right=s)
        return None

    # -- folding signs into the operations that take them

    def fold(self, e):
        """``e`` with the signs absorbed, bottom up (new nodes where it changed)."""
        cls = e.__class__
        if cls is gast.BinOp:
            e.left = self.fold(e.left)
            e.right = self.fold(e.right)
            op = e.op.__class__
            if op is gast.Add or op is gast.Sub:
                s = self.stripped(e.right)
                if s is not None:
                    self.changed = True
                    return gast.BinOp(left=e.left, op=gast.Sub() if op is gast.Add else gast.Add(),
                                      right=s)
                if op is gast.Add:
                    s = self.stripped(e.left)
                    if s is not None and (self.simple(e.right) or self.simple(s)) \
                            and self.floaty(e.right):
                        self.changed = True
                        return gast.BinOp(left=e.right, op=gast.Sub(), right=s)
            elif op is gast.Mult or op is gast.Div:
                a, b = self.stripped(e.left), self.stripped(e.right)
                if a is not None and b is not None:
                    self.changed = True
                    return gast.BinOp(left=a, op=e.op, right=b)
            return e
        if cls is gast.UnaryOp:
            e.operand = self.fold(e.operand)
            if isinstance(e.op, gast.USub):
                s = self.stripped(e.operand)
                if s is not None:
                    self.changed = True
                    return s
            return e
        if cls in (gast.Call, gast.Tuple, gast.List, gast.Compare, gast.Subscript,
                   gast.Attribute, gast.keyword, gast.BoolOp, gast.IfExp):
            for field in e._fields:
                v = getattr(e, field)
                if isinstance(v, list):
                    setattr(e, field, [self.fold(x) if isinstance(x, gast.AST) else x
                                       for x in v])
                elif isinstance(v, gast.expr):
                    setattr(e, field, self.fold(v))
        return e

    @staticmethod
    def simple(e):
        return e.__class__ in (gast.Name, gast.Constant)

    def statement(self, s):
        """Fold the expressions of the simple statement ``s``; whether it changed."""
        self.changed = False
        if isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr, gast.Return)) \
                and s.value is not None:
            s.value = self.fold(s.value)
        return self.changed


def _negations(e):
    """How many negations of something other than a number ``e`` holds."""
    return sum(1 for n in walk(e) if n.__class__ is gast.UnaryOp
               and n.op.__class__ is gast.USub and n.operand.__class__ is not gast.Constant)


def run(tree, ctx, facts):
    """Absorb the negations of ``tree`` (a generated ``FunctionDef``); the statements
    changed are forgotten by ``facts``."""
    from .optimize import _COMPOUND, _blocks, _holds_scalar
    signs = _Signs(ctx)
    blocks = _blocks(tree.body)
    hot = _loop_blocks(tree.body)
    looped = {id(b) for b in hot}
    for block in blocks:
        every = id(block) in looped     # (elsewhere, only what holds a sign: most hold none)
        for s in block:
            if s.__class__ not in _COMPOUND \
                    and (every or facts.negations(s) or facts.signed(s)) \
                    and signs.statement(s):
                facts.forget(s)
    stores = None
    for _ in range(_MAX_ROUNDS if hot else 0):
        changed = False
        for block in hot:
            index = None            # (reads, writes) of the block, once a flip may be tried
            for i, s in enumerate(block):
                if not (isinstance(s, gast.Assign) and len(s.targets) == 1
                        and isinstance(s.targets[0], gast.Name)):
                    continue
                v = s.targets[0].id
                if not (ctx.namer.is_derivative(v) or v in ctx.namer.temps) \
                        or not _holds_scalar(ctx, v):
                    continue
                if stores is None:
                    stores, loads = facts.counts(tree)
                if stores.get(v) != 1:
                    continue
                copy_of, new_value = _candidate(signs, ctx, s.value)
                if copy_of is None and new_value is None:
                    continue
                if index is None:
                    index = _index(block, facts)
                if _flip(signs, ctx, facts, block, i, v, loads, copy_of, new_value, index):
                    changed, index = True, None
                    _moved(stores, loads, v, block[i], copy_of)
        if not changed:
            break
    for block in blocks:
        if any(y.__class__ is gast.Pass for y in block):
            block[:] = [y for y in block if y.__class__ is not gast.Pass] or [gast.Pass()]


def _loop_blocks(stmts, inside=False, out=None):
    """The blocks of ``stmts`` that run in a loop (a loop's body, and the blocks in it):
    a value kept with the other sign saves a negation each time it runs, worth the
    search there only (it costs a few milliseconds in a long function)."""
    if out is None:
        out = []
    if inside:
        out.append(stmts)
    for s in stmts:
        if s.__class__ in (gast.For, gast.While):
            _loop_blocks(s.body, True, out)
            if s.orelse:
                _loop_blocks(s.orelse, inside, out)
        elif s.__class__ is gast.If:
            _loop_blocks(s.body, inside, out)
            _loop_blocks(s.orelse, inside, out)
    return out


def _moved(stores, loads, v, s, copy_of):
    """The counts after ``_flip`` of ``v``, assigned by ``s`` (now its new statement or
    a ``pass``): a flip moves ``v``'s reads to the name it is kept under (the sign
    rewrites move no other name), so the counts are kept up to date, not made again
    over the whole function for each flip."""
    read = loads.pop(v, 0)
    del stores[v]
    if copy_of is not None:             # v = -n gone: its readers read n
        loads[copy_of] += read - 1
    else:
        target = s.targets[0].id
        stores[target] = 1
        loads[target] = read


def _index(block, facts):
    """({name: [(position, times read)]}, {name: [position written]}) of ``block``'s
    statements, in order: where ``_flip`` finds the readers of a name without going
    over the whole rest of the block for each name tried."""
    reads, writes = {}, {}
    for k, y in enumerate(block):
        if y.__class__ is gast.Pass:
            continue
        for n, r in facts.reads(y).items():
            reads.setdefault(n, []).append((k, r))
        for n in facts.writes(y):
            writes.setdefault(n, []).append(k)
    return reads, writes


def _candidate(signs, ctx, value):
    """(n, None) for a value ``-n`` of a scalar name (its readers may read ``n``),
    (None, the value without its sign) for another value that has one, else
    (None, None)."""
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub) \
            and isinstance(value.operand, gast.Name) and _holds_name_scalar(ctx, value.operand):
        return value.operand.id, None
    return None, signs.stripped(value)


def _flip(signs, ctx, facts, block, i, v, loads, copy_of, new_value, index):
    """Keep ``v`` (assigned by ``block[i]``) with the other sign if its readers, all
    simple statements later in the block, absorb the sign (see the module). A negated
    name's statement is left as a ``pass`` (``run`` removes them). ``copy_of`` and
    ``new_value``: what ``_candidate`` found; ``index``: ``_index`` of the block."""
    s = block[i]
    value = s.value
    want = loads.get(v, 0)
    readers, count, last = [], 0, i
    for k, r in index[0].get(v, ()):
        if k <= i:
            continue
        y = block[k]
        if y.__class__ not in (gast.Assign, gast.Return, gast.Expr) or y.value is None:
            return False
        readers.append(y)
        count += r
        last = k
        if count == want:
            break
    if count != want or not readers:
        return False
    if copy_of is not None and any(i < k < last for k in index[1].get(copy_of, ())):
        return False                # n rebound while v has readers left
    namer = ctx.namer
    if copy_of is None:
        target = namer.fresh("n" + v)
        if namer.is_derivative(v):
            namer._derivatives.add(target)
        else:
            namer.temps.add(target)
        namer.primal_of[target] = namer.primal_of.get(v, v)
    else:
        target = copy_of
    before = _negations(value) + sum(_negations(y.value) for y in readers)
    trials = []
    for y in readers:
        signs.changed = False
        trials.append(signs.fold(_negated(y.value, v, target)))
    after = (0 if new_value is None else _negations(new_value)) + sum(map(_negations, trials))
    if after >= before:
        return False
    if copy_of is None:
        s.targets[0].id = target
        s.value = new_value
        facts.forget(s)
    else:
        block[i] = gast.Pass()
    for y, t in zip(readers, trials):
        y.value = t
        facts.forget(y)
    return True


def _holds_name_scalar(ctx, n):
    from .optimize import _holds_scalar
    return _holds_scalar(ctx, n.id) and (n.id in ctx.active or ctx.namer.is_derivative(n.id))


def _negated(e, name, target):
    """A copy of ``e`` with its reads of ``name`` replaced by ``-target``."""
    def minus():
        return gast.UnaryOp(op=gast.USub(), operand=gast.Name(
            id=target, ctx=gast.Load(), annotation=None, type_comment=None))

    def hit(x):
        return x.__class__ is gast.Name and x.id == name and x.ctx.__class__ is gast.Load

    e = clone(e)
    if hit(e):
        return minus()
    for n in walk(e):
        for f in n._fields:
            x = getattr(n, f, None)
            if hit(x):
                setattr(n, f, minus())
            elif x.__class__ is list:
                x[:] = [minus() if hit(y) else y for y in x]
    return e
