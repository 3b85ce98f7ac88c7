"""Adjoint rules as templates.

A rule is a tiny Python function whose parameters are the result and the
arguments of the primitive, and whose body states the adjoint contributions,
with ``d[v]`` meaning "the adjoint of v"::

    @adjoint(math.sin)
    def sin(z, x):
        d[x] = d[z] * math.cos(x)

The reverse pass inlines the body: parameters become the operands of the
statement being differentiated, ``d[z]`` becomes ``bz``, and ``d[x] = e``
becomes ``bx = e`` or ``bx = bx + e`` depending on whether ``bx`` already holds
a contribution. A contribution to a constant or inactive operand is dropped.
Other names assigned in the body are template temporaries and get fresh names;
remaining free names (``math``, ``np``, ``unbroadcast``) are resolved in the
rule module and reach the generated code under a collision-free name.

Keyword parameters with defaults bind call keywords: ``def sum(z, x, axis=None)``.
``variant="S"`` registers a faster template used when every argument is a
Python/NumPy scalar; ``variant="L"`` one used only when an argument is (or may be)
a list or tuple (``max(t1, t2)`` of tuples, compared item by item), with its own
tangent template (``tangent(..., variant="L")``). ``when=predicate`` registers a template used only for calls
whose atoms (template parameter -> gast node) satisfy the predicate, such as a
constant exponent: it is tried before the rules of its variant without one.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import textwrap

import gast

from .. import gastutil as G
from .. import rulestamp

RULES = {}      # primitive -> [Rule, ...]; the first whose variant and signature fit wins
NONDIFF = set()
TANGENTS = {}   # primitive -> [Rule, ...] of tangent templates: d[z] = ... d[x] ...
MULTILINEAR = {}  # primitive -> names of the arguments it is linear in (tangent: same call)


class Rule:
    def __init__(self, primitive, template, variant=None, when=None, single=None):
        self.primitive = primitive
        self.template = template
        self.variant = variant
        self.when = when
        # the rule for a call with at most one operand active (``adjoint(single=...)``)
        self.single = None if single is None else Rule(primitive, single, variant, when)
        src = textwrap.dedent(inspect.getsource(template))
        fdef = gast.parse(src).body[0]
        fdef.decorator_list = []
        self.fdef = fdef
        sig = inspect.signature(template)
        params = list(sig.parameters.values())
        self.result = params[0].name
        self.params = [p.name for p in params[1:]]
        self.defaults = {p.name: p.default for p in params[1:]
                         if p.default is not inspect.Parameter.empty}
        self.signature = inspect.Signature(params[1:])
        # the common case, binding positional arguments to plain parameters, is done
        # without Signature.bind (slow, and called for every candidate rule)
        plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[1:])
        self._positional = self.params if plain else None
        self._required = sum(p.default is inspect.Parameter.empty for p in params[1:])
        self._var_positional = [p.name for p in params[1:] if p.kind is p.VAR_POSITIONAL]
        self.body = fdef.body
        self.broadcasts = any(isinstance(n, gast.Name) and n.id == "unbroadcast"
                              for n in gast.walk(fdef))
        self.globals = template.__globals__
        # registered by s2sad's own rule modules (vetted: where an adjoint's form
        # d[x] = d[z] * E is no elementwise derivative, a tangent template or
        # multilinear says so), not by a user (forward_mode.Forward.rule_tangent)
        self.builtin = (getattr(template, "__module__", None) or "").startswith("s2sad.")
        self.locals = set()
        self.diff_params = set()
        for s in self.body:
            for t in getattr(s, "targets", []):
                if _is_adjoint_ref(t):
                    self.diff_params.add(t.slice.id)
                else:
                    self.locals |= G.stores(t)
        self._sorted_locals = sorted(self.locals)
        known = set(self.params) | {self.result}
        for n in gast.walk(fdef):
            if _is_adjoint_ref(n) and n.slice.id not in known:
                raise self.error(f"writes or reads d[{n.slice.id}], and {n.slice.id} is not "
                                 f"one of its parameters ({', '.join(sorted(known))})",
                                 n, "d[name] is the derivative of the result (the first "
                                 "parameter) or of an argument (the others)")

    _read_params = None

    @property
    def read_params(self):
        """The parameters whose ``d[p]`` the template reads or writes (of a tangent
        template: the arguments whose tangents its ``d[z]`` reads)."""
        if self._read_params is None:
            self._read_params = frozenset(
                n.slice.id for n in gast.walk(self.fdef)
                if _is_adjoint_ref(n) and n.slice.id != self.result)
        return self._read_params

    @property
    def where(self):
        """``file:line`` of the template's def, for messages."""
        code = getattr(self.template, "__code__", None)
        return f"{code.co_filename}:{code.co_firstlineno}" if code else "?"

    def error(self, what, node=None, hint=None):
        """A ``RuleError`` located at the template's line (``node``: a node of it)."""
        from ..errors import RuleError
        code = getattr(self.template, "__code__", None)
        line = code.co_firstlineno + (getattr(node, "lineno", 1) - 1) if code else None
        return RuleError(f"the derivative rule {self.template.__name__} of {self.name} {what}",
                         filename=code.co_filename if code else None, lineno=line, hint=hint)

    def fits(self, args, keywords=None):
        """Whether ``bind(args, keywords)`` would succeed."""
        if self._positional is not None and not keywords:
            return self._required <= len(args) <= len(self._positional)
        try:
            self.signature.bind(*args, **(keywords or {}))
        except TypeError:
            return False
        return True

    def applies(self, args, keywords=None):
        """``fits(args, keywords)``, and the atoms satisfy ``when`` if there is one."""
        if self.when is None and self._positional is not None and not keywords:
            return self._required <= len(args) <= len(self._positional)    # (fits)
        if not self.fits(args, keywords):
            return False
        return self.when is None or bool(self.when(self.bind(args, keywords or {})))

    @property
    def name(self):
        return getattr(self.primitive, "__name__", str(self.primitive))

    def bind(self, args, keywords):
        """Map template parameters to atoms; raise TypeError if they do not fit."""
        if self._positional is not None and not keywords:
            if not self.fits(args, keywords):
                self.signature.bind(*args)          # raises the TypeError
            mapping = dict(zip(self._positional, args))
        else:
            mapping = dict(self.signature.bind(*args, **keywords).arguments)
        for p in self._var_positional:
            mapping[p] = gast.Tuple(elts=list(mapping.get(p, ())), ctx=gast.Load())
        for p, default in self.defaults.items():
            mapping.setdefault(p, G.const(default))
        return mapping

    def instantiate(self, target, mapping, env):
        """Statements adding this rule's contributions for ``target = prim(...)``.

        ``env`` supplies: ``is_active(name)``, ``adjoint(name)``, ``inject(name, obj)``,
        ``fresh()``, ``scalar_result`` (bool) and ``contribute(var, expr) -> stmt``.
        """
        if self.single is not None and sum(
                isinstance(mapping[p], gast.Name) and env.is_active(mapping[p].id)
                for p in self.diff_params if p in mapping) < 2:
            return self.single.instantiate(target, mapping, env)
        local_names = {v: env.fresh() for v in self._sorted_locals}
        sub = _Subst(self, target, mapping, local_names, env, ())
        out = []
        temporaries = False
        # a user's template: its contributions checked to fit their arguments' shapes
        checked = None if self.builtin else getattr(env, "checked", None)
        for param, build in self._steps():
            if param is not None:          # d[param] = ...
                atom = mapping[param]
                if not (isinstance(atom, gast.Name) and env.is_active(atom.id)):
                    continue
                node = build(sub)
                if checked is not None:
                    node = checked(node, atom.id, target, self, param)
                out.append(("contrib", atom.id, node))
            else:
                out.append(("stmt", None, build(sub)))
                temporaries = True
        if not temporaries:
            return out
        # drop template temporaries that no kept statement reads
        needed = set()
        for kind, _, node in out:
            if kind == "contrib":
                needed |= G.loads(node)
        kept = []
        for kind, var, node in reversed(out):
            if kind == "stmt":
                written = G.stores(node)
                if not written & needed:
                    continue
                needed |= G.loads(node)
            kept.append((kind, var, node))
        return list(reversed(kept))

    _compiled = None

    def _steps(self):
        """The body as ``(param, build)`` pairs, made on first use: ``param`` is the
        parameter ``d[param] = value`` contributes to (``build`` makes the value), or
        None for any other statement (``build`` makes the statement): see
        ``_builder``. The template is never modified once parsed, so these stay
        valid."""
        if self._compiled is None:
            steps = []
            for s in self.body:
                if isinstance(s, gast.Pass):
                    continue
                if isinstance(s, gast.Assign) and _is_adjoint_ref(s.targets[0]):
                    steps.append((s.targets[0].slice.id, _builder(self, s.value)))
                else:
                    steps.append((None, _builder(self, s)))
            self._compiled = steps
        return self._compiled

    def _subst(self, node, target, mapping, local_names, env, keep=()):
        return _Subst(self, target, mapping, local_names, env, keep).visit(node)


_VALUE, _LEAF, _NODE, _LIST = range(4)     # how _builder makes a field of the copy


def _builder(rule, node):
    """A function ``build(sub)`` giving what ``sub.visit(G.clone(node))`` gives (``sub``
    a ``_Subst`` of ``rule`` without names to keep), in one pass that leaves ``node``
    as it is: the copy is made with the substitutions in place. What depends only on
    the template (which names are the result or temporaries, which fields hold nodes,
    which are fieldless contexts and operators) is decided here, once per template
    node. The nodes are made depth first in field order, each call once its operands
    are made, as ``visit`` would: the ``env`` is asked the same questions in the same
    order (the names it invents depend on it).
    """
    cls = node.__class__
    if cls is gast.Name:
        ident = node.id
        if ident == rule.result:
            return lambda sub: G.name(sub.target)
        if ident in rule.locals and ident not in rule.params:
            store = isinstance(node.ctx, gast.Store)
            return lambda sub: G.name(sub.local_names[ident], store)
        if ident in rule.params:
            return lambda sub: sub.param(node)
        return lambda sub: sub.global_name(ident)     # what visit_Name gives a global
    if cls is gast.Subscript and _is_adjoint_ref(node):     # what visit_Subscript gives
        p = node.slice.id
        if p == rule.result:
            return lambda sub: G.name(sub.env.adjoint(sub.target))
        return lambda sub: G.name(sub.env.adjoint(sub.mapping[p].id))
    d = node.__dict__
    fields = []
    for f in cls._fields:
        v = d.get(f)
        if isinstance(v, gast.AST):
            if not v._fields and not v.__dict__:
                fields.append((f, _LEAF, v.__class__))
            else:
                fields.append((f, _NODE, _builder(rule, v)))
        elif isinstance(v, list):
            fields.append((f, _LIST, [_builder(rule, x) if isinstance(x, gast.AST)
                                      else (lambda _, x=x: G.clone(x)) for x in v]))
        else:
            fields.append((f, _VALUE, v))
    location = {a: d[a] for a in G.LOCATION if a in d}
    annotations = d.get("_s2sad")
    is_call = cls is gast.Call
    if is_call and _is_global_call(rule, node, "unbroadcast", 2):
        operand = node.args[1]
        plain = isinstance(operand, gast.Name) and operand.id in rule.params \
            and operand.id != rule.result and operand.id not in rule.locals
        return _unbroadcast_builder(fields, location, annotations, node.func.id, plain)
    if not is_call and annotations is None \
            and [how for _, how, _ in fields] == [_NODE, _LEAF, _NODE]:
        return _binary_builder(cls, fields, location)
    # a call of a dotted function (``math.cos(x)``) is none of the helpers _call looks
    # for (their generated names have no dot)
    dotted = is_call and isinstance(node.func, gast.Attribute)

    def build(sub):
        new = cls.__new__(cls)
        nd = new.__dict__
        for f, how, x in fields:
            if how is _NODE:
                nd[f] = x(sub)
            elif how is _LEAF:
                nd[f] = x.__new__(x)
            elif how is _LIST:
                nd[f] = [b(sub) for b in x]
            else:
                nd[f] = x
        nd.update(location)
        if annotations is not None:
            nd["_s2sad"] = dict(annotations)
        if is_call and not (dotted and _ASKED in sub._helpers):
            return sub._call(new)
        return new
    return build


def _binary_builder(cls, fields, location):
    """``build`` (see ``_builder``) for a node of fields (node, operator, node): a
    ``BinOp``, the most common node of the templates, made without the loop over
    the fields."""
    (f_left, _, left), (f_op, _, op), (f_right, _, right) = fields

    def build(sub):
        new = cls.__new__(cls)
        nd = new.__dict__
        nd[f_left] = left(sub)
        nd[f_op] = op.__new__(op)
        nd[f_right] = right(sub)
        nd.update(location)
        return new
    return build


def _is_global_call(rule, node, func, nargs):
    """``node`` calls the rule module's global ``func`` with ``nargs`` positional
    arguments and no keywords."""
    f = node.func
    return isinstance(f, gast.Name) and f.id == func and f.id != rule.result \
        and f.id not in rule.locals and f.id not in rule.params \
        and len(node.args) == nargs and not node.keywords


def _unbroadcast_builder(fields, location, annotations, ident, plain):
    """``build`` for ``unbroadcast(adjoint, operand)`` in a template (``ident``: the
    global name called): the same result, in the same steps (the function's name,
    then the arguments), but when ``_Subst._call`` would drop the call (a scalar
    result, or an operand of the result's shape), the adjoint is returned without
    making the call. ``plain``: the operand is a parameter of the template, whose
    copy asks the ``env`` nothing; with a scalar result it is not even made."""
    (f_func, _, _), (f_args, _, (adjoint_build, operand_build)), (f_keywords, _, _) = fields
    assert (f_func, f_args, f_keywords) == ("func", "args", "keywords")

    def build(sub):
        func = sub.global_ident(ident)
        adjoint = adjoint_build(sub)
        if plain and sub.env.scalar_result and func == sub._helper("unbroadcast"):
            return adjoint          # what drops_unbroadcast decides once the operand is made
        args = [adjoint, operand_build(sub)]
        if sub.drops_unbroadcast(func, args):
            return adjoint
        new = gast.Call.__new__(gast.Call)
        nd = new.__dict__
        nd["func"], nd["args"], nd["keywords"] = G.name(func), args, []
        nd.update(location)
        if annotations is not None:
            nd["_s2sad"] = dict(annotations)
        return sub._call(new)
    return build


class _Subst(G.Transformer):
    """A template's statement or expression as it applies to ``target = prim(...)``."""

    def __init__(self, rule, target, mapping, local_names, env, keep):
        self.rule, self.target, self.mapping = rule, target, mapping
        self.local_names, self.env, self.keep = local_names, env, keep
        # runtime helper -> its generated name (see _helper); the env may share one
        # table between the instances of a pass
        helpers = getattr(env, "helper_names", None)
        self._helpers = {} if helpers is None else helpers

    def visit_Subscript(self, n):
        if _is_adjoint_ref(n):
            p = n.slice.id
            ref = self.target if p == self.rule.result else self.mapping[p].id
            return G.name(self.env.adjoint(ref))
        self.generic_visit(n)
        return n

    def visit_Name(self, n):
        if n.id in self.keep:
            return n
        if n.id == self.rule.result:
            return G.name(self.target)
        if n.id in self.mapping:
            return G.clone(self.mapping[n.id])
        if n.id in self.local_names:
            return G.name(self.local_names[n.id], isinstance(n.ctx, gast.Store))
        return self.global_name(n.id)

    def global_name(self, ident):
        """A name of the rule's module (``math``, ``unbroadcast``) or a builtin, as the
        generated code reaches it."""
        return G.name(self.global_ident(ident))

    def global_ident(self, ident):
        """The identifier of ``global_name(ident)``."""
        g = self.rule.globals
        obj = g[ident] if ident in g else getattr(builtins, ident, None)
        if obj is None:
            raise self.rule.error(f"uses the name {ident}, which its module does not define",
                                  hint="define or import it in the module of the rule")
        return self.env.inject(ident, obj)

    def param(self, n):
        """``visit_Name(n)`` for a name that is a parameter of the template."""
        atom = self.mapping.get(n.id)
        if atom is None:
            return self.visit_Name(n)
        return _copy_atom(atom)

    def visit_Call(self, n):
        self.generic_visit(n)
        return self._call(n)

    def _helper(self, helper):
        """``env.inject(helper, runtime.<helper>)``, asked once per instance (or per
        pass, see ``__init__``): ``inject`` gives the name it gave before, so only its
        first answer has an effect."""
        got = self._helpers.get(helper)
        if got is None:
            got = self._helpers[helper] = self.env.inject(helper, getattr(_runtime(), helper))
        return got

    def drops_unbroadcast(self, func, args):
        """Whether a call of ``func`` (a dotted name) with ``args`` is an
        ``unbroadcast(adjoint, operand)`` with nothing to do: the result is a scalar,
        or the operand surely has its shape."""
        env = self.env
        return func == self._helper("unbroadcast") \
            and (env.scalar_result or _same_shape(env, args[1], self.target))

    def _call(self, n):
        """``n`` as the generated code has it: ``unbroadcast`` dropped where it does
        nothing, a shape witness for the operand of ``sum_adjoint`` and
        ``mean_adjoint``. It asks ``_helper`` for ``unbroadcast`` and then (unless
        dropped) for those two, each instance's first ``_call`` in that order, so
        once ``_ASKED`` (the last) is known all three are (see ``_builder``)."""
        env = self.env
        func = G.dotted_name(n.func)
        if self.drops_unbroadcast(func, n.args):
            return n.args[0]
        # the helpers that read only the shape of their second argument
        if func in (self._helper("sum_adjoint"), self._helper("mean_adjoint")) \
                and len(n.args) > 1 and isinstance(n.args[1], gast.Name):
            witness = getattr(env, "witness", lambda _: None)(n.args[1].id)
            if witness is not None:
                n.args[1] = G.name(witness)
        return n


_ASKED = "mean_adjoint"      # the helper _Subst._call asks for last


def _copy_atom(atom):
    """``G.clone(atom)``, made directly for the usual atom: a loaded ``Name`` without
    annotation (the same node, with the same entries in the same order)."""
    d = atom.__dict__
    if atom.__class__ is not _Name or d.get("ctx").__class__ is not _Load \
            or d.get("annotation") is not None or d.get("type_comment") is not None \
            or type(d.get("id")) is not str or "_s2sad" in d or d["ctx"].__dict__:
        return G.clone(atom)
    new = _Name.__new__(_Name)
    nd = new.__dict__
    nd["id"] = d["id"]
    nd["ctx"] = _Load.__new__(_Load)
    nd["annotation"] = None
    nd["type_comment"] = None
    for a in G.LOCATION:
        if a in d:
            nd[a] = d[a]
    return new


_Name, _Load = gast.Name, gast.Load


def _same_shape(env, operand, target):
    """``operand`` surely has the shape of the result ``target`` (see s2sad/shapes.py)."""
    same = getattr(env, "same_shape", None)
    return same is not None and isinstance(operand, gast.Name) and same(operand.id, target)


@functools.cache
def _runtime():
    from .. import runtime
    return runtime


def _is_adjoint_ref(node):
    return (isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name)
            and node.value.id == "d" and isinstance(node.slice, gast.Name))


# ---------------------------------------------------------------------------
# The rule-author API (re-exported by s2sad.extend)

def adjoint(*primitives, variant=None, when=None, single=None):
    """Register the decorated template as the adjoint of each primitive (with
    ``when``, for the calls whose atoms satisfy that predicate only). ``single``: a
    template used instead for a call with at most one operand active, where a
    temporary the decorated one shares between operands would cost more than it
    saves."""
    def register(template):
        for prim in primitives:
            rules = RULES.setdefault(prim, [])
            rule = Rule(prim, template, variant, when, single)
            rules[:] = [r for r in rules if not (r.variant == variant and r.when is when
                                                 and r.params == rule.params)]
            rules.insert(0, rule)
            rules.sort(key=lambda r: r.when is None)      # stable: conditional ones first
            NONDIFF.discard(prim)
        rulestamp.bump()
        return template
    return register


def tangent(*primitives, variant=None):
    """Register the decorated template as the tangent (forward mode) of each primitive::

        @tangent(math.sin)
        def sin(z, x):
            d[z] = d[x] * math.cos(x)

    ``d[x]`` is the tangent of ``x``; the tangent of an inactive argument is 0
    and its terms vanish. ``variant="L"``: the tangent of the calls whose adjoint is
    the ``variant="L"`` rule (an argument is a list or tuple), and of those only.
    """
    def register(template):
        for prim in primitives:
            TANGENTS.setdefault(prim, []).insert(0, Rule(prim, template, variant))
        rulestamp.bump()
        return template
    return register


def multilinear(*primitives, args=None):
    """Declare primitives linear in each of ``args`` (default: all positional
    parameters), so their tangent is the same call with each active argument
    replaced by its tangent, summed: np.sum, np.dot, reshape, indexing...

    ``args`` names parameters (``args=("a", "b")``) or gives their positions
    (``args=(0, 1)``, as ``wrt`` does), or both; positions are kept as the names of
    the parameters there where the primitive's signature can be read. A position out
    of range or a name that is no parameter raises ``RuleError`` here."""
    import sys
    caller = sys._getframe(1)
    user = not str(caller.f_globals.get("__name__", "")).startswith("s2sad.")
    if isinstance(args, (str, int)):
        args = (args,)
    for prim in primitives:
        linear = _linear_args(prim, args, caller) if args is not None else None
        MULTILINEAR[prim] = linear
        if user:
            USER_MULTILINEAR.add(prim)
        else:
            USER_MULTILINEAR.discard(prim)
    rulestamp.bump()


USER_MULTILINEAR = set()    # primitives a user declared multilinear (not s2sad's modules)


def parameter_at(params, i):
    """The name of the parameter that takes positional argument ``i`` of a function of
    these parameters (``inspect.Parameter`` objects), or None: one of ``*args`` past its
    position."""
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                  p.VAR_POSITIONAL)]
    for k, p in enumerate(positional):
        if p.kind is p.VAR_POSITIONAL and k <= i:
            return p.name
        if k == i:
            return p.name
    return None


def _linear_args(prim, args, caller):
    """``args`` of ``multilinear(prim, args=args)`` as a tuple of parameter names (a
    position stays a position where the signature cannot be read), checked."""
    from ..errors import RuleError
    shown = getattr(prim, "__name__", repr(prim))

    def refuse(what, hint):
        return RuleError(f"s2sad.extend.multilinear({shown}, args=...): {what}",
                         filename=caller.f_code.co_filename, lineno=caller.f_lineno,
                         hint=hint)
    try:
        params = list(inspect.signature(prim).parameters.values())
    except (TypeError, ValueError):
        params = None
    names = [p.name for p in params] if params is not None else None
    out = []
    for a in args:
        if isinstance(a, bool) or not isinstance(a, (int, str)):
            raise refuse(f"{a!r} is neither a parameter name nor a position",
                         "give the parameters the function is linear in by name, "
                         "args=('a', 'b'), or by position, args=(0, 1)")
        if isinstance(a, int):
            at = parameter_at(params, a) if params is not None and a >= 0 else None
            if at is None and (params is not None or a < 0):
                count = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                            for p in params) if params is not None else 0
                raise refuse(f"position {a} is out of range: {shown} has {count} "
                             f"positional parameter(s) ({', '.join(names or [])})",
                             f"use a position between 0 and {count - 1}, or the "
                             "parameter's name")
            star = at is not None and any(p.name == at and p.kind is p.VAR_POSITIONAL
                                          for p in params)
            # (a position among *args stays one: linear in that item only)
            out.append(at if at is not None and not star else a)
        elif names is not None and a not in names \
                and not any(p.kind is p.VAR_KEYWORD for p in params):
            raise refuse(f"{a!r} is not a parameter of {shown} ({', '.join(names)})",
                         "name the parameters the function is linear in as its def "
                         "names them, or give their positions")
        else:
            out.append(a)
    return tuple(dict.fromkeys(out))


def nondiff(*primitives):
    """Declare primitives whose result carries no derivative (floor, sign, argmax...)."""
    for prim in primitives:
        NONDIFF.add(prim)
        RULES.pop(prim, None)
        TANGENTS.pop(prim, None)        # (an adjoint registered later is then the rule of
        MULTILINEAR.pop(prim, None)     # both modes, not it and an older tangent)
        USER_MULTILINEAR.discard(prim)
    rulestamp.bump()


def tangent_template(rule, args, keywords):
    """The tangent template forward mode uses for a call whose adjoint rule is ``rule``
    (``lookup``), with these atoms, or None (the tangent is then that of a
    ``multilinear`` declaration, or derived from the adjoint template): a rule of
    lists and tuples (variant 'L') has its own tangent, and only it; the template
    binding what the adjoint rule binds (``sum(x)`` or ``sum(x, start)``), else the one
    registered last that takes the call's arguments."""
    templates = TANGENTS.get(rule.primitive)
    if not templates:
        return None
    sequences = getattr(rule, "variant", None) == "L"
    templates = [r for r in templates if (r.variant == "L") == sequences]
    if not templates:
        return None
    bound = set(rule.params)
    fitting = [r for r in templates if set(r.params) == bound] \
        or [r for r in templates if r.fits(args, keywords)]
    return fitting[0] if fitting else None


def lookup(primitive, scalar_args, args=(), keywords=None, sequence_args=False):
    """The rule for ``primitive`` called with these atoms.

    Returns 'nondiff', a Rule, or None when no rule fits. Rules registered later
    take precedence; a scalar variant is preferred when every argument is a scalar,
    a sequence variant (``'L'``) taken when an argument may be a list or tuple
    (``sequence_args``), and then only.
    """
    try:
        if primitive in NONDIFF:
            return "nondiff"
        rules = RULES.get(primitive)
    except TypeError:      # unhashable callable
        return None
    if not rules:
        return None
    fitting = [rule for rule in rules if rule.applies(args, keywords)]
    if sequence_args:
        for rule in fitting:
            if rule.variant == "L":
                return rule
    fitting = [rule for rule in fitting if rule.variant != "L"]
    for rule in fitting:
        if rule.variant == ("S" if scalar_args else "A"):
            return rule
    for rule in fitting:
        if rule.variant is None:
            return rule
    return fitting[0] if fitting else next((r for r in rules if r.variant != "L"), rules[0])
