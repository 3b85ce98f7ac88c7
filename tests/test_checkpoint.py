"""Checkpointed reverse mode: same gradients, tape memory growing like sqrt(n)."""

import math
import tracemalloc

import numpy as np
import pytest
from gradcheck import numerical_grad

import s2sad


def pendulum(c, L, theta0, steps):
    dt = 0.01
    theta = theta0
    omega = 0.0
    for _ in range(steps):
        theta, omega = theta + dt * omega, omega - dt * (c * omega + 9.81 / L * math.sin(theta))
    return theta


def branchy(x, n):
    s = x
    acc = 0.0
    for i in range(1, n, 2):
        if s > 1.0:
            s = s * 0.5 + math.sin(acc)
        else:
            s = s * 1.3 + 0.1 * i
        for k in range(3):
            acc = acc + s * k
    return s + acc


def vector_steps(x, w, n):
    for _ in range(n):
        x = np.tanh(w @ x) + 0.1 * x
    return np.sum(x * x)


def with_break(x, n):
    for i in range(n):
        x = x * 0.9 + 0.01 * i
        if x < 0.1:
            break
    return x


CASES = [
    (pendulum, (0.3, 1.5, 1.0, 200), (0, 1)),
    (pendulum, (0.3, 1.5, 1.0, 0), (0, 1)),
    (pendulum, (0.3, 1.5, 1.0, 1), (0, 1)),
    (pendulum, (0.3, 1.5, 1.0, 17), (0, 1, 2)),
    (branchy, (0.7, 15), 0),
    (branchy, (1.9, 9), 0),
    (vector_steps, (np.array([0.3, -0.2, 0.5]), np.eye(3) * 0.8 + 0.05, 30), (0, 1)),
    (with_break, (3.0, 50), 0),     # not checkpointable (break): falls back to the plain tape
]


@pytest.mark.parametrize("f, args, wrt", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_checkpointed_gradient_equals_plain(f, args, wrt):
    plain = s2sad.grad(f, wrt)(*args)
    ckpt = s2sad.grad(f, wrt, checkpoint=True)(*args)
    for a, b in zip(np.atleast_1d(plain) if not isinstance(plain, tuple) else plain,
                    np.atleast_1d(ckpt) if not isinstance(ckpt, tuple) else ckpt):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    fd = numerical_grad(f, args, wrt)
    for a, b in zip(ckpt if isinstance(ckpt, tuple) else (ckpt,),
                    fd if isinstance(fd, tuple) else (fd,)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_checkpointed_source_keeps_states_not_a_tape():
    text = s2sad.source(pendulum, (0, 1), checkpoint=True)
    assert "checkpoint_interval" in text and "_ck1.append" in text
    forward = text.split("btheta_1 = 1.0")[0]
    assert "_tape.append" not in forward            # the forward loop records no tape
    replay = text.split("btheta_1 = 1.0")[1]
    assert replay.count("_tape.append") == 2        # only the replay records (theta, omega)


def _peak(func, args):
    func(*args)
    tracemalloc.start()
    func(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_tape_memory_grows_like_sqrt_n():
    plain = s2sad.grad(pendulum, (0, 1), mode="reverse")
    ckpt = s2sad.grad(pendulum, (0, 1), checkpoint=True)
    small, large = (0.3, 1.5, 1.0, 2_000), (0.3, 1.5, 1.0, 32_000)   # 16x the steps
    plain_growth = _peak(plain, large) / _peak(plain, small)
    ckpt_growth = _peak(ckpt, large) / _peak(ckpt, small)
    assert plain_growth > 10             # linear: about 16
    assert ckpt_growth < 6               # square root: about 4
    assert _peak(ckpt, large) * 20 < _peak(plain, large)


def _rows_of_pairs(x, y):
    rows = [(x, y), (y, x)]
    s = 0.0
    for a, b in rows:
        s = s + a * b * a
    return s


def _rows_as_lists(x, y):
    rows = [[x, y], [y, x * y]]
    s = 0.0
    for r in rows:
        s = s + r[0] * r[1] * r[0]
    return s


def _rows_by_index(x, y):
    rows = [[x, y], [y, x * y]]
    s = 0.0
    for i in range(len(rows)):
        s = s + rows[i][0] * rows[i][1] * rows[i][0]
    return s


@pytest.mark.parametrize("func", [_rows_of_pairs, _rows_as_lists, _rows_by_index],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("outer", ["reverse", "forward"])
def test_second_derivative_through_a_checkpointed_loop_over_rows(func, outer):
    """Reverse over a checkpointed gradient: the row read by an index the kinds could
    not tell (``_r1[_j]`` of a range, in the recomputed segment) was taken for an
    array, and the adjoints of its items were joined with ``+``, which concatenated
    the lists: (0.0, 0.0) for (0.0, 2.0)."""
    first = s2sad.grad(func, wrt=0, mode="reverse", checkpoint=True)
    second = s2sad.grad(first, wrt=(0, 1), mode=outer)
    for point in [(1.5, 1.3), (-0.4, 0.8)]:
        want = numerical_grad(lambda x, y: s2sad.grad(func, wrt=0)(x, y), point, wrt=(0, 1))
        assert second(*point) == pytest.approx(want, rel=1e-6, abs=1e-8)
