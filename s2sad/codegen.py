"""Stage 7: gast -> Python source -> a live function.

The generated function is printed with the standard library's
``ast.unparse`` (clean, minimally parenthesized output; we do not use
astunparse, unmaintained since 2019, which parenthesizes every
subexpression). The text is written to a real file under the s2sad cache
directory and registered in ``linecache`` under that name, so tracebacks,
``inspect.getsource`` and pdb show the generated lines.

Names the generated code needs from s2sad (``np``, ``math``, runtime
helpers) are bound as closure variables; everything else resolves in the
user's module globals, live, exactly as in the user's function.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import os
import tempfile
import types

import gast


class _NegativeConstants(ast.NodeTransformer):
    """``-2.0`` as ``-(2.0)``, as Python's parser builds it: ``ast.unparse`` then puts
    the parentheses ``(-2.0) ** 2`` needs (a negative Constant prints as ``-2.0 ** 2``)."""

    def visit_Constant(self, node):
        v = node.value
        if type(v) in (int, float) and v < 0:
            return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-v))
        return node


def to_source(tree):
    module = tree if isinstance(tree, gast.Module) else gast.Module(body=[tree], type_ignores=[])
    if module.type_ignores:       # never in generated code: the general, slower route
        pyast = _NegativeConstants().visit(gast.gast_to_ast(module))
        return ast.unparse(ast.fix_missing_locations(pyast)) + "\n"
    pyast = ast.Module(body=_stmts(module.body), type_ignores=[])
    return ast.unparse(pyast) + "\n"


# gast -> ast for printing. ``gast.gast_to_ast`` is a generic visitor and the slowest
# step of code generation; the nodes generated code is made of are converted here
# directly, to the tree it would build (plus ``_NegativeConstants``), without source
# locations: ``ast.unparse`` reads none but ``lineno`` of statements that may carry a
# type comment, and only to look it up in the module's (empty) ``type_ignores``.
# Any other node goes through ``gast.gast_to_ast``.

def _conv(node):
    if node is None:
        return None
    return _CONVERT.get(node.__class__, _fallback)(node)


def _list(nodes):
    return [_conv(n) for n in nodes]


def _stmts(stmts):
    return [_CONVERT.get(s.__class__, _fallback)(s) for s in stmts]


def _fallback(node):
    out = _NegativeConstants().visit(gast.gast_to_ast(node))
    return ast.fix_missing_locations(out) if isinstance(out, ast.stmt) else out


def _function_def(node):
    shell = gast.FunctionDef(**{f: getattr(node, f) for f in node._fields if hasattr(node, f)})
    shell.body = []
    gast.copy_location(shell, node)
    out = _fallback(shell)
    out.body = _stmts(node.body)
    return out


def _name(node):
    if node.ctx.__class__ in _SINGLETONS and node.annotation is None:
        return ast.Name(node.id, _SINGLETONS[node.ctx.__class__])
    return _fallback(node)


def _constant(node):
    v = node.value
    if type(v) in (int, float) and v < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-v))
    return ast.Constant(v, node.kind)


def _with_lineno(new, node):
    new.lineno = getattr(node, "lineno", 1)
    return new


_SINGLETONS = {getattr(gast, n): getattr(ast, n)() for n in (
    "Load", "Store", "Del", "Add", "Sub", "Mult", "MatMult", "Div", "Mod", "Pow", "LShift",
    "RShift", "BitOr", "BitXor", "BitAnd", "FloorDiv", "Invert", "Not", "UAdd", "USub", "And",
    "Or", "Eq", "NotEq", "Lt", "LtE", "Gt", "GtE", "Is", "IsNot", "In", "NotIn", "Pass",
    "Break", "Continue")}

# Nodes are built with positional arguments, in the order of their ``_fields`` (the
# same in Python 3.10 to 3.13): about twice as fast as keyword arguments. Operators
# and contexts are shared singletons, looked up directly.
_S = _SINGLETONS
_CONVERT = {cls: (lambda node, _v=value: _v) for cls, value in _SINGLETONS.items()}
_CONVERT.update({
    gast.Name: _name,
    gast.Constant: _constant,
    gast.BinOp: lambda n: ast.BinOp(_conv(n.left), _S[n.op.__class__], _conv(n.right)),
    gast.UnaryOp: lambda n: ast.UnaryOp(_S[n.op.__class__], _conv(n.operand)),
    gast.BoolOp: lambda n: ast.BoolOp(_S[n.op.__class__], _list(n.values)),
    gast.Compare: lambda n: ast.Compare(_conv(n.left), _list(n.ops), _list(n.comparators)),
    gast.Call: lambda n: ast.Call(_conv(n.func), _list(n.args), _list(n.keywords)),
    gast.keyword: lambda n: ast.keyword(n.arg, _conv(n.value)),
    gast.Attribute: lambda n: ast.Attribute(_conv(n.value), n.attr, _S[n.ctx.__class__]),
    gast.Subscript: lambda n: ast.Subscript(_conv(n.value), _conv(n.slice), _S[n.ctx.__class__]),
    gast.Slice: lambda n: ast.Slice(_conv(n.lower), _conv(n.upper), _conv(n.step)),
    gast.Tuple: lambda n: ast.Tuple(_list(n.elts), _S[n.ctx.__class__]),
    gast.List: lambda n: ast.List(_list(n.elts), _S[n.ctx.__class__]),
    gast.IfExp: lambda n: ast.IfExp(_conv(n.test), _conv(n.body), _conv(n.orelse)),
    gast.Assign: lambda n: _with_lineno(ast.Assign(_list(n.targets), _conv(n.value)), n),
    gast.AugAssign: lambda n: ast.AugAssign(_conv(n.target), _S[n.op.__class__], _conv(n.value)),
    gast.Expr: lambda n: ast.Expr(_conv(n.value)),
    gast.Return: lambda n: ast.Return(_conv(n.value)),
    gast.If: lambda n: ast.If(_conv(n.test), _stmts(n.body), _stmts(n.orelse)),
    gast.For: lambda n: _with_lineno(ast.For(_conv(n.target), _conv(n.iter), _stmts(n.body),
                                             _stmts(n.orelse), n.type_comment), n),
    gast.While: lambda n: ast.While(_conv(n.test), _stmts(n.body), _stmts(n.orelse)),
    gast.Assert: lambda n: ast.Assert(_conv(n.test), _conv(n.msg)),
    gast.Raise: lambda n: ast.Raise(_conv(n.exc), _conv(n.cause)),
    gast.FunctionDef: _function_def,
})


def cache_dir():
    path = os.environ.get("S2SAD_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "s2sad-generated")
    return path


def register(text, stem):
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    filename = os.path.join(cache_dir(), f"{stem}_{digest}.py")
    try:
        os.makedirs(os.path.dirname(filename), exist_ok=True)
        if not os.path.exists(filename):
            tmp = f"{filename}.{os.getpid()}.tmp"
            with open(tmp, "w") as fh:
                fh.write(text)
            os.replace(tmp, filename)
    except OSError:
        pass      # the linecache entry below is enough for tracebacks and inspect
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    return filename


def _make_args(names):
    return ast.arguments(posonlyargs=[], args=[ast.arg(arg=n) for n in names], vararg=None,
                         kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


def _statements_in_order(body):
    for s in body:
        yield s
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and s.__class__.__name__ != "FunctionDef":
                yield from _statements_in_order(inner)


def _line_map(tree, module):
    """{line of the generated text: line of the user's source} for the statements of
    the gast ``tree`` that carry the user's line (``module``: the text parsed again,
    statement for statement the same tree)."""
    out = {}
    fdefs = tree.body if isinstance(tree, gast.Module) else [tree]
    for fdef, parsed in zip(fdefs, module.body):
        lineno = getattr(fdef, "lineno", None)
        if lineno is not None:
            out[parsed.lineno] = lineno
        for g, a in zip(_statements_in_order(fdef.body), _statements_in_order(parsed.body)):
            lineno = getattr(g, "lineno", None)
            if lineno is not None and g.__class__.__name__ == a.__class__.__name__:
                out[a.lineno] = lineno
    return out


def compile_functions(text, ctx, tree=None):
    """Compile the generated source; return its functions bound to the user's globals.

    The defs are wrapped, for compilation only, in a factory whose parameters
    are the injected names, so they become closure variables; the line numbers
    stay those of ``text``.
    """
    user = ctx.func
    filename = register(text, f"{ctx.output}_{ctx.name}")
    module = ast.parse(text, filename)
    if tree is not None:
        from . import errors
        errors.GENERATED[filename] = (ctx.filename, _line_map(tree, module),
                                      module.body[0].name if module.body else ctx.name)
    defs = module.body
    for fdef in defs:
        fdef.args.defaults = []
        fdef.args.kw_defaults = [None] * len(fdef.args.kw_defaults)
    user_free = set(user.__code__.co_freevars)
    outer = sorted(set(ctx.injected) | user_free)
    names = ast.Tuple(elts=[ast.Name(id=f.name, ctx=ast.Load()) for f in defs], ctx=ast.Load())
    factory = ast.FunctionDef(name="_s2sad_factory", args=_make_args(outer),
                              body=defs + [ast.Return(value=names)],
                              decorator_list=[], returns=None)
    if "type_params" in ast.FunctionDef._fields:
        factory.type_params = []
    wrapper = ast.Module(body=[factory], type_ignores=[])
    # what ast.fix_missing_locations would give the nodes made here (the parsed
    # ones have theirs), without walking the whole parsed tree
    for node in [factory, names, *names.elts, *factory.args.args, factory.body[-1]]:
        node.lineno, node.col_offset, node.end_lineno, node.end_col_offset = 1, 0, 1, 0
    scratch = {}
    exec(compile(wrapper, filename, "exec"), scratch)
    inners = scratch.pop("_s2sad_factory")(*[ctx.injected.get(n) for n in outer])
    user_cells = dict(zip(user.__code__.co_freevars, user.__closure__ or ()))
    out = []
    for fdef, inner in zip(defs, inners):
        cells = [user_cells[n] if n in user_cells else types.CellType(ctx.injected[n])
                 for n in inner.__code__.co_freevars]
        primal_signature = fdef is defs[0]
        func = types.FunctionType(inner.__code__, user.__globals__, fdef.name,
                                  user.__defaults__ if primal_signature else None,
                                  tuple(cells) or None)
        if primal_signature:
            func.__kwdefaults__ = user.__kwdefaults__
        func.__module__ = user.__module__
        out.append(func)
    return out
