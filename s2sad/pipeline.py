"""The list of passes, in order. ``s2sad dump --stage`` prints after any of them.

Each pass takes the tree and the :class:`~s2sad.context.Context` and returns a
tree; each module's docstring states the form it takes and the form it gives.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import inspect
import threading
import weakref

import gast

from . import (
    activity,
    codegen,
    desugar,
    errors,
    forward_mode,
    normalize,
    optimize,
    parse,
    reverse,
    ssa,
)
from .context import Context
from .fncache import FunctionCache
from .naming import Namer
from .parse import own_signature, vararg_key, vararg_names

STAGES = [
    ("parse", None),                 # parse.run builds the tree from the function
    ("desugar", desugar.run),        # break/continue/early return -> flags
    ("normal", normalize.run),       # three-address form
    ("ssa", ssa.run),                # SSA with copies at joins and loop headers
    ("activity", activity.run),      # active names, scalar/array kinds, checks, cse
    ("reverse", reverse.run),        # forward sweep + tape + reverse sweep
    ("final", optimize.run),         # copy propagation
]
STAGE_NAMES = [n for n, _ in STAGES]          # reverse mode; forward mode has "forward"


def make_context(func, wrt=(0,), kinds=None, output="grad", wrt_tuple=False,
                 optimize=True, mode=None, callee=False, checkpoint=False, has_aux=False,
                 fixed_point=False, directions=1, receivers=None):
    if mode is None:
        mode = "forward" if output == "jvp" else "reverse"
    receivers = dict(receivers or {})
    dicts = frozenset(p for p, c in receivers.items() if c is dict)     # (receivers_of)
    for p in dicts:
        del receivers[p]
    return Context(func=func, wrt=tuple(wrt), kinds=dict(kinds or {}), output=output,
                   wrt_tuple=wrt_tuple, optimize=optimize, mode=mode, callee=callee,
                   checkpoint=checkpoint, has_aux=has_aux, fixed_point=fixed_point,
                   directions=directions, receivers=receivers, dicts=dicts,
                   defaults_at=(getattr(func, "__defaults__", None),
                                getattr(func, "__kwdefaults__", None)))


def stages(mode="reverse"):
    """The passes for ``mode``: forward mode swaps the reverse pass for the tangent pass."""
    if mode == "forward":
        return [("forward", forward_mode.run) if n == "reverse" else (n, f) for n, f in STAGES]
    return STAGES


def run(ctx, stop_after=None, on_stage=None):
    """Run the passes; return the tree after ``stop_after`` (default: all).

    A gradient call leaves its arguments as they were: normalize copies a parameter the
    function changes in place at entry (``L = copy_of(L)``), but which parameters a
    function of yours called with one changes (``fill(L, v)``) is known only once
    activity analysis has read the callee (``aliasing.check``: ``Context.param_changes``).
    When it finds such a parameter not copied, the passes run again from the start with
    it in ``Context.callee_changed``, which normalize copies too (the callees'
    summaries are cached: the second run reads no callee again)."""
    if stop_after == "forward" and ctx.mode == "reverse":
        ctx.mode = "forward"
    start = _fields(ctx) if not (ctx.callee or ctx.params_escape) else None
    tree = None
    for stage, fn in stages(ctx.mode):
        tree = parse.run(ctx) if fn is None else fn(tree, ctx)
        if on_stage is not None:
            on_stage(stage, tree)
        if stage == "activity" and start is not None:
            changed = _changed_uncopied(ctx)
            if changed:
                _restore(ctx, start)
                ctx.callee_changed = {**start["callee_changed"], **changed}
                return run(ctx, stop_after, on_stage)
        if stage == stop_after:
            break
    return tree


def _fields(ctx):
    """The state of ``ctx`` before the passes, for ``_restore``."""
    state = {}
    for f in dataclasses.fields(ctx):
        v = getattr(ctx, f.name)
        state[f.name] = copy.deepcopy(v) if isinstance(v, Namer) else \
            copy.copy(v) if isinstance(v, (dict, set, list)) else v
    return state


def _restore(ctx, state):
    for k, v in state.items():
        setattr(ctx, k, copy.deepcopy(v) if isinstance(v, Namer) else
                copy.copy(v) if isinstance(v, (dict, set, list)) else v)


def _changed_uncopied(ctx):
    """The parameters of the top-level function ``ctx`` transformed (after activity
    analysis) that a function of yours it calls changes in place while they hold the
    caller's objects, and that normalize did not copy at entry: parameter -> (line,
    text) of the call, or None."""
    if ctx.filename.startswith(codegen.cache_dir()):
        return {}       # generated code (grad(grad(f))): its caller's code copied them
    # (not Context.param_writes: an update a += b of the function's own becomes a new
    # array, a_1 = a + b, and a callee's is in param_changes too)
    from .argcheck import _where
    return {p: _where(s, ctx) for p, s in ctx.param_changes.items()
            if p in ctx.params and p not in ctx.entry_copies and p != ctx.tape_param
            and p not in ctx.callee_changed and ctx.kinds.get(p) != "S"
            and p not in ctx.receivers}


def source_of(tree):
    if isinstance(tree, (gast.FunctionDef, gast.Module)):
        return codegen.to_source(tree)
    return str(tree)


_LOCAL = threading.local()


def _in_progress():
    if not hasattr(_LOCAL, "stack"):
        _LOCAL.stack = []
    return _LOCAL.stack


def _guarded(ctx, stop_after=None):
    stack = _in_progress()
    stack.append(ctx.func)
    try:
        return run(ctx, stop_after)
    finally:
        stack.pop()


def build(ctx):
    """Transform and compile; return (function or (fwd, bwd) for split mode, source).

    The cyclic garbage collector is paused meanwhile: the passes allocate many small
    nodes that live until the end, and the collections they would trigger walk the
    whole heap (up to a third of the transform time, varying with the size of the
    user's heap). The passes make no reference cycles (a nested function calling
    itself is emptied when done), so what they allocate goes when the last name of it
    does; cycles made meanwhile would be collected when it runs again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        tree = _guarded(ctx)
        text = codegen.to_source(tree)
        functions = codegen.compile_functions(text, ctx, tree)
        # freed by reference counting while the collector is still paused: else the
        # first allocation after it runs again walks the whole tree (a collection)
        del tree
    finally:
        if was_enabled:
            gc.enable()
    return (functions[0] if len(functions) == 1 else tuple(functions)), text


def callee_receivers(mapping, ctx, func=None, call=None):
    """Parameter -> class for a call's arguments that are receivers of the caller
    (``Context.receivers``): ``self`` passed on to a method of its class (with the
    objects it holds, ``self.layer``, and the items of the lists of objects it holds,
    ``self.layers[]``; a list of objects passed on: ``layers[]``); and the first
    parameter of ``func``, a method called as ``self.inner.m(...)`` or ``l.m(...)`` by
    the ``call`` node, with what its object holds (``Context.method_calls``, by the
    name it calls)."""
    found = {}
    for p, a in mapping.items():
        if isinstance(a, gast.Name):
            if a.id in ctx.receivers:
                found[p] = ctx.receivers[a.id]
            n = len(a.id)
            for r, c in ctx.receivers.items():      # self.layer.forward(x) in a method
                if r.startswith(a.id) and r[n:n + 1] in (".", "["):     # self.m(x) calls
                    found[p + r[n:]] = c
    held = ctx.method_calls.get(call.func.id) \
        if isinstance(call, gast.Call) and isinstance(call.func, gast.Name) else None
    if held and func is not None:
        first = next(iter(inspect.signature(func).parameters), None)
        if first is not None and first in mapping:
            for r, c in held.items():
                found[first + r] = c
    return found


def bind_call(op, kinds, ctx, node):
    """Bind a call of a user function: (mapping param -> atom, param kinds, param names)."""
    from .activity import _atom_kind
    from .api import kind_of
    shown = getattr(ctx, "shown_names", {}).get(op.what, op.what)   # R.rec, not R_rec
    if op.func in _in_progress():
        raise errors.unsupported(node, ctx, "Recursion", shown)
    from .api import generated_callee
    op.func = generated_callee(op.func, [_atom_kind(a, kinds) for a in op.args])
    sig = own_signature(op.func)
    try:
        bound = sig.bind(*op.args, **op.keywords)
    except TypeError as exc:
        raise errors.missing_rule(node, ctx, f"{shown} called this way ({exc})") from None
    callee_kinds = {}
    mapping, params = {}, []
    for p, param in sig.parameters.items():
        if param.kind is param.VAR_KEYWORD:
            raise errors.located_at_def(op.func, "unsupported construct: **kwargs parameter "
                                        f"(**{p})", errors.UNSUPPORTED["KwArgs"][1])
        if param.kind is param.VAR_POSITIONAL:
            # made per number of items: a parameter per item (parse._expand_vararg)
            given = bound.arguments.get(p, ())
            callee_kinds[vararg_key(p)] = str(len(given))
            for item, atom in zip(vararg_names(op.func, p, len(given)), given):
                mapping[item] = atom
                callee_kinds[item] = _atom_kind(atom, kinds)
                params.append(item)
            continue
        params.append(p)
        if p in bound.arguments:
            mapping[p] = bound.arguments[p]
            callee_kinds[p] = _atom_kind(bound.arguments[p], kinds)
        else:
            callee_kinds[p] = kind_of(param.default)
    from .api import named_fields
    from .parse import field_reads
    for p, attrs in field_reads(op.func).items():
        # a named tuple the caller's parameter holds, passed on: its fields are known
        atom = bound.arguments.get(p)
        fields = ctx.kinds.get(named_fields(atom.id)) if isinstance(atom, gast.Name) \
            and atom.id in ctx.params else None
        if fields is not None and set(attrs) <= set(fields):
            callee_kinds[named_fields(p)] = fields
    if "X" in callee_kinds.values():
        from .api import refuse_arrays
        refuse_arrays(op.func, callee_kinds, {p: sig.parameters[p].default for p in sig.parameters})
    return mapping, callee_kinds, params


def _weak(func):
    """``func`` by a weak reference if it takes one: the entry of ``_RETURN_KINDS``
    for ``func`` must not keep it alive (``owner`` reads it back)."""
    try:
        return weakref.ref(func)
    except TypeError:
        return func


def owner(held):
    """The function ``returned`` gives as the owner of a global, held by ``_weak``."""
    return held() if isinstance(held, weakref.ref) else held


_RETURN_KINDS = FunctionCache()    # (callee, kinds, receivers) -> see returned


def return_kind(op, kinds, ctx, node):
    """The kind ('S', 'A<n>', 'A', 'L', ...) of what the user function called by ``op``
    returns."""
    found = returned(op, kinds, ctx, node)
    return "A" if found is None else found[0]


def returned(op, kinds, ctx, node):
    """What the user function called by ``op`` gives back, for the caller's analyses:
    (its return kind, the parameters whose memory its result may share (it returns
    ``a[:2]``, ``a`` itself, a list holding ``a``), parameter -> (line, text) of an
    in-place update of it the caller sees (``a *= 2.0``), global name -> (line, text) of
    a store into it, by the function or one it calls, global array, list or dict name ->
    id of the object it reads, itself or through its callees, the list parameters it
    appends to or pops from, itself or through its callees, the parameters it changes
    in place in any way, itself or through its callees: ``argcheck``), global name ->
    the function writing it, the list parameters its result may be, or be an item of
    (``return l``, ``return rows[0]``), and ``Context.held_summary``: what it changes
    and reads in the attributes of the objects it is given; None when its source is
    not read (custom_vjp)."""
    mapping, callee_kinds, _ = bind_call(op, kinds, ctx, node)
    if not inspect.isfunction(op.func):       # custom_vjp: nothing to read
        return None
    receivers = callee_receivers(mapping, ctx, op.func, node)
    key = (op.func, tuple(sorted(callee_kinds.items())), tuple(sorted(receivers.items())))
    if key not in _RETURN_KINDS:
        # the caller sees what the function writes into its parameters in place
        sub = make_context(op.func, (), callee_kinds, receivers=receivers)
        sub.params_escape = True
        try:
            tree = _guarded(sub, stop_after="activity")
        except errors.S2SADError as exc:
            raise errors.in_helper(exc, op.func, node, ctx) from None
        ret = tree.body[-1].value
        kind = sub.var_kinds.get(ret.id, "A") if isinstance(ret, gast.Name) else "S"
        _RETURN_KINDS[key] = (kind, sub.return_shares, sub.param_writes, sub.global_writes,
                              sub.global_reads, frozenset(sub.param_appends),
                              frozenset(set(sub.param_changes) | set(sub.param_writes)
                                        | sub.param_appends
                                        | (sub.mutable & set(sub.params))),
                              {g: sub.global_owners.get(g) or _weak(op.func)
                               for g in sub.global_writes},
                              frozenset(sub.return_aliases), sub.held_summary)
    return _RETURN_KINDS[key]
