"""Forward-mode (tangent) rules that cannot be derived from the adjoint tables.

Elementwise rules need nothing here: their tangent is derived from the
adjoint template (``d[x] = unbroadcast(d[z] * E, x)`` gives the term
``dx * E``). Primitives that are linear in their array arguments are listed
with :func:`multilinear`: their tangent is the same call on the tangents.
The runtime helpers of the reverse sweep are listed too, so generated
gradient code can itself be differentiated in forward mode (hessians).
"""

import builtins
import operator

import numpy as np

from .. import runtime
from .core import multilinear, nondiff

multilinear(operator.getitem, args=("a",))
multilinear(operator.matmul, np.dot, np.matmul, np.sum, np.mean, np.transpose, builtins.sum)
multilinear(runtime.copy_of, runtime.as_sequence, runtime.owned)
multilinear(runtime.unbroadcast, runtime.getitem_adjoint, runtime.sum_adjoint,
            runtime.mean_adjoint, runtime.sum_list_adjoint, runtime.take_adjoint,
            args=("g",))
multilinear(runtime.add_adjoints)
multilinear(runtime.dot_adjoint_a, runtime.dot_adjoint_b, runtime.matmul_adjoint_a,
            runtime.matmul_adjoint_b, args=("g", "a", "b"))
multilinear(runtime.snapshot, args=("a",))
nondiff(runtime.seed, runtime.zeros_like)
