"""Stage 4: activity analysis and kind inference (on SSA form).

A name is *active* when it depends differentiably on a ``wrt`` parameter
(varied) and the output depends differentiably on it (useful). Only active
names get adjoints; everything else is copied to the forward sweep as is.
Every operation is classified once here (:func:`classify`), so the reverse
pass and the analyses agree on which operands carry derivatives.

Kind inference marks each name ``'S'`` when it surely holds a Python/NumPy
scalar, ``'A<n>'`` (``'A1'``, ``'A2'``, ...) when it holds an array of ``n``
dimensions and ``'A'`` when it may hold an array; the reverse pass drops
``unbroadcast`` and picks scalar rule variants for ``'S'`` results. Indexing an
``'A2'`` with two integers gives an ``'S'`` (``A[i, j]``), with one an ``'A1'``.

This stage also rejects, with located errors, what cannot be differentiated
yet: active values through functions without rules, stores of active values
into array elements, iteration over active values, side-effecting calls on
active values.

With the kinds known, a scalar operation made again becomes a copy of the
first (:mod:`s2sad.cse`), so that the value gets one adjoint. This belongs to
the normal form the derivative is taken of, not to the clean-up of the
generated code: ``optimize=False`` shows the copy.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import inspect
import math
import operator
import os
import sysconfig
from collections import Counter
from dataclasses import dataclass, field

import gast
import numpy as np

from . import anno, cse, errors, runtime, shapes
from .dataflow import closure, reverse_edges
from .gastutil import clone, dotted_name, loads, stores, target_name, walk
from .gastutil import names as name_nodes
from .kinds import DICT_ITEMS, ROW_ITEMS, array_kind, array_ndim, is_array_kind, join_kinds
from .rules import lookup
from .rules.core import MULTILINEAR, tangent_template
from .rules.methods import ATTRIBUTES, DICT_METHODS, METHODS, SEQUENCE_METHODS
from .shapes import callee

BINOPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
          gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
          gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod,
          gast.BitAnd: operator.and_, gast.BitOr: operator.or_, gast.BitXor: operator.xor,
          gast.LShift: operator.lshift, gast.RShift: operator.rshift}
UNARYOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos, gast.Not: operator.not_,
            gast.Invert: operator.invert}
NONDIFF_ATTRS = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "real_dtype"}
SIDE_EFFECT_OK = {builtins.print}
# the predicates of str: ``name.startswith("w")`` of a key of a dict of parameters
# gives a bool, which carries no derivative (in the gradient's own code, transformed
# again for a hessian, the key is an item of a pair the derivative flows through)
STR_PREDICATES = {"startswith", "endswith", "isdigit", "isalpha", "isalnum", "isspace",
                  "isupper", "islower", "isidentifier", "isnumeric", "isdecimal"}


@dataclass
class Op:
    """What one right-hand side does, as far as derivatives are concerned."""
    kind: str                  # copy | pack | rule | call | nondiff | unknown | const
    rule: object = None
    args: list = field(default_factory=list)       # positional atoms (or index nodes)
    keywords: dict = field(default_factory=dict)
    what: str = ""             # readable name of the primitive, for errors
    scalar_result: bool = False  # result is a scalar when every operand is
    func: object = None        # the user function of a 'call'
    keys: list = None          # of a 'pack' making a dict: its constant keys
    _bound: dict = field(default=None, repr=False, compare=False)   # see bind

    def operand_names(self):
        names = set()
        for a in list(self.args) + list(self.keywords.values()):
            names |= loads(a)
        return names

    def diff_names(self):
        """Names whose adjoints this operation contributes to."""
        if self.kind == "rule":
            try:
                mapping = self.bind()
            except TypeError:         # no template fits this call: reported by the checks
                return self.operand_names()
            return {mapping[p].id for p in self.rule.diff_params
                    if isinstance(mapping.get(p), gast.Name)}
        if self.kind in ("copy", "pack", "pop"):
            return {a.id for a in self.args if isinstance(a, gast.Name)}
        if self.kind in ("unknown", "call"):
            return self.operand_names()
        return set()

    def bind(self):
        """Template parameter -> atom (``Rule.bind``), made once: activity analysis,
        its checks and the reverse pass all ask, and only read it (atoms are cloned
        where they are used)."""
        if self._bound is None:
            self._bound = self.rule.bind(self.args, self.keywords)
        return self._bound


def _scalar_rule(prim, module=None):
    """``module``: ``getattr(prim, "__module__", None)``, if at hand."""
    if module is None:
        module = getattr(prim, "__module__", None)
    return (module == "math"
            or isinstance(prim, np.ufunc)
            or prim in (builtins.abs, builtins.max, builtins.min, builtins.float,
                        builtins.int, builtins.round, builtins.len, np.float64, np.float32)
            or module == "_operator")


def classify(value, ctx, kinds=None):
    """Classify the right-hand side ``value`` of an assignment."""
    if isinstance(value, gast.Constant):
        return Op("const")
    if isinstance(value, gast.Name):
        return Op("copy", args=[value])
    if isinstance(value, gast.BinOp):
        sequence = _sequence_op(value, kinds)
        if sequence is not None:
            return sequence
        return _prim(BINOPS.get(type(value.op)), [value.left, value.right], {}, kinds,
                     type(value.op).__name__)
    if isinstance(value, gast.UnaryOp):
        return _prim(UNARYOPS.get(type(value.op)), [value.operand], {}, kinds,
                     type(value.op).__name__)
    if isinstance(value, (gast.Compare, gast.BoolOp, gast.JoinedStr)):
        return Op("nondiff", args=[value])
    if isinstance(value, gast.Call):
        path = dotted_name(value.func)
        head = path.split(".")[0] if path else None
        keywords = {k.arg: k.value for k in value.keywords}
        if isinstance(value.func, gast.Attribute) and isinstance(value.func.value, gast.Name) \
                and value.func.value.id in ctx.local_names and value.func.attr == "pop" \
                and not value.args and not value.keywords:
            return Op("pop", args=[value.func.value], what="list.pop()")
        if isinstance(value.func, gast.Attribute) and isinstance(value.func.value, gast.Name) \
                and value.func.value.id in ctx.local_names and value.func.attr == "_replace" \
                and not value.args and value.keywords and None not in keywords:
            # p._replace(a=v) of a named tuple (checked as the code runs): a pack of p's
            # fields and the ones given
            return Op("pack", args=[value.func.value] + list(keywords.values()),
                      keys=[None] + list(keywords), what="._replace()", func=REPLACE)
        if isinstance(value.func, gast.Attribute) and isinstance(value.func.value, gast.Name) \
                and value.func.value.id in ctx.local_names \
                and (value.func.attr in METHODS or value.func.attr in DICT_METHODS
                     or value.func.attr in SEQUENCE_METHODS):
            prim = METHODS.get(value.func.attr) or DICT_METHODS.get(value.func.attr) \
                or SEQUENCE_METHODS[value.func.attr]
            return _prim(prim, [value.func.value] + list(value.args),
                         keywords, kinds, f"method .{value.func.attr}()")
        if isinstance(value.func, gast.Attribute) and value.func.attr in STR_PREDICATES \
                and isinstance(value.func.value, gast.Name) and head in ctx.local_names:
            return Op("nondiff", args=[value.func.value] + list(value.args))
        if path is None or head in ctx.local_names:
            what = f"method {path}()" if path else "call of a computed function"
            if path and "." not in path and head not in ctx.namer.temps:
                from .aliasing import _user_name
                what = f"call of {_user_name(path, ctx)}(), " + (
                    "a callable passed as an argument" if path in ctx.params
                    else "a callable held in a local name")
            if path and path.endswith(".pop") and (value.args or value.keywords):
                from .aliasing import _user_name
                what = f"method {_user_name(path.split('.')[0], ctx)}.pop(...) of an item " \
                    "other than the last"
            if path and head in ctx.namer.temps:
                what = f"method .{path.split('.', 1)[1]}() of a computed value" if "." in path \
                    else "call of a computed function"
                if head in ctx.super_names and "." in path:
                    what = f"method super().{path.split('.', 1)[1]}()"
            recv = [value.func.value] if isinstance(value.func, gast.Attribute) else []
            return Op("unknown", args=recv + list(value.args), keywords=keywords, what=what)
        try:
            prim = ctx.lookup(path)
        except KeyError:
            return Op("unknown", args=list(value.args), keywords=keywords,
                      what=f"{path} (name not found when the function was transformed)")
        return _prim(prim, list(value.args), keywords, kinds, path)
    if isinstance(value, gast.Attribute):
        if value.attr in NONDIFF_ATTRS:
            return Op("nondiff", args=[value.value])
        if value.attr in ATTRIBUTES and isinstance(value.value, gast.Name) \
                and value.value.id in ctx.local_names:
            return _prim(ATTRIBUTES[value.attr], [value.value], {}, kinds, f".{value.attr}")
        path = dotted_name(value)
        if path and path.split(".")[0] not in ctx.local_names:
            return Op("nondiff", args=[])      # a module constant such as math.pi
        if isinstance(value.value, gast.Name) and _maybe_field(value.value.id, value.attr,
                                                                 ctx, kinds):
            # p.w of a named tuple or a dataclass instance (checked as the code runs,
            # where the class is not known here: runtime.field_adjoint, field_of)
            return _prim(runtime.field, [value.value, gast.Constant(value=value.attr,
                                                                     kind=None)],
                         {}, kinds, f"attribute .{value.attr}")
        return Op("unknown", args=[value.value], what=f"attribute .{value.attr}")
    if isinstance(value, gast.Subscript):
        index = index_expr(value.slice, ctx)
        return _prim(operator.getitem, [value.value, index], {}, kinds, "indexing")
    if isinstance(value, (gast.Tuple, gast.List)):
        return Op("pack", args=list(value.elts), what=f"a {type(value).__name__.lower()}")
    if isinstance(value, gast.Dict):
        if all(isinstance(k, gast.Constant) for k in value.keys):
            return Op("pack", args=list(value.values), what="a dict",
                      keys=[k.value for k in value.keys])
        return Op("unknown", args=list(value.values), what="building a dict")
    return Op("unknown", args=[value], what=type(value).__name__)


_SEQUENCE_KINDS = ("L", "LS")


def _maybe_field(base, attr, ctx, kinds):
    """``base.attr`` may read a field of a record (``runtime.record_fields``): ``base``
    may hold anything (kind ``'A'``, not surely an array, a number or a list), and, for
    a parameter holding an instance of a known class (``ctx.receivers``), that class is
    a named tuple or a dataclass with a field ``attr``."""
    if (kinds or {}).get(base, "A") not in ("A", "AL", "L", "LS"):
        return False
    cls = ctx.receivers.get(base) if base in ctx.params else None
    if cls is None:
        return True
    # (a tuple of classes: the items of a list of objects of several classes)
    for each in cls if isinstance(cls, tuple) else (cls,):
        fields = record_class(each)
        if fields is None or attr not in fields:
            return False
    return True


def record_class(cls):
    """The field names of ``cls``, a named tuple class or a dataclass, else None."""
    if not isinstance(cls, type):
        return None
    if issubclass(cls, tuple):
        fields = getattr(cls, "_fields", None)
        return fields if isinstance(fields, tuple) and hasattr(cls, "_make") else None
    if getattr(cls, "__dataclass_fields__", None) is None:
        return None
    return tuple(f.name for f in dataclasses.fields(cls))


def record_built(cls):
    """Why a call of the record class ``cls`` in the function cannot be differentiated as
    a pack of its fields (its instance might not hold the values it was given), or
    None: a named tuple class must make its instances as ``namedtuple`` does (no
    ``__new__`` or ``__init__`` of its own), a dataclass with the ``__init__`` the
    decorator made and no ``__post_init__``."""
    if issubclass(cls, tuple):
        owner = next(c for c in cls.__mro__ if "_fields" in c.__dict__)
        for c in cls.__mro__:
            if c is owner:
                break
            own = [m for m in ("__new__", "__init__") if m in c.__dict__]
            if own:
                return f"{c.__name__} defines {own[0]}"
        return None
    params = cls.__dict__.get("__dataclass_params__")
    init = cls.__dict__.get("__init__")
    if params is None or init is None or not params.init:
        return f"{cls.__name__} has an __init__ of its own, not the one @dataclass makes"
    code = getattr(init, "__code__", None)
    if code is None or code.co_filename != "<string>":
        return f"{cls.__name__} has an __init__ of its own, not the one @dataclass makes"
    if hasattr(cls, "__post_init__"):
        return f"{cls.__name__} has a __post_init__, which may change the values it is given"
    if cls.__new__ is not object.__new__:
        return f"{cls.__name__} defines __new__"
    return None


def _record_call(cls, args, keywords):
    """[(field, atom), ...] for the call ``cls(*args, **keywords)`` of a record class
    that builds its instance from the values given (``record_built``), in the order of
    its fields, or None (the call is then refused where a value given carries a
    derivative)."""
    if record_built(cls) is not None or any(isinstance(a, gast.Starred) for a in args):
        return None
    fields = record_class(cls)
    try:
        bound = inspect.signature(cls).bind(*args, **keywords)
    except (TypeError, ValueError):
        return None
    if not set(bound.arguments) <= set(fields):         # an InitVar
        return None
    return [(f, bound.arguments[f]) for f in fields if f in bound.arguments]


def _surely_joins(op, kinds_found):
    """``a + b`` or ``a * b`` of operands of these kinds, one a list or tuple, surely
    joins or repeats: ``+`` of two of them, ``*`` by a number (Python's, or its
    TypeError); with an array (or what may be one) NumPy adds or multiplies
    elementwise."""
    if isinstance(op, gast.Add):
        return all(k in _SEQUENCE_KINDS for k in kinds_found)
    return "S" in kinds_found

def _sequence_op(value, kinds):
    """``a + b`` and ``a * n`` (``n * a``) of a surely list or tuple ``a`` (kinds ``L``,
    ``LS``; not ``AL``):
    the primitives ``runtime.concat(a, b)`` and ``runtime.repeat(a, n)``, with rules of
    their own (not those of arithmetic). None for any other binary operation."""
    if kinds is None or not isinstance(value.op, (gast.Add, gast.Mult)):
        return None
    left, right = value.left, value.right
    kinds_found = (_atom_kind(left, kinds), _atom_kind(right, kinds))
    found = [kinds_found[0] in _SEQUENCE_KINDS, kinds_found[1] in _SEQUENCE_KINDS]
    rt = runtime
    if not any(found) and "AL" not in kinds_found:
        return None
    if not any(found) or not _surely_joins(value.op, kinds_found):
        # an item of a list of lists, or a list and an array (NumPy's arithmetic):
        # concatenation or arithmetic, told apart at run time
        prim = rt.add_any if isinstance(value.op, gast.Add) else rt.mul_any
        return _prim(prim, [left, right], {}, kinds, "+ or * of what may be a list")
    if isinstance(value.op, gast.Add):
        return _prim(rt.concat, [left, right], {}, kinds, "concatenation (+)")
    args = [left, right] if found[0] else [right, left]
    return _prim(rt.repeat, args, {}, kinds, "repetition (*)")


def index_expr(index, ctx):
    """The index of a subscript as an expression: ``1:n`` becomes ``slice(1, n, None)``."""
    if isinstance(index, gast.Slice):
        parts = [p if p is not None else gast.Constant(value=None, kind=None)
                 for p in (index.lower, index.upper, index.step)]
        func = gast.Name(id=ctx.inject("slice", builtins.slice), ctx=gast.Load(),
                         annotation=None, type_comment=None)
        return gast.Call(func=func, args=parts, keywords=[])
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[index_expr(e, ctx) for e in index.elts], ctx=gast.Load())
    return index


_FULL_REDUCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var,
                    np.std, np.linalg.norm, np.nansum, np.nanmean}


_ITEM_REDUCTIONS = {builtins.min, builtins.max, builtins.sum}
# runtime helpers whose value has the shape of their second argument (an operand)
_OPERAND_SHAPED = (runtime.unbroadcast, runtime.sum_adjoint, runtime.getitem_adjoint,
                   runtime.checked_adjoint)
# functions whose result is a number when their arguments are as _point_value says
_POINT_VALUES = {np.polyval, np.interp, np.median, np.quantile, np.percentile}


def _point_value(prim, args, keywords, kinds):
    """``np.polyval(p, x)`` of a 1-D ``p`` and a number ``x``, ``np.interp(x, xp, fp)``
    of a number ``x``, ``np.median(v)``, ``np.quantile(v, q)``, ``np.percentile(v, q)``
    of a number ``q``, without keywords: a NumPy scalar, which shares no memory."""
    if keywords:
        return False
    kind = [_atom_kind(a, kinds) for a in args]
    if prim is np.polyval:
        return len(args) == 2 and kind[0] in ("A1", "LS") and kind[1] == "S"
    if prim is np.interp:
        return len(args) == 3 and kind[0] == "S"
    if prim is np.median:
        return len(args) == 1 and (kind[0] == "LS" or is_array_kind(kind[0]))
    return len(args) == 2 and (kind[0] == "LS" or is_array_kind(kind[0])) and kind[1] == "S"


REPLACE = "replace"     # Op.func of a pack made by dataclasses.replace or p._replace
_MAYBE_SEQUENCE_KINDS = ("L", "LS", "AL")


def _prim(prim, args, keywords, kinds, what):
    if prim is None:
        return Op("unknown", args=args, keywords=keywords, what=what)
    if prim is dataclasses.replace and len(args) == 1 and keywords \
            and not isinstance(args[0], gast.Starred) and None not in keywords:
        # dataclasses.replace(p, w=v): a pack of p's fields and the ones given
        return Op("pack", args=args + list(keywords.values()), keys=[None] + list(keywords),
                  what=f"{what}()", func=REPLACE)
    all_scalar = kinds is not None
    if all_scalar:
        for a in args:
            if _atom_kind(a, kinds) != "S":
                all_scalar = False
                break
        if all_scalar and keywords:
            all_scalar = all(_atom_kind(a, kinds) == "S" for a in keywords.values())
    # max(t1, t2) of tuples (compared item by item): the rule for lists and tuples
    sequence_args = not all_scalar and kinds is not None and any(
        _atom_kind(a, kinds) in _MAYBE_SEQUENCE_KINDS for a in args)
    rule = lookup(prim, all_scalar, args, keywords, sequence_args)
    pretty = what
    module = getattr(prim, "__module__", None)
    scalar_result = all_scalar and _scalar_rule(prim, module)
    if module == "math" and prim is not math.prod:
        scalar_result = True
    if prim in _FULL_REDUCTIONS and len(args) == 1 and not keywords \
            and (_atom_kind(args[0], kinds or {}) == "LS"
                 or is_array_kind(_atom_kind(args[0], kinds or {}))):
        scalar_result = True        # np.sum(x) of an array (no axis) is a number
    elif prim in _ITEM_REDUCTIONS and len(args) == 1 and not keywords \
            and _atom_kind(args[0], kinds or {}) in ("LS", "A1"):
        scalar_result = True        # min(xs), max(xs), sum(xs) of numbers: a number
    elif prim in _POINT_VALUES and _point_value(prim, args, keywords, kinds or {}):
        scalar_result = True        # np.polyval(p, 0.5), np.median(v), ...: a number
    if rule == "nondiff":
        return Op("nondiff", args=args, keywords=keywords, what=pretty,
                  scalar_result=scalar_result)
    if rule is None:
        if is_user_function(prim) or type(prim).__name__ in ("CustomVJP", "GradFunction",
                                                              "JVPFunction"):
            return Op("call", func=prim, args=args, keywords=keywords, what=pretty)
        if isinstance(prim, type) and record_class(prim) is not None:
            fields = _record_call(prim, args, keywords)
            if fields is not None:          # P(x, y), Params(w=w): a pack of fields
                return Op("pack", args=[a for _, a in fields], keys=[f for f, _ in fields],
                          what=f"{what}(...)", func=prim)
            why = record_built(prim) or "a call binding no field, or an InitVar"
            pretty = f"{what}(...), a record built in the function: {why}"
        return Op("unknown", args=args, keywords=keywords, what=pretty)
    return Op("rule", rule=rule, args=args, keywords=keywords, what=pretty,
              scalar_result=scalar_result)


_TRANSFORMABLE_HELPERS = {"s2sad.runtime", "s2sad.rules.numpy_helpers"}
_LIBRARY_ROOTS = {"numpy", "scipy", "math", "builtins", "s2sad", "jax", "torch", "autograd"}


def is_user_function(fn):
    """A Python function of the user's own code, which s2sad transforms too."""
    if not inspect.isfunction(fn):
        return False
    full = getattr(fn, "__module__", None) or ""
    if full in _TRANSFORMABLE_HELPERS:      # our own helpers: differentiated like user code
        return True
    module = full.split(".")[0]
    if module in _LIBRARY_ROOTS:
        return False
    filename = fn.__code__.co_filename
    return not any(filename.startswith(p) for p in _library_dirs())


@functools.lru_cache(maxsize=1)
def _library_dirs():
    paths = sysconfig.get_paths()
    return tuple({os.path.realpath(paths[k]) + os.sep for k in ("stdlib", "purelib", "platlib")}
                 | {paths[k] + os.sep for k in ("stdlib", "purelib", "platlib")})


def _atom_kind(atom, kinds):
    cls = atom.__class__            # (gast has no subclasses of its node classes)
    if cls is gast.Name:
        return kinds.get(atom.id, "A")
    if cls is gast.Constant:
        return "S" if isinstance(atom.value, (int, float, bool)) else "A"
    return "A"


def walk_stmts(stmts):
    for s in stmts:
        yield s
        if isinstance(s, (gast.If, gast.For, gast.While)):
            yield from walk_stmts(s.body)
            yield from walk_stmts(s.orelse)


def infer_kinds(tree, ctx, stmts=None, ops=None, reads=None, targets=None):
    """'S' for names that surely hold scalars, 'A' for possible arrays; 'A1' for 1-D
    arrays, 'A2' for 2-D ones ('A<n>', n >= 1), 'LS' for lists and tuples of scalars,
    'L' for other lists and tuples, and 'AL' for what may or may not be a list or
    tuple (an item popped off a list).

    ``stmts``: the statements of ``tree`` as ``walk_stmts`` gives them, if at hand.
    ``ops``, a dict, receives ``id(value) -> (value, Op)`` for the right-hand sides
    classified on the way, each as ``classify(value, ctx, kinds)`` with the kinds
    returned gives it (see below), except calls of user functions (``return_kind``
    changes their Op). ``reads``, if given: ``id(assignment) -> the names its value
    reads`` for the assignments to a name (as ``run`` found them); ``targets``, with
    ``stmts``: the ``target_name`` of each.

    The kinds are a fixpoint: each pass joins every definition's kind into its
    target's. A definition's kind depends only on the kinds of the names in its value
    (and on the unchanging context), so a definition none of whose names changed kind
    since it was last evaluated would give the same kind again, which joined changes
    nothing: it is skipped. The passes thus change the same kinds in the same order as
    evaluating everything each time. When no pass changes anything, every
    definition's last evaluation saw the final kinds of its names, hence the Ops.
    """
    kinds = {p: ctx.kinds.get(p, "A") for p in ctx.params}
    defs = []
    known = set(ctx.params)     # names whose kind is set before the passes
    if stmts is None:
        stmts = list(walk_stmts(tree.body))
    if targets is None:
        targets = [target_name(s) for s in stmts]
    for s, t in zip(stmts, targets):
        if t is not None:
            deps = reads.get(id(s)) if reads is not None else None
            if deps is None:
                deps = {n.id for n in name_nodes(s.value)}
            defs.append((t, s.value, deps))
            kinds.setdefault(t, "S")
        elif s.__class__ is gast.Expr and _is_append(s, ctx) \
                or s.__class__ is gast.Assign and s.targets[0].__class__ is gast.Subscript \
                and s.targets[0].value.__class__ is gast.Name:
            # lst.append(v), lst[i] = v: the list holds v (an 'LS' list an array: 'L')
            lst, item = (s.value.func.value.id, s.value.args[0]) if s.__class__ is gast.Expr \
                else (s.targets[0].value.id, s.value)
            deps = {lst} | ({item.id} if item.__class__ is gast.Name else set())
            defs.append((lst, _Held(lst, item), deps))
        elif isinstance(s, gast.For):
            it = s.iter
            is_range = isinstance(it, gast.Call) and dotted_name(it.func) == "range"
            kinds[s.target.id] = "S" if is_range else "A"
            known.add(s.target.id)
    # a name no definition of which was evaluated yet has no kind: a definition reading
    # it waits (else the placeholder 'S' would join in: buf_2 = buf, a copy around a
    # loop of a name bound to an array in it, made buf_2 'A' rather than 'A1')
    unknown = {t for t, _, _ in defs} - known
    bools = _maybe_bools(defs, ctx)
    literals = _sequence_literals(defs, ctx)
    if literals:        # np.concatenate(t), t[i] depend on the kinds of t's items too
        defs = [(t, v, deps | {n.id for a in v.args if isinstance(a, gast.Name)
                               and a.id in literals for n in name_nodes(literals[a.id])})
                if isinstance(v, gast.Call) and deps & literals.keys() else
                (t, v, deps | {n.id for n in name_nodes(literals[v.value.id])})
                if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name)
                and v.value.id in literals else (t, v, deps)
                for t, v, deps in defs]
    records = _record_literals(defs, ctx)
    if records:         # p.a of p = P(x, y) has the kind of x
        defs = [(t, v, deps | {n.id for n in name_nodes(records[v.value.id][v.attr])})
                if isinstance(v, gast.Attribute) and isinstance(v.value, gast.Name)
                and v.attr in records.get(v.value.id, ()) else (t, v, deps)
                for t, v, deps in defs]
        literals = dict(literals, **{_RECORD_KEY: records})
    rows = _row_lists(tree, ctx, kinds, defs)
    if rows:            # points[i] of a list argument of rows of scalars is an 'LS'
        literals = dict(literals, **{_ROW_LISTS_KEY: rows})
    scalar_dicts, stores = _scalar_item_dicts(tree, ctx, kinds, defs)
    start, unknown_at_start = dict(kinds), set(unknown)
    while True:
        found = _kind_fixpoint(defs, dict(start), set(unknown_at_start), ctx, ops, bools,
                               dict(literals, **{_SCALAR_DICTS_KEY: scalar_dicts,
                                                 _DICT_LOOPS_KEY: _scalar_dict_loops(
                                                     defs, scalar_dicts, ctx)})
                               if scalar_dicts else literals)
        # a copy of a dict argument of scalars (copy_of) stays one if every value
        # stored into it is a scalar; else its items are anything: the kinds again
        bad = {d for d, v in stores if d in scalar_dicts and _atom_kind(v, found) != "S"}
        if not bad:
            ctx.scalar_item_dicts = scalar_dicts
            return found
        scalar_dicts = scalar_dicts - bad
        if ops is not None:
            ops.clear()


def _kind_fixpoint(defs, kinds, unknown, ctx, ops, bools, literals):
    """The kinds of ``infer_kinds``, from the parameters' (``kinds``), ``unknown``: the
    names no definition of which was evaluated yet."""
    changed = True
    seen = set()
    changed_at = {}        # name -> number of the last evaluation that changed its kind
    evaluated_at = {}      # index of a definition -> number of its last evaluation
    clock = 0
    while changed:
        changed = False
        for i, (t, value, deps) in enumerate(defs):
            if isinstance(value, gast.Constant) and value.value is None:
                continue            # "not yet defined" markers carry no kind
            last = evaluated_at.get(i)
            if last is not None:
                for n in deps:
                    if changed_at.get(n, -1) >= last:
                        break           # a name it reads changed since: evaluated again
                else:
                    continue
            if unknown and not deps.isdisjoint(unknown):
                continue            # evaluated once what it reads has a kind
            clock += 1
            evaluated_at[i] = clock
            k = value.kind(kinds) if value.__class__ is _Held \
                else _kind_of_value(value, ctx, kinds, ops, bools, literals)
            first = t not in seen
            new = k if first else join_kinds(kinds[t], k)
            seen.add(t)
            unknown.discard(t)
            if new != kinds[t] or first:
                kinds[t] = new
                changed_at[t] = clock
                changed = True
    return kinds


class _Held:
    """A definition ``infer_kinds`` joins into a list's kind: the list ``lst`` holds
    ``item`` (``lst.append(item)``, ``lst[i] = item``). A list of scalars holding
    anything but a scalar is another list ('L'); any other kind stays as it is."""

    def __init__(self, lst, item):
        self.lst, self.item = lst, item

    def kind(self, kinds):
        k = kinds.get(self.lst, "A")
        if k == "LS" and _atom_kind(self.item, kinds) != "S":
            return "L"
        return k


_BOOL_OPS = (gast.BitAnd, gast.BitOr, gast.BitXor)


def _maybe_bools(defs, ctx):
    """The names that may hold a bool: made by a comparison, ``not``, ``and``/``or``,
    ``bool()``, ``True``/``False``, ``&``/``|``/``^`` of such names, or a copy of one
    (SSA's at joins and loop headers). ``defs``: (target, value, names read) of
    every assignment."""
    out = set()
    derived = []            # copies and bitwise operations: bools if what they read is
    for t, value, deps in defs:
        cls = value.__class__
        if cls is gast.Compare or cls is gast.BoolOp \
                or (cls is gast.UnaryOp and value.op.__class__ is gast.Not) \
                or (cls is gast.Constant and type(value.value) is bool) \
                or (cls is gast.Call and _is_bool_maker(callee(value, ctx))):
            out.add(t)
        elif cls is gast.Name or (cls is gast.BinOp and isinstance(value.op, _BOOL_OPS)):
            derived.append((t, deps))
    changed = bool(out) and bool(derived)
    while changed:
        changed = False
        for t, deps in derived:
            if t not in out and not deps.isdisjoint(out):
                out.add(t)
                changed = True
    return out


def _is_bool_maker(fn):
    return fn is builtins.bool or fn is np.bool_


def _is_int_index(index, kinds, bools=()):
    """``index`` is a scalar taken for an integer: a scalar name that no comparison,
    ``not``, ``and``/``or`` or ``bool()`` made (``bools``: NumPy takes ``v[True]`` for
    a mask, which adds a dimension), or an int constant."""
    if isinstance(index, gast.UnaryOp) and isinstance(index.op, gast.USub):
        index = index.operand            # A[-1, j]
    if isinstance(index, gast.Constant):
        return type(index.value) is int
    return isinstance(index, gast.Name) and kinds.get(index.id) == "S" \
        and index.id not in bools


def _indexed_ndim(ndim, index, kinds, bools=()):
    """The number of dimensions of an array of ``ndim`` dimensions indexed by ``index``
    (a subscript's slice), where integers and slices alone make it (``A[i, j]``,
    ``A[i]``, ``A[i, :]``, ``A[1:]``): each integer takes one dimension away, a slice
    keeps one. None for anything else (``None``, ``...``, arrays, lists, too many
    indices)."""
    elts = index.elts if isinstance(index, gast.Tuple) else [index]
    if len(elts) > ndim:
        return None
    ints = 0
    for e in elts:
        if _is_int_index(e, kinds, bools):
            ints += 1
        elif not isinstance(e, gast.Slice):
            return None
    return ndim - ints


def _sequence_literals(defs, ctx=None):
    """Name -> the tuple or list display it is bound to, for names bound once (the
    normal form puts the tuple of ``np.concatenate((u, v))`` in a temporary), and for
    the sequence a loop iterates by (``_seq = as_sequence(t)``) of such a name."""
    count = {}
    for t, _, _ in defs:
        count[t] = count.get(t, 0) + 1
    out = {t: v for t, v, _ in defs if count[t] == 1 and isinstance(v, (gast.Tuple, gast.List))}
    if out and ctx is not None:
        for t, v, _ in defs:
            if count[t] == 1 and isinstance(v, gast.Call) and isinstance(v.func, gast.Name) \
                    and ctx.injected.get(v.func.id) is runtime.as_sequence \
                    and len(v.args) == 1 and isinstance(v.args[0], gast.Name) \
                    and v.args[0].id in out:
                out[t] = out[v.args[0].id]
    return out


_RECORD_KEY = "<records>"     # literals[_RECORD_KEY]: _record_literals (not a name)
_SCALAR_DICTS_KEY = "<scalar dicts>"    # literals[_SCALAR_DICTS_KEY]: _scalar_item_dicts
_ROW_LISTS_KEY = "<row lists>"          # literals[_ROW_LISTS_KEY]: _row_lists


_DICT_VIEWS = ("values", "items", "keys", "get")     # methods reading a dict, no more
_DICT_LOOPS_KEY = "<scalar dict loops>"     # literals[_DICT_LOOPS_KEY]: _scalar_dict_loops


def _scalar_dict_loops(defs, dicts, ctx):
    """(values, pairs) for the loops over the items of the dicts of scalars ``dicts``
    (``_scalar_item_dicts``), each name bound once: ``values``, the names bound to
    ``p.values()``, whose ``as_sequence`` (``for v in p.values()``) is a new list of
    scalars ('LS'); ``pairs``, the names bound to an item of ``as_sequence(p.items())``
    (``for k, v in p.items()``), a (key, scalar) pair whose ``[1]`` is a scalar."""
    count = {}
    for t, _, _ in defs:
        count[t] = count.get(t, 0) + 1
    views = {}
    for t, v, _ in defs:
        if count[t] == 1 and v.__class__ is gast.Call and not v.args and not v.keywords \
                and v.func.__class__ is gast.Attribute and v.func.attr in ("values", "items") \
                and v.func.value.__class__ is gast.Name and v.func.value.id in dicts:
            views[t] = v.func.attr
    if not views:
        return frozenset(), frozenset()
    item_seqs = {t for t, v, _ in defs
                 if count[t] == 1 and _sequence_of(v, views, ctx) == "items"}
    pairs = {t for t, v, _ in defs if count[t] == 1 and v.__class__ is gast.Subscript
             and v.value.__class__ is gast.Name and v.value.id in item_seqs
             and not isinstance(v.slice, gast.Slice)}
    return frozenset(t for t, a in views.items() if a == "values"), frozenset(pairs)


def _sequence_of(v, views, ctx):
    """'values' or 'items' for ``as_sequence(w)`` of a name ``w`` in ``views``, else None."""
    if v.__class__ is gast.Call and len(v.args) == 1 and v.func.__class__ is gast.Name \
            and ctx.injected.get(v.func.id) is runtime.as_sequence \
            and v.args[0].__class__ is gast.Name and v.args[0].id in views:
        return views[v.args[0].id]
    return None


def _makes_list(value, ctx, kinds, kind):
    """``value`` (of kind ``kind``) makes a new list: ``p.copy()`` of a list, or, of kind
    'L' or 'LS', ``list(...)``, ``sorted(...)`` or ``+``/``*`` of a sequence (surely a
    concatenation or a repetition)."""
    f = value.func if value.__class__ is gast.Call else None
    if f.__class__ is gast.Attribute and f.attr == "copy" and not value.args \
            and f.value.__class__ is gast.Name and kinds.get(f.value.id) in ("L", "LS"):
        return True
    if kind not in ("L", "LS"):
        return False
    if f is not None:
        return callee(value, ctx) in (builtins.list, builtins.sorted)
    return value.__class__ is gast.BinOp and value.op.__class__ in (gast.Add, gast.Mult)


def _constants(keywords):
    """Every keyword argument of ``keywords`` is a constant (the counts ``as_sequence``
    checks, ``length=2``, ``items=2``): it passes no value on."""
    return all(k.value.__class__ is gast.Constant for k in keywords)


def _read_uses(tree, found, ctx, helpers, more=None):
    """(uses, allowed) for the names ``found``: every Name node of them in ``tree``,
    and the ids of those read as a container: an item read ``p[k]`` (no slice), the
    one argument of ``len`` or of a runtime helper in ``helpers``; ``more(node, class,
    allowed)`` adds those of the other nodes it allows."""
    allowed, uses = set(), []
    for n in walk(tree):
        cls = n.__class__
        if cls is gast.Name:
            if n.id in found:
                uses.append(n)
        elif cls is gast.Subscript and n.value.__class__ is gast.Name \
                and n.value.id in found and isinstance(n.ctx, gast.Load) \
                and not isinstance(n.slice, gast.Slice):
            allowed.add(id(n.value))
        elif cls is gast.Call and len(n.args) == 1 and _constants(n.keywords) \
                and n.args[0].__class__ is gast.Name and n.args[0].id in found \
                and n.func.__class__ is gast.Name \
                and (ctx.injected.get(n.func.id) in helpers or callee(n, ctx) is builtins.len):
            allowed.add(id(n.args[0]))
        elif more is not None:
            more(n, cls, allowed)
    return uses, allowed


def _row_lists(tree, ctx, kinds, defs):
    """The parameters holding a list or tuple of rows of scalars only (lists or tuples
    of floats and ints: ``ctx.kinds[p + ROW_ITEMS]``, ``api.rows_kind``) that the
    function only reads, and the sequences its loops iterate by (``_seq =
    as_sequence(p)``, bound once): each use of the name is an item read ``p[i]`` (no
    slice), ``len(p)``, or a loop over it (``as_sequence(p)``). So nothing stores into
    the list, appends to it, or lets another name or a call reach it, and an item read
    of it is a row of scalars: an 'LS' (the row itself is not known unchanged: a store
    into it goes through the kinds as into any 'LS' list)."""
    params = {p for p in ctx.params if kinds.get(p) == "L"
              and ctx.kinds.get(p + ROW_ITEMS) == "LS"}
    if not params:
        return frozenset()
    count = {}
    for t, v, _ in defs:
        if v.__class__ is not _Held:
            count[t] = count.get(t, 0) + 1
    seqs = {t for t, v, _ in defs if count.get(t) == 1 and v.__class__ is gast.Call
            and len(v.args) == 1 and _constants(v.keywords) and v.func.__class__ is gast.Name
            and ctx.injected.get(v.func.id) is runtime.as_sequence
            and v.args[0].__class__ is gast.Name and v.args[0].id in params}
    found = params | seqs
    uses, allowed = _read_uses(tree, found, ctx, (runtime.as_sequence,))
    for n in uses:
        if isinstance(n.ctx, gast.Param) or (isinstance(n.ctx, gast.Store) and n.id in seqs):
            continue
        if id(n) not in allowed:
            found.discard(n.id)
    # a sequence of a list no longer found, or a list whose sequence is not: neither
    seqs_of = {t: v.args[0].id for t, v, _ in defs if t in seqs}
    found -= {t for t, p in seqs_of.items() if p not in found}
    found -= {p for t, p in seqs_of.items() if t not in found}
    return frozenset(found)


def _scalar_item_dicts(tree, ctx, kinds, defs):
    """(dicts, stores). ``dicts``: the parameters holding a dict of scalars only
    (``ctx.kinds[p + DICT_ITEMS]``, ``api.dict_kind``) that the function only reads,
    and the private copies of such parameters it writes into (``p_1 = copy_of(p)``,
    bound once). Each use of the name is ``p[k]`` read (no slice), ``p.values()``,
    ``p.items()``, ``p.keys()``, ``p.get(...)``, ``len(p)``, a loop over it
    (``as_sequence(p)``), ``k in p``, a parameter's ``copy_of(p)``, or, for a copy only,
    a store ``p_1[k] = v``: nothing deletes from the dict, or lets another name, a call
    or a callee reach it, and ``p[k]`` is a scalar as long as each value stored is one.
    ``stores``: (copy, value stored) of those stores, for ``infer_kinds`` to check."""
    params = {p for p in ctx.params if kinds.get(p) == "L"
              and ctx.kinds.get(p + DICT_ITEMS) == "S"}
    if not params:
        return frozenset(), []
    count = {}
    for t, v, _ in defs:
        if v.__class__ is not _Held:        # (p_1[k] = v holds v: no binding of p_1)
            count[t] = count.get(t, 0) + 1
    copies = {t: v.args[0].id for t, v, _ in defs if count.get(t) == 1
              and v.__class__ is gast.Call and len(v.args) == 1 and not v.keywords
              and v.func.__class__ is gast.Name
              and ctx.injected.get(v.func.id) is runtime.copy_of
              and v.args[0].__class__ is gast.Name and v.args[0].id in params}
    found = params | set(copies)

    def mine(n):
        return n.__class__ is gast.Name and n.id in found

    stores = []

    def more(n, cls, allowed):
        if cls is gast.Assign:
            t = n.targets[0]
            if len(n.targets) == 1 and t.__class__ is gast.Subscript and mine(t.value) \
                    and t.value.id in copies and not isinstance(t.slice, gast.Slice):
                allowed.add(id(t.value))
                stores.append((t.value.id, n.value))
        elif cls is gast.Call:
            f = n.func
            if f.__class__ is gast.Attribute and mine(f.value) and f.attr in _DICT_VIEWS \
                    and (f.attr == "get" or not n.args) and not n.keywords:
                allowed.add(id(f.value))
        elif cls is gast.Compare:
            for op, c in zip(n.ops, n.comparators):
                if mine(c) and op.__class__ in (gast.In, gast.NotIn):
                    allowed.add(id(c))

    uses, allowed = _read_uses(tree, found, ctx, (runtime.as_sequence, runtime.copy_of),
                               more)
    for n in uses:
        if id(n) not in allowed and not isinstance(n.ctx, (gast.Param, gast.Store)):
            found.discard(n.id)
        elif isinstance(n.ctx, gast.Store) and n.id not in copies:
            found.discard(n.id)
    found -= {c for c, p in copies.items() if p not in found}
    return frozenset(found), stores


def _record_literals(defs, ctx):
    """Name -> {field: atom} for the names bound once to a record built in the function
    (``p = P(x, b=y)`` of a record class, see ``classify``): the fields given."""
    count = {}
    for t, _, _ in defs:
        count[t] = count.get(t, 0) + 1
    out = {}
    for t, v, _ in defs:
        if count[t] == 1 and isinstance(v, gast.Call) and isinstance(v.func, gast.Name):
            try:
                cls = ctx.lookup(v.func.id)
            except KeyError:
                continue
            if isinstance(cls, type) and record_class(cls) is not None:
                fields = _record_call(cls, list(v.args), {k.arg: k.value for k in v.keywords})
                if fields is not None:
                    out[t] = dict(fields)
    return out


def _kind_of_value(value, ctx, kinds, ops=None, bools=(), literals=None):
    cls = value.__class__
    if cls is gast.BinOp or cls is gast.UnaryOp:
        # the most common values, straight to the checks below that can apply to them
        # (the others look for calls, subscripts, attributes...)
        if cls is gast.BinOp and value.op.__class__ in (gast.Add, gast.Mult):
            pair = (_atom_kind(value.left, kinds), _atom_kind(value.right, kinds))
            found = set(pair)
            if ("L" in found or "LS" in found) and _surely_joins(value.op, pair):
                return "L" if "L" in found else "LS"    # concatenation or repetition
            if found & {"L", "LS", "AL"}:   # add_any, mul_any: a list, or arithmetic
                return "AL"
        if _inner_product(value, ctx, kinds):
            return "S"
        return _classified_kind(value, ctx, kinds, ops)
    if isinstance(value, (gast.Constant, gast.Name)):
        return _atom_kind(value, kinds)
    if isinstance(value, (gast.Tuple, gast.List)):
        return "LS" if all(_atom_kind(e, kinds) == "S" for e in value.elts) else "L"
    if isinstance(value, gast.Dict):
        return "L"              # a container read by key
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and value.func.attr == "pop":
        # an item of a list of scalars is a scalar (as lst[i] is), which no store into
        # the list changes (aliasing); of another list, perhaps a list itself
        return "S" if _atom_kind(value.func.value, kinds) == "LS" else "AL"
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) \
            and len(value.args) == 2 and _atom_kind(value.args[0], kinds) == "LS" \
            and _is_int_index(value.args[1], kinds) and callee(value, ctx) is runtime.snapshot:
        return "S"      # _old1 = snapshot(xs, i) of a gradient's store into a list of scalars
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) \
            and ctx.injected.get(value.func.id) is runtime.as_sequence and value.args:
        arg = value.args[0]
        if arg.__class__ is gast.Name and literals and _DICT_LOOPS_KEY in literals \
                and arg.id in literals[_DICT_LOOPS_KEY][0]:
            return "LS"             # list(p.values()) of a dict argument of scalars
        return _atom_kind(arg, kinds)
    if isinstance(value, gast.Subscript):
        base = _atom_kind(value.value, kinds)
        ndim = array_ndim(base)
        if ndim is not None:
            left = _indexed_ndim(ndim, value.slice, kinds, bools)
            return "A" if left is None else array_kind(left)
        if isinstance(value.slice, gast.Slice):
            return base if base in ("L", "LS", "AL") else "A"
        if base == "LS" and _is_int_index(value.slice, kinds):     # t[True] is t[1]
            return "S"
        if base == "L" and value.value.__class__ is gast.Name and value.value.id in \
                (literals or {}).get(_ROW_LISTS_KEY, ()):
            return "LS"             # a row of a list argument of rows of scalars
        if base == "L" and value.value.__class__ is gast.Name and value.value.id in \
                (literals or {}).get(_SCALAR_DICTS_KEY, ()):
            return "S"              # an item of a dict argument of scalars
        if value.value.__class__ is gast.Name and literals and _DICT_LOOPS_KEY in literals \
                and value.value.id in literals[_DICT_LOOPS_KEY][1] \
                and value.slice.__class__ is gast.Constant and type(value.slice.value) is int \
                and value.slice.value in (1, -1):
            return "S"              # v of (k, v) in p.items() of a dict of scalars
        if base == "L" and _is_int_index(value.slice, kinds):
            items = (literals or {}).get(getattr(value.value, "id", None))
            if isinstance(items, gast.Tuple) and items.elts and not any(
                    isinstance(e, gast.Starred) for e in items.elts):
                kind = _atom_kind(items.elts[0], kinds)
                for e in items.elts[1:]:
                    kind = join_kinds(kind, _atom_kind(e, kinds))
                return kind         # an item of a tuple display (which no store
                #                     changes): the join of its items' kinds
            return "AL"             # an item of a container: perhaps a list itself
        if base in ("L", "AL") and value.slice.__class__ is gast.Name:
            return "AL"             # (by an index of unknown kind, _r1[_j] of a range: an
            #                         item perhaps a list, whose adjoints add_adjoints
            #                         adds, never +)
        return "A"
    if isinstance(value, gast.Compare):
        found = [_atom_kind(a, kinds) for a in [value.left] + value.comparators]
        if all(k == "S" for k in found):
            return "S"
        return (len(found) == 2 and _broadcast_kind(found)) or "A"
    if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) \
            and value.attr in (literals or {}).get(_RECORD_KEY, {}).get(value.value.id, ()):
        atom = literals[_RECORD_KEY][value.value.id][value.attr]
        return _atom_kind(atom, kinds)          # p.a of p = P(x, y): x's kind
    if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) \
            and value.value.id in ctx.params:
        # self.W: the kind of the attribute at call time, when the API found that the
        # function only reads attributes of this parameter (parse.attribute_reads)
        found = ctx.kinds.get(f"{value.value.id}.{value.attr}")
        if found == "A" and kinds.get(value.value.id) in ("L", "LS", "AL"):
            return "AL"         # a field of a record: perhaps a list itself
        if found is not None:
            return found
    if isinstance(value, gast.Attribute) and value.attr in _SIZE_ATTRS \
            and isinstance(value.value, gast.Name) \
            and (is_array_kind(kinds.get(value.value.id, "A")) or kinds.get(value.value.id) == "S"):
        return _SIZE_ATTRS[value.attr]      # a.shape is a tuple of ints, a.ndim an int
    fn = None
    if isinstance(value, gast.Call):
        fn = callee(value, ctx)
        size = _size_call(fn)
        if size is not None:
            return size
        if fn in _OPERAND_SHAPED and len(value.args) > 1:
            kind = _atom_kind(value.args[1], kinds)     # (gradient code, differentiated
            if array_ndim(kind) is not None:            # again: shaped like the operand)
                return kind
    container = _helper_container(value, ctx, kinds)
    if container is not None:
        return container
    if fn in (runtime.field_of, runtime.replaced_field):
        return "AL"             # the derivative of a field: perhaps a list
    if fn in (builtins.list, builtins.tuple, builtins.sorted) and len(value.args) == 1 \
            or fn is runtime.in_order and len(value.args) == 2:
        return _items_kind(_atom_kind(value.args[0], kinds))
    if fn is builtins.dict:
        return "L"              # a dict (dict(p): a copy, as p.copy()), as dict arguments
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and value.func.attr == "copy" and not value.args and not value.keywords \
            and isinstance(value.func.value, gast.Name) \
            and kinds.get(value.func.value.id) in ("L", "LS"):
        return kinds[value.func.value.id]       # p.copy() of a list or dict: its kind
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and value.func.attr in DICT_METHODS and not value.args \
            and isinstance(value.func.value, gast.Name) \
            and value.func.value.id in ctx.local_names:
        if value.func.attr == "values" and value.func.value.id in \
                (literals or {}).get(_SCALAR_DICTS_KEY, ()):
            return "LS"         # (runtime.dict_values: a list) of a dict of scalars
        return "L"              # d.items(), d.values(), d.keys(): a sequence, not an array
    made = _made_array(value, ctx, kinds, literals, fn)
    if made is not None:
        return made
    if _inner_product(value, ctx, kinds):
        return "S"
    if (fn is builtins.max or fn is builtins.min) and value.args and not value.keywords:
        found = {_atom_kind(a, kinds) for a in value.args}
        if len(value.args) == 1 and found & {"L", "AL"} \
                or len(value.args) > 1 and found & {"L", "LS", "AL"}:
            return "AL"     # max(pairs), max(t1, t2): an item, perhaps a tuple itself
    return _classified_kind(value, ctx, kinds, ops)


def _classified_kind(value, ctx, kinds, ops):
    """The kind of ``value`` from its classified operation (noted in ``ops``), when
    no rule of ``_kind_of_value`` on the value's form gave one."""
    op = classify(value, ctx, kinds)
    if op.kind == "call":
        from . import pipeline
        return pipeline.return_kind(op, kinds, ctx, value)
    if ops is not None:
        ops[id(value)] = (value, op)
    if op.kind == "pack" and op.func is not None:
        return "L"              # P(x, y) of a record class: a container read by field
    if op.kind == "rule" and op.rule.primitive is runtime.field:
        return "AL"             # a field of a record: perhaps a list itself
    if op.scalar_result:
        return "S"
    return _elementwise_of_arrays(value, op, ctx, kinds) or "A"


# attributes of an array (or a NumPy scalar) that are ints or tuples of ints
_SIZE_ATTRS = {"shape": "LS", "strides": "LS", "ndim": "S", "size": "S", "itemsize": "S",
               "nbytes": "S"}
def _size_call(fn):
    """``'S'`` for a call of ``len``, ``np.ndim``, ``np.size``, ``first_extreme``,
    ``insert_index`` (ints whatever their argument), ``'LS'`` for ``np.shape``; else None."""
    if fn is None:
        return None
    if fn is builtins.len or fn is np.ndim or fn is np.size or fn is runtime.first_extreme \
            or fn is runtime.insert_index:
        return "S"      # (first_extreme: the position min(xs, key=k) picks)
    return "LS" if fn is np.shape else None


_SHAPED = (np.zeros, np.ones, np.empty, np.full, np.arange, np.linspace)
_SHAPED_TUPLE = (np.zeros, np.ones, np.empty, np.full)     # of a shape tuple too
_SHAPED_LIKE = (np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.copy)
# functions of an array that, without an axis, make a 1-D array of its items
_FLAT = (np.cumsum, np.cumprod, np.ravel)
# methods of an array whose result has its shape
_SAME_SHAPE_METHODS = {"copy", "astype", "conj", "conjugate"}


def _made_array(value, ctx, kinds, literals=None, fn=None):
    """The kind ``'A<n>'`` of the array ``value`` surely makes, or None: ``np.zeros(n)``
    (``ones``, ``empty``, ``full``) of a scalar length, or of a tuple of ``n`` scalars
    (``np.zeros((m, k))``: the normal form binds it to a temporary), ``np.arange`` and
    ``np.linspace`` of scalars (1-D), or ``np.zeros_like(v)`` (..., ``np.copy``,
    ``v.copy()``, ``v.astype(t)``, ``np.sort``, ``np.diff``) of an array of known
    dimensions, ``np.cumsum``, ``np.cumprod``, ``np.ravel`` (``v.ravel()``) of one
    (1-D; not of an ``'A'``, which may be an ``np.matrix``), without ``shape=``,
    ``np.array`` of a list of scalars (1-D) or of an array of known dimensions,
    ``np.where`` of such arrays and scalars
    (broadcast), or the copy of an argument the function writes into (``copy_of``).
    Indexing it with as many integers as it has dimensions then gives a scalar, which
    shares no memory (``aliasing``)."""
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and value.func.attr in ("ravel", "flatten") and not value.args \
            and not value.keywords and isinstance(value.func.value, gast.Name) \
            and value.func.value.id in ctx.local_names \
            and array_ndim(_atom_kind(value.func.value, kinds)) is not None:
        return "A1"                                             # a.ravel() of an array
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
            and value.func.attr in _SAME_SHAPE_METHODS \
            and isinstance(value.func.value, gast.Name) \
            and value.func.value.id in ctx.local_names:      # a.copy(), a.astype(t)
        kind = _atom_kind(value.func.value, kinds)
        return kind if array_ndim(kind) is not None else None
    if not (isinstance(value, gast.Call) and value.args
            and not any(k.arg in ("shape", "ndmin") for k in value.keywords)):
        return None
    if fn is None:
        fn = callee(value, ctx)
    if fn is None:
        return None
    try:
        if fn not in _array_makers():       # (most calls: math.sin, np.exp...)
            return None
        if fn in _SHAPED_TUPLE:
            shape = value.args[0]
            if isinstance(shape, gast.Name) and shape.id in (literals or {}):
                shape = literals[shape.id]      # the normal form's temporary
            if isinstance(shape, (gast.Tuple, gast.List)):
                return array_kind(len(shape.elts)) if shape.elts and all(
                    _atom_kind(e, kinds) == "S" for e in shape.elts) else None
        if fn in _SHAPED:
            n = 3 if fn is np.linspace else 1 if fn is not np.arange else len(value.args)
            return "A1" if all(_atom_kind(a, kinds) == "S" for a in value.args[:n]) else None
        rt = runtime
        if fn in _SHAPED_LIKE or fn in (rt.copy_of, rt.owned, rt.zeros_like):
            kind = _atom_kind(value.args[0], kinds)
            return kind if array_ndim(kind) is not None else None
        if fn in _FLAT and len(value.args) == 1 and not value.keywords:
            return "A1" if array_ndim(_atom_kind(value.args[0], kinds)) is not None else None
        if fn in (np.sort, np.diff) and len(value.args) == 1 and not value.keywords:
            kind = _atom_kind(value.args[0], kinds)      # along the last axis
            return kind if array_ndim(kind) is not None else None
        if fn in (np.array, np.asarray) and len(value.args) == 1:
            kind = _atom_kind(value.args[0], kinds)
            return "A1" if kind == "LS" else kind if array_ndim(kind) is not None else None
        if fn is np.where and len(value.args) == 3:     # elementwise choice of arrays
            return _broadcast_kind([_atom_kind(a, kinds) for a in value.args])
        if fn in (np.concatenate, np.hstack, np.append) and not value.keywords:
            return _joined_kind(fn, value.args, kinds, literals or {})
        if fn is np.outer and len(value.args) == 2 and not value.keywords:
            return "A2"                 # (its operands flattened: always a matrix)
        if fn in (np.eye, np.identity) and value.args \
                and all(_atom_kind(a, kinds) == "S" for a in value.args[:2]):
            return "A2"
    except TypeError:                   # an unhashable callable
        return None
    return None


@functools.lru_cache(maxsize=1)
def _array_makers():
    """Every function ``_made_array`` tells the kind of a call of (the others give
    None), as a set."""
    rt = runtime
    return frozenset(_SHAPED_TUPLE + _SHAPED + _SHAPED_LIKE + _FLAT + (
        rt.copy_of, rt.owned, rt.zeros_like, np.sort, np.diff, np.array, np.asarray,
        np.where, np.concatenate, np.hstack, np.append, np.outer, np.eye, np.identity))


def _joined_kind(fn, args, kinds, literals):
    """``'A1'`` for ``np.concatenate((u, v, ...))`` of 1-D arrays, ``np.hstack`` of 1-D
    arrays and scalars, ``np.append(a, b)`` (no axis: flattened) of arrays of known
    dimensions, scalars or lists of scalars; else None."""
    if fn is np.append:
        found = [_atom_kind(a, kinds) for a in args]
        return "A1" if len(args) == 2 and all(
            k in ("S", "LS") or array_ndim(k) is not None for k in found) else None
    seq = args[0] if len(args) == 1 else None
    if isinstance(seq, gast.Name):
        seq = literals.get(seq.id)
    if not isinstance(seq, (gast.Tuple, gast.List)) or not seq.elts:
        return None
    found = [_atom_kind(e, kinds) for e in seq.elts]
    if fn is np.concatenate:
        return "A1" if all(k == "A1" for k in found) else None
    return "A1" if all(k in ("A1", "S") for k in found) else None


def _broadcast_kind(found):
    """The kind of what broadcasting operands of the kinds ``found`` together makes
    (elementwise arithmetic, ufuncs, comparisons, ``np.where``): ``'A<n>'`` for the
    largest ``n`` when every operand is a scalar or an array of known dimensions and
    one at least an array; else None."""
    dims = [array_ndim(k) for k in found]
    if not any(dims) or not all(d is not None or k == "S" for k, d in zip(found, dims)):
        return None
    return array_kind(max(d for d in dims if d is not None))


def _inner_product(value, ctx, kinds):
    """``u @ v`` or ``np.dot(u, v)`` (``np.inner``, ``np.vdot``) of two 1-D arrays: a
    scalar."""
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.MatMult):
        args = [value.left, value.right]
    elif isinstance(value, gast.Call) and len(value.args) == 2 and not value.keywords:
        fn = callee(value, ctx)
        if not any(fn is f for f in (np.dot, np.inner, np.vdot, np.matmul)):
            return False
        args = value.args
    else:
        return False
    return all(_atom_kind(a, kinds) == "A1" for a in args)


def _container_helpers():
    """The runtime helpers of generated code whose result is a list when one of their
    arguments is (index of the argument or arguments): adjoints and tangents of lists
    are lists, and a gradient differentiated again must add them with
    ``add_adjoints``, never with ``+`` (which concatenates)."""
    rt = runtime
    return {rt.getitem_adjoint: (1,), rt.zeros_like: (0,), rt.owned: (0,),
            rt.copy_of: (0,), rt.sum_list_adjoint: (1,), rt.extreme_adjoint: (1,),
            rt.add_adjoints: (0, 1), rt.list_adjoint: (0,),
            rt.fit: (0, 1), rt.take_adjoint: (2,), rt.as_sequence: (0,),
            rt.sequence_adjoint: (1,), rt.prod_items_adjoint: (1,), rt.sorted_adjoint: (1,),
            rt.in_order_adjoint: (1,), rt.add_any_adjoint: (1,), rt.mul_any_adjoint: (1,),
            rt.slice_adjoint: (1,), rt.sequence_repeat_adjoint: (1,),
            rt.like_argument: (1,), rt.list_adjoint_in: (1,),
            rt.prod_items_adjoint_tangent: (3,), rt.pair_adjoint: (1, 2),
            rt.pair_tangent: (2, 3),
            # a record's adjoint or tangent: a list or a dict by field
            rt.field_adjoint: (1,), rt.replaced_adjoint: (1,), rt.record_tangent: (0,),
            rt.replace_tangent: (1,)}


def _items_kind(kind):
    """The kind of ``list(x)``, ``tuple(x)`` or ``sorted(x)`` for ``x`` of kind ``kind``: a list of
    scalars for a list of scalars or a 1-D array, another list otherwise."""
    return "LS" if kind in ("LS", "A1") else "L"


def _helper_container(value, ctx, kinds):
    """'L' when ``value`` calls one of ``_container_helpers`` with a list or tuple where
    its result takes that structure ('AL' with what may be one); else None."""
    if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Name)):
        return None
    if value.func.id in ctx.local_names:
        return None
    try:
        obj = ctx.lookup(value.func.id)
    except (KeyError, ValueError):      # not found, or an empty closure cell
        return None
    try:
        where = _container_helpers().get(obj)
    except TypeError:           # unhashable
        return None
    if where is None:
        return None
    found = {_atom_kind(value.args[i], kinds) for i in where if i < len(value.args)}
    if found & {"L", "LS"}:
        return "LS" if _scalar_items(obj, value, kinds, found) else "L"
    if "AL" in found:
        return "AL"             # of what may be a list: may be one
    return None


def _scalar_items(obj, value, kinds, found):
    """The helper ``obj`` called by ``value`` with the lists of kinds ``found`` surely
    gives a list of scalars: a copy of a list of scalars (``owned``, ``copy_of``,
    ``list_adjoint``, ``zeros_like``), the adjoint of one by a scalar
    (``sum_list_adjoint(g, xs)``, ``getitem_adjoint(g, xs, i)``) or the sum of such
    adjoints (``add_adjoints``): the adjoint of a list of scalars in a gradient
    differentiated again, whose items, popped off, are numbers (``aliasing``)."""
    rt = runtime
    args = value.args
    if found != {"LS"} and not (obj is rt.add_adjoints and found == {"LS", "S"}):
        return False
    if obj in (rt.owned, rt.copy_of, rt.list_adjoint, rt.zeros_like, rt.add_adjoints):
        return not value.keywords
    if obj in (rt.sum_list_adjoint, rt.getitem_adjoint):
        return len(args) == (2 if obj is rt.sum_list_adjoint else 3) and not value.keywords \
            and _atom_kind(args[0], kinds) == "S"
    return False


def _elementwise_of_arrays(value, op, ctx, kinds):
    """The kind ``'A<n>'`` of ``value`` when it combines arrays of known dimensions and
    scalars elementwise (``x * 2.0``, ``x - y``, ``np.sin(x)``), broadcasting them to
    the largest number of dimensions among them; else None."""
    if isinstance(value, gast.BinOp) and not isinstance(value.op, gast.MatMult):
        operands = [value.left, value.right]
    elif isinstance(value, gast.UnaryOp) and not isinstance(value.op, gast.Not):
        operands = [value.operand]
    elif isinstance(value, gast.Call) and not value.keywords and op.kind == "rule" \
            and isinstance(op.rule.primitive, np.ufunc) \
            and op.rule.primitive.nout == 1 and op.rule.primitive.nin == len(value.args):
        operands = value.args
    else:
        return None
    return _broadcast_kind([_atom_kind(a, kinds) for a in operands])


def run(tree, ctx):
    # every statement, nested ones too: this stage reads the tree and changes none but
    # the values cse.run turns into copies (at the end, of the same kind)
    stmts = list(walk_stmts(tree.body))
    # the name each statement assigns (target_name), and the statements split into
    # the assignments to one name, (statement, name), and the others: the analyses
    # below read these instead of asking each statement again
    targets = [target_name(s) for s in stmts]
    assigns = [(s, t) for s, t in zip(stmts, targets) if t is not None]
    others = [s for s, t in zip(stmts, targets) if t is None]
    reads = {}                # id(assignment to a name) -> the names its value reads
    for s, t in zip(stmts, targets):     # SSA versions and temporaries are locals too
        if not isinstance(s, (gast.If, gast.While)):
            written = _assigned(s, t, reads)
            ctx.local_names |= written
            ctx.written[id(s)] = (s, written)       # for the reverse pass (never edited)
    classified = {}
    kinds = infer_kinds(tree, ctx, stmts, classified, reads, targets)
    ctx.var_kinds = kinds
    ctx.shapes = shapes.classes(assigns, ctx, kinds)
    ctx.shape_witness = shapes.witnesses(tree, ctx, ctx.shapes)
    edges = {}
    ops = []
    # the lists the function makes: displays, list(p), sorted(p) and concatenations of
    # lists: a user function it is given to may append to it (r = list(p); push(r, w)
    # once gave a zero gradient)
    # and the names bound to one of them (q = r, r = _t1 of a comprehension, SSA's
    # copies at joins and loop headers)
    copied_to = {}
    for s, t in assigns:
        if s.value.__class__ is gast.Name:
            copied_to.setdefault(s.value.id, set()).add(t)
    lists = closure({t for s, t in assigns if isinstance(s.value, gast.List)
                     or _makes_list(s.value, ctx, kinds, kinds.get(t))}, copied_to)
    records = _record_literals([(t, s.value, ()) for s, t in assigns], ctx)
    # list parameters differentiated along, which a user function they are given to may
    # fill too (a split callee passing its tape on, a helper passing its list argument
    # on): what it appends is useful (another parameter, a receiver, has no derivative
    # that the code could compute: the caller gave it none)
    param_lists = {p for p in ctx.wrt_names if kinds.get(p) in ("L", "LS")} - lists
    # a list parameter not differentiated along is one too where the callee appends to
    # it (or pops from it), itself or through its callees: what it appends from values
    # carrying derivatives (push(L, x) along x) the output may read (sum(L)), as it
    # reads what L.append(x * x) appends
    other_lists = {p for p in ctx.params if kinds.get(p) in ("L", "LS")} - lists \
        - param_lists
    # and so is the private copy of a list parameter the function changes, L_1 =
    # copy_of(L) (one a callee changes too: push(L, x) lost x's items), as its parameter
    # is, but that the caller's caller never sees
    own_copies = {}
    for s, t in assigns:
        v = s.value
        if v.__class__ is gast.Call and v.func.__class__ is gast.Name and len(v.args) == 1 \
                and v.args[0].__class__ is gast.Name and v.args[0].id in ctx.params \
                and kinds.get(t) in ("L", "LS") and callee(v, ctx) is runtime.copy_of:
            for c in closure({t}, copied_to) - lists:
                own_copies[c] = v.args[0].id
    for c, p in own_copies.items():
        (param_lists if p in param_lists else other_lists).add(c)
    passed_on = set()
    container_fills = []    # (call, the lists it fills that no name tracks, its operands)
    items = {t for s, t in assigns if s.value.__class__ is gast.Subscript}     # c[k]
    # t = obj.attr (a list attribute, b.items): the attribute's path, and the paths read
    # more than once (appended to under one name, read under another: refused below)
    fields = {t: dotted_name(s.value) for s, t in assigns
              if s.value.__class__ is gast.Attribute and dotted_name(s.value)}
    read_fields = {f for f, k in Counter(fields.values()).items() if k > 1}
    for s, t in zip(stmts, targets):
        if t is not None:
            known = classified.get(id(s.value))     # as infer_kinds classified it
            if known is not None and known[0] is s.value:
                op = known[1]
            else:
                op = classify(s.value, ctx, kinds)
            if records and op.kind == "rule" and op.rule.primitive is runtime.field \
                    and s.value.attr in records.get(s.value.value.id, ()):
                # p.a of p = P(x, y), bound once (SSA): x itself, which nothing rebinds
                # before p.a reads it (a loop's header copies come at the end of its body)
                op = Op("copy", args=[records[s.value.value.id][s.value.attr]])
            ops.append((s, t, op))
            ctx.classified[id(s)] = (s, s.value, op)
            if op.kind == "pop":
                ctx.mutable.add(op.args[0].id)
                if op.args[0].id in ctx.params:
                    ctx.param_appends.add(op.args[0].id)
                    ctx.param_changes.setdefault(op.args[0].id, s)
            if op.kind == "call":     # a list argument may be filled by the callee (a tape)
                names = op.operand_names()
                given = names & (lists | param_lists)
                appended = names & (param_lists | other_lists)
                if appended:
                    appended = _appended_by(op, s.value, appended, kinds, ctx)
                    given |= appended
                untracked = (names & (items | {n for n, f in fields.items()
                                               if f in read_fields})) \
                    - lists - param_lists - other_lists
                if any(kinds.get(n) != "S" for n in untracked):
                    filled = _appended_by(op, s.value, untracked, kinds, ctx)
                    if filled:      # (an item of a tuple or dict: checked once varied)
                        container_fills.append((s, filled, names - filled))
                if ctx.mode == "reverse" and names & lists:
                    ctx.list_fills.extend((s, lst) for lst in sorted(
                        _appended_by(op, s.value, names & lists, kinds, ctx)))
                fed = _lists_fed(op, given)
                for lst in given:
                    if lst in lists or lst in appended:
                        ctx.mutable.add(lst)    # the callee may append to it (or pop)
                    if lst not in lists and lst not in own_copies:
                        passed_on.add(lst)  # what the callee appends the caller's caller sees
                    for n in fed[lst] if lst in fed else names - {lst}:
                        edges.setdefault(n, set()).add(lst)
            for n in op.diff_names():
                edges.setdefault(n, set()).add(t)
            if op.kind == "rule" and ctx.mode == "forward" and not op.rule.builtin:
                # a user's tangent template (or multilinear declaration) may take the
                # derivative in arguments its adjoint template does not
                for n in _user_tangent_names(op):
                    edges.setdefault(n, set()).add(t)
        elif _is_index_add(s, ctx):                # index_add(a, i, g) in generated code
            a, _, g = s.value.args
            ctx.mutable.add(a.id)
            for n in loads(g):
                edges.setdefault(n, set()).add(a.id)
        elif _is_append(s, ctx):                   # lst.append(v)
            lst = s.value.func.value.id
            ctx.mutable.add(lst)
            if lst in ctx.params:
                ctx.param_appends.add(lst)
                ctx.param_changes.setdefault(lst, s)
            for n in loads(s.value.args[0]) if s.value.args else ():
                edges.setdefault(n, set()).add(lst)
            if lst in fields and fields[lst] in read_fields:
                container_fills.append((s, {lst}, loads(s.value.args[0]) if s.value.args
                                        else set()))
        elif isinstance(s, gast.Assign):          # a[i] = v
            base = s.targets[0].value.id
            ctx.mutable.add(base)
            if isinstance(s.value, gast.Name):
                edges.setdefault(s.value.id, set()).add(base)
    from .aliasing import (
        alias_classes,
        check_appends_under_holders,
        check_changes_under_returned,
        check_held_fills,
        check_item_updates,
        check_views,
        check_writes_under_views,
    )
    alias_classes(assigns, ctx, edges, tree)
    ctx.edges = edges      # the reverse pass groups the values it records by them
    varied = closure(set(ctx.wrt_names), edges)
    _check_global_stores(tree, ctx, varied)
    for s, filled, others in container_fills:
        if others & varied:
            # a value carrying a derivative goes on a list that is not one the function
            # built or was given by name (t[0] of a tuple, d["xs"] of a dict, b.items
            # read again as b.items): its derivative would not reach the other reads
            from .aliasing import _view_text
            defs = {n: x.value for x, n in assigns if n in ctx.namer.temps}
            raise errors.unsupported(s, ctx, "ListInContainer", ", ".join(sorted(
                _view_text(n, defs.get(n, gast.Name(id=n, ctx=gast.Load(), annotation=None,
                                                    type_comment=None)), ctx, defs)
                for n in filled)))
    last = tree.body[-1]
    check_held_fills(stmts, targets, ctx, kinds, edges, varied,
                     last.value.id if isinstance(last, gast.Return)
                     and isinstance(last.value, gast.Name) else None)
    sharing = check_views(tree, stmts, ctx, assigns, others, varied)
    ret = tree.body[-1].value
    outputs = {ret.id} if isinstance(ret, gast.Name) else set()
    # a parameter the function appends to is an output too (the tape of a split callee)
    # (or pops from: a list of derivative code, of kind AL, that the reverse sweep of
    # a split callee restores, whose tangents the caller reads again)
    outputs |= {p for p in ctx.params if p in ctx.mutable and (
        kinds.get(p) in ("L", "LS") or p in ctx.param_appends)}
    outputs |= passed_on
    check_writes_under_views(sharing, stmts, ctx, varied)
    check_appends_under_holders(sharing, tree, stmts, ctx, varied)
    check_changes_under_returned(sharing, tree, stmts, ctx, varied)
    check_item_updates(others, ctx, varied, stmts)
    _check_mutable_defaults(ctx)
    useful = closure(outputs, reverse_edges(edges))
    _check_user_rules(ops, ctx, varied, useful)
    ctx.active = varied & useful
    if ctx.mode == "forward" and len(ctx.wrt) > 1:    # one tangent sweep per argument
        ctx.active_by = {p: closure({p}, edges) & useful for p in ctx.wrt_names}
    _check(stmts, ctx, ops, varied, targets)
    _share_operations(tree, ctx, kinds)
    return tree


def _check_global_stores(tree, ctx, varied):
    """A store of a value carrying a derivative into a global or closure array, list or
    dict (``G[i] = v``, ``cache[k] = fn(x)`` of a memoizing decorator's wrapper), where
    the function reads that container at a point the store may not have run on the
    way to (``if x not in cache: cache[x] = fn(x)``, then ``return cache[x]``): the
    object outlives the call, and there the function reads what an earlier call
    stored, as a number without derivative (a gradient of 0.0 once the cache holds
    x), so the gradient would depend on the calls made before. Refused, located at the
    store. A store every read comes after (``G[0] = 2 * x`` first, then ``G[0] * x``)
    is differentiated."""
    if not ctx.global_stores or not varied:
        return
    carrying = {}       # global -> its first store of a value carrying a derivative
    stores = {}         # id of a store statement -> the global it stores into
    for s in walk_stmts(tree.body):
        g = _global_store_base(s, ctx)
        if g is None:
            continue
        stores[id(s)] = g
        value = s.value if isinstance(s, gast.Assign) else s.value.args[2]
        if g not in carrying and loads(value) & varied:
            carrying[g] = s
    if not carrying:
        return
    found = _reads_before_stores(tree.body, set(carrying), stores, set())
    if found is None:
        return
    read, g = found
    s = carrying[g]
    shown = _user_text(s, ctx) or g
    raise errors.unsupported(
        s, ctx, "GlobalStore",
        f"{shown}: {g} is a global or a variable of an enclosing function, which keeps "
        f"what this stores after the call, and line {getattr(read, 'lineno', '?')} reads "
        f"{g} where this store may not have run in the call: it would read what an "
        "earlier call stored, as a number without derivative")


def _global_store_base(s, ctx):
    """The global ``s`` stores an item into (``G[i] = v``, ``np.add.at(G, i, v)``:
    ``ctx.global_stores``), or None."""
    if isinstance(s, gast.Assign) and len(s.targets) == 1 \
            and isinstance(s.targets[0], gast.Subscript) \
            and isinstance(s.targets[0].value, gast.Name):
        g = s.targets[0].value.id
    elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
            and len(s.value.args) > 2 and isinstance(s.value.args[0], gast.Name) \
            and ctx.injected.get(getattr(s.value.func, "id", None)) is runtime.index_add:
        g = s.value.args[0].id
    else:
        return None
    return g if g in ctx.global_stores else None


def _reads_before_stores(stmts, watched, stores, done):
    """The first (statement, global) of a read of a global of ``watched`` not preceded,
    on every path to it, by a store into it (``stores``: id of a store -> its global);
    ``done``: the globals stored into on every path so far (updated). None if none."""
    for s in stmts:
        if isinstance(s, gast.If):
            hit = [g for g in loads(s.test) & watched if g not in done]
            if hit:
                return s, hit[0]
            then, other = set(done), set(done)
            found = _reads_before_stores(s.body, watched, stores, then) \
                or _reads_before_stores(s.orelse, watched, stores, other)
            if found:
                return found
            done |= then & other
            continue
        if isinstance(s, (gast.For, gast.While)):
            head = s.iter if isinstance(s, gast.For) else s.test
            hit = [g for g in loads(head) & watched if g not in done]
            if hit:
                return s, hit[0]
            found = _reads_before_stores(s.body, watched, stores, set(done))
            if found:
                return found
            continue        # (the body may not run: its stores do not count after it)
        g = stores.get(id(s))
        read = loads(s.value) if g is not None else loads(s)
        if g is not None and isinstance(s, gast.Assign):
            read = read | loads(s.targets[0].slice)
        elif g is not None:
            read = read - {g}
        hit = [n for n in read & watched if n not in done]
        if hit:
            return s, hit[0]
        if g is not None:
            done.add(g)
    return None


def _user_text(s, ctx):
    """The text of the user's line of ``s``, stripped, or None."""
    import linecache
    line = getattr(s, "lineno", None)
    text = linecache.getline(ctx.filename, line).strip() if line and ctx.filename else ""
    return text or None


def _check_mutable_defaults(ctx):
    """A parameter whose default value is a list, dict, array, ... (``def helper(t,
    acc=[])``), changed in place by the function (or a function of yours it gives it
    to): Python shares that one object between the calls not passing the argument, so
    each call sees what the calls before it put there, while the derivative code
    starts from what it holds when the code is made (and a gradient call leaves it as
    it was). Refused, located at the change."""
    func = ctx.func
    defaults = getattr(func, "__defaults__", None) or ()
    kwdefaults = getattr(func, "__kwdefaults__", None) or {}
    if not (defaults or kwdefaults) or not inspect.isfunction(func):
        return
    from .argcheck import _IMMUTABLE
    from .codegen import cache_dir
    if ctx.filename and ctx.filename.startswith(cache_dir()):
        return          # generated code: its defaults are s2sad's
    code = func.__code__
    positional = code.co_varnames[:code.co_argcount]
    found = dict(zip(positional[len(positional) - len(defaults):], defaults))
    found.update(kwdefaults)
    for p, value in found.items():
        if isinstance(value, _IMMUTABLE) or callable(value) or p not in ctx.params:
            continue
        where = ctx.param_changes.get(p)
        if where is None and p in ctx.param_writes:
            where = tuple(ctx.param_writes[p])
        if where is None and not (p in ctx.param_appends or p in ctx.param_stores):
            continue
        where = where if where is not None else ctx.param_stores.get(p)
        what = type(value).__name__
        message = (f"unsupported construct: changing in place the default value of "
                   f"{p}, a {what} (def {ctx.name}(..., {p}=...)): Python makes the "
                   "default once and shares it between the calls, so each call not "
                   f"passing {p} sees what the calls before it put there")
        new = {"list": "[]", "dict": "{}", "ndarray": "np.array(...)"}.get(
            what, f"{what}(...)")
        copy = {"list": f"list({p})", "dict": f"dict({p})"}.get(what, f"{p}.copy()")
        hint = (f"use None as the default and make a new {what} in the function "
                f"({p} = {new} if {p} is None else {p}), or change a copy ({p} = "
                f"{copy}), or pass {p} at each call")
        if isinstance(where, gast.AST):
            raise errors.UnsupportedSyntaxError(message, hint=hint,
                                                **errors._where(where, ctx))
        line = where[0] if isinstance(where, tuple) and where else ctx.firstlineno
        raise errors.UnsupportedSyntaxError(message, hint=hint, filename=ctx.filename,
                                            lineno=line)


def _share_operations(tree, ctx, kinds):
    """``cse.run`` on the assignments to active names: a value made again becomes a
    copy of the name holding it, which is active from then on (the copy sends its
    adjoint there); the classification of the copy is made again where it is read
    (``Classified``, ``ctx.classified`` keeps the value it classified)."""
    active = ctx.active
    for s in cse.run(tree.body, kinds, ctx.local_names | set(ctx.params), active):
        holder, t = s.value.id, s.targets[0].id
        ctx.edges.setdefault(holder, set()).add(t)
        active.add(holder)
        for along in ctx.active_by.values():
            if t in along:
                along.add(holder)


def _appended_by(op, node, names, kinds, ctx):
    """Those of ``names`` that the user function called by ``op`` is given for a list
    parameter it appends to or pops from, itself or through its callees."""
    from . import pipeline
    found = pipeline.returned(op, kinds, ctx, node)
    if found is None:
        return set()
    mapping = pipeline.bind_call(op, kinds, ctx, node)[0]
    return {mapping[p].id for p in found[5] if isinstance(mapping.get(p), gast.Name)} & names


def _lists_fed(op, lists):
    """For a call of a split callee's ``fwd_g`` or ``bwd_g`` (a gradient differentiated
    again), the lists among ``lists`` given to it for the values carrying no derivative
    it records (``api.mark_lists``): list -> the names of the arguments of the
    parameters those values depend on. A list also given for another parameter (the
    tape) is not among them: anything may go on that one."""
    marked = getattr(op.func, "s2sad_lists", None)
    if not marked or not lists:
        return {}
    try:
        bound = inspect.signature(op.func).bind(*op.args, **op.keywords).arguments
    except (TypeError, ValueError):
        return {}
    fed, other = {}, set()
    for p, atom in bound.items():
        given = loads(atom) & lists if isinstance(atom, gast.AST) else set(lists)
        for lst in given:
            if p not in marked:
                other.add(lst)
                continue
            srcs = fed.setdefault(lst, set())
            for q in marked[p]:
                arg = bound.get(q)
                srcs |= loads(arg) if isinstance(arg, gast.AST) else \
                    set().union(*(loads(a) for a in _atoms_of(arg)))
    return {lst: srcs - {lst} for lst, srcs in fed.items() if lst not in other}


def _atoms_of(value):
    """The atoms of a bound ``*args`` (a tuple) or ``**kwargs`` (a dict), or none."""
    if isinstance(value, tuple):
        return [a for a in value if isinstance(a, gast.AST)]
    if isinstance(value, dict):
        return [a for a in value.values() if isinstance(a, gast.AST)]
    return []


def _assigned(s, t, reads):
    """``stores(s)``; for an assignment to one name (``t``, its ``target_name``), with
    ``reads[id(s)]`` set to the names its value reads, both from one walk of the
    value."""
    target = s.targets[0] if t is not None else None
    if target is None or target.annotation is not None \
            or target.ctx.__class__ is not gast.Store:
        return stores(s)
    found = name_nodes(s.value)
    reads[id(s)] = {n.id for n in found}
    written = {target.id}
    for n in found:
        if n.ctx.__class__ is gast.Store:       # (a walrus in the value)
            written.add(n.id)
    return written


class Classified:
    """The operation of each assignment, classified once, for the pass after activity
    analysis (``reverse`` or ``forward``): ``classified.op(s)``.

    Activity analysis classified every assignment already, with the same kinds
    (``ctx.var_kinds``), names and look-ups, right before that pass
    (``ctx.classified``): its answer is taken while the statement and its value are
    the very nodes it classified (nothing edits them in between; the check guards
    against a statement made since that reuses an id). The pass takes that table
    from the context, which then keeps no tree alive."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.ops = {}         # id(assignment) -> its classified operation
        self.known, ctx.classified = ctx.classified, {}

    def op(self, s):
        op = self.ops.get(id(s))
        if op is None:
            known = self.known.get(id(s))
            if known is not None and known[0] is s and known[1] is s.value:
                op = known[2]
            else:
                op = classify(s.value, self.ctx, self.ctx.var_kinds)
            self.ops[id(s)] = op
        return op


class Powers:
    """The scalars of a straight-line block that are one scalar times numbers, as far
    as the block has gone: ``forms[t] = (c, x, k)`` for ``t == c * x**k`` (``x * x``,
    ``3.0 * x``, ``_t1 * x``), and ``named[(x, k)] = (t, c)``, the first such ``t``
    of each power. A name rebound drops what it defined and what was built from
    it; the passes start afresh in each block and after each ``if`` or loop.

    The derivative of ``t = c * x**k`` with ``k >= 2`` (``x * x * x`` spread over
    temporaries by the normal form) is then ``k * c * x**(k-1)``, read from ``x`` or
    from the name holding ``x**(k-1)`` (``derivative``): the forward pass gives
    ``_t4 = _t1 * x``, where ``_t1 = x * x``, the tangent ``3.0 * dx * _t1``, the
    reverse pass adds ``3.0 * b_t4 * _t1`` to ``bx``, where the chain rule through
    each factor gives ``2.0 * dx * x * x + dx * _t1`` and ``b_t4 * _t1 + b_t1 * x +
    b_t1 * x``: the same derivative rounded differently, in two multiplications
    whatever ``k``."""

    def __init__(self, kinds):
        self.kinds = kinds
        self.forms = {}
        self.named = {}
        # every name that is or was a ``t`` or an ``x`` of ``forms`` (hence of
        # ``named``): ``forget`` of any other name has nothing to drop, and returns at
        # once (most statements bind a name no form mentions: without this, each
        # scanned all the forms of the block)
        self.mentioned = set()

    def form(self, atom):
        if atom.__class__ is gast.Name:
            if self.kinds.get(atom.id) != "S":
                return None
            return self.forms.get(atom.id, (1, atom.id, 1))
        if atom.__class__ is gast.Constant and type(atom.value) in (int, float):
            return (atom.value, None, 0)
        return None

    def note(self, s):
        is_binop = s.__class__ is gast.Assign and s.value.__class__ is gast.BinOp
        if not self.forms and not is_binop:
            return
        if self.forms or self.named:
            targets = getattr(s, "targets", ())
            if len(targets) == 1 and targets[0].__class__ is gast.Name:
                self.forget(targets[0].id)
            else:
                for target in targets:
                    for n in walk(target):
                        if n.__class__ is gast.Name and not isinstance(n.ctx, gast.Load):
                            self.forget(n.id)
        if not is_binop or s.value.op.__class__ is not gast.Mult:
            return
        t = target_name(s)
        v = s.value
        if t is None or self.kinds.get(t) != "S":
            return
        a, b = self.form(v.left), self.form(v.right)
        if a is None or b is None or (a[1] is not None and b[1] is not None and a[1] != b[1]):
            return
        x = a[1] if a[1] is not None else b[1]
        if x is None or x == t:
            return
        c, k = a[0] * b[0], a[2] + b[2]
        if c == 0 or not math.isfinite(c):
            return
        self.forms[t] = (c, x, k)
        self.mentioned.add(t)
        self.mentioned.add(x)
        if k >= 2:
            self.named.setdefault((x, k), (t, c))

    def forget(self, n):
        if n not in self.mentioned:
            return
        if n in self.forms:
            del self.forms[n]
        for t in [t for t, f in self.forms.items() if f[1] == n]:
            del self.forms[t]
        for key in [key for key, (t, _) in self.named.items() if key[0] == n or t == n]:
            del self.named[key]


    def derivative(self, t):
        """``(x, coef, w)``: the derivative of ``t`` is ``coef * w`` times that of
        ``x``; None unless ``t`` is such a power with ``k >= 2`` and ``x**(k-1)`` at
        hand."""
        form = self.forms.get(t)
        if form is None or form[2] < 2:
            return None
        c, x, k = form
        if k == 2:
            w, cw = x, 1.0
        else:
            hit = self.named.get((x, k - 1))
            if hit is None:
                return None
            w, cw = hit
        return x, k * c / cw, w


def guard_stores(tree, ctx):
    """Before each store ``a[i] = v`` of a value carrying a derivative into an array,
    a check that ``a`` holds floats (``runtime.check_float_store``): NumPy truncates
    what it stores into an int or bool array, so no derivative passes, and the
    generated code would pass one. Called by the reverse and forward passes (this
    stage only reads the tree).

    The dtype of ``a`` changes only when ``a`` is rebound, so the check of a store in
    a loop body goes before the loop (before the outermost of nested loops) when the
    loop does not rebind ``a``: once, not per iteration (it then raises also when the
    loop runs no iteration). A store under an ``if`` is checked in its branch."""
    check = None
    floats = None           # the arrays surely of floats, found when a store asks

    def stored(s):
        nonlocal floats
        if not (isinstance(s, gast.Assign) and target_name(s) is None):
            return None
        target = s.targets[0]
        if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)
                and isinstance(s.value, gast.Name) and s.value.id in ctx.active
                and target.value.id in ctx.active
                and ctx.var_kinds.get(target.value.id) not in ("S", "L", "LS")):
            return None
        if floats is None:
            floats = _float_arrays(tree, ctx)
        return None if target.value.id in floats else target.value.id

    def guard(base, s):
        nonlocal check
        if check is None:
            check = functools.partial(runtime.check_float_store, ctx.filename)
        fn = gast.Name(id=ctx.inject("check_float_store", check), ctx=gast.Load(),
                       annotation=None, type_comment=None)
        line = getattr(s, "lineno", None) or ctx.firstlineno
        col = getattr(s, "col_offset", None)
        col = col + ctx.col_shift if col is not None else None
        args = [gast.Name(id=base, ctx=gast.Load(), annotation=None, type_comment=None),
                gast.Constant(value=line, kind=None), gast.Constant(value=col, kind=None)]
        return gast.Expr(value=gast.Call(func=fn, args=args, keywords=[]))

    def visit(stmts, loop_writes):
        """Guard the stores of ``stmts``; returns the checks ({base: store}) that go
        before the loop whose body ``stmts`` is (``loop_writes``: what it rebinds)."""
        out, up = [], {}
        for s in stmts:
            here = {}
            base = stored(s)
            if base is not None:
                here[base] = s
            elif isinstance(s, (gast.For, gast.While)):
                here = visit(s.body, stores(s))
            elif isinstance(s, gast.If):
                visit(s.body, None)
                visit(s.orelse, None)
            for base, store in here.items():
                if loop_writes is not None and base not in loop_writes:
                    up.setdefault(base, store)
                else:
                    out.append(guard(base, store))
            out.append(s)
        stmts[:] = out
        return up

    # every store into an array made its base mutable (activity analysis, ``run``):
    # without one, no statement needs a guard and the tree is not walked
    if ctx.mutable and any(stored(s) for s in walk_stmts(tree.body)):
        visit(tree.body, None)
    # visit calls itself through its closure cell: a reference cycle that, left
    # standing, keeps the tree alive until the cyclic garbage collector walks it
    visit = None  # noqa: F841 - empties the cell


# the operator of ``a op= v`` -> the name of its in-place function (runtime.check_inplace)
_INPLACE_OPS = {gast.Add: "iadd", gast.Sub: "isub", gast.Mult: "imul", gast.Div: "itruediv",
                gast.FloorDiv: "ifloordiv", gast.Mod: "imod", gast.Pow: "ipow",
                gast.MatMult: "imatmul", gast.BitAnd: "iand", gast.BitOr: "ior",
                gast.BitXor: "ixor", gast.LShift: "ilshift", gast.RShift: "irshift"}
# operators a float array takes in place with a float or int number: same shape, floats
_FLOAT_SCALAR_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod,
                     gast.Pow)


def guard_inplace(tree, ctx):
    """After each ``a_1 = a op v`` the user wrote ``a op= v`` (normalize's ``INPLACE``),
    where ``a`` may be an array, a check that the new array fits into ``a`` (and before
    ``a[i] = t`` of ``a[i] op= v``, which Python runs as ``t = a[i]; t op= v; a[i] =
    t``, in place where ``a[i]`` is a row, that ``t op v`` fits into ``a[i]``)
    (``runtime.check_inplace``): NumPy updates ``a`` in place and raises where ``v``
    broadcasts it to a larger shape, or where the result's dtype does not cast back to
    ``a``'s (a float into an int array), but the generated code makes a new array
    that grows or changes dtype, and went on with a gradient. Left out where the kinds
    prove it fits: ``a`` a scalar or a list, or an array of floats (``_float_arrays``)
    with an int or float constant. Called by the reverse and forward passes (after
    ``guard_stores``)."""
    found = []          # (a op v, the statement the check goes after or before)
    items = {}          # a[i] op= v: id(the item's new value _t2 = _t1 op v) -> the store
    for s in walk_stmts(tree.body):
        if s.__class__ is gast.Assign and anno.get(s, anno.Key.INPLACE) \
                and s.value.__class__ is gast.BinOp \
                and s.value.left.__class__ is gast.Name \
                and s.value.op.__class__ in _INPLACE_OPS and target_name(s) is not None \
                and ctx.var_kinds.get(s.value.left.id) not in ("S", "L", "LS"):
            found.append((s, s))
        elif s.__class__ is gast.Assign and anno.get(s, anno.Key.INPLACE_ITEM) \
                and s.value.__class__ is gast.Name:
            items[s.value.id] = s
    if items:       # a[i] += v is t = a[i]; t += v (in place, a row's view); a[i] = t
        for s in walk_stmts(tree.body):
            t = target_name(s) if s.__class__ is gast.Assign else None
            if t in items and s.value.__class__ is gast.BinOp \
                    and s.value.left.__class__ is gast.Name \
                    and s.value.op.__class__ in _INPLACE_OPS \
                    and ctx.var_kinds.get(s.value.left.id) not in ("S", "L", "LS"):
                found.append((s, items[t]))
    if not found:
        return
    floats = _float_arrays(tree, ctx)
    fn = None
    guards = {}
    before = {}         # id(store a[i] = t) -> the check, which goes before it
    for s, at in found:
        a, v, op = s.value.left, s.value.right, s.value.op
        if a.id in floats and op.__class__ in _FLOAT_SCALAR_OPS \
                and v.__class__ is gast.Constant and type(v.value) in (int, float):
            continue
        if fn is None:
            fn = ctx.inject("check_inplace", runtime.check_inplace)
        check = gast.Call(func=gast.Name(id=fn, ctx=gast.Load(), annotation=None,
                                         type_comment=None),
                          args=[gast.Name(id=a.id, ctx=gast.Load(), annotation=None,
                                          type_comment=None),
                                gast.Name(id=target_name(s), ctx=gast.Load(), annotation=None,
                                          type_comment=None),
                                clone(v), gast.Constant(value=_INPLACE_OPS[
                                    op.__class__], kind=None)], keywords=[])
        if at is s:
            guards[id(s)] = gast.copy_location(gast.Expr(value=check), s)
        else:
            before[id(at)] = gast.copy_location(gast.Expr(value=check), at)

    def visit(stmts):
        out = []
        for s in stmts:
            if id(s) in before:     # (before guard_stores' check of the dtype: NumPy's
                k = len(out)        # own exception comes first, as from a[i] += v)
                while k and out[k - 1].__class__ is gast.Expr \
                        and out[k - 1].value.__class__ is gast.Call \
                        and isinstance(out[k - 1].value.func, gast.Name) \
                        and ctx.injected.get(out[k - 1].value.func.id).__class__ \
                        is functools.partial:
                    k -= 1
                out.insert(k, before[id(s)])
            out.append(s)
            if id(s) in guards:
                out.append(guards[id(s)])
            for field_ in ("body", "orelse"):
                inner = getattr(s, field_, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    visit(inner)
        stmts[:] = out

    visit(tree.body)


_FLOAT_MAKERS = (np.zeros, np.ones, np.empty)
_FLOAT_MAKERS = (np.zeros, np.ones, np.empty)


def _float_arrays(tree, ctx):
    """The names surely bound to arrays of floats only: ``np.zeros``, ``np.ones`` or
    ``np.empty`` without ``dtype=``, copies (SSA's at joins and loop headers) of such
    names, and such a name plus (``-``, ``*``, ...: ``_FLOAT_SCALAR_OPS``) an int or
    float constant. A store into one needs no dtype check (``guard_stores``), nor an
    update ``b += 1.0`` of one (``guard_inplace``)."""
    defs = {}
    for s in walk_stmts(tree.body):
        for n in stores(s):
            defs.setdefault(n, []).append(s)

    def made_float(v):
        if not (isinstance(v, gast.Call) and not any(k.arg == "dtype" for k in v.keywords)
                and len(v.args) == 1):
            return False
        fn = callee(v, ctx)
        return any(fn is f for f in _FLOAT_MAKERS)

    out, seen = set(), set()

    def surely(n):
        if n in out:
            return True
        if n in seen or n not in defs:
            return False
        seen.add(n)
        for s in defs[n]:
            v = s.value if isinstance(s, gast.Assign) and target_name(s) == n else None
            if v.__class__ is gast.BinOp and v.op.__class__ in _FLOAT_SCALAR_OPS \
                    and v.right.__class__ is gast.Constant \
                    and type(v.right.value) in (int, float):
                v = v.left      # b + 1.0 of an array of floats: one too, of its shape
            if v is None or not (made_float(v) or (isinstance(v, gast.Name) and surely(v.id))):
                return False
        out.add(n)
        return True

    for n in list(defs):
        seen.clear()
        surely(n)
    surely = None  # noqa: F841 - empties the cell (a cycle through it holds the tree)
    return out


# list methods refused with their own message where a list carrying a derivative is
# not one normalize lowers (Normalizer.list_method)
_LIST_METHODS = {"extend": "ListMethod", "insert": "ListMethod", "reverse": "ListMethod",
                 "sort": "ListSort"}


def _pop_of_an_item(s, ctx):
    """``s`` is ``L.pop(i)`` (``d.pop(k)``), with arguments, of a local name: a statement,
    or the value of an assignment."""
    v = s.value if isinstance(s, (gast.Expr, gast.Assign)) else None
    return isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) \
        and v.func.attr == "pop" and (v.args or v.keywords) \
        and isinstance(v.func.value, gast.Name) and v.func.value.id in ctx.local_names


def _is_index_add(s, ctx):
    """``index_add(a, i, g)``: the reverse sweep's in-place accumulation."""
    if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
            and isinstance(s.value.func, gast.Name) and len(s.value.args) == 3
            and isinstance(s.value.args[0], gast.Name)):
        return False
    try:
        return ctx.lookup(s.value.func.id) is runtime.index_add
    except KeyError:
        return False


def _is_append(s, ctx):
    if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)):
        return False
    f = s.value.func
    return isinstance(f, gast.Attribute) and f.attr == "append" \
        and isinstance(f.value, gast.Name) and f.value.id in ctx.local_names \
        and len(s.value.args) == 1 and not s.value.keywords


def _pure_call(fn, call):
    """A call of a function with a derivative rule (or none needed), which reads its
    arguments and changes none: ``math.log(x)`` as a statement checks ``x`` is in
    the domain, as s2sad's own code does for values it no longer needs."""
    from .rules.core import NONDIFF, RULES
    try:
        known = fn in RULES or fn in NONDIFF
    except TypeError:               # unhashable
        return False
    return known and not any(k.arg == "out" for k in call.keywords)


def _pure_method(call, ctx):
    """A call of a method of the method table on a local (``y.sum()``, ``v.mean(axis=0)``):
    none of them changes its receiver (in-place methods are not listed), so as a statement
    (a gradient keeps ``_t2.mean()`` of the value a function returns) it changes nothing."""
    func = call.func
    return isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
        and func.value.id in ctx.local_names and func.attr in METHODS \
        and not any(k.arg == "out" for k in call.keywords)


def _user_tangent_names(op):
    """The names of the atoms of ``op`` (a call with a user's rule) forward mode takes
    the derivative in: those its tangent template reads (``tangent_template``), all of
    them where the primitive is declared ``multilinear`` (``Forward.multilinear``
    refuses those it is not linear in), else none but the adjoint template's."""
    rule = op.rule
    template = tangent_template(rule, op.args, op.keywords)
    if template is None and rule.primitive not in MULTILINEAR:
        return ()
    if template is None:
        return op.operand_names()
    try:
        mapping = op.bind() if template.params == rule.params \
            else template.bind(op.args, op.keywords)
    except TypeError:
        return ()
    return {mapping[p].id for p in template.read_params
            if isinstance(mapping.get(p), gast.Name)}


def _check_user_rules(ops, ctx, varied, useful):
    """Refuse a call with a rule registered by the user (``s2sad.extend.adjoint``,
    ``tangent``) where an argument carrying a derivative is bound to a parameter the
    rule gives no derivative for (no ``d[p] = ...`` in the adjoint template; in forward
    mode, no ``d[p]`` read by the tangent template used), and the result is used: its
    contribution would be a silent zero. s2sad's own rules refuse as their code runs
    (``no_derivative_in``)."""
    forward = ctx.mode == "forward"
    for s, t, op in ops:
        if op.kind != "rule" or op.rule.builtin or t not in useful:
            continue
        rule = op.rule
        template = tangent_template(rule, op.args, op.keywords) if forward else None
        if forward and template is None and rule.primitive in MULTILINEAR:
            continue                # (Forward.multilinear checks the call)
        used = template if template is not None else rule
        try:
            mapping = op.bind() if used is rule or used.params == rule.params \
                else used.bind(op.args, op.keywords)
        except TypeError:           # no template fits this call: reported by _check
            continue
        given = used.read_params if used is template else used.diff_params
        for p in used.params:
            atom = mapping.get(p)
            if p not in given and isinstance(atom, gast.Name) and atom.id in varied:
                raise errors.rule_drops_argument(s.value, ctx, used, p,
                                                 tangent=used is template)


def _shown_name(n, stmts, targets, ctx):
    """The user's name for ``n``, or for a temporary of the normal form the expression it
    stands for (``self.buf`` for ``_t1`` of ``self.buf.fill(x)``), for messages."""
    from .aliasing import _user_name, _view_text
    user = _user_name(n, ctx)
    if n not in ctx.namer.temps and not user.startswith("_"):
        return user
    defs = {t: s.value for s, t in zip(stmts, targets)
            if t is not None and t in ctx.namer.temps and isinstance(s, gast.Assign)}
    return _view_text(n, defs[n], ctx, defs) if n in defs else user


def _refuse_misnamed_rule(s, op, exc, ctx):
    """A call that the user's rule ``op.rule`` does not fit (``exc``, from binding it),
    where the rule's parameters are not named as the function's and the call fits the
    function: a ``RuleError`` saying so (not "no derivative rule": there is one)."""
    rule = op.rule
    try:
        sig = inspect.signature(rule.primitive)
        sig.bind(*op.args, **op.keywords)
    except (TypeError, ValueError):
        return
    theirs = [p for p in sig.parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if [p.name for p in theirs] == rule.params:
        return
    raise errors.rule_misnamed(s.value, ctx, rule, str(sig), exc)


def _check_custom_vjp_pair(call, ctx, owners=None):
    """A call of the fwd or bwd a ``custom_vjp`` was split into, in a gradient being
    differentiated again: its rule gives no second derivative, and the adjoints it
    keeps on the tape would pass as constants (the hessian came out 0). ``owners``,
    a dict: the answers so far, by the dotted name called (``callee`` gives one
    object per name in a transformation: ``ctx.lookup`` remembers it)."""
    path = dotted_name(call.func) if owners is not None else None
    if path is not None and path in owners:
        owner = owners[path]
    else:
        owner = getattr(callee(call, ctx), "s2sad_custom_vjp", None)
        if path is not None:
            owners[path] = owner
    if owner is not None:
        raise errors.custom_vjp_second_order(call, ctx, owner.__name__)


def _check(stmts, ctx, ops, varied, targets):
    """The refusals of this stage once activity is known (``targets``: the
    ``target_name`` of each of ``stmts``)."""
    owners = {}         # dotted name called -> its custom_vjp, once per name
    for s, t, op in ops:
        if isinstance(s.value, gast.Call):
            _check_custom_vjp_pair(s.value, ctx, owners)
        if t in ctx.active and op.kind == "unknown" and op.operand_names() & ctx.active:
            # (with no operand carrying a derivative, the value is a constant: an
            # array made by a method of a global, ``y = C.copy()``, then written into)
            if isinstance(s.value, gast.Dict):      # {"a": x}: no rule to register
                raise errors.unsupported(s.value, ctx, "DictStore")
            raise errors.missing_rule(s.value, ctx, op.what)
        if t in ctx.active and op.kind == "rule":
            try:
                op.bind()
            except TypeError as exc:
                if not op.rule.builtin:
                    _refuse_misnamed_rule(s, op, exc, ctx)
                raise errors.missing_rule(s.value, ctx, f"{op.what} called this way ({exc})") \
                    from None
    # a dict built with keys that are not constants is refused (its Op is 'unknown')
    dicts = {t for s, t in zip(stmts, targets) if isinstance(s, gast.Assign)
             and isinstance(s.value, gast.Dict)
             and not all(isinstance(k, gast.Constant) for k in s.value.keys)}
    for s, t in zip(stmts, targets):
        if isinstance(s, gast.For) and s.target.id in ctx.active:
            raise errors.unsupported(s.iter, ctx, "ActiveIteration")
        elif ctx.mode == "reverse" and isinstance(s, gast.Assign) and t is None \
                and isinstance(s.targets[0], gast.Subscript) \
                and isinstance(s.targets[0].value, gast.Name) \
                and ctx.var_kinds.get(s.targets[0].value.id) in ("L", "LS") \
                and any(isinstance(n, gast.Slice) for n in gast.walk(s.targets[0].slice)) \
                and (loads(s.value) | {s.targets[0].value.id}) & varied:
            # (reverse mode) its adjoint would be zeroed and the list restored by slices
            # of other lengths
            raise errors.unsupported(s, ctx, "ListSliceStore")
        elif dicts and isinstance(s, gast.Assign) and t is None \
                and isinstance(s.targets[0].value, gast.Name) \
                and s.targets[0].value.id in dicts and loads(s.value) & varied:
            raise errors.unsupported(s, ctx, "DictStore", s.targets[0].value.id)
        elif _pop_of_an_item(s, ctx) and loads(s.value) & varied:
            # L.pop(i) (d.pop(k)) as a statement, or with its value unused (which then
            # carries no derivative): the list loses an item the reverse pass would not
            # give back, where only L.pop() of the last item is differentiated
            from .aliasing import _user_name
            raise errors.missing_rule(
                s.value, ctx, f"method {_user_name(s.value.func.value.id, ctx)}.pop(...) "
                "of an item other than the last")
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
                and not _is_append(s, ctx) and not _is_index_add(s, ctx):
            path = dotted_name(s.value.func)
            try:
                fn = ctx.lookup(path) if path and path.split(".")[0] not in ctx.local_names \
                    else None
            except KeyError:
                fn = None
            if isinstance(fn, functools.partial):   # check_float_store, its file bound
                fn = fn.func
            if fn not in SIDE_EFFECT_OK and not _pure_call(fn, s.value) \
                    and not _pure_method(s.value, ctx) and loads(s.value) & varied:
                f = s.value.func
                shown = _shown_method(f, stmts, targets, ctx) or path
                if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) \
                        and f.attr in _LIST_METHODS:
                    # (normalize lowers these on the lists the function builds)
                    kind = _LIST_METHODS[f.attr]
                    if kind == "ListSort" and ctx.var_kinds.get(f.value.id, "A") not in (
                            "L", "LS", "AL"):
                        kind = "ArraySort"
                    raise errors.unsupported(s, ctx, kind, f"{shown}()")
                if shown == path and path is not None and "." in path:
                    root, rest = path.split(".", 1)
                    shown = f"{_shown_name(root, stmts, targets, ctx)}.{rest}"
                raise errors.unsupported(s, ctx, "SideEffectCall", shown)



def _shown_method(f, stmts, targets, ctx):
    """The user's text for the method ``f`` (``recv.attr``) called in the normal form:
    the name the user wrote for its receiver (``acc`` for ``acc_2``), or for a
    temporary the expression it stands for (``a[:].sort`` of ``_t1 = a[:]``,
    ``_t1.sort()``); None where ``f`` is no method of a name."""
    from .aliasing import _user_name, _view_text
    if not (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name)):
        return None
    recv = f.value.id
    if recv not in ctx.namer.temps:
        return f"{_user_name(recv, ctx)}.{f.attr}"
    defs = {t: s.value for s, t in zip(stmts, targets)
            if t in ctx.namer.temps and isinstance(s, gast.Assign)}
    method = gast.Attribute(value=gast.Name(id=recv, ctx=gast.Load(), annotation=None,
                                            type_comment=None), attr=f.attr, ctx=gast.Load())
    text = _view_text(recv, method, ctx, defs)
    return None if text.startswith("_") else text
