"""Annotations that passes leave on nodes, under a small Enum of keys."""

from __future__ import annotations

import enum


class Key(enum.Enum):
    COPYBACK = "copy at the end of a loop body writing a header name (SSA)"
    LOOP_EXIT = "the single 'if _brk: break' ending a loop body (desugar)"
    HEADER = "copy before a loop writing a header name (SSA)"
    JOIN = "copy at the end of an if branch writing a join name (SSA)"
    RECOMPUTE = "a primal statement redone in the reverse sweep instead of recorded (reverse)"
    INPLACE = "'x = x op v' written by the user as 'x op= v' (normal; activity checks aliasing)"
    INPLACE_ITEM = "'a[i] = a[i] op v' written by the user as 'a[i] op= v' (normal; activity)"
    UNPACK_CHECKED = ("an item of a loop's sequence that unpacks into the loop's names: its "
                      "count proven, or checked before the loop (normal)")
    ADD_AT = "'index_add(a, i, v)' written by the user as 'np.add.at(a, i, v)' (normal; aliasing)"


def set_(node, key, value=True):
    if not hasattr(node, "_s2sad"):
        node._s2sad = {}
    node._s2sad[key] = value


def get(node, key, default=None):
    return getattr(node, "_s2sad", {}).get(key, default)
