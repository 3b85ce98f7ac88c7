"""Stage 2a: lower ``break``, ``continue``, early ``return`` and loop ``else``;
unwrap ``with`` statements whose context manager changes no value.

Takes: the parsed function. Gives: a function where

* every loop containing a jump has a flag ``_go1`` (set True at the start of
  each iteration, False by ``break``/``continue``/``return``) guarding the rest
  of the body, a flag ``_brk1`` (set by ``break`` or ``return``), and ends with
  the single exit test ``if _brk1: break`` (annotated ``LOOP_EXIT``), which
  later passes keep as the very last statement of the body;
* a function with a return anywhere but the end assigns ``_result``, sets
  ``_ret`` and skips the rest through ``if not _ret:`` guards; it ends with
  one ``return _result``;
* ``for ... else`` / ``while ... else`` run their ``else`` under
  ``if not _brk1:`` after the loop.

* a ``while`` whose test holds a ``:=`` tests it at the top of a ``while True`` body
  (``if not (...): break``), so that the assignment runs on every trip;
* ``with np.errstate(divide="ignore"):`` (any setting but 'raise' and 'call') and
  ``with contextlib.nullcontext():`` are replaced by their bodies: they only change
  what is printed, and the gradient's own code runs without them.

So the reverse sweep sees only structured control flow, and replays exactly
the iterations that ran (the exit iteration included: its skipped statements
are recorded as untaken branches).

Example::

    for i in range(n):                 _brk1 = False
        if x[i] > t:                   for i in range(n):
            break                          _go1 = True
        s = s + x[i]                       if x[i] > t:
                                  -->          _go1 = False
                                               _brk1 = True
                                           if _go1:
                                               s = s + x[i]
                                           if _brk1:
                                               break
"""

from __future__ import annotations

import contextlib

import gast
import numpy as np

from . import anno, errors
from .gastutil import assign, const, contains, dotted_name, name

_LOOPS = (gast.For, gast.While)
WHOLE = "after a whole iteration"     # the LOOP_EXIT of a loop whose break ends the body


def _jumps(stmts):
    """Kinds of jump in ``stmts`` that escape to the enclosing loop or function."""
    found = set()
    for s in stmts:
        if isinstance(s, gast.Break):
            found.add("break")
        elif isinstance(s, gast.Continue):
            found.add("continue")
        elif isinstance(s, gast.Return):
            found.add("return")
        elif isinstance(s, gast.If):
            found |= _jumps(s.body) | _jumps(s.orelse)
        elif isinstance(s, _LOOPS):
            found |= _jumps(s.body) & {"return"}
            found |= _jumps(s.orelse)
    return found


def _not(e):
    return gast.UnaryOp(op=gast.Not(), operand=e)


class Desugar:
    def __init__(self, ctx, general_return):
        self.ctx = ctx
        self.namer = ctx.namer
        self.loops = []        # stack of (go, brk) flag names
        self.guarded = set()   # go flags that guard the rest of a body after a jump
        self.general_return = general_return
        self.ret = self.namer.fresh("_ret") if general_return else None
        self.result = self.namer.fresh("_result") if general_return else None

    def block(self, stmts):
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Break):
                if not self.loops:
                    raise errors.unsupported(s, self.ctx, "Break", "outside a loop")
                go, brk = self.loops[-1]
                out += [assign(go, const(False), like=s), assign(brk, const(True), like=s)]
                return out
            if isinstance(s, gast.Continue):
                go, _ = self.loops[-1]
                out.append(assign(go, const(False), like=s))
                return out
            if isinstance(s, gast.Return) and self.general_return:
                value = s.value if s.value is not None else const(None)
                out += [assign(self.result, value, like=s), assign(self.ret, const(True), like=s)]
                for go, brk in self.loops:
                    out += [assign(go, const(False), like=s), assign(brk, const(True), like=s)]
                return out
            exits = _jumps([s]) if not isinstance(s, gast.Return) else set()
            out.extend(self.stmt(s))
            rest = stmts[i + 1:]
            if exits and rest:
                if self.loops:
                    self.guarded.add(self.loops[-1][0])
                guard = name(self.loops[-1][0]) if self.loops else _not(name(self.ret))
                node = gast.If(test=guard, body=self.block(rest), orelse=[])
                out.append(gast.copy_location(node, rest[0]))
                return out
        return out

    def stmt(self, s):
        if isinstance(s, gast.If):
            s.body = self.block(s.body)
            s.orelse = self.block(s.orelse)
            return [s]
        if isinstance(s, _LOOPS):
            return self.loop(s)
        return [s]

    def loop(self, s):
        if isinstance(s, gast.While) and not s.orelse and contains(s.test, gast.NamedExpr):
            # while (y := e) > t: body  ->  while True: if not ((y := e) > t): break; body
            # (normalize hoists the := out of the if test, once per trip)
            leave = gast.If(test=_not(s.test), body=[gast.copy_location(gast.Break(), s.test)],
                            orelse=[])
            s.body = [gast.copy_location(leave, s.test)] + s.body
            s.test = gast.copy_location(const(True), s.test)
        inner = _jumps(s.body)
        if not inner:
            # no break: the else clause runs after every run of the loop, so it is plain
            # code after it
            s.body = self.block(s.body)
            orelse, s.orelse = s.orelse, []
            return [s] + self.block(orelse)
        go, brk = self.namer.numbered("_go"), self.namer.numbered("_brk")
        self.loops.append((go, brk))
        body = [assign(go, const(True), like=s)] + self.block(s.body)
        self.loops.pop()
        exit_test = gast.If(test=name(brk), body=[gast.Break()], orelse=[])
        # "whole": the loop leaves only by a break that skips nothing of the body (its
        # last statement, or in an if that is): every iteration runs the whole body
        whole = inner == {"break"} and go not in self.guarded
        anno.set_(exit_test, anno.Key.LOOP_EXIT, WHOLE if whole else True)
        s.body = body + [gast.copy_location(exit_test, s)]
        orelse, s.orelse = s.orelse, []
        out = [assign(brk, const(False), like=s), s]
        if orelse:
            node = gast.If(test=_not(name(brk)), body=self.block(orelse), orelse=[])
            out.append(gast.copy_location(node, orelse[0]))
        return out


def _has_early_return(stmts, tail=True):
    for i, s in enumerate(stmts):
        last = tail and i == len(stmts) - 1
        if isinstance(s, gast.Return) and not last:
            return True
        if isinstance(s, gast.If) and (_has_early_return(s.body, last)
                                      or _has_early_return(s.orelse, last)):
            return True
        if isinstance(s, _LOOPS) and "return" in _jumps(s.body) | _jumps(s.orelse):
            return True         # (a loop's else runs only when no break left the loop)
    return False


_QUIET = frozenset({"ignore", "warn", "print", "log"})


def _quiet(item, ctx):
    """The ``with`` item is ``np.errstate(...)`` with settings that only print (not
    'raise' or 'call'), or ``contextlib.nullcontext()``, bound to no name."""
    e = item.context_expr
    if item.optional_vars is not None or not isinstance(e, gast.Call):
        return False
    path = dotted_name(e.func)
    if path is None or path.split(".")[0] in ctx.local_names:
        return False
    try:
        obj = ctx.lookup(path)
    except (KeyError, ValueError, AttributeError):
        return False
    if obj is contextlib.nullcontext:
        return not e.args and not e.keywords
    if obj is np.errstate:
        return not e.args and all(
            k.arg is not None and isinstance(k.value, gast.Constant)
            and k.value.value in _QUIET for k in e.keywords)
    return False


def _unwrap_with(stmts, ctx):
    """``stmts`` with every quiet ``with`` (``_quiet``) replaced by its body."""
    out = []
    for s in stmts:
        for f in ("body", "orelse"):
            if isinstance(getattr(s, f, None), list):
                setattr(s, f, _unwrap_with(getattr(s, f), ctx))
        if isinstance(s, gast.With) and all(_quiet(i, ctx) for i in s.items):
            out.extend(s.body)
        else:
            out.append(s)
    return out


def run(tree, ctx):
    if ctx.may_contain("with") and contains(tree, gast.With):
        tree.body = _unwrap_with(tree.body, ctx)
    general = _has_early_return(tree.body)
    pass_ = Desugar(ctx, general)
    body = pass_.block(tree.body)
    if general:
        # the result variable of lowered returns: a copy of what one return gives,
        # after which nothing runs on that path (aliasing.alias_classes)
        ctx.result_names = getattr(ctx, "result_names", set()) | {pass_.result}
        body[:0] = [assign(pass_.ret, const(False), like=tree),
                    assign(pass_.result, const(None), like=tree)]
        body.append(gast.copy_location(gast.Return(value=name(pass_.result)), tree.body[-1]))
    tree.body = body
    return tree
