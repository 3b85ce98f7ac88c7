"""Small helpers to build and inspect gast trees."""

from __future__ import annotations

import gast


def name(id_, store=False):
    return gast.Name(id=id_, ctx=gast.Store() if store else gast.Load(),
                     annotation=None, type_comment=None)


def const(value):
    return gast.Constant(value=value, kind=None)


def assign(target, value, like=None):
    tgt = name(target, store=True) if isinstance(target, str) else target
    node = gast.Assign(targets=[tgt], value=value, type_comment=None)
    if like is not None:
        gast.copy_location(node, like)
    return node


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


def loads(node):
    """Names read anywhere inside ``node``."""
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def stores(node):
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Store)}


def is_atom(node):
    return isinstance(node, (gast.Name, gast.Constant))


def target_name(stmt):
    """The single Name an Assign writes, or None."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None


def rename(node, mapping):
    """Rename loaded names in place according to ``mapping``; return node."""
    for n in gast.walk(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in mapping:
            n.id = mapping[n.id]
    return node


_LOCATION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def clone(node):
    """A deep copy of a gast tree (several times faster than copy.deepcopy)."""
    if isinstance(node, list):
        return [clone(x) for x in node]
    if not isinstance(node, gast.AST):
        return node
    cls = node.__class__
    new = cls.__new__(cls)
    for f in node._fields:
        setattr(new, f, clone(getattr(node, f, None)))
    d = node.__dict__
    for a in _LOCATION:
        if a in d:
            setattr(new, a, d[a])
    if "_s2sad" in d:
        new._s2sad = dict(d["_s2sad"])
    return new
