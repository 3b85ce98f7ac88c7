"""A cache of what was made for functions, which goes with each function."""

from __future__ import annotations

import weakref

_NO_ENTRY = object()
_ref = weakref.ref


class FunctionCache:
    """What s2sad made for functions, by keys whose first item is the function: the
    generated code by the key of a specialization (``api._CACHE``), what a callee
    gives back to its callers' analyses (``pipeline._RETURN_KINDS``).

    A dict's interface (``get``, ``[]``, ``in``, iteration over the keys, ``len``,
    ``clear``) over one table per function, by the rest of the key, held by a weak
    reference to the function where it takes one. So what was made for a function
    goes when the function does: a closure defined anew on each pass of a loop does
    not pile up its transforms. An entry must not hold its own function strongly,
    else it would keep its key alive: a cached context holds it by a weak proxy
    (``Context.release``), a callee's return kinds by a weak reference.
    """

    def __init__(self):
        self._weak = {}         # weakref.ref(function) -> its table
        self._strong = {}       # the callables that take no weak reference

    def _gone(self, ref):
        """The weak reference's callback: the function went, and its table with it."""
        self._weak.pop(ref, None)

    def _table(self, func, make=False):
        try:
            table = self._weak.get(weakref.ref(func))       # (equal to the one kept)
        except TypeError:       # no weak reference to it (or unhashable: raised again)
            table = self._strong.get(func)
            if table is None and make:
                table = self._strong[func] = {}
            return table
        if table is None and make:
            table = self._weak[weakref.ref(func, self._gone)] = {}
        return table

    def get(self, key, default=None):
        try:
            table = self._weak.get(_ref(key[0]))
        except TypeError:
            table = self._strong.get(key[0])
        return default if table is None else table.get(key[1:], default)

    def __getitem__(self, key):
        hit = self.get(key, _NO_ENTRY)
        if hit is _NO_ENTRY:
            raise KeyError(key)
        return hit

    def __contains__(self, key):
        return self.get(key, _NO_ENTRY) is not _NO_ENTRY

    def __setitem__(self, key, value):
        self._table(key[0], make=True)[key[1:]] = value

    def __iter__(self):
        # (a copy made at once: a collection the loop's allocations trigger may drop
        # an entry meanwhile)
        for ref, table in self._weak.copy().items():
            func = ref()
            if func is not None:
                for rest in list(table):
                    yield (func,) + rest
        for func, table in self._strong.copy().items():
            for rest in list(table):
                yield (func,) + rest

    def __len__(self):
        return sum(len(t) for t in list(self._weak.values()) + list(self._strong.values()))

    def clear(self):
        self._weak.clear()
        self._strong.clear()

    def forget(self, func):
        """Drop what was made for ``func``."""
        try:
            self._weak.pop(weakref.ref(func), None)
        except TypeError:
            self._strong.pop(func, None)
