# ruff: noqa
# Golden output of s2sad.source(f002, wrt=(0, 1)) for examples/seeds.py:f002,
#     f = ln x1 + x1*x2 - sin x2   (seed 002).
# Checked by tests/test_examples.py; everything below this header must equal the
# generated source. Regenerate: S2SAD_REGEN_GOLDEN=1 python -m pytest -q tests/test_examples.py
def grad_f002(x1, x2):
    if x1 <= 0:
        math.log(x1)
    bx2 = x1 - math.cos(x2)
    bx1 = x2 + 1.0 / x1
    return (bx1, bx2)
