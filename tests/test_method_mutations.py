"""Lists held in attributes of objects, changed by a method (or another function)
called from differentiated code and read again: ``o.add(x * x)`` appending to
``self.xs``, then ``sum(o.xs)``. The derivative code keeps no adjoint (or tangent) for
what an object's attribute holds: the gradient was a silent zero. Each such call is
refused, located at the call in the user's function; a list attribute only written (a
log), or a method only reading one, is differentiated (checked against central
differences, with a fresh object per evaluation)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import s2sad

MODES = ["reverse", "forward"]


def _line(fn, marker="# <- refused"):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, text in enumerate(lines) if marker in text)


def _central(f, x, make, h=1e-6):
    return (f(x + h, *make()) - f(x - h, *make())) / (2 * h)


class Acc:
    def __init__(self):
        self.xs = [1.0]
        self.hist = []
        self.w = 2.0

    def add(self, v):
        self.xs.append(v)

    def extend2(self, v):
        self.xs.extend([v, v])

    def put_first(self, v):
        self.xs.insert(0, v)

    def total(self):
        return sum(self.xs)

    def get(self):
        return self.xs

    def log(self, v):
        self.hist.append(v)

    def logged(self, v):
        self.hist.append(v)
        return v * 2.0

    def scaled(self, v):
        return self.w * v + sum(self.xs)

    def add_to(self, xs, v):
        xs.append(v)

    def loss(self, x):
        self.add(x * x)         # <- refused
        return sum(self.xs)


@dataclasses.dataclass
class Points:
    xs: list

    def add(self, v):
        self.xs.append(v)


class Outer:
    def __init__(self):
        self.layers = [Acc(), Acc()]


def appended_then_summed(x, o):
    o.add(x * x)                # <- refused
    return sum(o.xs)


def extended_then_summed(x, o):
    o.extend2(x * x)            # <- refused
    return sum(o.xs)


def appended_then_last(x, o):
    o.add(x * x)                # <- refused
    return o.xs[-1]


def appended_then_total(x, o):
    o.add(x * x)                # <- refused
    return o.total()


def inserted_then_first(x, o):
    o.put_first(x * 3.0)        # <- refused
    return o.xs[0]


def push(o, v):
    o.add(v)


def appended_two_calls_down(x, o):
    push(o, x * x)              # <- refused
    return sum(o.xs)


def appended_in_a_loop(x, o):
    s = 0.0
    for i in range(3):
        o.add(x * i)            # <- refused
        s = s + o.scaled(1.0)
    return s


def appended_to_the_list_a_method_returns(x, o):
    q = o.get()
    q.append(x * x)             # <- refused
    return sum(o.xs)


def appended_in_each_layer(x, net):
    for layer in net.layers:
        layer.add(x * x)        # <- refused
    return sum(net.layers[0].xs)


def dataclass_appended(x, p):
    p.add(x * x)                # <- refused
    return sum(p.xs)


ACC = Acc()


def global_object_appended(x):
    ACC.add(x * x)              # <- refused
    return sum(ACC.xs)


REFUSED = [
    (appended_then_summed, Acc, "o.add(...) appends to o.xs"),
    (extended_then_summed, Acc, "o.extend2(...) extends o.xs"),
    (appended_then_last, Acc, "o.add(...) appends to o.xs"),
    (appended_then_total, Acc, "o.add(...) appends to o.xs"),
    (inserted_then_first, Acc, "o.put_first(...) inserts into o.xs"),
    (appended_two_calls_down, Acc, "push(...) appends to o.xs"),
    (appended_in_a_loop, Acc, "o.add(...) appends to o.xs"),
    (appended_to_the_list_a_method_returns, Acc, "q.append(...) appends to o.xs"),
    (appended_in_each_layer, Outer, "layer.add(...) appends to net.layers[].xs"),
    (dataclass_appended, lambda: Points([1.0]), "p.add(...) appends to p.xs"),
]


@pytest.mark.parametrize("mode", MODES + ["auto"])
@pytest.mark.parametrize("fn, make, text", REFUSED, ids=[r[0].__name__ for r in REFUSED])
def test_a_list_attribute_changed_by_a_call_and_read_again_is_refused(fn, make, text, mode):
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(fn, mode=mode)(1.3, make())
    err = info.value
    assert isinstance(err, s2sad.UnsupportedSyntaxError)
    assert "held in an attribute of an object" in str(err)
    assert text in str(err)
    assert err.lineno == _line(fn)
    assert err.filename == __file__
    assert "keep the list in a local variable" in err.hint


@pytest.mark.parametrize("mode", MODES)
def test_the_refusal_names_the_line_reading_the_attribute(mode):
    with pytest.raises(s2sad.UnsupportedSyntaxError,
                       match=r"o\.add\(\.\.\.\) appends to o\.xs: line (\d+) reads it again") \
            as info:
        s2sad.grad(appended_then_summed, mode=mode)(1.3, Acc())
    assert f"line {_line(appended_then_summed) + 1} reads it again" in str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_global_object_appended_to_by_its_method_is_refused(mode):
    with pytest.raises(s2sad.UnsupportedSyntaxError, match=r"ACC\.add\(\.\.\.\) appends to "
                       r"ACC\.xs") as info:
        s2sad.grad(global_object_appended, mode=mode)(1.3)
    assert info.value.lineno == _line(global_object_appended)
    assert ACC.xs == [1.0]      # refused before running anything


@pytest.mark.parametrize("mode", MODES)
def test_grad_of_a_bound_method_appending_to_its_own_list_is_refused(mode):
    with pytest.raises(s2sad.UnsupportedSyntaxError,
                       match=r"self\.add\(\.\.\.\) appends to self\.xs") as info:
        s2sad.grad(Acc().loss, mode=mode)(1.3)
    assert info.value.lineno == _line(Acc.loss)


def calls_the_refused_method(x, o):
    return o.loss(x) + x


@pytest.mark.parametrize("mode", MODES)
def test_a_method_refused_on_its_own_is_refused_when_called(mode):
    # (at the call: the method both appends to self.xs and reads it)
    with pytest.raises(s2sad.UnsupportedSyntaxError,
                       match=r"o\.loss\(\.\.\.\) appends to o\.xs: it reads it too") as info:
        s2sad.grad(calls_the_refused_method, mode=mode)(1.3, Acc())
    assert info.value.lineno == _line(calls_the_refused_method, "o.loss")


# working neighbours: a log, a method that only reads the list, the hint's rewrite

def logged_by_a_method(x, o):
    o.log(x * x)
    return o.scaled(x)


def logged_by_a_method_returning(x, o):
    return o.logged(x * x) + x


def read_by_a_method(x, o):
    return o.scaled(x * x) + x


def kept_in_a_local_list(x, o):
    xs = list(o.xs)
    o.add_to(xs, x * x)
    o.add_to(xs, x * 3.0)
    return sum(xs) * xs[-1]


def appended_without_a_derivative(x, o):
    o.add(2.0)
    return sum(o.xs) * x


WORKING = [logged_by_a_method, logged_by_a_method_returning, read_by_a_method,
           kept_in_a_local_list, appended_without_a_derivative]


@pytest.mark.parametrize("mode", MODES + ["auto"])
@pytest.mark.parametrize("fn", WORKING, ids=[f.__name__ for f in WORKING])
def test_list_attributes_logged_or_only_read_are_differentiated(fn, mode):
    x = 1.3
    want = _central(fn, x, lambda: (Acc(),))
    got = s2sad.grad(fn, mode=mode)(x, Acc())
    assert got == pytest.approx(want, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_a_log_kept_by_a_method_still_gets_its_values(mode):
    o = Acc()
    s2sad.grad(logged_by_a_method, mode=mode)(1.3, o)
    assert o.hist == [pytest.approx(1.69)]


def push_global(v):
    ACC.add(v)


def global_object_appended_by_a_helper(x):
    push_global(x * x)          # <- refused
    return sum(ACC.xs)


@pytest.mark.parametrize("mode", MODES)
def test_a_helper_appending_to_a_global_objects_list_is_refused(mode):
    # the helper is given nothing: its summary names the global object itself
    with pytest.raises(s2sad.UnsupportedSyntaxError,
                       match=r"push_global\(\.\.\.\) appends to ACC\.xs") as info:
        s2sad.grad(global_object_appended_by_a_helper, mode=mode)(1.3)
    assert info.value.lineno == _line(global_object_appended_by_a_helper)
