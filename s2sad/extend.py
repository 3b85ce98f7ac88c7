"""The rule-author API, kept apart from the user API.

Register the adjoint of a library function as a template::

    from s2sad.extend import adjoint, d

    @adjoint(scipy.special.expit)
    def expit(z, x):
        d[x] = d[z] * z * (1.0 - z)

``d[v]`` stands for the adjoint of ``v``; see :mod:`s2sad.rules.core`.
``tangent(f)`` registers the forward-mode template (``d[z] = ... d[x] ...``),
``multilinear(f, args=...)`` declares a function linear in those arguments
(its tangent is the same call on the tangents), ``nondiff(f, ...)`` declares
functions whose result carries no derivative.
"""

from .rules.core import RULES, TANGENTS, adjoint, multilinear, nondiff, tangent
from .runtime import unbroadcast

d = {}   # placeholder so templates read naturally; never evaluated

__all__ = ["adjoint", "tangent", "multilinear", "nondiff", "unbroadcast", "d", "RULES",
           "TANGENTS"]
