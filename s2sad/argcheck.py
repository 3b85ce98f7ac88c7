"""Arguments that are one object: refused where the function changes one in place.

The generated code takes distinct parameters for distinct objects: the derivative of
what ``L.append(v)`` (or ``a[i] = v``, ``a += b``, ``d[k] = v``, a helper doing so)
puts into ``L`` never reaches a read of the same list under another parameter ``M``,
and a parameter the code copies before storing into it (``a = copy_of(a)``, so the
caller's array is left as it was) no longer is the object another parameter holds. So
``f(L, L, x)`` would give a silently wrong derivative where ``f`` changes ``L`` in
place. The transformation records the parameters (and the globals) the function
changes in place, itself or through the functions it calls (``changes_of``); a call
where another argument is one of them, shares memory with it (NumPy views: ``a`` and
``a[1:]``), holds it or is held by it (a list of arrays), is refused with an
``ArgumentError`` (``refuse_aliasing``). Functions that change no argument pay nothing
(the dispatcher of ``api._dispatcher`` adds the tests of ``fast_tests`` to the entries
of those that do).
"""

from __future__ import annotations

import functools
import linecache
import os
import types

import numpy as np

from . import errors

_SCALARS = (bool, int, float, complex, np.generic, str, bytes, type(None))
_IMMUTABLE = _SCALARS + (tuple, frozenset, range)
_NOT_HOLDERS = (np.ndarray, type, types.ModuleType, types.FunctionType, types.MethodType,
                types.BuiltinFunctionType, functools.partial) + _SCALARS
_DEPTH = 3              # lists of lists of lists followed by containment tests
_BUDGET = 10_000        # items looked at per containment test (a bound on its cost)


class Changes:
    """What a function changes in place that its caller sees: ``params``, (parameter,
    (line, text) or None) each; ``globals``, (name, (line, text), lookup) each, where
    ``lookup(name)`` finds the object the name holds now (``Context._lookup``)."""

    __slots__ = ("params", "globals")

    def __init__(self, params=(), globals=()):
        self.params, self.globals = tuple(params), tuple(globals)

    def __bool__(self):
        return bool(self.params or self.globals)

    def __or__(self, other):
        if not other:
            return self
        params = dict(self.params)
        for p, where in other.params:
            if params.get(p) is None:
                params[p] = where
        seen = {g for g, _, _ in self.globals}
        return Changes(params.items(),
                       self.globals + tuple(g for g in other.globals if g[0] not in seen))


NONE = Changes()


def _where(s, ctx):
    if s is None:
        return None
    if isinstance(s, tuple):
        return s
    line = getattr(s, "lineno", None)
    if line is None:
        return None
    return line, linecache.getline(ctx.filename, line).strip()


def changes_of(ctx, func=None):
    """The ``Changes`` of the function ``ctx`` transformed (its context after the
    passes), with those marked on ``func`` (generated code transformed again: the
    changes of the user's function it was made of, ``mark``)."""
    params = {}
    for p, s in ctx.param_changes.items():
        params[p] = _where(s, ctx)
    for p, where in ctx.param_writes.items():
        if params.get(p) is None:
            params[p] = tuple(where)
    for p in sorted((ctx.param_appends | ctx.mutable) & set(ctx.params)):
        params.setdefault(p, None)
    params = {p: w for p, w in params.items() if p in ctx.params}
    owners = ctx.global_owners
    found = Changes(sorted(params.items()),
                    tuple((g, _elsewhere(tuple(where), owners.get(g), ctx),
                           functools.partial(lookup_in, owners[g]) if g in owners
                           else ctx._lookup)
                          for g, where in sorted(ctx.global_writes.items())))
    marked = getattr(func, "s2sad_changes", None) if func is not None else None
    return marked | found if marked else found      # (the user's lines, not the code's)


def _elsewhere(where, owner, ctx):
    """``where`` (line, text) of a change a function ``owner`` the transformed one calls
    makes, with the name of its file where that is another one."""
    filename = getattr(getattr(owner, "__code__", None), "co_filename", None)
    if filename is None or filename == ctx.filename:
        return where
    return where + (os.path.basename(filename),)


def lookup_in(func, dotted):
    """The object the dotted global name holds now as ``func`` sees it (its module's
    globals, its closure), as ``Context.lookup`` finds it; KeyError if none."""
    head, *rest = dotted.split(".")
    code = func.__code__
    if head in code.co_freevars and func.__closure__:
        obj = func.__closure__[code.co_freevars.index(head)].cell_contents
    elif head in func.__globals__:
        obj = func.__globals__[head]
    else:
        raise KeyError(dotted)
    for part in rest:
        obj = getattr(obj, part)
    return obj


def mark(fn, changes):
    """Mark the generated function(s) ``fn`` with the ``changes`` of the code they were
    made of, for the transformations that differentiate them again (``hessian``)."""
    for f in fn if isinstance(fn, tuple) else (fn,):
        try:
            f.s2sad_changes = changes
        except (AttributeError, TypeError):
            pass


def shares(a, b):
    """The arrays ``a`` and ``b`` share memory (where NumPy cannot tell in reasonable
    time, taken to)."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=100_000))
    except Exception:       # (numpy's TooHardError)
        return True


def _meets(a, b):
    return a is b or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                      and shares(a, b))


def _items(c):
    """What the value ``c`` holds: the items of a list or a tuple, the values of a dict,
    the attributes in the ``__dict__`` of an object of a class of the user's (``self``
    holding ``self.w``); else None."""
    if isinstance(c, (list, tuple)):
        return c
    if type(c) is dict:
        return c.values()
    if isinstance(c, _NOT_HOLDERS) or type(c).__module__ == "builtins":
        return None
    own = getattr(c, "__dict__", None)
    return own.values() if type(own) is dict else None


def _holds(c, target, depth, budget):
    """The value ``c`` holds ``target`` (or an array sharing its memory), down to
    ``depth`` levels (``_items``)."""
    items = _items(c) if depth > 0 else None
    if items is None:
        return False
    for v in items:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if isinstance(v, _SCALARS):
            continue
        if _meets(v, target) or _holds(v, target, depth - 1, budget):
            return True
    return False


def relation(a, b):
    """How the values ``a`` and ``b`` overlap: 'is', 'shares', 'holds' (``a`` holds
    ``b``), 'held' (``b`` holds ``a``), or None."""
    if a is b:
        return "is"
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return "shares" if shares(a, b) else None
    budget = [_BUDGET]
    if _holds(a, b, _DEPTH, budget):
        return "holds"
    if _holds(b, a, _DEPTH, budget):
        return "held"
    return None


def clash(a, b):
    """``relation(a, b)`` is not None (the test ``fast_tests`` calls)."""
    return relation(a, b) is not None


_COPIED = (np.ndarray, list, dict)


def _copy_of(name, value):
    if isinstance(value, np.ndarray):
        return f"{name}.copy()"
    if isinstance(value, list):
        return f"list({name})"
    if isinstance(value, dict):
        return f"dict({name})"
    return f"copy.copy({name})"


_TOLD = {"is": "is the same object as {p}",
         "shares": "shares memory with {p} (a view of the same array)",
         "holds": "holds {p} (as an item or an attribute)",
         "held": "is held by {p} (as an item or an attribute)"}


def _line(where):
    if not where:
        return ""
    return f" ({where[2] + ' ' if len(where) > 2 else ''}line {where[0]}: {where[1]!r})"


def _overlapping(obj, names, values, skip=None):
    """(name, value, how) of each argument but ``skip`` that overlaps ``obj``
    (``relation``), in the order of ``names``."""
    for q in names:
        b = values.get(q, _ABSENT)
        if q == skip or b is _ABSENT or isinstance(b, _SCALARS):
            continue
        how = relation(b, obj)
        if how is not None:
            yield q, b, how


def refuse_aliasing(func, changes, values, order=None):
    """An ``ArgumentError`` if, among ``values`` (parameter name -> value of a call),
    one the function changes in place (``changes``) overlaps another (``relation``),
    or a global it changes in place is (or overlaps) an argument. ``order``: the
    parameter names in the order of the call, for the hint (by default ``values``'s)."""
    if not changes:
        return
    names = list(order if order is not None else values)
    label = getattr(func, "__name__", "the function")
    for p, where in changes.params:
        a = values.get(p, _ABSENT)
        if a is _ABSENT or isinstance(a, _IMMUTABLE):
            continue
        for q, b, how in _overlapping(a, names, values, p):
            told = _TOLD[how].format(p=repr(p))
            copied, value = (q, b) if isinstance(b, _COPIED) or not isinstance(a, _COPIED) \
                else (p, a)             # (a copy of the array, not of self holding it)
            call = ", ".join(_copy_of(n, value) if n == copied else n for n in names)
            raise errors.bad_argument(
                func, f"{label} changes its argument {p!r} in place{_line(where)}, and its "
                f"argument {q!r} {told}: the derivative code takes distinct arguments for "
                "distinct objects, so its result would be wrong",
                hint=f"pass a copy: {label}({call})")
    for g, where, lookup in changes.globals:
        try:
            obj = lookup(g)
        except (KeyError, ValueError, AttributeError):
            continue
        if isinstance(obj, _IMMUTABLE):
            continue
        for q, b, how in _overlapping(obj, names, values):
            told = _TOLD[how].format(p=f"the global {g}")
            call = ", ".join(_copy_of(n, b) if n == q else n for n in names)
            raise errors.bad_argument(
                func, f"{label} changes the global {g} in place{_line(where)}, and its "
                f"argument {q!r} {told}: the derivative code takes the argument for "
                "another object than the global, so its result would be wrong",
                hint=f"pass a copy: {label}({call})")


_ABSENT = object()


def fast_tests(changes, names, types, kinds, inject):
    """The tests (Python expressions) a dispatcher entry adds for a function that
    changes arguments in place (``api._dispatcher``): true when no argument overlaps
    one changed; where one may, the call goes to the general path, which refuses it
    (``refuse_aliasing``). ``names``: the expression of each parameter's value in the
    dispatcher, ``types`` and ``kinds``: each one's type and kind (None: unknown, a
    default), ``inject(base, obj)``: the name the dispatcher reaches ``obj`` by."""
    tests = []
    changed = {p for p, _ in changes.params}
    test = []

    def clash_name():
        if not test:
            test.append(inject("clash", clash))
        return test[0]

    for p in names:
        if p not in changed or _immutable_type(types[p]):
            continue
        for q in names:
            if q == p or _scalar_type(types[q]):
                continue
            arrays = types[p] is not None and types[q] is not None \
                and issubclass(types[p], np.ndarray) and issubclass(types[q], np.ndarray)
            holders = _may_hold(types[p], kinds[p]) or _may_hold(types[q], kinds[q])
            if arrays and not holders:      # (the general path tells a[::2] from a[1::2])
                may = inject("may_share_memory", np.may_share_memory)
                tests.append(f"not {may}({names[q]}, {names[p]})")
            elif arrays or holders:
                tests.append(f"not {clash_name()}({names[q]}, {names[p]})")
            else:
                tests.append(f"{names[p]} is not {names[q]}")
    if changes.globals:
        refuse = inject("refuse_globals", _globals_clash)
        given = ", ".join(names[q] for q in names)
        tests.append(f"not {refuse}({inject('changes', changes)}, ({given},))")
    return tests


def _globals_clash(changes, values):
    for g, _, lookup in changes.globals:
        try:
            obj = lookup(g)
        except (KeyError, ValueError, AttributeError):
            continue
        if not isinstance(obj, _IMMUTABLE) and any(
                not isinstance(v, _SCALARS) and relation(v, obj) is not None for v in values):
            return True
    return False


def _may_hold(t, kind):
    """A value of type ``t`` and kind ``kind`` may hold other objects (``_items``)."""
    return t is None or not (issubclass(t, (np.ndarray,) + _SCALARS) or kind == "LS")


def _immutable_type(t):
    return t is not None and issubclass(t, _IMMUTABLE)


def _scalar_type(t):
    return t is not None and issubclass(t, _SCALARS)
