"""Array methods and attributes, mapped to the NumPy function with the same rule.

``x.sum(axis=0)`` is differentiated as ``np.sum(x, axis=0)``: the receiver
becomes the first argument. The primal code still calls the method.
"""

import numpy as np

METHODS = {
    "sum": np.sum,
    "mean": np.mean,
    "dot": np.dot,
    "transpose": np.transpose,
}

ATTRIBUTES = {
    "T": np.transpose,
}
