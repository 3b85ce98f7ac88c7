"""The catalogue of bad inputs and what s2sad says about each.

For every construct s2sad refuses, the error must have the right type, its
message must start with ``<this file>:<line>`` of the offending construct
(found through a marker comment ``# <- L_NAME`` on that line), name the
construct, and end with a hint. The same inputs through the command line
(``python -m s2sad dump FILE.py:FUNC``) exit with status 1 and never print a
traceback.

Constructs the catalogue once refused and s2sad now supports (nested def,
lambda assigned inside, loop ``else``, list comprehension over an active
value, ``lst.append``) are checked against their analytic gradients instead.
Where the current behaviour is wrong the test is an ``xfail(strict=True)``
whose reason starts with "bug:".
"""

from __future__ import annotations

import importlib
import inspect
import linecache
import math
import os
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import s2sad
from s2sad import (
    ArgumentError,
    MissingRuleError,
    NonScalarOutputError,
    S2SADError,
    SourceUnavailableError,
    UnsupportedSyntaxError,
)

HERE = __file__
with open(HERE) as _fh:
    _LINES = _fh.read().splitlines()


def line_of(marker, lines=None):
    """Line number of the unique line ending with ``# <- marker``."""
    lines = _LINES if lines is None else lines
    hits = [i for i, text in enumerate(lines, 1) if text.rstrip().endswith(f"# <- {marker}")]
    assert len(hits) == 1, f"marker {marker} found {len(hits)} times"
    return hits[0]


# ---------------------------------------------------------------------------
# the bad functions (each offending line carries a marker)


def bad_try(x):
    try:  # <- L_TRY
        y = x * 2.0
    except ValueError:
        y = x
    return y


def bad_with(x):
    with open(os.devnull) as fh:  # <- L_WITH
        y = x * len(fh.name)
    return y


def bad_yield(x):
    yield x * 2.0  # <- L_YIELD


async def bad_async(x):  # <- L_ASYNC
    return x * 2.0


def bad_class(x):
    class Local:  # <- L_CLASS
        scale = 2.0
    return x * Local.scale


COUNTER = 0.0


def bad_global(x):
    global COUNTER  # <- L_GLOBAL
    COUNTER = x
    return x * 2.0


def _make_nonlocal():
    total = 0.0

    def bad_nonlocal(x):
        nonlocal total  # <- L_NONLOCAL
        total = x
        return x * 2.0
    return bad_nonlocal


bad_nonlocal = _make_nonlocal()


def bad_del(x):
    acc = 0.0
    t = x
    for i in range(3):
        acc = acc + t * x
        t = x * i  # read by the next trip, after the del
        del t  # <- L_DEL
    return acc


def bad_walrus(x):
    i = 0
    while (z := x * i) < 2.0:  # <- L_WALRUS
        i = i + 1
    else:
        z = z + 1.0
    return z


def bad_starred_call(x):
    args = (x,)
    args = args + (2.0,)        # (a tuple display bound once is spliced: math.pow(x, 2.0))
    return math.pow(*args)  # <- L_STAR


def bad_bound_reversed(x):
    r = reversed([x, 2.0 * x])  # <- L_BOUND_REVERSED
    return sum(r)


def bad_kwargs_call(x):
    kw = {"axis": None}
    return np.sum(x, **kw)  # <- L_KWARGS


def bad_varargs(x, **rest):  # <- L_VARARGS
    return x * 2.0


def bad_match(x):
    match 1:  # <- L_MATCH
        case 1:
            y = x * 2.0
        case _:
            y = x
    return y


def bad_match_returning(x):
    match 1:  # <- L_MATCH_RETURNS
        case 1:
            return x * 2.0
        case _:
            return x


def bad_try_returning(x):
    try:  # <- L_TRY_RETURNS
        return x ** 0.5
    except ValueError:
        return 0.0


def bad_with_returning(x):
    with open(os.devnull):  # <- L_WITH_RETURNS
        return x * 2.0


def bad_dict_building(x):
    key = "double"
    table = {key: x * 2.0}  # <- L_DICT_BUILD
    return table[key]


def bad_set_display(x):
    values = {x, 2.0}  # <- L_SET
    return max(values)


def bad_computed_call(x):
    functions = [math.sin, math.cos]
    return functions[0](x)  # <- L_COMPUTED_CALL


def bad_local_function_call(x):
    s = 0.0
    for g in [math.sin, math.cos]:
        s = s + g(x)  # <- L_LOCAL_FUNCTION_CALL
    return s


def bad_import(x):
    import math as m  # <- L_IMPORT
    return m.sin(x)


class Box:
    pass


def bad_attribute_store(x):
    box = Box()
    box.value = x * 2.0  # <- L_ATTR
    return box.value


def bad_nested_def_as_value(x):
    def square(t):
        return t * t
    fn = square  # <- L_NESTED_VALUE
    return fn(x) + x


def apply(fn, value):
    return fn(value)


def bad_lambda_as_value(x):
    return apply(lambda t: t * t, x) + x  # <- L_LAMBDA_VALUE


def bad_side_effect(x):
    values = [x, 2.0 * x]
    values.sort()  # <- L_SIDE_EFFECT
    return values[0] * 3.0


def bad_gamma(x):
    return math.gamma(x) * 2.0  # <- L_GAMMA


def bad_c_function(x):
    return np.frexp(x)[0] * 2.0  # <- L_CFUNC


def bad_nonscalar(x):
    return np.array([x, 2.0 * x, 3.0 * x])  # <- L_NONSCALAR


def bad_tuple_output(x):
    return x, x * 2.0  # <- L_TUPLE_OUT


def bad_recursion(x):
    if x < 1.0:
        return x
    return bad_recursion(x / 2.0)  # <- L_RECURSION


def bad_loop_writes_its_list(x, y):
    xs, n = [x, y], 2       # (xs = [x, y] alone is read by index: differentiated)
    for t in xs:
        xs[1] = xs[1] * t  # <- L_LOOP_WRITES
    return xs[1] * n


def bad_stale_dict_view(x):
    d = {"a": x * 2.0, "b": x + 1.0}
    vals = d.values()
    d["c"] = x * x
    return np.sum(sum(vals))  # <- L_STALE_VIEW


def bad_growing_loop(x, xs):
    s = 0.0
    for v in xs:
        s = s + v * x
        if len(xs) < 6:
            xs.append(v)  # <- L_RESIZE
    return s


def bad_inplace_view(x):
    a = x * np.ones(3)
    b = a[1:]
    b *= 2.0  # <- L_INPLACE_VIEW
    return np.sum(a * a)


def bad_write_under_view(x):
    a = x * np.ones(3)
    b = a[::2]
    a[2] = x * x  # <- L_UNDER_VIEW
    return np.sum(b * b)


def bad_no_return(x):  # <- L_NO_RETURN
    y = x * 2.0  # noqa: F841


@dataclass
class Case:
    id: str
    func: object
    error: type
    marker: str
    names: tuple          # words the message must contain
    args: tuple = (1.5,)


CASES = [
    Case("try", bad_try, UnsupportedSyntaxError, "L_TRY", ("try/except",)),
    Case("with", bad_with, UnsupportedSyntaxError, "L_WITH", ("with statement",)),
    Case("yield", bad_yield, UnsupportedSyntaxError, "L_YIELD", ("yield",)),
    Case("class", bad_class, UnsupportedSyntaxError, "L_CLASS", ("class definition",)),
    Case("global", bad_global, UnsupportedSyntaxError, "L_GLOBAL", ("global statement",)),
    Case("nonlocal", bad_nonlocal, UnsupportedSyntaxError, "L_NONLOCAL",
         ("nonlocal statement",)),
    Case("del", bad_del, UnsupportedSyntaxError, "L_DEL", ("del statement",)),
    Case("walrus", bad_walrus, UnsupportedSyntaxError, "L_WALRUS", ("walrus", ":=")),
    Case("starred-call", bad_starred_call, UnsupportedSyntaxError, "L_STAR",
         ("starred", "*args")),
    Case("bound-iterator", bad_bound_reversed, UnsupportedSyntaxError, "L_BOUND_REVERSED",
         ("an iterator bound to a name", "r = reversed(xs)")),
    Case("kwargs-call", bad_kwargs_call, UnsupportedSyntaxError, "L_KWARGS",
         ("**kwargs in a call",)),
    Case("varargs-param", bad_varargs, UnsupportedSyntaxError, "L_VARARGS",
         ("**kwargs parameter",)),
    Case("match", bad_match, UnsupportedSyntaxError, "L_MATCH", ("match statement",)),
    # every branch returns: the statement is named, not a missing return
    Case("match-returning", bad_match_returning, UnsupportedSyntaxError, "L_MATCH_RETURNS",
         ("match statement",)),
    Case("try-returning", bad_try_returning, UnsupportedSyntaxError, "L_TRY_RETURNS",
         ("try/except",)),
    Case("with-returning", bad_with_returning, UnsupportedSyntaxError, "L_WITH_RETURNS",
         ("with statement",)),
    # was a MissingRuleError whose hint said to register a rule "@s2sad.adjoint(building)"
    Case("dict-building", bad_dict_building, UnsupportedSyntaxError, "L_DICT_BUILD",
         ("storing a value that carries a derivative into a dict",)),
    # was "unsupported construct: Set", hint "rewrite it with supported constructs"
    Case("set-display", bad_set_display, UnsupportedSyntaxError, "L_SET",
         ("set display",)),
    Case("computed-call", bad_computed_call, MissingRuleError, "L_COMPUTED_CALL",
         ("call of a computed function",)),
    # was "method g()", with a hint to call the method through its class
    Case("local-function-call", bad_local_function_call, MissingRuleError,
         "L_LOCAL_FUNCTION_CALL", ("call of g(), a callable held in a local name",)),
    Case("import", bad_import, UnsupportedSyntaxError, "L_IMPORT",
         ("import inside the function",)),
    Case("attribute-store", bad_attribute_store, UnsupportedSyntaxError, "L_ATTR",
         ("assignment to an attribute",)),
    Case("nested-def-as-value", bad_nested_def_as_value, UnsupportedSyntaxError,
         "L_NESTED_VALUE", ("function defined inside the function", "square")),
    Case("lambda-as-value", bad_lambda_as_value, UnsupportedSyntaxError, "L_LAMBDA_VALUE",
         ("lambda",)),
    Case("side-effect-call", bad_side_effect, UnsupportedSyntaxError, "L_SIDE_EFFECT",
         ("lst.sort()", "values.sort")),
    Case("missing-rule-math", bad_gamma, MissingRuleError, "L_GAMMA",
         ("no derivative rule", "math.gamma")),
    Case("missing-rule-c-function", bad_c_function, MissingRuleError, "L_CFUNC",
         ("no derivative rule", "np.frexp")),
    Case("non-scalar-array", bad_nonscalar, NonScalarOutputError, "L_NONSCALAR",
         ("return a scalar", "array of shape (3,)", "bad_nonscalar")),
    Case("non-scalar-tuple", bad_tuple_output, NonScalarOutputError, "L_TUPLE_OUT",
         ("return a scalar", "tuple")),
    Case("recursion", bad_recursion, UnsupportedSyntaxError, "L_RECURSION",
         ("recursive call", "bad_recursion")),
    Case("inplace-view", bad_inplace_view, UnsupportedSyntaxError, "L_INPLACE_VIEW",
         ("in-place update of an array whose memory another name shares", "b *=",
          "also changes a")),
    Case("write-under-view", bad_write_under_view, UnsupportedSyntaxError, "L_UNDER_VIEW",
         ("writing into an array while a view of it is still used", "changes b")),
    Case("no-return", bad_no_return, UnsupportedSyntaxError, "L_NO_RETURN",
         ("without a return statement",)),
    # CPython's loop sees the appended elements; s2sad's normal form reads the length once
    Case("loop-resizes-its-list", bad_growing_loop, UnsupportedSyntaxError, "L_RESIZE",
         ("changes the length of the list it iterates over", "xs.append"),
         args=(1.5, [1.0, 2.0])),
    # the loop reads the new items; their adjoints went to the list's first value
    Case("loop-writes-its-list", bad_loop_writes_its_list, UnsupportedSyntaxError,
         "L_LOOP_WRITES", ("writing into an item of the list, array or dict a loop iterates over",
                           "in the loop over xs"), args=(0.3, 0.5)),
    # the view shows the key the store added; the adjoint went to the dict as it was
    # (reverse mode: an array argument)
    Case("stale-dict-view", bad_stale_dict_view, UnsupportedSyntaxError, "L_STALE_VIEW",
         ("reading a view of a dict", "vals, a view of d, read after a store into d"),
         args=(np.array([0.3, 0.5, 0.7, 0.1, 0.2, 0.4, 0.9, 1.1]),)),
]

XFAIL_CASES = [
    pytest.param(
        Case("async-def", bad_async, UnsupportedSyntaxError, "L_ASYNC", ("async def",)),
        id="async-def",),
]


def check_message(exc, case, filename=HERE, lines=None):
    """Type, location prefix, construct name and a trailing hint."""
    line = line_of(case.marker, lines)
    msg = str(exc)
    assert isinstance(exc, case.error), f"{type(exc).__name__}: {msg}"
    assert msg.startswith(f"{filename}:{line}"), msg
    rest = msg[len(f"{filename}:{line}"):]
    assert rest[:1] in (":",), msg               # ':' col or ': message' follows the line
    assert exc.filename == filename and exc.lineno == line, (exc.filename, exc.lineno)
    first = msg.splitlines()[0]
    for word in case.names:
        assert word in first, f"{word!r} not in {first!r}"
    # the offending source line is quoted, then the hint comes last
    assert f"# <- {case.marker}" in msg, msg
    last = msg.splitlines()[-1]
    assert last.startswith("  hint: ") and len(last.strip()) > len("hint: ") + 10, msg
    assert exc.hint and exc.hint in last


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES] + XFAIL_CASES)
def test_bad_input(case):
    with pytest.raises(S2SADError) as info:
        s2sad.grad(case.func)(*case.args)
    check_message(info.value, case)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES
                                  if c.error is not NonScalarOutputError])
def test_bad_input_in_source_and_value_and_grad(case):
    # the same error from s2sad.source (no call) and value_and_grad
    with pytest.raises(S2SADError) as info:
        s2sad.source(case.func)
    check_message(info.value, case)
    with pytest.raises(S2SADError) as info:
        s2sad.value_and_grad(case.func)(*case.args)
    check_message(info.value, case)


def test_computed_call_hint_names_no_rule_to_register():
    # the hint said "register one with @s2sad.adjoint(call)"
    with pytest.raises(MissingRuleError) as info:
        s2sad.grad(bad_computed_call)(0.5)
    assert "@s2sad.adjoint(call)" not in str(info.value)
    assert "call the function by its name" in str(info.value)


def test_errors_are_repeatable():
    # the failed transformation is not cached half-done: the second call says the same
    messages = []
    for _ in range(2):
        with pytest.raises(UnsupportedSyntaxError) as info:
            s2sad.grad(bad_try)(1.0)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


# ---------------------------------------------------------------------------
# constructs the catalogue listed that s2sad now supports


def ok_nested_def(x):
    def square(t):
        return t * t
    return square(x) + x


def ok_lambda_inside(x):
    cube = lambda t: t * t * t
    return cube(x) + 2.0 * x


def ok_loop_else(x):
    y = x
    for _ in range(3):
        y = y * x
    else:
        y = y + x
    return y


def ok_list_comprehension(x):
    values = [x * i for i in range(1, 4)]
    return values[0] * values[1] + values[2]


def ok_append(x):
    values = [1.0]
    values.append(x * x)
    return values[0] + values[1] * 3.0


@pytest.mark.parametrize("func,x,want", [
    (ok_nested_def, 1.5, 2 * 1.5 + 1),
    (ok_lambda_inside, 1.5, 3 * 1.5 ** 2 + 2),
    (ok_loop_else, 1.5, 4 * 1.5 ** 3 + 1),          # x**4 + x
    (ok_list_comprehension, 1.5, 4 * 1.5 + 3),      # 2 x**2 + 3 x
    (ok_append, 1.5, 6 * 1.5),
])
def test_once_refused_now_supported(func, x, want):
    assert s2sad.grad(func)(x) == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------------------
# functions whose source cannot be read

square_lambda = lambda x: x * x * 3.0  # <- L_LAMBDA_FILE

first_lambda, second_lambda = (lambda x: x * x), (lambda x: x * x * x)  # <- L_TWO_LAMBDAS


def test_builtin_function_has_no_source():
    with pytest.raises(SourceUnavailableError) as info:
        s2sad.grad(math.sin)(1.0)
    exc = info.value
    msg = str(exc)
    assert exc.filename is None           # nothing to point at: it is written in C
    assert msg.startswith("cannot read the source of sin:"), msg
    assert msg.splitlines()[-1].startswith("  hint: define the function in a .py file")


def test_function_created_by_exec_has_no_source():
    namespace = {}
    exec("def made(x):\n    return x * x\n", namespace)
    with pytest.raises(SourceUnavailableError) as info:
        s2sad.grad(namespace["made"])(1.0)
    msg = str(info.value)
    assert msg.startswith("<string>:1: cannot read the source of made"), msg
    assert "hint: define the function in a .py file (not in the REPL or with exec)" in msg


def test_function_created_by_exec_with_a_fake_filename():
    namespace = {}
    code = compile("def made(x):\n    return x * x\n", "/nonexistent/fake.py", "exec")
    exec(code, namespace)
    with pytest.raises(SourceUnavailableError) as info:
        s2sad.grad(namespace["made"])(1.0)
    msg = str(info.value)
    assert msg.startswith("/nonexistent/fake.py:1: cannot read the source of made"), msg
    assert "\n  hint: " in msg


@pytest.mark.parametrize("new_body", ["return x * x * x", "return x * 3.0",
                                      "return math.cos(x)"])
def test_source_file_changed_after_import(tmp_path, monkeypatch, new_body):
    # s2sad read the edited file and differentiated a function other than the one
    # running: the gradient of x * x * x for a function computing x * 2.0
    path = tmp_path / "edited_module.py"
    path.write_text("import math\n\n\ndef f(x):\n    return x * 2.0 + 0 * math.pi\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    import edited_module
    try:
        assert s2sad.grad(edited_module.f)(1.5) == 2.0     # read before the edit: fine
        path.write_text(f"import math\n\n\ndef f(x):\n    {new_body}\n")
        with pytest.raises(SourceUnavailableError) as info:
            s2sad.grad(edited_module.f, mode="reverse")(1.5)
        msg = str(info.value)
        assert msg.startswith(f"{path}:4: cannot read the source of f"), msg
        assert "changed since the function was defined" in msg and "importlib.reload" in msg
        importlib.reload(edited_module)
        g = s2sad.grad(edited_module.f, mode="reverse")(1.5)
        assert g == pytest.approx({"return x * x * x": 6.75, "return x * 3.0": 3.0,
                                   "return math.cos(x)": -math.sin(1.5)}[new_body])
    finally:
        sys.modules.pop("edited_module", None)


def test_source_check_skipped_for_files_older_than_the_process(tmp_path, monkeypatch):
    """A file last written before the process started needs no compile to tell that its
    functions run its text (a file written since does: the test above)."""
    import os

    from s2sad import parse

    path = tmp_path / "old_module.py"
    path.write_text("def f(x):\n    return x * x * 3.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    import old_module
    compiled = []
    real = parse._compiles_to
    monkeypatch.setattr(parse, "_compiles_to", lambda tree, func: compiled.append(func)
                        or real(tree, func))
    try:
        assert s2sad.grad(old_module.f, mode="reverse")(2.0) == 12.0
        assert compiled == [old_module.f]                 # written since the start: checked
        compiled.clear()
        parse._SOURCES.clear()
        old = parse._STARTED - 3600.0
        os.utime(path, (old, old))
        linecache.checkcache(str(path))
        assert s2sad.grad(old_module.f, mode="forward")(2.0) == 12.0
        assert compiled == []                             # older than the process: not
    finally:
        sys.modules.pop("old_module", None)


_CLASS_SOURCE = """
class Base:
    def scale(self):
        return 2.0


class Model(Base):
    def __init__(self):
        self.__k = 3.0

    def loss(self, x):
        return super().scale() * self.__k * x * x


def make(k):
    def inner(x):
        return k * x * x
    return inner
"""


def test_source_change_seen_in_methods_and_closures(tmp_path, monkeypatch):
    path = tmp_path / "edited_classes.py"
    path.write_text(_CLASS_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    import edited_classes
    try:
        model, inner = edited_classes.Model(), edited_classes.make(2.0)
        assert s2sad.grad(model.loss)(1.5) == pytest.approx(18.0)    # no false alarm
        assert s2sad.grad(edited_classes.make(4.0))(1.5) == pytest.approx(12.0)
        path.write_text(_CLASS_SOURCE.replace("* x * x", "* x * x * x"))
        for func, line in ((model.loss, 11), (inner, 16)):
            with pytest.raises(SourceUnavailableError) as info:
                s2sad.grad(func, mode="reverse")(1.5)
            assert str(info.value).startswith(f"{path}:{line}: ")
            assert "changed since the function was defined" in str(info.value)
    finally:
        sys.modules.pop("edited_classes", None)


def test_lambda_defined_in_a_file_is_differentiated():
    # once listed as "source unavailable"; a one-line lambda in a file now works
    assert s2sad.grad(square_lambda)(2.0) == pytest.approx(12.0)


def test_two_lambdas_on_one_line():
    # found here: grad(second_lambda) used to differentiate the first one (4.0, not 12.0)
    for func in (first_lambda, second_lambda):
        with pytest.raises(UnsupportedSyntaxError) as info:
            s2sad.grad(func)(2.0)
        msg = str(info.value)
        assert msg.startswith(f"{HERE}:{line_of('L_TWO_LAMBDAS')}:"), msg
        assert "lambda" in msg.splitlines()[0] and "several lambdas" in msg
        assert msg.splitlines()[-1].startswith("  hint: ")


# ---------------------------------------------------------------------------
# wrt and arguments


def two_args(x, y):
    return x * y + math.sin(x)


def no_args():
    return 1.0


def _def_line(func):
    return func.__code__.co_firstlineno


@pytest.mark.parametrize("wrt,words", [
    (2, ("wrt=2 is out of range", "two_args has 2 parameters")),
    (-1, ("wrt=-1 is out of range",)),
    ((0, 5), ("wrt=5 is out of range",)),
])
def test_wrt_out_of_range(wrt, words):
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(two_args, wrt=wrt)
    msg = str(info.value)
    # points at the function whose parameters wrt indexes
    assert msg.startswith(f"{HERE}:{_def_line(two_args)}: "), msg
    for w in words:
        assert w in msg
    assert msg.splitlines()[-1] == "  hint: use an index between 0 and 1"


@pytest.mark.parametrize("wrt", ["x", 1.0, True, None, (0, "y")])
def test_wrt_not_an_int(wrt):
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(two_args, wrt=wrt)
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{_def_line(two_args)}: "), msg
    assert "wrt must be an int or a tuple of ints" in msg
    assert "\n  hint: " in msg


def test_wrt_empty():
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(two_args, wrt=())
    assert "wrt is empty" in str(info.value)
    assert "\n  hint: " in str(info.value)


def test_function_without_parameters():
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(no_args)
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{_def_line(no_args)}: "), msg
    assert "-1" not in msg


def test_wrong_number_of_call_arguments():
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(two_args)(1.0)
    assert "missing a required argument" in str(info.value)


# ---------------------------------------------------------------------------
# integer, NaN and infinite inputs


def square(x):
    return x * x


def mixed(x, y):
    return x * y + math.exp(x) + math.tanh(y)


def loop_mixed(x, n):
    acc = x
    for _ in range(n):
        acc = acc * x + math.sin(acc)
    return acc


def array_fn(a):
    return np.sum(np.sin(a) * a)


def test_integer_inputs_are_promoted():
    # documented: Python ints are treated as floats; the gradient is a float
    got = s2sad.grad(square)(3)
    assert got == 6.0 and type(got) is float
    value, g = s2sad.value_and_grad(square)(3)
    assert value == 9 and g == 6.0 and type(g) is float
    gx, gy = s2sad.grad(mixed, wrt=(0, 1))(1, 2)
    assert gx == pytest.approx(2 + math.e) and gy == pytest.approx(1 + 1 - math.tanh(2) ** 2)
    assert type(gx) is float and type(gy) is float
    np.testing.assert_allclose(s2sad.grad(array_fn)(np.array([1, 2, 3])),
                               np.sin([1, 2, 3]) + np.cos([1, 2, 3]) * [1, 2, 3])


def abs_squared(z):  # <- L_COMPLEX_PARAM
    return np.abs(z) ** 2


@pytest.mark.parametrize("call", [
    lambda: s2sad.grad(abs_squared)(1 + 2j),
    lambda: s2sad.grad(abs_squared, mode="reverse")(np.complex128(1 + 2j)),
    lambda: s2sad.grad(abs_squared, mode="forward")(z=1 + 2j),
    lambda: s2sad.value_and_grad(abs_squared)(np.array([1 + 2j, 3.0])),
    lambda: s2sad.vjp(abs_squared)(1 + 2j),
    lambda: s2sad.jvp(abs_squared)(1 + 2j, 1.0),
    lambda: s2sad.jacobian(abs_squared)(1 + 2j),
    lambda: s2sad.hessian(abs_squared)(1 + 2j),
    lambda: s2sad.elementwise_grad(abs_squared)(np.array([1 + 2j])),
], ids=["grad", "numpy-scalar", "forward-keyword", "array", "vjp", "jvp", "jacobian",
        "hessian", "elementwise"])
def test_complex_argument_refused(call):
    # the rules are those of real arguments: the gradient of |z|^2 came out as
    # 2 + 4j (2 - 4j in JAX's convention), jvp along the real axis as 2 + 4j (not 2)
    s2sad.grad(abs_squared)(1.5)         # a real specialization first: checked anyway
    with pytest.raises(ArgumentError) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{line_of('L_COMPLEX_PARAM')}"), msg
    assert "(z) of abs_squared is complex" in msg and "real arguments only" in msg
    assert "hint: pass the real and imaginary parts" in msg


def test_complex_argument_not_differentiated_is_fine():
    assert s2sad.grad(mixed_complex)(2.0, 1j) == pytest.approx(4.0)


def mixed_complex(x, c):
    return x * x + (c * c).real


def complex_inside(x):  # <- L_COMPLEX_INSIDE
    return np.abs(x * (1 + 2j))


@pytest.mark.parametrize("func, marker", [(complex_inside, "L_COMPLEX_INSIDE")])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_complex_values_inside_a_real_function_refused(func, marker, mode):
    # (a complex output is refused as not a scalar)
    # |x (1 + 2j)| = sqrt(5) |x|: the gradient came out -1.34 + 1.79j in both modes
    g = s2sad.grad(func, mode=mode)
    for _ in range(2):      # the second call (the fast path once) is checked too
        with pytest.raises(UnsupportedSyntaxError) as info:
            g(1.5)
        msg = str(info.value)
        assert msg.startswith(f"{HERE}:{line_of(marker)}"), msg
        assert "complex arithmetic" in msg.splitlines()[0]
    with pytest.raises(UnsupportedSyntaxError):
        s2sad.value_and_grad(func, mode=mode)(1.5)


class _ComplexScale:
    def __init__(self):
        self.c = 1j


def complex_attribute(x, obj):  # <- L_COMPLEX_ATTRIBUTE
    return obj.c * x * x


def test_complex_gradient_through_an_attribute_refused_on_every_call():
    """A function reading attributes of an object argument keys its specializations by
    their kinds too: the refused one was not forgotten (looked up by the argument types
    alone), and the next calls returned the complex gradient 4j."""
    g = s2sad.grad(complex_attribute, mode="reverse")
    for _ in range(3):
        with pytest.raises(UnsupportedSyntaxError) as info:
            g(2.0, _ComplexScale())
        assert str(info.value).startswith(f"{HERE}:{line_of('L_COMPLEX_ATTRIBUTE')}")


def complex_inside_array(v):  # <- L_COMPLEX_ARRAY
    return np.abs(v * (1 + 2j))


def complex_output_array(v):  # <- L_COMPLEX_OUT_ARRAY
    return v * (1 + 2j)


@pytest.mark.filterwarnings("error")        # jacobian once dropped the imaginary part
@pytest.mark.parametrize("call, marker", [
    (lambda v: s2sad.vjp(complex_inside_array)(v)[1](np.ones(2)), "L_COMPLEX_ARRAY"),
    (lambda v: s2sad.jvp(complex_inside_array)(v, np.ones(2)), "L_COMPLEX_ARRAY"),
    (lambda v: s2sad.jacobian(complex_inside_array)(v), "L_COMPLEX_ARRAY"),
    (lambda v: s2sad.elementwise_grad(complex_inside_array)(v), "L_COMPLEX_ARRAY"),
    (lambda v: s2sad.check_grads(complex_inside_array, (v,)), "L_COMPLEX_ARRAY"),
    (lambda v: s2sad.vjp(complex_output_array)(v)[1](np.ones(2) + 0j), "L_COMPLEX_OUT_ARRAY"),
    (lambda v: s2sad.jacobian(complex_output_array)(v), "L_COMPLEX_OUT_ARRAY"),
], ids=["vjp", "jvp", "jacobian", "elementwise_grad", "check_grads", "vjp-complex-output",
        "jacobian-complex-output"])
def test_complex_values_refused_by_the_toolbox(call, marker):
    # sqrt(5) |v|: vjp and elementwise_grad gave -1.34+1.79j per item, jacobian its
    # real part -1.34 with a ComplexWarning
    with pytest.raises(UnsupportedSyntaxError) as info:
        call(np.array([1.0, 2.0]))
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{line_of(marker)}"), msg
    assert "complex arithmetic" in msg.splitlines()[0]


def test_jvp_of_a_complex_output_is_kept():
    value, tangent = s2sad.jvp(complex_output_array)(np.array([1.0, 2.0]), np.ones(2))
    np.testing.assert_allclose(tangent, [1 + 2j, 1 + 2j])


def power_loop(x, n):
    acc = x
    for _ in range(n):
        acc = acc * x
    return acc


def test_wrt_an_int_argument_used_as_a_loop_bound():
    assert power_loop(0.5, 2) == 0.125
    # found here: the int was promoted to float and range(n) raised TypeError
    got = s2sad.grad(power_loop, wrt=(0, 1))(0.5, 2)
    assert got == (pytest.approx(0.75), 0.0) and type(got[1]) is float
    assert s2sad.grad(power_loop, wrt=1)(0.5, 2) == 0.0


def flagged(x, flag):
    return x * x if flag else x * 3.0


def bool_sum(a):
    return np.sum(a * a)        # of a bool array: a count (True * True is True), not a square


@pytest.mark.parametrize("mode", ["auto", "reverse", "forward"])
def test_bool_wrt_refused_in_every_mode(mode):
    """A differentiated bool (a Python bool, np.bool_, an array of bools) is refused
    with an ArgumentError at the function's line in every mode, as JAX refuses it (it
    was promoted like an int in reverse mode and refused in forward mode; of a bool
    array the 'gradient' 2a of a count was wrong); a bool that is not differentiated
    is fine."""
    for value in (True, False, np.bool_(True)):
        for call in (lambda v=value: s2sad.grad(square, mode=mode)(v),
                     lambda v=value: s2sad.value_and_grad(flagged, wrt=1, mode=mode)(2.0, v),
                     lambda v=value: s2sad.grad(flagged, wrt=(0, 1), mode=mode)(2.0, flag=v)):
            with pytest.raises(ArgumentError) as info:
                call()
            msg = str(info.value)
            assert msg.startswith(f"{HERE}:"), msg
            assert "holds a bool, which has no derivative" in msg and "wrt" in msg
    assert s2sad.grad(flagged, mode=mode)(2.0, True) == 4.0
    assert s2sad.grad(flagged, mode=mode)(2.0, np.bool_(False)) == 3.0
    if mode != "forward":
        with pytest.raises(ArgumentError, match="holds an array of bools") as info:
            s2sad.grad(bool_sum, mode=mode)(np.array([True, False]))
        assert info.value.lineno == _def_line(bool_sum)
        g = s2sad.grad(bool_sum, mode=mode)
        np.testing.assert_allclose(g(np.array([1.0, 2.0])), [2.0, 4.0])
        with pytest.raises(ArgumentError):      # after a float specialization too
            g(np.array([True, False]))


def dict_product(p):
    return p["a"] * p["b"]


def ignores_second(x, o):
    return x * 2.0


class _WithDecorated:
    def __init__(self, a):
        self.a = a

    @s2sad.grad
    def slope(self, x):
        return self.a * x ** 3


def test_non_numeric_wrt_refused():
    """A differentiated set, a string, None or an object got the gradient 0.0 (a dict a
    bare IndexError, before dicts were differentiated); a method decorated with bare
    @grad (wrt=0 is self) a MissingRuleError about an attribute. Each is an
    ArgumentError at the def line naming the argument and its type."""
    cases = [(lambda: s2sad.grad(dict_product)({"a", "b"}), dict_product, "set"),
             (lambda: s2sad.grad(ignores_second, wrt=1)(1.0, "s"), ignores_second, "str"),
             (lambda: s2sad.grad(ignores_second, wrt=(0, 1))(1.0, None), ignores_second,
              "NoneType"),
             (lambda: s2sad.grad(ignores_second, wrt=1, mode="forward")(1.0, object()),
              ignores_second, "object"),
             (lambda: s2sad.jvp(ignores_second, wrt=1)(1.0, "s", 1.0), ignores_second, "str"),
             (lambda: s2sad.vjp(dict_product)(frozenset()), dict_product, "frozenset")]
    for call, func, typename in cases:
        with pytest.raises(ArgumentError) as info:
            call()
        assert info.value.lineno == _def_line(func)
        assert f"holds a value of type {typename}, which has no derivative" in str(info.value)
    assert s2sad.grad(ignores_second)(1.0, "s") == 2.0         # not differentiated: fine
    with pytest.raises(ArgumentError) as info:
        _WithDecorated(2.0).slope(1.5)
    assert "'self'" in str(info.value) and "wrt=1" in info.value.hint


def test_bool_wrt_refused_by_the_toolbox():
    for call in (lambda: s2sad.jvp(square)(True, 1.0),
                 lambda: s2sad.vjp(square)(np.bool_(True)),
                 lambda: s2sad.jacobian(bool_sum)(np.array([True, False])),
                 lambda: s2sad.hessian(square)(True),
                 lambda: s2sad.elementwise_grad(square)(np.array([True]))):
        with pytest.raises(ArgumentError, match="which has no derivative"):
            call()
    assert s2sad.jvp(flagged)(2.0, True, 1.0) == (4.0, 4.0)
    value, pullback = s2sad.vjp(flagged)(2.0, False)
    assert (value, pullback(1.0)) == (6.0, 3.0)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_nan_and_inf_inputs_propagate():
    nan, inf = float("nan"), float("inf")
    assert math.isnan(s2sad.grad(square)(nan))
    assert s2sad.grad(square)(inf) == inf
    assert s2sad.grad(square)(-inf) == -inf
    gx, gy = s2sad.grad(mixed, wrt=(0, 1))(nan, 1.0)
    assert math.isnan(gx) and math.isnan(gy)
    gx, gy = s2sad.grad(mixed, wrt=(0, 1))(1.0, inf)
    assert gx == inf and gy == 1.0
    assert math.isnan(s2sad.grad(loop_mixed)(nan, 3))
    g = s2sad.grad(array_fn)(np.array([0.5, nan, inf]))
    assert g[0] == pytest.approx(math.sin(0.5) + 0.5 * math.cos(0.5))
    assert math.isnan(g[1]) and math.isnan(g[2])
    gx, gy = s2sad.grad(mixed, wrt=(0, 1))(np.float64(nan), np.float64(2.0))
    assert np.isnan(gx) and np.isnan(gy)


# ---------------------------------------------------------------------------
# wrong answers without an error (bugs)


def remainder(x):
    return x % 1.0 + x


def divmod_remainder(x):
    q, r = divmod(x, 1.0)
    return r * 2.0 + q


def returns_none(x):
    y = x * 2.0  # noqa: F841
    return None  # <- L_RETURNS_NONE


def returns_text(x):
    return "a"  # <- L_RETURNS_TEXT


def computed_function(x, name="sin"):
    # (getattr of a constant name is an attribute: getattr(math, "sin")(x) is math.sin(x))
    return getattr(math, name)(x)  # <- L_COMPUTED


def test_remainder_gradient():
    assert s2sad.grad(remainder)(2.25) == pytest.approx(2.0)


def divmod_both(x, y):
    q, r = divmod(x, y)
    return r * x + q


def test_divmod_remainder_gradient():
    assert s2sad.grad(divmod_remainder)(2.25) == pytest.approx(2.0)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_divmod_gradient_in_both_modes(mode):
    # r = x - y q with q = floor(x / y) = 3 at (2.5, 0.7): d/dx (r x + q) = r + x,
    # d/dy = -q x; forward mode once had no rule for divmod
    x, y = 2.5, 0.7
    r = x - 3 * y
    g = s2sad.grad(divmod_both, wrt=(0, 1), mode=mode)(x, y)
    assert g == pytest.approx((r + x, -3 * x))


def test_none_output():
    with pytest.raises(NonScalarOutputError) as info:
        s2sad.grad(returns_none)(1.0)
    assert str(info.value).startswith(f"{HERE}:{line_of('L_RETURNS_NONE')}")


def test_text_output():
    with pytest.raises(NonScalarOutputError) as info:
        s2sad.grad(returns_text)(1.0)
    assert str(info.value).startswith(f"{HERE}:{line_of('L_RETURNS_TEXT')}")


def test_computed_function_message():
    with pytest.raises(MissingRuleError) as info:
        s2sad.grad(computed_function)(1.0)
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{line_of('L_COMPUTED')}")
    assert "_t1" not in msg.splitlines()[0]


# ---------------------------------------------------------------------------
# the command line never prints a traceback

CLI_HEADER = '''\
import math
import os

import numpy as np
from math import sin

COUNTER = 0.0


class Box:
    pass


def apply(fn, value):
    return fn(value)


exec("def made(x):\\n    return x * x\\n")
'''

# (function in the temp file, --wrt, marker of the reported line or None, words)
CLI_CASES = [(c.func.__name__, "0", c.marker, c.names) for c in CASES
             if c.error is not NonScalarOutputError and c.func is not bad_nonlocal] + [
    ("bad_async", "0", "L_ASYNC", ("bad_async",)),
    ("two_args", "2", None, ("wrt=2 is out of range",)),
    ("two_args", "x", None, ("--wrt expects integers",)),
    ("sin", "0", None, ("cannot read the source of sin",)),
    ("made", "0", None, ("cannot read the source of made",)),
    ("no_such_function", "0", None, ("no function named",)),
]


def _cli_file(tmp_path):
    parts = [CLI_HEADER]
    for func in [c.func for c in CASES] + [two_args, bad_async]:
        if func is bad_nonlocal:
            continue
        parts.append(textwrap.dedent(inspect.getsource(func)))
    path = tmp_path / "catalogue_cli.py"
    path.write_text("\n\n".join(parts))
    return str(path)


def _check_cli_output(func, marker, words, rc, out, err, path, lines):
    """Problems with one CLI run (empty when it reported the error properly)."""
    where = f"{func}: rc={rc}\nstdout: {out}\nstderr: {err}"
    if rc != 1 or "Traceback" in out + err or out or not err.startswith("s2sad: error: "):
        return [where]
    if marker is not None:
        prefix = f"s2sad: error: {path}:{line_of(marker, lines)}"
        if not err.startswith(prefix) or "\n  hint: " not in err:
            return [where]
    if not all(w in err for w in words):
        return [where]
    return []


def test_cli_every_construct_in_process(tmp_path, capsys, monkeypatch):
    # the same entry point as `python -m s2sad`, without a process per construct
    from s2sad import cli

    monkeypatch.setenv("S2SAD_CACHE_DIR", str(tmp_path / "generated"))
    path = _cli_file(tmp_path)
    lines = open(path).read().splitlines()
    problems = []
    for func, wrt, marker, words in CLI_CASES:
        try:
            rc = cli.main(["dump", f"{path}:{func}", "--wrt", wrt])
        except BaseException as exc:     # noqa: BLE001 - escaping the CLI is the failure
            rc = f"raised {type(exc).__name__}: {exc}"
        out, err = capsys.readouterr()
        problems += _check_cli_output(func, marker, words, rc, out, err, path, lines)
    assert not problems, "\n\n".join(problems)


# one subprocess per kind of error (every construct runs in process above)
CLI_SUBPROCESS = ["bad_try", "bad_gamma", "bad_varargs", "two_args", "sin", "made",
                  "no_such_function"]


def test_cli_subprocess_reports_without_traceback(tmp_path):
    path = _cli_file(tmp_path)
    lines = open(path).read().splitlines()
    env = dict(os.environ, S2SAD_CACHE_DIR=str(tmp_path / "generated"))
    procs = []
    for func, wrt, marker, words in CLI_CASES:
        if func not in CLI_SUBPROCESS or (func == "two_args" and wrt != "2"):
            continue
        cmd = [sys.executable, "-m", "s2sad", "dump", f"{path}:{func}", "--wrt", wrt]
        procs.append((func, marker, words, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)))
    assert len(procs) == len(CLI_SUBPROCESS)
    problems = []
    for func, marker, words, proc in procs:
        out, err = proc.communicate(timeout=120)
        problems += _check_cli_output(func, marker, words, proc.returncode, out, err, path,
                                      lines)
    assert not problems, "\n\n".join(problems)


# ---------------------------------------------------------------------------
# ndarray subclasses whose arithmetic the derivative code would get wrong

with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    MATRIX = np.matrix([[1.0, 2.0], [3.0, 4.0]])


def sum_sq(x):
    return np.sum(x * x)


def weighted(x, w):
    return np.sum(x * w)


def first_weighted(x, ws):
    return np.sum(ws[0] * x)


def with_global_matrix(x):
    y = x * 2.0
    return np.sum(MATRIX * y)  # <- L_MATRIX


MATRICES = [np.eye(2), MATRIX]


def with_global_list_of_matrices(x):
    return np.sum(MATRICES[1] * x) + np.sum(MATRICES[0] * x)  # <- L_MATRICES


def with_masked_closure():
    m = np.ma.masked_array([1.0, 2.0], mask=[0, 1])

    def inner(x):
        return np.sum(m * x)  # <- L_MASKED
    return inner


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_and_masked_arguments_refused():
    """np.matrix (its * is a matrix product) and masked arrays (they skip masked
    entries) gave wrong gradients silently: an argument holding one, or a list item,
    is an ArgumentError at the function's line that says to pass np.asarray."""
    x = np.array([[1.0, -1.0], [0.5, 2.0]])
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    cases = [(lambda: s2sad.grad(sum_sq)(MATRIX), sum_sq, "np.asarray(x)"),
             (lambda: s2sad.grad(sum_sq, mode="reverse")(masked), sum_sq, "np.asarray(x)"),
             (lambda: s2sad.grad(weighted)(x, MATRIX), weighted, "np.asarray(w)"),
             (lambda: s2sad.grad(weighted)(x, w=MATRIX), weighted, "np.asarray(w)"),
             (lambda: s2sad.grad(first_weighted)(x, [MATRIX]), first_weighted,
              "np.asarray(ws[0])"),
             (lambda: s2sad.jvp(weighted)(x, MATRIX, x), weighted, "np.asarray(w)"),
             (lambda: s2sad.vjp(weighted)(x, MATRIX), weighted, "np.asarray(w)"),
             (lambda: s2sad.jacobian(sum_sq)(MATRIX), sum_sq, "np.asarray(x)"),
             (lambda: s2sad.source(weighted, args=(x, MATRIX)), weighted, "np.asarray(w)")]
    for call, func, hint in cases:
        with pytest.raises(ArgumentError) as info:
            call()
        msg = str(info.value)
        assert info.value.lineno == _def_line(func), msg
        assert "np.matrix" in msg or "masked array" in msg, msg
        assert hint in info.value.hint, msg
    g = s2sad.grad(first_weighted)           # a list of plain arrays first, then a matrix
    np.testing.assert_allclose(g(x, [np.asarray(MATRIX)]), np.asarray(MATRIX))
    with pytest.raises(ArgumentError, match="np.matrix"):
        g(x, [MATRIX])
    np.testing.assert_allclose(s2sad.grad(weighted)(x, np.asarray(MATRIX)), np.asarray(MATRIX))


def test_matrix_and_masked_globals_refused():
    x = np.array([[1.0, -1.0], [0.5, 2.0]])
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(with_global_matrix)(x)
    assert info.value.lineno == line_of("L_MATRIX") and "MATRIX is an np.matrix" in str(info.value)
    assert "np.asarray(MATRIX)" in info.value.hint
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(with_global_list_of_matrices)(x)
    assert info.value.lineno == line_of("L_MATRICES")
    assert "MATRICES[1] is an np.matrix" in str(info.value)
    with pytest.raises(ArgumentError) as info:
        s2sad.grad(with_masked_closure())(np.ones(2))
    assert info.value.lineno == line_of("L_MASKED") and "m is a masked array" in str(info.value)


class _HoldsWeights:
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return np.sum(self.w * x)  # <- L_SELF_W

    def first_two(self, x):
        return np.sum(self.w[0] * x) + np.sum(self.w[1] * x)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_attribute_of_self_refused_at_each_call():
    """An np.matrix read as self.w by a method differentiated with grad(obj.method) gave
    a wrong gradient silently: the attribute is checked at each call (it may be set
    after the gradient was made), an ArgumentError at the line that reads it."""
    x = np.array([[1.0, -1.0], [0.5, 2.0]])
    obj = _HoldsWeights(np.asarray(MATRIX))
    g = s2sad.grad(obj.loss)
    np.testing.assert_allclose(g(x), np.asarray(MATRIX))
    obj.w = MATRIX
    with pytest.raises(ArgumentError) as info:
        g(x)
    assert info.value.lineno == line_of("L_SELF_W") and "self.w is an np.matrix" in str(info.value)
    assert "np.asarray(self.w)" in info.value.hint
    obj.w = [np.eye(2), MATRIX]
    with pytest.raises(ArgumentError, match=r"self\.w\[1\] is an np.matrix"):
        s2sad.grad(obj.first_two)(x)
    with pytest.raises(ArgumentError, match="self.w is a masked array"):
        s2sad.grad(_HoldsWeights(np.ma.masked_array([1.0, 2.0], mask=[0, 1])).loss)(np.ones(2))
@s2sad.custom_vjp
def reverse_only(x):  # <- L_REVERSE_ONLY
    return math.log1p(math.exp(x))


def _reverse_only_fwd(x):
    return reverse_only(x), x


def _reverse_only_bwd(x, g):
    return (g / (1.0 + math.exp(-x)),)


reverse_only.defvjp(_reverse_only_fwd, _reverse_only_bwd)


def calls_reverse_only(x):
    return reverse_only(x) * 2.0


@pytest.mark.parametrize("call", [
    lambda: s2sad.grad(calls_reverse_only, mode="forward")(0.5),
    lambda: s2sad.jvp(calls_reverse_only)(0.5, 1.0),
    lambda: s2sad.jvp(reverse_only)(0.5, 1.0),
    lambda: s2sad.check_grads(calls_reverse_only, (0.5,)),
], ids=["grad-forward", "jvp", "jvp-direct", "check_grads"])
def test_custom_vjp_in_forward_mode_is_located(call):
    # was a MissingRuleError with no file or line, whose hint said to register an
    # adjoint (the custom_vjp is one)
    with pytest.raises(MissingRuleError) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(f"{HERE}:{line_of('L_REVERSE_ONLY')}"), msg
    assert "no derivative rule for reverse_only in forward mode" in msg
    assert "modes=('rev',)" in msg.splitlines()[-1]
    assert s2sad.check_grads(calls_reverse_only, (0.5,), modes=("rev",), order=1)
    assert s2sad.grad(calls_reverse_only)(0.5) == pytest.approx(2.0 / (1.0 + math.exp(-0.5)))


def scaled_square(x, *, s=2.0):  # <- L_SCALED_SQUARE
    return s * x * x


@pytest.mark.parametrize("made, words", [
    (lambda: s2sad.jacobian(scaled_square), "jacobian"),
    (lambda: s2sad.hessian(scaled_square), "hessian"),
    (lambda: s2sad.elementwise_grad(scaled_square), "elementwise_grad"),
], ids=["jacobian", "hessian", "elementwise_grad"])
def test_grad_of_a_toolbox_function_is_located_in_the_users_file(made, words):
    # was an UnsupportedSyntaxError "*args or **kwargs parameter" located in
    # s2sad/toolbox.py
    for outer in (s2sad.grad, s2sad.jacobian, s2sad.vjp):
        with pytest.raises(ArgumentError) as info:
            outer(made())(1.5)
        msg = str(info.value)
        assert msg.startswith(f"{HERE}:{line_of('L_SCALED_SQUARE')}"), msg
        assert words in msg.splitlines()[0] and "scaled_square" in msg.splitlines()[0]
        assert "s2sad.hessian(f)" in msg
    assert s2sad.jacobian(s2sad.grad(scaled_square))(1.5) == pytest.approx(4.0)
