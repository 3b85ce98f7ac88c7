"""The benchmark workloads: plain Python/NumPy functions and their hand-written gradients.

Each workload has

* ``f``: the function s2sad differentiates. It is plain Python/NumPy and lives
  at module level in this file, because s2sad reads its source;
* ``grad``: the hand-written gradient, the reference every tool is checked
  against and timed against. It returns a tuple with one entry per argument in
  ``wrt`` (the shape ``s2sad.grad(f, wrt=(...))`` returns);
* ``peer``: the same function written once over a small namespace ``ns``
  (``ns.sin``, ``ns.sum``, ...), from which ``run.py`` builds the autograd,
  PyTorch and JAX versions;
* ``make_args(quick)``: the arguments (smaller problem sizes when ``quick``).

The hand-written gradients of the loop workloads are reverse-mode (adjoint)
code: a forward sweep that stores what the backward sweep needs, then the
backward sweep, which is the algorithm a reverse-mode tool has to run. Where a
forward tangent recurrence is the natural hand-written derivative (one or two
inputs), it is timed too as an extra callable ("hand (tangent)"). The Newton
workload's hand-written gradient uses the implicit function theorem at the
root, which is what one writes by hand. ``check.py`` verifies every
hand-written gradient against finite differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# ---------------------------------------------------------------------------
# Seed examples


def seed_log(x1, x2):
    return math.log(x1) + x1 * x2 - math.sin(x2)


def seed_log_grad(x1, x2):
    return (1.0 / x1 + x2, x1 - math.cos(x2))


def seed_log_peer(ns):
    def seed_log(x1, x2):
        return ns.log(x1) + x1 * x2 - ns.sin(x2)
    return seed_log


def seed_cos(x1, x2, x3):
    return (x1 - x2 + x2 * x3) * math.cos(x2 * x3)


def seed_cos_grad(x1, x2, x3):
    z = x1 - x2 + x2 * x3
    y = x2 * x3
    c = math.cos(y)
    zs = z * math.sin(y)
    return (c, (x3 - 1.0) * c - zs * x3, x2 * c - zs * x2)


def seed_cos_peer(ns):
    def seed_cos(x1, x2, x3):
        return (x1 - x2 + x2 * x3) * ns.cos(x2 * x3)
    return seed_cos


# ---------------------------------------------------------------------------
# Factored polynomial g(x) = prod_i (x - t_i), m factors, in a Python for loop


def poly(x, t):
    g = 1.0
    for ti in t:
        g = g * (x - ti)
    return g


def poly_grad(x, t):
    """Reverse mode by hand: store the prefix products, then sweep back."""
    prefix = []
    g = 1.0
    for ti in t:
        prefix.append(g)
        g = g * (x - ti)
    g_bar = 1.0
    x_bar = 0.0
    for i in range(len(t) - 1, -1, -1):
        x_bar += g_bar * prefix[i]
        g_bar *= x - t[i]
    return (x_bar,)


def poly_tangent(x, t):
    """Forward mode by hand: carry dg/dx along (O(1) memory)."""
    g = 1.0
    dg = 0.0
    for ti in t:
        u = x - ti
        dg = dg * u + g
        g = g * u
    return (dg,)


def poly_peer(ns):
    def poly(x, t):
        g = 1.0
        for ti in t:
            g = g * (x - ti)
        return g
    return poly


def poly_args(quick):
    m = 50 if quick else 1000
    x = 0.3
    # |x - t_i| = exp(0.2 sin i) with alternating signs: the product stays O(1)
    t = tuple(x + (-1.0) ** i * math.exp(0.2 * math.sin(i)) for i in range(m))
    return (x, t)


# ---------------------------------------------------------------------------
# Damped pendulum, explicit Euler, gradient of the final angle w.r.t. the
# damping c and the length L


def pendulum(c, L, theta0, steps):
    dt = 0.01
    theta = theta0
    omega = 0.0
    for _ in range(steps):
        theta, omega = theta + dt * omega, omega - dt * (c * omega + 9.81 / L * math.sin(theta))
    return theta


def pendulum_grad(c, L, theta0, steps):
    """Reverse mode by hand (discrete adjoint): store the states, sweep back."""
    dt = 0.01
    k = 9.81 / L
    thetas = []
    omegas = []
    theta = theta0
    omega = 0.0
    for _ in range(steps):
        thetas.append(theta)
        omegas.append(omega)
        theta, omega = theta + dt * omega, omega - dt * (c * omega + k * math.sin(theta))
    theta_bar = 1.0
    omega_bar = 0.0
    c_bar = 0.0
    k_bar = 0.0
    a = 1.0 - dt * c
    for i in range(steps - 1, -1, -1):
        th = thetas[i]
        c_bar -= dt * omega_bar * omegas[i]
        k_bar -= dt * omega_bar * math.sin(th)
        theta_bar, omega_bar = (theta_bar - dt * k * math.cos(th) * omega_bar,
                                dt * theta_bar + a * omega_bar)
    return (c_bar, -k_bar * k / L)


def pendulum_tangent(c, L, theta0, steps):
    """Forward mode by hand: two tangent directions carried along."""
    dt = 0.01
    k = 9.81 / L
    dk_dL = -k / L
    theta = theta0
    omega = 0.0
    th_c = om_c = th_L = om_L = 0.0
    for _ in range(steps):
        s = math.sin(theta)
        kc = k * math.cos(theta)
        th_c, om_c = th_c + dt * om_c, om_c - dt * (omega + c * om_c + kc * th_c)
        th_L, om_L = th_L + dt * om_L, om_L - dt * (c * om_L + dk_dL * s + kc * th_L)
        theta, omega = theta + dt * omega, omega - dt * (c * omega + k * s)
    return (th_c, th_L)


def pendulum_peer(ns):
    def pendulum(c, L, theta0, steps):
        dt = 0.01
        theta = theta0
        omega = 0.0
        for _ in range(steps):
            theta, omega = (theta + dt * omega,
                            omega - dt * (c * omega + 9.81 / L * ns.sin(theta)))
        return theta
    return pendulum


def pendulum_args(quick, steps=None):
    if steps is None:
        steps = 50 if quick else 1000
    return (0.3, 1.5, 1.0, steps)


# ---------------------------------------------------------------------------
# Newton's method for x^3 + a x - b = 0 in a while loop with a tolerance:
# the trip count depends on the data. Gradient of the root w.r.t. a and b.


def newton(a, b, tol):
    x = 1.0
    dx = 1.0
    while abs(dx) > tol:
        dx = (x * x * x + a * x - b) / (3.0 * x * x + a)
        x = x - dx
    return x


def newton_grad(a, b, tol):
    """Solve as in ``newton``, then the implicit function theorem at the root."""
    x = 1.0
    dx = 1.0
    while abs(dx) > tol:
        dx = (x * x * x + a * x - b) / (3.0 * x * x + a)
        x = x - dx
    d = 3.0 * x * x + a
    return (-x / d, 1.0 / d)


def newton_loop_adjoint(a, b, tol):
    """Reverse mode by hand through the iterations, as s2sad differentiates them (for
    comparison; ``newton_grad`` is the reference): store each iterate, then sweep
    back with the derivatives of one step ``x - (x^3 + a x - b) / (3 x^2 + a)``."""
    xs = []
    x = 1.0
    dx = 1.0
    while abs(dx) > tol:
        xs.append(x)
        dx = (x * x * x + a * x - b) / (3.0 * x * x + a)
        x = x - dx
    x_bar = 1.0
    a_bar = 0.0
    b_bar = 0.0
    for x in reversed(xs):
        q = 3.0 * x * x + a
        d = (x * x * x + a * x - b) / q
        a_bar -= x_bar * (x - d) / q
        b_bar += x_bar / q
        x_bar *= 6.0 * x * d / q
    return (a_bar, b_bar)


def newton_peer(ns):
    def newton(a, b, tol):
        x = 1.0
        dx = 1.0
        while abs(dx) > tol:
            dx = (x * x * x + a * x - b) / (3.0 * x * x + a)
            x = x - dx
        return x
    return newton


def newton_args(quick):
    return (2.0, 1000.0, 1e-12)    # root near 9.93, reached after 12 Newton steps


# ---------------------------------------------------------------------------
# Rosenbrock, vectorized NumPy


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    xa = x[:-1]
    d = x[1:] - xa * xa
    g = np.empty_like(x)
    g[:-1] = -400.0 * xa * d - 2.0 * (1.0 - xa)
    g[-1] = 0.0
    g[1:] += 200.0 * d
    return (g,)


def rosenbrock_peer(ns):
    def rosenbrock(x):
        return ns.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    return rosenbrock


def rosenbrock_args(n):
    def make(quick):
        size = min(n, 10_000) if quick else n
        rng = np.random.default_rng(0)
        return (rng.uniform(-1.2, 1.2, size),)
    return make


# ---------------------------------------------------------------------------
# A 784-256-10 tanh MLP with softmax cross-entropy (mean over the batch).
# Y is one-hot, so picking the label's log-probability is Y * logp summed.


def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    m = np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)) + m
    return -np.mean(np.sum(Y * (z - lse), axis=1))


def mlp_grad(W1, b1, W2, b2, X, Y):
    """Backpropagation by hand."""
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    # d loss / dz = (softmax(z) * rowsum(Y) - Y) / batch; rows of Y sum to 1
    dz = (p - Y) / X.shape[0]
    dW2 = h.T @ dz
    db2 = dz.sum(axis=0)
    da = (dz @ W2.T) * (1.0 - h * h)
    dW1 = X.T @ da
    db1 = da.sum(axis=0)
    return (dW1, db1, dW2, db2)


def mlp_peer(ns):
    def mlp(W1, b1, W2, b2, X, Y):
        h = ns.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        m = ns.max(z, axis=1, keepdims=True)
        lse = ns.log(ns.sum(ns.exp(z - m), axis=1, keepdims=True)) + m
        return -ns.mean(ns.sum(Y * (z - lse), axis=1))
    return mlp


def mlp_args(quick):
    batch = 32 if quick else 256
    rng = np.random.default_rng(1)
    W1 = rng.normal(0.0, 1.0 / math.sqrt(784), (784, 256))
    b1 = rng.normal(0.0, 0.1, 256)
    W2 = rng.normal(0.0, 1.0 / math.sqrt(256), (256, 10))
    b2 = rng.normal(0.0, 0.1, 10)
    X = rng.normal(0.0, 1.0, (batch, 784))
    Y = np.eye(10)[rng.integers(0, 10, batch)]
    return (W1, b1, W2, b2, X, Y)


# ---------------------------------------------------------------------------
# The table


@dataclass
class Workload:
    name: str
    title: str
    category: str                      # "scalar" | "scalar-loop" | "numpy"
    f: Callable
    grad: Callable                     # hand-written, returns a tuple over wrt
    peer: Callable                     # ns -> function with f's signature
    wrt: tuple
    make_args: Callable                # quick -> args
    extra: dict = field(default_factory=dict)   # more hand-written variants, by label
    heavy: bool = False
    checkpoint: bool = False           # also time s2sad.grad(f, wrt, checkpoint=True)
    fixed_point: bool = False          # also time s2sad.grad(f, wrt, fixed_point=True)


WORKLOADS = [
    Workload("seed_log", "seed: ln(x1) + x1*x2 - sin(x2)", "scalar",
             seed_log, seed_log_grad, seed_log_peer, (0, 1), lambda quick: (2.0, 5.0)),
    Workload("seed_cos", "seed: (x1 - x2 + x2*x3) * cos(x2*x3)", "scalar",
             seed_cos, seed_cos_grad, seed_cos_peer, (0, 1, 2), lambda quick: (1.0, 2.0, 0.75)),
    Workload("poly", "factored polynomial prod(x - t_i), m = 1000, for loop", "scalar-loop",
             poly, poly_grad, poly_peer, (0,), poly_args, extra={"hand (tangent)": poly_tangent}),
    Workload("pendulum", "damped pendulum, explicit Euler, 1000 steps, d/d(c, L)",
             "scalar-loop", pendulum, pendulum_grad, pendulum_peer, (0, 1), pendulum_args,
             extra={"hand (tangent)": pendulum_tangent}, checkpoint=True),
    Workload("newton", "Newton on x^3 + a x - b = 0, while |dx| > tol, d root/d(a, b)",
             "scalar-loop", newton, newton_grad, newton_peer, (0, 1), newton_args,
             extra={"hand (loop adjoint)": newton_loop_adjoint}, fixed_point=True),
    Workload("rosenbrock_1e3", "Rosenbrock, vectorized NumPy, n = 1e3", "numpy",
             rosenbrock, rosenbrock_grad, rosenbrock_peer, (0,), rosenbrock_args(1000)),
    Workload("rosenbrock_1e6", "Rosenbrock, vectorized NumPy, n = 1e6", "numpy",
             rosenbrock, rosenbrock_grad, rosenbrock_peer, (0,), rosenbrock_args(1_000_000),
             heavy=True),
    Workload("mlp", "784-256-10 tanh MLP, softmax cross-entropy, batch 256", "numpy",
             mlp, mlp_grad, mlp_peer, (0, 1, 2, 3), mlp_args, heavy=True),
]

BY_NAME = {w.name: w for w in WORKLOADS}


# ---------------------------------------------------------------------------
# The synthetic 100-line function for the transform-time measurement. s2sad
# reads source from a file, so ``synthetic_source`` writes one.


def synthetic_source(lines=100):
    """Source of ``synth(x, y)``: ``lines`` lines of scalar code with if/else and a for loop."""
    body = ["    a0 = x * y + 0.5", "    a1 = math.sin(x) + y"]
    k = 2
    shapes = [
        "    a{k} = math.sin(a{i}) * a{j} + 0.5 * a{p}",
        "    a{k} = math.tanh(a{i} + a{j}) - 0.25 * a{p}",
        "    a{k} = a{i} * math.cos(a{j}) + x",
        "    a{k} = math.exp(-a{i} * a{i}) + y * a{j}",
    ]
    while len(body) < lines - 2:
        room = lines - 2 - len(body)
        p = k - 1
        i, j = max(0, k - 2 - (k * 7) % 11), max(0, k - 3 - (k * 13) % 17)
        if k % 17 == 5 and room >= 4:
            body += [f"    if a{i} > a{j}:",
                     f"        a{k} = a{i} * a{j} + math.sin(a{p})",
                     "    else:",
                     f"        a{k} = a{i} - a{j} * math.cos(a{p})"]
        elif k % 23 == 11 and room >= 4:
            body += [f"    a{k} = a{p}",
                     "    for _ in range(3):",
                     f"        a{k} = math.sin(a{k}) * a{i} + 0.1 * a{j}",
                     f"        a{k} = a{k} + 0.5 * x"]
        else:
            body.append(shapes[k % len(shapes)].format(k=k, i=i, j=j, p=p))
        k += 1
    text = "def synth(x, y):\n" + "\n".join(body) + f"\n    return a{k - 1}\n"
    return "import math\n\n\n" + text
