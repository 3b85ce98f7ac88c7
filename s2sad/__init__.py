"""s2sad: source-to-source automatic differentiation for Python and NumPy.

User API::

    grad(f, wrt=0)            # gradient function
    value_and_grad(f, wrt=0)  # (value, gradient) function
    source(f, wrt=0)          # the generated Python source

Rule authors import :mod:`s2sad.extend`.
"""

from .api import grad, source, value_and_grad
from .errors import (
    ArgumentError,
    MissingRuleError,
    NonScalarOutputError,
    S2SADError,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)

__version__ = "0.1.0"

__all__ = [
    "grad", "value_and_grad", "source",
    "S2SADError", "UnsupportedSyntaxError", "MissingRuleError", "SourceUnavailableError",
    "NonScalarOutputError", "ArgumentError",
]
