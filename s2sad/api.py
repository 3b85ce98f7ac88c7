"""The user API: ``grad``, ``value_and_grad``, ``source``.

Transformation happens on the first call (so helpers defined after the
decorated function are found) and is specialized on whether each argument is a
scalar or an array, and so are the attributes the function reads of an argument
that is a plain object (``self.W`` of a method); results are cached per function,
``wrt``, output and these kinds.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import itertools
import keyword
import os
import threading
import types
import weakref

import numpy as np

from . import argcheck, errors, parse, pipeline, rulestamp
from .fncache import FunctionCache
from .kinds import DICT_ITEMS, ROW_ITEMS, array_ndim
from .runtime import REFUSED_ARRAYS, refused_array_message

_CACHE = FunctionCache()     # specialization key -> _Compiled (see compiled)
_HERE = os.path.dirname(os.path.abspath(__file__))     # s2sad's own functions live here
_LOCK = threading.RLock()


_SCALAR_TYPES = (bool, int, float, complex, np.generic)


def kind_of(value):
    """What the generated code is specialized on, for one argument: 'S' for Python
    and NumPy scalars, 'A1' for 1-D arrays, 'A2' for 2-D ones ('A<n>' for an
    ndarray of n >= 1 dimensions), 'LS' for lists and tuples of scalars, 'L' for
    other lists and tuples, 'A' for the rest (0-d arrays among them, and subclasses
    of ndarray of 2 dimensions or more, whose items need not have fewer), 'X' for
    what s2sad refuses (``REFUSED_ARRAYS``: an ``np.matrix``, a masked array, or a
    list or tuple holding one)."""
    if isinstance(value, _SCALAR_TYPES):
        return "S"
    if isinstance(value, np.ndarray):
        n = value.ndim
        if type(value) is not np.ndarray and isinstance(value, REFUSED_ARRAYS):
            return "X"
        if n == 1 or (n > 1 and type(value) is np.ndarray):
            return f"A{n}"
        return "A"
    if type(value) is tuple and 16 <= len(value) <= 100_000:
        return _tuple_kind(value)
    if isinstance(value, (list, tuple)):
        return _sequence_kind(value)
    if type(value) is dict:
        return "L"          # a container its items are read from (params["w"])
    if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
        return "L"          # a dataclass instance: a container read by field (p.w)
    return "A"


def dict_kind(value):
    """For the dispatch of a call (``_key``, ``_fast_entry``, ``_dispatcher``) on a
    dict argument: 'DS' for a non-empty dict whose values are all Python or NumPy
    scalars, whose items the code reads as scalars (``call_kinds`` gives the
    parameter ``p`` the kind 'L' and ``p{}`` the kind 'S'), 'L' for any other dict."""
    if value and all(isinstance(v, _SCALAR_TYPES) for v in value.values()):
        return "DS"
    return "L"


_ROW_TYPES = frozenset((tuple, list))
_ROW_ITEMS = frozenset((float, int))


def rows_kind(value, kind):
    """For the dispatch of a call on a list or tuple argument of kind ``kind``
    (``kind_of``): 'LLS' for a non-empty one of kind 'L' whose items are all tuples or
    lists (not named tuples) of floats and ints, as ``[(x1, y1), (x2, y2)]``, whose
    items the code reads as 'LS' (``call_kinds`` gives the parameter ``p`` the kind 'L'
    and ``p[]`` the kind 'LS'); ``kind`` otherwise. The types are tested in C."""
    if kind != "L" or not value or not set(map(type, value)) <= _ROW_TYPES:
        return kind
    if not set(map(type, itertools.chain.from_iterable(value))) <= _ROW_ITEMS:
        return kind
    return "LLS"


def sequence_kind(value):
    """``kind_of`` of a list or tuple, refined by ``rows_kind``: what a call is
    dispatched on."""
    return rows_kind(value, kind_of(value))


def _spec_kind(value):
    """``kind_of``, but ``dict_kind`` for a dict and ``sequence_kind`` for a list or
    tuple: what a call is dispatched on."""
    if type(value) is dict:
        return dict_kind(value)
    if isinstance(value, (list, tuple)):
        return sequence_kind(value)
    return kind_of(value)


def _sequence_kind(value):
    if not value:
        return "L"
    found = set(map(type, value))
    if all(issubclass(t, _SCALAR_TYPES) for t in found):
        return "LS"
    if any(issubclass(t, REFUSED_ARRAYS) for t in found):
        return "X"
    return "L"


def refuse_arrays(func, kinds, values):
    """An ArgumentError for an argument of kind 'X' (``REFUSED_ARRAYS``). ``kinds`` and
    ``values`` map the parameter names to the kinds and values of a call."""
    for name, kind in kinds.items():
        if kind == "X":
            value = values.get(name)
            if isinstance(value, (list, tuple)):
                i, item = next((i, v) for i, v in enumerate(value)
                               if isinstance(v, REFUSED_ARRAYS))
                what = f"argument {name!r} of {func.__name__} holds an item that"
                name = f"{name}[{i}]"
            else:
                item, what = value, f"argument {name!r} of {func.__name__}"
            message, hint = refused_array_message(item, name)
            raise errors.bad_argument(func, f"{what} {message}", hint=hint)


_TUPLE_KINDS = {}       # id(tuple) -> (tuple, kind), the few tuples seen last


def _tuple_kind(value):
    """Kind of a tuple, remembered: a tuple cannot change, and scanning a long one
    on every call (a table of constants passed again and again) would cost more
    than a scalar loop over it."""
    hit = _TUPLE_KINDS.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    kind = _sequence_kind(value)
    if len(_TUPLE_KINDS) >= 8:
        _TUPLE_KINDS.clear()
    _TUPLE_KINDS[id(value)] = (value, kind)
    return kind


_NOT_PLAIN = _SCALAR_TYPES + (np.ndarray, list, tuple)
_GETATTRIBUTE = object.__getattribute__


def _plain(obj):
    """``obj`` is an object whose attributes ``obj.name`` finds in its ``__dict__`` or its
    class the ordinary way (no ``__getattribute__`` of its own; not a number, an array,
    a list or a tuple, nor a class or a module, which have their own)."""
    t = type(obj)
    return t.__getattribute__ is _GETATTRIBUTE and not issubclass(t, _NOT_PLAIN)


_ABSENT = "absent"      # the test of an attribute that is not there (_attribute_state)


def _attribute_state(obj, name):
    """(kind, test) of the attribute ``obj.name`` of a plain object (``_plain``), for
    generated code that reads it: the kind is ``kind_of`` of its value where that is
    ``'S'`` or ``'A<n>'``, else ``'A'`` (lists and tuples too: the function may append
    to them). ``test`` is what the dispatcher checks that the kind still holds by
    (``_dispatcher``): the type of the value (found in the instance's ``__dict__``, or a
    plain class attribute); ``_ABSENT`` for an attribute that is not there; None (the
    kind is ``'A'`` whatever the value, and reading it may run code) for a property or
    any other descriptor of the class, or a class with ``__getattr__``."""
    t = type(obj)
    found = _MISSING
    for klass in t.__mro__:
        found = klass.__dict__.get(name, _MISSING)
        if found is not _MISSING:
            break
    tf = type(found)
    if found is not _MISSING and (hasattr(tf, "__set__") or hasattr(tf, "__delete__")):
        return "A", None                        # a property, a slot: runs code
    d = getattr(obj, "__dict__", None)
    value = d.get(name, _MISSING) if type(d) is dict else _MISSING
    if value is _MISSING:
        if found is not _MISSING:
            if hasattr(tf, "__get__"):
                return "A", None                # a method, a cached_property
            value = found                       # a class attribute
        elif hasattr(t, "__getattr__"):
            return "A", None
        else:
            return "A", _ABSENT
    if isinstance(value, (list, tuple)):
        return "A", type(value)                 # not scanned: its kind is not kept
    kind = kind_of(value)
    if kind != "S" and array_ndim(kind) is None:
        kind = "A"
    return kind, type(value)


def attribute_kinds(func, arguments):
    """``{'p.name': kind}`` for the attributes ``func`` reads as ``p.name`` of each
    parameter ``p`` that holds a plain object in ``arguments`` (name -> value), as
    ``parse.attribute_reads`` finds them: generated code is specialized on these kinds
    as on those of the arguments (``activity.infer_kinds``). For a named tuple whose
    fields these attributes all are, ``{'p._fields': its fields}`` instead: the
    normal form reads ``p.name`` as ``p[i]`` (the dispatcher tests the tuple's type,
    which fixes its fields), whatever else reads ``p`` (``parse.field_reads``: ``p[0]``
    too)."""
    out = {}
    for p, attrs in parse.field_reads(func).items():
        obj = arguments.get(p, _MISSING)
        fields = getattr(type(obj), "_fields", None)
        if isinstance(obj, tuple) and isinstance(fields, tuple) and set(attrs) <= set(fields):
            out[named_fields(p)] = fields
    for p, attrs in parse.attribute_reads(func).items():
        obj = arguments.get(p, _MISSING)
        if obj is _MISSING or named_fields(p) in out:
            continue
        if _plain(obj):
            for a in attrs:
                out[f"{p}.{a}"] = _attribute_state(obj, a)[0]
    return out


def named_fields(p):
    """The key of ``attribute_kinds`` for the fields of the named tuple ``p`` holds."""
    return f"{p}._fields"


def call_kinds(func, arguments, owner=None):
    """The kinds ``func`` is specialized on for a call with ``arguments`` (name ->
    value, defaults included): each argument's, and those of the attributes of
    arguments it reads (``attribute_kinds``). The items of a ``*xs`` parameter of
    ``owner`` (the function whose signature bound ``arguments``, by default ``func``)
    each have their own, and the code is made for their number
    (``parse._expand_vararg``)."""
    kinds = {n: kind_of(v) for n, v in arguments.items()}
    for n, v in arguments.items():
        if type(v) is dict and dict_kind(v) == "DS":
            kinds[n + DICT_ITEMS] = "S"     # its items are scalars (activity.infer_kinds)
        elif kinds[n] == "L" and isinstance(v, (list, tuple)) \
                and rows_kind(v, "L") == "LLS":
            kinds[n + ROW_ITEMS] = "LS"     # its items are rows of scalars (infer_kinds)
    var = vararg_of(func if owner is None else owner)
    if var is not None and var in arguments:
        from .parse import vararg_key, vararg_names
        items = arguments[var]
        del kinds[var]
        kinds[vararg_key(var)] = str(len(items))
        for item, v in zip(vararg_names(func if owner is None else owner, var, len(items)),
                           items):
            kinds[item] = kind_of(v)
    if inspect.isfunction(func):
        kinds.update(attribute_kinds(func, arguments))
    return kinds


def _item_values(func, arguments):
    """``arguments`` (name -> value) with the items of ``func``'s ``*xs`` under the
    names of the parameters standing for them (``call_kinds``)."""
    var = vararg_of(func)
    if var is None or var not in arguments:
        return arguments
    from .parse import vararg_names
    out = dict(arguments)
    out.update(zip(vararg_names(func, var, len(arguments[var])), arguments[var]))
    return out


def vararg_of(func):
    """The name of ``func``'s ``*args`` parameter, or None."""
    code = getattr(func, "__code__", None)
    if code is None or not code.co_flags & inspect.CO_VARARGS:
        return None
    return code.co_varnames[code.co_argcount + code.co_kwonlyargcount]


def _signature(func):
    from .parse import own_signature
    try:
        return own_signature(func)
    except (TypeError, ValueError):
        raise errors.source_unavailable(func, "it has no inspectable signature") from None


def _parse_wrt(func, wrt):
    is_tuple = isinstance(wrt, (tuple, list))
    idx = tuple(wrt) if is_tuple else (wrt,)
    all_params = list(_signature(func).parameters.values())
    params = [p for p in all_params if p.kind is not p.VAR_KEYWORD]
    kwargs = len(params) != len(all_params)
    star = next((p for p in params if p.kind is p.VAR_POSITIONAL), None)
    if star is not None:        # wrt counts the positional arguments as passed
        params = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    code = getattr(func, "__code__", None)
    if code is not None and getattr(func, "__wrapped__", None) is not None \
            and os.path.dirname(os.path.abspath(code.co_filename)) == _HERE:
        user = _unwrap(func.__wrapped__)
        made = {"jac": "jacobian or hessian", "egrad": "elementwise_grad"}.get(
            code.co_name, code.co_name)
        raise errors.bad_argument(
            user, f"cannot differentiate the function s2sad's {made} made of "
            f"{getattr(user, '__name__', user)}",
            hint="take second derivatives with s2sad.hessian(f) or "
                 "s2sad.jacobian(s2sad.grad(f))")
    if kwargs and hasattr(func, "__code__"):
        from .parse import def_line
        code = func.__code__
        hint = errors.UNSUPPORTED["KwArgs"][1]
        what = "**kwargs parameter"
        if getattr(func, "__wrapped__", None) is not None:
            what = "*args or **kwargs parameter"
            hint = ("this wrapper a decorator made does more than pass the call on: give it "
                    "the parameters of the function it wraps, or differentiate that "
                    f"function ({func.__name__}.__wrapped__)")
        raise errors.UnsupportedSyntaxError(
            f"unsupported construct: {what}",
            filename=code.co_filename, lineno=def_line(func), hint=hint)
    label = getattr(func, "__name__", None)
    if type(func) is functools.partial:     # (located at its function's def)
        label = f"functools.partial of {getattr(func.func, '__name__', func.func)}"
        func = func.func
    for i in idx:
        if not isinstance(i, int) or isinstance(i, bool):
            raise errors.bad_argument(func, f"wrt must be an int or a tuple of ints, got {i!r}",
                                      hint="give argument positions, e.g. wrt=0 or wrt=(0, 1)")
        if not params and star is None:
            raise errors.bad_argument(
                func, f"{label} has no parameters to differentiate with respect to",
                hint="give the function the inputs you want derivatives for as parameters")
        if not 0 <= i < len(params) and not (star is not None and i >= 0):
            raise errors.bad_argument(
                func, f"wrt={i} is out of range: {label} has {len(params)} "
                      f"parameter{'s' if len(params) != 1 else ''}",
                hint=f"use an index between 0 and {len(params) - 1}")
    if not idx:
        raise errors.bad_argument(func, "wrt is empty", hint="name at least one argument")
    return idx, is_tuple


class _Compiled:
    __slots__ = ("function", "source", "ctx", "changes")

    def __init__(self, function, source, ctx, changes=argcheck.NONE):
        self.function, self.source, self.ctx = function, source, ctx
        self.changes = changes      # what it changes in place (argcheck.changes_of)


def compiled(func, wrt, wrt_tuple, output, kinds, optimize=True, callee=False,
             checkpoint=False, has_aux=False, fixed_point=False, mode=None, directions=1,
             receivers=None):
    """The generated function(s) for ``func``, built once per specialization.
    ``mode``: 'forward' for ``grad`` by forward mode (see ``choose_mode``); by
    default, forward mode for ``jvp`` and reverse mode for the rest. ``directions``:
    the number of tangents per argument a ``jvp`` takes (a callee of forward mode
    along several arguments). ``receivers``: parameter -> the class of the object it
    holds (``receivers_of``), whose methods ``p.m(...)`` calls reach."""
    key = (func, wrt, wrt_tuple, output, tuple(sorted(kinds.items())), optimize, callee,
           checkpoint, has_aux, fixed_point, mode, directions,
           tuple(sorted(receivers.items())) if receivers else ())
    try:
        hit = _CACHE.get(key)
    except TypeError:       # an unhashable callable (np.poly1d): no function of a file
        raise errors.source_unavailable(func, "it is not a Python function defined with "
                                              "def") from None
    if hit is not None and isinstance(hit.ctx, pipeline.Context) and hit.ctx.stale():
        hit = _CACHE[key] = None          # a helper was redefined: transform again
    if hit is None and isinstance(func, CustomVJP):
        if output != "split":
            from .parse import def_line
            code = getattr(func.__wrapped__, "__code__", None)
            raise errors.MissingRuleError(
                f"no derivative rule for {func.__name__} in forward mode: a custom_vjp gives "
                "only a reverse-mode rule",
                filename=code.co_filename if code else None,
                lineno=def_line(func.__wrapped__) if code else None,
                hint="differentiate in reverse mode: grad(..., mode='reverse'), vjp, or "
                     "check_grads(..., modes=('rev',))")
        hit = _CACHE[key] = _Compiled(func.split_pair(wrt), "", _CustomCtx())
    if hit is None:
        with _LOCK:
            hit = _CACHE.get(key)
            if hit is None:
                ctx = pipeline.make_context(func, wrt, kinds, output, wrt_tuple, optimize,
                                            mode=mode, callee=callee, checkpoint=checkpoint,
                                            has_aux=has_aux, fixed_point=fixed_point,
                                            directions=directions, receivers=receivers)
                ctx.origin = getattr(func, "s2sad_origin", None)
                building = _building()
                building.append(ctx)
                try:
                    fn, text = pipeline.build(ctx)
                finally:
                    building.pop()
                if ctx.itape_params:
                    mark_lists(fn, ctx)
                mark_pops(func, fn, output)
                for made in fn if isinstance(fn, tuple) else (fn,):
                    if isinstance(made, types.FunctionType):
                        # what the code was made of: code made of it in turn (a hessian's
                        # forward sweep over a gradient) is stale when this is
                        made.s2sad_origin = ctx
                changes = argcheck.changes_of(ctx, func)
                if changes:
                    argcheck.mark(fn, changes)
                ctx.release()
                hit = _CACHE[key] = _Compiled(fn, text, ctx, changes)
    building = _building()
    if building:
        building[-1].deps.append(hit)     # a callee of the function being transformed
    return hit


def mark_lists(pair, ctx):
    """Tell what goes on each list parameter of a split callee's pair (``fwd_g``,
    ``bwd_g``) but its tape, to the activity analysis of code that calls them (a
    gradient differentiated again): values carrying no derivative that depend on the
    parameters named only (``reverse.tape_for``); ``bwd_g`` only pops them."""
    fwd, bwd = pair
    fwd.s2sad_lists = {p: frozenset(deps) for p, deps in ctx.itape_params}
    bwd.s2sad_lists = {p: frozenset() for p, _ in ctx.itape_params}


def mark_pops(func, fn, output):
    """Mark the generated functions that pop from a tape they are given (``bwd_g``, the
    code made of one that does: ``jvp_bwd_g``), so the clean-up of code calling them
    never drops such a call whose result is unused (``optimize._pops``): the pops
    that later calls expect done would not be."""
    if output == "split":
        fwd, bwd = fn
        bwd.s2sad_pops = True
        if getattr(func, "s2sad_pops", False):
            fwd.s2sad_pops = True
    elif getattr(func, "s2sad_pops", False) and isinstance(fn, types.FunctionType):
        fn.s2sad_pops = True


_NOT_RECEIVERS = (int, float, complex, np.generic, np.ndarray, str, bytes, type(None), type,
                  types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                  types.MethodType, functools.partial)


def _is_receiver(v):
    module = type(v).__module__
    return not isinstance(v, _NOT_RECEIVERS) and module != "builtins" \
        and not module.startswith("s2sad")      # a grad object passed on: called as it is


def receivers_of(arguments):
    """Parameter -> class, for the arguments (a mapping of parameter names to values)
    holding an instance of a class of its own (``self`` of a method; a named tuple
    too), and 'self.inner' -> class for such objects held in the instance's own
    attributes (down to ``_RECEIVER_DEPTH`` attributes: 'self.block.inner'): the
    generated code calls that class's functions for ``self.m(...)`` and
    ``self.inner.m(...)`` (``parse.bind_methods``), so it is specialized on the
    classes, as on the kinds. A list or tuple of such objects, an argument or an
    attribute, maps as 'layers[]' or 'self.layers[]' to the class of its items (a
    tuple of their classes when they differ; nothing when an item is no such object),
    and what the items hold alike as 'self.layers[].act': ``for l in self.layers:
    l.apply(x)`` calls that class's function. A parameter holding a dict maps to
    ``dict``: ``pipeline.make_context`` takes these out into ``Context.dicts`` (a dict
    argument has the kind of a list, 'L'), and the code is specialized on them too."""
    found = {}
    budget = [_RECEIVER_BUDGET]
    for n, v in arguments.items():
        if type(v) is dict:
            found[n] = dict     # (pipeline.make_context: Context.dicts, no receiver)
        else:
            _receivers_in(n, v, found, 0, budget)
    return found


_RECEIVER_DEPTH = 4         # attributes and list items followed from an argument
_RECEIVER_BUDGET = 4096     # values looked at per call of receivers_of


def _receivers_in(path, v, found, depth, budget):
    """``receivers_of`` of the value ``v`` found at ``path``, into ``found``."""
    budget[0] -= 1
    if budget[0] < 0:
        return
    if _is_receiver(v):
        found[path] = type(v)
        own = getattr(v, "__dict__", None)
        if depth < _RECEIVER_DEPTH and type(own) is dict and len(own) <= 256:
            for a, w in own.items():
                if type(a) is str:
                    _receivers_in(f"{path}.{a}", w, found, depth + 1, budget)
    elif isinstance(v, (list, tuple)) and 0 < len(v) <= 100_000 and _is_receiver(v[0]) \
            and all(map(_is_receiver, v)):
        classes = tuple(dict.fromkeys(map(type, v)))
        items = path + "[]"
        if len(classes) > 1:
            found[items] = classes      # refused where a method of an item is called
            return
        common = None                   # what every item holds alike
        for w in v:
            each = {}
            _receivers_in(items, w, each, depth + 1, budget)
            common = each if common is None else \
                {k: c for k, c in common.items() if each.get(k) == c}
            if budget[0] < 0:
                common = {items: classes[0]}
                break
        found.update(common)


_THREAD = threading.local()


def _building():
    """The contexts this thread is transforming, innermost last."""
    stack = getattr(_THREAD, "building", None)
    if stack is None:
        stack = _THREAD.building = []
    return stack


def _unwrap(func):
    from .parse import plain
    while isinstance(func, (GradFunction, CustomVJP)):
        func = func.__wrapped__
    return plain(func)


_REFINED = (list, tuple, np.ndarray, dict)    # (and their subclasses: named tuples)


def _key(args, kwargs):
    """Cache key of a call: argument types, refined by kind for arrays and sequences."""
    key = tuple(map(type, args))
    if kwargs:
        key += tuple((k, type(v)) for k, v in sorted(kwargs.items()))
        args = args + tuple(v for _, v in sorted(kwargs.items()))
    for t in key:
        if (t[1] if type(t) is tuple else t) in _REFINED \
                or isinstance(t, type) and issubclass(t, _REFINED):
            return key + tuple(map(_spec_kind, args))
    return key


_F64 = np.dtype(np.float64)


def _as_argument(g, a):
    """The gradient ``g`` for the argument ``a`` in ``a``'s type: a float for an int
    or bool (documented rule); for an array of floats, an array of its dtype and
    shape (a float32 array gets a float32 gradient, a 0-d array a 0-d array, where
    the reverse sweep, seeded with the float 1.0, computes in float64)."""
    if type(a) in (int, bool) or isinstance(a, np.integer):
        return float(g) if np.ndim(g) == 0 else g
    if isinstance(a, (float, np.floating)) and isinstance(g, (int, np.integer)):
        return float(g)        # x * x of an int argument x, derivative of a float y
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" \
            and (type(g) is not np.ndarray or g.dtype != a.dtype) \
            and np.shape(g) == a.shape:
        return np.asarray(g, dtype=a.dtype)
    return g


def is_bool(a):
    """``a`` is a bool, a NumPy bool or an array of bools: no number to differentiate
    along (``True + True`` of bool arrays is ``True``)."""
    return type(a) is bool or isinstance(a, np.bool_) \
        or (isinstance(a, np.ndarray) and a.dtype.kind == "b")


_DIFFERENTIABLE = (int, float, complex, np.number, np.ndarray, list, tuple, dict)


def _wrt_values(params, wrt, args, kwargs):
    """(position, value) of each differentiated argument given in a call (``params``:
    the parameter names)."""
    for i in wrt:
        if i < len(args):
            yield i, args[i]
        elif i < len(params) and params[i] in kwargs:
            yield i, kwargs[params[i]]


def refuse_wrt(func, sig, wrt, args, kwargs):
    """An ArgumentError for a differentiated argument that holds no real number to
    differentiate along, as JAX refuses one: a complex value (``_complex_argument``), a
    bool (``is_bool``), or anything but a number, an array, a list, a tuple or a dict
    of such values (a string, None, an object: its gradient came back as 0.0). Such an
    argument that is not differentiated is fine."""
    params = list(sig.parameters)
    star = next((p for p in sig.parameters.values() if p.kind is p.VAR_POSITIONAL), None)
    if star is not None:
        # wrt counts the positional arguments as passed: those *star gets are its items
        k = params.index(star.name)
        params = params[:k] + [f"{star.name}[{j}]" for j in range(max(len(args) - k, 0))]
        for i in wrt:
            if i >= len(params):
                raise errors.bad_argument(
                    func, f"wrt={i} is out of range: {func.__name__} got {len(params)} "
                    f"positional argument{'s' if len(params) != 1 else ''}",
                    hint=f"use an index between 0 and {len(params) - 1}, or pass more "
                         "arguments" if params else "pass the arguments to differentiate "
                         "along")
    for i, value in _wrt_values(params, wrt, args, kwargs):
        if _is_complex(value):
            raise _complex_argument(func, i, params, value)
        if is_bool(value):
            what = "an array of bools" if isinstance(value, np.ndarray) else "a bool"
        elif not isinstance(value, _DIFFERENTIABLE) and _record_fields(value) is None:
            what = f"a value of type {type(value).__name__}"
        elif _odd_entry(value) is not None:
            holder, key, entry = _odd_entry(value)
            part = "entry" if isinstance(holder, dict) else "field"
            kind = type(holder).__name__
            what = (f"{'a' if kind[0] not in 'AEIOU' else 'an'} {kind} whose {part} {key!r} "
                    f"is a value of type {type(entry).__name__}")
        else:
            continue
        if i == 0 and params[0] == "self" and not is_bool(value):
            hint = ("wrt counts self here (a method decorated with grad, or grad of "
                    "Class.method): write @s2sad.grad(wrt=1), or grad(obj.method), for the "
                    "arguments after it")
        else:
            hint = (f"pass a float ({params[i]}=1.0, or an array of dtype float) to "
                    "differentiate along it, or leave it out of wrt")
        raise errors.bad_argument(
            func, f"argument {i} ({params[i]!r}) of {func.__name__} is differentiated, "
            f"but it holds {what}, which has no derivative", hint=hint)


def _record_fields(value):
    from .runtime import record_fields
    return record_fields(value)


def _odd_entry(d):
    """(container, key, value) of an entry of the dict ``d``, or a field of the named
    tuple or dataclass instance ``d`` (or of such a dict or record in it), that holds no
    real number to differentiate along: a string, None, a bool, an object; or None."""
    if isinstance(d, dict):
        items = d.items()
    else:
        fields = _record_fields(d)
        if fields is None:
            return None
        items = ((f, getattr(d, f)) for f in fields)
    for k, v in items:
        if isinstance(v, dict) or _record_fields(v) is not None:
            found = _odd_entry(v)
            if found is not None:
                return found
        elif is_bool(v) or not isinstance(v, _DIFFERENTIABLE):
            return d, k, v
    return None


def _is_complex(a):
    """A complex number, a complex array, or a list or tuple holding one."""
    if isinstance(a, (complex, np.complexfloating)):
        return True
    if isinstance(a, np.ndarray):
        return a.dtype.kind == "c"
    if isinstance(a, (list, tuple)):
        return any(_is_complex(v) for v in a)
    if isinstance(a, dict):
        return any(_is_complex(v) for v in a.values())
    if hasattr(a, "__dataclass_fields__") and _record_fields(a) is not None:
        return any(_is_complex(getattr(a, f)) for f in _record_fields(a))
    return False


def _complex_argument(func, i, params, value):
    """The ``ArgumentError`` for a complex value among the arguments differentiated: the
    rules are those of real arguments (``abs``, ``np.abs``, comparisons), so a
    gradient along a complex one would be wrong or fail inside the generated code."""
    base = _unwrap(func)
    name = params[i] if i < len(params) else str(i)
    return errors.bad_argument(
        base, f"argument {i} ({name}) of {getattr(base, '__name__', base)} is complex "
        f"({type(value).__name__}"
        + (f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else "")
        + "): s2sad differentiates with respect to real arguments only",
        hint="pass the real and imaginary parts as two float arguments")


def complex_arithmetic(func, what):
    """The error for a derivative (``what``: gradient, tangent, ...) of real arguments
    that came out complex."""
    from .parse import def_line
    base = _unwrap(func)
    code = getattr(base, "__code__", None)
    return errors.UnsupportedSyntaxError(
        f"unsupported construct: complex arithmetic (the {what} of "
        f"{getattr(base, '__name__', base)} along its real arguments came out complex: "
        "s2sad's rules are those of real numbers, so a complex value in the function, its "
        "output or one computed on the way, gets no correct derivative)",
        filename=code.co_filename if code else None,
        lineno=def_line(base) if code else None,
        hint="compute with the real and imaginary parts as real numbers, or move the "
             "complex arithmetic out of the function")


def _needs_fixing(a):
    """``_as_argument`` may change the gradient for the argument ``a``."""
    return type(a) in (int, bool) or isinstance(a, (np.integer, np.bool_)) \
        or (isinstance(a, np.ndarray) and (a.dtype is not _F64 or a.ndim == 0))


def _dispatcher(sig, name, fast, limit=8, wrt=()):
    """A ``__call__`` with the parameters of the user's function that calls the
    generated function of a specialization directly, or None if the signature has
    ``*args`` or ``**kwargs``.

    Its parameters are the function's own names, each with a private default
    that marks it as not given, so CPython binds any call, positional or by
    keyword, without building a tuple or a dict; a call the function itself
    would refuse (an unknown keyword, a value given twice) raises CPython's own
    ``TypeError`` from a function of the same name. Too many positional
    arguments go to ``*rest``.

    ``fast`` maps the key of a specialization (per positional argument: its
    type and kind, and for a plain object whose attributes the function reads,
    (name, kind, test) of each, ``GradFunction._fast_entry``) to its compiled
    implementation. The method tests each argument inline (``type(x) is float``;
    ``type(x) is ndarray and x.ndim == 1``; a tuple's kind is remembered; an
    object's kind is 'A' by its type alone), then such attributes the same way
    (``type(self.W) is ndarray and self.W.ndim == 2``, read once, not at all for a
    property, see ``_attribute_state``), which
    costs a few tens of nanoseconds, where building a key tuple and looking it
    up costs hundreds: a scalar gradient takes well under a microsecond and an
    array gradient pays nothing per argument. Anything else (keyword-only
    arguments given, other types, int or bool arguments that are
    differentiated, missing or extra arguments) goes to ``self._named_slow``. A
    ``NonScalarOutputError`` raised by the generated code is located as on the
    general path.
    """
    params = list(sig.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return None
    pos = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kwonly = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
    taken = set(pos) | set(kwonly) | {name}

    def private(base):
        while base in taken:
            base = "_" + base
        taken.add(base)
        return base

    me, rest, missing, err = (private(n) for n in ("_self", "_rest", "_M", "_exc"))
    env = {missing: _MISSING}

    def inject(base, obj):
        n = private(base)
        env[n] = obj
        return n

    nonscalar = inject("NonScalarOutputError", errors.NonScalarOutputError)
    stale = inject("StaleReceiverError", errors.StaleReceiverError)
    note = inject("note_generated", errors.note_generated)
    kind_fn = inject("sequence_kind", sequence_kind)
    dict_fn = inject("dict_kind", dict_kind)
    chosen = list(fast.items())[-limit:]
    head = [me]
    for p in params:
        if p.kind == p.POSITIONAL_ONLY:
            head.append(f"{p.name}={missing}")
    if len(head) > 1:
        head.append("/")
    head += [f"{p.name}={missing}" for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    head.append(f"*{rest}")
    head += [f"{k}={missing}" for k in kwonly]
    lines = [f"def {name}({', '.join(head)}):"]
    if chosen:
        plain = [f"not {rest}"] + [f"{k} is {missing}" for k in kwonly]
        lines.append(f"    if {' and '.join(plain)}:")
    for k, (key, impl) in enumerate(chosen):
        n = len(key)
        tests = [f"{pos[n - 1]} is not {missing}"] if n else []
        if n < len(pos):
            tests.append(f"{pos[n]} is {missing}")
        loads, checks = [], []      # attributes read of plain objects, their tests
        for i, (t, kind, *attrs) in enumerate(key):
            tests.append(f"type({pos[i]}) is {inject(f'T{k}_{i}', t)}")
            if issubclass(t, np.ndarray):
                tests.append(_ndim_test(pos[i], t, kind, i in wrt))
                if i in wrt:                # the gradient is float64 as is
                    tests.append(f"{pos[i]}.dtype is {inject('F64', _F64)}")
            elif issubclass(t, (list, tuple)):      # of other objects, the type tells 'A'
                tests.append(f"{kind_fn}({pos[i]}) == {kind!r}")
            elif t is dict:                         # of scalars or not (dict_kind)
                tests.append(f"{dict_fn}({pos[i]}) == {kind!r}")
            for a, akind, test in attrs[0] if attrs else ():
                if test is None:            # a descriptor: 'A' whatever it gives
                    continue
                v = private(f"_{a}")
                loads += ["try:", f"    {v} = {pos[i]}.{a}",
                          "except AttributeError:", f"    {v} = {missing}"]
                if test is _ABSENT:
                    checks.append(f"{v} is {missing}")
                    continue
                checks.append(f"type({v}) is {inject(f'T{k}_{i}_{a}', test)}")
                if issubclass(test, np.ndarray):
                    checks.append(_ndim_test(v, test, akind, False))
        call = ["try:",
                f"    return {inject(f'F{k}', impl.function)}({', '.join(pos[:n])})",
                f"except {stale} as {err}:",
                f"    return {me}._respecialize({inject(f'I{k}', impl)}, "
                f"({', '.join(pos[:n])}{',' if n else ''}), {err})",
                f"except {nonscalar} as {err}:",
                f"    {me}._last = {inject(f'I{k}', impl)}",
                f"    {me}._locate({err})",
                f"except Exception as {err}:",
                f"    {note}({err})",
                "    raise"]
        # the code is not stale (what Context.stale checks, the rule tables aside:
        # _rules_changed drops these entries), else the general path makes it again
        tests += _fresh_tests(impl, inject, missing, env)
        if impl.changes:            # one object as two arguments: the general path
            tests += _aliasing_tests(impl.changes, params, key, inject)
        if loads:                   # read once the arguments passed their tests
            call = loads + [f"if {' and '.join(checks)}:"] + ["    " + c for c in call]
        lines.append(f"        if {' and '.join(tests) or 'True'}:")
        lines += ["            " + c for c in call]
    given = f"({', '.join(pos)},)" if pos else "()"
    named = "{" + ", ".join(f"{k!r}: {k}" for k in kwonly) + "}"
    lines.append(f"    return {me}._named_slow({given}, {rest}, {named})")
    exec("\n".join(lines), env)       # noqa: S102 - a small dispatcher over known types
    return env[name]


def _fresh_tests(impl, inject, missing, env):
    """``_freshness``, checked as it is made: tests that fail for code ``stale()`` finds
    fresh (a lookup the inline tests cannot follow) would send every call to the
    general path; they are then the call of ``stale`` itself."""
    tests = _freshness(impl, inject, missing)
    if not tests or tests == ["False"]:
        return tests
    try:
        holds = eval(" and ".join(tests), env)       # noqa: S307 - the tests just made
    except Exception:
        holds = False
    if not holds and not impl.ctx.stale():
        return [f"not {inject('stale', impl.ctx.stale)}()"]
    return tests


def _freshness(impl, inject, missing):
    """The tests of a dispatcher entry (``_dispatcher``) that hold while ``impl``'s code
    is not stale: what ``Context.stale`` checks, in its context, the context of the code
    it differentiates (``origin``) and those of its callees, inline, each a few tens of
    nanoseconds (``stale()`` itself costs half a microsecond or more): a function or
    object the code was made for still bound to its name (a global, a closure's cell,
    an attribute of either); a method still the one the class finds; the function's
    defaults still those it had; the classes of what a global object holds
    (``receivers_of``) still those. The rule tables are not tested here: a change
    drops every entry (``_rules_changed``). ``['False']`` for code stale already."""
    from .context import Context
    tests, seen, names = [], set(), {}

    def inject(base, obj, _inject=inject):        # one name per object: tests repeat
        if id(obj) not in names:
            names[id(obj)] = (_inject(base, obj), obj)
        return names[id(obj)][0]
    todo = [impl.ctx]
    while todo:
        ctx = todo.pop()
        if not isinstance(ctx, Context) or id(ctx) in seen:
            continue
        seen.add(id(ctx))
        func = ctx.function_now()
        if func is None or ctx.rules_at != rulestamp.changes:
            return ["False"]
        # defaults: a call may leave out only parameters that had one when the code was
        # made (one given since leaves the code right for the calls it served)
        fn = None
        for attr, then in zip(("__defaults__", "__kwdefaults__"), ctx.defaults_at):
            if then is not None:
                fn = fn or inject("FN", func)
                tests.append(f"{fn}.{attr} is {inject('D', then)}")
        for dotted, obj in ctx.global_reads.items():
            tests += _bound_tests(ctx, func, dotted, obj, inject, missing)
        for cls, name, raw in ctx.method_reads:
            tests += _method_tests(cls, name, raw, inject, missing)
        for entry in ctx.receiver_reads:
            tests += _receiver_tests(ctx, func, *entry, inject, missing)
        if ctx.origin is not None:
            todo.append(ctx.origin)
        todo.extend(dep.ctx for dep in ctx.deps)
    return list(dict.fromkeys(tests))


def _bound_tests(ctx, func, dotted, obj, inject, missing):
    """The tests that ``dotted`` still resolves to ``obj`` as ``ctx`` resolves it
    (``Context._resolve``, compared as ``_same``)."""
    from .context import _same
    if type(obj) is types.MethodType and "." in dotted:
        found = _method_of_tests(ctx, func, dotted, obj, inject, missing)
        if found is not None:
            return found
    expr = _resolved(ctx, func, dotted, inject, missing)
    if expr is None:
        return ["False"]
    if type(obj) is types.MethodType:       # (a method bound anew at each read)
        return [f"{inject('same', _same)}({expr}, {inject('O', obj)})"]
    return [f"{expr} is {inject('O', obj)}"]


def _method_of_tests(ctx, func, dotted, obj, inject, missing):
    """For ``dotted`` (``NET.apply``) read as the method ``obj`` of an object: the tests
    that it still is, without binding a method anew at each call (``_same`` of what
    ``getattr`` gives, twice as slow): the same object under its name, of the same
    class, which finds the same function and the instance none of its own. None where
    ``getattr`` may find it otherwise (a ``__getattribute__`` of the class's own)."""
    from .context import class_attribute
    owner, attr = dotted.rsplit(".", 1)
    me, fn = obj.__self__, obj.__func__
    cls = type(me)
    if type(fn) is not types.FunctionType or class_attribute(cls, attr) is not fn \
            or class_attribute(cls, "__getattribute__") is not object.__getattribute__:
        return None
    own = getattr(me, "__dict__", None)
    if own is not None and (type(own) is not dict or attr in own):
        return None
    expr = _resolved(ctx, func, owner, inject, missing)
    if expr is None:
        return None
    m = inject("S", me)
    tests = [f"{expr} is {m}", f"type({m}) is {inject('C', cls)}"]
    if own is not None:
        tests.append(f"{attr!r} not in {inject('SD', own)}")
    return tests + _method_tests(cls, attr, fn, inject, missing)


def _resolved(ctx, func, dotted, inject, missing):
    """An expression giving what ``dotted`` is now as ``ctx`` resolves it
    (``Context._resolve``; ``missing`` for nothing), or None."""
    head, *rest = dotted.split(".")
    code = func.__code__
    if head in ctx.injected:
        expr = inject("K", ctx.injected[head])
    elif head in code.co_freevars and func.__closure__:
        cell = func.__closure__[code.co_freevars.index(head)]
        expr = f"{inject('cell_contents', _cell_contents)}({inject('CELL', cell)})"
    elif head in func.__globals__ and not hasattr(builtins, head):
        expr = f"{inject('G', func.__globals__)}.get({head!r}, {missing})"
    elif head in func.__globals__ or hasattr(builtins, head):
        g = inject("G", func.__globals__)
        expr = f"({g}[{head!r}] if {head!r} in {g} else " \
               f"getattr({inject('builtins', builtins)}, {head!r}, {missing}))"
    else:
        return None
    for part in rest:
        expr = f"getattr({expr}, {part!r}, {missing})"
    return expr


def _receiver_tests(ctx, func, name, path, obj, found, inject, missing):
    """The tests for one of ``ctx.receiver_reads`` (the classes ``found`` of what the
    global ``path``, or the object ``obj`` given as ``name``, held): each object at a
    path of ``found`` still of its class. (Not what ``receivers_of`` would find anew,
    at a microsecond or more: the items of lists, whose classes each iteration of the
    code checks (``runtime.check_method``), are not tested, nor objects put in
    attributes that held none.)"""
    if path:
        root = _resolved(ctx, func, path, inject, missing)
        if root is None:
            return ["False"]
    else:
        root = inject("K", obj)
    tests = []
    for key, cls in found.items():
        if "[]" in key or type(cls) is tuple or not key.startswith(name):
            continue
        expr = root
        for part in key[len(name):].split(".")[1:]:
            expr = f"getattr({expr}, {part!r}, {missing})"
        tests.append(f"type({expr}) is {inject('C', cls)}")
    return tests


def _cell_contents(cell):
    try:
        return cell.cell_contents
    except ValueError:          # an empty cell
        return _MISSING


def _method_tests(cls, name, raw, inject, missing):
    """The tests that ``class_attribute(cls, name)`` is still ``raw``: the classes of its
    MRO (the same tuple) up to the one holding it (each, if it is absent)."""
    from .context import _ABSENT
    c = inject("C", cls)
    tests = [f"{c}.__mro__ is {inject('MRO', cls.__mro__)}"]
    for klass in cls.__mro__:
        found = klass.__dict__.get(name, _ABSENT)
        k = inject("CD", klass.__dict__)    # (a live view of the class's namespace)
        if found is _ABSENT:
            tests.append(f"{name!r} not in {k}")
            continue
        if found is not raw:
            return ["False"]
        tests.append(f"{k}.get({name!r}, {missing}) is {inject('R', raw)}")
        return tests
    return tests if raw is _ABSENT else ["False"]


def _rules_changed():
    """A rule registered, replaced or declared non-differentiable (``rulestamp.bump``):
    code made before may have used one that no longer holds, so every gradient object
    drops its fast paths, and its general path checks its code (``Context.stale``)."""
    for g in list(_FAST_OWNERS):
        if g._fast:
            g._fast.clear()
            g._dispatch()


_FAST_OWNERS = weakref.WeakSet()        # gradient objects with fast paths (_dispatcher)
rulestamp.hooks.append(_rules_changed)


def _aliasing_tests(changes, params, key, inject):
    """The tests of a dispatcher entry (``key``) for a function that changes arguments
    in place (``argcheck.fast_tests``): the values of the parameters not passed are
    their defaults."""
    names, types, kinds = {}, {}, {}
    for i, p in enumerate(params):
        if i < len(key) and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names[p.name], types[p.name], kinds[p.name] = p.name, key[i][0], key[i][1]
        elif p.default is not p.empty:
            names[p.name] = inject(f"D_{p.name}", p.default)
            types[p.name], kinds[p.name] = type(p.default), kind_of(p.default)
    return argcheck.fast_tests(changes, names, types, kinds, inject)


def _ndim_test(name, t, kind, wrt):
    """The test of ``name.ndim`` that, for an array of type ``t``, holds exactly when
    ``kind_of`` gives ``kind`` (``_dispatcher``); for a differentiated argument, a 0-d
    array never passes (its gradient goes through ``_as_argument``)."""
    if kind != "A":                                 # 'A<n>'
        return f"{name}.ndim == {int(kind[1:])}"
    if t is np.ndarray:                             # a 0-d array
        return "False" if wrt else f"{name}.ndim == 0"
    return f"{name}.ndim > 1" if wrt else f"{name}.ndim != 1"   # a subclass


_MISSING = object()     # an argument not passed to the generated __call__ (_dispatcher)
_MODES = ("auto", "reverse", "forward")
_REAL_SCALARS = (float, int, np.floating, np.integer)
FORWARD_ARGUMENTS = 1       # grad along at most this many scalar arguments: forward mode
FORWARD_ARGUMENTS_LOOPS = 2  # ... and this many when the function has an unbounded loop


class GradFunction:
    """What ``grad`` and ``value_and_grad`` return: call it like the original.

    The function it wraps may itself be a ``GradFunction`` (``grad(grad(f))``):
    the inner one's generated code, specialized for the arguments, is what
    the outer one transforms.
    """

    def __init__(self, func, wrt, output, has_aux=False, optimize=True, checkpoint=False,
                 fixed_point=False, mode="auto"):
        if not callable(func):
            raise errors.bad_argument(func, f"expected a function, got {type(func).__name__}")
        base = _unwrap(func)
        if mode not in _MODES:
            raise errors.bad_argument(base, f"mode={mode!r} is not available",
                                      hint="use mode='auto', 'reverse' or 'forward'")
        if mode == "forward" and (has_aux or checkpoint or fixed_point
                                  or isinstance(func, CustomVJP)):
            what = ("has_aux=True" if has_aux else "checkpoint" if checkpoint
                    else "fixed_point=True" if fixed_point else "custom_vjp")
            raise errors.bad_argument(base, f"mode='forward' does not go with {what}",
                                      hint="use mode='auto' or mode='reverse'")
        self._mode = mode
        self._wrt, self._wrt_tuple = _parse_wrt(base, wrt)
        self._output = output
        self._has_aux = has_aux
        self._options = dict(optimize=optimize, checkpoint=checkpoint)
        if has_aux:
            self._options["has_aux"] = True
        if fixed_point:
            self._options["fixed_point"] = True
        self._sig = _signature(base)
        self._impls = {}
        self._fast = {}      # argument types -> generated function (see _dispatcher)
        self._last = None
        functools.update_wrapper(self, base)
        self.__wrapped__ = func
        self._dispatch()

    def __call__(self, *args, **kwargs):
        # the general path; a GradFunction's own subclass has the generated method of
        # _dispatcher instead (for functions without *args or **kwargs)
        return self._slow(args, kwargs)

    def _dispatch(self):
        """Give this object, in a subclass of its own, the ``__call__`` that
        ``_dispatcher`` makes for its signature and specializations so far."""
        name = getattr(self, "__name__", "")
        if not name.isidentifier() or keyword.iskeyword(name):
            name = "gradient"
        call = _dispatcher(self._sig, name, self._fast, wrt=self._wrt)
        if call is None:
            return
        if type(self) is GradFunction:
            self.__class__ = type("GradFunction", (GradFunction,),
                                  {"__module__": __name__, "__qualname__": "GradFunction"})
        type(self).__call__ = call

    def _named_slow(self, values, rest, named):
        """The general path for a call the generated ``__call__`` bound by name: the
        values given, positionally up to the first one not given, then by keyword."""
        args, kwargs, gap = [], {}, False
        for p, v in zip(self._sig.parameters, values):
            if v is _MISSING:
                gap = True
            elif gap:
                kwargs[p] = v
            else:
                args.append(v)
        kwargs.update((k, v) for k, v in named.items() if v is not _MISSING)
        return self._slow(tuple(args) + rest, kwargs)

    def _slow(self, args, kwargs):
        fix = any(_needs_fixing(args[i]) for i in self._wrt if i < len(args))
        refuse_wrt(_unwrap(self.__wrapped__), self._sig, self._wrt, args, kwargs)
        result = self._call(args, kwargs)
        if self._output in ("grad", "value_and_grad") and _is_complex(self._grads(result)):
            self._forget(args, kwargs)
            raise complex_arithmetic(self.__wrapped__, "gradient")
        if fix:
            result = self._promote(result, args)
        return result

    def _grads(self, result):
        """The gradients in what the generated function returned."""
        if self._output == "value_and_grad":         # (value, grads), ((value, aux), grads)
            return result[1]
        return result[0] if self._has_aux else result     # grads, (grads, aux)

    def _forget(self, args, kwargs):
        """Drop the specialization these arguments ran (its next call checks again)."""
        impl = self._impls.pop(self._call_key(args, kwargs), None)
        stale = [k for k, v in self._fast.items() if v is impl]
        for k in stale:
            del self._fast[k]
        if stale:
            self._dispatch()

    def _promote(self, result, args):
        """Each gradient in the type of its argument (``_as_argument``): a float for an
        int or bool, an array of its dtype for an array of floats."""
        fix = _as_argument

        def fix_grads(grads):
            if self._wrt_tuple:
                return tuple(fix(g, args[i]) for g, i in zip(grads, self._wrt))
            return fix(grads, args[self._wrt[0]])

        if self._output == "value_and_grad":
            value, grads = result
            return value, fix_grads(grads)
        if self._has_aux:
            grads, aux = result
            return fix_grads(grads), aux
        return fix_grads(result)

    def _locate(self, exc):
        if exc.filename is not None:
            raise exc
        impl = self._last
        raise errors.non_scalar_output(impl.ctx, impl.ctx.return_node, exc.message,
                                      exc.hint) from None

    def _reads(self):
        """(position, name, attribute names) of each parameter whose attributes the
        function reads as ``p.name`` (``parse.attribute_reads``), found once."""
        hit = self.__dict__.get("_attribute_reads")
        if hit is None:
            func = _unwrap(self.__wrapped__)
            found = parse.attribute_reads(func) if inspect.isfunction(func) else {}
            names = list(self._sig.parameters)
            hit = self._attribute_reads = tuple((names.index(p), p, attrs)
                                                for p, attrs in found.items() if p in names)
        return hit

    def _field_reads(self):
        """The parameters whose attributes the function reads as ``p.name`` and that it
        never rebinds (``parse.field_reads``): those of a named tuple are its items."""
        hit = self.__dict__.get("_fields_read")
        if hit is None:
            func = _unwrap(self.__wrapped__)
            hit = self._fields_read = tuple(parse.field_reads(func)) \
                if inspect.isfunction(func) else ()
        return hit

    def _call_key(self, args, kwargs):
        """``_key`` of a call, with the kinds of the attributes the function reads of
        arguments that are plain objects (``attribute_kinds``)."""
        key = _key(args, kwargs)
        reads = self._reads()
        if reads:
            extra = []
            for i, p, attrs in reads:
                obj = args[i] if i < len(args) else kwargs.get(p, _MISSING)
                if obj is _MISSING:
                    obj = self._sig.parameters[p].default
                if _plain(obj):     # the types too: a new one gets a fast path entry
                    extra.append((p, tuple(_attribute_state(obj, a) for a in attrs)))
            key += (tuple(extra),)
        return key

    def _fast_entry(self, args):
        """The key of ``_fast`` for a positional call with ``args``: per argument its type
        and kind, and for a plain object whose attributes the function reads, what the
        dispatcher tests them by: (name, kind, test) each (``_attribute_state``)."""
        entry = [(type(a), _spec_kind(a)) for a in args]
        for i, _, attrs in self._reads():
            if i < len(args) and _plain(args[i]):
                entry[i] += (tuple((a,) + _attribute_state(args[i], a) for a in attrs),)
        return tuple(entry)

    def _call(self, args, kwargs):
        impl = self._impls.get(self._call_key(args, kwargs))
        if impl is None or (isinstance(impl.ctx, pipeline.Context) and impl.ctx.stale()):
            # (stale: a function it calls redefined, a global object rebound, a rule
            # registered since; compiled makes the code again)
            impl = self._compile(args, kwargs)
        if impl.changes:
            self._refuse_aliasing(impl, args, kwargs)
        if isinstance(self.__wrapped__, CustomVJP):
            return self._via_vjp(impl, args, kwargs)
        try:
            return impl.function(*args, **kwargs)
        except errors.StaleReceiverError as exc:
            return self._respecialize(impl, args, exc, kwargs)
        except errors.NonScalarOutputError as exc:
            self._last = impl
            self._locate(exc)
        except Exception as exc:
            errors.note_generated(exc)
            raise

    def _refuse_aliasing(self, impl, args, kwargs):
        """An ArgumentError for a call passing one object as two arguments (or a global
        as an argument), one of which the function changes in place
        (``argcheck.refuse_aliasing``)."""
        bound = self._sig.bind(*args, **kwargs)
        bound.apply_defaults()
        base = _unwrap(self.__wrapped__)
        argcheck.refuse_aliasing(base, impl.changes, _item_values(base, bound.arguments))

    def _respecialize(self, impl, args, exc, kwargs=None):
        """The call again, with code made for it: ``impl``, the code it ran, was made
        for objects of other classes than the arguments hold now (an item of
        ``net.layers`` or an attribute ``self.inner`` replaced since; ``exc``, the
        ``StaleReceiverError`` its check raised), so it is forgotten and the general
        path makes code for these classes (``receivers_of``; a global object's, by
        ``Context.stale``). Once: ``exc`` if that code raises it too."""
        if getattr(_THREAD, "respecializing", False):
            raise exc
        for table in (self._impls, self._fast):
            for k in [k for k, v in table.items() if v is impl]:
                del table[k]
        self._dispatch()
        _THREAD.respecializing = True
        try:
            return self._slow(args, kwargs or {})
        finally:
            _THREAD.respecializing = False

    def _kinds(self, args, kwargs, target):
        """The kinds to compile ``target`` (the function, or the generated code of the
        ``grad`` it wraps) with for a call with these arguments: those of the arguments,
        and of the attributes of arguments ``target`` reads (``call_kinds``) among those
        the function reads (in the key of the call, ``_call_key``)."""
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise errors.bad_argument(_unwrap(self.__wrapped__),
                                      f"{self.__name__}(): {exc}") from None
        bound.apply_defaults()
        kinds = call_kinds(target, bound.arguments, _unwrap(self.__wrapped__))
        if len(kinds) > len(bound.arguments):
            known = {f"{p}.{a}" for _, p, attrs in self._reads() for a in attrs} \
                | {p + DICT_ITEMS for p in bound.arguments} \
                | {p + ROW_ITEMS for p in bound.arguments} \
                | {named_fields(p) for p in self._field_reads()} \
                | set(_item_values(_unwrap(self.__wrapped__), bound.arguments))
            var = vararg_of(_unwrap(self.__wrapped__))
            if var is not None:
                from .parse import vararg_key
                known.add(vararg_key(var))
            kinds = {k: v for k, v in kinds.items() if k in bound.arguments or k in known}
        if "X" in kinds.values():
            refuse_arrays(_unwrap(self.__wrapped__), kinds,
                          _item_values(_unwrap(self.__wrapped__), bound.arguments))
        return kinds

    def _receivers(self, args, kwargs):
        bound = self._sig.bind(*args, **kwargs)       # bound by _kinds already
        return receivers_of(bound.arguments)

    def _compile(self, args, kwargs, output=None, mode=None):
        """The generated code for a call with these arguments, remembered for the
        next ones. ``mode='reverse'``: reverse mode whatever ``choose_mode`` says,
        not remembered (the code another transformation differentiates)."""
        output = output or self._output
        if isinstance(self.__wrapped__, CustomVJP):
            output = "split"
        refuse_wrt(_unwrap(self.__wrapped__), self._sig, self._wrt, args, kwargs)
        target = resolve(self.__wrapped__, args, kwargs)
        kinds = self._kinds(args, kwargs, target)
        recv = self._receivers(args, kwargs)
        wrt_tuple = True if output == "split" else self._wrt_tuple
        impl = None
        gradient = mode is None and output in ("grad", "value_and_grad")
        forward = gradient and self.choose_mode(args, kwargs) == "forward"
        if forward:
            try:
                impl = compiled(target, self._wrt, wrt_tuple, output, kinds, mode="forward",
                                receivers=recv, **self._options)
            except errors.S2SADError:
                if self._mode == "forward":
                    raise
                # a construct or a rule forward mode lacks: reverse mode, or its error
        if impl is None:
            try:
                impl = compiled(target, self._wrt, wrt_tuple, output, kinds, receivers=recv,
                                **self._options)
            except errors.S2SADError:
                # what reverse mode refuses (a call filling a list that carries
                # derivatives) forward mode may take, along several scalar arguments too
                if forward or not gradient or self._mode != "auto" \
                        or self.choose_mode(args, kwargs, limit=None) != "forward":
                    raise
                try:
                    impl = compiled(target, self._wrt, wrt_tuple, output, kinds,
                                    mode="forward", receivers=recv, **self._options)
                except errors.S2SADError:
                    pass
                if impl is None:
                    raise
        if mode is None and (output == self._output or output == "split"):
            self._impls[self._call_key(args, kwargs)] = impl
            self._last = impl
            types = tuple(map(type, args))
            if output == self._output and not kwargs \
                    and not isinstance(self.__wrapped__, CustomVJP) \
                    and not any(issubclass(types[i], (int, np.integer, np.bool_))
                                for i in self._wrt if i < len(types)):
                self._fast[self._fast_entry(args)] = impl
                _FAST_OWNERS.add(self)
                self._dispatch()
        return impl

    def choose_mode(self, args, kwargs, limit=FORWARD_ARGUMENTS):
        """'forward' or 'reverse': the mode of the code for a call with these arguments.

        ``mode='auto'`` (the default) takes forward mode when the gradient is with
        respect to one argument (``FORWARD_ARGUMENTS``) holding a real scalar (a
        float, an int, a NumPy real scalar), and neither ``has_aux``, ``checkpoint``
        nor ``fixed_point`` asks for reverse-mode machinery: one tangent sweep along
        with the function then gives the derivative with no tape, about 2x the
        function where reverse mode costs 3-4x in loops, in memory that does not grow
        with the number of loop iterations. Each further argument costs forward mode
        another tangent sweep (and its transform another set of tangent statements),
        reverse mode nothing; so along two arguments forward mode is taken only for a
        function with a loop whose trip count its source does not fix (a ``while``
        loop, a ``for`` loop over anything but ``range`` of constants;
        ``FORWARD_ARGUMENTS_LOOPS``), where it runs about as fast as reverse mode
        and keeps no tape, which such a loop makes as long as its trip count.
        Reverse mode otherwise. ``mode='forward'``
        insists, for any number of scalar arguments (constant memory in long loops);
        ``mode='reverse'`` never takes forward mode. ``limit=None``: whether forward
        mode could be taken along any number of scalar arguments (``_compile`` tries
        it where reverse mode refuses the function)."""
        if self._mode == "reverse":
            return "reverse"
        if limit is not None and len(self._wrt) > limit and self._loops_unbounded():
            limit = max(limit, FORWARD_ARGUMENTS_LOOPS)
        if self._mode == "auto" and ((limit is not None and len(self._wrt) > limit)
                                     or self._has_aux
                                     or self._options.get("checkpoint")
                                     or self._options.get("fixed_point")
                                     or isinstance(self.__wrapped__, CustomVJP)):
            return "reverse"
        params = list(self._sig.parameters.values())
        for i in self._wrt:
            value = args[i] if i < len(args) else kwargs.get(params[i].name, params[i].default)
            if not isinstance(value, _REAL_SCALARS) or type(value) is bool:
                break
        else:
            return "forward"
        if self._mode == "forward":
            raise errors.bad_argument(
                _unwrap(self.__wrapped__),
                "mode='forward' differentiates with respect to real scalar arguments",
                hint="use mode='auto' or mode='reverse' for arrays and lists")
        return "reverse"

    def _loops_unbounded(self):
        """Whether the user's function has a loop of a trip count its source does not
        fix (``parse.loops_unbounded``), asked once."""
        hit = self.__dict__.get("_unbounded")
        if hit is None:
            from .parse import loops_unbounded
            hit = self._unbounded = loops_unbounded(_unwrap(self.__wrapped__))
        return hit

    def _via_vjp(self, impl, args, kwargs):
        """custom_vjp at the top level: run its split pair with the seed 1.0."""
        from .runtime import seed, zeros_like
        fwd, bwd = impl.function
        tape = []
        out = fwd(*args, **kwargs, **{impl.ctx.tape_param: tape})
        if self._has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise errors.bad_argument(_unwrap(self.__wrapped__),
                                          "has_aux=True needs the function to return "
                                          "(value, aux)")
            value, aux = out
            g = bwd([seed(value), zeros_like(aux)], tape)
        else:
            value, aux = out, None
            g = bwd(seed(value), tape)
        # no derivative (None from the rule, 0.0 from the split pair): a zero shaped
        # like the argument
        g = tuple(zeros_like(args[i]) if i < len(args) and type(gi) is float and gi == 0.0
                  and np.ndim(args[i]) > 0 else gi for gi, i in zip(g, self._wrt))
        g = g if self._wrt_tuple else g[0]
        if self._output == "value_and_grad":
            return ((value, aux), g) if self._has_aux else (value, g)
        return (g, aux) if self._has_aux else g

    @property
    def source(self):
        """The generated code (of the last call, or for scalar arguments)."""
        if self._last is not None:
            return self._last.source
        wrt = self._wrt if self._wrt_tuple else self._wrt[0]
        receiver = self.__dict__.get("_receiver", _MISSING)     # of grad(obj.method)
        args = None
        if receiver is not _MISSING:
            n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                    for p in self._sig.parameters.values())
            args = (receiver,) + (0.0,) * (n - 1)
        if self._mode == "forward" and not isinstance(self.__wrapped__, GradFunction):
            kinds = {n: "S" for n in self._sig.parameters}
            receivers = None
            if args is not None:
                first = next(iter(self._sig.parameters))
                kinds[first] = kind_of(receiver)
                receivers = receivers_of({first: receiver})
            return compiled(self.__wrapped__, self._wrt, self._wrt_tuple, self._output,
                            kinds, mode="forward", receivers=receivers,
                            **self._options).source
        return source(self.__wrapped__, wrt, "reverse" if self._mode == "reverse" else "auto",
                      args=args, output=self._output, **self._options)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return types.MethodType(self, obj)

    def __repr__(self):
        return f"<s2sad {self._output} of {self.__qualname__}>"


def resolve(func, args, kwargs):
    """The plain Python function to transform for these arguments."""
    if isinstance(func, GradFunction):
        if func._has_aux:
            raise errors.bad_argument(_unwrap(func), "cannot differentiate a has_aux gradient")
        impl = func._impls.get(func._call_key(args, kwargs))
        if impl is None or impl.ctx.mode != "reverse" or (
                isinstance(impl.ctx, pipeline.Context) and impl.ctx.stale()):
            impl = func._compile(args, kwargs, mode="reverse")
        return impl.function
    if isinstance(func, CustomVJP):
        return func
    from .parse import plain
    return plain(func)


def generated_callee(func, arg_kinds):
    """The plain function differentiated code calls for ``func``: ``func`` itself, or,
    for a ``grad``/``jvp`` object called from differentiated code (``grad(jvp(f))``),
    the generated function for these argument kinds, which is then transformed again."""
    from .toolbox import JVPFunction
    if isinstance(func, JVPFunction):
        n = func._nparams
        kinds = dict(zip(func._sig.parameters, arg_kinds[:n]))
        target = func._func
        if isinstance(target, GradFunction):
            raise errors.bad_argument(_unwrap(target), "jvp of grad inside differentiated "
                                      "code is not supported", hint="use s2sad.hessian")
        return compiled(target, func._wrt, True, "jvp", kinds).function
    if isinstance(func, GradFunction) and not func._has_aux:
        kinds = dict(zip(func._sig.parameters, arg_kinds))
        for p in func._sig.parameters:
            kinds.setdefault(p, "S")
        target = func.__wrapped__
        if isinstance(target, (GradFunction, CustomVJP)):
            raise errors.bad_argument(_unwrap(target), "nested transformations inside "
                                      "differentiated code are not supported")
        return compiled(target, func._wrt, func._wrt_tuple, func._output, kinds,
                        **{k: v for k, v in func._options.items() if k != "has_aux"}).function
    return func


class CustomVJP:
    """A function that supplies its own gradient (like ``jax.custom_vjp``)::

        @s2sad.custom_vjp
        def f(x):
            return math.log1p(math.exp(x))

        def f_fwd(x):
            return f(x), x                 # value, residuals for the backward pass

        def f_bwd(x, g):
            return (g / (1.0 + math.exp(-x)),)   # one adjoint per argument

        f.defvjp(f_fwd, f_bwd)

    Calls to ``f`` inside differentiated code use ``f_fwd`` and ``f_bwd``.
    """

    def __init__(self, func):
        self.__wrapped__ = func
        self.fwd = self.bwd = None
        functools.update_wrapper(self, func)

    def __call__(self, *args, **kwargs):
        return self.__wrapped__(*args, **kwargs)

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def split_pair(self, wrt):
        if self.fwd is None:
            code = self.__wrapped__.__code__
            raise errors.MissingRuleError(
                f"no derivative rule for {self.__name__}: a custom_vjp without defvjp",
                filename=code.co_filename, lineno=code.co_firstlineno,
                hint=f"call {self.__name__}.defvjp(fwd, bwd) before differentiating it")
        fwd_user, bwd_user = self.fwd, self.bwd
        params = list(_signature(self.__wrapped__).parameters)
        nargs = len(params)
        from .runtime import adjoint_misfit, primal_shape

        name = self.__name__

        def fwd(*args, _tape, **kwargs):
            # the shapes the adjoints bwd gives must have (see bwd)
            _tape.append(tuple(primal_shape(args[i]) if i < len(args)
                               else primal_shape(kwargs.get(params[i])) for i in wrt))
            out = fwd_user(*args, **kwargs)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise errors.bad_argument(
                    fwd_user, f"the fwd rule of {name} returned "
                    f"{type(out).__name__ if not isinstance(out, tuple) else len(out)}"
                    f"{'' if not isinstance(out, tuple) else ' values'}, not a pair "
                    "(value, residuals)",
                    hint="return the value and what bwd needs: return f(x), (x,)")
            value, residuals = out
            _tape.append(residuals)
            return value

        def bwd(g, _tape):
            grads = bwd_user(_tape.pop(), g)
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != nargs:
                raise errors.bad_argument(
                    bwd_user, f"the bwd rule of {self.__name__} returned {len(grads)} "
                    f"adjoint(s) for its {nargs} argument(s)",
                    hint="return a tuple with one adjoint per argument (None for one "
                         "without a derivative)")
            shapes = _tape.pop()
            for i, shape in zip(wrt, shapes):
                got = adjoint_misfit(grads[i], shape)
                if got is not None:
                    raise errors.bwd_shape_misfit(bwd_user, name, i, params[i], shape, got)
            # None: no derivative (0.0 stands for a zero of any structure)
            return tuple(0.0 if grads[i] is None else grads[i] for i in wrt)

        fwd.__name__ = f"fwd_{self.__name__}"
        bwd.__name__ = f"bwd_{self.__name__}"
        fwd.s2sad_custom_vjp = bwd.s2sad_custom_vjp = self   # see activity._check
        bwd.s2sad_pops = True
        return fwd, bwd


def custom_vjp(func):
    return CustomVJP(func)


class _CustomCtx:
    tape_param = "_tape"
    mode = "reverse"


def _shift_wrt(wrt, by=1):
    """``wrt`` of a bound method, counted from its function's first parameter (``self``);
    of a ``functools.partial``, counted from its function's first parameter (``by``
    arguments bound before those given)."""
    if isinstance(wrt, (tuple, list)):
        return type(wrt)(_shift_wrt(w, by) for w in wrt)
    return wrt + by if isinstance(wrt, int) and not isinstance(wrt, bool) and wrt >= 0 else wrt


def _call_method(f):
    """``f.__call__``, a bound method, for an instance ``f`` of a user's class that defines
    ``__call__`` in Python (``grad(model)`` is ``grad(model.__call__)``); else ``f``."""
    if isinstance(f, (types.FunctionType, types.MethodType, type, GradFunction, CustomVJP)):
        return f
    from .activity import is_user_function
    from .context import class_attribute
    call = class_attribute(type(f), "__call__")
    if type(call) is types.FunctionType and not type(f).__module__.startswith("s2sad") \
            and is_user_function(call):         # not a library's (np.poly1d)
        return types.MethodType(call, f)
    return f


def methods_too(transform):
    """``transform(f, wrt, ...)`` also for a bound method ``obj.f``: the transformation of
    ``f`` itself along the same arguments (``self`` is not one), bound to ``obj`` again;
    and for a ``functools.partial``, likewise with its bound arguments. ``wrt`` is
    checked against the method's (or partial's) own parameters first."""
    @functools.wraps(transform)
    def wrapper(f, wrt=0, *args, **kwargs):
        f = _call_method(f)
        if type(f) is functools.partial:
            # grad(partial(g, a, k=b)) is partial(grad(g) along the same arguments, a, k=b)
            _parse_wrt(f, wrt)
            made = wrapper(f.func, _shift_wrt(wrt, len(f.args)), *args, **kwargs)
            return functools.partial(made, *f.args, **f.keywords)
        if isinstance(f, types.MethodType):
            _parse_wrt(f, wrt)
            made = transform(f.__func__, _shift_wrt(wrt), *args, **kwargs)
            if isinstance(made, GradFunction):
                made._receiver = f.__self__         # for its source before a call
            return types.MethodType(made, f.__self__)
        return transform(f, wrt, *args, **kwargs)
    return wrapper


def _decorator(output):
    make = methods_too(lambda f, wrt, **options: GradFunction(f, wrt, output, **options))

    def transform(func=None, wrt=0, *, argnum=None, has_aux=False, optimize=True,
                  checkpoint=False, fixed_point=False, mode="auto"):
        if argnum is not None:
            wrt = argnum
        options = dict(has_aux=has_aux, optimize=optimize, checkpoint=checkpoint,
                       fixed_point=fixed_point, mode=mode)
        if func is None:
            return lambda f: make(f, wrt, **options)
        if isinstance(func, (int, tuple, list)) and not callable(func):
            return lambda f: make(f, func, **options)
        return make(func, wrt, **options)
    return transform


grad = _decorator("grad")
grad.__name__ = "grad"
grad.__doc__ = """Gradient of a scalar function by source-to-source differentiation.

``grad(f, wrt=0)`` returns a function taking ``f``'s arguments and returning
the derivative of ``f`` with respect to argument ``wrt`` (an int, or a tuple
of ints for a tuple of gradients). Usable as ``@grad`` and ``@grad(wrt=(0, 1))``.

The generated code runs reverse mode (a tape, then a reverse sweep), or forward
mode when the derivative is along one scalar argument, or two in a function with a
loop of a trip count its source does not fix (``mode='auto'``, the default;
``mode='reverse'`` or ``mode='forward'`` choose). Options:
``has_aux``, ``optimize``, ``checkpoint`` (long loops keep every sqrt(n)-th
state), ``fixed_point`` (``while`` loops differentiated at their limit).
"""

value_and_grad = _decorator("value_and_grad")
value_and_grad.__name__ = "value_and_grad"
value_and_grad.__doc__ = """Like :func:`grad`, but returns ``(value, gradient)`` from one call."""


def grad_runs(func, wrt=0, *, args=None, output="grad", optimize=True, checkpoint=False,
              has_aux=False, fixed_point=False):
    """'forward' or 'reverse': the mode of the code ``grad`` (or ``value_and_grad``)
    runs for example ``args`` (default: every argument a scalar), as
    ``GradFunction._compile`` chooses it (fallbacks included); 'reverse' where
    neither mode takes the function (its error is reverse mode's)."""
    if isinstance(func, types.MethodType):     # obj.f: f's code for obj and the arguments
        _parse_wrt(func, wrt)
        n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                for p in _signature(func).parameters.values())
        args = (func.__self__,) + (tuple(args) if args is not None else (0.0,) * n)
        return grad_runs(func.__func__, _shift_wrt(wrt), args=args, output=output,
                         optimize=optimize, checkpoint=checkpoint, has_aux=has_aux,
                         fixed_point=fixed_point)
    func = _unwrap(func)
    if output not in ("grad", "value_and_grad"):
        return "reverse"
    chooser = GradFunction(func, wrt, output, optimize=optimize, checkpoint=checkpoint,
                           has_aux=has_aux, fixed_point=fixed_point)
    example = tuple(args) if args is not None else (0.0,) * len(_signature(func).parameters)
    try:
        return chooser._compile(example, {}).ctx.mode
    except errors.S2SADError:
        return "reverse"


def source(func, wrt=0, mode="reverse", *, args=None, output="grad", optimize=True,
           stage="final", checkpoint=False, has_aux=False, fixed_point=False):
    """The generated source of ``grad(func, wrt)`` as text: reverse mode;
    ``mode='forward'``: the ``jvp`` code; ``mode='auto'``: the code ``grad`` runs
    (forward mode for one scalar argument, or two with an unbounded loop, see
    ``GradFunction.choose_mode``).

    The code is specialized on whether each argument is a scalar or an array:
    pass example ``args`` to choose; without them every argument is taken to be
    a scalar. ``stage`` stops after an earlier pass (see ``s2sad.pipeline``).
    """
    func = _call_method(func)
    if isinstance(func, types.MethodType):     # obj.f: f's code for obj and the arguments
        _parse_wrt(func, wrt)
        n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                for p in _signature(func).parameters.values())
        args = (func.__self__,) + (tuple(args) if args is not None else (0.0,) * n)
        return source(func.__func__, _shift_wrt(wrt), mode, args=args, output=output,
                      optimize=optimize, stage=stage, checkpoint=checkpoint, has_aux=has_aux,
                      fixed_point=fixed_point)
    func = _unwrap(func)
    if mode not in ("reverse", "forward", "auto"):
        raise errors.bad_argument(func, f"mode={mode!r} is not available",
                                  hint="use mode='reverse', 'forward' or 'auto'")
    if output not in ("grad", "value_and_grad", "jvp", "split"):
        raise errors.bad_argument(func, f"output={output!r} is not available",
                                  hint="use output='grad', 'value_and_grad', 'jvp' or 'split' "
                                  "(the forward and backward functions of vjp)")
    if mode == "forward":
        output = "jvp"
    idx, is_tuple = _parse_wrt(func, wrt)
    sig = _signature(func)
    if args is not None:
        try:
            bound = sig.bind(*args)
        except TypeError as exc:
            raise errors.bad_argument(func, f"source of {func.__name__}: args do not fit its "
                                      f"parameters ({exc})",
                                      hint="pass example values of its positional "
                                      "parameters") from None
        bound.apply_defaults()
        kinds = call_kinds(func, bound.arguments)
        refuse_arrays(func, kinds, _item_values(func, bound.arguments))
        receivers = receivers_of(bound.arguments)
    else:
        kinds = {n: "S" for n in sig.parameters}
        receivers = None
    if stage not in pipeline.STAGE_NAMES + ["forward"]:
        raise errors.bad_argument(func, f"unknown stage {stage!r}",
                                  hint="one of " + ", ".join(pipeline.STAGE_NAMES))
    options = dict(checkpoint=checkpoint, has_aux=has_aux, fixed_point=fixed_point)
    grad_mode = None        # mode='auto': the mode of grad's code, None for reverse
    if mode == "auto" and grad_runs(func, wrt, args=args, output=output, optimize=optimize,
                                    **options) == "forward":
        grad_mode = "forward"
    if stage == "forward" and grad_mode is None:
        output = "jvp"          # the forward pass asked for by name: the jvp code
    if stage == "final":
        return compiled(func, idx, is_tuple, output, kinds, optimize, mode=grad_mode,
                        receivers=receivers, **options).source
    ctx = pipeline.make_context(func, idx, kinds, output, is_tuple, optimize,
                                mode=grad_mode, receivers=receivers, **options)
    if stage == "reverse" and (mode == "forward" or grad_mode == "forward"):
        stage = "forward"
    return pipeline.source_of(pipeline.run(ctx, stop_after=stage))
