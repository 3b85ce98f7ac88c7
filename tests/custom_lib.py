"""A stand-in for a third-party library, used by ``test_custom_rules.py``.

s2sad's rule tables know nothing about these functions. The tests register
derivative rules for them as a user of the library would (``@s2sad.adjoint``,
``@s2sad.tangent``, ``s2sad.extend.nondiff``), and leave ``plain_poly`` without
a rule: being Python source, it is differentiated through automatically.
"""

from __future__ import annotations

import numpy as np


def softclip(x):
    """2 tanh(x); derivative 2 - softclip(x)**2 / 2."""
    return np.tanh(x) * 2.0


def softclip_slope(z):
    """The derivative of softclip written in terms of its output ``z``."""
    return 2.0 - z * z / 2.0


def softsign(x):
    """x / (1 + |x|); derivative 1 / (1 + |x|)**2."""
    return x / (1.0 + np.abs(x))


def gauss_bump(x, w):
    """w exp(-x^2), elementwise in both arguments (with broadcasting)."""
    return w * np.exp(-x * x)


def doubled_square(x):
    """x**2, for rules that are deliberately wrong."""
    return x * x


def hard_step(x):
    """A step function: its derivative is zero wherever it exists."""
    return np.where(x > 0.0, 1.0, 0.0) if isinstance(x, np.ndarray) else float(x > 0.0)


def plain_poly(x):
    """Plain Python with no rule: s2sad transforms its source like a user helper."""
    return 3.0 * x * x - x


_counter = {"calls": 0}


def counting_cube(x):
    """x**3, counting its calls so the tests can see that the rule's template is
    inlined (the primal runs once per call of the differentiated function)."""
    _counter["calls"] += 1
    return x ** 3


def times_total(x):
    """x * sum(x): not elementwise, so no tangent can be derived from its adjoint."""
    return x * np.sum(x)
