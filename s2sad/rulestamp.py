"""How many times the rule tables changed (``s2sad.extend``: a rule registered, replaced
or declared non-differentiable). Code made before the last change may have been made
with a rule that no longer holds: ``Context.stale`` compares the count it was made at.
A module of its own, importing nothing, so that both the rules and the contexts read it."""

changes = 0
hooks = []      # called at each change: api drops the fast paths of gradient objects


def bump():
    global changes
    changes += 1
    for hook in hooks:
        hook()
