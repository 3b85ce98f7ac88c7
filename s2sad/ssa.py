"""Stage 3: SSA-style renaming ("SSA with copies").

Takes: three-address form. Gives: the same program where

* in straight-line code every assignment writes a name never written before
  (``y = ...; y = y * y`` becomes ``y = ...; y_1 = y * y``), so parameters and
  earlier values are never overwritten;
* at the join of an ``if``, a variable that the branches leave in different
  versions gets a fresh *join name*, written by a copy at the end of each
  branch (the out-of-SSA form of a phi node);
* a variable that a loop body assigns and that is live around the loop (defined
  before it, or read in the body before being written) gets a *header name*:
  copied in before the loop, copied back at the end of the body. Inside the body
  it is read only through the header name.

Hence the invariant the reverse pass relies on: **a name is only ever
overwritten by a later iteration of a loop that assigns it**, and a
non-copy statement never overwrites its own operands. Values outside loops
never need recording; inside loops, the values a reverse statement needs are
intact until the end of the block that computed them.
"""

from __future__ import annotations

from collections import Counter

import gast

from . import anno
from .gastutil import (
    assign,
    const,
    loads,
    name,
    names,
    rename,
    statements,
    stores,
    target_name,
)


class SSA:
    def __init__(self, ctx):
        self.ctx = ctx
        self.namer = ctx.namer
        self.seen = set()

    def version(self, var):
        """The name for a new definition of user variable ``var``."""
        if var not in self.seen:
            self.seen.add(var)
            return var
        return self.fresh(var)

    def fresh(self, var):
        """Another name for ``var``; a version of the name each return of a function with
        several returns and ``has_aux`` gives its aux to is one too (``aliasing``)."""
        new = self.namer.fresh(var)
        if var in self.ctx.aux_parts:
            self.ctx.aux_parts.add(new)
        return new

    def block(self, stmts, env):
        out = []
        for s in stmts:
            self.stmt(s, env, out)
        return out

    def stmt(self, s, env, out):
        if isinstance(s, gast.Assign):
            target = target_name(s)
            rename(s.value, env)
            if target is None:      # a[i] = v : an in-place store, names are reads
                rename(s.targets[0], env)
                for n in gast.walk(s.targets[0]):
                    if isinstance(n, gast.Name):
                        n.ctx = gast.Load()
                s.targets[0].ctx = gast.Store()
                out.append(s)
                return
            new = self.version(target)
            env[target] = new
            s.targets[0].id = new
            out.append(s)
        elif isinstance(s, gast.If):
            rename(s.test, env)
            env_then, env_else = dict(env), dict(env)
            s.body = self.block(s.body, env_then)
            s.orelse = self.block(s.orelse, env_else)
            for var in sorted(set(env_then) | set(env_else)):
                a, b = env_then.get(var), env_else.get(var)
                if a == b or (var in self.namer.temps and var not in env):
                    continue     # temporaries never outlive the branch that made them
                join = self.fresh(var)
                for branch, version in ((s.body, a), (s.orelse, b)):
                    if version is None:     # not defined on this path: None, as a marker
                        branch.append(assign(join, const(None), like=s))
                        anno.set_(branch[-1], anno.Key.JOIN)
                    elif not _retarget(branch, version, join):
                        branch.append(assign(join, name(version), like=s))
                        anno.set_(branch[-1], anno.Key.JOIN)
                env[var] = join
            out.append(s)
        elif isinstance(s, (gast.For, gast.While)):
            self.loop(s, env, out)
        else:
            rename(s, env)
            out.append(s)

    def loop(self, s, env, out):
        is_for = isinstance(s, gast.For)
        if is_for:
            rename(s.iter, env)
        assigned = _assigned(s.body)
        exposed = _exposed(s.body, {s.target.id} if is_for else set())
        if not is_for:
            exposed |= loads(s.test)
        if is_for:
            assigned.discard(s.target.id)
        headers = {}
        for var in sorted(assigned):
            seen_outside = self.loads_total.get(var, 0) > self.loads_in[id(s)].get(var, 0)
            if var in env or var in exposed or (seen_outside and var not in self.namer.temps):
                h = self.fresh(var) if var in self.seen or var in env else self.version(var)
                self.seen.add(var)
                # a name first written in the loop starts as None, so copies into
                # inner loops' headers never read an unbound name
                start = name(env[var]) if var in env else const(None)
                out.append(assign(h, start, like=s))
                anno.set_(out[-1], anno.Key.HEADER)
                headers[var] = h
        body_env = dict(env)
        body_env.update(headers)
        if is_for:
            user_target = s.target.id
            t = self.version(user_target)
            if user_target in env:      # a loop that runs no iteration leaves the old value
                out.append(assign(t, name(env[user_target]), like=s))
                anno.set_(out[-1], anno.Key.HEADER)
            body_env[user_target] = t
            s.target.id = t
        else:
            rename(s.test, body_env)
        s.body = self.block(s.body, body_env)
        at = len(s.body)
        if s.body and anno.get(s.body[-1], anno.Key.LOOP_EXIT):
            at -= 1           # copies go before the loop's exit test
        for var, h in headers.items():
            if body_env[var] != h:
                copy = assign(h, name(body_env[var]), like=s)
                anno.set_(copy, anno.Key.COPYBACK)
                s.body.insert(at, copy)
                at += 1
        for var in assigned:
            if var in headers or var in body_env:
                env[var] = headers.get(var) or body_env[var]
        if is_for:
            env[user_target] = s.target.id
        out.append(s)


def _retarget(branch, version, join):
    """Let the branch's own last definition of ``version`` write ``join`` directly."""
    for i in range(len(branch) - 1, -1, -1):
        s = branch[i]
        if target_name(s) == version:
            if any(version in loads(x) for x in branch[i + 1:]) or \
                    any(version in loads(x) for x in [s.value]):
                return False
            s.targets[0].id = join
            return True
        if version in stores(s) or not isinstance(s, gast.Assign):
            return False
    return False


def _assigned(stmts):
    names = set()
    for s in stmts:
        if isinstance(s, gast.Assign) and target_name(s):
            names.add(target_name(s))
        elif isinstance(s, (gast.If, gast.For, gast.While)):
            names |= stores(s)
    return names


def _exposed(stmts, defined):
    """Names read in ``stmts`` before they are surely written (upward exposed)."""
    defined = set(defined)
    exposed = set()
    for s in stmts:
        if isinstance(s, gast.Assign):
            exposed |= loads(s.value) - defined
            if target_name(s):
                defined.add(target_name(s))
            else:
                exposed |= loads(s.targets[0]) - defined
        elif isinstance(s, gast.If):
            exposed |= loads(s.test) - defined
            exposed |= _exposed(s.body, defined) | _exposed(s.orelse, defined)
            defined |= _must_define(s.body) & _must_define(s.orelse)
        elif isinstance(s, gast.For):
            exposed |= loads(s.iter) - defined
            exposed |= _exposed(s.body, defined | {s.target.id})
        elif isinstance(s, gast.While):
            exposed |= loads(s.test) - defined
            exposed |= _exposed(s.body, defined)
        else:
            exposed |= loads(s) - defined
    return exposed


def _must_define(stmts):
    out = set()
    for s in stmts:
        if isinstance(s, gast.Assign) and target_name(s):
            out.add(target_name(s))
        elif isinstance(s, gast.If):
            out |= _must_define(s.body) & _must_define(s.orelse)
    return out


def _load_counts(node):
    """How often each name occurs (read or written) in ``node``."""
    return Counter([n.id for n in names(node)])


def run(tree, ctx):
    ssa = SSA(ctx)
    # where names occur, taken before renaming: a name first written in a loop that
    # also occurs outside it gets a header name (starting as None), so no copy made
    # for a later read or loop can read it unbound when the loop runs no iteration
    ssa.loads_total = _load_counts(tree)
    ssa.loads_in = {id(n): _load_counts(n) for n in statements(tree.body)
                    if isinstance(n, (gast.For, gast.While))}
    env = {}
    for p in ctx.params:
        env[p] = p
        ssa.seen.add(p)
    tree.body = ssa.block(tree.body, env)
    return tree
