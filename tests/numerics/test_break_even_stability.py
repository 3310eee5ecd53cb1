"""Eq. 1 of Jastrzebski et al. (2020) (claims B1, B2, B3, B7): ``numerics.break_even.stability``
against implementations that share no code with it:

1. exact enumeration of every minibatch in rational arithmetic (``numerics.break_even.enumeration``
   with Fractions), and an mpmath enumeration of the log-rate written here;
2. Monte Carlo over random minibatches (``numerics.break_even.montecarlo``), within 5 standard
   errors: false-alarm probability 5.7e-7 per check under the normal approximation, 14 checks here,
   family-wise < 1e-5; seeds fixed in advance (deterministic outcome).

Tolerances of the exact comparisons: 1e-12 relative. The closed form rounds a handful of times
(correctly rounded mean and 1 - eta lambda, a few-ulp variance, products and one sum of terms
>= 0: below 1e-15 relative); 1e-12 leaves a margin of three orders of magnitude.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from l2l.numerics.break_even import (
    SAMPLINGS,
    almost_sure_rate,
    alpha_star,
    break_even_curvature,
    critical_step,
    curvature_moments,
    enumerate_mean_square_factor,
    finite_population_factor,
    mean_square_factor,
    simulate_log_rate,
    simulate_mean_square_factor,
)
from l2l.numerics.validation import ValidationError

RTOL = 1e-12
Z = 5.0

# -- strategies: small instances, values exact in binary or not -------------------------------

grid_values = st.integers(-20, 400).map(lambda k: k / 100)  # [-0.2, 4] on a 0.01 grid (not exact in binary)
float_values = st.floats(-1.0, 5.0, allow_nan=False, allow_infinity=False)
curvature = st.one_of(grid_values, float_values, st.just(1.25))


@st.composite
def instances(draw, max_n: int = 6, max_s: int = 4):
    n = draw(st.integers(1, max_n))
    h = draw(st.lists(curvature, min_size=n, max_size=n))
    eta = draw(st.one_of(st.integers(0, 300).map(lambda k: k / 100), st.floats(0.0, 3.0), st.just(0.8)))
    S = draw(st.integers(1, min(n, max_s)))
    sampling = draw(st.sampled_from(SAMPLINGS))
    return h, eta, S, sampling


def exact(h, eta, S, sampling):
    """E[(1 - eta h_B)^2] by rational enumeration of every minibatch (the inputs' exact binary values)."""
    return enumerate_mean_square_factor([Fraction(x) for x in h], Fraction(eta), S, sampling)


def close(value: float, reference: Fraction, rtol: float = RTOL) -> bool:
    return abs(Fraction(value) - reference) <= Fraction(rtol) * abs(reference)


# -- B1: the closed form is exact -----------------------------------------------------------


@settings(max_examples=80)
@given(inst=instances())
def test_factor_matches_rational_enumeration(inst):
    h, eta, S, sampling = inst
    assert close(mean_square_factor(h, eta, S, sampling), exact(h, eta, S, sampling))


@given(inst=instances())
def test_moments_are_accurate(inst):
    """lambda correctly rounded; s2 to 1e-12 relative in the normal range, and exactly 0 when all h
    are equal."""
    h = inst[0]
    lam, s2 = curvature_moments(h)
    hf = [Fraction(x) for x in h]
    mean = sum(hf, Fraction(0)) / len(hf)
    var = sum(((x - mean) ** 2 for x in hf), Fraction(0)) / len(hf)
    assert lam == float(mean)
    if var >= Fraction(np.finfo(np.float64).tiny):
        assert close(s2, var)
    else:  # below the normal range (e.g. h = (0, 4e-262): s2 = 4e-524 underflows): within one subnormal ulp
        assert abs(Fraction(s2) - var) <= Fraction(2) ** -1074
    assert (s2 == 0) == (var < Fraction(2) ** -1075)


@given(inst=instances(), etas=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=4))
def test_vector_eta_matches_scalar(inst, etas):
    h, _, S, sampling = inst
    out = mean_square_factor(h, etas, S, sampling)
    assert isinstance(out, np.ndarray) and out.tolist() == [mean_square_factor(h, e, S, sampling) for e in etas]


def test_cancellation_near_eta_lambda_one():
    """h = (1.25, 1.25), eta = float(0.8): 1 - eta lambda = -5.55e-17 exactly; a naive float
    evaluation returns 0. The closed form keeps the relative accuracy."""
    ref = exact([1.25, 1.25], 0.8, 2, "without_replacement")
    assert ref != 0 and close(mean_square_factor([1.25, 1.25], 0.8, 2), ref)
    assert (1 - 0.8 * 1.25) ** 2 == 0.0  # the naive value, for the record


@settings(max_examples=25)
@given(n=st.integers(2, 12), data=st.data())
def test_population_factor_is_the_variance_of_the_batch_mean(n, data):
    """Var h_B = s^2 c(S) exactly (rational enumeration), both samplings; c(1) = 1, c(N) = 0 without replacement."""
    S = data.draw(st.integers(1, min(n, 4)))
    sampling = data.draw(st.sampled_from(SAMPLINGS))
    h = [Fraction(data.draw(st.integers(-50, 50)), 7) for _ in range(n)]
    batches = list(itertools.combinations(range(n), S) if sampling == "without_replacement" else itertools.product(range(n), repeat=S))
    means = [sum((h[i] for i in b), Fraction(0)) / S for b in batches]
    m = sum(means, Fraction(0)) / len(means)
    var_b = sum(((x - m) ** 2 for x in means), Fraction(0)) / len(means)
    lam = sum(h, Fraction(0)) / n
    s2 = sum(((x - lam) ** 2 for x in h), Fraction(0)) / n
    c = Fraction(n - S, S * (n - 1)) if sampling == "without_replacement" else Fraction(1, S)
    assert var_b == s2 * c
    assert finite_population_factor(n, S, sampling) == float(c)
    assert finite_population_factor(n, 1) == 1.0 and finite_population_factor(n, n) == 0.0


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("S", [1, 5, 19])
@pytest.mark.parametrize("eta", [0.3, 0.7])
def test_monte_carlo_within_five_standard_errors(eta, S, sampling):
    """Spec B1 instance [derived]: N = 20, h ~ U(0.2, 3) (seed 0), eta in {0.3, 0.7}, 2e5 draws
    (seed 1); S in {1, 5, 19} (S = N = 20 has no sampling noise: the next test)."""
    h = np.random.default_rng(0).uniform(0.2, 3.0, 20)
    mc = simulate_mean_square_factor(h, eta, S, draws=200_000, seed=1, sampling=sampling)
    assert mc.status == "ok" and abs(mc.z(mean_square_factor(h, eta, S, sampling))) <= Z


def test_full_batch_monte_carlo_is_deterministic():
    """S = N without replacement: every batch is the whole set, so each sample is the closed form
    up to the rounding of a 20-term float sum (1e-14 absolute)."""
    h = np.random.default_rng(0).uniform(0.2, 3.0, 20)
    mc = simulate_mean_square_factor(h, 0.7, 20, draws=1000, seed=1)
    assert mc.stderr < 1e-14 and abs(mc.mean - mean_square_factor(h, 0.7, 20)) < 1e-14


def test_full_batch_reduces_to_eta_lambda_at_most_two():
    h = [0.5, 1.0, 1.5, 2.0, 5.0]  # lambda = 2
    for eta in (0.0, 0.5, 0.999, 1.0, 1.001):
        assert (mean_square_factor(h, eta, 5) <= 1.0) == (0 <= eta * 2.0 <= 2.0)


# -- critical step -----------------------------------------------------------------------------


def enumerated_crit(h, S, sampling):
    """Largest eta >= 0 with factor <= 1 from the quadratic 1 + b eta + a eta^2 whose coefficients
    come from rational enumeration at eta = 0, 1, 2 (None: the factor is identically 1)."""
    f0, f1, f2 = (exact(h, e, S, sampling) for e in (0, 1, 2))
    a = (f2 - 2 * f1 + f0) / 2
    b = f1 - f0 - a
    return None if a == 0 else max(Fraction(0), -b / a)


@settings(max_examples=60)
@given(inst=instances())
def test_critical_step_matches_enumeration(inst):
    h, _, S, sampling = inst
    crit = critical_step(h, S, sampling)
    ref = enumerated_crit(h, S, sampling)
    if ref is None or ref > Fraction(np.finfo(np.float64).max):  # identically 1, or beyond float64
        assert crit == math.inf
    else:
        assert close(crit, ref)
        if 0 < ref and crit <= 1e90:  # (step sizes are limited to 1e100)
            # F(eta) = 1 - 2 eta lambda + eta^2 D: F(eta_crit) = 1, and eta_crit (1 + delta) moves F by
            # about (4 lambda^2 / D) delta <= 4 delta: 1e-13 covers the rounding of eta_crit and of F
            assert abs(mean_square_factor(h, crit, S, sampling) - 1.0) <= 1e-13
            lam, s2 = curvature_moments(h)
            slope = 4 * lam**2 / (lam**2 + s2 * finite_population_factor(len(h), S, sampling))
            if slope * 1e-6 > 1e-12:  # the move is well above rounding
                assert mean_square_factor(h, crit * (1 + 1e-6), S, sampling) > 1.0
                assert mean_square_factor(h, crit * (1 - 1e-6), S, sampling) < 1.0


@pytest.mark.parametrize("h, S, sampling, expected", [
    ([0.5, 1.0, 1.5, 2.0, 5.0], 5, "without_replacement", 1.0),  # S = N: 2 / lambda
    ([0.0, 0.0, 0.0], 1, "without_replacement", math.inf),  # factor identically 1
    ([-1.0, 1.0], 2, "without_replacement", math.inf),  # mean 0, S = N: identically 1
    ([-1.0, 1.0], 2, "with_replacement", 0.0),  # mean 0 but c = 1/2 > 0
    ([-1.0, 1.0], 1, "without_replacement", 0.0),  # mean 0, spread
    ([-2.0, 1.0], 1, "without_replacement", 0.0),  # mean < 0
    ([-2.0, -2.0], 2, "without_replacement", 0.0),  # mean < 0, no spread
    ([2.0, 2.0], 1, "without_replacement", 1.0),  # no spread: 2 / lambda for every S
])
def test_critical_step_cases(h, S, sampling, expected):
    assert critical_step(h, S, sampling) == expected


@given(eta1=st.floats(1e-3, 10.0), ratio=st.floats(1.001, 10.0), kappa=st.floats(0.0, 10.0),
       n=st.integers(2, 10**5), data=st.data())
def test_break_even_curvature(eta1, ratio, kappa, n, data):
    """B2: lambda* solves Eq. 1 with equality for s = kappa lambda (two-point h = lambda (1 -+ kappa),
    N = 2, checked with the closed form to 1e-12), decreases in eta and increases in S."""
    s1 = data.draw(st.integers(1, n - 1))
    s2 = data.draw(st.integers(s1 + 1, n))
    sampling = data.draw(st.sampled_from(SAMPLINGS))
    lam1 = break_even_curvature(eta1, kappa, n, s1, sampling)
    assert break_even_curvature(eta1 * ratio, kappa, n, s1, sampling) < lam1
    lam2 = break_even_curvature(eta1, kappa, n, s2, sampling)
    assert lam2 >= lam1
    gap = kappa**2 * (finite_population_factor(n, s1, sampling) - finite_population_factor(n, s2, sampling))
    if gap > 1e-12:  # strictly larger once the change of 1 + kappa^2 c is well above rounding (1e-16)
        assert lam2 > lam1
    star = break_even_curvature(eta1, kappa, 2, 1, "without_replacement")
    h = [star * (1 - kappa), star * (1 + kappa)]
    assert mean_square_factor(h, eta1, 1) == pytest.approx(1.0, rel=1e-12)


# -- B3: mean-square vs almost-sure ----------------------------------------------------------------


def reference_rate(h, eta, S, sampling):
    """E log|1 - eta h_B| by enumeration at 40 digits (local context), from exact rationals."""
    ctx = mpmath.MPContext()
    ctx.dps = 40
    n = len(h)
    batches = itertools.combinations(range(n), S) if sampling == "without_replacement" else itertools.product(range(n), repeat=S)
    total, count = ctx.zero, 0
    for b in batches:
        a = 1 - Fraction(eta) * sum((Fraction(h[i]) for i in b), Fraction(0)) / S
        if a == 0:
            return -math.inf
        total += ctx.log(abs(ctx.mpf(a.numerator) / a.denominator))
        count += 1
    return float(total / count)


@settings(max_examples=60)
@given(inst=instances())
def test_almost_sure_rate_matches_high_precision(inst):
    """Absolute 1e-12 (each log from a value with relative error < 1e-13, an exactly rounded mean)."""
    h, eta, S, sampling = inst
    ref = reference_rate(h, eta, S, sampling)
    rate = almost_sure_rate(h, eta, S, sampling)
    if ref == -math.inf:
        assert rate == -math.inf
    else:
        assert abs(rate - ref) <= 1e-12
        # Jensen: E log|X| <= (1/2) log E X^2
        assert rate <= 0.5 * math.log(mean_square_factor(h, eta, S, sampling)) + 1e-12


def test_mean_square_and_almost_sure_stability_differ():
    """h = (1.9, 10), eta = 0.5, S = 1: factor (0.05^2 + 4^2) / 2 = 8.00125 > 1 (Eq. 1 fails),
    yet E log|1 - eta h_B| = (log 0.05 + log 4) / 2 = -0.8047 < 0: SGD converges almost surely."""
    h = [1.9, 10.0]
    assert mean_square_factor(h, 0.5, 1) == pytest.approx(8.00125, rel=1e-12)
    assert almost_sure_rate(h, 0.5, 1) == pytest.approx(0.5 * (math.log(abs(1 - 0.5 * 1.9)) + math.log(4.0)), rel=1e-12)
    assert almost_sure_rate(h, 0.5, 1) < 0 < math.log(mean_square_factor(h, 0.5, 1))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_log_rate_monte_carlo(sampling):
    h = np.random.default_rng(0).uniform(0.2, 3.0, 12)
    mc = simulate_log_rate(h, 0.7, 3, draws=100_000, seed=2, sampling=sampling)
    assert mc.status == "ok" and abs(mc.z(almost_sure_rate(h, 0.7, 3, sampling))) <= Z


def test_exact_zero_batch():
    assert almost_sure_rate([1.0, 3.0, 2.0], 0.5, 2) == -math.inf  # batch {1.0, 3.0}: h_B = 2
    assert almost_sure_rate([1.0, 3.0, 2.0], 0.5, 3) == -math.inf  # S = N (the complement path)
    assert almost_sure_rate([1.0, 3.0, 2.5], 0.5, 3) == pytest.approx(math.log(abs(1 - 0.5 * 6.5 / 3)), rel=1e-14)
    assert simulate_log_rate([1.0, 3.0], 0.5, 2, draws=10).status == "zero_batch"


# -- B7: alpha* ---------------------------------------------------------------------------------


@settings(max_examples=40)
@given(d=st.integers(2, 6), seed=st.integers(0, 2**32 - 1), eta_lam=st.floats(0.1, 2.5),
       psi=st.floats(0.1, 10.0), vectorized=st.booleans())
def test_alpha_star_on_a_quadratic(d, seed, eta_lam, psi, vectorized):
    """A random d-dimensional quadratic, theta along the top eigenvector, one GD step: alpha* =
    (1 + sqrt(1.2)) / (eta lambda) to 1e-10 relative (bisection to 1e-12; the loss along the line
    is (1 - alpha eta lambda)^2 L(theta) up to rounding of order 1e-15, which moves the crossing by
    about as much relative)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lams = np.sort(rng.uniform(0.1, 5.0, d))
    H = (q * lams) @ q.T
    eta = eta_lam / lams[-1]
    theta = psi * q[:, -1]
    theta_next = theta - eta * H @ theta
    if vectorized:
        loss = lambda th: 0.5 * np.einsum("ki,ij,kj->k", th, H, th)
    else:
        loss = lambda th: 0.5 * float(th @ H @ th)
    a = alpha_star(loss, theta, theta_next, vectorized=vectorized)
    assert a == pytest.approx((1 + math.sqrt(1.2)) / eta_lam, rel=1e-10)


def test_alpha_star_edge_cases():
    f = lambda w: float(w[0] ** 2)
    assert alpha_star(f, [1.0], [0.5], alpha_max=2.0) is None  # crossing at 4.19 > alpha_max
    assert alpha_star(f, [0.0], [0.0]) == 0.0  # loss 0: every alpha qualifies
    assert alpha_star(f, [1.0], [1.0]) is None  # no step, constant loss


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("call, field", [
    (lambda: mean_square_factor([], 0.1, 1), "h"),
    (lambda: mean_square_factor([1.0, float("nan")], 0.1, 1), "h"),
    (lambda: mean_square_factor([1e101, 1.0], 0.1, 1), "h"),
    (lambda: mean_square_factor([1.0, 2.0], -0.1, 1), "eta"),
    (lambda: mean_square_factor([1.0, 2.0], 1e101, 1), "eta"),
    (lambda: mean_square_factor([1.0, 2.0], 0.1, 3), "S"),
    (lambda: mean_square_factor([1.0, 2.0], 0.1, 0), "S"),
    (lambda: mean_square_factor([1.0, 2.0], 0.1, 1, "bootstrap"), "sampling"),
    (lambda: critical_step([1.0, 2.0], 1.5), "S"),
    (lambda: curvature_moments("abc"), "h"),
    (lambda: finite_population_factor(0, 1), "N"),
    (lambda: break_even_curvature(0.0, 1.0, 10, 1), "eta"),
    (lambda: break_even_curvature(0.1, -1.0, 10, 1), "kappa"),
    (lambda: almost_sure_rate(list(range(40)), 0.1, 20), "S"),
    (lambda: almost_sure_rate([1.0, 2.0], 0.1, 40, "with_replacement"), "S"),
    (lambda: alpha_star(3, [1.0], [0.5]), "loss"),
    (lambda: alpha_star(lambda w: 1.0, [1.0], [0.5, 1.0]), "theta_next"),
    (lambda: alpha_star(lambda w: 1.0, [1.0], [0.5], ratio=1.0), "ratio"),
    (lambda: alpha_star(lambda w: -1.0, [1.0], [0.5]), "loss"),
    (lambda: enumerate_mean_square_factor([1.0] * 30, 0.1, 15), "S"),
    (lambda: enumerate_mean_square_factor([1.0, 2.0], -1, 1), "eta"),
    (lambda: simulate_mean_square_factor([1.0, 2.0], 0.1, 1, draws=10**9), "draws"),
    (lambda: simulate_log_rate([1.0, 2.0], 0.1, 3), "S"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.field == field and str(err.value).startswith(f"{field}: ")
