"""Code generation (``s2sad/codegen.py``): the map from generated lines to the user's
lines, found from how ``ast.unparse`` lays code out (``_Layout``) without parsing
the text again, must be the one parsing gives; the compiled functions must carry
the generated text's line numbers (tracebacks, ``inspect``, pdb)."""

from __future__ import annotations

import ast
import inspect
import linecache
import math
import sys
import traceback

import gast
import pytest
from corpus import CASES

import s2sad
from s2sad import api, codegen, errors, pipeline


def _tree_and_text(func, wrt, kinds, **options):
    ctx = pipeline.make_context(func, wrt, kinds, "grad", True, **options)
    tree = pipeline.run(ctx)
    return tree, codegen.to_source(tree)


def _kinds(case):
    point = case.points[0]
    args = point if isinstance(point, tuple) else (point,)
    names = list(inspect.signature(case.func).parameters)
    return {n: api.kind_of(v) for n, v in zip(names, args)}


def _layout_map(tree, text):
    fdefs = tree.body if isinstance(tree, gast.Module) else [tree]
    layout = codegen._Layout(fdefs, text)
    assert layout.lines is not None, text
    assert layout.user_lines == {
        layout.lines[s]: s.lineno for f in fdefs for s in [f, *codegen._statements_in_order(f.body)]
        if getattr(s, "lineno", None) is not None}
    return layout.user_lines


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.tag)
def test_layout_gives_the_line_map_parsing_gives(case, mode):
    wrt = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,)
    try:
        tree, text = _tree_and_text(case.func, wrt, _kinds(case), mode=mode)
    except errors.S2SADError:
        pytest.skip("not differentiable in this mode")
    assert _layout_map(tree, text) == codegen._line_map(tree, ast.parse(text))
    # the printer's faster visitors print what ast.unparse prints
    fdefs = tree.body if isinstance(tree, gast.Module) else [tree]
    printed = ast.Module(body=codegen._stmts(fdefs), type_ignores=[])
    assert codegen._unparse(printed) == ast.unparse(printed)
    assert text == ast.unparse(printed) + "\n"


def test_the_printer_parenthesizes_as_ast_unparse_does():
    """Precedence and associativity: every pair of operators nested either way."""
    ops = ["+", "-", "*", "/", "//", "%", "**", "@", "<<", "|", "&", "^"]
    lines = [f"r = (a {p} b) {q} c\nr = a {p} (b {q} c)\nr = -a {p} b ** -c"
             for p in ops for q in ops]
    lines += ["f(a, b=c)(d)[e].g", "r = (a, b)", "x: int = 1", "a, b = (c, d)", "print()",
              "r = not a + b < c", "r = (lambda: a)()", "r = -(-a) ** 2", "r = (-2.0) ** a"]
    tree = ast.parse("\n".join(lines))
    assert codegen._unparse(tree) == ast.unparse(tree)


def _branchy(x, y):
    s = 0.0
    if x > 0:
        s = x * y
    elif x < -1:
        s = x - y
    elif y > 2:
        s = y * y
    else:
        s = -x
    for _ in range(3):
        if s > 1:
            s = s * 0.5
        else:
            s = s + x
    while s < 10:
        s = s * 2.0 + y * y
    return s


@pytest.mark.parametrize("options", [{}, {"mode": "forward"}, {"checkpoint": True},
                                     {"optimize": False}])
def test_layout_of_elif_chains_loops_and_checkpoints(options):
    tree, text = _tree_and_text(_branchy, (0, 1), {"x": "S", "y": "S"}, **options)
    assert "elif" in text or options.get("mode") == "forward" or "if" in text
    assert _layout_map(tree, text) == codegen._line_map(tree, ast.parse(text))


def _with_defaults(x, k=2.0):
    return x * x * k


def test_layout_refuses_what_it_does_not_lay_out():
    text = "def f(x):\n    '''doc\n    string'''\n    return x\n"
    tree = gast.parse(text).body[0]
    assert codegen._Layout([tree], text).lines is None          # a docstring
    wrong = "def f(x):\n    y = x\n\n    return y\n"              # a line more than laid out
    tree = gast.parse("def f(x):\n    y = x\n    return y\n").body[0]
    assert codegen._Layout([tree], wrong).lines is None


def _divides(x, y):
    z = x * y
    w = z + 1.0
    return w / x


def test_traceback_shows_the_generated_line():
    """Compiled from the text, its lines moved back by one: a runtime error points at
    the generated line that raised, and the text shows that line there."""
    g = s2sad.grad(_divides, (0, 1))
    with pytest.raises(ZeroDivisionError) as info:
        g(0.0, 1.0)
    frames = [f for f in traceback.extract_tb(info.value.__traceback__)
              if f.filename in errors.GENERATED]
    assert frames
    first = next(k for k, line in enumerate(g.source.splitlines(), 1) if "/ x" in line)
    assert frames[-1].lineno == first       # the first division by x raises
    assert linecache.getline(frames[-1].filename, first).strip() == frames[-1].line


def _sqrt_of_product(x, y):
    z = x * y                       # sqrt is fine at z = 0, its derivative is not
    return math.sqrt(z) + y


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes: Python 3.11+")
def test_an_error_raised_by_derivative_code_names_the_users_line():
    """``math.sqrt`` at 0 has an infinite derivative: the generated ``1.0 / (2.0 * _t1)``
    raises ZeroDivisionError (its own type, unchanged), with a note naming the user's
    line and the generated one, on the general path, the fast one, and in jvp and vjp."""
    first = _sqrt_of_product.__code__.co_firstlineno
    # the line whose derivative code raised: the return, or z = x * y (its adjoint
    # statement, into which the clean-up folded the square root's derivative)
    where = [f"{__file__}:{first + 1} (z = x * y", f"{__file__}:{first + 2} (return math.sqrt"]
    g = s2sad.grad(_sqrt_of_product, (0, 1))
    calls = [lambda: g(0.0, 2.0), lambda: g(0.0, 2.0),          # compiled, then fast
             lambda: s2sad.jvp(_sqrt_of_product)(0.0, 2.0, 1.0),
             lambda: s2sad.vjp(_sqrt_of_product)(0.0, 2.0)[1](1.0)]
    for call in calls:
        with pytest.raises(ZeroDivisionError) as info:
            call()
        notes = getattr(info.value, "__notes__", [])
        assert len(notes) == 1 and any(w in notes[0] for w in where), notes
        assert "generated line" in notes[0]


def _raises_itself(x):
    return math.log(x) * x


def test_an_error_of_the_users_own_code_keeps_its_type():
    with pytest.raises(ValueError, match="math domain error"):
        s2sad.grad(_raises_itself)(-1.0)


def test_generated_functions_start_on_their_def_line():
    g = s2sad.grad(_branchy, (0, 1))
    g(0.5, 1.0)
    impl = g._last or next(iter(g._impls.values()))
    fn = impl.function
    assert fn.__code__.co_firstlineno == 1
    lines, start = inspect.getsourcelines(fn)
    assert start == 1 and lines[0].startswith("def grad__branchy(")
    assert "".join(lines) == impl.source


def test_function_with_defaults_compiles_from_the_tree_and_keeps_them():
    g = s2sad.grad(_with_defaults)
    assert g(3.0) == pytest.approx(12.0)
    assert g(3.0, 1.0) == pytest.approx(6.0)
    assert "k=2.0" in g.source


def test_layout_of_a_split_pair_of_functions():
    """output='split' (a callee's forward and backward functions): two defs, a blank
    line between them."""
    ctx = pipeline.make_context(_branchy, (0, 1), {"x": "S", "y": "S"}, "split", True)
    tree = pipeline.run(ctx)
    text = codegen.to_source(tree)
    assert isinstance(tree, gast.Module) and len(tree.body) == 2
    assert _layout_map(tree, text) == codegen._line_map(tree, ast.parse(text))
    fwd, bwd = codegen.compile_functions(text, ctx, tree)
    assert bwd.__code__.co_firstlineno == text.splitlines().index(
        next(line for line in text.splitlines() if line.startswith("def bwd_"))) + 1


def _empty_loop(x, n):
    i = 0
    for i in range(n):  # noqa: B007 - i is read after the loop
        pass
    if x > 5.0:
        pass
    return x * i / (n - 3)


@pytest.mark.parametrize("options", [{}, {"optimize": False}, {"mode": "forward"},
                                     {"mode": "forward", "optimize": False}])
def test_a_block_left_empty_gets_a_pass(options):
    """The normal form drops the user's ``pass``: with ``optimize=False`` the text had a
    ``for`` with no body (a bare IndentationError); the ``pass`` put back is laid out."""
    g = s2sad.grad(_empty_loop, **options)
    assert g(0.7, 4) == pytest.approx(3.0)
    tree, text = _tree_and_text(_empty_loop, (0,), {"x": "S", "n": "S"},
                                **{k: v for k, v in options.items() if k == "optimize"})
    ast.parse(text)
    assert _layout_map(tree, text) == codegen._line_map(tree, ast.parse(text))
    with pytest.raises(ZeroDivisionError):
        g(0.7, 3)


def _bound_in_the_loop(x, n):
    for _ in range(n):
        k = math.sin(x)
    return x * k


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes: Python 3.11+")
def test_a_name_left_unbound_is_explained_in_the_note():
    """With no iteration the function raises UnboundLocalError; the gradient's code
    holds SSA's None for k and raises TypeError: the note says why."""
    with pytest.raises(UnboundLocalError):
        _bound_in_the_loop(0.5, 0)
    assert s2sad.grad(_bound_in_the_loop)(0.5, 2) == pytest.approx(
        math.sin(0.5) + 0.5 * math.cos(0.5))
    with pytest.raises(TypeError) as info:
        s2sad.grad(_bound_in_the_loop)(0.5, 0)
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1 and "may leave unbound" in notes[0], notes
    assert f"{__file__}:" in notes[0]


def test_cache_directory_is_pruned(tmp_path, monkeypatch):
    """Past ``CACHE_LIMIT`` generated files, the first transform of a process removes the
    oldest down to half the limit; the file it generates is written and registered."""
    import os

    monkeypatch.setenv("S2SAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(codegen, "CACHE_LIMIT", 20)
    monkeypatch.setattr(codegen, "_pruned", set())
    for k in range(30):
        path = tmp_path / f"old_{k:02d}.py"
        path.write_text("x = 1\n")
        os.utime(path, (1000.0 + k, 1000.0 + k))     # old_00 the oldest
    (tmp_path / "notes.txt").write_text("not generated\n")

    def cube(x):
        return x * x * x

    g = s2sad.grad(cube)
    assert g(2.0) == 12.0
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "notes.txt" in left
    assert [n for n in left if n.startswith("old_")] == [f"old_{k:02d}.py" for k in range(20, 30)]
    made = [n for n in left if not n.startswith("old_") and n.endswith(".py")]
    assert len(made) == 1 and "cube" in made[0]
    assert (tmp_path / made[0]).read_text() == g.source
    # pruned once per process: more files do not trigger it again
    (tmp_path / "old_99.py").write_text("x = 1\n")
    for k in range(30):
        (tmp_path / f"more_{k:02d}.py").write_text("x = 1\n")
    assert s2sad.grad(lambda x: x * x)(3.0) == 6.0
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("more_")]) == 30
