#!/usr/bin/env python3
"""Independent reference for tests/unit/test_optim.c: the six optimizers'
update rules (and momentum's Nesterov form, "nesterov") written from the course's formulas in plain Python (double
precision), run for 3 steps on a fixed quadratic f(w) = sum a_i (w_i - c_i)^2 / 2.
Prints the C table that test_optim.c embeds. Re-run after changing a rule:
    python3 tests/unit/optim_reference.py"""
import math

W0 = [0.5, -1.0, 2.0, 0.0]
A = [1.0, 2.0, 0.5, 4.0]
C = [0.0, 1.0, -1.0, 0.25]
STEPS = 3


def grad(w):
    return [a * (x - c) for x, a, c in zip(w, A, C)]


def sgd(lr=0.1):
    w = W0[:]
    for _ in range(STEPS):
        g = grad(w)
        w = [x - lr * gi for x, gi in zip(w, g)]
    return w


def momentum(lr=0.01, alpha=0.9):
    w, v = W0[:], [0.0] * 4
    for _ in range(STEPS):
        g = grad(w)
        v = [alpha * vi - lr * gi for vi, gi in zip(v, g)]
        w = [x + vi for x, vi in zip(w, v)]
    return w


def nesterov(lr=0.01, mu=0.9):
    # PyTorch's SGD(nesterov=True) form, a different bookkeeping from the C
    # code's (b is the sum of gradients, not a velocity): b = mu b + g;
    # w -= lr (g + mu b). With a constant lr the two agree.
    w, b = W0[:], [0.0] * 4
    for _ in range(STEPS):
        g = grad(w)
        b = [mu * bi + gi for bi, gi in zip(b, g)]
        w = [x - lr * (gi + mu * bi) for x, gi, bi in zip(w, g, b)]
    return w


def adagrad(lr=0.001, h0=1e-8):
    w, h = W0[:], [h0] * 4
    for _ in range(STEPS):
        g = grad(w)
        h = [hi + gi * gi for hi, gi in zip(h, g)]
        w = [x - lr * gi / math.sqrt(hi) for x, gi, hi in zip(w, g, h)]
    return w


def rmsprop(lr=0.001, rho=0.9, eps=1e-8):
    w, h = W0[:], [0.0] * 4
    for _ in range(STEPS):
        g = grad(w)
        h = [rho * hi + (1 - rho) * gi * gi for hi, gi in zip(h, g)]
        w = [x - lr * gi / (math.sqrt(hi) + eps) for x, gi, hi in zip(w, g, h)]
    return w


def adadelta(lr=1.0, rho=0.95, eps=1e-6):
    w, h, s = W0[:], [0.0] * 4, [0.0] * 4
    for _ in range(STEPS):
        g = grad(w)
        h = [rho * hi + (1 - rho) * gi * gi for hi, gi in zip(h, g)]
        d = [math.sqrt(si + eps) / math.sqrt(hi + eps) * gi for si, hi, gi in zip(s, h, g)]
        s = [rho * si + (1 - rho) * di * di for si, di in zip(s, d)]
        w = [x - lr * di for x, di in zip(w, d)]
    return w


def adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-8):
    w, m, v = W0[:], [0.0] * 4, [0.0] * 4
    for t in range(1, STEPS + 1):
        g = grad(w)
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        mh = [mi / (1 - b1 ** t) for mi in m]
        vh = [vi / (1 - b2 ** t) for vi in v]
        w = [x - lr * a / (math.sqrt(b) + eps) for x, a, b in zip(w, mh, vh)]
    return w


for name, fn in [("sgd", sgd), ("momentum", momentum), ("nesterov", nesterov),
                 ("adagrad", adagrad),
                 ("rmsprop", rmsprop), ("adadelta", adadelta), ("adam", adam)]:
    print('    {"%s", {%s}},' % (name, ", ".join("%.9g" % x for x in fn())))
