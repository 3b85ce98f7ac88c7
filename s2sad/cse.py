"""Repeated scalar operations made once, before differentiation (on SSA form).

``(x1 - x2 + x2 * x3) * cos(x2 * x3)`` lowers to two temporaries holding
``x2 * x3``. Differentiated apart, each sends its own adjoint through the
product, and the gradient computes ``b_t4 * x3 + _t5 * x3`` where one
multiplication of the summed adjoint does: a value the code makes once gets
one adjoint, which gathers its uses before flowing on, as a hand-written
gradient would. So the second assignment becomes a copy of the first
(``_t4 = _t2``), at the end of activity analysis (``activity._share_operations``:
the kinds and the active names known, the copy's source made active), before
the reverse or forward pass; the optimizer removes the copy at the end. Only the
assignments to active names change: one that carries no derivative (an index
``i + 1`` made twice) is shared by the optimizer after the reverse pass, where
the reverse sweep computes it again instead of recording it.

Only arithmetic (``+ - * / // % **``, unary ``-``) on names that surely hold
scalars (kind ``'S'``) and on numbers is shared: scalars cannot be changed in
place, so two names holding one of them is safe; two names for one array is
not (``y[0] = 1.0`` would change both). ``a * b`` and ``b * a`` are one value
(``+`` and ``*`` of numbers commute exactly). A value serves until a name it
reads or the name holding it is rebound; a value made in a branch or a loop
serves only there, and a loop's body sees the values from before the loop
whose names the loop does not write.
"""

from __future__ import annotations

import gast

from .gastutil import copy_location, names, statements, target_name

_SHARED = frozenset((gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod,
                     gast.Pow, gast.USub))
_COMMUTE = frozenset((gast.Add, gast.Mult))
_LOOPS = (gast.While, gast.For)


def run(body, kinds, local, active):
    """Share the repeated operations of the statements ``body`` in place. ``kinds``:
    name -> kind (``activity.infer_kinds``); ``local``: the function's own names
    (parameters included); ``active``: the names whose assignments may become copies
    (the others carry no derivative: the optimizer shares their operations after
    the reverse pass, where an integer index made again is not recorded). Returns the
    assignments whose value became a name."""
    changed = []
    if not any(s.__class__ is gast.Nonlocal for s in statements(body)):
        _Shared(kinds, local, active, changed).block(body, {}, {})
    return changed


def _written(node):
    """The names a statement (with the blocks inside it) binds or deletes."""
    return {n.id for n in names(node) if n.ctx.__class__ is not gast.Load}


class _Shared:
    def __init__(self, kinds, local, active, changed):
        self.scalars = {n for n, k in kinds.items() if k == "S" and n in local}
        self.active, self.changed = active, changed

    def operand(self, a):
        """A scalar local name itself, a number as ``#`` and its text (-0.0 is not 0.0,
        nor 2 2.0), else None."""
        c = a.__class__
        if c is gast.Name:
            return a.id if a.id in self.scalars else None
        if c is gast.Constant and (type(a.value) is float or type(a.value) is int):
            return "#" + repr(a.value)
        return None

    def key(self, e):
        """``(operator class, operands...)`` of a BinOp or UnaryOp of scalar local
        names and numbers, or None."""
        op = e.op.__class__
        if op not in _SHARED:
            return None
        if e.__class__ is gast.UnaryOp:
            a = self.operand(e.operand)
            return None if a is None else (op, a)
        a, b = self.operand(e.left), self.operand(e.right)
        if a is None or b is None:
            return None
        if op in _COMMUTE and b < a:
            a, b = b, a
        return op, a, b

    def block(self, stmts, avail, uses):
        """``avail``: key -> the name holding its value; ``uses``: name -> the keys it
        reads or holds (tuples, replaced, never edited), both edited in place."""
        scalars, active = self.scalars, self.active
        for s in stmts:
            cls = s.__class__
            if cls is gast.Assign:
                t = target_name(s)
                if t is None:
                    self.kill(_written(s), avail, uses)
                    continue
                v = s.value.__class__
                key = self.key(s.value) if (v is gast.BinOp or v is gast.UnaryOp) \
                    and t in scalars else None
                if key is not None and t in active and avail.get(key, t) != t:
                    s.value = copy_location(gast.Name(id=avail[key], ctx=gast.Load(),
                                                      annotation=None, type_comment=None),
                                            s.value)
                    self.changed.append(s)
                    key = None
                if t in uses:       # (the value, in normal form, binds no name)
                    self.kill((t,), avail, uses)
                if key is not None and t not in key:
                    avail[key] = t
                    uses[t] = uses.get(t, ()) + (key,)
                    for n in key[1:]:
                        if n[0] != "#":
                            uses[n] = uses.get(n, ()) + (key,)
            elif cls is gast.If:
                self.block(s.body, dict(avail), dict(uses))
                self.block(s.orelse, dict(avail), dict(uses))
                self.kill(_written(s), avail, uses)
            elif cls in _LOOPS:
                written = _written(s)
                inner, inner_uses = dict(avail), dict(uses)
                self.kill(written, inner, inner_uses)
                self.block(s.body, dict(inner), dict(inner_uses))
                self.block(s.orelse, inner, inner_uses)
                self.kill(written, avail, uses)
            else:           # other statements: what they bind (nested defs not entered)
                self.kill(_written(s), avail, uses)

    @staticmethod
    def kill(written, avail, uses):
        for n in written:
            for key in uses.pop(n, ()):
                avail.pop(key, None)
