"""Small helpers to build and inspect gast trees."""

from __future__ import annotations

import gast

# The constructors below build the node as ``gast.Name(id=..., ...)`` does (gast's
# ``__init__`` only stores its keyword arguments in the instance ``__dict__``), without
# the cost of calling that ``__init__``: they are called for most nodes the passes make.
_Name, _Load, _Store, _Constant, _Assign, _BinOp = gast.Name, gast.Load, gast.Store, \
    gast.Constant, gast.Assign, gast.BinOp


def name(id_, store=False):
    node = _Name.__new__(_Name)
    d = node.__dict__
    d["id"] = id_
    d["ctx"] = _Store.__new__(_Store) if store else _Load.__new__(_Load)
    d["annotation"] = None
    d["type_comment"] = None
    return node


def const(value):
    node = _Constant.__new__(_Constant)
    d = node.__dict__
    d["value"] = value
    d["kind"] = None
    return node


def binop(left, op, right):
    """``gast.BinOp(left=left, op=op, right=right)`` (``op`` an operator node), made
    without gast's keyword ``__init__``."""
    node = _BinOp.__new__(_BinOp)
    d = node.__dict__
    d["left"] = left
    d["op"] = op
    d["right"] = right
    return node


def assign(target, value, like=None):
    tgt = name(target, store=True) if isinstance(target, str) else target
    node = _Assign.__new__(_Assign)
    d = node.__dict__
    d["targets"] = [tgt]
    d["value"] = value
    d["type_comment"] = None
    if like is not None:
        copy_location(node, like)
    return node


_LOCATED = {}      # (new node class, old node class) -> location attributes both have
_MISSING = object()


def copy_location(new_node, old_node):
    """``gast.copy_location``, same result, faster: the location attributes the two
    node classes share are looked up once per pair of classes."""
    key = (new_node.__class__, old_node.__class__)
    attrs = _LOCATED.get(key)
    if attrs is None:
        attrs = _LOCATED[key] = tuple(a for a in LOCATION if a in old_node._attributes
                                      and a in new_node._attributes)
    d, nd = old_node.__dict__, new_node.__dict__
    for attr in attrs:
        v = d.get(attr, _MISSING)
        if v is _MISSING:               # (a class default: ast.expr.end_lineno is None)
            v = getattr(old_node, attr, _MISSING)
            if v is _MISSING:
                continue
        nd[attr] = v
    return new_node


def call(func, *args):
    fn = dotted(func) if isinstance(func, str) else func
    return gast.Call(func=fn, args=list(args), keywords=[])


def dotted(path):
    head, *rest = path.split(".")
    node = name(head)
    for part in rest:
        node = gast.Attribute(value=node, attr=part, ctx=gast.Load())
    return node


def dotted_name(node):
    """'np.linalg.norm' for that Attribute chain, None for anything else."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


_FIELDS = {}       # node class -> the fields that may hold nodes with names inside
_NO_NAMES = {"ctx", "op", "ops", "type_comment", "kind", "id", "attr", "level", "is_async",
             "conversion", "simple", "module"}


def _fields(cls):
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = () if cls is gast.Constant else \
            tuple(f for f in cls._fields if f not in _NO_NAMES)
        _FIELDS[cls] = fields
    return fields


def walk(node):
    """Every node inside ``node`` (itself first): the nodes ``gast.walk`` yields, in
    the same breadth-first order, as a list, several times faster."""
    todo = [node]
    for n in todo:          # the list grows while it is read
        for f in n._fields:
            v = getattr(n, f, None)
            if isinstance(v, gast.AST):
                todo.append(v)
            elif isinstance(v, list):
                todo.extend([x for x in v if isinstance(x, gast.AST)])
    return todo


def statement_children(node):
    """The children of ``node`` that may hold statements (expressions hold none), in
    field order."""
    out = []
    for f in node._fields:
        v = getattr(node, f, None)
        if isinstance(v, list):
            out.extend([x for x in v if isinstance(x, gast.AST) and not isinstance(x, gast.expr)])
        elif isinstance(v, gast.AST) and not isinstance(v, gast.expr):
            out.append(v)
    return out


def statements(stmts):
    """The statements of ``stmts`` and of the blocks inside them, in the order ``walk``
    meets them (breadth first), as a list; expressions are not entered, so this is
    much cheaper than walking every node to find statements."""
    todo = list(stmts)
    for node in todo:          # the list grows while it is read
        if node.__class__ not in _NO_STATEMENTS:
            todo.extend(statement_children(node))
    return todo


# statements whose fields hold only expressions and plain values, so that
# ``statement_children`` finds nothing in them (not ``AugAssign``: its operator is a node)
_NO_STATEMENTS = frozenset((gast.Assign, gast.AnnAssign, gast.Expr, gast.Return, gast.Delete,
                            gast.Pass, gast.Break, gast.Continue, gast.Raise, gast.Assert,
                            gast.Global, gast.Nonlocal))


def names(node):
    """Every ``Name`` node inside ``node``, depth first in field order."""
    out = []
    stack = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    Name, BinOp, Assign, Attribute, Call, Constant = _COMMON
    while stack:
        n = pop()
        cls = n.__class__
        if cls is Name:
            out.append(n)
            if n.annotation is not None:
                push(n.annotation)
        elif cls is BinOp:                 # the common nodes first, without a field loop
            push(n.right)
            push(n.left)
        elif cls is Constant:
            pass
        elif cls is Assign:
            push(n.value)
            extend(reversed(n.targets))
        elif cls is Attribute:
            push(n.value)
        elif cls is Call:
            extend(reversed(n.keywords))
            extend(reversed(n.args))
            push(n.func)
        else:
            extend(reversed(children(n)))
    return out


def contains(node, classes):
    """Whether some node inside ``node`` (itself included) is an instance of
    ``classes``, expression or statement classes: what ``walk`` would find, about
    twice as fast. Like ``names``, it does not enter the fields that hold no such
    nodes (contexts, operators, identifiers)."""
    stack = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    Name, BinOp, Constant = _COMMON[0], _COMMON[1], _COMMON[5]
    while stack:
        n = pop()
        if isinstance(n, classes):
            return True
        cls = n.__class__
        if cls is Name:
            if n.annotation is not None:
                push(n.annotation)
        elif cls is BinOp:
            push(n.right)
            push(n.left)
        elif cls is not Constant:
            extend(children(n))
    return False


def children(node):
    """The nodes directly inside ``node`` that may hold names, in field order."""
    out = []
    for f in _fields(node.__class__):
        v = getattr(node, f, None)
        if isinstance(v, list):
            out.extend([x for x in v if isinstance(x, gast.AST)])
        elif isinstance(v, gast.AST):
            out.append(v)
    return out


_COMMON = (gast.Name, gast.BinOp, gast.Assign, gast.Attribute, gast.Call, gast.Constant)


def loads(node):
    """Names read anywhere inside ``node``."""
    return {n.id for n in names(node) if isinstance(n.ctx, gast.Load)}


def stores(node):
    return {n.id for n in names(node) if isinstance(n.ctx, gast.Store)}


def is_atom(node):
    return isinstance(node, (gast.Name, gast.Constant))


def target_name(stmt):
    """The single Name an Assign writes, or None. (Called for every statement by
    several passes: the classes are compared directly, gast has no subclasses of
    them.)"""
    if stmt.__class__ is _Assign:
        targets = stmt.targets
        if len(targets) == 1 and targets[0].__class__ is _Name:
            return targets[0].id
    return None


def rename(node, mapping):
    """Rename loaded names in place according to ``mapping`` (of names to names);
    return node."""
    get = mapping.get
    for n in names(node):
        new = get(n.id)
        if new is not None and n.ctx.__class__ is _Load:
            n.id = new
    return node


LOCATION = ("lineno", "col_offset", "end_lineno", "end_col_offset")
_CONTEXTS = (gast.Load, gast.Store, gast.Del, gast.Param)


def clone(node):
    """A deep copy of a gast tree (several times faster than copy.deepcopy)."""
    if isinstance(node, list):
        return [clone(x) for x in node]
    if not isinstance(node, gast.AST):
        return node
    cls = node.__class__
    new = cls.__new__(cls)
    d, nd = node.__dict__, new.__dict__
    ctx = d.get("ctx") if cls is _Name else None
    if ctx is not None and ctx.__class__ in _CONTEXTS and not ctx.__dict__ \
            and type(d.get("id")) is str and d.get("annotation") is None \
            and d.get("type_comment") is None:
        # the most common node, its usual form made directly
        nd["id"] = d["id"]
        nd["ctx"] = ctx.__class__.__new__(ctx.__class__)
        nd["annotation"] = None
        nd["type_comment"] = None
    else:
        for f in cls._fields:
            v = d.get(f)
            if isinstance(v, gast.AST):
                vcls = v.__class__
                if not vcls._fields and not v.__dict__:    # a context or operator: no call
                    v = vcls.__new__(vcls)
                else:
                    v = clone(v)
            elif isinstance(v, list):
                v = clone(v)
            nd[f] = v
    for a in LOCATION:
        if a in d:
            nd[a] = d[a]
    if "_s2sad" in d:
        nd["_s2sad"] = dict(d["_s2sad"])
    return new


class Transformer(gast.NodeTransformer):
    """``gast.NodeTransformer`` with the same behaviour, faster: the ``visit_*`` method
    of each node class is looked up once, and nodes that hold no nodes (contexts,
    operators, constants) are not visited unless a method asks for them.

    ``changed`` becomes True when ``generic_visit`` replaces or removes a node.
    """

    _methods = None      # node class -> visit method; one table per subclass
    changed = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._methods = {}

    def _method(self, cls):
        table = type(self)._methods
        m = table.get(cls)
        if m is None:
            m = getattr(type(self), "visit_" + cls.__name__, None)
            if m is None:
                m = _leave if not _fields(cls) else type(self).generic_visit
            table[cls] = m
        return m

    def visit(self, node):
        m = type(self)._methods.get(node.__class__) or self._method(node.__class__)
        return m(self, node)

    def generic_visit(self, node):
        methods = type(self)._methods
        for f in node._fields:
            old = getattr(node, f, None)
            if isinstance(old, list):
                new_values = []
                for value in old:
                    if isinstance(value, gast.AST):
                        m = methods.get(value.__class__) or self._method(value.__class__)
                        if m is not _leave:
                            new = m(self, value)
                            if new is not value:
                                self.changed = True
                                if new is None:
                                    continue
                                if not isinstance(new, gast.AST):
                                    new_values.extend(new)
                                    continue
                            value = new
                    new_values.append(value)
                old[:] = new_values
            elif isinstance(old, gast.AST):
                m = methods.get(old.__class__) or self._method(old.__class__)
                if m is _leave:
                    continue
                new = m(self, old)
                if new is not old:
                    self.changed = True
                    if new is None:
                        delattr(node, f)
                    else:
                        setattr(node, f, new)
        return node


def _leave(self, node):
    return node


def blocks(stmts, out=None):
    """Every block of statements in ``stmts`` (itself first), depth first."""
    if out is None:
        out = []
    out.append(stmts)
    known = _HAS_BLOCKS
    for s in stmts:
        hit = known.get(s.__class__)
        if hit is None:
            hit = _has_blocks(s.__class__)
        if hit:
            for inner in (s.body, getattr(s, "orelse", None)):
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    blocks(inner, out)
    return out


_HAS_BLOCKS = {}


def _has_blocks(cls):
    hit = _HAS_BLOCKS.get(cls)
    if hit is None:
        hit = _HAS_BLOCKS[cls] = "body" in cls._fields
    return hit
