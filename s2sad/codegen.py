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

The text itself is compiled (CPython's parser, in C), indented under a factory
``def`` whose parameters are those names; the map from generated lines to the
user's lines (located errors) comes from how ``ast.unparse`` lays statements
out (``_Layout``). What it does not lay out, and defs with default values, go
the general route: the text parsed back into a tree, compiled from that.
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


def _fill_empty_bodies(stmts):
    """A ``pass`` in each block left empty (the user's ``for i in range(n): pass``, its
    ``pass`` dropped by the normal form: with ``optimize=False`` the text had a ``for``
    with no body, a bare IndentationError). In the tree, so that the line map
    (``_Layout``) counts its line."""
    for s in stmts:
        if isinstance(s, (gast.For, gast.While, gast.If, gast.FunctionDef)):
            if not s.body:
                s.body.append(gast.Pass())
            _fill_empty_bodies(s.body)
            if not isinstance(s, gast.FunctionDef):
                _fill_empty_bodies(s.orelse)


def to_source(tree):
    module = tree if isinstance(tree, gast.Module) else gast.Module(body=[tree], type_ignores=[])
    _fill_empty_bodies(module.body)
    if module.type_ignores:       # never in generated code: the general, slower route
        pyast = _NegativeConstants().visit(gast.gast_to_ast(module))
        return ast.unparse(ast.fix_missing_locations(pyast)) + "\n"
    pyast = ast.Module(body=_stmts(module.body), type_ignores=[])
    return _unparse(pyast) + "\n"


# ``ast.unparse``'s printer spends most of its time in a few visitors (binary
# operations, names, assignments, calls: nine in ten nodes of generated code), in
# the context managers and enum lookups they use to decide on parentheses. Those are
# written again below, each printing exactly what the original prints (the
# parentheses decided by the same precedences, kept in the same dict), in half the
# time; every other node is printed by the original. Where the standard library's
# printer is not laid out as in Python 3.10 to 3.13 (``_Unparser`` with these
# tables), ``ast.unparse`` itself is used. Tests compare both on generated code.

_Unparser = getattr(ast, "_Unparser", None)
_Precedence = getattr(ast, "_Precedence", None)


def _binops():
    """Operator class -> (the text between the operands, its precedence, the
    precedences given to the left and right operands), as ``visit_BinOp`` finds them."""
    out = {}
    for cls_name, op in _Unparser.binop.items():
        prec = _Unparser.binop_precedence[op]
        if op in _Unparser.binop_rassoc:
            sides = (prec.next(), prec)
        else:
            sides = (prec, prec.next())
        out[getattr(ast, cls_name)] = (f" {op} ", prec) + sides
    return out


try:
    _BINOPS = _binops()
    _TEST, _TUPLE, _ATOM = _Precedence.TEST, _Precedence.TUPLE, _Precedence.ATOM
    _Unparser()._precedences          # noqa: B018 - the attributes the visitors use
    _Unparser()._type_ignores         # noqa: B018
    _Unparser()._indent               # noqa: B018
except Exception:       # another layout of the printer (a later Python)
    _BINOPS = None


if _BINOPS is not None:
    class _Printer(_Unparser):
        """``ast.unparse``'s printer, its most frequent visitors made faster."""

        _visitors = {}      # node class -> its visitor (a function of the class: a
        #                     printer holding bound methods of itself would be a cycle)

        def traverse(self, node):
            if node.__class__ is list:
                for item in node:
                    self.traverse(item)
                return
            visitor = self._visitors.get(node.__class__)
            if visitor is None:
                visitor = self._visitors[node.__class__] = getattr(
                    _Printer, "visit_" + node.__class__.__name__, _Printer.generic_visit)
            visitor(self, node)

        def visit_Name(self, node):
            self._source.append(node.id)

        def visit_BinOp(self, node):
            text, prec, left, right = _BINOPS[node.op.__class__]
            source, precedences = self._source, self._precedences
            parens = precedences.get(node, _TEST) > prec
            if parens:
                source.append("(")
            precedences[node.left] = left
            self.traverse(node.left)
            source.append(text)
            precedences[node.right] = right
            self.traverse(node.right)
            if parens:
                source.append(")")

        def visit_Assign(self, node):
            source = self._source
            if source:
                source.append("\n")
            source.append("    " * self._indent)
            for target in node.targets:
                self._precedences[target] = _TUPLE
                self.traverse(target)
                source.append(" = ")
            self.traverse(node.value)
            comment = node.type_comment
            if self._type_ignores:
                comment = self._type_ignores.get(node.lineno) or comment
            if comment is not None:
                source.append(f" # type: {comment}")

        def visit_Call(self, node):
            source = self._source
            self._precedences[node.func] = _ATOM
            self.traverse(node.func)
            source.append("(")
            comma = False
            for e in node.args:
                if comma:
                    source.append(", ")
                comma = True
                self.traverse(e)
            for e in node.keywords:
                if comma:
                    source.append(", ")
                comma = True
                self.traverse(e)
            source.append(")")

    def _unparse(tree):
        return _Printer().visit(tree)
else:
    _unparse = ast.unparse


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


_NAMES = {}     # (id, gast context class) -> the ast.Name printed for it, see _name
_NAMES_LIMIT = 20000


def _name(node):
    """One ``ast.Name`` per identifier and context, shared by every place that name is
    printed (a third of the nodes of generated code are names): the converted tree is
    only printed, and ``ast.unparse`` (3.10 to 3.13) neither changes a node nor reads
    a ``Name``'s precedence (``set_precedence`` records one in the printer's own dict,
    keyed by node, which only the visitors of operators read, each for its own node).
    Shared across calls and threads; emptied when it grows past ``_NAMES_LIMIT``."""
    if node.annotation is not None:
        return _fallback(node)
    key = (node.id, node.ctx.__class__)
    out = _NAMES.get(key)
    if out is None:
        if key[1] not in _SINGLETONS:
            return _fallback(node)
        if len(_NAMES) >= _NAMES_LIMIT:
            _NAMES.clear()
        out = _NAMES[key] = ast.Name(node.id, _SINGLETONS[key[1]])
    return out


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


CACHE_LIMIT = 2000      # generated files kept in the cache directory, see _prune
_pruned = set()         # the cache directories this process has pruned


def register(text, stem):
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    directory = cache_dir()
    filename = os.path.join(directory, f"{stem}_{digest}.py")
    try:
        os.makedirs(directory, exist_ok=True)
        if directory not in _pruned:
            _prune(directory)
        if not os.path.exists(filename):
            tmp = f"{filename}.{os.getpid()}.tmp"
            with open(tmp, "w") as fh:
                fh.write(text)
            os.replace(tmp, filename)
    except OSError:
        pass      # the linecache entry below is enough for tracebacks and inspect
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    return filename


def _prune(directory):
    """Keep the cache directory from growing without bound, once per process: past
    ``CACHE_LIMIT`` generated files, the oldest go until half that many are left (the
    files serve tools that open them by name; the ``linecache`` entries this process
    made do not need them). A file that another process removes or writes meanwhile
    is skipped."""
    _pruned.add(directory)
    try:
        entries = [e for e in os.scandir(directory) if e.name.endswith(".py")]
        if len(entries) <= CACHE_LIMIT:
            return
        aged = []
        for e in entries:
            try:
                aged.append((e.stat().st_mtime, e.path))
            except OSError:
                pass
        aged.sort()
        for _, path in aged[:len(aged) - CACHE_LIMIT // 2]:
            try:
                os.remove(path)
            except OSError:
                pass
    except OSError:
        pass


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


_HEADERS = {gast.If: ("if ", "elif "), gast.For: ("for ",), gast.While: ("while ",)}


class _Layout:
    """Where ``ast.unparse`` puts each statement of generated functions, found without
    parsing its text again: one line per simple statement and per header (``def``,
    ``if``, ``elif``, ``else``, ``for``, ``while``), a blank line between two ``def``.
    ``lines``: {statement: its line}, or None for what this does not lay out (a
    docstring, a decorator, a ``try``...: the text is then parsed). ``user_lines``:
    {line of the text: line of the user's source} for the statements that carry the
    user's line, found on the same walk (what ``_line_map`` finds by parsing)."""

    def __init__(self, fdefs, text):
        self.lines, self.user_lines, self.headers, line = {}, {}, [], 0
        for k, fdef in enumerate(fdefs):
            if fdef.__class__ is not gast.FunctionDef or fdef.decorator_list \
                    or _docstring(fdef.body):
                self.lines = None
                return
            line += 2 if k else 1
            self.place(fdef, line)
            line = self.block(fdef.body, line)
            if line is None:
                self.lines = None
                return
        text_lines = text.split("\n")
        if line != len(text_lines) - 1 or not all(
                text_lines[at - 1].lstrip().startswith(word) for at, word in self.headers):
            self.lines = None       # not laid out as expected: parse the text

    def place(self, stmt, line):
        self.lines[stmt] = line
        lineno = getattr(stmt, "lineno", None)
        if lineno is not None:
            self.user_lines[line] = lineno

    def block(self, stmts, line):
        lines, user_lines, headers, place = self.lines, self.user_lines, self.headers, self.place
        for s in stmts:
            line += 1
            lines[s] = line                     # place(s, line), inline
            lineno = getattr(s, "lineno", None)
            if lineno is not None:
                user_lines[line] = lineno
            cls = s.__class__
            if cls in _HEADERS:
                headers.append((line, _HEADERS[cls][0]))
                line = self.block(s.body, line)
                if line is None:
                    return None
                orelse = s.orelse
                while cls is gast.If and len(orelse) == 1 and orelse[0].__class__ is gast.If:
                    line += 1           # else: if ... prints as elif
                    place(orelse[0], line)
                    headers.append((line, "elif "))
                    line = self.block(orelse[0].body, line)
                    if line is None:
                        return None
                    orelse = orelse[0].orelse
                if orelse:
                    line += 1           # else:
                    headers.append((line, "else"))
                    line = self.block(orelse, line)
                    if line is None:
                        return None
            elif cls not in _SIMPLE:
                return None
        return line


_SIMPLE = {gast.Assign, gast.AugAssign, gast.Expr, gast.Return, gast.Delete, gast.Pass,
           gast.Break, gast.Continue, gast.Raise, gast.Assert}


def _docstring(body):
    return body and body[0].__class__ is gast.Expr \
        and body[0].value.__class__ is gast.Constant and isinstance(body[0].value.value, str)


def _plain(fdef):
    """The ``def`` needs nothing evaluated when it runs: no default values (they
    would be evaluated in the factory, away from the user's names)."""
    a = fdef.args
    return not a.defaults and not any(d is not None for d in a.kw_defaults) \
        and fdef.returns is None \
        and all(p.annotation is None for p in a.posonlyargs + a.args + a.kwonlyargs) \
        and (a.vararg is None or a.vararg.annotation is None) \
        and (a.kwarg is None or a.kwarg.annotation is None)


def _shifted(code, by):
    """``code`` (and the code nested in it) with every line number moved by ``by``:
    line tables count from ``co_firstlineno``."""
    consts = tuple(_shifted(c, by) if isinstance(c, types.CodeType) else c
                   for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + by, co_consts=consts)


def _codes(module_code, fdefs, by=0):
    """The code objects of the generated functions, from the compiled factory (never
    run: the closure cells are made by ``compile_functions``), lines moved by ``by``."""
    factory = next(c for c in module_code.co_consts if isinstance(c, types.CodeType))
    inner = {c.co_name: c for c in factory.co_consts if isinstance(c, types.CodeType)}
    return [_shifted(inner[f.name], by) if by else inner[f.name] for f in fdefs]


def _compile_text(text, filename, outer, fdefs):
    """Compile ``text`` itself, indented under the factory's ``def`` line: the parser
    in C, no tree of Python objects. The functions' lines come one too low (the
    factory's ``def`` is the first line) and are moved back up."""
    source = (f"def _s2sad_factory({', '.join(outer)}):\n"
              + "".join("    " + line if line.strip() else line
                        for line in text.splitlines(True))
              + f"    return ({', '.join(f.name for f in fdefs)},)\n")
    return _codes(compile(source, filename, "exec"), fdefs, -1)


def compile_functions(text, ctx, tree):
    """Compile the generated source; return its functions bound to the user's globals.

    The defs are wrapped, for compilation only, in a factory whose parameters
    are the injected names, so they become closure variables; the line numbers
    stay those of ``text``.
    """
    user = ctx.func
    filename = register(text, f"{ctx.output}_{ctx.name}")
    from . import errors
    fdefs = tree.body if isinstance(tree, gast.Module) else [tree]
    user_free = set(user.__code__.co_freevars)
    outer = sorted(set(ctx.injected) | user_free)
    layout = _Layout(fdefs, text) if all(_plain(f) for f in fdefs) else None
    if layout is not None and layout.lines is not None:
        errors.GENERATED[filename] = (ctx.filename, layout.user_lines,
                                      fdefs[0].name if fdefs else ctx.name)
        codes = _compile_text(text, filename, outer, fdefs)
    else:
        codes = _compile_tree(text, filename, outer, tree, ctx)
    user_cells = dict(zip(user.__code__.co_freevars, user.__closure__ or ()))
    out = []
    for fdef, code in zip(fdefs, codes):
        cells = [user_cells[n] if n in user_cells else types.CellType(ctx.injected[n])
                 for n in code.co_freevars]
        primal_signature = fdef is fdefs[0]
        func = types.FunctionType(code, user.__globals__, fdef.name,
                                  user.__defaults__ if primal_signature else None,
                                  tuple(cells) or None)
        if primal_signature:
            func.__kwdefaults__ = user.__kwdefaults__
        func.__module__ = user.__module__
        out.append(func)
    return out


def _compile_tree(text, filename, outer, tree, ctx):
    """``text`` parsed again, its defs stripped of their defaults (which the user's
    function supplies) and compiled in the factory: the general route, and where the
    line map comes from when ``_Layout`` cannot tell."""
    from . import errors
    module = ast.parse(text, filename)
    errors.GENERATED[filename] = (ctx.filename, _line_map(tree, module),
                                  module.body[0].name if module.body else ctx.name)
    defs = module.body
    for fdef in defs:
        fdef.args.defaults = []
        fdef.args.kw_defaults = [None] * len(fdef.args.kw_defaults)
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
    return _codes(compile(wrapper, filename, "exec"), tree.body
                  if isinstance(tree, gast.Module) else [tree])
