"""Stage 1: read the user's function and parse it into a gast tree.

Takes: a Python function. Gives: a ``gast.FunctionDef`` whose nodes carry the
line numbers of the user's file (``ctx.filename``); columns are relative to the
dedented source, ``ctx.col_shift`` restores them. Decorators are dropped.
"""

from __future__ import annotations

import ast
import dis
import functools
import inspect
import os
import re
import textwrap
import types
import weakref

import gast

from . import errors
from . import gastutil as G


def plain(func):
    """``func`` without the wrappers that only forward the call: an ``lru_cache``, or a
    function made by a decorator with ``functools.wraps`` whose body is ``return
    fn(*args, **kwargs)`` (its parameters passed on as they are) to the function it
    wraps. Any other wrapper is the function differentiated: its code is what runs (a
    decorator may scale the result)."""
    for _ in range(100):
        inner = getattr(func, "__wrapped__", None)
        if inner is None or not callable(inner):
            return func
        if not (isinstance(func, functools._lru_cache_wrapper)
                or (inspect.isfunction(func) and _forwards(func, inner))):
            return func
        func = inner
    return func


def own_signature(func):
    """``inspect.signature`` of a Python function's own parameters (a wrapper made with
    ``functools.wraps`` is called with its own, whatever the function it wraps takes);
    of anything else, what ``inspect.signature`` gives."""
    return inspect.signature(func, follow_wrapped=not inspect.isfunction(func))


def def_line(func):
    """The line of ``func``'s ``def`` (``co_firstlineno`` is that of its first decorator)."""
    code = func.__code__
    try:
        source = _source(func)
        return source.lnum + source.tree.body[0].lineno
    except (OSError, TypeError, SyntaxError, IndexError, AttributeError):
        return code.co_firstlineno


def _forwards(func, inner):
    """Whether ``func``'s body, its docstring aside, is ``return fn(a, b, *args,
    **kwargs)`` of exactly its own parameters, with ``fn`` bound to ``inner``."""
    try:
        tree = _source(func).tree
    except (OSError, TypeError, SyntaxError):
        return False
    fdef = tree.body[0] if tree.body else None
    if not isinstance(fdef, ast.FunctionDef) or fdef.name != func.__code__.co_name:
        return False
    body = fdef.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Return) \
            or not isinstance(body[0].value, ast.Call):
        return False
    call = body[0].value
    args = fdef.args
    if args.posonlyargs or args.kwonlyargs or args.defaults:
        return False
    want = [a.arg for a in args.args]
    got = []
    for a in call.args:
        if isinstance(a, ast.Name):
            got.append(a.id)
        elif isinstance(a, ast.Starred) and isinstance(a.value, ast.Name):
            got.append("*" + a.value.id)
        else:
            return False
    if got != want + (["*" + args.vararg.arg] if args.vararg else []):
        return False
    keywords = [k.value.id for k in call.keywords
                if k.arg is None and isinstance(k.value, ast.Name)]
    if len(call.keywords) != len(keywords) \
            or keywords != ([args.kwarg.arg] if args.kwarg else []):
        return False
    if not isinstance(call.func, ast.Name):
        return False
    code = func.__code__
    head = call.func.id
    if head in code.co_freevars and func.__closure__:
        try:
            target = func.__closure__[code.co_freevars.index(head)].cell_contents
        except ValueError:              # an empty cell
            return False
    elif head in code.co_varnames:
        return False
    else:
        target = func.__globals__.get(head)
    return target is inner


def run(ctx):
    func = ctx.func
    if isinstance(func, functools.partial):
        raise errors.partial_refused(func)
    if not inspect.isfunction(func):
        raise errors.source_unavailable(func, "it is not a Python function defined with def")
    try:
        filename = inspect.getsourcefile(func) or func.__code__.co_filename
        source = _source(func)
    except (OSError, TypeError) as exc:
        raise errors.source_unavailable(func, str(exc)) from None
    except SyntaxError as exc:
        raise errors.source_unavailable(func, f"its source does not parse ({exc.msg})") from None
    ctx.col_shift = source.col_shift
    ctx.source_text = source.text
    ctx.filename = filename
    module = source.gast_module()
    fdef = module.body[0] if module.body else None
    if isinstance(fdef, gast.AsyncFunctionDef):
        raise errors.unsupported(fdef, ctx, "AsyncFunctionDef")
    if func.__code__.co_name == "<lambda>":
        fdef = _lambda_as_def(module, func, ctx)
    elif not isinstance(fdef, gast.FunctionDef) or fdef.name != func.__code__.co_name:
        raise errors.source_unavailable(func, "its source is not a plain def statement")
    elif not source.matches(func):
        raise errors.source_unavailable(
            func, f"{filename} changed since the function was defined (its source there "
            "no longer compiles to the function's code)",
            hint="reload the module (importlib.reload) or restart the interpreter, so that "
                 "the function runs the source s2sad reads")
    fdef.decorator_list = []
    fdef.returns = None
    owner = _class_of(func)
    if owner:
        _mangle(fdef, owner)
    _attribute_calls(fdef, ctx)
    ctx.firstlineno = fdef.lineno
    ctx.name = fdef.name
    args = fdef.args
    if args.kwarg:
        raise errors.unsupported(args.kwarg, ctx, "KwArgs", f"**{args.kwarg.id}")
    if args.vararg:
        _expand_vararg(func, fdef, ctx)
    ctx.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
    for a in args.posonlyargs + args.args + args.kwonlyargs:
        a.annotation = None
    all_names = G.names(fdef)
    names = {n.id for n in all_names}
    ctx.local_names = {n.id for n in all_names
                       if isinstance(n.ctx, (gast.Store, gast.Param))} | set(ctx.params)
    ctx.namer.reserve(names | {fdef.name})
    _refuse_free_arrays(func, all_names, ctx)
    classes = _classes_read(func, ctx)
    if ctx.receivers or classes or _objects_read(func, ctx):
        bind_methods(fdef, ctx, classes)
    elif _builds_operand_objects(func):
        # (objects the function builds: o = Poly(2.0); o * x)
        stored = {n.id for n in all_names if isinstance(n.ctx, gast.Store)}
        object_operators(fdef, ctx, lambda e: None, lambda e: None, stored)
    return fdef


def _builds_operand_objects(func):
    """Whether ``func`` may build an object of a class of yours defining an operator
    (``o = Poly(2.0); o * x``, see ``object_operators``): some global or closure name it
    reads (``Poly``), or an attribute of a module it reads (``shapes.Poly``), is such a
    class. Asked before walking the tree for operators, which most functions have
    with no object in sight."""
    code = func.__code__
    names, todo = set(), [code]
    while todo:
        c = todo.pop()
        names.update(c.co_names)
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    values = [func.__globals__.get(n) for n in names]
    for cell in func.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:      # an empty cell
            pass
    for value in values:
        if isinstance(value, type):
            if _has_user_operators(value):
                return True
        elif isinstance(value, types.ModuleType):
            members = vars(value)       # (not getattr: no module __getattr__ runs)
            for n in names:
                attr = members.get(n)
                if isinstance(attr, type) and _has_user_operators(attr):
                    return True
    return False


def _has_user_operators(cls):
    """``cls`` defines an operator method with a function of yours."""
    if cls.__module__ == "builtins":
        return False
    dunders = [d for ops in _BINARY_DUNDERS.values() for d in ops[:3]]
    dunders += [d for d, _ in _UNARY_DUNDERS.values()] + ["__abs__"]
    return any(_user_dunder(cls, d) for d in dunders)


def vararg_key(p):
    """The key of the kinds of a function with the parameter ``*p`` that holds the
    number of items ``p`` gets (a string: the generated code is made per count)."""
    return "*" + p


def _code_names(code, out):
    out.update(code.co_varnames, code.co_names, code.co_freevars, code.co_cellvars)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            _code_names(c, out)
    return out


def vararg_names(func, p, n):
    """The parameters that stand for the ``n`` items of ``*p`` in the code made of
    ``func`` for calls giving it ``n`` of them: ``p_0``, ``p_1``, ... (with ``_`` added
    while a name is one the function uses)."""
    used = _code_names(func.__code__, set()) if hasattr(func, "__code__") else set()
    out = []
    for j in range(n):
        item = f"{p}_{j}"
        while item in used:
            item += "_"
        used.add(item)
        out.append(item)
    return out


def _expand_vararg(func, fdef, ctx):
    """``def f(a, *xs)`` made for calls giving ``xs`` n items (``ctx.kinds`` holds n
    under ``vararg_key``): ``def f(a, xs_0, ..., xs_n-1)`` whose body starts with ``xs =
    (xs_0, ..., xs_n-1)``, a tuple like the one Python makes (the caller passes the
    items by position, as it did)."""
    args = fdef.args
    star = args.vararg
    n = ctx.kinds.get(vararg_key(star.id))
    if n is None:
        raise errors.UnsupportedSyntaxError(
            f"unsupported construct: *args parameter (*{star.id}) of the function given to "
            "s2sad itself without the arguments it is called with",
            hint="give the arguments: the code is made for their number (s2sad.grad(f)(1.0, "
                 "2.0), s2sad.source(f, args=(1.0, 2.0))), or list the parameters "
                 "explicitly", **errors._where(star, ctx))
    items = vararg_names(func, star.id, int(n))
    if items:
        args.defaults = []      # the positional parameters before *xs were all given
    args.args = args.args + [G.copy_location(gast.Name(id=v, ctx=gast.Param(), annotation=None,
                                                        type_comment=None), star)
                             for v in items]
    value = G.copy_location(gast.Tuple(elts=[G.name(v) for v in items], ctx=gast.Load()), star)
    fdef.body.insert(0, G.assign(G.copy_location(G.name(star.id, store=True), star), value,
                                 like=star))
    args.vararg = None


def _classes_read(func, ctx):
    """Name -> class, for the global names of classes the function reads (whose
    classmethods ``C.m(...)`` calls reach, ``bind_methods``)."""
    found = {}
    for name in set(func.__code__.co_names) - ctx.local_names:
        value = func.__globals__.get(name)
        if isinstance(value, type) and value.__module__ != "builtins" \
                and any(isinstance(v, classmethod) for v in vars(value).values()):
            found[name] = value
    return found


def _objects_read(func, ctx):
    """Whether the function reads a global or closure variable holding an object of a
    class of the user's or a list or tuple of such objects (``for l in LAYERS``, ``for
    l in NET.layers``: ``bind_methods``)."""
    from .api import _is_receiver
    for _, value in _free_values(func, ctx):
        if isinstance(value, (list, tuple)) and value:
            value = value[0]
        if _is_receiver(value):
            return True
    return False


def bind_methods(fdef, ctx, classes=None):
    """``self.m(a, ...)``, for a parameter ``self`` the function never rebinds that holds
    an object of class ``C`` (``ctx.receivers``), becomes a call of the function ``C.m``
    itself: ``C.m(self, a, ...)`` (a staticmethod: ``C.m(a, ...)``; a classmethod:
    ``C.m.__func__(C, a, ...)``), which is differentiated as any call of the user's
    functions. The code is specialized on ``C`` (``api.compiled``). Other attributes
    (methods of the instance's own dict, properties, grad objects) are left alone.
    ``classes`` (``_classes_read``): ``C.m(a, ...)`` of a classmethod of a class ``C``
    the function reads as a global becomes ``C.m.__func__(C, a, ...)`` too.

    The same holds for ``l.m(a, ...)`` and ``l(a)`` of a loop variable ``l`` the
    function binds only as the target of loops over a list or tuple of objects of one
    class (``for l in self.layers``, ``net.layers`` of a parameter, a global list;
    through ``enumerate``, ``zip``, ``reversed``; in a comprehension too):
    ``receivers_of`` gives the class of the items ('self.layers[]'), and each
    iteration checks that its item is of it (``runtime.check_method``, the first
    statement of the loop body; for a comprehension, the ``guards`` of its node, which
    normalize puts first in the loop it makes of it)."""
    import inspect as _inspect

    from .activity import is_user_function
    classes = classes or {}
    guarded = {}
    stored = {n.id for n in G.names(fdef) if isinstance(n.ctx, gast.Store)}
    loops = _loop_receivers(fdef, ctx, stored)      # loop variable -> (key, its loops)
    nodes = G.walk(fdef)
    called = {id(n.func) for n in nodes if isinstance(n, gast.Call)}
    read = {}           # (receiver, attribute) -> its first read, for check_attribute

    def receiver(e):
        """('self', 'self') or ('self.inner', 'self.inner') for ``e`` a receiver
        (``ctx.receivers``): its key there and its text; ('self.layers[]', 'l') and
        ('self.layers[].act', 'l.act') for a loop variable over self.layers; else None."""
        if isinstance(e, gast.Attribute) and isinstance(e.value, gast.Name):
            dotted = f"{e.value.id}.{e.attr}"
            root = e.value.id
        elif isinstance(e, gast.Name):
            dotted = root = e.id
        else:
            return None
        if root in loops:
            key = loops[root][0] + dotted[len(root):]
            return (key, dotted) if key in ctx.receivers else None
        return (dotted, dotted) if dotted in ctx.receivers and root not in stored else None

    items = {}          # id(e) -> item(e)
    made = []           # runtime.checked_item, its file bound (_checked_item)

    def item(e):
        """('self.layers[]', 'self.layers[i]') for ``e`` an item of a list of objects
        (``receivers_of``): of a parameter, an attribute of one, a global, or of a list
        a loop variable holds; else None."""
        if not isinstance(e, gast.Subscript) or isinstance(e.slice, gast.Slice):
            return None
        if id(e) not in items:
            path = G.dotted_name(e.value)
            root = path.split(".")[0] if path else None
            if root in loops:
                key = loops[root][0] + path[len(root):] + "[]"
            else:
                key = _sequence_key(e.value, ctx, stored) if path else None
            shown = ast.unparse(gast.gast_to_ast(e)) if key in ctx.receivers else None
            items[id(e)] = (key, shown) if shown else None
        return items[id(e)]

    changed = property_reads(fdef, ctx, receiver, stored)
    if object_operators(fdef, ctx, receiver, item, stored) or changed:
        nodes = G.walk(fdef)        # o * x: o.__mul__(x), bound below
        called = {id(n.func) for n in nodes if isinstance(n, gast.Call)}
    from .api import named_fields
    for node in nodes:
        if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load) \
                and id(node) not in called and receiver(node.value) is not None:
            if node.attr not in ctx.kinds.get(named_fields(receiver(node.value)[0]), ()):
                read.setdefault((receiver(node.value), node.attr), node)
            continue            # (a field of a named tuple: an item, see normalize)
        if isinstance(node, gast.Call) and receiver(node.func) is not None:
            recv, attr = receiver(node.func), "__call__"    # self(x): C.__call__(self, x)
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
                and receiver(node.func.value) is not None:
            recv, attr = receiver(node.func.value), node.func.attr
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
                and isinstance(node.func.value, gast.Name) and node.func.value.id in classes \
                and node.func.value.id not in stored:
            recv, attr = (node.func.value.id,) * 2, node.func.attr
        elif isinstance(node, gast.Call) and item(node.func) is not None:
            recv, attr = item(node.func), "__call__"        # self.layers[0](x)
        elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
                and item(node.func.value) is not None:
            recv, attr = item(node.func.value), node.func.attr  # self.layers[i].apply(x)
        else:
            continue
        subscript = node.func if attr == "__call__" else getattr(node.func, "value", None)
        subscript = subscript if isinstance(subscript, gast.Subscript) else None
        cls = ctx.receivers.get(recv[0])
        on_class = cls is None
        if on_class:
            cls = classes[recv[0]]
        if isinstance(cls, tuple):      # the items of a list, of several classes
            raw = _shared_method(cls, attr, node, recv, ctx)
        else:
            try:
                raw = _inspect.getattr_static(cls, attr)
            except AttributeError:
                continue
        first = []
        if on_class and not isinstance(raw, classmethod):
            continue            # C.f(...) of a function or staticmethod: a call as it is
        if subscript is not None and type(raw) is not type(bind_methods):
            continue            # (a staticmethod of an item: its class is not checked)
        if isinstance(raw, staticmethod):
            fn = raw.__func__
        elif isinstance(raw, classmethod):
            fn = raw.__func__
            first = [G.name(ctx.inject(cls.__name__, cls))]
        elif subscript is not None:
            # the item, checked where it is taken: checked_item(self.layers[i], ...)
            fn, first = raw, [_checked_item(subscript, recv, attr, raw, node, ctx, made)]
        elif type(raw) is type(bind_methods):
            fn, first = raw, [_receiver_expr(recv[1])]
        else:
            continue
        if type(fn) is not type(bind_methods) or not is_user_function(fn):
            continue            # a library's method (np.poly1d.__call__): a call as it is
        name = cls[0].__name__ if isinstance(cls, tuple) else cls.__name__
        injected = ctx.inject(f"{name}_{attr}", fn)
        ctx.shown_names.setdefault(injected, f"{name}.{attr}")     # (for messages)
        if first and not on_class and not isinstance(raw, classmethod):
            # its self: an object of cls (its callee), holding what recv holds
            _note_method_call(ctx, injected, recv[0])
        func = gast.Name(id=injected, ctx=gast.Load(), annotation=None, type_comment=None)
        gast.copy_location(func, node.func)
        node.func = func
        node.args = first + node.args
        for klass in cls if isinstance(cls, tuple) else (cls,):
            ctx.method_reads.append((klass, attr, raw))     # a method replaced: made again
        if not on_class and subscript is None and (recv, attr) not in guarded:
            guarded[recv, attr] = (raw, node)
    if guarded or read:
        import functools

        from . import runtime
        check = functools.partial(runtime.check_method, ctx.filename)
        checks = [(recv, _method_guard(recv, attr, raw, node, ctx, check))
                  for (recv, attr), (raw, node) in guarded.items()]
        # (a method of self.inner: self.inner holds an object of the class the code was
        # made for, checked by check_method too)
        check = functools.partial(runtime.check_attribute, ctx.filename)
        checks += [(recv, _attribute_guard(recv, attr, node, ctx, check))
                   for (recv, attr), node in read.items()]
        # a loop variable's at the start of each loop binding it, the others' first
        for (_, shown), stmt in reversed(checks):
            root = shown.split(".")[0]
            if root not in loops:
                fdef.body.insert(0, stmt)
                continue
            for k, loop in enumerate(loops[root][1]):
                stmt = stmt if k == 0 else G.clone(stmt)
                if isinstance(loop, gast.comprehension):
                    # the first statements of the loop normalize makes of it
                    loop.guards = [stmt] + getattr(loop, "guards", [])
                else:
                    loop.body.insert(0, stmt)


# methods changing a list, dict or array in place
_IN_PLACE = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
             "update", "setdefault", "popitem", "fill", "resize", "put", "itemset",
             "partition", "__setitem__", "__delitem__", "__iadd__", "__isub__", "__imul__",
             "__itruediv__"}


def _returned_attribute(fget):
    """``'lst'`` for the getter of a property whose body is ``return self.lst`` (a
    docstring aside), with the name mangled as Python mangles it in its class; else
    None."""
    try:
        lines = textwrap.dedent(inspect.getsource(fget))
        tree = ast.parse(lines)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    fn = tree.body[0] if tree.body else None
    if not isinstance(fn, ast.FunctionDef) or not fn.args.args:
        return None
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    e = body[0].value
    if not (isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name)
            and e.value.id == fn.args.args[0].arg):
        return None
    attr = e.attr
    if attr.startswith("__") and not attr.endswith("__"):
        owner = fget.__qualname__.split(".")
        if len(owner) < 2:
            return None
        attr = f"_{owner[-2].lstrip('_')}{attr}"
    return attr


def property_reads(fdef, ctx, receiver, stored):
    """``self.l`` of a property of the class of ``self`` (a receiver, ``bind_methods``)
    whose getter only returns an attribute, ``return self.lst``, is ``self.lst``: what
    the function changes through it (``self.l.append(x)``) is seen by the aliasing
    checks as a change of ``self.lst``. Through another property (one that computes
    its value), a change in place (``self.l.append(x)``, ``self.l[0] = x``, ``b =
    self.l; b += x``) is refused, located: what it changes is not known. Returns
    whether the tree changed."""
    found = {}          # id(attribute node) -> (property, node)
    for node in G.walk(fdef):
        if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
            recv = receiver(node.value)
            cls = ctx.receivers.get(recv[0]) if recv is not None else None
            if cls is None or isinstance(cls, tuple):
                continue
            try:
                raw = inspect.getattr_static(cls, node.attr)
            except AttributeError:
                continue
            if isinstance(raw, (property, functools.cached_property)):
                found[id(node)] = (raw, node)
    if not found:
        return False
    rewrite = _PropertyAliases(found)
    rewrite.visit(fdef)
    if found:
        _refuse_property_changes(fdef, ctx, found)
    return rewrite.changed


class _PropertyAliases(G.Transformer):
    """``property_reads``' rewriting of ``self.l`` into ``self.lst`` (``found``: id of
    the node -> (property, node); those rewritten are taken out)."""

    def __init__(self, found):
        self.found = found

    def visit_Attribute(self, node):
        from .activity import is_user_function
        self.generic_visit(node)
        hit = self.found.get(id(node))
        if hit is None or not isinstance(hit[0], property):
            return node
        fget = hit[0].fget
        attr = _returned_attribute(fget) if inspect.isfunction(fget) \
            and is_user_function(fget) else None
        if attr is None:
            return node
        del self.found[id(node)]
        return G.copy_location(gast.Attribute(value=node.value, attr=attr,
                                              ctx=gast.Load()), node)


def _refuse_property_changes(fdef, ctx, found):
    """A change in place of what a property gave (``found``: id of the ``self.l`` node
    -> (property, node)), directly or through a name bound to it."""
    bound = {}          # local name -> a property read bound to it
    for node in G.walk(fdef):
        if isinstance(node, gast.Assign) and id(node.value) in found:
            for t in node.targets:
                if isinstance(t, gast.Name):
                    bound[t.id] = found[id(node.value)][1]

    def prop(e):
        if id(e) in found:
            return found[id(e)][1]
        if isinstance(e, gast.Name) and e.id in bound:
            return bound[e.id]
        return None

    for node in G.walk(fdef):
        hits = []
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
                and node.func.attr in _IN_PLACE:
            hits.append(node.func.value)
        targets = node.targets if isinstance(node, gast.Assign) else \
            [node.target] if isinstance(node, gast.AugAssign) else []
        hits += [t.value for t in targets if isinstance(t, gast.Subscript)]
        if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            hits.append(node.target)
        for e in hits:
            read = prop(e)
            if read is not None:
                shown = ast.unparse(gast.gast_to_ast(read))
                raise errors.unsupported(
                    node, ctx, "PropertyChange",
                    f"{shown} is a property: what its value is part of is not known")


_BINARY_DUNDERS = {
    gast.Add: ("__add__", "__radd__", "__iadd__", "+"),
    gast.Sub: ("__sub__", "__rsub__", "__isub__", "-"),
    gast.Mult: ("__mul__", "__rmul__", "__imul__", "*"),
    gast.Div: ("__truediv__", "__rtruediv__", "__itruediv__", "/"),
    gast.FloorDiv: ("__floordiv__", "__rfloordiv__", "__ifloordiv__", "//"),
    gast.Mod: ("__mod__", "__rmod__", "__imod__", "%"),
    gast.Pow: ("__pow__", "__rpow__", "__ipow__", "**"),
    gast.MatMult: ("__matmul__", "__rmatmul__", "__imatmul__", "@"),
    gast.LShift: ("__lshift__", "__rlshift__", "__ilshift__", "<<"),
    gast.RShift: ("__rshift__", "__rrshift__", "__irshift__", ">>"),
    gast.BitOr: ("__or__", "__ror__", "__ior__", "|"),
    gast.BitXor: ("__xor__", "__rxor__", "__ixor__", "^"),
    gast.BitAnd: ("__and__", "__rand__", "__iand__", "&"),
}
_UNARY_DUNDERS = {gast.USub: ("__neg__", "-"), gast.UAdd: ("__pos__", "+"),
                  gast.Invert: ("__invert__", "~")}


def _user_dunder(cls, attr):
    """The function of ``cls`` (or of each class of the tuple ``cls``) defining the
    operator method ``attr`` when it is a function of the user's code, else None."""
    from .activity import is_user_function
    classes = cls if isinstance(cls, tuple) else (cls,)
    found = None
    for c in classes:
        try:
            raw = inspect.getattr_static(c, attr)
        except AttributeError:
            continue
        if isinstance(raw, types.FunctionType) and is_user_function(raw):
            found = raw
    return found


def object_operators(fdef, ctx, receiver, item, stored):
    """An arithmetic operator one of whose operands is an object of a class of yours
    defining it (``o * x`` of a class with ``__mul__``) runs that method, not the
    arithmetic the rules differentiate (``d(o * x) = o dx``). Where the object is one
    ``bind_methods`` follows (``receiver``: a parameter, ``self.inner``, a loop
    variable over a list of objects; ``item``: ``self.layers[i]``; or a global object),
    ``o * x`` becomes the method call ``o.__mul__(x)`` (``x * o`` of a number ``x``,
    ``o.__rmul__(x)``; ``-o``, ``o.__neg__()``; ``abs(o)``, ``o.__abs__()``), which
    is differentiated as any method call; elsewhere (an object the function builds or
    binds to another name, ``x * o`` of what may be an array, ``o *= x``) it is refused,
    located. Returns whether the tree changed."""
    assigned = {}       # local name -> the values bound to it
    candidates = False
    for n in G.walk(fdef):
        cls = n.__class__
        if cls is gast.BinOp or cls is gast.UnaryOp or cls is gast.AugAssign \
                or cls is gast.Call and isinstance(n.func, gast.Name) \
                and n.func.id == "abs":
            candidates = True
        if cls is gast.Assign:
            for t in n.targets:
                if isinstance(t, gast.Name):
                    assigned.setdefault(t.id, []).append(n.value)
        elif (cls is gast.NamedExpr or cls is gast.AnnAssign and n.value is not None) \
                and isinstance(n.target, gast.Name):
            assigned.setdefault(n.target.id, []).append(n.value)
    if not candidates:
        return False
    rewrite = _ObjectOperators(ctx, receiver, item, stored, assigned)
    rewrite.visit(fdef)
    return rewrite.changed


_NOT_FOLLOWED = ("the derivative code would multiply by the object as by a number; an "
                 "object bound to another name or built in the function is not followed")


class _ObjectOperators(G.Transformer):
    """``object_operators``' rewriting (a class of the module: one made per call would
    hold the tree in a reference cycle)."""

    def __init__(self, ctx, receiver, item, stored, assigned):
        self.ctx, self.receiver, self.item = ctx, receiver, item
        self.stored, self.assigned = stored, assigned

    def lookup(self, path):
        ctx = self.ctx
        root = path.split(".")[0]
        if root in ctx.local_names or root in ctx.params or root in ctx.injected:
            return None
        try:
            return ctx._resolve(path)
        except Exception:       # (a property raising, a name not bound yet)
            return None

    def kind_of(self, e, seen=()):
        """('bound', class) for an object bind_methods follows, ('global', class) for a
        global object, ('local', class) for an object in another name, else None."""
        from .api import _is_receiver
        ctx = self.ctx
        if isinstance(e, (gast.Name, gast.Attribute)):
            found = self.receiver(e)
            if found is not None:
                return "bound", ctx.receivers[found[0]]
        if isinstance(e, gast.Subscript):
            found = self.item(e)
            if found is not None:
                return "bound", ctx.receivers[found[0]]
        path = G.dotted_name(e)
        if path is not None:
            root = path.split(".")[0]
            if path in ctx.receivers:       # a parameter rebound, self.a.b
                return "local", ctx.receivers[path]
            if root in ctx.params or root in ctx.local_names:
                if isinstance(e, gast.Name) and e.id not in seen:
                    for v in self.assigned.get(e.id, ()):
                        k = self.kind_of(v, seen + (e.id,))
                        if k is not None:
                            return "local", k[1]
                return None
            value = self.lookup(path)
            if value is not None and _is_receiver(value):
                return "global", type(value)
            return None
        if isinstance(e, gast.Call):
            fpath = G.dotted_name(e.func)
            value = self.lookup(fpath) if fpath else None
            if isinstance(value, type) and value.__module__ != "builtins":
                return "local", value
        return None

    @staticmethod
    def text(e):
        return ast.unparse(gast.gast_to_ast(e))

    def refuse(self, node, symbol, operand, cls, why):
        name = getattr(cls, "__name__", None) or cls[0].__name__
        raise errors.unsupported(
            node, self.ctx, "ObjectOperator",
            f"the operator {symbol} on {self.text(operand)}, an object of your class "
            f"{name}, which defines it: {why}")

    def scalar(self, e):
        """``e`` surely holds a number (not an array: NumPy would apply the operator to
        each item)."""
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
            e = e.operand
        if isinstance(e, gast.Constant):
            return type(e.value) in (int, float)
        return isinstance(e, gast.Name) and e.id in self.ctx.params \
            and e.id not in self.stored and self.ctx.kinds.get(e.id) == "S"

    @staticmethod
    def method_call(obj, attr, args, like):
        func = G.copy_location(gast.Attribute(value=obj, attr=attr, ctx=gast.Load()), obj)
        return G.copy_location(gast.Call(func=func, args=args, keywords=[]), like)

    def visit_BinOp(self, node):
        written = G.copy_location(gast.BinOp(left=node.left, op=node.op,
                                             right=node.right), node)
        self.generic_visit(node)
        op, rop, _, symbol = _BINARY_DUNDERS.get(node.op.__class__, (None,) * 4)
        if op is None:
            return node
        left, right = self.kind_of(node.left), self.kind_of(node.right)
        fa = left and _user_dunder(left[1], op)
        fb = right and _user_dunder(right[1], rop)
        if not fa and not fb:
            return node
        if fa:
            if left[0] == "local":
                self.refuse(node, symbol, written.left, left[1], _NOT_FOLLOWED)
            if right and fb and right[1] is not left[1] \
                    and isinstance(right[1], type) and isinstance(left[1], type) \
                    and issubclass(right[1], left[1]):
                self.refuse(node, symbol, written.right, right[1],
                            f"Python would call {right[1].__name__}.{rop} first")
            return self.method_call(node.left, op, [node.right], node)
        if right[0] == "local":
            self.refuse(node, symbol, written.right, right[1], _NOT_FOLLOWED)
        if left is None and not self.scalar(node.left):
            a, b = self.text(written.left), self.text(written.right)
            self.refuse(node, symbol, written.right, right[1],
                        f"{a} may be an array, whose {symbol} applies {rop} to each "
                        f"item (call {b}.{rop}({a}) if you mean it, or write {b} {symbol} "
                        f"({a}) if the operator commutes)")
        return self.method_call(node.right, rop, [node.left], node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        found = _UNARY_DUNDERS.get(node.op.__class__)
        k = self.kind_of(node.operand) if found else None
        if k is None or not _user_dunder(k[1], found[0]):
            return node
        if k[0] == "local":
            self.refuse(node, found[1], node.operand, k[1], _NOT_FOLLOWED)
        return self.method_call(node.operand, found[0], [], node)

    def visit_Call(self, node):
        self.generic_visit(node)
        if not (isinstance(node.func, gast.Name) and node.func.id == "abs"
                and len(node.args) == 1 and not node.keywords
                and node.func.id not in self.ctx.local_names):
            return node
        k = self.kind_of(node.args[0])
        if k is None or not _user_dunder(k[1], "__abs__"):
            return node
        if k[0] == "local":
            self.refuse(node, "abs", node.args[0], k[1], _NOT_FOLLOWED)
        return self.method_call(node.args[0], "__abs__", [], node)

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        op, rop, iop, symbol = _BINARY_DUNDERS.get(node.op.__class__, (None,) * 4)
        if op is None:
            return node
        for operand, names in ((node.target, (iop, op)), (node.value, (rop,))):
            k = self.kind_of(operand)
            if k is not None and any(_user_dunder(k[1], a) for a in names):
                self.refuse(node, symbol + "=", operand, k[1],
                            "write the operation out with a method call "
                            f"({self.text(node.target)} = ...)")
        return node


def _checked_item(subscript, recv, attr, raw, node, ctx, made):
    """``checked_item(self.layers[i], 'attr', raw, line, col, Layer, 'self.layers[i]')``:
    the item, once ``runtime.check_method`` has checked it (the file name bound; the
    function, made once per transformation, kept in the list ``made``)."""
    import functools

    from . import runtime
    if not made:
        made.append(functools.partial(runtime.checked_item, ctx.filename))
    guard = _method_guard(recv, attr, raw, node, ctx, made[0], "checked_item").value
    guard.args[0] = subscript
    return guard


def _note_method_call(ctx, injected, key):
    """``ctx.method_calls[injected]``: what the self of the function called there holds,
    relative to ``key`` (its receiver: 'self.inner', 'self.layers[]'): {'': its class,
    '.act': the class of self.act, ...} (``pipeline.callee_receivers``); for calls of one
    function on several receivers, what they all hold alike. Items of several classes
    (a tuple in ``ctx.receivers``): nothing (the callee's self has no class of its own)."""
    cls = ctx.receivers[key]
    rel = {} if isinstance(cls, tuple) else \
        {r[len(key):]: c for r, c in ctx.receivers.items()
         if r == key or (r.startswith(key) and r[len(key)] in ".[")}
    known = ctx.method_calls.get(injected)
    if known is not None:
        rel = {r: c for r, c in rel.items() if known.get(r) == c}
    ctx.method_calls[injected] = rel


def _shared_method(classes, attr, node, recv, ctx):
    """The function ``attr`` is in every one of ``classes`` (the items of a list a loop
    variable runs over: ``recv``), or a located ArgumentError when they differ."""
    import inspect as _inspect
    found = []
    for cls in classes:
        try:
            found.append(_inspect.getattr_static(cls, attr))
        except AttributeError:
            found.append(None)
    if found[0] is not None and type(found[0]) is type(bind_methods) \
            and all(f is found[0] for f in found):
        return found[0]
    key, shown = recv
    names = ", ".join(c.__name__ for c in classes)
    call = f"{shown}({'...' if node.args else ''})" if attr == "__call__" \
        else f"{shown}.{attr}(...)"
    if "[]" in key:
        what = f"the items of {key[:key.index('[]')]}, which are objects"
    else:       # the self of a method called for items of several classes
        what = f"{shown}, an item of a list of objects"
    raise errors.ArgumentError(
        f"{call} calls a method of {what} of several classes ({names}) whose {attr} "
        "differs: the derivative code calls one function for every item",
        hint="make the items objects of one class, or loop over the objects of each "
        "class separately", **errors._where(node, ctx))


def _loop_receivers(fdef, ctx, stored):
    """Loop variable -> (the key in ``ctx.receivers`` of the items it takes, e.g.
    'self.layers[]'; the ``For`` and ``comprehension`` nodes binding it), for each name
    the function binds only as the target of loops over one list or tuple of objects
    (``for`` statements, comprehensions; its whole
    target, or an item of ``enumerate``, ``zip``: ``for i, l in enumerate(xs)``).
    The list is a parameter or an attribute of one (``net.layers``, ``self.layers``)
    the function never rebinds, or a global (its receivers are added to
    ``ctx.receivers`` and remembered for ``Context.stale``)."""
    _own_comprehension_names(fdef, ctx)
    loops, targets, outer = {}, set(), {}
    for node in G.walk(fdef):       # (breadth first: an outer loop before its inner ones)
        if not isinstance(node, (gast.For, gast.comprehension)) \
                or getattr(node, "is_async", 0):
            continue
        for target, seq in _loop_items(node.target, node.iter, ctx):
            path = G.dotted_name(seq)
            root = path.split(".")[0] if path else None
            if root in loops and loops[root][0] is not None:
                # for b in self.blocks: for l in b.layers: the items of an item's list
                key = loops[root][0] + path[len(root):] + "[]"
                key = key if key in ctx.receivers else None
                outer[target.id] = root
            else:
                key = _sequence_key(seq, ctx, stored)
            if key is None:
                continue
            targets.add(id(target))
            known = loops.setdefault(target.id, (key, []))
            if known[0] != key:
                loops[target.id] = (None, [])
            else:
                known[1].append(node)
    for n in G.names(fdef):
        if n.id in loops and isinstance(n.ctx, gast.Store) and id(n) not in targets:
            loops[n.id] = (None, [])        # bound otherwise too
    loops = {n: found for n, found in loops.items()
             if found[0] is not None and n not in ctx.params}
    while any(n in loops and root not in loops for n, root in outer.items()):
        loops = {n: found for n, found in loops.items()
                 if n not in outer or outer[n] in loops}
    for n, (key, _) in loops.items():
        # the loop variable passed on, helper(l, x): its callee's receiver
        # (pipeline.callee_receivers)
        ctx.receivers.update({n + r[len(key):]: c for r, c in list(ctx.receivers.items())
                              if r == key or (r.startswith(key) and r[len(key)] in ".[")})
    return loops


def _own_comprehension_names(fdef, ctx):
    """Rename the variables of a comprehension that the function binds elsewhere too
    (``[l(x) for l in a]`` and ``[l(y) for l in b]``), each a name of its own, as
    normalize renames them (its scope is the comprehension's): ``_loop_receivers``
    tells them apart."""
    comps = [n for n in G.walk(fdef) if isinstance(n, (gast.ListComp, gast.GeneratorExp))]
    if not comps:
        return
    count = {}
    for n in G.names(fdef):
        if isinstance(n.ctx, gast.Store):
            count[n.id] = count.get(n.id, 0) + 1
    for e in comps:
        own = [n for g in e.generators for n in G.names(g.target)]
        renames = {n.id: None for n in own if count.get(n.id, 0) > 1}
        if not renames:
            continue
        for old in renames:
            renames[old] = ctx.namer.fresh(old)
            ctx.local_names.add(renames[old])
        for node in [e.elt] + [x for g in e.generators for x in [g.target] + g.ifs] + \
                [g.iter for g in e.generators[1:]]:
            G.rename(node, renames)
            for n in G.names(node):
                if isinstance(n.ctx, gast.Store):
                    n.id = renames.get(n.id, n.id)


def _loop_items(target, it, ctx):
    """(Name target, the expression it takes the items of) of ``for target in it``:
    through ``enumerate``, ``zip``, ``reversed``, ``list``, ``tuple`` and slices
    (``self.layers[1:]``), which take items of the same list."""
    import builtins
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and not it.keywords \
            and it.func.id not in ctx.local_names:
        try:
            fn = ctx.lookup(it.func.id)
        except KeyError:
            fn = None
        if fn in (builtins.reversed, builtins.list, builtins.tuple) and len(it.args) == 1:
            return _loop_items(target, it.args[0], ctx)     # the same items
        if fn is builtins.enumerate and len(it.args) == 1 \
                and isinstance(target, gast.Tuple) and len(target.elts) == 2:
            return _loop_items(target.elts[1], it.args[0], ctx)
        if fn is builtins.zip and isinstance(target, gast.Tuple) \
                and len(target.elts) == len(it.args):
            return [p for t, a in zip(target.elts, it.args) for p in _loop_items(t, a, ctx)]
        return []
    if isinstance(it, gast.Subscript) and isinstance(it.slice, gast.Slice):
        return _loop_items(target, it.value, ctx)       # self.layers[1:]: some of them
    if isinstance(target, gast.Name):
        return [(target, it)]
    return []


def _sequence_key(seq, ctx, stored):
    """'self.layers[]' for ``seq`` the expression ``self.layers`` (a parameter never
    rebound, or an attribute of one) when ``ctx.receivers`` knows its items; for a
    global (``LAYERS``, ``NET.layers``), its items' classes are found now and added
    to ``ctx.receivers``. None for anything else."""
    path = G.dotted_name(seq)
    if path is None:
        return None
    root = path.split(".")[0]
    key = path + "[]"
    if root in ctx.params:
        return key if root not in stored and key in ctx.receivers else None
    if root in ctx.local_names or root in ctx.injected:
        return None
    try:
        value = ctx._lookup(path)
    except KeyError:
        return None
    from .api import receivers_of
    every = receivers_of({path: value})
    found = {k: c for k, c in every.items() if k.startswith(key)}
    if key not in found:
        return None
    ctx.receivers.update(found)
    ctx.receiver_reads.append((path, path, None, every))    # Context.stale: changed since
    return key


def _attribute_guard(recv, attr, node, ctx, check):
    """``check_attribute(recv, 'attr', line, col, 'recv.attr')``: ``recv.attr``, read at
    ``node``, holds no array the derivative code would get wrong when the code runs
    (``runtime.check_attribute``, the file name bound: ``check``)."""
    col = getattr(node, "col_offset", None)
    shown = recv[1]
    args = [_receiver_expr(shown),
            gast.Constant(value=attr, kind=None),
            gast.Constant(value=node.lineno, kind=None),
            gast.Constant(value=col + ctx.col_shift if col is not None else None, kind=None),
            gast.Constant(value=f"{shown}.{attr}", kind=None)]
    return _guard(ctx.inject("check_attribute", check), args, node)


def _guard(helper, args, node):
    """The statement ``helper(*args)``, at the place of ``node``."""
    call = gast.Call(func=gast.Name(id=helper, ctx=gast.Load(), annotation=None,
                                    type_comment=None), args=args, keywords=[])
    stmt = gast.Expr(value=call)
    gast.copy_location(stmt, node)
    gast.copy_location(call, node)
    return stmt


def _receiver_expr(dotted):
    """The expression ``self`` or ``self.inner`` for a receiver's dotted name."""
    root, *rest = dotted.split(".")
    e = gast.Name(id=root, ctx=gast.Load(), annotation=None, type_comment=None)
    for part in rest:
        e = gast.Attribute(value=e, attr=part, ctx=gast.Load())
    return e


def _method_guard(recv, attr, raw, node, ctx, check, helper="check_method"):
    """``check_method(recv, 'attr', raw, line, col)``: the call at ``node`` reaches the
    class's method ``raw`` when the code runs (``runtime.check_method``, the file name
    bound: ``check``)."""
    col = getattr(node, "col_offset", None)
    key, shown = recv
    cls = ctx.receivers[key]
    # (items of several classes sharing the method: the tuple of them)
    label = "_or_".join(c.__name__ for c in cls) if isinstance(cls, tuple) else cls.__name__
    args = [_receiver_expr(shown),
            gast.Constant(value=attr, kind=None),
            gast.Name(id=ctx.inject(f"{attr}_method", raw), ctx=gast.Load(), annotation=None,
                      type_comment=None),
            gast.Constant(value=node.lineno, kind=None),
            gast.Constant(value=col + ctx.col_shift if col is not None else None, kind=None),
            gast.Name(id=ctx.inject(label, cls), ctx=gast.Load(), annotation=None,
                      type_comment=None),
            gast.Constant(value=shown, kind=None)]
    return _guard(ctx.inject(helper, check), args, node)


def _free_values(func, ctx):
    """(name, value) of the globals and closure variables the function reads (a global
    it does not define: None; an empty closure cell: left out)."""
    code = func.__code__
    cells = dict(zip(code.co_freevars, func.__closure__ or ()))
    for name in (set(code.co_names) | set(code.co_freevars)) - ctx.local_names:
        if name in cells:
            try:
                value = cells[name].cell_contents
            except ValueError:          # an empty cell
                continue
        else:
            value = func.__globals__.get(name)
        yield name, value


def _refuse_free_arrays(func, all_names, ctx):
    """An ArgumentError at the first use of a global or closure variable holding an
    array the derivative code would get wrong (``runtime.REFUSED_ARRAYS``: np.matrix, a
    masked array), or a list or tuple holding one, as for such an argument."""
    from .runtime import REFUSED_ARRAYS, refused_array_message
    for name, value in _free_values(func, ctx):
        shown = name
        if type(value) in (list, tuple) and len(value) <= 10_000:   # a list of weights
            i = next((i for i, v in enumerate(value) if isinstance(v, REFUSED_ARRAYS)), None)
            if i is not None:
                value, shown = value[i], f"{name}[{i}]"
        if isinstance(value, REFUSED_ARRAYS):
            message, hint = refused_array_message(value, shown, "use")
            n = next((n for n in all_names if n.id == name), None)
            raise errors.ArgumentError(f"{shown} {message}", hint=hint,
                                       **errors._where(n, ctx))


class _Source:
    """The source block of a function: how far it was dedented and its parsed tree, with
    the file's line numbers.

    ``gast_module`` hands each transformation a gast tree of its own, since the passes
    edit it. The first transformation gets the tree converted from ``ast`` (``tree``,
    never edited: the conversion builds new nodes); the next ones get clones of one
    more conversion kept unedited here (cloning is cheaper than converting again). So
    a function transformed once, the usual case, pays one conversion and no clone.
    """

    __slots__ = ("lines", "col_shift", "text", "tree", "lnum", "module", "handed_out", "reads",
                 "fields", "checked")

    def __init__(self, lines, lnum):
        self.lines = lines                  # the whole file, as linecache holds it
        found = _def_block(lines, lnum)
        if found is None:
            block = inspect.getblock(lines[lnum:])
            text = "".join(block)
            dedented = textwrap.dedent(text)
            tree = ast.parse(dedented)
        else:
            block, text, dedented, tree = found
        self.col_shift = len(block[0]) - len(block[0].lstrip()) if dedented != text else 0
        self.text = text
        self.tree = tree
        self.lnum = lnum
        self.module = None                  # the kept gast tree, once asked twice
        self.handed_out = False
        self.reads = None                   # attribute_reads, once asked
        self.fields = None                  # field_reads, once asked
        self.checked = {}                   # code object -> whether this source is its own

    def matches(self, func):
        """Whether the ``def`` read here compiles to ``func``'s code (same bytecode, names and
        constants): not so when the file changed on disk after the function was
        defined, where s2sad would differentiate a function other than the one that
        runs. Compiled inside a function binding ``code``'s free variables, so a
        closure's reads of them compile as they did. True when it cannot tell (cached per
        code object)."""
        hit = self.checked.get(func.__code__)
        if hit is None:
            hit = self.checked[func.__code__] = _unchanged_since_start(func) \
                or _compiles_to(self.tree, func)
        return hit

    def gast_module(self):
        if not self.handed_out:
            self.handed_out = True
            return to_gast(self.tree, self.lnum)
        if self.module is None:
            self.module = to_gast(self.tree, self.lnum)
        return G.clone(self.module)


def _class_of(func):
    """The name of the class whose body defines ``func`` (a method), or None."""
    parts = getattr(func, "__qualname__", "").split(".")
    if len(parts) >= 2 and parts[-2] != "<locals>":
        return parts[-2]
    return None


def _attribute_calls(fdef, ctx):
    """``getattr(o, "buf")`` and ``operator.attrgetter("buf")(o)`` (a constant name,
    the builtin and operator's functions) are ``o.buf``: so written, a store through the
    value (``b = getattr(self, "buf"); b[0] = x``) is seen by the aliasing checks as
    one through ``self.buf`` (after the mangling of private names, which getattr does
    not do). ``vars(o)`` is ``o.__dict__``, written into nowhere (normalize refuses a
    store into either)."""
    import builtins
    text = ctx.source_text
    if text is not None and not any(w in text for w in ("getattr", "attrgetter", "vars",
                                                        "__dict__")):
        return

    def resolves(f, obj):
        path = G.dotted_name(f)
        if path is None or path.split(".")[0] in ctx.local_names:
            return False
        try:
            return ctx._resolve(path) is obj
        except Exception:
            return False

    def namespace(e):
        """``e`` is ``o.__dict__`` or ``vars(o)``: the attributes of ``o``."""
        return isinstance(e, gast.Attribute) and e.attr == "__dict__" \
            or isinstance(e, gast.Call) and len(e.args) == 1 and not e.keywords \
            and resolves(e.func, builtins.vars)

    for node in G.walk(fdef):
        targets = node.targets if isinstance(node, gast.Assign) else \
            [node.target] if isinstance(node, (gast.AugAssign, gast.AnnAssign)) else []
        changed = [t.value for t in targets if isinstance(t, gast.Subscript)]
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
                and node.func.attr in _DICT_CHANGERS:
            changed.append(node.func.value)
        if isinstance(node, gast.Delete):
            changed += [t.value for t in node.targets if isinstance(t, gast.Subscript)]
        for e in changed:
            if namespace(e):
                shown = ast.unparse(gast.gast_to_ast(e))
                raise errors.unsupported(node, ctx, "AttributeStore",
                                         f"setting attributes through {shown}")
    _AttributeCalls(resolves).visit(fdef)


def _attribute(value, dotted, like):
    for attr in dotted.split("."):
        value = gast.Attribute(value=value, attr=attr, ctx=gast.Load())
    return G.copy_location(value, like)


def _constant_name(e):
    return isinstance(e, gast.Constant) and isinstance(e.value, str) \
        and all(p.isidentifier() for p in e.value.split(".")) and e.value


class _AttributeCalls(G.Transformer):
    """``_attribute_calls``' rewriting (``resolves(f, obj)``: the function expression
    ``f`` is the builtin or library function ``obj``)."""

    def __init__(self, resolves):
        self.resolves = resolves

    def visit_Call(self, node):
        import builtins
        import operator
        self.generic_visit(node)
        if node.keywords or any(isinstance(a, gast.Starred) for a in node.args):
            return node
        if len(node.args) == 2 and "." not in (_constant_name(node.args[1]) or ".") \
                and self.resolves(node.func, builtins.getattr):
            return _attribute(node.args[0], node.args[1].value, node)
        if len(node.args) == 1 and self.resolves(node.func, builtins.vars):
            return _attribute(node.args[0], "__dict__", node)
        inner = node.func
        if len(node.args) == 1 and isinstance(inner, gast.Call) and not inner.keywords \
                and len(inner.args) == 1 and _constant_name(inner.args[0]) \
                and self.resolves(inner.func, operator.attrgetter):
            return _attribute(node.args[0], inner.args[0].value, node)
        return node


_DICT_CHANGERS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__",
                  "__delitem__"}


def _mangle(fdef, owner):
    """Python's private name mangling in a method of class ``owner``: ``self.__x`` is
    ``self._Owner__x`` (the generated code is compiled outside the class)."""
    prefix = "_" + owner.lstrip("_")
    if prefix == "_":
        return

    def mangled(n):
        if n and n.startswith("__") and not n.endswith("__") and "." not in n:
            return prefix + n
        return n

    for node in G.walk(fdef):
        if isinstance(node, gast.Name):
            node.id = mangled(node.id)
        elif isinstance(node, gast.Attribute):
            node.attr = mangled(node.attr)
        elif isinstance(node, gast.keyword) and node.arg:
            node.arg = mangled(node.arg)
        elif isinstance(node, gast.FunctionDef) and node is not fdef:
            node.name = mangled(node.name)


def _process_start():
    """When this process started (seconds since the epoch), or None where the system
    does not tell (Linux's /proc does)."""
    try:
        with open("/proc/self/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])    # field 22, starttime
        with open("/proc/stat") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


_STARTED = _process_start()


def _unchanged_since_start(func):
    """``func``'s file was last written before this process started, a second or more
    before: every function of it was compiled from the text there now (the compile in
    ``_compiles_to``, about 1 ms for a 100-line function, is then not needed)."""
    if _STARTED is None:
        return False
    try:
        return os.stat(func.__code__.co_filename).st_mtime < _STARTED - 1.0
    except (OSError, ValueError):
        return False


def _compiles_to(tree, func):
    code = func.__code__
    fdef = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(fdef, ast.FunctionDef):
        return True
    # the modules it reads were imported in its module (how mod.f() compiles depends on it)
    imports = [ast.Import(names=[ast.alias(name=n, asname=None)]) for n in code.co_names
               if isinstance(func.__globals__.get(n), types.ModuleType)]
    top, new = fdef, []
    owner = _class_of(func)
    if owner:       # in a class of its name: private names are mangled, super() works
        top = ast.ClassDef(name=owner, bases=[], keywords=[], body=[fdef],
                           decorator_list=[], type_params=[])
        new = [top]
    free = [v for v in code.co_freevars if not (owner and v == "__class__")]
    if free:
        # inside a function binding its free variables, so that it reads them as a closure
        # (else at module level: its own name is a global there, as in its module)
        body = [ast.Assign(targets=[ast.Name(id=v, ctx=ast.Store())],
                           value=ast.Constant(None)) for v in free] + [top]
        top = ast.FunctionDef(name="_s2sad_outer", args=ast.arguments(
            posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=body, decorator_list=[], returns=None, type_params=[])
        new += [top] + [n for a in body[:-1] for n in ast.walk(a)]   # fdef's own stay
    new += [n for a in imports for n in ast.walk(a)]
    for n in new:
        if "lineno" in n._attributes:
            n.lineno = n.end_lineno = fdef.lineno
            n.col_offset = n.end_col_offset = 0
    try:
        compiled = compile(ast.Module(body=imports + [top], type_ignores=[]),
                           code.co_filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, TypeError):
        return True
    found = []
    level = [compiled]
    for _ in range(3):      # the module, the outer function, the class: the def in one
        level = [c for parent in level for c in parent.co_consts
                 if isinstance(c, types.CodeType)]
        found += [c for c in level if c.co_name == code.co_name]
    return len(found) != 1 or _same_code(found[0], code)


def _same_code(a, b):
    """Whether two code objects compiled from the same source in different modules
    agree: names, constants and instructions; where the bytes differ, the instructions
    that compute (``_gist``): how a call of ``mod.f(...)`` compiles depends on how
    ``mod`` was bound in the module, so call and attribute instructions count by name
    only."""
    if (a.co_varnames, a.co_freevars, a.co_cellvars, a.co_argcount,
            a.co_kwonlyargcount, a.co_posonlyargcount) != \
            (b.co_varnames, b.co_freevars, b.co_cellvars, b.co_argcount,
             b.co_kwonlyargcount, b.co_posonlyargcount):
        return False
    if a.co_code == b.co_code and a.co_names == b.co_names \
            and len(a.co_consts) == len(b.co_consts) \
            and all(_same_code(x, y) if isinstance(x, types.CodeType)
                    and isinstance(y, types.CodeType)
                    else type(x) is type(y) and (x == y or (x != x and y != y)
                                                 or _same_qualname(x, y))
                    for x, y in zip(a.co_consts, b.co_consts)):
        return True
    return _gist(a) == _gist(b)


def _same_qualname(x, y):
    return isinstance(x, str) and ".<locals>." in x and isinstance(y, str) \
        and x.rsplit(".<locals>.", 1)[1] == y.rsplit(".<locals>.", 1)[-1]


_CALL_OPS = {"LOAD_METHOD", "LOAD_ATTR", "PUSH_NULL", "PRECALL", "CALL", "KW_NAMES", "CACHE",
             "NOP", "RESUME", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL", "NOT_TAKEN"}
_JUMPS = set(dis.hasjrel) | set(dis.hasjabs)


def _gist(code):
    out = []
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in ("LOAD_METHOD", "LOAD_ATTR"):
            out.append(("attribute", ins.argval))
        elif op in _CALL_OPS:
            continue
        elif "_FAST" in op and op.startswith(("LOAD_FAST", "STORE_FAST")):
            vals = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            out += list(zip((f"{k}_FAST" for k in re.findall(r"(LOAD|STORE)_FAST", op)),
                            vals))
        elif ins.opcode in _JUMPS:
            out.append((op, None))
        elif isinstance(ins.argval, types.CodeType):
            out.append((op, _gist(ins.argval)))
        else:
            value = ins.argval
            if isinstance(value, str) and ".<locals>." in value:
                value = value.rsplit(".<locals>.", 1)[1]    # a class's qualified name
            out.append((op, type(value), value if value == value else "nan"))
    return out


_INDENT = " \t\f"          # the characters the tokenizer reads as indentation


def _def_block(lines, lnum):
    """What ``inspect.getblock(lines[lnum:])`` gives (with its text, dedented text and
    parsed tree) for a plain ``def`` whose end the indentation tells, without running
    the tokenizer (``getblock`` tokenizes the whole function in pure Python, most of a
    first transformation's parse stage). None when that is not sure; the caller then
    asks ``getblock``.

    The candidate block runs from the ``def`` line to the last line before the first
    line that holds code (not blank, not only a comment) indented no deeper than the
    ``def``, without its trailing blank lines. If such a line is in fact inside the
    function (in a string, in brackets, after a backslash), the candidate stops inside
    a statement and does not parse. If it parses as one function ending on its last
    line (not continued by a backslash), the tokenizer, reading on, would end the block
    at that line too: ``getblock`` ends it after the last logical line, or after a
    comment line indented as the body that follows, and no line follows but blank ones.
    Indentation with tabs or form feeds (the tokenizer counts them in its own way),
    decorators, ``async def`` and lambdas are left to ``getblock``.
    """
    first = lines[lnum]
    body = first.lstrip(_INDENT)
    indent = len(first) - len(body)
    if not body.startswith("def") or body[3:4] not in (" ", "\t") \
            or "\t" in first[:indent] or "\f" in first[:indent]:
        return None
    last = lnum                           # the last line holding more than blanks
    for i in range(lnum + 1, len(lines)):
        line = lines[i]
        rest = line.lstrip(_INDENT)
        if not rest or rest[0] in "\r\n":
            continue
        margin = len(line) - len(rest)
        if "\t" in line[:margin] or "\f" in line[:margin]:
            return None
        if rest[0] != "#" and margin <= indent:
            break
        last = i
    block = lines[lnum:last + 1]
    if block[-1].lstrip(_INDENT)[:1] == "#" or block[-1].rstrip().endswith("\\"):
        return None
    text = "".join(block)
    dedented = textwrap.dedent(text)
    try:
        tree = ast.parse(dedented)
    except (SyntaxError, ValueError):
        return None
    if len(tree.body) != 1 or tree.body[0].__class__ is not ast.FunctionDef \
            or tree.body[0].end_lineno != len(block):
        return None
    return block, text, dedented, tree


_SOURCES = {}    # (file name, first line index) -> _Source


def _source(func):
    """What ``inspect.getsourcelines(func)`` gives, dedented and parsed.

    Finding the end of the block (``inspect.getblock`` tokenizes the function) and
    parsing it are most of this stage, and a function is transformed again for each new
    combination of argument kinds, so the result is kept, keyed by where the block
    starts. It is reused only while ``inspect.findsource`` (which asks ``linecache``
    to drop a file changed on disk) returns the very list of lines it was computed
    from: linecache replaces that list, never edits it, when the file changes.
    """
    obj = func             # its own code, not the function a decorator wrapped (plain)
    lines, lnum = inspect.findsource(obj)
    key = (inspect.getsourcefile(obj) or inspect.getfile(obj), lnum)
    source = _SOURCES.get(key)
    if source is None or source.lines is not lines:
        source = _SOURCES[key] = _Source(lines, lnum)
    return source


def loops_unbounded(func):
    """Whether ``func``'s own body has a loop whose trip count its source does not fix:
    a ``while`` loop, or a ``for`` loop over anything but ``range`` of integer
    constants. Reverse mode's tape grows with such a loop's trip count (``grad``'s
    choice of mode asks, see ``api.GradFunction.choose_mode``). False when the source
    cannot be read (the transformation then reports why)."""
    try:
        tree = _source(func).tree
    except (OSError, TypeError, SyntaxError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.While):
            return True
        if isinstance(node, ast.For):
            it = node.iter
            fixed = (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                     and it.func.id == "range" and not it.keywords
                     and all(isinstance(a, ast.Constant) and type(a.value) is int
                             for a in it.args))
            if not fixed:
                return True
    return False


def returns_no_dict(func):
    """Every ``return`` of ``func``'s own body gives a tuple, list or number display or
    arithmetic, as its source shows (``return a, b``): surely no dict (unpacking what it
    returns needs no check, ``normalize._surely_not_dict``). False when the source
    cannot be read. Kept per code object."""
    return _return_facts(func)[0]


def returned_length(func):
    """``n`` where every ``return`` of ``func``'s own body gives a tuple or list display
    of ``n`` items, none starred (``return a, b``): unpacking what it returns into ``n``
    names needs no count check (``normalize.Normalizer.length_of``). Else (and when the
    source cannot be read) None. Kept per code object."""
    return _return_facts(func)[1]


def _return_facts(func):
    """(``returns_no_dict``, ``returned_length``) of ``func``."""
    code = getattr(func, "__code__", None)
    if code is None:
        return False, None
    hit = _RETURNS_NO_DICT.get(code)
    if hit is not None:
        return hit
    try:
        tree = _source(func).tree
    except Exception:       # noqa: BLE001 - unreadable: the transformation says why
        return False, None
    top = tree.body[0] if tree.body else None
    found, todo = [], list(getattr(top, "body", []))
    for n in todo:          # (the list grows while it is read; not into nested defs)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(n, ast.Return):
            found.append(n.value)
        todo.extend(ast.iter_child_nodes(n))
    no_dict = bool(found) and all(
        v is None or isinstance(v, (ast.Tuple, ast.List, ast.ListComp, ast.Constant,
                                    ast.BinOp, ast.UnaryOp, ast.Compare)) for v in found)
    lengths = {len(v.elts) if isinstance(v, ast.Tuple)
               and not any(isinstance(e, ast.Starred) for e in v.elts) else None
               for v in found}
    length = lengths.pop() if len(lengths) == 1 else None
    hit = _RETURNS_NO_DICT[code] = (no_dict, length)
    return hit


def attribute_reads(func):
    """Parameter name -> the names of its attributes ``func`` reads as ``p.name`` (sorted),
    for each parameter ``p`` its body uses only that way: never assigned, called as
    ``p.f(...)`` or ``p.name(...)``, passed, copied, stored into (``p.name = v``,
    ``del p.name``), nor a parameter of a function or lambda defined inside. The values of
    these attributes at call time then have kinds of their own (``api.attribute_kinds``):
    nothing in the function can rebind them. Empty when the source cannot be read, and for
    lambdas."""
    return _reads_of(func, _READS, "reads", other_reads=False)


def field_reads(func):
    """Parameter name -> the names of its attributes ``func`` reads as ``p.name`` (sorted,
    not called), for each parameter ``p`` its body never rebinds (assigned, a loop or
    ``with`` target, deleted, stored into, a parameter of a function or lambda defined
    inside, global or nonlocal) but may read any other way too (``p[0]``, ``len(p)``,
    passed on). For a named tuple argument these are its fields, the items ``p[i]`` its
    type fixes (``api.attribute_kinds``), whatever else reads ``p``: a tuple cannot
    change. Empty when the source cannot be read, and for lambdas."""
    return _reads_of(func, _FIELD_READS, "fields", other_reads=True)


def _reads_of(func, cache, slot, other_reads):
    """``_attribute_reads`` of ``func``'s source, kept in ``cache`` (by code object) and
    in the parsed source's ``slot``."""
    if not inspect.isfunction(func) or func.__name__ == "<lambda>":
        return {}
    code = func.__code__
    hit = cache.get(code)
    if hit is not None:
        return hit
    try:
        source = _source(func)
    except Exception:       # noqa: BLE001 - unreadable: the transformation says why
        return {}
    if getattr(source, slot) is None:
        setattr(source, slot, _attribute_reads(source.tree, other_reads=other_reads))
    cache[code] = getattr(source, slot)
    return cache[code]


# code object -> attribute_reads, asked again on every call of jvp, vjp, ... (reading
# the source each time costs more than the call); as the generated code, it is not
# made again when the file changes on disk but the function is not defined again
_READS = weakref.WeakKeyDictionary()
_FIELD_READS = weakref.WeakKeyDictionary()       # code object -> field_reads
_RETURNS_NO_DICT = weakref.WeakKeyDictionary()   # code object -> _return_facts


def _attribute_reads(tree, other_reads=False):
    """``attribute_reads`` of the parsed function; with ``other_reads``, ``field_reads``
    (a parameter may be read other ways too, never rebound)."""
    fdef = tree.body[0] if tree.body else None
    if not isinstance(fdef, ast.FunctionDef):
        return {}
    a = fdef.args
    params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
    reads = {p: set() for p in params}
    spoiled = set()
    callees = set()             # id of each p.name called as a function
    body = [n for s in fdef.body for n in ast.walk(s)]      # not the defaults
    for node in body:
        cls = node.__class__
        if cls is ast.Name and node.id == "super" and a.posonlyargs + a.args:
            spoiled.add((a.posonlyargs + a.args)[0].arg)    # super() reads self
        if cls is ast.Call:
            callees.add(id(node.func))
        elif cls in (ast.FunctionDef, ast.Lambda, ast.AsyncFunctionDef):
            b = node.args
            spoiled.update(p.arg for p in b.posonlyargs + b.args + b.kwonlyargs
                           + [b.vararg, b.kwarg] if p is not None)
    bases = set()               # id of each Name read as the base of p.name
    for node in body:
        cls = node.__class__
        if cls is ast.Attribute and node.value.__class__ is ast.Name \
                and node.value.id in params:
            if node.ctx.__class__ is ast.Load and id(node) not in callees:
                reads[node.value.id].add(node.attr)
                bases.add(id(node.value))
            elif other_reads and node.ctx.__class__ is ast.Load:
                bases.add(id(node.value))       # p.f(...): a read of p, not of a field
            else:
                spoiled.add(node.value.id)
        elif cls is ast.Name and node.id in params and id(node) not in bases:
            # (ast.walk gives the Attribute before its base)
            if not (other_reads and node.ctx.__class__ is ast.Load):
                spoiled.add(node.id)
        elif cls in (ast.Global, ast.Nonlocal):
            spoiled.update(node.names)
    return {p: tuple(sorted(attrs)) for p, attrs in reads.items() if attrs and p not in spoiled}


def _lambda_as_def(module, func, ctx):
    """``f = lambda a, b: expr`` as ``def <lambda>(a, b): return expr``."""
    code = func.__code__
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    candidates = [node for node in gast.walk(module) if isinstance(node, gast.Lambda)
                  and node.lineno == code.co_firstlineno
                  and [a.id for a in node.args.args + node.args.kwonlyargs] == names]
    if len(candidates) > 1:
        raise errors.unsupported(candidates[1], ctx, "Lambda",
                                 "several lambdas on one line cannot be told apart")
    for node in candidates:
        if True:
            ret = gast.copy_location(gast.Return(value=node.body), node.body)
            label = "lambda"
            for parent in gast.walk(module):   # name it after the variable it is assigned to
                if isinstance(parent, gast.Assign) and parent.value is node \
                        and isinstance(parent.targets[0], gast.Name):
                    label = parent.targets[0].id
            fdef = gast.FunctionDef(name=label, args=node.args, body=[ret],
                                    decorator_list=[], returns=None, type_comment=None,
                                    type_params=[])
            return gast.copy_location(fdef, node)
    raise errors.source_unavailable(func, "the lambda could not be found in its source line")


def to_gast(tree, lines=0):
    """``gast.increment_lineno(gast.ast_to_gast(tree), lines)``, faster.

    ``gast.ast_to_gast`` is a generic visitor; the nodes whose fields are the same in
    ``ast`` and ``gast`` are converted here directly, with what it gives them (the
    fields, the location, moved down ``lines`` lines). Others go through gast.
    The fields and locations are read from the node's ``__dict__``, where the parser
    puts them (``getattr`` is the fallback for a node built without some of them); a
    ``Name`` as the parser makes it (its two fields and four locations, nothing else)
    is copied in one update.
    """
    cls = tree.__class__
    plan = _SAME.get(cls)
    if plan is None:
        if cls is ast.FunctionDef:
            shell = ast.copy_location(
                ast.FunctionDef(**{f: getattr(tree, f) for f in tree._fields}), tree)
            shell.body = []
            new = to_gast_slow(shell, lines)
            new.body = [to_gast(s, lines) for s in tree.body]
            return new
        return to_gast_slow(tree, lines)
    gcls, fields, attributes, has_lineno, has_end_lineno = plan
    td = tree.__dict__
    new = gcls.__new__(gcls)
    d = new.__dict__
    if cls is ast.Name:         # gast's Name has two more fields, always None here
        if td.keys() == _PARSED_NAME:     # as the parser makes it: copied in one update
            d.update(td)
            ctx_cls = _SAME[td["ctx"].__class__][0]
            d["ctx"] = ctx_cls.__new__(ctx_cls)
            d["annotation"] = None
            d["type_comment"] = None
            d["lineno"] = (d["lineno"] or 0) + lines
            d["end_lineno"] = (d["end_lineno"] or 0) + lines
            return new
        d["id"] = td["id"] if "id" in td else tree.id
        ctx = td["ctx"] if "ctx" in td else tree.ctx
        ctx_cls = _SAME[ctx.__class__][0]
        d["ctx"] = ctx_cls.__new__(ctx_cls)
        d["annotation"] = None
        d["type_comment"] = None
    else:
        for f in fields:
            v = td[f] if f in td else getattr(tree, f)
            if v.__class__ is list:
                v = [to_gast(x, lines) if isinstance(x, ast.AST) else x for x in v]
            elif isinstance(v, ast.AST):
                v = to_gast(v, lines)
            d[f] = v
        if not d and not attributes:
            return new                  # contexts and operators
    for attr in attributes:
        if attr in td:
            d[attr] = td[attr]
        elif hasattr(tree, attr):
            d[attr] = getattr(tree, attr)
    if has_lineno:
        d["lineno"] = (d.get("lineno", 0) or 0) + lines
    if has_end_lineno:
        d["end_lineno"] = (d.get("end_lineno", 0) or 0) + lines
    return new


_PARSED_NAME = frozenset(("id", "ctx", "lineno", "col_offset", "end_lineno", "end_col_offset"))


def to_gast_slow(tree, lines):
    return gast.increment_lineno(gast.ast_to_gast(tree), lines)


def _same_fields():
    out = {}
    for name in ("Module", "Name", "Constant", "BinOp", "UnaryOp", "BoolOp", "Compare", "Call",
                 "keyword", "Attribute", "Subscript", "Tuple", "List", "Slice", "IfExp",
                 "Assign", "AugAssign", "Expr", "Return", "If", "For", "While", "Pass",
                 "Break", "Continue", "Assert", "Raise", "Load", "Store", "Del", "Add", "Sub",
                 "Mult", "MatMult", "Div", "Mod", "Pow", "LShift", "RShift", "BitOr", "BitXor",
                 "BitAnd", "FloorDiv", "Invert", "Not", "UAdd", "USub", "And", "Or", "Eq",
                 "NotEq", "Lt", "LtE", "Gt", "GtE", "Is", "IsNot", "In", "NotIn"):
        a, g = getattr(ast, name, None), getattr(gast, name, None)
        if a is not None and g is not None and (a._fields == g._fields or a is ast.Name) \
                and set(a._attributes) <= set(g._attributes) | {"lineno"}:
            # (gast class, fields, location attributes, whether it has the line
            # attributes to move)
            out[a] = (g, a._fields, a._attributes,
                      "lineno" in g._attributes, "end_lineno" in g._attributes)
    return out


_SAME = _same_fields()
