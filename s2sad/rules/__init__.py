"""Rule tables, one module per namespace. Importing this package registers them."""

from . import builtins_rules, math_rules, numpy_rules, operators  # noqa: F401
from .core import NONDIFF, RULES, Rule, adjoint, lookup, nondiff  # noqa: F401
