"""The list of passes, in order. ``s2sad dump --stage`` prints after any of them.

Each pass takes the tree and the :class:`~s2sad.context.Context` and returns a
tree; each module's docstring states the form it takes and the form it gives.
"""

from __future__ import annotations

import gast

from . import activity, codegen, desugar, normalize, optimize, parse, reverse, ssa
from .context import Context

STAGES = [
    ("parse", None),                 # parse.run builds the tree from the function
    ("desugar", desugar.run),        # break/continue/early return -> flags
    ("normal", normalize.run),       # three-address form
    ("ssa", ssa.run),                # SSA with copies at joins and loop headers
    ("activity", activity.run),      # active names, scalar/array kinds, checks
    ("reverse", reverse.run),        # forward sweep + tape + reverse sweep
    ("final", optimize.run),         # copy propagation
]
STAGE_NAMES = [n for n, _ in STAGES]


def make_context(func, wrt=(0,), kinds=None, output="grad", wrt_tuple=False,
                 optimize=True, mode="reverse"):
    return Context(func=func, wrt=tuple(wrt), kinds=dict(kinds or {}), output=output,
                   wrt_tuple=wrt_tuple, optimize=optimize, mode=mode)


def run(ctx, stop_after=None, on_stage=None):
    """Run the passes; return the tree after ``stop_after`` (default: all)."""
    tree = None
    for stage, fn in STAGES:
        tree = parse.run(ctx) if fn is None else fn(tree, ctx)
        if on_stage is not None:
            on_stage(stage, tree)
        if stage == stop_after:
            break
    return tree


def source_of(tree):
    if isinstance(tree, gast.AST):
        return codegen.to_source(tree)
    return str(tree)


def build(ctx):
    """Transform and compile; return (function, source text)."""
    tree = run(ctx)
    text = codegen.to_source(tree)
    return codegen.compile_function(text, ctx), text
