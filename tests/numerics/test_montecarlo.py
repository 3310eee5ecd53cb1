"""Tests for numerics.least_squares.montecarlo: the SGD simulators themselves.

The simulators are checked without numerics.least_squares.moments wherever possible:

* against exact enumeration of every index sequence (finite set, tiny case) and against closed
  forms (scalar Gaussian and additive-noise models), with z-scores;
* deterministic cases (a single training sample, S = 0) must give stderr 0 and the exact value;
* the pathwise derivative against a central difference of the simulation itself *with common
  random numbers* (same seed at eta +- h: the draws do not depend on eta, so every path is a
  polynomial in eta and the difference quotient of the path means converges to the mean of the
  pathwise derivatives at rate h^2, with no Monte Carlo noise in the comparison);
* reproducibility, chunking, curves, stderr scaling and input validation.

z-tests: |MC mean - exact| <= 5 stderr, false-alarm probability 5.7e-7 per check under the normal
approximation; 5 checks here, family-wise < 3e-6; seeds fixed in advance (deterministic outcome).
"""

from __future__ import annotations

import doctest
import itertools
from fractions import Fraction

import numpy as np
import pytest

import l2l.numerics.least_squares.montecarlo as montecarlo
from l2l.numerics import LeastSquaresProblem
from l2l.numerics.least_squares.montecarlo import (
    CHUNK_PATHS,
    MCEstimate,
    simulate_additive_noise,
    simulate_finite_set,
    simulate_gaussian,
)
from l2l.numerics.validation import ValidationError

Z = 5.0


def test_doctests():
    res = doctest.testmod(montecarlo, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


def _tiny():
    X = np.array([[1.0, 0.5], [-0.5, 1.0], [0.25, -1.0]])
    y = np.array([1.0, -0.5, 0.25])
    Xv, yv = np.array([[1.0, 1.0]]), np.array([0.5])
    return LeastSquaresProblem(X, y, Xv, yv)


def _enumerate_train_loss(p, eta, t, B):
    """Exact E[train loss] and E[valid loss] over all n^(B t) index sequences (Fractions)."""
    n, d = p.X.shape
    X = [[Fraction(float(v)) for v in row] for row in p.X]
    y = [Fraction(float(v)) for v in p.y]
    e = Fraction(float(eta))
    seqs = list(itertools.product(range(n), repeat=B * t))
    tr = va = Fraction(0)
    for seq in seqs:
        w = [Fraction(0)] * d
        for s in range(t):
            g = [Fraction(0)] * d
            for j in seq[s * B:(s + 1) * B]:
                r = sum(X[j][i] * w[i] for i in range(d)) - y[j]
                g = [g[i] + X[j][i] * r / B for i in range(d)]
            w = [w[i] - e * g[i] for i in range(d)]
        tr += sum((sum(X[j][i] * w[i] for i in range(d)) - y[j]) ** 2 for j in range(n)) / (2 * n)
        rv = sum(Fraction(float(p.X_valid[0][i])) * w[i] for i in range(d)) - Fraction(float(p.y_valid[0]))
        va += rv * rv / 2
    return float(tr / len(seqs)), float(va / len(seqs))


def test_finite_set_against_exact_enumeration():
    """n = 3, B = 2, t = 3 (729 sequences): 2 z-checks; 30000 paths (stderr ~1% of the loss)."""
    p = _tiny()
    eta, t, B = 0.4, 3, 2
    tr, va = _enumerate_train_loss(p, eta, t, B)
    mc = simulate_finite_set(p, eta, t, B, n_paths=30000, seed=101)
    assert abs(mc.train_loss.z(tr)) <= Z
    assert abs(mc.valid_loss.z(va)) <= Z
    assert mc.train_loss.stderr <= 0.01 * tr


def test_gaussian_against_scalar_closed_form():
    """d = 1: E[e_t^2] = k^t e0^2 + c (1 - k^t) / (1 - k), k = (1 - eta)^2 + 2 eta^2 / B,
    c = eta^2 sigma2 / B (Sigma = 1), loss = (E[e^2] + sigma2) / 2; 1 z-check, 40000 paths."""
    eta, t, B, s2, e0 = 0.3, 8, 2, 0.5, -1.0
    k = (1 - eta) ** 2 + 2 * eta**2 / B
    c = eta**2 * s2 / B
    exact = 0.5 * (k**t * e0**2 + c * (1 - k**t) / (1 - k) + s2)
    mc = simulate_gaussian([1.0], [1.0], s2, eta, t, B, n_paths=40000, seed=102)
    assert abs(mc.loss.z(exact)) <= Z


def test_additive_against_scalar_closed_form():
    """h = 2, b = 1, S = 0.5, w0 ~ N(0.5, 0.1): E[w_t] = w* + a^t (m0 - w*), Var[w_t] = a^2t v0 +
    eta^2 S (1 - a^2t) / (1 - a^2), loss = h (Var + E^2) / 2 - b E + offset; 2 z-checks (this and
    a momentum-free schedule equal to the constant), 40000 paths."""
    h, b, S, m0, v0, eta, t = 2.0, 1.0, 0.5, 0.5, 0.1, 0.2, 10
    a = 1 - eta * h
    ws = b / h
    mean = ws + a**t * (m0 - ws)
    var = a ** (2 * t) * v0 + eta**2 * S * (1 - a ** (2 * t)) / (1 - a**2)
    exact = 0.5 * h * (var + mean**2) - b * mean + 0.3
    mc = simulate_additive_noise([h], [b], [S], eta, t, n_paths=40000, seed=103, mean0=[m0], cov0=[v0], loss_offset=0.3)
    assert abs(mc.loss.z(exact)) <= Z
    mc2 = simulate_additive_noise([[h]], [b], [[S]], np.full(t, eta), t, n_paths=40000, seed=104, mean0=[m0], cov0=[[v0]], loss_offset=0.3)
    assert abs(mc2.loss.z(exact)) <= Z


def test_deterministic_cases_have_zero_stderr():
    """One training sample: every minibatch is the same, SGD is GD: residual (1 - eta |x|^2)^t r0."""
    p = LeastSquaresProblem([[1.0, 1.0]], [2.0])
    mc = simulate_finite_set(p, 0.25, 3, 2, n_paths=10, seed=0)
    assert mc.train_loss.stderr == 0.0
    assert mc.train_loss.mean == pytest.approx(0.5 * 4.0 * 0.5**6, rel=1e-15)
    # derivative: d/d eta [r0^2 a^2t / 2] = -t |x|^2 r0^2 a^(2t-1)
    assert mc.train_loss_grad.mean == pytest.approx(-3 * 2 * 4.0 * 0.5**5, rel=1e-14)
    s = simulate_additive_noise([1.0, 2.0], [0.0, 0.0], [0.0, 0.0], 0.1, 5, n_paths=4, seed=0, mean0=[1.0, 1.0])
    assert s.loss.stderr == 0.0
    assert s.loss.mean == pytest.approx(0.5 * (0.9**10 + 2 * 0.8**10), rel=1e-14)


@pytest.mark.parametrize("which", ["finite", "gaussian", "additive"])
def test_pathwise_derivative_equals_common_random_number_difference(which):
    """Central difference of the same-seed simulation at eta +- h, h = 1e-4 eta: truncation
    ~ (t h / eta)^2 ~ 1e-6 relative at these horizons, rounding ~ eps t / 1e-4 ~ 1e-10: rel 1e-5."""
    eta, h = 0.2, 2e-5
    if which == "finite":
        p = _tiny()
        run = lambda e: simulate_finite_set(p, e, 10, 2, 500, 7)
        val = lambda r: (r.train_loss.mean, r.valid_loss.mean)
        der = lambda r: (r.train_loss_grad.mean, r.valid_loss_grad.mean)
    elif which == "gaussian":
        run = lambda e: simulate_gaussian([[1.0, 0.2], [0.2, 0.5]], [1.0, -1.0], 0.3, e, 10, 3, 500, 8)
        val = lambda r: (r.loss.mean,)
        der = lambda r: (r.loss_grad.mean,)
    else:
        sched = np.linspace(1.0, 0.5, 10)
        run = lambda e: simulate_additive_noise([[1.0, 0.2], [0.2, 0.5]], [0.3, 0.1], [0.2, 0.1], e * sched, 10, 500, 9, mu=0.5, mean0=[1.0, 1.0], cov0=[0.1, 0.1])
        val = lambda r: (r.loss.mean,)
        der = lambda r: (r.loss_grad.mean,)
        # the derivative is along a common shift of every step: run(e) scales the schedule, so
        # compare with a shifted schedule instead
        run_shift = lambda dlt: simulate_additive_noise([[1.0, 0.2], [0.2, 0.5]], [0.3, 0.1], [0.2, 0.1], eta * sched + dlt, 10, 500, 9, mu=0.5, mean0=[1.0, 1.0], cov0=[0.1, 0.1])
        fd = (run_shift(h).loss.mean - run_shift(-h).loss.mean) / (2 * h)
        assert run(eta).loss_grad.mean == pytest.approx(fd, rel=1e-5)
        return
    fd = [(a - b) / (2 * h) for a, b in zip(val(run(eta + h)), val(run(eta - h)))]
    for got, want in zip(der(run(eta)), fd):
        assert got == pytest.approx(want, rel=1e-5)


def test_reproducible_and_seed_dependent():
    p = _tiny()
    a = simulate_finite_set(p, 0.3, 5, 1, 300, seed=5)
    b = simulate_finite_set(p, 0.3, 5, 1, 300, seed=5)
    c = simulate_finite_set(p, 0.3, 5, 1, 300, seed=6)
    assert a == b
    assert a.train_loss.mean != c.train_loss.mean
    assert (a.n_paths, a.seed, a.train_loss.n_paths, a.train_loss.seed) == (300, 5, 300, 5)


def test_chunks_and_curves():
    """More paths than one chunk; curves cover steps 0..t and end at the final-step estimate (the
    curve only records, it draws no extra random numbers)."""
    p = _tiny()
    n = CHUNK_PATHS + 37
    end = simulate_finite_set(p, 0.3, 4, 2, n, seed=9)
    cur = simulate_finite_set(p, 0.3, 4, 2, n, seed=9, curve=True)
    assert cur.train_loss.mean.shape == (5,) and cur.valid_loss_grad.stderr.shape == (5,)
    assert cur.train_loss.mean[-1] == pytest.approx(end.train_loss.mean, rel=1e-14)
    assert cur.train_loss.stderr[-1] == pytest.approx(end.train_loss.stderr, rel=1e-10)
    assert cur.train_loss.stderr[0] == 0.0  # w_0 is deterministic
    assert end.train_loss.n_paths == n
    g = simulate_gaussian([1.0], [1.0], 0.1, 0.2, 3, 1, 50, 1, curve=True)
    assert g.loss.mean.shape == (4,) and g.loss.mean[0] == pytest.approx(0.5 * 1.1)
    s = simulate_additive_noise([1.0], [0.0], [1.0], 0.2, 3, 50, 1, curve=True)
    assert s.loss.mean.shape == (4,) and s.loss.stderr[0] == 0.0


def test_stderr_scales_like_one_over_sqrt_n():
    """stderr(16 N) / stderr(N) = 1/4 up to the sampling error of a standard deviation
    (relative sd ~ 1/sqrt(2 N) ~ 2% per estimate at N = 1000, with kurtosis; 25% is > 5 sigma)."""
    p = _tiny()
    s1 = simulate_finite_set(p, 0.3, 5, 1, 1000, seed=11).train_loss.stderr
    s16 = simulate_finite_set(p, 0.3, 5, 1, 16000, seed=12).train_loss.stderr
    assert s16 / s1 == pytest.approx(0.25, rel=0.25)


def test_mcestimate_z():
    e = MCEstimate(mean=1.0, stderr=0.5, n_paths=100, seed=0)
    assert e.z(0.0) == 2.0 and e.sd == 5.0
    assert MCEstimate(1.0, 0.0, 10, 0).z(1.0) == 0.0
    assert MCEstimate(1.0, 0.0, 10, 0).z(0.0) == np.inf


P = _tiny()


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda: simulate_finite_set("x", 0.1, 3, 1, 10, 0), "problem"),
        (lambda: simulate_finite_set(P, [0.1, 0.2], 3, 1, 10, 0), "eta"),
        (lambda: simulate_finite_set(P, -1.0, 3, 1, 10, 0), "eta"),
        (lambda: simulate_finite_set(P, 0.1, 0, 1, 10, 0), "t"),
        (lambda: simulate_finite_set(P, 0.1, 3, 0, 10, 0), "batch_size"),
        (lambda: simulate_finite_set(P, 0.1, 3, 1, 1, 0), "n_paths"),
        (lambda: simulate_finite_set(P, 0.1, 3, 1, 10.0, 0), "n_paths"),
        (lambda: simulate_finite_set(P, 0.1, 3, 1, 10, -1), "seed"),
        (lambda: simulate_finite_set(P, 0.1, 3, 1, 10, None), "seed"),
        (lambda: simulate_finite_set(P, 0.1, 3, 1, 10, 0, w0=[1.0]), "w0"),
        (lambda: simulate_finite_set(P, 0.1, 10**6, 1, 10**6, 0), "n_paths"),
        (lambda: simulate_gaussian([1.0, -1.0], [1.0, 1.0], 0.1, 0.1, 3, 1, 10, 0), "Sigma"),
        (lambda: simulate_gaussian([1.0], [1.0], [0.1, 0.2], 0.1, 3, 1, 10, 0), "sigma2"),
        (lambda: simulate_additive_noise([1.0], [0.0], [1.0], [0.1, 0.1], 3, 10, 0), "eta"),
        (lambda: simulate_additive_noise([1.0], [0.0], [1.0], 0.1, 3, 10, 0, cov0=[[1.0, 2.0], [2.0, 1.0]]), "cov0"),
    ],
)
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.field == field
