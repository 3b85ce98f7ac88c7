"""A generic fixed-point helper for the analyses.

The passes work on SSA names, so the analyses are flow-insensitive closures
over a dependency graph ``edges: name -> set of names``: activity is the
intersection of what the inputs reach (forward) and what reaches the output
(backward); kind inference is the same closure over "may be an array".
"""

from __future__ import annotations


def closure(seeds, edges):
    """Every node reachable from ``seeds`` along ``edges``."""
    seen = set(seeds)
    work = list(seeds)
    while work:
        node = work.pop()
        for nxt in edges.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                work.append(nxt)
    return seen


def reverse_edges(edges):
    rev = {}
    for src, dsts in edges.items():
        for dst in dsts:
            rev.setdefault(dst, set()).add(src)
    return rev
