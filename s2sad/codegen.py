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
    pyast = _NegativeConstants().visit(gast.gast_to_ast(module))
    return ast.unparse(ast.fix_missing_locations(pyast)) + "\n"


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


def compile_functions(text, ctx):
    """Compile the generated source; return its functions bound to the user's globals.

    The defs are wrapped, for compilation only, in a factory whose parameters
    are the injected names, so they become closure variables; the line numbers
    stay those of ``text``.
    """
    user = ctx.func
    filename = register(text, f"{ctx.output}_{ctx.name}")
    module = ast.parse(text, filename)
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
    ast.fix_missing_locations(wrapper)
    scratch = {}
    exec(compile(wrapper, filename, "exec"), scratch)
    inners = scratch["_s2sad_factory"](*[ctx.injected.get(n) for n in outer])
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
