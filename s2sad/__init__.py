"""s2sad: source-to-source automatic differentiation for Python and NumPy.

User API::

    grad(f, wrt=0)            # gradient function
    value_and_grad(f, wrt=0)  # (value, gradient) function
    source(f, wrt=0)          # the generated Python source

Rule authors import :mod:`s2sad.extend`.
"""

from .api import custom_vjp, grad, source, value_and_grad
from .errors import (
    ArgumentError,
    FixedPointError,
    MissingRuleError,
    NonScalarOutputError,
    RuleError,
    RuleLimitError,
    S2SADError,
    SourceUnavailableError,
    TruncatingStoreError,
    UnsupportedSyntaxError,
)
from .rules.core import adjoint, tangent
from .toolbox import check_grads, elementwise_grad, hessian, jacobian, jvp, stop_gradient, vjp

__version__ = "0.1.0"

__all__ = [
    "grad", "value_and_grad", "source", "jvp", "vjp", "jacobian", "hessian",
    "elementwise_grad", "stop_gradient", "check_grads", "custom_vjp", "adjoint", "tangent",
    "S2SADError", "UnsupportedSyntaxError", "MissingRuleError", "SourceUnavailableError",
    "NonScalarOutputError", "ArgumentError", "FixedPointError", "TruncatingStoreError",
    "RuleLimitError", "RuleError",
]
