"""Stage 5 (forward mode): tangents, source to source.

Takes: SSA form with activity. Gives ``jvp_f(*params, *tangents)`` returning
``(value, tangent)``, or, for ``grad`` along scalar arguments
(``api.GradFunction.choose_mode``), ``grad_f(*params)`` seeding ``dx = 1.0`` and
returning the output's tangents: every statement defining an active name ``z``
comes with the statement defining its tangent ``dz`` (after it, or before it where
that is safe: ``Forward.quiet``). No tape: loops, branches and
in-place writes simply carry their tangents along (``da[i] = dv`` after
``a[i] = v``; ``dlst.append(dv)`` after ``lst.append(v)``). An active name
defined by an expression carrying no derivative gets the tangent ``0.0``.

Tangent rules, in order of preference: an explicit ``@tangent`` template; a
``multilinear`` primitive (the same call on the tangents, one term per active
argument); a tangent derived from an elementwise adjoint template
(``d[x] = unbroadcast(d[z] * E, x)`` gives the term ``dx * E``; of a user's rule,
``rule_tangent_term(dx * E, z)``, summed over the axes the adjoint broadcast ``d[z]``
along, so a reduction's rule ``d[v] = d[z] * 2.0 * v`` gives ``sum(dv * 2.0 * v)``).
"""

from __future__ import annotations

import inspect

import gast

from . import errors, runtime
from .activity import Classified, Powers, _is_append, _is_index_add, index_expr
from .gastutil import (
    Transformer,
    assign,
    call,
    clone,
    const,
    dotted_name,
    name,
    target_name,
    walk,
)
from .parse import own_signature
from .rules.core import (
    MULTILINEAR,
    TANGENTS,
    USER_MULTILINEAR,
    _is_adjoint_ref,
    parameter_at,
    tangent_template,
)

_OPERATOR_SYNTAX = {"add": gast.Add, "sub": gast.Sub, "mul": gast.Mult,
                    "truediv": gast.Div, "matmul": gast.MatMult}


def _same(a, b):
    """``a`` and ``b`` are the same expression of names, numbers and operators."""
    if a.__class__ is not b.__class__:
        return False
    if a.__class__ is gast.Name:
        return a.id == b.id
    if a.__class__ is gast.Constant:
        return type(a.value) is type(b.value) and a.value == b.value
    if a.__class__ is gast.BinOp:
        return a.op.__class__ is b.op.__class__ and _same(a.left, b.left) \
            and _same(a.right, b.right)
    if a.__class__ is gast.UnaryOp:
        return a.op.__class__ is b.op.__class__ and _same(a.operand, b.operand)
    return False


def _zero(node):
    return isinstance(node, gast.Constant) and node.value == 0 and node.value is not False


class _Simplify(Transformer):
    """Remove terms multiplied by a zero tangent."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        a, b = node.left, node.right
        if isinstance(node.op, gast.Mult) and (_zero(a) or _zero(b)):
            return const(0.0)
        if isinstance(node.op, (gast.Div, gast.MatMult)) and _zero(a):
            return const(0.0)
        if isinstance(node.op, gast.MatMult) and _zero(b):
            return const(0.0)
        if isinstance(node.op, gast.Add):
            if _zero(a):
                return b
            if _zero(b):
                return a
            if _same(a, b):                        # dx * x + dx * x: 2.0 * dx * x, exact
                if isinstance(a, gast.BinOp) and isinstance(a.op, gast.Mult):
                    return gast.BinOp(left=gast.BinOp(left=const(2.0), op=gast.Mult(),
                                                      right=a.left),
                                      op=gast.Mult(), right=a.right)
                return gast.BinOp(left=const(2.0), op=gast.Mult(), right=a)
        if isinstance(node.op, gast.Sub):
            if _zero(b):
                return a
            if _zero(a):
                return gast.UnaryOp(op=gast.USub(), operand=b)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, gast.USub) and _zero(node.operand):
            return const(0.0)
        return node


def derived_terms(rule):
    """Per-parameter tangent terms of an elementwise adjoint rule, or None."""
    terms = {}
    for s in rule.body:
        if not (isinstance(s, gast.Assign) and _is_adjoint_ref(s.targets[0])):
            continue
        expr = s.value
        if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Name) \
                and expr.func.id == "unbroadcast":
            expr = expr.args[0]
        if not _linear_in_seed(expr, rule.result):
            return None
        terms[s.targets[0].slice.id] = expr
    return terms


_DERIVED = {}       # rule -> _derived(rule)
_LOCALS = {}        # rule -> its local names -> their values


def _derived(rule):
    """``derived_terms(rule)``, each term with ``d[z]`` as the name ``__tangent__`` and
    the template's locals inlined: made once per rule, cloned at each use."""
    if rule not in _DERIVED:
        terms = derived_terms(rule)
        if terms is not None:
            terms = {p: _inline_locals(_Extra.tangent_refs(clone(e)), rule)
                     for p, e in terms.items()}
        _DERIVED[rule] = terms
    return _DERIVED[rule]


def _inline_locals(expr, rule):
    """``expr`` with the template's local names replaced by their values."""
    if rule not in _LOCALS:
        _LOCALS[rule] = {n.id: s.value for s in rule.body
                         if isinstance(s, gast.Assign) and not _is_adjoint_ref(s.targets[0])
                         for n in walk(s.targets[0]) if isinstance(n, gast.Name)}
    values = _LOCALS[rule]
    if not values:
        return expr
    if isinstance(expr, gast.Name) and expr.id in values:
        return clone(values[expr.id])
    for n in walk(expr):
        for field in n._fields:
            v = getattr(n, field, None)
            if isinstance(v, gast.Name) and v.id in values:
                setattr(n, field, clone(values[v.id]))
            elif isinstance(v, list):
                v[:] = [clone(values[x.id]) if isinstance(x, gast.Name) and x.id in values
                        else x for x in v]
    return expr


def _linear_in_seed(expr, result):
    """True when ``expr`` is ``d[z]`` times/over factors free of ``d[...]``."""
    if _is_adjoint_ref(expr):
        return expr.slice.id == result
    if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
        return _linear_in_seed(expr.operand, result)
    if isinstance(expr, gast.BinOp) and isinstance(expr.op, (gast.Mult, gast.Div)):
        left_has = any(_is_adjoint_ref(n) for n in gast.walk(expr.left))
        right_has = any(_is_adjoint_ref(n) for n in gast.walk(expr.right))
        if left_has and not right_has:
            return _linear_in_seed(expr.left, result)
        if right_has and not left_has and isinstance(expr.op, gast.Mult):
            return _linear_in_seed(expr.right, result)
    return False


class Forward:
    """The tangent pass. With several directions (``grad`` along several arguments,
    and the ``jvp`` of a function it calls, ``ctx.directions``), each simple statement gets the tangent statements of every direction, each
    direction with its own tangent names (``dx_da``, ``dx_db``) and its own active
    names (those depending on its argument): one sweep of the primal, the tangent
    sweeps interleaved."""

    def __init__(self, tree, ctx):
        self.ctx = ctx
        self.tree = tree
        self.namer = ctx.namer
        self.along = [None]             # per direction: the argument (None: just one)
        self.actives = [ctx.active]     # per direction: the names carrying its tangent
        self.direction = 0
        self.classify = _with_tangent_rules(Classified(ctx).op)   # once per assignment
        self.templates = {}             # (id(statement), key) -> (it, instantiated)

    @property
    def active(self):
        return self.actives[self.direction]

    def tangent(self, n):
        return self.namer.tangent(n, self.along[self.direction])

    def dt(self, atom):
        """The tangent of an atom: its tangent name, or 0.0 if it carries none."""
        if isinstance(atom, gast.Name) and atom.id in self.active:
            return name(self.tangent(atom.id))
        return const(0.0)

    def helper(self, n):
        return name(self.ctx.inject(n, getattr(runtime, n)))

    def block(self, stmts):
        out = []
        self.powers = Powers(self.ctx.var_kinds)
        for s in stmts:
            if isinstance(s, gast.If):
                s.body = self.block(s.body)
                s.orelse = self.block(s.orelse)
                self.powers = Powers(self.ctx.var_kinds)
                out.append(s)
            elif isinstance(s, (gast.For, gast.While)):
                s.body = self.block(s.body)
                self.powers = Powers(self.ctx.var_kinds)
                out.append(s)
            elif self.is_call_site(s):
                self.powers.note(s)
                out.append(self.call_site(s, target_name(s), self.classify(s)))
            else:
                self.powers.note(s)
                before, after = [], []
                for j in range(len(self.along)):
                    self.direction = j
                    b, a = self.statement(s)
                    before += b
                    after += a
                self.direction = 0
                out += before + [s] + after
        return out

    def is_call_site(self, s):
        """``t = g(...)`` of a user function whose result (or a list it fills) carries
        a tangent along some direction: replaced by a call of ``g``'s tangent code."""
        if not (isinstance(s, gast.Assign) and target_name(s) is not None):
            return False
        op = self.classify(s)
        if op.kind != "call":
            return False
        t = target_name(s)
        return any(t in active or op.operand_names() & self.ctx.mutable & active
                   for active in self.actives)

    def statement(self, s):
        """The tangent statements of the simple statement ``s`` along the current
        direction: (those going before ``s``, those going after)."""
        if isinstance(s, gast.Assign) and target_name(s) is None:
            base = s.targets[0].value.id
            if base in self.active:
                store = gast.Subscript(value=name(self.tangent(base)),
                                       slice=clone(s.targets[0].slice), ctx=gast.Store())
                return [], [assign(store, self.dt(s.value))]
        elif isinstance(s, gast.Assign):
            t = target_name(s)
            if t in self.active:
                return self.assignment(s, t)
            op = self.classify(s)
            if op.kind == "pop" and op.args[0].id in self.active:
                pop = gast.Attribute(value=name(self.tangent(op.args[0].id)),
                                     attr="pop", ctx=gast.Load())
                return [], [gast.Expr(value=call(pop))]
        elif _is_index_add(s, self.ctx):
            a, index, g = s.value.args
            if a.id in self.active and isinstance(g, gast.Name) and g.id in self.active:
                return [], [gast.Expr(value=call(clone(s.value.func),
                                                 name(self.tangent(a.id)), clone(index),
                                                 name(self.tangent(g.id))))]
        elif _is_append(s, self.ctx):
            lst = s.value.func.value.id
            if lst in self.active:
                push = gast.Attribute(value=name(self.tangent(lst)), attr="append",
                                      ctx=gast.Load())
                v = s.value.args[0]
                d = self.dt(v)
                if _zero(d) and isinstance(v, gast.Name) \
                        and self.ctx.var_kinds.get(v.id) != "S":
                    # a tuple or array without a tangent: its zero has its structure (the
                    # item may be read by index where it is popped: jvp of a bwd reads
                    # dT[0] of a tuple T it recorded)
                    d = call(self.helper("zeros_like"), clone(v))
                return [], [gast.Expr(value=call(push, d))]
        return [], []

    def define(self, t, expr, like):
        if self.zero_sum(expr):
            expr = const(0.0)           # add_adjoints of zeros: a zero, as below
        if t in self.ctx.mutable and not isinstance(expr, gast.Constant):
            expr = call(self.helper("owned"), expr)
        elif t in self.ctx.mutable or (_zero(expr) and self.ctx.var_kinds.get(t) != "S"):
            expr = call(self.helper("zeros_like"), name(t))     # a zero of the right shape
        return assign(self.tangent(t), expr, like=like)

    def zero_sum(self, expr):
        """``expr`` is ``add_adjoints`` of zero tangents (the tangent of adding adjoints
        neither of which depends on the direction)."""
        if not (isinstance(expr, gast.Call) and not expr.keywords and expr.args
                and all(_zero(a) for a in expr.args)):
            return False
        path = dotted_name(expr.func)
        try:
            return path is not None and self.ctx.lookup(path) is runtime.add_adjoints
        except KeyError:
            return False

    def assignment(self, s, t):
        """The tangent of ``t = <operation>``: ([it], []) when it may go first (see
        ``quiet``), else ([], [it])."""
        op = self.classify(s)
        if op.kind == "copy":       # (of a name; or p.a of p = P(x, y), a copy of x)
            expr = self.dt(op.args[0])
        elif op.kind == "pack":
            elts = [self.dt(a) for a in op.args]
            # a zero tangent of an item that is a list, tuple or array has its structure
            elts = [call(self.helper("zeros_like"), name(a.id))
                    if _zero(e) and isinstance(a, gast.Name)
                    and self.ctx.var_kinds.get(a.id) != "S" else e
                    for a, e in zip(op.args, elts)]
            if op.func is not None:         # P(x, y) of a record class: by field
                raw = [self.dt(a) for a in op.args]        # (no tangent: a zero there)
                if op.keys[0] is None:      # dataclasses.replace(p, w=v): p's tangent
                    expr = call(self.helper("replace_tangent"), raw[0], name(t))
                else:
                    expr = call(self.helper("record_tangent"), name(t))
                # (a field replaced by a constant gets the zero tangent)
                expr.keywords = [gast.keyword(arg=k, value=e) for k, e in zip(op.keys, raw)
                                 if k is not None and (op.keys[0] is None or not _zero(e))]
            elif isinstance(s.value, gast.Dict):
                expr = gast.Dict(keys=[const(k) for k in op.keys], values=elts)
            else:
                expr = (gast.List if isinstance(s.value, gast.List) else gast.Tuple)(
                    elts=elts, ctx=gast.Load())
        elif op.kind == "rule" and not op.operand_names() & self.active:
            expr = const(0.0)       # nothing it reads carries a tangent (t is active for
            #                         a later change in place: a callee appending to it)
        elif op.kind == "rule":
            expr = self.power_tangent(t)
            if expr is None:
                expr = self.rule_tangent(s, t, op)
        elif op.kind == "pop" and op.args[0].id in self.active:
            expr = call(gast.Attribute(value=name(self.tangent(op.args[0].id)), attr="pop",
                                       ctx=gast.Load()))
        else:
            expr = const(0.0)
        expr = _Simplify().visit(expr)
        if op.kind == "rule" and op.rule.broadcasts and self.ctx.var_kinds.get(t) != "S" \
                and not self.fits(expr, op):
            expr = call(self.helper("fit"), expr, name(t))
        tangent = self.define(t, expr, s)
        if self.quiet(tangent.value, t):
            return [tangent], []
        return [], [tangent]

    def power_tangent(self, t):
        """The tangent of a product of one scalar and numbers, ``t = c * x**k`` with
        ``k >= 2`` (``activity.Powers``): ``k * c * dx * x**(k-1)``, or None."""
        hit = self.powers.derivative(t)
        if hit is None or hit[0] not in self.active:
            return None
        x, coef, w = hit
        d = name(self.tangent(x))
        if coef != 1:
            d = gast.BinOp(left=const(float(coef)), op=gast.Mult(), right=d)
        return gast.BinOp(left=d, op=gast.Mult(), right=name(w))

    def fits(self, expr, op):
        """The tangent ``expr`` of a broadcasting operation's array result has that
        result's shape already: a zero (``define`` shapes it), or the tangent of an
        operand every other operand of which is a scalar. Any other tangent may have
        the shape of one operand only (``C + x``, ``x`` a scalar and ``C`` an array,
        has the tangent ``dx``), so ``runtime.fit`` broadcasts it."""
        if _zero(expr):
            return True
        if not isinstance(expr, gast.Name):
            return False
        primal = self.namer.tangent_of.get(expr.id)
        kinds = self.ctx.var_kinds
        for a in list(op.args) + list(op.keywords.values()):
            if isinstance(a, gast.Name):
                if a.id != primal and kinds.get(a.id) != "S":
                    return False
            elif not (isinstance(a, gast.Constant) and type(a.value) in (int, float)):
                return False
        return primal is not None

    def quiet(self, expr, t):
        """``expr``, a tangent of ``t``, may go before the statement defining ``t``:
        it does not read ``t`` and cannot raise (``+ - *`` of scalars and numbers).

        The statement after it may then rebind what it reads, and the clean-up
        inlines it there: ``dg_2 = dg_1 * u + dx * g_1; g_2 = g_1 * u; dg_1 = dg_2;
        g_1 = g_2`` becomes ``dg_1 = dg_1 * u + dx * g_1; g_1 = g_1 * u``, the
        tangent recurrence as one writes it. A tangent that could raise stays
        after its primal, which raises first, as the function does."""
        kinds, primal_of = self.ctx.var_kinds, self.namer.tangent_of
        for n in walk(expr):
            cls = n.__class__
            if cls is gast.Name:
                if n.id == t or kinds.get(primal_of.get(n.id, n.id)) != "S":
                    return False
            elif cls is gast.Constant:
                if type(n.value) not in (int, float):
                    return False
            elif cls is gast.BinOp:
                if n.op.__class__ not in (gast.Add, gast.Sub, gast.Mult):
                    return False
            elif cls is gast.UnaryOp:
                if n.op.__class__ not in (gast.USub, gast.UAdd):
                    return False
            elif not isinstance(n, (gast.Load, gast.operator, gast.unaryop)):
                return False
        return True

    def rule_tangent(self, s, t, op):
        prim = op.rule.primitive
        # none (max(x, y) where only max(xs) has a tangent template): the tangent is
        # derived from the adjoint rule as without a template
        template = tangent_template(op.rule, op.args, op.keywords)
        if template is not None:
            return self.from_template(s, template, t, op)
        if prim in MULTILINEAR:
            return self.multilinear(s, prim, op)
        terms = _derived(op.rule)
        if terms is None:
            raise errors.missing_rule(s.value, self.ctx, f"{op.what} (forward mode)",
                                      mode="forward")
        mapping = op.bind()
        pieces = []
        for p, expr in terms.items():
            atom = mapping.get(p)
            if not (isinstance(atom, gast.Name) and atom.id in self.active):
                continue
            _, piece = self.instantiated(s, p, lambda e=expr: (None, self.substitute(
                op.rule, clone(e), t, mapping, {"__tangent__"}, inlined=True)))
            pieces.append(_Extra({"__tangent__": self.dt(atom)}).visit(piece))
        if not op.rule.builtin:
            # a user's rule d[x] = d[z] * E broadcasts d[z] against E: its tangent sums
            # dx * E over the axes that broadcast added (z = np.sum(v * v): the tangent
            # sum(dv * 2v), not dv * 2v), each term brought to z's shape
            pieces = [p if self.within_result(p, t) else
                      call(self.helper("rule_tangent_term"), p, name(t)) for p in pieces]
        return _sum(pieces)

    def within_result(self, term, t):
        """The tangent term ``term`` of the result ``t`` reads nothing but scalars,
        numbers and ``t``: it cannot be larger than ``t`` (nothing to sum over; a
        scalar of an array ``t``, where the rule broadcasts, is fitted as any rule's)."""
        kinds, primal_of = self.ctx.var_kinds, self.namer.tangent_of
        funcs = {id(n) for c in walk(term) if isinstance(c, gast.Call) for n in walk(c.func)}
        for n in walk(term):
            if id(n) in funcs:
                continue
            if isinstance(n, gast.Name):
                if n.id != t and kinds.get(primal_of.get(n.id, n.id)) != "S":
                    return False
            elif isinstance(n, gast.Constant):
                if type(n.value) not in (int, float):
                    return False
            elif isinstance(n, (gast.Attribute, gast.Subscript)):
                return False
        return True

    def instantiated(self, s, key, make):
        """``make()``, ``(info, expression)``: a template expression instantiated for
        statement ``s``, its tangents still placeholders, made once for all
        directions; a copy of the expression each time."""
        hit = self.templates.get((id(s), key))
        if hit is None or hit[0] is not s:
            hit = self.templates[(id(s), key)] = (s, make())
        info, expr = hit[1]
        return info, clone(expr)

    def substitute(self, rule, expr, t, mapping, keep, inlined=False):
        """Instantiate a template expression: its local names inlined (unless
        ``inlined``: done already), parameters -> atoms, globals injected; the
        names in ``keep`` (placeholders of tangents) left as they are."""
        if not inlined:
            expr = _inline_locals(expr, rule)
        return rule._subst(expr, t, mapping, {}, _Env(self), keep=keep)

    def from_template(self, s, rule, t, op):
        # a runtime helper with a tangent template and no adjoint rule: its template binds
        mapping = rule.bind(op.args, op.keywords) if isinstance(op.rule, _TangentOnly) \
            else op.bind()
        if not rule.builtin:
            # a user's template reading no d[p] for an argument carrying a tangent would
            # drop it (with an adjoint rule too, activity._check_user_rules refuses it)
            for p in rule.params:
                atom = mapping.get(p)
                if p not in rule.read_params and isinstance(atom, gast.Name) \
                        and atom.id in self.active:
                    raise errors.rule_drops_argument(s.value, self.ctx, rule, p, tangent=True)
        atoms = {}          # placeholder -> the atom whose tangent it stands for

        def make():
            body = [x for x in rule.body if isinstance(x, gast.Assign)
                    and _is_adjoint_ref(x.targets[0]) and x.targets[0].slice.id == rule.result]
            expr = _Tangents(mapping, atoms).visit(clone(body[0].value))
            return atoms, self.substitute(rule, expr, t, mapping, set(atoms))

        placeholders, expr = self.instantiated(s, rule, make)
        return _Extra({k: self.dt(a) for k, a in placeholders.items()}).visit(expr)

    def multilinear(self, s, prim, op):
        linear_in = MULTILINEAR[prim]
        value = s.value
        args = list(op.args)
        keywords = dict(op.keywords)
        try:
            params = list(inspect.signature(prim).parameters.values())
        except (TypeError, ValueError):
            params = None
        # a declaration of the user's: an argument carrying a derivative that it does not
        # say the function is linear in is refused, not dropped (s2sad's own leave out
        # what gives only shapes, indices or flags)
        user = prim in USER_MULTILINEAR
        terms = []
        for i, a in enumerate(args):
            pname = parameter_at(params, i) if params else None
            if linear_in is not None and pname not in linear_in and i not in linear_in:
                if user and isinstance(a, gast.Name) and a.id in self.active:
                    raise errors.not_multilinear_in(s.value, self.ctx, prim, linear_in,
                                                    pname if pname is not None else i)
                continue
            if not (isinstance(a, gast.Name) and a.id in self.active):
                continue
            new_args = [clone(x) for x in args]
            new_args[i] = self.dt(a)
            terms.append(self.rebuild(value, prim, new_args, keywords))
        for k, a in keywords.items():
            if not (isinstance(a, gast.Name) and a.id in self.active):
                continue
            if linear_in is not None and k not in linear_in:
                if user:
                    raise errors.not_multilinear_in(s.value, self.ctx, prim, linear_in, k)
                if params is None or k in [p.name for p in params]:
                    continue      # a parameter the function is not differentiated in
            if params is None and linear_in is None:
                raise errors.missing_rule(s.value, self.ctx, f"{op.what} with {k}= (forward "
                                          "mode): pass it positionally", mode="forward")
            new_kw = dict(keywords)
            new_kw[k] = self.dt(a)
            terms.append(self.rebuild(value, prim, [clone(x) for x in args], new_kw))
        return _sum(terms)

    def rebuild(self, value, prim, args, keywords):
        """``value`` (a call, operator or subscript) applied to other arguments."""
        if isinstance(value, gast.Subscript):
            return gast.Subscript(value=args[0], slice=clone(value.slice), ctx=gast.Load())
        if isinstance(value, gast.BinOp):
            return gast.BinOp(left=args[0], op=type(value.op)(), right=args[1])
        if isinstance(value, gast.Attribute):       # x.T
            return gast.Attribute(value=args[0], attr=value.attr, ctx=gast.Load())
        func = value.func
        if isinstance(func, gast.Attribute) and len(args) == len(value.args) + 1:
            func = gast.Attribute(value=args[0], attr=func.attr, ctx=gast.Load())
            args = args[1:]
        kws = [gast.keyword(arg=k, value=clone(v)) for k, v in keywords.items()]
        return gast.Call(func=clone(func), args=args, keywords=kws)

    def call_site(self, s, t, op):
        """``t = helper(...)`` -> ``t, dt = jvp_helper(..., tangents of active args)``;
        along several directions ``t, dt_da, dt_db = jvp_helper(..., tangents along a,
        tangents along b)`` (an argument carrying no tangent along one direction gets
        a zero there)."""
        from . import api, pipeline
        k = len(self.along)
        mapping, kinds, params = pipeline.bind_call(op, self.ctx.var_kinds, self.ctx, s.value)
        wrt = tuple(i for i, p in enumerate(params) if p in mapping
                    and isinstance(mapping[p], gast.Name)
                    and any(mapping[p].id in active for active in self.actives))
        try:
            fn = api.compiled(op.func, wrt, True, "jvp", kinds, callee=True,
                              directions=k,
                              receivers=pipeline.callee_receivers(mapping, self.ctx,
                                                                 op.func, s.value)).function
        except errors.S2SADError as exc:
            raise errors.in_helper(exc, op.func, s.value, self.ctx) from None
        jvp_name = name(self.ctx.inject("jvp_" + op.func.__name__.strip("<>"), fn))
        sig = own_signature(op.func).parameters
        args, keywords = [], []
        for p in params:
            if p in mapping:
                value = clone(mapping[p])
            elif isinstance(sig[p].default, (int, float, bool, str, type(None))):
                value = const(sig[p].default)
            else:
                # the default object itself, as Python passes it (one the function
                # changes in place is refused: activity._check_mutable_defaults)
                value = name(self.ctx.inject(
                    f"{op.func.__name__.strip('<>')}_default_{p}", sig[p].default))
            if p in sig and sig[p].kind is inspect.Parameter.KEYWORD_ONLY:  # the tape of fwd_f
                keywords.append(gast.keyword(arg=p, value=value))
            else:
                args.append(value)
        tangents, targets = [], [name(t, store=True)]
        for j in range(k):
            self.direction = j
            for i in wrt:
                atom = mapping[params[i]]
                d = self.dt(atom)
                if _zero(d) and kinds[params[i]] != "S":
                    d = call(self.helper("zeros_like"), name(atom.id))
                tangents.append(d)
            targets.append(name(self.tangent(t) if t in self.active else self.namer.temp(),
                                store=True))
        self.direction = 0
        target = gast.Tuple(elts=targets, ctx=gast.Store())
        value = gast.Call(func=jvp_name, args=args + tangents, keywords=keywords)
        return assign(target, value, like=s)

    def run(self):
        ctx = self.ctx
        ctx.primal_temps = set(ctx.namer.temps)     # the clean-up keeps what may raise
        tree = self.tree
        ret = tree.body[-1]
        gradient = ctx.output in ("grad", "value_and_grad")
        if gradient and len(ctx.wrt) > 1:
            self.along = list(ctx.wrt_names)
            self.actives = [ctx.active_by[p] for p in self.along]
        elif ctx.directions > 1:        # a callee's jvp: its tangents along 1, 2, ...
            self.along = [str(j + 1) for j in range(ctx.directions)]
            self.actives = [ctx.active] * ctx.directions
        body = self.globals_written() + self.block(tree.body[:-1])
        y = ret.value
        if gradient:
            return self.gradient(tree, body, y, ret)
        out = [clone(y)]
        for j in range(len(self.along)):
            self.direction = j
            for p in ctx.wrt_names:
                tree.args.args.append(gast.Name(id=self.tangent(p), ctx=gast.Param(),
                                                annotation=None, type_comment=None))
            d = self.dt(y)
            out.append(call(self.helper("zeros_like"), clone(y)) if _zero(d) else d)
        self.direction = 0
        tree.args.defaults = []
        result = gast.Tuple(elts=out, ctx=gast.Load())
        tree.body = body + [gast.copy_location(gast.Return(value=result), ret)]
        tree.name = self.namer.fresh(f"jvp_{ctx.name}")
        return tree

    def globals_written(self):
        """``dG = zeros_like(G)`` for a global array, list or dict the function stores a
        value carrying a tangent into (``G[0] = 2.0 * x``): its tangent starts at zero."""
        ctx = self.ctx
        out = []
        # so does a list parameter not differentiated along that the function (or a
        # callee it gives the list to) appends a value carrying a tangent to
        # (``L.append(x * x)`` along ``x``): a zero for each item it holds
        others = [p for p in ctx.params if p not in ctx.wrt_names]
        for g in [*sorted(ctx.global_stores), *others]:
            for j in range(len(self.along)):
                self.direction = j
                if g in self.active:
                    out.append(assign(self.tangent(g), call(self.helper("zeros_like"),
                                                            name(g))))
        self.direction = 0
        return out

    def gradient(self, tree, body, y, ret):
        """``grad`` in forward mode, of a function of a few scalar arguments: the
        tangent code with the seeds ``dx = 1.0`` (along several arguments ``a``, ``b``:
        ``da_da = 1.0``, ``db_db = 1.0``, the other tangents structurally zero) first,
        returning the output's tangents (after the check that the output is a
        scalar, where its kind is not known)."""
        ctx = self.ctx
        seeds, grads = [], []
        for j, p in enumerate(ctx.wrt_names):
            self.direction = j
            if p in self.active:
                seeds.append(assign(self.tangent(p), const(1.0)))
            g = self.dt(y)
            grads.append(call(self.helper("zeros_like"), name(p)) if _zero(g) else g)
        self.direction = 0
        check = []
        if not (isinstance(y, gast.Constant) and type(y.value) in (int, float)) \
                and not (isinstance(y, gast.Name) and ctx.var_kinds.get(y.id) == "S"):
            check.append(gast.Expr(value=call(self.helper("seed"), clone(y))))
            # an output that may be a 0-d array has a 0-d array for a tangent: the
            # gradient is a number, as reverse mode gives it
            grads = [call(self.helper("scalar_tangent"), g) if not _zero(g) else g
                     for g in grads]
            # checked where it is made, before its tangent: the tangent of what is no
            # number (self.s * x of a string) would raise a bare TypeError first, where
            # reverse mode raises NonScalarOutputError
            made = [i for i, s in enumerate(body) if isinstance(s, gast.Assign)
                    and isinstance(y, gast.Name) and target_name(s) == y.id]
            if made and not any(isinstance(n, gast.Name) and n.id == y.id
                                and isinstance(n.ctx, gast.Store)
                                for s in body[made[-1] + 1:] for n in walk(s)):
                body.insert(made[-1] + 1, check.pop())      # (its last assignment)
        g = gast.Tuple(elts=grads, ctx=gast.Load()) if ctx.wrt_tuple else grads[0]
        if ctx.output == "value_and_grad":
            g = gast.Tuple(elts=[clone(y), g], ctx=gast.Load())
        tree.body = seeds + body + check + [gast.copy_location(gast.Return(value=g), ret)]
        tree.name = self.namer.fresh(f"{ctx.output}_{ctx.name}")
        return tree


class _Extra(Transformer):
    """Replace the names of ``extra`` (``__tangent__``, ``__d_x``) by their values."""

    def __init__(self, extra):
        self.extra = extra

    @staticmethod
    def tangent_refs(expr):
        """``expr`` with every ``d[...]`` as the name ``__tangent__``."""
        if _is_adjoint_ref(expr):
            return name("__tangent__")
        for n in walk(expr):
            for field in n._fields:
                if _is_adjoint_ref(getattr(n, field, None)):
                    setattr(n, field, name("__tangent__"))
        return expr

    def visit_Name(self, n):
        if n.id in self.extra:
            return clone(self.extra[n.id])
        return n


class _Tangents(Transformer):
    """``d[x]`` in a tangent template -> the placeholder ``__d_x``, recording in
    ``atoms`` the atom bound to ``x``, whose tangent it stands for."""

    def __init__(self, mapping, atoms):
        self.mapping, self.atoms = mapping, atoms

    def visit_Subscript(self, n):
        if _is_adjoint_ref(n):
            key = f"__d_{n.slice.id}"
            self.atoms[key] = self.mapping[n.slice.id]
            return name(key)
        self.generic_visit(n)
        return n


def _sum(terms):
    if not terms:
        return const(0.0)
    out = terms[0]
    for t in terms[1:]:
        out = gast.BinOp(left=out, op=gast.Add(), right=t)
    return out


class _Env:
    def __init__(self, fwd):
        self.fwd = fwd
        self.scalar_result = True     # unbroadcast is never needed for tangents

    def adjoint(self, n):
        return self.fwd.tangent(n)

    def inject(self, n, obj):
        return self.fwd.ctx.inject(n, obj)

    def fresh(self):
        return self.fwd.namer.temp()

    def is_active(self, n):
        return n in self.fwd.active


def run(tree, ctx):
    from .activity import guard_inplace, guard_stores
    ctx.edges = None        # (the reverse pass's, see reverse.Reverse.tape_for)
    guard_stores(tree, ctx)
    guard_inplace(tree, ctx)
    return Forward(tree, ctx).run()


__all__ = ["run", "index_expr"]


class _TangentOnly:
    """What ``rule_tangent`` reads of a rule, for a function with a tangent rule (or
    declared multilinear) but no adjoint rule: a runtime helper of generated code
    (``slice_adjoint``...), met when a gradient is differentiated in forward mode."""

    broadcasts = False
    params = ()

    def __init__(self, primitive):
        self.primitive = primitive


def _with_tangent_rules(classify):
    """``classify``, but a call of a function that has a tangent rule and no adjoint
    rule (classified as a call of code to transform, as reverse mode needs) is the
    rule's: its tangent is the rule's, not that of its code."""
    def op(s):
        found = classify(s)
        if found.kind == "call":
            try:
                tangent = found.func in MULTILINEAR or found.func in TANGENTS
            except TypeError:               # unhashable
                tangent = False
            if tangent:
                found.kind, found.rule = "rule", _TangentOnly(found.func)
        return found
    return op
