"""The kinds of values that generated code is specialized on (``activity.infer_kinds``,
``api.kind_of``).

``'S'``: surely a Python or NumPy scalar; ``'A<n>'`` (``'A1'``, ``'A2'``, ...): an
ndarray of ``n >= 1`` dimensions; ``'A'``: may be an array, of any number of
dimensions (0-d arrays, ndarray subclasses, other objects); ``'LS'``: a list or
tuple of scalars; ``'L'``: other lists and tuples; ``'AL'``: may or may not be a
list or tuple. Every test of "may be an array" goes through :func:`is_array_kind`,
every use of the number of dimensions through :func:`array_ndim`: an ``'A2'`` is
neither a scalar nor a 1-D array.
"""

from __future__ import annotations

# kinds[p + DICT_ITEMS] == 'S': the dict argument ``p`` (of kind 'L') holds scalars only
# (``api.dict_kind``), so an item read of it (``p["w"]``, the dict unchanged in the
# function) is a scalar (``activity.infer_kinds``)
DICT_ITEMS = "{}"
# kinds[p + ROW_ITEMS] == 'LS': the list or tuple argument ``p`` (of kind 'L') holds
# lists or tuples of scalars only (``api.rows_kind``), so an item read of it
# (``points[i]``, ``for x, y in points``, the list unchanged in the function) is an 'LS'
ROW_ITEMS = "[]"


def array_ndim(kind):
    """``n`` for the kind ``'A<n>'`` of an array surely of ``n >= 1`` dimensions, else
    None (``'A'``, an array of unknown dimensions, included)."""
    if kind and kind[0] == "A" and kind[1:].isdigit():
        return int(kind[1:])
    return None


def is_array_kind(kind):
    """``kind`` is that of an array: ``'A'`` or ``'A<n>'`` (not a list, not a scalar)."""
    return kind == "A" or array_ndim(kind) is not None


def array_kind(ndim):
    """The kind of an array of ``ndim`` dimensions: ``'S'`` for none (the item of an
    array indexed by as many integers as it has dimensions), else ``'A<ndim>'``."""
    return "S" if ndim == 0 else f"A{ndim}"


def join_kinds(a, b):
    """The kind of a name that holds a value of kind ``a`` or one of kind ``b`` (at a
    join of branches, around a loop): ``'A'`` for arrays of different dimensions or
    an array and a scalar (an ``'A2'`` and an ``'A1'`` make an ``'A'``, never an
    ``'A1'``), ``'L'`` for two kinds of lists, ``'AL'`` for a list and anything else.
    Indexing an ``'A<n>'`` with ``k <= n`` integers gives an ``'A<n-k>'`` (an ``'S'``
    for ``k == n``), indexing an ``'LS'`` with an integer an ``'S'``
    (``activity._kind_of_value``)."""
    if a == b:
        return a
    if a in ("L", "LS") and b in ("L", "LS"):
        return "L"
    if a in ("L", "LS", "AL") or b in ("L", "LS", "AL"):
        return "AL"     # perhaps a list or tuple, perhaps not
    return "A"
