"""The one place that invents names for generated code.

Every name the passes create comes from a :class:`Namer` that knows all the
names of the user's function (locals, parameters, globals it reads), so a
generated name can never capture or shadow a user name:

=========  ===========================================
``bx``     adjoint of ``x`` (reverse mode)
``nbx``    minus the adjoint of ``x`` (``signs``: its readers absorb the sign)
``dx``     tangent of ``x`` (forward mode)
``dx_da``  tangent of ``x`` along argument ``a`` (forward mode, several arguments)
``x_1``    second version of ``x`` after SSA renaming
``_t1``    temporary of the three-address form
``_c1``    value of an ``if`` test
``_n1``    trip count of a loop
``_tape``  the stack of values recorded for the reverse sweep
=========  ===========================================

When a preferred spelling is taken, a numeric suffix is added (``bx_1``).
"""

from __future__ import annotations


class Namer:
    def __init__(self, reserved=()):
        self.taken = set(reserved)
        self._counters = {}
        self._adjoints = {}
        self._tangents = {}
        self.tangent_of = {}       # tangent name -> the name it is the tangent of
        self.primal_of = {}        # adjoint or tangent name -> the name it is that of
        self._derivatives = set()
        self.temps = set()
        self.rule_temps = set()    # temporaries of adjoint templates (optimize._rule_temps)
        self.made = set()          # every name invented here (none of the user's)

    def reserve(self, names):
        self.taken.update(names)

    def fresh(self, base):
        """``base`` if free, else ``base_1``, ``base_2``, ..."""
        if base not in self.taken:
            self.taken.add(base)
            self.made.add(base)
            return base
        i = self._counters.get(base, 0)
        while True:
            i += 1
            cand = f"{base}_{i}"
            if cand not in self.taken:
                self._counters[base] = i
                self.taken.add(cand)
                self.made.add(cand)
                return cand

    def numbered(self, prefix):
        """``_t1``, ``_t2``, ... for a prefix such as ``_t``."""
        i = self._counters.get(prefix, 0)
        while True:
            i += 1
            cand = f"{prefix}{i}"
            if cand not in self.taken:
                self._counters[prefix] = i
                self.taken.add(cand)
                self.made.add(cand)
                return cand

    def temp(self, block_local=True):
        """A temporary of the three-address form, read only in the block that writes it
        (``block_local``), or living on after an ``if`` (conditional expressions)."""
        t = self.numbered("_t")
        if block_local:
            self.temps.add(t)
        return t

    def adjoint(self, name):
        if name not in self._adjoints:
            self._adjoints[name] = b = self.fresh("b" + name)
            self._derivatives.add(b)
            self.primal_of[b] = name
        return self._adjoints[name]

    def tangent(self, name, along=None):
        """The tangent of ``name``: ``dx``; along one of several directions, the
        derivative with respect to the argument ``along``: ``dx_da``."""
        key = name if along is None else (name, along)
        if key not in self._tangents:
            d = self.fresh("d" + name if along is None else f"d{name}_d{along}")
            self._tangents[key] = d
            self._derivatives.add(d)
            self.tangent_of[d] = name
            self.primal_of[d] = name
        return self._tangents[key]

    def is_derivative(self, name):
        """``name`` is an adjoint or a tangent this namer made (written once per
        definition by the passes, never by the user)."""
        return name in self._derivatives
