"""The rule-author API, kept apart from the user API.

Register the adjoint of a library function as a template::

    from s2sad.extend import adjoint, d

    @adjoint(scipy.special.expit)
    def expit(z, x):
        d[x] = d[z] * z * (1.0 - z)

``d[v]`` stands for the adjoint of ``v``; see :mod:`s2sad.rules.core`.
``nondiff(f, ...)`` declares functions whose result carries no derivative.
"""

from .rules.core import RULES, adjoint, nondiff
from .runtime import unbroadcast

d = {}   # placeholder so templates read naturally; never evaluated

__all__ = ["adjoint", "nondiff", "unbroadcast", "d", "RULES"]
