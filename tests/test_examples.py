"""The lecture-note examples of examples/seeds.py: exact figures, analytic checks, golden code.

The golden file ``tests/golden/seed002_grad.py`` holds the generated source of
``s2sad.source(f002, wrt=(0, 1))`` below a comment header. After an intended
change of the generated code, regenerate it with::

    S2SAD_REGEN_GOLDEN=1 python -m pytest -q tests/test_examples.py

and review the diff before committing.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import s2sad
from s2sad import runtime

ROOT = Path(__file__).resolve().parent.parent
SEEDS_PATH = ROOT / "examples" / "seeds.py"
GOLDEN = Path(__file__).resolve().parent / "golden" / "seed002_grad.py"
GOLDEN_HEADER = (
    "# ruff: noqa\n"
    "# Golden output of s2sad.source(f002, wrt=(0, 1)) for examples/seeds.py:f002,\n"
    "#     f = ln x1 + x1*x2 - sin x2   (seed 002).\n"
    "# Checked by tests/test_examples.py; everything below this header must equal the\n"
    "# generated source. Regenerate: S2SAD_REGEN_GOLDEN=1 python -m pytest -q "
    "tests/test_examples.py\n"
)


def _load_seeds():
    name = "s2sad_examples_seeds"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SEEDS_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


seeds = _load_seeds()


def _tuple(g):
    return tuple(g) if isinstance(g, tuple) else (g,)


# ---------------------------------------------------------------------------
# Seed 002: the figures of the trace tables.

def test_seed002_figures():
    value, (g1, g2) = s2sad.value_and_grad(seeds.f002, wrt=(0, 1))(2.0, 5.0)
    assert f"{value:.3f}" == "11.652"
    assert f"{g1:.3f}" == "5.500"
    assert f"{g2:.3f}" == "1.716"
    assert value == pytest.approx(math.log(2.0) + 10.0 - math.sin(5.0), abs=1e-12)
    assert g1 == pytest.approx(5.5, abs=1e-12)
    assert g2 == pytest.approx(2.0 - math.cos(5.0), abs=1e-12)


def test_seed002_grad_matches_value_and_grad():
    grads = s2sad.grad(seeds.f002, wrt=(0, 1))(2.0, 5.0)
    assert isinstance(grads, tuple) and len(grads) == 2
    assert grads == s2sad.value_and_grad(seeds.f002, wrt=(0, 1))(2.0, 5.0)[1]


# ---------------------------------------------------------------------------
# Every example against its analytic derivative at 4 points.

@pytest.mark.parametrize("example", seeds.EXAMPLES, ids=[e[0] for e in seeds.EXAMPLES])
def test_example_matches_analytic(example):
    key, _title, fn, wrt, point, dfn, more = example
    points = [point] + list(more)
    assert len(points) >= 4
    g = s2sad.grad(fn, wrt=wrt)
    vg = s2sad.value_and_grad(fn, wrt=wrt)
    for p in points:
        got, want = _tuple(g(*p)), _tuple(dfn(*p))
        assert len(got) == len(want), (key, p)
        for a, b in zip(got, want):
            assert float(a) == pytest.approx(float(b), rel=1e-9, abs=1e-12), (key, p, got, want)
        assert _tuple(vg(*p)[1]) == got, (key, p)


@pytest.mark.parametrize("example", seeds.EXAMPLES, ids=[e[0] for e in seeds.EXAMPLES])
def test_value_and_grad_value(example):
    """Regression: the value used to be the loop-carried name as restored by _tape.pop()."""
    key, _title, fn, wrt, point, _dfn, more = example
    vg = s2sad.value_and_grad(fn, wrt=wrt)
    for p in [point] + list(more):
        value = vg(*p)[0]
        assert float(value) == pytest.approx(float(fn(*p)), rel=1e-12, abs=1e-12), (key, p)


def _power(x, n):
    y = 1.0
    for _ in range(n):
        y = y * x
    return y


def test_value_and_grad_value_after_loop_minimal():
    # regression: returned (1.0, 12.0)
    assert s2sad.value_and_grad(_power)(2.0, 3) == (8.0, 12.0)


def test_seed000_known_values():
    # at (1, 2, 0.75): y2 = x2 x3 = 1.5, z1 = x1 - x2 + y2 = 0.5
    g = s2sad.grad(seeds.f000, wrt=(0, 1, 2))(1.0, 2.0, 0.75)
    c, s = math.cos(1.5), math.sin(1.5)
    assert g[0] == pytest.approx(c)
    assert g[1] == pytest.approx(-0.25 * c - 0.375 * s)
    assert g[2] == pytest.approx(2.0 * c - 1.0 * s)


def test_poly_records_factors_on_the_tape():
    t = seeds.T
    g = s2sad.grad(seeds.poly)
    for x in (1.5, 0.0, 2.7, 1.0):      # 1.0 is a root: product rule still exact
        assert g(x, t) == pytest.approx(seeds.dpoly(x, t), rel=1e-12, abs=1e-12)
    src = s2sad.source(seeds.poly, args=(1.5, t))
    assert "_tape.append(" in src and "_tape.pop()" in src


def test_poly_with_list_roots():
    t = [1.0, 2.0, 3.0]
    # g'(1.5) = (-.5)(-1.5) + (.5)(-1.5) + (.5)(-.5) = -0.25
    assert s2sad.grad(seeds.poly)(1.5, t) == pytest.approx(-0.25)


def test_halving_gradient_is_one_over_two_to_the_k():
    g = s2sad.grad(seeds.halve)
    # 3 / 2**k < 0.1 first for k = 5
    assert g(3.0, 0.1) == 1.0 / 32.0
    assert seeds.halve(3.0, 0.1) == 3.0 / 32.0
    # the trip count depends on x: a larger x needs more halvings
    assert g(30.0, 0.1) == 1.0 / 512.0
    # the loop body is linear, so the reverse sweep needs no recorded values
    assert "_tape" not in s2sad.source(seeds.halve)


def test_halving_with_break_is_rejected_with_location_or_correct():
    """``break`` is not supported yet; once it is, the gradient must match the while form."""
    try:
        g = s2sad.grad(seeds.halve_break)(3.0, 0.1)
    except s2sad.UnsupportedSyntaxError as exc:
        lines = SEEDS_PATH.read_text().splitlines()
        lineno = next(i for i, line in enumerate(lines, 1) if line.strip() == "break")
        assert exc.filename == str(SEEDS_PATH)
        assert exc.lineno == lineno
        assert "unsupported construct: break" in str(exc)
        assert "^" in str(exc) and "hint:" in str(exc)
    else:
        assert g == 1.0 / 32.0


def test_zero_is_one_minus_one():
    src = s2sad.source(seeds.zero)
    assert s2sad.grad(seeds.zero)(3.0) == 0.0
    # two contributions to the adjoint of x, of opposite signs: 1 - 1, folded
    assert [ln.strip() for ln in src.rstrip().splitlines()[-2:]] == ["bx = 0.0", "return bx"]
    raw = s2sad.source(seeds.zero, optimize=False)
    assert "bx = bx - " in raw or "bx - " in raw


def test_seed003_grad_with_tuple_wrt_positional():
    # the talk's spelling: grad(f, (0, 1))
    assert s2sad.grad(seeds.add, (0, 1))(1.0, 2.0) == (1.0, 1.0)
    assert s2sad.grad(seeds.node, (0, 1))(1.0, 2.0) == (4.0, 1.0)
    assert s2sad.grad(seeds.f003)(1.0) == pytest.approx(0.0, abs=1e-15)   # minimum at x = 1


def test_seed004_adjoint_of_x2_sums_two_contributions():
    raw = s2sad.source(seeds.f004, optimize=False)
    assert "bx2 = bx2 + " in raw
    # optimized: the two contributions (through x3 and directly) in one expression
    src = s2sad.source(seeds.f004)
    assert [ln.strip() for ln in src.rstrip().splitlines()[-2:]] \
        == ["bx1 = (x3 + x2) * x2", "return bx1"]
    assert s2sad.grad(seeds.f004)(0.0) == pytest.approx(3.0)   # e^0 (2 e^0 + 1)


# ---------------------------------------------------------------------------
# Golden generated code for seed 002.

def _golden_body(text):
    lines = text.splitlines(True)
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        i += 1
    return "".join(lines[i:])


def test_seed002_golden_source():
    got = s2sad.source(seeds.f002, wrt=(0, 1))
    if os.environ.get("S2SAD_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(GOLDEN_HEADER + got)
    want = _golden_body(GOLDEN.read_text())
    if got != want:
        diff = "".join(difflib.unified_diff(
            want.splitlines(True), got.splitlines(True),
            fromfile=str(GOLDEN.relative_to(ROOT)), tofile="s2sad.source(f002, wrt=(0, 1))"))
        pytest.fail("generated code differs from the golden file:\n" + diff
                    + "\nIf the change is intended, regenerate with\n"
                      "    S2SAD_REGEN_GOLDEN=1 python -m pytest -q tests/test_examples.py\n"
                      "and review the diff.", pytrace=False)


def test_seed002_golden_code_is_correct():
    """The checked-in code itself computes the trace-table gradient."""
    namespace = {"math": math, "seed": runtime.seed, "unbroadcast": runtime.unbroadcast}
    exec(compile(_golden_body(GOLDEN.read_text()), str(GOLDEN), "exec"), namespace)
    fn = namespace["grad_f002"]
    g1, g2 = fn(2.0, 5.0)
    assert (f"{g1:.3f}", f"{g2:.3f}") == ("5.500", "1.716")
    for p in [(1.0, 1.0), (0.5, -2.0), (3.0, 0.25)]:
        assert fn(*p) == pytest.approx(seeds.df002(*p), rel=1e-12)


# ---------------------------------------------------------------------------
# The script itself.

def test_seeds_script_runs_and_reports():
    proc = subprocess.run([sys.executable, str(SEEDS_PATH)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert proc.stderr == ""
    assert "value     11.652" in out
    assert "gradient  (5.500, 1.716)" in out
    assert "def grad_f002(x1, x2):" in out
    assert f"{len(seeds.EXAMPLES)} examples, 0 failed check(s)" in out
    assert "FAIL" not in out


def test_report_counts_failures():
    class Sink:
        def __init__(self):
            self.parts = []

        def write(self, s):
            self.parts.append(s)

    sink = Sink()
    assert seeds.report(out=sink) == 0
    assert "seed 004" in "".join(sink.parts)


# ---------------------------------------------------------------------------
# The code examples of the documentation run, and print what the docs show.
#
# Every ```python block of these files runs as a script ``demo.py`` in a fresh
# directory; when the next block (only blank lines between) is a ```text block,
# the script's output must equal it, with the directory removed from paths.
# In ```console blocks, each ``$ command`` runs from the repository root and its
# output must equal the lines up to the next ``$``.

DOCS = ["README.md", "docs/usage.md", "docs/design.md"]
# the examples import the s2sad of this checkout (a worktree, or a clone whose
# package is installed elsewhere), not whichever s2sad is installed
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


def _fenced_blocks(text):
    """[(info, body, start_line, lines_between_this_and_previous_block)]"""
    blocks, lines, i, last_end = [], text.splitlines(), 0, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```") and line.strip() != "```":
            info, start = line[3:].strip(), i + 1
            j = start
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            gap = lines[last_end:i]
            blocks.append((info, "\n".join(lines[start:j]) + "\n", start, gap))
            i = last_end = j + 1
        else:
            i += 1
    return blocks


def _doc_cases():
    cases = []
    for doc in DOCS:
        path = ROOT / doc
        if not path.exists():
            continue
        blocks = _fenced_blocks(path.read_text())
        for k, (info, body, start, _gap) in enumerate(blocks):
            if info == "python":
                expected = None
                if k + 1 < len(blocks):
                    nxt_info, nxt_body, _s, nxt_gap = blocks[k + 1]
                    if nxt_info == "text" and all(not g.strip() for g in nxt_gap):
                        expected = nxt_body
                cases.append(pytest.param(doc, "python", body, expected, id=f"{doc}:{start}"))
            elif info == "console":
                cases.append(pytest.param(doc, "console", body, None, id=f"{doc}:{start}"))
    return cases


def _console_commands(body):
    cmds = []
    for line in body.splitlines(True):
        if line.startswith("$ "):
            cmds.append([line[2:].strip(), ""])
        elif cmds:
            cmds[-1][1] += line
    return cmds


def _argv(command):
    argv = shlex.split(command)
    if argv[0] == "s2sad":
        return [sys.executable, "-m", "s2sad"] + argv[1:]
    if argv[0] == "python":
        return [sys.executable] + argv[1:]
    return argv


@pytest.mark.parametrize("doc, kind, body, expected", _doc_cases())
def test_doc_example(doc, kind, body, expected, tmp_path):
    hint = (f"\n(update the example in {doc}, or fix the regression: the docs show "
            "real output)")
    if kind == "python":
        script = tmp_path / "demo.py"
        script.write_text(body)
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env=ENV)
        out = (proc.stdout + proc.stderr).replace(str(tmp_path) + os.sep, "")
        assert proc.returncode == 0, f"example failed:\n{body}\n{out}{hint}"
        if expected is not None and out != expected:
            diff = "".join(difflib.unified_diff(expected.splitlines(True), out.splitlines(True),
                                                "documented output", "actual output"))
            pytest.fail(f"output differs from the docs:\n{diff}{hint}", pytrace=False)
        return
    for command, want in _console_commands(body):
        proc = subprocess.run(_argv(command), cwd=ROOT, capture_output=True, text=True,
                              timeout=120, env=ENV)
        out = proc.stdout + proc.stderr
        if out != want:
            diff = "".join(difflib.unified_diff(want.splitlines(True), out.splitlines(True),
                                                "documented output", "actual output"))
            pytest.fail(f"$ {command}\n{diff}{hint}", pytrace=False)


# ---------------------------------------------------------------------------
# Bugs found while writing the docs (strict xfail while open; regression tests once fixed).

def _ifexp(x):
    return x * x if x > 0 else -x


def test_conditional_expression_else_branch():
    # regression: the else branch raised UnboundLocalError ('_t1' renamed by SSA)
    g = s2sad.grad(_ifexp)
    assert g(2.0) == 4.0
    assert g(-2.0) == -1.0


def _relu(x):
    if x > 0:
        y = x
    else:
        y = 0.0
    return y


def test_branch_whose_forward_body_is_dead():
    g = s2sad.grad(_relu)
    assert (g(2.0), g(-1.0), g(0.0)) == (1.0, 0.0, 0.0)


def _vector(x):
    return x * 2.0


def test_non_scalar_output_hint_names_existing_api():
    import numpy as np
    with pytest.raises(s2sad.NonScalarOutputError) as info:
        s2sad.grad(_vector)(np.ones(3))
    assert info.value.lineno == _vector.__code__.co_firstlineno + 1
    assert "s2sad.vjp" not in str(info.value) or hasattr(s2sad, "vjp")


def _abs(x):
    return abs(x)


def _mul(x, y):
    return x * y


def test_gradient_wrt_a_float_is_a_float_even_when_it_equals_an_int_argument():
    # regression: returned the int argument x itself after folding 1.0 * x
    g = s2sad.grad(_mul, wrt=1)(2, 3.0)
    assert g == 2.0 and type(g) is float


def test_gradient_of_abs_is_a_float():
    g = s2sad.grad(_abs)(-3.0)
    assert g == -1.0
    assert type(g) is float          # returns int -1


def _gram_sum(a):
    return a.T.dot(a).sum()


def test_method_of_an_attribute():
    import numpy as np
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    # d/da sum(a^T a) = a @ (ones + ones^T) = 2 * a @ ones
    assert np.allclose(s2sad.grad(_gram_sum)(a), 2.0 * a @ np.ones((2, 2)))
