"""Rule tables, one module per namespace. Importing this package registers them."""

from . import (  # noqa: F401
    builtins_rules,
    math_rules,
    numpy_rules,
    numpy_tangents,  # forward mode of the NumPy rules
    operators,
    tangents,  # noqa: F401  (after the adjoint tables)
)
from .core import (  # noqa: F401
    MULTILINEAR,
    NONDIFF,
    RULES,
    TANGENTS,
    Rule,
    adjoint,
    lookup,
    multilinear,
    nondiff,
    tangent,
)
