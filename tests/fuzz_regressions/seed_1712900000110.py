# ruff: noqa
"""Fuzz program 1712900000110 (tools/fuzz.py --seed 1712900 --features
calls,lists,tuples,inplace,while_acc --size large), kept as generated: see
tests/test_restores.py."""

import math

import numpy as np


def h1(a, b):
    if 0.33 < -0.47:
        buf1 = np.zeros(3)
    else:
        a = math.exp(math.cos(math.atan(a)))
    if b <= 0.54:
        v2 = math.cos(-1.47 * 1.21 + b)
    else:
        v3 = math.log(1.0 + b * b) / (2.0 + math.sin(b))
    v3 = a
    return math.log1p(math.exp(math.cos(v3)) * math.exp(math.cos(v3)))

def h2(a):
    if not (math.tanh(a * (-0.24)) > -0.38):
        v4 = math.sqrt(1.0 + (a / (1.0 + a * a)) * (a / (1.0 + a * a))) - 1.0
    else:
        a *= -0.75
    v5 = 1.0 + a * a
    v6 = v5
    j7 = 0
    while abs(v6 * v6 - v5) > 1e-12 * v5 and j7 < 50:
        v6 = 0.5 * (v6 + v5 / v6)
        j7 += 1
    v6 = v6 - 1.0
    return ((0.25 * v6 * v6) if math.sqrt(1.0 + v5 * v5) - 1.0 > a and not v6 < v5 else (0.0625 * (-1.11) ** 3))

def h3(a):
    T8 = (-a, 0.45 * a + 0.55 * a, math.sqrt(1.0 + a * a) - 1.0)
    T9 = (T8[-1], T8[0])
    for t10, t11 in ((a, T9[-1]), (a, 1.9)):
        a = 0.25 * (0.8 * 1.27 + 0.2 * t10) * math.exp(math.sin((-1.72)))
    return T9[1]

def tp1(a):
    v12, v13 = math.sqrt(1.0 + a * a) - 1.0, a
    if -0.27 > math.tanh((-0.4) * v12) > v12:
        return max(v13, a), a
    return (a, 0.0625 * math.atan((-0.8)) ** 3)

def f(x, y, n):
    v14 = -0.16
    j15 = 0
    while v14 < 2.18 and j15 < 20:
        j15 += 1
        v14 = v14 + 0.3 + 0.2 * math.tanh((-0.46) - x)
        for t16, t17 in ((x, 1.71), (x, y), (x, y)):
            t17 = v14
        j18 = 0
        while abs(v14) > 0.15 and j18 < 4:
            j18 = j18 + 1
            y = y / (1.0 + y * y) + 0.5 * math.log(1.0 + v14 * v14) * 0.42
    if min(y, x) >= x:
        v19, (v20, v21) = min(v14, x), (math.asin(0.5 * math.sin(1.18)), 0.0625 * v14 ** 2)
    if math.expm1(math.sin(x)) >= -0.78:
        T22 = (0.25 * x * v14, y / (2.0 + math.sin((0.25 * n))))
        v23 = y
    elif h3((float(n) / 4.0)) < 0.79:
        v24, v25 = tp1(0.34 * x + 0.66 * x)
    else:
        v14 = (math.sqrt(1.0 + (float(n) / 4.0) * (float(n) / 4.0)) - 1.0) / (2.0 + math.sin((0.5 * (y - x))))
        v26, v27 = y, x / (2.0 + math.sin((0.25 * n)))
    T28 = tp1(math.sqrt(1.0 + y * y) - 1.0)
    T29 = (T28[-1], y)
    x = 0.0625 * float(y) ** 2
    for i30 in range(0):
        L31 = [math.tanh(x - x), math.tanh(v14 * T29[0]), math.tanh(T28[-1])]
        L31[1] = -y
    v32, v33 = T28
    v14 += 0.25 * T28[0]
    v14 = math.tanh(v14)
    v34, v35 = tp1(T29[1])
    return -0.8 * v35 + 0.46 * v33 + 0.5 * T29[-1]


