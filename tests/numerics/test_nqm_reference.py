"""Tests for the NQM cross-checks: numerics.nqm.reference (mpmath) and numerics.nqm.montecarlo.

Neither module imports the recursion-based ``numerics.nqm``; they are its independent checks.
Here they are checked against:

* a by-hand case (h = sigma2 = 1, eta = mu = 1/2, w_0 = 1: E L = 1, 3/4, 3/4; greedy eta 1/3);
* the SGD closed form s_t = s* + (1 - a)^{2t} (s_0 - s*) evaluated in mpmath (exact inputs);
* themselves at higher precision (dps 50 vs 80);
* the greedy closed form of papers/wu2018.md §4 (the reference fits a parabola instead);
* numerics.least_squares.moments.additive_noise_expectation (float64 mean/covariance recursion on the
  equivalent additive-noise problem S = diag(h^2 sigma2));
* each other: Monte Carlo z-scores against the reference (|z| <= 5), and a deliberately wrong
  reference (noise missing from the velocity) that the Monte Carlo must reject (|z| > 10).

z-tests: |z| <= 5 has false-alarm probability 5.7e-7 per comparison under the normal
approximation; with ~200 comparisons here (curves), family-wise < 1.2e-4; seeds fixed in
advance, so the outcome is deterministic.
"""

from __future__ import annotations

import doctest
import math

import mpmath
import numpy as np
import pytest

import l2l.numerics.nqm.montecarlo as nqm_montecarlo
import l2l.numerics.nqm.reference as nqm_reference_mod
from l2l.numerics.least_squares.moments import additive_noise_expectation
from l2l.numerics.nqm.montecarlo import simulate_nqm, simulate_nqm_ema
from l2l.numerics.nqm.reference import greedy_eta_reference, nqm_reference, to_float
from l2l.numerics.validation import ValidationError

Z = 5.0

#: exact comparison values live in a local 60-digit context (never the global mp.dps)
MP = mpmath.MPContext()
MP.dps = 60


def test_doctests():
    for mod in (nqm_reference_mod, nqm_montecarlo):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.attempted > 0 and res.failed == 0


# ---------------------------------------------------------------------------------------------
# the mpmath reference


def test_by_hand_case():
    """h = 1, sigma2 = 1, eta = mu = 1/2, w_0 = 1 (deterministic):
    w_1 = 1/2 + c_1/2, v_1 = -1/2 + c_1/2, so E w_1^2 = 1/2 and E L_1 = 1/2 (1/2 + 1) = 3/4;
    v_2 = -1/2 + c_2/2, w_2 = (c_1 + c_2)/2, E w_2^2 = 1/2, E L_2 = 3/4. One SGD step from there:
    E w_3^2 = (1 - eta)^2/2 + eta^2, minimised at eta = 1/3."""
    ref = nqm_reference([1.0], [1.0], [1.0], [0.0], 0.5, 2, mu=0.5)
    exact = [MP.mpf(1), MP.mpf(3) / 4, MP.mpf(3) / 4]
    for got, want in zip(ref.curve, exact):
        assert abs(got - want) < MP.mpf(10) ** -45
    assert ref.loss == ref.curve[-1]
    assert abs(ref.excess - MP.mpf(1) / 4) < MP.mpf(10) ** -45
    g = greedy_eta_reference([1.0], [1.0], [1.0], [0.0], 0.5, 2, mu=0.5)
    assert abs(g.eta - MP.mpf(1) / 3) < MP.mpf(10) ** -45
    # F(eta) = 1/2 ((1 - eta)^2 / 2 + eta^2 + 1): coefficients (f0, f1, f2) = (3/4, -1/2, 3/4)
    f0, f1, f2 = g.coefficients
    assert [float(x) for x in (f0, f1, f2)] == [0.75, -0.5, 0.75]
    assert abs(g.loss - (MP.mpf(3) / 4 - MP.mpf(1) / 12)) < MP.mpf(10) ** -45


def test_sgd_closed_form_in_mpmath():
    """SGD, constant eta: s_t = s* + (1 - a)^{2t} (s_0 - s*), s* = a sigma2 / (2 - a) (§3), in a
    60-digit context from the same float64 inputs; the reference must match to 1e-40 relative
    (its own rounding is ~35 t 10^-50)."""
    rng = np.random.default_rng(20240601)
    for _ in range(5):
        d = int(rng.integers(1, 6))
        h = rng.uniform(0.01, 1.0, d)
        s2 = rng.uniform(0.1, 2.0, d)
        m0 = rng.normal(size=d)
        v0 = rng.uniform(0.0, 2.0, d)
        eta = float(rng.uniform(0.05, 1.9 / h.max()))
        t = int(rng.integers(1, 60))
        ref = nqm_reference(h, s2, m0, v0, eta, t, dps=50)
        ctx = mpmath.MPContext()
        ctx.dps = 60
        e = ctx.mpf(eta)
        for k in (0, t // 2, t):
            tot = ctx.mpf(0)
            for hi, si, mi, vi in zip(h, s2, m0, v0):
                hi, si, mi, vi = ctx.mpf(hi), ctx.mpf(si), ctx.mpf(mi), ctx.mpf(vi)
                a = e * hi
                s_star = a * si / (2 - a)
                s0 = mi * mi + vi
                tot += hi / 2 * (s_star + (1 - a) ** (2 * k) * (s0 - s_star) + si)
            assert abs((ref.curve[k] - tot) / tot) < 1e-40


def test_precision_independence():
    """A momentum schedule at dps 50 and dps 80 agrees to 1e-40 relative at every step."""
    rng = np.random.default_rng(7)
    d, t = 4, 40
    h = rng.uniform(0.05, 1.0, d)
    s2 = rng.uniform(0.1, 2.0, d)
    m0, v0 = rng.normal(size=d), rng.uniform(0, 1, d)
    eta = rng.uniform(0.1, 1.0, t)
    mu = rng.uniform(0.0, 0.95, t)
    lo = nqm_reference(h, s2, m0, v0, eta, t, mu, dps=50)
    hi = nqm_reference(h, s2, m0, v0, eta, t, mu, dps=80)
    for a, b in zip(lo.curve, hi.curve):
        assert abs((a - b) / b) < 1e-40
    ga = greedy_eta_reference(h, s2, m0, v0, eta, t, mu, dps=50)
    gb = greedy_eta_reference(h, s2, m0, v0, eta, t, mu, dps=80)
    assert abs((ga.eta - gb.eta) / gb.eta) < 1e-40


def test_greedy_matches_section4_closed_form():
    """The parabola fit (three evaluations of the 2x2 propagation) against §4's formulas, which
    the reference never forms: mu_next = 0: sum h^2 X / sum h^3 (X + sigma2); fixed mu_next:
    the stationarity condition A eta - B mu = D gives eta = (D + mu B) / A, with
    X = E w^2, Y = E[w v] from the reference's own final moments. Agreement to 1e-35 relative
    (the fit loses at most a few digits of its 70 working digits)."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        d = int(rng.integers(1, 5))
        h = rng.uniform(0.05, 1.0, d)
        s2 = rng.uniform(0.1, 2.0, d)
        m0, v0 = rng.normal(size=d), rng.uniform(0, 1, d)
        t = int(rng.integers(0, 20))
        mu = float(rng.uniform(0, 0.9))
        mu_next = float(rng.uniform(-0.5, 0.9))
        ref = nqm_reference(h, s2, m0, v0, 0.3, t, mu, curve=False)
        X = [m[0] ** 2 + P[0] for m, P in zip(ref.mean, ref.cov)]
        Y = [m[0] * m[1] + P[1] for m, P in zip(ref.mean, ref.cov)]
        hm = [MP.mpf(x) for x in h]
        sm = [MP.mpf(x) for x in s2]
        A = sum(hi**3 * (x + s) for hi, x, s in zip(hm, X, sm))
        D = sum(hi**2 * x for hi, x in zip(hm, X))
        Bc = sum(hi**2 * y for hi, y in zip(hm, Y))
        g0 = greedy_eta_reference(h, s2, m0, v0, 0.3, t, mu)
        g1 = greedy_eta_reference(h, s2, m0, v0, 0.3, t, mu, mu_next=mu_next)
        assert abs(g0.eta / (D / A) - 1) < 1e-35
        assert abs(g1.eta / ((D + MP.mpf(mu_next) * Bc) / A) - 1) < 1e-35
        # and it is a minimiser: F(eta* +- delta) = F(eta*) + f2 delta^2 > F(eta*)
        f0, f1, f2 = g0.coefficients
        for delta in (1e-3 * g0.eta, -1e-3 * g0.eta):
            e = g0.eta + delta
            assert f0 + f1 * e + f2 * e * e > g0.loss


def test_matches_float64_moment_recursion():
    """numerics.least_squares.moments (a float64 mean/covariance recursion for ``g = H w - b + eps``) on the
    equivalent additive-noise problem: eps = -h c has variance h^2 sigma2, the loss offset is the
    irreducible 1/2 sum h sigma2. Float64 over t <= 40 steps: 1e-11 relative."""
    rng = np.random.default_rng(11)
    d, t = 3, 40
    h = rng.uniform(0.05, 1.0, d)
    s2 = rng.uniform(0.1, 2.0, d)
    m0, v0 = rng.normal(size=d), rng.uniform(0, 1, d)
    eta = rng.uniform(0.1, 1.5, t)
    mu = rng.uniform(0.0, 0.9, t)
    ref = nqm_reference(h, s2, m0, v0, eta, t, mu)
    mom = additive_noise_expectation(
        h, np.zeros(d), h * h * s2, eta, t, mu=mu, mean0=m0, cov0=v0, loss_offset=0.5 * float(np.sum(h * s2)), curve=True
    )
    np.testing.assert_allclose(ref.as_float(), mom.loss_curve, rtol=1e-11)
    g = greedy_eta_reference(h, s2, m0, v0, eta, t, mu)
    assert abs(g.as_float() / mom.greedy_eta - 1) < 1e-11


def test_schedules_and_conveniences():
    h, s2 = [1.0, 0.25], [0.5, 2.0]
    a = nqm_reference(h, s2, 0.5, 0.1, 0.4, 6, mu=0.3)
    b = nqm_reference(h, s2, [0.5, 0.5], [0.1, 0.1], [0.4] * 6, 6, mu=[0.3] * 6)
    assert a.curve == b.curve
    c = nqm_reference(h, s2, 0.5, 0.1, 0.4, 6, mu=0.3, curve=False)
    assert c.curve is None and c.loss == a.loss
    assert isinstance(a.as_float("loss"), float) and a.as_float().shape == (7,)
    assert to_float(a.irreducible) == 0.5 * (0.5 + 0.5)
    z = nqm_reference(h, s2, 0.5, 0.1, [], 0)  # t = 0: only the start
    assert len(z.curve) == 1 and z.loss == a.curve[0]
    with pytest.raises(ValidationError, match="no curve"):
        c.as_float()


def test_cost_is_t_times_d(monkeypatch):
    """O(t d): exactly one 2x2 propagation per coordinate and step (plus 3 d for the greedy fit)."""
    calls = []
    real = nqm_reference_mod._step

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(nqm_reference_mod, "_step", counting)
    nqm_reference([1.0, 0.5, 0.2], 1.0, 0.0, 1.0, 0.3, 17, mu=0.5)
    assert len(calls) == 17 * 3
    calls.clear()
    greedy_eta_reference([1.0, 0.5, 0.2], 1.0, 0.0, 1.0, 0.3, 17, mu=0.5)
    assert len(calls) == 17 * 3 + 3 * 3


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(h=[1.0, -1.0]), "h"),
        (dict(h=[]), "h"),
        (dict(sigma2=[1.0, -0.1]), "sigma2"),
        (dict(sigma2=[1.0, 1.0, 1.0]), "sigma2"),
        (dict(mean0=[0.0, float("nan")]), "mean0"),
        (dict(var0=-1.0), "var0"),
        (dict(eta=-0.1), "eta"),
        (dict(eta=[0.1, 0.2]), "eta"),
        (dict(mu=[0.1] * 4), "mu"),
        (dict(t=-1), "t"),
        (dict(t=2.5), "t"),
        (dict(t=True), "t"),
        (dict(dps=5), "dps"),
        (dict(h=[1.0] * 10, sigma2=1.0, t=2 * 10**6), "t"),
    ],
)
def test_reference_validation(kwargs, field):
    args = dict(h=[1.0, 0.5], sigma2=1.0, mean0=0.0, var0=1.0, eta=0.1, t=3, mu=0.0)
    args.update(kwargs)
    dps = args.pop("dps", 50)
    with pytest.raises(ValidationError) as err:
        nqm_reference(args["h"], args["sigma2"], args["mean0"], args["var0"], args["eta"], args["t"], args["mu"], dps=dps)
    assert err.value.field == field


def test_greedy_undefined_without_noise_or_signal():
    with pytest.raises(ValidationError, match="no unique minimiser"):
        greedy_eta_reference([1.0], [0.0], [0.0], [0.0], 0.5, 3)


# ---------------------------------------------------------------------------------------------
# Monte Carlo against the reference


INSTANCES = [
    # (h, sigma2, mean0, var0, eta, mu, t): momentum, deterministic start
    ([1.0, 0.3, 0.05], [1.0, 2.0, 0.5], [1.0, -0.5, 2.0], [0.0, 0.0, 0.0], 0.6, 0.7, 50),
    # SGD, random start, ill-conditioned
    ([0.9, 0.5, 0.2, 0.1, 0.01], [0.1, 0.5, 1.0, 2.0, 1.5], [0.0, 0.3, -0.2, 1.0, 0.5], [1.0, 0.5, 0.2, 2.0, 1.0], 1.0, 0.0, 30),
    # schedules (decaying eta, rising mu)
    ([0.8, 0.4], [1.5, 0.3], [0.5, 1.0], [0.25, 0.5], list(np.linspace(1.2, 0.2, 40)), list(np.linspace(0.0, 0.9, 40)), 40),
]


def _z(mc, exact):
    """z-score with the standard error floored at 1e-12 |exact|: at a deterministic step (w_0
    fixed, step 0) every path has the same loss, and the sample mean and variance differ from
    the exact value and 0 only by float64 summation rounding."""
    exact = np.asarray(exact, dtype=float)
    se = np.maximum(np.asarray(mc.stderr, dtype=float), 1e-12 * np.abs(exact))
    return (np.asarray(mc.mean) - exact) / se


@pytest.mark.parametrize("k", range(len(INSTANCES)))
def test_montecarlo_matches_reference(k):
    """Every step of the curve: |z| <= 5 with 1e5 paths."""
    h, s2, m0, v0, eta, mu, t = INSTANCES[k]
    ref = nqm_reference(h, s2, m0, v0, eta, t, mu).as_float()
    mc = simulate_nqm(h, s2, m0, v0, eta, t, 100_000, seed=100 + k, mu=mu, curve=True)
    z = _z(mc, ref)
    assert np.max(np.abs(z)) <= Z, (np.argmax(np.abs(z)), z)
    assert mc.mean.shape == (t + 1,) and mc.n_paths == 100_000


def _float_2x2(h, s2, m0, v0, eta, mu, t, noise_in_velocity=True):
    """Float64 2x2 mean/covariance propagation with noise vector b = (a, a) -- or, deliberately
    wrong, b = (a, 0): the noise missing from the velocity update."""
    h, s2 = np.asarray(h, float), np.asarray(s2, float)
    etas = np.broadcast_to(np.asarray(eta, float), (t,))
    mus = np.broadcast_to(np.asarray(mu, float), (t,))
    m = np.stack([np.asarray(m0, float), np.zeros(h.size)], axis=1)  # (d, 2)
    P = np.zeros((h.size, 2, 2))
    P[:, 0, 0] = v0
    for k in range(t):
        a = etas[k] * h
        A = np.zeros((h.size, 2, 2))
        A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1] = 1 - a, mus[k], -a, mus[k]
        b = np.stack([a, a if noise_in_velocity else np.zeros_like(a)], axis=1)
        m = np.einsum("dij,dj->di", A, m)
        P = A @ P @ A.transpose(0, 2, 1) + s2[:, None, None] * b[:, :, None] * b[:, None, :]
    return 0.5 * float(np.sum(h * (m[:, 0] ** 2 + P[:, 0, 0] + s2)))


def test_wrong_reference_is_rejected():
    """Negative control: the same propagation with the noise dropped from the velocity line.
    The correct float64 version matches the mpmath reference (1e-13), the Monte Carlo accepts it
    and rejects the wrong one with |z| > 10 (measured: z = 0.53 and 119)."""
    h, s2, m0, v0, eta, mu, t = INSTANCES[0]
    ref = float(nqm_reference(h, s2, m0, v0, eta, t, mu).loss)
    good = _float_2x2(h, s2, m0, v0, eta, mu, t)
    bad = _float_2x2(h, s2, m0, v0, eta, mu, t, noise_in_velocity=False)
    assert abs(good / ref - 1) < 1e-13
    mc = simulate_nqm(h, s2, m0, v0, eta, t, 100_000, seed=1, mu=mu)
    assert abs(_z(mc, good)) <= Z
    assert abs(_z(mc, bad)) > 10


def test_sampled_loss_estimator_agrees():
    """The literal estimator (loss at a fresh c~) and the conditional one (w^2 + sigma2) both
    estimate E L; the conditional one has the smaller standard error (Rao-Blackwell)."""
    h, s2, m0, v0, eta, mu, t = INSTANCES[1]
    ref = float(nqm_reference(h, s2, m0, v0, eta, t, mu).loss)
    a = simulate_nqm(h, s2, m0, v0, eta, t, 100_000, seed=5, mu=mu)
    b = simulate_nqm(h, s2, m0, v0, eta, t, 100_000, seed=5, mu=mu, loss_noise="sampled")
    assert abs(_z(a, ref)) <= Z and abs(_z(b, ref)) <= Z
    assert a.stderr < b.stderr


def test_montecarlo_reproducible_chunking_and_offsets():
    h, s2, m0, v0, eta, mu, t = INSTANCES[0]
    a = simulate_nqm(h, s2, m0, v0, eta, 10, 3000, seed=9, mu=mu, chunk=1000)
    b = simulate_nqm(h, s2, m0, v0, eta, 10, 3000, seed=9, mu=mu, chunk=1000)
    assert a == b
    c = simulate_nqm(h, s2, m0, v0, eta, 10, 3000, seed=9, mu=mu, chunk=1000, include_irreducible=False)
    assert math.isclose(a.mean - c.mean, 0.5 * float(np.dot(h, s2)), rel_tol=1e-12)
    assert a.stderr == pytest.approx(c.stderr, rel=1e-9)
    # deterministic process (sigma2 = var0 = 0): exact value with stderr 0
    d = simulate_nqm([1.0], [0.0], [2.0], [0.0], 0.5, 3, 10, seed=0)
    assert d.mean == 0.5 * (2.0 * 0.5**3) ** 2 and d.stderr == 0.0


def test_ema_with_gamma_zero_is_the_iterate():
    h, s2, m0, v0, eta, mu, t = INSTANCES[1]
    a = simulate_nqm(h, s2, m0, v0, eta, t, 5000, seed=4, curve=True)
    b = simulate_nqm_ema(h, s2, m0, v0, eta, t, 5000, seed=4, gamma=0.0, curve=True)
    np.testing.assert_array_equal(a.mean, b.mean)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(n_paths=1), "n_paths"),
        (dict(seed=-1), "seed"),
        (dict(chunk=0), "chunk"),
        (dict(loss_noise="exact"), "loss_noise"),
        (dict(loss_noise="sampled", include_irreducible=False), "include_irreducible"),
        (dict(eta=[0.1]), "eta"),
        (dict(n_paths=10**12, t=10**6), "n_paths"),
    ],
)
def test_montecarlo_validation(kwargs, field):
    args = dict(n_paths=100, seed=0, t=3, eta=0.1)
    args.update(kwargs)
    n_paths, seed, t, eta = args.pop("n_paths"), args.pop("seed"), args.pop("t"), args.pop("eta")
    with pytest.raises(ValidationError) as err:
        simulate_nqm([1.0, 0.5], 1.0, 0.0, 1.0, eta, t, n_paths, seed, **args)
    assert err.value.field == field


@pytest.mark.parametrize("gamma", [-0.1, 1.5, [0.5], "x"])
def test_ema_validation(gamma):
    with pytest.raises(ValidationError) as err:
        simulate_nqm_ema([1.0], 1.0, 0.0, 1.0, 0.1, 3, 100, 0, gamma=gamma)
    assert err.value.field == "gamma"
